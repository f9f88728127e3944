//! A rig for net/'s per-core stacks over the driver: N `corenet_net::CoreStack`s, one per ixgbe
//! queue pair of one modelled 82599, and a plain smoltcp peer host on the model's wire.
//!
//! The wire between the peer and the model records, for every TCP frame a core transmits,
//! whether the queue it left from is the queue the model's RETA steers the flow's replies to
//! (`off_core` counts the ones that are not), and can lose or corrupt frames (seeded).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::vec;
use std::vec::Vec;

use corenet_net::CoreStack;
pub(super) use corenet_net::testkit::{OUR_IP, PEER_IP};
use corenet_net::testkit::{PEER_MAC, stacks};
use corenet_nic::RssConfig;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::*;
use crate::model::{Model82599, ModelParams, RxOutcome};
use crate::{IxgbeRx, IxgbeTx};

/// One core's stack over one ixgbe queue pair.
pub(super) type Core = CoreStack<IxgbeRx<Model82599>, IxgbeTx<Model82599>>;

/// What crossed the wire.
#[derive(Debug, Default)]
pub(super) struct WireLog {
    /// Frames from the peer the model wrote to each RX queue.
    pub delivered: Vec<u64>,
    /// Frames from the peer the model could not deliver (no descriptor, filtered, no link).
    pub undelivered: u64,
    /// TCP frames each TX queue sent.
    pub tcp_sent: Vec<u64>,
    /// TCP frames sent from a queue other than the one the flow's replies are steered to.
    pub off_core: u64,
    /// Frames dropped by the fault injector.
    pub lost: u64,
    /// Frames with a bit flipped by the fault injector.
    pub corrupted: u64,
}

/// The wire between the model and the peer: the model, the fault injector, the log.
pub(super) struct Wire {
    model: Model82599,
    rss: RssConfig,
    inbox: VecDeque<Vec<u8>>,
    rng: Rng,
    /// Loss and corruption, per mille, each direction.
    pub loss: u64,
    /// See `loss`.
    pub corrupt: u64,
    /// What happened so far.
    pub log: WireLog,
}

/// The TCP/IPv4 4-tuple `(src, dst, sport, dport)` of an Ethernet frame, if it is one.
pub(super) fn tcp_tuple(f: &[u8]) -> Option<([u8; 4], [u8; 4], u16, u16)> {
    if f.get(12..14)? != [0x08, 0x00] || *f.get(23)? != 6 {
        return None;
    }
    let ihl = usize::from(f[14] & 0x0F) * 4;
    let ip = |at: usize| [f[at], f[at + 1], f[at + 2], f[at + 3]];
    let p = f.get(14 + ihl..14 + ihl + 4)?;
    Some((
        ip(26),
        ip(30),
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

impl Wire {
    /// Loses or corrupts `f` as configured; `None` when lost.
    fn fault(&mut self, mut f: Vec<u8>) -> Option<Vec<u8>> {
        if self.loss > 0 && self.rng.next() % 1000 < self.loss {
            self.log.lost += 1;
            return None;
        }
        if self.corrupt > 0 && f.len() > 14 && self.rng.next() % 1000 < self.corrupt {
            // Past the Ethernet header, so only the IP and TCP checksums can catch it.
            let r = self.rng.next() as usize;
            let at = 14 + r % (f.len() - 14);
            f[at] ^= 1 << (r >> 20 & 7);
            self.log.corrupted += 1;
        }
        Some(f)
    }

    /// A frame from the peer into the model.
    fn deliver(&mut self, f: Vec<u8>) {
        let Some(f) = self.fault(f) else { return };
        match self.model.inject(&f) {
            RxOutcome::Delivered { queue } => self.log.delivered[usize::from(queue)] += 1,
            _ => self.log.undelivered += 1,
        }
    }

    /// Collects what the cores transmitted, checking each TCP frame's queue.
    fn collect(&mut self) {
        for t in self.model.take_tx() {
            if let Some((src, dst, sport, dport)) = tcp_tuple(&t.data) {
                self.log.tcp_sent[usize::from(t.queue)] += 1;
                // The reply swaps the tuple; the NIC steers it with the same RssConfig.
                if self.rss.queue_ipv4_l4(dst, src, dport, sport) != t.queue {
                    self.log.off_core += 1;
                }
            }
            if let Some(f) = self.fault(t.data) {
                self.inbox.push_back(f);
            }
        }
    }
}

/// The peer's smoltcp device: its end of the [`Wire`].
pub(super) struct PeerDev(pub Rc<RefCell<Wire>>);

/// A frame for the peer.
pub(super) struct PeerRx(Vec<u8>);

impl phy::RxToken for PeerRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

/// A frame from the peer, handed to the model on consume.
pub(super) struct PeerTx(Rc<RefCell<Wire>>);

impl phy::TxToken for PeerTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.borrow_mut().deliver(buf);
        r
    }
}

impl phy::Device for PeerDev {
    type RxToken<'a> = PeerRx;
    type TxToken<'a> = PeerTx;

    fn receive(&mut self, _: Instant) -> Option<(PeerRx, PeerTx)> {
        let mut w = self.0.borrow_mut();
        if w.inbox.is_empty() {
            w.collect();
        }
        let f = w.inbox.pop_front()?;
        Some((PeerRx(f), PeerTx(self.0.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<PeerTx> {
        Some(PeerTx(self.0.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// The peer host (the kit's, at [`PEER_IP`]) on the model's wire.
pub(super) type Peer = corenet_net::testkit::Peer<PeerDev>;

/// The model, the driver, one stack per queue, the peer, and the clock.
pub(super) struct Rig {
    pub model: Model82599,
    pub dev: Dev,
    pub rss: RssConfig,
    pub cores: Vec<Core>,
    pub peer: Peer,
    pub wire: Rc<RefCell<Wire>>,
    pub now_us: u64,
}

impl Rig {
    /// `queues` stacks over a model whose RSS key and lopsided RETA come from `seed` and are
    /// programmed by the driver from the same `RssConfig` the stacks solve ports with; rings
    /// of 512 descriptors.
    pub fn new(queues: u16, seed: u64, tcp_buffer: usize) -> Self {
        Self::with_ring(queues, seed, tcp_buffer, 512)
    }

    /// As [`Rig::new`], with RX and TX rings of `ring` descriptors.
    pub fn with_ring(queues: u16, seed: u64, tcp_buffer: usize, ring: u16) -> Self {
        let mut rng = Rng(seed);
        let mut key = [0u8; 40];
        key.iter_mut().for_each(|b| *b = rng.next() as u8);
        let mut rss = RssConfig::with_key(key, usize::from(queues)).unwrap();
        // Queue q gets a share proportional to q + 1; each queue at least one entry.
        let weighted: Vec<u16> = (0..queues)
            .flat_map(|q| core::iter::repeat_n(q, usize::from(q) + 1))
            .collect();
        for (i, e) in rss.table.iter_mut().enumerate() {
            *e = if i < usize::from(queues) {
                i as u16
            } else {
                weighted[rng.next() as usize % weighted.len()]
            };
        }

        let model = Model82599::new(ModelParams::default());
        let mut cfg = Config::new(rss.clone());
        cfg.rx_ring_size = ring;
        cfg.tx_ring_size = ring;
        let (mut dev, pairs) = Ixgbe::init(
            model.clone(),
            &cfg,
            &mut model.allocator(),
            &mut model.delay(),
        )
        .expect("init succeeds against the model");
        assert!(dev.link().up, "link up after init");
        let mac = dev.mac_address().expect("the model has a MAC address");
        let _ = dev.stats(); // start the hardware counters from zero

        // The kit's stacks at OUR_IP, on the model's MAC address.
        let pairs = pairs.into_iter().map(|p| (p.rx, p.tx));
        let cores = stacks(&rss, pairs, true, |q, sc| {
            sc.mac = mac;
            sc.seed = seed ^ (0x100 + q as u64);
            sc.tcp_buffer = tcp_buffer;
            sc.bucket_bits = 8;
        });

        let wire = Rc::new(RefCell::new(Wire {
            model: model.clone(),
            rss: rss.clone(),
            inbox: VecDeque::new(),
            rng: Rng(seed ^ 0xfa17),
            loss: 0,
            corrupt: 0,
            log: WireLog {
                delivered: vec![0; usize::from(queues)],
                tcp_sent: vec![0; usize::from(queues)],
                ..WireLog::default()
            },
        }));
        let peer = Peer::on(PeerDev(wire.clone()), PEER_MAC, PEER_IP, seed ^ 0xbeef);
        Self {
            model,
            dev,
            rss,
            cores,
            peer,
            wire,
            now_us: 0,
        }
    }

    /// One millisecond: device time, every core's run-to-completion iteration, the peer.
    pub fn step(&mut self) {
        self.now_us += 1000;
        self.model.advance(1000);
        for c in &mut self.cores {
            c.poll(self.now_us);
        }
        self.peer.poll(self.now_us);
    }

    /// Runs `n` steps.
    pub fn run(&mut self, n: usize) {
        (0..n).for_each(|_| self.step());
    }

    /// Checks what every clean run must show: no model faults, no driver errors, nothing the
    /// stacks could not place, no frame on the wrong core, hardware and software counters
    /// agreeing.
    pub fn assert_clean(&mut self) {
        assert_eq!(self.model.faults(), 0, "model faults");
        let w = self.wire.borrow();
        assert_eq!(w.log.off_core, 0, "TCP frames sent from a foreign queue");
        assert_eq!(w.log.undelivered, 0, "frames the model could not deliver");
        let (mut rx_pkts, mut tx_pkts) = (0, 0);
        for (q, c) in self.cores.iter().enumerate() {
            let n = c.counters().snapshot();
            assert_eq!(n.drop_no_socket, 0, "core {q}: segments for no connection");
            assert_eq!(n.resets_received, 0, "core {q}: resets");
            assert_eq!(n.drop_unknown, 0, "core {q}: unknown frames");
            let d = c.device_stats();
            // A SYN beyond this poll's backlog is discarded unread (the peer retransmits).
            rx_pkts += d.rx_frames + n.drop_backlog_empty;
            tx_pkts += d.tx_frames;
        }
        let hw = self.dev.stats().clone();
        assert_eq!(
            hw.rx_good_packets, rx_pkts,
            "GPRC vs frames the stacks took"
        );
        assert_eq!(hw.rx_missed, 0, "MPC");
        assert_eq!(
            hw.tx_good_packets, tx_pkts,
            "GPTC vs frames the stacks sent"
        );
    }
}
