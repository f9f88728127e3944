//! Boot information as a loader (or a hostile hypervisor) leaves it: Multiboot2 tags, the PVH
//! start info and its memory map, the ACPI RSDP, and the MP table scan. No panic (overflow
//! checks on), and what parses is consistent.
//!
//! Input: one byte choosing the protocol (Multiboot2 magic in `eax`, or PVH's magic written
//! at `ebx`), then the memory image, placed at physical address [`BASE`]. The MP table scan
//! reads the same bytes placed at the BIOS ROM area, where it searches.

use corenet_boot::bootinfo::{MAX_CMDLINE, PVH_MAGIC};
use corenet_boot::{BootInfo, MULTIBOOT2_BOOTLOADER_MAGIC, PhysRead};

/// Where the image sits in "physical memory" (and so the value of `ebx`).
pub const BASE: u64 = 0x1000;
/// Where the MP table scan finds the image: the start of the BIOS ROM area.
const ROM: u64 = 0xf_0000;

/// Memory that is readable only where the image is.
struct Image<'a> {
    base: u64,
    bytes: &'a [u8],
}

impl PhysRead for Image<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        let Some(off) = addr.checked_sub(self.base) else {
            return false;
        };
        let Ok(off) = usize::try_from(off) else {
            return false;
        };
        match off
            .checked_add(buf.len())
            .and_then(|end| self.bytes.get(off..end))
        {
            Some(s) => {
                buf.copy_from_slice(s);
                true
            }
            None => false,
        }
    }
}

/// The harness.
pub fn run(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut image = rest.to_vec();
    let eax = if sel & 1 == 0 {
        MULTIBOOT2_BOOTLOADER_MAGIC
    } else {
        if let Some(m) = image.get_mut(..4) {
            m.copy_from_slice(&PVH_MAGIC.to_le_bytes());
        }
        0x1234_5678 // anything but the Multiboot2 magic
    };
    let mem = Image {
        base: BASE,
        bytes: &image,
    };
    if let Ok(info) = BootInfo::parse(&mem, eax, BASE as u32) {
        assert!(info.cmdline.len() <= MAX_CMDLINE);
        for r in &info.memory {
            assert!(r.start.checked_add(r.len).is_some(), "region wraps: {r:?}");
        }
        let _ = info.usable_bytes();
        let _ = info.memory_end();
    }

    let rom = Image {
        base: ROM,
        bytes: rest,
    };
    if let Some(cpus) = corenet_kernel::mptable::processors(&rom) {
        assert!(cpus.len() <= cpus.capacity());
    }
}
