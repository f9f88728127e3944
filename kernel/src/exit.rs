//! Ending the machine: QEMU's isa-debug-exit device, then halt.
//!
//! The guest writes `EXIT_BASE + code` to port 0xf4 (`-device isa-debug-exit,iobase=0xf4,
//! iosize=4`); QEMU exits with `(value << 1) | 1`, i.e. `33 + 2 * code`, which `qemu-run.sh`
//! turns back into `code`. The offset keeps every guest code apart from QEMU's own exit
//! statuses (0, 1). On hardware without the device the write is ignored and the core halts.

use x86_64::instructions::port::Port;

/// Added to the guest's code before it is written to the debug-exit port.
pub const EXIT_BASE: u32 = 0x10;

/// Exit codes with a fixed meaning (appliances may use others below 0x60).
pub mod code {
    /// Everything passed.
    pub const SUCCESS: u8 = 0;
    /// Tests failed or the appliance reported failure.
    pub const FAILURE: u8 = 1;
    /// A Rust panic on some core.
    pub const PANIC: u8 = 3;
    /// A CPU exception (fault) on some core.
    pub const EXCEPTION: u8 = 4;
    /// Boot could not complete (bad boot information, no memory, a core did not start).
    pub const BOOT_FAILURE: u8 = 5;
}

/// Ends the machine with `code`; never returns.
pub fn exit(code: u8) -> ! {
    let mut port = Port::<u32>::new(0xf4);
    // SAFETY: port 0xf4 is isa-debug-exit under QEMU (the write ends the process); on other
    // machines nothing decodes it and the write has no effect.
    unsafe { port.write(EXIT_BASE + u32::from(code)) };
    halt_forever()
}

/// Stops this core for good.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
