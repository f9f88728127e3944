#!/usr/bin/env bash
# tests/qemu/idle.sh: httpd under idle=adaptive (issue 16) answers and wakes by the right source.
#
# Three configurations: q35 virtio-pci with user-mode networking (one queue, software
# distribution: the MSI-X interrupt wakes core 0, IPIs wake the others), q35 with a 2-queue
# tap in a private network namespace (one MSI-X vector per queue, steered to its core), and
# microvm with virtio-mmio under -cpu qemu64 (no receive interrupt: the NIC poll interval;
# no TSC-deadline mode: the one-shot APIC timer), and QEMU's 82576 (igb, QEMU >= 8) with a
# 2-queue tap (one MSI-X vector per queue, steered to its core; and with nic_irq=off, the
# fallback of a NIC without MSI-X: timer wake-ups only; skipped without such a QEMU).
# Each boots httpd with
# idle=adaptive, lets the cores halt, sends sequential requests on new connections (so flows
# spread over the cores; on the tap after an 800-connection burst), then a short wrk run, and
# checks every answer and the /metrics
# counters (halts and wake-ups by source). Prints `NAME ... ok|FAILED` lines and
# `N passed, N failed, N skipped`. Every QEMU run has a hard timeout and is ended by its PID;
# the namespace is deleted at the end.
#
# Usage: tests/qemu/idle.sh   (the tap cases need root; they are skipped otherwise)
#        IDLE_CASES="idle-igb-tap-mq ..." tests/qemu/idle.sh runs only the cases named.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
logs="$root/target/qemu-tests"
mkdir -p "$logs"
img="$root/target/x86_64-unknown-none/release/httpd"
(cd "$root" && cargo build -q --release --target x86_64-unknown-none -p httpd) || exit 1
passed=0 failed=0 skipped=0
ns="${CORENET_NS_PREFIX:-idle-test}-$$"
qpid=""
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
}
trap cleanup EXIT

# check NAME URL_BASE LOG 'metric regexes separated by |||' [netns] [burst connections]
check() {
    local name="$1" base="$2" log="$3" patterns="$4" in_ns="${5:-}" burst="${6:-}"
    local run=()
    [ -n "$in_ns" ] && run=(ip netns exec "$in_ns")
    local ok=1 why=""
    for _ in $(seq 1 600); do
        grep -aq "corenet: ready" "$log" && break
        sleep 0.1
    done
    grep -aq "corenet: ready" "$log" || { ok=0; why="never ready"; }
    sleep 1 # every core goes idle and halts
    if [ "$ok" = 1 ] && [ -n "$burst" ] && command -v wrk >/dev/null; then
        # A burst that overloads a queue, then idle cores: QEMU's software RSS parks frames
        # for a queue until that queue is notified, which a halting core must do.
        "${run[@]}" timeout 20 wrk -t1 -c"$burst" -d3 --timeout 5s "$base/" >/dev/null 2>&1
        sleep 1
    fi
    if [ "$ok" = 1 ]; then
        for i in $(seq 1 20); do
            code=$("${run[@]}" curl -s -m 5 -o /dev/null -w '%{http_code}' "$base/") || true
            [ "$code" = 200 ] || { ok=0; why="request $i: HTTP '$code'"; break; }
            sleep 0.05
        done
    fi
    if [ "$ok" = 1 ] && command -v wrk >/dev/null; then
        out=$("${run[@]}" timeout 20 wrk -t2 -c16 -d2s "$base/" 2>&1)
        if grep -q "Socket errors\|Non-2xx" <<<"$out" || ! grep -q "requests in" <<<"$out"; then
            ok=0
            why="wrk: $(grep -E 'Socket errors|Non-2xx|requests in' <<<"$out" | tr '\n' ' ')"
        fi
    fi
    if [ "$ok" = 1 ]; then
        metrics=$("${run[@]}" curl -s -m 5 "$base/metrics")
        IFS='|' read -r -a pats <<<"${patterns//|||/|}"
        for p in "${pats[@]}"; do
            grep -Eq "$p" <<<"$metrics" || { ok=0; why="metrics lack /$p/"; break; }
        done
    fi
    if [ "$ok" = 1 ]; then
        echo "$name ... ok"
        passed=$((passed + 1))
    else
        echo "$name ... FAILED ($why; log: $log)"
        failed=$((failed + 1))
    fi
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null
    qpid=""
}

# Whether case $1 is selected (IDLE_CASES, default all).
want() { [ -z "${IDLE_CASES:-}" ] || [[ " $IDLE_CASES " == *" $1 "* ]]; }

# A non-zero counter: `name{labels} N` with N >= 1.
nz() { echo "^$1 [1-9][0-9]*$"; }

port="${CORENET_FWD_HTTP:-18531}"
export CORENET_FWD_HTTP="$port" CORENET_FWD_ECHO="${CORENET_FWD_ECHO:-18532}"

if want idle-q35-user; then
log="$logs/idle-q35-user.log"
"$root/qemu-run.sh" --kernel "$img" --smp 2 --net user --timeout 90 --cmdline "idle=adaptive" >"$log" 2>&1 &
qpid=$!
check idle-q35-user "http://127.0.0.1:$port" "$log" \
    "$(nz 'corenet_cpu_halts_total\{core="0"\}')|||$(nz 'corenet_cpu_halts_total\{core="1"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="0",source="nic"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="1",source="ipi"\}')"
fi

if want idle-microvm-qemu64-user; then
log="$logs/idle-microvm-qemu64-user.log"
"$root/qemu-run.sh" --kernel "$img" --machine microvm --cpu qemu64 --smp 2 --net user --timeout 90 --cmdline "idle=adaptive" >"$log" 2>&1 &
qpid=$!
check idle-microvm-qemu64-user "http://127.0.0.1:$port" "$log" \
    "$(nz 'corenet_cpu_halts_total\{core="0"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="0",source="timer"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="0",source="nic"\}')"
fi

if ! want idle-q35-tap-mq; then
    :
elif [ "$(id -u)" = 0 ]; then
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    log="$logs/idle-q35-tap-mq.log"
    ip netns exec "$ns" "$root/qemu-run.sh" --kernel "$img" --smp 2 --net tap --tap idletap0 \
        --queues 2 --timeout 90 --cmdline "idle=adaptive" >"$log" 2>&1 &
    qpid=$!
    check idle-q35-tap-mq "http://10.0.0.2" "$log" \
        "$(nz 'corenet_cpu_halts_total\{core="1"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="0",source="nic"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="1",source="nic"\}')" \
        "$ns" 800
    ip netns del "$ns" 2>/dev/null
else
    echo "idle-q35-tap-mq ... skipped (needs root)"
    skipped=$((skipped + 1))
fi

# igb: each core owns a queue whose MSI-X vector wakes it; both must show NIC wake-ups.
. "$root/tests/qemu/need-qemu.sh"
if ! want idle-igb-tap-mq && ! want idle-igb-tap-mq-noirq; then
    :
elif [ "$(id -u)" != 0 ]; then
    echo "idle-igb-tap-mq idle-igb-tap-mq-noirq ... skipped (needs root)"
    skipped=$((skipped + 2))
elif ! need_qemu 8; then
    echo "idle-igb-tap-mq idle-igb-tap-mq-noirq ... skipped ($NEED_QEMU_REASON)"
    skipped=$((skipped + 2))
else
    # igb_case NAME CMDLINE PATTERNS LOG_LINE
    igb_case() {
        want "$1" || return 0
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        log="$logs/$1.log"
        CORENET_QEMU="$QEMU_BIN" ip netns exec "$ns" "$root/qemu-run.sh" --kernel "$img" --nic igb \
            --smp 2 --net tap --tap idleigb0 --queues 2 --timeout 120 --cmdline "$2" >"$log" 2>&1 &
        qpid=$!
        local before=$passed
        check "$1" "http://10.0.0.2" "$log" "$3" "$ns" 800
        if [ "$passed" != "$before" ] && ! grep -aq "$4" "$log"; then
            echo "$1: ... but FAILED: no '$4' in the log ($log)"
            passed=$((passed - 1)) failed=$((failed + 1))
        fi
        ip netns del "$ns" 2>/dev/null
    }
    igb_case idle-igb-tap-mq "idle=adaptive" \
        "$(nz 'corenet_cpu_halts_total\{core="0"\}')|||$(nz 'corenet_cpu_halts_total\{core="1"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="0",source="nic"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="1",source="nic"\}')" \
        "igb receive interrupts: MSI-X"
    # The fallback of a NIC without MSI-X: no NIC wake-up, halted cores wake by the timer.
    igb_case idle-igb-tap-mq-noirq "idle=adaptive nic_irq=off" \
        "$(nz 'corenet_cpu_halts_total\{core="1"\}')|||$(nz 'corenet_cpu_wakeups_total\{core="1",source="timer"\}')|||^corenet_cpu_wakeups_total\{core=\"0\",source=\"nic\"\} 0$|||^corenet_cpu_wakeups_total\{core=\"1\",source=\"nic\"\} 0$" \
        "nic_irq=off: no receive interrupts"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
