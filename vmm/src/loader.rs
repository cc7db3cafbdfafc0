//! The kernel loader: checks an ELF image thoroughly (so that a bad file gets a
//! message naming what is wrong) and loads it with linux-loader.

use std::io::Cursor;

use linux_loader::loader::{elf::Elf, KernelLoader};
use protocol::boot::{KERNEL_MAP_BASE, KERNEL_MAP_SIZE, PAGE_TABLES_END};
use vm_memory::GuestMemoryMmap;

use crate::error::{Error, Result};

/// The guest kernel built by `build.rs` and embedded in this binary.
pub static DEFAULT_KERNEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kernel"));

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
use uapi::elf::{EM_X86_64, ET_EXEC, PT_LOAD};

/// What the checks learned about a kernel image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelInfo {
    pub entry: u64,
    /// Physical range covered by its loadable segments (bss included).
    pub phys_start: u64,
    pub phys_end: u64,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn machine_name(m: u16) -> &'static str {
    match m {
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        40 => "ARM",
        62 => "x86-64",
        183 => "AArch64",
        243 => "RISC-V",
        _ => "unknown",
    }
}

/// Check that `image` is a static x86-64 ELF executable linked for this VMM's
/// kernel layout. `what` names the image in messages.
pub fn inspect(what: &str, image: &[u8]) -> Result<KernelInfo> {
    let bad = |reason: String| Error::KernelElf { what: what.to_string(), reason };
    if image.len() < 4 || &image[..4] != b"\x7fELF" {
        return Err(bad("not an ELF file (no \\x7fELF magic)".into()));
    }
    if image.len() < EHDR_SIZE {
        return Err(bad(format!(
            "truncated: {} bytes, shorter than the 64-byte ELF header",
            image.len()
        )));
    }
    if image[4] != 2 {
        return Err(bad("not a 64-bit ELF (ELFCLASS64 needed)".into()));
    }
    if image[5] != 1 {
        return Err(bad("not little-endian".into()));
    }
    let machine = u16_at(image, 18);
    if machine != EM_X86_64 {
        return Err(bad(format!(
            "built for {} (e_machine {machine}), not x86-64",
            machine_name(machine)
        )));
    }
    let etype = u16_at(image, 16);
    if etype != ET_EXEC {
        return Err(bad(format!("not a static executable (e_type {etype}, need ET_EXEC)")));
    }
    let entry = u64_at(image, 24);
    let phoff = u64_at(image, 32);
    let phentsize = u16_at(image, 54) as usize;
    let phnum = u16_at(image, 56) as usize;
    if phentsize != PHDR_SIZE {
        return Err(bad(format!("program header size {phentsize}, expected {PHDR_SIZE}")));
    }
    let ph_end = phoff.checked_add((phnum * PHDR_SIZE) as u64);
    if ph_end.is_none_or(|e| e > image.len() as u64) {
        return Err(bad(format!(
            "truncated: {phnum} program headers at offset {phoff} extend beyond the file's {} bytes",
            image.len()
        )));
    }
    let (mut start, mut end, mut entry_ok, mut loads) = (u64::MAX, 0u64, false, 0);
    for i in 0..phnum {
        let ph = &image[phoff as usize + i * PHDR_SIZE..][..PHDR_SIZE];
        if u32_at(ph, 0) != PT_LOAD {
            continue;
        }
        loads += 1;
        let (offset, vaddr, paddr) = (u64_at(ph, 8), u64_at(ph, 16), u64_at(ph, 24));
        let (filesz, memsz) = (u64_at(ph, 32), u64_at(ph, 40));
        if offset.checked_add(filesz).is_none_or(|e| e > image.len() as u64) {
            return Err(bad(format!(
                "truncated: segment {i} (file bytes {offset:#x}..{:#x}) extends beyond the file's {} bytes",
                offset.saturating_add(filesz),
                image.len()
            )));
        }
        let seg_end = paddr.saturating_add(memsz);
        if paddr < PAGE_TABLES_END || seg_end > KERNEL_MAP_SIZE || memsz < filesz {
            return Err(bad(format!(
                "segment {i} at physical {paddr:#x}..{seg_end:#x} is outside the kernel's range \
                 {PAGE_TABLES_END:#x}..{KERNEL_MAP_SIZE:#x} (is it linked at {KERNEL_MAP_BASE:#x}?)"
            )));
        }
        start = start.min(paddr);
        end = end.max(seg_end);
        entry_ok |= entry >= vaddr && entry < vaddr + memsz;
    }
    if loads == 0 {
        return Err(bad("no loadable segments".into()));
    }
    if !entry_ok {
        return Err(bad(format!("entry point {entry:#x} is not inside a loadable segment")));
    }
    Ok(KernelInfo { entry, phys_start: start, phys_end: end })
}

/// Copy the loadable segments into guest memory (the caller checked the sizes).
pub fn load(what: &str, image: &[u8], mem: &GuestMemoryMmap) -> Result<()> {
    Elf::load(mem, None, &mut Cursor::new(image), None)
        .map(|_| ())
        .map_err(|e| Error::KernelElf { what: what.to_string(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF: header plus one PT_LOAD of `filesz` bytes at physical 2 MiB.
    pub fn tiny_elf(machine: u16, filesz: u64) -> Vec<u8> {
        let mut b = vec![0u8; 0x1000];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[24..32].copy_from_slice(&(KERNEL_MAP_BASE + 0x20_0000).to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[52..54].copy_from_slice(&64u16.to_le_bytes());
        b[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = &mut b[64..64 + PHDR_SIZE];
        ph[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
        ph[8..16].copy_from_slice(&0x100u64.to_le_bytes());
        ph[16..24].copy_from_slice(&(KERNEL_MAP_BASE + 0x20_0000).to_le_bytes());
        ph[24..32].copy_from_slice(&0x20_0000u64.to_le_bytes());
        ph[32..40].copy_from_slice(&filesz.to_le_bytes());
        ph[40..48].copy_from_slice(&(filesz + 0x1000).to_le_bytes());
        b
    }

    fn reason(image: &[u8]) -> String {
        inspect("k", image).unwrap_err().to_string()
    }

    #[test]
    fn accepts_a_good_image() {
        let info = inspect("k", &tiny_elf(EM_X86_64, 0x100)).unwrap();
        assert_eq!(info.phys_start, 0x20_0000);
        assert_eq!(info.phys_end, 0x20_1100);
    }

    #[test]
    fn names_each_defect() {
        assert!(reason(b"#!/bin/sh\n").contains("not an ELF file"));
        assert!(reason(&tiny_elf(EM_X86_64, 0x100)[..40]).contains("truncated"));
        assert!(reason(&tiny_elf(183, 0x100)).contains("built for AArch64"));
        assert!(reason(&tiny_elf(EM_X86_64, 0x10_0000)).contains("segment 0"));
        let mut pie = tiny_elf(EM_X86_64, 0x100);
        pie[16] = 3;
        assert!(reason(&pie).contains("ET_EXEC"));
        let mut c32 = tiny_elf(EM_X86_64, 0x100);
        c32[4] = 1;
        assert!(reason(&c32).contains("64-bit"));
    }
}
