//! Deliberate kernel faults, selected on the kernel command line, proving that
//! exceptions are reported with their vector and the exact faulting RIP.

use core::arch::global_asm;

use crate::cmdline::FaultKind;

/// Address the #PF trigger reads: canonical, lower half, never mapped in the kernel.
pub const UNMAPPED_ADDRESS: u64 = 0x0000_dead_b000;
/// A non-canonical address: accessing it raises #GP.
pub const NONCANONICAL_ADDRESS: u64 = 0x8000_0000_0000_0000;

global_asm!(
    r#"
    .text
    .global fault_ud_insn, fault_pf_insn, fault_gp_insn, fault_de_insn, fault_df_insn
    .global fault_gs_insn, fault_lockup_insn, fault_halt_insn
fault_ud_insn:
    ud2
fault_pf_insn:
    mov rax, [rdi]
    ret
fault_gp_insn:
    mov rax, [rdi]
    ret
fault_df_insn:
    mov rsp, rdi
    push rax
    ud2
fault_gs_insn:
    cli
    swapgs
    ud2
fault_lockup_insn:
    cli
1:  pause
    jmp 1b
fault_halt_insn:
    cli
2:  hlt
    jmp 2b
fault_de_insn:
    xor edx, edx
    xor ecx, ecx
    mov eax, 1
    div ecx
    ret
"#
);

unsafe extern "C" {
    fn fault_ud_insn();
    fn fault_pf_insn(addr: u64);
    fn fault_gp_insn(addr: u64);
    fn fault_de_insn();
    fn fault_df_insn(stack: u64) -> !;
    fn fault_gs_insn();
    fn fault_lockup_insn() -> !;
    fn fault_halt_insn() -> !;
}

/// Set by `fault=tf`: the next kernel exception's handler breaks its stack.
static TRIPLE_FAULT_ARMED: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// The RIP the exception for `kind` will report, and the faulting address (CR2)
/// where there is one.
pub fn expected(kind: FaultKind) -> (u64, Option<u64>) {
    match kind {
        FaultKind::InvalidOpcode => (fault_ud_insn as *const () as u64, None),
        FaultKind::PageFault => (fault_pf_insn as *const () as u64, Some(UNMAPPED_ADDRESS)),
        FaultKind::GeneralProtection => (fault_gp_insn as *const () as u64, None),
        // `div ecx` is the fourth instruction: xor edx,edx (2) xor ecx,ecx (2) mov eax,1 (5).
        FaultKind::DivideError => (fault_de_insn as *const () as u64 + 9, None),
        // `push rax` after the 3-byte `mov rsp, rdi`: its page fault cannot be
        // delivered on that stack either, so the CPU raises #DF (the RIP a #DF
        // saves is architecturally undefined; CPUs save this one).
        FaultKind::DoubleFault => {
            (fault_df_insn as *const () as u64 + 3, Some(UNMAPPED_ADDRESS - 8))
        }
        FaultKind::TripleFault => (fault_gp_insn as *const () as u64, None),
        // The `ud2` after `cli` (1 byte: no interrupt comes first) and `swapgs` (3).
        FaultKind::UserGs => (fault_gs_insn as *const () as u64 + 4, None),
        FaultKind::Panic => (0, None),
        FaultKind::Lockup => (fault_lockup_insn as *const () as u64, None),
        FaultKind::HaltLocked => (fault_halt_insn as *const () as u64, None),
    }
}

/// Raise the fault. Returns only if the CPU did not fault (a bug the caller reports).
pub fn trigger(kind: FaultKind) {
    // SAFETY: each routine executes one faulting instruction; the exception handler
    // reports it and stops the VM, so nothing after the fault runs. The lockups
    // touch no memory and never return: this CPU stays with interrupts off until
    // the VMM stops it.
    unsafe {
        match kind {
            FaultKind::InvalidOpcode => fault_ud_insn(),
            FaultKind::PageFault => fault_pf_insn(UNMAPPED_ADDRESS),
            FaultKind::GeneralProtection => fault_gp_insn(NONCANONICAL_ADDRESS),
            FaultKind::DivideError => fault_de_insn(),
            FaultKind::DoubleFault => fault_df_insn(UNMAPPED_ADDRESS),
            FaultKind::UserGs => fault_gs_insn(),
            FaultKind::TripleFault => {
                // No double fault can be delivered on this CPU any more.
                super::cpu::set_double_fault_stack(UNMAPPED_ADDRESS);
                TRIPLE_FAULT_ARMED.store(true, core::sync::atomic::Ordering::SeqCst);
                fault_gp_insn(NONCANONICAL_ADDRESS)
            }
            FaultKind::Panic => panic!("deliberate panic requested on the command line"),
            FaultKind::Lockup => fault_lockup_insn(),
            FaultKind::HaltLocked => fault_halt_insn(),
        }
    }
}

/// Called by the kernel-exception handler: with `fault=tf` armed, fault again
/// on an unmapped stack (a page fault that cannot be delivered, then a double
/// fault that cannot be either: the CPU shuts down).
pub fn cascade_if_armed() {
    if TRIPLE_FAULT_ARMED.load(core::sync::atomic::Ordering::SeqCst) {
        // SAFETY: deliberately ends the machine (see above).
        unsafe { fault_df_insn(UNMAPPED_ADDRESS) }
    }
}
