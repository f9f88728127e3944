//! Static IPv4 configuration from the kernel command line.
//!
//! Two spellings are accepted, in any order among other words:
//!
//! - `ip=10.0.0.2/24 gw=10.0.0.1` (CIDR address, optional gateway);
//! - Linux's `ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>[:...]` (nfsroot.rst), where the
//!   server and anything after the netmask are ignored; `ip=dhcp` asks for DHCP.

/// An IPv4 interface configuration, static or from DHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Config {
    /// Our address.
    pub ip: [u8; 4],
    /// Prefix length of the local network.
    pub prefix_len: u8,
    /// Default gateway.
    pub gateway: Option<[u8; 4]>,
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
}

/// Parses the network words of a command line.
pub fn parse_cmdline(cmdline: &str) -> Result<NetConfig, CmdlineError> {
    let mut ip = None;
    let mut gw = None;
    for word in cmdline.split_ascii_whitespace() {
        if let Some(v) = word.strip_prefix("ip=") {
            ip = Some(v);
        } else if let Some(v) = word.strip_prefix("gw=") {
            gw = Some(addr(v)?);
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
        return Ok(NetConfig::Static(Ipv4Config {
            ip: addr(a)?,
            prefix_len,
            gateway: gw,
        }));
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
    Ok(NetConfig::Static(Ipv4Config {
        ip,
        prefix_len,
        gateway,
    }))
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

    #[test]
    fn both_spellings_and_errors() {
        assert_eq!(
            parse_cmdline("console=ttyS0 ip=10.0.0.2/24 gw=10.0.0.1 quiet"),
            Ok(NetConfig::Static(Ipv4Config {
                ip: [10, 0, 0, 2],
                prefix_len: 24,
                gateway: Some([10, 0, 0, 1])
            }))
        );
        assert_eq!(
            parse_cmdline("ip=192.168.7.9::192.168.7.1:255.255.252.0:box:eth0:off"),
            Ok(NetConfig::Static(Ipv4Config {
                ip: [192, 168, 7, 9],
                prefix_len: 22,
                gateway: Some([192, 168, 7, 1])
            }))
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
}
