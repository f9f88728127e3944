//! Transmit offload requests: the pseudo-header sum a device completes into a TCP checksum,
//! and the segment size of a frame the device cuts (TSO).
//!
//! With checksum offload smoltcp leaves a TCP segment's checksum field zero
//! (`ChecksumCapabilities::tcp` is `Rx`). Both virtio-net (5.1.6.2, `NEEDS_CSUM`) and the
//! 82599 sum the bytes from the TCP header to the end of the frame and add that to what the
//! field already holds, so the field must hold the folded (not complemented) sum of the
//! pseudo-header: addresses, protocol and TCP length (RFC 9293 3.1; RFC 8200 8.1 for IPv6).
//! The frames are ours (smoltcp just built them), but the parse stays total: anything that is
//! not a well-formed Ethernet/IPv4 or IPv6/TCP frame gets no request.

use corenet_nic::{Offload, Tso};

const ETH_LEN: usize = 14;
const PROTO_TCP: u8 = 6;
/// Offset of the checksum field in the TCP header.
const TCP_CSUM: usize = 16;

/// Writes the pseudo-header sum into the TCP checksum field of `frame` and returns the
/// request for the device (`l4_csum` offsets counted from the frame start), with a
/// segmentation request for `mss`-byte segments when `mss` is given and the payload is
/// longer; `None` for a frame that is not TCP over IPv4/IPv6 (left untouched).
///
/// For a frame to segment the sum covers the whole TCP length, as for any other: the device
/// (Linux's `tcp_gso_segment` behind QEMU's tap) replaces that length with each segment's.
pub fn tcp_offload(frame: &mut [u8], mss: Option<u16>) -> Option<Offload> {
    let (start, tcp_len, sum, ipv6) = match frame.get(12..14)? {
        [0x08, 0x00] => {
            let ip = frame.get(ETH_LEN..ETH_LEN + 20)?;
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if ip[0] >> 4 != 4 || ihl < 20 || ip[9] != PROTO_TCP {
                return None;
            }
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            let tcp_len = total.checked_sub(ihl)?;
            (ETH_LEN + ihl, tcp_len, sum_words(&ip[12..20]), false)
        }
        [0x86, 0xdd] => {
            let ip = frame.get(ETH_LEN..ETH_LEN + 40)?;
            // smoltcp puts no extension header in front of TCP.
            if ip[0] >> 4 != 6 || ip[6] != PROTO_TCP {
                return None;
            }
            let tcp_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            (ETH_LEN + 40, tcp_len, sum_words(&ip[8..40]), true)
        }
        _ => return None,
    };
    // The whole TCP header and the length the IP header claims lie inside the frame.
    if tcp_len < 20 || start + tcp_len > frame.len() {
        return None;
    }
    let doff = usize::from(frame.get(start + 12)? >> 4) * 4;
    if doff < 20 || doff > tcp_len {
        return None;
    }
    let sum = fold(sum + u32::from(PROTO_TCP) + tcp_len as u32);
    let field = start + TCP_CSUM;
    frame
        .get_mut(field..field + 2)?
        .copy_from_slice(&sum.to_be_bytes());
    let hdr_len = start + doff;
    let tso = mss
        .filter(|&m| m != 0 && tcp_len - doff > usize::from(m))
        .map(|mss| Tso {
            mss,
            hdr_len: hdr_len as u16,
            ipv6,
        });
    Some(Offload {
        l4_csum: Some((start as u16, field as u16)),
        tso,
    })
}

/// Sum of the big-endian 16-bit words of `b` (even length), unfolded.
fn sum_words(b: &[u8]) -> u32 {
    b.chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum()
}

/// Ones' complement fold of a 32-bit sum to 16 bits.
fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

#[cfg(test)]
mod tests;
