//! A response resent by the retransmission timer that the client already had (its ACK was lost
//! in a full host queue) is reported back as a duplicate (D-SACK); the timer then waits longer.

extern crate std;

use std::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetFrame, IpAddress, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};

use super::synwire::{emit, frame_len};
use super::tests_synflood::{connected, tick};
use super::*;
use crate::ip::IpAddr;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP, OUR_MAC, PEER_IP, PEER_MAC};

/// A data segment the core sent: (its sequence number, length, the peer's next sequence
/// number as the core acknowledged it, the peer's port).
pub(super) fn data_seg(frame: &[u8]) -> Option<(u32, usize, u32, u16)> {
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let ipr = Ipv4Repr::parse(&ip, &caps).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let r = TcpRepr::parse(
        &tcp,
        &IpAddress::Ipv4(ipr.src_addr),
        &IpAddress::Ipv4(ipr.dst_addr),
        &caps,
    )
    .ok()?;
    if r.payload.is_empty() {
        return None;
    }
    Some((
        r.seq_number.0 as u32,
        r.payload.len(),
        r.ack_number?.0 as u32,
        r.dst_port,
    ))
}

/// A segment from the peer's `port` to our port 80, no payload.
pub(super) fn client_frame(
    port: u16,
    seq: u32,
    ack: Option<u32>,
    control: TcpControl,
    sack: Option<(u32, u32)>,
) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: port,
        dst_port: 80,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 4096,
        window_scale: None,
        max_seg_size: (control == TcpControl::Syn).then_some(1460),
        sack_permitted: false,
        sack_ranges: [sack, None, None],
        timestamp: None,
        payload: &[],
    };
    let (src, dst) = (IpAddr::V4(PEER_IP), IpAddr::V4(OUR_IP));
    let mut buf = std::vec![0u8; frame_len(src, &tcp)];
    emit(&mut buf, (OUR_MAC, PEER_MAC), (src, dst), 64, &tcp);
    buf
}

/// The client's pure ACK of `(seq, len)`, with a D-SACK block over the same octets when
/// `dsack` (what Linux sends for a segment it receives twice).
fn client_ack(seg: (u32, usize, u32, u16), dsack: bool) -> Vec<u8> {
    let (seq, len, peer_seq, port) = seg;
    let end = seq.wrapping_add(len as u32);
    let block = dsack.then_some((seq, end));
    client_frame(port, peer_seq, Some(end), TcpControl::None, block)
}

/// The core answers one 100-byte response on `conn`, the client acknowledges nothing: the
/// core's ticks (1 ms) until it sends the response again. Returns the segment and the delay.
fn resend_delay(
    core: &mut Core,
    nic: &SimNic,
    conn: TcpConn,
    now: &mut u64,
) -> ((u32, usize, u32, u16), u64) {
    assert_eq!(core.send(conn, &[5; 100]), Ok(100));
    let mut first: Option<((u32, usize, u32, u16), u64)> = None;
    for _ in 0..20_000 {
        *now += 1000;
        core.poll(*now);
        while let Some(f) = nic.take_sent() {
            let Some(seg) = data_seg(&f) else { continue };
            match first {
                None => first = Some((seg, *now)),
                Some((s, at)) if s.0 == seg.0 => return (s, (*now - at) / 1000),
                Some(_) => {}
            }
        }
    }
    panic!("the response was never resent");
}

/// The delays (ms) before the core resends a response whose ACK is lost, the first time, and
/// again two exchanges later, when the client reported the first resend as a duplicate.
fn delays_around_a_dsack() -> (u64, u64) {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut now = 0;
    let (mut core, mut peer, h, conn) = connected(&nic, &rss, &mut now);
    // Request/response warm-up through the smoltcp client: RTT samples of about 1 ms.
    let mut buf = [0u8; 256];
    for _ in 0..10 {
        peer.tcp(h).send_slice(b"GET").unwrap();
        for _ in 0..5 {
            tick(&mut core, &mut peer, &mut now);
        }
        assert_eq!(core.recv(conn, &mut buf), Ok(3));
        assert_eq!(core.send(conn, &[1; 100]), Ok(100));
        for _ in 0..5 {
            tick(&mut core, &mut peer, &mut now);
        }
        assert_eq!(peer.tcp(h).recv_slice(&mut buf), Ok(100));
    }
    for _ in 0..50 {
        tick(&mut core, &mut peer, &mut now);
    }
    while nic.take_sent().is_some() {}
    // From here the client is scripted. The first response's ACK is lost; the resend draws a
    // D-SACK, as from Linux.
    let (seg, first) = resend_delay(&mut core, &nic, conn, &mut now);
    nic.deliver(client_ack(seg, true));
    // One exchange acknowledged at once (a fresh RTT sample, ending any RTO backoff).
    assert_eq!(core.send(conn, &[6; 100]), Ok(100));
    let mut acked = false;
    for _ in 0..100 {
        now += 1000;
        core.poll(now);
        while let Some(f) = nic.take_sent() {
            if let Some(s) = data_seg(&f) {
                nic.deliver(client_ack(s, false));
                acked = true;
            }
        }
        if acked {
            break;
        }
    }
    assert!(acked, "the second response was not sent");
    for _ in 0..5 {
        now += 1000;
        core.poll(now);
    }
    while nic.take_sent().is_some() {}
    let (_, again) = resend_delay(&mut core, &nic, conn, &mut now);
    (first, again)
}

/// Without the D-SACK response the timer fires as early the second time (200 ms, the
/// minimum RTO); with it, the second resend waits more than twice as long.
#[test]
fn a_dsacked_resend_makes_the_timer_wait_longer() {
    let (first, again) = delays_around_a_dsack();
    assert!(first >= 200, "first resend after {first} ms");
    assert!(
        again > 2 * first,
        "resent after {first} ms, then after {again} ms"
    );
}
