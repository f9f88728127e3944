"""tests/e2e/hostile_cases.py: hostile.py's attacks, one function per case.

Each function takes an `Env` (tests/e2e/hostile_env.py), boots its own guest, stores what it
measured in `env.record[case]`, raises AssertionError on a failed check and returns a one-line
summary. Timings are recorded, never asserted; the checks are about outcomes (served or not,
alive or not, counters rose or not, heap bounded or not).
"""
import json
import os
import re
import subprocess
import time

from hostile_env import GUEST, GUEST_MAC, HERE, HOST, PY, TAP, drops, wrk_summary
from lib import LOGS, check

ATTACKS = os.path.join(HERE, "attacks.py")
# ICMP errors per second of flood a rate-limited guest may send (Linux: icmp_msgs_per_sec 1000).
ICMP_ERRORS_PER_S_MAX = 1000
# UDP echo replies per second and burst per core (httpd's udp_echo_rate / udp_echo_burst
# defaults), checked once httpd exports corenet_udp_echo_dropped_total.
UDP_ECHO_PER_S_MAX, UDP_ECHO_BURST = 1000, 100
# Heap a guest may add per pipelining connection: httpd's input (72 KiB) and output (256 KiB)
# limits plus the TCP buffers, rounded up. Today's output buffer is compacted only once fully
# drained, so a slow reader makes it grow with everything it ever read.
PIPELINE_HEAP_PER_CONN_MAX = 512 << 10


def probe(t, start, interval, count, timeout=2):
    """Background one-shot GETs (attacks.py probe); returns the Popen."""
    return subprocess.Popen(t.ns.exec([PY, ATTACKS, "probe", GUEST, "80", f"{start:.3f}", str(interval), str(count),
                                       str(timeout)]), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def probe_results(p, timeout):
    out, _ = p.communicate(timeout=timeout)
    return json.loads(out.decode().strip().splitlines()[-1])


def served_between(probes, t0, t1):
    inside = [p for p in probes if t0 <= p[0] < t1]
    return sum(1 for p in inside if p[2]), len(inside)


def syn_flood(env):
    rec = env.record["syn-flood"] = {}
    secs = 5 if env.quick else 10
    t = env.boot("syn")
    before = t.metrics()
    wrk = t.spawn(["timeout", "-k", "5", str(secs + 15), "wrk", "-t", "1", "-c", "8", "-d", f"{secs + 2}s",
                   "--timeout", "2s", f"http://{GUEST}/"], f"hostile-{env.guest}-syn-wrk.log")
    time.sleep(1)
    fs = time.time()
    interval = 0.25
    pr = probe(t, fs, interval, int((secs + 8) / interval))
    # hping3 prints its statistics (packets transmitted) on stderr when interrupted.
    flood = subprocess.run(t.ns.exec(["timeout", "-s", "INT", str(secs), "hping3", "-S", "-p", "80", "--flood",
                                      "--rand-source", GUEST]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=secs + 20).stdout.decode(errors="replace")
    fe = time.time()
    time.sleep(max(0.0, fe + 1 - time.time()))
    ok_1s, secs_1s = t.get(timeout=3)
    probes = probe_results(pr, secs + 20)
    wrk.wait(timeout=secs + 30)
    wrk_out = open(os.path.join(LOGS, f"hostile-{env.guest}-syn-wrk.log"), errors="replace").read()
    m = re.search(r"(\d+) packets transmitted", flood)
    after_ok = [p for p in probes if p[0] >= fe and p[2]]
    rec.update({
        "flood_seconds": round(fe - fs, 1),
        "syns_sent": int(m.group(1)) if m else None,
        "probes_during": served_between(probes, fs, fe),
        "probes_after": served_between(probes, fe, fe + 100),
        "wrk": wrk_summary(wrk_out),
        "get_1s_after_served": ok_1s,
        "get_1s_after_seconds": secs_1s,
        "first_success_after_s": round(min(p[1] for p in after_ok) - fe, 2) if after_ok else None,
    })
    t.finish(rec, before)
    served, tried = rec["probes_during"]
    summary = (f"served during flood {served}/{tried} GETs, wrk {rec['wrk']['requests']} requests; "
               f"GET at +1 s {'served' if ok_1s else 'NOT served'}; first success after {rec['first_success_after_s']} s; "
               f"{rec['syns_sent']} SYNs")
    check(served > 0, "no GET served during the flood: " + summary)
    check(ok_1s, "GET started 1 s after the flood not served: " + summary)
    return summary


# 0.0.0.0 is not among them: dnsmasq replaces a router of 0.0.0.0 by its own address.
BAD_ROUTERS = ["255.255.255.255", "224.0.0.1", "192.168.99.1"]
DHCP_ERROR = re.compile(r"(?i)^.*(dhcp|gateway|router).*(ignor|refus|reject|invalid|not unicast|bad|off-subnet|not on).*$", re.M)


def dnsmasq(ns, router, tag):
    lease = os.path.join(LOGS, f"hostile-dnsmasq-{tag}.leases")
    if os.path.exists(lease):
        os.unlink(lease)
    return subprocess.Popen(ns.exec([
        "timeout", "-k", "2", "120", "dnsmasq", "--keep-in-foreground", "--log-facility=-", "--log-dhcp",
        "--conf-file=/dev/null", "--port=0", f"--interface={TAP}", "--bind-interfaces", "--user=root",
        f"--dhcp-range={GUEST},{GUEST},255.255.255.0,2m", f"--dhcp-option=3,{router}", f"--dhcp-leasefile={lease}",
        "--pid-file="]), stdout=open(os.path.join(LOGS, f"hostile-dnsmasq-{tag}.log"), "wb"), stderr=subprocess.STDOUT)


def stop(p):
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def rogue_dhcp(env):
    """ip=dhcp against a rogue dnsmasq offering a bad router; then a good server replaces it."""
    rec = env.record["rogue-dhcp"] = {}
    failures = []
    for i, router in enumerate(BAD_ROUTERS):
        r = rec[router] = {}
        servers = []

        def prepare(ns):
            mode = ["multi_queue"] if env.smp > 1 else []
            subprocess.run(["ip", "-n", ns.name, "tuntap", "add", "dev", TAP, "mode", "tap"] + mode, check=True)
            subprocess.run(["ip", "-n", ns.name, "addr", "add", f"{HOST}/24", "dev", TAP], check=True)
            # A second host address off the guest's subnet: its replies must go through the gateway.
            subprocess.run(["ip", "-n", ns.name, "addr", "add", "192.168.50.1/24", "dev", TAP], check=True)
            subprocess.run(["ip", "-n", ns.name, "link", "set", TAP, "up"], check=True)
            servers.append(dnsmasq(ns, router, f"rogue-{i}"))
            time.sleep(0.5)

        t = env.boot(f"dhcp{i}", cmdline="ip=dhcp", prepare=prepare, wait_ready=False)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and t.vm.alive():
                text = t.vm.text().decode(errors="replace")
                if DHCP_ERROR.search(text) or "corenet: ready" in text:
                    break
                time.sleep(0.2)
            text = t.vm.text().decode(errors="replace")
            err = DHCP_ERROR.search(text)
            r["error_logged"] = err.group(0).strip() if err else None
            lease = re.search(r"net: DHCP lease .*", text)
            r["rogue_lease_line"] = lease.group(0) if lease else None
            r["ready_on_rogue_lease"] = "corenet: ready" in text
            if not r["ready_on_rogue_lease"]:
                # The bad lease was refused: a well-behaved server takes over.
                stop(servers.pop())
                servers.append(dnsmasq(t.ns, HOST, f"good-{i}"))
                deadline = time.monotonic() + 25
                while time.monotonic() < deadline and t.vm.alive() and b"corenet: ready" not in t.vm.text():
                    time.sleep(0.2)
                lease = re.search(r"net: DHCP lease .*", t.vm.text().decode(errors="replace"))
                r["good_lease_line"] = lease.group(0) if lease else None
            r["ready"] = b"corenet: ready" in t.vm.text()
            r["served_on_link"] = r["ready"] and t.get(timeout=3)[0]
            # An off-subnet client: the reply needs the gateway (the first off-link send).
            r["served_off_subnet"] = r["ready"] and t.get(timeout=3, src="192.168.50.1")[0]
            for s in servers:
                stop(s)
            try:
                t.finish(r)
            except AssertionError as e:
                failures.append(f"router {router}: {e}")
        finally:
            for s in servers:
                stop(s)
            t.vm.stop()
            t.ns.delete()
        if not r["error_logged"]:
            failures.append(f"router {router}: no error on the console")
        if r.get("ready_on_rogue_lease"):
            failures.append(f"router {router}: guest took the lease with the bad router ({r['rogue_lease_line']})")
    summary = "; ".join(f"{k}: error={'yes' if v['error_logged'] else 'no'} ready={v.get('ready')} "
                        f"crashed={v.get('guest_crashed')} served={v.get('served_on_link')}" for k, v in rec.items())
    check(not failures, "; ".join(failures) + " | " + summary)
    return summary


BAD_GWS = ["255.255.255.255", "224.0.0.1", "0.0.0.0", "192.168.99.1"]


def bad_gw(env):
    rec = env.record["bad-gw"] = {}
    failures = []
    for i, gw in enumerate(BAD_GWS):
        t = env.boot(f"gw{i}", cmdline=f"ip={GUEST}/24 gw={gw}", wait_ready=False)
        try:
            deadline = time.monotonic() + 45
            while t.vm.alive() and time.monotonic() < deadline and b"corenet: ready" not in t.vm.text():
                time.sleep(0.2)
            rc = t.vm.wait(1)
            text = t.vm.text().decode(errors="replace")
        finally:
            t.vm.stop()
            t.ns.delete()
        line = re.search(r"corenet: BOOT FAILED: .*", text)
        rec[gw] = {"exit": rc, "boot_failed_line": line.group(0).strip() if line else None,
                   "booted": "corenet: ready" in text, "panic": "PANIC" in text}
        if rc != 5 or not line or not re.search(r"(?i)gw|gateway", line.group(0)):
            crash = next((ln.strip() for ln in text.splitlines() if "PANIC" in ln or "EXCEPTION" in ln), "")
            failures.append(f"gw={gw}: exit {rc}, {rec[gw]['boot_failed_line'] or ('booted' if rec[gw]['booted'] else crash or text[-200:])}")
    check(not failures, "; ".join(failures))
    return "; ".join(f"gw={k}: exit {v['exit']}" for k, v in rec.items())


def malformed(env):
    rec = env.record["malformed"] = {}
    t = env.boot("malformed")
    # Oversize frames need a tap MTU above them (the guest's own MTU stays 1500).
    t.run(["ip", "link", "set", TAP, "mtu", "9000"])
    before = t.metrics()
    n = 2000 if env.quick else 6000
    rec["frames"] = t.tool("frames.py", TAP, GUEST_MAC, GUEST, n, 1, timeout=600)
    time.sleep(1)
    rec["served_after_s"] = t.served_within(10)
    t.finish(rec, before)
    d = drops(rec.get("counters_delta", {}))
    rec["drop_counters_rose_by"] = d if env.corenet else None
    summary = f"{rec['frames']['sent']} frames; served after: {rec['served_after_s']} s"
    if env.corenet:
        summary += f"; drop counters +{d}"
        check(d > 0, "drop counters did not rise: " + summary)
    return summary


def slowloris(env):
    rec = env.record["slowloris"] = {}
    # Quick: corenet with heap=32M, so that 1000 slow connections exceed its connection limit
    # (sized from the heap); full: the default heap and 5000 (its limit is ~4700 on 1 vCPU).
    conns, secs, interval = (1000, 25, 3) if env.quick else (5000, 60, 3)
    t = env.boot("slowloris", cmdline="heap=32M" if env.quick else "")
    before = t.metrics()
    t0 = time.time()
    sl = subprocess.Popen(t.ns.exec([PY, ATTACKS, "slowloris", GUEST, "80", str(conns), str(secs), str(interval)]),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # New clients from the moment the slow connections are open until the attack ends.
    start = t0 + 8
    pr = probe(t, start, 0.5, int((secs - 9) / 0.5))
    time.sleep(max(0, t0 + secs / 2 - time.time()))
    mid = t.metrics() or {}
    rec["mid_app_connections"] = mid.get("corenet_app_connections")
    rec["mid_tcp_connections_active"] = mid.get("corenet_tcp_connections_active")
    probes = probe_results(pr, secs + 30)
    out, _ = sl.communicate(timeout=secs + 60)
    rec["slowloris"] = json.loads(out.decode().strip().splitlines()[-1])
    rec["probes_during"] = served_between(probes, start, t0 + secs)
    t.finish(rec, before)
    served, tried = rec["probes_during"]
    s = rec["slowloris"]
    summary = (f"{s['connected']} slow connections ({s['opens']} connects), {s['closed_by_server']} closed by the "
               f"server (first after {s['first_close_s']} s); new clients served during: {served}/{tried}")
    check(served * 2 >= tried and tried > 0, "new clients not served during slowloris: " + summary)
    if before and "corenet_http_timeouts_total{reason=header}" in before:
        # httpd has a header timeout (shorter than the attack): slow connections are reset.
        check(s["closed_by_server"] > 0, "no slow connection reclaimed: " + summary)
    return summary


def pipeline(env):
    rec = env.record["pipeline"] = {}
    # Half the connections never read, half read 1 MB/s (slower than the guest answers).
    conns, max_bytes, secs, read_bps = (8, 4 << 20, 12, 1 << 20) if env.quick else (8, 16 << 20, 30, 1 << 20)
    t = env.boot("pipeline")
    before = t.metrics()
    t0 = time.time()
    pl = subprocess.Popen(t.ns.exec([PY, ATTACKS, "pipeline", GUEST, "80", str(conns), str(max_bytes), str(secs),
                                     str(read_bps)]),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    pr = probe(t, t0 + 2, 0.5, int((secs - 3) / 0.5))
    heap = []
    while time.time() < t0 + secs and t.vm.alive():
        m = t.metrics()
        if m:
            heap.append(m.get("corenet_heap_used_bytes", 0))
        time.sleep(2)
    out, _ = pl.communicate(timeout=secs + 60)
    rec["pipeline"] = json.loads(out.decode().strip().splitlines()[-1])
    probes = probe_results(pr, secs + 30)
    rec["probes_during"] = served_between(probes, t0 + 2, t0 + secs)
    if before:
        rec["heap_used_before"] = before.get("corenet_heap_used_bytes")
        rec["heap_used_max_during"] = max(heap) if heap else None
    t.finish(rec, before)
    served, tried = rec["probes_during"]
    summary = (f"{rec['pipeline']['requests_sent']} requests pipelined on {conns} connections (half never read, "
               f"half read {rec['pipeline']['bytes_read'] >> 10} KiB in all); "
               f"others served {served}/{tried}")
    if env.corenet:
        growth = int((rec["heap_peak_bytes"] or 0) - (rec["heap_used_before"] or 0))
        rec["heap_growth_bytes"] = growth
        summary += f"; heap grew {growth >> 10} KiB (peak)"
        check(growth <= PIPELINE_HEAP_PER_CONN_MAX * conns, "heap not bounded: " + summary)
    check(served * 2 >= tried and tried > 0, "other clients not served: " + summary)
    return summary


def udp_flood(env):
    rec = env.record["udp-flood"] = {}
    count, secs = (300_000, 5) if env.quick else (1_000_000, 10)
    t = env.boot("udp")
    before = t.metrics()
    failures = []
    for port, what in ((7, "echo"), (9, "closed")):
        t0 = time.time()
        pr = probe(t, t0 + 0.5, 0.5, int(secs / 0.5))
        r = rec[what] = t.tool("attacks.py", "udpflood", GUEST, port, count, secs, timeout=secs + 60)
        probes = probe_results(pr, secs + 30)
        r["probes_during"] = served_between(probes, t0, t0 + r["seconds"] + 0.5)
        r["served_after_s"] = t.served_within(10)
        if r["served_after_s"] is None:
            failures.append(f"{what}: not serving after the flood")
        if env.corenet and what == "echo" and "corenet_udp_echo_dropped_total" in (before or {}) and \
                r["echoed"] > (UDP_ECHO_PER_S_MAX * (r["seconds"] + 1) + UDP_ECHO_BURST) * env.smp:
            failures.append(f"echo: {r['echoed']} replies in {r['seconds']} s (not rate limited)")
        if env.corenet and what == "closed" and r["icmp_unreachable"] > ICMP_ERRORS_PER_S_MAX * env.smp * (r["seconds"] + 1):
            failures.append(f"closed port: {r['icmp_unreachable']} ICMP errors in {r['seconds']} s (not rate limited)")
    t.finish(rec, before)
    summary = "; ".join(f"{w}: sent {rec[w]['sent']}, echoed {rec[w]['echoed']}, ICMP unreachable "
                        f"{rec[w]['icmp_unreachable']}, GETs served during {rec[w]['probes_during'][0]}/"
                        f"{rec[w]['probes_during'][1]}" for w in ("echo", "closed"))
    check(not failures, "; ".join(failures) + " | " + summary)
    return summary
