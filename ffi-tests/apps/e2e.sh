#!/usr/bin/env bash
# End-to-end test with real Debian OTR applications over a local XMPP server.
#
# usage: e2e.sh STAGE OUT
#   STAGE  our install prefix (STAGE/lib/libotr.so.5 is the library tested)
#   OUT    scratch directory; everything goes under OUT/e2e
#
# A private prosody on 127.0.0.1 (plaintext c2s, own config and data) serves
# every run.  Each client reaches it through a recording TCP proxy
# (e2e_proxy.py), so the bytes on the wire can be checked.  Runs (E2E_RUNS
# selects a subset; the default is all of them):
#   mixA   bitlbee on ours    <-> bitlbee on Debian's   (e2e_bitlbee.py)
#   mixB   bitlbee on Debian's <-> bitlbee on ours: roles swapped
#   ctrl   bitlbee on Debian's <-> bitlbee on Debian's: proves the test
#   self   bitlbee on ours    <-> bitlbee on ours
#   profA  profanity on ours  <-> bitlbee on Debian's  (e2e_profanity.py)
#   profB  profanity on Debian's <-> bitlbee on ours
# After each run e2e_wire.py checks its proxy logs.  Consumers have no
# RPATH, so LD_LIBRARY_PATH=STAGE/lib swaps the library for one process; the
# drivers check /proc/PID/maps to be sure which library each process loaded.
#
# Exit 0 when every check passed; failures are printed as "FAIL e2e: ...".
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 STAGE OUT" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
STAGE=$(realpath "$1")
OUT=$2
W=$(realpath -m "$OUT/e2e")
RUNS=${E2E_RUNS:-mixA mixB ctrl self profA profB}
XMPP_PW=e2e-xmpp-pw
started=$(date +%s)

fail() {
  echo "FAIL e2e: $*"
  exit 1
}

[ -e "$STAGE/lib/libotr.so.5" ] || fail "no $STAGE/lib/libotr.so.5"

# ---------------------------------------------------------------- packages

# Installs what is missing, quietly.  Package scripts must not start the
# system's prosody or bitlbee (this test runs its own): a policy-rc.d that
# refuses is put in place for the install when the machine has none.
ensure_packages() {
  local need=() pkg made_policy=0 log="$W/apt.log"
  for pkg in prosody bitlbee bitlbee-plugin-otr profanity tmux libotr5 python3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  echo "== installing ${need[*]}"
  [ "$(id -u)" -eq 0 ] || fail "missing packages ${need[*]} and not root"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq >"$log" 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >>"$log" 2>&1
  local rc=$?
  [ $made_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ $rc -ne 0 ]; then
    tail -20 "$log"
    fail "apt-get install ${need[*]} failed"
  fi
}

# ---------------------------------------------------------------- processes

# Every long-lived process (prosody here; bitlbee, proxies and tmux in the
# drivers) runs in its own process group, registered as a file named after
# the group id in $PIDS.  Cleanup ends those groups and nothing else.
PIDS=$W/pids

stop_groups() {
  local f pgid left
  [ -d "$PIDS" ] || return 0
  for f in "$PIDS"/*; do
    [ -e "$f" ] || continue
    kill -TERM -- "-$(basename "$f")" 2>/dev/null
  done
  for _ in $(seq 50); do
    left=0
    for f in "$PIDS"/*; do
      [ -e "$f" ] || continue
      if kill -0 -- "-$(basename "$f")" 2>/dev/null; then left=1; fi
    done
    [ $left -eq 0 ] && break
    sleep 0.1
  done
  for f in "$PIDS"/*; do
    [ -e "$f" ] || continue
    pgid=$(basename "$f")
    kill -KILL -- "-$pgid" 2>/dev/null
    rm -f "$f"
  done
}
# Drivers run in the background and are waited for, so that a signal to
# this script is handled at once: the driver gets TERM (it then stops what
# it started), and whatever is left is ended here.
DRIVER_PID=
run_driver() {
  local rc
  "$@" &
  DRIVER_PID=$!
  wait "$DRIVER_PID"
  rc=$?
  DRIVER_PID=
  return $rc
}
# shellcheck disable=SC2317  # called by the trap below
interrupted() {
  echo "FAIL e2e: interrupted"
  if [ -n "$DRIVER_PID" ]; then
    kill -TERM "$DRIVER_PID" 2>/dev/null
    wait "$DRIVER_PID"
  fi
  stop_groups
  exit 130
}
trap stop_groups EXIT
trap interrupted INT TERM

# Processes whose command line names our scratch directory, i.e. anything
# we started that survived the cleanup.
leftovers() {
  local p cmd
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    cmd=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    case "$cmd" in
      *"$W/"*) echo "${p#/proc/}: $cmd" ;;
    esac
  done
}

# ---------------------------------------------------------------- prosody

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1   # keep the source tree clean

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Users of every run, in pairs that have each other in their roster.
user_pairs() {
  local i=0 run
  for run in $RUNS; do
    i=$((i + 1))
    case "$run" in
      prof*) echo "carol$i dave$i" ;;   # matches run_one's JIDs
      *) echo "alice$i bob$i" ;;
    esac
  done
}

write_roster() {  # user contact: a mutual subscription, as prosody stores it
  mkdir -p "$W/prosody/data/localhost/roster"
  cat >"$W/prosody/data/localhost/roster/$1.dat" <<EOF
return {
	[false] = { ["version"] = 1; ["pending"] = {}; };
	["$2@localhost"] = { ["subscription"] = "both"; ["groups"] = {}; ["name"] = "$2"; };
};
EOF
}

start_prosody() {
  local dir=$W/prosody cfg=$W/prosody/prosody.cfg.lua a b pid try
  mkdir -p "$dir/data" "$dir/certs"
  for try in 1 2 3; do
    XMPP_PORT=$(free_port)
    # Plaintext c2s on loopback only: no TLS (so the stream can be read),
    # no s2s, no HTTP; data, pid file and log in our directory.
    cat >"$cfg" <<EOF
run_as_root = true
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
interfaces = { "127.0.0.1" }
c2s_ports = { $XMPP_PORT }
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
s2s_ports = {}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
log = { { levels = { min = "info" }, to = "file", filename = "$dir/prosody.log" } }
modules_enabled = { "roster", "saslauth", "disco", "ping", "posix", "presence" }
modules_disabled = { "s2s", "tls", "http", "offline" }
VirtualHost "localhost"
EOF
    if [ "$try" -eq 1 ]; then
      while read -r a b; do
        for u in "$a" "$b"; do
          prosodyctl --config "$cfg" register "$u" localhost "$XMPP_PW" \
            >>"$dir/prosodyctl.log" 2>&1 ||
            { cat "$dir/prosodyctl.log"; fail "prosodyctl register $u failed"; }
        done
        write_roster "$a" "$b"
        write_roster "$b" "$a"
      done < <(user_pairs)
    fi
    setsid prosody -F --config "$cfg" >>"$dir/prosody.out" 2>&1 &
    pid=$!
    echo "prosody" >"$PIDS/$pid"
    for _ in $(seq 100); do
      if "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $XMPP_PORT), 1)" \
           2>/dev/null; then
        echo "== prosody on 127.0.0.1:$XMPP_PORT (pid $pid)"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -TERM -- "-$pid" 2>/dev/null
    rm -f "$PIDS/$pid"
  done
  tail -20 "$dir/prosody.log" "$dir/prosody.out" 2>/dev/null
  fail "prosody did not start"
}

# ---------------------------------------------------------------- runs

# The library of each side in a run: "client-kind first-lib second-lib".
run_spec() {
  case "$1" in
    mixA) echo "bitlbee ours debian" ;;
    mixB) echo "bitlbee debian ours" ;;
    ctrl) echo "bitlbee debian debian" ;;
    self) echo "bitlbee ours ours" ;;
    profA) echo "profanity ours debian" ;;
    profB) echo "profanity debian ours" ;;
    *) return 1 ;;
  esac
}

run_one() {  # run-name run-index
  local run=$1 i=$2 dir=$W/$1 rc kind lib1 lib2
  if ! read -r kind lib1 lib2 < <(run_spec "$run"); then
    echo "FAIL e2e: unknown run '$run'" | tee -a "$RESULTS.extra"
    return 1
  fi
  mkdir -p "$dir"
  local common=(--run "$run" --xmpp-password "$XMPP_PW" --xmpp-port "$XMPP_PORT"
                --stage "$STAGE" --workdir "$dir" --piddir "$PIDS" --results "$RESULTS")
  if [ "$kind" = bitlbee ]; then
    run_driver "$PY" "$here/e2e_bitlbee.py" "${common[@]}" --alice-lib "$lib1" \
      --bob-lib "$lib2" --alice-jid "alice$i@localhost" --bob-jid "bob$i@localhost"
  else
    run_driver "$PY" "$here/e2e_profanity.py" "${common[@]}" --prof-lib "$lib1" \
      --bb-lib "$lib2" --prof-jid "carol$i@localhost" --bb-jid "dave$i@localhost"
  fi
  rc=$?
  if [ -s "$dir/wire.json" ]; then
    "$PY" "$here/e2e_wire.py" "$RESULTS" "$dir/wire.json" || rc=1
  else
    echo "FAIL e2e: $run: no wire.json, wire checks not run" | tee -a "$RESULTS.extra"
    rc=1
  fi
  return $rc
}

rm -rf "$W"
mkdir -p "$PIDS"
RESULTS=$W/results.tsv
: >"$RESULTS"
# Temporary files of the drivers (tmux sockets) go under $W when the path
# is short enough for a unix socket.
if [ ${#W} -lt 80 ]; then
  export TMPDIR=$W/tmp
  mkdir -p "$TMPDIR"
fi

ensure_packages
[ -e /usr/lib/x86_64-linux-gnu/libotr.so.5 ] || fail "Debian's libotr.so.5 is missing"
echo "== ours: $(realpath "$STAGE/lib/libotr.so.5")"
echo "== Debian's: $(realpath /usr/lib/x86_64-linux-gnu/libotr.so.5)"
start_prosody

drivers_failed=0
i=0
for run in $RUNS; do
  i=$((i + 1))
  run_one "$run" "$i" || drivers_failed=$((drivers_failed + 1))
done

stop_groups
left=$(leftovers)
if [ -n "$left" ]; then
  echo "FAIL e2e: processes left after cleanup:" | tee -a "$RESULTS.extra"
  echo "$left"
fi

# ---------------------------------------------------------------- summary

passed=$(grep -c '^PASS' "$RESULTS")
failed=$(grep -c '^FAIL' "$RESULTS")
extra=0
[ -e "$RESULTS.extra" ] && extra=$(grep -c '^FAIL' "$RESULTS.extra")
failed=$((failed + extra))
echo
echo "== e2e summary (runs: $RUNS; $(($(date +%s) - started))s; logs in $W)"
for run in $RUNS; do
  printf '   %-6s %3d passed, %d failed\n' "$run" \
    "$(grep -cP "^PASS\t${run}[: ]" "$RESULTS")" "$(grep -cP "^FAIL\t${run}[: ]" "$RESULTS")"
done
if [ "$failed" -gt 0 ]; then
  echo "== failed checks:"
  grep '^FAIL' "$RESULTS" | cut -f2- | sed 's/\t/: /; s/^/FAIL e2e: /'
  [ -e "$RESULTS.extra" ] && cat "$RESULTS.extra"
fi
echo "e2e: $passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "$drivers_failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
exit 0
