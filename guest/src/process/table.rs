//! The task table (Linux: the pid hash and `nr_threads`), pid allocation and the
//! per-user process counts RLIMIT_NPROC is checked against.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;

use crate::process::pid::{PidAllocator, PID_MAX_DEFAULT};
use crate::process::Task;

static TASKS: spin::Mutex<BTreeMap<u32, Arc<Task>>> = spin::Mutex::new(BTreeMap::new());
static PIDS: spin::Mutex<PidAllocator> = spin::Mutex::new(PidAllocator::new(PID_MAX_DEFAULT));
static USER_PROCS: spin::Mutex<BTreeMap<u32, u32>> = spin::Mutex::new(BTreeMap::new());

/// The most tasks the kernel allows (Linux derives `max_threads` from RAM).
pub const MAX_THREADS: usize = 4096;

pub fn alloc_pid() -> Option<u32> {
    let pid = PIDS.lock().alloc()?;
    crate::counters::global_add(crate::counters::PIDS_IN_USE, 1);
    Some(pid)
}

pub fn free_pid(pid: u32) {
    PIDS.lock().free(pid);
    crate::counters::global_sub(crate::counters::PIDS_IN_USE, 1);
}

/// Enter a new task in the table and count it for its user.
pub fn register(task: &Arc<Task>) {
    TASKS.lock().insert(task.pid, task.clone());
    *USER_PROCS.lock().entry(task.creds().uid).or_insert(0) += 1;
    crate::counters::global_add(crate::counters::TOTAL_FORKS, 1);
    crate::counters::global_set(crate::counters::NR_THREADS, nr_threads() as u64);
}

/// Remove a reaped (or auto-reaped) task and free its pid (Linux `release_task`).
pub fn release(task: &Arc<Task>) {
    TASKS.lock().remove(&task.pid);
    free_pid(task.pid);
    if let Some(n) = USER_PROCS.lock().get_mut(&task.creds().uid) {
        *n = n.saturating_sub(1);
    }
    crate::counters::global_set(crate::counters::NR_THREADS, nr_threads() as u64);
}

pub fn find(pid: u32) -> Option<Arc<Task>> {
    TASKS.lock().get(&pid).cloned()
}

pub fn nr_threads() -> usize {
    TASKS.lock().len()
}

/// Processes (and threads) of `uid`, for RLIMIT_NPROC.
pub fn user_processes(uid: u32) -> u32 {
    USER_PROCS.lock().get(&uid).copied().unwrap_or(0)
}

/// A task changed its real uid (setuid): move it between the per-user counts.
pub fn change_user(old: u32, new: u32) {
    let mut u = USER_PROCS.lock();
    if let Some(n) = u.get_mut(&old) {
        *n = n.saturating_sub(1);
    }
    *u.entry(new).or_insert(0) += 1;
}

/// Every task (for kill -1 and process groups).
pub fn all() -> alloc::vec::Vec<Arc<Task>> {
    TASKS.lock().values().cloned().collect()
}
