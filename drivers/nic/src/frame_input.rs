//! Which RSS hash input a received frame gives: the one frame parser for software steering.
//!
//! Behind every "which queue would the NIC pick for this frame": virtio's software steering,
//! net's software queues and its simulated NIC. The 82599 device model keeps an independent
//! one on purpose, so that the driver is checked against a second reading of the datasheet.
//!
//! The frame is untrusted: every read is bounds-checked, nothing panics, and a frame too short
//! for the header it claims gets no hash (it goes to queue 0, as a NIC sends what it cannot
//! classify).

use crate::steering::{ipv4_input, ipv4_l4_input, ipv6_input, ipv6_l4_input};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// The bytes an RSS NIC hashes for one frame, in Microsoft's RSS input layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashInput {
    /// IPv4 source and destination addresses (not TCP/UDP, a fragment, or no room for ports).
    Ipv4([u8; 8]),
    /// IPv4 TCP/UDP: addresses, then source and destination ports.
    Ipv4L4([u8; 12]),
    /// IPv6 source and destination addresses.
    Ipv6([u8; 32]),
    /// IPv6 TCP/UDP right after the fixed header: addresses, then ports.
    Ipv6L4([u8; 36]),
}

impl HashInput {
    /// The bytes to hash.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Ipv4(b) => b,
            Self::Ipv4L4(b) => b,
            Self::Ipv6(b) => b,
            Self::Ipv6L4(b) => b,
        }
    }
}

/// The hash input of `frame` (an Ethernet frame, one 802.1Q tag looked through), or `None`
/// for frames RSS does not hash: not IPv4/IPv6, or the fixed IP header is missing or has the
/// wrong version.
///
/// IPv4: TCP or UDP, not fragmented, with an IHL of 20 bytes or more and the ports present,
/// by the 4-tuple; anything else by the addresses. IPv6: TCP or UDP directly after the fixed
/// header, ports present, by the 4-tuple; anything else (extension headers included) by the
/// addresses.
#[inline]
pub fn frame_input(frame: &[u8]) -> Option<HashInput> {
    let mut ethertype = be16(frame, 12)?;
    let mut l3 = 14;
    if ethertype == ETHERTYPE_VLAN {
        ethertype = be16(frame, 16)?;
        l3 = 18;
    }
    let ip = frame.get(l3..)?;
    match ethertype {
        ETHERTYPE_IPV4 => ipv4(ip),
        ETHERTYPE_IPV6 => ipv6(ip),
        _ => None,
    }
}

#[inline]
fn ipv4(ip: &[u8]) -> Option<HashInput> {
    let h = ip.get(..20).filter(|h| h[0] >> 4 == 4)?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let src = [h[12], h[13], h[14], h[15]];
    let dst = [h[16], h[17], h[18], h[19]];
    // More-fragments flag or a fragment offset: only the first fragment has ports, so a NIC
    // hashes every fragment by the addresses to keep them together.
    let fragment = u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0;
    let l4 = matches!(h[9], IPPROTO_TCP | IPPROTO_UDP) && !fragment && ihl >= 20;
    Some(match ip.get(ihl..ihl + 4) {
        Some(p) if l4 => HashInput::Ipv4L4(ipv4_l4_input(
            src,
            dst,
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        )),
        _ => HashInput::Ipv4(ipv4_input(src, dst)),
    })
}

#[inline]
fn ipv6(ip: &[u8]) -> Option<HashInput> {
    let h = ip.get(..40).filter(|h| h[0] >> 4 == 6)?;
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    dst.copy_from_slice(&h[24..40]);
    Some(match ip.get(40..44) {
        Some(p) if matches!(h[6], IPPROTO_TCP | IPPROTO_UDP) => HashInput::Ipv6L4(ipv6_l4_input(
            src,
            dst,
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        )),
        _ => HashInput::Ipv6(ipv6_input(src, dst)),
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet (optionally tagged) + IPv4 with `ihl` words, `proto`, `frag` field, then `l4`.
    fn v4(vlan: bool, ihl: u8, proto: u8, frag: u16, l4: &[u8]) -> ([u8; 128], usize) {
        let mut f = [0u8; 128];
        let mut at = 12;
        if vlan {
            f[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
            at = 16;
        }
        f[at..at + 2].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let ip = at + 2;
        f[ip] = 0x40 | ihl;
        f[ip + 6..ip + 8].copy_from_slice(&frag.to_be_bytes());
        f[ip + 9] = proto;
        f[ip + 12..ip + 16].copy_from_slice(&[10, 0, 0, 1]);
        f[ip + 16..ip + 20].copy_from_slice(&[10, 0, 0, 2]);
        let l4_at = ip + usize::from(ihl) * 4;
        f[l4_at..l4_at + l4.len()].copy_from_slice(l4);
        (f, l4_at + l4.len())
    }

    const PORTS: [u8; 4] = [0x1f, 0x90, 0x00, 0x50]; // 8080 -> 80

    #[test]
    fn ipv4_tcp_udp_by_the_four_tuple_tagged_or_not() {
        let want = HashInput::Ipv4L4(ipv4_l4_input([10, 0, 0, 1], [10, 0, 0, 2], 8080, 80));
        for vlan in [false, true] {
            for proto in [IPPROTO_TCP, IPPROTO_UDP] {
                let (f, n) = v4(vlan, 5, proto, 0, &PORTS);
                assert_eq!(frame_input(&f[..n]), Some(want));
            }
        }
        // Options: the ports follow the longer header.
        let (f, n) = v4(false, 6, IPPROTO_TCP, 0, &PORTS);
        assert_eq!(frame_input(&f[..n]), Some(want));
    }

    #[test]
    fn ipv4_by_the_addresses_when_ports_cannot_be_used() {
        let addrs = Some(HashInput::Ipv4(ipv4_input([10, 0, 0, 1], [10, 0, 0, 2])));
        let (f, n) = v4(false, 5, 1, 0, &PORTS); // ICMP
        assert_eq!(frame_input(&f[..n]), addrs);
        let (f, n) = v4(false, 5, IPPROTO_TCP, 0x2000, &PORTS); // more fragments
        assert_eq!(frame_input(&f[..n]), addrs);
        let (f, n) = v4(false, 5, IPPROTO_TCP, 0x0001, &PORTS); // offset
        assert_eq!(frame_input(&f[..n]), addrs);
        let (f, n) = v4(false, 5, IPPROTO_TCP, 0, &PORTS[..3]); // ports cut short
        assert_eq!(frame_input(&f[..n]), addrs);
        let (f, _) = v4(false, 4, IPPROTO_TCP, 0, &[]); // IHL under 20 bytes
        assert_eq!(frame_input(&f), addrs);
    }

    #[test]
    fn no_hash_for_what_rss_does_not_classify() {
        let (f, n) = v4(false, 5, IPPROTO_TCP, 0, &PORTS);
        assert_eq!(frame_input(&f[..14 + 19]), None, "IPv4 header cut short");
        let mut bad = f;
        bad[14] = 0x65; // version 6 in an IPv4 ethertype
        assert_eq!(frame_input(&bad[..n]), None);
        let mut arp = f;
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(frame_input(&arp[..n]), None);
        for len in 0..14 {
            assert_eq!(frame_input(&f[..len]), None);
        }
    }

    #[test]
    fn ipv6_by_the_four_tuple_or_the_addresses() {
        let mut f = [0u8; 14 + 40 + 4];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f[14] = 0x60;
        f[14 + 6] = IPPROTO_UDP;
        f[14 + 8 + 15] = 1;
        f[14 + 24 + 15] = 2;
        f[54..58].copy_from_slice(&PORTS);
        let (mut src, mut dst) = ([0u8; 16], [0u8; 16]);
        src[15] = 1;
        dst[15] = 2;
        let l4 = Some(HashInput::Ipv6L4(ipv6_l4_input(src, dst, 8080, 80)));
        assert_eq!(frame_input(&f), l4);
        assert_eq!(
            frame_input(&f[..56]),
            Some(HashInput::Ipv6(ipv6_input(src, dst)))
        );
        f[14 + 6] = 0; // hop-by-hop options first: addresses only
        assert_eq!(frame_input(&f), Some(HashInput::Ipv6(ipv6_input(src, dst))));
        assert_eq!(frame_input(&f[..14 + 39]), None, "fixed header cut short");
        assert_eq!(frame_input(&f).map(|i| i.bytes().len()), Some(32));
    }
}
