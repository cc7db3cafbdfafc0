//! Job control's state machine (Linux `include/linux/sched/jobctl.h`, the
//! `signal->flags` SIGNAL_STOP_* / SIGNAL_CLD_* bits, `group_stop_count` and
//! `group_exit_code`, and the parts of `kernel/signal.c` that change them:
//! `task_set_jobctl_pending`, `task_clear_jobctl_pending`,
//! `task_participate_group_stop`, `do_signal_stop`'s start of a group stop,
//! `prepare_signal`'s SIGCONT, `get_signal`'s notify-on-wake and
//! `kernel/exit.c`'s `wait_task_stopped` / `wait_task_continued`).
//!
//! Pure and host-tested: each thread's `jobctl` word is a `u32` here; the
//! kernel keeps it in the task and changes it, and the group's
//! [`GroupJobctl`], only under the group's job-control lock (Linux `siglock`).

use crate::process::signal::{sigmask, CLD_CONTINUED, CLD_STOPPED, SIGCONT};
use crate::process::signal::{SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};

/// The stop signal a thread's pending group stop is for (Linux `JOBCTL_STOP_SIGMASK`).
pub const JOBCTL_STOP_SIGMASK: u32 = 0xffff;
/// A stop signal was dequeued: a stop may begin (cleared by SIGCONT meanwhile).
pub const JOBCTL_STOP_DEQUEUED: u32 = 1 << 16;
/// The thread must take part in a group stop at its next return to user mode.
pub const JOBCTL_STOP_PENDING: u32 = 1 << 17;
/// Its taking part counts down `group_stop_count`.
pub const JOBCTL_STOP_CONSUME: u32 = 1 << 18;
/// A ptrace trap is pending (Linux `JOBCTL_TRAP_STOP`): a seized tracee's
/// PTRACE_EVENT_STOP, an attached tracee's group stop.
pub const JOBCTL_TRAP_STOP: u32 = 1 << 19;
/// The tracer is to be told of a group stop's end (Linux `JOBCTL_TRAP_NOTIFY`).
pub const JOBCTL_TRAP_NOTIFY: u32 = 1 << 20;
/// A seized tracee in PTRACE_LISTEN (Linux `JOBCTL_LISTENING`): still in
/// its PTRACE_EVENT_STOP trap, but not stopped for the tracer (no request
/// but KILL and INTERRUPT, no wait report) until a change of the group
/// stop's state (JOBCTL_TRAP_NOTIFY) or PTRACE_INTERRUPT makes it trap again.
pub const JOBCTL_LISTENING: u32 = 1 << 22;
/// The ptrace traps (Linux `JOBCTL_TRAP_MASK`): `do_jobctl_trap` takes them.
pub const JOBCTL_TRAP_MASK: u32 = JOBCTL_TRAP_STOP | JOBCTL_TRAP_NOTIFY;
/// What sends a task through `do_signal` on its way to user mode (Linux
/// `recalc_sigpending_tsk`'s `JOBCTL_PENDING_MASK`).
pub const JOBCTL_WORK_MASK: u32 = JOBCTL_STOP_PENDING | JOBCTL_TRAP_MASK;
/// The thread is stopped (parked in TASK_STOPPED).
pub const JOBCTL_STOPPED: u32 = 1 << 26;
/// What a group exit clears (Linux `JOBCTL_PENDING_MASK`, without the trap bits).
pub const JOBCTL_PENDING_MASK: u32 = JOBCTL_STOP_SIGMASK | JOBCTL_STOP_PENDING;

/// The group is stopped (every thread took part in the stop).
pub const SIGNAL_STOP_STOPPED: u32 = 0x0000_0001;
/// SIGCONT came since; `wait(WCONTINUED)` reports it once.
pub const SIGNAL_STOP_CONTINUED: u32 = 0x0000_0002;
/// The group's status is decided (exit_group, a fatal signal): no stop
/// begins any more.
pub const SIGNAL_GROUP_EXIT: u32 = 0x0000_0004;
/// The parent must be told CLD_STOPPED / CLD_CONTINUED (by the first thread
/// that runs after the SIGCONT: notify-on-wake).
pub const SIGNAL_CLD_STOPPED: u32 = 0x0000_0010;
pub const SIGNAL_CLD_CONTINUED: u32 = 0x0000_0020;
pub const SIGNAL_CLD_MASK: u32 = SIGNAL_CLD_STOPPED | SIGNAL_CLD_CONTINUED;
pub const SIGNAL_STOP_MASK: u32 = SIGNAL_CLD_MASK | SIGNAL_STOP_STOPPED | SIGNAL_STOP_CONTINUED;

/// The stop signals (Linux `SIG_KERNEL_STOP_MASK`).
pub const SIG_KERNEL_STOP_MASK: u64 =
    sigmask(SIGSTOP) | sigmask(SIGTSTP) | sigmask(SIGTTIN) | sigmask(SIGTTOU);

/// Linux `sig_kernel_stop`.
pub fn sig_kernel_stop(sig: u32) -> bool {
    (1..=64).contains(&sig) && SIG_KERNEL_STOP_MASK & sigmask(sig) != 0
}

/// The group's job-control state (Linux: `signal->flags`' stop bits,
/// `group_stop_count`, `group_exit_code` while stopped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupJobctl {
    pub flags: u32,
    /// Threads that still have to take part in the group stop in progress.
    pub group_stop_count: u32,
    /// The signal that stopped the group; 0 once a wait consumed the report.
    pub group_exit_code: u32,
}

/// Linux `task_set_jobctl_pending`: false (nothing set) for a thread that is
/// dying (a fatal signal pending, or exiting).
pub fn task_set_jobctl_pending(jobctl: &mut u32, mask: u32, dying: bool) -> bool {
    if dying {
        return false;
    }
    if mask & JOBCTL_STOP_SIGMASK != 0 {
        *jobctl &= !JOBCTL_STOP_SIGMASK;
    }
    *jobctl |= mask;
    true
}

/// Linux `task_clear_jobctl_pending`: clearing STOP_PENDING clears what goes
/// with it.
pub fn task_clear_jobctl_pending(jobctl: &mut u32, mut mask: u32) {
    if mask & JOBCTL_STOP_PENDING != 0 {
        mask |= JOBCTL_STOP_CONSUME | JOBCTL_STOP_DEQUEUED;
    }
    *jobctl &= !mask;
}

/// A thread of the group as `do_signal_stop` sees it when it starts a stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub jobctl: u32,
    /// A fatal signal is pending for it or it is exiting.
    pub dying: bool,
}

impl GroupJobctl {
    /// Linux `signal_set_stop_flags`.
    pub fn set_stop_flags(&mut self, flags: u32) {
        self.flags = (self.flags & !SIGNAL_STOP_MASK) | flags;
    }

    /// The group's status is decided (Linux sets `signal->flags =
    /// SIGNAL_GROUP_EXIT` and `group_stop_count = 0`): no stop begins, and
    /// no stop or continue is reported, any more. Each thread's pending stop
    /// is cleared by the caller ([`JOBCTL_PENDING_MASK`]).
    pub fn group_exit(&mut self) {
        self.flags = SIGNAL_GROUP_EXIT;
        self.group_stop_count = 0;
    }

    /// `do_signal_stop` when no stop is pending for the calling thread
    /// (`own`): start a group stop for `signr` unless it was cancelled (no
    /// stop signal dequeued since the last SIGCONT), the process is dying or
    /// an exec takes it over. Every other thread that is not stopped and not
    /// dying gets STOP_PENDING and is counted (the caller wakes those whose
    /// word changed). False: no stop.
    pub fn start_group_stop(
        &mut self,
        signr: u32,
        own: &mut u32,
        own_dying: bool,
        peers: &mut [Peer],
    ) -> bool {
        if *own & JOBCTL_STOP_DEQUEUED == 0 || own_dying || self.flags & SIGNAL_GROUP_EXIT != 0 {
            return false;
        }
        let gstop = JOBCTL_STOP_PENDING | JOBCTL_STOP_CONSUME;
        if self.flags & SIGNAL_STOP_STOPPED == 0 {
            self.group_exit_code = signr;
        }
        self.group_stop_count = 0;
        if task_set_jobctl_pending(own, signr | gstop, own_dying) {
            self.group_stop_count += 1;
        }
        for p in peers.iter_mut() {
            if p.jobctl & JOBCTL_STOPPED == 0
                && task_set_jobctl_pending(&mut p.jobctl, signr | gstop, p.dying)
            {
                self.group_stop_count += 1;
            }
        }
        true
    }

    /// Linux `task_join_group_stop`: a thread created by a thread whose
    /// word is `current` joins a group stop in progress (and is counted), or
    /// the stop of a stopped group.
    pub fn task_join_group_stop(&mut self, current: u32, new: &mut u32) {
        let mut mask = current & JOBCTL_STOP_SIGMASK;
        if self.group_stop_count != 0 {
            self.group_stop_count += 1;
            mask |= JOBCTL_STOP_CONSUME;
        } else if self.flags & SIGNAL_STOP_STOPPED == 0 {
            return;
        }
        task_set_jobctl_pending(new, mask | JOBCTL_STOP_PENDING, false);
    }

    /// Linux `task_participate_group_stop`: the thread's pending stop is
    /// done; true when it was the last one of a fresh group stop (the
    /// caller tells the parent CLD_STOPPED).
    pub fn participate(&mut self, jobctl: &mut u32) -> bool {
        let consume = *jobctl & JOBCTL_STOP_CONSUME != 0;
        task_clear_jobctl_pending(jobctl, JOBCTL_STOP_PENDING);
        if !consume {
            return false;
        }
        self.group_stop_count = self.group_stop_count.saturating_sub(1);
        if self.group_stop_count == 0 && self.flags & SIGNAL_STOP_STOPPED == 0 {
            self.set_stop_flags(SIGNAL_STOP_STOPPED);
            return true;
        }
        false
    }

    /// `prepare_signal`'s SIGCONT for the group, once every thread's pending
    /// stop was cleared: a stopped group is reported continued; a stop in
    /// progress is reported as stopped (to the parent, not to wait).
    pub fn sigcont(&mut self) {
        let why = if self.flags & SIGNAL_STOP_STOPPED != 0 {
            SIGNAL_CLD_CONTINUED
        } else if self.group_stop_count != 0 {
            SIGNAL_CLD_STOPPED
        } else {
            0
        };
        if why != 0 {
            self.set_stop_flags(why | SIGNAL_STOP_CONTINUED);
            self.group_stop_count = 0;
            self.group_exit_code = 0;
        }
    }

    /// `get_signal`'s notify-on-wake: the si_code to tell the parent, once.
    pub fn take_cld(&mut self) -> Option<i32> {
        if self.flags & SIGNAL_CLD_MASK == 0 {
            return None;
        }
        let why = if self.flags & SIGNAL_CLD_CONTINUED != 0 { CLD_CONTINUED } else { CLD_STOPPED };
        self.flags &= !SIGNAL_CLD_MASK;
        Some(why)
    }

    /// Linux `wait_task_stopped` (without ptrace): the stop signal to report,
    /// consumed unless `nowait`.
    pub fn wait_stopped(&mut self, nowait: bool) -> Option<u32> {
        if self.flags & SIGNAL_STOP_STOPPED == 0 || self.group_exit_code == 0 {
            return None;
        }
        let code = self.group_exit_code;
        if !nowait {
            self.group_exit_code = 0;
        }
        Some(code)
    }

    /// Linux `wait_task_continued`: a continue to report, consumed unless `nowait`.
    pub fn wait_continued(&mut self, nowait: bool) -> bool {
        if self.flags & SIGNAL_STOP_CONTINUED == 0 {
            return false;
        }
        if !nowait {
            self.flags &= !SIGNAL_STOP_CONTINUED;
        }
        true
    }

    /// What `wait` could report now (a cheap look for its sleep's condition).
    pub fn reportable(&self, stopped: bool, continued: bool) -> bool {
        (stopped && self.flags & SIGNAL_STOP_STOPPED != 0 && self.group_exit_code != 0)
            || (continued && self.flags & SIGNAL_STOP_CONTINUED != 0)
    }
}

/// Linux `wait4`'s status for a stopped child (`WIFSTOPPED`) and a continued one.
pub fn stopped_wait_status(sig: u32) -> i32 {
    ((sig as i32) << 8) | 0x7f
}
pub const CONTINUED_WAIT_STATUS: i32 = 0xffff;

/// The `si_status` of a CLD_CONTINUED report.
pub const CONTINUED_SI_STATUS: i32 = SIGCONT as i32;

#[cfg(test)]
mod tests {
    use super::*;

    const GSTOP: u32 = JOBCTL_STOP_PENDING | JOBCTL_STOP_CONSUME;

    fn peers(n: usize) -> alloc::vec::Vec<Peer> {
        alloc::vec![Peer { jobctl: 0, dying: false }; n]
    }

    #[test]
    fn a_single_thread_stops_and_reports_once() {
        let mut g = GroupJobctl::default();
        let mut me = JOBCTL_STOP_DEQUEUED;
        assert!(g.start_group_stop(SIGTSTP, &mut me, false, &mut []));
        assert_eq!(me & (GSTOP | JOBCTL_STOP_SIGMASK), GSTOP | SIGTSTP);
        assert_eq!(g.group_stop_count, 1);
        assert!(g.participate(&mut me), "the last to stop notifies");
        assert_eq!(me & (GSTOP | JOBCTL_STOP_DEQUEUED), 0);
        assert_eq!(g.flags, SIGNAL_STOP_STOPPED);
        assert!(g.reportable(true, true));
        assert_eq!(g.wait_stopped(true), Some(SIGTSTP), "WNOWAIT leaves it");
        assert_eq!(g.wait_stopped(false), Some(SIGTSTP));
        assert_eq!(g.wait_stopped(false), None, "reported once");
        assert!(!g.reportable(true, true));
        assert_eq!(stopped_wait_status(SIGTSTP), 0x147f);
    }

    #[test]
    fn the_last_thread_to_stop_completes_the_group_stop() {
        let mut g = GroupJobctl::default();
        let mut me = JOBCTL_STOP_DEQUEUED;
        let mut p = peers(3);
        p[1].dying = true;
        p[2].jobctl = JOBCTL_STOPPED;
        assert!(g.start_group_stop(SIGSTOP, &mut me, false, &mut p));
        assert_eq!(g.group_stop_count, 2, "me and peer 0: not the dying one, not the stopped one");
        assert_eq!(p[0].jobctl & JOBCTL_STOP_PENDING, JOBCTL_STOP_PENDING);
        assert_eq!(p[1].jobctl, 0);
        assert!(!g.participate(&mut me));
        assert_eq!(g.flags & SIGNAL_STOP_STOPPED, 0, "not stopped until all are");
        assert!(g.participate(&mut p[0].jobctl));
        assert_eq!(g.flags, SIGNAL_STOP_STOPPED);
        assert_eq!(g.group_exit_code, SIGSTOP);
    }

    #[test]
    fn no_stop_without_a_dequeued_signal_or_while_dying() {
        let mut g = GroupJobctl::default();
        let mut me = 0;
        assert!(!g.start_group_stop(SIGSTOP, &mut me, false, &mut []), "SIGCONT cancelled it");
        let mut me = JOBCTL_STOP_DEQUEUED;
        assert!(!g.start_group_stop(SIGSTOP, &mut me, true, &mut []));
        assert_eq!(g, GroupJobctl::default());
    }

    #[test]
    fn sigcont_reports_continued_once_or_a_partial_stop_as_stopped() {
        let mut g = GroupJobctl::default();
        let mut me = JOBCTL_STOP_DEQUEUED;
        g.start_group_stop(SIGTTIN, &mut me, false, &mut []);
        g.participate(&mut me);
        g.sigcont();
        assert_eq!(g.flags, SIGNAL_CLD_CONTINUED | SIGNAL_STOP_CONTINUED);
        assert_eq!(g.wait_stopped(false), None, "no stop to report after SIGCONT");
        assert_eq!(g.take_cld(), Some(CLD_CONTINUED));
        assert_eq!(g.take_cld(), None, "the parent is told once");
        assert!(g.wait_continued(true));
        assert!(g.wait_continued(false));
        assert!(!g.wait_continued(false), "reported once");

        // A stop in progress (one of two threads stopped) when SIGCONT comes.
        let mut g = GroupJobctl::default();
        let mut me = JOBCTL_STOP_DEQUEUED;
        let mut p = peers(1);
        g.start_group_stop(SIGSTOP, &mut me, false, &mut p);
        g.participate(&mut me);
        task_clear_jobctl_pending(&mut p[0].jobctl, JOBCTL_STOP_PENDING);
        g.sigcont();
        assert_eq!(g.group_stop_count, 0);
        assert_eq!(g.take_cld(), Some(CLD_STOPPED));
        assert!(g.wait_continued(false), "wait sees a continue");
        // Nothing stopped: SIGCONT changes nothing.
        let mut g = GroupJobctl::default();
        g.sigcont();
        assert_eq!(g, GroupJobctl::default());
    }

    #[test]
    fn a_second_stop_signal_while_stopped_keeps_the_first_code() {
        let mut g = GroupJobctl::default();
        let mut me = JOBCTL_STOP_DEQUEUED;
        g.start_group_stop(SIGTSTP, &mut me, false, &mut []);
        assert!(g.participate(&mut me));
        me |= JOBCTL_STOP_DEQUEUED;
        g.start_group_stop(SIGSTOP, &mut me, false, &mut []);
        assert!(!g.participate(&mut me), "already stopped: no second notification");
        assert_eq!(g.wait_stopped(false), Some(SIGTSTP));
    }

    #[test]
    fn a_thread_created_during_a_stop_joins_it() {
        let mut g = GroupJobctl::default();
        let mut me = JOBCTL_STOP_DEQUEUED;
        let mut p = peers(1);
        g.start_group_stop(SIGSTOP, &mut me, false, &mut p);
        let mut new = 0;
        g.task_join_group_stop(p[0].jobctl, &mut new);
        assert_eq!(new, JOBCTL_STOP_PENDING | JOBCTL_STOP_CONSUME | SIGSTOP);
        assert_eq!(g.group_stop_count, 3);
        assert!(!g.participate(&mut me));
        assert!(!g.participate(&mut p[0].jobctl));
        assert!(g.participate(&mut new), "the new thread is the last to stop");
        let mut idle = GroupJobctl::default();
        let mut new = 0;
        idle.task_join_group_stop(0, &mut new);
        assert_eq!((new, idle), (0, GroupJobctl::default()), "no stop: nothing to join");
    }

    #[test]
    fn group_exit_forgets_stops() {
        let mut g = GroupJobctl::default();
        let mut me = JOBCTL_STOP_DEQUEUED;
        g.start_group_stop(SIGSTOP, &mut me, false, &mut []);
        g.participate(&mut me);
        g.group_exit();
        assert!(!g.reportable(true, true));
        let mut other = JOBCTL_STOP_DEQUEUED;
        assert!(!g.start_group_stop(SIGSTOP, &mut other, false, &mut []), "no stop once dying");
        assert_eq!(g.group_stop_count, 0);
        assert!(sig_kernel_stop(SIGTTOU) && !sig_kernel_stop(SIGCONT) && !sig_kernel_stop(0));
    }
}
