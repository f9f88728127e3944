//! IPv6 over several per-core stacks and a smoltcp peer, wired through the simulated RSS NIC
//! (which steers IPv6 TCP/UDP by the IPv6 Toeplitz 4-tuple, other IPv6 by the addresses).

extern crate std;

use std::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::{icmp, udp};
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, Icmpv6Packet, Icmpv6Repr, IpCidr, Ipv6Address, Ipv6Packet,
    NdiscNeighborFlags, NdiscRepr, RawHardwareAddress,
};

use super::*;
use crate::IpAddr;
use crate::sim::SimNic;
use crate::testkit::{
    Core, OUR_IP6, OUR_MAC, PEER_IP6, PEER_MAC, Peer, Rig, bulk_both_ways, cores_with, ip6,
    our_ipv6, run, run_answering,
};

fn cores6(nic: &SimNic, rss: &RssConfig, mesh: bool) -> Vec<Core> {
    cores_with(nic, rss, mesh, |c| {
        c.ipv6 = Some(our_ipv6(None));
    })
}

/// The peer with fd00::1/64 and its link-local address next to its IPv4 one.
fn peer6(nic: &SimNic) -> Peer {
    let mut peer = Peer::new(nic).with_ipv6(PEER_IP6);
    peer.iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(ip6(crate::ip::link_local(PEER_MAC)), 64));
    });
    peer
}

#[test]
fn passive_ipv6_opens_land_on_the_core_the_hash_names() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores6(&nic, &rss, true);
    let mut peer = peer6(&nic);
    for c in &mut cores {
        c.listen(80).unwrap();
    }
    let n = 48;
    let mut handles = Vec::new();
    for i in 0..n {
        handles.push(peer.open((ip6(OUR_IP6), 80), 20_000 + i * 7, 64 * 1024));
    }
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 60);
    let mut seen = std::collections::HashSet::new();
    for (q, c) in cores.iter_mut().enumerate() {
        assert!(c.counters().accepted.get() > 0, "core {q} got no SYN");
        while let Ok(conn) = c.accept(80) {
            let (addr, port) = c.remote(conn).unwrap();
            assert_eq!(addr, IpAddr::V6(PEER_IP6));
            assert_eq!(rss.queue_ipv6_l4(PEER_IP6, OUR_IP6, port, 80) as usize, q);
            assert!(seen.insert(port));
            assert_eq!(c.send(conn, &port.to_be_bytes()), Ok(2));
        }
    }
    assert_eq!(seen.len(), n as usize);
    run(&mut cores, &mut peer, &mut now, 20);
    for h in handles {
        let s = peer.tcp(h);
        let mut b = [0u8; 2];
        assert_eq!(s.recv_slice(&mut b), Ok(2));
        assert_eq!(u16::from_be_bytes(b), s.local_endpoint().unwrap().port);
    }
    for c in &cores {
        assert_eq!(c.counters().drop_no_socket.get(), 0);
        assert_eq!(c.counters().drop_unknown.get(), 0);
    }
}

#[test]
fn active_ipv6_opens_resolve_by_ndp_from_every_core_and_come_home() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores6(&nic, &rss, true);
    let mut peer = peer6(&nic);
    let per_core = 16;
    for _ in 0..per_core * cores.len() {
        peer.listen(7, 4096);
    }
    let peer_ll = crate::ip::link_local(PEER_MAC);
    let our_ll = crate::ip::link_local(OUR_MAC);
    let mut conns = Vec::new();
    for (q, c) in cores.iter_mut().enumerate() {
        for i in 0..per_core {
            // A quarter of them to the peer's link-local address, from ours.
            let (to, from) = if i % 4 == 0 {
                (peer_ll, our_ll)
            } else {
                (PEER_IP6, OUR_IP6)
            };
            let conn = c.connect((to, 7)).unwrap();
            let port = c.local_port(conn).unwrap();
            assert_eq!(rss.queue_ipv6_l4(to, from, 7, port) as usize, q);
            assert_eq!(c.remote(conn), Some((IpAddr::V6(to), 7)));
            conns.push((q, conn));
        }
    }
    let mut now = 0;
    // smoltcp sends at most one Neighbor Solicitation per second per interface, and a core
    // needs two neighbors here (the peer's global and link-local addresses).
    run(&mut cores, &mut peer, &mut now, 1100);
    for &(q, conn) in &conns {
        assert_eq!(
            cores[q].state(conn),
            Some(ConnState::Established),
            "core {q}"
        );
    }
    for c in &cores {
        assert_eq!(c.counters().wrong_core.get(), 0);
        assert_eq!(c.counters().forwarded_to_owner.get(), 0);
        assert_eq!(c.counters().drop_no_socket.get(), 0);
    }
    // The Neighbor Advertisements reached one core each; the others learnt through the mesh.
    let copies: u64 = cores
        .iter()
        .map(|c| c.counters().frames_from_peers.get())
        .sum();
    assert!(copies > 0);
}

#[test]
fn without_the_mesh_ndp_reaches_only_the_core_the_hash_names() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores6(&nic, &rss, false);
    let mut peer = peer6(&nic);
    peer.listen(7, 4096);
    // The peer's Neighbor Advertisement (to us, ICMPv6) is hashed by the addresses alone.
    let na_core = rss.queue_for_hash(corenet_nic::toeplitz(
        &rss.key,
        &corenet_nic::steering::ipv6_input(PEER_IP6, OUR_IP6),
    ));
    let other = usize::from(1 - na_core);
    let conn = cores[other].connect((PEER_IP6, 7)).unwrap();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 50);
    assert_eq!(cores[other].state(conn), Some(ConnState::Connecting));
    // With the mesh the same connection completes (previous test); here the core that gets
    // the advertisement can connect on its own.
    let home = cores[usize::from(na_core)].connect((PEER_IP6, 7)).unwrap();
    run(&mut cores, &mut peer, &mut now, 50);
    assert_eq!(
        cores[usize::from(na_core)].state(home),
        Some(ConnState::Established)
    );
}

#[test]
fn hundreds_of_kilobytes_each_way_over_ipv6_arrive_intact() {
    let mut rig = Rig::new(2, |c| c.ipv6 = Some(our_ipv6(None)));
    rig.peer = peer6(&rig.nic);
    for c in &mut rig.cores {
        c.listen(9000).unwrap();
    }
    let ph = rig.peer.open((ip6(OUR_IP6), 9000), 40_000, 64 * 1024);
    let q = rig.rss.queue_ipv6_l4(PEER_IP6, OUR_IP6, 40_000, 9000) as usize;
    let (served, _) = bulk_both_ways(&mut rig, ph, 9000, 400 * 1024, 20_000);
    assert_eq!(served, q, "the core the hash names served");
    assert_eq!(rig.cores[q].counters().retransmissions.get(), 0);
}

#[test]
fn udp_over_ipv6_lands_on_the_hash_core_and_replies_return() {
    let rss = RssConfig::new(4).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores6(&nic, &rss, true);
    let mut peer = peer6(&nic);
    let socks: Vec<_> = cores.iter_mut().map(|c| c.udp_bind(53).unwrap()).collect();
    let n = 24u16;
    let mut peer_socks = Vec::new();
    for i in 0..n {
        let buf = || {
            udp::PacketBuffer::new(
                std::vec![udp::PacketMetadata::EMPTY; 4],
                std::vec![0u8; 1024],
            )
        };
        let mut s = udp::Socket::new(buf(), buf());
        s.bind(4000 + i).unwrap();
        s.send_slice(&(4000 + i).to_be_bytes(), (Ipv6Address::from(OUR_IP6), 53))
            .unwrap();
        peer_socks.push(peer.sockets.add(s));
    }
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 20);
    let mut served = 0;
    for (q, c) in cores.iter_mut().enumerate() {
        let mut b = [0u8; 16];
        while let Ok((len, (addr, port))) = c.udp_recv_from(socks[q], &mut b) {
            assert_eq!((len, addr), (2, IpAddr::V6(PEER_IP6)));
            assert_eq!(u16::from_be_bytes([b[0], b[1]]), port);
            assert_eq!(rss.queue_ipv6_l4(PEER_IP6, OUR_IP6, port, 53) as usize, q);
            c.udp_send_to(socks[q], b"answer", (addr, port)).unwrap();
            served += 1;
        }
    }
    assert_eq!(served, n);
    run(&mut cores, &mut peer, &mut now, 20);
    for h in peer_socks {
        let s = peer.sockets.get_mut::<udp::Socket>(h);
        let (data, meta) = s.recv().unwrap();
        assert_eq!(data, b"answer");
        assert_eq!(
            meta.endpoint.addr,
            smoltcp::wire::IpAddress::Ipv6(Ipv6Address::from(OUR_IP6))
        );
    }
}

#[test]
fn icmpv6_echo_is_answered_on_both_addresses() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores6(&nic, &rss, true);
    let mut peer = peer6(&nic);
    let buf = || {
        icmp::PacketBuffer::new(
            std::vec![icmp::PacketMetadata::EMPTY; 4],
            std::vec![0u8; 1024],
        )
    };
    let mut s = icmp::Socket::new(buf(), buf());
    s.bind(icmp::Endpoint::Ident(0x22)).unwrap();
    let h = peer.sockets.add(s);
    let caps = ChecksumCapabilities::default();
    let targets = [
        (OUR_IP6, PEER_IP6),
        (
            crate::ip::link_local(OUR_MAC),
            crate::ip::link_local(PEER_MAC),
        ),
    ];
    let mut now = 0;
    for (seq, (to, from)) in targets.into_iter().enumerate() {
        let (to, from) = (Ipv6Address::from(to), Ipv6Address::from(from));
        let req = Icmpv6Repr::EchoRequest {
            ident: 0x22,
            seq_no: seq as u16,
            data: b"ping6",
        };
        let s = peer.sockets.get_mut::<icmp::Socket>(h);
        let out = s.send(req.buffer_len(), to.into()).unwrap();
        req.emit(&from, &to, &mut Icmpv6Packet::new_unchecked(out), &caps);
        // smoltcp (the peer) sends at most one Neighbor Solicitation per second.
        run(&mut cores, &mut peer, &mut now, 1100);
        let s = peer.sockets.get_mut::<icmp::Socket>(h);
        let (data, addr) = s.recv().unwrap_or_else(|e| panic!("seq {seq}: {e:?}"));
        assert_eq!(addr, smoltcp::wire::IpAddress::Ipv6(to));
        let reply = Icmpv6Repr::parse(&to, &from, &Icmpv6Packet::new_checked(data).unwrap(), &caps)
            .unwrap();
        assert_eq!(
            reply,
            Icmpv6Repr::EchoReply {
                ident: 0x22,
                seq_no: seq as u16,
                data: b"ping6",
            }
        );
    }
}

#[test]
fn announce_sends_unsolicited_neighbor_advertisements() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 64);
    let mut cores = cores6(&nic, &rss, true);
    assert_eq!(
        cores[1].ipv6_link_local(),
        Some(crate::ip::link_local(OUR_MAC))
    );
    assert_eq!(cores[1].ipv6_config().map(|c| c.ip), Some(OUR_IP6));
    cores[0].announce().unwrap();
    let arp = nic.take_sent().expect("gratuitous ARP");
    assert_eq!(&arp[12..14], &[0x08, 0x06]);
    let caps = ChecksumCapabilities::default();
    for target in [crate::ip::link_local(OUR_MAC), OUR_IP6] {
        let f = nic.take_sent().expect("neighbor advertisement");
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(eth.ethertype(), EthernetProtocol::Ipv6);
        assert_eq!(eth.dst_addr().0, [0x33, 0x33, 0, 0, 0, 1]);
        let ip = Ipv6Packet::new_checked(eth.payload()).unwrap();
        assert_eq!(ip.hop_limit(), 255);
        let repr = Icmpv6Repr::parse(
            &ip.src_addr(),
            &ip.dst_addr(),
            &Icmpv6Packet::new_checked(ip.payload()).unwrap(),
            &caps,
        )
        .unwrap();
        assert_eq!(
            repr,
            Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                flags: NdiscNeighborFlags::OVERRIDE,
                target_addr: Ipv6Address::from(target),
                lladdr: Some(RawHardwareAddress::from_bytes(&OUR_MAC)),
            })
        );
    }
    assert!(nic.take_sent().is_none());
}

#[test]
fn a_stack_without_a_global_address_still_has_its_link_local_one() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 64);
    let mut cores = cores_with(&nic, &rss, false, |_| {});
    assert_eq!(cores[0].ipv6_config(), None);
    assert_eq!(
        cores[0].ipv6_link_local(),
        Some(crate::ip::link_local(OUR_MAC))
    );
    // The peer's link-local address is reachable; its global one is off-link for us (no
    // global prefix, no router), so that connection never leaves SYN-SENT.
    let mut peer = peer6(&nic);
    for _ in 0..2 {
        peer.listen(7, 4096);
    }
    let conn = cores[0]
        .connect((crate::ip::link_local(PEER_MAC), 7))
        .unwrap();
    let off_link = cores[0].connect((PEER_IP6, 7)).unwrap();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 50);
    assert_eq!(cores[0].state(conn), Some(ConnState::Established));
    assert_eq!(cores[0].state(off_link), Some(ConnState::Connecting));
    assert_eq!(
        cores[0].connect(([0u8; 16], 7)),
        Err(ConnectError::Unaddressable)
    );
}

#[test]
fn hostile_ipv6_frames_never_panic_and_a_real_flow_keeps_working() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 16);
    let mut cores = cores6(&nic, &rss, true);
    let mut peer = peer6(&nic);
    for c in &mut cores {
        c.listen(80).unwrap();
    }
    let ph = peer.open((ip6(OUR_IP6), 80), 33_000, 64 * 1024);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 20);
    let mut rng = crate::testkit::Rng(0x1234_5678_9abc_u64);
    let mut next = || rng.next();
    // A valid-looking IPv6 header to us (TCP, UDP, ICMPv6 and NDP types, hop-by-hop and
    // fragment headers) with random payload lengths, tails and frame lengths; runts.
    let mut template = std::vec![0u8; 54];
    template[..6].copy_from_slice(&OUR_MAC);
    template[6..12].copy_from_slice(&PEER_MAC);
    template[12..14].copy_from_slice(&[0x86, 0xdd]);
    template[14] = 0x60;
    template[21] = 255;
    template[22..38].copy_from_slice(&PEER_IP6);
    template[38..54].copy_from_slice(&OUR_IP6);
    for i in 0..3000 {
        let len = (next() % 140) as usize;
        let mut f: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let n = len.min(template.len());
        f[..n].copy_from_slice(&template[..n]);
        if len > 20 {
            f[20] = [6, 17, 58, 0, 44, 43][i % 6];
            f[18..20].copy_from_slice(&((next() % 200) as u16).to_be_bytes());
        }
        if len > 54 && f[20] == 58 && i % 2 == 0 {
            f[54] = 133 + (next() % 5) as u8;
        }
        nic.deliver(f);
        if i % 100 == 0 {
            run(&mut cores, &mut peer, &mut now, 1);
        }
    }
    run(&mut cores, &mut peer, &mut now, 20);
    // The real connection still carries data both ways.
    let q = rss.queue_ipv6_l4(PEER_IP6, OUR_IP6, 33_000, 80) as usize;
    let conn = cores[q].accept(80).expect("accepted before the flood");
    assert_eq!(cores[q].send(conn, b"still here"), Ok(10));
    let ps = peer.tcp(ph);
    assert_eq!(ps.send_slice(b"and here"), Ok(8));
    run(&mut cores, &mut peer, &mut now, 20);
    let mut b = [0u8; 16];
    assert_eq!(cores[q].recv(conn, &mut b), Ok(8));
    assert_eq!(&b[..8], b"and here");
    let ps = peer.tcp(ph);
    assert_eq!(ps.recv_slice(&mut b), Ok(10));
    assert_eq!(&b[..10], b"still here");
}

#[test]
fn ipv6_replies_a_nic_steers_elsewhere_are_counted_and_forwarded_to_the_owner() {
    // The stacks solve ports with `rss`; the NIC's table has the queues swapped, so every
    // SYN-ACK lands on the core that did not open the connection, which counts it and hands
    // it over the mesh: all connections still open.
    let rss = RssConfig::new(2).unwrap();
    let mut swapped = rss.clone();
    for q in swapped.table.iter_mut() {
        *q = 1 - *q;
    }
    let nic = SimNic::new(swapped, 4096);
    let mut cores = cores6(&nic, &rss, true);
    let mut peer = peer6(&nic);
    let per_core = 10;
    for _ in 0..2 * per_core {
        peer.listen(7, 4096);
    }
    let mut conns = Vec::new();
    for (q, c) in cores.iter_mut().enumerate() {
        for _ in 0..per_core {
            conns.push((q, c.connect((PEER_IP6, 7)).unwrap()));
        }
    }
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 60);
    for &(q, conn) in &conns {
        assert_eq!(
            cores[q].state(conn),
            Some(ConnState::Established),
            "core {q}"
        );
    }
    let wrong: Vec<u64> = cores
        .iter()
        .map(|c| c.counters().wrong_core.get())
        .collect();
    let fwd: Vec<u64> = cores
        .iter()
        .map(|c| c.counters().forwarded_to_owner.get())
        .collect();
    assert!(wrong.iter().all(|&n| n >= per_core as u64), "{wrong:?}");
    assert_eq!(fwd, wrong);
}

/// fd00::fe, the IPv6 router.
const ROUTER6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe];
const ROUTER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x99];

/// An IPv6 router: answers Neighbor Solicitations for its address and SYN-ACKs every SYN,
/// as any remote host behind it would.
fn router6_answer(frame: &[u8]) -> Option<Vec<u8>> {
    use smoltcp::wire::{
        EthernetAddress, EthernetRepr, IpAddress, IpProtocol, Ipv6Repr, TcpControl, TcpPacket,
        TcpRepr, TcpSeqNumber,
    };
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv6 {
        return None;
    }
    let pkt = Ipv6Packet::new_checked(eth.payload()).ok()?;
    let ip = Ipv6Repr::parse(&pkt).ok()?;
    let router = Ipv6Address::from(ROUTER6);
    let emit = |ip_out: Ipv6Repr, body: &dyn Fn(&mut [u8])| {
        let mut out = std::vec![0u8; 14 + ip_out.buffer_len() + ip_out.payload_len];
        let mut f = EthernetFrame::new_unchecked(&mut out[..]);
        EthernetRepr {
            src_addr: EthernetAddress(ROUTER_MAC),
            dst_addr: eth.src_addr(),
            ethertype: EthernetProtocol::Ipv6,
        }
        .emit(&mut f);
        let mut p = Ipv6Packet::new_unchecked(f.payload_mut());
        ip_out.emit(&mut p);
        body(p.payload_mut());
        out
    };
    match ip.next_header {
        IpProtocol::Icmpv6 => {
            let icmp = Icmpv6Repr::parse(
                &ip.src_addr,
                &ip.dst_addr,
                &Icmpv6Packet::new_checked(pkt.payload()).ok()?,
                &caps,
            )
            .ok()?;
            let Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target_addr, .. }) = icmp else {
                return None;
            };
            if target_addr != router {
                return None;
            }
            let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                flags: NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::ROUTER,
                target_addr: router,
                lladdr: Some(RawHardwareAddress::from_bytes(&ROUTER_MAC)),
            });
            let ip_out = Ipv6Repr {
                src_addr: router,
                dst_addr: ip.src_addr,
                next_header: IpProtocol::Icmpv6,
                payload_len: na.buffer_len(),
                hop_limit: 255,
            };
            Some(emit(ip_out, &|b| {
                na.emit(
                    &router,
                    &ip.src_addr,
                    &mut Icmpv6Packet::new_unchecked(b),
                    &caps,
                )
            }))
        }
        IpProtocol::Tcp => {
            let (src, dst) = (IpAddress::Ipv6(ip.src_addr), IpAddress::Ipv6(ip.dst_addr));
            let tcp = TcpRepr::parse(
                &TcpPacket::new_checked(pkt.payload()).ok()?,
                &src,
                &dst,
                &caps,
            )
            .ok()?;
            if tcp.control != TcpControl::Syn || tcp.ack_number.is_some() {
                return None;
            }
            let reply = TcpRepr {
                src_port: tcp.dst_port,
                dst_port: tcp.src_port,
                control: TcpControl::Syn,
                seq_number: TcpSeqNumber(1000),
                ack_number: Some(tcp.seq_number + 1),
                window_len: 8192,
                window_scale: None,
                max_seg_size: Some(1440),
                sack_permitted: false,
                sack_ranges: [None; 3],
                timestamp: None,
                payload: &[],
            };
            let ip_out = Ipv6Repr {
                src_addr: ip.dst_addr,
                dst_addr: ip.src_addr,
                next_header: IpProtocol::Tcp,
                payload_len: reply.buffer_len(),
                hop_limit: 64,
            };
            Some(emit(ip_out, &|b| {
                reply.emit(&mut TcpPacket::new_unchecked(b), &dst, &src, &caps)
            }))
        }
        _ => None,
    }
}

#[test]
fn thousands_of_ipv6_active_opens_via_gw6_to_random_endpoints_come_home() {
    const N: usize = 4000;
    let queues = 4;
    let rss = RssConfig::new(queues).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 16);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.tcp_buffer = 256;
        c.bucket_bits = 12;
        c.ipv6 = Some(our_ipv6(Some(ROUTER6)));
    });
    let mut rng = crate::testkit::Rng(0x0fed_cba9_8765_4321);
    let mut conns = Vec::with_capacity(N);
    for i in 0..N {
        let mut next = || rng.next();
        // 2001:db8::/32 (documentation prefix), random below it: off-link, via the router.
        let mut addr = [0u8; 16];
        addr[..8].copy_from_slice(&next().to_be_bytes());
        addr[8..].copy_from_slice(&next().to_be_bytes());
        addr[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let port = (next() as u16).max(1);
        let q = i % queues;
        let c = cores[q].connect((addr, port)).unwrap();
        let lport = cores[q].local_port(c).unwrap();
        assert_eq!(rss.queue_ipv6_l4(addr, OUR_IP6, port, lport) as usize, q);
        conns.push((q, c));
    }
    let mut now = 0;
    run_answering(&mut cores, &nic, &mut now, 200, router6_answer);
    let established = conns
        .iter()
        .filter(|&&(q, c)| cores[q].state(c) == Some(ConnState::Established))
        .count();
    assert_eq!(established, N);
    for c in &cores {
        assert_eq!(c.counters().wrong_core.get(), 0);
        assert_eq!(c.counters().drop_no_socket.get(), 0);
    }
}
