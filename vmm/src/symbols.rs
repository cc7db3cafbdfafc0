//! Kernel symbols for crash reports: a guest RIP becomes `function+0xoffset`.
//!
//! The guest kernel is built without debug information but keeps its ELF symbol
//! table (`strip = "debuginfo"` in the `kernel` profile); `object` reads the table and
//! `rustc-demangle` turns Rust's mangled names back into paths. Nothing here runs
//! unless a report needs it. The embedded image (`include_bytes!`) has no
//! alignment, so `object` is built with its `unaligned` feature.

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

/// A table of symbols sorted by address: (start, size, demangled name); size
/// 0 for assembly labels without one.
#[derive(Clone, Debug, Default)]
struct Table(Vec<(u64, u64, String)>);

impl Table {
    fn new(mut syms: Vec<(u64, u64, String)>) -> Self {
        // Sized symbols (functions, objects) before labels at the same address.
        syms.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        syms.dedup_by_key(|s| s.0);
        Self(syms)
    }

    /// The symbol containing `addr` and the offset into it. A symbol with a
    /// size contains `[start, start + size)`; a label without one reaches up to
    /// the next symbol (and never far).
    fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.0.partition_point(|s| s.0 <= addr).checked_sub(1)?;
        let (start, size, name) = &self.0[i];
        let off = addr - start;
        let inside = if *size > 0 {
            off < *size
        } else {
            self.0.get(i + 1).is_none_or(|n| addr < n.0) && off < 0x1000
        };
        inside.then_some((name.as_str(), off))
    }
}

/// The kernel's symbols: code (functions and assembly labels) and data.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    code: Table,
    data: Table,
    /// The executable sections' bytes, by address (to tell return addresses).
    text: Vec<(u64, Vec<u8>)>,
}

impl Symbols {
    /// The symbols of the ELF `image` (none if it has no symbol table or does
    /// not parse: a report then shows bare addresses).
    pub fn from_elf(image: &[u8]) -> Self {
        let Ok(file) = object::File::parse(image) else { return Self::default() };
        let (mut code, mut data) = (Vec::new(), Vec::new());
        for s in file.symbols() {
            let is_code = match s.kind() {
                SymbolKind::Text | SymbolKind::Label | SymbolKind::Unknown => true,
                SymbolKind::Data => false,
                _ => continue,
            };
            let Ok(name) = s.name() else { continue };
            if s.address() == 0
                || s.section_index().is_none()
                || name.is_empty()
                || name.starts_with(".L")
                || name.starts_with('$')
            {
                continue;
            }
            let entry = (s.address(), s.size(), format!("{:#}", rustc_demangle::demangle(name)));
            if is_code {
                code.push(entry);
            } else {
                data.push(entry);
            }
        }
        let text = file
            .sections()
            .filter(|sec| sec.kind() == object::SectionKind::Text)
            .filter_map(|sec| Some((sec.address(), sec.data().ok()?.to_vec())))
            .collect();
        Self { code: Table::new(code), data: Table::new(data), text }
    }

    /// The kernel's code bytes from `addr` to the end of its section.
    pub fn code_from(&self, addr: u64) -> Option<&[u8]> {
        let (base, bytes) =
            self.text.iter().find(|(b, d)| addr >= *b && addr < b + d.len() as u64)?;
        Some(&bytes[(addr - base) as usize..])
    }

    /// The code symbols (functions and assembly labels) in address order:
    /// start, size (0 for a label) and name.
    pub fn code_symbols(&self) -> impl Iterator<Item = (u64, u64, &str)> {
        self.code.0.iter().map(|(a, n, s)| (*a, *n, s.as_str()))
    }

    /// The kernel's code bytes `[addr - n, addr)`, if they are in its image.
    fn code_before(&self, addr: u64, n: u64) -> Option<&[u8]> {
        let (base, bytes) =
            self.text.iter().find(|(b, d)| addr > *b && addr <= b + d.len() as u64)?;
        let end = (addr - base) as usize;
        bytes.get(end.checked_sub(n as usize)?..end)
    }

    /// Whether `addr` directly follows a `call` in the kernel's code: what a
    /// return address on a stack looks like (`call rel32`, or `call` through a
    /// register or memory operand, with or without REX).
    pub fn follows_call(&self, addr: u64) -> bool {
        // FF /2 with a ModRM byte (and SIB, displacement) of `len` bytes.
        let indirect = |len: u64| {
            let Some(b) = self.code_before(addr, len) else { return false };
            let at = usize::from(b[0] & 0xf0 == 0x40 && b[0] != 0x40);
            let (op, modrm) = (b[at], b.get(at + 1).copied().unwrap_or(0));
            if op != 0xff || (modrm >> 3) & 7 != 2 {
                return false;
            }
            let (md, rm) = (modrm >> 6, modrm & 7);
            let sib = usize::from(md != 3 && rm == 4);
            let disp = match (md, rm) {
                (0, 5) => 4,
                (0, _) if sib == 1 && b.get(at + 2).is_some_and(|s| s & 7 == 5) => 4,
                (1, _) => 1,
                (2, _) => 4,
                _ => 0,
            };
            at + 2 + sib + disp == len as usize
        };
        self.code_before(addr, 5).is_some_and(|b| b[0] == 0xe8) || (2..=8).any(indirect)
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.code.0.is_empty()
    }

    /// The function (or assembly label) containing `addr`, and the offset.
    pub fn lookup_code(&self, addr: u64) -> Option<(&str, u64)> {
        self.code.lookup(addr)
    }

    /// A code address as `name+0xoff` (the bare address when no symbol contains it).
    pub fn describe(&self, addr: u64) -> String {
        match self.code.lookup(addr) {
            Some((name, 0)) => name.to_string(),
            Some((name, off)) => format!("{name}+{off:#x}"),
            None => format!("{addr:#x}"),
        }
    }

    /// A data address (a stack pointer, say) as `name+0xoff`, or what region
    /// of the guest's address space it is in.
    pub fn describe_data(&self, addr: u64) -> String {
        use protocol::boot::{KERNEL_MAP_BASE, PAGE_OFFSET};
        match self.data.lookup(addr) {
            Some((name, off)) => format!("{name}+{off:#x}"),
            None if addr >= KERNEL_MAP_BASE => "the kernel image".into(),
            None if addr >= PAGE_OFFSET => "the direct map (heap, kernel stacks, frames)".into(),
            None if addr >= 1 << 47 => "not a canonical kernel address".into(),
            None => "a user address".into(),
        }
    }

    /// The address of the function or label named `name` (demangled, no hash).
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.code.0.iter().find(|s| s.2 == name).map(|s| s.0)
    }

    /// The address of the static named `name` (demangled, no hash).
    pub fn data_address_of(&self, name: &str) -> Option<u64> {
        self.data.0.iter().find(|s| s.2 == name).map(|s| s.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{IDT, LOADED_ROOT};

    fn kernel() -> Symbols {
        Symbols::from_elf(crate::DEFAULT_KERNEL)
    }

    #[test]
    fn the_embedded_kernel_keeps_its_symbol_table() {
        let s = kernel();
        assert!(!s.is_empty(), "the kernel ELF has no symbols (stripped?)");
        // A Rust function, demangled without its hash.
        let p = s.address_of("guest::sched::core::sched_fork").expect("sched_fork");
        assert_eq!(s.describe(p), "guest::sched::core::sched_fork");
        // The trap entry's Rust half (arch's generic `do_trap` instantiated for
        // the kernel by `kernel!`, under the name the assembly calls) and an
        // assembly label.
        let f = s.address_of("__kernel_trap").expect("__kernel_trap");
        assert_eq!(s.describe(f), "__kernel_trap");
        assert_eq!(s.describe(f + 5), "__kernel_trap+0x5");
        let t = s.address_of("trap_return").expect("the trap_return label");
        assert!(s.describe(t + 1).starts_with("trap_return+0x1"), "{}", s.describe(t + 1));
        // trap_common calls __kernel_trap right before trap_return: a return address.
        assert!(s.follows_call(t));
        assert!(!s.follows_call(f + 1), "inside __kernel_trap's prologue");
    }

    #[test]
    fn addresses_outside_every_symbol_stay_bare() {
        let s = kernel();
        assert_eq!(s.describe(0x1234), "0x1234");
        assert_eq!(s.describe(u64::MAX), format!("{:#x}", u64::MAX));
        assert!(Symbols::from_elf(b"not an elf").is_empty());
        let boot_stacks = s.data.0.iter().find(|d| d.2 == "BOOT_STACKS").expect("BOOT_STACKS").0;
        assert_eq!(s.describe_data(boot_stacks + 0x3980), "BOOT_STACKS+0x3980");
        assert!(s.data_address_of(LOADED_ROOT).is_some(), "crash.rs reads it");
        assert!(s.data_address_of(IDT).is_some(), "crash.rs reads it");
        assert_eq!(s.describe_data(0xdead_b000), "a user address");
        assert_eq!(Symbols::from_elf(b"").describe(0xffff_ffff_8020_0000), "0xffffffff80200000");
    }
}
