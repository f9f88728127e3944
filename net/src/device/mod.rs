//! smoltcp `phy::Device` over one core's `corenet_nic` queue pair, with zero-copy tokens.
//!
//! Receive: frames are harvested from the [`RxQueue`] in bursts of [`BURST`]; an
//! [`QueueRxToken`] hands smoltcp the frame in place in the device buffer and releases it
//! when done (or when dropped unused). Transmit: a [`QueueTxToken`] lets smoltcp build the
//! frame directly in a TX buffer. A token never fails after it was handed out: the TX buffer
//! is reserved *before* a token is returned (kept as a spare when a token goes unused), so
//! [`Device::receive`] and [`Device::transmit`] return `None` exactly when the queue cannot
//! give a buffer. Submitted frames reach the device at [`QueueDevice::flush`], once per poll.
//!
//! ICMP errors and echo replies (which smoltcp sends on its own: port unreachable for a
//! closed UDP port, echo replies) pass a per-core token bucket ([`QueueDevice::set_icmp_limit`])
//! once built: over the budget, the buffer goes back to the queue unsent, and is counted.

use corenet_nic::{Offload, RxFrame, RxQueue, TxQueue, TxSlot};
use smoltcp::phy::{self, Checksum, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::ratelimit::TokenBucket;

/// Frames harvested per `rx_burst`.
pub const BURST: usize = 32;

/// Ethernet MTU as smoltcp counts it: 1500 bytes of IP plus the 14-byte header.
pub const ETHERNET_MTU: usize = 1514;

/// Drops and anomalies seen by the adapter (the queues count their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// smoltcp asked for a frame larger than the TX buffer; built in scratch and dropped.
    pub tx_oversize: u64,
    /// Frames submitted to the TX queue.
    pub tx_frames: u64,
    /// Frames taken from the RX queue and handed to smoltcp.
    pub rx_frames: u64,
}

/// One core's queue pair as a smoltcp device.
pub struct QueueDevice<R: RxQueue, T: TxQueue> {
    rx: R,
    tx: T,
    burst: [RxFrame; BURST],
    head: usize,
    len: usize,
    /// A TX buffer reserved for the next token.
    spare: Option<TxSlot>,
    /// A frame from another core, received before the queue; replies to it are discarded.
    /// A frame from another core, taken before the queue; `true` when smoltcp's replies to
    /// it go out on our queue (a TCP segment for one of our connections), `false` when they
    /// are discarded (ARP and DHCP frames every core sees).
    injected: Option<(InjectedFrame, bool)>,
    st: TxState,
}

/// What a TX token updates, behind one pointer (tokens are moved around by smoltcp on every
/// packet: each extra pointer in them costs instructions).
#[derive(Debug, Default)]
pub struct TxState {
    stats: DeviceStats,
    /// (sequence number, sequence space) of the last TCP segment built, for the stack's
    /// retransmission count.
    last_tcp: Option<(u32, u32)>,
    icmp: IcmpLimit,
    /// The queue completes TCP checksums: smoltcp leaves them zero, and each TCP frame gets
    /// its pseudo-header sum and a request (`offload`).
    csum_offload: bool,
    /// The longest frame the queue segments (TSO, with `csum_offload` only).
    tso_max: Option<usize>,
    /// A large TX buffer reserved for the next token that builds a frame to segment.
    spare_large: Option<TxSlot>,
    /// The segment size smoltcp asked for the frame being built (`set_meta`).
    gso: Option<u16>,
}

/// The ICMP rate limit of one queue: the bucket, the clock of the current poll, and the
/// frames dropped since the stack last looked.
#[derive(Debug, Default)]
pub struct IcmpLimit {
    bucket: Option<TokenBucket>,
    now_us: u64,
    dropped: u64,
}

impl IcmpLimit {
    /// True when `frame` is an ICMP error or echo reply over the budget: drop it.
    fn over(&mut self, frame: &[u8]) -> bool {
        let Some(b) = self.bucket.as_mut() else {
            return false;
        };
        if !limited_icmp(frame) || b.try_take(self.now_us) {
            return false;
        }
        self.dropped += 1;
        true
    }
}

/// A frame handed over from another core (ARP, DHCP: rare, so a heap buffer is fine).
pub type InjectedFrame = alloc::vec::Vec<u8>;

impl<R: RxQueue, T: TxQueue> QueueDevice<R, T> {
    /// Wraps a queue pair owned by this core.
    pub fn new(rx: R, tx: T) -> Self {
        let csum_offload = tx.csum_offload();
        let tso_max = tx.tso_max_frame().filter(|_| csum_offload);
        Self {
            rx,
            tx,
            burst: [RxFrame::default(); BURST],
            head: 0,
            len: 0,
            spare: None,
            injected: None,
            st: TxState {
                csum_offload,
                tso_max,
                ..TxState::default()
            },
        }
    }

    /// Limits the ICMP errors and echo replies this queue sends with `bucket` (none: no
    /// limit, the default).
    pub fn set_icmp_limit(&mut self, bucket: Option<TokenBucket>) {
        self.st.icmp.bucket = bucket;
    }

    /// The time of the current poll, for the ICMP rate limit (set once per poll rather than
    /// on every token: that is on the per-packet path).
    pub fn set_clock(&mut self, now_us: u64) {
        self.st.icmp.now_us = now_us;
    }

    /// ICMP frames dropped by the rate limit since the last call.
    pub fn take_icmp_limited(&mut self) -> u64 {
        core::mem::take(&mut self.st.icmp.dropped)
    }

    /// The bytes of the next frame smoltcp would receive, harvesting a burst if none is
    /// pending. Lets the caller classify a frame before handing it to the stack.
    pub fn peek(&mut self) -> Option<&[u8]> {
        if self.injected.is_none() && self.len == 0 {
            self.harvest();
        }
        if let Some((f, _)) = &self.injected {
            return Some(f);
        }
        (self.len > 0).then(|| self.rx.frame(&self.burst[self.head]))
    }

    /// Makes `frame` the next frame smoltcp receives. Replies smoltcp makes to it are
    /// discarded: the core that received the original already answered.
    pub fn inject(&mut self, frame: InjectedFrame) {
        self.injected = Some((frame, false));
    }

    /// Like [`inject`](Self::inject), but smoltcp's replies to the frame are transmitted: for
    /// a segment another core received for one of this core's connections.
    pub fn inject_answerable(&mut self, frame: InjectedFrame) {
        self.injected = Some((frame, true));
    }

    /// Drops the next pending frame without giving it to smoltcp (e.g. it failed a check).
    pub fn discard(&mut self) {
        if self.injected.take().is_some() {
            return;
        }
        if let Some(f) = self.pop() {
            self.rx.release(f);
        }
    }

    /// The last TCP segment transmitted since the previous call: its sequence number and the
    /// sequence space it covers (payload, plus one each for SYN and FIN).
    pub fn take_last_tcp(&mut self) -> Option<(u32, u32)> {
        self.st.last_tcp.take()
    }

    /// Rings the TX doorbell once for everything built since the last flush.
    pub fn flush(&mut self) {
        self.tx.flush();
    }

    /// Adapter counters.
    pub fn stats(&self) -> DeviceStats {
        self.st.stats
    }

    /// The RX queue.
    pub fn rx_queue(&self) -> &R {
        &self.rx
    }

    /// The RX queue, to arm its interrupt before a halt.
    pub fn rx_queue_mut(&mut self) -> &mut R {
        &mut self.rx
    }

    /// The TX queue.
    pub fn tx_queue(&self) -> &T {
        &self.tx
    }

    fn harvest(&mut self) {
        self.head = 0;
        self.len = self.rx.rx_burst(&mut self.burst).min(BURST);
    }

    fn pop(&mut self) -> Option<RxFrame> {
        if self.len == 0 {
            self.harvest();
            if self.len == 0 {
                return None;
            }
        }
        let f = self.burst[self.head];
        self.head += 1;
        self.len -= 1;
        Some(f)
    }

    /// Makes sure a TX buffer is reserved; false when the ring is full.
    fn reserve(&mut self) -> bool {
        if self.spare.is_none() {
            self.spare = self.tx.alloc();
        }
        self.spare.is_some()
    }
}

impl<R: RxQueue, T: TxQueue> Device for QueueDevice<R, T> {
    type RxToken<'a>
        = QueueRxToken<'a, R>
    where
        Self: 'a;
    type TxToken<'a>
        = QueueTxToken<'a, T>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if let Some((_, answerable)) = &self.injected {
            if !*answerable {
                let (f, _) = self.injected.take()?;
                return Some((
                    QueueRxToken::Injected(f),
                    QueueTxToken::Discard(&mut self.st.stats),
                ));
            }
            // Its reply goes out on our queue: reserve the buffer first, as for our frames.
            if !self.reserve() {
                return None;
            }
            let (f, _) = self.injected.take()?;
            return Some((
                QueueRxToken::Injected(f),
                QueueTxToken::Queue {
                    tx: &mut self.tx,
                    spare: &mut self.spare,
                    st: &mut self.st,
                },
            ));
        }
        // Reserve the reply's buffer first: without one we must not take the frame.
        if !self.reserve() {
            return None;
        }
        let frame = self.pop()?;
        self.st.stats.rx_frames += 1;
        Some((
            QueueRxToken::Queue {
                rx: &mut self.rx,
                frame: Some(frame),
            },
            QueueTxToken::Queue {
                tx: &mut self.tx,
                spare: &mut self.spare,
                st: &mut self.st,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        if !self.reserve() {
            return None;
        }
        // With TSO any data segment may be a large frame: no token without a large buffer
        // (all are in the device's hands only briefly; the connection is polled again).
        if self.st.tso_max.is_some() && self.st.spare_large.is_none() {
            self.st.spare_large = Some(self.tx.alloc_large()?);
        }
        Some(QueueTxToken::Queue {
            tx: &mut self.tx,
            spare: &mut self.spare,
            st: &mut self.st,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = ETHERNET_MTU;
        caps.max_burst_size = Some(BURST);
        // Received checksums stay in software: smoltcp cannot take per-frame RX verdicts. A
        // queue that completes TCP checksums gets them zero from smoltcp; the token writes the
        // pseudo-header sum smoltcp does not leave behind (`offload`).
        if self.st.csum_offload {
            caps.checksum.tcp = Checksum::Rx;
        }
        // TSO for IPv4 only: smoltcp drops an IPv6 packet over the MTU rather than hand it to
        // the device (it has no IPv6 fragmentation and does not exempt segmentation there).
        caps.segmentation.tcpv4 = self.st.tso_max.and_then(core::num::NonZeroUsize::new);
        caps
    }
}

/// A received frame, read in place; its buffer goes back to the queue afterwards.
pub enum QueueRxToken<'a, R: RxQueue> {
    /// A frame in an RX buffer of the queue.
    Queue {
        /// The queue holding it.
        rx: &'a mut R,
        /// The frame; `None` once given back.
        frame: Option<RxFrame>,
    },
    /// A frame handed over by another core.
    Injected(InjectedFrame),
}

impl<R: RxQueue> phy::RxToken for QueueRxToken<'_, R> {
    fn consume<Ret, F>(mut self, f: F) -> Ret
    where
        F: FnOnce(&[u8]) -> Ret,
    {
        match &mut self {
            QueueRxToken::Queue { rx, frame } => match frame.take() {
                Some(fr) => {
                    let r = f(rx.frame(&fr));
                    rx.release(fr);
                    r
                }
                // Unreachable by construction (the frame is only taken here).
                None => f(&[]),
            },
            QueueRxToken::Injected(buf) => f(buf),
        }
    }
}

impl<R: RxQueue> Drop for QueueRxToken<'_, R> {
    fn drop(&mut self) {
        if let QueueRxToken::Queue { rx, frame } = self
            && let Some(fr) = frame.take()
        {
            rx.release(fr);
        }
    }
}

/// Permission to build one frame directly in a reserved TX buffer.
pub enum QueueTxToken<'a, T: TxQueue> {
    /// The frame goes to the queue's reserved buffer.
    Queue {
        /// The queue.
        tx: &'a mut T,
        /// The reserved buffer (always `Some` while the token lives).
        spare: &'a mut Option<TxSlot>,
        /// Counters, the last TCP segment's range, the ICMP rate limit.
        st: &'a mut TxState,
    },
    /// A reply to an injected frame: built in scratch and dropped.
    Discard(&'a mut DeviceStats),
}

impl<T: TxQueue> phy::TxToken for QueueTxToken<'_, T> {
    fn set_meta(&mut self, meta: smoltcp::phy::PacketMeta) {
        if let QueueTxToken::Queue { st, .. } = self {
            st.gso = meta
                .segmentation_offload_size
                .map(core::num::NonZeroU16::get);
        }
    }

    fn consume<Ret, F>(self, len: usize, f: F) -> Ret
    where
        F: FnOnce(&mut [u8]) -> Ret,
    {
        let (tx, spare, st) = match self {
            QueueTxToken::Queue { tx, spare, st } => (tx, spare, st),
            QueueTxToken::Discard(_) => return f(&mut alloc::vec![0u8; len]),
        };
        let Some(slot) = spare.take() else {
            // Unreachable by construction (a token exists only with a spare); stay total.
            st.stats.tx_oversize += 1;
            return f(&mut alloc::vec![0u8; len]);
        };
        let gso = st.gso.take();
        let mut slot = slot;
        if len > tx.buffer(&slot).len() {
            // A frame to segment goes to the reserved large buffer (a transmit token always
            // has one with TSO); the small one stays reserved for the next token.
            match st.spare_large.take() {
                Some(big) if len <= tx.buffer(&big).len() => {
                    *spare = Some(core::mem::replace(&mut slot, big));
                }
                big => {
                    // smoltcp honours our MTU and TSO size, so this is a bug upstream (or a
                    // reply token, which never carries data); never fail the token.
                    st.spare_large = big;
                    *spare = Some(slot);
                    st.stats.tx_oversize += 1;
                    return f(&mut alloc::vec![0u8; len]);
                }
            }
        }
        let buf = tx.buffer(&slot);
        let r = f(&mut buf[..len]);
        if st.icmp.over(&buf[..len]) {
            tx.cancel(slot);
            return r;
        }
        if let Some(seg) = tcp_sequence(&buf[..len]) {
            st.last_tcp = Some(seg);
        }
        let offload = if st.csum_offload {
            offload::tcp_offload(&mut buf[..len], gso).unwrap_or_default()
        } else {
            Offload::default()
        };
        tx.submit(slot, len, offload);
        st.stats.tx_frames += 1;
        r
    }
}

/// An ICMPv4 echo reply, destination unreachable, time exceeded or parameter problem, or an
/// ICMPv6 error (types 1-4) or echo reply: what the stack sends in answer to others' traffic.
/// NDP and our own requests are not limited.
fn limited_icmp(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        Some([0x08, 0x00]) => {
            let Some(ip) = frame.get(14..34) else {
                return false;
            };
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            ip[9] == 1 && matches!(frame.get(14 + ihl), Some(0 | 3 | 11 | 12))
        }
        Some([0x86, 0xdd]) => {
            frame.get(20) == Some(&58) && matches!(frame.get(54), Some(1..=4 | 129))
        }
        _ => false,
    }
}

/// Sequence number and sequence space of an Ethernet/IPv4/TCP frame, if it is one.
fn tcp_sequence(frame: &[u8]) -> Option<(u32, u32)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    if ip.len() < 20 || ip[9] != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = ip.get(ihl..total.min(ip.len()))?;
    let hdr = tcp.get(..14)?;
    let doff = usize::from(hdr[12] >> 4) * 4;
    let payload = tcp.len().checked_sub(doff)? as u32;
    let flags = hdr[13];
    let seq = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
    Some((
        seq,
        payload + u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0),
    ))
}

pub mod offload;
#[cfg(test)]
mod tests;
