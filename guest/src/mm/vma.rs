//! Virtual memory areas: the mapped ranges of one address space (Linux
//! `struct vm_area_struct` in `mm->mm_rb`, now `mm->mm_mt`) and what `mmap`,
//! `munmap`, `mprotect` and stack growth do to them, without page tables.
//!
//! The payload `T` is the caller's: what backs the area (for example "anonymous
//! private", or a handle to a shared anonymous object). Two contiguous areas are
//! one `Vma` whenever they could be (same protection, flags and backing, and
//! `pgoff` continuing from one to the next), as Linux's `vma_merge` keeps them.
//! For anonymous private memory Linux sets `pgoff = start / PAGE_SIZE`, which makes
//! neighbouring anonymous mappings mergeable; callers should do the same.
//!
//! Addresses are page aligned (4096) and `end` is exclusive. Who checks: the
//! system-call layer returns `EINVAL` for an unaligned `start` and rounds lengths
//! up to whole pages, as Linux's `mmap`/`munmap`/`mprotect` do. This module does
//! not rely on it: `insert` and `protect_range` return `EINVAL` for unaligned
//! addresses, `remove_range` widens its range to the pages it touches, and
//! `find_free` rounds its length and hint up.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};

use super::frame::PAGE_SIZE;
use crate::errno::{Errno, EEXIST, EFAULT, EINVAL, ENOMEM};

mod areas;

use areas::Areas;

const PAGE_MASK: u64 = PAGE_SIZE - 1;

/// Linux's `stack_guard_gap` (256 pages): `find_free` keeps this much unmapped
/// room below every `GROWSDOWN` area, and `expand_stack` refuses to grow a stack
/// closer than this to the area below it.
pub const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

/// Areas one address space may have by default: Linux's
/// `DEFAULT_MAX_MAP_COUNT` (`vm.max_map_count`, `USHRT_MAX - 5`). Each area
/// is kernel heap a user could otherwise grow without bound (an `mprotect` of
/// every other page).
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;

static MAX_MAP_COUNT: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(DEFAULT_MAX_MAP_COUNT);

/// The limit in force (the kernel command line's `max_map_count=N`, for
/// Linux's sysctl; at least 16).
pub fn max_map_count() -> usize {
    MAX_MAP_COUNT.load(core::sync::atomic::Ordering::Relaxed)
}

pub fn set_max_map_count(max: usize) {
    MAX_MAP_COUNT.store(max.max(16), core::sync::atomic::Ordering::Relaxed);
}

/// Highest page-aligned address (the start of the last page; no area can end
/// above it because `end` would not fit in a `u64`).
const LAST_PAGE: u64 = !PAGE_MASK;

macro_rules! flag_newtype {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $flag:ident = $value:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
        pub struct $name(u32);

        impl $name {
            $($(#[$fmeta])* pub const $flag: Self = Self($value);)*
            /// Every defined bit.
            pub const ALL: Self = Self(0 $(| $value)*);

            pub const fn empty() -> Self {
                Self(0)
            }
            pub const fn bits(self) -> u32 {
                self.0
            }
            /// `None` if `bits` has an undefined bit set.
            pub const fn from_bits(bits: u32) -> Option<Self> {
                if bits & !Self::ALL.0 == 0 {
                    Some(Self(bits))
                } else {
                    None
                }
            }
            /// `bits` without its undefined bits.
            pub const fn from_bits_truncate(bits: u32) -> Self {
                Self(bits & Self::ALL.0)
            }
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// Every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            /// Some bit of `other` is set in `self`.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }
            pub const fn union(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }
            pub const fn difference(self, other: Self) -> Self {
                Self(self.0 & !other.0)
            }
        }

        impl BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                self.union(rhs)
            }
        }

        impl BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                *self = self.union(rhs);
            }
        }

        impl BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                Self(self.0 & rhs.0)
            }
        }
    };
}

flag_newtype! {
    /// Access permissions of an area: Linux's `PROT_*` values (`PROT_NONE` is
    /// `Prot::empty()`).
    Prot {
        READ = uapi::mman::PROT_READ,
        WRITE = uapi::mman::PROT_WRITE,
        EXEC = uapi::mman::PROT_EXEC,
    }
}

flag_newtype! {
    /// Area flags, with the values of Linux's `VM_*` flags of the same name.
    VmFlags {
        /// `MAP_SHARED`: writes go to the backing object, which `fork` shares;
        /// without it the area is private (copy-on-write after `fork`).
        SHARED = 0x0000_0008,
        /// A stack: a fault just below it grows it (`expand_stack`).
        GROWSDOWN = 0x0000_0100,
        /// `MADV_DONTFORK`: `fork` leaves the area out of the child.
        DONTCOPY = 0x0002_0000,
        /// `MADV_WIPEONFORK`: the child of `fork` gets the area zero-filled.
        WIPEONFORK = 0x0200_0000,
    }
}

impl fmt::Display for Prot {
    /// `r-x` style, as in `/proc/PID/maps`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bit = |p: Prot, c: char| if self.contains(p) { c } else { '-' };
        write!(f, "{}{}{}", bit(Prot::READ, 'r'), bit(Prot::WRITE, 'w'), bit(Prot::EXEC, 'x'))
    }
}

/// One mapped range `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma<T> {
    pub start: u64,
    /// Exclusive, page aligned.
    pub end: u64,
    pub prot: Prot,
    pub flags: VmFlags,
    /// Page offset into the backing object of the page at `start`.
    pub pgoff: u64,
    pub backing: T,
}

impl<T> Vma<T> {
    pub fn new(start: u64, end: u64, prot: Prot, flags: VmFlags, pgoff: u64, backing: T) -> Self {
        Self { start, end, prot, flags, pgoff, backing }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.end - self.start
    }

    pub fn pages(&self) -> u64 {
        self.size() / PAGE_SIZE
    }

    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// Page offset into the backing object of the page holding `addr` (which
    /// must be inside the area).
    pub fn pgoff_of(&self, addr: u64) -> u64 {
        debug_assert!(self.contains(addr));
        self.pgoff + (addr - self.start) / PAGE_SIZE
    }

    /// Lowest address a new mapping may use below this area: its start, less the
    /// guard gap for a stack (Linux `vm_start_gap`).
    fn start_gap(&self) -> u64 {
        if self.flags.contains(VmFlags::GROWSDOWN) {
            self.start.saturating_sub(STACK_GUARD_GAP)
        } else {
            self.start
        }
    }
}

/// `msync`'s argument checks (Linux `mm/msync.c`): the range `[start, end)`
/// whose areas it looks at, or `None` for an empty one (success). EINVAL for
/// flags other than MS_ASYNC, MS_INVALIDATE and MS_SYNC, for MS_ASYNC with
/// MS_SYNC, and for an unaligned start; ENOMEM for a range that wraps. The
/// length is rounded up to whole pages with wrapping arithmetic, as Linux
/// does: a length that wraps to 0 is an empty range.
pub fn msync_range(start: u64, len: u64, flags: u32) -> Result<Option<(u64, u64)>, Errno> {
    use uapi::mman::{MS_ASYNC, MS_INVALIDATE, MS_SYNC};
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || !is_aligned(start)
        || flags & (MS_ASYNC | MS_SYNC) == MS_ASYNC | MS_SYNC
    {
        return Err(EINVAL);
    }
    let len = len.wrapping_add(PAGE_MASK) & !PAGE_MASK;
    let end = start.wrapping_add(len);
    if end < start {
        return Err(ENOMEM);
    }
    Ok((end > start).then_some((start, end)))
}

/// `b` continues `a`: one area could describe both (Linux `is_mergeable_vma` plus
/// the `pgoff` check of `can_vma_merge_after`).
fn mergeable<T: PartialEq>(a: &Vma<T>, b: &Vma<T>) -> bool {
    a.end == b.start
        && a.prot == b.prot
        && a.flags == b.flags
        && a.backing == b.backing
        && a.pgoff.checked_add(a.pages()) == Some(b.pgoff)
}

fn is_aligned(addr: u64) -> bool {
    addr & PAGE_MASK == 0
}

fn page_round_up(x: u64) -> Option<u64> {
    Some(x.checked_add(PAGE_MASK)? & !PAGE_MASK)
}

/// The areas of one address space, in address order, never overlapping.
///
/// Invariants: every area is page aligned and non-empty, keyed by its start; no
/// two areas overlap; `insert`, `protect_range` and `expand_stack` leave no two
/// adjacent areas that `mergeable` would join.
#[derive(Clone, Debug)]
pub struct VmaSet<T> {
    /// The areas by start address (a sorted vector while there are few, see
    /// [`areas`]), shared copy-on-write: a clone (fork's `dup_mmap`) shares
    /// them, and the first change to either copy copies them (`map_mut`).
    /// Linux copies each `vm_area_struct` at fork; here a child that execs or
    /// exits never copies them, nor frees the copies.
    map: Arc<Areas<T>>,
    /// Counts the changes (each `map_mut`): what a caller computed from the
    /// areas at one generation still holds while it is unchanged.
    generation: u64,
    /// The start of the area [`Self::find`] found last (Linux's one-entry
    /// `mm->mmap_cache` of 2.6, before the per-thread `vmacache`): faults
    /// come in runs in one area, and a lookup by this key is one search where
    /// `range(..=addr)` is two. Only a hint: a hit is checked against the
    /// area it names, so no change to the set needs to reset it. Used only
    /// with the B-tree: in the vector a lookup is one short scan anyway.
    last_found: Cell<u64>,
}

impl<T> Default for VmaSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> VmaSet<T> {
    pub fn new() -> Self {
        Self { map: Arc::new(Areas::new()), generation: 0, last_found: Cell::new(u64::MAX) }
    }

    /// The areas to change: this set's own map, copied first if a clone
    /// shares it.
    fn map_mut(&mut self) -> &mut Areas<T>
    where
        T: Clone,
    {
        self.generation = self.generation.wrapping_add(1);
        Arc::make_mut(&mut self.map)
    }

    /// The number of changes made to the areas so far (a clone starts with
    /// its original's): equal generations of one set mean equal areas.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether another set (a clone) shares this one's areas (for the tests).
    #[cfg(test)]
    fn is_shared(&self) -> bool {
        Arc::strong_count(&self.map) > 1
    }

    /// Number of areas.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Mapped pages in all areas (Linux `mm->total_vm`).
    pub fn total_pages(&self) -> u64 {
        self.map.values().map(Vma::pages).sum()
    }

    /// All areas in address order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Vma<T>> + '_ {
        self.map.values()
    }

    /// The area containing `addr` (Linux `vma_lookup`).
    pub fn find(&self, addr: u64) -> Option<&Vma<T>> {
        // Areas do not overlap: one that starts at the hint and holds `addr`
        // is the one.
        if let Areas::Small(_) = *self.map {
            return self.map.last_at_or_below(addr).filter(|v| addr < v.end);
        }
        if let Some(v) = self.map.get(self.last_found.get()) {
            if v.start <= addr && addr < v.end {
                return Some(v);
            }
        }
        let v = self.map.last_at_or_below(addr).filter(|v| addr < v.end)?;
        self.last_found.set(v.start);
        Some(v)
    }

    /// The area containing `addr`, to change its payload or flags in place. The
    /// caller must not change `start` or `end` (the set is keyed by `start`) and
    /// should change `prot` only through `protect_range`; a change that makes two
    /// neighbours mergeable is harmless (they simply stay two areas).
    pub fn find_mut(&mut self, addr: u64) -> Option<&mut Vma<T>>
    where
        T: Clone,
    {
        self.map_mut().range_mut(..=addr).next_back().filter(|v| addr < v.end)
    }

    /// The areas that overlap `[start, end)`, in address order (whole areas, not
    /// cut to the range). Nothing if `start >= end`.
    pub fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma<T>> + '_ {
        let nonempty = start < end;
        let first = self.find(start).filter(|v| nonempty && v.start < start);
        let rest = if nonempty { Some(self.map.range(start..end)) } else { None };
        first.into_iter().chain(rest.into_iter().flatten())
    }

    /// Every address of `[start, end)` is in some area (true for an empty
    /// range): `msync`'s ENOMEM check.
    pub fn is_range_mapped(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for v in self.overlapping(start, end) {
            if v.start > at {
                return false;
            }
            at = v.end;
        }
        at >= end
    }

    /// No area overlaps `[start, end)` (true for an empty range). This is the
    /// check of `MAP_FIXED_NOREPLACE`; it ignores stack guard gaps.
    pub fn is_range_free(&self, start: u64, end: u64) -> bool {
        // Areas do not overlap: if any overlaps the range, the last one that
        // starts below its end does. One search.
        start >= end || self.map.last_below(end).is_none_or(|v| v.end <= start)
    }

    /// `[start, end)` overlaps neither an area nor the guard gap below a stack.
    fn is_available(&self, start: u64, end: u64) -> bool {
        self.is_range_free(start, end)
            && self
                .map
                .range(end..end.saturating_add(STACK_GUARD_GAP))
                .all(|v| !v.flags.contains(VmFlags::GROWSDOWN))
    }

    /// Where to put a new mapping of `len` bytes (Linux `get_unmapped_area`,
    /// top-down as with `mm->mmap_base`). `len` and `hint` are rounded up to whole
    /// pages, `low` up and `high` down. A hint whose range lies in `[low, high)`
    /// and is free is returned as is; otherwise the answer is the highest address
    /// `a >= low` with `a + len <= high` whose range is free. "Free" means no area
    /// overlaps it and it leaves `STACK_GUARD_GAP` below every `GROWSDOWN` area.
    /// `None` if `len` is 0 or nothing fits (Linux then tries bottom-up from
    /// `TASK_UNMAPPED_BASE`, which the caller can do by calling again).
    ///
    /// The caller passes `low` = `mmap_min_addr` (Linux: 64 KiB) and `high` =
    /// `mmap_base` (below the stack's maximum size). Unlike Linux, a hint above
    /// `high` is not taken; a caller that wants that checks such a hint itself.
    pub fn find_free(&self, len: u64, hint: Option<u64>, low: u64, high: u64) -> Option<u64> {
        let len = page_round_up(len)?;
        let low = page_round_up(low)?;
        let high = high & !PAGE_MASK;
        if len == 0 || high < low.checked_add(len)? {
            return None;
        }
        if let Some(hint) = hint.and_then(page_round_up) {
            if hint >= low && hint <= high - len && self.is_available(hint, hint + len) {
                return Some(hint);
            }
        }
        // Walk the areas downwards; `gap_end` is the lowest start (less guard
        // gap) of the areas seen, so `[v.end, gap_end)` is free below each `v`.
        let mut gap_end = high;
        for v in self.map.range(..high.saturating_add(STACK_GUARD_GAP)).rev() {
            if gap_end < low + len {
                return None;
            }
            if v.end <= gap_end && gap_end - v.end >= len {
                let a = gap_end - len;
                return (a >= low).then_some(a);
            }
            gap_end = gap_end.min(v.start_gap());
        }
        (gap_end >= low + len).then(|| gap_end - len)
    }

    /// Merge every adjacent mergeable pair whose boundary lies in `[start, end]`.
    fn merge_span(&mut self, start: u64, end: u64)
    where
        T: Clone + PartialEq,
    {
        let mut key = match start.checked_sub(1).and_then(|a| self.find(a)) {
            Some(v) => Some(v.start),
            None => self.map.first_at_or_above(start).map(|v| v.start),
        };
        while let Some(k) = key {
            let Some(next) = self.map.first_at_or_above(k + 1) else { break };
            let next_key = next.start;
            if next_key > end {
                break;
            }
            let next_end = next.end;
            let merge = self.map.get(k).is_some_and(|cur| mergeable(cur, next));
            if merge {
                let map = self.map_mut();
                map.remove(next_key);
                if let Some(cur) = map.get_mut(k) {
                    cur.end = next_end;
                }
            } else {
                key = Some(next_key);
            }
        }
    }

    /// Add a mapping and merge it with its neighbours where possible (the end of
    /// Linux `mmap_region`). `EINVAL` if it is empty, not page aligned, or its
    /// `pgoff` range overflows; `EEXIST` if it overlaps an area (`MAP_FIXED`
    /// callers `remove_range` first).
    pub fn insert(&mut self, vma: Vma<T>) -> Result<(), Errno>
    where
        T: Clone + PartialEq,
    {
        if !is_aligned(vma.start) || !is_aligned(vma.end) || vma.start >= vma.end {
            return Err(EINVAL);
        }
        if vma.pgoff.checked_add(vma.pages()).is_none() {
            return Err(EINVAL);
        }
        if let Areas::Small(v) = &*self.map {
            return self.insert_small(v.iter().position(|x| x.start >= vma.start), vma);
        }
        if !self.is_range_free(vma.start, vma.end) {
            return Err(EEXIST);
        }
        // Linux `do_mmap`: `map_count > sysctl_max_map_count`.
        if self.map.len() > max_map_count() {
            return Err(ENOMEM);
        }
        // Joined to the area ending at its start and the one starting at its
        // end where `mergeable` allows (Linux `vma_merge`): one search for
        // each neighbour (the range is free, so they are the nearest areas).
        let (start, end) = (vma.start, vma.end);
        let prev = self.map.last_below(start);
        let prev = prev.filter(|p| mergeable(p, &vma)).map(|p| p.start);
        let next = self.map.first_at_or_above(end).map(|n| n.start);
        let map = self.map_mut();
        let key = match prev {
            Some(k) => {
                if let Some(p) = map.get_mut(k) {
                    p.end = end;
                }
                k
            }
            None => {
                map.insert(vma);
                start
            }
        };
        if let Some(nk) = next {
            if let (Some(cur), Some(n)) = (map.get(key), map.get(nk)) {
                if mergeable(cur, n) {
                    let n_end = n.end;
                    map.remove(nk);
                    if let Some(cur) = map.get_mut(key) {
                        cur.end = n_end;
                    }
                }
            }
        }
        Ok(())
    }

    /// [`Self::insert`] into the vector, where one scan found `at`, the index
    /// of the first area that starts at or above `vma`'s start (None: there
    /// is none): its neighbours are `at - 1` and `at`, and the checks and
    /// merges are the B-tree path's without a search each.
    fn insert_small(&mut self, at: Option<usize>, vma: Vma<T>) -> Result<(), Errno>
    where
        T: Clone + PartialEq,
    {
        let (i, len, join_prev, join_next) = {
            let Areas::Small(v) = &*self.map else { return Err(EINVAL) };
            let i = at.unwrap_or(v.len());
            let (prev, next) = (i.checked_sub(1).map(|p| &v[p]), v.get(i));
            if prev.is_some_and(|p| p.end > vma.start) || next.is_some_and(|n| n.start < vma.end) {
                return Err(EEXIST);
            }
            // A joined area continues `vma`'s neighbour below with `vma`'s
            // protection, flags, backing and `pgoff`: it joins the one above
            // exactly when `vma` would.
            let joins = (
                prev.is_some_and(|p| mergeable(p, &vma)),
                next.is_some_and(|n| mergeable(&vma, n)),
            );
            (i, v.len(), joins.0, joins.1)
        };
        // Linux `do_mmap`: `map_count > sysctl_max_map_count`.
        if len > max_map_count() {
            return Err(ENOMEM);
        }
        let map = self.map_mut();
        let Areas::Small(v) = map else { return Err(EINVAL) };
        match (join_prev, join_next) {
            (true, true) => {
                let next = v.remove(i);
                v[i - 1].end = next.end;
            }
            (true, false) => v[i - 1].end = vma.end,
            (false, true) => v[i] = Vma { end: v[i].end, ..vma },
            // May move the areas to a B-tree.
            (false, false) => map.insert_new_at(i, vma),
        }
        Ok(())
    }

    /// Split the area containing `addr` in two at `addr` (Linux `split_vma`); the
    /// upper part's `pgoff` moves on by the pages below `addr`. `ENOMEM` when
    /// that would make more than [`max_map_count`] areas.
    fn split_at(&mut self, addr: u64) -> Result<(), Errno>
    where
        T: Clone,
    {
        if self.find(addr).is_some_and(|v| v.start != addr) && self.map.len() >= max_map_count() {
            return Err(ENOMEM);
        }
        self.split_unchecked(addr);
        Ok(())
    }

    /// [`Self::split_at`] without the limit (`munmap` may go just above it
    /// for a moment, as Linux lets it, to free what it was asked to).
    fn split_unchecked(&mut self, addr: u64)
    where
        T: Clone,
    {
        let Some(v) = self.find_mut(addr) else { return };
        if v.start == addr {
            return;
        }
        let mut upper = v.clone();
        upper.pgoff = v.pgoff_of(addr);
        upper.start = addr;
        v.end = addr;
        self.map_mut().insert(upper);
    }

    /// Whether unmapping `[start, end)` would cut a hole in one area (one
    /// more area) when there are [`max_map_count`] already: Linux's `munmap`
    /// fails with `ENOMEM` then (`vms_gather_munmap_vmas`).
    pub fn unmap_exceeds_map_count(&self, start: u64, end: u64) -> bool {
        self.map.len() >= max_map_count()
            && self.find(start).is_some_and(|v| v.start < start && end < v.end)
    }

    /// Unmap `[start, end)` (Linux `do_munmap`): areas crossing an edge are split
    /// there, and everything inside is removed and returned in address order, with
    /// the `pgoff` of each piece, so that the caller can release its pages and
    /// page-table entries. The range is widened to the pages it touches; parts
    /// with nothing mapped are fine. `remove_range(0, u64::MAX)` empties the set
    /// (Linux `exit_mmap`).
    pub fn remove_range(&mut self, start: u64, end: u64) -> Vec<Vma<T>>
    where
        T: Clone,
    {
        let start = start & !PAGE_MASK;
        let end = page_round_up(end).unwrap_or(LAST_PAGE);
        if start >= end {
            return Vec::new();
        }
        self.split_unchecked(start);
        self.split_unchecked(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|v| v.start).collect();
        let map = self.map_mut();
        keys.iter().filter_map(|&k| map.remove(k)).collect()
    }

    /// Change the protection of `[start, end)` (Linux `mprotect`), splitting areas
    /// at the edges and merging afterwards. `EINVAL` if `start` or `end` is not
    /// page aligned or `prot` has undefined bits; `ENOMEM` if `start > end` (what
    /// Linux returns when `start + len` wraps) or if any page of the range is
    /// unmapped, in which case nothing changes. An empty range succeeds. The
    /// caller checks the backing allows `prot` (Linux's `VM_MAY*`, `EACCES`) and
    /// updates the page tables of `overlapping(start, end)` afterwards.
    pub fn protect_range(&mut self, start: u64, end: u64, prot: Prot) -> Result<(), Errno>
    where
        T: Clone + PartialEq,
    {
        if !is_aligned(start) || !is_aligned(end) || Prot::from_bits(prot.bits()).is_none() {
            return Err(EINVAL);
        }
        if start > end {
            return Err(ENOMEM);
        }
        let mut covered = start;
        for v in self.overlapping(start, end) {
            if v.start > covered {
                return Err(ENOMEM);
            }
            covered = v.end;
        }
        if covered < end {
            return Err(ENOMEM);
        }
        self.split_at(start)?;
        if let Err(e) = self.split_at(end) {
            self.merge_span(start, end);
            return Err(e);
        }
        for v in self.map_mut().range_mut(start..end) {
            v.prot = prot;
        }
        self.merge_span(start, end);
        Ok(())
    }

    /// Grow the stack below a fault at `addr` (Linux `expand_downwards`): the
    /// first area above `addr` must be `GROWSDOWN`; it is extended down to the page
    /// holding `addr`, its `pgoff` moving down with it. `Ok` without change if
    /// `addr` is already mapped. `EFAULT` if there is no stack area just above
    /// (the fault is a plain `SIGSEGV`); `ENOMEM` if the stack would become larger
    /// than `max_size` (`RLIMIT_STACK`), come within `STACK_GUARD_GAP` of the area
    /// below it (unless that one is a stack too or `PROT_NONE`, as in Linux), or
    /// its `pgoff` would go below 0. The caller checks `addr >= mmap_min_addr`.
    pub fn expand_stack(&mut self, addr: u64, max_size: u64) -> Result<(), Errno>
    where
        T: Clone + PartialEq,
    {
        let addr = addr & !PAGE_MASK;
        if self.find(addr).is_some() {
            return Ok(());
        }
        let Some(stack) = self.map.first_at_or_above(addr) else { return Err(EFAULT) };
        let key = stack.start;
        if !stack.flags.contains(VmFlags::GROWSDOWN) {
            return Err(EFAULT);
        }
        if stack.end - addr > max_size {
            return Err(ENOMEM);
        }
        let pgoff = stack.pgoff.checked_sub((key - addr) / PAGE_SIZE).ok_or(ENOMEM)?;
        if let Some(prev) = self.map.last_below(addr) {
            if !prev.flags.contains(VmFlags::GROWSDOWN)
                && !prev.prot.is_empty()
                && addr - prev.end < STACK_GUARD_GAP
            {
                return Err(ENOMEM);
            }
        }
        let map = self.map_mut();
        let Some(mut stack) = map.remove(key) else { return Err(EFAULT) };
        stack.start = addr;
        stack.pgoff = pgoff;
        map.insert(stack);
        self.merge_span(addr, addr);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    const P: u64 = PAGE_SIZE;
    const RW: Prot = Prot::READ.union(Prot::WRITE);

    #[test]
    fn msync_checks_as_linux() {
        use uapi::mman::{MS_ASYNC, MS_INVALIDATE, MS_SYNC};
        assert_eq!(msync_range(P, 1, MS_SYNC), Ok(Some((P, 2 * P))));
        assert_eq!(msync_range(P, 0, MS_ASYNC), Ok(None));
        assert_eq!(msync_range(P, 2 * P, 0), Ok(Some((P, 3 * P))));
        assert_eq!(msync_range(P, P, MS_SYNC | MS_INVALIDATE), Ok(Some((P, 2 * P))));
        assert_eq!(msync_range(P + 1, P, MS_SYNC), Err(EINVAL));
        assert_eq!(msync_range(P, P, MS_SYNC | MS_ASYNC), Err(EINVAL));
        assert_eq!(msync_range(P, P, 8), Err(EINVAL));
        // A length that wraps when rounded is empty; a range that wraps, ENOMEM.
        assert_eq!(msync_range(P, u64::MAX, MS_SYNC), Ok(None));
        assert_eq!(msync_range(2 * P, u64::MAX - 2 * P, MS_SYNC), Err(ENOMEM));
    }

    #[test]
    fn range_mapped() {
        let mut set: VmaSet<u32> = VmaSet::new();
        set.insert(Vma::new(P, 3 * P, RW, VmFlags::empty(), 1, 0)).unwrap();
        set.insert(Vma::new(3 * P, 4 * P, Prot::READ, VmFlags::empty(), 3, 1)).unwrap();
        set.insert(Vma::new(6 * P, 7 * P, RW, VmFlags::empty(), 6, 0)).unwrap();
        assert!(set.is_range_mapped(P, 4 * P), "two areas back to back");
        assert!(set.is_range_mapped(2 * P, 2 * P + 1));
        assert!(set.is_range_mapped(5 * P, 5 * P), "empty");
        assert!(!set.is_range_mapped(0, 2 * P), "a hole first");
        assert!(!set.is_range_mapped(3 * P, 7 * P), "a hole inside");
        assert!(!set.is_range_mapped(6 * P, 8 * P), "a hole last");
    }
    const NOF: VmFlags = VmFlags::empty();

    /// Anonymous-style area of pages `[s, e)` with `pgoff = s`.
    fn anon(s: u64, e: u64, prot: Prot) -> Vma<u32> {
        Vma::new(s * P, e * P, prot, NOF, s, 0)
    }

    #[test]
    fn a_clone_shares_the_areas_until_either_changes() {
        let make = || {
            let mut s: VmaSet<u32> = VmaSet::new();
            s.insert(Vma::new(P, 4 * P, RW, VmFlags::empty(), 1, 0)).unwrap();
            s.insert(Vma::new(1000 * P, 1002 * P, RW, VmFlags::GROWSDOWN, 1000, 0)).unwrap();
            s
        };
        let areas = |s: &VmaSet<u32>| s.iter().cloned().collect::<Vec<_>>();
        let before = areas(&make());
        let changes: [fn(&mut VmaSet<u32>); 5] = [
            |s| s.insert(Vma::new(20 * P, 21 * P, RW, VmFlags::empty(), 20, 0)).unwrap(),
            |s| drop(s.remove_range(2 * P, 3 * P)),
            |s| s.protect_range(P, 2 * P, Prot::READ).unwrap(),
            |s| s.expand_stack(999 * P, 1 << 30).unwrap(),
            |s| s.find_mut(P).unwrap().backing = 7,
        ];
        for (i, change) in changes.iter().enumerate() {
            for the_clone_changes in [false, true] {
                let mut a = make();
                let mut b = a.clone();
                assert!(a.is_shared() && b.is_shared());
                let (changed, other) = if the_clone_changes { (&mut b, &a) } else { (&mut a, &b) };
                change(changed);
                assert_eq!(areas(other), before, "change {i}: the other copy changed");
                assert_ne!(areas(changed), before, "change {i} did nothing");
                assert!(!changed.is_shared() && !other.is_shared(), "change {i}");
                assert!(changed.generation() != other.generation(), "change {i}");
                check_invariants(changed);
            }
        }
        // A change refused before anything moves copies nothing.
        let mut a = make();
        let b = a.clone();
        assert_eq!(a.insert(Vma::new(2 * P, 3 * P, RW, VmFlags::empty(), 2, 0)), Err(EEXIST));
        assert_eq!(a.protect_range(10 * P, 11 * P, Prot::READ), Err(ENOMEM));
        assert!(a.is_shared() && b.is_shared());
        assert_eq!(a.generation(), b.generation());
    }

    /// (start page, end page, pgoff) of every area.
    fn shape(set: &VmaSet<u32>) -> Vec<(u64, u64, u64)> {
        set.iter().map(|v| (v.start / P, v.end / P, v.pgoff)).collect()
    }

    fn check_invariants<T: PartialEq>(set: &VmaSet<T>) {
        let mut prev: Option<&Vma<T>> = None;
        match &*set.map {
            Areas::Small(v) => assert!(v.len() <= areas::SMALL_MAX),
            Areas::Large(m) => {
                assert!(m.len() > areas::SMALL_AGAIN);
                assert!(m.iter().all(|(&k, v)| k == v.start), "keyed by start");
            }
        }
        for v in set.map.values() {
            assert!(is_aligned(v.start) && is_aligned(v.end) && v.start < v.end);
            if let Some(p) = prev {
                assert!(p.end <= v.start, "overlap");
                assert!(!mergeable(p, v), "unmerged neighbours at {:#x}", v.start);
            }
            prev = Some(v);
        }
    }

    #[test]
    fn flags_behave_like_bitflags() {
        assert_eq!((Prot::READ | Prot::WRITE).bits(), 3);
        assert_eq!(Prot::from_bits(8), None);
        assert_eq!(Prot::from_bits_truncate(0xf), Prot::ALL);
        assert!(RW.contains(Prot::WRITE) && !RW.contains(Prot::EXEC));
        assert!(RW.intersects(Prot::READ | Prot::EXEC));
        assert_eq!(RW.difference(Prot::WRITE), Prot::READ);
        assert_eq!(RW & Prot::WRITE, Prot::WRITE);
        assert!(Prot::empty().is_empty());
        assert_eq!(alloc::format!("{} {}", Prot::READ | Prot::EXEC, Prot::empty()), "r-x ---");
        assert_eq!(VmFlags::from_bits(0x108), Some(VmFlags::SHARED | VmFlags::GROWSDOWN));
        assert_eq!(VmFlags::from_bits(1), None);
    }

    #[test]
    fn insert_checks_and_finds() {
        let mut s = VmaSet::new();
        assert_eq!(s.insert(Vma::new(0x1001, 0x3000, RW, NOF, 0, 0u32)), Err(EINVAL));
        assert_eq!(s.insert(Vma::new(0x1000, 0x2fff, RW, NOF, 0, 0)), Err(EINVAL));
        assert_eq!(s.insert(Vma::new(0x2000, 0x2000, RW, NOF, 0, 0)), Err(EINVAL));
        assert_eq!(s.insert(Vma::new(0x3000, 0x2000, RW, NOF, 0, 0)), Err(EINVAL));
        assert_eq!(s.insert(Vma::new(0x1000, 0x3000, RW, NOF, u64::MAX, 0)), Err(EINVAL));
        s.insert(anon(4, 8, RW)).unwrap();
        assert_eq!(s.insert(anon(7, 9, RW)), Err(EEXIST));
        assert_eq!(s.insert(anon(2, 5, RW)), Err(EEXIST));
        assert_eq!(s.insert(anon(5, 6, RW)), Err(EEXIST));
        assert_eq!(s.insert(anon(0, 100, RW)), Err(EEXIST));
        assert!(s.find(4 * P - 1).is_none());
        assert_eq!(s.find(4 * P).unwrap().start, 4 * P);
        assert_eq!(s.find(8 * P - 1).unwrap().start, 4 * P);
        assert!(s.find(8 * P).is_none());
        assert!(s.is_range_free(0, 4 * P) && s.is_range_free(8 * P, 9 * P));
        assert!(!s.is_range_free(7 * P, 9 * P) && !s.is_range_free(0, 5 * P));
        assert!(s.is_range_free(6 * P, 6 * P));
        s.find_mut(5 * P).unwrap().backing = 7;
        assert_eq!(s.find(4 * P).unwrap().backing, 7);
        assert_eq!((s.len(), s.total_pages()), (1, 4));
        // Mapping the very last page of the address space works.
        s.insert(Vma::new(LAST_PAGE - P, LAST_PAGE, RW, NOF, 0, 0)).unwrap();
        assert!(s.find(u64::MAX - P).is_some());
        check_invariants(&s);
    }

    /// `find`'s hint names the area found last; whatever happens to the set
    /// after, a lookup answers as a search from scratch would.
    #[test]
    fn find_answers_as_a_fresh_search_whatever_the_hint() {
        // In a vector and in a B-tree (the hint is the B-tree's): areas far
        // above the ones the test changes make it one.
        find_answers_as_a_fresh_search_with(0);
        find_answers_as_a_fresh_search_with(areas::SMALL_MAX as u64);
    }

    fn find_answers_as_a_fresh_search_with(fillers: u64) {
        let fresh = |s: &VmaSet<u32>, a: u64| {
            s.map.range(..=a).next_back().map(|v| (v.start, v.end)).filter(|v| a < v.1)
        };
        let agree = |s: &VmaSet<u32>| {
            for a in (0..24).map(|p| p * P).chain([5 * P - 1, 5 * P + 1, 12 * P - 8]) {
                assert_eq!(s.find(a).map(|v| (v.start, v.end)), fresh(s, a), "{a:#x}");
            }
        };
        let mut s = VmaSet::new();
        for i in 0..fillers {
            s.insert(anon(100 + 2 * i, 101 + 2 * i, RW)).unwrap();
        }
        s.insert(anon(4, 8, RW)).unwrap();
        s.insert(anon(10, 12, Prot::READ)).unwrap();
        assert_eq!(s.map.is_small(), fillers == 0);
        assert_eq!(s.find(5 * P).unwrap().start, 4 * P);
        if fillers > 0 {
            assert_eq!(s.last_found.get(), 4 * P);
        }
        agree(&s);
        // The hinted area shrinks, then goes; another starts where it did.
        s.find(6 * P);
        let _ = s.remove_range(6 * P, 8 * P);
        agree(&s);
        s.find(5 * P);
        let _ = s.remove_range(4 * P, 6 * P);
        assert!(s.find(5 * P).is_none());
        s.insert(anon(4, 5, RW)).unwrap();
        agree(&s);
        // Split by mprotect, merged back by it.
        s.find(11 * P);
        s.protect_range(11 * P, 12 * P, RW).unwrap();
        agree(&s);
        s.protect_range(11 * P, 12 * P, Prot::READ).unwrap();
        agree(&s);
        check_invariants(&s);
        assert_eq!(s.map.is_small(), fillers == 0);
    }

    #[test]
    fn insert_merges_only_what_may_merge() {
        let mut s = VmaSet::new();
        s.insert(anon(10, 12, RW)).unwrap();
        s.insert(anon(14, 16, RW)).unwrap();
        s.insert(anon(12, 14, RW)).unwrap(); // fills the hole: one area
        assert_eq!(shape(&s), [(10, 16, 10)]);
        s.insert(anon(16, 17, Prot::READ)).unwrap(); // other prot
        s.insert(Vma::new(17 * P, 18 * P, Prot::READ, VmFlags::SHARED, 17, 0)).unwrap();
        s.insert(Vma::new(18 * P, 19 * P, Prot::READ, VmFlags::SHARED, 18, 1)).unwrap();
        s.insert(Vma::new(19 * P, 20 * P, Prot::READ, VmFlags::SHARED, 0, 1)).unwrap(); // pgoff gap
        s.insert(Vma::new(9 * P, 10 * P, RW, NOF, 9, 0)).unwrap(); // merges below
        assert_eq!(shape(&s), [(9, 16, 9), (16, 17, 16), (17, 18, 17), (18, 19, 18), (19, 20, 0)]);
        assert_eq!((s.len(), s.total_pages()), (5, 11));
        check_invariants(&s);
    }

    #[test]
    fn remove_splits_at_both_ends_with_pgoff() {
        let mut s = VmaSet::new();
        s.insert(Vma::new(0x10 * P, 0x20 * P, RW, VmFlags::SHARED, 100, 5u32)).unwrap();
        let gone = s.remove_range(0x14 * P, 0x18 * P);
        assert_eq!(gone, [Vma::new(0x14 * P, 0x18 * P, RW, VmFlags::SHARED, 104, 5)]);
        assert_eq!(shape(&s), [(0x10, 0x14, 100), (0x18, 0x20, 108)]);
        // A range across the hole, cutting both remaining areas.
        let gone = s.remove_range(0x12 * P, 0x1a * P);
        let pieces: Vec<_> = gone.iter().map(|v| (v.start / P, v.end / P, v.pgoff)).collect();
        assert_eq!(pieces, [(0x12, 0x14, 102), (0x18, 0x1a, 108)]);
        assert_eq!(shape(&s), [(0x10, 0x12, 100), (0x1a, 0x20, 110)]);
        // Unaligned edges widen to the pages touched; nothing mapped is fine.
        let gone = s.remove_range(0x1a * P + 1, 0x1b * P + 1);
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].start, gone[0].end, gone[0].pgoff), (0x1a * P, 0x1c * P, 110));
        assert!(s.remove_range(0x40 * P, 0x50 * P).is_empty());
        assert!(s.remove_range(0x50 * P, 0x40 * P).is_empty());
        assert!(s.remove_range(0x11 * P, 0x11 * P).is_empty());
        check_invariants(&s);
        // Everything, whole areas untouched.
        let all = s.remove_range(0, u64::MAX);
        assert_eq!(all.len(), 2);
        assert!(s.is_empty() && s.total_pages() == 0);
    }

    #[test]
    fn protect_splits_then_merges_back() {
        let mut s = VmaSet::new();
        s.insert(anon(0x10, 0x20, RW)).unwrap();
        s.protect_range(0x14 * P, 0x18 * P, Prot::READ).unwrap();
        assert_eq!(shape(&s), [(0x10, 0x14, 0x10), (0x14, 0x18, 0x14), (0x18, 0x20, 0x18)]);
        assert_eq!(s.find(0x15 * P).unwrap().prot, Prot::READ);
        assert_eq!(s.find(0x18 * P).unwrap().prot, RW);
        // Same protection again changes nothing; restoring merges everything.
        s.protect_range(0x14 * P, 0x16 * P, Prot::READ).unwrap();
        assert_eq!(s.len(), 3);
        s.protect_range(0x14 * P, 0x18 * P, RW).unwrap();
        assert_eq!(shape(&s), [(0x10, 0x20, 0x10)]);
        // Across several areas that become mergeable together.
        s.insert(anon(0x20, 0x24, Prot::READ)).unwrap();
        s.insert(anon(0x24, 0x28, Prot::EXEC)).unwrap();
        s.protect_range(0x10 * P, 0x28 * P, Prot::empty()).unwrap();
        assert_eq!(shape(&s), [(0x10, 0x28, 0x10)]);
        // An empty range is fine even where nothing is mapped.
        s.protect_range(0x80 * P, 0x80 * P, RW).unwrap();
        check_invariants(&s);
    }

    #[test]
    fn protect_of_a_partly_unmapped_range_changes_nothing() {
        let mut s = VmaSet::new();
        s.insert(anon(0x10, 0x14, RW)).unwrap();
        s.insert(anon(0x15, 0x18, RW)).unwrap();
        let before = s.clone();
        let same = |a: &VmaSet<u32>, b: &VmaSet<u32>| a.iter().eq(b.iter());
        assert_eq!(s.protect_range(0x12 * P, 0x16 * P, Prot::READ), Err(ENOMEM)); // hole inside
        assert!(same(&s, &before));
        assert_eq!(s.protect_range(0x0f * P, 0x12 * P, Prot::READ), Err(ENOMEM)); // hole before
        assert_eq!(s.protect_range(0x16 * P, 0x19 * P, Prot::READ), Err(ENOMEM)); // hole after
        assert_eq!(s.protect_range(0x30 * P, 0x31 * P, Prot::READ), Err(ENOMEM)); // nothing
        assert_eq!(s.protect_range(0x12 * P, 0x11 * P, Prot::READ), Err(ENOMEM)); // wraps
        assert_eq!(s.protect_range(0x12 * P + 1, 0x13 * P, Prot::READ), Err(EINVAL));
        assert_eq!(s.protect_range(0x12 * P, 0x13 * P - 1, Prot::READ), Err(EINVAL));
        assert_eq!(s.protect_range(0x12 * P, 0x13 * P, Prot::from_bits_truncate(7)), Ok(()));
        let mut t = before.clone();
        assert_eq!(t.protect_range(0x12 * P, 0x13 * P, Prot(8)), Err(EINVAL));
        assert!(same(&t, &before));
        check_invariants(&s);
    }

    #[test]
    fn find_free_hints_top_down_and_fragmentation() {
        let mut s = VmaSet::new();
        let (low, high) = (0x10 * P, 0x100 * P);
        assert_eq!(s.find_free(P, None, low, high), Some(0xff * P));
        assert_eq!(s.find_free(3 * P + 1, None, low, high), Some(0xfc * P)); // rounded up
        assert_eq!(s.find_free(0, None, low, high), None);
        assert_eq!(s.find_free(u64::MAX, None, low, high), None);
        assert_eq!(s.find_free(0xf0 * P, None, low, high), Some(low));
        assert_eq!(s.find_free(0xf1 * P, None, low, high), None);
        // Fragment: areas at [0xf0,0x100), [0xc0,0xe0); free holes of 0x10 pages.
        s.insert(anon(0xf0, 0x100, RW)).unwrap();
        s.insert(anon(0xc0, 0xe0, RW)).unwrap();
        assert_eq!(s.find_free(0x10 * P, None, low, high), Some(0xe0 * P));
        assert_eq!(s.find_free(0x11 * P, None, low, high), Some(0xaf * P));
        assert_eq!(s.find_free(0xb0 * P, None, low, high), Some(low));
        assert_eq!(s.find_free(0xb1 * P, None, low, high), None);
        // Hints: used when free and inside [low, high), rounded up to a page.
        assert_eq!(s.find_free(P, Some(0x20 * P), low, high), Some(0x20 * P));
        assert_eq!(s.find_free(P, Some(0x20 * P - 5), low, high), Some(0x20 * P));
        assert_eq!(s.find_free(2 * P, Some(0xdf * P), low, high), Some(0xee * P));
        assert_eq!(s.find_free(P, Some(0xc5 * P), low, high), Some(0xef * P));
        assert_eq!(s.find_free(P, Some(0x8 * P), low, high), Some(0xef * P));
        assert_eq!(s.find_free(P, Some(0x200 * P), low, high), Some(0xef * P));
        assert_eq!(s.find_free(P, Some(u64::MAX), low, high), Some(0xef * P));
        // Areas above `high` do not matter; a `high` inside an area does.
        assert_eq!(s.find_free(P, None, low, 0x1000 * P), Some(0xfff * P));
        assert_eq!(s.find_free(P, None, low, 0xd0 * P), Some(0xbf * P));
        assert_eq!(s.find_free(P, None, 0xc0 * P, 0xd0 * P), None);
    }

    #[test]
    fn find_free_keeps_the_stack_guard_gap() {
        let mut s = VmaSet::new();
        let stack_top = 0x10000 * P;
        let stack = Vma::new(stack_top - 0x20 * P, stack_top, RW, VmFlags::GROWSDOWN, 0x1000, 0);
        s.insert(stack).unwrap();
        let below = stack_top - 0x20 * P - STACK_GUARD_GAP;
        assert_eq!(s.find_free(P, None, 0, stack_top), Some(below - P));
        assert_eq!(s.find_free(P, Some(below), 0, stack_top), Some(below - P));
        assert_eq!(s.find_free(P, Some(below - P), 0, stack_top), Some(below - P));
        // MAP_FIXED_NOREPLACE's check ignores guard gaps.
        assert!(s.is_range_free(below, below + P));
        // An ordinary area gets no gap.
        let mut t = VmaSet::new();
        t.insert(anon(0x100, 0x110, RW)).unwrap();
        assert_eq!(t.find_free(P, None, 0, 0x110 * P), Some(0xff * P));
    }

    #[test]
    fn areas_stop_at_max_map_count_and_munmap_may_still_free() {
        let page = PAGE_SIZE;
        let mut s = VmaSet::new();
        let n = 2 * DEFAULT_MAX_MAP_COUNT as u64;
        s.insert(Vma::new(
            0x1000_0000,
            0x1000_0000 + n * page,
            Prot::READ,
            VmFlags::empty(),
            0,
            (),
        ))
        .unwrap();
        // mprotect of every other page adds two areas a time, until a split
        // would pass the limit: ENOMEM, and that call changes nothing.
        let mut ok = 0;
        let err = loop {
            let a = 0x1000_0000 + (2 * ok + 1) * page;
            match s.protect_range(a, a + page, Prot::READ | Prot::WRITE) {
                Ok(()) => ok += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err, ENOMEM);
        assert!(
            s.len() <= DEFAULT_MAX_MAP_COUNT && s.len() >= DEFAULT_MAX_MAP_COUNT - 2,
            "{}",
            s.len()
        );
        let before = s.len();
        let a = 0x1000_0000 + (2 * ok + 1) * page;
        assert_eq!(s.find(a).map(|v| v.prot), Some(Prot::READ), "nothing changed");
        // A new area: ENOMEM once there are more than the limit.
        let far = 0x4000_0000_0000;
        let mut extra = 0;
        while s
            .insert(Vma::new(
                far + 2 * extra * page,
                far + (2 * extra + 1) * page,
                Prot::READ,
                VmFlags::empty(),
                0,
                (),
            ))
            .is_ok()
        {
            extra += 1;
        }
        assert_eq!(s.len(), DEFAULT_MAX_MAP_COUNT + 1);
        assert!(extra >= 1 && before + extra as usize == DEFAULT_MAX_MAP_COUNT + 1);
        // munmap of a hole inside an area is refused at the limit, of a whole
        // area (or an edge) is not.
        let mid = 0x1000_0000 + (2 * ok + 10) * page;
        assert!(s.unmap_exceeds_map_count(mid, mid + page));
        assert!(!s.unmap_exceeds_map_count(far, far + page));
        s.remove_range(far, far + page);
        assert_eq!(s.len(), DEFAULT_MAX_MAP_COUNT);
    }

    #[test]
    fn stack_grows_down_to_its_limits() {
        let mut s = VmaSet::new();
        let top = 0x10000 * P;
        s.insert(Vma::new(top - 4 * P, top, RW, VmFlags::GROWSDOWN, 0x1000, 0u32)).unwrap();
        assert_eq!(s.expand_stack(top - P, 64 * P), Ok(())); // already mapped
        assert_eq!(s.expand_stack(top - 10 * P + 8, 64 * P), Ok(()));
        let v = s.find(top - 10 * P).unwrap();
        assert_eq!((v.start, v.pgoff, v.pages()), (top - 10 * P, 0xffa, 10));
        assert_eq!(s.expand_stack(top - 65 * P, 64 * P), Err(ENOMEM)); // rlimit
        assert_eq!(s.expand_stack(top - 64 * P, 64 * P), Ok(()));
        assert_eq!(s.expand_stack(top + P, 64 * P), Err(EFAULT)); // nothing above
                                                                  // An ordinary area below: growth stops STACK_GUARD_GAP above it.
        let low_end = top - 64 * P - STACK_GUARD_GAP - 2 * P;
        s.insert(Vma::new(low_end - P, low_end, RW, NOF, 0, 0)).unwrap();
        assert_eq!(s.expand_stack(low_end + STACK_GUARD_GAP, u64::MAX), Ok(()));
        assert_eq!(s.find(top - 1).unwrap().start, low_end + STACK_GUARD_GAP);
        assert_eq!(s.expand_stack(low_end + STACK_GUARD_GAP - 1, u64::MAX), Err(ENOMEM));
        assert_eq!(s.expand_stack(low_end - P, u64::MAX), Ok(())); // mapped: not a stack fault
                                                                   // Below a non-stack area: EFAULT.
        assert_eq!(s.expand_stack(low_end - 2 * P, u64::MAX), Err(EFAULT));
        // A PROT_NONE area below (a guard page) does not stop growth.
        s.protect_range(low_end - P, low_end, Prot::empty()).unwrap();
        assert_eq!(s.expand_stack(low_end, u64::MAX), Ok(()));
        assert_eq!(s.len(), 2);
        assert_eq!(s.total_pages(), 1 + (top - low_end) / P);
        // pgoff cannot go below 0.
        let mut t = VmaSet::new();
        t.insert(Vma::new(0x100 * P, 0x101 * P, RW, VmFlags::GROWSDOWN, 1, 0u32)).unwrap();
        assert_eq!(t.expand_stack(0xff * P, u64::MAX), Ok(()));
        assert_eq!(t.expand_stack(0xfe * P, u64::MAX), Err(ENOMEM));
        check_invariants(&s);
        check_invariants(&t);
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// What the naive model knows about one page.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    struct Page {
        prot: Prot,
        flags: VmFlags,
        backing: u32,
        pgoff: u64,
    }

    type Model = BTreeMap<u64, Page>;

    fn pages_of(v: &Vma<u32>) -> impl Iterator<Item = (u64, Page)> + '_ {
        (0..v.pages()).map(move |i| {
            let page =
                Page { prot: v.prot, flags: v.flags, backing: v.backing, pgoff: v.pgoff + i };
            (v.start / P + i, page)
        })
    }

    /// Number of areas a fully merged set has for `model`.
    fn runs(model: &Model) -> usize {
        let mut n = 0;
        let mut prev: Option<(u64, Page)> = None;
        for (&p, &pg) in model {
            let continues = prev.is_some_and(|(q, qg)| {
                q + 1 == p
                    && (qg.prot, qg.flags, qg.backing) == (pg.prot, pg.flags, pg.backing)
                    && qg.pgoff + 1 == pg.pgoff
            });
            if !continues {
                n += 1;
            }
            prev = Some((p, pg));
        }
        n
    }

    /// Brute-force `find_free` over the model (page units): every candidate is
    /// checked page by page, with prefix sums to keep it fast.
    fn model_find_free(
        model: &Model,
        len: u64,
        hint: Option<u64>,
        low: u64,
        high: u64,
    ) -> Option<u64> {
        let gap = STACK_GUARD_GAP / P;
        let top = high + gap + 1;
        let (mut mapped, mut stack) =
            (alloc::vec![0u64; top as usize + 1], alloc::vec![0u64; top as usize + 1]);
        for p in 0..top {
            let g = model.get(&p);
            mapped[p as usize + 1] = mapped[p as usize] + u64::from(g.is_some());
            let gd = g.is_some_and(|g| g.flags.contains(VmFlags::GROWSDOWN));
            stack[p as usize + 1] = stack[p as usize] + u64::from(gd);
        }
        let count = |sums: &[u64], a: u64, b: u64| sums[b as usize] - sums[a as usize];
        let available =
            |a: u64| count(&mapped, a, a + len) == 0 && count(&stack, a + len, a + len + gap) == 0;
        if len == 0 || high < low + len {
            return None;
        }
        if let Some(h) = hint {
            if h >= low && h + len <= high && available(h) {
                return Some(h);
            }
        }
        (low..=high - len).rev().find(|&a| available(a))
    }

    #[test]
    fn randomized_against_a_page_model() {
        // 1,024 pages make mostly more areas than a vector holds, 128 fewer,
        // and 320 cross between the two kinds of storage again and again.
        let (big, small, mid) = (
            randomized_against_a_page_model_of(1024, 20_000),
            randomized_against_a_page_model_of(128, 5_000),
            randomized_against_a_page_model_of(320, 8_000),
        );
        assert!(big.1 > 10_000 && small.0 > 4_000, "{big:?} {small:?}");
        assert!(mid.0 > 1000 && mid.1 > 1000 && mid.2 > 10, "{mid:?}");
    }

    /// `steps` random operations on `N` pages, each checked against a naive
    /// model of the pages; returns the steps that ended with the areas in a vector, in
    /// a B-tree, and the changes from one to the other.
    #[allow(non_snake_case)]
    fn randomized_against_a_page_model_of(N: u64, steps: u32) -> (u32, u32, u32) {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut set: VmaSet<u32> = VmaSet::new();
        let mut model = Model::new();
        let prots = [Prot::empty(), Prot::READ, RW, Prot::READ | Prot::EXEC];
        let mut kinds = (0, 0, 0);
        let mut was_small = true;
        for step in 0..steps {
            let mut s = rng.below(N);
            let len = if rng.below(4) == 0 { 1 + rng.below(64) } else { 1 + rng.below(8) };
            if !model.is_empty() && rng.below(2) == 0 {
                // Often start at a mapped page: more ranges that are all mapped.
                s = *model.keys().nth(rng.below(model.len() as u64) as usize).unwrap();
            }
            let e = s + len;
            match rng.below(10) {
                0..=3 => {
                    let flags = match rng.below(32) {
                        0 => VmFlags::GROWSDOWN,
                        1..=8 => VmFlags::SHARED,
                        _ => NOF,
                    };
                    let prot = prots[rng.below(2) as usize * 2]; // few prots: more merges
                    let pgoff = if rng.below(2) == 0 { s } else { rng.below(4) };
                    let backing = rng.below(2) as u32;
                    let vma = Vma::new(s * P, e * P, prot, flags, pgoff, backing);
                    let free = (s..e).all(|p| !model.contains_key(&p));
                    let res = set.insert(vma.clone());
                    assert_eq!(res, if free { Ok(()) } else { Err(EEXIST) }, "step {step}");
                    if free {
                        model.extend(pages_of(&vma));
                    }
                }
                4..=5 => {
                    let gone = set.remove_range(s * P, e * P);
                    let expect: Model = model.range(s..e).map(|(&p, &g)| (p, g)).collect();
                    let got: Model = gone.iter().flat_map(pages_of).collect();
                    assert_eq!(got, expect, "step {step}");
                    assert!(gone.windows(2).all(|w| w[0].end <= w[1].start));
                    model.retain(|&p, _| p < s || p >= e);
                }
                6..=7 => {
                    let prot = prots[rng.below(4) as usize];
                    let mapped = (s..e).all(|p| model.contains_key(&p));
                    let res = set.protect_range(s * P, e * P, prot);
                    assert_eq!(res, if mapped { Ok(()) } else { Err(ENOMEM) }, "step {step}");
                    if mapped {
                        model.range_mut(s..e).for_each(|(_, g)| g.prot = prot);
                    }
                }
                8 => {
                    let low = rng.below(N / 2);
                    let high = N / 2 + rng.below(N / 2 + 1);
                    let hint = (rng.below(2) == 0).then(|| rng.below(N));
                    let got = set.find_free(len * P, hint.map(|h| h * P), low * P, high * P);
                    let expect = model_find_free(&model, len, hint, low, high);
                    assert_eq!(got, expect.map(|a| a * P), "step {step}");
                }
                _ => {
                    let addr = s * P + rng.below(P);
                    assert_eq!(set.find(addr).is_some(), model.contains_key(&s), "step {step}");
                    if let Some(v) = set.find(addr) {
                        assert_eq!(v.pgoff_of(addr), model[&s].pgoff);
                    }
                    let free = (s..e).all(|p| !model.contains_key(&p));
                    assert_eq!(set.is_range_free(s * P, e * P), free, "step {step}");
                    let touched: u64 = set.overlapping(s * P, e * P).map(|v| v.pages()).sum();
                    assert!(touched >= model.range(s..e).count() as u64);
                }
            }
            check_invariants(&set);
            let pages = set.iter().flat_map(pages_of);
            assert!(pages.eq(model.iter().map(|(&p, &g)| (p, g))), "step {step}");
            assert_eq!(set.len(), runs(&model), "step {step}: not fully merged");
            assert_eq!(set.total_pages(), model.len() as u64);
            if set.map.is_small() {
                kinds.0 += 1;
            } else {
                kinds.1 += 1;
            }
            if set.map.is_small() != was_small {
                kinds.2 += 1;
                was_small = set.map.is_small();
            }
        }
        kinds
    }
}
