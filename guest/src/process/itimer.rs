//! Interval timers (Linux `kernel/time/itimer.c`): `setitimer`, `getitimer`
//! and `alarm` on a process's three timers.
//!
//! - ITIMER_REAL counts real (monotonic) time and sends SIGALRM to the
//!   process. As Linux's `real_timer`, a periodic one is re-armed when its
//!   SIGALRM is dequeued (`dequeue_signal`), forwarded past the present by
//!   whole intervals, so a blocked or slow handler loses expiries rather than
//!   queueing them.
//! - ITIMER_VIRTUAL (user CPU time, SIGVTALRM) and ITIMER_PROF (user and
//!   system CPU time, SIGPROF) count the process's CPU time as Linux does
//!   without `CONFIG_VIRT_CPU_ACCOUNTING`: each timer tick charges a whole
//!   tick to the running task's process, as user time when the tick
//!   interrupted user mode, as system time otherwise (Linux
//!   `account_process_tick`), and the timers are checked then
//!   (`check_cpu_itimer`).
//!
//! The timers belong to the process (Linux `signal_struct`): threads share
//! them, `execve` keeps them and a `fork` child starts with none.
//! The arithmetic here builds for the host and is tested there; the kernel
//! part (`kernel_itimer`) keeps the armed real timers and runs them on the
//! tick. CPU time is counted only while a CPU-time timer is armed (all the
//! timers need): the tick of a process without one is one atomic load.

/// Nanoseconds per microsecond (a `timeval`'s unit).
pub const NSEC_PER_USEC: u64 = 1_000;
const NSEC_PER_SEC: u64 = 1_000_000_000;

/// The timer `which` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Real,
    Virtual,
    Prof,
}

impl Which {
    /// From `setitimer`'s `which`; EINVAL for anything else.
    pub fn from_raw(which: i32) -> Option<Which> {
        match which {
            0 => Some(Which::Real),
            1 => Some(Which::Virtual),
            2 => Some(Which::Prof),
            _ => None,
        }
    }
}

/// Nanoseconds of a `timeval`, or None if Linux's `timeval_valid` rejects it
/// (a negative second or a microsecond count outside 0..1e6).
pub fn timeval_to_ns(sec: i64, usec: i64) -> Option<u64> {
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return None;
    }
    Some((sec as u64).saturating_mul(NSEC_PER_SEC).saturating_add(usec as u64 * NSEC_PER_USEC))
}

/// A `timeval` (seconds, microseconds) of `ns`, the nanoseconds truncated.
pub fn ns_to_timeval(ns: u64) -> (i64, i64) {
    ((ns / NSEC_PER_SEC) as i64, ((ns % NSEC_PER_SEC) / NSEC_PER_USEC) as i64)
}

/// `alarm`'s result from the old ITIMER_REAL value (Linux `alarm_setitimer`):
/// the seconds left, rounded to the nearest, and never 0 while one was
/// pending.
pub fn alarm_seconds(old_ns: u64) -> u64 {
    let (sec, nsec) = (old_ns / NSEC_PER_SEC, old_ns % NSEC_PER_SEC);
    if (sec == 0 && nsec != 0) || nsec >= NSEC_PER_SEC / 2 {
        sec + 1
    } else {
        sec
    }
}

/// ITIMER_REAL (Linux `signal->real_timer` and `it_real_incr`): armed while
/// `active`, expiring at `expires` (monotonic ns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealItimer {
    pub expires: u64,
    pub active: bool,
    pub incr: u64,
}

/// A CPU-time timer (Linux `struct cpu_itimer`): `expires` on the process's
/// clock of that kind (0: disarmed), reloaded with `incr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuItimer {
    pub expires: u64,
    pub incr: u64,
}

/// A process's interval timers and the CPU time they count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Itimers {
    pub real: RealItimer,
    pub virt: CpuItimer,
    pub prof: CpuItimer,
    /// User and system CPU time charged by ticks (ns) while a CPU-time timer
    /// is armed (all the timers read: see [`Itimers::cpu_armed`]).
    pub utime: u64,
    pub stime: u64,
    /// Expiries whose signal could not be sent yet (see `Expired`).
    pub unsent: Expired,
}

/// Which timers expired.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    pub virt: bool,
    pub prof: bool,
}

impl Itimers {
    /// The process's clock of `which`'s kind now (`now` is the monotonic
    /// clock, for ITIMER_REAL).
    fn clock(&self, which: Which, now: u64) -> u64 {
        match which {
            Which::Real => now,
            Which::Virtual => self.utime,
            Which::Prof => self.utime + self.stime,
        }
    }

    /// `getitimer`: (value, interval) in ns. A real timer past its expiry but
    /// not yet run reads 1 µs (Linux `itimer_get_remtime`), a CPU-time one a
    /// tick (`get_cpu_itimer`).
    pub fn get(&self, which: Which, now: u64, tick_ns: u64) -> (u64, u64) {
        match which {
            Which::Real => {
                let value = if !self.real.active {
                    0
                } else if self.real.expires > now {
                    self.real.expires - now
                } else {
                    NSEC_PER_USEC
                };
                (value, self.real.incr)
            }
            Which::Virtual | Which::Prof => {
                let it = if which == Which::Virtual { self.virt } else { self.prof };
                let t = self.clock(which, now);
                let value = match it.expires {
                    0 => 0,
                    e if e < t => tick_ns,
                    e => e - t,
                };
                (value, it.incr)
            }
        }
    }

    /// `setitimer`: arm (value > 0) or disarm `which`; the old (value,
    /// interval). A real timer disarmed keeps no interval; a CPU-time one
    /// keeps the interval given and, armed, gets a tick more (Linux
    /// `set_cpu_itimer`: the tick in progress is not the timer's).
    pub fn set(
        &mut self,
        which: Which,
        value: u64,
        interval: u64,
        now: u64,
        tick_ns: u64,
    ) -> (u64, u64) {
        let old = self.get(which, now, tick_ns);
        match which {
            Which::Real => {
                self.real = if value != 0 {
                    RealItimer { expires: now.saturating_add(value), active: true, incr: interval }
                } else {
                    RealItimer::default()
                };
            }
            Which::Virtual | Which::Prof => {
                let t = self.clock(which, now);
                let expires =
                    if value != 0 { t.saturating_add(value).saturating_add(tick_ns) } else { 0 };
                let it = CpuItimer { expires, incr: interval };
                if which == Which::Virtual {
                    self.virt = it;
                    self.unsent.virt = false;
                } else {
                    self.prof = it;
                    self.unsent.prof = false;
                }
            }
        }
        old
    }

    /// A tick of `tick_ns` charged to the process (user mode or not): the
    /// CPU-time timers that expired (Linux `check_cpu_itimer`: a periodic one
    /// moves on by its interval, a one-shot one is disarmed), with any whose
    /// signal is still to be sent.
    pub fn account_tick(&mut self, tick_ns: u64, user: bool) -> Expired {
        if user {
            self.utime += tick_ns;
        } else {
            self.stime += tick_ns;
        }
        let (virt_now, prof_now) = (self.utime, self.utime + self.stime);
        let mut fired = self.unsent;
        for (it, now, flag) in [
            (&mut self.virt, virt_now, &mut fired.virt),
            (&mut self.prof, prof_now, &mut fired.prof),
        ] {
            if it.expires != 0 && now >= it.expires {
                it.expires = if it.incr != 0 { it.expires + it.incr } else { 0 };
                *flag = true;
            }
        }
        self.unsent = Expired::default();
        fired
    }

    /// Whether the tick has CPU time to charge: a CPU-time timer is armed or
    /// its signal is still to be sent. (Only then is CPU time counted, so a
    /// tick of a process without them takes no lock.)
    pub fn cpu_armed(&self) -> bool {
        self.virt.expires != 0 || self.prof.expires != 0 || self.unsent.virt || self.unsent.prof
    }

    /// Whether the real timer is due at `now`; it is then no longer active
    /// (until its SIGALRM is dequeued: [`Itimers::rearm_real`]).
    pub fn real_due(&mut self, now: u64) -> bool {
        if self.real.active && now >= self.real.expires {
            self.real.active = false;
            true
        } else {
            false
        }
    }

    /// SIGALRM was dequeued: a periodic real timer that has run starts again,
    /// at the first whole interval from its last expiry that is past `now`
    /// (Linux `hrtimer_forward`). Returns the new expiry if it was re-armed.
    pub fn rearm_real(&mut self, now: u64) -> Option<u64> {
        let r = &mut self.real;
        if r.active || r.incr == 0 || r.expires == 0 {
            return None;
        }
        if now >= r.expires {
            let overruns = (now - r.expires) / r.incr + 1;
            r.expires = r.expires.saturating_add(overruns.saturating_mul(r.incr));
        }
        r.active = true;
        Some(r.expires)
    }
}

#[cfg(target_os = "none")]
mod kernel_itimer;
#[cfg(target_os = "none")]
pub use kernel_itimer::*;

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: u64 = 10_000_000;

    #[test]
    fn conversions_and_alarm_rounding() {
        assert_eq!(timeval_to_ns(1, 500_000), Some(1_500_000_000));
        assert_eq!(timeval_to_ns(-1, 0), None);
        assert_eq!(timeval_to_ns(0, 1_000_000), None);
        assert_eq!(timeval_to_ns(0, -1), None);
        assert_eq!(ns_to_timeval(1_234_567_891), (1, 234_567));
        assert_eq!(alarm_seconds(0), 0);
        assert_eq!(alarm_seconds(1), 1);
        assert_eq!(alarm_seconds(4_499_999_999), 4);
        assert_eq!(alarm_seconds(4_500_000_000), 5);
        assert_eq!(alarm_seconds(5_000_000_000), 5);
        assert_eq!(Which::from_raw(3), None);
    }

    #[test]
    fn real_timer() {
        let mut t = Itimers::default();
        assert_eq!(t.set(Which::Real, 100, 40, 1000, TICK), (0, 0));
        assert_eq!(t.get(Which::Real, 1050, TICK), (50, 40));
        assert!(!t.real_due(1099));
        // Past its expiry but not yet run: 1 µs.
        assert_eq!(t.get(Which::Real, 1200, TICK), (1000, 40));
        assert!(t.real_due(1200));
        assert_eq!(t.get(Which::Real, 1200, TICK), (0, 40));
        // Dequeued at 1190: forwarded from 1100 to 1220 (past 1190).
        assert_eq!(t.rearm_real(1190), Some(1220));
        assert_eq!(t.rearm_real(1190), None, "already armed");
        // Disarming drops the interval too.
        assert_eq!(t.set(Which::Real, 0, 5, 1200, TICK), (20, 40));
        assert_eq!(t.get(Which::Real, 1200, TICK), (0, 0));
        // A one-shot one is not re-armed.
        t.set(Which::Real, 10, 0, 0, TICK);
        assert!(t.real_due(10));
        assert_eq!(t.rearm_real(20), None);
    }

    #[test]
    fn cpu_timers_count_ticks() {
        let mut t = Itimers::default();
        // Armed: the value and a tick.
        t.set(Which::Virtual, 2 * TICK, 3 * TICK, 0, TICK);
        t.set(Which::Prof, TICK, 0, 0, TICK);
        assert_eq!(t.get(Which::Virtual, 0, TICK), (3 * TICK, 3 * TICK));
        assert_eq!(t.account_tick(TICK, false), Expired::default());
        assert_eq!(t.get(Which::Virtual, 0, TICK), (3 * TICK, 3 * TICK), "system time");
        assert_eq!(t.account_tick(TICK, true), Expired { virt: false, prof: true });
        assert_eq!(t.get(Which::Prof, 0, TICK), (0, 0), "one-shot, disarmed");
        assert_eq!(t.account_tick(TICK, true), Expired::default());
        assert_eq!(t.account_tick(TICK, true), Expired { virt: true, prof: false });
        assert_eq!(t.get(Which::Virtual, 0, TICK), (3 * TICK, 3 * TICK), "reloaded");
        // A signal not sent is reported again with the next tick.
        t.unsent.virt = true;
        assert_eq!(t.account_tick(TICK, false), Expired { virt: true, prof: false });
        assert_eq!((t.utime, t.stime), (3 * TICK, 2 * TICK));
        assert_eq!(t.set(Which::Virtual, 0, 0, 0, TICK), (3 * TICK, 3 * TICK));
        assert!(!t.cpu_armed(), "nothing armed, nothing to send");
        t.set(Which::Prof, TICK, 0, 0, TICK);
        assert!(t.cpu_armed());
    }
}
