//! kv: a Redis-compatible key-value appliance on port 6379 (`./qemu-run.sh --app kv`).
//! See `appliance.rs` for what it serves and its command-line keys.
//!
//! The protocol, commands, store and per-connection logic live in the `corenet_kv` library
//! (host-tested); on the host this binary only says how to boot it.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod appliance;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("kv is a corenet guest: boot it with ./qemu-run.sh --app kv");
    std::process::exit(2);
}
