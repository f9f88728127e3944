//! What passt 2023 (Debian 12's user-mode networking, `qemu-run.sh`'s default) sends, and
//! what our side must make of it (smoltcp patches 18, 19 and 20; bench/passt_echo.py
//! measures them end to end).
//!
//! - Data segments that cannot be taken (wholly old, past the window) are answered with one
//!   ACK per receive batch, not one each (patch 18): passt resends its whole flight on every
//!   duplicate ACK, and answering each resent segment fed that back into itself; a capture
//!   of `tests/e2e/e2e.py`'s 1 MB echo through passt showed 678 ACKs in a row from the
//!   guest, frames dropped in the storm, and the echo ending 1 132 octets short when passt
//!   gave up on the connection. Out-of-order segments above a hole are still acknowledged
//!   one by one (the peer counts them for fast retransmit).
//! - A data segment whose acknowledgment is older than what the peer already acknowledged
//!   delivers its data (patch 19): passt resends frames it built earlier, old ACK field
//!   included; smoltcp dropped them whole, silently, and the segments after them piled up
//!   out of order until passt's 2 s retransmission timer.
//! - An ACK numbered one below what we expect next (passt numbers its ACKs after its FIN
//!   with the FIN's sequence number) has its acknowledgment taken (patch 20): smoltcp took
//!   it for a keep-alive and dropped the acknowledgment of our FIN, so the connection stayed
//!   in LAST-ACK, resending, for 60 s.

extern crate std;

use std::vec;
use std::vec::Vec;

use smoltcp::wire::TcpControl;

use super::tests_overrun::{PORT, frame, listening, syn_ack, ticks};
use super::tests_stale::parse_sent;
use super::*;
use crate::sim::SimNic;
use crate::testkit::Core;

/// A core with a connection from the test's `PORT` to port 80, handshake written by hand:
/// (core, nic, our next sequence number, the peer's next sequence number, now).
fn connected() -> (Core, SimNic, u32, u32, u64, TcpConn) {
    let (mut core, nic, mut now) = listening(|_| {});
    let isn = 0x3000_0000u32;
    nic.deliver(frame(isn, None, TcpControl::Syn, &[]));
    ticks(&mut core, &mut now, 3);
    let (ours, _, _) = syn_ack(&nic).expect("a SYN-ACK");
    let ours = ours.wrapping_add(1);
    let theirs = isn.wrapping_add(1);
    nic.deliver(frame(theirs, Some(ours), TcpControl::None, &[]));
    ticks(&mut core, &mut now, 3);
    let conn = core.accept(80).expect("the ACK completes the handshake");
    (core, nic, ours, theirs, now, conn)
}

/// Delivers the peer's 1 000-octet segments `range` (by index from `theirs`), acknowledging
/// `ours`, without polling: they arrive in one receive batch.
fn segments(nic: &SimNic, theirs: u32, ours: u32, range: core::ops::Range<u32>, data: &[u8]) {
    for i in range {
        nic.deliver(frame(
            theirs.wrapping_add(i * 1000),
            Some(ours),
            TcpControl::None,
            data,
        ));
    }
}

/// The ACKs the core sent to `PORT` since the last call: their acknowledgment numbers.
fn acks(nic: &SimNic) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(f) = nic.take_sent() {
        if let Some(r) = parse_sent(&f).filter(|r| r.dst_port == PORT) {
            out.extend(r.ack);
        }
    }
    out
}

#[test]
fn a_batch_of_duplicate_segments_is_answered_once() {
    let (mut core, nic, ours, theirs, mut now, _) = connected();
    let data = vec![0x5a; 1000];
    segments(&nic, theirs, ours, 0..2, &data);
    ticks(&mut core, &mut now, 1);
    // The delayed ACK may or may not have gone yet: let it, then start counting.
    ticks(&mut core, &mut now, 300);
    let expected = theirs.wrapping_add(2000);
    assert_eq!(
        acks(&nic).last(),
        Some(&expected),
        "the two segments acknowledged"
    );
    // The peer resends both segments ten times over, all in one receive batch.
    for _ in 0..10 {
        segments(&nic, theirs, ours, 0..2, &data);
    }
    ticks(&mut core, &mut now, 1);
    // Without patch 18: 20 ACKs, one per resent segment.
    assert_eq!(acks(&nic), vec![expected], "one ACK for the batch");
    // A later batch is answered again (the peer may have lost the first answer).
    for _ in 0..3 {
        segments(&nic, theirs, ours, 0..1, &data);
    }
    ticks(&mut core, &mut now, 1);
    assert_eq!(acks(&nic), vec![expected], "one ACK for the next batch");
}

#[test]
fn out_of_order_segments_are_each_still_acknowledged() {
    let (mut core, nic, ours, theirs, mut now, _) = connected();
    let data = vec![0xa5; 1000];
    // The first segment is lost; the next three arrive in one batch.
    segments(&nic, theirs, ours, 1..4, &data);
    ticks(&mut core, &mut now, 1);
    assert_eq!(
        acks(&nic),
        vec![theirs; 3],
        "three duplicate ACKs, for the peer's fast retransmit"
    );
}

#[test]
fn data_under_an_old_acknowledgment_is_taken() {
    let (mut core, nic, ours, theirs, mut now, conn) = connected();
    // Our side sends 3 000 octets; the peer acknowledges them.
    assert_eq!(core.send(conn, &[7u8; 3000]), Ok(3000));
    ticks(&mut core, &mut now, 2);
    let _ = acks(&nic);
    nic.deliver(frame(
        theirs,
        Some(ours.wrapping_add(3000)),
        TcpControl::None,
        &[],
    ));
    ticks(&mut core, &mut now, 2);
    // Then data, in order, in a frame the peer built before that acknowledgment.
    nic.deliver(frame(theirs, Some(ours), TcpControl::None, &[0x42; 1000]));
    ticks(&mut core, &mut now, 300);
    let mut buf = [0u8; 2000];
    // Without patch 19 the segment was dropped whole: nothing to read, nothing acknowledged.
    assert_eq!(core.recv(conn, &mut buf), Ok(1000), "the data was taken");
    assert!(buf[..1000].iter().all(|&b| b == 0x42));
    assert_eq!(acks(&nic).last(), Some(&theirs.wrapping_add(1000)));
    // Our side's send state kept the newer acknowledgment: more data goes out at once.
    assert_eq!(core.send(conn, &[8u8; 1000]), Ok(1000));
    ticks(&mut core, &mut now, 2);
    let mut sent = Vec::new();
    while let Some(f) = nic.take_sent() {
        if let Some(r) = parse_sent(&f).filter(|r| r.dst_port == PORT) {
            sent.push(r.seq);
        }
    }
    assert!(
        sent.contains(&ours.wrapping_add(3000)),
        "new data follows the acknowledged octets: {sent:?}"
    );
}

#[test]
fn an_ack_of_our_fin_numbered_before_the_peers_fin_ends_the_connection() {
    let (mut core, nic, ours, theirs, mut now, conn) = connected();
    let held = core.connections();
    // The peer finishes first; our side then closes (LAST-ACK, our FIN out).
    nic.deliver(frame(theirs, Some(ours), TcpControl::Fin, &[]));
    ticks(&mut core, &mut now, 2);
    let _ = core.close(conn);
    ticks(&mut core, &mut now, 2);
    let _ = acks(&nic);
    // The peer acknowledges our FIN in a segment numbered with its own FIN's sequence number
    // (one below what we expect next), as passt 2023 does.
    nic.deliver(frame(
        theirs,
        Some(ours.wrapping_add(1)),
        TcpControl::None,
        &[],
    ));
    ticks(&mut core, &mut now, 2);
    // Without patch 20 the acknowledgment was dropped: our side kept resending its FIN
    // until the connection timed out.
    assert_eq!(core.connections(), held - 1, "the connection ended");
    assert!(acks(&nic).is_empty(), "nothing resent");
}
