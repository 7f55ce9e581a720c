#!/usr/bin/env python3
"""Interoperability driver: python-potr (an independent OTR v2
implementation) talks to cpeer (ffi-tests/potr/cpeer.c, built on whatever
libotr.so.5 the dynamic loader finds).

Usage: driver.py CPEER WORKDIR TRACE

Two runs, each with a fresh cpeer process and a fresh python-potr context:
  run "py-starts": python sends the query, no fragmentation; messages both
      ways, bursts, SMP (equal secrets, both directions; different secrets),
      python disconnects.
  run "c-starts": cpeer sends the query, both sides fragment at 400 bytes;
      messages both ways, C disconnects.
cpeer's key is generated in the first run and loaded from WORKDIR/c in the
second. Every check prints "check NAME: ok|FAILED ..."; TRACE gets a
normalised transcript (message kinds and cpeer events, no key material) that
is identical for any two conforming libotr builds. Exit status 1 when a check
failed.
"""
import logging
import os
import subprocess
import sys

import potr
from potr import context as pctx
from potr import crypt as pcrypt

# Debian's python3-potr 1.0.2-5 was ported from PyCrypto to pycryptodome
# only at the import level: DSAKey.generate/sign/verify still call the old
# PyCrypto API (key.key.y, DsaKey.sign(m, k), DsaKey.verify(m, sig)), which
# pycryptodome no longer has, so no AKE can complete out of the box. Replace
# the three methods, and AESCTR (it hands pycryptodome a PyCrypto counter
# callable), with the same arithmetic on pycryptodome's primitives
# (_sign/_verify: the hash taken as an integer, reduced mod q, as PyCrypto did).
from Cryptodome.PublicKey import DSA as _DSA
import Cryptodome.Cipher.AES  # noqa: F401 (potr only imports the package)
from potr.compatcrypto import pycrypto as _pc


def _dsa_sign(self, data):
    k = _pc.randrange(2, self.priv.q)
    r, s = self.priv._sign(_pc.bytes_to_long(data), k)
    return _pc.long_to_bytes(r, 20) + _pc.long_to_bytes(s, 20)


def _dsa_verify(self, data, sig):
    r, s = _pc.bytes_to_long(sig[:20]), _pc.bytes_to_long(sig[20:])
    return self.pub._verify(_pc.bytes_to_long(data), (r, s))


def _dsa_generate(cls):
    k = _DSA.generate(1024)
    return cls((k.y, k.g, k.p, k.q, k.x), private=True)


def _aesctr(key, counter=0):
    # potr passes a PyCrypto-style counter callable; pycryptodome wants the
    # 8-byte prefix (top half of the OTR counter block) and the start value
    # of the bottom half.
    if isinstance(counter, int):
        counter = _pc.Counter(counter)
    return _pc.Cipher.AES.new(key, _pc.Cipher.AES.MODE_CTR, nonce=counter.byteprefix(),
                              initial_value=counter.val)


_pc.AESCTR = _aesctr
pcrypt.AESCTR = _aesctr
_pc.DSAKey.sign = _dsa_sign
_pc.DSAKey.verify = _dsa_verify
_pc.DSAKey.generate = classmethod(_dsa_generate)

CPEER, WORK, TRACE = sys.argv[1:4]
failures = 0
nchecks = 0
trace = []


def check(name, cond, detail=""):
    global failures, nchecks
    nchecks += 1
    if cond:
        print("check %s: ok" % name)
    else:
        failures += 1
        print("check %s: FAILED %s" % (name, detail))


def wire(direction, msg):
    """Records a message on the wire; a run of fragments is one entry (their
    number depends on MPI lengths, which vary with the keys)."""
    entry = "%s %s" % (direction, kind(msg))
    if kind(msg) == "fragment" and trace and trace[-1] == entry:
        return
    trace.append(entry)


def kind(msg):
    """A coarse, deterministic name for an OTR message on the wire."""
    if msg.startswith(b"?OTR,"):
        return "fragment"
    if msg.startswith(b"?OTRv") or msg.startswith(b"?OTR?"):
        return "query"
    if msg.startswith(b"?OTR:AAI"):
        return {b"C": "dh-commit", b"K": "dh-key", b"R": "reveal-sig",
                b"S": "signature", b"D": "data"}.get(msg[8:9], "otr-" + msg[8:9].decode())
    if msg.startswith(b"?OTR Error:"):
        return "error"
    return "plaintext"


class CPeer:
    def __init__(self, keydir, mms):
        self.p = subprocess.Popen([CPEER, keydir, str(mms)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=open(os.path.join(WORK, "cpeer.log"), "a"))
        self.got = []
        self.events = []
        self.fp = self.fpraw = None
        self.keystate = None
        for tag, rest in self._read():
            if tag == "FP":
                self.fp = rest
            elif tag == "FPRAW":
                self.fpraw = rest
            elif tag == "KEY":
                self.keystate = rest

    def _read(self):
        out = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("cpeer died (see cpeer.log)")
            line = line.decode("ascii").rstrip("\n")
            if line == "END":
                return out
            tag, _, rest = line.partition(" ")
            out.append((tag, rest))

    def cmd(self, line, net):
        self.p.stdin.write(line.encode("ascii") + b"\n")
        self.p.stdin.flush()
        res = self._read()
        for tag, rest in res:
            if tag == "NET":
                msg = bytes.fromhex(rest)
                wire("c->py", msg)
                net.append(msg)
            elif tag == "GOT":
                trace.append("c got %d bytes" % (len(rest) // 2))
                self.got.append(bytes.fromhex(rest))
            elif tag in ("EVENT", "TLV", "IGNORED", "SENDERR", "ERROR", "NOTHING-TO-SEND"):
                # no key material in the transcript
                shown = rest.split(" ")[0:2] if rest.startswith("new_fingerprint") else [rest]
                trace.append("c %s %s" % (tag, " ".join(shown)))
                self.events.append((tag + " " + rest).strip())
        return res

    def status(self):
        for tag, rest in self.cmd("STATUS", []):
            if tag == "STATUS":
                return dict(kv.split("=", 1) for kv in rest.split(" ") if "=" in kv)
        return {}

    def close(self):
        try:
            self.p.stdin.write(b"QUIT\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=10)


POLICY = {"ALLOW_V1": False, "ALLOW_V2": True, "REQUIRE_ENCRYPTION": False,
          "SEND_TAG": False, "WHITESPACE_START_AKE": False, "ERROR_START_AKE": False}


class PyContext(pctx.Context):
    def __init__(self, account, peer):
        super().__init__(account, peer)
        self.to_c = []

    def getPolicy(self, key):
        return POLICY.get(key, False)

    def inject(self, msg, appdata=None):
        wire("py->c", msg)
        self.to_c.append(msg)


class PyAccount(pctx.Account):
    contextclass = PyContext

    def __init__(self, mms, key):
        super().__init__("py@potr.test", "prpl-potr", mms, privkey=key)

    def loadPrivkey(self):
        return None

    def savePrivkey(self):
        pass

    def saveTrusts(self):
        pass


class Session:
    def __init__(self, name, keydir, mms, pykey):
        self.name = name
        trace.append("=== run %s" % name)
        self.c = CPeer(keydir, mms)
        self.acct = PyAccount(mms, pykey)
        self.ctx = self.acct.getContext("c@potr.test")
        self.to_py = []
        self.py_got = []
        self.py_errors = []

    def pump(self):
        rounds = 0
        while self.ctx.to_c or self.to_py:
            rounds += 1
            if rounds > 200:
                raise RuntimeError("message loop does not settle")
            while self.ctx.to_c:
                m = self.ctx.to_c.pop(0)
                self.c.cmd("RECV " + m.hex(), self.to_py)
            while self.to_py:
                m = self.to_py.pop(0)
                try:
                    txt, tlvs = self.ctx.receiveMessage(m)
                    if txt is not None:
                        trace.append("py got %d bytes" % len(txt))
                        self.py_got.append(txt)
                    for t in tlvs:
                        trace.append("py tlv %s" % type(t).__name__)
                except pctx.NotOTRMessage as e:
                    trace.append("py got plaintext")
                    self.py_got.append(e.args[0])
                except (pctx.ErrorReceived, pctx.UnencryptedMessage,
                        pctx.NotEncryptedError, pcrypt.InvalidParameterError) as e:
                    trace.append("py error %s" % type(e).__name__)
                    self.py_errors.append(e)

    def py_send(self, data):
        r = self.ctx.sendMessage(pctx.FRAGMENT_SEND_ALL, data)
        if r is not None:  # the query message is returned, not injected
            wire("py->c", r)
            self.ctx.to_c.append(r)

    def c_send(self, data):
        self.c.cmd("SEND " + data.hex(), self.to_py)

    def check_secure(self, who_starts):
        n = self.name
        st = self.c.status()
        check(n + " c encrypted", st.get("state") == "ENCRYPTED", st)
        check(n + " c protocol version 2", st.get("ver") == "2", st)
        check(n + " c gone_secure once", self.c.events.count("EVENT gone_secure") == 1, self.c.events)
        check(n + " py encrypted", self.ctx.state == pctx.STATE_ENCRYPTED, self.ctx.state)
        ssid = self.ctx.crypto.sessionId
        check(n + " same session id", ssid is not None and ssid.hex() == st.get("ssid"),
              "py %s c %s" % (ssid and ssid.hex(), st.get("ssid")))
        # The AKE initiator (Alice, who sends the D-H commit) bolds the first
        # half, Bob the second; python-potr's sessionIdHalf is True for Bob.
        c_half = int(st.get("half", "-1"))
        py_bob = bool(self.ctx.crypto.sessionIdHalf)
        # the side that receives the query starts the AKE (sends the commit)
        c_is_alice = who_starts == "py"
        check(n + " session id halves", c_half == (0 if c_is_alice else 1) and py_bob == c_is_alice,
              "c half %d py half %s" % (c_half, py_bob))
        their = self.ctx.getCurrentKey()
        check(n + " py sees c's fingerprint (human)", their is not None and str(their) == self.c.fp,
              "%s vs %s" % (their, self.c.fp))
        check(n + " py sees c's fingerprint (raw)", their is not None and their.fingerprint().hex() == self.c.fpraw)
        mine = self.acct.getPrivkey().fingerprint().hex()
        check(n + " c sees py's fingerprint", st.get("theirfp") == mine, "%s vs %s" % (st.get("theirfp"), mine))
        nf = [e for e in self.c.events if e.startswith("EVENT new_fingerprint")]
        check(n + " c new_fingerprint event", len(nf) == 1 and nf[0].endswith(str(self.acct.getPrivkey())), nf)

    def exchange(self, label, msgs):
        n = self.name
        for i, m in enumerate(msgs):
            self.c.got.clear()
            self.py_send(m)
            self.pump()
            check("%s py->c %s #%d" % (n, label, i), self.c.got == [m],
                  "got %r" % [g[:60] for g in self.c.got])
            self.py_got.clear()
            self.c_send(m)
            self.pump()
            check("%s c->py %s #%d" % (n, label, i), self.py_got == [m],
                  "got %r" % [g[:60] for g in self.py_got])

    def burst(self):
        """Several messages in flight in both directions at once."""
        n = self.name
        self.c.got.clear()
        self.py_got.clear()
        a = [("py burst %d" % i).encode() for i in range(4)]
        b = [("c burst %d \u00e9" % i).encode() for i in range(4)]
        for i in range(4):
            self.py_send(a[i])
            self.c_send(b[i])
        self.pump()
        check(n + " burst py->c", self.c.got == a, self.c.got)
        check(n + " burst c->py", self.py_got == b, self.py_got)
        # and alternating round trips (key rotation on every message)
        self.c.got.clear()
        self.py_got.clear()
        for i in range(6):
            self.py_send(b"ping %d" % i)
            self.pump()
            self.c_send(b"pong %d" % i)
            self.pump()
        check(n + " ping-pong", self.c.got == [b"ping %d" % i for i in range(6)] and
              self.py_got == [b"pong %d" % i for i in range(6)], (self.c.got, self.py_got))

    def smp(self):
        n = self.name
        # python starts, equal secrets
        self.c.events.clear()
        self.ctx.smpInit(b"correct horse")
        self.pump()
        ask = [e for e in self.c.events if e.startswith("EVENT smp ASK_FOR_SECRET")]
        check(n + " smp(py starts) c asked for secret", len(ask) == 1, self.c.events)
        self.c.cmd("SMPRESP " + b"correct horse".hex(), self.to_py)
        self.pump()
        check(n + " smp(py starts) c success", "EVENT smp SUCCESS 100" in self.c.events, self.c.events)
        check(n + " smp(py starts) py success", self.ctx.smpIsSuccess() is True,
              self.ctx.crypto.smp and self.ctx.crypto.smp.prog)
        # C starts, equal secrets
        self.c.events.clear()
        self.c.cmd("SMPINIT " + "g\u00e9heim".encode().hex(), self.to_py)
        self.pump()
        check(n + " smp(c starts) py got SMP1", self.ctx.crypto.smp is not None and self.ctx.crypto.smp.state == 0)
        self.ctx.smpGotSecret("g\u00e9heim".encode())
        self.pump()
        check(n + " smp(c starts) c success", "EVENT smp SUCCESS 100" in self.c.events, self.c.events)
        check(n + " smp(c starts) py success", self.ctx.smpIsSuccess() is True,
              self.ctx.crypto.smp and self.ctx.crypto.smp.prog)
        # python starts, different secrets
        self.c.events.clear()
        self.ctx.smpInit(b"one secret")
        self.pump()
        self.c.cmd("SMPRESP " + b"another secret".hex(), self.to_py)
        self.pump()
        check(n + " smp(different secrets) c failure", "EVENT smp FAILURE 100" in self.c.events, self.c.events)
        check(n + " smp(different secrets) py failure",
              self.ctx.crypto.smp is not None and self.ctx.crypto.smp.prog == pcrypt.SMPPROG_FAILED)
        check(n + " smp no cheating/errors",
              not any(e.startswith(("EVENT smp CHEATED", "EVENT smp ERROR")) for e in self.c.events), self.c.events)
        # still usable afterwards
        self.exchange("after smp", [b"still here"])


def main():
    logging.basicConfig(level=logging.CRITICAL)
    os.makedirs(os.path.join(WORK, "c"), exist_ok=True)
    keydir = os.path.join(WORK, "c")
    pykey = potr.compatcrypto.generateDefaultKey()
    ascii_msg = b"Hello from the other implementation! ~!@#$%^&*()_+{}|:<>?"
    utf8_msg = "Gr\u00fc\u00dfe, \u043f\u0440\u0438\u0432\u0435\u0442, \u3053\u3093\u306b\u3061\u306f, \U0001F510".encode("utf-8")
    big = ("".join(chr(0x20 + (i * 7) % 95) for i in range(5120))).encode("ascii")
    msgs = [ascii_msg, utf8_msg, big]

    # run 1: python sends the query, no fragmentation, python disconnects
    s = Session("py-starts", keydir, 0, pykey)
    check("py-starts c key generated", s.c.keystate == "generated", s.c.keystate)
    s.py_send(b"?OTRv2?")
    s.pump()
    s.check_secure("py")
    s.exchange("message", msgs)
    s.burst()
    s.smp()
    s.c.events.clear()
    s.ctx.disconnect()
    s.pump()
    st = s.c.status()
    check("py-starts py disconnect: c finished", st.get("state") == "FINISHED", st)
    check("py-starts py disconnect: py plaintext", s.ctx.state == pctx.STATE_PLAINTEXT)
    s.c.events.clear()
    s.c_send(b"too late")
    check("py-starts c send after finished: CONNECTION_ENDED",
          any(e.startswith("EVENT msg CONNECTION_ENDED") for e in s.c.events)
          and "NOTHING-TO-SEND" in s.c.events and not s.to_py, (s.c.events, s.to_py))
    s.to_py.clear()
    s.c.close()
    fp1 = s.c.fp

    # run 2: C sends the query, both sides fragment, C disconnects
    pykey2 = potr.compatcrypto.generateDefaultKey()
    s = Session("c-starts", keydir, 400, pykey2)
    check("c-starts c key loaded", s.c.keystate == "loaded" and s.c.fp == fp1, (s.c.keystate, s.c.fp, fp1))
    s.c_send(b"?OTR?")
    check("c-starts c sends a v2 query", len(s.to_py) >= 1 and s.to_py[0].startswith(b"?OTRv2?"),
          s.to_py[:1])
    s.pump()
    s.check_secure("c")
    check("c-starts fragments were used",
          "c->py fragment" in trace and "py->c fragment" in trace)
    s.exchange("message", msgs)
    s.burst()
    s.c.events.clear()
    s.c.cmd("DISCONNECT", s.to_py)
    s.pump()
    st = s.c.status()
    check("c-starts c disconnect: c plaintext", st.get("state") == "PLAINTEXT", st)
    check("c-starts c disconnect: py finished", s.ctx.state == pctx.STATE_FINISHED, s.ctx.state)
    try:
        s.py_send(b"too late")
        check("c-starts py send after finished refused", False)
    except pctx.NotEncryptedError:
        check("c-starts py send after finished refused", True)
    check("c-starts py errors", not s.py_errors, s.py_errors)
    s.c.close()

    with open(TRACE, "w") as f:
        f.write("\n".join(trace) + "\n")
    print("=== %d checks, %d failed" % (nchecks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
