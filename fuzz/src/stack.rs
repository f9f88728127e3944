//! ARP, DHCP, TCP, UDP, IPv6 (NDP, TCP, UDP) and arbitrary frames through two `CoreStack`s on the simulated
//! multi-queue NIC, with the mesh between them and an application accepting, reading,
//! writing, closing and connecting: no panic anywhere (smoltcp included), and no core ever
//! holds more connections than its configured limit.
//!
//! Input: one byte of setup (static address or DHCP, the connection limit, and whether TCP runs
//! as the guest configures it: buffers sized to the path up to 256 KiB, so a window scale of 2,
//! buffers swapped in after the handshake and grown while sending, pacing and HyStart++), then
//! operations.
//! Frames are built with valid checksums (see `netbuild`); the harness tracks the sequence
//! numbers the stack sends so that a fuzzed peer can complete handshakes and send in-window
//! data, and the transaction id of the DHCP client so that fuzzed offers are taken.

use std::collections::HashMap;

use arbitrary::Unstructured;
use corenet_net::sim::{SimNic, SimRxQueue, SimTxQueue};
use corenet_net::stack::TcpConn;
use corenet_net::{CoreStack, StackConfig, mesh};
use corenet_nic::RssConfig;
use smoltcp::wire::{DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress, Ipv4Address};

use crate::netbuild::{Tcp, arp_frame, fix_checksums, tcp_frame, udp_frame};

const CORES: usize = 2;
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const IP: [u8; 4] = [10, 0, 0, 2];
const GATEWAY: [u8; 4] = [10, 0, 0, 1];
const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// The peers: the gateway, two neighbors, and a host behind the gateway.
const PEERS: [[u8; 4]; 4] = [GATEWAY, [10, 0, 0, 10], [10, 0, 0, 11], [192, 0, 2, 7]];
/// Most operations per input: keeps one run short.
const MAX_OPS: usize = 200;

type Core = CoreStack<SimRxQueue, SimTxQueue>;

fn peer_mac(i: usize) -> [u8; 6] {
    [2, 0, 0, 0, 1, i as u8]
}

/// What the harness knows of one flow from a peer: its own next sequence number and the
/// stack's (from the last segment the stack sent on it).
#[derive(Default, Clone, Copy)]
struct Flow {
    peer_next: u32,
    stack_next: u32,
}

struct Rig {
    nic: SimNic,
    cores: Vec<Core>,
    max_conns: usize,
    now_us: u64,
    flows: HashMap<([u8; 4], u16, u16), Flow>,
    dhcp_xid: Option<u32>,
    conns: Vec<(usize, TcpConn)>,
    /// TCP as the guest runs it (setup bit 4); its segments may also skip ahead.
    guest_tcp: bool,
}

impl Rig {
    fn new(setup: u8) -> Option<Self> {
        let dhcp = setup & 1 != 0;
        let max_conns = 1 + usize::from(setup >> 1 & 7);
        // As the guest runs TCP (corenet's facade): window scaling, buffers replaced after
        // the handshake (autosize.rs) and grown by the sender (sndbuf.rs), paced, HyStart++.
        let guest_tcp = setup & 0x10 != 0;
        let rss = RssConfig::new(CORES).ok()?;
        let nic = SimNic::new(rss.clone(), 64);
        let mut ports = mesh::mesh(CORES).into_iter();
        let mut cores = Vec::new();
        for q in 0..CORES as u16 {
            let (rx, tx) = nic.queue_pair(q);
            let ip = if dhcp { [0; 4] } else { IP };
            let mut cfg = StackConfig::new(MAC, ip, 24, 0x5eed + u64::from(q));
            cfg.gateway = (!dhcp).then_some(GATEWAY);
            cfg.bucket_bits = 4;
            cfg.max_connections = max_conns;
            cfg.backlog = 2;
            cfg.tcp_buffer = 2048;
            if guest_tcp {
                cfg.tcp_buffer_auto_max = 256 << 10;
                cfg.port_buffer_budget = 1 << 20;
                cfg.tcp_pacing = true;
                cfg.tcp_hystart = true;
            }
            let mut core = CoreStack::new(cfg, &rss, rx, tx, ports.next(), 0).ok()?;
            core.listen(80).ok()?;
            core.udp_bind(7).ok()?;
            cores.push(core);
        }
        if dhcp {
            cores[0].dhcp_start().ok()?;
        }
        Some(Self {
            nic,
            cores,
            max_conns,
            now_us: 0,
            flows: HashMap::new(),
            dhcp_xid: None,
            conns: Vec::new(),
            guest_tcp,
        })
    }

    /// Polls every core and reads what they sent, answering ARP requests for the peers;
    /// three rounds, so mesh messages and the answers are taken.
    fn poll(&mut self) {
        for _ in 0..3 {
            self.now_us += 1000;
            for c in &mut self.cores {
                c.poll(self.now_us);
            }
            let mut answers = Vec::new();
            while let Some(f) = self.nic.take_sent() {
                answers.extend(self.observe(&f));
            }
            for a in answers {
                self.deliver(a);
            }
        }
        for (q, c) in self.cores.iter().enumerate() {
            assert!(
                c.connections() <= self.max_conns,
                "core {q} holds {} connections, limit {}",
                c.connections(),
                self.max_conns
            );
        }
    }

    /// Learns sequence numbers and the DHCP transaction id from a frame the stack sent; the
    /// answer of a peer to an ARP request for it.
    fn observe(&mut self, f: &[u8]) -> Option<Vec<u8>> {
        if f.get(12..14) == Some(&[0x08, 0x06]) && f.len() >= 42 && f[21] == 1 {
            let target = [f[38], f[39], f[40], f[41]];
            let p = PEERS.iter().position(|&a| a == target)?;
            let ours = (MAC, [f[28], f[29], f[30], f[31]]);
            return Some(arp_frame(MAC, 2, (peer_mac(p), target), ours));
        }
        if f.get(12..14) != Some(&[0x08, 0x00]) || f.len() < 34 {
            return None;
        }
        let ihl = usize::from(f[14] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
        let dst = [f[30], f[31], f[32], f[33]];
        let l4 = f.get(14 + ihl..(14 + total).min(f.len()))?;
        match f[23] {
            6 if l4.len() >= 20 => {
                let sport = u16::from_be_bytes([l4[0], l4[1]]);
                let dport = u16::from_be_bytes([l4[2], l4[3]]);
                let seq = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]);
                let flags = l4[13];
                let hdr = usize::from(l4[12] >> 4) * 4;
                let len = l4.len().saturating_sub(hdr) as u32 + u32::from(flags & 0x03 != 0); // SYN or FIN takes a number
                let flow = self.flows.entry((dst, dport, sport)).or_default();
                flow.stack_next = seq.wrapping_add(len);
            }
            17 if l4.len() >= 8 + 8 && l4[2..4] == 67u16.to_be_bytes() => {
                let d = &l4[8..];
                self.dhcp_xid = Some(u32::from_be_bytes([d[4], d[5], d[6], d[7]]));
            }
            _ => {}
        }
        None
    }

    fn deliver(&mut self, frame: Vec<u8>) {
        self.nic.deliver(frame);
    }
}

fn pick<T: Copy>(u: &mut Unstructured<'_>, from: &[T]) -> T {
    *u.choose(from).unwrap_or(&from[0])
}

fn ipv4(u: &mut Unstructured<'_>) -> [u8; 4] {
    match u.arbitrary::<u8>().unwrap_or(0) % 8 {
        0..=3 => PEERS[usize::from(u.arbitrary::<u8>().unwrap_or(0)) % PEERS.len()],
        4 => IP,
        5 => [0; 4],
        6 => [255; 4],
        _ => u.arbitrary().unwrap_or([0; 4]),
    }
}

fn tcp_op(r: &mut Rig, u: &mut Unstructured<'_>) {
    let p = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % PEERS.len();
    let src = PEERS[p];
    let sport = 1000 + u16::from(u.arbitrary::<u8>().unwrap_or(0) % 8);
    let dport = pick(u, &[80, 80, 80, 7, 81]);
    let flags = u.arbitrary::<u8>().unwrap_or(0x10);
    let auto = u.arbitrary::<bool>().unwrap_or(true);
    let window = u.arbitrary::<u16>().unwrap_or(0xffff);
    let n = usize::from(u.arbitrary::<u8>().unwrap_or(0) % 12).min(u.len());
    let options = u.bytes(n).unwrap_or(&[]);
    let n = usize::from(u.arbitrary::<u16>().unwrap_or(0) % 1400).min(u.len());
    let payload = u.bytes(n).unwrap_or(&[]);
    let flow = r.flows.entry((src, sport, dport)).or_default();
    // With the guest's TCP, a segment may start up to 8 KiB past the peer's next octet (a
    // hole, reordering, or a peer overrunning our window, as passt did: smoltcp patch 17).
    let skip = if r.guest_tcp && u.arbitrary::<u8>().unwrap_or(0).is_multiple_of(4) {
        u32::from(u.arbitrary::<u16>().unwrap_or(0) % 8192)
    } else {
        0
    };
    let (seq, ack) = if auto {
        if flags & 0x02 != 0 {
            flow.peer_next = 0x1000_0000;
        }
        (flow.peer_next.wrapping_add(skip), flow.stack_next)
    } else {
        (u.arbitrary().unwrap_or(0), u.arbitrary().unwrap_or(0))
    };
    if skip == 0 {
        flow.peer_next = seq
            .wrapping_add(payload.len() as u32)
            .wrapping_add(u32::from(flags & 0x03 != 0));
    }
    let t = Tcp {
        sport,
        dport,
        seq,
        ack,
        flags,
        window,
    };
    // The guest's TCP meets peers that scale their windows (Linux always offers it): its
    // SYNs carry a window scale of 7 before the fuzzed options.
    let mut opts = Vec::new();
    if r.guest_tcp && flags & 0x02 != 0 {
        opts.extend_from_slice(&[3, 3, 7, 1]);
    }
    opts.extend_from_slice(options);
    let f = tcp_frame((MAC, peer_mac(p)), (src, IP), t, &opts, payload);
    r.deliver(f);
}

fn udp_op(r: &mut Rig, u: &mut Unstructured<'_>) {
    let p = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % PEERS.len();
    let dst = if u.arbitrary::<bool>().unwrap_or(false) {
        [255; 4]
    } else {
        IP
    };
    let dst_mac = if dst == IP { MAC } else { BROADCAST_MAC };
    let sport = pick(u, &[5000, 67, 53]);
    let dport = pick(u, &[7, 7, 9, 68, 67, 53]);
    let n = usize::from(u.arbitrary::<u16>().unwrap_or(0) % 1400).min(u.len());
    let payload = u.bytes(n).unwrap_or(&[]);
    let f = udp_frame(
        (dst_mac, peer_mac(p)),
        (PEERS[p], dst),
        (sport, dport),
        payload,
    );
    r.deliver(f);
}

fn arp_op(r: &mut Rig, u: &mut Unstructured<'_>) {
    let op = pick(u, &[1u16, 2, 3]);
    let mac = if u.arbitrary::<bool>().unwrap_or(true) {
        peer_mac(usize::from(u.arbitrary::<u8>().unwrap_or(0) % 4))
    } else {
        u.arbitrary().unwrap_or([0; 6])
    };
    let sender_ip = ipv4(u);
    let target_ip = ipv4(u);
    let dst = if u.arbitrary::<bool>().unwrap_or(true) {
        BROADCAST_MAC
    } else {
        MAC
    };
    r.deliver(arp_frame(dst, op, (mac, sender_ip), (MAC, target_ip)));
}

fn dhcp_op(r: &mut Rig, u: &mut Unstructured<'_>) {
    let message_type = pick(
        u,
        &[
            DhcpMessageType::Offer,
            DhcpMessageType::Ack,
            DhcpMessageType::Nak,
        ],
    );
    let transaction_id = match r.dhcp_xid {
        Some(x) if u.arbitrary::<bool>().unwrap_or(true) => x,
        _ => u.arbitrary().unwrap_or(0),
    };
    let addr = |u: &mut Unstructured<'_>| Ipv4Address::from(ipv4(u));
    let server = PEERS[usize::from(u.arbitrary::<u8>().unwrap_or(0)) % 3];
    let your_ip = if u.arbitrary::<bool>().unwrap_or(true) {
        Ipv4Address::new(10, 0, 0, u.arbitrary().unwrap_or(77))
    } else {
        addr(u)
    };
    let router = u.arbitrary::<bool>().unwrap_or(false).then(|| addr(u));
    let mask_len = u.arbitrary::<u8>().unwrap_or(24) % 40;
    let subnet_mask = (mask_len < 33).then(|| {
        Ipv4Address::from_bits(u32::MAX.checked_shl(32 - u32::from(mask_len)).unwrap_or(0))
    });
    let dns: heapless::Vec<Ipv4Address, 3> = (0..u.arbitrary::<u8>().unwrap_or(0) % 4)
        .map(|_| addr(u))
        .take(3)
        .collect();
    let reply = DhcpRepr {
        message_type,
        transaction_id,
        secs: 0,
        client_hardware_address: EthernetAddress(MAC),
        client_ip: Ipv4Address::UNSPECIFIED,
        your_ip,
        server_ip: Ipv4Address::from(server),
        router,
        subnet_mask,
        relay_agent_ip: Ipv4Address::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: u
            .arbitrary::<bool>()
            .unwrap_or(true)
            .then_some(Ipv4Address::from(server)),
        parameter_request_list: None,
        dns_servers: Some(dns),
        max_size: None,
        lease_duration: u
            .arbitrary::<bool>()
            .unwrap_or(true)
            .then(|| u.arbitrary().unwrap_or(60)),
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    let mut payload = vec![0u8; reply.buffer_len()];
    if reply
        .emit(&mut DhcpPacket::new_unchecked(&mut payload[..]))
        .is_err()
    {
        return;
    }
    let p = PEERS.iter().position(|&a| a == server).unwrap_or(0);
    let f = udp_frame(
        (BROADCAST_MAC, peer_mac(p)),
        (server, [255; 4]),
        (67, 68),
        &payload,
    );
    r.deliver(f);
}

fn raw_op(r: &mut Rig, u: &mut Unstructured<'_>) {
    let n = usize::from(u.arbitrary::<u16>().unwrap_or(0) % 1515).min(u.len());
    let mut f = u.bytes(n).unwrap_or(&[]).to_vec();
    if u.arbitrary::<bool>().unwrap_or(true) {
        if f.len() >= 14 && u.arbitrary::<bool>().unwrap_or(true) {
            f[..6].copy_from_slice(&MAC);
        }
        fix_checksums(&mut f);
    }
    r.deliver(f);
}

/// An IPv6 packet (TCP, UDP, ICMPv6 with NDP, extension headers) from a neighbor, its
/// upper-layer checksum made valid.
fn ipv6_op(r: &mut Rig, u: &mut Unstructured<'_>) {
    let ours = r.cores[0].ipv6_link_local().unwrap_or([0; 16]);
    let mut solicited = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    solicited[13..].copy_from_slice(&ours[13..]);
    let peer = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let site = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
    let all_nodes = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let src = pick(u, &[peer, peer, site, [0; 16], all_nodes]);
    let dst = pick(u, &[ours, ours, solicited, all_nodes, site]);
    let next = pick(u, &[6u8, 58, 58, 17, 0, 44]);
    let n = usize::from(u.arbitrary::<u16>().unwrap_or(0) % 1400).min(u.len());
    let payload = u.bytes(n).unwrap_or(&[]);
    let dst_mac = if dst[0] == 0xff {
        [0x33, 0x33, dst[12], dst[13], dst[14], dst[15]]
    } else {
        MAC
    };
    let mut f = crate::netbuild::eth(dst_mac, peer_mac(1), 0x86dd);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[next, 255]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(payload);
    fix_checksums(&mut f);
    r.deliver(f);
}

fn app_op(r: &mut Rig, u: &mut Unstructured<'_>) {
    for (q, c) in r.cores.iter_mut().enumerate() {
        while let Ok(conn) = c.accept(80) {
            r.conns.push((q, conn));
        }
    }
    let mut buf = [0u8; 4096];
    let mut i = 0;
    while i < r.conns.len() {
        let (q, conn) = r.conns[i];
        let c = &mut r.cores[q];
        let _ = c.recv(conn, &mut buf);
        match u.arbitrary::<u8>().unwrap_or(0) % 4 {
            0 => {
                let n = usize::from(u.arbitrary::<u16>().unwrap_or(0)) % buf.len();
                let _ = c.send(conn, &buf[..n]);
            }
            1 => {
                let _ = c.close(conn);
                r.conns.swap_remove(i);
                continue;
            }
            2 => {
                let _ = c.abort(conn);
                r.conns.swap_remove(i);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

fn connect_op(r: &mut Rig, u: &mut Unstructured<'_>) {
    let q = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % CORES;
    // Mostly peers; also our own address, 0.0.0.0, broadcast and anything else.
    let p = ipv4(u);
    let port = pick(u, &[80u16, 443, 7, 0]);
    if let Ok(c) = r.cores[q].connect((p, port)) {
        r.conns.push((q, c));
    }
}

/// The harness.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = u.arbitrary::<u8>() else {
        return;
    };
    let Some(mut r) = Rig::new(setup) else {
        return;
    };
    r.poll();
    for _ in 0..MAX_OPS {
        // An exhausted input yields zeros forever: stop at its end.
        if u.is_empty() {
            break;
        }
        let op = u.arbitrary::<u8>().unwrap_or(0);
        match op % 10 {
            0 | 1 => tcp_op(&mut r, &mut u),
            2 => udp_op(&mut r, &mut u),
            3 => arp_op(&mut r, &mut u),
            4 => dhcp_op(&mut r, &mut u),
            5 => raw_op(&mut r, &mut u),
            6 => r.now_us += u64::from(u.arbitrary::<u16>().unwrap_or(0)) * 1000,
            7 => app_op(&mut r, &mut u),
            8 => connect_op(&mut r, &mut u),
            _ => ipv6_op(&mut r, &mut u),
        }
        r.poll();
    }
    // Let every timer run out: handshakes, keep-alives, closes, TIME-WAIT.
    for _ in 0..4 {
        r.now_us += 60_000_000;
        r.poll();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(r: &mut Rig, flags: u8, payload: &[u8]) {
        let (src, sport) = (PEERS[1], 1000);
        let flow = r.flows.entry((src, sport, 80)).or_default();
        if flags & 0x02 != 0 {
            flow.peer_next = 7;
        }
        let t = Tcp {
            sport,
            dport: 80,
            seq: flow.peer_next,
            ack: flow.stack_next,
            flags,
            window: 8192,
        };
        flow.peer_next = flow
            .peer_next
            .wrapping_add(payload.len() as u32 + u32::from(flags & 3 != 0));
        let f = tcp_frame((MAC, peer_mac(1)), (src, IP), t, &[], payload);
        r.deliver(f);
        r.poll();
    }

    /// A DHCP server offering a lease whose router is `router`, and the answer to the
    /// client's REQUEST.
    fn lease(r: &mut Rig, router: [u8; 4]) {
        for message_type in [DhcpMessageType::Offer, DhcpMessageType::Ack] {
            let reply = DhcpRepr {
                message_type,
                transaction_id: r.dhcp_xid.expect("a DISCOVER or REQUEST seen"),
                secs: 0,
                client_hardware_address: EthernetAddress(MAC),
                client_ip: Ipv4Address::UNSPECIFIED,
                your_ip: Ipv4Address::from(IP),
                server_ip: Ipv4Address::from(GATEWAY),
                router: Some(Ipv4Address::from(router)),
                subnet_mask: Some(Ipv4Address::new(255, 255, 255, 0)),
                relay_agent_ip: Ipv4Address::UNSPECIFIED,
                broadcast: false,
                requested_ip: None,
                client_identifier: None,
                server_identifier: Some(Ipv4Address::from(GATEWAY)),
                parameter_request_list: None,
                dns_servers: None,
                max_size: None,
                lease_duration: Some(3600),
                renew_duration: None,
                rebind_duration: None,
                additional_options: &[],
            };
            let mut payload = vec![0u8; reply.buffer_len()];
            reply
                .emit(&mut DhcpPacket::new_unchecked(&mut payload[..]))
                .unwrap();
            let f = udp_frame(
                (BROADCAST_MAC, peer_mac(0)),
                (GATEWAY, [255; 4]),
                (67, 68),
                &payload,
            );
            r.deliver(f);
            r.poll();
        }
    }

    /// A lease naming a router that is not a unicast address on the subnet is ignored
    /// (net/src/gateway.rs), and nothing stops the machine at the first off-link send
    /// (issue 11: smoltcp's neighbor cache asserted).
    #[test]
    fn bad_dhcp_router_then_off_link_syn() {
        for router in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [224, 0, 0, 1],
            [10, 0, 0, 255],
            [192, 0, 2, 1],
        ] {
            let mut r = Rig::new(1).unwrap();
            r.poll();
            lease(&mut r, router);
            assert!(
                r.cores[0].ipv4_config().is_none(),
                "a lease with router {router:?} was applied"
            );
            let t = Tcp {
                sport: 1000,
                dport: 80,
                seq: 7,
                ack: 0,
                flags: 0x02,
                window: 8192,
            };
            for c in 0..4u8 {
                let f = tcp_frame((MAC, peer_mac(0)), ([192, 0, 2, 7 + c], IP), t, &[], &[]);
                r.deliver(f);
            }
            r.poll();
        }
    }

    /// The rig's peer completes a handshake (answering ARP, tracking sequence numbers), so
    /// fuzzed segments reach established connections.
    #[test]
    fn a_peer_can_connect() {
        let mut r = Rig::new(0x0e).unwrap();
        r.poll();
        segment(&mut r, 0x02, &[]);
        assert!(
            r.flows[&(PEERS[1], 1000, 80)].stack_next != 0,
            "no SYN-ACK seen"
        );
        segment(&mut r, 0x10, &[]);
        segment(&mut r, 0x18, b"GET / HTTP/1.1\r\n\r\n");
        let est: usize = r.cores.iter().map(|c| c.connection_states()[4]).sum();
        assert_eq!(est, 1);
    }

    /// An IPv6 SYN to the link-local address, its checksum made valid by the harness, is
    /// answered: fuzzed IPv6 reaches the stack's TCP.
    #[test]
    fn ipv6_syn_is_answered() {
        let mut r = Rig::new(0x0e).unwrap();
        r.poll();
        let ours = r.cores[0].ipv6_link_local().unwrap();
        let mut f = crate::netbuild::eth(MAC, peer_mac(1), 0x86dd);
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&1000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = 0x02;
        tcp[14] = 0x20;
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, 20, 6, 64]);
        f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&ours);
        f.extend_from_slice(&tcp);
        fix_checksums(&mut f);
        r.deliver(f);
        let before: u64 = r
            .cores
            .iter()
            .map(|c| c.queue_counters().1.packets.get())
            .sum();
        r.poll();
        let after: u64 = r
            .cores
            .iter()
            .map(|c| c.queue_counters().1.packets.get())
            .sum();
        assert!(
            after > before,
            "no answer (neighbor solicitation or SYN-ACK) to an IPv6 SYN"
        );
    }
}
