//! Per-core, shared-nothing TCP/IP for corenet, on smoltcp, with RSS-aware flows.
//!
//! Protocols: Ethernet, ARP, IPv4, ICMP echo, TCP, UDP, DHCPv4 client; with the `ipv6`
//! feature also IPv6 (link-local address from the MAC, a static global address, default
//! router), NDP, ICMPv6 echo, and TCP/UDP over IPv6 with the same O(1) dispatch and RSS
//! steering. Not: IPv6 extension headers before TCP (answered with RST), SLAAC, DHCPv6, MLD,
//! IP fragmentation.
//!
//! A tour, from the wire up:
//!
//! - [`rss_ports`]: Toeplitz is linear over GF(2); [`rss_ports::PortSolver`] uses that to list
//!   exactly the local ports whose replies the NIC steers back to a given queue.
//! - [`rss_spread`]: the few key bits a client's source ports meet, set so that one client's
//!   run of ports (consecutive, or of one parity) reaches every queue.
//! - [`ports`]: the per-core ephemeral port allocator built on it (no collisions, no reuse
//!   before TIME-WAIT ends).
//! - [`device`]: a smoltcp `phy::Device` over one core's RX/TX queue pair, zero-copy tokens,
//!   burst harvesting, one doorbell per poll.
//! - [`sim`]: an in-memory multi-queue NIC that steers by Toeplitz like a real one, plus a
//!   peer host device, for host tests and benchmarks.
//! - [`soft`]: software queue pairs for a NIC with a single queue pair: a distributor on the
//!   owning core steers received frames to every core by the same Toeplitz table and
//!   transmits what every core sends, over lock-free SPSC rings.
//! - [`stack`]: one core's stack: an `Interface` over the [`device`], sockets bucketed by flow
//!   for O(1) dispatch, a listen backlog, a connection limit, a budgeted poll loop, and the
//!   safe TCP/UDP API (no smoltcp types in it). [`Sockets`] is that API over owned
//!   connection handles ([`Conn`]: not `Copy`, closed when dropped), for any queue types.
//! - [`task`]: a per-core executor for `async` connection handlers over [`Sockets`] (an
//!   option next to the poll API; `docs/api.md` has the measured cost and the decision).
//! - [`mesh`]: SPSC rings between cores: ARP and NDP frames to every core, DHCP replies to
//!   the DHCP core, the configuration it obtains back to all.
//! - [`counters`]: per-core counters, single writer, readable from any core.
//! - [`config`]: static IPv4 (and IPv6) configuration from the kernel command line.
//! - [`gateway`]: which addresses can be a default gateway (unicast neighbors on the subnet).
//! - [`ratelimit`]: a token bucket on the caller's clock (the per-core ICMP limit).
//! - [`ip`]: the API's IPv4/IPv6 address type ([`IpAddr`]).
//! - `testkit` (tests and the `testkit` feature): the one host-test kit every crate's tests
//!   build on: the addresses, a smoltcp peer host, per-core stacks, a byte pattern.
//!
//! # Example
//!
//! Two cores of a server and a one-core client, wired back to back through simulated NICs
//! (the kernel wires real queues the same way). Every server core listens on port 80; the
//! NIC's RSS picks the core that serves the connection.
//!
//! ```
//! use corenet_net::{mesh, sim::SimNic, CoreStack, StackConfig};
//! use corenet_nic::steering::RssConfig;
//!
//! let rss = RssConfig::new(2).unwrap();
//! let server_nic = SimNic::new(rss.clone(), 1024);
//! let mut mesh = mesh::mesh(2).into_iter();
//! let mut cores: Vec<_> = (0..2u16)
//!     .map(|q| {
//!         let (rx, tx) = server_nic.queue_pair(q);
//!         // The seed comes from the platform's randomness, different per core and boot.
//!         let cfg = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24, 42 + u64::from(q));
//!         CoreStack::new(cfg, &rss, rx, tx, mesh.next(), 0).unwrap()
//!     })
//!     .collect();
//! for core in &mut cores {
//!     core.listen(80).unwrap();
//! }
//!
//! let one = RssConfig::new(1).unwrap();
//! let client_nic = SimNic::new(one.clone(), 1024);
//! let (rx, tx) = client_nic.queue_pair(0);
//! let cfg = StackConfig::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 24, 7);
//! let mut client = CoreStack::new(cfg, &one, rx, tx, None, 0).unwrap();
//! let conn = client.connect(([10, 0, 0, 2], 80)).unwrap();
//!
//! let mut now_us = 0;
//! for _ in 0..50 {
//!     now_us += 1000;
//!     client.poll(now_us);
//!     while let Some(frame) = client_nic.take_sent() {
//!         server_nic.deliver(frame);
//!     }
//!     for core in &mut cores {
//!         core.poll(now_us);
//!         while let Ok(c) = core.accept(80) {
//!             core.send(c, b"hello").unwrap();
//!         }
//!     }
//!     while let Some(frame) = server_nic.take_sent() {
//!         client_nic.deliver(frame);
//!     }
//! }
//! let mut buf = [0u8; 16];
//! assert_eq!(client.recv(conn, &mut buf), Ok(5));
//! assert_eq!(&buf[..5], b"hello");
//! let accepted: u64 = cores.iter().map(|c| c.counters().accepted.get()).sum();
//! assert_eq!(accepted, 1);
//! ```
//!
//! `net/` knows no hardware and no kernel: randomness (seeds) and time (monotonic
//! microseconds) are parameters, the NIC is a pair of `corenet_nic` queue traits.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod config;
pub mod counters;
pub mod device;
mod errors;
pub mod gateway;
pub mod ip;
pub mod mesh;
pub mod ports;
pub mod ratelimit;
pub mod rss_ports;
pub mod rss_spread;
pub mod sim;
pub mod soft;
pub mod stack;
pub mod task;
// The shared host-test kit: net/'s own tests, and other crates' through the `testkit` feature.
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use ip::IpAddr;

/// Wakes core `n` if it halted (the kernel's wake IPI); called after work for `n` became
/// visible in a ring it reads. The stack knows no hardware, so the kernel's function is handed
/// in; [`no_wake`] for cores that never halt and for tests.
pub type WakeFn = fn(usize);

/// A [`WakeFn`] that does nothing.
pub fn no_wake(_core: usize) {}
pub use stack::{Conn, CoreStack, Drain, Drained, Sockets, StackConfig, TCP_STATES};
