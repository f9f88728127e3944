//! MSI-X receive interrupts against the model: the programming (capability, table, GPIE, IVAR,
//! EIAC, EIMS), one message per frame to the queue owner's APIC while armed, none while
//! polling, and no lost wake-up across the arm.

use std::vec;
use std::vec::Vec;

use corenet_nic::{RxFrame, RxQueue};

use super::*;
use crate::RegisterAccess;
use crate::model::{MODEL_VECTORS, MSIX_BAR, MSIX_CAP, RxOutcome};
use crate::msix::{self, ConfigSpace, Message, MsixCap, MsixError};
use crate::regs::*;

/// The x86 message of core `k` (APIC id k + 1, to tell it from the queue index).
fn message(k: u16) -> Message {
    Message {
        address: 0xFEE0_0000 | u64::from(k + 1) << 12,
        data: 0x22,
    }
}

fn enable(model: &Model82599, dev: &mut Dev, pairs: &mut Pairs) -> Result<MsixCap, MsixError> {
    let mut cfg = model.config();
    let cap = msix::find(&cfg)?;
    msix::check_table(&cap, 0x4000)?;
    dev.enable_msix(pairs, &mut cfg, &cap, &model.msix_table(), &message)?;
    Ok(cap)
}

fn drain(rx: &mut impl RxQueue) -> usize {
    let mut frames = [RxFrame::default(); 32];
    let mut total = 0;
    loop {
        let n = rx.rx_burst(&mut frames);
        if n == 0 {
            return total;
        }
        for f in &frames[..n] {
            rx.release(*f);
        }
        total += n;
    }
}

/// A TCP frame of source port `port` (so RSS spreads them over the queues).
fn frame(port: u16) -> Vec<u8> {
    ipv4_frame(MAC, ([10, 0, 0, 1], [10, 0, 0, 2], port, 80), true, 32, 7)
}

#[test]
fn one_vector_per_receive_queue_is_programmed_and_left_masked() {
    let (model, mut dev, mut pairs) = bring_up(4, 64);
    let cap = enable(&model, &mut dev, &mut pairs).expect("MSI-X set up");
    assert_eq!(
        (cap.offset, cap.table_bar, cap.table_offset, cap.table_len),
        (MSIX_CAP, MSIX_BAR, 0, MODEL_VECTORS)
    );
    let gpie = model.peek(GPIE);
    assert_eq!(
        gpie & (GPIE_MSIX_MODE | GPIE_PBA_SUPPORT),
        GPIE_MSIX_MODE | GPIE_PBA_SUPPORT
    );
    for q in 0..4u16 {
        let (reg, shift) = crate::Family::X82599.ivar_rx(q);
        assert_eq!(
            (model.peek(reg) >> shift) & 0xFF,
            u32::from(q) | IVAR_VALID,
            "IVAR rx {q}"
        );
        assert_eq!(model.peek(EITR + 4 * u32::from(q)), 0, "EITR {q}");
        let t = model.msix_table();
        let e = u32::from(q) * 16;
        let m = message(q);
        assert_eq!(t.read32(e), m.address as u32);
        assert_eq!(
            (t.read32(e + 4), t.read32(e + 8), t.read32(e + 12)),
            (0, 0x22, 0)
        );
        assert!(pairs[q as usize].rx.has_interrupt());
    }
    // Entries past the queues stay masked; the function is enabled and unmasked.
    assert_eq!(model.msix_table().read32(4 * 16 + 12), 1);
    let ctrl = model.config().read32(MSIX_CAP);
    assert_eq!(ctrl >> 30, 0b10);
    assert_eq!(model.peek(EIAC) & 0xF, 0xF);
    assert_eq!(model.peek(EIMS), 0, "masked while the cores poll");
    assert_eq!(model.faults(), 0);
}

#[test]
fn armed_queues_send_one_message_per_frame_to_their_core_and_polled_ones_none() {
    let (model, mut dev, mut pairs) = bring_up(4, 64);
    enable(&model, &mut dev, &mut pairs).unwrap();
    // Polling: frames arrive, no message.
    let mut port = 1000;
    for _ in 0..16 {
        port += 1;
        assert!(matches!(
            model.inject(&frame(port)),
            RxOutcome::Delivered { .. }
        ));
    }
    assert!(model.take_messages().is_empty());
    let got: usize = pairs.iter_mut().map(|p| drain(&mut p.rx)).sum();
    assert_eq!(got, 16);
    // Every core halts: each arms its queue, nothing waits.
    for p in pairs.iter_mut() {
        assert_eq!(p.rx.enable_interrupt(), Some(false));
    }
    assert!(
        model.take_messages().is_empty(),
        "stale causes were cleared"
    );
    let mut per_queue = [0usize; 4];
    for _ in 0..32 {
        port += 1;
        let RxOutcome::Delivered { queue } = model.inject(&frame(port)) else {
            panic!("not delivered")
        };
        let msgs = model.take_messages();
        assert_eq!(
            msgs,
            [message(queue)],
            "one message, to queue {queue}'s core"
        );
        per_queue[queue as usize] += 1;
    }
    assert!(
        per_queue.iter().all(|&n| n > 0),
        "RSS reached every queue: {per_queue:?}"
    );
    // Woken, each core polls again: masked, no more messages.
    for p in pairs.iter_mut() {
        p.rx.disable_interrupt();
        drain(&mut p.rx);
    }
    assert_eq!(model.peek(EIMS), 0);
    port += 1;
    model.inject(&frame(port));
    assert!(model.take_messages().is_empty());
    assert_eq!((model.held_messages(), model.faults()), (0, 0));
}

#[test]
fn a_frame_that_lands_before_the_arm_is_reported_by_it_not_lost() {
    let (model, mut dev, mut pairs) = bring_up(1, 64);
    enable(&model, &mut dev, &mut pairs).unwrap();
    let rx = &mut pairs[0].rx;
    // The frame arrives after the core's last look, before it arms.
    model.inject(&frame(5000));
    assert_eq!(
        rx.enable_interrupt(),
        Some(true),
        "the arm's look finds the frame"
    );
    rx.disable_interrupt();
    assert_eq!(drain(rx), 1);
    // Nothing waits now: armed, and the next frame wakes the core.
    assert_eq!(rx.enable_interrupt(), Some(false));
    model.inject(&frame(5001));
    assert_eq!(model.take_messages(), [message(0)]);
}

#[test]
fn without_the_capability_a_typed_error_and_the_queues_stay_polled() {
    let params = ModelParams {
        msix: false,
        ..ModelParams::default()
    };
    let (model, r) = try_bring_up(params, 2, 64);
    let (mut dev, mut pairs) = r.unwrap();
    assert_eq!(
        enable(&model, &mut dev, &mut pairs).err(),
        Some(MsixError::NoCapability)
    );
    assert!(!pairs[0].rx.has_interrupt());
    assert_eq!(pairs[0].rx.enable_interrupt(), None);
    assert_eq!(model.peek(GPIE), 0, "nothing was switched to MSI-X mode");
}

/// A configuration space given as dwords.
struct Raw(Vec<u32>);

impl ConfigSpace for Raw {
    fn read32(&self, off: u16) -> u32 {
        self.0
            .get(usize::from(off) / 4)
            .copied()
            .unwrap_or(u32::MAX)
    }
    fn write32(&mut self, _: u16, _: u32) {}
}

#[test]
fn hostile_capability_lists_and_tables_are_typed_errors() {
    let mut c = vec![0u32; 64];
    c[1] = 1 << 20;
    c[0x34 / 4] = 0x40;
    // A capability pointing at itself.
    c[0x40 / 4] = 0x01 | 0x40 << 8;
    assert_eq!(
        msix::find(&Raw(c.clone())),
        Err(MsixError::BadCapabilityList)
    );
    // A pointer into the standard header.
    c[0x40 / 4] = 0x01 | 0x10 << 8;
    assert_eq!(
        msix::find(&Raw(c.clone())),
        Err(MsixError::BadCapabilityList)
    );
    // No capability list at all.
    c[1] = 0;
    assert_eq!(msix::find(&Raw(c.clone())), Err(MsixError::NoCapability));
    // BIR 7 names no BAR.
    c[1] = 1 << 20;
    c[0x40 / 4] = 0x11 | 7 << 16;
    c[0x44 / 4] = 0x1000 | 7;
    assert_eq!(msix::find(&Raw(c.clone())), Err(MsixError::BadBar(7)));
    // 8 entries at 0x1000 do not fit a 4 KiB BAR.
    c[0x44 / 4] = 0x1000 | 3;
    let cap = msix::find(&Raw(c)).unwrap();
    assert_eq!(cap.table_len, 8);
    assert_eq!(
        msix::check_table(&cap, 0x1000),
        Err(MsixError::TableOutsideBar {
            table_end: 0x1080,
            bar_size: 0x1000
        })
    );
    // Fewer vectors than queues.
    let (model, mut dev, mut pairs) = bring_up(4, 64);
    let small = MsixCap {
        table_len: 2,
        ..msix::find(&model.config()).unwrap()
    };
    let r = dev.enable_msix(
        &mut pairs,
        &mut model.config(),
        &small,
        &model.msix_table(),
        &message,
    );
    assert_eq!(
        r,
        Err(MsixError::TooFewVectors {
            vectors: 2,
            queues: 4
        })
    );
    assert!(!pairs[0].rx.has_interrupt());
}

/// The model behind a register access that lets a frame arrive at a chosen point of the arm:
/// right before or after a given register access.
#[derive(Debug, Clone)]
struct Racing {
    model: Model82599,
    /// (register, before the access?) of the next arrival; taken when it fires.
    at: std::rc::Rc<std::cell::Cell<Option<(u32, bool)>>>,
}

impl Racing {
    fn arrive_if(&self, off: u32, before: bool) {
        if self.at.get() == Some((off, before)) {
            self.at.set(None);
            assert!(matches!(
                self.model.inject(&frame(7000)),
                RxOutcome::Delivered { .. }
            ));
        }
    }
}

impl RegisterAccess for Racing {
    fn read32(&self, off: u32) -> u32 {
        self.arrive_if(off, true);
        let v = self.model.read32(off);
        self.arrive_if(off, false);
        v
    }

    fn write32(&self, off: u32, value: u32) {
        self.arrive_if(off, true);
        self.model.write32(off, value);
        self.arrive_if(off, false);
    }
}

#[test]
fn a_frame_arriving_at_any_point_of_the_arm_wakes_the_core_or_stops_the_halt() {
    // Every register access of the arm, before and after, plus after the arm returned: the
    // frame is either seen by the arm's look (`Some(true)`: the core does not halt) or sends
    // the queue's message (the halted core wakes). Never neither.
    let irq = crate::Family::X82599.irq_regs();
    let points = [
        Some((irq.eicr, true)),
        Some((irq.eicr, false)),
        Some((irq.eims, true)),
        Some((irq.eims, false)),
        None, // after the arm
    ];
    for (i, point) in points.into_iter().enumerate() {
        let model = Model82599::new(ModelParams::default());
        let regs = Racing {
            model: model.clone(),
            at: Default::default(),
        };
        let mut cfg = Config::new(RssConfig::new(1).unwrap());
        (cfg.rx_ring_size, cfg.tx_ring_size) = (64, 64);
        let (mut dev, mut pairs) = Ixgbe::init(
            regs.clone(),
            &cfg,
            &mut model.allocator(),
            &mut model.delay(),
        )
        .unwrap();
        let mut config = model.config();
        let cap = msix::find(&config).unwrap();
        dev.enable_msix(&mut pairs, &mut config, &cap, &model.msix_table(), &message)
            .unwrap();
        let rx = &mut pairs[0].rx;
        // A busy spell first, so EICR holds a stale cause.
        model.inject(&frame(6999));
        assert_eq!(drain(rx), 1);
        regs.at.set(point);
        let pending = rx.enable_interrupt();
        if point.is_none() {
            model.inject(&frame(7000));
        }
        assert!(regs.at.get().is_none(), "point {i}: the frame arrived");
        let messages = model.take_messages();
        assert!(
            pending == Some(true) || messages == [message(0)],
            "point {i}: pending {pending:?}, messages {messages:?}: a lost wake-up"
        );
        if pending == Some(false) {
            assert_eq!(messages.len(), 1, "point {i}: exactly one message");
        }
    }
}
