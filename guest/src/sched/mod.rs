//! The scheduler (Linux `kernel/sched/core.c`, in miniature): a run queue per
//! CPU with its own lock, round-robin time slices of one timer tick, wait queues
//! with deadlines, and an idle task per CPU that halts.
//!
//! A task is only ever run by the CPU whose queue holds it: wake-ups go to the
//! task's own CPU (with an IPI when that is another one), so a task that is still
//! switching out on one CPU can never start running on another. New tasks, which
//! have never run, may be placed on any CPU.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use protocol::MAX_CPUS;

use crate::arch::task::SwitchSlots;
use crate::arch::{self, cpu_id};
use crate::process::task::{Task, EXIT_ZOMBIE, TASK_INTERRUPTIBLE, TASK_RUNNING};

struct RunQueue {
    queue: VecDeque<Arc<Task>>,
    current: Option<Arc<Task>>,
    idle: Option<Arc<Task>>,
    /// Sleepers with a deadline (monotonic ns), checked every tick.
    timers: Vec<(u64, Arc<Task>)>,
}

static RQ: [spin::Mutex<RunQueue>; MAX_CPUS] = [const {
    spin::Mutex::new(RunQueue {
        queue: VecDeque::new(),
        current: None,
        idle: None,
        timers: Vec::new(),
    })
}; MAX_CPUS];

/// Per CPU: owner of the running task and, during a switch, of the previous one.
static SWITCH: [SwitchSlots<Task>; MAX_CPUS] = [const { SwitchSlots::new() }; MAX_CPUS];

/// Run `f` on `cpu`'s run queue with interrupts off: the timer tick takes the
/// same lock, so holding it with interrupts on could deadlock the CPU against
/// itself (Linux: `rq_lock_irqsave`).
fn with_rq<R>(cpu: usize, f: impl FnOnce(&mut RunQueue) -> R) -> R {
    let was_enabled = arch::cpu::interrupts_enabled();
    arch::interrupts_disable();
    let r = f(&mut RQ[cpu].lock());
    if was_enabled {
        arch::interrupts_enable();
    }
    r
}

/// Make the code running on this CPU its idle task (boot, once per CPU).
pub fn init_cpu() {
    let cpu = cpu_id();
    let idle = Task::new_idle(cpu);
    SWITCH[cpu].set_current(idle.clone());
    with_rq(cpu, |rq| {
        rq.idle = Some(idle.clone());
        rq.current = Some(idle);
    });
}

/// The task running on this CPU.
pub fn current() -> Option<Arc<Task>> {
    with_rq(cpu_id(), |rq| rq.current.clone()).filter(|t| !t.idle)
}

/// Number of tasks waiting to run on `cpu`.
pub fn queue_len(cpu: usize) -> usize {
    with_rq(cpu, |rq| rq.queue.len())
}

fn enqueue(rq: &mut RunQueue, task: &Arc<Task>) {
    if !task.on_rq.swap(true, Ordering::AcqRel) {
        rq.queue.push_back(task.clone());
    }
}

/// Start a task that has never run (Linux `wake_up_new_task`) on `cpu`.
pub fn wake_up_new_task(task: Arc<Task>, cpu: usize) {
    task.cpu.store(cpu as u32, Ordering::Relaxed);
    task.state.store(TASK_RUNNING, Ordering::Release);
    with_rq(cpu, |rq| enqueue(rq, &task));
    kick(cpu);
}

/// Make a sleeping task runnable again (Linux `try_to_wake_up`).
pub fn wake_up(task: &Arc<Task>) {
    let cpu = task.cpu.load(Ordering::Relaxed) as usize;
    let woken = with_rq(cpu, |rq| {
        if task
            .state
            .compare_exchange(TASK_INTERRUPTIBLE, TASK_RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        // A task still running (it set its state and has not switched away yet)
        // needs no queueing: `schedule` sees it runnable and keeps it.
        let running = rq.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, task));
        if !running {
            enqueue(rq, task);
        }
        true
    });
    if woken {
        kick(cpu);
    }
}

/// Wake `cpu` if it is another CPU (it may be halted in its idle loop).
fn kick(cpu: usize) {
    if cpu != cpu_id() {
        arch::apic::send_ipi(cpu as u32, arch::cpu::RESCHEDULE_VECTOR);
        crate::counters::cpu_add(cpu_id(), crate::counters::CPU_IPIS_SENT, 1);
    }
}

/// Give the CPU to the next runnable task (Linux `__schedule`). The current task
/// keeps running if nothing else is runnable and it is itself runnable.
pub fn schedule() {
    let was_enabled = arch::cpu::interrupts_enabled();
    arch::interrupts_disable();
    let cpu = cpu_id();
    let (prev, next) = {
        let mut rq = RQ[cpu].lock();
        let prev = rq.current.clone().expect("a CPU always has a current task");
        prev.need_resched.store(false, Ordering::Relaxed);
        if !prev.idle && prev.state() == TASK_RUNNING {
            enqueue(&mut rq, &prev);
        }
        let next = match rq.queue.pop_front() {
            Some(n) => {
                n.on_rq.store(false, Ordering::Release);
                n
            }
            None => rq.idle.clone().unwrap(),
        };
        if Arc::ptr_eq(&prev, &next) {
            drop(rq);
            if was_enabled {
                arch::interrupts_enable();
            }
            return;
        }
        rq.current = Some(next.clone());
        (prev, next)
    };
    prepare_switch(&prev, &next);
    drop(prev);
    SWITCH[cpu].switch(next);
    finish_task_switch();
    if was_enabled {
        arch::interrupts_enable();
    }
}

/// Machine state of the next task: kernel stack, address space, TLS, FPU.
fn prepare_switch(p: &Task, n: &Task) {
    if p.kstack.as_ref().is_some_and(|k| !k.canary_intact()) {
        panic!(
            "kernel stack overflow in pid {} ({}): the stack-end canary is overwritten",
            p.pid,
            p.comm()
        );
    }
    if !p.idle {
        p.fpu.save();
        p.fs_base.store(arch::cpu::fs_base(), Ordering::Relaxed);
    }
    if !n.idle {
        arch::cpu::set_kernel_stack(n.kernel_stack_top());
        n.fpu.restore();
        arch::cpu::set_fs_base(n.fs_base.load(Ordering::Relaxed));
    }
    // The idle task runs on the kernel's own tables, so that an exited process's
    // page tables are never left loaded.
    let root = n.mm().map_or_else(arch::mmu::kernel_root, |mm| mm.root());
    if arch::mmu::current_cr3() != root {
        arch::mmu::load_cr3(root);
    }
}

/// After a switch: drop the reference that kept the previous task alive.
fn finish_task_switch() {
    let prev = SWITCH[cpu_id()].finish();
    drop(prev);
}

/// First thing a new task runs (from `ret_from_fork`): finish the switch, and
/// write its tid where CLONE_CHILD_SETTID asked (in its own address space).
pub fn schedule_tail() {
    finish_task_switch();
    if let Some(t) = current() {
        let at = t.set_child_tid.swap(0, Ordering::Relaxed);
        if at != 0 {
            let _ = crate::uaccess::write_u32(at, t.pid);
        }
    }
}

/// A CPU for a new task (Linux `select_task_rq` at fork): the online CPU with the
/// fewest tasks queued and running; this CPU on a tie.
pub fn select_cpu() -> usize {
    let here = cpu_id();
    let load = |cpu: usize| {
        with_rq(cpu, |rq| rq.queue.len() + rq.current.as_ref().map_or(0, |c| usize::from(!c.idle)))
    };
    let mut best = (load(here), here);
    for cpu in 0..crate::kernel::cpu_count() {
        let l = load(cpu);
        if l < best.0 {
            best = (l, cpu);
        }
    }
    best.1
}

/// The current task gives up the CPU for good (exit): it must already be a zombie.
pub fn exit_current() -> ! {
    if let Some(t) = current() {
        t.state.store(EXIT_ZOMBIE, Ordering::Release);
    }
    schedule();
    unreachable!("an exited task was scheduled again");
}

/// Run `task` (pid 1) on this CPU and return when it has exited: the caller is
/// this CPU's idle task.
pub fn run(task: Arc<Task>) {
    wake_up_new_task(task.clone(), cpu_id());
    idle_until(|| task.state() == EXIT_ZOMBIE);
}

/// The idle loop: run whatever is queued, halt when nothing is, until `done()`.
pub fn idle_until(mut done: impl FnMut() -> bool) {
    loop {
        arch::interrupts_disable();
        if done() {
            arch::interrupts_enable();
            return;
        }
        if queue_len(cpu_id()) > 0 {
            schedule();
            continue;
        }
        crate::counters::cpu_add(cpu_id(), crate::counters::CPU_IDLE_HALTS, 1);
        arch::wait_for_interrupt();
    }
}

/// Sleep until `cond()` holds or `deadline` (monotonic ns) passes, registering
/// with `wq` so that `WaitQueue::wake_all` re-checks. Returns the last value of
/// `cond()`, which is evaluated exactly once per check (it may act, e.g. read a
/// pipe). A fatal signal for the task also ends the wait.
pub fn wait_event(
    wq: Option<&WaitQueue>,
    deadline: Option<u64>,
    cond: impl FnMut() -> bool,
) -> bool {
    wait_event_common(wq, deadline, cond, false)
}

/// `wait_event` that only a fatal signal interrupts (Linux `TASK_KILLABLE`).
pub fn wait_event_killable(wq: Option<&WaitQueue>, cond: impl FnMut() -> bool) -> bool {
    wait_event_common(wq, None, cond, true)
}

fn wait_event_common(
    wq: Option<&WaitQueue>,
    deadline: Option<u64>,
    mut cond: impl FnMut() -> bool,
    killable_only: bool,
) -> bool {
    let Some(task) = current() else {
        // No task (boot code): halt until the condition holds.
        let mut ok = false;
        crate::kernel::wait_until(|| {
            ok = cond();
            ok || deadline.is_some_and(|d| crate::time::monotonic_ns() >= d)
        });
        return ok;
    };
    loop {
        task.state.store(TASK_INTERRUPTIBLE, Ordering::Release);
        if let Some(wq) = wq {
            wq.add(&task);
        }
        if let Some(d) = deadline {
            add_timer(d, &task);
        }
        let ok = cond();
        let expired = deadline.is_some_and(|d| crate::time::monotonic_ns() >= d);
        let killed = if killable_only {
            task.fatal_signal.load(Ordering::Relaxed) != 0
        } else {
            crate::process::signal::signal_pending(&task)
        };
        if ok || expired || killed {
            task.state.store(TASK_RUNNING, Ordering::Release);
            if let Some(wq) = wq {
                wq.remove(&task);
            }
            return ok;
        }
        schedule();
    }
}

fn add_timer(deadline: u64, task: &Arc<Task>) {
    let cpu = task.cpu.load(Ordering::Relaxed) as usize;
    with_rq(cpu, |rq| {
        if !rq.timers.iter().any(|(d, t)| *d == deadline && Arc::ptr_eq(t, task)) {
            rq.timers.push((deadline, task.clone()));
        }
    });
}

/// Timer tick on this CPU: wake expired sleepers; ask the current task to yield
/// if others are waiting (round robin, one tick per slice).
pub fn scheduler_tick() {
    let cpu = cpu_id();
    let now = crate::time::monotonic_ns();
    // One expired timer at a time: no allocation in interrupt context.
    while let Some(t) = with_rq(cpu, |rq| {
        let i = rq.timers.iter().position(|(d, _)| *d <= now)?;
        Some(rq.timers.swap_remove(i).1)
    }) {
        wake_up(&t);
    }
    with_rq(cpu, |rq| {
        if !rq.queue.is_empty() {
            if let Some(c) = &rq.current {
                c.need_resched.store(true, Ordering::Relaxed);
            }
        }
    });
}

/// Tasks sleeping until something happens (Linux `wait_queue_head_t`).
#[derive(Default)]
pub struct WaitQueue {
    waiters: spin::Mutex<Vec<Arc<Task>>>,
}

impl WaitQueue {
    pub const fn new() -> Self {
        Self { waiters: spin::Mutex::new(Vec::new()) }
    }

    fn add(&self, task: &Arc<Task>) {
        let mut w = self.waiters.lock();
        if !w.iter().any(|t| Arc::ptr_eq(t, task)) {
            w.push(task.clone());
        }
    }

    fn remove(&self, task: &Arc<Task>) {
        self.waiters.lock().retain(|t| !Arc::ptr_eq(t, task));
    }

    /// Wake every waiter; each re-checks its condition.
    pub fn wake_all(&self) {
        let waiters: Vec<Arc<Task>> = core::mem::take(&mut *self.waiters.lock());
        for t in waiters {
            wake_up(&t);
        }
    }
}

/// Halt until `done()` holds (boot code without a task).
pub fn wait_until(done: impl FnMut() -> bool) {
    wait_event(None, None, done);
}
