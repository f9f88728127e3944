#!/usr/bin/env python3
"""bench/plot.py: PNG plots of a results file of bench/run.py, http_bench.py or host_bench.py.

Usage: bench/plot.py RESULTS.json OUTDIR [PREFIX]
From kv_bench.py results: PREFIXkv-rps.png (corenet's kv and Redis in the Linux guest,
requests/s per test, median bars and every run as a dot, one panel per vCPU count and
pipeline depth) and PREFIXkv-ratio.png (corenet / Redis per test and panel, the 5x line).
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
    if "redis_benchmark" in res and res.get("medians"):
        plot_kv(res, outdir, pre)


def plot_kv(res, outdir, pre):
    words = str(res["redis_benchmark"]).split()
    keyspace = words[words.index("-r") + 1] if "-r" in words[:-1] else None
    keys = f"random keys (-r {keyspace})" if keyspace else "one key per test"
    title = f"redis-benchmark -c 50, {keys}; git {res.get('git', '?')}, {res['date'][:10]}"
    med = {(m["guest"], m["smp"], m["pipeline"]): m["rps"] for m in res["medians"]}
    runs = {}
    for r in res["runs"]:
        if r.get("rps"):
            runs.setdefault((r["guest"], r["smp"], r["pipeline"]), []).append(r["rps"])
    cells = sorted({(s, p) for (_, s, p) in med})
    tests = list(next(iter(med.values())).keys())
    names = {"corenet": "corenet kv", "linux": "Redis, Linux guest"}

    fig, axes = plt.subplots(1, len(cells), figsize=(3.6 * len(cells), 4.2), squeeze=False)
    for ax, (smp, pl) in zip(axes[0], cells):
        for i, g in enumerate(("corenet", "linux")):
            v = med.get((g, smp, pl))
            if not v:
                continue
            xs = [j + (i - 0.5) * 0.4 for j in range(len(tests))]
            ax.bar(xs, [v.get(t, 0) / 1000 for t in tests], width=0.4, label=names[g])
            for rps in runs.get((g, smp, pl), []):
                ax.plot(xs, [rps.get(t, 0) / 1000 for t in tests], "k.", markersize=3)
        ax.set_xticks(range(len(tests)))
        ax.set_xticklabels(tests, fontsize=8)
        ax.set_title(f"{smp} vCPU, -P {pl}", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].set_ylabel("thousand requests/s (bars: median, dots: runs)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=8)
    fig.suptitle(f"KV: corenet against Redis on the same QEMU line\n{title}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(os.path.join(outdir, pre + "kv-rps.png"), dpi=110)

    fig, ax = plt.subplots(figsize=(7, 4.2))
    width = 0.8 / max(len(cells), 1)
    for i, (smp, pl) in enumerate(cells):
        c, r = med.get(("corenet", smp, pl)), med.get(("linux", smp, pl))
        if not c or not r:
            continue
        xs = [j + (i - (len(cells) - 1) / 2) * width for j in range(len(tests))]
        ax.bar(xs, [c[t] / r[t] if r.get(t) else 0 for t in tests], width=width,
               label=f"{smp} vCPU, -P {pl}")
    ax.axhline(5, color="k", linestyle="--", linewidth=1, label="5x (the issue's aim)")
    ax.set_xticks(range(len(tests)))
    ax.set_xticklabels(tests)
    ax.set_ylabel("corenet / Redis (medians)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"KV: corenet over Redis in the Linux guest\n{title}", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, pre + "kv-ratio.png"), dpi=110)
    print(f"plots: {outdir}/{pre}kv-rps.png, {pre}kv-ratio.png")


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
