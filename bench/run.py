#!/usr/bin/env python3
"""bench/run.py: every benchmark setup of issue 7 in one run, one results file, PNG plots.

  setups 1-4  bench/http_bench.py: the httpd appliance vs a Linux guest (nginx) on the same QEMU
              command line: HTTP requests/s and p50/p99 (1), boot to ready and to first HTTP 200
              (2), 1 and 2 vCPUs (3), 10 / 1 000 / 10 000 connections (4). Needs root
              (a private network namespace and a tap per boot).
  setup 5     bench/host_bench.py: instructions per packet of the drivers and of the per-core
              stack against plain smoltcp (callgrind; no root).

Writes target/bench/results.json ({"host": ..., "http": ...}, each as its script writes it,
plus the commands), target/bench/host.json and http.json, and the plots beside them
(http-rps.png, http-latency.png, boot.png, host-connections.png). Prints both tables and the
ratios. No timing is asserted anywhere.

Usage: sudo bench/run.py [--quick] [--host-only | --http-only] [--out DIR] [-- http_bench options]
  --quick      smoke run (~1 minute once built, Linux guest cached): 1 vCPU, 10 and 100
               connections, one run of 2 s, one boot; host benchmarks with fewer rounds.
  default      what docs/BENCHMARKS.md reports: 3 runs of 5 s, 1 and 2 vCPUs, 10 / 1 000 /
               10 000 connections, 3 boots per guest and vCPU count (10-20 minutes here).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULL_HTTP = ["--guest", "linux,corenet", "--runs", "3", "--duration", "5", "--smp", "1,2",
             "--conns", "10,1000,10000", "--boots", "3", "--settle", "15"]
QUICK_HTTP = ["--guest", "linux,corenet", "--quick"]


def run(argv, timeout):
    print(f"bench/run.py: {' '.join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a for a in argv)}",
          file=sys.stderr, flush=True)
    try:
        return subprocess.run(argv, cwd=ROOT, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        print(f"bench/run.py: gave up after {timeout} s", file=sys.stderr)
        return 124


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--host-only", action="store_true", help="setup 5 only (no root needed)")
    only.add_argument("--http-only", action="store_true", help="setups 1-4 only")
    p.add_argument("--out", default=os.path.join(ROOT, "target/bench"), help="results folder")
    p.add_argument("http_args", nargs="*", help="after --: options for bench/http_bench.py, replacing the defaults")
    a = p.parse_args()
    if not a.host_only and os.geteuid() != 0:
        p.error("setups 1-4 need root (network namespaces and taps): run with sudo, or pass --host-only")
    os.makedirs(a.out, exist_ok=True)
    py = sys.executable
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "command": " ".join(["bench/run.py"] + sys.argv[1:]), "host": None, "http": None, "failed": []}

    if not a.http_only:
        host_json = os.path.join(a.out, "host.json")
        argv = [py, os.path.join(ROOT, "bench/host_bench.py"), "--json", host_json] + (["--quick"] if a.quick else [])
        if run(argv, timeout=1800) != 0:
            res["failed"].append("host_bench.py")
        res["host"] = load(host_json)
    if not a.host_only:
        http_json = os.path.join(a.out, "http.json")
        extra = a.http_args or (QUICK_HTTP if a.quick else FULL_HTTP)
        argv = [py, os.path.join(ROOT, "bench/http_bench.py"), "--json", http_json] + extra
        if run(argv, timeout=3 * 3600) != 0:
            res["failed"].append("http_bench.py")
        res["http"] = load(http_json)

    path = os.path.join(a.out, "results.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"\nbench/run.py: results {path}; plots in {a.out}")
    if res["failed"]:
        print(f"bench/run.py: failed: {', '.join(res['failed'])} (their errors are in the results)")
    got = [k for k in ("host", "http") if res[k]]
    return 0 if got and not res["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
