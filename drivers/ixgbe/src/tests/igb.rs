//! The 82576 (igb) init sequence against a small register file that behaves as the 82576
//! datasheet (and QEMU's model) do where the sequence waits: CTRL.RST self-clears, MDIC
//! completes, the PHY's auto-negotiation brings STATUS.LU up. What it checks: the registers left
//! behind are the 82576's, no 82599-only register is written, and every wait that never ends
//! is a typed error. The data path is the 82599 code, tested against the model elsewhere.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::vec::Vec;

use corenet_nic::RssConfig;

use crate::family::Family;
use crate::igb::*;
use crate::model::{Model82599, ModelParams};
use crate::{Config, ConfigError, InitError, Ixgbe, LinkSpeed, RegisterAccess};

#[derive(Debug, Default)]
struct Regs {
    values: BTreeMap<u32, u32>,
    writes: Vec<u32>,
    /// CTRL.RST never clears.
    stuck_reset: bool,
    /// MDIC reports an error.
    phy_error: bool,
}

#[derive(Debug, Clone, Default)]
struct Fake82576(Rc<RefCell<Regs>>);

impl Fake82576 {
    fn peek(&self, off: u32) -> u32 {
        self.0.borrow().values.get(&off).copied().unwrap_or(0)
    }
    fn written(&self, off: u32) -> bool {
        self.0.borrow().writes.contains(&off)
    }
}

impl RegisterAccess for Fake82576 {
    fn read32(&self, off: u32) -> u32 {
        self.peek(off)
    }

    fn write32(&self, off: u32, value: u32) {
        let mut r = self.0.borrow_mut();
        r.writes.push(off);
        let value = match off {
            CTRL if !r.stuck_reset => value & !CTRL_RST,
            MDIC => {
                // The PHY write restarting auto-negotiation completes and the link comes up.
                if !r.phy_error && value & PHY_CTRL_AUTONEG_RESTART != 0 {
                    r.values.insert(STATUS, STATUS_LU | (0b10 << 6));
                }
                value | MDIC_READY | if r.phy_error { MDIC_ERROR } else { 0 }
            }
            _ => value,
        };
        r.values.insert(off, value);
    }
}

fn init(fake: &Fake82576, queues: u16) -> Result<Ixgbe<Fake82576>, InitError> {
    // Host memory for rings and buffers comes from the 82599 model's allocator.
    let model = Model82599::new(ModelParams::default());
    let mut cfg = Config::new(RssConfig::new(queues as usize).unwrap());
    cfg.family = Family::I82576;
    cfg.rx_ring_size = 64;
    cfg.tx_ring_size = 64;
    cfg.link_wait_us = 1_000;
    let mut delay = |_us: u32| {};
    Ixgbe::init(fake.clone(), &cfg, &mut model.allocator(), &mut delay).map(|(dev, _)| dev)
}

#[test]
fn init_programs_the_82576_registers_and_no_82599_one() {
    let fake = Fake82576::default();
    let dev = init(&fake, 4).expect("init succeeds");
    assert_eq!(dev.family(), Family::I82576);
    let rctl = fake.peek(RCTL);
    assert_eq!(
        rctl & (RCTL_EN | RCTL_BAM | RCTL_MPE | RCTL_SECRC),
        RCTL_EN | RCTL_BAM | RCTL_MPE | RCTL_SECRC
    );
    assert_eq!(rctl & RCTL_UPE, 0);
    assert_ne!(fake.peek(TCTL) & TCTL_EN, 0);
    assert_ne!(fake.peek(CTRL) & CTRL_SLU, 0);
    assert_eq!(fake.peek(MRQC) & 0b111, MRQC_ENABLE_RSS);
    assert_ne!(fake.peek(MRQC) & MRQC_RSS_TCP_IPV6_EX, 0);
    for q in 0..4u32 {
        let rx = RX_QUEUE_BASE + 0x40 * q;
        let tx = TX_QUEUE_BASE + 0x40 * q;
        assert_eq!(fake.peek(rx + 0x08), 64 * 16, "RDLEN {q}");
        let srrctl = fake.peek(rx + 0x0C);
        assert_eq!(srrctl & 0x7F, 2, "2 KB buffers");
        assert_ne!(srrctl & SRRCTL_DROP_EN, 0);
        assert_eq!(fake.peek(rx + 0x18), 63, "every buffer but one posted");
        assert_ne!(fake.peek(rx + 0x28) & (1 << 25), 0, "RXDCTL.ENABLE");
        assert_ne!(fake.peek(tx + 0x28) & (1 << 25), 0, "TXDCTL.ENABLE");
        assert_ne!(fake.peek(tx + 0x38) & 1, 0, "head write-back on");
    }
    // RETA spreads the 4 queues; RSSRK holds the key little-endian.
    let reta: Vec<u32> = (0..32).map(|i| fake.peek(RETA + 4 * i)).collect();
    assert!(reta.iter().any(|&w| w & 0xF == 3 || w >> 24 == 3));
    let key = RssConfig::new(4).unwrap().key;
    assert_eq!(
        fake.peek(RSSRK),
        u32::from_le_bytes([key[0], key[1], key[2], key[3]])
    );
    // The 82599's receive/transmit enables, MRQC, queue blocks and AUTOC were never written.
    for off in [
        0x03000, 0x04A80, 0x0EC80, 0x01000, 0x06000, 0x042A0, 0x05080,
    ] {
        assert!(!fake.written(off), "82599 register {off:#x} written");
    }
    let link = dev.link();
    assert!(link.up);
    assert_eq!(link.speed, LinkSpeed::G1);
}

#[test]
fn a_reset_that_never_ends_is_a_typed_error() {
    let fake = Fake82576::default();
    fake.0.borrow_mut().stuck_reset = true;
    assert_eq!(init(&fake, 1).err(), Some(InitError::ResetTimeout));
}

#[test]
fn a_phy_access_error_is_a_typed_error() {
    let fake = Fake82576::default();
    fake.0.borrow_mut().phy_error = true;
    assert_eq!(init(&fake, 1).err(), Some(InitError::PhyTimeout));
}

#[test]
fn more_queues_than_82576_rss_reaches_are_refused_untouched() {
    let fake = Fake82576::default();
    assert_eq!(
        init(&fake, 9).err(),
        Some(InitError::Config(ConfigError::BadQueueCount(9)))
    );
    assert!(fake.0.borrow().writes.is_empty());
}

#[test]
fn a_link_that_stays_down_is_reported_not_fatal() {
    // STATUS.LU never set (e.g. no cable): init still succeeds after its bounded wait.
    #[derive(Debug, Clone, Default)]
    struct NoLink(Fake82576);
    impl RegisterAccess for NoLink {
        fn read32(&self, off: u32) -> u32 {
            if off == STATUS { 0 } else { self.0.read32(off) }
        }
        fn write32(&self, off: u32, value: u32) {
            self.0.write32(off, value)
        }
    }
    let model = Model82599::new(ModelParams::default());
    let mut cfg = Config::new(RssConfig::new(2).unwrap());
    cfg.family = Family::I82576;
    cfg.rx_ring_size = 64;
    cfg.tx_ring_size = 64;
    let mut slept = 0u64;
    let mut delay = |us: u32| slept += u64::from(us);
    let (dev, pairs) = Ixgbe::init(NoLink::default(), &cfg, &mut model.allocator(), &mut delay)
        .expect("init succeeds without link");
    assert_eq!(pairs.len(), 2);
    assert!(!dev.link().up);
    assert!(
        slept >= u64::from(cfg.link_wait_us),
        "the link wait is bounded, and was waited"
    );
}

#[test]
fn msix_programs_the_82576_interrupt_registers_and_no_82599_one() {
    let model = Model82599::new(ModelParams::default());
    let mut cfg = Config::new(RssConfig::new(2).unwrap());
    cfg.family = Family::I82576;
    (cfg.rx_ring_size, cfg.tx_ring_size, cfg.link_wait_us) = (64, 64, 1_000);
    let fake = Fake82576::default();
    let mut delay = |_us: u32| {};
    let (mut dev, mut pairs) =
        Ixgbe::init(fake.clone(), &cfg, &mut model.allocator(), &mut delay).unwrap();
    // The 82599 model stands in for configuration space and the table (same layout).
    let mut config = model.config();
    let cap = crate::msix::find(&config).unwrap();
    let message = |k: u16| crate::Message {
        address: 0xFEE0_0000 | u64::from(k) << 12,
        data: 0x22,
    };
    dev.enable_msix(&mut pairs, &mut config, &cap, &model.msix_table(), &message)
        .unwrap();
    assert_eq!(
        fake.peek(GPIE) & 0x8000_0010,
        0x8000_0010,
        "MSI-X mode, PBA"
    );
    assert_eq!(fake.peek(IVAR0) & 0xFF, 0x80, "queue 0 -> vector 0");
    assert_eq!(fake.peek(IVAR0 + 4) & 0xFF, 0x81, "queue 1 -> vector 1");
    assert_eq!(fake.peek(EIAC) & 3, 3);
    assert_eq!(fake.peek(EITR + 4), 0);
    for off in [
        0x00800, 0x00810, 0x00880, 0x00898, 0x00900, 0x00820, 0x00AA0, 0x00AB0,
    ] {
        assert!(!fake.written(off), "82599 register {off:#x} written");
    }
    // Arming writes EICR (clear) then EIMS at the 82576's offsets; disarming EIMC.
    assert_eq!(pairs[1].rx.enable_interrupt(), Some(false));
    assert_eq!(fake.peek(EIMS), 0b10);
    pairs[1].rx.disable_interrupt();
    assert_eq!(fake.peek(EIMC), 0b10);
}
