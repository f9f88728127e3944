//! The pseudo-header sum, checked by completing it as a device does and verifying the result
//! with smoltcp's own checksum code.

use super::*;
#[cfg(feature = "ipv6")]
use smoltcp::wire::Ipv6Address;
use smoltcp::wire::{IpAddress, Ipv4Address, TcpPacket};

extern crate std;
use std::vec::Vec;

/// An Ethernet/IPv4/TCP frame with `payload` octets (checksum field zero, as smoltcp leaves
/// it with offload on), and two octets of Ethernet padding after it.
fn v4_frame(payload: usize) -> Vec<u8> {
    let tcp_len = 20 + payload;
    let mut f = alloc::vec![0u8; 14 + 20 + tcp_len + 2];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&[10, 0, 0, 2]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 1]);
    fill_tcp(&mut f[34..34 + tcp_len]);
    f
}

#[cfg(feature = "ipv6")]
fn v6_frame(payload: usize) -> Vec<u8> {
    let tcp_len = 20 + payload;
    let mut f = alloc::vec![0u8; 14 + 40 + tcp_len];
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    let ip = &mut f[14..54];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
    ip[6] = 6;
    ip[7] = 64;
    ip[8..24].copy_from_slice(&V6_SRC.octets());
    ip[24..40].copy_from_slice(&V6_DST.octets());
    fill_tcp(&mut f[54..54 + tcp_len]);
    f
}

#[cfg(feature = "ipv6")]
const V6_SRC: Ipv6Address = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
#[cfg(feature = "ipv6")]
const V6_DST: Ipv6Address = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0xab, 1);

fn fill_tcp(t: &mut [u8]) {
    t[0..2].copy_from_slice(&80u16.to_be_bytes());
    t[2..4].copy_from_slice(&40000u16.to_be_bytes());
    t[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x18;
    t[14..16].copy_from_slice(&8192u16.to_be_bytes());
    for (i, b) in t[20..].iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
}

/// What the device does (virtio 5.1.6.2): sums from `start` to the end of the packet (the
/// IP length, not the padding), complements, stores at `off`.
fn device_completes(f: &mut [u8], start: u16, off: u16, end: usize) {
    let (start, off) = (usize::from(start), usize::from(off));
    let mut s: u32 = 0;
    for w in f[start..end].chunks(2) {
        s += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    let c = !fold(s);
    f[off..off + 2].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn an_ipv4_segment_completed_by_the_device_verifies() {
    // Odd and even payload lengths, and an empty segment (a pure ACK).
    for payload in [0, 1, 1460, 1459] {
        let mut f = v4_frame(payload);
        let req = tcp_offload(&mut f, None).expect("a TCP frame");
        assert_eq!(req.l4_csum, Some((34, 50)));
        assert_ne!(&f[50..52], &[0, 0], "pseudo-header sum written");
        device_completes(&mut f, 34, 50, 34 + 20 + payload);
        let tcp = TcpPacket::new_checked(&f[34..34 + 20 + payload]).unwrap();
        assert!(tcp.verify_checksum(
            &IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)),
            &IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1)),
        ));
    }
}

#[cfg(feature = "ipv6")]
#[test]
fn an_ipv6_segment_completed_by_the_device_verifies() {
    for payload in [0, 1, 1440] {
        let mut f = v6_frame(payload);
        let req = tcp_offload(&mut f, None).expect("a TCP frame");
        assert_eq!(req.l4_csum, Some((54, 70)));
        let end = f.len();
        device_completes(&mut f, 54, 70, end);
        let tcp = TcpPacket::new_checked(&f[54..]).unwrap();
        assert!(tcp.verify_checksum(&IpAddress::Ipv6(V6_SRC), &IpAddress::Ipv6(V6_DST)));
    }
}

#[test]
fn a_wrong_sum_does_not_verify() {
    // The check above can fail: one bit off in the pseudo-header sum is caught.
    let mut f = v4_frame(100);
    tcp_offload(&mut f, None).unwrap();
    f[51] ^= 1;
    device_completes(&mut f, 34, 50, 34 + 120);
    let tcp = TcpPacket::new_checked(&f[34..34 + 120]).unwrap();
    assert!(!tcp.verify_checksum(
        &IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)),
        &IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1)),
    ));
}

#[test]
fn other_and_malformed_frames_get_no_request() {
    let mut udp = v4_frame(10);
    udp[14 + 9] = 17;
    let mut arp = v4_frame(0);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let mut short = v4_frame(0);
    short.truncate(40);
    let mut long_ip = v4_frame(0);
    long_ip[16..18].copy_from_slice(&2000u16.to_be_bytes());
    let mut bad_ihl = v4_frame(0);
    bad_ihl[14] = 0x44;
    #[allow(unused_mut)]
    let mut frames = alloc::vec![udp, arp, short, long_ip, bad_ihl];
    #[cfg(feature = "ipv6")]
    {
        let mut v6_ext = v6_frame(0);
        v6_ext[14 + 6] = 0; // hop-by-hop options first
        frames.push(v6_ext);
    }
    for mut f in frames {
        let before = f.clone();
        assert_eq!(tcp_offload(&mut f, None), None);
        assert_eq!(f, before, "left untouched");
    }
}
