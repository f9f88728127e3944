//! Review of issue 11, DHCP side: hostile servers (any address, mask, router or source)
//! never panic the stack nor install an unusable gateway.

extern crate std;

use super::tests_review::{csum, ipv4_frame};
use super::*;
use crate::sim::SimNic;
use crate::testkit::{Rng, cores_with};

/// A DHCP server answering with any address, mask and router (unspecified, broadcast,
/// multicast, loopback, reserved, off-subnet, our own), sometimes NAKing, sometimes with
/// bytes flipped: the stack never panics, and whatever it installs has a usable gateway.
#[test]
fn hostile_dhcp_leases_never_install_an_unusable_gateway() {
    use smoltcp::wire::{
        DhcpMessageType, DhcpPacket, DhcpRepr, EthernetFrame, IpProtocol, Ipv4Address, Ipv4Packet,
        UdpPacket,
    };
    let special = |rng: &mut Rng| -> [u8; 4] {
        match rng.below(10) {
            0 => [0, 0, 0, 0],
            1 => [255, 255, 255, 255],
            2 => [224, 0, 0, 1],
            3 => [127, 0, 0, 1],
            4 => [240, 0, 0, 1],
            5 => [10, 0, 0, 255],
            6 => [10, 0, 0, 0],
            7 => [10, 0, 1, 1],
            _ => [10, 0, 0, 1 + rng.below(3) as u8],
        }
    };
    for seed in 1..=8u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let rss = RssConfig::new(2).unwrap();
        let nic = SimNic::new(rss.clone(), 4096);
        let mut cores = cores_with(&nic, &rss, true, |c| c.ip = [0; 4]);
        cores[0].dhcp_start().unwrap();
        let mut now = 0u64;
        for _ in 0..3000 {
            now += if rng.chance(20) { 5_000_000 } else { 1000 };
            for c in cores.iter_mut() {
                c.poll(now);
                if let Some(cfg) = c.ipv4_config() {
                    let a = Ipv4Address::from(cfg.ip);
                    assert!(!a.is_broadcast() && !a.is_multicast(), "{cfg:?}");
                    if let Some(g) = cfg.gateway {
                        assert!(
                            crate::config::check_gateway_v4(cfg.ip, cfg.prefix_len, g).is_ok(),
                            "{cfg:?}"
                        );
                    }
                }
            }
            while let Some(f) = nic.take_sent() {
                let Ok(eth) = EthernetFrame::new_checked(&f[..]) else {
                    continue;
                };
                let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
                    continue;
                };
                let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
                    continue;
                };
                if ip.next_header() != IpProtocol::Udp || udp.dst_port() != 67 {
                    continue;
                }
                let Ok(pkt) = DhcpPacket::new_checked(udp.payload()) else {
                    continue;
                };
                let Ok(req) = DhcpRepr::parse(&pkt) else {
                    continue;
                };
                let message_type = match (req.message_type, rng.below(8)) {
                    (_, 0) => DhcpMessageType::Nak,
                    (DhcpMessageType::Discover, _) => DhcpMessageType::Offer,
                    (DhcpMessageType::Request, _) => DhcpMessageType::Ack,
                    _ => continue,
                };
                let server = Ipv4Address::from(special(&mut rng));
                let mask = [
                    None,
                    Some([255, 255, 255, 0]),
                    Some([255, 255, 255, 255]),
                    Some([255, 255, 255, 254]),
                    Some([0, 0, 0, 0]),
                    Some([255, 0, 255, 0]),
                ][rng.below(6) as usize]
                    .map(Ipv4Address::from);
                let router = rng.chance(80).then(|| Ipv4Address::from(special(&mut rng)));
                let reply = DhcpRepr {
                    message_type,
                    transaction_id: req.transaction_id,
                    secs: 0,
                    client_hardware_address: req.client_hardware_address,
                    client_ip: Ipv4Address::UNSPECIFIED,
                    your_ip: Ipv4Address::from(special(&mut rng)),
                    server_ip: server,
                    router,
                    subnet_mask: mask,
                    relay_agent_ip: Ipv4Address::UNSPECIFIED,
                    broadcast: false,
                    requested_ip: None,
                    client_identifier: None,
                    server_identifier: Some(server),
                    parameter_request_list: None,
                    dns_servers: None,
                    max_size: None,
                    lease_duration: Some(1 + rng.below(30) as u32),
                    renew_duration: None,
                    rebind_duration: None,
                    additional_options: &[],
                };
                let mut d = std::vec![0u8; reply.buffer_len()];
                if reply
                    .emit(&mut DhcpPacket::new_unchecked(&mut d[..]))
                    .is_err()
                {
                    continue;
                }
                if rng.chance(10) {
                    let i = rng.below(d.len() as u64) as usize;
                    d[i] ^= 1 << rng.below(8);
                }
                let mut u = std::vec![0u8; 8];
                u[0..2].copy_from_slice(&67u16.to_be_bytes());
                u[2..4].copy_from_slice(&68u16.to_be_bytes());
                u.extend_from_slice(&d);
                let n = u.len() as u16;
                u[4..6].copy_from_slice(&n.to_be_bytes());
                // No UDP checksum (0: none, allowed over IPv4).
                let mut frame = ipv4_frame(server.octets(), 17, u, &[], false);
                frame[30..34].copy_from_slice(&[255; 4]);
                frame[..6].copy_from_slice(&[0xff; 6]);
                // The IPv4 header checksum covers the destination: redo it.
                frame[24] = 0;
                frame[25] = 0;
                let c = csum(0, &frame[14..34]);
                frame[24..26].copy_from_slice(&c.to_be_bytes());
                nic.deliver(frame);
            }
        }
        let s = cores[0].counters().snapshot();
        assert!(s.config_updates > 0 && s.dhcp_bad_router > 0, "{s:?}");
    }
}

/// A DHCP server whose replies come from IP source 0.0.0.0 (smoltcp lets an unspecified
/// source through, for DHCP's sake). smoltcp's client takes the source as the server's
/// address and, at renewal (T1, half the lease), unicasts its REQUEST there: smoltcp then
/// asserts that a destination is never unspecified, and the panic stops the machine.
#[test]
fn a_dhcp_server_at_0_0_0_0_cannot_panic_the_renewal() {
    use super::tests_dhcp::dhcp_answer_with;
    use smoltcp::wire::Ipv4Address;
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| c.ip = [0; 4]);
    cores[0].dhcp_start().unwrap();
    let mut now = 0;
    // 50 ms of exchanges, then past the renewal time of the one-hour lease.
    for i in 0..60 {
        now += if i < 50 { 1000 } else { 600_000_000 };
        for c in cores.iter_mut() {
            c.poll(now);
        }
        while let Some(f) = nic.take_sent() {
            let router = Some(Ipv4Address::new(10, 0, 0, 1));
            if let Some(r) = dhcp_answer_with(&f, Ipv4Address::UNSPECIFIED, router) {
                nic.deliver(r);
            }
        }
    }
    // Such a server is ignored altogether: no lease from it.
    assert!(cores.iter().all(|c| c.ipv4_config().is_none()));
    assert!(cores[0].counters().dhcp_bad_server.get() > 0);
}
