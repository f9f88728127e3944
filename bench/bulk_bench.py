#!/usr/bin/env python3
"""bench/bulk_bench.py: one large HTTP download, corenet's httpd against nginx in the Linux guest.

Both guests boot on the same `qemu-run.sh --net tap` line (q35, TCG, virtio-net-pci on a tap in
a private network namespace, guest 10.0.0.2), as bench/http_bench.py boots them, and this
script downloads http://10.0.0.2/bytes/N with curl --runs times from inside the namespace:
corenet generates the body (`GET /bytes/N`, streamed from the image, apps/httpd/src/bulk.rs);
nginx sends the same bytes from a file its init makes (`bytes=N`, bench/linux-guest/init).
Every body is checked byte for byte against the expected pattern (its SHA-256).

Nothing here asserts a timing. Output: a table on stderr and a JSON results file (--json,
default target/bench/bulk.json) with every run, medians, and the corenet/linux ratio.
Needs root (namespaces, taps). Every boot has a hard timeout; every download a curl limit.

Usage: sudo bench/bulk_bench.py [--bytes N] [--runs N] [--smp N] [--guest corenet,linux]
                                [--corenet-cmdline STR] [--json FILE]
"""
import argparse
import datetime
import hashlib
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import GUEST_IP, ROOT, Boot, CorenetGuest, LinuxGuest, Netns, session_members  # noqa: E402,E501

LINE = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"


def expected_sha256(n):
    h = hashlib.sha256()
    whole, rest = divmod(n, len(LINE))
    block = LINE * 1024
    for _ in range(whole // 1024):
        h.update(block)
    h.update(LINE * (whole % 1024))
    h.update(LINE[:rest])
    return h.hexdigest()


class BulkLinux(LinuxGuest):
    def __init__(self, n):
        self.n = n

    def qemu_run_args(self, smp):
        args = super().qemu_run_args(smp)
        i = args.index("--cmdline")
        args[i + 1] += f" bytes={self.n}"
        # The file lives in the initramfs (RAM): room for it next to the page cache.
        return ["--mem", "1G"] + args


class BulkCorenet(CorenetGuest):
    def __init__(self, cmdline):
        self.cmdline = cmdline

    def qemu_run_args(self, smp):
        args = ["--kernel", self.kernel, "--net", "tap", "--smp", str(smp), "--mem", "1G"]
        return args + (["--cmdline", self.cmdline] if self.cmdline else [])


def download(n, timeout):
    """curl the body into sha256sum: (seconds, bytes, ok)."""
    curl = subprocess.Popen(
        ["curl", "-s", "--max-time", str(timeout), "-o", "-", "-w", "%{time_total} %{size_download} %{http_code}",
         f"http://{GUEST_IP}/bytes/{n}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # curl writes the body, then the -w line, to stdout: hash all but the -w line's bytes.
    data = curl.stdout.read()
    curl.wait(timeout=timeout + 10)
    body, _, tail = data.rpartition(b"\n")
    body += b"\n"
    # The -w text follows the body without a newline; the body ends with one.
    fields = tail.decode(errors="replace").split()
    if len(fields) != 3 or fields[2] != "200":
        return None, len(data), False
    secs, size = float(fields[0]), int(fields[1])
    ok = size == n and hashlib.sha256(body[:n]).hexdigest() == expected_sha256(n) and len(body) >= n
    return secs, size, ok


def qemu_cpu(boot):
    """CPU seconds (user + system) of each thread of the boot's QEMU, by thread name."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in session_members(boot.proc.pid):
        try:
            if not open(f"/proc/{pid}/comm").read().startswith("qemu"):
                continue
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                stat = open(f"/proc/{pid}/task/{tid}/stat").read()
            except OSError:
                continue
            # Keyed by thread id too: without `-name debug-threads=on` every thread is named
            # after the process (the vCPU thread is then the busiest one).
            name = stat[stat.index("(") + 1:stat.rindex(")")] + "/" + tid
            f = stat[stat.rindex(")") + 2:].split()
            out[name] = (int(f[11]) + int(f[12])) / tick
    return out


def guest_tx(guest):
    """(frames, bytes, busy µs) corenet's queues sent and its cores were busy so far (its
    /metrics), or None for other guests."""
    if guest.name != "corenet":
        return None
    try:
        body = subprocess.run(["curl", "-s", "--max-time", "5", f"http://{GUEST_IP}/metrics"],
                              capture_output=True, text=True, timeout=10).stdout
    except subprocess.TimeoutExpired:
        return None
    tot = {"corenet_tx_packets_total": 0, "corenet_tx_bytes_total": 0,
           "corenet_cpu_busy_microseconds_total": 0}
    for line in body.splitlines():
        name = line.split("{")[0].split(" ")[0]
        if name in tot:
            tot[name] += int(float(line.rsplit(" ", 1)[1]))
    return (tot["corenet_tx_packets_total"], tot["corenet_tx_bytes_total"],
            tot["corenet_cpu_busy_microseconds_total"])


def bench(guest, a, results):
    guest.prepare()
    budget = 120 + a.runs * (a.timeout + 15)
    with Netns(f"bulkbench-{os.getpid()}-{guest.name}"):
        b = Boot(guest, a.smp, hard_timeout=budget, boot_timeout=120)
        try:
            download(min(a.bytes, 1 << 20), 60)  # warm-up, not recorded
            runs = []
            for i in range(a.runs):
                cpu0, tx0 = qemu_cpu(b), guest_tx(guest)
                secs, size, ok = download(a.bytes, a.timeout)
                cpu1, tx1 = qemu_cpu(b), guest_tx(guest)
                # Where the time went: each QEMU thread's CPU during the download (the vCPU
                # thread runs the guest; the main loop moves virtio-net frames to the tap).
                cpu = {k: round(v - cpu0.get(k, 0), 2) for k, v in cpu1.items()
                       if v - cpu0.get(k, 0) >= 0.01}
                cpu = dict(sorted(cpu.items(), key=lambda kv: -kv[1]))
                run = {"seconds": secs, "bytes": size, "intact": ok, "qemu_cpu_s": cpu}
                if tx0 and tx1:
                    # Frames handed to the device (a TSO frame counts once) and their bytes.
                    run["guest_tx_frames"] = tx1[0] - tx0[0]
                    run["guest_tx_bytes"] = tx1[1] - tx0[1]
                    # The guest's own time: its cores' busy (not halted) time.
                    run["guest_busy_s"] = round((tx1[2] - tx0[2]) / 1e6, 3)
                runs.append(run)
                mbps = f"{a.bytes / secs / 1e6:.1f} MB/s" if secs else "-"
                print(f"  {guest.name} run {i + 1}: {secs} s, {size} bytes, intact={ok} ({mbps}); "
                      f"QEMU CPU s {cpu}; guest tx frames {run.get('guest_tx_frames', '-')}, "
                      f"busy {run.get('guest_busy_s', '-')} s",
                      file=sys.stderr)
        finally:
            b.stop()
    good = [r["seconds"] for r in runs if r["intact"] and r["seconds"]]
    row = {"guest": guest.name, "smp": a.smp, "bytes": a.bytes, "runs": runs,
           "median_s": statistics.median(good) if good else None,
           "goodput_MBps": a.bytes / statistics.median(good) / 1e6 if good else None}
    results["bulk"].append(row)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bytes", type=int, default=100_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--smp", type=int, default=1)
    p.add_argument("--timeout", type=int, default=300, help="curl limit per download (s)")
    p.add_argument("--guest", default="corenet,linux")
    p.add_argument("--corenet-cmdline", default="", help="e.g. tcpbuf=64K")
    p.add_argument("--json", default=os.path.join(ROOT, "target/bench/bulk.json"))
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bulk_bench.py: needs root (network namespaces and taps)")
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "command": " ".join(["bench/bulk_bench.py"] + sys.argv[1:]),
               "git": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
               "bulk": []}
    rows = {}
    for name in a.guest.split(","):
        g = BulkCorenet(a.corenet_cmdline) if name == "corenet" else BulkLinux(a.bytes)
        rows[name] = bench(g, a, results)
    if rows.get("corenet", {}).get("median_s") and rows.get("linux", {}).get("median_s"):
        results["corenet_speedup"] = rows["linux"]["median_s"] / rows["corenet"]["median_s"]
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n{a.bytes} bytes, {a.smp} vCPU, median of {a.runs}:", file=sys.stderr)
    for r in results["bulk"]:
        print(f"  {r['guest']:8} {r['median_s']} s  {r['goodput_MBps']} MB/s", file=sys.stderr)
    if "corenet_speedup" in results:
        print(f"  corenet / linux speed: {results['corenet_speedup']:.2f}x", file=sys.stderr)
    print(f"results: {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
