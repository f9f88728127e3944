//! A client that reuses the ports of a connection we still hold (its FIN or RST was lost in a
//! full host queue, as after a 10 000-connection wrk run) gets a challenge ACK for its SYN,
//! resets our side with it, and its next SYN opens a new connection at once.

extern crate std;

use std::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetFrame, IpAddress, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr,
};

use super::tests_spurious::client_frame;
use super::tests_synflood::{connected, tick};
use super::*;
use crate::sim::SimNic;
use crate::testkit::Core;

/// What a TCP/IPv4 frame the core sent says.
pub(super) struct SentSeg {
    pub dst_port: u16,
    pub control: TcpControl,
    pub seq: u32,
    pub ack: Option<u32>,
    pub window: u16,
    pub window_scale: Option<u8>,
}

/// Parses a frame the core sent as TCP over IPv4 (`None` for anything else).
pub(super) fn parse_sent(f: &[u8]) -> Option<SentSeg> {
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(f).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let ipr = Ipv4Repr::parse(&ip, &caps).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let (s, d) = (IpAddress::Ipv4(ipr.src_addr), IpAddress::Ipv4(ipr.dst_addr));
    let r = TcpRepr::parse(&tcp, &s, &d, &caps).ok()?;
    Some(SentSeg {
        dst_port: r.dst_port,
        control: r.control,
        seq: r.seq_number.0 as u32,
        ack: r.ack_number.map(|a| a.0 as u32),
        window: r.window_len,
        window_scale: r.window_scale,
    })
}

/// The TCP segments the core sent to `port`: (control, seq, ack).
fn sent_to(nic: &SimNic, port: u16) -> Vec<(TcpControl, u32, Option<u32>)> {
    let mut out = Vec::new();
    while let Some(f) = nic.take_sent() {
        if let Some(r) = parse_sent(&f).filter(|r| r.dst_port == port) {
            out.push((r.control, r.seq, r.ack));
        }
    }
    out
}

fn ticks(core: &mut Core, now: &mut u64, n: usize) {
    for _ in 0..n {
        *now += 1000;
        core.poll(*now);
    }
}

#[test]
fn a_syn_on_a_connection_we_still_hold_is_challenged_and_the_ports_reused() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut now = 0;
    let (mut core, mut peer, _h, conn) = connected(&nic, &rss, &mut now);
    for _ in 0..20 {
        tick(&mut core, &mut peer, &mut now);
    }
    while nic.take_sent().is_some() {}
    // The client forgot the connection (its RST was lost) and opens a new one from the same
    // port: a fresh ISN, no ACK.
    let isn = 0x1000_0000u32;
    nic.deliver(client_frame(40_000, isn, None, TcpControl::Syn, None));
    ticks(&mut core, &mut now, 5);
    let sent = sent_to(&nic, 40_000);
    let challenge = sent
        .iter()
        .find(|(c, _, ack)| *c == TcpControl::None && ack.is_some());
    let Some(&(_, _, Some(rcv_nxt))) = challenge else {
        panic!("the SYN was not answered (sent {sent:?})");
    };
    // Linux in SYN-SENT answers an ACK for something it never sent with a RST at its
    // acknowledgment number, which is exactly our RCV.NXT: our connection is reset.
    nic.deliver(client_frame(40_000, rcv_nxt, None, TcpControl::Rst, None));
    ticks(&mut core, &mut now, 5);
    let mut b = [0u8; 8];
    assert!(
        core.recv(conn, &mut b).is_err(),
        "the connection was not reset"
    );
    // The application closes the handle of a reset connection (as httpd does).
    core.close(conn).unwrap();
    ticks(&mut core, &mut now, 5);
    // Its SYN retransmission now opens a new connection.
    nic.deliver(client_frame(40_000, isn, None, TcpControl::Syn, None));
    ticks(&mut core, &mut now, 5);
    let sent = sent_to(&nic, 40_000);
    assert!(
        sent.iter()
            .any(|&(c, _, ack)| c == TcpControl::Syn && ack == Some(isn.wrapping_add(1))),
        "no SYN-ACK for the reused ports (sent {sent:?})"
    );
}
