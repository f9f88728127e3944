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
#      sockets; link faults), tests/e2e/proxy.py and tests/e2e/hostile.py --quick (SYN flood,
#      rogue DHCP, malformed frames, slowloris, pipelining, UDP floods) as root, and
#      tests/e2e/kv.py (the kv appliance against redis-cli and redis-benchmark), every QEMU run
#      under a hard timeout;
#   4. a smoke run of the benchmark harness's host part (bench/run.py --quick --host-only):
#      asserts only that every setup produced results, never a figure.
#
# Run as root on Debian/Ubuntu, it first installs what the tests need (apt-get, without
# recommends); otherwise it prints the command to install them, and the cases that need a
# missing tool or root are skipped. Every sub-suite prints `NAME ... skipped (reason)` lines and
# closes with `N passed, N failed, N skipped`; this script lists the skipped cases and closes
# with `total: N passed, N failed, N skipped`. Under CI=true a skipped case counts as a
# failure (CI runs as root on a fresh machine: nothing may be skipped there).
# Options: --quick (smaller QEMU matrix), --host-only.
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

# ---- what the tests need: Debian package per missing command ----
need=()
want() { command -v "$1" >/dev/null || need+=("${@:2}"); }
if [ "$host_only" = 0 ]; then
    want qemu-system-x86_64 qemu-system-x86
    want grub-mkrescue grub-pc-bin grub-common
    want xorriso xorriso
    want mformat mtools
    want valgrind valgrind
    want curl curl
    want wrk wrk
    want ip iproute2
    want hping3 hping3
    want dnsmasq dnsmasq-base
    # tests/e2e/kv.py: the kv appliance against redis-cli and redis-benchmark.
    want redis-cli redis-tools
    # qemu-run.sh's default user-mode networking (passt) and e2e.py's passt cases.
    want passt passt
    # Debian's scapy is importable from the system interpreter only (hostile.py runs on it).
    { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import scapy' 2>/dev/null; } || need+=(python3 python3-scapy)
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing: ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends "${need[@]}" ||
            { apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; }
    else
        echo "== missing tools; the cases that need them are skipped. Install them with:"
        echo "   sudo apt-get install -y --no-install-recommends ${need[*]}"
    fi
fi

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx x86_64-unknown-none; then
    rustup target add x86_64-unknown-none
fi

host_log="$(mktemp)"
skips="$(mktemp)"
trap 'rm -f "$host_log" "$skips"' EXIT
tp=0 tf=0 ts=0

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
# An #[ignore]d test is a skipped case; a doc example marked `ignore` (`FILE - (line N)` or `FILE - ITEM (line N)`) is
# documentation that is not compiled, not a test, and an `#[ignore = "a measurement: ..."]` is a
# benchmark run by hand (it asserts nothing), listed but not counted.
grep -aE '^test .* \.\.\. ignored, a measurement' "$host_log" | sort -u |
    sed 's/^test /  /; s/ \.\.\. ignored, / (/; s/$/; run by hand)/' > "$skips.measure"
if [ -s "$skips.measure" ]; then echo "host measurements, not counted:"; cat "$skips.measure"; fi
rm -f "$skips.measure"
grep -aE '^test .* \.\.\. ignored' "$host_log" | grep -avE ' - ([^ ]+ )?\(line [0-9]+\)' |
    grep -av ' \.\.\. ignored, a measurement' |
    sed 's/^test /host /; s/ \.\.\. ignored.*/ ... skipped (#[ignore])/' > "$skips"
hs=$(wc -l < "$skips")
echo "host: $hp passed, $hf failed, $hs skipped"
tp=$((tp + hp)); tf=$((tf + hf)); ts=$((ts + hs))

# suite TITLE CMD...: runs a sub-suite whose last line is `N passed, N failed, N skipped` and
# whose skipped cases print `NAME ... skipped (reason)`; adds them to the totals.
suite() {
    local title="$1" log rc p f s
    shift
    echo
    echo "== $title"
    log="$(mktemp)"
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    read -r p f s < <(tail -n 1 "$log" | awk '/ passed, / { print $1 + 0, $3 + 0, $5 + 0; next } { print 0, 0, 0 }')
    # A crash, or a summary line missing, counts as a failure.
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    if [ "$rc" = 0 ] && [ $((p + f + s)) = 0 ]; then f=1; echo "$title: no summary line"; fi
    grep -aE '\.\.\. skipped' "$log" >> "$skips"
    rm -f "$log"
    tp=$((tp + p)); tf=$((tf + f)); ts=$((ts + s))
}

if [ "$host_only" = 0 ]; then
    suite "in-QEMU tests (tests/qemu/run.sh $quick)" tests/qemu/run.sh $quick
    # issue 13: the Intel driver on QEMU's 82576 model (QEMU >= 8: tests/qemu/need-qemu.sh).
    suite "igb on QEMU >= 8 (tests/qemu/igb.sh)" tests/qemu/igb.sh
    suite "end-to-end tests (tests/e2e/e2e.py $quick)" python3 tests/e2e/e2e.py $quick
    suite "proxy end-to-end (tests/e2e/proxy.py)" python3 tests/e2e/proxy.py
    # The system interpreter: Debian's python3-scapy is importable from it only.
    py=/usr/bin/python3
    [ -x "$py" ] || py=python3
    suite "hostile networks (tests/e2e/hostile.py --quick)" "$py" tests/e2e/hostile.py --quick
    # The kv appliance (issue 14) against redis-cli and redis-benchmark, over --net user.
    suite "kv end-to-end (tests/e2e/kv.py)" timeout 1200 python3 tests/e2e/kv.py
    # kv over a 2-queue tap in a namespace (root), pipelined redis-benchmark answers checked.
    suite "kv over a 2-queue tap (tests/e2e/kv.py --tap)" timeout 1200 python3 tests/e2e/kv.py --tap
    # The README's example appliance (issue 14, apps/echo) serves TCP echo.
    suite "README example end-to-end (tests/e2e/echo_app.py)" timeout 600 python3 tests/e2e/echo_app.py

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
            tp=$((tp + 1))
        else
            echo "bench smoke ... FAILED (log: $smoke.log)"
            tail -n 20 "$smoke.log"
            tf=$((tf + 1))
        fi
    else
        echo "bench smoke ... skipped (needs valgrind)" | tee -a "$skips"
        ts=$((ts + 1))
    fi
fi

echo
if [ "$ts" -gt 0 ]; then
    echo "skipped:"
    sed 's/^/  /' "$skips"
    if [ "${CI:-}" = true ]; then
        echo "CI=true: $ts skipped case(s) count as failures"
        tf=$((tf + ts))
    fi
fi
echo "total: $tp passed, $tf failed, $ts skipped"
[ "$tf" = 0 ]
