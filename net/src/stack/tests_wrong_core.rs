//! The wrong-core counter: replies to computed ports stay home (0), and it rises as soon as
//! the NIC steers differently from the table the ports were computed with.

extern crate std;

use std::vec::Vec;

use super::tests_rss::{ROUTER_IP, router_answer};
use super::*;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP, run_answering};

/// `n` active opens per core to remotes behind the router, run until the handshakes settle;
/// returns how many reached ESTABLISHED.
fn open_and_run(cores: &mut [Core], nic: &SimNic, n: usize) -> usize {
    let mut conns = Vec::new();
    for i in 0..n {
        for (q, core) in cores.iter_mut().enumerate() {
            let remote = ([11, 1, (i >> 8) as u8, i as u8], 9000 + q as u16);
            conns.push((q, core.connect(remote).unwrap()));
        }
    }
    let mut now = 0;
    run_answering(cores, nic, &mut now, 100, router_answer);
    conns
        .iter()
        .filter(|&&(q, c)| cores[q].state(c) == Some(ConnState::Established))
        .count()
}

fn wrong_core(cores: &[Core]) -> Vec<u64> {
    cores
        .iter()
        .map(|c| c.counters().snapshot().wrong_core)
        .collect()
}

#[test]
fn replies_to_computed_ports_all_come_home() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 14);
    let mut cores = crate::testkit::cores_with(&nic, &rss, true, |c| c.gateway = Some(ROUTER_IP));
    assert_eq!(open_and_run(&mut cores, &nic, 300), 1200);
    assert_eq!(wrong_core(&cores), [0, 0, 0, 0]);
}

#[test]
fn a_nic_steering_elsewhere_is_counted_and_forwarded_to_the_owner() {
    // The stacks compute ports with `rss`; the NIC was programmed with the queues swapped
    // (as a NIC steering by its own policy would): every reply lands on the other core, which
    // counts it and hands it to the core that opened the connection, so all of them open.
    let rss = RssConfig::new(2).unwrap();
    let mut swapped = rss.clone();
    for q in swapped.table.iter_mut() {
        *q = 1 - *q;
    }
    let nic = SimNic::new(swapped, 1 << 12);
    let mut cores = crate::testkit::cores_with(&nic, &rss, true, |c| c.gateway = Some(ROUTER_IP));
    let opened = open_and_run(&mut cores, &nic, 20);
    assert_eq!(opened, 40);
    let w = wrong_core(&cores);
    // Each SYN-ACK arrives on the core that did not open it.
    assert!(w.iter().all(|&n| n >= 20), "{w:?}");
    let fwd: Vec<u64> = cores
        .iter()
        .map(|c| c.counters().snapshot().forwarded_to_owner)
        .collect();
    assert_eq!(
        fwd, w,
        "every wrong-core arrival for the other core's port is forwarded"
    );
}

#[test]
fn a_segment_for_a_port_another_core_would_use_is_counted() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 1024);
    let mut cores = crate::testkit::cores_with(&nic, &rss, true, |c| c.gateway = Some(ROUTER_IP));
    // A port steering to queue 1 for this remote, which core 1 never opened: its segment
    // reaches core 1 (the NIC agrees with the table), but no connection there holds it.
    let remote = ([11, 2, 3, 4], 443);
    let solver = crate::rss_ports::PortSolver::new(&rss);
    let (lo, hi) = crate::ports::DEFAULT_RANGE;
    let port = solver
        .candidates(OUR_IP, remote, 1, 0)
        .find(|p| (lo..=hi).contains(p))
        .unwrap();
    let mut syn = router_syn_ack_for(remote, port);
    nic.deliver(core::mem::take(&mut syn));
    cores[0].poll(1000);
    cores[1].poll(1000);
    assert_eq!(wrong_core(&cores), [0, 1]);
    // A bare SYN to such a port opens a connection (refused here): not a reply either.
    nic.deliver(syn_to(remote, port));
    cores[0].poll(1500);
    cores[1].poll(1500);
    assert_eq!(
        cores[1].counters().refused.get(),
        1,
        "the SYN reached core 1"
    );
    assert_eq!(wrong_core(&cores), [0, 1]);
    // A port outside the ephemeral range (a server port) is not an active open's reply.
    nic.deliver(router_syn_ack_for(remote, 80));
    cores[0].poll(2000);
    cores[1].poll(2000);
    assert_eq!(wrong_core(&cores).iter().sum::<u64>(), 1);
}

/// A SYN-ACK from `remote` to `OUR_IP:port`, built by asking the router to answer a SYN.
fn router_syn_ack_for(remote: ([u8; 4], u16), port: u16) -> Vec<u8> {
    router_answer(&our_syn(remote, port)).unwrap()
}

/// A bare SYN from `remote` to `OUR_IP:port` (the router's reply to our SYN, mirrored).
fn syn_to(remote: ([u8; 4], u16), port: u16) -> Vec<u8> {
    let mut f = our_syn(remote, port);
    // Swap MACs, addresses and ports: the checksum is invariant under these swaps.
    let (a, b) = (f[0..6].to_vec(), f[6..12].to_vec());
    f[0..6].copy_from_slice(&b);
    f[6..12].copy_from_slice(&a);
    let (a, b) = (f[26..30].to_vec(), f[30..34].to_vec());
    f[26..30].copy_from_slice(&b);
    f[30..34].copy_from_slice(&a);
    let (a, b) = (f[34..36].to_vec(), f[36..38].to_vec());
    f[34..36].copy_from_slice(&b);
    f[36..38].copy_from_slice(&a);
    f
}

/// A SYN from `OUR_IP:port` to `remote`, as our stack would send it.
fn our_syn(remote: ([u8; 4], u16), port: u16) -> Vec<u8> {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
        Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    };
    let caps = ChecksumCapabilities::default();
    let tcp = TcpRepr {
        src_port: port,
        dst_port: remote.1,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(1),
        ack_number: None,
        window_len: 1024,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    let [a, b, c, d] = OUR_IP;
    let [e, f, g, h] = remote.0;
    let (src, dst) = (Ipv4Address::new(a, b, c, d), Ipv4Address::new(e, f, g, h));
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let mut out = std::vec![0u8; 14 + ip.buffer_len() + tcp.buffer_len()];
    let mut fr = EthernetFrame::new_unchecked(&mut out[..]);
    EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 0x99]),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut fr);
    let mut p = Ipv4Packet::new_unchecked(fr.payload_mut());
    ip.emit(&mut p, &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(p.payload_mut()),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        &caps,
    );
    out
}
