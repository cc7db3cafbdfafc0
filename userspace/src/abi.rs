//! The Linux x86-64 ABI for the programs: every constant and structure of
//! [`uapi`] (re-exported here, so `userspace::*` has them), and helpers around
//! them — safe `iovec`s, a `getdents64` record iterator, a decoded `wait4`
//! status.

use core::marker::PhantomData;

pub use uapi::auxvec::*;
pub use uapi::dirent::*;
pub use uapi::elf::*;
pub use uapi::fcntl::*;
pub use uapi::fs::*;
pub use uapi::futex::*;
pub use uapi::limits::*;
pub use uapi::mman::*;
pub use uapi::mount::*;
pub use uapi::pidfd::*;
pub use uapi::poll::*;
pub use uapi::prctl::*;
pub use uapi::ptrace::*;
pub use uapi::random::*;
pub use uapi::resource::*;
pub use uapi::sched::*;
pub use uapi::signal::*;
pub use uapi::stat::*;
pub use uapi::statfs::*;
pub use uapi::termios::*;
pub use uapi::time::*;
pub use uapi::uio::*;
pub use uapi::utsname::*;
pub use uapi::wait::*;

/// The page size of x86-64.
pub const PAGE_SIZE: usize = 4096;

/// The bytes of a NUL-terminated field (all of it if it has no NUL).
pub fn cstr_field(f: &[u8]) -> &[u8] {
    let n = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    &f[..n]
}

/// A [`iovec`] describing a buffer the kernel reads (`writev`).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct IoVec<'a> {
    pub iov: iovec,
    _buf: PhantomData<&'a [u8]>,
}

impl<'a> IoVec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        IoVec {
            iov: iovec { iov_base: buf.as_ptr() as usize, iov_len: buf.len() },
            _buf: PhantomData,
        }
    }

    /// An iovec with any address (for testing a kernel's checks).
    pub fn raw(base: usize, len: usize) -> IoVec<'static> {
        IoVec { iov: iovec { iov_base: base, iov_len: len }, _buf: PhantomData }
    }
}

/// A [`iovec`] describing a buffer the kernel writes (`readv`).
#[repr(transparent)]
pub struct IoVecMut<'a> {
    pub iov: iovec,
    _buf: PhantomData<&'a mut [u8]>,
}

impl<'a> IoVecMut<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        IoVecMut {
            iov: iovec { iov_base: buf.as_mut_ptr() as usize, iov_len: buf.len() },
            _buf: PhantomData,
        }
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
        const NAME: usize = core::mem::offset_of!(linux_dirent64, d_name);
        if self.buf.len() < NAME {
            return None;
        }
        let b = self.buf;
        let ino = u64::from_ne_bytes(b[0..8].try_into().ok()?);
        let off = i64::from_ne_bytes(b[8..16].try_into().ok()?);
        let reclen = u16::from_ne_bytes(b[16..18].try_into().ok()?) as usize;
        if reclen < NAME || reclen > b.len() {
            return None;
        }
        let d_type = b[core::mem::offset_of!(linux_dirent64, d_type)];
        let name = cstr_field(&b[NAME..reclen]);
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

/// A `siginfo_t` filled with a byte pattern, to see what the kernel writes.
pub const fn siginfo_filled(byte: u8) -> siginfo_t {
    let w32 = i32::from_ne_bytes([byte; 4]);
    siginfo_t {
        si_signo: w32,
        si_errno: w32,
        si_code: w32,
        _pad: w32,
        _sifields: [u64::from_ne_bytes([byte; 8]); 14],
    }
}
