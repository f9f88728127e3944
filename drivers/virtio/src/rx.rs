//! The receive half of a queue pair: pre-posted buffers, validated zero-copy burst receive.

use crate::buffers::{BUF_SIZE, Buffers};
use crate::features::Features;
use crate::owners::Owners;
use crate::ring::{DESC_F_WRITE, MAX_QUEUE_SIZE, Ring};
use alloc::boxed::Box;
use corenet_nic::{QueueCounters, RxFrame, RxQueue};

/// `virtio_net_hdr.flags` (5.1.6): checksum left partial by a trusted local sender.
const HDR_F_NEEDS_CSUM: u8 = 1;
/// `virtio_net_hdr.flags` (5.1.6): the device validated the checksum.
const HDR_F_DATA_VALID: u8 = 2;

/// What `accept` decided about one used element.
enum Verdict {
    /// A valid frame: the buffer goes to the stack.
    Frame(RxFrame),
    /// Not a buffer the device holds (out of range, duplicate, never posted): skipped.
    NotHeld,
    /// The device's buffer, but a bad length or header: dropped, the buffer re-posted.
    Bad(u16),
}

/// A virtio-net receive queue (`receiveq`), owned by one core.
#[derive(Debug)]
pub struct VirtioRx {
    ring: Ring,
    bufs: Buffers,
    /// HASH_REPORT negotiated: the header carries `hash_value`/`hash_report` (20 bytes, else
    /// 12: `features::header_len`).
    hash_report: bool,
    /// GUEST_CSUM negotiated: the header's NEEDS_CSUM/DATA_VALID flags are meaningful.
    csum: bool,
    queue: u16,
    /// Who holds each buffer: the device (posted), the stack (handed out by `rx_burst`, not yet
    /// released), or nobody (dropped by the current burst, re-posted at its end).
    owners: Owners,
    /// Buffers dropped by the current burst (`Verdict::Bad`).
    rejected: Box<[u16; MAX_QUEUE_SIZE]>,
    /// Bursts in a row that found nothing: after [`IDLE_KICK`] of them the doorbell is rung
    /// once even if the suppression state says it is not needed (see `burst`).
    idle: u32,
    counters: QueueCounters,
}

/// Empty bursts between two unconditional receive doorbells.
///
/// QEMU 7.2 with `rss=on` but no eBPF steering (its software RSS) can leave a receive queue
/// stalled after an overload: a frame redirected from one queue's backend to another queue that
/// had no buffers waits on the first queue's backend, which is only flushed when *that* queue is
/// notified, and a queue with buffers to spare never notifies. Seen as a queue receiving nothing
/// after a 1 000-connection burst on 2 queues (tests/repro/burst-wedge.sh), and not with a
/// single queue or with `rss=off`. A doorbell costs one MMIO write; polling cores spin through
/// empty bursts far faster than this, so the cost is negligible and a stall lasts a few
/// milliseconds instead of forever.
pub const IDLE_KICK: u32 = 4096;

impl VirtioRx {
    /// Posts every buffer (publishing, without a doorbell: the device is not live yet).
    pub(crate) fn new(mut ring: Ring, mut bufs: Buffers, features: Features, queue: u16) -> Self {
        let size = ring.size();
        let mut owners = Owners::new();
        for id in 0..size {
            ring.write_desc(id, bufs.phys(id), BUF_SIZE as u32, DESC_F_WRITE, 0);
            ring.push_avail(id);
            owners.give_device(id);
        }
        bufs.set_header(crate::features::header_len(features));
        let mut rx = Self {
            ring,
            bufs,
            hash_report: features.contains(Features::HASH_REPORT),
            csum: features.contains(Features::GUEST_CSUM),
            queue,
            owners,
            rejected: Box::new([0; MAX_QUEUE_SIZE]),
            idle: 0,
            counters: QueueCounters::new(),
        };
        rx.ring.publish();
        rx
    }

    /// Entries of the queue (as negotiated with the device).
    pub fn size(&self) -> u16 {
        self.ring.size()
    }

    /// Rings the doorbell once after DRIVER_OK for the buffers posted in `new`.
    /// Enables this queue's receive interrupt (its MSI-X vector, see
    /// [`crate::msix`]) before the core halts; true when frames already wait.
    ///
    /// It also rings the doorbell, as [`IDLE_KICK`] empty bursts would: a halted core makes
    /// few bursts, and QEMU's software RSS flushes frames it parked for this queue only when
    /// the queue is notified (without this, a queue stayed empty after a 800-connection burst:
    /// `tests/qemu/idle.sh`, e2e `tap-wrk-exit-leaves-no-closed-connections`).
    pub fn enable_interrupt(&mut self) -> bool {
        self.idle = 0;
        self.ring.kick();
        self.counters.doorbells.inc();
        self.ring.enable_interrupt()
    }

    /// Back to polling: the device raises no receive interrupt.
    pub fn disable_interrupt(&mut self) {
        self.ring.disable_interrupt()
    }

    pub(crate) fn start(&mut self) {
        self.ring.kick();
        self.counters.doorbells.inc();
    }

    /// Gives buffer `id` back to the device: it goes into the available ring now, and becomes
    /// visible at the next burst's publish (one index store and at most one doorbell per burst).
    #[inline]
    fn repost(&mut self, id: u16) {
        self.owners.give_device(id);
        self.ring.push_avail(id);
    }

    /// [`RxQueue::rx_burst`] for one feature combination (see [`accept`]).
    #[inline(always)]
    fn burst<const HASH: bool, const CSUM: bool>(&mut self, out: &mut [RxFrame]) -> usize {
        if self.ring.publish() {
            self.counters.doorbells.inc();
        }
        let size = self.ring.size();
        let pending = self.ring.used_pending();
        // An index jump (more completions than buffers exist) is counted; harvest as usual: the
        // id checks reject every entry that is not a buffer the device really holds.
        let mut errors = u64::from(pending > size);
        let take = pending
            .min(size)
            .min(out.len().min(usize::from(size)) as u16);
        let first = self.ring.last_used();
        let mut n = 0;
        let mut bytes = 0u64;
        let mut bad = 0;
        // Disjoint borrows: the compiler then knows the owner updates do not change the ring's
        // or the buffers' fields (fewer reloads in the loop, measured).
        let (ring, owners, bufs, rejected) =
            (&self.ring, &mut self.owners, &self.bufs, &mut self.rejected);
        for k in 0..take {
            let e = ring.used_elem_at(first.wrapping_add(k));
            match accept::<HASH, CSUM>(owners, bufs, e.id, e.len) {
                Verdict::Frame(f) => {
                    // Always `Some`: `n <= k < take <= out.len()`.
                    if let Some(o) = out.get_mut(n) {
                        bytes += u64::from(f.len);
                        // Field by field: a whole-struct store merges padding bytes.
                        o.slot = f.slot;
                        o.len = f.len;
                        o.rss_hash = f.rss_hash;
                        o.csum_ok = f.csum_ok;
                        n += 1;
                    }
                }
                Verdict::NotHeld => errors += 1,
                Verdict::Bad(id) => {
                    errors += 1;
                    // Held by nobody until the burst ends, so a duplicate of this id later in
                    // the same burst is rejected too.
                    if let Some(r) = rejected.get_mut(bad) {
                        *r = id;
                        bad += 1;
                    }
                }
            }
        }
        self.ring.consume(take);
        for i in 0..bad {
            if let Some(&id) = self.rejected.get(i) {
                self.repost(id);
            }
        }
        // Counters once per burst, not per packet.
        if n > 0 {
            self.counters.packets.add(n as u64);
            self.counters.bytes.add(bytes);
            self.idle = 0;
        } else {
            self.idle += 1;
            if self.idle >= IDLE_KICK {
                self.idle = 0;
                self.ring.kick();
                self.counters.doorbells.inc();
            }
        }
        if errors > 0 {
            self.counters.errors.add(errors);
        }
        n
    }
}

/// Validates one used element. `HASH` (HASH_REPORT: 20-byte header, else 12) and `CSUM`
/// (GUEST_CSUM) are the negotiated features as constants, so the loop keeps fewer values in
/// registers. Both errors are counted by the caller.
#[inline(always)]
fn accept<const HASH: bool, const CSUM: bool>(
    owners: &mut Owners,
    bufs: &Buffers,
    id: u32,
    len: u32,
) -> Verdict {
    let hdr_len: u32 = if HASH { 20 } else { 12 };
    // One compare, range included (see `Owners`).
    if !owners.device_holds(id) {
        return Verdict::NotHeld;
    }
    let id = id as u16;
    // One compare for both bounds: below the header wraps to a huge value.
    let frame_len = len.wrapping_sub(hdr_len);
    if frame_len > BUF_SIZE as u32 - hdr_len {
        owners.give_nobody(id);
        return Verdict::Bad(id);
    }
    // num_buffers (5.1.6.4): we never negotiate MRG_RXBUF, so a frame is one buffer and
    // anything above 1 is bogus. QEMU (7.2, tap backend) leaves the field 0 when MRG_RXBUF is
    // off even with VERSION_1, as Linux's driver tolerates: accept 0 and 1.
    if bufs.hdr_u16::<10>(id) > 1 {
        owners.give_nobody(id);
        return Verdict::Bad(id);
    }
    owners.give_stack(id);
    let rss_hash = if HASH && bufs.hdr_u16::<16>(id) != 0 {
        Some(bufs.hdr_u32::<12>(id))
    } else {
        None
    };
    let csum_ok = CSUM && bufs.hdr_u8::<0>(id) & (HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID) != 0;
    Verdict::Frame(RxFrame {
        slot: id,
        len: frame_len as u16,
        rss_hash,
        csum_ok,
    })
}

impl RxQueue for VirtioRx {
    fn queue_index(&self) -> u16 {
        self.queue
    }

    fn rx_burst(&mut self, out: &mut [RxFrame]) -> usize {
        match (self.hash_report, self.csum) {
            (true, true) => self.burst::<true, true>(out),
            (true, false) => self.burst::<true, false>(out),
            (false, true) => self.burst::<false, true>(out),
            (false, false) => self.burst::<false, false>(out),
        }
    }

    fn frame(&self, frame: &RxFrame) -> &[u8] {
        if self.owners.stack_holds(frame.slot) {
            self.bufs.frame(frame.slot, usize::from(frame.len))
        } else {
            &[]
        }
    }

    fn release(&mut self, frame: RxFrame) {
        if self.owners.stack_holds(frame.slot) {
            self.repost(frame.slot);
        }
    }

    fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
