//! A core's byte budget for connection buffers: growth driven by the wire must fit in it.
//!
//! The runtime sizes the connection limit so that every connection's fixed cost (its TCP
//! socket buffers and the appliance's state) fits in the heap; what connections buffer on top
//! (requests split across segments, pipelined responses, echo data) comes from one shared
//! [`Pool`] per core. A buffer grows only through [`try_grow`], which charges the pool first
//! and allocates with `try_reserve_exact`: a connection that would overdraw the pool (or the
//! heap) gets an error to shed it with, and the machine keeps running.

use alloc::vec::Vec;

/// Heap kept free beyond any request, for what the stack and the router allocate without asking.
pub const HEAP_SLACK: usize = 64 * 1024;

/// Smallest capacity a buffer grows to (fewer tiny reallocations).
const MIN_CAPACITY: usize = 512;

/// Why a buffer could not grow; the connection is shed (reset and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowError {
    /// The pool (or the heap headroom it was told about) has no room for it.
    OverBudget,
    /// The buffer would exceed its own bound.
    OverLimit,
    /// The allocator refused.
    Alloc,
}

impl core::fmt::Display for GrowError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::OverBudget => "the core's buffer pool has no room",
            Self::OverLimit => "the buffer would exceed its own bound",
            Self::Alloc => "the allocator refused",
        })
    }
}

impl core::error::Error for GrowError {}

/// One core's account of buffered bytes.
#[derive(Debug, Clone)]
pub struct Pool {
    limit: usize,
    used: usize,
    peak: usize,
    heap_free: Option<usize>,
}

impl Pool {
    /// A pool of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: 0,
            peak: 0,
            heap_free: None,
        }
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Highest `used` seen.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The budget.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes that can still be charged.
    pub fn available(&self) -> usize {
        let budget = self.limit.saturating_sub(self.used);
        match self.heap_free {
            Some(free) => budget.min(free.saturating_sub(HEAP_SLACK)),
            None => budget,
        }
    }

    /// Tells the pool how much heap is free right now (the heap is shared with the stack and
    /// fragments, so the budget alone is not a promise); charges until the next call count
    /// against it too.
    pub fn observe_heap_free(&mut self, bytes: usize) {
        self.heap_free = Some(bytes);
    }

    /// Heap this pool may still see spent before the next [`observe_heap_free`]
    /// (`None`: never told), less [`HEAP_SLACK`].
    ///
    /// [`observe_heap_free`]: Self::observe_heap_free
    pub fn heap_headroom(&self) -> Option<usize> {
        self.heap_free.map(|f| f.saturating_sub(HEAP_SLACK))
    }

    /// Counts `n` bytes of heap spent outside the budget (e.g. replies a core makes for
    /// another core's connections, which that core's pool charges) against the headroom,
    /// until the next [`observe_heap_free`](Self::observe_heap_free).
    pub fn spend_heap(&mut self, n: usize) {
        if let Some(f) = self.heap_free.as_mut() {
            *f = f.saturating_sub(n);
        }
    }

    /// Charges `n` bytes if they fit.
    pub fn try_take(&mut self, n: usize) -> Result<(), GrowError> {
        if n > self.available() {
            return Err(GrowError::OverBudget);
        }
        self.force_take(n);
        Ok(())
    }

    /// Charges `n` bytes that are already allocated (the allocator gave more than asked).
    fn force_take(&mut self, n: usize) {
        self.used += n;
        self.peak = self.peak.max(self.used);
        if let Some(f) = self.heap_free.as_mut() {
            *f = f.saturating_sub(n);
        }
    }

    /// Returns `n` bytes.
    pub fn give(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
        if let Some(f) = self.heap_free.as_mut() {
            *f += n;
        }
    }
}

/// Makes room for `additional` more bytes in `v`, whose capacity must stay within
/// `max_capacity`, charging the growth to `pool`. Capacity grows by doubling (capped), so
/// a stream of small appends costs few reallocations.
pub fn try_grow(
    v: &mut Vec<u8>,
    additional: usize,
    max_capacity: usize,
    pool: &mut Pool,
) -> Result<(), GrowError> {
    let need = v.len().saturating_add(additional);
    let cap = v.capacity();
    if need <= cap {
        return Ok(());
    }
    if need > max_capacity {
        return Err(GrowError::OverLimit);
    }
    let target = need
        .max((cap * 2).min(max_capacity))
        .max(MIN_CAPACITY.min(max_capacity));
    pool.try_take(target - cap)?;
    if v.try_reserve_exact(target - v.len()).is_err() {
        pool.give(target - cap);
        return Err(GrowError::Alloc);
    }
    // The allocator may round up: charge what it really gave.
    let got = v.capacity();
    if got > target {
        pool.force_take(got - target);
    }
    Ok(())
}

/// Gives back capacity beyond `keep` once `v` holds no more than that.
pub fn shrink(v: &mut Vec<u8>, keep: usize, pool: &mut Pool) {
    let cap = v.capacity();
    if cap <= keep || v.len() > keep {
        return;
    }
    v.shrink_to(keep);
    pool.give(cap - v.capacity());
}

/// Returns all of `v`'s capacity to the pool and frees it.
pub fn release(v: &mut Vec<u8>, pool: &mut Pool) {
    pool.give(v.capacity());
    *v = Vec::new();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_spent_outside_the_budget_narrows_the_headroom() {
        let mut p = Pool::new(1 << 20);
        assert_eq!(p.heap_headroom(), None);
        p.observe_heap_free(HEAP_SLACK + 10_000);
        assert_eq!(p.heap_headroom(), Some(10_000));
        p.spend_heap(6_000);
        assert_eq!(p.heap_headroom(), Some(4_000));
        // Charges see what was spent: 4 000 fit, 4 001 do not.
        assert_eq!(p.try_take(4_001), Err(GrowError::OverBudget));
        p.try_take(4_000).unwrap();
        assert_eq!(p.heap_headroom(), Some(0));
        p.spend_heap(1);
        assert_eq!(p.heap_headroom(), Some(0));
        // The next observation replaces the view.
        p.observe_heap_free(HEAP_SLACK + 5);
        assert_eq!(p.heap_headroom(), Some(5));
    }

    #[test]
    fn growth_is_charged_and_bounded() {
        let mut p = Pool::new(4096);
        let mut v = Vec::new();
        try_grow(&mut v, 100, 2048, &mut p).unwrap();
        assert_eq!(p.used(), v.capacity());
        assert!(v.capacity() >= 100);
        v.extend_from_slice(&[1; 100]);
        try_grow(&mut v, 1500, 2048, &mut p).unwrap();
        assert_eq!(p.used(), v.capacity());
        assert!(v.capacity() <= 2048);
        assert_eq!(
            try_grow(&mut v, 2000, 2048, &mut p),
            Err(GrowError::OverLimit)
        );
        let mut w = Vec::new();
        assert_eq!(
            try_grow(&mut w, 4000, 8192, &mut p),
            Err(GrowError::OverBudget)
        );
        assert_eq!(w.capacity(), 0, "nothing allocated on refusal");
        shrink(&mut v, 0, &mut p);
        assert_eq!(p.used(), v.capacity(), "still holding data: kept");
        v.clear();
        shrink(&mut v, 0, &mut p);
        assert_eq!((p.used(), v.capacity()), (0, 0));
        assert_eq!(p.peak(), 1600, "512, then exactly what 1600 bytes need");
    }

    #[test]
    fn heap_headroom_limits_the_pool() {
        let mut p = Pool::new(1 << 20);
        p.observe_heap_free(HEAP_SLACK + 1000);
        assert_eq!(p.available(), 1000);
        let mut v = Vec::new();
        assert_eq!(
            try_grow(&mut v, 2000, 4096, &mut p),
            Err(GrowError::OverBudget)
        );
        try_grow(&mut v, 600, 600, &mut p).unwrap();
        assert!(p.available() <= 400);
        release(&mut v, &mut p);
        assert_eq!((p.used(), p.available()), (0, 1000));
    }
}
