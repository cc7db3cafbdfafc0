//! The MMU: page-table entries through the direct map, CR3, TLB invalidation,
//! whole-frame copies, and the memory of the per-frame counters (whose logic
//! is `mm`'s).

use core::arch::asm;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::boot::phys_to_virt;

static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// Entry `index` (0..512) of the page table in frame `table` (a frame the
/// boot tables or `mm` made a page table).
#[inline]
pub fn read_pte(table: u64, index: usize) -> u64 {
    debug_assert!(index < 512);
    // SAFETY: `table` is a page-table frame (see above), mapped by the direct
    // map; the index is kept inside it.
    unsafe { core::ptr::read_volatile((phys_to_virt(table) as *const u64).add(index % 512)) }
}

/// Write entry `index` (0..512) of the page table in frame `table`.
#[inline]
pub fn write_pte(table: u64, index: usize, pte: u64) {
    debug_assert!(index < 512);
    // SAFETY: as for `read_pte`; the caller holds the address space's lock, so
    // page-table updates do not race.
    unsafe { core::ptr::write_volatile((phys_to_virt(table) as *mut u64).add(index % 512), pte) }
}

/// Record the boot page tables' root: the kernel half every address space
/// shares, and the tables the idle task and kernel threads run on. Boot CPU,
/// once.
pub fn init_kernel_root() {
    KERNEL_ROOT.store(super::cpu::read_cr3(), Ordering::Relaxed);
}

pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Relaxed)
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
    zero_qwords(frame, 512)
}

/// Zero the first `qwords` (at most 512) 8-byte words of a frame with `rep
/// stosq` (the boot measurement times part of a page).
pub fn zero_qwords(frame: u64, qwords: u64) {
    // SAFETY: the caller owns `frame` (just allocated); at most 512 qwords,
    // which fit in a page.
    unsafe {
        asm!("rep stosq", inout("rcx") qwords.min(512) => _, inout("rdi") phys_to_virt(frame) => _,
             in("rax") 0u64, options(nostack, preserves_flags));
    }
}

/// Copy one frame to another.
pub fn copy_frame(dst: u64, src: u64) {
    copy_qwords(dst, src, 512)
}

/// Copy the first `qwords` (at most 512) 8-byte words of frame `src` to
/// frame `dst` with `rep movsq`.
pub fn copy_qwords(dst: u64, src: u64, qwords: u64) {
    // SAFETY: the caller owns `dst` (just allocated) and holds a reference to
    // `src`; at most 512 qwords, which fit in a page.
    unsafe {
        asm!("rep movsq", inout("rcx") qwords.min(512) => _, inout("rdi") phys_to_virt(dst) => _,
             inout("rsi") phys_to_virt(src) => _, options(nostack, preserves_flags));
    }
}

/// `len` counters in the frames at physical `phys`, which the caller gives up
/// for good (zeroed, never freed): the memory of `mm`'s per-frame reference
/// counts (Linux `mem_map`). Boot, once.
pub fn frame_counters(phys: u64, len: usize) -> &'static [AtomicU32] {
    static TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    assert!(!TAKEN.swap(true, Ordering::AcqRel), "frame counters are set up once");
    // SAFETY: the frames are RAM the caller allocated for this array and never
    // frees or hands out again (see above), mapped by the direct map, 4-byte
    // aligned (page aligned); zeroed frames are valid AtomicU32s (u32's layout).
    // Made once, so no other reference to this memory exists.
    unsafe { core::slice::from_raw_parts(phys_to_virt(phys) as *const AtomicU32, len) }
}
