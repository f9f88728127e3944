#!/usr/bin/env bash
# tests/qemu/nic-rss.sh: multi-queue RSS steering against Linux's network stack, in QEMU.
#
# Creates a private network namespace, boots tests/nic in it with N vCPUs and an N-queue tap
# (virtio-net-pci mq=on rss=on, or virtio-mmio on microvm), sends UDP and TCP SYN traffic of
# many IPv4 and IPv6 flows from the namespace's Linux stack, then a `corenet-done` datagram.
# The guest checks that every flow landed on the core its steering table names. The namespace
# and everything in it are deleted at the end; QEMU runs under a hard timeout.
#
# Usage: tests/qemu/nic-rss.sh [N] [q35|microvm] [QUEUES] [NIC_OPTS]   (root; default 2 q35 N)
# NIC_OPTS=rss=off leaves steering to the device (multi-queue without RSS): then only the
# total is checked.
# QUEUES=1 exercises the single-queue fallback: core 0 receives everything and hands each
# frame to the core the steering table names over the driver's SPSC rings.
# NIC=igb runs the same on QEMU's Intel 82576 model (needs QEMU >= 8, see
# tests/qemu/need-qemu.sh); without one the script prints SKIP and exits 77.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-2}"
machine="${2:-q35}"
queues="${3:-$n}"
nic_opts="${4:-}"
nic="${NIC:-virtio}"
ns="corenet-rss-$nic-$$"
log="$root/target/qemu-tests/nic-rss-$nic-$machine-$n-q$queues${nic_opts:+-$nic_opts}.log"
mkdir -p "$(dirname "$log")"

[ "$(id -u)" = 0 ] || { echo "nic-rss: needs root (network namespaces)"; exit 1; }
img="$root/target/x86_64-unknown-none/release/nic-tests"
(cd "$root" && cargo build -q --release --target x86_64-unknown-none -p nic-tests) || exit 1

cleanup() {
    [ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

ip netns exec "$ns" "$root/qemu-run.sh" --kernel "$img" --nic "$nic" --machine "$machine" --smp "$n" --queues "$queues" \
    --net tap --tap corenet0 ${nic_opts:+--nic-opts "$nic_opts"} --timeout ${NIC_TIMEOUT:-120} --cmdline "log=${CORENET_LOG:-info}" >"$log" 2>&1 &
qpid=$!

# Wait (bounded) for the guest to be ready.
for _ in $(seq 1 600); do
    grep -aq "corenet: ready" "$log" && break
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.1
done
if grep -aq "SKIP:" "$log"; then
    echo "nic-rss $nic $machine x$n: SKIPPED ($(grep -a 'SKIP:' "$log" | sed 's/.*SKIP: //'))"
    exit 77
fi
if ! grep -aq "corenet: ready" "$log"; then
    echo "nic-rss: guest never became ready"; tail -20 "$log"; exit 1
fi

# The guest has no IP stack in this test: give Linux its MAC so no ARP is needed.
ip netns exec "$ns" ip neigh replace 10.0.0.2 lladdr 52:54:00:c0:4e:01 dev corenet0 nud permanent
# IPv6 flows too (the NIC hashes them with the 36-byte IPv6 input): same static neighbor.
ip netns exec "$ns" ip -6 addr add fd00::1/64 dev corenet0 nodad
ip netns exec "$ns" ip -6 neigh replace fd00::2 lladdr 52:54:00:c0:4e:01 dev corenet0 nud permanent
ip netns exec "$ns" python3 - <<'PY'
import socket, time
dst = "10.0.0.2"
sent = 0
# 64 UDP flows x 4 datagrams, then 32 TCP connection attempts (SYNs, no answer expected).
for i in range(64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.0.1", 20000 + i * 7))
    for k in range(4):
        s.sendto(b"corenet-flow %d %d" % (i, k), (dst, 9000 + (i % 13)))
        sent += 1
    s.close()
    time.sleep(0.002)
for i in range(32):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((dst, 8000 + i))
    except BlockingIOError:
        pass
    time.sleep(0.002)
    s.close()
# IPv6: 32 UDP flows x 2 datagrams, 16 SYNs.
for i in range(32):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("fd00::1", 21000 + i * 5))
    for k in range(2):
        s.sendto(b"corenet-flow6 %d %d" % (i, k), ("fd00::2", 9100 + (i % 11)))
        sent += 1
    s.close()
    time.sleep(0.002)
for i in range(16):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(("fd00::2", 8100 + i))
    except BlockingIOError:
        pass
    time.sleep(0.002)
    s.close()
time.sleep(0.5)
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    d.sendto(b"corenet-done %d" % (sent + 32 + 16), (dst, 9))
    time.sleep(0.05)
print("nic-rss: sent %d UDP datagrams (IPv4 and IPv6) and 48 SYN flows" % sent)
PY

wait "$qpid"
rc=$?
qpid=""
grep -a "nic-tests:" "$log"
# The guest steers with a key drawn at boot (rsskey=random, the default) and checks every
# flow against the table it programmed into QEMU, so a key the device and the stack
# disagree on fails the run.
if ! grep -aq "RSS key: random for this boot" "$log"; then
    echo "nic-rss: the guest did not report a random RSS key"
    rc=1
fi
if [ "$rc" = 0 ] && grep -aq "nic-tests: PASS" "$log"; then
    echo "nic-rss $nic $machine x$n queues=$queues: ok"
    exit 0
fi
echo "nic-rss $nic $machine x$n queues=$queues: FAILED (exit $rc; log $log)"
tail -25 "$log"
exit 1
