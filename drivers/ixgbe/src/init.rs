//! Device bring-up following the 82599 datasheet's initialization sequence (section 4.6.3),
//! or the 82576's (section 4.5) for [`Family::I82576`].
//!
//! Order, with the 82599 datasheet sections: mask interrupts (4.6.3.1), global reset and wait
//! (4.6.3.2), EEPROM auto-read and DMA init done (4.6.3), link setup (4.6.4), statistics
//! reset (4.6.5), receive (4.6.7, per queue 4.6.7.1), RSS (4.6.10.1), transmit (4.6.8, per
//! queue 4.6.8.1), queue enables. The 82576 runs the same order with its own reset, link and
//! global receive/transmit steps ([`crate::igb`]); queue, ring, buffer and RSS programming is
//! shared, at the offsets [`Family`] gives. Every wait is bounded; the time comes from the
//! caller's [`Delay`].

use alloc::vec::Vec;

use corenet_nic::steering::TABLE_LEN;
use corenet_nic::{DmaAllocator, QueuePair, RssConfig};

use crate::config::{Config, ConfigError, InitError, LinkSpeed, LinkStatus, check_rss};
use crate::delay::{Delay, wait_for};
use crate::desc::DESC_SIZE;
use crate::dma::{BufPool, DescRing, DmaMem};
use crate::family::{Family, block};
use crate::igb;
use crate::mmio::RegisterAccess;
use crate::regs::*;
use crate::rx::{BUF_SIZE, IxgbeRx};
use crate::stats::HwStats;
use crate::tx::IxgbeTx;

/// One core's queue pair.
pub type IxgbePair<R> = QueuePair<IxgbeRx<R>, IxgbeTx<R>>;

/// The device after init: link state, MAC address and statistics. The queues were handed out
/// by [`Ixgbe::init`].
#[derive(Debug)]
pub struct Ixgbe<R: RegisterAccess> {
    regs: R,
    family: Family,
    queues: u16,
    stats: HwStats,
}

// Budgets in microseconds. The datasheet asks to wait ~1 ms after setting CTRL.RST before
// touching the device (4.6.3.2); the rest are generous bounds on steps that take micro- to
// milliseconds on real parts.
const RESET_SETTLE_US: u32 = 1_000;
const RESET_BUDGET_US: u32 = 10_000;
const EEPROM_BUDGET_US: u32 = 50_000;
const DMA_INIT_BUDGET_US: u32 = 50_000;
const QUEUE_ENABLE_BUDGET_US: u32 = 10_000;
const POLL_US: u32 = 100;
const LINK_POLL_US: u32 = 10_000;

impl<R: RegisterAccess> Ixgbe<R> {
    /// Resets and brings up the device behind `regs` with `config.queues` queue pairs, each
    /// owning its rings and buffers from `dma`. Returns the device and the queue pairs, index
    /// `i` being hardware queue `i`. A link still down after `config.link_wait_us` is not an
    /// error: see [`Ixgbe::link`].
    pub fn init(
        regs: R,
        config: &Config,
        dma: &mut impl DmaAllocator,
        delay: &mut impl Delay,
    ) -> Result<(Self, Vec<IxgbePair<R>>), InitError> {
        config.check().map_err(InitError::Config)?;
        let mut dev = Self {
            regs,
            family: config.family,
            queues: config.queues,
            stats: HwStats::default(),
        };
        match dev.family {
            Family::X82599 => {
                dev.reset(delay)?;
                dev.setup_link();
            }
            Family::I82576 => {
                let step = |e| match e {
                    igb::StepError::Reset => InitError::ResetTimeout,
                    igb::StepError::Phy => InitError::PhyTimeout,
                };
                igb::reset(&dev.regs, delay).map_err(step)?;
                igb::setup_link(&dev.regs, delay).map_err(step)?;
            }
        }
        // 4.6.5: the statistics registers clear on read; one read starts them from zero.
        dev.stats.accumulate(&dev.regs, dev.family, config.queues);
        dev.stats = HwStats::default();
        let rxs = dev.setup_rx(config, dma, delay)?;
        let txs = dev.setup_tx(config, dma, delay)?;
        let pairs = rxs
            .into_iter()
            .zip(txs)
            .map(|(rx, tx)| IxgbePair { rx, tx })
            .collect();
        // CTRL_EXT and its DRV_LOAD bit are at the same place on both.
        dev.regs.set_bits(CTRL_EXT, CTRL_EXT_DRV_LOAD);
        wait_for(delay, config.link_wait_us, LINK_POLL_US, || dev.link().up);
        Ok((dev, pairs))
    }

    /// 4.6.3.1-4.6.3.2 and 4.6.3: mask interrupts, global reset, wait for the EEPROM and DMA.
    fn reset(&self, delay: &mut impl Delay) -> Result<(), InitError> {
        let r = &self.regs;
        r.write32(EIMC, EIMC_ALL);
        r.write32(CTRL, r.read32(CTRL) | CTRL_RST | CTRL_LRST);
        delay.delay_us(RESET_SETTLE_US);
        if !wait_for(delay, RESET_BUDGET_US, POLL_US, || {
            r.read32(CTRL) & CTRL_RST == 0
        }) {
            return Err(InitError::ResetTimeout);
        }
        // Reset unmasks nothing, but the datasheet masks again after it (4.6.3.1).
        r.write32(EIMC, EIMC_ALL);
        if !wait_for(delay, EEPROM_BUDGET_US, POLL_US, || {
            r.read32(EEC) & EEC_ARD != 0
        }) {
            return Err(InitError::EepromTimeout);
        }
        if !wait_for(delay, DMA_INIT_BUDGET_US, POLL_US, || {
            r.read32(RDRXCTL) & RDRXCTL_DMAIDONE != 0
        }) {
            return Err(InitError::DmaInitTimeout);
        }
        Ok(())
    }

    /// 4.6.4: 10 Gb/s serial link mode, XAUI PMA/PMD, restart auto-negotiation. The link comes
    /// up in the background; LINKS reports it.
    fn setup_link(&self) {
        let autoc = self.regs.read32(AUTOC);
        let autoc = (autoc & !(AUTOC_LMS_MASK | AUTOC_10G_PMA_PMD_MASK)) | AUTOC_LMS_10G_SERIAL;
        self.regs.write32(AUTOC, autoc | AUTOC_AN_RESTART);
    }

    /// 4.6.7: global receive setup, RSS (4.6.10.1), then each queue (4.6.7.1).
    fn setup_rx(
        &self,
        config: &Config,
        dma: &mut impl DmaAllocator,
        delay: &mut impl Delay,
    ) -> Result<Vec<IxgbeRx<R>>, InitError> {
        let r = &self.regs;
        let fam = self.family;
        if fam == Family::I82576 {
            igb::rx_disable(r);
        } else {
            r.clear_bits(RXCTRL, RXCTRL_RXEN);
            // CRC stripping must be set in both places (8.2.3.8.8).
            r.set_bits(HLREG0, HLREG0_RXCRCSTRP);
            r.set_bits(RDRXCTL, RDRXCTL_CRCSTRIP | RDRXCTL_RSCACKC_FCOE_WRFIX);
            // Multicast is accepted too: IPv6 Neighbor Discovery arrives on solicited-node
            // and all-nodes groups (33:33:...), and the stack filters by IP address.
            // (Programming the multicast table array for exactly those groups would be
            // tighter.)
            let mut fctrl = r.read32(FCTRL) | FCTRL_BAM | FCTRL_MPE;
            if config.promiscuous {
                fctrl |= FCTRL_UPE;
            }
            r.write32(FCTRL, fctrl);
            // The device reads descriptors and buffers without snooping otherwise on some
            // platforms; corenet's DMA memory is ordinary cached RAM (ixy does the same).
            r.set_bits(CTRL_EXT, CTRL_EXT_NS_DIS);
        }
        self.setup_rss(&config.rss);

        let size = config.rx_ring_size;
        let mut queues = Vec::with_capacity(config.queues as usize);
        for q in 0..config.queues {
            let oom = InitError::OutOfDmaMemory { queue: q };
            let ring = dma.alloc_dma(size as usize * DESC_SIZE, 128).ok_or(oom)?;
            let bufs = dma.alloc_dma(size as usize * BUF_SIZE, 128).ok_or(oom)?;
            let base = ring.phys;
            let bad = InitError::BadDmaRegion { queue: q };
            let ring = DescRing::new(DmaMem::new(ring), size).ok_or(bad)?;
            let bufs = BufPool::new(DmaMem::new(bufs), size).ok_or(bad)?;
            let b = fam.rx_block(q);
            r.write32(b + block::BAL, base as u32);
            r.write32(b + block::BAH, (base >> 32) as u32);
            r.write32(b + block::LEN, (size as usize * DESC_SIZE) as u32);
            // BSIZEPACKET in 1 KB units and DESCTYPE are at the same bits on both devices.
            r.write32(
                fam.srrctl(q),
                SRRCTL_DESCTYPE_ADV_ONEBUF | (BUF_SIZE / 1024) as u32 | fam.srrctl_drop_en(),
            );
            r.write32(b + block::HEAD, 0);
            r.write32(b + block::TAIL, 0);
            let rx = IxgbeRx::new(r.clone(), (q, b + block::TAIL), ring, bufs, size);
            queues.push(rx);
        }
        match fam {
            Family::X82599 => r.set_bits(RXCTRL, RXCTRL_RXEN),
            Family::I82576 => igb::rx_enable(r, config.promiscuous),
        }
        for (q, rx) in (0..).zip(queues.iter_mut()) {
            let dctl = fam.rx_block(q) + block::DCTL;
            r.set_bits(dctl, DCTL_ENABLE);
            if !wait_for(delay, QUEUE_ENABLE_BUDGET_US, POLL_US, || {
                r.read32(dctl) & DCTL_ENABLE != 0
            }) {
                return Err(InitError::RxEnableTimeout { queue: q });
            }
            // 4.6.7.1: bump the tail only once the queue is enabled.
            rx.refill();
        }
        Ok(queues)
    }

    /// 4.6.10.1: MRQC (RSS over IPv4, TCP/IPv4, UDP/IPv4 and the same for IPv6), RSSRK,
    /// 128-entry RETA.
    fn setup_rss(&self, rss: &RssConfig) {
        let (r, fam) = (&self.regs, self.family);
        for (i, k) in rss.key.chunks_exact(4).enumerate() {
            r.write32(
                fam.rssrk(i as u16),
                u32::from_le_bytes([k[0], k[1], k[2], k[3]]),
            );
        }
        for i in 0..TABLE_LEN / 4 {
            let e = |j: usize| u32::from(rss.table[4 * i + j]) & 0xF;
            r.write32(
                fam.reta(i as u16),
                e(0) | e(1) << 8 | e(2) << 16 | e(3) << 24,
            );
        }
        // The write-back carries the RSS hash only when the fragment checksum is off (same
        // register and bit on the 82576, where RSS is off without it).
        r.set_bits(RXCSUM, RXCSUM_PCSD);
        r.write32(fam.mrqc(), fam.mrqc_rss());
    }

    /// 4.6.8: CRC and padding, single-queue-set transmit mode, each ring, DMA transmit
    /// enable, then each queue (4.6.8.1).
    fn setup_tx(
        &self,
        config: &Config,
        dma: &mut impl DmaAllocator,
        delay: &mut impl Delay,
    ) -> Result<Vec<IxgbeTx<R>>, InitError> {
        let (r, fam) = (&self.regs, self.family);
        if fam == Family::X82599 {
            r.set_bits(HLREG0, HLREG0_TXCRCEN | HLREG0_TXPADEN);
            // MTQC may only change with the descriptor arbiter off (4.6.11.3.4); 0 = no
            // DCB/VT.
            r.set_bits(RTTDCS, RTTDCS_ARBDIS);
            r.write32(MTQC, 0);
            r.clear_bits(RTTDCS, RTTDCS_ARBDIS);
        }

        let size = config.tx_ring_size;
        let mut queues = Vec::with_capacity(config.queues as usize);
        for q in 0..config.queues {
            let oom = InitError::OutOfDmaMemory { queue: q };
            // The head write-back word sits right after the descriptors.
            let ring = dma
                .alloc_dma(size as usize * DESC_SIZE + 128, 128)
                .ok_or(oom)?;
            let bufs = dma.alloc_dma(size as usize * BUF_SIZE, 128).ok_or(oom)?;
            let base = ring.phys;
            let bad = InitError::BadDmaRegion { queue: q };
            let descs = DescRing::new(DmaMem::new(ring), size).ok_or(bad)?;
            let bufs = BufPool::new(DmaMem::new(bufs), size).ok_or(bad)?;
            let b = fam.tx_block(q);
            let tx = IxgbeTx::new(r.clone(), (q, b + block::TAIL), descs, bufs, size);
            r.write32(b + block::BAL, base as u32);
            r.write32(b + block::BAH, (base >> 32) as u32);
            r.write32(b + block::LEN, (size as usize * DESC_SIZE) as u32);
            r.write32(b + block::HEAD, 0);
            r.write32(b + block::TAIL, 0);
            let wb = tx.head_wb_phys();
            r.write32(b + block::WBAL, wb as u32 | TDWBAL_HEAD_WB_EN);
            r.write32(b + block::WBAH, (wb >> 32) as u32);
            // 82599: prefetch when 36 descriptors are free in the on-chip cache and 8 are
            // waiting in host memory (the values Intel's drivers use); write back
            // immediately. The 82576's fields are narrower (6 bits): its defaults stand.
            if fam == Family::X82599 {
                r.write32(
                    b + block::DCTL,
                    36 << TXDCTL_PTHRESH_SHIFT | 8 << TXDCTL_HTHRESH_SHIFT,
                );
            }
            queues.push(tx);
        }
        match fam {
            Family::X82599 => r.set_bits(DMATXCTL, DMATXCTL_TE),
            Family::I82576 => igb::tx_enable(r),
        }
        for q in 0..config.queues {
            let dctl = fam.tx_block(q) + block::DCTL;
            r.set_bits(dctl, DCTL_ENABLE);
            if !wait_for(delay, QUEUE_ENABLE_BUDGET_US, POLL_US, || {
                r.read32(dctl) & DCTL_ENABLE != 0
            }) {
                return Err(InitError::TxEnableTimeout { queue: q });
            }
        }
        Ok(queues)
    }

    /// Re-programs the RSS key and indirection table at run time (e.g. when the stack moves
    /// flows between cores). The queue count cannot change.
    pub fn set_rss(&mut self, rss: &RssConfig) -> Result<(), ConfigError> {
        check_rss(rss, self.queues)?;
        self.setup_rss(rss);
        Ok(())
    }

    /// Current link state (LINKS); link loss is reported here, never waited on.
    pub fn link(&self) -> LinkStatus {
        if self.family == Family::I82576 {
            let (up, speed) = igb::link(&self.regs);
            return LinkStatus { up, speed };
        }
        let links = self.regs.read32(LINKS);
        let speed = match links & LINKS_SPEED_MASK {
            LINKS_SPEED_10G => LinkSpeed::G10,
            LINKS_SPEED_1G => LinkSpeed::G1,
            LINKS_SPEED_100M => LinkSpeed::M100,
            _ => LinkSpeed::Unknown,
        };
        LinkStatus {
            up: links & LINKS_UP != 0,
            speed,
        }
    }

    /// The MAC address the EEPROM loaded into receive address 0 (RAL0/RAH0), if valid.
    pub fn mac_address(&self) -> Option<[u8; 6]> {
        let (ral, rah) = self.family.ral0_rah0();
        let lo = self.regs.read32(ral).to_le_bytes();
        let hi = self.regs.read32(rah);
        let hb = hi.to_le_bytes();
        (hi & RAH_AV != 0).then_some([lo[0], lo[1], lo[2], lo[3], hb[0], hb[1]])
    }

    /// Reads the statistics registers and returns the totals since init.
    pub fn stats(&mut self) -> &HwStats {
        self.stats.accumulate(&self.regs, self.family, self.queues);
        &self.stats
    }

    /// Which device this is.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Number of queue pairs brought up.
    pub fn queues(&self) -> u16 {
        self.queues
    }

    /// The register accessor (for diagnostics and tests).
    pub fn regs(&self) -> &R {
        &self.regs
    }
}
