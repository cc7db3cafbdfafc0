//! Kernel entry points: `_start`, the exception stubs and the interrupt stubs.
//!
//! The VMM enters `_start` on every vCPU in 64-bit mode with paging on, `rdi` =
//! boot info (direct-map address) and `rsi` = CPU index (see `protocol::boot`).

use core::arch::global_asm;
use core::cell::UnsafeCell;

use protocol::MAX_CPUS;

/// Boot (and, for now, idle) stack of each CPU.
pub const BOOT_STACK_SHIFT: u32 = 14;
pub const BOOT_STACK_SIZE: usize = 1 << BOOT_STACK_SHIFT;

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
    // vector, so that every exception reaches exception_common with one frame layout.
    .macro exc_stub vec, has_err
    .align 16
exc_stub_\vec:
    .if \has_err == 0
    push 0
    .endif
    push \vec
    jmp exception_common
    .endm

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

exception_common:
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
    call {do_exception}
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
    add rsp, 16
    iretq

    // An interrupt stub saves the registers the C ABI lets the handler clobber.
    .macro irq_stub name, handler
    .align 16
    .global \name
\name:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    cld
    call \handler
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    iretq
    .endm

    irq_stub timer_entry, {timer}
    irq_stub reschedule_entry, {reschedule}
    irq_stub call_function_entry, {call_function}
    irq_stub spurious_entry, {spurious}
    irq_stub apic_error_entry, {apic_error}

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
    do_exception = sym super::traps::do_exception,
    timer = sym super::traps::timer_interrupt,
    reschedule = sym super::traps::reschedule_interrupt,
    call_function = sym super::traps::call_function_interrupt,
    spurious = sym super::traps::spurious_interrupt,
    apic_error = sym super::traps::apic_error_interrupt,
);

unsafe extern "C" {
    /// Addresses of the 32 exception stubs, indexed by vector.
    pub static exception_stubs: [u64; 32];
    pub fn timer_entry();
    pub fn reschedule_entry();
    pub fn call_function_entry();
    pub fn spurious_entry();
    pub fn apic_error_entry();
}
