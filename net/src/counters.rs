//! Per-core stack counters: written by the owning core only, readable from any core.

use corenet_nic::Counter;

/// Counters of one core's stack. Single writer (the core's loop); other cores may read.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct NetCounters {
    /// Passive opens that reached ESTABLISHED and were queued for `accept`.
    pub accepted: Counter,
    /// Active opens started by `connect`.
    pub connected: Counter,
    /// SYNs answered with RST: nobody listens on the port, or the core is at its
    /// connection limit (or its heap has no block for the connection's buffers).
    pub refused: Counter,
    /// TCP segments sent again (sequence space already sent once: RTO or fast retransmit).
    pub retransmissions: Counter,
    /// Segments with RST received (for any flow, known or not).
    pub resets_received: Counter,
    /// SYNs dropped because every listening socket of the port was taken in this poll.
    /// Stays 0 since each SYN gets a socket of its own (SYN floods: see the SYN block below).
    pub drop_backlog_empty: Counter,
    /// Half-open connections that died before `accept` (reset or timed out).
    pub embryonic_dropped: Counter,
    /// Segments for no connection (smoltcp answers them with RST).
    pub drop_no_socket: Counter,
    /// Frames that are not IPv4 or ARP, or too short to classify.
    pub drop_unknown: Counter,
    /// Messages to other cores (ARP copies, DHCP replies, configuration) dropped because a
    /// ring was full (or there is no mesh).
    pub drop_mesh_full: Counter,
    /// Frames (ARP, DHCP) received from other cores.
    pub frames_from_peers: Counter,
    /// IPv4 configuration changes applied (DHCP lease gained or lost).
    pub config_updates: Counter,
    /// TCP segments for a port of the ephemeral range that belong to another core's active
    /// open: the steering table maps (remote, local port) to another queue, or the port is
    /// neither held nor resting here while no connection of this core matches (bare SYNs
    /// excluded: they open connections). Replies to
    /// computed ports must never land here: this stays 0 when the NIC steers as predicted.
    pub wrong_core: Counter,
    /// Segments for another core's connection (wrong-core arrivals the steering table
    /// attributes to that core) handed to it over the mesh, so its connection still works.
    pub forwarded_to_owner: Counter,
    /// Polls that stopped ingress because the budget was used up with frames still queued.
    pub budget_exhausted: Counter,
    // --- issue 11, SYN floods (half-open set, SYN cookies) ---
    /// SYN-ACKs with a SYN cookie sent (SYNs past their port's half-open budget).
    pub syncookies_sent: Counter,
    /// Connections made from a valid cookie ACK.
    pub syncookies_validated: Counter,
    /// ACKs for no connection, on a port that sent cookies lately, whose cookie was not ours,
    /// for another flow, or expired (answered with RST like any stray segment).
    pub syncookies_rejected: Counter,
    /// Half-open connections freed to make room (oldest first) at the core's half-open bound
    /// or connection limit.
    pub half_open_evicted: Counter,
    /// SYNs past the half-open budget dropped because no TX buffer was free for the cookie.
    pub syn_drop_tx_full: Counter,
    // guard (issue 11: gateways, neighbors, ICMP rate limit, mesh config delivery)
    /// Gateways refused before reaching smoltcp: not a unicast address on the subnet
    /// (static configuration or one handed over by another core).
    pub bad_gateway: Counter,
    /// DHCP leases ignored because their router option is not a unicast address on the
    /// leased subnet (a rogue or broken server).
    pub dhcp_bad_router: Counter,
    /// ARP and NDP frames dropped before smoltcp and not copied to other cores: not for one
    /// of our addresses, and not about a neighbor we know or asked for.
    pub neighbor_ignored: Counter,
    /// ICMP error and echo replies suppressed by the per-core ICMP rate limit.
    pub icmp_rate_limited: Counter,
    /// IPv4 configurations sent again to a core whose ring was full at the first attempt.
    pub config_resent: Counter,
    // review (issue 11)
    /// DHCP offers and acks dropped because their IP source, which smoltcp's client takes as
    /// the server's address for renewals, cannot be one (0.0.0.0 among others).
    pub dhcp_bad_server: Counter,
    // tcp2 (issue 12 item 3)
    /// Connections on a port with its own TCP buffer size (`StackConfig::port_buffers`)
    /// that got `tcp_buffer` instead: the core's budget for larger buffers was spent.
    pub port_buffer_fallback: Counter,
    /// Passive opens whose buffers were grown to their path (`tcp_buffer_auto_max`).
    pub path_sized: Counter,
    // longpath (issue 12: what a transfer's losses cost; counted when a connection is freed)
    /// Loss recovery episodes (fast retransmit on duplicate ACKs or SACKed data) of freed
    /// connections.
    pub tcp_recoveries: Counter,
    /// Tail loss probes sent by freed connections.
    pub tcp_loss_probes: Counter,
    /// Retransmission timeouts of freed connections.
    pub tcp_rtos: Counter,
    // hystart (issue 12: slow start's exit; counted when a connection is freed)
    /// Rounds of freed connections whose round trip rose past HyStart++'s threshold.
    pub tcp_hystart_rises: Counter,
    /// Slow starts of freed connections that HyStart++ ended (no loss).
    pub tcp_hystart_exits: Counter,
    // sndbuf (issue 12: send buffers grown while they limit a bulk sender)
    /// Send buffers doubled because the buffer, not the windows, bounded the flight.
    pub sndbuf_grown: Counter,
    /// Growths refused: the core's budget was spent or the heap had no block that large.
    pub sndbuf_fallback: Counter,
}

/// A plain copy of [`NetCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs, reason = "fields mirror NetCounters one to one")]
pub struct NetSnapshot {
    pub accepted: u64,
    pub connected: u64,
    pub refused: u64,
    pub retransmissions: u64,
    pub resets_received: u64,
    pub drop_backlog_empty: u64,
    pub embryonic_dropped: u64,
    pub drop_no_socket: u64,
    pub drop_unknown: u64,
    pub drop_mesh_full: u64,
    pub frames_from_peers: u64,
    pub config_updates: u64,
    pub wrong_core: u64,
    /// See [`NetCounters::forwarded_to_owner`].
    pub forwarded_to_owner: u64,
    pub budget_exhausted: u64,
    // --- issue 11, SYN floods ---
    pub syncookies_sent: u64,
    pub syncookies_validated: u64,
    pub syncookies_rejected: u64,
    pub half_open_evicted: u64,
    pub syn_drop_tx_full: u64,
    // guard (issue 11)
    pub bad_gateway: u64,
    pub dhcp_bad_router: u64,
    pub neighbor_ignored: u64,
    pub icmp_rate_limited: u64,
    pub config_resent: u64,
    // review (issue 11)
    pub dhcp_bad_server: u64,
    // tcp2 (issue 12 item 3)
    pub port_buffer_fallback: u64,
    pub path_sized: u64,
    // longpath (issue 12)
    pub tcp_recoveries: u64,
    pub tcp_loss_probes: u64,
    pub tcp_rtos: u64,
    // hystart (issue 12)
    pub tcp_hystart_rises: u64,
    pub tcp_hystart_exits: u64,
    // sndbuf (issue 12)
    pub sndbuf_grown: u64,
    pub sndbuf_fallback: u64,
}

impl NetCounters {
    /// Current values.
    pub fn snapshot(&self) -> NetSnapshot {
        NetSnapshot {
            accepted: self.accepted.get(),
            connected: self.connected.get(),
            refused: self.refused.get(),
            retransmissions: self.retransmissions.get(),
            resets_received: self.resets_received.get(),
            drop_backlog_empty: self.drop_backlog_empty.get(),
            embryonic_dropped: self.embryonic_dropped.get(),
            drop_no_socket: self.drop_no_socket.get(),
            drop_unknown: self.drop_unknown.get(),
            drop_mesh_full: self.drop_mesh_full.get(),
            frames_from_peers: self.frames_from_peers.get(),
            config_updates: self.config_updates.get(),
            wrong_core: self.wrong_core.get(),
            forwarded_to_owner: self.forwarded_to_owner.get(),
            budget_exhausted: self.budget_exhausted.get(),
            // --- issue 11, SYN floods ---
            syncookies_sent: self.syncookies_sent.get(),
            syncookies_validated: self.syncookies_validated.get(),
            syncookies_rejected: self.syncookies_rejected.get(),
            half_open_evicted: self.half_open_evicted.get(),
            syn_drop_tx_full: self.syn_drop_tx_full.get(),
            // guard (issue 11)
            bad_gateway: self.bad_gateway.get(),
            dhcp_bad_router: self.dhcp_bad_router.get(),
            neighbor_ignored: self.neighbor_ignored.get(),
            icmp_rate_limited: self.icmp_rate_limited.get(),
            config_resent: self.config_resent.get(),
            // review (issue 11)
            dhcp_bad_server: self.dhcp_bad_server.get(),
            // tcp2 (issue 12 item 3)
            port_buffer_fallback: self.port_buffer_fallback.get(),
            path_sized: self.path_sized.get(),
            // longpath (issue 12)
            tcp_recoveries: self.tcp_recoveries.get(),
            tcp_loss_probes: self.tcp_loss_probes.get(),
            tcp_rtos: self.tcp_rtos.get(),
            // hystart (issue 12)
            tcp_hystart_rises: self.tcp_hystart_rises.get(),
            tcp_hystart_exits: self.tcp_hystart_exits.get(),
            // sndbuf (issue 12)
            sndbuf_grown: self.sndbuf_grown.get(),
            sndbuf_fallback: self.sndbuf_fallback.get(),
        }
    }
}
