//! The model on its own, programmed register by register as the datasheet says (not through
//! the driver), so its behaviour is checked independently of the code it tests.

use std::vec::Vec;

use corenet_nic::steering::{DEFAULT_KEY, ipv4_l4_input, ipv6_input, ipv6_l4_input, toeplitz};
use corenet_nic::{DmaAllocator, DmaRegion};

use super::*;
use crate::RegisterAccess;
use crate::desc::*;
use crate::model::{Model82599, ModelParams, RxOutcome};
use crate::regs::*;

#[test]
fn reset_holds_rst_then_clears_and_reloads_the_eeprom() {
    let m = Model82599::new(ModelParams::default());
    m.write32(FCTRL, FCTRL_BAM);
    m.write32(CTRL, CTRL_RST);
    assert_ne!(m.read32(CTRL) & CTRL_RST, 0, "reset in progress");
    assert_eq!(m.read32(FCTRL), 0, "registers back to initial values");
    assert_eq!(m.read32(EEC) & EEC_ARD, 0);
    m.advance(499);
    assert_ne!(m.read32(CTRL) & CTRL_RST, 0);
    m.advance(1);
    assert_eq!(m.read32(CTRL) & CTRL_RST, 0);
    assert_eq!(
        m.read32(RDRXCTL) & RDRXCTL_DMAIDONE,
        0,
        "EEPROM not read yet"
    );
    m.advance(2_000);
    assert_ne!(m.read32(EEC) & EEC_ARD, 0);
    assert_ne!(m.read32(RDRXCTL) & RDRXCTL_DMAIDONE, 0);
    assert_ne!(m.read32(RAH0) & RAH_AV, 0);
}

#[test]
fn statistics_clear_on_read_and_octets_on_the_high_half() {
    let m = Model82599::new(ModelParams::default());
    m.with(|d| {
        d.count(GPRC, 3);
        d.count_octets(GORCL, (1 << 32) + 5);
    });
    assert_eq!(m.read32(GPRC), 3);
    assert_eq!(m.read32(GPRC), 0);
    assert_eq!(m.read32(GORCL), 5);
    assert_eq!(
        m.read32(GORCL),
        5,
        "low half holds until the high half is read"
    );
    assert_eq!(m.read32(GORCH), 1);
    assert_eq!(m.peek(GORCL), 0);
}

#[test]
fn queue_enable_reads_back_only_after_time_passes() {
    let m = Model82599::new(ModelParams::default());
    m.write32(rxdctl(3), DCTL_ENABLE);
    assert_eq!(m.read32(rxdctl(3)) & DCTL_ENABLE, 0);
    m.advance(50);
    assert_ne!(m.read32(rxdctl(3)) & DCTL_ENABLE, 0);
    m.write32(txdctl(70 - 64), DCTL_ENABLE);
    m.advance(50);
    assert_ne!(m.read32(txdctl(6)) & DCTL_ENABLE, 0);
}

/// Auto-negotiation restarted with the cable in: the link is up once link training is over.
fn link_up(m: &Model82599) {
    m.write32(AUTOC, AUTOC_LMS_10G_SERIAL | AUTOC_AN_RESTART);
    assert_eq!(m.read32(LINKS) & LINKS_UP, 0);
    m.advance(ModelParams::default().link_us);
    assert_ne!(m.read32(LINKS) & LINKS_UP, 0);
}

/// A raw ring programmed by hand: 8 descriptors, buffers at 2 KB strides.
struct RawRx {
    ring: DmaRegion,
    bufs: DmaRegion,
}

fn raw_rx(m: &Model82599, q: u16, posted: u32) -> RawRx {
    link_up(m);
    let mut dma = m.allocator();
    let ring = dma.alloc_dma(8 * 16, 128).unwrap();
    let bufs = dma.alloc_dma(8 * 2048, 128).unwrap();
    m.write32(rdbal(q), ring.phys as u32);
    m.write32(rdbah(q), (ring.phys >> 32) as u32);
    m.write32(rdlen(q), 8 * 16);
    m.write32(srrctl(q), SRRCTL_DESCTYPE_ADV_ONEBUF | 2);
    for i in 0..8u16 {
        let a = bufs.phys + u64::from(i) * 2048;
        m.with(|d| d.write_rx_desc(q, i, [a as u32, (a >> 32) as u32, 0, 0]));
    }
    m.write32(rxdctl(q), DCTL_ENABLE);
    m.advance(100);
    m.write32(rdt(q), posted);
    RawRx { ring, bufs }
}

fn read_desc(m: &Model82599, r: &RawRx, i: usize) -> [u32; 4] {
    let mut out = [0u32; 4];
    for (j, w) in out.iter_mut().enumerate() {
        *w = m.with(|d| d.peek_mem_u32(r.ring.phys + (i * 16 + j * 4) as u64));
    }
    out
}

#[test]
fn rx_write_back_head_tail_and_wrap_follow_the_datasheet() {
    let m = Model82599::new(ModelParams::default());
    m.write32(RXCTRL, RXCTRL_RXEN);
    m.write32(RDRXCTL, RDRXCTL_CRCSTRIP);
    let r = raw_rx(&m, 0, 3);
    let before = m.faults();
    // RDH = 0, RDT = 3: three descriptors are the device's.
    for i in 0..3u8 {
        assert_eq!(
            m.inject(&test_frame(i, 20)),
            RxOutcome::Delivered { queue: 0 }
        );
    }
    assert_eq!(m.inject(&test_frame(9, 20)), RxOutcome::Missed { queue: 0 });
    assert_eq!(m.peek(rdh(0)), 3);
    assert_eq!(m.read32(mpc(0)), 1);
    let wb = read_desc(&m, &r, 1);
    assert_eq!(wb[2] & (RX_STAT_DD | RX_STAT_EOP), RX_STAT_DD | RX_STAT_EOP);
    assert_eq!(wb[3] & 0xFFFF, test_frame(1, 20).len() as u32);
    assert_eq!(
        wb[0] & RX_WB_RSSTYPE_MASK,
        RSSTYPE_NONE,
        "RSS off: no hash type"
    );
    let buf1 = m.with(|d| d.peek_mem(r.bufs.phys + 2048, test_frame(1, 20).len()));
    assert_eq!(buf1, test_frame(1, 20));
    // Give the device descriptors 3..7 and 0 (RDT wraps to 1): head wraps past 7. Descriptor
    // 0 holds a write-back now, so it is re-posted in read format first, as software must.
    let a = r.bufs.phys;
    m.with(|d| d.write_rx_desc(0, 0, [a as u32, (a >> 32) as u32, 0, 0]));
    m.write32(rdt(0), 1);
    for i in 0..6u8 {
        assert_eq!(
            m.inject(&test_frame(i, 20)),
            RxOutcome::Delivered { queue: 0 }
        );
    }
    assert_eq!(m.peek(rdh(0)), 1);
    assert_eq!(m.faults(), before);
    // Descriptor 1 was not re-posted: its old write-back is no buffer address, and a device
    // given it anyway faults instead of writing somewhere arbitrary.
    m.write32(rdt(0), 2);
    assert_eq!(m.inject(&test_frame(7, 20)), RxOutcome::Fault);
    assert_eq!(m.faults(), before + 1);
}

#[test]
fn rx_frames_larger_than_the_buffer_span_descriptors_with_eop_on_the_last() {
    let m = Model82599::new(ModelParams::default());
    m.write32(RXCTRL, RXCTRL_RXEN);
    m.write32(RDRXCTL, RDRXCTL_CRCSTRIP);
    let r = raw_rx(&m, 0, 7);
    m.write32(srrctl(0), SRRCTL_DESCTYPE_ADV_ONEBUF | 1); // 1 KB buffers
    let big = test_frame(1, 1400);
    assert_eq!(m.inject(&big), RxOutcome::Delivered { queue: 0 });
    let (d0, d1) = (read_desc(&m, &r, 0), read_desc(&m, &r, 1));
    assert_eq!(d0[2] & (RX_STAT_DD | RX_STAT_EOP), RX_STAT_DD);
    assert_eq!(d0[3] & 0xFFFF, 1024);
    assert_eq!(d1[2] & (RX_STAT_DD | RX_STAT_EOP), RX_STAT_DD | RX_STAT_EOP);
    assert_eq!((d1[3] & 0xFFFF) as usize, big.len() - 1024);
}

#[test]
fn legacy_descriptors_and_unaligned_rings_are_faults_not_guesses() {
    let m = Model82599::new(ModelParams::default());
    m.write32(RXCTRL, RXCTRL_RXEN);
    m.write32(RDRXCTL, RDRXCTL_CRCSTRIP);
    let _r = raw_rx(&m, 0, 7);
    let before = m.faults();
    m.write32(srrctl(0), 2); // legacy descriptor type
    assert_eq!(m.inject(&test_frame(1, 20)), RxOutcome::Fault);
    m.write32(srrctl(0), SRRCTL_DESCTYPE_ADV_ONEBUF | 2);
    let base = m.peek(rdbal(0));
    m.write32(rdbal(0), base + 16);
    assert_eq!(m.inject(&test_frame(1, 20)), RxOutcome::Fault);
    // CRC strip configured in one place only.
    m.write32(rdbal(0), base);
    m.write32(RDRXCTL, 0);
    assert_eq!(m.inject(&test_frame(1, 20)), RxOutcome::Fault);
    assert_eq!(m.faults(), before + 3);
}

#[test]
fn rss_queue_is_reta_of_the_low_7_bits_of_the_toeplitz_hash() {
    let m = Model82599::new(ModelParams::default());
    for i in 0..10u16 {
        let k = &DEFAULT_KEY[4 * i as usize..4 * i as usize + 4];
        m.write32(rssrk(i), u32::from_le_bytes([k[0], k[1], k[2], k[3]]));
    }
    // Entry e names queue (e * 5) % 16.
    for i in 0..32u16 {
        let e = |j: u16| u32::from(((4 * i + j) * 5) % 16);
        m.write32(reta(i), e(0) | e(1) << 8 | e(2) << 16 | e(3) << 24);
    }
    m.write32(MRQC, MRQC_MRQE_RSS | MRQC_RSS_TCP_IPV4 | MRQC_RSS_IPV4);
    let mut rng = Rng(77);
    let mut seen = Vec::new();
    for _ in 0..300 {
        let r = rng.next();
        let (src, sp, dp) = ((r as u32).to_be_bytes(), (r >> 32) as u16, (r >> 48) as u16);
        let f = ipv4_frame(MAC, (src, [10, 0, 0, 1], sp, dp), true, 0, 0);
        let st = m.with(|d| d.steer(&f));
        let h = toeplitz(&DEFAULT_KEY, &ipv4_l4_input(src, [10, 0, 0, 1], sp, dp));
        assert_eq!(st.hash, h);
        assert_eq!(st.rss_type, RSSTYPE_IPV4_TCP);
        assert_eq!(u32::from(st.queue), ((h & 0x7F) * 5) % 16);
        seen.push(st.queue);
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 16, "all 16 queues reachable");
    // UDP is not enabled in MRQC here: hashed on addresses only.
    let f = ipv4_frame(MAC, ([1, 2, 3, 4], [10, 0, 0, 1], 5, 6), false, 0, 0);
    assert_eq!(m.with(|d| d.steer(&f)).rss_type, RSSTYPE_IPV4);
    // IPv6 is not enabled: not hashed, queue 0.
    let f6 = ipv6_frame(6, [1; 16], [2; 16], 5, 6);
    let st = m.with(|d| d.steer(&f6));
    assert_eq!((st.queue, st.rss_type), (0, RSSTYPE_NONE));
}

/// Ethernet + IPv6 fixed header with next header `next`, then the ports and padding.
fn ipv6_frame(next: u8, src: [u8; 16], dst: [u8; 16], sp: u16, dp: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x86, 0xDD, 0x60, 0, 0, 0, 0, 20, next, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    f.resize(f.len() + 16, 0);
    f
}

#[test]
fn ipv6_rss_hashes_the_ipv6_toeplitz_inputs_mrqc_enables() {
    let m = Model82599::new(ModelParams::default());
    for i in 0..10u16 {
        let k = &DEFAULT_KEY[4 * i as usize..4 * i as usize + 4];
        m.write32(rssrk(i), u32::from_le_bytes([k[0], k[1], k[2], k[3]]));
    }
    for i in 0..32u16 {
        let e = |j: u16| u32::from((4 * i + j) % 4);
        m.write32(reta(i), e(0) | e(1) << 8 | e(2) << 16 | e(3) << 24);
    }
    m.write32(
        MRQC,
        MRQC_MRQE_RSS | MRQC_RSS_IPV6 | MRQC_RSS_TCP_IPV6 | MRQC_RSS_UDP_IPV6,
    );
    let mut rng = Rng(99);
    let mut seen = [0usize; 4];
    for i in 0..300 {
        let mut src = [0u8; 16];
        src[..8].copy_from_slice(&rng.next().to_be_bytes());
        src[8..].copy_from_slice(&rng.next().to_be_bytes());
        let dst = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let r = rng.next();
        let (sp, dp) = (r as u16, (r >> 16) as u16);
        let next = [6, 17, 58][i % 3];
        let st = m.with(|d| d.steer(&ipv6_frame(next, src, dst, sp, dp)));
        let (h, t) = match next {
            6 => (
                toeplitz(&DEFAULT_KEY, &ipv6_l4_input(src, dst, sp, dp)),
                RSSTYPE_IPV6_TCP,
            ),
            17 => (
                toeplitz(&DEFAULT_KEY, &ipv6_l4_input(src, dst, sp, dp)),
                RSSTYPE_IPV6_UDP,
            ),
            _ => (toeplitz(&DEFAULT_KEY, &ipv6_input(src, dst)), RSSTYPE_IPV6),
        };
        assert_eq!((st.hash, st.rss_type), (h, t), "frame {i}");
        assert_eq!(u32::from(st.queue), (h & 0x7F) % 4);
        seen[usize::from(st.queue)] += 1;
    }
    assert!(seen.iter().all(|&n| n > 30), "{seen:?}");
    // Truncated IPv6 (no room for the addresses) is not hashed.
    let f = ipv6_frame(6, [1; 16], [2; 16], 1, 2);
    assert_eq!(m.with(|d| d.steer(&f[..50])).rss_type, RSSTYPE_NONE);
}

#[test]
fn tx_engine_writes_dd_without_head_write_back() {
    let m = Model82599::new(ModelParams::default());
    let mut dma = m.allocator();
    let ring = dma.alloc_dma(8 * 16, 128).unwrap();
    let buf = dma.alloc_dma(2048, 128).unwrap();
    let frame = test_frame(3, 30);
    m.with(|d| {
        assert!(d.poke_mem(buf.phys, &frame));
        let cmd = frame.len() as u32 | TX_DTYP_DATA | TX_DCMD_EOP | TX_DCMD_RS | TX_DCMD_DEXT;
        d.poke_mem(ring.phys, &buf.phys.to_le_bytes());
        d.poke_mem(ring.phys + 8, &cmd.to_le_bytes());
    });
    link_up(&m);
    m.write32(tdbal(0), ring.phys as u32);
    m.write32(tdbah(0), (ring.phys >> 32) as u32);
    m.write32(tdlen(0), 8 * 16);
    m.write32(DMATXCTL, DMATXCTL_TE);
    m.write32(txdctl(0), DCTL_ENABLE);
    m.advance(100);
    m.write32(tdt(0), 1);
    let out = m.take_tx();
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].data[..frame.len()], &frame[..]);
    assert!(!out[0].fcs, "IFCS was not set");
    assert_eq!(m.peek(tdh(0)), 1);
    let sta = m.with(|d| d.peek_mem_u32(ring.phys + 12));
    assert_eq!(sta & TX_STA_DD, TX_STA_DD);
    assert_eq!(m.read32(GPTC), 1);
    assert_eq!(m.read32(qptc(0)), 1);
}
