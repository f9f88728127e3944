//! corenet's fuzz harnesses: one function per parser of untrusted bytes, each checking the
//! invariants that must hold whatever the bytes are.
//!
//! Every harness is a plain `run(data: &[u8])` that panics on a broken invariant. Two drivers
//! call them:
//!
//! - libFuzzer, through the thin `fuzz_target!` wrappers in `fuzz/libfuzzer/targets/`
//!   (built and run by `fuzz/run.sh` with coverage instrumentation on the stable toolchain);
//! - `cargo test` (`tests/replay.rs`), which replays every file of `fuzz/corpus/<target>/`
//!   and `fuzz/regressions/<target>/` so that every crash once found stays fixed.
//!
//! The harnesses (see [`TARGETS`]):
//!
//! - [`frames`]: frame classification and the three RSS steering parsers (software steering,
//!   virtio's single-queue spreader, the simulated NIC), checked against each other.
//! - [`http`]: the HTTP/1.1 request parser and `Conn` under a slow, pipelining client.
//! - [`cmdline`]: the kernel, network, IPv6 and virtio-mmio command-line parsers.
//! - [`bootinfo`]: Multiboot2 and PVH boot information, and the MP table scan.
//! - [`stack`]: ARP/DHCP/TCP/UDP frames through two `CoreStack`s on the simulated NIC with
//!   the mesh between them; connection limits hold.
//! - [`virtio`]: the virtio-net driver against a hostile fake device (used-ring ids, lengths,
//!   index jumps); no buffer lost or handed out twice.
//! - [`ixgbe`]: the 82599 driver against its model's hostile write-backs; buffers conserved.
//! - [`pcicap`]: the Intel driver's MSI-X capability walk over hostile configuration space.
//! - [`kv`]: the kv appliance's RESP2 parser and sessions on one to three cores; replies
//!   independent of segmentation and of the core count, buffers charged and bounded.
//!
//! The crate is host-only: for `x86_64-unknown-none` it is empty.
#![cfg_attr(target_os = "none", no_std)]
#![forbid(unsafe_code)]

#[cfg(not(target_os = "none"))]
pub mod bootinfo;
#[cfg(not(target_os = "none"))]
pub mod cmdline;
#[cfg(not(target_os = "none"))]
pub mod frames;
#[cfg(not(target_os = "none"))]
pub mod http;
#[cfg(not(target_os = "none"))]
pub mod ixgbe;
#[cfg(not(target_os = "none"))]
pub mod kv;
#[cfg(not(target_os = "none"))]
mod netbuild;
#[cfg(not(target_os = "none"))]
pub mod pcicap;
#[cfg(not(target_os = "none"))]
pub mod stack;
#[cfg(not(target_os = "none"))]
pub mod virtio;

/// A harness: panics when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every harness by name: the name is the libFuzzer binary's and the corpus directory's.
#[cfg(not(target_os = "none"))]
pub const TARGETS: &[(&str, Harness)] = &[
    ("frames", frames::run),
    ("http", http::run),
    ("cmdline", cmdline::run),
    ("bootinfo", bootinfo::run),
    ("stack", stack::run),
    ("virtio", virtio::run),
    ("ixgbe", ixgbe::run),
    ("kv", kv::run),
    ("pcicap", pcicap::run),
];
