#!/usr/bin/env python3
"""bench/boot.py: how fast corenet boots, QEMU process start to the ready line.

For each machine type (q35 with qboot, microvm) boots the `hello` appliance with
`run_for=0` several times and reports, as medians:
  - wall_ms: QEMU process start -> `corenet: ready` seen on the serial console (host clock)
  - exit_ms: QEMU process start -> QEMU exited (includes QEMU's teardown; other appliances than
    hello are stopped at the ready line)
  - boot_us: the guest's own figure, first boot instruction -> ready line (guest TSC)
Timings are never asserted; they are recorded in docs/BENCHMARKS.md. The machine is shared:
read medians, not single runs.

Usage: bench/boot.py [--runs N] [--smp N] [--accel tcg|kvm|auto] [--app NAME] [--net MODE] [--json FILE]
"""
import argparse
import datetime
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def qemu_command(machine, smp, accel, app, net):
    img = os.path.join(ROOT, f"target/x86_64-unknown-none/release/{app}")
    out = subprocess.run(
        [os.path.join(ROOT, "qemu-run.sh"), "--kernel", img, "--machine", machine, "--smp", str(smp),
         "--accel", accel, "--net", net, "--cmdline", "run_for=0 log=warn", "--dry-run"],
        check=True, capture_output=True, text=True).stdout.strip()
    return shlex.split(out)


def one(cmd, timeout=60, stop_at_ready=False):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    ready_ms, boot_us = None, None
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace")
            if ready_ms is None and line.startswith("corenet: ready"):
                ready_ms = (time.monotonic() - t0) * 1000
                m = re.search(r"boot_us=(\d+)", line)
                boot_us = int(m.group(1)) if m else None
                if stop_at_ready:
                    p.terminate()
            if time.monotonic() - t0 > timeout:
                break
        p.wait(timeout=max(1, timeout - (time.monotonic() - t0)))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    exit_ms = (time.monotonic() - t0) * 1000
    if ready_ms is None:
        raise RuntimeError(f"no ready line from {' '.join(cmd)}")
    return ready_ms, exit_ms, boot_us


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--app", default="hello", help="appliance to boot (hello: no network work)")
    ap.add_argument("--net", default="none", help="qemu-run.sh --net mode (none, user)")
    ap.add_argument("--json")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "-q", "--release", "--target", "x86_64-unknown-none", "-p", a.app],
                   cwd=ROOT, check=True)
    results = {}
    for machine in ("q35", "microvm"):
        cmd = qemu_command(machine, a.smp, a.accel, a.app, a.net)
        stop = a.app != "hello"  # only hello ends by itself (run_for=0)
        one(cmd, stop_at_ready=stop)  # warm the page cache
        runs = [one(cmd, stop_at_ready=stop) for _ in range(a.runs)]
        r = {
            "wall_ms": statistics.median(x[0] for x in runs),
            "exit_ms": statistics.median(x[1] for x in runs),
            "boot_us": statistics.median(x[2] for x in runs),
            "wall_ms_min": min(x[0] for x in runs),
            "wall_ms_max": max(x[0] for x in runs),
            "runs": a.runs,
        }
        results[machine] = r
        print(f"{machine:8} app={a.app} net={a.net} smp={a.smp} accel={a.accel}: start->ready median {r['wall_ms']:.1f} ms "
              f"(min {r['wall_ms_min']:.1f}, max {r['wall_ms_max']:.1f}), start->exit {r['exit_ms']:.1f} ms, "
              f"guest boot_us median {r['boot_us']:.0f}")
    if a.json:
        with open(a.json, "w") as f:
            # The date and the command line make the file checkable on its own (docs/BENCHMARKS.md).
            json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "command": " ".join(["bench/boot.py"] + sys.argv[1:]), "app": a.app, "net": a.net,
                       "smp": a.smp, "accel": a.accel, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
