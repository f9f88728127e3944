//! The transmit header (5.1.6): what a frame's offload requests become in `virtio_net_hdr`.

use corenet_nic::Offload;

/// `virtio_net_hdr.flags`: the device must complete the checksum (5.1.6.2).
const HDR_F_NEEDS_CSUM: u8 = 1;
/// `virtio_net_hdr.gso_type` (5.1.6): TCP over IPv4, TCP over IPv6.
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;

/// The header's first 12 bytes (`lo`: bytes 0..8 `flags`, `gso_type`, `hdr_len`, `gso_size`,
/// `csum_start`; `hi`: 8..12 `csum_offset`, `num_buffers`) for `offload` on a frame of `len`
/// bytes, in a `large` buffer or not; all zero without a request. `None` for a request the
/// device must not see: a checksum field outside the frame, segmentation without a checksum
/// request, in a small buffer, with a zero segment size, or with headers past the frame or
/// ending before the checksum field.
pub(crate) fn header(offload: Offload, len: usize, large: bool) -> Option<(u64, u32)> {
    let Some((start, off)) = offload.l4_csum else {
        return offload.tso.is_none().then_some((0, 0));
    };
    // `Offload` gives both offsets from the frame start; virtio's `csum_offset` counts from
    // `csum_start` (5.1.6.2), and the 16-bit result must lie inside the frame or the device
    // drops it.
    if off < start || usize::from(off) + 2 > len {
        return None;
    }
    let mut lo = u64::from(HDR_F_NEEDS_CSUM) | u64::from(start) << 48;
    if let Some(t) = offload.tso {
        if !large || t.mss == 0 || usize::from(t.hdr_len) > len || t.hdr_len <= off {
            return None;
        }
        let gso = if t.ipv6 { GSO_TCPV6 } else { GSO_TCPV4 };
        lo |= u64::from(gso) << 8 | u64::from(t.hdr_len) << 16 | u64::from(t.mss) << 32;
    }
    Some((lo, u32::from(off - start)))
}
