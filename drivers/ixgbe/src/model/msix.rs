//! The model's interrupt side: PCI configuration space with an MSI-X capability, the MSI-X
//! table in BAR3, and the extended interrupt registers in MSI-X mode.
//!
//! What the 82599 datasheet (7.3, 8.2.3.5, 9.3.8) says and the model does: with GPIE.MSIX_MODE
//! set, a receive write-back to queue `q` sets EICR bit `v`, where `v` is the vector of `q`'s
//! IVAR entry if its valid bit is set (vectors 0..16 are modelled; others count a config
//! fault). A cause that rises while its EIMS bit is set, or an EIMS bit set while its cause is
//! pending, sends vector `v`'s message: the address/data of table entry `v`, if MSI-X is
//! enabled in the capability, the function is not masked and the entry is not masked;
//! otherwise the message stays pending (not sent). After sending, the EIAC bits clear the
//! cause. EICR is write-1-to-clear, EIMS set-bits, EIMC clear-bits; EIMS_EX(0)/EIMC_EX(0)
//! reach the same mask bits for vectors 0-15.

use alloc::vec;
use alloc::vec::Vec;

use super::Model82599;
use super::device::Device;
use crate::mmio::RegisterAccess;
use crate::msix::{ConfigSpace, Message};
use crate::regs::*;

/// Table entries of the modelled function (the 82599 has 64).
pub const MODEL_VECTORS: u16 = 64;
/// Where the MSI-X capability sits in configuration space (as on the 82599).
pub const MSIX_CAP: u16 = 0x70;
/// BAR holding the table (BAR3 on the 82599 and the 82576).
pub const MSIX_BAR: u8 = 3;

/// The interrupt state behind the registers.
#[derive(Debug)]
pub(crate) struct MsixState {
    /// Configuration space, 64 dwords.
    pub(crate) config: Vec<u32>,
    /// Table entries, 4 dwords each; vector control starts masked (PCI 3.0, 6.8.2.9).
    table: Vec<u32>,
    /// Messages sent, until collected.
    pub(crate) sent: Vec<Message>,
    /// Messages held back by a mask (entry, function or MSI-X off).
    pub(crate) held: u64,
}

impl MsixState {
    pub(crate) fn new(with_msix: bool) -> Self {
        let mut config = vec![0u32; 64];
        config[0] = 0x10FB_8086;
        config[1] = 1 << 20; // status: capability list
        config[0x34 / 4] = 0x40;
        // PM at 0x40 -> MSI at 0x50 -> MSI-X at 0x70 -> PCIe at 0xA0, as the 82599 lays them.
        config[0x40 / 4] = 0x01 | 0x50 << 8;
        let after_msi = if with_msix { MSIX_CAP } else { 0xA0 };
        config[0x50 / 4] = 0x05 | u32::from(after_msi) << 8;
        if with_msix {
            let c = usize::from(MSIX_CAP) / 4;
            config[c] = 0x11 | 0xA0 << 8 | u32::from(MODEL_VECTORS - 1) << 16;
            config[c + 1] = u32::from(MSIX_BAR);
            config[c + 2] = 0x2000 | u32::from(MSIX_BAR);
        }
        config[0xA0 / 4] = 0x10;
        let mut table = vec![0u32; usize::from(MODEL_VECTORS) * 4];
        table.iter_mut().skip(3).step_by(4).for_each(|w| *w = 1);
        Self {
            config,
            table,
            sent: Vec::new(),
            held: 0,
        }
    }
}

impl Device {
    fn msix_mode(&self) -> bool {
        self.get(GPIE) & GPIE_MSIX_MODE != 0
    }

    /// A receive write-back to queue `q` raises its IVAR vector's cause.
    pub(crate) fn raise_rx_cause(&mut self, q: u16) {
        if !self.msix_mode() {
            return;
        }
        let (reg, shift) = crate::Family::X82599.ivar_rx(q);
        let entry = (self.get(reg) >> shift) & 0xFF;
        if entry & IVAR_VALID == 0 {
            return;
        }
        let v = entry & 0x3F;
        if v >= 16 {
            self.config_faults += 1;
            return;
        }
        let old = self.get(EICR) & self.get(EIMS);
        self.set(EICR, self.get(EICR) | 1 << v);
        self.signal(old);
    }

    /// EIMS written: newly unmasked pending causes fire.
    pub(crate) fn write_eims(&mut self, v: u32) {
        let old = self.get(EICR) & self.get(EIMS);
        self.set(EIMS, self.get(EIMS) | v);
        self.signal(old);
    }

    /// Sends a message for every cause in EICR & EIMS that was not already there (`old`).
    fn signal(&mut self, old: u32) {
        if !self.msix_mode() {
            return;
        }
        let raised = self.get(EICR) & self.get(EIMS) & !old & 0xFFFF;
        for v in (0..16).filter(|v| raised & 1 << v != 0) {
            let ctrl = self.msix.config[usize::from(MSIX_CAP) / 4];
            let e = &self.msix.table[v * 4..v * 4 + 4];
            let enabled = ctrl & (1 << 31) != 0 && ctrl & (1 << 30) == 0;
            if !enabled || e[3] & 1 != 0 {
                self.msix.held += 1;
                continue;
            }
            let m = Message {
                address: u64::from(e[0]) | u64::from(e[1]) << 32,
                data: e[2],
            };
            self.msix.sent.push(m);
            let clear = self.get(EIAC) & 1 << v;
            self.set(EICR, self.get(EICR) & !clear);
        }
    }
}

/// The function's configuration space, as the driver sees it.
#[derive(Debug, Clone)]
pub struct ModelConfig(pub(crate) Model82599);

impl ConfigSpace for ModelConfig {
    fn read32(&self, off: u16) -> u32 {
        self.0
            .with(|d| d.msix.config.get(usize::from(off) / 4).copied())
            .unwrap_or(u32::MAX)
    }

    fn write32(&mut self, off: u16, value: u32) {
        // Only MSI-X's enable and function-mask bits are writable here.
        if off == MSIX_CAP {
            self.0.with(|d| {
                let c = &mut d.msix.config[usize::from(MSIX_CAP) / 4];
                *c = (*c & !(3 << 30)) | (value & (3 << 30));
            });
        }
    }
}

/// The MSI-X table (BAR3 from offset 0), as the driver sees it.
#[derive(Debug, Clone)]
pub struct ModelTable(pub(crate) Model82599);

impl RegisterAccess for ModelTable {
    fn read32(&self, off: u32) -> u32 {
        self.0
            .with(|d| d.msix.table.get(off as usize / 4).copied())
            .unwrap_or(u32::MAX)
    }

    fn write32(&self, off: u32, value: u32) {
        self.0.with(|d| {
            if let Some(w) = d.msix.table.get_mut(off as usize / 4) {
                // Vector control: only the mask bit is writable.
                *w = if off % 16 == 12 { value & 1 } else { value };
            }
        });
    }
}

impl Model82599 {
    /// The function's configuration space (with an MSI-X capability unless
    /// [`super::ModelParams::msix`] is off).
    pub fn config(&self) -> ModelConfig {
        ModelConfig(self.clone())
    }

    /// The MSI-X table.
    pub fn msix_table(&self) -> ModelTable {
        ModelTable(self.clone())
    }

    /// Every MSI-X message sent since the last call.
    pub fn take_messages(&self) -> Vec<Message> {
        self.with(|d| core::mem::take(&mut d.msix.sent))
    }

    /// Messages a mask held back (none with a correct driver once MSI-X is enabled).
    pub fn held_messages(&self) -> u64 {
        self.with(|d| d.msix.held)
    }
}
