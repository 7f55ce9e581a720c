#!/usr/bin/env bash
# Binary drop-in: every Debian bookworm program or plugin that links
# libotr.so.5 must find all of its otrl_ imports in libotr-rs.
# The packages are downloaded (not installed) and unpacked under OUT; each
# ELF object whose DT_NEEDED names libotr.so.5 has its undefined otrl_
# symbols checked against the dynamic symbol table of Debian's libotr (proof
# the list is right) and of ours, with the same kind (function or data) and,
# for data, the same size. Where a program's other dependencies happen to be
# installed, the dynamic linker itself resolves it against ours (ldd -r).
# Usage: imports.sh STAGE OUT
set -uo pipefail
stage=$(cd "$1" && pwd) out=$2
dir=$out/imports
rm -rf "$dir"; mkdir -p "$dir/debs" "$dir/root"
dir=$(cd "$dir" && pwd)
fail() { echo "FAIL imports: $*"; exit 1; }

packages="bitlbee-plugin-otr pidgin-otr profanity profanity-light mcabber irssi-plugin-otr
hexchat-otr psi-plugins psi-plus-plugins libotr5-bin libktpotr9"
theirs=/usr/lib/x86_64-linux-gnu/libotr.so.5
ours=$stage/lib/libotr.so.5
[ -e "$theirs" ] || fail "Debian's libotr5 is not installed"

# shellcheck disable=SC2086 # the package list is meant to split
if ! (cd "$dir/debs" && apt-get download -qq $packages) > "$dir/download.log" 2>&1; then
  apt-get update -qq > /dev/null 2>&1
  # shellcheck disable=SC2086
  (cd "$dir/debs" && apt-get download -qq $packages) > "$dir/download.log" 2>&1 ||
    fail "apt-get download: $(tail -3 "$dir/download.log")"
fi
# One directory per package: profanity and profanity-light ship the same path.
for deb in "$dir"/debs/*.deb; do
  pkg=$(dpkg-deb -f "$deb" Package)
  dpkg-deb -x "$deb" "$dir/root/$pkg" || fail "cannot unpack $deb"
done

# "name kind size" of every defined dynamic symbol of a library.
defined() { nm -D --defined-only -S "$1" | awk 'NF == 4 { print $4, $3, $2 } NF == 3 { print $3, $2, "-" }' | sort; }
defined "$theirs" > "$dir/theirs.syms"
defined "$ours" > "$dir/ours.syms"

objects=0 imports=0 linked=0
: > "$dir/report.txt"
while IFS= read -r -d '' f; do
  readelf -d "$f" 2>/dev/null | grep -q 'NEEDED.*\[libotr\.so\.5\]' || continue
  objects=$((objects + 1))
  rel=${f#"$dir/root/"}
  mapfile -t wanted < <(nm -D --undefined-only "$f" | awk '$2 ~ /^otrl_/ { print $2 }' | sort -u)
  [ ${#wanted[@]} -gt 0 ] || fail "$rel links libotr.so.5 but imports no otrl_ name"
  imports=$((imports + ${#wanted[@]}))
  for sym in "${wanted[@]}"; do
    t=$(awk -v s="$sym" '$1 == s { print $2, $3 }' "$dir/theirs.syms")
    o=$(awk -v s="$sym" '$1 == s { print $2, $3 }' "$dir/ours.syms")
    [ -n "$t" ] || fail "$rel imports $sym, which Debian's libotr does not define (bad test)"
    [ -n "$o" ] || fail "$rel imports $sym, which libotr-rs does not define"
    # Same kind: T (function) vs D/B (data); data must have the same size.
    case "${t%% *}${o%% *}" in
      TT) ;;
      [DBR][DBR]) [ "${t#* }" = "${o#* }" ] || fail "$sym: data size ${o#* } here, ${t#* } in libotr" ;;
      *) fail "$sym: kind ${o%% *} here, ${t%% *} in libotr" ;;
    esac
  done
  # When the object's other libraries are installed, let ld.so resolve it.
  how="symbol tables"
  if LD_LIBRARY_PATH=$stage/lib ldd -r "$f" > "$dir/ldd.txt" 2>&1 &&
     ! grep -q 'not found' "$dir/ldd.txt"; then
    grep -q "libotr.so.5 => $stage/lib/" "$dir/ldd.txt" || fail "$rel: ldd does not pick libotr-rs"
    if grep 'undefined symbol: otrl_' "$dir/ldd.txt"; then fail "$rel: unresolved otrl_ import"; fi
    how="symbol tables + ld.so"
    linked=$((linked + 1))
  fi
  printf '%-78s %3d otrl_ imports ok (%s)\n' "$rel" "${#wanted[@]}" "$how" >> "$dir/report.txt"
done < <(find "$dir/root" -type f -print0 | sort -z)

cat "$dir/report.txt"
[ "$objects" -ge 10 ] || fail "only $objects objects link libotr.so.5; expected every package's"
echo "ok   imports: $objects Debian objects, $imports otrl_ imports, all defined by libotr-rs as by libotr 4.1.1 ($linked also resolved by ld.so)"
