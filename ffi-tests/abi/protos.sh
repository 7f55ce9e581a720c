#!/usr/bin/env bash
# Checks that every function prototype of Debian's libotr 4.1.1 headers agrees
# with ours: each original declaration (as gcc -aux-info prints it) is repeated
# after including our headers, in C and in C++, where any difference in a
# parameter or return type is a hard error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ours=$1     # our include directory
out=$2      # scratch directory
mkdir -p "$out"
grep '#include <libotr' "$here/layout.c" > "$out/all-headers.c"
gcc -I/usr/include -aux-info "$out/orig-protos.txt" -c "$out/all-headers.c" -o /dev/null
grep '/usr/include/libotr/' "$out/orig-protos.txt" | sed 's|^/\*.*\*/ ||' | sort -u > "$out/protos.txt"
count=$(wc -l < "$out/protos.txt")
[ "$count" -ge 100 ] || { echo "protos: only $count prototypes found" >&2; exit 1; }
{
  cat "$out/all-headers.c"
  echo
  cat "$out/protos.txt"
  # Each declared name must also be declared by our headers already.
  echo 'int main(void) { void *p[] = {'
  sed -E 's/.* \**(otrl_[A-Za-z0-9_]+) \(.*/    (void *)\&\1,/' "$out/protos.txt"
  echo '  }; return p[0] == 0; }'
} > "$out/protos.c"
gcc -std=gnu11 -Wall -Wextra -Werror -Wno-unused -Wimplicit-function-declaration \
    -I"$ours" -c "$out/protos.c" -o "$out/protos-c.o"
g++ -x c++ -Wall -Wextra -Werror -Wno-unused -fpermissive -Wno-pedantic \
    -I"$ours" -c "$out/protos.c" -o "$out/protos-cxx.o" 2> "$out/protos-cxx.err" || {
  cat "$out/protos-cxx.err" >&2; exit 1; }
echo "protos: $count prototypes of libotr 4.1.1 match ours (C and C++)"
