#!/usr/bin/env bash
# Protocol interoperability: an OTR conversation between two parties, each
# with its own copy of a libotr loaded by dlmopen() into a separate
# namespace (ffi-tests/interop/interop.c): AKE (query, whitespace tag, v2,
# errors, REQUIRE_ENCRYPTION), hundreds of messages, fragmentation, the
# extra symmetric key, disconnects, polling, malformed input and the SMP.
#
# The program is run for the four pairings of Debian's libotr 4.1.1
# ("theirs") and libotr-rs ("ours") as alice and bob. Each run must pass its
# own checks, and its trace (callbacks, message classes, what
# otrl_message_receiving returns) must be identical to theirs-theirs.
# theirs-theirs runs twice (with different keys and instance tags) to show
# that the trace is deterministic. Keys: theirs-theirs generates them with
# Debian's libotr, the mixed pairings reuse them, ours-ours generates its own.
#
# While libotr-rs has no message layer (dlsym finds no otrl_message_sending
# or otrl_message_receiving), only Debian's pairings run and the result is
# a SKIP; if it lacks only the SMP functions, the smp scenario is left out of
# every run. INTEROP_VALGRIND=1 runs every pairing under valgrind (slow).
# Usage: interop.sh STAGE OUT
set -uo pipefail
stage=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../interop/interop.c
supp=$here/../interop/valgrind.supp
dir=$out/interop
rm -rf "$dir"; mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
exe=$dir/interop
theirs=/usr/lib/x86_64-linux-gnu/libotr.so.5
ours=$stage/lib/libotr.so.5
fail() { echo "FAIL interop: $*"; exit 1; }

gcc -std=gnu11 -Wall -Wextra -Werror -g -O1 "$src" -o "$exe" -ldl 2> "$dir/build.log" ||
  fail "does not build: $(head -5 "$dir/build.log")"
# The program must reach both libraries through dlmopen only.
ldd "$exe" > "$dir/ldd.txt"
grep -q 'libotr\|libgcrypt' "$dir/ldd.txt" && fail "the program is linked with libotr or libgcrypt"
[ -e "$theirs" ] || fail "no Debian libotr at $theirs"
[ -e "$ours" ] || fail "no libotr-rs at $ours"

"$exe" --probe "$theirs" 2> "$dir/probe-theirs.txt" ||
  fail "Debian's libotr lacks functions: $(cat "$dir/probe-theirs.txt")"
"$exe" --probe "$ours" 2> "$dir/probe-ours.txt"
probe=$?
missing=$(grep '^interop: missing' "$dir/probe-ours.txt" | sed 's/^interop: missing //' | tr '\n' ' ')
nmissing=$(grep -c '^interop: missing' "$dir/probe-ours.txt")
short_missing=$(echo $missing | cut -d' ' -f1-6)
[ "$nmissing" -gt 6 ] && short_missing+=" ... ($nmissing functions)"
skip=()
note=
case $probe in
  0) ;;
  76) skip=(--skip smp); note=", smp left out: libotr-rs lacks ${missing% }" ;;
  77) ;;
  *) fail "libotr-rs lacks functions: ${missing% }" ;;
esac

vg=()
if [ "${INTEROP_VALGRIND:-0}" = 1 ]; then
  vg=(valgrind -q --error-exitcode=99 --suppressions="$supp" --leak-check=full
      --errors-for-leak-kinds=definite,indirect)
fi

# pairing NAME ALICE BOB [ARGS...]: runs the program, leaves NAME.trace and
# NAME.problem (empty when the run passed its checks).
pairing() {
  local name=$1 a=$2 b=$3 rc
  shift 3
  (cd "$dir" && timeout 900 "${vg[@]}" "$exe" --alice "$a" --bob "$b" --dir "$dir/$name.work" \
     "${skip[@]}" "$@" > "$dir/$name.trace" 2> "$dir/$name.err")
  rc=$?
  case $rc in
    0) grep -q '^=== [0-9]* checks, 0 failed$' "$dir/$name.trace" ||
         echo "the trace is incomplete" ;;
    1) echo "$(grep -c '^check .*: FAILED$' "$dir/$name.trace") checks failed:"
       grep -m 10 'FAILED$' "$dir/$name.trace" ;;
    124) echo "timed out" ;;
    *) echo "exit status $rc:"; tail -15 "$dir/$name.err" ;;
  esac > "$dir/$name.problem"
}
# compare NAME: NAME.trace against theirs-theirs; prints what is wrong.
compare() {
  local name=$1
  if ! diff -u "$dir/theirs-theirs.trace" "$dir/$name.trace" > "$dir/$name.diff"; then
    echo "$name: the trace differs from theirs-theirs ($(grep -c '^[-+][^-+]' "$dir/$name.diff")" \
      "lines; $dir/$name.diff):"
    head -25 "$dir/$name.diff"
  fi
  if [ -s "$dir/$name.problem" ]; then
    echo "$name: $(cat "$dir/$name.problem")"
  fi
}

pairing theirs-theirs "$theirs" "$theirs" --keys "$dir/keys"
[ -s "$dir/theirs-theirs.problem" ] &&
  fail "theirs-theirs (the harness on Debian's libotr alone): $(cat "$dir/theirs-theirs.problem")"
pairing theirs-theirs-again "$theirs" "$theirs"
report=$(compare theirs-theirs-again)
[ -n "$report" ] && fail "the trace is not deterministic: $report"
lines=$(wc -l < "$dir/theirs-theirs.trace")
checks=$(sed -n 's/^=== \([0-9]*\) checks, 0 failed$/\1/p' "$dir/theirs-theirs.trace")

if [ "$probe" = 77 ]; then
  echo "SKIP: libotr-rs has no message layer yet (dlsym finds no $short_missing);" \
    "Debian<->Debian: $checks checks passed, $lines-line trace deterministic"
  exit 0
fi

pairing theirs-ours "$theirs" "$ours" --keys "$dir/keys"
pairing ours-theirs "$ours" "$theirs" --keys "$dir/keys"
pairing ours-ours "$ours" "$ours"
bad=() report=
for p in theirs-ours ours-theirs ours-ours; do
  r=$(compare "$p")
  if [ -n "$r" ]; then bad+=("$p"); report+="$r"$'\n'; fi
done
[ ${#bad[@]} -eq 0 ] || fail "${bad[*]} differ from Debian's libotr alone:"$'\n'"$report"

echo "ok   interop (4 pairings of Debian's libotr and libotr-rs: $checks checks each," \
  "$lines-line traces identical$note)"
