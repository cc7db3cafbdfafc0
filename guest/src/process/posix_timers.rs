//! POSIX per-process timers (Linux `kernel/time/posix-timers.c`,
//! `posix-cpu-timers.c`): `timer_create`, `timer_settime`, `timer_gettime`,
//! `timer_getoverrun`, `timer_delete`.
//!
//! A process's timers (Linux `signal->posix_timers`) are shared by its
//! threads, deleted by `execve` and by the exit of its last thread, and not
//! inherited by a fork child. Each timer measures one clock:
//!
//! - the real clocks (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
//!   CLOCK_TAI) on one timeline, the monotonic clock: this kernel's wall clock
//!   is the monotonic clock plus a fixed boot time (there is no
//!   `clock_settime`), so an absolute CLOCK_REALTIME or CLOCK_TAI expiry is
//!   converted once, when the timer is set;
//! - the CPU-time clocks (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID):
//!   the scheduler's runtime of the process or of the thread that created the
//!   timer, checked by the timer tick while it runs that process.
//!
//! As Linux, a timer queues at most one signal: when one expires its signal
//! is sent (`si_code` SI_TIMER with the timer's id and `sigev_value`); a
//! periodic one is restarted only when a thread dequeues that signal
//! (`posixtimer_rearm`), moved past the present by whole intervals, and the
//! intervals skipped meanwhile are its overrun — in the signal's `si_overrun`
//! and in `timer_getoverrun` until the next delivery. A SIGEV_NONE timer
//! sends nothing and is never queued: reading it computes where it is.
//!
//! The arithmetic and the bookkeeping here build for the host and are tested
//! there; the kernel part (`kernel_posix_timers`) keeps the armed timers in a
//! list the tick scans and sends the signals.

use alloc::vec::Vec;

use crate::errno::{Errno, EAGAIN, EINVAL};
pub use uapi::signal::{SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID};

/// The clock a timer measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerClock {
    /// CLOCK_REALTIME or CLOCK_TAI: the monotonic timeline; an absolute
    /// value is wall-clock time.
    Realtime,
    /// CLOCK_MONOTONIC or CLOCK_BOOTTIME (this kernel never suspends).
    Monotonic,
    /// The process's CPU time (all its threads, live and exited).
    ProcessCpu,
    /// The CPU time of thread `tid`, the timer's creator.
    ThreadCpu(u32),
}

impl TimerClock {
    /// The clock of `timer_create`'s clock id (`tid`: the caller): EINVAL
    /// for an unknown id; EOPNOTSUPP for the clocks Linux has no timers on
    /// (the raw and coarse ones) and for the alarm clocks, which need a
    /// wake-up device this machine does not have. Another process's or
    /// thread's CPU clock (a negative id) is EINVAL here: not implemented.
    pub fn from_id(clock: i32, tid: u32) -> Result<TimerClock, Errno> {
        use uapi::time::*;
        if clock < 0 {
            return Err(EINVAL);
        }
        match clock as u32 {
            CLOCK_REALTIME | CLOCK_TAI => Ok(TimerClock::Realtime),
            CLOCK_MONOTONIC | CLOCK_BOOTTIME => Ok(TimerClock::Monotonic),
            CLOCK_PROCESS_CPUTIME_ID => Ok(TimerClock::ProcessCpu),
            CLOCK_THREAD_CPUTIME_ID => Ok(TimerClock::ThreadCpu(tid)),
            CLOCK_MONOTONIC_RAW
            | CLOCK_REALTIME_COARSE
            | CLOCK_MONOTONIC_COARSE
            | CLOCK_REALTIME_ALARM
            | CLOCK_BOOTTIME_ALARM => Err(crate::errno::EOPNOTSUPP),
            _ => Err(EINVAL),
        }
    }

    pub fn is_cpu(self) -> bool {
        matches!(self, TimerClock::ProcessCpu | TimerClock::ThreadCpu(_))
    }
}

/// How an expiry is told (Linux `it_sigev_notify` and the sigqueue's info).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    /// SIGEV_NONE.
    None,
    /// A signal `signo` carrying `value`, to the process or (SIGEV_THREAD_ID)
    /// to one of its threads.
    Signal { signo: u32, value: u64, thread: Option<u32> },
}

/// `struct sigevent` as `timer_create` reads it (the fields the kernel uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigEvent {
    pub value: u64,
    pub signo: i32,
    pub notify: i32,
    pub thread_id: i32,
}

impl SigEvent {
    /// The bytes of a user's `struct sigevent` (64 bytes; the fields used
    /// are its first 20).
    pub fn from_bytes(b: &[u8; 64]) -> SigEvent {
        let i32_at = |o: usize| i32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[0..8]);
        SigEvent {
            value: u64::from_le_bytes(v),
            signo: i32_at(8),
            notify: i32_at(12),
            thread_id: i32_at(16),
        }
    }

    /// Linux `good_sigevent`: the notification asked for, or EINVAL.
    /// `same_group(tid)` says whether `tid` is a thread of the caller's
    /// process (for SIGEV_THREAD_ID).
    pub fn notify(&self, same_group: impl Fn(u32) -> bool) -> Result<Notify, Errno> {
        let valid_signo = (1..=uapi::signal::_NSIG as i32).contains(&self.signo);
        let signal = |thread| {
            if valid_signo {
                Ok(Notify::Signal { signo: self.signo as u32, value: self.value, thread })
            } else {
                Err(EINVAL)
            }
        };
        match self.notify {
            n if n == SIGEV_SIGNAL | SIGEV_THREAD_ID => {
                let tid = self.thread_id;
                if tid <= 0 || !same_group(tid as u32) {
                    return Err(EINVAL);
                }
                signal(Some(tid as u32))
            }
            SIGEV_SIGNAL | SIGEV_THREAD => signal(None),
            SIGEV_NONE => Ok(Notify::None),
            _ => Err(EINVAL),
        }
    }
}

/// The largest overrun a signal or `timer_getoverrun` reports (`DELAYTIMER_MAX`).
pub const DELAYTIMER_MAX: i64 = i32::MAX as i64;

/// A timer's value for `timer_settime`: relative to now, or absolute on the
/// timer's timeline (already converted from wall-clock time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Relative(u64),
    Absolute(u64),
}

/// A POSIX timer (Linux `struct k_itimer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KItimer {
    pub id: i32,
    pub clock: TimerClock,
    pub notify: Notify,
    /// The next expiry on the clock's timeline.
    pub expires: u64,
    /// The reload value (0: one-shot).
    pub interval: u64,
    /// Set (by `timer_settime` with a value) and not yet disarmed.
    pub set: bool,
    /// On the tick's list: it will expire (Linux `it_active`).
    pub armed: bool,
    /// Expired with an interval, its signal queued: restarted when that
    /// signal is dequeued (Linux REQUEUE_PENDING).
    pub requeue_pending: bool,
    /// Intervals skipped since the last delivery, counted from -1 (the
    /// interval of the expiry itself is not an overrun).
    pub overrun: i64,
    /// The overrun of the last delivered expiry (`timer_getoverrun`).
    pub overrun_last: i64,
}

/// What a timer's expiry does (the caller sends the signal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired {
    pub signo: u32,
    pub value: u64,
    pub thread: Option<u32>,
}

impl KItimer {
    pub fn new(id: i32, clock: TimerClock, notify: Notify) -> KItimer {
        KItimer {
            id,
            clock,
            notify,
            expires: 0,
            interval: 0,
            set: false,
            armed: false,
            requeue_pending: false,
            overrun: -1,
            overrun_last: 0,
        }
    }

    fn sig_none(&self) -> bool {
        self.notify == Notify::None
    }

    /// Move the expiry past `now` by whole intervals (Linux
    /// `hrtimer_forward`); the intervals added.
    fn forward(&mut self, now: u64) -> i64 {
        if self.interval == 0 || now < self.expires {
            return 0;
        }
        let n = (now - self.expires) / self.interval + 1;
        self.expires = self.expires.saturating_add(n.saturating_mul(self.interval));
        n.min(i64::MAX as u64) as i64
    }

    /// `timer_gettime` at `now` on the timer's clock: (value, interval). A
    /// periodic timer waiting for its signal to be taken, or a SIGEV_NONE
    /// one, is read as if restarted now; one expired but not yet run reads
    /// 1 ns (Linux `common_timer_get`), an expired one-shot SIGEV_NONE 0.
    pub fn get(&mut self, now: u64) -> (u64, u64) {
        if !self.set || (self.interval == 0 && !self.armed && !self.sig_none()) {
            return (0, self.interval);
        }
        if self.interval != 0 && (self.requeue_pending || self.sig_none()) {
            self.overrun = self.overrun.saturating_add(self.forward(now));
        }
        let value = if self.expires > now {
            self.expires - now
        } else if self.sig_none() {
            0
        } else {
            1
        };
        (value, self.interval)
    }

    /// `timer_settime` at `now`: the old (value, interval); the timer is
    /// disarmed (value 0) or set to expire at `value`, then every `interval`.
    /// Returns the new expiry if the tick must run it.
    pub fn set(&mut self, value: Expiry, interval: u64, now: u64) -> ((u64, u64), Option<u64>) {
        let old = self.get(now);
        self.armed = false;
        self.requeue_pending = false;
        self.overrun = -1;
        self.overrun_last = 0;
        self.interval = 0;
        let expires = match value {
            Expiry::Relative(0) | Expiry::Absolute(0) => {
                self.set = false;
                return (old, None);
            }
            Expiry::Relative(v) => now.saturating_add(v),
            Expiry::Absolute(t) => t,
        };
        self.set = true;
        self.interval = interval;
        self.expires = expires;
        self.armed = !self.sig_none();
        (old, self.armed.then_some(expires))
    }

    /// The tick found the timer due at `now`: it is no longer armed; a
    /// periodic one waits for its signal to be dequeued. The signal to send
    /// (none for SIGEV_NONE, which is never armed).
    pub fn expire(&mut self) -> Option<Fired> {
        if !self.armed {
            return None;
        }
        self.armed = false;
        if self.interval != 0 {
            self.requeue_pending = true;
        }
        match self.notify {
            Notify::None => None,
            Notify::Signal { signo, value, thread } => Some(Fired { signo, value, thread }),
        }
    }

    /// The signal could not be queued (its process ignores it): a periodic
    /// timer goes on at once, counting what it skips (Linux `posix_timer_fn`
    /// with the signal ignored). The new expiry if it runs again.
    pub fn not_queued(&mut self, now: u64) -> Option<u64> {
        if !self.requeue_pending {
            return None;
        }
        self.requeue_pending = false;
        self.overrun = self.overrun.saturating_add(self.forward(now));
        self.armed = true;
        Some(self.expires)
    }

    /// Its signal was dequeued at `now` (Linux `posixtimer_rearm`): a
    /// periodic timer starts again past `now`, and the intervals it skipped
    /// become the overrun the signal reports. Returns (the new expiry if
    /// re-armed, the signal's `si_overrun`).
    pub fn rearm(&mut self, now: u64) -> (Option<u64>, i32) {
        if !self.requeue_pending || self.interval == 0 {
            return (None, self.overrun_to_int());
        }
        self.requeue_pending = false;
        self.overrun = self.overrun.saturating_add(self.forward(now));
        self.armed = true;
        self.overrun_last = self.overrun;
        self.overrun = -1;
        (Some(self.expires), self.overrun_to_int())
    }

    /// `timer_getoverrun` (Linux `timer_overrun_to_int`: at most INT_MAX).
    pub fn overrun_to_int(&self) -> i32 {
        self.overrun_last.clamp(0, DELAYTIMER_MAX) as i32
    }
}

/// A process's timers (Linux `signal->posix_timers` and `posix_timer_id`).
#[derive(Debug, Default)]
pub struct PosixTimers {
    pub timers: Vec<KItimer>,
    next_id: i32,
}

impl PosixTimers {
    /// Add a timer (Linux `posix_timer_add`): the next free id from the last
    /// one given, wrapping at INT_MAX; EAGAIN past `limit` timers (the
    /// process's RLIMIT_SIGPENDING: each timer holds a queued signal) or if
    /// memory is short.
    pub fn add(
        &mut self,
        clock: TimerClock,
        notify: Notify,
        limit: usize,
    ) -> Result<(i32, &mut KItimer), Errno> {
        if self.timers.len() >= limit {
            return Err(EAGAIN);
        }
        self.timers.try_reserve(1).map_err(|_| EAGAIN)?;
        let mut id = self.next_id;
        while self.timers.iter().any(|t| t.id == id) {
            id = id.checked_add(1).unwrap_or(0);
        }
        self.next_id = id.checked_add(1).unwrap_or(0);
        self.timers.push(KItimer::new(id, clock, notify));
        let t = self.timers.last_mut().expect("just pushed");
        Ok((id, t))
    }

    /// The timer `id` (EINVAL for none: Linux `lock_timer` failing).
    pub fn find(&mut self, id: i64) -> Result<&mut KItimer, Errno> {
        self.timers.iter_mut().find(|t| i64::from(t.id) == id).ok_or(EINVAL)
    }

    /// `timer_delete`.
    pub fn delete(&mut self, id: i64) -> Result<KItimer, Errno> {
        let i = self.timers.iter().position(|t| i64::from(t.id) == id).ok_or(EINVAL)?;
        Ok(self.timers.swap_remove(i))
    }

    /// Whether a CPU-time timer is armed (the tick has work).
    pub fn cpu_armed(&self) -> bool {
        self.timers.iter().any(|t| t.armed && t.clock.is_cpu())
    }
}

#[cfg(target_os = "none")]
mod kernel_posix_timers;
#[cfg(target_os = "none")]
pub use kernel_posix_timers::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(signo: u32) -> Notify {
        Notify::Signal { signo, value: 7, thread: None }
    }

    #[test]
    fn sigevent_checks_as_good_sigevent() {
        let ev = |notify, signo, thread_id| SigEvent { value: 5, signo, notify, thread_id };
        let mine = |t: u32| t == 10;
        assert_eq!(
            ev(SIGEV_SIGNAL, 10, 0).notify(mine),
            Ok(Notify::Signal { signo: 10, value: 5, thread: None })
        );
        assert_eq!(ev(SIGEV_THREAD, 64, 0).notify(mine).map(|_| ()), Ok(()));
        assert_eq!(ev(SIGEV_SIGNAL, 0, 0).notify(mine), Err(EINVAL));
        assert_eq!(ev(SIGEV_SIGNAL, 65, 0).notify(mine), Err(EINVAL));
        assert_eq!(ev(SIGEV_NONE, 0, 0).notify(mine), Ok(Notify::None));
        assert_eq!(
            ev(SIGEV_SIGNAL | SIGEV_THREAD_ID, 12, 10).notify(mine),
            Ok(Notify::Signal { signo: 12, value: 5, thread: Some(10) })
        );
        assert_eq!(ev(SIGEV_SIGNAL | SIGEV_THREAD_ID, 12, 11).notify(mine), Err(EINVAL));
        assert_eq!(ev(SIGEV_THREAD | SIGEV_THREAD_ID, 12, 10).notify(mine), Err(EINVAL));
        assert_eq!(ev(3, 12, 0).notify(mine), Err(EINVAL));
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        b[8..12].copy_from_slice(&34i32.to_le_bytes());
        b[12..16].copy_from_slice(&4i32.to_le_bytes());
        b[16..20].copy_from_slice(&99i32.to_le_bytes());
        assert_eq!(
            SigEvent::from_bytes(&b),
            SigEvent { value: 0x1122_3344_5566_7788, signo: 34, notify: 4, thread_id: 99 }
        );
    }

    #[test]
    fn clocks() {
        use uapi::time::*;
        assert_eq!(TimerClock::from_id(CLOCK_REALTIME as i32, 3), Ok(TimerClock::Realtime));
        assert_eq!(TimerClock::from_id(CLOCK_BOOTTIME as i32, 3), Ok(TimerClock::Monotonic));
        assert_eq!(
            TimerClock::from_id(CLOCK_THREAD_CPUTIME_ID as i32, 3),
            Ok(TimerClock::ThreadCpu(3))
        );
        assert_eq!(
            TimerClock::from_id(CLOCK_MONOTONIC_RAW as i32, 3),
            Err(crate::errno::EOPNOTSUPP)
        );
        assert_eq!(TimerClock::from_id(12, 3), Err(EINVAL));
        assert_eq!(TimerClock::from_id(-6, 3), Err(EINVAL));
    }

    #[test]
    fn ids_are_the_next_free_and_limited() {
        let mut p = PosixTimers::default();
        let ids: Vec<i32> =
            (0..3).map(|_| p.add(TimerClock::Monotonic, signal(10), 3).unwrap().0).collect();
        assert_eq!(ids, [0, 1, 2]);
        assert_eq!(p.add(TimerClock::Monotonic, signal(10), 3).map(|r| r.0), Err(EAGAIN));
        assert_eq!(p.delete(1).map(|t| t.id), Ok(1));
        assert_eq!(p.delete(1).map(|t| t.id), Err(EINVAL));
        // Ids are not reused at once: the next one follows the last given.
        assert_eq!(p.add(TimerClock::Monotonic, signal(10), 3).unwrap().0, 3);
        assert!(p.find(3).is_ok());
        assert_eq!(p.find(1).map(|t| t.id), Err(EINVAL));
        assert_eq!(p.find(1 << 32).map(|t| t.id), Err(EINVAL));
        // Wrapping at INT_MAX skips the ids in use.
        p.next_id = i32::MAX;
        assert_eq!(p.add(TimerClock::Monotonic, signal(10), 9).unwrap().0, i32::MAX);
        assert_eq!(p.add(TimerClock::Monotonic, signal(10), 9).unwrap().0, 1);
    }

    #[test]
    fn one_shot_timer() {
        let mut t = KItimer::new(0, TimerClock::Monotonic, signal(10));
        assert_eq!(t.get(100), (0, 0));
        let (old, run) = t.set(Expiry::Relative(50), 0, 100);
        assert_eq!((old, run), ((0, 0), Some(150)));
        assert_eq!(t.get(120), (30, 0));
        // Due but the tick has not run it yet: 1 ns.
        assert_eq!(t.get(160), (1, 0));
        assert_eq!(t.expire(), Some(Fired { signo: 10, value: 7, thread: None }));
        assert_eq!(t.expire(), None, "fires once");
        assert_eq!(t.get(170), (0, 0));
        assert_eq!(t.rearm(170), (None, 0));
        // Absolute, then disarmed.
        assert_eq!(t.set(Expiry::Absolute(400), 0, 200).1, Some(400));
        assert_eq!(t.set(Expiry::Relative(0), 9, 250), ((150, 0), None));
        assert_eq!(t.get(260), (0, 0));
        assert!(!t.armed);
    }

    #[test]
    fn periodic_timer_overruns_counted_at_delivery() {
        let mut t = KItimer::new(4, TimerClock::Monotonic, signal(12));
        assert_eq!(t.set(Expiry::Relative(10), 10, 0).1, Some(10));
        assert!(t.expire().is_some());
        // Waiting for the signal to be taken, read as if restarted.
        assert_eq!(t.get(15), (5, 10));
        // Dequeued at 47: expiries at 20, 30, 40 were missed; next at 50.
        assert_eq!(t.rearm(47), (Some(50), 3));
        assert_eq!(t.overrun_to_int(), 3);
        assert!(t.expire().is_some());
        // Taken at once: no overrun.
        assert_eq!(t.rearm(51), (Some(60), 0));
        assert_eq!(t.overrun_to_int(), 0);
        // Disarming keeps nothing.
        assert_eq!(t.set(Expiry::Relative(0), 0, 55), ((5, 10), None));
        assert_eq!(t.overrun_to_int(), 0);
    }

    #[test]
    fn ignored_signal_keeps_a_periodic_timer_going() {
        let mut t = KItimer::new(0, TimerClock::Monotonic, signal(12));
        t.set(Expiry::Relative(10), 10, 0);
        t.expire();
        assert_eq!(t.not_queued(12), Some(20));
        assert!(t.armed);
        t.set(Expiry::Relative(10), 0, 0);
        t.expire();
        assert_eq!(t.not_queued(12), None, "one-shot");
    }

    #[test]
    fn sigev_none_timers_are_computed_on_reading() {
        let mut t = KItimer::new(0, TimerClock::Monotonic, Notify::None);
        assert_eq!(t.set(Expiry::Relative(10), 0, 0).1, None, "never queued");
        assert_eq!(t.get(4), (6, 0));
        assert_eq!(t.get(10), (0, 0), "expired one-shot: 0");
        t.set(Expiry::Relative(10), 10, 100);
        assert_eq!(t.get(135), (5, 10));
        assert_eq!(t.overrun, 2);
    }

    #[test]
    fn overrun_is_clamped() {
        let mut t = KItimer::new(0, TimerClock::Monotonic, signal(12));
        t.set(Expiry::Relative(1), 1, 0);
        t.expire();
        assert_eq!(t.rearm(u64::MAX / 2).1, i32::MAX);
        assert!(!PosixTimers::default().cpu_armed());
    }
}
