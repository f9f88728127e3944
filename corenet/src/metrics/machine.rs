//! corenet's own machine-wide families for `/metrics`: cores, uptime, each core's heap, and
//! the idle policy's accounting (issue 16), read live from the kernel's per-core atomics.

use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

use corenet_kernel::clock;
use corenet_kernel::cpu::percpu;
use corenet_kernel::cpu::wake::{self, IdleStats};
use corenet_kernel::machine::machine as boot_machine;

use super::Text;

// The per-core cells of `metrics` cover every core the kernel can run.
const _: () = assert!(super::MAX_CORES >= corenet_kernel::cpu::MAX_CORES);

fn family(w: &mut Text<'_>, name: &str, kind: &str, help: &str) {
    let _ = write!(w, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// Appends cores, uptime, heap and idle families to `out` (Prometheus text format).
pub fn machine(out: &mut Vec<u8>) {
    let m = boot_machine();
    let cores = m.cores;
    let mut w = Text(out);
    family(
        &mut w,
        "corenet_cores",
        "gauge",
        "Cores running the appliance.",
    );
    let _ = writeln!(w, "corenet_cores {cores}");
    family(
        &mut w,
        "corenet_uptime_seconds",
        "gauge",
        "Seconds since boot.",
    );
    let _ = writeln!(
        w,
        "corenet_uptime_seconds {}",
        clock::now_ns() / 1_000_000_000
    );
    type Heap = fn(usize) -> u64;
    let heap: [(&str, &str, &str, Heap); 4] = [
        (
            "corenet_heap_used_bytes",
            "gauge",
            "Heap in use per core.",
            |c| percpu(c).heap.used.load(Ordering::Relaxed),
        ),
        (
            "corenet_heap_peak_bytes",
            "gauge",
            "Peak heap use per core.",
            |c| percpu(c).heap.peak.load(Ordering::Relaxed),
        ),
        (
            "corenet_heap_size_bytes",
            "gauge",
            "Heap size per core.",
            |c| percpu(c).heap.size() as u64,
        ),
        (
            "corenet_heap_alloc_failures_total",
            "counter",
            "Allocations the core's heap refused (fallible ones shed a connection).",
            |c| percpu(c).heap.failures.load(Ordering::Relaxed),
        ),
    ];
    for (name, kind, help, f) in heap {
        family(&mut w, name, kind, help);
        for c in 0..cores {
            let _ = writeln!(w, "{name}{{core=\"{c}\"}} {}", f(c));
        }
    }
    idle(&mut w, cores, m.config.idle.name());
}

/// issue 16: the idle policy's per-core accounting.
fn idle(w: &mut Text<'_>, cores: usize, policy: &str) {
    family(
        w,
        "corenet_idle_policy",
        "gauge",
        "The idle= policy in force (1 for the policy named).",
    );
    let _ = writeln!(w, "corenet_idle_policy{{policy=\"{policy}\"}} 1");
    let hz = clock::tsc_hz().max(1);
    let us = |ticks: u64| (u128::from(ticks) * 1_000_000 / u128::from(hz)) as u64;
    type Read = fn(&IdleStats) -> u64;
    let families: [(&str, &str, Read); 5] = [
        (
            "corenet_cpu_busy_microseconds_total",
            "Time in loop passes that found work.",
            |s| s.busy_ticks.load(Ordering::Relaxed),
        ),
        (
            "corenet_cpu_halted_microseconds_total",
            "Time halted, waiting for a wake-up source.",
            |s| s.halted_ticks.load(Ordering::Relaxed),
        ),
        ("corenet_cpu_halts_total", "Halts.", |s| {
            s.halts.load(Ordering::Relaxed)
        }),
        (
            "corenet_cpu_halts_refused_total",
            "Halts abandoned because the last look before halting found work.",
            |s| s.refused.load(Ordering::Relaxed),
        ),
        (
            "corenet_cpu_wake_ipis_sent_total",
            "Wake-up IPIs this core sent to halted cores it posted work to.",
            |s| s.ipis_sent.load(Ordering::Relaxed),
        ),
    ];
    for (i, (name, help, f)) in families.into_iter().enumerate() {
        family(w, name, "counter", help);
        for c in 0..cores {
            let v = f(wake::stats(c));
            let v = if i < 2 { us(v) } else { v };
            let _ = writeln!(w, "{name}{{core=\"{c}\"}} {v}");
        }
    }
    family(
        w,
        "corenet_cpu_wakeups_total",
        "counter",
        "Halts ended, by wake-up source (timer, ipi, nic: a receive interrupt: MSI-X on virtio-pci, igb and the 82599, the I/O APIC line of single-queue virtio-mmio).",
    );
    for c in 0..cores {
        let s = wake::stats(c);
        for (source, v) in [
            ("timer", s.wake_timer.load(Ordering::Relaxed)),
            ("ipi", s.wake_ipi.load(Ordering::Relaxed)),
            ("nic", s.wake_nic.load(Ordering::Relaxed)),
        ] {
            let _ = writeln!(
                w,
                "corenet_cpu_wakeups_total{{core=\"{c}\",source=\"{source}\"}} {v}"
            );
        }
    }
}
