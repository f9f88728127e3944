#!/usr/bin/env python3
"""bench/http_bench.py: HTTP appliance benchmarks (issue 7, setups 1-4) for any guest, same QEMU line.

(Not `http.py`: a script of that name shadows the standard library's `http` package.)

Each boot gets its own private network namespace; the guest starts with
`qemu-run.sh --kernel IMAGE --net tap --smp N ...` (q35 + qboot, TCG with -cpu max here,
virtio-net-pci on a tap whose host side is 10.0.0.1/24, guest 10.0.0.2), and this script
joins that namespace to time the boot and to run `wrk` against http://10.0.0.2/.

Setups:
  1. HTTP at 1 vCPU: requests/s, p50/p99 latency (wrk --latency), medians of --runs runs.
  2. Boot: QEMU process start (qemu-run.sh spawned) -> ready line on the serial console, and
     -> first HTTP 200 (probed from the host side once the ready line is seen).
  3. Cores: the same at 1 and 2 vCPUs (one NIC queue pair per vCPU).
  4. Connections: 10, 1000, 10000 concurrent wrk connections.

Guests (--guest, comma-separated; each row of the table then carries the ratio to linux):
  linux    bench/linux-guest/build.sh: Debian's cloud kernel, busybox and nginx (cached).
  corenet  the httpd appliance: built with `qemu-run.sh --app httpd`, ready on `corenet: ready`.

Nothing here asserts a timing. Output: a JSON results file (--json, default
target/bench/http.json) and a table on stdout. Needs root (namespaces, taps).

Usage: sudo bench/http_bench.py [--guest linux] [--quick] [--runs N] [--duration S]
                          [--smp 1,2] [--conns 10,1000,10000] [--boots N] [--json FILE]
"""
import argparse
import ctypes
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU_RUN = os.path.join(ROOT, "qemu-run.sh")
GUEST_IP = "10.0.0.2"
CLONE_NEWNET = 0x40000000


# ---------------------------------------------------------------------------------------------
# Guests: how to build one, the qemu-run.sh arguments, its ready line, how to stop it.
# ---------------------------------------------------------------------------------------------

class LinuxGuest:
    """Debian's cloud kernel + busybox + nginx, built by bench/linux-guest/build.sh."""
    name = "linux"
    ready_prefix = "linux-guest: ready"
    metrics_path = None

    def prepare(self):
        build = [os.path.join(ROOT, "bench/linux-guest/build.sh")]
        if NIC == "igb":
            build += ["--kernel", "generic"]  # the cloud kernel has no igb driver
        out = subprocess.run(build, check=True,
                             capture_output=True, text=True, timeout=900)
        kv = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        self.kernel, self.initrd, self.cmdline = kv["KERNEL"], kv["INITRD"], kv["CMDLINE"]
        manifest = os.path.join(os.path.dirname(self.kernel), "manifest.txt")
        self.info = open(manifest).read().splitlines() if os.path.exists(manifest) else []

    def qemu_run_args(self, smp):
        # ip= as qemu-run.sh would add it; the rest is the guest's own (console, quiet, panic).
        return ["--kernel", self.kernel, "--net", "tap", "--smp", str(smp), "--nic", NIC,
                "--cmdline", f"ip={GUEST_IP}/24 gw=10.0.0.1 {self.cmdline}", "--", "-initrd", self.initrd]

    def poweroff(self):
        """The guest's init powers off on `poweroff` sent to TCP port 9999."""
        try:
            with socket.create_connection((GUEST_IP, 9999), timeout=2) as s:
                s.sendall(b"poweroff\n")
            return True
        except OSError:
            return False


class CorenetGuest:
    """corenet's httpd appliance (apps/httpd). Does not exist yet: prepare() then fails, and the
    harness records the failure and goes on with the other guests."""
    name = "corenet"
    ready_prefix = "corenet: ready"
    metrics_path = "/metrics"
    app = "httpd"

    def prepare(self):
        # Build through qemu-run.sh (its cargo flags), without booting and without a tap
        # (--net none: a --dry-run with --net tap would create a tap in the current namespace).
        # Booting then uses --kernel, so build time never counts as boot time.
        r = subprocess.run([QEMU_RUN, "--app", self.app, "--net", "none", "--dry-run"],
                           capture_output=True, text=True, timeout=1800)
        if r.returncode != 0:
            raise RuntimeError(f"qemu-run.sh --app {self.app} failed: {r.stderr.strip()[-400:]}")
        self.kernel = os.path.join(ROOT, "target/x86_64-unknown-none/release", self.app)
        self.info = [f"app {self.app}"]

    def qemu_run_args(self, smp):
        # 4 KiB TCP buffers (16 KiB by default) so that 10 000 connections fit the default heap
        # of a 512 MiB guest: the boot log line `net: N connections per core at most` says so.
        return ["--kernel", self.kernel, "--net", "tap", "--smp", str(smp), "--nic", NIC,
                "--cmdline", "tcpbuf=4K"]

    def poweroff(self):
        return False  # no shutdown request defined yet: the harness kills QEMU by its PID


GUESTS = {"linux": LinuxGuest, "corenet": CorenetGuest}


def qemu_used():
    """The QEMU qemu-run.sh runs: CORENET_QEMU, for igb the private copy need-qemu.sh made, else PATH's."""
    private = os.path.join(ROOT, "target/qemu-backports/bin/qemu-system-x86_64")
    if os.environ.get("CORENET_QEMU"):
        return os.environ["CORENET_QEMU"]
    if NIC == "igb" and os.path.exists(private):
        return private
    return "qemu-system-x86_64"
# The guests' NIC model (--nic): virtio-net, or QEMU's Intel 82576 (igb, QEMU >= 8).
NIC = "virtio"


# ---------------------------------------------------------------------------------------------
# Network namespace: created per boot, joined by this process (so sockets and wrk are inside).
# ---------------------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


class Netns:
    """`ip netns add NAME`, enter it; on exit go back and `ip netns del NAME`."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        try:
            fd = os.open(f"/var/run/netns/{self.name}", os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        try:
            _setns(self.home)
        finally:
            os.close(self.home)
            subprocess.run(["ip", "netns", "del", self.name], check=False)


# ---------------------------------------------------------------------------------------------
# One boot: spawn, read the console, time the ready line and the first HTTP 200, stop.
# ---------------------------------------------------------------------------------------------

class Boot:
    def __init__(self, guest, smp, hard_timeout, boot_timeout):
        self.guest = guest
        self.argv = [QEMU_RUN, "--timeout", str(int(hard_timeout))] + guest.qemu_run_args(smp)
        self.lines = []
        self.ready = threading.Event()
        self.t_ready = None
        self.t0 = time.monotonic()
        # Own process group: killed as a group by its id (qemu-run.sh, timeout, QEMU).
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            if not self.ready.wait(boot_timeout) or self.t_ready is None:
                tail = "\n".join(self.lines[-15:])
                raise RuntimeError(f"{guest.name}: no '{guest.ready_prefix}' within {boot_timeout}s "
                                   f"(exit {self.proc.poll()}); console tail:\n{tail}")
            self.ready_s = self.t_ready - self.t0
            self.first200_s = self._first_200(deadline=self.t0 + boot_timeout) - self.t0
        except BaseException:
            # Any failure here, SIGTERM and Ctrl-C included: nobody else holds this boot to stop it.
            self.kill()
            raise

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if len(self.lines) < 5000:
                self.lines.append(line)
            if self.t_ready is None and line.startswith(self.guest.ready_prefix):
                self.t_ready = time.monotonic()
                self.ready.set()
        self.ready.set()  # EOF: QEMU is gone

    def _first_200(self, deadline):
        """Bounded polling: GET / every 10 ms until a 200 or the deadline."""
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection(GUEST_IP, 80, timeout=1)
                c.request("GET", "/")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return time.monotonic()
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.guest.name}: ready line seen but no HTTP 200 before the deadline")

    def stop(self):
        """Ask the guest to power off (up to 10 s), else kill QEMU's process group."""
        if self.proc.poll() is None and self.guest.poweroff():
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self):
        # qemu-run.sh's `timeout` moves QEMU into a process group of its own, so the group of
        # qemu-run.sh is not enough: kill every process of the session started for this boot
        # (its id is qemu-run.sh's pid, start_new_session), each by its pid.
        for pid in session_members(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.reader.join(timeout=5)


def session_members(sid):
    """Pids of the live processes in session `sid` (field 6 of /proc/PID/stat)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 3 and fields[3] == str(sid):
            pids.append(int(d))
    return pids


# ---------------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------------

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else None


def parse_wrk(out):
    r = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": None,
         "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "non_2xx": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    if m:
        r["requests"] = int(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if m:
            r[key] = _ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non_2xx"] = int(m.group(1))
    return r


def wrk_argv(conns, duration, threads):
    return ["wrk", "-t", str(min(threads, conns)), "-c", str(conns), "-d", f"{duration}s",
            "--latency", "--timeout", "5s", f"http://{GUEST_IP}/"]


def established():
    n = 0
    with open("/proc/net/tcp") as f:
        for line in list(f)[1:]:
            fields = line.split()
            # remote address 10.0.0.2:80 is 0200000A:0050 in /proc/net/tcp
            n += fields[3] == "01" and fields[2] == "0200000A:0050"
    return n


def run_wrk(conns, duration, threads):
    """One wrk run; also samples (every 0.5 s) how many connections to the guest are
    established, since wrk does not say how many of its connections ever got through."""
    argv = wrk_argv(conns, duration, threads)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.5):
            peak[0] = max(peak[0], established())
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired:
        return {"rps": None, "error": "wrk did not finish in time", "argv": argv}
    finally:
        done.set()
        t.join(timeout=5)
    r = parse_wrk(p.stdout)
    r["peak_established"] = peak[0]
    if p.returncode != 0 or r["rps"] is None:
        r["error"] = (p.stderr or p.stdout).strip()[-300:]
    return r


# /proc/net/tcp states of a connection still being torn down or alive: ESTABLISHED, SYN_SENT,
# FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING.
_BUSY = {"01", "02", "04", "05", "08", "09", "0B"}


def open_conns():
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                n += sum(1 for line in list(f)[1:] if line.split()[3] in _BUSY)
        except OSError:
            pass
    return n


def settle(limit_s):
    """After a wrk run the guest may still be closing hundreds of connections (FIN_WAIT1 on
    this side); the next run would pay for it. Wait, bounded, until none is left; return how
    many were still open at the limit (recorded, 0 = clean)."""
    deadline = time.monotonic() + limit_s
    while (n := open_conns()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return n


def ensure_tool(binary, package):
    """Installs Debian's `package` when `binary` is not on PATH (refreshing stale apt lists once)."""
    if shutil.which(binary):
        return
    print(f"{os.path.basename(sys.argv[0])}: installing {binary} (Debian package {package})", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(install, env=env, check=True)


def ensure_wrk():
    ensure_tool("wrk", "wrk")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------------------------------------
# Setups
# ---------------------------------------------------------------------------------------------

def bench_guest(guest, a, results):
    """Boots `guest` once per vCPU count for the wrk sweep, plus --boots short boots."""
    n = 0
    for smp in a.smp:
        # Boot timing: short boots, powered off as soon as the first 200 is in.
        for i in range(a.boots):
            n += 1
            rec = {"guest": guest.name, "smp": smp, "kind": "boot-only"}
            try:
                with Netns(f"httpbench-{os.getpid()}-{guest.name}-{n}"):
                    b = Boot(guest, smp, hard_timeout=a.boot_timeout + 30, boot_timeout=a.boot_timeout)
                    try:
                        rec.update(ready_s=b.ready_s, first200_s=b.first200_s)
                    finally:
                        b.stop()
            except Exception as e:  # noqa: BLE001 - recorded, the run goes on
                rec["error"] = str(e)
                print(f"http_bench.py: {guest.name} smp={smp} boot {i + 1}: {e}", file=sys.stderr)
            results["boot"].append(rec)
            print(f"  boot {guest.name} smp={smp} #{i + 1}: "
                  f"ready {fmt_s(rec.get('ready_s'))} first-200 {fmt_s(rec.get('first200_s'))}", file=sys.stderr)
        # HTTP: one boot, every connection count, warm-up + runs each.
        budget = a.boot_timeout + len(a.conns) * (a.runs + 1) * (a.duration + 65 + a.settle) + 60
        n += 1
        try:
            with Netns(f"httpbench-{os.getpid()}-{guest.name}-{n}"):
                b = Boot(guest, smp, hard_timeout=budget, boot_timeout=a.boot_timeout)
                results["boot"].append({"guest": guest.name, "smp": smp, "kind": "http",
                                        "ready_s": b.ready_s, "first200_s": b.first200_s})
                try:
                    for c in a.conns:
                        run_wrk(c, min(2, a.duration), a.threads)  # warm-up, not recorded
                        settle(a.settle)
                        runs = []
                        for _ in range(a.runs):
                            r = run_wrk(c, a.duration, a.threads)
                            r["left_open_after_settle"] = settle(a.settle)
                            runs.append(r)
                        row = {"guest": guest.name, "smp": smp, "conns": c, "runs": runs,
                               "rps": med([r.get("rps") for r in runs]),
                               "p50_ms": med([r.get("p50_ms") for r in runs]),
                               "p99_ms": med([r.get("p99_ms") for r in runs]),
                               "socket_errors": sum(sum(r.get("errors", {}).values()) for r in runs),
                               "peak_established": med([r.get("peak_established") for r in runs]),
                               "non_2xx": sum(r.get("non_2xx", 0) for r in runs)}
                        if guest.metrics_path:
                            # The guest's own counters after the runs (drops, resets, refusals):
                            # they explain socket errors that wrk reports without a cause.
                            row["guest_counters"] = fetch_counters(guest.metrics_path)
                        results["http"].append(row)
                        print(f"  http {guest.name} smp={smp} c={c}: {fmt_num(row['rps'])} req/s "
                              f"p50 {fmt_ms(row['p50_ms'])} p99 {fmt_ms(row['p99_ms'])} "
                              f"errors {row['socket_errors']} peak-established {row['peak_established']}", file=sys.stderr)
                finally:
                    b.stop()
                    results["console_tail"][f"{guest.name}-smp{smp}"] = b.lines[-20:]
        except Exception as e:  # noqa: BLE001
            results["errors"].append({"guest": guest.name, "smp": smp, "error": str(e)})
            print(f"http_bench.py: {guest.name} smp={smp}: {e}", file=sys.stderr)


def fetch_counters(path):
    """Non-zero samples of the guest's Prometheus text at `path`, summed over labels."""
    try:
        c = http.client.HTTPConnection(GUEST_IP, 80, timeout=10)
        c.request("GET", path)
        body = c.getresponse().read().decode(errors="replace")
        c.close()
    except (OSError, http.client.HTTPException) as e:
        return {"error": str(e)}
    out = {}
    for line in body.splitlines():
        m = re.fullmatch(r"([a-z_]+)(?:\{[^}]*\})? (\d+)", line.strip())
        if m and int(m.group(2)):
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def fmt_s(x):
    return "-" if x is None else f"{x * 1000:.0f} ms"


def fmt_ms(x):
    return "-" if x is None else (f"{x * 1000:.0f} us" if x < 1 else f"{x:.2f} ms")


def fmt_num(x):
    return "-" if x is None else f"{x:.0f}"


def summarize(results):
    """Boot medians per guest and vCPU count, and ratios to linux in the same run."""
    summary = {"boot": [], "http": []}
    keys = sorted({(r["guest"], r["smp"]) for r in results["boot"]})
    for g, smp in keys:
        rs = [r for r in results["boot"] if r["guest"] == g and r["smp"] == smp and "error" not in r]
        ready = [r["ready_s"] for r in rs]
        f200 = [r["first200_s"] for r in rs]
        summary["boot"].append({"guest": g, "smp": smp, "n": len(rs),
                                "ready_s_median": med(ready), "first200_s_median": med(f200),
                                "ready_s_min": min(ready, default=None), "ready_s_max": max(ready, default=None)})
    base = {(r["smp"], r["conns"]): r for r in results["http"] if r["guest"] == "linux"}
    for r in results["http"]:
        lin = base.get((r["smp"], r["conns"]))
        ratio = r["rps"] / lin["rps"] if lin and lin["rps"] and r["rps"] is not None else None
        summary["http"].append({k: r[k] for k in ("guest", "smp", "conns", "rps", "p50_ms", "p99_ms",
                                                  "socket_errors", "non_2xx", "peak_established")} | {"rps_vs_linux": ratio})
    return summary


def print_tables(summary, a):
    print(f"\nHTTP (wrk -t{a.threads} -d{a.duration}s --latency, median of {a.runs} runs; "
          "TCG: mostly guest instructions per request)")
    print(f"{'guest':8} {'vCPU':>4} {'conns':>6} {'req/s':>9} {'p50':>10} {'p99':>10} {'sock.err':>8} "
          f"{'estab.':>7} {'vs linux':>8}")
    for r in summary["http"]:
        ratio = "-" if r["rps_vs_linux"] is None else f"{r['rps_vs_linux']:.2f}x"
        print(f"{r['guest']:8} {r['smp']:>4} {r['conns']:>6} {fmt_num(r['rps']):>9} {fmt_ms(r['p50_ms']):>10} "
              f"{fmt_ms(r['p99_ms']):>10} {r['socket_errors']:>8} {fmt_num(r['peak_established']):>7} {ratio:>8}")
    print("\nBoot (QEMU process start -> ready line / -> first HTTP 200; medians)")
    print(f"{'guest':8} {'vCPU':>4} {'n':>3} {'ready':>9} {'first 200':>10} {'ready min/max':>16}")
    for r in summary["boot"]:
        mm = "-" if r["ready_s_min"] is None else f"{fmt_s(r['ready_s_min'])}/{fmt_s(r['ready_s_max'])}"
        print(f"{r['guest']:8} {r['smp']:>4} {r['n']:>3} {fmt_s(r['ready_s_median']):>9} "
              f"{fmt_s(r['first200_s_median']):>10} {mm:>16}")


def plot(json_path, outdir, prefix=""):
    """PNG plots through bench/plot.py with the first Python that has matplotlib (Debian's
    is python3-matplotlib for /usr/bin/python3), file names starting with `prefix`; skipped
    with a note otherwise."""
    for py in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if os.path.exists(py) and subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode == 0:
            subprocess.run([py, os.path.join(ROOT, "bench/plot.py"), json_path, outdir]
                           + ([prefix] if prefix else []), timeout=120)
            return
    print("plots skipped: no matplotlib (apt-get install python3-matplotlib)")


def machine_info():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "")
    kvm_real = os.access("/dev/kvm", os.R_OK | os.W_OK) and bool(re.search(r"\b(vmx|svm)\b", flags))

    def out(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return {"cpu": cpu, "host_cpus": os.cpu_count(), "host_kernel": platform.release(),
            "accel": "kvm" if kvm_real else "tcg", "qemu": out([qemu_used(), "--version"]),
            "wrk": out(["wrk", "-v"]), "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--guest", default="linux", help="comma-separated: linux, corenet (default linux)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 vCPU, 10 and 100 connections, 1 run of 2 s, 1 boot")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--smp", default="1,2", help="vCPU counts (default 1,2)")
    p.add_argument("--conns", default="10,1000,10000", help="wrk connection counts")
    p.add_argument("--boots", type=int, default=5, help="extra boot-only runs per guest and vCPU count")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (the host has 2 cores, shared with QEMU)")
    p.add_argument("--boot-timeout", type=int, default=120)
    p.add_argument("--settle", type=int, default=30,
                   help="max seconds to wait after each wrk run for the connections to close")
    p.add_argument("--json", default=os.path.join(ROOT, "target/bench/http.json"))
    p.add_argument("--plots", help="folder for the PNG plots (default: the JSON file's folder)")
    p.add_argument("--nic", default="virtio", choices=["virtio", "igb"],
                   help="NIC model of both guests (igb: QEMU >= 8, fetched by qemu-run.sh; Linux on its generic kernel)")
    a = p.parse_args()
    global NIC
    NIC = a.nic
    if a.quick:
        a.runs, a.duration, a.smp, a.conns, a.boots = 1, 2, "1", "10,100", 1
    a.smp = [int(x) for x in str(a.smp).split(",")]
    a.conns = [int(x) for x in str(a.conns).split(",")]
    if not (1 <= a.runs <= 50 and 1 <= a.duration <= 120 and 0 <= a.boots <= 50):
        p.error("--runs 1..50, --duration 1..120, --boots 0..50")
    if os.geteuid() != 0:
        p.error("needs root (network namespaces and taps)")
    names = [g.strip() for g in a.guest.split(",") if g.strip()]
    for g in names:
        if g not in GUESTS:
            p.error(f"unknown guest {g} (known: {', '.join(GUESTS)})")
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so QEMU is killed and the namespace
    # deleted by the `finally`/`with` blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_wrk()
    # wrk needs a descriptor per connection.
    need = max(a.conns) + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))

    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "command": " ".join(sys.argv), "machine": machine_info(),
               "params": {"runs": a.runs, "duration_s": a.duration, "smp": a.smp, "conns": a.conns,
                          "boots": a.boots, "wrk_threads": a.threads, "settle_s": a.settle,
                          "wrk": " ".join(wrk_argv(max(a.conns), a.duration, a.threads))},
               "guests": {}, "boot": [], "http": [], "errors": [], "console_tail": {}}
    for name in names:
        guest = GUESTS[name]()
        print(f"http_bench.py: preparing {name}", file=sys.stderr)
        try:
            guest.prepare()
        except Exception as e:  # noqa: BLE001
            results["errors"].append({"guest": name, "error": f"prepare: {e}"})
            print(f"http_bench.py: {name}: {e}", file=sys.stderr)
            continue
        results["guests"][name] = {"info": guest.info,
                                   "qemu_run": " ".join(["./qemu-run.sh"] + guest.qemu_run_args(1))
                                   .replace(ROOT + os.sep, "")}
        bench_guest(guest, a, results)
    results["summary"] = summarize(results)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    print_tables(results["summary"], a)
    for e in results["errors"]:
        print(f"error: {e['guest']}{' smp=' + str(e['smp']) if 'smp' in e else ''}: {e['error'].splitlines()[0]}")
    print(f"\nresults: {a.json}")
    plot(a.json, a.plots or os.path.dirname(os.path.abspath(a.json)))
    return 0 if results["http"] else 1


if __name__ == "__main__":
    sys.exit(main())
