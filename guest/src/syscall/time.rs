//! Clocks and sleeping.

use super::{Args, SysResult};
use crate::errno::{EFAULT, EINVAL};
use crate::time::{monotonic_ns, ns_to_timespec, realtime_ns, timespec_to_ns};
use crate::uaccess;
use uapi::time::TIMER_ABSTIME;
pub use uapi::time::{
    CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW,
    CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_TAI,
    CLOCK_THREAD_CPUTIME_ID,
};

/// The clock's current value in ns. The CPU-time clocks are the scheduler's
/// accounting: the calling thread's, or its thread group's (live threads and
/// those that have exited).
fn clock_now(clock: i32) -> Result<u64, crate::errno::Errno> {
    if clock < 0 {
        return Err(EINVAL);
    }
    match clock as u32 {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_TAI => Ok(realtime_ns()),
        // Seen through the caller's time namespace (Linux `timens_add_monotonic`
        // and `timens_add_boottime`).
        c @ (CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME) => {
            let now = monotonic_ns();
            let me = crate::process::current().expect("a clock read without a task");
            let nsp = me.nsproxy.lock();
            let (mono, boot) = *nsp.time_ns.offsets.lock();
            let off = if c == CLOCK_BOOTTIME { boot } else { mono };
            Ok(now.saturating_add_signed(off))
        }
        CLOCK_THREAD_CPUTIME_ID => {
            let me = crate::process::current().expect("a clock read without a task");
            Ok(crate::sched::task_sched_runtime(&me))
        }
        CLOCK_PROCESS_CPUTIME_ID => {
            let me = crate::process::current().expect("a clock read without a task");
            Ok(crate::process::rusage::process_sched_runtime(&me))
        }
        _ => Err(EINVAL),
    }
}

fn write_timespec(addr: u64, ns: u64) -> Result<(), crate::errno::Errno> {
    let (s, n) = ns_to_timespec(ns);
    uaccess::write_u64s(addr, &[s as u64, n as u64])
}

fn read_timespec(addr: u64) -> Result<u64, crate::errno::Errno> {
    let [s, n] = uaccess::read_u64s::<2>(addr)?;
    timespec_to_ns(s as i64, n as i64).ok_or(EINVAL)
}

pub fn clock_gettime(a: &Args) -> SysResult {
    let now = clock_now(a.i32(0))?;
    write_timespec(a.u(1), now).map(|_| 0)
}

pub fn clock_getres(a: &Args) -> SysResult {
    clock_now(a.i32(0))?;
    if a.u(1) != 0 {
        write_timespec(a.u(1), 1)?;
    }
    Ok(0)
}

pub fn gettimeofday(a: &Args) -> SysResult {
    if a.u(0) != 0 {
        let ns = realtime_ns();
        uaccess::write_u64s(a.u(0), &[ns / 1_000_000_000, (ns % 1_000_000_000) / 1000])?;
    }
    if a.u(1) != 0 {
        uaccess::write_u64s(a.u(1), &[0])?;
    }
    Ok(0)
}

pub fn time(a: &Args) -> SysResult {
    let secs = realtime_ns() / 1_000_000_000;
    if a.u(0) != 0 {
        uaccess::write_u64s(a.u(0), &[secs]).map_err(|_| EFAULT)?;
    }
    Ok(secs)
}

/// Sleep until the monotonic clock reaches `deadline`; EINTR with the time left
/// when a signal interrupts.
fn sleep_until(deadline: u64) -> Result<(), u64> {
    if crate::process::wait_event(None, Some(deadline), || monotonic_ns() >= deadline) {
        Ok(())
    } else {
        Err(deadline.saturating_sub(monotonic_ns()))
    }
}

/// A relative sleep until `deadline` (Linux `hrtimer_nanosleep` with
/// HRTIMER_MODE_REL): interrupted, it writes the time left to `rmtp` (if
/// not 0) and leaves its deadline in the restart block — continued by
/// `restart_syscall` if no handler runs (after a stop and SIGCONT), EINTR if
/// one does.
fn nanosleep_rel(deadline: u64, rmtp: u64) -> SysResult {
    match sleep_until(deadline) {
        Ok(()) => Ok(0),
        Err(left) => {
            if rmtp != 0 {
                write_timespec(rmtp, left)?;
            }
            let me = crate::process::current().expect("a sleep without a task");
            *me.restart_block.lock() = Some((deadline, rmtp));
            Err(crate::process::signal::ERESTART_RESTARTBLOCK)
        }
    }
}

/// `restart_syscall`: continue the sleep a signal without a handler
/// interrupted (Linux `hrtimer_nanosleep_restart`); EINTR without one
/// (`do_no_restart_syscall`).
pub fn restart_syscall() -> SysResult {
    let me = crate::process::current().expect("restart_syscall without a task");
    let block = me.restart_block.lock().take();
    drop(me);
    match block {
        Some((deadline, rmtp)) => nanosleep_rel(deadline, rmtp),
        None => Err(crate::errno::EINTR),
    }
}

pub fn nanosleep(a: &Args) -> SysResult {
    let ns = read_timespec(a.u(0))?;
    nanosleep_rel(monotonic_ns().saturating_add(ns), a.u(1))
}

pub fn clock_nanosleep(a: &Args) -> SysResult {
    let (clock, flags) = (a.i32(0), a.u32(1));
    if clock as u32 == CLOCK_THREAD_CPUTIME_ID {
        return Err(EINVAL);
    }
    let now = clock_now(clock)?;
    let ns = read_timespec(a.u(2))?;
    if flags & TIMER_ABSTIME == 0 {
        return nanosleep_rel(monotonic_ns().saturating_add(ns), a.u(3));
    }
    // An absolute sleep is made again as it was if no handler runs (Linux
    // -ERESTARTNOHAND: "absolute timers do not update the rmtp value and
    // restart").
    match sleep_until(monotonic_ns().saturating_add(ns.saturating_sub(now))) {
        Ok(()) => Ok(0),
        Err(_) => Err(crate::process::signal::ERESTARTNOHAND),
    }
}

// ---- interval timers (Linux kernel/time/itimer.c) ------------------------------

use crate::process::itimer::{self, Which};

/// `struct itimerval` bytes: interval, then value, each a `timeval`.
fn write_itimerval(addr: u64, (value, interval): (u64, u64)) -> Result<(), crate::errno::Errno> {
    let (is, iu) = itimer::ns_to_timeval(interval);
    let (vs, vu) = itimer::ns_to_timeval(value);
    uaccess::write_u64s(addr, &[is as u64, iu as u64, vs as u64, vu as u64])
}

pub fn getitimer(a: &Args) -> SysResult {
    let which = Which::from_raw(a.i32(0)).ok_or(EINVAL)?;
    write_itimerval(a.u(1), itimer::get(which)).map(|_| 0)
}

/// `setitimer(which, new, old)`: as Linux, a NULL `new` disarms (a misfeature
/// Linux keeps), and `old` is written after the change: a bad `old` is EFAULT
/// with the timer set.
pub fn setitimer(a: &Args) -> SysResult {
    let (value, interval) = if a.u(1) != 0 {
        let [is, iu, vs, vu] = uaccess::read_u64s::<4>(a.u(1))?;
        let interval = itimer::timeval_to_ns(is as i64, iu as i64).ok_or(EINVAL)?;
        let value = itimer::timeval_to_ns(vs as i64, vu as i64).ok_or(EINVAL)?;
        (value, interval)
    } else {
        (0, 0)
    };
    let which = Which::from_raw(a.i32(0)).ok_or(EINVAL)?;
    let old = itimer::set(which, value, interval);
    if a.u(2) != 0 {
        write_itimerval(a.u(2), old)?;
    }
    Ok(0)
}

/// `alarm(seconds)`: ITIMER_REAL once; the previous one's seconds left,
/// rounded (Linux `alarm_setitimer`).
pub fn alarm(a: &Args) -> SysResult {
    let secs = u64::from(a.u32(0));
    let (old, _) = itimer::set(Which::Real, secs * 1_000_000_000, 0);
    Ok(itimer::alarm_seconds(old))
}

// ---- POSIX timers (Linux kernel/time/posix-timers.c) --------------------------

use crate::process::posix_timers::{self, SigEvent};

/// `struct itimerspec` bytes: interval, then value, each a `timespec`.
fn write_itimerspec(addr: u64, (value, interval): (u64, u64)) -> Result<(), crate::errno::Errno> {
    let (is, ins) = ns_to_timespec(interval);
    let (vs, vns) = ns_to_timespec(value);
    uaccess::write_u64s(addr, &[is as u64, ins as u64, vs as u64, vns as u64])
}

fn current() -> alloc::sync::Arc<crate::process::Task> {
    crate::process::current().expect("a timer call without a task")
}

/// `timer_create(clock, sevp, timerid)`: a NULL `sevp` is SIGALRM to the
/// process with the timer's id as its value. A bad `timerid` is EFAULT and
/// leaves no timer.
pub fn timer_create(a: &Args) -> SysResult {
    let event = if a.u(1) != 0 {
        let b = uaccess::read_bytes(a.u(1), 64)?;
        let mut raw = [0u8; 64];
        raw.copy_from_slice(&b);
        Some(SigEvent::from_bytes(&raw))
    } else {
        None
    };
    let me = current();
    let id = posix_timers::timer_create(&me, a.i32(0), event)?;
    if let Err(e) = uaccess::write_u32(a.u(2), id as u32) {
        // (Cannot fail: the id was just made.)
        let _ = posix_timers::timer_delete(&me, i64::from(id));
        return Err(e);
    }
    Ok(0)
}

/// `timer_settime(timerid, flags, new, old)`: TIMER_ABSTIME makes `new`'s
/// value a time on the timer's clock; `old` is written after the change.
pub fn timer_settime(a: &Args) -> SysResult {
    if a.u(2) == 0 {
        return Err(EINVAL);
    }
    let [is, ins, vs, vns] = uaccess::read_u64s::<4>(a.u(2))?;
    let interval = timespec_to_ns(is as i64, ins as i64).ok_or(EINVAL)?;
    let value = timespec_to_ns(vs as i64, vns as i64).ok_or(EINVAL)?;
    let absolute = a.u32(1) & TIMER_ABSTIME != 0;
    let old =
        posix_timers::timer_settime(&current(), i64::from(a.i32(0)), absolute, value, interval)?;
    if a.u(3) != 0 {
        write_itimerspec(a.u(3), old)?;
    }
    Ok(0)
}

pub fn timer_gettime(a: &Args) -> SysResult {
    let cur = posix_timers::timer_gettime(&current(), i64::from(a.i32(0)))?;
    write_itimerspec(a.u(1), cur).map(|_| 0)
}

pub fn timer_getoverrun(a: &Args) -> SysResult {
    posix_timers::timer_getoverrun(&current(), i64::from(a.i32(0))).map(|n| n as u64)
}

pub fn timer_delete(a: &Args) -> SysResult {
    posix_timers::timer_delete(&current(), i64::from(a.i32(0))).map(|_| 0)
}
