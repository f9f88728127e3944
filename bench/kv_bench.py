#!/usr/bin/env python3
"""bench/kv_bench.py: corenet's kv appliance against Redis in the Linux guest, redis-benchmark.

Both guests boot on the same `qemu-run.sh --net tap` line (q35, TCG, virtio-net-pci on a
multi-queue tap in a private network namespace, guest 10.0.0.2), as bench/http_bench.py boots
them: corenet runs apps/kv (RESP2 on port 6379, keys partitioned across cores); the Linux guest
(bench/linux-guest) runs Debian's redis-server with its default configuration (one thread for
commands, persistence off). For each vCPU count and guest, Debian's redis-benchmark runs
unchanged from inside the namespace:

    redis-benchmark -h 10.0.0.2 -t set,get,incr,lpush,lpop -c 50 -n N [-P 16] --csv

--runs times per pipeline depth, the guests alternating within each vCPU count. Nothing
here asserts a timing. Output: a table on stderr and a JSON file (--json, default
target/bench/kv.json) with every run, the medians and the corenet/Redis ratios. Needs root
(namespaces, taps). Every boot has a hard timeout; every redis-benchmark a time limit.

--cpu records the host CPU each QEMU thread (vCPUs `CPU n/TCG`, the main loop and I/O
thread `qemu-system-x86`), redis-benchmark and the rest of the host used during each run;
--info the guest's INFO per core at the end (connections per core: RSS's spread; forwarded
commands; ring messages); --load N runs N busy host processes during the runs (a shared
host's other work, for an A/B under contention).

Usage: sudo bench/kv_bench.py [--smp 1,2] [--runs N] [--requests N] [--guest corenet,linux]
                              [--keyspace N] [--corenet-cmdline 'idle=poll'] [--json FILE]
                              [--pipelines 1,16] [--threads N] [--cpu] [--info] [--load N]
                              [--netns PREFIX] [--corenet-kernel IMAGE]
"""
import argparse
import csv
import datetime
import io
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import (GUEST_IP, ROOT, Boot, CorenetGuest, LinuxGuest, Netns, ensure_tool, plot,  # noqa: E402
                        session_members)

TESTS = "set,get,incr,lpush,lpop"
PORT = 6379


class KvCorenet(CorenetGuest):
    app = "kv"
    cmdline = ""  # --corenet-cmdline (e.g. idle=poll)
    image = ""  # --corenet-kernel

    def prepare(self):
        if not self.image:
            return super().prepare()
        self.kernel = self.image
        self.info = [f"app {self.app} (image {os.path.relpath(self.image, ROOT)})"]

    def qemu_run_args(self, smp):
        extra = ["--cmdline", self.cmdline] if self.cmdline else []
        # Named QEMU threads (`CPU 0/TCG`, ...) for --cpu.
        return ["--kernel", self.kernel, "--net", "tap", "--smp", str(smp)] + extra \
            + ["--", "-name", "debug-threads=on"]


class KvBoot(Boot):
    """A boot that is up when port 6379 answers PING (the kv appliance serves no HTTP)."""

    def _first_200(self, deadline):
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((GUEST_IP, PORT), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return time.monotonic()
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.guest.name}: ready line seen but no PONG before the deadline")


TICK = os.sysconf("SC_CLK_TCK")


def qemu_threads(boot):
    """{thread name: utime+stime ticks} of the boot's QEMU (vCPU threads `CPU n/TCG`, the main
    loop/I/O thread `qemu-system-x86`, workers summed by name)."""
    out = {}
    for pid in session_members(boot.proc.pid):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if not f.read().startswith("qemu-system"):
                    continue
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            name = st[st.index("(") + 1:st.rindex(")")]
            fields = st[st.rindex(")") + 2:].split()
            out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def processes():
    """{pid: (comm, utime+stime ticks)} of the host's processes (kernel threads too)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        out[d] = (name, int(fields[11]) + int(fields[12]))
    return out


def host_busy():
    """(busy, total) jiffies of all host CPUs (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


class CpuSample:
    """Host CPU per QEMU thread, of redis-benchmark and of the whole host over one run, in %
    of one host core (wall-clock time of the run)."""

    def __init__(self, boot):
        self.boot = boot
        self.q0 = qemu_threads(boot)
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.c0 = r.ru_utime + r.ru_stime
        self.h0 = host_busy()
        self.p0 = processes()
        self.t0 = time.monotonic()

    def done(self):
        wall = max(time.monotonic() - self.t0, 1e-6)
        q1 = qemu_threads(self.boot)
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        h1 = host_busy()
        p1 = processes()
        pct = {k: round(100 * (v - self.q0.get(k, 0)) / TICK / wall, 1) for k, v in sorted(q1.items())}
        pct = {k: v for k, v in pct.items() if v >= 0.5}
        pct["redis-benchmark"] = round(100 * (r.ru_utime + r.ru_stime - self.c0) / wall, 1)
        # Everything else that ran meanwhile (other work on the host, softirq threads), top 4.
        rest = {}
        for pid, (k, v) in p1.items():
            if not k.startswith("qemu-system") and k != "redis-benchmark":
                k = k.split("-")[0] if k.startswith("kworker") else k  # a kworker's name changes
                rest[k] = rest.get(k, 0) + 100 * (v - self.p0.get(pid, (k, 0))[1]) / TICK / wall
        for k, v in sorted(rest.items(), key=lambda kv: -kv[1])[:4]:
            if v >= 2:
                pct["other: " + k] = round(v, 1)
        pct["host (of 200)"] = round(200 * (h1[0] - self.h0[0]) / max(h1[1] - self.h0[1], 1), 1)
        return pct


def redis_benchmark(requests, pipeline, timeout, keyspace=0, threads=0):
    """One redis-benchmark run: {test: requests/s}, or an error string. Without `keyspace`
    every test uses one key (redis-benchmark's default), so on corenet one core owns it and
    the other cores forward to it; `-r keyspace` spreads the keys over every core."""
    cmd = ["redis-benchmark", "-h", GUEST_IP, "-p", str(PORT), "-t", TESTS, "-c", "50",
           "-n", str(requests), "-P", str(pipeline), "--csv"] + (["-r", str(keyspace)] if keyspace else []) \
        + (["--threads", str(threads)] if threads else [])
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"redis-benchmark took over {timeout} s"
    rows = list(csv.reader(io.StringIO(r.stdout)))
    out = {}
    for row in rows[1:]:
        if len(row) >= 2:
            try:
                out[row[0].split()[0].upper()] = float(row[1])
            except ValueError:
                pass
    if r.returncode != 0 or len(out) < len(TESTS.split(",")):
        return f"exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}"
    return out


def kv_info():
    """INFO from the guest, once per connection until both cores were seen (corenet answers
    for the serving core), as {serving_core: text}; a few tries, bounded."""
    seen = {}
    for _ in range(20):
        try:
            with socket.create_connection((GUEST_IP, PORT), timeout=2) as s:
                s.sendall(b"INFO\r\n")
                data = b""
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if data.startswith(b"$"):
                        head, _, rest = data.partition(b"\r\n")
                        if len(rest) >= int(head[1:]):
                            break
        except (OSError, ValueError):
            continue
        text = data.decode(errors="replace")
        core = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("serving_core:")), "?")
        seen[core] = text
        if len(seen) >= 2:
            break
    return seen


def bench(guest, smp, a, results):
    budget = 120 + a.runs * 2 * (a.timeout + 10)
    rows = []
    with Netns(f"{a.netns}-{os.getpid()}-{guest.name}"):
        b = KvBoot(guest, smp, hard_timeout=budget, boot_timeout=120)
        # --load: busy host processes standing in for other work on a shared host (bounded by
        # `timeout`, stopped by their pids below).
        spinners = [subprocess.Popen(["timeout", str(budget), "sh", "-c", "while :; do :; done"])
                    for _ in range(a.load)]
        try:
            redis_benchmark(1000, 1, a.timeout)  # warm-up, not recorded
            for pipeline in [int(x) for x in a.pipelines.split(",")]:
                n = a.requests * (5 if pipeline > 1 else 1)
                for i in range(a.runs):
                    cpu = CpuSample(b) if a.cpu else None
                    got = redis_benchmark(n, pipeline, a.timeout, a.keyspace, a.threads)
                    row = {"guest": guest.name, "smp": smp, "pipeline": pipeline, "requests": n,
                           "run": i + 1, "rps": got if isinstance(got, dict) else None,
                           "error": got if isinstance(got, str) else None}
                    shown = " ".join(f"{k}={v:.0f}" for k, v in got.items()) if isinstance(got, dict) else got
                    print(f"  {guest.name} smp={smp} -P {pipeline} run {i + 1}: {shown}", file=sys.stderr)
                    if cpu:
                        row["cpu_pct"] = cpu.done()
                        print("    host CPU %: " + ", ".join(f"{k} {v}" for k, v in row["cpu_pct"].items()),
                              file=sys.stderr)
                    rows.append(row)
            if a.info:
                row = {"guest": guest.name, "smp": smp, "rps": None, "info": kv_info()}
                rows.append(row)
        finally:
            for sp in spinners:
                sp.terminate()
                sp.wait()
            b.stop()
    results["runs"].extend(rows)


def medians(results):
    """{(guest, smp, pipeline): {test: median requests/s}}."""
    out = {}
    for r in results["runs"]:
        if r["rps"]:
            for test, v in r["rps"].items():
                out.setdefault((r["guest"], r["smp"], r["pipeline"]), {}).setdefault(test, []).append(v)
    return {k: {t: statistics.median(v) for t, v in d.items()} for k, d in out.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smp", default="1,2")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--requests", type=int, default=20000, help="per test without pipelining (x5 with -P 16)")
    p.add_argument("--timeout", type=int, default=180, help="limit per redis-benchmark run (s)")
    p.add_argument("--guest", default="corenet,linux")
    p.add_argument("--keyspace", type=int, default=0, help="redis-benchmark -r N (random keys); 0: one key per test")
    p.add_argument("--corenet-kernel", default="",
                   help="boot this kv image instead of building apps/kv (an A/B of two builds; a path relative to the checkout)")
    p.add_argument("--corenet-cmdline", default="", help="extra kernel command line for corenet (e.g. idle=poll)")
    p.add_argument("--pipelines", default="1,16", help="redis-benchmark -P values to run (default 1,16)")
    p.add_argument("--threads", type=int, default=0, help="redis-benchmark --threads N (0: its default, one)")
    p.add_argument("--cpu", action="store_true",
                   help="record host CPU per QEMU thread, of redis-benchmark and of the host during each run")
    p.add_argument("--info", action="store_true", help="record the guest's INFO (corenet: per-core counters) at the end")
    p.add_argument("--load", type=int, default=0,
                   help="run N busy-looping host processes during the runs (a shared host's other work)")
    p.add_argument("--netns", default="kvbench", help="prefix of the network namespaces' names")
    p.add_argument("--json", default=os.path.join(ROOT, "target/bench/kv.json"))
    a = p.parse_args()
    KvCorenet.cmdline = a.corenet_cmdline
    KvCorenet.image = os.path.join(ROOT, a.corenet_kernel) if a.corenet_kernel else ""
    if os.geteuid() != 0:
        sys.exit("kv_bench.py: needs root (network namespaces and taps)")
    ensure_tool("redis-benchmark", "redis-tools")
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "command": " ".join(["bench/kv_bench.py"] + sys.argv[1:]),
               "git": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
               "redis_benchmark": f"redis-benchmark -h {GUEST_IP} -t {TESTS} -c 50 -n N [-P 16] --csv"
                                  + (f" -r {a.keyspace}" if a.keyspace else ""),
               "runs": []}
    guests = {"corenet": KvCorenet, "linux": LinuxGuest}
    prepared = {}
    for name in a.guest.split(","):
        g = guests[name]()
        g.prepare()
        prepared[name] = g
    for smp in [int(s) for s in a.smp.split(",")]:
        for name, g in prepared.items():
            try:
                bench(g, smp, a, results)
            except RuntimeError as e:
                print(f"  {name} smp={smp}: {e}", file=sys.stderr)
                results["runs"].append({"guest": name, "smp": smp, "error": str(e), "rps": None})
    med = medians(results)
    results["medians"] = [{"guest": g, "smp": s, "pipeline": pl, "rps": v} for (g, s, pl), v in sorted(med.items())]
    ratios = []
    for (g, s, pl), v in sorted(med.items()):
        other = med.get(("linux", s, pl))
        if g == "corenet" and other:
            ratios.append({"smp": s, "pipeline": pl,
                           "corenet_over_redis": {t: v[t] / other[t] for t in v if other.get(t)}})
    results["ratios"] = ratios
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    tests = [t.upper() for t in TESTS.split(",")]
    print(f"\nmedian requests/s of {a.runs} runs ({', '.join(tests)}):", file=sys.stderr)
    for (g, s, pl), v in sorted(med.items()):
        print(f"  {g:8} smp={s} -P {pl:<2} " + " ".join(f"{t}={v.get(t, 0):.0f}" for t in tests), file=sys.stderr)
    for r in ratios:
        print(f"  corenet/redis smp={r['smp']} -P {r['pipeline']:<2} "
              + " ".join(f"{t}={x:.2f}x" for t, x in r["corenet_over_redis"].items()), file=sys.stderr)
    print(f"results: {a.json}", file=sys.stderr)
    # kv-rps.png and kv-ratio.png beside the JSON file, named after it.
    stem = os.path.splitext(os.path.basename(a.json))[0]
    plot(a.json, os.path.dirname(os.path.abspath(a.json)), stem + "-")


if __name__ == "__main__":
    main()
