//! The appliance's command-line keys.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `kv_maxmemory=N[k\|m\|g]` | a share of the heap | keyspace bytes for the whole machine, split evenly between cores (each core's share is also capped by its heap budget) |
//! | `kv_policy=noeviction\|allkeys-lru` | `noeviction` | at the limit: refuse writes with `-OOM`, or evict the least recently used of 5 sampled keys |
//! | `kv_port=N` | 6379 | TCP port |
//! | `kv_idle_timeout=S` | 0 (off) | close a connection idle S seconds (Redis's `timeout`) |

use crate::store::Policy;

/// The settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Keyspace bytes for all cores (`None`: what the heap budget allows).
    pub maxmemory: Option<u64>,
    /// Eviction policy.
    pub policy: Policy,
    /// TCP port.
    pub port: u16,
    /// Idle timeout, seconds (0: none).
    pub idle_timeout_s: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            maxmemory: None,
            policy: Policy::NoEviction,
            port: 6379,
            idle_timeout_s: 0,
        }
    }
}

/// A key whose value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingsError {
    /// The key.
    pub key: &'static str,
    /// What it takes.
    pub expected: &'static str,
}

/// `N`, `Nk`, `Nm`, `Ng` (powers of 1024), as Redis reads memory sizes.
pub fn parse_size(s: &str) -> Option<u64> {
    let lower = s.as_bytes().last()?.to_ascii_lowercase();
    let (num, mul) = match lower {
        b'k' => (&s[..s.len() - 1], 1u64 << 10),
        b'm' => (&s[..s.len() - 1], 1 << 20),
        b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

impl Settings {
    /// Reads the keys through `get` (the kernel command line).
    pub fn parse<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Result<Self, SettingsError> {
        let mut s = Settings::default();
        if let Some(v) = get("kv_maxmemory") {
            s.maxmemory = Some(parse_size(v).ok_or(SettingsError {
                key: "kv_maxmemory",
                expected: "a size in bytes, with an optional k, m or g suffix",
            })?);
        }
        if let Some(v) = get("kv_policy") {
            s.policy = match v {
                "noeviction" => Policy::NoEviction,
                "allkeys-lru" => Policy::AllKeysLru,
                _ => {
                    return Err(SettingsError {
                        key: "kv_policy",
                        expected: "noeviction or allkeys-lru",
                    });
                }
            };
        }
        if let Some(v) = get("kv_port") {
            s.port = match v.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    return Err(SettingsError {
                        key: "kv_port",
                        expected: "a port from 1 to 65535",
                    });
                }
            };
        }
        if let Some(v) = get("kv_idle_timeout") {
            s.idle_timeout_s = match v.parse::<u64>() {
                Ok(t) if t <= 86_400 => t,
                _ => {
                    return Err(SettingsError {
                        key: "kv_idle_timeout",
                        expected: "whole seconds from 0 to 86400",
                    });
                }
            };
        }
        Ok(s)
    }
}
