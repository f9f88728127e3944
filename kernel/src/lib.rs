//! corenet's kernel: the per-core runtime under every appliance.
//!
//! A tour, in boot order (the 32-bit entry and long-mode switch are in `corenet-boot`):
//!
//! 1. [`boot`]: `corenet_boot_main`, the bootstrap processor's sequence as one function per
//!    phase: console, boot information and [`config`], CPU [`cpu::features`], [`acpi`] (MADT,
//!    MCFG, HPET; else the [`mptable`]), [`pci`] BARs, the core list, memory, then `bsp_main`.
//!    Values flow forward as arguments; nothing below calls back into `boot`.
//! 2. [`memory`]: the [`memory::frames`] allocator over the memory map, passed by `&mut` to the
//!    identity map with 1 GiB or 2 MiB pages ([`memory::plan`], [`memory::paging`]), guarded
//!    [`memory::stacks`], per-core [`memory::heap`]s and [`memory::dma`] pools carved from
//!    hugepages; then handed to [`memory::spare`], its owner after boot (NIC memory, BARs).
//! 3. [`cpu`]: per-core data behind the GS base, GDT/TSS/IDT and [`cpu::exceptions`], the
//!    local [`cpu::apic`], and [`cpu::smp`] start-up of the other cores (INIT-SIPI-SIPI).
//! 4. [`clock`] (TSC calibrated at boot) and [`rand`] (RDSEED/RDRAND or a fallback).
//! 5. [`machine`]: the machine description, published once by boot when complete (after the
//!    clock and the seed source, before the other cores start), read-only afterwards.
//! 6. [`runtime`]: every core runs the [`runtime::Appliance`]'s `init`, the BSP prints
//!    `corenet: ready cores=N ...`, then each core loops over `poll` (run to completion);
//!    [`idle`] decides when an idle core halts, [`cpu::wake`] wakes it.
//! 7. [`pci`]: configuration space (ECAM or port I/O) and a bus scan, for the drivers.
//! 8. [`mod@panic`] and [`exit`]: a panic or fault on any core stops all cores (NMI) and ends the
//!    machine with a code QEMU passes to `qemu-run.sh`.
//!
//! The kernel knows no NIC and no protocol. Hardware modules build only for the guest
//! (`target_os = "none"`); the logic modules ([`config`], [`idle`], [`memory::frames`],
//! [`memory::plan`], [`memory::stacks`]) also build and test on the host.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod config;
pub mod idle;
pub mod memory;
pub mod mptable;

#[cfg(target_os = "none")]
pub mod acpi;
#[cfg(target_os = "none")]
pub mod boot;
#[cfg(target_os = "none")]
pub mod clock;
#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod exit;
#[cfg(target_os = "none")]
pub mod logger;
#[cfg(target_os = "none")]
pub mod machine;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod pci;
#[cfg(target_os = "none")]
pub mod rand;
#[cfg(target_os = "none")]
pub mod runtime;
#[cfg(target_os = "none")]
pub mod serial;

#[cfg(target_os = "none")]
pub use runtime::{Appliance, Core, Step};

#[cfg(target_os = "none")]
#[global_allocator]
static ALLOCATOR: memory::heap::CorenetAllocator = memory::heap::CorenetAllocator;
