//! Hostile ARP: strangers cannot evict the gateway from the neighbor cache, and ARP that is
//! not for us is dropped on the core that received it instead of being copied to every core.

extern crate std;

use std::vec::Vec;

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet,
};

use super::tests_icmp::arp;
use super::*;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP, cores_with};

const GW_IP: [u8; 4] = [10, 0, 0, 1];
const GW_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

/// A stranger's (MAC, IP) on our /16, never the gateway or us.
fn stranger(i: u16) -> ([u8; 6], [u8; 4]) {
    let [hi, lo] = (i + 256).to_be_bytes();
    ([2, 0xee, 0, 0, hi, lo], [10, 0, hi, lo])
}

/// (UDP frames to the gateway's MAC, ARP requests for the gateway) among `frames`.
fn to_gateway(frames: &[Vec<u8>]) -> (usize, usize) {
    let mut udp = 0;
    let mut arp_for_gw = 0;
    for f in frames {
        let Ok(eth) = EthernetFrame::new_checked(&f[..]) else {
            continue;
        };
        match eth.ethertype() {
            EthernetProtocol::Ipv4 => {
                let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
                if ip.next_header() == IpProtocol::Udp && eth.dst_addr().0 == GW_MAC {
                    udp += 1;
                }
            }
            EthernetProtocol::Arp => {
                let p = ArpPacket::new_checked(eth.payload()).unwrap();
                if let Ok(ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    target_protocol_addr,
                    ..
                }) = ArpRepr::parse(&p)
                    && target_protocol_addr.octets() == GW_IP
                {
                    arp_for_gw += 1;
                }
            }
            _ => {}
        }
    }
    (udp, arp_for_gw)
}

#[test]
fn a_flood_of_spoofed_arp_cannot_evict_the_gateway() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.prefix_len = 16;
        c.gateway = Some(GW_IP);
    });
    // The gateway answers (as to our first ARP request); every core learns it.
    nic.deliver(arp(ArpOperation::Reply, GW_MAC, GW_IP, OUR_IP));
    let mut now = 1000;
    for c in cores.iter_mut() {
        c.poll(now);
    }
    // 400 strangers, later than the gateway, each claiming an address: replies and requests.
    for i in 0..400u16 {
        let (mac, ip) = stranger(i);
        let op = if i % 2 == 0 {
            ArpOperation::Reply
        } else {
            ArpOperation::Request
        };
        nic.deliver(arp(op, mac, ip, OUR_IP));
        if i % 32 == 31 {
            now += 1000;
            for c in cores.iter_mut() {
                c.poll(now);
            }
        }
    }
    for _ in 0..5 {
        now += 1000;
        for c in cores.iter_mut() {
            c.poll(now);
        }
    }
    while nic.take_sent().is_some() {}
    // Off-link traffic from every core goes straight to the gateway's real MAC.
    for c in cores.iter_mut() {
        let u = c.udp_bind(4000).unwrap();
        c.udp_send_to(u, b"x", ([192, 0, 2, 1], 53)).unwrap();
        c.poll(now);
    }
    let sent: Vec<Vec<u8>> = core::iter::from_fn(|| nic.take_sent()).collect();
    assert_eq!(to_gateway(&sent), (2, 0), "one datagram per core, no ARP");
    assert_eq!(cores[0].counters().neighbor_ignored.get(), 0);
}

#[test]
fn arp_not_for_us_is_neither_processed_nor_copied() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    let mut ignored = 0;
    for i in 0..100u16 {
        let (mac, _) = stranger(i);
        let ip = [10, 0, 0, 10 + (i % 200) as u8];
        // Requests for another host, replies to another host, gratuitous ARP.
        nic.deliver(arp(ArpOperation::Request, mac, ip, [10, 0, 0, 99]));
        nic.deliver(arp(ArpOperation::Reply, mac, ip, [10, 0, 0, 98]));
        nic.deliver(arp(ArpOperation::Request, mac, ip, ip));
        // For us, but from off the subnet or from a broadcast address: smoltcp ignores it.
        nic.deliver(arp(ArpOperation::Reply, mac, [192, 0, 2, 7], OUR_IP));
        nic.deliver(arp(ArpOperation::Request, mac, [10, 0, 0, 255], OUR_IP));
        ignored += 5;
    }
    // Runts and other hardware types.
    let mut bad = arp(ArpOperation::Request, GW_MAC, GW_IP, OUR_IP);
    bad[15] = 6;
    nic.deliver(bad);
    nic.deliver(arp(ArpOperation::Request, GW_MAC, GW_IP, OUR_IP)[..30].to_vec());
    ignored += 2;
    let mut now = 0;
    for _ in 0..20 {
        now += 1000;
        for c in cores.iter_mut() {
            c.poll(now);
        }
    }
    assert_eq!(cores[0].counters().neighbor_ignored.get(), ignored);
    assert_eq!(cores[1].counters().frames_from_peers.get(), 0);
    assert_eq!(cores[0].counters().drop_mesh_full.get(), 0);
    while nic.take_sent().is_some() {}
    // One for us is answered and shared.
    nic.deliver(arp(ArpOperation::Request, GW_MAC, GW_IP, OUR_IP));
    now += 1000;
    for c in cores.iter_mut() {
        c.poll(now);
    }
    assert_eq!(cores[1].counters().frames_from_peers.get(), 1);
    let replies = core::iter::from_fn(|| nic.take_sent())
        .filter(|f| f.get(12..14) == Some(&[0x08, 0x06]))
        .count();
    assert_eq!(replies, 1);
}
