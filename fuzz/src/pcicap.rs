//! The Intel driver's MSI-X capability walk over a device's configuration space: any bytes in
//! the 256-byte header and capability area (looping lists, pointers into the header, any BIR,
//! any table size and offset). No panic, no endless walk; what `find` returns lies where the
//! specification allows, and a table `check_table` accepts fits its BAR.
//!
//! Input: 8 bytes of BAR size (little-endian), then up to 256 bytes of configuration space
//! (the rest reads as zero).

use corenet_ixgbe::msix::{self, ConfigSpace, ENTRY_SIZE};

struct Space([u8; 256]);

impl ConfigSpace for Space {
    fn read32(&self, off: u16) -> u32 {
        let o = usize::from(off & 0xFC);
        match self.0.get(o..o + 4) {
            Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            None => u32::MAX,
        }
    }

    fn write32(&mut self, _: u16, _: u32) {}
}

/// The harness.
pub fn run(data: &[u8]) {
    let (size, rest) = data.split_at(data.len().min(8));
    let mut b = [0u8; 8];
    b[..size.len()].copy_from_slice(size);
    let bar_size = u64::from_le_bytes(b);
    let mut space = [0u8; 256];
    let n = rest.len().min(256);
    space[..n].copy_from_slice(&rest[..n]);
    let Ok(cap) = msix::find(&Space(space)) else {
        return;
    };
    assert!((0x40..=0xF8).contains(&cap.offset) && cap.offset % 4 == 0);
    assert!(cap.table_bar <= 5);
    assert!((1..=2048).contains(&cap.table_len));
    assert_eq!(cap.table_offset % 8, 0);
    if msix::check_table(&cap, bar_size).is_ok() {
        let end = u64::from(cap.table_offset) + u64::from(cap.table_len) * u64::from(ENTRY_SIZE);
        assert!(end <= bar_size, "a table past its BAR was accepted");
    }
}
