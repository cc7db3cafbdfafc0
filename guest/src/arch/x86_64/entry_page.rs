//! The user entry page: code mapped read+execute into every address space at
//! [`ENTRY_PAGE_VA`], whose address user programs get as `AT_SYSINFO`.
//!
//! * `gate_int3` — the system-call gate where `syscall` is broken: `int3` (#BP
//!   from ring 3 works on every host).
//! * `gate_syscall` — where `syscall` works.
//! * `probe` — the boot self-test: `syscall` with the probe number, then `int3`.
//!
//! Programs `call` a gate; the kernel returns straight to the caller's return
//! address and pops it (docs/hosts.md rule 2), so nothing after a gate runs.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU8, Ordering};

/// Fixed user address of the entry page (just below the top of user space).
pub const ENTRY_PAGE_VA: u64 = 0x0000_7fff_fffe_e000;
/// The system-call number the probe uses (outside Linux's table).
pub const PROBE_SYSCALL_NR: u64 = 0x5ca1_ab1e;

global_asm!(
    r#"
    .section .rodata.entry_page, "a"
    .balign 4096
    .global entry_page_start
entry_page_start:
gate_int3:
    int3
    ud2
    .balign 16
gate_syscall:
    syscall
    ud2
    .balign 16
probe:
    mov eax, {probe_nr}
    syscall
probe_done:
    int3
    ud2
    .balign 4096
    .global entry_page_end
entry_page_end:
    .set gate_int3_offset, gate_int3 - entry_page_start
    .set gate_syscall_offset, gate_syscall - entry_page_start
    .set probe_offset, probe - entry_page_start
    .set probe_done_offset, probe_done - entry_page_start
    .text
"#,
    probe_nr = const PROBE_SYSCALL_NR,
);

unsafe extern "C" {
    static entry_page_start: [u8; 4096];
}

/// Offsets of the code in the page (fixed by the layout above: each piece is
/// 16-byte aligned; `mov eax, imm32` is 5 bytes and `syscall` 2).
pub const GATE_INT3: u64 = ENTRY_PAGE_VA;
pub const GATE_SYSCALL: u64 = ENTRY_PAGE_VA + 16;
pub const PROBE: u64 = ENTRY_PAGE_VA + 32;
pub const PROBE_AFTER_SYSCALL: u64 = PROBE + 7;

/// Outcome of the boot self-test of the `syscall` instruction (`trap`).
pub static SYSCALL_INSN: AtomicU8 = AtomicU8::new(SYSCALL_UNTESTED);
pub const SYSCALL_UNTESTED: u8 = 0;
pub const SYSCALL_WORKS: u8 = 1;
pub const SYSCALL_BROKEN: u8 = 2;

/// The entry programs use: the `syscall` instruction (LSTAR) where it works,
/// else the int3 gate — or the int3 gate wherever `syscall=int3` asks for it.
/// Where the int3 gate is in use, a program's own `syscall` instructions are
/// either patched by exec (`exec::zpoline`) or end it with SIGSYS.
static SYSCALL_ENTRY: AtomicU8 = AtomicU8::new(ENTRY_INT3);
pub const ENTRY_INSN: u8 = 1;
pub const ENTRY_INT3: u8 = 2;

/// Choose the entry (boot, after the self-test; before any program runs).
pub fn set_syscall_entry(entry: u8) {
    SYSCALL_ENTRY.store(entry, Ordering::Relaxed);
}

/// Whether programs enter the kernel with the `syscall` instruction.
pub fn uses_syscall_insn() -> bool {
    SYSCALL_ENTRY.load(Ordering::Relaxed) == ENTRY_INSN
}

/// The AT_SYSINFO value for programs: the gate of the entry in use.
pub fn syscall_gate() -> u64 {
    if uses_syscall_insn() {
        GATE_SYSCALL
    } else {
        GATE_INT3
    }
}

/// The page's bytes (to copy into the frame mapped into user space).
pub fn contents() -> &'static [u8; 4096] {
    // SAFETY: a 4096-byte, page-aligned read-only blob emitted above.
    unsafe { &entry_page_start }
}
