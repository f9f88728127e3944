//! The stack's side of SYN cookies: answer a SYN statelessly once its port's half-open
//! budget is used, and turn a valid cookie ACK into a connection.

use alloc::vec::Vec;

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::iface::PollIngressSingleResult;
use smoltcp::phy::{Device, TxToken};
use smoltcp::socket::tcp::{Socket as TcpSocket, State};

use super::{CoreStack, Origin, Tuple, syncookie, synwire};
use crate::ip::IpAddr;

/// The MSS our cookie SYN-ACK announces: a 1500-byte MTU less the IP and TCP headers.
fn our_mss(peer: IpAddr) -> u16 {
    match peer {
        IpAddr::V4(_) => 1460,
        IpAddr::V6(_) => 1440,
    }
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Whether `a` is one of this core's addresses (IPv4, IPv6 global or link-local).
    fn is_ours(&self) -> impl Fn(IpAddr) -> bool + use<R, T> {
        let (v4, v6, ll) = (
            self.ipv4.map(|c| c.ip),
            self.ipv6.map(|c| c.ip),
            self.link_local,
        );
        move |a| match a {
            IpAddr::V4(a) => v4 == Some(a),
            IpAddr::V6(a) => v6 == Some(a) || ll == Some(a),
        }
    }

    /// Answers the SYN at the head of the device (for listener `li`, flow `tuple`) with a
    /// cookie SYN-ACK built here, keeping no state.
    pub(super) fn send_cookie(&mut self, li: usize, tuple: Tuple) -> PollIngressSingleResult {
        let now = self.now;
        let now_us = now.total_micros() as u64;
        if self.live >= self.cfg.max_connections && self.half_open_count == 0 {
            // Even a valid cookie ACK would find no room: refuse now, as without cookies.
            return self.refuse();
        }
        let is_ours = self.is_ours();
        let seg = self
            .dev
            .peek()
            .and_then(|f| synwire::parse(f, is_ours))
            .filter(|s| s.syn);
        let Some(seg) = seg else {
            // Malformed, or not to our address: smoltcp decides (drops it, or RST).
            return self
                .iface
                .poll_ingress_single(now, &mut self.dev, &mut self.void);
        };
        let cookie = syncookie::encode(&self.keys.cookie, &tuple, seg.seq, seg.mss, now_us);
        let window = self.cfg.tcp_buffer.min(0xffff) as u16;
        let (tcp, len) = synwire::syn_ack(&seg, cookie, our_mss(seg.src), window);
        let mac = self.cfg.mac;
        match self.dev.transmit(now) {
            Some(tok) => {
                tok.consume(len, |buf| synwire::write_syn_ack(buf, &seg, mac, &tcp));
                self.counters.syncookies_sent.inc();
                let l = &mut self.listeners[li];
                l.cookies_until_us = now_us + 2 * syncookie::COOKIE_PERIOD_US;
            }
            None => self.counters.syn_drop_tx_full.inc(),
        }
        self.dev.discard();
        PollIngressSingleResult::PacketProcessed
    }

    /// A segment for no known flow on a port that sent cookies lately: if it is the ACK of
    /// one of our cookies, the connection is made (a fresh listening socket with the cookie as
    /// its ISN is shown the SYN rebuilt from the ACK, then the ACK: ESTABLISHED without a
    /// SYN-ACK of its own). `None`: not a cookie ACK (or an invalid one, counted); the caller
    /// treats the segment as before.
    pub(super) fn cookie_ack(
        &mut self,
        tuple: &Tuple,
        from_peer: bool,
    ) -> Option<PollIngressSingleResult> {
        let now = self.now;
        let now_us = now.total_micros() as u64;
        let li = self
            .listeners
            .iter()
            .position(|l| l.port == tuple.local_port && now_us < l.cookies_until_us)?;
        let is_ours = self.is_ours();
        let seg = self.dev.peek().and_then(|f| synwire::parse(f, is_ours))?;
        let ack = seg.ack?;
        if seg.syn || seg.rst_or_fin {
            return None;
        }
        let (cookie, peer_isn) = (ack.wrapping_sub(1), seg.seq.wrapping_sub(1));
        let Some(mss) = syncookie::decode(&self.keys.cookie, tuple, peer_isn, cookie, now_us)
        else {
            self.counters.syncookies_rejected.inc();
            return None;
        };
        if !self.make_room(false) {
            return Some(self.refuse());
        }
        self.counters.syncookies_validated.inc();
        let syn = synwire::rebuild_syn(&seg, mss);
        // A forwarded ACK is the device's injected frame, which the SYN replaces for a moment.
        let ack_frame: Option<Vec<u8>> = if from_peer {
            self.dev.peek().map(<[u8]>::to_vec)
        } else {
            None
        };
        let port = tuple.local_port;
        // A cookie connection has no window scaling: a buffer above 64 KiB would be idle.
        let Some((s, _)) = self.listening_socket(li, cookie, false) else {
            // No heap for its buffers: answered as at the connection limit.
            return Some(self.refuse());
        };
        let i = self.insert_conn(*tuple, s, Origin::Embryonic(port)).index;
        let conn = self.slots[i as usize].conn.as_mut()?;
        // smoltcp's own SYN-ACK would go out at egress; the ACK below comes first.
        self.dev.inject(syn);
        self.iface
            .poll_ingress_single(now, &mut self.dev, &mut conn.set);
        if let Some(f) = ack_frame {
            self.dev.inject_answerable(f);
        }
        let r = self
            .iface
            .poll_ingress_single(now, &mut self.dev, &mut conn.set);
        if conn.set.get::<TcpSocket>(conn.handle).state() == State::SynReceived {
            // The ACK is still queued (no TX buffer) or was not acceptable: a half-open
            // connection like any other until it completes or times out.
            self.track_half_open(i, li);
        }
        Some(r)
    }

    /// Counts a refused SYN (or cookie ACK) and lets smoltcp answer it with RST.
    pub(super) fn refuse(&mut self) -> PollIngressSingleResult {
        self.counters.refused.inc();
        self.iface
            .poll_ingress_single(self.now, &mut self.dev, &mut self.void)
    }
}
