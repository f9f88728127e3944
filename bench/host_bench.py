#!/usr/bin/env python3
"""bench/host_bench.py: per-packet cost on the host (issue 7, setup 5), instructions counted by callgrind.

Collects the driver and stack benchmarks of docs/virtio.md, docs/ixgbe.md and docs/net.md into
one run and one results file. Every figure is an instruction count (callgrind's `Ir`), so it does
not depend on how busy the machine is; every ratio compares two figures of this run.

  net-echo     corenet-net's per-core layer vs plain smoltcp 0.14 on the same in-memory wire:
               the server's iteration per packet with 1, 10, 1 000, 10 000 open connections
               (net/examples/echo_bench.rs; only `measured_step` is counted).
  net-echo-ipv6  the same built with the `ipv6` feature (as httpd is): IPv4 and IPv6 traffic,
               plain smoltcp with proto-ipv6.
  net-soft     software queues for single-queue NICs vs driving the hardware pair directly
               (net/examples/soft_bench.rs).
  async        issue 14 item 2: echo served by the poll API (apps/echo's closure, and the same
               with its buffer hoisted) and by the async executor (net/src/task), and a tiny
               HTTP GET in both styles; Ir per request with 1, 100, 1 000 open connections
               (net/examples/async_bench.rs).
  httpd-conns  httpd's real server (apps/httpd/src/serve.rs: deadlines, pool, routes) on a
               stack: Ir per request with 1, 100, 1 000, 10 000 keep-alive connections open
               and one active (apps/httpd/examples/conn_cost.rs): the application's
               connection curve, flat since a pass visits the connections with news.
  virtio       the virtio-net driver's receive + transmit path per packet against a fake
               device, batch 32 and 1 (drivers/virtio/examples/virtio_bench.rs).
  ixgbe        the 82599 driver against the device model, batch 32, 1, and 32 with checksum
               offload; two round counts differenced so set-up cancels out; the model's
               doorbell handler subtracted (drivers/ixgbe/examples/ixgbe_bench.rs).

Output: a JSON file (--json, default target/bench/host.json), a table on stdout, and with
matplotlib a plot of the connection curve (host-connections.png beside the JSON file).
Nothing here asserts a figure. Needs valgrind and cargo; no root.

Usage: bench/host_bench.py [--quick] [--json FILE] [--only net-echo,net-echo-ipv6,net-soft,async,httpd-conns,virtio,ixgbe]
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import plot  # noqa: E402 - the same plotting step for both result kinds
EX = os.path.join(ROOT, "target/release/examples")

# Published figures beside ours (not measured here, so never a ratio): ixy.rs and ixy (C)
# forwarding cost at batch 32 (Emmerich et al., "The Case for Writing Network Drivers in
# High-Level Programming Languages", ANCS 2019).
ANCHORS = {"ixy.rs batch 32 (instr/packet, published)": 209, "ixy C batch 32 (instr/packet, published)": 127}


def build(pkg, example, features=None):
    # Features change what cargo builds into the same target path: each setup builds its own.
    argv = ["cargo", "build", "--release", "-q", "-p", pkg, "--example", example]
    if features:
        argv += ["--features", features]
    subprocess.run(argv, cwd=ROOT, check=True, timeout=1800)
    return os.path.join(EX, example)


def collected(argv, toggle, at_start=True):
    """Instructions callgrind collected inside functions matching `toggle`."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg", f"--toggle-collect={toggle}"]
        if not at_start:
            cmd.append("--collect-atstart=no")
        p = subprocess.run(cmd + argv, capture_output=True, text=True, timeout=1800)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(os.path.basename(a) for a in argv)}: callgrind failed: {p.stderr.strip()[-300:]}")
    return int(m.group(1))


def net_echo(quick, out):
    binary = build("corenet-net", "echo_bench")
    conns = [10, 1000] if quick else [1, 10, 1000, 10000]
    rows = []
    for c in conns:
        row = {"connections": c}
        for mode in ("ours", "plain"):
            # Plain smoltcp visits every socket per packet: fewer echoes keep 10 000 bounded.
            echoes = 200 if (quick or (mode == "plain" and c >= 1000)) else 2000
            ir = collected([binary, mode, str(c), str(echoes)], "*measured_step*", at_start=False)
            row[f"{mode}_ir_per_packet"] = ir / (2 * echoes)  # data in, echo (with ACK) out
            row[f"{mode}_echoes"] = echoes
        row["ours_vs_plain"] = row["ours_ir_per_packet"] / row["plain_ir_per_packet"]
        rows.append(row)
        print(f"  net-echo {c:>6} connections: ours {row['ours_ir_per_packet']:.0f}, plain smoltcp "
              f"{row['plain_ir_per_packet']:.0f} Ir/packet ({row['ours_vs_plain']:.3f}x)", file=sys.stderr)
    ours = [r["ours_ir_per_packet"] for r in rows]
    out["net_echo"] = {"rows": rows, "ours_spread": max(ours) / min(ours) - 1,
                       "command": "valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_step*' "
                                  "target/release/examples/echo_bench <ours|plain> <connections> <echoes>"}


def net_echo_ipv6(quick, out):
    """The same echo with corenet-net's `ipv6` feature (as the httpd appliance builds it):
    IPv4 traffic, IPv6 traffic (`ours6`), and plain smoltcp built with proto-ipv6."""
    binary = build("corenet-net", "echo_bench", "ipv6")
    rows = []
    for c in ([1000] if quick else [1, 1000]):
        row = {"connections": c}
        for mode in ("ours", "ours6", "plain"):
            echoes = 200 if (quick or (mode == "plain" and c >= 1000)) else 2000
            ir = collected([binary, mode, str(c), str(echoes)], "*measured_step*", at_start=False)
            row[f"{mode}_ir_per_packet"] = ir / (2 * echoes)
        rows.append(row)
        print(f"  net-echo-ipv6 {c:>5} connections: ours IPv4 {row['ours_ir_per_packet']:.0f}, ours IPv6 "
              f"{row['ours6_ir_per_packet']:.0f}, plain smoltcp (proto-ipv6) {row['plain_ir_per_packet']:.0f} "
              "Ir/packet", file=sys.stderr)
    out["net_echo_ipv6"] = {"rows": rows, "command": "the same, built with --features ipv6; ours6 = IPv6 traffic"}


def net_soft(quick, out):
    binary = build("corenet-net", "soft_bench")
    rounds = 200 if quick else 2000
    rows = []
    for frame in (64, 1514):
        direct = collected([binary, "direct", "1", str(frame), str(rounds)], "*measured_step*", at_start=False)
        d = direct / (rounds * 64)  # 32 frames in + 32 out per round
        for cores in ([4] if quick else [1, 4, 8]):
            soft = collected([binary, "soft", str(cores), str(frame), str(rounds)], "*measured_step*", at_start=False)
            s = soft / (rounds * 64)
            rows.append({"frame": frame, "cores": cores, "direct_ir_per_frame": d, "soft_ir_per_frame": s,
                         "extra": s - d})
            print(f"  net-soft frame {frame} cores {cores}: soft {s:.0f} vs direct {d:.0f} Ir/frame", file=sys.stderr)
    out["net_soft"] = {"rows": rows,
                       "command": "valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_step*' "
                                  "target/release/examples/soft_bench <soft|direct> <cores> <frame_len> <rounds>"}


def virtio(quick, out):
    binary = build("corenet-virtio", "virtio_bench", "fake")
    packets = 32000 if quick else 320000
    rows = []
    for batch in (32, 1):
        ir = collected([binary, str(batch), str(packets)], "*driver_step*")
        rows.append({"batch": batch, "ir_per_packet": ir / packets})
        print(f"  virtio batch {batch}: {ir / packets:.0f} Ir/packet (rx + tx)", file=sys.stderr)
    out["virtio"] = {"rows": rows, "anchors": ANCHORS,
                     "command": "valgrind --tool=callgrind --toggle-collect='*driver_step*' "
                                "target/release/examples/virtio_bench <batch> <packets>"}


def ixgbe(quick, out):
    binary = build("corenet-ixgbe", "ixgbe_bench", "model")
    r1, r2 = (200, 600) if quick else (1000, 3000)
    rows = []
    for batch, mode in ((32, []), (1, []), (32, ["csum"])):
        def diff(toggle):
            return (collected([binary, str(batch), str(r2)] + mode, toggle)
                    - collected([binary, str(batch), str(r1)] + mode, toggle))
        pkts = (r2 - r1) * batch
        drv = diff("*driver_rx_tx*")
        handler = diff("*Model82599*RegisterAccess*write32*")
        model = diff("*model_rx*") + diff("*model_tx*") + handler
        rows.append({"batch": batch, "csum_offload": bool(mode), "driver_ir_per_packet": (drv - handler) / pkts,
                     "model_ir_per_packet": model / pkts})
        print(f"  ixgbe batch {batch}{' csum' if mode else ''}: driver {(drv - handler) / pkts:.0f} Ir/packet "
              f"(device model {model / pkts:.0f})", file=sys.stderr)
    out["ixgbe"] = {"rows": rows, "anchors": ANCHORS, "command": "drivers/ixgbe/bench.sh (same method)"}


def async_echo(quick, out):
    """Issue 14 item 2: the same echo on the poll API and as async tasks, Ir per request."""
    binary = build("corenet-net", "async_bench")
    reqs = 200 if quick else 2000
    rows = []
    for c in ([1, 100] if quick else [1, 100, 1000]):
        row = {"connections": c}
        for mode in ("poll", "poll-hoisted", "async", "http-poll", "http-async"):
            ir = collected([binary, mode, str(c), str(reqs)], "*measured_step*", at_start=False)
            row[f"{mode}_ir_per_request"] = ir / reqs
        row["async_vs_poll"] = row["async_ir_per_request"] / row["poll_ir_per_request"]
        row["async_vs_hoisted"] = row["async_ir_per_request"] / row["poll-hoisted_ir_per_request"]
        row["http_async_vs_poll"] = row["http-async_ir_per_request"] / row["http-poll_ir_per_request"]
        rows.append(row)
        print(f"  async {c:>5} connections: poll {row['poll_ir_per_request']:.0f}, poll-hoisted "
              f"{row['poll-hoisted_ir_per_request']:.0f}, async {row['async_ir_per_request']:.0f}; http poll "
              f"{row['http-poll_ir_per_request']:.0f}, async {row['http-async_ir_per_request']:.0f} Ir/request",
              file=sys.stderr)
    out["async_echo"] = {"rows": rows,
                         "command": "valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_step*' "
                                    "target/release/examples/async_bench <poll|poll-hoisted|async|http-poll|http-async> "
                                    "<connections> <requests>"}


def httpd_conns(quick, out):
    """httpd's Server per request with N connections open (one active)."""
    binary = build("httpd", "conn_cost")
    reqs = 200 if quick else 2000
    rows = []
    for c in ([1, 100] if quick else [1, 100, 1000, 10000]):
        ir = collected([binary, str(c), str(reqs)], "*measured_step*", at_start=False)
        rows.append({"connections": c, "ir_per_request": ir / reqs})
        print(f"  httpd {c:>5} connections: {ir / reqs:.0f} Ir/request", file=sys.stderr)
    out["httpd_conns"] = {"rows": rows,
                          "command": "valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_step*' "
                                     "target/release/examples/conn_cost <connections> <requests>"}


SETUPS = {"net-echo": net_echo, "net-echo-ipv6": net_echo_ipv6, "net-soft": net_soft, "async": async_echo,
          "httpd-conns": httpd_conns, "virtio": virtio, "ixgbe": ixgbe}


def print_table(res):
    if "net_echo" in res:
        print("\nPer-packet cost: corenet-net vs plain smoltcp, same wire (callgrind Ir per packet)")
        print(f"{'connections':>11} {'corenet-net':>12} {'smoltcp':>12} {'ratio':>8}")
        for r in res["net_echo"]["rows"]:
            print(f"{r['connections']:>11} {r['ours_ir_per_packet']:>12.0f} {r['plain_ir_per_packet']:>12.0f} "
                  f"{r['ours_vs_plain']:>7.3f}x")
        print(f"corenet-net spread across connection counts: {100 * res['net_echo']['ours_spread']:.1f} %")
    if "net_echo_ipv6" in res:
        print("\nWith the ipv6 feature (as httpd builds it), Ir per packet")
        print(f"{'connections':>11} {'IPv4':>8} {'IPv6':>8} {'smoltcp':>8}")
        for r in res["net_echo_ipv6"]["rows"]:
            print(f"{r['connections']:>11} {r['ours_ir_per_packet']:>8.0f} {r['ours6_ir_per_packet']:>8.0f} "
                  f"{r['plain_ir_per_packet']:>8.0f}")
    if "net_soft" in res:
        print("\nSoftware queues (single-queue NIC) vs direct hardware queue (Ir per frame)")
        for r in res["net_soft"]["rows"]:
            print(f"  frame {r['frame']:>4} cores {r['cores']}: soft {r['soft_ir_per_frame']:.0f}, "
                  f"direct {r['direct_ir_per_frame']:.0f}, extra {r['extra']:.0f}")
    if "async_echo" in res:
        print("\nEcho per request, poll API vs async tasks (Ir per request, one server pass counted)")
        print(f"{'connections':>11} {'poll':>9} {'hoisted':>9} {'async':>9} {'vs poll':>8} {'vs hoisted':>10}")
        for r in res["async_echo"]["rows"]:
            print(f"{r['connections']:>11} {r['poll_ir_per_request']:>9.0f} {r['poll-hoisted_ir_per_request']:>9.0f} "
                  f"{r['async_ir_per_request']:>9.0f} {r['async_vs_poll']:>7.3f}x {r['async_vs_hoisted']:>9.3f}x")
        print("Tiny HTTP GET, poll API vs async tasks (Ir per request)")
        for r in res["async_echo"]["rows"]:
            print(f"{r['connections']:>11} {r['http-poll_ir_per_request']:>9.0f} {r['http-async_ir_per_request']:>9.0f} "
                  f"{r['http_async_vs_poll']:>7.3f}x")
    if "httpd_conns" in res:
        print("\nhttpd's server per request with N connections open, one active (Ir per request)")
        for r in res["httpd_conns"]["rows"]:
            print(f"{r['connections']:>11} {r['ir_per_request']:>9.0f}")
    for key, name in (("virtio", "virtio-net driver"), ("ixgbe", "ixgbe driver")):
        if key in res:
            print(f"\n{name}, receive + transmit per packet (Ir)")
            for r in res[key]["rows"]:
                v = r.get("ir_per_packet", r.get("driver_ir_per_packet"))
                print(f"  batch {r['batch']:>2}{' csum offload' if r.get('csum_offload') else ''}: {v:.0f}")
    print("\nAnchors (published, not measured here): " + ", ".join(f"{k} {v}" for k, v in ANCHORS.items()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: fewer rounds and connection counts (~1 min)")
    p.add_argument("--only", default=",".join(SETUPS), help="comma-separated: " + ", ".join(SETUPS))
    p.add_argument("--json", default=os.path.join(ROOT, "target/bench/host.json"))
    a = p.parse_args()
    names = [n.strip() for n in a.only.split(",") if n.strip()]
    for n in names:
        if n not in SETUPS:
            p.error(f"unknown setup {n}")
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "command": " ".join(["bench/host_bench.py"] + sys.argv[1:]), "quick": a.quick,
           "valgrind": subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip(),
           "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
           "errors": []}
    for n in names:
        print(f"host_bench.py: {n}", file=sys.stderr)
        try:
            SETUPS[n](a.quick, res)
        except Exception as e:  # noqa: BLE001 - recorded, the other setups still run
            res["errors"].append({"setup": n, "error": str(e)})
            print(f"host_bench.py: {n}: {e}", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
    print_table(res)
    print(f"\nresults: {a.json}")
    plot(a.json, os.path.dirname(os.path.abspath(a.json)))
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
