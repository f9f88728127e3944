//! The machine's NIC: found once, brought up once, one queue pair handed to each core.
//!
//! Core 0 calls [`bring_up`] from its `init`: it finds a virtio-net device (a PCI function
//! 1af4:1041/1000 on q35, or a `virtio_mmio.device=` entry on microvm) or, failing that, an
//! Intel 82599-family NIC (passed through with vfio-pci, or on bare metal) or an Intel 82576
//! (`igb`: QEMU 8.0+'s `-device igb`, same driver), brings up one queue pair per core with RSS
//! from a steering table of one queue per core, and publishes each pair for its core.
//! `nic=virtio`, `nic=ixgbe` or `nic=igb` on the command line picks one when several exist.
//! Every core then calls [`take_queues`] (which waits, bounded, for core 0) and owns its pair
//! from then on: the hand-over is explicit and happens once. Each pair's rings and buffers come
//! from hugepages carved for that pair; the device-wide part (control queue, link status)
//! stays with core 0 behind [`with_device`].

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use corenet_ixgbe::{Ixgbe, Mmio};
use corenet_kernel::Core;
use corenet_kernel::cpu::MAX_CORES;
use corenet_kernel::memory::dma::DmaPool;
use corenet_kernel::memory::spare::carve_pool;
use corenet_kernel::pci::{ConfigAccess, scan};
use corenet_nic::{DmaAllocator, DmaRegion, RssConfig, TxQueue};
use corenet_virtio::features::Features;
use corenet_virtio::hal::{GlobalDma, IdentityHal};
use corenet_virtio::probe::{probe_mmio, probe_pci};
use corenet_virtio::virtio_drivers::transport::mmio::MmioTransport;
use corenet_virtio::virtio_drivers::transport::pci::PciTransport;
use corenet_virtio::virtio_drivers::transport::pci::bus::{
    ConfigurationAccess, DeviceFunction, PciRoot,
};
use corenet_virtio::{NetConfig, QueueDma, Steering, VirtioNet, VirtioPair};
use spin::{Mutex, Once};

/// DMA memory carved per queue pair: two rings and their 2 KiB buffers at the driver's largest
/// queue (1024 entries: 2 x (2 MiB + 26 KiB)) and, with TSO, the transmit queue's large
/// buffers (16 x 66 KiB), rounded up to the 2 MiB the carver works in. A device offering 256
/// entries (QEMU's default) uses a quarter of the rings' share.
const PAIR_DMA: u64 = 6 << 20;
const _: () = assert!(
    2 * (corenet_virtio::MAX_QUEUE_SIZE * (corenet_virtio::BUF_SIZE + 26) + 3 * 4096)
        + corenet_virtio::TSO_BUFS as usize * corenet_virtio::BIG_BUF_SIZE
        <= PAIR_DMA as usize,
    "a queue pair at the largest queue size must fit its DMA pool"
);

/// What was brought up.
#[derive(Debug, Clone)]
pub struct NicInfo {
    /// Station address.
    pub mac: [u8; 6],
    /// Queue pairs in use (at most one per core).
    pub pairs: usize,
    /// How frames reach their core.
    pub steering: Steering,
    /// The steering table programmed into the device (predict with this one), if RSS.
    pub rss: Option<RssConfig>,
    /// `"virtio-pci"`, `"virtio-mmio"`, `"ixgbe"` or `"igb"`.
    pub transport: &'static str,
}

/// Why no NIC is available.
#[derive(Debug, Clone)]
pub enum NicError {
    /// No virtio-net device was found.
    NotFound,
    /// Out of memory for rings and buffers.
    OutOfMemory,
    /// The device could not be brought up (driver error, printed).
    Device(heapless::String<96>),
    /// Core 0 did not finish bring-up in time.
    Timeout,
}

impl core::fmt::Display for NicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotFound => f.write_str(
                "no network device (virtio-net on PCI or MMIO, or an Intel 82599) was found",
            ),
            Self::OutOfMemory => f.write_str("out of memory for the NIC's rings and buffers"),
            Self::Device(e) => write!(f, "the NIC did not come up: {e}"),
            Self::Timeout => f.write_str("core 0 did not finish bringing up the NIC in time"),
        }
    }
}

impl core::error::Error for NicError {}

enum Device {
    Pci(VirtioNet<PciTransport>),
    Mmio(VirtioNet<MmioTransport<'static>>),
    Ixgbe(Ixgbe<Mmio>),
}

/// One core's queue pair, of whichever driver.
#[allow(
    clippy::large_enum_variant,
    reason = "moved once, at start-up, to its core; never on the packet path"
)]
pub enum NicPair {
    /// virtio-net.
    Virtio(VirtioPair),
    /// Intel 82599.
    Ixgbe(corenet_ixgbe::IxgbePair<Mmio>),
}

// SAFETY: the device-wide part is only used by whichever core holds the mutex; the transports
// wrap MMIO pointers into identity-mapped device memory that is valid on every core.
unsafe impl Send for Device {}

static DEVICE: Mutex<Option<Device>> = Mutex::new(None);
static PAIRS: [Mutex<Option<NicPair>>; MAX_CORES] = [const { Mutex::new(None) }; MAX_CORES];
static INFO: Once<Result<NicInfo, NicError>> = Once::new();
static STATE: AtomicU8 = AtomicU8::new(0);
/// Set when every virtio-pci receive queue raises an MSI-X interrupt on its core.
static RX_MSIX: AtomicBool = AtomicBool::new(false);
/// The register block of a single-queue virtio-mmio NIC whose interrupt line is routed to
/// its owner (core 0) through the I/O APIC; 0 when there is none.
static RX_MMIO_IRQ_BASE: AtomicU64 = AtomicU64::new(0);

/// virtio-mmio register offsets (virtio 1.x, 4.2.2): interrupt status and acknowledge.
const MMIO_INTERRUPT_STATUS: u64 = 0x060;
const MMIO_INTERRUPT_ACK: u64 = 0x064;

/// Whether receive queues can interrupt (wake) their core: virtio-pci with MSI-X, or a
/// single-queue virtio-mmio NIC through the I/O APIC, set up when `idle=` is not `poll`. The
/// Intel NICs' queues carry their own MSI-X vector (see `IxgbeRx::has_interrupt`). A
/// multi-queue virtio-mmio NIC (one line for every queue) is polled only (a halted core that
/// reads one wakes every `network::NIC_POLL_NS`).
pub fn rx_interrupts() -> bool {
    RX_MSIX.load(Ordering::Acquire) || RX_MMIO_IRQ_BASE.load(Ordering::Acquire) != 0
}

/// Lowers a virtio-mmio NIC's interrupt line (acknowledges every pending cause) before its
/// owner arms the receive queue's notifications again, so that the next notification is a new
/// rising edge at the edge-triggered I/O APIC pin. No-op without such a NIC.
pub fn ack_rx_interrupt() {
    let base = RX_MMIO_IRQ_BASE.load(Ordering::Acquire);
    if base == 0 {
        return;
    }
    // SAFETY: `base` is the register block the command line announced and `probe_mmio`
    // brought up, identity mapped as device memory; InterruptStatus and InterruptACK are
    // 32-bit registers inside it, and only the queue's owner (core 0) reaches this.
    unsafe {
        let status = ((base + MMIO_INTERRUPT_STATUS) as *const u32).read_volatile();
        if status != 0 {
            ((base + MMIO_INTERRUPT_ACK) as *mut u32).write_volatile(status);
        }
    }
}

/// `nic_irq=off` on the command line: no receive interrupt is set up (halted cores look at
/// their queues every `network::NIC_POLL_NS`), to measure what the interrupts save and to
/// exercise the fallback of a NIC without them.
static RX_IRQ_OFF: AtomicBool = AtomicBool::new(false);

/// Whether to set up receive interrupts: a core may halt (`idle=` is not `poll`) and
/// `nic_irq=off` was not given.
fn rx_irq_wanted() -> bool {
    corenet_kernel::machine::machine().config.idle != corenet_kernel::idle::IdlePolicy::Poll
        && !RX_IRQ_OFF.load(Ordering::Relaxed)
}

/// Routes a single-queue virtio-mmio NIC's interrupt line to core 0 (its queue's owner).
fn enable_mmio_rx_interrupt(dev: &corenet_virtio::cmdline::MmioDevice, pairs: usize) {
    if !rx_irq_wanted() {
        return;
    }
    if pairs != 1 {
        log::warn!(
            "nic: virtio-mmio with {pairs} queue pairs shares one interrupt line: idle cores poll the NIC"
        );
        return;
    }
    let dest = corenet_kernel::cpu::percpu(0)
        .apic_id
        .load(Ordering::Relaxed);
    match corenet_kernel::cpu::ioapic::route(dev.irq, corenet_kernel::cpu::wake::VECTOR_NIC, dest) {
        Ok(()) => RX_MMIO_IRQ_BASE.store(dev.base, Ordering::Release),
        Err(e) => log::warn!(
            "nic: no receive interrupt (virtio-mmio line {}: {e}): idle cores poll the NIC",
            dev.irq
        ),
    }
}

/// A kernel DMA pool as a `corenet_nic::DmaAllocator`.
struct Pool(DmaPool);

impl DmaAllocator for Pool {
    fn alloc_dma(&mut self, len: usize, align: usize) -> Option<DmaRegion> {
        let c = self.0.alloc(len, align)?;
        Some(DmaRegion {
            virt: c.virt,
            phys: c.phys,
            len: c.len,
        })
    }
}

/// Memory per queue pair (and the control queue), carved lazily from hugepages.
struct PairDma {
    pools: heapless::Vec<Option<Pool>, { MAX_CORES + 1 }>,
}

impl QueueDma for PairDma {
    fn alloc_queue_dma(
        &mut self,
        pair: Option<u16>,
        len: usize,
        align: usize,
    ) -> Option<DmaRegion> {
        let i = pair.map_or(MAX_CORES, usize::from);
        while self.pools.len() <= i {
            self.pools.push(None).ok()?;
        }
        let slot = self.pools.get_mut(i)?;
        if slot.is_none() {
            *slot = Some(Pool(carve_pool(PAIR_DMA.max(len as u64))?));
        }
        slot.as_mut()?.alloc_dma(len, align)
    }
}

/// `Hal` memory for virtio-drivers' PCI transport set-up.
struct HalPool;
static HAL_POOL: Mutex<Option<Pool>> = Mutex::new(None);

impl GlobalDma for HalPool {
    fn with<R>(f: impl FnOnce(&mut dyn DmaAllocator) -> R) -> R {
        let mut g = HAL_POOL.lock();
        if g.is_none() {
            *g = carve_pool(2 << 20).map(Pool);
        }
        match g.as_mut() {
            Some(p) => f(p),
            None => f(&mut Pool(DmaPool::empty())),
        }
    }
}

/// The kernel's configuration access for virtio-drivers' PCI code.
#[derive(Clone, Copy)]
struct KernelCam(ConfigAccess);

impl ConfigurationAccess for KernelCam {
    fn read_word(&self, df: DeviceFunction, off: u8) -> u32 {
        self.0
            .read32(df.bus, df.device, df.function, u16::from(off))
    }

    fn write_word(&mut self, df: DeviceFunction, off: u8, data: u32) {
        self.0
            .write32(df.bus, df.device, df.function, u16::from(off), data);
    }

    unsafe fn unsafe_clone(&self) -> Self {
        *self
    }
}

fn device_error(what: &str, e: &dyn core::fmt::Debug) -> NicError {
    let mut s = heapless::String::new();
    let _ = core::fmt::write(&mut s, format_args!("{what}: {e:?}"));
    NicError::Device(s)
}

fn publish<T: corenet_virtio::virtio_drivers::transport::Transport>(
    net: &VirtioNet<T>,
    pairs: heapless::Vec<VirtioPair, { corenet_virtio::MAX_PAIRS }>,
    transport: &'static str,
) -> NicInfo {
    let n = pairs.len();
    if let Some(p) = pairs.first() {
        // What the device granted (qemu-run.sh --ring asks QEMU for up to 1024).
        log::info!(
            "nic: virtio queues of {} receive / {} transmit entries",
            p.rx.size(),
            p.tx.size()
        );
        // Transmit offloads in use: a tap offers them, user-mode and socket netdevs do not.
        let f = net.features();
        log::info!(
            "nic: virtio transmit checksum offload {}, TSO {}",
            if f.contains(Features::CSUM) {
                "on"
            } else {
                "off"
            },
            if p.tx.tso_max_frame().is_some() {
                "on"
            } else {
                "off"
            }
        );
    }
    for (i, p) in pairs.into_iter().enumerate() {
        *PAIRS[i].lock() = Some(NicPair::Virtio(p));
    }
    NicInfo {
        mac: net.mac(),
        pairs: n,
        steering: net.steering(),
        rss: net.rss().cloned(),
        transport,
    }
}

static RSS_KEY: Once<[u8; 40]> = Once::new();

/// The Toeplitz key every steering table of this boot uses (the NIC's RSS, or the software
/// distributor's), chosen once. `rsskey=random` (the default) draws it from the CPU's random
/// source (RDSEED, RDRAND, else TSC jitter), so a peer cannot choose the core its flows land
/// on; `rsskey=default` keeps the published Microsoft/Linux key, for reproducible benchmarks
/// and tests that predict steering from outside the guest. The key itself is never logged.
pub fn rss_key(core: &Core) -> [u8; 40] {
    *RSS_KEY.call_once(|| {
        let word = core.cmdline().get("rsskey");
        if word == Some("default") {
            log::info!("nic: RSS key: the published default (rsskey=default)");
            return corenet_nic::steering::DEFAULT_KEY;
        }
        if let Some(w) = word.filter(|&w| w != "random") {
            log::warn!("nic: rsskey={w} unknown (random|default): using a random key");
        }
        // One random key in 32 sends a client's 32 consecutive source ports (or 32 of one
        // parity) all to one of two cores (rss_spread): the 12 key bits per family those
        // ports' low bits meet are set so that they spread.
        // About one random key in a thousand leaves some table indexes unreachable by the
        // local port alone (active opens could then miss ports for some remotes): draw again.
        let draw = || {
            let mut key = [0u8; 40];
            for chunk in key.chunks_mut(8) {
                chunk.copy_from_slice(&core.seed().to_le_bytes());
            }
            corenet_net::rss_spread::make_ports_spread(&mut key);
            key
        };
        let good = |key: [u8; 40]| {
            corenet_net::rss_spread::spreads_consecutive_ports(&key)
                && RssConfig::with_key(key, 1)
                    .is_ok_and(|r| corenet_net::rss_ports::PortSolver::new(&r).full_rank())
        };
        let mut key = draw();
        for _ in 0..16 {
            if good(key) {
                break;
            }
            key = draw();
        }
        if !good(key) {
            log::warn!("nic: RSS key: no draw in 17 spreads a client's ports over every queue");
        }
        log::info!("nic: RSS key: random for this boot");
        key
    })
}

/// A command-line switch that defaults to on: `off` turns it off, anything but `on` is
/// reported and ignored.
fn on_off(core: &Core, key: &str) -> bool {
    match core.cmdline().get(key) {
        Some("off") => {
            log::info!("nic: {key}=off");
            false
        }
        Some("on") | None => true,
        Some(w) => {
            log::warn!("nic: {key}={w} unknown (on|off): on");
            true
        }
    }
}

fn find_and_probe(core: &Core) -> Result<NicInfo, NicError> {
    match core.cmdline().get("nic_irq") {
        Some("off") => {
            log::info!("nic: nic_irq=off: no receive interrupts, idle cores poll the NIC");
            RX_IRQ_OFF.store(true, Ordering::Relaxed);
        }
        Some("on") | None => {}
        Some(w) => log::warn!("nic: nic_irq={w} unknown (on|off): receive interrupts on"),
    }
    let rss = RssConfig::with_key(
        rss_key(core),
        core.count().min(corenet_nic::steering::TABLE_LEN),
    )
    .map_err(|e| device_error("steering", &e))?;
    let mut cfg = NetConfig::new(rss.clone());
    // No receive checksum offload: with GUEST_CSUM a device may deliver frames whose L4
    // checksum is only partial (virtio NEEDS_CSUM, e.g. from a Linux peer over a tap), and
    // smoltcp can only skip verification for all frames, not per frame. Without it, the device
    // completes every checksum before delivery and the stack verifies it.
    cfg.wish.rx_checksum = false;
    // Transmit offloads (virtio CSUM, HOST_TSO4) where the device offers them: the stack
    // leaves TCP checksums to the device and hands it segments of up to 64 KiB to cut.
    // `nic_csum=off` turns both off, `nic_tso=off` only segmentation.
    cfg.wish.tx_checksum = on_off(core, "nic_csum");
    cfg.wish.tso = cfg.wish.tx_checksum && on_off(core, "nic_tso");
    let mut dma = PairDma {
        pools: heapless::Vec::new(),
    };
    // microvm and Firecracker: the command line names the virtio-mmio register blocks.
    for dev in corenet_virtio::cmdline::devices(core.cmdline().0).flatten() {
        if let Some(r) = bring_up_virtio_mmio(&dev, &mut dma, &cfg) {
            return r;
        }
    }
    let access = ConfigAccess::detect(core.platform());
    let (mut virtio, mut intel) = (None, None);
    scan(&access, &mut |f| {
        let is_virtio =
            f.vendor == 0x1af4 && matches!(f.device_id, 0x1041 | 0x1000) && f.class == 0x02;
        if virtio.is_none() && is_virtio {
            virtio = Some(f);
        }
        let family = (f.vendor == corenet_ixgbe::pci::VENDOR_INTEL)
            .then(|| corenet_ixgbe::Family::of_device(f.device_id))
            .flatten();
        if intel.is_none()
            && let Some(family) = family
        {
            intel = Some((f, family));
        }
    });
    let wants_intel = matches!(core.cmdline().get("nic"), Some("ixgbe" | "igb"));
    if let Some((f, family)) = intel
        && (virtio.is_none() || wants_intel)
    {
        return bring_up_ixgbe(&access, &f, family, cfg.rss);
    }
    let f = virtio.ok_or(NicError::NotFound)?;
    bring_up_virtio_pci(access, &f, &mut dma, &cfg)
}

// The three bring-ups are separate frames (`inline(never)`): inlined into one, their queue
// pairs (held by value) and the drivers' init frames added up to one ~140 KiB frame, and core
// 0's stack overflowed (a double fault in nic-tests).

/// One virtio-mmio device named on the command line: `None` when it is not a network device.
#[inline(never)]
fn bring_up_virtio_mmio(
    dev: &corenet_virtio::cmdline::MmioDevice,
    dma: &mut PairDma,
    cfg: &NetConfig,
) -> Option<Result<NicInfo, NicError>> {
    // SAFETY: the loader (QEMU microvm, Firecracker) announced this register block on the
    // command line; it is device memory in the identity map and nothing else uses it.
    match unsafe { probe_mmio(dev, dma, cfg) } {
        Ok((net, pairs)) => {
            enable_mmio_rx_interrupt(dev, pairs.len());
            let info = publish(&net, pairs, "virtio-mmio");
            *DEVICE.lock() = Some(Device::Mmio(net));
            Some(Ok(info))
        }
        Err(corenet_virtio::probe::MmioProbeError::Init(
            corenet_virtio::InitError::NotNetwork(_),
        )) => None,
        Err(e) => Some(Err(device_error("virtio-mmio", &e))),
    }
}

/// The virtio-net PCI function `f`.
#[inline(never)]
fn bring_up_virtio_pci(
    access: ConfigAccess,
    f: &corenet_kernel::pci::PciFunction,
    dma: &mut PairDma,
    cfg: &NetConfig,
) -> Result<NicInfo, NicError> {
    let cam = KernelCam(access);
    let mut root = PciRoot::new(cam);
    let df = DeviceFunction {
        bus: f.bus,
        device: f.device,
        function: f.function,
    };
    let (net, pairs) = probe_pci::<IdentityHal<HalPool>, _, _>(&mut root, &cam, df, dma, cfg)
        .map_err(|e| device_error("virtio-pci", &e))?;
    let queues = pairs.len() as u16;
    let info = publish(&net, pairs, "virtio-pci");
    if rx_irq_wanted() {
        enable_rx_interrupts(&mut root, cam, df, queues);
    }
    *DEVICE.lock() = Some(Device::Pci(net));
    Ok(info)
}

/// Points receive queue k's MSI-X vector at core k (its owner, see [`take_queues`]). Not
/// inlined: the probe's frame is already large, and every core's stack is bounded.
#[inline(never)]
fn enable_rx_interrupts(
    root: &mut PciRoot<KernelCam>,
    mut cam: KernelCam,
    df: DeviceFunction,
    queues: u16,
) {
    let dest = |k: u16| {
        corenet_kernel::cpu::percpu(usize::from(k))
            .apic_id
            .load(Ordering::Relaxed)
    };
    match corenet_virtio::msix::enable_rx_msix::<IdentityHal<HalPool>, _>(
        root,
        &mut cam,
        df,
        queues,
        corenet_kernel::cpu::wake::VECTOR_NIC,
        &dest,
    ) {
        Ok(()) => RX_MSIX.store(true, Ordering::Release),
        Err(e) => log::warn!("nic: no receive interrupts ({e:?}): idle cores poll the NIC"),
    }
}

/// DMA memory for all of an 82599's queues (512-entry rings of 2 KiB buffers need ~2.2 MiB a
/// pair).
const IXGBE_DMA_PER_PAIR: u64 = 4 << 20;

/// Brings up an 82599-family NIC or an 82576: BAR0 mapped uncached, memory decoding and bus
/// mastering on, the datasheet's init sequence with waits on the TSC clock. The 82576's RSS
/// reaches 8 queues: on more cores its init refuses the configuration (a boot error).
#[inline(never)]
fn bring_up_ixgbe(
    access: &ConfigAccess,
    f: &corenet_kernel::pci::PciFunction,
    family: corenet_ixgbe::Family,
    rss: RssConfig,
) -> Result<NicInfo, NicError> {
    let name = match family {
        corenet_ixgbe::Family::X82599 => "ixgbe",
        corenet_ixgbe::Family::I82576 => "igb",
    };
    let bars = corenet_kernel::pci::memory_bars(access, f);
    let bar0 = bars
        .iter()
        .find(|b| b.index() == 0 && b.addr != 0)
        .copied()
        .ok_or_else(|| device_error(name, &"BAR0 unassigned"))?;
    corenet_kernel::memory::spare::map_mmio(bar0.addr, bar0.size)
        .map_err(|_| NicError::OutOfMemory)?;
    corenet_kernel::pci::enable_memory_and_bus_master(access, f);
    let base = core::ptr::NonNull::new(bar0.addr as *mut u8).ok_or(NicError::NotFound)?;
    // SAFETY: BAR0 of the function found above, now identity mapped uncached (device memory)
    // for its whole size and used by this driver alone.
    let regs =
        unsafe { Mmio::new(base, bar0.size as usize) }.map_err(|e| device_error(name, &e))?;
    let queues = u64::from(rss.queues);
    let mut dma = Pool(carve_pool(IXGBE_DMA_PER_PAIR * queues).ok_or(NicError::OutOfMemory)?);
    let mut config = corenet_ixgbe::Config::new(rss.clone());
    config.family = family;
    let mut delay = |us: u32| corenet_kernel::clock::delay_us(u64::from(us));
    let (mut dev, mut pairs) =
        Ixgbe::init(regs, &config, &mut dma, &mut delay).map_err(|e| device_error(name, &e))?;
    if rx_irq_wanted() {
        match enable_intel_msix(access, f, &bars, &mut dev, &mut pairs) {
            Ok(()) => log::info!(
                "nic: {name} receive interrupts: MSI-X, one vector per queue, each to its core"
            ),
            Err(e) => log::warn!(
                "nic: {name} has no receive interrupts ({e}): idle cores poll the NIC every {} us",
                crate::network::NIC_POLL_NS / 1000
            ),
        }
    }
    let n = pairs.len();
    for (i, p) in pairs.into_iter().enumerate() {
        *PAIRS[i].lock() = Some(NicPair::Ixgbe(p));
    }
    let info = NicInfo {
        mac: dev.mac_address().unwrap_or([0x02, 0, 0, 0, 0, 1]),
        pairs: n,
        steering: Steering::Rss,
        rss: Some(rss),
        transport: name,
    };
    log::info!(
        "nic: {} {:04x}:{:04x} at {:02x}:{:02x}.{}, link {:?}",
        family.name(),
        f.vendor,
        f.device_id,
        f.bus,
        f.device,
        f.function,
        dev.link()
    );
    *DEVICE.lock() = Some(Device::Ixgbe(dev));
    Ok(info)
}

/// A PCI function's configuration space for the Intel driver's MSI-X set-up.
struct FunctionConfig<'a>(&'a ConfigAccess, &'a corenet_kernel::pci::PciFunction);

impl corenet_ixgbe::ConfigSpace for FunctionConfig<'_> {
    fn read32(&self, off: u16) -> u32 {
        let f = self.1;
        self.0.read32(f.bus, f.device, f.function, off)
    }

    fn write32(&mut self, off: u16, value: u32) {
        let f = self.1;
        self.0.write32(f.bus, f.device, f.function, off, value);
    }
}

/// Points receive queue k's MSI-X vector at core k (its owner, see [`take_queues`]): finds
/// the capability, maps the table's BAR uncached and lets the driver program the rest. Not
/// inlined, like the bring-ups.
#[inline(never)]
fn enable_intel_msix(
    access: &ConfigAccess,
    f: &corenet_kernel::pci::PciFunction,
    bars: &[corenet_kernel::pci::Bar],
    dev: &mut Ixgbe<Mmio>,
    pairs: &mut [corenet_ixgbe::IxgbePair<Mmio>],
) -> Result<(), corenet_ixgbe::MsixError> {
    let mut cfg = FunctionConfig(access, f);
    let cap = corenet_ixgbe::msix::find(&cfg)?;
    let bar = bars
        .iter()
        .find(|b| b.index() == cap.table_bar && b.addr != 0)
        .ok_or(corenet_ixgbe::MsixError::BadBar(cap.table_bar))?;
    corenet_ixgbe::msix::check_table(&cap, bar.size)?;
    let table_addr = bar.addr + u64::from(cap.table_offset);
    corenet_kernel::memory::spare::map_mmio(bar.addr, bar.size)
        .map_err(|_| corenet_ixgbe::MsixError::BadBar(cap.table_bar))?;
    let base = core::ptr::NonNull::new(table_addr as *mut u8)
        .ok_or(corenet_ixgbe::MsixError::BadBar(cap.table_bar))?;
    // SAFETY: the table lies inside that BAR (checked above), which is now identity mapped
    // uncached; only this set-up writes it.
    let table = unsafe { Mmio::new_region(base, cap.table_bytes() as usize) }
        .map_err(|_| corenet_ixgbe::MsixError::BadBar(cap.table_bar))?;
    let message = |k: u16| {
        let apic = corenet_kernel::cpu::percpu(usize::from(k))
            .apic_id
            .load(Ordering::Relaxed);
        corenet_ixgbe::Message {
            address: u64::from(MSI_ADDRESS_BASE | ((apic & 0xff) << 12)),
            data: u32::from(corenet_kernel::cpu::wake::VECTOR_NIC),
        }
    };
    dev.enable_msix(pairs, &mut cfg, &cap, &table, &message)
}

/// The x86 MSI address window (SDM 10.11.1): destination APIC id in bits 12-19.
const MSI_ADDRESS_BASE: u32 = 0xfee0_0000;

/// Finds and brings up the NIC (core 0, from `init`); other cores wait in [`take_queues`].
pub fn bring_up(core: &Core) -> &'static Result<NicInfo, NicError> {
    let r = INFO.call_once(|| find_and_probe(core));
    STATE.store(1, Ordering::Release);
    match r {
        Ok(i) => log::info!(
            "nic: {} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {} queue pairs, steering {:?}",
            i.transport,
            i.mac[0],
            i.mac[1],
            i.mac[2],
            i.mac[3],
            i.mac[4],
            i.mac[5],
            i.pairs,
            i.steering
        ),
        Err(e) => log::warn!("nic: none brought up: {e:?}"),
    }
    r
}

/// The result of bring-up, once core 0 finished it (waits at most 60 s).
pub fn info(core: &Core) -> &'static Result<NicInfo, NicError> {
    let deadline = core.now_ns() + 60_000_000_000;
    while STATE.load(Ordering::Acquire) == 0 {
        if core.now_ns() > deadline {
            static TIMEOUT: Result<NicInfo, NicError> = Err(NicError::Timeout);
            return &TIMEOUT;
        }
        core::hint::spin_loop();
    }
    INFO.get().unwrap_or(&Err(NicError::Timeout))
}

/// This core's queue pair (once; `None` when the device has fewer pairs than cores or no NIC).
pub fn take_queues(core: &Core) -> Option<NicPair> {
    info(core).as_ref().ok()?;
    PAIRS.get(core.id())?.lock().take()
}

/// Runs `f` on the device-wide part (link status, control queue): slow path only.
pub fn with_device<R>(f: impl FnOnce(Option<&mut dyn DeviceControl>) -> R) -> R {
    let mut g = DEVICE.lock();
    match g.as_mut() {
        Some(Device::Pci(n)) => f(Some(n)),
        Some(Device::Mmio(n)) => f(Some(n)),
        Some(Device::Ixgbe(n)) => f(Some(n)),
        None => f(None),
    }
}

/// What the managing core can ask the device.
pub trait DeviceControl {
    /// Link status (true when the device has no STATUS feature).
    fn link_up(&self) -> bool;
}

impl DeviceControl for Ixgbe<Mmio> {
    fn link_up(&self) -> bool {
        self.link().up
    }
}

impl<T: corenet_virtio::virtio_drivers::transport::Transport> DeviceControl for VirtioNet<T> {
    fn link_up(&self) -> bool {
        VirtioNet::link_up(self)
    }
}
