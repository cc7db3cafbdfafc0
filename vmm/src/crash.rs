//! Crash reports that name the culprit: when the guest kernel dies (an
//! exception it reported, a double fault, a triple fault, an emulation
//! failure) or hangs (a timeout, a CPU locked up with interrupts off), say
//! where each CPU was, in the kernel's own function names, what the last exception each CPU took was (the kernel
//! records it in the counter page on every exception entry, so it survives a
//! guest that can no longer make a hypercall), and decode what the CPU said.
//!
//! Everything here reads guest memory and the vCPU state captured when the
//! vCPUs stopped; nothing runs while the guest is alive.

use std::fmt::Write;

use kvm_bindings::{kvm_regs, kvm_sregs, kvm_vcpu_events, KVM_VCPUEVENT_VALID_TRIPLE_FAULT};
use protocol::boot::{KERNEL_MAP_BASE, PAGE_OFFSET};
use protocol::counters::{CounterPage, CrashRecord};
use protocol::hypercall::exception_name;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::report::{GuestExit, TripleFaultEvent};
use crate::symbols::Symbols;

/// A vCPU's state when it stopped, as KVM reported it.
#[derive(Clone, Copy, Debug)]
pub struct VcpuEnd {
    pub cpu: u32,
    pub regs: kvm_regs,
    pub sregs: kvm_sregs,
    /// `KVM_GET_VCPU_EVENTS` (pending or injected exceptions, and a pending
    /// triple fault where `KVM_CAP_X86_TRIPLE_FAULT_EVENT` is on).
    pub events: Option<kvm_vcpu_events>,
    /// `KVM_GET_MP_STATE` (3 = halted).
    pub mp_state: Option<u32>,
}

/// What the report is made from.
pub struct Inputs<'a> {
    pub exit: &'a GuestExit,
    pub mem: &'a GuestMemoryMmap,
    pub counters: &'a CounterPage,
    pub cpus: usize,
    pub ends: &'a [Option<VcpuEnd>],
    pub symbols: &'a Symbols,
    pub console: &'a str,
    pub triple_fault_event: &'a TripleFaultEvent,
}

/// Lines of the kernel console a report ends with.
const CONSOLE_TAIL: usize = 12;
/// Stack words scanned for code addresses.
const STACK_WORDS: u64 = 96;
/// Code addresses listed from the stack.
const STACK_ENTRIES: usize = 16;

/// The details that follow `GuestExit::describe` for an end that was not the
/// guest's choice; None for a chosen exit status.
pub fn details(i: &Inputs) -> Option<String> {
    let mut s = String::new();
    match i.exit {
        GuestExit::Status(_) => return None,
        GuestExit::Exception(r) => {
            let end = end_of(i, r.cpu);
            let cr3 = r.cr3;
            let _ = writeln!(s, "  at {}", i.symbols.describe(r.rip));
            if r.vector == 8 {
                let _ = writeln!(
                    s,
                    "  (a double fault: the CPU could not deliver an exception; the rip above \
                     is where it arose, architecturally undefined but what CPUs save)"
                );
            }
            if let Some(text) = decode_error_code(i, r.vector, r.error_code, end, cr3) {
                s += &text;
            }
            if r.vector == 14 {
                let _ = writeln!(
                    s,
                    "  page-fault address (cr2) {:#x}: {}",
                    r.cr2,
                    pf_error(r.error_code)
                );
            }
            let _ = writeln!(s, "  rsp {:#x}: {}", r.rsp, i.symbols.describe_data(r.rsp));
            stack_scan(&mut s, i, cr3, r.rsp);
        }
        GuestExit::Crashed { cpu, .. } => {
            let _ = writeln!(s, "  KVM_CAP_X86_TRIPLE_FAULT_EVENT: {}", i.triple_fault_event);
            if let Some(e) = end_of(i, *cpu) {
                describe_end(&mut s, i, e, true);
            }
            page_tables(&mut s, i, *cpu);
        }
        GuestExit::Lockup(l) => {
            if let Some(e) = end_of(i, l.cpu) {
                describe_end(&mut s, i, e, true);
            }
        }
        GuestExit::Timeout(_) | GuestExit::Panic { .. } => {}
    }
    // Where every other CPU was.
    let culprit = match i.exit {
        GuestExit::Exception(r) => Some(r.cpu),
        GuestExit::Crashed { cpu, .. } => Some(*cpu),
        GuestExit::Lockup(l) => Some(l.cpu),
        _ => None,
    };
    for e in i.ends.iter().flatten().filter(|e| Some(e.cpu) != culprit) {
        describe_end(&mut s, i, e, matches!(i.exit, GuestExit::Timeout(_) | GuestExit::Lockup(_)));
    }
    last_exceptions(&mut s, i);
    let tail: Vec<&str> = i.console.lines().rev().take(CONSOLE_TAIL).collect();
    if !tail.is_empty() {
        let _ = writeln!(s, "  kernel console, last {} lines:", tail.len());
        for l in tail.iter().rev() {
            let _ = writeln!(s, "  | {l}");
        }
    }
    Some(s.trim_end().to_string())
}

fn end_of<'a>(i: &'a Inputs, cpu: u32) -> Option<&'a VcpuEnd> {
    i.ends.iter().flatten().find(|e| e.cpu == cpu)
}

/// A vCPU's final state: where it was, and for the crashed one what KVM says.
fn describe_end(s: &mut String, i: &Inputs, e: &VcpuEnd, full: bool) {
    let r = &e.regs;
    let paging = e.sregs.cr0 & (1 << 31) != 0;
    let halted = e.mp_state == Some(kvm_bindings::KVM_MP_STATE_HALTED);
    if !paging {
        let _ = writeln!(
            s,
            "  cpu {}: rip {:#x}, paging off: the host reset this vCPU when it shut down \
             (kvm_amd does); its registers tell nothing, see the records below",
            e.cpu, r.rip
        );
    } else {
        let _ = writeln!(
            s,
            "  cpu {}{}: rip {:#x} {}  rsp {:#x}  cr3 {:#x}  rflags {:#x}",
            e.cpu,
            if halted { " (halted)" } else { "" },
            r.rip,
            i.symbols.describe(r.rip),
            r.rsp,
            e.sregs.cr3,
            r.rflags
        );
        if full && r.rip >= KERNEL_MAP_BASE {
            stack_scan(s, i, e.sregs.cr3, r.rsp);
        }
    }
    if let Some(ev) = &e.events {
        if ev.exception.injected != 0 || ev.exception.pending != 0 {
            let _ = writeln!(
                s,
                "  cpu {}: KVM has exception {} ({}) {} error code {:#x}",
                e.cpu,
                ev.exception.nr,
                exception_name(ev.exception.nr as u32),
                if ev.exception.injected != 0 { "being injected," } else { "pending," },
                ev.exception.error_code
            );
        }
        if ev.flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT != 0 && ev.triple_fault.pending != 0 {
            let _ = writeln!(s, "  cpu {}: KVM has a triple fault pending", e.cpu);
        }
    }
}

/// The kernel's static that holds each CPU's loaded page-table root.
pub const LOADED_ROOT: &str = "guest::arch::x86_64::tlb::LOADED_ROOT";
/// The kernel's IDT.
pub const IDT: &str = "guest::arch::x86_64::cpu::IDT";

/// After a crash (the CPU's own registers may be gone: kvm_amd resets a vCPU
/// that shut down), check the page tables the kernel says `cpu` had loaded:
/// a kernel half that differs from the boot tables, or an IDT or stack that
/// does not translate, is why nothing could be delivered.
fn page_tables(s: &mut String, i: &Inputs, cpu: u32) {
    let Some(slots) = i.symbols.data_address_of(LOADED_ROOT) else { return };
    let at = slots + 8 * cpu as u64 - KERNEL_MAP_BASE;
    let Ok(loaded) = i.mem.read_obj::<u64>(GuestAddress(at)) else { return };
    let boot = protocol::boot::PAGE_TABLES_GPA;
    // 0: the CPU never switched from the tables it booted on.
    let root = if loaded == 0 { boot } else { loaded };
    let entry = |table: u64, k: u64| i.mem.read_obj::<u64>(GuestAddress(table + 8 * k)).ok();
    let differ: Vec<String> = (256..512)
        .filter(|&k| entry(root, k) != entry(boot, k))
        .map(|k| {
            format!(
                "PML4[{k}] {:#x} (boot tables: {:#x})",
                entry(root, k).unwrap_or(0),
                entry(boot, k).unwrap_or(0)
            )
        })
        .collect();
    let _ = write!(s, "  cpu {cpu}'s page tables (root {root:#x}, from {LOADED_ROOT}): ");
    if differ.is_empty() {
        let _ = writeln!(s, "kernel half as at boot");
    } else {
        let _ = writeln!(s, "kernel half CHANGED: {}", differ.join(", "));
    }
    let rec = &i.counters.crash[cpu as usize];
    let mut check = |what: &str, va: u64| {
        if let Err(e) = translate(i.mem, root, va) {
            let _ = writeln!(s, "    {what} {va:#x} does not translate: {e}");
        }
    };
    if let Some(idt) = i.symbols.data_address_of(IDT) {
        check("the IDT at", idt);
        check("the IDT's end at", idt + 0xfff);
    }
    if rec.exceptions > 0 && rec.cs & 3 == 0 {
        check("the last exception's stack at", rec.rsp);
    }
}

/// The crash records of the counter page: every CPU's last exception and
/// double fault.
fn last_exceptions(s: &mut String, i: &Inputs) {
    for (cpu, rec) in i.counters.crash.iter().enumerate().take(i.cpus) {
        if rec.exceptions > 0 {
            let _ = writeln!(s, "  cpu {cpu}: last exception: {}", exception_line(i, rec));
        }
        let disabled = i.counters.cpu[cpu].irqs_while_disabled;
        if disabled > 0 {
            let _ = writeln!(
                s,
                "  cpu {cpu}: {disabled} interrupt(s) arrived while interrupts were disabled \
                 (the host delivered events it must hold back), the last at rip {:#x} {}",
                rec.irq_while_disabled_rip,
                i.symbols.describe(rec.irq_while_disabled_rip)
            );
        }
        if rec.double_faults > 0 {
            let _ = writeln!(
                s,
                "  cpu {cpu}: {} double fault(s), the last at rip {:#x} {} rsp {:#x} ({}) \
                 cr2 {:#x} cr3 {:#x} gs_base {:#x}{}",
                rec.double_faults,
                rec.df_rip,
                i.symbols.describe(rec.df_rip),
                rec.df_rsp,
                i.symbols.describe_data(rec.df_rsp),
                rec.df_cr2,
                rec.df_cr3,
                rec.df_gs_base,
                if rec.df_gs_base < KERNEL_MAP_BASE.min(PAGE_OFFSET) {
                    " (not the kernel's: it ran with the user's GS)"
                } else {
                    ""
                }
            );
        }
    }
}

fn exception_line(i: &Inputs, r: &CrashRecord) -> String {
    let user = r.cs & 3 == 3;
    let mut l = format!(
        "{} (vector {}) from {} mode at rip {:#x}{}, error code {:#x}, rsp {:#x}",
        exception_name(r.vector as u32),
        r.vector,
        if user { "user" } else { "kernel" },
        r.rip,
        if user { String::new() } else { format!(" {}", i.symbols.describe(r.rip)) },
        r.error_code,
        r.rsp
    );
    if r.vector == 14 {
        let _ = write!(l, ", cr2 {:#x}", r.cr2);
    }
    let _ = write!(l, " ({} taken)", r.exceptions);
    l
}

/// A page fault's error code in words.
fn pf_error(ec: u64) -> String {
    let mut w = vec![if ec & 1 != 0 { "protection violation" } else { "page not present" }];
    w.push(if ec & 2 != 0 { "write" } else { "read" });
    w.push(if ec & 4 != 0 { "from user mode" } else { "from kernel mode" });
    if ec & 8 != 0 {
        w.push("reserved bit set in a paging entry");
    }
    if ec & 16 != 0 {
        w.push("instruction fetch");
    }
    w.join(", ")
}

/// Decode a selector-format error code (#TS, #NP, #SS, #GP): which descriptor
/// the CPU was loading, and for an IDT gate, what that gate holds now.
fn decode_error_code(
    i: &Inputs,
    vector: u32,
    ec: u64,
    end: Option<&VcpuEnd>,
    cr3: u64,
) -> Option<String> {
    if !matches!(vector, 10..=13) || ec == 0 {
        return None;
    }
    let mut s = String::new();
    let ext = ec & 1 != 0;
    let idt = ec & 2 != 0;
    let ext_text = if ext { ", during delivery of an external event" } else { "" };
    if !idt {
        let table = if ec & 4 != 0 { "LDT" } else { "GDT" };
        let _ = writeln!(s, "  error code {ec:#x}: {table} selector {:#x}{ext_text}", ec & !7);
        return Some(s);
    }
    // Intel and AMD put the vector in bits 3..; QEMU's TCG puts vector * 16.
    let (v, note) =
        if ec >> 3 <= 255 { (ec >> 3, "") } else { (ec >> 4, " (QEMU's encoding, vector * 16)") };
    let _ = writeln!(
        s,
        "  error code {ec:#x}: IDT gate of vector {v:#x}{note}{ext_text}: the CPU could not \
         deliver vector {v:#x} through the IDT"
    );
    if let Some(e) = end {
        let (base, limit) = (e.sregs.idt.base, e.sregs.idt.limit as u64);
        let at = base + v * 16;
        let _ = write!(s, "  IDT {base:#x} limit {limit:#x}: gate {v:#x} at {at:#x}");
        if v * 16 + 15 > limit {
            let _ = writeln!(s, " is beyond the limit");
            return Some(s);
        }
        match read_virt(i.mem, cr3, at, 16) {
            Ok(b) => {
                let lo = u64::from_le_bytes(b[..8].try_into().unwrap());
                let hi = u64::from_le_bytes(b[8..].try_into().unwrap());
                let _ = writeln!(s, " holds {hi:016x}_{lo:016x} now: {}", gate_text(i, lo, hi));
            }
            Err(e) => {
                let _ = writeln!(s, ": {e}");
            }
        }
    }
    Some(s)
}

/// An IDT gate in words.
fn gate_text(i: &Inputs, lo: u64, hi: u64) -> String {
    let present = lo >> 47 & 1 == 1;
    let kind = lo >> 40 & 0xf;
    let dpl = lo >> 45 & 3;
    let selector = lo >> 16 & 0xffff;
    let ist = lo >> 32 & 7;
    let handler = (lo & 0xffff) | (lo >> 48 & 0xffff) << 16 | (hi & 0xffff_ffff) << 32;
    let kind = match kind {
        0xe => "interrupt gate",
        0xf => "trap gate",
        _ => "not a 64-bit gate",
    };
    format!(
        "{}, {kind}, dpl {dpl}, selector {selector:#x}, ist {ist}, handler {handler:#x} {}",
        if present { "present" } else { "NOT PRESENT" },
        i.symbols.describe(handler)
    )
}

/// List the words on the stack at `rsp` that are addresses inside kernel
/// functions right after a `call`: likely return addresses (the kernel keeps
/// no frame pointers, so stale ones from earlier calls show up too).
fn stack_scan(s: &mut String, i: &Inputs, cr3: u64, rsp: u64) {
    if rsp < KERNEL_MAP_BASE.min(PAGE_OFFSET) {
        return;
    }
    let mut found = Vec::new();
    for k in 0..STACK_WORDS {
        let Ok(b) = read_virt(i.mem, cr3, rsp + 8 * k, 8) else { break };
        let w = u64::from_le_bytes(b.try_into().unwrap());
        if w < KERNEL_MAP_BASE {
            continue;
        }
        if let Some((name, off)) = i.symbols.lookup_code(w) {
            if off > 0 && i.symbols.follows_call(w) {
                found.push(format!("    [rsp+{:#x}] {name}+{off:#x}", 8 * k));
            }
        }
        if found.len() == STACK_ENTRIES {
            break;
        }
    }
    if !found.is_empty() {
        let _ = writeln!(s, "  return addresses on the stack (likely callers, innermost first):");
        for f in found {
            let _ = writeln!(s, "{f}");
        }
    }
}

/// Why a guest-virtual address could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum WalkError {
    NotPresent { level: u32, entry: u64 },
    NotRam(u64),
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotPresent { level, entry } => {
                write!(f, "not mapped (level-{level} entry {entry:#x} not present)")
            }
            Self::NotRam(gpa) => write!(f, "mapped to {gpa:#x}, which is not guest RAM"),
        }
    }
}

/// Translate `gva` with the 4-level page tables at `cr3` in guest memory (what
/// the tables say now, not what a TLB may have held).
pub fn translate(mem: &GuestMemoryMmap, cr3: u64, gva: u64) -> Result<u64, WalkError> {
    const ADDR: u64 = 0x000f_ffff_ffff_f000;
    let mut table = cr3 & ADDR;
    for level in (1..=4u32).rev() {
        let index = (gva >> (12 + 9 * (level - 1))) & 511;
        let entry: u64 =
            mem.read_obj(GuestAddress(table + index * 8)).map_err(|_| WalkError::NotRam(table))?;
        if entry & 1 == 0 {
            return Err(WalkError::NotPresent { level, entry });
        }
        let huge = entry & (1 << 7) != 0 && (level == 2 || level == 3);
        if huge || level == 1 {
            let page = 1u64 << (12 + 9 * (level - 1));
            return Ok((entry & ADDR & !(page - 1)) | (gva & (page - 1)));
        }
        table = entry & ADDR;
    }
    unreachable!("level 1 returns")
}

/// `len` bytes at guest-virtual `gva` (not crossing a page).
fn read_virt(mem: &GuestMemoryMmap, cr3: u64, gva: u64, len: usize) -> Result<Vec<u8>, WalkError> {
    let gpa = translate(mem, cr3, gva)?;
    let mut b = vec![0u8; len];
    mem.read_slice(&mut b, GuestAddress(gpa)).map_err(|_| WalkError::NotRam(gpa))?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem_with_tables() -> GuestMemoryMmap {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 64 << 20)]).unwrap();
        for (gpa, t) in crate::layout::page_tables(64 << 20) {
            crate::pod::write(&mem, gpa, &*t).unwrap();
        }
        mem
    }

    #[test]
    fn walks_the_boot_page_tables() {
        let mem = mem_with_tables();
        let cr3 = protocol::boot::PAGE_TABLES_GPA;
        assert_eq!(translate(&mem, cr3, KERNEL_MAP_BASE + 0x37_1220), Ok(0x37_1220));
        assert_eq!(translate(&mem, cr3, PAGE_OFFSET + 0x123_4567), Ok(0x123_4567));
        assert!(matches!(
            translate(&mem, cr3, 0xdead_b000),
            Err(WalkError::NotPresent { level: 4, .. })
        ));
        // Beyond the 64 MiB of RAM the direct map has no entries.
        assert!(translate(&mem, cr3, PAGE_OFFSET + (1 << 30)).is_err());
    }

    #[test]
    fn error_codes_in_words() {
        assert_eq!(pf_error(0x6), "page not present, write, from user mode");
        assert_eq!(
            pf_error(0x11),
            "protection violation, read, from kernel mode, instruction fetch"
        );
        let mem = mem_with_tables();
        let counters = CounterPage::default();
        let symbols = Symbols::default();
        let exit = GuestExit::Status(0);
        let i = Inputs {
            exit: &exit,
            mem: &mem,
            counters: &counters,
            cpus: 1,
            ends: &[],
            symbols: &symbols,
            console: "",
            triple_fault_event: &TripleFaultEvent::On,
        };
        // Vector 0xec as hardware and as QEMU's TCG encode it.
        let hw = decode_error_code(&i, 13, 0xec << 3 | 2, None, 0).unwrap();
        assert!(hw.contains("IDT gate of vector 0xec:"), "{hw}");
        let qemu = decode_error_code(&i, 13, 0xec2, None, 0).unwrap();
        assert!(qemu.contains("vector 0xec (QEMU's encoding"), "{qemu}");
        let gdt = decode_error_code(&i, 13, 0x29, None, 0).unwrap();
        assert!(gdt.contains("GDT selector 0x28, during delivery of an external event"), "{gdt}");
        assert_eq!(decode_error_code(&i, 13, 0, None, 0), None);
        assert_eq!(decode_error_code(&i, 14, 0x2, None, 0), None);
    }

    #[test]
    fn gates_in_words() {
        let symbols = Symbols::from_elf(crate::DEFAULT_KERNEL);
        let handler = symbols.address_of("timer_entry").expect("timer_entry");
        let lo = (handler & 0xffff) | 0x10 << 16 | 0x8e << 40 | (handler >> 16 & 0xffff) << 48;
        let hi = handler >> 32;
        let mem = mem_with_tables();
        let counters = CounterPage::default();
        let exit = GuestExit::Status(0);
        let i = Inputs {
            exit: &exit,
            mem: &mem,
            counters: &counters,
            cpus: 1,
            ends: &[],
            symbols: &symbols,
            console: "",
            triple_fault_event: &TripleFaultEvent::Unsupported,
        };
        let t = gate_text(&i, lo, hi);
        assert!(t.starts_with("present, interrupt gate, dpl 0, selector 0x10, ist 0"), "{t}");
        assert!(t.ends_with("timer_entry"), "{t}");
        assert!(gate_text(&i, 0, 0).starts_with("NOT PRESENT, not a 64-bit gate"));
    }
}
