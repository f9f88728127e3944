//! The first instructions: PVH note, Multiboot2 header, 32-bit entry, long mode, `corenet_boot_main`.
//!
//! Both boot protocols enter [`corenet_entry32`] in 32-bit protected mode, paging off,
//! interrupts off:
//! - PVH (Xen's HVM direct boot ABI, docs/xen/pvh.html): `ebx` holds the physical address of
//!   `hvm_start_info`; QEMU (q35, microvm), Firecracker and Cloud Hypervisor use it.
//! - Multiboot2 (spec 3.3, "I386 machine state"): `eax` = 0x36d76289, `ebx` = the boot
//!   information's physical address; GRUB uses it on bare metal.
//!
//! The entry records the TSC (boot time zero), checks that the CPU has long mode, identity-maps
//! the first 4 GiB with 2 MiB pages (temporary tables; the kernel builds the real ones), enables
//! PAE + long mode + paging, loads a 64-bit GDT and calls the kernel's `corenet_boot_main(eax,
//! ebx)` on a 64 KiB boot stack. It is written in `global_asm!` because stable Rust has no naked
//! functions for 32-bit code inside a 64-bit crate.
//!
//! The Multiboot2 header deliberately is *not* Multiboot1: QEMU's `-kernel` prefers a Multiboot1
//! header over the PVH note and refuses ELF64 Multiboot1 images, while it ignores Multiboot2.

unsafe extern "C" {
    /// TSC value read by the very first instructions (boot time zero).
    pub static corenet_boot_tsc: u64;
    /// The 32-bit entry point, named in the PVH note and the Multiboot2 header.
    pub fn corenet_entry32();
}

core::arch::global_asm!(
    r#"
    /* ---- PVH: Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (18), 32-bit entry address ---- */
    .section .note.pvh, "a", @note
    .p2align 2
    .long 4                      /* namesz: "Xen\0" */
    .long 4                      /* descsz */
    .long 18                     /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .p2align 2
    .long corenet_entry32
    .p2align 2

    /* ---- Multiboot2 header (spec 3.1): magic, arch 0 (i386), length, checksum, tags ---- */
    .section .multiboot2, "a"
    .p2align 3
mb2_header_start:
    .long 0xe85250d6
    .long 0
    .long mb2_header_end - mb2_header_start
    .long -(0xe85250d6 + 0 + (mb2_header_end - mb2_header_start))
    /* entry address tag (type 3): enter at corenet_entry32 in 32-bit mode */
    .p2align 3
    .short 3
    .short 0
    .long 12
    .long corenet_entry32
    /* end tag */
    .p2align 3
    .short 0
    .short 0
    .long 8
mb2_header_end:

    /* ---- 32-bit entry ---- */
    .section .boot.text, "ax"
    .code32
    .global corenet_entry32
corenet_entry32:
    cli
    cld
    mov edi, eax                 /* protocol magic (Multiboot2) or unspecified (PVH) */
    mov esi, ebx                 /* boot information, both protocols */
    rdtsc
    mov dword ptr [corenet_boot_tsc], eax
    mov dword ptr [corenet_boot_tsc + 4], edx
    mov esp, offset corenet_boot_stack_top

    /* long mode available? CPUID 0x80000001 EDX bit 29 (SDM Vol. 2A, CPUID) */
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb 90f
    mov eax, 0x80000001
    cpuid
    test edx, 0x20000000
    jz 90f

    /* PML4[0] -> PDPT; PDPT[0..4] -> four page directories of 2 MiB pages: 0..4 GiB */
    mov eax, offset corenet_boot_pdpt
    or eax, 0x3
    mov dword ptr [corenet_boot_pml4], eax
    xor ecx, ecx
1:
    mov eax, ecx
    shl eax, 12
    add eax, offset corenet_boot_pd
    or eax, 0x3
    mov dword ptr [corenet_boot_pdpt + ecx * 8], eax
    inc ecx
    cmp ecx, 4
    jb 1b
    xor ecx, ecx
2:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83                 /* present | writable | page size (2 MiB) */
    mov dword ptr [corenet_boot_pd + ecx * 8], eax
    inc ecx
    cmp ecx, 2048
    jb 2b

    mov eax, offset corenet_boot_pml4
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20                 /* CR4.PAE */
    mov cr4, eax
    mov ecx, 0xC0000080          /* IA32_EFER */
    rdmsr
    or eax, 0x100                /* EFER.LME */
    wrmsr
    mov eax, cr0
    or eax, 0x80010001           /* CR0.PG | CR0.WP | CR0.PE */
    mov cr0, eax
    lgdt [corenet_boot_gdt_ptr]
    push 0x08
    mov eax, offset corenet_entry64
    push eax
    retf

    /* no long mode: say so on COM1 and stop */
90:
    mov esi, offset corenet_no_long_mode_msg
    mov dx, 0x3f8
91:
    lodsb
    test al, al
    jz 92f
    out dx, al
    jmp 91b
92:
    hlt
    jmp 92b

    .code64
corenet_entry64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, offset corenet_boot_stack_top
    xor ebp, ebp
    call corenet_boot_main       /* (edi = magic, esi = boot info) never returns */
93:
    hlt
    jmp 93b

    .section .rodata.corenet_boot, "a"
corenet_no_long_mode_msg:
    .asciz "corenet: this CPU has no long mode (x86-64); cannot boot\r\n"
    .p2align 3
corenet_boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff     /* 0x08: 64-bit code, present, DPL 0 */
    .quad 0x00cf92000000ffff     /* 0x10: data, present, writable */
corenet_boot_gdt_ptr:
    .short 23
    .long corenet_boot_gdt

    .section .data.corenet_boot, "aw"
    .p2align 3
    .global corenet_boot_tsc
corenet_boot_tsc:
    .quad 0

    .section .bss.corenet_boot, "aw", @nobits
    .p2align 12
    .global corenet_boot_pml4
corenet_boot_pml4:
    .skip 4096
corenet_boot_pdpt:
    .skip 4096
corenet_boot_pd:
    .skip 4096 * 4
    .p2align 4
corenet_boot_stack:
    .skip 65536
    .global corenet_boot_stack_top
corenet_boot_stack_top:
    .code64
    .text
"#
);
