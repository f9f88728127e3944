#!/usr/bin/env bash
# tests/qemu/igb.sh: the Intel driver against QEMU's 82576 model (-device igb, QEMU >= 8.0).
#
# Cases: x2APIC boots of the in-guest suite at 1, 2, 4 and 8 cores (-cpu max,+x2apic); RSS
# steering with tests/nic at 2 and 4 queue pairs (tests/qemu/nic-rss.sh NIC=igb); httpd over
# igb with 1, 2 and 4 queue pairs on a multi-queue tap in a private network namespace: curl over
# IPv4 and IPv6, TCP echo of 1 MB checked by sha256, a short bounded wrk (no errors, some
# requests); the proxy appliance with wrong_core=0 (tests/e2e/proxy.py --nic igb). Namespaces
# are deleted at the end; every QEMU run has a hard timeout. Without a QEMU >= 8 (see
# tests/qemu/need-qemu.sh; CORENET_QEMU_BACKPORTS=1 fetches one) or without root every case is
# reported as skipped. Last line: `N passed, N failed, N skipped`.
# IGB_CASES=x2apic or IGB_CASES=httpd runs only those cases.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
logs="$root/target/qemu-tests"
mkdir -p "$logs"
passed=0 failed=0 skipped=0
. "$root/tests/qemu/need-qemu.sh"

summary() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" = 0 ]; }
cases=(x2apic-guest-tests-1 x2apic-guest-tests-2 x2apic-guest-tests-4 x2apic-guest-tests-8
    nic-rss-igb-2q nic-rss-igb-4q httpd-igb-1q httpd-igb-2q httpd-igb-4q proxy-igb-2q)
skip_all() {
    for c in "${cases[@]}"; do echo "qemu $c ... skipped ($1)"; skipped=$((skipped + 1)); done
    summary
    exit $?
}
[ "$(id -u)" = 0 ] && command -v ip >/dev/null || skip_all "needs root: network namespaces and taps"
need_qemu 8 || skip_all "$NEED_QEMU_REASON"
export CORENET_QEMU="$QEMU_BIN"
echo "igb: $("$QEMU_BIN" --version | head -n 1) ($QEMU_BIN)"

result() { # NAME OK LOG
    if [ "$2" = 0 ]; then
        passed=$((passed + 1)); echo "qemu $1 ... ok"
    else
        failed=$((failed + 1)); echo "qemu $1 ... FAILED (log: target/qemu-tests/$1.log)"
        tail -n 15 "$3" | sed 's/^/    | /'
    fi
}

# x2APIC (QEMU 10's TCG emulates it): the in-guest suite with -cpu max,+x2apic; the ready line
# must report x2apic=1.
(cd "$root" && cargo build -q --release --target x86_64-unknown-none -p guest-tests) || failed=$((failed + 1))
for n in 1 2 4 8; do
    [ "${IGB_CASES:-all}" = all ] || [ "${IGB_CASES:-all}" = x2apic ] || break
    l="$logs/x2apic-guest-tests-$n.log"
    timeout 300 "$root/qemu-run.sh" --kernel "$root/target/x86_64-unknown-none/release/guest-tests" \
        --smp "$n" --cpu max,+x2apic --net none --timeout 240 >"$l" 2>&1
    rc=$?
    grep -aq "corenet: ready cores=$n .*x2apic=1" "$l" && grep -aqE '^[0-9]+ passed, 0 failed' "$l" || rc=1
    result "x2apic-guest-tests-$n" "$rc" "$l"
done
[ "${IGB_CASES:-all}" = x2apic ] && { summary; exit $?; }

for n in 2 4; do
    [ "${IGB_CASES:-all}" = httpd ] && break
    NIC=igb NIC_TIMEOUT=150 timeout 300 "$root/tests/qemu/nic-rss.sh" "$n" q35 "$n" >"$logs/nic-rss-igb-${n}q.log" 2>&1
    result "nic-rss-igb-${n}q" $? "$logs/nic-rss-igb-${n}q.log"
done

(cd "$root" && cargo build -q --release --target x86_64-unknown-none -p httpd) || { failed=$((failed + 3)); summary; exit 1; }
img="$root/target/x86_64-unknown-none/release/httpd"
command -v wrk >/dev/null || echo "igb: wrk missing: the wrk step is left out"

ns=""
cleanup() { [ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null; [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; }
trap cleanup EXIT

# httpd_case N: httpd on N cores with N igb queue pairs; 0 when every check passed.
httpd_case() {
    local n="$1" log="$logs/httpd-igb-${n}q.log"
    ns="igb-e2e-$$-$n"
    local x="ip netns exec $ns"
    ip netns add "$ns" && ip -n "$ns" link set lo up
    $x "$root/qemu-run.sh" --kernel "$img" --nic igb --smp "$n" --queues "$n" --net tap --tap igb0 \
        --timeout 240 --cmdline "ip6=fd00::2/64 gw6=fd00::1" >"$log" 2>&1 &
    qpid=$!
    for _ in $(seq 1 900); do
        grep -aq "corenet: ready" "$log" && break
        kill -0 "$qpid" 2>/dev/null || break
        sleep 0.2
    done
    local ok=1
    if grep -aq "corenet: ready cores=$n " "$log" && grep -aq "nic: igb .* $n queue pairs, steering Rss" "$log"; then
        $x ip -6 addr add fd00::1/64 dev igb0 nodad
        ok=0
        local code
        code=$($x curl -s -o /dev/null -w '%{http_code}' -m 20 http://10.0.0.2/) || true
        [ "$code" = 200 ] || { echo "curl IPv4: $code" >>"$log"; ok=1; }
        code=$($x curl -g -s -o /dev/null -w '%{http_code}' -m 20 'http://[fd00::2]/') || true
        [ "$code" = 200 ] || { echo "curl IPv6: $code" >>"$log"; ok=1; }
        $x python3 - >>"$log" 2>&1 <<'PY' || ok=1
import hashlib, os, socket, threading
data = os.urandom(1 << 20)
s = socket.create_connection(("10.0.0.2", 7), timeout=60)
got = bytearray()
def read():
    # Read while writing: the echo's buffers are small, a writer that never reads stalls it.
    while True:
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
t = threading.Thread(target=read)
t.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
t.join(90)
same = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
print("echo: %d bytes back, sha256 %s" % (len(got), "equal" if same else "DIFFERENT"))
raise SystemExit(0 if same else 1)
PY
        if command -v wrk >/dev/null; then
            $x timeout 30 wrk -t1 -c8 -d3s http://10.0.0.2/ >"$log.wrk" 2>&1 || ok=1
            cat "$log.wrk" >>"$log"
            grep -q "requests in" "$log.wrk" && ! grep -qE "Socket errors|Non-2xx" "$log.wrk" || ok=1
            echo "httpd-igb-${n}q: wrk $(grep -E 'Requests/sec' "$log.wrk")"
        fi
    else
        echo "httpd-igb-${n}q: the guest did not come up with $n igb queue pairs" >>"$log"
    fi
    kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; qpid=""
    ip netns del "$ns" 2>/dev/null; ns=""
    return "$ok"
}
for n in 1 2 4; do
    httpd_case "$n"
    result "httpd-igb-${n}q" $? "$logs/httpd-igb-${n}q.log"
done

# The proxy appliance's active opens (IPv4 and IPv6) on 2 cores: wrong_core=0 on every core
# means the ports our RSS solver picked hash, in QEMU's igb, to the core that opened them.
if [ "${IGB_CASES:-all}" = all ]; then
    timeout 900 python3 "$root/tests/e2e/proxy.py" --nic igb --quick >"$logs/proxy-igb-2q.log" 2>&1
    result proxy-igb-2q $? "$logs/proxy-igb-2q.log"
fi
summary
