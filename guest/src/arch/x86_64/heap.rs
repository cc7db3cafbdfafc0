//! The kernel heap (`alloc`): first-fit allocators over arenas of the direct
//! map. The first arena is set up at boot; when no arena can serve a request
//! the heap grows by another arena of frames taken from the top of RAM
//! (through [`HeapBacking::grow`], which mm installs at boot: `mm::heap_grow`
//! may use the frames held back from user-driven allocations), and an arena
//! that becomes empty again is given back when it is the one taken last
//! ([`HeapBacking::shrink`], `mm::heap_shrink`). arch sits below mm, so it
//! calls the frame allocator only through these functions mm hands it. The backing store (arenas of
//! contiguous frames) is separate from the allocator in each arena, so another
//! allocator can sit on the same arenas.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use linked_list_allocator::Heap;

use super::irq::IrqSpinLock;

/// Arenas at most (the boot one included).
const MAX_ARENAS: usize = 64;
/// The smallest growth: 2 MiB.
const MIN_GROWTH: usize = 2 << 20;

struct Arena {
    base: usize,
    len: usize,
    heap: Heap,
}

/// Where the heap gets arenas beyond the boot one, and gives them back: the
/// frame allocator's functions, installed by mm with the boot arena.
#[derive(Clone, Copy)]
pub struct HeapBacking {
    /// `bytes` of contiguous frames: their physical address, or None.
    pub grow: fn(bytes: u64) -> Option<u64>,
    /// Take back `bytes` at physical `phys` (the last range `grow` gave):
    /// false if it cannot (then the arena stays).
    pub shrink: fn(phys: u64, bytes: u64) -> bool,
}

/// The arenas in use are `arenas[..n]` (the boot one first); `used` and
/// `size` are kept as running sums: every allocation holds the heap's lock,
/// and on these hosts each instruction under it counts.
struct Arenas {
    arenas: [Option<Arena>; MAX_ARENAS],
    n: usize,
    /// Bytes of all arenas, and bytes allocated in them.
    size: usize,
    used: usize,
    /// None until `init`: the heap cannot grow before mm is up.
    backing: Option<HeapBacking>,
}

impl Arenas {
    const fn new() -> Self {
        Self { arenas: [const { None }; MAX_ARENAS], n: 0, size: 0, used: 0, backing: None }
    }

    fn try_alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        for a in self.arenas[..self.n].iter_mut().flatten() {
            let before = a.heap.used();
            if let Ok(p) = a.heap.allocate_first_fit(layout) {
                self.used += a.heap.used() - before;
                return Some(p);
            }
        }
        None
    }

    /// Add an arena of `len` bytes at virtual `base` (memory the heap owns from now on).
    fn add(&mut self, base: usize, len: usize) -> bool {
        if self.n == MAX_ARENAS {
            return false;
        }
        let mut heap = Heap::empty();
        // SAFETY: the range is RAM given to the heap for good (until `shrink`
        // takes it back empty), mapped read/write by the direct map.
        unsafe { heap.init(base as *mut u8, len) };
        self.arenas[self.n] = Some(Arena { base, len, heap });
        self.n += 1;
        self.size += len;
        publish_size(self.size);
        true
    }

    /// Grow by an arena that can hold `layout`, from [`HeapBacking::grow`].
    fn grow(&mut self, layout: Layout) -> bool {
        // Room for the block, its alignment and the allocator's bookkeeping;
        // at least MIN_GROWTH, and an eighth of the heap (fewer, larger arenas
        // as it grows).
        let need = layout.size() + layout.align() + 64;
        let len = need.max(MIN_GROWTH).max(self.size / 8).next_multiple_of(4096);
        if self.n == MAX_ARENAS {
            return false;
        }
        // Short of frames, only what this request needs.
        let need = need.next_multiple_of(4096);
        let Some(backing) = self.backing else { return false };
        let got = (backing.grow)(len as u64)
            .map(|p| (p, len))
            .or_else(|| (backing.grow)(need as u64).map(|p| (p, need)));
        match got {
            Some((phys, len)) => self.add(super::phys_to_virt(phys) as usize, len),
            None => false,
        }
    }

    fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) {
        let addr = ptr.as_ptr() as usize;
        let Some(i) = self.arenas[..self.n]
            .iter()
            .position(|a| a.as_ref().is_some_and(|a| addr >= a.base && addr < a.base + a.len))
        else {
            return;
        };
        let a = self.arenas[i].as_mut().unwrap();
        let before = a.heap.used();
        // SAFETY: `ptr` came from this arena's `allocate_first_fit` with this
        // layout (GlobalAlloc contract; arenas do not overlap).
        unsafe { a.heap.deallocate(ptr, layout) };
        self.used -= before - a.heap.used();
        // The boot arena (slot 0) stays; another one that is empty again goes
        // back if it is the last one taken from the top of RAM.
        if i > 0 && a.heap.used() == 0 {
            let (base, len) = (a.base, a.len);
            let shrink = self.backing.map(|b| b.shrink);
            if shrink.is_some_and(|f| f(super::virt_to_phys(base as u64), len as u64)) {
                self.n -= 1;
                self.arenas.swap(i, self.n);
                self.arenas[self.n] = None;
                self.size -= len;
                publish_size(self.size);
            }
        }
    }
}

/// Held with interrupts off: an interrupt handler may free memory (the last
/// reference to a task dropped in the tick).
struct KernelHeap(IrqSpinLock<Arenas>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(IrqSpinLock::new(Arenas::new()));

fn publish(a: &Arenas) {
    crate::counters::global_set(crate::counters::HEAP_BYTES, a.used as u64);
}

fn publish_size(size: usize) {
    crate::counters::global_set(crate::counters::HEAP_ARENA_BYTES, size as u64);
}

// SAFETY: allocation and deallocation go through the locked arenas, each of
// which hands out disjoint blocks of its own range; ranges never overlap (each
// comes from the frame allocator once).
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut arenas = self.0.lock();
        let mut p = arenas.try_alloc(layout);
        if p.is_none() && arenas.size > 0 && arenas.grow(layout) {
            p = arenas.try_alloc(layout);
        }
        publish(&arenas);
        p.map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut arenas = self.0.lock();
        if let Some(p) = NonNull::new(ptr) {
            arenas.dealloc(p, layout);
        }
        publish(&arenas);
    }
}

/// Give the heap its boot arena: `len` bytes at physical `phys` (frames the
/// caller allocated for it), and where to grow from.
pub fn init(phys: u64, len: usize, backing: HeapBacking) {
    let mut arenas = HEAP.0.lock();
    arenas.backing = Some(backing);
    arenas.add(super::phys_to_virt(phys) as usize, len);
}
