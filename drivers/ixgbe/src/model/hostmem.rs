//! The model's "physical memory": host allocations handed out as DMA regions, with physical
//! address equal to the host address, and bounds-checked device reads and writes into them.
//!
//! The device model only touches memory inside a region it handed out; an address the driver
//! programmed that falls outside every region is a DMA fault (counted, the access dropped),
//! which is how the model catches a driver that points the device at the wrong place.

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use alloc::vec::Vec;
use core::ptr::NonNull;

use corenet_nic::DmaRegion;

struct Region {
    ptr: NonNull<u8>,
    layout: Layout,
}

/// All DMA memory of one model instance; freed when the model is dropped.
#[derive(Default)]
pub(crate) struct HostMem {
    regions: Vec<Region>,
    /// Accesses outside every region.
    pub(crate) faults: u64,
}

impl core::fmt::Debug for HostMem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostMem")
            .field("regions", &self.regions.len())
            .field("faults", &self.faults)
            .finish()
    }
}

impl HostMem {
    /// A zeroed region of `len` bytes aligned to `align`, or `None` for a bad request.
    pub(crate) fn alloc(&mut self, len: usize, align: usize) -> Option<DmaRegion> {
        let layout = Layout::from_size_align(len.max(1), align.max(1)).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        self.regions.push(Region { ptr, layout });
        Some(DmaRegion {
            virt: ptr,
            phys: ptr.as_ptr() as u64,
            len,
        })
    }

    /// The host pointer for `len` bytes at physical `addr`, if all inside one region.
    fn find(&self, addr: u64, len: usize) -> Option<*mut u8> {
        let end = addr.checked_add(len as u64)?;
        self.regions.iter().find_map(|r| {
            let start = r.ptr.as_ptr() as u64;
            (addr >= start && end <= start + r.layout.size() as u64)
                .then(|| r.ptr.as_ptr().wrapping_add((addr - start) as usize))
        })
    }

    /// Device write of `data` at `addr`; false (and a fault counted) outside the regions.
    pub(crate) fn write(&mut self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr, data.len()) {
            Some(p) => {
                // The driver may hold raw pointers into this memory but never a reference across
                // this call (it accesses DMA memory volatilely, and only exposes buffers the
                // device does not own).
                // SAFETY: `find` checked that `p..p + data.len()` lies inside a live allocation
                // of ours; see above for aliasing.
                unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
                true
            }
            None => {
                self.faults += 1;
                false
            }
        }
    }

    /// Device read into `out` from `addr`; false (and a fault counted) outside the regions.
    pub(crate) fn read(&mut self, addr: u64, out: &mut [u8]) -> bool {
        match self.find(addr, out.len()) {
            Some(p) => {
                // SAFETY: as in `write`: in bounds of a live allocation of ours.
                unsafe { core::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) };
                true
            }
            None => {
                self.faults += 1;
                false
            }
        }
    }

    /// Little-endian u32 at `addr` (0 on a fault).
    pub(crate) fn read_u32(&mut self, addr: u64) -> u32 {
        let mut b = [0u8; 4];
        self.read(addr, &mut b);
        u32::from_le_bytes(b)
    }

    /// Little-endian u64 at `addr` (0 on a fault).
    pub(crate) fn read_u64(&mut self, addr: u64) -> u64 {
        let mut b = [0u8; 8];
        self.read(addr, &mut b);
        u64::from_le_bytes(b)
    }

    /// Writes a little-endian u32 at `addr`.
    pub(crate) fn write_u32(&mut self, addr: u64, v: u32) {
        self.write(addr, &v.to_le_bytes());
    }
}

impl Drop for HostMem {
    fn drop(&mut self) {
        for r in self.regions.drain(..) {
            // SAFETY: allocated in `alloc` with exactly this layout and freed only here.
            unsafe { dealloc(r.ptr.as_ptr(), r.layout) };
        }
    }
}
