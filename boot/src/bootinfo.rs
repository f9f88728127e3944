//! One validated `BootInfo` from either boot protocol: memory map, command line, ACPI RSDP.
//!
//! The loader's structures live in memory the kernel will reuse, so everything is copied out
//! here, once, before anything else allocates. Parsing reads physical memory through
//! [`PhysRead`], so the same code runs on the host over byte buffers in tests.

use heapless::{String, Vec};

/// Most memory-map entries kept; real firmware gives a few dozen.
pub const MAX_REGIONS: usize = 128;
/// Longest kernel command line kept, in bytes.
pub const MAX_CMDLINE: usize = 2048;

/// PVH `hvm_start_info.magic` (xen/include/public/arch-x86/hvm/start_info.h).
pub const PVH_MAGIC: u32 = 0x336e_c578;

/// Reads physical memory. In the guest memory is identity mapped; on the host, tests back it
/// with buffers.
pub trait PhysRead {
    /// Fills `buf` from physical address `addr`; false when that memory is not readable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;
}

/// What a memory-map entry says about a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Free RAM (E820 type 1).
    Usable,
    /// ACPI tables, reclaimable after parsing (type 3).
    AcpiReclaimable,
    /// ACPI non-volatile storage (type 4).
    AcpiNvs,
    /// Anything else the firmware reserved (MMIO windows, ECAM, ROMs, bad memory).
    Reserved,
}

impl MemoryKind {
    fn from_e820(t: u32) -> Self {
        match t {
            1 => Self::Usable,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            _ => Self::Reserved,
        }
    }

    /// Whether the range is memory (cacheable) rather than a device window.
    pub fn is_memory(self) -> bool {
        !matches!(self, Self::Reserved)
    }
}

/// One memory-map range, `[start, start + len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    /// First byte.
    pub start: u64,
    /// Length in bytes (non-zero).
    pub len: u64,
    /// What the firmware says it is.
    pub kind: MemoryKind,
}

impl MemoryRegion {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// Which protocol brought us here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Xen PVH direct boot (QEMU, Firecracker, Cloud Hypervisor).
    Pvh,
    /// Multiboot2 (GRUB).
    Multiboot2,
}

/// The ACPI root pointer, validated (ACPI 6.5, 5.2.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rsdp {
    /// 0 for ACPI 1.0 (RSDT only), 2 and above when an XSDT may exist.
    pub revision: u8,
    /// Physical address of the RSDT.
    pub rsdt: u32,
    /// Physical address of the XSDT (revision >= 2 and non-zero).
    pub xsdt: Option<u64>,
}

/// Everything the kernel needs from the loader.
#[derive(Debug, Clone)]
pub struct BootInfo {
    /// The protocol used.
    pub protocol: Protocol,
    /// Memory map, sorted by start address, entries non-empty.
    pub memory: Vec<MemoryRegion, MAX_REGIONS>,
    /// Kernel command line (may be empty).
    pub cmdline: String<MAX_CMDLINE>,
    /// ACPI root pointer, when the loader gave one (the kernel may still scan for it).
    pub rsdp: Option<Rsdp>,
}

/// Why boot information was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootInfoError {
    /// Neither Multiboot2's register magic nor PVH's structure magic.
    UnknownProtocol {
        /// `eax` at entry.
        eax: u32,
        /// First word at `ebx`.
        magic_at_ebx: u32,
    },
    /// PVH start info version 0 carries no memory map.
    NoMemoryMap,
    /// The memory map has no entries or no usable RAM above 1 MiB.
    NoUsableMemory,
    /// An entry wraps around the address space.
    RegionOverflow {
        /// Entry start.
        start: u64,
        /// Entry length.
        len: u64,
    },
    /// More than [`MAX_REGIONS`] entries.
    TooManyRegions,
    /// A structure the loader pointed at cannot be read.
    Unreadable {
        /// Its address.
        addr: u64,
    },
    /// A Multiboot2 tag's size is malformed.
    BadTag {
        /// Tag type.
        tag: u32,
    },
    /// The command line is longer than [`MAX_CMDLINE`] or not UTF-8.
    BadCmdline,
}

impl core::fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownProtocol { eax, magic_at_ebx } => write!(
                f,
                "unknown boot protocol (eax={eax:#x}, [ebx]={magic_at_ebx:#x}): expected PVH or Multiboot2"
            ),
            Self::NoMemoryMap => f.write_str("PVH start info has no memory map (version 0)"),
            Self::NoUsableMemory => f.write_str("memory map has no usable RAM above 1 MiB"),
            Self::RegionOverflow { start, len } => {
                write!(f, "memory map entry {start:#x}+{len:#x} wraps around")
            }
            Self::TooManyRegions => write!(f, "memory map has more than {MAX_REGIONS} entries"),
            Self::Unreadable { addr } => write!(f, "boot structure at {addr:#x} is unreadable"),
            Self::BadTag { tag } => write!(f, "malformed Multiboot2 tag type {tag}"),
            Self::BadCmdline => write!(
                f,
                "command line longer than {MAX_CMDLINE} bytes or not UTF-8"
            ),
        }
    }
}

impl core::error::Error for BootInfoError {}

fn read_u32(mem: &dyn PhysRead, addr: u64) -> Result<u32, BootInfoError> {
    let mut b = [0u8; 4];
    mem.read(addr, &mut b)
        .then_some(u32::from_le_bytes(b))
        .ok_or(BootInfoError::Unreadable { addr })
}

fn read_u64(mem: &dyn PhysRead, addr: u64) -> Result<u64, BootInfoError> {
    let mut b = [0u8; 8];
    mem.read(addr, &mut b)
        .then_some(u64::from_le_bytes(b))
        .ok_or(BootInfoError::Unreadable { addr })
}

impl BootInfo {
    /// Parses what the loader left: `eax`/`ebx` are the entry registers.
    pub fn parse(mem: &dyn PhysRead, eax: u32, ebx: u32) -> Result<Self, BootInfoError> {
        if eax == crate::MULTIBOOT2_BOOTLOADER_MAGIC {
            return crate::multiboot2::parse(mem, u64::from(ebx));
        }
        let magic = read_u32(mem, u64::from(ebx)).unwrap_or(0);
        if magic == PVH_MAGIC {
            return parse_pvh(mem, u64::from(ebx));
        }
        Err(BootInfoError::UnknownProtocol {
            eax,
            magic_at_ebx: magic,
        })
    }

    /// Total usable RAM in bytes. A loader's map may list overlapping
    /// regions; the sum saturates instead of overflowing.
    pub fn usable_bytes(&self) -> u64 {
        self.memory
            .iter()
            .filter(|r| r.kind == MemoryKind::Usable)
            .fold(0u64, |sum, r| sum.saturating_add(r.len))
    }

    /// One past the highest byte of memory (usable or ACPI) in the map.
    pub fn memory_end(&self) -> u64 {
        self.memory
            .iter()
            .filter(|r| r.kind.is_memory())
            .map(|r| r.end())
            .max()
            .unwrap_or(0)
    }
}

/// `hvm_start_info` (version 1) field offsets.
mod pvh {
    pub const VERSION: u64 = 4;
    pub const CMDLINE_PADDR: u64 = 24;
    pub const RSDP_PADDR: u64 = 32;
    pub const MEMMAP_PADDR: u64 = 40;
    pub const MEMMAP_ENTRIES: u64 = 48;
    /// `hvm_memmap_table_entry`: addr u64, size u64, type u32, reserved u32.
    pub const ENTRY_SIZE: u64 = 24;
}

fn parse_pvh(mem: &dyn PhysRead, info: u64) -> Result<BootInfo, BootInfoError> {
    if read_u32(mem, info + pvh::VERSION)? < 1 {
        return Err(BootInfoError::NoMemoryMap);
    }
    let mut b = Builder::new(Protocol::Pvh);
    let map = read_u64(mem, info + pvh::MEMMAP_PADDR)?;
    let entries = read_u32(mem, info + pvh::MEMMAP_ENTRIES)?;
    if entries as usize > MAX_REGIONS {
        return Err(BootInfoError::TooManyRegions);
    }
    for i in 0..u64::from(entries) {
        let e = map + i * pvh::ENTRY_SIZE;
        b.region(
            read_u64(mem, e)?,
            read_u64(mem, e + 8)?,
            read_u32(mem, e + 16)?,
        )?;
    }
    let cmdline = read_u64(mem, info + pvh::CMDLINE_PADDR)?;
    if cmdline != 0 {
        b.cmdline_at(mem, cmdline, MAX_CMDLINE + 1)?;
    }
    let rsdp = read_u64(mem, info + pvh::RSDP_PADDR)?;
    if rsdp != 0 {
        b.info.rsdp = parse_rsdp(mem, rsdp);
    }
    b.finish()
}

/// Validates an RSDP at `addr` (signature and the ACPI 1.0 checksum): `None` if invalid.
pub fn parse_rsdp(mem: &dyn PhysRead, addr: u64) -> Option<Rsdp> {
    let mut raw = [0u8; 36];
    if !mem.read(addr, &mut raw[..20]) || &raw[..8] != b"RSD PTR " {
        return None;
    }
    if raw[..20].iter().fold(0u8, |a, &x| a.wrapping_add(x)) != 0 {
        return None;
    }
    let revision = raw[15];
    let rsdt = u32::from_le_bytes([raw[16], raw[17], raw[18], raw[19]]);
    let mut xsdt = None;
    if revision >= 2 && mem.read(addr, &mut raw) {
        let x = u64::from_le_bytes([
            raw[24], raw[25], raw[26], raw[27], raw[28], raw[29], raw[30], raw[31],
        ]);
        let ext_ok = raw.iter().fold(0u8, |a, &v| a.wrapping_add(v)) == 0;
        xsdt = (ext_ok && x != 0).then_some(x);
    }
    Some(Rsdp {
        revision,
        rsdt,
        xsdt,
    })
}

/// Accumulates and validates [`BootInfo`] for both protocols.
pub(crate) struct Builder {
    pub(crate) info: BootInfo,
}

impl Builder {
    pub(crate) fn new(protocol: Protocol) -> Self {
        Self {
            info: BootInfo {
                protocol,
                memory: Vec::new(),
                cmdline: String::new(),
                rsdp: None,
            },
        }
    }

    pub(crate) fn region(&mut self, start: u64, len: u64, e820: u32) -> Result<(), BootInfoError> {
        if len == 0 {
            return Ok(());
        }
        if start.checked_add(len).is_none() {
            return Err(BootInfoError::RegionOverflow { start, len });
        }
        let r = MemoryRegion {
            start,
            len,
            kind: MemoryKind::from_e820(e820),
        };
        self.info
            .memory
            .push(r)
            .map_err(|_| BootInfoError::TooManyRegions)
    }

    /// Copies a NUL-terminated string of at most `max` bytes.
    pub(crate) fn cmdline_at(
        &mut self,
        mem: &dyn PhysRead,
        addr: u64,
        max: usize,
    ) -> Result<(), BootInfoError> {
        let mut bytes: Vec<u8, MAX_CMDLINE> = Vec::new();
        for i in 0..max as u64 {
            let mut c = [0u8];
            if !mem.read(addr + i, &mut c) {
                return Err(BootInfoError::Unreadable { addr: addr + i });
            }
            if c[0] == 0 {
                break;
            }
            bytes.push(c[0]).map_err(|_| BootInfoError::BadCmdline)?;
        }
        self.cmdline_bytes(&bytes)
    }

    pub(crate) fn cmdline_bytes(&mut self, bytes: &[u8]) -> Result<(), BootInfoError> {
        let s = core::str::from_utf8(bytes).map_err(|_| BootInfoError::BadCmdline)?;
        self.info.cmdline.clear();
        self.info
            .cmdline
            .push_str(s.trim())
            .map_err(|_| BootInfoError::BadCmdline)
    }

    pub(crate) fn finish(mut self) -> Result<BootInfo, BootInfoError> {
        self.info.memory.sort_unstable_by_key(|r| r.start);
        let high_ram = self
            .info
            .memory
            .iter()
            .any(|r| r.kind == MemoryKind::Usable && r.end() > 0x10_0000);
        if !high_ram {
            return Err(BootInfoError::NoUsableMemory);
        }
        Ok(self.info)
    }
}
