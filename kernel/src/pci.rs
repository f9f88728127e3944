//! PCI configuration space: PCIe ECAM (from the ACPI MCFG) or the legacy port-I/O mechanism.
//!
//! The kernel finds functions; drivers (through the facade) bring them up. ECAM windows are
//! identity mapped uncached by the memory plan (they lie in `reserved` ranges or holes). The
//! port-I/O fallback is PCI Local Bus spec 3.0, 3.2.2.3.2 (CONFIG_ADDRESS 0xCF8, CONFIG_DATA
//! 0xCFC), used where firmware gives no MCFG (microvm with `pcie=on` has one; old machines).

use x86_64::instructions::port::Port;

use crate::acpi::Platform;

/// How configuration space is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigAccess {
    /// Memory-mapped (PCIe ECAM): 4 KiB per function at `base + (bus << 20 | dev << 15 | fn << 12)`.
    Ecam {
        /// Address of bus 0 in the segment.
        base: u64,
        /// First bus decoded.
        bus_start: u8,
        /// Last bus decoded.
        bus_end: u8,
    },
    /// Port I/O through 0xCF8/0xCFC (256 bytes per function).
    PortIo,
}

/// One function found by [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciFunction {
    /// Bus number.
    pub bus: u8,
    /// Device number (0-31).
    pub device: u8,
    /// Function number (0-7).
    pub function: u8,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device_id: u16,
    /// Class code.
    pub class: u8,
    /// Subclass code.
    pub subclass: u8,
}

impl ConfigAccess {
    /// ECAM for segment 0 when the MCFG lists it, else port I/O.
    pub fn detect(platform: &Platform) -> Self {
        match platform.ecam.iter().find(|e| e.segment == 0) {
            Some(e) => Self::Ecam {
                base: e.base,
                bus_start: e.bus_start,
                bus_end: e.bus_end,
            },
            None => Self::PortIo,
        }
    }

    /// Buses this access can reach.
    pub fn buses(&self) -> core::ops::RangeInclusive<u8> {
        match *self {
            Self::Ecam {
                bus_start, bus_end, ..
            } => bus_start..=bus_end,
            Self::PortIo => 0..=255,
        }
    }

    fn ecam_ptr(base: u64, bus: u8, dev: u8, func: u8, off: u16) -> *mut u32 {
        let a = base
            + (u64::from(bus) << 20)
            + (u64::from(dev & 31) << 15)
            + (u64::from(func & 7) << 12)
            + u64::from(off & 0xffc);
        a as *mut u32
    }

    /// CONFIG_ADDRESS for mechanism #1: enable bit, bus, device, function, dword register.
    fn port_addr(bus: u8, dev: u8, func: u8, off: u16) -> u32 {
        0x8000_0000
            | (u32::from(bus) << 16)
            | (u32::from(dev & 31) << 11)
            | (u32::from(func & 7) << 8)
            | u32::from(off & 0xfc)
    }

    /// Reads the 32-bit register at `off` (rounded down to 4) of a function.
    /// Out-of-range buses read as all ones, like an absent device.
    pub fn read32(&self, bus: u8, dev: u8, func: u8, off: u16) -> u32 {
        match *self {
            Self::Ecam {
                base,
                bus_start,
                bus_end,
            } => {
                if bus < bus_start || bus > bus_end {
                    return u32::MAX;
                }
                // SAFETY: the ECAM window (from the MCFG) is identity mapped uncached and the
                // address lies inside it (bus in range, offset < 4 KiB); config reads have no
                // side effects on the functions corenet scans.
                unsafe { Self::ecam_ptr(base, bus, dev, func, off).read_volatile() }
            }
            Self::PortIo => {
                if off > 0xff {
                    return u32::MAX;
                }
                let addr = Self::port_addr(bus, dev, func, off);
                // SAFETY: 0xCF8/0xCFC are the PCI configuration mechanism #1 ports on PC
                // platforms; only the kernel uses them, at boot or on the managing core.
                unsafe {
                    Port::<u32>::new(0xcf8).write(addr);
                    Port::<u32>::new(0xcfc).read()
                }
            }
        }
    }

    /// Writes the 32-bit register at `off` of a function.
    pub fn write32(&self, bus: u8, dev: u8, func: u8, off: u16, value: u32) {
        match *self {
            Self::Ecam {
                base,
                bus_start,
                bus_end,
            } => {
                if bus < bus_start || bus > bus_end {
                    return;
                }
                // SAFETY: as in `read32`; the caller owns the function it configures.
                unsafe { Self::ecam_ptr(base, bus, dev, func, off).write_volatile(value) }
            }
            Self::PortIo => {
                if off > 0xff {
                    return;
                }
                let addr = Self::port_addr(bus, dev, func, off);
                // SAFETY: as in `read32`.
                unsafe {
                    Port::<u32>::new(0xcf8).write(addr);
                    Port::<u32>::new(0xcfc).write(value);
                }
            }
        }
    }
}

/// Calls `found` for every present function, walking from bus 0 through PCI-to-PCI bridges
/// (their secondary bus numbers) rather than probing all 256 buses: each probe is a trapped
/// access under virtualization, and a machine without PCI (microvm) answers nothing on bus 0.
pub fn scan(access: &ConfigAccess, found: &mut dyn FnMut(PciFunction)) {
    let mut pending: heapless::Vec<u8, 32> = heapless::Vec::new();
    let mut seen = [false; 256];
    let first = *access.buses().start();
    let _ = pending.push(first);
    seen[usize::from(first)] = true;
    while let Some(bus) = pending.pop() {
        for dev in 0..32u8 {
            let id = access.read32(bus, dev, 0, 0);
            if id & 0xffff == 0xffff {
                continue;
            }
            let header = (access.read32(bus, dev, 0, 0x0c) >> 16) as u8;
            let functions = if header & 0x80 != 0 { 8 } else { 1 };
            for func in 0..functions {
                let id = access.read32(bus, dev, func, 0);
                if id & 0xffff == 0xffff {
                    continue;
                }
                let class = access.read32(bus, dev, func, 0x08);
                let f = PciFunction {
                    bus,
                    device: dev,
                    function: func,
                    vendor: id as u16,
                    device_id: (id >> 16) as u16,
                    class: (class >> 24) as u8,
                    subclass: (class >> 16) as u8,
                };
                let fheader = (access.read32(bus, dev, func, 0x0c) >> 16) as u8 & 0x7f;
                if fheader == 1 {
                    // PCI-to-PCI bridge: secondary bus number in byte 1 of register 0x18.
                    let secondary = (access.read32(bus, dev, func, 0x18) >> 8) as u8;
                    let s = usize::from(secondary);
                    if secondary != 0 && !seen[s] && access.buses().contains(&secondary) {
                        seen[s] = true;
                        let _ = pending.push(secondary);
                    }
                }
                found(f);
            }
        }
    }
}

/// The 32-bit window where [`assign_bars`] places memory BARs the firmware left unassigned
/// (minimal firmware such as qboot does not program them). Below it on q35 is the ECAM window
/// (0xB000_0000, 256 MiB); above it the IOAPIC, HPET and local APIC.
pub const BAR_WINDOW: core::ops::Range<u64> = 0xc000_0000..0xfec0_0000;

/// What [`assign_bars`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BarStats {
    /// BARs the firmware had already programmed (left alone).
    pub kept: usize,
    /// BARs corenet placed.
    pub assigned: usize,
    /// BARs that did not fit the window (their device stays unusable).
    pub failed: usize,
}

const COMMAND: u16 = 0x04;
const CMD_IO: u32 = 1 << 0;
const CMD_MEMORY: u32 = 1 << 1;

/// One memory BAR of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// Configuration-space offset of the BAR register (0x10 + 4 * index).
    pub off: u16,
    /// Size in bytes.
    pub size: u64,
    /// A 64-bit BAR (occupies two registers).
    pub is64: bool,
    /// Programmed address (0: unassigned).
    pub addr: u64,
}

impl Bar {
    /// The BAR's index (0-5).
    pub fn index(&self) -> u8 {
        ((self.off - 0x10) / 4) as u8
    }
}

/// Sets Memory Space Enable and Bus Master Enable in a function's command register (a device
/// that does DMA needs both; PCI spec 3.0, 6.2.2).
pub fn enable_memory_and_bus_master(access: &ConfigAccess, f: &PciFunction) {
    let cmd = access.read32(f.bus, f.device, f.function, COMMAND);
    access.write32(
        f.bus,
        f.device,
        f.function,
        COMMAND,
        cmd | CMD_MEMORY | (1 << 2),
    );
}

/// The memory BARs of a function, sized (decoding is switched off while sizing).
pub fn memory_bars(access: &ConfigAccess, f: &PciFunction) -> heapless::Vec<Bar, 6> {
    let mut out = heapless::Vec::new();
    // Header type 0 has 6 BARs; bridges (type 1) have 2.
    let header = (access.read32(f.bus, f.device, f.function, 0x0c) >> 16) as u8 & 0x7f;
    let count = match header {
        0 => 6,
        1 => 2,
        _ => 0,
    };
    let (b, d, fu) = (f.bus, f.device, f.function);
    let cmd = access.read32(b, d, fu, COMMAND);
    // Decoding off while sizing (PCI spec 3.0, 6.2.5.1).
    access.write32(b, d, fu, COMMAND, cmd & !(CMD_IO | CMD_MEMORY));
    let mut i = 0;
    while i < count {
        let off = 0x10 + 4 * i as u16;
        let orig = access.read32(b, d, fu, off);
        if orig & 1 != 0 {
            i += 1; // I/O BAR: corenet's drivers use memory BARs only
            continue;
        }
        let is64 = (orig >> 1) & 3 == 2;
        access.write32(b, d, fu, off, u32::MAX);
        let lo_mask = access.read32(b, d, fu, off) & !0xf;
        access.write32(b, d, fu, off, orig);
        let mut mask = u64::from(lo_mask);
        let mut addr = u64::from(orig & !0xf);
        if is64 {
            let orig_hi = access.read32(b, d, fu, off + 4);
            access.write32(b, d, fu, off + 4, u32::MAX);
            let hi_mask = access.read32(b, d, fu, off + 4);
            access.write32(b, d, fu, off + 4, orig_hi);
            mask |= u64::from(hi_mask) << 32;
            addr |= u64::from(orig_hi) << 32;
        } else {
            mask |= 0xffff_ffff_0000_0000;
        }
        if lo_mask != 0 {
            let _ = out.push(Bar {
                off,
                size: (!mask).wrapping_add(1),
                is64,
                addr,
            });
        }
        i += if is64 { 2 } else { 1 };
    }
    access.write32(b, d, fu, COMMAND, cmd);
    out
}

/// Places every unassigned memory BAR in [`BAR_WINDOW`] (naturally aligned, avoiding BARs
/// already programmed and any memory-map range) and enables memory decoding on functions that
/// got one. I/O BARs are left alone.
pub fn assign_bars(access: &ConfigAccess, avoid: &[core::ops::Range<u64>]) -> BarStats {
    let mut fns: heapless::Vec<PciFunction, 64> = heapless::Vec::new();
    scan(access, &mut |f| {
        let _ = fns.push(f);
    });
    let mut taken: heapless::Vec<core::ops::Range<u64>, 128> = heapless::Vec::new();
    for r in avoid {
        let _ = taken.push(r.clone());
    }
    let mut stats = BarStats::default();
    let mut todo: heapless::Vec<(PciFunction, Bar), 128> = heapless::Vec::new();
    for f in &fns {
        for bar in memory_bars(access, f) {
            if bar.addr != 0 {
                stats.kept += 1;
                let _ = taken.push(bar.addr..bar.addr + bar.size);
            } else {
                let _ = todo.push((*f, bar));
            }
        }
    }
    // Largest first keeps natural alignment from wasting the window.
    todo.sort_unstable_by_key(|t| core::cmp::Reverse(t.1.size));
    for (f, bar) in todo {
        let mut at = BAR_WINDOW.start;
        let placed = loop {
            at = at.div_ceil(bar.size.max(16)) * bar.size.max(16);
            let end = at + bar.size;
            if end > BAR_WINDOW.end {
                break None;
            }
            match taken.iter().find(|r| r.start < end && r.end > at) {
                Some(r) => at = r.end,
                None => break Some(at),
            }
        };
        let Some(addr) = placed else {
            stats.failed += 1;
            continue;
        };
        let _ = taken.push(addr..addr + bar.size);
        access.write32(f.bus, f.device, f.function, bar.off, addr as u32);
        if bar.is64 {
            access.write32(
                f.bus,
                f.device,
                f.function,
                bar.off + 4,
                (addr >> 32) as u32,
            );
        }
        let cmd = access.read32(f.bus, f.device, f.function, COMMAND);
        access.write32(f.bus, f.device, f.function, COMMAND, cmd | CMD_MEMORY);
        stats.assigned += 1;
    }
    stats
}
