//! MSI-X receive interrupts: one vector per receive queue, aimed at the core that owns it.
//!
//! The driver polls; the interrupt only wakes a halted core. [`Ixgbe::enable_msix`] finds
//! the MSI-X capability (PCI 3.0, 6.8.2), writes table entry `k` (the message for queue `k`'s
//! core), switches the device to MSI-X mode (GPIE), maps receive queue `k` to vector `k`
//! (IVAR), lets EICR clear itself when a message goes out (EIAC), turns throttling off (EITR)
//! and enables MSI-X in the capability. Every vector stays masked in EIMS: the queue's owner
//! unmasks its own bit right before halting ([`IxgbeRx::enable_interrupt`]) and masks it again
//! on the next poll, so a busy core takes no interrupt at all. EIMS, EIMC and EICR take
//! write-1 bit masks, so cores arming and disarming their own bits never touch each other's.
//!
//! The capability list and the table location come from the device's configuration space and
//! are checked before use: a walk is bounded, pointers must stay in the standard header's
//! capability area, and the table must fit its BAR.

use crate::init::{Ixgbe, IxgbePair};
use crate::mmio::RegisterAccess;
use crate::regs::{GPIE_MSIX_MODE, GPIE_PBA_SUPPORT, IVAR_VALID};

/// A PCI function's configuration space (the kernel's configuration access, or the model's).
pub trait ConfigSpace {
    /// Reads the dword at `off` (a multiple of 4, below 256).
    fn read32(&self, off: u16) -> u32;
    /// Writes the dword at `off`.
    fn write32(&mut self, off: u16, value: u32);
}

/// Capability id of MSI-X.
pub const PCI_CAP_ID_MSIX: u8 = 0x11;
/// Status register: the function has a capability list.
const STATUS_CAP_LIST: u32 = 1 << 20;
/// Message control (upper half of the capability's first dword): MSI-X enable, function mask.
const MSIX_ENABLE: u32 = 1 << 31;
const MSIX_FUNCTION_MASK: u32 = 1 << 30;
/// Table entry: vector control bit 0 masks the entry.
const ENTRY_MASKED: u32 = 1;
/// Bytes per table entry.
pub const ENTRY_SIZE: u32 = 16;
/// Most capabilities a walk visits (48 fit the 192 bytes after the standard header).
const MAX_CAPS: usize = 48;

/// Where the MSI-X table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsixCap {
    /// Configuration-space offset of the capability.
    pub offset: u16,
    /// Table entries (vectors).
    pub table_len: u16,
    /// BAR holding the table (BIR).
    pub table_bar: u8,
    /// Byte offset of the table in that BAR.
    pub table_offset: u32,
}

impl MsixCap {
    /// Bytes the table spans.
    pub fn table_bytes(&self) -> u32 {
        u32::from(self.table_len) * ENTRY_SIZE
    }
}

/// Why MSI-X receive interrupts could not be set up (the queues then stay polled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsixError {
    /// The function has no MSI-X capability.
    NoCapability,
    /// The capability list points outside the capability area, or loops.
    BadCapabilityList,
    /// The table names a BAR that does not exist (BIR > 5).
    BadBar(u8),
    /// The table does not fit the BAR it names (`table_end` > `bar_size`).
    TableOutsideBar {
        /// Offset just past the table.
        table_end: u64,
        /// Size of the BAR.
        bar_size: u64,
    },
    /// Fewer vectors than receive queues, or more queues than the 16 EIMS bits cover.
    TooFewVectors {
        /// Vectors in the table.
        vectors: u16,
        /// Receive queues that need one.
        queues: u16,
    },
}

impl core::fmt::Display for MsixError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoCapability => f.write_str("no MSI-X capability"),
            Self::BadCapabilityList => f.write_str("malformed PCI capability list"),
            Self::BadBar(b) => write!(f, "MSI-X table in BAR {b}, which does not exist"),
            Self::TableOutsideBar {
                table_end,
                bar_size,
            } => write!(
                f,
                "MSI-X table ends at {table_end:#x}, past its BAR of {bar_size:#x} bytes"
            ),
            Self::TooFewVectors { vectors, queues } => {
                write!(f, "{vectors} MSI-X vectors for {queues} receive queues")
            }
        }
    }
}

impl core::error::Error for MsixError {}

/// Finds the MSI-X capability of the function behind `cfg`.
pub fn find(cfg: &impl ConfigSpace) -> Result<MsixCap, MsixError> {
    if cfg.read32(0x04) & STATUS_CAP_LIST == 0 {
        return Err(MsixError::NoCapability);
    }
    let mut ptr = (cfg.read32(0x34) & 0xFC) as u16;
    for _ in 0..MAX_CAPS {
        if ptr == 0 {
            return Err(MsixError::NoCapability);
        }
        if !(0x40..=0xF8).contains(&ptr) {
            return Err(MsixError::BadCapabilityList);
        }
        let head = cfg.read32(ptr);
        if head as u8 == PCI_CAP_ID_MSIX {
            let table = cfg.read32(ptr + 4);
            let bar = (table & 7) as u8;
            if bar > 5 {
                return Err(MsixError::BadBar(bar));
            }
            return Ok(MsixCap {
                offset: ptr,
                table_len: ((head >> 16) & 0x7FF) as u16 + 1,
                table_bar: bar,
                table_offset: table & !7,
            });
        }
        ptr = ((head >> 8) & 0xFC) as u16;
    }
    Err(MsixError::BadCapabilityList)
}

/// Checks that `cap`'s table fits its BAR of `bar_size` bytes.
pub fn check_table(cap: &MsixCap, bar_size: u64) -> Result<(), MsixError> {
    let table_end = u64::from(cap.table_offset) + u64::from(cap.table_bytes());
    if table_end > bar_size {
        return Err(MsixError::TableOutsideBar {
            table_end,
            bar_size,
        });
    }
    Ok(())
}

/// One MSI message: the address (x86: 0xFEE0_0000 | APIC id << 12) and the data (vector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Message address.
    pub address: u64,
    /// Message data.
    pub data: u32,
}

/// A receive queue's interrupt: its bit in the extended interrupt registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxIrq {
    pub(crate) eicr: u32,
    pub(crate) eims: u32,
    pub(crate) eimc: u32,
    pub(crate) bit: u32,
}

impl<R: RegisterAccess> Ixgbe<R> {
    /// Sets up one MSI-X vector per receive queue of `pairs` (queue `k` -> table entry `k` ->
    /// `message(k)`) and hands each queue its [`RxIrq`]. `table` accesses the MSI-X table
    /// (offset 0 = entry 0) in the BAR `cap` names; `cfg` is the function's configuration
    /// space. Every vector is left masked in EIMS. On error nothing was enabled: the
    /// queues keep polling.
    pub fn enable_msix<T: RegisterAccess>(
        &mut self,
        pairs: &mut [IxgbePair<R>],
        cfg: &mut impl ConfigSpace,
        cap: &MsixCap,
        table: &T,
        message: &dyn Fn(u16) -> Message,
    ) -> Result<(), MsixError> {
        let queues = pairs.len() as u16;
        if queues > cap.table_len || queues > 16 {
            return Err(MsixError::TooFewVectors {
                vectors: cap.table_len,
                queues,
            });
        }
        let (r, fam) = (self.regs(), self.family());
        let irq = fam.irq_regs();
        let bits = (1u32 << queues) - 1;
        r.write32(irq.eimc, bits);
        for k in 0..queues {
            let m = message(k);
            let e = u32::from(k) * ENTRY_SIZE;
            table.write32(e, m.address as u32);
            table.write32(e + 4, (m.address >> 32) as u32);
            table.write32(e + 8, m.data);
            table.write32(e + 12, table.read32(e + 12) & !ENTRY_MASKED);
        }
        let ctrl = cfg.read32(cap.offset);
        cfg.write32(cap.offset, (ctrl | MSIX_ENABLE) & !MSIX_FUNCTION_MASK);
        // GPIE first: QEMU's 82576 ignores EIAC writes outside MSI-X mode.
        r.set_bits(irq.gpie, GPIE_MSIX_MODE | GPIE_PBA_SUPPORT);
        for k in 0..queues {
            let (ivar, shift) = fam.ivar_rx(k);
            let v = r.read32(ivar) & !(0xFF << shift);
            r.write32(ivar, v | (u32::from(k) | IVAR_VALID) << shift);
            // No throttling: a vector is unmasked only while its core halts, which bounds the
            // rate already, and a throttled wake-up would be a late one.
            r.write32(fam.eitr(k), 0);
        }
        // Auto-clear: after each message the cause is clear again, so the next frame raises a
        // new one (QEMU's 82576 signals only causes that rise).
        r.set_bits(irq.eiac, bits);
        r.write32(irq.eicr, bits);
        for (k, p) in (0..).zip(pairs.iter_mut()) {
            p.rx.set_irq(RxIrq {
                eicr: irq.eicr,
                eims: irq.eims,
                eimc: irq.eimc,
                bit: 1 << k,
            });
        }
        Ok(())
    }
}
