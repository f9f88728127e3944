//! Four `CoreStack`s on four threads over soft queues: the hardware queue pair, the peer
//! host and core 0 share one thread (the owning core's loop pumps the distributor), cores
//! 1-3 run their own loops. Every echo completes on the core the hash names.

extern crate std;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant as Clock};
use std::vec::Vec;

use corenet_nic::steering::RssConfig;

use super::{SoftRx, SoftTx, soft_queues};
use crate::sim::SimNic;
use crate::stack::{CoreStack, RecvError, TcpConn};
use crate::testkit::pattern::{fill, first_wrong};
use crate::testkit::{OUR_IP, PEER_IP, Peer, ip4, stacks};

const CORES: usize = 4;
const CONNS: u16 = 32;
const MSG: usize = 3000;

type Core = CoreStack<SoftRx, SoftTx>;

/// What a core reports when stopped: (accepted, served on the wrong core, bytes echoed).
type Served = (u64, u64, u64);

/// One iteration of a core's echo server: poll, accept, echo what arrived.
fn serve(core: &mut Core, conns: &mut Vec<TcpConn>, now_us: u64, rss: &RssConfig) -> (u64, u64) {
    let mut wrong = 0;
    let mut echoed = 0;
    core.poll_ingress(now_us);
    while let Ok(c) = core.accept(80) {
        let (_, port) = core.remote(c).unwrap();
        if usize::from(rss.queue_ipv4_l4(PEER_IP, OUR_IP, port, 80)) != usize::from(core.queue()) {
            wrong += 1;
        }
        conns.push(c);
    }
    let mut buf = [0u8; 1024];
    for &c in conns.iter() {
        // Each peer sends MSG bytes in all, under the send buffer: an echo always fits.
        loop {
            match core.recv(c, &mut buf) {
                Ok(0) | Err(RecvError::WouldBlock) => break,
                Ok(n) => {
                    let sent = core.send(c, &buf[..n]).unwrap_or(0);
                    assert_eq!(sent, n, "echo buffer sized for the whole message");
                    echoed += n as u64;
                }
                Err(_) => break,
            }
        }
    }
    core.poll_egress();
    (wrong, echoed)
}

#[test]
fn echo_servers_on_four_threads_behind_one_queue_pair() {
    let rss = RssConfig::new(CORES).unwrap();
    let nic = SimNic::new(RssConfig::new(1).unwrap(), 4096);
    let (mut hw_rx, mut hw_tx) = nic.queue_pair(0);
    let (mut dist, pairs) = soft_queues(&rss, 128).unwrap();
    let mut cores: Vec<Core> = stacks(&rss, pairs, true, |q, cfg| {
        cfg.seed = 77 + q as u64;
        cfg.tcp_buffer = 8192;
    });
    for c in &mut cores {
        c.listen(80).unwrap();
    }
    let start = Clock::now();
    let now_us = move || start.elapsed().as_micros() as u64;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = cores
        .drain(1..)
        .map(|mut core| {
            let stop = stop.clone();
            let rss = rss.clone();
            thread::spawn(move || -> Served {
                let mut conns = Vec::new();
                let (mut wrong, mut echoed) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let (w, e) = serve(&mut core, &mut conns, now_us(), &rss);
                    wrong += w;
                    echoed += e;
                    thread::yield_now();
                }
                (core.counters().accepted.get(), wrong, echoed)
            })
        })
        .collect();
    let mut core0 = cores.pop().unwrap();

    // The peer host, on the owning core's thread (the simulated wire is single-threaded).
    let mut peer = Peer::with_seed(&nic, 0xbeef);
    let mut peers: Vec<_> = (0..CONNS)
        .map(|i| {
            (
                peer.open((ip4(OUR_IP), 80), 30_000 + i * 11, 8192),
                0usize,
                0usize,
            )
        })
        .collect();
    let mut conns0 = Vec::new();
    let (mut wrong0, mut echoed0) = (0, 0);
    let deadline = Clock::now() + Duration::from_secs(60);
    while peers.iter().any(|&(_, _, got)| got < MSG) {
        assert!(Clock::now() < deadline, "echoes stalled");
        let now = now_us();
        peer.poll(now);
        for (i, (h, sent, got)) in peers.iter_mut().enumerate() {
            let s = peer.tcp(*h);
            while *sent < MSG && s.can_send() {
                let n = s
                    .send(|b| {
                        let n = b.len().min(MSG - *sent);
                        fill(&mut b[..n], i as u64, *sent as u64);
                        (n, n)
                    })
                    .unwrap();
                *sent += n;
                if n == 0 {
                    break;
                }
            }
            while s.can_recv() {
                let base = *got;
                let n = s
                    .recv(|b| {
                        assert_eq!(
                            first_wrong(b, i as u64, base as u64),
                            None,
                            "connection {i}"
                        );
                        (b.len(), b.len())
                    })
                    .unwrap();
                *got += n;
            }
        }
        dist.pump(&mut hw_rx, &mut hw_tx, 64);
        let (w, e) = serve(&mut core0, &mut conns0, now, &rss);
        wrong0 += w;
        echoed0 += e;
        dist.pump(&mut hw_rx, &mut hw_tx, 64);
        thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let mut served: Vec<Served> = std::vec![(core0.counters().accepted.get(), wrong0, echoed0)];
    served.extend(workers.into_iter().map(|w| w.join().unwrap()));
    for (q, &(accepted, wrong, _)) in served.iter().enumerate() {
        assert!(accepted > 0, "core {q} served nobody: {served:?}");
        assert_eq!(wrong, 0, "core {q}");
    }
    assert_eq!(served.iter().map(|s| s.0).sum::<u64>(), u64::from(CONNS));
    assert_eq!(
        served.iter().map(|s| s.2).sum::<u64>(),
        u64::from(CONNS) * MSG as u64
    );
}
