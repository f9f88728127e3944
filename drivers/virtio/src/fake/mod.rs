//! An in-memory fake virtio-net device for host tests and benchmarks (feature `fake`).
//!
//! [`FakeTransport`] implements virtio-drivers' `Transport` (status, features, config space,
//! `queue_set`); [`FakeDevice`] is the device's side of the same state and emulates the rings:
//! it fills receive buffers, completes transmits, answers control commands (when the driver
//! calls `Transport::notify` on the control queue), and can misbehave on request. [`FakeDma`]
//! hands out memory whose `phys` is `virt + PHYS_OFFSET`, so a driver that gives the device a
//! virtual address (or touches memory through a physical one) fails the tests.
#![allow(unsafe_code, clippy::missing_panics_doc)]

extern crate std;

mod device;
mod mem;

pub use mem::{FakeDma, FakeNotify, PHYS_OFFSET};

use crate::features::Features;
use device::FakeQueue;
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// How the fake answers control commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CtrlBehaviour {
    /// `VIRTIO_NET_OK`.
    #[default]
    Ack,
    /// `VIRTIO_NET_ERR` for RSS_CONFIG, OK for the rest (a device without working RSS).
    RejectRss,
    /// Never completes.
    Never,
}

/// What the fake device offers.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    /// Offered feature bits.
    pub features: Features,
    /// `max_virtqueue_pairs`.
    pub max_pairs: u16,
    /// Max size of every queue.
    pub queue_max: u16,
    /// Max size of the transmit queues when it differs from `queue_max` (QEMU 7.2 caps
    /// `tx_queue_size` at 256 unless the backend is vhost-user, `rx_queue_size` at 1024).
    pub tx_queue_max: Option<u16>,
    /// MAC address.
    pub mac: [u8; 6],
    /// Link status bit.
    pub link_up: bool,
    /// Clear FEATURES_OK when the driver sets it.
    pub reject_features: bool,
    /// Control queue behaviour.
    pub ctrl: CtrlBehaviour,
}

impl Default for DeviceSpec {
    fn default() -> Self {
        Self {
            features: Features::VERSION_1
                | Features::MAC
                | Features::STATUS
                | Features::CTRL_VQ
                | Features::MQ
                | Features::RSS
                | Features::HASH_REPORT
                | Features::EVENT_IDX
                | Features::CSUM
                | Features::GUEST_CSUM
                | Features::MRG_RXBUF,
            max_pairs: 4,
            queue_max: 256,
            tx_queue_max: None,
            mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
            link_up: true,
            reject_features: false,
            ctrl: CtrlBehaviour::Ack,
        }
    }
}

/// A control command as the device received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtrlCommand {
    /// Class.
    pub class: u8,
    /// Command.
    pub cmd: u8,
    /// Payload bytes.
    pub data: Vec<u8>,
}

#[derive(Debug)]
struct State {
    spec: DeviceSpec,
    status: DeviceStatus,
    driver_features: u64,
    queues: Vec<FakeQueue>,
    ctrl_log: Vec<CtrlCommand>,
    notifies: Vec<u16>,
}

/// The driver's view: a virtio-drivers `Transport`.
#[derive(Debug)]
pub struct FakeTransport(Rc<RefCell<State>>);

/// The device's view of the same state: ring emulation and fault injection.
#[derive(Debug, Clone)]
pub struct FakeDevice(Rc<RefCell<State>>);

impl FakeTransport {
    /// A transport and the device behind it.
    pub fn new_pair(spec: DeviceSpec) -> (FakeTransport, FakeDevice) {
        let n = 2 * usize::from(spec.max_pairs) + 1;
        let s = Rc::new(RefCell::new(State {
            spec,
            status: DeviceStatus::empty(),
            driver_features: 0,
            queues: std::vec![FakeQueue::default(); n],
            ctrl_log: Vec::new(),
            notifies: Vec::new(),
        }));
        (FakeTransport(s.clone()), FakeDevice(s))
    }
}

impl Transport for FakeTransport {
    fn device_type(&self) -> DeviceType {
        DeviceType::Network
    }
    fn read_device_features(&mut self) -> u64 {
        self.0.borrow().spec.features.bits()
    }
    fn write_driver_features(&mut self, driver_features: u64) {
        self.0.borrow_mut().driver_features = driver_features;
    }
    fn max_queue_size(&mut self, queue: u16) -> u32 {
        let s = self.0.borrow();
        let transmitq = queue % 2 == 1 && u32::from(queue) < 2 * u32::from(s.spec.max_pairs);
        if usize::from(queue) >= s.queues.len() {
            0
        } else if let (true, Some(tx)) = (transmitq, s.spec.tx_queue_max) {
            u32::from(tx)
        } else {
            u32::from(s.spec.queue_max)
        }
    }
    fn notify(&mut self, queue: u16) {
        let mut s = self.0.borrow_mut();
        s.notifies.push(queue);
        let ctrl = if s.driver_features & Features::MQ.bits() != 0 {
            2 * u32::from(s.spec.max_pairs)
        } else {
            2
        };
        if u32::from(queue) == ctrl {
            s.process_ctrl(usize::from(queue));
        }
    }
    fn get_status(&self) -> DeviceStatus {
        self.0.borrow().status
    }
    fn set_status(&mut self, status: DeviceStatus) {
        let mut s = self.0.borrow_mut();
        let mut status = status;
        if s.spec.reject_features {
            status.remove(DeviceStatus::FEATURES_OK);
        }
        if status.is_empty() {
            let n = s.queues.len();
            s.queues = std::vec![FakeQueue::default(); n];
        }
        s.status = status;
    }
    fn set_guest_page_size(&mut self, _guest_page_size: u32) {}
    fn requires_legacy_layout(&self) -> bool {
        false
    }
    fn queue_set(&mut self, queue: u16, size: u32, desc: u64, driver: u64, device: u64) {
        let mut s = self.0.borrow_mut();
        if let Some(q) = s.queues.get_mut(usize::from(queue)) {
            *q = FakeQueue {
                size: size as u16,
                desc,
                driver,
                device,
                enabled: true,
                last_avail: 0,
                used_idx: 0,
            };
        }
    }
    fn queue_unset(&mut self, queue: u16) {
        if let Some(q) = self.0.borrow_mut().queues.get_mut(usize::from(queue)) {
            q.enabled = false;
        }
    }
    fn queue_used(&mut self, queue: u16) -> bool {
        self.0
            .borrow()
            .queues
            .get(usize::from(queue))
            .is_some_and(|q| q.enabled)
    }
    fn ack_interrupt(&mut self) -> InterruptStatus {
        InterruptStatus::empty()
    }
    fn read_config_generation(&self) -> u32 {
        0
    }
    fn read_config_space<T: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<T> {
        let c = self.0.borrow().config();
        c.get(offset..offset + core::mem::size_of::<T>())
            .and_then(|b| T::read_from_bytes(b).ok())
            .ok_or(virtio_drivers::Error::ConfigSpaceTooSmall)
    }
    fn write_config_space<T: IntoBytes + Immutable>(
        &mut self,
        _offset: usize,
        _value: T,
    ) -> virtio_drivers::Result<()> {
        Err(virtio_drivers::Error::Unsupported)
    }
}
