//! One TCP echo connection: what was read and not yet sent back, bounded.
//!
//! Reading stops while the unsent bytes are at the bound, so a peer that sends without
//! reading fills its own TCP window, not our heap. The buffer grows through the core's
//! [`Pool`] and is given back once empty.

use alloc::vec::Vec;

use crate::budget::{GrowError, Pool, release, shrink, try_grow};
use crate::timers::Phase;

/// Unsent echo bytes a connection holds at most (default).
pub const MAX_PENDING: usize = 16 * 1024;

/// An echo connection's state.
#[derive(Debug, Default)]
pub struct Echo {
    pending: Vec<u8>,
    peer_done: bool,
}

impl Echo {
    /// A fresh connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes the connection may read now (0: stop reading).
    pub fn room(&self, max: usize) -> usize {
        if self.peer_done {
            return 0;
        }
        max.saturating_sub(self.pending.len())
    }

    /// Queues received bytes (at most [`room`](Self::room)); an error sheds the connection.
    pub fn on_input(&mut self, data: &[u8], max: usize, pool: &mut Pool) -> Result<(), GrowError> {
        try_grow(&mut self.pending, data.len(), max, pool)?;
        self.pending.extend_from_slice(data);
        Ok(())
    }

    /// Bytes to send back.
    pub fn output(&self) -> &[u8] {
        &self.pending
    }

    /// `n` bytes were sent; an emptied buffer goes back to the pool.
    pub fn consumed(&mut self, n: usize, pool: &mut Pool) {
        self.pending.drain(..n.min(self.pending.len()));
        if self.pending.is_empty() {
            shrink(&mut self.pending, 0, pool);
        }
    }

    /// The peer finished sending.
    pub fn peer_closed(&mut self) {
        self.peer_done = true;
    }

    /// Everything echoed and the peer is done: close.
    pub fn done(&self) -> bool {
        self.peer_done && self.pending.is_empty()
    }

    /// Sending while bytes are unsent, else idle.
    pub fn phase(&self) -> Phase {
        if self.pending.is_empty() {
            Phase::Idle
        } else {
            Phase::Sending
        }
    }

    /// Buffer capacity held (charged to the pool).
    pub fn memory(&self) -> usize {
        self.pending.capacity()
    }

    /// Frees the buffer (the connection is gone).
    pub fn release(&mut self, pool: &mut Pool) {
        release(&mut self.pending, pool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_that_does_not_read_hits_the_bound() {
        let mut p = Pool::new(1 << 20);
        let mut e = Echo::new();
        let mut offered = 0;
        // The peer sends 1 MB and reads nothing: we read only while there is room.
        for _ in 0..1000 {
            let n = e.room(MAX_PENDING).min(1000);
            if n == 0 {
                break;
            }
            e.on_input(&[7; 1000][..n], MAX_PENDING, &mut p).unwrap();
            offered += n;
        }
        assert_eq!(offered, MAX_PENDING);
        assert_eq!(e.room(MAX_PENDING), 0);
        assert!(e.memory() <= MAX_PENDING);
        assert_eq!(p.used(), e.memory());
        assert_eq!(e.phase(), Phase::Sending);
        e.consumed(MAX_PENDING, &mut p);
        assert_eq!((p.used(), e.phase()), (0, Phase::Idle));
        e.peer_closed();
        assert!(e.done());
    }

    #[test]
    fn over_budget_is_an_error() {
        let mut p = Pool::new(100);
        let mut e = Echo::new();
        assert_eq!(
            e.on_input(&[1; 500], MAX_PENDING, &mut p),
            Err(GrowError::OverBudget)
        );
        e.release(&mut p);
        assert_eq!(p.used(), 0);
    }
}
