//! Which addresses can be a default gateway: unicast neighbors on the local subnet.
//!
//! smoltcp's neighbor cache asserts that every address it resolves is unicast, so a gateway
//! such as 0.0.0.0, 255.255.255.255 or a multicast address (from a rogue DHCP server or a
//! typo on the command line) would panic the first off-link send, and with it the machine.
//! The command-line parser ([`crate::config`]), the DHCP filter and the stack's
//! `apply_ipv4` all refuse such gateways with these checks.

/// Why a gateway cannot be used (from [`check_gateway_v4`] or [`check_gateway_v6`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// Unspecified, broadcast (limited or the subnet's), multicast, reserved or loopback.
    NotUnicast,
    /// Not on the local subnet (IPv6: neither link-local nor in the global prefix), so it
    /// could not be reached without a gateway itself.
    OffSubnet,
    /// Our own address.
    OwnAddress,
}

impl core::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotUnicast => {
                "not a unicast address (0.0.0.0, a broadcast, multicast, reserved or loopback)"
            }
            Self::OffSubnet => "not on the local subnet",
            Self::OwnAddress => "our own address",
        })
    }
}

/// Checks that `gw` can be the IPv4 default gateway of `ip`/`prefix_len`: a unicast address
/// of the same subnet other than `ip` and than the subnet's network and broadcast addresses
/// (both usable on a /31, RFC 3021). smoltcp's neighbor cache only holds unicast addresses.
pub fn check_gateway_v4(ip: [u8; 4], prefix_len: u8, gw: [u8; 4]) -> Result<(), GatewayError> {
    let g = u32::from_be_bytes(gw);
    // 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 reserved and broadcast.
    if matches!(gw[0], 0 | 127 | 224..=255) {
        return Err(GatewayError::NotUnicast);
    }
    if gw == ip {
        return Err(GatewayError::OwnAddress);
    }
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0);
    if g & mask != u32::from_be_bytes(ip) & mask {
        return Err(GatewayError::OffSubnet);
    }
    if prefix_len <= 30 && (g & !mask == 0 || g & !mask == !mask) {
        return Err(GatewayError::NotUnicast);
    }
    Ok(())
}

/// Checks that `gw` can be the IPv6 default router next to our global address `ip`/
/// `prefix_len`: unicast (not unspecified, loopback or multicast), not `ip`, and link-local
/// (what routers normally advertise) or inside our prefix.
pub fn check_gateway_v6(ip: [u8; 16], prefix_len: u8, gw: [u8; 16]) -> Result<(), GatewayError> {
    let loopback = u128::from_be_bytes(gw) == 1;
    if gw == [0; 16] || gw[0] == 0xff || loopback {
        return Err(GatewayError::NotUnicast);
    }
    if gw == ip {
        return Err(GatewayError::OwnAddress);
    }
    let link_local = gw[0] == 0xfe && gw[1] & 0xc0 == 0x80;
    let mask = u128::MAX
        .checked_shl(128 - u32::from(prefix_len.min(128)))
        .unwrap_or(0);
    let on_prefix = u128::from_be_bytes(gw) & mask == u128::from_be_bytes(ip) & mask;
    if !link_local && !on_prefix {
        return Err(GatewayError::OffSubnet);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CmdlineError, parse_cmdline, parse_ipv6_cmdline};

    #[test]
    fn gateways_must_be_unicast_neighbors() {
        use GatewayError::*;
        for (line, want) in [
            ("ip=10.0.0.2/24 gw=0.0.0.0", NotUnicast),
            ("ip=10.0.0.2/24 gw=255.255.255.255", NotUnicast),
            ("ip=10.0.0.2/24 gw=224.0.0.1", NotUnicast),
            ("ip=10.0.0.2/24 gw=239.1.2.3", NotUnicast),
            ("ip=10.0.0.2/24 gw=240.0.0.1", NotUnicast),
            ("ip=10.0.0.2/24 gw=127.0.0.1", NotUnicast),
            ("ip=10.0.0.2/24 gw=10.0.0.255", NotUnicast),
            ("ip=10.0.0.2/24 gw=10.0.0.0", NotUnicast),
            ("ip=10.0.0.2/24 gw=10.0.1.1", OffSubnet),
            ("ip=10.0.0.2/24 gw=192.168.0.1", OffSubnet),
            ("ip=10.0.0.2/32 gw=10.0.0.1", OffSubnet),
            ("ip=10.0.0.2/24 gw=10.0.0.2", OwnAddress),
            ("ip=10.0.0.2::255.255.255.255:255.255.255.0", NotUnicast),
            ("ip=10.0.0.2::224.0.0.1:255.255.255.0", NotUnicast),
            ("ip=10.0.0.2::10.9.0.1:255.255.255.0", OffSubnet),
            ("ip=10.0.0.2:::255.255.255.0 gw=0.0.0.0", NotUnicast),
        ] {
            assert_eq!(
                parse_cmdline(line),
                Err(CmdlineError::BadGateway(want)),
                "{line}"
            );
        }
        for good in [
            "ip=10.0.0.2/24 gw=10.0.0.1",
            "ip=10.0.0.2/24 gw=10.0.0.254",
            "ip=10.0.0.2/8 gw=10.200.0.1",
            "ip=10.0.0.2/31 gw=10.0.0.3",
            "ip=10.0.0.2::10.0.0.1:255.255.255.0",
            "ip=dhcp gw=0.0.0.0",
        ] {
            assert!(parse_cmdline(good).is_ok(), "{good}");
        }
        for (line, want) in [
            ("ip6=fd00::2/64 gw6=::", NotUnicast),
            ("ip6=fd00::2/64 gw6=::1", NotUnicast),
            ("ip6=fd00::2/64 gw6=ff02::2", NotUnicast),
            ("ip6=fd00::2/64 gw6=fd00:1::1", OffSubnet),
            ("ip6=fd00::2/64 gw6=fd00::2", OwnAddress),
        ] {
            assert_eq!(
                parse_ipv6_cmdline(line),
                Err(CmdlineError::BadGateway(want)),
                "{line}"
            );
        }
        assert!(parse_ipv6_cmdline("ip6=fd00::2/64 gw6=fe80::1").is_ok());
        assert!(parse_ipv6_cmdline("ip6=fd00::2/64 gw6=fd00::ffff").is_ok());
    }
}
