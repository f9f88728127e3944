//! COM1 console: whole lines under one lock, so cores never interleave mid-line.
//!
//! The 16550 driver is the `uart_16550` crate over port I/O (0x3f8, present on q35, microvm
//! and PC hardware). Logging is not on the packet path, so a spin lock shared by all cores is
//! acceptable here and nowhere else.

use spin::Mutex;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

static COM1: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Initializes COM1 (115200 8N1). Without a UART the console is silent.
pub fn init() {
    // SAFETY: 0x3f8..0x400 is COM1 on every PC-compatible platform, owned by this module
    // alone for the whole run.
    let Ok(mut uart) = (unsafe { Uart16550::new_port(0x3f8) }) else {
        return;
    };
    if uart.init(uart_16550::Config::default()).is_ok() {
        *COM1.lock() = Some(uart);
    }
}

/// Writes bytes as one unit (no other core's output in between).
pub fn write_bytes(bytes: &[u8]) {
    if let Some(uart) = COM1.lock().as_mut() {
        uart.send_bytes_exact(bytes);
    }
}

/// Writes bytes even if another core died holding the console lock (panic path only).
pub fn write_bytes_force(bytes: &[u8]) {
    for _ in 0..1_000_000 {
        if let Some(mut guard) = COM1.try_lock() {
            if let Some(uart) = guard.as_mut() {
                uart.send_bytes_exact(bytes);
            }
            return;
        }
        core::hint::spin_loop();
    }
    // The holder is gone for good: steal the lock rather than lose the panic message.
    // SAFETY: only reached when the lock was held for a million spins, i.e. its owner stopped
    // (it panicked or was halted); nothing else can be writing to the UART now.
    unsafe { COM1.force_unlock() };
    if let Some(uart) = COM1.lock().as_mut() {
        uart.send_bytes_exact(bytes);
    }
}

/// A `core::fmt::Write` sink that formats into a fixed line buffer, then emits it whole.
pub struct LineWriter {
    buf: heapless::String<512>,
    truncated: bool,
}

impl LineWriter {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: heapless::String::new(),
            truncated: false,
        }
    }

    /// Emits the line (with `\n`) under the console lock.
    pub fn finish(mut self, force: bool) {
        if self.truncated {
            while self.buf.len() > 508 {
                self.buf.pop();
            }
            let _ = self.buf.push_str("...");
        }
        let _ = self.buf.push('\n');
        if force {
            write_bytes_force(self.buf.as_bytes());
        } else {
            write_bytes(self.buf.as_bytes());
        }
    }
}

impl Default for LineWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Write for LineWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            let c = if c == '\n' { ' ' } else { c };
            if self.buf.push(c).is_err() {
                self.truncated = true;
                break;
            }
        }
        Ok(())
    }
}

/// Prints one formatted line to the console (not through `log`: for machine-readable lines).
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        let mut w = $crate::serial::LineWriter::new();
        let _ = core::fmt::Write::write_fmt(&mut w, format_args!($($arg)*));
        w.finish(false);
    }};
}
