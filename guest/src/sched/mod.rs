//! The scheduler, laid out as Linux's `kernel/sched/`:
//!
//! | file | what |
//! |---|---|
//! | `core.rs` | per-CPU run queues (one lock each), `schedule`, wake-ups, `sched_fork`, `wake_up_new_task`, the tick, preemption checks |
//! | `fair.rs` | the fair class (CFS): weights, vruntime, `min_vruntime`, placement, slices, preemption granularity |
//! | `rt.rs` | SCHED_FIFO and SCHED_RR at priorities 1..99, ahead of the fair class |
//! | `balance.rs` | placement of new and waking tasks, idle and periodic load balancing |
//! | `prio.rs` | policies, nice and RT priorities, and the rules for changing them |
//! | `task.rs` | the task as the scheduler sees it (`Task<D>`: stack, registers, state, `SchedEntity`, address space; `D` is the layer above's data) |
//! | `entity.rs` | what each task carries for the scheduling classes (`SchedEntity`) |
//! | `runlist.rs` | the sorted per-class list of waiting tasks |
//! | `wait.rs` | wait queues and `wait_event` |
//!
//! Everything but `core.rs`, `task.rs` and `wait.rs` is plain logic that also
//! builds and is unit-tested on the host (`cargo test -p guest --lib`).
//!
//! The scheduler does not know processes: it works on `Task<D>` for the one
//! `D` the layer above defines (`process::PosixThread`), asks it through
//! [`TaskData`] whether a signal is pending, and leaves pids, signals and
//! exit to it.

pub mod balance;
pub mod entity;
pub mod fair;
pub mod loadavg;
pub mod prio;
pub mod rt;
pub mod runlist;

#[cfg(target_os = "none")]
mod core;
#[cfg(target_os = "none")]
mod task;
#[cfg(target_os = "none")]
mod wait;

pub use entity::{
    SchedEntity, EXIT_ZOMBIE, TASK_INTERRUPTIBLE, TASK_NEW, TASK_RUNNING, TASK_STOPPED, TASK_TRACED,
};

/// Timer interrupts per second on every CPU (Linux `HZ`): the local APIC
/// timer's period, the scheduler's tick and `AT_CLKTCK`; the VMM's lockup
/// detector counts on it (`protocol::TICK_HZ`).
pub const HZ: u64 = protocol::TICK_HZ;

#[cfg(target_os = "none")]
pub use self::core::{
    cond_resched, current, current_or_idle, exit_current, idle_has_work, idle_until, init_cpu,
    nr_running_total, queue_len, rr_interval, run, sched_fork, sched_setattr, schedule,
    schedule_tail, scheduler_tick, set_cpus_allowed, task_sched_runtime, wake_up, wake_up_new_task,
    wake_up_state, yield_current, Scheduler, CHILD_RUNS_FIRST, TICK_NSEC,
};
#[cfg(target_os = "none")]
pub use task::{Task, TaskData, Wake};
#[cfg(target_os = "none")]
pub use wait::{
    wait_event, wait_event_any, wait_event_killable, wait_event_killable_timeout, Completion,
    WaitQueue,
};
