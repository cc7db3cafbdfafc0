//! 4-level x86-64 page tables, as logic over a [`PhysMem`] (the direct map in the
//! kernel, a map of fake frames in the host tests).

/// Access to page-table frames by physical address.
pub trait PhysMem {
    fn read_pte(&self, table: u64, index: usize) -> u64;
    fn write_pte(&self, table: u64, index: usize, pte: u64);
    /// A zeroed frame for a page table, or None when memory is exhausted.
    fn alloc_table(&self) -> Option<u64>;
    fn free_table(&self, table: u64);
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

/// First PML4 slot of the kernel half (shared by every address space).
pub const KERNEL_PML4_FIRST: usize = 256;

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 511) as usize
}

/// One address space's page tables, by the physical address of its PML4, and
/// the lower-level tables it allocated for its user half (so that tearing it
/// down frees them without scanning any table).
#[derive(Debug, PartialEq, Eq)]
pub struct PageTable {
    pub root: u64,
    tables: alloc::vec::Vec<u64>,
}

impl PageTable {
    /// A new PML4 whose kernel half is `kernel_root`'s (the same lower tables):
    /// `kernel_slots` are the kernel PML4 entries in use.
    pub fn new(mem: &impl PhysMem, kernel_root: u64, kernel_slots: &[usize]) -> Option<Self> {
        let root = mem.alloc_table()?;
        for &i in kernel_slots {
            mem.write_pte(root, i, mem.read_pte(kernel_root, i));
        }
        Some(Self { root, tables: alloc::vec::Vec::new() })
    }

    /// A placeholder owning nothing (what remains after `destroy` took the real one).
    pub fn new_empty() -> Self {
        Self { root: 0, tables: alloc::vec::Vec::new() }
    }

    /// The kernel PML4 entries in use in `kernel_root` (scanned once at boot).
    pub fn kernel_slots(mem: &impl PhysMem, kernel_root: u64) -> alloc::vec::Vec<usize> {
        (KERNEL_PML4_FIRST..512).filter(|&i| mem.read_pte(kernel_root, i) != 0).collect()
    }

    /// The page table (level 1) covering `va`, allocating missing levels.
    fn pt_for_create(&mut self, mem: &impl PhysMem, va: u64) -> Option<u64> {
        let mut table = self.root;
        for level in (1..=3).rev() {
            let i = index(va, level);
            let e = mem.read_pte(table, i);
            table = if e & PTE_P != 0 {
                e & PTE_ADDR
            } else {
                let t = mem.alloc_table()?;
                self.tables.push(t);
                // Intermediate entries allow everything; leaves decide.
                mem.write_pte(table, i, t | PTE_P | PTE_RW | PTE_US | PTE_A);
                t
            };
        }
        Some(table)
    }

    /// The page table (level 1) covering `va`, if it exists.
    fn pt_for(&self, mem: &impl PhysMem, va: u64, create: bool) -> Option<u64> {
        debug_assert!(!create);
        let mut table = self.root;
        for level in (1..=3).rev() {
            let i = index(va, level);
            let e = mem.read_pte(table, i);
            table = if e & PTE_P != 0 {
                debug_assert!(e & PTE_PS == 0, "no huge pages in user space");
                e & PTE_ADDR
            } else {
                return None;
            };
        }
        Some(table)
    }

    /// The leaf entry for `va` (0 if none).
    pub fn lookup(&self, mem: &impl PhysMem, va: u64) -> u64 {
        self.pt_for(mem, va, false).map_or(0, |pt| mem.read_pte(pt, index(va, 0)))
    }

    /// Set the leaf entry for `va`, allocating tables on the way. Returns the old
    /// entry, or None when a table could not be allocated.
    pub fn set(&mut self, mem: &impl PhysMem, va: u64, pte: u64) -> Option<u64> {
        let pt = self.pt_for_create(mem, va)?;
        let old = mem.read_pte(pt, index(va, 0));
        mem.write_pte(pt, index(va, 0), pte);
        Some(old)
    }

    /// Clear the leaf entry for `va`; the old entry (0 if none).
    pub fn clear(&self, mem: &impl PhysMem, va: u64) -> u64 {
        match self.pt_for(mem, va, false) {
            Some(pt) => {
                let old = mem.read_pte(pt, index(va, 0));
                if old != 0 {
                    mem.write_pte(pt, index(va, 0), 0);
                }
                old
            }
            None => 0,
        }
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
        self.walk(mem, self.root, 3, 0, start, end, &mut f);
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        mem: &impl PhysMem,
        table: u64,
        level: u32,
        base: u64,
        start: u64,
        end: u64,
        f: &mut impl FnMut(u64, u64),
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
        for i in first as usize..=last as usize {
            if level == 3 && i >= KERNEL_PML4_FIRST {
                break;
            }
            let e = mem.read_pte(table, i);
            if e & PTE_P == 0 {
                continue;
            }
            let lo = base + i as u64 * span;
            if level == 0 {
                f(lo, e);
            } else {
                self.walk(mem, e & PTE_ADDR, level - 1, lo, start, end, f);
            }
        }
    }

    /// Free the user half's page tables (not the pages they map) and the PML4.
    pub fn destroy(self, mem: &impl PhysMem) {
        for t in self.tables {
            mem.free_table(t);
        }
        if self.root != 0 {
            mem.free_table(self.root);
        }
    }
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
            Some(*n)
        }
        fn free_table(&self, t: u64) {
            assert!(self.freed.borrow_mut().insert(t), "double free of {t:#x}");
            self.frames.borrow_mut().remove(&t);
        }
    }

    #[test]
    fn map_lookup_clear_and_destroy() {
        let mem = FakeMem::default();
        let kernel = mem.alloc_table().unwrap();
        mem.write_pte(kernel, 273, 0x5000 | PTE_P);
        let slots = PageTable::kernel_slots(&mem, kernel);
        assert_eq!(slots, vec![273]);
        let mut pt = PageTable::new(&mem, kernel, &slots).unwrap();
        assert_eq!(mem.read_pte(pt.root, 273), 0x5000 | PTE_P, "kernel half shared");
        let va = 0x40_1000;
        assert_eq!(pt.lookup(&mem, va), 0);
        assert_eq!(pt.set(&mem, va, 0x9000 | PTE_P | PTE_US), Some(0));
        assert_eq!(pt.lookup(&mem, va), 0x9000 | PTE_P | PTE_US);
        pt.set(&mem, 0x7fff_ffff_e000, 0xa000 | PTE_P).unwrap();
        let mut seen = Vec::new();
        pt.for_each_leaf(&mem, 0, 1 << 47, |va, pte| seen.push((va, pte & PTE_ADDR)));
        assert_eq!(seen, vec![(0x40_1000, 0x9000), (0x7fff_ffff_e000, 0xa000)]);
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
        assert_eq!(pt.clear(&mem, va), 0x9000 | PTE_P | PTE_US);
        assert_eq!(pt.lookup(&mem, va), 0);
        assert_eq!(pt.clear(&mem, 0x1234_5000), 0);
        let tables = mem.frames.borrow().len();
        pt.destroy(&mem);
        // Root, and two chains of PDPT/PD/PT (one per user address), are freed;
        // the kernel's table stays.
        assert_eq!(mem.freed.borrow().len(), tables - 1);
        assert!(mem.frames.borrow().contains_key(&kernel));
    }
}
