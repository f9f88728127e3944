//! Processors from the Intel MultiProcessor Specification 1.4 tables, where there is no ACPI.
//!
//! Firecracker and QEMU microvm with `acpi=off` describe their CPUs with an MP table instead
//! of a MADT. The floating pointer structure ("_MP_", 16 bytes, checksummed) is searched in
//! the first KiB of the EBDA, the last KiB of base memory and the BIOS ROM (spec 4.0); it points
//! at the configuration table ("PCMP"), whose processor entries (type 0, 20 bytes) carry the
//! local APIC ids. Pure parsing over [`PhysRead`], tested on the host.

use corenet_boot::PhysRead;
use heapless::Vec;

/// Processors found: (APIC id, is the bootstrap processor).
pub type Processors = Vec<(u32, bool), 64>;

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

fn find_floating(mem: &dyn PhysRead, start: u64, len: u64) -> Option<u64> {
    let mut at = start;
    while at + 16 <= start + len {
        let mut fp = [0u8; 16];
        if mem.read(at, &mut fp) && &fp[..4] == b"_MP_" && fp[8] == 1 && sum(&fp) == 0 {
            return Some(at);
        }
        at += 16;
    }
    None
}

/// The processors the MP table lists as enabled, or `None` without a valid table.
pub fn processors(mem: &dyn PhysRead) -> Option<Processors> {
    let mut seg = [0u8; 2];
    let ebda = if mem.read(0x40e, &mut seg) {
        u64::from(u16::from_le_bytes(seg)) << 4
    } else {
        0
    };
    let fp = (ebda != 0)
        .then(|| find_floating(mem, ebda, 1024))
        .flatten()
        .or_else(|| find_floating(mem, 639 * 1024, 1024))
        .or_else(|| find_floating(mem, 0xf_0000, 0x1_0000))?;
    let mut f = [0u8; 16];
    if !mem.read(fp, &mut f) {
        return None;
    }
    let table = u64::from(u32::from_le_bytes([f[4], f[5], f[6], f[7]]));
    if table == 0 {
        return None; // a default configuration (spec 5): not produced by virtual machines
    }
    let mut hdr = [0u8; 44];
    if !mem.read(table, &mut hdr) || &hdr[..4] != b"PCMP" {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([hdr[4], hdr[5]]));
    if !(44..=65_535).contains(&len) {
        return None;
    }
    let mut whole = [0u8; 4096];
    let whole = whole.get_mut(..len)?;
    if !mem.read(table, whole) || sum(whole) != 0 {
        return None;
    }
    let mut out = Processors::new();
    // Walk by the table length, as Linux does: some producers leave the entry count 0.
    let mut at = 44;
    while at < len {
        let Some(&kind) = whole.get(at) else { break };
        let size = if kind == 0 { 20 } else { 8 };
        let Some(e) = whole.get(at..at + size) else {
            break;
        };
        if kind == 0 && e[3] & 1 != 0 {
            let _ = out.push((u32::from(e[1]), e[3] & 2 != 0));
        }
        at += size;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec as SVec;

    struct Mem(SVec<u8>);

    impl PhysRead for Mem {
        fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
            let a = addr as usize;
            match self.0.get(a..a + buf.len()) {
                Some(s) => {
                    buf.copy_from_slice(s);
                    true
                }
                None => false,
            }
        }
    }

    fn machine(cpus: &[(u8, u8)], corrupt: bool) -> Mem {
        let mut m = std::vec![0u8; 0x10_0000];
        let table = 0x9_fc00usize + 16;
        let fp = 0x9_fc00usize;
        m[fp..fp + 4].copy_from_slice(b"_MP_");
        m[fp + 4..fp + 8].copy_from_slice(&(table as u32).to_le_bytes());
        m[fp + 8] = 1;
        m[fp + 9] = 4;
        m[fp + 10] = 0u8.wrapping_sub(sum(&m[fp..fp + 16]));
        let mut t = SVec::new();
        t.extend_from_slice(b"PCMP");
        t.extend_from_slice(&[0; 40]);
        for &(id, flags) in cpus {
            let mut e = [0u8; 20];
            e[1] = id;
            e[3] = flags;
            t.extend_from_slice(&e);
        }
        t.extend_from_slice(&[2, 0, 0x11, 1, 0, 0, 0xc0, 0xfe]); // an IOAPIC entry
        let len = t.len() as u16;
        t[4..6].copy_from_slice(&len.to_le_bytes());
        t[7] = 0u8.wrapping_sub(sum(&t));
        if corrupt {
            t[50] ^= 1;
        }
        m[table..table + t.len()].copy_from_slice(&t);
        Mem(m)
    }

    #[test]
    fn lists_enabled_processors_and_the_bsp() {
        let m = machine(&[(0, 3), (1, 1), (2, 0), (3, 1)], false);
        let p = processors(&m).unwrap();
        assert_eq!(p.as_slice(), &[(0, true), (1, false), (3, false)]);
    }

    #[test]
    fn rejects_bad_checksum_and_absence() {
        assert!(processors(&machine(&[(0, 3)], true)).is_none());
        assert!(processors(&Mem(std::vec![0u8; 0x10_0000])).is_none());
    }
}
