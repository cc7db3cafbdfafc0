//! Thin wrappers: one function per system call, Linux's argument order, the
//! result as `Result<usize, Errno>`. Calls whose arguments are only plain values
//! or references are safe; those that can invalidate memory the program uses
//! (`mmap` with `MAP_FIXED`, `munmap`, `mprotect`, `brk`, `arch_prctl`) are
//! `unsafe`. Tests that pass bad pointers use [`crate::syscall`] directly.

use core::ffi::CStr;
use core::sync::atomic::AtomicU32;

use crate::abi::*;
use crate::errno::{result, Errno};
use crate::nr;
use crate::syscall::*;

pub type SysResult = Result<usize, Errno>;

fn ptr<T>(r: &T) -> usize {
    r as *const T as usize
}

fn mut_ptr<T>(r: &mut T) -> usize {
    r as *mut T as usize
}

fn opt_ptr<T>(r: Option<&T>) -> usize {
    r.map_or(0, ptr)
}

fn opt_mut_ptr<T>(r: Option<&mut T>) -> usize {
    r.map_or(0, mut_ptr)
}

// ---- files ------------------------------------------------------------------

pub fn read(fd: i32, buf: &mut [u8]) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    result(unsafe { syscall3(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) })
}

pub fn write(fd: i32, buf: &[u8]) -> SysResult {
    // SAFETY: the kernel only reads buf.
    result(unsafe { syscall3(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) })
}

pub fn readv(fd: i32, iov: &mut [IoVecMut<'_>]) -> SysResult {
    // SAFETY: each iovec describes a live mutable buffer (IoVecMut borrows it).
    result(unsafe { syscall3(nr::READV, fd as usize, iov.as_mut_ptr() as usize, iov.len()) })
}

pub fn writev(fd: i32, iov: &[IoVec<'_>]) -> SysResult {
    // SAFETY: the kernel only reads the iovecs and the buffers they borrow.
    result(unsafe { syscall3(nr::WRITEV, fd as usize, iov.as_ptr() as usize, iov.len()) })
}

pub fn pread64(fd: i32, buf: &mut [u8], offset: i64) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    result(unsafe {
        syscall4(nr::PREAD64, fd as usize, buf.as_mut_ptr() as usize, buf.len(), offset as usize)
    })
}

pub fn pwrite64(fd: i32, buf: &[u8], offset: i64) -> SysResult {
    // SAFETY: the kernel only reads buf.
    result(unsafe {
        syscall4(nr::PWRITE64, fd as usize, buf.as_ptr() as usize, buf.len(), offset as usize)
    })
}

pub fn openat(dirfd: i32, path: &CStr, flags: u32, mode: u32) -> SysResult {
    // SAFETY: path is NUL-terminated and only read.
    result(unsafe {
        syscall4(nr::OPENAT, dirfd as usize, path.as_ptr() as usize, flags as usize, mode as usize)
    })
}

pub fn close(fd: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::CLOSE, fd as usize) })
}

pub fn lseek(fd: i32, offset: i64, whence: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall3(nr::LSEEK, fd as usize, offset as usize, whence as usize) })
}

pub fn fstat(fd: i32, st: &mut Stat) -> SysResult {
    // SAFETY: st is a live struct stat the kernel fills.
    result(unsafe { syscall2(nr::FSTAT, fd as usize, mut_ptr(st)) })
}

pub fn newfstatat(dirfd: i32, path: &CStr, st: &mut Stat, flags: u32) -> SysResult {
    // SAFETY: path is only read; st is a live struct stat the kernel fills.
    result(unsafe {
        syscall4(
            nr::NEWFSTATAT,
            dirfd as usize,
            path.as_ptr() as usize,
            mut_ptr(st),
            flags as usize,
        )
    })
}

/// Reads directory records into `buf`; iterate them with [`Dirents`].
pub fn getdents64(fd: i32, buf: &mut [u8]) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    result(unsafe { syscall3(nr::GETDENTS64, fd as usize, buf.as_mut_ptr() as usize, buf.len()) })
}

pub fn mkdirat(dirfd: i32, path: &CStr, mode: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe { syscall3(nr::MKDIRAT, dirfd as usize, path.as_ptr() as usize, mode as usize) })
}

pub fn unlinkat(dirfd: i32, path: &CStr, flags: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe {
        syscall3(nr::UNLINKAT, dirfd as usize, path.as_ptr() as usize, flags as usize)
    })
}

/// `pipe2`: `[read end, write end]`.
pub fn pipe2(flags: u32) -> Result<[i32; 2], Errno> {
    let mut fds = [-1i32; 2];
    // SAFETY: the kernel writes two ints into fds.
    result(unsafe { syscall2(nr::PIPE2, fds.as_mut_ptr() as usize, flags as usize) })?;
    Ok(fds)
}

pub fn dup(fd: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::DUP, fd as usize) })
}

pub fn dup2(old: i32, new: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::DUP2, old as usize, new as usize) })
}

pub fn dup3(old: i32, new: i32, flags: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall3(nr::DUP3, old as usize, new as usize, flags as usize) })
}

/// `fcntl` with an integer argument (F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD*).
pub fn fcntl(fd: i32, cmd: u32, arg: usize) -> SysResult {
    // SAFETY: the commands this is meant for take no pointer; others the kernel
    // rejects or treats as integers.
    result(unsafe { syscall3(nr::FCNTL, fd as usize, cmd as usize, arg) })
}

/// `ioctl(fd, TIOCGWINSZ, ws)`.
pub fn ioctl_tiocgwinsz(fd: i32, ws: &mut Winsize) -> SysResult {
    // SAFETY: ws is a live struct winsize the kernel fills.
    result(unsafe { syscall3(nr::IOCTL, fd as usize, TIOCGWINSZ as usize, mut_ptr(ws)) })
}

// ---- processes and identity -------------------------------------------------

pub fn getpid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::GETPID) })
}

pub fn getppid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::GETPPID) })
}

pub fn gettid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::GETTID) })
}

pub fn getuid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::GETUID) })
}

pub fn geteuid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::GETEUID) })
}

pub fn getgid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::GETGID) })
}

pub fn getegid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::GETEGID) })
}

pub fn uname(buf: &mut Utsname) -> SysResult {
    // SAFETY: buf is a live struct new_utsname the kernel fills.
    result(unsafe { syscall1(nr::UNAME, mut_ptr(buf)) })
}

/// `kill(pid, sig)`; signalling oneself may not return.
pub fn kill(pid: i32, sig: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::KILL, pid as usize, sig as usize) })
}

/// Ends the process (all threads) with `status & 0xff`.
pub fn exit_group(status: i32) -> ! {
    // SAFETY: exit_group does not return.
    unsafe {
        syscall1(nr::EXIT_GROUP, status as usize);
    }
    // Only if a broken kernel returned.
    loop {
        core::hint::spin_loop();
    }
}

/// `set_tid_address(tidptr)`: returns the caller's tid. The kernel writes 0 to
/// `*tidptr` and wakes a futex there when the thread exits, hence `'static`.
pub fn set_tid_address(tidptr: &'static AtomicU32) -> SysResult {
    // SAFETY: tidptr lives for the whole program; the kernel writes it only at exit.
    result(unsafe { syscall1(nr::SET_TID_ADDRESS, ptr(tidptr)) })
}

/// `arch_prctl(code, addr)`.
///
/// # Safety
///
/// `ARCH_SET_FS`/`ARCH_SET_GS` change the segment bases the code may rely on
/// (thread-local storage); `ARCH_GET_*` write a `u64` at `addr`.
pub unsafe fn arch_prctl(code: u32, addr: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall2(nr::ARCH_PRCTL, code as usize, addr) })
}

/// The FS base (`arch_prctl(ARCH_GET_FS)`).
pub fn arch_get_fs() -> SysResult {
    let mut v: u64 = 0;
    // SAFETY: ARCH_GET_FS writes one u64 into v.
    unsafe { arch_prctl(ARCH_GET_FS, mut_ptr(&mut v)) }?;
    Ok(v as usize)
}

// ---- time -------------------------------------------------------------------

pub fn clock_gettime(clock: u32, tp: &mut Timespec) -> SysResult {
    // SAFETY: tp is a live timespec the kernel fills.
    result(unsafe { syscall2(nr::CLOCK_GETTIME, clock as usize, mut_ptr(tp)) })
}

/// Nanoseconds on `CLOCK_MONOTONIC` (0 if the call fails).
pub fn monotonic_ns() -> u64 {
    let mut t = Timespec::default();
    match clock_gettime(CLOCK_MONOTONIC, &mut t) {
        Ok(_) => t.as_nanos(),
        Err(_) => 0,
    }
}

pub fn nanosleep(req: &Timespec, rem: Option<&mut Timespec>) -> SysResult {
    // SAFETY: req is only read; rem, if any, is a live timespec.
    result(unsafe { syscall2(nr::NANOSLEEP, ptr(req), opt_mut_ptr(rem)) })
}

pub fn clock_nanosleep(
    clock: u32,
    flags: u32,
    req: &Timespec,
    rem: Option<&mut Timespec>,
) -> SysResult {
    // SAFETY: req is only read; rem, if any, is a live timespec.
    result(unsafe {
        syscall4(nr::CLOCK_NANOSLEEP, clock as usize, flags as usize, ptr(req), opt_mut_ptr(rem))
    })
}

pub fn sched_yield() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::SCHED_YIELD) })
}

pub fn getrandom(buf: &mut [u8], flags: u32) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    result(unsafe { syscall3(nr::GETRANDOM, buf.as_mut_ptr() as usize, buf.len(), flags as usize) })
}

// ---- resources --------------------------------------------------------------

pub fn prlimit64(
    pid: i32,
    resource: u32,
    new: Option<&Rlimit>,
    old: Option<&mut Rlimit>,
) -> SysResult {
    // SAFETY: new is only read, old is a live rlimit64 the kernel fills.
    result(unsafe {
        syscall4(nr::PRLIMIT64, pid as usize, resource as usize, opt_ptr(new), opt_mut_ptr(old))
    })
}

pub fn getrlimit(resource: u32, old: &mut Rlimit) -> SysResult {
    // SAFETY: old is a live struct rlimit the kernel fills.
    result(unsafe { syscall2(nr::GETRLIMIT, resource as usize, mut_ptr(old)) })
}

pub fn setrlimit(resource: u32, new: &Rlimit) -> SysResult {
    // SAFETY: new is only read.
    result(unsafe { syscall2(nr::SETRLIMIT, resource as usize, ptr(new)) })
}

// ---- futex ------------------------------------------------------------------

/// `futex(word, FUTEX_WAIT | flags, val, timeout)`: sleeps while `*word == val`.
pub fn futex_wait(word: &AtomicU32, flags: u32, val: u32, timeout: Option<&Timespec>) -> SysResult {
    // SAFETY: word is a live, aligned u32; timeout is only read.
    result(unsafe {
        syscall4(
            nr::FUTEX,
            ptr(word),
            (FUTEX_WAIT | flags) as usize,
            val as usize,
            opt_ptr(timeout),
        )
    })
}

/// `futex(word, FUTEX_WAKE | flags, n)`: the number of waiters woken.
pub fn futex_wake(word: &AtomicU32, flags: u32, n: u32) -> SysResult {
    // SAFETY: word is a live, aligned u32 that is not written.
    result(unsafe { syscall3(nr::FUTEX, ptr(word), (FUTEX_WAKE | flags) as usize, n as usize) })
}

// ---- memory -----------------------------------------------------------------

/// `mmap`: the address of the new mapping.
///
/// # Safety
///
/// With `MAP_FIXED` it replaces whatever was mapped in the range; a file mapping
/// must not alias memory Rust treats as exclusively borrowed.
pub unsafe fn mmap(
    addr: usize,
    len: usize,
    prot: u32,
    flags: u32,
    fd: i32,
    offset: i64,
) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe {
        syscall6(nr::MMAP, addr, len, prot as usize, flags as usize, fd as usize, offset as usize)
    })
}

/// # Safety
///
/// Nothing may use the range afterwards.
pub unsafe fn munmap(addr: usize, len: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall2(nr::MUNMAP, addr, len) })
}

/// # Safety
///
/// The program must not access the range in ways the new protection forbids.
pub unsafe fn mprotect(addr: usize, len: usize, prot: u32) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::MPROTECT, addr, len, prot as usize) })
}

/// `brk(addr)`: the new (or, on failure, unchanged) program break; `brk(0)` queries.
///
/// # Safety
///
/// Shrinking the break unmaps memory that must no longer be used.
pub unsafe fn brk(addr: usize) -> usize {
    // SAFETY: forwarded to the caller.
    unsafe { syscall1(nr::BRK, addr) as usize }
}
