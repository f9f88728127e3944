//! Starting the application processors: INIT-SIPI-SIPI, one core at a time.
//!
//! Follows SDM Vol. 3A 8.4.4.1 as Linux applies it to modern CPUs: INIT, then a start-up
//! IPI, a second one if the core has not answered within 200 us, then a bounded wait for the
//! core to report itself online. The trampoline (boot/src/trampoline.rs) is copied below
//! 1 MiB once; its mailbox is rewritten for each core, which is why cores start one by one.

use core::sync::atomic::{AtomicUsize, Ordering};
use corenet_boot::trampoline::{
    AP_TRAMPOLINE_PHYS, ApMailbox, NXE_BEFORE_MAILBOX, corenet_ap_mailbox,
    corenet_ap_trampoline_end, corenet_ap_trampoline_start,
};

use super::apic::{self, Delivery};
use crate::clock;

/// Cores that reached their Rust entry (the BSP counts itself).
static ONLINE: AtomicUsize = AtomicUsize::new(1);

/// Called by each AP once its CPU state is set up: the BSP's [`start_aps`] waits for it.
pub fn report_online() {
    ONLINE.fetch_add(1, Ordering::AcqRel);
}

/// Cores online so far.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// A core that did not start.
#[derive(Debug, Clone, Copy)]
pub struct ApStartError {
    /// corenet core id it would have had.
    pub core: usize,
    /// Its APIC id.
    pub apic_id: u32,
}

/// How long a core gets to come online (TCG on a loaded host can be slow).
const ONLINE_TIMEOUT_US: u64 = 2_000_000;

/// Starts the cores `apic_ids[i]` as corenet cores `i + 1`, each on the stack
/// `stack_top(i + 1)`, entering `entry(core_id)`.
pub fn start_aps(
    apic_ids: &[u32],
    cr3: u64,
    nx: bool,
    stack_top: &dyn Fn(usize) -> u64,
    entry: extern "C" fn(u64) -> !,
) -> Result<(), ApStartError> {
    if apic_ids.is_empty() {
        return Ok(());
    }
    let base = AP_TRAMPOLINE_PHYS as *mut u8;
    // The linker placed the blob between these symbols; only their addresses are taken.
    let (start, end, mailbox) = (
        core::ptr::addr_of!(corenet_ap_trampoline_start) as usize,
        core::ptr::addr_of!(corenet_ap_trampoline_end) as usize,
        core::ptr::addr_of!(corenet_ap_mailbox) as usize,
    );
    let mailbox_off = mailbox - start;
    // SAFETY: AP_TRAMPOLINE_PHYS..+4 KiB is RAM below 1 MiB that the frame allocator never
    // hands out, mapped writable and executable for exactly this use; the blob is < 4 KiB.
    unsafe {
        core::ptr::copy_nonoverlapping(start as *const u8, base, end - start);
        let nxe: u64 = if nx { 1 << 11 } else { 0 };
        (base.add(mailbox_off - NXE_BEFORE_MAILBOX) as *mut u64).write_volatile(nxe);
    }
    for (i, &apic_id) in apic_ids.iter().enumerate() {
        let core = i + 1;
        let mb = ApMailbox {
            cr3,
            stack_top: stack_top(core),
            entry: entry as usize as u64,
            arg: core as u64,
        };
        // SAFETY: the mailbox lies inside the copied blob (see above); no AP reads it until
        // the start-up IPI below, and the previous AP is done with it (it reported online).
        unsafe { (base.add(mailbox_off) as *mut ApMailbox).write_volatile(mb) };
        core::sync::atomic::fence(Ordering::SeqCst);
        let vector = (AP_TRAMPOLINE_PHYS >> 12) as u8;
        apic::send_ipi(Some(apic_id), Delivery::Init, 0);
        clock::delay_us(10);
        apic::send_ipi(Some(apic_id), Delivery::Startup, vector);
        if !wait_online(core + 1, 200) {
            apic::send_ipi(Some(apic_id), Delivery::Startup, vector);
            if !wait_online(core + 1, ONLINE_TIMEOUT_US) {
                return Err(ApStartError { core, apic_id });
            }
        }
    }
    Ok(())
}

fn wait_online(count: usize, us: u64) -> bool {
    let end = clock::now_ns() + us * 1000;
    loop {
        if ONLINE.load(Ordering::Acquire) >= count {
            return true;
        }
        if clock::now_ns() > end {
            return false;
        }
        core::hint::spin_loop();
    }
}
