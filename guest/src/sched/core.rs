//! The scheduler core (Linux `kernel/sched/core.c`): a run queue per CPU with
//! its own lock, `schedule`, wake-ups (`try_to_wake_up`), `sched_fork` and
//! `wake_up_new_task`, the tick, and the preemption checks. The policy
//! arithmetic lives in `fair.rs`, `rt.rs` and `balance.rs`; this file applies
//! it to tasks under the run-queue locks.
//!
//! Rules:
//! - A run queue's lock is taken with interrupts off (the tick and wake-up IPIs
//!   take it). Two are taken in CPU order (`double_rq_lock`).
//! - `Task::cpu` changes only under the lock of the queue it names.
//! - The running task is not in its queue's lists (as Linux takes `curr` out
//!   of the tree); `nr_running` and the fair load count it.
//! - A task whose `se.on_cpu` is set (running, or switching out) is never moved
//!   to another CPU: its registers are saved only once the switch is over.
//!   A task that must leave its CPU while still on it (its affinity changed)
//!   is handed to the other CPU after the switch (`finish_task_switch`).
//! - The scheduler's per-CPU counters of CPU `c` are written under `c`'s run
//!   queue lock or by `c` itself, so plain stores do not race.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};

use protocol::MAX_CPUS;

use super::entity::{EXIT_ZOMBIE, TASK_INTERRUPTIBLE, TASK_NEW, TASK_RUNNING};
use super::fair::{self, CfsRq, Tunables};
use super::prio::{self, SchedParams};
use super::runlist::RunList;
use super::task::{Task, TaskData};
use super::{balance, rt};
use crate::arch::irq::{assert_irqs_disabled, disable_local, IrqGuard, IrqSpinLock};
use crate::arch::task::SwitchSlots;
use crate::arch::{self, cpu_count, cpu_id};
use crate::counters as ctr;

/// Nanoseconds per tick.
pub const TICK_NSEC: u64 = 1_000_000_000 / super::HZ;
/// How often a busy CPU looks for work to pull (Linux: the balance interval
/// of a busy domain); an idle CPU looks whenever it wakes.
const BUSY_BALANCE_INTERVAL_NS: u64 = 4 * TICK_NSEC;

/// One CPU's run queue (Linux `struct rq`).
pub(super) struct Rq<D> {
    pub cpu: usize,
    /// The running task (the idle task when nothing else runs).
    pub curr: Option<Arc<Task<D>>>,
    pub idle: Option<Arc<Task<D>>>,
    pub cfs: CfsRq<Arc<Task<D>>>,
    /// RT tasks waiting, highest priority first.
    pub rt: RunList<Arc<Task<D>>>,
    /// Runnable tasks, the running one included (not the idle task).
    pub nr_running: u32,
    /// Sleepers with a deadline (monotonic ns), and the earliest deadline.
    timers: Vec<(u64, Arc<Task<D>>)>,
    next_timer: u64,
    next_balance: u64,
    /// Put the running RT task at the back of its priority when it is put
    /// back (its RR slice ran out, or its priority was raised).
    requeue_tail: bool,
    /// Runnable tasks that may no longer run here, with their vruntime
    /// relative to this queue's min_vruntime: moved once this CPU has switched
    /// away from them.
    migrate_pending: Vec<(Arc<Task<D>>, u64)>,
    busy_tsc: u64,
}

impl<D> Rq<D> {
    const fn new() -> Self {
        Self {
            cpu: 0,
            curr: None,
            idle: None,
            cfs: CfsRq::new(),
            rt: RunList::new(),
            nr_running: 0,
            timers: Vec::new(),
            next_timer: u64::MAX,
            next_balance: 0,
            requeue_tail: false,
            migrate_pending: Vec::new(),
            busy_tsc: 0,
        }
    }

    fn set_nr_running(&mut self, n: u32) {
        self.nr_running = n;
        NR_RUNNING[self.cpu].store(n, Relaxed);
        ctr::cpu_set(self.cpu, ctr::CPU_NR_RUNNING, n as u64);
    }

    pub fn is_curr(&self, p: &Task<D>) -> bool {
        self.curr.as_ref().is_some_and(|c| core::ptr::eq(&**c, p))
    }

    /// Tasks waiting in the lists (not the running one).
    fn queued(&self) -> usize {
        self.rt.len() + self.cfs.tasks.len()
    }
}

/// The scheduler's per-CPU state for tasks of kind `D`: the run queues, the
/// switch slots (which own each CPU's running task) and the tasks waiting for
/// a migration. The layer that defines `D` keeps the one instance
/// (`TaskData::scheduler`).
pub struct Scheduler<D> {
    rq: [IrqSpinLock<Rq<D>>; MAX_CPUS],
    /// Per CPU: owner of the running task and, during a switch, of the previous one.
    switch: [SwitchSlots<Task<D>>; MAX_CPUS],
    /// Tasks waiting for another task to leave a CPU it may no longer run on.
    migration_wait: super::wait::WaitQueue,
}

impl<D: TaskData> Scheduler<D> {
    pub const fn new() -> Self {
        Self {
            rq: [const { IrqSpinLock::new(Rq::new()) }; MAX_CPUS],
            switch: [const { SwitchSlots::new() }; MAX_CPUS],
            migration_wait: super::wait::WaitQueue::new(),
        }
    }
}

impl<D: TaskData> Default for Scheduler<D> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn rq_of<D: TaskData>(cpu: usize) -> &'static IrqSpinLock<Rq<D>> {
    &D::scheduler().rq[cpu]
}

#[inline]
fn switch_slots<D: TaskData>(cpu: usize) -> &'static SwitchSlots<Task<D>> {
    &D::scheduler().switch[cpu]
}
/// `nr_running` of each queue, readable without its lock (placement hints).
static NR_RUNNING: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
/// The queue has `migrate_pending` work.
static MIGRATE_PENDING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Linux `sysctl_sched_child_runs_first` (kernel command line
/// `sched_child_runs_first=1`): a forked child that shares its parent's CPU
/// runs before the parent returns from fork.
pub static CHILD_RUNS_FIRST: AtomicBool = AtomicBool::new(false);

struct Consts {
    clock: crate::time::Clocksource,
    tunables: Tunables,
}

static CONSTS: spin::Once<Consts> = spin::Once::new();

fn consts() -> &'static Consts {
    CONSTS.call_once(|| Consts {
        clock: crate::time::Clocksource::new(arch::boot_info().tsc_khz),
        tunables: Tunables::for_cpus(cpu_count()),
    })
}

fn tunables() -> &'static Tunables {
    &consts().tunables
}

/// Runnable tasks on `cpu` (a hint: read without its lock).
pub(super) fn nr_running(cpu: usize) -> u32 {
    NR_RUNNING[cpu].load(Relaxed)
}

/// Runnable tasks on all CPUs, running ones included (Linux `nr_running`,
/// the figure of `/proc/stat`'s `procs_running` and of `/proc/loadavg`). A
/// task that has exited counts until its CPU has switched away from it.
pub fn nr_running_total() -> u64 {
    NR_RUNNING[..cpu_count()].iter().map(|n| u64::from(n.load(Relaxed))).sum()
}

type RqGuard<'a, D> = crate::arch::pvlock::PvMutexGuard<'a, Rq<D>>;

/// Run `f` on `cpu`'s run queue with interrupts off: the timer tick takes the
/// same lock, so holding it with interrupts on could deadlock the CPU against
/// itself (Linux: `rq_lock_irqsave`).
fn with_rq<D: TaskData, R>(cpu: usize, f: impl FnOnce(&mut Rq<D>) -> R) -> R {
    f(&mut rq_of::<D>(cpu).lock())
}

/// Lock the run queue `p` belongs to (Linux `task_rq_lock`), with interrupts
/// off (`irq`). `p.cpu` may change until its queue's lock is held.
fn task_rq_lock<'a, D: TaskData>(p: &Task<D>, irq: &'a IrqGuard) -> (usize, RqGuard<'a, D>) {
    loop {
        let cpu = p.cpu.load(Acquire) as usize;
        let rq = rq_of::<D>(cpu).lock_irqs_off(irq);
        if p.cpu.load(Acquire) as usize == cpu {
            return (cpu, rq);
        }
    }
}

/// Lock two different run queues in CPU order; returns (a's, b's) guards.
/// Interrupts are off for as long as `irq` lives.
pub(super) fn double_rq_lock<'a, D: TaskData>(
    a: usize,
    b: usize,
    irq: &'a IrqGuard,
) -> (RqGuard<'a, D>, RqGuard<'a, D>) {
    debug_assert_ne!(a, b);
    if a < b {
        let ga = rq_of::<D>(a).lock_irqs_off(irq);
        (ga, rq_of::<D>(b).lock_irqs_off(irq))
    } else {
        let gb = rq_of::<D>(b).lock_irqs_off(irq);
        (rq_of::<D>(a).lock_irqs_off(irq), gb)
    }
}

// ---- accounting and the lists -------------------------------------------------

/// Count `p` as runnable on `rq` (Linux `activate_task`'s accounting).
fn account_enqueue<D: TaskData>(rq: &mut Rq<D>, p: &Task<D>) {
    if !p.se.is_rt() {
        rq.cfs.add_load(p.se.weight());
    }
    let n = rq.nr_running + 1;
    rq.set_nr_running(n);
}

/// Stop counting `p` (Linux `deactivate_task`'s accounting).
fn account_dequeue<D: TaskData>(rq: &mut Rq<D>, p: &Task<D>) {
    if !p.se.is_rt() {
        rq.cfs.sub_load(p.se.weight());
    }
    let n = rq.nr_running.saturating_sub(1);
    rq.set_nr_running(n);
}

/// Put `p` in its class's list (RT: at the head of its priority when `head`).
fn enqueue_list<D: TaskData>(rq: &mut Rq<D>, p: &Arc<Task<D>>, head: bool) {
    if p.se.is_rt() {
        let key = rt::rt_key(p.se.rt_prio());
        if head {
            rq.rt.insert_head(key, p.clone());
        } else {
            rq.rt.insert_tail(key, p.clone());
        }
    } else {
        rq.cfs.tasks.insert_tail(p.se.vruntime(), p.clone());
    }
    p.on_rq.store(true, Relaxed);
}

fn activate_task<D: TaskData>(rq: &mut Rq<D>, p: &Arc<Task<D>>) {
    account_enqueue(rq, p);
    enqueue_list(rq, p, false);
}

/// Take the queued task at `index` of the RT (`rt`) or fair list off `rq`:
/// the task and its vruntime relative to `rq`'s min_vruntime.
pub(super) fn detach_queued<D: TaskData>(
    rq: &mut Rq<D>,
    index: usize,
    rt: bool,
) -> (Arc<Task<D>>, u64) {
    let (_, p) = if rt { rq.rt.remove_at(index) } else { rq.cfs.tasks.remove_at(index) }
        .expect("a queued task at index");
    p.on_rq.store(false, Relaxed);
    account_dequeue(rq, &p);
    let rel = p.se.vruntime().wrapping_sub(rq.cfs.min_vruntime);
    (p, rel)
}

/// Make `p` (detached from another queue, `rel` its relative vruntime)
/// runnable on `rq` (Linux `attach_task`), and preempt what runs there if it
/// should.
pub(super) fn attach_task<D: TaskData>(rq: &mut Rq<D>, p: &Arc<Task<D>>, rel: u64, migrated: bool) {
    // Before the CPU changes, as Linux's `set_task_cpu` traces it (a woken
    // task's CPU was set by `wake_up`, which traced it).
    crate::trace_event!(SchedMigrateTask if migrated && p.cpu.load(Relaxed) as usize != rq.cpu;
        D::trace_pid(p), p.se.prio(), p.cpu.load(Relaxed), rq.cpu);
    p.cpu.store(rq.cpu as u32, Release);
    p.se.vruntime.store(rq.cfs.min_vruntime.wrapping_add(rel), Relaxed);
    activate_task(rq, p);
    if migrated {
        p.se.nr_migrations.fetch_add(1, Relaxed);
        ctr::cpu_add(rq.cpu, ctr::CPU_MIGRATIONS, 1);
    }
    check_preempt_curr(rq, p);
}

/// Charge the running task for the time since it was last charged (Linux
/// `update_curr`): its CPU time, its vruntime, the CPU's busy time.
fn update_curr<D: TaskData>(rq: &mut Rq<D>) {
    update_curr_at(rq, arch::rdtsc());
}

/// [`update_curr`] with the TSC read at `now` (the tick reads it once for
/// everything it does).
fn update_curr_at<D: TaskData>(rq: &mut Rq<D>, now: u64) {
    let Some(curr) = rq.curr.as_ref() else { return };
    if curr.idle {
        return;
    }
    let se = &curr.se;
    let delta = now.saturating_sub(se.exec_start.load(Relaxed));
    if delta == 0 {
        return;
    }
    se.exec_start.store(now, Relaxed);
    let ns = consts().clock.cycles_to_ns(delta);
    se.sum_exec_runtime.store(se.sum_exec_runtime.load(Relaxed) + ns, Relaxed);
    rq.busy_tsc += delta;
    ctr::cpu_set(rq.cpu, ctr::CPU_BUSY_TSC, rq.busy_tsc);
    if !se.is_rt() {
        let vr = se.vruntime().wrapping_add(fair::calc_delta_fair(ns, se.weight()));
        se.vruntime.store(vr, Relaxed);
        rq.cfs.min_vruntime =
            fair::update_min_vruntime(rq.cfs.min_vruntime, Some(vr), rq.cfs.tasks.first_key());
    }
}

/// Ask the task running on `rq` to reschedule (Linux `resched_curr`): at its
/// next return to user mode, or at once if it is the idle task; another CPU
/// gets a reschedule IPI.
fn resched_curr<D: TaskData>(rq: &Rq<D>) {
    let Some(curr) = rq.curr.as_ref() else { return };
    if curr.need_resched.swap(true, AcqRel) {
        return;
    }
    let this = cpu_id();
    if rq.cpu != this {
        arch::apic::send_ipi(rq.cpu as u32, arch::cpu::RESCHEDULE_VECTOR);
        ctr::cpu_add(this, ctr::CPU_IPIS_SENT, 1);
        ctr::cpu_add(this, ctr::CPU_WAKEUP_IPIS, 1);
    }
}

/// Whether `p`, just made runnable on `rq`, preempts the running task (Linux
/// `check_preempt_curr`): anything preempts the idle task, RT beats fair and
/// lower RT priorities, and a fair task preempts another fair one that is more
/// than the wakeup granularity ahead of it in vruntime.
fn check_preempt_curr<D: TaskData>(rq: &mut Rq<D>, p: &Task<D>) {
    let Some(curr) = rq.curr.as_ref() else { return };
    let (curr_idle, curr_rt) = (curr.idle, curr.se.is_rt());
    let (curr_prio, curr_policy) = (curr.se.rt_prio(), curr.se.policy.load(Relaxed));
    let preempt = if curr_idle {
        true
    } else if p.se.is_rt() || curr_rt {
        rt::rt_preempts(p.se.rt_prio(), curr_prio)
    } else {
        let policy = p.se.policy.load(Relaxed);
        if prio::idle_policy(curr_policy) && !prio::idle_policy(policy) {
            true
        } else if policy != prio::SCHED_NORMAL {
            // Batch and idle tasks do not preempt on wake-up.
            false
        } else {
            update_curr(rq);
            let curr_vr = rq.curr.as_ref().map_or(0, |c| c.se.vruntime());
            fair::wakeup_preempt(curr_vr, p.se.vruntime(), tunables().wakeup_gran(p.se.weight()))
        }
    };
    if preempt {
        resched_curr(rq);
    }
}

/// Where a waking fair task goes in vruntime (Linux `place_entity`, sleeper).
fn place_waking<D: TaskData>(rq: &Rq<D>, p: &Task<D>) {
    if !p.se.is_rt() {
        let v = fair::place_entity(rq.cfs.min_vruntime, p.se.vruntime(), false, 0, tunables());
        p.se.vruntime.store(v, Relaxed);
    }
}

/// The next task to run (Linux `pick_next_task`): RT first, then the fair
/// task with the smallest vruntime (skipping `skip`, a task that yielded, when
/// another one waits), else the idle task. A task whose affinity no longer
/// includes this CPU is set aside to be moved after the switch.
fn pick_next_task<D: TaskData>(rq: &mut Rq<D>, skip: Option<&Arc<Task<D>>>) -> Arc<Task<D>> {
    loop {
        let p = if let Some((_, p)) = rq.rt.pop_first() {
            p
        } else if !rq.cfs.tasks.is_empty() {
            let skip_first = skip.is_some_and(|s| {
                rq.cfs.tasks.len() > 1 && rq.cfs.tasks.first().is_some_and(|f| Arc::ptr_eq(f, s))
            });
            rq.cfs.tasks.remove_at(skip_first as usize).unwrap().1
        } else {
            return rq.idle.clone().expect("an idle task");
        };
        p.on_rq.store(false, Relaxed);
        if p.se.allowed(rq.cpu) {
            return p;
        }
        account_dequeue(rq, &p);
        let rel = p.se.vruntime().wrapping_sub(rq.cfs.min_vruntime);
        rq.migrate_pending.push((p, rel));
        MIGRATE_PENDING[rq.cpu].store(true, Relaxed);
    }
}

// ---- schedule -----------------------------------------------------------------

/// Give the CPU to the next runnable task (Linux `__schedule`). The current task
/// keeps running if nothing else is runnable and it is itself runnable.
pub fn schedule<D: TaskData>() {
    __schedule::<D>(false);
}

/// A long loop in a system call lets the CPU go (Linux `cond_resched`): the
/// interrupts pending here are taken (the tick, IPIs: system calls run with
/// them off), and if the tick or a wake-up asked the task to give way, it
/// does, still runnable. Call with no spin lock held.
pub fn cond_resched<D: TaskData>() {
    arch::irq_window();
    if current::<D>().is_some_and(|t| t.need_resched.load(Relaxed)) {
        schedule::<D>();
    }
}

/// sched_yield: the current task goes behind the other runnable tasks of its
/// class (RT: the back of its priority; fair: the next pick skips it once).
pub fn yield_current<D: TaskData>() {
    __schedule::<D>(true);
}

fn __schedule<D: TaskData>(yielding: bool) {
    let irq = disable_local();
    let cpu = cpu_id();
    let mut rq = rq_of::<D>(cpu).lock_irqs_off(&irq);
    let going_idle =
        rq.queued() == 0 && rq.curr.as_ref().is_some_and(|c| !c.idle && c.state() != TASK_RUNNING);
    if going_idle && cpu_count() > 1 {
        // The CPU is about to go idle: pull work first (Linux
        // `newidle_balance`), counting the task that leaves as gone. Nothing
        // has changed yet, so the lock can be dropped meanwhile.
        drop(rq);
        balance::load_balance::<D>(cpu, 1);
        rq = rq_of::<D>(cpu).lock_irqs_off(&irq);
    }
    update_curr(&mut rq);
    let prev = rq.curr.clone().expect("a CPU always has a current task");
    prev.need_resched.store(false, Relaxed);
    let runnable = prev.idle || prev.state() == TASK_RUNNING;
    if !runnable {
        account_dequeue(&mut rq, &prev);
    }
    if runnable && rq.queued() == 0 && (prev.idle || prev.se.allowed(cpu)) {
        // Nothing else to run: keep going (Linux `pick_next_task`'s fast path).
        rq.requeue_tail = false;
        let se = &prev.se;
        se.prev_sum_exec_runtime.store(se.sum_exec_runtime.load(Relaxed), Relaxed);
        drop(rq);
        if MIGRATE_PENDING[cpu].load(Relaxed) {
            drain_migrations::<D>(cpu);
        }
        return;
    }
    if runnable && !prev.idle {
        if prev.se.allowed(cpu) {
            let head = prev.se.is_rt() && !rq.requeue_tail && !yielding;
            enqueue_list(&mut rq, &prev, head);
        } else {
            // Its affinity excludes this CPU now: another CPU takes it once
            // this one has switched away from it.
            account_dequeue(&mut rq, &prev);
            let rel = prev.se.vruntime().wrapping_sub(rq.cfs.min_vruntime);
            rq.migrate_pending.push((prev.clone(), rel));
            MIGRATE_PENDING[cpu].store(true, Relaxed);
        }
    }
    rq.requeue_tail = false;
    let next = pick_next_task(&mut rq, yielding.then_some(&prev));
    let se = &next.se;
    se.prev_sum_exec_runtime.store(se.sum_exec_runtime.load(Relaxed), Relaxed);
    if Arc::ptr_eq(&prev, &next) {
        drop(rq);
        drop(prev);
        drop(next);
        if MIGRATE_PENDING[cpu].load(Relaxed) {
            drain_migrations::<D>(cpu);
        }
        return;
    }
    ctr::cpu_add(cpu, ctr::CPU_CONTEXT_SWITCHES, 1);
    if !prev.idle {
        if runnable {
            ctr::cpu_add(cpu, ctr::CPU_PREEMPTIONS, 1);
            prev.se.nivcsw.fetch_add(1, Relaxed);
        } else {
            prev.se.nvcsw.fetch_add(1, Relaxed);
        }
    }
    se.on_cpu.store(true, Relaxed);
    se.exec_start.store(arch::rdtsc(), Relaxed);
    rq.curr = Some(next.clone());
    crate::trace_event!(
        SchedSwitch,
        D::trace_pid(&prev),
        prev.se.prio(),
        if runnable { 0 } else { super::entity::trace_state(prev.state()) },
        D::trace_pid(&next),
        next.se.prio()
    );
    drop(rq);
    prepare_switch(&prev, &next);
    drop(prev);
    switch_slots::<D>(cpu).switch(next);
    // Running again, possibly on another CPU.
    finish_task_switch::<D>();
}

/// Machine state of the next task: kernel stack, address space, TLS, FPU.
fn prepare_switch<D: TaskData>(p: &Task<D>, n: &Task<D>) {
    if p.kstack.as_ref().is_some_and(|k| !k.canary_intact()) {
        panic!("kernel stack overflow in {}: the stack-end canary is overwritten", D::describe(p));
    }
    // An exited task never runs again: its registers are not saved (Linux
    // drops the FPU state of an exiting task, `fpu__drop`). On a host that
    // emulates ring 0 that `fxsave` is an exit.
    if !p.idle && p.state() != EXIT_ZOMBIE {
        p.fpu.save();
        p.fs_base.store(arch::cpu::fs_base(), Relaxed);
    }
    if !n.idle {
        arch::cpu::set_kernel_stack(n.kernel_stack_top());
        n.fpu.restore();
        arch::cpu::set_fs_base(n.fs_base.load(Relaxed));
        // The GS base ARCH_SET_GS gave it (each task's own, as its FS base).
        arch::cpu::load_user_gs_base(n.gs_base.load(Relaxed));
    }
    // The idle task and kernel threads run on the kernel's own tables, so that
    // an exited process's page tables are never left loaded.
    let root = n.with_mm(|mm| mm.root()).unwrap_or_else(arch::mmu::kernel_root);
    if arch::mmu::current_cr3() != root {
        arch::mmu::load_cr3(root);
    }
}

/// After a switch (Linux `finish_task_switch`): the previous task is off this
/// CPU (`on_cpu` cleared: another CPU may now run it); drop the reference that
/// kept it alive, and hand tasks that may not run here to other CPUs.
pub(super) fn finish_task_switch<D: TaskData>() {
    assert_irqs_disabled();
    let cpu = cpu_id();
    let prev = switch_slots::<D>(cpu).finish();
    if let Some(p) = &prev {
        // A dead task never runs again: its kernel stack goes now, not when
        // it is reaped (Linux `put_task_stack` here for a TASK_DEAD prev).
        if p.state() == EXIT_ZOMBIE {
            if let Some(k) = &p.kstack {
                k.release();
            }
        }
        p.se.on_cpu.store(false, Release);
    }
    drop(prev);
    if MIGRATE_PENDING[cpu].load(Relaxed) {
        drain_migrations::<D>(cpu);
    }
}

/// Move the tasks set aside in `cpu`'s `migrate_pending` to CPUs they may run
/// on (Linux: the migration done by `__set_cpus_allowed_ptr` via the stopper).
fn drain_migrations<D: TaskData>(cpu: usize) {
    let irq = disable_local();
    loop {
        let item = {
            let mut rq = rq_of::<D>(cpu).lock_irqs_off(&irq);
            let item = rq.migrate_pending.pop();
            if rq.migrate_pending.is_empty() {
                MIGRATE_PENDING[cpu].store(false, Relaxed);
            }
            item
        };
        let Some((p, rel)) = item else { break };
        let target = balance::select_wake_cpu(&p, cpu);
        if target == cpu {
            attach_task(&mut rq_of::<D>(cpu).lock_irqs_off(&irq), &p, rel, false);
        } else {
            let (_src, mut dst) = double_rq_lock(cpu, target, &irq);
            attach_task(&mut dst, &p, rel, true);
        }
    }
    D::scheduler().migration_wait.wake_all();
}

/// First thing a new task runs (from `ret_from_fork`): finish the switch.
pub fn schedule_tail<D: TaskData>() {
    finish_task_switch::<D>();
}

// ---- the running task ---------------------------------------------------------

/// Make the code running on this CPU its idle task `idle` (boot, once per CPU).
pub fn init_cpu<D: TaskData>(idle: Arc<Task<D>>) {
    let cpu = cpu_id();
    consts();
    idle.cpu.store(cpu as u32, Relaxed);
    idle.se.on_cpu.store(true, Relaxed);
    switch_slots::<D>(cpu).set_current(idle.clone());
    with_rq(cpu, |rq| {
        rq.cpu = cpu;
        rq.idle = Some(idle.clone());
        rq.curr = Some(idle);
    });
}

/// The task running on this CPU (no lock: only this CPU changes it).
pub fn current<D: TaskData>() -> Option<Arc<Task<D>>> {
    switch_slots::<D>(cpu_id()).current().filter(|t| !t.idle)
}

/// The task running on this CPU, its idle task included (the parent of kernel
/// threads created at boot).
pub fn current_or_idle<D: TaskData>() -> Arc<Task<D>> {
    switch_slots::<D>(cpu_id()).current().expect("a CPU always has a current task")
}

/// Number of tasks waiting to run on `cpu` (not the running one).
pub fn queue_len<D: TaskData>(cpu: usize) -> usize {
    with_rq::<D, _>(cpu, |rq| rq.queued())
}

/// The current task gives up the CPU for good (exit).
pub fn exit_current<D: TaskData>() -> ! {
    if let Some(t) = current::<D>() {
        // A sleep cancels its timers on every way out; what one left (on any
        // CPU the task ran on) goes here.
        del_timers(&t);
        t.state.store(EXIT_ZOMBIE, Release);
    }
    schedule::<D>();
    unreachable!("an exited task was scheduled again");
}

// ---- wake-ups ----------------------------------------------------------------

/// Make a sleeping task runnable again (Linux `try_to_wake_up`): on its last
/// CPU if it is still switching out there or that CPU is idle, else on an idle
/// CPU it may run on, else on its last CPU; preempting what runs there if it
/// should. False if it was not asleep.
#[inline]
pub fn wake_up<D: TaskData>(p: &Arc<Task<D>>) -> bool {
    wake_up_state(p, TASK_INTERRUPTIBLE)
}

/// `wake_up` for a task in `state` (Linux `wake_up_state`): TASK_STOPPED
/// for SIGCONT and fatal signals, which alone end a job-control stop.
pub fn wake_up_state<D: TaskData>(p: &Arc<Task<D>>, state: u8) -> bool {
    let irq = disable_local();
    let (cpu, mut rq) = task_rq_lock(p, &irq);
    if p.state.compare_exchange(state, TASK_RUNNING, AcqRel, Acquire).is_err() {
        return false;
    }
    // A task still running (it set its state and has not switched away yet)
    // needs no queueing: `schedule` sees it runnable and keeps it.
    if rq.is_curr(p) {
        crate::trace_event!(SchedWakeup, D::trace_pid(p), p.se.prio(), cpu);
        return true;
    }
    let target = if cpu_count() == 1 || p.se.on_cpu.load(Acquire) {
        cpu
    } else {
        balance::select_wake_cpu(p, cpu)
    };
    if target == cpu {
        place_waking(&rq, p);
        activate_task(&mut rq, p);
        crate::trace_event!(SchedWakeup, D::trace_pid(p), p.se.prio(), cpu);
        check_preempt_curr(&mut rq, p);
        return true;
    }
    // Off every queue and off its CPU: it can go elsewhere (Linux
    // `set_task_cpu` while TASK_WAKING).
    let rel = p.se.vruntime().wrapping_sub(rq.cfs.min_vruntime);
    crate::trace_event!(SchedMigrateTask, D::trace_pid(p), p.se.prio(), cpu, target);
    p.cpu.store(target as u32, Release);
    drop(rq);
    let mut rq = rq_of::<D>(target).lock_irqs_off(&irq);
    p.se.vruntime.store(rq.cfs.min_vruntime.wrapping_add(rel), Relaxed);
    place_waking(&rq, p);
    let rel = p.se.vruntime().wrapping_sub(rq.cfs.min_vruntime);
    attach_task(&mut rq, p, rel, true);
    crate::trace_event!(SchedWakeup, D::trace_pid(p), p.se.prio(), target);
    true
}

/// Set a new task's scheduling state from its parent's (Linux `sched_fork`):
/// TASK_NEW (no wake-up can touch it), the parent's policy, priorities and
/// affinity (reset by `sched_reset_on_fork`), no CPU time, and a vruntime one
/// slice after the parent's queue's min_vruntime (never before the parent's
/// own), kept relative until `wake_up_new_task` picks its queue. With
/// `sched_child_runs_first` the parent and child swap vruntimes so that the
/// child runs first where they share a CPU.
pub fn sched_fork<D: TaskData>(p: &Task<D>, parent: &Task<D>) {
    p.state.store(TASK_NEW, Release);
    let params = parent.se.params().for_child();
    p.se.set_params(&params);
    p.se.cpus_allowed.store(parent.se.cpus_allowed.load(Relaxed), Relaxed);
    p.se.time_slice.store(rt::RR_TIMESLICE_TICKS, Relaxed);
    with_rq(cpu_id(), |rq| {
        update_curr(rq);
        let t = tunables();
        let w = p.se.weight();
        let vslice = t.sched_vslice(rq.cfs.nr_running + 1, rq.cfs.load + w, w);
        let min = rq.cfs.min_vruntime;
        let parent_fair = !parent.idle && !parent.se.is_rt() && rq.is_curr(parent);
        let parent_vr = if parent_fair { parent.se.vruntime() } else { min };
        let mut vr = fair::place_entity(min, parent_vr, true, vslice, t);
        if CHILD_RUNS_FIRST.load(Relaxed)
            && parent_fair
            && super::runlist::key_before(parent_vr, vr)
        {
            parent.se.vruntime.store(vr, Relaxed);
            vr = parent_vr;
            resched_curr(rq);
        }
        p.se.vruntime.store(vr.wrapping_sub(min), Relaxed);
    });
}

/// Start a task made by `sched_fork` (Linux `wake_up_new_task`): on an idle
/// CPU it may run on if there is one, else the least loaded (this CPU, where
/// the parent's data is cached, on a tie); preempting what runs there if it
/// should (with an IPI when that is another CPU).
pub fn wake_up_new_task<D: TaskData>(p: Arc<Task<D>>) {
    let this = cpu_id();
    let target = balance::select_task_rq_fork(
        cpu_count(),
        p.se.cpus_allowed.load(Relaxed),
        this,
        nr_running,
    );
    start_new_task(&p, target);
}

fn start_new_task<D: TaskData>(p: &Arc<Task<D>>, cpu: usize) {
    let mut rq = rq_of::<D>(cpu).lock();
    let rel = p.se.vruntime();
    p.state.store(TASK_RUNNING, Release);
    crate::trace_event!(SchedWakeupNew, D::trace_pid(p), p.se.prio(), cpu);
    attach_task(&mut rq, p, rel, false);
}

/// Run `task` (pid 1, or the boot probe) on this CPU and return when it has
/// exited: the caller is this CPU's idle task.
pub fn run<D: TaskData>(task: Arc<Task<D>>) {
    task.se.vruntime.store(0, Relaxed);
    start_new_task(&task, cpu_id());
    idle_until::<D>(|| task.state() == EXIT_ZOMBIE);
}

// ---- idle --------------------------------------------------------------------

/// Whether this CPU's idle task should call `schedule`: something is runnable
/// here, or could be pulled from a busier CPU (Linux `newidle_balance`).
/// Interrupts off.
pub fn idle_has_work<D: TaskData>() -> bool {
    assert_irqs_disabled();
    let cpu = cpu_id();
    nr_running(cpu) > 0 || balance::load_balance::<D>(cpu, 0) > 0
}

/// The idle loop: run whatever is runnable, halt when nothing is, until
/// `done()`. Returns with interrupts as they were (see `arch::wait_until`).
pub fn idle_until<D: TaskData>(mut done: impl FnMut() -> bool) {
    let was_on = arch::cpu::interrupts_enabled();
    loop {
        arch::interrupts_disable();
        if done() {
            if was_on {
                arch::interrupts_enable();
            }
            return;
        }
        if idle_has_work::<D>() {
            schedule::<D>();
            continue;
        }
        ctr::cpu_add(cpu_id(), ctr::CPU_IDLE_HALTS, 1);
        arch::wait_for_interrupt();
    }
}

// ---- timers and the tick -----------------------------------------------------

/// Wake `task` (the caller, on its CPU) at `deadline` (monotonic ns). The
/// CPU whose queue holds the timer is noted in `task.timer_cpus` (the task
/// may move between checks of one sleep), for [`del_timers`].
pub(super) fn add_timer<D: TaskData>(deadline: u64, task: &Arc<Task<D>>) {
    let cpu = task.cpu.load(Relaxed) as usize;
    with_rq(cpu, |rq| {
        if !rq.timers.iter().any(|(d, t)| *d == deadline && Arc::ptr_eq(t, task)) {
            rq.timers.push((deadline, task.clone()));
            rq.next_timer = rq.next_timer.min(deadline);
        }
    });
    task.timer_cpus.fetch_or(1 << cpu, Relaxed);
}

/// Cancel `task`'s timers on the CPUs `add_timer` noted: a sleep that ended
/// before its deadline (Linux `hrtimer_cancel` in
/// `schedule_hrtimeout_range`), or an exit after one. Left in place, the
/// timer would hold the task until the deadline, which a sleep of years puts
/// after its exit and reaping. No queue is locked when none was noted.
pub(super) fn del_timers<D: TaskData>(task: &Arc<Task<D>>) {
    let cpus = task.timer_cpus.swap(0, Relaxed);
    if cpus == 0 {
        return;
    }
    for cpu in (0..cpu_count()).filter(|c| cpus & (1 << c) != 0) {
        with_rq(cpu, |rq| rq.timers.retain(|(_, t)| !Arc::ptr_eq(t, task)));
    }
}

/// Timer tick on this CPU (Linux `scheduler_tick`): charge the running task,
/// end its slice if it has had it (fair: `check_preempt_tick`; SCHED_RR: its
/// time slice), wake expired sleepers, and on a busy CPU pull work from the
/// busiest one now and then. `tsc` is the TSC read at the tick and `now` the
/// monotonic clock then: the tick reads the clock once (`rdtsc` in ring 0 is
/// one more emulated instruction where ring 0 is emulated).
pub fn scheduler_tick<D: TaskData>(tsc: u64, now: u64) {
    assert_irqs_disabled();
    let cpu = cpu_id();
    super::loadavg::calc_global_load(now, nr_running_total);
    let (timers_due, balance_due) = with_rq::<D, _>(cpu, |rq| {
        update_curr_at(rq, tsc);
        task_tick(rq);
        let busy = rq.curr.as_ref().is_some_and(|c| !c.idle);
        let balance = busy && now >= rq.next_balance;
        if balance {
            rq.next_balance = now + BUSY_BALANCE_INTERVAL_NS;
        }
        (now >= rq.next_timer, balance)
    });
    if timers_due {
        // One expired timer at a time: no allocation in interrupt context.
        while let Some(t) =
            with_rq::<D, _>(cpu, |rq| match rq.timers.iter().position(|(d, _)| *d <= now) {
                Some(i) => Some(rq.timers.swap_remove(i).1),
                None => {
                    rq.next_timer = rq.timers.iter().map(|(d, _)| *d).min().unwrap_or(u64::MAX);
                    None
                }
            })
        {
            wake_up(&t);
        }
    }
    if balance_due {
        balance::load_balance::<D>(cpu, 0);
    }
}

/// The running task's share of the tick (Linux `task_tick_fair`, `task_tick_rt`).
fn task_tick<D: TaskData>(rq: &mut Rq<D>) {
    let Some(curr) = rq.curr.as_ref() else { return };
    if curr.idle {
        return;
    }
    let se = &curr.se;
    if se.is_rt() {
        if se.policy.load(Relaxed) == prio::SCHED_RR {
            let key = rt::rt_key(se.rt_prio());
            let (left, requeue) =
                rt::rr_tick(se.time_slice.load(Relaxed), rq.rt.count_key(key) > 0);
            se.time_slice.store(left, Relaxed);
            if requeue {
                rq.requeue_tail = true;
                resched_curr(rq);
            }
        }
        return;
    }
    // Alone on the queue it keeps the CPU: no slice to work out.
    let preempt = !rq.rt.is_empty()
        || rq.cfs.nr_running > 1 && {
            let t = tunables();
            let delta_exec = se
                .sum_exec_runtime
                .load(Relaxed)
                .saturating_sub(se.prev_sum_exec_runtime.load(Relaxed));
            let ideal = t.sched_slice(rq.cfs.nr_running, rq.cfs.load, se.weight());
            fair::check_preempt_tick(delta_exec, ideal, se.vruntime(), rq.cfs.tasks.first_key(), t)
        };
    if preempt {
        resched_curr(rq);
    }
}

// ---- for the system calls -----------------------------------------------------

/// The CPU time of `p` in ns, the running slice included (Linux
/// `task_sched_runtime`).
pub fn task_sched_runtime<D: TaskData>(p: &Task<D>) -> u64 {
    let irq = disable_local();
    let (_, mut rq) = task_rq_lock(p, &irq);
    if rq.is_curr(p) {
        update_curr(&mut rq);
    }
    p.se.sum_exec_runtime.load(Relaxed)
}

/// Change `p`'s policy, priorities or nice value (checked by the caller) and
/// requeue it accordingly (Linux `__sched_setscheduler`'s second half and
/// `set_user_nice`): a queued RT task whose priority was lowered goes to the
/// head of its new priority, one raised to the tail.
pub fn sched_setattr<D: TaskData>(p: &Arc<Task<D>>, new: &SchedParams) {
    let irq = disable_local();
    let (_, mut rq) = task_rq_lock(p, &irq);
    let old = p.se.params();
    let old_prio = p.se.rt_prio();
    let was_rt = p.se.is_rt();
    let running = rq.is_curr(p);
    if running {
        update_curr(&mut rq);
    }
    let queued = p.on_rq.load(Relaxed)
        && if was_rt {
            rq.rt.remove_where(|_, t| Arc::ptr_eq(t, p)).is_some()
        } else {
            rq.cfs.tasks.remove_where(|_, t| Arc::ptr_eq(t, p)).is_some()
        };
    let accounted = queued || running;
    if accounted {
        account_dequeue(&mut rq, p);
    }
    p.se.set_params(new);
    if was_rt && !p.se.is_rt() {
        let v = fair::max_vruntime(p.se.vruntime(), rq.cfs.min_vruntime);
        p.se.vruntime.store(v, Relaxed);
    }
    if accounted {
        account_enqueue(&mut rq, p);
    }
    let new_prio = p.se.rt_prio();
    if queued {
        enqueue_list(&mut rq, p, new_prio < old_prio);
        check_preempt_curr(&mut rq, p);
    } else if running && old != *new {
        rq.requeue_tail = new_prio > old_prio;
        resched_curr(&rq);
    }
}

/// Whether `p` is off every CPU its mask excludes: on an allowed one, or not
/// runnable (its wake-up will honour the mask).
fn placed_by_mask<D: TaskData>(p: &Task<D>) -> bool {
    p.se.allowed(p.cpu.load(Acquire) as usize)
        || (p.state() != TASK_RUNNING && !p.se.on_cpu.load(Acquire) && !p.on_rq.load(Acquire))
}

/// Set the CPUs `p` may run on (Linux `__set_cpus_allowed_ptr`; `mask` has an
/// online CPU). A task only queued on a CPU that is no longer allowed moves
/// now; one running there moves once it has switched out, and the caller
/// sleeps until then (Linux `affine_move_task` waits for the migration too);
/// a sleeping one moves at its wake-up. The caller itself moves on its way
/// back to user mode.
pub fn set_cpus_allowed<D: TaskData>(p: &Arc<Task<D>>, mask: u64) {
    if __set_cpus_allowed(p, mask) && current().is_none_or(|c| !Arc::ptr_eq(&c, p)) {
        while !placed_by_mask(p) {
            let deadline = crate::time::monotonic_ns() + TICK_NSEC;
            super::wait::wait_event_killable_timeout::<D>(
                Some(&D::scheduler().migration_wait),
                deadline,
                || placed_by_mask(p),
            );
            if current::<D>().is_some_and(|c| D::fatal_signal_pending(&c)) {
                return;
            }
        }
    }
}

/// The work of `set_cpus_allowed`; true if `p` still has to leave its CPU.
fn __set_cpus_allowed<D: TaskData>(p: &Arc<Task<D>>, mask: u64) -> bool {
    let irq = disable_local();
    let (cpu, rq) = task_rq_lock(p, &irq);
    p.se.cpus_allowed.store(mask, Relaxed);
    if mask & (1u64 << cpu) != 0 {
        return false;
    }
    if rq.is_curr(p) {
        resched_curr(&rq);
        return true;
    }
    if !p.on_rq.load(Relaxed) || p.se.on_cpu.load(Acquire) {
        // Asleep: its wake-up honours the mask. Still switching out: its CPU
        // moves it when it would pick it.
        return !placed_by_mask(p);
    }
    let target = balance::select_wake_cpu(p, cpu);
    drop(rq);
    let (mut src, mut dst) = double_rq_lock(cpu, target, &irq);
    if p.cpu.load(Relaxed) as usize != cpu || p.se.on_cpu.load(Acquire) {
        return !placed_by_mask(p);
    }
    let found = if p.se.is_rt() {
        src.rt.position(false, |_, t| Arc::ptr_eq(t, p)).map(|i| (i, true))
    } else {
        src.cfs.tasks.position(false, |_, t| Arc::ptr_eq(t, p)).map(|i| (i, false))
    };
    if let Some((i, is_rt)) = found {
        let (t, rel) = detach_queued(&mut src, i, is_rt);
        attach_task(&mut dst, &t, rel, true);
    }
    false
}

/// sched_rr_get_interval: SCHED_RR's time slice, 0 for SCHED_FIFO, and for a
/// fair task its slice rounded down to whole ticks (0 on an otherwise idle
/// queue), as Linux reports jiffies.
pub fn rr_interval<D: TaskData>(p: &Task<D>) -> u64 {
    match p.se.policy.load(Relaxed) {
        prio::SCHED_RR => rt::RR_TIMESLICE_NS,
        prio::SCHED_FIFO => 0,
        _ => {
            let irq = disable_local();
            let (_, rq) = task_rq_lock(p, &irq);
            if rq.cfs.load == 0 {
                return 0;
            }
            let w = p.se.weight();
            let on = rq.is_curr(p) || p.on_rq.load(Relaxed);
            let (nr, load) = if on {
                (rq.cfs.nr_running, rq.cfs.load)
            } else {
                (rq.cfs.nr_running + 1, rq.cfs.load + w)
            };
            let slice = tunables().sched_slice(nr, load, w);
            slice / TICK_NSEC * TICK_NSEC
        }
    }
}
