//! Receive interrupts for virtio-pci: one MSI-X vector per receive queue, steered to the core
//! that owns the queue, so a halted core wakes when a frame reaches its queue.
//!
//! virtio-drivers' `PciTransport` has no MSI-X support and keeps the common configuration
//! private, so this module finds the MSI-X capability (PCI 3.0, 6.8.2) and the common
//! configuration itself. Table entry `k` carries receive queue `k`'s message (4.1.5.1.2:
//! `queue_msix_vector`); transmit queues, the control queue and configuration changes get no
//! vector. The interrupt stays suppressed in the ring until a core arms it before halting
//! ([`VirtioRx::enable_interrupt`](crate::rx::VirtioRx::enable_interrupt)).
#![allow(unsafe_code)]

use virtio_drivers::Hal;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};

/// MSI-X capability id.
const PCI_CAP_ID_MSIX: u8 = 0x11;
/// Vendor-specific capability id (virtio structures, 4.1.4).
const PCI_CAP_ID_VNDR: u8 = 0x09;
/// `cfg_type` of the common configuration.
const CAP_COMMON_CFG: u8 = 1;
/// Message control: MSI-X enable, function mask.
const MSIX_ENABLE: u32 = 1 << 15;
const MSIX_FUNCTION_MASK: u32 = 1 << 14;
/// Common configuration offsets (4.1.4.3).
const COMMON_MSIX_CONFIG: usize = 0x10;
const COMMON_QUEUE_SELECT: usize = 0x16;
const COMMON_QUEUE_MSIX_VECTOR: usize = 0x1a;
/// "No vector" (4.1.5.1.2).
const NO_VECTOR: u16 = 0xffff;
/// The x86 MSI address window (SDM 10.11.1): destination APIC id in bits 12-19.
const MSI_ADDRESS_BASE: u32 = 0xfee0_0000;

/// Why receive interrupts could not be set up (the queues then stay polled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsixError {
    /// No MSI-X capability, or fewer table entries than receive queues.
    NoMsix,
    /// No common configuration capability.
    NoCommonCfg,
    /// The table or common configuration BAR is unassigned or too small.
    BadBar(u8),
    /// The device did not accept a queue's vector (read back `NO_VECTOR`).
    Refused(u16),
}

/// Programs one MSI-X entry per receive queue `k < queues` (message: `vector` to the APIC id
/// `dest(k)`), points receive queue `k` at entry `k`, and enables MSI-X. Call after the
/// queues are set up (DRIVER_OK), before any core arms an interrupt.
pub fn enable_rx_msix<H: Hal, C: ConfigurationAccess>(
    root: &mut PciRoot<C>,
    cam: &mut C,
    df: DeviceFunction,
    queues: u16,
    vector: u8,
    dest: &dyn Fn(u16) -> u32,
) -> Result<(), MsixError> {
    let mut msix = None;
    let mut common = None;
    for cap in root.capabilities(df) {
        if cap.id == PCI_CAP_ID_MSIX && msix.is_none() {
            msix = Some(cap.offset);
        }
        let cap_len = cap.private_header as u8;
        let cfg_type = (cap.private_header >> 8) as u8;
        if cap.id == PCI_CAP_ID_VNDR && cap_len >= 16 && cfg_type == CAP_COMMON_CFG {
            let read = |off: u8| cam.read_word(df, cap.offset + off);
            common.get_or_insert((read(4) as u8, read(8)));
        }
    }
    let cap = msix.ok_or(MsixError::NoMsix)?;
    let (common_bar, common_off) = common.ok_or(MsixError::NoCommonCfg)?;
    let header = cam.read_word(df, cap);
    let table_len = ((header >> 16) & 0x7ff) + 1;
    if table_len < u32::from(queues) {
        return Err(MsixError::NoMsix);
    }
    let table = cam.read_word(df, cap + 4);
    let table_bar = (table & 7) as u8;
    let table_ptr = map::<H, C>(root, df, table_bar, table & !7, table_len * 16)?;
    let common_ptr = map::<H, C>(root, df, common_bar, common_off, 0x38)?;
    for k in 0..queues {
        let entry = usize::from(k) * 16;
        let words = [
            MSI_ADDRESS_BASE | ((dest(k) & 0xff) << 12),
            0,
            u32::from(vector),
            0, // unmasked
        ];
        for (i, w) in words.into_iter().enumerate() {
            // SAFETY: entry `k < table_len` of the MSI-X table, inside the BAR (checked by
            // `map`), 4-byte aligned (the table offset is 8-byte aligned by definition).
            unsafe { table_ptr.add(entry + 4 * i).cast::<u32>().write_volatile(w) };
        }
    }
    // Enable MSI-X with the function unmasked (message control is the upper half of the
    // capability's first dword).
    let ctrl = (header | (MSIX_ENABLE << 16)) & !(MSIX_FUNCTION_MASK << 16);
    cam.write_word(df, cap, ctrl);
    let w16 = |off: usize, v: u16| {
        // SAFETY: inside the common configuration (0x38 bytes, checked by `map`), aligned.
        unsafe { common_ptr.add(off).cast::<u16>().write_volatile(v) }
    };
    let r16 = |off: usize| {
        // SAFETY: as for `w16`.
        unsafe { common_ptr.add(off).cast::<u16>().read_volatile() }
    };
    w16(COMMON_MSIX_CONFIG, NO_VECTOR);
    for k in 0..queues {
        // receiveq(k) = 2k (5.1.2).
        w16(COMMON_QUEUE_SELECT, 2 * k);
        w16(COMMON_QUEUE_MSIX_VECTOR, k);
        if r16(COMMON_QUEUE_MSIX_VECTOR) != k {
            return Err(MsixError::Refused(k));
        }
    }
    Ok(())
}

fn map<H: Hal, C: ConfigurationAccess>(
    root: &mut PciRoot<C>,
    df: DeviceFunction,
    bar: u8,
    offset: u32,
    len: u32,
) -> Result<*mut u8, MsixError> {
    let bad = MsixError::BadBar(bar);
    if bar >= 6 {
        return Err(bad);
    }
    let (addr, size) = root
        .bar_info(df, bar)
        .ok()
        .flatten()
        .and_then(|b| b.memory_address_size())
        .ok_or(bad)?;
    if addr == 0 || u64::from(offset) + u64::from(len) > size {
        return Err(bad);
    }
    // SAFETY: `[addr + offset, + len)` lies inside the device's memory BAR (checked above).
    let p = unsafe { H::mmio_phys_to_virt(addr + u64::from(offset), len as usize) };
    Ok(p.as_ptr())
}
