//! Who holds each buffer (device, stack or nobody), checked with one compare per lookup.
//!
//! The queues check every id the device writes and every token the caller hands back
//! (`RxFrame::slot` and `TxSlot::slot` are plain public fields, hence forgeable). A range check
//! plus a state byte costs two compares and branches per check; an [`Owners`] table needs one,
//! and no range check at all.

use crate::ring::MAX_QUEUE_SIZE;
use alloc::boxed::Box;

// Entries go up to `2 * MAX_QUEUE_SIZE - 1` and must fit a u16; the index is a mask.
const _: () = assert!(
    MAX_QUEUE_SIZE.is_power_of_two() && MAX_QUEUE_SIZE >= 4 && MAX_QUEUE_SIZE <= 1 << 14,
    "Owners is indexed by the id's low bits"
);

/// `MAX_QUEUE_SIZE - 1`: the index bits of a checked value.
const INDEX: usize = MAX_QUEUE_SIZE - 1;
/// XORed into entry `i` while the device holds buffer `i`: the top index bit and the bit above.
const DEVICE: u16 = (MAX_QUEUE_SIZE | MAX_QUEUE_SIZE >> 1) as u16;
/// XORed into entry `i` while nobody holds buffer `i` (and for ids beyond the queue size): the
/// second index bit from the top.
const NOBODY: u16 = (MAX_QUEUE_SIZE >> 2) as u16;

/// One tag per buffer id `i`, indexed by the low bits (`INDEX`, N = `MAX_QUEUE_SIZE` = 1024) of
/// the value being checked:
///
/// | holder | entry `i` | matches |
/// | --- | --- | --- |
/// | stack | `i` | token `x` with `entry[x & INDEX] == x` |
/// | device | `i ^ (N \| N/2)` | device id `x` with `entry[x & INDEX] ^ (N \| N/2) == x` |
/// | nobody | `i ^ N/4` | nothing |
///
/// Each check matches exactly one value: the id itself, held by that holder. Entries are below
/// `2 N`, so no `x >= 2 N` matches; a stack entry's index bits are `i` itself and the others'
/// are `i ^ N/2` / `i ^ N/4`, so a value can only match the holder it is tagged for, at its own
/// index; the bit above the index then tells `i` from `i + N` and the like. Ids at or above the
/// queue size stay "nobody" forever. (With N = 256 these are the constants 0x180 and 0x40.)
#[derive(Debug, Clone)]
pub(crate) struct Owners(Box<[u16; MAX_QUEUE_SIZE]>);

impl Owners {
    /// Nobody holds anything.
    pub(crate) fn new() -> Self {
        let mut t = Box::new([0; MAX_QUEUE_SIZE]);
        for (i, v) in t.iter_mut().enumerate() {
            *v = i as u16 ^ NOBODY;
        }
        Self(t)
    }

    /// Whether the stack holds buffer `x` (a caller's token, untrusted).
    #[inline]
    pub(crate) fn stack_holds(&self, x: u16) -> bool {
        self.0[usize::from(x) & INDEX] == x
    }

    /// Whether the device holds buffer `x` (a device-written id, untrusted).
    #[inline]
    pub(crate) fn device_holds(&self, x: u32) -> bool {
        u32::from(self.0[x as usize & INDEX] ^ DEVICE) == x
    }

    /// Buffer `id` (validated, below the queue size) now belongs to the stack.
    #[inline]
    pub(crate) fn give_stack(&mut self, id: u16) {
        let i = id & INDEX as u16;
        self.0[usize::from(i)] = i;
    }

    /// Buffer `id` now belongs to the device.
    #[inline]
    pub(crate) fn give_device(&mut self, id: u16) {
        let i = id & INDEX as u16;
        self.0[usize::from(i)] = i ^ DEVICE;
    }

    /// Buffer `id` now belongs to nobody (free, or being re-posted).
    #[inline]
    pub(crate) fn give_nobody(&mut self, id: u16) {
        let i = id & INDEX as u16;
        self.0[usize::from(i)] = i ^ NOBODY;
    }

    /// How many buffers the device holds.
    pub(crate) fn device_count(&self) -> usize {
        (0..MAX_QUEUE_SIZE as u32)
            .filter(|&i| self.device_holds(i))
            .count()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// The holder of each id as the checks see it, for every u16 token and a spread of u32 ids.
    fn check(o: &Owners, stack: &[u16], device: &[u16]) {
        for x in 0..=u32::from(u16::MAX) {
            let s = stack.iter().any(|&i| u32::from(i) == x);
            let d = device.iter().any(|&i| u32::from(i) == x);
            assert_eq!(o.stack_holds(x as u16), s, "stack {x:#x}");
            assert_eq!(o.device_holds(x), d, "device {x:#x}");
        }
        for hi in [0x1_0000u32, 0x8000_0000, 0xffff_0000] {
            for lo in 0..2 * MAX_QUEUE_SIZE as u32 {
                assert!(!o.device_holds(hi | lo), "device {:#x}", hi | lo);
            }
        }
    }

    #[test]
    fn each_check_matches_exactly_the_held_id() {
        let mut o = Owners::new();
        check(&o, &[], &[]);
        o.give_stack(0);
        o.give_stack(255);
        o.give_device(1);
        o.give_device(128);
        o.give_device(254);
        check(&o, &[0, 255], &[1, 128, 254]);
        o.give_nobody(255);
        o.give_device(0);
        o.give_stack(128);
        check(&o, &[128], &[0, 1, 254]);
        assert_eq!(o.device_count(), 3);
    }

    #[test]
    fn full_queue_of_each_holder() {
        for size in [256u16, MAX_QUEUE_SIZE as u16] {
            let mut o = Owners::new();
            for id in 0..size {
                o.give_device(id);
            }
            assert_eq!(o.device_count(), usize::from(size));
            check(&o, &[], &(0..size).collect::<std::vec::Vec<_>>());
            for id in 0..size {
                o.give_stack(id);
            }
            check(&o, &(0..size).collect::<std::vec::Vec<_>>(), &[]);
        }
    }

    /// The 256-entry encodings (`i + 256`, `i ^ 0x180`, `i ^ 0x40`) and their 1024-entry
    /// counterparts never pass for a held id of a 1024 table.
    #[test]
    fn neighbours_of_a_held_id_do_not_match() {
        let mut o = Owners::new();
        o.give_stack(5);
        o.give_device(700);
        for x in [
            5 + 256,
            5 + 1024,
            5 ^ 0x180,
            5 ^ 0x40,
            5 ^ 0x600,
            5 ^ 0x100,
            5 | 0x8000,
        ] {
            assert!(!o.stack_holds(x), "stack {x:#x}");
        }
        for x in [
            700 + 1024,
            700 ^ 0x600,
            700 ^ 0x100,
            700 ^ 0x200,
            700 | 0x8000,
            700 + 65536,
        ] {
            assert!(!o.device_holds(x), "device {x:#x}");
        }
        assert!(o.stack_holds(5) && o.device_holds(700));
    }
}
