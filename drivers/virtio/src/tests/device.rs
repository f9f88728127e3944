//! Initialization, negotiation, control-queue bytes and the steering fallbacks.

use super::*;
use crate::ctrl::{self, CtrlError};
use crate::fake::CtrlBehaviour;
use crate::features::Features;
use crate::{InitError, Steering};
use virtio_drivers::transport::{DeviceStatus, Transport};

#[test]
fn negotiates_and_programs_rss() {
    let r = rig(DeviceSpec::default(), 2);
    let f = r.dev.driver_features();
    assert_eq!(f, r.net.features());
    for b in [
        Features::VERSION_1,
        Features::MAC,
        Features::STATUS,
        Features::CTRL_VQ,
        Features::MQ,
        Features::RSS,
        Features::HASH_REPORT,
        Features::EVENT_IDX,
        Features::CSUM,
        Features::GUEST_CSUM,
    ] {
        assert!(f.contains(b), "{b:?}");
    }
    assert!(!f.contains(Features::MRG_RXBUF));
    assert!(r.dev.status().contains(DeviceStatus::DRIVER_OK));
    assert_eq!(r.net.steering(), Steering::Rss);
    assert_eq!(r.net.mac(), [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    assert!(r.net.link_up());
    assert_eq!(r.pairs.len(), 2);
    // receiveq(k) = 2k, transmitq(k) = 2k+1, controlq = 2 * max_pairs.
    for q in 0..4 {
        assert_eq!(r.dev.queue_size(q), 256);
    }
    assert_eq!(r.dev.queue_size(4), 0);
    assert_eq!(r.dev.queue_size(8), 16);
    assert_eq!(r.dev.transport_notifies(), [8]);
    let log = r.dev.ctrl_log();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].class, log[0].cmd), (4, 1));
    let want = ctrl::rss_config(&RssConfig::new(2).unwrap(), ctrl::HASH_TYPES_L3_L4);
    assert_eq!(log[0].data, want.as_slice());
    // Each receive queue was rung once after DRIVER_OK, with its own index.
    assert_eq!(r.bells.rung(0), 0);
    assert_eq!(r.bells.rung(2), 2);
    use corenet_nic::{RxQueue, TxQueue};
    assert_eq!(r.pairs[1].rx.queue_index(), 1);
    assert_eq!(r.pairs[1].tx.queue_index(), 1);
}

#[test]
fn more_cores_than_queues_clamps_the_table() {
    let r = rig(DeviceSpec::default(), 6);
    assert_eq!(r.pairs.len(), 4);
    let data = &r.dev.ctrl_log()[0].data;
    let table: Vec<u16> = data[8..8 + 256]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert!(table.iter().all(|&q| q < 4));
    assert_eq!(&data[8 + 256..8 + 258], &[4, 0], "max_tx_vq");
    // The stack predicts with what was programmed.
    let programmed = r.net.rss().unwrap();
    assert_eq!(programmed.queues, 4);
    assert_eq!(programmed.table.as_slice(), table.as_slice());
}

#[test]
fn rss_rejected_falls_back_to_device_steering() {
    let spec = DeviceSpec {
        ctrl: CtrlBehaviour::RejectRss,
        ..DeviceSpec::default()
    };
    let r = rig(spec, 2);
    let log = r.dev.ctrl_log();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[1].class, log[1].cmd, log[1].data.as_slice()),
        (4, 0, &[2u8, 0][..])
    );
    assert_eq!(r.net.steering(), Steering::Device);
    assert!(r.net.rss().is_none());
}

#[test]
fn no_rss_uses_vq_pairs_set() {
    let spec = DeviceSpec {
        features: DeviceSpec::default().features - Features::RSS,
        ..DeviceSpec::default()
    };
    let r = rig(spec, 3);
    assert!(
        !r.dev
            .driver_features()
            .intersects(Features::RSS | Features::HASH_REPORT)
    );
    let log = r.dev.ctrl_log();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].class, log[0].cmd, log[0].data.as_slice()),
        (4, 0, &[3u8, 0][..])
    );
    assert_eq!(r.net.steering(), Steering::Device);
    assert_eq!(r.pairs.len(), 3);
}

#[test]
fn no_mq_gives_one_software_steered_queue() {
    let spec = DeviceSpec {
        features: DeviceSpec::default().features - Features::MQ,
        ..DeviceSpec::default()
    };
    let r = rig(spec, 4);
    assert_eq!(r.pairs.len(), 1);
    assert_eq!(r.net.steering(), Steering::Software);
    assert!(r.dev.ctrl_log().is_empty());
    // Without MQ the control queue is queue 2.
    assert_eq!(r.dev.queue_size(2), 16);
}

#[test]
fn refusals_are_typed_errors() {
    let reject = DeviceSpec {
        reject_features: true,
        ..DeviceSpec::default()
    };
    let cfg = NetConfig::new(RssConfig::new(1).unwrap());
    assert_eq!(
        rig_with(reject, &cfg).err(),
        Some(InitError::FeaturesRejected)
    );
    let legacy = DeviceSpec {
        features: DeviceSpec::default().features - Features::VERSION_1,
        ..DeviceSpec::default()
    };
    assert_eq!(rig_with(legacy, &cfg).err(), Some(InitError::Legacy));
    let no_queues = DeviceSpec {
        queue_max: 0,
        ..DeviceSpec::default()
    };
    assert_eq!(
        rig_with(no_queues, &cfg).err(),
        Some(InitError::QueueUnavailable(0))
    );
    let (t, dev) = FakeTransport::new_pair(DeviceSpec::default());
    let mut dma = FakeDma::with_budget(64 * 1024);
    let r = VirtioNet::new(t, FakeNotify::default(), &mut dma, &cfg);
    assert_eq!(r.err(), Some(InitError::OutOfDmaMemory));
    assert!(dev.status().contains(DeviceStatus::FAILED));
}

#[test]
fn small_device_queues_are_used_as_offered() {
    let spec = DeviceSpec {
        queue_max: 100,
        ..DeviceSpec::default()
    };
    let r = rig(spec, 1);
    assert_eq!(r.dev.queue_size(0), 64, "rounded down to a power of two");
}

#[test]
fn control_command_that_never_completes_times_out() {
    let spec = DeviceSpec {
        ctrl: CtrlBehaviour::Never,
        ..DeviceSpec::default()
    };
    let mut cfg = NetConfig::new(RssConfig::new(2).unwrap());
    cfg.spins = 50;
    assert_eq!(
        rig_with(spec, &cfg).err(),
        Some(InitError::Ctrl(CtrlError::Timeout))
    );
    // On a live device: timeout, then busy while the device still holds the buffers, then
    // recovery once it answers.
    let mut r = rig(DeviceSpec::default(), 2);
    r.dev.update(|s| s.ctrl = CtrlBehaviour::Never);
    let pairs = ctrl::vq_pairs_set(2);
    assert_eq!(r.net.command(4, 0, &pairs), Err(CtrlError::Timeout));
    assert_eq!(r.net.command(4, 0, &pairs), Err(CtrlError::Busy));
    r.dev.update(|s| s.ctrl = CtrlBehaviour::Ack);
    // The next notify makes the fake answer the stuck command; ours then goes through.
    r.net.transport_mut().notify(8);
    assert_eq!(r.net.command(4, 0, &pairs), Ok(()));
}

#[test]
fn link_status() {
    let r = rig(DeviceSpec::default(), 1);
    assert!(r.net.link_up());
    r.dev.update(|s| s.link_up = false);
    assert!(!r.net.link_up());
}

/// Per-pair pools: records which pair each allocation was for.
#[derive(Default)]
struct PerCore {
    pools: FakeDma,
    asked: Vec<Option<u16>>,
}

impl crate::QueueDma for PerCore {
    fn alloc_queue_dma(
        &mut self,
        pair: Option<u16>,
        len: usize,
        align: usize,
    ) -> Option<corenet_nic::DmaRegion> {
        use corenet_nic::DmaAllocator;
        self.asked.push(pair);
        self.pools.alloc_dma(len, align)
    }
}

#[test]
fn each_pair_allocates_from_its_own_pool() {
    let (t, _dev) = FakeTransport::new_pair(DeviceSpec::default());
    let mut dma = PerCore::default();
    let cfg = NetConfig::new(RssConfig::new(2).unwrap());
    let (_net, pairs) = VirtioNet::new(t, FakeNotify::default(), &mut dma, &cfg).unwrap();
    assert_eq!(pairs.len(), 2);
    // Per pair: RX ring, RX buffers, TX ring, TX buffers; then the control queue.
    assert_eq!(
        dma.asked,
        [
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            None,
            None
        ]
    );
}
