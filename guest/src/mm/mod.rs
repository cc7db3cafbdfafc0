//! Memory management: physical frames and the kernel heap.

pub mod bulk;
pub mod filemap;
pub mod frame;
pub mod oom_kill;
pub mod pagetable;
pub mod vma;
pub mod zpoline;

#[cfg(target_os = "none")]
pub mod address_space;

#[cfg(target_os = "none")]
mod kernel_mm {
    use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    use super::bulk;
    use super::frame::{FrameAllocator, PAGE_SIZE};
    use super::pagetable::{PageTable, PhysMem};
    use crate::arch::mmu;
    use crate::counters;
    use protocol::boot::{BootInfo, KERNEL_PML4_SLOTS};

    static FRAMES: spin::Mutex<Option<FrameAllocator>> = spin::Mutex::new(None);
    /// One reference count per physical frame (Linux: `page->_refcount` in
    /// `mem_map`), in frames taken at boot.
    static REFCOUNTS: spin::Once<&'static [AtomicU32]> = spin::Once::new();

    /// The boot arena of the kernel heap for `memory_bytes` of RAM: 1/16 of
    /// it, between 1 and 64 MiB (what the whole heap used to be). The heap
    /// grows from the frame allocator beyond it (`heap_grow`); a larger boot
    /// arena keeps the first-fit allocator's walks over several arenas rare.
    pub fn heap_size_for(memory_bytes: u64) -> u64 {
        protocol::boot::memory::boot_heap_bytes(memory_bytes)
    }

    /// Frames held back from user-driven allocations (page faults, page
    /// tables, anything a system call asks for) so that the kernel heap, whose
    /// failure would be a panic, can still grow: 1/32 of RAM, at least 2 MiB
    /// (1/16 of RAM in the smallest machines, which could not boot otherwise)
    /// (Linux keeps `min_free_kbytes` for its atomic allocations the same way).
    static RESERVE: AtomicU64 = AtomicU64::new(0);

    pub fn reserve_frames() -> u64 {
        RESERVE.load(Ordering::Relaxed)
    }

    /// Set up the frame allocator over the boot memory map, the per-frame
    /// reference counts (Linux's `mem_map`) and the kernel heap.
    /// O(number of memory-map entries): no loop over frames (RAM is zero already).
    pub fn init(info: &BootInfo) -> Result<(), &'static str> {
        let mut frames = FrameAllocator::new(info.regions());
        let heap_bytes = heap_size_for(info.memory_bytes);
        let heap = frames
            .alloc_contiguous(heap_bytes / PAGE_SIZE)
            .ok_or("not enough memory for the kernel heap")?;
        let backing = crate::arch::heap::HeapBacking { grow: heap_grow, shrink: heap_shrink };
        crate::arch::heap::init(heap, heap_bytes as usize, backing);
        crate::arch::heap::prefill_cpu_slabs();
        // From now on freeing a frame must not allocate (the heap grows from
        // the frame allocator, under its lock).
        frames.reserve_free_list().map_err(|_| "not enough memory for the free-frame list")?;
        let top = info.regions().iter().map(|r| r.base + r.len).max().unwrap_or(0);
        let counts = (top / PAGE_SIZE) as usize;
        let bytes = (counts * 4) as u64;
        let map = frames
            .alloc_contiguous(bytes.div_ceil(PAGE_SIZE))
            .ok_or("not enough memory for the frame reference counts")?;
        REFCOUNTS.call_once(|| mmu::frame_counters(map, counts));
        mmu::init_kernel_root();
        if KERNEL_PML4_SLOTS.iter().any(|&i| mmu::read_pte(mmu::kernel_root(), i) == 0) {
            return Err("the boot page tables lack the direct map or the kernel map");
        }
        let total = frames.total_frames();
        RESERVE.store(protocol::boot::memory::frame_reserve(total), Ordering::Relaxed);
        publish(&frames);
        *FRAMES.lock() = Some(frames);
        Ok(())
    }

    /// `bytes` (whole pages) of contiguous memory for the kernel heap, from
    /// the top of RAM; may use the reserve. Called with the heap's lock held:
    /// the frame allocator never allocates from the heap.
    pub fn heap_grow(bytes: u64) -> Option<u64> {
        let mut guard = FRAMES.lock();
        let frames = guard.as_mut()?;
        let phys = frames.alloc_top(bytes / PAGE_SIZE)?;
        publish(frames);
        Some(phys)
    }

    /// Give back a heap arena that `heap_grow` returned last; false (and it
    /// stays the heap's) otherwise.
    pub fn heap_shrink(phys: u64, bytes: u64) -> bool {
        let mut guard = FRAMES.lock();
        let Some(frames) = guard.as_mut() else { return false };
        let done = frames.free_top(phys, bytes / PAGE_SIZE);
        if done {
            publish(frames);
        }
        done
    }

    /// Whether a fork may take memory now: more than twice the reserve is
    /// free, so that the heap growth a new task needs never has to come from
    /// the last of it.
    pub fn fork_memory_ok() -> bool {
        crate::counters::global_get(counters::FRAMES_FREE) > 2 * reserve_frames()
    }

    fn publish(frames: &FrameAllocator) {
        counters::global_set(counters::FRAMES_FREE, frames.free_frames());
        counters::global_set(counters::FRAMES_IN_USE, frames.in_use());
    }

    #[track_caller]
    fn refcount(frame: u64) -> &'static AtomicU32 {
        let counts: &[AtomicU32] = REFCOUNTS.get().copied().unwrap_or(&[]);
        match counts.get((frame / PAGE_SIZE) as usize) {
            Some(c) => c,
            None => panic!("frame {frame:#x} is not RAM (a corrupted page-table entry?)"),
        }
    }

    /// A frame for data (never a page table: `take_table`), zeroed if asked:
    /// a never-used frame (zero already) first; then, where the VMM zeroes
    /// (`bulk`), one from the pool of pre-zeroed frames; else a freed one,
    /// zeroed here. The pool's frames serve anyone once the allocator has
    /// none left.
    fn take(zeroed: bool) -> Option<u64> {
        if zeroed && bulk::zero_via_vmm() {
            let f = match above_reserve(FrameAllocator::alloc_fresh_zero)? {
                Some(f) => f,
                None => bulk::pool_take(refill).or_else(bulk::pool_drain_one)?,
            };
            refcount(f).store(1, Ordering::Relaxed);
            return Some(f);
        }
        let got = above_reserve(
            |frames| {
                if zeroed {
                    frames.alloc_prefer_zero()
                } else {
                    frames.alloc()
                }
            },
        )?;
        let (f, is_zero) = match got {
            Some(g) => g,
            None => (bulk::pool_drain_one()?, true),
        };
        if zeroed && !is_zero {
            bulk::zero_frames(&[bulk::DataFrame::allocated(f)]);
        }
        refcount(f).store(1, Ordering::Relaxed);
        Some(f)
    }

    /// `pick` a frame from the allocator unless only the reserve is left,
    /// and publish the counts: None before the allocator exists (boot),
    /// `Some(None)` when it has nothing to give.
    fn above_reserve<T>(pick: impl FnOnce(&mut FrameAllocator) -> Option<T>) -> Option<Option<T>> {
        let mut guard = FRAMES.lock();
        let frames = guard.as_mut()?;
        if frames.free_frames() <= reserve_frames() {
            return Some(None);
        }
        let got = pick(frames);
        publish(frames);
        Some(got)
    }

    /// Up to `bulk::REFILL` frames for the pool of pre-zeroed frames, each
    /// with whether it is zero already; never from the reserve.
    fn refill(got: &mut [(u64, bool); bulk::REFILL]) -> usize {
        let mut guard = FRAMES.lock();
        let Some(frames) = guard.as_mut() else { return 0 };
        let mut n = 0;
        while n < got.len() && frames.free_frames() > reserve_frames() {
            match frames.alloc() {
                Some(g) => got[n] = g,
                None => break,
            }
            n += 1;
        }
        publish(frames);
        n
    }

    /// A frame for a page table, zeroed in the guest before it is linked
    /// (`bulk`'s rule: the VMM never writes a page table, and a frame that
    /// was one may still be shadowed by KVM, so no frame of the pool): one
    /// freed zero (the guest cleared its entries), a never-used one, or a
    /// freed one zeroed here.
    fn take_table() -> Option<u64> {
        let (f, is_zero) = above_reserve(FrameAllocator::alloc_prefer_zero)??;
        if !is_zero {
            mmu::zero_frame(f);
            counters::global_add(counters::GUEST_PAGES_ZEROED, 1);
        }
        refcount(f).store(1, Ordering::Relaxed);
        Some(f)
    }

    /// A data frame with undefined contents, as a [`bulk::DataFrame`] (which
    /// the VMM may write: a copy's destination).
    pub fn alloc_data_frame() -> Option<bulk::DataFrame> {
        take(false).map(bulk::DataFrame::allocated)
    }

    /// One frame with undefined contents and a reference count of 1.
    pub fn alloc_frame() -> Option<u64> {
        take(false)
    }

    /// One zeroed frame with a reference count of 1.
    pub fn alloc_zeroed_frame() -> Option<u64> {
        take(true)
    }

    /// Whether the frame allocator's list of zero frames has its room.
    static ZEROED_LIST: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

    /// Give the frame allocator's list of zero frames its room, allocated
    /// here outside its lock (the heap grows from it): when the first tables
    /// are freed, not at boot, where the arena's first fit for it cost 230
    /// ring-0 instructions before ready. Without the memory, zero tables are
    /// freed plainly and this is tried again next time.
    fn give_zeroed_list() {
        let mut list = alloc::vec::Vec::new();
        if list.try_reserve_exact(crate::mm::frame::ZEROED_MAX).is_err() {
            return;
        }
        let mut frames = FRAMES.lock();
        let (given, spare) = match frames.as_mut() {
            Some(f) => (true, f.set_zeroed_list(list)),
            None => (false, Some(list)),
        };
        drop(frames);
        ZEROED_LIST.store(given, Ordering::Release);
        // (Freed outside the lock.)
        drop(spare);
    }

    /// Take another reference to `frame`.
    #[track_caller]
    pub fn get_frame(frame: u64) {
        refcount(frame).fetch_add(1, Ordering::Relaxed);
    }

    /// Drop a reference to `frame`, freeing it with the last one.
    #[track_caller]
    pub fn put_frame(frame: u64) {
        if refcount(frame).fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut guard = FRAMES.lock();
            if let Some(frames) = guard.as_mut() {
                frames.free(frame);
                publish(frames);
            }
        }
    }

    /// Drop a reference to `frame` unless it is the last one; true (and the
    /// reference kept) when it is the last.
    #[track_caller]
    pub fn put_frame_unless_last(frame: u64) -> bool {
        let count = refcount(frame);
        let mut n = count.load(Ordering::Acquire);
        loop {
            if n <= 1 {
                return true;
            }
            match count.compare_exchange(n, n - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return false,
                Err(now) => n = now,
            }
        }
    }

    #[track_caller]
    pub fn frame_refcount(frame: u64) -> u32 {
        refcount(frame).load(Ordering::Relaxed)
    }

    /// Page tables as seen through the direct map; new tables come from the
    /// frame allocator, and their users are counted in the frames' counts.
    pub struct DirectMap;

    impl PhysMem for DirectMap {
        #[inline]
        fn read_pte(&self, table: u64, index: usize) -> u64 {
            mmu::read_pte(table, index)
        }

        #[inline]
        fn write_pte(&self, table: u64, index: usize, pte: u64) {
            mmu::write_pte(table, index, pte)
        }

        fn alloc_table(&self) -> Option<u64> {
            let t = take_table()?;
            counters::global_add(counters::PAGE_TABLE_PAGES, 1);
            Some(t)
        }

        fn free_table(&self, table: u64) {
            counters::global_sub(counters::PAGE_TABLE_PAGES, 1);
            put_frame(table)
        }

        fn free_zeroed_tables(&self, tables: &[u64]) {
            if !ZEROED_LIST.load(Ordering::Acquire) {
                give_zeroed_list();
            }
            counters::global_sub(counters::PAGE_TABLE_PAGES, tables.len() as u64);
            let mut guard = None;
            for &t in tables {
                debug_assert!(
                    (0..512).all(|i| mmu::read_pte(t, i) == 0),
                    "page table {t:#x} freed as zero with entries set"
                );
                if refcount(t).fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(frames) = guard.get_or_insert_with(|| FRAMES.lock()).as_mut() {
                        frames.free_zeroed(t);
                    }
                }
            }
            if let Some(frames) = guard.as_ref().and_then(|g| g.as_ref()) {
                publish(frames);
            }
        }

        fn table_get(&self, table: u64) {
            get_frame(table)
        }

        fn table_put_last(&self, table: u64) -> bool {
            put_frame_unless_last(table)
        }

        fn table_users(&self, table: u64) -> u32 {
            frame_refcount(table)
        }

        fn page_get(&self, frame: u64) {
            get_frame(frame)
        }

        fn page_put(&self, frame: u64) {
            put_frame(frame)
        }
    }

    /// A new address space's page tables (the kernel half shared).
    pub fn new_page_table() -> Option<PageTable> {
        PageTable::new(&DirectMap, mmu::kernel_root(), &KERNEL_PML4_SLOTS)
    }
}

#[cfg(target_os = "none")]
pub use kernel_mm::{
    alloc_data_frame, alloc_frame, alloc_zeroed_frame, fork_memory_ok, frame_refcount, get_frame,
    heap_grow, heap_shrink, heap_size_for, init, new_page_table, put_frame, put_frame_unless_last,
    reserve_frames, DirectMap,
};
