//! Who holds each buffer (device, stack or nobody), checked with one compare per lookup.
//!
//! The queues check every id the device writes and every token the caller hands back
//! (`RxFrame::slot` and `TxSlot::slot` are plain public fields, hence forgeable). A range check
//! plus a state byte costs two compares and branches per check; an [`Owners`] table needs one,
//! and no range check at all.

use crate::ring::MAX_QUEUE_SIZE;

const _: () = assert!(
    MAX_QUEUE_SIZE == 256,
    "Owners is indexed by the id's low byte"
);

/// XORed into entry `i` while the device holds buffer `i`.
const DEVICE: u16 = 0x0180;
/// XORed into entry `i` while nobody holds buffer `i` (and for ids beyond the queue size).
const NOBODY: u16 = 0x0040;

/// One tag per buffer id `i`, indexed by the low byte of the value being checked:
///
/// | holder | entry `i` | matches |
/// | --- | --- | --- |
/// | stack | `i` | token `x` with `entry[x as u8] == x` |
/// | device | `i ^ 0x180` | device id `x` with `entry[x as u8] ^ 0x180 == x` |
/// | nobody | `i ^ 0x40` | nothing |
///
/// Each check matches exactly one value: the id itself, held by that holder. Entries are below
/// 512, so no `x >= 512` matches; a stack entry's low byte is `i` itself and the others' are
/// `i ^ 0x80` / `i ^ 0x40`, so a value can only match the holder it is tagged for, at its own
/// index; the high bits then tell `i` from `i + 256` and the like. Ids at or above the queue
/// size stay "nobody" forever.
#[derive(Debug, Clone)]
pub(crate) struct Owners([u16; MAX_QUEUE_SIZE]);

impl Owners {
    /// Nobody holds anything.
    pub(crate) fn new() -> Self {
        let mut t = [0; MAX_QUEUE_SIZE];
        for (i, v) in t.iter_mut().enumerate() {
            *v = i as u16 ^ NOBODY;
        }
        Self(t)
    }

    /// Whether the stack holds buffer `x` (a caller's token, untrusted).
    #[inline]
    pub(crate) fn stack_holds(&self, x: u16) -> bool {
        self.0[usize::from(x as u8)] == x
    }

    /// Whether the device holds buffer `x` (a device-written id, untrusted).
    #[inline]
    pub(crate) fn device_holds(&self, x: u32) -> bool {
        u32::from(self.0[usize::from(x as u8)] ^ DEVICE) == x
    }

    /// Buffer `id` (validated, below the queue size) now belongs to the stack.
    #[inline]
    pub(crate) fn give_stack(&mut self, id: u16) {
        let i = u16::from(id as u8);
        self.0[usize::from(i)] = i;
    }

    /// Buffer `id` now belongs to the device.
    #[inline]
    pub(crate) fn give_device(&mut self, id: u16) {
        let i = u16::from(id as u8);
        self.0[usize::from(i)] = i ^ DEVICE;
    }

    /// Buffer `id` now belongs to nobody (free, or being re-posted).
    #[inline]
    pub(crate) fn give_nobody(&mut self, id: u16) {
        let i = u16::from(id as u8);
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
            for lo in 0..=0x1ffu32 {
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
        let mut o = Owners::new();
        for id in 0..256u16 {
            o.give_device(id);
        }
        assert_eq!(o.device_count(), 256);
        check(&o, &[], &(0..256).collect::<std::vec::Vec<_>>());
        for id in 0..256u16 {
            o.give_stack(id);
        }
        check(&o, &(0..256).collect::<std::vec::Vec<_>>(), &[]);
    }
}
