//! The kernel's side of resource usage: a task's figures, a process's
//! (under the task-list lock, which exit and wait take too), and the
//! accounting at thread exit and at reap.

use alloc::sync::Arc;
use core::sync::atomic::Ordering::{Acquire, Relaxed};

use super::{Counts, Cputime, Usage, Who};
use crate::process::table;
use crate::process::task::Task;

/// `task`'s CPU time now, its running slice included (Linux
/// `task_cputime`).
pub fn task_cputime(task: &Task) -> Cputime {
    Cputime {
        sum_exec_runtime: crate::sched::task_sched_runtime(task),
        utime: task.se.utime.load(Relaxed),
        stime: task.se.stime.load(Relaxed),
    }
}

/// `task`'s minor faults and context switches.
pub fn task_counts(task: &Task) -> Counts {
    Counts {
        min_flt: task.min_flt.load(Relaxed),
        nvcsw: task.se.nvcsw.load(Relaxed),
        nivcsw: task.se.nivcsw.load(Relaxed),
    }
}

/// KiB of `task`'s address space's high-water RSS (0 without one).
fn mm_hiwater_kib(task: &Task) -> u64 {
    task.mm().map_or(0, |mm| mm.hiwater_rss_pages() * (crate::mm::frame::PAGE_SIZE / 1024))
}

/// The figures of `me`'s process's threads that have not exited (Linux
/// `thread_group_cputime` over the live threads). Under the task-list lock.
fn live_threads(me: &Task) -> (Cputime, Counts) {
    let (mut cputime, mut counts) = (Cputime::default(), Counts::default());
    for t in table::threads_of(&me.group).iter().filter(|t| !t.exited.load(Acquire)) {
        cputime.add(&task_cputime(t));
        counts.add(&task_counts(t));
    }
    (cputime, counts)
}

/// `getrusage(who)` for the calling task `me` (Linux `k_getrusage`).
pub fn getrusage(me: &Task, who: Who) -> Usage {
    match who {
        Who::Thread => {
            let (cputime, counts) = (task_cputime(me), task_counts(me));
            // Linux `task_cputime_adjusted`, with the thread's own history.
            let mut prev = *me.prev_cputime.lock();
            let (utime, stime) = super::cputime_adjust(&cputime, &mut prev);
            *me.prev_cputime.lock() = prev;
            let maxrss = me.group.usage.lock().maxrss_kib.max(mm_hiwater_kib(me));
            Usage { utime, stime, counts, maxrss_kib: maxrss }
        }
        Who::Children => {
            let _tasklist = table::TASKLIST.lock();
            me.group.usage.lock().children
        }
        Who::SelfProcess => {
            let hiwater = mm_hiwater_kib(me);
            let _tasklist = table::TASKLIST.lock();
            let (cputime, counts) = live_threads(me);
            me.group.usage.lock().self_usage((&cputime, &counts), hiwater)
        }
    }
}

/// CLOCK_PROCESS_CPUTIME_ID: the runtime of the process's live threads and
/// of those that exited (Linux `thread_group_cputime`).
pub fn process_sched_runtime(me: &Task) -> u64 {
    let _tasklist = table::TASKLIST.lock();
    live_threads(me).0.sum_exec_runtime + me.group.usage.lock().dead_cputime.sum_exec_runtime
}

/// The figures of an exiting thread, taken by [`exit_thread_usage`] before
/// the task-list lock.
pub struct ExitUsage(Cputime, Counts);

/// An exiting thread's figures, read before the task-list lock: reading its
/// CPU time locks its run queue (`task_sched_runtime`), which need not
/// lengthen the task-list lock's section.
pub fn exit_thread_usage(task: &Task) -> ExitUsage {
    ExitUsage(task_cputime(task), task_counts(task))
}

/// A thread of `task`'s process is leaving: its figures (`usage`, read just
/// before) go to the process (Linux `__exit_signal`). Under the task-list
/// lock, in the same section that marks it exited, so that a reader sees it
/// counted exactly once and a parent reaping the process sees every thread's
/// figures.
pub fn exit_thread_accounting(task: &Task, usage: ExitUsage) {
    task.group.usage.lock().thread_exited(&usage.0, &usage.1);
}

/// The process is leaving address space `mm` (exit, exec): its high-water
/// RSS is the process's if larger (Linux `setmax_mm_hiwater_rss`).
pub fn leave_mm(task: &Task, mm: &crate::mm::address_space::Mm) {
    let kib = mm.hiwater_rss_pages() * (crate::mm::frame::PAGE_SIZE / 1024);
    let mut u = task.group.usage.lock();
    u.maxrss_kib = u.maxrss_kib.max(kib);
}

/// `parent` reaps the process `zombie` (Linux `wait_task_zombie`): the
/// zombie's whole usage goes to the parent's children's figures unless the
/// wait only looks (WNOWAIT); it is what `wait4` reports. Needs no lock of
/// the table (the zombie's group is dead: its figures no longer change), only
/// that no other wait reaps the same zombie: `do_wait` calls it after the
/// task-list lock, once the zombie has left its children (with WNOWAIT it
/// stays there, and this only reads).
pub fn reap_accounting(parent: &Task, zombie: &Arc<Task>, nowait: bool) -> Usage {
    let usage: Usage = zombie.group.usage.lock().reaped_usage();
    if !nowait && !Arc::ptr_eq(&parent.group, &zombie.group) {
        parent.group.usage.lock().children.add(&usage);
    }
    usage
}
