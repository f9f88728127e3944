//! Loss recovery on the simulated wire, segment by segment: which segments our side sends
//! again after chosen losses (SACK holes, partial ACKs, tail loss probes), not only that the
//! transfer completes.

extern crate std;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::vec::Vec;

use super::*;
use crate::sim::{Faults, SimNic};
use crate::testkit::{OUR_IP, Peer, cores_with, ip4, run};

/// The payload of a full segment: Ethernet MTU less the IPv4 and TCP headers (no options).
const MSS: u32 = 1460;

/// What our side sent: how often each segment (by its offset in the stream) went out, and
/// how many milliseconds of virtual time the transfer took from its first byte to the peer
/// having all of it.
struct Sent {
    times: BTreeMap<u32, u32>,
    ms: u64,
    /// The core's loss counters once the connection was freed: recoveries, tail loss
    /// probes, RTOs.
    loss: (u64, u64, u64),
}

impl Sent {
    /// The segments (by index) sent more than once.
    fn resent(&self) -> Vec<(u32, u32)> {
        self.times
            .iter()
            .filter(|&(_, &n)| n > 1)
            .map(|(&off, &n)| (off / MSS, n))
            .collect()
    }
}

/// `(seq, payload length, SYN)` of a TCP/IPv4 frame.
pub(super) fn tcp_seg(frame: &[u8]) -> Option<(u32, u32, bool)> {
    let ip = frame.get(14..)?;
    if frame.get(12..14)? != [0x08, 0x00] || *ip.get(9)? != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = ip.get(ihl..total)?;
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    let hdr = usize::from(tcp.get(12)? >> 4) * 4;
    let syn = tcp[13] & 0x02 != 0;
    Some((seq, tcp.len().checked_sub(hdr)? as u32, syn))
}

/// Our side sends `segments` full segments to the peer over one connection, the application
/// writing them all at once; a transmission of a segment is dropped on the wire when
/// `lose(segment index, how many times it was sent including this once)` says so. Returns what was sent.
fn send_losing(
    segments: u32,
    lose: impl Fn(u32, u32) -> bool + 'static,
    faults: Option<Faults>,
) -> Sent {
    let len = (segments * MSS) as usize;
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    // RFC 6298's 1 s minimum RTO, so that a recovery within a second cannot be an RTO.
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = len.max(4096);
        c.tcp_rto_min_ms = MIN_RTO_MS;
    });
    let mut peer = Peer::new(&nic);
    cores[0].listen(5001).unwrap();
    let ph = peer.open((ip4(OUR_IP), 5001), 41_000, 256 * 1024);

    let times = Rc::new(RefCell::new(BTreeMap::<u32, u32>::new()));
    let isn = Rc::new(RefCell::new(None::<u32>));
    let (t, i) = (times.clone(), isn.clone());
    nic.set_tx_filter(std::boxed::Box::new(move |frame| {
        let Some((seq, n, syn)) = tcp_seg(frame) else {
            return false;
        };
        if syn {
            *i.borrow_mut() = Some(seq.wrapping_add(1));
            return false;
        }
        let Some(isn) = *i.borrow() else { return false };
        if n == 0 {
            return false;
        }
        let off = seq.wrapping_sub(isn);
        let mut t = t.borrow_mut();
        let seen = t.entry(off).or_insert(0);
        *seen += 1;
        off % MSS == 0 && lose(off / MSS, *seen)
    }));

    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    let h = cores[0].accept(5001).unwrap();
    if let Some(f) = faults {
        nic.set_faults(f);
    }
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    assert_eq!(cores[0].send(h, &data).unwrap(), len);
    let start = now;
    let mut got = Vec::new();
    let mut steps = 0;
    while got.len() < len {
        steps += 1;
        assert!(steps < 120_000, "stalled at {} of {len}", got.len());
        run(&mut cores, &mut peer, &mut now, 1);
        let ps = peer.tcp(ph);
        while ps.can_recv() {
            ps.recv(|b| {
                got.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
    }
    assert!(got == data, "the stream arrived altered");
    let ms = (now - start) / 1000;
    // The loss counters are taken from the socket when the connection is freed.
    cores[0].abort(h).unwrap();
    run(&mut cores, &mut peer, &mut now, 5);
    assert_eq!(cores[0].connections(), 0);
    let c = cores[0].counters().snapshot();
    let times = times.borrow().clone();
    Sent {
        times,
        ms,
        loss: (c.tcp_recoveries, c.tcp_loss_probes, c.tcp_rtos),
    }
}

/// The minimum RTO (RFC 6298 2.4): a transfer finishing sooner never waited for one.
const MIN_RTO_MS: u64 = 1000;

#[test]
fn a_clean_transfer_sends_every_segment_once() {
    let s = send_losing(40, |_, _| false, None);
    assert_eq!(s.resent(), []);
    assert_eq!(s.times.len(), 40);
    assert_eq!(s.loss, (0, 0, 0));
}

#[test]
fn one_lost_segment_is_resent_once_and_alone() {
    let s = send_losing(40, |i, n| n == 1 && i == 10, None);
    assert_eq!(s.resent(), [(10, 2)], "only the hole goes again");
    assert_eq!(s.loss, (1, 0, 0), "one recovery, counted");
    assert!(
        s.ms < MIN_RTO_MS,
        "recovered by fast retransmit, took {} ms",
        s.ms
    );
}

/// Two holes in one short flight: the first is found by duplicate ACKs; the partial ACK
/// that its retransmission brings names the second (RFC 6582), as do the peer's SACK blocks
/// (RFC 6675). Without either, the second hole waits for an RTO, and the go-back-N that
/// follows sends the segments after it again too.
#[test]
fn two_holes_in_a_short_flight_are_each_resent_once() {
    let s = send_losing(10, |i, n| n == 1 && (i == 3 || i == 6), None);
    assert_eq!(s.resent(), [(3, 2), (6, 2)]);
    assert!(s.ms < MIN_RTO_MS, "waited for an RTO: {} ms", s.ms);
}

/// A burst of five consecutive losses: SACK recovery resends exactly the burst, one hole
/// per ACK, without an RTO.
#[test]
fn a_burst_loss_is_repaired_from_the_sack_scoreboard() {
    let s = send_losing(30, |i, n| n == 1 && (5..10).contains(&i), None);
    assert_eq!(s.resent(), [(5, 2), (6, 2), (7, 2), (8, 2), (9, 2)]);
    assert!(s.ms < MIN_RTO_MS, "waited for an RTO: {} ms", s.ms);
}

/// The last segment lost: no segment follows to raise duplicate ACKs, so only a timer can
/// find it. A tail loss probe (RFC 8985) resends it after a few round trips rather than the
/// 1 s minimum RTO.
#[test]
fn a_lost_tail_is_probed_before_the_rto() {
    let s = send_losing(20, |i, n| n == 1 && i == 19, None);
    assert_eq!(s.resent(), [(19, 2)]);
    assert_eq!(s.loss, (0, 1, 0), "one probe, counted");
    assert!(s.ms < MIN_RTO_MS, "waited for an RTO: {} ms", s.ms);
}

/// A retransmission lost as well (segment 8 lost twice): recovery has nothing left to
/// resend, and the probe repairs it rather than an RTO.
#[test]
fn a_lost_retransmission_is_probed_before_the_rto() {
    let s = send_losing(20, |i, n| i == 8 && n <= 2, None);
    assert_eq!(s.resent(), [(8, 3)]);
    assert!(s.ms < MIN_RTO_MS, "waited for an RTO: {} ms", s.ms);
}

/// Reordering (a segment overtaken by the next one, 5 % of frames) raises at most one
/// duplicate ACK each and no more than a segment's worth of SACKed data above a hole:
/// below DupThresh, so no loss recovery starts and nothing is sent twice by it. The
/// simulated wire holds a reordered frame until the next one in its direction: an ACK held
/// at the end of a round has no successor, which is a lost tail ACK until the probe timer
/// (10 ms here) sends the first unacknowledged segment again; that resend (with the initial
/// window of ten segments, smoltcp patch 12: one, segment 0) is the probe's, not recovery's.
#[test]
fn reordering_below_dupthresh_resends_nothing() {
    let s = send_losing(
        400,
        |_, _| false,
        Some(Faults {
            reorder: 50,
            seed: 0x0de5,
            ..Faults::default()
        }),
    );
    let (recoveries, probes, rtos) = s.loss;
    assert_eq!((recoveries, rtos), (0, 0), "reordering started no recovery");
    assert!(
        s.resent()
            .iter()
            .map(|&(_, n)| u64::from(n - 1))
            .sum::<u64>()
            <= probes,
        "only probes resent: {:?}, {probes} probes",
        s.resent()
    );
}
