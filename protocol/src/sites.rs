//! The `syscall` site index: where each shipped executable executes the
//! `syscall` instruction itself, found by the VMM (which decodes the
//! executables' code on the host) and used by the guest kernel where the
//! instruction does not reach ring 0 (the zpoline technique: exec patches each
//! site of the new process's private copy of the text into `call *%rax`).
//!
//! The VMM puts the index into the initramfs as one member, [`INDEX_PATH`].
//! The kernel reads it in place at boot and does not unpack it (programs see
//! the files they were given and nothing else), and binds each table to the
//! file's inode (a later write to the file drops it).
//!
//! Layout, little-endian:
//!
//! ```text
//! header  magic "SYSSITES" (8 bytes), version u32 (= VERSION), records u32
//! record  path_len u32, sites u32, file_size u64,
//!         path (path_len bytes: the absolute guest path), zero padding to 8,
//!         sites x u64: link-time virtual addresses of `syscall` instructions
//!         (as `objdump -d` shows them), strictly increasing
//! ```
//!
//! [`records`] parses it without allocating; every length is checked against
//! what is left, so a malformed index yields an error, never a panic.

/// Guest path of the index in the initramfs (removed by the kernel at boot).
pub const INDEX_PATH: &str = "/.syscall-sites";
pub const MAGIC: [u8; 8] = *b"SYSSITES";
pub const VERSION: u32 = 1;
pub const HEADER_SIZE: usize = 16;
/// Fixed part of a record, before its path.
pub const RECORD_HEADER_SIZE: usize = 16;
/// Longest path a record may name (Linux's `PATH_MAX` without the NUL).
pub const MAX_PATH: usize = 4095;

/// One executable's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The executable's absolute guest path.
    pub path: &'a [u8],
    /// Its size in bytes when the VMM decoded it.
    pub file_size: u64,
    /// The site addresses, 8 bytes each (see [`Record::sites`]).
    sites: &'a [u8],
}

impl<'a> Record<'a> {
    pub fn site_count(&self) -> usize {
        self.sites.len() / 8
    }

    /// The site addresses, in the order written.
    pub fn sites(&self) -> impl Iterator<Item = u64> + Clone + 'a {
        self.sites.chunks_exact(8).map(|c| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            u64::from_le_bytes(w)
        })
    }
}

/// Why an index (or the rest of it) is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// Shorter than its header, or not starting with [`MAGIC`].
    NotAnIndex,
    /// Another version of this format.
    Version(u32),
    /// Record `n` (from 0) runs past the end of the index.
    Truncated(u32),
    /// Record `n` names an empty, relative or overlong path.
    BadPath(u32),
    /// Bytes follow the last record.
    TrailingBytes,
}

impl core::fmt::Display for IndexError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAnIndex => write!(f, "not a syscall site index (no SYSSITES header)"),
            Self::Version(v) => write!(f, "index version {v}, this kernel reads {VERSION}"),
            Self::Truncated(n) => write!(f, "record {n} runs past the end of the index"),
            Self::BadPath(n) => write!(f, "record {n} has an empty, relative or overlong path"),
            Self::TrailingBytes => write!(f, "bytes after the last record"),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u32_at(b, at) as u64 | (u32_at(b, at + 4) as u64) << 32
}

/// The records of `index`, in order. The header is checked first (an error
/// there is the only item); a malformed record ends the iteration with its
/// error, after the good records before it.
pub fn records(index: &[u8]) -> Records<'_> {
    let state = if index.len() < HEADER_SIZE || index[..8] != MAGIC {
        Err(IndexError::NotAnIndex)
    } else if u32_at(index, 8) != VERSION {
        Err(IndexError::Version(u32_at(index, 8)))
    } else {
        Ok(())
    };
    let count = if state.is_ok() { u32_at(index, 12) } else { 0 };
    Records { index, at: HEADER_SIZE, next: 0, count, error: state.err() }
}

/// Iterator returned by [`records`].
pub struct Records<'a> {
    index: &'a [u8],
    at: usize,
    next: u32,
    count: u32,
    error: Option<IndexError>,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, IndexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            self.next = self.count;
            self.at = self.index.len();
            return Some(Err(e));
        }
        if self.next == self.count {
            if self.at != self.index.len() {
                self.at = self.index.len();
                return Some(Err(IndexError::TrailingBytes));
            }
            return None;
        }
        let n = self.next;
        let rest = &self.index[self.at..];
        let fail = |me: &mut Self, e| {
            me.next = me.count;
            me.at = me.index.len();
            Some(Err(e))
        };
        if rest.len() < RECORD_HEADER_SIZE {
            return fail(self, IndexError::Truncated(n));
        }
        let path_len = u32_at(rest, 0) as usize;
        let sites = u32_at(rest, 4) as usize;
        let file_size = u64_at(rest, 8);
        let padded = path_len.next_multiple_of(8);
        let need = sites.checked_mul(8).and_then(|s| s.checked_add(RECORD_HEADER_SIZE + padded));
        let Some(need) = need.filter(|&need| need <= rest.len()) else {
            return fail(self, IndexError::Truncated(n));
        };
        let path = &rest[RECORD_HEADER_SIZE..RECORD_HEADER_SIZE + path_len];
        if path.first() != Some(&b'/') || path_len > MAX_PATH || path.contains(&0) {
            return fail(self, IndexError::BadPath(n));
        }
        let start = RECORD_HEADER_SIZE + padded;
        let record = Record { path, file_size, sites: &rest[start..need] };
        self.at += need;
        self.next += 1;
        Some(Ok(record))
    }
}

/// The size of a record for a path of `path_len` bytes and `sites` sites (for
/// writers).
pub const fn record_size(path_len: usize, sites: usize) -> usize {
    RECORD_HEADER_SIZE + path_len.next_multiple_of(8) + sites * 8
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn record(b: &mut Vec<u8>, path: &[u8], size: u64, sites: &[u64]) {
        b.extend_from_slice(&(path.len() as u32).to_le_bytes());
        b.extend_from_slice(&(sites.len() as u32).to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(path);
        b.resize(b.len().next_multiple_of(8), 0);
        for s in sites {
            b.extend_from_slice(&s.to_le_bytes());
        }
    }

    fn index(count: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        b
    }

    #[test]
    fn reads_records() {
        let mut b = index(2);
        record(&mut b, b"/bin/a", 100, &[0x401000, 0x401010]);
        record(&mut b, b"/b", 7, &[]);
        assert_eq!(b.len(), HEADER_SIZE + record_size(6, 2) + record_size(2, 0));
        let r: Vec<_> = records(&b).collect();
        assert_eq!(r.len(), 2);
        let a = r[0].unwrap();
        assert_eq!((a.path, a.file_size, a.site_count()), (&b"/bin/a"[..], 100, 2));
        assert_eq!(a.sites().collect::<Vec<_>>(), [0x401000, 0x401010]);
        assert_eq!(r[1].unwrap().site_count(), 0);
        assert_eq!(records(&index(0)).count(), 0);
    }

    #[test]
    fn errors_end_the_records() {
        let err = |b: &[u8]| records(b).find_map(|r| r.err());
        assert_eq!(err(b""), Some(IndexError::NotAnIndex));
        assert_eq!(err(b"SYSSITE"), Some(IndexError::NotAnIndex));
        let mut v2 = index(0);
        v2[8] = 2;
        assert_eq!(err(&v2), Some(IndexError::Version(2)));
        assert_eq!(err(&index(1)), Some(IndexError::Truncated(0)));
        let mut b = index(1);
        record(&mut b, b"/x", 1, &[1, 2, 3]);
        assert_eq!(err(&b[..b.len() - 1]), Some(IndexError::Truncated(0)));
        let mut trailing = b.clone();
        trailing.push(0);
        assert_eq!(err(&trailing), Some(IndexError::TrailingBytes));
        for bad in [&b""[..], b"relative", b"/nul\0"] {
            let mut b = index(1);
            record(&mut b, bad, 1, &[]);
            assert_eq!(err(&b), Some(IndexError::BadPath(0)), "{bad:?}");
        }
        // Huge counts do not overflow.
        let mut b = index(1);
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        assert_eq!(err(&b), Some(IndexError::Truncated(0)));
        // After an error, nothing more.
        let mut it = records(&v2);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }
}
