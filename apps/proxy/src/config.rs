//! The proxy's kernel command-line keys: `listen=`, `backends=`, `admin=`.

use corenet::prelude::{Cmdline, IpAddr};
use heapless::Vec;

/// Backends a proxy relays to at most.
pub const MAX_BACKENDS: usize = 16;

/// Port clients connect to unless `listen=` says otherwise.
pub const DEFAULT_LISTEN: u16 = 8000;

/// UDP port of the admin commands (`corenet-stop`) unless `admin=` says otherwise.
pub const DEFAULT_ADMIN: u16 = 9999;

/// A backend: IPv4 or IPv6 address and TCP port.
pub type Backend = (IpAddr, u16);

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// TCP port accepted on every core.
    pub listen: u16,
    /// UDP port for admin commands; 0 disables them.
    pub admin: u16,
    /// Where clients are relayed, round robin per core.
    pub backends: Vec<Backend, MAX_BACKENDS>,
}

/// Errors from [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// `listen=` is not a port in 1..=65535.
    BadListen,
    /// `admin=` is not a port number.
    BadAdmin,
    /// `backends=` is missing or empty.
    NoBackends,
    /// The n-th (0-based) entry of `backends=` is not `a.b.c.d:port` or `[ipv6]:port` with a
    /// nonzero port and a specified address.
    BadBackend(usize),
    /// More than [`MAX_BACKENDS`] entries.
    TooManyBackends,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadListen => f.write_str("listen= is not a port in 1..=65535"),
            Self::BadAdmin => f.write_str("admin= is not a port number"),
            Self::NoBackends => f.write_str("backends= is missing or empty"),
            Self::BadBackend(i) => write!(
                f,
                "backends= entry {i} (from 0) is not a.b.c.d:port or [ipv6]:port with a nonzero port"
            ),
            Self::TooManyBackends => write!(f, "backends= has more than {MAX_BACKENDS} entries"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// Reads the proxy's keys from the kernel command line.
pub fn parse(cmdline: &str) -> Result<ProxyConfig, ConfigError> {
    let c = Cmdline(cmdline);
    let listen = match c.get("listen") {
        None => DEFAULT_LISTEN,
        Some(v) => v
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or(ConfigError::BadListen)?,
    };
    let admin = match c.get("admin") {
        None => DEFAULT_ADMIN,
        Some(v) => v.parse::<u16>().map_err(|_| ConfigError::BadAdmin)?,
    };
    let mut backends = Vec::new();
    for (i, item) in c
        .get("backends")
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let b = parse_backend(item).ok_or(ConfigError::BadBackend(i))?;
        backends.push(b).map_err(|_| ConfigError::TooManyBackends)?;
    }
    if backends.is_empty() {
        return Err(ConfigError::NoBackends);
    }
    Ok(ProxyConfig {
        listen,
        admin,
        backends,
    })
}

fn parse_backend(s: &str) -> Option<Backend> {
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, port) = rest.split_once("]:")?;
        let port = port.parse::<u16>().ok().filter(|&p| p != 0)?;
        let ip = corenet::raw::net::config::addr6(addr).ok()?;
        return (ip != [0; 16]).then_some((IpAddr::V6(ip), port));
    }
    let (addr, port) = s.split_once(':')?;
    let port = port.parse::<u16>().ok().filter(|&p| p != 0)?;
    let mut ip = [0u8; 4];
    let mut parts = addr.split('.');
    for b in &mut ip {
        *b = parts.next()?.parse().ok()?;
    }
    if parts.next().is_some() || ip == [0; 4] {
        return None;
    }
    Some((IpAddr::V4(ip), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_defaults_and_errors() {
        let c = parse("log=debug backends=10.0.0.1:9001,10.0.0.1:9002 ip=10.0.0.2/24").unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert_eq!(c.admin, DEFAULT_ADMIN);
        assert_eq!(
            c.backends.as_slice(),
            &[
                (IpAddr::V4([10, 0, 0, 1]), 9001),
                (IpAddr::V4([10, 0, 0, 1]), 9002)
            ]
        );
        let c = parse("backends=[fd00::1]:9001,10.0.0.1:9002").unwrap();
        let mut v6 = [0u8; 16];
        v6[0] = 0xfd;
        v6[15] = 1;
        assert_eq!(
            c.backends.as_slice(),
            &[(IpAddr::V6(v6), 9001), (IpAddr::V4([10, 0, 0, 1]), 9002)]
        );
        let c = parse("listen=81 admin=0 backends=192.168.1.200:80,").unwrap();
        assert_eq!((c.listen, c.admin, c.backends.len()), (81, 0, 1));

        assert_eq!(parse("listen=80"), Err(ConfigError::NoBackends));
        assert_eq!(parse("backends="), Err(ConfigError::NoBackends));
        assert_eq!(
            parse("listen=0 backends=1.2.3.4:5"),
            Err(ConfigError::BadListen)
        );
        assert_eq!(
            parse("admin=x backends=1.2.3.4:5"),
            Err(ConfigError::BadAdmin)
        );
        for bad in [
            "1.2.3.4",
            "1.2.3.4:0",
            "1.2.3.4:70000",
            "1.2.3:80",
            "1.2.3.4.5:80",
            "1.2.3.256:80",
            "0.0.0.0:80",
            ":80",
            "[fd00::1]",
            "[fd00::1]:0",
            "[fd00::1:80",
            "fd00::1:80",
            "[::]:80",
            "[fd00:::1]:80",
        ] {
            let line = alloc_line(bad);
            assert_eq!(
                parse(&line),
                Err(ConfigError::BadBackend(1)),
                "{bad} accepted"
            );
        }
        let many: std::string::String = (0..=MAX_BACKENDS)
            .map(|i| std::format!("10.0.0.1:{},", 1000 + i))
            .collect();
        assert_eq!(
            parse(&std::format!("backends={many}")),
            Err(ConfigError::TooManyBackends)
        );
    }

    extern crate std;

    fn alloc_line(bad: &str) -> std::string::String {
        std::format!("backends=10.0.0.1:1,{bad}")
    }
}
