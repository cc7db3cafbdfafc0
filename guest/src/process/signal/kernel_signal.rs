//! Sending and delivering signals (Linux `kernel/signal.c`,
//! `arch/x86/kernel/signal.c`): pending and blocked sets, the x86-64 `rt_sigframe`
//! on the user stack, and `rt_sigreturn`.

use alloc::sync::Arc;
use core::mem::{offset_of, size_of};
use core::sync::atomic::Ordering;

use super::*;
use crate::arch::task::FpuState;
use crate::arch::TrapFrame;
use crate::errno::{Errno, EFAULT, EINVAL, ENOMEM, EPERM};
use crate::process::jobctl::{
    sig_kernel_stop, task_clear_jobctl_pending, GroupJobctl, Peer, JOBCTL_PENDING_MASK,
    JOBCTL_STOPPED, JOBCTL_STOP_DEQUEUED, JOBCTL_STOP_PENDING, SIG_KERNEL_STOP_MASK,
};
use crate::process::task::{sigaction, SIG_DFL, SIG_IGN, TASK_RUNNING, TASK_STOPPED};
use crate::process::{ExitReason, PosixThread, Task};
use uapi::signal::{sigcontext, siginfo_t, stack_t, ucontext};

/// Internal: a blocking call interrupted by a signal, to be restarted if the
/// handler has SA_RESTART (Linux ERESTARTSYS); user space sees EINTR otherwise.
pub const ERESTARTSYS: Errno = Errno(512);

/// Internal: a fork that found a signal pending; it is made again after the
/// signal is handled, whatever the handler's SA_RESTART (Linux ERESTARTNOINTR).
pub const ERESTARTNOINTR: Errno = Errno(513);

/// Internal: a wait for any signal (`pause`, `rt_sigsuspend`): made again if
/// no handler runs, else EINTR whatever SA_RESTART says (Linux ERESTARTNOHAND).
pub const ERESTARTNOHAND: Errno = Errno(514);

/// Internal: an interrupted sleep, continued by `restart_syscall` from the
/// task's restart block if no handler runs, else EINTR (Linux
/// ERESTART_RESTARTBLOCK): a stop and SIGCONT do not cut a nanosleep short.
pub const ERESTART_RESTARTBLOCK: Errno = Errno(516);

fn disposition_ignores(task: &Task, sig: u32) -> bool {
    let a = task.sighand().action(sig);
    a.sa_handler == SIG_IGN
        || (a.sa_handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore)
}

/// Whom a signal is sent to (Linux `enum pid_type`): one thread (tkill,
/// tgkill, a kernel signal to a task) or its whole process (kill, process
/// groups, exit signals), which any of its threads may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidType {
    Pid,
    Tgid,
}

/// Send `sig` to thread `task` (Linux `send_signal` with PIDTYPE_PID).
/// Ignored signals are dropped unless blocked; SIGKILL ends the task's process.
pub fn send_signal_info(task: &Arc<Task>, sig: u32, info: SigInfo) {
    send_signal_force(task, sig, info, info.code == SI_KERNEL);
}

/// `send_signal_info` where `force` says the signal comes from the kernel or
/// from an ancestor PID namespace of the target's (Linux `send_signal_locked`):
/// only then does a namespace's init take SIGKILL. Returns whether the signal
/// was queued (not ignored).
pub fn send_signal_force(task: &Arc<Task>, sig: u32, info: SigInfo, force: bool) -> bool {
    send_signal_locked(task, sig, info, force, PidType::Pid)
}

/// Send `sig` to the process of `task` (Linux `group_send_sig_info`,
/// PIDTYPE_TGID): queued for the process, taken by any thread that does not
/// block it (`complete_signal`), even when `task`, its leader, has exited.
pub fn send_process_signal(task: &Arc<Task>, sig: u32, info: SigInfo, force: bool) -> bool {
    send_signal_locked(task, sig, info, force, PidType::Tgid)
}

/// Linux `send_signal_locked`: `prepare_signal` (drop it if the process is
/// dying or `task` ignores it), queue it for the thread or the process, and
/// `complete_signal` (choose a thread to wake, or kill the whole group).
pub fn send_signal_locked(
    task: &Arc<Task>,
    sig: u32,
    info: SigInfo,
    force: bool,
    ty: PidType,
) -> bool {
    // Kernel threads take no signals (Linux `ignore_signals` in kthreadd).
    if sig == 0 || sig > _NSIG || task.kthread {
        return false;
    }
    // The process is dying (Linux SIGNAL_GROUP_EXIT in `prepare_signal`):
    // nothing more to do.
    if task.group.exit.lock().is_some() {
        return false;
    }
    // Job control (Linux `prepare_signal`), under the group's job-control
    // lock held until the signal is queued: a stop signal discards a pending
    // SIGCONT; SIGCONT discards pending stops and resumes the process, even
    // when it is then ignored or blocked.
    let jobctl = (sig == SIGCONT || sig_kernel_stop(sig)).then(|| prepare_signal_jobctl(task, sig));
    let blocked = task.blocked.load(Ordering::Relaxed) & sigmask(sig) != 0;
    // A namespace's init (SIGNAL_UNKILLABLE) ignores signals it has no handler
    // for, SIGKILL and SIGSTOP included unless forced from outside; the initial
    // namespace's init never takes those two (Linux `sig_task_ignored`). A
    // blocked signal is queued all the same (its handler may change).
    if task.is_ns_init() && !blocked {
        let kernel_only = sig == SIGKILL || sig == SIGSTOP;
        let global_init = task.tgid == 1;
        if global_init && kernel_only {
            return false;
        }
        if task.sighand().action(sig).sa_handler == SIG_DFL && !(force && kernel_only) {
            return false;
        }
    }
    // A tracer hears of ignored signals too (Linux `sig_ignored`).
    if sig != SIGKILL
        && disposition_ignores(task, sig)
        && !blocked
        && task.ptrace.load(Ordering::Relaxed) == 0
    {
        return false;
    }
    // SIGKILL is not queued: `complete_signal` kills the group at once.
    // A standard signal already pending is not queued again: what the first
    // carries stays (Linux `legacy_queue`).
    if sig != SIGKILL {
        match ty {
            PidType::Pid => {
                let mut infos = task.siginfo.lock();
                if !legacy_queue(task.pending.load(Ordering::Acquire), sig) {
                    infos.set(sig, info);
                }
                task.pending.fetch_or(sigmask(sig), Ordering::AcqRel);
            }
            PidType::Tgid => {
                let mut infos = task.group.shared_siginfo.lock();
                if !legacy_queue(task.group.shared_pending.load(Ordering::Acquire), sig) {
                    infos.set(sig, info);
                }
                // SeqCst: see `wants_signal`.
                task.group.shared_pending.fetch_or(sigmask(sig), Ordering::SeqCst);
            }
        }
    }
    drop(jobctl);
    complete_signal(sig, task, ty);
    true
}

/// `prepare_signal`'s job control for a stop signal or SIGCONT sent to
/// `task`'s process; returns the job-control lock, held.
fn prepare_signal_jobctl(task: &Task, sig: u32) -> spin::MutexGuard<'_, GroupJobctl> {
    let group = &task.group;
    let mut g = group.jobctl.lock();
    let threads = crate::process::table::threads_of(group);
    if sig == SIGCONT {
        // Remove every stop signal from every queue and wake every thread.
        group.shared_pending.fetch_and(!SIG_KERNEL_STOP_MASK, Ordering::AcqRel);
        for t in &threads {
            t.pending.fetch_and(!SIG_KERNEL_STOP_MASK, Ordering::AcqRel);
            let mut j = t.jobctl.load(Ordering::Relaxed);
            task_clear_jobctl_pending(&mut j, JOBCTL_STOP_PENDING);
            t.jobctl.store(j & !JOBCTL_STOPPED, Ordering::Relaxed);
            crate::sched::wake_up_state(t, TASK_STOPPED);
            // A seized tracee tells its tracer with a PTRACE_EVENT_STOP trap
            // (Linux `ptrace_trap_notify`; a LISTENing one traps again now).
            if t.ptrace.load(Ordering::Relaxed) & crate::process::ptrace::PT_SEIZED != 0 {
                crate::process::ptrace::ptrace_trap_notify(t);
            }
        }
        // The first thread back from its stop tells the parent (`do_signal`).
        g.sigcont();
    } else {
        let cont = sigmask(SIGCONT);
        group.shared_pending.fetch_and(!cont, Ordering::AcqRel);
        for t in &threads {
            t.pending.fetch_and(!cont, Ordering::AcqRel);
        }
    }
    g
}

/// Whether `t` can take no part in a group stop (Linux: a fatal signal
/// pending, or PF_EXITING).
fn jobctl_dying(t: &Task) -> bool {
    t.fatal_signal.load(Ordering::Relaxed) != 0
        || t.exiting.load(Ordering::Acquire)
        || t.exited.load(Ordering::Acquire)
}

/// Linux `signal_wake_up(t, true)`: a fatal signal also ends a job-control
/// stop. Through the job-control lock, under which a stopping thread parks
/// (`do_signal_stop`): it either sees the fatal signal stored before, or is
/// parked by the time this wakes it.
fn signal_wake_up_fatal(t: &Arc<Task>) {
    drop(t.group.jobctl.lock());
    crate::sched::wake_up(t);
    crate::sched::wake_up_state(t, TASK_STOPPED);
    crate::sched::wake_up_state(t, crate::sched::TASK_TRACED);
}

/// `task`'s exit_group decided the group's status (Linux SIGNAL_GROUP_EXIT
/// in `do_group_exit`): no stop begins or is reported any more; the other
/// threads' pending stops are cleared as they are killed
/// (`exit::zap_other_threads`).
pub fn group_exit_jobctl(task: &Task) {
    task.group.jobctl.lock().group_exit();
    task.jobctl.fetch_and(!JOBCTL_PENDING_MASK, Ordering::Relaxed);
}

/// Whether thread `t` should be woken for `sig` (Linux `wants_signal`): it
/// does not block it, is not exiting, and (but for SIGKILL) is running or
/// has not been woken for a signal already (Linux TIF_SIGPENDING: here its
/// `sigpending` flag, a signal of its own it does not block other than
/// `sig`, or a fatal one; not `sig` itself, just queued for the thread:
/// Linux sets TIF_SIGPENDING for it after this choice).
fn wants_signal(sig: u32, t: &Arc<Task>) -> bool {
    // SeqCst against `set_current_blocked`'s store: either this sees the
    // thread's new mask, or its `recalc_sigpending` sees the signal queued.
    if t.blocked.load(Ordering::SeqCst) & sigmask(sig) != 0 && sig != SIGKILL {
        return false;
    }
    // SeqCst against `synchronize_group_exit`'s store: either this sees the
    // thread exiting, or its exit sees the signal queued and passes it on.
    if t.exiting.load(Ordering::SeqCst) || t.exited.load(Ordering::Acquire) {
        return false;
    }
    if sig == SIGKILL {
        return true;
    }
    // Linux `task_is_stopped_or_traced`: only SIGCONT (in `prepare_signal`)
    // or SIGKILL ends a stop; what else comes waits for it.
    if t.jobctl.load(Ordering::Relaxed) & JOBCTL_STOPPED != 0 {
        return false;
    }
    // Linux `task_curr`: on a CPU now (or switching out).
    let running = t.se.on_cpu.load(Ordering::Acquire);
    let woken = t.fatal_signal.load(Ordering::Relaxed) != 0
        || t.sigpending.load(Ordering::SeqCst)
        || next_signal(
            t.pending.load(Ordering::Acquire) & !sigmask(sig),
            t.blocked.load(Ordering::Acquire),
        )
        .is_some();
    running || !woken
}

/// After queueing `sig` for `p` (Linux `complete_signal`): find a thread that
/// wants it — `p` itself if it does, else (for a process-directed signal)
/// the next thread of the group that does, from the last one chosen on —
/// and wake it. None wants it: it stays pending until a thread unblocks it.
/// A fatal signal (its default action kills, SIGKILL or not) decides the
/// group's exit status and sends SIGKILL to every thread; core-dumping ones
/// are left to the thread that takes them (`do_signal`, `do_group_exit`).
fn complete_signal(sig: u32, p: &Arc<Task>, ty: PidType) {
    let t = if wants_signal(sig, p) {
        p.clone()
    } else if ty == PidType::Pid {
        return;
    } else {
        // Round robin over the group (Linux `signal->curr_target`, `next_thread`).
        let threads = crate::process::table::threads_of(&p.group);
        let tids: alloc::vec::Vec<u32> = threads.iter().map(|t| t.pid()).collect();
        let from = p.group.curr_target.load(Ordering::Relaxed);
        let Some(i) = next_target(&tids, from, |i| wants_signal(sig, &threads[i])) else {
            return;
        };
        p.group.curr_target.store(tids[i], Ordering::Relaxed);
        threads[i].clone()
    };
    let default = p.sighand().action(sig).sa_handler == SIG_DFL;
    // Not for a traced process (Linux: `sig == SIGKILL || !p->ptrace`): its
    // tracer sees the signal first, and may suppress it.
    let traced = sig != SIGKILL && p.ptrace.load(Ordering::Relaxed) != 0;
    if kills_group_at_once(sig, default) && !traced {
        let mut exit = p.group.exit.lock();
        if exit.is_none() {
            *exit = Some(death_reason(sig));
            drop(exit);
            let threads = crate::process::table::threads_of(&p.group);
            {
                // Stops end too (Linux: `group_stop_count = 0`, every
                // thread's JOBCTL_PENDING_MASK cleared, `signal_wake_up(t, 1)`).
                let mut g = p.group.jobctl.lock();
                g.group_exit();
                for t in threads.iter() {
                    t.jobctl.fetch_and(!JOBCTL_PENDING_MASK, Ordering::Relaxed);
                    t.fatal_signal.store(SIGKILL, Ordering::Relaxed);
                }
            }
            for t in threads.iter() {
                crate::sched::wake_up(t);
                crate::sched::wake_up_state(t, TASK_STOPPED);
                crate::sched::wake_up_state(t, crate::sched::TASK_TRACED);
            }
            return;
        }
    }
    signal_wake_up(&t);
    // Linux makes the choice and sets the flag under siglock, which
    // `set_current_blocked` takes too. Here the chosen thread may block `sig`
    // between `wants_signal`'s read of its mask and the flag: it saw no flag
    // and passed nothing on, so the sender does (SeqCst both sides: either
    // the thread sees the flag and retargets, or this sees its new mask).
    if ty != PidType::Pid && blocks_now(&t, sig) {
        retarget_shared_pending(&t, sigmask(sig));
    }
}

/// Whether `t` blocks `sig` now (SIGKILL cannot be blocked).
fn blocks_now(t: &Task, sig: u32) -> bool {
    sig != SIGKILL && t.blocked.load(Ordering::SeqCst) & sigmask(sig) != 0
}

/// Linux `signal_wake_up(t, false)`: `t` is to look at its signals (its
/// `sigpending` flag, set after the signal was queued) and is woken if it
/// sleeps interruptibly.
fn signal_wake_up(t: &Arc<Task>) {
    t.sigpending.store(true, Ordering::SeqCst);
    crate::sched::wake_up(t);
}

/// Linux `recalc_sigpending`: `task` keeps its `sigpending` flag only while
/// the process has a pending signal it does not block. The flag is cleared,
/// then the set read again: a signal queued meanwhile (whose sender may have
/// chosen this thread and set the flag just before the clear) sets it again.
pub fn recalc_sigpending(task: &Task) {
    let wanted = |t: &Task| {
        next_signal(t.group.shared_pending.load(Ordering::SeqCst), t.blocked.load(Ordering::SeqCst))
            .is_some()
    };
    if !wanted(task) {
        task.sigpending.store(false, Ordering::SeqCst);
        if !wanted(task) {
            return;
        }
    }
    task.sigpending.store(true, Ordering::SeqCst);
}

/// Linux `set_current_blocked`: a new signal mask for `task` (the current
/// task). Process signals it blocks now and may have been chosen for go to
/// threads that take them (`retarget_shared_pending`); one it unblocks that
/// is pending for the process is now its to take (`recalc_sigpending`).
pub fn set_current_blocked(task: &Task, mask: u64) {
    let mask = mask & !UNBLOCKABLE;
    let old = task.blocked.swap(mask, Ordering::SeqCst);
    if task.sigpending.load(Ordering::SeqCst) {
        retarget_shared_pending(task, mask & !old);
    }
    recalc_sigpending(task);
}

/// Linux `retarget_shared_pending`: the process's pending signals in `which`
/// are no longer taken by `task` (it blocks them now, or exits); wake the
/// threads after it that take them (`signal::retarget_targets`).
pub fn retarget_shared_pending(task: &Task, which: u64) {
    let retarget = task.group.shared_pending.load(Ordering::SeqCst) & which;
    if retarget == 0 {
        return;
    }
    let threads = crate::process::table::threads_of(&task.group);
    let tids: alloc::vec::Vec<u32> = threads.iter().map(|t| t.pid()).collect();
    let takes = |i: usize| {
        let t = &threads[i];
        let gone = t.exiting.load(Ordering::Acquire) || t.exited.load(Ordering::Acquire);
        (!gone).then(|| t.blocked.load(Ordering::SeqCst))
    };
    for i in retarget_targets(&tids, task.pid(), retarget, takes) {
        if !threads[i].sigpending.load(Ordering::SeqCst) {
            signal_wake_up(&threads[i]);
        }
    }
}

/// Send `sig` to process `task` as part of a signal to several processes
/// (kill(0), kill(-pgrp), kill(-1), a namespace's end; Linux PIDTYPE_PGID and
/// PIDTYPE_MAX): a fork in progress in that process gives it to its child too
/// (the `multiprocess` delayed sets). The caller holds `table::TASKLIST`.
pub fn send_group_signal(task: &Arc<Task>, sig: u32, info: SigInfo, force: bool) {
    if send_process_signal(task, sig, info, force) {
        for (_, signals) in task.group.multiprocess.lock().iter_mut() {
            *signals |= sigmask(sig);
        }
    }
}

/// A signal from the kernel sent in interrupt context (a timer's expiry; Linux
/// `SEND_SIG_PRIV`) to thread `task`: see [`send_sigqueue_irq`].
pub fn send_signal_irq(task: &Arc<Task>, sig: u32) -> Option<bool> {
    send_sigqueue_irq(task, sig, SigInfo { code: SI_KERNEL, ..Default::default() }, PidType::Pid)
}

/// A timer's signal sent in interrupt context (Linux `send_sigqueue`) to
/// thread `task` or to its process: `send_signal_force`'s rules, with locks
/// only tried, so that the tick never spins on a lock the code it
/// interrupted holds. A process-directed one wakes a thread that wants it
/// (`complete_signal`'s choice; its fatal default action is taken by that
/// thread in `do_signal`). `None`: a lock was busy and nothing was done (the
/// caller tries again later); else whether the signal was queued.
pub fn send_sigqueue_irq(task: &Arc<Task>, sig: u32, info: SigInfo, ty: PidType) -> Option<bool> {
    if task.kthread || (ty == PidType::Pid && task.exited.load(Ordering::Relaxed)) {
        return Some(false);
    }
    if task.group.exit.try_lock()?.is_some() {
        return Some(false);
    }
    let blocked = task.blocked.load(Ordering::Relaxed) & sigmask(sig) != 0;
    let action = {
        let hand = task.sighand.try_lock()?;
        hand.try_action(sig)?
    };
    let ignored = action.sa_handler == SIG_IGN
        || (action.sa_handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore);
    // A namespace's init ignores what it has no handler for; anyone ignores
    // an ignored signal that is not blocked.
    if !blocked && (ignored || (action.sa_handler == SIG_DFL && task.is_ns_init())) {
        return Some(false);
    }
    match ty {
        PidType::Pid => {
            let mut infos = task.siginfo.try_lock()?;
            let pending = task.pending.load(Ordering::Acquire);
            if !legacy_queue(pending, sig) {
                infos.set_without_allocating(sig, info, pending);
            }
            task.pending.fetch_or(sigmask(sig), Ordering::AcqRel);
            drop(infos);
            if !blocked {
                crate::sched::wake_up(task);
            }
        }
        PidType::Tgid => {
            let group = &task.group;
            let threads = group.threads.try_lock()?;
            let mut infos = group.shared_siginfo.try_lock()?;
            let pending = group.shared_pending.load(Ordering::Acquire);
            if !legacy_queue(pending, sig) {
                infos.set_without_allocating(sig, info, pending);
            }
            group.shared_pending.fetch_or(sigmask(sig), Ordering::SeqCst);
            drop(infos);
            let wants = |t: &Arc<Task>| wants_signal(sig, t);
            let other = || threads.iter().filter_map(|(_, w)| w.upgrade()).find(|t| wants(t));
            let mut t = Some(task.clone()).filter(wants).or_else(other);
            // As `complete_signal`: the flag first, then the mask again; a
            // chosen thread that blocked `sig` meanwhile does not take it,
            // and with the thread list in hand (no lock may be waited for
            // here) the next choice is made here.
            for _ in 0..=threads.len() {
                let Some(u) = &t else { break };
                u.sigpending.store(true, Ordering::SeqCst);
                if !blocks_now(u, sig) {
                    break;
                }
                t = other();
            }
            drop(threads);
            if let Some(t) = t {
                crate::sched::wake_up(&t);
            }
        }
    }
    Some(true)
}

/// Whether a standard signal (below SIGRTMIN) is already in `pending`: it
/// does not queue twice, and the first one's siginfo stays (Linux
/// `legacy_queue`).
fn legacy_queue(pending: u64, sig: u32) -> bool {
    sig < SIGRTMIN && pending & sigmask(sig) != 0
}

/// `send_signal_info` with a plain kernel origin.
pub fn send_signal(task: &Arc<Task>, sig: u32) {
    send_signal_info(task, sig, SigInfo { code: SI_KERNEL, ..Default::default() });
}

/// A synchronous signal the task must take (a fault, SIGSYS): if blocked or
/// ignored it is unblocked and reset to the default action (Linux
/// `force_sig_info`), so that the task dies rather than loops.
pub fn force_sig_info(task: &Arc<Task>, sig: u32, info: SigInfo) {
    task.sighand().update_action(sig, |a| {
        let blocked = task.blocked.load(Ordering::Relaxed) & sigmask(sig) != 0;
        if a.sa_handler == SIG_IGN || blocked {
            a.sa_handler = SIG_DFL;
            task.blocked.fetch_and(!sigmask(sig), Ordering::AcqRel);
        }
    });
    task.siginfo.lock().set(sig, info);
    task.pending.fetch_or(sigmask(sig), Ordering::AcqRel);
    task.fatal_signal.store(0, Ordering::Relaxed);
    if task.sighand().action(sig).sa_handler == SIG_DFL {
        // Even init dies of a fault it does not handle.
        task.fatal_signal.store(sig, Ordering::Relaxed);
        signal_wake_up_fatal(task);
        return;
    }
    crate::sched::wake_up(task);
}

pub fn force_sig(task: &Arc<Task>, sig: u32) {
    force_sig_info(task, sig, SigInfo { code: SI_KERNEL, ..Default::default() });
}

/// A fatal signal ends `task` at its next return to user mode (Linux
/// `fatal_signal_pending`): long work in a system call stops for it.
pub fn fatal_signal_pending(task: &Task) -> bool {
    task.fatal_signal.load(Ordering::Relaxed) != 0
}

/// Something must interrupt a blocking call: a fatal signal, a deliverable
/// one, or a group stop to take part in (Linux sets TIF_SIGPENDING for it).
pub fn signal_pending(task: &Task) -> bool {
    task.fatal_signal.load(Ordering::Relaxed) != 0
        || task.jobctl.load(Ordering::Relaxed) & crate::process::jobctl::JOBCTL_WORK_MASK != 0
        || next_signal(takeable(task), task.blocked.load(Ordering::Acquire)).is_some()
}

/// The signals pending for `task`: its own and its process's (what
/// sigpending and /proc report).
pub fn pending_for(task: &Task) -> u64 {
    task.pending.load(Ordering::Acquire) | task.group.shared_pending.load(Ordering::Acquire)
}

/// The pending signals `task` may take: its own, and its process's only while
/// its `sigpending` flag is set (Linux looks at neither set without
/// TIF_SIGPENDING; a thread's own signals always set it).
#[inline(always)]
pub fn takeable(task: &Task) -> u64 {
    let own = task.pending.load(Ordering::Acquire);
    if task.sigpending.load(Ordering::Acquire) {
        own | task.group.shared_pending.load(Ordering::Acquire)
    } else {
        own
    }
}

/// Take the next signal `task` does not block (Linux `dequeue_signal`): its
/// own first, then its process's (which another thread may take first).
fn dequeue_signal(task: &Task) -> Option<(u32, SigInfo)> {
    loop {
        let blocked = task.blocked.load(Ordering::Acquire);
        if let Some(sig) = next_signal(task.pending.load(Ordering::Acquire), blocked) {
            // Under the siginfo lock, as for the process's below.
            let mut infos = task.siginfo.lock();
            task.pending.fetch_and(!sigmask(sig), Ordering::AcqRel);
            let info = infos.take(sig);
            drop(infos);
            // A thread taking a signal of its own had TIF_SIGPENDING set in
            // Linux, whose `dequeue_signal` recalculates it.
            recalc_sigpending(task);
            return Some((sig, info));
        }
        // The process's only for a thread woken for them (see `takeable`):
        // without the flag, Linux would not have come here at all.
        if !task.sigpending.load(Ordering::SeqCst) {
            return None;
        }
        let shared = &task.group.shared_pending;
        let Some(sig) = next_signal(shared.load(Ordering::Acquire), blocked) else {
            recalc_sigpending(task);
            return None;
        };
        // Under the siginfo lock, so that the bit and what it carries go together.
        let mut infos = task.group.shared_siginfo.lock();
        if shared.fetch_and(!sigmask(sig), Ordering::AcqRel) & sigmask(sig) != 0 {
            let info = infos.take(sig);
            drop(infos);
            recalc_sigpending(task);
            return Some((sig, info));
        }
        // Another thread took it first: look again.
    }
}

/// What delivering a signal came to (`do_signal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Nothing was pending for the task.
    Nothing,
    /// One was handled (a frame was set up, or it was ignored or discarded):
    /// look again.
    Handled,
    /// Its default action ends the thread group (or no frame fit and Linux
    /// forces SIGSEGV): the caller calls `do_group_exit` with this, once it
    /// holds no reference to the task. `do_group_exit` does not return, so a
    /// reference held in a caller's frame would never be dropped and the
    /// task (its kernel stack, its heap) would outlive its reaping.
    GroupExit(ExitReason),
}

/// Deliver one pending signal on the way back to user mode (Linux
/// `arch_do_signal_or_restart`; `get_signal`'s fatal case is left to the
/// caller, see [`Delivery::GroupExit`]).
pub fn do_signal(task: &Arc<Task>, frame: &mut TrapFrame) -> Delivery {
    // Linux `get_signal`: the first thread to run after a SIGCONT tells the
    // parent (notify-on-wake); then a group stop in progress is joined.
    let cld = {
        let mut g = task.group.jobctl.lock();
        g.take_cld().map(|why| (why, g.group_exit_code))
    };
    if let Some((why, code)) = cld {
        do_notify_parent_cldstop(task, why, code);
        crate::process::ptrace::notify_tracer_cldstop(task, why, code);
    }
    if task.jobctl.load(Ordering::Relaxed) & JOBCTL_STOP_PENDING != 0 && do_signal_stop(task, 0) {
        return Delivery::Handled;
    }
    // A ptrace trap (Linux `do_jobctl_trap`): a seized tracee's
    // PTRACE_EVENT_STOP (interrupt, group stop, or a change of the group
    // stop's state: JOBCTL_TRAP_NOTIFY), a traced task's group stop.
    if task.jobctl.load(Ordering::Relaxed) & crate::process::jobctl::JOBCTL_TRAP_MASK != 0 {
        crate::process::ptrace::do_jobctl_trap(task, frame);
        return Delivery::Handled;
    }
    // Under the job-control lock, as SIGCONT discards stop signals under it:
    // a stop signal taken is one that came after the last SIGCONT.
    let dequeued = {
        let _jobctl = task.group.jobctl.lock();
        let d = dequeue_signal(task);
        if d.is_some_and(|(sig, _)| sig_kernel_stop(sig)) {
            task.jobctl.fetch_or(JOBCTL_STOP_DEQUEUED, Ordering::Relaxed);
        }
        d
    };
    let Some((sig, mut info)) = dequeued else {
        restart_if_interrupted(task, frame, None);
        // No handler took the mask rt_sigsuspend saved: it comes back now.
        if task.restore_sigmask.load(Ordering::Relaxed) {
            task.restore_sigmask.store(false, Ordering::Relaxed);
            set_current_blocked(task, task.saved_sigmask.load(Ordering::Relaxed));
        }
        return Delivery::Nothing;
    };
    if sig == SIGALRM {
        crate::process::itimer::sigalrm_dequeued(task);
    }
    // A POSIX timer waiting for its signal to be taken starts again.
    crate::process::posix_timers::signal_dequeued(task, sig, &mut info);
    // A signal-delivery stop (Linux `ptrace_signal`): the tracer chooses
    // what is delivered (nothing, this signal, another one).
    let (sig, info) = if task.ptrace.load(Ordering::Relaxed) != 0 && sig != SIGKILL {
        match crate::process::ptrace::ptrace_signal(task, sig, info, frame) {
            Some(s) => s,
            None => {
                restart_if_interrupted(task, frame, None);
                return Delivery::Handled;
            }
        }
    } else {
        (sig, info)
    };
    let action = task.sighand().action(sig);
    if action.sa_handler == SIG_IGN {
        restart_if_interrupted(task, frame, None);
        return Delivery::Handled;
    }
    if action.sa_handler == SIG_DFL {
        match default_action(sig) {
            DefaultAction::Terminate | DefaultAction::CoreDump => {
                if task.is_ns_init() && task.fatal_signal.load(Ordering::Relaxed) == 0 {
                    return Delivery::Handled;
                }
                return Delivery::GroupExit(death_reason(sig));
            }
            DefaultAction::Stop => {
                // A namespace's init stops only for SIGSTOP (forced from an
                // ancestor namespace); SIGTSTP, SIGTTIN and SIGTTOU do not
                // stop a process group that no shell could continue (Linux
                // `is_current_pgrp_orphaned`).
                if task.is_ns_init() && sig != SIGSTOP {
                    return Delivery::Handled;
                }
                if sig != SIGSTOP && crate::process::exit::is_current_pgrp_orphaned(task) {
                    return Delivery::Handled;
                }
                do_signal_stop(task, sig);
                return Delivery::Handled;
            }
            _ => {
                restart_if_interrupted(task, frame, None);
                return Delivery::Handled;
            }
        }
    }
    restart_if_interrupted(task, frame, Some(&action));
    if setup_rt_frame(task, sig, &action, &info, frame).is_err() {
        // No room for the frame: Linux forces SIGSEGV.
        return Delivery::GroupExit(ExitReason::Killed { signal: SIGSEGV, core: false });
    }
    Delivery::Handled
}

/// Stop for job control (Linux `do_signal_stop`): with no stop pending for
/// this thread, start a group stop for `signr` (0: join the one pending) —
/// every other thread that is not stopped or dying gets
/// JOBCTL_STOP_PENDING and is woken to take part; then take part, the last
/// one to stop telling the parent (CLD_STOPPED), and park in TASK_STOPPED
/// until SIGCONT or a fatal signal. False: no stop (a SIGCONT came since
/// the stop signal was taken, or the process is dying or being exec'd).
fn do_signal_stop(task: &Arc<Task>, signr: u32) -> bool {
    let group = &task.group;
    let mut g = group.jobctl.lock();
    let mut own = task.jobctl.load(Ordering::Relaxed);
    if own & JOBCTL_STOP_PENDING == 0 {
        let others: alloc::vec::Vec<Arc<Task>> = crate::process::table::threads_of(group)
            .into_iter()
            .filter(|t| !Arc::ptr_eq(t, task))
            .collect();
        let mut peers: alloc::vec::Vec<Peer> = others
            .iter()
            .map(|t| Peer { jobctl: t.jobctl.load(Ordering::Relaxed), dying: jobctl_dying(t) })
            .collect();
        let cancelled = jobctl_dying(task) || group.group_exec_task.load(Ordering::Relaxed) != 0;
        let started = g.start_group_stop(signr, &mut own, cancelled, &mut peers);
        task.jobctl.store(own, Ordering::Relaxed);
        if !started {
            return false;
        }
        for (t, p) in others.iter().zip(&peers) {
            if t.jobctl.swap(p.jobctl, Ordering::Relaxed) != p.jobctl {
                // A seized tracee's tracer hears of the new group stop
                // (Linux `ptrace_trap_notify`), the others take part in it.
                if t.ptrace.load(Ordering::Relaxed) & crate::process::ptrace::PT_SEIZED != 0 {
                    crate::process::ptrace::ptrace_trap_notify(t);
                } else {
                    crate::sched::wake_up(t);
                }
            }
        }
    }
    // While traced, the group stop is a ptrace trap (Linux: JOBCTL_TRAP_STOP
    // and `do_jobctl_trap`, which takes part in the stop).
    if task.ptrace.load(Ordering::Relaxed) != 0 {
        task.jobctl.fetch_or(crate::process::jobctl::JOBCTL_TRAP_STOP, Ordering::Relaxed);
        return false;
    }
    let notify = g.participate(&mut own);
    let code = g.group_exit_code;
    task.jobctl.store(own | JOBCTL_STOPPED, Ordering::Relaxed);
    // Parked under the lock: SIGCONT clears JOBCTL_STOPPED and a fatal
    // signal is stored under it too, then they wake TASK_STOPPED.
    if !fatal_signal_pending(task) {
        task.state.store(TASK_STOPPED, Ordering::Release);
    }
    drop(g);
    if notify {
        do_notify_parent_cldstop(task, CLD_STOPPED, code);
    }
    loop {
        crate::sched::schedule::<PosixThread>();
        let _g = group.jobctl.lock();
        if task.jobctl.load(Ordering::Relaxed) & JOBCTL_STOPPED == 0 || fatal_signal_pending(task) {
            task.state.store(TASK_RUNNING, Ordering::Release);
            return true;
        }
        task.state.store(TASK_STOPPED, Ordering::Release);
    }
}

/// A thread exits during a group stop (Linux `exit_signals`): it takes part
/// in the stop, and if it is the last one the stop is complete — unless the
/// group's status is decided (the caller holds `exit`'s lock and tells).
/// Returns the stop signal to report then.
pub fn exit_signals_jobctl(task: &Arc<Task>, group_exit: bool) -> Option<u32> {
    if group_exit || task.jobctl.load(Ordering::Relaxed) & JOBCTL_STOP_PENDING == 0 {
        return None;
    }
    let mut g = task.group.jobctl.lock();
    let mut own = task.jobctl.load(Ordering::Relaxed);
    let notify = own & JOBCTL_STOP_PENDING != 0 && g.participate(&mut own);
    task.jobctl.store(own, Ordering::Relaxed);
    notify.then_some(g.group_exit_code)
}

/// Tell the parent the process stopped or continued (Linux
/// `do_notify_parent_cldstop` without ptrace): SIGCHLD with si_code `why`,
/// unless the parent ignores SIGCHLD or set SA_NOCLDSTOP; its waiters wake
/// in any case. `code` is the group's stop signal, read under the lock that
/// completed the stop (Linux reads `group_exit_code` here, after it: a
/// parent's wait may have consumed it by then, which the task-list lock,
/// a mutex here, not a reader lock, makes likelier).
pub fn do_notify_parent_cldstop(task: &Arc<Task>, why: i32, code: u32) {
    let _tasklist = crate::process::table::TASKLIST.lock();
    let Some(parent) = crate::process::table::find(task.ppid.load(Ordering::Relaxed)) else {
        return;
    };
    let status = if why == CLD_CONTINUED { SIGCONT as i32 } else { (code & 0x7f) as i32 };
    let info = SigInfo {
        code: why,
        pid: task.tgid_nr_ns(parent.pid_ns()),
        uid: task.creds().uid,
        status,
        ..Default::default()
    };
    let sa = parent.sighand().action(SIGCHLD);
    if sa.sa_handler != SIG_IGN && sa.sa_flags & SA_NOCLDSTOP == 0 {
        send_process_signal(&parent, SIGCHLD, info, false);
    }
    parent.wait_chld.wake_all();
}

/// A call interrupted by a signal (rax = -ERESTARTSYS) is restarted when no
/// handler runs or the handler has SA_RESTART, else it fails with EINTR.
fn restart_if_interrupted(task: &Task, frame: &mut TrapFrame, action: Option<&sigaction>) {
    if !task.restart_pending.swap(false, Ordering::AcqRel) {
        return;
    }
    let nointr = task.restart_nointr.swap(false, Ordering::AcqRel);
    let nohand = task.restart_nohand.swap(false, Ordering::AcqRel);
    let block = task.restart_via_block.swap(false, Ordering::AcqRel);
    if (nohand && action.is_some())
        || (!nointr && action.is_some_and(|a| a.sa_flags & SA_RESTART == 0))
    {
        frame.rax = crate::errno::EINTR.to_ret() as u64;
        return;
    }
    // Re-enter the call: back to its entry instruction with its number.
    let (nr, rip, rsp) = task.syscall_restart.get();
    frame.rax = if block { uapi::unistd::__NR_restart_syscall as u64 } else { nr };
    frame.rip = rip;
    frame.rsp = rsp;
}

// The x86-64 `struct rt_sigframe`: the restorer's address (where the handler
// returns), a `ucontext`, a `siginfo_t`; offsets from uapi's structures.
const UC_OFF: u64 = 8;
const INFO_OFF: u64 = UC_OFF + size_of::<ucontext>() as u64;
const FRAME_SIZE: u64 = INFO_OFF + size_of::<siginfo_t>() as u64;
/// `uc_stack`, `uc_mcontext` (the `sigcontext`) and `uc_sigmask` in the frame.
const STACK_OFF: u64 = UC_OFF + offset_of!(ucontext, uc_stack) as u64;
const SC_OFF: u64 = UC_OFF + offset_of!(ucontext, uc_mcontext) as u64;
const SIGMASK_OFF: u64 = UC_OFF + offset_of!(ucontext, uc_sigmask) as u64;
/// A `sigcontext` field's offset in the frame.
const fn sc(offset: usize) -> u64 {
    SC_OFF + offset as u64
}

/// Build the x86-64 `rt_sigframe` and point the registers at the handler.
fn setup_rt_frame(
    task: &Task,
    sig: u32,
    a: &sigaction,
    info: &SigInfo,
    frame: &mut TrapFrame,
) -> Result<(), Errno> {
    if a.sa_flags & SA_RESTORER == 0 {
        return Err(EFAULT); // x86-64 requires a restorer
    }
    let (ss_sp, ss_size, ss_flags) = *task.altstack.lock();
    let on_altstack =
        ss_flags & SS_DISABLE == 0 && frame.rsp > ss_sp && frame.rsp <= ss_sp + ss_size;
    let mut sp = if a.sa_flags & SA_ONSTACK != 0 && ss_flags & SS_DISABLE == 0 && !on_altstack {
        ss_sp + ss_size
    } else {
        frame.rsp - 128 // the red zone
    };
    sp -= 512;
    sp &= !63;
    let fpstate = sp;
    let base = ((sp - FRAME_SIZE) & !15) - 8;

    // The mask rt_sigreturn restores: the one rt_sigsuspend replaced, if it
    // did (Linux `sigmask_to_save`).
    let saved = task.restore_sigmask.load(Ordering::Relaxed);
    let old_blocked = if saved {
        task.saved_sigmask.load(Ordering::Relaxed)
    } else {
        task.blocked.load(Ordering::Acquire)
    };
    let mut b = [0u8; FRAME_SIZE as usize];
    let mut put =
        |off: u64, v: u64| b[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes());
    put(0, a.sa_restorer as u64);
    // ucontext: uc_flags (UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS), uc_link, uc_stack.
    put(UC_OFF, 6);
    put(UC_OFF + 8, 0);
    put(STACK_OFF + offset_of!(stack_t, ss_sp) as u64, ss_sp);
    let stack_flags = if ss_flags & SS_DISABLE != 0 {
        SS_DISABLE
    } else if on_altstack {
        SS_ONSTACK
    } else {
        0
    };
    put(STACK_OFF + offset_of!(stack_t, ss_flags) as u64, stack_flags as u64);
    put(STACK_OFF + offset_of!(stack_t, ss_size) as u64, ss_size);
    let f = &*frame;
    let gprs = [
        f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx, f.rdx,
        f.rax, f.rcx, f.rsp, f.rip, f.rflags,
    ];
    for (i, v) in gprs.iter().enumerate() {
        put(sc(offset_of!(sigcontext, r8)) + 8 * i as u64, *v);
    }
    // cs, gs, fs, ss (16 bits each).
    put(sc(offset_of!(sigcontext, cs)), f.cs | (f.ss << 48));
    put(sc(offset_of!(sigcontext, err)), info.err);
    put(sc(offset_of!(sigcontext, trapno)), info.trapno);
    put(sc(offset_of!(sigcontext, oldmask)), old_blocked);
    put(sc(offset_of!(sigcontext, cr2)), if info.trapno == 14 { info.addr } else { 0 });
    put(sc(offset_of!(sigcontext, fpstate)), fpstate);
    put(SIGMASK_OFF, old_blocked);
    b[INFO_OFF as usize..].copy_from_slice(&siginfo_bytes(sig, info));

    crate::uaccess::write_bytes(fpstate, &FpuState::capture())?;
    crate::uaccess::write_bytes(base, &b)?;
    if saved {
        task.restore_sigmask.store(false, Ordering::Relaxed);
    }
    // The handler starts with a clean x87/SSE state.
    FpuState::load_initial();

    frame.rsp = base;
    frame.rip = a.sa_handler as u64;
    frame.rdi = sig as u64;
    frame.rsi = base + INFO_OFF;
    frame.rdx = base + UC_OFF;
    frame.rax = 0;
    frame.rflags &= !(0x400 | 0x100 | 0x10000); // DF, TF, RF
    let mut block = a.sa_mask & !UNBLOCKABLE;
    if a.sa_flags & SA_NODEFER == 0 {
        block |= sigmask(sig);
    }
    set_current_blocked(task, task.blocked.load(Ordering::Relaxed) | block);
    if a.sa_flags & SA_RESETHAND != 0 {
        task.sighand().set_action(sig, sigaction::default());
    }
    Ok(())
}

/// `rt_sigreturn`: restore what the signal frame saved (registers, x87/SSE,
/// the signal mask, the alternate stack). Returns rax as saved.
pub fn rt_sigreturn(task: &Task, frame: &mut TrapFrame) -> Result<u64, Errno> {
    // The handler's `ret` popped pretcode: the frame is 8 bytes below rsp.
    let base = frame.rsp.wrapping_sub(8);
    let b = crate::uaccess::read_bytes(base, FRAME_SIZE as usize)?;
    let get = |off: u64| u64::from_le_bytes(b[off as usize..off as usize + 8].try_into().unwrap());
    let r = |i: u64| get(sc(offset_of!(sigcontext, r8)) + 8 * i);
    let f = frame;
    (f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15) =
        (r(0), r(1), r(2), r(3), r(4), r(5), r(6), r(7));
    (f.rdi, f.rsi, f.rbp, f.rbx, f.rdx, f.rax, f.rcx, f.rsp) =
        (r(8), r(9), r(10), r(11), r(12), r(13), r(14), r(15));
    f.rip = r(16);
    // Only the flags user code may change; interrupts stay enabled.
    const USER_FLAGS: u64 =
        0x0001 | 0x0004 | 0x0010 | 0x0040 | 0x0080 | 0x0100 | 0x0400 | 0x0800 | 0x4_0000;
    f.rflags = (f.rflags & !USER_FLAGS) | (r(17) & USER_FLAGS) | 0x200;
    set_current_blocked(task, get(SIGMASK_OFF));
    // Linux: `restart_block.fn = do_no_restart_syscall`.
    *task.restart_block.lock() = None;
    let fpstate = get(sc(offset_of!(sigcontext, fpstate)));
    if fpstate != 0 {
        let img = crate::uaccess::read_bytes(fpstate, 512)?;
        FpuState::load_image(img.try_into().unwrap());
    }
    Ok(f.rax)
}

/// `sigaltstack(ss, old_ss)`.
pub fn sigaltstack(task: &Task, frame_rsp: u64, new: u64, old: u64) -> Result<u64, Errno> {
    // Linux's order (`sys_sigaltstack`): copy the new stack in (EFAULT changes
    // nothing), apply it, then copy the old one out (EFAULT after the change).
    let new = if new != 0 { Some(crate::uaccess::read_bytes(new, 24)?) } else { None };
    let (sp, size, flags) = *task.altstack.lock();
    let on = flags & SS_DISABLE == 0 && frame_rsp > sp && frame_rsp <= sp + size;
    if let Some(b) = new {
        let nsp = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let nflags = i32::from_le_bytes(b[8..12].try_into().unwrap());
        let nsize = u64::from_le_bytes(b[16..24].try_into().unwrap());
        if on {
            return Err(EPERM);
        }
        let mode = nflags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(EINVAL);
        }
        if mode == SS_DISABLE {
            *task.altstack.lock() = (0, 0, SS_DISABLE);
        } else {
            if nsize < MINSIGSTKSZ as u64 {
                return Err(ENOMEM);
            }
            *task.altstack.lock() = (nsp, nsize, nflags & SS_AUTODISARM);
        }
    }
    if old != 0 {
        let f = if on { SS_ONSTACK } else { flags & !SS_AUTODISARM };
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&sp.to_le_bytes());
        b[8..12].copy_from_slice(&f.to_le_bytes());
        b[16..24].copy_from_slice(&size.to_le_bytes());
        crate::uaccess::write_bytes(old, &b)?;
    }
    Ok(0)
}
