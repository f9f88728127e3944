//! Fake single hardware queue pair and frame builders for the soft-queue tests.

extern crate std;

use std::collections::VecDeque;
use std::vec::Vec;

use corenet_nic::{Offload, QueueCounters, RxFrame, RxQueue, TxQueue, TxSlot};

/// A hardware RX queue holding whatever frames the test puts in.
pub(crate) struct FakeRx {
    pub wire: VecDeque<Vec<u8>>,
    held: Vec<Option<Vec<u8>>>,
    counters: QueueCounters,
}

impl FakeRx {
    pub fn new() -> Self {
        Self {
            wire: VecDeque::new(),
            held: Vec::new(),
            counters: QueueCounters::new(),
        }
    }

    pub fn outstanding(&self) -> usize {
        self.held.iter().filter(|h| h.is_some()).count()
    }
}

impl RxQueue for FakeRx {
    fn queue_index(&self) -> u16 {
        0
    }
    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(f) = self.wire.pop_front() else {
                break;
            };
            out[n] = RxFrame {
                slot: self.held.len() as u16,
                len: f.len() as u16,
                rss_hash: None,
                csum_ok: true,
            };
            self.held.push(Some(f));
            n += 1;
        }
        n
    }
    fn frame(&self, frame: &RxFrame) -> &[u8] {
        match self.held.get(usize::from(frame.slot)) {
            Some(Some(f)) => f,
            _ => &[],
        }
    }
    fn release(&mut self, frame: RxFrame) {
        self.held[usize::from(frame.slot)] = None;
        if self.held.iter().all(Option::is_none) {
            self.held.clear();
        }
    }
    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}

/// A hardware TX queue with `cap` buffers of `buf_len` bytes; sent buffers come back only
/// at [`FakeTx::complete`] unless `auto_complete`.
pub(crate) struct FakeTx {
    bufs: Vec<Vec<u8>>,
    pub free: Vec<u16>,
    pending: Vec<(u16, usize)>,
    in_flight: Vec<u16>,
    pub sent: Vec<Vec<u8>>,
    pub flushes: usize,
    auto_complete: bool,
    counters: QueueCounters,
}

impl FakeTx {
    pub fn new(cap: usize, buf_len: usize, auto_complete: bool) -> Self {
        Self {
            bufs: (0..cap).map(|_| std::vec![0; buf_len]).collect(),
            free: (0..cap as u16).collect(),
            pending: Vec::new(),
            in_flight: Vec::new(),
            sent: Vec::new(),
            flushes: 0,
            auto_complete,
            counters: QueueCounters::new(),
        }
    }

    pub fn complete(&mut self) {
        self.free.append(&mut self.in_flight);
    }
}

impl TxQueue for FakeTx {
    fn queue_index(&self) -> u16 {
        0
    }
    fn alloc(&mut self) -> Option<TxSlot> {
        self.free.pop().map(|slot| TxSlot { slot })
    }
    fn buffer(&mut self, slot: &TxSlot) -> &mut [u8] {
        &mut self.bufs[usize::from(slot.slot)]
    }
    fn submit(&mut self, slot: TxSlot, len: usize, _offload: Offload) {
        self.pending.push((slot.slot, len));
    }
    fn cancel(&mut self, slot: TxSlot) {
        self.free.push(slot.slot);
    }
    fn flush(&mut self) {
        self.flushes += 1;
        for (slot, len) in self.pending.drain(..) {
            self.sent.push(self.bufs[usize::from(slot)][..len].to_vec());
            self.in_flight.push(slot);
        }
        if self.auto_complete {
            self.complete();
        }
    }
    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}

/// An Ethernet/IPv4/TCP frame from `src`:`sport` to 10.0.0.2:`dport` whose payload starts
/// with `tag`, `len` bytes in all.
pub(crate) fn tcp_frame(src: [u8; 4], sport: u16, dport: u16, tag: u32, len: usize) -> Vec<u8> {
    let mut f = std::vec![0u8; len.max(58)];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = 6;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[54..58].copy_from_slice(&tag.to_be_bytes());
    f
}

pub(crate) fn arp_frame(tag: u32) -> Vec<u8> {
    let mut f = tcp_frame([10, 0, 0, 1], 0, 0, tag, 60);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f
}
