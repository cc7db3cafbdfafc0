//! Copy-on-write through shared page tables: a parent with a large private
//! mapping (8 MiB, four whole page tables in the guest, which fork shares
//! instead of copying) forks, and parent and child then read, write, fill new
//! pages, mprotect and munmap inside the shared range in a fixed order, each
//! checking that it sees exactly its own view. Prints `ok ...` lines (the same
//! on Linux) and exits with the number of failed checks.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

const PAGE: usize = 4096;
const TABLE: usize = 2 << 20;
const TABLES: usize = 4;
/// One word in every 16th page is written (so every table exists).
const STRIDE: usize = 16 * PAGE;

const BEFORE: u64 = 0x1111_0000_0000_0000;
const PARENT: u64 = 0x2222_0000_0000_0000;
const CHILD: u64 = 0x3333_0000_0000_0000;

fn word(base: usize, off: usize) -> *mut u64 {
    (base + off) as *mut u64
}

fn fill(base: usize, from: usize, to: usize, tag: u64) {
    for off in (from..to).step_by(STRIDE) {
        // SAFETY: inside the mapping this program made and still has mapped.
        unsafe { word(base, off).write_volatile(tag | off as u64) };
    }
}

/// Whether every sampled word of `[from, to)` holds `tag`.
fn holds(base: usize, from: usize, to: usize, tag: u64) -> bool {
    // SAFETY: as in `fill`.
    (from..to)
        .step_by(STRIDE)
        .all(|off| unsafe { word(base, off).read_volatile() } == tag | off as u64)
}

fn signal(fd: i32) {
    put_byte(fd, 1);
}

fn reaped(c: &mut Checker, name: impl core::fmt::Display, pid: usize) {
    c.check(name, matches!(reap(pid), Some(WaitStatus::Exited(0))));
}

/// The stack grows down on demand, far past what a new program starts with
/// (1 MiB below the current frame), and fork copies the grown part.
fn grown_stack(c: &mut Checker) {
    let mut here = 0u64;
    let deep = ((&mut here as *mut u64 as usize - (1 << 20)) & !7) as *mut u64;
    // SAFETY: 1 MiB below the stack pointer is inside the 8 MiB stack limit
    // (RLIMIT_STACK) and nothing else of this program lives there.
    unsafe { deep.write_volatile(0x5eed) };
    // SAFETY: as above.
    c.check("the stack grows 1 MiB down on demand", unsafe { deep.read_volatile() } == 0x5eed);
    match fork() {
        // SAFETY: the child has a copy of the grown stack.
        Ok(0) => exit_group(if unsafe { deep.read_volatile() } == 0x5eed { 0 } else { 1 }),
        Ok(pid) => reaped(c, "a child sees the grown stack", pid),
        Err(e) => c.fail("fork after growing the stack", e),
    }
}

/// One fork+exit+wait between the counter snapshots `b LABEL` and `e LABEL`.
fn fork_between_snapshots(c: &mut Checker, label: &str) {
    counters_snapshot(userspace::text::fmt::<80>(format_args!("b {label}")).str());
    match fork() {
        Ok(0) => exit_group(0),
        Ok(pid) => reaped(c, label, pid),
        Err(e) => c.fail(label, e),
    }
    counters_snapshot(userspace::text::fmt::<80>(format_args!("e {label}")).str());
}

/// Fork shares the page table of a block that only a private anonymous
/// area covers in part (`partly_covered_tables`, which a parent's forks
/// reuse while its areas stay the same): one more such block after an mmap
/// is one more table shared by the next fork, and none after the munmap
/// (tests/programs_in_guest.rs compares the counters between the snapshots).
fn new_partial_block(c: &mut Checker) {
    fork_between_snapshots(c, "partial before");
    // One page in a 2 MiB block of its own, far from the program's areas.
    let at = 0x3f00_0000_0000 + 5 * PAGE;
    // SAFETY: a fresh private anonymous page at an address nothing else uses.
    let r = unsafe {
        mmap(
            at,
            PAGE,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    c.check("mmap one page in a block of its own", r == Ok(at));
    if r != Ok(at) {
        return;
    }
    // SAFETY: the page just mapped.
    unsafe { (at as *mut u64).write_volatile(7) };
    fork_between_snapshots(c, "partial with");
    // SAFETY: unmapping the page mapped above.
    c.check("munmap it", unsafe { munmap(at, PAGE) }.is_ok());
    fork_between_snapshots(c, "partial after");
}

/// Sizes that only the page tables in use may cost: a fork with a 32 TiB
/// area of which two pages are touched, the same with 1022 MiB (no whole
/// GiB in it), and a MAP_POPULATE mapping of 32 TiB
/// that cannot be populated (PROT_NONE), both as quick as small ones (before
/// the fix the guest's fork visited every 2 MiB of the area, and populate
/// took a failing fault per page: hours; the fuzzer found it as a process
/// SIGKILL did not end).
fn huge_sparse(c: &mut Checker) {
    const HUGE: usize = 32 << 40;
    sparse_fork(c, HUGE, "32 TiB");
    // Under a GiB, with no whole GiB to share: in the guest the fork shares
    // its two page tables from the parent's list of tables rather than
    // looking at each of its 511 blocks.
    sparse_fork(c, GIB - TABLE, "1022 MiB");
    let flags = MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE;
    // SAFETY: a fresh mapping nothing can touch (PROT_NONE), unmapped below.
    match unsafe { mmap(0, HUGE, PROT_NONE, flags, -1, 0) } {
        Ok(a) => {
            c.check("MAP_POPULATE of 32 TiB PROT_NONE returns", true);
            // SAFETY: as above.
            let _ = unsafe { munmap(a, HUGE) };
        }
        Err(e) => c.fail("MAP_POPULATE of 32 TiB PROT_NONE", e),
    }
}

/// Map `len` bytes (MAP_NORESERVE), touch the first and the last page, fork:
/// the child sees both and its write to the first stays its own.
fn sparse_fork(c: &mut Checker, len: usize, size: &str) {
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    // SAFETY: a fresh private anonymous mapping, unmapped below.
    let a = match unsafe { mmap(0, len, PROT_READ | PROT_WRITE, flags, -1, 0) } {
        Ok(a) => a,
        Err(e) => return c.fail(format_args!("mmap {size} MAP_NORESERVE"), e),
    };
    let (first, last) = (word(a, 0), word(a, len - PAGE));
    // SAFETY: both pages are inside the mapping.
    unsafe {
        first.write_volatile(BEFORE);
        last.write_volatile(PARENT);
    }
    match fork() {
        // SAFETY: the child has the same mapping, copy-on-write.
        Ok(0) => exit_group(unsafe {
            let seen = first.read_volatile() == BEFORE && last.read_volatile() == PARENT;
            first.write_volatile(CHILD);
            i32::from(!seen || first.read_volatile() != CHILD)
        }),
        Ok(pid) => reaped(
            c,
            format_args!("fork with a {size} area, two pages touched: the child sees both"),
            pid,
        ),
        Err(e) => c.fail(format_args!("fork with a {size} area"), e),
    }
    // SAFETY: the mapping is still there.
    let kept = unsafe { first.read_volatile() == BEFORE && last.read_volatile() == PARENT };
    c.check(format_args!("the parent's view of the {size} area after the child's write"), kept);
    // SAFETY: nothing uses the mapping any more.
    c.check(format_args!("munmap the {size} area"), unsafe { munmap(a, len) }.is_ok());
}

const GIB: usize = 1 << 30;
const GRAND: u64 = 0x4444_0000_0000_0000;

/// Whether the word of each page table in `tables` holds `tag`.
fn dir_holds(base: usize, tables: core::ops::Range<usize>, tag: u64) -> bool {
    // SAFETY: inside the mapping `whole_directory` made and still has mapped.
    tables
        .map(|t| t * TABLE)
        .all(|off| unsafe { word(base, off).read_volatile() } == tag | off as u64)
}

fn dir_fill(base: usize, tables: core::ops::Range<usize>, tag: u64) {
    for off in tables.map(|t| t * TABLE) {
        // SAFETY: as in `dir_holds`.
        unsafe { word(base, off).write_volatile(tag | off as u64) };
    }
}

/// The same one level up: a whole GiB (1 GiB-aligned) of a private mapping,
/// one word written in each of its 512 page tables, which the guest's fork
/// shares as one page directory. Parent, child and grandchild then write,
/// fill a new page, fork again and munmap inside it, each checking its own
/// view; then a parent writes first while a child still shares it.
fn whole_directory(c: &mut Checker) {
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    // SAFETY: a fresh private anonymous mapping, unmapped below.
    let raw = match unsafe { mmap(0, 2 * GIB, PROT_READ | PROT_WRITE, flags, -1, 0) } {
        Ok(a) => a,
        Err(e) => return c.fail("mmap 2 GiB", e),
    };
    let base = (raw + GIB - 1) & !(GIB - 1);
    let all = 0..GIB / TABLE;
    dir_fill(base, all.clone(), BEFORE);
    let [go_r, go_w] = pipe();
    match fork() {
        Ok(0) => {
            let mut c = Checker::new();
            wait_on(go_r);
            c.check(
                "GiB child: sees every table of the parent's",
                dir_holds(base, all.clone(), BEFORE),
            );
            dir_fill(base, 0..1, CHILD);
            dir_fill(base, 511..512, CHILD);
            c.check(
                "GiB child: its writes to tables 0 and 511 read back",
                dir_holds(base, 0..1, CHILD) && dir_holds(base, 511..512, CHILD),
            );
            c.check("GiB child: table 1 unchanged", dir_holds(base, 1..2, BEFORE));
            let fresh = word(base, 5 * TABLE + PAGE);
            // SAFETY: inside the mapping.
            let zero = unsafe { fresh.read_volatile() } == 0;
            // SAFETY: as above.
            unsafe { fresh.write_volatile(CHILD) };
            c.check("GiB child: an untouched page reads zero and takes a write", zero);
            match fork() {
                Ok(0) => {
                    let ok = dir_holds(base, 0..1, CHILD) && dir_holds(base, 1..511, BEFORE);
                    dir_fill(base, 7..8, GRAND);
                    // SAFETY: inside the mapping.
                    let own = unsafe { fresh.read_volatile() } == CHILD;
                    exit_group(i32::from(!(ok && own && dir_holds(base, 7..8, GRAND))));
                }
                Ok(pid) => {
                    reaped(&mut c, "GiB grandchild: sees the child's view, writes its own", pid)
                }
                Err(e) => c.fail("GiB child: fork", e),
            }
            c.check(
                "GiB child: the grandchild's write is not in its view",
                dir_holds(base, 7..8, BEFORE),
            );
            // SAFETY: half of table 9 of its own mapping.
            let un = unsafe { munmap(base + 9 * TABLE, TABLE / 2) };
            c.check("GiB child: munmap of half a table", un.is_ok());
            c.check("GiB child: the other tables still read", dir_holds(base, 10..511, BEFORE));
            exit_group(c.status());
        }
        Ok(pid) => {
            signal(go_w);
            reaped(c, "GiB child exits 0", pid);
            c.check("GiB parent: its view is untouched", dir_holds(base, all.clone(), BEFORE));
            // SAFETY: inside the mapping.
            let fresh = unsafe { word(base, 5 * TABLE + PAGE).read_volatile() };
            c.check("GiB parent: the child's new page is not in its view", fresh == 0);
        }
        Err(e) => c.fail("GiB fork 1", e),
    }
    let [go2_r, go2_w] = pipe();
    match fork() {
        Ok(0) => {
            wait_on(go2_r);
            let ok = dir_holds(base, all.clone(), BEFORE);
            dir_fill(base, all.clone(), CHILD);
            exit_group(i32::from(!(ok && dir_holds(base, all.clone(), CHILD))));
        }
        Ok(pid) => {
            dir_fill(base, 1..2, PARENT);
            signal(go2_w);
            reaped(c, "GiB child 2: sees the data from before the parent's write", pid);
            c.check(
                "GiB parent: its write survives child 2's",
                dir_holds(base, 1..2, PARENT) && dir_holds(base, 2..512, BEFORE),
            );
        }
        Err(e) => c.fail("GiB fork 2", e),
    }
    // SAFETY: nothing uses the mapping any more.
    c.check("munmap the 2 GiB", unsafe { munmap(raw, 2 * GIB) }.is_ok());
    for fd in [go_r, go_w, go2_r, go2_w] {
        let _ = close(fd);
    }
}

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    huge_sparse(&mut c);
    whole_directory(&mut c);
    let len = TABLES * TABLE;
    // SAFETY: a fresh private anonymous mapping; one extra table for alignment.
    let raw = match unsafe {
        mmap(0, len + TABLE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    } {
        Ok(a) => a,
        Err(e) => {
            c.fail("mmap", e);
            return 1;
        }
    };
    let base = (raw + TABLE - 1) & !(TABLE - 1);
    fill(base, 0, len, BEFORE);

    // Child 1 reads and writes the shared tables while the parent waits; then
    // the parent checks that nothing of the child's leaked into its view.
    let [go_r, go_w] = pipe();
    let [done_r, done_w] = pipe();
    match fork() {
        Ok(0) => {
            let mut c = Checker::new();
            wait_on(go_r);
            c.check(
                "child: sees the parent's data through the shared tables",
                holds(base, 0, len, BEFORE),
            );
            fill(base, 0, TABLE, CHILD);
            c.check("child: its write to table 0 reads back", holds(base, 0, TABLE, CHILD));
            c.check(
                "child: table 1 unchanged by the write to table 0",
                holds(base, TABLE, 2 * TABLE, BEFORE),
            );
            // A page never touched, in a shared table: demand-zero in the child.
            let fresh = word(base, TABLE + PAGE);
            // SAFETY: inside the mapping.
            let zero = unsafe { fresh.read_volatile() } == 0;
            // SAFETY: as above.
            unsafe { fresh.write_volatile(CHILD) };
            c.check("child: an untouched page reads zero and takes a write", zero);
            // SAFETY: changing the protection of pages of its own mapping.
            let ro = unsafe { mprotect(base + 2 * TABLE, TABLE, PROT_READ) };
            c.check("child: mprotect read-only inside a shared table", ro.is_ok());
            c.check(
                "child: still reads table 2 after mprotect",
                holds(base, 2 * TABLE, 3 * TABLE, BEFORE),
            );
            // SAFETY: as above.
            let rw = unsafe { mprotect(base + 2 * TABLE, TABLE, PROT_READ | PROT_WRITE) };
            c.check("child: mprotect back to read-write", rw.is_ok());
            fill(base, 2 * TABLE, 3 * TABLE, CHILD);
            // SAFETY: unmapping half of table 3 and all of nothing else.
            let un = unsafe { munmap(base + 3 * TABLE, TABLE / 2) };
            c.check("child: munmap of half a shared table", un.is_ok());
            c.check(
                "child: the other half still reads",
                holds(base, 3 * TABLE + TABLE / 2, len, BEFORE),
            );
            signal(done_w);
            exit_group(c.status());
        }
        Ok(pid) => {
            signal(go_w);
            wait_on(done_r);
            c.check(
                "parent: its view is untouched by the child's writes",
                holds(base, 0, len, BEFORE),
            );
            // SAFETY: inside the mapping.
            let fresh = unsafe { word(base, TABLE + PAGE).read_volatile() };
            c.check("parent: the child's new page is not in its view", fresh == 0);
            reaped(&mut c, "child 1 exits 0", pid);
        }
        Err(e) => c.fail("fork 1", e),
    }

    // Child 2: this time the parent writes first while the child still shares
    // the tables, then the child (the tables' last user) reads and writes.
    let [go2_r, go2_w] = pipe();
    match fork() {
        Ok(0) => {
            let mut c = Checker::new();
            wait_on(go2_r);
            c.check(
                "child 2: sees the data from before the parent's write",
                holds(base, 0, len, BEFORE),
            );
            fill(base, 0, len, CHILD);
            c.check("child 2: its writes read back", holds(base, 0, len, CHILD));
            exit_group(c.status());
        }
        Ok(pid) => {
            fill(base, 0, len, PARENT);
            signal(go2_w);
            reaped(&mut c, "child 2 exits 0", pid);
            c.check("parent: its writes survive child 2's", holds(base, 0, len, PARENT));
        }
        Err(e) => c.fail("fork 2", e),
    }

    // Child 3 exits without touching anything: the parent takes its tables
    // back and goes on writing.
    match fork() {
        Ok(0) => exit_group(0),
        Ok(pid) => {
            reaped(&mut c, "child 3 exits 0", pid);
            fill(base, 0, len, BEFORE);
            c.check("parent: writes after the sharer left", holds(base, 0, len, BEFORE));
        }
        Err(e) => c.fail("fork 3", e),
    }
    grown_stack(&mut c);
    new_partial_block(&mut c);
    // SAFETY: the whole mapping goes; nothing uses it any more.
    c.check("munmap everything", unsafe { munmap(raw, len + TABLE) }.is_ok());
    for fd in [go_r, go_w, done_r, done_w, go2_r] {
        let _ = close(fd);
    }
    c.status()
}
