#!/usr/bin/env python3
"""tests/e2e/faultwire.py: a lossy Ethernet wire between a tap and QEMU, in user space.

`tc netem` needs the kernel's sch_netem, which some hosts (this project's CI machines among
them) do not have. This does the same job in user space and in both directions: it creates a
tap (the Linux side, inside the caller's network namespace), exchanges Ethernet frames with
QEMU's `-netdev dgram` backend over UDP on 127.0.0.1, and on the way drops, reorders,
duplicates and corrupts frames with a seeded generator, so runs are reproducible. --delay-ms
adds a fixed one-way delay in each direction (the round trip grows by twice that).

Run it inside the test's network namespace; it stops after --max-seconds or when killed.
With --stats FILE, SIGUSR1 writes the counters so far to FILE as JSON (a benchmark reads them
before and after each transfer): per direction the frames seen and faulted, frames the tap
refused, and the most frames queued in the delay line at once.
"""
import argparse
import collections
import fcntl
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name, cidr):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    subprocess.run(["ip", "addr", "add", cidr, "dev", name], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    os.set_blocking(fd, False)
    return fd


class Faults:
    """Seeded per-direction fault injection with counters."""

    def __init__(self, rng, loss, reorder, dup, corrupt):
        self.rng, self.loss, self.reorder, self.dup, self.corrupt = rng, loss, reorder, dup, corrupt
        self.held = None
        self.counts = dict(frames=0, dropped=0, reordered=0, duplicated=0, corrupted=0)

    def apply(self, frame):
        """Frames to deliver now, in order, for one frame in."""
        self.counts["frames"] += 1
        r = self.rng
        if r.random() < self.loss:
            self.counts["dropped"] += 1
            return self.release([])
        if r.random() < self.corrupt and len(frame) > 14:
            b = bytearray(frame)
            i = r.randrange(14, len(b))
            b[i] ^= 1 << r.randrange(8)
            frame = bytes(b)
            self.counts["corrupted"] += 1
        out = [frame]
        if r.random() < self.dup:
            out.append(frame)
            self.counts["duplicated"] += 1
        if self.held is None and r.random() < self.reorder:
            self.held = out
            self.counts["reordered"] += 1
            return []
        return self.release(out)

    def release(self, out):
        if self.held is not None:
            out = out + self.held
            self.held = None
        return out

    def flush(self):
        return self.release([])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tap", default="corenet0")
    ap.add_argument("--cidr", default="10.0.0.1/24")
    ap.add_argument("--qemu-port", type=int, required=True, help="QEMU's dgram local port")
    ap.add_argument("--wire-port", type=int, required=True, help="our port (QEMU's remote)")
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--duplicate", type=float, default=0.0)
    ap.add_argument("--corrupt", type=float, default=0.0)
    ap.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay per direction")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--stats", help="file the counters are written to on SIGUSR1")
    a = ap.parse_args()

    tap = open_tap(a.tap, a.cidr)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", a.wire_port))
    udp.setblocking(False)
    qemu = ("127.0.0.1", a.qemu_port)
    rng = random.Random(a.seed)
    to_guest = Faults(rng, a.loss, a.reorder, a.duplicate, a.corrupt)
    to_host = Faults(rng, a.loss, a.reorder, a.duplicate, a.corrupt)
    delay = a.delay_ms / 1000.0
    # Frames on their way, per direction, as (due time, frame): a constant delay keeps each
    # queue in due order, so a deque is enough.
    to_guest_q, to_host_q = collections.deque(), collections.deque()
    # What the wire itself lost or held, apart from the faults it was asked for.
    wire = dict(tap_write_errors=0, udp_send_errors=0, max_queued_to_guest=0, max_queued_to_host=0)

    def write_stats(*_):
        if a.stats:
            with open(a.stats + ".tmp", "w") as f:
                json.dump(dict(to_guest=to_guest.counts, to_host=to_host.counts, wire=wire), f)
            os.replace(a.stats + ".tmp", a.stats)

    signal.signal(signal.SIGUSR1, write_stats)

    def to_qemu(f):
        try:
            udp.sendto(f, qemu)
        except OSError:
            wire["udp_send_errors"] += 1

    def to_tap(f):
        try:
            os.write(tap, f)
        except OSError:
            wire["tap_write_errors"] += 1

    def send(frames, q, out):
        if not delay:
            for f in frames:
                out(f)
            return
        due = time.monotonic() + delay
        q.extend((due, f) for f in frames)
        key = "max_queued_to_guest" if q is to_guest_q else "max_queued_to_host"
        wire[key] = max(wire[key], len(q))

    def release_due():
        now = time.monotonic()
        for q, out in ((to_guest_q, to_qemu), (to_host_q, to_tap)):
            while q and q[0][0] <= now:
                out(q.popleft()[1])

    def wait_s():
        heads = [q[0][0] for q in (to_guest_q, to_host_q) if q]
        if not heads:
            return 0.05
        return max(0.0, min(0.05, min(heads) - time.monotonic()))

    print("faultwire: up", flush=True)
    end = time.monotonic() + a.max_seconds
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([tap, udp], [], [], wait_s())
            release_due()
            if not ready:
                # An idle wire lets held frames go, so a reordered last frame is not lost.
                if not to_guest_q and not to_host_q:
                    send(to_guest.flush(), to_guest_q, to_qemu)
                    send(to_host.flush(), to_host_q, to_tap)
                continue
            if tap in ready:
                for _ in range(64):
                    try:
                        frame = os.read(tap, 65536)
                    except BlockingIOError:
                        break
                    send(to_guest.apply(frame), to_guest_q, to_qemu)
            if udp in ready:
                for _ in range(64):
                    try:
                        frame = udp.recv(65536)
                    except BlockingIOError:
                        break
                    send(to_host.apply(frame), to_host_q, to_tap)
    except KeyboardInterrupt:
        pass
    finally:
        write_stats()
        print(f"faultwire: to guest {to_guest.counts}, to host {to_host.counts}, wire {wire}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
