//! Just enough header parsing to pick the socket set a frame belongs to (O(1), no smoltcp).
//!
//! smoltcp re-parses and validates everything; this only has to be right for well-formed
//! frames and harmless for malformed ones (which go to a set with no sockets and are
//! dropped or answered with RST by smoltcp itself).

/// A TCP flow as seen from this host: (remote address, remote port, local port). The local
/// address is the same on every core and not part of the key (an IPv6 flow to our
/// link-local address and one to our global address from the same remote endpoint cannot
/// share a port pair in practice, as the remote address differs by scope too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Remote address: IPv6, or IPv4 as IPv4-mapped `::ffff:a.b.c.d` ([`crate::ip::mapped`]).
    pub remote: [u8; 16],
    /// Remote port.
    pub remote_port: u16,
    /// Local port.
    pub local_port: u16,
}

/// Where a received frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// ARP: processed with no sockets, and shared with the other cores.
    Arp,
    /// IPv6 Neighbor Discovery (ICMPv6 types 133-137): like ARP, processed with no sockets
    /// and shared with the other cores.
    Ndp,
    /// TCP over IPv4, or over IPv6 with TCP right after the fixed header.
    Tcp {
        /// The flow.
        tuple: Tuple,
        /// SYN without ACK: may open a connection on a listening port.
        syn: bool,
        /// RST set.
        rst: bool,
    },
    /// UDP to port 68: a DHCP server answering our client, on whichever core RSS chose.
    DhcpClient,
    /// Other IPv4 or IPv6 (UDP, ICMP, ICMPv6 but NDP, IPv6 with extension headers): the
    /// core's small set of datagram sockets.
    Datagram,
    /// Anything else, including truncated headers.
    Other,
}

const DHCP_CLIENT_PORT: u16 = 68;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

impl Class {
    /// ARP or NDP: neighbor information every core needs.
    #[inline]
    pub fn is_neighbor(self) -> bool {
        matches!(self, Class::Arp | Class::Ndp)
    }
}

/// Classifies an Ethernet frame.
pub fn classify(frame: &[u8]) -> Class {
    match frame.get(12..14) {
        Some([0x08, 0x06]) => return Class::Arp,
        Some([0x08, 0x00]) => {}
        #[cfg(feature = "ipv6")]
        Some([0x86, 0xdd]) => return classify_ipv6(frame),
        _ => return Class::Other,
    }
    let Some(ip) = frame.get(14..) else {
        return Class::Other;
    };
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return Class::Other;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let fragmented = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    if ip[9] == 17
        && !fragmented
        && ihl >= 20
        && ip.get(ihl + 2..ihl + 4) == Some(&DHCP_CLIENT_PORT.to_be_bytes())
    {
        return Class::DhcpClient;
    }
    if ip[9] != 6 || fragmented || ihl < 20 {
        return Class::Datagram;
    }
    let Some(tcp) = ip.get(ihl..ihl + 14) else {
        return Class::Other;
    };
    tcp_class(crate::ip::mapped([ip[12], ip[13], ip[14], ip[15]]), tcp)
}

/// `tcp` holds at least the first 14 bytes of the TCP header.
#[inline]
fn tcp_class(remote: [u8; 16], tcp: &[u8]) -> Class {
    let flags = tcp[13];
    Class::Tcp {
        tuple: Tuple {
            remote,
            remote_port: u16::from_be_bytes([tcp[0], tcp[1]]),
            local_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        },
        syn: flags & (TCP_SYN | TCP_ACK) == TCP_SYN,
        rst: flags & TCP_RST != 0,
    }
}

/// IPv6: only the fixed 40-byte header is looked at. TCP behind extension headers (rare:
/// hop-by-hop, routing or fragment headers) goes to the datagram set, which holds no TCP
/// socket: smoltcp answers it with RST, or drops it (fragments: no reassembly). NDP is
/// recognised only directly after the fixed header too, which is where RFC 4861 puts it (hop
/// limit 255, no extension headers in practice).
#[cfg(feature = "ipv6")]
fn classify_ipv6(frame: &[u8]) -> Class {
    let Some(ip) = frame.get(14..54) else {
        return Class::Other;
    };
    if ip[0] >> 4 != 6 {
        return Class::Other;
    }
    let mut remote = [0u8; 16];
    remote.copy_from_slice(&ip[8..24]);
    match ip[6] {
        6 => match frame.get(54..68) {
            Some(tcp) => tcp_class(remote, tcp),
            None => Class::Other,
        },
        58 => match frame.get(54) {
            Some(133..=137) => Class::Ndp,
            Some(_) => Class::Datagram,
            None => Class::Other,
        },
        _ => Class::Datagram,
    }
}

/// A keyed multiplicative hash of a flow, `bits` wide. Keyed by the core's seed so a peer
/// cannot aim many flows at one bucket without knowing it. For an IPv4 (mapped) remote the
/// second word is a constant and the cost is one multiply more than a 4-byte key's.
#[inline]
pub fn bucket_of(t: &Tuple, key: u64, bits: u32) -> usize {
    let r = u128::from_be_bytes(t.remote);
    let (hi, lo) = ((r >> 64) as u64, r as u64);
    let x = (lo << 32) | (u64::from(t.remote_port) << 16) | u64::from(t.local_port);
    let y = hi ^ (lo >> 32) ^ key.rotate_left(32);
    let h = (x ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ y.wrapping_mul(0xd6e8_feb8_6659_fd93);
    let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    if bits == 0 {
        0
    } else {
        (h >> (64 - bits)) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_and_survives_garbage() {
        let mut f = [0u8; 54];
        f[12] = 0x08;
        f[14] = 0x45;
        f[23] = 6;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[34..36].copy_from_slice(&1234u16.to_be_bytes());
        f[36..38].copy_from_slice(&80u16.to_be_bytes());
        f[47] = TCP_SYN;
        let t = Tuple {
            remote: crate::ip::mapped([10, 0, 0, 1]),
            remote_port: 1234,
            local_port: 80,
        };
        assert_eq!(
            classify(&f),
            Class::Tcp {
                tuple: t,
                syn: true,
                rst: false
            }
        );
        f[47] = TCP_SYN | TCP_ACK;
        assert!(matches!(classify(&f), Class::Tcp { syn: false, .. }));
        f[23] = 17;
        assert_eq!(classify(&f), Class::Datagram);
        f[36..38].copy_from_slice(&68u16.to_be_bytes());
        assert_eq!(classify(&f), Class::DhcpClient);
        for n in 0..f.len() {
            let _ = classify(&f[..n]);
        }
        f[14] = 0x4f; // IHL past the end
        f[23] = 6;
        assert_eq!(classify(&f), Class::Other);
        assert!(bucket_of(&t, 1, 10) < 1024);
        assert_eq!(bucket_of(&t, 1, 0), 0);
    }

    /// Ethernet + IPv6 fixed header with next header `nh` from fd00::1, then `l4`.
    #[cfg(feature = "ipv6")]
    fn v6_frame(nh: u8, l4: &[u8]) -> alloc::vec::Vec<u8> {
        let mut f = alloc::vec![0u8; 54];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[18..20].copy_from_slice(&(l4.len() as u16).to_be_bytes());
        f[20] = nh;
        f[21] = 64;
        f[22] = 0xfd;
        f[37] = 1;
        f[38] = 0xfd;
        f[53] = 2;
        f.extend_from_slice(l4);
        f
    }

    #[cfg(feature = "ipv6")]
    #[test]
    fn classifies_ipv6_and_survives_garbage() {
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[13] = TCP_SYN;
        let f = v6_frame(6, &tcp);
        let mut remote = [0u8; 16];
        remote[0] = 0xfd;
        remote[15] = 1;
        let t = Tuple {
            remote,
            remote_port: 1234,
            local_port: 80,
        };
        assert_eq!(
            classify(&f),
            Class::Tcp {
                tuple: t,
                syn: true,
                rst: false
            }
        );
        // Same ports from the IPv4-mapped form of another address: a different flow.
        assert_ne!(t.remote, crate::ip::mapped([253, 0, 0, 1]));
        assert_eq!(classify(&v6_frame(17, &[0; 8])), Class::Datagram);
        assert_eq!(classify(&v6_frame(58, &[128, 0, 0, 0])), Class::Datagram);
        for ty in 133..=137 {
            assert_eq!(classify(&v6_frame(58, &[ty, 0, 0, 0])), Class::Ndp);
        }
        assert!(Class::Ndp.is_neighbor() && Class::Arp.is_neighbor());
        // Extension header (hop-by-hop) before TCP: not looked through.
        assert_eq!(classify(&v6_frame(0, &tcp)), Class::Datagram);
        // Truncations of every length, a wrong version, and random bytes: never a panic.
        for n in 0..f.len() {
            let c = classify(&f[..n]);
            assert!(n >= 68 || !matches!(c, Class::Tcp { .. }), "cut {n}: {c:?}");
        }
        let mut bad = f.clone();
        bad[14] = 0x40;
        assert_eq!(classify(&bad), Class::Other);
        assert_eq!(classify(&v6_frame(58, &[])), Class::Other);
        let mut s = 0x9e37_79b9u64;
        for len in 0..200 {
            let mut g = alloc::vec![0u8; len];
            for b in &mut g {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                *b = s as u8;
            }
            if len > 14 {
                g[12..14].copy_from_slice(&[0x86, 0xdd]);
                g[14] = 0x60 | (g[14] & 0x0f);
            }
            let _ = classify(&g);
        }
        assert!(bucket_of(&t, 7, 14) < 1 << 14);
    }
}
