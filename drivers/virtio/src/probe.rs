//! One-call bring-up for the kernel: from a discovered device to queue pairs.
//!
//! The kernel finds the device (a `virtio_mmio.device=` entry, or a PCI function with vendor
//! 0x1af4 / device 0x1041) and hands it over with its DMA memory; these functions build the
//! virtio-drivers transport, the per-queue doorbells and call [`VirtioNet::new`].
//!
//! Keep the returned [`VirtioNet`] alive as long as the queue pairs are used: dropping an
//! `MmioTransport` resets the device (the queues then simply stop receiving).
#![allow(unsafe_code)]

use crate::cmdline::MmioDevice;
use crate::device::{InitError, MAX_PAIRS, NetConfig, QueueDma, VirtioNet, VirtioPair};
use crate::doorbell::MmioNotify;
use crate::pci::{PciLocateError, locate_notify};
use core::ptr::NonNull;
use virtio_drivers::Hal;
use virtio_drivers::transport::mmio::{MmioError, MmioTransport, VirtIOHeader};
use virtio_drivers::transport::pci::bus::{Command, ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::pci::{PciTransport, VirtioPciError};

/// A brought-up device and its queue pairs.
pub type Probed<T> = (VirtioNet<T>, heapless::Vec<VirtioPair, MAX_PAIRS>);

/// Errors from [`probe_mmio`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MmioProbeError {
    /// The register block is not a usable virtio-mmio device (bad magic, version, size).
    Transport(MmioError),
    /// Bring-up failed (including "not a network device").
    Init(InitError),
}

/// Brings up the virtio-mmio network device `dev` (from [`crate::cmdline::devices`]).
///
/// # Safety
///
/// `dev.base .. dev.base + dev.size` must be the device's register block, identity-mapped
/// (corenet's contract: virt == phys) as device memory, valid forever and used by nothing else.
pub unsafe fn probe_mmio<A: QueueDma>(
    dev: &MmioDevice,
    dma: &mut A,
    cfg: &NetConfig,
) -> Result<Probed<MmioTransport<'static>>, MmioProbeError> {
    let base = NonNull::new(dev.base as usize as *mut u8)
        .ok_or(MmioProbeError::Transport(MmioError::MmioRegionTooSmall))?;
    // SAFETY: the caller's contract: a valid, exclusively ours, identity-mapped register block
    // of `dev.size` bytes (virtio-mmio blocks are page-aligned).
    let transport = unsafe { MmioTransport::new(base.cast::<VirtIOHeader>(), dev.size as usize) }
        .map_err(MmioProbeError::Transport)?;
    // SAFETY: the same register block, valid forever (caller's contract).
    let notify = unsafe { MmioNotify::new(base) };
    VirtioNet::new(transport, notify, dma, cfg).map_err(MmioProbeError::Init)
}

/// Errors from [`probe_pci`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PciProbeError {
    /// virtio-drivers could not build the PCI transport.
    Transport(VirtioPciError),
    /// The notify structure could not be located.
    Locate(PciLocateError),
    /// Bring-up failed (including "not a network device").
    Init(InitError),
}

/// Brings up the modern virtio-pci network device at `df` (BARs already assigned).
///
/// Enables memory decoding and bus mastering (the device must DMA), builds `PciTransport`
/// and the per-queue doorbells through `H` (`hal::IdentityHal` in corenet). `cam` is a
/// read-only clone of `root`'s configuration access (see [`locate_notify`]).
pub fn probe_pci<H: Hal, C: ConfigurationAccess, A: QueueDma>(
    root: &mut PciRoot<C>,
    cam: &C,
    df: DeviceFunction,
    dma: &mut A,
    cfg: &NetConfig,
) -> Result<Probed<PciTransport>, PciProbeError> {
    let (_, command) = root.get_status_command(df);
    root.set_command(df, command | Command::MEMORY_SPACE | Command::BUS_MASTER);
    let transport = PciTransport::new::<H, C>(root, df).map_err(PciProbeError::Transport)?;
    let notify = locate_notify::<H, C>(root, cam, df).map_err(PciProbeError::Locate)?;
    VirtioNet::new(transport, notify, dma, cfg).map_err(PciProbeError::Init)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeDma;
    use corenet_nic::RssConfig;
    use virtio_drivers::transport::DeviceType;
    extern crate std;

    /// A passive 4 KiB register block with `magic`, `version` and `device_id` filled in.
    fn block(magic: u32, version: u32, device_id: u32) -> &'static mut [u32; 1024] {
        let b = std::boxed::Box::leak(std::boxed::Box::new([0u32; 1024]));
        b[0] = magic;
        b[1] = version;
        b[2] = device_id;
        b
    }

    fn probe(b: &'static mut [u32; 1024]) -> Result<(), MmioProbeError> {
        let dev = MmioDevice {
            base: b.as_mut_ptr() as u64,
            size: 4096,
            irq: 5,
        };
        let mut dma = FakeDma::default();
        let cfg = NetConfig::new(RssConfig::new(1).unwrap());
        // SAFETY: the block is leaked host memory of 4 KiB, used only here (the host stands in
        // for the identity-mapped MMIO window).
        unsafe { probe_mmio(&dev, &mut dma, &cfg) }.map(|_| ())
    }

    #[test]
    fn mmio_probe_reports_what_it_found() {
        assert_eq!(
            probe(block(0xdead_beef, 2, 1)),
            Err(MmioProbeError::Transport(MmioError::BadMagic(0xdead_beef)))
        );
        assert_eq!(
            probe(block(0x7472_6976, 2, 2)),
            Err(MmioProbeError::Init(InitError::NotNetwork(
                DeviceType::Block
            )))
        );
        // A legacy (version 1) block needs the legacy ring layout: refused.
        assert_eq!(
            probe(block(0x7472_6976, 1, 1)),
            Err(MmioProbeError::Init(InitError::Legacy))
        );
    }
}
