//! A register-level model of the 82599 subset the driver uses, for host tests.
//!
//! Written from the datasheet's text, not from the driver, so it catches the driver's mistakes:
//! it resets as 4.6.3.2 describes, raises the bits the init sequence waits for only after
//! model time passes, brings the link up after auto-negotiation, consumes and writes back
//! advanced descriptors (7.1.6, 7.2.3), steers by Toeplitz hash through RETA (7.1.2.8) and
//! keeps clear-on-read statistics (8.2.3.23). DMA addresses are host addresses: the model reads
//! and writes host memory at the "physical" address the driver programmed, but only inside
//! regions its own allocator handed out ([`ModelDma`]); anything else is a counted DMA fault.
//!
//! - [`device`]: the register file, reset, time and link.
//! - [`rx`]: frame reception: filtering, RSS, descriptor write-back, hostile variants.
//! - [`tx`]: the transmit engine: descriptor fetch, frame assembly, completion write-back.
//! - `txcsum`: context descriptors and the TCP/UDP checksum the device inserts.
//! - [`msix`]: configuration space, the MSI-X table and the extended interrupt registers.
//! - `inspect`: time, faults, raw DMA memory and hostile acts, for tests.
//!
//! Time only moves when the test (or the driver, through the [`Model82599::delay`] closure)
//! calls [`Model82599::advance`]; nothing sleeps.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use corenet_nic::{DmaAllocator, DmaRegion};

use crate::mmio::RegisterAccess;

pub mod device;
#[allow(unsafe_code, reason = "the model's host-memory DMA; audited module")]
mod hostmem;
mod inspect;
pub mod msix;
pub mod rx;
mod toeplitz;
pub mod tx;
mod txcsum;

pub use device::{Device, ModelParams};
pub use msix::{MODEL_VECTORS, MSIX_BAR, MSIX_CAP, ModelConfig, ModelTable};
pub use rx::{Corruption, RxOutcome};
pub use tx::TxFrame;

/// A shared handle to one modelled device; clones are handles to the same device. It is the
/// driver's [`RegisterAccess`], and the test's handle to inject and collect frames.
#[derive(Debug, Clone)]
pub struct Model82599 {
    dev: Rc<RefCell<Device>>,
}

impl Model82599 {
    /// A device in its power-on state (as after a reset, EEPROM already read).
    pub fn new(params: ModelParams) -> Self {
        Self {
            dev: Rc::new(RefCell::new(Device::new(params))),
        }
    }

    /// Runs `f` on the device state.
    pub fn with<T>(&self, f: impl FnOnce(&mut Device) -> T) -> T {
        f(&mut self.dev.borrow_mut())
    }

    /// A DMA allocator handing out host memory this device may access.
    pub fn allocator(&self) -> ModelDma {
        ModelDma { dev: self.clone() }
    }

    /// A [`crate::Delay`] that advances this device's clock instead of sleeping.
    pub fn delay(&self) -> impl FnMut(u32) + use<> {
        let m = self.clone();
        move |us| m.advance(us)
    }

    /// Lets `us` microseconds of device time pass (reset, auto-read, link training, queue
    /// enables, and transmit processing).
    pub fn advance(&self, us: u32) {
        self.with(|d| d.advance(us));
    }

    /// Plugs or unplugs the cable: unplugging drops the link at once; plugging starts link
    /// training if the MAC was configured (AUTOC written since reset).
    pub fn set_cable(&self, connected: bool) {
        self.with(|d| d.set_cable(connected));
    }

    /// A frame arrives from the wire (without its FCS).
    pub fn inject(&self, frame: &[u8]) -> RxOutcome {
        self.with(|d| d.receive(frame))
    }

    /// Runs the transmit engine and returns every frame sent since the last call.
    pub fn take_tx(&self) -> Vec<TxFrame> {
        self.with(|d| {
            d.run_tx();
            core::mem::take(&mut d.tx_out)
        })
    }

    /// A register's current value, without read side effects (clear-on-read stays intact).
    pub fn peek(&self, offset: u32) -> u32 {
        self.with(|d| d.peek(offset))
    }

    /// Context descriptors the transmit engine processed (all queues).
    pub fn tx_contexts_loaded(&self) -> u64 {
        self.with(|d| d.tx_contexts_loaded())
    }

    /// DMA accesses outside every allocated region, plus unsupported configurations met
    /// while processing frames: always 0 with a correct driver.
    pub fn faults(&self) -> u64 {
        self.with(|d| d.faults())
    }
}

// Never inlined: the benchmark subtracts the model's cost by this function's inclusive count.
impl RegisterAccess for Model82599 {
    #[inline(never)]
    fn read32(&self, offset: u32) -> u32 {
        self.dev.borrow_mut().read(offset)
    }

    #[inline(never)]
    fn write32(&self, offset: u32, value: u32) {
        self.dev.borrow_mut().write(offset, value)
    }
}

/// The model's [`DmaAllocator`]: host memory, physical address = host address.
#[derive(Debug, Clone)]
pub struct ModelDma {
    dev: Model82599,
}

impl DmaAllocator for ModelDma {
    fn alloc_dma(&mut self, len: usize, align: usize) -> Option<DmaRegion> {
        self.dev.with(|d| d.mem.alloc(len, align))
    }
}
