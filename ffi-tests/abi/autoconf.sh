#!/usr/bin/env bash
# AM_PATH_LIBOTR: our macro must answer as libotr 4.1.1's own macro does.
# One configure.ac asks for a range of minimum versions (with and without an
# ACTION-IF-NOT-FOUND); it is generated once with libotr5-dev's libotr.m4 and
# once with ours, and both configure scripts are run against our installed
# prefix (--with-libotr-prefix / --with-libotr-inc-prefix, as upstream
# spells them). The outcomes (found, not found, configure stopped), the
# flags and HAVE_LIBOTR must be identical.
# Usage: autoconf.sh STAGE OUT
set -euo pipefail
stage=$(cd "$1" && pwd) out=$2/autoconf
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../ensure-packages.sh" autoconf >/dev/null
rm -rf "$out"; mkdir -p "$out"
out=$(cd "$out" && pwd)

# One configure per case: MINIMUM-VERSION and whether a not-found action is given.
cases="4.0.0:stop 4.1.0:stop 4.1.1:stop 4.1.2:stop 4.2.0:stop 3.0.0:stop 5.0.0:stop 4.1.2:soft 3.9.9:soft"
run_case() { # macro-dir name version mode -> prints one result line
  local mdir=$1 name=$2 version=$3 mode=$4 d=$out/$2/$3-$4
  mkdir -p "$d"
  {
    echo 'AC_INIT([t], [1])'
    echo 'm4_include([libotr.m4])'
    echo 'AC_CONFIG_HEADERS([config.h])'
    echo 'AC_PROG_CC'
    if [ "$mode" = soft ]; then
      echo "AM_PATH_LIBOTR([$version], [otr=found], [otr=missing])"
    else
      echo "AM_PATH_LIBOTR([$version], [otr=found])"
    fi
    # shellcheck disable=SC2016 # expanded by configure, not here
    echo 'echo "RESULT otr=$otr CFLAGS=[$LIBOTR_CFLAGS] LIBS=[$LIBOTR_LIBS]"'
    echo 'AC_OUTPUT'
  } > "$d/configure.ac"
  cp "$mdir/libotr.m4" "$d/libotr.m4"
  (cd "$d" && autoconf -o configure configure.ac 2> autoconf.log && autoheader 2>> autoconf.log) ||
    { echo "autoconf failed for $name $version"; cat "$d/autoconf.log"; exit 1; }
  local rc=0
  (cd "$d" && ./configure -q --with-libotr-prefix="$stage/lib" --with-libotr-inc-prefix="$stage/include" \
     > out.log 2>&1) || rc=$?
  local res
  res=$(grep -o 'RESULT.*' "$d/out.log" | sed "s|$stage|STAGE|g" || true)
  local have=no
  grep -q '^#define HAVE_LIBOTR 1' "$d/config.h" 2>/dev/null && have=yes
  echo "$version $mode: exit=$rc ${res:-stopped} HAVE_LIBOTR=$have"
}
for c in $cases; do run_case /usr/share/aclocal theirs "${c%%:*}" "${c##*:}"; done > "$out/theirs.txt"
for c in $cases; do run_case "$stage/share/aclocal" ours "${c%%:*}" "${c##*:}"; done > "$out/ours.txt"
diff -u "$out/theirs.txt" "$out/ours.txt" || { echo "autoconf: AM_PATH_LIBOTR answers differently"; exit 1; }
grep -q '4.1.1 stop: exit=0 RESULT otr=found' "$out/ours.txt" || { cat "$out/ours.txt"; echo "autoconf: 4.1.1 not found"; exit 1; }
echo "autoconf: AM_PATH_LIBOTR answers as libotr's own macro for $(wc -l < "$out/ours.txt") cases"
