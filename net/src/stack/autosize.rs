//! Buffers sized to the path (`StackConfig::tcp_buffer_auto_max`): a passive open grows its
//! buffers at establishment to the handshake's round trip x `tcp_path_rate`.
//!
//! smoltcp fixes the window scale at the SYN, so the socket offers the scale of the largest
//! size from the start (smoltcp patch 9, `set_rx_buffer_max`), and its buffers are swapped
//! for larger ones, their contents moved, as soon as the handshake completes
//! (`replace_buffers`): the round trip of the SYN-ACK is the first sample of the path, and
//! a bulk transfer has barely started.

use alloc::vec::Vec;

use corenet_nic::{RxQueue, TxQueue};
use smoltcp::socket::tcp::{Socket as TcpSocket, SocketBuffer};

use super::CoreStack;

/// The shortest handshake round trip (µs) whose connection is paced (`tcp_pacing`). Below
/// it a window leaves within pacing's 1 ms allowance anyway, and waiting for the
/// millisecond timer between segments only slowed short lossy paths (docs/BENCHMARKS.md,
/// "Pacing on the 50 ms path": 10 MB each way through 1 % and 5 % loss took twice as long).
pub(super) const PACING_MIN_RTT_US: u64 = 10_000;

/// The buffer size for a round trip of `rtt_us` at `rate` bytes/s: the next power of two,
/// from `min` up to `max`.
pub(super) fn size_for(rtt_us: u64, rate: u64, min: usize, max: usize) -> usize {
    let bdp = rtt_us.saturating_mul(rate) / 1_000_000;
    let bdp = usize::try_from(bdp).unwrap_or(usize::MAX);
    bdp.checked_next_power_of_two()
        .unwrap_or(usize::MAX)
        .clamp(min, max.max(min))
}

/// `size` zeroed bytes, or `None` when the heap cannot give them.
pub(super) fn zeroed(size: usize) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(size).ok()?;
    v.resize(size, 0);
    Some(v)
}

impl<R: RxQueue, T: TxQueue> CoreStack<R, T> {
    /// Connection `i` (a passive open whose SYN arrived at `syn_us`) just completed its
    /// handshake: grows its buffers to the path, within the budget.
    pub(super) fn size_to_path(&mut self, i: u32, syn_us: u64) {
        let now = self.now.total_micros() as u64;
        let rtt = now.saturating_sub(syn_us);
        if self.cfg.tcp_pacing
            && rtt >= PACING_MIN_RTT_US
            && let Some(conn) = self.slots[i as usize].conn.as_mut()
        {
            conn.set.get_mut::<TcpSocket>(conn.handle).set_pacing(true);
        }
        let size = size_for(
            rtt,
            self.cfg.tcp_path_rate,
            self.cfg.tcp_buffer,
            self.cfg.tcp_buffer_auto_max,
        );
        if size <= self.cfg.tcp_buffer {
            return;
        }
        let extra = 2 * (size - self.cfg.tcp_buffer);
        if self.port_buffer_used + extra > self.cfg.port_buffer_budget {
            self.counters.port_buffer_fallback.inc();
            return;
        }
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return;
        };
        // The budget bounds the total, but one contiguous block of this size may still be
        // missing from a fragmented heap: ask fallibly and keep the handshake's buffers
        // rather than end in the allocation-error panic (the peer's timing chose the size).
        let (Some(rx), Some(tx)) = (zeroed(size), zeroed(size)) else {
            self.counters.port_buffer_fallback.inc();
            return;
        };
        let socket = conn.set.get_mut::<TcpSocket>(conn.handle);
        if socket
            .replace_buffers(SocketBuffer::new(rx), SocketBuffer::new(tx))
            .is_ok()
        {
            conn.port_buffer_extra += extra;
            self.port_buffer_used += extra;
            self.counters.path_sized.inc();
            // The larger window is announced at this connection's next egress.
            self.mark(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{size_for, zeroed};

    #[test]
    fn a_buffer_the_heap_cannot_give_is_refused_not_a_panic() {
        assert!(zeroed(usize::MAX).is_none());
        assert_eq!(
            zeroed(4096).map(|v| (v.len(), v.iter().all(|&b| b == 0))),
            Some((4096, true))
        );
    }

    #[test]
    fn sizes_follow_the_round_trip_within_bounds() {
        let k = 1024;
        let rate = 12_500_000;
        assert_eq!(size_for(0, rate, 16 * k, 256 * k), 16 * k);
        assert_eq!(size_for(1_000, rate, 16 * k, 256 * k), 16 * k);
        assert_eq!(size_for(5_000, rate, 16 * k, 256 * k), 64 * k);
        assert_eq!(size_for(10_000, rate, 16 * k, 256 * k), 128 * k);
        assert_eq!(size_for(50_000, rate, 16 * k, 256 * k), 256 * k);
        assert_eq!(size_for(u64::MAX, u64::MAX, 16 * k, 256 * k), 256 * k);
        // A maximum below the minimum leaves the minimum.
        assert_eq!(size_for(50_000, rate, 16 * k, 4 * k), 16 * k);
    }
}
