//! The task as the scheduler sees it (Linux: the scheduling and machine
//! fields of `task_struct`; Asterinas: OSTD's `Task`): its kernel stack and
//! saved registers, its state and run queue, its `SchedEntity`, the address
//! space it runs in, and the data of the layer above (`process`), which the
//! scheduler never looks into.
//!
//! `Task<D>` is generic over that data so that the scheduler's code is
//! compiled for the one kind of task the kernel has, with direct field access
//! and no downcast on any path: `process` defines `Task =
//! sched::Task<PosixThread>`, implements [`TaskData`] for `PosixThread`, and
//! keeps the [`Scheduler`] instance (Rust has no generic statics).
//! `Task<D>` dereferences to `D`, so `task.pid` reads the upper layer's field.

use alloc::sync::Arc;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use super::entity::{SchedEntity, TASK_RUNNING};
use crate::arch::task::{Context, FpuState, HasContext, KernelStack};
use crate::mm::address_space::Mm;

/// What the layer above keeps in every task, and what the scheduler asks it.
pub trait TaskData: Send + Sync + Sized + 'static {
    /// The scheduler of tasks of this kind (kept by the layer above).
    fn scheduler() -> &'static super::Scheduler<Self>;
    /// Something should end an interruptible sleep (a signal to deliver, or
    /// a fatal one).
    fn signal_pending(task: &Task<Self>) -> bool;
    /// A fatal signal is pending: it ends even a killable sleep.
    fn fatal_signal_pending(task: &Task<Self>) -> bool;
    /// How messages name the task (its pid and command).
    fn describe(task: &Task<Self>) -> alloc::string::String;
    /// The task's pid as tracepoints report it (Linux `task->pid`; 0 for
    /// the idle tasks).
    fn trace_pid(task: &Task<Self>) -> u32;
}

pub struct Task<D> {
    /// The kernel stack (none for a CPU's idle task, which runs on its boot stack).
    pub kstack: Option<KernelStack>,
    pub context: Context,
    pub fpu: FpuState,
    /// TASK_RUNNING (on a run queue or running), TASK_INTERRUPTIBLE,
    /// EXIT_ZOMBIE, TASK_NEW.
    pub state: AtomicU8,
    /// In its CPU's run queue (set and cleared under that queue's lock).
    pub on_rq: AtomicBool,
    /// The CPU whose run queue the task belongs to.
    pub cpu: AtomicU32,
    /// The task should give up the CPU at its next return to user mode.
    pub need_resched: AtomicBool,
    /// The CPUs (a bit each) whose queues may hold a timer of this task's
    /// sleep: set when the sleep queues one, cleared when it cancels them.
    /// Exit cancels what is left, and touches no queue when nothing is.
    pub(super) timer_cpus: AtomicU64,
    /// A CPU's idle task.
    pub idle: bool,
    /// The scheduler's state of the task (policy, priorities, vruntime, CPU
    /// time, affinity; Linux's scheduling fields and `sched_entity`).
    pub se: SchedEntity,
    /// Thread-local storage bases, restored when the task runs.
    pub fs_base: AtomicU64,
    pub gs_base: AtomicU64,
    /// The address space the task runs in (none: kernel threads and idle
    /// tasks, which run on the kernel's own tables).
    pub mm: spin::Mutex<Option<Arc<Mm>>>,
    /// The layer above's part of the task.
    pub data: D,
}

impl<D> Task<D> {
    /// A task that is not yet runnable (its state is TASK_RUNNING, on no run
    /// queue until it is started), on this CPU.
    pub fn new(
        kstack: Option<KernelStack>,
        fpu: FpuState,
        idle: bool,
        mm: Option<Arc<Mm>>,
        data: D,
    ) -> Self {
        Task {
            kstack,
            context: Context::new(),
            fpu,
            state: AtomicU8::new(TASK_RUNNING),
            on_rq: AtomicBool::new(false),
            cpu: AtomicU32::new(crate::arch::cpu_id() as u32),
            need_resched: AtomicBool::new(false),
            timer_cpus: AtomicU64::new(0),
            idle,
            se: SchedEntity::new(),
            fs_base: AtomicU64::new(0),
            gs_base: AtomicU64::new(0),
            mm: spin::Mutex::new(mm),
            data,
        }
    }

    pub fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    pub fn mm(&self) -> Option<Arc<Mm>> {
        self.mm.lock().clone()
    }

    /// `f` on the address space, without taking a reference to it (for short
    /// looks on hot paths; the lock is held meanwhile).
    pub fn with_mm<R>(&self, f: impl FnOnce(&Mm) -> R) -> Option<R> {
        self.mm.lock().as_deref().map(f)
    }

    /// Top of the kernel stack entries from user mode land on.
    pub fn kernel_stack_top(&self) -> u64 {
        self.kstack.as_ref().map_or(0, |k| k.top())
    }
}

impl<D> Deref for Task<D> {
    type Target = D;

    #[inline]
    fn deref(&self) -> &D {
        &self.data
    }
}

impl<D> HasContext for Task<D> {
    fn context(&self) -> &Context {
        &self.context
    }
}

/// A task a wait queue can wake, whatever the layer above keeps in it.
pub trait Wake: Send + Sync {
    fn wake(self: Arc<Self>);
}

impl<D: TaskData> Wake for Task<D> {
    fn wake(self: Arc<Self>) {
        super::core::wake_up(&self);
    }
}
