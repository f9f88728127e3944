#!/usr/bin/env python3
"""bench/ring_bench.py: 10 000 wrk connections at 256- and 1024-entry virtio rings, corenet and Linux.

Issue 12 item 4: does a longer receive ring (QEMU's `rx_queue_size`, set by
`qemu-run.sh --ring N` for a tap) cut the wrk timeouts of a 10 000-connection burst? For
every ring size and guest (interleaved: 256 corenet, 256 linux, 1024 corenet, 1024 linux),
this script boots the guest as bench/http_bench.py does (`qemu-run.sh --net tap`, q35, TCG, a
multi-queue tap in a private namespace, corenet with `tcpbuf=4K`), then runs a 2 s warm-up and
--runs wrk runs of --duration seconds at --conns connections, waiting (bounded) after each
for the connections to close. Recorded per run: req/s, wrk's socket errors (timeouts among
them), the tap's counters over the run (`tx_dropped`: frames for the guest the tap discarded,
QEMU not taking them), and for corenet the guest's non-zero /metrics samples after the warm-up and after each run
(cumulative, labels kept).

QEMU 7.2 gives a tap's transmit queue 256 entries whatever is asked (only vhost-user gets
more), so `--ring 1024` lengthens the receive rings only.

Nothing here asserts a timing. Output: a table on stderr and a JSON results file (--json,
default target/bench/ring.json). Needs root. Every boot has a hard timeout, every wrk run one.

Usage: sudo bench/ring_bench.py [--rings 256,1024] [--guest corenet,linux] [--runs N]
                                [--duration S] [--conns N] [--smp N] [--json FILE]
                                [--txqueuelen N,...] [--main-loop-nice N]
                                [--base-kernel K --guest corenet-base,corenet] [--ns-prefix P]
                                [--pcap-dir DIR] [--sync-profile]

Each run also records host CPU per QEMU thread (QEMU runs with `-name debug-threads=on`)
and over all host cores (bench/run_probe.py); --pcap-dir captures the tap during each boot's
first run, and bench/late_requests.py says where the late requests' time went.
--sync-profile runs QEMU with its lock profiler and records, per run, which call sites waited
for which lock and how long (`info sync-profile` over HMP): who keeps the main loop, which
reads the tap, waiting for QEMU's big lock.

Guest `corenet-base` boots the prebuilt kernel K (e.g. httpd built before a change, copied
aside) on the same line as `corenet`, so before and after are measured in one run.
"""
import argparse
import datetime
import http.client
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import (GUEST_IP, ROOT, Boot, CorenetGuest, LinuxGuest, Netns,  # noqa: E402
                        ensure_wrk, run_wrk, session_members, settle)
from run_probe import Probe, qemu_pid  # noqa: E402


def fetch_metrics(path):
    """The guest's non-zero Prometheus samples, labels kept (drops by reason, per core).
    Tried up to 5 times: right after a run the guest may still refuse (all sockets busy)."""
    for attempt in range(5):
        try:
            c = http.client.HTTPConnection(GUEST_IP, 80, timeout=10)
            c.request("GET", path)
            body = c.getresponse().read().decode(errors="replace")
            c.close()
            break
        except (OSError, http.client.HTTPException) as e:
            if attempt == 4:
                return {"error": str(e)}
            time.sleep(0.5)
    out = {}
    for line in body.splitlines():
        parts = line.strip().rsplit(" ", 1)
        if len(parts) == 2 and not line.startswith("#") and parts[1] not in ("0", "0.0"):
            out[parts[0]] = parts[1]
    return out


def tap_stats():
    """The tap's counters on the host side, from /proc/self/net/dev (this process's namespace;
    /sys/class/net would show the namespace sysfs was mounted in). tx_dropped counts frames
    for the guest that the tap discarded because QEMU did not take them (its ring full)."""
    try:
        with open("/proc/self/net/dev") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name.strip() == "corenet0":
                    v = [int(x) for x in rest.split()]
                    return {"rx_packets": v[1], "rx_dropped": v[3], "tx_packets": v[9], "tx_dropped": v[11]}
    except (OSError, ValueError, IndexError):
        pass
    return {}


def hmp(sock, command, timeout=10):
    """One HMP command on QEMU's monitor socket; its output (prompt and echo stripped)."""
    import socket as _socket
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        buf = b""
        deadline = time.monotonic() + timeout

        def until_prompt():
            nonlocal buf
            while not buf.rstrip().endswith(b"(qemu)") and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        until_prompt()
        buf = b""
        s.sendall(command.encode() + b"\n")
        until_prompt()
        text = buf.decode(errors="replace").replace("\r", "")
        lines = [ln for ln in text.splitlines() if not ln.startswith("(qemu)") and ln.strip() != command]
        return "\n".join(lines).strip()
    except OSError as e:
        return f"error: {e}"
    finally:
        s.close()


def with_ring(cls, ring, extra_cmdline="", monitor=None):
    class Ringed(cls):
        def qemu_run_args(self, smp):
            args = super().qemu_run_args(smp)
            if extra_cmdline and isinstance(self, CorenetGuest):
                i = args.index("--cmdline") + 1
                args[i] = f"{args[i]} {extra_cmdline}"
            # Before any `--` (the Linux guest's extra QEMU arguments follow it).
            i = args.index("--") if "--" in args else len(args)
            args = args[:i] + ["--ring", str(ring)] + args[i:]
            # Named QEMU threads (vCPUs "CPU N/TCG", the main loop that reads the tap), for the
            # per-thread CPU of each run; no change to what the guest sees.
            q = ["-name", "debug-threads=on"]
            if monitor:
                # QEMU's lock profiler (qsp): wait time per lock and call site, read over HMP.
                q += ["-enable-sync-profile", "-monitor", f"unix:{monitor},server=on,wait=off"]
            return args + (q if "--" in args else ["--"] + q)
    return Ringed


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def one_boot(base, ring, a, qlen=None):
    monitor = f"/tmp/ring_bench-{os.getpid()}.hmp" if a.sync_profile else None
    g = with_ring(type(base), ring, a.corenet_cmdline, monitor)()
    g.__dict__.update(base.__dict__)
    budget = 120 + (a.runs + 1) * (a.duration + 65 + a.settle)
    rows = []
    before = None
    with Netns(f"{a.ns_prefix}-{os.getpid()}-{g.name}-{ring}"):
        b = Boot(g, a.smp, hard_timeout=budget, boot_timeout=120)
        try:
            if qlen:
                # The host side of the tap: how many frames for the guest it queues while QEMU
                # is not reading (Linux's default 1000).
                subprocess.run(["ip", "link", "set", "corenet0", "txqueuelen", str(qlen)], check=True)
            qpid = qemu_pid(session_members(b.proc.pid))
            if a.main_loop_nice is not None:
                if qpid is None:
                    raise RuntimeError("--main-loop-nice: no QEMU process found")
                # Linux's nice value is per thread: QEMU's main loop (the thread whose id is the
                # process id, which moves frames between the tap and the rings) only.
                os.setpriority(os.PRIO_PROCESS, qpid, a.main_loop_nice)
            run_wrk(a.conns, 2, a.threads)  # warm-up, not recorded
            settle(a.settle)
            if g.metrics_path:
                before = fetch_metrics(g.metrics_path)
            for i in range(a.runs):
                t0 = tap_stats()
                pcap = None
                if a.pcap_dir and i == 0:
                    os.makedirs(a.pcap_dir, exist_ok=True)
                    pcap = os.path.join(a.pcap_dir, f"{g.name}-{ring}-{qlen or 'default'}.pcap")
                if monitor:
                    hmp(monitor, "sync-profile reset")
                probe = Probe(qpid, pcap)
                r = run_wrk(a.conns, a.duration, a.threads)
                r.update(probe.finish())
                if monitor:
                    # Over the run only: the 40 lock call sites with the most wait time,
                    # then the same merged per lock.
                    r["sync_profile"] = hmp(monitor, "info sync-profile 40")
                    r["sync_profile_merged"] = hmp(monitor, "info sync-profile -m 10")
                if pcap:
                    r["pcap"] = pcap
                t1 = tap_stats()
                r["tap"] = {k: t1[k] - t0.get(k, 0) for k in t1}
                if g.metrics_path:
                    # Before the settle: the run's own counters (minus the previous sample).
                    r["guest_metrics_at_run_end"] = fetch_metrics(g.metrics_path)
                r["left_open_after_settle"] = settle(a.settle)
                if g.metrics_path:
                    r["guest_metrics_after"] = fetch_metrics(g.metrics_path)
                rows.append(r)
                print(f"  ring {ring} txqueuelen {qlen or 'default'} {g.name} run {i + 1}: {r.get('rps')} req/s, errors {r.get('errors')}, "
                      f"tap {r['tap']}, cpu {r.get('qemu_threads_pct_of_a_core')} runq wait {r.get('qemu_threads_runqueue_wait_pct')} host {r.get('host_busy_pct_of_all_cores')} %",
                      file=sys.stderr, flush=True)
        finally:
            b.stop()
            tail = b.lines[-12:]
    return rows, tail, before


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rings", default="256,1024")
    p.add_argument("--txqueuelen", default="", help="tap txqueuelen values to sweep, e.g. 1000,10000 "
                   "(default: leave the tap's own)")
    p.add_argument("--guest", default="corenet,linux")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--conns", type=int, default=10000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--settle", type=int, default=30)
    p.add_argument("--json", default=os.path.join(ROOT, "target/bench/ring.json"))
    # Before/after in one run: guest `corenet-base` boots this prebuilt kernel (e.g. main's
    # httpd, copied aside before building the change) on the same line as `corenet`.
    p.add_argument("--base-kernel", default="", help="kernel for guest corenet-base")
    p.add_argument("--ns-prefix", default="ringbench", help="network namespace name prefix")
    p.add_argument("--corenet-cmdline", default="", help="appended to the corenet guests' "
                   "command line (after tcpbuf=4K), e.g. idle=halt")
    p.add_argument("--main-loop-nice", type=int, default=None,
                   help="host nice value for QEMU's main loop thread (a host setting, both guests alike; "
                        "e.g. -10: does the tap drop less when that thread waits less for a core?)")
    p.add_argument("--sync-profile", action="store_true", help="run QEMU with its lock profiler "
                   "(-enable-sync-profile) and record `info sync-profile` over each run")
    p.add_argument("--pcap-dir", default="", help="capture the tap (headers) during each boot's "
                   "first run into this directory, for bench/late_requests.py")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("ring_bench.py: needs root (network namespaces and taps)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_wrk()
    need = a.conns + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "command": " ".join(["bench/ring_bench.py"] + sys.argv[1:]),
               "git": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
               "params": vars(a), "rows": []}
    guests = []
    for name in a.guest.split(","):
        if name == "corenet-base":
            if not a.base_kernel:
                sys.exit("ring_bench.py: guest corenet-base needs --base-kernel")
            g = CorenetGuest()
            g.name, g.kernel, g.info = name, a.base_kernel, [f"kernel {a.base_kernel}"]
            guests.append(g)
            continue
        g = CorenetGuest() if name == "corenet" else LinuxGuest()
        g.prepare()
        guests.append(g)
    qlens = [int(x) for x in a.txqueuelen.split(",")] if a.txqueuelen else [None]
    for ring, qlen in [(r, q) for r in (int(x) for x in a.rings.split(",")) for q in qlens]:
        for g in guests:
            try:
                runs, tail, before = one_boot(g, ring, a, qlen)
                err = None
            except Exception as e:  # noqa: BLE001 - recorded, the other boots go on
                runs, tail, before, err = [], [], None, str(e)[-400:]
                print(f"  ring {ring} {g.name}: {e}", file=sys.stderr)
            row = {"guest": g.name, "ring": ring, "txqueuelen": qlen, "runs": runs, "error": err, "console_tail": tail,
                   "guest_metrics_after_warmup": before,
                   "rps": med([r.get("rps") for r in runs]),
                   "timeouts": med([r.get("errors", {}).get("timeout") for r in runs]),
                   "timeouts_all": [r.get("errors", {}).get("timeout") for r in runs],
                   # wrk counts a timeout only for a response that came later than --timeout
                   # (unanswered requests are not counted): per response it compares guests
                   # of different throughput.
                   "timeouts_per_1000_responses": [round(1000 * r.get("errors", {}).get("timeout", 0) / r["requests"], 1)
                                                   if r.get("requests") else None for r in runs],
                   "connect_errors": med([r.get("errors", {}).get("connect") for r in runs]),
                   "tap_tx_dropped_all": [r.get("tap", {}).get("tx_dropped") for r in runs]}
            results["rows"].append(row)
            os.makedirs(os.path.dirname(a.json), exist_ok=True)
            with open(a.json, "w") as f:
                json.dump(results, f, indent=1)
    print(f"\n{a.conns} connections, {a.duration} s wrk runs, median of {a.runs}:", file=sys.stderr)
    for r in results["rows"]:
        print(f"  ring {r['ring']:5} txqueuelen {r['txqueuelen']} {r['guest']:8} {r['rps']} req/s, timeouts {r['timeouts_all']} "
              f"({r['timeouts_per_1000_responses']} per 1000 responses), "
              f"tap drops {r['tap_tx_dropped_all']}",
              file=sys.stderr)
    print(f"results: {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
