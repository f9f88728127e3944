//! The receive half of a poll: classify each frame and hand it to exactly one socket set.

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::PollIngressSingleResult;
use smoltcp::time::Instant;

use super::dhcp_filter::refuse_dhcp_reply;
use super::neighbors::{Ours, neighbor_wanted};
use super::{Class, CoreStack, Tuple, classify};
use crate::mesh::{MeshPort, Msg};

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Receive half: messages from other cores (ARP, NDP and DHCP frames, configuration), then up
    /// to `rx_budget` frames from the RX queue through the stack. Returns the frames
    /// processed.
    pub fn poll_ingress(&mut self, now_us: u64) -> usize {
        self.release_dropped();
        self.now = Instant::from_micros(now_us as i64);
        self.dev.set_clock(now_us);
        let now = self.now;
        let mut rx = 0;

        // What other cores learnt first: our own transmissions may need it.
        while let Some(msg) = self.mesh.as_mut().and_then(MeshPort::receive) {
            match msg {
                Msg::Frame(frame) => {
                    let class = classify(&frame);
                    if let Class::Tcp { .. } = class {
                        // A segment for one of our connections that the NIC steered to
                        // another core: process it as if it had arrived here.
                        self.dev.inject_answerable(frame);
                        if self.ingress(class, true) == PollIngressSingleResult::None {
                            self.dev.discard(); // no TX buffer now; TCP retransmits
                        }
                        self.counters.frames_from_peers.inc();
                        rx += 1;
                        continue;
                    }
                    if class == Class::DhcpClient
                        && self.dhcp.is_some()
                        && refuse_dhcp_reply(&self.counters, &frame)
                    {
                        continue;
                    }
                    self.dev.inject(frame);
                    let set = match class {
                        Class::DhcpClient | Class::Datagram => &mut self.dgram,
                        _ => &mut self.void,
                    };
                    self.iface.poll_ingress_single(now, &mut self.dev, set);
                    self.counters.frames_from_peers.inc();
                    self.arp_seen |= class.is_neighbor();
                    rx += 1;
                }
                Msg::Config(c) => {
                    self.apply_ipv4(c);
                    self.counters.config_updates.inc();
                }
            }
        }

        let dhcp_here = self.queue() == self.cfg.dhcp_core;
        while rx < self.cfg.rx_budget {
            let Some(frame) = self.dev.peek() else { break };
            let class = classify(frame);
            if class.is_neighbor() {
                // Neighbor frames about others are dropped before costing every core a copy
                // (see neighbors.rs).
                let ours = Ours {
                    ipv4: self.ipv4,
                    link_local: self.link_local,
                    ipv6: self.ipv6,
                };
                if !neighbor_wanted(frame, &ours, &self.iface) {
                    self.counters.neighbor_ignored.inc();
                    self.dev.discard();
                    rx += 1;
                    continue;
                }
                if let Some(m) = self.mesh.as_mut() {
                    let dropped = m.broadcast(&Msg::Frame(frame.to_vec()));
                    self.counters.drop_mesh_full.add(dropped);
                }
            }
            if class == Class::DhcpClient
                && dhcp_here
                && self.dhcp.is_some()
                && refuse_dhcp_reply(&self.counters, frame)
            {
                self.dev.discard();
                rx += 1;
                continue;
            }
            if class == Class::DhcpClient && !dhcp_here {
                let to = usize::from(self.cfg.dhcp_core);
                let msg = Msg::Frame(frame.to_vec());
                if !self.mesh.as_mut().is_some_and(|m| m.send(to, msg)) {
                    self.counters.drop_mesh_full.inc();
                }
                self.dev.discard();
                rx += 1;
                continue;
            }
            if self.ingress(class, false) == PollIngressSingleResult::None {
                break; // No TX buffer for a possible reply: leave the frame queued.
            }
            rx += 1;
            self.arp_seen |= class.is_neighbor();
        }
        if rx >= self.cfg.rx_budget && self.dev.peek().is_some() {
            self.counters.budget_exhausted.inc();
        }
        rx
    }

    /// Dispatches the frame at the head of the device. `from_peer`: it was forwarded by another
    /// core (never forwarded again).
    pub(super) fn ingress(&mut self, class: Class, from_peer: bool) -> PollIngressSingleResult {
        let now = self.now;
        // `ref`: borrowing the 20-byte flow key instead of moving it out saves ~30
        // instructions per packet (measured with echo_bench).
        match class {
            Class::Tcp {
                ref tuple,
                syn,
                rst,
            } => {
                if rst {
                    self.counters.resets_received.inc();
                }
                let b = self.bucket_of(tuple);
                let found = self.buckets[b].flows.iter().find(|(t, _)| t == tuple);
                if let Some(&(_, i)) = found
                    && let Some(c) = self.slots[i as usize].conn.as_mut()
                {
                    let r = self
                        .iface
                        .poll_ingress_single(now, &mut self.dev, &mut c.set);
                    self.mark(i);
                    self.note_ready(i);
                    return r;
                }
                if !syn {
                    // A bare SYN opens a connection; it is never a reply to ours.
                    if let Some(owner) = self.check_wrong_core(tuple)
                        && !from_peer
                    {
                        return self.forward_to(owner);
                    }
                }
                if syn {
                    return self.ingress_syn(*tuple);
                }
                if !rst && let Some(r) = self.cookie_ack(tuple, from_peer) {
                    return r;
                }
                if !rst {
                    self.counters.drop_no_socket.inc();
                }
                self.iface
                    .poll_ingress_single(now, &mut self.dev, &mut self.void)
            }
            Class::Datagram | Class::DhcpClient => {
                self.iface
                    .poll_ingress_single(now, &mut self.dev, &mut self.dgram)
            }
            Class::Arp | Class::Ndp => {
                self.iface
                    .poll_ingress_single(now, &mut self.dev, &mut self.void)
            }
            Class::Other => {
                self.counters.drop_unknown.inc();
                self.dev.discard();
                PollIngressSingleResult::PacketProcessed
            }
        }
    }

    /// A TCP segment matched no connection of this core: if its local port is in the
    /// ephemeral range (and nobody listens on it), it is a reply to an active open, and
    /// replies to our active opens are steered here by construction. So either the steering
    /// table sends it elsewhere (the NIC disagrees with our prediction) or the port is not
    /// ours (another core opened it and the reply was mis-steered): count it. Only misses
    /// pay for the hash; a found flow was opened here with a port predicted for this queue.
    ///
    /// Returns the core the table names when that is another one: the connection, if any, is
    /// there (the NIC steers by its own policy, e.g. multi-queue without RSS), and the caller
    /// hands the segment over instead of answering it with a RST.
    fn check_wrong_core(&mut self, tuple: &Tuple) -> Option<u16> {
        let port = tuple.local_port;
        if !self.ports.in_range(port) || self.listeners.iter().any(|l| l.port == port) {
            return None;
        }
        let steered = match crate::ip::IpAddr::from_mapped(tuple.remote) {
            crate::ip::IpAddr::V4(remote) => {
                let local = self.ipv4.map(|c| c.ip)?;
                self.ports
                    .solver()
                    .reply_queue(local, (remote, tuple.remote_port), port)
            }
            crate::ip::IpAddr::V6(remote) => {
                let local = self.ipv6_source(remote)?;
                self.ports
                    .solver()
                    .reply_queue_v6(local, (remote, tuple.remote_port), port)
            }
        };
        let now_us = self.now.total_micros() as u64;
        if steered != self.queue() || !self.ports.holds(port, now_us) {
            self.counters.wrong_core.inc();
        }
        (steered != self.queue()).then_some(steered)
    }

    /// Hands the frame at the head of the device to core `owner` over the mesh.
    fn forward_to(&mut self, owner: u16) -> PollIngressSingleResult {
        let sent = match (self.dev.peek().map(<[u8]>::to_vec), self.mesh.as_mut()) {
            (Some(frame), Some(m)) => m.send(usize::from(owner), Msg::Frame(frame)),
            _ => false,
        };
        if sent {
            self.counters.forwarded_to_owner.inc();
        } else {
            self.counters.drop_mesh_full.inc();
        }
        self.dev.discard();
        PollIngressSingleResult::PacketProcessed
    }

    /// A SYN for no existing flow: to a fresh listening socket (a half-open connection) if
    /// the port's half-open budget and the core's half-open bound allow. Past either, or at
    /// the core's connection limit while half-open connections hold part of it, a SYN cookie
    /// (its ACK, proof of a real peer, may evict the oldest half-open connection). Refused
    /// (RST from smoltcp) when nobody listens or the limit is held by connections past the
    /// handshake.
    ///
    /// A SYN never evicts a half-open connection: when the ports' budgets add up to more than
    /// the core's bound, a flood spread over the ports would otherwise keep every port under
    /// its budget, never send a cookie, and evict each real client's half-open connection
    /// (one SYN per eviction) before its ACK could come back.
    pub(super) fn ingress_syn(&mut self, tuple: Tuple) -> PollIngressSingleResult {
        let li = self
            .listeners
            .iter()
            .position(|l| l.port == tuple.local_port);
        let Some(li) = li else {
            return self.refuse();
        };
        if self.listeners[li].half_open >= self.cfg.half_open_per_port
            || self.half_open_count >= self.cfg.half_open_max
            || self.live >= self.cfg.max_connections
            || !self.make_room(true)
        {
            // (`make_room` cannot fail here: both bounds were just checked.)
            return self.send_cookie(li, tuple);
        }
        self.passive_open(li, tuple)
    }
}
