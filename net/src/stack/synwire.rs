//! Frames of the SYN-cookie exchange (IPv4): parse a SYN or an ACK, build our SYN-ACK, and
//! rebuild from a cookie ACK the SYN that smoltcp is then shown.
//!
//! Parsing goes through smoltcp's checked wire types, so checksums, lengths and fragments
//! are validated as smoltcp itself would before we answer anything.

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Address,
    Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};

const ETH_LEN: usize = 14;
const IPV4_LEN: usize = 20;

/// The fields of a received IPv4 TCP segment that the cookie exchange needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    /// Ethernet source (the peer's MAC, or its router's).
    pub src_mac: [u8; 6],
    /// Ethernet destination (our MAC, or broadcast).
    pub dst_mac: [u8; 6],
    /// IPv4 source.
    pub src: [u8; 4],
    /// IPv4 destination (checked to be ours).
    pub dst: [u8; 4],
    /// IPv4 TTL.
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

/// Parses an Ethernet/IPv4/TCP frame addressed to `our_ip`, checksums verified; `None` for
/// anything else (including a source that is not a unicast address).
pub(super) fn parse(frame: &[u8], our_ip: [u8; 4]) -> Option<Segment> {
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let ip_repr = Ipv4Repr::parse(&ip, &caps).ok()?;
    let (src, dst) = (ip_repr.src_addr, ip_repr.dst_addr);
    if ip_repr.next_header != IpProtocol::Tcp
        || dst.octets() != our_ip
        || src.is_broadcast()
        || src.is_multicast()
        || src.is_unspecified()
        || src.is_loopback()
        || src == dst
    {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let r = TcpRepr::parse(&tcp, &IpAddress::Ipv4(src), &IpAddress::Ipv4(dst), &caps).ok()?;
    Some(Segment {
        src_mac: eth.src_addr().0,
        dst_mac: eth.dst_addr().0,
        src: src.octets(),
        dst: dst.octets(),
        ttl: ip_repr.hop_limit,
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

/// A bare TCP header with the MSS option only: no window scaling, SACK or timestamps.
fn tcp_repr(
    src_port: u16,
    dst_port: u16,
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

/// Writes an Ethernet/IPv4/TCP frame (`buf` exactly 34 bytes + `tcp.buffer_len()` long).
pub(super) fn emit(
    buf: &mut [u8],
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    tcp: &TcpRepr,
) {
    let caps = ChecksumCapabilities::default();
    let mut eth = EthernetFrame::new_unchecked(&mut *buf);
    eth.set_dst_addr(EthernetAddress(dst_mac));
    eth.set_src_addr(EthernetAddress(src_mac));
    eth.set_ethertype(EthernetProtocol::Ipv4);
    let (s, d) = (Ipv4Address::from(src), Ipv4Address::from(dst));
    let ip = Ipv4Repr {
        src_addr: s,
        dst_addr: d,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: ttl,
    };
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[ETH_LEN..]), &caps);
    let mut p = TcpPacket::new_unchecked(&mut buf[ETH_LEN + IPV4_LEN..]);
    tcp.emit(&mut p, &IpAddress::Ipv4(s), &IpAddress::Ipv4(d), &caps);
}

/// Length of a frame holding a TCP header with only the MSS option.
pub(super) fn frame_len() -> usize {
    ETH_LEN + IPV4_LEN + tcp_repr(1, 1, 0, None, 0, 0).buffer_len()
}

/// Our SYN-ACK answering `syn` with ISN `cookie`, back to the Ethernet source of the SYN
/// (no neighbor lookup: the source may be spoofed, and ARP for it would only add traffic).
pub(super) fn write_syn_ack(
    buf: &mut [u8],
    syn: &Segment,
    our_mac: [u8; 6],
    cookie: u32,
    mss: u16,
    window: u16,
) {
    let tcp = tcp_repr(
        syn.dst_port,
        syn.src_port,
        cookie,
        Some(syn.seq.wrapping_add(1)),
        window,
        mss,
    );
    emit(buf, syn.src_mac, our_mac, syn.dst, syn.src, 64, &tcp);
}

/// The SYN the peer sent before `ack` (sequence number one less, the MSS the cookie kept), as
/// it would have arrived: for a fresh listening socket to learn the connection from.
pub(super) fn rebuild_syn(ack: &Segment, mss: u16) -> Vec<u8> {
    let mut f = vec![0u8; frame_len()];
    let tcp = tcp_repr(
        ack.src_port,
        ack.dst_port,
        ack.seq.wrapping_sub(1),
        None,
        ack.window,
        mss,
    );
    emit(
        &mut f,
        ack.dst_mac,
        ack.src_mac,
        ack.src,
        ack.dst,
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

    fn syn() -> Segment {
        Segment {
            src_mac: [2, 0, 0, 0, 0, 9],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src: PEER,
            dst: US,
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

    #[test]
    fn rebuilt_syn_and_syn_ack_parse_back() {
        let mut ack = syn();
        ack.syn = false;
        ack.seq = 0xffff_fff1;
        ack.ack = Some(1235);
        ack.mss = None;
        let f = rebuild_syn(&ack, 1440);
        let p = parse(&f, US).unwrap();
        assert_eq!(
            p,
            Segment {
                mss: Some(1440),
                ..syn()
            }
        );
        assert_eq!(parse(&f, [10, 0, 0, 3]), None, "not our address");

        let mut b = vec![0u8; frame_len()];
        write_syn_ack(&mut b, &syn(), [2, 0, 0, 0, 0, 2], 1234, 1460, 4096);
        assert_eq!(&b[..6], &[2, 0, 0, 0, 0, 9]);
        let r = parse(&b, PEER).unwrap();
        assert!(r.syn && r.seq == 1234 && r.ack == Some(0xffff_fff1));
        assert_eq!(
            (r.src_port, r.dst_port, r.mss, r.window),
            (80, 5555, Some(1460), 4096)
        );
        // A flipped bit anywhere in the TCP or IP header fails the checksum: never answered.
        for i in ETH_LEN..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert_eq!(parse(&c, PEER), None, "byte {i}");
        }
        for n in 0..b.len() {
            assert_eq!(parse(&b[..n], PEER), None);
        }
    }
}
