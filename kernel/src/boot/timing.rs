//! Boot phase timing: the raw TSC at the end of each phase, logged once the clock is known.
//!
//! The TSC is not calibrated until phase 10, so the phases record raw readings and
//! [`log_phases`] converts them afterwards (debug level), so a slow boot can be traced to its
//! step. Written and read by the BSP alone, during boot.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::{clock, cpu};

/// The timed stretches of boot, in order; each ends where [`mark`] is called with it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Phase {
    /// Console, boot information, command line, CPU features and the BSP's APIC.
    BootInfo,
    /// ACPI tables (or the MP table).
    Acpi,
    /// PCI BAR assignment and the core list.
    Pci,
    /// Frame allocator, stack area, identity map.
    PageTables,
    /// Per-core heaps and DMA pools.
    HeapsDma,
    /// GDT/IDT and TSC calibration.
    Calibration,
    /// Seed, machine description, wake-up timer, AP start-up.
    Smp,
}

const NAMES: [&str; 7] = [
    "boot info",
    "acpi",
    "pci",
    "page tables",
    "heaps+dma",
    "calibration",
    "smp",
];
static TSC_AT_END: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];

/// Records the end of `phase`.
pub(super) fn mark(phase: Phase) {
    TSC_AT_END[phase as usize].store(cpu::rdtsc(), Ordering::Relaxed);
}

/// Logs each phase's duration in microseconds (after calibration).
pub(super) fn log_phases() {
    let hz = clock::tsc_hz().max(1);
    let mut prev = clock::boot_tsc();
    let mut line: heapless::String<256> = heapless::String::new();
    for (name, t) in NAMES.iter().zip(TSC_AT_END.iter()) {
        let t = t.load(Ordering::Relaxed);
        let us = t.saturating_sub(prev) * 1_000_000 / hz;
        let _ = core::fmt::Write::write_fmt(&mut line, format_args!(" {name}={us}us"));
        prev = t;
    }
    log::debug!("boot phases:{line}");
}
