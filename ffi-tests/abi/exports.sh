#!/usr/bin/env bash
# Compares the dynamic symbols of our libotr.so.5 with Debian's libotr 4.1.1:
# every name we export must be one of libotr's (no Rust or libgcrypt symbols
# leak), and every libotr name must be exported unless it is listed in
# exports-pending.txt (work of a later issue). A pending name that is
# exported already fails too, so the list only shrinks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ours=$1
out=$2
mkdir -p "$out"
theirs=$(ls /usr/lib/x86_64-linux-gnu/libotr.so.5.* | head -n1)
nm -D --defined-only "$theirs" | awk '{print $3}' | sort -u > "$out/theirs.txt"
nm -D --defined-only "$ours" | awk '{print $3}' | sort -u > "$out/ours.txt"
{ grep -v '^#' "$here/exports-pending.txt" || true; } | sed '/^$/d' | sort -u > "$out/pending.txt"
status=0
extra=$(comm -13 "$out/theirs.txt" "$out/ours.txt")
if [ -n "$extra" ]; then echo "exports: not libotr names:"; echo "$extra"; status=1; fi
missing=$(comm -23 "$out/theirs.txt" "$out/ours.txt" | comm -23 - "$out/pending.txt")
if [ -n "$missing" ]; then echo "exports: missing:"; echo "$missing"; status=1; fi
done_now=$(comm -12 "$out/pending.txt" "$out/ours.txt")
if [ -n "$done_now" ]; then echo "exports: exported but still listed as pending:"; echo "$done_now"; status=1; fi
readelf -d "$ours" | grep -q 'SONAME.*\[libotr\.so\.5\]' || { echo "exports: SONAME is not libotr.so.5"; status=1; }
echo "exports: $(wc -l < "$out/ours.txt") of $(wc -l < "$out/theirs.txt") libotr names exported, $(wc -l < "$out/pending.txt") pending"
exit $status
