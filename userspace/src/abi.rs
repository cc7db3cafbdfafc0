//! Linux x86-64 ABI constants and structures used by the system calls here.
#![allow(missing_docs)]

use core::marker::PhantomData;

// openat flags (asm-generic/fcntl.h, x86-64 values)
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_ACCMODE: u32 = 3;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_CLOEXEC: u32 = 0o2000000;

// *at
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_REMOVEDIR: u32 = 0x200;
pub const AT_EMPTY_PATH: u32 = 0x1000;

// lseek
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;

// fcntl
pub const F_DUPFD: u32 = 0;
pub const F_GETFD: u32 = 1;
pub const F_SETFD: u32 = 2;
pub const F_GETFL: u32 = 3;
pub const F_SETFL: u32 = 4;
pub const F_DUPFD_CLOEXEC: u32 = 1030;
pub const FD_CLOEXEC: usize = 1;

// st_mode
pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o60000;
pub const S_IFDIR: u32 = 0o40000;
pub const S_IFCHR: u32 = 0o20000;
pub const S_IFIFO: u32 = 0o10000;

// d_type
pub const DT_UNKNOWN: u8 = 0;
pub const DT_FIFO: u8 = 1;
pub const DT_CHR: u8 = 2;
pub const DT_DIR: u8 = 4;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;

// mmap
pub const PROT_NONE: u32 = 0;
pub const PROT_READ: u32 = 1;
pub const PROT_WRITE: u32 = 2;
pub const PROT_EXEC: u32 = 4;
pub const MAP_SHARED: u32 = 0x01;
pub const MAP_PRIVATE: u32 = 0x02;
pub const MAP_FIXED: u32 = 0x10;
pub const MAP_ANONYMOUS: u32 = 0x20;
pub const MAP_FAILED: usize = !0;
pub const PAGE_SIZE: usize = 4096;

// clocks
pub const CLOCK_REALTIME: u32 = 0;
pub const CLOCK_MONOTONIC: u32 = 1;
pub const TIMER_ABSTIME: u32 = 1;

// getrandom
pub const GRND_NONBLOCK: u32 = 1;
pub const GRND_RANDOM: u32 = 2;
pub const GRND_INSECURE: u32 = 4;

// ioctl
pub const TCGETS: u32 = 0x5401;
pub const TIOCGWINSZ: u32 = 0x5413;

// resources
pub const RLIMIT_CORE: u32 = 4;
pub const RLIMIT_NPROC: u32 = 6;
pub const RLIMIT_NOFILE: u32 = 7;
pub const RLIM_INFINITY: u64 = !0;

// futex
pub const FUTEX_WAIT: u32 = 0;
pub const FUTEX_WAKE: u32 = 1;
pub const FUTEX_PRIVATE_FLAG: u32 = 128;

// arch_prctl
pub const ARCH_SET_GS: u32 = 0x1001;
pub const ARCH_SET_FS: u32 = 0x1002;
pub const ARCH_GET_FS: u32 = 0x1003;
pub const ARCH_GET_GS: u32 = 0x1004;

// signals
pub const SIGKILL: u32 = 9;
pub const SIGABRT: u32 = 6;
pub const SIGSEGV: u32 = 11;
pub const SIGSYS: u32 = 31;
pub const SIGHUP: u32 = 1;
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGBUS: u32 = 7;
pub const SIGFPE: u32 = 8;
pub const SIGUSR1: u32 = 10;
pub const SIGUSR2: u32 = 12;
pub const SIGPIPE: u32 = 13;
pub const SIGALRM: u32 = 14;
pub const SIGTERM: u32 = 15;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;
pub const SIGURG: u32 = 23;
pub const SIGWINCH: u32 = 28;
/// The highest signal number (`_NSIG`); signals are 1..=64.
pub const NSIG: u32 = 64;

/// The bit of signal `sig` in a 64-bit signal set (`sigset_t` of the kernel).
pub const fn sigbit(sig: u32) -> u64 {
    1u64 << (sig - 1)
}

// rt_sigaction: handlers and flags
pub const SIG_DFL: usize = 0;
pub const SIG_IGN: usize = 1;
pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
pub const SA_SIGINFO: u64 = 0x0000_0004;
/// Never supported: the kernel clears it, so a program can detect unknown bits.
pub const SA_UNSUPPORTED: u64 = 0x0000_0400;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

// rt_sigprocmask
pub const SIG_BLOCK: u32 = 0;
pub const SIG_UNBLOCK: u32 = 1;
pub const SIG_SETMASK: u32 = 2;

// sigaltstack
pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const MINSIGSTKSZ: usize = 2048;
pub const SIGSTKSZ: usize = 8192;

// si_code values
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;

// wait4/waitid options and waitid id types
pub const WNOHANG: u32 = 0x0000_0001;
pub const WUNTRACED: u32 = 0x0000_0002;
pub const WSTOPPED: u32 = 0x0000_0002;
pub const WEXITED: u32 = 0x0000_0004;
pub const WCONTINUED: u32 = 0x0000_0008;
pub const WNOWAIT: u32 = 0x0100_0000;
/// `__WNOTHREAD`: wait only for children of the calling thread.
pub const WNOTHREAD: u32 = 0x2000_0000;
/// `__WALL`: wait for every child, whatever its exit signal.
pub const WALL: u32 = 0x4000_0000;
/// `__WCLONE`: wait only for "clone" children (exit signal other than SIGCHLD).
pub const WCLONE: u32 = 0x8000_0000;
pub const P_ALL: u32 = 0;
pub const P_PID: u32 = 1;
pub const P_PGID: u32 = 2;
pub const P_PIDFD: u32 = 3;

// clone flags (the low byte, CSIGNAL, is the exit signal for clone())
pub const CSIGNAL: u64 = 0x0000_00ff;
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
pub const CLONE_VM: u64 = 0x0000_0100;
pub const CLONE_FS: u64 = 0x0000_0200;
pub const CLONE_FILES: u64 = 0x0000_0400;
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
pub const CLONE_PIDFD: u64 = 0x0000_1000;
pub const CLONE_PTRACE: u64 = 0x0000_2000;
pub const CLONE_VFORK: u64 = 0x0000_4000;
pub const CLONE_PARENT: u64 = 0x0000_8000;
pub const CLONE_THREAD: u64 = 0x0001_0000;
pub const CLONE_NEWNS: u64 = 0x0002_0000;
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
pub const CLONE_SETTLS: u64 = 0x0008_0000;
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
pub const CLONE_DETACHED: u64 = 0x0040_0000;
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
pub const CLONE_NEWPID: u64 = 0x2000_0000;
pub const CLONE_NEWNET: u64 = 0x4000_0000;
pub const CLONE_IO: u64 = 0x8000_0000;
/// clone3 only: reset every handled signal to SIG_DFL in the child.
pub const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;
/// clone3 only: start the child in the cgroup `CloneArgs::cgroup`.
pub const CLONE_INTO_CGROUP: u64 = 1 << 33;
/// `sizeof(struct clone_args)` of its first version (up to `tls`).
pub const CLONE_ARGS_SIZE_VER0: usize = 64;
pub const CLONE_ARGS_SIZE_VER1: usize = 80;
pub const CLONE_ARGS_SIZE_VER2: usize = 88;

// prctl
pub const PR_SET_CHILD_SUBREAPER: u32 = 36;
pub const PR_GET_CHILD_SUBREAPER: u32 = 37;

// auxiliary vector
pub const AT_NULL: usize = 0;
pub const AT_PAGESZ: usize = 6;
pub const AT_SYSINFO: usize = 32;

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

impl Timespec {
    pub const fn from_nanos(ns: u64) -> Timespec {
        Timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 }
    }

    /// Nanoseconds since the clock's epoch (saturating at 0 for negative times).
    pub fn as_nanos(&self) -> u64 {
        (self.tv_sec.max(0) as u64) * 1_000_000_000 + self.tv_nsec.max(0) as u64
    }
}

/// x86-64 `struct stat` (144 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub __pad0: u32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    pub __unused: [i64; 3],
}

impl Stat {
    pub fn is_reg(&self) -> bool {
        self.st_mode & S_IFMT == S_IFREG
    }
    pub fn is_dir(&self) -> bool {
        self.st_mode & S_IFMT == S_IFDIR
    }
    pub fn is_fifo(&self) -> bool {
        self.st_mode & S_IFMT == S_IFIFO
    }
}

/// `struct new_utsname`: six NUL-terminated 65-byte fields.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Utsname {
    pub sysname: [u8; 65],
    pub nodename: [u8; 65],
    pub release: [u8; 65],
    pub version: [u8; 65],
    pub machine: [u8; 65],
    pub domainname: [u8; 65],
}

impl Default for Utsname {
    fn default() -> Self {
        Utsname {
            sysname: [0; 65],
            nodename: [0; 65],
            release: [0; 65],
            version: [0; 65],
            machine: [0; 65],
            domainname: [0; 65],
        }
    }
}

/// The bytes of a NUL-terminated field (all of it if it has no NUL).
pub fn cstr_field(f: &[u8]) -> &[u8] {
    let n = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    &f[..n]
}

/// `struct rlimit` / `struct rlimit64`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

/// `struct winsize`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Winsize {
    pub ws_row: u16,
    pub ws_col: u16,
    pub ws_xpixel: u16,
    pub ws_ypixel: u16,
}

/// `struct iovec` describing a buffer the kernel reads (`writev`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IoVec<'a> {
    pub base: *const u8,
    pub len: usize,
    _buf: PhantomData<&'a [u8]>,
}

impl<'a> IoVec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        IoVec { base: buf.as_ptr(), len: buf.len(), _buf: PhantomData }
    }

    /// An iovec with any address (for testing a kernel's checks).
    pub fn raw(base: usize, len: usize) -> IoVec<'static> {
        IoVec { base: base as *const u8, len, _buf: PhantomData }
    }
}

/// `struct iovec` describing a buffer the kernel writes (`readv`).
#[repr(C)]
pub struct IoVecMut<'a> {
    pub base: *mut u8,
    pub len: usize,
    _buf: PhantomData<&'a mut [u8]>,
}

impl<'a> IoVecMut<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        IoVecMut { base: buf.as_mut_ptr(), len: buf.len(), _buf: PhantomData }
    }
}

/// One `struct linux_dirent64` record inside a `getdents64` buffer.
#[derive(Clone, Copy, Debug)]
pub struct Dirent<'a> {
    pub ino: u64,
    pub off: i64,
    pub d_type: u8,
    pub name: &'a [u8],
}

/// Iterates over the records `getdents64` wrote into `buf[..len]`.
pub struct Dirents<'a> {
    buf: &'a [u8],
}

impl<'a> Dirents<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Dirents { buf }
    }
}

impl<'a> Iterator for Dirents<'a> {
    type Item = Dirent<'a>;

    fn next(&mut self) -> Option<Dirent<'a>> {
        // d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name[]
        if self.buf.len() < 19 {
            return None;
        }
        let b = self.buf;
        let ino = u64::from_ne_bytes(b[0..8].try_into().ok()?);
        let off = i64::from_ne_bytes(b[8..16].try_into().ok()?);
        let reclen = u16::from_ne_bytes(b[16..18].try_into().ok()?) as usize;
        if reclen < 19 || reclen > b.len() {
            return None;
        }
        let d_type = b[18];
        let name = cstr_field(&b[19..reclen]);
        self.buf = &b[reclen..];
        Some(Dirent { ino, off, d_type, name })
    }
}

/// A `wait4` status decoded (`WIFEXITED`/`WEXITSTATUS`, `WIFSIGNALED`/`WTERMSIG`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// `exit(code)`: `WIFEXITED`, `WEXITSTATUS` = code.
    Exited(i32),
    /// Killed by a signal: `WIFSIGNALED`, `WTERMSIG`, and whether a core was dumped.
    Signaled(u32, bool),
    /// Stopped by a signal (`WIFSTOPPED`, `WSTOPSIG`).
    Stopped(u32),
    /// Continued by SIGCONT (`WIFCONTINUED`).
    Continued,
}

impl WaitStatus {
    pub const fn from_raw(status: i32) -> WaitStatus {
        let low = status & 0x7f;
        if low == 0 {
            WaitStatus::Exited((status >> 8) & 0xff)
        } else if status == 0xffff {
            WaitStatus::Continued
        } else if low == 0x7f {
            WaitStatus::Stopped(((status >> 8) & 0xff) as u32)
        } else {
            WaitStatus::Signaled(low as u32, status & 0x80 != 0)
        }
    }

    /// The signal that ended the process, if one did (ignoring the core flag).
    pub const fn term_signal(self) -> Option<u32> {
        match self {
            WaitStatus::Signaled(sig, _) => Some(sig),
            _ => None,
        }
    }
}

impl core::fmt::Display for WaitStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            WaitStatus::Exited(code) => write!(f, "exited {}", code),
            WaitStatus::Signaled(sig, core) => {
                write!(f, "killed by signal {}{}", sig, if core { " (core)" } else { "" })
            }
            WaitStatus::Stopped(sig) => write!(f, "stopped by signal {}", sig),
            WaitStatus::Continued => f.write_str("continued"),
        }
    }
}

/// x86-64 `struct kernel_sigaction` (what `rt_sigaction` takes, not glibc's
/// `struct sigaction`): the handler (or `SIG_DFL`/`SIG_IGN`), `SA_*` flags, the
/// restorer `ret` goes to when the handler returns (required: x86-64 Linux has
/// no default), and the signals blocked while the handler runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: u64,
}

/// `siginfo_t` (128 bytes). The union after `si_code` is `fields`; the
/// accessors read the members of the kill, SIGCHLD and fault layouts.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Siginfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pub _pad: i32,
    pub fields: [u64; 14],
}

impl Siginfo {
    /// A siginfo filled with a byte pattern, to see what the kernel writes.
    pub const fn filled(byte: u8) -> Siginfo {
        let w32 = i32::from_ne_bytes([byte; 4]);
        Siginfo {
            signo: w32,
            errno: w32,
            code: w32,
            _pad: w32,
            fields: [u64::from_ne_bytes([byte; 8]); 14],
        }
    }
    /// `si_pid` (kill, tkill, SIGCHLD).
    pub fn pid(&self) -> i32 {
        self.fields[0] as u32 as i32
    }
    /// `si_uid` (kill, tkill, SIGCHLD).
    pub fn uid(&self) -> u32 {
        (self.fields[0] >> 32) as u32
    }
    /// `si_status` (SIGCHLD, waitid): the exit code or the signal.
    pub fn status(&self) -> i32 {
        self.fields[1] as u32 as i32
    }
    /// `si_addr` (SIGSEGV, SIGBUS, SIGILL, SIGFPE).
    pub fn addr(&self) -> usize {
        self.fields[0] as usize
    }
}

/// `stack_t` for `sigaltstack`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAltStack {
    pub sp: usize,
    pub flags: i32,
    pub _pad: i32,
    pub size: usize,
}

/// x86-64 `struct sigcontext` (the registers in a signal frame, 256 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Sigcontext {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    pub eflags: u64,
    pub cs: u16,
    pub gs: u16,
    pub fs: u16,
    pub ss: u16,
    pub err: u64,
    pub trapno: u64,
    pub oldmask: u64,
    pub cr2: u64,
    pub fpstate: u64,
    pub reserved: [u64; 8],
}

/// x86-64 `struct ucontext` as the kernel builds it in a signal frame (the
/// third argument of an `SA_SIGINFO` handler). `rt_sigreturn` restores the
/// registers and the signal mask from it, so a handler may change them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Ucontext {
    pub flags: u64,
    pub link: u64,
    pub stack: SigAltStack,
    pub mcontext: Sigcontext,
    pub sigmask: u64,
}

/// `struct clone_args` for `clone3` (`CLONE_ARGS_SIZE_VER2`, 88 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

const _: () = {
    assert!(core::mem::size_of::<Siginfo>() == 128);
    assert!(core::mem::size_of::<SigAction>() == 32);
    assert!(core::mem::size_of::<SigAltStack>() == 24);
    assert!(core::mem::size_of::<Sigcontext>() == 256);
    assert!(core::mem::offset_of!(Ucontext, mcontext) == 40);
    assert!(core::mem::offset_of!(Ucontext, sigmask) == 296);
    assert!(core::mem::size_of::<CloneArgs>() == CLONE_ARGS_SIZE_VER2);
};
