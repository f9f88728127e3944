//! Static IPv4 (and IPv6) configuration from the kernel command line.
//!
//! Two spellings are accepted for IPv4, in any order among other words:
//!
//! - `ip=10.0.0.2/24 gw=10.0.0.1` (CIDR address, optional gateway);
//! - Linux's `ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>:<host>:<dev>:<autoconf>:<dns0>:<dns1>`
//!   (nfsroot.rst), where the server, host name, device and autoconf fields are ignored and
//!   every field after the client address may be empty or absent; `ip=dhcp` asks for DHCP.
//!
//! `dns=1.1.1.1,9.9.9.9` (up to [`MAX_DNS`] addresses) names DNS servers for a static
//! configuration and overrides the Linux form's; with DHCP the lease's servers are used.
//!
//! IPv6 ([`parse_ipv6_cmdline`]): `ip6=fd00::2/64` (a static global address, RFC 4291 text
//! form) and optionally `gw6=fd00::1`. The link-local address needs no configuration.
//!
//! A gateway must be a unicast neighbor ([`check_gateway_v4`], [`check_gateway_v6`]): one that
//! is not is a boot error here, and the stack refuses it from any other source (DHCP).

/// An IPv4 interface configuration, static or from DHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Config {
    /// Our address.
    pub ip: [u8; 4],
    /// Prefix length of the local network.
    pub prefix_len: u8,
    /// Default gateway.
    pub gateway: Option<[u8; 4]>,
    /// DNS servers, in order of preference: from `dns=` or the DHCP lease. The stack does
    /// not resolve names itself; this is for the application's resolver.
    pub dns: [Option<[u8; 4]>; MAX_DNS],
}

/// DNS servers kept at most (smoltcp's DHCP client keeps three).
pub const MAX_DNS: usize = 3;

impl Ipv4Config {
    /// A configuration without DNS servers.
    pub const fn new(ip: [u8; 4], prefix_len: u8, gateway: Option<[u8; 4]>) -> Self {
        Self {
            ip,
            prefix_len,
            gateway,
            dns: [None; MAX_DNS],
        }
    }

    /// The DNS servers, in order of preference.
    pub fn dns_servers(&self) -> impl Iterator<Item = [u8; 4]> + '_ {
        self.dns.iter().flatten().copied()
    }
}

pub use crate::gateway::{GatewayError, check_gateway_v4, check_gateway_v6};

/// What the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpSetting {
    /// A static address.
    Static(Ipv4Config),
    /// `ip=dhcp`.
    Dhcp,
}

/// Errors from [`parse_cmdline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdlineError {
    /// No `ip=` word.
    Missing,
    /// An address, prefix or netmask that does not parse, or an address that cannot be ours
    /// (0.0.0.0/8, multicast, reserved, broadcast).
    BadAddress,
    /// A netmask whose ones are not contiguous.
    BadNetmask,
    /// More than [`MAX_DNS`] DNS servers, or one that does not parse.
    BadDns,
    /// A gateway (`gw=`, the Linux form's gateway field, `gw6=`) that is not a unicast
    /// address on the configured subnet (see [`check_gateway_v4`]).
    BadGateway(GatewayError),
}

impl core::fmt::Display for CmdlineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Missing => f.write_str(
                "no ip= on the command line (ip=a.b.c.d/len, ip=dhcp or the Linux form \
                 ip=addr::gw:netmask)",
            ),
            Self::BadAddress => f.write_str(
                "ip= or ip6= is not an address we can own (a unicast address with a prefix \
                 length of at most 32, 128 for IPv6)",
            ),
            Self::BadNetmask => f.write_str("the netmask's ones are not contiguous"),
            Self::BadDns => write!(
                f,
                "dns= takes up to {MAX_DNS} IPv4 addresses, comma-separated"
            ),
            Self::BadGateway(e) => {
                write!(f, "the gateway (gw=, gw6= or ip='s gateway field) is {e}")
            }
        }
    }
}

/// Parses the network words of a command line.
pub fn parse_cmdline(cmdline: &str) -> Result<IpSetting, CmdlineError> {
    let mut ip = None;
    let mut gw = None;
    let mut dns = None;
    for word in cmdline.split_ascii_whitespace() {
        if let Some(v) = word.strip_prefix("ip=") {
            ip = Some(v);
        } else if let Some(v) = word.strip_prefix("gw=") {
            gw = Some(addr(v)?);
        } else if let Some(v) = word.strip_prefix("dns=") {
            dns = Some(dns_list(v.split(','))?);
        }
    }
    let v = ip.ok_or(CmdlineError::Missing)?;
    if v == "dhcp" {
        return Ok(IpSetting::Dhcp);
    }
    if let Some((a, p)) = v.split_once('/') {
        let prefix_len: u8 = p.parse().map_err(|_| CmdlineError::BadAddress)?;
        if prefix_len > 32 {
            return Err(CmdlineError::BadAddress);
        }
        let mut c = Ipv4Config::new(addr(a)?, prefix_len, gw);
        c.dns = dns.unwrap_or_default();
        return checked(c);
    }
    let mut f = v.split(':');
    let ip = addr(f.next().unwrap_or(""))?;
    let _server = f.next();
    let gateway = match f.next() {
        Some("") | None => gw,
        Some(g) => Some(addr(g)?),
    };
    let prefix_len = match f.next() {
        Some("") | None => 24,
        Some(m) => {
            let m = u32::from_be_bytes(addr(m)?);
            if m.leading_ones() + m.trailing_zeros() != 32 {
                return Err(CmdlineError::BadNetmask);
            }
            m.leading_ones() as u8
        }
    };
    // host, device, autoconf, then up to two DNS servers.
    let linux_dns = dns_list(f.skip(3).take(2).filter(|d| !d.is_empty()))?;
    let mut c = Ipv4Config::new(ip, prefix_len, gateway);
    c.dns = dns.unwrap_or(linux_dns);
    checked(c)
}

/// A static configuration with a unicast address (smoltcp refuses others; 0.0.0.0 would
/// leave the stack unconfigured) whose gateway, if any, passes [`check_gateway_v4`].
fn checked(c: Ipv4Config) -> Result<IpSetting, CmdlineError> {
    if matches!(c.ip[0], 0 | 224..=255) {
        return Err(CmdlineError::BadAddress);
    }
    if let Some(gw) = c.gateway {
        check_gateway_v4(c.ip, c.prefix_len, gw).map_err(CmdlineError::BadGateway)?;
    }
    Ok(IpSetting::Static(c))
}

fn dns_list<'a>(
    words: impl Iterator<Item = &'a str>,
) -> Result<[Option<[u8; 4]>; MAX_DNS], CmdlineError> {
    let mut out = [None; MAX_DNS];
    for (i, w) in words.enumerate() {
        let slot = out.get_mut(i).ok_or(CmdlineError::BadDns)?;
        *slot = Some(addr(w).map_err(|_| CmdlineError::BadDns)?);
    }
    Ok(out)
}

/// A static IPv6 global address (the link-local one comes from the MAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Config {
    /// Our address.
    pub ip: [u8; 16],
    /// Prefix length of the local network.
    pub prefix_len: u8,
    /// Default router.
    pub gateway: Option<[u8; 16]>,
}

/// Parses `ip6=ADDR/LEN` and `gw6=ADDR`; `Ok(None)` when there is no `ip6=` (a `gw6=`
/// alone is then ignored, as there is no global address to route from).
pub fn parse_ipv6_cmdline(cmdline: &str) -> Result<Option<Ipv6Config>, CmdlineError> {
    let mut ip = None;
    let mut gw = None;
    for word in cmdline.split_ascii_whitespace() {
        if let Some(v) = word.strip_prefix("ip6=") {
            ip = Some(v);
        } else if let Some(v) = word.strip_prefix("gw6=") {
            gw = Some(addr6(v)?);
        }
    }
    let Some(v) = ip else { return Ok(None) };
    let (a, p) = v.split_once('/').ok_or(CmdlineError::BadAddress)?;
    let prefix_len: u8 = p.parse().map_err(|_| CmdlineError::BadAddress)?;
    let ip = addr6(a)?;
    // Unspecified, multicast and loopback addresses cannot be ours.
    let loopback = {
        let mut l = [0u8; 16];
        l[15] = 1;
        l
    };
    if prefix_len > 128 || ip == [0; 16] || ip[0] == 0xff || ip == loopback {
        return Err(CmdlineError::BadAddress);
    }
    if let Some(g) = gw {
        check_gateway_v6(ip, prefix_len, g).map_err(CmdlineError::BadGateway)?;
    }
    Ok(Some(Ipv6Config {
        ip,
        prefix_len,
        gateway: gw,
    }))
}

/// An IPv6 address in RFC 4291 2.2 text form: eight hex groups, at most one `::`, optionally
/// ending in dotted IPv4.
pub fn addr6(s: &str) -> Result<[u8; 16], CmdlineError> {
    // Groups of one side of `::`: up to 8 words (a trailing dotted quad counts as 2, and is
    // allowed only at the very end).
    fn side(p: &str, dotted_tail: bool) -> Result<heapless::Vec<u16, 8>, CmdlineError> {
        let mut out = heapless::Vec::new();
        if p.is_empty() {
            return Ok(out);
        }
        let parts: heapless::Vec<&str, 9> = {
            let mut v = heapless::Vec::new();
            for x in p.split(':') {
                v.push(x).map_err(|_| CmdlineError::BadAddress)?;
            }
            v
        };
        let last = parts.len() - 1;
        for (i, g) in parts.iter().enumerate() {
            if dotted_tail && i == last && g.contains('.') {
                let [a, b, c, d] = addr(g)?;
                out.push(u16::from_be_bytes([a, b]))
                    .map_err(|_| CmdlineError::BadAddress)?;
                out.push(u16::from_be_bytes([c, d]))
                    .map_err(|_| CmdlineError::BadAddress)?;
                continue;
            }
            if g.is_empty() || g.len() > 4 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CmdlineError::BadAddress);
            }
            let w = u16::from_str_radix(g, 16).map_err(|_| CmdlineError::BadAddress)?;
            out.push(w).map_err(|_| CmdlineError::BadAddress)?;
        }
        Ok(out)
    }
    let words: [u16; 8] = match s.split_once("::") {
        Some((head, tail)) => {
            if tail.contains("::") {
                return Err(CmdlineError::BadAddress);
            }
            let (h, t) = (side(head, false)?, side(tail, true)?);
            if h.len() + t.len() > 7 {
                return Err(CmdlineError::BadAddress);
            }
            let mut w = [0u16; 8];
            w[..h.len()].copy_from_slice(&h);
            w[8 - t.len()..].copy_from_slice(&t);
            w
        }
        None => {
            let all = side(s, true)?;
            all.as_slice()
                .try_into()
                .map_err(|_| CmdlineError::BadAddress)?
        }
    };
    let mut out = [0u8; 16];
    for (i, w) in words.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }
    Ok(out)
}

fn addr(s: &str) -> Result<[u8; 4], CmdlineError> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        *o = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or(CmdlineError::BadAddress)?;
    }
    if parts.next().is_some() {
        return Err(CmdlineError::BadAddress);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn both_spellings_and_errors() {
        assert_eq!(
            parse_cmdline("console=ttyS0 ip=10.0.0.2/24 gw=10.0.0.1 quiet"),
            Ok(IpSetting::Static(Ipv4Config::new(
                [10, 0, 0, 2],
                24,
                Some([10, 0, 0, 1])
            )))
        );
        assert_eq!(
            parse_cmdline("ip=192.168.7.9::192.168.7.1:255.255.252.0:box:eth0:off"),
            Ok(IpSetting::Static(Ipv4Config::new(
                [192, 168, 7, 9],
                22,
                Some([192, 168, 7, 1])
            )))
        );
        assert_eq!(parse_cmdline("ip=dhcp"), Ok(IpSetting::Dhcp));
        assert_eq!(parse_cmdline("quiet"), Err(CmdlineError::Missing));
        assert_eq!(parse_cmdline("ip=10.0.0/24"), Err(CmdlineError::BadAddress));
        assert_eq!(
            parse_cmdline("ip=10.0.0.1.5/24"),
            Err(CmdlineError::BadAddress)
        );
        assert_eq!(
            parse_cmdline("ip=10.0.0.1/33"),
            Err(CmdlineError::BadAddress)
        );
        assert_eq!(
            parse_cmdline("ip=1.2.3.4/24 gw=x"),
            Err(CmdlineError::BadAddress)
        );
        assert_eq!(
            parse_cmdline("ip=1.2.3.4:::255.0.255.0"),
            Err(CmdlineError::BadNetmask)
        );
        for bad in [
            "ip=0.0.0.0/24",
            "ip=255.255.255.255/24",
            "ip=224.0.0.1/24",
            "ip=240.0.0.1:::255.255.255.0",
        ] {
            assert_eq!(parse_cmdline(bad), Err(CmdlineError::BadAddress), "{bad}");
        }
    }

    #[test]
    fn dns_servers_from_both_spellings() {
        let Ok(IpSetting::Static(c)) = parse_cmdline("ip=10.0.0.2/24 dns=1.1.1.1,9.9.9.9") else {
            panic!("static config expected");
        };
        assert_eq!(
            c.dns_servers().collect::<Vec<_>>(),
            [[1, 1, 1, 1], [9, 9, 9, 9]]
        );
        let Ok(IpSetting::Static(c)) =
            parse_cmdline("ip=10.1.1.9::10.1.1.1:255.255.255.0:h:e:off:10.1.1.53:10.1.1.54")
        else {
            panic!("static config expected");
        };
        assert_eq!(c.gateway, Some([10, 1, 1, 1]));
        assert_eq!(c.dns, [Some([10, 1, 1, 53]), Some([10, 1, 1, 54]), None]);
        // dns= wins over the Linux form's servers; an empty second server is allowed.
        let Ok(IpSetting::Static(c)) = parse_cmdline("dns=8.8.8.8 ip=10.1.1.9:::::::10.1.1.53:")
        else {
            panic!("static config expected");
        };
        assert_eq!(c.dns_servers().collect::<Vec<_>>(), [[8, 8, 8, 8]]);
        assert_eq!(c.prefix_len, 24);
        let Ok(IpSetting::Static(c)) = parse_cmdline("ip=10.1.1.9/8") else {
            panic!("static config expected");
        };
        assert_eq!(c.dns_servers().count(), 0);
        for bad in [
            "ip=10.0.0.2/24 dns=1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4",
            "ip=10.0.0.2/24 dns=1.1.1",
            "ip=10.0.0.2/24 dns=",
            "ip=10.1.1.9:::::::x",
        ] {
            assert_eq!(parse_cmdline(bad), Err(CmdlineError::BadDns), "{bad}");
        }
    }

    fn v6(groups: [u16; 8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, g) in groups.iter().enumerate() {
            out[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
        }
        out
    }

    #[test]
    fn ipv6_words_and_errors() {
        assert_eq!(
            parse_ipv6_cmdline("ip=10.0.0.2/24 ip6=fd00::2/64 gw6=fd00::1 quiet"),
            Ok(Some(Ipv6Config {
                ip: v6([0xfd00, 0, 0, 0, 0, 0, 0, 2]),
                prefix_len: 64,
                gateway: Some(v6([0xfd00, 0, 0, 0, 0, 0, 0, 1])),
            }))
        );
        assert_eq!(parse_ipv6_cmdline("ip=10.0.0.2/24"), Ok(None));
        assert_eq!(parse_ipv6_cmdline("gw6=fd00::1"), Ok(None));
        assert_eq!(
            addr6("2001:db8:0:1:2:3:4:5"),
            Ok(v6([0x2001, 0xdb8, 0, 1, 2, 3, 4, 5]))
        );
        assert_eq!(addr6("::"), Ok([0; 16]));
        assert_eq!(addr6("fe80::1"), Ok(v6([0xfe80, 0, 0, 0, 0, 0, 0, 1])));
        assert_eq!(addr6("1::"), Ok(v6([1, 0, 0, 0, 0, 0, 0, 0])));
        assert_eq!(
            addr6("::ffff:10.0.0.1"),
            Ok(v6([0, 0, 0, 0, 0, 0xffff, 0x0a00, 1]))
        );
        for bad in [
            "",
            ":",
            ":::",
            "1::2::3",
            "fd00:::1",
            "12345::1",
            "g::1",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4::5:6:7:8",
            "1:2:3:4:5:6:7:8::",
            "::1.2.3",
            "1.2.3.4::",
            "fd00::+1",
        ] {
            assert_eq!(addr6(bad), Err(CmdlineError::BadAddress), "{bad:?}");
        }
        for bad in [
            "ip6=fd00::2",
            "ip6=fd00::2/129",
            "ip6=fd00::2/x",
            "ip6=::/0",
            "ip6=::1/128",
            "ip6=ff02::1/64",
            "ip6=fd00::2/64 gw6=nope",
        ] {
            assert_eq!(
                parse_ipv6_cmdline(bad),
                Err(CmdlineError::BadAddress),
                "{bad:?}"
            );
        }
    }
}
