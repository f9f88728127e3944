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

Usage: sudo bench/kv_bench.py [--smp 1,2] [--runs N] [--requests N] [--guest corenet,linux]
                              [--keyspace N] [--corenet-cmdline 'idle=poll'] [--json FILE]
"""
import argparse
import csv
import datetime
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import GUEST_IP, ROOT, Boot, CorenetGuest, LinuxGuest, Netns  # noqa: E402

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
        return ["--kernel", self.kernel, "--net", "tap", "--smp", str(smp)] + extra


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


def redis_benchmark(requests, pipeline, timeout, keyspace=0):
    """One redis-benchmark run: {test: requests/s}, or an error string. Without `keyspace`
    every test uses one key (redis-benchmark's default), so on corenet one core owns it and
    the other cores forward to it; `-r keyspace` spreads the keys over every core."""
    cmd = ["redis-benchmark", "-h", GUEST_IP, "-p", str(PORT), "-t", TESTS, "-c", "50",
           "-n", str(requests), "-P", str(pipeline), "--csv"] + (["-r", str(keyspace)] if keyspace else [])
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


def bench(guest, smp, a, results):
    budget = 120 + a.runs * 2 * (a.timeout + 10)
    rows = []
    with Netns(f"kvbench-{os.getpid()}-{guest.name}"):
        b = KvBoot(guest, smp, hard_timeout=budget, boot_timeout=120)
        try:
            redis_benchmark(1000, 1, a.timeout)  # warm-up, not recorded
            for pipeline in (1, 16):
                n = a.requests * (5 if pipeline > 1 else 1)
                for i in range(a.runs):
                    got = redis_benchmark(n, pipeline, a.timeout, a.keyspace)
                    rows.append({"guest": guest.name, "smp": smp, "pipeline": pipeline, "requests": n,
                                 "run": i + 1, "rps": got if isinstance(got, dict) else None,
                                 "error": got if isinstance(got, str) else None})
                    shown = " ".join(f"{k}={v:.0f}" for k, v in got.items()) if isinstance(got, dict) else got
                    print(f"  {guest.name} smp={smp} -P {pipeline} run {i + 1}: {shown}", file=sys.stderr)
        finally:
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
    p.add_argument("--json", default=os.path.join(ROOT, "target/bench/kv.json"))
    a = p.parse_args()
    KvCorenet.cmdline = a.corenet_cmdline
    KvCorenet.image = os.path.join(ROOT, a.corenet_kernel) if a.corenet_kernel else ""
    if os.geteuid() != 0:
        sys.exit("kv_bench.py: needs root (network namespaces and taps)")
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


if __name__ == "__main__":
    main()
