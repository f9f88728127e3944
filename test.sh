#!/usr/bin/env bash
# test.sh: corenet's whole test suite, the one command CI runs.
#
#   1. host tests: `cargo test` over the logic crates (boot info, memory plan, steering,
#      drivers against fake devices, the network stack over in-memory NICs), where the
#      appliances turn corenet-net's `ipv6` feature on, then the network stack again without
#      it (IPv4-only build);
#   2. in-QEMU tests: tests/qemu/run.sh (boot on 1/2/4/8 cores, q35 and microvm, -cpu max and
#      qemu64, faults, panics, GRUB/Multiboot2, NIC steering against Linux traffic);
#   3. end-to-end tests: tests/e2e/e2e.py (the httpd appliance against curl, wrk and raw
#      sockets; link faults), and tests/e2e/proxy.py as root, every QEMU run under a hard
#      timeout;
#   4. a smoke run of the benchmark harness's host part (bench/run.py --quick --host-only):
#      asserts only that every setup produced results, never a figure.
#
# Needs the x86_64-unknown-none target and qemu-system-x86 (qemu-run.sh installs them when
# missing; .ci/run installs everything, including GRUB tools). Closes with
# `total: N passed, N failed`. Options: --quick (smaller QEMU matrix), --host-only.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

quick=""
host_only=0
for a in "$@"; do
    case "$a" in
        --quick) quick=--quick ;;
        --host-only) host_only=1 ;;
        *) echo "usage: ./test.sh [--quick] [--host-only]" >&2; exit 2 ;;
    esac
done

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx x86_64-unknown-none; then
    rustup target add x86_64-unknown-none
fi

host_log="$(mktemp)"
trap 'rm -f "$host_log"' EXIT

echo "== host tests (cargo test)"
cargo test 2>&1 | tee "$host_log"
host_rc=${PIPESTATUS[0]}
# The workspace build unifies `ipv6` on (the proxy enables it); the IPv4-only build too.
echo "== host tests (cargo test -p corenet-net, without the ipv6 feature)"
cargo test -p corenet-net 2>&1 | tee -a "$host_log"
v4_rc=${PIPESTATUS[0]}
[ "$v4_rc" = 0 ] || host_rc=$v4_rc
read -r hp hf < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p + 0, f + 0 }' "$host_log")
if [ "$host_rc" != 0 ] && [ "$hf" = 0 ]; then hf=1; fi   # a build failure counts as a failure
echo "host: $hp passed, $hf failed"

qp=0
qf=0
if [ "$host_only" = 0 ]; then
    echo
    echo "== in-QEMU tests (tests/qemu/run.sh $quick)"
    qemu_log="$(mktemp)"
    tests/qemu/run.sh $quick 2>&1 | tee "$qemu_log"
    qemu_rc=${PIPESTATUS[0]}
    read -r qp qf < <(tail -n 1 "$qemu_log" | awk '{ print $1 + 0, $3 + 0 }')
    if [ "$qemu_rc" != 0 ] && [ "$qf" = 0 ]; then qf=1; fi
    rm -f "$qemu_log"

    echo
    echo "== end-to-end tests (tests/e2e/e2e.py $quick)"
    e2e_log="$(mktemp)"
    python3 tests/e2e/e2e.py $quick 2>&1 | tee "$e2e_log"
    e2e_rc=${PIPESTATUS[0]}
    read -r ep ef < <(tail -n 1 "$e2e_log" | awk '{ print $1 + 0, $3 + 0 }')
    if [ "$e2e_rc" != 0 ] && [ "$ef" = 0 ]; then ef=1; fi
    qp=$((qp + ep))
    qf=$((qf + ef))
    rm -f "$e2e_log"

    echo
    if [ "$(id -u)" = 0 ]; then
        echo "== proxy end-to-end (tests/e2e/proxy.py)"
        px_log="$(mktemp)"
        python3 tests/e2e/proxy.py 2>&1 | tee "$px_log"
        px_rc=${PIPESTATUS[0]}
        read -r pp pf < <(tail -n 1 "$px_log" | awk '{ print $1 + 0, $3 + 0 }')
        if [ "$px_rc" != 0 ] && [ "$pf" = 0 ]; then pf=1; fi
        qp=$((qp + pp))
        qf=$((qf + pf))
        rm -f "$px_log"
    else
        echo "== proxy end-to-end: skipped (needs root: network namespaces)"
    fi

    echo
    echo "== benchmark harness smoke (bench/run.py --quick --host-only)"
    if command -v valgrind >/dev/null; then
        smoke=target/bench-smoke
        rm -rf "$smoke"
        timeout 900 python3 bench/run.py --quick --host-only --out "$smoke" >"$smoke.log" 2>&1
        if python3 - "$smoke/results.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["host"]
need = [("net_echo", "ours_ir_per_packet"), ("net_echo", "plain_ir_per_packet"),
        ("net_echo_ipv6", "ours6_ir_per_packet"), ("net_soft", "soft_ir_per_frame"), ("virtio", "ir_per_packet"), ("ixgbe", "driver_ir_per_packet")]
missing = [f"{k}.{f}" for k, f in need if not h.get(k, {}).get("rows") or any(r.get(f) is None for r in h[k]["rows"])]
sys.exit(f"missing results: {missing}" if missing or h["errors"] else 0)
PY
        then
            echo "bench smoke ... ok"
            qp=$((qp + 1))
        else
            echo "bench smoke ... FAILED (log: $smoke.log)"
            tail -n 20 "$smoke.log"
            qf=$((qf + 1))
        fi
    else
        echo "bench smoke: skipped (needs valgrind)"
    fi
fi

echo
echo "total: $((hp + qp)) passed, $((hf + qf)) failed"
[ $((hf + qf)) = 0 ]
