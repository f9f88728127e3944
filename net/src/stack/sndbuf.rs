//! Send buffers that grow while they bound a bulk sender (`tcp_buffer_auto_max`), in the
//! spirit of Linux's `tcp_sndbuf_expand`.
//!
//! The handshake sizes a connection's buffers once (autosize.rs); on a sub-millisecond path
//! that is the `tcp_buffer` floor, and a send buffer of 16 KiB caps a download at 16 KiB per
//! round trip however wide the windows are. So when the application finds the send buffer
//! full and every byte in it has already left (nothing is held back by the congestion window
//! or the peer's window: the buffer is what limits the flight), the buffer is doubled, up to
//! `tcp_buffer_auto_max`, within `port_buffer_budget`, at most once per round trip. A peer
//! that reads slowly or not at all closes its window, our data waits unsent, and nothing
//! grows. smoltcp does not expose its flight, so it is worked out from sequence numbers:
//! the highest one sent (`snd_max`, seen at egress, IPv4 only) against where the
//! application's bytes end (`Tail`). Connections whose first bytes we could not place
//! (IPv6, SYN-cookie opens whose SYN-ACK smoltcp did not send) keep their buffers.

use smoltcp::socket::tcp::{Socket as TcpSocket, SocketBuffer};

use corenet_nic::{RxQueue, TxQueue};

use super::CoreStack;
use super::autosize::zeroed;

/// Where the application's bytes end in sequence space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tail {
    /// Nothing written yet.
    Fresh,
    /// One past the last byte written.
    At(u32),
    /// The first write came before any segment of ours was seen: not tracked.
    Unknown,
}

/// `a` is before `b` in sequence space.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// The application wrote `n` bytes to connection `i`'s send buffer.
    pub(super) fn note_written(&mut self, i: u32, n: usize) {
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return;
        };
        if n == 0 {
            return;
        }
        // Sequence space wraps; so does the tail, consistently with it.
        let n = n as u32;
        conn.tail = match (conn.tail, conn.snd_max) {
            (Tail::At(end), _) => Tail::At(end.wrapping_add(n)),
            // The first write follows the handshake: `snd_max` is one past our SYN, the
            // stream's first sequence number.
            (Tail::Fresh, Some(start)) => Tail::At(start.wrapping_add(n)),
            _ => Tail::Unknown,
        };
    }

    /// The application found connection `i`'s send buffer full: doubles it when the buffer,
    /// not a window, bounds the flight. Returns whether it grew.
    pub(super) fn grow_send_buffer(&mut self, i: u32) -> bool {
        let max = self.cfg.tcp_buffer_auto_max;
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return false;
        };
        let (Tail::At(end), Some(snd_max)) = (conn.tail, conn.snd_max) else {
            return false;
        };
        let socket = conn.set.get::<TcpSocket>(conn.handle);
        let (cap, queued) = (socket.send_capacity(), socket.send_queue());
        if max <= cap || queued < cap {
            return false;
        }
        // Bytes still unsent: the congestion window or the peer's (zero or small) window
        // holds them back, and a larger buffer would only hold more of them.
        if before(snd_max, end) {
            return false;
        }
        let snd_una = end.wrapping_sub(queued as u32);
        // Once per round trip: not before the flight of the last attempt is acknowledged.
        if conn.grow_after.is_some_and(|g| before(snd_una, g)) {
            return false;
        }
        conn.grow_after = Some(snd_max);
        let size = cap.saturating_mul(2).min(max);
        let extra = size - cap;
        if self.port_buffer_used + extra > self.cfg.port_buffer_budget {
            self.counters.sndbuf_fallback.inc();
            return false;
        }
        // The receive buffer keeps its size, but `replace_buffers` takes both.
        let rx_size = socket.recv_capacity();
        let (Some(rx), Some(tx)) = (zeroed(rx_size), zeroed(size)) else {
            self.counters.sndbuf_fallback.inc();
            return false;
        };
        let socket = conn.set.get_mut::<TcpSocket>(conn.handle);
        if socket
            .replace_buffers(SocketBuffer::new(rx), SocketBuffer::new(tx))
            .is_err()
        {
            return false;
        }
        conn.port_buffer_extra += extra;
        self.port_buffer_used += extra;
        self.counters.sndbuf_grown.inc();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::before;

    #[test]
    fn sequence_order_wraps() {
        assert!(before(1, 2));
        assert!(!before(2, 2));
        assert!(before(u32::MAX, 3));
        assert!(!before(3, u32::MAX));
    }
}
