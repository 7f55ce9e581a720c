#!/usr/bin/env python3
"""Scenario 4 of the end-to-end test: profanity (OTR v2 only) driven through
tmux talks OTR with a bitlbee peer over the private prosody, through the
recording proxies.  Each side runs on a chosen libotr.

profanity is typed at with `tmux send-keys` and read with `capture-pane`;
the text it received is read back from its own chat log database (sqlite),
which keeps OTR messages in plain text by default (otr log = on), so
messages can be compared byte-exact.  The bitlbee side is driven over IRC as
in e2e_bitlbee.py.

Called by e2e.sh; see --help.  Writes PASS/FAIL lines to --results and a
wire.json for e2e_wire.py.
"""

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (FP_RX, T_AKE, T_KEYGEN, T_LOGIN, T_MSG, T_SMP,  # noqa: E402
                     BitlbeeSide, Checks, StepFailed, expected_lib, libotr_mappings,
                     other_lib, paste_chunks, plain, read_fprints, reassemble,
                     start_proxy, driver_main, write_wire_spec)

PANE_WIDTH = 230
PANE_HEIGHT = 80


class Tmux:
    """A private tmux server (own socket, no user config) with one pane
    running one program."""

    def __init__(self, workdir, piddir):
        # A unix socket path must stay short (108 bytes), so the socket
        # lives in its own temporary directory.
        self.sockdir = tempfile.mkdtemp(prefix="e2e-tmux-")
        self.sock = os.path.join(self.sockdir, "s")
        self.conf = os.path.join(workdir, "tmux.conf")
        with open(self.conf, "w") as f:
            f.write("set -g status off\nset -g history-limit 20000\n")
        self.piddir = piddir
        self.pidfiles = []
        self.env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.env.pop("TMUX", None)

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.sock, "-f", self.conf] + list(args),
                              env=self.env, check=check, capture_output=True,
                              text=True, timeout=20).stdout

    def start(self, command):
        self.tmux("new-session", "-d", "-s", "app", "-x", str(PANE_WIDTH),
                  "-y", str(PANE_HEIGHT), command)
        # The server and the pane's program are both session leaders, so
        # their pids are process group ids that e2e.sh's trap can end.
        server = int(self.tmux("display-message", "-p", "-t", "app", "#{pid}").strip())
        self.pane_pid = int(self.tmux("display-message", "-p", "-t", "app",
                                      "#{pane_pid}").strip())
        for pid in (server, self.pane_pid):
            path = os.path.join(self.piddir, str(pid))
            with open(path, "w") as f:
                f.write("tmux %s\n" % self.sock)
            self.pidfiles.append(path)

    def type(self, text):
        """Types a line and presses Enter.  -l sends the text literally."""
        self.tmux("send-keys", "-t", "app", "-l", "--", text)
        self.tmux("send-keys", "-t", "app", "Enter")

    def screen(self):
        return self.tmux("capture-pane", "-p", "-J", "-t", "app", check=False)

    def wait(self, pattern, timeout, what=None):
        """First screen line matching `pattern` (polls the pane)."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            for line in self.screen().splitlines():
                line = line.rstrip()   # ncurses pads lines with blanks
                if rx.search(line):
                    return line
            if time.time() > deadline:
                raise StepFailed("profanity: timed out after %ds waiting for %s" % (
                    timeout, what or "/%s/" % pattern))
            time.sleep(0.15)

    def stop(self):
        self.tmux("kill-server", check=False)
        deadline = time.time() + 10
        for path in self.pidfiles:
            pid = int(os.path.basename(path))
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            os.unlink(path)
        shutil.rmtree(self.sockdir, ignore_errors=True)


class Profanity:
    """profanity with private config/data directories, in tmux."""

    def __init__(self, jid, lib, args):
        self.jid = jid
        self.lib = lib
        self.args = args
        self.home = os.path.join(args.workdir, "profanity")
        for sub in ("home", "config/profanity", "data"):
            os.makedirs(os.path.join(self.home, sub), exist_ok=True)
        # Defaults spelled out so the test does not depend on them: OTR
        # messages are logged in plain text (to read them back), and OTR
        # starts only when asked.
        with open(os.path.join(self.home, "config/profanity/profrc"), "w") as f:
            f.write("[otr]\nlog=on\npolicy=manual\n")
        self.tmux = Tmux(args.workdir, args.piddir)
        self.account_dir = jid.replace("@", "_at_")

    def start(self):
        env = {"HOME": os.path.join(self.home, "home"),
               "XDG_CONFIG_HOME": os.path.join(self.home, "config"),
               "XDG_DATA_HOME": os.path.join(self.home, "data"),
               "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "tmux-256color"}
        if self.lib == "ours":
            env["LD_LIBRARY_PATH"] = os.path.join(self.args.stage, "lib")
        # env -i: the tmux server's environment (LD_LIBRARY_PATH included)
        # must not leak into the Debian-side profanity.
        command = "exec env -i %s profanity" % " ".join(
            shlex.quote("%s=%s" % kv) for kv in sorted(env.items()))
        self.tmux.start(command)
        self.tmux.wait(r"Profanity\. Type /help", T_LOGIN, "profanity start-up")

    def clear(self):
        """Empties the current window, so a wait sees only new lines."""
        self.tmux.type("/clear")
        time.sleep(0.3)

    def chatlog(self, from_jid):
        """[(message, encryption)] received from `from_jid`, oldest first."""
        path = os.path.join(self.home, "data/profanity/database", self.account_dir,
                            "chatlog.db")
        if not os.path.exists(path):
            return []
        try:
            db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
            try:
                return db.execute("SELECT message, encryption FROM ChatLogs WHERE "
                                  "from_jid = ? ORDER BY id", (from_jid,)).fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return []

    def file(self, name):
        return os.path.join(self.home, "data/profanity/otr", self.account_dir, name)


class ProfanityRun:
    def __init__(self, args):
        self.args = args
        self.checks = Checks(args.run, args.results)
        self.prof = None
        self.bb = None
        self.proxy = None
        self.secrets = []
        self.plaintexts = []
        self.nonce = 0
        self.prof_fp = None
        self.queries = {}

    def tag(self):
        self.nonce += 1
        return "zq%s%02dk" % (self.args.run.lower(), self.nonce)

    @property
    def peer(self):
        return self.args.bb_jid

    # ------------------------------------------------------------ set-up

    def phase_setup(self):
        a = self.args
        self.proxy, ports = start_proxy(a.xmpp_port, a.wiredir, a.piddir, ["carol", "dave"])
        self.bb = BitlbeeSide("dave", a.bb_jid, a.prof_jid, a.bb_lib, a.stage, a.workdir,
                              a.piddir, ports["dave"])
        self.bb.start(self.checks, "start")
        self.bb.account_setup(a.xmpp_password)
        # profanity sends and shows plain text: keep bitlbee from treating
        # OTR plaintext as HTML (escaping what it sends, stripping what it
        # gets), so both directions can be compared byte-exact.
        self.bb.setting("otr_does_html", "false")
        mark = self.bb.irc.root("otr keygen jabber")
        self.bb.wait_keygen(mark)
        self.bb.fingerprint, _ = self.bb.own_fingerprint()

        self.prof = Profanity(a.prof_jid, a.prof_lib, a)
        self.prof.start()
        maps = libotr_mappings(self.prof.tmux.pane_pid)
        self.checks.check("profanity maps %s libotr only" % a.prof_lib,
                          expected_lib(a.prof_lib, a.stage) in maps
                          and other_lib(a.prof_lib, a.stage) not in maps,
                          "mapped: %s" % sorted(maps))
        t = self.prof.tmux
        t.type("/connect %s server 127.0.0.1 port %d tls disable" % (a.prof_jid, ports["carol"]))
        t.wait(r"Enter password:", T_LOGIN)
        t.type(a.xmpp_password)
        t.wait(r"%s/\S+ logged in successfully" % re.escape(a.prof_jid), T_LOGIN,
               "profanity login")
        # (profanity announces "++ peer is online" only for a peer that
        # comes online after it, so presence is checked on bitlbee's side.)
        self.bb.wait_buddy_online()
        self.checks.ok("profanity and bitlbee logged in via the proxy, see each other online")

        started = time.time()
        t.type("/otr gen")
        t.wait(r"Private key generation complete\.", T_KEYGEN, "/otr gen")
        self.checks.ok("profanity /otr gen completes (%.1fs)" % (time.time() - started))
        self.prof.clear()
        t.type("/otr myfp")
        line = t.wait(r"Your OTR fingerprint: " + FP_RX, T_MSG)
        self.prof_fp = re.search(FP_RX, line).group(1)
        t.type("/msg %s" % self.peer)
        time.sleep(0.5)

    # ------------------------------------------------------------ helpers

    def prof_to_bb(self, text, colour, label):
        self.secrets.append(text)
        irc = self.bb.irc
        mark = irc.mark()
        self.prof.tmux.type(text)

        def delivered():
            got, _ = reassemble(irc.buddy_privmsgs(self.bb.buddy, mark))
            return len(got) >= len(text)

        try:
            irc.wait_until(delivered, T_MSG, "profanity -> bitlbee %s" % label)
        except StepFailed:
            pass  # reported below
        got, colours = reassemble(irc.buddy_privmsgs(self.bb.buddy, mark))
        what = "profanity -> bitlbee %s" % label
        self.checks.check("%s arrives byte-exact (%d bytes)" % (what, len(text.encode())),
                          got == text, "expected %r, got %r" % (text[:200], got[:200]))
        self.checks.check("%s shown with trust colour %s" % (what, colour),
                          colours and all(c == colour for c in colours), str(colours))

    def bb_to_prof(self, lines, label, join="\n", encryption="otr"):
        text = join.join(lines)
        if encryption == "otr":
            self.secrets.extend(lines)
        before = len(self.prof.chatlog(self.peer))
        if len(lines) > 1:
            self.bb.setting("paste_buffer", "true")
        for line in lines:
            self.bb.irc.say(self.bb.buddy, line)
        deadline = time.time() + T_MSG
        rows = []
        while time.time() < deadline:
            rows = self.prof.chatlog(self.peer)[before:]
            if rows:
                break
            time.sleep(0.15)
        if len(lines) > 1:
            self.bb.setting("paste_buffer", "false")
        what = "bitlbee -> profanity %s" % label
        got = rows[0] if rows else (None, None)
        self.checks.check("%s arrives byte-exact (%d bytes)" % (what, len(text.encode())),
                          got[0] == text, "expected %r, got %r" % (text[:200], got[0]))
        self.checks.check("%s logged by profanity as encryption=%s" % (what, encryption),
                          got[1] == encryption, "got %r" % (got[1],))

    def bb_smp_result(self, mark):
        return plain(self.bb.irc.wait_root(r"^smp %s: " % self.bb.buddy, T_SMP, mark).text)

    # ------------------------------------------------------------ phases

    def phase_ake_by_profanity(self):
        t = self.prof.tmux
        self.prof.clear()
        mark = self.bb.irc.mark()
        t.type("/otr start")
        self.queries["carol"] = "?OTR?v2?"   # profanity builds its own query
        t.wait(r"OTR session started \(untrusted\)\.", T_AKE, "profanity: OTR session started")
        self.bb.irc.wait_notice(self.bb.buddy, r"^conversation is now off the record "
                                r"\(untrusted!\)$", T_AKE, mark)
        self.checks.ok("/otr start by profanity: both sides report an untrusted OTR session")
        note = self.bb.irc.wait_notice(self.bb.buddy, r"^new fingerprint: " + FP_RX, T_MSG,
                                       mark)
        shown = re.search(FP_RX, plain(note.text)).group(1)
        self.checks.check("bitlbee's new-fingerprint notice shows profanity's /otr myfp",
                          shown == self.prof_fp, "%s vs %s" % (shown, self.prof_fp))
        self.prof.clear()
        t.type("/otr theirfp")
        line = t.wait(FP_RX, T_MSG, "/otr theirfp")
        theirs = re.search(FP_RX, line).group(1)
        self.checks.check("profanity /otr theirfp shows bitlbee's own fingerprint",
                          theirs == self.bb.fingerprint, "%s vs %s" % (
                              theirs, self.bb.fingerprint))
        _, states, lines = self.bb.peer_info()
        self.checks.check("bitlbee otr info: connection state encrypted (v2)",
                          "connection state: encrypted (v2)" in states, "; ".join(lines))

    def phase_messages(self):
        run = self.args.run
        self.prof_to_bb("e2e %s ascii %s: The quick brown fox jumps over the lazy dog."
                        % (run, self.tag()), "05", "ASCII")
        self.bb_to_prof(["e2e %s ascii %s: Pack my box with five dozen liquor jugs!"
                         % (run, self.tag())], "ASCII")
        self.prof_to_bb("e2e %s utf8 %s: Grüße aus Köln – ¿qué tal? 日本語 ✓"
                        % (run, self.tag()), "05", "UTF-8")
        self.bb_to_prof(["e2e %s utf8 %s: Ελληνικά, русский, 中文 ⚠ 🙂"
                         % (run, self.tag())], "UTF-8")
        self.prof_to_bb("e2e %s markup %s: <b>bold?</b> a<b & c>d \"q\" 'a' &amp; x"
                        % (run, self.tag()), "05", "markup")
        self.bb_to_prof(["e2e %s markup %s: <i>it</i> & \"q\" &lt; x" % (run, self.tag())],
                        "markup")
        self.bb_to_prof(["e2e %s multi %s: first line" % (run, self.tag()),
                         "second line %s with  two  spaces" % self.tag()],
                        "multi-line (paste buffer)")
        long_text = "e2e_%s_long_%s_" % (run, self.tag()) + "".join(
            "%04d_Grüße_€_日本_" % i for i in range(90))
        self.prof_to_bb(long_text, "05", "long (%d bytes typed)" % len(long_text.encode()))
        self.bb_to_prof(paste_chunks(long_text.replace("e2e_%s_long_" % run, "e2e_%s_back_"
                                                       % run)), "long (paste buffer)", join="")

    def phase_smp(self):
        run, t, bb, peer = self.args.run, self.prof.tmux, self.bb, self.peer
        # 1. profanity asks with a secret, bitlbee answers.
        secret = "sesame_%s_%s" % (run, self.tag())
        self.secrets.append(secret)
        self.prof.clear()
        mark = bb.irc.mark()
        t.type("/otr secret %s" % secret)
        bb.irc.wait_root(r'^smp: initiated by %s - respond with otr smp %s "<secret>"$'
                         % (bb.buddy, bb.buddy), T_SMP, mark)
        bb.irc.root("otr smp %s %s" % (bb.buddy, secret))
        t.wait(r"Authentication successful\.", T_SMP, "profanity: Authentication successful.")
        t.wait(r"OTR session trusted\.", T_SMP)
        result = self.bb_smp_result(mark)
        self.checks.check("SMP secret, profanity initiates: both sides succeed",
                          result == "smp %s: secrets proved equal, fingerprint trusted"
                          % bb.buddy, result)

        # 2. bitlbee asks a question, profanity answers.
        question = "e2e %s question %s: what opens the cave?" % (run, self.tag())
        answer = "answer_%s_%s" % (run, self.tag())
        self.secrets.extend([question, answer])
        self.prof.clear()
        mark = bb.irc.mark()
        bb.irc.root('otr smpq %s "%s" %s' % (bb.buddy, question, answer))
        t.wait(r"%s wants to authenticate your identity with the following question:"
               % re.escape(peer), T_SMP)
        t.wait(r"^\S+ ! +%s$" % re.escape(question), T_SMP, "the question in profanity")
        t.type("/otr answer %s" % answer)
        t.wait(r"%s successfully authenticated you\." % re.escape(peer), T_SMP)
        result = self.bb_smp_result(mark)
        self.checks.check("SMP question, bitlbee asks, profanity answers right",
                          result == "smp %s: secrets proved equal, fingerprint trusted"
                          % bb.buddy, result)

        # 3. profanity asks a question, bitlbee answers.
        question = "e2e %s question %s: which colour is the sky?" % (run, self.tag())
        answer = "azure_%s_%s" % (run, self.tag())
        self.secrets.extend([question, answer])
        self.prof.clear()
        mark = bb.irc.mark()
        t.type('/otr question "%s" %s' % (question, answer))
        bb.irc.wait_root(r'^smp: initiated by %s with question: "%s"$' % (
            bb.buddy, re.escape(question)), T_SMP, mark)
        bb.irc.root("otr smp %s %s" % (bb.buddy, answer))
        t.wait(r"Authentication successful\.", T_SMP, "profanity: Authentication successful.")
        result = self.bb_smp_result(mark)
        self.checks.check("SMP question, profanity asks, bitlbee answers right",
                          result == "smp %s: correct answer, you are trusted" % bb.buddy,
                          result)

        # 4. a wrong secret must fail on both sides.  profanity words the
        # failure after smstate->nextExpected, read inside the FAILURE
        # callback: EXPECT4 on the initiator (it got SMP4), EXPECT3 on the
        # responder (it got SMP3) -- libotr resets it only afterwards.
        for initiator in ("profanity", "bitlbee"):
            right = "right_%s_%s" % (run, self.tag())
            wrong = "wrong_%s_%s" % (run, self.tag())
            self.secrets.extend([right, wrong])
            self.prof.clear()
            mark = bb.irc.mark()
            if initiator == "profanity":
                t.type("/otr secret %s" % right)
                bb.irc.wait_root(r"^smp: initiated by %s" % bb.buddy, T_SMP, mark)
                bb.irc.root("otr smp %s %s" % (bb.buddy, wrong))
                shown = (r"Authentication failed, the secret entered by %s does not match "
                         r"yours\." % re.escape(peer))
            else:
                bb.irc.root("otr smp %s %s" % (bb.buddy, right))
                t.wait(r"%s wants to authenticate your identity" % re.escape(peer), T_SMP)
                t.type("/otr secret %s" % wrong)
                shown = (r"Authentication failed, the secret you entered does not match the "
                         r"secret entered by %s\." % re.escape(peer))
            t.wait(shown, T_SMP, "profanity: /%s/" % shown)
            t.wait(r"OTR session untrusted\.", T_SMP)
            result = self.bb_smp_result(mark)
            self.checks.check("SMP with a wrong secret, %s initiates: both sides fail "
                              "(profanity's wording follows nextExpected)" % initiator,
                              result == "smp %s: secrets did not match, fingerprint not "
                              "trusted" % bb.buddy, result)

        # 5. bitlbee asks with a secret, profanity answers.
        secret = "final_%s_%s" % (run, self.tag())
        self.secrets.append(secret)
        self.prof.clear()
        mark = bb.irc.mark()
        bb.irc.root("otr smp %s %s" % (bb.buddy, secret))
        t.wait(r"%s wants to authenticate your identity, use '/otr secret <secret>'\."
               % re.escape(peer), T_SMP)
        t.type("/otr secret %s" % secret)
        t.wait(r"Authentication successful\.", T_SMP, "profanity: Authentication successful.")
        t.wait(r"OTR session trusted\.", T_SMP)
        result = self.bb_smp_result(mark)
        self.checks.check("SMP secret, bitlbee initiates: both sides succeed",
                          result == "smp %s: secrets proved equal, fingerprint trusted"
                          % bb.buddy, result)

        rows = read_fprints(self.prof.file("fingerprints.txt"))
        want = self.bb.fingerprint.replace(" ", "").lower()
        self.checks.check("profanity fingerprints.txt records bitlbee's key as 'smp'",
                          rows.get(want) == "smp", str(rows))
        known, _, lines = self.bb.peer_info()
        self.checks.check("bitlbee otr info lists profanity's key as smp-trusted",
                          (self.prof_fp, "smp") in known, "; ".join(lines))
        self.prof_to_bb("e2e %s trusted %s: now green" % (run, self.tag()), "03",
                        "after SMP")

    def phase_end_by_profanity(self):
        t, bb = self.prof.tmux, self.bb
        self.prof.clear()
        t.type("/otr end")
        t.wait(r"OTR session ended\.", T_AKE, "profanity: OTR session ended.")
        want = "connection state: shut down"
        states, lines = [], []
        deadline = time.time() + T_AKE
        while time.time() < deadline:
            _, states, lines = bb.peer_info()
            if want in states:
                break
            time.sleep(0.2)
        self.checks.check("/otr end by profanity: bitlbee's context is shut down",
                          want in states, "; ".join(lines))
        refused = "e2e %s must not be sent %s: peer has ended OTR" % (self.args.run, self.tag())
        self.secrets.append(refused)
        mark = bb.irc.say(bb.buddy, refused)
        bb.irc.wait_buddy_line(bb.buddy, r"^<<OTR>> other end has disconnected OTR - "
                               r"close connection or reconnect!$", T_MSG, mark)
        self.checks.ok("bitlbee (FINISHED) refuses to send: 'other end has disconnected OTR'")

    def phase_ake_by_bitlbee(self):
        t, bb = self.prof.tmux, self.bb
        self.prof.clear()
        mark = bb.irc.root("otr connect %s" % bb.buddy)
        self.queries["dave"] = "?OTRv23?"    # libotr's default query
        t.wait(r"OTR session started \(trusted\)\.", T_AKE, "profanity: trusted OTR session")
        bb.irc.wait_notice(bb.buddy, r"^conversation is now off the record \(trusted\)$",
                           T_AKE, mark)
        self.checks.ok("otr connect by bitlbee: both sides report a trusted OTR session")
        self.bb_to_prof(["e2e %s again %s: second session" % (self.args.run, self.tag())],
                        "second session")
        self.prof_to_bb("e2e %s again %s: still green" % (self.args.run, self.tag()), "03",
                        "second session")

    def phase_end_by_bitlbee(self):
        """bitlbee's `otr disconnect`: profanity handles the disconnect TLV
        itself (otrl_context_force_plaintext), so its next message goes out
        in the clear -- which the wire check expects to see."""
        t, bb = self.prof.tmux, self.bb
        self.prof.clear()
        mark = bb.irc.root("otr disconnect %s" % bb.buddy)
        bb.irc.wait_notice(bb.buddy, r"^conversation is now in cleartext$", T_AKE, mark)
        t.wait(r"OTR session ended\.", T_AKE, "profanity: OTR session ended.")
        self.checks.ok("otr disconnect by bitlbee: both sides end the session")
        text = "e2e %s plaintext after end %s" % (self.args.run, self.tag())
        self.plaintexts.append(text)
        mark = bb.irc.mark()
        t.type(text)
        msg = bb.irc.wait_buddy_line(bb.buddy, re.escape(text), T_MSG, mark)
        self.checks.check("profanity's next message arrives as plain text",
                          msg.text == text, repr(msg.text))

    # ------------------------------------------------------------ driver

    def run(self):
        phase = "setup"
        try:
            self.phase_setup()
            for phase, step in (("AKE by profanity", self.phase_ake_by_profanity),
                                ("messages", self.phase_messages),
                                ("SMP", self.phase_smp),
                                ("end by profanity", self.phase_end_by_profanity),
                                ("AKE by bitlbee", self.phase_ake_by_bitlbee),
                                ("end by bitlbee", self.phase_end_by_bitlbee)):
                step()
            alive = self.prof.tmux.screen() and os.path.exists("/proc/%d" % (
                self.prof.tmux.pane_pid))
            self.checks.check("profanity still running", alive)
            self.checks.check("bitlbee still running, IRC session open",
                              self.bb.bb.group.alive() and not self.bb.irc.closed)
        except (StepFailed, OSError, AttributeError, KeyError, ValueError,
                subprocess.SubprocessError) as exc:
            self.checks.fail("run aborted in phase '%s'" % phase, str(exc))
            if not isinstance(exc, StepFailed):
                traceback.print_exc()
            self.dump()
        finally:
            self.write_wire_spec()
            if self.prof:
                self.prof.tmux.stop()
            if self.bb:
                self.bb.stop()
            if self.proxy:
                self.proxy.stop()
        return self.checks.failed == 0

    def dump(self):
        if self.prof:
            print("---- profanity (%s lib) screen:" % self.prof.lib)
            for line in self.prof.tmux.screen().splitlines():
                if line.strip():
                    print("    " + line.rstrip())
        if self.bb and self.bb.irc:
            print("---- bitlbee (%s lib) IRC transcript tail:" % self.bb.lib)
            for line in self.bb.irc.tail(30):
                print("    " + line.replace("\x02", "*").replace("\x03", "^C"))

    def write_wire_spec(self):
        write_wire_spec(
            self.args, ("carol", "dave"),
            secrets=self.secrets, plaintexts=self.plaintexts, instags={},
            otr_version=2, queries=self.queries)


def main():
    driver_main(__doc__, ("prof", "bb"),
                lambda a: "profanity on %s libotr <-> bitlbee on %s libotr"
                % (a.prof_lib, a.bb_lib),
                ProfanityRun)


if __name__ == "__main__":
    main()
