//! Every pointer argument that the kernel reads or writes, given an unmapped
//! user address (0x10) and a kernel address (0xffff888000000000), must fail with
//! EFAULT, never crash the kernel: one line `ok <call> <arg> <0x10|kernel>` per
//! case, exit status = number of failed checks. Uses /tmp/efault-rs (removed).
//!
//! Then, for each bad pointer, that nothing is lost or half done (issue 12, item
//! 1): after EFAULT a pipe keeps its data, a file and a directory their offsets,
//! the fd table its free slots, the signal mask, actions, alternate stack and
//! pending set are as before, no child is created; and where Linux does the work
//! before it copies a result out (the new mask or action of `rt_sigaction`,
//! `rt_sigprocmask`, `sigaltstack`, `prlimit64`; reaping in `wait4`/`waitid`;
//! CLONE_PARENT_SETTID, whose write Linux does not check) the same happens here.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::syscall::*;
use userspace::*;

userspace::entry!(main);

const FILE: &CStr = c"/tmp/efault-rs";
const BAD: [(usize, &str); 2] = [(0x10, "0x10"), (0xffff_8880_0000_0000, "kernel")];

fn expect_efault(c: &mut Checker, call: &str, arg: &str, tag: &str, ret: isize) {
    c.err(format_args!("{} {} {}", call, arg, tag), errno::result(ret), EFAULT);
}

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = unlinkat(AT_FDCWD, FILE, 0);
    let flags = O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC;
    let Some(fd) = c.ok("create test file", openat(AT_FDCWD, FILE, flags, 0o644)) else {
        return c.status();
    };
    let fd = fd as i32;
    c.ok_eq("write test file", write(fd, b"0123456789abcdef"), 16);
    let Some(dir) = c.ok("open /tmp", openat(AT_FDCWD, c"/tmp", O_RDONLY | O_DIRECTORY, 0)) else {
        return c.status();
    };
    let dir = dir as i32;
    let tty = (0..3).find(|&fd| ioctl_tiocgwinsz(fd, &mut winsize::default()).is_ok());
    let (fd, dir) = (fd as usize, dir as usize);
    let mut good = [0u8; 16];
    let tmp = c"/tmp".as_ptr() as usize;

    for (bad, tag) in BAD {
        let c = &mut c;
        // SAFETY: (this and every call below in this loop) the bad pointers point at no memory
        // of this process (unmapped page 0, kernel half), so the kernel can only
        // fail; all other pointers are live buffers of the right size.
        let r = unsafe { syscall3(nr::__NR_write, fd, bad, 16) };
        expect_efault(c, "write", "buf", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall4(nr::__NR_pwrite64, fd, bad, 16, 0) };
        expect_efault(c, "pwrite64", "buf", tag, r);
        let _ = lseek(fd as i32, 0, SEEK_SET);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_read, fd, bad, 16) };
        expect_efault(c, "read", "buf", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall4(nr::__NR_pread64, fd, bad, 16, 0) };
        expect_efault(c, "pread64", "buf", tag, r);

        let bad_iov = [IoVec::raw(bad, 16)];
        let iov = bad_iov.as_ptr() as usize;
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_readv, fd, bad, 1) };
        expect_efault(c, "readv", "iov", tag, r);
        let _ = lseek(fd as i32, 0, SEEK_SET);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_readv, fd, iov, 1) };
        expect_efault(c, "readv", "iov_base", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_writev, fd, bad, 1) };
        expect_efault(c, "writev", "iov", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_writev, fd, iov, 1) };
        expect_efault(c, "writev", "iov_base", tag, r);
        // A terabyte from a bad base to stdout: EFAULT, never a kernel buffer
        // of the user's size.
        let huge = [IoVec::raw(bad, 1 << 40)];
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_writev, 1, huge.as_ptr() as usize, 1) };
        expect_efault(c, "writev", "1 TiB to stdout", tag, r);

        let at = AT_FDCWD as usize;
        // SAFETY: see above.
        let r = unsafe { syscall4(nr::__NR_openat, at, bad, O_RDONLY as usize, 0) };
        expect_efault(c, "openat", "path", tag, r);
        let mut st = stat::default();
        let s = &mut st as *mut stat as usize;
        // SAFETY: see above.
        let r = unsafe { syscall4(nr::__NR_newfstatat, at, bad, s, 0) };
        expect_efault(c, "newfstatat", "path", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall4(nr::__NR_newfstatat, at, tmp, bad, 0) };
        expect_efault(c, "newfstatat", "statbuf", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall2(nr::__NR_fstat, fd, bad) };
        expect_efault(c, "fstat", "statbuf", tag, r);
        let _ = lseek(dir as i32, 0, SEEK_SET);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_getdents64, dir, bad, 4096) };
        expect_efault(c, "getdents64", "dirp", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_mkdirat, at, bad, 0o755) };
        expect_efault(c, "mkdirat", "path", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_unlinkat, at, bad, 0) };
        expect_efault(c, "unlinkat", "path", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_unlinkat, at, bad, AT_REMOVEDIR as usize) };
        expect_efault(c, "unlinkat", "path (AT_REMOVEDIR)", tag, r);

        let low = lowest_free_fd();
        // SAFETY: see above.
        let r = unsafe { syscall2(nr::__NR_pipe2, bad, 0) };
        expect_efault(c, "pipe2", "fds", tag, r);
        c.check(format_args!("pipe2 fds {} leaks no fd", tag), lowest_free_fd() == low);

        // SAFETY: see above.
        let r = unsafe { syscall1(nr::__NR_uname, bad) };
        expect_efault(c, "uname", "buf", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall2(nr::__NR_clock_gettime, CLOCK_MONOTONIC as usize, bad) };
        expect_efault(c, "clock_gettime", "tp", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall2(nr::__NR_nanosleep, bad, 0) };
        expect_efault(c, "nanosleep", "req", tag, r);
        let mono = CLOCK_MONOTONIC as usize;
        // SAFETY: see above.
        let r = unsafe { syscall4(nr::__NR_clock_nanosleep, mono, 0, bad, 0) };
        expect_efault(c, "clock_nanosleep", "req", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_getrandom, bad, 16, 0) };
        expect_efault(c, "getrandom", "buf", tag, r);

        let nofile = RLIMIT_NOFILE as usize;
        let mut lim = rlimit::default();
        // SAFETY: see above.
        let r = unsafe { syscall4(nr::__NR_prlimit64, 0, nofile, bad, 0) };
        expect_efault(c, "prlimit64", "new", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall4(nr::__NR_prlimit64, 0, nofile, 0, bad) };
        expect_efault(c, "prlimit64", "old", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall2(nr::__NR_getrlimit, nofile, bad) };
        expect_efault(c, "getrlimit", "rlim", tag, r);
        // SAFETY: see above.
        let r = unsafe { syscall2(nr::__NR_setrlimit, nofile, bad) };
        expect_efault(c, "setrlimit", "rlim", tag, r);
        // prlimit64 must not have half-applied anything.
        let r = prlimit64(0, RLIMIT_NOFILE, None, Some(&mut lim));
        let mut again = rlimit::default();
        let same = r.is_ok() && getrlimit(RLIMIT_NOFILE, &mut again).is_ok() && lim == again;
        c.check(format_args!("rlimits intact after {}", tag), same);

        // On a terminal the kernel writes the winsize and must fault; on anything
        // else (a pipe when output is captured) it never touches the pointer.
        let (ioctl_fd, want) = match tty {
            Some(t) => (t, EFAULT),
            None => (1, ENOTTY),
        };
        // SAFETY: see above.
        let r = unsafe { syscall3(nr::__NR_ioctl, ioctl_fd as usize, TIOCGWINSZ as usize, bad) };
        c.err(format_args!("ioctl TIOCGWINSZ arg {}", tag), errno::result(r), want);

        // SAFETY: see above.
        let r = unsafe { syscall2(nr::__NR_arch_prctl, ARCH_GET_FS as usize, bad) };
        expect_efault(c, "arch_prctl", "ARCH_GET_FS addr", tag, r);

        for (op, name) in
            [(FUTEX_WAIT, "futex"), (FUTEX_WAIT | FUTEX_PRIVATE_FLAG, "futex private")]
        {
            // SAFETY: see above.
            let r = unsafe { syscall4(nr::__NR_futex, bad, op as usize, 0, 0) };
            expect_efault(c, name, "uaddr", tag, r);
        }
        let word = core::sync::atomic::AtomicU32::new(0);
        let w = &word as *const _ as usize;
        // SAFETY: see above (the word is live and holds the expected value, so the
        // kernel reads the timeout).
        let r = unsafe { syscall4(nr::__NR_futex, w, FUTEX_WAIT as usize, 0, bad) };
        expect_efault(c, "futex", "timeout", tag, r);
    }

    for (bad, tag) in BAD {
        nothing_lost(&mut c, fd as i32, dir as i32, bad, tag);
    }

    // Nothing of the file changed through the failed calls.
    let r = pread64(fd as i32, &mut good, 0);
    let mut st = stat::default();
    let size = fstat(fd as i32, &mut st).is_ok() && st.st_size == 16;
    c.check("file unchanged", r == Ok(16) && &good == b"0123456789abcdef" && size);
    short_counts(&mut c, fd as i32);
    let _ = close(fd as i32);
    let _ = close(dir as i32);
    c.ok_eq("remove test file", unlinkat(AT_FDCWD, FILE, 0), 0);
    c.status()
}

/// The lowest fd that is not open (probed with F_GETFD).
fn lowest_free_fd() -> i32 {
    (0..).find(|&fd| fcntl(fd, F_GETFD, 0) == Err(EBADF)).unwrap_or(-1)
}

/// A stack for the sigaltstack checks (never run on: no signal is delivered).
static mut ALTSTACK: [u8; 16384] = [0; 16384];

/// The state checks of item 1: each call fails with EFAULT on `bad`, and what
/// it acts on is exactly as Linux leaves it.
fn nothing_lost(c: &mut Checker, fd: i32, dir: i32, bad: usize, tag: &str) {
    // ---- pipes: a failed read leaves the data, a failed write adds none.
    if let Some([r, w]) = c.ok(format_args!("pipe2 for {}", tag), pipe2(O_NONBLOCK)) {
        let (ru, wu) = (r as usize, w as usize);
        let _ = write(w, b"8 bytes!");
        // SAFETY: (this and every raw call below) `bad` points at no memory of
        // this process, so the kernel can only fail; other pointers are live.
        let e = unsafe { syscall3(nr::__NR_read, ru, bad, 8) };
        expect_efault(c, "read", "pipe buf", tag, e);
        let mut got = [0u8; 8];
        let kept = read(r, &mut got) == Ok(8) && &got == b"8 bytes!";
        c.check(format_args!("pipe keeps its data after read EFAULT {}", tag), kept);
        let _ = write(w, b"8 bytes!");
        let bad_iov = [IoVec::raw(bad, 8)];
        // SAFETY: see above.
        let e = unsafe { syscall3(nr::__NR_readv, ru, bad_iov.as_ptr() as usize, 1) };
        expect_efault(c, "readv", "pipe iov_base", tag, e);
        let kept = read(r, &mut got) == Ok(8) && &got == b"8 bytes!";
        c.check(format_args!("pipe keeps its data after readv EFAULT {}", tag), kept);
        // SAFETY: see above.
        let e = unsafe { syscall3(nr::__NR_write, wu, bad, 8) };
        expect_efault(c, "write", "pipe buf", tag, e);
        c.err(
            format_args!("pipe stays empty after write EFAULT {}", tag),
            read(r, &mut got),
            EAGAIN,
        );
        let _ = close(r);
        let _ = close(w);
    }

    // ---- a file's offset and contents, a directory's position.
    let _ = lseek(fd, 4, SEEK_SET);
    // SAFETY: see above.
    let e = unsafe { syscall3(nr::__NR_read, fd as usize, bad, 8) };
    expect_efault(c, "read", "file buf", tag, e);
    c.ok_eq(format_args!("file offset kept after read EFAULT {}", tag), lseek(fd, 0, SEEK_CUR), 4);
    let bad_iov = [IoVec::raw(bad, 8)];
    // SAFETY: see above.
    let e = unsafe { syscall3(nr::__NR_readv, fd as usize, bad_iov.as_ptr() as usize, 1) };
    expect_efault(c, "readv", "file iov_base", tag, e);
    c.ok_eq(format_args!("file offset kept after readv EFAULT {}", tag), lseek(fd, 0, SEEK_CUR), 4);
    // SAFETY: see above.
    let e = unsafe { syscall3(nr::__NR_write, fd as usize, bad, 8) };
    expect_efault(c, "write", "file buf", tag, e);
    c.ok_eq(format_args!("file offset kept after write EFAULT {}", tag), lseek(fd, 0, SEEK_CUR), 4);
    let mut st = stat::default();
    let size = fstat(fd, &mut st).map(|_| st.st_size as usize);
    c.ok_eq(format_args!("file size kept after write EFAULT {}", tag), size, 16);

    let mut first = [0u8; 4096];
    let mut again = [0u8; 4096];
    let _ = lseek(dir, 0, SEEK_SET);
    let n1 = getdents64(dir, &mut first);
    let _ = lseek(dir, 0, SEEK_SET);
    // SAFETY: see above.
    let e = unsafe { syscall3(nr::__NR_getdents64, dir as usize, bad, 4096) };
    expect_efault(c, "getdents64", "dirp (position)", tag, e);
    let n2 = getdents64(dir, &mut again);
    let same = n1.is_ok() && n1 == n2 && first == again;
    c.check(format_args!("directory position kept after getdents64 EFAULT {}", tag), same);

    // ---- the signal mask: a bad new set changes nothing; a bad old set
    // fails after the new mask is in place (Linux copies it out last).
    let saved = sigmask_get().unwrap_or(0);
    let _ = rt_sigprocmask(SIG_SETMASK, Some(&0), None);
    // SAFETY: see above.
    let e = unsafe { syscall4(nr::__NR_rt_sigprocmask, SIG_SETMASK as usize, bad, 0, 8) };
    expect_efault(c, "rt_sigprocmask", "set", tag, e);
    c.ok_eq(format_args!("signal mask kept after bad set {}", tag), sigmask_get(), 0);
    let usr1 = sigmask(SIGUSR1);
    let set = &usr1 as *const u64 as usize;
    // SAFETY: see above.
    let e = unsafe { syscall4(nr::__NR_rt_sigprocmask, SIG_BLOCK as usize, set, bad, 8) };
    expect_efault(c, "rt_sigprocmask", "oldset", tag, e);
    c.ok_eq(
        format_args!("new signal mask applies despite bad oldset {}", tag),
        sigmask_get(),
        usr1,
    );

    // ---- pending signals survive a failed rt_sigpending.
    let _ = kill(getpid().unwrap_or(0) as i32, SIGUSR1);
    // SAFETY: see above.
    let e = unsafe { syscall2(nr::__NR_rt_sigpending, bad, 8) };
    expect_efault(c, "rt_sigpending", "set", tag, e);
    let mut pending = 0u64;
    let r = rt_sigpending(&mut pending).map(|_| pending & usr1);
    c.ok_eq(format_args!("signal still pending after rt_sigpending EFAULT {}", tag), r, usr1);
    let _ = signal_disposition(SIGUSR1, SIG_IGN); // discards the pending SIGUSR1
    let _ = rt_sigprocmask(SIG_SETMASK, Some(&saved), None);

    // ---- signal actions: a bad new action changes nothing; a bad old one
    // fails after the new action is set.
    let act_now = |c: &mut Checker, name: core::fmt::Arguments<'_>, want: usize| {
        let h = sigaction_get(SIGUSR1).map(|a| a.sa_handler);
        c.ok_eq(name, h, want);
    };
    // SAFETY: see above.
    let e = unsafe { syscall4(nr::__NR_rt_sigaction, SIGUSR1 as usize, bad, 0, 8) };
    expect_efault(c, "rt_sigaction", "act", tag, e);
    act_now(c, format_args!("signal action kept after bad act {}", tag), SIG_IGN);
    let dfl = new_sigaction(SIG_DFL, 0, 0);
    let act = &dfl as *const sigaction as usize;
    // SAFETY: see above (SIG_DFL runs no code of ours).
    let e = unsafe { syscall4(nr::__NR_rt_sigaction, SIGUSR1 as usize, act, bad, 8) };
    expect_efault(c, "rt_sigaction", "oldact", tag, e);
    act_now(c, format_args!("new signal action applies despite bad oldact {}", tag), SIG_DFL);

    // ---- the alternate signal stack, likewise.
    // SAFETY: see above.
    let e = unsafe { syscall2(nr::__NR_sigaltstack, bad, 0) };
    expect_efault(c, "sigaltstack", "ss", tag, e);
    let mut old = stack_t::default();
    // SAFETY: old is a live stack_t; nothing new is set.
    let r = unsafe { sigaltstack(None, Some(&mut old)) }.map(|_| old.ss_flags);
    c.ok_eq(format_args!("alternate stack kept after bad ss {}", tag), r, SS_DISABLE);
    let new = stack_t {
        ss_sp: core::ptr::addr_of_mut!(ALTSTACK) as usize,
        ss_flags: 0,
        _pad: 0,
        ss_size: 16384,
    };
    let ss = &new as *const stack_t as usize;
    // SAFETY: see above; ALTSTACK is a static no signal runs on here.
    let e = unsafe { syscall2(nr::__NR_sigaltstack, ss, bad) };
    expect_efault(c, "sigaltstack", "old_ss", tag, e);
    // SAFETY: old is a live stack_t; nothing new is set.
    let r = unsafe { sigaltstack(None, Some(&mut old)) }.map(|_| old.ss_size);
    c.ok_eq(format_args!("new alternate stack applies despite bad old_ss {}", tag), r, 16384);
    let off = stack_t { ss_flags: SS_DISABLE, ..stack_t::default() };
    // SAFETY: disabling the alternate stack.
    let _ = unsafe { sigaltstack(Some(&off), None) };

    // ---- resource limits: prlimit64 applies the new limit, then fails on old.
    let mut lim = rlimit::default();
    let _ = getrlimit(RLIMIT_NOFILE, &mut lim);
    let lower = rlimit { rlim_cur: lim.rlim_cur - 1, rlim_max: lim.rlim_max };
    let new = &lower as *const rlimit as usize;
    // SAFETY: see above.
    let e = unsafe { syscall4(nr::__NR_prlimit64, 0, RLIMIT_NOFILE as usize, new, bad) };
    expect_efault(c, "prlimit64", "old (with new)", tag, e);
    let mut now = rlimit::default();
    let r = getrlimit(RLIMIT_NOFILE, &mut now).map(|_| now.rlim_cur);
    c.ok_eq(format_args!("new rlimit applies despite bad old {}", tag), r, lower.rlim_cur);
    let _ = setrlimit(RLIMIT_NOFILE, &lim);

    // ---- waiting: Linux reaps the child, then fails to store the status.
    let no_children = |c: &mut Checker, name: core::fmt::Arguments<'_>| {
        c.err(name, wait4(-1, None, WNOHANG), ECHILD);
    };
    if let Some(pid) = c.ok(format_args!("fork for wait4 {}", tag), fork_with(|| 7)) {
        // SAFETY: see above.
        let e = unsafe { syscall4(nr::__NR_wait4, pid, bad, 0, 0) };
        expect_efault(c, "wait4", "wstatus", tag, e);
        no_children(c, format_args!("wait4 EFAULT on wstatus {} reaped the child", tag));
    }
    if let Some(pid) = c.ok(format_args!("fork for wait4 rusage {}", tag), fork_with(|| 7)) {
        // SAFETY: see above.
        let e = unsafe { syscall4(nr::__NR_wait4, pid, 0, 0, bad) };
        expect_efault(c, "wait4", "rusage", tag, e);
        no_children(c, format_args!("wait4 EFAULT on rusage {} reaped the child", tag));
    }
    if let Some(pid) = c.ok(format_args!("fork for waitid {}", tag), fork_with(|| 7)) {
        let (idtype, opts) = (P_PID as usize, WEXITED as usize);
        // SAFETY: see above.
        let e = unsafe { syscall5(nr::__NR_waitid, idtype, pid, bad, opts, 0) };
        expect_efault(c, "waitid", "infop", tag, e);
        no_children(c, format_args!("waitid EFAULT on infop {} reaped the child", tag));
    }

    // ---- creating: clone3 with bad arguments creates no child; a bad
    // CLONE_PARENT_SETTID or CLONE_CHILD_SETTID pointer is not checked (Linux).
    // SAFETY: see above.
    let e = unsafe { syscall2(nr::__NR_clone3, bad, core::mem::size_of::<clone_args>()) };
    expect_efault(c, "clone3", "uargs", tag, e);
    no_children(c, format_args!("clone3 EFAULT {} created no child", tag));
    let settid = [
        ("clone CLONE_PARENT_SETTID", CLONE_PARENT_SETTID),
        ("clone CLONE_CHILD_SETTID", CLONE_CHILD_SETTID),
    ];
    for (name, flag) in settid {
        let flags = flag as usize | SIGCHLD as usize;
        // SAFETY: fork-like clone (no new stack): the child runs on its own copy
        // of this stack and exits at once; `bad` is never written by us.
        let r = errno::result(unsafe { syscall5(nr::__NR_clone, flags, 0, bad, bad, 0) });
        match r {
            Ok(0) => exit_group(0),
            Ok(pid) => exited_zero(c, name, tag, pid),
            Err(e) => c.fail(format_args!("{} {}", name, tag), e),
        }
    }
    let args = clone_args {
        flags: CLONE_PARENT_SETTID,
        parent_tid: bad as u64,
        exit_signal: SIGCHLD as u64,
        ..clone_args::default()
    };
    let ua = &args as *const clone_args as usize;
    // SAFETY: fork-like clone3 (no stack); the child exits at once.
    let r =
        errno::result(unsafe { syscall2(nr::__NR_clone3, ua, core::mem::size_of::<clone_args>()) });
    match r {
        Ok(0) => exit_group(0),
        Ok(pid) => exited_zero(c, "clone3 CLONE_PARENT_SETTID", tag, pid),
        Err(e) => c.fail(format_args!("clone3 CLONE_PARENT_SETTID {}", tag), e),
    }

    // ---- other calls that only read or only write: EFAULT, and the caller
    // goes on (poll, getcwd, sched affinity, execve, sethostname).
    // SAFETY: see above.
    let e = unsafe { syscall3(nr::__NR_poll, bad, 1, 0) };
    expect_efault(c, "poll", "fds", tag, e);
    // SAFETY: see above.
    let e = unsafe { syscall2(nr::__NR_getcwd, bad, 4096) };
    expect_efault(c, "getcwd", "buf", tag, e);
    // SAFETY: see above.
    let e = unsafe { syscall3(nr::__NR_sched_getaffinity, 0, 128, bad) };
    expect_efault(c, "sched_getaffinity", "mask", tag, e);
    // SAFETY: see above.
    let e = unsafe { syscall3(nr::__NR_sched_setaffinity, 0, 128, bad) };
    expect_efault(c, "sched_setaffinity", "mask", tag, e);
    // SAFETY: see above.
    let e = unsafe { syscall3(nr::__NR_execve, bad, 0, 0) };
    expect_efault(c, "execve", "path", tag, e);
}

/// A buffer that starts in a mapped page and runs into an unmapped one: a
/// file read or write moves the bytes before the bad page and returns their
/// count (the offset moves by as much), getrandom too (EFAULT only when no
/// byte fits); a pipe read fails whole and keeps its data, a pipe write
/// fails whole and adds nothing (Linux `pipe_read`/`pipe_write`).
fn short_counts(c: &mut Checker, fd: i32) {
    let (rw, flags) = (PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    // SAFETY: a new mapping of two pages; its second page is unmapped at once
    // and the first is used only through the raw pointers below.
    let Ok(map) = (unsafe { mmap(0, 8192, rw, flags, -1, 0) }) else {
        c.fail("mmap two pages", ENOMEM);
        return;
    };
    // SAFETY: nothing uses the second page.
    let _ = unsafe { munmap(map + 4096, 4096) };
    let edge = map + 4096 - 10;
    let (fdu, pos) = (fd as usize, |fd| lseek(fd, 0, SEEK_CUR));

    let _ = lseek(fd, 0, SEEK_SET);
    // SAFETY: (this and every raw call below) the kernel writes or reads at
    // most the 10 mapped bytes at `edge` and fails on the unmapped page.
    let r = errno::result(unsafe { syscall3(nr::__NR_read, fdu, edge, 16) });
    c.ok_eq("read into a buffer that runs into an unmapped page: 10 bytes", r, 10);
    c.ok_eq("the file offset moved by 10", pos(fd), 10);
    // SAFETY: see above.
    let got = unsafe { core::slice::from_raw_parts(edge as *const u8, 10) };
    c.check("they are the file's first 10 bytes", got == b"0123456789");
    // SAFETY: see above.
    let r = errno::result(unsafe { syscall4(nr::__NR_pread64, fdu, edge, 16, 6) });
    c.ok_eq("pread64 likewise: 10 bytes", r, 10);

    // SAFETY: see above (the 10 bytes at `edge` are ours to write).
    unsafe { core::ptr::copy_nonoverlapping(b"ABCDEFGHIJ".as_ptr(), edge as *mut u8, 10) };
    let _ = lseek(fd, 0, SEEK_SET);
    // SAFETY: see above.
    let r = errno::result(unsafe { syscall3(nr::__NR_write, fdu, edge, 16) });
    c.ok_eq("write from a buffer that runs into an unmapped page: 10 bytes", r, 10);
    c.ok_eq("the file offset moved by 10", pos(fd), 10);
    let mut back = [0u8; 16];
    let r = pread64(fd, &mut back, 0);
    c.check("the file holds them", r == Ok(16) && &back == b"ABCDEFGHIJabcdef");
    let _ = pwrite64(fd, b"0123456789", 0);

    // A path whose NUL is the mapped page's last byte is read whole (the
    // kernel reads no further than the NUL): ENOENT for a name that does
    // not exist. One that runs into the unmapped page without a NUL: EFAULT.
    let name = b"/no/such/file\0";
    let at = map + 4096 - name.len();
    // SAFETY: the bytes at `at` are the mapped page's last `name.len()`.
    unsafe { core::ptr::copy_nonoverlapping(name.as_ptr(), at as *mut u8, name.len()) };
    let cwd = AT_FDCWD as usize;
    // SAFETY: see above.
    let r = errno::result(unsafe { syscall4(nr::__NR_openat, cwd, at, O_RDONLY as usize, 0) });
    c.err("a path ending at a page's last byte, before an unmapped page: ENOENT", r, ENOENT);
    // SAFETY: the last byte becomes a '/': the string runs into the unmapped page.
    unsafe { *((map + 4095) as *mut u8) = b'/' };
    // SAFETY: see above.
    let r = errno::result(unsafe { syscall4(nr::__NR_openat, cwd, at, O_RDONLY as usize, 0) });
    c.err("a path that runs into an unmapped page: EFAULT", r, EFAULT);

    // SAFETY: see above.
    let r = errno::result(unsafe { syscall3(nr::__NR_getrandom, edge, 16, 0) });
    c.ok_eq("getrandom into it: 10 bytes", r, 10);
    // SAFETY: see above.
    let r = errno::result(unsafe { syscall3(nr::__NR_getrandom, map + 4096, 16, 0) });
    c.err("getrandom wholly in the unmapped page EFAULT", r, EFAULT);

    if let Some([r, w]) = c.ok("pipe2 for the edge", pipe2(O_NONBLOCK)) {
        let _ = write(w, b"0123456789abcdef");
        // SAFETY: see above.
        let e = unsafe { syscall3(nr::__NR_read, r as usize, edge, 16) };
        expect_efault(c, "read", "pipe buf", "at the edge", e);
        // SAFETY: see above.
        let e = unsafe { syscall3(nr::__NR_write, w as usize, edge, 16) };
        expect_efault(c, "write", "pipe buf", "at the edge", e);
        let mut all = [0u8; 64];
        let kept = read(r, &mut all) == Ok(16) && &all[..16] == b"0123456789abcdef";
        c.check("the pipe kept its 16 bytes and gained none", kept);
        let _ = close(r);
        let _ = close(w);
    }
    // SAFETY: nothing uses the first page any more.
    let _ = unsafe { munmap(map, 4096) };
}

/// Reaps `pid` and checks that it exited with status 0.
fn exited_zero(c: &mut Checker, name: &str, tag: &str, pid: usize) {
    let mut st = 0;
    let ok = wait4(pid as i32, Some(&mut st), 0) == Ok(pid) && st == 0;
    c.check(format_args!("{} {}: child created, exits 0", name, tag), ok);
}
