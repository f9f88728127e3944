//! Tests of the queue adapter over the simulated NIC.

use super::*;
use crate::sim::{RING, SimNic};
use corenet_nic::steering::RssConfig;
use smoltcp::phy::{RxToken as _, TxToken as _};

extern crate std;
use std::vec::Vec;

fn arp_like(n: u8) -> Vec<u8> {
    let mut f = alloc::vec![0u8; 60];
    f[12] = 0x08;
    f[13] = 0x06;
    f[20] = n;
    f
}

#[test]
fn receives_in_place_and_releases() {
    let nic = SimNic::new(RssConfig::new(1).unwrap(), 1024);
    let (rx, tx) = nic.queue_pair(0);
    let mut dev = QueueDevice::new(rx, tx);
    let now = Instant::from_millis(0);
    assert!(dev.receive(now).is_none());
    // More frames than the RX ring holds: each one is released after use, so all pass.
    for i in 0..(RING + 50) {
        nic.deliver(arp_like(i as u8));
    }
    for i in 0..(RING + 50) {
        let (rxt, _txt) = dev.receive(now).expect("frame pending");
        rxt.consume(|b| assert_eq!(b[20], i as u8));
    }
    assert!(dev.receive(now).is_none());
    assert_eq!(dev.stats().rx_frames, (RING + 50) as u64);
    // A token dropped unused still gives its frame back.
    for i in 0..(RING + 1) {
        nic.deliver(arp_like(i as u8));
        drop(dev.receive(now));
    }
    assert!(dev.receive(now).is_none());
}

#[test]
fn tx_builds_in_place_and_flushes_once() {
    let nic = SimNic::new(RssConfig::new(1).unwrap(), 1024);
    let (rx, tx) = nic.queue_pair(0);
    let mut dev = QueueDevice::new(rx, tx);
    let now = Instant::from_millis(0);
    for i in 0..3u8 {
        dev.transmit(now)
            .expect("buffer free")
            .consume(60, |b| b[0] = i);
    }
    assert!(nic.take_sent().is_none(), "nothing leaves before flush");
    dev.flush();
    for i in 0..3u8 {
        assert_eq!(nic.take_sent().expect("sent")[0], i);
    }
    assert_eq!(dev.tx_queue().counters().doorbells.get(), 1);
}

#[test]
fn full_tx_ring_means_no_token_and_unused_tokens_keep_their_buffer() {
    let nic = SimNic::new(RssConfig::new(1).unwrap(), 1024);
    let (rx, tx) = nic.queue_pair(0);
    let mut dev = QueueDevice::new(rx, tx);
    let now = Instant::from_millis(0);
    // Unused tokens do not leak buffers.
    for _ in 0..(2 * RING) {
        let _unused = dev.transmit(now).expect("spare reused");
    }
    for _ in 0..RING {
        dev.transmit(now).expect("free").consume(64, |_| ());
    }
    assert!(dev.transmit(now).is_none());
    nic.deliver(arp_like(1));
    assert!(
        dev.receive(now).is_none(),
        "no reply buffer, frame stays queued"
    );
    dev.flush();
    assert!(dev.receive(now).is_some());
    // Oversize requests never fail the token.
    dev.transmit(now)
        .expect("free")
        .consume(9000, |b| b[8999] = 1);
    assert_eq!(dev.stats().tx_oversize, 1);
}

#[test]
fn injected_frames_come_first_and_replies_vanish() {
    let nic = SimNic::new(RssConfig::new(1).unwrap(), 1024);
    let (rx, tx) = nic.queue_pair(0);
    let mut dev = QueueDevice::new(rx, tx);
    let now = Instant::from_millis(0);
    nic.deliver(arp_like(1));
    dev.inject(arp_like(9));
    assert_eq!(dev.peek().map(|b| b[20]), Some(9));
    let (rxt, txt) = dev.receive(now).expect("injected");
    rxt.consume(|b| assert_eq!(b[20], 9));
    txt.consume(60, |b| b[0] = 1);
    dev.flush();
    assert!(
        nic.take_sent().is_none(),
        "reply to an injected frame is dropped"
    );
    assert_eq!(dev.peek().map(|b| b[20]), Some(1));
}
