//! The kernel side of the POSIX timers: each process's [`PosixTimers`] in its
//! thread group, the armed real-clock timers in one list the timer tick
//! scans, the CPU-time timers checked by the tick of the process they
//! measure, and the signals sent from the tick without waiting for a lock
//! (`signal::send_sigqueue_irq`).

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::{Expiry, Fired, KItimer, Notify, PosixTimers, SigEvent, TimerClock};
use crate::arch::irq::IrqSpinLock;
use crate::errno::{Errno, EAGAIN};
use crate::process::signal::{send_sigqueue_irq, PidType, SigInfo};
use crate::process::task::ThreadGroup;
use crate::process::Task;
use crate::time::{monotonic_ns, realtime_ns};

/// Expiry of an entry that has run or is stale (removed by the next change in
/// process context, so that the tick never frees memory).
const RAN: u64 = u64::MAX;

/// An armed real-clock timer: its expiry on the monotonic clock, its
/// process, its id.
struct Armed {
    expires: u64,
    group: Weak<ThreadGroup>,
    id: i32,
}

static ARMED: IrqSpinLock<Vec<Armed>> = IrqSpinLock::new(Vec::new());
/// The earliest expiry in `ARMED` (one load per tick when none is due).
static NEXT: AtomicU64 = AtomicU64::new(RAN);
/// Timers in existence: `ARMED` has room for one entry each, reserved when
/// a timer is made, so that arming one never allocates.
static TIMERS: AtomicUsize = AtomicUsize::new(0);

fn publish_next(list: &[Armed]) {
    NEXT.store(list.iter().map(|a| a.expires).min().unwrap_or(RAN), Relaxed);
}

/// Put timer `id` of `group` in the list as it is now (armed on a real
/// clock: at its expiry; otherwise not at all). Process context: this is
/// where the list's stale entries are dropped.
fn queue(group: &Arc<ThreadGroup>, id: i32) {
    let mut list = ARMED.lock();
    let me = Arc::downgrade(group);
    list.retain(|a| {
        a.expires != RAN
            && a.group.strong_count() > 0
            && !(a.id == id && Weak::ptr_eq(&a.group, &me))
    });
    let expires = group
        .posix_timers
        .lock()
        .timers
        .iter()
        .find(|t| t.id == id && t.armed && !t.clock.is_cpu())
        .map(|t| t.expires);
    if let Some(expires) = expires {
        // Room reserved by `timer_create` (one entry per timer).
        list.push(Armed { expires, group: me, id });
    }
    publish_next(&list);
}

/// Whether the tick has CPU-time timers to check for `group`.
fn update_cpu_armed(group: &ThreadGroup, timers: &PosixTimers) {
    group.cpu_posix_timers.store(timers.cpu_armed(), Relaxed);
}

/// The clock of `timer` now, in process context: the monotonic clock for the
/// real clocks; the scheduler's runtime for the CPU-time ones (0 for the
/// clock of a thread that is gone: its timer never expires).
fn clock_now(me: &Arc<Task>, clock: TimerClock) -> u64 {
    match clock {
        TimerClock::Realtime | TimerClock::Monotonic => monotonic_ns(),
        TimerClock::ProcessCpu => crate::process::rusage::process_sched_runtime(me),
        TimerClock::ThreadCpu(tid) if tid == me.pid() => crate::sched::task_sched_runtime(me),
        TimerClock::ThreadCpu(tid) => crate::process::table::find(tid)
            .filter(|t| Arc::ptr_eq(&t.group, &me.group) && !t.exited.load(Relaxed))
            .map_or(0, |t| crate::sched::task_sched_runtime(&t)),
    }
}

/// `timer_create(clock, sevp)` for the calling task: the new timer's id.
pub fn timer_create(me: &Arc<Task>, clock: i32, event: Option<SigEvent>) -> Result<i32, Errno> {
    let clock = TimerClock::from_id(clock, me.pid())?;
    let notify = match event {
        None => None,
        Some(ev) => Some(ev.notify(|tid| {
            crate::process::table::threads_of(&me.group)
                .iter()
                .any(|t| t.pid() == tid && !t.exited.load(Relaxed))
        })?),
    };
    let limit = me
        .group
        .rlimits
        .lock()
        .get(uapi::resource::RLIMIT_SIGPENDING)
        .map_or(usize::MAX, |r| usize::try_from(r.rlim_cur).unwrap_or(usize::MAX));
    // Room in the tick's list for this timer's entry.
    {
        let mut list = ARMED.lock();
        let want = TIMERS.load(Relaxed) + 1;
        if list.capacity() < want {
            let more = want - list.len();
            list.try_reserve(more).map_err(|_| EAGAIN)?;
        }
        TIMERS.fetch_add(1, Relaxed);
    }
    let mut timers = me.group.posix_timers.lock();
    let created = timers.add(clock, notify.unwrap_or(Notify::None), limit);
    match created {
        Ok((id, t)) => {
            // No sigevent: SIGALRM to the process carrying the timer's id.
            if notify.is_none() {
                t.notify = Notify::Signal {
                    signo: uapi::signal::SIGALRM,
                    value: id as u32 as u64,
                    thread: None,
                };
            }
            Ok(id)
        }
        Err(e) => {
            TIMERS.fetch_sub(1, Relaxed);
            Err(e)
        }
    }
}

/// `timer_settime(id, flags, value, interval)`: the old (value, interval).
/// An absolute value (TIMER_ABSTIME) of a CLOCK_REALTIME or CLOCK_TAI timer
/// is wall-clock time.
pub fn timer_settime(
    me: &Arc<Task>,
    id: i64,
    absolute: bool,
    value: u64,
    interval: u64,
) -> Result<(u64, u64), Errno> {
    let clock = me.group.posix_timers.lock().find(id)?.clock;
    let now = clock_now(me, clock);
    let value = match (absolute, clock) {
        (false, _) => Expiry::Relative(value),
        (true, TimerClock::Realtime) if value != 0 => {
            // Wall-clock time on the monotonic timeline (at least 1: 0 disarms).
            let offset = realtime_ns().saturating_sub(monotonic_ns());
            Expiry::Absolute(value.saturating_sub(offset).max(1))
        }
        (true, _) => Expiry::Absolute(value),
    };
    let old = {
        let mut timers = me.group.posix_timers.lock();
        let (old, _) = timers.find(id)?.set(value, interval, now);
        update_cpu_armed(&me.group, &timers);
        old
    };
    if !clock.is_cpu() {
        queue(&me.group, id as i32);
    }
    Ok(old)
}

/// `timer_gettime(id)`: (value, interval).
pub fn timer_gettime(me: &Arc<Task>, id: i64) -> Result<(u64, u64), Errno> {
    let clock = me.group.posix_timers.lock().find(id)?.clock;
    let now = clock_now(me, clock);
    let r = me.group.posix_timers.lock().find(id)?.get(now);
    Ok(r)
}

/// `timer_getoverrun(id)`.
pub fn timer_getoverrun(me: &Arc<Task>, id: i64) -> Result<i32, Errno> {
    let r = me.group.posix_timers.lock().find(id)?.overrun_to_int();
    Ok(r)
}

/// `timer_delete(id)`. A signal it queued stays pending.
pub fn timer_delete(me: &Arc<Task>, id: i64) -> Result<(), Errno> {
    {
        let mut timers = me.group.posix_timers.lock();
        timers.delete(id)?;
        update_cpu_armed(&me.group, &timers);
    }
    TIMERS.fetch_sub(1, Relaxed);
    queue(&me.group, id as i32);
    Ok(())
}

/// Delete every timer of `group` (Linux `exit_itimers`: at `execve` and when
/// the process's last thread exits).
pub fn exit_itimers(group: &Arc<ThreadGroup>) {
    // No timer anywhere (the common case): nothing to lock.
    if TIMERS.load(Relaxed) == 0 {
        return;
    }
    let gone: Vec<KItimer> = {
        let mut timers = group.posix_timers.lock();
        group.cpu_posix_timers.store(false, Relaxed);
        core::mem::take(&mut timers.timers)
    };
    if gone.is_empty() {
        return;
    }
    TIMERS.fetch_sub(gone.len(), Relaxed);
    let mut list = ARMED.lock();
    let me = Arc::downgrade(group);
    list.retain(|a| a.expires != RAN && a.group.strong_count() > 0 && !Weak::ptr_eq(&a.group, &me));
    publish_next(&list);
}

/// `task` dequeued `sig` (Linux `dequeue_signal` → `posixtimer_rearm`): each
/// periodic timer of its process waiting for that signal to be taken starts
/// again; a timer's own signal reports the expiries it skipped.
pub fn signal_dequeued(task: &Arc<Task>, sig: u32, info: &mut SigInfo) {
    if TIMERS.load(Relaxed) == 0 || task.group.posix_timers.lock().timers.is_empty() {
        return;
    }
    let now_real = monotonic_ns();
    let mut requeue: Vec<i32> = Vec::new();
    {
        let mut timers = task.group.posix_timers.lock();
        for t in timers.timers.iter_mut() {
            let Notify::Signal { signo, thread, .. } = t.notify else { continue };
            if signo != sig || !t.requeue_pending || thread.is_some_and(|tid| tid != task.pid()) {
                continue;
            }
            // (A CPU-time timer's clock is read by the tick: its restart is
            // measured from its last expiry.)
            let now = if t.clock.is_cpu() { t.expires } else { now_real };
            let (rearmed, overrun) = t.rearm(now);
            if let Some(info) = info.timer_mut(t.id) {
                info.set_timer_overrun(overrun);
            }
            if rearmed.is_some() && !t.clock.is_cpu() && requeue.try_reserve(1).is_ok() {
                requeue.push(t.id);
            }
        }
        update_cpu_armed(&task.group, &timers);
    }
    for id in requeue {
        queue(&task.group, id);
    }
}

/// Send the signal of timer `id` that expired (interrupt context): to the
/// thread it names, or to the process. `None`: a lock was busy.
fn send(group: &Arc<ThreadGroup>, id: i32, f: Fired) -> Option<bool> {
    let target: Option<Arc<Task>> = {
        let threads = group.threads.try_lock()?;
        let mut live = threads.iter().filter_map(|(tid, t)| {
            t.upgrade().filter(|t| !t.exited.load(Relaxed)).map(|t| (*tid, t))
        });
        match f.thread {
            Some(want) => live.find(|(tid, _)| *tid == want).map(|(_, t)| t),
            None => live.next().map(|(_, t)| t),
        }
    };
    let Some(target) = target else { return Some(false) };
    let ty = if f.thread.is_some() { PidType::Pid } else { PidType::Tgid };
    send_sigqueue_irq(&target, f.signo, SigInfo::timer(id, 0, f.value), ty)
}

/// Expire timer `id` of `group` if it is due at `now` on its clock
/// (interrupt context). Returns the expiry to wait for next if it is still
/// armed (a busy lock, or a periodic timer whose signal is ignored).
fn expire_one(
    group: &Arc<ThreadGroup>,
    timers: &mut PosixTimers,
    id: i32,
    now: u64,
) -> Option<u64> {
    let t = timers.timers.iter_mut().find(|t| t.id == id)?;
    if !t.armed || t.expires > now {
        return t.armed.then_some(t.expires);
    }
    let fired = t.expire()?;
    match send(group, id, fired) {
        None => {
            // Try again on the next tick.
            t.armed = true;
            t.requeue_pending = false;
            Some(t.expires)
        }
        Some(true) => None,
        Some(false) => t.not_queued(now),
    }
}

/// The timer tick on this CPU at `now` (interrupt context): run the
/// real-clock timers that are due, and the CPU-time timers of the running
/// task's process.
pub fn tick(now: u64, current: Option<&Arc<Task>>) {
    crate::arch::irq::assert_irqs_disabled();
    if now >= NEXT.load(Relaxed) {
        run_real_timers(now);
    }
    let Some(t) = current else { return };
    if t.kthread || !t.group.cpu_posix_timers.load(Relaxed) {
        return;
    }
    run_cpu_timers(t);
}

fn run_real_timers(now: u64) {
    let mut list = ARMED.lock();
    for a in list.iter_mut().filter(|a| a.expires != RAN && a.expires <= now) {
        let Some(group) = a.group.upgrade() else {
            a.expires = RAN;
            continue;
        };
        let mut timers = group.posix_timers.lock();
        a.expires = match expire_one(&group, &mut timers, a.id, now) {
            // Changed since it was queued (its new entry is elsewhere) or done.
            Some(e) if e == a.expires || e > now => e,
            _ => RAN,
        };
    }
    publish_next(&list);
}

/// The CPU-time timers of `t`'s process: the process's runtime (its live
/// threads' and its exited threads') and `t`'s own. Locks only tried: a busy
/// one leaves them to the next tick.
fn run_cpu_timers(t: &Arc<Task>) {
    let Some(process_now) = process_runtime_irq(t) else { return };
    let thread_now = t.se.sum_exec_runtime.load(Relaxed);
    let group = &t.group;
    let mut timers = group.posix_timers.lock();
    let n = timers.timers.len();
    for i in 0..n {
        let (id, now) = {
            let k = &timers.timers[i];
            let now = match k.clock {
                TimerClock::ProcessCpu => process_now,
                TimerClock::ThreadCpu(tid) if tid == t.pid() => thread_now,
                _ => continue,
            };
            if !k.armed || k.expires > now {
                continue;
            }
            (k.id, now)
        };
        expire_one(group, &mut timers, id, now);
    }
    update_cpu_armed(group, &timers);
}

/// The process's CPU time from interrupt context, or None if a lock was busy.
fn process_runtime_irq(t: &Task) -> Option<u64> {
    let _tasklist = crate::process::table::TASKLIST.try_lock()?;
    let live: u64 = {
        let threads = t.group.threads.try_lock()?;
        threads
            .iter()
            .filter_map(|(_, w)| w.upgrade())
            .filter(|w| !w.exited.load(Relaxed))
            .map(|w| w.se.sum_exec_runtime.load(Relaxed))
            .sum()
    };
    let dead = t.group.usage.try_lock()?.dead_cputime.sum_exec_runtime;
    Some(live + dead)
}
