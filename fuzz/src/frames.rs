//! Frame classification and RSS steering: no panic, queues in range, and the steering
//! parsers agree with each other and with the bitwise Toeplitz hash.
//!
//! Input: one byte choosing the queue count (1 to 8), then the frame.

use std::sync::OnceLock;

use corenet_net::soft::SteerTable;
use corenet_net::stack::{Class, classify};
use corenet_nic::RssConfig;

const MAX_QUEUES: usize = 8;

/// The precomputed software steering of each queue count (building it costs 9 216 hashes).
fn steerings() -> &'static [(RssConfig, SteerTable)] {
    static S: OnceLock<Vec<(RssConfig, SteerTable)>> = OnceLock::new();
    S.get_or_init(|| {
        (1..=MAX_QUEUES)
            .filter_map(|q| RssConfig::new(q).ok())
            .map(|rss| {
                let s = SteerTable::new(&rss);
                (rss, s)
            })
            .collect()
    })
}

/// Whether the IP header at `l3` (ethertype at `l3 - 2`) is one RSS hashes and well formed:
/// IPv4 with version 4, an IHL of 20 bytes or more and the whole header present, or IPv6
/// with its fixed header present. On these every steering parser must make the same
/// decision; malformed ones only have to be harmless.
fn well_formed_ip(frame: &[u8], l3: usize) -> bool {
    match frame.get(l3 - 2..l3) {
        Some([0x08, 0x00]) => {
            let Some(&v) = frame.get(l3) else {
                return false;
            };
            let ihl = usize::from(v & 0x0f) * 4;
            v >> 4 == 4 && ihl >= 20 && frame.len() >= l3 + ihl
        }
        Some([0x86, 0xdd]) => frame.get(l3).is_some_and(|v| v >> 4 == 6) && frame.len() >= l3 + 40,
        _ => false,
    }
}

/// The harness.
pub fn run(data: &[u8]) {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let (rss, soft) = &steerings()[usize::from(sel) % MAX_QUEUES];
    let queues = rss.queues;

    let class = classify(frame);
    if let Class::Tcp { .. } = class {
        assert!(
            frame.len() >= 14 + 20 + 14,
            "TCP class from a {}-byte frame",
            frame.len()
        );
    }
    if matches!(class, Class::Arp) {
        assert_eq!(frame.get(12..14), Some(&[0x08, 0x06][..]));
    }

    // The one RSS input parser every software steering uses (corenet_nic::steering).
    let input = corenet_nic::steering::frame_input(frame);
    if let Some(i) = input {
        assert!(matches!(i.bytes().len(), 8 | 12 | 32 | 36));
    }

    let (soft_q, soft_hash) = soft.classify(frame);
    assert_eq!(input.is_some(), soft_hash.is_some());
    let sim_q = corenet_net::sim::steer(rss, frame);
    let virtio_hash = corenet_virtio::steer::frame_hash(rss, frame);
    let virtio_q = corenet_virtio::steer::target_queue(rss, frame);
    assert!(soft_q < queues && sim_q < queues && virtio_q < queues);
    if let Some(h) = soft_hash {
        assert_eq!(soft_q, rss.queue_for_hash(h));
    }
    if well_formed_ip(frame, 14) {
        assert_eq!(soft_hash, virtio_hash, "soft and virtio steering disagree");
        assert_eq!(
            soft_q, sim_q,
            "soft steering and the simulated NIC disagree"
        );
    }
    // One 802.1Q tag: software steering and virtio's look through it (the simulated NIC
    // does not).
    if frame.get(12..14) == Some(&[0x81, 0x00]) && well_formed_ip(frame, 18) {
        assert_eq!(
            soft_hash, virtio_hash,
            "soft and virtio steering disagree (VLAN)"
        );
    }

    // The byte-table hash is the bitwise Toeplitz hash, for any input up to 36 bytes.
    let input = &frame[..frame.len().min(36)];
    assert_eq!(soft.hash(input), corenet_nic::toeplitz(&rss.key, input));
}
