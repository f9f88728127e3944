//! Gateways that are not unicast neighbors on the subnet: from a rogue DHCP server or handed
//! to the stack directly. None may reach smoltcp's neighbor cache (which asserts a unicast
//! address and would panic on the first off-link send).

extern crate std;

use smoltcp::wire::Ipv4Address;

use super::tests_dhcp::{LEASED, dhcp_answer_with};
use super::*;
use crate::sim::SimNic;
use crate::testkit::{OUR_IP, cores_with, run_answering};

const BAD_ROUTERS: [[u8; 4]; 6] = [
    [0, 0, 0, 0],
    [255, 255, 255, 255],
    [224, 0, 0, 1],
    [10, 0, 0, 255], // the subnet's broadcast address
    [10, 0, 1, 1],   // off the /24
    [127, 0, 0, 1],
];

/// Runs a DHCP exchange with a server offering `router`, then sends off-link traffic.
fn lease_with_router(router: [u8; 4]) -> Vec<Core> {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| c.ip = [0; 4]);
    cores[0].dhcp_start().unwrap();
    // A server whose replies RSS sends to core 1: they reach the DHCP core over the mesh.
    let server = (2..=250)
        .map(|n| Ipv4Address::new(10, 0, 0, n))
        .find(|s| rss.queue_ipv4_l4(s.octets(), [255; 4], 67, 68) == 1)
        .unwrap();
    let router = Ipv4Address::from(router);
    let mut now = 0;
    let dhcp = |f: &[u8]| dhcp_answer_with(f, server, Some(router));
    run_answering(&mut cores, &nic, &mut now, 50, dhcp);
    // Off-link traffic from every core: TCP and UDP.
    for c in cores.iter_mut() {
        let _ = c.connect(([192, 0, 2, 1], 80));
        if let Ok(u) = c.udp_bind(5353) {
            let _ = c.udp_send_to(u, b"x", ([192, 0, 2, 1], 53));
        }
    }
    run_answering(&mut cores, &nic, &mut now, 20, dhcp);
    cores
}

type Core = crate::testkit::Core;

#[test]
fn a_lease_with_a_bad_router_is_ignored_and_off_link_sends_do_not_panic() {
    for bad in BAD_ROUTERS {
        let cores = lease_with_router(bad);
        for (q, c) in cores.iter().enumerate() {
            assert_eq!(c.ipv4_config(), None, "router {bad:?}, core {q}");
        }
        assert!(
            cores[0].counters().dhcp_bad_router.get() >= 1,
            "router {bad:?}"
        );
        assert!(
            cores[1].counters().dhcp_bad_router.get() == 0,
            "filtered on core 0"
        );
    }
}

#[test]
fn a_good_router_is_still_taken() {
    let cores = lease_with_router([10, 0, 0, 1]);
    for c in &cores {
        let cfg = c.ipv4_config().unwrap();
        assert_eq!(cfg.ip, LEASED.octets());
        assert_eq!(cfg.gateway, Some([10, 0, 0, 1]));
    }
    assert_eq!(cores[0].counters().dhcp_bad_router.get(), 0);
}

#[test]
fn a_static_bad_gateway_is_never_installed() {
    for bad in BAD_ROUTERS {
        let rss = RssConfig::new(1).unwrap();
        let nic = SimNic::new(rss.clone(), 4096);
        let mut cores = cores_with(&nic, &rss, false, |c| c.gateway = Some(bad));
        let c = &mut cores[0];
        assert_eq!(c.ipv4_config().map(|c| c.ip), Some(OUR_IP));
        assert_eq!(c.ipv4_config().and_then(|c| c.gateway), None, "{bad:?}");
        assert_eq!(c.counters().bad_gateway.get(), 1, "{bad:?}");
        let _ = c.connect(([192, 0, 2, 1], 80));
        for t in 1..10 {
            c.poll(t * 1000);
        }
        while nic.take_sent().is_some() {}
    }
}

#[test]
fn after_a_rogue_lease_the_client_looks_again_and_takes_a_good_one() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut core = cores_with(&nic, &rss, false, |c| c.ip = [0; 4]).remove(0);
    core.dhcp_start().unwrap();
    let server = Ipv4Address::new(10, 0, 0, 9);
    let mut now = 0;
    // 15 s in 100 ms steps: a rogue answers for the first 5 s, a good server afterwards.
    for _ in 0..150 {
        now += 100_000;
        core.poll(now);
        let router = if now < 5_000_000 {
            [255, 255, 255, 255]
        } else {
            [10, 0, 0, 1]
        };
        while let Some(f) = nic.take_sent() {
            if let Some(r) = dhcp_answer_with(&f, server, Some(Ipv4Address::from(router))) {
                nic.deliver(r);
            }
        }
        if now < 5_000_000 {
            assert_eq!(core.ipv4_config(), None);
        }
    }
    assert!(core.counters().dhcp_bad_router.get() >= 1);
    let cfg = core.ipv4_config().expect("the good lease");
    assert_eq!(cfg.gateway, Some([10, 0, 0, 1]));
    assert_eq!(core.counters().bad_gateway.get(), 0);
}

/// A frame from `src` (any address, as a hostile host may write it) to us: a TCP SYN to
/// `port`, or with `udp` a datagram to `port`.
fn from_source(src: [u8; 4], port: u16, udp: bool) -> Vec<u8> {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
        Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
    };
    let caps = ChecksumCapabilities::default();
    let (s, d) = (IpAddress::from(Ipv4Address::from(src)), {
        IpAddress::from(Ipv4Address::from(OUR_IP))
    });
    let tcp = TcpRepr {
        src_port: 40_000,
        dst_port: port,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(1),
        ack_number: None,
        window_len: 1000,
        window_scale: None,
        max_seg_size: Some(1460),
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    let len = if udp { 8 + 3 } else { tcp.buffer_len() };
    let mut out = std::vec![0u8; 14 + 20 + len];
    let mut f = EthernetFrame::new_unchecked(&mut out[..]);
    EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 0x66]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut f);
    let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
    Ipv4Repr {
        src_addr: Ipv4Address::from(src),
        dst_addr: Ipv4Address::from(OUR_IP),
        next_header: if udp {
            IpProtocol::Udp
        } else {
            IpProtocol::Tcp
        },
        payload_len: len,
        hop_limit: 64,
    }
    .emit(&mut p, &caps);
    if udp {
        UdpRepr {
            src_port: 40_000,
            dst_port: port,
        }
        .emit(
            &mut UdpPacket::new_unchecked(p.payload_mut()),
            &s,
            &d,
            3,
            |b| b.copy_from_slice(b"abc"),
            &caps,
        );
    } else {
        tcp.emit(
            &mut TcpPacket::new_unchecked(p.payload_mut()),
            &s,
            &d,
            &caps,
        );
    }
    out
}

#[test]
fn traffic_from_non_unicast_sources_never_reaches_the_neighbor_cache() {
    for gateway in [None, Some([10, 0, 0, 1])] {
        let rss = RssConfig::new(1).unwrap();
        let nic = SimNic::new(rss.clone(), 4096);
        let mut c = cores_with(&nic, &rss, false, |c| c.gateway = gateway).remove(0);
        c.listen(80).unwrap();
        let u = c.udp_bind(7).unwrap();
        let mut now = 0;
        for src in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 0, 0, 255],
            [224, 0, 0, 5],
            [127, 0, 0, 1],
            [240, 1, 2, 3],
        ] {
            for (port, udp) in [(80, false), (81, false), (7, true), (9, true)] {
                nic.deliver(from_source(src, port, udp));
            }
            for _ in 0..3 {
                now += 1000;
                c.poll(now);
                // An echo service answers whatever arrived.
                let mut buf = [0u8; 64];
                while let Ok((n, from)) = c.udp_recv_from(u, &mut buf) {
                    let _ = c.udp_send_to(u, &buf[..n], from);
                }
                while let Ok(conn) = c.accept(80) {
                    let _ = c.send(conn, b"hi");
                }
            }
        }
        for _ in 0..50 {
            now += 100_000;
            c.poll(now);
        }
        while nic.take_sent().is_some() {}
    }
}

#[test]
fn with_a_rogue_server_answering_first_the_good_lease_is_still_taken() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| c.ip = [0; 4]);
    cores[0].dhcp_start().unwrap();
    let (rogue, good) = (
        Ipv4Address::new(10, 0, 0, 66),
        Ipv4Address::new(10, 0, 0, 9),
    );
    let mut now = 0;
    run_answering(&mut cores, &nic, &mut now, 50, |f| {
        // The rogue is faster: its answer is always first on the wire.
        let bad = Ipv4Address::new(224, 0, 0, 1);
        let first = dhcp_answer_with(f, rogue, Some(bad));
        first.into_iter().chain(dhcp_answer_with(
            f,
            good,
            Some(Ipv4Address::new(10, 0, 0, 1)),
        ))
    });
    for c in &cores {
        let cfg = c.ipv4_config().expect("the good lease");
        assert_eq!(cfg.gateway, Some([10, 0, 0, 1]));
    }
    assert!(cores[0].counters().dhcp_bad_router.get() >= 1);
}
