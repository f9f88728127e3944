//! Frames of the SYN-cookie exchange (IPv4, and IPv6 with the `ipv6` feature): parse a SYN or
//! an ACK, build our SYN-ACK, and rebuild from a cookie ACK the SYN that smoltcp is then shown.
//!
//! Parsing goes through smoltcp's checked wire types, so checksums, lengths and fragments
//! are validated as smoltcp itself would before we answer anything. IPv6 is looked at only
//! with TCP right after the fixed header (as `classify` does).

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr,
    TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};
#[cfg(feature = "ipv6")]
use smoltcp::wire::{Ipv6Packet, Ipv6Repr};

use crate::ip::IpAddr;

const ETH_LEN: usize = 14;

/// The fields of a received TCP segment that the cookie exchange needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    /// Ethernet source (the peer's MAC, or its router's).
    pub src_mac: [u8; 6],
    /// Ethernet destination (our MAC, or broadcast).
    pub dst_mac: [u8; 6],
    /// IP source (a unicast address).
    pub src: IpAddr,
    /// IP destination (checked to be ours).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: Option<u32>,
    pub window: u16,
    pub mss: Option<u16>,
    /// SYN set (and no FIN or RST).
    pub syn: bool,
    /// RST or FIN set.
    pub rst_or_fin: bool,
}

/// Parses an Ethernet/IP/TCP frame whose destination `is_ours`, checksums verified; `None`
/// for anything else (including a source that is not a unicast address).
pub(super) fn parse(frame: &[u8], is_ours: impl Fn(IpAddr) -> bool) -> Option<Segment> {
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let (src, dst, ttl, l4) = match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            let r = Ipv4Repr::parse(&ip, &caps).ok()?;
            let s = r.src_addr;
            if r.next_header != IpProtocol::Tcp
                || s.is_broadcast()
                || s.is_multicast()
                || s.is_unspecified()
                || s.is_loopback()
            {
                return None;
            }
            (
                IpAddress::Ipv4(s),
                IpAddress::Ipv4(r.dst_addr),
                r.hop_limit,
                ip.payload(),
            )
        }
        #[cfg(feature = "ipv6")]
        EthernetProtocol::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            let r = Ipv6Repr::parse(&ip).ok()?;
            let s = r.src_addr;
            // An IPv4-mapped source would alias an IPv4 flow in the flow table.
            let mapped = matches!(IpAddr::from_mapped(s.octets()), IpAddr::V4(_));
            if r.next_header != IpProtocol::Tcp
                || s.is_multicast()
                || s.is_unspecified()
                || s.is_loopback()
                || mapped
            {
                return None;
            }
            (
                IpAddress::Ipv6(s),
                IpAddress::Ipv6(r.dst_addr),
                r.hop_limit,
                ip.payload(),
            )
        }
        _ => return None,
    };
    let (s, d) = (IpAddr::from_smoltcp(src), IpAddr::from_smoltcp(dst));
    if !is_ours(d) || s == d {
        return None;
    }
    let tcp = TcpPacket::new_checked(l4).ok()?;
    let r = TcpRepr::parse(&tcp, &src, &dst, &caps).ok()?;
    Some(Segment {
        src_mac: eth.src_addr().0,
        dst_mac: eth.dst_addr().0,
        src: s,
        dst: d,
        ttl,
        src_port: r.src_port,
        dst_port: r.dst_port,
        seq: r.seq_number.0 as u32,
        ack: r.ack_number.map(|a| a.0 as u32),
        window: r.window_len,
        mss: r.max_seg_size,
        syn: r.control == TcpControl::Syn,
        rst_or_fin: matches!(r.control, TcpControl::Rst | TcpControl::Fin),
    })
}

/// A bare SYN (or SYN-ACK) header with the MSS option only: no window scaling, SACK or
/// timestamps.
fn syn_repr(
    (src_port, dst_port): (u16, u16),
    seq: u32,
    ack: Option<u32>,
    window: u16,
    mss: u16,
) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        dst_port,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: window,
        window_scale: None,
        max_seg_size: Some(mss),
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    }
}

fn ip_len(a: IpAddr) -> usize {
    match a {
        IpAddr::V4(_) => 20,
        IpAddr::V6(_) => 40,
    }
}

/// Length of the Ethernet frame carrying `tcp` between addresses of `a`'s family.
pub(super) fn frame_len(a: IpAddr, tcp: &TcpRepr) -> usize {
    ETH_LEN + ip_len(a) + tcp.buffer_len()
}

/// Writes an Ethernet/IP/TCP frame into `buf` ([`frame_len`] long). An IPv6 pair without the
/// `ipv6` feature (never parsed then) or mixed families leave `buf` as it is.
pub(super) fn emit(
    buf: &mut [u8],
    (dst_mac, src_mac): ([u8; 6], [u8; 6]),
    (src, dst): (IpAddr, IpAddr),
    ttl: u8,
    tcp: &TcpRepr,
) {
    let caps = ChecksumCapabilities::default();
    let (Some(s), Some(d)) = (src.to_smoltcp(), dst.to_smoltcp()) else {
        return;
    };
    let mut eth = EthernetFrame::new_unchecked(&mut *buf);
    eth.set_dst_addr(EthernetAddress(dst_mac));
    eth.set_src_addr(EthernetAddress(src_mac));
    let l4 = ETH_LEN + ip_len(src);
    match (s, d) {
        (IpAddress::Ipv4(s4), IpAddress::Ipv4(d4)) => {
            eth.set_ethertype(EthernetProtocol::Ipv4);
            let ip = Ipv4Repr {
                src_addr: s4,
                dst_addr: d4,
                next_header: IpProtocol::Tcp,
                payload_len: tcp.buffer_len(),
                hop_limit: ttl,
            };
            ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[ETH_LEN..]), &caps);
        }
        #[cfg(feature = "ipv6")]
        (IpAddress::Ipv6(s6), IpAddress::Ipv6(d6)) => {
            eth.set_ethertype(EthernetProtocol::Ipv6);
            let ip = Ipv6Repr {
                src_addr: s6,
                dst_addr: d6,
                next_header: IpProtocol::Tcp,
                payload_len: tcp.buffer_len(),
                hop_limit: ttl,
            };
            ip.emit(&mut Ipv6Packet::new_unchecked(&mut buf[ETH_LEN..]));
        }
        #[cfg(feature = "ipv6")]
        _ => return,
    }
    tcp.emit(&mut TcpPacket::new_unchecked(&mut buf[l4..]), &s, &d, &caps);
}

/// Our SYN-ACK answering `syn`, ISN `cookie`: its header and the frame's length.
pub(super) fn syn_ack(
    syn: &Segment,
    cookie: u32,
    mss: u16,
    window: u16,
) -> (TcpRepr<'static>, usize) {
    let ack = Some(syn.seq.wrapping_add(1));
    let tcp = syn_repr((syn.dst_port, syn.src_port), cookie, ack, window, mss);
    let len = frame_len(syn.src, &tcp);
    (tcp, len)
}

/// Writes our SYN-ACK (from [`syn_ack`]) to `syn`'s sender: back to the Ethernet source of the
/// SYN (no neighbor lookup: the source may be spoofed, and resolving it would only add
/// traffic).
pub(super) fn write_syn_ack(buf: &mut [u8], syn: &Segment, our_mac: [u8; 6], tcp: &TcpRepr) {
    emit(buf, (syn.src_mac, our_mac), (syn.dst, syn.src), 64, tcp);
}

/// The SYN the peer sent before `ack` (sequence number one less, the MSS the cookie kept), as
/// it would have arrived: for a fresh listening socket to learn the connection from.
pub(super) fn rebuild_syn(ack: &Segment, mss: u16) -> Vec<u8> {
    let tcp = syn_repr(
        (ack.src_port, ack.dst_port),
        ack.seq.wrapping_sub(1),
        None,
        ack.window,
        mss,
    );
    let mut f = vec![0u8; frame_len(ack.src, &tcp)];
    emit(
        &mut f,
        (ack.dst_mac, ack.src_mac),
        (ack.src, ack.dst),
        ack.ttl,
        &tcp,
    );
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: [u8; 4] = [10, 0, 0, 2];
    const PEER: [u8; 4] = [192, 0, 2, 9];

    fn syn(src: IpAddr, dst: IpAddr) -> Segment {
        Segment {
            src_mac: [2, 0, 0, 0, 0, 9],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src,
            dst,
            ttl: 61,
            src_port: 5555,
            dst_port: 80,
            seq: 0xffff_fff0,
            ack: None,
            window: 29_200,
            mss: Some(1460),
            syn: true,
            rst_or_fin: false,
        }
    }

    fn round_trip(us: IpAddr, peer: IpAddr) {
        let mut ack = syn(peer, us);
        ack.syn = false;
        ack.seq = 0xffff_fff1;
        ack.ack = Some(1235);
        ack.mss = None;
        let f = rebuild_syn(&ack, 1440);
        let p = parse(&f, |a| a == us).unwrap();
        assert_eq!(
            p,
            Segment {
                mss: Some(1440),
                ..syn(peer, us)
            }
        );
        assert_eq!(parse(&f, |_| false), None, "not our address");

        let (tcp, len) = syn_ack(&syn(peer, us), 1234, 1460, 4096);
        let mut b = vec![0u8; len];
        write_syn_ack(&mut b, &syn(peer, us), [2, 0, 0, 0, 0, 2], &tcp);
        assert_eq!(&b[..6], &[2, 0, 0, 0, 0, 9]);
        let r = parse(&b, |a| a == peer).unwrap();
        assert!(r.syn && r.seq == 1234 && r.ack == Some(0xffff_fff1));
        assert_eq!(
            (r.src_port, r.dst_port, r.mss, r.window),
            (80, 5555, Some(1460), 4096)
        );
        // A flipped bit anywhere in the IP or TCP header fails a checksum or a length check
        // (IPv6 has no header checksum, but the TCP pseudo-header covers its addresses and
        // length; its traffic class and flow label are not covered and not looked at).
        for i in ETH_LEN..b.len() {
            // IPv6: traffic class, flow label and hop limit are covered by nothing.
            if matches!(us, IpAddr::V6(_)) && [15, 16, 17, 21].contains(&i) {
                continue;
            }
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert_eq!(parse(&c, |a| a == peer), None, "byte {i}");
        }
        for n in 0..b.len() {
            assert_eq!(parse(&b[..n], |a| a == peer), None);
        }
    }

    #[test]
    fn rebuilt_syn_and_syn_ack_parse_back() {
        round_trip(IpAddr::V4(US), IpAddr::V4(PEER));
    }

    #[cfg(feature = "ipv6")]
    #[test]
    fn rebuilt_syn_and_syn_ack_parse_back_over_ipv6() {
        let us = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let peer = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        round_trip(IpAddr::V6(us), IpAddr::V6(peer));
        // IPv4-mapped sources are refused (they would alias IPv4 flows).
        let mut ack = syn(IpAddr::V6(crate::ip::mapped(PEER)), IpAddr::V6(us));
        ack.syn = false;
        ack.ack = Some(2);
        assert_eq!(parse(&rebuild_syn(&ack, 536), |_| true), None);
    }
}
