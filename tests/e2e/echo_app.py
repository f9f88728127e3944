#!/usr/bin/env python3
"""tests/e2e/echo_app.py: the README's example appliance (apps/echo) serves TCP echo.

Boots `--app echo` on user-mode networking (passt when installed; 2 vCPUs, so one core reaches the NIC through the
software queues), sends 256 KiB on each of 8 connections at once, and checks every byte came
back (sha256); then that 64 short-lived connections are each echoed and closed, so dropped
handles give their slots back; the guest must still be alive. One QEMU run, hard timeout,
stopped by PID; traffic only to 127.0.0.1.

Usage: tests/e2e/echo_app.py [--port P]   (host port forwarded to the guest's port 7)
"""
import argparse
import hashlib
import os
import shutil
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Results, Vm, check  # noqa: E402


def transfer(port, size, seed):
    """Sends `size` bytes on one connection while reading the echo; None when every byte came
    back, else what went wrong (bytes back, first differing offset, the reader's error)."""
    data = hashlib.sha256(seed.to_bytes(4, "big")).digest() * (size // 32)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    got = bytearray()
    error = []

    def reader():
        try:
            while len(got) < len(data):
                b = s.recv(65536)
                if not b:
                    break
                got.extend(b)
        except OSError as e:
            error.append(repr(e))

    t = threading.Thread(target=reader)
    t.start()
    try:
        s.sendall(data)
    except OSError as e:
        error.append(f"send: {e!r}")
    t.join(60)
    s.close()
    if bytes(got) == data:
        return None
    differ = next((i for i, (a, b) in enumerate(zip(got, data)) if a != b), None)
    return (f"{len(got)} of {len(data)} bytes back"
            + (f", first differing at {differ}" if differ is not None else "")
            + (f", {'; '.join(error)}" if error else ""))


def parallel(port):
    results = [None] * 8
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, transfer(port, 256 << 10, i) or "ok"))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    bad = {i: r for i, r in enumerate(results) if r != "ok"}
    check(not bad, f"not echoed intact: {bad}")
    return "8 x 256 KiB intact"


def churn(port):
    for i in range(64):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            msg = f"hello {i}\n".encode()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                b = s.recv(64)
                check(b, f"connection {i} closed early")
                got += b
            check(got == msg, f"connection {i}: {got!r}")
    return "64 connections echoed and closed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=17007)
    a = ap.parse_args()
    os.environ["CORENET_FWD_ECHO"] = str(a.port)
    os.environ["CORENET_FWD_HTTP"] = str(a.port + 1)
    r = Results("echo-app")
    try:
        # passt when installed, as kv.py: through QEMU's slirp (backlog 1 on the forwarded port)
        # this case lost 2 of 8 transfers in about 1 run in 6, with no drop in the guest's counters.
        net = "passt" if shutil.which("passt") else "user"
        vm = Vm("echo-app", ["--app", "echo", "--net", net, "--smp", "2"], timeout=300, ready_within=180)
    except Exception as e:  # noqa: BLE001
        r.rows.append(("boot", "FAILED", str(e)))
        print(f"echo-app boot ... FAILED: {e}")
        return r.summary()
    try:
        r.case("parallel-8x256KiB", parallel, a.port)
        r.case("churn-64-connections", churn, a.port)
        r.case("guest-alive", lambda: check(vm.alive() and b"panicked" not in vm.text(), vm.tail()))
    finally:
        vm.stop()
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
