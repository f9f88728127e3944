//! The seeded byte stream bulk transfers send and check, so a lost, duplicated or misplaced
//! segment shows as a wrong byte at a known offset.

use alloc::vec::Vec;

/// The byte at offset `i` of the stream seeded with `seed`: cheap, position-dependent, not
/// periodic at any segment size, and different for seeds that differ in any bit (the seed is
/// rotated away from the offset's bits, so small seeds such as port numbers do not merely
/// permute one stream).
pub fn byte(seed: u64, i: u64) -> u8 {
    let mut x = (i ^ seed.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 31;
    x as u8
}

/// Fills `buf` with the stream `seed` from offset `at`.
pub fn fill(buf: &mut [u8], seed: u64, at: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = byte(seed, at + i as u64);
    }
}

/// The stream offset of the first byte of `buf` (which should hold the stream `seed` from
/// offset `at`) that is wrong; `None` when all are right.
pub fn first_wrong(buf: &[u8], seed: u64, at: u64) -> Option<u64> {
    buf.iter()
        .enumerate()
        .find(|&(i, &b)| b != byte(seed, at + i as u64))
        .map(|(i, _)| at + i as u64)
}

/// The first `len` bytes of the stream `seed`.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut v = alloc::vec![0; len];
    fill(&mut v, seed, 0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_seed_and_a_wrong_byte_is_found() {
        let a = bytes(1, 4096);
        assert_ne!(a, bytes(2, 4096));
        assert_ne!(bytes(80, 4096), bytes(81, 4096));
        assert_eq!(first_wrong(&a[100..], 1, 100), None);
        let mut b = a.clone();
        b[1234] ^= 1;
        assert_eq!(first_wrong(&b, 1, 0), Some(1234));
    }
}
