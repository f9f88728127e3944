//! Seeded loss, corruption and reordering on the simulated wire: bulk transfers both ways
//! arrive intact and in order, without stalling.

extern crate std;

use smoltcp::socket::tcp;

use super::tests::{Peer, cores_with, run};
use super::*;
use crate::sim::{Faults, SimNic};

/// The byte at `i` of a stream seeded with `seed` (cheap, position-dependent, not periodic
/// at any segment size).
fn byte(seed: u64, i: u64) -> u8 {
    let mut x = (i ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 31;
    x as u8
}

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
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, true, |c| c.tcp_buffer = 32 * 1024);
    let mut peer = Peer::new(&nic);
    for c in &mut cores {
        c.listen(5001).unwrap();
    }
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(std::vec![0; 64 * 1024]),
        tcp::SocketBuffer::new(std::vec![0; 64 * 1024]),
    );
    let [a, b, c, d] = super::tests::OUR_IP;
    s.connect(
        peer.iface.context(),
        (smoltcp::wire::Ipv4Address::new(a, b, c, d), 5001),
        41_000,
    )
    .unwrap();
    let ph = peer.sockets.add(s);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    // Faults only once the connection is up, so the test is about the transfer.
    if let Some(f) = faults {
        nic.set_faults(f);
    }
    let mut conn = None;
    let (mut up_sent, mut up_recv, mut down_sent, mut down_recv) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = std::vec![0u8; 16 * 1024];
    let mut steps = 0;
    while up_recv < len || down_recv < len {
        steps += 1;
        assert!(steps < 400_000, "stalled: up {up_recv} down {down_recv}");
        run(&mut cores, &mut peer, &mut now, 1);
        if conn.is_none() {
            conn = cores
                .iter_mut()
                .enumerate()
                .find_map(|(q, c)| c.accept(5001).ok().map(|h| (q, h)));
        }
        let Some((q, h)) = conn else { continue };
        let core = &mut cores[q];
        // Peer -> core.
        let ps = peer.sockets.get_mut::<tcp::Socket>(ph);
        if up_sent < len && ps.can_send() {
            let n = ps
                .send(|b| {
                    let n = b.len().min((len - up_sent) as usize);
                    for (i, x) in b[..n].iter_mut().enumerate() {
                        *x = byte(1, up_sent + i as u64);
                    }
                    (n, n)
                })
                .unwrap();
            up_sent += n as u64;
        }
        while let Ok(n) = core.recv(h, &mut buf) {
            for (i, &x) in buf[..n].iter().enumerate() {
                assert_eq!(x, byte(1, up_recv + i as u64), "upstream byte {}", up_recv);
            }
            up_recv += n as u64;
        }
        // Core -> peer.
        while down_sent < len {
            let n = ((len - down_sent) as usize).min(buf.len());
            for (i, x) in buf[..n].iter_mut().enumerate() {
                *x = byte(2, down_sent + i as u64);
            }
            match core.send(h, &buf[..n]) {
                Ok(k) => down_sent += k as u64,
                Err(SendError::WouldBlock) => break,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        let ps = peer.sockets.get_mut::<tcp::Socket>(ph);
        while ps.can_recv() {
            let base = down_recv;
            let n = ps
                .recv(|b| {
                    for (i, &x) in b.iter().enumerate() {
                        assert_eq!(x, byte(2, base + i as u64), "downstream byte {base}");
                    }
                    (b.len(), b.len())
                })
                .unwrap();
            down_recv += n as u64;
        }
    }
    assert_eq!((up_recv, down_recv), (len, len));
    let w = nic.stats();
    if faults.is_some() {
        assert!(w.lost > 0 && w.corrupted > 0 && w.reordered > 0, "{w:?}");
    }
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
