"""Shared pieces of the end-to-end drivers (e2e_bitlbee.py, e2e_profanity.py,
e2e_wire.py): check bookkeeping, process handling, a small IRC client and
bitlbee daemon management.  Python 3 standard library only."""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

DEBIAN_LIBOTR = "/usr/lib/x86_64-linux-gnu/libotr.so.5"
HERE = os.path.dirname(os.path.abspath(__file__))

# Timeouts (seconds): generous, but every wait is bounded.
T_LOGIN = 30      # IRC login, XMPP login, buddy presence
T_KEYGEN = 120    # DSA-1024 key generation
T_AKE = 30
T_MSG = 20
T_SMP = 30

IRC_PASSWORD = "e2e-irc-pw"
FP_RX = r"((?:[0-9A-F]{8} ){4}[0-9A-F]{8})"   # libotr's human fingerprint


class StepFailed(Exception):
    """A step of a scenario could not go on (timeout, unexpected state)."""


# ---------------------------------------------------------------- checks

class Checks:
    """Records PASS/FAIL lines on stdout and in the shared results file that
    e2e.sh sums up at the end."""

    def __init__(self, run, results_path):
        self.run = run
        self.results_path = results_path
        self.failed = 0
        self.passed = 0

    def _write(self, status, name, detail):
        line = "%s\t%s: %s" % (status, self.run, name)
        if detail:
            line += "\t" + detail.replace("\n", " | ")
        with open(self.results_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def ok(self, name, detail=""):
        self.passed += 1
        print("  ok   %s: %s%s" % (self.run, name, " (%s)" % detail if detail else ""),
              flush=True)
        self._write("PASS", name, detail)

    def fail(self, name, detail=""):
        self.failed += 1
        print("FAIL e2e: %s: %s%s" % (self.run, name, ": " + detail if detail else ""),
              flush=True)
        self._write("FAIL", name, detail)

    def check(self, name, cond, detail=""):
        """Passes or fails `name`; returns cond so callers can branch."""
        if cond:
            self.ok(name)
        else:
            self.fail(name, detail)
        return bool(cond)


# ---------------------------------------------------------------- processes

def free_port():
    """A port that was free a moment ago (the caller retries on a clash)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout, proc=None):
    """Waits until something accepts on 127.0.0.1:port."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Group:
    """A process started in its own session (so its process group holds all
    of its children, e.g. bitlbee's per-client and keygen forks).  The group
    id is registered as a file in `piddir` so e2e.sh's exit trap can still
    end it if this driver dies; a clean stop removes that file."""

    def __init__(self, argv, env, log_path, piddir, cwd=None):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pgid = self.proc.pid
        self.pidfile = os.path.join(piddir, str(self.pgid))
        with open(self.pidfile, "w") as f:
            f.write(" ".join(argv) + "\n")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10, signals=(signal.SIGTERM, signal.SIGKILL)):
        for sig in signals:
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            if self._group_gone(timeout):
                break
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)

    def _group_gone(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.proc.poll()  # reaps the leader so it stops counting
            try:
                os.killpg(self.pgid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        return False


def start_proxy(xmpp_port, wiredir, piddir, names):
    """Starts e2e_proxy.py for `names` (ports from 5220-5229, the only
    range bitlbee's jabber module accepts); returns (group, {name: port})."""
    group = Group([sys.executable, os.path.join(HERE, "e2e_proxy.py"), str(xmpp_port),
                   wiredir, "5220-5229"] + list(names),
                  dict(os.environ), os.path.join(wiredir, "proxy.out"), piddir)
    ports_file = os.path.join(wiredir, "ports")
    deadline = time.time() + 20
    while not os.path.exists(ports_file):
        if time.time() > deadline or not group.alive():
            group.stop()
            raise StepFailed("recording proxy did not come up (see %s)" % wiredir)
        time.sleep(0.05)
    with open(ports_file) as f:
        ports = {name: int(port) for name, port in (line.split() for line in f)}
    return group, ports


def read_fprints(path):
    """fingerprint hex -> trust, from a libotr fingerprints file."""
    rows = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 4:
                    rows[parts[3]] = parts[4] if len(parts) > 4 else ""
    return rows


def libotr_mappings(pid):
    """Paths of every libotr mapped into process `pid`."""
    paths = set()
    with open("/proc/%d/maps" % pid, encoding="utf-8") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and "libotr.so" in parts[5]:
                paths.add(parts[5].strip())
    return paths


def lib_env(which, stage):
    """Environment for a client on `which` ("ours" or "debian").  The
    Debian side gets LD_LIBRARY_PATH removed so it cannot inherit ours."""
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env.pop("LD_PRELOAD", None)
    if which == "ours":
        env["LD_LIBRARY_PATH"] = os.path.join(stage, "lib")
    return env


def expected_lib(which, stage):
    if which == "ours":
        return os.path.realpath(os.path.join(stage, "lib", "libotr.so.5"))
    return os.path.realpath(DEBIAN_LIBOTR)


def other_lib(which, stage):
    return expected_lib("debian" if which == "ours" else "ours", stage)


# ---------------------------------------------------------------- IRC

COLOR_PREFIX = re.compile(r"^\x03(\d\d)")


class Msg:
    """One line received from the IRC server."""

    def __init__(self, raw):
        self.raw = raw
        self.nick = ""
        rest = raw
        if rest.startswith(":"):
            prefix, _, rest = rest[1:].partition(" ")
            self.nick = prefix.split("!", 1)[0]
        trailing = None
        if " :" in rest:
            rest, trailing = rest.split(" :", 1)
        words = rest.split()
        self.cmd = words[0].upper() if words else ""
        self.params = words[1:] + ([trailing] if trailing is not None else [])
        self.target = self.params[0] if self.params else ""
        self.text = self.params[-1] if len(self.params) > 1 else ""


def plain(text):
    """IRC text without bitlbee's formatting (bold, underline, colour)."""
    text = re.sub(r"\x03\d{1,2}(,\d{1,2})?", "", text)
    return re.sub(r"[\x02\x0f\x16\x1d\x1f]", "", text)


class Irc:
    """Line-based IRC client.  A reader thread stores every line; waits
    search forward from a mark (an index taken before the action that causes
    the expected lines), so no line is ever consumed and orders don't race."""

    def __init__(self, port, nick, transcript_path, timeout=20):
        self.nick = nick
        self.lines = []
        self.cond = threading.Condition()
        self.closed = False
        self.transcript = open(transcript_path, "a", encoding="utf-8", errors="replace")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _log(self, direction, line):
        self.transcript.write("%s %s %s\n" % (time.strftime("%H:%M:%S"), direction,
                                               line.replace("\x02", "*").replace("\x03", "^C")))
        self.transcript.flush()

    def _read_loop(self):
        buf = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
                    self._log("<<", line)
                    msg = Msg(line)
                    if msg.cmd == "PING":
                        self.send("PONG :%s" % msg.text)
                    with self.cond:
                        self.lines.append(msg)
                        self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, line):
        self._log(">>", line)
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def mark(self):
        with self.cond:
            return len(self.lines)

    def _give_up(self, left, timeout, what):
        if self.closed:
            raise StepFailed("%s: IRC connection closed while waiting for %s" % (
                self.nick, what))
        if left <= 0:
            raise StepFailed("%s: timed out after %ds waiting for %s" % (
                self.nick, timeout, what))

    def wait(self, pred, timeout, what, since=0):
        """First line at or after `since` for which pred(msg) is true."""
        deadline = time.time() + timeout
        idx = since
        with self.cond:
            while True:
                while idx < len(self.lines):
                    if pred(self.lines[idx]):
                        return self.lines[idx]
                    idx += 1
                left = deadline - time.time()
                self._give_up(left, timeout, what)
                self.cond.wait(left)

    def wait_until(self, done, timeout, what):
        """Waits until done() (called with the line list locked, after every
        new line) is true."""
        deadline = time.time() + timeout
        with self.cond:
            while not done():
                left = deadline - time.time()
                self._give_up(left, timeout, what)
                self.cond.wait(left)

    def since(self, mark, pred=lambda m: True):
        with self.cond:
            return [m for m in self.lines[mark:] if pred(m)]

    def tail(self, count=40):
        with self.cond:
            return [m.raw for m in self.lines[-count:]]

    def close(self):
        try:
            self.send("QUIT :bye")
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.reader.join(5)
        self.transcript.close()


class BitlbeeIrc(Irc):
    """IRC session with a bitlbee daemon: root commands in &bitlbee and
    private messages with buddies."""

    CONTROL = "&bitlbee"

    def login(self, timeout):
        self.send("NICK %s" % self.nick)
        self.send("USER %s 0 * :%s e2e" % (self.nick, self.nick))
        self.wait(lambda m: m.cmd == "JOIN" and m.nick == self.nick
                  and self.CONTROL in m.raw, timeout, "join of %s" % self.CONTROL)

    def root(self, command):
        """Sends a root command; returns the mark before it."""
        mark = self.mark()
        self.send("PRIVMSG %s :%s" % (self.CONTROL, command))
        return mark

    def wait_root(self, pattern, timeout, since):
        rx = re.compile(pattern)
        return self.wait(lambda m: m.nick == "root" and m.cmd == "PRIVMSG"
                         and rx.search(plain(m.text)) is not None,
                         timeout, "root: /%s/" % pattern, since)

    def root_lines(self, since):
        return [plain(m.text) for m in self.since(
            since, lambda m: m.nick == "root" and m.cmd == "PRIVMSG")]

    def wait_notice(self, buddy, pattern, timeout, since):
        rx = re.compile(pattern)
        return self.wait(lambda m: m.nick == buddy and m.cmd == "NOTICE"
                         and rx.search(plain(m.text)) is not None,
                         timeout, "notice from %s: /%s/" % (buddy, pattern), since)

    def wait_buddy_line(self, buddy, pattern, timeout, since):
        rx = re.compile(pattern)
        return self.wait(lambda m: m.nick == buddy and m.cmd == "PRIVMSG"
                         and rx.search(plain(m.text)) is not None,
                         timeout, "message from %s: /%s/" % (buddy, pattern), since)

    def say(self, buddy, text):
        mark = self.mark()
        self.send("PRIVMSG %s :%s" % (buddy, text))
        return mark

    def buddy_privmsgs(self, buddy, since):
        return [m for m in self.since(
            since, lambda m: m.nick == buddy and m.cmd == "PRIVMSG"
            and m.target == self.nick)]


def paste_chunks(text, size=400):
    """Splits a long spaceless text into IRC lines of `size`+ bytes (bitlbee
    drops a client whose line exceeds 1024 bytes).  With bitlbee's
    paste_buffer on, a spaceless line of 350 bytes or more is joined to the
    next one without a newline, so the chunks become one message again."""
    chunks, current = [], ""
    for ch in text:
        current += ch
        if len(current.encode()) >= size:
            chunks.append(current)
            current = ""
    return chunks + ([current] if current else [])


def reassemble(msgs):
    """Rebuilds a message that bitlbee delivered as several IRC lines.

    bitlbee's OTR plugin colours every line of a decrypted message with
    ^C03 (trusted) or ^C05 (untrusted), then word-wraps at 425 bytes.  A line
    that starts with a colour code therefore begins a line of the original
    message; one without is a wrap continuation (our long test message has
    no spaces or dashes, so the wrap drops no character).  Returns the text
    and the list of colour codes seen."""
    text = ""
    colours = []
    for i, m in enumerate(msgs):
        line = m.text
        match = COLOR_PREFIX.match(line)
        if match:
            colours.append(match.group(1))
            line = line[match.end():]
            if i:
                text += "\n"
        text += line
    return text, colours


# ---------------------------------------------------------------- bitlbee

BITLBEE_CONF = """[settings]
RunMode = ForkDaemon
DaemonInterface = 127.0.0.1
DaemonPort = {port}
AuthMode = Open
ConfigDir = {configdir}
PidFile = {pidfile}
PluginDir = /usr/lib/bitlbee
MotdFile = {motd}
[defaults]
"""


class Bitlbee:
    """One bitlbee daemon (`bitlbee -n -F -c conf`) with a private
    ConfigDir, on a free port of 127.0.0.1, bound to one libotr."""

    def __init__(self, name, lib, stage, workdir, piddir):
        self.name = name
        self.lib = lib
        self.stage = stage
        self.workdir = workdir
        self.piddir = piddir
        self.configdir = os.path.join(workdir, "config") + "/"
        os.makedirs(self.configdir, exist_ok=True)
        self.group = None
        self.port = None

    def start(self, timeout=20):
        for _ in range(3):
            self.port = free_port()
            conf = os.path.join(self.workdir, "bitlbee.conf")
            motd = os.path.join(self.workdir, "motd.txt")
            with open(motd, "w") as f:
                f.write("e2e test bitlbee %s\n" % self.name)
            with open(conf, "w") as f:
                f.write(BITLBEE_CONF.format(port=self.port, configdir=self.configdir,
                                            pidfile=os.path.join(self.workdir, "bitlbee.pid"),
                                            motd=motd))
            self.group = Group(["bitlbee", "-n", "-F", "-c", conf],
                               lib_env(self.lib, self.stage),
                               os.path.join(self.workdir, "bitlbee.out"), self.piddir)
            if wait_port(self.port, timeout, self.group.proc):
                return
            self.group.stop()
        raise StepFailed("bitlbee %s did not start listening" % self.name)

    def pid(self):
        return self.group.proc.pid

    def stop(self):
        if self.group:
            self.group.stop()
            self.group = None


SENTINEL_CMD = "set charset"
SENTINEL_RX = r"^charset = `"


class BitlbeeSide:
    """One bitlbee daemon plus the IRC session that drives it, with one
    jabber account (`jid`) that talks to `peer_jid`."""

    def __init__(self, label, jid, peer_jid, lib, stage, workdir, piddir, proxy_port):
        self.label = label            # also our IRC nick
        self.jid = jid
        self.peer_jid = peer_jid
        self.lib = lib                # "ours" or "debian"
        self.stage = stage
        self.proxy_port = proxy_port
        self.workdir = os.path.join(workdir, "bitlbee-" + label)
        os.makedirs(self.workdir, exist_ok=True)
        self.bb = Bitlbee(label, lib, stage, self.workdir, piddir)
        self.irc = None
        self.peer = None              # the other side, when it is a bitlbee too
        self.fingerprint = None       # our own key's fingerprint (human form)

    @property
    def buddy(self):
        """The peer's nick in this bitlbee (bitlbee derives it from the JID)."""
        return self.peer_jid.split("@")[0]

    def file(self, suffix):
        return os.path.join(self.bb.configdir, self.label + suffix)

    def start(self, checks, phase):
        self.bb.start()
        self.check_mappings(checks, phase)
        self.irc = BitlbeeIrc(self.bb.port, self.label, os.path.join(self.workdir, "irc.log"))
        self.irc.login(T_LOGIN)

    def check_mappings(self, checks, phase):
        want = expected_lib(self.lib, self.stage)
        avoid = other_lib(self.lib, self.stage)
        maps = libotr_mappings(self.bb.pid())
        checks.check("%s: %s bitlbee maps %s libotr only" % (phase, self.label, self.lib),
                     want in maps and avoid not in maps,
                     "mapped: %s; wanted %s" % (sorted(maps), want))

    def account_setup(self, xmpp_password):
        """Registers the IRC nick (so `save`/`identify` persist the account
        and bitlbee's otr_load runs after a restart) and adds the jabber
        account, pointed at our recording proxy without TLS."""
        irc = self.irc
        mark = irc.root("register %s" % IRC_PASSWORD)
        irc.wait_root(r"^Account successfully created$", T_MSG, mark)
        mark = irc.root("account add jabber %s %s" % (self.jid, xmpp_password))
        irc.wait_root(r"^Account successfully added with tag jabber$", T_MSG, mark)
        for key, value in (("server", "127.0.0.1"), ("port", str(self.proxy_port)),
                           ("tls", "false")):
            mark = irc.root("account jabber set %s %s" % (key, value))
            irc.wait_root(r"^%s = `%s'$" % (key, re.escape(value)), T_MSG, mark)
        mark = irc.root("account jabber on")
        irc.wait_root(r"^jabber - Logging in: Logged in$", T_LOGIN, mark)

    def wait_buddy_online(self, since=0):
        """bitlbee shows an online buddy as joining the control channel."""
        self.irc.wait(lambda m: m.cmd == "JOIN" and m.nick == self.buddy,
                      T_LOGIN, "%s online" % self.buddy, since)

    def wait_buddy_offline(self, since):
        self.irc.wait(lambda m: m.cmd == "QUIT" and m.nick == self.buddy,
                      T_LOGIN, "%s offline" % self.buddy, since)

    def identify(self, checks, phase):
        """(Re)starts the daemon and logs in with the saved settings: the
        accounts come back and bitlbee's otr_load reads keys, fingerprints
        and instance tags.  Returns the mark before `identify`."""
        self.start(checks, phase)
        mark = self.irc.root("identify %s" % IRC_PASSWORD)
        self.irc.wait_root(r"^Password accepted", T_LOGIN, mark)
        self.irc.wait_root(r"^otr: %s/jabber ready$" % re.escape(self.jid), T_LOGIN, mark)
        self.irc.wait_root(r"^jabber - Logging in: Logged in$", T_LOGIN, mark)
        return mark

    def crash(self):
        """Ends the daemon with SIGKILL: libotr gets no chance to tell the
        peer (bitlbee sends disconnects only when it quits normally)."""
        self.bb.group.stop(signals=(signal.SIGKILL,))
        self.bb.group = None
        if self.irc:
            self.irc.close()
            self.irc = None

    def instag(self):
        """Our instance tag (hex) from bitlbee's instag file, or None."""
        path = self.file(".otr_instags")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.strip().split("\t")
                    if len(parts) == 3 and parts[0] == self.jid:
                        return parts[2]
        return None

    def wait_keygen(self, mark):
        self.irc.wait_root(r"^otr keygen for %s/jabber complete$" % re.escape(self.jid),
                           T_KEYGEN, mark)

    def query(self, command, timeout=T_MSG):
        """Runs a root command and returns its plain reply lines.  A cheap
        second command whose reply is known marks the end of the output
        (bitlbee answers commands in order)."""
        mark = self.irc.root(command)
        self.irc.root(SENTINEL_CMD)
        end = self.irc.wait_root(SENTINEL_RX, timeout, mark)
        lines = []
        for m in self.irc.since(mark, lambda m: m.nick == "root" and m.cmd == "PRIVMSG"):
            if m is end:
                break
            lines.append(plain(m.text))
        return lines

    def own_fingerprint(self):
        """Our key's fingerprint as `otr info` lists it, and the lines."""
        lines = self.query("otr info")
        fp = None
        for i, line in enumerate(lines):
            if line.strip() == "%s/jabber - DSA" % self.jid and i + 1 < len(lines):
                m = re.search(FP_RX, lines[i + 1])
                fp = m.group(1) if m else None
        return fp, lines

    def peer_info(self):
        """`otr info <buddy>`: [(fingerprint, trust)], connection-state
        lines, and all plain lines."""
        lines = self.query("otr info %s" % self.buddy)
        known = re.findall(FP_RX + r" \(([^)]*)\)", "\n".join(lines))
        states = [line.strip() for line in lines if "connection state:" in line]
        return known, states, lines

    def setting(self, name, value):
        mark = self.irc.root("set %s %s" % (name, value))
        self.irc.wait_root(r"^%s = `%s'" % (name, re.escape(value)), T_MSG, mark)

    def stop(self):
        if self.irc:
            self.irc.close()
            self.irc = None
        self.bb.stop()


def write_wire_spec(args, sides, **fields):
    """Writes what e2e_wire.py checks for this run: the recorded stream of
    each side plus `fields` (secrets, plaintexts, instance tags, ...)."""
    spec = {"run": args.run,
            "streams": {side: os.path.join(args.wiredir, side) for side in sides}}
    spec.update(fields)
    with open(os.path.join(args.workdir, "wire.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False, indent=1)


def driver_main(doc, sides, title, make_run):
    """The command line both drivers share: a run name, which libotr and
    which JID each of the two `sides` has, the XMPP account password and
    port, our install prefix and the work directories. Runs
    make_run(args).run() and exits 0 when it passed."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--run", required=True, help="run name (alphanumeric)")
    for side in sides:
        p.add_argument("--%s-lib" % side, choices=("ours", "debian"), required=True)
    for side in sides:
        p.add_argument("--%s-jid" % side, required=True)
    p.add_argument("--xmpp-password", required=True)
    p.add_argument("--xmpp-port", type=int, required=True, help="prosody c2s port")
    p.add_argument("--stage", required=True, help="our install prefix")
    p.add_argument("--workdir", required=True)
    p.add_argument("--piddir", required=True)
    p.add_argument("--results", required=True)
    args = p.parse_args()
    # A TERM (CI timeout, e2e.sh's trap) unwinds through the `finally`
    # blocks, so the daemons this driver started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.stage = os.path.abspath(args.stage)
    args.wiredir = os.path.join(args.workdir, "wire")
    os.makedirs(args.wiredir, exist_ok=True)
    print("== %s: %s" % (args.run, title(args)), flush=True)
    started = time.time()
    ok = make_run(args).run()
    print("== %s: %s in %.0fs" % (args.run, "passed" if ok else "FAILED",
                                   time.time() - started), flush=True)
    sys.exit(0 if ok else 1)
