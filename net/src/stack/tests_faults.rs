//! Seeded loss, corruption and reordering on the simulated wire: bulk transfers both ways
//! arrive intact and in order, without stalling.

use crate::sim::Faults;
use crate::testkit::{OUR_IP, Rig, bulk_both_ways, ip4};

#[test]
fn megabytes_both_ways_through_loss_corruption_and_reordering() {
    let retransmissions = transfer(
        3 << 20,
        Some(Faults {
            loss: 10,
            corrupt: 5,
            reorder: 20,
            seed: 0x5eed,
        }),
    );
    assert!(retransmissions > 0, "losses must cost retransmissions");
}

#[test]
fn a_clean_wire_has_no_retransmissions() {
    assert_eq!(transfer(1 << 20, None), 0);
}

/// Sends `len` bytes each way over one connection and checks every byte; returns the
/// retransmissions our side counted.
fn transfer(len: u64, faults: Option<Faults>) -> u64 {
    let mut rig = Rig::new(2, |c| c.tcp_buffer = 32 * 1024);
    for c in &mut rig.cores {
        c.listen(5001).unwrap();
    }
    let ph = rig.peer.open((ip4(OUR_IP), 5001), 41_000, 64 * 1024);
    rig.run(10);
    // Faults only once the connection is up, so the test is about the transfer.
    if let Some(f) = faults {
        rig.nic.set_faults(f);
    }
    bulk_both_ways(&mut rig, ph, 5001, len, 400_000);
    let w = rig.nic.stats();
    if faults.is_some() {
        assert!(w.lost > 0 && w.corrupted > 0 && w.reordered > 0, "{w:?}");
    }
    let cores = &rig.cores;
    assert_eq!(cores.iter().map(|c| c.connections()).sum::<usize>(), 1);
    let sum = |f: fn(&crate::counters::NetSnapshot) -> u64| {
        cores
            .iter()
            .map(|c| f(&c.counters().snapshot()))
            .sum::<u64>()
    };
    assert_eq!(sum(|c| c.accepted), 1);
    assert_eq!(sum(|c| c.refused), 0);
    assert_eq!(sum(|c| c.embryonic_dropped), 0);
    sum(|c| c.retransmissions)
}
