//! A peer that sends past the window of our SYN-ACK (passt did, after our SYN-ACK was resent)
//! must not have those octets counted as received. smoltcp kept the SYN-ACK's window, which
//! is never scaled, as if it were, so the right edge it checked segments against was 2^shift
//! times the one advertised; octets past the buffer went into the reassembly ranges with
//! nothing written for them, and the echo appliance sent back 324 zero octets in the middle
//! of a 256 KiB stream (`tests/e2e/echo_app.py`, about 1 run in 20 under load). smoltcp
//! patch 17.

extern crate std;

use std::vec;
use std::vec::Vec;

use smoltcp::wire::{TcpControl, TcpRepr, TcpSeqNumber};

use super::synwire::{emit, frame_len};
use super::tests_stale::parse_sent;
use super::tests_synflood::tick;
use super::*;
use crate::ip::IpAddr;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, Peer, cores_with};

pub(super) const PORT: u16 = 40_001;

/// A segment from the peer's `PORT` to our port 80 with a window scale of 7 on a SYN.
pub(super) fn frame(seq: u32, ack: Option<u32>, control: TcpControl, payload: &[u8]) -> Vec<u8> {
    let syn = control == TcpControl::Syn;
    let tcp = TcpRepr {
        src_port: PORT,
        dst_port: 80,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 512,
        window_scale: syn.then_some(7),
        max_seg_size: syn.then_some(1460),
        sack_permitted: false,
        sack_ranges: [None, None, None],
        timestamp: None,
        payload,
    };
    let (src, dst) = (IpAddr::V4(PEER_IP), IpAddr::V4(OUR_IP));
    let mut buf = vec![0u8; frame_len(src, &tcp)];
    emit(&mut buf, (OUR_MAC, PEER_MAC), (src, dst), 64, &tcp);
    buf
}

/// Our SYN-ACK to `PORT`: (its sequence number, window field, window scale).
pub(super) fn syn_ack(nic: &SimNic) -> Option<(u32, u16, u8)> {
    while let Some(f) = nic.take_sent() {
        if let Some(r) =
            parse_sent(&f).filter(|r| r.dst_port == PORT && r.control == TcpControl::Syn)
        {
            return Some((r.seq, r.window, r.window_scale.unwrap_or(0)));
        }
    }
    None
}

pub(super) fn ticks(core: &mut Core, now: &mut u64, n: usize) {
    for _ in 0..n {
        *now += 1000;
        core.poll(*now);
    }
}

/// One core listening on port 80 behind a one-queue simulated NIC, the peer's address
/// already resolved (by a first connection from the peer's stack, accepted); from here on a
/// test writes the peer's frames itself and polls only the core: (core, nic, now).
pub(super) fn listening(cfg: impl Fn(&mut StackConfig)) -> (Core, SimNic, u64) {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut core = cores_with(&nic, &rss, false, cfg).pop().unwrap();
    core.listen(80).unwrap();
    let mut now = 0;
    let mut peer = Peer::new(&nic);
    peer.connect(40_000, 80);
    for _ in 0..100 {
        tick(&mut core, &mut peer, &mut now);
    }
    core.accept(80).expect("the first connection");
    while nic.take_sent().is_some() {}
    (core, nic, now)
}

#[test]
fn octets_past_the_syn_ack_window_are_not_taken_as_received() {
    // Passive opens offer the window scale of 640 KiB buffers (the guest's default), and
    // start with 16 KiB ones.
    let (mut core, nic, mut now) = listening(|c| c.tcp_buffer_auto_max = 640 << 10);
    let isn = 0x2000_0000u32;
    nic.deliver(frame(isn, None, TcpControl::Syn, &[]));
    ticks(&mut core, &mut now, 3);
    let (ours, window, shift) = syn_ack(&nic).expect("a SYN-ACK");
    assert!(shift > 0, "the test needs a scaled window (shift {shift})");
    let window = u32::from(window);
    // The handshake's ACK, carrying octets that start at the right edge of the SYN-ACK's window.
    let past = vec![0xee; 1000];
    nic.deliver(frame(
        isn.wrapping_add(1 + window),
        Some(ours.wrapping_add(1)),
        TcpControl::None,
        &past,
    ));
    ticks(&mut core, &mut now, 3);
    let conn = core.accept(80).expect("the ACK completes the handshake");
    // Then the window's octets, in order, and the octets past it once more.
    let mut seq = isn.wrapping_add(1);
    for chunk in vec![0xab; window as usize].chunks(1000) {
        nic.deliver(frame(
            seq,
            Some(ours.wrapping_add(1)),
            TcpControl::None,
            chunk,
        ));
        seq = seq.wrapping_add(chunk.len() as u32);
        ticks(&mut core, &mut now, 1);
    }
    ticks(&mut core, &mut now, 3);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = core.recv(conn, &mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    // Without patch 17 the 1 000 octets past the edge were counted as received: the reader
    // got `window + 1000` octets, the last 1 000 never written (zeros).
    assert_eq!(got.len(), window as usize, "octets received");
    assert!(got.iter().all(|&b| b == 0xab), "received octets not sent");
}
