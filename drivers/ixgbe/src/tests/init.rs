//! Init sequence: the registers it leaves behind, its timeouts, its refusals.

use corenet_nic::steering::DEFAULT_KEY;
use corenet_nic::{DmaAllocator, DmaRegion, RssConfig};

use super::*;
use crate::model::ModelParams;
use crate::regs::*;
use crate::{ConfigError, LinkSpeed, RegisterAccess};

#[test]
fn full_init_programs_the_datasheet_registers() {
    let (model, dev, pairs) = bring_up(4, 64);
    assert_eq!(pairs.len(), 4);
    assert_eq!(model.faults(), 0);
    assert_eq!(model.peek(EIMS), 0, "all interrupts masked");
    assert_eq!(model.peek(CTRL) & CTRL_RST, 0);
    assert_ne!(model.peek(RXCTRL) & RXCTRL_RXEN, 0);
    assert_ne!(model.peek(DMATXCTL) & DMATXCTL_TE, 0);
    assert_ne!(model.peek(HLREG0) & HLREG0_RXCRCSTRP, 0);
    assert_ne!(model.peek(RDRXCTL) & RDRXCTL_CRCSTRIP, 0);
    assert_ne!(model.peek(FCTRL) & FCTRL_BAM, 0);
    // IPv6 neighbor discovery needs multicast (solicited-node groups).
    assert_ne!(model.peek(FCTRL) & FCTRL_MPE, 0);
    for q in 0..4 {
        assert_eq!(model.peek(rdlen(q)), 64 * 16);
        assert_eq!(model.peek(tdlen(q)), 64 * 16);
        let srr = model.peek(srrctl(q));
        assert_eq!(srr & SRRCTL_DESCTYPE_MASK, SRRCTL_DESCTYPE_ADV_ONEBUF);
        assert_eq!(srr & SRRCTL_BSIZEPACKET_MASK, 2);
        assert_ne!(model.peek(rxdctl(q)) & DCTL_ENABLE, 0);
        assert_ne!(model.peek(txdctl(q)) & DCTL_ENABLE, 0);
        // Every buffer but one is posted: RDT one behind RDH.
        assert_eq!(model.peek(rdh(q)), 0);
        assert_eq!(model.peek(rdt(q)), 63);
        assert_ne!(model.peek(tdwbal(q)) & TDWBAL_HEAD_WB_EN, 0);
    }
    assert_eq!(
        model.peek(MRQC),
        MRQC_MRQE_RSS
            | MRQC_RSS_IPV4
            | MRQC_RSS_TCP_IPV4
            | MRQC_RSS_UDP_IPV4
            | MRQC_RSS_IPV6
            | MRQC_RSS_TCP_IPV6
            | MRQC_RSS_UDP_IPV6
    );
    assert_eq!(model.peek(rssrk(0)).to_le_bytes(), DEFAULT_KEY[0..4]);
    assert_eq!(model.peek(rssrk(9)).to_le_bytes(), DEFAULT_KEY[36..40]);
    // Round-robin over 4 queues: entry i = i % 4, one byte per entry.
    assert_eq!(model.peek(reta(0)), 0x0302_0100);
    assert_eq!(model.peek(reta(31)), 0x0302_0100);
    let link = dev.link();
    assert!(link.up);
    assert_eq!(link.speed, LinkSpeed::G10);
    assert_eq!(dev.mac_address(), Some(MAC));
}

#[test]
fn a_reset_that_never_finishes_is_a_typed_timeout() {
    let params = ModelParams {
        reset_us: None,
        ..ModelParams::default()
    };
    let (model, r) = try_bring_up(params, 1, 64);
    assert_eq!(r.err(), Some(InitError::ResetTimeout));
    // It gave up after its budget of device time, not later.
    let waited = model.with(|d| d.now_us());
    assert!((10_000..=20_000).contains(&waited), "waited {waited} us");
}

#[test]
fn an_eeprom_that_never_loads_is_a_typed_timeout() {
    let params = ModelParams {
        eeprom_us: u32::MAX,
        ..ModelParams::default()
    };
    let (_, r) = try_bring_up(params, 1, 64);
    assert_eq!(r.err(), Some(InitError::EepromTimeout));
}

#[test]
fn slow_but_finite_reset_succeeds() {
    let params = ModelParams {
        reset_us: Some(9_000),
        eeprom_us: 40_000,
        ..ModelParams::default()
    };
    let (model, r) = try_bring_up(params, 2, 64);
    assert!(r.is_ok());
    assert_eq!(model.faults(), 0);
}

#[test]
fn bad_configs_are_refused_before_touching_the_device() {
    let model = Model82599::new(ModelParams::default());
    let mut cfg = Config::new(RssConfig::new(2).unwrap());
    cfg.rx_ring_size = 100;
    let r = Ixgbe::init(
        model.clone(),
        &cfg,
        &mut model.allocator(),
        &mut model.delay(),
    );
    assert_eq!(
        r.err(),
        Some(InitError::Config(ConfigError::BadRingSize(100)))
    );
    let mut cfg = Config::new(RssConfig::new(2).unwrap());
    cfg.queues = 3;
    let r = Ixgbe::init(
        model.clone(),
        &cfg,
        &mut model.allocator(),
        &mut model.delay(),
    );
    assert_eq!(
        r.err(),
        Some(InitError::Config(ConfigError::RssQueueMismatch))
    );
    let cfg = Config::new(RssConfig::new(17).unwrap());
    let r = Ixgbe::init(
        model.clone(),
        &cfg,
        &mut model.allocator(),
        &mut model.delay(),
    );
    assert_eq!(
        r.err(),
        Some(InitError::Config(ConfigError::BadQueueCount(17)))
    );
    // Nothing was written: the device was never reset.
    assert_eq!(model.with(|d| d.now_us()), 0);
}

struct Stingy {
    inner: crate::model::ModelDma,
    left: usize,
}

impl DmaAllocator for Stingy {
    fn alloc_dma(&mut self, len: usize, align: usize) -> Option<DmaRegion> {
        self.left = self.left.checked_sub(1)?;
        self.inner.alloc_dma(len, align)
    }
}

#[test]
fn running_out_of_dma_memory_names_the_queue() {
    let model = Model82599::new(ModelParams::default());
    let cfg = Config::new(RssConfig::new(2).unwrap());
    // Two regions per RX queue: the second queue's buffers are refused.
    let mut dma = Stingy {
        inner: model.allocator(),
        left: 3,
    };
    let r = Ixgbe::init(model.clone(), &cfg, &mut dma, &mut model.delay());
    assert_eq!(r.err(), Some(InitError::OutOfDmaMemory { queue: 1 }));
}

#[test]
fn init_without_cable_returns_with_link_down_then_link_comes_up() {
    let params = ModelParams {
        cable: false,
        ..ModelParams::default()
    };
    let (model, r) = try_bring_up(params, 1, 64);
    let (dev, _pairs) = r.expect("a missing link is not an init failure");
    assert!(!dev.link().up);
    model.set_cable(true);
    model.advance(100_000);
    assert!(dev.link().up);
    model.set_cable(false);
    assert!(!dev.link().up);
    assert_eq!(dev.regs().read32(LINKS) & LINKS_UP, 0);
}
