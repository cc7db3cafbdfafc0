//! Every pointer argument that the kernel reads or writes, given an unmapped
//! user address (0x10) and a kernel address (0xffff888000000000), must fail with
//! EFAULT, never crash the kernel: one line `ok <call> <arg> <0x10|kernel>` per
//! case, exit status = number of failed checks. Uses /tmp/efault-rs (removed).
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

    // Nothing of the file changed through the failed calls.
    let r = pread64(fd as i32, &mut good, 0);
    let mut st = stat::default();
    let size = fstat(fd as i32, &mut st).is_ok() && st.st_size == 16;
    c.check("file unchanged", r == Ok(16) && &good == b"0123456789abcdef" && size);
    let _ = close(fd as i32);
    let _ = close(dir as i32);
    c.ok_eq("remove test file", unlinkat(AT_FDCWD, FILE, 0), 0);
    c.status()
}

/// The lowest fd that is not open (probed with F_GETFD).
fn lowest_free_fd() -> i32 {
    (0..).find(|&fd| fcntl(fd, F_GETFD, 0) == Err(EBADF)).unwrap_or(-1)
}
