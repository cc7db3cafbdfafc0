//! An address space (Linux: `struct mm_struct`): page tables, the areas that say
//! which accesses are legal, the page-fault handler and the mmap family.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::mmu;
use crate::arch::uaccess::USER_TOP;
use crate::counters as ctr;
use crate::errno::{Errno, EACCES, EEXIST, EINVAL, EIO, ENODEV, ENOMEM, EOVERFLOW};
use crate::mm::filemap::PageCache;
use crate::mm::frame::PAGE_SIZE;
use crate::mm::pagetable::{
    fork_plan, FaultEntry, ForkArea, ForkStep, PageTable, PD_SPAN, PTE_A, PTE_ADDR, PTE_D, PTE_NX,
    PTE_P, PTE_RW, PTE_US, PT_SPAN,
};
use crate::mm::vma::{Prot, VmFlags, Vma, VmaSet};
use crate::mm::{alloc_zeroed_frame, frame_refcount, get_frame, put_frame};
use crate::mm::{new_page_table, DirectMap};
pub use uapi::mman::{
    MAP_ANONYMOUS, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN,
    MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_NORESERVE, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
    MAP_SHARED_VALIDATE, MAP_STACK, MAP_TYPE,
};

/// Lowest address `mmap` hands out (Linux: `vm.mmap_min_addr` = 65536).
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;
/// Top of the main thread's stack, and the reservation below it.
pub const STACK_TOP: u64 = 0x0000_7fff_fffd_e000;
pub const STACK_MAX: u64 = 8 << 20;
/// `mmap` places areas top-down below this (Linux: mmap_base under the stack gap).
pub const MMAP_BASE: u64 = STACK_TOP - STACK_MAX - (128 << 20);

const MAP_KNOWN: u32 = MAP_TYPE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_GROWSDOWN
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_FIXED_NOREPLACE;

/// The frames of a shared anonymous mapping, by page offset; shared by every
/// process that maps it (fork keeps MAP_SHARED areas shared).
#[derive(Default)]
pub struct SharedAnon {
    frames: spin::Mutex<BTreeMap<u64, u64>>,
}

impl SharedAnon {
    /// The frame for page `pgoff`, allocated zeroed on first use; a new reference
    /// for the caller's page-table entry.
    fn get(&self, pgoff: u64) -> Option<u64> {
        let mut frames = self.frames.lock();
        let f = match frames.get(&pgoff) {
            Some(&f) => f,
            None => {
                let f = alloc_zeroed_frame()?;
                frames.insert(pgoff, f);
                f
            }
        };
        get_frame(f);
        Some(f)
    }
}

impl Drop for SharedAnon {
    fn drop(&mut self) {
        for (_, f) in core::mem::take(&mut *self.frames.lock()) {
            put_frame(f);
        }
    }
}

/// Sites that exec rewrites as it copies a program's text
/// ([`Mm::populate_rewritten`]): 2-byte instructions at `sites` (increasing
/// link-time addresses) plus `bias`, `from` becoming `to`.
pub struct Rewrite<'a> {
    pub sites: &'a [u64],
    pub bias: u64,
    pub from: [u8; 2],
    pub to: [u8; 2],
}

/// A mapped RAM-fs file (Linux: the `vm_file` of an area).
#[derive(Clone)]
pub struct FileMap {
    /// The file's pages.
    pub cache: Arc<PageCache>,
    pub ino: u64,
    /// The file's path when it was mapped (what `/proc/PID/maps` prints).
    pub path: Arc<str>,
    /// The file was open for writing: a shared mapping may be made writable
    /// (Linux `VM_MAYWRITE`; without it `mprotect(PROT_WRITE)` is EACCES).
    pub may_write: bool,
}

/// The file an `mmap` without MAP_ANONYMOUS names, as the system-call layer
/// found its descriptor (Linux: `struct file`, `f_mode`, `f_op->mmap`).
pub struct MmapFile {
    /// The file's page cache; `None` for a file that cannot be mapped
    /// (a pipe, a directory, a device: ENODEV).
    pub cache: Option<Arc<PageCache>>,
    pub ino: u64,
    pub path: Arc<str>,
    /// Open for reading (`FMODE_READ`).
    pub readable: bool,
    /// Open for writing and not append-only.
    pub writable: bool,
}

/// What backs an area's pages.
#[derive(Clone)]
pub enum Backing {
    /// Private anonymous memory: zero-filled on first touch.
    Anon,
    /// Shared anonymous memory.
    Shared(Arc<SharedAnon>),
    /// A file's pages: shared (`VmFlags::SHARED`) or copied on write.
    File(FileMap),
    /// The kernel's entry page (mapped when the address space is made).
    EntryPage,
}

impl PartialEq for Backing {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Backing::Anon, Backing::Anon) | (Backing::EntryPage, Backing::EntryPage) => true,
            (Backing::Shared(a), Backing::Shared(b)) => Arc::ptr_eq(a, b),
            (Backing::File(a), Backing::File(b)) => {
                Arc::ptr_eq(&a.cache, &b.cache) && a.may_write == b.may_write
            }
            _ => false,
        }
    }
}

impl Vma<Backing> {
    /// The path of the file this area maps, if it maps one (the name
    /// `/proc/PID/maps` prints; Linux `d_path(vma->vm_file)`).
    pub fn file_path(&self) -> Option<&str> {
        match &self.backing {
            Backing::File(f) => Some(&f.path),
            _ => None,
        }
    }

    /// The inode number of the mapped file, if any.
    pub fn file_ino(&self) -> Option<u64> {
        match &self.backing {
            Backing::File(f) => Some(f.ino),
            _ => None,
        }
    }
}

/// What identifies a futex word shared between address spaces (Linux
/// `get_futex_key`): the object and the byte offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexKey {
    /// Private memory: the address space and the address.
    Private { mm: usize, addr: u64 },
    /// Shared memory (anonymous or a file's pages): the object and the offset.
    Shared { object: usize, offset: u64 },
}

/// See [`Mm::oom_footprint`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OomFootprint {
    pub total_vm_pages: u64,
    pub rss_pages: u64,
    pub pgtable_pages: u64,
}

/// Why a fault could not be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No area covers the address (and no stack can grow to it).
    NoArea,
    /// The area does not allow the access.
    Access,
    /// No memory for a page or a page table.
    OutOfMemory,
    /// A file mapping's page lies past the end of its file (SIGBUS).
    PastEof,
}

struct MmInner {
    pt: PageTable,
    vmas: VmaSet<Backing>,
    brk_start: u64,
    brk: u64,
    /// Pages this space has mapped for itself (Linux `get_mm_rss`), and the
    /// most it has had (`hiwater_rss`). A page table shared since fork and
    /// then dropped whole (its pages are the other space's) is not
    /// subtracted: an overcount until the space ends.
    rss: u64,
    hiwater_rss: u64,
    /// `fork_plan` of `vmas` at the generation given (a parent forks again
    /// and again with the same areas).
    fork_plan: Option<(u64, Vec<ForkStep>)>,
}

pub struct Mm {
    /// A CPU spinning on this lock answers TLB shootdowns (the holder may be
    /// waiting for it: see `arch::tlb`).
    inner: spin::mutex::Mutex<MmInner, crate::arch::tlb::TlbRelax>,
    /// The physical address of the PML4 (Linux `mm->pgd`): fixed for the
    /// life of the address space, so loading it takes no lock.
    root: u64,
    /// The patched `syscall` sites of the program's text, if exec patched it
    /// (`exec::zpoline`); set once by exec, kept by fork.
    zpoline: spin::Once<crate::mm::zpoline::Zpoline>,
    /// The program's arguments, NUL-terminated one after the other, as exec
    /// gave them (what Linux reads between `arg_start` and `arg_end` for
    /// `/proc/PID/cmdline`); set once by exec, kept by fork.
    cmdline: spin::Once<Arc<[u8]>>,
    /// Linux's `MMF_DUMPABLE` bits, as SUID_DUMP_USER (true) or
    /// SUID_DUMP_DISABLE: cleared when the ids change (`commit_creds`), set
    /// by `prctl(PR_SET_DUMPABLE)`; a process that is not dumpable has its
    /// proc files owned by root. Kept by fork.
    pub dumpable: core::sync::atomic::AtomicBool,
    /// The program file (Linux `mm->exe_file`): set once by exec, shared
    /// with fork's copy; writers to it are refused while it is held (ETXTBSY).
    exe: spin::Once<Arc<dyn ExeFile>>,
}

/// The program file an address space runs (Linux `mm->exe_file`) as the file
/// system holds it (`fs::DeniedWrites`): what it does when the last address
/// space that runs it goes is its `Drop`.
pub trait ExeFile: Send + Sync {
    /// Its inode number.
    fn ino(&self) -> u64;
}

/// One area as `/proc/PID/maps` shows it (Linux `show_map_vma`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapArea {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    pub shared: bool,
    /// The file offset in bytes (0 for anonymous memory).
    pub pgoff: u64,
    /// `[heap]`, `[stack]`, `[vdso]`, or empty.
    pub name: &'static str,
    /// The mapped file: its path when it was mapped and its inode number.
    pub file: Option<(Arc<str>, u64)>,
}

/// The leaf entry for a page of an area with `prot`; `writable` is false where
/// the page must stay read-only (shared with another process, copy-on-write).
/// Write the leaf entry for `va` that a fault found as `entry`: straight
/// into its page table when that is this space's own, else through a walk
/// that makes the missing tables (false: out of memory for one).
fn set_leaf(inner: &mut MmInner, va: u64, entry: FaultEntry, pte: u64) -> bool {
    match entry.own_pt {
        Some(pt) => {
            inner.pt.set_own(&DirectMap, pt, va, pte);
            true
        }
        None => inner.pt.set(&DirectMap, va, pte).is_some(),
    }
}

fn leaf(frame: u64, prot: Prot, writable: bool) -> u64 {
    let mut pte = frame | PTE_P | PTE_A;
    if !prot.is_empty() {
        pte |= PTE_US;
    }
    if prot.contains(Prot::WRITE) && writable {
        pte |= PTE_RW | PTE_D;
    }
    if !prot.contains(Prot::EXEC) {
        pte |= PTE_NX;
    }
    pte
}

fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}

fn page_up(a: u64) -> Option<u64> {
    Some(a.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

impl MmInner {
    /// Invalidate stale translations of `[start, end)` wherever this address
    /// space is loaded (one CR3 reload beats many invlpg beyond a few pages).
    fn flush(&mut self, start: u64, end: u64) {
        // Here and on every other CPU that has this address space loaded
        // (TLB shootdown); returns when none holds a stale translation.
        crate::arch::tlb::flush_tlb_mm_range(self.pt.root, start, end);
        // Page tables unsharing left behind can go now.
        self.pt.release_deferred(&DirectMap);
    }

    /// Unshare the page tables and directories that `[start, end)` covers
    /// only in part, so that [`Self::zap`] cannot fail (wholly covered ones
    /// are detached, not copied).
    fn prepare_zap(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        let whole = |block: u64, span: u64| start <= block && block + span <= end;
        for edge in [start, end - 1] {
            let block = edge & !(PT_SPAN - 1);
            let dir = edge & !(PD_SPAN - 1);
            if (!whole(block, PT_SPAN) && self.pt.is_shared(&DirectMap, block))
                || (!whole(dir, PD_SPAN) && self.pt.dir_is_shared(&DirectMap, dir))
            {
                let n = self.pt.unshare_range(&DirectMap, block, block + 1).ok_or(ENOMEM)?;
                ctr::global_add(ctr::PAGE_TABLES_UNSHARED, n);
                crate::trace_event!(MmPageTableUnshare if n > 0; 0, block, n);
                self.flush(block, block + PT_SPAN);
            }
        }
        Ok(())
    }

    /// Drop the pages of `[start, end)` from the page tables (after
    /// [`Self::prepare_zap`]).
    fn zap(&mut self, start: u64, end: u64) {
        let zapped = self.pt.zap_range(&DirectMap, start, end).expect("edges unshared first");
        self.rss = self.rss.saturating_sub(zapped.pages.len() as u64);
        self.flush(start, end);
        zapped.release(&DirectMap);
    }

    /// `n` more pages mapped (Linux `add_mm_counter`, and the high-water
    /// mark `update_hiwater_rss` keeps).
    fn add_rss(&mut self, n: u64) {
        self.rss += n;
        self.hiwater_rss = self.hiwater_rss.max(self.rss);
    }

    fn insert(&mut self, vma: Vma<Backing>) -> Result<(), Errno> {
        self.vmas.insert(vma).map_err(|_| ENOMEM)
    }
}

/// The frame holding the entry page (`arch::entry_page`), mapped read +
/// execute into every address space at `ENTRY_PAGE_VA`.
static ENTRY_FRAME: AtomicU64 = AtomicU64::new(0);

/// Put the entry page's code in a frame that every address space maps (boot,
/// before the first address space, after the bulk-memory choice: a page
/// copied in ring 0 is a `rep movs` of 512 words, each about as slow as an
/// instruction where ring 0 is emulated, and there the VMM copies it).
pub fn init_entry_page() -> Result<(), Errno> {
    let frame = crate::mm::alloc_data_frame().ok_or(ENOMEM)?;
    crate::mm::bulk::copy_to_page(&frame, 0, crate::arch::entry_page::contents());
    ENTRY_FRAME.store(frame.into_phys(), Ordering::Relaxed);
    Ok(())
}

fn entry_frame() -> u64 {
    ENTRY_FRAME.load(Ordering::Relaxed)
}

impl Mm {
    /// An empty address space with the entry page mapped.
    pub fn new() -> Result<Arc<Mm>, Errno> {
        let pt = new_page_table().ok_or(ENOMEM)?;
        let mm = Arc::new(Mm {
            root: pt.root,
            inner: spin::mutex::Mutex::new(MmInner {
                pt,
                vmas: VmaSet::new(),
                brk_start: 0,
                brk: 0,
                rss: 0,
                hiwater_rss: 0,
                fork_plan: None,
            }),
            zpoline: spin::Once::new(),
            cmdline: spin::Once::new(),
            dumpable: core::sync::atomic::AtomicBool::new(true),
            exe: spin::Once::new(),
        });
        let entry = crate::arch::entry_page::ENTRY_PAGE_VA;
        {
            let mut inner = mm.inner.lock();
            let prot = Prot::READ | Prot::EXEC;
            inner.insert(Vma::new(
                entry,
                entry + PAGE_SIZE,
                prot,
                VmFlags::empty(),
                0,
                Backing::EntryPage,
            ))?;
            let frame = entry_frame();
            get_frame(frame);
            if inner.pt.set(&DirectMap, entry, leaf(frame, prot, false)).is_none() {
                put_frame(frame);
                return Err(ENOMEM);
            }
        }
        Ok(mm)
    }

    pub fn root(&self) -> u64 {
        self.root
    }

    /// Record that exec patched the program's `syscall` sites (once).
    pub fn set_zpoline(&self, z: crate::mm::zpoline::Zpoline) {
        self.zpoline.call_once(|| z);
    }

    /// Record the program file exec loaded (once).
    pub fn set_exe_file(&self, exe: Arc<dyn ExeFile>) {
        self.exe.call_once(|| exe);
    }

    /// The program file's inode, if exec set one.
    pub fn exe_ino(&self) -> Option<u64> {
        self.exe.get().map(|e| e.ino())
    }

    /// The patched `syscall` sites, if exec patched any.
    pub fn zpoline(&self) -> Option<&crate::mm::zpoline::Zpoline> {
        self.zpoline.get()
    }

    /// The child's copy for fork (Linux `dup_mmap` + `copy_page_range`): the same
    /// areas; shared areas keep sharing their pages; private writable pages are
    /// write-protected in both and shared until one writes (`do_wp_page`).
    /// Where a private anonymous area covers a whole page directory (1 GiB)
    /// or page table (2 MiB), the directory or table itself is shared
    /// copy-on-write instead of copied entry by entry (On-demand-fork, one
    /// level up too; see `mm::pagetable`), so the cost of fork grows with the
    /// number of such tables, not of pages. The parent's stale writable
    /// translations are flushed before this returns.
    pub fn fork(&self) -> Result<Arc<Mm>, Errno> {
        let t0 = crate::arch::rdtsc();
        let r = self.dup_mmap();
        ctr::global_add(ctr::COPY_PAGE_RANGE_TSC, crate::arch::rdtsc().wrapping_sub(t0));
        ctr::global_add(ctr::COPY_PAGE_RANGE_CALLS, 1);
        r
    }

    /// The body of [`Mm::fork`] (Linux `dup_mmap`, whose page-table part is
    /// `copy_page_range`).
    fn dup_mmap(&self) -> Result<Arc<Mm>, Errno> {
        let pt = new_page_table().ok_or(ENOMEM)?;
        // The program file, shared (Linux `dup_mm_exe_file`).
        let exe = self.exe.get().cloned();
        let mut parent = self.inner.lock();
        let child = Arc::new(Mm {
            root: pt.root,
            inner: spin::mutex::Mutex::new(MmInner {
                pt,
                vmas: parent.vmas.clone(),
                brk_start: parent.brk_start,
                brk: parent.brk,
                // The child maps what the parent does (Linux's `dup_mm`
                // copies the high-water mark with the rest).
                rss: parent.rss,
                hiwater_rss: parent.hiwater_rss,
                fork_plan: None,
            }),
            zpoline: match self.zpoline.get() {
                Some(z) => spin::Once::initialized(z.clone()),
                None => spin::Once::new(),
            },
            cmdline: match self.cmdline.get() {
                Some(c) => spin::Once::initialized(c.clone()),
                None => spin::Once::new(),
            },
            dumpable: core::sync::atomic::AtomicBool::new(
                self.dumpable.load(core::sync::atomic::Ordering::Relaxed),
            ),
            exe: match exe {
                Some(e) => spin::Once::initialized(e),
                None => spin::Once::new(),
            },
        });
        let (mut write_protected, mut tables_shared, mut cow_wp) = (false, false, false);
        let copied = {
            let mut c = child.inner.lock();
            let c = &mut *c;
            // The parent's areas, tables and plan as separate borrows.
            let MmInner { vmas, pt: ppt, fork_plan: cached, .. } = &mut *parent;
            c.pt.reserve_tables(ppt.page_tables());
            // What to share and what to copy follows from the areas alone:
            // worked out again only when they changed since the last fork.
            // Page tables that private anonymous areas cover only in part,
            // with no other kind of area in them (a small program's text,
            // data and heap; its stack), are shared as well.
            let gen = vmas.generation();
            let steps: &[ForkStep] = match cached {
                Some((g, steps)) if *g == gen => steps,
                _ => {
                    let areas = || {
                        vmas.iter().map(|v| ForkArea {
                            start: v.start,
                            end: v.end,
                            shared: v.flags.contains(VmFlags::SHARED),
                            anon: matches!(v.backing, Backing::Anon),
                            writable: v.prot.contains(Prot::WRITE),
                        })
                    };
                    &cached.insert((gen, fork_plan(areas))).1
                }
            };
            // Err(()): out of memory (or a fault injected).
            let mut share = |c: &mut MmInner, ppt: &mut PageTable, block, dir| {
                let injected = crate::fault_inject::should_fail(crate::fault_inject::Stage::CopyMm);
                let shared = if dir {
                    c.pt.share_pd_from(ppt, &DirectMap, block)
                } else {
                    c.pt.share_pt_from(ppt, &DirectMap, block)
                };
                match shared {
                    _ if injected => Err(()),
                    None => Err(()),
                    Some(true) => {
                        write_protected = true;
                        ctr::global_add(ctr::FORK_PAGE_TABLES_SHARED, 1);
                        if dir {
                            ctr::global_add(ctr::FORK_PAGE_DIRS_SHARED, 1);
                        }
                        Ok(())
                    }
                    Some(false) => Ok(()),
                }
            };
            let result: Result<(), ()> = 'copy: {
                for &step in steps {
                    match step {
                        ForkStep::SharePartialTable(block) => {
                            if share(c, ppt, block, false).is_err() {
                                break 'copy Err(());
                            }
                        }
                        // A shared mapping's entries are not copied (Linux
                        // `vma_needs_copy`: no anon_vma): the child's faults
                        // map the shared object's or file's pages, as they
                        // would for a new mapping of it. Its pages are not the
                        // child's RSS until then.
                        ForkStep::SkipShared { start, end } => {
                            let present = ppt.present_leaves(&DirectMap, start, end);
                            c.rss = c.rss.saturating_sub(present);
                        }
                        // Only the directories and tables the parent has: an
                        // area's size (up to 128 TiB, MAP_NORESERVE) must not
                        // set the cost of a fork.
                        ForkStep::ShareDirs { start, end } => {
                            for d in ppt.present_dirs(&DirectMap, start, end) {
                                if share(c, ppt, d, true).is_err() {
                                    break 'copy Err(());
                                }
                            }
                        }
                        // The ones the parent has, directory by directory.
                        // Each block of the range looked at where the parent
                        // has about as many tables or more (a 256 MiB area's
                        // fork+exit+wait: 23.4 k ring-0 instructions, against
                        // 29.9 k through the list of its tables), else the
                        // list (`present_tables`): a sparse area as large as
                        // 2 GiB must not cost a thousand reads per fork.
                        ForkStep::ShareTables { start, end } => {
                            let mut admit = || {
                                !crate::fault_inject::should_fail(
                                    crate::fault_inject::Stage::CopyMm,
                                )
                            };
                            let blocks = (end - start) / PT_SPAN;
                            let r = if blocks <= 2 * ppt.page_tables() as u64 + 8 {
                                c.pt.share_pts_from(ppt, &DirectMap, (start, end), &mut admit)
                            } else {
                                let present = ppt.present_tables(&DirectMap, start, end);
                                c.pt.share_listed_pts_from(ppt, &DirectMap, &present, &mut admit)
                            };
                            let (Ok(n) | Err(n)) = r;
                            if n > 0 {
                                tables_shared = true;
                                ctr::global_add(ctr::FORK_PAGE_TABLES_SHARED, n);
                            }
                            if r.is_err() {
                                break 'copy Err(());
                            }
                        }
                        // Entry by entry (Linux `copy_pte_range`), one pass
                        // per page table.
                        ForkStep::CopyEntries { start, end, cow } => {
                            let mut copied = 0;
                            let r = c.pt.copy_range_from(ppt, &DirectMap, start, end, cow, |_| {
                                copied += 1;
                                !crate::fault_inject::should_fail(
                                    crate::fault_inject::Stage::CopyMm,
                                )
                            });
                            ctr::global_add(ctr::FORK_PTES_COPIED, copied);
                            match r {
                                Ok(wp) => cow_wp |= wp,
                                Err(wp) => {
                                    cow_wp |= wp;
                                    break 'copy Err(());
                                }
                            }
                        }
                    }
                }
                Ok(())
            };
            result
        };
        // The parent's entries were write-protected by a table shared
        // (`write_protected`, `tables_shared`) or by a copy (`cow_wp`),
        // whether or not the copy then failed.
        if write_protected || tables_shared || cow_wp {
            parent.flush(0, USER_TOP);
        }
        if copied.is_err() {
            // Dropping the child unmaps what was copied.
            return Err(ENOMEM);
        }
        // Tables the parent unshared on the way are released with its next
        // flush (or its end), never before one.
        drop(parent);
        Ok(child)
    }

    /// Resolve a fault at `addr` (Linux `handle_mm_fault`): demand-zero, shared
    /// pages, write faults on read-only private pages (`do_wp_page`).
    pub fn handle_fault(&self, addr: u64, write: bool, exec: bool) -> Result<(), FaultError> {
        fault_locked(&mut self.inner.lock(), addr, write, exec, false)
    }

    /// Read (`write` false) or write `buf` at `addr` of this address space,
    /// which need not be loaded, as a debugger does (Linux `access_remote_vm`
    /// with FOLL_FORCE, for `ptrace`'s PEEKDATA/POKEDATA): a write to a
    /// private read-only page (text) or a copy-on-write page breaks the
    /// sharing first and changes this space's own copy only; shared
    /// read-only mappings are not written. EIO where nothing is mapped.
    pub fn access_remote_vm(&self, addr: u64, buf: &mut [u8], write: bool) -> Result<(), Errno> {
        let mut inner = self.inner.lock();
        let mut done = 0usize;
        while done < buf.len() {
            let at = addr.checked_add(done as u64).ok_or(EIO)?;
            let va = page_down(at);
            let off = (at - va) as usize;
            let n = (PAGE_SIZE as usize - off).min(buf.len() - done);
            let entry = inner.pt.fault_entry(&DirectMap, va);
            let mut pte = entry.pte;
            let needs_fault = pte & PTE_P == 0 || (write && (pte & PTE_RW == 0 || entry.shared));
            if needs_fault {
                fault_locked(&mut inner, at, write, false, true).map_err(|_| EIO)?;
                pte = inner.pt.lookup(&DirectMap, va);
                if pte & PTE_P == 0 {
                    return Err(EIO);
                }
            }
            let phys = (pte & PTE_ADDR) + off as u64;
            if write {
                crate::arch::boot::phys_slice_mut(phys, n).copy_from_slice(&buf[done..done + n]);
            } else {
                buf[done..done + n].copy_from_slice(crate::arch::boot::phys_slice_mut(phys, n));
            }
            done += n;
        }
        Ok(())
    }
}

/// `Mm::handle_fault` under the address space's lock; `force` (Linux
/// FOLL_FORCE, a debugger's access) ignores the area's protection, except
/// that a shared mapping is written only if it is writable.
fn fault_locked(
    inner: &mut MmInner,
    addr: u64,
    write: bool,
    exec: bool,
    force: bool,
) -> Result<(), FaultError> {
    {
        let va = page_down(addr);
        let bad = |e: FaultError| {
            ctr::global_add(ctr::FAULTS_BAD, 1);
            e
        };
        // One lookup on the common path (a fault in an area): what the fault
        // needs of the area is copied out, so that a miss may grow the stack.
        let area = |inner: &MmInner| {
            inner.vmas.find(addr).map(|vma| {
                let shared = vma.flags.contains(VmFlags::SHARED);
                (vma.prot, vma.backing.clone(), vma.pgoff_of(va), shared)
            })
        };
        let found = match area(inner) {
            Some(found) => found,
            None => {
                inner.vmas.expand_stack(va, STACK_MAX).map_err(|_| bad(FaultError::NoArea))?;
                area(inner).ok_or_else(|| bad(FaultError::NoArea))?
            }
        };
        let (prot, backing, pgoff, shared) = found;
        let denied = prot.is_empty()
            || (write && !prot.contains(Prot::WRITE))
            || (exec && !prot.contains(Prot::EXEC));
        if denied && !(force && !(write && shared && !prot.contains(Prot::WRITE))) {
            return Err(bad(FaultError::Access));
        }
        // The entry, whether its table is shared, and the table if it is
        // this space's own: one walk (`set_leaf` writes it without another).
        let mut entry = inner.pt.fault_entry(&DirectMap, va);
        if entry.shared && (write || entry.pte & PTE_P == 0) {
            // A page table shared with another address space since fork
            // (On-demand-fork): this space gets its own copy first.
            let n =
                inner.pt.unshare_range(&DirectMap, va, va + 1).ok_or(FaultError::OutOfMemory)?;
            ctr::global_add(ctr::PAGE_TABLES_UNSHARED, n);
            crate::trace_event!(MmPageTableUnshare if n > 0; 0, va, n);
            let block = va & !(PT_SPAN - 1);
            inner.flush(block, block + PT_SPAN);
            entry = inner.pt.fault_entry(&DirectMap, va);
        }
        let pte = entry.pte;
        if pte & PTE_P != 0 {
            if write && pte & PTE_RW == 0 {
                return do_wp_page(inner, va, entry, prot, shared);
            }
            // Already mapped as needed (a fault another CPU resolved first).
            return Ok(());
        }
        let is_file = matches!(backing, Backing::File(_));
        let frame = match backing {
            Backing::Anon => {
                ctr::global_add(ctr::PAGES_ZERO_FILLED, 1);
                alloc_zeroed_frame().ok_or(FaultError::OutOfMemory)?
            }
            Backing::Shared(obj) => {
                ctr::global_add(ctr::PAGES_SHARED_FILLED, 1);
                obj.get(pgoff).ok_or(FaultError::OutOfMemory)?
            }
            // Linux `do_fault`: `do_shared_fault` maps the file's page itself;
            // `do_cow_fault` a copy for a write to a private mapping;
            // `do_read_fault` the file's page read-only (written later, it is
            // copied by `do_wp_page`).
            Backing::File(f) => {
                let page = f.cache.get_page(pgoff).ok_or_else(|| bad(FaultError::PastEof))?;
                if write && !shared {
                    let Some(copy) = crate::mm::alloc_data_frame() else {
                        put_frame(page);
                        return Err(FaultError::OutOfMemory);
                    };
                    crate::mm::bulk::copy_page(&copy, page);
                    put_frame(page);
                    copy.into_phys()
                } else {
                    page
                }
            }
            Backing::EntryPage => return Err(bad(FaultError::Access)),
        };
        let writable = !is_file || shared || write;
        if !set_leaf(inner, va, entry, leaf(frame, prot, writable)) {
            put_frame(frame);
            return Err(FaultError::OutOfMemory);
        }
        inner.add_rss(1);
        Ok(())
    }
}

impl Mm {
    /// `mmap` (Linux `do_mmap` checks): anonymous mappings, and mappings of
    /// `file` (the system-call layer found it from the descriptor: EBADF is
    /// its) when MAP_ANONYMOUS is not given.
    pub fn mmap(
        &self,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        file: Option<MmapFile>,
        offset: u64,
    ) -> Result<u64, Errno> {
        let prot = Prot::from_bits(prot).ok_or(EINVAL)?;
        if len == 0 {
            return Err(EINVAL);
        }
        if flags & !MAP_KNOWN != 0 && flags & MAP_TYPE == MAP_SHARED_VALIDATE {
            return Err(crate::errno::EOPNOTSUPP);
        }
        let shared = match flags & MAP_TYPE {
            MAP_SHARED | MAP_SHARED_VALIDATE => true,
            MAP_PRIVATE => false,
            _ => return Err(EINVAL),
        };
        if !offset.is_multiple_of(PAGE_SIZE) {
            return Err(EINVAL);
        }
        let len = page_up(len).ok_or(ENOMEM)?;
        if len > USER_TOP {
            return Err(ENOMEM);
        }
        let pgoff = offset / PAGE_SIZE;
        let file = match file {
            Some(f) if flags & MAP_ANONYMOUS == 0 => {
                // Linux `do_mmap`, `file_mmap_ok` (MAX_LFS_FILESIZE), then the
                // file's access mode and `f_op->mmap`.
                let pages = len / PAGE_SIZE;
                let max_pages = (i64::MAX as u64) / PAGE_SIZE;
                if pgoff.checked_add(pages).is_none_or(|e| e > max_pages) {
                    return Err(EOVERFLOW);
                }
                if shared && prot.contains(Prot::WRITE) && !f.writable {
                    return Err(EACCES);
                }
                if !f.readable {
                    return Err(EACCES);
                }
                let cache = f.cache.ok_or(ENODEV)?;
                if flags & MAP_GROWSDOWN != 0 {
                    return Err(EINVAL);
                }
                Some(FileMap { cache, ino: f.ino, path: f.path, may_write: f.writable })
            }
            _ => None,
        };
        if flags & MAP_HUGETLB != 0 {
            return Err(EINVAL);
        }
        let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        if fixed
            && (!addr.is_multiple_of(PAGE_SIZE)
                || addr.checked_add(len).is_none_or(|e| e > USER_TOP))
        {
            return Err(EINVAL);
        }
        let mut inner = self.inner.lock();
        // Linux `do_mmap`'s `map_count > sysctl_max_map_count`, before
        // anything is unmapped (and a MAP_FIXED hole in one area at the limit,
        // as munmap's): a refused mapping loses nothing of what was there.
        if inner.vmas.len() > crate::mm::vma::max_map_count()
            || (fixed && inner.vmas.unmap_exceeds_map_count(addr, addr + len))
        {
            return Err(ENOMEM);
        }
        let start = if fixed {
            if !inner.vmas.is_range_free(addr, addr + len) {
                if flags & MAP_FIXED_NOREPLACE != 0 {
                    return Err(EEXIST);
                }
                inner.prepare_zap(addr, addr + len)?;
                inner.vmas.remove_range(addr, addr + len);
                inner.zap(addr, addr + len);
            }
            addr
        } else {
            let hint = (addr != 0).then(|| page_down(addr)).filter(|&h| h >= MMAP_MIN_ADDR);
            // Areas of 2 MiB or more start on a 2 MiB boundary, as Linux aligns
            // large anonymous mappings (`thp_get_unmapped_area`), and areas of
            // 1 GiB or more on a 1 GiB boundary: their page tables (and
            // directories) are then whole, and fork shares them.
            let align = if len >= PD_SPAN { PD_SPAN } else { PT_SPAN };
            let aligned = (hint.is_none() && len >= PT_SPAN && file.is_none())
                .then(|| {
                    let padded = len.checked_add(align)?;
                    inner.vmas.find_free(padded, None, MMAP_MIN_ADDR, MMAP_BASE)
                })
                .flatten()
                .map(|a| a.next_multiple_of(align));
            match aligned {
                Some(a) => a,
                None => inner.vmas.find_free(len, hint, MMAP_MIN_ADDR, MMAP_BASE).ok_or(ENOMEM)?,
            }
        };
        let shared_flag = if shared { VmFlags::SHARED } else { VmFlags::empty() };
        let (vflags, backing, pgoff) = match file {
            Some(f) => (shared_flag, Backing::File(f), pgoff),
            None if shared => (shared_flag, Backing::Shared(Arc::new(SharedAnon::default())), 0),
            None => (shared_flag, Backing::Anon, 0),
        };
        let vflags = if flags & MAP_GROWSDOWN != 0 { vflags | VmFlags::GROWSDOWN } else { vflags };
        inner.insert(Vma::new(start, start + len, prot, vflags, pgoff, backing))?;
        Ok(start)
    }

    /// `msync` (Linux `mm/msync.c`): the checks, and nothing to write back (the
    /// file's pages are the file system's data). EINVAL for unknown flags, an
    /// unaligned start or MS_ASYNC with MS_SYNC; ENOMEM if part of the range
    /// is not mapped.
    pub fn msync(&self, start: u64, len: u64, flags: u32) -> Result<(), Errno> {
        let Some((start, end)) = crate::mm::vma::msync_range(start, len, flags)? else {
            return Ok(());
        };
        if !self.inner.lock().vmas.is_range_mapped(start, end) {
            return Err(ENOMEM);
        }
        // MS_INVALIDATE on a locked area would be EBUSY: nothing is locked here.
        Ok(())
    }

    /// Remove the page-table entries of every area mapping `cache` at page
    /// offsets from `pgoff` on (Linux `unmap_mapping_range` after a
    /// truncate, copies of private mappings included): later accesses fault
    /// and, past the end of the file, get SIGBUS.
    pub fn unmap_mapping_range(&self, cache: &Arc<PageCache>, pgoff: u64) {
        let mut inner = self.inner.lock();
        let ranges: Vec<(u64, u64)> = inner
            .vmas
            .iter()
            .filter_map(|v| match &v.backing {
                Backing::File(f) if Arc::ptr_eq(&f.cache, cache) => {
                    let skip = pgoff.saturating_sub(v.pgoff);
                    let from = v.start.saturating_add(skip.saturating_mul(PAGE_SIZE));
                    (from < v.end).then_some((from, v.end))
                }
                _ => None,
            })
            .collect();
        for (from, to) in ranges {
            // Only private anonymous areas share page tables: nothing to
            // unshare here, and the check cannot fail.
            if inner.prepare_zap(from, to).is_ok() {
                inner.zap(from, to);
            }
        }
    }

    /// The key of the futex word at `addr` (Linux `get_futex_key`): with
    /// `shared` (no FUTEX_PRIVATE_FLAG), a word in a shared mapping is keyed
    /// by the object and offset, so that every process mapping it meets there;
    /// anything else by this address space and the address.
    pub fn futex_key(&self, addr: u64, shared: bool) -> FutexKey {
        let private = FutexKey::Private { mm: self as *const Mm as usize, addr };
        if !shared {
            return private;
        }
        let inner = self.inner.lock();
        let Some(v) = inner.vmas.find(addr) else { return private };
        if !v.flags.contains(VmFlags::SHARED) {
            return private;
        }
        let offset = v.pgoff_of(addr) * PAGE_SIZE + addr % PAGE_SIZE;
        match &v.backing {
            Backing::Shared(o) => FutexKey::Shared { object: Arc::as_ptr(o) as usize, offset },
            Backing::File(f) => FutexKey::Shared { object: Arc::as_ptr(&f.cache) as usize, offset },
            _ => private,
        }
    }

    /// Fault in `[start, start + len)` after an `mmap` with MAP_POPULATE
    /// (Linux `mm_populate`, outside the mmap itself): private anonymous
    /// memory gets zeroed pages straight into the page tables, one pass per
    /// table (`populate_vma_page_range` without a fault per page); anything
    /// else a fault per page. The first page that cannot be had ends it, as
    /// does `stop()` (the caller's fatal signal: Linux's `__get_user_pages`
    /// checks one per page): going on would be a failing fault per page of a
    /// range that may be 128 TiB, or minutes of zeroing that SIGKILL could not
    /// end. What is not populated is demand-faulted later; mmap succeeded.
    pub fn mm_populate(&self, start: u64, len: u64, stop: impl Fn() -> bool) {
        let Some(end) = page_up(len).and_then(|l| start.checked_add(l)) else { return };
        let mut inner = self.inner.lock();
        let Some(vma) = inner.vmas.find(start) else { return };
        let (prot, end) = (vma.prot, end.min(vma.end));
        if prot.is_empty() {
            return;
        }
        if matches!(vma.backing, Backing::Anon) && !vma.flags.contains(VmFlags::SHARED) {
            let filled = inner.pt.fill(&DirectMap, start, end, || {
                if stop() {
                    return None;
                }
                crate::mm::alloc_zeroed_frame().map(|f| leaf(f, prot, true))
            });
            ctr::global_add(ctr::PAGES_ZERO_FILLED, filled);
            inner.add_rss(filled);
            return;
        }
        drop(inner);
        for va in (start..end).step_by(PAGE_SIZE as usize) {
            if stop() || self.handle_fault(va, prot.contains(Prot::WRITE), false).is_err() {
                break;
            }
        }
    }

    /// `munmap` (Linux `do_munmap`).
    pub fn munmap(&self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(EINVAL);
        }
        let len = page_up(len).ok_or(EINVAL)?;
        let end = addr.checked_add(len).filter(|&e| e <= USER_TOP).ok_or(EINVAL)?;
        let mut inner = self.inner.lock();
        if inner.vmas.unmap_exceeds_map_count(addr, end) {
            return Err(ENOMEM);
        }
        inner.prepare_zap(addr, end)?;
        inner.vmas.remove_range(addr, end);
        inner.zap(addr, end);
        Ok(())
    }

    /// `mprotect` (Linux `do_mprotect_pkey`).
    pub fn mprotect(&self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        use uapi::mman::{PROT_GROWSDOWN, PROT_GROWSUP};
        if !addr.is_multiple_of(PAGE_SIZE)
            || prot & (PROT_GROWSDOWN | PROT_GROWSUP) == PROT_GROWSDOWN | PROT_GROWSUP
        {
            return Err(EINVAL);
        }
        let prot = Prot::from_bits(prot & !(PROT_GROWSDOWN | PROT_GROWSUP)).ok_or(EINVAL)?;
        if len == 0 {
            return Ok(());
        }
        let len = page_up(len).ok_or(ENOMEM)?;
        let end = addr.checked_add(len).filter(|&e| e <= USER_TOP).ok_or(ENOMEM)?;
        let mut inner = self.inner.lock();
        // A shared mapping of a file not open for writing never becomes
        // writable (Linux: VM_WRITE without VM_MAYWRITE).
        if prot.contains(Prot::WRITE)
            && inner.vmas.overlapping(addr, end).any(|v| {
                v.flags.contains(VmFlags::SHARED)
                    && matches!(&v.backing, Backing::File(f) if !f.may_write)
            })
        {
            return Err(EACCES);
        }
        // Shared page tables first become private: the reference counts below
        // then tell which pages another process still maps.
        let n = inner.pt.unshare_range(&DirectMap, addr, end).ok_or(ENOMEM)?;
        ctr::global_add(ctr::PAGE_TABLES_UNSHARED, n);
        crate::trace_event!(MmPageTableUnshare if n > 0; 0, addr, n);
        inner.vmas.protect_range(addr, end, prot)?;
        let mut updates = Vec::new();
        inner.pt.for_each_leaf(&DirectMap, addr, end, |va, pte| updates.push((va, pte)));
        for (va, pte) in updates {
            let frame = pte & PTE_ADDR;
            // A private page another process still maps stays read-only (COW).
            let exclusive = pte & PTE_RW != 0 || frame_refcount(frame) == 1;
            inner.pt.set(&DirectMap, va, leaf(frame, prot, exclusive));
        }
        inner.flush(addr, end);
        Ok(())
    }

    /// `brk` (Linux `SYSCALL_DEFINE1(brk)`): the new break, or the old one when
    /// the request cannot be met.
    pub fn brk(&self, new: u64) -> u64 {
        let mut inner = self.inner.lock();
        let old = inner.brk;
        if new < inner.brk_start {
            return old;
        }
        let (old_end, new_end) = match (page_up(old), page_up(new)) {
            (Some(a), Some(b)) if b <= MMAP_BASE => (a, b),
            _ => return old,
        };
        if new_end > old_end {
            if !inner.vmas.is_range_free(old_end, new_end) {
                return old;
            }
            let rw = Prot::READ | Prot::WRITE;
            if inner
                .insert(Vma::new(
                    old_end,
                    new_end,
                    rw,
                    VmFlags::empty(),
                    old_end / PAGE_SIZE,
                    Backing::Anon,
                ))
                .is_err()
            {
                return old;
            }
        } else if new_end < old_end {
            if inner.prepare_zap(new_end, old_end).is_err() {
                return old;
            }
            inner.vmas.remove_range(new_end, old_end);
            inner.zap(new_end, old_end);
        }
        inner.brk = new;
        new
    }

    /// Set the program break's start (exec: just above the loaded image).
    pub fn set_brk_start(&self, start: u64) {
        let mut inner = self.inner.lock();
        inner.brk_start = start;
        inner.brk = start;
    }

    /// Map `[start, end)` private anonymous with `prot` (exec's segments and stack).
    pub fn map_anon(&self, start: u64, end: u64, prot: Prot, flags: VmFlags) -> Result<(), Errno> {
        let pgoff = start / PAGE_SIZE;
        self.inner.lock().insert(Vma::new(start, end, prot, flags, pgoff, Backing::Anon))
    }

    /// Write `data` at user address `va` of this (not necessarily loaded) address
    /// space, allocating its pages (exec: segments and the initial stack).
    pub fn populate(&self, va: u64, data: &[u8]) -> Result<(), Errno> {
        self.populate_rewritten(va, data, None)
    }

    /// [`Mm::populate`], then each 2-byte site of `rw` that landed holding
    /// `rw.from` rewritten to `rw.to`: exec's rewrite of the text it copies
    /// (`exec::zpoline`). Pages that `data` fills entirely are not zeroed
    /// first.
    pub fn populate_rewritten(
        &self,
        va: u64,
        data: &[u8],
        rw: Option<&Rewrite<'_>>,
    ) -> Result<(), Errno> {
        if data.is_empty() {
            return Ok(());
        }
        let mut inner = self.inner.lock();
        let sites = rw.map_or(&[][..], |r| r.sites);
        let bias = rw.map_or(0, |r| r.bias);
        // The first site at or after `va`.
        let mut next = sites.partition_point(|&s| s.wrapping_add(bias) < va);
        let mut straddling = Vec::new();
        let end = va + data.len() as u64;
        let MmInner { pt, vmas, .. } = &mut *inner;
        // The area of the page before (pages come in address order, mostly
        // in one area), and the pages mapped.
        let mut area: Option<(u64, u64, Prot)> = None;
        let mut mapped = 0;
        // One table walk per page table, not per page.
        pt.update_range(&DirectMap, va, end, ENOMEM, |page, pte| {
            let addr = page.max(va);
            let (off, done) = ((addr - page) as usize, (addr - va) as usize);
            let n = (PAGE_SIZE as usize - off).min(data.len() - done);
            let prot = match area {
                Some((start, end, prot)) if start <= addr && addr < end => prot,
                _ => {
                    let v = vmas.find(addr).ok_or(EINVAL)?;
                    area = Some((v.start, v.end, v.prot));
                    v.prot
                }
            };
            let (frame, new) = if pte & PTE_P != 0 {
                (pte & PTE_ADDR, None)
            } else {
                let whole = n == PAGE_SIZE as usize;
                let f = if whole { crate::mm::alloc_frame() } else { alloc_zeroed_frame() };
                let f = f.ok_or(ENOMEM)?;
                mapped += 1;
                (f, Some(leaf(f, prot, true)))
            };
            // A frame of this new mapping's (just allocated, or mapped by a
            // user leaf entry): data, which the VMM may write. A new frame's
            // entry is written after the copy.
            crate::mm::bulk::copy_to_page(
                &crate::mm::bulk::DataFrame::user_leaf(frame),
                off,
                &data[done..done + n],
            );
            let dst = crate::arch::boot::phys_slice_mut(frame + off as u64, n);
            let end = addr + n as u64;
            if let Some(rw) = rw {
                while let Some(at) = sites.get(next).map(|&s| s.wrapping_add(bias)) {
                    if at >= end {
                        break;
                    }
                    let i = (at - addr) as usize;
                    match dst.get_mut(i..i + 2) {
                        Some(b) if *b == rw.from => b.copy_from_slice(&rw.to),
                        Some(_) => {}
                        // Across this page's end: after the copy.
                        None => straddling.push(at),
                    }
                    next += 1;
                }
            }
            Ok(new)
        })
        .inspect_err(|_| inner.add_rss(mapped))?;
        inner.add_rss(mapped);
        drop(inner);
        for at in straddling.into_iter().filter(|&at| at + 2 <= va + data.len() as u64) {
            let i = (at - va) as usize;
            if data[i..i + 2] == rw.map_or([0; 2], |r| r.from) {
                self.populate(at, &rw.map_or([0; 2], |r| r.to))?;
            }
        }
        Ok(())
    }

    /// What the OOM killer weighs (Linux `total_vm`, `get_mm_rss`,
    /// `mm_pgtables_bytes`): mapped pages, present pages, page-table pages;
    /// all three kept as counts, as Linux keeps them. (Counting the present
    /// pages by a walk over the page tables, as this did, cost thousands of
    /// instructions per process: with that and a quadratic search among the
    /// candidates, one OOM kill among a fork bomb's 500 processes kept both
    /// CPUs in ring 0 for 5 s, in a `--trace` of it.)
    pub fn oom_footprint(&self) -> OomFootprint {
        let inner = self.inner.lock();
        OomFootprint {
            total_vm_pages: inner.vmas.total_pages(),
            rss_pages: inner.rss,
            pgtable_pages: inner.pt.page_tables() as u64,
        }
    }

    /// Set the arguments `/proc/PID/cmdline` shows (exec, once).
    pub fn set_cmdline(&self, args: Arc<[u8]>) {
        self.cmdline.call_once(|| args);
    }

    /// The arguments exec gave the program (empty before an exec).
    pub fn cmdline(&self) -> Arc<[u8]> {
        self.cmdline.get().cloned().unwrap_or_else(|| Arc::from(&[][..]))
    }

    /// The areas in address order, named as Linux names them: `[heap]` for
    /// the one `brk` grew, `[stack]` for the one holding the initial stack,
    /// `[vdso]` for the entry page (the kernel-provided code page).
    pub fn map_areas(&self) -> Vec<MapArea> {
        let inner = self.inner.lock();
        let (brk_start, brk) = (inner.brk_start, inner.brk);
        inner
            .vmas
            .iter()
            .map(|v| {
                let name = if matches!(v.backing, Backing::EntryPage) {
                    "[vdso]"
                } else if v.start < STACK_TOP && STACK_TOP <= v.end {
                    "[stack]"
                } else if brk > brk_start && v.start <= brk && v.end > brk_start {
                    "[heap]"
                } else {
                    ""
                };
                let file = match &v.backing {
                    Backing::File(f) => Some((f.path.clone(), f.ino)),
                    _ => None,
                };
                MapArea {
                    start: v.start,
                    end: v.end,
                    prot: v.prot,
                    shared: v.flags.contains(VmFlags::SHARED),
                    // Anonymous areas show offset 0 (Linux: only a file's
                    // `vm_pgoff` is shown).
                    pgoff: if file.is_some() { v.pgoff * PAGE_SIZE } else { 0 },
                    name,
                    file,
                }
            })
            .collect()
    }

    /// The most pages this space has had mapped (Linux `get_mm_hiwater_rss`).
    pub fn hiwater_rss_pages(&self) -> u64 {
        self.inner.lock().hiwater_rss
    }

    /// Bytes of mapped areas (for tests and counters).
    pub fn mapped_pages(&self) -> u64 {
        self.inner.lock().vmas.total_pages()
    }

    /// For the boot probe: one private read/write page at `va`.
    pub fn map_fixed_for_probe(&self, va: u64) -> Result<(), Errno> {
        self.map_anon(va, va + PAGE_SIZE, Prot::READ | Prot::WRITE, VmFlags::empty())
    }
}

/// A write to a read-only page of a writable area (Linux `do_wp_page`): reuse
/// the page when the area is shared or this is the page's only user, else
/// copy it.
fn do_wp_page(
    inner: &mut MmInner,
    va: u64,
    entry: FaultEntry,
    prot: Prot,
    vma_shared: bool,
) -> Result<(), FaultError> {
    let t0 = crate::arch::rdtsc();
    let r = wp_page_copy_or_reuse(inner, va, entry, prot, vma_shared);
    ctr::global_add(ctr::DO_WP_PAGE_TSC, crate::arch::rdtsc().wrapping_sub(t0));
    ctr::global_add(ctr::DO_WP_PAGE_CALLS, 1);
    r
}

fn wp_page_copy_or_reuse(
    inner: &mut MmInner,
    va: u64,
    entry: FaultEntry,
    prot: Prot,
    vma_shared: bool,
) -> Result<(), FaultError> {
    let old = entry.pte & PTE_ADDR;
    let cpu = crate::arch::cpu_id();
    if vma_shared || frame_refcount(old) == 1 {
        ctr::cpu_add(cpu, ctr::CPU_COW_REUSES, 1);
        crate::trace_event!(MmCowFault, 0, va, 0);
        set_leaf(inner, va, entry, leaf(old, prot, true));
    } else {
        ctr::cpu_add(cpu, ctr::CPU_COW_COPIES, 1);
        crate::trace_event!(MmCowFault, 0, va, 1);
        let new = crate::mm::alloc_data_frame().ok_or(FaultError::OutOfMemory)?;
        crate::mm::bulk::copy_page(&new, old);
        let new = new.into_phys();
        set_leaf(inner, va, entry, leaf(new, prot, true));
        // Our reference goes after the flush: until then another CPU running
        // this space may still read the old page through its TLB, and if the
        // other users dropped theirs meanwhile the page would be free (Linux:
        // `ptep_clear_flush` before `page_remove_rmap`).
        inner.flush(va, va + PAGE_SIZE);
        put_frame(old);
        return Ok(());
    }
    // Reuse only adds write permission to the same page: no flush (Linux
    // `wp_page_reuse`). This CPU's page fault already dropped its TLB entry
    // for `va` (x86 invalidates the faulting address's entries on #PF); a
    // stale read-only entry on another CPU of this space at worst makes a
    // write fault there, which `handle_fault` finds already resolved (also
    // for the kernel's user accesses: `uaccess_fault` retries).
    Ok(())
}

impl Drop for Mm {
    /// Tear the address space down: no entry is cleared one by one; each page
    /// table's last user releases the pages it maps, then the tables go.
    fn drop(&mut self) {
        let inner = self.inner.get_mut();
        if mmu::current_cr3() == inner.pt.root {
            // Never free tables that are loaded.
            mmu::load_cr3(mmu::kernel_root());
        }
        inner.pt.destroy_within(&DirectMap, inner.vmas.iter().map(|v| (v.start, v.end)));
    }
}
