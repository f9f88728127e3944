"""tests/e2e/lib.py: helpers shared by the end-to-end suites (e2e.py, hostile.py).

- `check`, `sh`: assertions and commands (optionally inside a network namespace);
- `Netns`: a private network namespace the test creates and deletes;
- `Vm`: a QEMU started through qemu-run.sh (any kernel, optionally an initrd), in its own
  session so that it is stopped by its process-group id, under a hard timeout;
- `Results`: one line per case (`NAME ... ok|FAILED|skipped (reason)`) and the closing
  `N passed, N failed, N skipped` line that test.sh sums;
- `metrics`: /metrics (Prometheus text) parsed and summed over cores.
"""
import os
import re
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOGS = os.path.join(ROOT, "target/e2e")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Skip(Exception):
    """Raised by a case that cannot run here; the reason is printed."""


def sh(cmd, ns=None, timeout=120, check_rc=True):
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> {p.returncode}: {p.stderr.decode(errors='replace')[-300:]}")
    return p.stdout.decode(errors="replace")


class Netns:
    def __init__(self, tag, prefix="corenet-e2e"):
        self.name = f"{prefix}-{tag}-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)

    def exec(self, cmd):
        return ["ip", "netns", "exec", self.name] + cmd

    def delete(self):
        if self.name:
            subprocess.run(["ip", "netns", "del", self.name], check=False)
            self.name = None


class Vm:
    """qemu-run.sh with `args`, console to target/e2e/NAME.log, in its own session (stopped
    by process-group id), killed by qemu-run.sh's --timeout at the latest."""

    def __init__(self, name, args, ns=None, ready=b"corenet: ready", timeout=600, ready_within=90, wait_ready=True):
        os.makedirs(LOGS, exist_ok=True)
        self.name = name
        self.log_path = os.path.join(LOGS, f"{name}.log")
        self.log = open(self.log_path, "wb")
        cmd = [os.path.join(ROOT, "qemu-run.sh"), "--timeout", str(timeout)] + args
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.ready = ready
        if not wait_ready:
            return
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if ready in self.text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{name} not ready; log {self.log_path}: {self.tail()}")

    def text(self):
        return open(self.log_path, "rb").read()

    def tail(self, n=600):
        return self.text()[-n:].decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(15) is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


class Results:
    def __init__(self, prefix):
        self.prefix = prefix
        self.rows = []  # (name, "ok" | "FAILED" | "skipped", detail)

    def case(self, name, fn, *a, **k):
        t0 = time.monotonic()
        try:
            detail = fn(*a, **k)
            self.rows.append((name, "ok", detail or ""))
            print(f"{self.prefix} {name} ... ok ({time.monotonic() - t0:.1f}s){' ' + detail if detail else ''}",
                  flush=True)
        except Skip as e:
            self.skip(name, str(e))
        except Exception as e:  # a failed check or a tool error: report, keep going
            self.rows.append((name, "FAILED", str(e)))
            print(f"{self.prefix} {name} ... FAILED: {e}", flush=True)

    def skip(self, name, reason):
        self.rows.append((name, "skipped", reason))
        print(f"{self.prefix} {name} ... skipped ({reason})", flush=True)

    def counts(self):
        return tuple(sum(1 for r in self.rows if r[1] == k) for k in ("ok", "FAILED", "skipped"))

    def summary(self):
        p, f, s = self.counts()
        print()
        print(f"{p} passed, {f} failed, {s} skipped")
        return 0 if f == 0 else 1


def parse_metrics(text):
    """{(name, frozenset(labels)): value} from Prometheus text."""
    out = {}
    for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\d+(?:\.\d+)?)$", text, re.M):
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def summed(parsed, keep=()):
    """Sums samples over cores: {name or name{keep labels}: value}."""
    out = {}
    for (name, labels), v in parsed.items():
        kept = sorted((k, val) for k, val in labels if k in keep)
        key = name + ("{" + ",".join(f"{k}={val}" for k, val in kept) + "}" if kept else "")
        out[key] = out.get(key, 0) + v
    return out
