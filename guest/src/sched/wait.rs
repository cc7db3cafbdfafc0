//! Sleeping until something happens (Linux `kernel/sched/wait.c`): wait queues
//! and `wait_event` with an optional deadline.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use super::core::{add_timer, current, del_timers, schedule};
use super::entity::{TASK_INTERRUPTIBLE, TASK_RUNNING};
use super::task::{Task, TaskData, Wake};

/// Sleep until `cond()` holds or `deadline` (monotonic ns) passes, registering
/// with `wq` so that `WaitQueue::wake_all` re-checks. Returns the last value of
/// `cond()`, which is evaluated exactly once per check (it may act, e.g. read a
/// pipe). A fatal signal for the task also ends the wait.
pub fn wait_event<D: TaskData>(
    wq: Option<&WaitQueue>,
    deadline: Option<u64>,
    cond: impl FnMut() -> bool,
) -> bool {
    wait_event_common::<D>(wq.as_slice(), deadline, cond, false)
}

/// `wait_event` registered with every queue of `wqs` (poll: a wake-up of any
/// of the polled files re-checks).
pub fn wait_event_any<D: TaskData>(
    wqs: &[&WaitQueue],
    deadline: Option<u64>,
    cond: impl FnMut() -> bool,
) -> bool {
    wait_event_common::<D>(wqs, deadline, cond, false)
}

/// `wait_event` that only a fatal signal interrupts (Linux `TASK_KILLABLE`).
pub fn wait_event_killable<D: TaskData>(
    wq: Option<&WaitQueue>,
    cond: impl FnMut() -> bool,
) -> bool {
    wait_event_common::<D>(wq.as_slice(), None, cond, true)
}

/// `wait_event_killable` with a deadline (monotonic ns).
pub fn wait_event_killable_timeout<D: TaskData>(
    wq: Option<&WaitQueue>,
    deadline: u64,
    cond: impl FnMut() -> bool,
) -> bool {
    wait_event_common::<D>(wq.as_slice(), Some(deadline), cond, true)
}

fn wait_event_common<D: TaskData>(
    wqs: &[&WaitQueue],
    deadline: Option<u64>,
    mut cond: impl FnMut() -> bool,
    killable_only: bool,
) -> bool {
    let Some(task) = current::<D>() else {
        // No task (boot code): halt until the condition holds.
        let mut ok = false;
        crate::arch::wait_until(|| {
            ok = cond();
            ok || deadline.is_some_and(|d| crate::time::monotonic_ns() >= d)
        });
        return ok;
    };
    loop {
        task.state.store(TASK_INTERRUPTIBLE, Ordering::Release);
        for wq in wqs {
            wq.add(&task);
        }
        if let Some(d) = deadline {
            add_timer(d, &task);
        }
        let ok = cond();
        let expired = deadline.is_some_and(|d| crate::time::monotonic_ns() >= d);
        let killed =
            if killable_only { D::fatal_signal_pending(&task) } else { D::signal_pending(&task) };
        if ok || expired || killed {
            task.state.store(TASK_RUNNING, Ordering::Release);
            for wq in wqs {
                wq.remove(&task);
            }
            // The timers it queued, on whichever CPUs (cancelled when it ends).
            del_timers(&task);
            // As Linux's `___wait_cond_timeout`: on a timeout the condition is
            // read again, since it may have come true after `cond()` above
            // (a sleep whose condition is the deadline itself, with the
            // clock read twice, would otherwise report an interruption).
            return ok || (expired && cond());
        }
        schedule::<D>();
    }
}

/// Tasks sleeping until something happens (Linux `wait_queue_head_t`). It
/// holds them as `dyn Wake`, so that layers below the one that defines the
/// tasks (a pipe in `fs`) can own one.
#[derive(Default)]
pub struct WaitQueue {
    waiters: spin::Mutex<Vec<Arc<dyn Wake>>>,
}

impl WaitQueue {
    pub const fn new() -> Self {
        Self { waiters: spin::Mutex::new(Vec::new()) }
    }

    fn add<D: TaskData>(&self, task: &Arc<Task<D>>) {
        let mut w = self.waiters.lock();
        if !w.iter().any(|t| core::ptr::addr_eq(Arc::as_ptr(t), Arc::as_ptr(task))) {
            w.push(task.clone());
        }
    }

    fn remove<D: TaskData>(&self, task: &Arc<Task<D>>) {
        self.waiters.lock().retain(|t| !core::ptr::addr_eq(Arc::as_ptr(t), Arc::as_ptr(task)));
    }

    /// Wake every waiter; each re-checks its condition.
    pub fn wake_all(&self) {
        let waiters: Vec<Arc<dyn Wake>> = core::mem::take(&mut *self.waiters.lock());
        for t in waiters {
            t.wake();
        }
    }
}

/// Something that happens once, with its own waiters (Linux `struct
/// completion`): completing it wakes only the tasks waiting for it.
#[derive(Default)]
pub struct Completion {
    done: core::sync::atomic::AtomicBool,
    /// The tasks waiting for `done`.
    pub wait: WaitQueue,
}

impl Completion {
    pub const fn new() -> Self {
        Self { done: core::sync::atomic::AtomicBool::new(false), wait: WaitQueue::new() }
    }

    /// Whether `complete_all` ran.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Mark it done and wake every waiter (Linux `complete_all`).
    pub fn complete_all(&self) {
        self.done.store(true, Ordering::Release);
        self.wait.wake_all();
    }
}
