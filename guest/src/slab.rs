//! Size-class caches in front of the kernel heap's arenas: Linux's kmalloc
//! caches as SLUB (`mm/slub.c`) builds them, so that the small allocations of
//! fork, exit and wait (tasks, address spaces, areas, files, `Arc`s, `Vec`
//! buffers up to [`KMALLOC_MAX_CACHE_SIZE`]) take an object off a per-CPU free
//! list and put it back there: O(1), no list walked, no lock taken. Linux's
//! caches go up to two pages (`kmalloc-8k`); here up to one page, which
//! covers the kernel's larger per-task structures (signal handlers, pending
//! signal information: 2–3 KiB).
//!
//! The shape is SLUB's:
//!
//! - A *slab* is [`Geometry::slab_bytes`] of heap memory (4–64 KiB, aligned to
//!   its size) cut into objects of one size class. Its header (free list,
//!   objects in use, state, partial-list links) is its last [`SLAB_HEADER`]
//!   bytes, so an object's slab is its address rounded down (Linux keeps the
//!   same fields in the slab's `struct page`/`struct slab`).
//! - Each CPU has, per class, one *frozen* slab and a free list of that slab's
//!   objects ([`KmemCacheCpu`], Linux's `kmem_cache_cpu`). Allocation pops the
//!   list, or when it is empty hands out the slab's never-used objects in
//!   address order (no free list is built for them); freeing an object of that
//!   slab pushes it onto the list. The CPU does both with
//!   its interrupts off and no lock: nothing else touches its lists. (SLUB's
//!   fast path is lockless with `this_cpu_cmpxchg_double`, `cmpxchg16b`, which
//!   this host's instruction emulator lacks; with interrupts off, nothing can
//!   come between the load and the store.)
//! - The other slabs that have free objects are on the class's *partial*
//!   list ([`KmemCacheNode`], Linux's `kmem_cache_node`, under a lock). An
//!   object freed into a slab that is not this CPU's goes onto that slab's own
//!   free list under the lock (`__slab_free`): a full slab becomes partial, an
//!   empty one goes back to the arenas once the class keeps [`MIN_PARTIAL`]
//!   partial slabs.
//! - When a CPU's list runs dry ([`KmemCacheCpu::refill`], `___slab_alloc`), it
//!   takes under the lock what other CPUs freed into its slab, else the whole
//!   free list of a partial slab, else the caller gives it a new slab
//!   ([`KmemCacheCpu::install`]): one lock round trip per slab's worth of
//!   objects, not per object.
//!
//! Nothing here touches memory itself: the free lists run through the free
//! objects' first words and the headers are words in the slab, read and
//! written through [`SlabMemory`] (`arch::heap` gives the direct map; the unit
//! tests a vector), so this builds and is tested on the host.

/// Size classes, bytes (Linux's kmalloc sizes from 16 up, with 3 × 2^n
/// steps between all the powers of two, as Linux has 96 and 192, so that no
/// class from 48 up wastes more than a third).
pub const KMALLOC_SIZES: [usize; NR_KMALLOC] =
    [16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096];
pub const NR_KMALLOC: usize = 16;
/// Larger requests (or alignments) go to the arenas' first-fit allocator.
pub const KMALLOC_MAX_CACHE_SIZE: usize = 4096;
/// Every class's objects are aligned to at least this.
pub const KMALLOC_MIN_ALIGN: usize = 16;
/// The slab header: the free list, objects in use and state, the partial-list
/// links (4 words).
pub const SLAB_HEADER: usize = 32;
/// A class keeps an empty slab (rather than giving it back to the arenas)
/// while it has fewer partial slabs than this, itself included, so at most
/// this many empty ones (Linux's
/// `kmem_cache::min_partial`, 5 to 10 there: here memory is small and every
/// cached slab pins an arena).
pub const MIN_PARTIAL: usize = 2;

const PAGE_SIZE: usize = 4096;
/// The smallest slab holds at least this many objects...
const MIN_OBJECTS: usize = 8;
/// ...unless that would take more than this.
const MAX_SLAB_BYTES: usize = 64 << 10;

/// Word offsets in a slab header.
const H_FREELIST: usize = 0;
const H_COUNTERS: usize = 8;
const H_NEXT: usize = 16;
const H_PREV: usize = 24;

/// Where a slab is (the high half of its header's counters word; the low half
/// is the objects in use: allocated, or on its CPU's free list or never-used
/// tail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabState {
    /// On no list: every object is in use (Linux: a full slab is on no list
    /// either without `CONFIG_SLUB_DEBUG`).
    Full = 0,
    /// A CPU's slab: its free objects are on that CPU's list, in the never-used
    /// tail the CPU hands out, or, freed by other CPUs, on the slab's own list.
    Frozen = 1,
    /// On its class's partial list, with free objects on the slab's list.
    Partial = 2,
}

/// A size class's slabs: object size, slab size, objects per slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub size: usize,
    pub slab_bytes: usize,
    pub objects: usize,
}

impl Geometry {
    /// The smallest power-of-two slab of at least a page that holds
    /// [`MIN_OBJECTS`] objects of `size` besides the header (at most
    /// [`MAX_SLAB_BYTES`]): Linux's `calculate_order` in miniature.
    const fn for_size(size: usize) -> Self {
        let mut slab_bytes = PAGE_SIZE;
        while (slab_bytes - SLAB_HEADER) / size < MIN_OBJECTS && slab_bytes < MAX_SLAB_BYTES {
            slab_bytes *= 2;
        }
        Self { size, slab_bytes, objects: (slab_bytes - SLAB_HEADER) / size }
    }

    /// The slab that `obj` is in.
    #[inline(always)]
    pub fn slab_of(&self, obj: usize) -> usize {
        obj & !(self.slab_bytes - 1)
    }

    #[inline(always)]
    fn header(&self, slab: usize) -> usize {
        slab + self.slab_bytes - SLAB_HEADER
    }

    /// Whether `obj` is the address of an object of a slab of this class.
    pub fn is_object(&self, obj: usize) -> bool {
        let off = obj - self.slab_of(obj);
        off.is_multiple_of(self.size) && off / self.size < self.objects
    }
}

/// The classes by slab size, largest first: slabs laid out one after another
/// in this order from an address aligned to the first's size are each aligned
/// to their own size (all are powers of two).
pub const CLASSES_BY_SLAB_SIZE: [usize; NR_KMALLOC] = {
    let mut order = [0; NR_KMALLOC];
    let mut i = 0;
    while i < NR_KMALLOC {
        order[i] = NR_KMALLOC - 1 - i;
        i += 1;
    }
    // Slab sizes grow with the class: from the largest class down is already
    // largest first (checked below), ties keep any order.
    let mut k = 1;
    while k < NR_KMALLOC {
        assert!(KMALLOC_GEOMETRY[order[k]].slab_bytes <= KMALLOC_GEOMETRY[order[k - 1]].slab_bytes);
        k += 1;
    }
    order
};

/// One slab of every class, laid out in [`CLASSES_BY_SLAB_SIZE`] order: its
/// bytes and the alignment its start needs.
pub const ALL_CLASSES_SLAB_BYTES: usize = {
    let mut sum = 0;
    let mut i = 0;
    while i < NR_KMALLOC {
        sum += KMALLOC_GEOMETRY[i].slab_bytes;
        i += 1;
    }
    sum
};
pub const ALL_CLASSES_SLAB_ALIGN: usize = KMALLOC_GEOMETRY[CLASSES_BY_SLAB_SIZE[0]].slab_bytes;

/// Each class's geometry, by index.
pub const KMALLOC_GEOMETRY: [Geometry; NR_KMALLOC] = {
    let mut g = [Geometry { size: 0, slab_bytes: 0, objects: 0 }; NR_KMALLOC];
    let mut i = 0;
    while i < NR_KMALLOC {
        g[i] = Geometry::for_size(KMALLOC_SIZES[i]);
        i += 1;
    }
    g
};

/// The class for each size in steps of 8 (Linux's `size_index`, here for
/// every size up to the largest class): `SIZE_INDEX[(size - 1) / 8]`.
const SIZE_INDEX: [u8; KMALLOC_MAX_CACHE_SIZE / 8] = {
    let mut t = [0u8; KMALLOC_MAX_CACHE_SIZE / 8];
    let mut i = 0;
    let mut class = 0;
    while i < t.len() {
        while KMALLOC_SIZES[class] < (i + 1) * 8 {
            class += 1;
        }
        t[i] = class as u8;
        i += 1;
    }
    t
};

/// The size class for an allocation of `size` bytes aligned to `align` (a
/// power of two), or None for the arenas (Linux's `kmalloc_index`): one table
/// load for the usual alignments. The class is masked with `NR_KMALLOC - 1`
/// (a no-op: the table holds no other) so that the compiler drops the bounds
/// checks of the per-class arrays it indexes: on hosts that emulate each
/// kernel instruction, two instructions per check per allocation.
#[inline(always)]
pub fn kmalloc_index(size: usize, align: usize) -> Option<usize> {
    if align <= KMALLOC_MIN_ALIGN {
        if size > KMALLOC_MAX_CACHE_SIZE {
            return None;
        }
        return Some(SIZE_INDEX[size.saturating_sub(1) >> 3] as usize & (NR_KMALLOC - 1));
    }
    kmalloc_index_aligned(size, align)
}
const _: () = assert!(NR_KMALLOC.is_power_of_two());

/// Objects of a class are aligned to the largest power of two that divides
/// its size (slabs are aligned to at least a page, objects follow each other
/// from the slab's start). A class that fits `size.max(align)` but not the
/// alignment is one of the 3 × 2^n classes; the next class is a power of two
/// that does.
#[cold]
fn kmalloc_index_aligned(size: usize, align: usize) -> Option<usize> {
    let want = size.max(align);
    if want > KMALLOC_MAX_CACHE_SIZE {
        return None;
    }
    let class = SIZE_INDEX[(want - 1) >> 3] as usize;
    let class = if KMALLOC_SIZES[class].is_multiple_of(align) { class } else { class + 1 };
    Some(class & (NR_KMALLOC - 1))
}

/// Reading and writing the words of slabs: free objects' first words (the
/// free lists) and slab headers. Every address given is 8-byte aligned and in
/// a slab that the caches own.
pub trait SlabMemory {
    fn read(&self, addr: usize) -> usize;
    fn write(&self, addr: usize, value: usize);
}

/// A slab header's counters word: objects in use (bits 0–15), state (bits
/// 16–23), objects carved (bits 24–39: the slab's objects from its start that
/// have ever been handed out; the rest, its never-used tail, are not on any
/// free list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counters {
    /// Objects carved and not on the slab's free list: allocated, or on its
    /// CPU's list; while the slab is frozen, carved is every object and its
    /// CPU's never-used tail counts here too.
    inuse: usize,
    state: SlabState,
    /// Objects handed out so far, from the slab's start; the others have
    /// never been (all of them while the slab is frozen: its CPU holds the
    /// tail).
    carved: usize,
}

fn counters(mem: &impl SlabMemory, g: &Geometry, slab: usize) -> Counters {
    let w = mem.read(g.header(slab) + H_COUNTERS);
    let state = match (w >> 16) & 0xff {
        0 => SlabState::Full,
        1 => SlabState::Frozen,
        _ => SlabState::Partial,
    };
    Counters { inuse: w & 0xffff, state, carved: (w >> 24) & 0xffff }
}

fn set_counters(mem: &impl SlabMemory, g: &Geometry, slab: usize, c: Counters) {
    mem.write(g.header(slab) + H_COUNTERS, c.inuse | (c.state as usize) << 16 | c.carved << 24);
}

const _: () = assert!(KMALLOC_GEOMETRY[0].objects < 1 << 16);

/// One CPU's slab of one class and the free objects of that slab it holds
/// (Linux's `kmem_cache_cpu`: `freelist`, `slab`), and the slab's never-used
/// tail `next..end`, handed out in address order when the list is empty: a
/// new slab's objects are never linked into a list (each CPU's boot uses a
/// few objects of most classes; linking them 16 at a time cost its first
/// allocation of each class ~90 ring-0 instructions). Used only by its CPU,
/// with that CPU's interrupts off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KmemCacheCpu {
    freelist: usize,
    slab: usize,
    next: usize,
    end: usize,
}

impl KmemCacheCpu {
    pub const fn new() -> Self {
        Self { freelist: 0, slab: 0, next: 0, end: 0 }
    }

    /// The fast path of `slab_alloc`: an object off this CPU's list, else the
    /// next never-used one of its slab, or None when it has neither (then
    /// [`Self::refill`]).
    #[inline(always)]
    pub fn alloc(&mut self, g: &Geometry, mem: &impl SlabMemory) -> Option<usize> {
        let obj = self.freelist;
        if obj != 0 {
            self.freelist = mem.read(obj);
            return Some(obj);
        }
        let obj = self.next;
        if obj < self.end {
            self.next = obj + g.size;
            return Some(obj);
        }
        None
    }

    /// The fast path of `slab_free`: `obj` back onto this CPU's list if it is
    /// of this CPU's slab; false otherwise (then [`KmemCacheNode::free`]).
    #[inline(always)]
    pub fn free(&mut self, g: &Geometry, obj: usize, mem: &impl SlabMemory) -> bool {
        if g.slab_of(obj) != self.slab {
            return false;
        }
        mem.write(obj, self.freelist);
        self.freelist = obj;
        true
    }

    /// The slow path of allocation (`___slab_alloc`), with the class's lock
    /// held and this CPU's list and tail empty: the objects other CPUs freed
    /// into this CPU's slab, else a partial slab frozen for this CPU, whose
    /// free objects and never-used tail it takes. None when the class has no
    /// free object: the caller brings a new slab ([`Self::install`]).
    pub fn refill(
        &mut self,
        node: &mut KmemCacheNode,
        g: &Geometry,
        mem: &impl SlabMemory,
    ) -> Option<usize> {
        debug_assert!(self.freelist == 0 && self.next >= self.end);
        if self.slab != 0 {
            let slab = self.slab;
            if let Some(obj) = self.take_objects(slab, g, mem) {
                return Some(obj);
            }
            // Every object in use: the slab goes onto no list until one comes
            // back (`deactivate_slab` of a full slab).
            let c = Counters { inuse: g.objects, state: SlabState::Full, carved: g.objects };
            set_counters(mem, g, slab, c);
            self.slab = 0;
        }
        let slab = node.pop_partial(g, mem)?;
        self.slab = slab;
        let obj = self.take_objects(slab, g, mem);
        debug_assert!(obj.is_some(), "a partial slab has free objects");
        obj
    }

    /// Freeze `slab` for this CPU with all the objects on its free list
    /// (`get_freelist`) and its never-used tail, and return one of them; None
    /// if it has neither. `carved` becomes every object: the CPU holds the
    /// tail until it hands it out or gives the slab back.
    fn take_objects(&mut self, slab: usize, g: &Geometry, mem: &impl SlabMemory) -> Option<usize> {
        let h = g.header(slab);
        let carved = counters(mem, g, slab).carved;
        let list = mem.read(h + H_FREELIST);
        if list == 0 && carved == g.objects {
            return None;
        }
        mem.write(h + H_FREELIST, 0);
        let all = g.objects;
        set_counters(mem, g, slab, Counters { inuse: all, state: SlabState::Frozen, carved: all });
        self.freelist = list;
        (self.next, self.end) = (slab + carved * g.size, slab + all * g.size);
        self.alloc(g, mem)
    }

    /// A new slab for this CPU (`new_slab` + `allocate_slab`): `slab` is
    /// `g.slab_bytes` of memory aligned to its size that the caller took from
    /// the arenas after [`Self::refill`] found nothing, or before this CPU had
    /// a slab of the class. All its objects become this CPU's never-used tail
    /// ([`Self::alloc`] hands out the first). No lock: nobody else knows the
    /// slab yet.
    pub fn install(&mut self, slab: usize, g: &Geometry, mem: &impl SlabMemory) {
        debug_assert!(self.freelist == 0 && self.slab == 0, "refill first");
        debug_assert_eq!(slab % g.slab_bytes, 0);
        let all = g.objects;
        let h = g.header(slab);
        mem.write(h + H_FREELIST, 0);
        set_counters(mem, g, slab, Counters { inuse: all, state: SlabState::Frozen, carved: all });
        mem.write(h + H_NEXT, 0);
        mem.write(h + H_PREV, 0);
        self.slab = slab;
        (self.next, self.end) = (slab, slab + all * g.size);
    }

    /// Give this CPU's slab back to the class (`deactivate_slab`), with the
    /// class's lock held: its objects on this CPU's list go back onto the
    /// slab's (walking this CPU's list: this is for shrinking, never on an
    /// allocation's path), its never-used tail stays never used (uncarved).
    /// Returns the slab if it is empty and must go back to the arenas
    /// (`discard_slab`).
    pub fn deactivate(
        &mut self,
        node: &mut KmemCacheNode,
        g: &Geometry,
        mem: &impl SlabMemory,
    ) -> Option<usize> {
        let slab = self.slab;
        if slab == 0 {
            return None;
        }
        let h = g.header(slab);
        let (mut n, mut tail, mut obj) = (0, 0, self.freelist);
        while obj != 0 {
            n += 1;
            tail = obj;
            obj = mem.read(obj);
        }
        if n > 0 {
            mem.write(tail, mem.read(h + H_FREELIST));
            mem.write(h + H_FREELIST, self.freelist);
        }
        let mut c = counters(mem, g, slab);
        let tail = self.end.saturating_sub(self.next) / g.size;
        c.inuse -= n + tail;
        c.carved -= tail;
        *self = Self::new();
        node.put(slab, c, g, mem)
    }

    /// This CPU's slab, 0 for none.
    pub fn slab(&self) -> usize {
        self.slab
    }
}

/// A class's slabs that are neither a CPU's nor full: the partial list
/// (Linux's `kmem_cache_node`: `partial`, `nr_partial`), under the class's
/// lock. The list runs through the slab headers; `__slab_free` adds at the
/// tail, `get_partial` takes from the head (so a slab that just got one
/// object back is not frozen again at once for that one object).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KmemCacheNode {
    head: usize,
    tail: usize,
    nr_partial: usize,
}

impl KmemCacheNode {
    pub const fn new() -> Self {
        Self { head: 0, tail: 0, nr_partial: 0 }
    }

    pub fn nr_partial(&self) -> usize {
        self.nr_partial
    }

    /// Free `obj` into its slab, which is not this CPU's (`__slab_free`).
    /// Returns the slab if that emptied it and it must go back to the arenas
    /// (`discard_slab`, which the caller does after dropping the lock).
    pub fn free(&mut self, g: &Geometry, obj: usize, mem: &impl SlabMemory) -> Option<usize> {
        let slab = g.slab_of(obj);
        let h = g.header(slab);
        mem.write(obj, mem.read(h + H_FREELIST));
        mem.write(h + H_FREELIST, obj);
        let mut c = counters(mem, g, slab);
        c.inuse -= 1;
        match c.state {
            // Its CPU takes it from the slab's list when its own runs dry.
            SlabState::Frozen => {}
            SlabState::Full => {
                c.state = SlabState::Partial;
                self.add_tail(slab, g, mem);
            }
            SlabState::Partial => {
                if c.inuse == 0 && self.nr_partial >= MIN_PARTIAL {
                    self.remove(slab, g, mem);
                    return Some(slab);
                }
            }
        }
        set_counters(mem, g, slab, c);
        None
    }

    /// Put a slab that was a CPU's back with `c.inuse` objects in use: on no
    /// list if full, back to the arenas (returned) if empty and the class has
    /// partial slabs enough, else at the head of the partial list.
    fn put(
        &mut self,
        slab: usize,
        mut c: Counters,
        g: &Geometry,
        mem: &impl SlabMemory,
    ) -> Option<usize> {
        if c.inuse == g.objects {
            c.state = SlabState::Full;
        } else if c.inuse == 0 && self.nr_partial >= MIN_PARTIAL {
            return Some(slab);
        } else {
            c.state = SlabState::Partial;
            self.add_head(slab, g, mem);
        }
        set_counters(mem, g, slab, c);
        None
    }

    /// Take an empty slab off the partial list, for the arenas
    /// (`kmem_cache_shrink`, one slab per call so that the caller gives it
    /// back without the lock): for when the heap is short of memory, it walks
    /// the list.
    pub fn take_empty(&mut self, g: &Geometry, mem: &impl SlabMemory) -> Option<usize> {
        let mut slab = self.head;
        while slab != 0 {
            if counters(mem, g, slab).inuse == 0 {
                self.remove(slab, g, mem);
                return Some(slab);
            }
            slab = mem.read(g.header(slab) + H_NEXT);
        }
        None
    }

    fn pop_partial(&mut self, g: &Geometry, mem: &impl SlabMemory) -> Option<usize> {
        let slab = self.head;
        if slab == 0 {
            return None;
        }
        self.remove(slab, g, mem);
        Some(slab)
    }

    fn add_head(&mut self, slab: usize, g: &Geometry, mem: &impl SlabMemory) {
        let h = g.header(slab);
        mem.write(h + H_PREV, 0);
        mem.write(h + H_NEXT, self.head);
        match self.head {
            0 => self.tail = slab,
            old => mem.write(g.header(old) + H_PREV, slab),
        }
        self.head = slab;
        self.nr_partial += 1;
    }

    fn add_tail(&mut self, slab: usize, g: &Geometry, mem: &impl SlabMemory) {
        let h = g.header(slab);
        mem.write(h + H_NEXT, 0);
        mem.write(h + H_PREV, self.tail);
        match self.tail {
            0 => self.head = slab,
            old => mem.write(g.header(old) + H_NEXT, slab),
        }
        self.tail = slab;
        self.nr_partial += 1;
    }

    fn remove(&mut self, slab: usize, g: &Geometry, mem: &impl SlabMemory) {
        let h = g.header(slab);
        let (prev, next) = (mem.read(h + H_PREV), mem.read(h + H_NEXT));
        match prev {
            0 => self.head = next,
            p => mem.write(g.header(p) + H_NEXT, next),
        }
        match next {
            0 => self.tail = prev,
            n => mem.write(g.header(n) + H_PREV, prev),
        }
        self.nr_partial -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::{BTreeMap, HashMap, HashSet};

    #[test]
    fn every_size_and_alignment_gets_the_smallest_class_that_fits() {
        for size in 0..=KMALLOC_MAX_CACHE_SIZE + 64 {
            for shift in 0..=14 {
                let align = 1usize << shift;
                let got = kmalloc_index(size, align);
                let fits = |c: usize| {
                    KMALLOC_SIZES[c] >= size
                        && KMALLOC_SIZES[c].is_multiple_of(align)
                        && (align <= KMALLOC_MIN_ALIGN || KMALLOC_SIZES[c] >= align)
                };
                let best = (0..NR_KMALLOC).find(|&c| fits(c));
                assert_eq!(got, best, "size {size} align {align}");
                if size > KMALLOC_MAX_CACHE_SIZE || align > KMALLOC_MAX_CACHE_SIZE {
                    assert_eq!(got, None, "size {size} align {align}: the arenas");
                }
            }
        }
    }

    #[test]
    fn every_class_is_aligned_to_the_minimum_and_from_48_up_wastes_at_most_a_third() {
        for (i, &s) in KMALLOC_SIZES.iter().enumerate() {
            assert_eq!(s % KMALLOC_MIN_ALIGN, 0);
            if s >= 48 {
                let prev = KMALLOC_SIZES[i - 1];
                assert!(prev < s && (s - prev - 1) * 3 < s, "{prev} -> {s}");
            }
        }
        assert_eq!(KMALLOC_SIZES[NR_KMALLOC - 1], KMALLOC_MAX_CACHE_SIZE);
    }

    #[test]
    fn slabs_hold_eight_objects_or_more_and_waste_little() {
        for g in KMALLOC_GEOMETRY {
            assert!(g.slab_bytes.is_power_of_two() && g.slab_bytes >= PAGE_SIZE, "{g:?}");
            assert!(g.objects >= MIN_OBJECTS, "{g:?}");
            assert!(g.objects * g.size + SLAB_HEADER <= g.slab_bytes, "{g:?}");
            let waste = g.slab_bytes - g.objects * g.size;
            assert!(waste * 16 <= g.slab_bytes, "{g:?}: {waste} bytes unused");
        }
        assert_eq!(KMALLOC_GEOMETRY[0], Geometry { size: 16, slab_bytes: 4096, objects: 254 });
        assert_eq!(KMALLOC_GEOMETRY[13], Geometry { size: 2048, slab_bytes: 32768, objects: 15 });
        assert_eq!(KMALLOC_GEOMETRY[15], Geometry { size: 4096, slab_bytes: 65536, objects: 15 });
    }

    /// Memory for the tests: words by address, each read and write counted
    /// (the fast paths' costs are counted in memory operations).
    #[derive(Default)]
    struct Ram {
        words: std::cell::RefCell<HashMap<usize, usize>>,
        ops: Cell<usize>,
    }

    impl SlabMemory for Ram {
        fn read(&self, addr: usize) -> usize {
            assert_eq!(addr % 8, 0);
            self.ops.set(self.ops.get() + 1);
            *self.words.borrow().get(&addr).unwrap_or_else(|| panic!("{addr:#x} never written"))
        }
        fn write(&self, addr: usize, value: usize) {
            assert_eq!(addr % 8, 0);
            self.ops.set(self.ops.get() + 1);
            self.words.borrow_mut().insert(addr, value);
        }
    }

    /// A class's caches over `Ram`: `cpus` CPUs, the partial list, the slabs
    /// handed out (address-aligned as the arenas give them), the objects
    /// allocated, each marked with its own address while allocated (a double
    /// allocation or a free list through an allocated object shows).
    struct Model {
        g: Geometry,
        cpu: Vec<KmemCacheCpu>,
        node: KmemCacheNode,
        ram: Ram,
        next_slab: usize,
        slabs: HashSet<usize>,
        discarded: usize,
        live: BTreeMap<usize, usize>,
    }

    impl Model {
        fn new(class: usize, cpus: usize) -> Self {
            let g = KMALLOC_GEOMETRY[class];
            Self {
                g,
                cpu: vec![KmemCacheCpu::new(); cpus],
                node: KmemCacheNode::new(),
                ram: Ram::default(),
                next_slab: 0x10_0000_0000,
                slabs: HashSet::new(),
                discarded: 0,
                live: BTreeMap::new(),
            }
        }

        fn alloc(&mut self, cpu: usize) -> usize {
            let g = self.g;
            let c = &mut self.cpu[cpu];
            let obj = match c.alloc(&g, &self.ram) {
                Some(o) => o,
                None => match c.refill(&mut self.node, &g, &self.ram) {
                    Some(o) => o,
                    None => {
                        let slab = self.next_slab;
                        self.next_slab += 2 * g.slab_bytes;
                        assert!(self.slabs.insert(slab));
                        c.install(slab, &g, &self.ram);
                        c.alloc(&g, &self.ram).expect("a new slab's first object")
                    }
                },
            };
            assert!(self.slabs.contains(&g.slab_of(obj)) && g.is_object(obj), "{obj:#x}");
            assert!(self.live.insert(obj, cpu).is_none(), "{obj:#x} handed out twice");
            for w in Self::marks(&g, obj) {
                self.ram.words.borrow_mut().insert(w, obj);
            }
            obj
        }

        fn free(&mut self, cpu: usize, obj: usize) {
            let g = self.g;
            assert!(self.live.remove(&obj).is_some());
            for w in Self::marks(&g, obj) {
                assert_eq!(
                    self.ram.words.borrow()[&w],
                    obj,
                    "{obj:#x} overwritten while allocated"
                );
            }
            if !self.cpu[cpu].free(&g, obj, &self.ram) {
                if let Some(slab) = self.node.free(&g, obj, &self.ram) {
                    self.discard(slab);
                }
            }
        }

        /// The words of an allocated object that hold its address: its first,
        /// middle and last.
        fn marks(g: &Geometry, obj: usize) -> [usize; 3] {
            [obj, obj + ((g.size / 2) & !7), obj + g.size - 8]
        }

        fn discard(&mut self, slab: usize) {
            assert!(self.slabs.remove(&slab), "{slab:#x} discarded twice");
            assert!(self.cpu.iter().all(|c| c.slab() != slab), "a CPU's slab discarded");
            self.discarded += 1;
        }

        fn deactivate_all(&mut self) {
            let g = self.g;
            for i in 0..self.cpu.len() {
                if let Some(slab) = self.cpu[i].deactivate(&mut self.node, &g, &self.ram) {
                    self.discard(slab);
                }
            }
        }

        /// The bookkeeping agrees with the objects: per slab, `inuse` is the
        /// objects allocated plus those on a CPU's list; the free lists hold
        /// exactly the other objects; partial slabs are on the list, once.
        fn check(&self) {
            let g = self.g;
            let ram = &self.ram;
            let mut on_cpu: HashMap<usize, usize> = HashMap::new();
            for c in &self.cpu {
                if c.slab != 0 {
                    // The never-used tail, its last object the slab's last.
                    assert_eq!(c.end, c.slab + g.objects * g.size);
                    assert!(c.next >= c.slab && (c.next - c.slab) % g.size == 0);
                    let tail = c.end.saturating_sub(c.next) / g.size;
                    *on_cpu.entry(c.slab).or_default() += tail;
                } else {
                    assert!(c.next >= c.end, "a tail without a slab");
                }
                let mut o = c.freelist;
                while o != 0 {
                    assert_eq!(g.slab_of(o), c.slab, "a CPU's list holds only its slab's objects");
                    *on_cpu.entry(c.slab).or_default() += 1;
                    o = ram.read(o);
                }
            }
            let mut partial = HashSet::new();
            let mut s = self.node.head;
            while s != 0 {
                assert!(partial.insert(s), "partial list loops");
                s = ram.read(g.header(s) + H_NEXT);
            }
            assert_eq!(partial.len(), self.node.nr_partial);
            for &slab in &self.slabs {
                let Counters { inuse, state, carved } = counters(ram, &g, slab);
                let live = self.live.keys().filter(|&&o| g.slab_of(o) == slab).count();
                let mut free = 0;
                let mut o = ram.read(g.header(slab) + H_FREELIST);
                while o != 0 {
                    assert!(!self.live.contains_key(&o));
                    free += 1;
                    o = ram.read(o);
                }
                let cpu = on_cpu.get(&slab).copied().unwrap_or(0);
                assert_eq!(inuse, live + cpu, "slab {slab:#x}");
                assert_eq!(inuse + free, carved, "slab {slab:#x}");
                assert!(carved <= g.objects);
                let free = free + g.objects - carved;
                let frozen = self.cpu.iter().filter(|c| c.slab == slab).count();
                match state {
                    SlabState::Frozen => assert_eq!(frozen, 1),
                    SlabState::Full => {
                        assert!(frozen == 0 && free == 0 && !partial.contains(&slab))
                    }
                    SlabState::Partial => {
                        assert!(frozen == 0 && free > 0 && partial.contains(&slab))
                    }
                }
            }
        }
    }

    /// xorshift64: the same sequence on every run.
    fn rng(seed: u64) -> impl FnMut(usize) -> usize {
        let mut x = seed;
        move |n| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        }
    }

    #[test]
    fn random_allocations_and_frees_on_two_cpus_keep_the_bookkeeping_exact() {
        for class in [0, 2, 7, 13, 15] {
            let mut m = Model::new(class, 2);
            let mut r = rng(0x9e37_79b9_7f4a_7c15 ^ class as u64);
            for step in 0..20_000 {
                // Phases: grow, churn, shrink.
                let p_alloc = match step / 5000 {
                    0 => 70,
                    1 | 2 => 50,
                    _ => 25,
                };
                let cpu = r(2);
                if m.live.is_empty() || r(100) < p_alloc {
                    m.alloc(cpu);
                } else {
                    let k = r(m.live.len());
                    let obj = *m.live.keys().nth(k).unwrap();
                    m.free(cpu, obj);
                }
                if step % 997 == 0 {
                    m.check();
                }
                // Now and then a CPU gives its slab back (the heap's shrink
                // under memory pressure): partial slabs with objects never
                // handed out yet, taken as a tail later.
                if step % 1499 == 0 {
                    let g = m.g;
                    if let Some(slab) = m.cpu[cpu].deactivate(&mut m.node, &g, &m.ram) {
                        m.discard(slab);
                    }
                    m.check();
                }
            }
            m.check();
            let objs: Vec<usize> = m.live.keys().copied().collect();
            for (k, obj) in objs.into_iter().enumerate() {
                m.free(k % 2, obj);
            }
            m.check();
            m.deactivate_all();
            m.check();
            // Everything free: what is left is empty partial slabs, at most
            // MIN_PARTIAL; shrinking gives them back too.
            assert!(m.slabs.len() <= MIN_PARTIAL, "class {class}: {} slabs kept", m.slabs.len());
            assert!(m.discarded > 0, "class {class}: empty slabs went back");
            let g = m.g;
            while let Some(s) = m.node.take_empty(&g, &m.ram) {
                m.discard(s);
            }
            assert!(m.slabs.is_empty() && m.node == KmemCacheNode::new(), "class {class}");
        }
    }

    #[test]
    fn one_slab_of_every_class_laid_out_largest_first_is_each_aligned_to_its_size() {
        let base = 0x10_0000_0000 + ALL_CLASSES_SLAB_ALIGN;
        let mut at = base;
        let mut seen = HashSet::new();
        for class in CLASSES_BY_SLAB_SIZE {
            let g = KMALLOC_GEOMETRY[class];
            assert!(seen.insert(class));
            assert_eq!(at % g.slab_bytes, 0, "class {class}");
            at += g.slab_bytes;
        }
        assert_eq!(at - base, ALL_CLASSES_SLAB_BYTES);
        assert_eq!(ALL_CLASSES_SLAB_BYTES, 212 << 10);
    }

    #[test]
    fn a_slab_given_back_keeps_its_never_used_tail_for_the_next_cpu() {
        let mut m = Model::new(0, 2);
        let g = m.g;
        let slab = m.next_slab;
        let first: Vec<usize> = (0..3).map(|_| m.alloc(0)).collect();
        assert_eq!(first, [slab, slab + 16, slab + 32], "a new slab hands out in address order");
        assert_eq!(m.cpu[0].deactivate(&mut m.node, &g, &m.ram), None);
        m.check();
        let c = counters(&m.ram, &g, slab);
        assert_eq!((c.inuse, c.carved, c.state), (3, 3, SlabState::Partial));
        // CPU 1 takes the partial slab and goes on where CPU 0 stopped.
        assert_eq!(m.alloc(1), slab + 48);
        m.check();
        let rest: Vec<usize> = (4..g.objects).map(|_| m.alloc(1)).collect();
        assert_eq!(rest.last(), Some(&(slab + (g.objects - 1) * g.size)));
        m.check();
        assert_ne!(g.slab_of(m.alloc(1)), slab, "every object handed out: a new slab");
        m.check();
        assert_eq!(counters(&m.ram, &g, slab).state, SlabState::Full);
        // An object freed by its old CPU makes it partial again.
        m.free(0, slab + 16);
        m.check();
        assert_eq!(counters(&m.ram, &g, slab).state, SlabState::Partial);
    }

    #[test]
    fn the_fast_paths_take_one_memory_access_and_the_slow_paths_a_bounded_few() {
        let mut m = Model::new(3, 2);
        // Fill three slabs from CPU 0, free every other object from CPU 1 (the
        // slow path, into slabs that are not its own), then churn.
        let objs: Vec<usize> = (0..3 * m.g.objects).map(|_| m.alloc(0)).collect();
        for &o in objs.iter().step_by(2) {
            m.free(1, o);
        }
        m.check();
        let g = m.g;
        let mut worst_slow = 0;
        let mut r = rng(7);
        for _ in 0..5000 {
            let cpu = r(2);
            let before = m.ram.ops.get();
            if r(2) == 0 || m.live.is_empty() {
                let c = &mut m.cpu[cpu];
                let obj = match c.alloc(&g, &m.ram) {
                    Some(o) => {
                        // One for a pop, none for a never-used object.
                        assert!(m.ram.ops.get() - before <= 1, "alloc fast path");
                        o
                    }
                    None => match c.refill(&mut m.node, &g, &m.ram) {
                        Some(o) => {
                            worst_slow = worst_slow.max(m.ram.ops.get() - before);
                            o
                        }
                        None => {
                            let slab = m.next_slab;
                            m.next_slab += 2 * g.slab_bytes;
                            m.slabs.insert(slab);
                            c.install(slab, &g, &m.ram);
                            c.alloc(&g, &m.ram).unwrap()
                        }
                    },
                };
                m.live.insert(obj, cpu);
            } else {
                let obj = *m.live.keys().nth(r(m.live.len())).unwrap();
                m.live.remove(&obj);
                if m.cpu[cpu].free(&g, obj, &m.ram) {
                    assert_eq!(m.ram.ops.get() - before, 1, "free fast path");
                } else {
                    if let Some(s) = m.node.free(&g, obj, &m.ram) {
                        m.slabs.remove(&s);
                    }
                    worst_slow = worst_slow.max(m.ram.ops.get() - before);
                }
            }
        }
        m.check();
        // No slow path walks or builds a list.
        assert!(worst_slow <= 12, "a slow path took {worst_slow} memory accesses: it walks a list");
    }
}
