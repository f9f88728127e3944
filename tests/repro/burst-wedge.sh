#!/usr/bin/env bash
# tests/repro/burst-wedge.sh: a 1 000-connection burst must not stall a receive queue.
#
# httpd on 2 vCPUs / 2 RSS queues, inside a private netns: after `wrk -c 1000 -d 2`, new
# connections must be served. Before the fix one queue stopped receiving for good: QEMU 7.2's
# software RSS (rss=on without eBPF) parks a frame redirected to a queue that had no buffers on
# the *source* queue's backend, which is only flushed when that queue is notified; a polling
# driver with buffers to spare never notified. The driver now rings an idle queue's doorbell
# every IDLE_KICK empty bursts (drivers/virtio/src/rx.rs). With one queue or rss=off the stall
# never happened. Part of tests/qemu/run.sh.
# Usage (root): tests/repro/burst-wedge.sh [SMP]
set -u
smp="${1:-2}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
ns="corenet-burst-$$"
log="$root/target/repro-burst.log"
mkdir -p "$root/target"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$root/qemu-run.sh" --app httpd --net tap --smp "$smp" ${CORENET_QUEUES:+--queues "$CORENET_QUEUES"} ${CORENET_NIC_OPTS:+--nic-opts "$CORENET_NIC_OPTS"} --timeout 120 ${CORENET_CMDLINE:+--cmdline "$CORENET_CMDLINE"} >"$log" 2>&1 &
qp=$!
for _ in $(seq 1 300); do grep -q "corenet: ready" "$log" && break; sleep 0.1; done
ip netns exec "$ns" wrk -t1 -c 1000 -d 2 --timeout 5s http://10.0.0.2/ | grep Requests/sec
sleep 5
ip netns exec "$ns" ip neigh flush dev corenet0
ok=0
for _ in 1 2 3 4 5 6; do
    c=$(ip netns exec "$ns" curl -s -m 3 -o /dev/null -w "%{http_code}" http://10.0.0.2/)
    echo -n "$c "
    [ "$c" = 200 ] && ok=$((ok + 1))
done
echo
kill "$qp" 2>/dev/null
wait "$qp" 2>/dev/null
ip netns del "$ns"
echo "burst-wedge smp=$smp: $ok of 6 requests answered after the burst"
[ "$ok" -ge 5 ]
