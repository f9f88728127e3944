//! Hardware statistics registers (datasheet 8.2.3.23), accumulated into 64-bit totals.
//!
//! The statistics registers clear on read, so every read is added to a running total; the
//! octet counters are 36 bits split over a low and a high register, read low then high.

use corenet_nic::counters::CounterSnapshot;

use crate::family::Family;
use crate::mmio::RegisterAccess;
use crate::regs::{self, MAX_QUEUES};

/// Totals of the device's own counters since init.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HwStats {
    /// GPRC: good packets received (after address filtering).
    pub rx_good_packets: u64,
    /// GORC: good octets received, Ethernet header through CRC.
    pub rx_good_octets: u64,
    /// GPTC: good packets transmitted.
    pub tx_good_packets: u64,
    /// GOTC: good octets transmitted, Ethernet header through CRC.
    pub tx_good_octets: u64,
    /// Sum of MPC[0..8]: packets missed for want of a descriptor or packet-buffer space.
    pub rx_missed: u64,
    /// CRCERRS.
    pub crc_errors: u64,
    /// RLEC: receive length errors.
    pub length_errors: u64,
    /// QPRC per queue (first 16 queues).
    pub rx_queue_packets: [u64; MAX_QUEUES as usize],
    /// QPTC per queue (first 16 queues).
    pub tx_queue_packets: [u64; MAX_QUEUES as usize],
}

impl HwStats {
    /// Reads (and so clears) every counter and adds it to the totals.
    pub fn accumulate(&mut self, regs: &impl RegisterAccess, family: Family, queues: u16) {
        let r = |off| u64::from(regs.read32(off));
        self.rx_good_packets += r(regs::GPRC);
        self.tx_good_packets += r(regs::GPTC);
        let rx_lo = r(regs::GORCL);
        self.rx_good_octets += rx_lo | (r(regs::GORCH) & 0xF) << 32;
        let tx_lo = r(regs::GOTCL);
        self.tx_good_octets += tx_lo | (r(regs::GOTCH) & 0xF) << 32;
        // The 82576 has one missed-packets counter and no QPRC/QPTC at the 82599's offsets
        // (its per-pool counters count only with virtualisation on).
        if family == Family::I82576 {
            self.rx_missed += r(crate::igb::MPC);
            self.crc_errors += r(regs::CRCERRS);
            self.length_errors += r(regs::RLEC);
            return;
        }
        self.rx_missed += (0..8).map(|i| r(regs::mpc(i))).sum::<u64>();
        self.crc_errors += r(regs::CRCERRS);
        self.length_errors += r(regs::RLEC);
        for q in 0..queues.min(MAX_QUEUES) {
            self.rx_queue_packets[q as usize] += r(regs::qprc(q));
            self.tx_queue_packets[q as usize] += r(regs::qptc(q));
        }
    }

    /// The receive side in the shared counter shape (device-level, all queues).
    pub fn rx_snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            packets: self.rx_good_packets,
            bytes: self.rx_good_octets,
            drops: self.rx_missed,
            errors: self.crc_errors + self.length_errors,
            doorbells: 0,
        }
    }

    /// The transmit side in the shared counter shape (device-level, all queues).
    pub fn tx_snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            packets: self.tx_good_packets,
            bytes: self.tx_good_octets,
            ..CounterSnapshot::default()
        }
    }
}
