//! Active opens to 10 000 random remote endpoints behind a router: every SYN-ACK, steered by
//! the NIC's Toeplitz hash, comes back to the core that opened the connection.

extern crate std;

use std::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr,
    TcpSeqNumber,
};

use super::*;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP, run_answering};

const ROUTER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x99]);
pub(super) const ROUTER_IP: [u8; 4] = [10, 0, 0, 254];

/// A router that answers ARP for itself and SYN-ACKs every SYN, as any remote host would.
pub(super) fn router_answer(frame: &[u8]) -> Option<Vec<u8>> {
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let us = eth.src_addr();
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()?;
            let ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Request,
                source_hardware_addr,
                source_protocol_addr,
                target_protocol_addr,
                ..
            } = arp
            else {
                return None;
            };
            let reply = ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: ROUTER_MAC,
                source_protocol_addr: target_protocol_addr,
                target_hardware_addr: source_hardware_addr,
                target_protocol_addr: source_protocol_addr,
            };
            let mut out = std::vec![0u8; 14 + reply.buffer_len()];
            let mut f = EthernetFrame::new_unchecked(&mut out[..]);
            EthernetRepr {
                src_addr: ROUTER_MAC,
                dst_addr: us,
                ethertype: EthernetProtocol::Arp,
            }
            .emit(&mut f);
            reply.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
            Some(out)
        }
        EthernetProtocol::Ipv4 => {
            let ip_pkt = Ipv4Packet::new_checked(eth.payload()).ok()?;
            let ip = Ipv4Repr::parse(&ip_pkt, &caps).ok()?;
            let (src, dst) = (IpAddress::Ipv4(ip.src_addr), IpAddress::Ipv4(ip.dst_addr));
            let tcp_pkt = TcpPacket::new_checked(ip_pkt.payload()).ok()?;
            let tcp = TcpRepr::parse(&tcp_pkt, &src, &dst, &caps).ok()?;
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
                max_seg_size: Some(1460),
                sack_permitted: false,
                sack_ranges: [None; 3],
                timestamp: None,
                payload: &[],
            };
            let ip_reply = Ipv4Repr {
                src_addr: ip.dst_addr,
                dst_addr: ip.src_addr,
                next_header: IpProtocol::Tcp,
                payload_len: reply.buffer_len(),
                hop_limit: 64,
            };
            let mut out = std::vec![0u8; 14 + ip_reply.buffer_len() + reply.buffer_len()];
            let mut f = EthernetFrame::new_unchecked(&mut out[..]);
            EthernetRepr {
                src_addr: ROUTER_MAC,
                dst_addr: us,
                ethertype: EthernetProtocol::Ipv4,
            }
            .emit(&mut f);
            let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
            ip_reply.emit(&mut p, &caps);
            reply.emit(
                &mut TcpPacket::new_unchecked(p.payload_mut()),
                &dst,
                &src,
                &caps,
            );
            Some(out)
        }
        _ => None,
    }
}

#[test]
fn ten_thousand_active_opens_to_random_endpoints_come_home() {
    const N: usize = 10_000;
    let queues = 4;
    let rss = RssConfig::new(queues).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 16);
    let mut cores: Vec<Core> = crate::testkit::cores_with(&nic, &rss, true, |c| {
        c.tcp_buffer = 256;
        c.bucket_bits = 12;
        c.gateway = Some(ROUTER_IP);
    });
    let mut rng = crate::testkit::Rng(0x1234_5678_9abc_def1);
    let mut conns = Vec::with_capacity(N);
    for i in 0..N {
        let seed = rng.next();
        // Public-looking addresses outside 10/8, any port but 0.
        let mut addr = (seed as u32).to_be_bytes();
        addr[0] = 11 + addr[0] % 200;
        let port = ((seed >> 32) as u16).max(1);
        let q = i % queues;
        let c = cores[q].connect((addr, port)).unwrap();
        let lport = cores[q].local_port(c).unwrap();
        assert_eq!(rss.queue_ipv4_l4(addr, OUR_IP, port, lport) as usize, q);
        conns.push((q, c));
    }
    let mut now = 0;
    run_answering(&mut cores, &nic, &mut now, 200, router_answer);
    let established = conns
        .iter()
        .filter(|&&(q, c)| cores[q].state(c) == Some(ConnState::Established))
        .count();
    assert_eq!(established, N);
    let steered = nic.stats().steered;
    assert!(
        steered.iter().all(|&n| n >= (N / queues) as u64),
        "{steered:?}"
    );
    assert!(cores.iter().all(|c| c.counters().drop_no_socket.get() == 0));
}
