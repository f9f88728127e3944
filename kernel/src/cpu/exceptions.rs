//! The IDT and CPU exception handling on stable Rust: assembly entry stubs, one Rust handler.
//!
//! Stable Rust has no `x86-interrupt` ABI, so each of the 32 exception vectors enters a small
//! `global_asm!` stub that pushes a uniform frame (vector, error code or 0, all general
//! registers) and calls [`corenet_exception`]. A fault is fatal: the handler prints the
//! vector, error code, RIP, CR2 and core, stops every other core and ends the machine with
//! [`exit::code::EXCEPTION`](crate::exit::code::EXCEPTION). The one non-fatal entry is the
//! stop NMI another core sends while panicking: the receiving core halts.
//!
//! Double fault, NMI and machine check run on IST stacks (see [`super::gdt`]), so a stack
//! overflow into a guard page still gets reported.

use core::sync::atomic::Ordering;
use x86_64::VirtAddr;
use x86_64::structures::idt::InterruptDescriptorTable;

use super::gdt;

/// Registers saved by the entry stub, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct ExceptionFrame {
    /// General registers r15 down to rax.
    pub regs: [u64; 15],
    /// Vector number.
    pub vector: u64,
    /// Error code (0 for vectors without one).
    pub error: u64,
    /// Faulting instruction.
    pub rip: u64,
    /// Code segment.
    pub cs: u64,
    /// RFLAGS.
    pub rflags: u64,
    /// Stack pointer at the fault.
    pub rsp: u64,
    /// Stack segment.
    pub ss: u64,
}

core::arch::global_asm!(
    r#"
    .macro CORENET_ISR_NOERR n
    .p2align 4
corenet_isr_\n:
    push 0
    push \n
    jmp corenet_isr_common
    .endm
    .macro CORENET_ISR_ERR n
    .p2align 4
corenet_isr_\n:
    push \n
    jmp corenet_isr_common
    .endm

    .text
    CORENET_ISR_NOERR 0
    CORENET_ISR_NOERR 1
    CORENET_ISR_NOERR 2
    CORENET_ISR_NOERR 3
    CORENET_ISR_NOERR 4
    CORENET_ISR_NOERR 5
    CORENET_ISR_NOERR 6
    CORENET_ISR_NOERR 7
    CORENET_ISR_ERR 8
    CORENET_ISR_NOERR 9
    CORENET_ISR_ERR 10
    CORENET_ISR_ERR 11
    CORENET_ISR_ERR 12
    CORENET_ISR_ERR 13
    CORENET_ISR_ERR 14
    CORENET_ISR_NOERR 15
    CORENET_ISR_NOERR 16
    CORENET_ISR_ERR 17
    CORENET_ISR_NOERR 18
    CORENET_ISR_NOERR 19
    CORENET_ISR_NOERR 20
    CORENET_ISR_ERR 21
    CORENET_ISR_NOERR 22
    CORENET_ISR_NOERR 23
    CORENET_ISR_NOERR 24
    CORENET_ISR_NOERR 25
    CORENET_ISR_NOERR 26
    CORENET_ISR_NOERR 27
    CORENET_ISR_NOERR 28
    CORENET_ISR_ERR 29
    CORENET_ISR_ERR 30
    CORENET_ISR_NOERR 31

corenet_isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    mov rbx, rsp
    and rsp, -16
    call corenet_exception
    mov rsp, rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq

    .section .rodata.corenet_isr_table, "a"
    .p2align 3
    .global corenet_isr_table
corenet_isr_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad corenet_isr_\n
    .endr
    .text
"#
);

unsafe extern "C" {
    static corenet_isr_table: [u64; 32];
}

static IDT: spin::Once<InterruptDescriptorTable> = spin::Once::new();

/// Loads the shared, read-only IDT on this core (built on first call).
pub fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        // SAFETY: the table is 32 addresses of the stubs above, emitted by the assembler.
        let stubs = unsafe { &corenet_isr_table };
        for (vector, &addr) in stubs.iter().enumerate() {
            let addr = VirtAddr::new(addr);
            // SAFETY: every stub is a valid interrupt entry point that pushes the frame
            // `corenet_exception` expects and returns with iretq; the IST slots are filled in
            // every core's TSS by `gdt::init` before `init` loads this IDT.
            unsafe {
                match vector {
                    8 => {
                        idt.double_fault
                            .set_handler_addr(addr)
                            .set_stack_index(gdt::IST_DOUBLE_FAULT);
                    }
                    2 => {
                        idt.non_maskable_interrupt
                            .set_handler_addr(addr)
                            .set_stack_index(gdt::IST_NMI);
                    }
                    18 => {
                        idt.machine_check
                            .set_handler_addr(addr)
                            .set_stack_index(gdt::IST_MACHINE_CHECK);
                    }
                    _ => set_vector(&mut idt, vector, addr),
                }
            }
        }
        super::wake::install(&mut idt);
        idt
    });
    idt.load();
}

/// # Safety
/// `addr` must be a valid interrupt entry point for `vector`.
unsafe fn set_vector(idt: &mut InterruptDescriptorTable, vector: usize, addr: VirtAddr) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match vector {
            0 => {
                idt.divide_error.set_handler_addr(addr);
            }
            1 => {
                idt.debug.set_handler_addr(addr);
            }
            3 => {
                idt.breakpoint.set_handler_addr(addr);
            }
            4 => {
                idt.overflow.set_handler_addr(addr);
            }
            5 => {
                idt.bound_range_exceeded.set_handler_addr(addr);
            }
            6 => {
                idt.invalid_opcode.set_handler_addr(addr);
            }
            7 => {
                idt.device_not_available.set_handler_addr(addr);
            }
            10 => {
                idt.invalid_tss.set_handler_addr(addr);
            }
            11 => {
                idt.segment_not_present.set_handler_addr(addr);
            }
            12 => {
                idt.stack_segment_fault.set_handler_addr(addr);
            }
            13 => {
                idt.general_protection_fault.set_handler_addr(addr);
            }
            14 => {
                idt.page_fault.set_handler_addr(addr);
            }
            16 => {
                idt.x87_floating_point.set_handler_addr(addr);
            }
            17 => {
                idt.alignment_check.set_handler_addr(addr);
            }
            19 => {
                idt.simd_floating_point.set_handler_addr(addr);
            }
            20 => {
                idt.virtualization.set_handler_addr(addr);
            }
            21 => {
                idt.cp_protection_exception.set_handler_addr(addr);
            }
            28 => {
                idt.hv_injection_exception.set_handler_addr(addr);
            }
            29 => {
                idt.vmm_communication_exception.set_handler_addr(addr);
            }
            30 => {
                idt.security_exception.set_handler_addr(addr);
            }
            // 9, 15, 22-27, 31 are reserved; the x86_64 crate does not expose them.
            _ => {}
        }
    }
}

/// Short mnemonic of an exception vector (SDM Vol. 3A, table 6-1).
pub fn mnemonic(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS",
        "#GP", "#PF", "RSV", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "RSV", "RSV", "RSV", "RSV",
        "RSV", "RSV", "#HV", "#VC", "#SX", "RSV",
    ];
    NAMES.get(vector as usize).copied().unwrap_or("?")
}

/// The one Rust exception handler, called from the stubs.
#[unsafe(no_mangle)]
extern "C" fn corenet_exception(frame: &mut ExceptionFrame) {
    if frame.vector == 2 && crate::panic::STOPPING.load(Ordering::Acquire) {
        // Another core is ending the machine and asked us to stop.
        crate::exit::halt_forever();
    }
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    let mut w = crate::serial::LineWriter::new();
    let _ = core::fmt::Write::write_fmt(
        &mut w,
        format_args!(
            "corenet: EXCEPTION {} (vector {}) on core {}: error={:#x} rip={:#x} cr2={:#x} rsp={:#x} rflags={:#x}",
            mnemonic(frame.vector),
            frame.vector,
            super::core_id(),
            frame.error,
            frame.rip,
            cr2,
            frame.rsp,
            frame.rflags
        ),
    );
    w.finish(true);
    crate::panic::stop_machine(crate::exit::code::EXCEPTION);
}
