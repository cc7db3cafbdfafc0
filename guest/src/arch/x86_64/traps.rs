//! `do_trap`: every exception, interrupt and system call arrives here with the
//! registers in a `TrapFrame`. This file handles the kernel's own faults and
//! the interrupts arch owns (TLB shootdowns, spurious and error interrupts);
//! everything else goes to the kernel's [`Kernel`] implementation (traps from
//! user mode, the timer tick, cross-CPU calls, the mailbox doorbell), which
//! `kernel!` installs. arch never names the layers above.

use protocol::counters::CrashRecord;
use protocol::hypercall::{ExceptionReport, Hypercall};

use super::cpu::{
    cpu_id, read_cr2, read_cr3, CALL_FUNCTION_VECTOR, ERROR_APIC_VECTOR, INVALIDATE_TLB_VECTOR,
    LOCAL_TIMER_VECTOR, MAILBOX_VECTOR, RESCHEDULE_VECTOR, SPURIOUS_APIC_VECTOR,
};
use super::entry::{self, Kernel, SYSCALL_VECTOR, USER_GS_FLAG};
use super::{apic, hypercall::hypercall};

/// Registers as the entry code leaves them on the kernel stack (lowest address
/// first); `rip`..`ss` are the CPU's interrupt frame.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
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

pub const PF_PRESENT: u64 = 1;
pub const PF_WRITE: u64 = 2;
pub const PF_USER: u64 = 4;
pub const PF_INSTR: u64 = 16;

impl TrapFrame {
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// A frame that enters ring 3 at `rip` with stack `rsp` and interrupts on.
    pub fn new_user(rip: u64, rsp: u64) -> Self {
        use protocol::boot::selectors::{USER_CS, USER_DS};
        TrapFrame {
            rip,
            rsp,
            cs: USER_CS as u64,
            ss: USER_DS as u64,
            rflags: 0x202,
            ..Default::default()
        }
    }

    /// Whether this frame is a system call made with the `syscall` instruction.
    pub fn is_syscall_insn(&self) -> bool {
        self.vector == SYSCALL_VECTOR
    }
}

/// The page-fault address of the exception being handled.
pub fn fault_address() -> u64 {
    read_cr2()
}

/// The trap entry's Rust half, instantiated for the kernel by `kernel!`
/// (`__kernel_trap`): the kernel's handlers are called directly, as if arch
/// named them, and inlined where the compiler sees fit.
#[inline(always)]
pub fn do_trap<K: Kernel>(frame: &mut TrapFrame) {
    // Every gate is an interrupt gate: kernel code runs with interrupts off.
    super::irq::assert_irqs_disabled();
    let from_user = frame.from_user();
    let user_gs = frame.vector & USER_GS_FLAG != 0;
    if !from_user {
        frame.vector &= !USER_GS_FLAG;
        kernel_entry_checks(frame, user_gs);
    }
    // Every exception but #BP (the system-call gate where `syscall` is broken).
    if frame.vector < 32 && frame.vector != 3 {
        record_exception(frame);
    }
    match frame.vector {
        // `int3` leaves rip after itself: the one after the entry page's gate
        // is the system calls' way in where `syscall` is broken (the boot
        // probe's `int3` is elsewhere in the page).
        v if v < 32 && from_user => {
            if v == 3 && frame.rip == super::entry_page::GATE_INT3 + 1 {
                K::syscall_gate(frame)
            } else {
                K::user_exception(frame)
            }
        }
        v if v < 32 => kernel_exception::<K>(frame),
        v if v == LOCAL_TIMER_VECTOR as u64 => {
            crate::counters::cpu_add(cpu_id(), crate::counters::CPU_TIMER_TICKS, 1);
            apic::eoi();
            K::timer_tick(from_user);
        }
        v if v == RESCHEDULE_VECTOR as u64 => {
            crate::counters::cpu_add(cpu_id(), crate::counters::CPU_IPIS_RECEIVED, 1);
            apic::eoi();
        }
        v if v == INVALIDATE_TLB_VECTOR as u64 => {
            crate::counters::cpu_add(cpu_id(), crate::counters::CPU_IPIS_RECEIVED, 1);
            apic::eoi();
            super::tlb::flush_tlb_interrupt();
        }
        v if v == CALL_FUNCTION_VECTOR as u64 => {
            let cpu = cpu_id();
            crate::counters::cpu_add(cpu, crate::counters::CPU_IPIS_RECEIVED, 1);
            K::call_function(cpu);
            apic::eoi();
        }
        v if v == MAILBOX_VECTOR as u64 => {
            apic::eoi();
            K::mailbox();
        }
        v if v == SPURIOUS_APIC_VECTOR as u64 => {
            // No EOI for a spurious interrupt.
            crate::counters::cpu_add(cpu_id(), crate::counters::CPU_SPURIOUS, 1);
        }
        v if v == ERROR_APIC_VECTOR as u64 => {
            let esr = apic::read_esr();
            apic::eoi();
            panic!("local APIC error, ESR {esr:#x}");
        }
        v => panic!("unexpected trap vector {v:#x}"),
    }
    if from_user {
        K::exit_to_user_mode(frame);
    } else if user_gs {
        // trap_return gives the interrupted entry code its user GS back.
        frame.vector |= USER_GS_FLAG;
    }
}

/// Whether `rip` is where kernel code legitimately runs with the user's GS
/// base: an entry stub or trap_common before its swapgs, the `syscall`
/// entry's swapgs, trap_return after its swapgs, the `sysretq` after the
/// `syscall` exit's swapgs.
fn user_gs_window(rip: u64) -> bool {
    let at = |f: unsafe extern "C" fn()| f as *const () as u64;
    (at(entry::entry_user_gs_start)..=at(entry::trap_common_user_swapgs)).contains(&rip)
        || rip == at(entry::syscall_entry)
        || (at(entry::trap_return_user_gs)..=at(entry::trap_return_iret)).contains(&rip)
        || rip == at(entry::syscall_return_sysretq)
}

/// Checks of an entry from kernel mode. An interrupt that arrives while the
/// interrupted code had interrupts disabled is impossible on a correct CPU
/// (interrupt gates and `syscall` clear IF): it is counted, as the mark of a
/// host that delivers events it must hold back. QEMU's TCG emulation of AMD
/// SVM is one: under kvm_amd there, an interrupt KVM injected is now and then
/// delivered a second time, at the first instructions of its own handler,
/// before the handler's swapgs. One that caught an entry or exit window with
/// the user's GS was made harmless by the entry code; anything else that ran
/// with the user's GS is a kernel bug.
fn kernel_entry_checks(frame: &TrapFrame, user_gs: bool) {
    const IF: u64 = 1 << 9;
    let interrupt = frame.vector >= 32 && frame.vector != SYSCALL_VECTOR;
    if interrupt && frame.rflags & IF == 0 {
        crate::counters::cpu_add(cpu_id(), crate::counters::CPU_IRQS_WHILE_DISABLED, 1);
        let rec = super::cpu::crash_record() as *mut CrashRecord;
        if !rec.is_null() {
            // SAFETY: this CPU's own record (see `record_exception`).
            unsafe {
                core::ptr::addr_of_mut!((*rec).irq_while_disabled_rip).write_volatile(frame.rip)
            };
        }
    }
    if user_gs {
        if !user_gs_window(frame.rip) {
            panic!(
                "kernel code at {:#x} ran with the user's GS base (vector {:#x} found it): \
                 an unbalanced swapgs",
                frame.rip, frame.vector
            );
        }
        crate::counters::cpu_add(cpu_id(), crate::counters::CPU_ENTRY_WINDOW_EVENTS, 1);
    }
}

/// Note the exception in this CPU's crash record (`protocol::counters::CrashRecord`)
/// with plain stores: the VMM reports it if the kernel dies afterwards.
#[inline(always)]
fn record_exception(frame: &TrapFrame) {
    let rec = super::cpu::crash_record() as *mut CrashRecord;
    if rec.is_null() {
        return;
    }
    let cr2 = if frame.vector == 14 { read_cr2() } else { 0 };
    // SAFETY: `crash_record` is this CPU's record in the counter page (set by
    // `cpu_online` from the validated boot info); only this CPU writes it.
    unsafe {
        use core::ptr::{addr_of_mut, write_volatile};
        write_volatile(addr_of_mut!((*rec).vector), frame.vector);
        write_volatile(addr_of_mut!((*rec).error_code), frame.error_code);
        write_volatile(addr_of_mut!((*rec).rip), frame.rip);
        write_volatile(addr_of_mut!((*rec).cs), frame.cs);
        write_volatile(addr_of_mut!((*rec).rsp), frame.rsp);
        write_volatile(addr_of_mut!((*rec).cr2), cr2);
        let n = addr_of_mut!((*rec).exceptions);
        write_volatile(n, n.read_volatile().wrapping_add(1));
    }
}

/// The double-fault handler (IST stack; see `entry::double_fault_entry`): learn
/// the CPU from the stack, repair GS, record everything in the crash record
/// first (the VMM reads it even if what follows fails), then report.
pub extern "C" fn do_double_fault(frame: &mut TrapFrame) -> ! {
    let here = frame as *const TrapFrame as u64;
    let cr2 = read_cr2();
    let cr3 = read_cr3();
    if let Some(cpu) = super::cpu::cpu_of_double_fault_stack(here) {
        let (gs, kernel_gs) = super::cpu::repair_gs_base(cpu);
        if let Some(rec) = super::boot::crash_record(cpu) {
            // SAFETY: `cpu`'s record in the counter page; only `cpu` (this CPU,
            // on its own double-fault stack) writes it.
            unsafe {
                use core::ptr::{addr_of_mut, write_volatile};
                write_volatile(addr_of_mut!((*rec).df_rip), frame.rip);
                write_volatile(addr_of_mut!((*rec).df_cs), frame.cs);
                write_volatile(addr_of_mut!((*rec).df_rsp), frame.rsp);
                write_volatile(addr_of_mut!((*rec).df_cr2), cr2);
                write_volatile(addr_of_mut!((*rec).df_cr3), cr3);
                write_volatile(addr_of_mut!((*rec).df_gs_base), gs);
                write_volatile(addr_of_mut!((*rec).df_kernel_gs_base), kernel_gs);
                let n = addr_of_mut!((*rec).double_faults);
                write_volatile(n, n.read_volatile().wrapping_add(1));
            }
        }
    }
    report_kernel_exception(frame)
}

/// True if `rip` is inside the user-copy routine (its faults are expected).
fn in_uaccess(rip: u64) -> bool {
    rip >= entry::uaccess_begin as *const () as u64 && rip < entry::uaccess_end as *const () as u64
}

fn kernel_exception<K: Kernel>(frame: &mut TrapFrame) {
    if frame.vector == 14 && in_uaccess(frame.rip) {
        crate::counters::cpu_add(cpu_id(), crate::counters::CPU_PAGE_FAULTS_KERNEL, 1);
        // A user address the kernel touched on the user's behalf: resolve it as
        // the user's own access would be (demand paging), or fail the copy.
        if !K::uaccess_fault(read_cr2(), frame.error_code) {
            frame.rip = entry::uaccess_fixup as *const () as u64;
        }
        return;
    }
    super::fault::cascade_if_armed();
    report_kernel_exception(frame)
}

/// An exception in kernel code is a kernel bug: report it to the VMM, which
/// prints it and stops the VM with a distinct status.
fn report_kernel_exception(frame: &TrapFrame) -> ! {
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

/// A system call made with the `syscall` instruction (from `syscall_entry`,
/// as `__kernel_syscall_64` for the kernel `K`): run it and the work before
/// the return to user mode; true if the return may use `sysretq` (Linux
/// `do_syscall_64`).
#[inline(always)]
pub fn do_syscall_64<K: Kernel>(frame: &mut TrapFrame) -> bool {
    // IA32_FMASK clears IF on `syscall`.
    super::irq::assert_irqs_disabled();
    K::syscall(frame);
    K::exit_to_user_mode(frame);
    let sysret = K::sysret_allowed(frame);
    if sysret {
        crate::counters::cpu_add(cpu_id(), crate::counters::CPU_SYSRET_RETURNS, 1);
    }
    sysret
}

/// First code a new user task runs in the kernel (from `ret_from_fork`, with
/// the task's frame, as `__kernel_ret_from_fork`): finish the switch, then the
/// work before a return to user mode (Linux `ret_from_fork` →
/// `syscall_exit_to_user_mode`).
#[inline(always)]
pub fn ret_from_fork_user<K: Kernel>(frame: &mut TrapFrame) {
    super::irq::assert_irqs_disabled();
    K::schedule_tail();
    K::exit_to_user_mode(frame);
}
