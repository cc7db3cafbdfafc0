//! Success and error cases of the process, time, resource, futex and memory
//! system calls: one line per check, exit status = number of failed checks.
//! `syscalls_c` (userspace/c/syscalls_c.c) makes the same checks and prints the
//! same lines.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use userspace::*;

userspace::entry!(main);

const MS: u64 = 1_000_000;
const IOCTL_FILE: &core::ffi::CStr = c"/tmp/syscalls-rs-ioctl";

static TID_WORD: AtomicU32 = AtomicU32::new(0);
static FS_WORD: u64 = 0x1234_5678_9abc_def0;

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    identity(&mut c);
    arch(&mut c);
    time(&mut c);
    random_and_ioctl(&mut c);
    rlimits(&mut c);
    futexes(&mut c);
    // SAFETY: an unknown number does nothing.
    let r = errno::result(unsafe { syscall::syscall0(1000) });
    c.err("unknown syscall ENOSYS", r, ENOSYS);
    program_break(&mut c);
    mappings(&mut c);
    c.status()
}

fn identity(c: &mut Checker) {
    let pid = getpid();
    c.check("getpid positive", matches!(pid, Ok(p) if p > 0));
    let ppid = getppid();
    c.check("getppid differs from getpid", ppid.is_ok() && ppid != pid);
    c.check("gettid equals getpid", gettid() == pid);
    c.ok("getuid", getuid());
    c.ok("geteuid", geteuid());
    c.ok("getgid", getgid());
    c.ok("getegid", getegid());
    let mut u = new_utsname::default();
    c.ok("uname", uname(&mut u));
    c.check("uname sysname non-empty", !cstr_field(&u.sysname).is_empty());
    c.check("uname machine x86_64", cstr_field(&u.machine) == b"x86_64");
    c.ok_eq("set_tid_address returns tid", set_tid_address(&TID_WORD), gettid().unwrap_or(0));
}

fn read_fs_word() -> u64 {
    let v: u64;
    // SAFETY: FS points at FS_WORD (set by the caller), a readable u64.
    unsafe { core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) v, options(nostack, readonly)) };
    v
}

fn arch(c: &mut Checker) {
    let old = c.ok("arch_prctl get fs", arch_get_fs()).unwrap_or(0);
    let want = &FS_WORD as *const u64 as usize;
    // SAFETY: nothing in this program uses FS-relative (thread-local) storage.
    let r = unsafe { arch_prctl(ARCH_SET_FS, want) };
    if c.ok("arch_prctl set fs", r).is_some() {
        c.ok_eq("arch_prctl fs round trip", arch_get_fs(), want);
        c.check("arch_prctl fs used by loads", read_fs_word() == FS_WORD);
    }
    // SAFETY: as above; restores the starting value.
    let r = unsafe { arch_prctl(ARCH_SET_FS, old) };
    c.ok("arch_prctl restore fs", r);
    c.ok_eq("arch_prctl fs restored", arch_get_fs(), old);
    // SAFETY: an unknown code is rejected before anything is touched.
    let r = unsafe { arch_prctl(0x9999, 0) };
    c.err("arch_prctl bad code EINVAL", r, EINVAL);
}

fn time(c: &mut Checker) {
    let mut t1 = timespec::default();
    let mut t2 = timespec::default();
    c.ok("clock_gettime monotonic", clock_gettime(CLOCK_MONOTONIC, &mut t1));
    let r = clock_gettime(CLOCK_MONOTONIC, &mut t2);
    c.check("clock_gettime monotonic non-decreasing", r.is_ok() && t2.as_nanos() >= t1.as_nanos());
    c.check("clock_gettime nsec in range", (0..1_000_000_000).contains(&t2.tv_nsec));
    let mut rt = timespec::default();
    c.ok("clock_gettime realtime", clock_gettime(CLOCK_REALTIME, &mut rt));
    c.err("clock_gettime bad clock EINVAL", clock_gettime(100, &mut rt), EINVAL);

    let ten = timespec::from_nanos(10 * MS);
    let start = monotonic_ns();
    c.ok_eq("nanosleep 10 ms", nanosleep(&ten, None), 0);
    c.check("nanosleep slept at least 10 ms", monotonic_ns().saturating_sub(start) >= 10 * MS);
    let neg = timespec { tv_sec: 0, tv_nsec: -1 };
    c.err("nanosleep negative nsec EINVAL", nanosleep(&neg, None), EINVAL);
    let big = timespec { tv_sec: 0, tv_nsec: 1_000_000_000 };
    c.err("nanosleep nsec too large EINVAL", nanosleep(&big, None), EINVAL);

    let start = monotonic_ns();
    let r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ten, None);
    c.ok_eq("clock_nanosleep relative", r, 0);
    c.check(
        "clock_nanosleep relative slept at least 10 ms",
        monotonic_ns().saturating_sub(start) >= 10 * MS,
    );
    let deadline = timespec::from_nanos(monotonic_ns() + 10 * MS);
    let r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, None);
    c.ok_eq("clock_nanosleep absolute", r, 0);
    c.check("clock_nanosleep absolute reached deadline", monotonic_ns() >= deadline.as_nanos());
    let r = clock_nanosleep(100, 0, &ten, None);
    c.err("clock_nanosleep bad clock EINVAL", r, EINVAL);
    c.ok_eq("sched_yield", sched_yield(), 0);
}

fn random_and_ioctl(c: &mut Checker) {
    let mut buf = [0u8; 16];
    c.ok_eq("getrandom 16 bytes", getrandom(&mut buf, GRND_NONBLOCK), 16);
    c.check("getrandom not all zero", buf.iter().any(|&b| b != 0));
    c.err("getrandom bad flags EINVAL", getrandom(&mut buf, 0x100), EINVAL);

    let _ = unlinkat(AT_FDCWD, IOCTL_FILE, 0);
    let flags = O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC;
    let mut ws = winsize::default();
    if let Some(fd) = c.ok("ioctl test file created", openat(AT_FDCWD, IOCTL_FILE, flags, 0o644)) {
        let fd = fd as i32;
        let r = ioctl_tiocgwinsz(fd, &mut ws);
        c.err("ioctl TIOCGWINSZ regular file ENOTTY", r, ENOTTY);
        let _ = close(fd);
        let _ = unlinkat(AT_FDCWD, IOCTL_FILE, 0);
    }
    c.err("ioctl TIOCGWINSZ bad fd EBADF", ioctl_tiocgwinsz(999, &mut ws), EBADF);
}

fn rlimits(c: &mut Checker) {
    let mut orig = rlimit::default();
    if c.ok("prlimit64 get nofile", prlimit64(0, RLIMIT_NOFILE, None, Some(&mut orig))).is_none() {
        return;
    }
    let mut old = rlimit::default();
    let r = getrlimit(RLIMIT_NOFILE, &mut old);
    c.check("getrlimit nofile matches prlimit64", r.is_ok() && old == orig);

    // The soft limit a few fds above the lowest free one.
    let lowest = dup(1).unwrap_or(3);
    let _ = close(lowest as i32);
    let limit = lowest as u64 + 8;
    let lowered = rlimit { rlim_cur: limit, rlim_max: orig.rlim_max };
    c.ok("setrlimit nofile lower soft", setrlimit(RLIMIT_NOFILE, &lowered));
    let mut now = rlimit::default();
    let r = prlimit64(0, RLIMIT_NOFILE, None, Some(&mut now));
    c.check("prlimit64 sees lowered soft limit", r.is_ok() && now == lowered);

    let mut fds = [-1i32; 64];
    let mut n = 0;
    let mut end = Ok(0);
    while n < fds.len() {
        match openat(AT_FDCWD, c"/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) {
            Ok(fd) => {
                fds[n] = fd as i32;
                n += 1;
            }
            Err(e) => {
                end = Err(e);
                break;
            }
        }
    }
    c.err("open until EMFILE", end, EMFILE);
    let below = fds[..n].iter().all(|&fd| (fd as u64) < limit);
    c.check("EMFILE at the soft limit", n >= 1 && below && fds[0] as usize == lowest);
    for &fd in &fds[..n] {
        let _ = close(fd);
    }

    let bad = rlimit { rlim_cur: 200, rlim_max: 100 };
    c.err("setrlimit soft above hard EINVAL", setrlimit(RLIMIT_NOFILE, &bad), EINVAL);
    let r = prlimit64(0, RLIMIT_NOFILE, Some(&orig), None);
    c.ok("prlimit64 restore nofile", r);
    let r = getrlimit(RLIMIT_NOFILE, &mut now);
    c.check("nofile limit restored", r.is_ok() && now == orig);
}

fn futexes(c: &mut Checker) {
    let word = AtomicU32::new(1);
    let ten = timespec::from_nanos(10 * MS);
    for (flags, tag) in [(0, ""), (FUTEX_PRIVATE_FLAG, " private")] {
        let r = futex_wait(&word, flags, 2, None);
        c.err(format_args!("futex wait{} wrong value EAGAIN", tag), r, EAGAIN);
        let start = monotonic_ns();
        let r = futex_wait(&word, flags, 1, Some(&ten));
        c.err(format_args!("futex wait{} timeout ETIMEDOUT", tag), r, ETIMEDOUT);
        let waited = monotonic_ns().saturating_sub(start) >= 10 * MS;
        c.check(format_args!("futex wait{} waited at least 10 ms", tag), waited);
        let r = futex_wake(&word, flags, 1);
        c.ok_eq(format_args!("futex wake{} no waiters", tag), r, 0);
    }
    word.store(0, Ordering::Relaxed);
}

fn program_break(c: &mut Checker) {
    const GROW: usize = 64 << 10;
    // SAFETY: brk(0) only queries.
    let cur = unsafe { brk(0) };
    c.check("brk query", cur != 0);
    // SAFETY: growing maps new memory that nothing uses yet.
    let grown = unsafe { brk(cur + GROW) };
    if !c.check("brk grow 64 KiB", grown == cur + GROW) {
        return;
    }
    let mut ok = true;
    for off in (0..GROW).step_by(509) {
        let p = (cur + off) as *mut u8;
        // SAFETY: [cur, cur + GROW) is the new heap, read-write and ours alone.
        unsafe {
            ok &= core::ptr::read_volatile(p) == 0;
            core::ptr::write_volatile(p, off as u8 | 1);
            ok &= core::ptr::read_volatile(p) == off as u8 | 1;
        }
    }
    c.check("brk memory zeroed and writable", ok);
    // SAFETY: the grown range is not used any more.
    let shrunk = unsafe { brk(cur) };
    c.check("brk shrink", shrunk == cur);
    // SAFETY: a break below the start is refused (nothing changes).
    let low = unsafe { brk(0x1000) };
    c.check("brk below start unchanged", low == cur);
}

fn mappings(c: &mut Checker) {
    const LEN: usize = 4 * PAGE_SIZE;
    let rw = PROT_READ | PROT_WRITE;
    // SAFETY: a new anonymous mapping aliases nothing.
    let r = unsafe { mmap(0, LEN, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) };
    if let Some(a) = c.ok("mmap anonymous private", r) {
        c.check("mmap page aligned", a % PAGE_SIZE == 0);
        c.check("mmap zero filled", read_words(a, LEN).all(|w| w == 0));
        fill(a, LEN, 7);
        c.check("mmap write read", read_words(a, LEN).enumerate().all(|(i, w)| w == i as u64 + 7));
        // SAFETY: the range is only read until it is writable again.
        let r = unsafe { mprotect(a, LEN, PROT_READ) };
        c.ok_eq("mprotect read-only", r, 0);
        c.check("mprotect read-only readable", read_words(a, LEN).nth(3) == Some(10));
        // SAFETY: makes the range writable again.
        let r = unsafe { mprotect(a, LEN, rw) };
        c.ok_eq("mprotect read-write", r, 0);
        fill(a, LEN, 9);
        c.check("mprotect writable again", read_words(a, LEN).nth(3) == Some(12));
        // SAFETY: an unaligned address is rejected before anything changes.
        let r = unsafe { mprotect(a + 1, PAGE_SIZE, PROT_READ) };
        c.err("mprotect unaligned EINVAL", r, EINVAL);
        // SAFETY: as above.
        let r = unsafe { munmap(a + 1, PAGE_SIZE) };
        c.err("munmap unaligned EINVAL", r, EINVAL);
        // SAFETY: a zero length is rejected before anything changes.
        let r = unsafe { munmap(a, 0) };
        c.err("munmap length 0 EINVAL", r, EINVAL);
        // SAFETY: the mapping is not used after this.
        let r = unsafe { munmap(a, LEN) };
        c.ok_eq("munmap", r, 0);
    }
    // SAFETY: invalid requests are rejected before anything is mapped.
    let r = unsafe { mmap(0, LEN, rw, MAP_ANONYMOUS, -1, 0) };
    c.err("mmap without shared or private EINVAL", r, EINVAL);
    // SAFETY: as above.
    let r = unsafe { mmap(0, 0, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) };
    c.err("mmap length 0 EINVAL", r, EINVAL);

    // SAFETY: a new anonymous mapping aliases nothing.
    let r = unsafe { mmap(0, LEN, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0) };
    if let Some(a) = c.ok("mmap shared anonymous", r) {
        c.check("mmap shared zero filled", read_words(a, LEN).all(|w| w == 0));
        fill(a, LEN, 5);
        c.check(
            "mmap shared write read",
            read_words(a, LEN).enumerate().all(|(i, w)| w == i as u64 + 5),
        );
        // SAFETY: the mapping is not used after this.
        let r = unsafe { munmap(a, LEN) };
        c.ok_eq("munmap shared", r, 0);
    }
}

/// One word per 256 bytes of the mapping at `a`.
fn read_words(a: usize, len: usize) -> impl Iterator<Item = u64> {
    (0..len).step_by(256).map(move |off| {
        // SAFETY: callers pass a readable mapping of `len` bytes; the offsets are
        // in range and aligned.
        unsafe { core::ptr::read_volatile((a + off) as *const u64) }
    })
}

/// Writes `i + base` to the i-th word that `read_words` reads.
fn fill(a: usize, len: usize, base: u64) {
    for (i, off) in (0..len).step_by(256).enumerate() {
        // SAFETY: callers pass a writable mapping of `len` bytes; the offsets are
        // in range and aligned.
        unsafe { core::ptr::write_volatile((a + off) as *mut u64, i as u64 + base) };
    }
}
