//! Application-processor start-up code: real mode to long mode, then into the kernel.
//!
//! A started AP begins in 16-bit real mode at `vector * 4096` (SDM Vol. 3A 8.4.4, "MP
//! Initialization Example"). The kernel copies the blob between [`corenet_ap_trampoline_start`]
//! and [`corenet_ap_trampoline_end`] to [`AP_TRAMPOLINE_PHYS`], fills in the [`ApMailbox`] at
//! the blob's end, and sends INIT-SIPI-SIPI with vector `AP_TRAMPOLINE_PHYS >> 12`. The code
//! only uses addresses computed from `AP_TRAMPOLINE_PHYS`, so it runs from the copy.
//!
//! The AP loads a temporary GDT, enables PAE, long mode and NX, loads the kernel's page tables
//! (CR3 from the mailbox: must be below 4 GiB), jumps to 64-bit code, takes its stack and calls
//! `entry(arg)` from the mailbox.

/// Physical address the trampoline runs at: page-aligned, below 1 MiB, and free RAM on every
/// PC platform (the kernel keeps the low 1 MiB out of its allocator).
pub const AP_TRAMPOLINE_PHYS: u64 = 0x8000;

/// What the BSP tells one AP, written at `AP_TRAMPOLINE_PHYS + mailbox_offset()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ApMailbox {
    /// Page-table root (must be below 4 GiB: loaded from 32-bit code).
    pub cr3: u64,
    /// Initial stack pointer (16-byte aligned).
    pub stack_top: u64,
    /// `extern "C" fn(arg: u64) -> !` to call in long mode.
    pub entry: u64,
    /// The argument passed in `rdi`.
    pub arg: u64,
}

unsafe extern "C" {
    /// First byte of the trampoline blob.
    pub static corenet_ap_trampoline_start: u8;
    /// The mailbox inside the blob.
    pub static corenet_ap_mailbox: u8;
    /// One past the last byte of the blob.
    pub static corenet_ap_trampoline_end: u8;
}

core::arch::global_asm!(
    r#"
    .section .rodata.corenet_ap, "a"
    .p2align 12
    .global corenet_ap_trampoline_start
    .global corenet_ap_trampoline_end
    .global corenet_ap_mailbox
    .code16
    /* Fixed layout (offsets from the blob's start; LLVM's Intel syntax cannot subtract two
       labels inside a memory operand, so the code addresses data by these numbers):
         0: jump over the data     8: GDT (3 entries)     32: GDT pointer
        40: EFER bits to OR in    48: mailbox (cr3, stack, entry, arg)    80: code */
corenet_ap_trampoline_start:
    jmp ap_real
    .org 8
ap_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
    .org 32
    .short 23
    .long {base} + 8
    .org 40
    .quad 0
    .org 48
corenet_ap_mailbox:
    .quad 0, 0, 0, 0
    .org 80
ap_real:
    cli
    cld
    xor ax, ax
    mov ds, ax
    lgdt [{base} + 32]
    mov eax, cr4
    or eax, 0x20                                   /* CR4.PAE */
    mov cr4, eax
    mov eax, dword ptr [{base} + 48]
    mov cr3, eax
    mov ecx, 0xC0000080                            /* IA32_EFER */
    rdmsr
    or eax, 0x100                                  /* LME */
    or eax, dword ptr [{base} + 40]                /* NXE when the BSP enabled it */
    wrmsr
    mov eax, cr0
    or eax, 0x80010001                             /* PG | WP | PE */
    mov cr0, eax
    /* far jump with a 32-bit offset from 16-bit code: 66 EA off32 sel16 */
    .byte 0x66, 0xea
    .long {base} + (ap_long - corenet_ap_trampoline_start)
    .short 0x08

    .code64
ap_long:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, qword ptr [{base} + 56]
    mov rax, qword ptr [{base} + 64]
    mov rdi, qword ptr [{base} + 72]
    xor ebp, ebp
    call rax
1:
    hlt
    jmp 1b
corenet_ap_trampoline_end:
    .code64
    .text
"#,
    base = const AP_TRAMPOLINE_PHYS,
);

/// Byte offset of the NXE word (EFER bits OR-ed in by the AP) from the blob's start: the
/// mailbox's offset minus 8.
pub const NXE_BEFORE_MAILBOX: usize = 8;
