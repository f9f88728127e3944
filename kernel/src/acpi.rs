//! ACPI: the processors (MADT), PCI configuration space (MCFG) and the HPET, via the `acpi` crate.
//!
//! Tables are read in place (ACPI memory is identity mapped), so the handler maps nothing.
//! The crate is used without its `alloc` feature, which needs the unstable allocator API;
//! we walk the MADT entries ourselves instead of calling `platform_info`.

use acpi::handler::{AcpiHandler, PhysicalMapping};
use acpi::madt::{Madt, MadtEntry};
use acpi::mcfg::Mcfg;
use acpi::{AcpiTables, HpetInfo};
use core::ptr::NonNull;
use corenet_boot::Rsdp;
use heapless::Vec;

use crate::cpu::MAX_CORES;

#[derive(Clone, Copy, Debug)]
struct IdentityMap;

impl AcpiHandler for IdentityMap {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        // SAFETY: all memory and the device window below 4 GiB are identity mapped for the
        // kernel's lifetime, so the physical address is the virtual one; ACPI tables are never
        // at address 0.
        unsafe {
            PhysicalMapping::new(
                physical_address,
                NonNull::new_unchecked(physical_address as *mut T),
                size,
                size,
                *self,
            )
        }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// One PCI Express ECAM window (MCFG entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ecam {
    /// Base address of bus 0 of the segment.
    pub base: u64,
    /// PCI segment group.
    pub segment: u16,
    /// First bus decoded.
    pub bus_start: u8,
    /// Last bus decoded.
    pub bus_end: u8,
}

/// What corenet needs from ACPI.
#[derive(Debug, Default)]
pub struct Platform {
    /// APIC ids of enabled (or online-capable) processors, in MADT order.
    pub apic_ids: Vec<u32, MAX_CORES>,
    /// Processors the MADT lists beyond [`MAX_CORES`].
    pub cores_ignored: usize,
    /// PCIe ECAM windows.
    pub ecam: Vec<Ecam, 4>,
    /// HPET base address.
    pub hpet: Option<u64>,
}

/// Why ACPI could not be read.
#[derive(Debug)]
pub enum AcpiError {
    /// No RSDP from the loader and none found in the BIOS areas.
    NoRsdp,
    /// The `acpi` crate rejected the tables.
    Tables(acpi::AcpiError),
}

impl core::fmt::Display for AcpiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoRsdp => {
                f.write_str("no ACPI RSDP (none from the loader, none in the BIOS areas)")
            }
            // The `acpi` crate's error has no `Display`.
            Self::Tables(e) => write!(f, "ACPI tables rejected: {e:?}"),
        }
    }
}

impl core::error::Error for AcpiError {}

/// Reads the MADT, MCFG and HPET tables starting from `rsdp` (or a BIOS-area search).
pub fn parse(rsdp: Option<Rsdp>) -> Result<Platform, AcpiError> {
    let tables = match rsdp {
        Some(r) => {
            let (rev, addr) = match r.xsdt {
                Some(x) => (2, x as usize),
                None => (0, r.rsdt as usize),
            };
            // SAFETY: the RSDP was checksum-validated and points at the RSDT/XSDT, in
            // identity-mapped memory.
            unsafe { AcpiTables::from_rsdt(IdentityMap, rev, addr) }
        }
        // SAFETY: the EBDA and 0xE0000..0xFFFFF are identity mapped; the crate validates what
        // it finds there.
        None => unsafe { AcpiTables::search_for_rsdp_bios(IdentityMap) },
    }
    .map_err(|e| match rsdp {
        None => {
            let _ = e;
            AcpiError::NoRsdp
        }
        Some(_) => AcpiError::Tables(e),
    })?;

    let mut p = Platform::default();
    if let Ok(madt) = tables.find_table::<Madt>() {
        for e in madt.get().entries() {
            let (id, flags) = match e {
                MadtEntry::LocalApic(a) => (u32::from(a.apic_id), a.flags),
                MadtEntry::LocalX2Apic(a) => (a.x2apic_id, a.flags),
                _ => continue,
            };
            // Bit 0 enabled, bit 1 online capable (ACPI 6.5, 5.2.12.2).
            if flags & 0b11 == 0 || p.apic_ids.contains(&id) {
                continue;
            }
            if p.apic_ids.push(id).is_err() {
                p.cores_ignored += 1;
            }
        }
    }
    if let Ok(mcfg) = tables.find_table::<Mcfg>() {
        for e in mcfg.entries() {
            let _ = p.ecam.push(Ecam {
                base: e.base_address,
                segment: e.pci_segment_group,
                bus_start: e.bus_number_start,
                bus_end: e.bus_number_end,
            });
        }
    }
    if let Ok(h) = HpetInfo::new(&tables) {
        p.hpet = Some(h.base_address as u64);
    }
    Ok(p)
}
