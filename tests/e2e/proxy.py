#!/usr/bin/env python3
"""tests/e2e/proxy.py: the TCP proxy appliance against Linux clients and backends.

Inside a private network namespace (root): boots `--app proxy` on a multi-queue tap (2 vCPUs,
2 queues) with `backends=10.0.0.1:9001,10.0.0.1:9002`; the namespace's Linux runs both
backends (a small threaded Python server started here, bounded lifetime) and the clients.

- hundreds of proxied connections, each sends a random payload (up to 256 KiB, larger than
  the proxy's 16 KiB buffers, so back-pressure is exercised) and half-closes; the backend reads
  to EOF, answers `B<port> <sha256>` plus the payload echoed, and closes: every answer is
  checked, both backends must be used;
- backend 9002 is then stopped: clients routed to it must see their connection closed (connect
  failure -> client closed), clients routed to 9001 are still served;
- `corenet-stop` on the admin UDP port: every core prints its final counters; every core
  proxied some, none aborted, and `wrong_core=0` on every core (backend replies always reached
  the core that opened the backend connection); the guest exits with 0.
- the same over IPv6 (tap fd00::1/64, guest `ip6=fd00::2/64`, clients to [fd00::2]:8000,
  `backends=[fd00::1]:9001,[fd00::1]:9002`): every answer checked, both backends used, every
  core proxied some and `wrong_core=0` (IPv6 active opens take RSS-solved ports too).

Every QEMU run has a hard timeout and is stopped by PID; the namespace is deleted; backends
are stopped by PID. Closes with `N passed, N failed, N skipped` (not root: one skipped line).

Also the device-steering fallback (RSS off: the device picks queues by its own hash): backend
replies land on cores that did not open the connection, wrong_core rises (so the main check
can fail), and the stack forwards each one to the core that owns it, so every connection is
still served (see device_steering()).

Usage: tests/e2e/proxy.py [--quick] [--connections N] [--cores N] [--accel tcg] [--nic igb]
                          [--no-device-steering] [--only-ipv6] [--only-device-steering]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMG = os.path.join(ROOT, "target/x86_64-unknown-none/release/proxy")
LOGS = os.path.join(ROOT, "target/e2e")
GUEST = "10.0.0.2"
GUEST6, HOST6 = "fd00::2", "fd00::1"
PROXY_PORT, ADMIN_PORT = 8000, 9999
BACKENDS = (9001, 9002)
QEMU_TIMEOUT = 300
ACCEL = "auto"  # --accel: auto | kvm | tcg, passed to qemu-run.sh
NIC = "virtio"  # --nic: virtio | igb (issue 13: QEMU >= 8's 82576), passed to qemu-run.sh

results = []


def case(name, fn):
    t0 = time.monotonic()
    try:
        detail = fn()
        results.append((name, True))
        print(f"proxy {name} ... ok ({time.monotonic() - t0:.1f}s){' ' + detail if detail else ''}", flush=True)
    except Exception as e:  # a failed check or a tool error: report, keep going
        results.append((name, False))
        print(f"proxy {name} ... FAILED: {e}", flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# A backend: reads to EOF, answers "B<port> <sha256 hex>\n" + the data, closes. Exits by
# itself after --seconds (bounded lifetime even if this script dies).
BACKEND = r"""
import hashlib, socket, sys, threading, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
v6 = len(sys.argv) > 3 and sys.argv[3] == "6"
srv = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("::" if v6 else "0.0.0.0", port)); srv.listen(512); srv.settimeout(0.5)
def serve(c):
    try:
        c.settimeout(30)
        data = bytearray()
        while True:
            b = c.recv(65536)
            if not b: break
            data += b
        c.sendall(b"B%d %s\n" % (port, hashlib.sha256(data).hexdigest().encode()) + data)
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536): pass
    except OSError as e:
        print("backend", port, "error", e, flush=True)
    finally:
        c.close()
end = time.monotonic() + seconds
print("backend", port, "listening", flush=True)
while time.monotonic() < end:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

# Clients: N connections through the proxy, `par` at a time. Prints one JSON line:
# {"ok": n, "closed": n, "bad": [...], "by_backend": {...}}.
CLIENT = r"""
import concurrent.futures as cf, errno, hashlib, json, os, random, socket, sys
host, port, n, par, seed, maxlen = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
tmo = float(sys.argv[7])
def one(i):
    rnd = random.Random(seed * 100003 + i)
    size = rnd.choice([0, 1, 100, 1460, 5000, 20000, 70000, rnd.randrange(maxlen + 1)])
    data = rnd.randbytes(size)
    # The source port is drawn uniformly rather than left to the kernel: Linux hands one client
    # even ports with small gaps, which before net/src/rss_spread.rs all hashed to one queue
    # under some random RSS keys (about one in 32), leaving a core with nothing to prove; now
    # the key spreads such runs, and uniform ports still exercise the rest of the key.
    ports = random.Random("port-%d-%d" % (seed, i))
    try:
        for attempt in range(8):
            try:
                s = socket.create_connection((host, port), timeout=tmo,
                                             source_address=("", ports.randrange(10000, 32000)))
                break
            except OSError as e:
                if e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL) or attempt == 7:
                    raise
        s.settimeout(tmo)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            b = s.recv(65536)
            if not b: break
            got += b
        s.close()
    except OSError as e:
        return ("error", i, repr(e))
    if not got:
        return ("closed", i, "")
    head, _, body = bytes(got).partition(b"\n")
    parts = head.split()
    want = hashlib.sha256(data).hexdigest().encode()
    if len(parts) != 2 or parts[1] != want or body != data:
        return ("bad", i, "%r len %d/%d" % (head[:80], len(body), size))
    return ("ok", i, parts[0].decode())
res = list(cf.ThreadPoolExecutor(par).map(one, range(n)))
by = {}
for kind, _, who in res:
    if kind == "ok": by[who] = by.get(who, 0) + 1
print(json.dumps({"ok": sum(r[0] == "ok" for r in res), "closed": sum(r[0] == "closed" for r in res),
                  "bad": [r for r in res if r[0] in ("bad", "error")][:5], "by_backend": by}))
"""


class Netns:
    def __init__(self):
        self.name = f"corenet-proxy-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)

    def exec(self, cmd):
        return ["ip", "netns", "exec", self.name] + cmd

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def stop_pid(p, grace=10):
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Guest:
    """The proxy appliance in QEMU inside the namespace, console to a log file."""

    def __init__(self, ns, smp, queues, cmdline, tag="", nic_opts=""):
        os.makedirs(LOGS, exist_ok=True)
        self.log_path = os.path.join(LOGS, f"proxy-{NIC}-{smp}q{tag}.log")
        self.log = open(self.log_path, "wb")
        extra = ["--nic-opts", nic_opts] if nic_opts else []
        cmd = ns.exec([os.path.join(ROOT, "qemu-run.sh"), "--kernel", IMG, "--smp", str(smp), "--net", "tap",
                       "--queues", str(queues), "--timeout", str(QEMU_TIMEOUT), "--accel", ACCEL, "--nic", NIC,
                       "--cmdline", cmdline] + extra)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b"corenet: ready" in self.text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"guest not ready; log {self.log_path}: {self.tail()}")

    def text(self):
        return open(self.log_path, "rb").read()

    def tail(self):
        return self.text()[-800:].decode(errors="replace")

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Stops QEMU by PID (the script's process group: qemu-run.sh and its QEMU child)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(15) is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


def run_clients(ns, n, par, seed, maxlen, timeout=300, conn_timeout=30, host=GUEST):
    import json
    p = subprocess.run(ns.exec([sys.executable, "-c", CLIENT, host, str(PROXY_PORT), str(n), str(par), str(seed),
                                str(maxlen), str(conn_timeout)]), capture_output=True, timeout=timeout)
    check(p.returncode == 0, f"client script failed: {p.stderr.decode(errors='replace')[-400:]}")
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def final_lines(text):
    """{core: {key: value}} from the `proxy: core N k=v ...` lines printed at stop."""
    out = {}
    for m in re.finditer(r"proxy: core (\d+) (queue=.*)", text):
        out[int(m.group(1))] = dict(kv.split("=", 1) for kv in m.group(2).split())
    return out


def stop_guest(ns, g):
    """`corenet-stop` to the admin port until the guest exits; checks exit 0 and no crash;
    returns the final per-core counters."""
    u = [sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
         f".sendto(b'corenet-stop', ('{GUEST}', {ADMIN_PORT}))"]
    rc = None
    for _ in range(20):
        subprocess.run(ns.exec(u), check=True, timeout=10)
        rc = g.wait(1)
        if rc is not None:
            break
    check(rc == 0, f"guest did not exit with 0 after corenet-stop (status {rc}): {g.tail()}")
    text = g.text().decode(errors="replace")
    check("PANIC" not in text and "EXCEPTION" not in text, g.tail())
    return final_lines(text)


def device_steering():
    """RSS off: QEMU's tap picks the queue by its own flow hash, so backend replies land on
    cores that did not open the connection. wrong_core must rise (the counter can fail) and
    forwarded_to_owner with it, and every proxied connection must still be answered."""
    ns = Netns()
    backends = []
    g = None
    try:
        for port in BACKENDS:
            backends.append(subprocess.Popen(ns.exec([sys.executable, "-c", BACKEND, str(port), "120"]),
                                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        g = Guest(ns, smp=2, queues=2, tag="-rss-off", nic_opts="rss=off",
                  cmdline=f"log=debug backends=10.0.0.1:{BACKENDS[0]},10.0.0.1:{BACKENDS[1]}")
        time.sleep(0.5)

        def forwarded_and_served():
            n = 100
            r = run_clients(ns, n, 20, 3, 4096, timeout=180, conn_timeout=30)
            # Forwarding is only a fix if it loses nothing: every connection answered intact.
            check(r["ok"] == n, f"{r['ok']} of {n} answered correctly with RSS off; closed {r['closed']}; "
                                f"bad {r['bad']}")
            cores = stop_guest(ns, g)
            wrong = {c: int(kv["wrong_core"]) for c, kv in cores.items()}
            fwd = {c: int(kv["forwarded_to_owner"]) for c, kv in cores.items()}
            check(sum(wrong.values()) > 0, f"wrong_core stayed 0 with RSS off: {wrong}")
            check(sum(fwd.values()) > 0, f"nothing forwarded to the owning core: {fwd}")
            return f"{n} connections answered, wrong_core {wrong}, forwarded {fwd}"
        case("device-steering-mis-steered-replies-forwarded", forwarded_and_served)
    finally:
        if g:
            g.stop()
        for p in backends:
            stop_pid(p)
        ns.delete()


def suite(quick, n, ncores=2):
    ns = Netns()
    backends = {}
    g = None
    try:
        for port in BACKENDS:
            log = open(os.path.join(LOGS, f"proxy-backend-{port}.log"), "wb")
            backends[port] = subprocess.Popen(ns.exec([sys.executable, "-c", BACKEND, str(port), str(QEMU_TIMEOUT)]),
                                              stdout=log, stderr=subprocess.STDOUT)
        cmdline = (f"listen={PROXY_PORT} admin={ADMIN_PORT} "
                   f"backends=10.0.0.1:{BACKENDS[0]},10.0.0.1:{BACKENDS[1]}")
        g = Guest(ns, smp=ncores, queues=ncores, cmdline=cmdline)
        time.sleep(0.5)

        def many():
            r = run_clients(ns, n, 32, 1, 64 << 10 if quick else 256 << 10)
            check(r["ok"] == n, f"{r['ok']} of {n} answered correctly; closed {r['closed']}; bad {r['bad']}")
            by = r["by_backend"]
            check(all(by.get(f"B{p}", 0) > 0 for p in BACKENDS), f"not every backend used: {by}")
            return f"{n} connections, by backend {by}"
        case(f"{ncores}q-proxied-{n}-connections-both-backends", many)

        def connect_failure():
            stop_pid(backends.pop(BACKENDS[1]))
            m = 20
            r = run_clients(ns, m, 4, 2, 4096)
            check(r["bad"] == [], f"bad answers: {r['bad']}")
            check(r["closed"] > 0, f"no client saw its connection closed: {r}")
            check(r["ok"] + r["closed"] == m, f"{r}")
            check(set(r["by_backend"]) <= {f"B{BACKENDS[0]}"}, f"{r}")
            return f"{r['ok']} served by {BACKENDS[0]}, {r['closed']} closed (backend {BACKENDS[1]} down)"
        case(f"{ncores}q-backend-down-closes-clients", connect_failure)

        def stop_and_counters():
            cores = stop_guest(ns, g)
            check(sorted(cores) == list(range(ncores)), f"final lines for cores {sorted(cores)}: {g.tail()}")
            for c, kv in cores.items():
                check(int(kv["done"]) > 0, f"core {c} proxied nothing: {kv}")
                check(kv["wrong_core"] == "0", f"core {c}: wrong_core={kv['wrong_core']}")
                check(kv["aborted"] == "0", f"core {c} aborted pipes: {kv}")
            done = sum(int(kv["done"]) for kv in cores.values())
            failed = sum(int(kv["connect_failed"]) for kv in cores.values())
            check(done >= n, f"{done} pipes done for {n} good connections")
            check(failed > 0, "no connect failure counted while a backend was down")
            return "; ".join(f"core {c}: done={kv['done']} connect_failed={kv['connect_failed']} "
                             f"backends={kv['backends']} wrong_core={kv['wrong_core']}" for c, kv in sorted(cores.items()))
        case(f"{ncores}q-stop-every-core-proxied-wrong-core-0", stop_and_counters)
    finally:
        if g:
            g.stop()
        for p in backends.values():
            stop_pid(p)
        ns.delete()


def ipv6_suite(quick, n, ncores=2):
    """Clients and backends over IPv6: the proxy's backend connections are IPv6 active opens,
    so wrong_core=0 checks the IPv6 RSS port solver against QEMU's virtio-net RSS."""
    ns = Netns()
    backends = []
    g = None
    try:
        for port in BACKENDS:
            log = open(os.path.join(LOGS, f"proxy-backend6-{port}.log"), "wb")
            backends.append(subprocess.Popen(
                ns.exec([sys.executable, "-c", BACKEND, str(port), str(QEMU_TIMEOUT), "6"]),
                stdout=log, stderr=subprocess.STDOUT))
        cmdline = (f"listen={PROXY_PORT} admin={ADMIN_PORT} ip6={GUEST6}/64 "
                   f"backends=[{HOST6}]:{BACKENDS[0]},[{HOST6}]:{BACKENDS[1]}")
        g = Guest(ns, smp=ncores, queues=ncores, cmdline=cmdline, tag="-ipv6")
        # qemu-run.sh created the tap (corenet0) with 10.0.0.1/24; add the IPv6 side.
        subprocess.run(ns.exec(["ip", "-6", "addr", "add", f"{HOST6}/64", "dev", "corenet0", "nodad"]),
                       check=True, timeout=10)
        time.sleep(0.5)

        def proxied_and_home():
            r = run_clients(ns, n, 32, 5, 64 << 10 if quick else 256 << 10, host=GUEST6)
            check(r["ok"] == n, f"{r['ok']} of {n} answered correctly; closed {r['closed']}; bad {r['bad']}")
            by = r["by_backend"]
            check(all(by.get(f"B{p}", 0) > 0 for p in BACKENDS), f"not every backend used: {by}")
            cores = stop_guest(ns, g)
            check(sorted(cores) == list(range(ncores)), f"final lines for cores {sorted(cores)}: {g.tail()}")
            for c, kv in cores.items():
                check(int(kv["done"]) > 0, f"core {c} proxied nothing: {kv}")
                check(kv["wrong_core"] == "0", f"core {c}: wrong_core={kv['wrong_core']}")
                check(kv["aborted"] == "0", f"core {c} aborted pipes: {kv}")
            return f"{n} connections, by backend {by}; " + "; ".join(
                f"core {c}: done={kv['done']} wrong_core={kv['wrong_core']}" for c, kv in sorted(cores.items()))
        case(f"{ncores}q-ipv6-proxied-{n}-connections-wrong-core-0", proxied_and_home)
    finally:
        if g:
            g.stop()
        for p in backends:
            stop_pid(p)
        ns.delete()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--connections", type=int, default=0)
    ap.add_argument("--no-device-steering", action="store_true", help="skip the RSS-off fallback case")
    ap.add_argument("--only-ipv6", action="store_true", help="run only the IPv6 suite")
    ap.add_argument("--only-device-steering", action="store_true", help="run only the RSS-off fallback case")
    ap.add_argument("--cores", type=int, default=2, help="vCPUs = queue pairs (default 2)")
    ap.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    ap.add_argument("--nic", default="virtio", choices=["virtio", "igb"],
                    help="the NIC model; igb needs QEMU >= 8 (tests/qemu/need-qemu.sh) and has no RSS-off case")
    a = ap.parse_args()
    global ACCEL, NIC
    ACCEL = a.accel
    NIC = a.nic
    if NIC == "igb":
        # The RSS-off fallback case turns off virtio-net's rss property; igb has no such knob.
        a.no_device_steering = True
    if os.geteuid() != 0:
        print("proxy e2e ... skipped (needs root: network namespaces)")
        print("\n0 passed, 0 failed, 1 skipped")
        return 0
    os.makedirs(LOGS, exist_ok=True)
    subprocess.run(["cargo", "build", "-q", "--release", "--target", "x86_64-unknown-none", "-p", "proxy"],
                   cwd=ROOT, check=True)
    n = a.connections or (200 if a.quick else 400)
    if not a.only_ipv6 and not a.only_device_steering:
        suite(a.quick, n, a.cores)
    if not a.only_device_steering:
        ipv6_suite(a.quick, n, a.cores)
    if not a.no_device_steering and not a.only_ipv6:
        device_steering()
    passed = sum(1 for r in results if r[1])
    failed = len(results) - passed
    print()
    print(f"{passed} passed, {failed} failed, 0 skipped")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
