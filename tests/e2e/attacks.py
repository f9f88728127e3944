#!/usr/bin/env python3
"""tests/e2e/attacks.py: bounded clients and attackers for hostile.py, run inside its namespace.

Each subcommand is bounded in time and count and prints one JSON object on stdout:

- `probe HOST PORT START INTERVAL COUNT TIMEOUT`: COUNT one-shot `GET /` requests, the i-th
  started at wall-clock START + i * INTERVAL, each in its own thread with TIMEOUT; reports
  `[[t_start, t_end, ok], ...]`;
- `slowloris HOST PORT CONNS SECONDS INTERVAL`: CONNS connections that each send a request
  line and then one more header byte every INTERVAL seconds, for SECONDS; a connection the
  server closes is replaced (3 * CONNS connects at most); reports how many connected and how
  many the server closed (and when);
- `pipeline HOST PORT CONNS MAX_BYTES SECONDS READ_BPS`: CONNS connections that pipeline GETs
  (up to MAX_BYTES of requests each) with a small receive buffer for SECONDS; half never read,
  half read READ_BPS bytes/s at most;
- `udpflood HOST PORT COUNT SECONDS`: COUNT 64-byte datagrams at most, as fast as possible for
  SECONDS at most, counting the datagrams that come back and the ICMP port-unreachable
  messages the host receives from HOST meanwhile (raw socket; needs root).
"""
import json
import os
import resource
import select
import socket
import sys
import threading
import time


def get_once(host, port, timeout):
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        s.settimeout(timeout)
        s.sendall(b"GET / HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n")
        data = b""
        while len(data) < 12:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def probe(host, port, start, interval, count, timeout):
    out = [None] * count

    def one(i):
        t0 = time.time()
        ok = get_once(host, port, timeout)
        out[i] = [round(t0, 3), round(time.time(), 3), ok]

    threads = []
    for i in range(count):
        delay = start + i * interval - time.time()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=one, args=(i,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout + 1)
    return [r for r in out if r]


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n + 64), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def slowloris(host, port, conns, seconds, interval):
    """CONNS slow connections; one the server closes is replaced (3 * CONNS opens at most)."""
    raise_nofile(conns)
    t0 = time.time()
    end = t0 + seconds
    max_opens = 3 * conns
    opens = 0
    connecting = set()

    def open_one():
        nonlocal opens
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        connecting.add(s)
        opens += 1

    for _ in range(conns):
        open_one()
    live = set()
    ever_connected = 0
    closed_at = []
    header = b"X-a: b\r\n"
    k = 0
    while time.time() < end:
        # Connects that completed get their request line; failed ones are dropped.
        if connecting:
            # poll, not select: thousands of sockets have descriptors above FD_SETSIZE.
            p = select.poll()
            by_fd = {s.fileno(): s for s in connecting}
            for fd in by_fd:
                p.register(fd, select.POLLOUT)
            for fd, _ in p.poll(200):
                s = by_fd[fd]
                connecting.discard(s)
                try:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        s.send(b"GET / HTTP/1.1\r\nHost: g\r\n")
                        live.add(s)
                        ever_connected += 1
                        continue
                except OSError:
                    pass
                s.close()
        p = select.poll()
        by_fd = {s.fileno(): s for s in live}
        for fd in by_fd:
            p.register(fd, select.POLLIN)
        readable = {by_fd[fd] for fd, _ in p.poll(0)}
        for s in list(live):
            try:
                # The server closing (EOF, RST, or a response) frees the slot we held.
                if s in readable and not s.recv(4096):
                    raise OSError("closed")
                s.send(header[k % len(header):k % len(header) + 1])
            except OSError:
                closed_at.append(round(time.time() - t0, 1))
                live.discard(s)
                s.close()
                if opens < max_opens:
                    open_one()
        k += 1
        time.sleep(min(interval, max(0, end - time.time())))
    held = len(live)
    for s in live | connecting:
        s.close()
    return {"opens": opens, "connected": ever_connected, "held_at_end": held, "closed_by_server": len(closed_at),
            "first_close_s": closed_at[0] if closed_at else None, "seconds": round(time.time() - t0, 1)}


def pipeline(host, port, conns, max_bytes, seconds, read_bps):
    """Even-numbered connections never read; odd ones read READ_BPS bytes/s at most (a slow
    reader drains some output, so a server that only compacts a fully drained buffer grows)."""
    req = b"GET / HTTP/1.1\r\nHost: g\r\n\r\n"
    socks = []
    for _ in range(conns):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect((host, port))
        s.setblocking(False)
        socks.append(s)
    sent = [0] * conns
    read = [0] * conns
    chunk = req * 256
    t0 = time.time()
    end = t0 + seconds
    while time.time() < end:
        progress = False
        for i, s in enumerate(socks):
            if i % 2 and read_bps:
                allowed = int(read_bps * (time.time() - t0)) - read[i]
                try:
                    while allowed > 0:
                        b = s.recv(min(allowed, 65536))
                        if not b:
                            break
                        read[i] += len(b)
                        allowed -= len(b)
                except (BlockingIOError, OSError):
                    pass
            if sent[i] >= max_bytes:
                continue
            try:
                sent[i] += s.send(chunk[:max_bytes - sent[i]])
                progress = True
            except BlockingIOError:
                pass
            except OSError:
                sent[i] = max_bytes  # reset by the server: nothing more to send
        if not progress:
            time.sleep(0.02)
    for s in socks:
        s.close()
    return {"requests_sent": sum(sent) // len(req), "bytes_sent": sum(sent), "bytes_read": sum(read)}


def udpflood(host, port, count, seconds):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    u.setblocking(False)
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    icmp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    icmp.setblocking(False)
    counts = {"echoed": 0, "icmp_unreachable": 0}
    stop = threading.Event()

    def drain():
        while not stop.is_set():
            r, _, _ = select.select([u, icmp], [], [], 0.2)
            for s in r:
                while True:
                    try:
                        pkt, frm = s.recvfrom(2048)
                    except BlockingIOError:
                        break
                    if s is u:
                        counts["echoed"] += 1
                    elif frm[0] == host and len(pkt) > 20 and pkt[(pkt[0] & 15) * 4] == 3:
                        counts["icmp_unreachable"] += 1

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    payload = os.urandom(64)
    sent = 0
    t0 = time.time()
    end = t0 + seconds
    while sent < count and time.time() < end:
        for _ in range(256):
            try:
                u.sendto(payload, (host, port))
                sent += 1
            except (BlockingIOError, OSError):
                time.sleep(0.0005)
    elapsed = time.time() - t0
    time.sleep(1.0)  # late replies
    stop.set()
    t.join(2)
    return dict(counts, sent=sent, seconds=round(elapsed, 2))


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "probe":
        r = probe(a[0], int(a[1]), float(a[2]), float(a[3]), int(a[4]), float(a[5]))
    elif cmd == "slowloris":
        r = slowloris(a[0], int(a[1]), int(a[2]), float(a[3]), float(a[4]))
    elif cmd == "pipeline":
        r = pipeline(a[0], int(a[1]), int(a[2]), int(a[3]), float(a[4]), float(a[5]))
    elif cmd == "udpflood":
        r = udpflood(a[0], int(a[1]), int(a[2]), float(a[3]))
    else:
        sys.exit(f"unknown command {cmd}")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
