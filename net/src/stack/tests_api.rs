//! The per-core API end to end: backlog, limit, close and reuse, UDP, stale handles.

extern crate std;

use std::vec::Vec;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::{IpEndpoint, Ipv4Address};

use super::*;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP, PEER_IP, Peer, cores_with, run};

#[test]
fn syn_burst_is_served_from_the_backlog_and_the_limit_answers_rst() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.backlog = 8;
        c.max_connections = 6;
    });
    let mut peer = Peer::new(&nic);
    cores[0].listen(80).unwrap();
    let handles: Vec<SocketHandle> = (0..10).map(|i| peer.connect(30_000 + i, 80)).collect();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 30);
    let established = handles
        .iter()
        .filter(|&&h| peer.tcp(h).state() == tcp::State::Established)
        .count();
    let reset = handles
        .iter()
        .filter(|&&h| peer.tcp(h).state() == tcp::State::Closed)
        .count();
    assert_eq!((established, reset), (6, 4));
    let c = cores[0].counters().snapshot();
    assert_eq!(c.accepted, 6);
    assert_eq!(c.refused, 4);
    assert_eq!(cores[0].connections(), 6);
    let mut n = 0;
    while cores[0].accept(80).is_ok() {
        n += 1;
    }
    assert_eq!(n, 6);
    assert_eq!(cores[0].accept(80), Err(AcceptError::WouldBlock));
    assert_eq!(cores[0].accept(81), Err(AcceptError::NotListening));
    assert_eq!(cores[0].listen(80), Err(ListenError::AlreadyListening));
}

#[test]
fn close_frees_the_connection_and_stale_handles_are_rejected() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    let mut peer = Peer::new(&nic);
    let ph = peer.listen(9, 4096);
    let conn = cores[1].connect((PEER_IP, 9)).unwrap();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 20);
    assert_eq!(
        cores[1].send_with(conn, |buf| {
            buf[..5].copy_from_slice(b"hello");
            5
        }),
        Ok(5)
    );
    run(&mut cores, &mut peer, &mut now, 20);
    let mut b = [0u8; 8];
    let ps = peer.tcp(ph);
    assert_eq!(ps.recv_slice(&mut b), Ok(5));
    ps.send_slice(b"bye").unwrap();
    ps.close();
    run(&mut cores, &mut peer, &mut now, 20);
    assert_eq!(cores[1].state(conn), Some(ConnState::PeerClosed));
    assert_eq!(
        cores[1].recv_with(conn, |data| {
            b[..data.len()].copy_from_slice(data);
            data.len()
        }),
        Ok(3)
    );
    assert_eq!(&b[..3], b"bye");
    assert_eq!(cores[1].recv(conn, &mut b), Err(RecvError::Finished));
    cores[1].close(conn).unwrap();
    assert_eq!(cores[1].send(conn, b"x"), Err(SendError::BadHandle));
    run(&mut cores, &mut peer, &mut now, 20);
    // We were the passive closer (LAST-ACK), so the connection is gone already.
    assert_eq!(cores[1].connections(), 0);
    assert_eq!(cores[1].state(conn), None);
    assert_eq!(cores[1].close(conn), Err(CloseError::BadHandle));
    assert_eq!(
        cores[1].connect((PEER_IP, 0)),
        Err(ConnectError::Unaddressable)
    );
}

#[test]
fn udp_datagrams_reach_the_steered_core_and_replies_go_back() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    let mut peer = Peer::new(&nic);
    let socks: Vec<UdpSocket> = cores.iter_mut().map(|c| c.udp_bind(53).unwrap()).collect();
    assert_eq!(cores[0].udp_bind(53), Err(UdpBindError::InUse));
    let buf = || {
        udp::PacketBuffer::new(
            std::vec![udp::PacketMetadata::EMPTY; 16],
            std::vec![0u8; 16 * 1500],
        )
    };
    let mut us = udp::Socket::new(buf(), buf());
    us.bind(4000).unwrap();
    let uh = peer.sockets.add(us);
    let [a, b, c, d] = OUR_IP;
    let to = IpEndpoint::new(Ipv4Address::new(a, b, c, d).into(), 53);
    peer.sockets
        .get_mut::<udp::Socket>(uh)
        .send_slice(b"query", to)
        .unwrap();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    let q = rss.queue_ipv4_l4(PEER_IP, OUR_IP, 4000, 53) as usize;
    let mut b = [0u8; 64];
    assert_eq!(
        cores[1 - q].udp_recv_from(socks[1 - q], &mut b),
        Err(UdpRecvError::WouldBlock)
    );
    let (n, from) = cores[q].udp_recv_from(socks[q], &mut b).unwrap();
    assert_eq!(
        (&b[..n], from),
        (&b"query"[..], (crate::IpAddr::V4(PEER_IP), 4000))
    );
    cores[q].udp_send_to(socks[q], b"answer", from).unwrap();
    run(&mut cores, &mut peer, &mut now, 10);
    let (n, _) = peer
        .sockets
        .get_mut::<udp::Socket>(uh)
        .recv_slice(&mut b)
        .unwrap();
    assert_eq!(&b[..n], b"answer");
}

#[test]
fn handles_from_another_core_are_rejected() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    let c0 = cores[0].connect((PEER_IP, 9)).unwrap();
    let _c1 = cores[1].connect((PEER_IP, 9)).unwrap();
    assert_eq!(cores[1].send(c0, b"x"), Err(SendError::BadHandle));
    assert_eq!(cores[1].state(c0), None);
    let u0 = cores[0].udp_bind(7).unwrap();
    let _u1 = cores[1].udp_bind(7).unwrap();
    let mut b = [0u8; 4];
    assert_eq!(
        cores[1].udp_recv_from(u0, &mut b),
        Err(UdpRecvError::BadHandle)
    );
    cores[0].udp_close(u0).unwrap();
    assert_eq!(cores[0].udp_close(u0), Err(UdpCloseError::BadHandle));
    assert_eq!(
        cores[0].udp_send_to(u0, b"x", (PEER_IP, 7)),
        Err(UdpSendError::BadHandle)
    );
}

#[test]
fn hostile_frames_are_counted_and_dropped_while_a_real_flow_keeps_working() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 16);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    let mut peer = Peer::new(&nic);
    for c in &mut cores {
        c.listen(80).unwrap();
    }
    let ph = peer.connect(33_000, 80);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    let mut seed = crate::testkit::Rng(0xdead_beef);
    // A valid-looking IPv4/TCP prefix with random tails, random lengths and random flags,
    // plus pure noise and runts.
    let mut template = std::vec![0u8; 54];
    template[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    template[12] = 0x08;
    template[14] = 0x45;
    template[23] = 6;
    template[26..30].copy_from_slice(&PEER_IP);
    template[30..34].copy_from_slice(&OUR_IP);
    for i in 0..3000 {
        let r = seed.next();
        let len = (r % 120) as usize;
        let mut f: Vec<u8> = (0..len).map(|_| seed.next() as u8).collect();
        if i % 2 == 0 {
            let n = len.min(template.len());
            f[..n].copy_from_slice(&template[..n]);
            for b in f.iter_mut().skip(34) {
                *b = seed.next() as u8;
            }
        }
        if i % 7 == 0 && len > 14 {
            f[12] = 0x08;
            f[13] = 0x06; // ARP noise
        }
        nic.deliver(f);
        if i % 100 == 0 {
            run(&mut cores, &mut peer, &mut now, 1);
        }
    }
    run(&mut cores, &mut peer, &mut now, 20);
    let unknown: u64 = cores.iter().map(|c| c.counters().drop_unknown.get()).sum();
    let no_socket: u64 = cores
        .iter()
        .map(|c| c.counters().drop_no_socket.get())
        .sum();
    let refused: u64 = cores.iter().map(|c| c.counters().refused.get()).sum();
    assert!(unknown > 100, "unknown {unknown}");
    assert!(
        no_socket + refused > 100,
        "tcp garbage {no_socket} {refused}"
    );
    // The real connection still carries data both ways.
    let (q, conn) = cores
        .iter_mut()
        .enumerate()
        .find_map(|(q, c)| c.accept(80).ok().map(|h| (q, h)))
        .expect("accepted");
    assert_eq!(cores[q].send(conn, b"still here"), Ok(10));
    run(&mut cores, &mut peer, &mut now, 20);
    let mut b = [0u8; 16];
    let ps = peer.tcp(ph);
    assert_eq!(ps.recv_slice(&mut b), Ok(10));
    assert_eq!(&b[..10], b"still here");
}

#[test]
fn gratuitous_arp_announces_our_address() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 64);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    cores[0].announce().unwrap();
    let f = nic.take_sent().expect("announced");
    assert_eq!(&f[0..6], &[0xff; 6]);
    assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 2]);
    assert_eq!(&f[12..14], &[0x08, 0x06]);
    assert_eq!(&f[20..22], &[0, 1], "request");
    assert_eq!(&f[28..32], &OUR_IP, "sender address");
    assert_eq!(&f[38..42], &OUR_IP, "target address: our own");
    // With IPv6, an unsolicited Neighbor Advertisement for the link-local address follows
    // (checked in `tests_ipv6`).
    #[cfg(feature = "ipv6")]
    assert_eq!(
        nic.take_sent().map(|f| f[12..14].to_vec()),
        Some(std::vec![0x86, 0xdd])
    );
    assert!(nic.take_sent().is_none());
}

#[test]
fn unanswered_handshakes_time_out_and_free_their_slots() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.handshake_timeout_ms = 5_000;
        c.syn_received_timeout_ms = 3_000;
    });
    let mut peer = Peer::new(&nic);
    cores[0].listen(80).unwrap();
    let _h = peer.connect(30_000, 80);
    let active = cores[0].connect((PEER_IP, 4444)).unwrap();
    let mut now = 0;
    // Until our side holds the peer's half-open connection, then the peer goes silent:
    // everything sent to it is lost.
    for _ in 0..10 {
        if cores[0].connections() == 2 {
            break;
        }
        run(&mut cores, &mut peer, &mut now, 1);
    }
    assert_eq!(cores[0].connections(), 2);
    for _ in 0..100 {
        now += 100_000;
        cores[0].poll(now);
        while nic.take_sent().is_some() {}
    }
    assert_eq!(
        cores[0].connections(),
        1,
        "the half-open passive one is gone"
    );
    assert_eq!(cores[0].counters().embryonic_dropped.get(), 1);
    assert_eq!(cores[0].state(active), Some(ConnState::Closed));
    cores[0].close(active).unwrap();
    cores[0].poll(now + 1000);
    assert_eq!(cores[0].connections(), 0);
}

#[test]
fn unlisten_resets_unaccepted_connections() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    let mut peer = Peer::new(&nic);
    cores[0].listen(80).unwrap();
    let h = peer.connect(30_000, 80);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    assert_eq!(peer.tcp(h).state(), tcp::State::Established);
    cores[0].unlisten(80).unwrap();
    assert_eq!(cores[0].unlisten(80), Err(ListenError::NotListening));
    assert_eq!(cores[0].accept(80), Err(AcceptError::NotListening));
    run(&mut cores, &mut peer, &mut now, 10);
    assert_eq!(peer.tcp(h).state(), tcp::State::Closed);
    assert_eq!(cores[0].connections(), 0);
    // A new SYN to the port is refused.
    let h2 = peer.connect(30_001, 80);
    run(&mut cores, &mut peer, &mut now, 10);
    assert_eq!(peer.tcp(h2).state(), tcp::State::Closed);
    assert_eq!(cores[0].counters().refused.get(), 1);
}

/// Polls only our cores: the peer is gone (its host vanished, its FIN or RST was lost).
fn run_without_peer(cores: &mut [Core], nic: &SimNic, now: &mut u64, steps: usize) {
    for _ in 0..steps {
        *now += 1000;
        for c in cores.iter_mut() {
            c.poll(*now);
        }
        while nic.take_sent().is_some() {}
    }
}

#[test]
fn connections_of_a_vanished_peer_are_freed_and_live_ones_kept() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.keepalive_ms = 100;
        c.close_timeout_ms = 200;
    });
    let mut peer = Peer::new(&nic);
    cores[0].listen(80).unwrap();
    let idle = peer.connect(30_001, 80);
    let _closing = peer.connect(30_002, 80);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 30);
    let a = cores[0].accept(80).unwrap();
    let b = cores[0].accept(80).unwrap();
    // A live peer answers keep-alives: idle for ten intervals, still established.
    run(&mut cores, &mut peer, &mut now, 1000);
    assert_eq!(cores[0].state(a), Some(ConnState::Established));
    assert_eq!(peer.tcp(idle).state(), tcp::State::Established);
    assert_eq!(cores[0].connections(), 2);
    // The peer vanishes; we close one connection (orphaned once our FIN goes unanswered).
    cores[0].close(b).unwrap();
    run_without_peer(&mut cores, &nic, &mut now, 250);
    assert_eq!(
        cores[0].connections(),
        1,
        "the orphan is freed after close_timeout"
    );
    run_without_peer(&mut cores, &nic, &mut now, 400);
    assert_eq!(cores[0].state(a), Some(ConnState::Closed));
    assert_eq!(cores[0].recv(a, &mut [0; 4]), Err(RecvError::Closed));
    cores[0].close(a).unwrap_or(());
    run_without_peer(&mut cores, &nic, &mut now, 5);
    assert_eq!(cores[0].connections(), 0, "keep-alive found the dead peer");
}

#[cfg(not(feature = "ipv6"))]
#[test]
fn ipv6_needs_the_feature() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 64);
    let (rx, tx) = nic.queue_pair(0);
    let mut cfg = StackConfig::new([2, 0, 0, 0, 0, 2], OUR_IP, 24, 1);
    cfg.ipv6 = Some(crate::testkit::our_ipv6(None));
    assert!(matches!(
        CoreStack::new(cfg, &rss, rx, tx, None, 0),
        Err(StackError::Ipv6Disabled)
    ));
    let mut cores = cores_with(&nic, &rss, false, |_| {});
    assert_eq!(cores[0].ipv6_link_local(), None);
    let mut v6 = [0u8; 16];
    v6[0] = 0xfd;
    v6[15] = 1;
    assert_eq!(cores[0].connect((v6, 7)), Err(ConnectError::Unaddressable));
}
