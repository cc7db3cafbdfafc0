//! ELF64 checks for static executables: what Linux's `load_elf_binary` checks
//! before it maps anything, plus a few checks that make loading simpler and the
//! error a user sees more precise.
//!
//! `parse` accepts x86-64 `ET_EXEC` files and static PIEs (`ET_DYN` without
//! `PT_INTERP`). It never panics and never reads outside `image`; whatever it
//! returns as `Ok` satisfies:
//!
//! - `segments` (the `PT_LOAD` entries with `p_memsz > 0`) are in ascending
//!   address order and no two share a page (Linux allows two segments in one page
//!   and lets the later mapping win; no common linker produces that, and refusing
//!   it lets the loader map each segment's pages independently);
//! - each segment has `filesz <= memsz`, its file data inside `image`, `offset`
//!   congruent to `vaddr` modulo the page size, and ends at or below `USER_TOP`;
//!   for an `Exec` image it starts at or above `USER_MIN`;
//! - `entry` lies inside a segment.
//!
//! For a static PIE every address (segment `vaddr`s, `entry`, `phdr`) is relative
//! to the load bias, which the kernel chooses (Linux: `ELF_ET_DYN_BASE`, 2/3 of the
//! address space, plus randomization); `ElfImage::with_bias` applies it.

use alloc::vec::Vec;
use core::fmt;

use super::stack::{AT_ENTRY, AT_PHDR, AT_PHENT, AT_PHNUM};
use crate::errno::{Errno, ENOEXEC};
use crate::mm::frame::PAGE_SIZE;
use uapi::elf::ELFMAG;
pub use uapi::elf::{
    EM_X86_64, ET_CORE, ET_DYN, ET_EXEC, ET_NONE, ET_REL, PF_R, PF_W, PF_X, PT_DYNAMIC,
    PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR, PT_TLS,
};
use uapi::mman::{PROT_EXEC, PROT_READ, PROT_WRITE};

/// End of the user address space (Linux x86-64 `TASK_SIZE_MAX` with 4-level
/// paging: the top page below the canonical hole is left unmapped).
pub const USER_TOP: u64 = uapi::mman::TASK_SIZE_MAX;

/// Lowest address a program may map (Linux's default `vm.mmap_min_addr`), so
/// that a null pointer dereference always faults.
pub const USER_MIN: u64 = 0x1_0000;

const EHDR_SIZE: usize = 64;
/// `sizeof(Elf64_Phdr)`, the only `e_phentsize` accepted.
pub const PHDR_SIZE: u16 = 56;
/// Linux's bound on the program header table (`load_elf_phdrs`).
const MAX_PHDR_TABLE: usize = 65536;

const PAGE_MASK: u64 = PAGE_SIZE - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC`: linked at fixed addresses.
    Exec,
    /// `ET_DYN` without `PT_INTERP`: position independent, relocates itself.
    StaticPie,
}

/// One `PT_LOAD` segment: `filesz` bytes from `offset` in the file at `vaddr`,
/// then zeros up to `memsz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    /// `PROT_*` bits from `p_flags` (PF_R -> READ, PF_W -> WRITE, PF_X -> EXEC).
    pub prot: u32,
}

impl Segment {
    /// First page of the segment.
    pub fn page_start(&self) -> u64 {
        self.vaddr & !PAGE_MASK
    }

    /// End of its last page (exclusive).
    pub fn page_end(&self) -> u64 {
        // Cannot overflow: vaddr + memsz <= USER_TOP, which is page aligned.
        (self.vaddr + self.memsz + PAGE_MASK) & !PAGE_MASK
    }

    /// The bytes of the file it holds (`image` must be the one `parse` checked).
    pub fn file_bytes<'a>(&self, image: &'a [u8]) -> &'a [u8] {
        let start = self.offset as usize;
        &image[start..start + self.filesz as usize]
    }
}

/// What `parse` learned about an executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    pub kind: ElfKind,
    pub entry: u64,
    /// Address of the program header table in the loaded image (`AT_PHDR`): from
    /// `PT_PHDR` if present, else inside the `PT_LOAD` segment whose file data
    /// holds the table; 0 if no segment does (as Linux, the program then cannot
    /// find its headers).
    pub phdr: u64,
    pub phent: u16,
    pub phnum: u16,
    pub segments: Vec<Segment>,
    /// `PT_GNU_STACK` has `PF_X`. Without `PT_GNU_STACK` the stack is not
    /// executable, as Linux decides for x86-64 programs.
    pub stack_exec: bool,
}

impl ElfImage {
    /// The same image loaded at `bias` (added to every address). `None` if `bias`
    /// is not page aligned, if it is not 0 for an `Exec` image, or if the image
    /// would then start below `USER_MIN` or reach above `USER_TOP`. Apply it once,
    /// to the result of `parse`.
    pub fn with_bias(&self, bias: u64) -> Option<ElfImage> {
        if bias & PAGE_MASK != 0 || (self.kind == ElfKind::Exec && bias != 0) {
            return None;
        }
        let mut out = self.clone();
        for s in &mut out.segments {
            s.vaddr = s.vaddr.checked_add(bias)?;
            if s.vaddr < USER_MIN {
                return None;
            }
            if s.vaddr.checked_add(s.memsz)? > USER_TOP {
                return None;
            }
        }
        out.entry = self.entry.checked_add(bias)?;
        if self.phdr != 0 {
            out.phdr = self.phdr.checked_add(bias)?;
        }
        Some(out)
    }

    /// The page-aligned range `[start, end)` spanning all segments (Linux
    /// `total_mapping_size` is `end - start`). For an `Exec` image the break
    /// (`brk`) starts at `end`; for a static PIE the caller picks a bias so that
    /// `start + bias .. end + bias` is free.
    pub fn load_range(&self) -> (u64, u64) {
        let start = self.segments.first().map_or(0, Segment::page_start);
        let end = self.segments.last().map_or(0, Segment::page_end);
        (start, end)
    }

    /// The auxiliary vector entries that describe the program: `AT_PHDR`,
    /// `AT_PHENT`, `AT_PHNUM`, `AT_ENTRY` (call it after `with_bias`).
    pub fn auxv(&self) -> [(u64, u64); 4] {
        [
            (AT_PHDR, self.phdr),
            (AT_PHENT, u64::from(self.phent)),
            (AT_PHNUM, u64::from(self.phnum)),
            (AT_ENTRY, self.entry),
        ]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file ends inside its ELF header or program header table.
    Truncated,
    NotElf,
    Not64Bit,
    NotLittleEndian,
    /// `e_machine` is not x86-64.
    WrongMachine(u16),
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    NotExecutable(u16),
    /// It has a `PT_INTERP` (needs a dynamic linker).
    DynamicallyLinked,
    /// `e_phentsize` is not 56, `e_phnum` is 0 or the table is too large, or
    /// `e_phoff` overflows.
    BadProgramHeaders,
    /// Program header `index` (counting from 0) is a bad `PT_LOAD`.
    BadSegment {
        index: usize,
        reason: &'static str,
    },
    NoLoadableSegments,
    EntryOutsideSegments,
}

impl ElfError {
    /// Every one is `ENOEXEC`, as Linux's `execve` returns.
    pub fn errno(&self) -> Errno {
        ENOEXEC
    }
}

/// Name of an `e_machine` value, for messages.
pub fn machine_name(machine: u16) -> &'static str {
    match machine {
        0 => "no machine",
        2 => "SPARC",
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "S/390",
        40 => "ARM",
        43 => "SPARC64",
        50 => "IA-64",
        62 => "x86-64",
        183 => "AArch64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => "an unknown machine",
    }
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ElfError::Truncated => {
                f.write_str("file is truncated: it ends inside its ELF header or program headers")
            }
            ElfError::NotElf => f.write_str("not an ELF file (no \\x7fELF magic number)"),
            ElfError::Not64Bit => f.write_str("not a 64-bit ELF file (ELFCLASS64 needed)"),
            ElfError::NotLittleEndian => f.write_str("not a little-endian ELF file"),
            ElfError::WrongMachine(m) => {
                write!(f, "built for {} (e_machine {m}), not x86-64", machine_name(m))
            }
            ElfError::NotExecutable(t) => {
                let what = match t {
                    ET_NONE => "an ELF file of no type (ET_NONE)",
                    ET_REL => "a relocatable object file (ET_REL): link it into an executable",
                    ET_CORE => "a core dump (ET_CORE)",
                    _ => "an ELF file of unknown type",
                };
                write!(f, "not an executable: {what} (e_type {t})")
            }
            ElfError::DynamicallyLinked => {
                f.write_str("dynamically linked programs are not supported: link with -static")
            }
            ElfError::BadProgramHeaders => f.write_str(
                "bad program header table (e_phentsize must be 56, e_phnum between 1 and 1170)",
            ),
            ElfError::BadSegment { index, reason } => {
                write!(f, "bad loadable segment (program header {index}): {reason}")
            }
            ElfError::NoLoadableSegments => f.write_str("no loadable (PT_LOAD) segments"),
            ElfError::EntryOutsideSegments => {
                f.write_str("the entry point is not inside any loadable segment")
            }
        }
    }
}

fn bytes_at<const N: usize>(b: &[u8], off: u64) -> Option<[u8; N]> {
    let off = usize::try_from(off).ok()?;
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}
fn u16_at(b: &[u8], off: u64) -> Option<u16> {
    bytes_at(b, off).map(u16::from_le_bytes)
}
fn u32_at(b: &[u8], off: u64) -> Option<u32> {
    bytes_at(b, off).map(u32::from_le_bytes)
}
fn u64_at(b: &[u8], off: u64) -> Option<u64> {
    bytes_at(b, off).map(u64::from_le_bytes)
}

/// An `Elf64_Phdr` (`p_align` is not needed).
#[derive(Clone, Copy)]
struct Phdr {
    typ: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

fn read_phdr(b: &[u8], off: u64) -> Option<Phdr> {
    Some(Phdr {
        typ: u32_at(b, off)?,
        flags: u32_at(b, off + 4)?,
        offset: u64_at(b, off + 8)?,
        vaddr: u64_at(b, off + 16)?,
        filesz: u64_at(b, off + 32)?,
        memsz: u64_at(b, off + 40)?,
    })
}

fn prot_of(p_flags: u32) -> u32 {
    let mut prot = 0;
    if p_flags & PF_R != 0 {
        prot |= PROT_READ;
    }
    if p_flags & PF_W != 0 {
        prot |= PROT_WRITE;
    }
    if p_flags & PF_X != 0 {
        prot |= PROT_EXEC;
    }
    prot
}

/// Check one `PT_LOAD` against the file and the segments before it.
fn check_load(
    ph: &Phdr,
    kind: ElfKind,
    file_len: u64,
    prev: Option<&Segment>,
) -> Result<(), &'static str> {
    if ph.filesz > ph.memsz {
        return Err("its file size (p_filesz) is larger than its memory size (p_memsz)");
    }
    if ph.offset.checked_add(ph.filesz).is_none_or(|end| end > file_len) {
        return Err("its file data extends beyond the end of the file");
    }
    let end = ph.vaddr.checked_add(ph.memsz).ok_or("its address range overflows")?;
    if end > USER_TOP {
        return Err("it extends beyond the user address space (0x7ffffffff000)");
    }
    if kind == ElfKind::Exec && ph.memsz > 0 && ph.vaddr < USER_MIN {
        return Err("it starts below 64 KiB (mmap_min_addr), where nothing may be mapped");
    }
    if ph.offset & PAGE_MASK != ph.vaddr & PAGE_MASK {
        return Err("p_offset and p_vaddr are not congruent modulo the page size");
    }
    if let Some(prev) = prev.filter(|_| ph.memsz > 0) {
        if ph.vaddr < prev.vaddr {
            return Err("PT_LOAD segments are not in ascending address order");
        }
        if ph.vaddr < prev.vaddr + prev.memsz {
            return Err("it overlaps the previous PT_LOAD segment");
        }
        if ph.vaddr & !PAGE_MASK < prev.page_end() {
            return Err("it shares a page with the previous PT_LOAD segment");
        }
    }
    Ok(())
}

/// Check that `image` is a static x86-64 executable this kernel can load, and
/// describe it.
pub fn parse(image: &[u8]) -> Result<ElfImage, ElfError> {
    let n = image.len().min(ELFMAG.len());
    if image[..n] != ELFMAG[..n] {
        return Err(ElfError::NotElf);
    }
    match image.get(4) {
        None => return Err(ElfError::Truncated),
        Some(2) => {}
        Some(_) => return Err(ElfError::Not64Bit),
    }
    match image.get(5) {
        None => return Err(ElfError::Truncated),
        Some(1) => {}
        Some(_) => return Err(ElfError::NotLittleEndian),
    }
    if image.len() < EHDR_SIZE {
        return Err(ElfError::Truncated);
    }
    let field16 = |off| u16_at(image, off).ok_or(ElfError::Truncated);
    let field64 = |off| u64_at(image, off).ok_or(ElfError::Truncated);
    let etype = field16(16)?;
    let machine = field16(18)?;
    let entry = field64(24)?;
    let phoff = field64(32)?;
    let phentsize = field16(54)?;
    let phnum = field16(56)?;

    if machine != EM_X86_64 {
        return Err(ElfError::WrongMachine(machine));
    }
    let kind = match etype {
        ET_EXEC => ElfKind::Exec,
        ET_DYN => ElfKind::StaticPie,
        t => return Err(ElfError::NotExecutable(t)),
    };
    let table_len = usize::from(phnum) * usize::from(phentsize);
    if phentsize != PHDR_SIZE || phnum == 0 || table_len > MAX_PHDR_TABLE {
        return Err(ElfError::BadProgramHeaders);
    }
    let file_len = image.len() as u64;
    let table_end = phoff.checked_add(table_len as u64).ok_or(ElfError::BadProgramHeaders)?;
    if table_end > file_len {
        return Err(ElfError::Truncated);
    }
    // Sized once (collecting into Option<Vec> would grow the Vec from empty).
    let mut phdrs = Vec::with_capacity(usize::from(phnum));
    for i in 0..u64::from(phnum) {
        phdrs.push(read_phdr(image, phoff + i * u64::from(PHDR_SIZE)).ok_or(ElfError::Truncated)?);
    }

    // Linux looks for the interpreter before it looks at anything else.
    if phdrs.iter().any(|ph| ph.typ == PT_INTERP) {
        return Err(ElfError::DynamicallyLinked);
    }

    let mut segments: Vec<Segment> = Vec::with_capacity(phdrs.len());
    let mut phdr_vaddr = None;
    let mut stack_exec = false;
    for (index, ph) in phdrs.iter().enumerate() {
        match ph.typ {
            PT_LOAD => {
                check_load(ph, kind, file_len, segments.last())
                    .map_err(|reason| ElfError::BadSegment { index, reason })?;
                if ph.memsz > 0 {
                    segments.push(Segment {
                        vaddr: ph.vaddr,
                        memsz: ph.memsz,
                        offset: ph.offset,
                        filesz: ph.filesz,
                        prot: prot_of(ph.flags),
                    });
                }
            }
            PT_PHDR => {
                phdr_vaddr.get_or_insert(ph.vaddr);
            }
            PT_GNU_STACK => stack_exec = ph.flags & PF_X != 0,
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(ElfError::NoLoadableSegments);
    }
    if !segments.iter().any(|s| s.vaddr <= entry && entry - s.vaddr < s.memsz) {
        return Err(ElfError::EntryOutsideSegments);
    }
    let phdr = phdr_vaddr.unwrap_or_else(|| {
        segments
            .iter()
            .find(|s| s.offset <= phoff && table_end <= s.offset + s.filesz)
            .map_or(0, |s| s.vaddr + (phoff - s.offset))
    });
    Ok(ElfImage { kind, entry, phdr, phent: PHDR_SIZE, phnum, segments, stack_exec })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// A program header for the test builder.
    #[derive(Clone, Copy)]
    struct Ph {
        typ: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
    }

    fn ph(typ: u32, flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph { typ, flags, offset, vaddr, filesz, memsz }
    }

    /// An ELF file of `len` bytes: header, program headers at 64, code `0xcc`
    /// (int3) in the rest.
    fn build(etype: u16, entry: u64, phs: &[Ph], len: usize) -> Vec<u8> {
        let mut b = alloc::vec![0xccu8; len];
        b[..EHDR_SIZE].fill(0);
        b[..4].copy_from_slice(ELFMAG);
        b[4] = 2; // ELFCLASS64
        b[5] = 1; // ELFDATA2LSB
        b[6] = 1; // EV_CURRENT
        b[16..18].copy_from_slice(&etype.to_le_bytes());
        b[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[24..32].copy_from_slice(&entry.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        b[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        b[54..56].copy_from_slice(&PHDR_SIZE.to_le_bytes());
        b[56..58].copy_from_slice(&(phs.len() as u16).to_le_bytes());
        for (i, p) in phs.iter().enumerate() {
            let o = 64 + i * 56;
            b[o..o + 56].fill(0);
            b[o..o + 4].copy_from_slice(&p.typ.to_le_bytes());
            b[o + 4..o + 8].copy_from_slice(&p.flags.to_le_bytes());
            b[o + 8..o + 16].copy_from_slice(&p.offset.to_le_bytes());
            b[o + 16..o + 24].copy_from_slice(&p.vaddr.to_le_bytes());
            b[o + 24..o + 32].copy_from_slice(&p.vaddr.to_le_bytes()); // p_paddr
            b[o + 32..o + 40].copy_from_slice(&p.filesz.to_le_bytes());
            b[o + 40..o + 48].copy_from_slice(&p.memsz.to_le_bytes());
            b[o + 48..o + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        }
        b
    }

    const R: u32 = PF_R;
    const RX: u32 = PF_R | PF_X;
    const RW: u32 = PF_R | PF_W;
    const LEN: usize = 0x1100;

    /// A static executable like `ld -static` makes: headers and rodata in a
    /// read-only segment from offset 0, code, then data + bss; `PT_GNU_STACK`.
    /// With `pt_phdr`, a `PT_PHDR` first as lld and `-static-pie` produce.
    fn sample(etype: u16, base: u64, pt_phdr: bool) -> Vec<u8> {
        let n = if pt_phdr { 5 } else { 4 };
        let mut phs = Vec::new();
        if pt_phdr {
            phs.push(ph(PT_PHDR, R, 64, base + 64, n * 56, n * 56));
        }
        phs.push(ph(PT_LOAD, R, 0, base, 0x200, 0x200));
        phs.push(ph(PT_LOAD, RX, 0x200, base + 0x1200, 0x800, 0x800));
        phs.push(ph(PT_LOAD, RW, 0xa00, base + 0x2a00, 0x700, 0x3000));
        phs.push(ph(PT_GNU_STACK, RW, 0, 0, 0, 0));
        build(etype, base + 0x1234, &phs, LEN)
    }

    #[test]
    fn static_exec_without_pt_phdr() {
        let img = parse(&sample(ET_EXEC, 0x40_0000, false)).unwrap();
        assert_eq!(img.kind, ElfKind::Exec);
        assert_eq!(img.entry, 0x40_1234);
        assert_eq!(img.phdr, 0x40_0040); // inside the first PT_LOAD
        assert_eq!((img.phent, img.phnum), (56, 4));
        assert!(!img.stack_exec);
        let segs: Vec<_> = img.segments.iter().map(|s| (s.vaddr, s.memsz, s.prot)).collect();
        assert_eq!(segs, [(0x40_0000, 0x200, 1), (0x40_1200, 0x800, 5), (0x40_2a00, 0x3000, 3)]);
        assert_eq!(img.segments[2].offset, 0xa00);
        assert_eq!(img.segments[2].filesz, 0x700);
        assert_eq!(
            (img.segments[1].page_start(), img.segments[2].page_end()),
            (0x40_1000, 0x40_6000)
        );
        assert_eq!(img.load_range(), (0x40_0000, 0x40_6000));
        assert_eq!(
            img.auxv(),
            [(AT_PHDR, 0x40_0040), (AT_PHENT, 56), (AT_PHNUM, 4), (AT_ENTRY, 0x40_1234)]
        );
        assert_eq!(img.with_bias(0).as_ref(), Some(&img));
        assert_eq!(img.with_bias(0x1000), None);
    }

    #[test]
    fn static_exec_with_pt_phdr_and_exec_stack() {
        let mut file = sample(ET_EXEC, 0x20_0000, true);
        // PT_GNU_STACK (the last header) with PF_X.
        let o = 64 + 4 * 56 + 4;
        file[o..o + 4].copy_from_slice(&(RW | PF_X).to_le_bytes());
        let img = parse(&file).unwrap();
        assert_eq!((img.phdr, img.phnum, img.entry), (0x20_0040, 5, 0x20_1234));
        assert!(img.stack_exec);
        assert_eq!(img.segments.len(), 3);
        assert_eq!(img.segments[1].file_bytes(&file), &file[0x200..0xa00]);
    }

    #[test]
    fn static_pie_with_and_without_pt_phdr() {
        for pt_phdr in [false, true] {
            let img = parse(&sample(ET_DYN, 0, pt_phdr)).unwrap();
            assert_eq!(img.kind, ElfKind::StaticPie);
            assert_eq!((img.entry, img.phdr), (0x1234, 0x40));
            assert_eq!(img.load_range(), (0, 0x6000));
            let bias = 0x5555_5555_4000;
            let moved = img.with_bias(bias).unwrap();
            assert_eq!((moved.entry, moved.phdr), (bias + 0x1234, bias + 0x40));
            assert_eq!(moved.segments[2].vaddr, bias + 0x2a00);
            assert_eq!(moved.segments[2].offset, 0xa00);
            assert_eq!(moved.load_range(), (bias, bias + 0x6000));
            assert_eq!(img.with_bias(0x123), None); // unaligned
            assert!(img.with_bias(USER_TOP - 0x6000).is_some());
            assert_eq!(img.with_bias(USER_TOP - 0x5000), None);
            assert_eq!(img.with_bias(!PAGE_MASK), None);
        }
    }

    #[test]
    fn phdr_zero_when_not_loaded() {
        // The only PT_LOAD starts after the program headers.
        let phs = [ph(PT_LOAD, RX, 0x1000, 0x40_1000, 0x100, 0x100)];
        let img = parse(&build(ET_EXEC, 0x40_1000, &phs, LEN)).unwrap();
        assert_eq!(img.phdr, 0);
        // Empty PT_LOADs are checked but not kept.
        let phs = [
            ph(PT_LOAD, RX, 0x1000, 0x40_1000, 0x100, 0x100),
            ph(PT_LOAD, RW, 0x1000, 0x1000, 0, 0),
        ];
        assert_eq!(parse(&build(ET_EXEC, 0x40_1000, &phs, LEN)).unwrap().segments.len(), 1);
    }

    #[test]
    fn header_errors() {
        let good = sample(ET_EXEC, 0x40_0000, false);
        let with = |off: usize, bytes: &[u8]| {
            let mut f = good.clone();
            f[off..off + bytes.len()].copy_from_slice(bytes);
            parse(&f)
        };
        assert_eq!(parse(b""), Err(ElfError::Truncated));
        assert_eq!(parse(b"\x7fEL"), Err(ElfError::Truncated));
        assert_eq!(parse(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        assert_eq!(parse(b"\x7fELX"), Err(ElfError::NotElf));
        assert_eq!(with(4, &[1]), Err(ElfError::Not64Bit));
        assert_eq!(with(5, &[2]), Err(ElfError::NotLittleEndian));
        assert_eq!(with(18, &183u16.to_le_bytes()), Err(ElfError::WrongMachine(183)));
        assert_eq!(with(16, &ET_REL.to_le_bytes()), Err(ElfError::NotExecutable(ET_REL)));
        assert_eq!(with(16, &ET_CORE.to_le_bytes()), Err(ElfError::NotExecutable(ET_CORE)));
        assert_eq!(with(54, &32u16.to_le_bytes()), Err(ElfError::BadProgramHeaders));
        assert_eq!(with(56, &0u16.to_le_bytes()), Err(ElfError::BadProgramHeaders));
        assert_eq!(with(56, &2000u16.to_le_bytes()), Err(ElfError::BadProgramHeaders));
        assert_eq!(with(56, &100u16.to_le_bytes()), Err(ElfError::Truncated));
        assert_eq!(with(32, &u64::MAX.to_le_bytes()), Err(ElfError::BadProgramHeaders));
        assert_eq!(with(32, &0x10_0000u64.to_le_bytes()), Err(ElfError::Truncated));
        assert_eq!(with(24, &0x40_0300u64.to_le_bytes()), Err(ElfError::EntryOutsideSegments));
        assert_eq!(with(24, &0x40_5a00u64.to_le_bytes()), Err(ElfError::EntryOutsideSegments));
        assert!(with(24, &0x40_59ffu64.to_le_bytes()).is_ok()); // in the bss: allowed
                                                                // A 32-bit ELF header is shorter than 64 bytes: still "not 64-bit".
        assert_eq!(parse(b"\x7fELF\x01\x01\x01"), Err(ElfError::Not64Bit));
    }

    #[test]
    fn interpreter_means_dynamically_linked() {
        let mut phs = alloc::vec![ph(PT_INTERP, R, 0x200, 0x40_0200, 28, 28)];
        phs.push(ph(PT_LOAD, RX, 0, 0x40_0000, 0x300, 0x300));
        assert_eq!(parse(&build(ET_DYN, 0x40_0100, &phs, LEN)), Err(ElfError::DynamicallyLinked));
        assert_eq!(parse(&build(ET_EXEC, 0x40_0100, &phs, LEN)), Err(ElfError::DynamicallyLinked));
        // Even when its segments are bad: the user learns the real reason.
        phs.push(ph(PT_LOAD, RW, 0, 0x40_0000, 0x300, 0x100));
        assert_eq!(parse(&build(ET_EXEC, 0x40_0100, &phs, LEN)), Err(ElfError::DynamicallyLinked));
    }

    #[test]
    fn segment_errors() {
        let text = ph(PT_LOAD, RX, 0, 0x40_0000, 0x300, 0x300);
        let check = |second: Ph| parse(&build(ET_EXEC, 0x40_0100, &[text, second], LEN));
        let bad = |reason: &str, r: Result<ElfImage, ElfError>| match r {
            Err(ElfError::BadSegment { index: 1, reason: got }) => {
                assert!(got.contains(reason), "{got}")
            }
            other => panic!("{reason}: {other:?}"),
        };
        bad("larger than", check(ph(PT_LOAD, RW, 0x400, 0x40_1400, 0x200, 0x100)));
        bad("beyond the end of the file", check(ph(PT_LOAD, RW, 0x1000, 0x40_1000, 0x101, 0x200)));
        bad("beyond the end of the file", check(ph(PT_LOAD, RW, u64::MAX, 0x40_1fff, 2, 2)));
        bad("user address space", check(ph(PT_LOAD, RW, 0x400, USER_TOP - 0xc00, 0x100, 0x1000)));
        bad("overflows", check(ph(PT_LOAD, RW, 0x400, u64::MAX - 0xbff, 0x100, 0x1000)));
        bad("64 KiB", check(ph(PT_LOAD, RW, 0x400, 0xf400, 0x100, 0x100)));
        let pie = |seg: Ph| {
            parse(&build(ET_DYN, 0x100, &[ph(PT_LOAD, RX, 0, 0, 0x300, 0x300), seg], LEN))
        };
        let pie_img = pie(ph(PT_LOAD, RW, 0x400, 0x1400, 0x100, 0x100)).unwrap();
        assert_eq!(pie_img.with_bias(0), None); // would map page 0
        assert_eq!(pie_img.with_bias(0xf000), None);
        assert!(pie_img.with_bias(USER_MIN).is_some());
        bad("congruent", check(ph(PT_LOAD, RW, 0x400, 0x40_1500, 0x100, 0x100)));
        bad("ascending", check(ph(PT_LOAD, RW, 0x400, 0x3f_0400, 0x100, 0x100)));
        bad("overlaps", check(ph(PT_LOAD, RW, 0x200, 0x40_0200, 0x100, 0x100)));
        bad("shares a page", check(ph(PT_LOAD, RW, 0x400, 0x40_0400, 0x100, 0x100)));
        // Ending exactly at USER_TOP is fine; so is a segment in the next page.
        assert!(check(ph(PT_LOAD, RW, 0x400, USER_TOP - 0xc00, 0x100, 0xc00)).is_ok());
        assert!(check(ph(PT_LOAD, RW, 0x400, 0x40_1400, 0x100, 0x100)).is_ok());
        // No PT_LOAD at all, or only empty ones.
        let none = [ph(PT_GNU_STACK, RW, 0, 0, 0, 0)];
        assert_eq!(parse(&build(ET_EXEC, 0, &none, LEN)), Err(ElfError::NoLoadableSegments));
        let empty = [ph(PT_LOAD, RW, 0, 0x40_0000, 0, 0)];
        assert_eq!(
            parse(&build(ET_EXEC, 0x40_0000, &empty, LEN)),
            Err(ElfError::NoLoadableSegments)
        );
    }

    #[test]
    fn messages_and_errno() {
        let all = [
            ElfError::Truncated,
            ElfError::NotElf,
            ElfError::Not64Bit,
            ElfError::NotLittleEndian,
            ElfError::WrongMachine(183),
            ElfError::NotExecutable(ET_REL),
            ElfError::DynamicallyLinked,
            ElfError::BadProgramHeaders,
            ElfError::BadSegment { index: 3, reason: "it overlaps the previous PT_LOAD segment" },
            ElfError::NoLoadableSegments,
            ElfError::EntryOutsideSegments,
        ];
        for e in all {
            assert_eq!(e.errno(), ENOEXEC);
            assert!(e.to_string().len() > 10);
        }
        assert_eq!(
            ElfError::WrongMachine(183).to_string(),
            "built for AArch64 (e_machine 183), not x86-64"
        );
        assert!(ElfError::DynamicallyLinked.to_string().contains("link with -static"));
        assert!(ElfError::NotExecutable(ET_REL).to_string().contains("relocatable"));
        assert!(ElfError::BadSegment { index: 3, reason: "x" }.to_string().contains("header 3"));
    }

    /// What every `Ok` must satisfy (the module's promises).
    fn check_promises(file: &[u8], img: &ElfImage) {
        assert!(!img.segments.is_empty());
        for (i, s) in img.segments.iter().enumerate() {
            assert!(s.filesz <= s.memsz && s.memsz > 0);
            assert!(s.offset + s.filesz <= file.len() as u64);
            assert!(s.vaddr + s.memsz <= USER_TOP);
            assert!(img.kind == ElfKind::StaticPie || s.vaddr >= USER_MIN);
            assert_eq!(s.offset % PAGE_SIZE, s.vaddr % PAGE_SIZE);
            assert!(s.prot <= 7);
            let _ = s.file_bytes(file);
            if i > 0 {
                assert!(img.segments[i - 1].page_end() <= s.page_start());
            }
        }
        assert!(img.segments.iter().any(|s| s.vaddr <= img.entry && img.entry < s.vaddr + s.memsz));
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        for file in [sample(ET_EXEC, 0x40_0000, false), sample(ET_DYN, 0, true)] {
            check_promises(&file, &parse(&file).unwrap());
            for len in 0..file.len() {
                let r = parse(&file[..len]);
                assert!(r.is_err(), "prefix of {len} bytes accepted");
                if len < 64 + 4 * 56 {
                    assert_eq!(r, Err(ElfError::Truncated), "len {len}");
                }
            }
        }
    }

    #[test]
    fn random_corruption_never_panics() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let samples = [sample(ET_EXEC, 0x40_0000, false), sample(ET_DYN, 0, true)];
        let mut accepted = 0;
        for round in 0..40_000 {
            let mut file = samples[round % 2].clone();
            let header_len = 64 + 5 * 56;
            for _ in 0..1 + next() % 4 {
                let r = next();
                let at = (r % header_len as u64) as usize;
                match (r >> 32) % 4 {
                    0 => file[at] = (r >> 40) as u8,
                    1 => file[at] ^= 1 << ((r >> 40) % 8),
                    2 => file[at] = [0, 0xff, 0x7f, 0x80][(r >> 40) as usize % 4],
                    _ => {
                        // A whole 64-bit field set to an interesting value.
                        let at = at & !7;
                        let v = [0, u64::MAX, USER_TOP, 1 << 63, 0x1000, r >> 8]
                            [(r >> 40) as usize % 6];
                        let end = (at + 8).min(file.len());
                        file[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
                    }
                }
            }
            let cut =
                if next() % 8 == 0 { (next() % file.len() as u64) as usize } else { file.len() };
            let file = &file[..cut];
            if let Ok(img) = parse(file) {
                check_promises(file, &img);
                if let Some(moved) = img.with_bias(0x7000_0000_0000) {
                    check_promises_at(&moved);
                }
                accepted += 1;
            }
        }
        assert!(accepted > 1000, "the fuzzer hardly reached the segment checks ({accepted})");
    }

    fn check_promises_at(img: &ElfImage) {
        for s in &img.segments {
            assert!(s.vaddr >= USER_MIN && s.vaddr + s.memsz <= USER_TOP);
        }
    }

    #[test]
    fn host_binaries() {
        // /bin/ls of a distribution is a dynamically linked PIE.
        if let Ok(file) = std::fs::read("/bin/ls") {
            if file.get(18..20) == Some(&EM_X86_64.to_le_bytes()[..]) {
                assert_eq!(parse(&file), Err(ElfError::DynamicallyLinked));
            }
        }
        // Not an ELF file at all.
        if let Ok(file) = std::fs::read("/etc/hostname") {
            assert_eq!(
                parse(&file).err(),
                Some(if file.is_empty() { ElfError::Truncated } else { ElfError::NotElf })
            );
        }
    }
}
