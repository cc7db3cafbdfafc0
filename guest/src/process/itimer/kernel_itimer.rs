//! The kernel side of the interval timers: each process's [`Itimers`] in its
//! thread group, the armed real timers in one list the timer tick scans, and
//! signals sent from the tick without waiting for a lock (see
//! `signal::send_signal_irq`).

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{Itimers, Which};
use crate::arch::irq::IrqSpinLock;
use crate::process::signal::{send_signal_irq, SIGALRM, SIGPROF, SIGVTALRM};
use crate::process::Task;
use crate::sched::TICK_NSEC;
use crate::time::monotonic_ns;

/// Expiry of an entry that has run (removed by the next change in process
/// context, so that the tick never frees memory).
const RAN: u64 = u64::MAX;

/// Armed real timers: (expiry, the process's leader, who gets SIGALRM).
static REAL_TIMERS: IrqSpinLock<Vec<(u64, Weak<Task>)>> = IrqSpinLock::new(Vec::new());
/// The earliest expiry in `REAL_TIMERS` (one load per tick when none is due).
static NEXT_REAL: AtomicU64 = AtomicU64::new(RAN);

fn publish_next(list: &[(u64, Weak<Task>)]) {
    NEXT_REAL.store(list.iter().map(|(e, _)| *e).min().unwrap_or(RAN), Relaxed);
}

/// The task that gets the process's SIGALRM: its leader (Linux sends it to
/// the thread group's pid).
fn leader_of(t: &Arc<Task>) -> Arc<Task> {
    if t.pid() == t.tgid {
        return t.clone();
    }
    crate::process::table::find(t.tgid).unwrap_or_else(|| t.clone())
}

/// Put `leader`'s real timer in the list at `expires` (None: take it out).
/// Process context: this is where the list grows and where entries that ran
/// or whose process is gone are dropped.
fn queue_real(leader: &Arc<Task>, expires: Option<u64>) {
    let mut list = REAL_TIMERS.lock();
    let me = Arc::downgrade(leader);
    list.retain(|(e, w)| *e != RAN && w.strong_count() > 0 && !Weak::ptr_eq(w, &me));
    if let Some(e) = expires {
        list.push((e, me));
    }
    publish_next(&list);
}

fn itimers(t: &Task) -> crate::arch::irq::IrqSpinLockGuard<'_, Itimers> {
    t.group.itimers.lock()
}

/// `getitimer`: (value, interval) in ns.
pub fn get(which: Which) -> (u64, u64) {
    let t = crate::process::current().expect("getitimer without a task");
    let r = itimers(&t).get(which, monotonic_ns(), TICK_NSEC);
    r
}

/// `setitimer`: arm or disarm `which` of the calling process; the old
/// (value, interval).
pub fn set(which: Which, value: u64, interval: u64) -> (u64, u64) {
    let t = crate::process::current().expect("setitimer without a task");
    let (old, real) = {
        let mut it = itimers(&t);
        let old = it.set(which, value, interval, monotonic_ns(), TICK_NSEC);
        t.group.cpu_itimers.store(it.cpu_armed(), Relaxed);
        (old, it.real.active.then_some(it.real.expires))
    };
    if which == Which::Real {
        queue_real(&leader_of(&t), real);
    }
    old
}

/// SIGALRM was dequeued by `task`: its process's periodic real timer starts
/// again (Linux `dequeue_signal`).
pub fn sigalrm_dequeued(task: &Arc<Task>) {
    let rearmed = itimers(task).rearm_real(monotonic_ns());
    if rearmed.is_some() {
        queue_real(&leader_of(task), rearmed);
    }
}

/// The timer tick on this CPU at `now` (interrupt context): run the real
/// timers that are due, and charge the tick to the running task's process,
/// as user time if it interrupted user mode, for the CPU-time timers
/// (`current`: the task the tick interrupted, None for an idle task).
pub fn tick(user: bool, now: u64, current: Option<&Arc<Task>>) {
    crate::arch::irq::assert_irqs_disabled();
    if now >= NEXT_REAL.load(Relaxed) {
        run_real_timers(now);
    }
    let Some(t) = current else { return };
    // The tick is the task's, as user or system time (Linux
    // `account_process_tick`): the ratio `getrusage` splits its runtime in.
    if user {
        t.se.utime.fetch_add(TICK_NSEC, Relaxed);
    } else {
        t.se.stime.fetch_add(TICK_NSEC, Relaxed);
    }
    if t.kthread || !t.group.cpu_itimers.load(Relaxed) {
        return;
    }
    let fired = itimers(t).account_tick(TICK_NSEC, user);
    for (on, sig) in [(fired.virt, SIGVTALRM), (fired.prof, SIGPROF)] {
        if on && send_signal_irq(t, sig).is_none() {
            // A lock was busy: the next tick sends it.
            let mut it = itimers(t);
            if sig == SIGVTALRM {
                it.unsent.virt = true;
            } else {
                it.unsent.prof = true;
            }
        }
    }
    let it = itimers(t);
    t.group.cpu_itimers.store(it.cpu_armed(), Relaxed);
}

/// Send SIGALRM for every real timer due at `now` (Linux `it_real_fn`).
fn run_real_timers(now: u64) {
    let mut list = REAL_TIMERS.lock();
    for entry in list.iter_mut().filter(|(e, _)| *e != RAN && *e <= now) {
        let Some(leader) = entry.1.upgrade() else {
            entry.0 = RAN;
            continue;
        };
        if !itimers(&leader).real_due(now) {
            // Changed since it was queued; its new entry is elsewhere.
            entry.0 = RAN;
            continue;
        }
        if send_signal_irq(&leader, SIGALRM).is_some() {
            entry.0 = RAN;
        } else {
            // A lock was busy: try again on the next tick.
            itimers(&leader).real.active = true;
        }
    }
    publish_next(&list);
}
