#!/usr/bin/env python3
"""bench/gap_pingpong.py: request latency when every request finds the guest's cores halted.

One keep-alive HTTP connection; before each `GET /` the client sleeps GAP ms (20 by default,
far longer than the adaptive idle period), so the core owning the connection's queue has
halted and the request must wake it (a receive interrupt, or the 1 ms NIC poll without one).
Prints median, p90, p99 and max latency and how many took over 10 ms (a lost wake-up shows
as a request waiting for the next timer, up to 100 ms). Bounded: COUNT requests, 5 s socket
timeout.

    bench/gap_pingpong.py [--host 10.0.0.2] [--port 80] [--count 300] [--gap-ms 20]
"""
import argparse
import socket
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="10.0.0.2")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--gap-ms", type=float, default=20.0)
    a = p.parse_args()
    s = socket.create_connection((a.host, a.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    lat = []
    for _ in range(min(a.count, 100_000)):
        time.sleep(a.gap_ms / 1000)
        t = time.perf_counter()
        s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("connection closed")
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("connection closed")
            body += chunk
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    n = len(lat)
    print("n=%d median=%.2fms p90=%.2fms p99=%.2fms max=%.2fms over10ms=%d" % (
        n, lat[n // 2], lat[int(n * 0.9)], lat[int(n * 0.99)], lat[-1],
        sum(1 for x in lat if x > 10)))


if __name__ == "__main__":
    main()
