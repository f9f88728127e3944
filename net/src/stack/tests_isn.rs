//! RFC 6528 initial sequence numbers seen on the wire, for passive and active opens.

extern crate std;

use std::vec::Vec;

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    Ipv4Address, TcpControl,
};

use super::synwire::{self, Segment};
use super::tests_synflood::{segment, syn_repr};
use super::*;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP, PEER_IP, cores_with};

/// The seed `cores_with` gives core 0.
const SEED0: u64 = 1000;

/// Makes the core learn the peer's MAC (an ARP request from it), as a real peer would.
fn teach_peer_mac(nic: &SimNic, core: &mut Core, now: u64) {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        source_protocol_addr: Ipv4Address::from(PEER_IP),
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: Ipv4Address::from(OUR_IP),
    };
    let mut f = std::vec![0u8; 14 + arp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    eth.set_dst_addr(EthernetAddress::BROADCAST);
    eth.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 1]));
    eth.set_ethertype(EthernetProtocol::Arp);
    arp.emit(&mut ArpPacket::new_unchecked(&mut f[14..]));
    nic.deliver(f);
    core.poll(now);
    while nic.take_sent().is_some() {}
}

fn sent_segments(nic: &SimNic) -> Vec<Segment> {
    core::iter::from_fn(|| nic.take_sent())
        .filter_map(|f| synwire::parse(&f, |a| a == crate::ip::IpAddr::V4(PEER_IP)))
        .collect()
}

#[test]
fn isns_are_rfc6528_on_the_wire() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    let core = &mut cores[0];
    core.listen(80).unwrap();
    let key = keys::Keys::derive(SEED0).isn;
    let mut now = 1_000_000;
    teach_peer_mac(&nic, core, now);
    let tuple = |rport, lport| Tuple {
        remote: crate::ip::mapped(PEER_IP),
        remote_port: rport,
        local_port: lport,
    };
    // Passive opens: the SYN-ACK's ISN is M + F(tuple) at the time of the SYN.
    let mut isns = Vec::new();
    let mut times = Vec::new();
    for (i, rport) in [3000u16, 3001, 3000].into_iter().enumerate() {
        if i == 2 {
            // The first connection is gone (RST from the peer); its tuple comes back later.
            let mut rst = syn_repr(3000, 80, 101);
            rst.control = TcpControl::Rst;
            nic.deliver(segment([2, 0, 0, 0, 0, 1], PEER_IP, &rst));
            now += 500_000;
            core.poll(now);
        }
        nic.deliver(segment(
            [2, 0, 0, 0, 0, 1],
            PEER_IP,
            &syn_repr(rport, 80, 100),
        ));
        now += 1000;
        core.poll(now);
        let segs = sent_segments(&nic);
        let sa = segs
            .iter()
            .find(|s| s.syn && s.ack.is_some())
            .expect("SYN-ACK");
        assert_eq!(
            sa.seq,
            keys::isn(&key, &tuple(rport, 80), now),
            "port {rport}"
        );
        isns.push(sa.seq);
        times.push(now);
    }
    // Same tuple half a second later: the clock moved it forward, one per 4 µs.
    assert_eq!(
        isns[2].wrapping_sub(isns[0]) as u64,
        (times[2] - times[0]) / 4
    );
    // Active open: the SYN's ISN too.
    let conn = core.connect((PEER_IP, 7)).unwrap();
    let lport = core.local_port(conn).unwrap();
    let at = now;
    now += 1000;
    core.poll(now);
    let segs = sent_segments(&nic);
    let syn = segs.iter().find(|s| s.syn && s.ack.is_none()).expect("SYN");
    assert_eq!(syn.seq, keys::isn(&key, &tuple(7, lport), at));
    // Another seed: other ISNs for the same tuple at the same time.
    let other = keys::isn(&keys::Keys::derive(SEED0 + 1).isn, &tuple(3000, 80), now);
    assert_ne!(other, keys::isn(&key, &tuple(3000, 80), now));
}
