#!/usr/bin/env bash
# Checks that our headers take no ordinary identifier that libotr 4.1.1's
# headers leave free: an application may have a variable called `context`
# (libotr only declares `struct context`). Every struct, enum and typedef
# name in our header is tried as a file-scope variable after including all
# libotr headers, first with Debian's headers, then with ours; whatever
# compiles with theirs must compile with ours.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ours=$1     # our include directory
out=$2      # scratch directory
mkdir -p "$out/names"
grep '#include <libotr' "$here/layout.c" > "$out/names/all-headers.c"
mapfile -t names < <(
  {
    sed -e 's|/\*.*\*/||' "$ours/libotr/otrabi.h" |
      grep -oE '\b(struct|enum) [A-Za-z_][A-Za-z0-9_]*|^typedef .*\b[A-Za-z_][A-Za-z0-9_]*;' |
      sed -E 's/^(struct|enum) //; s/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*);$/\1/'
    # Function-pointer typedefs: typedef void (*Name)(...);
    grep -oE '^typedef [^;]*\(\*[A-Za-z_][A-Za-z0-9_]*\)' "$ours/libotr/otrabi.h" |
      sed -E 's/.*\(\*([A-Za-z_][A-Za-z0-9_]*)\)$/\1/'
  } | sort -u)
[ ${#names[@]} -ge 30 ] || { echo "names: only ${#names[@]} names found" >&2; exit 1; }
free=0 bad=()
for n in "${names[@]}"; do
  { cat "$out/names/all-headers.c"; echo "int $n;"; } > "$out/names/t.c"
  gcc -std=gnu11 -I/usr/include -c "$out/names/t.c" -o /dev/null 2>/dev/null || continue
  free=$((free + 1))
  gcc -std=gnu11 -I"$ours" -c "$out/names/t.c" -o /dev/null 2>/dev/null || bad+=("$n")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "names: our headers declare ordinary identifiers that libotr's leave free: ${bad[*]}" >&2
  exit 1
fi
echo "names: ${#names[@]} tag and type names checked; the $free that libotr leaves free are free in ours too"
