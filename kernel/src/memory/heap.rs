//! Per-core heaps behind one global allocator, with no lock shared between cores.
//!
//! At boot the BSP carves one contiguous region of hugepages into equal per-core heaps
//! (`linked_list_allocator::Heap` each). A core allocates only from its own heap. A free of
//! memory that another core allocated (a `Box` passed across cores) is pushed onto the owner's
//! lock-free remote-free list; the owner drains it at its next allocation. The owner of an
//! address is `(addr - base) / size`: O(1), no search.
//!
//! Small requests (up to 512 bytes, alignment up to 16) go through per-core size classes
//! ([`super::classes`]): freed blocks are parked per class and reused in O(1), instead of
//! walking linked_list_allocator's address-ordered hole list on every allocation and free.
//!
//! Out of memory returns null, as `GlobalAlloc` allows, so fallible allocations
//! (`Vec::try_reserve`, `Box::try_new`-style code) see an error and can shed load, while an
//! infallible allocation ends in Rust's allocation-error panic. The failure is recorded per
//! core (request and heap state) and the panic report prints it, so an exhausted heap still
//! names the core, the request and the heap's state.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use linked_list_allocator::Heap;

use super::classes::{Classes, class_layout, class_of};
use crate::cpu;

/// One core's heap.
pub struct LocalHeap {
    heap: UnsafeCell<Heap>,
    classes: UnsafeCell<Classes>,
    remote: AtomicPtr<RemoteFree>,
    /// Bytes handed out and not yet freed (readable from any core).
    pub used: AtomicU64,
    /// Peak of `used`.
    pub peak: AtomicU64,
    /// Allocations refused because the heap had no block large enough.
    pub failures: AtomicU64,
    /// The last refused request: size in the low 48 bits, log2(align) above (0: none yet).
    last_failure: AtomicU64,
}

// SAFETY: `heap` and `classes` are only touched by the owning core (enforced by `CorenetAllocator`, which
// only ever uses `cpu::this()`'s heap); the other fields are atomics.
unsafe impl Sync for LocalHeap {}

/// A freed block on its way back to its owner: written into the block itself (every block is
/// at least 16 bytes: linked_list_allocator's minimum).
struct RemoteFree {
    next: *mut RemoteFree,
    /// Layout size in the low 56 bits, log2(align) in the high 8.
    packed: u64,
}

impl LocalHeap {
    /// An empty heap (not usable until `init_heaps`).
    pub const fn new() -> Self {
        Self {
            heap: UnsafeCell::new(Heap::empty()),
            classes: UnsafeCell::new(Classes::new()),
            remote: AtomicPtr::new(null_mut()),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_failure: AtomicU64::new(0),
        }
    }

    /// The last allocation this heap refused, as (size, align), if any.
    pub fn last_failure(&self) -> Option<(usize, usize)> {
        let v = self.last_failure.load(Ordering::Relaxed);
        (v != 0).then(|| ((v & ((1 << 48) - 1)) as usize, 1usize << (v >> 48)))
    }

    /// Size of the heap in bytes.
    pub fn size(&self) -> usize {
        HEAP_SIZE.load(Ordering::Relaxed)
    }
}

impl Default for LocalHeap {
    fn default() -> Self {
        Self::new()
    }
}

static HEAP_BASE: AtomicUsize = AtomicUsize::new(0);
static HEAP_SIZE: AtomicUsize = AtomicUsize::new(0);
static HEAP_CORES: AtomicUsize = AtomicUsize::new(0);

/// Hands `cores` heaps of `size` bytes each, laid out from `base`, to their cores.
///
/// # Safety
/// `[base, base + cores * size)` must be RAM owned by the heaps from now on, mapped writable.
/// Called once, on the BSP, before any other core runs.
pub unsafe fn init_heaps(base: usize, size: usize, cores: usize) {
    for i in 0..cores {
        let h = &cpu::percpu(i).heap;
        // SAFETY: no other core runs yet, so nothing else touches this heap; the memory
        // range is exclusively the heap's (caller's contract).
        unsafe { (*h.heap.get()).init((base + i * size) as *mut u8, size) };
    }
    HEAP_SIZE.store(size, Ordering::Relaxed);
    HEAP_CORES.store(cores, Ordering::Relaxed);
    HEAP_BASE.store(base, Ordering::Release);
}

fn owner_of(ptr: *mut u8) -> Option<usize> {
    let base = HEAP_BASE.load(Ordering::Acquire);
    let size = HEAP_SIZE.load(Ordering::Relaxed);
    let off = (ptr as usize).checked_sub(base)?;
    let core = off / size.max(1);
    (core < HEAP_CORES.load(Ordering::Relaxed)).then_some(core)
}

/// Returns blocks other cores freed to this core's heap (also done at every allocation and
/// when the appliance loop is idle). Cheap when there is nothing: one atomic load.
pub fn drain_remote_frees() {
    if HEAP_BASE.load(Ordering::Acquire) == 0 {
        return;
    }
    let h = &cpu::this().heap;
    if h.remote.load(Ordering::Relaxed).is_null() {
        return;
    }
    // SAFETY: this core's heap and classes, used only by this core (see
    // `CorenetAllocator::alloc`).
    let (heap, classes) = unsafe { (&mut *h.heap.get(), &mut *h.classes.get()) };
    CorenetAllocator::drain_remote(h, heap, classes);
}

/// The global allocator.
pub struct CorenetAllocator;

impl CorenetAllocator {
    /// Gives a block of `layout` back: parked on its class list, or to the heap.
    ///
    /// # Safety
    /// `p` is a live block of this core's heap allocated with `layout`, no longer used.
    unsafe fn release(heap: &mut Heap, classes: &mut Classes, p: NonNull<u8>, layout: Layout) {
        match class_of(layout) {
            // SAFETY: allocated at class `c`'s layout (see `alloc`), handed over by the caller.
            Some(c) => unsafe { classes.push(c, p) },
            // SAFETY: from this heap with exactly this layout (caller's contract).
            None => unsafe { heap.deallocate(p, layout) },
        }
    }

    /// A block for `layout` from this core's classes or heap; on a refusal, the parked blocks
    /// go back to the heap and the request is tried once more.
    fn take(heap: &mut Heap, classes: &mut Classes, layout: Layout) -> Result<NonNull<u8>, ()> {
        let from_heap = match class_of(layout) {
            Some(c) => {
                if let Some(p) = classes.pop(c) {
                    return Ok(p);
                }
                class_layout(c)
            }
            None => layout,
        };
        heap.allocate_first_fit(from_heap).or_else(|()| {
            if classes.parked() == 0 {
                return Err(());
            }
            classes.drain(&mut |p, l| {
                // SAFETY: a parked block of this heap, allocated at its class layout `l`.
                unsafe { heap.deallocate(p, l) }
            });
            heap.allocate_first_fit(from_heap)
        })
    }

    fn drain_remote(h: &LocalHeap, heap: &mut Heap, classes: &mut Classes) {
        let mut p = h.remote.swap(null_mut(), Ordering::Acquire);
        while let Some(node) = NonNull::new(p) {
            // SAFETY: nodes were written by `dealloc` into blocks of this heap and are not
            // touched by anyone else after the swap took the whole list.
            let (next, packed) = unsafe { ((*node.as_ptr()).next, (*node.as_ptr()).packed) };
            let size = (packed & ((1 << 56) - 1)) as usize;
            let align = 1usize << (packed >> 56);
            // SAFETY: the block came from this heap with exactly this layout (packed by
            // `dealloc` from a valid Layout).
            unsafe {
                Self::release(
                    heap,
                    classes,
                    node.cast(),
                    Layout::from_size_align_unchecked(size, align),
                )
            };
            h.used.fetch_sub(size as u64, Ordering::Relaxed);
            p = next;
        }
    }
}

// SAFETY: each core allocates only from its own heap (no data race on `Heap`); frees of other
// cores' blocks go through an atomic list; returned blocks satisfy `layout` (linked_list_allocator
// guarantees it).
unsafe impl GlobalAlloc for CorenetAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if HEAP_BASE.load(Ordering::Acquire) == 0 {
            panic!(
                "allocation of {} bytes before the heaps exist (core {})",
                layout.size(),
                cpu::core_id()
            );
        }
        let h = &cpu::this().heap;
        // SAFETY: this is the current core's heap; only this core uses it, and the allocator is
        // not re-entered (exception handlers and the panic path do not allocate).
        let (heap, classes) = unsafe { (&mut *h.heap.get(), &mut *h.classes.get()) };
        Self::drain_remote(h, heap, classes);
        match Self::take(heap, classes, layout) {
            Ok(p) => {
                let used = h.used.load(Ordering::Relaxed) + layout.size() as u64;
                h.used.store(used, Ordering::Relaxed);
                if used > h.peak.load(Ordering::Relaxed) {
                    h.peak.store(used, Ordering::Relaxed);
                }
                p.as_ptr()
            }
            Err(()) => {
                // Fallible callers (try_reserve) get the error; for the others Rust's
                // allocation-error handler panics, and the panic report prints this record.
                let packed = layout.size() as u64 & ((1 << 48) - 1)
                    | u64::from(layout.align().trailing_zeros()) << 48;
                h.last_failure.store(packed, Ordering::Relaxed);
                h.failures.fetch_add(1, Ordering::Relaxed);
                null_mut()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(owner) = owner_of(ptr) else {
            panic!(
                "free of {ptr:p} which no heap owns (core {})",
                cpu::core_id()
            );
        };
        let h = &cpu::percpu(owner).heap;
        if owner == cpu::core_id() {
            // SAFETY: our own heap and classes (see `alloc`); the block came from them with
            // this layout.
            unsafe {
                Self::release(
                    &mut *h.heap.get(),
                    &mut *h.classes.get(),
                    NonNull::new_unchecked(ptr),
                    layout,
                )
            };
            h.used.store(
                h.used.load(Ordering::Relaxed) - layout.size() as u64,
                Ordering::Relaxed,
            );
            return;
        }
        let node = ptr as *mut RemoteFree;
        let packed = layout.size() as u64 | (u64::from(layout.align().trailing_zeros()) << 56);
        let mut head = h.remote.load(Ordering::Relaxed);
        loop {
            // SAFETY: the block is ours to reuse until the owner drains it, and is at least 16
            // bytes and 8-aligned (linked_list_allocator's minimum block).
            unsafe { node.write(RemoteFree { next: head, packed }) };
            match h
                .remote
                .compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(cur) => head = cur,
            }
        }
    }
}

/// Whether this core's heap ever refused an allocation.
pub fn has_failed() -> bool {
    HEAP_BASE.load(Ordering::Acquire) != 0 && cpu::this().heap.last_failure().is_some()
}

/// Writes "out of memory on core N: request S bytes (align A), heap H bytes, U used, F free"
/// for the last allocation this core's heap refused; nothing if it never refused one. For the
/// panic report: reads this core's heap without allocating.
pub fn write_last_failure(w: &mut dyn core::fmt::Write) -> core::fmt::Result {
    if HEAP_BASE.load(Ordering::Acquire) == 0 {
        return Ok(());
    }
    let h = &cpu::this().heap;
    let Some((size, align)) = h.last_failure() else {
        return Ok(());
    };
    // SAFETY: this core's heap, read on this core; the allocator is not running (we are in
    // the panic path of this core, which does not allocate).
    let (heap, classes) = unsafe { (&*h.heap.get(), &*h.classes.get()) };
    write!(
        w,
        "out of memory on core {}: request {size} bytes (align {align}), heap {} bytes, {} used, {} free, {} parked in size classes",
        cpu::core_id(),
        heap.size(),
        heap.used(),
        heap.free(),
        classes.parked()
    )
}
