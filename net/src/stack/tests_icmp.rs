//! The per-core ICMP rate limit: floods that make smoltcp answer with ICMP (UDP to a closed
//! port, echo requests) get at most the budgeted answers; the rest are dropped and counted.

extern crate std;

use std::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr, UdpPacket, UdpRepr,
};

use super::*;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP, OUR_MAC, PEER_IP, cores_with};

/// An ARP frame from `sender` (MAC, IP) about `target_ip`.
pub(super) fn arp(op: ArpOperation, mac: [u8; 6], ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: op,
        source_hardware_addr: EthernetAddress(mac),
        source_protocol_addr: Ipv4Address::from(ip),
        target_hardware_addr: match op {
            ArpOperation::Reply => EthernetAddress(OUR_MAC),
            _ => EthernetAddress([0; 6]),
        },
        target_protocol_addr: Ipv4Address::from(target_ip),
    };
    let mut out = std::vec![0u8; 14 + repr.buffer_len()];
    let mut f = EthernetFrame::new_unchecked(&mut out[..]);
    EthernetRepr {
        src_addr: EthernetAddress(mac),
        dst_addr: match op {
            ArpOperation::Reply => EthernetAddress(OUR_MAC),
            _ => EthernetAddress::BROADCAST,
        },
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut f);
    repr.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
    out
}

/// An IPv4 frame from the peer to us carrying `payload` of protocol `proto`.
fn ipv4_to_us(proto: IpProtocol, payload_len: usize, emit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: Ipv4Address::from(PEER_IP),
        dst_addr: Ipv4Address::from(OUR_IP),
        next_header: proto,
        payload_len,
        hop_limit: 64,
    };
    let mut out = std::vec![0u8; 14 + 20 + payload_len];
    let mut f = EthernetFrame::new_unchecked(&mut out[..]);
    EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress(OUR_MAC),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut f);
    let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
    ip.emit(&mut p, &ChecksumCapabilities::default());
    emit(p.payload_mut());
    out
}

fn udp_to_us(src_port: u16, dst_port: u16) -> Vec<u8> {
    ipv4_to_us(IpProtocol::Udp, 8 + 4, |buf| {
        UdpRepr { src_port, dst_port }.emit(
            &mut UdpPacket::new_unchecked(buf),
            &IpAddress::Ipv4(Ipv4Address::from(PEER_IP)),
            &IpAddress::Ipv4(Ipv4Address::from(OUR_IP)),
            4,
            |p| p.copy_from_slice(b"ping"),
            &ChecksumCapabilities::default(),
        )
    })
}

fn echo_request(seq: u16) -> Vec<u8> {
    let repr = Icmpv4Repr::EchoRequest {
        ident: 7,
        seq_no: seq,
        data: b"abcd",
    };
    ipv4_to_us(IpProtocol::Icmp, repr.buffer_len(), |buf| {
        repr.emit(
            &mut Icmpv4Packet::new_unchecked(buf),
            &ChecksumCapabilities::default(),
        )
    })
}

/// ICMP type of a sent frame, if it is ICMPv4.
fn icmp_type(frame: &[u8]) -> Option<u8> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    (eth.ethertype() == EthernetProtocol::Ipv4 && ip.next_header() == IpProtocol::Icmp)
        .then(|| ip.payload().first().copied())
        .flatten()
}

/// Floods one core with `n` frames from `make`, 100 per virtual millisecond, and returns the
/// ICMP types sent back (and the core).
fn flood(n: u16, make: impl Fn(u16) -> Vec<u8>) -> (Vec<u8>, crate::testkit::Core) {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut core = cores_with(&nic, &rss, false, |_| {}).remove(0);
    // The peer introduces itself, so replies need no ARP.
    nic.deliver(arp(
        ArpOperation::Request,
        [2, 0, 0, 0, 0, 1],
        PEER_IP,
        OUR_IP,
    ));
    let mut now = 1000;
    core.poll(now);
    while nic.take_sent().is_some() {}
    let mut sent = Vec::new();
    for i in 0..n {
        nic.deliver(make(i));
        if i % 100 == 99 {
            now += 1000;
            core.poll(now);
            core.poll(now);
        }
    }
    for _ in 0..5 {
        core.poll(now);
    }
    while let Some(f) = nic.take_sent() {
        sent.extend(icmp_type(&f));
    }
    (sent, core)
}

#[test]
fn a_udp_flood_at_a_closed_port_gets_at_most_the_budgeted_icmp_errors() {
    // 1000 datagrams over 10 ms: burst 50 + 1000/s * 10 ms = 60 answers at most.
    let (sent, core) = flood(1000, |i| udp_to_us(20_000 + i, 9999));
    let unreachable = sent.iter().filter(|&&t| t == 3).count() as u64;
    assert!(
        (50..=60).contains(&unreachable),
        "{unreachable} port unreachables"
    );
    assert_eq!(core.counters().icmp_rate_limited.get(), 1000 - unreachable);
}

#[test]
fn echo_replies_are_limited_too() {
    let (sent, core) = flood(500, echo_request);
    let replies = sent.iter().filter(|&&t| t == 0).count() as u64;
    assert!((50..=55).contains(&replies), "{replies} echo replies");
    assert_eq!(core.counters().icmp_rate_limited.get(), 500 - replies);
}
