//! Multiboot2 boot information (spec 3.6): memory map, command line and ACPI RSDP tags.

use crate::bootinfo::{BootInfo, BootInfoError, Builder, PhysRead, Protocol, Rsdp, parse_rsdp};

const TAG_END: u32 = 0;
const TAG_CMDLINE: u32 = 1;
const TAG_MMAP: u32 = 6;
const TAG_ACPI_OLD: u32 = 14;
const TAG_ACPI_NEW: u32 = 15;

/// Largest boot information structure accepted (GRUB's are a few KiB).
const MAX_TOTAL: u32 = 1 << 20;

fn u32_at(mem: &dyn PhysRead, addr: u64) -> Result<u32, BootInfoError> {
    let mut b = [0u8; 4];
    mem.read(addr, &mut b)
        .then_some(u32::from_le_bytes(b))
        .ok_or(BootInfoError::Unreadable { addr })
}

fn u64_at(mem: &dyn PhysRead, addr: u64) -> Result<u64, BootInfoError> {
    Ok(u64::from(u32_at(mem, addr)?) | (u64::from(u32_at(mem, addr + 4)?) << 32))
}

/// Parses the boot information at `info` (the `ebx` of a Multiboot2 entry).
pub(crate) fn parse(mem: &dyn PhysRead, info: u64) -> Result<BootInfo, BootInfoError> {
    let total = u32_at(mem, info)?;
    if !(16..=MAX_TOTAL).contains(&total) {
        return Err(BootInfoError::BadTag { tag: u32::MAX });
    }
    let end = info + u64::from(total);
    let mut b = Builder::new(Protocol::Multiboot2);
    let mut rsdp: Option<Rsdp> = None;
    let mut have_map = false;
    let mut tag = info + 8;
    while tag + 8 <= end {
        let ty = u32_at(mem, tag)?;
        let size = u32_at(mem, tag + 4)?;
        if size < 8 || tag + u64::from(size) > end {
            return Err(BootInfoError::BadTag { tag: ty });
        }
        let body = tag + 8;
        let body_len = u64::from(size) - 8;
        match ty {
            TAG_END => break,
            TAG_CMDLINE => b.cmdline_at(mem, body, body_len as usize)?,
            TAG_MMAP => {
                if body_len < 8 {
                    return Err(BootInfoError::BadTag { tag: ty });
                }
                let entry_size = u64::from(u32_at(mem, body)?);
                if entry_size < 20 {
                    return Err(BootInfoError::BadTag { tag: ty });
                }
                let mut e = body + 8;
                while e + entry_size <= tag + u64::from(size) {
                    b.region(u64_at(mem, e)?, u64_at(mem, e + 8)?, u32_at(mem, e + 16)?)?;
                    e += entry_size;
                }
                have_map = true;
            }
            // The tag holds a copy of the RSDP; prefer the ACPI 2.0 one.
            TAG_ACPI_NEW => rsdp = parse_rsdp(mem, body).or(rsdp),
            TAG_ACPI_OLD if rsdp.is_none() => rsdp = parse_rsdp(mem, body),
            _ => {}
        }
        tag += (u64::from(size) + 7) & !7;
    }
    if !have_map {
        return Err(BootInfoError::NoMemoryMap);
    }
    b.info.rsdp = rsdp;
    b.finish()
}
