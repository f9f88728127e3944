//! Just enough header parsing to pick the socket set a frame belongs to (O(1), no smoltcp).
//!
//! smoltcp re-parses and validates everything; this only has to be right for well-formed
//! frames and harmless for malformed ones (which go to a set with no sockets and are
//! dropped or answered with RST by smoltcp itself).

/// A TCP flow as seen from this host: (remote address, remote port, local port). The local
/// address is the same on every core and not part of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Remote IPv4 address.
    pub remote: [u8; 4],
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
    /// IPv4 TCP.
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
    /// Other IPv4 (UDP, ICMP): the core's small set of datagram sockets.
    Datagram,
    /// Anything else, including truncated headers.
    Other,
}

const DHCP_CLIENT_PORT: u16 = 68;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// Classifies an Ethernet frame.
pub fn classify(frame: &[u8]) -> Class {
    match frame.get(12..14) {
        Some([0x08, 0x06]) => return Class::Arp,
        Some([0x08, 0x00]) => {}
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
    let flags = tcp[13];
    Class::Tcp {
        tuple: Tuple {
            remote: [ip[12], ip[13], ip[14], ip[15]],
            remote_port: u16::from_be_bytes([tcp[0], tcp[1]]),
            local_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        },
        syn: flags & (TCP_SYN | TCP_ACK) == TCP_SYN,
        rst: flags & TCP_RST != 0,
    }
}

/// A keyed multiplicative hash of a flow, `bits` wide. Keyed by the core's seed so a peer
/// cannot aim many flows at one bucket without knowing it.
#[inline]
pub fn bucket_of(t: &Tuple, key: u64, bits: u32) -> usize {
    let x = (u64::from(u32::from_be_bytes(t.remote)) << 32)
        | (u64::from(t.remote_port) << 16)
        | u64::from(t.local_port);
    let h = (x ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
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
            remote: [10, 0, 0, 1],
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
}
