//! A parser for cpio "newc" archives, the initramfs format (Linux
//! Documentation/driver-api/early-userspace/buffer-format.rst, usr/gen_init_cpio.c).
//!
//! Each entry is a 110-byte ASCII header — the magic `070701` (or `070702`, "crc",
//! whose checksum is ignored here) and thirteen fields of exactly 8 hex digits:
//! `ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
//! namesize check` — then `namesize` bytes of NUL-terminated name, padded so that
//! header + name is a multiple of 4 bytes, then `filesize` bytes of data padded to
//! a multiple of 4. The archive ends at the entry named `TRAILER!!!`; whatever
//! follows it is ignored (this parser reads one archive, not Linux's sequence of
//! concatenated ones).
//!
//! Entries borrow from the archive; nothing is copied. Every length is checked
//! against the archive before use, so no input panics or reads out of bounds.

use alloc::vec::Vec;

/// The newc magic, and the magic of the "crc" variant (same layout plus a checksum).
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Header length: 6 bytes of magic and 13 fields of 8 hex digits.
pub const HEADER_LEN: usize = 110;
/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// The header fields in order, as `BadHex` names them (`c_` prefix dropped).
const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// One archive member, borrowed from the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path inside the archive with any leading `/` and `./` removed; the
    /// archive's root (`.`, `./`, `/`) is the empty string. Trailing slashes and
    /// inner components are left as they are.
    pub name: &'a str,
    /// The full `st_mode`: file type bits (`S_IFREG`, `S_IFDIR`, ...) and permissions.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    /// Modification time in seconds since the epoch.
    pub mtime: u32,
    pub ino: u32,
    /// The device holding the file (with `ino`, identifies hard links).
    pub dev_major: u32,
    pub dev_minor: u32,
    /// For a device special file, the device it stands for.
    pub rdev_major: u32,
    pub rdev_minor: u32,
    /// The file's contents (a symbolic link's target, for `S_IFLNK`).
    pub data: &'a [u8],
}

/// Why an archive could not be read. Offsets are byte offsets into the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpioError {
    /// The archive ends inside the `what` ("header", "name" or "data") of the
    /// entry whose header starts at `offset`.
    Truncated { offset: usize, what: &'static str },
    /// No `070701`/`070702` magic at the header starting at `offset`.
    BadMagic { offset: usize },
    /// Header field `field` (e.g. "filesize"), at `offset`, is not 8 hex digits.
    BadHex { offset: usize, field: &'static str },
    /// The name of the entry at `offset` is empty (namesize 0), lacks its NUL
    /// terminator or contains a NUL byte.
    BadName { offset: usize },
    /// The name of the entry at `offset` is not UTF-8.
    NameNotUtf8 { offset: usize },
    /// The archive ended (at an entry boundary) without a `TRAILER!!!` entry.
    MissingTrailer,
}

impl core::fmt::Display for CpioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated { offset, what } => {
                write!(f, "cpio archive truncated in the {what} of the entry at offset {offset}")
            }
            Self::BadMagic { offset } => {
                write!(f, "cpio: no newc magic (070701/070702) at offset {offset}")
            }
            Self::BadHex { offset, field } => {
                write!(f, "cpio: header field {field} at offset {offset} is not 8 hex digits")
            }
            Self::BadName { offset } => write!(
                f,
                "cpio: the name of the entry at offset {offset} is empty, unterminated or contains NUL"
            ),
            Self::NameNotUtf8 { offset } => {
                write!(f, "cpio: the name of the entry at offset {offset} is not UTF-8")
            }
            Self::MissingTrailer => write!(f, "cpio archive ends without a TRAILER!!! entry"),
        }
    }
}

/// The entries of `archive` in order, up to (not including) `TRAILER!!!`.
///
/// The iterator yields `Err` at most once, then ends; it also ends after the
/// trailer. An archive without a trailer ends with `Err(MissingTrailer)`.
pub fn entries(archive: &[u8]) -> Entries<'_> {
    Entries { archive, pos: 0, done: false }
}

/// Every entry of `archive` (see [`entries`]), or the first error.
pub fn parse(archive: &[u8]) -> Result<Vec<Entry<'_>>, CpioError> {
    entries(archive).collect()
}

/// Iterator over the entries of an archive; see [`entries`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    archive: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Entries<'a> {
    /// The offset of the next header (after the trailer: where the trailer's
    /// padded end is, which may be past the end of the archive).
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Parse the entry whose header starts at `self.pos`; `Ok(None)` for the trailer.
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, CpioError> {
        let start = self.pos;
        if start >= self.archive.len() {
            return Err(CpioError::MissingTrailer);
        }
        let header = self
            .archive
            .get(start..)
            .and_then(|rest| rest.get(..HEADER_LEN))
            .ok_or(CpioError::Truncated { offset: start, what: "header" })?;
        if &header[..6] != MAGIC_NEWC && &header[..6] != MAGIC_CRC {
            return Err(CpioError::BadMagic { offset: start });
        }
        let mut fields = [0u32; 13];
        for (i, value) in fields.iter_mut().enumerate() {
            let at = 6 + 8 * i;
            *value = hex8(&header[at..at + 8])
                .ok_or(CpioError::BadHex { offset: start + at, field: FIELDS[i] })?;
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, dev_major, dev_minor, rdev_major, rdev_minor, namesize, _check] =
            fields;

        let truncated = |what| CpioError::Truncated { offset: start, what };
        let name_start = start + HEADER_LEN;
        let name_end = name_start.checked_add(namesize as usize).ok_or(truncated("name"))?;
        let name = self.archive.get(name_start..name_end).ok_or(truncated("name"))?;
        let name = match name.split_last() {
            Some((0, name)) if !name.contains(&0) => name,
            _ => return Err(CpioError::BadName { offset: start }),
        };
        let name =
            core::str::from_utf8(name).map_err(|_| CpioError::NameNotUtf8 { offset: start })?;

        let data_start = align4(name_end).ok_or(truncated("name"))?;
        let data_end = data_start.checked_add(filesize as usize).ok_or(truncated("data"))?;
        // An empty body needs no padding before it (the trailer may end the archive
        // right after its name).
        let data = match filesize {
            0 => &[][..],
            _ => self.archive.get(data_start..data_end).ok_or(truncated("data"))?,
        };
        // The next header; past the end of the archive if the padding is missing,
        // which is only an error if another entry was expected.
        self.pos = align4(data_end).unwrap_or(usize::MAX);
        if name == TRAILER {
            return Ok(None);
        }
        Ok(Some(Entry {
            name: strip_name(name),
            mode,
            uid,
            gid,
            nlink,
            mtime,
            ino,
            dev_major,
            dev_minor,
            rdev_major,
            rdev_minor,
            data,
        }))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Entries<'_> {}

/// Exactly 8 ASCII hex digits (either case).
fn hex8(digits: &[u8]) -> Option<u32> {
    if digits.len() != 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &d| Some(acc << 4 | (d as char).to_digit(16)?))
}

fn align4(n: usize) -> Option<usize> {
    n.checked_next_multiple_of(4)
}

/// Drop leading `/` and `./`; the root (`.`) becomes "".
fn strip_name(mut name: &str) -> &str {
    loop {
        if let Some(rest) = name.strip_prefix("./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix('/') {
            name = rest;
        } else if name == "." {
            return "";
        } else {
            return name;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// One newc entry, written the way gen_init_cpio does (uppercase hex).
    fn push_entry(out: &mut Vec<u8>, magic: &str, name: &str, mode: u32, data: &[u8], ino: u32) {
        let header = format!(
            "{magic}{ino:08X}{mode:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            0,
            0,
            1,
            1_700_000_000u32,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        assert_eq!(header.len(), HEADER_LEN);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }

    /// A small archive and the offset of each entry's header.
    fn sample_with_offsets() -> (Vec<u8>, Vec<usize>) {
        let mut a = Vec::new();
        let mut at = Vec::new();
        for (magic, name, mode, data, ino) in [
            ("070701", ".", 0o040755, &b""[..], 1),
            ("070701", "./bin", 0o040755, b"", 2),
            ("070702", "/bin/hello", 0o100755, b"hello, world\n", 3),
            ("070701", "empty", 0o100644, b"", 4),
            ("070701", "abc", 0o100600, b"abc", 5),
            ("070701", TRAILER, 0, b"", 0),
        ] {
            at.push(a.len());
            push_entry(&mut a, magic, name, mode, data, ino);
        }
        (a, at)
    }

    fn sample() -> Vec<u8> {
        sample_with_offsets().0
    }

    #[test]
    fn parses_entries_and_strips_names() {
        let a = sample();
        let e = parse(&a).unwrap();
        let names: Vec<&str> = e.iter().map(|e| e.name).collect();
        assert_eq!(names, ["", "bin", "bin/hello", "empty", "abc"]);
        assert_eq!(e[2].mode, 0o100755);
        assert_eq!(e[2].data, b"hello, world\n");
        assert_eq!((e[2].ino, e[2].nlink, e[2].mtime), (3, 1, 1_700_000_000));
        assert_eq!(e[3].data, b"");
        assert_eq!(e[4].data, b"abc");
        assert_eq!(e[1].mode, 0o040755);
    }

    #[test]
    fn lowercase_hex_and_trailing_garbage_after_trailer() {
        let mut a = sample();
        let lower = String::from_utf8(a[..HEADER_LEN].to_vec()).unwrap().to_lowercase();
        a[..HEADER_LEN].copy_from_slice(lower.as_bytes());
        a.extend_from_slice(b"anything at all after the trailer");
        assert_eq!(parse(&a).unwrap().len(), 5);
    }

    #[test]
    fn trailer_without_final_padding() {
        let mut a = Vec::new();
        push_entry(&mut a, "070701", "f", 0o100644, b"x", 1);
        push_entry(&mut a, "070701", TRAILER, 0, b"", 0);
        // The trailer's header + name (110 + 11) is padded by 3 bytes; drop them.
        a.truncate(a.len() - 3);
        assert_eq!(parse(&a).unwrap().len(), 1);
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b""), Err(CpioError::MissingTrailer));
        let (a, at) = sample_with_offsets();
        let trailer = at[5];
        assert_eq!(parse(&a[..trailer]), Err(CpioError::MissingTrailer));
        let cut = |len: usize| parse(&a[..len]).map(|e| e.len());
        assert_eq!(
            cut(trailer + 50),
            Err(CpioError::Truncated { offset: trailer, what: "header" })
        );
        assert_eq!(cut(trailer + 115), Err(CpioError::Truncated { offset: trailer, what: "name" }));
        // Inside "hello, world\n" (its name "/bin/hello" pads header + name to 124).
        assert_eq!(cut(at[2] + 124 + 5), Err(CpioError::Truncated { offset: at[2], what: "data" }));

        let corrupt = |i: usize, b: u8| {
            let mut bad = a.clone();
            bad[i] = b;
            parse(&bad).map(|e| e.len())
        };
        let second = at[1];
        assert_eq!(corrupt(second, b'8'), Err(CpioError::BadMagic { offset: second }));
        assert_eq!(
            corrupt(second + 6 + 8 * 6 + 3, b'g'),
            Err(CpioError::BadHex { offset: second + 54, field: "filesize" })
        );
        assert_eq!(
            corrupt(second + 6 + 3, b' '),
            Err(CpioError::BadHex { offset: second + 6, field: "ino" })
        );
        // "./bin": a non-UTF-8 byte, a missing terminator, a NUL inside.
        assert_eq!(
            corrupt(second + HEADER_LEN + 2, 0xff),
            Err(CpioError::NameNotUtf8 { offset: second })
        );
        assert_eq!(
            corrupt(second + HEADER_LEN + 5, b'x'),
            Err(CpioError::BadName { offset: second })
        );
        assert_eq!(corrupt(second + HEADER_LEN + 1, 0), Err(CpioError::BadName { offset: second }));

        let field = |i: usize, value: &[u8; 8]| {
            let mut bad = a.clone();
            bad[6 + 8 * i..6 + 8 * (i + 1)].copy_from_slice(value);
            parse(&bad).map(|e| e.len())
        };
        assert_eq!(field(11, b"00000000"), Err(CpioError::BadName { offset: 0 }));
        // Huge sizes do not overflow.
        assert_eq!(field(6, b"FFFFFFFF"), Err(CpioError::Truncated { offset: 0, what: "data" }));
        assert_eq!(field(11, b"FFFFFFFF"), Err(CpioError::Truncated { offset: 0, what: "name" }));

        // The iterator ends after its error.
        let mut bad = a.clone();
        bad[second] = b'x';
        let mut it = entries(&bad);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let a = sample();
        let full = a.len() - 3; // the trailer's padding is optional
        for len in 0..a.len() {
            let r = parse(&a[..len]);
            assert_eq!(r.is_ok(), len >= full, "length {len}: {r:?}");
        }
    }

    #[test]
    fn display_names_the_problem() {
        let s = format!("{}", CpioError::BadHex { offset: 7, field: "mode" });
        assert!(s.contains("mode") && s.contains('7'), "{s}");
        assert!(format!("{}", CpioError::MissingTrailer).contains("TRAILER!!!"));
    }

    /// Random mutations of a valid archive: every outcome is fine except a panic,
    /// and every entry returned lies inside the archive.
    #[test]
    fn fuzz_mutations() {
        let base = sample();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let hex = b"0123456789abcdefABCDEF";
        for _ in 0..20_000 {
            let mut a = base.clone();
            for _ in 0..1 + rand() % 4 {
                let i = (rand() % a.len() as u64) as usize;
                a[i] = match rand() % 3 {
                    0 => rand() as u8,
                    1 => hex[(rand() % hex.len() as u64) as usize],
                    _ => 0,
                };
            }
            let cut = if rand() % 4 == 0 { (rand() % a.len() as u64) as usize } else { a.len() };
            let a = &a[..cut];
            let range = a.as_ptr_range();
            for e in entries(a).flatten() {
                assert!(e.data.is_empty() || range.contains(&e.data.as_ptr()));
                assert!(e.data.len() <= a.len());
            }
        }
    }
}
