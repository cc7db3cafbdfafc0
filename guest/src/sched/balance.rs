//! Placement and load balancing (Linux `select_task_rq_fair`,
//! `newidle_balance`, `load_balance`): where a new or waking task goes, and
//! how idle and lightly loaded CPUs pull runnable tasks from the busiest one.
//!
//! The decisions are plain functions of the per-CPU runnable counts (read
//! without locks: a hint, rechecked under the locks before anything moves),
//! unit-tested on the host. The moving itself (`kernel` below) honours the
//! affinity mask and never takes a task that is running or still switching out
//! on its CPU (Linux's `on_cpu` rule): its registers are not saved yet.

/// Whether bit `cpu` of `mask` is set.
fn in_mask(mask: u64, cpu: usize) -> bool {
    cpu < 64 && mask & (1u64 << cpu) != 0
}

/// CPUs `start`, `start + 1`, ... wrapping around `ncpus` (so that ties do
/// not always go to CPU 0).
fn from(start: usize, ncpus: usize) -> impl Iterator<Item = usize> {
    (0..ncpus).map(move |i| (start + i) % ncpus)
}

/// A CPU for a new task (Linux `select_task_rq` with WF_FORK): an idle allowed
/// CPU if there is one, else the allowed CPU with the fewest runnable tasks;
/// on a tie the parent's CPU (`prefer`, whose cache holds the parent's data),
/// then the next ones in order. `load(cpu)` is the runnable count.
pub fn select_task_rq_fork(
    ncpus: usize,
    allowed: u64,
    prefer: usize,
    load: impl Fn(usize) -> u32,
) -> usize {
    let mut best: Option<(u32, usize)> = None;
    for cpu in from(prefer, ncpus).filter(|&c| in_mask(allowed, c)) {
        let l = load(cpu);
        if l == 0 {
            return cpu;
        }
        if best.is_none_or(|(b, _)| l < b) {
            best = Some((l, cpu));
        }
    }
    best.map_or(prefer, |(_, c)| c)
}

/// A CPU for a waking task whose last CPU was `prev` (Linux
/// `select_task_rq_fair` / `select_idle_sibling`): `prev` if it is allowed
/// and idle (its cache is warm), else an idle allowed CPU, else `prev` if it
/// is allowed, else the least loaded allowed CPU.
pub fn select_task_rq_wake(
    ncpus: usize,
    allowed: u64,
    prev: usize,
    load: impl Fn(usize) -> u32,
) -> usize {
    if in_mask(allowed, prev) && load(prev) == 0 {
        return prev;
    }
    if let Some(idle) = from(prev, ncpus).find(|&c| in_mask(allowed, c) && load(c) == 0) {
        return idle;
    }
    if in_mask(allowed, prev) {
        return prev;
    }
    select_task_rq_fork(ncpus, allowed, prev, load)
}

/// How many tasks to move from a CPU with `busiest` runnable tasks to one with
/// `this` (Linux `calculate_imbalance` for the task-count case): half the
/// difference, and only if the difference is at least two (moving one task
/// from a CPU with one more than this one only swaps the imbalance).
pub fn imbalance(this: u32, busiest: u32) -> u32 {
    if busiest >= this + 2 {
        (busiest - this) / 2
    } else {
        0
    }
}

/// Whether a queue with `nr_running` tasks has one to give (Linux
/// `rd->overload`: more than one runnable task). `imbalance` moves nothing
/// from a CPU with fewer than two, so load balancing has nothing to do unless
/// some other CPU is overloaded.
pub fn overloaded(nr_running: u32) -> bool {
    nr_running >= 2
}

/// Whether `this` CPU may find work to pull: another CPU is overloaded
/// (Linux keeps this as `rd->overload`; with a handful of CPUs one plain pass
/// over the counts costs less than keeping a flag on every queue change).
/// When it may not, `find_busiest` would find nothing, and the common case,
/// an idle CPU waking with nothing to pull, ends here.
pub fn may_pull(ncpus: usize, this: usize, load: impl Fn(usize) -> u32) -> bool {
    (0..ncpus).any(|c| c != this && overloaded(load(c)))
}

/// The busiest CPU other than `this` and those in `tried` (Linux
/// `find_busiest_queue`), with the number of tasks to move from it; None if
/// no CPU has enough to give.
pub fn find_busiest(
    ncpus: usize,
    this: usize,
    tried: u64,
    load: impl Fn(usize) -> u32,
) -> Option<(usize, u32)> {
    let this_load = load(this);
    let mut best: Option<(u32, usize)> = None;
    for cpu in from(this + 1, ncpus).filter(|&c| c != this && !in_mask(tried, c)) {
        let l = load(cpu);
        if best.is_none_or(|(b, _)| l > b) {
            best = Some((l, cpu));
        }
    }
    let (l, cpu) = best?;
    match imbalance(this_load, l) {
        0 => None,
        n => Some((cpu, n)),
    }
}

#[cfg(target_os = "none")]
pub(super) use kernel::{load_balance, select_wake_cpu};

#[cfg(target_os = "none")]
mod kernel {
    use alloc::sync::Arc;
    use core::sync::atomic::Ordering;

    use super::super::core::{attach_task, detach_queued, double_rq_lock, nr_running, Rq};
    use super::super::task::{Task, TaskData};
    use crate::arch::cpu_count;

    /// Pull up to `imbalance` tasks from `busiest` to `this` (Linux
    /// `detach_tasks` + `attach_tasks`): RT tasks that would preempt what
    /// `this` runs first (Linux `pull_rt_task`), then fair tasks from the back
    /// of the queue (they would run there last). Only tasks allowed on `this`
    /// and not on a CPU (`on_cpu`).
    fn move_tasks<D: TaskData>(this: usize, leaving: u32, busiest: usize, imbalance: u32) -> u32 {
        let irq = crate::arch::irq::disable_local();
        let (mut dst, mut src) = double_rq_lock::<D>(this, busiest, &irq);
        let this_load = dst.nr_running.saturating_sub(leaving);
        let n = super::imbalance(this_load, src.nr_running).min(imbalance);
        let mut moved = 0;
        while moved < n {
            let Some((task, rel)) = detach_one(&mut src, &dst, this, leaving > 0) else { break };
            attach_task(&mut dst, &task, rel, true);
            moved += 1;
        }
        moved
    }

    fn movable<D>(t: &Task<D>, this: usize) -> bool {
        t.se.allowed(this) && !t.se.on_cpu.load(Ordering::Acquire)
    }

    /// A task to move from `src` to `dst` (CPU `this`), whose running task is
    /// going to sleep if `curr_leaving`.
    fn detach_one<D: TaskData>(
        src: &mut Rq<D>,
        dst: &Rq<D>,
        this: usize,
        curr_leaving: bool,
    ) -> Option<(Arc<Task<D>>, u64)> {
        let dst_prio = match dst.curr.as_ref() {
            Some(c) if !c.idle && !curr_leaving => c.se.rt_prio(),
            _ => 0,
        };
        if let Some(i) =
            src.rt.position(false, |_, t| t.se.rt_prio() > dst_prio && movable(t, this))
        {
            return Some(detach_queued(src, i, true));
        }
        let i = src.cfs.tasks.position(true, |_, t| movable(t, this))?;
        Some(detach_queued(src, i, false))
    }

    /// Pull work to `this` CPU from the busiest one; the number of tasks moved.
    /// Called by an idle CPU before it halts (Linux `newidle_balance`: then
    /// `leaving` is the running task that is going to sleep, not counted) and
    /// periodically from the tick (Linux `rebalance_domains`).
    pub fn load_balance<D: TaskData>(this: usize, leaving: u32) -> u32 {
        let n = cpu_count();
        if n <= 1 || !super::may_pull(n, this, nr_running) {
            return 0;
        }
        let load = |cpu: usize| {
            let l = nr_running(cpu);
            if cpu == this {
                l.saturating_sub(leaving)
            } else {
                l
            }
        };
        let mut tried = 0u64;
        while let Some((busiest, imb)) = super::find_busiest(n, this, tried, load) {
            tried |= 1 << busiest;
            let moved = move_tasks::<D>(this, leaving, busiest, imb);
            if moved > 0 {
                return moved;
            }
        }
        0
    }

    /// Where a waking task goes (see `select_task_rq_wake`).
    pub fn select_wake_cpu<D>(t: &Task<D>, prev: usize) -> usize {
        super::select_task_rq_wake(
            cpu_count(),
            t.se.cpus_allowed.load(Ordering::Relaxed),
            prev,
            nr_running,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;

    #[test]
    fn no_overloaded_cpu_no_busiest() {
        // Every load vector of 3 CPUs up to 4 tasks each, every CPU as `this`
        // and every count of its own leaving task: whenever `find_busiest`
        // finds a CPU to pull from, `may_pull` says so.
        for code in 0..5u32.pow(3) {
            let loads = [code % 5, code / 5 % 5, code / 25];
            let all = |c: usize| loads[c];
            for this in 0..3 {
                for leaving in 0..=loads[this].min(1) {
                    let load = |c: usize| if c == this { loads[c] - leaving } else { loads[c] };
                    if let Some((busiest, _)) = find_busiest(3, this, 0, load) {
                        assert!(may_pull(3, this, all), "{loads:?} this {this} from {busiest}");
                    }
                }
                let others = [0, 1, 2].iter().any(|&c| c != this && loads[c] >= 2);
                assert_eq!(may_pull(3, this, all), others, "{loads:?} this {this}");
            }
        }
    }

    #[test]
    fn new_tasks_go_to_idle_cpus_first() {
        let loads = [1, 0, 2, 0];
        let l = |c: usize| loads[c];
        assert_eq!(select_task_rq_fork(4, u64::MAX, 0, l), 1);
        assert_eq!(select_task_rq_fork(4, u64::MAX, 2, l), 3);
        assert_eq!(select_task_rq_fork(4, 0b0101, 0, l), 0);
        assert_eq!(select_task_rq_fork(4, 0b0100, 0, l), 2);
        // No idle CPU: the least loaded, the parent's CPU on a tie.
        let busy = [2, 1, 1, 3];
        assert_eq!(select_task_rq_fork(4, u64::MAX, 2, |c| busy[c]), 2);
        assert_eq!(select_task_rq_fork(4, u64::MAX, 0, |c| busy[c]), 1);
        assert_eq!(select_task_rq_fork(4, 0b1000, 0, |c| busy[c]), 3);
    }

    #[test]
    fn forked_tasks_spread_over_every_cpu() {
        // N CPU-bound children forked by one parent on CPU 0 (load 1 for the
        // parent): every CPU gets its share.
        for ncpus in [2usize, 4] {
            let loads = RefCell::new(alloc::vec![0u32; ncpus]);
            loads.borrow_mut()[0] = 1;
            for _ in 0..2 * ncpus {
                let c = select_task_rq_fork(ncpus, u64::MAX, 0, |c| loads.borrow()[c]);
                loads.borrow_mut()[c] += 1;
            }
            let l = loads.borrow();
            assert!(l.iter().all(|&n| n >= 2), "{ncpus} CPUs: {l:?}");
            assert!(l.iter().max().unwrap() - l.iter().min().unwrap() <= 1, "{l:?}");
        }
    }

    #[test]
    fn waking_tasks() {
        let loads = [2, 0, 1, 0];
        let l = |c: usize| loads[c];
        assert_eq!(select_task_rq_wake(4, u64::MAX, 1, l), 1);
        assert_eq!(select_task_rq_wake(4, u64::MAX, 2, l), 3);
        assert_eq!(select_task_rq_wake(4, 0b0101, 2, l), 2);
        assert_eq!(select_task_rq_wake(4, 0b0001, 2, l), 0);
        assert_eq!(select_task_rq_wake(4, 0b0101, 1, l), 2);
    }

    #[test]
    fn imbalance_and_busiest() {
        assert_eq!(imbalance(0, 1), 0);
        assert_eq!(imbalance(0, 2), 1);
        assert_eq!(imbalance(1, 2), 0);
        assert_eq!(imbalance(1, 5), 2);
        assert_eq!(imbalance(3, 2), 0);
        let loads = [0, 3, 5, 1];
        let l = |c: usize| loads[c];
        assert_eq!(find_busiest(4, 0, 0, l), Some((2, 2)));
        assert_eq!(find_busiest(4, 0, 1 << 2, l), Some((1, 1)));
        assert_eq!(find_busiest(4, 3, 0, l), Some((2, 2)));
        assert_eq!(find_busiest(4, 2, 0, l), None);
        assert_eq!(find_busiest(4, 0, 0b0110, l), None);
        assert_eq!(find_busiest(1, 0, 0, |_| 9), None);
    }

    #[test]
    fn balancing_converges() {
        // Idle CPUs pulling one task at a time from the busiest reach a spread
        // where no two CPUs differ by two or more.
        let mut loads = [7u32, 0, 0, 1];
        for _ in 0..20 {
            for this in 0..4 {
                let snapshot = loads;
                if let Some((b, n)) = find_busiest(4, this, 0, |c| snapshot[c]) {
                    loads[b] -= n;
                    loads[this] += n;
                }
            }
        }
        assert!(loads.iter().max().unwrap() - loads.iter().min().unwrap() <= 1, "{loads:?}");
        assert_eq!(loads.iter().sum::<u32>(), 8);
    }
}
