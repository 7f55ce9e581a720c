#!/usr/bin/env python3
"""Recording TCP proxy for the end-to-end test (e2e.sh).

Usage: e2e_proxy.py TARGET_PORT LOGDIR FIRST_PORT-LAST_PORT NAME [NAME ...]

For every NAME it listens on the first free port of the given range on
127.0.0.1 and forwards each accepted connection to 127.0.0.1:TARGET_PORT (the
private prosody).  The range exists because bitlbee's jabber module only
accepts the ports 5220-5229, 80 and 443 for a server.  Every
byte is recorded, per NAME and per direction, so the test can later assert on
what really went over the wire:

  LOGDIR/NAME.c2s   raw bytes client -> server, all connections appended
  LOGDIR/NAME.s2c   raw bytes server -> client, all connections appended
  LOGDIR/NAME.log   readable transcript (time, connection, direction, text)

When all listeners are up it writes LOGDIR/ports ("NAME PORT" per line),
atomically, which is what e2e.sh waits for.  It runs until killed.
"""

import os
import socket
import sys
import threading
import time

BUF = 65536


class Recorder:
    """Appends the traffic of one NAME to its three log files."""

    def __init__(self, logdir, name):
        self.lock = threading.Lock()
        self.c2s = open(os.path.join(logdir, name + ".c2s"), "ab")
        self.s2c = open(os.path.join(logdir, name + ".s2c"), "ab")
        self.text = open(os.path.join(logdir, name + ".log"), "a",
                         encoding="utf-8", errors="replace")

    def record(self, conn_id, direction, data):
        # One lock per NAME keeps the chunks of both directions whole and in
        # order, and the flushes let the test read the files at any time.
        with self.lock:
            raw = self.c2s if direction == "C>S" else self.s2c
            raw.write(data)
            raw.flush()
            stamp = time.strftime("%H:%M:%S")
            self.text.write("--- %s conn%d %s %d bytes\n%s\n" % (
                stamp, conn_id, direction, len(data),
                data.decode("utf-8", errors="replace")))
            self.text.flush()

    def note(self, conn_id, what):
        with self.lock:
            self.text.write("=== %s conn%d %s\n" % (time.strftime("%H:%M:%S"),
                                                     conn_id, what))
            self.text.flush()


def pump(src, dst, recorder, conn_id, direction):
    """Copies one direction until EOF, then half-closes the other side."""
    try:
        while True:
            data = src.recv(BUF)
            if not data:
                break
            recorder.record(conn_id, direction, data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve_connection(client, target_port, recorder, conn_id):
    try:
        server = socket.create_connection(("127.0.0.1", target_port), timeout=10)
        server.settimeout(None)
    except OSError as exc:
        recorder.note(conn_id, "upstream connect failed: %s" % exc)
        client.close()
        return
    recorder.note(conn_id, "open")
    threads = [
        threading.Thread(target=pump, args=(client, server, recorder, conn_id, "C>S"),
                         daemon=True),
        threading.Thread(target=pump, args=(server, client, recorder, conn_id, "S>C"),
                         daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    server.close()
    recorder.note(conn_id, "closed")


def accept_loop(listener, target_port, recorder):
    conn_id = 0
    while True:
        client, _ = listener.accept()
        conn_id += 1
        threading.Thread(target=serve_connection,
                         args=(client, target_port, recorder, conn_id),
                         daemon=True).start()


def bind_in_range(first, last):
    """A listening socket on the first port of first..last that is free.
    Binding is the test, so there is no window for another program."""
    for port in range(first, last + 1):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:
            listener.close()
            continue
        listener.listen(16)
        return listener
    sys.exit("e2e_proxy: no free port in %d-%d" % (first, last))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    target_port = int(sys.argv[1])
    logdir = sys.argv[2]
    first, last = (int(p) for p in sys.argv[3].split("-"))
    names = sys.argv[4:]
    lines = []
    for name in names:
        listener = bind_in_range(first, last)
        lines.append("%s %d\n" % (name, listener.getsockname()[1]))
        threading.Thread(target=accept_loop,
                         args=(listener, target_port, Recorder(logdir, name)),
                         daemon=True).start()
    tmp = os.path.join(logdir, "ports.tmp")
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.rename(tmp, os.path.join(logdir, "ports"))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
