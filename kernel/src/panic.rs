//! Panics and machine stop: report once, stop every core with an NMI, exit with a code.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Set when a core has started ending the machine; the NMI handler then halts its core.
pub static STOPPING: AtomicBool = AtomicBool::new(false);

const NOBODY: usize = usize::MAX;
static PANIC_CORE: AtomicUsize = AtomicUsize::new(NOBODY);

/// Claims the report of the machine's end for this core: false when another core already
/// reports a panic or a boot failure (the caller then halts, so one report is printed).
pub(crate) fn claim_report() -> bool {
    let me = crate::cpu::core_id();
    match PANIC_CORE.compare_exchange(NOBODY, me, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => true,
        Err(owner) => owner == me,
    }
}

/// Stops all other cores (NMI, which halts them in the exception handler) and exits the
/// machine with `code`.
pub fn stop_machine(code: u8) -> ! {
    STOPPING.store(true, Ordering::Release);
    if crate::cpu::apic::is_ready() {
        crate::cpu::apic::send_ipi(None, crate::cpu::apic::Delivery::Nmi, 0);
    }
    crate::exit::exit(code)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let me = crate::cpu::core_id();
    match PANIC_CORE.compare_exchange(NOBODY, me, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        // A panic while reporting our own panic: do not recurse, just end.
        Err(owner) if owner == me => crate::exit::exit(crate::exit::code::PANIC),
        // Another core is already ending the machine.
        Err(_) => crate::exit::halt_forever(),
    }
    let mut w = crate::serial::LineWriter::new();
    let _ = match info.location() {
        Some(l) => core::fmt::Write::write_fmt(
            &mut w,
            format_args!(
                "corenet: PANIC on core {me} at {}:{}:{}: {}",
                l.file(),
                l.line(),
                l.column(),
                info.message()
            ),
        ),
        None => core::fmt::Write::write_fmt(
            &mut w,
            format_args!("corenet: PANIC on core {me}: {}", info.message()),
        ),
    };
    // An exhausted heap panics in Rust's allocation-error handler ("memory allocation of N
    // bytes failed"); the heap's own record says which request and in what state.
    if crate::memory::heap::has_failed() {
        let _ = core::fmt::Write::write_str(&mut w, " [last refused allocation: ");
        let _ = crate::memory::heap::write_last_failure(&mut w);
        let _ = core::fmt::Write::write_str(&mut w, "]");
    }
    w.finish(true);
    stop_machine(crate::exit::code::PANIC)
}
