//! Congestion controllers compared on the simulated lossy wire (a measurement, run by hand:
//! `cargo test -p corenet-net --release measure_congestion_control -- --ignored --nocapture`).

extern crate std;

use std::println;
use std::vec::Vec;

use super::*;
use crate::sim::{Faults, SimNic};
use crate::testkit::{OUR_IP, Peer, cores_with, ip4, run};

/// Our side streams `len` bytes to the peer through `tcp_buffer`-sized socket buffers (the
/// peer's as large) with `loss` per mille lost each way; virtual milliseconds to deliver it
/// all, and the retransmissions our side counted.
fn stream(cc: TcpCongestion, len: usize, tcp_buffer: usize, loss: u16, seed: u64) -> (u64, u64) {
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 4096);
    let mut cores = cores_with(&nic, &rss, false, |c| {
        c.tcp_buffer = tcp_buffer;
        c.tcp_cc = cc;
    });
    let mut peer = Peer::new(&nic);
    cores[0].listen(5001).unwrap();
    let ph = peer.open((ip4(OUR_IP), 5001), 41_000, tcp_buffer);
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 10);
    let h = cores[0].accept(5001).unwrap();
    nic.set_faults(Faults {
        loss,
        seed,
        ..Faults::default()
    });
    let chunk: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got) = (0, 0);
    let start = now;
    while got < len {
        assert!(now - start < 3_600_000_000, "stalled at {got} of {len}");
        while sent < len {
            match cores[0].send(h, &chunk[..(len - sent).min(chunk.len())]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        run(&mut cores, &mut peer, &mut now, 1);
        let ps = peer.tcp(ph);
        while let Ok(n) = ps.recv(|b| (b.len(), b.len())) {
            if n == 0 {
                break;
            }
            got += n;
        }
    }
    let rtx = cores[0].counters().snapshot().retransmissions;
    ((now - start) / 1000, rtx)
}

#[test]
#[ignore = "a measurement: prints virtual transfer times"]
fn measure_congestion_control() {
    let len = 2 << 20;
    println!("2 MiB one way, virtual ms (retransmissions), three seeds each");
    for buf in [16 * 1024, 64 * 1024, 256 * 1024] {
        for loss in [0u16, 10, 50] {
            for cc in [
                TcpCongestion::None,
                TcpCongestion::Reno,
                TcpCongestion::Cubic,
            ] {
                let r: Vec<(u64, u64)> = [1u64, 6, 10]
                    .iter()
                    .map(|&seed| stream(cc, len, buf, loss, seed))
                    .collect();
                println!(
                    "tcpbuf {:>3}K loss {:>2}/1000 {:>5}: {:?}",
                    buf >> 10,
                    loss,
                    cc.name(),
                    r
                );
            }
        }
    }
}
