//! Per-core proxy counters and their one-line console form.

use core::fmt;

use corenet::prelude::NetSnapshot;

use crate::config::MAX_BACKENDS;

/// One core's proxy counters (owned by that core; printed, not shared).
#[derive(Debug, Clone, Default)]
pub struct ProxyStats {
    /// Clients accepted.
    pub accepted: u64,
    /// Pipes finished cleanly (FIN both ways).
    pub done: u64,
    /// Backend connections that failed (at `connect` or during the handshake).
    pub connect_failed: u64,
    /// Pipes aborted after a reset or error on one side.
    pub aborted: u64,
    /// Bytes relayed client -> backend.
    pub bytes_up: u64,
    /// Bytes relayed backend -> client.
    pub bytes_down: u64,
    /// Backend connections opened, per backend (index of `backends=`).
    pub per_backend: [u64; MAX_BACKENDS],
}

/// A core's report line: `proxy: core N queue=Q accepted=.. ... backends=a/b wrong_core=..`.
pub struct Report<'a> {
    /// Core id.
    pub core: usize,
    /// The core's queue.
    pub queue: u16,
    /// Proxy counters.
    pub stats: &'a ProxyStats,
    /// Number of configured backends.
    pub backends: usize,
    /// Pipes open now.
    pub open: usize,
    /// The stack's counters.
    pub net: NetSnapshot,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.stats;
        write!(
            f,
            "proxy: core {} queue={} accepted={} done={} connect_failed={} aborted={} open={} \
             bytes_up={} bytes_down={} backends=",
            self.core,
            self.queue,
            s.accepted,
            s.done,
            s.connect_failed,
            s.aborted,
            self.open,
            s.bytes_up,
            s.bytes_down
        )?;
        for (i, n) in s.per_backend.iter().take(self.backends).enumerate() {
            write!(f, "{}{n}", if i > 0 { "/" } else { "" })?;
        }
        write!(
            f,
            " wrong_core={} forwarded_to_owner={} connected={} drop_no_socket={} retransmissions={}",
            self.net.wrong_core,
            self.net.forwarded_to_owner,
            self.net.connected,
            self.net.drop_no_socket,
            self.net.retransmissions
        )
    }
}
