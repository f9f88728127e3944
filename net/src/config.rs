//! Static IPv4 configuration from the kernel command line.
//!
//! Two spellings are accepted, in any order among other words:
//!
//! - `ip=10.0.0.2/24 gw=10.0.0.1` (CIDR address, optional gateway);
//! - Linux's `ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>:<host>:<dev>:<autoconf>:<dns0>:<dns1>`
//!   (nfsroot.rst), where the server, host name, device and autoconf fields are ignored and
//!   every field after the client address may be empty or absent; `ip=dhcp` asks for DHCP.
//!
//! `dns=1.1.1.1,9.9.9.9` (up to [`MAX_DNS`] addresses) names DNS servers for a static
//! configuration and overrides the Linux form's; with DHCP the lease's servers are used.

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

/// What the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetConfig {
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
    /// An address, prefix or netmask that does not parse.
    BadAddress,
    /// A netmask whose ones are not contiguous.
    BadNetmask,
    /// More than [`MAX_DNS`] DNS servers, or one that does not parse.
    BadDns,
}

/// Parses the network words of a command line.
pub fn parse_cmdline(cmdline: &str) -> Result<NetConfig, CmdlineError> {
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
        return Ok(NetConfig::Dhcp);
    }
    if let Some((a, p)) = v.split_once('/') {
        let prefix_len: u8 = p.parse().map_err(|_| CmdlineError::BadAddress)?;
        if prefix_len > 32 {
            return Err(CmdlineError::BadAddress);
        }
        let mut c = Ipv4Config::new(addr(a)?, prefix_len, gw);
        c.dns = dns.unwrap_or_default();
        return Ok(NetConfig::Static(c));
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
    Ok(NetConfig::Static(c))
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
            Ok(NetConfig::Static(Ipv4Config::new(
                [10, 0, 0, 2],
                24,
                Some([10, 0, 0, 1])
            )))
        );
        assert_eq!(
            parse_cmdline("ip=192.168.7.9::192.168.7.1:255.255.252.0:box:eth0:off"),
            Ok(NetConfig::Static(Ipv4Config::new(
                [192, 168, 7, 9],
                22,
                Some([192, 168, 7, 1])
            )))
        );
        assert_eq!(parse_cmdline("ip=dhcp"), Ok(NetConfig::Dhcp));
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
    }

    #[test]
    fn dns_servers_from_both_spellings() {
        let Ok(NetConfig::Static(c)) = parse_cmdline("ip=10.0.0.2/24 dns=1.1.1.1,9.9.9.9") else {
            panic!("static config expected");
        };
        assert_eq!(
            c.dns_servers().collect::<Vec<_>>(),
            [[1, 1, 1, 1], [9, 9, 9, 9]]
        );
        let Ok(NetConfig::Static(c)) =
            parse_cmdline("ip=10.1.1.9::10.1.1.1:255.255.255.0:h:e:off:10.1.1.53:10.1.1.54")
        else {
            panic!("static config expected");
        };
        assert_eq!(c.gateway, Some([10, 1, 1, 1]));
        assert_eq!(c.dns, [Some([10, 1, 1, 53]), Some([10, 1, 1, 54]), None]);
        // dns= wins over the Linux form's servers; an empty second server is allowed.
        let Ok(NetConfig::Static(c)) = parse_cmdline("dns=8.8.8.8 ip=10.1.1.9:::::::10.1.1.53:")
        else {
            panic!("static config expected");
        };
        assert_eq!(c.dns_servers().collect::<Vec<_>>(), [[8, 8, 8, 8]]);
        assert_eq!(c.prefix_len, 24);
        let Ok(NetConfig::Static(c)) = parse_cmdline("ip=10.1.1.9/8") else {
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
}
