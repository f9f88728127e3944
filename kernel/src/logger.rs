//! The `log` facade on the serial console: `[seconds.micros] cN LEVEL message`, whole lines.

use core::fmt::Write;
use log::{LevelFilter, Log, Metadata, Record};

struct Console;

static CONSOLE: Console = Console;

impl Log for Console {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let us = crate::clock::since_boot_us();
        let mut w = crate::serial::LineWriter::new();
        let _ = write!(
            w,
            "[{:4}.{:06}] c{} {:5} {}",
            us / 1_000_000,
            us % 1_000_000,
            crate::cpu::core_id(),
            r.level(),
            r.args()
        );
        w.finish(false);
    }

    fn flush(&self) {}
}

/// Installs the console logger at `level`.
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&CONSOLE);
    log::set_max_level(level);
}
