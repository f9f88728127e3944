"""tests/e2e/hostile_env.py: the guest under attack for hostile.py's cases.

Each case (tests/e2e/hostile_cases.py) gets an `Env` (which guest, how many vCPUs, quick or full size), boots its own guest
in its own namespace through `Env.boot`, stores its measurements in `Env.record[case]`, and
raises AssertionError on a failed check. Load generators run inside the namespace
(tests/e2e/attacks.py, tests/e2e/frames.py, hping3, wrk, dnsmasq), each bounded in time and count.
"""
import json
import os
import re
import subprocess
import sys
import time

from lib import LOGS, ROOT, Netns, Vm, check, parse_metrics, sh, summed

HERE = os.path.dirname(os.path.abspath(__file__))
IMG = os.path.join(ROOT, "target/x86_64-unknown-none/release/httpd")
GUEST, HOST, TAP, GUEST_MAC = "10.0.0.2", "10.0.0.1", "corenet0", "52:54:00:c0:4e:01"
PY = sys.executable
# Guest counters whose growth the cases compare (summed over cores).
DROP_FAMILIES = ("corenet_drops_total", "corenet_rx_drops_total", "corenet_rx_errors_total")


class Env:
    def __init__(self, guest, smp, quick, linux=None):
        self.guest, self.smp, self.quick, self.linux = guest, smp, quick, linux
        self.corenet = guest == "corenet"
        self.record = {}
        self.targets = []

    def cleanup(self):
        """Stops every guest and deletes every namespace a case left behind (a case that
        raised before its `finish`)."""
        for t in self.targets:
            t.vm.stop()
            t.ns.delete()
        self.targets = []

    def boot(self, tag, cmdline="", prepare=None, wait_ready=True):
        ns = Netns(tag, prefix="corenet-hostile")
        try:
            if prepare:
                prepare(ns)
            args = ["--net", "tap", "--smp", str(self.smp)]
            if self.corenet:
                args += ["--kernel", IMG] + (["--cmdline", cmdline] if cmdline else [])
                ready = b"corenet: ready"
            else:
                kernel, initrd, extra = self.linux
                args += ["--kernel", kernel, "--initrd", initrd,
                         "--cmdline", f"ip={GUEST}/24 gw={HOST} {extra}"]
                ready = b"linux-guest: ready"
            vm = Vm(f"hostile-{self.guest}-{tag}", args, ns=ns.name, ready=ready, timeout=600,
                    ready_within=240, wait_ready=wait_ready)
        except BaseException:
            ns.delete()
            raise
        t = Target(self, ns, vm)
        self.targets.append(t)
        return t


class Target:
    def __init__(self, env, ns, vm):
        self.env, self.ns, self.vm = env, ns, vm

    def run(self, cmd, timeout=120, check_rc=True):
        return sh(cmd, ns=self.ns.name, timeout=timeout, check_rc=check_rc)

    def get(self, timeout=3, src=None):
        """(served, seconds) for one `GET /` with curl from the namespace."""
        cmd = ["curl", "-s", "-m", str(timeout), "-o", "/dev/null", "-w", "%{http_code} %{time_total}"]
        if src:
            cmd += ["--interface", src]
        out = self.run(cmd + [f"http://{GUEST}/"], timeout=timeout + 5, check_rc=False).split()
        return (len(out) == 2 and out[0] == "200"), (float(out[1]) if len(out) == 2 else None)

    def served_within(self, seconds):
        """Seconds until a GET succeeds (tries every 0.5 s), or None."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            if self.get(timeout=2)[0]:
                return round(time.monotonic() - t0, 2)
            time.sleep(0.5)
        return None

    def metrics(self):
        """/metrics summed over cores (drops by reason), or None (Linux guest, or no answer)."""
        if not self.env.corenet:
            return None
        out = self.run(["curl", "-s", "-m", "5", f"http://{GUEST}/metrics"], timeout=10, check_rc=False)
        if "# TYPE" not in out:
            return None
        return summed(parse_metrics(out), keep=("reason", "state"))

    def tool(self, script, *args, timeout=300):
        out = self.run([PY, os.path.join(HERE, script)] + [str(a) for a in args], timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])

    def spawn(self, cmd, log):
        return subprocess.Popen(self.ns.exec(cmd), stdout=open(os.path.join(LOGS, log), "wb"),
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def finish(self, rec, before=None):
        """Common end of a case: the guest must still serve; counters recorded; stop."""
        try:
            rec["alive_at_end"] = self.vm.alive() and self.served_within(10) is not None
            after = self.metrics()
            if before is not None and after is not None:
                rec["counters_delta"] = delta(before, after)
                rec["heap_peak_bytes"] = after.get("corenet_heap_peak_bytes")
            text = self.vm.text().decode(errors="replace")
            rec["guest_crashed"] = any(w in text for w in ("PANIC", "EXCEPTION", "Kernel panic", "BOOT FAILED"))
            if rec["guest_crashed"]:
                rec["console_tail"] = text[-600:]
                rec["crash_line"] = next((line.strip() for line in text.splitlines()
                                          if any(w in line for w in ("PANIC", "EXCEPTION", "Kernel panic", "BOOT FAILED"))), "")
        finally:
            self.vm.stop()
            self.ns.delete()
        check(not rec["guest_crashed"], f"guest crashed: {rec.get('crash_line', '')}")
        check(rec["alive_at_end"], "guest not serving at the end of the case")


def delta(before, after):
    out = {}
    for k, v in after.items():
        d = v - before.get(k, 0)
        if d and ("_total" in k or k.startswith("corenet_heap_used")):
            out[k] = int(d)
    return out


def drops(m):
    return sum(v for k, v in m.items() if k.split("{")[0] in DROP_FAMILIES)


def wrk_summary(out):
    m = re.search(r"(\d+) requests in", out)
    e = re.search(r"Socket errors: (.*)", out)
    return {"requests": int(m.group(1)) if m else None, "socket_errors": e.group(1).strip() if e else None}

