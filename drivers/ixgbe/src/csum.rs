//! Transmit checksum offload planning: an [`Offload::l4_csum`] request becomes an advanced
//! context descriptor (7.2.3.2.3) plus POPTS.TXSM, or a checksum computed here when the
//! 82599 cannot express it.
//!
//! The contract is virtio's and the 82599's alike: the caller has put the pseudo-header sum
//! in the checksum field; the checksum covers `start` to the end of the frame, field
//! included, and its complement replaces the field (7.2.5.1: "software still needs to
//! calculate a full checksum for the TCP/UDP pseudo-header").
//!
//! The 82599 derives the field's place from the context: MACLEN + IPLEN + 16 for TCP, + 6 for
//! UDP. Other layouts (or an L2/IP header length the context fields cannot hold) are
//! checksummed in software, so every well-formed request is honoured.
//!
//! [`Offload::l4_csum`]: corenet_nic::Offload::l4_csum

use crate::desc::*;

/// The fields of one context descriptor; an equal context need not be loaded again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Context {
    /// Dword 0: MACLEN and IPLEN.
    pub vlan_macip_lens: u32,
    /// Dword 2 without DTYP/DEXT: TUCMD (IPV4, L4T).
    pub tucmd: u32,
}

/// A well-formed checksum request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    /// Where checksumming starts.
    pub start: usize,
    /// Where the 16-bit result goes.
    pub field: usize,
    /// The context that makes the device do it, if the layout is one it knows.
    pub ctx: Option<Context>,
}

/// Reads the request `(start, offset)` for a `frame` (the bytes to be sent). `offset` is
/// taken from the frame start when at or past `start`, else from `start` (virtio's
/// `csum_offset`): no valid field lies before `start`, so the two readings never collide.
/// `None`: the field or start lies outside the frame, a caller mistake.
pub(crate) fn plan(frame: &[u8], (start, offset): (u16, u16)) -> Option<Request> {
    let (start, offset) = (usize::from(start), usize::from(offset));
    let field = if offset >= start {
        offset
    } else {
        start + offset
    };
    if field + 2 > frame.len() {
        return None;
    }
    let l4t = match field - start {
        16 => TX_CTX_TUCMD_L4T_TCP,
        6 => TX_CTX_TUCMD_L4T_UDP,
        _ => {
            return Some(Request {
                start,
                field,
                ctx: None,
            });
        }
    };
    // MACLEN: Ethernet, or Ethernet with one 802.1Q tag in the data.
    let maclen = match frame.get(12..14) {
        Some([0x81, 0x00]) => 18,
        _ => 14,
    };
    let ipv4 = frame.get(maclen - 2..maclen) == Some(&[0x08, 0x00][..]);
    let iplen = start.wrapping_sub(maclen);
    let ctx = (20..=TX_CTX_IPLEN_MASK as usize)
        .contains(&iplen)
        .then_some(Context {
            vlan_macip_lens: (maclen as u32) << TX_CTX_MACLEN_SHIFT | iplen as u32,
            tucmd: l4t | if ipv4 { TX_CTX_TUCMD_IPV4 } else { 0 },
        });
    Some(Request { start, field, ctx })
}

/// Computes the checksum in software: the one's complement of the one's-complement sum
/// (RFC 1071) from `start` to the end of `frame`, into the field. A UDP result of zero is sent
/// as all ones (RFC 768).
pub(crate) fn software(frame: &mut [u8], r: &Request) {
    let mut sum: u64 = frame[r.start..]
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    let mut c = !(sum as u16);
    if c == 0 && r.field - r.start == 6 {
        c = 0xFFFF;
    }
    frame[r.field..r.field + 2].copy_from_slice(&c.to_be_bytes());
}
