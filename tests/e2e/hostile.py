#!/usr/bin/python3
"""tests/e2e/hostile.py: hostile and overloaded networks against a guest (TESTING.md row 7).

Every case boots a fresh guest (`qemu-run.sh --net tap`, 1 vCPU by default) inside a private
network namespace it creates and deletes, attacks it with a load bounded in time and count,
checks that legitimate clients are served, and that the guest still answers at the end.
/metrics counters (corenet) are recorded before and after each case.

Cases (see docs/RELIABILITY.md for what each shows):
  syn-flood        spoofed SYN flood (hping3 --flood --rand-source, under `timeout`) during wrk
                   and a loop of one-shot GETs: some GETs served during the flood, a GET started
                   1 s after it ends is served;
  rogue-dhcp       ip=dhcp against dnsmasq offering a bad router (broadcast, multicast,
                   off-subnet): no crash, an error on the console, then a good lease from a
                   well-behaved server and the guest serves (also from an off-subnet client);
  bad-gw           gw= broadcast/multicast/zero/off-subnet on the command line: a boot error
                   (exit 5, `BOOT FAILED` naming gw=);
  malformed        thousands of seeded malformed frames (tests/e2e/frames.py): guest serves
                   afterwards, drop counters rose;
  slowloris        up to 2000 connections sending a header byte every few seconds: new
                   clients served during it;
  pipeline         clients pipelining GETs that never read: heap stays bounded, others served;
  udp-flood        UDP at the echo port and at a closed port: guest serves, echo replies and
                   ICMP port-unreachables bounded by the guest's rate limits.

Against `--guest linux` (bench/linux-guest: Debian kernel + nginx on the same QEMU line) the
same measurements are taken and reported; corenet-only checks (counters, guest console
messages, rogue-dhcp and bad-gw, which exercise corenet's own DHCP client and command line)
are not applied. Needs root, hping3, dnsmasq, wrk, curl and python3-scapy (run with
/usr/bin/python3, where Debian's scapy is importable). Closes with `N passed, N failed, N skipped`.

Usage: tests/e2e/hostile.py [--quick] [--only CASE[,CASE]] [--guest corenet|linux|corenet,linux]
                            [--smp N] [--json FILE]
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import ROOT, Results, sh  # noqa: E402
import hostile_cases  # noqa: E402
import hostile_env  # noqa: E402

# rogue-dhcp and bad-gw exercise corenet's own DHCP client and command line.
CORENET_ONLY = ("rogue-dhcp", "bad-gw")
CASES = ["syn-flood", "rogue-dhcp", "bad-gw", "malformed", "slowloris", "pipeline", "udp-flood"]
TOOLS = {"hping3": "hping3", "dnsmasq": "dnsmasq-base", "wrk": "wrk", "curl": "curl", "ip": "iproute2"}


def missing_tools():
    miss = [pkg for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    try:
        import scapy.all  # noqa: F401
    except ImportError:
        miss.append("python3-scapy (run this script with /usr/bin/python3)")
    return miss


def linux_guest():
    """(kernel, initrd, cmdline) of bench/linux-guest, built (cached) on first use."""
    out = sh([os.path.join(ROOT, "bench/linux-guest/build.sh")], timeout=1200)
    kv = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return kv["KERNEL"], kv["INITRD"], kv["CMDLINE"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--guest", default="corenet")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--json", default="", help="write the measurements to this file")
    a = ap.parse_args()
    res = Results("hostile")
    only = [c for c in a.only.split(",") if c]
    bad = [c for c in only if c not in CASES]
    if bad:
        sys.exit(f"unknown case(s) {bad}; cases: {', '.join(CASES)}")
    cases = only or CASES
    guests = a.guest.split(",")
    if os.geteuid() != 0:
        for g in guests:
            for c in cases:
                res.skip(f"{g}-{c}", "needs root: network namespaces and taps")
        return res.summary()
    miss = missing_tools()
    if miss:
        for g in guests:
            for c in cases:
                res.skip(f"{g}-{c}", "missing: apt-get install -y --no-install-recommends " + " ".join(miss))
        return res.summary()
    report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(["tests/e2e/hostile.py"] + sys.argv[1:]),
              "git": sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check_rc=False).strip(),
              "smp": a.smp, "quick": a.quick, "guests": {}}
    for g in guests:
        if g == "corenet":
            subprocess.run(["cargo", "build", "-q", "--release", "--target", "x86_64-unknown-none", "-p", "httpd"],
                           cwd=ROOT, check=True)
            env = hostile_env.Env("corenet", a.smp, a.quick)
        elif g == "linux":
            env = hostile_env.Env("linux", a.smp, a.quick, linux=linux_guest())
        else:
            sys.exit(f"unknown guest {g}")
        report["guests"][g] = env.record
        for c in cases:
            if g != "corenet" and c in CORENET_ONLY:
                continue
            fn = getattr(hostile_cases, c.replace("-", "_"))
            try:
                res.case(f"{g}-{c}", fn, env)
            finally:
                env.cleanup()
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
