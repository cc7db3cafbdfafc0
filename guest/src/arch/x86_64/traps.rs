//! Exception and interrupt handlers called from the stubs in entry.rs.

use protocol::hypercall::{ExceptionReport, Hypercall};

use super::cpu::{cpu_id, read_cr2, read_cr3};
use super::{apic, hypercall::hypercall};

/// Registers as `exception_common` leaves them on the stack (lowest address first).
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// Every exception is, for now, a kernel bug (there is no user space yet): report
/// it to the VMM, which prints it and stops the VM with a distinct status.
pub extern "C" fn do_exception(frame: &mut TrapFrame) {
    let report = ExceptionReport {
        cpu: cpu_id() as u32,
        vector: frame.vector as u32,
        error_code: frame.error_code,
        rip: frame.rip,
        cs: frame.cs,
        rflags: frame.rflags,
        rsp: frame.rsp,
        ss: frame.ss,
        cr2: read_cr2(),
        cr3: read_cr3(),
        gprs: [
            frame.rax, frame.rbx, frame.rcx, frame.rdx, frame.rsi, frame.rdi, frame.rbp, frame.r8,
            frame.r9, frame.r10, frame.r11, frame.r12, frame.r13, frame.r14, frame.r15,
        ],
    };
    hypercall(Hypercall::Exception, &report);
    // The VMM stops every vCPU on a valid report; should it refuse the report,
    // there is nothing sane to return to.
    loop {
        super::cpu::interrupts_disable();
        super::cpu::wait_for_interrupt();
    }
}

pub extern "C" fn timer_interrupt() {
    crate::counters::cpu_add(cpu_id(), crate::counters::CPU_TIMER_TICKS, 1);
    apic::eoi();
}

pub extern "C" fn reschedule_interrupt() {
    crate::counters::cpu_add(cpu_id(), crate::counters::CPU_IPIS_RECEIVED, 1);
    apic::eoi();
}

pub extern "C" fn call_function_interrupt() {
    let cpu = cpu_id();
    crate::counters::cpu_add(cpu, crate::counters::CPU_IPIS_RECEIVED, 1);
    crate::smp::call_function_interrupt(cpu);
    apic::eoi();
}

pub extern "C" fn spurious_interrupt() {
    // No EOI for a spurious interrupt.
    crate::counters::cpu_add(cpu_id(), crate::counters::CPU_SPURIOUS, 1);
}

pub extern "C" fn apic_error_interrupt() {
    let esr = apic::read_esr();
    apic::eoi();
    panic!("local APIC error, ESR {esr:#x}");
}
