//! Review of issue 11, IPv6 side (feature `ipv6`): TCP to our global and link-local
//! addresses with any flags, NDP of every type with any target, options and hop limit, and
//! runts, through two cores.

extern crate std;

use std::vec::Vec;

use super::tests_review::{THEIR_MAC, csum, tcp_bytes};
use super::*;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP6, Rng, cores_with, our_ipv6};

const ROUTER6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Ethernet/IPv6 around `l4` (next header `nh`), its checksum right unless `bad`.
fn ipv6_frame(src: [u8; 16], dst: [u8; 16], nh: u8, hop: u8, l4: &[u8], bad: bool) -> Vec<u8> {
    let mut l4 = l4.to_vec();
    let at = if nh == 6 { 16 } else { 2 };
    if l4.len() >= at + 2 {
        l4[at] = 0;
        l4[at + 1] = 0;
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&dst);
        pseudo.extend_from_slice(&(l4.len() as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, nh]);
        pseudo.extend_from_slice(&l4);
        let c = csum(0, &pseudo).wrapping_add(u16::from(bad));
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    let dst_mac = if dst[0] == 0xff {
        [0x33, 0x33, dst[12], dst[13], dst[14], dst[15]]
    } else {
        [2, 0, 0, 0, 0, 2]
    };
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&THEIR_MAC);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    f.extend_from_slice(&[nh, hop]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&l4);
    f
}

fn hostile6(rng: &mut Rng, ll: [u8; 16], replies: &mut Vec<Vec<u8>>) -> Vec<u8> {
    let mut src = match rng.below(4) {
        0 => OUR_IP6,
        1 => [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        2 => ROUTER6,
        _ => [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    src[15] = src[15].wrapping_add(1 + rng.below(6) as u8);
    if rng.chance(5) {
        src[0] = 0xff; // multicast source
    }
    let dst = match rng.below(5) {
        0 | 1 => OUR_IP6,
        2 => ll,
        3 => [
            0xff,
            2,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            0xff,
            0,
            0,
            OUR_IP6[15],
        ],
        _ => [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    };
    let kind = rng.below(100);
    let mut f = if kind < 45 {
        let flags = match rng.below(6) {
            0..=2 => 0x02,
            3 | 4 => 0x10,
            _ => rng.next() as u8,
        };
        let opts = if rng.chance(50) {
            std::vec![2, 4, 0x05, 0xa0]
        } else {
            Vec::new()
        };
        let sport = 1024 + rng.below(6) as u16;
        let t = tcp_bytes(
            sport,
            80,
            rng.next() as u32,
            rng.next() as u32,
            flags,
            &opts,
        );
        ipv6_frame(src, dst, 6, 64, &t, rng.chance(5))
    } else if kind < 60 {
        match replies.pop() {
            Some(r) => r,
            None => return Vec::new(),
        }
    } else {
        // NDP: type, code, checksum, flags/reserved, target, then an option.
        let mut m = std::vec![133 + rng.below(5) as u8, 0, 0, 0];
        m.extend_from_slice(&[if rng.chance(50) { 0x20 } else { 0x60 }, 0, 0, 0]);
        let target = match rng.below(4) {
            0 => OUR_IP6,
            1 => ll,
            2 => ROUTER6,
            _ => src,
        };
        m.extend_from_slice(&target);
        if rng.chance(80) {
            let mut mac = [2, 0xee, 0, 0, 0, rng.next() as u8];
            if rng.chance(10) {
                mac[0] = 1;
            }
            m.extend_from_slice(&[1 + rng.below(2) as u8, 1]);
            m.extend_from_slice(&mac);
        }
        if rng.chance(5) {
            let n = rng.below(16) as usize;
            m.extend(rng.bytes(n));
        }
        let hop = if rng.chance(90) { 255 } else { 64 };
        ipv6_frame(src, dst, 58, hop, &m, rng.chance(5))
    };
    if rng.chance(3) {
        let n = rng.below(f.len() as u64 + 1) as usize;
        f.truncate(n);
    }
    f
}

fn answer_syn_acks(nic: &SimNic, replies: &mut Vec<Vec<u8>>) {
    while let Some(f) = nic.take_sent() {
        let Some(seg) = super::synwire::parse(&f, |_| true) else {
            continue;
        };
        let (crate::ip::IpAddr::V6(peer), crate::ip::IpAddr::V6(us), Some(ack)) =
            (seg.dst, seg.src, seg.ack)
        else {
            continue;
        };
        if !seg.syn || replies.len() > 256 {
            continue;
        }
        let t = tcp_bytes(
            seg.dst_port,
            seg.src_port,
            ack,
            seg.seq.wrapping_add(1),
            0x10,
            &[],
        );
        replies.push(ipv6_frame(peer, us, 6, 64, &t, false));
    }
}

#[test]
fn hostile_ipv6_frames_never_exceed_the_limits() {
    const MAX: usize = 12;
    const HALF_OPEN_MAX: usize = 4;
    for seed in 1..=4u64 {
        let rss = RssConfig::new(2).unwrap();
        let nic = SimNic::new(rss.clone(), 1 << 12);
        let mut cores: Vec<Core> = cores_with(&nic, &rss, true, |c| {
            c.max_connections = MAX;
            c.half_open_max = HALF_OPEN_MAX;
            c.half_open_per_port = 2;
            c.ipv6 = Some(our_ipv6(Some(ROUTER6)));
        });
        let ll = cores[0].ipv6_link_local().unwrap();
        for c in cores.iter_mut() {
            c.listen(80).unwrap();
        }
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut replies = Vec::new();
        let mut held: [Vec<TcpConn>; 2] = [Vec::new(), Vec::new()];
        let mut now = 1_000_000u64;
        for step in 0..2000 {
            for _ in 0..rng.below(24) {
                let f = hostile6(&mut rng, ll, &mut replies);
                nic.deliver(f);
            }
            now += match rng.below(50) {
                0 => 70_000_000,
                1 => 3_500_000,
                _ => rng.below(3000),
            };
            for (k, c) in cores.iter_mut().enumerate() {
                while let Ok(h) = c.accept(80) {
                    held[k].push(h);
                }
                if !held[k].is_empty() && rng.chance(30) {
                    let h = held[k].swap_remove(rng.below(held[k].len() as u64) as usize);
                    let _ = if rng.chance(50) {
                        c.close(h)
                    } else {
                        c.abort(h)
                    };
                }
                c.poll(now);
                assert!(c.connections() <= MAX, "seed {seed} step {step}");
                assert!(c.half_open() <= HALF_OPEN_MAX, "seed {seed} step {step}");
            }
            answer_syn_acks(&nic, &mut replies);
        }
        let s = cores[0].counters().snapshot();
        assert!(s.syncookies_validated > 0 && s.accepted > 0, "{s:?}");
        assert!(s.neighbor_ignored > 0, "{s:?}");
    }
}
