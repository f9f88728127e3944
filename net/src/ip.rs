//! IP addresses of the safe API, IPv4 or IPv6, with no smoltcp types in them.
//!
//! Every call that takes a remote address (`connect`, `udp_send_to`) accepts `[u8; 4]`,
//! `[u8; 16]` or an [`IpAddr`], so IPv4 callers keep writing `([10, 0, 0, 1], 80)`. Built
//! without the `ipv6` feature, an IPv6 address is simply unaddressable.

use smoltcp::wire::IpAddress;

/// An IPv4 or IPv6 address, in network byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpAddr {
    /// IPv4.
    V4([u8; 4]),
    /// IPv6.
    V6([u8; 16]),
}

impl IpAddr {
    /// The IPv4 address, if this is one.
    pub fn v4(self) -> Option<[u8; 4]> {
        match self {
            Self::V4(a) => Some(a),
            Self::V6(_) => None,
        }
    }

    /// The 16-byte form: IPv6 as is, IPv4 as the IPv4-mapped `::ffff:a.b.c.d` (RFC 4291
    /// 2.5.5.2), as the flow table keys remote addresses.
    #[inline]
    pub fn to_mapped(self) -> [u8; 16] {
        match self {
            Self::V6(a) => a,
            Self::V4(a) => mapped(a),
        }
    }

    /// The inverse of [`to_mapped`](Self::to_mapped).
    #[inline]
    pub fn from_mapped(a: [u8; 16]) -> Self {
        match a {
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b0, b1, b2, b3] => {
                Self::V4([b0, b1, b2, b3])
            }
            _ => Self::V6(a),
        }
    }

    /// The unspecified address of either family.
    pub fn is_unspecified(self) -> bool {
        match self {
            Self::V4(a) => a == [0; 4],
            Self::V6(a) => a == [0; 16],
        }
    }

    /// smoltcp's form; `None` for IPv6 in a build without the `ipv6` feature.
    pub(crate) fn to_smoltcp(self) -> Option<IpAddress> {
        match self {
            Self::V4([a, b, c, d]) => Some(smoltcp::wire::Ipv4Address::new(a, b, c, d).into()),
            #[cfg(feature = "ipv6")]
            Self::V6(a) => Some(IpAddress::Ipv6(smoltcp::wire::Ipv6Address::from(a))),
            #[cfg(not(feature = "ipv6"))]
            Self::V6(_) => None,
        }
    }

    pub(crate) fn from_smoltcp(a: IpAddress) -> Self {
        match a {
            IpAddress::Ipv4(a) => Self::V4(a.octets()),
            #[cfg(feature = "ipv6")]
            IpAddress::Ipv6(a) => Self::V6(a.octets()),
        }
    }
}

/// `::ffff:a.b.c.d`.
#[inline]
pub const fn mapped(a: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3],
    ]
}

impl From<[u8; 4]> for IpAddr {
    fn from(a: [u8; 4]) -> Self {
        Self::V4(a)
    }
}

impl From<[u8; 16]> for IpAddr {
    fn from(a: [u8; 16]) -> Self {
        Self::V6(a)
    }
}

impl PartialEq<[u8; 4]> for IpAddr {
    fn eq(&self, other: &[u8; 4]) -> bool {
        *self == Self::V4(*other)
    }
}

impl core::fmt::Display for IpAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::V4([a, b, c, d]) => write!(f, "{a}.{b}.{c}.{d}"),
            Self::V6(a) => {
                // Full form without `::` compression: unambiguous and short enough for logs.
                for (i, g) in a.chunks_exact(2).enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{:x}", u16::from_be_bytes([g[0], g[1]]))?;
                }
                Ok(())
            }
        }
    }
}

/// The modified EUI-64 link-local address of a MAC (RFC 4291 2.5.1 and appendix A):
/// `fe80::` + MAC with the universal/local bit flipped and `ff:fe` in the middle.
pub fn link_local(mac: [u8; 6]) -> [u8; 16] {
    [
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ]
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn mapped_round_trip_link_local_and_display() {
        let v4 = IpAddr::V4([10, 0, 0, 1]);
        assert_eq!(IpAddr::from_mapped(v4.to_mapped()), v4);
        let mut v6 = [0u8; 16];
        v6[0] = 0xfd;
        v6[15] = 2;
        assert_eq!(IpAddr::from_mapped(v6), IpAddr::V6(v6));
        assert_eq!(IpAddr::V6(v6).to_string(), "fd00:0:0:0:0:0:0:2");
        assert_eq!(v4.to_string(), "10.0.0.1");
        assert_eq!(v4, [10, 0, 0, 1]);
        // 52:54:00:12:34:56 -> fe80::5054:ff:fe12:3456 (what Linux derives for it).
        assert_eq!(
            IpAddr::V6(link_local([0x52, 0x54, 0, 0x12, 0x34, 0x56])).to_string(),
            "fe80:0:0:0:5054:ff:fe12:3456"
        );
        assert!(IpAddr::V6([0; 16]).is_unspecified());
        assert!(!v4.is_unspecified());
    }
}
