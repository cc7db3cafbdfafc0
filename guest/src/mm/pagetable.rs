//! 4-level x86-64 page tables, as logic over a [`PhysMem`] (the direct map in the
//! kernel, a map of fake frames in the host tests).
//!
//! Last-level tables (page tables proper, each mapping 2 MiB) can be shared
//! copy-on-write between address spaces, as in the On-demand-fork design (Zhao
//! et al., EuroSys 2021): fork points the child's page-directory entry at the
//! parent's page table and clears the R/W bit in both directory entries, so
//! neither can write through it, and the table's reference count says how many
//! address spaces use it. Data pages mapped by a shared table hold one
//! reference for the table, not one per address space. The first change to a
//! shared table's range (a write fault, a new page, munmap, mprotect) unshares
//! it: the address space gets a private copy of the table, with every writable
//! entry write-protected in both copies and a page reference taken for each
//! page it maps; the last user of a table just makes its directory entry
//! writable again. Fork then costs one directory entry per 2 MiB instead of one
//! entry per page.
//!
//! One level up, a page directory (1 GiB) is shared the same way when a
//! private anonymous area covers all of it: the page-directory-pointer entries
//! of both spaces point at it read-only, it holds one reference to each page
//! table it points at (for all its users), and its first change in a space
//! copies it (its entries write-protected in both copies, so each page table
//! is then shared between the two directories) or, for its last user, takes
//! it back. A 1 GiB fork then costs one entry, as a 2 MiB fork does.

use smallvec::SmallVec;

/// Access to page-table frames by physical address.
pub trait PhysMem {
    fn read_pte(&self, table: u64, index: usize) -> u64;
    fn write_pte(&self, table: u64, index: usize, pte: u64);
    /// A zeroed frame for a page table (one reference), or None when memory is
    /// exhausted.
    fn alloc_table(&self) -> Option<u64>;
    /// Drop a table's last reference, freeing it.
    fn free_table(&self, table: u64);
    /// [`Self::free_table`] for each of `tables`, whose every entry is zero
    /// (their owner cleared those it had set): each can be a table again
    /// without zeroing. At once: one lock of the frame allocator for an
    /// address space's teardown.
    fn free_zeroed_tables(&self, tables: &[u64]) {
        for &t in tables {
            self.free_table(t);
        }
    }
    /// Take another reference to a page table (it is shared).
    fn table_get(&self, table: u64);
    /// Drop a reference to a page table unless it is the last one: true when it
    /// is the last (the caller then releases the table's pages and frees it).
    fn table_put_last(&self, table: u64) -> bool;
    /// The references to a page table.
    fn table_users(&self, table: u64) -> u32;
    /// Take / drop a reference to a data page a table maps.
    fn page_get(&self, frame: u64);
    fn page_put(&self, frame: u64);
}

pub const PTE_P: u64 = 1;
pub const PTE_RW: u64 = 1 << 1;
pub const PTE_US: u64 = 1 << 2;
pub const PTE_A: u64 = 1 << 5;
pub const PTE_D: u64 = 1 << 6;
pub const PTE_PS: u64 = 1 << 7;
pub const PTE_G: u64 = 1 << 8;
pub const PTE_NX: u64 = 1 << 63;
pub const PTE_ADDR: u64 = 0x000f_ffff_ffff_f000;

/// Bytes one page table maps.
pub const PT_SPAN: u64 = 1 << 21;

/// Bytes one page directory maps.
pub const PD_SPAN: u64 = 1 << 30;

/// Bytes one page-directory-pointer table maps.
const PML4_SPAN: u64 = 1 << 39;

/// First PML4 slot of the kernel half (shared by every address space).
pub const KERNEL_PML4_FIRST: usize = 256;

/// Intermediate entries allow everything; leaves decide (except that a shared
/// page table's directory entry is read-only).
const TABLE_FLAGS: u64 = PTE_P | PTE_RW | PTE_US | PTE_A;

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 511) as usize
}

/// The tables a teardown frees zero, freed together at its end.
type FreedTables = SmallVec<[u64; 8]>;

/// A teardown clears the entries it set in a table, so that the table is
/// freed zero, only up to about this many (present entries, the pages an
/// area covers in it, the tables of a directory): where ring 0 is emulated a
/// cleared entry costs a few emulated instructions and zeroing a whole table
/// later 512 `rep stosq` steps of about one instruction's cost each, so a
/// fuller table is cheaper freed as it is (the 128 page tables of a 256 MiB
/// parent, shared with each child, took 45 instructions each to unlink from
/// the child's directory).
const CLEAR_MAX: usize = 64;

/// A space's page-directory-pointer tables or page directories, by the
/// address they map (512 GiB or 1 GiB aligned).
type UpperTables = SmallVec<[(u64, u64); 2]>;

/// One address space's page tables, by the physical address of its PML4, and
/// the lower-level tables it uses in its user half (so that tearing it down
/// frees them without scanning any upper table).
#[derive(Debug, PartialEq, Eq)]
pub struct PageTable {
    pub root: u64,
    /// The kernel-half entries of the root (copied from the kernel's).
    kernel_slots: &'static [usize],
    /// Page-directory-pointer tables (never shared). A process has one or two
    /// (its program's low gigabytes and its stack's top one), held inline: no
    /// allocation per fork for these two lists.
    pdpts: UpperTables,
    /// Page directories this space reaches through a writable entry: its own,
    /// one reference each.
    pds: UpperTables,
    /// Page directories shared copy-on-write (read-only entry), by the 1 GiB
    /// they map, one reference each; the page tables such a directory points
    /// at hold their references for the directory, not for this space.
    shared_pds: alloc::vec::Vec<(u64, u64)>,
    /// The page tables of this space's own directories, by the 2 MiB they map,
    /// each holding a reference; some may be shared.
    pts: alloc::vec::Vec<(u64, u64)>,
    /// Shared tables this space turned out to be the last user of when it
    /// unshared them (their users unshared at the same time), with the page
    /// references they held: released by [`Self::release_deferred`] after the
    /// TLB flush that follows, since until then another CPU running this
    /// space may still walk them through a cached directory entry.
    deferred: Zapped,
}

/// A page fault's view of one address ([`PageTable::fault_entry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultEntry {
    pub pte: u64,
    pub shared: bool,
    pub own_pt: Option<u64>,
}

/// What [`PageTable::zap_range`] unmapped: pages and page tables to release once
/// no CPU can use a stale translation any more (after the TLB flush).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Zapped {
    pub pages: alloc::vec::Vec<u64>,
    pub tables: alloc::vec::Vec<u64>,
    /// Page directories whose last reference went: each drops its reference
    /// to the page tables it points at (the last user of a table releases
    /// its pages) and is freed.
    pub dirs: alloc::vec::Vec<u64>,
}

impl Zapped {
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty() && self.tables.is_empty() && self.dirs.is_empty()
    }

    pub fn release(self, mem: &impl PhysMem) {
        for p in self.pages {
            mem.page_put(p);
        }
        for t in self.tables {
            mem.free_table(t);
        }
        for d in self.dirs {
            for j in 0..512 {
                let e = mem.read_pte(d, j);
                if e & PTE_P != 0 && mem.table_put_last(e & PTE_ADDR) {
                    let t = e & PTE_ADDR;
                    let pages = PageTable::present_pages(mem, t);
                    Zapped { pages, tables: alloc::vec![t], dirs: alloc::vec::Vec::new() }
                        .release(mem);
                }
            }
            mem.free_table(d);
        }
    }
}

impl PageTable {
    /// A new PML4 whose kernel half is `kernel_root`'s (the same lower tables):
    /// `kernel_slots` are the kernel PML4 entries in use.
    pub fn new(
        mem: &impl PhysMem,
        kernel_root: u64,
        kernel_slots: &'static [usize],
    ) -> Option<Self> {
        let root = mem.alloc_table()?;
        for &i in kernel_slots {
            mem.write_pte(root, i, mem.read_pte(kernel_root, i));
        }
        Some(Self { root, kernel_slots, ..Self::new_empty() })
    }

    /// A placeholder owning nothing (what remains after `destroy` took the real one).
    pub fn new_empty() -> Self {
        Self {
            root: 0,
            kernel_slots: &[],
            pdpts: UpperTables::new(),
            pds: UpperTables::new(),
            shared_pds: alloc::vec::Vec::new(),
            pts: alloc::vec::Vec::new(),
            deferred: Zapped::default(),
        }
    }

    /// The page-directory-pointer table covering `va`, allocated if missing.
    fn pdpt_for_create(&mut self, mem: &impl PhysMem, va: u64) -> Option<u64> {
        let e = mem.read_pte(self.root, index(va, 3));
        if e & PTE_P != 0 {
            return Some(e & PTE_ADDR);
        }
        self.new_pdpt(mem, va)
    }

    /// [`Self::pdpt_for_create`]'s rare half, out of line so that the common
    /// one (the table exists: one read) stays small.
    #[inline(never)]
    fn new_pdpt(&mut self, mem: &impl PhysMem, va: u64) -> Option<u64> {
        let t = mem.alloc_table()?;
        self.pdpts.push((va & !(PML4_SPAN - 1), t));
        mem.write_pte(self.root, index(va, 3), t | TABLE_FLAGS);
        Some(t)
    }

    /// The page directory covering `va`, allocating missing levels, and
    /// this space's own (unshared if it was shared): one that may be written.
    fn pd_for_write(&mut self, mem: &impl PhysMem, va: u64) -> Option<u64> {
        let pdpt = self.pdpt_for_create(mem, va)?;
        let i = index(va, 2);
        let e = mem.read_pte(pdpt, i);
        if e & PTE_P == 0 {
            let t = mem.alloc_table()?;
            self.pds.push((va & !(PD_SPAN - 1), t));
            mem.write_pte(pdpt, i, t | TABLE_FLAGS);
            return Some(t);
        }
        if e & PTE_RW != 0 {
            return Some(e & PTE_ADDR);
        }
        self.unshare_pd(mem, pdpt, i, va & !(PD_SPAN - 1))
    }

    /// Make the shared page directory at entry `i` of `pdpt` (mapping the
    /// 1 GiB at `base`) this space's own, as [`Self::unshare`] does one level
    /// down: its last user takes it back with the references it holds; any
    /// other user copies it, sharing each of its page tables between the two
    /// directories from then on.
    fn unshare_pd(&mut self, mem: &impl PhysMem, pdpt: u64, i: usize, base: u64) -> Option<u64> {
        let e = mem.read_pte(pdpt, i);
        let old = e & PTE_ADDR;
        let slot =
            self.shared_pds.iter().position(|&(_, d)| d == old).expect("a directory of this space");
        // As for page tables: only this space can add users to a directory
        // it alone uses, so a count of 1 is stable.
        if mem.table_users(old) == 1 {
            for j in 0..512 {
                let pe = mem.read_pte(old, j);
                if pe & PTE_P != 0 {
                    self.pts.push((base + j as u64 * PT_SPAN, pe & PTE_ADDR));
                }
            }
            mem.write_pte(pdpt, i, e | PTE_RW);
            self.shared_pds.swap_remove(slot);
            self.pds.push((base, old));
            return Some(old);
        }
        let new = mem.alloc_table()?;
        for j in 0..512 {
            let mut pe = mem.read_pte(old, j);
            if pe & PTE_P == 0 {
                continue;
            }
            if pe & PTE_RW != 0 {
                // The table is shared by both directories from now on (the
                // other users cannot write through the old one anyway).
                pe &= !PTE_RW;
                mem.write_pte(old, j, pe);
            }
            mem.table_get(pe & PTE_ADDR);
            mem.write_pte(new, j, pe);
            self.pts.push((base + j as u64 * PT_SPAN, pe & PTE_ADDR));
        }
        if mem.table_put_last(old) {
            // Everyone else let go meanwhile (see `deferred`).
            self.deferred.dirs.push(old);
        }
        mem.write_pte(pdpt, i, new | TABLE_FLAGS);
        self.shared_pds.swap_remove(slot);
        self.pds.push((base, new));
        Some(new)
    }

    /// The page directory covering `va`, if it exists.
    fn pd_for(&self, mem: &impl PhysMem, va: u64) -> Option<u64> {
        let mut table = self.root;
        for level in [3, 2] {
            let e = mem.read_pte(table, index(va, level));
            if e & PTE_P == 0 {
                return None;
            }
            table = e & PTE_ADDR;
        }
        Some(table)
    }

    /// The page table (level 1) covering `va`, allocating missing levels, and
    /// private to this address space (unshared if it was shared): one that may
    /// be written.
    fn pt_for_write(&mut self, mem: &impl PhysMem, va: u64) -> Option<u64> {
        let pd = self.pd_for_write(mem, va)?;
        let i = index(va, 1);
        let e = mem.read_pte(pd, i);
        if e & PTE_P == 0 {
            let t = mem.alloc_table()?;
            self.pts.push((va & !(PT_SPAN - 1), t));
            mem.write_pte(pd, i, t | TABLE_FLAGS);
            return Some(t);
        }
        debug_assert!(e & PTE_PS == 0, "no huge pages in user space");
        if e & PTE_RW != 0 {
            return Some(e & PTE_ADDR);
        }
        self.unshare(mem, pd, i)
    }

    /// Make the shared page table at entry `i` of page directory `pd` private.
    fn unshare(&mut self, mem: &impl PhysMem, pd: u64, i: usize) -> Option<u64> {
        let e = mem.read_pte(pd, i);
        let old = e & PTE_ADDR;
        // Only this address space can add references to a table it alone
        // uses (by forking, under its own lock), so a count of 1 is stable.
        if mem.table_users(old) == 1 {
            mem.write_pte(pd, i, e | PTE_RW);
            return Some(old);
        }
        let new = mem.alloc_table()?;
        for j in 0..512 {
            let mut pte = mem.read_pte(old, j);
            if pte & PTE_P == 0 {
                continue;
            }
            if pte & PTE_RW != 0 {
                // Shared from now on: write-protected in every copy (the other
                // users cannot write through the shared table anyway).
                pte &= !PTE_RW;
                mem.write_pte(old, j, pte);
            }
            mem.page_get(pte & PTE_ADDR);
            mem.write_pte(new, j, pte);
        }
        if mem.table_put_last(old) {
            // Everyone else unshared meanwhile: the old table's own references
            // go, once no CPU can walk it any more (see `deferred`).
            self.deferred.pages.extend(Self::present_pages(mem, old));
            self.deferred.tables.push(old);
        }
        mem.write_pte(pd, i, new | TABLE_FLAGS);
        let slot = self.pts.iter().position(|&(_, t)| t == old).expect("a table of this space");
        self.pts[slot].1 = new;
        Some(new)
    }

    fn present_pages(mem: &impl PhysMem, table: u64) -> alloc::vec::Vec<u64> {
        (0..512)
            .map(|j| mem.read_pte(table, j))
            .filter(|pte| pte & PTE_P != 0)
            .map(|pte| pte & PTE_ADDR)
            .collect()
    }

    /// The page table (level 1) covering `va`, if it exists.
    fn pt_for(&self, mem: &impl PhysMem, va: u64) -> Option<u64> {
        let e = mem.read_pte(self.pd_for(mem, va)?, index(va, 1));
        debug_assert!(e & PTE_P == 0 || e & PTE_PS == 0, "no huge pages in user space");
        (e & PTE_P != 0).then_some(e & PTE_ADDR)
    }

    /// The leaf entry for `va` (0 if none). Its R/W bit is the leaf's own: a
    /// shared page table is read-only as a whole (see [`Self::is_shared`]).
    pub fn lookup(&self, mem: &impl PhysMem, va: u64) -> u64 {
        self.pt_for(mem, va).map_or(0, |pt| mem.read_pte(pt, index(va, 0)))
    }

    /// Whether the page table covering `va`, or its page directory, is
    /// read-only through the entry above it (shared with another address
    /// space, or not yet taken back).
    pub fn is_shared(&self, mem: &impl PhysMem, va: u64) -> bool {
        if self.dir_is_shared(mem, va) {
            return true;
        }
        self.pd_for(mem, va).is_some_and(|pd| {
            let e = mem.read_pte(pd, index(va, 1));
            e & PTE_P != 0 && e & PTE_RW == 0
        })
    }

    /// What a page fault at `va` needs to know, in one walk instead of the
    /// three of [`Self::lookup`], [`Self::is_shared`] and [`Self::set`]: the
    /// leaf entry (0 if none), whether the page table or directory holding it
    /// is shared, and that page table when it is this space's own (then
    /// [`Self::set_own`] may write it).
    pub fn fault_entry(&self, mem: &impl PhysMem, va: u64) -> FaultEntry {
        let none = FaultEntry { pte: 0, shared: false, own_pt: None };
        let e = mem.read_pte(self.root, index(va, 3));
        if e & PTE_P == 0 {
            return none;
        }
        let e = mem.read_pte(e & PTE_ADDR, index(va, 2));
        if e & PTE_P == 0 {
            return none;
        }
        let dir_shared = e & PTE_RW == 0;
        let e = mem.read_pte(e & PTE_ADDR, index(va, 1));
        if e & PTE_P == 0 {
            return FaultEntry { shared: dir_shared, ..none };
        }
        debug_assert!(e & PTE_PS == 0, "no huge pages in user space");
        let shared = dir_shared || e & PTE_RW == 0;
        let pt = e & PTE_ADDR;
        FaultEntry { pte: mem.read_pte(pt, index(va, 0)), shared, own_pt: (!shared).then_some(pt) }
    }

    /// [`Self::set`] into `pt`, this space's own page table for `va` as
    /// [`Self::fault_entry`] found it (under the same lock: nothing unshared
    /// or freed it since).
    pub fn set_own(&mut self, mem: &impl PhysMem, pt: u64, va: u64, pte: u64) {
        debug_assert_eq!(self.fault_entry(mem, va).own_pt, Some(pt));
        mem.write_pte(pt, index(va, 0), pte);
    }

    /// Whether the page directory covering `va` is shared (read-only entry).
    pub fn dir_is_shared(&self, mem: &impl PhysMem, va: u64) -> bool {
        let e = mem.read_pte(self.root, index(va, 3));
        if e & PTE_P == 0 {
            return false;
        }
        let e = mem.read_pte(e & PTE_ADDR, index(va, 2));
        e & PTE_P != 0 && e & PTE_RW == 0
    }

    /// Release what unsharing left to release (call after the TLB flush of
    /// the range that was unshared).
    pub fn release_deferred(&mut self, mem: &impl PhysMem) {
        // Nearly always nothing (every TLB flush calls this): no moves then.
        if !self.deferred.is_empty() {
            core::mem::take(&mut self.deferred).release(mem);
        }
    }

    /// Make every page table in `[start, end)` private (see [`Self::unshare`]):
    /// how many were not, or None when a table could not be allocated.
    pub fn unshare_range(&mut self, mem: &impl PhysMem, start: u64, end: u64) -> Option<u64> {
        let mut dirs = alloc::vec::Vec::new();
        self.walk(mem, self.root, 3, 0, start, end, 2, &mut |base, e, pdpt| {
            if e & PTE_RW == 0 {
                dirs.push((base, pdpt));
            }
        });
        let d = dirs.len() as u64;
        for (base, pdpt) in dirs {
            self.unshare_pd(mem, pdpt, index(base, 2), base)?;
        }
        let mut shared = alloc::vec::Vec::new();
        self.for_each_pt(mem, start, end, |va, pd| {
            if mem.read_pte(pd, index(va, 1)) & PTE_RW == 0 {
                shared.push((pd, index(va, 1)));
            }
        });
        let n = shared.len() as u64;
        shared.into_iter().all(|(pd, i)| self.unshare(mem, pd, i).is_some()).then_some(d + n)
    }

    /// Set the leaf entry for `va`, allocating (or unsharing) tables on the way.
    /// Returns the old entry, or None when a table could not be allocated.
    pub fn set(&mut self, mem: &impl PhysMem, va: u64, pte: u64) -> Option<u64> {
        let pt = self.pt_for_write(mem, va)?;
        let old = mem.read_pte(pt, index(va, 0));
        mem.write_pte(pt, index(va, 0), pte);
        Some(old)
    }

    /// Go through the entries of the pages `[start, end)` touches, in address
    /// order, with one table walk per page table (a missing table is made and a
    /// shared one unshared, as [`Self::set`] does for one page): `f` gets each
    /// page's address and entry and returns the entry to write in its place,
    /// if any. Stops at `f`'s first error, or with `oom` when a table cannot
    /// be allocated.
    pub fn update_range<E>(
        &mut self,
        mem: &impl PhysMem,
        start: u64,
        end: u64,
        oom: E,
        mut f: impl FnMut(u64, u64) -> Result<Option<u64>, E>,
    ) -> Result<(), E> {
        let mut va = start & !0xfff;
        while va < end {
            let block = va & !(PT_SPAN - 1);
            let block_end = (block + PT_SPAN).min(end);
            let Some(pt) = self.pt_for_write(mem, va) else { return Err(oom) };
            for j in index(va, 0)..index(block_end - 1, 0) + 1 {
                let old = mem.read_pte(pt, j);
                if let Some(new) = f(block + ((j as u64) << 12), old)? {
                    mem.write_pte(pt, j, new);
                }
            }
            va = block_end;
        }
        Ok(())
    }

    /// Map `[start, end)`'s absent pages with entries from `make` (None: out of
    /// memory, which stops the fill), one table walk per page table. Returns the
    /// pages mapped.
    pub fn fill(
        &mut self,
        mem: &impl PhysMem,
        start: u64,
        end: u64,
        mut make: impl FnMut() -> Option<u64>,
    ) -> u64 {
        let mut filled = 0;
        let mut va = start;
        while va < end {
            let block_end = ((va | (PT_SPAN - 1)) + 1).min(end);
            let Some(pt) = self.pt_for_write(mem, va) else { return filled };
            for j in index(va, 0)..index(block_end - 1, 0) + 1 {
                if mem.read_pte(pt, j) & PTE_P != 0 {
                    continue;
                }
                let Some(pte) = make() else { return filled };
                mem.write_pte(pt, j, pte);
                filled += 1;
            }
            va = block_end;
        }
        filled
    }

    /// Copy `parent`'s entries for `[start, end)` into this (new) address space
    /// (Linux `copy_pte_range`): one pass per page table, a page reference
    /// taken for each entry, and with `cow` the writable entries write-protected
    /// in both. `admit(frame)` may refuse an entry (fault injection). Ok(whether
    /// the parent lost write access somewhere), or Err(the same) when a table
    /// could not be allocated or an entry was refused; the entries copied so
    /// far stay, for the caller to drop with this address space.
    pub fn copy_range_from(
        &mut self,
        parent: &mut PageTable,
        mem: &impl PhysMem,
        start: u64,
        end: u64,
        cow: bool,
        mut admit: impl FnMut(u64) -> bool,
    ) -> Result<bool, bool> {
        let mut protected = false;
        if start >= end {
            return Ok(false);
        }
        // A range inside one 2 MiB block (a fork's edges of an area always
        // are) has at most one table: looked up, not listed.
        let block = start & !(PT_SPAN - 1);
        let one;
        let listed;
        let tables: &[u64] = if in_one_block(start, end) {
            one = parent.pt_for(mem, block).map(|_| block);
            one.as_slice()
        } else {
            listed = parent.present_tables(mem, start, end);
            &listed
        };
        for &base in tables {
            // Write-protecting needs the parent's own copy of a shared table.
            let from = if cow { parent.pt_for_write(mem, base) } else { parent.pt_for(mem, base) };
            let (Some(from), Some(to)) = (from, self.pt_for_write(mem, base)) else {
                return Err(protected);
            };
            let (lo, hi) = (start.max(base), end.min(base + PT_SPAN));
            for j in index(lo, 0)..index(hi - 1, 0) + 1 {
                let mut pte = mem.read_pte(from, j);
                if pte & PTE_P == 0 {
                    continue;
                }
                if cow && pte & PTE_RW != 0 {
                    pte &= !PTE_RW;
                    mem.write_pte(from, j, pte);
                    protected = true;
                }
                if !admit(pte & PTE_ADDR) {
                    return Err(protected);
                }
                mem.page_get(pte & PTE_ADDR);
                mem.write_pte(to, j, pte);
            }
        }
        Ok(protected)
    }

    /// Share the page table that maps the 2 MiB at `va` in `parent` with this
    /// (new) address space, copy-on-write: both directory entries become
    /// read-only. False if `parent` has no table there; None when a table for
    /// the upper levels could not be allocated.
    pub fn share_pt_from(
        &mut self,
        parent: &mut PageTable,
        mem: &impl PhysMem,
        va: u64,
    ) -> Option<bool> {
        let Some(ppd) = parent.pd_for(mem, va) else {
            return Some(false);
        };
        let i = index(va, 1);
        let e = mem.read_pte(ppd, i);
        if e & PTE_P == 0 {
            return Some(false);
        }
        let pd = self.pd_for_write(mem, va)?;
        self.share_entry(mem, (ppd, pd), i, e, va & !(PT_SPAN - 1));
        Some(true)
    }

    /// Share the page table of entry `e`, at index `i` of the parent's
    /// directory `dirs.0`, through entry `i` of this space's `dirs.1`, for
    /// the 2 MiB at `base`: both entries read-only.
    #[inline(always)]
    fn share_entry(&mut self, mem: &impl PhysMem, dirs: (u64, u64), i: usize, e: u64, base: u64) {
        let (ppd, pd) = dirs;
        debug_assert!(mem.read_pte(pd, i) & PTE_P == 0, "a fresh address space");
        let t = e & PTE_ADDR;
        mem.table_get(t);
        if e & PTE_RW != 0 {
            // (In a shared directory too: no user can write through it.)
            mem.write_pte(ppd, i, e & !PTE_RW);
        }
        mem.write_pte(pd, i, e & !PTE_RW);
        self.pts.push((base, t));
    }

    /// Share the page tables `parent` has for the 2 MiB blocks of
    /// `[start, end)` (2 MiB aligned) with this (new) address space,
    /// copy-on-write: both directory entries of each become read-only. Each
    /// table once `admit()` allows it. Every block of the range is looked at,
    /// in the directories found once per GiB on both sides, not from the
    /// root for each table: for a range the parent's tables fill; a sparse
    /// one goes through [`Self::share_listed_pts_from`]. The count shared;
    /// Err with it when `admit` refused or this space's directory could not
    /// be allocated (what was shared is recorded, for the teardown).
    pub fn share_pts_from(
        &mut self,
        parent: &mut PageTable,
        mem: &impl PhysMem,
        (start, end): (u64, u64),
        mut admit: impl FnMut() -> bool,
    ) -> Result<u64, u64> {
        debug_assert!(
            start.is_multiple_of(PT_SPAN) && end.is_multiple_of(PT_SPAN),
            "{start:#x}..{end:#x}"
        );
        let mut shared = 0;
        let mut va = start;
        while va < end {
            let gib = va & !(PD_SPAN - 1);
            let chunk_end = (gib + PD_SPAN).min(end);
            if let Some(ppd) = parent.pd_for(mem, va) {
                let mut pd = None;
                for i in index(va, 1)..index(chunk_end - 1, 1) + 1 {
                    let e = mem.read_pte(ppd, i);
                    if e & PTE_P == 0 {
                        continue;
                    }
                    if !admit() {
                        return Err(shared);
                    }
                    let base = gib + i as u64 * PT_SPAN;
                    self.share_present(mem, (ppd, &mut pd), i, e, base).ok_or(shared)?;
                    shared += 1;
                }
            }
            va = chunk_end;
        }
        Ok(shared)
    }

    /// [`Self::share_pts_from`] for the tables at `blocks` (2 MiB-aligned
    /// addresses in address order, [`Self::present_tables`]; a block without
    /// one is passed over): only those are visited, however large the range
    /// they came from.
    pub fn share_listed_pts_from(
        &mut self,
        parent: &mut PageTable,
        mem: &impl PhysMem,
        blocks: &[u64],
        mut admit: impl FnMut() -> bool,
    ) -> Result<u64, u64> {
        let mut shared = 0;
        // The GiB looked up last, the parent's directory for it, and this
        // space's once a table there needed it.
        let mut dirs: (u64, Option<u64>, Option<u64>) = (u64::MAX, None, None);
        for &base in blocks {
            debug_assert!(base.is_multiple_of(PT_SPAN), "{base:#x}");
            let gib = base & !(PD_SPAN - 1);
            if dirs.0 != gib {
                dirs = (gib, parent.pd_for(mem, base), None);
            }
            let Some(ppd) = dirs.1 else { continue };
            let i = index(base, 1);
            let e = mem.read_pte(ppd, i);
            if e & PTE_P == 0 {
                continue;
            }
            if !admit() {
                return Err(shared);
            }
            self.share_present(mem, (ppd, &mut dirs.2), i, e, base).ok_or(shared)?;
            shared += 1;
        }
        Ok(shared)
    }

    /// Share the present table of entry `e` (index `i` of the parent's
    /// directory `dirs.0`) for the 2 MiB at `base`, through this space's
    /// directory `dirs.1`, found (made) at the first. None when it could not
    /// be allocated.
    #[inline(always)]
    fn share_present(
        &mut self,
        mem: &impl PhysMem,
        dirs: (u64, &mut Option<u64>),
        i: usize,
        e: u64,
        base: u64,
    ) -> Option<()> {
        let (ppd, pd) = dirs;
        let pd = match *pd {
            Some(pd) => pd,
            None => *pd.insert(self.pd_for_write(mem, base)?),
        };
        self.share_entry(mem, (ppd, pd), i, e, base);
        Some(())
    }

    /// Share the page directory that maps the 1 GiB at `va` (aligned) in
    /// `parent` with this (new) address space, copy-on-write: both
    /// page-directory-pointer entries become read-only, and the references the
    /// parent held to the directory's page tables pass to the directory. False
    /// if `parent` has no directory there; None when this space's
    /// page-directory-pointer table could not be allocated.
    pub fn share_pd_from(
        &mut self,
        parent: &mut PageTable,
        mem: &impl PhysMem,
        va: u64,
    ) -> Option<bool> {
        debug_assert_eq!(va % PD_SPAN, 0);
        let e4 = mem.read_pte(parent.root, index(va, 3));
        if e4 & PTE_P == 0 {
            return Some(false);
        }
        let (ppdpt, i) = (e4 & PTE_ADDR, index(va, 2));
        let e = mem.read_pte(ppdpt, i);
        if e & PTE_P == 0 {
            return Some(false);
        }
        let pdpt = self.pdpt_for_create(mem, va)?;
        debug_assert!(mem.read_pte(pdpt, i) & PTE_P == 0, "a fresh address space");
        let d = e & PTE_ADDR;
        if e & PTE_RW != 0 {
            let slot =
                parent.pds.iter().position(|&(_, p)| p == d).expect("the parent's directory");
            parent.pds.swap_remove(slot);
            parent.pts.retain(|&(base, _)| base & !(PD_SPAN - 1) != va);
            parent.shared_pds.push((va, d));
            mem.write_pte(ppdpt, i, e & !PTE_RW);
        }
        mem.table_get(d);
        mem.write_pte(pdpt, i, e & !PTE_RW);
        self.shared_pds.push((va, d));
        Some(true)
    }

    /// Unmap `[start, end)`: page tables wholly inside the range are detached
    /// (a shared one just loses this user), the others are unshared and their
    /// entries cleared. Returns what to release after the TLB flush, or None
    /// when unsharing a partly covered table ran out of memory (nothing of that
    /// table is unmapped then).
    pub fn zap_range(&mut self, mem: &impl PhysMem, start: u64, end: u64) -> Option<Zapped> {
        let mut out = Zapped::default();
        // Shared page directories first: one wholly inside the range loses
        // this user, one partly covered is unshared (this space's own
        // directories are handled table by table below).
        let mut dirs = alloc::vec::Vec::new();
        self.walk(mem, self.root, 3, 0, start, end, 2, &mut |base, e, pdpt| {
            if e & PTE_RW == 0 {
                dirs.push((base, e & PTE_ADDR, pdpt));
            }
        });
        for (base, d, pdpt) in dirs {
            let i = index(base, 2);
            if start <= base && base + PD_SPAN <= end {
                mem.write_pte(pdpt, i, 0);
                let slot = self.shared_pds.iter().position(|&(_, p)| p == d).expect("shared");
                self.shared_pds.swap_remove(slot);
                if mem.table_put_last(d) {
                    out.dirs.push(d);
                }
            } else {
                self.unshare_pd(mem, pdpt, i, base)?;
            }
        }
        let mut tables = alloc::vec::Vec::new();
        self.for_each_pt(mem, start, end, |va, pd| tables.push((va, pd)));
        for (base, pd) in tables {
            let i = index(base, 1);
            let e = mem.read_pte(pd, i);
            let t = e & PTE_ADDR;
            if start <= base && base + PT_SPAN <= end {
                mem.write_pte(pd, i, 0);
                let slot =
                    self.pts.iter().position(|&(_, p)| p == t).expect("a table of this space");
                self.pts.swap_remove(slot);
                if mem.table_put_last(t) {
                    out.pages.extend(Self::present_pages(mem, t));
                    out.tables.push(t);
                }
                continue;
            }
            let t = if e & PTE_RW == 0 { self.unshare(mem, pd, i)? } else { t };
            let (lo, hi) = (start.max(base), end.min(base + PT_SPAN));
            for j in index(lo, 0)..index(hi - 1, 0) + 1 {
                let pte = mem.read_pte(t, j);
                if pte & PTE_P != 0 {
                    mem.write_pte(t, j, 0);
                    out.pages.push(pte & PTE_ADDR);
                }
            }
        }
        Some(out)
    }

    /// The 1 GiB-aligned addresses of the present page directories overlapping
    /// `[start, end)`.
    pub fn present_dirs(&self, mem: &impl PhysMem, start: u64, end: u64) -> alloc::vec::Vec<u64> {
        let mut dirs = alloc::vec::Vec::new();
        self.walk(mem, self.root, 3, 0, start, end, 2, &mut |base, _, _| dirs.push(base));
        dirs
    }

    /// The 2 MiB-aligned addresses of the present page tables overlapping
    /// `[start, end)`, in order: those of this space's own directories from
    /// `pts`, those under a shared directory by walking that directory (the
    /// cost follows what is mapped, not the range's size, and no walk starts
    /// at the root).
    pub fn present_tables(&self, mem: &impl PhysMem, start: u64, end: u64) -> alloc::vec::Vec<u64> {
        let overlaps = |base: u64, span: u64| base < end && base.saturating_add(span) > start;
        let mut tables: alloc::vec::Vec<u64> =
            self.pts.iter().map(|&(b, _)| b).filter(|&b| overlaps(b, PT_SPAN)).collect();
        for &(va, d) in self.shared_pds.iter().filter(|&&(va, _)| overlaps(va, PD_SPAN)) {
            self.walk(mem, d, 1, va, start, end, 1, &mut |b, _, _| tables.push(b));
        }
        tables.sort_unstable();
        tables
    }

    /// `f(base, pd)` for each present page table overlapping `[start, end)`:
    /// the 2 MiB-aligned address it maps and the page directory holding it.
    fn for_each_pt(&self, mem: &impl PhysMem, start: u64, end: u64, mut f: impl FnMut(u64, u64)) {
        self.walk(mem, self.root, 3, 0, start, end, 1, &mut |va, _, pd| f(va, pd));
    }

    /// How many leaves are present in `[start, end)`: for a range inside one
    /// 2 MiB block (most areas of a small program), read from its table
    /// straight away rather than by a walk of the range from the root.
    pub fn present_leaves(&self, mem: &impl PhysMem, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let mut n = 0;
        if in_one_block(start, end) {
            if let Some(t) = self.pt_for(mem, start) {
                for j in index(start, 0)..index(end - 1, 0) + 1 {
                    n += u64::from(mem.read_pte(t, j) & PTE_P != 0);
                }
            }
        } else {
            self.for_each_leaf(mem, start, end, |_, _| n += 1);
        }
        n
    }

    /// Call `f(va, pte)` for every present leaf in `[start, end)`, skipping
    /// absent tables whole.
    pub fn for_each_leaf(
        &self,
        mem: &impl PhysMem,
        start: u64,
        end: u64,
        mut f: impl FnMut(u64, u64),
    ) {
        self.walk(mem, self.root, 3, 0, start, end, 0, &mut |va, pte, _| f(va, pte));
    }

    /// Visit the present entries of level `stop` overlapping `[start, end)`:
    /// `f(address it maps, entry, table holding it)`.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        mem: &impl PhysMem,
        table: u64,
        level: u32,
        base: u64,
        start: u64,
        end: u64,
        stop: u32,
        f: &mut impl FnMut(u64, u64, u64),
    ) {
        let span = 1u64 << (12 + 9 * level);
        // Only the entries that overlap [start, end): no scan of all 512.
        let first = (start.max(base) - base) / span;
        let last =
            (end.min(base.saturating_add(512 * span)).saturating_sub(1).saturating_sub(base)
                / span)
                .min(511);
        if end <= base || first > last {
            return;
        }
        for i in first as usize..last as usize + 1 {
            if level == 3 && i >= KERNEL_PML4_FIRST {
                break;
            }
            let e = mem.read_pte(table, i);
            if e & PTE_P == 0 {
                continue;
            }
            let lo = base + i as u64 * span;
            if level == stop {
                f(lo, e, table);
            } else {
                self.walk(mem, e & PTE_ADDR, level - 1, lo, start, end, stop, f);
            }
        }
    }

    /// Tear the user half down (the address space is not loaded anywhere): drop
    /// this space's reference to each page table (the last user of a table
    /// releases the pages it maps), then free the upper tables and the PML4.
    /// The tables freed here are freed zero where that is cheap (see
    /// [`CLEAR_MAX`] and [`Self::destroy_upper`]).
    pub fn destroy(mut self, mem: &impl PhysMem) {
        self.release_deferred(mem);
        let pts = core::mem::take(&mut self.pts);
        let clear_pds = pts.len() <= CLEAR_MAX;
        let mut freed = FreedTables::new();
        for (base, t) in pts {
            if clear_pds {
                self.clear_pd_entry(mem, base);
            }
            if mem.table_put_last(t) {
                let mut present = 0;
                for j in 0..512 {
                    let pte = mem.read_pte(t, j);
                    if pte & PTE_P != 0 {
                        if present < CLEAR_MAX {
                            mem.write_pte(t, j, 0);
                        }
                        present += 1;
                        mem.page_put(pte & PTE_ADDR);
                    }
                }
                if present <= CLEAR_MAX {
                    freed.push(t);
                } else {
                    mem.free_table(t);
                }
            }
        }
        self.destroy_upper(mem, freed, clear_pds);
    }

    /// [`Self::destroy`] for an address space whose pages all lie in `areas`
    /// (its VMAs, in address order, not overlapping): a page table's last user
    /// reads only the entries inside the areas instead of all 512 (entries
    /// outside them were cleared by munmap).
    pub fn destroy_within(
        &mut self,
        mem: &impl PhysMem,
        areas: impl IntoIterator<Item = (u64, u64)>,
    ) {
        self.release_deferred(mem);
        // Drop this space's reference to each table first: a table still shared
        // with another space costs one decrement and is never walked.
        let mut last = core::mem::take(&mut self.pts);
        let clear_pds = last.len() <= CLEAR_MAX;
        last.retain(|&(base, t)| {
            if clear_pds {
                self.clear_pd_entry(mem, base);
            }
            mem.table_put_last(t)
        });
        if !last.is_empty() {
            // `pts` names each table with the 2 MiB it maps: the entries the
            // areas cover are read straight from it, with no walk from the root,
            // and their pages dropped at once (the space is loaded nowhere).
            // Tables and areas both in address order: one pass over each (the
            // areas are not collected; a table may hold several, an area span
            // several tables). An area's entries are cleared as they are read
            // if it covers at most `CLEAR_MAX` of them; a table with one that
            // covers more is marked (bit 0 of its 2 MiB-aligned base) to be
            // freed as it is.
            last.sort_unstable_by_key(|&(base, _)| base);
            let mut first = 0;
            for (start, end) in areas {
                while first < last.len() && (last[first].0 & !1) + PT_SPAN <= start {
                    first += 1;
                }
                let mut i = first;
                while i < last.len() && last[i].0 < end {
                    let (tagged, t) = last[i];
                    let base = tagged & !1;
                    let (lo, hi) = (start.max(base), end.min(base + PT_SPAN));
                    let clear = tagged == base && (hi - lo) >> 12 <= CLEAR_MAX as u64;
                    for j in index(lo, 0)..index(hi - 1, 0) + 1 {
                        let pte = mem.read_pte(t, j);
                        if pte & PTE_P != 0 {
                            if clear {
                                mem.write_pte(t, j, 0);
                            }
                            mem.page_put(pte & PTE_ADDR);
                        }
                    }
                    if !clear {
                        last[i].0 = base | 1;
                    }
                    i += 1;
                }
            }
        }
        let mut freed = FreedTables::new();
        for &(tagged, t) in &last {
            if tagged & 1 == 0 {
                freed.push(t);
            } else {
                mem.free_table(t);
            }
        }
        self.destroy_upper(mem, freed, clear_pds);
    }

    /// Clear the entry of this space's own page directory that points at the
    /// page table mapping `base`.
    fn clear_pd_entry(&self, mem: &impl PhysMem, base: u64) {
        if let Some(pd) = self.pd_for(mem, base) {
            mem.write_pte(pd, index(base, 1), 0);
        }
    }

    /// The end of a teardown whose page tables are gone (and, with
    /// `pds_cleared`, whose directory entries for them are cleared:
    /// [`Self::clear_pd_entry`]): drop the shared directories, then clear the
    /// entries this space set in its upper tables, lowest level first (each
    /// clear finds its table from the root), so that they and the root are
    /// freed zero with `freed`. Where ring 0 is emulated, a table taken zero
    /// saves the 512 `rep stosq` steps of zeroing it: a fork's four tables
    /// once the never-used frames are gone.
    ///
    /// Through `&mut self` (the space is left empty, its root 0), not by
    /// value: a `PageTable` moved is 240 bytes copied, a `rep movs` that costs
    /// where ring 0 is emulated.
    fn destroy_upper(&mut self, mem: &impl PhysMem, mut freed: FreedTables, pds_cleared: bool) {
        debug_assert!(self.pts.is_empty());
        if self.root == 0 {
            mem.free_zeroed_tables(&freed);
            return;
        }
        let pdpt_of = |va: u64| mem.read_pte(self.root, index(va, 3)) & PTE_ADDR;
        for &(va, _) in self.pds.iter().chain(self.shared_pds.iter()) {
            mem.write_pte(pdpt_of(va), index(va, 2), 0);
        }
        Self::put_shared_dirs(mem, core::mem::take(&mut self.shared_pds));
        for &(_, d) in &self.pds {
            if pds_cleared {
                freed.push(d);
            } else {
                mem.free_table(d);
            }
        }
        for &(va, t) in &self.pdpts {
            mem.write_pte(self.root, index(va, 3), 0);
            freed.push(t);
        }
        for &i in self.kernel_slots {
            mem.write_pte(self.root, i, 0);
        }
        freed.push(self.root);
        mem.free_zeroed_tables(&freed);
        self.pds.clear();
        self.pdpts.clear();
        self.root = 0;
    }

    /// Drop this space's reference to each shared page directory (the last
    /// user releases it, see [`Zapped::dirs`]).
    fn put_shared_dirs(mem: &impl PhysMem, dirs: alloc::vec::Vec<(u64, u64)>) {
        let last = dirs.into_iter().map(|(_, d)| d).filter(|&d| mem.table_put_last(d)).collect();
        Zapped { dirs: last, ..Zapped::default() }.release(mem);
    }

    /// Page tables this space uses (for tests and counters).
    pub fn page_tables(&self) -> usize {
        self.pts.len()
    }

    /// Room for `n` more page tables in the list of them, ahead of a fork
    /// that will give this space about as many as its parent has (the list
    /// would otherwise grow, and be copied, two or three times). A failed
    /// reservation is no error: the list grows as before.
    pub fn reserve_tables(&mut self, n: usize) {
        let _ = self.pts.try_reserve_exact(n);
    }
}

/// The 2 MiB blocks (sorted) that private anonymous areas cover only in
/// part and no other kind of area touches, from `(start, end, shareable)`
/// areas (non-empty, not overlapping, in address order): fork shares their
/// page tables too. Measured both ways (forkbench, ring-0 instructions per
/// operation on kvm_pvm): fork+exit+wait 25,571 -> 23,010, fork+execve+wait
/// 56,276 -> 53,616, a COW fault run of 64 pages 14,743 -> 15,285 (its first
/// write copies a whole table of 512 entries, not just the area's).
///
/// In address order the blocks come in order too, so a block can only repeat
/// the one before it: one pass, and one allocation for the result.
pub fn partly_covered_tables(
    areas: impl Iterator<Item = (u64, u64, bool)>,
) -> alloc::vec::Vec<u64> {
    let mut blocks = alloc::vec::Vec::new();
    let mut last: Option<(u64, bool)> = None;
    for (start, end, shareable) in areas {
        for b in [start & !(PT_SPAN - 1), (end - 1) & !(PT_SPAN - 1)] {
            if start <= b && b + PT_SPAN <= end {
                continue;
            }
            match &mut last {
                Some((x, ok)) if *x == b => *ok &= shareable,
                _ => {
                    debug_assert!(last.is_none_or(|(x, _)| x < b), "areas out of order");
                    if let Some((x, true)) = last {
                        blocks.push(x);
                    }
                    last = Some((b, shareable));
                }
            }
        }
    }
    if let Some((x, true)) = last {
        blocks.push(x);
    }
    blocks
}

/// `[start, end)` (not empty) lies inside one 2 MiB block: one page table at
/// most maps it.
fn in_one_block(start: u64, end: u64) -> bool {
    (end - 1) & !(PT_SPAN - 1) == start & !(PT_SPAN - 1)
}

/// An area as a fork sees it: its range, whether it is a shared mapping,
/// private anonymous memory, and writable.
#[derive(Clone, Copy, Debug)]
pub struct ForkArea {
    pub start: u64,
    pub end: u64,
    pub shared: bool,
    pub anon: bool,
    pub writable: bool,
}

/// One step of a fork's copy of an address space (Linux `dup_mmap`'s walk of
/// the areas and `copy_page_range`'s of each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkStep {
    /// Share each page table named here (`partly_covered_tables`).
    SharePartialTable(u64),
    /// A shared mapping: its entries are not copied (Linux
    /// `vma_needs_copy`), and the child does not count its pages.
    SkipShared { start: u64, end: u64 },
    /// Share the page directories the parent has in `[start, end)` (whole
    /// GiBs of a private anonymous area).
    ShareDirs { start: u64, end: u64 },
    /// Share the page tables the parent has in `[start, end)` (whole 2 MiB
    /// blocks of a private anonymous area).
    ShareTables { start: u64, end: u64 },
    /// Copy the entries of `[start, end)` one by one, write-protected in
    /// both spaces if `cow`.
    CopyEntries { start: u64, end: u64, cow: bool },
}

/// What a fork does, step by step, for the areas `areas` gives (in address
/// order, not overlapping; read twice): it depends on the areas alone, so an
/// address space keeps it while they stay the same and forks again without
/// walking them. First the partly covered tables, then per area: a shared
/// mapping is skipped; a private anonymous one has its whole page
/// directories, then its whole page tables shared, and the rest of it copied
/// entry by entry; any other private area is copied entry by entry. Entries
/// in a shared partly covered table are not copied again.
pub fn fork_plan<I: Iterator<Item = ForkArea>>(areas: impl Fn() -> I) -> alloc::vec::Vec<ForkStep> {
    let partial = partly_covered_tables(areas().map(|a| (a.start, a.end, !a.shared && a.anon)));
    let mut steps: alloc::vec::Vec<ForkStep> =
        partial.iter().map(|&b| ForkStep::SharePartialTable(b)).collect();
    for a in areas() {
        let (start, end) = (a.start, a.end);
        if a.shared {
            steps.push(ForkStep::SkipShared { start, end });
            continue;
        }
        let lo = start.next_multiple_of(PT_SPAN);
        let hi = end & !(PT_SPAN - 1);
        let blocks = a.anon && lo < hi;
        let (dlo, dhi) = (start.next_multiple_of(PD_SPAN), end & !(PD_SPAN - 1));
        let dirs = blocks && dlo < dhi;
        if dirs {
            steps.push(ForkStep::ShareDirs { start: dlo, end: dhi });
        }
        let tables = if dirs { [(lo, dlo), (dhi, hi)] } else { [(lo, hi), (hi, hi)] };
        for (a, b) in tables.into_iter().filter(|&(a, b)| blocks && a < b) {
            steps.push(ForkStep::ShareTables { start: a, end: b });
        }
        let edges = if blocks { [(start, lo), (hi, end)] } else { [(start, end), (end, end)] };
        for (s, e) in edges.into_iter().filter(|(s, e)| s < e) {
            if partial.binary_search(&(s & !(PT_SPAN - 1))).is_err() {
                steps.push(ForkStep::CopyEntries { start: s, end: e, cow: a.writable });
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Default)]
    struct FakeMem {
        frames: RefCell<BTreeMap<u64, [u64; 512]>>,
        next: RefCell<u64>,
        freed: RefCell<BTreeSet<u64>>,
        table_refs: RefCell<BTreeMap<u64, u32>>,
        page_refs: RefCell<BTreeMap<u64, i64>>,
        /// What the next `table_users` answers instead of the truth (a
        /// count that another address space changes right after it is read).
        stale_users: RefCell<Option<u32>>,
        /// Tables freed through `free_zeroed_tables` (checked zero).
        zero_frees: RefCell<u64>,
    }

    impl PhysMem for FakeMem {
        fn read_pte(&self, t: u64, i: usize) -> u64 {
            self.frames.borrow()[&t][i]
        }
        fn write_pte(&self, t: u64, i: usize, v: u64) {
            self.frames.borrow_mut().get_mut(&t).unwrap()[i] = v;
        }
        fn alloc_table(&self) -> Option<u64> {
            let mut n = self.next.borrow_mut();
            *n += 0x1000;
            self.frames.borrow_mut().insert(*n, [0; 512]);
            self.table_refs.borrow_mut().insert(*n, 1);
            Some(*n)
        }
        fn free_zeroed_tables(&self, tables: &[u64]) {
            for &t in tables {
                assert!(
                    self.frames.borrow()[&t].iter().all(|&e| e == 0),
                    "table {t:#x} freed as zero with entries set"
                );
                *self.zero_frees.borrow_mut() += 1;
                self.free_table(t)
            }
        }
        fn free_table(&self, t: u64) {
            assert!(self.freed.borrow_mut().insert(t), "double free of {t:#x}");
            assert_eq!(self.table_refs.borrow_mut().remove(&t), Some(1), "freed while shared");
            self.frames.borrow_mut().remove(&t);
        }
        fn table_get(&self, t: u64) {
            *self.table_refs.borrow_mut().get_mut(&t).unwrap() += 1;
        }
        fn table_put_last(&self, t: u64) -> bool {
            let mut refs = self.table_refs.borrow_mut();
            let n = refs.get_mut(&t).unwrap();
            if *n == 1 {
                return true;
            }
            *n -= 1;
            false
        }
        fn table_users(&self, t: u64) -> u32 {
            self.stale_users.borrow_mut().take().unwrap_or_else(|| self.table_refs.borrow()[&t])
        }
        fn page_get(&self, f: u64) {
            *self.page_refs.borrow_mut().entry(f).or_insert(0) += 1;
        }
        fn page_put(&self, f: u64) {
            let mut refs = self.page_refs.borrow_mut();
            let n = refs.get_mut(&f).expect("a page with references");
            *n -= 1;
            assert!(*n >= 0, "page {f:#x} put once too often");
        }
    }

    impl FakeMem {
        fn page_refs(&self, f: u64) -> i64 {
            self.page_refs.borrow().get(&f).copied().unwrap_or(0)
        }
        /// A data page with one reference, as the frame allocator hands it out.
        fn new_page(&self, f: u64) -> u64 {
            self.page_get(f);
            f
        }
    }

    fn new_space(mem: &FakeMem) -> PageTable {
        PageTable::new(mem, 0, &[]).unwrap()
    }

    #[test]
    fn map_lookup_zap_and_destroy() {
        let mem = FakeMem::default();
        let kernel = mem.alloc_table().unwrap();
        mem.write_pte(kernel, 273, 0x5000 | PTE_P);
        let mut pt = PageTable::new(&mem, kernel, &[273]).unwrap();
        assert_eq!(mem.read_pte(pt.root, 273), 0x5000 | PTE_P, "kernel half shared");
        let va = 0x40_1000;
        assert_eq!(pt.lookup(&mem, va), 0);
        let p9 = mem.new_page(0x9_0000);
        assert_eq!(pt.set(&mem, va, p9 | PTE_P | PTE_US), Some(0));
        assert_eq!(pt.lookup(&mem, va), p9 | PTE_P | PTE_US);
        pt.set(&mem, 0x7fff_ffff_e000, mem.new_page(0xa_0000) | PTE_P).unwrap();
        let mut seen = Vec::new();
        pt.for_each_leaf(&mem, 0, 1 << 47, |va, pte| seen.push((va, pte & PTE_ADDR)));
        assert_eq!(seen, vec![(0x40_1000, 0x9_0000), (0x7fff_ffff_e000, 0xa_0000)]);
        let mut seen = Vec::new();
        pt.for_each_leaf(&mem, 0x40_2000, 1 << 47, |va, _| seen.push(va));
        assert_eq!(seen, vec![0x7fff_ffff_e000]);
        // Ranges that end at, start at, or cut through a mapped page.
        let mut seen = Vec::new();
        pt.for_each_leaf(&mem, 0x40_0000, 0x40_1000, |va, _| seen.push(va));
        assert!(seen.is_empty(), "the end is exclusive");
        pt.for_each_leaf(&mem, 0x40_1000, 0x40_1001, |va, _| seen.push(va));
        pt.for_each_leaf(&mem, 0x40_1fff, 0x40_3000, |va, _| seen.push(va));
        assert_eq!(seen, vec![0x40_1000, 0x40_1000]);
        // A partial zap clears the entry and hands the page back.
        let z = pt.zap_range(&mem, va, va + 0x1000).unwrap();
        assert_eq!(z, Zapped { pages: vec![0x9_0000], ..Zapped::default() });
        z.release(&mem);
        assert_eq!((pt.lookup(&mem, va), mem.page_refs(0x9_0000)), (0, 0));
        assert_eq!(pt.zap_range(&mem, 0x1234_5000, 0x1234_6000), Some(Zapped::default()));
        let tables = mem.frames.borrow().len();
        pt.destroy(&mem);
        // Root, and two chains of PDPT/PD/PT (one per user address), are freed,
        // and the page still mapped is released; the kernel's table stays.
        assert_eq!(mem.freed.borrow().len(), tables - 1);
        assert!(mem.frames.borrow().contains_key(&kernel));
        assert_eq!(mem.page_refs(0xa_0000), 0);
        // Each of them freed zero (the kernel entry of the root cleared too).
        assert_eq!(*mem.zero_frees.borrow(), tables as u64 - 1);
    }

    /// A parent with a writable and a read-only page in one 2 MiB table, and a
    /// child sharing that table.
    fn forked(mem: &FakeMem) -> (PageTable, PageTable, u64) {
        let mut parent = new_space(mem);
        parent.set(mem, 0x40_0000, mem.new_page(0x10_0000) | PTE_P | PTE_RW | PTE_US).unwrap();
        parent.set(mem, 0x40_1000, mem.new_page(0x11_0000) | PTE_P | PTE_US).unwrap();
        let mut child = new_space(mem);
        assert_eq!(child.share_pt_from(&mut parent, mem, 0x40_0000), Some(true));
        assert_eq!(child.share_pt_from(&mut parent, mem, 0x60_0000), Some(false), "no table");
        let table = parent.pt_for(mem, 0x40_0000).unwrap();
        (parent, child, table)
    }

    #[test]
    fn fill_maps_absent_pages_across_tables_and_stops_when_memory_runs_out() {
        let mem = FakeMem::default();
        let mut pt = new_space(&mem);
        let first = mem.new_page(0x50_0000);
        pt.set(&mem, 0x3f_f000, first | PTE_P).unwrap();
        let mut next = 0x100_0000u64;
        let mut make = || {
            next += 0x1000;
            Some(mem.new_page(next) | PTE_P | PTE_RW)
        };
        // 0x3f_e000..0x40_2000 crosses a table boundary; one page is present.
        assert_eq!(pt.fill(&mem, 0x3f_e000, 0x40_2000, &mut make), 3);
        assert_eq!(pt.lookup(&mem, 0x3f_f000), first | PTE_P, "present pages kept");
        assert_eq!(pt.lookup(&mem, 0x40_1000) & PTE_ADDR, 0x100_3000);
        let mut budget = 2;
        let n = pt.fill(&mem, 0x80_0000, 0x80_8000, || {
            budget -= 1;
            (budget >= 0).then_some(0x200_0000 | PTE_P)
        });
        assert_eq!(n, 2);
        assert_eq!(pt.lookup(&mem, 0x80_2000), 0);
    }

    #[test]
    fn copy_range_write_protects_both_and_takes_page_references() {
        let mem = FakeMem::default();
        let mut parent = new_space(&mem);
        parent.set(&mem, 0x40_0000, mem.new_page(0x10_0000) | PTE_P | PTE_RW).unwrap();
        parent.set(&mem, 0x40_1000, mem.new_page(0x11_0000) | PTE_P).unwrap();
        parent.set(&mem, 0x60_0000, mem.new_page(0x12_0000) | PTE_P | PTE_RW).unwrap();
        let mut child = new_space(&mem);
        let mut seen = Vec::new();
        let r = child.copy_range_from(&mut parent, &mem, 0x40_0000, 0x60_1000, true, |f| {
            seen.push(f);
            true
        });
        assert_eq!(r, Ok(true));
        assert_eq!(seen, vec![0x10_0000, 0x11_0000, 0x12_0000]);
        for (va, f) in [(0x40_0000, 0x10_0000), (0x40_1000, 0x11_0000), (0x60_0000, 0x12_0000)] {
            assert_eq!(parent.lookup(&mem, va), f | PTE_P, "{va:#x}: read-only in the parent");
            assert_eq!(child.lookup(&mem, va), f | PTE_P, "{va:#x}: and in the child");
            assert_eq!(mem.page_refs(f), 2);
        }
        // Without `cow` (a shared or read-only area) entries are copied as they are;
        // a refused entry stops the copy.
        let mut other = new_space(&mem);
        parent.set(&mem, 0x80_0000, mem.new_page(0x13_0000) | PTE_P | PTE_RW).unwrap();
        assert_eq!(
            other.copy_range_from(&mut parent, &mem, 0x80_0000, 0x80_1000, false, |_| true),
            Ok(false)
        );
        assert_eq!(other.lookup(&mem, 0x80_0000), 0x13_0000 | PTE_P | PTE_RW);
        // Where the parent has no table (one block, or several), or the
        // range is empty, nothing is copied and neither space gains a table.
        let tables = (parent.page_tables(), other.page_tables());
        for (start, end) in [(0xa0_0000, 0xa0_1000), (0xa0_0000, 0xe0_1000), (0x40_0000, 0x40_0000)]
        {
            let r = other.copy_range_from(&mut parent, &mem, start, end, true, |_| true);
            assert_eq!(r, Ok(false), "{start:#x}..{end:#x}");
        }
        assert_eq!((parent.page_tables(), other.page_tables()), tables);
        assert_eq!(
            other.copy_range_from(&mut parent, &mem, 0x40_0000, 0x40_2000, true, |_| false),
            Err(false)
        );
        for pt in [child, other, parent] {
            pt.destroy(&mem);
        }
        for f in [0x10_0000, 0x11_0000, 0x12_0000, 0x13_0000] {
            assert_eq!(mem.page_refs(f), 0, "{f:#x}");
        }
    }

    #[test]
    fn destroy_within_areas_releases_the_same_pages() {
        let mem = FakeMem::default();
        let (mut parent, mut child, table) = forked(&mem);
        parent.set(&mem, 0x7f_f000, mem.new_page(0x14_0000) | PTE_P).unwrap();
        // The child's view of the shared table goes with one decrement.
        child.destroy_within(&mem, [(0x40_0000, 0x40_2000)]);
        assert_eq!(mem.table_users(table), 1);
        assert_eq!(mem.page_refs(0x10_0000), 1);
        // The last user releases exactly the pages inside its areas.
        let areas = [(0x40_0000, 0x40_2000), (0x7f_f000, 0x80_0000)];
        parent.destroy_within(&mem, areas);
        for p in [0x10_0000, 0x11_0000, 0x14_0000] {
            assert_eq!(mem.page_refs(p), 0, "{p:#x}");
        }
        assert!(mem.table_refs.borrow().is_empty(), "every table freed");
        // All zero: two roots, PDPTs and PDs, the shared table and the
        // parent's second one (`free_zeroed_tables` checks each).
        assert_eq!(*mem.zero_frees.borrow(), 8);
    }

    #[test]
    fn update_range_visits_each_page_once_across_tables() {
        let mem = FakeMem::default();
        let mut pt = new_space(&mem);
        // Unaligned ends, across a 2 MiB boundary: the pages touched.
        let (start, end) = (PT_SPAN - 0x1800, PT_SPAN + 0x10);
        let mut seen = Vec::new();
        let r: Result<(), i32> = pt.update_range(&mem, start, end, -1, |va, old| {
            assert_eq!(old, 0);
            seen.push(va);
            Ok((va != PT_SPAN - 0x1000).then(|| mem.new_page(va + 0x10_0000) | PTE_P))
        });
        assert_eq!(r, Ok(()));
        assert_eq!(seen, [PT_SPAN - 0x2000, PT_SPAN - 0x1000, PT_SPAN]);
        assert_eq!(pt.lookup(&mem, PT_SPAN - 0x2000), (PT_SPAN + 0xf_e000) | PTE_P);
        assert_eq!(pt.lookup(&mem, PT_SPAN - 0x1000), 0, "left as it was");
        assert_eq!(pt.lookup(&mem, PT_SPAN), (PT_SPAN + 0x10_0000) | PTE_P);
        // The second pass sees the entries; an error stops it where it is.
        let mut n = 0;
        let r = pt.update_range(&mem, start, end, -1, |_, old| {
            n += 1;
            if old == 0 {
                Err(7)
            } else {
                Ok(None)
            }
        });
        assert_eq!((r, n), (Err(7), 2));
        // Nothing for an empty range.
        assert_eq!(pt.update_range(&mem, 0x5000, 0x5000, -1, |_, _| Err(1)), Ok(()));
        pt.destroy(&mem);
        assert!(mem.table_refs.borrow().is_empty(), "every table freed");
        // A table shared by fork is unshared before its entries are written.
        let (parent, mut child, table) = forked(&mem);
        let r: Result<(), i32> =
            child.update_range(&mem, 0x40_0000, 0x40_1000, -1, |_, old| Ok(Some(old & !PTE_RW)));
        assert_eq!(r, Ok(()));
        assert_ne!(child.pt_for(&mem, 0x40_0000), Some(table));
        assert_eq!(child.lookup(&mem, 0x40_0000), 0x10_0000 | PTE_P | PTE_US);
        assert_eq!(parent.lookup(&mem, 0x40_0000) & PTE_ADDR, 0x10_0000);
        assert_eq!(parent.pt_for(&mem, 0x40_0000), Some(table));
        child.destroy(&mem);
        parent.destroy(&mem);
        assert!(mem.table_refs.borrow().is_empty(), "every table freed");
    }

    #[test]
    fn fork_shares_a_page_table_read_only_in_both() {
        let mem = FakeMem::default();
        let (parent, child, table) = forked(&mem);
        assert_eq!(child.pt_for(&mem, 0x40_0000), Some(table), "the same table");
        assert!(parent.is_shared(&mem, 0x40_0000) && child.is_shared(&mem, 0x40_1000));
        assert_eq!(mem.table_users(table), 2);
        // Leaves are untouched, and the pages keep one reference (the table's).
        assert_eq!(child.lookup(&mem, 0x40_0000), 0x10_0000 | PTE_P | PTE_RW | PTE_US);
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (1, 1));
        // The child goes: the parent keeps the table, its pages stay.
        child.destroy(&mem);
        assert_eq!(mem.table_users(table), 1);
        assert_eq!(mem.page_refs(0x10_0000), 1);
        parent.destroy(&mem);
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (0, 0));
        assert!(mem.table_refs.borrow().is_empty(), "every table freed");
    }

    #[test]
    fn the_first_write_unshares_and_the_last_user_takes_the_table_back() {
        let mem = FakeMem::default();
        let (mut parent, mut child, table) = forked(&mem);
        // The child maps a new page into the shared range: it gets a private
        // copy whose writable entries are write-protected, in both copies.
        child.set(&mem, 0x40_2000, mem.new_page(0x12_0000) | PTE_P | PTE_RW).unwrap();
        let copy = child.pt_for(&mem, 0x40_0000).unwrap();
        assert_ne!(copy, table);
        assert!(!child.is_shared(&mem, 0x40_0000));
        assert_eq!(child.lookup(&mem, 0x40_0000), 0x10_0000 | PTE_P | PTE_US, "COW now");
        assert_eq!(parent.lookup(&mem, 0x40_0000), 0x10_0000 | PTE_P | PTE_US);
        assert_eq!(parent.lookup(&mem, 0x40_2000), 0, "the new page is the child's");
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (2, 2));
        assert_eq!(mem.table_users(table), 1);
        // The parent is the table's last user: its next change takes the table
        // back without a copy.
        assert!(parent.is_shared(&mem, 0x40_0000));
        assert_eq!(parent.unshare_range(&mem, 0x40_0000, 0x40_1000), Some(1));
        assert_eq!(parent.pt_for(&mem, 0x40_0000), Some(table));
        assert!(!parent.is_shared(&mem, 0x40_0000));
        child.destroy(&mem);
        parent.destroy(&mem);
        for p in [0x10_0000, 0x11_0000, 0x12_0000] {
            assert_eq!(mem.page_refs(p), 0, "{p:#x}");
        }
        assert!(mem.table_refs.borrow().is_empty());
    }

    #[test]
    fn a_table_whose_last_user_unshares_it_is_freed_only_after_the_flush() {
        let mem = FakeMem::default();
        let (mut parent, child, table) = forked(&mem);
        // The child drops its use while the parent unshares: the parent saw
        // two users (so it copies), and is the last one when it lets go.
        child.destroy(&mem);
        *mem.stale_users.borrow_mut() = Some(2);
        assert_eq!(parent.unshare_range(&mem, 0x40_0000, 0x40_1000), Some(1));
        let copy = parent.pt_for(&mem, 0x40_0000).unwrap();
        assert_ne!(copy, table);
        assert!(!mem.freed.borrow().contains(&table), "not freed before the TLB flush");
        assert_eq!(mem.page_refs(0x10_0000), 2, "the old table's reference still held");
        parent.release_deferred(&mem);
        assert!(mem.freed.borrow().contains(&table), "freed after it");
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (1, 1));
        parent.destroy(&mem);
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (0, 0));
        assert!(mem.table_refs.borrow().is_empty(), "every table freed once");
    }

    #[test]
    fn zapping_a_shared_table_detaches_or_unshares_it() {
        let mem = FakeMem::default();
        let (mut parent, mut child, table) = forked(&mem);
        // Wholly covered: the child drops its reference, nothing else changes.
        let z = child.zap_range(&mem, 0x40_0000, 0x60_0000).unwrap();
        assert_eq!(z, Zapped::default());
        assert_eq!(child.lookup(&mem, 0x40_0000), 0);
        assert_eq!(child.page_tables(), 0);
        assert_eq!(mem.table_users(table), 1);
        assert_eq!(parent.lookup(&mem, 0x40_1000), 0x11_0000 | PTE_P | PTE_US);
        // A grandchild shares the parent's table again; the parent unmaps one
        // page of it: the parent unshares first, the grandchild keeps its view.
        let mut grandchild = new_space(&mem);
        grandchild.share_pt_from(&mut parent, &mem, 0x40_0000).unwrap();
        let z = parent.zap_range(&mem, 0x40_1000, 0x40_2000).unwrap();
        assert_eq!(z.pages, vec![0x11_0000]);
        z.release(&mem);
        assert_eq!(parent.lookup(&mem, 0x40_1000), 0);
        assert_eq!(grandchild.lookup(&mem, 0x40_1000), 0x11_0000 | PTE_P | PTE_US);
        assert_eq!(mem.page_refs(0x11_0000), 1, "the grandchild's table's reference");
        // The last user of a table unmapping it whole releases its pages.
        let z = grandchild.zap_range(&mem, 0, 1 << 47).unwrap();
        assert_eq!(
            (z.pages.len(), &z.tables, z.pages.contains(&0x11_0000)),
            (2, &vec![table], true)
        );
        z.release(&mem);
        grandchild.destroy(&mem);
        child.destroy(&mem);
        parent.destroy(&mem);
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (0, 0));
        assert!(mem.table_refs.borrow().is_empty());
    }

    const GIB: u64 = PD_SPAN;

    #[test]
    fn share_pts_from_shares_the_tables_named_across_directories() {
        let mem = FakeMem::default();
        let mut parent = new_space(&mem);
        // Tables at the second GiB's last block and the third's first two;
        // the block before them has none.
        let blocks = [GIB - PT_SPAN, GIB, GIB + PT_SPAN];
        for (k, &b) in blocks.iter().enumerate() {
            let page = mem.new_page(0x10_0000 + k as u64 * 0x1000);
            parent.set(&mem, b + 0x3000, page | PTE_P | PTE_RW | PTE_US).unwrap();
        }
        let tables: Vec<u64> = blocks.iter().map(|&b| parent.pt_for(&mem, b).unwrap()).collect();
        let present = parent.present_tables(&mem, GIB - 2 * PT_SPAN, GIB + 2 * PT_SPAN);
        assert_eq!(present, blocks);
        let mut child = new_space(&mem);
        let mut asked = 0;
        // An absent block among them is passed over.
        let with_absent = [GIB - 2 * PT_SPAN, GIB - PT_SPAN, GIB, GIB + PT_SPAN];
        let r = child.share_listed_pts_from(&mut parent, &mem, &with_absent, || {
            asked += 1;
            true
        });
        assert_eq!((r, asked), (Ok(3), 3), "each present table once, none for the absent");
        for (&b, &t) in blocks.iter().zip(&tables) {
            assert_eq!(mem.table_users(t), 2);
            assert_eq!(child.lookup(&mem, b + 0x3000), parent.lookup(&mem, b + 0x3000));
            for space in [&parent, &child] {
                let f = space.fault_entry(&mem, b + 0x3000);
                assert!(f.shared && f.own_pt.is_none(), "{b:#x}: read-only in both");
            }
        }
        assert_eq!(child.page_tables(), 3);
        // Refused at the second table: the first stays shared and recorded,
        // and the teardown gives every reference back.
        let mut grandchild = new_space(&mem);
        let mut n = 0;
        let r = grandchild.share_listed_pts_from(&mut parent, &mem, &present, || {
            n += 1;
            n < 2
        });
        assert_eq!((r, grandchild.page_tables()), (Err(1), 1));
        assert_eq!(mem.table_users(tables[0]), 3);
        // Every block of a range looked at: the same tables.
        let mut other = new_space(&mem);
        let mut asked = 0;
        let range = (GIB - 2 * PT_SPAN, GIB + 2 * PT_SPAN);
        let r = other.share_pts_from(&mut parent, &mem, range, || {
            asked += 1;
            true
        });
        assert_eq!((r, asked), (Ok(3), 3));
        assert_eq!(other.present_tables(&mem, range.0, range.1), present);
        for pt in [other, grandchild, child] {
            pt.destroy(&mem);
        }
        for &t in &tables {
            assert_eq!(mem.table_users(t), 1);
        }
        parent.destroy(&mem);
        assert!(mem.table_refs.borrow().is_empty(), "every table freed");
    }

    /// A parent with a writable and a read-only page in two page tables of the
    /// second GiB and a page in the third, and a child sharing the second
    /// GiB's page directory.
    fn forked_dir(mem: &FakeMem) -> (PageTable, PageTable, u64) {
        let mut parent = new_space(mem);
        parent.set(mem, GIB, mem.new_page(0x10_0000) | PTE_P | PTE_RW | PTE_US).unwrap();
        parent.set(mem, GIB + PT_SPAN, mem.new_page(0x11_0000) | PTE_P | PTE_US).unwrap();
        parent.set(mem, 2 * GIB, mem.new_page(0x12_0000) | PTE_P | PTE_RW).unwrap();
        assert_eq!(parent.page_tables(), 3);
        let mut child = new_space(mem);
        assert_eq!(child.share_pd_from(&mut parent, mem, GIB), Some(true));
        assert_eq!(child.share_pd_from(&mut parent, mem, 3 * GIB), Some(false), "no directory");
        let dir = parent.pd_for(mem, GIB).unwrap();
        (parent, child, dir)
    }

    fn all_released(mem: &FakeMem, pages: &[u64]) {
        for &p in pages {
            assert_eq!(mem.page_refs(p), 0, "{p:#x}");
        }
        assert!(mem.table_refs.borrow().is_empty(), "every table freed once");
    }

    #[test]
    fn fork_shares_a_page_directory_read_only_in_both() {
        let mem = FakeMem::default();
        let (parent, child, dir) = forked_dir(&mem);
        assert_eq!(child.pd_for(&mem, GIB), Some(dir), "the same directory");
        assert_eq!(mem.table_users(dir), 2);
        for space in [&parent, &child] {
            assert!(space.dir_is_shared(&mem, GIB) && space.is_shared(&mem, GIB + PT_SPAN));
            assert_eq!(space.lookup(&mem, GIB), 0x10_0000 | PTE_P | PTE_RW | PTE_US);
        }
        // The references to its tables pass from the parent to the directory.
        assert_eq!((parent.page_tables(), child.page_tables()), (1, 0));
        assert!(!parent.is_shared(&mem, 2 * GIB) && child.lookup(&mem, 2 * GIB) == 0);
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (1, 1));
        // The parent goes first: the child keeps everything, and is the last.
        parent.destroy(&mem);
        assert_eq!(mem.table_users(dir), 1);
        assert_eq!(child.lookup(&mem, GIB + PT_SPAN), 0x11_0000 | PTE_P | PTE_US);
        assert_eq!(mem.page_refs(0x12_0000), 0);
        child.destroy(&mem);
        all_released(&mem, &[0x10_0000, 0x11_0000]);
    }

    #[test]
    fn the_first_write_copies_the_directory_and_the_last_user_takes_it_back() {
        let mem = FakeMem::default();
        let (mut parent, mut child, dir) = forked_dir(&mem);
        let table = parent.pt_for(&mem, GIB).unwrap();
        // The child maps a page next to the first one: it copies the
        // directory (each table now shared by two directories), then the
        // table it writes to.
        child.set(&mem, GIB + 0x2000, mem.new_page(0x13_0000) | PTE_P | PTE_RW).unwrap();
        assert_ne!(child.pd_for(&mem, GIB), Some(dir));
        assert!(!child.dir_is_shared(&mem, GIB) && !child.is_shared(&mem, GIB));
        assert!(child.is_shared(&mem, GIB + PT_SPAN), "the other table is shared");
        assert_eq!(child.lookup(&mem, GIB), 0x10_0000 | PTE_P | PTE_US, "COW now");
        assert_eq!(parent.lookup(&mem, GIB), 0x10_0000 | PTE_P | PTE_US);
        assert_eq!(parent.lookup(&mem, GIB + 0x2000), 0, "the new page is the child's");
        assert_eq!(mem.table_users(dir), 1);
        assert_eq!(mem.table_users(table), 1, "the child copied it");
        assert_eq!(mem.table_users(parent.pt_for(&mem, GIB + PT_SPAN).unwrap()), 2);
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (2, 1));
        // The parent is the directory's last user: it takes it back without a
        // copy, then the first table (its last user too).
        assert!(parent.dir_is_shared(&mem, GIB));
        assert_eq!(parent.unshare_range(&mem, GIB, GIB + 1), Some(2));
        assert_eq!((parent.pd_for(&mem, GIB), parent.pt_for(&mem, GIB)), (Some(dir), Some(table)));
        assert!(!parent.is_shared(&mem, GIB));
        assert_eq!(parent.page_tables(), 3);
        child.destroy(&mem);
        parent.destroy(&mem);
        all_released(&mem, &[0x10_0000, 0x11_0000, 0x12_0000, 0x13_0000]);
    }

    #[test]
    fn a_directory_whose_last_user_unshares_it_is_freed_only_after_the_flush() {
        let mem = FakeMem::default();
        let (mut parent, child, dir) = forked_dir(&mem);
        child.destroy(&mem);
        *mem.stale_users.borrow_mut() = Some(2);
        parent.set(&mem, GIB + 0x1000, mem.new_page(0x13_0000) | PTE_P).unwrap();
        assert_ne!(parent.pd_for(&mem, GIB), Some(dir));
        assert!(!mem.freed.borrow().contains(&dir), "not freed before the TLB flush");
        parent.release_deferred(&mem);
        assert!(mem.freed.borrow().contains(&dir), "freed after it");
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x11_0000)), (1, 1));
        parent.destroy(&mem);
        all_released(&mem, &[0x10_0000, 0x11_0000, 0x12_0000, 0x13_0000]);
    }

    #[test]
    fn zapping_a_shared_directory_detaches_or_unshares_it() {
        let mem = FakeMem::default();
        let (mut parent, mut child, dir) = forked_dir(&mem);
        // Wholly covered: the child drops its reference, nothing else changes.
        let z = child.zap_range(&mem, GIB, 2 * GIB).unwrap();
        assert_eq!(z, Zapped::default());
        assert_eq!(child.lookup(&mem, GIB), 0);
        assert_eq!(mem.table_users(dir), 1);
        assert_eq!(parent.lookup(&mem, GIB + PT_SPAN), 0x11_0000 | PTE_P | PTE_US);
        // A grandchild shares the directory again; the parent unmaps one page
        // of it: the parent copies the directory and the table, the grandchild
        // keeps its view.
        let mut grandchild = new_space(&mem);
        assert_eq!(grandchild.share_pd_from(&mut parent, &mem, GIB), Some(true));
        let z = parent.zap_range(&mem, GIB + PT_SPAN, GIB + PT_SPAN + 0x1000).unwrap();
        assert_eq!(z.pages, vec![0x11_0000]);
        z.release(&mem);
        assert_eq!(parent.lookup(&mem, GIB + PT_SPAN), 0);
        assert_eq!(grandchild.lookup(&mem, GIB + PT_SPAN), 0x11_0000 | PTE_P | PTE_US);
        assert_eq!(mem.page_refs(0x11_0000), 1, "the grandchild's table's reference");
        // The last user of the directory unmapping it whole releases it after
        // the flush, with its tables and pages.
        let z = grandchild.zap_range(&mem, 0, 1 << 47).unwrap();
        assert_eq!((z.pages.len(), z.tables.len(), &z.dirs), (0, 0, &vec![dir]));
        z.release(&mem);
        assert_eq!(mem.page_refs(0x11_0000), 0);
        assert_eq!(mem.page_refs(0x10_0000), 1, "the parent's copy still maps it");
        for space in [grandchild, child, parent] {
            space.destroy(&mem);
        }
        all_released(&mem, &[0x10_0000, 0x11_0000, 0x12_0000]);
    }

    /// `fault_entry` agrees with `lookup`, `is_shared` and the walk `set`
    /// does, for an absent table, an own table, a shared table and a shared
    /// directory; `set_own` writes where `set` would.
    #[test]
    fn fault_entry_is_lookup_is_shared_and_the_table_in_one_walk() {
        let mem = FakeMem::default();
        let (mut parent, child, table) = forked(&mem);
        let check = |pt: &PageTable, va: u64| {
            let f = pt.fault_entry(&mem, va);
            assert_eq!(f.pte, pt.lookup(&mem, va), "{va:#x}");
            assert_eq!(f.shared, pt.is_shared(&mem, va), "{va:#x}");
            assert_eq!(f.own_pt, if f.shared { None } else { pt.pt_for(&mem, va) }, "{va:#x}");
            f
        };
        for va in [0x40_0000, 0x40_1000, 0x7f_f000, 0x8000_0000, 0x7fff_ffff_f000] {
            check(&parent, va);
            check(&child, va);
        }
        assert!(check(&child, 0x40_0000).shared, "the forked table is shared");
        parent.set(&mem, 0x80_0000, mem.new_page(0x15_0000) | PTE_P).unwrap();
        let f = check(&parent, 0x80_1000);
        let own = f.own_pt.expect("a table of the parent's own");
        parent.set_own(&mem, own, 0x80_1000, mem.new_page(0x16_0000) | PTE_P);
        assert_eq!(parent.lookup(&mem, 0x80_1000), 0x16_0000 | PTE_P);
        assert_eq!(mem.table_users(table), 2);
        let (_, dir_child, _) = forked_dir(&mem);
        for va in [0x40_0000, GIB, GIB + 0x20_0000] {
            check(&dir_child, va);
        }
    }

    /// Tables made out of address order, an area over two of them and two
    /// areas in one: every page inside the areas goes, every table is freed.
    /// A table with more present entries than `CLEAR_MAX`, and a space with
    /// more page tables than that, are freed as they are (not cleared); the
    /// others are freed zero; every page is released either way.
    #[test]
    fn a_teardown_clears_entries_only_up_to_its_bound() {
        let mem = FakeMem::default();
        let mut pt = new_space(&mem);
        let full = CLEAR_MAX as u64 + 1;
        for i in 0..full {
            pt.set(&mem, 0x40_0000 + i * 0x1000, mem.new_page(0x100_0000 + i * 0x1000) | PTE_P)
                .unwrap();
        }
        pt.set(&mem, 0x80_0000, mem.new_page(0x200_0000) | PTE_P).unwrap();
        pt.destroy_within(&mem, [(0x40_0000, 0x40_0000 + full * 0x1000), (0x80_0000, 0x80_1000)]);
        assert!(mem.table_refs.borrow().is_empty(), "every table freed");
        assert_eq!(mem.page_refs(0x200_0000), 0);
        assert!((0..full).all(|i| mem.page_refs(0x100_0000 + i * 0x1000) == 0));
        // Root, PDPT, PD and the table with one page zero; the full one not.
        assert_eq!((mem.freed.borrow().len(), *mem.zero_frees.borrow()), (5, 4));

        let mem = FakeMem::default();
        let mut pt = new_space(&mem);
        let tables = CLEAR_MAX as u64 + 1;
        for i in 0..tables {
            pt.set(&mem, i * PT_SPAN, mem.new_page(0x100_0000 + i * 0x1000) | PTE_P).unwrap();
        }
        pt.destroy(&mem);
        assert!(mem.table_refs.borrow().is_empty(), "every table freed");
        // The directory keeps its entries; the tables, PDPT and root are zero.
        assert_eq!(mem.freed.borrow().len() as u64, tables + 3);
        assert_eq!(*mem.zero_frees.borrow(), tables + 2);
    }

    #[test]
    fn destroy_within_pairs_areas_and_tables_in_one_pass() {
        let mem = FakeMem::default();
        let kernel = mem.alloc_table().unwrap();
        let mut pt = PageTable::new(&mem, kernel, &[]).unwrap();
        let pages = [(0x60_1000, 0x10_0000), (0x40_0000, 0x11_0000), (0x20_0000, 0x12_0000)];
        let more = [(0x20_3000, 0x13_0000), (0x5f_f000, 0x14_0000)];
        for (va, f) in pages.into_iter().chain(more) {
            pt.set(&mem, va, mem.new_page(f) | PTE_P).unwrap();
        }
        let areas = [(0x20_0000, 0x20_1000), (0x20_3000, 0x20_4000), (0x40_0000, 0x60_2000)];
        pt.destroy_within(&mem, areas);
        for (_, f) in pages.into_iter().chain(more) {
            assert_eq!(mem.page_refs(f), 0, "{f:#x}");
        }
        assert!(mem.table_refs.borrow().keys().all(|&t| t == kernel), "every table freed");
    }

    #[test]
    fn destroy_within_skips_a_shared_directory_and_its_last_user_releases_it() {
        let mem = FakeMem::default();
        let (mut parent, mut child, dir) = forked_dir(&mem);
        child.set(&mem, 0x40_0000, mem.new_page(0x14_0000) | PTE_P).unwrap();
        let areas = [(0x40_0000, 0x40_1000), (GIB, 2 * GIB), (2 * GIB, 2 * GIB + 0x1000)];
        child.destroy_within(&mem, areas);
        assert_eq!(mem.table_users(dir), 1);
        assert_eq!(mem.page_refs(0x14_0000), 0);
        assert_eq!((mem.page_refs(0x10_0000), mem.page_refs(0x12_0000)), (1, 1));
        parent.destroy_within(&mem, areas);
        all_released(&mem, &[0x10_0000, 0x11_0000, 0x12_0000]);
    }

    /// `present_tables` (from `pts` and the shared directories) names the same
    /// tables as a walk from the root, for ranges inside, across and outside
    /// a shared directory and the space's own tables.
    #[test]
    fn present_tables_are_what_a_walk_finds() {
        let mem = FakeMem::default();
        let (parent, mut child, _dir) = forked_dir(&mem);
        for (i, va) in
            [0x40_0000, 0x60_0000, 0x7fe0_0000, 2 * GIB + 0x20_0000].into_iter().enumerate()
        {
            child.set(&mem, va, mem.new_page(0x30_0000 + i as u64 * 0x1000) | PTE_P).unwrap();
        }
        let ranges = [
            (0, u64::MAX >> 17),
            (0x40_0000, 0x40_1000),
            (0x40_1000, 0x60_0001),
            (GIB, 2 * GIB),
            (GIB + 0x1000, GIB + 0x2000),
            (0x7fe0_0000, 2 * GIB + 0x20_0001),
            (3 * GIB, 4 * GIB),
        ];
        for space in [&parent, &child] {
            for (start, end) in ranges {
                let mut walked = alloc::vec::Vec::new();
                space.for_each_pt(&mem, start, end, |b, _| walked.push(b));
                assert_eq!(space.present_tables(&mem, start, end), walked, "{start:#x}..{end:#x}");
            }
        }
        assert_eq!(child.present_tables(&mem, 0, u64::MAX >> 17).len(), 6, "four own, two shared");
        for space in [child, parent] {
            space.destroy(&mem);
        }
    }

    #[test]
    fn a_table_shared_from_a_shared_directory_keeps_every_view() {
        // A grandchild of a directory-sharing child shares one 2 MiB table of
        // it (its area covers less than the GiB): the table gets a user, the
        // directory's entry goes read-only, and nobody's view changes.
        let mem = FakeMem::default();
        let (parent, mut child, dir) = forked_dir(&mem);
        let mut grandchild = new_space(&mem);
        assert_eq!(grandchild.share_pt_from(&mut child, &mem, GIB), Some(true));
        let table = child.pt_for(&mem, GIB).unwrap();
        assert_eq!((mem.table_users(table), mem.table_users(dir)), (2, 2));
        for space in [&parent, &child, &grandchild] {
            assert_eq!(space.lookup(&mem, GIB), 0x10_0000 | PTE_P | PTE_RW | PTE_US);
            assert!(space.is_shared(&mem, GIB));
        }
        for space in [child, parent, grandchild] {
            space.destroy(&mem);
        }
        all_released(&mem, &[0x10_0000, 0x11_0000, 0x12_0000]);
    }

    #[test]
    fn present_leaves_counts_in_one_table_or_across_several() {
        let mem = FakeMem::default();
        let kernel = mem.alloc_table().unwrap();
        let mut pt = PageTable::new(&mem, kernel, &[]).unwrap();
        for (i, va) in
            [0x40_0000, 0x40_2000, 0x5f_f000, 0x60_0000, 0x40_0000_0000].into_iter().enumerate()
        {
            pt.set(&mem, va, mem.new_page(0x10_0000 + i as u64 * 0x1000) | PTE_P).unwrap();
        }
        for (start, end, n) in [
            (0x40_0000, 0x40_3000, 2), // one table
            (0x40_1000, 0x40_2000, 0), // one table, nothing present
            (0x20_0000, 0x20_1000, 0), // no table
            (0x40_0000, 0x60_1000, 4), // two tables
            (0x40_1000, 0x40_1000, 0), // empty
            (0, 0x40_0000_1000, 5),    // from the root
        ] {
            assert_eq!(pt.present_leaves(&mem, start, end), n, "{start:#x}..{end:#x}");
        }
        pt.destroy(&mem);
    }

    #[test]
    fn a_fork_plan_shares_whole_blocks_and_copies_the_rest() {
        use ForkStep::*;
        const M: u64 = PT_SPAN;
        let area =
            |start, end, shared, anon, writable| ForkArea { start, end, shared, anon, writable };
        let areas = [
            // A small program: file-backed private text, then data and heap
            // in the same table; the text keeps that table from being
            // shared, so both are copied entry by entry.
            area(0x40_0000, 0x40_2000, false, false, false),
            area(0x40_2000, 0x40_8000, false, true, true),
            // A shared mapping, then a private anonymous area alone in its
            // table (shared whole).
            area(8 * M, 8 * M + 0x1000, true, true, true),
            area(10 * M + 0x1000, 10 * M + 0x3000, false, true, true),
            // Over a GiB: its directory, the tables around it, the edges.
            area(GIB - M - 0x1000, 2 * GIB + M + 0x1000, false, true, true),
            // Read-only private anonymous memory next to a file mapping in
            // the last block: copied, not write-protected.
            area(3 * GIB, 3 * GIB + 0x1000, false, true, false),
            area(3 * GIB + 0x1000, 3 * GIB + 0x2000, false, false, true),
        ];
        assert_eq!(
            fork_plan(|| areas.into_iter()),
            vec![
                SharePartialTable(10 * M),
                SharePartialTable(GIB - 2 * M),
                SharePartialTable(2 * GIB + M),
                CopyEntries { start: 0x40_0000, end: 0x40_2000, cow: false },
                CopyEntries { start: 0x40_2000, end: 0x40_8000, cow: true },
                SkipShared { start: 8 * M, end: 8 * M + 0x1000 },
                ShareDirs { start: GIB, end: 2 * GIB },
                ShareTables { start: GIB - M, end: GIB },
                ShareTables { start: 2 * GIB, end: 2 * GIB + M },
                CopyEntries { start: 3 * GIB, end: 3 * GIB + 0x1000, cow: false },
                CopyEntries { start: 3 * GIB + 0x1000, end: 3 * GIB + 0x2000, cow: true },
            ]
        );
        assert_eq!(fork_plan(core::iter::empty), vec![]);
    }

    #[test]
    fn partly_covered_tables_are_those_only_shareable_areas_touch() {
        const M: u64 = PT_SPAN;
        let areas = [
            (0x40_0000, 0x40_3000, true), // text and data of a small program (block 2M)
            (0x40_3000, 0x40_8000, true), // its heap, in the same table
            (0x7f_0000, 0x80_1000, true), // across a boundary: blocks 3M and 4M
            (4 * M + 0x1000, 4 * M + 0x2000, false), // a shared page spoils block 4M
            (6 * M, 8 * M, true),         // whole tables: not partial
            (9 * M - 0x1000, 11 * M + 0x1000, true), // edges in blocks 8M and 11M
        ];
        assert_eq!(partly_covered_tables(areas.into_iter()), vec![2 * M, 3 * M, 8 * M, 11 * M]);
    }
}
