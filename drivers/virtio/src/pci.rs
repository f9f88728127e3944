//! Finding a modern virtio-pci device's common and notify structures (4.1.4), so the kernel can
//! build the per-queue [`PciNotify`] doorbells from the same `PciRoot` it gives `PciTransport`.
#![allow(unsafe_code)]

use crate::doorbell::PciNotify;
use virtio_drivers::Hal;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};

/// Vendor-specific capability id (virtio structures, 4.1.4).
const PCI_CAP_ID_VNDR: u8 = 0x09;
/// `cfg_type` of the common configuration.
const CAP_COMMON_CFG: u8 = 1;
/// `cfg_type` of the notification structure.
const CAP_NOTIFY_CFG: u8 = 2;
/// Bytes of `virtio_pci_common_cfg` we touch (up to `queue_device`, 4.1.4.3).
const COMMON_CFG_LEN: u32 = 0x38;

/// Errors from [`locate_notify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PciLocateError {
    /// No common configuration capability.
    NoCommonCfg,
    /// No notification capability (or one shorter than 20 bytes).
    NoNotifyCfg,
    /// `notify_off_multiplier` is odd (4.1.4.4 requires an even value).
    OddMultiplier(u32),
    /// The structure's BAR is unassigned, an I/O BAR, or too small for offset + length.
    BadBar(u8),
}

#[derive(Debug, Clone, Copy)]
struct Cap {
    bar: u8,
    offset: u32,
    length: u32,
}

/// Reads the virtio capabilities of `df` and maps the common configuration and the notify
/// region through `H::mmio_phys_to_virt` (identity in corenet).
///
/// `cam` reads the capability fields (read-only registers): `PciRoot` keeps its own access
/// private, so the kernel passes a clone made with `ConfigurationAccess::unsafe_clone` before
/// building the root. BARs are sized through `root`.
pub fn locate_notify<H: Hal, C: ConfigurationAccess>(
    root: &mut PciRoot<C>,
    cam: &C,
    df: DeviceFunction,
) -> Result<PciNotify, PciLocateError> {
    let mut common = None;
    let mut notify = None;
    let mut multiplier = 0;
    for cap in root.capabilities(df) {
        let cap_len = cap.private_header as u8;
        let cfg_type = (cap.private_header >> 8) as u8;
        if cap.id != PCI_CAP_ID_VNDR || cap_len < 16 {
            continue;
        }
        let read = |off: u8| cam.read_word(df, cap.offset + off);
        let info = Cap {
            bar: read(4) as u8,
            offset: read(8),
            length: read(12),
        };
        match cfg_type {
            CAP_COMMON_CFG if common.is_none() => common = Some(info),
            CAP_NOTIFY_CFG if notify.is_none() && cap_len >= 20 => {
                notify = Some(info);
                multiplier = read(16);
            }
            _ => {}
        }
    }
    let common = common.ok_or(PciLocateError::NoCommonCfg)?;
    let notify = notify.ok_or(PciLocateError::NoNotifyCfg)?;
    if multiplier % 2 != 0 {
        return Err(PciLocateError::OddMultiplier(multiplier));
    }
    if common.length < COMMON_CFG_LEN {
        return Err(PciLocateError::BadBar(common.bar));
    }
    let common_virt = map::<H, C>(root, df, common)?;
    let notify_virt = map::<H, C>(root, df, notify)?;
    // SAFETY: both regions lie inside memory BARs the PCI bus assigned to this device (checked
    // in `map`), mapped by the kernel's `Hal`; the common configuration is at least 0x38 bytes
    // (checked above) and the notify region is `notify.length` bytes.
    Ok(unsafe { PciNotify::new(common_virt, notify_virt, notify.length as usize, multiplier) })
}

fn map<H: Hal, C: ConfigurationAccess>(
    root: &mut PciRoot<C>,
    df: DeviceFunction,
    cap: Cap,
) -> Result<core::ptr::NonNull<u8>, PciLocateError> {
    let bad = PciLocateError::BadBar(cap.bar);
    if cap.bar >= 6 {
        return Err(bad);
    }
    let (addr, size) = root
        .bar_info(df, cap.bar)
        .ok()
        .flatten()
        .and_then(|b| b.memory_address_size())
        .ok_or(bad)?;
    let end = u64::from(cap.offset) + u64::from(cap.length);
    if addr == 0 || end > size {
        return Err(bad);
    }
    // SAFETY: `[addr + offset, addr + offset + length)` is inside the device's memory BAR.
    Ok(unsafe { H::mmio_phys_to_virt(addr + u64::from(cap.offset), cap.length as usize) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doorbell::NotifyMap;
    use crate::fake::FakeTransport;
    use core::ptr::NonNull;
    use virtio_drivers::{BufferDirection, PhysAddr};
    extern crate std;

    const BAR_ADDR: u32 = 0xfe00_0000;
    const BAR_SIZE: u32 = 0x4000;

    std::thread_local! {
        static BAR_MEM: usize = std::boxed::Box::leak(std::boxed::Box::new([0u32; BAR_SIZE as usize / 4])).as_mut_ptr() as usize;
    }

    struct BarHal;
    // SAFETY: test-only: maps the fake BAR onto leaked host memory; nothing else is used.
    unsafe impl Hal for BarHal {
        fn dma_alloc(_: usize, _: BufferDirection) -> (PhysAddr, NonNull<u8>) {
            (0, NonNull::dangling())
        }
        unsafe fn dma_dealloc(_: PhysAddr, _: NonNull<u8>, _: usize) -> i32 {
            0
        }
        unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
            let base = BAR_MEM.with(|b| *b);
            NonNull::new((base + (paddr - u64::from(BAR_ADDR)) as usize) as *mut u8).unwrap()
        }
        unsafe fn share(_: NonNull<[u8]>, _: BufferDirection) -> PhysAddr {
            0
        }
        unsafe fn unshare(_: PhysAddr, _: NonNull<[u8]>, _: BufferDirection) {}
    }

    /// Config space of one device: BAR0 = 16 KiB memory BAR, common cfg at 0, notify at 0x1000.
    #[derive(Clone)]
    struct FakeCam {
        words: [u32; 64],
        sizing: bool,
        multiplier: u32,
    }

    impl ConfigurationAccess for FakeCam {
        fn read_word(&self, _df: DeviceFunction, off: u8) -> u32 {
            match off {
                0x10 if self.sizing => !(BAR_SIZE - 1),
                0x64 => self.multiplier,
                _ => self.words[usize::from(off / 4)],
            }
        }
        fn write_word(&mut self, _df: DeviceFunction, off: u8, data: u32) {
            if off == 0x10 {
                self.sizing = data == 0xffff_ffff;
                if !self.sizing {
                    self.words[4] = data;
                }
            } else {
                self.words[usize::from(off / 4)] = data;
            }
        }
        unsafe fn unsafe_clone(&self) -> Self {
            self.clone()
        }
    }

    fn cam(multiplier: u32) -> FakeCam {
        let mut w = [0u32; 64];
        w[0] = 0x1041_1af4; // virtio-net (modern)
        w[1] = 0x0010_0006; // status: capabilities list; command: memory + bus master
        w[4] = BAR_ADDR; // BAR0, 32-bit memory
        w[0x34 / 4] = 0x40;
        // common cfg capability at 0x40 -> next 0x54
        w[0x40 / 4] = 0x09 | 0x54 << 8 | 16 << 16 | 1 << 24;
        w[0x44 / 4] = 0;
        w[0x48 / 4] = 0;
        w[0x4c / 4] = 0x38;
        // notify capability at 0x54
        w[0x54 / 4] = 0x09 | 20 << 16 | 2 << 24;
        w[0x58 / 4] = 0;
        w[0x5c / 4] = 0x1000;
        w[0x60 / 4] = 0x1000;
        FakeCam {
            words: w,
            sizing: false,
            multiplier,
        }
    }

    #[test]
    fn finds_structures_and_rings_the_right_address() {
        let df = DeviceFunction {
            bus: 0,
            device: 3,
            function: 0,
        };
        let c = cam(4);
        let ro = c.clone();
        let mut root = PciRoot::new(c);
        let mut map = locate_notify::<BarHal, _>(&mut root, &ro, df).unwrap();
        let base = BAR_MEM.with(|b| *b) as *mut u8;
        // The device says queue 5's notify offset is 5 (QEMU's choice).
        // SAFETY: inside the leaked BAR memory.
        unsafe { base.add(0x1e).cast::<u16>().write(5) };
        let (mut t, _dev) = FakeTransport::new_pair(Default::default());
        map.doorbell(&mut t, 5).unwrap().ring();
        // SAFETY: as above.
        unsafe {
            assert_eq!(base.add(0x16).cast::<u16>().read(), 5, "queue_select");
            assert_eq!(base.add(0x1000 + 5 * 4).cast::<u16>().read(), 5);
        }
        // BAR0 restored after sizing.
        assert_eq!(
            root.bar_info(df, 0).unwrap().unwrap().memory_address_size(),
            Some((u64::from(BAR_ADDR), u64::from(BAR_SIZE)))
        );
    }

    #[test]
    fn rejects_bad_capabilities() {
        let df = DeviceFunction {
            bus: 0,
            device: 3,
            function: 0,
        };
        let c = cam(3);
        let mut root = PciRoot::new(c.clone());
        assert_eq!(
            locate_notify::<BarHal, _>(&mut root, &c, df).unwrap_err(),
            PciLocateError::OddMultiplier(3)
        );
        let mut c = cam(4);
        c.words[0x60 / 4] = 0x4000; // notify region past the BAR's end
        let mut root = PciRoot::new(c.clone());
        assert_eq!(
            locate_notify::<BarHal, _>(&mut root, &c, df).unwrap_err(),
            PciLocateError::BadBar(0)
        );
        let mut c = cam(4);
        c.words[0x40 / 4] &= !0xff00; // common cfg is the last capability: no notify
        let mut root = PciRoot::new(c.clone());
        assert_eq!(
            locate_notify::<BarHal, _>(&mut root, &c, df).unwrap_err(),
            PciLocateError::NoNotifyCfg
        );
    }
}
