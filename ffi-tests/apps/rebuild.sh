#!/usr/bin/env bash
# The "source drop-in" test: two real libotr applications, built from
# Debian's unmodified upstream tarballs against an installed libotr-rs
# prefix, load and use it.
#
#   rebuild.sh STAGE OUT
#
# STAGE is an install prefix of libotr-rs (lib/libotr.so.5,
# lib/pkgconfig/libotr.pc, include/libotr/, share/aclocal/libotr.m4); OUT is
# a scratch directory: everything downloaded, built and run lives in
# OUT/rebuild, which is wiped first.
#
#  - pidgin-otr 4.0.2: configure regenerated with autoreconf so that it uses
#    our AM_PATH_LIBOTR (found by aclocal through ACLOCAL_PATH), the prefix
#    taken from our libotr.pc; also the tarball's own configure (upstream's
#    macro) pointed at STAGE. Pidgin runs headless (Xvfb) with a private
#    config dir that loads the plugin and a small probe plugin
#    (pidgin-probe.c) that reports pidgin-otr's user state as read from its
#    files, and the libotr mapped into the process.
#  - bitlbee 3.6 with its OTR plugin (--otr=plugin, found with pkg-config).
#    BitlBee runs as a daemon on 127.0.0.1; an IRC client (ircclient.py)
#    registers, generates an OTR key, reconnects, and checks that the key
#    and a fingerprint file are read back.
#  - The same builds and runs against Debian's libotr 4.1.1 (libotr5-dev),
#    so a failure here can be told apart from a broken test.
#
# Runs as root on Debian bookworm: installs what it needs with apt-get and
# adds a deb-src entry for deb.debian.org when apt has none.
#
# "check && check || fail ..." is used throughout: fail exits, so it does
# read as if-then-else.
# shellcheck disable=SC2015
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 STAGE OUT" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd -P)
# STAGE as spelled (absolute): the flags are checked against this spelling,
# the libotr mapped into processes against the real path (lib_ours).
STAGE=$(cd "$1" 2>/dev/null && pwd) || { echo "FAIL rebuild: no such directory: $1"; exit 1; }
mkdir -p "$2" || exit 1
OUT=$(cd "$2" && pwd -P)
work=$OUT/rebuild
started=$SECONDS

declare -a summary=()
declare -a children=()
pidgin_stop=""  # the probe plugin quits Pidgin when this file appears
lib_ours=""     # the libotr a process must map: ours from STAGE ...
deb_libdir=""   # ... or Debian's, from here

fail() {
  # fail MESSAGE [LOG...]: the reason, then the end of each log that explains it.
  local msg=$1 log
  shift
  echo "FAIL rebuild: $msg"
  for log in "$@"; do
    [ -s "$log" ] || continue
    echo "---- last lines of $log"
    tail -n 40 "$log"
  done
  exit 1
}

ok() {
  summary+=("$*")
  echo "  ok: $*"
}

cleanup() {
  local pid
  [ -n "$pidgin_stop" ] && touch "$pidgin_stop" 2>/dev/null
  for pid in "${children[@]}"; do
    kill "$pid" 2>/dev/null
  done
}
trap cleanup EXIT

# ---------------------------------------------------------------- packages

packages=(
  gcc make pkg-config binutils dpkg-dev python3
  autoconf automake libtool intltool gettext
  libotr5-dev libgcrypt20-dev libgpg-error-dev
  libglib2.0-dev libgtk2.0-dev pidgin-dev libpurple-dev pidgin xvfb xauth
  libgnutls28-dev
)

apt_update() {
  # Another apt run may hold the lists lock for a while; wait for it.
  local _
  for _ in $(seq 30); do
    apt-get update -qq >"$work/apt-update.log" 2>&1 && return 0
    grep -q 'Could not get lock' "$work/apt-update.log" || break
    sleep 10
  done
  fail "apt-get update failed" "$work/apt-update.log"
}

ensure_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" >"$work/apt-install.log" 2>&1 ||
    fail "apt-get install ${missing[*]} failed" "$work/apt-install.log"
}

has_sources() {
  apt-cache showsrc pidgin-otr 2>/dev/null | grep -q '^Version: 4\.0\.2-' &&
    apt-cache showsrc bitlbee 2>/dev/null | grep -q '^Version: 3\.6-'
}

ensure_deb_src() {
  # The machine's debian.sources has only "Types: deb"; apt-get source needs
  # a deb-src entry. Ours is a file of its own, so it is easy to see and to
  # remove, and it is written only when apt cannot find the sources yet.
  has_sources && return 0
  local file=/etc/apt/sources.list.d/debian-src.sources
  local uri=http://deb.debian.org/debian suite
  # shellcheck source=/dev/null
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  # Use the mirror the binary entries use, if debian.sources names one.
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    local u
    u=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
    [ -n "$u" ] && uri=$u
  fi
  local want
  want=$(printf 'Types: deb-src\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$suite" "$suite")
  if [ "$(cat "$file" 2>/dev/null)" != "$want" ]; then
    echo "== adding $file"
    printf '%s\n' "$want" >"$file" || fail "cannot write $file"
  fi
  apt_update
  has_sources || fail "apt knows no source package pidgin-otr 4.0.2 / bitlbee 3.6 after adding $file" "$work/apt-update.log"
}

# ---------------------------------------------------------------- sources

fetch_sources() {
  # Only the upstream .orig tarball is used. apt-get source also fetches the
  # Debian packaging (.debian.tar.xz / .diff.gz), which this test does not
  # need and a mirror may not serve; so its exit status is not trusted:
  # instead every tarball is checked against the SHA-256 in its .dsc (which
  # apt checked against the signed Sources index).
  local dl=$work/src
  mkdir -p "$dl"
  # apt downloads as the _apt user when it can write the directory.
  id -u _apt >/dev/null 2>&1 && chown _apt "$dl"
  (cd "$dl" && apt-get source --download-only pidgin-otr bitlbee) >"$work/apt-source.log" 2>&1
  local tarball dsc sum dscs
  for tarball in pidgin-otr_4.0.2.orig.tar.gz bitlbee_3.6.orig.tar.gz; do
    dscs=("$dl/${tarball%%_*}"_*.dsc)
    dsc=${dscs[0]}
    [ -f "$dsc" ] && [ -s "$dl/$tarball" ] || fail "apt-get source did not fetch $tarball" "$work/apt-source.log"
    sum=$(awk -v f="$tarball" '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on && $3 == f { print $1 }' "$dsc")
    [ -n "$sum" ] && [ "$(sha256sum <"$dl/$tarball" | cut -d' ' -f1)" = "$sum" ] ||
      fail "$tarball does not match the SHA-256 in $(basename "$dsc")"
  done
  ok "sources: pidgin-otr_4.0.2.orig.tar.gz and bitlbee_3.6.orig.tar.gz from Debian, SHA-256 as in their .dsc"
}

unpack() {
  # unpack TARBALL DIR: a fresh tree per build, so builds cannot share state.
  mkdir -p "$2" && tar xzf "$work/src/$1" -C "$2" --strip-components=1 || fail "cannot unpack $1"
}

check_unchanged() {
  # check_unchanged TARBALL DIR [REGENERATED-REGEX]: no file from the tarball
  # differs in content or is missing, except those autoreconf regenerates.
  local changed
  changed=$(tar -dzf "$work/src/$1" -C "$2" --strip-components=1 2>&1 |
    sed -n -e 's/^\([^:]*\): \(Contents\|Size\) differs$/\1/p' \
      -e 's/^tar: \([^:][^:]*\): Warning: Cannot stat.*/\1/p' | sort -u)
  [ -n "${3:-}" ] && changed=$(grep -Ev "^($3)\$" <<<"$changed")
  [ -z "$changed" ] || fail "$2: files of $1 were changed: $(echo "$changed" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- our prefix

check_pkgconfig() {
  local pc=(env PKG_CONFIG_PATH="$STAGE/lib/pkgconfig" pkg-config)
  local v prefix cflags libs
  v=$("${pc[@]}" --modversion libotr 2>&1) || fail "pkg-config finds no libotr in $STAGE/lib/pkgconfig: $v"
  prefix=$("${pc[@]}" --variable=prefix libotr)
  cflags=$("${pc[@]}" --cflags libotr | xargs)
  libs=$("${pc[@]}" --libs libotr | xargs)
  [ "$v" = 4.1.1 ] || fail "our libotr.pc says version $v, not 4.1.1"
  [ "$(cd "$prefix" 2>/dev/null && pwd -P)" = "$(cd "$STAGE" && pwd -P)" ] ||
    fail "our libotr.pc says prefix=$prefix, but it is installed in $STAGE"
  # From here on, spell the prefix as libotr.pc does (the same directory).
  STAGE=$prefix
  [ "$cflags" = "-I$STAGE/include" ] || fail "pkg-config --cflags libotr gives '$cflags'"
  [ "$libs" = "-L$STAGE/lib -lotr" ] || fail "pkg-config --libs libotr gives '$libs'"
  [ -r "$STAGE/share/aclocal/libotr.m4" ] || fail "no $STAGE/share/aclocal/libotr.m4"
  ok "our libotr.pc: version 4.1.1, prefix $STAGE, cflags '$cflags', libs '$libs'"
}

check_maps() {
  # check_maps PID EXPECTED WHAT: the process maps exactly one libotr, EXPECTED.
  local maps
  maps=$(awk '$6 ~ /\/libotr\.so/ { print $6 }' "/proc/$1/maps" 2>/dev/null | sort -u | xargs)
  [ "$maps" = "$2" ] || fail "$3 (pid $1) maps libotr '${maps:-none}', expected only $2"
}

# ---------------------------------------------------------------- pidgin-otr

# Files autoreconf -fi rewrites in pidgin-otr's tree.
po_regenerated='INSTALL|Makefile\.in|aclocal\.m4|ar-lib|compile|config\.guess|config\.h\.in|config\.sub|configure|depcomp|install-sh|ltmain\.sh|missing|po/Makefile\.in\.in'

build_pidgin_otr() {
  # build_pidgin_otr VARIANT
  #   ours     configure regenerated with our AM_PATH_LIBOTR, our prefix
  #   shipped  the tarball's configure (upstream's macro), our prefix
  #   debian   configure regenerated with Debian's libotr.m4, Debian's libotr
  local variant=$1 dir=$work/pidgin-otr-$1
  local src=$dir/src env=() args=() inc lib
  unpack pidgin-otr_4.0.2.orig.tar.gz "$src"
  case $variant in
    ours)
      local libdir incdir
      libdir=$(PKG_CONFIG_PATH="$STAGE/lib/pkgconfig" pkg-config --variable=libdir libotr)
      incdir=$(PKG_CONFIG_PATH="$STAGE/lib/pkgconfig" pkg-config --variable=includedir libotr)
      env=(PKG_CONFIG_PATH="$STAGE/lib/pkgconfig")
      # Same options as upstream's macro: library and header directories.
      args=(--with-libotr-prefix="$libdir" --with-libotr-inc-prefix="$incdir")
      inc=$STAGE/include lib=$STAGE/lib
      # aclocal looks in ACLOCAL_PATH before /usr/share/aclocal, so our
      # AM_PATH_LIBOTR wins over libotr5-dev's.
      (cd "$src" && env ACLOCAL_PATH="$STAGE/share/aclocal" autoreconf -fi) >"$dir/autoreconf.log" 2>&1 ||
        fail "pidgin-otr ($variant): autoreconf failed" "$dir/autoreconf.log"
      grep -q 'libotr-rs' "$src/aclocal.m4" ||
        fail "pidgin-otr ($variant): aclocal.m4 does not hold our libotr.m4"
      grep -q 'directory of the libotr headers (optional)' "$src/configure" &&
        grep -q '#error libotr has another major version' "$src/configure" ||
        fail "pidgin-otr ($variant): configure was not generated from our AM_PATH_LIBOTR"
      ;;
    shipped)
      env=(PKG_CONFIG_PATH="$STAGE/lib/pkgconfig")
      # Upstream's macro: --with-libotr-prefix is the library directory,
      # --with-libotr-inc-prefix the directory holding libotr/.
      args=(--with-libotr-prefix="$STAGE/lib" --with-libotr-inc-prefix="$STAGE/include")
      inc=$STAGE/include lib=$STAGE/lib
      grep -q 'for libotr headers version' "$src/configure" ||
        fail "pidgin-otr ($variant): the tarball's configure is not from upstream's macro"
      ;;
    debian)
      env=(-u PKG_CONFIG_PATH)
      inc=/usr/include lib=$deb_libdir
      (cd "$src" && env -u ACLOCAL_PATH autoreconf -fi) >"$dir/autoreconf.log" 2>&1 ||
        fail "pidgin-otr ($variant): autoreconf failed" "$dir/autoreconf.log"
      grep -q 'with-libotr-inc-prefix' "$src/configure" &&
        grep -q 'for libotr headers version' "$src/configure" &&
        ! grep -q 'libotr has another major version' "$src/configure" ||
        fail "pidgin-otr ($variant): configure was not generated from Debian's libotr.m4"
      ;;
  esac
  (cd "$src" && env "${env[@]}" ./configure --prefix="$dir/inst" "${args[@]}") >"$dir/configure.log" 2>&1 ||
    fail "pidgin-otr ($variant): configure failed" "$dir/configure.log"
  local cflags libs
  cflags=$(sed -n 's/^LIBOTR_CFLAGS = //p' "$src/Makefile" | xargs)
  libs=$(sed -n 's/^LIBOTR_LIBS = //p' "$src/Makefile" | xargs)
  if [ "$variant" = debian ]; then
    [ -z "$cflags" ] && [ "$libs" = "-lotr" ] ||
      fail "pidgin-otr ($variant): LIBOTR_CFLAGS='$cflags' LIBOTR_LIBS='$libs'" "$dir/configure.log"
  else
    [ "$cflags" = "-I$STAGE/include" ] && [ "$libs" = "-L$STAGE/lib -lotr" ] ||
      fail "pidgin-otr ($variant): LIBOTR_CFLAGS='$cflags' LIBOTR_LIBS='$libs'" "$dir/configure.log"
  fi
  # pidgin-otr's Makefile.am links with "@LIBGCRYPT_LIBS@ @LIBOTR_LIBS@", and
  # libgcrypt-config says "-L/usr/lib/x86_64-linux-gnu -lgcrypt": with
  # libotr5-dev installed, ld would take -lotr from /usr, whatever
  # LIBOTR_LIBS says. The same flags with libotr's first make ld use the
  # libotr configure found; ld --trace shows which file it took.
  # shellcheck disable=SC2016 # $(...) here is for make to expand
  (cd "$src" && env "${env[@]}" make -j2 V=1 LDFLAGS=-Wl,--trace \
    'pidgin_otr_la_LDFLAGS=-module -avoid-version $(LIBOTR_LIBS) $(LIBGCRYPT_LIBS)') >"$dir/make.log" 2>&1 ||
    fail "pidgin-otr ($variant): make failed" "$dir/make.log"
  local so=$src/.libs/pidgin-otr.so
  [ -f "$so" ] || fail "pidgin-otr ($variant): no $so" "$dir/make.log"
  if [ "$variant" != debian ]; then
    grep -q -- "--mode=compile .* -I$STAGE/include .*otr-plugin\.c" "$dir/make.log" ||
      fail "pidgin-otr ($variant): otr-plugin.c was not compiled with -I$STAGE/include" "$dir/make.log"
    grep -q -- "--mode=link .* -L$STAGE/lib -lotr" "$dir/make.log" ||
      fail "pidgin-otr ($variant): the plugin was not linked with -L$STAGE/lib -lotr" "$dir/make.log"
  fi
  grep -qx "$lib/libotr.so" "$dir/make.log" && [ "$(grep -c '/libotr\.so$' "$dir/make.log")" -eq 1 ] ||
    fail "pidgin-otr ($variant): ld did not take $lib/libotr.so: $(grep '/libotr\.so$' "$dir/make.log" | xargs)" "$dir/make.log"
  # The dependency file lists the headers the compiler really read.
  local deps=$src/.deps/otr-plugin.Plo other
  other=$([ "$variant" = debian ] && echo "$STAGE/include/libotr/" || echo "/usr/include/libotr/")
  grep -q "$inc/libotr/proto\.h" "$deps" && ! grep -q "$other" "$deps" ||
    fail "pidgin-otr ($variant): otr-plugin.c did not include $inc/libotr/*.h only (see $deps)"
  readelf -d "$so" | grep -q 'NEEDED.*\[libotr\.so\.5\]' || fail "pidgin-otr ($variant): $so does not need libotr.so.5"
  if [ "$variant" = shipped ]; then
    check_unchanged pidgin-otr_4.0.2.orig.tar.gz "$src"
  else
    check_unchanged pidgin-otr_4.0.2.orig.tar.gz "$src" "$po_regenerated"
  fi
  case $variant in
    ours) ok "pidgin-otr (our AM_PATH_LIBOTR via autoreconf, --with-libotr-prefix/--with-libotr-inc-prefix from our libotr.pc): built with -I$STAGE/include, linked $lib/libotr.so (ld --trace), sources unchanged" ;;
    shipped) ok "pidgin-otr (tarball's configure, upstream macro, --with-libotr-prefix=$STAGE/lib --with-libotr-inc-prefix=$STAGE/include): built with -I$STAGE/include, linked $lib/libotr.so, sources unchanged" ;;
    debian) ok "pidgin-otr (Debian's libotr.m4 via autoreconf): built with /usr/include/libotr, linked $lib/libotr.so, sources unchanged" ;;
  esac
}

make_fixture() {
  # OTR files for pidgin-otr to read, written by Debian's libotr (the
  # reference): a DSA key and an instance tag for alice, and one known
  # fingerprint for bob. The expected values go to fixture/expected.
  local fx=$work/fixture
  mkdir -p "$fx"
  gcc -std=gnu11 -Wall -Wextra -Werror "$here/otr-fixture.c" -o "$fx/otr-fixture" -lotr -lgcrypt >"$fx/build.log" 2>&1 ||
    fail "cannot build otr-fixture" "$fx/build.log"
  env -u LD_LIBRARY_PATH "$fx/otr-fixture" "$fx" alice@example.com prpl-jabber >"$fx/expected" 2>"$fx/run.log" ||
    fail "otr-fixture failed" "$fx/run.log"
  printf 'bob@example.com\talice@example.com\tprpl-jabber\t0123456789abcdef0123456789abcdef01234567\tverified\n' >"$fx/otr.fingerprints"
}

run_pidgin() {
  # run_pidgin VARIANT: Pidgin loads this build of pidgin-otr and the probe;
  # the probe's report and the process's maps must show the right libotr
  # and pidgin-otr's user state filled from the fixture files.
  local variant=$1 dir=$work/pidgin-otr-$1
  local run=$dir/run cfg=$dir/run/config env=() probe_flags=() expect_lib
  mkdir -p "$cfg/plugins" "$run/home"
  if [ "$variant" = debian ]; then
    env=(-u LD_LIBRARY_PATH -u PKG_CONFIG_PATH)
    probe_flags=(-lotr)
    expect_lib=$(readlink -f "$deb_libdir/libotr.so.5")
  else
    env=(LD_LIBRARY_PATH="$STAGE/lib" PKG_CONFIG_PATH="$STAGE/lib/pkgconfig")
    probe_flags=(-I"$STAGE/include" -L"$STAGE/lib" -lotr)
    expect_lib=$lib_ours
  fi
  # shellcheck disable=SC2046 # pkg-config prints several words on purpose
  gcc -std=gnu11 -Wall -Wextra -Werror -shared -fPIC $(pkg-config --cflags purple) \
    "$here/pidgin-probe.c" -o "$cfg/plugins/otrprobe.so" "${probe_flags[@]}" >"$run/probe-build.log" 2>&1 ||
    fail "pidgin ($variant): cannot build the probe plugin" "$run/probe-build.log"
  ln -sf "$dir/src/.libs/pidgin-otr.so" "$cfg/plugins/pidgin-otr.so"
  cp "$work/fixture/otr.private_key" "$work/fixture/otr.instance_tags" "$work/fixture/otr.fingerprints" "$cfg/"
  # Pidgin loads the plugins listed in /pidgin/plugins/loaded at start-up.
  cat >"$cfg/prefs.xml" <<EOF
<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
  <pref name='pidgin'>
    <pref name='plugins'>
      <pref name='loaded' type='pathlist'>
        <item value='$cfg/plugins/pidgin-otr.so'/>
        <item value='$cfg/plugins/otrprobe.so'/>
      </pref>
    </pref>
  </pref>
</pref>
EOF
  local report=$run/report stop=$run/stop log=$run/pidgin.log
  rm -f "$report" "$stop"
  pidgin_stop=$stop
  # A private HOME keeps GTK's files here; a bus address that leads nowhere
  # keeps Pidgin from starting a D-Bus session of its own. The background
  # job is timeout itself (exec), which on SIGTERM (see cleanup) passes the
  # signal to its whole process group: xvfb-run, Xvfb and Pidgin.
  (
    cd "$run" && exec env "${env[@]}" HOME="$run/home" DBUS_SESSION_BUS_ADDRESS="unix:path=$run/no-bus" \
      OTRPROBE_REPORT="$report" OTRPROBE_STOP="$stop" \
      timeout 180 xvfb-run -a -e "$run/xvfb.log" pidgin -c "$cfg" -d >"$log" 2>&1
  ) &
  local runner=$! _ status
  children+=("$runner")
  # Wait for the probe's report; stop early if Pidgin exits or refuses one
  # of the two plugins (it then runs on without them).
  for _ in $(seq 600); do
    grep -qx 'done' "$report" 2>/dev/null && break
    kill -0 "$runner" 2>/dev/null || break
    grep -q 'is not loadable' "$log" 2>/dev/null && break
    sleep 0.1
  done
  grep -qx 'done' "$report" 2>/dev/null ||
    fail "pidgin ($variant): no report from the probe plugin; $(grep -m 4 -e 'is not loadable' -e 'plugins: .*[Ff]ail' "$log" | xargs)" \
      "$log" "$run/xvfb.log"
  local pid
  pid=$(sed -n 's/^pid //p' "$report")
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pidgin ] || fail "pidgin ($variant): pid $pid is not pidgin"
  check_maps "$pid" "$expect_lib" "pidgin ($variant)"
  touch "$stop"
  wait "$runner"
  status=$?
  pidgin_stop=""
  [ "$status" = 0 ] || fail "pidgin ($variant): exit status $status" "$log" "$run/xvfb.log"

  # What the probe saw, against what the fixture wrote.
  grep -q '^error' "$report" && fail "pidgin ($variant): $(grep '^error' "$report")" "$log"
  local fp tag
  fp=$(sed -n 's/^privkey //p' "$work/fixture/expected")
  tag=$(sed -n 's/^instag //p' "$work/fixture/expected")
  local want
  want=$(printf '%s\n' \
    "plugin $cfg/plugins/pidgin-otr.so 4.0.2 Off-the-Record Messaging" \
    "version 4.1.1" \
    "privkey alice@example.com prpl-jabber $fp" \
    "instag alice@example.com prpl-jabber $tag" \
    "fingerprint bob@example.com alice@example.com prpl-jabber 01234567 89ABCDEF 01234567 89ABCDEF 01234567 verified" \
    "maps $expect_lib")
  [ "$(grep -v '^pid \|^done$' "$report")" = "$want" ] ||
    fail "pidgin ($variant): the probe's report differs: $(diff <(echo "$want") <(grep -v '^pid \|^done$' "$report") | grep '^[<>]' | xargs)" "$log"
  grep -q "plugins: Loading saved plugin $cfg/plugins/pidgin-otr.so" "$log" &&
    grep -q 'plugins: Unloading plugin Off-the-Record Messaging' "$log" ||
    fail "pidgin ($variant): the debug log does not show pidgin-otr loaded and unloaded" "$log"
  ok "pidgin ($variant): pidgin-otr loaded (OTRL_INIT passed), read the key ($fp), instance tag ($tag) and bob's fingerprint written by Debian's libotr; /proc/$pid/maps: $expect_lib only; clean exit"
}

# ---------------------------------------------------------------- bitlbee

build_bitlbee() {
  # build_bitlbee VARIANT (ours | debian): --otr=plugin finds libotr with
  # pkg-config (PKG_CONFIG_PATH selects ours) and libgcrypt-config.
  local variant=$1 dir=$work/bitlbee-$1
  local src=$dir/src env=() lib inc
  unpack bitlbee_3.6.orig.tar.gz "$src"
  if [ "$variant" = debian ]; then
    env=(-u PKG_CONFIG_PATH) lib=$deb_libdir inc=/usr/include
  else
    env=(PKG_CONFIG_PATH="$STAGE/lib/pkgconfig") lib=$STAGE/lib inc=$STAGE/include
  fi
  (cd "$src" && env "${env[@]}" ./configure --otr=plugin --prefix="$dir/inst" --config="$dir/inst/var/" \
    --pidfile="$dir/inst/bitlbee.pid" --systemdsystemunitdir="$dir/inst/systemd") >"$dir/configure.log" 2>&1 ||
    fail "bitlbee ($variant): configure failed" "$dir/configure.log"
  grep -q 'OTR) Messaging enabled (as a plugin)' "$dir/configure.log" ||
    fail "bitlbee ($variant): configure did not enable the OTR plugin" "$dir/configure.log"
  local otrflags
  otrflags=$(sed -n 's/^OTRFLAGS=//p' "$src/Makefile.settings" | xargs)
  if [ "$variant" = debian ]; then
    [[ "$otrflags" == "-lotr "* ]] || fail "bitlbee ($variant): OTRFLAGS='$otrflags'"
  else
    [[ "$otrflags" == "-L$STAGE/lib -lotr "* ]] && grep -qx "CFLAGS+=-I$STAGE/include *" "$src/Makefile.settings" ||
      fail "bitlbee ($variant): OTRFLAGS='$otrflags', CFLAGS: $(grep -- "-I$STAGE" "$src/Makefile.settings")"
  fi
  (cd "$src" && env "${env[@]}" make -j2 LDFLAGS=-Wl,--trace && make install) >"$dir/make.log" 2>&1 ||
    fail "bitlbee ($variant): make failed" "$dir/make.log"
  local so=$dir/inst/lib/bitlbee/otr.so
  [ -x "$dir/inst/sbin/bitlbee" ] && [ -f "$so" ] || fail "bitlbee ($variant): nothing installed" "$dir/make.log"
  grep -qx "$lib/libotr.so" "$dir/make.log" && [ "$(grep -c '/libotr\.so$' "$dir/make.log")" -eq 1 ] ||
    fail "bitlbee ($variant): ld did not take $lib/libotr.so: $(grep '/libotr\.so$' "$dir/make.log" | xargs)" "$dir/make.log"
  # BitlBee's dependency files (gcc -MMD) leave out system headers, so
  # /usr/include/libotr shows only as the absence of STAGE's.
  local deps=$src/.depend/otr.so.d
  if [ "$variant" = debian ]; then
    grep -q 'otr\.h' "$deps" && ! grep -q "$STAGE/include/libotr/" "$deps"
  else
    grep -q "$STAGE/include/libotr/proto\.h" "$deps"
  fi || fail "bitlbee ($variant): otr.c did not include $inc/libotr/*.h (see $deps)"
  readelf -d "$so" | grep -q 'NEEDED.*\[libotr\.so\.5\]' || fail "bitlbee ($variant): $so does not need libotr.so.5"
  check_unchanged bitlbee_3.6.orig.tar.gz "$src"
  ok "bitlbee ($variant): --otr=plugin, OTRFLAGS '$otrflags', otr.c built with $inc/libotr/*.h, linked $lib/libotr.so (ld --trace), sources unchanged"
}

run_bitlbee() {
  # run_bitlbee VARIANT: a BitlBee daemon with the OTR plugin; two IRC
  # sessions: 1. register, add an account, generate its OTR key; 2. log in
  # again, which reads the key and a fingerprint file back.
  local variant=$1 dir=$work/bitlbee-$1
  local run=$dir/run env=() expect_lib
  mkdir -p "$run/config"
  if [ "$variant" = debian ]; then
    env=(-u LD_LIBRARY_PATH) expect_lib=$(readlink -f "$deb_libdir/libotr.so.5")
  else
    env=(LD_LIBRARY_PATH="$STAGE/lib") expect_lib=$lib_ours
  fi
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    fail "cannot find a free port"
  cat >"$run/bitlbee.conf" <<EOF
[settings]
RunMode = ForkDaemon
DaemonInterface = 127.0.0.1
DaemonPort = $port
ConfigDir = $run/config
PluginDir = $dir/inst/lib/bitlbee
PidFile = $run/bitlbee.pid
MotdFile = $run/motd.txt
AuthMode = Open
EOF
  local log=$run/bitlbee.log
  (cd "$run" && exec env "${env[@]}" "$dir/inst/sbin/bitlbee" -n -F -c "$run/bitlbee.conf") >"$log" 2>&1 &
  local pid=$! _
  children+=("$pid")
  # Wait until it listens (its pid file appears after the socket is bound).
  for _ in $(seq 100); do
    [ -s "$run/bitlbee.pid" ] && break
    kill -0 "$pid" 2>/dev/null || fail "bitlbee ($variant) exited at start" "$log"
    sleep 0.1
  done
  [ -s "$run/bitlbee.pid" ] || fail "bitlbee ($variant) did not start" "$log"

  local irc=(python3 "$here/ircclient.py" 127.0.0.1 "$port" tester) fpr='([0-9A-F]{8} ){4}[0-9A-F]{8}'
  "${irc[@]}" \
    '>help otr' '?Available subcommands: connect, disconnect, reconnect, smp, smpq, trust, info, keygen' \
    '>plugins' '?PRIVMSG &bitlbee :otr +3\.6' \
    '>otr info' '?PRIVMSG &bitlbee :private keys:' '?PRIVMSG &bitlbee : +\(none\)' '?connection contexts:' \
    '>account add jabber alice@example.com secret' '?Account successfully added' \
    '>account jabber set auto_connect false' "?auto_connect = .false" \
    '>otr keygen jabber' '?otr keygen for alice@example.com/jabber complete' \
    '>otr info' '?alice@example.com/jabber - DSA' "?$fpr" \
    '>register s3cret' '?Account successfully created' >"$run/session1.log" 2>&1 ||
    fail "bitlbee ($variant): first IRC session" "$run/session1.log" "$log"
  local key
  key=$(grep -A1 'alice@example.com/jabber - DSA' "$run/session1.log" | grep -oE "$fpr" | head -n 1)
  [ -n "$key" ] && [ -s "$run/config/tester.otr_keys" ] ||
    fail "bitlbee ($variant): no key after otr keygen" "$run/session1.log"

  # A known fingerprint for bob, for the plugin to read at the next login
  # (and to write back unchanged when it saves).
  local fprints=$run/config/tester.otr_fprints
  printf 'bob@example.com\talice@example.com\tjabber\t0123456789abcdef0123456789abcdef01234567\tverified\n' >"$fprints"
  cp "$fprints" "$run/fprints.written"
  "${irc[@]}" \
    '>identify s3cret' '?otr: alice@example.com/jabber ready' \
    '>otr info' '?alice@example.com/jabber - DSA' "?$fpr" '?bob@example.com/jabber/alice@example.com' \
    '>otr info bob@example.com/jabber/alice@example.com' '?01234567 89ABCDEF 01234567 89ABCDEF 01234567 \(verified\)' \
    >"$run/session2.log" 2>&1 ||
    fail "bitlbee ($variant): second IRC session" "$run/session2.log" "$log"
  local key2
  key2=$(grep -A1 'alice@example.com/jabber - DSA' "$run/session2.log" | grep -oE "$fpr" | head -n 1)
  [ "$key2" = "$key" ] || fail "bitlbee ($variant): key read back as '$key2', generated as '$key'" "$run/session2.log"
  cmp -s "$fprints" "$run/fprints.written" ||
    fail "bitlbee ($variant): the fingerprint file was written back differently: $(xargs <"$fprints")"

  check_maps "$pid" "$expect_lib" "bitlbee ($variant)"
  grep -q "$dir/inst/lib/bitlbee/otr.so" "/proc/$pid/maps" || fail "bitlbee ($variant): otr.so is not mapped"
  kill "$pid"
  wait "$pid" 2>/dev/null
  ok "bitlbee ($variant): otr plugin loaded; help otr, plugins, otr info answer; otr keygen made $key, read back after identify with bob's fingerprint (written back unchanged); /proc/$pid/maps: $expect_lib only"
}

# ---------------------------------------------------------------- main

rm -rf "$work"
mkdir -p "$work" || fail "cannot create $work"
echo "== rebuild: pidgin-otr 4.0.2 and bitlbee 3.6 against $STAGE (output in $work)"
ensure_packages
ensure_deb_src
deb_libdir=$(env -u PKG_CONFIG_PATH pkg-config --variable=libdir libotr)
[ -e "$deb_libdir/libotr.so.5" ] || fail "Debian's libotr is not installed (libotr5-dev)"
lib_ours=$(readlink -f "$STAGE/lib/libotr.so.5")
[ -f "$lib_ours" ] || fail "no $STAGE/lib/libotr.so.5"

check_pkgconfig
fetch_sources
make_fixture
for v in ours shipped debian; do
  echo "== pidgin-otr ($v) [$((SECONDS - started)) s]"
  build_pidgin_otr "$v"
  run_pidgin "$v"
done
for v in ours debian; do
  echo "== bitlbee ($v) [$((SECONDS - started)) s]"
  build_bitlbee "$v"
  run_bitlbee "$v"
done

echo "PASS rebuild: pidgin-otr 4.0.2 (our AM_PATH_LIBOTR, the shipped configure, Debian's) and" \
  "bitlbee 3.6 (ours, Debian's) built unchanged from Debian's tarballs; each loaded its libotr" \
  "($lib_ours or Debian's) and read/wrote its OTR files through it (${#summary[@]} checks, $((SECONDS - started)) s)"
