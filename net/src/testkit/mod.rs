//! The one host-test kit: addresses, a smoltcp peer host, per-core stacks, a byte pattern.
//!
//! Every host test that runs corenet's stacks against "the other host" builds on this kit, as
//! smoltcp's tests build on its single `tests::setup()`: net/'s own unit tests, the ixgbe
//! driver's tests over its device model, and the appliances' test beds (through
//! `corenet::testing`). Compiled for net/'s tests and with the `testkit` feature; never in the
//! guest.
//!
//! - The addresses: our stacks are [`OUR_IP`] (and [`OUR_IP6`]) at [`OUR_MAC`], the peer is
//!   [`PEER_IP`] ([`PEER_IP6`]) at [`PEER_MAC`], on one /24 (/64).
//! - [`Peer`]: a plain smoltcp interface with its sockets on any smoltcp device; on the
//!   simulated NIC's wire by default ([`Peer::new`]).
//! - [`stacks`], [`cores`], [`cores_with`], [`run`]: one `CoreStack` per queue pair, linked by
//!   the mesh, and the clock that drives them with the peer; [`run_answering`] drives them
//!   against a scripted wire (a router, a DHCP server) instead.
//! - [`pattern`]: the seeded byte stream bulk transfers send and check; [`Rng`], the seeded
//!   generator of randomized tests.
//! - [`TimedDevice`]: the peer's end of a long path, our frames carried by a [`Path`] (a
//!   [`Delay`], a bottleneck).
//! - [`World`] and [`bulk_both_ways`]: one connection from the peer, megabytes each way,
//!   every byte checked, on any set-up (direct queues, soft queues, a driver).

mod cores;
pub mod pattern;
mod peer;
mod rng;
mod timed;
mod transfer;

pub use cores::{Core, Rig, cores, cores_with, our_ipv6, run, run_answering, stack_config, stacks};
#[cfg(feature = "ipv6")]
pub use peer::ip6;
pub use peer::{Peer, ip4};
pub use rng::Rng;
pub use timed::{Delay, Path, TimedDevice, TimedRx, TimedTx};
pub use transfer::{Parts, World, bulk_both_ways};

/// Our stacks' address (every core shares it).
pub const OUR_IP: [u8; 4] = [10, 0, 0, 2];
/// The peer host's address, on our /24.
pub const PEER_IP: [u8; 4] = [10, 0, 0, 1];
/// Our stacks' MAC address on the simulated wire (a driver test uses its device's).
pub const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// The peer host's MAC address.
pub const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// Our stacks' IPv6 address, fd00::2.
pub const OUR_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// The peer host's IPv6 address, fd00::1, on our /64.
pub const PEER_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
