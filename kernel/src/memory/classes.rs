//! Size classes in front of a core's heap: small blocks are recycled in O(1).
//!
//! `linked_list_allocator` keeps one address-ordered list of holes, so both an allocation
//! (first fit) and a free (insertion in order) walk it: with tens of thousands of small
//! blocks alive and freed in any order (a key-value store's keys and values, connections'
//! buffers) every allocation costs a walk of the fragments. [`Classes`] keeps one free list
//! per size class (16 to 512 bytes); a block freed in a class goes on its list, threaded
//! through the block itself, and the next allocation of that class pops it. Blocks come from
//! the heap at their class's size and alignment ([`CLASS_ALIGN`]), so any request of the
//! class (size up to the class, alignment up to 16) fits any block of the class.
//!
//! Memory parked on the lists is free but not back in the heap; when the heap refuses a
//! request, the allocator gives every parked block back ([`Classes::drain`]) and tries again,
//! so a large allocation never fails for want of memory that small ones hold.

use core::alloc::Layout;
use core::ptr::{NonNull, null_mut};

/// Class sizes: multiples of 16 up to 128, then wider steps (waste at most a third).
pub const SIZES: [usize; 11] = [16, 32, 48, 64, 96, 128, 192, 256, 320, 384, 512];
/// Alignment of every class block (requests aligned more go to the heap directly).
pub const CLASS_ALIGN: usize = 16;

/// The class of a request, if it has one.
pub fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > CLASS_ALIGN {
        return None;
    }
    SIZES.iter().position(|&s| layout.size() <= s)
}

/// The layout the heap hands out for class `c`.
pub fn class_layout(c: usize) -> Layout {
    // Every size is a non-zero multiple of the power-of-two alignment: the fallback (the same
    // 16 bytes, 16-aligned, as class 0) is never taken.
    Layout::from_size_align(SIZES[c], CLASS_ALIGN).unwrap_or(Layout::new::<u128>())
}

/// One free list per class, threaded through the parked blocks.
pub struct Classes {
    heads: [*mut u8; SIZES.len()],
    /// Bytes parked on the lists (class sizes).
    parked: usize,
}

impl Default for Classes {
    fn default() -> Self {
        Self::new()
    }
}

impl Classes {
    /// Empty lists.
    pub const fn new() -> Self {
        Self {
            heads: [null_mut(); SIZES.len()],
            parked: 0,
        }
    }

    /// Bytes parked on the lists.
    pub fn parked(&self) -> usize {
        self.parked
    }

    /// A parked block of class `c`, if any.
    pub fn pop(&mut self, c: usize) -> Option<NonNull<u8>> {
        let head = NonNull::new(self.heads[c])?;
        // SAFETY: every block on a list was pushed by `push` with a valid next pointer written
        // into its first 8 bytes (a class block is at least 16 bytes, 16-aligned), and nobody
        // else touches a parked block.
        self.heads[c] = unsafe { head.as_ptr().cast::<*mut u8>().read() };
        self.parked -= SIZES[c];
        Some(head)
    }

    /// Parks block `p` of class `c`.
    ///
    /// # Safety
    /// `p` must be a block of class `c` (allocated with [`class_layout`]`(c)`) that its owner
    /// no longer uses; it stays untouched by anyone but this list until popped or drained.
    pub unsafe fn push(&mut self, c: usize, p: NonNull<u8>) {
        // SAFETY: the caller hands over a block of at least 16 bytes, 16-aligned.
        unsafe { p.as_ptr().cast::<*mut u8>().write(self.heads[c]) };
        self.heads[c] = p.as_ptr();
        self.parked += SIZES[c];
    }

    /// Empties every list, handing each block and its class layout to `free`.
    pub fn drain(&mut self, free: &mut dyn FnMut(NonNull<u8>, Layout)) {
        for c in 0..SIZES.len() {
            while let Some(p) = self.pop(c) {
                free(p, class_layout(c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{alloc, dealloc};
    use std::vec::Vec;

    #[test]
    fn requests_map_to_the_smallest_class_that_fits() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert_eq!(class_of(l(1, 1)), Some(0));
        assert_eq!(class_of(l(16, 8)), Some(0));
        assert_eq!(class_of(l(17, 8)), Some(1));
        assert_eq!(class_of(l(100, 16)), Some(5));
        assert_eq!(class_of(l(512, 4)), Some(10));
        assert_eq!(class_of(l(513, 4)), None, "large: the heap");
        assert_eq!(class_of(l(64, 32)), None, "over-aligned: the heap");
        for (c, &size) in SIZES.iter().enumerate() {
            let cl = class_layout(c);
            assert_eq!((cl.size(), cl.align()), (size, CLASS_ALIGN));
            assert_eq!(class_of(cl), Some(c));
        }
    }

    #[test]
    fn blocks_are_recycled_last_in_first_out_and_drained_back() {
        let mut cl = Classes::new();
        let lay = class_layout(3);
        // SAFETY: host allocations of the class layout, handed to the lists and freed below.
        let blocks: Vec<NonNull<u8>> = (0..4)
            .map(|_| NonNull::new(unsafe { alloc(lay) }).unwrap())
            .collect();
        for &b in &blocks {
            // SAFETY: a block of class 3 nobody uses any more.
            unsafe { cl.push(3, b) };
        }
        assert_eq!(cl.parked(), 4 * SIZES[3]);
        assert_eq!(cl.pop(3), Some(blocks[3]));
        assert_eq!(cl.pop(2), None, "other classes are empty");
        let mut back = Vec::new();
        cl.drain(&mut |p, l| back.push((p, l)));
        assert_eq!(back.len(), 3);
        assert!(back.iter().all(|&(_, l)| l == lay));
        assert_eq!(cl.parked(), 0);
        for (p, l) in back.into_iter().chain([(blocks[3], lay)]) {
            // SAFETY: each came from `alloc(lay)` above and is freed once.
            unsafe { dealloc(p.as_ptr(), l) };
        }
    }
}
