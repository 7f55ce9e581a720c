#!/usr/bin/env bash
# Hostile input through the C API (hostile-helper.c): mutated versions of
# every kind of OTR message, each fed to the party waiting for it. One
# binary, built against Debian's headers, runs on Debian's libotr (the test
# itself must survive there too), then on libotr-rs for several seeds, then,
# rebuilt against our headers, under valgrind (no invalid access, no leak).
# Usage: hostile.sh STAGE OUT
set -uo pipefail
stage=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
dir=$out/hostile
rm -rf "$dir"; mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
fail() { echo "FAIL hostile: $*"; exit 1; }
cflags="-std=gnu11 -Wall -Wextra -Werror -g -O1"

# shellcheck disable=SC2086 # cflags is a list of flags
gcc $cflags "$here/hostile-helper.c" -o "$dir/theirs" -lotr -lgcrypt 2> "$dir/build.log" ||
  fail "helper does not build: $(head -5 "$dir/build.log")"
# shellcheck disable=SC2086,SC2046 # flag lists are meant to split
gcc $cflags "$here/hostile-helper.c" -o "$dir/ours" \
  $(PKG_CONFIG_PATH="$stage/lib/pkgconfig" pkg-config --cflags --libs libotr) \
  -Wl,-rpath,"$stage/lib" -lgcrypt 2>> "$dir/build.log" ||
  fail "helper does not build against libotr-rs: $(head -5 "$dir/build.log")"

LD_LIBRARY_PATH="$stage/lib" ldd "$dir/theirs" > "$dir/ldd.txt" 2>&1
grep -q "libotr.so.5 => $stage/lib/" "$dir/ldd.txt" || fail "LD_LIBRARY_PATH does not select libotr-rs"
# A panic inside the library is caught at the C boundary (the call fails
# closed), so the program survives it: the panic message is what tells.
no_panic() { ! grep -q 'panicked at' "$1" || fail "libotr-rs panicked ($1; input in $dir/last-case.txt): $(grep -m1 'panicked at' "$1")"; }

"$dir/theirs" "$dir" 40 1 > "$dir/theirs.txt" 2>&1 ||
  fail "the helper does not survive on Debian's libotr: $(tail -3 "$dir/theirs.txt")"
total=0
for seed in 1 2 3 4 5; do
  LD_LIBRARY_PATH="$stage/lib" "$dir/theirs" "$dir" 40 "$seed" > "$dir/ours-$seed.txt" 2>&1 ||
    fail "libotr-rs did not survive seed $seed (rc $?, input in $dir/last-case.txt): $(tail -3 "$dir/ours-$seed.txt")"
  no_panic "$dir/ours-$seed.txt"
  n=$(sed -n 's/^hostile: \([0-9]*\) .*/\1/p' "$dir/ours-$seed.txt")
  total=$((total + n))
done
valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  "$dir/ours" "$dir" 4 6 > "$dir/valgrind.txt" 2>&1 ||
  fail "valgrind reports errors on libotr-rs: $(tail -20 "$dir/valgrind.txt")"
no_panic "$dir/valgrind.txt"
echo "ok   hostile ($total mutated messages of every kind survived on libotr-rs, $(sed -n 's/^hostile: \([0-9]*\) .*/\1/p' "$dir/valgrind.txt") more under valgrind; Debian's libotr survives the same test)"
