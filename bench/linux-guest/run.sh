#!/usr/bin/env bash
# bench/linux-guest/run.sh: boot the Linux benchmark guest the way corenet boots, by hand.
#
# Builds the guest (cached), creates a private network namespace, and inside it runs
# `qemu-run.sh --kernel vmlinuz --net tap ... -- -initrd initrd.img`, so the QEMU command line is
# corenet's `qemu-run.sh --net tap` line (q35 + qboot, TCG with -cpu max, virtio-net-pci on a
# multi-queue tap with host side 10.0.0.1/24, guest ip=10.0.0.2/24) plus only -initrd.
# The serial console is this terminal. Stop the guest with `poweroff` sent to 10.0.0.2:9999 from
# inside the namespace (qemu-run.sh gives QEMU no serial input) or Ctrl-C. QEMU is killed after
# --timeout seconds (default 300) and the namespace is deleted on every exit path.
#
# Usage: sudo bench/linux-guest/run.sh [--smp N] [--timeout SECS] [--dry-run] [-- CMD...]
#   -- CMD...   instead of the console, run CMD inside the namespace once the guest is ready
#               (e.g. -- curl -s http://10.0.0.2/), then power the guest off.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
smp=1
timeout_s=300
dry=0
cmd=()
while [ $# -gt 0 ]; do
    case "$1" in
        --smp) smp="${2:?}"; shift 2 ;;
        --timeout) timeout_s="${2:?}"; shift 2 ;;
        --dry-run) dry=1; shift ;;
        --) shift; cmd=("$@"); break ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespace + tap)" >&2; exit 2; }

KERNEL="" INITRD="" CMDLINE=""
while IFS='=' read -r key value; do
    case "$key" in KERNEL) KERNEL="$value" ;; INITRD) INITRD="$value" ;; CMDLINE) CMDLINE="$value" ;; esac
done < <("$here/build.sh")
[ -f "$KERNEL" ] && [ -f "$INITRD" ] || { echo "run.sh: build.sh gave no kernel/initrd" >&2; exit 1; }
qargs=(--kernel "$KERNEL" --net tap --smp "$smp" --cmdline "ip=10.0.0.2/24 gw=10.0.0.1 $CMDLINE" -- -initrd "$INITRD")

ns="lgbench-$$"
ip netns add "$ns"
cleanup() {
    # Every process of the session started for QEMU (timeout moves QEMU into a process group
    # of its own, so the group is not enough), selected by the session id.
    if [ -n "${qpid:-}" ]; then pkill -KILL -s "$qpid" 2>/dev/null || true; fi
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip -n "$ns" link set lo up

if [ "$dry" = 1 ]; then
    ip netns exec "$ns" "$root/qemu-run.sh" --dry-run "${qargs[@]}"
    exit 0
fi

# QEMU runs in its own session/process group, so that it is killed as a group by its id on every
# exit path (Ctrl-C included: the traps below turn signals into an exit, which runs cleanup).
trap 'exit 130' INT
trap 'exit 143' TERM
if [ "${#cmd[@]}" = 0 ]; then
    # Interactive: the guest's console output on this terminal until it powers off or times out.
    setsid ip netns exec "$ns" timeout -k 5 "$timeout_s" "$root/qemu-run.sh" "${qargs[@]}" < /dev/null &
    qpid=$!
    rc=0
    wait "$qpid" || rc=$?
    qpid=""
    exit "$rc"
fi

# Scripted: wait for the ready line, run CMD in the namespace, then ask for poweroff.
fifo_dir="$(mktemp -d)"
log="$fifo_dir/console"
setsid ip netns exec "$ns" timeout -k 5 "$timeout_s" "$root/qemu-run.sh" "${qargs[@]}" \
    < /dev/null > "$log" 2>&1 &
qpid=$!
for _ in $(seq 1 "$((timeout_s * 10))"); do
    grep -q '^linux-guest: ready' "$log" && break
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.1
done
cat "$log"
grep -q '^linux-guest: ready' "$log" || { echo "run.sh: guest never became ready" >&2; exit 1; }
rc=0
ip netns exec "$ns" "${cmd[@]}" || rc=$?
ip netns exec "$ns" timeout 5 bash -c 'echo poweroff > /dev/tcp/10.0.0.2/9999' || true
for _ in $(seq 1 100); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$qpid" 2>/dev/null; then echo "run.sh: guest did not power off; killing QEMU" >&2; else qpid=""; fi
grep -E '^linux-guest: (powering|error)' "$log" || true
rm -rf "$fifo_dir"
exit "$rc"
