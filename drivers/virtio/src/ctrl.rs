//! The control virtqueue (5.1.6.5): command encoding (pure) and one-at-a-time execution.
#![allow(unsafe_code)]

use crate::buffers::Buffers;
use crate::ring::{DESC_F_NEXT, DESC_F_WRITE, Ring};
use corenet_nic::RssConfig;
use corenet_nic::steering::TABLE_LEN;

/// `VIRTIO_NET_CTRL_MQ` class (5.1.6.5.5).
pub const CLASS_MQ: u8 = 4;
/// `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET`: `le16 virtqueue_pairs`.
pub const MQ_VQ_PAIRS_SET: u8 = 0;
/// `VIRTIO_NET_CTRL_MQ_RSS_CONFIG`: `struct virtio_net_rss_config` (5.1.6.5.7.1).
pub const MQ_RSS_CONFIG: u8 = 1;
/// `VIRTIO_NET_OK`.
const ACK_OK: u8 = 0;
/// `VIRTIO_NET_ERR`.
const ACK_ERR: u8 = 1;

/// RSS hash types (5.1.6.4.3.1): IPv4, TCPv4, UDPv4, IPv6, TCPv6, UDPv6.
pub const HASH_TYPES_L3_L4: u32 = 0b11_1111;

/// Largest command payload: the RSS config with a 128-entry table and a 40-byte key.
pub const MAX_CMD_LEN: usize = 4 + 2 + 2 + 2 * TABLE_LEN + 2 + 1 + 40;

/// A command payload, encoded little-endian as the device reads it.
pub type CmdBytes = heapless::Vec<u8, MAX_CMD_LEN>;

/// `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET` payload.
pub fn vq_pairs_set(pairs: u16) -> CmdBytes {
    let mut v = CmdBytes::new();
    let _ = v.extend_from_slice(&pairs.to_le_bytes());
    v
}

/// `VIRTIO_NET_CTRL_MQ_RSS_CONFIG` payload (5.1.6.5.7.1) for `cfg`: every queue of the table
/// receives, unclassified packets go to queue 0, `max_tx_vq` = `cfg.queues`.
///
/// Indirection entries are 0-based receive queue numbers (0 = receiveq1), i.e. exactly
/// [`RssConfig::table`], so the device steers as the stack predicts.
pub fn rss_config(cfg: &RssConfig, hash_types: u32) -> CmdBytes {
    let mut v = CmdBytes::new();
    let mut put = |b: &[u8]| {
        let _ = v.extend_from_slice(b);
    };
    put(&hash_types.to_le_bytes());
    put(&((TABLE_LEN - 1) as u16).to_le_bytes()); // indirection_table_mask
    put(&0u16.to_le_bytes()); // unclassified_queue
    for e in cfg.table {
        put(&e.to_le_bytes());
    }
    put(&cfg.queues.to_le_bytes()); // max_tx_vq
    put(&[cfg.key.len() as u8]);
    put(&cfg.key);
    v
}

/// Errors from [`CtrlQueue::exec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtrlError {
    /// The device did not complete the command within the spin budget.
    Timeout,
    /// A previous command timed out and the device still holds its buffers.
    Busy,
    /// The device answered `VIRTIO_NET_ERR`.
    Rejected,
    /// The device wrote an ack that is neither OK nor ERR, or used an id we did not post.
    BadResponse,
}

/// Offsets in the control buffer: header, payload, ack.
const HDR_OFF: usize = 0;
const DATA_OFF: usize = 64;
const ACK_OFF: usize = 1024;

/// The control queue: one command at a time, three descriptors (header, payload, ack).
#[derive(Debug)]
pub(crate) struct CtrlQueue {
    ring: Ring,
    buf: Buffers,
    busy: bool,
    spins: u32,
}

impl CtrlQueue {
    pub(crate) fn new(ring: Ring, buf: Buffers, spins: u32) -> Self {
        Self {
            ring,
            buf,
            busy: false,
            spins,
        }
    }

    /// Harvests the completion of the outstanding command, if any.
    fn harvest(&mut self) -> Option<Result<(), CtrlError>> {
        let pending = self.ring.used_pending();
        if pending == 0 {
            return None;
        }
        let e = self.ring.used_elem(0);
        self.ring.consume(pending.min(self.ring.size()));
        self.busy = false;
        if e.id != 0 || pending != 1 {
            return Some(Err(CtrlError::BadResponse));
        }
        Some(match self.buf.slice(0, ACK_OFF, 1) {
            [ACK_OK] => Ok(()),
            [ACK_ERR] => Err(CtrlError::Rejected),
            _ => Err(CtrlError::BadResponse),
        })
    }

    /// Sends `class`/`cmd` with `data`, notifies with `notify`, and polls for the ack.
    pub(crate) fn exec(
        &mut self,
        class: u8,
        cmd: u8,
        data: &[u8],
        notify: impl FnOnce(),
    ) -> Result<(), CtrlError> {
        if self.busy && self.harvest().is_none() {
            return Err(CtrlError::Busy);
        }
        let data_len = data.len().min(ACK_OFF - DATA_OFF);
        self.buf
            .slice_mut(0, HDR_OFF, 2)
            .copy_from_slice(&[class, cmd]);
        self.buf
            .slice_mut(0, DATA_OFF, data_len)
            .copy_from_slice(&data[..data_len]);
        self.buf.slice_mut(0, ACK_OFF, 1)[0] = 0xff;
        let base = self.buf.phys(0);
        self.ring
            .write_desc(0, base + HDR_OFF as u64, 2, DESC_F_NEXT, 1);
        self.ring
            .write_desc(1, base + DATA_OFF as u64, data_len as u32, DESC_F_NEXT, 2);
        self.ring
            .write_desc(2, base + ACK_OFF as u64, 1, DESC_F_WRITE, 0);
        self.ring.push_avail(0);
        self.busy = true;
        self.ring.publish_index();
        notify();
        for _ in 0..self.spins {
            if let Some(r) = self.harvest() {
                return r;
            }
            core::hint::spin_loop();
        }
        Err(CtrlError::Timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vq_pairs_set_bytes() {
        assert_eq!(vq_pairs_set(4).as_slice(), &[4, 0]);
    }

    #[test]
    fn rss_config_bytes() {
        let cfg = RssConfig::new(3).unwrap();
        let b = rss_config(&cfg, HASH_TYPES_L3_L4);
        assert_eq!(b.len(), MAX_CMD_LEN);
        assert_eq!(&b[0..4], &[0x3f, 0, 0, 0]);
        assert_eq!(&b[4..6], &[127, 0]);
        assert_eq!(&b[6..8], &[0, 0]);
        // table entries 0, 1, 2, 0, ...
        assert_eq!(&b[8..16], &[0, 0, 1, 0, 2, 0, 0, 0]);
        let t = 8 + 2 * TABLE_LEN;
        assert_eq!(&b[t..t + 2], &[3, 0]);
        assert_eq!(b[t + 2], 40);
        assert_eq!(&b[t + 3..], &corenet_nic::steering::DEFAULT_KEY);
    }
}
