//! An appliance's own counters and gauges: registered once by name, written by each core
//! into its own cell, rendered with corenet's on `/metrics` (Prometheus text format 0.0.4).
//!
//! Shared nothing on the write path: a handle belongs to one core and writes only that
//! core's cell (a plain load and store, no lock, no read-modify-write across cores); the
//! core that renders the page reads every core's cell. Registration (at start-up) takes a
//! lock on the table of names; the same name registered on every core gives every core a
//! handle to the same family, one sample per core (`{core="N"}`).
//!
//! ```
//! # fn main() -> Result<(), corenet::metrics::RegisterError> {
//! # let (core_id, cores) = (0, 1);
//! let hits = corenet::metrics::counter(core_id, "doc_cache_hits_total", "Lookups answered.")?;
//! hits.inc(); // in the pass, on this core
//! let mut page = Vec::new(); // in the /metrics handler
//! corenet::metrics::render(&mut page, cores);
//! assert!(String::from_utf8(page).unwrap().contains("doc_cache_hits_total{core=\"0\"} 1"));
//! # Ok(())
//! # }
//! ```
//!
//! [`machine`] (guest only) renders corenet's own machine-wide families (cores, uptime, heap
//! and idle accounting per core), so a `/metrics` page needs nothing from `corenet::raw`.

use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

/// Cores a metric keeps a cell for (as the kernel's `MAX_CORES`).
pub const MAX_CORES: usize = 64;
/// Families an appliance may register.
pub const MAX_METRICS: usize = 64;

/// Counter (monotonic) or gauge (goes up and down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic: only [`Counter::add`].
    Counter,
    /// A level: [`Gauge::set`].
    Gauge,
}

/// Why a registration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// Not a Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), or help text with a
    /// line break.
    BadName,
    /// The name is registered with the other kind.
    KindMismatch,
    /// [`MAX_METRICS`] families are registered already.
    Full,
    /// The core id is [`MAX_CORES`] or more.
    BadCore,
}

impl core::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RegisterError::BadName => "not a metric name (or help with a line break)",
            RegisterError::KindMismatch => "registered before with the other kind",
            RegisterError::Full => "too many metrics registered",
            RegisterError::BadCore => "no such core",
        })
    }
}

impl core::error::Error for RegisterError {}

#[derive(Clone, Copy)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
}

static FAMILIES: Mutex<heapless::Vec<Family, MAX_METRICS>> = Mutex::new(heapless::Vec::new());
static CELLS: [[AtomicU64; MAX_CORES]; MAX_METRICS] =
    [const { [const { AtomicU64::new(0) }; MAX_CORES] }; MAX_METRICS];

fn valid(name: &str, help: &str) -> bool {
    let mut b = name.bytes();
    let first = b.next();
    first.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        && !help.contains(['\n', '\r'])
}

fn register(
    core: usize,
    name: &'static str,
    help: &'static str,
    kind: Kind,
) -> Result<&'static AtomicU64, RegisterError> {
    if core >= MAX_CORES {
        return Err(RegisterError::BadCore);
    }
    if !valid(name, help) {
        return Err(RegisterError::BadName);
    }
    let mut fams = FAMILIES.lock();
    let id = match fams.iter().position(|f| f.name == name) {
        Some(i) if fams[i].kind != kind => return Err(RegisterError::KindMismatch),
        Some(i) => i,
        None => {
            fams.push(Family { name, help, kind })
                .map_err(|_| RegisterError::Full)?;
            fams.len() - 1
        }
    };
    Ok(&CELLS[id][core])
}

/// One core's sample of a counter family.
#[derive(Debug, Clone, Copy)]
pub struct Counter(&'static AtomicU64);

impl Counter {
    /// Adds `n` (this core's cell only: call it on the core that registered the handle).
    #[inline]
    pub fn add(&self, n: u64) {
        // One writer per cell: a load and a store, no locked read-modify-write.
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One core's sample of a gauge family.
#[derive(Debug, Clone, Copy)]
pub struct Gauge(&'static AtomicU64);

impl Gauge {
    /// Sets the level.
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Registers (or finds) counter family `name` and returns core `core`'s handle to it.
pub fn counter(
    core: usize,
    name: &'static str,
    help: &'static str,
) -> Result<Counter, RegisterError> {
    register(core, name, help, Kind::Counter).map(Counter)
}

/// Registers (or finds) gauge family `name` and returns core `core`'s handle to it.
pub fn gauge(core: usize, name: &'static str, help: &'static str) -> Result<Gauge, RegisterError> {
    register(core, name, help, Kind::Gauge).map(Gauge)
}

/// Appends every registered family, one sample per core of the first `cores`, to `out` in
/// Prometheus text format.
pub fn render(out: &mut Vec<u8>, cores: usize) {
    // Copy the names out: the lock is never held while formatting.
    let fams = FAMILIES.lock().clone();
    let mut w = Text(out);
    for (id, f) in fams.iter().enumerate() {
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = write!(
            w,
            "# HELP {n} {h}\n# TYPE {n} {kind}\n",
            n = f.name,
            h = f.help
        );
        for (c, cell) in CELLS[id].iter().enumerate().take(cores.min(MAX_CORES)) {
            let _ = writeln!(
                w,
                "{}{{core=\"{c}\"}} {}",
                f.name,
                cell.load(Ordering::Relaxed)
            );
        }
    }
}

struct Text<'a>(&'a mut Vec<u8>);

impl Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(target_os = "none")]
mod machine;
#[cfg(target_os = "none")]
pub use machine::machine;

/// What a page of per-core network counters needs beside the prelude: the names of the TCP
/// states `CoreStack::connection_states` counts, and a queue's counters.
pub use corenet_net::stack::TCP_STATES;
pub use corenet_nic::counters::CounterSnapshot;

#[cfg(test)]
mod tests;
