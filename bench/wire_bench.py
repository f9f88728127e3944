#!/usr/bin/env python3
"""bench/wire_bench.py: 10 MB each way through the seeded faulty wire, corenet and the Linux guest.

The link-fault cases of tests/e2e/e2e.py, measured side by side: for every scenario (loss,
reorder, duplicate, corrupt, added delay with and without loss) and every guest, this script
creates a private network namespace, starts tests/e2e/faultwire.py in it (tap 10.0.0.1/24 on
the Linux side, QEMU's `-netdev dgram` on the other, seeded faults), boots the guest on the
same `qemu-run.sh --net dgram` line (q35, TCG, virtio-net-pci, guest 10.0.0.2), and runs
--runs transfers of --bytes random bytes to the guest's TCP echo service (port 7: corenet's
httpd; busybox `nc -ll -e cat` in bench/linux-guest/init) while reading them back, checking
the SHA-256. The wire starts afresh with the same seed for every boot, so both guests see the
same fault rates from the same random stream (not the same frames: the frames differ).

Nothing here asserts a timing. Output: a table on stderr and a JSON results file (--json,
default target/bench/wire.json) with every transfer, medians, and corenet:linux time ratios.
Every transfer records what changed during it, so a slow one can be explained: `guest`, the
corenet guest's /metrics samples that moved (retransmissions, loss recoveries, tail-loss
probes, RTOs, buffer growths and fallbacks; read over the same wire before and after), and
`wire`, the wire's own figures (faultwire.py's counters per direction, frames the UDP sockets
between QEMU and the wire dropped because their reader fell behind, the tap's drops, the
deepest delay line) and what the client's TCP (the host's Linux) did about losses towards the
guest (`host_tcp.*`: retransmitted segments, RTOs, probes, SACK recoveries). A failed transfer also keeps corenet's non-zero /metrics samples after
it, and every boot's console goes to target/bench/wire-logs/console-SCENARIO-GUEST.log.
Needs root (namespaces, taps). Every boot has a hard timeout, every transfer a time limit.

Usage: sudo bench/wire_bench.py [--runs N] [--bytes N] [--scenario NAME,...]
                                [--guest corenet,linux] [--corenet-cmdline STR] [--json FILE]
"""
import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests/e2e"))
from http_bench import GUEST_IP, ROOT, Boot, CorenetGuest, LinuxGuest, Netns  # noqa: E402
from e2e import echo_transfer  # noqa: E402
from ring_bench import fetch_metrics  # noqa: E402

FAULTWIRE = os.path.join(ROOT, "tests/e2e/faultwire.py")
# QEMU's dgram port and the wire's; distinct from tests/e2e (10101/10102) so both can run.
DGRAM = (10311, 10312)
SEED = 7

# name -> faultwire.py options; delay is one way, so the round trip grows by twice it.
SCENARIOS = {
    "clean": [],
    "loss-1pct": ["--loss", "0.01"],
    "loss-5pct": ["--loss", "0.05"],
    "reorder-25pct": ["--reorder", "0.25"],
    "duplicate-2pct": ["--duplicate", "0.02"],
    "corrupt-0.5pct": ["--corrupt", "0.005"],
    "rtt-10ms": ["--delay-ms", "5"],
    "rtt-10ms-loss-1pct": ["--delay-ms", "5", "--loss", "0.01"],
    "rtt-50ms": ["--delay-ms", "25"],
    "rtt-50ms-loss-1pct": ["--delay-ms", "25", "--loss", "0.01"],
}


def dgram_args(args):
    """Swap `--net tap` for the faulty wire's dgram backend in a guest's qemu-run.sh line."""
    args = list(args)
    i = args.index("--net")
    args[i + 1] = "dgram"
    return args[: i + 2] + ["--dgram", f"{DGRAM[0]}:{DGRAM[1]}"] + args[i + 2:]


class WireLinux(LinuxGuest):
    def qemu_run_args(self, smp):
        return dgram_args(super().qemu_run_args(smp))


class WireCorenet(CorenetGuest):
    def __init__(self, cmdline):
        self.cmdline = cmdline

    def qemu_run_args(self, smp):
        args = ["--kernel", self.kernel, "--net", "dgram", "--dgram", f"{DGRAM[0]}:{DGRAM[1]}",
                "--smp", str(smp)]
        return args + (["--cmdline", self.cmdline] if self.cmdline else [])


def udp_drops():
    """Frames the kernel dropped per local UDP port in this namespace (/proc/self/net/udp's
    last column): the wire's port counts frames from QEMU it did not read in time, QEMU's
    port frames for the guest that QEMU did not take (its receive ring full)."""
    out = {}
    try:
        with open("/proc/self/net/udp") as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                port = int(cols[1].rsplit(":", 1)[1], 16)
                name = {DGRAM[1]: "udp_drops_at_wire", DGRAM[0]: "udp_drops_at_qemu"}.get(port)
                if name:
                    out[name] = int(cols[-1])
    except (OSError, ValueError, IndexError):
        pass
    return out


def tap_drops():
    """The wire's tap counters (this namespace's /proc/self/net/dev): rx_dropped, tx_dropped."""
    try:
        with open("/proc/self/net/dev") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name.strip() == "wire0":
                    v = [int(x) for x in rest.split()]
                    return {"tap_rx_dropped": v[3], "tap_tx_dropped": v[11]}
    except (OSError, ValueError, IndexError):
        pass
    return {}


# The client's own TCP (the host's Linux, in this namespace): what it did about losses on
# the way to the guest (/proc/self/net/snmp and netstat, as `nstat` shows them).
HOST_TCP = ("RetransSegs", "TCPTimeouts", "TCPLossProbes", "TCPSackRecovery", "TCPFastRetrans",
            "TCPLostRetransmit", "TCPSpuriousRTOs", "TCPSACKReorder")


def host_tcp():
    out = {}
    for name in ("snmp", "netstat"):
        try:
            with open(f"/proc/self/net/{name}") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for keys, vals in zip(lines[::2], lines[1::2]):
            for k, v in zip(keys.split()[1:], vals.split()[1:]):
                if k in HOST_TCP:
                    out[f"host_tcp.{k}"] = int(v)
    return out


def wire_snapshot(wire, stats_file):
    """faultwire.py's counters (asked for with SIGUSR1), flattened, plus the kernel's drops."""
    out = {}
    try:
        mtime = os.stat(stats_file).st_mtime_ns if os.path.exists(stats_file) else 0
        wire.send_signal(signal.SIGUSR1)
        for _ in range(50):
            if os.path.exists(stats_file) and os.stat(stats_file).st_mtime_ns != mtime:
                break
            time.sleep(0.02)
        with open(stats_file) as f:
            for way, counts in json.load(f).items():
                for k, v in counts.items():
                    out[f"{way}.{k}" if way != "wire" else k] = v
    except (OSError, ValueError):
        pass
    out.update(udp_drops())
    out.update(tap_drops())
    out.update(host_tcp())
    return out


def numeric(d):
    out = {}
    for k, v in d.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def delta(before, after):
    """What moved between two snapshots: counters as differences; gauges (a Prometheus name
    without `_total`) and the wire's high-water marks (`max_`) as their value after."""
    b, a_ = numeric(before), numeric(after)
    out = {}
    for k, v in a_.items():
        name = k.split("{")[0]
        gauge = name.startswith("max_") or (name.startswith("corenet_") and not name.endswith("_total"))
        d = v if gauge else v - b.get(k, 0.0)
        if d:
            out[k] = int(d) if d == int(d) else d
    return out


def one_boot(guest, scenario, a):
    """Wire + guest in a fresh namespace, --runs transfers: a list of run records."""
    runs = []
    budget = 120 + a.runs * (a.timeout + 10)
    with Netns(f"wire-{os.getpid()}-{guest.name}"):
        log = open(os.path.join(a.logs, f"faultwire-{scenario}-{guest.name}.log"), "wb")
        stats = os.path.join(a.logs, f"faultwire-{scenario}-{guest.name}.stats.json")
        if os.path.exists(stats):
            os.unlink(stats)
        wire = subprocess.Popen(
            [sys.executable, FAULTWIRE, "--tap", "wire0", "--qemu-port", str(DGRAM[0]),
             "--wire-port", str(DGRAM[1]), "--seed", str(SEED), "--max-seconds", str(budget + 30),
             "--stats", stats]
            + SCENARIOS[scenario], stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)
            b = Boot(guest, a.smp, hard_timeout=budget, boot_timeout=120)
            try:
                for i in range(a.runs):
                    g0 = fetch_metrics(guest.metrics_path) if guest.metrics_path else {}
                    w0 = wire_snapshot(wire, stats)
                    try:
                        sent, back, n, secs = echo_transfer(GUEST_IP, 7, a.bytes, a.timeout)
                        rec = {"seconds": round(secs, 3), "bytes_back": n, "intact": sent == back}
                        # The guest counts a connection's loss events when it frees it, after
                        # its last ACK: give the close a few round trips before looking.
                        time.sleep(1)
                        rec["wire"] = delta(w0, wire_snapshot(wire, stats))
                        if guest.metrics_path:
                            rec["guest"] = delta(g0, fetch_metrics(guest.metrics_path))
                    except OSError as e:  # a timeout or reset: recorded, the next run goes on
                        rec = {"seconds": None, "error": str(e), "intact": False}
                        # What the guest counted (resets sent, sheds, timeouts) says who ended it.
                        if guest.metrics_path:
                            rec["guest_metrics"] = fetch_metrics(guest.metrics_path)
                    runs.append(rec)
                    print(f"  {scenario} {guest.name} run {i + 1}: {rec}", file=sys.stderr, flush=True)
            finally:
                b.stop()
                with open(os.path.join(a.logs, f"console-{scenario}-{guest.name}.log"), "w") as f:
                    f.write("\n".join(b.lines) + "\n")
        finally:
            wire.terminate()
            try:
                wire.wait(timeout=10)
            except subprocess.TimeoutExpired:
                wire.kill()
                wire.wait()
            log.close()
    return runs


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bytes", type=int, default=10 << 20)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--timeout", type=int, default=300, help="limit per transfer (s)")
    p.add_argument("--scenario", default=",".join(SCENARIOS))
    p.add_argument("--guest", default="corenet,linux")
    p.add_argument("--corenet-cmdline", default="")
    p.add_argument("--json", default=os.path.join(ROOT, "target/bench/wire.json"))
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("wire_bench.py: needs root (network namespaces and taps)")
    a.logs = os.path.join(ROOT, "target/bench/wire-logs")
    os.makedirs(a.logs, exist_ok=True)
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "command": " ".join(["bench/wire_bench.py"] + sys.argv[1:]),
               "git": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
               "bytes_each_way": a.bytes, "smp": a.smp, "seed": SEED, "scenarios": {}}
    guests = []
    for name in a.guest.split(","):
        g = WireCorenet(a.corenet_cmdline) if name == "corenet" else WireLinux()
        g.prepare()
        guests.append(g)

    def save():
        os.makedirs(os.path.dirname(a.json), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)

    for scenario in a.scenario.split(","):
        row = {"faultwire": SCENARIOS[scenario]}
        for g in guests:
            try:
                runs = one_boot(g, scenario, a)
            except Exception as e:  # noqa: BLE001 - recorded, the other guests and scenarios go on
                runs = [{"seconds": None, "error": str(e)[-400:], "intact": False}]
                print(f"  {scenario} {g.name}: {e}", file=sys.stderr)
            good = [r["seconds"] for r in runs if r.get("intact")]
            med = statistics.median(good) if good else None
            row[g.name] = {"runs": runs, "median_s": med,
                           "goodput_MBps": round(a.bytes / med / 1e6, 3) if med else None}
        c, l_ = row.get("corenet", {}).get("median_s"), row.get("linux", {}).get("median_s")
        if c and l_:
            row["time_ratio_corenet_to_linux"] = round(c / l_, 2)
        results["scenarios"][scenario] = row
        save()
        print(f"{scenario}: corenet {c} s, linux {l_} s, ratio {row.get('time_ratio_corenet_to_linux')}",
              file=sys.stderr, flush=True)
    print(f"results: {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
