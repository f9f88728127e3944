//! The buffer free lists: a fixed-capacity LIFO of buffer indexes, with no growth path.

use alloc::boxed::Box;
use alloc::vec;

/// At most `capacity` u16 values, last in first out (the most recently used buffer, still
/// warm in cache, is reused first).
#[derive(Debug)]
pub(crate) struct FreeList {
    slots: Box<[u16]>,
    len: usize,
}

impl FreeList {
    /// An empty stack of `capacity`.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: vec![0; capacity].into_boxed_slice(),
            len: 0,
        }
    }

    /// A stack holding `0..n`, popping 0 first.
    pub(crate) fn full(capacity: usize, n: u16) -> Self {
        let mut s = Self::new(capacity);
        for i in (0..n).rev() {
            s.push(i);
        }
        s
    }

    /// Pushes `v`; a push beyond capacity (impossible when every index is pushed at most
    /// once, which the queues guarantee) is dropped.
    #[inline(always)]
    pub(crate) fn push(&mut self, v: u16) {
        if let Some(s) = self.slots.get_mut(self.len) {
            *s = v;
            self.len += 1;
        }
    }

    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<u16> {
        self.len = self.len.checked_sub(1)?;
        self.slots.get(self.len).copied()
    }

    #[cfg(any(test, feature = "model"))]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}
