//! RSS: flows land on the queue the steering configuration predicts, with the hash reported.

use std::vec::Vec;

use corenet_nic::steering::TABLE_LEN;
use corenet_nic::{RssConfig, RxFrame, RxQueue};

use super::*;
use crate::model::{Model82599, ModelParams, RxOutcome};

#[test]
fn rss_spreads_many_flows_over_all_queues_exactly_as_reta_says() {
    let queues = 4u16;
    let model = Model82599::new(ModelParams::default());
    // A lopsided, seeded table: the test must follow RETA, not a round-robin assumption.
    let mut rng = Rng(0xfeed_beef);
    let mut rss = RssConfig::new(queues as usize).unwrap();
    for e in rss.table.iter_mut() {
        *e = [0, 1, 1, 2, 3, 3, 3][(rng.next() % 7) as usize];
    }
    let mut cfg = Config::new(rss.clone());
    cfg.rx_ring_size = 1024;
    let (_dev, mut pairs) = Ixgbe::init(
        model.clone(),
        &cfg,
        &mut model.allocator(),
        &mut model.delay(),
    )
    .unwrap();

    let mut per_queue = [0usize; 4];
    let mut frames = [RxFrame::default(); 32];
    for i in 0..2000u32 {
        let r = rng.next();
        let src = (r as u32).to_be_bytes();
        let (sport, dport) = ((r >> 32) as u16, (r >> 48) as u16);
        let tcp = i % 2 == 0;
        let f = ipv4_frame(MAC, (src, [192, 168, 1, 1], sport, dport), tcp, 20, i as u8);
        let hash = rss.hash_ipv4_l4(src, [192, 168, 1, 1], sport, dport);
        let want = rss.queue_for_hash(hash);
        assert_eq!(
            model.inject(&f),
            RxOutcome::Delivered { queue: want },
            "flow {i}"
        );
        let rx = &mut pairs[want as usize].rx;
        assert_eq!(rx.rx_burst(&mut frames), 1);
        assert_eq!(frames[0].rss_hash, Some(hash));
        assert_eq!(rx.frame(&frames[0]), &f[..]);
        rx.release(frames[0]);
        per_queue[want as usize] += 1;
    }
    // Every queue got traffic, in proportion to its share of the table (within 25 %).
    for (q, &got) in per_queue.iter().enumerate() {
        let share = rss.table.iter().filter(|&&e| e as usize == q).count();
        let expect = 2000 * share / TABLE_LEN;
        assert!(got > 0, "queue {q} got nothing");
        assert!(
            got.abs_diff(expect) * 4 <= expect,
            "queue {q}: {got} vs ~{expect}"
        );
    }
    assert_eq!(model.faults(), 0);
}

#[test]
fn unhashable_frames_go_to_queue_zero_without_a_hash() {
    let (model, _dev, mut pairs) = bring_up(4, 64);
    let mut arp: Vec<u8> = Vec::new();
    arp.extend_from_slice(&[0xFF; 6]);
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    assert_eq!(model.inject(&arp), RxOutcome::Delivered { queue: 0 });
    let mut frames = [RxFrame::default(); 4];
    assert_eq!(pairs[0].rx.rx_burst(&mut frames), 1);
    assert_eq!(frames[0].rss_hash, None);
    assert_eq!(pairs[0].rx.frame(&frames[0]), &arp[..]);
}

#[test]
fn rss_table_can_be_changed_at_run_time() {
    let (model, mut dev, mut pairs) = bring_up(2, 64);
    let mut rss = RssConfig::new(2).unwrap();
    rss.table = [1; TABLE_LEN];
    dev.set_rss(&rss).unwrap();
    let f = ipv4_frame(MAC, ([9, 9, 9, 9], [10, 0, 0, 1], 1234, 80), true, 10, 0);
    assert_eq!(model.inject(&f), RxOutcome::Delivered { queue: 1 });
    let mut frames = [RxFrame::default(); 4];
    assert_eq!(pairs[1].rx.rx_burst(&mut frames), 1);
    rss.table[5] = 2;
    assert_eq!(
        dev.set_rss(&rss),
        Err(crate::ConfigError::TableEntryOutOfRange(2))
    );
    let three = RssConfig::new(3).unwrap();
    assert_eq!(
        dev.set_rss(&three),
        Err(crate::ConfigError::RssQueueMismatch)
    );
}
