//! The device side of the fake: ring emulation, control commands, fault injection.
#![allow(unsafe_code)]

extern crate std;

use super::mem::{p2v, rd, wr};
use super::{CtrlBehaviour, CtrlCommand, DeviceSpec, FakeDevice, State};
use crate::features::Features;
use std::vec::Vec;
use virtio_drivers::transport::DeviceStatus;

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FakeQueue {
    pub(super) size: u16,
    pub(super) desc: u64,
    pub(super) driver: u64,
    pub(super) device: u64,
    pub(super) enabled: bool,
    pub(super) last_avail: u16,
    pub(super) used_idx: u16,
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
    pub(super) fn config(&self) -> [u8; 24] {
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

    pub(super) fn process_ctrl(&mut self, q: usize) {
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

impl FakeDevice {
    /// Driver features written.
    pub fn driver_features(&self) -> Features {
        Features::from_bits_retain(self.0.borrow().driver_features)
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
