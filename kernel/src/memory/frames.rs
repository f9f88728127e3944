//! The physical frame allocator: free ranges from the memory map, first fit, lowest first.
//!
//! Used at boot (page tables, stacks, per-core heaps and DMA pools) and on slow paths only;
//! per-core pools carve their hugepages out of it once and never come back on the fast path.
//! Memory below 1 MiB is never handed out (real-mode structures, the AP trampoline).

use corenet_boot::{MemoryKind, MemoryRegion};
use heapless::Vec;

/// Lowest address handed out.
pub const LOW_LIMIT: u64 = 0x10_0000;

/// A half-open physical range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// Free physical memory.
#[derive(Debug)]
pub struct FrameAllocator {
    free: Vec<Range, 128>,
    /// Bytes lost because the range list was full when an allocation split a range.
    pub leaked: u64,
}

impl FrameAllocator {
    /// Free memory = usable regions, minus what is below [`LOW_LIMIT`], minus `reserved`
    /// (the kernel image, boot structures still in use).
    pub fn new(regions: &[MemoryRegion], reserved: &[Range]) -> Self {
        let mut fa = Self {
            free: Vec::new(),
            leaked: 0,
        };
        for r in regions.iter().filter(|r| r.kind == MemoryKind::Usable) {
            // Page-align inwards: a partial page is not a frame.
            let start = align_up(r.start.max(LOW_LIMIT), 4096);
            let end = r.end() & !4095;
            if start < end {
                fa.insert(Range { start, end });
            }
        }
        // Firmware maps may list a range as usable and reserved at once: reserved wins.
        for r in regions.iter().filter(|r| r.kind != MemoryKind::Usable) {
            fa.remove(Range {
                start: r.start,
                end: r.end(),
            });
        }
        for &r in reserved {
            fa.remove(r);
        }
        fa
    }

    fn insert(&mut self, r: Range) {
        if r.start >= r.end {
            return;
        }
        let at = self
            .free
            .iter()
            .position(|f| f.start > r.start)
            .unwrap_or(self.free.len());
        if self.free.insert(at, r).is_err() {
            self.leaked += r.end - r.start;
        }
    }

    /// Takes `r` out of the free ranges wherever they overlap it.
    pub fn remove(&mut self, r: Range) {
        let mut i = 0;
        while i < self.free.len() {
            let f = self.free[i];
            if f.end <= r.start || f.start >= r.end {
                i += 1;
                continue;
            }
            self.free.remove(i);
            self.insert(Range {
                start: f.start,
                end: f.end.min(r.start),
            });
            self.insert(Range {
                start: f.start.max(r.end),
                end: f.end,
            });
            // Re-examine from the start: inserts keep the list sorted.
            i = 0;
        }
    }

    /// `size` bytes at a multiple of `align` (a power of two), below `limit`; lowest first.
    pub fn alloc_below(&mut self, size: u64, align: u64, limit: u64) -> Option<u64> {
        debug_assert!(align.is_power_of_two());
        let size = align_up(size.max(1), 4096);
        for i in 0..self.free.len() {
            let f = self.free[i];
            let start = align_up(f.start, align);
            let Some(end) = start.checked_add(size) else {
                continue;
            };
            if end <= f.end && end <= limit {
                self.free.remove(i);
                self.insert(Range {
                    start: f.start,
                    end: start,
                });
                self.insert(Range {
                    start: end,
                    end: f.end,
                });
                return Some(start);
            }
        }
        None
    }

    /// `size` bytes at a multiple of `align`, anywhere.
    pub fn alloc(&mut self, size: u64, align: u64) -> Option<u64> {
        self.alloc_below(size, align, u64::MAX)
    }

    /// Free bytes left.
    pub fn free_bytes(&self) -> u64 {
        self.free.iter().map(|r| r.end - r.start).sum()
    }

    /// The free ranges, sorted.
    pub fn ranges(&self) -> &[Range] {
        &self.free
    }
}

/// Rounds `v` up to a multiple of `a` (a power of two).
pub const fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: u64, len: u64, kind: MemoryKind) -> MemoryRegion {
        MemoryRegion { start, len, kind }
    }

    #[test]
    fn excludes_low_memory_reserved_and_image() {
        let regions = [
            region(0, 0x9fc00, MemoryKind::Usable),
            region(0x10_0000, 0x3ff0_0000, MemoryKind::Usable),
            region(0x2000_0000, 0x1000, MemoryKind::Reserved),
        ];
        let mut fa = FrameAllocator::new(
            &regions,
            &[Range {
                start: 0x10_0000,
                end: 0x30_0000,
            }],
        );
        assert_eq!(fa.ranges()[0].start, 0x30_0000);
        assert_eq!(fa.free_bytes(), 0x3ff0_0000 - 0x20_0000 - 0x1000);
        let a = fa.alloc(4096, 4096).unwrap();
        assert_eq!(a, 0x30_0000);
        let h = fa.alloc(2 << 20, 2 << 20).unwrap();
        assert_eq!(h % (2 << 20), 0);
        assert!(h >= 0x40_0000);
        // The gap left by alignment is still usable.
        assert_eq!(fa.alloc(4096, 4096), Some(0x30_1000));
        assert!(fa.alloc_below(4096, 4096, 0x30_0000).is_none());
        assert!(fa.alloc(1 << 40, 4096).is_none());
    }

    #[test]
    fn never_hands_out_overlapping_frames() {
        let regions = [region(0x10_0000, 64 << 20, MemoryKind::Usable)];
        let mut fa = FrameAllocator::new(&regions, &[]);
        let mut got: std::vec::Vec<(u64, u64)> = std::vec::Vec::new();
        let mut seed = 12345u64;
        for _ in 0..200 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let size = 4096 * (1 + seed % 64);
            let align = 1u64 << (12 + seed % 10);
            if let Some(a) = fa.alloc(size, align) {
                assert_eq!(a % align, 0);
                got.push((a, a + size));
            }
        }
        got.sort();
        for w in got.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlap {:x?}", w);
        }
        assert!(
            got.iter()
                .all(|&(s, e)| s >= 0x10_0000 && e <= 0x10_0000 + (64 << 20))
        );
    }
}
