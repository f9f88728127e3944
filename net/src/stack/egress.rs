//! The transmit half of a poll: timers, backlog, egress of the connections that need it.

use alloc::vec::Vec;

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::PollResult;

use super::{ARP_SWEEP_MS, CoreStack};

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// The earliest time (ms, the stack's clock) a poll has timer work to do: connection
    /// timers (retransmission, delayed ACK, keep-alive, TIME-WAIT) from the wheel, the
    /// datagram sockets' and DHCP client's deadline, the neighbor sweep; `Some(0)` when work
    /// is already marked. A core may halt until then. `None`: no timer is pending.
    pub fn next_deadline_ms(&mut self) -> Option<i64> {
        if !self.dirty.is_empty() {
            return Some(0);
        }
        let mut at = self.wheel.next_due_ms();
        if let Some(t) = self.iface.poll_at(self.now, &self.dgram) {
            let t = t.total_millis();
            at = Some(at.map_or(t, |a| a.min(t)));
        }
        if self.arp_seen {
            at = Some(at.map_or(self.next_sweep_ms, |a| a.min(self.next_sweep_ms)));
        }
        at
    }

    /// Transmit half at the time of the last [`poll_ingress`](Self::poll_ingress): due
    /// timers, listener replenishment, egress of every bucket that needs it, one doorbell.
    /// Returns the connections egressed.
    pub fn poll_egress(&mut self) -> usize {
        // Handles the application dropped since ingress: their FINs leave in this egress.
        self.release_dropped();
        let now = self.now;
        let mut due = Vec::new();
        self.wheel
            .advance(now.total_millis(), |b, at| due.push((b, at)));
        for (i, at) in due {
            if let Some(c) = self.slots[i as usize].conn.as_mut()
                && c.armed == Some(at)
            {
                c.armed = None;
                self.mark(i);
                // A timer may end the connection (retransmissions or keep-alive given up).
                self.note_ready(i);
            }
        }
        if self.arp_seen && now.total_millis() >= self.next_sweep_ms {
            // Sockets silenced while waiting for a neighbor may go now. This visits every
            // connection, so it runs at most once per ARP_SWEEP_MS however many ARP frames
            // arrive (a flood of them must not make per-packet cost grow with connections).
            self.arp_seen = false;
            self.next_sweep_ms = now.total_millis() + ARP_SWEEP_MS;
            for i in 0..self.slots.len() as u32 {
                if self.slots[i as usize].conn.is_some() {
                    self.mark(i);
                }
            }
        }
        self.replenish();
        self.iface.poll_egress(now, &mut self.dev, &mut self.dgram);
        self.poll_dhcp();
        let polled = self.egress_dirty();
        self.dev.flush();
        let limited = self.dev.take_icmp_limited();
        self.counters.icmp_rate_limited.add(limited);
        polled
    }

    /// Slots of the connections marked for egress since the last one: right after
    /// `poll_ingress`, those that received segments (and a few carried over), which is what
    /// the async executor wakes (`task::Executor::pass`). Read-only, no cost to the stack.
    pub(crate) fn marked_slots(&self) -> &[u32] {
        &self.dirty
    }

    /// Lists slot `i` for the application's next [`take_ready`](Self::take_ready) (once).
    #[inline]
    pub(super) fn note_ready(&mut self, i: u32) {
        if let Some(s) = self.slots.get_mut(i as usize)
            && !s.ready
        {
            s.ready = true;
            self.ready.push(i);
        }
    }

    /// Appends to `out` the slots ([`TcpConn::slot`](super::TcpConn::slot)) of the
    /// connections with news since the last call, each once: a segment arrived for it
    /// (bytes, FIN, reset, an acknowledgment that freed send room, the handshake's end) or
    /// one of its timers fired (which may have ended it). A connection not listed has none
    /// of these. A slot may name a connection the application has not accepted yet, or one
    /// it has let go (and possibly a newer connection in the same slot): look it up, ignore
    /// what is not yours. The list holds each slot at most once, so it stays bounded by the
    /// connection limit when nobody takes it.
    pub fn take_ready(&mut self, out: &mut Vec<u32>) {
        for &i in &self.ready {
            self.slots[i as usize].ready = false;
        }
        out.append(&mut self.ready);
    }

    /// Queues connection `i` for egress in this poll.
    pub(super) fn mark(&mut self, i: u32) {
        if let Some(c) = self.slots.get_mut(i as usize).and_then(|s| s.conn.as_mut())
            && !c.dirty
        {
            c.dirty = true;
            self.dirty.push(i);
        }
    }

    /// Transmits for every dirty connection, settles it and re-arms its timer.
    pub(super) fn egress_dirty(&mut self) -> usize {
        let now = self.now;
        let list = core::mem::take(&mut self.dirty);
        let n = list.len();
        let mut again = Vec::new();
        for &i in &list {
            let Some(c) = self.slots[i as usize].conn.as_mut() else {
                continue;
            };
            c.dirty = false;
            let mut rounds = 0;
            self.dev.take_last_tcp();
            while rounds < self.cfg.tx_rounds
                && self.iface.poll_egress(now, &mut self.dev, &mut c.set)
                    == PollResult::SocketStateChanged
            {
                rounds += 1;
                // Each round emits at most one segment of this connection.
                if let Some((seq, len)) = self.dev.take_last_tcp()
                    && len > 0
                {
                    let end = seq.wrapping_add(len);
                    match c.snd_max {
                        Some(max) if (seq.wrapping_sub(max) as i32) < 0 => {
                            self.counters.retransmissions.inc();
                        }
                        _ => {}
                    }
                    if c.snd_max
                        .is_none_or(|max| (end.wrapping_sub(max) as i32) > 0)
                    {
                        c.snd_max = Some(end);
                    }
                }
            }
            if !self.settle(i) {
                continue;
            }
            let Some(c) = self.slots[i as usize].conn.as_mut() else {
                continue;
            };
            match self.iface.poll_at(now, &c.set) {
                Some(at) if at <= now => again.push(i),
                Some(at) => {
                    // Rounded up: the wheel ticks in milliseconds, and a deadline taken
                    // early (a paced segment's time, smoltcp patch 11) finds nothing to do
                    // and is armed again, a spin until the time comes.
                    let at = (at.total_micros() + 999).div_euclid(1000);
                    if c.armed.is_none_or(|a| at < a) {
                        c.armed = Some(at);
                        self.wheel.arm(i, at);
                    }
                }
                None => {}
            }
        }
        // Keep the list's allocation unless something was marked while we worked.
        if self.dirty.is_empty() {
            let mut reuse = list;
            reuse.clear();
            self.dirty = reuse;
        }
        for i in again {
            self.mark(i);
        }
        n
    }
}
