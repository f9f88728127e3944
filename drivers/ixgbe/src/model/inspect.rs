//! What tests see of and do to the modelled device beyond its registers: time, faults, raw DMA
//! memory, and hostile acts (forged write-backs, bogus head write-backs, corrupted frames).

use alloc::vec;
use alloc::vec::Vec;

use super::device::Device;
use crate::regs::*;

impl Device {
    /// DMA faults plus unsupported configurations.
    pub fn faults(&self) -> u64 {
        self.mem.faults + self.config_faults
    }

    /// Model time in microseconds.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Makes the next received frame's write-back hostile.
    pub fn corrupt_next_rx(&mut self, c: super::rx::Corruption) {
        self.corrupt_next = Some(c);
    }

    /// Writes raw 16 bytes into descriptor `idx` of receive queue `q`'s ring, as a device
    /// gone wrong might (e.g. a write-back with DD on a descriptor never handed to it).
    pub fn write_rx_desc(&mut self, q: u16, idx: u16, dwords: [u32; 4]) {
        let base = u64::from(self.get(rdbal(q))) | u64::from(self.get(rdbah(q))) << 32;
        for (i, w) in dwords.iter().enumerate() {
            self.mem
                .write_u32(base + u64::from(idx) * 16 + 4 * i as u64, *w);
        }
    }

    /// Reads `len` bytes of DMA memory (for tests; a fault outside the regions).
    pub fn peek_mem(&mut self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.mem.read(addr, &mut v);
        v
    }

    /// Reads a little-endian u32 of DMA memory (for tests).
    pub fn peek_mem_u32(&mut self, addr: u64) -> u32 {
        self.mem.read_u32(addr)
    }

    /// Writes DMA memory as software would (for tests programming rings by hand).
    pub fn poke_mem(&mut self, addr: u64, data: &[u8]) -> bool {
        self.mem.write(addr, data)
    }

    /// Writes `value` into transmit queue `q`'s head write-back word, as a hostile device might.
    pub fn write_tx_head_wb(&mut self, q: u16, value: u32) {
        let addr = u64::from(self.get(tdwbal(q)) & !3) | u64::from(self.get(tdwbah(q))) << 32;
        self.mem.write_u32(addr, value);
    }
}
