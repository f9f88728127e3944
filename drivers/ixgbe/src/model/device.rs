//! The modelled register file: reset values, read/write side effects, time, link.
//!
//! What the datasheet says and the model does:
//! - CTRL.RST (8.2.3.1.1, 4.6.3.2): all registers return to their initial values and the bit
//!   stays set until the reset completes ([`ModelParams::reset_us`] later), then EEC.ARD
//!   (8.2.3.2.1) sets once the EEPROM is read and RDRXCTL.DMAIDONE (8.2.3.8.8) once DMA is
//!   initialised. RAL0/RAH0 are loaded from the EEPROM's MAC address.
//! - AUTOC.AN_RESTART (8.2.3.22.1) self-clears and starts link training; LINKS.LINK_UP
//!   (8.2.3.22.2) sets [`ModelParams::link_us`] later if the cable is connected.
//! - RXDCTL/TXDCTL.ENABLE (8.2.3.8.6, 8.2.3.9.10) read back as set only once the queue is
//!   really enabled, which takes model time: software must poll (4.6.7.1, 4.6.8.1).
//! - Statistics registers clear on read (8.2.3.23); GORCL/GOTCL hold until the high half is
//!   read, which clears both.

use alloc::vec;
use alloc::vec::Vec;

use super::hostmem::HostMem;
use super::tx::TxFrame;
use crate::regs::*;

/// Bytes of register space modelled (covers every register the 82599 subset uses).
const REG_SPACE: usize = 0x20000;

/// Knobs of a model instance.
#[derive(Debug, Clone)]
pub struct ModelParams {
    /// The MAC address in the EEPROM.
    pub mac: [u8; 6],
    /// Microseconds a global reset takes; `None` = the reset never completes.
    pub reset_us: Option<u32>,
    /// Microseconds from the end of reset to EEC.ARD (EEPROM auto-read done).
    pub eeprom_us: u32,
    /// Microseconds from AN restart (with the cable in) to LINKS.LINK_UP.
    pub link_us: u32,
    /// Microseconds from setting a queue's ENABLE to it reading back as set.
    pub queue_enable_us: u32,
    /// Whether the cable is connected at power-on.
    pub cable: bool,
    /// Whether configuration space has an MSI-X capability.
    pub msix: bool,
}

impl Default for ModelParams {
    fn default() -> Self {
        Self {
            mac: [0x00, 0x1B, 0x21, 0x0A, 0x0B, 0x0C],
            reset_us: Some(500),
            eeprom_us: 2_000,
            link_us: 30_000,
            queue_enable_us: 50,
            cable: true,
            msix: true,
        }
    }
}

/// The device state behind a [`super::Model82599`].
#[derive(Debug)]
pub struct Device {
    pub(crate) params: ModelParams,
    regs: Vec<u32>,
    pub(crate) now_us: u64,
    /// When the running reset completes (`u64::MAX`: never).
    reset_done_at: Option<u64>,
    eeprom_done_at: Option<u64>,
    link_up_at: Option<u64>,
    /// AUTOC was written since the last reset: the MAC knows its link mode.
    link_configured: bool,
    pub(crate) link_up: bool,
    cable: bool,
    /// Per queue: when a pending RXDCTL/TXDCTL enable becomes visible.
    rx_enable_at: Vec<Option<u64>>,
    tx_enable_at: Vec<Option<u64>>,
    pub(crate) mem: HostMem,
    /// Unsupported configurations met while processing (legacy descriptors, bad ring).
    pub(crate) config_faults: u64,
    /// Frames the transmit engine sent, until collected.
    pub(crate) tx_out: Vec<TxFrame>,
    /// A corruption to apply to the next received frame's write-back.
    pub(crate) corrupt_next: Option<super::rx::Corruption>,
    /// Per queue: the two transmit contexts (7.2.3.2.3), lost on reset.
    pub(crate) tx_ctx: Vec<[Option<super::txcsum::TxContext>; 2]>,
    /// Context descriptors processed.
    pub(crate) tx_contexts_loaded: u64,
    /// Configuration space, MSI-X table and messages (kept across CTRL.RST, which resets
    /// the MAC, not the PCI function).
    pub(crate) msix: super::msix::MsixState,
}

/// Queues whose registers the model implements.
pub(crate) const MODEL_QUEUES: u16 = 64;

impl Device {
    pub(crate) fn new(params: ModelParams) -> Self {
        let cable = params.cable;
        let msix = super::msix::MsixState::new(params.msix);
        let mut d = Self {
            params,
            regs: vec![0; REG_SPACE / 4],
            now_us: 0,
            reset_done_at: None,
            eeprom_done_at: None,
            link_up_at: None,
            link_configured: false,
            link_up: false,
            cable,
            rx_enable_at: vec![None; MODEL_QUEUES as usize],
            tx_enable_at: vec![None; MODEL_QUEUES as usize],
            mem: HostMem::default(),
            config_faults: 0,
            tx_out: Vec::new(),
            corrupt_next: None,
            tx_ctx: vec![[None; 2]; MODEL_QUEUES as usize],
            tx_contexts_loaded: 0,
            msix,
        };
        d.load_defaults();
        d.finish_reset();
        d.finish_eeprom();
        d
    }

    /// Initial values (datasheet section 8) of the registers the model gives meaning to;
    /// everything else is 0.
    fn load_defaults(&mut self) {
        self.regs.iter_mut().for_each(|r| *r = 0);
        self.set(HLREG0, HLREG0_TXCRCEN | HLREG0_RXCRCSTRP | HLREG0_TXPADEN);
        // SRRCTL: BSIZEPACKET 2 KB, BSIZEHEADER 256 B, legacy descriptors.
        for q in 0..MODEL_QUEUES {
            self.set(srrctl(q), 0x0000_0402);
        }
        self.set(EIMS, 0);
        self.link_configured = false;
        self.link_up = false;
        self.link_up_at = None;
        self.rx_enable_at.iter_mut().for_each(|e| *e = None);
        self.tx_enable_at.iter_mut().for_each(|e| *e = None);
        self.tx_ctx.iter_mut().for_each(|c| *c = [None; 2]);
    }

    fn finish_reset(&mut self) {
        let ctrl = self.get(CTRL) & !(CTRL_RST | CTRL_LRST);
        self.set(CTRL, ctrl);
        self.reset_done_at = None;
    }

    fn finish_eeprom(&mut self) {
        self.set(EEC, self.get(EEC) | EEC_ARD | (1 << 8));
        self.set(RDRXCTL, self.get(RDRXCTL) | RDRXCTL_DMAIDONE);
        let m = self.params.mac;
        self.set(RAL0, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        self.set(RAH0, u32::from_le_bytes([m[4], m[5], 0, 0]) | RAH_AV);
        self.eeprom_done_at = None;
    }

    #[inline]
    pub(crate) fn get(&self, off: u32) -> u32 {
        self.regs.get(off as usize / 4).copied().unwrap_or(0)
    }

    #[inline]
    pub(crate) fn set(&mut self, off: u32, v: u32) {
        if let Some(r) = self.regs.get_mut(off as usize / 4) {
            *r = v;
        }
    }

    /// Adds to a statistics register (saturating, as the hardware counters do).
    pub(crate) fn count(&mut self, off: u32, n: u32) {
        self.set(off, self.get(off).saturating_add(n));
    }

    /// Adds to a 36-bit octet counter held in a low/high pair.
    pub(crate) fn count_octets(&mut self, lo: u32, n: u64) {
        let v = (u64::from(self.get(lo)) | u64::from(self.get(lo + 4)) << 32) + n;
        let v = v.min((1 << 36) - 1);
        self.set(lo, v as u32);
        self.set(lo + 4, (v >> 32) as u32);
    }

    /// A register's value without read side effects.
    pub fn peek(&self, off: u32) -> u32 {
        if off == LINKS {
            return self.links();
        }
        if off == EIMS_EX0 {
            return self.get(EIMS) & 0xFFFF;
        }
        self.get(off)
    }

    fn links(&self) -> u32 {
        if self.link_up {
            LINKS_UP | LINKS_SPEED_10G
        } else {
            0
        }
    }

    fn is_clear_on_read(off: u32) -> bool {
        matches!(off, GPRC | GPTC | GORCH | GOTCH | CRCERRS | RLEC)
            || (mpc(0)..=mpc(7)).contains(&off)
            || (0..MAX_QUEUES).any(|q| off == qprc(q) || off == qptc(q))
    }

    /// A register read by the driver, with side effects.
    pub(crate) fn read(&mut self, off: u32) -> u32 {
        if !off.is_multiple_of(4) || off as usize >= REG_SPACE {
            return u32::MAX;
        }
        let v = self.peek(off);
        if Self::is_clear_on_read(off) {
            self.set(off, 0);
            if off == GORCH || off == GOTCH {
                self.set(off - 4, 0);
            }
        }
        v
    }

    /// A register write by the driver, with side effects.
    pub(crate) fn write(&mut self, off: u32, v: u32) {
        if !off.is_multiple_of(4) || off as usize >= REG_SPACE {
            return;
        }
        match off {
            CTRL if v & CTRL_RST != 0 => self.start_reset(),
            CTRL if v & CTRL_LRST != 0 => {
                self.link_up = false;
                self.set(CTRL, v & !CTRL_LRST);
            }
            EIMS => self.write_eims(v),
            EIMC => self.set(EIMS, self.get(EIMS) & !v),
            // Vectors 0-15 of the extended mask registers are EIMS's bits 15:0; vectors 16-31
            // are not modelled.
            EIMS_EX0 | EIMC_EX0 if v >> 16 != 0 => self.config_faults += 1,
            EIMS_EX0 => self.write_eims(v),
            EIMC_EX0 => self.set(EIMS, self.get(EIMS) & !v),
            EICR => self.set(EICR, self.get(EICR) & !v),
            // Read-only registers and read-only bits.
            STATUS | LINKS => {}
            EEC => self.set(EEC, (v & !EEC_ARD) | (self.get(EEC) & EEC_ARD)),
            RDRXCTL => {
                let done = self.get(RDRXCTL) & RDRXCTL_DMAIDONE;
                self.set(RDRXCTL, (v & !RDRXCTL_DMAIDONE) | done);
            }
            AUTOC => {
                self.link_configured = true;
                self.set(AUTOC, v & !AUTOC_AN_RESTART);
                if v & AUTOC_AN_RESTART != 0 {
                    self.link_up = false;
                    self.start_link_training();
                }
            }
            _ => {
                if let Some((q, rx)) = Self::dctl_queue(off) {
                    self.write_dctl(off, q, rx, v);
                } else {
                    self.set(off, v);
                }
            }
        }
    }

    /// Whether `off` is RXDCTL(q) (`true`) or TXDCTL(q) (`false`) of a modelled queue.
    fn dctl_queue(off: u32) -> Option<(u16, bool)> {
        let span = 0x40 * u32::from(MODEL_QUEUES);
        for (base, rx) in [(rxdctl(0), true), (txdctl(0), false)] {
            if off >= base && off < base + span && (off - base).is_multiple_of(0x40) {
                return Some((((off - base) / 0x40) as u16, rx));
            }
        }
        None
    }

    fn write_dctl(&mut self, off: u32, q: u16, rx: bool, v: u32) {
        let was = self.get(off) & DCTL_ENABLE != 0;
        let at = if rx {
            &mut self.rx_enable_at
        } else {
            &mut self.tx_enable_at
        };
        if v & DCTL_ENABLE != 0 && !was {
            // Enabling takes time; the bit reads 0 until it is done.
            at[q as usize] = Some(self.now_us + u64::from(self.params.queue_enable_us));
            self.set(off, v & !DCTL_ENABLE);
        } else {
            if v & DCTL_ENABLE == 0 {
                at[q as usize] = None;
            }
            self.set(off, v);
        }
    }

    fn start_reset(&mut self) {
        self.load_defaults();
        self.set(CTRL, CTRL_RST);
        self.set(EEC, 1 << 8);
        self.set(RDRXCTL, 0);
        self.set(RAL0, 0);
        self.set(RAH0, 0);
        self.reset_done_at = self.params.reset_us.map(|us| self.now_us + u64::from(us));
        self.eeprom_done_at = None;
    }

    fn start_link_training(&mut self) {
        self.link_up_at = (self.cable && self.link_configured)
            .then(|| self.now_us + u64::from(self.params.link_us));
    }

    pub(crate) fn set_cable(&mut self, connected: bool) {
        self.cable = connected;
        if connected {
            if !self.link_up {
                self.start_link_training();
            }
        } else {
            self.link_up = false;
            self.link_up_at = None;
        }
    }

    pub(crate) fn advance(&mut self, us: u32) {
        self.now_us += u64::from(us);
        let now = self.now_us;
        if self.reset_done_at.is_some_and(|t| now >= t) {
            self.finish_reset();
            self.eeprom_done_at = Some(now + u64::from(self.params.eeprom_us));
        }
        if self.eeprom_done_at.is_some_and(|t| now >= t) {
            self.finish_eeprom();
        }
        if self.link_up_at.is_some_and(|t| now >= t) {
            self.link_up = true;
            self.link_up_at = None;
        }
        for q in 0..MODEL_QUEUES {
            if self.rx_enable_at[q as usize].is_some_and(|t| now >= t) {
                self.rx_enable_at[q as usize] = None;
                self.set(rxdctl(q), self.get(rxdctl(q)) | DCTL_ENABLE);
            }
            if self.tx_enable_at[q as usize].is_some_and(|t| now >= t) {
                self.tx_enable_at[q as usize] = None;
                self.set(txdctl(q), self.get(txdctl(q)) | DCTL_ENABLE);
            }
        }
        self.run_tx();
    }
}
