//! Kernel entry points: `_start`, and every way into the kernel afterwards —
//! exceptions, interrupts, the `syscall` instruction — all leading to one
//! `TrapFrame` layout and `traps::do_trap`, and one way back (`trap_return`).
//!
//! The VMM enters `_start` on every vCPU in 64-bit mode with paging on, `rdi` =
//! boot info (direct-map address) and `rsi` = CPU index (see `protocol::boot`).
//!
//! Where arch hands over to the kernel it calls the [`Kernel`] implementation
//! that the layer booting the kernel installs with [`crate::kernel!`] (as
//! Asterinas' kernel registers itself with OSTD's `#[ostd::main]`): the boot
//! entry, traps and interrupts arch does not handle itself, and a new task's
//! first steps. The macro defines the symbols that arch calls by name
//! (`__kernel_main`, `__kernel_trap`, `__kernel_syscall_64`,
//! `__kernel_ret_from_fork`, `__kernel_schedule_tail`), each
//! instantiating arch's code for the kernel's type, so the calls are direct
//! and cost nothing over naming the kernel's functions.

use core::arch::global_asm;
use core::cell::UnsafeCell;

use protocol::MAX_CPUS;

use super::cpu::{PERCPU_KERNEL_RSP, PERCPU_USER_RSP};

/// Boot stack of each CPU (later its idle task's kernel stack).
pub const BOOT_STACK_SHIFT: u32 = 14;
pub const BOOT_STACK_SIZE: usize = 1 << BOOT_STACK_SHIFT;

/// Pseudo-vector in `TrapFrame::vector` for entries through the `syscall` instruction.
pub const SYSCALL_VECTOR: u64 = 0x100;

/// Set in `TrapFrame::vector` by the entry code: the event interrupted kernel
/// code running with the user's GS base (see `trap_common_check_gs`);
/// `trap_return` swaps it back.
pub const USER_GS_FLAG: u64 = 0x1000;

/// What the kernel does where arch hands over to it.
pub trait Kernel {
    /// The boot CPU's entry (the boot info not yet validated).
    fn start_kernel(boot_info: &'static protocol::boot::BootInfo) -> !;
    /// Every other CPU's entry, once its descriptor tables are loaded.
    fn start_secondary(cpu: usize) -> !;
    /// An exception raised by user code (vectors 0..32 from ring 3).
    fn user_exception(frame: &mut super::TrapFrame);
    /// A system call made with the `syscall` instruction.
    fn syscall(frame: &mut super::TrapFrame);
    /// A system call through the entry page's `int3` gate (where `syscall`
    /// does not reach ring 0): the `int3` at `GATE_INT3` from ring 3.
    fn syscall_gate(frame: &mut super::TrapFrame);
    /// Work before any return to user mode (signals, rescheduling).
    fn exit_to_user_mode(frame: &mut super::TrapFrame);
    /// Whether the return from a `syscall` instruction with `frame` may use
    /// `sysretq` (see `syscall_entry`).
    fn sysret_allowed(frame: &super::TrapFrame) -> bool;
    /// A page fault at user address `addr` (error code `err`) inside the
    /// kernel's user-copy routine: true if it was resolved (the copy goes on),
    /// false to fail the copy.
    fn uaccess_fault(addr: u64, err: u64) -> bool;
    /// The local timer's tick, after its EOI (`user`: it interrupted ring 3).
    fn timer_tick(user: bool);
    /// CALL_FUNCTION_VECTOR arrived on this CPU (before its EOI).
    fn call_function(cpu: usize);
    /// The VMM rang the mailbox doorbell (after its EOI).
    fn mailbox();
    /// The first thing a new task runs (`ret_from_fork`,
    /// `ret_from_kernel_thread`), before it returns to user mode or calls its
    /// kernel function.
    fn schedule_tail();
}

/// Install `$k`, a type implementing [`Kernel`], as the kernel arch hands over
/// to (once, in the layer that boots the kernel).
#[macro_export]
macro_rules! kernel {
    ($k:ty) => {
        // The symbols arch calls (declared in `arch::x86_64::boot` and called
        // by name from `entry.rs`'s assembly), with the signatures there.
        #[allow(unsafe_code)]
        #[unsafe(export_name = "__kernel_main")]
        fn __kernel_main(boot_info: &'static ::protocol::boot::BootInfo, cpu: usize) -> ! {
            if cpu == 0 {
                <$k as $crate::arch::Kernel>::start_kernel(boot_info)
            } else {
                <$k as $crate::arch::Kernel>::start_secondary(cpu)
            }
        }

        #[allow(unsafe_code)]
        #[unsafe(export_name = "__kernel_trap")]
        extern "C" fn __kernel_trap(frame: &mut $crate::arch::TrapFrame) {
            $crate::arch::traps::do_trap::<$k>(frame)
        }

        #[allow(unsafe_code)]
        #[unsafe(export_name = "__kernel_syscall_64")]
        extern "C" fn __kernel_syscall_64(frame: &mut $crate::arch::TrapFrame) -> bool {
            $crate::arch::traps::do_syscall_64::<$k>(frame)
        }

        #[allow(unsafe_code)]
        #[unsafe(export_name = "__kernel_ret_from_fork")]
        extern "C" fn __kernel_ret_from_fork(frame: &mut $crate::arch::TrapFrame) {
            $crate::arch::traps::ret_from_fork_user::<$k>(frame)
        }

        #[allow(unsafe_code)]
        #[unsafe(export_name = "__kernel_schedule_tail")]
        extern "C" fn __kernel_schedule_tail() {
            <$k as $crate::arch::Kernel>::schedule_tail()
        }
    };
}

#[repr(C, align(4096))]
pub struct BootStacks(UnsafeCell<[u8; BOOT_STACK_SIZE * MAX_CPUS]>);
// SAFETY: each CPU uses only its own slice, selected by its index in `_start`;
// Rust code never forms a reference to this memory.
unsafe impl Sync for BootStacks {}

#[unsafe(no_mangle)]
pub static BOOT_STACKS: BootStacks = BootStacks(UnsafeCell::new([0; BOOT_STACK_SIZE * MAX_CPUS]));

global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    cli
    cld
    cmp rsi, {max_cpus}
    jae 2f
    lea rax, [rsi + 1]
    shl rax, {stack_shift}
    lea rsp, [rip + {stacks}]
    add rsp, rax
    xor ebp, ebp
    call {entry}
2:  hlt
    jmp 2b

    .text
    // An exception stub pushes a zero error code when the CPU does not, then the
    // vector, so that every entry reaches trap_common with one frame layout.
    .macro exc_stub vec, has_err
    .align 16
exc_stub_\vec:
    .if \has_err == 0
    push 0
    .endif
    push \vec
    jmp trap_common
    .endm

    // From here to trap_common's swapgs, an entry from user mode still has
    // the user's GS (see `user_gs_window`).
    .global entry_user_gs_start
entry_user_gs_start:
    exc_stub 0, 0
    exc_stub 1, 0
    exc_stub 2, 0
    exc_stub 3, 0
    exc_stub 4, 0
    exc_stub 5, 0
    exc_stub 6, 0
    exc_stub 7, 0
    exc_stub 8, 1
    exc_stub 9, 0
    exc_stub 10, 1
    exc_stub 11, 1
    exc_stub 12, 1
    exc_stub 13, 1
    exc_stub 14, 1
    exc_stub 15, 0
    exc_stub 16, 0
    exc_stub 17, 1
    exc_stub 18, 0
    exc_stub 19, 0
    exc_stub 20, 0
    exc_stub 21, 1
    exc_stub 22, 0
    exc_stub 23, 0
    exc_stub 24, 0
    exc_stub 25, 0
    exc_stub 26, 0
    exc_stub 27, 0
    exc_stub 28, 0
    exc_stub 29, 1
    exc_stub 30, 1
    exc_stub 31, 0

    .macro irq_stub name, vec
    .align 16
    .global \name
\name:
    push 0
    push \vec
    jmp trap_common
    .endm

    irq_stub timer_entry, {timer_vec}
    irq_stub reschedule_entry, {resched_vec}
    irq_stub call_function_entry, {callfn_vec}
    irq_stub invalidate_tlb_entry, {invtlb_vec}
    irq_stub spurious_entry, {spurious_vec}
    irq_stub mailbox_entry, {mailbox_vec}
    irq_stub apic_error_entry, {error_vec}

    // Frame on entry: vector, error code, rip, cs, rflags, rsp, ss. From ring 3
    // the GS bases are swapped so that gs: addresses this CPU's data.
trap_common:
    test byte ptr [rsp + 24], 3
    jz trap_common_from_kernel
    .global trap_common_user_swapgs
trap_common_user_swapgs:
    swapgs
    jmp trap_common_kernel_gs
trap_common_from_kernel:
    // A fault of trap_return's iretq to user mode (a frame the CPU refuses,
    // e.g. a non-canonical rip from rt_sigreturn) comes from kernel mode but
    // with the user's GS (Linux: `fixup_bad_iret`). Make it the fault of the
    // user mode it tried to return to: the iret frame it refused is where the
    // saved rsp points (the CPU aligned its own frame below it to 16 bytes);
    // put the vector and error code right below it and use it as the frame.
    cmp qword ptr [rsp + 16], offset trap_return_iret
    jne trap_common_check_gs
    push rax
    mov rax, [rsp + 48]
    test byte ptr [rax + 8], 3
    pop rax
    jz trap_common_check_gs
    push rax
    push rcx
    mov rax, [rsp + 56]
    mov rcx, [rsp + 24]
    mov [rax - 8], rcx
    mov rcx, [rsp + 16]
    mov [rax - 16], rcx
    mov rcx, [rsp + 8]
    mov [rax - 24], rcx
    mov rcx, [rsp]
    mov [rax - 32], rcx
    lea rsp, [rax - 32]
    pop rcx
    pop rax
    swapgs
    jmp trap_common_kernel_gs
trap_common_check_gs:
    // From kernel mode the GS base is the kernel's (a kernel address; the
    // user's never is) except in the entry and exit windows around swapgs,
    // which an event can only interrupt if the CPU (or hypervisor) delivers
    // it with interrupts disabled (Linux's paranoid entry covers the same
    // windows for NMIs). Then take the kernel's GS and flag the frame, so
    // that trap_return gives the interrupted code its GS back and do_trap
    // checks that the interrupted code is in such a window.
    push rax
    push rcx
    push rdx
    mov ecx, {msr_gs_base}
    rdmsr
    test edx, edx
    js 4f
    swapgs
    or qword ptr [rsp + 24], {user_gs_flag}
4:  pop rdx
    pop rcx
    pop rax
trap_common_kernel_gs:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    call __kernel_trap
    .global trap_return
trap_return:
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    test byte ptr [rsp + 24], 3
    jnz 3f
    test qword ptr [rsp], {user_gs_flag}
    jz 5f
3:  swapgs
    .global trap_return_user_gs
trap_return_user_gs:
5:  add rsp, 16
    .global trap_return_iret
trap_return_iret:
    iretq

    // #DF, on its own stack (IST): it trusts neither GS nor the interrupted
    // stack. The frame has the layout of every other entry's.
    .align 16
    .global double_fault_entry
double_fault_entry:
    push 8
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    call {do_double_fault}
    ud2

    // The `syscall` instruction (used only where the boot self-test showed that it
    // works): build the same frame an interrupt from ring 3 would have built, run
    // the call and the work before the return (do_syscall_64), then return with
    // `sysretq` where that restores the frame exactly and safely, else through
    // trap_return's `iretq` (Linux entry_SYSCALL_64).
    .align 16
    .global syscall_entry
syscall_entry:
    swapgs
    mov gs:[{user_rsp}], rsp
    mov rsp, gs:[{kernel_rsp}]
    push {user_ds}
    push qword ptr gs:[{user_rsp}]
    push r11
    push {user_cs}
    push rcx
    push 0
    push {syscall_vec}
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    call __kernel_syscall_64
    test al, al
    jz trap_return
    // do_syscall_64 checked that rcx == rip and r11 == rflags (what sysretq
    // loads), that rip is a user address (Intel's sysretq faults in ring 0 on a
    // non-canonical one) and that RF and TF are clear. Interrupts are off until
    // sysretq loads RFLAGS.
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    mov rsp, [rsp + 40]
    swapgs
    .global syscall_return_sysretq
syscall_return_sysretq:
    sysretq

    // A new task's first return to user space: switch_to returns here with the
    // task's TrapFrame on top of its kernel stack; the work before a return to
    // user mode (signals, the return address check) runs as on any other return.
    .global ret_from_fork
ret_from_fork:
    mov rdi, rsp
    call __kernel_ret_from_fork
    jmp trap_return

    // A kernel thread's first instructions: finish the switch, then call its
    // function (rbx) with its argument (r12), both restored by switch_to_asm. The
    // function never returns (it ends with do_exit).
    .global ret_from_kernel_thread
ret_from_kernel_thread:
    call __kernel_schedule_tail
    mov rdi, r12
    call rbx
    ud2

    // switch_to(prev_rsp: *mut u64, next_rsp: u64): save the callee-saved
    // registers on the current kernel stack, switch stacks, restore.
    .global switch_to_asm
switch_to_asm:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    // copy_user_asm(dst, src, len) -> 0, or 1 if a fault could not be resolved.
    // A page fault between uaccess_begin and uaccess_end is resolved like a user
    // fault (demand paging) or redirected to uaccess_fixup (traps.rs).
    .global copy_user_asm, uaccess_begin, uaccess_end, uaccess_fixup
copy_user_asm:
    mov rcx, rdx
    shr rcx, 3
uaccess_begin:
    rep movsq
    mov rcx, rdx
    and rcx, 7
    rep movsb
uaccess_end:
    xor eax, eax
    ret
uaccess_fixup:
    mov eax, 1
    ret

    .section .rodata
    .align 8
    .global exception_stubs
exception_stubs:
    .quad exc_stub_0
    .quad exc_stub_1
    .quad exc_stub_2
    .quad exc_stub_3
    .quad exc_stub_4
    .quad exc_stub_5
    .quad exc_stub_6
    .quad exc_stub_7
    .quad exc_stub_8
    .quad exc_stub_9
    .quad exc_stub_10
    .quad exc_stub_11
    .quad exc_stub_12
    .quad exc_stub_13
    .quad exc_stub_14
    .quad exc_stub_15
    .quad exc_stub_16
    .quad exc_stub_17
    .quad exc_stub_18
    .quad exc_stub_19
    .quad exc_stub_20
    .quad exc_stub_21
    .quad exc_stub_22
    .quad exc_stub_23
    .quad exc_stub_24
    .quad exc_stub_25
    .quad exc_stub_26
    .quad exc_stub_27
    .quad exc_stub_28
    .quad exc_stub_29
    .quad exc_stub_30
    .quad exc_stub_31
    .text
"#,
    max_cpus = const MAX_CPUS,
    stack_shift = const BOOT_STACK_SHIFT,
    stacks = sym BOOT_STACKS,
    entry = sym super::boot::kernel_entry,
    do_double_fault = sym super::traps::do_double_fault,
    timer_vec = const super::cpu::LOCAL_TIMER_VECTOR as u64,
    resched_vec = const super::cpu::RESCHEDULE_VECTOR as u64,
    callfn_vec = const super::cpu::CALL_FUNCTION_VECTOR as u64,
    invtlb_vec = const super::cpu::INVALIDATE_TLB_VECTOR as u64,
    spurious_vec = const super::cpu::SPURIOUS_APIC_VECTOR as u64,
    mailbox_vec = const super::cpu::MAILBOX_VECTOR as u64,
    error_vec = const super::cpu::ERROR_APIC_VECTOR as u64,
    syscall_vec = const SYSCALL_VECTOR,
    user_rsp = const PERCPU_USER_RSP,
    user_gs_flag = const USER_GS_FLAG,
    msr_gs_base = const super::cpu::MSR_GS_BASE,
    kernel_rsp = const PERCPU_KERNEL_RSP,
    user_ds = const protocol::boot::selectors::USER_DS as u64,
    user_cs = const protocol::boot::selectors::USER_CS as u64,
);

unsafe extern "C" {
    /// Addresses of the 32 exception stubs, indexed by vector.
    pub static exception_stubs: [u64; 32];
    pub fn timer_entry();
    pub fn reschedule_entry();
    pub fn call_function_entry();
    pub fn invalidate_tlb_entry();
    pub fn spurious_entry();
    pub fn mailbox_entry();
    pub fn apic_error_entry();
    pub fn double_fault_entry();
    pub fn trap_return_iret();
    pub fn trap_return_user_gs();
    pub fn entry_user_gs_start();
    pub fn trap_common_user_swapgs();
    pub fn syscall_return_sysretq();
    pub fn syscall_entry();
    pub fn ret_from_fork();
    pub fn ret_from_kernel_thread();
    pub fn switch_to_asm(prev_rsp: *mut u64, next_rsp: u64);
    pub fn copy_user_asm(dst: *mut u8, src: *const u8, len: usize) -> u64;
    pub fn uaccess_begin();
    pub fn uaccess_end();
    pub fn uaccess_fixup();
}
