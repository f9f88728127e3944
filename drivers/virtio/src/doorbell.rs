//! Per-queue doorbells: each queue's notify address is computed once, then written lock-free.
//!
//! virtio-drivers' `Transport::notify` takes `&mut self` (and its PCI version selects the queue
//! in the shared common configuration before every notify), so cores cannot ring their own
//! queues without sharing a lock. A [`Doorbell`] is one queue's notify address and value; the
//! queue owns it and rings it with a single volatile store. See `docs/virtio.md`.
#![allow(unsafe_code)]

use core::ptr::NonNull;
use virtio_drivers::transport::Transport;

/// One queue's notification register: where to write, what, and how wide.
#[derive(Debug)]
pub struct Doorbell {
    addr: NonNull<u8>,
    value: u16,
    wide: bool,
}

// SAFETY: a doorbell is a device register address; writing it from whichever core owns the
// queue is what the device expects, and the queue (its only user) is moved, not shared.
unsafe impl Send for Doorbell {}

impl Doorbell {
    /// A doorbell that writes `value` to `addr`, as a 32-bit store if `wide`, else 16-bit.
    ///
    /// # Safety
    ///
    /// `addr` must be valid for volatile writes of that width, suitably aligned, for as long as
    /// the doorbell (and the queue that owns it) lives; writing `value` there must have no
    /// effect other than notifying the device.
    pub unsafe fn new(addr: NonNull<u8>, value: u16, wide: bool) -> Self {
        Self { addr, value, wide }
    }

    /// Notifies the device.
    #[inline]
    pub(crate) fn ring(&self) {
        if self.wide {
            // SAFETY: `new`'s contract: valid, aligned, for 32-bit writes.
            unsafe {
                self.addr
                    .as_ptr()
                    .cast::<u32>()
                    .write_volatile(u32::from(self.value))
            }
        } else {
            // SAFETY: `new`'s contract: valid, aligned, for 16-bit writes.
            unsafe { self.addr.as_ptr().cast::<u16>().write_volatile(self.value) }
        }
    }
}

/// Errors from [`NotifyMap::doorbell`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorbellError {
    /// The device's `queue_notify_off * notify_off_multiplier` points past the notify region.
    OutOfRange {
        /// The queue.
        queue: u16,
        /// The byte offset the device asked for.
        offset: usize,
    },
}

/// Computes each queue's [`Doorbell`] during setup, while the transport is held exclusively.
pub trait NotifyMap<T: Transport> {
    /// The doorbell of virtqueue `queue` (after `queue_set`).
    fn doorbell(&mut self, transport: &mut T, queue: u16) -> Result<Doorbell, DoorbellError>;
}

/// Modern virtio-pci notifications (4.1.4.4): a 16-bit write of the queue index at
/// `notify_base + queue_notify_off * notify_off_multiplier`.
///
/// `queue_notify_off` lives in the common configuration (4.1.4.3, offset 0x1e, selected by
/// `queue_select` at 0x16), which virtio-drivers' `PciTransport` keeps private: the kernel passes
/// the same BAR mappings it found in the capabilities. The select/read pair only runs inside
/// [`NotifyMap::doorbell`], while the transport is borrowed `&mut`, so no other access can
/// interleave.
#[derive(Debug)]
pub struct PciNotify {
    common_cfg: NonNull<u8>,
    notify_base: NonNull<u8>,
    notify_len: usize,
    multiplier: u32,
}

/// `queue_select` in the common configuration (4.1.4.3).
const COMMON_QUEUE_SELECT: usize = 0x16;
/// `queue_notify_off` in the common configuration (4.1.4.3).
const COMMON_QUEUE_NOTIFY_OFF: usize = 0x1e;
/// `QueueNotify` in the MMIO register block (4.2.2).
const MMIO_QUEUE_NOTIFY: usize = 0x50;

impl PciNotify {
    /// # Safety
    ///
    /// `common_cfg` must map the device's `virtio_pci_common_cfg` (at least 0x38 bytes) and
    /// `notify_base` its notification region of `notify_len` bytes (`VIRTIO_PCI_CAP_NOTIFY_CFG`,
    /// with `notify_off_multiplier` = `multiplier`), both valid for volatile access for as long
    /// as this value and every doorbell it makes live.
    pub unsafe fn new(
        common_cfg: NonNull<u8>,
        notify_base: NonNull<u8>,
        notify_len: usize,
        multiplier: u32,
    ) -> Self {
        Self {
            common_cfg,
            notify_base,
            notify_len,
            multiplier,
        }
    }
}

impl<T: Transport> NotifyMap<T> for PciNotify {
    fn doorbell(&mut self, _transport: &mut T, queue: u16) -> Result<Doorbell, DoorbellError> {
        // SAFETY: `new`'s contract: the common configuration is mapped; 0x16 and 0x1e are
        // 2-byte aligned u16 registers inside it.
        let off = unsafe {
            let base = self.common_cfg.as_ptr();
            base.add(COMMON_QUEUE_SELECT)
                .cast::<u16>()
                .write_volatile(queue);
            base.add(COMMON_QUEUE_NOTIFY_OFF)
                .cast::<u16>()
                .read_volatile()
        };
        let offset = usize::from(off) * self.multiplier as usize;
        if offset
            .checked_add(2)
            .is_none_or(|end| end > self.notify_len)
        {
            return Err(DoorbellError::OutOfRange { queue, offset });
        }
        // SAFETY: `offset + 2 <= notify_len`, inside the mapped notification region; the
        // multiplier is even (4.1.4.4) so the address is 2-byte aligned. Per `new`'s contract the
        // region outlives the doorbell.
        Ok(unsafe { Doorbell::new(self.notify_base.add(offset), queue, false) })
    }
}

/// virtio-mmio notifications (4.2.2): a 32-bit write of the queue index to `QueueNotify`.
#[derive(Debug)]
pub struct MmioNotify {
    base: NonNull<u8>,
}

impl MmioNotify {
    /// # Safety
    ///
    /// `base` must be the virtio-mmio register block handed to `MmioTransport::new`, mapped
    /// for as long as this value and every doorbell it makes live.
    pub unsafe fn new(base: NonNull<u8>) -> Self {
        Self { base }
    }
}

impl<T: Transport> NotifyMap<T> for MmioNotify {
    fn doorbell(&mut self, _transport: &mut T, queue: u16) -> Result<Doorbell, DoorbellError> {
        // SAFETY: `QueueNotify` (0x50) is a 4-byte aligned write-only register of the block.
        Ok(unsafe { Doorbell::new(self.base.add(MMIO_QUEUE_NOTIFY), queue, true) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeTransport;

    #[test]
    fn pci_doorbell_reads_notify_off_once_and_bounds_it() {
        let mut common = [0u16; 0x20];
        let mut notify = [0u16; 16];
        let (mut t, _dev) = FakeTransport::new_pair(Default::default());
        // queue_notify_off register (index 0x1e / 2) says 3; multiplier 4 -> byte 12.
        common[COMMON_QUEUE_NOTIFY_OFF / 2] = 3;
        let c = NonNull::new(common.as_mut_ptr().cast::<u8>()).unwrap();
        let n = NonNull::new(notify.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: both arrays outlive `map` and the doorbell.
        let mut map = unsafe { PciNotify::new(c, n, 32, 4) };
        let bell = map.doorbell(&mut t, 7).unwrap();
        bell.ring();
        assert_eq!(common[COMMON_QUEUE_SELECT / 2], 7);
        assert_eq!(notify[6], 7);
        // A hostile queue_notify_off pointing past the region is refused.
        // SAFETY: inside `common`, aligned.
        unsafe {
            c.as_ptr()
                .add(COMMON_QUEUE_NOTIFY_OFF)
                .cast::<u16>()
                .write(8)
        };
        assert_eq!(
            map.doorbell(&mut t, 1).unwrap_err(),
            DoorbellError::OutOfRange {
                queue: 1,
                offset: 32
            }
        );
    }

    #[test]
    fn mmio_doorbell_writes_queue_notify() {
        let mut regs = [0u32; 0x40];
        let (mut t, _dev) = FakeTransport::new_pair(Default::default());
        // SAFETY: `regs` outlives the doorbell.
        let mut map = unsafe { MmioNotify::new(NonNull::new(regs.as_mut_ptr().cast()).unwrap()) };
        map.doorbell(&mut t, 5).unwrap().ring();
        assert_eq!(regs[MMIO_QUEUE_NOTIFY / 4], 5);
    }
}
