#!/usr/bin/env bash
# bench/idle_cpu.sh: host CPU used by an idle guest over 10 s, for each idle= policy.
#
# Boots the httpd appliance (user-mode networking, no traffic after one request), waits for the
# ready line, then reads the QEMU process's utime+stime from /proc/PID/stat before and after
# 10 s. Prints one line per run: policy, smp, percent of one host core. Every QEMU run has a
# hard timeout and is ended by its PID.
#
# With --wrk C it instead runs `wrk -t2 -cC -d5s --latency` (-t1 for one connection) against the guest and prints
# requests/s and p99 (load, not idle).
#
# --nic igb boots with QEMU's 82576 (QEMU >= 8: tests/qemu/need-qemu.sh finds or fetches one;
# CORENET_QEMU names it); over --net tap it gets one queue pair per vCPU.
#
#   bench/idle_cpu.sh [--smp N] [--runs R] [--kernel IMAGE] [--machine M] [--net user|tap]
#                     [--nic virtio|igb] [--cmdline EXTRA] [--wrk C] POLICY...
#
# --cmdline adds kernel command-line words to every run (e.g. nic_irq=off: no receive
# interrupts, halted cores look at the NIC every 1 ms).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
smp=2 runs=3 machine=q35 wrk_c="" net=user nic=virtio extra="" kernel="$root/target/x86_64-unknown-none/release/httpd"
while [ $# -gt 0 ]; do
    case "$1" in
        --smp) smp="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --kernel) kernel="$2"; shift 2 ;;
        --machine) machine="$2"; shift 2 ;;
        --wrk) wrk_c="$2"; shift 2 ;;
        --net) net="$2"; shift 2 ;;
        --nic) nic="$2"; shift 2 ;;
        --cmdline) extra="$2"; shift 2 ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || set -- poll adaptive
nic_args=()
if [ "$nic" != virtio ]; then
    . "$root/tests/qemu/need-qemu.sh"
    need_qemu 8 || { echo "--nic $nic: $NEED_QEMU_REASON" >&2; exit 1; }
    export CORENET_QEMU="$QEMU_BIN"
    nic_args=(--nic "$nic")
    [ "$net" = tap ] && nic_args+=(--queues "$smp")
fi
port="${CORENET_FWD_HTTP:-18431}"
export CORENET_FWD_HTTP="$port" CORENET_FWD_ECHO="${CORENET_FWD_ECHO:-18432}"
hz=$(getconf CLK_TCK)
# --net tap: the Linux guest's line (bench/linux-guest/run.sh): a multi-queue tap (one queue
# per vCPU) in a private namespace, guest 10.0.0.2. Needs root.
ns="idle-cpu-$$"
in_ns=()
base="http://127.0.0.1:$port"
match="127.0.0.1:$port-"
if [ "$net" = tap ]; then
    ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1
    trap 'ip netns del "$ns" 2>/dev/null' EXIT
    in_ns=(ip netns exec "$ns")
    base="http://10.0.0.2"
    match="ifname=idlecpu$$,"
fi
# Policies alternate within each round, so machine noise spreads over all of them.
for _ in $(seq "$runs"); do
    for policy in "$@"; do
        log=$(mktemp)
        net_args=(--net "$net")
        [ "$net" = tap ] && net_args+=(--tap "idlecpu$$")
        "${in_ns[@]}" "$root/qemu-run.sh" --kernel "$kernel" --smp "$smp" --machine "$machine" \
            "${net_args[@]}" "${nic_args[@]}" --timeout 40 --cmdline "idle=$policy${extra:+ $extra}" >"$log" 2>&1 &
        runner=$!
        for _ in $(seq 200); do
            grep -q "corenet: ready" "$log" && break
            sleep 0.1
        done
        # Our QEMU process (the runner's grandchild, under `timeout`): by its forward or tap.
        qemu=""
        for p in $(pgrep -x qemu-system-x86); do
            tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$match" && qemu=$p
        done
        [ -n "$qemu" ] || { echo "no QEMU process found" >&2; cat "$log" >&2; exit 1; }
        "${in_ns[@]}" curl -s -m 5 -o /dev/null "$base/" || true
        sleep 1
        if [ -n "$wrk_c" ]; then
            threads=$((wrk_c < 2 ? 1 : 2)) # wrk needs a connection per thread
            out=$("${in_ns[@]}" timeout 30 wrk -t"$threads" -c"$wrk_c" -d5s --latency "$base/" 2>&1 || true)
            rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
            p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
            errs=$(grep -E "Socket errors|Non-2xx" <<<"$out" | tr -s ' ' | tr '\n' ';' || true)
            echo "policy=$policy smp=$smp machine=$machine net=$net nic=$nic${extra:+ cmdline=${extra// /,}} wrk_c=$wrk_c rps=$rps p99=$p99 $errs"
            kill "$qemu" 2>/dev/null || true
            wait "$runner" 2>/dev/null || true
            rm -f "$log"
            continue
        fi
        a=$(awk '{print $14 + $15}' /proc/"$qemu"/stat)
        sleep 10
        b=$(awk '{print $14 + $15}' /proc/"$qemu"/stat)
        echo "policy=$policy smp=$smp machine=$machine net=$net nic=$nic${extra:+ cmdline=${extra// /,}} cpu_percent=$(awk -v d=$((b - a)) -v hz="$hz" 'BEGIN { printf "%.1f", d * 100 / (10 * hz) }')"
        kill "$qemu" 2>/dev/null || true
        wait "$runner" 2>/dev/null || true
        rm -f "$log"
    done
done
