//! corenet's own kernel command-line keys, validated with errors that say what was expected.
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `log=` | `error`, `warn`, `info`, `debug`, `trace` or `off` | `info` |
//! | `heap=` | heap per core, e.g. `64M` (rounded up to 2 MiB) | half the free RAM shared by the cores, 16M to 256M each |
//! | `dma=` | DMA pool per core (rounded up to 2 MiB) | `8M` |
//! | `cores=` | use at most this many cores | all in the MADT |
//! | `idle=` | `poll`, `adaptive` or `halt`: what an idle core does (see `idle`) | `adaptive` |
//!
//! Appliances read their own keys through `Cmdline`.

use corenet_boot::Cmdline;
use corenet_boot::cmdline::parse_size;
use log::LevelFilter;

use crate::idle::IdlePolicy;

/// Validated kernel settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Log level.
    pub log: LevelFilter,
    /// Heap bytes per core (multiple of 2 MiB); `None`: sized from free memory at boot
    /// ([`Config::default_heap`]).
    pub heap: Option<u64>,
    /// DMA pool bytes per core (multiple of 2 MiB).
    pub dma: u64,
    /// Upper bound on cores used.
    pub max_cores: Option<usize>,
    /// What an idle core does.
    pub idle: IdlePolicy,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            log: LevelFilter::Info,
            heap: None,
            dma: 8 << 20,
            max_cores: None,
            idle: IdlePolicy::Adaptive,
        }
    }
}

/// A bad value for one of corenet's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError<'a> {
    /// The key.
    pub key: &'static str,
    /// What was given.
    pub value: &'a str,
    /// What is accepted.
    pub expected: &'static str,
}

impl core::fmt::Display for ConfigError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "kernel command line: {}={:?} is invalid: expected {}",
            self.key, self.value, self.expected
        )
    }
}

impl core::error::Error for ConfigError<'_> {}

const TWO_MIB: u64 = 2 << 20;

fn size<'a>(key: &'static str, value: &'a str, min: u64) -> Result<u64, ConfigError<'a>> {
    let expected = "a size like 8M or 1G, at least 2M and at most 64G";
    let v = parse_size(value).ok_or(ConfigError {
        key,
        value,
        expected,
    })?;
    if v < min || v > (64 << 30) {
        return Err(ConfigError {
            key,
            value,
            expected,
        });
    }
    Ok(v.div_ceil(TWO_MIB) * TWO_MIB)
}

impl Config {
    /// The heap per core when `heap=` is not given: half of `free` bytes shared by `cores`,
    /// at least 16 MiB and at most 256 MiB each, in 2 MiB units. Connections cost heap (TCP
    /// buffers), so a bigger machine serves more of them without being told.
    pub fn default_heap(free: u64, cores: usize) -> u64 {
        let share = free / 2 / (cores.max(1) as u64);
        (share.clamp(16 << 20, 256 << 20) / TWO_MIB) * TWO_MIB
    }

    /// Parses corenet's keys out of `cmdline`; other keys are left to the appliance.
    pub fn parse<'a>(cmdline: &Cmdline<'a>) -> Result<Self, ConfigError<'a>> {
        let mut c = Self::default();
        if let Some(v) = cmdline.get("log") {
            c.log = match v {
                "off" => LevelFilter::Off,
                "error" => LevelFilter::Error,
                "warn" => LevelFilter::Warn,
                "info" => LevelFilter::Info,
                "debug" => LevelFilter::Debug,
                "trace" => LevelFilter::Trace,
                _ => {
                    return Err(ConfigError {
                        key: "log",
                        value: v,
                        expected: "one of off, error, warn, info, debug, trace",
                    });
                }
            };
        }
        if let Some(v) = cmdline.get("heap") {
            c.heap = Some(size("heap", v, TWO_MIB)?);
        }
        if let Some(v) = cmdline.get("dma") {
            c.dma = size("dma", v, TWO_MIB)?;
        }
        if let Some(v) = cmdline.get("cores") {
            let n: usize = v.parse().ok().filter(|&n| n >= 1).ok_or(ConfigError {
                key: "cores",
                value: v,
                expected: "a whole number of cores, at least 1",
            })?;
            c.max_cores = Some(n);
        }
        if let Some(v) = cmdline.get("idle") {
            c.idle = IdlePolicy::parse(v).ok_or(ConfigError {
                key: "idle",
                value: v,
                expected: "one of poll, adaptive, halt",
            })?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values() {
        assert_eq!(Config::parse(&Cmdline("")).unwrap(), Config::default());
        let c = Config::parse(&Cmdline(
            "log=debug heap=5M dma=2M cores=3 idle=adaptive app=x",
        ))
        .unwrap();
        assert_eq!(c.idle, IdlePolicy::Adaptive);
        assert_eq!(c.log, LevelFilter::Debug);
        assert_eq!(c.heap, Some(6 << 20), "rounded up to 2 MiB");
        assert_eq!(c.dma, 2 << 20);
        assert_eq!(c.max_cores, Some(3));
    }

    #[test]
    fn default_heap_scales_with_memory_and_cores() {
        assert_eq!(Config::default_heap(480 << 20, 2), 120 << 20);
        assert_eq!(Config::default_heap(480 << 20, 8), 30 << 20);
        assert_eq!(Config::default_heap(100 << 20, 8), 16 << 20, "floor");
        assert_eq!(Config::default_heap(64 << 30, 2), 256 << 20, "ceiling");
        assert_eq!(Config::default_heap(481 << 20, 3) % (2 << 20), 0);
    }

    #[test]
    fn errors_name_the_key_and_expectation() {
        let e = Config::parse(&Cmdline("log=loud")).unwrap_err();
        assert_eq!((e.key, e.value), ("log", "loud"));
        assert!(std::format!("{e}").contains("one of off, error"));
        assert_eq!(Config::parse(&Cmdline("heap=1K")).unwrap_err().key, "heap");
        assert_eq!(Config::parse(&Cmdline("dma=lots")).unwrap_err().key, "dma");
        assert_eq!(Config::parse(&Cmdline("cores=0")).unwrap_err().key, "cores");
        assert_eq!(Config::parse(&Cmdline("idle=nap")).unwrap_err().key, "idle");
    }
}
