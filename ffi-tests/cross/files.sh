#!/usr/bin/env bash
# Cross-library file interoperability: private keys, fingerprints and
# instance tags written by Debian's libotr 4.1.1 are read by libotr-rs and
# the other way round, signatures made by one verify with the other, and a
# key file written by libotr gets the same bytes for its old accounts when
# either library adds an account to it.
#
# One helper program (files-helper.c) is built once against Debian's
# headers; it runs on Debian's libotr as it is and on ours through
# LD_LIBRARY_PATH.
# Usage: files.sh STAGE OUT
set -uo pipefail
stage=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
dir=$out/files
rm -rf "$dir"; mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
exe=$dir/helper
checks=0
fail() { echo "FAIL files: $*"; exit 1; }
ok() { checks=$((checks + 1)); }

gcc -std=gnu11 -Wall -Wextra -Werror -g -O1 "$here/files-helper.c" -o "$exe" -lotr -lgcrypt \
  2> "$dir/build.log" || fail "helper does not build: $(head -5 "$dir/build.log")"
# (ldd's output is kept first: grep -q could end the pipe early.)
plain=$(ldd "$exe" | grep "libotr.so.5 =>")
case $plain in
  *"=> /usr/lib/x86_64-linux-gnu/libotr.so.5 "* | *"=> /lib/x86_64-linux-gnu/libotr.so.5 "*) ;;
  *) fail "without LD_LIBRARY_PATH the helper does not use Debian's libotr: $plain" ;;
esac
staged=$(LD_LIBRARY_PATH="$stage/lib" ldd "$exe" | grep "libotr.so.5 =>")
case $staged in
  *"=> $stage/lib/libotr.so.5 "*) ;;
  *) fail "LD_LIBRARY_PATH does not select libotr-rs: $staged" ;;
esac

theirs() { (cd "$dir" && "$exe" "$@") || fail "Debian's libotr: $*"; }
ours() { (cd "$dir" && LD_LIBRARY_PATH="$stage/lib" "$exe" "$@") || fail "libotr-rs: $*"; }
# same LABEL A B: the two files are identical.
same() {
  cmp -s "$2" "$3" || fail "$1: $(diff -u "$2" "$3" | head -30)"
  ok
}
# blocks FILE PREFIX: writes each account block of a key file to
# PREFIX.1, PREFIX.2, ... (without the final closing line); prints the count.
blocks() {
  awk -v out="$2" '/^ \(account$/ { n++ } /^\)$/ { next } n { print > (out "." n) } END { print n + 0 }' "$1"
}

accounts=(alice@example.com prpl-jabber bob irc "Björn Ærø" xmpp 123456789 prpl-icq
          'Alice "work" Smith' prpl-jabber "" prpl-empty)
nacc=$((${#accounts[@]} / 2))

# --- keys, both directions ---------------------------------------------------
for maker in theirs ours; do
  f=keys-by-$maker.priv
  $maker genkeys "$dir/$f" "${accounts[@]}" > /dev/null
  [ "$(stat -c %a "$dir/$f")" = 600 ] || fail "$f: mode $(stat -c %a "$dir/$f"), not 600"
  theirs keys "$dir/$f" > "$dir/$f.read-by-theirs"
  ours keys "$dir/$f" > "$dir/$f.read-by-ours"
  [ "$(wc -l < "$dir/$f.read-by-theirs")" -eq "$nacc" ] || fail "$f: not $nacc keys"
  same "keys made by $maker: account list and fingerprints" "$dir/$f.read-by-theirs" "$dir/$f.read-by-ours"
  # Signatures: each library verifies what the other signed.
  for signer in theirs ours; do
    for checker in theirs ours; do
      $signer sign "$dir/$f" bob irc "$dir/$f.sig-$signer" > /dev/null
      $checker verify "$dir/$f" bob irc "$dir/$f.sig-$signer" > "$dir/$f.verify-$signer-$checker"
      printf 'verify: 0x00000000\nverify tampered: 0x01000008\n' | cmp -s - "$dir/$f.verify-$signer-$checker" ||
        fail "$f: signed by $signer, verified by $checker: $(cat "$dir/$f.verify-$signer-$checker")"
      ok
    done
  done
done

# --- adding an account keeps the old ones byte for byte ------------------------
for maker in theirs ours; do
  src=keys-by-$maker.priv
  n=$(blocks "$dir/$src" "$dir/$src.block")
  [ "$n" -eq "$nacc" ] || fail "$src: $n account blocks, not $nacc"
  for adder in theirs ours; do
    f=added-by-$adder-to-$maker.priv
    cp "$dir/$src" "$dir/$f"
    $adder addkey "$dir/$f" new@example.net prpl-new
    m=$(blocks "$dir/$f" "$dir/$f.block")
    [ "$m" -eq $((nacc + 1)) ] || fail "$f: $m account blocks, not $((nacc + 1))"
    # Both libraries read the file into a list in reverse file order and
    # write the list back, then the new account.
    for i in $(seq 1 "$nacc"); do
      same "$f: old account $i" "$dir/$src.block.$((nacc + 1 - i))" "$dir/$f.block.$i"
    done
    head -3 "$dir/$f.block.$m" > "$dir/$f.new-head"
    printf ' (account\n(name "new@example.net")\n(protocol prpl-new)\n' | cmp -s - "$dir/$f.new-head" ||
      fail "$f: new account block starts with $(cat "$dir/$f.new-head")"
    cut -c1-5 "$dir/$f.block.$m" > "$dir/$f.new-shape"
    theirs keys "$dir/$f" > "$dir/$f.read-by-theirs"
    ours keys "$dir/$f" > "$dir/$f.read-by-ours"
    same "$f: read by both" "$dir/$f.read-by-theirs" "$dir/$f.read-by-ours"
    grep -v "'new@example.net'" "$dir/$f.read-by-ours" > "$dir/$f.old-keys"
  done
  # The shared prefix (everything before the new account) is identical.
  for adder in theirs ours; do
    f=added-by-$adder-to-$maker.priv
    k=$(grep -n '^ (account$' "$dir/$f" | tail -1 | cut -d: -f1)
    head -n $((k - 1)) "$dir/$f" > "$dir/$f.prefix"
  done
  same "$src: prefix after adding an account" "$dir/added-by-theirs-to-$maker.priv.prefix" \
    "$dir/added-by-ours-to-$maker.priv.prefix"
  same "$src: layout of the new account" "$dir/added-by-theirs-to-$maker.priv.new-shape" \
    "$dir/added-by-ours-to-$maker.priv.new-shape"
  same "$src: old fingerprints after adding" "$dir/added-by-theirs-to-$maker.priv.old-keys" \
    "$dir/added-by-ours-to-$maker.priv.old-keys"
done

# --- fingerprints ----------------------------------------------------------------
theirs writefp "$dir/fp-by-theirs"
ours writefp "$dir/fp-by-ours"
same "fingerprints file written by both" "$dir/fp-by-theirs" "$dir/fp-by-ours"
for maker in theirs ours; do
  theirs readfp "$dir/fp-by-$maker" > "$dir/fp-by-$maker.read-by-theirs"
  ours readfp "$dir/fp-by-$maker" > "$dir/fp-by-$maker.read-by-ours"
  same "fingerprints by $maker read by both" "$dir/fp-by-$maker.read-by-theirs" "$dir/fp-by-$maker.read-by-ours"
  theirs rewritefp "$dir/fp-by-$maker" "$dir/fp-by-$maker.rewritten-by-theirs"
  ours rewritefp "$dir/fp-by-$maker" "$dir/fp-by-$maker.rewritten-by-ours"
  same "fingerprints by $maker rewritten by both" "$dir/fp-by-$maker.rewritten-by-theirs" \
    "$dir/fp-by-$maker.rewritten-by-ours"
done
[ "$(wc -l < "$dir/fp-by-theirs")" -eq 7 ] || fail "fingerprints file: not 7 lines"

# --- instance tags ------------------------------------------------------------------
for maker in theirs ours; do
  f=instags-by-$maker
  $maker geninstag "$dir/$f" "${accounts[@]}"
  theirs instags "$dir/$f" > "$dir/$f.read-by-theirs"
  ours instags "$dir/$f" > "$dir/$f.read-by-ours"
  [ "$(grep -c 'found=1' "$dir/$f.read-by-ours")" -eq "$nacc" ] || fail "$f: not $nacc tags found"
  same "instance tags by $maker read by both" "$dir/$f.read-by-theirs" "$dir/$f.read-by-ours"
  theirs rewriteinstag "$dir/$f" "$dir/$f.rewritten-by-theirs"
  ours rewriteinstag "$dir/$f" "$dir/$f.rewritten-by-ours"
  same "instance tags by $maker rewritten by both" "$dir/$f.rewritten-by-theirs" "$dir/$f.rewritten-by-ours"
done

echo "ok   files ($checks cross-library checks: keys, signatures, fingerprints, instance tags)"
