//! What to map, how: the identity map as a list of (address, page size, kind) decisions.
//!
//! Pure logic, tested on the host; [`super::paging`] turns the decisions into page tables.
//! Rules (design: docs/memory.md):
//! - everything from 0 to the end of RAM, and at least the 32-bit device window up to 4 GiB,
//!   is identity mapped with the largest page that is uniform: 1 GiB when the CPU has
//!   pdpe1gb, else 2 MiB, 4 KiB only where the image's sections, guard pages or the AP
//!   trampoline need it;
//! - memory (usable, ACPI) is write-back, everything else (MMIO windows, ECAM, the APIC) is
//!   uncached;
//! - code is read-only and executable, read-only data read-only and no-execute, everything
//!   else writable and no-execute; guard pages are not mapped at all.

use corenet_boot::MemoryRegion;
use heapless::Vec;

use super::frames::Range;

/// 4 KiB.
pub const SIZE_4K: u64 = 1 << 12;
/// 2 MiB.
pub const SIZE_2M: u64 = 1 << 21;
/// 1 GiB.
pub const SIZE_1G: u64 = 1 << 30;

/// How a page is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Image code: read-only, executable.
    Text,
    /// Image read-only data: read-only, no-execute.
    Rodata,
    /// RAM (including the image's data and bss): writable, no-execute, write-back.
    Memory,
    /// Not memory: writable, no-execute, uncached.
    Device,
    /// The AP start-up page: writable and executable (written once by the BSP).
    Trampoline,
}

/// The inputs of the plan.
#[derive(Debug)]
pub struct Layout<'a> {
    /// The firmware memory map.
    pub regions: &'a [MemoryRegion],
    /// Image code.
    pub text: Range,
    /// Image read-only data.
    pub rodata: Range,
    /// Pages left unmapped (stack guards), page-aligned.
    pub guards: &'a [u64],
    /// The AP trampoline page.
    pub trampoline: u64,
    /// 1 GiB pages allowed.
    pub huge_1g: bool,
}

/// Merged memory ranges (memory kinds, minus anything also listed as reserved).
fn memory_ranges(regions: &[MemoryRegion]) -> Vec<Range, 128> {
    let mut v: Vec<Range, 128> = Vec::new();
    let mut mem: Vec<Range, 128> = regions
        .iter()
        .filter(|r| r.kind.is_memory())
        .map(|r| Range {
            start: r.start,
            end: r.end(),
        })
        .collect();
    mem.sort_unstable_by_key(|r| r.start);
    for r in mem {
        match v.last_mut() {
            Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
            _ => {
                let _ = v.push(r);
            }
        }
    }
    v
}

struct Planner<'a> {
    l: &'a Layout<'a>,
    mem: Vec<Range, 128>,
    reserved: Vec<Range, 128>,
}

#[derive(PartialEq)]
enum Cover {
    Full,
    None,
    Partial,
}

impl Planner<'_> {
    fn cover(&self, a: u64, b: u64) -> Cover {
        // Reserved ranges listed inside memory are device ranges (e.g. ECAM): they win.
        for r in &self.reserved {
            if r.start <= a && r.end >= b {
                return Cover::None;
            }
            if r.start < b && r.end > a {
                return Cover::Partial;
            }
        }
        let covered: u64 = self
            .mem
            .iter()
            .map(|r| r.end.min(b).saturating_sub(r.start.max(a)))
            .sum();
        if covered == b - a {
            Cover::Full
        } else if covered == 0 {
            Cover::None
        } else {
            Cover::Partial
        }
    }

    fn special(&self, a: u64, b: u64) -> bool {
        let hits = |r: Range| r.start < b && r.end > a;
        hits(self.l.text)
            || hits(self.l.rodata)
            || (self.l.trampoline >= a && self.l.trampoline < b)
            || self.l.guards.iter().any(|&g| g >= a && g < b)
    }

    fn page_kind(&self, a: u64) -> Option<Kind> {
        let inside = |r: Range| a >= r.start && a < r.end;
        if self.l.guards.contains(&a) {
            None
        } else if inside(self.l.text) {
            Some(Kind::Text)
        } else if inside(self.l.rodata) {
            Some(Kind::Rodata)
        } else if a == self.l.trampoline {
            Some(Kind::Trampoline)
        } else if self.cover(a, a + SIZE_4K) == Cover::Full {
            Some(Kind::Memory)
        } else {
            Some(Kind::Device)
        }
    }

    fn chunk(&self, a: u64, size: u64, out: &mut dyn FnMut(u64, u64, Kind)) {
        if size == SIZE_4K {
            if let Some(k) = self.page_kind(a) {
                out(a, size, k);
            }
            return;
        }
        let uniform = !self.special(a, a + size);
        let huge_ok = size != SIZE_1G || self.l.huge_1g;
        if uniform && huge_ok {
            match self.cover(a, a + size) {
                Cover::Full => return out(a, size, Kind::Memory),
                Cover::None => return out(a, size, Kind::Device),
                Cover::Partial => {}
            }
        }
        let sub = if size == SIZE_1G { SIZE_2M } else { SIZE_4K };
        let mut x = a;
        while x < a + size {
            self.chunk(x, sub, out);
            x += sub;
        }
    }
}

/// One past the last identity-mapped byte: the end of memory rounded up to 1 GiB, and at
/// least 4 GiB (the 32-bit device window: APIC, IOAPIC, ECAM, PCI BARs, HPET).
pub fn map_end(regions: &[MemoryRegion]) -> u64 {
    let mem_end = regions
        .iter()
        .filter(|r| r.kind.is_memory())
        .map(|r| r.end())
        .max()
        .unwrap_or(0);
    super::frames::align_up(mem_end, SIZE_1G).max(4 * SIZE_1G)
}

/// Calls `out(address, page_size, kind)` for every page of the identity map, in address
/// order.
pub fn plan(l: &Layout<'_>, out: &mut dyn FnMut(u64, u64, Kind)) {
    let reserved = l
        .regions
        .iter()
        .filter(|r| !r.kind.is_memory())
        .map(|r| Range {
            start: r.start,
            end: r.end(),
        })
        .filter(|r| {
            memory_ranges(l.regions)
                .iter()
                .any(|m| m.start < r.end && m.end > r.start)
        })
        .collect();
    let p = Planner {
        l,
        mem: memory_ranges(l.regions),
        reserved,
    };
    let end = map_end(l.regions);
    let mut a = 0;
    while a < end {
        p.chunk(a, SIZE_1G, out);
        a += SIZE_1G;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corenet_boot::MemoryKind;
    use std::vec::Vec as SVec;

    fn q35_like(ram: u64) -> [MemoryRegion; 5] {
        let r = |start, len, kind| MemoryRegion { start, len, kind };
        [
            r(0, 0x9fc00, MemoryKind::Usable),
            r(0x9fc00, 0x400, MemoryKind::Reserved),
            r(0xf0000, 0x10000, MemoryKind::Reserved),
            r(0x10_0000, ram - 0x10_0000, MemoryKind::Usable),
            r(0xb000_0000, 0x1000_0000, MemoryKind::Reserved),
        ]
    }

    fn run(regions: &[MemoryRegion], huge: bool, guards: &[u64]) -> SVec<(u64, u64, Kind)> {
        let l = Layout {
            regions,
            text: Range {
                start: 0x10_2000,
                end: 0x12_0000,
            },
            rodata: Range {
                start: 0x12_0000,
                end: 0x13_0000,
            },
            guards,
            trampoline: 0x8000,
            huge_1g: huge,
        };
        let mut v = SVec::new();
        plan(&l, &mut |a, s, k| v.push((a, s, k)));
        v
    }

    fn lookup(v: &[(u64, u64, Kind)], addr: u64) -> Option<(u64, Kind)> {
        v.iter()
            .find(|&&(a, s, _)| addr >= a && addr < a + s)
            .map(|&(_, s, k)| (s, k))
    }

    #[test]
    fn largest_uniform_pages_and_permissions() {
        let regions = q35_like(2 << 30);
        let guard = 0x2000_0000 + 0x20_0000;
        let v = run(&regions, true, &[guard]);
        // Contiguous, ordered, no overlaps, covers 0..4 GiB except the guard page.
        let mut next = 0;
        for &(a, s, _) in &v {
            if a != next {
                assert_eq!(
                    (next, a),
                    (guard, guard + SIZE_4K),
                    "hole only at the guard"
                );
            }
            next = a + s;
        }
        assert_eq!(next, 4 << 30);
        assert_eq!(lookup(&v, 0x10_3000), Some((SIZE_4K, Kind::Text)));
        assert_eq!(lookup(&v, 0x12_1000), Some((SIZE_4K, Kind::Rodata)));
        assert_eq!(lookup(&v, 0x13_0000), Some((SIZE_4K, Kind::Memory)));
        assert_eq!(lookup(&v, 0x8000), Some((SIZE_4K, Kind::Trampoline)));
        assert_eq!(
            lookup(&v, 0xa0000),
            Some((SIZE_4K, Kind::Device)),
            "VGA hole"
        );
        assert_eq!(lookup(&v, 0x4000_0000), Some((SIZE_1G, Kind::Memory)));
        assert_eq!(
            lookup(&v, 0x2000_0000 + SIZE_2M * 2),
            Some((SIZE_2M, Kind::Memory))
        );
        assert_eq!(lookup(&v, guard), None);
        assert_eq!(lookup(&v, guard + SIZE_4K), Some((SIZE_4K, Kind::Memory)));
        assert_eq!(lookup(&v, 0x8000_0000), Some((SIZE_1G, Kind::Device)));
        assert_eq!(lookup(&v, 0xfee0_0000), Some((SIZE_1G, Kind::Device)));
    }

    #[test]
    fn reserved_inside_memory_wins() {
        // RAM listed up to 3 GiB, with the ECAM window reserved inside it.
        let v = run(&q35_like(3 << 30), true, &[]);
        assert_eq!(lookup(&v, 0xb000_0000), Some((SIZE_2M, Kind::Device)));
        assert_eq!(lookup(&v, 0xaf00_0000), Some((SIZE_2M, Kind::Memory)));
        assert_eq!(lookup(&v, 0x4000_0000), Some((SIZE_1G, Kind::Memory)));
    }

    #[test]
    fn no_1g_pages_without_pdpe1gb() {
        let regions = q35_like(3 << 30);
        let v = run(&regions, false, &[]);
        assert!(v.iter().all(|&(_, s, _)| s <= SIZE_2M));
        assert_eq!(lookup(&v, 0x8000_0000), Some((SIZE_2M, Kind::Memory)));
        assert_eq!(lookup(&v, 0xf000_0000), Some((SIZE_2M, Kind::Device)));
    }

    #[test]
    fn memory_above_4g_is_mapped() {
        let mut regions = SVec::from(q35_like(2 << 30));
        regions.push(MemoryRegion {
            start: 4 << 30,
            len: 1 << 30,
            kind: MemoryKind::Usable,
        });
        let v = run(&regions, true, &[]);
        assert_eq!(lookup(&v, (4 << 30) + 5), Some((SIZE_1G, Kind::Memory)));
        assert_eq!(lookup(&v, 5 << 30), None);
    }
}
