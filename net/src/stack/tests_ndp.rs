//! Hostile NDP (feature `ipv6`): solicitations for others and unsolicited advertisements
//! from strangers are dropped uncopied, and a flood of strangers soliciting our address
//! cannot evict the IPv6 router.

extern crate std;

use std::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, Icmpv6Packet, Icmpv6Repr,
    IpProtocol, Ipv6Address, Ipv6Packet, Ipv6Repr, NdiscNeighborFlags, NdiscRepr,
    RawHardwareAddress,
};

use super::*;
use crate::IpAddr;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP6, cores_with, our_ipv6};

const ROUTER6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const ROUTER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0e];

fn stranger(i: u16) -> ([u8; 6], [u8; 16]) {
    let [hi, lo] = i.to_be_bytes();
    let mut a = OUR_IP6;
    a[13] = 0x10;
    a[14] = hi;
    a[15] = lo;
    ([2, 0xee, 0, 6, hi, lo], a)
}

/// An NDP frame from (`mac`, `src`) to `dst`.
fn ndp(mac: [u8; 6], src: [u8; 16], dst: [u8; 16], repr: NdiscRepr) -> Vec<u8> {
    let (s, d) = (Ipv6Address::from(src), Ipv6Address::from(dst));
    let icmp = Icmpv6Repr::Ndisc(repr);
    let ip = Ipv6Repr {
        src_addr: s,
        dst_addr: d,
        next_header: IpProtocol::Icmpv6,
        payload_len: icmp.buffer_len(),
        hop_limit: 255,
    };
    let mut out = std::vec![0u8; 14 + 40 + icmp.buffer_len()];
    let mut f = EthernetFrame::new_unchecked(&mut out[..]);
    let dst_mac = if dst[0] == 0xff {
        [0x33, 0x33, dst[12], dst[13], dst[14], dst[15]]
    } else {
        [2, 0, 0, 0, 0, 2]
    };
    EthernetRepr {
        src_addr: EthernetAddress(mac),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: EthernetProtocol::Ipv6,
    }
    .emit(&mut f);
    let mut p = Ipv6Packet::new_unchecked(f.payload_mut());
    ip.emit(&mut p);
    icmp.emit(
        &s,
        &d,
        &mut Icmpv6Packet::new_unchecked(p.payload_mut()),
        &ChecksumCapabilities::default(),
    );
    out
}

fn advert(mac: [u8; 6], src: [u8; 16], dst: [u8; 16], flags: NdiscNeighborFlags) -> Vec<u8> {
    let repr = NdiscRepr::NeighborAdvert {
        flags,
        target_addr: Ipv6Address::from(src),
        lladdr: Some(RawHardwareAddress::from_bytes(&mac)),
    };
    ndp(mac, src, dst, repr)
}

fn solicit(mac: [u8; 6], src: [u8; 16], target: [u8; 16]) -> Vec<u8> {
    let t = Ipv6Address::from(target);
    let repr = NdiscRepr::NeighborSolicit {
        target_addr: t,
        lladdr: Some(RawHardwareAddress::from_bytes(&mac)),
    };
    // The solicited-node multicast address ff02::1:ffXX:XXXX (RFC 4291 2.7.1).
    let mut dst = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    dst[13..].copy_from_slice(&target[13..]);
    ndp(mac, src, dst, repr)
}

#[test]
fn ndp_from_strangers_is_filtered_and_the_ipv6_router_stays() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.ipv6 = Some(our_ipv6(Some(ROUTER6)));
    });
    // The router answers a solicitation of ours; the core that receives it shares it.
    let answer = NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::ROUTER;
    nic.deliver(advert(ROUTER_MAC, ROUTER6, OUR_IP6, answer));
    let mut now = 1000;
    for c in cores.iter_mut() {
        c.poll(now);
    }
    let all_nodes = Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets();
    let mut other = OUR_IP6;
    other[15] = 0x99;
    // Ignored: unsolicited advertisements from strangers, solicitations for someone else.
    // Then kept (and cached): solicitations for our address. (Once a stranger is cached, its
    // advertisements are updates and pass: hence this order.)
    for kept in [false, true] {
        for i in 0..200u16 {
            let (mac, ip) = stranger(i);
            if kept {
                nic.deliver(solicit(mac, ip, OUR_IP6));
            } else {
                nic.deliver(advert(mac, ip, all_nodes, NdiscNeighborFlags::OVERRIDE));
                nic.deliver(solicit(mac, ip, other));
            }
            if i % 16 == 15 {
                now += 1000;
                for c in cores.iter_mut() {
                    c.poll(now);
                }
            }
        }
    }
    for _ in 0..5 {
        now += 1000;
        for c in cores.iter_mut() {
            c.poll(now);
        }
    }
    let ignored: u64 = cores
        .iter()
        .map(|c| c.counters().neighbor_ignored.get())
        .sum();
    assert_eq!(ignored, 400);
    while nic.take_sent().is_some() {}
    // Off-link traffic from every core goes to the router's MAC, with no solicitation.
    let far = Ipv6Address::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets();
    for c in cores.iter_mut() {
        let u = c.udp_bind(4000).unwrap();
        c.udp_send_to(u, b"x", (IpAddr::V6(far), 53)).unwrap();
        c.poll(now);
    }
    let sent: Vec<Vec<u8>> = core::iter::from_fn(|| nic.take_sent()).collect();
    let to_router = sent
        .iter()
        .filter(|f| f[..6] == ROUTER_MAC && f.get(20) == Some(&17))
        .count();
    let solicitations = sent
        .iter()
        .filter(|f| f.get(20) == Some(&58) && f.get(54) == Some(&135))
        .count();
    assert_eq!((to_router, solicitations), (2, 0));
}
