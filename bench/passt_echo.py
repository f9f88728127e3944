#!/usr/bin/env python3
"""bench/passt_echo.py: 1 MB echoes through passt (user-mode networking), corenet and the Linux guest.

`qemu-run.sh`'s default user-mode networking is passt when installed (Debian 12's is a 2023
snapshot). That passt recovers from losses in its own way: any pure ACK that repeats the last
acknowledgment and window makes it resend its whole flight, and it never acknowledges old
data a second time. On a loaded host this met corenet's answers to resent segments and fed
on them (smoltcp patch 18, third_party/smoltcp/PATCHES.md). This script measures how each
guest fares: it boots the guest on the same `qemu-run.sh --net passt --smp N` line, with
QEMU's filter-dump capturing the guest NIC's frames, and runs --transfers echoes of 1 MiB of
random bytes to the guest's TCP echo service (port 7, forwarded from 127.0.0.1:17777; corenet's
httpd, busybox `nc -ll -e cat` in bench/linux-guest/init), reading them back and checking
them byte for byte. Optionally a wrk burst on port 80 before each transfer (--wrk) and
--stress busy loops on the host beside QEMU (the load that a shared CI machine puts on it).

Per transfer it records whether the bytes came back intact, how many, how long it took, and
how the reader ended (EOF, reset, timeout). From the capture, per echo connection: frames in
both directions, the longest run of identical pure ACKs from the guest, and the longest gap.
For corenet also the /metrics samples of its software distributor and TCP loss counters, and
the connections it still holds 2 s after the last echo.
Nothing here asserts a timing. Output: a table on stderr and --json (default
target/bench/passt-echo.json).

Usage: bench/passt_echo.py [--guest corenet,linux[,corenet-base]] [--transfers N] [--stress K]
                           [--wrk] [--smp N] [--base-kernel IMAGE] [--json FILE]
"""
import argparse
import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QEMU_RUN = os.path.join(ROOT, "qemu-run.sh")
HTTP_PORT = int(os.environ.get("CORENET_FWD_HTTP", "18080"))
ECHO_PORT = int(os.environ.get("CORENET_FWD_ECHO", "17777"))
GUEST_IP = bytes([10, 0, 2, 15])
SIZE = 1 << 20


def corenet_args(smp):
    subprocess.run(["cargo", "build", "-q", "--release", "--target", "x86_64-unknown-none", "-p", "httpd"],
                   cwd=ROOT, check=True)
    kernel = os.path.join(ROOT, "target/x86_64-unknown-none/release/httpd")
    return ["--kernel", kernel, "--net", "passt", "--smp", str(smp)], "corenet: ready"


def linux_args(smp):
    out = subprocess.run([os.path.join(HERE, "linux-guest/build.sh")], check=True,
                         capture_output=True, text=True, timeout=900)
    kv = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return (["--kernel", kv["KERNEL"], "--net", "passt", "--smp", str(smp),
             "--cmdline", f"ip=10.0.2.15/24 gw=10.0.2.2 {kv['CMDLINE']}", "--", "-initrd", kv["INITRD"]],
            "linux-guest: ready")


BASE_KERNEL = None


def corenet_base_args(smp):
    if not BASE_KERNEL:
        raise SystemExit("passt_echo.py: guest corenet-base needs --base-kernel IMAGE")
    return ["--kernel", BASE_KERNEL, "--net", "passt", "--smp", str(smp)], "corenet: ready"


GUESTS = {"corenet": corenet_args, "corenet-base": corenet_base_args, "linux": linux_args}


def transfer(timeout):
    """One echo of SIZE random bytes: (intact, bytes back, seconds, how the reader ended)."""
    data = os.urandom(SIZE)
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", ECHO_PORT), timeout=timeout)
    s.settimeout(timeout)
    got, how = [], ["eof"]

    def reader():
        try:
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                got.append(b)
        except OSError as e:
            how[0] = type(e).__name__

    t = threading.Thread(target=reader)
    t.start()
    view = memoryview(data)
    try:
        while view:
            view = view[s.send(view[:65536]):]
            if time.monotonic() - t0 > timeout:
                how[0] = "send timeout"
                break
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        how[0] = "send " + type(e).__name__
    t.join(timeout=max(1, timeout - (time.monotonic() - t0)))
    s.close()
    t.join(timeout=5)
    back = b"".join(got)
    return back == data, len(back), round(time.monotonic() - t0, 3), how[0]


def wrk_burst(seconds):
    if shutil.which("wrk") is None:
        return
    subprocess.run(["wrk", "-t", "2", "-c", "32", "-d", str(seconds), "--timeout", "2s",
                    f"http://127.0.0.1:{HTTP_PORT}/"], capture_output=True, timeout=seconds + 30)


def metrics():
    """corenet's /metrics samples of the distributor and TCP loss handling (non-zero ones)."""
    try:
        out = subprocess.run(["curl", "-s", "-m", "10", f"http://127.0.0.1:{HTTP_PORT}/metrics"],
                             capture_output=True, text=True, timeout=20).stdout
    except subprocess.TimeoutExpired:
        return {}
    keep = ("corenet_soft_", "corenet_rx_drops_total", "corenet_tcp_retransmissions_total",
            "corenet_tcp_connections",
            "corenet_tcp_recoveries_total", "corenet_tcp_loss_probes_total", "corenet_tcp_rtos_total")
    m = {}
    for line in out.splitlines():
        if line.startswith(keep):
            name, _, value = line.rpartition(" ")
            if value not in ("0", ""):
                m[name] = int(float(value))
    return m


def analyse(pcap):
    """Per connection to the guest's port 7, in order: frames, seconds, the longest run of
    identical pure ACKs from the guest, the longest gap between frames."""
    conns = {}
    with open(pcap, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return []
        nano = struct.unpack("<I", head[:4])[0] == 0xa1b23c4d
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            sec, frac, incl, _ = struct.unpack("<IIII", h)
            d = f.read(incl)
            if len(d) < 54 or d[12:14] != b"\x08\x00" or d[23] != 6:
                continue
            ip = d[14:]
            ihl = (ip[0] & 15) * 4
            tcp = ip[ihl:]
            if len(tcp) < 20:
                continue
            sport, dport, _, ack = struct.unpack(">HHII", tcp[:12])
            guest = ip[12:16] == GUEST_IP
            if (sport if guest else dport) != 7:
                continue
            t = sec + frac / (1e9 if nano else 1e6)
            plen = struct.unpack(">H", ip[2:4])[0] - ihl - (tcp[12] >> 4) * 4
            c = conns.setdefault(dport if guest else sport,
                                 {"frames": 0, "t0": t, "t1": t, "gap": 0.0, "run": 0, "max_run": 0, "last": None})
            c["frames"] += 1
            c["gap"] = max(c["gap"], t - c["t1"])
            c["t1"] = t
            if guest:
                key = (ack, tcp[14:16]) if plen == 0 and tcp[13] == 0x10 else None
                c["run"] = c["run"] + 1 if key is not None and key == c["last"] else (1 if key else 0)
                c["last"] = key
                c["max_run"] = max(c["max_run"], c["run"])
    return [{"frames": c["frames"], "seconds": round(c["t1"] - c["t0"], 3), "max_identical_acks": c["max_run"],
             "max_gap_s": round(c["gap"], 3)} for c in conns.values()]


def run_guest(name, a, logdir):
    args, ready = GUESTS[name](a.smp)
    pcap = os.path.join(logdir, f"passt-echo-{name}.pcap")
    log = os.path.join(logdir, f"passt-echo-{name}.log")
    if os.path.exists(pcap):
        os.unlink(pcap)
    extra = ["-object", f"filter-dump,id=dump1,netdev=n0,file={pcap},maxlen=96"]
    if "--" in args:
        argv = [QEMU_RUN, "--timeout", str(a.transfers * 150 + 300)] + args + extra
    else:
        argv = [QEMU_RUN, "--timeout", str(a.transfers * 150 + 300)] + args + ["--"] + extra
    stress = [subprocess.Popen(["timeout", str(a.transfers * 150 + 300), "sh", "-c", "while :; do :; done"])
              for _ in range(a.stress)]
    env = dict(os.environ, CORENET_FWD_HTTP=str(HTTP_PORT), CORENET_FWD_ECHO=str(ECHO_PORT))
    with open(log, "wb") as out:
        q = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
    rows, m = [], {}
    try:
        deadline = time.monotonic() + 300
        while ready.encode() not in open(log, "rb").read():
            if q.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name}: not ready; see {log}")
            time.sleep(0.2)
        time.sleep(1)
        for i in range(a.transfers):
            if a.wrk:
                wrk_burst(3)
            ok, n, secs, how = transfer(a.timeout)
            rows.append({"ok": ok, "bytes": n, "seconds": secs, "reader": how})
            print(f"{name} {i}: {'ok' if ok else 'SHORT'} {n} bytes {secs} s ({how})", file=sys.stderr, flush=True)
        if name.startswith("corenet"):
            # After 2 s every echo connection should be gone (the client closed it).
            time.sleep(2)
            m = metrics()
    finally:
        for p in stress:
            p.terminate()
            p.wait()
        # qemu-run.sh's session: every member by its pid (QEMU and passt included).
        for pid in session_members(q.pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            q.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for pid in session_members(q.pid):
                os.kill(pid, signal.SIGKILL)
            q.wait()
    conns = analyse(pcap)
    if not a.keep_pcap:
        os.unlink(pcap)
    secs = [r["seconds"] for r in rows]
    return {
        "transfers": rows,
        "short": sum(1 for r in rows if not r["ok"]),
        "median_s": statistics.median(secs) if secs else None,
        "max_s": max(secs) if secs else None,
        "over_1s": sum(1 for s in secs if s > 1),
        "connections": conns,
        "max_frames": max((c["frames"] for c in conns), default=0),
        "median_frames": statistics.median([c["frames"] for c in conns]) if conns else 0,
        "max_identical_acks": max((c["max_identical_acks"] for c in conns), default=0),
        "metrics": m,
    }


def passt_version():
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "passt"], capture_output=True, text=True)
    return out.stdout.strip() or None


def qemu_version():
    q = os.environ.get("CORENET_QEMU", "qemu-system-x86_64")
    out = subprocess.run([q, "--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0] if out.stdout else None


def session_members(sid):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 3 and fields[3] == str(sid):
                pids.append(int(d))
    return pids


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--guest", default="corenet,linux")
    p.add_argument("--transfers", type=int, default=20)
    p.add_argument("--stress", type=int, default=0, help="busy loops on the host beside QEMU")
    p.add_argument("--wrk", action="store_true", help="a 3 s wrk burst (32 connections) before each transfer")
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--timeout", type=int, default=120, help="seconds per transfer")
    p.add_argument("--base-kernel", help="guest corenet-base: another build of the httpd appliance (an A/B)")
    p.add_argument("--keep-pcap", action="store_true")
    p.add_argument("--json", default=os.path.join(ROOT, "target/bench/passt-echo.json"))
    a = p.parse_args()
    global BASE_KERNEL
    BASE_KERNEL = a.base_kernel
    if shutil.which("passt") is None:
        sys.exit("passt_echo.py: passt is not installed (apt-get install passt)")
    logdir = os.path.join(ROOT, "target/bench")
    os.makedirs(logdir, exist_ok=True)
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "transfers": a.transfers, "stress": a.stress, "wrk": a.wrk, "smp": a.smp,
           "base_kernel": os.path.basename(a.base_kernel) if a.base_kernel else None,
           "passt": passt_version(), "qemu": qemu_version(), "guests": {}}
    for name in a.guest.split(","):
        r = run_guest(name, a, logdir)
        res["guests"][name] = r
        print(f"{name}: {r['short']} of {a.transfers} short, median {r['median_s']} s, max {r['max_s']} s, "
              f"{r['over_1s']} over 1 s; frames per connection median {r['median_frames']} max {r['max_frames']}; "
              f"longest run of identical ACKs {r['max_identical_acks']}; {r['metrics']}", file=sys.stderr)
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
    print(f"results: {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
