//! Builds the Ethernet/IPv4 frames the stack harness sends, with correct checksums.
//!
//! Frames carry valid checksums so a run behaves the same with and without smoltcp's
//! `cfg(fuzzing)` (which skips checksum verification): a crash found by libFuzzer replays
//! under `cargo test`.

/// The Internet checksum (RFC 1071) of `data`, starting from the partial sum `sum`.
fn csum(mut sum: u32, data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Recomputes the IPv4 header checksum and the TCP, UDP or ICMP checksum of an Ethernet
/// frame wherever its lengths let a receiver find them; leaves anything else alone.
pub fn fix_checksums(frame: &mut [u8]) {
    if frame.get(12..14) == Some(&[0x86, 0xdd]) {
        return fix_ipv6(frame);
    }
    if frame.get(12..14) != Some(&[0x08, 0x00]) {
        return;
    }
    let ip = &mut frame[14..];
    let Some(&v) = ip.first() else { return };
    let ihl = usize::from(v & 0x0f) * 4;
    if v >> 4 != 4 || ihl < 20 || ip.len() < ihl {
        return;
    }
    ip[10..12].fill(0);
    let c = csum(0, &ip[..ihl]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total < ihl || total > ip.len() || u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return;
    }
    let proto = ip[9];
    let (src, dst) = (
        [ip[12], ip[13], ip[14], ip[15]],
        [ip[16], ip[17], ip[18], ip[19]],
    );
    let l4 = &mut ip[ihl..total];
    let at = match proto {
        1 if l4.len() >= 4 => 2,
        6 if l4.len() >= 20 => 16,
        17 if l4.len() >= 8 => 6,
        _ => return,
    };
    l4[at..at + 2].fill(0);
    let c = if proto == 1 {
        csum(0, l4)
    } else {
        let mut pseudo = [0u8; 12];
        pseudo[..4].copy_from_slice(&src);
        pseudo[4..8].copy_from_slice(&dst);
        pseudo[9] = proto;
        pseudo[10..12].copy_from_slice(&(l4.len() as u16).to_be_bytes());
        let partial = u32::from(!csum(0, &pseudo));
        let c = csum(partial, l4);
        if proto == 17 && c == 0 { 0xffff } else { c }
    };
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// IPv6: the TCP, UDP or ICMPv6 checksum right after the fixed header.
fn fix_ipv6(frame: &mut [u8]) {
    let Some(ip) = frame.get_mut(14..) else {
        return;
    };
    if ip.len() < 40 || ip[0] >> 4 != 6 {
        return;
    }
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let next = ip[6];
    let mut pseudo = [0u8; 40];
    pseudo[..32].copy_from_slice(&ip[8..40]);
    pseudo[32..36].copy_from_slice(&(len as u32).to_be_bytes());
    pseudo[39] = next;
    let Some(l4) = ip.get_mut(40..40 + len) else {
        return;
    };
    let at = match next {
        58 if l4.len() >= 4 => 2,
        6 if l4.len() >= 20 => 16,
        17 if l4.len() >= 8 => 6,
        _ => return,
    };
    l4[at..at + 2].fill(0);
    let c = csum(u32::from(!csum(0, &pseudo)), l4);
    let c = if next == 17 && c == 0 { 0xffff } else { c };
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// An Ethernet header.
pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(1514);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 header (no options, DF set) for `payload_len` bytes of protocol `proto`.
pub fn ipv4(f: &mut Vec<u8>, src: [u8; 4], dst: [u8; 4], proto: u8, payload_len: usize) {
    let total = (20 + payload_len).min(usize::from(u16::MAX)) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
}

/// A TCP segment's fields.
#[derive(Debug, Clone, Copy)]
pub struct Tcp {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20).
    pub flags: u8,
    /// Receive window.
    pub window: u16,
}

/// A whole Ethernet/IPv4/TCP frame with `options` (padded to 4 bytes) and `payload`.
pub fn tcp_frame(
    macs: ([u8; 6], [u8; 6]),
    ips: ([u8; 4], [u8; 4]),
    t: Tcp,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let opt_len = options.len().min(40).next_multiple_of(4);
    let mut f = eth(macs.0, macs.1, 0x0800);
    ipv4(&mut f, ips.0, ips.1, 6, 20 + opt_len + payload.len());
    f.extend_from_slice(&t.sport.to_be_bytes());
    f.extend_from_slice(&t.dport.to_be_bytes());
    f.extend_from_slice(&t.seq.to_be_bytes());
    f.extend_from_slice(&t.ack.to_be_bytes());
    f.push((((20 + opt_len) / 4) << 4) as u8);
    f.push(t.flags);
    f.extend_from_slice(&t.window.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    let start = f.len();
    f.extend_from_slice(&options[..options.len().min(40)]);
    f.resize(start + opt_len, 0);
    f.extend_from_slice(payload);
    fix_checksums(&mut f);
    f
}

/// A whole Ethernet/IPv4/UDP frame.
pub fn udp_frame(
    macs: ([u8; 6], [u8; 6]),
    ips: ([u8; 4], [u8; 4]),
    ports: (u16, u16),
    payload: &[u8],
) -> Vec<u8> {
    let mut f = eth(macs.0, macs.1, 0x0800);
    ipv4(&mut f, ips.0, ips.1, 17, 8 + payload.len());
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    fix_checksums(&mut f);
    f
}

/// An ARP frame (Ethernet/IPv4): `op` 1 request, 2 reply.
pub fn arp_frame(
    dst: [u8; 6],
    op: u16,
    sender: ([u8; 6], [u8; 4]),
    target: ([u8; 6], [u8; 4]),
) -> Vec<u8> {
    let mut f = eth(dst, sender.0, 0x0806);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sender.0);
    f.extend_from_slice(&sender.1);
    f.extend_from_slice(&target.0);
    f.extend_from_slice(&target.1);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_verify() {
        let f = tcp_frame(
            ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]),
            ([10, 0, 0, 1], [10, 0, 0, 2]),
            Tcp {
                sport: 1000,
                dport: 80,
                seq: 1,
                ack: 0,
                flags: 2,
                window: 1000,
            },
            &[2, 4, 5, 0xb4],
            b"hello",
        );
        // A header with its checksum in place sums to zero.
        assert_eq!(csum(0, &f[14..34]), 0);
        let mut g = f.clone();
        fix_checksums(&mut g);
        assert_eq!(f, g, "idempotent");
    }
}
