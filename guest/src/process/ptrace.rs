//! Process tracing (Linux `kernel/ptrace.c`, the ptrace parts of
//! `kernel/signal.c` — `ptrace_stop`, `ptrace_do_notify`, `ptrace_signal`,
//! `do_jobctl_trap` — and `include/linux/ptrace.h`'s `ptrace_event`,
//! `ptrace_init_task`).
//!
//! A traced task has a tracer (a task, Linux `task->parent`) besides its
//! real parent, flags and options in `ptrace` (Linux `task->ptrace`), and
//! the state of its stops in `pt`. It stops in TASK_TRACED at a
//! signal-delivery stop (every signal but SIGKILL, the tracer choosing what
//! is delivered), at an event (fork, vfork, clone, exec, exit, vfork-done,
//! when the option asks for it), at a group stop and, seized, at
//! PTRACE_INTERRUPT or its first return to user mode (PTRACE_EVENT_STOP).
//! The tracer's `wait4` reports each stop as Linux encodes it, and its exit
//! detaches its tracees (or kills them, PTRACE_O_EXITKILL).
//!
//! The pure parts (flags, the event a clone reports, status words, the
//! registers' checks) are host-tested; the rest runs in the kernel.

use crate::process::clone_flags::CloneFlags;
use crate::process::signal::{SIGCHLD, SIGTRAP};
pub use uapi::ptrace::*;

/// Linux `PT_PTRACED`: the task is traced.
pub const PT_PTRACED: u32 = 0x0000_0001;
/// Linux `PT_SEIZED`: attached with PTRACE_SEIZE.
pub const PT_SEIZED: u32 = 0x0001_0000;
/// The options are kept shifted by this (Linux `PT_OPT_FLAG_SHIFT`).
pub const PT_OPT_FLAG_SHIFT: u32 = 3;
/// Linux `PT_EXITKILL`.
pub const PT_EXITKILL: u32 = PTRACE_O_EXITKILL << PT_OPT_FLAG_SHIFT;

/// Linux `PT_EVENT_FLAG(event)`: the flag of the option that enables `event`.
pub const fn pt_event_flag(event: u32) -> u32 {
    1 << (PT_OPT_FLAG_SHIFT + event)
}

/// Linux `ptrace_event_enabled`.
pub fn ptrace_event_enabled(ptrace: u32, event: u32) -> bool {
    ptrace & pt_event_flag(event) != 0
}

/// `kernel_clone`'s choice of the event a clone reports to the tracer of its
/// caller (traced with flags `ptrace`): none for CLONE_UNTRACED or when the
/// option is off; VFORK for vfork, CLONE when the exit signal is not
/// SIGCHLD (threads included), else FORK.
pub fn clone_event(flags: CloneFlags, exit_signal: u32, ptrace: u32) -> u32 {
    if flags.contains(CloneFlags::CLONE_UNTRACED) {
        return 0;
    }
    let trace = if flags.contains(CloneFlags::CLONE_VFORK) {
        PTRACE_EVENT_VFORK
    } else if exit_signal != SIGCHLD {
        PTRACE_EVENT_CLONE
    } else {
        PTRACE_EVENT_FORK
    };
    if ptrace_event_enabled(ptrace, trace) {
        trace
    } else {
        0
    }
}

/// The new flags of a tracee after PTRACE_SETOPTIONS with `data`, or None
/// (EINVAL) for an unknown option.
pub fn set_options(ptrace: u32, data: u64) -> Option<u32> {
    if data & !u64::from(PTRACE_O_MASK) != 0 {
        return None;
    }
    let flags = ptrace & !(PTRACE_O_MASK << PT_OPT_FLAG_SHIFT);
    Some(flags | ((data as u32) << PT_OPT_FLAG_SHIFT))
}

/// The flags of a tracee attached with PTRACE_SEIZE (options `data`) or
/// PTRACE_ATTACH; None (EIO) for an unknown option or an address (Linux).
pub fn attach_flags(seize: bool, addr: u64, data: u64) -> Option<u32> {
    if !seize {
        return Some(PT_PTRACED);
    }
    if addr != 0 || data & !u64::from(PTRACE_O_MASK) != 0 {
        return None;
    }
    Some(PT_PTRACED | PT_SEIZED | ((data as u32) << PT_OPT_FLAG_SHIFT))
}

/// The code of an event stop (Linux `ptrace_event`: `SIGTRAP | event << 8`).
pub const fn event_exit_code(event: u32) -> u32 {
    SIGTRAP | (event << 8)
}

/// `wait4`'s status for a ptrace stop with code `exit_code`
/// (`status >> 8 == SIGTRAP | PTRACE_EVENT_x << 8` for an event).
pub const fn traced_wait_status(exit_code: u32) -> i32 {
    ((exit_code as i32) << 8) | 0x7f
}

/// Whether PTRACE_LISTEN may begin (Linux `ptrace_request`): only for a
/// seized tracee whose current trap's siginfo (`si_code`, if it has one) is
/// a PTRACE_EVENT_STOP — a group stop's, an interrupt's, a notify's; EIO
/// otherwise (a signal-delivery stop, another event, an attached tracee).
pub fn may_listen(ptrace: u32, si_code: Option<i32>) -> bool {
    ptrace & PT_SEIZED != 0 && si_code.is_some_and(|c| c >> 8 == PTRACE_EVENT_STOP as i32)
}

/// A valid signal for a resume or a detach (Linux `valid_signal`: 0..=64).
pub fn valid_signal(data: u64) -> bool {
    data <= u64::from(crate::process::signal::_NSIG)
}

/// The size of x86-64 `struct user` (PEEKUSER's range) and where its debug
/// registers are.
pub const USER_SIZE: u64 = 912;
pub const USER_DEBUGREG: u64 = 848;
/// Words of `struct user_regs_struct`.
pub const REGS_WORDS: usize = 27;

/// The user-mode flags a tracer may change (Linux `FLAG_MASK`: CF, PF, AF,
/// ZF, SF, TF, DF, OF, RF, AC).
pub const FLAG_MASK: u64 =
    0x0001 | 0x0004 | 0x0010 | 0x0040 | 0x0080 | 0x0100 | 0x0400 | 0x0800 | 0x1_0000 | 0x4_0000;

/// Linux `invalid_selector`: a segment selector user mode may hold has RPL 3
/// (or is null).
pub fn invalid_selector(v: u64) -> bool {
    v > 0xffff || (v != 0 && v & 3 != 3)
}

/// Why a register write is refused: EIO (Linux `putreg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadReg;

/// Linux `putreg` for word `index` of `user_regs_struct`: `user_cs` and
/// `user_ss` are the only code and stack segments (no 32-bit segments
/// here); the FS and GS bases are below TASK_SIZE_MAX (`user_top`), or the
/// kernel's wrmsr at the switch-in would fault; the flags keep what user
/// mode may not change; data segment selectors must be null or RPL 3 (they
/// are not kept: 64-bit tasks run with null ones).
pub fn putreg(
    r: &mut user_regs_struct,
    index: usize,
    value: u64,
    user_cs: u64,
    user_ss: u64,
    user_top: u64,
) -> Result<(), BadReg> {
    let mut w = r.to_words();
    match index {
        // cs, ss: Linux `set_segment_reg` (a null one is EIO).
        17 | 20 => {
            if invalid_selector(value) || value == 0 {
                return Err(BadReg);
            }
            let want = if index == 17 { user_cs } else { user_ss };
            if value != want {
                return Err(BadReg);
            }
        }
        // fs_base, gs_base.
        21 | 22 if value >= user_top => return Err(BadReg),
        // eflags: Linux `set_flags`.
        18 => {
            w[18] = (w[18] & !FLAG_MASK) | (value & FLAG_MASK);
            *r = user_regs_struct::from_words(&w);
            return Ok(());
        }
        // ds, es, fs, gs.
        23..=26 => {
            if invalid_selector(value) {
                return Err(BadReg);
            }
            return Ok(());
        }
        i if i >= REGS_WORDS => return Err(BadReg),
        _ => {}
    }
    w[index] = value;
    *r = user_regs_struct::from_words(&w);
    Ok(())
}

#[cfg(target_os = "none")]
pub use kernel::*;

#[cfg(target_os = "none")]
mod kernel {
    use alloc::sync::Arc;
    use core::sync::atomic::Ordering;

    use super::*;
    use crate::arch::TrapFrame;
    use crate::errno::{Errno, EFAULT, EINVAL, EIO, EPERM, ESRCH};
    use crate::process::signal::{
        fatal_signal_pending, send_signal_force, sigmask, SigInfo, CLD_STOPPED, CLD_TRAPPED,
        SIGKILL, SIGSTOP, SI_KERNEL, SI_USER,
    };
    use crate::process::table;
    use crate::process::task::{Task, TASK_RUNNING};
    use crate::sched::TASK_TRACED;

    /// The ptrace state of a task (Linux: `task->parent` when traced,
    /// `exit_code`, `last_siginfo`, `ptrace_message`, JOBCTL_TRACED), under
    /// its own lock, taken after the group's job-control lock.
    #[derive(Default)]
    pub struct PtraceState {
        /// The tracer (a task's number in the initial namespace; 0: none).
        pub tracer: u32,
        /// The stop's code (Linux `exit_code`): what wait reports (then 0),
        /// and what the tracer resumes it with (the signal to deliver).
        pub exit_code: u32,
        /// Stopped for the tracer (Linux JOBCTL_TRACED).
        pub stopped: bool,
        /// PTRACE_GETEVENTMSG's value.
        pub message: u64,
        /// The signal and siginfo of the stop (Linux `last_siginfo`).
        pub siginfo: Option<(u32, SigInfo)>,
        /// The user registers while stopped (written back when it resumes;
        /// boxed: an untraced task carries a null pointer, not a frame)
        /// and orig_rax.
        pub regs: Option<alloc::boxed::Box<TrapFrame>>,
        pub orig_rax: u64,
        /// The registers can be changed (false at a stop taken on a path
        /// that does not return to user mode with them: the exit).
        pub regs_writable: bool,
    }

    /// The tracer of `task`, if traced.
    pub fn tracer_of(task: &Task) -> Option<Arc<Task>> {
        if task.ptrace.load(Ordering::Acquire) == 0 {
            return None;
        }
        let t = task.pt.lock().tracer;
        table::find(t)
    }

    /// The tracer's pid as `task`'s namespace sees it (`/proc/PID/status`
    /// TracerPid; 0 if none).
    pub fn tracer_pid(task: &Task) -> u32 {
        tracer_of(task).map_or(0, |t| t.tgid_nr_ns(task.pid_ns()))
    }

    /// Linux `__ptrace_link`, under the task-list lock.
    fn ptrace_link(child: &Arc<Task>, tracer: &Arc<Task>, flags: u32) {
        child.pt.lock().tracer = tracer.pid();
        child.ptrace.store(flags, Ordering::Release);
        tracer.ptraced.lock().push(child.clone());
    }

    /// Linux `__ptrace_unlink`, under the task-list lock: no longer traced;
    /// a stopped tracee resumes (with what its `exit_code` holds), and one
    /// of a stopped group goes back to the group stop.
    pub fn ptrace_unlink(child: &Arc<Task>) {
        if child.ptrace.swap(0, Ordering::AcqRel) == 0 {
            return;
        }
        let tracer = core::mem::take(&mut child.pt.lock().tracer);
        if let Some(t) = table::find(tracer) {
            t.ptraced.lock().retain(|c| !Arc::ptr_eq(c, child));
        }
        use crate::process::jobctl::*;
        let g = child.group.jobctl.lock();
        let mut j = child.jobctl.load(Ordering::Relaxed);
        j &= !(JOBCTL_TRAP_STOP | JOBCTL_TRAP_NOTIFY | JOBCTL_LISTENING);
        if !child.exiting.load(Ordering::Acquire)
            && (g.flags & SIGNAL_STOP_STOPPED != 0 || g.group_stop_count != 0)
        {
            j |= JOBCTL_STOP_PENDING;
            if j & JOBCTL_STOP_SIGMASK == 0 {
                j |= g.group_exit_code & JOBCTL_STOP_SIGMASK;
            }
        }
        child.jobctl.store(j, Ordering::Relaxed);
        let mut pt = child.pt.lock();
        let was_stopped = core::mem::replace(&mut pt.stopped, false);
        drop(pt);
        drop(g);
        if was_stopped {
            crate::sched::wake_up_state(child, TASK_TRACED);
        } else if j & JOBCTL_STOP_PENDING != 0 {
            crate::sched::wake_up(child);
        }
    }

    /// `ptrace(PTRACE_TRACEME)`: the caller is traced by its parent.
    fn ptrace_traceme(me: &Arc<Task>) -> Result<u64, Errno> {
        let _tasklist = table::TASKLIST.lock();
        if me.ptrace.load(Ordering::Acquire) != 0 {
            return Err(EPERM);
        }
        let parent = table::find(me.ppid.load(Ordering::Relaxed)).ok_or(EPERM)?;
        if parent.exiting.load(Ordering::Acquire) {
            return Err(EPERM);
        }
        ptrace_link(me, &parent, PT_PTRACED);
        Ok(0)
    }

    /// Linux `__ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS)`: root, or
    /// the caller's real ids are the target's real, effective and saved ones.
    fn may_access(me: &Task, t: &Task) -> bool {
        let (c, tc) = (me.creds(), t.creds());
        if c.euid == 0 {
            return true;
        }
        [tc.uid, tc.euid, tc.suid].iter().all(|&u| u == c.uid)
            && [tc.gid, tc.egid, tc.sgid].iter().all(|&g| g == c.gid)
    }

    /// `ptrace(PTRACE_ATTACH or PTRACE_SEIZE)` (Linux `ptrace_attach`).
    fn ptrace_attach(
        me: &Arc<Task>,
        child: &Arc<Task>,
        seize: bool,
        addr: u64,
        data: u64,
    ) -> Result<u64, Errno> {
        let flags = attach_flags(seize, addr, data).ok_or(EIO)?;
        if child.kthread || child.tgid == me.tgid {
            return Err(EPERM);
        }
        if !may_access(me, child) {
            return Err(EPERM);
        }
        {
            let _tasklist = table::TASKLIST.lock();
            if child.exiting.load(Ordering::Acquire) || child.exited.load(Ordering::Acquire) {
                return Err(EPERM);
            }
            if child.ptrace.load(Ordering::Acquire) != 0 {
                return Err(EPERM);
            }
            ptrace_link(child, me, flags);
        }
        if !seize {
            let info = SigInfo { code: SI_KERNEL, ..Default::default() };
            send_signal_force(child, SIGSTOP, info, true);
        }
        // A task already stopped re-traps into TASK_TRACED (Linux: JOBCTL_TRAP_STOP
        // and a wake-up of the stopped task).
        use crate::process::jobctl::*;
        let g = child.group.jobctl.lock();
        let j = child.jobctl.load(Ordering::Relaxed);
        if j & JOBCTL_STOPPED != 0 && !child.exiting.load(Ordering::Acquire) {
            child.jobctl.store((j & !JOBCTL_STOPPED) | JOBCTL_TRAP_STOP, Ordering::Relaxed);
            drop(g);
            crate::sched::wake_up_state(child, crate::sched::TASK_STOPPED);
        }
        Ok(0)
    }

    /// Linux `ptrace_check_attach`: `child` is traced by the caller and
    /// (unless `ignore_state`) stopped for it — in TASK_TRACED and not
    /// listening (Linux `ptrace_freeze_traced`); else ESRCH.
    fn ptrace_check_attach(me: &Task, child: &Task, ignore_state: bool) -> Result<(), Errno> {
        if child.ptrace.load(Ordering::Acquire) == 0 {
            return Err(ESRCH);
        }
        let listening =
            child.jobctl.load(Ordering::Relaxed) & crate::process::jobctl::JOBCTL_LISTENING != 0;
        let pt = child.pt.lock();
        if pt.tracer != me.pid() || !(ignore_state || (pt.stopped && !listening)) {
            return Err(ESRCH);
        }
        Ok(())
    }

    /// Linux `ptrace_signal_wake_up`, under the group's job-control lock:
    /// `resume` takes the tracee out of its trap (Linux clears JOBCTL_TRACED
    /// and wakes __TASK_TRACED) to trap again; else it is woken from an
    /// interruptible sleep, to trap on its way to user mode.
    pub fn ptrace_signal_wake_up(t: &Arc<Task>, resume: bool) {
        if resume {
            t.pt.lock().stopped = false;
            crate::sched::wake_up_state(t, TASK_TRACED);
        } else {
            crate::sched::wake_up(t);
        }
    }

    /// Linux `ptrace_trap_notify`, under the group's job-control lock: seized
    /// tracee `t` is to tell its tracer of a change of the group stop's state
    /// (a SIGCONT, a new group stop) with a PTRACE_EVENT_STOP trap: at its
    /// next way to user mode if it runs, at once if it listens, after its
    /// current trap otherwise. False (nothing set) if it is dying.
    pub fn ptrace_trap_notify(t: &Arc<Task>) -> bool {
        use crate::process::jobctl::*;
        let mut j = t.jobctl.load(Ordering::Relaxed);
        let dying = fatal_signal_pending(t) || t.exiting.load(Ordering::Acquire);
        if !task_set_jobctl_pending(&mut j, JOBCTL_TRAP_NOTIFY, dying) {
            return false;
        }
        t.jobctl.store(j, Ordering::Relaxed);
        ptrace_signal_wake_up(t, j & JOBCTL_LISTENING != 0);
        true
    }

    /// The `ptrace` system call (Linux `sys_ptrace`, `arch_ptrace`,
    /// `ptrace_request`).
    pub fn sys_ptrace(request: u64, pid: i64, addr: u64, data: u64) -> Result<u64, Errno> {
        let me = crate::process::current().expect("ptrace without a task");
        let request = u32::try_from(request).map_err(|_| EIO)?;
        if request == PTRACE_TRACEME {
            return ptrace_traceme(&me);
        }
        let child =
            u32::try_from(pid).ok().and_then(|nr| table::find_in(me.pid_ns(), nr)).ok_or(ESRCH)?;
        if request == PTRACE_ATTACH || request == PTRACE_SEIZE {
            return ptrace_attach(&me, &child, request == PTRACE_SEIZE, addr, data);
        }
        let ignore_state = request == PTRACE_KILL || request == PTRACE_INTERRUPT;
        ptrace_check_attach(&me, &child, ignore_state)?;
        match request {
            PTRACE_PEEKTEXT | PTRACE_PEEKDATA => {
                let mut b = [0u8; 8];
                child.mm().ok_or(EIO)?.access_remote_vm(addr, &mut b, false)?;
                crate::uaccess::write_bytes(data, &b)?;
                Ok(0)
            }
            PTRACE_POKETEXT | PTRACE_POKEDATA => {
                let mut b = data.to_le_bytes();
                child.mm().ok_or(EIO)?.access_remote_vm(addr, &mut b, true)?;
                Ok(0)
            }
            PTRACE_PEEKUSR => {
                if addr & 7 != 0 || addr >= USER_SIZE {
                    return Err(EIO);
                }
                let v = if addr < (REGS_WORDS * 8) as u64 {
                    getregs(&child)?.to_words()[addr as usize / 8]
                } else {
                    0
                };
                crate::uaccess::write_bytes(data, &v.to_le_bytes())?;
                Ok(0)
            }
            PTRACE_POKEUSR => {
                if addr & 7 != 0 || addr >= (REGS_WORDS * 8) as u64 {
                    return Err(EIO);
                }
                setregs_words(&child, &[(addr as usize / 8, data)])
            }
            PTRACE_GETREGS => {
                let r = getregs(&child)?;
                let mut b = [0u8; REGS_WORDS * 8];
                for (i, w) in r.to_words().iter().enumerate() {
                    b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
                }
                crate::uaccess::write_bytes(data, &b)?;
                Ok(0)
            }
            PTRACE_SETREGS => {
                let w = crate::uaccess::read_u64s::<REGS_WORDS>(data)?;
                let words: alloc::vec::Vec<(usize, u64)> = w.iter().copied().enumerate().collect();
                setregs_words(&child, &words)
            }
            PTRACE_GETSIGINFO => {
                let si = child.pt.lock().siginfo;
                let (sig, info) = si.ok_or(EINVAL)?;
                crate::uaccess::write_bytes(
                    data,
                    &crate::process::signal::siginfo_bytes(sig, &info),
                )?;
                Ok(0)
            }
            PTRACE_SETSIGINFO => {
                let b = crate::uaccess::read_bytes(data, 128)?;
                let word = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap());
                let sig = word(0) as u32;
                let info = SigInfo {
                    code: word(8),
                    pid: word(16) as u32,
                    uid: word(20) as u32,
                    status: word(24),
                    addr: u64::from_le_bytes(b[16..24].try_into().unwrap()),
                    ..Default::default()
                };
                let mut pt = child.pt.lock();
                if pt.siginfo.is_none() {
                    return Err(EINVAL);
                }
                pt.siginfo = Some((sig, info));
                Ok(0)
            }
            PTRACE_SETOPTIONS => {
                let _tasklist = table::TASKLIST.lock();
                let flags =
                    set_options(child.ptrace.load(Ordering::Acquire), data).ok_or(EINVAL)?;
                child.ptrace.store(flags, Ordering::Release);
                Ok(0)
            }
            PTRACE_GETEVENTMSG => {
                let m = child.pt.lock().message;
                crate::uaccess::write_bytes(data, &m.to_le_bytes()).map_err(|_| EFAULT)?;
                Ok(0)
            }
            PTRACE_CONT => {
                if !valid_signal(data) {
                    return Err(EIO);
                }
                ptrace_resume(&child, data as u32);
                Ok(0)
            }
            PTRACE_KILL => {
                let info = SigInfo { code: SI_KERNEL, ..Default::default() };
                send_signal_force(&child, SIGKILL, info, true);
                Ok(0)
            }
            PTRACE_DETACH => {
                if !valid_signal(data) {
                    return Err(EIO);
                }
                let _tasklist = table::TASKLIST.lock();
                child.pt.lock().exit_code = data as u32;
                ptrace_unlink(&child);
                Ok(0)
            }
            PTRACE_INTERRUPT => {
                if child.ptrace.load(Ordering::Acquire) & PT_SEIZED == 0 {
                    return Err(EIO);
                }
                use crate::process::jobctl::{JOBCTL_LISTENING, JOBCTL_TRAP_STOP};
                let _g = child.group.jobctl.lock();
                let dying = child.exiting.load(Ordering::Acquire) || fatal_signal_pending(&child);
                if !dying {
                    let j = child.jobctl.fetch_or(JOBCTL_TRAP_STOP, Ordering::Relaxed);
                    // The current trap is not disturbed, but for a
                    // LISTENing one: that one traps again at once.
                    ptrace_signal_wake_up(&child, j & JOBCTL_LISTENING != 0);
                }
                Ok(0)
            }
            PTRACE_LISTEN => {
                use crate::process::jobctl::{JOBCTL_LISTENING, JOBCTL_TRAP_NOTIFY};
                let _g = child.group.jobctl.lock();
                let si_code = child.pt.lock().siginfo.map(|(_, i)| i.code);
                if !may_listen(child.ptrace.load(Ordering::Acquire), si_code) {
                    return Err(EIO);
                }
                let j = child.jobctl.fetch_or(JOBCTL_LISTENING, Ordering::Relaxed);
                // The group stop's state changed since this trap began:
                // trap again for it at once.
                if j & JOBCTL_TRAP_NOTIFY != 0 {
                    ptrace_signal_wake_up(&child, true);
                }
                Ok(0)
            }
            _ => Err(EIO),
        }
    }

    /// Linux `ptrace_resume` (PTRACE_CONT): `child` goes on, delivering `sig`.
    fn ptrace_resume(child: &Arc<Task>, sig: u32) {
        let mut pt = child.pt.lock();
        pt.exit_code = sig;
        pt.stopped = false;
        drop(pt);
        crate::sched::wake_up_state(child, TASK_TRACED);
    }

    /// The stopped tracee's registers (Linux `getreg` of each).
    fn getregs(child: &Task) -> Result<user_regs_struct, Errno> {
        let pt = child.pt.lock();
        let f = pt.regs.as_ref().ok_or(ESRCH)?;
        Ok(user_regs_struct {
            r15: f.r15,
            r14: f.r14,
            r13: f.r13,
            r12: f.r12,
            rbp: f.rbp,
            rbx: f.rbx,
            r11: f.r11,
            r10: f.r10,
            r9: f.r9,
            r8: f.r8,
            rax: f.rax,
            rcx: f.rcx,
            rdx: f.rdx,
            rsi: f.rsi,
            rdi: f.rdi,
            orig_rax: pt.orig_rax,
            rip: f.rip,
            cs: f.cs,
            eflags: f.rflags,
            rsp: f.rsp,
            ss: f.ss,
            fs_base: child.fs_base.load(Ordering::Relaxed),
            gs_base: child.gs_base.load(Ordering::Relaxed),
            ds: 0,
            es: 0,
            fs: 0,
            gs: 0,
        })
    }

    /// Linux `putreg` for each (word, value), in order, stopping at the first
    /// refused one (EIO; those before it are written, as on Linux).
    fn setregs_words(child: &Task, words: &[(usize, u64)]) -> Result<u64, Errno> {
        let mut r = getregs(child)?;
        let user_cs = u64::from(protocol::boot::selectors::USER_CS);
        let user_ss = u64::from(protocol::boot::selectors::USER_DS);
        let top = crate::arch::uaccess::USER_TOP;
        let mut result = Ok(0);
        for &(i, v) in words {
            if putreg(&mut r, i, v, user_cs, user_ss, top).is_err() {
                result = Err(EIO);
                break;
            }
        }
        let mut pt = child.pt.lock();
        if !pt.regs_writable {
            return result;
        }
        pt.orig_rax = r.orig_rax;
        if let Some(f) = pt.regs.as_mut() {
            (f.r15, f.r14, f.r13, f.r12, f.rbp, f.rbx, f.r11, f.r10) =
                (r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10);
            (f.r9, f.r8, f.rax, f.rcx, f.rdx, f.rsi, f.rdi) =
                (r.r9, r.r8, r.rax, r.rcx, r.rdx, r.rsi, r.rdi);
            (f.rip, f.rflags, f.rsp) = (r.rip, r.eflags, r.rsp);
        }
        // The bases are checked (below TASK_SIZE_MAX) before they can reach
        // the MSRs at the tracee's next switch-in.
        child.fs_base.store(r.fs_base, Ordering::Relaxed);
        child.gs_base.store(r.gs_base, Ordering::Relaxed);
        result
    }

    /// Linux `ptrace_stop`: stop in TASK_TRACED with `exit_code` for the
    /// tracer (told with SIGCHLD `why`), until it resumes or detaches the
    /// task or a fatal signal comes. Returns the code it resumed with (the
    /// signal to deliver) and the stop's siginfo as the tracer left it.
    /// `frame`: the user registers, which the tracer may read and change;
    /// None on the way out (exit), where a copy is read.
    pub fn ptrace_stop(
        task: &Arc<Task>,
        exit_code: u32,
        why: i32,
        message: u64,
        info: Option<(u32, SigInfo)>,
        mut frame: Option<&mut TrapFrame>,
        orig_rax: u64,
    ) -> (u32, Option<(u32, SigInfo)>) {
        use crate::process::jobctl::*;
        if task.ptrace.load(Ordering::Acquire) == 0 {
            return (exit_code, info);
        }
        let regs = alloc::boxed::Box::new(match frame.as_deref() {
            Some(f) => *f,
            None => crate::arch::task::Context::own_user_frame_copy(task.kstack.as_ref().unwrap()),
        });
        let gstop_done;
        {
            let mut g = task.group.jobctl.lock();
            if fatal_signal_pending(task) || task.ptrace.load(Ordering::Acquire) == 0 {
                return (exit_code, info);
            }
            let mut own = task.jobctl.load(Ordering::Relaxed);
            gstop_done =
                why == CLD_STOPPED && own & JOBCTL_STOP_PENDING != 0 && g.participate(&mut own);
            own &= !JOBCTL_TRAP_STOP;
            if info.is_some_and(|(_, i)| i.code >> 8 == PTRACE_EVENT_STOP as i32) {
                own &= !JOBCTL_TRAP_NOTIFY;
            }
            task.jobctl.store(own, Ordering::Relaxed);
            let mut pt = task.pt.lock();
            pt.exit_code = exit_code;
            pt.message = message;
            pt.siginfo = info;
            pt.regs = Some(regs);
            pt.orig_rax = orig_rax;
            pt.regs_writable = frame.is_some();
            pt.stopped = true;
            task.state.store(TASK_TRACED, Ordering::Release);
        }
        let code = task.group.jobctl.lock().group_exit_code;
        do_notify_tracer(task, why, exit_code, code);
        if gstop_done && ptrace_reparented(task) {
            crate::process::signal::do_notify_parent_cldstop(task, CLD_STOPPED, code);
        }
        loop {
            crate::sched::schedule::<crate::process::PosixThread>();
            let _g = task.group.jobctl.lock();
            let pt = task.pt.lock();
            if !pt.stopped || fatal_signal_pending(task) {
                task.state.store(TASK_RUNNING, Ordering::Release);
                // LISTENING is set only during a STOP trap: it ends with it.
                task.jobctl.fetch_and(!JOBCTL_LISTENING, Ordering::Relaxed);
                break;
            }
            task.state.store(TASK_TRACED, Ordering::Release);
        }
        let mut pt = task.pt.lock();
        pt.stopped = false;
        let code = core::mem::take(&mut pt.exit_code);
        let info = pt.siginfo.take();
        pt.message = 0;
        let regs = pt.regs.take();
        drop(pt);
        if let (Some(f), Some(r)) = (frame.as_deref_mut(), regs) {
            *f = *r;
        }
        (code, info)
    }

    /// Linux `do_notify_parent_cldstop(task, true, why)`: SIGCHLD to the
    /// tracer (unless it ignores it or set SA_NOCLDSTOP), and its waiters wake.
    /// `group_code`: the group's stop signal (SIGCONT for CLD_CONTINUED).
    pub fn do_notify_tracer(task: &Arc<Task>, why: i32, exit_code: u32, group_code: u32) {
        let _tasklist = table::TASKLIST.lock();
        let Some(tracer) = tracer_of(task) else { return };
        let status = if why == CLD_TRAPPED { exit_code & 0x7f } else { group_code & 0x7f };
        let info = SigInfo {
            code: why,
            pid: task.pid_nr_ns(tracer.pid_ns()),
            uid: task.creds().uid,
            status: status as i32,
            ..Default::default()
        };
        let sa = tracer.sighand().action(SIGCHLD);
        use crate::process::task::SIG_IGN;
        if sa.sa_handler != SIG_IGN && sa.sa_flags & crate::process::signal::SA_NOCLDSTOP == 0 {
            crate::process::signal::send_process_signal(&tracer, SIGCHLD, info, false);
        }
        tracer.wait_chld.wake_all();
    }

    /// Linux `ptrace_reparented`: traced by another process than its real parent.
    fn ptrace_reparented(task: &Task) -> bool {
        let real = table::find(task.ppid.load(Ordering::Relaxed));
        tracer_of(task).is_some_and(|t| real.as_ref().is_none_or(|r| r.tgid != t.tgid))
    }

    /// `get_signal`'s notify-on-wake, for the tracer (Linux: `if
    /// (ptrace_reparented(current->group_leader)) do_notify_parent_cldstop(
    /// current->group_leader, true, why)`): the group leader's tracer hears
    /// of the stop or continue too, unless it is the real parent.
    pub fn notify_tracer_cldstop(task: &Task, why: i32, code: u32) {
        let Some(leader) = table::find(task.tgid) else { return };
        if leader.ptrace.load(Ordering::Acquire) == 0 || !ptrace_reparented(&leader) {
            return;
        }
        let code = if why == crate::process::signal::CLD_CONTINUED {
            crate::process::signal::SIGCONT
        } else {
            code
        };
        do_notify_tracer(&leader, why, 0, code);
    }

    /// Linux `ptrace_do_notify`: a stop with a siginfo of `signr` whose
    /// si_code is the stop's code.
    fn ptrace_do_notify(
        task: &Arc<Task>,
        signr: u32,
        exit_code: u32,
        why: i32,
        message: u64,
        frame: Option<&mut TrapFrame>,
        orig_rax: u64,
    ) {
        let info = SigInfo {
            code: exit_code as i32,
            pid: task.pid_vnr(),
            uid: task.creds().uid,
            ..Default::default()
        };
        ptrace_stop(task, exit_code, why, message, Some((signr, info)), frame, orig_rax);
    }

    /// Linux `ptrace_event`: stop at `event` if the tracer asked for it; an
    /// exec without PTRACE_O_TRACEEXEC sends the legacy SIGTRAP (unless
    /// seized).
    pub fn ptrace_event(
        task: &Arc<Task>,
        event: u32,
        message: u64,
        frame: Option<&mut TrapFrame>,
        orig_rax: u64,
    ) {
        let ptrace = task.ptrace.load(Ordering::Acquire);
        if ptrace_event_enabled(ptrace, event) {
            let code = event_exit_code(event);
            ptrace_do_notify(task, SIGTRAP, code, CLD_TRAPPED, message, frame, orig_rax);
        } else if event == PTRACE_EVENT_EXEC && ptrace & (PT_PTRACED | PT_SEIZED) == PT_PTRACED {
            let info = SigInfo { code: SI_USER, ..Default::default() };
            send_signal_force(task, SIGTRAP, info, true);
        }
    }

    /// Linux `ptrace_event_pid`: the message is `child`'s pid as the
    /// tracer's namespace sees it.
    pub fn ptrace_event_pid(
        task: &Arc<Task>,
        event: u32,
        child: &Task,
        frame: Option<&mut TrapFrame>,
        orig_rax: u64,
    ) {
        let ns = tracer_of(task).map(|t| t.pid_ns().clone());
        let message = ns.map_or(0, |ns| child.pid_nr_ns(&ns));
        ptrace_event(task, event, u64::from(message), frame, orig_rax);
    }

    /// Linux `ptrace_init_task`, under the task-list lock: a child created
    /// by a traced task with CLONE_PTRACE or a traced event is traced by the
    /// same tracer, starting with SIGSTOP (attached) or a
    /// PTRACE_EVENT_STOP trap (seized).
    pub fn ptrace_init_task(child: &Arc<Task>, parent: &Task) {
        let flags = parent.ptrace.load(Ordering::Acquire);
        if flags == 0 {
            return;
        }
        let Some(tracer) = table::find(parent.pt.lock().tracer) else { return };
        ptrace_link(child, &tracer, flags);
        if flags & PT_SEIZED != 0 {
            child.jobctl.fetch_or(crate::process::jobctl::JOBCTL_TRAP_STOP, Ordering::Relaxed);
        } else {
            child.siginfo.lock().set(SIGSTOP, SigInfo { code: SI_KERNEL, ..Default::default() });
            child.pending.fetch_or(sigmask(SIGSTOP), Ordering::AcqRel);
        }
    }

    /// Linux `ptrace_signal`: a signal-delivery stop for `sig`; the tracer's
    /// choice: 0 (suppressed), or the signal (maybe another) with its
    /// siginfo. A signal now blocked is queued again.
    pub fn ptrace_signal(
        task: &Arc<Task>,
        sig: u32,
        info: SigInfo,
        frame: &mut TrapFrame,
    ) -> Option<(u32, SigInfo)> {
        task.jobctl.fetch_or(crate::process::jobctl::JOBCTL_STOP_DEQUEUED, Ordering::Relaxed);
        let orig = orig_rax_of(task);
        let (signr, si) =
            ptrace_stop(task, sig, CLD_TRAPPED, 0, Some((sig, info)), Some(frame), orig);
        if signr == 0 {
            return None;
        }
        let mut info = si.map_or(info, |(_, i)| i);
        if si.is_none_or(|(s, _)| s != signr) {
            // Linux: a signal the tracer changed comes from it (SI_USER).
            let (pid, uid) =
                tracer_of(task).map_or((0, 0), |t| (t.tgid_nr_ns(task.pid_ns()), t.creds().uid));
            info = SigInfo { code: SI_USER, pid, uid, ..Default::default() };
        }
        if task.blocked.load(Ordering::Acquire) & sigmask(signr) != 0 || fatal_signal_pending(task)
        {
            crate::process::signal::send_signal_info(task, signr, info);
            return None;
        }
        Some((signr, info))
    }

    /// Linux `do_jobctl_trap` (JOBCTL_TRAP_STOP or JOBCTL_TRAP_NOTIFY): the
    /// trap of a seized tracee (PTRACE_EVENT_STOP: SIGTRAP outside a group
    /// stop, the stop signal in one) or an attached tracee's group stop.
    pub fn do_jobctl_trap(task: &Arc<Task>, frame: &mut TrapFrame) {
        use crate::process::jobctl::*;
        let mut signr = task.jobctl.load(Ordering::Relaxed) & JOBCTL_STOP_SIGMASK;
        let orig = orig_rax_of(task);
        if task.ptrace.load(Ordering::Acquire) & PT_SEIZED != 0 {
            let g = *task.group.jobctl.lock();
            if g.group_stop_count == 0 && g.flags & SIGNAL_STOP_STOPPED == 0 {
                signr = SIGTRAP;
            }
            if signr == 0 {
                signr = SIGTRAP;
            }
            let code = signr | (PTRACE_EVENT_STOP << 8);
            ptrace_do_notify(task, signr, code, CLD_STOPPED, 0, Some(frame), orig);
        } else {
            if signr == 0 {
                signr = SIGSTOP;
            }
            ptrace_stop(task, signr, CLD_STOPPED, 0, None, Some(frame), orig);
        }
    }

    /// orig_rax as a tracer sees it at a stop on the way to user mode: the
    /// system call being restarted, else -1 (Linux keeps the number of the
    /// last system call; here it is known while a restart is pending).
    fn orig_rax_of(task: &Task) -> u64 {
        if task.restart_pending.load(Ordering::Relaxed) {
            task.syscall_restart.nr()
        } else {
            u64::MAX
        }
    }

    /// The tracer `tracer` is exiting (Linux `exit_ptrace`), under the
    /// task-list lock: each tracee is detached (killed first with
    /// PTRACE_O_EXITKILL); a zombie tracee goes to its real parent. Returns
    /// the zombie threads to release (nobody waits for them).
    pub fn exit_ptrace(tracer: &Arc<Task>) -> alloc::vec::Vec<Arc<Task>> {
        let tracees = core::mem::take(&mut *tracer.ptraced.lock());
        let mut dead = alloc::vec::Vec::new();
        for p in tracees {
            if p.ptrace.load(Ordering::Acquire) & PT_EXITKILL != 0 {
                let info = SigInfo { code: SI_KERNEL, ..Default::default() };
                send_signal_force(&p, SIGKILL, info, true);
            }
            ptrace_unlink(&p);
            if !p.exited.load(Ordering::Acquire) {
                continue;
            }
            if !p.is_group_leader() {
                dead.push(p);
            } else if p.reapable()
                && !table::find(p.ppid.load(Ordering::Relaxed))
                    .is_some_and(|r| r.tgid == tracer.tgid)
            {
                // Linux `__ptrace_detach`: a zombie goes to its real parent
                // (its own child, the exiting tracer hands over with the rest).
                crate::process::exit::notify_parent(&p);
            }
        }
        dead
    }

    /// What the tracer's wait finds of tracee `p` (Linux
    /// `wait_consider_task` with ptrace): its exit (a thread as soon as it
    /// exited, a leader once its group is gone), or a stop not yet
    /// reported, taken unless `nowait`.
    pub fn wait_traced(p: &Task, take: bool, nowait: bool) -> Option<TracedReport> {
        let exited =
            if p.is_group_leader() { p.reapable() } else { p.exited.load(Ordering::Acquire) };
        if exited {
            return Some(TracedReport::Exited);
        }
        // Linux `task_stopped_code`: a LISTENing tracee has nothing to report.
        let listening =
            p.jobctl.load(Ordering::Relaxed) & crate::process::jobctl::JOBCTL_LISTENING != 0;
        let mut pt = p.pt.lock();
        if !pt.stopped || listening || pt.exit_code == 0 {
            return None;
        }
        let code = pt.exit_code;
        if take && !nowait {
            pt.exit_code = 0;
        }
        Some(TracedReport::Stopped(code))
    }

    /// See [`wait_traced`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TracedReport {
        Exited,
        Stopped(u32),
    }

    /// The tracer reaped zombie tracee `p` (Linux `wait_task_zombie`'s
    /// EXIT_TRACE), under the task-list lock: a thread, or a process whose
    /// real parent is the tracer's process, is released; another process
    /// goes to its real parent (reaped at once if that one does not wait).
    /// Returns whether to release it.
    pub fn reap_traced(me: &Task, p: &Arc<Task>) -> bool {
        ptrace_unlink(p);
        if !p.is_group_leader() {
            return true;
        }
        let real = table::find(p.ppid.load(Ordering::Relaxed));
        if real.as_ref().is_some_and(|r| r.tgid == me.tgid) {
            if let Some(r) = real {
                r.children.lock().retain(|c| !Arc::ptr_eq(c, p));
            }
            return true;
        }
        crate::process::exit::notify_parent(p);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_CS: u64 = 0x33;
    const USER_SS: u64 = 0x2b;
    const TOP: u64 = 0x0000_7fff_ffff_f000;

    #[test]
    fn the_event_a_clone_reports() {
        let all = pt_event_flag(PTRACE_EVENT_FORK)
            | pt_event_flag(PTRACE_EVENT_VFORK)
            | pt_event_flag(PTRACE_EVENT_CLONE);
        let f = CloneFlags::empty();
        assert_eq!(clone_event(f, SIGCHLD, all), PTRACE_EVENT_FORK);
        let vfork = CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK;
        assert_eq!(clone_event(vfork, SIGCHLD, all), PTRACE_EVENT_VFORK);
        let thread = CloneFlags::CLONE_VM | CloneFlags::CLONE_THREAD | CloneFlags::CLONE_SIGHAND;
        assert_eq!(clone_event(thread, 0, all), PTRACE_EVENT_CLONE);
        assert_eq!(clone_event(f, crate::process::signal::SIGUSR1, all), PTRACE_EVENT_CLONE);
        assert_eq!(clone_event(f | CloneFlags::CLONE_UNTRACED, SIGCHLD, all), 0);
        // The option for that event is off: no event.
        assert_eq!(clone_event(f, SIGCHLD, pt_event_flag(PTRACE_EVENT_CLONE)), 0);
        assert_eq!(clone_event(vfork, SIGCHLD, pt_event_flag(PTRACE_EVENT_FORK)), 0);
    }

    #[test]
    fn options_and_attach_flags() {
        let o = u64::from(PTRACE_O_TRACEFORK | PTRACE_O_EXITKILL);
        let f = set_options(PT_PTRACED | PT_SEIZED, o).unwrap();
        assert_eq!(f & (PT_PTRACED | PT_SEIZED), PT_PTRACED | PT_SEIZED);
        assert!(ptrace_event_enabled(f, PTRACE_EVENT_FORK));
        assert!(!ptrace_event_enabled(f, PTRACE_EVENT_EXEC));
        assert_eq!(f & PT_EXITKILL, PT_EXITKILL);
        // Options replace the old ones.
        let g = set_options(f, u64::from(PTRACE_O_TRACEEXEC)).unwrap();
        assert!(!ptrace_event_enabled(g, PTRACE_EVENT_FORK) && g & PT_EXITKILL == 0);
        assert!(ptrace_event_enabled(g, PTRACE_EVENT_EXEC));
        assert_eq!(set_options(f, 1 << 30), None);
        assert_eq!(attach_flags(false, 5, 5), Some(PT_PTRACED));
        assert_eq!(attach_flags(true, 1, 0), None, "SEIZE takes no address");
        assert_eq!(attach_flags(true, 0, 1 << 22), None);
        let s = attach_flags(true, 0, u64::from(PTRACE_O_TRACECLONE)).unwrap();
        assert!(s & PT_SEIZED != 0 && ptrace_event_enabled(s, PTRACE_EVENT_CLONE));
        assert!(valid_signal(64) && !valid_signal(65));
    }

    #[test]
    fn status_words_are_linuxs() {
        // WIFSTOPPED, WSTOPSIG = SIGTRAP, status >> 16 = the event.
        let s = traced_wait_status(event_exit_code(PTRACE_EVENT_FORK));
        assert_eq!(s & 0xff, 0x7f);
        assert_eq!((s >> 8) & 0xff, SIGTRAP as i32);
        assert_eq!(s >> 16, PTRACE_EVENT_FORK as i32);
        assert_eq!(s, 0x1_057f);
        let stop = traced_wait_status(crate::process::signal::SIGSTOP | (PTRACE_EVENT_STOP << 8));
        assert_eq!(stop >> 8, 0x8013);
        assert_eq!(traced_wait_status(crate::process::signal::SIGUSR1), 0xa7f);
    }

    #[test]
    fn listen_only_seized_in_a_stop_trap() {
        let seized = PT_PTRACED | PT_SEIZED;
        let stop = |sig: u32| Some((sig | (PTRACE_EVENT_STOP << 8)) as i32);
        assert!(may_listen(seized, stop(crate::process::signal::SIGSTOP)), "a group stop");
        assert!(may_listen(seized, stop(SIGTRAP)), "an interrupt or a notify trap");
        assert!(!may_listen(PT_PTRACED, stop(crate::process::signal::SIGSTOP)), "attached");
        assert!(!may_listen(seized, Some(0)), "a signal-delivery stop (SI_USER)");
        assert!(!may_listen(seized, Some(event_exit_code(PTRACE_EVENT_FORK) as i32)));
        assert!(!may_listen(seized, None), "a stop without siginfo");
    }

    #[test]
    fn putreg_checks_what_reaches_the_cpu() {
        let mut r =
            user_regs_struct { cs: USER_CS, ss: USER_SS, eflags: 0x202, ..Default::default() };
        // General registers and rip: anything (a bad rip is the return path's to refuse).
        assert_eq!(putreg(&mut r, 10, 42, USER_CS, USER_SS, TOP), Ok(()));
        assert_eq!(r.rax, 42);
        assert_eq!(putreg(&mut r, 16, 0x8000_0000_0000_0000, USER_CS, USER_SS, TOP), Ok(()));
        // Bases: below TASK_SIZE_MAX, or EIO.
        assert_eq!(putreg(&mut r, 21, TOP, USER_CS, USER_SS, TOP), Err(BadReg));
        assert_eq!(putreg(&mut r, 22, 0xffff_8000_0000_0000, USER_CS, USER_SS, TOP), Err(BadReg));
        assert_eq!(putreg(&mut r, 21, 0x1000, USER_CS, USER_SS, TOP), Ok(()));
        assert_eq!(r.fs_base, 0x1000);
        // Selectors: RPL 3, not null for cs/ss, and the only user segments here.
        assert_eq!(putreg(&mut r, 17, 0x10, USER_CS, USER_SS, TOP), Err(BadReg));
        assert_eq!(putreg(&mut r, 17, 0, USER_CS, USER_SS, TOP), Err(BadReg));
        assert_eq!(putreg(&mut r, 17, 0x23, USER_CS, USER_SS, TOP), Err(BadReg));
        assert_eq!(putreg(&mut r, 17, USER_CS, USER_CS, USER_SS, TOP), Ok(()));
        assert_eq!(putreg(&mut r, 20, 0x1_002b, USER_CS, USER_SS, TOP), Err(BadReg));
        assert_eq!(putreg(&mut r, 23, 0x8, USER_CS, USER_SS, TOP), Err(BadReg));
        assert_eq!(putreg(&mut r, 23, 0, USER_CS, USER_SS, TOP), Ok(()));
        // Flags: IF, IOPL, VM and the rest stay; TF and the arithmetic ones change.
        assert_eq!(putreg(&mut r, 18, 0x3_3001 | 0x100, USER_CS, USER_SS, TOP), Ok(()));
        assert_eq!(r.eflags, 0x202 | 0x1 | 0x100 | 0x1_0000);
        assert_eq!(putreg(&mut r, 27, 0, USER_CS, USER_SS, TOP), Err(BadReg));
    }
}
