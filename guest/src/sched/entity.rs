//! What the scheduler keeps in each task (Linux: the scheduling fields of
//! `task_struct` and its `sched_entity`). Fields are atomics so that they can
//! be read without the run-queue lock (system calls reading a policy, the load
//! balancer's checks); they are written under the lock of the run queue the
//! task belongs to, or before the task is visible (fork).

use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};

use super::fair;
use super::prio::{self, SchedParams};

/// Task states (Linux: `__state`, `exit_state`).
pub const TASK_RUNNING: u8 = 0;
pub const TASK_INTERRUPTIBLE: u8 = 1;
pub const EXIT_ZOMBIE: u8 = 2;
/// A task being created (Linux `TASK_NEW`): not runnable, so no wake-up can
/// touch it, until `wake_up_new_task` makes it TASK_RUNNING.
pub const TASK_NEW: u8 = 3;
/// Stopped by job control (Linux `TASK_STOPPED`): only `wake_up_state` with
/// this state (SIGCONT, a fatal signal) makes it runnable; `wake_up` does not.
pub const TASK_STOPPED: u8 = 4;
/// Stopped for a tracer (Linux `TASK_TRACED`): only `wake_up_state` with
/// this state (the tracer's resume, detach, a fatal signal) makes it runnable.
pub const TASK_TRACED: u8 = 5;

/// A task state as Linux's `sched_switch` tracepoint reports `prev_state`:
/// 0 runnable (`R`), `TASK_INTERRUPTIBLE` 1 (`S`), `EXIT_ZOMBIE` 0x20 (`Z`).
pub fn trace_state(state: u8) -> u64 {
    match state {
        TASK_INTERRUPTIBLE => 1,
        EXIT_ZOMBIE => 0x20,
        _ => 0,
    }
}

pub struct SchedEntity {
    pub policy: AtomicU32,
    /// 1..99 for SCHED_FIFO/SCHED_RR, else 0.
    pub rt_priority: AtomicU32,
    /// The nice value (kept for RT tasks too, as Linux keeps `static_prio`).
    pub nice: AtomicI32,
    pub reset_on_fork: AtomicBool,
    /// Load weight from the policy and nice value (Linux `se.load.weight`).
    pub weight: AtomicU64,
    /// Virtual runtime (ns). While the task is on no run queue between two
    /// queues (fork, migration) it is relative to the old queue's min_vruntime.
    pub vruntime: AtomicU64,
    /// TSC when the running task was last charged (Linux `exec_start`).
    pub exec_start: AtomicU64,
    /// CPU time in ns (Linux `sum_exec_runtime`), and its value when the task
    /// was last picked (`prev_sum_exec_runtime`: the slice used so far).
    pub sum_exec_runtime: AtomicU64,
    pub prev_sum_exec_runtime: AtomicU64,
    /// SCHED_RR: ticks left in the time slice.
    pub time_slice: AtomicU32,
    /// CPUs the task may run on (sched_setaffinity; bit n = CPU n).
    pub cpus_allowed: AtomicU64,
    /// Linux `on_cpu`: running, or still switching out, on its CPU. Such a task
    /// is never moved to another CPU: its registers are not saved yet.
    pub on_cpu: AtomicBool,
    /// Times moved to another CPU (Linux `se.nr_migrations`).
    pub nr_migrations: AtomicU64,
    /// Voluntary and involuntary context switches (Linux `nvcsw`, `nivcsw`).
    pub nvcsw: AtomicU64,
    pub nivcsw: AtomicU64,
    /// Timer ticks charged to the task as user and as system time, in ns
    /// (Linux `utime`, `stime` without VIRT_CPU_ACCOUNTING): the ratio that
    /// splits `sum_exec_runtime` for `getrusage` (`cputime_adjust`).
    pub utime: AtomicU64,
    pub stime: AtomicU64,
}

impl SchedEntity {
    pub const fn new() -> Self {
        Self {
            policy: AtomicU32::new(prio::SCHED_NORMAL),
            rt_priority: AtomicU32::new(0),
            nice: AtomicI32::new(0),
            reset_on_fork: AtomicBool::new(false),
            weight: AtomicU64::new(fair::NICE_0_LOAD),
            vruntime: AtomicU64::new(0),
            exec_start: AtomicU64::new(0),
            sum_exec_runtime: AtomicU64::new(0),
            prev_sum_exec_runtime: AtomicU64::new(0),
            time_slice: AtomicU32::new(super::rt::RR_TIMESLICE_TICKS),
            cpus_allowed: AtomicU64::new(u64::MAX),
            on_cpu: AtomicBool::new(false),
            nr_migrations: AtomicU64::new(0),
            nvcsw: AtomicU64::new(0),
            nivcsw: AtomicU64::new(0),
            utime: AtomicU64::new(0),
            stime: AtomicU64::new(0),
        }
    }

    pub fn params(&self) -> SchedParams {
        SchedParams {
            policy: self.policy.load(Relaxed),
            rt_priority: self.rt_priority.load(Relaxed),
            nice: self.nice.load(Relaxed),
            reset_on_fork: self.reset_on_fork.load(Relaxed),
        }
    }

    /// Set the policy and priorities, and the weight that follows from them
    /// (Linux `__setscheduler_params` + `set_load_weight`).
    pub fn set_params(&self, p: &SchedParams) {
        self.policy.store(p.policy, Relaxed);
        self.rt_priority.store(if prio::rt_policy(p.policy) { p.rt_priority } else { 0 }, Relaxed);
        self.nice.store(p.nice, Relaxed);
        self.reset_on_fork.store(p.reset_on_fork, Relaxed);
        self.weight.store(weight_of(p), Relaxed);
    }

    /// Linux's `prio` of the task (no priority inheritance here): 99 -
    /// `rt_priority` for an RT task, 120 + nice otherwise.
    pub fn prio(&self) -> u32 {
        if self.is_rt() {
            99 - self.rt_priority.load(Relaxed).min(99)
        } else {
            (120 + self.nice.load(Relaxed)) as u32
        }
    }

    /// SCHED_FIFO or SCHED_RR.
    pub fn is_rt(&self) -> bool {
        prio::rt_policy(self.policy.load(Relaxed))
    }

    /// The RT priority that decides preemption (0 for fair tasks).
    pub fn rt_prio(&self) -> u32 {
        if self.is_rt() {
            self.rt_priority.load(Relaxed)
        } else {
            0
        }
    }

    pub fn weight(&self) -> u64 {
        self.weight.load(Relaxed)
    }

    pub fn vruntime(&self) -> u64 {
        self.vruntime.load(Relaxed)
    }

    pub fn allowed(&self, cpu: usize) -> bool {
        self.cpus_allowed.load(Relaxed) & (1u64 << cpu) != 0
    }
}

impl Default for SchedEntity {
    fn default() -> Self {
        Self::new()
    }
}

/// The load weight for a policy and nice value.
pub fn weight_of(p: &SchedParams) -> u64 {
    if prio::idle_policy(p.policy) {
        fair::WEIGHT_IDLEPRIO
    } else {
        fair::nice_to_weight(p.nice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_weight() {
        let se = SchedEntity::new();
        assert_eq!(se.params(), SchedParams::default());
        assert_eq!(se.weight(), 1024);
        se.set_params(&SchedParams { nice: 5, ..Default::default() });
        assert_eq!(se.weight(), 335);
        assert_eq!(se.rt_prio(), 0);
        se.set_params(&SchedParams {
            policy: prio::SCHED_FIFO,
            rt_priority: 7,
            nice: 5,
            reset_on_fork: true,
        });
        assert!(se.is_rt());
        assert_eq!(se.rt_prio(), 7);
        se.set_params(&SchedParams { policy: prio::SCHED_IDLE, ..Default::default() });
        assert_eq!(se.weight(), 3);
        assert!(se.allowed(63));
        se.cpus_allowed.store(0b10, Relaxed);
        assert!(se.allowed(1) && !se.allowed(0));
    }
}
