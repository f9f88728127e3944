"""bench/run_probe.py: what the host did during one wrk run (QEMU's threads, the host's CPU, a pcap).

Used by bench/ring_bench.py (issue 12 item 4) to find where a 10 000-connection run's time
goes: host CPU per QEMU thread (the vCPU threads against the main loop thread, which reads
the tap under TCG), the host's CPU over all cores, and optionally a capture of the tap
(headers only) for bench/late_requests.py. QEMU's threads are named when it runs with
`-name debug-threads=on` ("CPU 0/TCG", "qemu-system-x86" for the main loop, "worker", ...).
"""
import os
import subprocess
import threading

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(path):
    with open(path) as f:
        s = f.read()
    return s[s.rfind(")") + 2:].split()  # after "pid (comm) "


def _comm(path):
    with open(path) as f:
        return f.read().strip()


def qemu_pid(pids):
    """The QEMU process among a boot's session members."""
    for pid in pids:
        try:
            if _comm(f"/proc/{pid}/comm").startswith("qemu-system"):
                return pid
        except OSError:
            pass
    return None


def thread_ticks(pid):
    """{"tid name": (utime+stime ticks, ns waited runnable on a run queue)} for every thread of
    `pid` (empty if it is gone). The wait (schedstat's second field) tells a thread starved
    of a host core from one that sleeps (on a lock, on poll())."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            f = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
            name = _comm(f"/proc/{pid}/task/{tid}/comm")
            with open(f"/proc/{pid}/task/{tid}/schedstat") as sf:
                wait_ns = int(sf.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out[f"{tid} {name}"] = (int(f[11]) + int(f[12]), wait_ns)
    return out


def host_ticks():
    """(busy, total) ticks over all host cores, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


class Probe:
    """Snapshot at the start of a run, `finish()` at its end: per-thread CPU and run-queue
    wait, and the host's CPU, in percent of one host core over the run (threads that used
    under 1 % are folded into "other")."""

    def __init__(self, pid, pcap=None):
        self.pid = pid
        # Every 20 ms: each thread's state and, when asleep, where (wchan: a futex is a
        # lock, e.g. QEMU's big lock; poll/epoll is the main loop waiting for events).
        self.states = {}
        self.stop = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        self.t0 = thread_ticks(pid) if pid else {}
        self.h0 = host_ticks()
        self.cap = None
        if pcap:
            # Headers only (96 bytes: Ethernet, IPv4, TCP with options), both directions of the
            # host side of the tap: a client frame is seen here even when the tap then drops it.
            self.cap = subprocess.Popen(["tcpdump", "-i", "corenet0", "-s", "96", "-w", pcap, "-U", "-q"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _sample(self):
        while self.pid and not self.stop.wait(0.02):
            try:
                tids = os.listdir(f"/proc/{self.pid}/task")
            except OSError:
                return
            for tid in tids:
                try:
                    state = _stat_fields(f"/proc/{self.pid}/task/{tid}/stat")[0]
                    name = _comm(f"/proc/{self.pid}/task/{tid}/comm")
                    where = _comm(f"/proc/{self.pid}/task/{tid}/wchan") if state != "R" else ""
                except OSError:
                    continue
                key = f"{state} {where}".strip()
                # Per thread: QEMU names more than one thread like its main loop, and summing
                # them by name once read as "the main loop sleeps on a futex half the time".
                d = self.states.setdefault(f"{tid} {name}", {})
                d[key] = d.get(key, 0) + 1

    def finish(self):
        self.stop.set()
        self.sampler.join(timeout=5)
        if self.cap:
            self.cap.terminate()
            try:
                self.cap.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.cap.kill()
                self.cap.wait()
        t1 = thread_ticks(self.pid) if self.pid else {}
        h1 = host_ticks()
        busy, total = h1[0] - self.h0[0], h1[1] - self.h0[1]
        ncores = os.cpu_count() or 1
        wall_ticks = total / ncores if total else 1
        wall_ns = wall_ticks * 1e9 / TICK
        threads, waits, other = {}, {}, 0.0
        for k, (v, w) in t1.items():
            v0, w0 = self.t0.get(k, (0, 0))
            pct = 100.0 * (v - v0) / wall_ticks
            if pct >= 1.0:
                threads[k] = round(pct, 1)
                waits[k] = round(100.0 * (w - w0) / wall_ns, 1)
            else:
                other += pct
        threads["other"] = round(other, 1)
        return {"qemu_threads_pct_of_a_core": threads,
                "qemu_thread_state_samples": self.states,
                "qemu_threads_runqueue_wait_pct": waits,
                "host_busy_pct_of_all_cores": round(100.0 * busy / total, 1) if total else None}
