//! The kernel heap (`alloc`): a first-fit allocator over a physically contiguous
//! range of the direct map, set up once at boot.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use linked_list_allocator::Heap;

struct KernelHeap(spin::Mutex<Heap>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(spin::Mutex::new(Heap::empty()));

// SAFETY: allocation and deallocation go through the locked `Heap`, which hands out
// disjoint blocks of the range given to `init`.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heap = self.0.lock();
        let p = heap.allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr());
        crate::counters::global_set(crate::counters::HEAP_BYTES, heap.used() as u64);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut heap = self.0.lock();
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc contract).
            unsafe { heap.deallocate(p, layout) };
        }
        crate::counters::global_set(crate::counters::HEAP_BYTES, heap.used() as u64);
    }
}

/// Give the heap `len` bytes at physical `phys` (frames the caller allocated for it).
pub fn init(phys: u64, len: usize) {
    // SAFETY: the range is RAM from the frame allocator, owned by the heap from now
    // on, mapped read/write by the direct map; `init` runs once, on the boot CPU.
    unsafe { HEAP.0.lock().init(super::phys_to_virt(phys) as *mut u8, len) }
}
