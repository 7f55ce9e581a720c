#!/usr/bin/env python3
"""A scripted IRC client for talking to BitlBee's control channel.

Usage: ircclient.py HOST PORT NICK STEP...

Each STEP is one of
  >TEXT   say TEXT in &bitlbee (a root command)
  ?REGEX  wait until a message from BitlBee matches REGEX (search, after
          IRC formatting codes are removed); fails after the timeout
  !LINE   send LINE as a raw IRC command

Every message received from the server is printed ("<< " prefix, formatting
codes removed), every line sent is printed with ">> ", so the caller can keep
the transcript and pick values out of it. Exit status 0 when every step
succeeded, 1 when an expectation timed out or the server went away.
"""

import re
import socket
import sys
import time

TIMEOUT = 60.0  # seconds per expectation; OTR key generation is the slowest step
# Colour codes first (\x03 with its digits), then the single-byte toggles.
FORMATTING = re.compile(r"\x03\d{1,2}(,\d{1,2})?|[\x02\x03\x0f\x16\x1d\x1f]")


class Session:
    def __init__(self, host, port, nick):
        self.nick = nick
        # The daemon may still be starting: retry for a few seconds.
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=10)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.buf = b""

    def send(self, line):
        print(">> " + line, flush=True)
        self.sock.sendall(line.encode() + b"\r\n")

    def lines(self, deadline):
        """Yields server lines until the deadline passes."""
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                yield raw.rstrip(b"\r").decode("utf-8", "replace")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            if not data:
                raise ConnectionError("server closed the connection")
            self.buf += data

    def text_of(self, line):
        """Returns the printable text of a server line, answers PINGs."""
        if line.startswith("PING"):
            self.send("PONG" + line[4:])
            return None
        # ":prefix COMMAND params :trailing" -> keep "COMMAND ... :trailing"
        # so both numerics (001) and messages (PRIVMSG, NOTICE) can be matched.
        text = FORMATTING.sub("", line)
        print("<< " + text, flush=True)
        return text

    def expect(self, pattern):
        rx = re.compile(pattern)
        for line in self.lines(time.monotonic() + TIMEOUT):
            text = self.text_of(line)
            if text is not None and rx.search(text):
                return True
        print("!! timed out waiting for /%s/" % pattern, flush=True)
        return False


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, nick, steps = argv[0], int(argv[1]), argv[2], argv[3:]
    try:
        s = Session(host, port, nick)
        s.send("NICK " + nick)
        s.send("USER %s 0 * :rebuild test" % nick)
        # BitlBee joins us to its control channel once registration is done.
        if not s.expect(r"JOIN :?&bitlbee"):
            return 1
        for step in steps:
            kind, arg = step[:1], step[1:]
            if kind == ">":
                s.send("PRIVMSG &bitlbee :" + arg)
            elif kind == "!":
                s.send(arg)
            elif kind == "?":
                if not s.expect(arg):
                    return 1
            else:
                print("!! bad step %r" % step, flush=True)
                return 2
        s.send("QUIT :done")
        # Let BitlBee finish (it saves settings when the user leaves).
        try:
            for line in s.lines(time.monotonic() + 5):
                s.text_of(line)
        except ConnectionError:
            pass
        return 0
    except (OSError, ConnectionError) as e:
        print("!! %s" % e, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
