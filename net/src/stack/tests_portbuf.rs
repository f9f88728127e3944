//! Per-listener TCP buffers: a port's own size within the core's budget, `tcp_buffer`
//! past it, the budget given back when a connection is freed; window scaling advertised.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{Peer, cores_with, run};

const SMALL: usize = 4096;
const BIG: usize = 256 * 1024;

/// One core listening on 7 (buffers of `BIG`, budget for two such connections) and 80.
fn setup(nic: &SimNic) -> Vec<crate::testkit::Core> {
    let rss = RssConfig::new(1).unwrap();
    let mut cores = cores_with(nic, &rss, false, |c| {
        c.tcp_buffer = SMALL;
        c.port_buffers[0] = (7, BIG);
        c.port_buffer_budget = 2 * 2 * (BIG - SMALL);
    });
    cores[0].listen(7).unwrap();
    cores[0].listen(80).unwrap();
    cores
}

/// Opens a connection from the peer's `lport` to our `port`: its handle and the size of
/// its send buffer (nothing is queued yet, so the room to send is the whole buffer).
fn open(
    cores: &mut [crate::testkit::Core],
    peer: &mut Peer,
    now: &mut u64,
    lport: u16,
    port: u16,
) -> (TcpConn, usize) {
    peer.connect(lport, port);
    run(cores, peer, now, 10);
    let h = cores[0].accept(port).unwrap();
    (h, cores[0].send_room(h))
}

#[test]
fn a_port_gets_its_own_buffers_within_the_budget() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss, 4096);
    let mut cores = setup(&nic);
    let mut peer = Peer::new(&nic);
    let mut now = 0;
    let (a, size_a) = open(&mut cores, &mut peer, &mut now, 30_000, 7);
    let (_b, size_b) = open(&mut cores, &mut peer, &mut now, 30_001, 7);
    let (_web, size_web) = open(&mut cores, &mut peer, &mut now, 30_002, 80);
    assert_eq!((size_a, size_b, size_web), (BIG, BIG, SMALL));
    // The budget holds two: the third connection on 7 is served, with `tcp_buffer`.
    let (_c, size_c) = open(&mut cores, &mut peer, &mut now, 30_003, 7);
    assert_eq!(size_c, SMALL);
    assert_eq!(cores[0].counters().snapshot().port_buffer_fallback, 1);
    // Freeing a big connection gives its share back.
    cores[0].abort(a).unwrap();
    run(&mut cores, &mut peer, &mut now, 10);
    let (_d, size_d) = open(&mut cores, &mut peer, &mut now, 30_004, 7);
    assert_eq!(size_d, BIG);
    assert_eq!(cores[0].counters().snapshot().port_buffer_fallback, 1);
}

/// The window scale option of our SYN-ACK to a SYN for `port` (None: not offered).
fn syn_ack_window_scale(port: u16) -> Option<u8> {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss, 4096);
    let mut cores = setup(&nic);
    let mut peer = Peer::new(&nic);
    let scale = std::rc::Rc::new(core::cell::Cell::new(None));
    let seen = scale.clone();
    nic.set_tx_filter(std::boxed::Box::new(move |f: &[u8]| {
        // Ethernet, IPv4 without options, TCP: flags SYN|ACK, then the options.
        if f.len() > 54 && f[23] == 6 && f[47] == 0x12 {
            let opts = &f[54..(34 + ((f[46] >> 4) as usize) * 4).min(f.len())];
            let mut i = 0;
            while i < opts.len() {
                match opts[i] {
                    0 => break,
                    1 => i += 1,
                    kind => {
                        let len = opts.get(i + 1).copied().unwrap_or(0) as usize;
                        if kind == 3 && len == 3 {
                            seen.set(opts.get(i + 2).copied());
                        }
                        i += len.max(2);
                    }
                }
            }
        }
        false
    }));
    let mut s = <Peer>::socket(BIG);
    let [a, b, c, d] = crate::testkit::OUR_IP;
    s.connect(
        peer.iface.context(),
        (smoltcp::wire::Ipv4Address::new(a, b, c, d), port),
        41_000,
    )
    .unwrap();
    peer.sockets.add(s);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    assert!(cores[0].accept(port).is_ok());
    scale.get()
}

#[test]
fn a_big_port_buffer_scales_the_window() {
    // 256 KiB needs a shift of 3 (65 535 << 2 falls 4 octets short).
    assert_eq!(syn_ack_window_scale(7), Some(3));
    // 4 KiB: smoltcp offers scaling with a shift of 0 to a peer that asks for it.
    assert_eq!(syn_ack_window_scale(80), Some(0));
}

/// Sized to the path on the simulated wire's 1 ms round trip: 1 ms x 12.5 MB/s rounds up
/// to 16 KiB, far from the 256 KiB allowed (the long path: `tests_longpath`).
#[test]
fn auto_sizing_keeps_a_short_path_small() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = SMALL;
        c.tcp_buffer_auto_max = BIG;
        c.port_buffer_budget = 1 << 20;
    });
    cores[0].listen(80).unwrap();
    let mut peer = Peer::new(&nic);
    let mut now = 0;
    let (_h, size) = open(&mut cores, &mut peer, &mut now, 30_000, 80);
    assert_eq!(size, 16 * 1024);
    assert_eq!(cores[0].counters().snapshot().path_sized, 1);
}

/// A heap with no block for a connection's buffers: a peer's SYN is answered with RST and
/// an application's connect fails with `NoMemory`; the core goes on (the allocation used to
/// be infallible, and its failure the allocation-error panic).
#[test]
fn no_heap_for_buffers_refuses_the_connection_not_the_core() {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    // No heap gives a buffer this large, so every socket allocation fails.
    let mut cores = cores_with(&nic, &rss, false, |c| c.tcp_buffer = 1 << 60);
    cores[0].listen(7).unwrap();
    let mut peer = Peer::new(&nic);
    let mut now = 0;
    let h = peer.connect(30_000, 7);
    run(&mut cores, &mut peer, &mut now, 10);
    assert_eq!(cores[0].accept(7), Err(AcceptError::WouldBlock));
    assert_eq!(cores[0].counters().snapshot().refused, 1);
    // The RST reached the peer: its connection is closed, not waiting on a lost SYN.
    assert_eq!(
        peer.tcp(h).state(),
        smoltcp::socket::tcp::State::Closed,
        "the peer's SYN was not answered"
    );
    assert_eq!(
        cores[0].connect((crate::testkit::PEER_IP, 9)),
        Err(ConnectError::NoMemory)
    );
}
