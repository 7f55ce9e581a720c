#!/usr/bin/env python3
"""Scenario 3 of the end-to-end test: assertions on the bytes the recording
proxies (e2e_proxy.py) saw between each client and prosody.

Usage: e2e_wire.py RESULTS WIRE_JSON [WIRE_JSON ...]

Each WIRE_JSON is written by a driver (e2e_bitlbee.py, e2e_profanity.py):

  run         run name
  streams     {side: path prefix of the proxy's .c2s/.s2c files}
  secrets     texts sent inside OTR (messages, SMP secrets and questions,
              messages libotr had to refuse): none may be on the wire
  plaintexts  texts sent outside OTR: they must be on the wire, which
              proves the logs hold message bodies at all
  instags     {side: [every instance tag (hex) the client's instag file had]}
  otr_version the protocol version every OTR message must carry
  whitespace_tag_after  {side: plaintext that side sent with a whitespace
              tag appended (policy opportunistic)}
  queries     {side: query string that side must have sent}
"""

import base64
import binascii
import json
import os
import re
import sys
from html import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import Checks  # noqa: E402

OTR_MSG = re.compile(rb"\?OTR:([A-Za-z0-9+/=]+)\.")
TOKEN = re.compile(r"zq[a-z0-9]+k")
WHITESPACE_TAG_BASE = b" \t  \t\t\t\t \t \t \t  "
MSG_TYPES = {0x02: "DH-Commit", 0x0a: "DH-Key", 0x11: "Reveal-Signature",
             0x12: "Signature", 0x03: "Data"}


def load(prefix):
    streams = {}
    for direction in ("c2s", "s2c"):
        path = "%s.%s" % (prefix, direction)
        streams[direction] = open(path, "rb").read() if os.path.exists(path) else b""
    return streams


def forms(text):
    """The ways a text can appear in an XML stream: as is, XML-escaped, and
    each unique token inside it (tokens survive any escaping)."""
    out = {text, escape(text, quote=True), escape(text, quote=False)}
    out.update(TOKEN.findall(text))
    return [f.encode("utf-8") for f in out if len(f) >= 6]


def otr_headers(data):
    """(version, type, sender instag, receiver instag) of each OTR message;
    instags are None for protocol version 2."""
    out = []
    for match in OTR_MSG.finditer(data):
        try:
            raw = base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError):
            out.append((None, None, None, None))
            continue
        if len(raw) < 3:
            out.append((None, None, None, None))
            continue
        version = int.from_bytes(raw[0:2], "big")
        if version == 3 and len(raw) >= 11:
            out.append((version, raw[2], raw[3:7].hex(), raw[7:11].hex()))
        else:
            out.append((version, raw[2], None, None))
    return out


def check_run(spec, checks):
    streams = {side: load(prefix) for side, prefix in spec["streams"].items()}
    for side, s in streams.items():
        checks.check("%s: proxy recorded both directions" % side,
                     s["c2s"] and s["s2c"], "c2s %d bytes, s2c %d bytes" % (
                         len(s["c2s"]), len(s["s2c"])))

    leaks = []
    for text in spec["secrets"]:
        for form in forms(text):
            for side, s in streams.items():
                for direction, data in s.items():
                    if form in data:
                        leaks.append("%r in %s.%s" % (form.decode()[:60], side, direction))
    checks.check("none of %d OTR-protected texts (messages, SMP secrets/questions) "
                 "is on the wire" % len(spec["secrets"]), not leaks, "; ".join(leaks[:10]))

    for text in spec["plaintexts"]:
        raw = text.encode("utf-8")
        seen = [(side, d) for side, s in streams.items() for d, data in s.items()
                if raw in data]
        checks.check("plaintext sent outside OTR is visible on the wire (%s)" % text[:30],
                     len(seen) >= 2, "seen in %s" % seen)

    for side, text in spec.get("whitespace_tag_after", {}).items():
        data = streams[side]["c2s"]
        pos = data.find(text.encode("utf-8"))
        tail = data[pos + len(text.encode("utf-8")):][:len(WHITESPACE_TAG_BASE)]
        checks.check("%s appended the OTR whitespace tag to its plaintext" % side,
                     pos >= 0 and tail == WHITESPACE_TAG_BASE, repr(tail))

    for side, query in spec.get("queries", {}).items():
        checks.check("%s sent the query %s" % (side, query),
                     query.encode() in streams[side]["c2s"])

    version = spec["otr_version"]
    for side, s in streams.items():
        sent = otr_headers(s["c2s"])
        got = otr_headers(s["s2c"])
        types = sorted({MSG_TYPES.get(t, hex(t)) for _, t, _, _ in sent if t is not None})
        checks.check("%s sent OTR messages (%d: %s)" % (side, len(sent), ", ".join(types)),
                     sent and "Data" in types, "types %s" % types)
        checks.check("%s received OTR messages (%d)" % (side, len(got)), bool(got))
        versions = sorted({v for v, _, _, _ in sent + got}, key=str)
        checks.check("%s: every OTR message is protocol v%d" % (side, version),
                     versions == [version], "versions %s" % versions)

    instags = spec.get("instags") or {}
    if version == 3:
        for side, s in streams.items():
            mine = sorted(instags.get(side) or [])
            peer = {tag for k, v in instags.items() if k != side for tag in v}
            sent = otr_headers(s["c2s"])
            senders = sorted({snd for _, _, snd, _ in sent})
            receivers = sorted({rcv for _, _, _, rcv in sent})
            checks.check("%s: sender instance tags on the wire are the ones of its instag "
                         "file (%d, kept across restarts)" % (side, len(mine)),
                         mine and senders == mine, "file %s, wire %s" % (mine, senders))
            checks.check("%s: receiver instance tags are 0 or the peer's" % side,
                         set(receivers) <= {"00000000"} | peer,
                         "wire %s, peer %s" % (receivers, sorted(peer)))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    results = sys.argv[1]
    failed = 0
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        checks = Checks(spec["run"] + " wire", results)
        print("== %s: wire assertions on %s" % (spec["run"], ", ".join(spec["streams"])),
              flush=True)
        try:
            check_run(spec, checks)
        except OSError as exc:
            checks.fail("wire check could not read the logs", str(exc))
        failed += checks.failed
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
