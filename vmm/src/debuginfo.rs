//! What the kernel's ELF image tells the profiler (`profile`): how to find a
//! frame's caller at any instruction ([`Unwinder`]), and which functions,
//! inlined ones included, an address belongs to ([`Symbolizer`]).
//!
//! The kernel is built with limited DWARF (`debug = "limited"` in the `kernel`
//! profile: functions and line tables, no variables or types), which brings the
//! call-frame information of every compiled function (`.debug_frame`) and the
//! inlining tree with each function's full path. None of it is loaded into the
//! guest (no `PT_LOAD` covers it) and the code is the same as without it (the
//! disassemblies differ only in the order of functions).
//!
//! - Unwinding uses the call-frame information, read with `gimli` into one
//!   sorted table of rows at startup: for each instruction range, where the
//!   canonical frame address (CFA) is (`rsp` or `rbp` plus an offset), where the
//!   return address and the caller's `rbp` are saved. That is exact at every
//!   instruction, prologues and epilogues included, and needs no frame
//!   pointers. The kernel's few assembly routines have no call-frame
//!   information; their rows come from decoding them (`iced-x86`) and adding
//!   up pushes and pops from the routine's label. A return address is believed
//!   only if it directly follows a `call` in the kernel's code
//!   (`Symbols::follows_call`), and each frame must lie
//!   above the last: so an entry stub, whose stack holds a trap frame rather than
//!   a return address, ends the walk.
//! - Symbolizing uses `addr2line` over the DWARF: an address becomes the chain
//!   of functions it is in, outermost first, with the functions LTO inlined
//!   into others (which the ELF symbol table does not show: most of the kernel
//!   is inlined into a few hundred symbols; `copy_process`, for one, is inlined
//!   into `kernel_clone_from`). Addresses without DWARF (the assembly) fall
//!   back to the ELF symbol table as the crash reports read it (`symbols`).
//!
//! What this adds to `symbols` (the ELF symbol table, which crash reports
//! need and which survives without DWARF): the call-frame information (exact
//! unwinding at every instruction, no frame pointers) and the inlining tree.

use std::collections::HashMap;

use gimli::{
    BaseAddresses, CfaRule, DebugFrame, EndianSlice, LittleEndian, Register, RegisterRule,
    UnwindContext, UnwindSection, X86_64,
};
use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind};
use object::{Object, ObjectSection};

use crate::symbols::Symbols;

/// Frames deeper than this are not followed (a kernel stack is 16 KiB).
pub const MAX_DEPTH: usize = 64;

/// The register a canonical frame address is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Rsp,
    Rbp,
}

/// How to find the caller's frame at one instruction: CFA = `base + cfa`, the
/// return address at `CFA + ra`, the caller's `rbp` at `CFA + rbp` (or still in
/// `rbp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRule {
    pub base: Base,
    pub cfa: i64,
    pub ra: i64,
    pub rbp: Option<i64>,
}

impl FrameRule {
    /// A routine that has pushed `depth` bytes since it was called.
    fn frameless(depth: i64) -> Self {
        Self { base: Base::Rsp, cfa: depth + 8, ra: -8, rbp: None }
    }
}

/// The registers a walk starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartRegs {
    pub rip: u64,
    pub rsp: u64,
    pub rbp: u64,
}

/// The kernel's stack unwinder: built once per VM, shared by the vCPU threads.
#[derive(Debug, Default)]
pub struct Unwinder {
    /// (start, end, rule), sorted and disjoint.
    rows: Vec<(u64, u64, FrameRule)>,
    /// The ELF symbol table and code (to name labels, tell return addresses).
    symbols: Symbols,
}

fn cfi_error(e: gimli::Error) -> String {
    format!("the kernel's call-frame information does not parse: {e}")
}

/// The sections of an ELF image, for gimli.
fn section<'a>(file: &object::File<'a>, name: &str) -> &'a [u8] {
    file.section_by_name(name).and_then(|s| s.data().ok()).unwrap_or(&[])
}

impl Unwinder {
    /// The unwinder of the kernel ELF `image`. Errors name what is missing.
    pub fn new(image: &[u8]) -> Result<Self, String> {
        let file = object::File::parse(image).map_err(|e| format!("not an ELF image: {e}"))?;
        let symbols = Symbols::from_elf(image);
        let frame_data = section(&file, ".debug_frame");
        if frame_data.is_empty() {
            return Err("the kernel has no call-frame information (.debug_frame): build it with \
                        debug = \"limited\" (or more) and without stripping"
                .into());
        }
        let mut rows = cfi_rows(frame_data)?;
        rows.sort_by_key(|r| r.0);
        let mut u = Self { rows, symbols };
        u.add_assembly_rows();
        u.rows.sort_by_key(|r| r.0);
        Ok(u)
    }

    /// The rule at `pc`, if any code covers it.
    pub fn rule(&self, pc: u64) -> Option<FrameRule> {
        let i = self.rows.partition_point(|r| r.0 <= pc).checked_sub(1)?;
        let (start, end, rule) = self.rows[i];
        (start <= pc && pc < end).then_some(rule)
    }

    /// Whether `addr` directly follows a `call` in the kernel's code.
    pub fn is_return_site(&self, addr: u64) -> bool {
        self.symbols.follows_call(addr)
    }

    /// The address of the code symbol named `name` (demangled, no hash).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.address_of(name)
    }

    /// The kernel's code bytes from `addr` to the end of its section.
    fn code_at(&self, addr: u64) -> Option<&[u8]> {
        self.symbols.code_from(addr)
    }

    /// The instructions of an entry stub at `from` up to and including its
    /// jump to `to` (at most 16): their addresses.
    pub fn stub_instructions(&self, from: u64, to: u64) -> Option<Vec<u64>> {
        let mut d = Decoder::with_ip(64, self.code_at(from)?, from, DecoderOptions::NONE);
        let mut out = Vec::new();
        let mut insn = Instruction::default();
        while d.can_decode() && out.len() < 16 {
            d.decode_out(&mut insn);
            if insn.is_invalid() {
                return None;
            }
            out.push(insn.ip());
            if insn.mnemonic() == Mnemonic::Jmp {
                return (insn.near_branch_target() == to).then_some(out);
            }
        }
        None
    }

    /// Walk the stack from `regs`: the leaf's address, then each caller's
    /// return address less one (an address inside its `call`, which is what
    /// symbolizes as the caller), innermost first, into `out`. `read` reads
    /// a 64-bit word of the kernel's memory by virtual address.
    pub fn unwind(&self, regs: StartRegs, read: impl Fn(u64) -> Option<u64>, out: &mut Vec<u64>) {
        out.clear();
        out.push(regs.rip);
        let (mut pc, mut rsp, mut rbp) = (regs.rip, regs.rsp, regs.rbp);
        while out.len() < MAX_DEPTH {
            let Some(rule) = self.rule(pc) else { break };
            let base = match rule.base {
                Base::Rsp => rsp,
                Base::Rbp => rbp,
            };
            let cfa = base.wrapping_add_signed(rule.cfa);
            // The caller's frame lies above this one, within a kernel stack.
            if cfa <= rsp || cfa - rsp > 1 << 20 {
                break;
            }
            let Some(ra) = read(cfa.wrapping_add_signed(rule.ra)) else { break };
            if !self.is_return_site(ra) {
                break;
            }
            if let Some(off) = rule.rbp {
                match read(cfa.wrapping_add_signed(off)) {
                    Some(v) => rbp = v,
                    None => break,
                }
            }
            rsp = cfa;
            pc = ra - 1;
            out.push(pc);
        }
    }

    /// Rows for the code no call-frame information covers (the assembly
    /// routines): decode each from its label, adding up what it pushed.
    fn add_assembly_rows(&mut self) {
        let mut extra = Vec::new();
        let starts: Vec<u64> = self.symbols.code_symbols().map(|s| s.0).collect();
        for (i, &start) in starts.iter().enumerate() {
            if self.rule(start).is_some() {
                continue;
            }
            // Up to the next symbol or the next covered code.
            let next_sym = starts.get(i + 1).copied().unwrap_or(u64::MAX);
            let next_row = self.rows.iter().map(|r| r.0).find(|&s| s > start);
            let end = next_sym.min(next_row.unwrap_or(u64::MAX));
            let Some(code) = self.code_at(start) else { continue };
            let len = code.len().min(end.saturating_sub(start) as usize);
            let mut d = Decoder::with_ip(64, &code[..len], start, DecoderOptions::NONE);
            let mut insn = Instruction::default();
            let mut depth = 0i64;
            while d.can_decode() {
                d.decode_out(&mut insn);
                if insn.is_invalid() {
                    break;
                }
                extra.push((insn.ip(), insn.next_ip(), FrameRule::frameless(depth)));
                depth += stack_change(&insn);
            }
        }
        self.rows.extend(extra);
    }
}

/// What an instruction does to the stack depth of a routine that keeps no
/// frame: bytes pushed, negative when popped or released.
fn stack_change(insn: &Instruction) -> i64 {
    let rsp_imm = || {
        let on_rsp = insn.op0_kind() == OpKind::Register
            && insn.op0_register() == iced_x86::Register::RSP
            && matches!(insn.op1_kind(), OpKind::Immediate8to64 | OpKind::Immediate32to64);
        if on_rsp {
            insn.immediate(1) as i64
        } else {
            0
        }
    };
    match insn.mnemonic() {
        Mnemonic::Push | Mnemonic::Pushfq => 8,
        Mnemonic::Pop | Mnemonic::Popfq => -8,
        Mnemonic::Sub => rsp_imm(),
        Mnemonic::Add => -rsp_imm(),
        _ => 0,
    }
}

/// Every row of the call-frame information in `.debug_frame`, as
/// (start, end, rule); rows whose CFA is not `rsp`/`rbp` plus an offset, or
/// whose return address is not saved at an offset from it, are left out (a
/// walk stops there).
fn cfi_rows(data: &[u8]) -> Result<Vec<(u64, u64, FrameRule)>, String> {
    let mut frame = DebugFrame::new(data, LittleEndian);
    frame.set_address_size(8);
    let bases = BaseAddresses::default();
    let mut ctx = UnwindContext::new();
    let mut rows = Vec::new();
    let mut entries = frame.entries(&bases);
    while let Some(entry) = entries.next().map_err(cfi_error)? {
        let gimli::CieOrFde::Fde(partial) = entry else { continue };
        let fde = partial.parse(DebugFrame::cie_from_offset).map_err(cfi_error)?;
        let mut table = fde.rows(&frame, &bases, &mut ctx).map_err(cfi_error)?;
        while let Some(row) = table.next_row().map_err(cfi_error)? {
            let CfaRule::RegisterAndOffset { register, offset } = *row.cfa() else { continue };
            let base = match register {
                X86_64::RSP => Base::Rsp,
                X86_64::RBP => Base::Rbp,
                _ => continue,
            };
            let saved = |r: Register| match row.register(r) {
                Some(RegisterRule::Offset(o)) => Some(Some(o)),
                None | Some(RegisterRule::SameValue) | Some(RegisterRule::Undefined) => Some(None),
                Some(_) => None,
            };
            let (Some(Some(ra)), Some(rbp)) = (saved(X86_64::RA), saved(X86_64::RBP)) else {
                continue;
            };
            let rule = FrameRule { base, cfa: offset, ra, rbp };
            rows.push((row.start_address(), row.end_address(), rule));
        }
    }
    Ok(rows)
}

/// Turns kernel addresses into function names (inlined functions included).
pub struct Symbolizer<'a> {
    dwarf: Option<addr2line::Context<EndianSlice<'a, LittleEndian>>>,
    symbols: Symbols,
    cache: HashMap<u64, Vec<String>>,
}

impl<'a> Symbolizer<'a> {
    /// The symbolizer of the kernel ELF `image` (bare addresses where it has
    /// neither DWARF nor symbols).
    pub fn new(image: &'a [u8]) -> Self {
        let Ok(file) = object::File::parse(image) else {
            return Self { dwarf: None, symbols: Symbols::default(), cache: HashMap::new() };
        };
        let load = |id: gimli::SectionId| -> Result<_, gimli::Error> {
            Ok(EndianSlice::new(section(&file, id.name()), LittleEndian))
        };
        let dwarf =
            gimli::Dwarf::load(load).ok().and_then(|d| addr2line::Context::from_dwarf(d).ok());
        Self { dwarf, symbols: Symbols::from_elf(image), cache: HashMap::new() }
    }

    /// The functions `addr` is in, outermost first: the function the compiler
    /// emitted, then each one inlined into it down to the innermost.
    pub fn frames(&mut self, addr: u64) -> &[String] {
        if !self.cache.contains_key(&addr) {
            let names = self.lookup(addr);
            self.cache.insert(addr, names);
        }
        &self.cache[&addr]
    }

    fn lookup(&self, addr: u64) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(ctx) = &self.dwarf {
            if let Ok(mut frames) = ctx.find_frames(addr).skip_all_loads() {
                while let Ok(Some(frame)) = frames.next() {
                    let Some(f) = frame.function else { continue };
                    if let Ok(name) = f.demangle() {
                        names.push(name.into_owned());
                    }
                }
            }
        }
        if names.is_empty() {
            names.push(match self.symbols.lookup_code(addr) {
                Some((name, _)) => name.to_string(),
                None => format!("{addr:#x}"),
            });
        }
        names.reverse();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::DEFAULT_KERNEL;

    #[test]
    fn the_embedded_kernel_has_call_frame_information_and_line_tables() {
        let u = Unwinder::new(DEFAULT_KERNEL).expect("an unwinder for the embedded kernel");
        assert!(u.rows.len() > 1000, "{} rows", u.rows.len());
        // A Rust function's first instruction: the return address on top (the
        // trap entry's Rust half: arch's generic `do_trap` instantiated for the
        // kernel by `kernel!` under the name the assembly calls).
        let f = u.symbol("__kernel_trap").expect("__kernel_trap");
        assert_eq!(u.rule(f), Some(FrameRule { base: Base::Rsp, cfa: 8, ra: -8, rbp: None }));
        // An assembly routine: no CFI, rows from decoding, depth growing with pushes.
        let t = u.symbol("trap_common").expect("trap_common");
        assert_eq!(u.rule(t), Some(FrameRule::frameless(0)));
        let s = u.symbol("switch_to_asm").expect("switch_to_asm");
        // push rbp is one byte; after it the depth is 8.
        assert_eq!(u.rule(s + 1), Some(FrameRule::frameless(8)));

        let mut sym = Symbolizer::new(DEFAULT_KERNEL);
        let names = sym.frames(f).to_vec();
        assert!(names.last().is_some_and(|n| n.ends_with("__kernel_trap")), "{names:?}");
        assert_eq!(sym.frames(t), ["trap_common"]);
        assert_eq!(sym.frames(0x1234), ["0x1234"]);
    }

    #[test]
    fn inlined_functions_are_named() {
        // kernel_clone_from has copy_process inlined into it (LTO): some
        // address inside it symbolizes to a chain that names copy_process.
        let u = Unwinder::new(DEFAULT_KERNEL).unwrap();
        let f = u.symbol("guest::process::fork::kernel_clone_from").expect("kernel_clone_from");
        let mut sym = Symbolizer::new(DEFAULT_KERNEL);
        let found = (f..f + 0x2000).any(|a| {
            let names = sym.frames(a);
            names.first().is_some_and(|n| n == "guest::process::fork::kernel_clone_from")
                && names.iter().any(|n| n == "guest::process::fork::copy_process")
        });
        assert!(found, "copy_process is not among the inlined frames of kernel_clone_from");
    }

    #[test]
    fn stubs_decode_up_to_their_jump() {
        let u = Unwinder::new(DEFAULT_KERNEL).unwrap();
        let tc = u.symbol("trap_common").unwrap();
        // #BP has no error code: push 0, push 3, jmp; #PF pushes only its vector.
        let bp = u.symbol("exc_stub_3").expect("exc_stub_3");
        assert_eq!(u.stub_instructions(bp, tc).map(|v| v.len()), Some(3));
        let pf = u.symbol("exc_stub_14").expect("exc_stub_14");
        assert_eq!(u.stub_instructions(pf, tc).map(|v| v.len()), Some(2));
        assert_eq!(u.stub_instructions(pf, tc + 1), None);
    }

    #[test]
    fn a_walk_stops_at_what_is_not_a_return_address() {
        let u = Unwinder::new(DEFAULT_KERNEL).unwrap();
        let f = u.symbol("__kernel_trap").unwrap();
        let tr = u.symbol("trap_return").expect("trap_return");
        // trap_common calls __kernel_trap right before trap_return.
        let ret = tr;
        assert!(u.is_return_site(ret));
        // At __kernel_trap's first instruction, [rsp] is the return address.
        let stack = HashMap::from([(0x1000u64, ret), (0x1008, 7)]);
        let read = |a: u64| stack.get(&a).copied();
        let mut out = Vec::new();
        u.unwind(StartRegs { rip: f, rsp: 0x1000, rbp: 0 }, read, &mut out);
        assert_eq!(out[..2], [f, ret - 1]);
        // A leaf whose [rsp] is no return address: the leaf alone.
        let stack = HashMap::from([(0x1000u64, 42u64)]);
        u.unwind(StartRegs { rip: f, rsp: 0x1000, rbp: 0 }, |a| stack.get(&a).copied(), &mut out);
        assert_eq!(out, [f]);
    }
}
