//! corenet's default appliance: HTTP/1.1 on port 80 and echo on port 7, on every core
//! (`./qemu-run.sh`). See `appliance.rs` for what it serves and its command-line keys.
//!
//! The per-connection logic lives in the `corenet_httpd` library (host-tested); on the host
//! this binary only says how to boot it, so `cargo clippy --all-targets` can check the crate
//! there too.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod appliance;
#[cfg(target_os = "none")]
mod metrics;
#[cfg(target_os = "none")]
mod server_metrics;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("httpd is a corenet guest: boot it with ./qemu-run.sh");
    std::process::exit(2);
}
