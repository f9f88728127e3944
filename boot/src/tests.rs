//! Host tests of boot-information parsing over synthetic loader structures.

use crate::bootinfo::*;
use std::vec::Vec;

/// Physical memory backed by one buffer starting at `base`.
struct Mem {
    base: u64,
    bytes: Vec<u8>,
}

impl Mem {
    fn new(base: u64, size: usize) -> Self {
        Self {
            base,
            bytes: std::vec![0; size],
        }
    }
    fn put(&mut self, addr: u64, data: &[u8]) {
        let o = (addr - self.base) as usize;
        self.bytes[o..o + data.len()].copy_from_slice(data);
    }
    fn put32(&mut self, addr: u64, v: u32) {
        self.put(addr, &v.to_le_bytes());
    }
    fn put64(&mut self, addr: u64, v: u64) {
        self.put(addr, &v.to_le_bytes());
    }
}

impl PhysRead for Mem {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        let Some(o) = addr.checked_sub(self.base) else {
            return false;
        };
        let o = o as usize;
        match self.bytes.get(o..o + buf.len()) {
            Some(s) => {
                buf.copy_from_slice(s);
                true
            }
            None => false,
        }
    }
}

const BASE: u64 = 0x1000;

fn rsdp_at(m: &mut Mem, addr: u64) {
    let mut r = [0u8; 36];
    r[..8].copy_from_slice(b"RSD PTR ");
    r[15] = 2;
    r[16..20].copy_from_slice(&0x7fe_0000u32.to_le_bytes());
    r[20..24].copy_from_slice(&36u32.to_le_bytes());
    r[24..32].copy_from_slice(&0x7fe_1000u64.to_le_bytes());
    let c1 = r[..20].iter().fold(0u8, |a, &x| a.wrapping_add(x));
    r[8] = 0u8.wrapping_sub(c1);
    let c2 = r.iter().fold(0u8, |a, &x| a.wrapping_add(x));
    r[32] = 0u8.wrapping_sub(c2);
    m.put(addr, &r);
}

fn pvh(entries: &[(u64, u64, u32)], cmdline: &[u8]) -> Mem {
    let mut m = Mem::new(BASE, 0x4000);
    let info = BASE;
    m.put32(info, PVH_MAGIC);
    m.put32(info + 4, 1);
    m.put64(info + 24, BASE + 0x800);
    m.put(BASE + 0x800, cmdline);
    m.put64(info + 32, BASE + 0xc00);
    rsdp_at(&mut m, BASE + 0xc00);
    m.put64(info + 40, BASE + 0x100);
    m.put32(info + 48, entries.len() as u32);
    for (i, &(a, l, t)) in entries.iter().enumerate() {
        let e = BASE + 0x100 + 24 * i as u64;
        m.put64(e, a);
        m.put64(e + 8, l);
        m.put32(e + 16, t);
    }
    m
}

#[test]
fn pvh_memory_map_cmdline_rsdp() {
    let m = pvh(
        &[
            (0x10_0000, 0x7f0_0000, 1),
            (0, 0x9fc00, 1),
            (0xb000_0000, 0x1000_0000, 2),
            (0x7ff_0000, 0x1_0000, 3),
        ],
        b"log=debug  \0garbage",
    );
    let bi = BootInfo::parse(&m, 0, BASE as u32).unwrap();
    assert_eq!(bi.protocol, Protocol::Pvh);
    assert_eq!(bi.memory.len(), 4);
    assert_eq!(bi.memory[0].start, 0, "sorted");
    assert_eq!(bi.memory[3].kind, MemoryKind::Reserved);
    assert_eq!(bi.cmdline.as_str(), "log=debug");
    assert_eq!(bi.usable_bytes(), 0x7f0_0000 + 0x9fc00);
    assert_eq!(bi.memory_end(), 0x800_0000);
    let r = bi.rsdp.unwrap();
    assert_eq!(
        (r.revision, r.rsdt, r.xsdt),
        (2, 0x7fe_0000, Some(0x7fe_1000))
    );
}

#[test]
fn pvh_rejects_nonsense() {
    let no_high = pvh(&[(0, 0x9fc00, 1)], b"\0");
    assert_eq!(
        BootInfo::parse(&no_high, 0, BASE as u32).unwrap_err(),
        BootInfoError::NoUsableMemory
    );
    let wrap = pvh(&[(u64::MAX - 10, 100, 1)], b"\0");
    assert!(matches!(
        BootInfo::parse(&wrap, 0, BASE as u32),
        Err(BootInfoError::RegionOverflow { .. })
    ));
    let mut v0 = pvh(&[(0x10_0000, 0x100_0000, 1)], b"\0");
    v0.put32(BASE + 4, 0);
    assert_eq!(
        BootInfo::parse(&v0, 0, BASE as u32).unwrap_err(),
        BootInfoError::NoMemoryMap
    );
    let mut many = pvh(&[(0x10_0000, 0x100_0000, 1)], b"\0");
    many.put32(BASE + 48, 100_000);
    assert_eq!(
        BootInfo::parse(&many, 0, BASE as u32).unwrap_err(),
        BootInfoError::TooManyRegions
    );
    let mut bad_cmd = pvh(&[(0x10_0000, 0x100_0000, 1)], &[0xff, 0xfe, 0]);
    assert_eq!(
        BootInfo::parse(&bad_cmd, 0, BASE as u32).unwrap_err(),
        BootInfoError::BadCmdline
    );
    bad_cmd.put32(BASE, 0x1234);
    assert!(matches!(
        BootInfo::parse(&bad_cmd, 0, BASE as u32),
        Err(BootInfoError::UnknownProtocol { .. })
    ));
    // a pointer out of readable memory is an error, not a crash
    let mut dangling = pvh(&[(0x10_0000, 0x100_0000, 1)], b"\0");
    dangling.put64(BASE + 40, 0xdead_0000);
    assert!(matches!(
        BootInfo::parse(&dangling, 0, BASE as u32),
        Err(BootInfoError::Unreadable { .. })
    ));
}

fn mb2(tags: &[(u32, Vec<u8>)]) -> Mem {
    let mut m = Mem::new(BASE, 0x4000);
    let mut at = BASE + 8;
    for (ty, body) in tags {
        m.put32(at, *ty);
        m.put32(at + 4, 8 + body.len() as u32);
        m.put(at + 8, body);
        at += (8 + body.len() as u64 + 7) & !7;
    }
    m.put32(at, 0);
    m.put32(at + 4, 8);
    at += 8;
    m.put32(BASE, (at - BASE) as u32);
    m
}

fn mmap_body(entries: &[(u64, u64, u32)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&24u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    for &(a, l, t) in entries {
        b.extend_from_slice(&a.to_le_bytes());
        b.extend_from_slice(&l.to_le_bytes());
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
    }
    b
}

#[test]
fn multiboot2_tags() {
    let mut rsdp = Mem::new(0, 64);
    rsdp_at(&mut rsdp, 0);
    let m = mb2(&[
        (1, b"ip=10.0.0.2/24\0".to_vec()),
        (99, std::vec![1, 2, 3]),
        (
            6,
            mmap_body(&[
                (0, 0x9fc00, 1),
                (0x10_0000, 0x3ff0_0000, 1),
                (0xfee0_0000, 0x1000, 2),
            ]),
        ),
        (15, rsdp.bytes[..36].to_vec()),
    ]);
    let bi = BootInfo::parse(&m, crate::MULTIBOOT2_BOOTLOADER_MAGIC, BASE as u32).unwrap();
    assert_eq!(bi.protocol, Protocol::Multiboot2);
    assert_eq!(bi.cmdline.as_str(), "ip=10.0.0.2/24");
    assert_eq!(bi.memory.len(), 3);
    assert_eq!(bi.rsdp.unwrap().xsdt, Some(0x7fe_1000));
}

#[test]
fn multiboot2_rejects_bad_tags() {
    let no_map = mb2(&[(1, b"x\0".to_vec())]);
    assert_eq!(
        BootInfo::parse(&no_map, crate::MULTIBOOT2_BOOTLOADER_MAGIC, BASE as u32).unwrap_err(),
        BootInfoError::NoMemoryMap
    );
    let mut overlong = mb2(&[(6, mmap_body(&[(0x10_0000, 0x100_0000, 1)]))]);
    overlong.put32(BASE + 12, 0x10_0000);
    assert!(matches!(
        BootInfo::parse(&overlong, crate::MULTIBOOT2_BOOTLOADER_MAGIC, BASE as u32),
        Err(BootInfoError::BadTag { .. })
    ));
}

#[test]
fn rsdp_bad_checksum_is_ignored() {
    let mut m = Mem::new(0, 64);
    rsdp_at(&mut m, 0);
    m.bytes[9] ^= 1;
    assert_eq!(parse_rsdp(&m, 0), None);
}
