//! The kernel heap (`alloc`): size-class caches (`crate::slab`, Linux's
//! kmalloc caches as SLUB builds them) in front of first-fit allocators over
//! arenas of the direct map.
//!
//! An allocation of up to a page ([`slab::KMALLOC_MAX_CACHE_SIZE`]) takes an
//! object off this CPU's free list for its size class, with interrupts off and
//! no lock, and a free puts it back: O(1), no list walked. The free lists'
//! slabs (4–64 KiB), and every larger allocation (kernel stacks), come from
//! the arenas.
//!
//! The arenas: the first is set up at boot; when no arena can serve a request
//! the heap grows by another arena of frames taken from the top of RAM
//! (through [`HeapBacking::grow`], which mm installs at boot: `mm::heap_grow`
//! may use the frames held back from user-driven allocations), and an arena
//! that becomes empty again is given back when it is the one taken last
//! ([`HeapBacking::shrink`], `mm::heap_shrink`). arch sits below mm, so it
//! calls the frame allocator only through these functions mm hands it. The
//! backing store (arenas of contiguous frames) is separate from the allocator
//! in each arena, so another allocator can sit on the same arenas.
//!
//! Counters: `heap_bytes` is what callers hold (a small allocation counts as
//! its size class), `heap_slab_bytes` the arena bytes that are slabs,
//! `heap_arena_bytes` the arenas' size. When the arenas cannot grow, the caches
//! give back their empty slabs (and this CPU its partly used ones) before an
//! allocation fails: it returns null, it never panics.
//!
//! Locks, all held with interrupts off (an interrupt handler may free memory:
//! the last reference to a task dropped in the tick): a class's partial list
//! ([`NODES`]) and the arenas ([`HEAP`]), never both at once (a slab is taken
//! from or given back to the arenas after the class's lock is dropped); the
//! arenas grow from the frame allocator under their lock.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::NonNull;

use linked_list_allocator::Heap;
use protocol::MAX_CPUS;

use super::irq::{disable_local, IrqGuard, IrqSpinLock};
use crate::counters::{self, HEAP_ARENA_BYTES, HEAP_BYTES, HEAP_SLAB_BYTES};
use crate::slab::{
    self, Geometry, KmemCacheCpu, KmemCacheNode, SlabMemory, KMALLOC_GEOMETRY, KMALLOC_SIZES,
    NR_KMALLOC,
};

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

/// The arenas in use are `arenas[..n]` (the boot one first); `size` is kept
/// as a running sum.
struct Arenas {
    arenas: [Option<Arena>; MAX_ARENAS],
    n: usize,
    /// Bytes of all arenas.
    size: usize,
    /// None until `init`: the heap cannot grow before mm is up.
    backing: Option<HeapBacking>,
}

impl Arenas {
    const fn new() -> Self {
        Self { arenas: [const { None }; MAX_ARENAS], n: 0, size: 0, backing: None }
    }

    /// A block for `layout` from the first arena that has one, growing the
    /// heap if none has: the block and the bytes the arena counts for it.
    fn alloc(&mut self, layout: Layout) -> Option<(NonNull<u8>, usize)> {
        if let Some(got) = self.try_alloc(layout) {
            return Some(got);
        }
        if self.size > 0 && self.grow(layout) {
            return self.try_alloc(layout);
        }
        None
    }

    fn try_alloc(&mut self, layout: Layout) -> Option<(NonNull<u8>, usize)> {
        for a in self.arenas[..self.n].iter_mut().flatten() {
            let before = a.heap.used();
            if let Ok(p) = a.heap.allocate_first_fit(layout) {
                return Some((p, a.heap.used() - before));
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
        counters::global_set(HEAP_ARENA_BYTES, self.size as u64);
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

    /// Free a block `alloc` gave: the bytes the arena counted for it.
    fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> usize {
        let addr = ptr.as_ptr() as usize;
        let Some(i) = self.arenas[..self.n]
            .iter()
            .position(|a| a.as_ref().is_some_and(|a| addr >= a.base && addr < a.base + a.len))
        else {
            return 0;
        };
        let a = self.arenas[i].as_mut().unwrap();
        let before = a.heap.used();
        // SAFETY: `ptr` came from this arena's `allocate_first_fit` with this
        // layout (GlobalAlloc contract; arenas do not overlap).
        unsafe { a.heap.deallocate(ptr, layout) };
        let freed = before - a.heap.used();
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
                counters::global_set(HEAP_ARENA_BYTES, self.size as u64);
            }
        }
        freed
    }
}

/// The arenas, held with interrupts off.
static HEAP: IrqSpinLock<Arenas> = IrqSpinLock::new(Arenas::new());

/// Each class's partial slabs (Linux's `kmem_cache_node`, one node here).
static NODES: [IrqSpinLock<KmemCacheNode>; NR_KMALLOC] =
    [const { IrqSpinLock::new(KmemCacheNode::new()) }; NR_KMALLOC];

/// One CPU's slab and free list per class (Linux's `kmem_cache_cpu`), a cache
/// line apart from the next CPU's.
#[repr(C, align(64))]
struct CpuSlab(UnsafeCell<[KmemCacheCpu; NR_KMALLOC]>);

// SAFETY: CPU n touches only `CPU_SLAB[n]` (through `this_cpu_slab`), with its
// interrupts off, so no two references to one entry are ever live at once.
unsafe impl Sync for CpuSlab {}

static CPU_SLAB: [CpuSlab; MAX_CPUS] =
    [const { CpuSlab(UnsafeCell::new([KmemCacheCpu::new(); NR_KMALLOC])) }; MAX_CPUS];

/// This CPU's cache of class `class`, for as long as `irq` keeps its
/// interrupts off. Callers take one per allocation or free and never hold
/// two.
#[inline(always)]
#[allow(clippy::mut_from_ref)]
fn this_cpu_slab(class: usize, irq: &IrqGuard) -> &mut KmemCacheCpu {
    let _ = irq;
    // `cpu_id` < MAX_CPUS (`cpu_init` checks it), a power of two: the mask
    // is one instruction where a bounds check is two, on hosts that emulate
    // each (and `kmalloc_index` masks the class the same way).
    let cpu = &CPU_SLAB[super::cpu::cpu_id() & (MAX_CPUS - 1)];
    // SAFETY: see `CpuSlab`: the entry is this CPU's, and with interrupts
    // off nothing else on this CPU runs until the borrow, tied to `irq`, ends.
    unsafe { &mut (*cpu.0.get())[class] }
}

/// The words of slabs, through the direct map.
struct SlabWords;

impl SlabMemory for SlabWords {
    #[inline(always)]
    fn read(&self, addr: usize) -> usize {
        // SAFETY: `slab` hands only 8-byte aligned addresses inside slabs the
        // caches own (a free object's first word, a slab header word): arena
        // memory, mapped by the direct map; an object's free-pointer word is
        // touched only while the object is free (GlobalAlloc contract).
        unsafe { (addr as *const usize).read() }
    }

    #[inline(always)]
    fn write(&self, addr: usize, value: usize) {
        // SAFETY: as for `read`.
        unsafe { (addr as *mut usize).write(value) }
    }
}

/// An object of class `class` (`slab_alloc`), 0 when memory is exhausted.
#[inline(always)]
fn kmalloc(class: usize) -> usize {
    let irq = disable_local();
    let obj = match this_cpu_slab(class, &irq).alloc(&KMALLOC_GEOMETRY[class], &SlabWords) {
        Some(obj) => obj,
        None => slab_alloc_slow(class, &irq),
    };
    drop(irq);
    if obj != 0 {
        counters::global_add(HEAP_BYTES, KMALLOC_SIZES[class] as u64);
    }
    obj
}

/// This CPU's list is empty: refill it from the class, else from a new slab.
#[cold]
fn slab_alloc_slow(class: usize, irq: &IrqGuard) -> usize {
    let g = &KMALLOC_GEOMETRY[class];
    let refilled =
        this_cpu_slab(class, irq).refill(&mut NODES[class].lock_irqs_off(irq), g, &SlabWords);
    if let Some(obj) = refilled {
        return obj;
    }
    let Some((slab, bytes)) = arena_alloc(slab_layout(g), irq) else { return 0 };
    counters::global_add(HEAP_SLAB_BYTES, bytes as u64);
    let cpu = this_cpu_slab(class, irq);
    cpu.install(slab.as_ptr() as usize, g, &SlabWords);
    cpu.alloc(g, &SlabWords).unwrap_or(0)
}

/// Give this CPU a slab of every class it has none of, all cut from one block
/// of the arenas ([`slab::CLASSES_BY_SLAB_SIZE`] keeps each aligned to its
/// size): one arena allocation instead of one per class, and no trip through
/// the class's lock. For the boot CPU, before its first allocation: its boot
/// takes a slab of 14 of the 16 classes (140 KiB of the 212 KiB) one by one,
/// ~225 ring-0 instructions each. A slab that becomes empty goes back to the
/// arenas on its own as any other. Nothing happens if the arenas cannot give
/// the block (the classes then take slabs as they need them).
pub fn prefill_cpu_slabs() {
    let irq = disable_local();
    let layout =
        Layout::from_size_align(slab::ALL_CLASSES_SLAB_BYTES, slab::ALL_CLASSES_SLAB_ALIGN)
            .expect("a power of two");
    let Some((block, bytes)) = HEAP.lock_irqs_off(&irq).alloc(layout) else { return };
    counters::global_add(HEAP_SLAB_BYTES, bytes as u64);
    let mut at = block.as_ptr() as usize;
    for class in slab::CLASSES_BY_SLAB_SIZE {
        let g = &KMALLOC_GEOMETRY[class];
        let cpu = this_cpu_slab(class, &irq);
        if cpu.slab() == 0 {
            cpu.install(at, g, &SlabWords);
        } else {
            discard_slab(g, at, &irq);
        }
        at += g.slab_bytes;
    }
}

/// Free `obj` of class `class` (`slab_free`).
#[inline(always)]
fn kfree(class: usize, obj: usize) {
    let g = &KMALLOC_GEOMETRY[class];
    let irq = disable_local();
    if !this_cpu_slab(class, &irq).free(g, obj, &SlabWords) {
        slab_free_slow(class, obj, &irq);
    }
    drop(irq);
    counters::global_sub(HEAP_BYTES, KMALLOC_SIZES[class] as u64);
}

/// `obj` is not of this CPU's slab: back onto its own slab's list.
#[cold]
fn slab_free_slow(class: usize, obj: usize, irq: &IrqGuard) {
    let g = &KMALLOC_GEOMETRY[class];
    let empty = NODES[class].lock_irqs_off(irq).free(g, obj, &SlabWords);
    if let Some(slab) = empty {
        discard_slab(g, slab, irq);
    }
}

fn slab_layout(g: &Geometry) -> Layout {
    // Slabs are aligned to their size (a power of two): an object's slab is
    // its address rounded down.
    Layout::from_size_align(g.slab_bytes, g.slab_bytes).expect("a power of two")
}

/// An empty slab back to the arenas (`discard_slab`), no class lock held.
fn discard_slab(g: &Geometry, slab: usize, irq: &IrqGuard) {
    let Some(p) = NonNull::new(slab as *mut u8) else { return };
    let freed = HEAP.lock_irqs_off(irq).dealloc(p, slab_layout(g));
    counters::global_sub(HEAP_SLAB_BYTES, freed as u64);
}

/// A block from the arenas, growing them if need be; when they cannot grow,
/// after the caches gave back what they can ([`shrink_caches`]).
fn arena_alloc(layout: Layout, irq: &IrqGuard) -> Option<(NonNull<u8>, usize)> {
    let got = HEAP.lock_irqs_off(irq).alloc(layout);
    got.or_else(|| {
        shrink_caches(irq);
        HEAP.lock_irqs_off(irq).alloc(layout)
    })
}

/// The heap is short of memory (`kmem_cache_shrink` of every kmalloc cache):
/// this CPU gives its slabs back to their classes, and every class gives its
/// empty slabs back to the arenas. Other CPUs keep their one slab per class.
#[cold]
fn shrink_caches(irq: &IrqGuard) {
    for (class, g) in KMALLOC_GEOMETRY.iter().enumerate() {
        let mine = this_cpu_slab(class, irq).deactivate(
            &mut NODES[class].lock_irqs_off(irq),
            g,
            &SlabWords,
        );
        if let Some(slab) = mine {
            discard_slab(g, slab, irq);
        }
        loop {
            let empty = NODES[class].lock_irqs_off(irq).take_empty(g, &SlabWords);
            let Some(slab) = empty else { break };
            discard_slab(g, slab, irq);
        }
    }
}

/// A block of more than the largest class from the arenas.
fn alloc_large(layout: Layout) -> *mut u8 {
    let mut got = HEAP.lock().alloc(layout);
    if got.is_none() {
        let irq = disable_local();
        got = arena_alloc(layout, &irq);
    }
    match got {
        Some((p, bytes)) => {
            counters::global_add(HEAP_BYTES, bytes as u64);
            p.as_ptr()
        }
        None => core::ptr::null_mut(),
    }
}

fn dealloc_large(ptr: NonNull<u8>, layout: Layout) {
    let freed = HEAP.lock().dealloc(ptr, layout);
    counters::global_sub(HEAP_BYTES, freed as u64);
}

struct KernelHeap;

#[global_allocator]
static KERNEL_HEAP: KernelHeap = KernelHeap;

// SAFETY: a small block is an object of its size class: one slab's objects
// are disjoint, each on at most one free list (this CPU's or its slab's) and
// handed out only when taken off it, and slabs are disjoint blocks of the
// arenas. Larger blocks come from the locked arenas, each of which hands out
// disjoint blocks of its own range; ranges never overlap (each comes from the
// frame allocator once). `dealloc` finds the class from the same layout that
// `alloc` did.
unsafe impl GlobalAlloc for KernelHeap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match slab::kmalloc_index(layout.size(), layout.align()) {
            Some(class) => kmalloc(class) as *mut u8,
            None => alloc_large(layout),
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match slab::kmalloc_index(layout.size(), layout.align()) {
            Some(class) => kfree(class, ptr as usize),
            None => {
                if let Some(p) = NonNull::new(ptr) {
                    dealloc_large(p, layout);
                }
            }
        }
    }

    /// Within its size class a block grows and shrinks where it is (Linux's
    /// `krealloc` keeps the object while `ksize` covers the new size): a
    /// `Vec` that grows from 3 to 4 elements of 8 bytes copies nothing.
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let class = slab::kmalloc_index(layout.size(), layout.align());
        if class.is_some() && class == slab::kmalloc_index(new_size, layout.align()) {
            return ptr;
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to `align`,
        // does not overflow (GlobalAlloc::realloc contract); `ptr` holds
        // `layout.size()` bytes and the new block `new_size`, and they are
        // different blocks (the old one is freed only after the copy).
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// Give the heap its boot arena: `len` bytes at physical `phys` (frames the
/// caller allocated for it), and where to grow from.
pub fn init(phys: u64, len: usize, backing: HeapBacking) {
    let mut arenas = HEAP.lock();
    arenas.backing = Some(backing);
    arenas.add(super::phys_to_virt(phys) as usize, len);
}
