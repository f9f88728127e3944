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

use core::ptr::NonNull;
use corenet_nic::{DmaAllocator, DmaRegion};
use std::alloc::Layout;
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// `phys - virt` of every fake DMA region.
pub const PHYS_OFFSET: u64 = 0x1000_0000_0000;

/// Host memory standing in for the kernel's DMA pool.
#[derive(Debug, Default)]
pub struct FakeDma {
    regions: Vec<(NonNull<u8>, Layout)>,
    /// Bytes still available; `None` = unlimited.
    pub budget: Option<usize>,
}

impl FakeDma {
    /// An allocator that fails once `bytes` have been handed out.
    pub fn with_budget(bytes: usize) -> Self {
        Self {
            regions: Vec::new(),
            budget: Some(bytes),
        }
    }
}

impl DmaAllocator for FakeDma {
    fn alloc_dma(&mut self, len: usize, align: usize) -> Option<DmaRegion> {
        if let Some(b) = self.budget.as_mut() {
            *b = b.checked_sub(len)?;
        }
        let layout = Layout::from_size_align(len.max(1), align).ok()?;
        // SAFETY: non-zero size.
        let p = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        self.regions.push((p, layout));
        Some(DmaRegion {
            virt: p,
            phys: p.as_ptr() as u64 + PHYS_OFFSET,
            len,
        })
    }
}

impl Drop for FakeDma {
    fn drop(&mut self) {
        for (p, l) in self.regions.drain(..) {
            // SAFETY: allocated in `alloc_dma` with this layout, freed once.
            unsafe { std::alloc::dealloc(p.as_ptr(), l) }
        }
    }
}

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
    pub features: u64,
    /// `max_virtqueue_pairs`.
    pub max_pairs: u16,
    /// Max size of every queue.
    pub queue_max: u16,
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
        use crate::features::*;
        Self {
            features: VERSION_1
                | MAC
                | STATUS
                | CTRL_VQ
                | MQ
                | RSS
                | HASH_REPORT
                | EVENT_IDX
                | CSUM
                | GUEST_CSUM
                | MRG_RXBUF,
            max_pairs: 4,
            queue_max: 256,
            mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
            link_up: true,
            reject_features: false,
            ctrl: CtrlBehaviour::Ack,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct FakeQueue {
    size: u16,
    desc: u64,
    driver: u64,
    device: u64,
    enabled: bool,
    last_avail: u16,
    used_idx: u16,
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

fn p2v(phys: u64) -> *mut u8 {
    (phys - PHYS_OFFSET) as *mut u8
}

fn rd<T: Copy>(phys: u64) -> T {
    // SAFETY: test-only device: `phys` is inside a FakeDma region the driver gave us.
    unsafe { p2v(phys).cast::<T>().read_volatile() }
}

fn wr<T: Copy>(phys: u64, v: T) {
    // SAFETY: as in `rd`.
    unsafe { p2v(phys).cast::<T>().write_volatile(v) }
}

impl FakeQueue {
    fn used_base(&self) -> u64 {
        self.device
    }
    fn avail_idx(&self) -> u16 {
        rd(self.driver + 2)
    }
    fn pop_avail(&mut self) -> Option<u16> {
        if self.last_avail == self.avail_idx() {
            return None;
        }
        let slot = u64::from(self.last_avail & (self.size - 1));
        self.last_avail = self.last_avail.wrapping_add(1);
        Some(rd(self.driver + 4 + 2 * slot))
    }
    fn desc(&self, id: u16) -> (u64, u32, u16, u16) {
        let d = self.desc + 16 * u64::from(id);
        (rd(d), rd(d + 8), rd(d + 12), rd(d + 14))
    }
    fn push_used(&mut self, id: u32, len: u32) {
        let slot = u64::from(self.used_idx & (self.size - 1));
        wr(self.used_base() + 4 + 8 * slot, id);
        wr(self.used_base() + 8 + 8 * slot, len);
        self.used_idx = self.used_idx.wrapping_add(1);
    }
    fn publish(&self) {
        wr(self.used_base() + 2, self.used_idx);
    }
}

impl State {
    fn config(&self) -> [u8; 24] {
        let mut c = [0u8; 24];
        c[0..6].copy_from_slice(&self.spec.mac);
        c[6..8].copy_from_slice(&u16::from(self.spec.link_up).to_le_bytes());
        c[8..10].copy_from_slice(&self.spec.max_pairs.to_le_bytes());
        c[10..12].copy_from_slice(&1500u16.to_le_bytes());
        c[17] = 40;
        c[18..20].copy_from_slice(&128u16.to_le_bytes());
        c[20..24].copy_from_slice(&0x3fu32.to_le_bytes());
        c
    }

    fn process_ctrl(&mut self, q: usize) {
        if self.spec.ctrl == CtrlBehaviour::Never {
            return;
        }
        let behaviour = self.spec.ctrl;
        let fq = &mut self.queues[q];
        while let Some(head) = fq.pop_avail() {
            let mut id = head;
            let mut readable = Vec::new();
            let mut ack = None;
            for _ in 0..fq.size {
                let (addr, len, flags, next) = fq.desc(id);
                if flags & 2 != 0 {
                    ack = Some(addr);
                } else {
                    let mut part = Vec::new();
                    for i in 0..u64::from(len) {
                        part.push(rd::<u8>(addr + i));
                    }
                    readable.push(part);
                }
                if flags & 1 == 0 {
                    break;
                }
                id = next;
            }
            let hdr = readable.first().cloned().unwrap_or_default();
            let cmd = CtrlCommand {
                class: hdr.first().copied().unwrap_or(0xff),
                cmd: hdr.get(1).copied().unwrap_or(0xff),
                data: readable.get(1).cloned().unwrap_or_default(),
            };
            let ok = !(behaviour == CtrlBehaviour::RejectRss
                && cmd.class == crate::ctrl::CLASS_MQ
                && cmd.cmd == crate::ctrl::MQ_RSS_CONFIG);
            if let Some(a) = ack {
                wr::<u8>(a, if ok { 0 } else { 1 });
            }
            self.ctrl_log.push(cmd);
            fq.push_used(u32::from(head), 1);
            fq.publish();
        }
    }
}

impl Transport for FakeTransport {
    fn device_type(&self) -> DeviceType {
        DeviceType::Network
    }
    fn read_device_features(&mut self) -> u64 {
        self.0.borrow().spec.features
    }
    fn write_driver_features(&mut self, driver_features: u64) {
        self.0.borrow_mut().driver_features = driver_features;
    }
    fn max_queue_size(&mut self, queue: u16) -> u32 {
        let s = self.0.borrow();
        if usize::from(queue) < s.queues.len() {
            u32::from(s.spec.queue_max)
        } else {
            0
        }
    }
    fn notify(&mut self, queue: u16) {
        let mut s = self.0.borrow_mut();
        s.notifies.push(queue);
        let ctrl = if s.driver_features & crate::features::MQ != 0 {
            2 * s.spec.max_pairs
        } else {
            2
        };
        if queue == ctrl {
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

impl FakeDevice {
    /// Driver features written.
    pub fn driver_features(&self) -> u64 {
        self.0.borrow().driver_features
    }
    /// Current status.
    pub fn status(&self) -> DeviceStatus {
        self.0.borrow().status
    }
    /// Control commands received so far.
    pub fn ctrl_log(&self) -> Vec<CtrlCommand> {
        self.0.borrow().ctrl_log.clone()
    }
    /// `Transport::notify` calls so far.
    pub fn transport_notifies(&self) -> Vec<u16> {
        self.0.borrow().notifies.clone()
    }
    /// Changes the spec (e.g. link state, control behaviour) at run time.
    pub fn update(&self, f: impl FnOnce(&mut DeviceSpec)) {
        f(&mut self.0.borrow_mut().spec)
    }
    /// Size of queue `q` as set by the driver (0 if not set up).
    pub fn queue_size(&self, q: u16) -> u16 {
        self.0.borrow().queues[usize::from(q)].size
    }
    /// Buffers the driver has made available on `q` and the device has not taken.
    pub fn avail_pending(&self, q: u16) -> u16 {
        let s = self.0.borrow();
        let fq = &s.queues[usize::from(q)];
        fq.avail_idx().wrapping_sub(fq.last_avail)
    }

    /// Receives `frames` on receive queue `q`: each takes one posted buffer and gets `hdr` (the
    /// virtio-net header, as long as negotiated) before it. Publishes once; returns how many fit.
    pub fn rx_deliver(&self, q: u16, hdr: &[u8], frames: &[&[u8]]) -> usize {
        let mut s = self.0.borrow_mut();
        let fq = &mut s.queues[usize::from(q)];
        let mut n = 0;
        for f in frames {
            let Some(id) = fq.pop_avail() else { break };
            let (addr, len, _, _) = fq.desc(id);
            let total = hdr.len() + f.len();
            assert!(
                total <= len as usize,
                "fake device: frame larger than buffer"
            );
            // SAFETY: test-only device: the descriptor names a FakeDma buffer of `len` bytes.
            unsafe {
                core::ptr::copy_nonoverlapping(hdr.as_ptr(), p2v(addr), hdr.len());
                core::ptr::copy_nonoverlapping(f.as_ptr(), p2v(addr).add(hdr.len()), f.len());
            }
            fq.push_used(u32::from(id), total as u32);
            n += 1;
        }
        fq.publish();
        n
    }

    /// Completes every pending transmit on queue `q` and returns the frames (header included).
    pub fn tx_complete(&self, q: u16) -> Vec<Vec<u8>> {
        let mut s = self.0.borrow_mut();
        let fq = &mut s.queues[usize::from(q)];
        let mut out = Vec::new();
        while let Some(id) = fq.pop_avail() {
            let (addr, len, _, _) = fq.desc(id);
            let mut v = std::vec![0u8; len as usize];
            // SAFETY: test-only device: the descriptor names a FakeDma buffer of `len` bytes.
            unsafe { core::ptr::copy_nonoverlapping(p2v(addr), v.as_mut_ptr(), v.len()) };
            out.push(v);
            fq.push_used(u32::from(id), 0);
        }
        fq.publish();
        out
    }

    /// Like [`tx_complete`](Self::tx_complete) without copying: returns the count.
    pub fn tx_complete_count(&self, q: u16) -> usize {
        let mut s = self.0.borrow_mut();
        let fq = &mut s.queues[usize::from(q)];
        let mut n = 0;
        while let Some(id) = fq.pop_avail() {
            fq.push_used(u32::from(id), 0);
            n += 1;
        }
        fq.publish();
        n
    }

    /// Hostile: takes the next available buffer id without using it.
    pub fn take_avail(&self, q: u16) -> Option<u16> {
        self.0.borrow_mut().queues[usize::from(q)].pop_avail()
    }

    /// Hostile: writes an arbitrary used element and publishes it.
    pub fn push_used_raw(&self, q: u16, id: u32, len: u32) {
        let mut s = self.0.borrow_mut();
        let fq = &mut s.queues[usize::from(q)];
        fq.push_used(id, len);
        fq.publish();
    }

    /// Hostile: sets the used index to anything.
    pub fn set_used_idx(&self, q: u16, idx: u16) {
        let mut s = self.0.borrow_mut();
        let fq = &mut s.queues[usize::from(q)];
        fq.used_idx = idx;
        fq.publish();
    }

    /// The used index as published.
    pub fn used_idx(&self, q: u16) -> u16 {
        self.0.borrow().queues[usize::from(q)].used_idx
    }

    /// Asks for a notification on the next available buffer (EVENT_IDX): `avail_event` = the
    /// device's own available index, as an idle device does.
    pub fn want_notify(&self, q: u16) {
        let s = self.0.borrow();
        let fq = &s.queues[usize::from(q)];
        wr(fq.device + 4 + 8 * u64::from(fq.size), fq.last_avail);
    }

    /// Writes `avail_event` (EVENT_IDX) of queue `q`: the device asks to be notified once the
    /// available index passes `v`.
    pub fn set_avail_event(&self, q: u16, v: u16) {
        let s = self.0.borrow();
        let fq = &s.queues[usize::from(q)];
        wr(fq.device + 4 + 8 * u64::from(fq.size), v);
    }
}

/// Doorbells for the fake device: one 32-bit register per queue in leaked host memory (test
/// only), so tests can see which queues were rung.
#[derive(Debug, Clone, Copy)]
pub struct FakeNotify {
    regs: NonNull<u32>,
}

/// Registers in a [`FakeNotify`].
const FAKE_NOTIFY_REGS: usize = 64;

impl Default for FakeNotify {
    fn default() -> Self {
        let regs: &'static mut [u32; FAKE_NOTIFY_REGS] =
            std::boxed::Box::leak(std::boxed::Box::new([u32::MAX; FAKE_NOTIFY_REGS]));
        Self {
            regs: NonNull::from(regs).cast(),
        }
    }
}

impl FakeNotify {
    /// The value last written to queue `q`'s doorbell (`u32::MAX` if never).
    pub fn rung(&self, q: u16) -> u32 {
        assert!(usize::from(q) < FAKE_NOTIFY_REGS);
        // SAFETY: inside the leaked array, which lives forever.
        unsafe { self.regs.as_ptr().add(usize::from(q)).read_volatile() }
    }
}

impl<T: Transport> crate::doorbell::NotifyMap<T> for FakeNotify {
    fn doorbell(
        &mut self,
        _transport: &mut T,
        queue: u16,
    ) -> Result<crate::doorbell::Doorbell, crate::doorbell::DoorbellError> {
        if usize::from(queue) >= FAKE_NOTIFY_REGS {
            return Err(crate::doorbell::DoorbellError::OutOfRange {
                queue,
                offset: usize::from(queue) * 4,
            });
        }
        // SAFETY: inside the leaked array (never freed), 4-byte aligned.
        Ok(unsafe {
            crate::doorbell::Doorbell::new(self.regs.add(usize::from(queue)).cast(), queue, true)
        })
    }
}
