//! A Redis-compatible key-value server for corenet, host-testable: the guest binary
//! (`main.rs`, `appliance.rs`) is glue.
//!
//! - [`resp`]: RESP2 request parsing (multibulk and inline), incremental and bounded.
//! - [`reply`]: RESP2 replies and Redis 7's error texts.
//! - [`store`]: one core's keys: values, expiry, memory accounting, eviction.
//! - [`counted`]: list, set, hash and sorted-set values that keep their byte count (O(1)
//!   accounting per write).
//! - [`keymap`]: the store's map of keys, a hash table (keyed hash, linear probing) that
//!   grows incrementally and fallibly.
//! - [`cmd`]: the commands, run on the core that owns their key.
//! - [`route`]: the key-to-core partition, and how multi-key commands are split and their
//!   replies combined.
//! - [`node`]: one core's server (store, counters, parts bound for other cores).
//! - [`session`]: one connection: pipelining, in-order replies, back-pressure, budget.
//! - [`serve`]: one pass over a core's clients and rings, over its `Sockets`.
//! - [`links`]: the rings between cores that carry parts and replies (no lock).
//! - [`settings`]: the appliance's command-line keys.
//! - [`sim`]: several cores in one thread, for tests and fuzzing.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod cmd;
pub mod counted;
pub mod keymap;
pub mod links;
pub mod node;
pub mod reply;
pub mod resp;
pub mod route;
pub mod serve;
pub mod session;
pub mod settings;
pub mod sim;
pub mod store;

#[cfg(test)]
mod tests;
