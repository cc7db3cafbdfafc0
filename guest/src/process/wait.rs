//! Waiting for children (Linux `kernel/exit.c`: `do_wait`, `wait_task_zombie`,
//! `wait_task_stopped`, `wait_task_continued`).

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::errno::{Errno, ECHILD};
use crate::process::signal::SIGCHLD;
use crate::process::table;
use crate::process::task::Task;
use crate::process::ExitReason;
pub use uapi::wait::{
    __WALL, __WCLONE, __WNOTHREAD, WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WUNTRACED,
};

/// Which children a wait is for, by initial-namespace numbers (the caller
/// translates what the user gave; a number that names nothing matches nothing).
#[derive(Clone)]
pub enum Which {
    Any,
    Pid(u32),
    Pgid(u32),
    /// The child whose pid this is (waitid P_PIDFD): the very pid, so a
    /// reaped child's number given to another never matches.
    PidRef(Arc<crate::process::pid_namespace::Pid>),
}

/// What a wait reports of a child (Linux: CLD_EXITED/KILLED/DUMPED,
/// CLD_STOPPED, CLD_CONTINUED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    Exited(ExitReason),
    /// Stopped by this signal (reported once).
    Stopped(u32),
    /// Continued by SIGCONT (reported once).
    Continued,
    /// A ptrace stop with this code (reported once, to the tracer).
    Traced(u32),
}

impl Why {
    /// `wait4`'s status word.
    pub fn wait_status(self) -> i32 {
        match self {
            Why::Exited(r) => r.wait_status(),
            Why::Stopped(sig) => crate::process::jobctl::stopped_wait_status(sig),
            Why::Continued => crate::process::jobctl::CONTINUED_WAIT_STATUS,
            Why::Traced(code) => crate::process::ptrace::traced_wait_status(code),
        }
    }

    /// `waitid`'s si_code and si_status.
    pub fn si_code_status(self) -> (i32, i32) {
        use crate::process::signal::{
            CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED,
        };
        match self {
            Why::Exited(ExitReason::Exited(c)) => (CLD_EXITED, c as i32),
            Why::Exited(ExitReason::Killed { signal, core }) => {
                (if core { CLD_DUMPED } else { CLD_KILLED }, signal as i32)
            }
            Why::Stopped(sig) => (CLD_STOPPED, sig as i32),
            Why::Continued => (CLD_CONTINUED, crate::process::jobctl::CONTINUED_SI_STATUS),
            Why::Traced(code) => (crate::process::signal::CLD_TRAPPED, code as i32),
        }
    }
}

impl Which {
    /// The pid as Linux's `sched_process_wait` reports it: the one asked for,
    /// -1 for any child, 0 for a process group.
    fn trace_pid(&self) -> i64 {
        match self {
            Which::Any => -1,
            Which::Pid(p) => i64::from(*p),
            Which::Pgid(_) => 0,
            Which::PidRef(p) => i64::from(p.global()),
        }
    }
}

/// A reaped (or, with WNOWAIT, inspected) child, or one that stopped or continued.
pub struct Reaped {
    /// As the waiter's PID namespace sees it.
    pub pid: u32,
    pub uid: u32,
    pub why: Why,
    /// Its resource usage and its reaped children's (`wait4`'s rusage).
    pub usage: crate::process::rusage::Usage,
}

/// Linux `eligible_child`: __WALL takes every child; otherwise a "clone" child
/// (exit signal other than SIGCHLD) only with __WCLONE, and the others only without.
fn eligible(c: &Task, which: &Which, options: u32) -> bool {
    let matches = match which {
        Which::Any => true,
        Which::Pid(p) => c.pid() == *p,
        Which::Pgid(g) => c.pgid.load(Ordering::Relaxed) == *g,
        Which::PidRef(p) => Arc::ptr_eq(&c.thread_pid(), p),
    };
    if !matches {
        return false;
    }
    if options & __WALL != 0 {
        return true;
    }
    let clone_child = c.exit_signal.load(Ordering::Relaxed) != SIGCHLD;
    clone_child == (options & __WCLONE != 0)
}

/// Whether `c`, a child that is not reapable, has a stop or a continue to
/// report to a wait with `options` (Linux `wait_task_stopped` and
/// `wait_task_continued`, which take it unless WNOWAIT).
fn job_report(c: &Task, options: u32, take: bool) -> Option<Why> {
    if options & (WUNTRACED | WCONTINUED) == 0 {
        return None;
    }
    let mut g = c.group.jobctl.lock();
    if !take {
        return g
            .reportable(options & WUNTRACED != 0, options & WCONTINUED != 0)
            .then_some(Why::Continued);
    }
    let nowait = options & WNOWAIT != 0;
    if options & WUNTRACED != 0 {
        if let Some(sig) = g.wait_stopped(nowait) {
            return Some(Why::Stopped(sig));
        }
    }
    (options & WCONTINUED != 0 && g.wait_continued(nowait)).then_some(Why::Continued)
}

/// Something to report of child `c` (its sleep's condition).
fn ready(me: &Task, c: &Task, options: u32) -> bool {
    if traced_by_other(me, c) {
        return continued_to_tracer(c, options, false).is_some();
    }
    if c.reapable() {
        return options & WEXITED != 0;
    }
    job_report(c, options, false).is_some()
}

/// A child the wait over children leaves to the wait over tracees (Linux
/// `wait_consider_task`): traced by the caller (its stops and exit are the
/// tracer's), or a zombie traced by another (only its tracer sees it first).
fn traced_by_other(me: &Task, c: &Task) -> bool {
    if c.ptrace.load(Ordering::Acquire) == 0 {
        return false;
    }
    let tracer = c.pt.lock().tracer;
    tracer == me.pid() || c.reapable()
}

/// A continue of child `c`, which the caller traces, to a wait with
/// WCONTINUED (Linux `wait_consider_task`: the real parent's wait of a child
/// it traces takes the ptrace path, whose stops are the tracer's, and ends
/// with `wait_task_continued` all the same). None for a zombie traced by
/// another, which only its tracer sees.
fn continued_to_tracer(c: &Task, options: u32, take: bool) -> Option<Why> {
    if c.reapable() {
        return None;
    }
    job_report(c, options & !WUNTRACED, take)
}

/// Something to report of tracee `p` to its tracer.
fn traced_ready(p: &Task, options: u32) -> bool {
    match crate::process::ptrace::wait_traced(p, false, true) {
        Some(crate::process::ptrace::TracedReport::Exited) => options & WEXITED != 0,
        Some(_) => true,
        None => false,
    }
}

/// Wait for a child in `which` to exit (WEXITED), stop (WUNTRACED) or
/// continue (WCONTINUED). None with WNOHANG when none has yet.
pub fn do_wait(which: Which, options: u32) -> Result<Option<Reaped>, Errno> {
    let t0 = crate::arch::rdtsc();
    crate::trace_event!(
        SchedProcessWait,
        crate::process::current().map_or(0, |t| t.pid()),
        which.trace_pid()
    );
    let r = do_wait_inner(which, options);
    crate::counters::global_add(crate::counters::WAIT_TSC, crate::arch::rdtsc() - t0);
    crate::counters::global_add(crate::counters::WAIT_CALLS, 1);
    r
}

fn do_wait_inner(which: Which, options: u32) -> Result<Option<Reaped>, Errno> {
    let me = crate::process::current().expect("wait without a task");
    loop {
        // Under the task-list lock, which exit holds while it hands children
        // to their new parent (Linux: `do_wait` under `tasklist_lock`): a
        // child is in exactly one list, and reapable only once its own
        // children have moved.
        let tasklist = table::TASKLIST.lock();
        let (any, zombie, job) = {
            let children = me.children.lock();
            let mut any = false;
            let mut zombie = None;
            let mut job = None;
            // Linux `wait_consider_task`: a zombie is reaped (with WEXITED),
            // else a live child's stop, else its continue is reported.
            for c in children.iter().filter(|c| eligible(c, &which, options)) {
                any = true;
                if traced_by_other(&me, c) {
                    if let Some(why) = continued_to_tracer(c, options, true) {
                        job = Some((c.clone(), why));
                        break;
                    }
                    continue;
                }
                if c.reapable() {
                    if options & WEXITED != 0 {
                        zombie = Some(c.clone());
                        break;
                    }
                    continue;
                }
                if let Some(why) = job_report(c, options, true) {
                    job = Some((c.clone(), why));
                    break;
                }
            }
            (any, zombie, job)
        };
        // Linux `ptrace_do_wait`: the tracees' stops and exits.
        let mut any = any;
        if zombie.is_none() && job.is_none() {
            let tracees: alloc::vec::Vec<Arc<Task>> = me.ptraced.lock().clone();
            let nowait = options & WNOWAIT != 0;
            use crate::process::ptrace::{reap_traced, wait_traced, TracedReport};
            for p in tracees.iter().filter(|c| eligible(c, &which, options)) {
                any = true;
                match wait_traced(p, true, nowait) {
                    Some(TracedReport::Stopped(code)) => {
                        drop(tasklist);
                        let pid = p.pid_nr_ns(me.pid_ns());
                        let usage = crate::process::rusage::getrusage(
                            p,
                            crate::process::rusage::Who::SelfProcess,
                        );
                        let why = Why::Traced(code);
                        return Ok(Some(Reaped { pid, uid: p.creds().uid, why, usage }));
                    }
                    Some(TracedReport::Exited) if options & WEXITED != 0 => {
                        let pid = p.pid_nr_ns(me.pid_ns());
                        let why = Why::Exited(p.exit_reason());
                        use crate::process::rusage::{getrusage, reap_accounting, Who};
                        let leader = p.is_group_leader();
                        let usage = leader.then(|| reap_accounting(&me, p, true));
                        if !nowait && reap_traced(&me, p) {
                            if leader {
                                reap_accounting(&me, p, false);
                            }
                            table::release(p);
                        }
                        drop(tasklist);
                        // A thread's: read without the task-list lock.
                        let usage = usage.unwrap_or_else(|| getrusage(p, Who::SelfProcess));
                        return Ok(Some(Reaped { pid, uid: p.creds().uid, why, usage }));
                    }
                    _ => {}
                }
            }
        }
        if let Some((c, why)) = job {
            drop(tasklist);
            let pid = c.tgid_nr_ns(me.pid_ns());
            // Linux `getrusage(p, RUSAGE_BOTH)`.
            use crate::process::rusage::{getrusage, Who};
            let mut usage = getrusage(&c, Who::SelfProcess);
            usage.add(&getrusage(&c, Who::Children));
            return Ok(Some(Reaped { pid, uid: c.creds().uid, why, usage }));
        }
        if let Some(z) = zombie {
            let pid = z.tgid_nr_ns(me.pid_ns());
            let nowait = options & WNOWAIT != 0;
            let released = if nowait {
                None
            } else {
                me.children.lock().retain(|c| !Arc::ptr_eq(c, &z));
                table::release(&z)
            };
            // The zombie is this wait's now (no other wait can find it; with
            // WNOWAIT it stays, and the accounting only reads): the lock goes
            // before the accounting (as Linux's `wait_task_zombie`
            // drops `tasklist_lock` once it owns the zombie), before the
            // rest of the release (the pids' and the counts' bookkeeping)
            // and before the last reference to the task, whose drop frees it
            // (Linux `put_pid` and `put_task_struct` after `release_task`
            // unlocks): more than half of what reaping takes, which exits and
            // forks on the other CPUs would wait for. The usage is the
            // parent's before the release is done (its pidfds told).
            drop(tasklist);
            let usage = crate::process::rusage::reap_accounting(&me, &z, nowait);
            let r = Reaped { pid, uid: z.creds().uid, why: Why::Exited(z.exit_reason()), usage };
            drop(released);
            drop(z);
            return Ok(Some(r));
        }
        drop(tasklist);
        if !any {
            return Err(ECHILD);
        }
        if options & WNOHANG != 0 {
            return Ok(None);
        }
        // Only now, with no child to report, does a signal interrupt the wait.
        if crate::process::signal::signal_pending(&me) {
            return Err(crate::process::signal::ERESTARTSYS);
        }
        // Re-check when a child can be reaped, or when none is left to wait
        // for (children reaped by the kernel when SIGCHLD is ignored: ECHILD).
        crate::process::wait_event(Some(&me.wait_chld), None, || {
            let children = me.children.lock();
            let mut eligible_children = children.iter().filter(|c| eligible(c, &which, options));
            let mut any = false;
            let ready = eligible_children.any(|c| {
                any = true;
                ready(&me, c, options)
            });
            let tracees = me.ptraced.lock();
            let mut traced = tracees.iter().filter(|c| eligible(c, &which, options));
            let traced_ready = traced.any(|p| {
                any = true;
                traced_ready(p, options)
            });
            ready || traced_ready || !any
        });
    }
}
