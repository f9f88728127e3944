//! Register access: the small trait the driver is generic over, and its volatile MMIO
//! implementation (the only place that touches BAR0).
//!
//! The driver never forms a Rust reference to a register: every access is one volatile 32-bit
//! load or store at `base + offset`. Host tests implement the same trait with the device model
//! ([`crate::model`]), so the driver code that runs on hardware is the code that is tested.

use core::ptr::NonNull;

/// 32-bit access to a device's registers at byte offsets into BAR0.
///
/// Cloning gives another handle to the same device (each queue keeps one to ring its tail).
pub trait RegisterAccess: Clone {
    /// Reads the 32-bit register at byte offset `offset`.
    fn read32(&self, offset: u32) -> u32;
    /// Writes the 32-bit register at byte offset `offset`.
    fn write32(&self, offset: u32, value: u32);

    /// Sets `bits` in a register (read-modify-write).
    fn set_bits(&self, offset: u32, bits: u32) {
        self.write32(offset, self.read32(offset) | bits);
    }
    /// Clears `bits` in a register (read-modify-write).
    fn clear_bits(&self, offset: u32, bits: u32) {
        self.write32(offset, self.read32(offset) & !bits);
    }
}

/// Volatile access to a memory-mapped BAR0.
#[derive(Debug, Clone, Copy)]
pub struct Mmio {
    base: NonNull<u8>,
    len: usize,
}

/// Errors from [`Mmio::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmioError {
    /// The base is not 4-byte aligned.
    Misaligned,
    /// The mapping is smaller than [`crate::pci::BAR0_LEN`].
    TooSmall(usize),
}

impl core::fmt::Display for MmioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Misaligned => f.write_str("BAR0 mapping not 4-byte aligned"),
            Self::TooSmall(len) => write!(f, "BAR0 mapping of {len} bytes is too small"),
        }
    }
}

impl core::error::Error for MmioError {}

impl Mmio {
    /// Wraps a mapping of BAR0 of `len` bytes.
    ///
    /// # Safety
    ///
    /// `base..base + len` must be a mapping of an 82599-family device's BAR0, mapped uncached
    /// (UC or strong ordering), valid for as long as this value and its copies live, and not
    /// accessed through Rust references anywhere.
    pub unsafe fn new(base: NonNull<u8>, len: usize) -> Result<Self, MmioError> {
        if !(base.as_ptr() as usize).is_multiple_of(4) {
            return Err(MmioError::Misaligned);
        }
        if len < crate::pci::BAR0_LEN {
            return Err(MmioError::TooSmall(len));
        }
        Ok(Self { base, len })
    }

    /// Wraps a mapping of `len` bytes of another of the device's BARs (the MSI-X table):
    /// like [`Mmio::new`] without BAR0's minimum size.
    ///
    /// # Safety
    ///
    /// As for [`Mmio::new`], for that region of device memory.
    pub unsafe fn new_region(base: NonNull<u8>, len: usize) -> Result<Self, MmioError> {
        if !(base.as_ptr() as usize).is_multiple_of(4) {
            return Err(MmioError::Misaligned);
        }
        Ok(Self { base, len })
    }

    fn reg(&self, offset: u32) -> Option<*mut u32> {
        let off = offset as usize;
        // A register offset past the mapping or unaligned is a driver bug; such an access is
        // dropped (reads return all-ones, as a PCIe master abort would).
        (off.is_multiple_of(4) && off + 4 <= self.len)
            .then(|| self.base.as_ptr().wrapping_add(off).cast::<u32>())
    }
}

// SAFETY: `Mmio` is a pointer to device registers, not to Rust data. Every access is a single
// volatile 32-bit load or store, which the device serialises itself; the driver gives each
// core its own queue registers (RDT/TDT of its queue); the shared ones are touched during
// init, before the queues are handed out, except EICR/EIMS/EIMC, which take write-1 bit masks:
// each core writes only its own queue's bit, so concurrent writes do not interfere.
unsafe impl Send for Mmio {}
// SAFETY: as for `Send`: `&Mmio` only allows single volatile register accesses.
unsafe impl Sync for Mmio {}

impl RegisterAccess for Mmio {
    #[inline]
    fn read32(&self, offset: u32) -> u32 {
        match self.reg(offset) {
            // SAFETY: `reg` checked the offset lies inside the mapping and is 4-aligned (the
            // base is too, checked in `new`); `new`'s contract makes the mapping valid MMIO.
            Some(p) => unsafe { p.read_volatile() },
            None => u32::MAX,
        }
    }

    #[inline]
    fn write32(&self, offset: u32, value: u32) {
        if let Some(p) = self.reg(offset) {
            // SAFETY: as in `read32`: in bounds, aligned, valid MMIO by `new`'s contract.
            unsafe { p.write_volatile(value) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    #[test]
    fn queues_over_real_mmio_can_move_to_another_core() {
        fn is_send<T: Send>() {}
        is_send::<crate::IxgbeRx<Mmio>>();
        is_send::<crate::IxgbeTx<Mmio>>();
    }

    #[test]
    fn volatile_access_at_byte_offsets_and_refuses_out_of_range() {
        let mut bar = vec![0u32; crate::pci::BAR0_LEN / 4];
        let base = NonNull::new(bar.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: `bar` is a live, aligned allocation of BAR0_LEN bytes that outlives `mmio`
        // and is not otherwise accessed until `mmio` is last used.
        let mmio = unsafe { Mmio::new(base, crate::pci::BAR0_LEN) }.unwrap();
        mmio.write32(crate::regs::EEC, 0x1234_5678);
        mmio.set_bits(crate::regs::EEC, 1);
        assert_eq!(mmio.read32(crate::regs::EEC), 0x1234_5679);
        mmio.write32(crate::pci::BAR0_LEN as u32, 7);
        assert_eq!(mmio.read32(crate::pci::BAR0_LEN as u32), u32::MAX);
        assert_eq!(mmio.read32(2), u32::MAX, "unaligned");
        assert_eq!(bar[crate::regs::EEC as usize / 4], 0x1234_5679);
        // SAFETY: as above; too small a mapping is refused before any access.
        let small = unsafe { Mmio::new(base, 4096) };
        assert_eq!(small.err(), Some(MmioError::TooSmall(4096)));
    }
}
