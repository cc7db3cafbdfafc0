//! File mappings (Linux `mm/filemap.c`, `mm/memory.c` `do_read_fault`,
//! `do_cow_fault`, `do_shared_fault`, `mm/mmap.c` `do_mmap`, `mm/msync.c`) of
//! files in /tmp/filemap-PID: MAP_SHARED mappings see `write()` and `read()`
//! sees their stores, across fork and across execve of another process that
//! maps the same file (the program execs itself: `filemap exec-writer PATH`);
//! MAP_PRIVATE mappings see the file until they write a page, which is then
//! theirs (copy-on-write, also across fork); SIGBUS past the end of the file,
//! also after a truncate shrank a mapped file; munmap and mprotect of file
//! mappings (EACCES for PROT_WRITE on a shared mapping of a read-only file);
//! every `mmap` error for files (EBADF, EACCES, ENODEV for a pipe, a
//! directory and /dev/null, EINVAL for an unaligned offset, a zero length,
//! no mapping type, EOVERFLOW) and msync's checks. In the guest the test
//! reads the counter snapshots `filemap-before` (after a warm-up) and
//! `filemap-after`: the frames of the files and of the mappings are gone with
//! them. One line per check, exit status = number of failed checks.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::*;

userspace::entry!(main);

const P: usize = 4096;
/// The file's size: three pages and 100 bytes.
const SIZE: usize = 3 * P + 100;

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"exec-writer") {
        return exec_writer(args.get(2));
    }
    let mut c = Checker::new();
    // No core files (the host's Linux would dump SIGBUS and SIGSEGV).
    let mut lim = rlimit::default();
    if getrlimit(RLIMIT_CORE, &mut lim).is_ok() {
        lim.rlim_cur = 0;
        let _ = setrlimit(RLIMIT_CORE, &lim);
    }
    for sig in [SIGBUS, SIGSEGV] {
        let _ = signal_disposition(sig, SIG_DFL);
    }
    let mut name = [0u8; 48];
    let dir = dir_name(&mut name, getpid().unwrap_or(0));
    remove_tree(AT_FDCWD, dir);
    if !c.ok_eq("mkdir /tmp/filemap-PID", mkdirat(AT_FDCWD, dir, 0o755), 0) {
        return c.status();
    }
    if !c.ok_eq("chdir into it", chdir(dir), 0) {
        return c.status();
    }
    // Warm-up: the kernel's caches and heap as the checks will need them.
    warm_up();
    leak_check_snapshot("filemap-before");
    shared(&mut c);
    unlinked_while_mapped(&mut c);
    private(&mut c);
    fork_sharing(&mut c);
    exec_sharing(&mut c, args.get(0));
    past_the_end(&mut c);
    unmap_and_protect(&mut c);
    mmap_errors(&mut c);
    msync_checks(&mut c);
    let _ = chdir(c"/");
    remove_tree(AT_FDCWD, dir);
    leak_check_snapshot("filemap-after");
    c.status()
}

/// "/tmp/filemap-PID" in `buf`.
fn dir_name(buf: &mut [u8; 48], pid: usize) -> &CStr {
    let prefix = b"/tmp/filemap-";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 21];
    let n = decimal_cstr(pid as u64, &mut digits).to_bytes();
    buf[prefix.len()..prefix.len() + n.len()].copy_from_slice(n);
    buf[prefix.len() + n.len()] = 0;
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/tmp/filemap")
}

fn pattern(i: usize) -> u8 {
    (i * 7 + i / P) as u8
}

/// Create `path` (O_RDWR) holding SIZE bytes of `pattern`.
fn make_file(path: &CStr) -> Option<i32> {
    let fd = openat(AT_FDCWD, path, O_CREAT | O_RDWR | O_TRUNC, 0o644).ok()? as i32;
    let mut buf = [0u8; SIZE];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(i);
    }
    (write(fd, &buf) == Ok(SIZE)).then_some(fd)
}

fn map(len: usize, prot: u32, flags: u32, fd: i32, off: i64) -> Result<*mut u8, Errno> {
    // SAFETY: a new mapping where the kernel chooses: it aliases nothing.
    unsafe { mmap(0, len, prot, flags, fd, off) }.map(|a| a as *mut u8)
}

fn unmap(p: *mut u8, len: usize) {
    // SAFETY: the callers' mappings, not used afterwards.
    let _ = unsafe { munmap(p as usize, len) };
}

fn load(p: *mut u8, off: usize) -> u8 {
    // SAFETY: callers pass an offset inside a mapping of theirs; other
    // processes may store to it (shared memory): volatile.
    unsafe { p.add(off).read_volatile() }
}

fn store(p: *mut u8, off: usize, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        // SAFETY: as in `load`.
        unsafe { p.add(off + i).write_volatile(b) };
    }
}

fn loads(p: *mut u8, off: usize, n: usize) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate().take(n.min(16)) {
        *o = load(p, off + i);
    }
    out
}

fn pread_bytes(fd: i32, off: usize, n: usize) -> [u8; 16] {
    let mut out = [0u8; 16];
    let _ = pread64(fd, &mut out[..n.min(16)], off as i64);
    out
}

fn file_size(fd: i32) -> i64 {
    let mut st = stat::default();
    let _ = fstat(fd, &mut st);
    st.st_size
}

fn warm_up() {
    let Some(fd) = make_file(c"warm") else { return };
    if let Ok(s) = map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) {
        if let Ok(p) = map(4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) {
            store(p, 0, b"x");
            if let Ok(pid) = fork_with(|| {
                store(s, 1, b"y");
                0
            }) {
                let _ = wait4(pid as i32, None, 0);
            }
            unmap(p, 4 * P);
        }
        unmap(s, 4 * P);
    }
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, c"warm", 0);
}

fn shared(c: &mut Checker) {
    let Some(fd) = make_file(c"shared") else {
        return c.fail("create the file", "failed");
    };
    let Some(m) =
        c.ok("mmap MAP_SHARED 4 pages", map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
    else {
        return;
    };
    c.check(
        "the mapping holds the file's bytes",
        [0, 1, P, 2 * P + 5, SIZE - 1].iter().all(|&i| load(m, i) == pattern(i)),
    );
    c.check("past the end in the last page: zeros", (SIZE..4 * P).all(|i| load(m, i) == 0));
    c.ok_eq("pwrite ABC at 10", pwrite64(fd, b"ABC", 10), 3);
    c.check("write() is seen through the mapping", loads(m, 10, 3)[..3] == *b"ABC");
    store(m, 5000, b"stored");
    c.check("a store is seen by read()", pread_bytes(fd, 5000, 6)[..6] == *b"stored");
    // A second mapping of the same file, at an offset: the same pages.
    if let Some(m2) =
        c.ok("mmap MAP_SHARED offset 4096", map(P, PROT_READ, MAP_SHARED, fd, P as i64))
    {
        c.check("the second mapping sees the store", loads(m2, 5000 - P, 6)[..6] == *b"stored");
        unmap(m2, P);
    }
    store(m, SIZE + 10, b"beyond");
    c.check("a store past the end does not grow the file", file_size(fd) == SIZE as i64);
    c.ok_eq("write past the end grows the file", pwrite64(fd, b"Z", (SIZE + 20) as i64), 1);
    c.check("the new byte is seen through the mapping", load(m, SIZE + 20) == b'Z');
    unmap(m, 4 * P);
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, c"shared", 0);
}

/// The mapping keeps the file's pages after its descriptor is closed and its
/// name removed; they go with the mapping (the leak check at the end).
fn unlinked_while_mapped(c: &mut Checker) {
    let Some(fd) = make_file(c"unlinked") else {
        return c.fail("create the file", "failed");
    };
    let Ok(m) = map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) else {
        return c.fail("map the file", "failed");
    };
    let _ = close(fd);
    c.ok_eq("unlink the mapped file", unlinkat(AT_FDCWD, c"unlinked", 0), 0);
    c.check("its bytes are still mapped", load(m, 3 * P + 99) == pattern(3 * P + 99));
    let child = fork_with(|| {
        store(m, 8, b"gone");
        0
    });
    if let Some(pid) = c.ok("a child stores to it", child) {
        c.reaped("and exits", pid, 0, WaitStatus::Exited(0));
    }
    c.check("the parent sees the store", loads(m, 8, 4)[..4] == *b"gone");
    unmap(m, 4 * P);
}

fn private(c: &mut Checker) {
    let Some(fd) = make_file(c"private") else {
        return c.fail("create the file", "failed");
    };
    let rw = PROT_READ | PROT_WRITE;
    let Some(p) = c.ok("mmap MAP_PRIVATE 4 pages", map(4 * P, rw, MAP_PRIVATE, fd, 0)) else {
        return;
    };
    let Some(s) = c.ok("mmap MAP_SHARED of the same file", map(4 * P, rw, MAP_SHARED, fd, 0))
    else {
        return;
    };
    c.check(
        "the private mapping holds the file's bytes",
        (0..SIZE).step_by(97).all(|i| load(p, i) == pattern(i)),
    );
    store(p, 100, b"mine");
    c.check(
        "a private store is not in the file",
        pread_bytes(fd, 100, 4)[..4] == [pattern(100), pattern(101), pattern(102), pattern(103)],
    );
    c.check("nor in a shared mapping", load(s, 100) == pattern(100));
    c.check("the private mapping keeps its store", loads(p, 100, 4)[..4] == *b"mine");
    c.ok_eq("pwrite to page 0 (written privately)", pwrite64(fd, b"file", 200), 4);
    c.check("is not seen by the private copy", load(p, 200) == pattern(200));
    c.ok_eq("pwrite to page 2 (only read)", pwrite64(fd, b"file", (2 * P) as i64), 4);
    c.check("is seen through the private mapping's file page", loads(p, 2 * P, 4)[..4] == *b"file");
    store(s, P + 1, b"shared");
    c.check(
        "a shared store to an untouched page is seen privately",
        loads(p, P + 1, 6)[..6] == *b"shared",
    );
    unmap(p, 4 * P);
    unmap(s, 4 * P);
    let _ = close(fd);
    // A read-only descriptor: MAP_PRIVATE may still be made writable.
    let Ok(ro) = openat(AT_FDCWD, c"private", O_RDONLY, 0) else {
        return c.fail("open O_RDONLY", "failed");
    };
    let ro = ro as i32;
    if let Some(p) =
        c.ok("MAP_PRIVATE PROT_READ of an O_RDONLY file", map(P, PROT_READ, MAP_PRIVATE, ro, 0))
    {
        // SAFETY: our mapping.
        c.ok_eq("mprotect it PROT_READ|PROT_WRITE", unsafe { mprotect(p as usize, P, rw) }, 0);
        store(p, 0, b"cow");
        c.check(
            "the store stays private",
            pread_bytes(ro, 0, 3)[..3] == [pattern(0), pattern(1), pattern(2)],
        );
        unmap(p, P);
    }
    let _ = close(ro);
    let _ = unlinkat(AT_FDCWD, c"private", 0);
}

fn fork_sharing(c: &mut Checker) {
    let Some(fd) = make_file(c"forked") else {
        return c.fail("create the file", "failed");
    };
    let rw = PROT_READ | PROT_WRITE;
    let (Ok(s), Ok(p)) = (map(4 * P, rw, MAP_SHARED, fd, 0), map(4 * P, rw, MAP_PRIVATE, fd, 0))
    else {
        return c.fail("map the file twice", "failed");
    };
    store(p, 300, b"parent");
    let child = fork_with(|| {
        let mut bad = 0;
        bad += i32::from(loads(p, 300, 6)[..6] != *b"parent");
        store(s, 50, b"child");
        store(p, 400, b"child-private");
        bad
    });
    if let Some(pid) = c.ok("fork a child that stores to both", child) {
        c.reaped("the child saw the parent's private store", pid, 0, WaitStatus::Exited(0));
    }
    c.check("the child's shared store is seen by the parent", loads(s, 50, 5)[..5] == *b"child");
    c.check("and by read()", pread_bytes(fd, 50, 5)[..5] == *b"child");
    c.check("the child's private store is not", load(p, 400) == pattern(400));
    // After fork, a private page the parent writes is copied: the child keeps
    // what it saw.
    let (rd, wr) = match pipe2(0) {
        Ok([r, w]) => (r, w),
        Err(e) => return c.fail("pipe", e),
    };
    let child = fork_with(|| {
        let mut b = [0u8; 1];
        let _ = read(rd, &mut b);
        i32::from(loads(p, 300, 6)[..6] != *b"parent")
    });
    store(p, 300, b"PARENT");
    let _ = write(wr, b"x");
    if let Some(pid) = c.ok("fork a child, then store privately", child) {
        c.reaped("the child still sees the old private bytes", pid, 0, WaitStatus::Exited(0));
    }
    let _ = close(rd);
    let _ = close(wr);
    // MAP_SHARED|MAP_ANONYMOUS too.
    if let Ok(a) = map(P, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0) {
        if let Some(pid) = c.ok(
            "fork with shared anonymous memory",
            fork_with(|| {
                store(a, 0, b"anon");
                0
            }),
        ) {
            c.reaped("the child exits", pid, 0, WaitStatus::Exited(0));
        }
        c.check("its store is seen by the parent", loads(a, 0, 4)[..4] == *b"anon");
        unmap(a, P);
    }
    unmap(s, 4 * P);
    unmap(p, 4 * P);
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, c"forked", 0);
}

/// The image `filemap exec-writer PATH` runs: map PATH shared and store a
/// marker at 8192; exit status 0 if that worked.
fn exec_writer(path: Option<&CStr>) -> i32 {
    let Some(path) = path else { return 10 };
    let Ok(fd) = openat(AT_FDCWD, path, O_RDWR, 0) else { return 11 };
    let Ok(m) = map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd as i32, 0) else { return 12 };
    if load(m, 0) != b'E' {
        return 13;
    }
    store(m, 2 * P, b"from exec");
    0
}

fn exec_sharing(c: &mut Checker, prog: Option<&CStr>) {
    let Some(prog) = prog else { return c.fail("argv[0]", "missing") };
    let Some(fd) = make_file(c"execed") else {
        return c.fail("create the file", "failed");
    };
    let Ok(m) = map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) else {
        return c.fail("map the file", "failed");
    };
    store(m, 0, b"E");
    let mut cwd = [0u8; 64];
    let path = full_path(&mut cwd, b"execed");
    let child = fork_with(|| 100 + execv(prog, &[prog, c"exec-writer", path]).0);
    if let Some(pid) = c.ok("fork a child that execs a program mapping the file", child) {
        c.reaped("the exec'd program saw the parent's store", pid, 0, WaitStatus::Exited(0));
    }
    c.check(
        "its store is seen through the parent's mapping",
        loads(m, 2 * P, 9)[..9] == *b"from exec",
    );
    c.check("and by read()", pread_bytes(fd, 2 * P, 9)[..9] == *b"from exec");
    unmap(m, 4 * P);
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, c"execed", 0);
}

/// The working directory's path joined with `name`.
fn full_path<'a>(buf: &'a mut [u8; 64], name: &[u8]) -> &'a CStr {
    let mut pid = [0u8; 21];
    let pid = decimal_cstr(getpid().unwrap_or(0) as u64, &mut pid).to_bytes();
    let mut n = 0;
    for part in [&b"/tmp/filemap-"[..], pid, b"/", name, b"\0"] {
        buf[n..n + part.len()].copy_from_slice(part);
        n += part.len();
    }
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"")
}

/// A child that loads from `p + off`: how it ended.
fn touch(p: *mut u8, off: usize) -> Result<usize, Errno> {
    fork_with(|| i32::from(load(p, off)) & 0)
}

fn past_the_end(c: &mut Checker) {
    let Some(fd) = make_file(c"eof") else {
        return c.fail("create the file", "failed");
    };
    let rw = PROT_READ | PROT_WRITE;
    let Ok(m) = map(6 * P, rw, MAP_SHARED, fd, 0) else {
        return c.fail("map 6 pages of a 4-page file", "failed");
    };
    let Ok(p) = map(6 * P, rw, MAP_PRIVATE, fd, 0) else {
        return c.fail("map it privately", "failed");
    };
    let bus = WaitStatus::Signaled(SIGBUS, false);
    if let Some(pid) = c.ok("touch the last page", touch(m, 3 * P + 4000)) {
        c.reaped("the last (partial) page is fine", pid, 0, WaitStatus::Exited(0));
    }
    if let Some(pid) = c.ok("touch a page past the end", touch(m, 4 * P)) {
        c.reaped("a shared mapping past the end: SIGBUS", pid, 0, bus);
    }
    if let Some(pid) = c.ok("touch a private page past the end", touch(p, 5 * P + 8)) {
        c.reaped("a private mapping past the end: SIGBUS", pid, 0, bus);
    }
    // Pages mapped (and one privately copied) before the file shrinks.
    let _ = load(m, P);
    store(p, P, b"copied");
    c.ok_eq("ftruncate to 100 bytes", ftruncate(fd, 100), 0);
    if let Some(pid) = c.ok("touch page 1 after the truncate", touch(m, P)) {
        c.reaped("a page the truncate removed: SIGBUS", pid, 0, bus);
    }
    if let Some(pid) = c.ok("touch the private copy of page 1", touch(p, P)) {
        c.reaped("a private copy past the new end: SIGBUS", pid, 0, bus);
    }
    c.check("page 0 keeps the first 100 bytes", load(m, 99) == pattern(99));
    c.check("and zeros after them", (100..P).step_by(61).all(|i| load(m, i) == 0));
    c.ok_eq("ftruncate to 2 pages", ftruncate(fd, 2 * P as i64), 0);
    if let Some(pid) = c.ok("touch page 1 again", touch(m, P + 5)) {
        c.reaped("it is back after the file grew", pid, 0, WaitStatus::Exited(0));
    }
    c.check("and reads zeros", load(m, P + 5) == 0 && load(p, P + 5) == 0);
    unmap(m, 6 * P);
    unmap(p, 6 * P);
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, c"eof", 0);
}

fn unmap_and_protect(c: &mut Checker) {
    let Some(fd) = make_file(c"prot") else {
        return c.fail("create the file", "failed");
    };
    let rw = PROT_READ | PROT_WRITE;
    if let Ok(m) = map(4 * P, rw, MAP_SHARED, fd, 0) {
        // SAFETY: page 1 of our mapping is not used again.
        c.ok_eq("munmap page 1 of a file mapping", unsafe { munmap(m as usize + P, P) }, 0);
        store(m, 2 * P, b"after");
        c.check("page 2 still maps the file", pread_bytes(fd, 2 * P, 5)[..5] == *b"after");
        if let Some(pid) = c.ok("touch the unmapped page", touch(m, P)) {
            c.reaped("SIGSEGV", pid, 0, WaitStatus::Signaled(SIGSEGV, false));
        }
        // SAFETY: our mapping; nothing stores to it while read-only.
        c.ok_eq("mprotect page 0 PROT_READ", unsafe { mprotect(m as usize, P, PROT_READ) }, 0);
        let child = fork_with(|| {
            store(m, 0, b"x");
            0
        });
        if let Some(pid) = c.ok("store to it", child) {
            c.reaped("SIGSEGV", pid, 0, WaitStatus::Signaled(SIGSEGV, false));
        }
        // SAFETY: as above.
        c.ok_eq("mprotect it back PROT_READ|PROT_WRITE", unsafe { mprotect(m as usize, P, rw) }, 0);
        store(m, 1, b"w");
        c.check("the store reaches the file", pread_bytes(fd, 1, 1)[0] == b'w');
        unmap(m, 4 * P);
    }
    let _ = close(fd);
    let Ok(ro) = openat(AT_FDCWD, c"prot", O_RDONLY, 0) else {
        return c.fail("open O_RDONLY", "failed");
    };
    let ro = ro as i32;
    if let Some(m) =
        c.ok("MAP_SHARED PROT_READ of an O_RDONLY file", map(P, PROT_READ, MAP_SHARED, ro, 0))
    {
        c.check("reads the file", load(m, 1) == b'w');
        // SAFETY: the call must fail; nothing changes.
        c.err("mprotect PROT_WRITE on it", unsafe { mprotect(m as usize, P, rw) }, EACCES);
        unmap(m, P);
    }
    let _ = close(ro);
    let _ = unlinkat(AT_FDCWD, c"prot", 0);
}

fn mmap_errors(c: &mut Checker) {
    let Some(fd) = make_file(c"errors") else {
        return c.fail("create the file", "failed");
    };
    let (r, rw) = (PROT_READ, PROT_READ | PROT_WRITE);
    c.err("fd -1 without MAP_ANONYMOUS", map(P, r, MAP_PRIVATE, -1, 0), EBADF);
    c.err("fd 999 (not open)", map(P, r, MAP_SHARED, 999, 0), EBADF);
    c.err("an unaligned offset (before EBADF)", map(P, r, MAP_PRIVATE, -1, 100), EINVAL);
    c.err("an unaligned offset", map(P, r, MAP_SHARED, fd, 100), EINVAL);
    c.err("length 0", map(0, r, MAP_SHARED, fd, 0), EINVAL);
    c.err("no mapping type", map(P, r, 0, fd, 0), EINVAL);
    c.err(
        "an offset past the largest file",
        map(2 * P, r, MAP_SHARED, fd, i64::MAX & !(P as i64 - 1)),
        EOVERFLOW,
    );
    c.err("a negative offset", map(P, r, MAP_PRIVATE, fd, -(P as i64)), EOVERFLOW);
    if let Ok(ro) = openat(AT_FDCWD, c"errors", O_RDONLY, 0) {
        let ro = ro as i32;
        c.err("MAP_SHARED PROT_WRITE of an O_RDONLY file", map(P, rw, MAP_SHARED, ro, 0), EACCES);
        if let Some(m) = c.ok("MAP_PRIVATE PROT_WRITE of it", map(P, rw, MAP_PRIVATE, ro, 0)) {
            unmap(m, P);
        }
        let _ = close(ro);
    }
    if let Ok(wo) = openat(AT_FDCWD, c"errors", O_WRONLY, 0) {
        let wo = wo as i32;
        c.err("MAP_PRIVATE of an O_WRONLY file", map(P, r, MAP_PRIVATE, wo, 0), EACCES);
        c.err("MAP_SHARED of an O_WRONLY file", map(P, rw, MAP_SHARED, wo, 0), EACCES);
        let _ = close(wo);
    }
    if let Ok([rd, wr]) = pipe2(0) {
        c.err("a pipe's read end", map(P, r, MAP_SHARED, rd, 0), ENODEV);
        c.err("a pipe's write end (not readable)", map(P, r, MAP_PRIVATE, wr, 0), EACCES);
        let _ = close(rd);
        let _ = close(wr);
    }
    if let Ok(d) = openat(AT_FDCWD, c".", O_RDONLY | O_DIRECTORY, 0) {
        c.err("a directory", map(P, r, MAP_PRIVATE, d as i32, 0), ENODEV);
        let _ = close(d as i32);
    }
    if let Ok(n) = openat(AT_FDCWD, c"/dev/null", O_RDWR, 0) {
        c.err("/dev/null", map(P, r, MAP_SHARED, n as i32, 0), ENODEV);
        let _ = close(n as i32);
    }
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, c"errors", 0);
}

fn msync_call(addr: usize, len: usize, flags: u32) -> Result<usize, Errno> {
    // SAFETY: msync only reads the page tables of the range.
    errno::result(unsafe { syscall::syscall3(nr::__NR_msync, addr, len, flags as usize) })
}

fn msync_checks(c: &mut Checker) {
    let Some(fd) = make_file(c"msync") else {
        return c.fail("create the file", "failed");
    };
    // Four pages of the file with nothing mapped after them.
    let Ok(area) = map(5 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) else {
        return c.fail("reserve 5 pages", "failed");
    };
    unmap(area.wrapping_add(4 * P), P);
    let flags = MAP_SHARED | MAP_FIXED;
    // SAFETY: over our own reservation.
    let Ok(m) = (unsafe { mmap(area as usize, 4 * P, PROT_READ | PROT_WRITE, flags, fd, 0) })
    else {
        return c.fail("map the file", "failed");
    };
    let m = m as *mut u8;
    let a = m as usize;
    store(m, 7, b"sync");
    c.ok_eq("msync MS_SYNC", msync_call(a, 4 * P, MS_SYNC), 0);
    c.check("the file has the store", pread_bytes(fd, 7, 4)[..4] == *b"sync");
    c.ok_eq("msync MS_ASYNC", msync_call(a, P, MS_ASYNC), 0);
    c.ok_eq("msync MS_INVALIDATE", msync_call(a, P, MS_INVALIDATE), 0);
    c.ok_eq("msync MS_SYNC|MS_INVALIDATE", msync_call(a, P, MS_SYNC | MS_INVALIDATE), 0);
    c.ok_eq("msync flags 0", msync_call(a, P, 0), 0);
    c.ok_eq("msync of a partial page length", msync_call(a, 10, MS_SYNC), 0);
    c.ok_eq("msync length 0", msync_call(a, 0, MS_SYNC), 0);
    c.err("msync MS_ASYNC|MS_SYNC", msync_call(a, P, MS_ASYNC | MS_SYNC), EINVAL);
    c.err("msync an unknown flag", msync_call(a, P, 8), EINVAL);
    c.err("msync an unaligned address", msync_call(a + 1, P, MS_SYNC), EINVAL);
    c.err("msync past the mapping", msync_call(a, 5 * P, MS_SYNC), ENOMEM);
    c.err("msync MS_ASYNC past the mapping", msync_call(a, 5 * P, MS_ASYNC), ENOMEM);
    unmap(m, 4 * P);
    c.err("msync an unmapped range", msync_call(a, P, MS_SYNC), ENOMEM);
    if let Ok(anon) = map(P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) {
        c.ok_eq("msync anonymous memory", msync_call(anon as usize, P, MS_SYNC), 0);
        unmap(anon, P);
    }
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, c"msync", 0);
}
