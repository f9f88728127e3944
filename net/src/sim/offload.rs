//! The simulated NIC's transmit offloads, done as a device does them: checksum completion
//! (`Offload::l4_csum`) and TCP segmentation (`Offload::tso`, cut like Linux's GSO behind
//! virtio-net), so host tests can run the stack with the offloads a tap offers.

use alloc::vec::Vec;

use corenet_nic::Offload;
use smoltcp::wire::{IpAddress, Ipv4Packet, TcpPacket};

/// The longest frame the simulated queue segments (virtio's: an Ethernet header and the
/// largest IPv4 packet).
pub const TSO_MAX_FRAME: usize = 14 + 65535;

/// Large buffers per simulated queue.
pub(crate) const TSO_BUFS: usize = 16;

/// Which transmit offloads the simulated queues offer (set before the stacks are built: a
/// stack reads them once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimOffload {
    /// Complete TCP checksums (`TxQueue::csum_offload`).
    pub csum: bool,
    /// Segment TCP/IPv4 frames of up to [`TSO_MAX_FRAME`] bytes (needs `csum`).
    pub tso: bool,
}

/// What the queues were asked to segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TsoStats {
    /// Frames the stack handed over for segmentation.
    pub frames: u64,
    /// The largest TCP payload among them.
    pub max_payload: usize,
    /// Requests that could not be honoured (dropped, as a device would).
    pub refused: u64,
}

/// The frames the device puts on the wire for `frame` sent with `offload`; `None` for a
/// request it refuses. `stats` counts segmentation requests.
pub(crate) fn apply(frame: &[u8], offload: Offload, stats: &mut TsoStats) -> Option<Vec<Vec<u8>>> {
    let Some((start, off)) = offload.l4_csum else {
        return offload.tso.is_none().then(|| alloc::vec![frame.to_vec()]);
    };
    let Some(t) = offload.tso else {
        let mut f = frame.to_vec();
        complete(&mut f, usize::from(start), usize::from(off))?;
        return Some(alloc::vec![f]);
    };
    let refuse = |stats: &mut TsoStats| {
        stats.refused += 1;
        None
    };
    let hdr = usize::from(t.hdr_len);
    if t.ipv6 || t.mss == 0 || hdr > frame.len() || hdr < 14 + 20 + 20 {
        return refuse(stats);
    }
    let ip = Ipv4Packet::new_checked(&frame[14..]).ok()?;
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let ihl = usize::from(ip.header_len());
    let payload = &frame[hdr..];
    stats.frames += 1;
    stats.max_payload = stats.max_payload.max(payload.len());
    let mut out = Vec::new();
    let seq0 = u32::from_be_bytes(frame[14 + ihl + 4..14 + ihl + 8].try_into().ok()?);
    let flags = frame[14 + ihl + 13];
    let chunks = payload.chunks(usize::from(t.mss));
    let n = chunks.len();
    for (i, chunk) in chunks.enumerate() {
        let mut f = Vec::with_capacity(hdr + chunk.len());
        f.extend_from_slice(&frame[..hdr]);
        f.extend_from_slice(chunk);
        {
            let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
            ip.set_total_len((hdr - 14 + chunk.len()) as u16);
            ip.set_ident(ip.ident().wrapping_add(i as u16));
            ip.fill_checksum();
        }
        let tcp_at = 14 + ihl;
        let seq = seq0.wrapping_add((i * usize::from(t.mss)) as u32);
        f[tcp_at + 4..tcp_at + 8].copy_from_slice(&seq.to_be_bytes());
        // FIN and PSH only on the last segment.
        if i + 1 < n {
            f[tcp_at + 13] = flags & !0x09;
        }
        let mut tcp = TcpPacket::new_unchecked(&mut f[tcp_at..]);
        tcp.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst));
        out.push(f);
    }
    Some(out)
}

/// Completes a checksum as virtio's `NEEDS_CSUM` does: the ones' complement sum from
/// `start` to the end of the frame (field included), complemented, into the field.
fn complete(f: &mut [u8], start: usize, off: usize) -> Option<()> {
    let field = if off >= start { off } else { start + off };
    if field + 2 > f.len() || start > f.len() {
        return None;
    }
    // The IP length, not Ethernet padding, ends the segment.
    let end = match f.get(12..14) {
        Some([0x08, 0x00]) => Ipv4Packet::new_checked(&f[14..])
            .map(|p| 14 + usize::from(p.total_len()))
            .unwrap_or(f.len()),
        _ => f.len(),
    }
    .min(f.len());
    let mut s: u32 = 0;
    for w in f[start..end].chunks(2) {
        s += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    f[field..field + 2].copy_from_slice(&(!(s as u16)).to_be_bytes());
    Some(())
}
