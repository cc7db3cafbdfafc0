//! Waiting for children (Linux `kernel/exit.c`: `do_wait`, `wait_task_zombie`).

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

/// A reaped (or, with WNOWAIT, inspected) child.
pub struct Reaped {
    /// As the waiter's PID namespace sees it.
    pub pid: u32,
    pub uid: u32,
    pub reason: ExitReason,
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

/// Wait for a child in `which` to exit. None with WNOHANG when none has yet.
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
        let (any, zombie) = {
            let children = me.children.lock();
            let mut any = false;
            let mut zombie = None;
            for c in children.iter().filter(|c| eligible(c, &which, options)) {
                any = true;
                if c.reapable() {
                    zombie = Some(c.clone());
                    break;
                }
            }
            (any, zombie)
        };
        if let Some(z) = zombie {
            let pid = z.tgid_nr_ns(me.pid_ns());
            let nowait = options & WNOWAIT != 0;
            let usage = crate::process::rusage::reap_accounting(&me, &z, nowait);
            let r = Reaped { pid, uid: z.creds().uid, reason: z.exit_reason(), usage };
            if !nowait {
                me.children.lock().retain(|c| !Arc::ptr_eq(c, &z));
                table::release(&z);
            }
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
                c.reapable()
            });
            ready || !any
        });
    }
}
