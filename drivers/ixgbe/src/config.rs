//! What to bring up ([`Config`]) and what can go wrong ([`ConfigError`], [`InitError`]), plus
//! the link state the device reports.

use corenet_nic::RssConfig;

use crate::family::Family;

/// What to bring up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which device (register map and init sequence); default the 82599.
    pub family: Family,
    /// Queue pairs (one per core); at most 16 on the 82599 (the RETA entries' reach), 8 on
    /// the 82576 ([`Family::max_queues`]).
    pub queues: u16,
    /// Receive descriptors per queue: a power of two from 8 to 4096.
    pub rx_ring_size: u16,
    /// Transmit descriptors per queue: a power of two from 8 to 4096.
    pub tx_ring_size: u16,
    /// Accept every unicast and multicast frame (FCTRL.UPE/MPE), not only our MAC.
    pub promiscuous: bool,
    /// RSS key and indirection table; its queue count must equal `queues`.
    pub rss: RssConfig,
    /// How long init waits for the link before returning with it down (not an error).
    pub link_wait_us: u32,
}

impl Config {
    /// `rss.queues` queue pairs of 512 descriptors each, broadcast on, not promiscuous,
    /// waiting up to one second for the link.
    pub fn new(rss: RssConfig) -> Self {
        Self {
            family: Family::X82599,
            queues: rss.queues,
            rx_ring_size: 512,
            tx_ring_size: 512,
            promiscuous: false,
            rss,
            link_wait_us: 1_000_000,
        }
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.queues == 0 || self.queues > self.family.max_queues() {
            return Err(ConfigError::BadQueueCount(self.queues));
        }
        for size in [self.rx_ring_size, self.tx_ring_size] {
            // RDLEN/TDLEN must be multiples of 128 bytes (8 descriptors); a power of two lets
            // the ring index wrap with a mask.
            if !size.is_power_of_two() || !(8..=4096).contains(&size) {
                return Err(ConfigError::BadRingSize(size));
            }
        }
        check_rss(&self.rss, self.queues)
    }
}

pub(crate) fn check_rss(rss: &RssConfig, queues: u16) -> Result<(), ConfigError> {
    if rss.queues != queues {
        return Err(ConfigError::RssQueueMismatch);
    }
    if let Some(&q) = rss.table.iter().find(|&&q| q >= queues) {
        return Err(ConfigError::TableEntryOutOfRange(q));
    }
    Ok(())
}

/// Why a [`Config`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// Zero queues or more than the device's RSS reaches (16 on the 82599, 8 on the 82576).
    BadQueueCount(u16),
    /// Not a power of two in 8..=4096.
    BadRingSize(u16),
    /// `rss.queues` differs from `queues`.
    RssQueueMismatch,
    /// An indirection table entry names a queue that does not exist.
    TableEntryOutOfRange(u16),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadQueueCount(n) => {
                write!(f, "{n} queues: zero or more than the device's RSS reaches")
            }
            Self::BadRingSize(n) => write!(f, "ring size {n} is not a power of two in 8..=4096"),
            Self::RssQueueMismatch => {
                f.write_str("the RSS configuration's queue count differs from the NIC's")
            }
            Self::TableEntryOutOfRange(q) => {
                write!(f, "indirection table names queue {q}, which does not exist")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// Why [`Ixgbe::init`](crate::Ixgbe::init) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// The configuration is invalid; nothing was touched.
    Config(ConfigError),
    /// CTRL.RST did not clear (82599 4.6.3.2, 82576 4.5.1).
    ResetTimeout,
    /// EEC.ARD (82576: EECD.AUTO_RD) never set: the EEPROM auto-read did not finish.
    EepromTimeout,
    /// RDRXCTL.DMAIDONE never set (4.6.3).
    DmaInitTimeout,
    /// 82576: the PHY write restarting auto-negotiation did not complete (MDIC.R) or failed
    /// (MDIC.E).
    PhyTimeout,
    /// The DMA allocator ran out for this queue's ring or buffers.
    OutOfDmaMemory {
        /// The queue being set up.
        queue: u16,
    },
    /// The allocator returned a region too small or not 16-byte aligned.
    BadDmaRegion {
        /// The queue being set up.
        queue: u16,
    },
    /// RXDCTL.ENABLE did not read back as set (4.6.7.1).
    RxEnableTimeout {
        /// The queue being enabled.
        queue: u16,
    },
    /// TXDCTL.ENABLE did not read back as set (4.6.8.1).
    TxEnableTimeout {
        /// The queue being enabled.
        queue: u16,
    },
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Config(e) => write!(f, "configuration refused: {e}"),
            Self::ResetTimeout => f.write_str("CTRL.RST did not clear"),
            Self::EepromTimeout => f.write_str("EEPROM auto-read did not finish (EEC.ARD)"),
            Self::DmaInitTimeout => {
                f.write_str("DMA initialisation did not finish (RDRXCTL.DMAIDONE)")
            }
            Self::PhyTimeout => f.write_str("the PHY access through MDIC did not complete"),
            Self::OutOfDmaMemory { queue } => write!(f, "out of DMA memory for queue {queue}"),
            Self::BadDmaRegion { queue } => {
                write!(f, "DMA region for queue {queue} too small or misaligned")
            }
            Self::RxEnableTimeout { queue } => {
                write!(f, "RX queue {queue} did not enable (RXDCTL.ENABLE)")
            }
            Self::TxEnableTimeout { queue } => {
                write!(f, "TX queue {queue} did not enable (TXDCTL.ENABLE)")
            }
        }
    }
}

impl core::error::Error for InitError {}

/// Negotiated link speed (82599 LINKS.LINK_SPEED, 82576 STATUS.SPEED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSpeed {
    /// 10 Mb/s (82576 only).
    M10,
    /// 100 Mb/s.
    M100,
    /// 1 Gb/s.
    G1,
    /// 10 Gb/s.
    G10,
    /// Reserved encoding.
    Unknown,
}

/// Link state as LINKS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// LINKS.LINK_UP.
    pub up: bool,
    /// Speed; meaningful when `up`.
    pub speed: LinkSpeed,
}
