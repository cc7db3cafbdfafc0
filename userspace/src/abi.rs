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
