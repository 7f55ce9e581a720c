#!/usr/bin/env bash
# Runs one C harness three ways and compares what it prints:
#   ref  built with Debian's headers, run on Debian's libotr (proves the test)
#   bin  the same binary run on our libotr.so.5 (prebuilt programs)
#   src  built with our installed headers through pkg-config, run on ours,
#        under valgrind (rebuilt programs, memory errors, leaks)
# Usage: run-harness.sh NAME STAGE OUT
set -uo pipefail
name=$1 stage=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
src="$here/harness/$name.c"
dir="$out/$name"
rm -rf "$dir"; mkdir -p "$dir/ref" "$dir/bin" "$dir/src"
cflags="-std=gnu11 -Wall -Wextra -Werror -g -O1"
fail() { echo "FAIL $name: $*"; exit 1; }

gcc $cflags -I"$here/harness" "$src" -o "$dir/ref.exe" -lotr -lgcrypt 2> "$dir/ref.build" ||
  fail "does not build against Debian's libotr: $(head -5 "$dir/ref.build")"
PKG_CONFIG_PATH="$stage/lib/pkgconfig" gcc $cflags -I"$here/harness" "$src" -o "$dir/src.exe" \
  $(PKG_CONFIG_PATH="$stage/lib/pkgconfig" pkg-config --cflags --libs libotr) \
  -Wl,-rpath,"$stage/lib" -lgcrypt 2> "$dir/src.build" ||
  fail "does not build against libotr-rs: $(head -5 "$dir/src.build")"

LD_LIBRARY_PATH="$stage/lib" ldd "$dir/ref.exe" > "$dir/ldd.txt" 2>&1
grep -q "libotr.so.5 => $stage/lib/" "$dir/ldd.txt" ||
  fail "LD_LIBRARY_PATH does not select libotr-rs"
(cd "$dir/ref" && "$dir/ref.exe" "$dir/ref" > "$dir/ref.out" 2> "$dir/ref.err") ||
  fail "fails on Debian's libotr: $(tail -5 "$dir/ref.err")"
(cd "$dir/bin" && LD_LIBRARY_PATH="$stage/lib" "$dir/ref.exe" "$dir/bin" > "$dir/bin.out" 2> "$dir/bin.err") ||
  fail "prebuilt binary fails on libotr-rs: $(tail -5 "$dir/bin.err")"
(cd "$dir/src" && valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
   "$dir/src.exe" "$dir/src" > "$dir/src.out" 2> "$dir/src.err") ||
  fail "rebuilt program fails on libotr-rs (valgrind): $(tail -15 "$dir/src.err")"
diff -u "$dir/ref.out" "$dir/bin.out" > "$dir/bin.diff" || fail "output differs (prebuilt): $(head -30 "$dir/bin.diff")"
diff -u "$dir/ref.out" "$dir/src.out" > "$dir/src.diff" || fail "output differs (rebuilt): $(head -30 "$dir/src.diff")"
[ -s "$dir/ref.out" ] || fail "printed nothing"
echo "ok   $name ($(wc -l < "$dir/ref.out") lines identical on both libraries)"
