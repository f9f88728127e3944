//! Per-core stacks on queue pairs, linked by the mesh, and the clock that drives them.

use alloc::vec::Vec;

use corenet_nic::steering::RssConfig;
use corenet_nic::{RxQueue, TxQueue};
use smoltcp::phy::Device;

use super::{OUR_IP, OUR_MAC, Peer};
use crate::mesh;
use crate::sim::{SimNic, SimRxQueue, SimTxQueue};
use crate::stack::{CoreStack, StackConfig};

/// One core's stack on one queue pair of a [`SimNic`].
pub type Core = CoreStack<SimRxQueue, SimTxQueue>;

/// A test core's configuration: [`OUR_MAC`], [`OUR_IP`]/24, smoltcp seeded by `seed`, and
/// small sizes (4 KiB socket buffers, 64 flow buckets) so many connections stay cheap.
pub fn stack_config(seed: u64) -> StackConfig {
    let mut cfg = StackConfig::new(OUR_MAC, OUR_IP, 24, seed);
    cfg.tcp_buffer = 4096;
    cfg.bucket_bits = 6;
    cfg
}

/// One stack per queue pair of `pairs`, core `q` on [`stack_config`]`(1000 + q)` changed by
/// `tweak(q, ..)`; with `mesh`, the cores share ARP/NDP/DHCP over the mesh (as in the guest).
pub fn stacks<R: RxQueue, T: TxQueue>(
    rss: &RssConfig,
    pairs: impl IntoIterator<Item = (R, T)>,
    mesh: bool,
    tweak: impl Fn(usize, &mut StackConfig),
) -> Vec<CoreStack<R, T>> {
    let pairs: Vec<(R, T)> = pairs.into_iter().collect();
    let mut ports = mesh::mesh(pairs.len()).into_iter();
    pairs
        .into_iter()
        .enumerate()
        .map(|(q, (rx, tx))| {
            let mut cfg = stack_config(1000 + q as u64);
            tweak(q, &mut cfg);
            let port = if mesh { ports.next() } else { None };
            CoreStack::new(cfg, rss, rx, tx, port, 0).expect("a test configuration is valid")
        })
        .collect()
}

/// One stack per queue of `nic` (as `rss` spreads them), on [`stack_config`].
pub fn cores(nic: &SimNic, rss: &RssConfig, mesh: bool) -> Vec<Core> {
    cores_with(nic, rss, mesh, |_| {})
}

/// As [`cores`], each configuration changed by `tweak`.
pub fn cores_with(
    nic: &SimNic,
    rss: &RssConfig,
    mesh: bool,
    tweak: impl Fn(&mut StackConfig),
) -> Vec<Core> {
    let pairs = (0..rss.queues).map(|q| nic.queue_pair(q));
    stacks(rss, pairs, mesh, |_, cfg| tweak(cfg))
}

/// Advances the peer and every core by `steps` ticks of 1 ms.
pub fn run<R: RxQueue, T: TxQueue, D: Device>(
    cores: &mut [CoreStack<R, T>],
    peer: &mut Peer<D>,
    now: &mut u64,
    steps: usize,
) {
    for _ in 0..steps {
        *now += 1000;
        peer.poll(*now);
        for c in cores.iter_mut() {
            c.poll(*now);
        }
    }
}

/// Advances every core by `steps` ticks of 1 ms on a scripted wire: after each tick, every
/// frame the cores sent goes to `answer` (a router, a DHCP server...), and the frames it
/// returns are delivered to the cores.
pub fn run_answering<R: RxQueue, T: TxQueue, I: IntoIterator<Item = Vec<u8>>>(
    cores: &mut [CoreStack<R, T>],
    nic: &SimNic,
    now: &mut u64,
    steps: usize,
    mut answer: impl FnMut(&[u8]) -> I,
) {
    for _ in 0..steps {
        *now += 1000;
        for c in cores.iter_mut() {
            c.poll(*now);
        }
        while let Some(f) = nic.take_sent() {
            for r in answer(&f) {
                nic.deliver(r);
            }
        }
    }
}

/// The usual set-up in one value: a [`SimNic`] of `queues` RSS queues, one [`Core`] per
/// queue sharing the mesh, the [`Peer`] on its wire, and the clock.
pub struct Rig {
    /// The RSS configuration the NIC steers by and the stacks solve ports with.
    pub rss: RssConfig,
    /// The simulated NIC.
    pub nic: SimNic,
    /// One stack per queue.
    pub cores: Vec<Core>,
    /// The other host.
    pub peer: Peer,
    /// Microseconds since the start.
    pub now: u64,
}

impl Rig {
    /// `queues` cores on [`stack_config`] changed by `tweak`, and the peer.
    pub fn new(queues: usize, tweak: impl Fn(&mut StackConfig)) -> Self {
        let rss = RssConfig::new(queues).expect("a test queue count is valid");
        let nic = SimNic::new(rss.clone(), 4096);
        let cores = cores_with(&nic, &rss, true, tweak);
        let peer = Peer::new(&nic);
        Self {
            rss,
            nic,
            cores,
            peer,
            now: 0,
        }
    }

    /// Advances everything by `steps` ticks of 1 ms.
    pub fn run(&mut self, steps: usize) {
        run(&mut self.cores, &mut self.peer, &mut self.now, steps);
    }
}

/// Our static IPv6 address, [`super::OUR_IP6`]/64, with `gateway` as the default router.
pub fn our_ipv6(gateway: Option<[u8; 16]>) -> crate::config::Ipv6Config {
    crate::config::Ipv6Config {
        ip: super::OUR_IP6,
        prefix_len: 64,
        gateway,
    }
}
