//! The modelled transmit engine (7.2): fetch advanced data descriptors from TDH up to TDT,
//! (and context descriptors, `txcsum`), gather buffers into frames until EOP, apply the
//! first data descriptor's offloads, then report completion of descriptors with RS set,
//! by head write-back to TDWBAL/TDWBAH when enabled (7.2.3.5.2) or else by setting DD in the
//! descriptor (7.2.3.2.5). Nothing is sent while the link is down, DMATXCTL.TE is clear or the
//! queue is not enabled: descriptors wait.

use alloc::vec::Vec;

use super::device::{Device, MODEL_QUEUES};
use crate::desc::*;
use crate::regs::*;

/// A frame the device put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFrame {
    /// The transmit queue it came from.
    pub queue: u16,
    /// The bytes, padded to 60 when HLREG0.TXPADEN is set, without FCS.
    pub data: Vec<u8>,
    /// Whether an FCS was appended (DCMD.IFCS and HLREG0.TXCRCEN).
    pub fcs: bool,
    /// Whether the device inserted the TCP/UDP checksum (POPTS.TXSM, 7.2.5.1).
    pub l4_csum: bool,
}

impl Device {
    /// Processes every enabled transmit queue's pending descriptors.
    pub(crate) fn run_tx(&mut self) {
        if !self.link_up || self.get(DMATXCTL) & DMATXCTL_TE == 0 {
            return;
        }
        for q in 0..MODEL_QUEUES {
            if self.get(txdctl(q)) & DCTL_ENABLE != 0 && self.get(tdh(q)) != self.get(tdt(q)) {
                self.run_tx_queue(q);
            }
        }
    }

    fn run_tx_queue(&mut self, q: u16) {
        let tdlen = self.get(tdlen(q)) as usize;
        let size = tdlen / DESC_SIZE;
        let (mut head, tail) = (self.get(tdh(q)) as usize, self.get(tdt(q)) as usize);
        // TDBAL must be 128-byte aligned (8.2.3.9.5), TDLEN a non-zero multiple of 128.
        let misaligned = self.get(tdbal(q)) & 0x7F != 0;
        if misaligned || tdlen == 0 || !tdlen.is_multiple_of(128) || head >= size || tail >= size {
            self.config_faults += 1;
            return;
        }
        let base = u64::from(self.get(tdbal(q))) | u64::from(self.get(tdbah(q))) << 32;
        let wbal = self.get(tdwbal(q));
        let head_wb = (wbal & TDWBAL_HEAD_WB_EN != 0)
            .then(|| u64::from(wbal & !3) | u64::from(self.get(tdwbah(q))) << 32);
        let mut frame: Vec<u8> = Vec::new();
        let mut bad_frame = false;
        // POPTS/CC/IDX are taken from the first data descriptor of a packet (7.2.3.2.4).
        let mut olinfo = 0;
        while head != tail {
            let desc = base + (head * DESC_SIZE) as u64;
            let addr = self.mem.read_u64(desc + TX_ADDR as u64);
            let cmd = self.mem.read_u32(desc + TX_CMD_TYPE_LEN as u64);
            let len = (cmd & TX_DTALEN_MASK) as usize;
            let dext = cmd & TX_DCMD_DEXT != 0;
            if dext && cmd & TX_DTYP_MASK == TX_DTYP_CTXT {
                // A context between the data descriptors of one packet is not allowed.
                if !frame.is_empty() {
                    self.config_faults += 1;
                    bad_frame = true;
                }
                self.load_tx_context(q, desc);
                head = (head + 1) % size;
                continue;
            }
            if !dext || cmd & TX_DTYP_MASK != TX_DTYP_DATA || len == 0 {
                // Legacy descriptors and empty buffers are outside the model.
                self.config_faults += 1;
                bad_frame = true;
            } else {
                if frame.is_empty() {
                    olinfo = self.mem.read_u32(desc + TX_OLINFO_STATUS as u64);
                }
                let at = frame.len();
                frame.resize(at + len, 0);
                bad_frame |= !self.mem.read(addr, &mut frame[at..]);
            }
            head = (head + 1) % size;
            if cmd & TX_DCMD_EOP != 0 {
                let mut data = core::mem::take(&mut frame);
                if !bad_frame {
                    let l4_csum = self.apply_tx_offload(q, olinfo, &mut data);
                    let hl = self.get(HLREG0);
                    if hl & HLREG0_TXPADEN != 0 && data.len() < 60 {
                        data.resize(60, 0);
                    }
                    let fcs = cmd & TX_DCMD_IFCS != 0 && hl & HLREG0_TXCRCEN != 0;
                    self.count(GPTC, 1);
                    self.count_octets(GOTCL, data.len() as u64 + 4);
                    if q < MAX_QUEUES {
                        self.count(qptc(q), 1);
                    }
                    self.tx_out.push(TxFrame {
                        queue: q,
                        data,
                        fcs,
                        l4_csum,
                    });
                }
                bad_frame = false;
            }
            if cmd & TX_DCMD_RS != 0 {
                match head_wb {
                    Some(a) => self.mem.write_u32(a, head as u32),
                    None => {
                        let sta = self.mem.read_u32(desc + TX_OLINFO_STATUS as u64);
                        self.mem
                            .write_u32(desc + TX_OLINFO_STATUS as u64, sta | TX_STA_DD);
                    }
                }
            }
        }
        self.set(tdh(q), head as u32);
    }
}
