//! The MMU: page-table memory through the direct map, CR3, TLB invalidation,
//! and the per-frame reference counts' memory.

use core::arch::asm;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::mm::pagetable::{PageTable, PhysMem};

use super::boot::phys_to_virt;

static REFCOUNTS: AtomicU64 = AtomicU64::new(0);
static REFCOUNTS_LEN: AtomicU64 = AtomicU64::new(0);
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// Page tables as seen through the direct map; new tables come from the frame
/// allocator.
pub struct DirectMap;

impl PhysMem for DirectMap {
    fn read_pte(&self, table: u64, index: usize) -> u64 {
        // SAFETY: `table` is a page-table frame (from the boot tables or
        // `alloc_table`), mapped by the direct map; index < 512 by construction.
        unsafe { core::ptr::read_volatile((phys_to_virt(table) as *const u64).add(index)) }
    }

    fn write_pte(&self, table: u64, index: usize, pte: u64) {
        // SAFETY: as for `read_pte`; the caller holds the address space's lock, so
        // page-table updates do not race.
        unsafe { core::ptr::write_volatile((phys_to_virt(table) as *mut u64).add(index), pte) }
    }

    fn alloc_table(&self) -> Option<u64> {
        let t = crate::mm::alloc_zeroed_frame()?;
        crate::counters::global_add(crate::counters::PAGE_TABLE_PAGES, 1);
        Some(t)
    }

    fn free_table(&self, table: u64) {
        crate::counters::global_sub(crate::counters::PAGE_TABLE_PAGES, 1);
        crate::mm::put_frame(table)
    }

    fn table_get(&self, table: u64) {
        crate::mm::get_frame(table)
    }

    fn table_put_last(&self, table: u64) -> bool {
        crate::mm::put_frame_unless_last(table)
    }

    fn table_users(&self, table: u64) -> u32 {
        crate::mm::frame_refcount(table)
    }

    fn page_get(&self, frame: u64) {
        crate::mm::get_frame(frame)
    }

    fn page_put(&self, frame: u64) {
        crate::mm::put_frame(frame)
    }
}

static KERNEL_SLOTS: spin::Once<alloc::vec::Vec<usize>> = spin::Once::new();

/// Record the boot page tables' root (the kernel half every address space shares)
/// and which of its PML4 entries are in use.
pub fn init_kernel_root() {
    let root = super::cpu::read_cr3();
    KERNEL_ROOT.store(root, Ordering::Relaxed);
    KERNEL_SLOTS.call_once(|| PageTable::kernel_slots(&DirectMap, root));
}

pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Relaxed)
}

/// A new address space's page tables (kernel half shared).
pub fn new_page_table() -> Option<PageTable> {
    PageTable::new(&DirectMap, kernel_root(), KERNEL_SLOTS.get().map_or(&[], |v| v.as_slice()))
}

/// Switch to the address space whose PML4 is at `root` (or reload it: every
/// non-global translation is dropped). The CPU's loaded root is published
/// first and the TLB shootdown requests the load covers are acknowledged after
/// it (see `tlb`).
pub fn load_cr3(root: u64) {
    let cpu = super::cpu::cpu_id();
    let covered = super::tlb::before_cr3_load(cpu, root);
    // SAFETY: `root` is a PML4 made by `new_page_table` (or the boot one), whose
    // kernel half maps this code, its stack and data identically. Not `nomem`:
    // the stores before it (the published root) must stay before it.
    unsafe { asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags)) }
    super::tlb::after_cr3_load(cpu, covered);
}

pub fn current_cr3() -> u64 {
    super::cpu::read_cr3()
}

/// Drop the TLB entry for one page of the current address space.
pub fn invlpg(va: u64) {
    // SAFETY: invlpg only invalidates a translation.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) }
}

/// Drop all non-global TLB entries (one CR3 reload beats many invlpg on these hosts).
pub fn flush_tlb() {
    load_cr3(current_cr3());
}

/// Zero a frame (through the direct map, with `rep stosq`).
pub fn zero_frame(frame: u64) {
    // SAFETY: the caller owns `frame` (just allocated); 512 qwords fit in a page.
    unsafe {
        asm!("rep stosq", inout("rcx") 512u64 => _, inout("rdi") phys_to_virt(frame) => _,
             in("rax") 0u64, options(nostack, preserves_flags));
    }
}

/// Copy one frame to another.
pub fn copy_frame(dst: u64, src: u64) {
    // SAFETY: the caller owns `dst` (just allocated) and holds a reference to `src`.
    unsafe {
        asm!("rep movsq", inout("rcx") 512u64 => _, inout("rdi") phys_to_virt(dst) => _,
             inout("rsi") phys_to_virt(src) => _, options(nostack, preserves_flags));
    }
}

/// Use `len` counters at physical `phys` (zeroed frames) as the frame refcounts.
pub fn init_refcounts(phys: u64, len: usize) {
    REFCOUNTS.store(phys_to_virt(phys), Ordering::Relaxed);
    REFCOUNTS_LEN.store(len as u64, Ordering::Relaxed);
}

/// One reference count per physical frame (Linux: `page->_refcount` in `mem_map`).
pub fn refcounts() -> &'static [AtomicU32] {
    let base = REFCOUNTS.load(Ordering::Relaxed);
    let len = REFCOUNTS_LEN.load(Ordering::Relaxed) as usize;
    if base == 0 {
        return &[];
    }
    // SAFETY: `init_refcounts` was given frames reserved for this array (zeroed,
    // mapped by the direct map, never freed); AtomicU32 has u32's layout.
    unsafe { core::slice::from_raw_parts(base as *const AtomicU32, len) }
}
