//! DHCP on one core of several: the server's replies land wherever RSS puts them, are
//! forwarded to the DHCP core, and the lease is applied on every core.

extern crate std;

use std::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

use super::*;
use crate::sim::SimNic;
use crate::testkit::{cores_with, run_answering};

pub(super) const LEASED: Ipv4Address = Ipv4Address::new(10, 0, 0, 77);
const ROUTER: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const DNS: [Ipv4Address; 2] = [
    Ipv4Address::new(10, 0, 0, 53),
    Ipv4Address::new(192, 168, 0, 53),
];

/// A DHCP server: OFFER for DISCOVER, ACK for REQUEST, broadcast from `server`.
fn dhcp_answer(frame: &[u8], server: Ipv4Address) -> Option<Vec<u8>> {
    dhcp_answer_with(frame, server, Some(ROUTER))
}

/// [`dhcp_answer`] with the router option `router` (a rogue server's, in the gateway tests).
pub(super) fn dhcp_answer_with(
    frame: &[u8],
    server: Ipv4Address,
    router: Option<Ipv4Address>,
) -> Option<Vec<u8>> {
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if ip.next_header() != IpProtocol::Udp || udp.dst_port() != 67 {
        return None;
    }
    let dhcp_pkt = DhcpPacket::new_checked(udp.payload()).ok()?;
    let req = DhcpRepr::parse(&dhcp_pkt).ok()?;
    let message_type = match req.message_type {
        DhcpMessageType::Discover => DhcpMessageType::Offer,
        DhcpMessageType::Request => DhcpMessageType::Ack,
        _ => return None,
    };
    let reply = DhcpRepr {
        message_type,
        transaction_id: req.transaction_id,
        secs: 0,
        client_hardware_address: req.client_hardware_address,
        client_ip: Ipv4Address::UNSPECIFIED,
        your_ip: LEASED,
        server_ip: server,
        router,
        subnet_mask: Some(Ipv4Address::new(255, 255, 255, 0)),
        relay_agent_ip: Ipv4Address::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(server),
        parameter_request_list: None,
        dns_servers: Some(heapless::Vec::from_slice(&DNS).ok()?),
        max_size: None,
        lease_duration: Some(3600),
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    let udp_repr = UdpRepr {
        src_port: 67,
        dst_port: 68,
    };
    let dhcp_len = reply.buffer_len();
    let ip_repr = Ipv4Repr {
        src_addr: server,
        dst_addr: Ipv4Address::BROADCAST,
        next_header: IpProtocol::Udp,
        payload_len: 8 + dhcp_len,
        hop_limit: 64,
    };
    let mut out = std::vec![0u8; 14 + 20 + 8 + dhcp_len];
    let mut f = EthernetFrame::new_unchecked(&mut out[..]);
    EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 0x67]),
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut f);
    let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
    ip_repr.emit(&mut p, &caps);
    udp_repr.emit(
        &mut UdpPacket::new_unchecked(p.payload_mut()),
        &IpAddress::Ipv4(server),
        &IpAddress::Ipv4(Ipv4Address::BROADCAST),
        dhcp_len,
        |buf| {
            let _ = reply.emit(&mut DhcpPacket::new_unchecked(buf));
        },
        &caps,
    );
    Some(out)
}

#[test]
fn dhcp_replies_steered_elsewhere_configure_every_core() {
    let queues = 4;
    let rss = RssConfig::new(queues).unwrap();
    // A server whose replies RSS sends away from the DHCP core (core 0).
    let server = (2..=250)
        .map(|n| Ipv4Address::new(10, 0, 0, n))
        .find(|s| rss.queue_ipv4_l4(s.octets(), [255; 4], 67, 68) != 0)
        .unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| c.ip = [0; 4]);
    assert!(cores.iter().all(|c| c.ipv4_config().is_none()));
    assert_eq!(cores[1].dhcp_start(), Err(DhcpError::NotDhcpCore));
    cores[0].dhcp_start().unwrap();
    assert_eq!(cores[0].dhcp_start(), Err(DhcpError::AlreadyStarted));
    let mut now = 0;
    run_answering(&mut cores, &nic, &mut now, 50, |f| dhcp_answer(f, server));
    let want = Some(crate::config::Ipv4Config {
        ip: LEASED.octets(),
        prefix_len: 24,
        gateway: Some(ROUTER.octets()),
        dns: [Some(DNS[0].octets()), Some(DNS[1].octets()), None],
    });
    for (q, c) in cores.iter().enumerate() {
        assert_eq!(c.ipv4_config(), want, "core {q}");
        assert_eq!(c.counters().config_updates.get(), 1, "core {q}");
    }
    // OFFER and ACK both went through another core.
    assert!(cores[0].counters().frames_from_peers.get() >= 2);
}

#[test]
fn a_config_that_meets_a_full_ring_reaches_the_core_later() {
    let rss = RssConfig::new(2).unwrap();
    // A server whose replies land on the DHCP core itself: only core 0 needs to poll.
    let server = (2..=250)
        .map(|n| Ipv4Address::new(10, 0, 0, n))
        .find(|s| rss.queue_ipv4_l4(s.octets(), [255; 4], 67, 68) == 0)
        .unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| c.ip = [0; 4]);
    cores[0].dhcp_start().unwrap();
    // Core 1 is busy (not polling) and its ring from core 0 is full.
    let m = cores[0].mesh.as_mut().unwrap();
    while m.send(1, crate::mesh::Msg::Frame(std::vec![0; 60])) {}
    let mut now = 0;
    run_answering(&mut cores[..1], &nic, &mut now, 50, |f| {
        dhcp_answer(f, server)
    });
    assert_eq!(cores[0].ipv4_config().map(|c| c.ip), Some(LEASED.octets()));
    assert_eq!(
        cores[0].counters().drop_mesh_full.get(),
        1,
        "the first copy"
    );
    // Core 1 catches up; core 0 resends the configuration at its next poll.
    for _ in 0..3 {
        now += 1000;
        for c in cores.iter_mut() {
            c.poll(now);
        }
    }
    assert_eq!(cores[1].ipv4_config(), cores[0].ipv4_config());
    assert_eq!(cores[0].counters().config_resent.get(), 1);
    assert_eq!(cores[1].counters().config_updates.get(), 1);
}
