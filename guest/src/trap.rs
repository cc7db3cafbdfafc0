//! What the kernel does about traps from user mode: system calls through the
//! entry page's gates or the `syscall` instruction, and faults, which end in a
//! signal when they cannot be resolved.

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::arch::entry_page::{GATE_INT3, GATE_SYSCALL, PROBE_AFTER_SYSCALL, PROBE_SYSCALL_NR};
use crate::arch::traps::{fault_address, PF_INSTR, PF_WRITE};
use crate::arch::uaccess::copy_from_user;
use crate::arch::{cpu_id, TrapFrame};
use crate::counters as ctr;
use crate::process::signal::{
    self, SigInfo, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGSYS, SIGTRAP,
};
use crate::sched;

/// Outcome of the boot self-test of the `syscall` instruction.
pub static SYSCALL_INSN: AtomicU8 = AtomicU8::new(SYSCALL_UNTESTED);
pub const SYSCALL_UNTESTED: u8 = 0;
pub const SYSCALL_WORKS: u8 = 1;
pub const SYSCALL_BROKEN: u8 = 2;

/// The AT_SYSINFO value for programs: the gate the self-test chose.
pub fn syscall_gate() -> u64 {
    if SYSCALL_INSN.load(Ordering::Relaxed) == SYSCALL_WORKS {
        GATE_SYSCALL
    } else {
        GATE_INT3
    }
}

fn syscall_entry_address() -> u64 {
    crate::arch::cpu::syscall_entry_address()
}

/// An exception raised by user code.
pub fn user_exception(frame: &mut TrapFrame) {
    let task = sched::current().expect("a user trap without a task");
    // Paths that never return (exit) must not hold a reference to the task: it
    // would never be dropped, and the task and its address space would leak.
    if task.probe {
        drop(task);
        probe_result(frame);
        return;
    }
    let sig = match frame.vector {
        // `int3` leaves rip after itself: the gate's int3 is a system call.
        3 if frame.rip == GATE_INT3 + 1 => {
            drop(task);
            gate_entry(frame, GATE_INT3);
            return;
        }
        14 => {
            let addr = fault_address();
            ctr::cpu_add(cpu_id(), ctr::CPU_PAGE_FAULTS_USER, 1);
            if frame.rip == syscall_entry_address() {
                raw_syscall_broken(frame);
                return;
            }
            let write = frame.error_code & PF_WRITE != 0;
            let exec = frame.error_code & PF_INSTR != 0;
            match task.mm().map(|mm| mm.handle_fault(addr, write, exec)) {
                Some(Ok(())) => return,
                result => {
                    let code = match result {
                        Some(Err(crate::mm::address_space::FaultError::Access)) => SEGV_ACCERR,
                        _ => SEGV_MAPERR,
                    };
                    let info = SigInfo {
                        code,
                        addr,
                        trapno: 14,
                        err: frame.error_code,
                        ..Default::default()
                    };
                    signal::force_sig_info(&task, SIGSEGV, info);
                    return;
                }
            }
        }
        13 if frame.rip == syscall_entry_address() => {
            raw_syscall_broken(frame);
            return;
        }
        0 | 16 | 19 => SIGFPE,
        1 | 3 => SIGTRAP,
        6 => SIGILL,
        17 => SIGBUS,
        _ => SIGSEGV,
    };
    let info = SigInfo {
        code: signal::SI_KERNEL,
        addr: frame.rip,
        trapno: frame.vector,
        err: frame.error_code,
        ..Default::default()
    };
    signal::force_sig_info(&task, sig, info);
}

/// `call *AT_SYSINFO` reached the kernel: return straight to the caller's return
/// address and pop it (KVM-HOSTS.md rule 2), then run the call.
fn gate_entry(frame: &mut TrapFrame, gate: u64) {
    let entry_rsp = frame.rsp;
    let mut ret = [0u8; 8];
    if copy_from_user(&mut ret, frame.rsp).is_err() {
        let task = sched::current().unwrap();
        signal::force_sig(&task, SIGSEGV);
        return;
    }
    frame.rip = u64::from_le_bytes(ret);
    frame.rsp += 8;
    // A restart re-enters through the gate with the return address in place.
    crate::syscall::do_syscall(frame, gate, entry_rsp);
}

/// The program executed `syscall` on a host where it does not reach the kernel
/// (it lands at the kernel's entry still in ring 3): kill it with SIGSYS.
fn raw_syscall_broken(frame: &TrapFrame) {
    let task = sched::current().unwrap();
    crate::println!(
        "kernel: pid {} ({}): killed by SIGSYS: it executed the syscall instruction (return \
         address {:#x}), which this host's KVM does not deliver to the kernel; enter the kernel \
         through the AT_SYSINFO entry instead",
        task.pid,
        task.comm(),
        frame.rcx
    );
    // Not catchable: the saved user RIP is the kernel's entry, not the program's.
    task.fatal_signal.store(SIGSYS as u32, Ordering::Relaxed);
}

/// The boot probe: `syscall` then `int3`. Which trap arrives tells whether the
/// `syscall` instruction reached the kernel correctly.
fn probe_result(frame: &mut TrapFrame) {
    let reached = PROBE_RESULT.load(Ordering::Relaxed) == 1;
    let verdict = if frame.vector == 3 && frame.rip == PROBE_AFTER_SYSCALL + 1 && reached {
        SYSCALL_WORKS
    } else {
        SYSCALL_BROKEN
    };
    SYSCALL_INSN.store(verdict, Ordering::Relaxed);
    sched::exit_current();
}

static PROBE_RESULT: AtomicU64 = AtomicU64::new(0);

/// A system call made with the `syscall` instruction (where it works).
pub fn syscall_insn(frame: &mut TrapFrame) {
    let probe = sched::current().expect("a system call without a task").probe;
    if probe {
        let ok = frame.rax == PROBE_SYSCALL_NR && frame.rcx == PROBE_AFTER_SYSCALL;
        PROBE_RESULT.store(ok as u64, Ordering::Relaxed);
        return;
    }
    if frame.rip == GATE_SYSCALL + 2 {
        // Through the entry page's gate: return to the caller's return address.
        gate_entry(frame, GATE_SYSCALL);
    } else {
        let (rip, rsp) = (frame.rip - 2, frame.rsp);
        crate::syscall::do_syscall(frame, rip, rsp);
    }
}

pub fn timer_tick() {
    sched::scheduler_tick();
}

/// Work before returning to user mode: a pending fatal signal ends the task; a
/// task whose time slice ended yields (Linux `exit_to_user_mode_loop`).
pub fn exit_to_user_mode(frame: &mut TrapFrame) {
    loop {
        let Some(task) = sched::current() else { return };
        let sig = task.fatal_signal.load(Ordering::Relaxed);
        if sig != 0 {
            drop(task);
            // A fatal signal ends the whole thread group (Linux: do_group_exit).
            crate::process::exit::do_group_exit(signal::death_reason(sig));
        }
        if signal::do_signal(&task, frame) {
            continue;
        }
        let resched = task.need_resched.load(Ordering::Relaxed);
        drop(task);
        if !resched {
            return;
        }
        sched::schedule();
    }
}

/// A page fault in the kernel's user-copy routine at user address `addr`:
/// true if resolved (the copy is retried), false to fail it with EFAULT.
pub fn uaccess_fault(addr: u64, error_code: u64) -> bool {
    match sched::current().and_then(|t| t.mm()) {
        Some(mm) => mm.handle_fault(addr, error_code & PF_WRITE != 0, false).is_ok(),
        None => false,
    }
}

static ENTRY_FRAME: AtomicU64 = AtomicU64::new(0);

/// Put the entry page's code in a frame that every address space maps.
pub fn init_entry_page() -> Result<(), crate::errno::Errno> {
    let frame = crate::mm::alloc_frame().ok_or(crate::errno::ENOMEM)?;
    crate::arch::boot::phys_slice_mut(frame, 4096)
        .copy_from_slice(crate::arch::entry_page::contents());
    ENTRY_FRAME.store(frame, Ordering::Relaxed);
    Ok(())
}

/// The frame holding the entry page (mapped read + execute into every process).
pub fn entry_frame() -> u64 {
    ENTRY_FRAME.load(Ordering::Relaxed)
}

/// The boot self-test: run `syscall` from ring 3 and see where it lands.
pub fn probe_syscall_instruction() -> Result<bool, crate::errno::Errno> {
    use crate::mm::address_space::Mm;
    let mm = Mm::new()?;
    const STACK_TOP: u64 = 0x0000_7fff_fffd_1000;
    mm.map_fixed_for_probe(STACK_TOP - 4096)?;
    let frame = TrapFrame::new_user(crate::arch::entry_page::PROBE, STACK_TOP);
    let task = crate::process::Task::new_user(0, mm, &frame, true)?;
    sched::run(task);
    Ok(SYSCALL_INSN.load(Ordering::Relaxed) == SYSCALL_WORKS)
}
