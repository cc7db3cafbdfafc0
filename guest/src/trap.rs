//! What the kernel does about traps from user mode: system calls through the
//! entry page's gates or the `syscall` instruction, and faults, which end in a
//! signal when they cannot be resolved.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::entry_page::{
    uses_syscall_insn, GATE_INT3, GATE_SYSCALL, PROBE_AFTER_SYSCALL, PROBE_SYSCALL_NR,
    SYSCALL_BROKEN, SYSCALL_INSN, SYSCALL_WORKS,
};
use crate::arch::traps::{fault_address, PF_INSTR, PF_WRITE};
use crate::arch::uaccess::copy_from_user;
use crate::arch::{cpu_id, TrapFrame};
use crate::counters as ctr;
use crate::process::signal::{
    self, SigInfo, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGSYS, SIGTRAP,
};
use crate::sched;

fn syscall_entry_address() -> u64 {
    crate::arch::cpu::syscall_entry_address()
}

/// An exception raised by user code.
pub fn user_exception(frame: &mut TrapFrame) {
    let task = crate::process::current().expect("a user trap without a task");
    // Paths that never return (exit) must not hold a reference to the task: it
    // would never be dropped, and the task and its address space would leak.
    if task.probe {
        drop(task);
        probe_result(frame);
        return;
    }
    // A patched `syscall` site's `call *%rax` (exec::zpoline): the fetch at
    // the address equal to the system-call number faults (#PF), or the number
    // is not a canonical address (#GP, at the target or at the call).
    let zpoline = match frame.vector {
        14 => frame.error_code & PF_INSTR != 0 && frame.rip == frame.rax,
        13 => true,
        _ => false,
    };
    if zpoline {
        if let Some((site, entry_rsp)) = zpoline_site(frame, &task) {
            // Paths that never return: no reference to the task (see above).
            drop(task);
            zpoline_syscall(frame, site, entry_rsp);
            return;
        }
    }
    let sig = match frame.vector {
        14 => {
            let addr = fault_address();
            ctr::cpu_add(cpu_id(), ctr::CPU_PAGE_FAULTS_USER, 1);
            if frame.rip == syscall_entry_address() {
                raw_syscall_refused(frame, false);
                return;
            }
            let write = frame.error_code & PF_WRITE != 0;
            let exec = frame.error_code & PF_INSTR != 0;
            match task.mm().map(|mm| mm.handle_fault(addr, write, exec)) {
                Some(Ok(())) => {
                    // Resolved without I/O (Linux `mm_account_fault`).
                    task.min_flt.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                    return;
                }
                Some(Err(crate::mm::address_space::FaultError::OutOfMemory)) => {
                    // Linux `pagefault_out_of_memory`: the OOM killer frees
                    // memory and the access is retried after a tick's sleep
                    // (`schedule_timeout_killable(1)`), so that the victim
                    // and everyone else run meanwhile; a victim dies with its
                    // SIGKILL on the way back to user mode.
                    use crate::process::oom_kill::{out_of_memory, OomOutcome};
                    if out_of_memory(&task) == OomOutcome::Retry {
                        drop(task);
                        let until = crate::time::monotonic_ns() + crate::sched::TICK_NSEC;
                        crate::sched::wait_event_killable_timeout::<crate::process::PosixThread>(
                            None,
                            until,
                            || false,
                        );
                    }
                    return;
                }
                Some(Err(crate::mm::address_space::FaultError::PastEof)) => {
                    // A file mapping's page wholly past the end of the file
                    // (Linux `filemap_fault` → VM_FAULT_SIGBUS).
                    let info = SigInfo {
                        code: uapi::signal::BUS_ADRERR,
                        addr,
                        trapno: 14,
                        err: frame.error_code,
                        ..Default::default()
                    };
                    signal::force_sig_info(&task, SIGBUS, info);
                    return;
                }
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
            raw_syscall_refused(frame, false);
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
/// address and pop it (docs/hosts.md rule 2), then run the call. (Inlined: each
/// caller passes a constant gate.)
#[inline(always)]
fn gate_entry(frame: &mut TrapFrame, gate: u64) {
    let entry_rsp = frame.rsp;
    let mut ret = [0u8; 8];
    if copy_from_user(&mut ret, frame.rsp).is_err() {
        let task = crate::process::current().unwrap();
        signal::force_sig(&task, SIGSEGV);
        return;
    }
    let ret = u64::from_le_bytes(ret);
    if !is_canonical(ret) {
        // The gate's return fails as a `ret` there would (the CPU cannot
        // return to a non-canonical address): SIGSEGV at the gate, the call
        // not made.
        frame.rip = gate;
        bad_return_address();
        return;
    }
    frame.rip = ret;
    frame.rsp += 8;
    if gate == GATE_SYSCALL {
        // What the `syscall` instruction leaves in rcx and r11 (the gate's
        // contract: both clobbered), so that the return can be `sysretq`.
        frame.rcx = frame.rip;
        frame.r11 = frame.rflags;
    }
    // A restart re-enters through the gate with the return address in place.
    crate::syscall::do_syscall(frame, gate, entry_rsp);
}

/// Whether this fault is a system call through a patched `syscall` site
/// (exec::zpoline): `call *%rax` pushed the return address and the fetch at
/// the address equal to the number faulted (#PF; a #GP for a number that is
/// not a canonical address on AMD CPUs and QEMU), or, for such a number on
/// Intel CPUs, the call itself raised #GP with nothing pushed. It is one only
/// if this address space was patched and the `call` is one of its sites: the
/// site and the RSP before the `call`. Any other fault is handled as such (a
/// NULL function pointer called elsewhere is SIGSEGV, as on Linux).
fn zpoline_site(frame: &TrapFrame, task: &crate::process::Task) -> Option<(u64, u64)> {
    let (site, entry_rsp) = if frame.rip == frame.rax {
        let mut ret = [0u8; 8];
        copy_from_user(&mut ret, frame.rsp).ok()?;
        (u64::from_le_bytes(ret).wrapping_sub(2), frame.rsp.wrapping_add(8))
    } else if frame.vector == 13 {
        (frame.rip, frame.rsp)
    } else {
        return None;
    };
    let patched = task.with_mm(|mm| mm.zpoline().is_some_and(|z| z.is_site(site)))?;
    patched.then_some((site, entry_rsp))
}

/// Run the system call of patched site `site` (see [`zpoline_site`]): as
/// through the AT_SYSINFO gate, return straight to the instruction after the
/// site, the return address popped; a restart re-executes the `call`.
fn zpoline_syscall(frame: &mut TrapFrame, site: u64, entry_rsp: u64) {
    ctr::cpu_add(cpu_id(), ctr::CPU_ZPOLINE_ENTRIES, 1);
    frame.rip = site + 2;
    frame.rsp = entry_rsp;
    crate::syscall::do_syscall(frame, site, entry_rsp);
}

/// Whether `addr` is canonical (4-level paging: bits 63..47 all equal), so
/// that the CPU can return to ring 3 there; elsewhere `iretq` (and on Intel
/// `sysretq`) faults in ring 0.
pub fn is_canonical(addr: u64) -> bool {
    ((addr as i64) << 16 >> 16) as u64 == addr
}

/// The task was about to return to user mode at an address the CPU refuses
/// (not canonical): SIGSEGV, as Linux's fixup of a faulting `iretq` gives
/// (`fixup_bad_iret`: a #GP from user mode, si_code SI_KERNEL).
fn bad_return_address() {
    let task = crate::process::current().expect("a user return without a task");
    let info = SigInfo { code: signal::SI_KERNEL, trapno: 13, ..Default::default() };
    signal::force_sig_info(&task, SIGSEGV, info);
}

/// The program executed `syscall` where the kernel does not take it: on a host
/// where it does not reach the kernel (it lands at the kernel's entry still in
/// ring 3), or with `syscall=int3`. Kill it with SIGSYS and say why.
fn raw_syscall_refused(frame: &TrapFrame, forced: bool) {
    let task = crate::process::current().unwrap();
    if forced {
        crate::println!(
            "kernel: pid {} ({}): killed by SIGSYS: it executed the syscall instruction at {:#x}, \
             which this kernel does not take (syscall=int3); enter the kernel through the \
             AT_SYSINFO entry instead",
            task.pid(),
            task.comm(),
            frame.rip.wrapping_sub(2)
        );
    } else {
        crate::println!(
            "kernel: pid {} ({}): killed by SIGSYS: it executed the syscall instruction (return \
             address {:#x}), which this host's KVM does not deliver to the kernel; enter the \
             kernel through the AT_SYSINFO entry instead",
            task.pid(),
            task.comm(),
            frame.rcx
        );
    }
    // Not catchable: the saved user RIP is the kernel's entry, not the program's.
    task.fatal_signal.store(SIGSYS, Ordering::Relaxed);
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
    crate::sched::exit_current::<crate::process::PosixThread>();
}

static PROBE_RESULT: AtomicU64 = AtomicU64::new(0);

/// A system call made with the `syscall` instruction (where it works).
pub fn syscall_insn(frame: &mut TrapFrame) {
    let probe = crate::process::current().expect("a system call without a task").probe;
    if probe {
        let ok = frame.rax == PROBE_SYSCALL_NR && frame.rcx == PROBE_AFTER_SYSCALL;
        PROBE_RESULT.store(ok as u64, Ordering::Relaxed);
        return;
    }
    if !uses_syscall_insn() {
        raw_syscall_refused(frame, true);
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

/// Whether a return from a `syscall` entry may use `sysretq` (Linux
/// `syscall_return_slowpath`'s checks): `sysretq` loads RIP from rcx and RFLAGS
/// from r11, so they must hold what the frame says; it cannot restore RF and
/// would trap at once with TF; and on Intel CPUs it faults in ring 0, on the
/// user's stack, when RIP is not canonical. Everything else returns by `iretq`.
pub fn sysret_allowed(frame: &TrapFrame) -> bool {
    use protocol::boot::selectors::{USER_CS, USER_DS};
    const TF: u64 = 1 << 8;
    const RF: u64 = 1 << 16;
    frame.rcx == frame.rip
        && frame.r11 == frame.rflags
        && frame.cs == USER_CS as u64
        && frame.ss == USER_DS as u64
        && frame.rip < crate::arch::uaccess::USER_TOP
        && frame.rflags & (TF | RF) == 0
}

/// A system call through the `int3` gate (from ring 3; see `arch`'s
/// `do_trap`).
#[inline(always)]
pub fn syscall_gate(frame: &mut TrapFrame) {
    gate_entry(frame, GATE_INT3);
}

/// The timer tick (`user`: it interrupted user mode): the scheduler's, then
/// the interval timers' (real ones due, CPU time charged to the process),
/// then the POSIX timers'.
pub fn timer_tick(user: bool) {
    // One clock read and one look at the running task for all of it (in
    // ring 0 here, each instruction is emulated).
    let tsc = crate::arch::rdtsc();
    let now = crate::time::monotonic_ns_at(tsc);
    crate::sched::scheduler_tick::<crate::process::PosixThread>(tsc, now);
    let task = crate::process::current();
    crate::process::itimer::tick(user, now, task.as_ref());
    crate::process::posix_timers::tick(now, task.as_ref());
}

/// Work before returning to user mode: a pending fatal signal ends the task; a
/// task whose time slice ended yields (Linux `exit_to_user_mode_loop`). The
/// return address is checked last, whatever set it (a gate's caller, a signal
/// handler, `rt_sigreturn`): the CPU cannot return to a non-canonical one.
///
/// As Linux's `exit_to_user_mode_prepare`, the common case — nothing to do —
/// is a few loads inlined into every way back; the loop is out of line
/// (docs/hosts.md rule 1: each ring-0 instruction counts on every system call).
#[inline(always)]
pub fn exit_to_user_mode(frame: &mut TrapFrame) {
    if let Some(task) = crate::process::current() {
        let idle = task.fatal_signal.load(Ordering::Relaxed) == 0
            && task.jobctl.load(Ordering::Relaxed) & crate::process::jobctl::JOBCTL_WORK_MASK == 0
            && signal::next_signal(signal::takeable(&task), task.blocked.load(Ordering::Acquire))
                .is_none()
            && !task.restart_pending.load(Ordering::Relaxed)
            && !task.restore_sigmask.load(Ordering::Relaxed)
            && !task.need_resched.load(Ordering::Relaxed)
            && is_canonical(frame.rip);
        drop(task);
        if idle {
            return;
        }
    }
    exit_to_user_mode_loop(frame)
}

#[inline(never)]
fn exit_to_user_mode_loop(frame: &mut TrapFrame) {
    loop {
        let Some(task) = crate::process::current() else { return };
        let sig = task.fatal_signal.load(Ordering::Relaxed);
        if sig != 0 {
            drop(task);
            // A fatal signal ends the whole thread group (Linux: do_group_exit).
            crate::process::exit::do_group_exit(signal::death_reason(sig));
        }
        match signal::do_signal(&task, frame) {
            signal::Delivery::Handled => continue,
            signal::Delivery::GroupExit(reason) => {
                drop(task);
                crate::process::exit::do_group_exit(reason);
            }
            signal::Delivery::Nothing => {}
        }
        let resched = task.need_resched.load(Ordering::Relaxed);
        drop(task);
        if resched {
            crate::sched::schedule::<crate::process::PosixThread>();
            continue;
        }
        if !is_canonical(frame.rip) {
            bad_return_address();
            continue;
        }
        return;
    }
}

/// A page fault in the kernel's user-copy routine at user address `addr`:
/// true if resolved (the copy is retried), false to fail it with EFAULT.
pub fn uaccess_fault(addr: u64, error_code: u64) -> bool {
    let Some(task) = crate::process::current() else { return false };
    let Some(mm) = task.mm() else { return false };
    let ok = mm.handle_fault(addr, error_code & PF_WRITE != 0, false).is_ok();
    if ok {
        task.min_flt.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    ok
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
