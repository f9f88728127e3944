//! Per-core GDT and TSS: a 64-bit code segment, a data segment, and IST stacks so a double
//! fault, NMI or machine check runs on a known-good stack even after a stack overflow.

extern crate alloc;

use alloc::boxed::Box;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot (0-based, as `set_stack_index` takes it) of the double-fault handler.
pub const IST_DOUBLE_FAULT: u16 = 0;
/// IST slot of the NMI handler (also used to stop cores).
pub const IST_NMI: u16 = 1;
/// IST slot of the machine-check handler.
pub const IST_MACHINE_CHECK: u16 = 2;

/// Builds and loads this core's GDT and TSS. `ist_tops` are the tops of the three IST stacks.
pub fn init(ist_tops: [u64; 3]) {
    let mut tss = TaskStateSegment::new();
    for (slot, top) in ist_tops.iter().enumerate() {
        tss.interrupt_stack_table[slot] = VirtAddr::new(*top);
    }
    let tss: &'static TaskStateSegment = Box::leak(Box::new(tss));
    let gdt: &'static mut GlobalDescriptorTable = Box::leak(Box::new(GlobalDescriptorTable::new()));
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    let tss_sel = gdt.append(Descriptor::tss_segment(tss));
    let gdt: &'static GlobalDescriptorTable = gdt;
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which lives forever.
    // FS and GS are left alone: loading them would clear the GS base that per-core data
    // depends on.
    unsafe {
        CS::set_reg(code);
        SS::set_reg(data);
        DS::set_reg(data);
        ES::set_reg(data);
        load_tss(tss_sel);
    }
}
