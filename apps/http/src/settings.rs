//! httpd's own kernel command-line keys, their defaults and their bounds.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `http_header_timeout=S` | 10 | a request must be complete S seconds after its first byte (the first one: after the connection opened); else reset |
//! | `http_idle_timeout=S` | 60 | an idle keep-alive connection is closed after S seconds |
//! | `http_send_timeout=S` | 60 | a peer that takes none of its buffered output for S seconds is reset |
//! | `udp_echo_rate=N` | 1000 | UDP echo replies per second per core (0: no limit) |
//! | `udp_echo_burst=N` | 100 | replies a core may send at once after a quiet spell |
//!
//! A timeout of 0 turns that timeout off.

use crate::timers::{SECOND, Timeouts};

/// The server's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Connection deadlines.
    pub timeouts: Timeouts,
    /// UDP echo replies per second per core (0: unlimited).
    pub udp_echo_rate: u64,
    /// UDP echo token bucket depth.
    pub udp_echo_burst: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            udp_echo_rate: 1000,
            udp_echo_burst: 100,
        }
    }
}

/// A key whose value is not a whole number in its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingsError {
    /// The key.
    pub key: &'static str,
    /// What it takes, for the message.
    pub expected: &'static str,
}

impl core::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}= takes {}", self.key, self.expected)
    }
}

impl core::error::Error for SettingsError {}

const SECONDS: &str = "whole seconds from 0 to 86400";
const RATE: &str = "a whole number from 0 to 10000000";

fn number<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    key: &'static str,
    max: u64,
    expected: &'static str,
    default: u64,
) -> Result<u64, SettingsError> {
    match get(key) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(SettingsError { key, expected }),
        },
    }
}

impl Settings {
    /// Reads the keys through `get` (the kernel command line's lookup); absent keys keep
    /// their defaults.
    pub fn parse<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Result<Self, SettingsError> {
        let d = Self::default();
        let secs = |key, default_ns: u64| {
            number(get, key, 86_400, SECONDS, default_ns / SECOND).map(|s| s * SECOND)
        };
        Ok(Self {
            timeouts: Timeouts {
                header_ns: secs("http_header_timeout", d.timeouts.header_ns)?,
                idle_ns: secs("http_idle_timeout", d.timeouts.idle_ns)?,
                send_ns: secs("http_send_timeout", d.timeouts.send_ns)?,
            },
            udp_echo_rate: number(get, "udp_echo_rate", 10_000_000, RATE, d.udp_echo_rate)?,
            udp_echo_burst: number(get, "udp_echo_burst", 10_000_000, RATE, d.udp_echo_burst)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'static str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Settings::parse(&lookup(&[])), Ok(Settings::default()));
        let s = Settings::parse(&lookup(&[
            ("http_header_timeout", "3"),
            ("http_idle_timeout", "0"),
            ("udp_echo_rate", "50"),
        ]))
        .unwrap();
        assert_eq!(s.timeouts.header_ns, 3 * SECOND);
        assert_eq!(s.timeouts.idle_ns, 0);
        assert_eq!(s.timeouts.send_ns, 60 * SECOND);
        assert_eq!((s.udp_echo_rate, s.udp_echo_burst), (50, 100));
    }

    #[test]
    fn bad_values_name_the_key() {
        for (k, v) in [
            ("http_header_timeout", "ten"),
            ("http_idle_timeout", "-1"),
            ("http_send_timeout", "86401"),
            ("udp_echo_burst", ""),
        ] {
            let pairs = [(k, v)];
            let e = Settings::parse(&lookup(&pairs)).unwrap_err();
            assert_eq!(e.key, k);
        }
    }
}
