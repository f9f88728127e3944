//! Host tests: the parser, every command, the store's limits, sessions and cross-core
//! forwarding.

mod batch;
mod cmds;
mod cross;
mod parse;
mod serve;
mod store;

use alloc::string::String;
use alloc::vec::Vec;

use crate::node::Node;
use crate::store::Policy;

/// A one-core node with `limit` bytes.
pub(super) fn node(limit: usize, policy: Policy) -> Node {
    Node::new(0, 1, limit, policy, 42)
}

/// Runs a command (space-separated words) at time `now_ms`; the reply as text.
pub(super) fn at(n: &mut Node, now_ms: u64, cmd: &str) -> String {
    let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
    let mut out = Vec::new();
    n.exec(&args, 1, now_ms, &mut out);
    String::from_utf8(out).unwrap()
}

/// [`at`] at time 0.
pub(super) fn run(n: &mut Node, cmd: &str) -> String {
    at(n, 0, cmd)
}
