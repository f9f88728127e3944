//! The per-core queue pair: burst receive and burst transmit, zero-copy.
//!
//! A driver splits each hardware queue pair into an [`RxQueue`] and a [`TxQueue`] owned by one
//! core. They are separate values so a network stack can borrow the receive side (to read a
//! frame in place) and the transmit side (to build a reply in a device buffer) at the same time,
//! which is what a smoltcp `phy::Device` needs to hand out zero-copy tokens.
//!
//! Receive: [`RxQueue::rx_burst`] harvests up to a batch of completed, validated frames. Each
//! [`RxFrame`] names a device buffer that stays owned by the caller until it is given back with
//! [`RxQueue::release`]; released buffers are re-posted to the device with one doorbell per
//! burst. Transmit: [`TxQueue::alloc`] hands out a free buffer ([`TxSlot`]), the caller writes
//! the frame into [`TxQueue::buffer`], queues it with [`TxQueue::submit`], and one
//! [`TxQueue::flush`] rings one doorbell for everything queued. Completions are reclaimed in
//! batches inside `alloc`/`flush`.
//!
//! Everything the device wrote has been validated before a frame is handed out: lengths are
//! within the buffer, ids within the ring. Bad values are counted in
//! [`QueueCounters::errors`](crate::QueueCounters) and the frame is dropped.

use crate::counters::QueueCounters;

/// One queue pair as a driver hands it out, to be moved to the core that will own it (every
/// driver's pair is this type: `QueuePair<VirtioRx, VirtioTx>`, `QueuePair<IxgbeRx<R>,
/// IxgbeTx<R>>`).
#[derive(Debug)]
pub struct QueuePair<R, T> {
    /// The receive half.
    pub rx: R,
    /// The transmit half.
    pub tx: T,
}

/// What the device told us about a received frame, beyond its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxFrame {
    /// The device buffer holding the frame (driver-defined index).
    pub slot: u16,
    /// Frame length in bytes (Ethernet header onwards, no FCS), already bounds-checked.
    pub len: u16,
    /// The RSS hash the device computed, when it reports one.
    pub rss_hash: Option<u32>,
    /// The device verified the L4 (TCP/UDP) checksum, or the frame came from a trusted local
    /// peer that left it blank (virtio `DATA_VALID`/`NEEDS_CSUM`): software may skip the check.
    pub csum_ok: bool,
}

/// Transmit offloads the device performs for one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    /// Ask the device to fill in the L4 checksum: `(start, offset)` are the byte offset where
    /// checksumming starts (the L4 header) and where the 16-bit result goes, **both counted
    /// from the frame start**. The caller must have written the pseudo-header sum into that
    /// field (both virtio and the 82599 add the L4 sum to it). Only valid when
    /// [`TxQueue::csum_offload`] is true.
    pub l4_csum: Option<(u16, u16)>,
    /// Ask the device to cut this TCP frame (longer than the MTU) into segments
    /// (TCP segmentation offload). Needs `l4_csum` too; only valid in a buffer from
    /// [`TxQueue::alloc_large`].
    pub tso: Option<Tso>,
}

/// A TCP segmentation request: the device repeats the first `hdr_len` bytes (Ethernet, IP and
/// TCP headers) in front of every `mss` bytes of payload, fixing lengths, sequence numbers,
/// flags and checksums as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tso {
    /// Payload bytes per segment.
    pub mss: u16,
    /// Bytes of headers from the frame start to the TCP payload.
    pub hdr_len: u16,
    /// The frame is IPv6 (else IPv4).
    pub ipv6: bool,
}

/// A transmit buffer handed out by [`TxQueue::alloc`]. Not `Clone`: it is used once, by
/// [`TxQueue::submit`] or [`TxQueue::cancel`].
#[derive(Debug, PartialEq, Eq)]
pub struct TxSlot {
    /// Driver-defined buffer index.
    pub slot: u16,
}

/// The receive half of one queue pair, owned by one core.
pub trait RxQueue {
    /// The hardware queue index (also the RSS indirection table's value for this queue).
    fn queue_index(&self) -> u16;

    /// Harvests up to `out.len()` received frames into `out` and returns how many. Re-posts
    /// released buffers first, with at most one doorbell.
    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize;

    /// The bytes of a frame returned by [`rx_burst`](Self::rx_burst) and not yet released.
    /// Returns an empty slice for a frame this queue does not hold.
    fn frame(&self, frame: &RxFrame) -> &[u8];

    /// Gives a frame's buffer back to the queue; it is re-posted at the next burst.
    fn release(&mut self, frame: RxFrame);

    /// Receive counters of this queue.
    fn counters(&self) -> &QueueCounters;
}

/// The transmit half of one queue pair, owned by one core.
pub trait TxQueue {
    /// The hardware queue index.
    fn queue_index(&self) -> u16;

    /// A free transmit buffer, reclaiming completed ones when none is free; `None` when the
    /// ring is full of frames the device has not finished.
    fn alloc(&mut self) -> Option<TxSlot>;

    /// The writable bytes of an allocated buffer (its full capacity: at least 1514 bytes).
    fn buffer(&mut self, slot: &TxSlot) -> &mut [u8];

    /// Queues `len` bytes of the buffer for transmission; the device is told at
    /// [`flush`](Self::flush). A `len` over the capacity is counted as an error and dropped.
    fn submit(&mut self, slot: TxSlot, len: usize, offload: Offload);

    /// Returns an allocated buffer unused.
    fn cancel(&mut self, slot: TxSlot);

    /// Rings the doorbell once for everything submitted since the last flush.
    fn flush(&mut self);

    /// Whether the device fills in L4 checksums ([`Offload::l4_csum`]).
    fn csum_offload(&self) -> bool {
        false
    }

    /// The longest TCP frame the device segments ([`Offload::tso`]) for IPv4, when it does.
    fn tso_max_frame(&self) -> Option<usize> {
        None
    }

    /// A free buffer of at least [`tso_max_frame`](Self::tso_max_frame) bytes for a frame to
    /// segment; `None` when the device does not segment or all are in its hands. Submitted,
    /// cancelled and completed like any other.
    fn alloc_large(&mut self) -> Option<TxSlot> {
        None
    }

    /// Transmit counters of this queue.
    fn counters(&self) -> &QueueCounters;
}
