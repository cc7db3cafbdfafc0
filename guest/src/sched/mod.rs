//! Scheduling.
//!
//! For now user tasks run on the boot CPU one at a time: `run` switches from the
//! CPU's idle context to a task and returns when the task exits; a task that
//! waits halts the CPU until an interrupt makes its condition true. Per-CPU run
//! queues, the fair and RT classes and preemption are the scheduler issue's.

use alloc::sync::Arc;

use protocol::MAX_CPUS;

use crate::arch::task::{switch_to, Context};
use crate::arch::{self, cpu_id};
use crate::process::Task;

/// Each CPU's idle context: where `run` was called from.
static IDLE: [Context; MAX_CPUS] = [const { Context::new() }; MAX_CPUS];
static CURRENT: [spin::Mutex<Option<Arc<Task>>>; MAX_CPUS] =
    [const { spin::Mutex::new(None) }; MAX_CPUS];

/// The task running on this CPU, if any.
pub fn current() -> Option<Arc<Task>> {
    CURRENT[cpu_id()].lock().clone()
}

/// Run `task` on this CPU until it exits.
pub fn run(task: Arc<Task>) {
    let cpu = cpu_id();
    arch::cpu::set_kernel_stack(task.kstack.top());
    if let Some(mm) = task.mm() {
        arch::mmu::load_cr3(mm.root());
    }
    arch::cpu::set_fs_base(task.fs_base.load(core::sync::atomic::Ordering::Relaxed));
    *CURRENT[cpu].lock() = Some(task.clone());
    switch_to(&IDLE[cpu], &task.context);
    // Back here once the task exited: leave its address space before dropping it.
    arch::mmu::load_cr3(arch::mmu::kernel_root());
    CURRENT[cpu].lock().take();
}

/// End the current task: switch back to the idle context for good.
pub fn exit_current() -> ! {
    let cpu = cpu_id();
    // This code runs on the task's kernel stack, which stays alive while CURRENT
    // holds the task; `run` drops that reference once back on the idle stack. The
    // registers saved by the switch go to a scratch context nobody resumes.
    switch_to(&EXITED[cpu], &IDLE[cpu]);
    unreachable!("an exited task was switched back to");
}

static EXITED: [Context; MAX_CPUS] = [const { Context::new() }; MAX_CPUS];

/// First thing a new task runs (from `ret_from_fork`).
pub fn schedule_tail() {}

/// Halt until `done()` holds (interrupts wake the CPU to re-check).
pub fn wait_until(done: impl FnMut() -> bool) {
    crate::kernel::wait_until(done)
}
