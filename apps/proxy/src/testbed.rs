//! A test bed for the proxy logic on the host: two proxy cores on a simulated RSS NIC, and a
//! peer host (plain smoltcp) that plays both the clients and the backends. Used by the unit
//! tests and by `examples/relay.rs` (the callgrind benchmark).

extern crate std;

use std::vec::Vec;

use corenet::prelude::Sockets;
use corenet::raw::net::mesh;
use corenet::raw::net::sim::PeerDevice;
use corenet::testing::{CoreStack, RssConfig, SimNic, SimStack, StackConfig};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

use crate::pipe::{Outcome, Pipe};

/// The proxy's address.
pub const PROXY_IP: [u8; 4] = [10, 0, 0, 2];
/// The peer's address (clients and backends).
pub const PEER_IP: [u8; 4] = [10, 0, 0, 1];
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
    pub pipes: Vec<Vec<Pipe>>,
    /// How every finished pipe ended, in order.
    pub outcomes: Vec<Outcome>,
    /// Most bytes any pipe held in its buffers.
    pub max_buffered: usize,
    iface: Interface,
    dev: PeerDevice,
    sockets: SocketSet<'static>,
    now: u64,
}

/// A peer socket with `buf` bytes each way.
pub fn socket(buf: usize) -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(std::vec![0; buf]),
        tcp::SocketBuffer::new(std::vec![0; buf]),
    )
}

impl World {
    /// Both proxy cores listening on [`LISTEN`], the peer at [`PEER_IP`].
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let rss = RssConfig::new(2).unwrap();
        let nic = SimNic::new(rss.clone(), 4096);
        let mut ports = mesh::mesh(2).into_iter();
        let cores = (0..2u16)
            .map(|q| {
                let (rx, tx) = nic.queue_pair(q);
                let mut cfg = StackConfig::new([2, 0, 0, 0, 0, 2], PROXY_IP, 24, 77 + u64::from(q));
                cfg.tcp_buffer = 4096;
                cfg.bucket_bits = 6;
                let mut c = CoreStack::new(cfg, &rss, rx, tx, ports.next(), 0).unwrap();
                c.listen(LISTEN).unwrap();
                c
            })
            .collect();
        let mut dev = nic.peer_device();
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, 1,
        ])));
        cfg.random_seed = 0xbeef;
        let mut iface = Interface::new(cfg, &mut dev, Instant::from_millis(0));
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(Ipv4Address::new(10, 0, 0, 1).into(), 24));
        });
        Self {
            cores,
            pipes: std::vec![Vec::new(), Vec::new()],
            outcomes: Vec::new(),
            max_buffered: 0,
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            now: 0,
        }
    }

    /// A peer socket listening on [`BACKEND`] (takes one connection).
    pub fn backend_listener(&mut self) -> SocketHandle {
        let mut s = socket(8192);
        s.listen(BACKEND).unwrap();
        self.sockets.add(s)
    }

    /// A peer client connecting to the proxy from `local_port`.
    pub fn client(&mut self, local_port: u16) -> SocketHandle {
        let mut s = socket(8192);
        let [a, b, c, d] = PROXY_IP;
        s.connect(
            self.iface.context(),
            (Ipv4Address::new(a, b, c, d), LISTEN),
            local_port,
        )
        .unwrap();
        self.sockets.add(s)
    }

    /// A peer socket.
    pub fn sock(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// One millisecond: the peer, then every proxy core runs the appliance's pass (receive,
    /// accept and pump, transmit).
    pub fn step(&mut self) {
        self.now += 1000;
        let t = Instant::from_micros(self.now as i64);
        self.iface.poll(t, &mut self.dev, &mut self.sockets);
        for (core, pipes) in self.cores.iter_mut().zip(self.pipes.iter_mut()) {
            core.poll_ingress(self.now);
            while let Ok(client) = Sockets::accept(core, LISTEN) {
                let backend = Sockets::connect(core, (PEER_IP.into(), BACKEND)).unwrap();
                pipes.push(Pipe::new(client, backend, CAP));
            }
            let outcomes = &mut self.outcomes;
            let max = &mut self.max_buffered;
            pipes.retain_mut(|p| {
                let (o, _) = p.pump(core);
                *max = (*max).max(p.buffered());
                if o == Outcome::Open {
                    return true;
                }
                outcomes.push(o);
                false
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
