//! The I/O APIC: routes a device's interrupt line (a GSI) to one core's vector.
//!
//! corenet uses it for one thing: waking the core that owns a virtio-mmio receive queue
//! (microvm, Firecracker-style machines), whose only interrupt is a line on the I/O APIC.
//! Lines are programmed edge-triggered, active high: the device keeps its line up until its
//! interrupt status is acknowledged, and the owner acknowledges it before every arming, so
//! each new notification is a fresh rising edge (no level storm while a core polls).
//!
//! The register window sits at the architectural default 0xFEC0_0000 on every machine QEMU
//! and Firecracker build (the MP table and the MADT name the same address); it is identity
//! mapped uncached with the rest of the 32-bit device window. A window that reads as all ones
//! (no I/O APIC) is refused, as is a line beyond its redirection table.

use core::fmt;

/// Physical (= virtual, identity map) base of the I/O APIC's register window.
const BASE: u64 = 0xfec0_0000;
/// Register select (index) and data window offsets.
const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
/// Register index of the version register (bits 16..24: highest redirection entry).
const REG_VERSION: u32 = 0x01;
/// Register index of redirection entry 0's low half (entry n: 0x10 + 2n, high half + 1).
const REG_REDIRECTION: u32 = 0x10;
/// Redirection entry bit 16: the line is masked.
const MASKED: u32 = 1 << 16;

/// Why a line could not be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// Nothing answers at the I/O APIC's address.
    NoIoApic,
    /// The line is beyond the I/O APIC's redirection table (its highest entry).
    NoSuchLine {
        /// The line asked for.
        gsi: u32,
        /// The highest line this I/O APIC has.
        max: u32,
    },
    /// The destination APIC id does not fit the 8-bit physical destination field (x2APIC
    /// ids above 255 need interrupt remapping, which corenet does not program).
    DestinationTooLarge(u32),
    /// A vector below 0x20 (exceptions) cannot be a device interrupt.
    BadVector(u8),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoIoApic => f.write_str("no I/O APIC at 0xfec00000"),
            Self::NoSuchLine { gsi, max } => {
                write!(f, "line {gsi} is beyond the I/O APIC's last line {max}")
            }
            Self::DestinationTooLarge(id) => {
                write!(
                    f,
                    "APIC id {id} does not fit the I/O APIC's 8-bit destination"
                )
            }
            Self::BadVector(v) => write!(f, "vector {v:#x} is an exception vector"),
        }
    }
}

impl core::error::Error for RouteError {}

fn read(reg: u32) -> u32 {
    // SAFETY: the I/O APIC window lies in the identity-mapped, uncached 32-bit device window
    // (no RAM region covers it); IOREGSEL and IOWIN are its two 32-bit registers. Only the BSP
    // programs it, during bring-up, so the select/data pair is not interleaved.
    unsafe {
        ((BASE + IOREGSEL) as *mut u32).write_volatile(reg);
        ((BASE + IOWIN) as *const u32).read_volatile()
    }
}

fn write(reg: u32, v: u32) {
    // SAFETY: as in `read`.
    unsafe {
        ((BASE + IOREGSEL) as *mut u32).write_volatile(reg);
        ((BASE + IOWIN) as *mut u32).write_volatile(v);
    }
}

/// The redirection entry for `vector` to `dest`: fixed delivery, physical destination mode,
/// active high, edge-triggered, unmasked. Returned as (low, high) halves.
pub fn entry(vector: u8, dest: u32) -> Result<(u32, u32), RouteError> {
    if vector < 0x20 {
        return Err(RouteError::BadVector(vector));
    }
    if dest > 0xff {
        return Err(RouteError::DestinationTooLarge(dest));
    }
    Ok((u32::from(vector), dest << 24))
}

/// Routes line `gsi` to `vector` on the core whose APIC id is `dest` (edge, active high).
pub fn route(gsi: u32, vector: u8, dest: u32) -> Result<(), RouteError> {
    let (low, high) = entry(vector, dest)?;
    let version = read(REG_VERSION);
    if version == u32::MAX {
        return Err(RouteError::NoIoApic);
    }
    let max = (version >> 16) & 0xff;
    if gsi > max {
        return Err(RouteError::NoSuchLine { gsi, max });
    }
    let reg = REG_REDIRECTION + 2 * gsi;
    // Masked while the halves are written, so no half-written entry can deliver.
    write(reg, MASKED);
    write(reg + 1, high);
    write(reg, low);
    Ok(())
}
