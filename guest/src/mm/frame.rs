//! The physical frame allocator.
//!
//! Boot-time initialisation is O(memory-map entries): frames are handed out from
//! a cursor over the usable ranges, and freed frames go on a free list that is
//! used first. Nothing walks every frame at boot (each ring-0 instruction is
//! expensive on these hosts, and RAM arrives zeroed from the VMM).

use alloc::vec::Vec;

use protocol::boot::{MemoryKind, MemoryRegion, MEM_MAP_MAX};

pub const PAGE_SIZE: u64 = 4096;

/// How many freed zero frames the allocator keeps apart (an 8 KiB list,
/// allocated when the first table is freed, not at boot): a few hundred
/// processes' page tables, so that a steady stream of forks and exits never
/// zeroes a table.
pub const ZEROED_MAX: usize = 1024;

pub struct FrameAllocator {
    ranges: [(u64, u64); MEM_MAP_MAX],
    nranges: usize,
    /// The range the cursor is in, and the next never-allocated frame in it.
    cur: usize,
    next: u64,
    free_list: Vec<u64>,
    /// Freed frames known to be zero: page tables whose owner cleared every
    /// entry it had set before freeing them (`PageTable::destroy`). A new page
    /// table takes one of these first and needs no zeroing; on these hosts
    /// zeroing a table in ring 0 is 512 emulated `rep stosq` steps, which a
    /// fork pays for each of its tables once the never-used frames are gone.
    /// As many as the list given by [`Self::set_zeroed_list`] has room for
    /// (none before); the rest go to the free list.
    zeroed: Vec<u64>,
    total: u64,
    in_use: u64,
    /// Frames at or above this address in the last range may have been
    /// written (the heap's arenas, given back by `free_top`): not zero.
    dirty_from: u64,
}

impl FrameAllocator {
    /// Usable regions of the memory map, shrunk to whole pages.
    pub fn new(regions: &[MemoryRegion]) -> Self {
        let mut ranges = [(0, 0); MEM_MAP_MAX];
        let mut nranges = 0;
        let mut total = 0;
        for r in regions.iter().filter(|r| r.kind == MemoryKind::Usable) {
            let start = r.base.next_multiple_of(PAGE_SIZE);
            let end = (r.base + r.len) & !(PAGE_SIZE - 1);
            if end > start && nranges < MEM_MAP_MAX {
                ranges[nranges] = (start, end);
                nranges += 1;
                total += (end - start) / PAGE_SIZE;
            }
        }
        let next = if nranges > 0 { ranges[0].0 } else { 0 };
        Self {
            ranges,
            nranges,
            cur: 0,
            next,
            free_list: Vec::new(),
            zeroed: Vec::new(),
            total,
            in_use: 0,
            dirty_from: u64::MAX,
        }
    }

    /// `n` physically contiguous frames from the never-allocated part (boot use).
    /// A request that fails changes nothing; one served from a later range hands
    /// the unused tails of the ranges it skipped to the free list.
    pub fn alloc_contiguous(&mut self, n: u64) -> Option<u64> {
        let bytes = n.checked_mul(PAGE_SIZE)?;
        // The common case first (a page table, a zero frame): room in the
        // cursor's range.
        if let Some(&(_, end)) = self.ranges[..self.nranges].get(self.cur) {
            if end - self.next >= bytes {
                let at = self.next;
                self.next += bytes;
                self.in_use += n;
                return Some(at);
            }
        }
        let mut next = self.next;
        for cur in self.cur..self.nranges {
            let (start, end) = self.ranges[cur];
            if cur > self.cur {
                next = start;
            }
            if end - next >= bytes {
                let (skipped_from, skipped_range) = (self.next, self.cur);
                for r in skipped_range..cur {
                    let from = if r == skipped_range { skipped_from } else { self.ranges[r].0 };
                    self.free_list.extend((from..self.ranges[r].1).step_by(PAGE_SIZE as usize));
                }
                self.cur = cur;
                self.next = next + bytes;
                self.in_use += n;
                return Some(next);
            }
        }
        None
    }

    /// One frame, preferring a freed one. The flag says whether it is known to
    /// be zero (never used since boot, when RAM arrives zeroed, or freed zero).
    pub fn alloc(&mut self) -> Option<(u64, bool)> {
        if let Some(f) = self.free_list.pop() {
            self.in_use += 1;
            return Some((f, false));
        }
        self.alloc_contiguous(1).map(|f| (f, f < self.dirty_from)).or_else(|| self.take_zeroed())
    }

    /// One frame, preferring a zero one (freed zero, then never used):
    /// zeroing a page costs far more than anything else here when ring 0 is
    /// emulated.
    pub fn alloc_prefer_zero(&mut self) -> Option<(u64, bool)> {
        self.take_zeroed()
            .or_else(|| self.alloc_contiguous(1).map(|f| (f, f < self.dirty_from)))
            .or_else(|| self.alloc())
    }

    fn take_zeroed(&mut self) -> Option<(u64, bool)> {
        let f = self.zeroed.pop()?;
        self.in_use += 1;
        Some((f, true))
    }

    /// Free a frame whose every byte is zero (see `zeroed`).
    pub fn free_zeroed(&mut self, frame: u64) {
        // Within the room reserved: freeing never allocates (see
        // `reserve_free_list`).
        if self.zeroed.len() < self.zeroed.capacity() {
            debug_assert!(self.ranges[..self.nranges]
                .iter()
                .any(|&(s, e)| frame >= s && frame < e));
            self.zeroed.push(frame);
            self.in_use -= 1;
        } else {
            self.free(frame);
        }
    }

    /// A never-used frame that is zero (RAM arrives zeroed), if the cursor
    /// has one; None (and nothing handed out) otherwise. A frame the heap
    /// used once that the cursor reaches goes to the free list instead.
    pub fn alloc_fresh_zero(&mut self) -> Option<u64> {
        let f = self.alloc_contiguous(1)?;
        if f < self.dirty_from {
            return Some(f);
        }
        self.free(f);
        None
    }

    pub fn free(&mut self, frame: u64) {
        debug_assert!(frame.is_multiple_of(PAGE_SIZE));
        debug_assert!(self.ranges[..self.nranges].iter().any(|&(s, e)| frame >= s && frame < e));
        self.free_list.push(frame);
        self.in_use -= 1;
    }

    pub fn total_frames(&self) -> u64 {
        self.total
    }

    pub fn in_use(&self) -> u64 {
        self.in_use
    }

    pub fn free_frames(&self) -> u64 {
        self.total - self.in_use
    }

    /// Make room in the free list for every frame, so that freeing never
    /// allocates: the kernel heap grows from this allocator (under its lock),
    /// so this allocator must never need the heap once the heap exists.
    pub fn reserve_free_list(&mut self) -> Result<(), alloc::collections::TryReserveError> {
        self.free_list.try_reserve_exact(self.total as usize)
    }

    /// Whether the list of zero frames has its room (see `zeroed`).
    pub fn has_zeroed_list(&self) -> bool {
        self.zeroed.capacity() > 0
    }

    /// Give the list of zero frames its room: `list`, empty, with the
    /// capacity it may fill (allocated by the caller, outside this
    /// allocator's lock: the heap grows from it). `list` comes back if the
    /// room was given already (to be dropped outside the lock too).
    pub fn set_zeroed_list(&mut self, list: Vec<u64>) -> Option<Vec<u64>> {
        if self.has_zeroed_list() || !list.is_empty() {
            return Some(list);
        }
        self.zeroed = list;
        None
    }

    /// `n` contiguous frames from the top of the last range, which nothing
    /// else takes from (the cursor allocates upwards): the kernel heap grows
    /// down from there, and gives back with [`Self::free_top`].
    pub fn alloc_top(&mut self, n: u64) -> Option<u64> {
        let bytes = n.checked_mul(PAGE_SIZE)?;
        let last = self.nranges.checked_sub(1)?;
        let (start, end) = self.ranges[last];
        let floor = if self.cur == last { self.next } else { start };
        if self.cur > last || end < floor + bytes {
            return None;
        }
        self.ranges[last].1 = end - bytes;
        self.in_use += n;
        Some(end - bytes)
    }

    /// Give back `n` frames at `base` that [`Self::alloc_top`] returned last
    /// (false, and nothing changes, if they are not at the top boundary).
    pub fn free_top(&mut self, base: u64, n: u64) -> bool {
        let Some(last) = self.nranges.checked_sub(1) else { return false };
        if self.ranges[last].1 != base {
            return false;
        }
        self.ranges[last].1 = base + n * PAGE_SIZE;
        self.in_use -= n;
        // The heap wrote them: the cursor must not hand them out as zero.
        self.dirty_from = self.dirty_from.min(base);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(base: u64, len: u64, kind: MemoryKind) -> MemoryRegion {
        MemoryRegion { base, len, kind, _pad: 0 }
    }

    #[test]
    fn only_usable_whole_pages() {
        let a = FrameAllocator::new(&[
            region(0, 0x20_0000, MemoryKind::Boot),
            region(0x20_0000, 0x10_0000, MemoryKind::Kernel),
            region(0x30_0800, 0x3000, MemoryKind::Usable), // 0x301000..0x303000: 2 pages
            region(0x40_0000, 0x4000, MemoryKind::Usable),
        ]);
        assert_eq!(a.total_frames(), 2 + 4);
    }

    #[test]
    fn bump_then_free_list_then_exhaustion() {
        let mut a = FrameAllocator::new(&[
            region(0x1000, 0x2000, MemoryKind::Usable),
            region(0x10_0000, 0x1000, MemoryKind::Usable),
        ]);
        assert_eq!(a.alloc(), Some((0x1000, true)));
        assert_eq!(a.alloc(), Some((0x2000, true)));
        a.free(0x1000);
        assert_eq!(a.alloc_prefer_zero(), Some((0x10_0000, true)), "fresh frames first");
        assert_eq!(a.alloc_prefer_zero(), Some((0x1000, false)), "then a freed one");
        assert_eq!(a.alloc(), None);
        assert_eq!((a.in_use(), a.free_frames()), (3, 0));
        a.free(0x2000);
        assert_eq!(a.free_frames(), 1);
        assert_eq!(a.alloc(), Some((0x2000, false)));
        assert_eq!(a.alloc(), None);
    }

    #[test]
    fn frames_freed_zero_serve_tables_first_and_anyone_last() {
        let mut a = FrameAllocator::new(&[region(0x1000, 0x4000, MemoryKind::Usable)]);
        a.reserve_free_list().unwrap();
        // Before its list has room, a zero frame is freed plainly.
        assert_eq!(a.alloc(), Some((0x1000, true)));
        a.free_zeroed(0x1000);
        assert_eq!(a.alloc_prefer_zero(), Some((0x2000, true)), "not kept apart");
        assert!(!a.has_zeroed_list());
        assert!(a.set_zeroed_list(Vec::with_capacity(ZEROED_MAX)).is_none());
        assert!(a.set_zeroed_list(Vec::with_capacity(4)).is_some(), "given once");
        assert_eq!(a.alloc(), Some((0x1000, false)));
        a.free(0x2000);
        a.free_zeroed(0x1000);
        assert_eq!(a.free_frames(), 4);
        assert_eq!(a.alloc_prefer_zero(), Some((0x1000, true)), "freed zero first");
        a.free_zeroed(0x1000);
        assert_eq!(a.alloc(), Some((0x2000, false)), "the free list first");
        assert_eq!(a.alloc(), Some((0x3000, true)), "then never used");
        assert_eq!(a.alloc(), Some((0x4000, true)));
        assert_eq!(a.alloc(), Some((0x1000, true)), "then freed zero");
        assert_eq!((a.alloc(), a.free_frames()), (None, 0));
    }

    #[test]
    fn the_top_grows_down_to_the_cursor_and_back() {
        let mut a = FrameAllocator::new(&[region(0x1000, 0x8000, MemoryKind::Usable)]);
        a.reserve_free_list().unwrap();
        assert_eq!(a.alloc_contiguous(2), Some(0x1000));
        assert_eq!(a.alloc_top(3), Some(0x6000));
        assert_eq!(a.alloc_top(4), None, "would cross the cursor");
        assert_eq!(a.alloc_top(2), Some(0x4000));
        assert_eq!(a.free_frames(), 1);
        assert!(!a.free_top(0x6000, 3), "only the last one taken goes back");
        assert!(a.free_top(0x4000, 2));
        assert!(a.free_top(0x6000, 3));
        assert_eq!(a.free_frames(), 6);
        assert_eq!(a.alloc(), Some((0x3000, true)), "never used: zero");
        assert_eq!(a.alloc(), Some((0x4000, false)), "the heap's once: not zero");
        assert_eq!(a.alloc_contiguous(4), Some(0x5000), "the cursor reaches the top again");
    }

    #[test]
    fn fresh_zero_frames_only_from_the_cursor() {
        let mut a = FrameAllocator::new(&[region(0x1000, 0x4000, MemoryKind::Usable)]);
        a.reserve_free_list().unwrap();
        assert_eq!(a.alloc_top(1), Some(0x4000));
        assert!(a.free_top(0x4000, 1), "the heap's once: dirty");
        assert_eq!(a.alloc_fresh_zero(), Some(0x1000));
        a.free(0x1000);
        assert_eq!(a.alloc_fresh_zero(), Some(0x2000), "not the freed one");
        assert_eq!(a.alloc_fresh_zero(), Some(0x3000));
        assert_eq!(a.alloc_fresh_zero(), None, "the heap's frame is not zero");
        assert_eq!(a.free_frames(), 2, "nothing lost");
        assert_eq!(a.alloc_fresh_zero(), None, "exhausted");
        assert_eq!(a.alloc(), Some((0x4000, false)));
        assert_eq!(a.alloc(), Some((0x1000, false)));
        assert_eq!(a.alloc(), None);
    }

    #[test]
    fn contiguous_skips_a_range_too_small() {
        let mut a = FrameAllocator::new(&[
            region(0x1000, 0x2000, MemoryKind::Usable),
            region(0x10_0000, 0x8000, MemoryKind::Usable),
        ]);
        assert_eq!(a.alloc_contiguous(4), Some(0x10_0000));
        assert_eq!(a.alloc_contiguous(5), None);
        assert_eq!(a.alloc_contiguous(4), Some(0x10_4000));
        assert_eq!(a.alloc_contiguous(u64::MAX), None);
        // The first range's two frames were skipped, not lost.
        assert_eq!(a.free_frames(), 2);
        assert_eq!(a.alloc(), Some((0x2000, false)));
        assert_eq!(a.alloc(), Some((0x1000, false)));
        assert_eq!(a.alloc(), None);
    }
}
