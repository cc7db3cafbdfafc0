//! Thin wrappers: one function per system call, Linux's argument order, the
//! result as `Result<usize, Errno>`. Calls whose arguments are only plain values
//! or references are safe; those that can invalidate memory the program uses
//! (`mmap` with `MAP_FIXED`, `munmap`, `mprotect`, `brk`, `arch_prctl`) are
//! `unsafe`. Tests that pass bad pointers use [`crate::syscall`] directly.

use core::ffi::CStr;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::abi::*;
use crate::errno::{result, Errno, EINVAL};
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
    result(unsafe { syscall3(nr::__NR_read, fd as usize, buf.as_mut_ptr() as usize, buf.len()) })
}

pub fn write(fd: i32, buf: &[u8]) -> SysResult {
    // SAFETY: the kernel only reads buf.
    result(unsafe { syscall3(nr::__NR_write, fd as usize, buf.as_ptr() as usize, buf.len()) })
}

pub fn readv(fd: i32, iov: &mut [IoVecMut<'_>]) -> SysResult {
    // SAFETY: each iovec describes a live mutable buffer (IoVecMut borrows it).
    result(unsafe { syscall3(nr::__NR_readv, fd as usize, iov.as_mut_ptr() as usize, iov.len()) })
}

pub fn writev(fd: i32, iov: &[IoVec<'_>]) -> SysResult {
    // SAFETY: the kernel only reads the iovecs and the buffers they borrow.
    result(unsafe { syscall3(nr::__NR_writev, fd as usize, iov.as_ptr() as usize, iov.len()) })
}

pub fn pread64(fd: i32, buf: &mut [u8], offset: i64) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    result(unsafe {
        syscall4(
            nr::__NR_pread64,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            offset as usize,
        )
    })
}

pub fn pwrite64(fd: i32, buf: &[u8], offset: i64) -> SysResult {
    // SAFETY: the kernel only reads buf.
    result(unsafe {
        syscall4(nr::__NR_pwrite64, fd as usize, buf.as_ptr() as usize, buf.len(), offset as usize)
    })
}

pub fn openat(dirfd: i32, path: &CStr, flags: u32, mode: u32) -> SysResult {
    // SAFETY: path is NUL-terminated and only read.
    result(unsafe {
        syscall4(
            nr::__NR_openat,
            dirfd as usize,
            path.as_ptr() as usize,
            flags as usize,
            mode as usize,
        )
    })
}

pub fn close(fd: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_close, fd as usize) })
}

pub fn lseek(fd: i32, offset: i64, whence: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall3(nr::__NR_lseek, fd as usize, offset as usize, whence as usize) })
}

pub fn fstat(fd: i32, st: &mut stat) -> SysResult {
    // SAFETY: st is a live struct stat the kernel fills.
    result(unsafe { syscall2(nr::__NR_fstat, fd as usize, mut_ptr(st)) })
}

pub fn newfstatat(dirfd: i32, path: &CStr, st: &mut stat, flags: u32) -> SysResult {
    // SAFETY: path is only read; st is a live struct stat the kernel fills.
    result(unsafe {
        syscall4(
            nr::__NR_newfstatat,
            dirfd as usize,
            path.as_ptr() as usize,
            mut_ptr(st),
            flags as usize,
        )
    })
}

// ---- attributes: owner, mode, size, file system -------------------------------

pub fn fchownat(dirfd: i32, path: &CStr, uid: u32, gid: u32, flags: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe {
        syscall5(
            nr::__NR_fchownat,
            dirfd as usize,
            path.as_ptr() as usize,
            uid as usize,
            gid as usize,
            flags as usize,
        )
    })
}

pub fn chown(path: &CStr, uid: u32, gid: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe { syscall3(nr::__NR_chown, path.as_ptr() as usize, uid as usize, gid as usize) })
}

pub fn lchown(path: &CStr, uid: u32, gid: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe { syscall3(nr::__NR_lchown, path.as_ptr() as usize, uid as usize, gid as usize) })
}

pub fn fchown(fd: i32, uid: u32, gid: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall3(nr::__NR_fchown, fd as usize, uid as usize, gid as usize) })
}

pub fn chmod(path: &CStr, mode: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe { syscall2(nr::__NR_chmod, path.as_ptr() as usize, mode as usize) })
}

pub fn fchmod(fd: i32, mode: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::__NR_fchmod, fd as usize, mode as usize) })
}

/// `fchmodat(dirfd, path, mode)` (the system call has no flags argument).
pub fn fchmodat(dirfd: i32, path: &CStr, mode: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe {
        syscall3(nr::__NR_fchmodat, dirfd as usize, path.as_ptr() as usize, mode as usize)
    })
}

pub fn chdir(path: &CStr) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe { syscall1(nr::__NR_chdir, path.as_ptr() as usize) })
}

pub fn umask(mask: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_umask, mask as usize) })
}

pub fn truncate(path: &CStr, length: i64) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe { syscall2(nr::__NR_truncate, path.as_ptr() as usize, length as usize) })
}

pub fn ftruncate(fd: i32, length: i64) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::__NR_ftruncate, fd as usize, length as usize) })
}

pub fn statfs(path: &CStr, buf: &mut statfs) -> SysResult {
    // SAFETY: path is only read; buf is a live struct statfs the kernel fills.
    result(unsafe { syscall2(nr::__NR_statfs, path.as_ptr() as usize, mut_ptr(buf)) })
}

pub fn fstatfs(fd: i32, buf: &mut statfs) -> SysResult {
    // SAFETY: buf is a live struct statfs the kernel fills.
    result(unsafe { syscall2(nr::__NR_fstatfs, fd as usize, mut_ptr(buf)) })
}

/// Reads directory records into `buf`; iterate them with [`Dirents`].
pub fn getdents64(fd: i32, buf: &mut [u8]) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    result(unsafe {
        syscall3(nr::__NR_getdents64, fd as usize, buf.as_mut_ptr() as usize, buf.len())
    })
}

pub fn mkdirat(dirfd: i32, path: &CStr, mode: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe {
        syscall3(nr::__NR_mkdirat, dirfd as usize, path.as_ptr() as usize, mode as usize)
    })
}

pub fn unlinkat(dirfd: i32, path: &CStr, flags: u32) -> SysResult {
    // SAFETY: path is only read.
    result(unsafe {
        syscall3(nr::__NR_unlinkat, dirfd as usize, path.as_ptr() as usize, flags as usize)
    })
}

/// `pipe2`: `[read end, write end]`.
/// `readlinkat`: the link's target, its length in `buf` (not NUL-terminated).
pub fn readlinkat(dirfd: i32, path: &CStr, buf: &mut [u8]) -> SysResult {
    // SAFETY: path is NUL-terminated and only read; the kernel writes at most
    // buf.len() bytes into buf.
    result(unsafe {
        syscall4(
            nr::__NR_readlinkat,
            dirfd as usize,
            path.as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
        )
    })
}

/// `mount(source, target, fstype, flags, NULL)`.
pub fn mount(source: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: u64) -> SysResult {
    let s = source.map_or(0, |s| s.as_ptr() as usize);
    let t = fstype.map_or(0, |s| s.as_ptr() as usize);
    // SAFETY: the strings are NUL-terminated and only read; no data.
    result(unsafe { syscall5(nr::__NR_mount, s, target.as_ptr() as usize, t, flags as usize, 0) })
}

/// `umount2(target, flags)`.
pub fn umount2(target: &CStr, flags: u32) -> SysResult {
    // SAFETY: target is NUL-terminated and only read.
    result(unsafe { syscall2(nr::__NR_umount2, target.as_ptr() as usize, flags as usize) })
}

pub fn pipe2(flags: u32) -> Result<[i32; 2], Errno> {
    let mut fds = [-1i32; 2];
    // SAFETY: the kernel writes two ints into fds.
    result(unsafe { syscall2(nr::__NR_pipe2, fds.as_mut_ptr() as usize, flags as usize) })?;
    Ok(fds)
}

pub fn dup(fd: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_dup, fd as usize) })
}

pub fn dup2(old: i32, new: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::__NR_dup2, old as usize, new as usize) })
}

pub fn dup3(old: i32, new: i32, flags: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall3(nr::__NR_dup3, old as usize, new as usize, flags as usize) })
}

/// `fcntl` with an integer argument (F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD*).
pub fn fcntl(fd: i32, cmd: u32, arg: usize) -> SysResult {
    // SAFETY: the commands this is meant for take no pointer; others the kernel
    // rejects or treats as integers.
    result(unsafe { syscall3(nr::__NR_fcntl, fd as usize, cmd as usize, arg) })
}

/// `ioctl(fd, TIOCGWINSZ, ws)`.
pub fn ioctl_tiocgwinsz(fd: i32, ws: &mut winsize) -> SysResult {
    // SAFETY: ws is a live struct winsize the kernel fills.
    result(unsafe { syscall3(nr::__NR_ioctl, fd as usize, TIOCGWINSZ as usize, mut_ptr(ws)) })
}

// ---- processes and identity -------------------------------------------------

pub fn getpid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_getpid) })
}

pub fn getppid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_getppid) })
}

pub fn gettid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_gettid) })
}

pub fn getuid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_getuid) })
}

pub fn geteuid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_geteuid) })
}

pub fn getgid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_getgid) })
}

pub fn getegid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_getegid) })
}

pub fn uname(buf: &mut new_utsname) -> SysResult {
    // SAFETY: buf is a live struct new_utsname the kernel fills.
    result(unsafe { syscall1(nr::__NR_uname, mut_ptr(buf)) })
}

/// `kill(pid, sig)`; signalling oneself may not return.
pub fn kill(pid: i32, sig: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::__NR_kill, pid as usize, sig as usize) })
}

/// Ends the process (all threads) with `status & 0xff`.
pub fn exit_group(status: i32) -> ! {
    // SAFETY: exit_group does not return.
    unsafe {
        syscall1(nr::__NR_exit_group, status as usize);
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
    result(unsafe { syscall1(nr::__NR_set_tid_address, ptr(tidptr)) })
}

/// `arch_prctl(code, addr)`.
///
/// # Safety
///
/// `ARCH_SET_FS`/`ARCH_SET_GS` change the segment bases the code may rely on
/// (thread-local storage); `ARCH_GET_*` write a `u64` at `addr`.
pub unsafe fn arch_prctl(code: u32, addr: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall2(nr::__NR_arch_prctl, code as usize, addr) })
}

/// The FS base (`arch_prctl(ARCH_GET_FS)`).
pub fn arch_get_fs() -> SysResult {
    let mut v: u64 = 0;
    // SAFETY: ARCH_GET_FS writes one u64 into v.
    unsafe { arch_prctl(ARCH_GET_FS, mut_ptr(&mut v)) }?;
    Ok(v as usize)
}

// ---- time -------------------------------------------------------------------

pub fn clock_gettime(clock: u32, tp: &mut timespec) -> SysResult {
    // SAFETY: tp is a live timespec the kernel fills.
    result(unsafe { syscall2(nr::__NR_clock_gettime, clock as usize, mut_ptr(tp)) })
}

/// Nanoseconds on `CLOCK_MONOTONIC` (0 if the call fails).
pub fn monotonic_ns() -> u64 {
    let mut t = timespec::default();
    match clock_gettime(CLOCK_MONOTONIC, &mut t) {
        Ok(_) => t.as_nanos(),
        Err(_) => 0,
    }
}

pub fn nanosleep(req: &timespec, rem: Option<&mut timespec>) -> SysResult {
    // SAFETY: req is only read; rem, if any, is a live timespec.
    result(unsafe { syscall2(nr::__NR_nanosleep, ptr(req), opt_mut_ptr(rem)) })
}

pub fn clock_nanosleep(
    clock: u32,
    flags: u32,
    req: &timespec,
    rem: Option<&mut timespec>,
) -> SysResult {
    // SAFETY: req is only read; rem, if any, is a live timespec.
    result(unsafe {
        syscall4(
            nr::__NR_clock_nanosleep,
            clock as usize,
            flags as usize,
            ptr(req),
            opt_mut_ptr(rem),
        )
    })
}

pub fn sched_yield() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_sched_yield) })
}

pub fn getrandom(buf: &mut [u8], flags: u32) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    result(unsafe {
        syscall3(nr::__NR_getrandom, buf.as_mut_ptr() as usize, buf.len(), flags as usize)
    })
}

// ---- resources --------------------------------------------------------------

pub fn prlimit64(
    pid: i32,
    resource: u32,
    new: Option<&rlimit>,
    old: Option<&mut rlimit>,
) -> SysResult {
    // SAFETY: new is only read, old is a live rlimit64 the kernel fills.
    result(unsafe {
        syscall4(
            nr::__NR_prlimit64,
            pid as usize,
            resource as usize,
            opt_ptr(new),
            opt_mut_ptr(old),
        )
    })
}

pub fn getrlimit(resource: u32, old: &mut rlimit) -> SysResult {
    // SAFETY: old is a live struct rlimit the kernel fills.
    result(unsafe { syscall2(nr::__NR_getrlimit, resource as usize, mut_ptr(old)) })
}

pub fn setrlimit(resource: u32, new: &rlimit) -> SysResult {
    // SAFETY: new is only read.
    result(unsafe { syscall2(nr::__NR_setrlimit, resource as usize, ptr(new)) })
}

// ---- futex ------------------------------------------------------------------

/// `futex(word, FUTEX_WAIT | flags, val, timeout)`: sleeps while `*word == val`.
pub fn futex_wait(word: &AtomicU32, flags: u32, val: u32, timeout: Option<&timespec>) -> SysResult {
    // SAFETY: word is a live, aligned u32; timeout is only read.
    result(unsafe {
        syscall4(
            nr::__NR_futex,
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
    result(unsafe {
        syscall3(nr::__NR_futex, ptr(word), (FUTEX_WAKE | flags) as usize, n as usize)
    })
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
        syscall6(
            nr::__NR_mmap,
            addr,
            len,
            prot as usize,
            flags as usize,
            fd as usize,
            offset as usize,
        )
    })
}

/// # Safety
///
/// Nothing may use the range afterwards.
pub unsafe fn munmap(addr: usize, len: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall2(nr::__NR_munmap, addr, len) })
}

/// # Safety
///
/// The program must not access the range in ways the new protection forbids.
pub unsafe fn mprotect(addr: usize, len: usize, prot: u32) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::__NR_mprotect, addr, len, prot as usize) })
}

/// `brk(addr)`: the new (or, on failure, unchanged) program break; `brk(0)` queries.
///
/// # Safety
///
/// Shrinking the break unmaps memory that must no longer be used.
pub unsafe fn brk(addr: usize) -> usize {
    // SAFETY: forwarded to the caller.
    unsafe { syscall1(nr::__NR_brk, addr) as usize }
}

// ---- process creation, exit and wait ----------------------------------------

// ---- interval timers -------------------------------------------------------

pub fn getitimer(which: u32, cur: &mut itimerval) -> SysResult {
    // SAFETY: cur is a live struct itimerval the kernel fills.
    result(unsafe { syscall2(nr::__NR_getitimer, which as usize, mut_ptr(cur)) })
}

pub fn setitimer(which: u32, new: Option<&itimerval>, old: Option<&mut itimerval>) -> SysResult {
    // SAFETY: new is only read, old is a live struct itimerval the kernel fills.
    result(unsafe { syscall3(nr::__NR_setitimer, which as usize, opt_ptr(new), opt_mut_ptr(old)) })
}

// ---- POSIX timers ------------------------------------------------------------

/// `timer_create(clock, sevp, &id)`: the new timer's id.
pub fn timer_create(clock: u32, sevp: Option<&sigevent>) -> Result<i32, Errno> {
    let mut id = 0i32;
    // SAFETY: sevp is only read; id is a live int the kernel fills.
    result(unsafe {
        syscall3(nr::__NR_timer_create, clock as usize, opt_ptr(sevp), mut_ptr(&mut id))
    })
    .map(|_| id)
}

pub fn timer_settime(
    id: i32,
    flags: u32,
    new: &itimerspec,
    old: Option<&mut itimerspec>,
) -> SysResult {
    // SAFETY: new is only read, old is a live struct itimerspec the kernel fills.
    result(unsafe {
        syscall4(nr::__NR_timer_settime, id as usize, flags as usize, ptr(new), opt_mut_ptr(old))
    })
}

pub fn timer_gettime(id: i32, cur: &mut itimerspec) -> SysResult {
    // SAFETY: cur is a live struct itimerspec the kernel fills.
    result(unsafe { syscall2(nr::__NR_timer_gettime, id as usize, mut_ptr(cur)) })
}

pub fn timer_getoverrun(id: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_timer_getoverrun, id as usize) })
}

pub fn timer_delete(id: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_timer_delete, id as usize) })
}

/// `alarm(seconds)`: the seconds left of the previous alarm.
pub fn alarm(seconds: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_alarm, seconds as usize) })
}

/// `pause()`: returns (EINTR) once a handled signal has run.
pub fn pause() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_pause) })
}

/// `execve(path, argv, [])`: runs `path` with `argv` (at most 15 strings) and
/// no environment; returns only if that failed, with the error.
pub fn execv(path: &CStr, argv: &[&CStr]) -> Errno {
    let mut ptrs = [0usize; 16];
    if argv.len() >= ptrs.len() {
        return crate::errno::E2BIG;
    }
    for (p, a) in ptrs.iter_mut().zip(argv) {
        *p = a.as_ptr() as usize;
    }
    let envp = [0usize];
    // SAFETY: path and the strings are NUL-terminated, argv and envp
    // NULL-terminated arrays, all live; on success nothing of this image
    // runs again.
    let r = unsafe {
        syscall3(
            nr::__NR_execve,
            path.as_ptr() as usize,
            ptrs.as_ptr() as usize,
            envp.as_ptr() as usize,
        )
    };
    result(r).err().unwrap_or(EINVAL)
}

/// `fork()`: `Ok(0)` in the child, `Ok(child pid)` in the parent. Like libc's
/// `fork`, it returns twice into the same Rust frame; that is sound because the
/// child has its own copy of the address space. The child must end with
/// [`exit_group`] (or [`exit`]), never by returning from `main` into the
/// parent's remaining work; [`fork_with`] does that for you.
pub fn fork() -> SysResult {
    // SAFETY: no memory is passed; the child runs on a private copy of ours.
    result(unsafe { syscall0(nr::__NR_fork) })
}

/// Forks a child that runs `f` and exits with its result (`exit_group`); the
/// parent gets the child's pid.
pub fn fork_with(f: impl FnOnce() -> i32) -> SysResult {
    match fork()? {
        0 => exit_group(f()),
        pid => Ok(pid),
    }
}

/// Ends the calling thread with `status & 0xff` (`exit`, not `exit_group`): the
/// process ends with it when it is the last thread.
pub fn exit(status: i32) -> ! {
    // SAFETY: exit does not return.
    unsafe {
        syscall1(nr::__NR_exit, status as usize);
    }
    loop {
        core::hint::spin_loop();
    }
}

/// The function a child made by [`vfork`], [`clone`] or [`clone3`] runs with
/// its argument; its result is the status of the child's `exit`.
pub type ChildFn = extern "C" fn(usize) -> i32;

/// What [`spawn_trampoline`] reads (before the call, so the child needs none of
/// the caller's memory).
#[repr(C)]
struct SpawnReq {
    nr: usize,
    args: [usize; 5],
    f: ChildFn,
    arg: usize,
    entry: usize,
}

/// Makes the process-creating call `req.nr` with `req.args` (registers rdi,
/// rsi, rdx, r10, r8) through the `AT_SYSINFO` entry `req.entry` (or `syscall`
/// when it is 0) and returns its result in the parent. In the child (rax == 0)
/// it never returns: it aligns whatever stack it was given (the new stack of a
/// clone, the copy of the caller's stack after fork, or, for vfork, the
/// caller's stack below this frame, which holds only the registers saved here),
/// calls `req.f(req.arg)` and passes the result to `exit`. So no Rust code of
/// the caller's frames runs in the child, and the parent's frame stays intact
/// for a vfork parent that resumes on the same stack.
#[unsafe(naked)]
unsafe extern "C" fn spawn_trampoline(req: *const SpawnReq) -> isize {
    core::arch::naked_asm!(
        "push r12",
        "push r13",
        "push r14",
        "mov r12, [rdi + {f}]",
        "mov r13, [rdi + {arg}]",
        "mov r14, [rdi + {entry}]",
        "mov rax, [rdi + {nr}]",
        "mov rsi, [rdi + {args} + 8]",
        "mov rdx, [rdi + {args} + 16]",
        "mov r10, [rdi + {args} + 24]",
        "mov r8, [rdi + {args} + 32]",
        "mov rdi, [rdi + {args}]",
        "test r14, r14",
        "jz 2f",
        // The entry is reached with `call` (the kernel returns to the pushed
        // address and pops it): step over the red zone first, as syscall6 does.
        "sub rsp, 128",
        "call r14",
        "test rax, rax",
        "jz 3f",
        "add rsp, 128",
        "jmp 4f",
        "2:",
        "syscall",
        "test rax, rax",
        "jz 3f",
        "4:",
        "pop r14",
        "pop r13",
        "pop r12",
        "ret",
        // The child: r12 = f, r13 = arg, r14 = entry survived the call.
        "3:",
        "xor ebp, ebp",
        "and rsp, -16",
        "mov rdi, r13",
        "call r12",
        "mov edi, eax",
        "mov eax, {exit}",
        "test r14, r14",
        "jz 5f",
        "call r14",
        "ud2",
        "5:",
        "syscall",
        "ud2",
        f = const core::mem::offset_of!(SpawnReq, f),
        arg = const core::mem::offset_of!(SpawnReq, arg),
        entry = const core::mem::offset_of!(SpawnReq, entry),
        nr = const core::mem::offset_of!(SpawnReq, nr),
        args = const core::mem::offset_of!(SpawnReq, args),
        exit = const nr::__NR_exit,
    )
}

/// # Safety
///
/// See [`clone`].
unsafe fn spawn(nr: usize, args: [usize; 5], f: ChildFn, arg: usize) -> SysResult {
    let req = SpawnReq { nr, args, f, arg, entry: crate::syscall::entry().unwrap_or(0) };
    // SAFETY: req is a live SpawnReq; the caller vouches for the call itself.
    result(unsafe { spawn_trampoline(&req) })
}

/// `vfork()`: the child runs `f(arg)` on the caller's stack (below the
/// caller's frames) in the caller's memory while the caller is suspended, and
/// exits with its result; returns the child's pid in the parent once the child
/// has exited or exec'd.
///
/// # Safety
///
/// `f` shares all memory with the suspended parent: it may write only what the
/// parent expects to be written, and must not unwind or free anything the
/// parent uses. It may end by execve or exit itself.
pub unsafe fn vfork(f: ChildFn, arg: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { spawn(nr::__NR_vfork, [0; 5], f, arg) }
}

/// Raw `clone(flags, newsp, parent_tid, child_tid, tls)`: returns the child's
/// tid in the parent; the child runs `f(arg)` (on `newsp` when it is not 0,
/// else on a copy of the caller's stack) and then calls `exit` with its result.
///
/// # Safety
///
/// The flags decide what the child shares. With `CLONE_VM` (unless
/// `CLONE_VFORK` suspends the caller) `newsp` must be the top of a stack only
/// the child uses, and `f` must synchronise with the parent on shared memory.
/// The tid pointers must be valid for the kernel's writes as long as the flags
/// say (`CLONE_CHILD_CLEARTID`: until the child exits).
pub unsafe fn clone(
    flags: u64,
    newsp: usize,
    parent_tid: usize,
    child_tid: usize,
    tls: usize,
    f: ChildFn,
    arg: usize,
) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { spawn(nr::__NR_clone, [flags as usize, newsp, parent_tid, child_tid, tls], f, arg) }
}

/// `clone3(args, size)`: like [`clone`], the child runs `f(arg)` (on
/// `args.stack + args.stack_size` when a stack is given) and exits.
///
/// # Safety
///
/// `size` bytes at `args` must be readable (they may extend past the
/// `clone_args`, as the size checks of clone3 allow); otherwise as [`clone`].
pub unsafe fn clone3(args: *const clone_args, size: usize, f: ChildFn, arg: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { spawn(nr::__NR_clone3, [args as usize, size, 0, 0, 0], f, arg) }
}

/// `wait4(pid, status, options, NULL)`: the pid of the child waited for (0 with
/// `WNOHANG` when none is ready).
pub fn wait4(pid: i32, status: Option<&mut i32>, options: u32) -> SysResult {
    // SAFETY: status, if any, is a live int the kernel fills; no rusage.
    result(unsafe {
        syscall4(nr::__NR_wait4, pid as usize, opt_mut_ptr(status), options as usize, 0)
    })
}

/// `wait4(pid, status, options, usage)`: as [`wait4`], with the child's
/// resource usage (zeros when `WNOHANG` found none).
pub fn wait4_rusage(
    pid: i32,
    status: Option<&mut i32>,
    options: u32,
    usage: &mut rusage,
) -> SysResult {
    // SAFETY: status, if any, and usage are live structs the kernel fills.
    result(unsafe {
        syscall4(
            nr::__NR_wait4,
            pid as usize,
            opt_mut_ptr(status),
            options as usize,
            usage as *mut rusage as usize,
        )
    })
}

/// `getrusage(who, usage)`.
pub fn getrusage(who: i32, usage: &mut rusage) -> SysResult {
    // SAFETY: usage is a live struct rusage the kernel fills.
    result(unsafe { syscall2(nr::__NR_getrusage, who as usize, usage as *mut rusage as usize) })
}

/// `clock_getres(clock, res)`.
pub fn clock_getres(clock: u32, res: &mut timespec) -> SysResult {
    // SAFETY: res is a live timespec the kernel fills.
    result(unsafe {
        syscall2(nr::__NR_clock_getres, clock as usize, res as *mut timespec as usize)
    })
}

/// `waitid(idtype, id, info, options, NULL)`: 0 on success; `info` tells which
/// child (`si_pid` 0 when `WNOHANG` found none).
pub fn waitid(idtype: u32, id: i32, info: Option<&mut siginfo_t>, options: u32) -> SysResult {
    // SAFETY: info, if any, is a live siginfo the kernel fills; no rusage.
    result(unsafe {
        syscall5(
            nr::__NR_waitid,
            idtype as usize,
            id as usize,
            opt_mut_ptr(info),
            options as usize,
            0,
        )
    })
}

/// `tkill(tid, sig)`.
pub fn tkill(tid: i32, sig: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::__NR_tkill, tid as usize, sig as usize) })
}

/// `tgkill(tgid, tid, sig)`.
pub fn tgkill(tgid: i32, tid: i32, sig: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall3(nr::__NR_tgkill, tgid as usize, tid as usize, sig as usize) })
}

// ---- process groups, sessions, credentials, prctl ---------------------------

pub fn getpgid(pid: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_getpgid, pid as usize) })
}

pub fn setpgid(pid: i32, pgid: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::__NR_setpgid, pid as usize, pgid as usize) })
}

pub fn getpgrp() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_getpgrp) })
}

pub fn setsid() -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall0(nr::__NR_setsid) })
}

pub fn getsid(pid: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_getsid, pid as usize) })
}

pub fn setuid(uid: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_setuid, uid as usize) })
}

pub fn setgid(gid: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_setgid, gid as usize) })
}

/// `prctl(option, a2, a3, a4, a5)`.
///
/// # Safety
///
/// Some options read or write memory at the arguments or change the process
/// in ways the program must expect.
pub unsafe fn prctl(option: u32, a2: usize, a3: usize, a4: usize, a5: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall5(nr::__NR_prctl, option as usize, a2, a3, a4, a5) })
}

/// `prctl(PR_SET_CHILD_SUBREAPER, on)`.
pub fn set_child_subreaper(on: bool) -> SysResult {
    // SAFETY: this option takes a plain value.
    unsafe { prctl(PR_SET_CHILD_SUBREAPER, on as usize, 0, 0, 0) }
}

/// `prctl(PR_GET_CHILD_SUBREAPER, &value)`: the value.
pub fn get_child_subreaper() -> Result<i32, Errno> {
    let mut v: i32 = -1;
    // SAFETY: this option writes one int into v.
    unsafe { prctl(PR_GET_CHILD_SUBREAPER, mut_ptr(&mut v), 0, 0, 0) }?;
    Ok(v)
}

// ---- signals ----------------------------------------------------------------

/// The system-call entry [`sigreturn_restorer`] uses: a copy of
/// [`crate::syscall::entry`] made by [`rt_sigaction`], so the restorer can be
/// plain assembly.
static SIGRETURN_ENTRY: AtomicUsize = AtomicUsize::new(0);

/// The signal restorer: a handler's `ret` pops its address from the signal
/// frame, and it calls `rt_sigreturn` with RSP where the handler left it,
/// exactly like any other call through the entry (`call *entry`: the kernel
/// moves the saved RSP back up by 8, so it finds the frame where Linux does;
/// no red-zone step here, the frame is right above RSP) or with `syscall`.
#[unsafe(naked)]
unsafe extern "C" fn sigreturn_trampoline() -> ! {
    core::arch::naked_asm!(
        "mov r11, qword ptr [rip + {entry}]",
        "mov eax, {nr}",
        "test r11, r11",
        "jz 2f",
        "call r11",
        "ud2",
        "2:",
        "syscall",
        "ud2",
        entry = sym SIGRETURN_ENTRY,
        nr = const nr::__NR_rt_sigreturn,
    )
}

/// The address of the library's signal restorer (for `sigaction::sa_restorer`
/// with `SA_RESTORER`).
pub fn sigreturn_restorer() -> usize {
    sigreturn_trampoline as *const () as usize
}

/// An action running `handler` (an `extern "C" fn(i32)`, or with
/// `SA_SIGINFO` an `extern "C" fn(i32, *mut siginfo_t, *mut ucontext)`, or
/// `SIG_DFL`/`SIG_IGN`) with `flags | SA_RESTORER` and the library's
/// restorer, blocking `mask` while it runs.
pub fn new_sigaction(handler: usize, flags: u64, mask: u64) -> sigaction {
    sigaction {
        sa_handler: handler,
        sa_flags: flags | SA_RESTORER,
        sa_restorer: sigreturn_restorer(),
        sa_mask: mask,
    }
}

/// `rt_sigaction(sig, act, old, 8)`.
///
/// # Safety
///
/// A handler runs asynchronously on the interrupted thread's stack (or the
/// alternate one): it must be an `extern "C"` function of the right signature
/// that touches only what is safe to touch at any instruction, and its action
/// must return through a restorer such as [`sigreturn_restorer`].
pub unsafe fn rt_sigaction(
    sig: u32,
    act: Option<&sigaction>,
    old: Option<&mut sigaction>,
) -> SysResult {
    SIGRETURN_ENTRY.store(crate::syscall::entry().unwrap_or(0), Ordering::Relaxed);
    // SAFETY: act is only read, old is a live kernel_sigaction; the caller
    // vouches for the handler.
    result(unsafe {
        syscall4(nr::__NR_rt_sigaction, sig as usize, opt_ptr(act), opt_mut_ptr(old), 8)
    })
}

/// The current action of `sig` (`rt_sigaction(sig, NULL, old, 8)`).
pub fn sigaction_get(sig: u32) -> Result<sigaction, Errno> {
    let mut old = sigaction::default();
    // SAFETY: without a new action nothing changes; old is filled.
    unsafe { rt_sigaction(sig, None, Some(&mut old)) }?;
    Ok(old)
}

/// Sets `sig` to `SIG_DFL` or `SIG_IGN` (`handler`), no flags, empty mask.
pub fn signal_disposition(sig: u32, handler: usize) -> SysResult {
    let act = new_sigaction(handler, 0, 0);
    if handler != SIG_DFL && handler != SIG_IGN {
        return Err(EINVAL);
    }
    // SAFETY: SIG_DFL and SIG_IGN run no code of ours.
    unsafe { rt_sigaction(sig, Some(&act), None) }
}

/// `rt_sigprocmask(how, set, old, 8)` on 64-bit signal sets ([`sigmask`]).
pub fn rt_sigprocmask(how: u32, set: Option<&u64>, old: Option<&mut u64>) -> SysResult {
    // SAFETY: set is only read, old is a live u64 the kernel fills.
    result(unsafe {
        syscall4(nr::__NR_rt_sigprocmask, how as usize, opt_ptr(set), opt_mut_ptr(old), 8)
    })
}

/// The calling thread's signal mask.
pub fn sigmask_get() -> Result<u64, Errno> {
    let mut old = 0;
    rt_sigprocmask(SIG_BLOCK, None, Some(&mut old))?;
    Ok(old)
}

/// `rt_sigpending(set, 8)`: the signals pending and blocked.
pub fn rt_sigpending(set: &mut u64) -> SysResult {
    // SAFETY: set is a live u64 the kernel fills.
    result(unsafe { syscall2(nr::__NR_rt_sigpending, mut_ptr(set), 8) })
}

/// `sigaltstack(new, old)`.
///
/// # Safety
///
/// A new stack must stay mapped, and unused by anything else, while handlers
/// with `SA_ONSTACK` may run on it.
pub unsafe fn sigaltstack(new: Option<&stack_t>, old: Option<&mut stack_t>) -> SysResult {
    // SAFETY: new is only read, old is a live stack_t; the caller vouches for the stack.
    result(unsafe { syscall2(nr::__NR_sigaltstack, opt_ptr(new), opt_mut_ptr(old)) })
}

/// Removes `path` (relative to `dirfd`) and, if it is a directory, everything
/// in it; errors are ignored (test programs clean up with it).
pub fn remove_tree(dirfd: i32, path: &CStr) {
    let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    let fd = match openat(dirfd, path, flags, 0) {
        Ok(fd) => fd as i32,
        Err(_) => {
            let _ = unlinkat(dirfd, path, 0);
            return;
        }
    };
    let mut buf = [0u8; 1024];
    // Removing while reading can skip entries: read again from the start until
    // a pass removes nothing.
    for _ in 0..16 {
        let _ = lseek(fd, 0, SEEK_SET);
        let mut removed = false;
        while let Ok(n @ 1..) = getdents64(fd, &mut buf) {
            for d in Dirents::new(&buf[..n]) {
                if d.name == b"." || d.name == b".." || d.name.len() >= 255 {
                    continue;
                }
                let mut name = [0u8; 256];
                name[..d.name.len()].copy_from_slice(d.name);
                if let Ok(name) = CStr::from_bytes_until_nul(&name) {
                    remove_tree(fd, name);
                    removed = true;
                }
            }
        }
        if !removed {
            break;
        }
    }
    let _ = close(fd);
    let _ = unlinkat(dirfd, path, AT_REMOVEDIR);
}

/// `pidfd_open(pid, flags)`: a close-on-exec pidfd of process `pid`.
pub fn pidfd_open(pid: i32, flags: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::__NR_pidfd_open, pid as usize, flags as usize) })
}

/// `pidfd_send_signal(pidfd, sig, info, flags)`.
pub fn pidfd_send_signal(pidfd: i32, sig: u32, info: Option<&siginfo_t>, flags: u32) -> SysResult {
    let info = info.map_or(0, |i| i as *const siginfo_t as usize);
    // SAFETY: info, if any, is a live siginfo the kernel reads.
    result(unsafe {
        syscall4(nr::__NR_pidfd_send_signal, pidfd as usize, sig as usize, info, flags as usize)
    })
}

/// `pidfd_getfd(pidfd, targetfd, flags)`: a close-on-exec duplicate of the
/// target's descriptor `targetfd`.
pub fn pidfd_getfd(pidfd: i32, targetfd: i32, flags: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe {
        syscall3(nr::__NR_pidfd_getfd, pidfd as usize, targetfd as usize, flags as usize)
    })
}

/// `poll(fds, nfds, timeout_ms)`: how many entries have events.
pub fn poll(fds: &mut [pollfd], timeout_ms: i32) -> SysResult {
    // SAFETY: fds is a live array the kernel reads and updates.
    result(unsafe {
        syscall3(nr::__NR_poll, fds.as_mut_ptr() as usize, fds.len(), timeout_ms as usize)
    })
}

/// `ppoll(fds, nfds, timeout, sigmask, 8)`.
pub fn ppoll(fds: &mut [pollfd], timeout: Option<&mut timespec>, mask: Option<&u64>) -> SysResult {
    let tmo = timeout.map_or(0, |t| t as *mut timespec as usize);
    let m = mask.map_or(0, |m| m as *const u64 as usize);
    // SAFETY: fds, the timeout and the mask are live; the kernel updates fds
    // and the timeout.
    result(unsafe { syscall5(nr::__NR_ppoll, fds.as_mut_ptr() as usize, fds.len(), tmo, m, 8) })
}

/// Raw `ptrace(request, pid, addr, data)` (the system call, not glibc's
/// wrapper: PEEKDATA/PEEKUSER write the word to `data`).
///
/// # Safety
///
/// `addr` and `data` are what the request makes of them: for requests that
/// write or read the caller's memory (GETREGS, PEEKDATA...), `data` must
/// point to enough writable or readable memory.
pub unsafe fn ptrace(request: u32, pid: i32, addr: usize, data: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall4(nr::__NR_ptrace, request as usize, pid as usize, addr, data) })
}
