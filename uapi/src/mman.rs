//! `mmap`/`mprotect` protections and `mmap` flags
//! (`include/uapi/asm-generic/mman-common.h`, `mman.h`, `linux/mman.h`).

crate::constants! {
    /// No access.
    PROT_NONE: u32 = 0x0;
    /// Readable.
    PROT_READ: u32 = 0x1;
    /// Writable.
    PROT_WRITE: u32 = 0x2;
    /// Executable.
    PROT_EXEC: u32 = 0x4;
    /// `mprotect`: extend the change down to the start of a grows-down area.
    PROT_GROWSDOWN: u32 = 0x0100_0000;
    /// `mprotect`: extend the change up to the end of a grows-up area.
    PROT_GROWSUP: u32 = 0x0200_0000;

    /// Changes are shared.
    MAP_SHARED: u32 = 0x01;
    /// Changes are private (copy-on-write).
    MAP_PRIVATE: u32 = 0x02;
    /// `MAP_SHARED` that fails on unknown flags.
    MAP_SHARED_VALIDATE: u32 = 0x03;
    /// The mask of the mapping type (shared, private, ...).
    MAP_TYPE: u32 = 0x0f;
    /// Place the mapping exactly at the address, replacing what is there.
    MAP_FIXED: u32 = 0x10;
    /// Not backed by a file.
    MAP_ANONYMOUS: u32 = 0x20;
    /// A stack that grows down.
    MAP_GROWSDOWN: u32 = 0x0100;
    /// Ignored.
    MAP_DENYWRITE: u32 = 0x0800;
    /// Ignored.
    MAP_EXECUTABLE: u32 = 0x1000;
    /// Lock the pages in memory.
    MAP_LOCKED: u32 = 0x2000;
    /// Do not reserve swap.
    MAP_NORESERVE: u32 = 0x4000;
    /// Fault the pages in now.
    MAP_POPULATE: u32 = 0x8000;
    /// With `MAP_POPULATE`: do not block on I/O.
    MAP_NONBLOCK: u32 = 0x1_0000;
    /// The mapping is a thread stack.
    MAP_STACK: u32 = 0x2_0000;
    /// Huge pages.
    MAP_HUGETLB: u32 = 0x4_0000;
    /// Like `MAP_FIXED`, but fail (EEXIST) rather than replace a mapping.
    MAP_FIXED_NOREPLACE: u32 = 0x10_0000;

    /// `msync`: schedule the write-back, return at once.
    MS_ASYNC: u32 = 1;
    /// `msync`: invalidate other mappings of the same file.
    MS_INVALIDATE: u32 = 2;
    /// `msync`: write back and wait for it.
    MS_SYNC: u32 = 4;

    /// What `mmap` returns on failure in C (`(void *)-1`).
    MAP_FAILED: usize = usize::MAX;
}

/// The end of the x86-64 user address space with 4-level paging (Linux
/// `TASK_SIZE_MAX`: the top page below the canonical hole is never mapped).
/// Not in the uapi headers, but part of the ABI: `access_ok` checks user
/// ranges against it, `mmap` never maps above it.
pub const TASK_SIZE_MAX: u64 = 0x0000_7fff_ffff_f000;
