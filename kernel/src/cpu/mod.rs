//! Processors: features, per-core data, descriptor tables, exceptions, local APIC, start-up.
//!
//! Every core reaches its own [`PerCpu`] in O(1) through the GS base (`gs:[8]` is the core
//! id); nothing here is shared and written on the fast path.

pub mod apic;
pub mod exceptions;
pub mod features;
pub mod gdt;
pub mod ioapic;
pub mod smp;
pub mod wake;

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Most cores corenet drives (more in the MADT are left parked, with a warning).
pub const MAX_CORES: usize = 64;

/// Data private to one core. The first two fields are read by `gs:`-relative loads.
#[repr(C, align(64))]
pub struct PerCpu {
    self_ptr: AtomicU64,
    core_id: AtomicU64,
    /// Local APIC id (from the MADT for APs, from the APIC itself for the BSP).
    pub apic_id: AtomicU32,
    /// This core's heap (only this core allocates from it).
    pub heap: crate::memory::heap::LocalHeap,
}

impl PerCpu {
    const fn new() -> Self {
        Self {
            self_ptr: AtomicU64::new(0),
            core_id: AtomicU64::new(0),
            apic_id: AtomicU32::new(0),
            heap: crate::memory::heap::LocalHeap::new(),
        }
    }
}

static PERCPU: [PerCpu; MAX_CORES] = [const { PerCpu::new() }; MAX_CORES];

/// The per-core data of core `id` (any core may look; only its owner writes).
pub fn percpu(id: usize) -> &'static PerCpu {
    &PERCPU[id]
}

/// Points this core's GS base at `PERCPU[id]`. First thing every core does.
pub fn init_percpu(id: usize) {
    let p = &PERCPU[id];
    p.self_ptr
        .store(p as *const PerCpu as u64, Ordering::Relaxed);
    p.core_id.store(id as u64, Ordering::Relaxed);
    const IA32_GS_BASE: u32 = 0xc000_0101;
    let mut m = x86_64::registers::model_specific::Msr::new(IA32_GS_BASE);
    // SAFETY: IA32_GS_BASE exists on every x86-64 CPU; the value is the address of a static
    // that lives forever, which is what gs-relative reads in this module expect.
    unsafe { m.write(p as *const PerCpu as u64) };
}

/// This core's id (0 = the bootstrap processor), in one `gs:`-relative load.
#[inline]
pub fn core_id() -> usize {
    let id: u64;
    // SAFETY: the GS base points at this core's PerCpu from `init_percpu` on (the first thing
    // each core runs), and offset 8 is `core_id`; the load has no side effects.
    unsafe {
        core::arch::asm!("mov {}, gs:[8]", out(reg) id, options(nostack, readonly, preserves_flags))
    };
    id as usize
}

/// This core's [`PerCpu`].
#[inline]
pub fn this() -> &'static PerCpu {
    &PERCPU[core_id() % MAX_CORES]
}

/// Reads the time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is unprivileged-safe and always present on x86-64.
    unsafe { core::arch::x86_64::_rdtsc() }
}
