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
            Some(e) => Self::Ecam { base: e.base, bus_start: e.bus_start, bus_end: e.bus_end },
            None => Self::PortIo,
        }
    }

    /// Buses this access can reach.
    pub fn buses(&self) -> core::ops::RangeInclusive<u8> {
        match *self {
            Self::Ecam { bus_start, bus_end, .. } => bus_start..=bus_end,
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

    /// Reads the 32-bit register at `off` (rounded down to 4) of a function.
    /// Out-of-range buses read as all ones, like an absent device.
    pub fn read32(&self, bus: u8, dev: u8, func: u8, off: u16) -> u32 {
        match *self {
            Self::Ecam { base, bus_start, bus_end } => {
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
                let addr = 0x8000_0000
                    | (u32::from(bus) << 16)
                    | (u32::from(dev & 31) << 11)
                    | (u32::from(func & 7) << 8)
                    | u32::from(off & 0xfc);
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
            Self::Ecam { base, bus_start, bus_end } => {
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
                let addr = 0x8000_0000
                    | (u32::from(bus) << 16)
                    | (u32::from(dev & 31) << 11)
                    | (u32::from(func & 7) << 8)
                    | u32::from(off & 0xfc);
                // SAFETY: as in `read32`.
                unsafe {
                    Port::<u32>::new(0xcf8).write(addr);
                    Port::<u32>::new(0xcfc).write(value);
                }
            }
        }
    }
}

/// Calls `found` for every present function on every reachable bus.
pub fn scan(access: &ConfigAccess, found: &mut dyn FnMut(PciFunction)) {
    for bus in access.buses() {
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
                found(PciFunction {
                    bus,
                    device: dev,
                    function: func,
                    vendor: id as u16,
                    device_id: (id >> 16) as u16,
                    class: (class >> 24) as u8,
                    subclass: (class >> 16) as u8,
                });
            }
        }
    }
}
