//! Boot phases 2-6: boot information and command line, CPU, ACPI, PCI BARs, the core list.

use core::sync::atomic::Ordering;
use corenet_boot::{BootInfo, Cmdline, PhysRead};
use heapless::Vec;
use spin::Once;

use super::boot_fail;
use crate::acpi::{self, Platform};
use crate::config::Config;
use crate::cpu::{self, MAX_CORES, apic, features};

/// Reads physical memory through the boot page tables (identity map of the first 4 GiB).
struct IdentityPhys;

impl PhysRead for IdentityPhys {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        // The boot tables identity map 0..4 GiB; loader structures live below that.
        let Some(end) = addr.checked_add(buf.len() as u64) else {
            return false;
        };
        if addr == 0 || end > (1 << 32) {
            return false;
        }
        // SAFETY: the range is inside the identity-mapped first 4 GiB, read-only access.
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len()) };
        true
    }
}

/// The validated copy of the loader's information; written once here, read through
/// [`Machine::boot`](crate::machine::Machine::boot) afterwards.
static BOOT_INFO: Once<BootInfo> = Once::new();

/// Phase 2: boot information (PVH or Multiboot2) copied and validated, the command line
/// parsed; the log level applied.
pub(super) fn boot_info(eax: u32, ebx: u32) -> (&'static BootInfo, Config) {
    let boot = BootInfo::parse(&IdentityPhys, eax, ebx)
        .unwrap_or_else(|e| boot_fail(format_args!("boot information: {e}")));
    let boot: &'static BootInfo = BOOT_INFO.call_once(|| boot);
    let cmdline = boot.cmdline.as_str();
    let config =
        Config::parse(&Cmdline(cmdline)).unwrap_or_else(|e| boot_fail(format_args!("{e}")));
    log::set_max_level(config.log);
    log::info!(
        "corenet {} booting via {:?}: {} MiB usable RAM in {} regions, cmdline {:?}",
        env!("CARGO_PKG_VERSION"),
        boot.protocol,
        boot.usable_bytes() >> 20,
        boot.memory.len(),
        cmdline
    );
    (boot, config)
}

/// Phase 3: CPUID features (logged) and the BSP's local APIC; returns the features and the
/// BSP's APIC id.
pub(super) fn cpu() -> (features::Features, u32) {
    let f = *features::get();
    log::info!(
        "cpu: 1G pages {}, NX {}, x2APIC {}, RDRAND {}, RDSEED {}, invariant TSC {}, hypervisor {}",
        f.huge_1g,
        f.nx,
        f.x2apic,
        f.rdrand,
        f.rdseed,
        f.invariant_tsc,
        f.hypervisor
    );
    apic::init(f.x2apic);
    let bsp_apic = apic::id();
    cpu::percpu(0).apic_id.store(bsp_apic, Ordering::Relaxed);
    (f, bsp_apic)
}

/// Phase 4: ACPI (MADT processors, MCFG, HPET); without ACPI the MP table's processors, and
/// without either the BSP alone.
pub(super) fn acpi(boot: &BootInfo) -> Platform {
    acpi::parse(boot.rsdp).unwrap_or_else(|e| {
        let mut p = Platform::default();
        match crate::mptable::processors(&IdentityPhys) {
            Some(cpus) => {
                log::info!(
                    "no ACPI ({e:?}): {} processors from the MP table",
                    cpus.len()
                );
                for (id, _) in cpus {
                    let _ = p.apic_ids.push(id);
                }
            }
            None => {
                log::warn!("no ACPI ({e:?}) and no MP table: running on the boot processor only")
            }
        }
        p
    })
}

/// Phase 5: memory BARs the firmware left unassigned get addresses clear of RAM, firmware
/// ranges and ECAM.
pub(super) fn pci(boot: &BootInfo, platform: &Platform) {
    let pci = crate::pci::ConfigAccess::detect(platform);
    let mut avoid: Vec<core::ops::Range<u64>, 140> = Vec::new();
    for r in boot.memory.iter() {
        let _ = avoid.push(r.start..r.end());
    }
    for e in platform.ecam.iter() {
        let _ = avoid.push(e.base..e.base + ((u64::from(e.bus_end) + 1) << 20));
    }
    let bars = crate::pci::assign_bars(&pci, &avoid);
    log::info!(
        "pci: {:?} config access; BARs: {} kept, {} assigned, {} did not fit",
        pci,
        bars.kept,
        bars.assigned,
        bars.failed
    );
}

/// Phase 6: the APIC id of each corenet core: the BSP first (core 0), then the other
/// processors in ACPI order, at most [`MAX_CORES`] and at most `cores=`.
pub(super) fn cores(platform: &Platform, bsp_apic: u32, config: &Config) -> Vec<u32, MAX_CORES> {
    let mut apic_ids: Vec<u32, MAX_CORES> = Vec::new();
    let _ = apic_ids.push(bsp_apic);
    for &id in platform.apic_ids.iter().filter(|&&id| id != bsp_apic) {
        let _ = apic_ids.push(id);
    }
    if platform.cores_ignored > 0 {
        log::warn!(
            "{} processors beyond corenet's limit of {MAX_CORES} stay parked",
            platform.cores_ignored
        );
    }
    let cores = config
        .max_cores
        .map_or(apic_ids.len(), |m| m.min(apic_ids.len()));
    apic_ids.truncate(cores);
    apic_ids
}
