#!/usr/bin/env bash
# Instructions per packet of the ixgbe driver's receive + transmit path against the device
# model, with callgrind. Prints driver-only cost (model's register handler subtracted) and the
# model's own cost, for batch 32 and batch 1. Two round counts are measured and differenced so
# init and setup cancel out. See docs/ixgbe.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p corenet-ixgbe --example ixgbe_bench --features model
BIN=target/release/examples/ixgbe_bench
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# collected INSTRUCTIONS for: toggle pattern, batch, rounds (mode in $MODE: empty or csum)
count() {
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg" --toggle-collect="$1" \
        "$BIN" "$2" "$3" $MODE >/dev/null 2>"$OUT/log"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$OUT/log"
}

for run in "32" "1" "32 csum"; do
    read -r batch MODE <<<"$run"
    r1=1000
    r2=3000
    pkts=$(( (r2 - r1) * batch ))
    drv1=$(count '*driver_rx_tx*' "$batch" "$r1"); drv2=$(count '*driver_rx_tx*' "$batch" "$r2")
    reg1=$(count '*Model82599*RegisterAccess*write32*' "$batch" "$r1")
    reg2=$(count '*Model82599*RegisterAccess*write32*' "$batch" "$r2")
    mrx1=$(count '*model_rx*' "$batch" "$r1"); mrx2=$(count '*model_rx*' "$batch" "$r2")
    mtx1=$(count '*model_tx*' "$batch" "$r1"); mtx2=$(count '*model_tx*' "$batch" "$r2")
    awk -v d=$((drv2 - drv1)) -v r=$((reg2 - reg1)) -v mr=$((mrx2 - mrx1)) -v mt=$((mtx2 - mtx1)) \
        -v p="$pkts" -v b="$batch" -v m="${MODE:+ $MODE}" 'BEGIN {
        printf "batch %2d%s: driver rx+tx %.1f instr/packet (with model doorbell handler %.1f; handler %.1f); model alone %.1f instr/packet\n",
            b, m, (d - r) / p, d / p, r / p, (mr + mt + r) / p }'
done
