//! The machine description: built by boot once it is complete, then read-only on every core.
//!
//! Boot ([`crate::boot`]) is the only writer: it calls `publish` once, on the bootstrap
//! processor, after the clock is calibrated and before any other core starts. Everything
//! else (the runtime, the idle code, drivers, appliances) only reads it through [`machine`].

use corenet_boot::BootInfo;
use heapless::Vec;
use spin::Once;

use crate::acpi::Platform;
use crate::clock::ClockSource;
use crate::config::Config;
use crate::cpu::MAX_CORES;
use crate::memory::paging::MapStats;
use crate::rand::RandomSource;

/// Everything boot learned, readable from every core afterwards.
#[derive(Debug)]
pub struct Machine {
    /// The loader's information.
    pub boot: &'static BootInfo,
    /// ACPI facts.
    pub platform: Platform,
    /// Validated settings.
    pub config: Config,
    /// Cores in use.
    pub cores: usize,
    /// APIC id of each core.
    pub apic_ids: Vec<u32, MAX_CORES>,
    /// Start of the stack area.
    pub stacks_base: u64,
    /// Page-table root.
    pub cr3: u64,
    /// Pages mapped.
    pub map: MapStats,
    /// DMA pool base of each core.
    pub dma_base: Vec<u64, MAX_CORES>,
    /// TSC frequency in Hz (calibrated by the BSP; shown in the ready line).
    pub tsc_hz: u64,
    /// Where the TSC frequency came from.
    pub clock: ClockSource,
    /// The best seed source the BSP found (shown in the ready line).
    pub random: RandomSource,
}

static MACHINE: Once<Machine> = Once::new();

/// The machine description (after boot).
pub fn machine() -> &'static Machine {
    MACHINE
        .get()
        .unwrap_or_else(|| panic!("machine() called before boot finished"))
}

/// Boot's one write: stores the complete description and returns it. A second call keeps the
/// first description (boot calls it once, before any other core runs).
pub(crate) fn publish(m: Machine) -> &'static Machine {
    MACHINE.call_once(|| m)
}
