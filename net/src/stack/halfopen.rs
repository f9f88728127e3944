//! Passive opens and the bounded half-open set: one fresh socket per SYN with an RFC 6528
//! ISN, half-open (SYN-RECEIVED) connections tracked in arrival order, bounded per port and
//! per core, the oldest evicted first, each with a short SYN-RECEIVED timeout.

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::PollIngressSingleResult;
use smoltcp::socket::tcp::{Socket as TcpSocket, State};
use smoltcp::time::Duration;
use smoltcp::wire::TcpSeqNumber;

use super::{CoreStack, Origin, Tuple, keys};

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Passive connections in SYN-RECEIVED held now (the half-open set).
    pub fn half_open(&self) -> usize {
        self.half_open_count
    }

    /// A listening socket of listener `li` (from its reserve, else a new one) that takes its
    /// next SYN with ISN `isn` and gives the handshake `syn_received_timeout_ms`; and the
    /// bytes of the port-buffer budget it holds (`sized`: the port's own buffer size, if
    /// it has one and the budget and the heap allow; else `tcp_buffer`). `None` when the heap
    /// has no block even for `tcp_buffer` and the listener's reserve is empty.
    pub(super) fn listening_socket(
        &mut self,
        li: usize,
        isn: u32,
        sized: bool,
    ) -> Option<(TcpSocket<'static>, usize)> {
        let port = self.listeners[li].port;
        let (s, extra) = match super::portbuf::port_buffer(&self.cfg, port) {
            Some(size) if sized => {
                let extra = 2 * (size - self.cfg.tcp_buffer);
                let s = (self.port_buffer_used + extra <= self.cfg.port_buffer_budget)
                    .then(|| super::portbuf::listening_socket(&self.cfg, port, size))
                    .flatten();
                if s.is_some() {
                    self.port_buffer_used += extra;
                    (s, extra)
                } else {
                    self.counters.port_buffer_fallback.inc();
                    (None, 0)
                }
            }
            _ => (None, 0),
        };
        let mut s = match s.or_else(|| self.listeners[li].ready.pop()) {
            Some(s) => s,
            None => super::portbuf::listening_socket(&self.cfg, port, self.cfg.tcp_buffer)?,
        };
        s.set_initial_sequence(Some(TcpSeqNumber(isn as i32)));
        s.set_timeout(Some(Duration::from_millis(
            self.cfg.syn_received_timeout_ms,
        )));
        Some((s, extra))
    }

    /// Hands the SYN at the head of the device to a fresh listening socket of listener `li`,
    /// in a set of its own under `tuple`: the socket answers with an RFC 6528 ISN.
    pub(super) fn passive_open(&mut self, li: usize, tuple: Tuple) -> PollIngressSingleResult {
        let now = self.now;
        let isn = keys::isn(&self.keys.isn, &tuple, now.total_micros() as u64);
        let port = self.listeners[li].port;
        let Some((s, extra)) = self.listening_socket(li, isn, true) else {
            // No heap for its buffers: answered as at the connection limit.
            return self.refuse();
        };
        let i = self.insert_conn(tuple, s, Origin::Embryonic(port)).index;
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return PollIngressSingleResult::None; // unreachable: just inserted
        };
        conn.port_buffer_extra = extra;
        if extra == 0 && super::portbuf::port_buffer(&self.cfg, port).is_none() {
            conn.auto_from_us = Some(now.total_micros() as u64);
        }
        let r = self
            .iface
            .poll_ingress_single(now, &mut self.dev, &mut conn.set);
        match conn.set.get::<TcpSocket>(conn.handle).state() {
            State::SynReceived => self.track_half_open(i, li),
            // smoltcp did not take the SYN (malformed, not for us: it answered or dropped
            // it), or there was no TX buffer (the frame stays queued): nothing to keep.
            State::Listen => self.remove_conn(i),
            _ => {}
        }
        r
    }

    /// Enters connection `i` (in SYN-RECEIVED, for listener `li`) in the half-open set.
    pub(super) fn track_half_open(&mut self, i: u32, li: usize) {
        let Some(slot) = self.slots.get_mut(i as usize) else {
            return;
        };
        let Some(conn) = slot.conn.as_mut().filter(|c| !c.half_open) else {
            return;
        };
        conn.half_open = true;
        self.half_open_fifo.push_back((i, slot.generation));
        self.half_open_count += 1;
        self.listeners[li].half_open += 1;
        // Entries of connections that left the set stay in the queue until they reach its
        // front; sweep them when they outnumber the live ones, so the queue stays bounded.
        if self.half_open_fifo.len() > 2 * self.half_open_count + 64 {
            let slots = &self.slots;
            self.half_open_fifo.retain(|&(i, g)| {
                let s = &slots[i as usize];
                s.generation == g && s.conn.as_ref().is_some_and(|c| c.half_open)
            });
        }
    }

    /// Takes connection `i` (leaving SYN-RECEIVED or freed, its local port `port`) out of the
    /// half-open counts; its queue entry goes stale.
    pub(super) fn leave_half_open(&mut self, port: u16) {
        self.half_open_count = self.half_open_count.saturating_sub(1);
        if let Some(l) = self.listeners.iter_mut().find(|l| l.port == port) {
            l.half_open = l.half_open.saturating_sub(1);
        }
    }

    /// Frees the oldest half-open connection (no RST: its peer, if real, retransmits its ACK,
    /// which then gets one). Returns whether there was one.
    pub(super) fn evict_oldest(&mut self) -> bool {
        while let Some((i, g)) = self.half_open_fifo.pop_front() {
            let slot = &mut self.slots[i as usize];
            let Some(conn) = slot
                .conn
                .as_mut()
                .filter(|c| c.half_open && slot.generation == g)
            else {
                continue; // stale entry
            };
            if conn.set.get::<TcpSocket>(conn.handle).state() != State::SynReceived {
                // Completed (or died) in this poll, not settled yet: no longer half-open,
                // and never evicted (its peer already holds an established connection).
                conn.half_open = false;
                let port = conn.tuple.local_port;
                self.leave_half_open(port);
                continue;
            }
            self.remove_conn(i);
            self.counters.half_open_evicted.inc();
            return true;
        }
        false
    }

    /// Makes room for one more connection under the core's connection limit (and, with
    /// `half_open`, for one more half-open one under the core's bound), evicting the oldest
    /// half-open connections as needed. False when that is not enough: the limit is held by
    /// connections past the handshake (or the half-open bound is 0).
    pub(super) fn make_room(&mut self, half_open: bool) -> bool {
        loop {
            let full = self.live >= self.cfg.max_connections
                || (half_open && self.half_open_count >= self.cfg.half_open_max);
            if !full {
                return true;
            }
            if !self.evict_oldest() {
                return false;
            }
        }
    }
}
