//! Bringing up a virtio-net device (3.1.1, 5.1.5) and splitting it into per-core queue pairs.
#![allow(unsafe_code)]

use crate::big::BigBuffers;
use crate::buffers::{BUF_SIZE, Buffers};
use crate::ctrl::{self, CtrlError, CtrlQueue};
use crate::doorbell::{DoorbellError, NotifyMap};
use crate::features::{self, FeatureWish, Features};
use crate::ring::{MAX_QUEUE_SIZE, Ring};
use crate::{VirtioRx, VirtioTx};
use corenet_nic::steering::TABLE_LEN;
use corenet_nic::{DmaAllocator, DmaRegion, QueuePair, RssConfig};
use virtio_drivers::transport::{DeviceStatus, DeviceType, Transport};

/// Most queue pairs one device is split into (one per core).
pub const MAX_PAIRS: usize = 16;

/// Device config offsets (5.1.4).
const CFG_MAC: usize = 0;
const CFG_STATUS: usize = 6;
const CFG_MAX_PAIRS: usize = 8;
const CFG_RSS_MAX_KEY: usize = 17;
const CFG_RSS_MAX_TABLE: usize = 18;
const CFG_HASH_TYPES: usize = 20;
/// `VIRTIO_NET_S_LINK_UP` (5.1.4).
const S_LINK_UP: u16 = 1;

/// Where each queue's rings and buffers come from.
///
/// Every `DmaAllocator` is one (all queues from the same pool). The kernel implements it over
/// its per-core hugepage pools so that pair `k`'s memory is local to core `k`.
pub trait QueueDma {
    /// `len` bytes aligned to `align` for queue pair `pair` (`None`: the control queue).
    fn alloc_queue_dma(&mut self, pair: Option<u16>, len: usize, align: usize)
    -> Option<DmaRegion>;
}

impl<A: DmaAllocator> QueueDma for A {
    fn alloc_queue_dma(
        &mut self,
        _pair: Option<u16>,
        len: usize,
        align: usize,
    ) -> Option<DmaRegion> {
        self.alloc_dma(len, align)
    }
}

/// What the caller wants from the device.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Steering: its `queues` is the number of queue pairs wanted (one per core), its key and
    /// table are programmed with RSS.
    pub rss: RssConfig,
    /// Entries per data queue (rounded down to a power of two, capped by the device and by
    /// [`MAX_QUEUE_SIZE`]).
    pub queue_size: u16,
    /// Optional features.
    pub wish: FeatureWish,
    /// Polls of the used ring before a control command or a reset times out.
    pub spins: u32,
}

impl NetConfig {
    /// `queues` pairs, as many entries as the device offers up to [`MAX_QUEUE_SIZE`] (1024: a
    /// longer receive ring absorbs longer bursts, e.g. 10 000 connections opening at once),
    /// every feature, a generous spin budget.
    pub fn new(rss: RssConfig) -> Self {
        Self {
            rss,
            queue_size: MAX_QUEUE_SIZE as u16,
            wish: FeatureWish::default(),
            spins: 1_000_000,
        }
    }
}

/// How received frames reach their core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steering {
    /// The device applies our [`RssConfig`]: the stack's prediction holds.
    Rss,
    /// Several queues, steered by the device's own policy (no RSS): not predictable.
    Device,
    /// One queue: the receiving core distributes frames itself ([`crate::steer`]).
    Software,
}

/// Errors from [`VirtioNet::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// Not a network device.
    NotNetwork(DeviceType),
    /// The device did not read back status 0 after reset.
    ResetTimeout,
    /// No VIRTIO_F_VERSION_1, or a legacy-layout transport: legacy devices are unsupported.
    Legacy,
    /// The device cleared FEATURES_OK: it refused our feature subset.
    FeaturesRejected,
    /// A queue we need has size 0 or is already in use.
    QueueUnavailable(u16),
    /// The DMA allocator ran out.
    OutOfDmaMemory,
    /// A doorbell could not be located.
    Doorbell(DoorbellError),
    /// Enabling the queue pairs failed.
    Ctrl(CtrlError),
}

/// One queue pair, `receiveq(k)` and `transmitq(k)`, to be moved to its core.
pub type VirtioPair = QueuePair<VirtioRx, VirtioTx>;

/// The device-wide part: the transport, the control queue, the negotiated state. Owned by the
/// core that manages the device; the data path never touches it.
#[derive(Debug)]
pub struct VirtioNet<T: Transport> {
    transport: T,
    features: Features,
    mac: [u8; 6],
    steering: Steering,
    ctrl: Option<CtrlQueue>,
    ctrl_index: u16,
    hash_types: u32,
    rss: Option<RssConfig>,
}

fn queue_size<T: Transport>(t: &mut T, q: u16, want: u16) -> Result<u16, InitError> {
    if t.queue_used(q) {
        return Err(InitError::QueueUnavailable(q));
    }
    let max = t
        .max_queue_size(q)
        .min(u32::from(want))
        .min(MAX_QUEUE_SIZE as u32);
    if max == 0 {
        return Err(InitError::QueueUnavailable(q));
    }
    // Round down to a power of two (2.7: split queue sizes are powers of two).
    Ok(1 << (31 - max.leading_zeros()))
}

fn new_ring<T: Transport, N: NotifyMap<T>, A: QueueDma>(
    t: &mut T,
    notify: &mut N,
    dma: &mut A,
    pair: Option<u16>,
    q: u16,
    size: u16,
    event_idx: bool,
) -> Result<Ring, InitError> {
    let region = dma
        .alloc_queue_dma(pair, Ring::bytes(size), 4096)
        .ok_or(InitError::OutOfDmaMemory)?;
    if region.len < Ring::bytes(size) {
        return Err(InitError::OutOfDmaMemory);
    }
    let bell = notify.doorbell(t, q).map_err(InitError::Doorbell)?;
    // SAFETY: fresh, zeroed, page-aligned region from the allocator, long enough (checked).
    let ring = unsafe { Ring::new(region, size, event_idx, bell) };
    let (d, a, u) = ring.phys_parts();
    t.queue_set(q, u32::from(size), d, a, u);
    Ok(ring)
}

fn new_buffers<A: QueueDma>(
    dma: &mut A,
    pair: Option<u16>,
    count: u16,
) -> Result<Buffers, InitError> {
    let len = usize::from(count) * BUF_SIZE;
    let region = dma
        .alloc_queue_dma(pair, len, 4096)
        .ok_or(InitError::OutOfDmaMemory)?;
    if region.len < len {
        return Err(InitError::OutOfDmaMemory);
    }
    // SAFETY: fresh, zeroed region from the allocator, long enough (checked).
    Ok(unsafe { Buffers::new(region, count) })
}

/// The large transmit buffers of a queue that segments; `None` when the memory is not there
/// (the queue then sends MTU-sized frames only, as without TSO).
fn big_buffers<A: QueueDma>(dma: &mut A, pair: Option<u16>, hdr: usize) -> Option<BigBuffers> {
    let region = dma.alloc_queue_dma(pair, BigBuffers::BYTES, 4096)?;
    if region.len < BigBuffers::BYTES {
        return None;
    }
    // SAFETY: fresh, zeroed region from the allocator, long enough (checked).
    Some(unsafe { BigBuffers::new(region, hdr) })
}

impl<T: Transport> VirtioNet<T> {
    /// Initializes the device (3.1.1) and returns it with `min(wanted, device's)` queue pairs.
    ///
    /// `transport` is any virtio-drivers transport (`PciTransport`, `MmioTransport`, ...);
    /// `notify` computes each queue's doorbell; rings and buffers come from `dma` (any
    /// `DmaAllocator`, or a [`QueueDma`] that serves each pair from its core's pool).
    pub fn new<N: NotifyMap<T>, A: QueueDma>(
        mut transport: T,
        mut notify: N,
        dma: &mut A,
        cfg: &NetConfig,
    ) -> Result<(Self, heapless::Vec<VirtioPair, MAX_PAIRS>), InitError> {
        let t = &mut transport;
        if t.device_type() != DeviceType::Network {
            return Err(InitError::NotNetwork(t.device_type()));
        }
        // 3.1.1 step 1: reset, and wait (bounded) for it to complete (4.1.4.3.2).
        t.set_status(DeviceStatus::empty());
        let mut spins = cfg.spins;
        while t.get_status() != DeviceStatus::empty() {
            spins = spins.checked_sub(1).ok_or(InitError::ResetTimeout)?;
            core::hint::spin_loop();
        }
        // Steps 2-3.
        t.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER);
        // Step 4: features; the config may be read (not written) before FEATURES_OK.
        let offered = Features::from_bits_retain(t.read_device_features());
        if !offered.contains(Features::VERSION_1) || t.requires_legacy_layout() {
            t.set_status(DeviceStatus::FAILED);
            return Err(InitError::Legacy);
        }
        let mut f = features::negotiate(offered, cfg.wish);
        let max_pairs = if f.contains(Features::MQ) {
            // Untrusted: keep `2 * max_pairs` (the control queue's index) within u16.
            t.read_config_space::<u16>(CFG_MAX_PAIRS)
                .unwrap_or(1)
                .clamp(1, 0x7fff)
        } else {
            1
        };
        let mut hash_types = 0;
        if f.contains(Features::RSS) {
            let key = t.read_config_space::<u8>(CFG_RSS_MAX_KEY).unwrap_or(0);
            let table = t.read_config_space::<u16>(CFG_RSS_MAX_TABLE).unwrap_or(0);
            hash_types =
                t.read_config_space::<u32>(CFG_HASH_TYPES).unwrap_or(0) & ctrl::HASH_TYPES_L3_L4;
            if usize::from(key) < cfg.rss.key.len()
                || usize::from(table) < TABLE_LEN
                || hash_types == 0
            {
                // Cannot program our key/table: fall back to the device's steering.
                f -= Features::RSS | Features::HASH_REPORT;
            }
        }
        // Steps 5-6: FEATURES_OK, and check that it stuck.
        t.write_driver_features(f.bits());
        t.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER | DeviceStatus::FEATURES_OK);
        if !t.get_status().contains(DeviceStatus::FEATURES_OK) {
            t.set_status(DeviceStatus::FAILED);
            return Err(InitError::FeaturesRejected);
        }
        let mut mac = [0u8; 6];
        if f.contains(Features::MAC) {
            for (i, b) in mac.iter_mut().enumerate() {
                *b = t.read_config_space::<u8>(CFG_MAC + i).unwrap_or(0);
            }
        }
        let pairs = usize::from(cfg.rss.queues.min(max_pairs)).clamp(1, MAX_PAIRS) as u16;
        let event_idx = f.contains(Features::EVENT_IDX);
        let mut out = heapless::Vec::new();
        // Step 7: virtqueues. receiveq(k) = 2k, transmitq(k) = 2k+1 (5.1.2).
        let r = (|| {
            for k in 0..pairs {
                let (rq, tq) = (2 * k, 2 * k + 1);
                let rs = queue_size(t, rq, cfg.queue_size)?;
                let rx_ring = new_ring(t, &mut notify, dma, Some(k), rq, rs, event_idx)?;
                let rx_bufs = new_buffers(dma, Some(k), rs)?;
                let ts = queue_size(t, tq, cfg.queue_size)?;
                let tx_ring = new_ring(t, &mut notify, dma, Some(k), tq, ts, event_idx)?;
                let tx_bufs = new_buffers(dma, Some(k), ts)?;
                let big = if f.contains(Features::HOST_TSO4) {
                    big_buffers(dma, Some(k), features::header_len(f))
                } else {
                    None
                };
                let _ = out.push(VirtioPair {
                    rx: VirtioRx::new(rx_ring, rx_bufs, f, k),
                    tx: VirtioTx::new(tx_ring, tx_bufs, f, k, big),
                });
            }
            // controlq follows the last possible pair (5.1.2).
            let ctrl_index = if f.contains(Features::MQ) {
                2 * max_pairs
            } else {
                2
            };
            let ctrl = if f.contains(Features::CTRL_VQ) {
                let size = queue_size(t, ctrl_index, 16)?;
                if size < 4 {
                    return Err(InitError::QueueUnavailable(ctrl_index));
                }
                let ring = new_ring(t, &mut notify, dma, None, ctrl_index, size, false)?;
                Some(CtrlQueue::new(ring, new_buffers(dma, None, 1)?, cfg.spins))
            } else {
                None
            };
            Ok((ctrl, ctrl_index))
        })();
        let (ctrl, ctrl_index) = match r {
            Ok(v) => v,
            Err(e) => {
                t.set_status(DeviceStatus::FAILED);
                return Err(e);
            }
        };
        // Step 8: DRIVER_OK, then tell each receive queue about its pre-posted buffers.
        t.finish_init();
        for p in out.iter_mut() {
            p.rx.start();
        }
        let mut dev = Self {
            transport,
            features: f,
            mac,
            steering: Steering::Software,
            ctrl,
            ctrl_index,
            hash_types,
            rss: None,
        };
        dev.steering = dev.enable_pairs(pairs, &cfg.rss).map_err(InitError::Ctrl)?;
        Ok((dev, out))
    }

    /// Enables `pairs` queue pairs: RSS with our table when negotiated (falling back to plain
    /// MQ if the device rejects it), else VQ_PAIRS_SET (5.1.6.5.5-7).
    fn enable_pairs(&mut self, pairs: u16, rss: &RssConfig) -> Result<Steering, CtrlError> {
        if self.features.contains(Features::RSS) {
            let mut table = rss.clone();
            // The table must only name queues that exist.
            for e in table.table.iter_mut() {
                *e %= pairs;
            }
            table.queues = pairs;
            match self.command(
                ctrl::CLASS_MQ,
                ctrl::MQ_RSS_CONFIG,
                &ctrl::rss_config(&table, self.hash_types),
            ) {
                Ok(()) => {
                    self.rss = Some(table);
                    return Ok(Steering::Rss);
                }
                Err(CtrlError::Rejected) => {}
                Err(e) => return Err(e),
            }
        }
        if self.features.contains(Features::MQ) && pairs > 1 {
            self.command(
                ctrl::CLASS_MQ,
                ctrl::MQ_VQ_PAIRS_SET,
                &ctrl::vq_pairs_set(pairs),
            )?;
            return Ok(Steering::Device);
        }
        Ok(if pairs > 1 {
            Steering::Device
        } else {
            Steering::Software
        })
    }

    /// Sends one control command and waits (bounded) for the device's ack.
    pub fn command(&mut self, class: u8, cmd: u8, data: &[u8]) -> Result<(), CtrlError> {
        let q = self.ctrl_index;
        let t = &mut self.transport;
        match self.ctrl.as_mut() {
            Some(c) => c.exec(class, cmd, data, || t.notify(q)),
            None => Err(CtrlError::Rejected),
        }
    }

    /// The steering configuration the device was programmed with (`Steering::Rss` only).
    ///
    /// Equal to `NetConfig::rss` unless the device has fewer queue pairs than asked for: then
    /// the table is folded onto the pairs that exist. The stack must predict with this one.
    pub fn rss(&self) -> Option<&RssConfig> {
        self.rss.as_ref()
    }

    /// Negotiated feature bits.
    pub fn features(&self) -> Features {
        self.features
    }

    /// The device's MAC address (zero without VIRTIO_NET_F_MAC).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// How frames are steered to queues.
    pub fn steering(&self) -> Steering {
        self.steering
    }

    /// Link state from the config `status` (always up without VIRTIO_NET_F_STATUS).
    pub fn link_up(&self) -> bool {
        if !self.features.contains(Features::STATUS) {
            return true;
        }
        self.transport
            .read_config_space::<u16>(CFG_STATUS)
            .map(|s| s & S_LINK_UP != 0)
            .unwrap_or(false)
    }

    /// The transport, e.g. for interrupt acknowledgement or reset.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }
}
