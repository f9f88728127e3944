#!/usr/bin/env bash
# bench/usernet.sh: the README's quick start under load, QEMU's slirp against passt.
#
#   bench/usernet.sh [--smp N] [--runs R] [--conns C] [--secs S] [--kernel IMAGE] [--cmdline STR] [--nets "user passt"]
#
# Boots httpd with `qemu-run.sh --net user` and `--net passt` in turn (alternating within each
# round, so machine noise spreads over both), runs `wrk -t2 -cC -dSs --timeout 2s --latency`
# against the forwarded port, and prints one line per run: requests/s, p99, wrk's socket
# errors, and how many SYNs the host dropped at a full accept queue meanwhile
# (TcpExtListenOverflows: slirp listens with a backlog of 1). Loopback only; every QEMU run
# has a hard timeout. Needs wrk and passt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
smp=4 runs=3 conns=32 secs=5 cmdline="" nets="user passt" kernel="$root/target/x86_64-unknown-none/release/httpd"
while [ $# -gt 0 ]; do
    case "$1" in
        --smp) smp="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --conns) conns="$2"; shift 2 ;;
        --secs) secs="$2"; shift 2 ;;
        --kernel) kernel="$2"; shift 2 ;;
        --cmdline) cmdline="$2"; shift 2 ;;
        --nets) nets="$2"; shift 2 ;;
        *) echo "usage: $0 [--smp N] [--runs R] [--conns C] [--secs S] [--kernel IMAGE]" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null && command -v passt >/dev/null || { echo "needs wrk and passt" >&2; exit 2; }
[ -f "$kernel" ] || (cd "$root" && cargo build -q --release --target x86_64-unknown-none -p httpd)
port="${CORENET_FWD_HTTP:-18480}"
overflows() { awk '/^TcpExt:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "ListenOverflows") c = i; n = 1 } else print $c }' /proc/net/netstat; }
for _ in $(seq "$runs"); do
    for net in $nets; do
        log=$(mktemp)
        CORENET_FWD_HTTP="$port" CORENET_FWD_ECHO=$((port + 1)) "$root/qemu-run.sh" --kernel "$kernel" \
            --smp "$smp" --net "$net" --timeout $((secs + 60)) ${cmdline:+--cmdline "$cmdline"} >"$log" 2>&1 &
        runner=$!
        for _ in $(seq 300); do
            grep -q "corenet: ready" "$log" && break
            sleep 0.1
        done
        curl -s -m 5 -o /dev/null "http://127.0.0.1:$port/" || true
        a=$(overflows)
        out=$(wrk -t2 -c"$conns" -d"${secs}s" --timeout 2s --latency "http://127.0.0.1:$port/" 2>&1 || true)
        b=$(overflows)
        kill "$runner" 2>/dev/null || true
        wait "$runner" 2>/dev/null || true
        rm -f "$log"
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        errs=$(grep -o "Socket errors.*" <<<"$out" || echo "Socket errors: none")
        echo "net=$net smp=$smp${cmdline:+ cmdline=$cmdline} conns=$conns rps=${rps:-0} p99=${p99:-?} listen_overflows=$((b - a)) $errs"
    done
done
