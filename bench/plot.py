#!/usr/bin/env python3
"""bench/plot.py: PNG plots of a results file of bench/run.py, http_bench.py or host_bench.py.

Usage: bench/plot.py RESULTS.json OUTDIR [PREFIX]
From HTTP results: OUTDIR/PREFIXhttp-rps.png (requests/s vs connections),
PREFIXhttp-latency.png (p50/p99 vs connections), PREFIXboot.png (process start -> ready / first
200). From host results: PREFIXhost-connections.png (instructions per packet vs open
connections, corenet-net vs plain smoltcp). Needs matplotlib: Debian's is
`apt-get install python3-matplotlib`, for /usr/bin/python3.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def series(rows):
    out = {}
    for r in rows:
        if r.get("rps") is not None:
            out.setdefault((r["guest"], r["smp"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["conns"]) for k, v in sorted(out.items())}


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    res = json.load(open(sys.argv[1]))
    outdir = sys.argv[2]
    pre = sys.argv[3] if len(sys.argv) == 4 else ""
    os.makedirs(outdir, exist_ok=True)
    # bench/run.py nests both kinds; the two scripts write one kind each.
    http = res.get("http") if isinstance(res.get("http"), dict) else (res if "summary" in res else None)
    host = res.get("host") if isinstance(res.get("host"), dict) else (res if "net_echo" in res else None)
    if http and http.get("summary"):
        plot_http(http, outdir, pre)
    if host and host.get("net_echo"):
        plot_host(host, outdir, pre)


def plot_host(res, outdir, pre):
    rows = res["net_echo"]["rows"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    x = [r["connections"] for r in rows]
    ax.plot(x, [r["ours_ir_per_packet"] for r in rows], marker="o", label="corenet-net (flow table)")
    ax.plot(x, [r["plain_ir_per_packet"] for r in rows], marker="s", label="plain smoltcp 0.14 (one SocketSet)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("open connections on the core")
    ax.set_ylabel("instructions per packet (callgrind)")
    ax.set_title(f"Echo server, per packet, same in-memory wire ({res['date'][:10]})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, pre + "host-connections.png"), dpi=110)
    print(f"plots: {outdir}/{pre}host-connections.png")


def plot_http(res, outdir, pre):
    title = f"{res['machine']['accel'].upper()}, {res['machine']['cpu']} x{res['machine']['host_cpus']} ({res['date'][:10]})"
    s = series(res["summary"]["http"])

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (g, smp), rows in s.items():
        ax.plot([r["conns"] for r in rows], [r["rps"] for r in rows], marker="o", label=f"{g}, {smp} vCPU")
    ax.set_xscale("log")
    ax.set_xlabel("concurrent connections (wrk)")
    ax.set_ylabel("requests/s (median)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"HTTP, same small page\n{title}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, pre + "http-rps.png"), dpi=110)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (g, smp), rows in s.items():
        xs = [r["conns"] for r in rows]
        line, = ax.plot(xs, [r["p50_ms"] for r in rows], marker="o", label=f"{g}, {smp} vCPU p50")
        ax.plot(xs, [r["p99_ms"] for r in rows], marker="^", linestyle="--", color=line.get_color(),
                label=f"{g}, {smp} vCPU p99")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent connections (wrk)")
    ax.set_ylabel("latency (ms, median of runs)")
    ax.set_title(f"HTTP latency\n{title}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, pre + "http-latency.png"), dpi=110)

    boots = [b for b in res["summary"]["boot"] if b["ready_s_median"] is not None]
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{b['guest']}\n{b['smp']} vCPU" for b in boots]
    xs = range(len(boots))
    ax.bar([x - 0.2 for x in xs], [b["ready_s_median"] * 1000 for b in boots], width=0.4, label="ready line")
    ax.bar([x + 0.2 for x in xs], [b["first200_s_median"] * 1000 for b in boots], width=0.4, label="first HTTP 200")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels)
    ax.set_ylabel("ms from QEMU process start (median)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Boot\n{title}", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, pre + "boot.png"), dpi=110)
    print(f"plots: {outdir}/{pre}http-rps.png, {pre}http-latency.png, {pre}boot.png")


if __name__ == "__main__":
    main()
