//! The host's half of zpoline (the guest's is `guest::exec::zpoline`): find
//! where each static x86-64 executable shipped to the guest executes the
//! `syscall` instruction itself, and write the index the guest kernel reads
//! at boot (`protocol::sites`). Where `syscall` does not reach the guest's
//! ring 0, exec rewrites those sites into `call *%rax`, which the kernel
//! takes as a system call.
//!
//! The code is found with the `object` crate (ELF headers) and decoded with
//! `iced-x86` (an x86 decoder kept up to date with Intel's and AMD's manuals):
//! a linear sweep, instruction by instruction, over each executable section
//! (`SHF_EXECINSTR`) inside an executable segment, or over the executable
//! segments when the file has no section headers. Decoding by instruction
//! is what tells a `syscall` from the bytes `0f 05` inside another
//! instruction (an immediate, a displacement), which the guest's check —
//! `0f 05` in an executable segment — cannot. A linear sweep trusts the
//! code to be code: data placed between functions could be decoded as
//! instructions (compilers for x86-64 put jump tables and constants in
//! `.rodata`, which linkers put in a non-executable segment; restricting the
//! sweep to executable sections keeps `.rodata` out even where a linker puts
//! it into the same segment). The sweep resynchronises within a few
//! instructions after such data; a false site there would patch the
//! process's private copy only.

use iced_x86::{Code, Decoder, DecoderOptions, Instruction};
use object::elf::{FileHeader64, EM_X86_64, ET_DYN, ET_EXEC, PF_X, PT_INTERP, PT_LOAD};
use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::LittleEndian as LE;

use protocol::sites;

/// The `syscall` sites of `image` as link-time addresses, increasing; `None`
/// if it is not a static x86-64 ELF executable (`ET_EXEC`, or `ET_DYN`
/// without `PT_INTERP`) whose headers read cleanly.
pub fn syscall_sites(image: &[u8]) -> Option<Vec<u64>> {
    let mut sites = Vec::new();
    for (vaddr, code) in code_regions(image)? {
        let mut decoder = Decoder::with_ip(64, code, vaddr, DecoderOptions::NONE);
        let mut insn = Instruction::default();
        while decoder.can_decode() {
            decoder.decode_out(&mut insn);
            if insn.code() == Code::Syscall {
                sites.push(insn.ip());
            }
        }
    }
    sites.sort_unstable();
    sites.dedup();
    Some(sites)
}

/// Whether `image` is a static x86-64 ELF executable (`ET_EXEC`, or `ET_DYN`
/// without `PT_INTERP`), the kind the guest runs.
pub fn is_static_x86_64(image: &[u8]) -> bool {
    code_regions(image).is_some()
}

/// The executable code of a static x86-64 executable: (link-time address,
/// bytes) of each executable section inside the file bytes of an executable
/// `PT_LOAD`, or of those segments if there are no usable section headers.
fn code_regions(image: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let header = FileHeader64::<LE>::parse(image).ok()?;
    let e = header.endian().ok()?;
    if !header.is_class_64() || header.e_machine(e) != EM_X86_64 {
        return None;
    }
    let kind = header.e_type(e);
    let phdrs = header.program_headers(e, image).ok()?;
    if !(kind == ET_EXEC || kind == ET_DYN) || phdrs.iter().any(|p| p.p_type(e) == PT_INTERP) {
        return None;
    }
    // Executable segments: (vaddr, file offset, file size).
    let text: Vec<(u64, u64, u64)> = phdrs
        .iter()
        .filter(|p| p.p_type(e) == PT_LOAD && p.p_flags(e) & PF_X != 0)
        .map(|p| (p.p_vaddr(e), p.p_offset(e), p.p_filesz(e)))
        .filter(|&(_, off, size)| {
            off.checked_add(size).is_some_and(|end| end <= image.len() as u64)
        })
        .collect();
    let slice = |off: u64, size: u64| &image[off as usize..(off + size) as usize];
    let mut regions = Vec::new();
    if let Ok(sections) = header.section_headers(e, image) {
        for s in sections.iter() {
            let flags = s.sh_flags(e);
            if s.sh_type(e) == SHT_NOBITS
                || flags & u64::from(SHF_EXECINSTR | SHF_ALLOC)
                    != u64::from(SHF_EXECINSTR | SHF_ALLOC)
            {
                continue;
            }
            let (addr, size) = (s.sh_addr(e), s.sh_size(e));
            // Only the part the loader maps from the file, in an executable segment.
            let inside = text.iter().find(|&&(va, _, fsz)| {
                addr >= va && addr.checked_add(size).is_some_and(|end| end <= va + fsz)
            });
            if let Some(&(va, off, _)) = inside {
                regions.push((addr, slice(off + (addr - va), size)));
            }
        }
    }
    if regions.is_empty() {
        regions = text.iter().map(|&(va, off, size)| (va, slice(off, size))).collect();
    }
    Some(regions)
}

/// One executable's entry in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Its absolute guest path.
    pub path: String,
    pub file_size: u64,
    pub sites: Vec<u64>,
}

/// The index file (`protocol::sites`) for `tables`.
pub fn index(tables: &[Table]) -> Vec<u8> {
    let size: usize = tables.iter().map(|t| sites::record_size(t.path.len(), t.sites.len())).sum();
    let mut b = Vec::with_capacity(sites::HEADER_SIZE + size);
    b.extend_from_slice(&sites::MAGIC);
    b.extend_from_slice(&sites::VERSION.to_le_bytes());
    b.extend_from_slice(&(tables.len() as u32).to_le_bytes());
    for t in tables {
        b.extend_from_slice(&(t.path.len() as u32).to_le_bytes());
        b.extend_from_slice(&(t.sites.len() as u32).to_le_bytes());
        b.extend_from_slice(&t.file_size.to_le_bytes());
        b.extend_from_slice(t.path.as_bytes());
        b.resize(b.len().next_multiple_of(8), 0);
        for s in &t.sites {
            b.extend_from_slice(&s.to_le_bytes());
        }
    }
    b
}

/// The table of the file `data` at guest path `path`, if it is a static
/// x86-64 executable with `syscall` sites.
pub fn table_for(path: &str, data: &[u8]) -> Option<Table> {
    let sites = syscall_sites(data).filter(|s| !s.is_empty())?;
    Some(Table { path: path.to_string(), file_size: data.len() as u64, sites })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A static ET_EXEC (`e_type` 2) or static PIE (3) with one executable
    /// segment at 0x401000 holding `text`, and `sections` section headers
    /// (name, flags, address, size) if not empty.
    fn exe(e_type: u16, text: &[u8], sections: &[(u64, u64, u64)]) -> Vec<u8> {
        let mut f = vec![0u8; 0x2000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&0x401000u64.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&1u16.to_le_bytes());
        let p = 64;
        f[p..p + 4].copy_from_slice(&1u32.to_le_bytes());
        f[p + 4..p + 8].copy_from_slice(&5u32.to_le_bytes());
        f[p + 8..p + 16].copy_from_slice(&0x1000u64.to_le_bytes());
        f[p + 16..p + 24].copy_from_slice(&0x401000u64.to_le_bytes());
        f[p + 24..p + 32].copy_from_slice(&0x401000u64.to_le_bytes());
        f[p + 32..p + 40].copy_from_slice(&(text.len() as u64).to_le_bytes());
        f[p + 40..p + 48].copy_from_slice(&(text.len() as u64).to_le_bytes());
        f[0x1000..0x1000 + text.len()].copy_from_slice(text);
        if !sections.is_empty() {
            // Section headers at 0x200: a null one, then the given ones.
            let shoff = 0x200usize;
            f[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
            f[58..60].copy_from_slice(&64u16.to_le_bytes());
            f[60..62].copy_from_slice(&(sections.len() as u16 + 1).to_le_bytes());
            for (i, &(flags, addr, size)) in sections.iter().enumerate() {
                let s = shoff + (i + 1) * 64;
                f[s + 4..s + 8].copy_from_slice(&1u32.to_le_bytes()); // PROGBITS
                f[s + 8..s + 16].copy_from_slice(&flags.to_le_bytes());
                f[s + 16..s + 24].copy_from_slice(&addr.to_le_bytes());
                f[s + 24..s + 32].copy_from_slice(&(0x1000 + addr - 0x401000).to_le_bytes());
                f[s + 32..s + 40].copy_from_slice(&size.to_le_bytes());
            }
        }
        f
    }

    // 0x401000: mov eax, 39; syscall; ret
    // 0x401008: mov eax, 0x050f (the immediate holds 0f 05); syscall; ret
    // 0x401010: data "\x0f\x05" then padding
    const TEXT: &[u8] = &[
        0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3, //
        0xb8, 0x0f, 0x05, 0, 0, 0x0f, 0x05, 0xc3, //
        0x0f, 0x05, 0xcc, 0xcc,
    ];

    #[test]
    fn finds_syscall_instructions_not_bytes() {
        // No section headers: the whole executable segment is swept, and
        // the "data" 0f 05 at its end decodes as a syscall.
        let all = syscall_sites(&exe(2, TEXT, &[])).unwrap();
        assert_eq!(all, [0x401005, 0x40100d, 0x401010]);
        // With sections: only the executable one (.text, 16 bytes) is swept.
        let ax = u64::from(SHF_ALLOC | SHF_EXECINSTR);
        let a = u64::from(SHF_ALLOC);
        let sections = [(ax, 0x401000, 0x10), (a, 0x401010, 4)];
        assert_eq!(syscall_sites(&exe(2, TEXT, &sections)).unwrap(), [0x401005, 0x40100d]);
        // A static PIE the same.
        assert_eq!(syscall_sites(&exe(3, TEXT, &sections)).unwrap(), [0x401005, 0x40100d]);
    }

    #[test]
    fn only_static_x86_64_executables() {
        assert_eq!(syscall_sites(b"#!/bin/sh\n"), None);
        assert_eq!(syscall_sites(&[]), None);
        let mut arm = exe(2, TEXT, &[]);
        arm[18..20].copy_from_slice(&183u16.to_le_bytes());
        assert_eq!(syscall_sites(&arm), None);
        assert_eq!(syscall_sites(&exe(1, TEXT, &[])), None, "a relocatable object");
        let mut dynamic = exe(3, TEXT, &[]);
        dynamic[64..68].copy_from_slice(&PT_INTERP.to_le_bytes());
        assert_eq!(syscall_sites(&dynamic), None);
        assert!(!is_static_x86_64(&dynamic) && is_static_x86_64(&exe(3, TEXT, &[])));
        // Truncated inside the segment: no code to sweep, no error.
        let cut = &exe(2, TEXT, &[])[..0x1008];
        assert_eq!(syscall_sites(cut), Some(vec![]));
        assert_eq!(table_for("/x", cut), None, "no table without sites");
    }

    #[test]
    fn the_index_reads_back() {
        let tables = [
            Table { path: "/bin/busybox".into(), file_size: 123, sites: vec![0x401005, 0x40100d] },
            Table { path: "/b".into(), file_size: 7, sites: vec![] },
            Table { path: "/x/".repeat(100) + "y", file_size: 1 << 40, sites: vec![u64::MAX] },
        ];
        let b = index(&tables);
        let back: Vec<Table> = sites::records(&b)
            .map(|r| {
                let r = r.unwrap();
                Table {
                    path: String::from_utf8(r.path.to_vec()).unwrap(),
                    file_size: r.file_size,
                    sites: r.sites().collect(),
                }
            })
            .collect();
        assert_eq!(back, tables);
        assert_eq!(sites::records(&index(&[])).count(), 0);
    }

    /// What the VMM ships, the guest finds, skips when unpacking and binds.
    #[test]
    fn the_guest_finds_and_binds_the_index() {
        use guest::fs::ramfs::{RamFs, ROOT_INO};
        let raw = std::fs::read(crate::programs::path("rawsyscall")).unwrap();
        let table = table_for("/bin/raw", &raw).unwrap();
        let entries = [
            crate::initramfs::Entry { path: "/bin/raw".into(), mode: 0o755, data: raw },
            crate::initramfs::Entry {
                path: protocol::sites::INDEX_PATH.into(),
                mode: 0o600,
                data: index(std::slice::from_ref(&table)),
            },
        ];
        let archive = crate::initramfs::build(&entries).unwrap();
        let (name, bytes) = guest::exec::zpoline::find_index(&archive).unwrap();
        assert_eq!(bytes, &entries[1].data[..]);
        let mut fs = RamFs::new(16 << 20);
        assert_eq!(fs.unpack_cpio_except(&archive, name).unwrap(), 2, "bin and bin/raw");
        assert!(fs.lookup(ROOT_INO, protocol::sites::INDEX_PATH).is_err());
        let r = guest::exec::zpoline::bind_index(&mut fs, bytes);
        assert_eq!((r.accepted, r.refused.len()), (1, 0), "{r:?}");
        let ino = fs.lookup(ROOT_INO, "/bin/raw").unwrap();
        assert_eq!(fs.syscall_sites(ino).unwrap().len(), table.sites.len());
        assert_eq!(
            guest::exec::zpoline::find_index(&archive[..100]),
            None,
            "cut in the first header"
        );
    }

    /// The test programs and, where installed, Debian's static busybox: the
    /// sweep finds the `syscall` instructions that `objdump -d` shows.
    #[test]
    fn real_programs() {
        let rawsyscall = std::fs::read(crate::programs::path("rawsyscall")).unwrap();
        assert!(!syscall_sites(&rawsyscall).unwrap().is_empty());
        let Ok(busybox) = std::fs::read("/bin/busybox") else { return };
        let Some(sites) = syscall_sites(&busybox) else { return }; // not static here
        let objdump = std::process::Command::new("objdump").arg("-d").arg("/bin/busybox").output();
        let Some(o) = objdump.ok().filter(|o| o.status.success()) else { return };
        let want: Vec<u64> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.split('\t').nth(2).is_some_and(|i| i.trim() == "syscall"))
            .filter_map(|l| u64::from_str_radix(l.split(':').next()?.trim(), 16).ok())
            .collect();
        assert!(!want.is_empty());
        assert_eq!(sites, want, "iced-x86 and objdump agree on busybox's syscall sites");
    }
}
