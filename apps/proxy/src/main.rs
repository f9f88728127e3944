//! corenet's TCP proxy appliance (`./qemu-run.sh --app proxy`).
//!
//! Every core accepts clients on `listen=` (default 8000) and relays each one to the next
//! backend of `backends=a.b.c.d:port,[ipv6]:port,...` (round robin per core), opening the
//! backend side on the same core with a local port whose replies RSS steers back to it. Per-core counters
//! go to the console at debug level (`log=debug`) every second; a UDP datagram
//! `corenet-stop` to `admin=` (default 9999) makes every core print its final
//! `proxy: core N ... wrong_core=0 ...` line and the machine exit with 0.
//!
//! The logic lives in the `corenet_proxy` library (host-tested); on the host this binary only
//! says how to boot it, so `cargo clippy --all-targets` can check the crate there too.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod appliance;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("proxy is a corenet guest: boot it with ./qemu-run.sh --app proxy");
    std::process::exit(2);
}
