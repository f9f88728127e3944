//! Transmit checksum offload as the device does it: each queue holds two contexts loaded by
//! advanced context descriptors (7.2.3.2.3); a packet whose first data descriptor sets CC and
//! POPTS.TXSM (7.2.3.2.4) gets its TCP or UDP checksum computed from MACLEN + IPLEN to the
//! last byte of the DMA data and inserted at +16 (TCP) or +6 (UDP) (7.2.5.1). The checksum
//! field must already hold the pseudo-header sum: the device adds no pseudo-header.
//!
//! Requests the model cannot honour, or that the datasheet calls unpredictable (no context
//! loaded, TXSM without CC, SCTP or reserved L4T, IXSM, the field beyond the data) count a
//! configuration fault and leave the frame as software built it.

use super::device::Device;
use crate::desc::*;

/// One loaded context: what TXSM needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxContext {
    /// MACLEN + IPLEN: where the L4 header, and the checksum, start.
    start: usize,
    /// TUCMD.L4T.
    l4t: u32,
}

/// The one's-complement sum of `data` as big-endian 16-bit words (RFC 1071), folded.
fn ones_sum(data: &[u8]) -> u16 {
    let mut sum: u64 = data
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

impl Device {
    /// A context descriptor at DMA address `desc` for queue `q`: stores it in slot IDX.
    pub(crate) fn load_tx_context(&mut self, q: u16, desc: u64) {
        let lens = self.mem.read_u32(desc + TX_CTX_VLAN_MACIP_LENS as u64);
        let tucmd = self.mem.read_u32(desc + TX_CTX_TYPE_TUCMD as u64);
        let idx = self.mem.read_u32(desc + TX_CTX_MSS_L4LEN_IDX as u64) >> TX_CTX_IDX_SHIFT & 1;
        let start = (lens >> TX_CTX_MACLEN_SHIFT & 0x7F) + (lens & TX_CTX_IPLEN_MASK);
        if let Some(slots) = self.tx_ctx.get_mut(usize::from(q)) {
            slots[idx as usize] = Some(TxContext {
                start: start as usize,
                l4t: tucmd & TX_CTX_TUCMD_L4T_MASK,
            });
            self.tx_contexts_loaded += 1;
        }
    }

    /// Applies the offloads `olinfo` (the packet's first data descriptor, dword 3) asks for
    /// to `frame`, before any padding. Returns whether an L4 checksum was inserted.
    pub(crate) fn apply_tx_offload(&mut self, q: u16, olinfo: u32, frame: &mut [u8]) -> bool {
        if olinfo & (TX_POPTS_TXSM | TX_POPTS_IXSM) == 0 {
            return false;
        }
        let idx = (olinfo >> TX_OLINFO_IDX_SHIFT & 1) as usize;
        let ctx = self.tx_ctx.get(usize::from(q)).and_then(|s| s[idx]);
        let field = match ctx {
            Some(c) if c.l4t == TX_CTX_TUCMD_L4T_TCP => c.start + 16,
            Some(c) if c.l4t == TX_CTX_TUCMD_L4T_UDP => c.start + 6,
            _ => usize::MAX,
        };
        let (Some(ctx), true, 0, true) = (
            ctx,
            olinfo & TX_OLINFO_CC != 0,
            olinfo & TX_POPTS_IXSM,
            field.saturating_add(2) <= frame.len(),
        ) else {
            self.config_faults += 1;
            return false;
        };
        let mut c = !ones_sum(&frame[ctx.start..]);
        // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none").
        if ctx.l4t == TX_CTX_TUCMD_L4T_UDP && c == 0 {
            c = 0xFFFF;
        }
        frame[field..field + 2].copy_from_slice(&c.to_be_bytes());
        true
    }

    /// Contexts loaded by context descriptors since power-on, over all queues.
    pub fn tx_contexts_loaded(&self) -> u64 {
        self.tx_contexts_loaded
    }
}
