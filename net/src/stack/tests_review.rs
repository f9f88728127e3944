//! Review of the SYN flood and neighbor defences (issue 11): hostile frames through whole
//! stacks, with the invariants the defences promise checked after every poll.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{Core, OUR_IP, OUR_MAC, Rng, cores_with};

pub(super) const THEIR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x66];

/// The Internet checksum of `data` (odd length padded), starting from `sum`.
pub(super) fn csum(mut sum: u32, data: &[u8]) -> u16 {
    for c in data.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet/IPv4 frame around `l4` (protocol `proto`), its checksums right unless `bad`.
pub(super) fn ipv4_frame(
    src: [u8; 4],
    proto: u8,
    mut l4: Vec<u8>,
    opts: &[u8],
    bad: bool,
) -> Vec<u8> {
    let ihl = 20 + opts.len();
    let total = ihl + l4.len();
    if proto == 6 && l4.len() >= 18 {
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&OUR_IP);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        l4[16] = 0;
        l4[17] = 0;
        pseudo.extend_from_slice(&l4);
        let c = csum(0, &pseudo).wrapping_add(u16::from(bad));
        l4[16..18].copy_from_slice(&c.to_be_bytes());
    }
    let mut f = Vec::new();
    f.extend_from_slice(&OUR_MAC);
    f.extend_from_slice(&THEIR_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = std::vec![0u8; 20];
    ip[0] = 0x40 | (ihl / 4) as u8;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&OUR_IP);
    ip.extend_from_slice(opts);
    let c = csum(0, &ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&l4);
    f
}

/// A TCP header (flags, sequence numbers, options, payload) as bytes.
pub(super) fn tcp_bytes(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    opts: &[u8],
) -> Vec<u8> {
    let mut t = std::vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = (((20 + opts.len()) / 4) as u8) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&4096u16.to_be_bytes());
    t.extend_from_slice(opts);
    t
}

/// A hostile frame: TCP with any flags, options and sequence numbers (mostly valid
/// checksums, so smoltcp and the cookie code look at them), ARP of every kind, UDP, runts.
fn hostile(rng: &mut Rng, replies: &mut Vec<Vec<u8>>) -> Vec<u8> {
    // Few sources and ports, so flows repeat and meet their own state.
    let src = match rng.below(4) {
        0 => [10, 0, 0, 1 + rng.below(8) as u8],
        1 => [100, 64, 0, rng.below(4) as u8],
        2 => [rng.next() as u8, 1, 2, 3],
        _ => [192, 0, 2, rng.below(3) as u8],
    };
    let sport = 1024 + rng.below(6) as u16;
    let dport = [80, 80, 80, 81, rng.next() as u16][rng.below(5) as usize];
    let kind = rng.below(100);
    let mut f = if kind < 60 {
        let flags = match rng.below(8) {
            0..=2 => 0x02,
            3 | 4 => 0x10,
            5 => 0x18,
            6 => 0x11,
            _ => rng.next() as u8,
        };
        let opts_len = 4 * rng.below(3) as usize;
        let mut opts = rng.bytes(opts_len);
        if opts_len >= 4 && rng.chance(50) {
            opts[..4].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        }
        let mut t = tcp_bytes(
            sport,
            dport,
            rng.next() as u32,
            rng.next() as u32,
            flags,
            &opts,
        );
        if rng.chance(20) {
            let n = rng.below(64) as usize;
            t.extend(rng.bytes(n));
        }
        if rng.chance(5) {
            t[12] = (rng.next() as u8) & 0xf0; // any data offset
        }
        let ip_opts = if rng.chance(5) {
            rng.bytes(4)
        } else {
            Vec::new()
        };
        ipv4_frame(src, 6, t, &ip_opts, rng.chance(5))
    } else if kind < 75 {
        // The answer to one of our SYN-ACKs (valid cookie or RFC 6528 ISN), or data after it.
        if let Some(r) = replies.pop() {
            r
        } else {
            return Vec::new();
        }
    } else if kind < 90 {
        let mut a = std::vec![0u8; 28];
        a[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
        a[7] = rng.below(4) as u8;
        a[8..14].copy_from_slice(&THEIR_MAC);
        a[14..18].copy_from_slice(&src);
        a[24..28].copy_from_slice(if rng.chance(70) { &OUR_IP } else { &src });
        if rng.chance(10) {
            a[8] = 0xff; // multicast sender MAC
        }
        let mut f = Vec::new();
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&THEIR_MAC);
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&a);
        f
    } else {
        let mut u = std::vec![0u8; 8];
        u[0..2].copy_from_slice(&sport.to_be_bytes());
        u[2..4].copy_from_slice(&[7u16, 9, 68][rng.below(3) as usize].to_be_bytes());
        let n = rng.below(32) as usize;
        u.extend(rng.bytes(n));
        let n = u.len() as u16;
        u[4..6].copy_from_slice(&n.to_be_bytes());
        ipv4_frame(src, 17, u, &[], false)
    };
    if rng.chance(3) {
        let n = rng.below(f.len() as u64 + 1) as usize;
        f.truncate(n);
    }
    f
}

/// For every SYN-ACK the cores sent, the peer's ACK (sometimes with data) to send later.
fn answer_syn_acks(nic: &SimNic, rng: &mut Rng, replies: &mut Vec<Vec<u8>>) {
    while let Some(f) = nic.take_sent() {
        let Some(seg) = super::synwire::parse(&f, |_| true) else {
            continue;
        };
        let (crate::ip::IpAddr::V4(peer), Some(ack)) = (seg.dst, seg.ack) else {
            continue;
        };
        if !seg.syn || replies.len() > 256 {
            continue;
        }
        let flags = if rng.chance(30) { 0x18 } else { 0x10 };
        let mut t = tcp_bytes(
            seg.dst_port,
            seg.src_port,
            ack,
            seg.seq.wrapping_add(1),
            flags,
            &[],
        );
        if flags == 0x18 {
            t.extend_from_slice(b"GET / HTTP/1.0\r\n\r\n");
        }
        replies.push(ipv4_frame(peer, 6, t, &[], false));
    }
}

/// Thousands of hostile frames (and the ACKs that complete some handshakes: cookies and
/// RFC 6528 ISNs alike) into two cores that never accept: no panic, and neither the
/// connection limit nor the half-open bound is ever exceeded.
#[test]
fn hostile_frames_never_exceed_the_limits() {
    const MAX: usize = 12;
    const HALF_OPEN_MAX: usize = 4;
    for seed in 1..=6u64 {
        let rss = RssConfig::new(2).unwrap();
        let nic = SimNic::new(rss.clone(), 1 << 12);
        let mut cores: Vec<Core> = cores_with(&nic, &rss, true, |c| {
            c.max_connections = MAX;
            c.half_open_max = HALF_OPEN_MAX;
            c.half_open_per_port = 2;
            c.gateway = Some([10, 0, 0, 1]);
        });
        for c in cores.iter_mut() {
            c.listen(80).unwrap();
            c.listen(81).unwrap();
        }
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut replies = Vec::new();
        let mut held: [Vec<TcpConn>; 2] = [Vec::new(), Vec::new()];
        let mut now = 1_000_000u64;
        for step in 0..3000 {
            for _ in 0..rng.below(24) {
                let f = hostile(&mut rng, &mut replies);
                nic.deliver(f);
            }
            now += match rng.below(50) {
                0 => 70_000_000, // a cookie period and more
                1 => 3_500_000,  // past the SYN-RECEIVED timeout
                _ => rng.below(3000),
            };
            for (k, c) in cores.iter_mut().enumerate() {
                // The application: accepts, then closes or aborts at random.
                for port in [80, 81] {
                    while let Ok(h) = c.accept(port) {
                        held[k].push(h);
                    }
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
                assert!(
                    c.connections() <= MAX,
                    "seed {seed} step {step}: {} connections on core {}",
                    c.connections(),
                    c.queue()
                );
                assert!(
                    c.half_open() <= HALF_OPEN_MAX,
                    "seed {seed} step {step}: {} half-open on core {}",
                    c.half_open(),
                    c.queue()
                );
                assert!(c.half_open_fifo.len() <= 2 * HALF_OPEN_MAX + 64 + 1);
            }
            answer_syn_acks(&nic, &mut rng, &mut replies);
        }
        let s = cores[0].counters().snapshot();
        assert!(s.syncookies_sent > 0 && s.syncookies_validated > 0, "{s:?}");
    }
}

/// A spoofed SYN flood spread over three listening ports: every port stays under its
/// half-open budget (3 x 128 > the core's 256), so without care no cookie is ever sent and
/// each SYN evicts the oldest half-open connection, a real client's included, long before
/// its ACK comes back. Real clients must still be served, as with one port flooded.
#[test]
fn a_flood_over_three_ports_still_serves_real_clients() {
    use super::tests_synflood::{segment, syn_repr};
    use crate::testkit::{PEER_IP, Peer};
    use smoltcp::socket::tcp;
    let rss = RssConfig::new(1).unwrap();
    let nic = SimNic::new(rss.clone(), 1 << 16);
    let mut cores = cores_with(&nic, &rss, true, |c| {
        c.max_connections = 2000;
        c.rx_budget = 256;
        c.gateway = Some(PEER_IP);
    });
    let mut core = cores.pop().unwrap();
    let mut peer = Peer::new(&nic);
    for port in [80, 81, 82] {
        core.listen(port).unwrap();
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut now = 0;
    let mut clients = Vec::new();
    let mut accepted = 0;
    for ms in 0..400u64 {
        for k in 0..120u64 {
            let r = rng.next();
            let src = [
                100,
                64 + (r as u8 & 63),
                (r >> 8) as u8,
                (r >> 16) as u8 | 1,
            ];
            let port = [80, 81, 82][(k % 3) as usize];
            let sport = 1024 + (r >> 24) as u16 % 60_000;
            nic.deliver(segment(
                THEIR_MAC,
                src,
                &syn_repr(sport, port, (r >> 32) as u32),
            ));
        }
        if ms % 100 == 50 && ms < 300 {
            clients.push(peer.connect(40_000 + ms as u16, 80));
        }
        // The client is 5 ms away: 600 spoofed SYNs arrive between its SYN and its ACK.
        now += 1000;
        if ms % 5 == 0 {
            peer.poll(now);
        }
        core.poll(now);
        while core.accept(80).is_ok() {
            accepted += 1;
        }
        assert!(core.half_open() <= 256);
    }
    let c = core.counters().snapshot();
    for &h in &clients {
        let s = peer.tcp(h);
        assert_eq!(s.state(), tcp::State::Established, "{c:?}");
    }
    assert_eq!(accepted, clients.len(), "{c:?}");
}
