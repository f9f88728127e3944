//! A test bed for the proxy logic on the host: two proxy cores on a simulated RSS NIC, and a
//! peer host (plain smoltcp) that plays both the clients and the backends. Used by the unit
//! tests and by `examples/relay.rs` (the callgrind benchmark).

extern crate std;

use std::vec::Vec;

use corenet::prelude::Sockets;
use corenet::testing::{OUR_IP, PEER_IP, Peer, RssConfig, SimNic, SimStack, ip4, stacks};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use crate::pipe::{Outcome, Pipe};
use crate::pipes::Pipes;

/// The proxy's listening port.
pub const LISTEN: u16 = 8000;
/// The backend port on the peer.
pub const BACKEND: u16 = 9001;
/// Pipe buffer per direction in the test bed.
pub const CAP: usize = 2048;

/// A proxy core.
pub type Core = SimStack;

/// Two proxy cores running the appliance's loop body, and the peer.
pub struct World {
    /// The proxy cores' stacks.
    pub cores: Vec<Core>,
    /// Open pipes per core.
    pub pipes: Vec<Pipes>,
    /// How every finished pipe ended, in order.
    pub outcomes: Vec<Outcome>,
    /// Most bytes any pipe held in its buffers.
    pub max_buffered: usize,
    peer: Peer,
    now: u64,
}

impl World {
    /// Both proxy cores (the kit's stacks at its `OUR_IP`) listening on [`LISTEN`], the
    /// kit's peer at its `PEER_IP`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let rss = RssConfig::new(2).unwrap();
        let nic = SimNic::new(rss.clone(), 4096);
        let pairs = (0..2u16).map(|q| nic.queue_pair(q));
        let mut cores = stacks(&rss, pairs, true, |q, cfg| cfg.seed = 77 + q as u64);
        for c in &mut cores {
            c.listen(LISTEN).unwrap();
        }
        Self {
            cores,
            pipes: std::vec![Pipes::new(0), Pipes::new(0)],
            outcomes: Vec::new(),
            max_buffered: 0,
            peer: Peer::with_seed(&nic, 0xbeef),
            now: 0,
        }
    }

    /// A peer socket listening on [`BACKEND`] (takes one connection).
    pub fn backend_listener(&mut self) -> SocketHandle {
        self.peer.listen(BACKEND, 8192)
    }

    /// A peer client connecting to the proxy from `local_port`.
    pub fn client(&mut self, local_port: u16) -> SocketHandle {
        self.peer.open((ip4(OUR_IP), LISTEN), local_port, 8192)
    }

    /// A peer socket.
    pub fn sock(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.peer.tcp(h)
    }

    /// One millisecond: the peer, then every proxy core runs the appliance's pass (receive,
    /// accept and pump, transmit).
    pub fn step(&mut self) {
        self.now += 1000;
        self.peer.poll(self.now);
        for (core, pipes) in self.cores.iter_mut().zip(self.pipes.iter_mut()) {
            core.poll_ingress(self.now);
            while let Ok(client) = Sockets::accept(core, LISTEN) {
                let backend = Sockets::connect(core, (PEER_IP.into(), BACKEND)).unwrap();
                pipes.add(Pipe::new(client, backend, CAP));
            }
            let outcomes = &mut self.outcomes;
            let max = &mut self.max_buffered;
            pipes.pump(core, self.now * 1000, &mut |p, o, _| {
                *max = (*max).max(p.buffered());
                if o != Outcome::Open {
                    outcomes.push(o);
                }
            });
            core.poll_egress();
        }
    }

    /// `ms` steps.
    pub fn run(&mut self, ms: usize) {
        for _ in 0..ms {
            self.step();
        }
    }

    /// The stacks' `wrong_core` counters, summed.
    pub fn wrong_core(&self) -> u64 {
        self.cores
            .iter()
            .map(|c| c.counters().snapshot().wrong_core)
            .sum()
    }
}
