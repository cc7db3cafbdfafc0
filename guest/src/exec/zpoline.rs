//! zpoline (Yasukata et al., USENIX ATC '23) for hosts where the `syscall`
//! instruction does not reach ring 0: exec rewrites every `syscall` (`0f 05`)
//! of a program the VMM decoded into `call *%rax` (`ff d0`), the same length.
//!
//! With the system-call number in rax, `call *%rax` pushes the return address
//! and jumps to the address equal to the number — on the first page, which no
//! program maps (Linux's `mmap_min_addr`): the instruction fetch faults (#PF;
//! #GP if the number is not a canonical address), and the kernel recognises the
//! fault as a system call by three facts: the mm was patched, the faulting RIP
//! is rax, and the return address on the stack follows a patched site (a
//! binary search in the site table). It pops the return address and returns
//! straight to it, exactly as the `AT_SYSINFO` gate does (docs/hosts.md rule 2),
//! so `vfork`, `clone` with a new stack and `rt_sigreturn` behave as with the
//! gate, and a restart re-executes the patched `call`.
//!
//! zpoline as published maps a trampoline page at address 0 (a NOP sled ending
//! in a jump to a hook). Here the kernel itself is the hook and the fault is
//! the entry, so nothing is mapped at 0: NULL reads and writes still fault with
//! Linux's siginfo, a call through a NULL pointer from anywhere but a patched
//! site is still SIGSEGV, and any system-call number works.
//!
//! The site tables come from the VMM (`protocol::sites`): at boot
//! [`find_index`] finds the index in the initramfs (it is read in place, never
//! unpacked as a file), and [`bind_index`] checks each table against its
//! executable ([`check_sites`]: every site must be `0f 05` inside the file
//! bytes of an executable segment) and binds it to the file's inode, where the
//! file's next write drops it.
//! Exec patches its private copy of the text ([`SiteTable::patch`]); the file
//! itself never changes.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use protocol::sites::{self, IndexError};

use super::elf::{self, ElfError};
use crate::fs::ramfs::{RamFs, ROOT_INO};
pub use crate::mm::zpoline::{SiteTable, Zpoline, CALL_RAX, SYSCALL_INSN};

const PROT_EXEC: u32 = 4;

/// Why a site table was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteError {
    /// The file is not the size the VMM decoded.
    SizeMismatch { table: u64, file: u64 },
    /// The file is not a static x86-64 ELF executable.
    NotElf(ElfError),
    /// The sites are not strictly increasing, 2 bytes apart at least.
    NotIncreasing { vaddr: u64 },
    /// A site outside the file bytes of every executable segment.
    OutsideText { vaddr: u64 },
    /// A site whose bytes are not `0f 05`.
    NotSyscall { vaddr: u64 },
}

impl core::fmt::Display for SiteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::SizeMismatch { table, file } => {
                write!(f, "the table is for a file of {table} bytes, this one has {file}")
            }
            Self::NotElf(e) => write!(f, "not a static x86-64 ELF executable ({e:?})"),
            Self::NotIncreasing { vaddr } => {
                write!(f, "site {vaddr:#x} is not above the previous one by 2 bytes or more")
            }
            Self::OutsideText { vaddr } => {
                write!(f, "site {vaddr:#x} is not in the file bytes of an executable segment")
            }
            Self::NotSyscall { vaddr } => write!(f, "site {vaddr:#x} is not a syscall instruction"),
        }
    }
}

/// Check `sites` (link-time addresses) against executable `image`, of
/// `table_file_size` bytes when the VMM decoded it: its table.
pub fn check_sites(
    image: &[u8],
    table_file_size: u64,
    sites: impl Iterator<Item = u64> + Clone,
) -> Result<SiteTable, SiteError> {
    if image.len() as u64 != table_file_size {
        return Err(SiteError::SizeMismatch { table: table_file_size, file: image.len() as u64 });
    }
    // The table's memory first, then the parse's: freed last, the parse
    // leaves no hole below the table in the kernel heap, whose first-fit
    // allocator would walk past it on every allocation from then on.
    let n = sites.clone().count();
    let (mut vaddrs, mut offsets) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let elf = elf::parse(image).map_err(SiteError::NotElf)?;
    for vaddr in sites {
        if vaddrs.last().is_some_and(|&last: &u64| vaddr < last.saturating_add(2)) {
            return Err(SiteError::NotIncreasing { vaddr });
        }
        let offset = elf
            .segments
            .iter()
            .filter(|s| s.prot & PROT_EXEC != 0)
            .find(|s| {
                vaddr >= s.vaddr && vaddr.checked_add(2).is_some_and(|e| e <= s.vaddr + s.filesz)
            })
            .map(|s| s.offset + (vaddr - s.vaddr))
            .ok_or(SiteError::OutsideText { vaddr })?;
        let at = offset as usize;
        if image.get(at..at + 2) != Some(&SYSCALL_INSN[..]) {
            return Err(SiteError::NotSyscall { vaddr });
        }
        vaddrs.push(vaddr);
        offsets.push(offset);
    }
    drop(elf);
    Ok(SiteTable::from_checked(vaddrs, offsets))
}

/// What [`bind_index`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BindReport {
    /// Tables bound to their executables.
    pub accepted: usize,
    /// Tables (or the index) refused, one message each.
    pub refused: Vec<String>,
}

/// The member of the initramfs `archive` that is the VMM's index
/// ([`sites::INDEX_PATH`]): its name as the archive spells it (to unpack
/// everything else) and its bytes, read in place. The kernel never stores the
/// index as a file: programs see exactly the files they were given, and no
/// allocation is made and freed for it (holes early in the kernel heap would
/// slow every later allocation of its first-fit allocator).
pub fn find_index(archive: &[u8]) -> Option<(&str, &[u8])> {
    let name = &sites::INDEX_PATH[1..];
    crate::fs::cpio::entries(archive)
        .map_while(Result::ok)
        .find(|e| e.name.trim_start_matches("./").trim_start_matches('/') == name)
        .map(|e| (e.name, e.data))
}

/// Bind each table of `index` (the VMM's, see [`find_index`]) that checks out
/// to its executable's inode in `fs`. A malformed index or table is refused
/// with a message and never stops the rest.
pub fn bind_index(fs: &mut RamFs, index: &[u8]) -> BindReport {
    let mut report = BindReport::default();
    for record in sites::records(index) {
        let checked = record.map_err(index_error).and_then(|r| {
            check_record(fs, &r)
                .map_err(|why| format!("{}: {why}", String::from_utf8_lossy(r.path)))
        });
        match checked {
            Ok((ino, table)) => {
                if fs.set_syscall_sites(ino, Arc::new(table)).is_ok() {
                    report.accepted += 1;
                }
            }
            Err(message) => report.refused.push(message),
        }
    }
    report
}

/// At boot, once the root file system is mounted (without the index member,
/// whose bytes `index` are): bind the tables of the VMM's index to the root
/// file system's executables, count them and say which were refused.
#[cfg(target_os = "none")]
pub fn bind_root_index(index: &[u8]) {
    let sites = crate::fs::with_fs(|fs| bind_index(fs, index));
    crate::counters::global_set(crate::counters::ZPOLINE_TABLES, sites.accepted as u64);
    crate::counters::global_set(
        crate::counters::ZPOLINE_TABLES_REFUSED,
        sites.refused.len() as u64,
    );
    for why in &sites.refused {
        crate::println!("kernel: syscall site table ignored: {why}");
    }
}

fn index_error(e: IndexError) -> String {
    format!("{}: {e}", sites::INDEX_PATH)
}

fn check_record(
    fs: &RamFs,
    r: &sites::Record<'_>,
) -> Result<(crate::fs::ramfs::Ino, SiteTable), String> {
    let path = core::str::from_utf8(r.path).map_err(|_| String::from("path is not UTF-8"))?;
    let ino = fs.lookup(ROOT_INO, path).map_err(|e| format!("no such file (errno {e})"))?;
    if !fs.stat(ino).is_ok_and(|s| s.is_reg()) {
        return Err(String::from("not a regular file"));
    }
    let image = fs.file_data(ino).map_err(|e| format!("unreadable (errno {e})"))?;
    check_sites(image, r.file_size, r.sites()).map(|t| (ino, t)).map_err(|e| format!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A static ET_EXEC with a read-only first segment (the headers), an
    /// executable one at 0x401000 holding `text`, and a writable one.
    fn exe(text: &[u8]) -> Vec<u8> {
        let mut f = alloc::vec![0u8; 0x3000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little endian
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&0x401000u64.to_le_bytes()); // entry
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&3u16.to_le_bytes());
        let mut ph = |i: usize, flags: u32, off: u64, va: u64, size: u64| {
            let p = 64 + i * 56;
            f[p..p + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
            f[p + 4..p + 8].copy_from_slice(&flags.to_le_bytes());
            f[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
            f[p + 16..p + 24].copy_from_slice(&va.to_le_bytes());
            f[p + 24..p + 32].copy_from_slice(&va.to_le_bytes());
            f[p + 32..p + 40].copy_from_slice(&size.to_le_bytes());
            f[p + 40..p + 48].copy_from_slice(&size.to_le_bytes());
            f[p + 48..p + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        };
        ph(0, 4, 0, 0x400000, 0x200); // R
        ph(1, 5, 0x1000, 0x401000, text.len() as u64); // R+X
        ph(2, 6, 0x2000, 0x402000, 0x100); // R+W
        f[0x1000..0x1000 + text.len()].copy_from_slice(text);
        // Data that looks like a syscall, in the writable segment.
        f[0x2010..0x2012].copy_from_slice(&SYSCALL_INSN);
        f
    }

    // mov eax, 39; syscall; ret; mov eax, 0x050f (b8 0f 05 00 00); syscall
    const TEXT: &[u8] = &[0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3, 0xb8, 0x0f, 0x05, 0, 0, 0x0f, 0x05];

    #[test]
    fn checks_and_patches_the_sites() {
        let image = exe(TEXT);
        let size = image.len() as u64;
        let t = check_sites(&image, size, [0x401005, 0x40100d].into_iter()).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.contains(0x401005) && t.contains(0x40100d) && !t.contains(0x401009));
        assert!(!t.contains(0) && !t.contains(0x400005) && !t.contains(u64::MAX));
        assert_eq!(t.sites(), [0x401005, 0x40100d]);
        // With a bias: addresses in the loaded image.
        let z = Zpoline { table: Arc::new(t), bias: 0x1000_0000 };
        assert!(z.is_site(0x1040_1005) && !z.is_site(0x401005) && !z.is_site(5));
    }

    #[test]
    fn refuses_bad_tables() {
        let image = exe(TEXT);
        let size = image.len() as u64;
        let new = |sites: &[u64]| check_sites(&image, size, sites.iter().copied());
        assert_eq!(new(&[0x401004]), Err(SiteError::NotSyscall { vaddr: 0x401004 }));
        // The immediate of `mov eax, 0x050f` is `0f 05` too: a table naming it
        // passes the kernel's check, which sees bytes, not instructions. Only
        // the VMM's decoder can tell (it decodes instruction by instruction).
        assert!(new(&[0x401009]).is_ok());
        assert_eq!(new(&[0x402010]), Err(SiteError::OutsideText { vaddr: 0x402010 }));
        assert_eq!(new(&[0x400040]), Err(SiteError::OutsideText { vaddr: 0x400040 }));
        // The last byte of the segment's file bytes: the site would run past it.
        let last = 0x401000 + TEXT.len() as u64 - 1;
        assert_eq!(new(&[last]), Err(SiteError::OutsideText { vaddr: last }));
        assert_eq!(new(&[u64::MAX]), Err(SiteError::OutsideText { vaddr: u64::MAX }));
        assert_eq!(new(&[0x40100d, 0x401005]), Err(SiteError::NotIncreasing { vaddr: 0x401005 }));
        assert_eq!(new(&[0x401005, 0x401005]), Err(SiteError::NotIncreasing { vaddr: 0x401005 }));
        assert_eq!(new(&[0x401005, 0x401006]), Err(SiteError::NotIncreasing { vaddr: 0x401006 }));
        assert_eq!(
            check_sites(&image, size + 1, [0x401005].into_iter()),
            Err(SiteError::SizeMismatch { table: size + 1, file: size })
        );
        let mut notelf = image.clone();
        notelf[0] = 0;
        assert_eq!(
            check_sites(&notelf, size, [0x401005].into_iter()),
            Err(SiteError::NotElf(ElfError::NotElf))
        );
        let empty = new(&[]).unwrap();
        assert!(empty.is_empty() && !empty.contains(0) && !empty.contains(0x401005));
    }

    /// Many sites over several pages, as in a real program: every site is
    /// found through its page's bucket, and nothing else is.
    #[test]
    fn lookup_across_pages() {
        let mut text = alloc::vec![0x90u8; 0x1000];
        let mut sites = Vec::new();
        for at in [0usize, 2, 100, 0xffe, 0x3000 - 0x1000, 0x3ffe - 0x1000] {
            if at + 2 <= text.len() {
                text[at..at + 2].copy_from_slice(&SYSCALL_INSN);
                sites.push(0x401000 + at as u64);
            }
        }
        let image = exe(&text);
        let t = check_sites(&image, image.len() as u64, sites.iter().copied()).unwrap();
        for v in 0x400000..0x403000u64 {
            assert_eq!(t.contains(v), sites.contains(&v), "{v:#x}");
        }
    }

    /// An index as the VMM writes it (`vmm::zpoline` tests the real writer
    /// against `protocol::sites::records`).
    fn index(records: &[(&str, u64, &[u64])]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&sites::MAGIC);
        b.extend_from_slice(&sites::VERSION.to_le_bytes());
        b.extend_from_slice(&(records.len() as u32).to_le_bytes());
        for (path, size, s) in records {
            b.extend_from_slice(&(path.len() as u32).to_le_bytes());
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
            b.extend_from_slice(path.as_bytes());
            b.resize(b.len().next_multiple_of(8), 0);
            for v in *s {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b
    }

    fn put(fs: &mut RamFs, path: &str, data: &[u8]) -> crate::fs::ramfs::Ino {
        let (parent, name) = fs.lookup_parent(ROOT_INO, path).unwrap();
        let ino = fs.create(parent, &name, 0o755).unwrap();
        fs.write_at(ino, 0, data).unwrap();
        ino
    }

    #[test]
    fn binds_good_tables_and_refuses_bad_ones() {
        let mut fs = RamFs::new(1 << 20);
        fs.mkdir(ROOT_INO, "bin", 0o755).unwrap();
        let image = exe(TEXT);
        let size = image.len() as u64;
        let good = put(&mut fs, "/bin/good", &image);
        let other = put(&mut fs, "/bin/other", &image);
        put(&mut fs, "/bin/text", b"not an ELF");
        let idx = index(&[
            ("/bin/good", size, &[0x401005, 0x40100d]),
            ("/bin/other", size, &[0x401007]),
            ("/bin/missing", size, &[0x401005]),
            ("/bin/text", 10, &[0x401005]),
            ("/bin", size, &[0x401005]),
        ]);
        let r = bind_index(&mut fs, &idx);
        assert_eq!(r.accepted, 1, "{r:?}");
        assert_eq!(r.refused.len(), 4, "{r:?}");
        assert!(r.refused[0].starts_with("/bin/other: site 0x401007 is not a syscall"), "{r:?}");
        assert!(r.refused[1].starts_with("/bin/missing: no such file"), "{r:?}");
        assert!(r.refused[2].starts_with("/bin/text: not a static x86-64 ELF"), "{r:?}");
        assert!(r.refused[3].starts_with("/bin: not a regular file"), "{r:?}");
        assert_eq!(fs.syscall_sites(good).unwrap().len(), 2);
        assert!(fs.syscall_sites(other).is_none());
        // A hard link shares the table; a write to the file drops it.
        fs.link(good, ROOT_INO, "alias").unwrap();
        assert!(fs.syscall_sites(fs.lookup(ROOT_INO, "/alias").unwrap()).is_some());
        fs.write_at(good, 0x1005, &SYSCALL_INSN).unwrap();
        assert!(fs.syscall_sites(good).is_none(), "any write drops it, even an identical one");
        // An empty index (no records) binds nothing and refuses nothing.
        assert_eq!(bind_index(&mut fs, &index(&[])), BindReport::default());
    }

    #[test]
    fn malformed_indexes_are_refused_without_harm() {
        let image = exe(TEXT);
        let size = image.len() as u64;
        let whole = index(&[("/bin/good", size, &[0x401005]), ("/bin/good2", size, &[0x401005])]);
        let cases: Vec<(Vec<u8>, usize, &str)> = alloc::vec![
            (b"garbage".to_vec(), 0, "no SYSSITES header"),
            (
                {
                    let mut b = whole.clone();
                    b[8] = 9;
                    b
                },
                0,
                "index version 9"
            ),
            // Cut inside the second record: the first still binds.
            (whole[..whole.len() - 4].to_vec(), 1, "record 1 runs past the end"),
            (
                {
                    let mut b = whole.clone();
                    b.push(0);
                    b
                },
                2,
                "bytes after the last record"
            ),
            // A huge site count.
            (
                {
                    let mut b = whole.clone();
                    b[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
                    b
                },
                0,
                "record 0 runs past the end"
            ),
            // A relative path.
            (
                {
                    let mut b = whole.clone();
                    b[32] = b'x';
                    b
                },
                0,
                "record 0 has an empty"
            ),
        ];
        for (idx, accepted, message) in cases {
            let mut fs = RamFs::new(1 << 20);
            fs.mkdir(ROOT_INO, "bin", 0o755).unwrap();
            put(&mut fs, "/bin/good", &image);
            put(&mut fs, "/bin/good2", &image);
            let r = bind_index(&mut fs, &idx);
            assert_eq!(r.accepted, accepted, "{message}: {r:?}");
            assert_eq!(r.refused.len(), 1, "{message}: {r:?}");
            assert!(r.refused[0].contains(message), "{message}: {r:?}");
        }
    }
}
