//! The task table (Linux: the pid hash, `tasklist_lock` and `nr_threads`), the
//! pids in use with what they are attached to, the initial namespaces, the
//! per-user process counts RLIMIT_NPROC is checked against, and the per-CPU
//! process counts (`nr_processes`).
//!
//! Pids are keyed by their number in the initial PID namespace (`Task::pid`),
//! and a pid's entry holds the task whose pid it is (Linux `struct pid`'s
//! `tasks[PIDTYPE_PID]`): one lookup finds both, and a task joins or leaves
//! the table with one. A pid stays allocated while any task uses it as its
//! pid, process group or session (Linux frees a `struct pid` when no task is
//! attached to it in any role), so a process group keeps its number after its
//! leader is reaped.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::arch::pvlock::PvMutex;
use crate::errno::Errno;
use crate::process::nsproxy::NsProxy;
use crate::process::pid::PidMap;
use crate::process::pid_namespace::{self, Pid, PidNamespace};
use crate::process::task::ThreadGroup;
use crate::process::Task;

static USER_PROCS: spin::Mutex<BTreeMap<u32, u32>> = spin::Mutex::new(BTreeMap::new());

/// An allocated pid, how many (task, role) pairs use it, and the task whose
/// pid it is while that task is in the table.
struct PidEntry {
    pid: Arc<Pid>,
    users: u32,
    task: Option<Arc<Task>>,
}

static PIDS: spin::Mutex<PidMap<PidEntry>> = spin::Mutex::new(PidMap::new(0));

/// The tasks in the table (Linux `nr_threads`).
static NR_THREADS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

static INIT_PID_NS: spin::Once<Arc<PidNamespace>> = spin::Once::new();
static INIT_NSPROXY: spin::Once<Arc<NsProxy>> = spin::Once::new();

/// Linux `tasklist_lock`: held while a new task joins the table and while a
/// signal is sent to a group of processes, so that a fork in progress either
/// ends first (the child is a member when the signal is sent) or sees the
/// signal (in its parent's delayed set). Taken before the table's own locks.
pub static TASKLIST: PvMutex<()> = PvMutex::new(());

/// The most tasks the kernel allows (Linux derives `max_threads` from RAM).
pub const MAX_THREADS: usize = 4096;

/// Linux `init_pid_ns`.
pub fn init_pid_ns() -> &'static Arc<PidNamespace> {
    INIT_PID_NS.call_once(PidNamespace::new_root)
}

/// Linux `init_nsproxy`: the namespaces of the idle tasks and of pid 1.
pub fn init_nsproxy() -> &'static Arc<NsProxy> {
    INIT_NSPROXY.call_once(|| NsProxy::initial(init_pid_ns()))
}

/// A pid in `ns` and each of its ancestors (Linux `alloc_pid`), not yet used by
/// any task: `attach` it, or give it back with `free_unattached`.
pub fn alloc_pid_ns(ns: &Arc<PidNamespace>) -> Result<Arc<Pid>, Errno> {
    alloc_pid_set_tid(ns, &[], true)
}

/// `alloc_pid_ns` with clone3's `set_tid` (see
/// [`pid_namespace::alloc_pid_set_tid`]); `capable`: the caller may choose
/// pids (root).
pub fn alloc_pid_set_tid(
    ns: &Arc<PidNamespace>,
    set_tid: &[i32],
    capable: bool,
) -> Result<Arc<Pid>, Errno> {
    let pid = Arc::new(pid_namespace::alloc_pid_set_tid(ns, set_tid, capable)?);
    PIDS.lock().insert(pid.global(), PidEntry { pid: pid.clone(), users: 0, task: None });
    crate::counters::global_add(crate::counters::PIDS_IN_USE, 1);
    Ok(pid)
}

/// A pid in the initial namespace (for the first process), by its number.
pub fn alloc_pid() -> Option<u32> {
    alloc_pid_ns(init_pid_ns()).ok().map(|p| p.global())
}

/// Give back a pid that no task was attached to (a fork that failed after
/// `alloc_pid`).
pub fn free_unattached(pid: &Pid) {
    let removed = {
        let mut pids = PIDS.lock();
        match pids.get(pid.global()) {
            Some(e) if e.users == 0 => pids.remove(pid.global()),
            _ => None,
        }
    };
    if let Some(e) = removed {
        release_numbers(&e.pid);
    }
}

/// The pid whose initial-namespace number is `global`, while it is allocated.
pub fn pid_of(global: u32) -> Option<Arc<Pid>> {
    PIDS.lock().get(global).map(|e| e.pid.clone())
}

/// The number `global` has in `ns` (0 if it is not visible there or gone):
/// process group and session ids as a namespace sees them.
pub fn nr_in(global: u32, ns: &PidNamespace) -> u32 {
    pid_of(global).map_or(0, |p| p.nr_ns(ns))
}

/// A task (or process group) uses pid `global` in one more role.
fn attach(global: u32) {
    attach_locked(&mut PIDS.lock(), global);
}

fn attach_locked(pids: &mut PidMap<PidEntry>, global: u32) {
    if let Some(e) = pids.get_mut(global) {
        e.users += 1;
    }
}

/// A task no longer uses pid `global` in one role; the last use frees it.
fn detach(global: u32) {
    let removed = {
        let mut pids = PIDS.lock();
        match pids.get_mut(global) {
            Some(e) if e.users <= 1 => pids.remove(global),
            Some(e) => {
                e.users -= 1;
                None
            }
            None => None,
        }
    };
    if let Some(e) = removed {
        release_numbers(&e.pid);
    }
}

/// Free the numbers of a pid no longer used, and wake the init of any dying
/// namespace it was in: it waits for its namespace to empty.
fn release_numbers(pid: &Pid) {
    pid_namespace::free_pid(pid);
    crate::counters::global_sub(crate::counters::PIDS_IN_USE, 1);
    for u in pid.numbers().iter().skip(1) {
        if !u.ns.adding() {
            if let Some(reaper) = find(u.ns.child_reaper()) {
                reaper.wait_chld.wake_all();
            }
        }
    }
}

/// Enter a task made without `copy_process` (the first process) in the table,
/// counting it for its user.
pub fn register(task: &Arc<Task>) {
    charge_user(task.creds().uid);
    register_charged(task);
}

/// Count one more process of `uid` (Linux `inc_rlimit_ucounts` in
/// `copy_creds`, before the RLIMIT_NPROC check, so that two forks at once
/// cannot both pass it): the new count. `uncharge_user` undoes it.
pub fn charge_user(uid: u32) -> u32 {
    let mut u = USER_PROCS.lock();
    let n = u.entry(uid).or_insert(0);
    *n += 1;
    *n
}

pub fn uncharge_user(uid: u32) {
    if let Some(n) = USER_PROCS.lock().get_mut(&uid) {
        *n = n.saturating_sub(1);
    }
}

/// Enter a new task, already counted for its user, in the table (Linux
/// `attach_pid` and the counts in `copy_process`): its pid, and for a process
/// its group and session; for a process, this CPU's `process_count`. The first
/// process of a namespace becomes its child reaper.
pub fn register_charged(task: &Arc<Task>) {
    {
        let mut pids = PIDS.lock();
        let e = pids.get_mut(task.pid());
        debug_assert!(e.is_some(), "a task's pid is allocated before it joins the table");
        if let Some(e) = e {
            e.task = Some(task.clone());
            e.users += 1;
        }
        if task.is_group_leader() {
            attach_locked(&mut pids, task.pgid.load(core::sync::atomic::Ordering::Relaxed));
            attach_locked(&mut pids, task.sid.load(core::sync::atomic::Ordering::Relaxed));
        }
    }
    let nr = NR_THREADS.fetch_add(1, core::sync::atomic::Ordering::Relaxed) + 1;
    join_thread_list(task);
    if task.is_group_leader() {
        let cpu = crate::arch::cpu_id();
        crate::counters::cpu_add(cpu, crate::counters::CPU_PROCESS_COUNT, 1);
    }
    if task.pid_vnr() == 1 {
        task.pid_ns().set_child_reaper(task.pid());
    }
    crate::counters::global_add(crate::counters::TOTAL_FORKS, 1);
    crate::counters::global_set(crate::counters::NR_THREADS, nr as u64);
}

/// Remove a reaped (or auto-reaped) task (Linux `release_task`): from here on
/// no lookup finds it. The caller holds `TASKLIST`. What needs no lock of the
/// table's (the task's uses of pids end, its user and cgroup counts, its
/// pidfds' wake-up) is left to the returned [`Released`]'s drop, which
/// `wait` drops after `TASKLIST`, as Linux's `release_task` does its
/// `free_pids` and `put_task_struct` after `write_unlock_irq` (an exiting
/// thread's own release is dropped under the lock: see `exit_notify`). None
/// if the task was released already.
pub fn release(task: &Arc<Task>) -> Option<Released> {
    let taken = match PIDS.lock().get_mut(task.pid()) {
        Some(e) if e.task.as_ref().is_some_and(|t| Arc::ptr_eq(t, task)) => e.task.take(),
        _ => None,
    };
    drop(taken?);
    let nr = NR_THREADS.fetch_sub(1, core::sync::atomic::Ordering::Relaxed) - 1;
    crate::trace_event!(
        SchedProcessFree,
        task.pid(),
        crate::process::current().map_or(0, |t| t.pid())
    );
    leave_thread_list(task);
    if task.group.group_exec_task.load(core::sync::atomic::Ordering::Relaxed) != 0 {
        // A thread's execve waits until its process's other threads are gone
        // (`de_thread`); this one is now, whoever released it: itself, its
        // tracer's wait, the tracer's exit (Linux: `__exit_signal` wakes
        // `group_exec_task` when `notify_count` runs out).
        task.group.exec_wait.wake_all();
    }
    if task.is_group_leader() {
        // `__unhash_process`: -1 on the CPU that releases it (may go negative).
        let cpu = crate::arch::cpu_id();
        crate::counters::cpu_add(cpu, crate::counters::CPU_PROCESS_COUNT, u64::MAX);
    }
    crate::counters::global_set(crate::counters::NR_THREADS, nr as u64);
    Some(Released(task.clone()))
}

/// The rest of [`release`], done when this is dropped: with `TASKLIST`
/// held or not, the outcome is the same; without it, the tasks that wait for
/// that lock (forks, exits and waits on other CPUs) do not wait for this.
pub struct Released(Arc<Task>);

impl Drop for Released {
    fn drop(&mut self) {
        let task = &self.0;
        if task.is_group_leader() {
            detach(task.pgid.load(core::sync::atomic::Ordering::Relaxed));
            detach(task.sid.load(core::sync::atomic::Ordering::Relaxed));
        }
        detach(task.pid());
        uncharge_user(task.creds().uid);
        // cgroup_release: its pids charge is given back.
        crate::process::cgroup::kernel::cgroup_release(task);
        // Its pidfds now report it gone (POLLHUP).
        crate::process::pidfd::do_notify_pidfd(&task.thread_pid());
    }
}

/// `task`, a thread execing, and `leader`, its process's leader, trade pids
/// (Linux `exchange_tids` in `de_thread`): the table finds each under its new
/// number. The caller holds `TASKLIST`. Each number keeps its one use as a
/// task's pid; the process group and session uses go with the leadership.
pub fn exchange_tids(task: &Arc<Task>, leader: &Arc<Task>) {
    let mut pids = PIDS.lock();
    task.exchange_tids(leader);
    for t in [task, leader] {
        if let Some(e) = pids.get_mut(t.pid()) {
            e.task = Some(t.clone());
        }
    }
    drop(pids);
    // The group's thread list is by tid: both move.
    for t in [task, leader] {
        leave_thread_list(t);
        join_thread_list(t);
    }
}

/// Enter `task` in its group's thread list, in tid order.
fn join_thread_list(task: &Arc<Task>) {
    let mut threads = task.group.threads.lock();
    let at = threads.partition_point(|(tid, _)| *tid < task.pid());
    threads.insert(at, (task.pid(), Arc::downgrade(task)));
}

/// Take `task` out of its group's thread list.
fn leave_thread_list(task: &Arc<Task>) {
    let me = Arc::as_ptr(task);
    task.group.threads.lock().retain(|(_, t)| !core::ptr::eq(t.as_ptr(), me));
}

/// A process moves to process group `new` (setpgid, setsid).
pub fn change_pgrp(task: &Task, new: u32) {
    attach(new);
    let old = task.pgid.swap(new, core::sync::atomic::Ordering::AcqRel);
    detach(old);
}

/// A process starts session `new` (setsid).
pub fn change_session(task: &Task, new: u32) {
    attach(new);
    let old = task.sid.swap(new, core::sync::atomic::Ordering::AcqRel);
    detach(old);
}

/// The task whose initial-namespace number is `pid`.
pub fn find(pid: u32) -> Option<Arc<Task>> {
    PIDS.lock().get(pid).and_then(|e| e.task.clone())
}

/// The task numbered `nr` in namespace `ns` (Linux `find_task_by_pid_ns`).
pub fn find_in(ns: &PidNamespace, nr: u32) -> Option<Arc<Task>> {
    ns.find(nr).and_then(find)
}

pub fn nr_threads() -> usize {
    NR_THREADS.load(core::sync::atomic::Ordering::Relaxed)
}

/// A task changed its real uid (setuid): move it between the per-user counts.
pub fn change_user(old: u32, new: u32) {
    let mut u = USER_PROCS.lock();
    if let Some(n) = u.get_mut(&old) {
        *n = n.saturating_sub(1);
    }
    *u.entry(new).or_insert(0) += 1;
}

/// Whether `task` is the only thread left in its group's list (Linux
/// `thread_group_empty`): threads that exited but wait to be released (a
/// tracer's zombies, a leader that exited first) count.
pub fn thread_group_empty(task: &Task) -> bool {
    let threads = task.group.threads.lock();
    threads.len() == 1 && threads[0].0 == task.pid()
}

/// The threads of the process `group` belongs to that are in the table, by
/// tid (Linux `for_each_thread`): O(threads), not O(tasks).
pub fn threads_of(group: &ThreadGroup) -> Vec<Arc<Task>> {
    group.threads.lock().iter().filter_map(|(_, t)| t.upgrade()).collect()
}

/// Every task (for kill -1 and process groups).
pub fn all() -> Vec<Arc<Task>> {
    PIDS.lock().values().filter_map(|e| e.task.clone()).collect()
}
