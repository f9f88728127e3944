//! corenet's boot crate: from the loader's jump to the kernel's first Rust function.
//!
//! A tour, in execution order:
//!
//! 1. [`entry`]: the ELF image carries a PVH note (QEMU q35/microvm, Firecracker, Cloud
//!    Hypervisor) and a Multiboot2 header (GRUB on bare metal). Both enter
//!    `corenet_entry32` in 32-bit protected mode; it records the boot TSC, identity-maps 4 GiB
//!    with 2 MiB pages, enters long mode and calls `corenet_boot_main(eax, ebx)`, which the
//!    kernel crate defines (the one upward call in the crate graph, resolved at link time).
//! 2. [`bootinfo`] (and [`multiboot2`]): the kernel's first act is to copy the loader's memory
//!    map, command line and ACPI RSDP into one validated [`BootInfo`].
//! 3. [`cmdline`]: `key=value` access to the command line.
//! 4. [`trampoline`]: the real-mode code application processors start in; the kernel copies it
//!    below 1 MiB before sending INIT-SIPI-SIPI.
//!
//! The image layout is in `boot/corenet.ld`; `build.rs` puts it on the linker's search path so
//! every appliance links with `-Tcorenet.ld` (set in `.cargo/config.toml`).
//!
//! The assembly modules exist only when building for the guest (`target_os = "none"`); the
//! parsers are plain logic and are tested on the host.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod bootinfo;
pub mod cmdline;
#[cfg(target_os = "none")]
pub mod entry;
pub mod multiboot2;
#[cfg(test)]
mod tests;
#[cfg(target_os = "none")]
pub mod trampoline;

pub use bootinfo::{BootInfo, BootInfoError, MemoryKind, MemoryRegion, PhysRead, Protocol, Rsdp};
pub use cmdline::Cmdline;

/// Multiboot2 magic the loader leaves in `eax` (spec 3.3).
pub const MULTIBOOT2_BOOTLOADER_MAGIC: u32 = 0x36d7_6289;
