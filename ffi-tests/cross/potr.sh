#!/usr/bin/env bash
# Interoperability with an independent OTR implementation: python-potr
# (Debian's python3-potr, OTR v2 only). ffi-tests/potr/cpeer.c is an OTR party
# built on libotr's message layer (policy ALLOW_V2), driven over a pipe by
# ffi-tests/potr/driver.py, which plays the other party with python-potr:
# AKE started from either side, messages both ways (ASCII, UTF-8, 5 KB,
# bursts, fragmentation), session id and fingerprints, SMP (both directions,
# plus one with different secrets), disconnect from either side.
# cpeer is linked against Debian's headers and -lotr; it runs first on
# Debian's libotr 4.1.1 (proof the test is right), then on libotr-rs via
# LD_LIBRARY_PATH. Both runs must pass all checks and produce the same
# normalised transcript.
# Usage: potr.sh STAGE OUT
set -uo pipefail
stage=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../potr
dir=$out/potr
rm -rf "$dir"; mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
fail() { echo "FAIL potr: $*"; exit 1; }
py=/usr/bin/python3

if ! dpkg -s python3-potr >/dev/null 2>&1; then
  if ! apt-cache show python3-potr >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1
  fi
  if ! apt-cache show python3-potr >/dev/null 2>&1; then
    echo "SKIP: python3-potr unavailable"; exit 0
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-potr > "$dir/apt.log" 2>&1 ||
    fail "apt-get install python3-potr failed: $(tail -3 "$dir/apt.log")"
fi
"$py" -c 'import potr' 2> "$dir/import.log" || fail "python3-potr does not import: $(tail -1 "$dir/import.log")"

gcc -std=gnu11 -Wall -Wextra -Werror -I/usr/include "$src/cpeer.c" -o "$dir/cpeer" -lotr -lgcrypt \
  2> "$dir/build.log" || fail "cpeer does not build: $(head -5 "$dir/build.log")"

theirs=/usr/lib/x86_64-linux-gnu/libotr.so.5
ours=$stage/lib/libotr.so.5
[ -e "$theirs" ] || fail "no Debian libotr at $theirs"
[ -e "$ours" ] || fail "no libotr-rs at $ours"

# run NAME [LD_LIBRARY_PATH]: leaves NAME.out, NAME.trace, NAME.work/cpeer.log
run() {
  local name=$1 lib=${2:-} expect
  mkdir -p "$dir/$name.work"
  if [ -n "$lib" ]; then expect=$lib/libotr.so.5; else expect=$theirs; fi
  LD_LIBRARY_PATH=$lib ldd "$dir/cpeer" > "$dir/$name.ldd"
  local got
  got=$(awk '$1 == "libotr.so.5" {print $3}' "$dir/$name.ldd")
  [ "$(readlink -f "$got")" = "$(readlink -f "$expect")" ] ||
    { echo "cpeer would load $got, not $expect"; return 1; }
  LD_LIBRARY_PATH=$lib timeout 120 "$py" "$src/driver.py" "$dir/cpeer" "$dir/$name.work" \
    "$dir/$name.trace" > "$dir/$name.out" 2>&1
  local rc=$?
  if [ $rc -ne 0 ] || ! grep -q '^=== [0-9]* checks, 0 failed$' "$dir/$name.out"; then
    echo "$name: exit $rc:"; grep -m 8 'FAILED' "$dir/$name.out" || tail -8 "$dir/$name.out"
    return 1
  fi
}

problem=$(run theirs) || fail "against Debian's libotr (the test itself is wrong): $problem"
problem=$(run ours "$stage/lib") || fail "against libotr-rs: $problem"
diff -u "$dir/theirs.trace" "$dir/ours.trace" > "$dir/trace.diff" ||
  fail "transcripts differ (theirs vs ours): $(head -12 "$dir/trace.diff" | tail -8)"
n=$(sed -n 's/^=== \([0-9]*\) checks, 0 failed$/\1/p' "$dir/ours.out")
echo "ok   potr (python-potr $(dpkg-query -W -f='${Version}' python3-potr) vs Debian's libotr and libotr-rs: $n checks each, AKE from both sides, messages, fragments, SMP, disconnects; transcripts identical)"
