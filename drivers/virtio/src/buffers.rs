//! Fixed-size packet buffers in one DMA region: buffer `i` belongs to descriptor `i`.
#![allow(unsafe_code)]

use core::num::NonZeroUsize;
use corenet_nic::DmaRegion;

/// Bytes per buffer: a 20-byte virtio-net header plus a 1514-byte frame, rounded up so buffers
/// never straddle a 2 KiB boundary.
pub const BUF_SIZE: usize = 2048;

/// Longest virtio-net header (5.1.6: with HASH_REPORT); frames start at most this far in.
pub(crate) const HDR_MAX: usize = 20;

/// `count` buffers of [`BUF_SIZE`] bytes, `count` a power of two.
///
/// Buffer ids are masked with `count - 1`, so no id can reach outside the region whatever its
/// value; the queues only pass ids they validated (an invalid one would alias another buffer of
/// the same queue, never foreign memory). For the packet queues each buffer is a virtio-net
/// header of `hdr` bytes followed by a frame of at most `cap` bytes; both are fixed at
/// construction so the per-packet bounds check is a single compare against `cap`.
#[derive(Debug)]
pub(crate) struct Buffers {
    virt: *mut u8,
    phys: u64,
    mask: usize,
    /// Header length: frames start here. At most [`HDR_MAX`].
    hdr: usize,
    /// `virt + hdr`: where buffer 0's frame starts.
    frames: *mut u8,
    /// `BUF_SIZE - hdr`: the largest frame (non-zero, which spares callers an empty check).
    cap: NonZeroUsize,
}

// SAFETY: `Buffers` exclusively owns its packet buffers (DMA memory, identity mapped, valid on
// every core); moving it moves that ownership, and it is not `Sync`.
unsafe impl Send for Buffers {}

impl Buffers {
    /// # Safety
    ///
    /// `region` must come from a `DmaAllocator` (valid, zeroed, exclusively ours for the
    /// buffers' lifetime) and be at least `count * BUF_SIZE` bytes long; `count` must be a
    /// power of two.
    pub(crate) unsafe fn new(region: DmaRegion, count: u16) -> Self {
        debug_assert!(count.is_power_of_two());
        debug_assert!(region.len >= usize::from(count) * BUF_SIZE);
        Self {
            virt: region.virt.as_ptr(),
            phys: region.phys,
            mask: usize::from(count) - 1,
            hdr: 0,
            frames: region.virt.as_ptr(),
            cap: NonZeroUsize::new(BUF_SIZE).unwrap_or(NonZeroUsize::MIN),
        }
    }

    /// Sets the virtio-net header length (clamped to [`HDR_MAX`]): frames start after it.
    pub(crate) fn set_header(&mut self, hdr_len: usize) {
        self.hdr = hdr_len.min(HDR_MAX);
        // SAFETY: `hdr <= HDR_MAX < BUF_SIZE`: inside buffer 0, inside the region.
        self.frames = unsafe { self.virt.add(self.hdr) };
        self.cap = NonZeroUsize::new(BUF_SIZE - self.hdr).unwrap_or(NonZeroUsize::MIN);
    }

    /// The largest frame a buffer holds after its header.
    #[inline]
    pub(crate) fn cap(&self) -> usize {
        self.cap.get()
    }

    /// The first `len` frame bytes (after the header) of buffer `id`, or an empty slice when
    /// `len` exceeds [`cap`](Self::cap): one compare, the header length is fixed.
    #[inline]
    pub(crate) fn frame(&self, id: u16, len: usize) -> &[u8] {
        if len > self.cap.get() {
            return &[];
        }
        // SAFETY: `hdr + len <= hdr + cap = BUF_SIZE`: inside buffer `id` (masked) inside the
        // region. Ownership as in `slice`.
        unsafe { core::slice::from_raw_parts(self.frame_start(id), len) }
    }

    /// The whole frame area (after the header) of buffer `id`, writable: no check needed.
    #[inline]
    pub(crate) fn frame_mut(&mut self, id: u16) -> &mut [u8] {
        // SAFETY: `[hdr, hdr + cap) = [hdr, BUF_SIZE)`, inside buffer `id` inside the region;
        // the buffer is owned by the CPU (see `slice`); `&mut self` gives exclusivity.
        unsafe { core::slice::from_raw_parts_mut(self.frame_start(id), self.cap.get()) }
    }

    /// Start of buffer `id`'s frame, after its header (id masked into range).
    #[inline]
    fn frame_start(&self, id: u16) -> *mut u8 {
        // SAFETY: `frames = virt + hdr` and `(id & mask) * BUF_SIZE + hdr + cap`
        // `= ((id & mask) + 1) * BUF_SIZE <= count * BUF_SIZE <= region.len`.
        unsafe { self.frames.add((usize::from(id) & self.mask) * BUF_SIZE) }
    }

    /// Start of buffer `id` (masked into range).
    #[inline]
    fn start(&self, id: u16) -> *mut u8 {
        // SAFETY: `(id & mask) * BUF_SIZE + BUF_SIZE <= count * BUF_SIZE <= region.len`.
        unsafe { self.virt.add((usize::from(id) & self.mask) * BUF_SIZE) }
    }

    /// Device address of buffer `id`.
    #[inline]
    pub(crate) fn phys(&self, id: u16) -> u64 {
        self.phys + (u64::from(id) & self.mask as u64) * BUF_SIZE as u64
    }

    /// Bytes `[off, off + len)` of buffer `id`, or an empty slice if past the buffer's end.
    ///
    /// The caller must own the buffer (not posted to the device): ownership is tracked by the
    /// queue, which only calls this for buffers in its own hands.
    #[inline]
    pub(crate) fn slice(&self, id: u16, off: usize, len: usize) -> &[u8] {
        if off > BUF_SIZE || len > BUF_SIZE - off {
            return &[];
        }
        // SAFETY: inside buffer `id` (checked above; `start` masks the id) inside the region;
        // the buffer is not posted, so the device has handed it back and an honest device no
        // longer writes it (a hostile one could, which only changes the bytes we read).
        unsafe { core::slice::from_raw_parts(self.start(id).add(off), len) }
    }

    /// Mutable version of [`slice`](Self::slice).
    #[inline]
    pub(crate) fn slice_mut(&mut self, id: u16, off: usize, len: usize) -> &mut [u8] {
        if off > BUF_SIZE || len > BUF_SIZE - off {
            return &mut [];
        }
        // SAFETY: as in `slice`; `&mut self` gives exclusivity among CPU users.
        unsafe { core::slice::from_raw_parts_mut(self.start(id).add(off), len) }
    }

    /// The byte at offset `OFF` of buffer `id`'s header (a received header field).
    #[inline]
    pub(crate) fn hdr_u8<const OFF: usize>(&self, id: u16) -> u8 {
        const { assert!(OFF < HDR_MAX) };
        // SAFETY: inside the first HDR_MAX bytes of buffer `id`, inside the region; buffer
        // owned by us (see `slice`).
        unsafe { self.start(id).add(OFF).read() }
    }

    /// The little-endian `u16` at offset `OFF` of buffer `id`'s header.
    #[inline]
    pub(crate) fn hdr_u16<const OFF: usize>(&self, id: u16) -> u16 {
        const { assert!(OFF + 2 <= HDR_MAX) };
        // SAFETY: as in `hdr_u8`; unaligned read of a plain integer.
        u16::from_le(unsafe { self.start(id).add(OFF).cast::<u16>().read_unaligned() })
    }

    /// The little-endian `u32` at offset `OFF` of buffer `id`'s header.
    #[inline]
    pub(crate) fn hdr_u32<const OFF: usize>(&self, id: u16) -> u32 {
        const { assert!(OFF + 4 <= HDR_MAX) };
        // SAFETY: as in `hdr_u8`; unaligned read of a plain integer.
        u32::from_le(unsafe { self.start(id).add(OFF).cast::<u32>().read_unaligned() })
    }

    /// Writes the first 12 bytes of a transmit header at the start of buffer `id`: bytes 0..8
    /// (`flags`, `gso_type`, `hdr_len`, `gso_size`, `csum_start`) as `lo`, bytes 8..12
    /// (`csum_offset`, `num_buffers`) as `hi`. Little-endian, as 5.1.6 wants. Bytes 12..20
    /// (hash fields, with HASH_REPORT) are zeroed once by [`zero_hdr`](Self::zero_hdr).
    #[inline]
    pub(crate) fn write_hdr(&mut self, id: u16, lo: u64, hi: u32) {
        // SAFETY: 12 bytes at the start of buffer `id`, inside the region; the buffer is owned by
        // the CPU (not posted). Unaligned writes of plain integers.
        unsafe {
            let p = self.start(id);
            p.cast::<u64>().write_unaligned(lo.to_le());
            p.add(8).cast::<u32>().write_unaligned(hi.to_le());
        }
    }

    /// Zeroes the header area (`[0, hdr)`) of buffer `id`.
    pub(crate) fn zero_hdr(&mut self, id: u16) {
        // SAFETY: `hdr <= HDR_MAX < BUF_SIZE` bytes at the start of buffer `id`, CPU-owned.
        unsafe { self.start(id).write_bytes(0, self.hdr) }
    }
}
