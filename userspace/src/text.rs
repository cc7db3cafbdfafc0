//! Text in fixed buffers (no allocator): a string built with `write!`, a
//! path made with `format_args!`, a whole (small) file read into memory.

use core::ffi::CStr;
use core::fmt::Write;

use crate::calls::{close, openat, read, readlinkat};
use crate::errno::Errno;
use crate::{AT_FDCWD, O_CLOEXEC, O_RDONLY};

/// A string of at most `N - 1` bytes built in place (one byte stays for the
/// NUL of [`Buf::cstr`]); a write that does not fit fails and leaves it as it was.
pub struct Buf<const N: usize = 8192> {
    b: [u8; N],
    n: usize,
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Buf { b: [0; N], n: 0 }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.b[..self.n]
    }

    /// The text, or "" if it is not UTF-8.
    pub fn str(&self) -> &str {
        core::str::from_utf8(self.bytes()).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// NUL-terminated (the buffer keeps a zero after the text).
    pub fn cstr(&mut self) -> &CStr {
        self.b[self.n] = 0;
        CStr::from_bytes_until_nul(&self.b[..=self.n]).unwrap_or(c"")
    }
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.n + s.len();
        if end >= N {
            return Err(core::fmt::Error);
        }
        self.b[self.n..end].copy_from_slice(s.as_bytes());
        self.n = end;
        Ok(())
    }
}

/// `format_args!` into a [`Buf`] (a path, a line); cut short if it does not fit.
pub fn fmt<const N: usize>(args: core::fmt::Arguments<'_>) -> Buf<N> {
    let mut b = Buf::new();
    let _ = b.write_fmt(args);
    b
}

/// The file at `p`, read in chunks of `chunk` bytes up to the buffer's size
/// (what does not fit is left unread).
pub fn read_file<const N: usize>(p: &CStr, chunk: usize) -> Result<Buf<N>, Errno> {
    let fd = openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0)? as i32;
    let mut b = Buf::new();
    while b.n < N - 1 {
        let end = (b.n + chunk.max(1)).min(N - 1);
        match read(fd, &mut b.b[b.n..end]) {
            Ok(0) => break,
            Ok(n) => b.n += n,
            Err(e) => {
                let _ = close(fd);
                return Err(e);
            }
        }
    }
    let _ = close(fd);
    Ok(b)
}

/// The target of the symbolic link `p`.
pub fn readlink<const N: usize>(p: &CStr) -> Result<Buf<N>, Errno> {
    let mut b = Buf::new();
    b.n = readlinkat(AT_FDCWD, p, &mut b.b[..N - 1])?;
    Ok(b)
}

/// A decimal number written with digits only (a program's argument):
/// None for an empty string, any other byte, or a value past `u64::MAX`.
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    (!b.is_empty()).then_some(n)
}

/// The figure of `/proc/meminfo`'s line `NAME:   N kB` in `meminfo`, in kB.
pub fn meminfo_kb(meminfo: &str, name: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let v = l.strip_prefix(name)?.strip_prefix(':')?;
        parse_u64(v.trim_start().strip_suffix(" kB")?.as_bytes())
    })
}

/// `parse_u64` for a count or size.
pub fn parse_usize(b: &[u8]) -> Option<usize> {
    parse_u64(b).and_then(|n| usize::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"12x"), None);
        assert_eq!(parse_usize(b"4096"), Some(4096));
    }

    #[test]
    fn a_buf_takes_what_fits_and_stays_nul_terminated() {
        let mut b: Buf<8> = fmt(format_args!("/p/{}", 12));
        assert_eq!((b.str(), b.len()), ("/p/12", 5));
        assert_eq!(b.cstr(), c"/p/12");
        assert!(write!(b, "345").is_err(), "7 bytes and the NUL would not fit");
        assert_eq!(b.str(), "/p/12");
        assert!(write!(b, "34").is_ok());
        assert_eq!(b.cstr(), c"/p/1234");
    }
}
