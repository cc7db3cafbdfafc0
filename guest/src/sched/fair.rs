//! The fair class (Linux `kernel/sched/fair.c`, CFS): each task's virtual
//! runtime advances by its real runtime scaled by NICE_0_LOAD / weight, the run
//! queue runs the task with the smallest vruntime, and `min_vruntime` (which
//! only moves forward) anchors where waking and new tasks are placed. All of it
//! is arithmetic on plain numbers, unit-tested on the host; `core.rs` applies it
//! to tasks under the run-queue lock.

use super::runlist::{key_before, RunList};

/// The weight of a nice-0 task (Linux `NICE_0_LOAD` without the fixed-point
/// scaling, which only adds resolution on 64-bit kernels).
pub const NICE_0_LOAD: u64 = 1024;

/// SCHED_IDLE tasks weigh this (Linux `WEIGHT_IDLEPRIO`).
pub const WEIGHT_IDLEPRIO: u64 = 3;

/// Linux's `sched_prio_to_weight`: nice -20..19. Each step is ~10% of CPU time
/// between two competing tasks (a factor of ~1.25).
pub const SCHED_PRIO_TO_WEIGHT: [u64; 40] = [
    /* -20 */ 88761, 71755, 56483, 46273, 36291, //
    /* -15 */ 29154, 23254, 18705, 14949, 11916, //
    /* -10 */ 9548, 7620, 6100, 4904, 3906, //
    /*  -5 */ 3121, 2501, 1991, 1586, 1277, //
    /*   0 */ 1024, 820, 655, 526, 423, //
    /*   5 */ 335, 272, 215, 172, 137, //
    /*  10 */ 110, 87, 70, 56, 45, //
    /*  15 */ 36, 29, 23, 18, 15, //
];

/// The load weight of a fair task at `nice` (clamped to -20..19).
pub fn nice_to_weight(nice: i32) -> u64 {
    SCHED_PRIO_TO_WEIGHT[(nice.clamp(-20, 19) + 20) as usize]
}

/// Virtual time for `delta` ns of real time at `weight` (Linux
/// `calc_delta_fair`: `delta * NICE_0_LOAD / weight`, exact here: the
/// emulated `div` costs what any other ring-0 instruction costs).
pub fn calc_delta_fair(delta: u64, weight: u64) -> u64 {
    if weight == NICE_0_LOAD {
        return delta;
    }
    scale(delta, NICE_0_LOAD, weight)
}

/// `a * b / c` with a 64-bit division when the product fits (one `div`; a
/// 128-bit division is a library loop), else in 128 bits.
fn scale(a: u64, b: u64, c: u64) -> u64 {
    let c = c.max(1);
    match a.checked_mul(b) {
        Some(p) => p / c,
        None => ((a as u128 * b as u128) / c as u128).min(u64::MAX as u128) as u64,
    }
}

/// Linux's CFS tunables (ns), scaled by `1 + ilog2(min(ncpus, 8))`
/// (SCHED_TUNABLESCALING_LOG).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunables {
    /// `sysctl_sched_latency`: the period in which every runnable task runs once.
    pub latency: u64,
    /// `sysctl_sched_min_granularity`: the shortest slice.
    pub min_granularity: u64,
    /// `sysctl_sched_wakeup_granularity`: how far ahead (in vruntime) the
    /// running task must be for a waking task to preempt it.
    pub wakeup_granularity: u64,
}

impl Tunables {
    pub const fn for_cpus(ncpus: usize) -> Tunables {
        let n = if ncpus == 0 {
            1
        } else if ncpus > 8 {
            8
        } else {
            ncpus
        };
        let factor = 1 + (usize::BITS - 1 - n.leading_zeros()) as u64;
        Tunables {
            latency: 6_000_000 * factor,
            min_granularity: 750_000 * factor,
            wakeup_granularity: 1_000_000 * factor,
        }
    }

    /// `sched_nr_latency`: beyond this many tasks the period stretches.
    pub fn nr_latency(&self) -> u64 {
        self.latency.div_ceil(self.min_granularity)
    }

    /// Linux `__sched_period`.
    pub fn period(&self, nr_running: u64) -> u64 {
        if nr_running > self.nr_latency() {
            nr_running * self.min_granularity
        } else {
            self.latency
        }
    }

    /// Linux `sched_slice`: the real time a task of `weight` gets per period on
    /// a queue of `nr_running` tasks whose weights sum to `load` (the task's
    /// own weight included).
    pub fn sched_slice(&self, nr_running: u64, load: u64, weight: u64) -> u64 {
        let period = self.period(nr_running.max(1));
        scale(period, weight, load.max(weight))
    }

    /// Linux `sched_vslice`: that slice in virtual time.
    pub fn sched_vslice(&self, nr_running: u64, load: u64, weight: u64) -> u64 {
        calc_delta_fair(self.sched_slice(nr_running, load, weight), weight)
    }

    /// Linux `wakeup_gran`: the wakeup granularity in the waking task's virtual time.
    pub fn wakeup_gran(&self, weight: u64) -> u64 {
        calc_delta_fair(self.wakeup_granularity, weight)
    }
}

/// The larger of two vruntimes (Linux `max_vruntime`, wrap-safe).
pub fn max_vruntime(a: u64, b: u64) -> u64 {
    if key_before(a, b) {
        b
    } else {
        a
    }
}

/// Linux `update_min_vruntime`: the smallest vruntime of the running task (if
/// it is a fair task still on the queue) and the first queued one, never moving
/// backwards.
pub fn update_min_vruntime(min_vruntime: u64, curr: Option<u64>, leftmost: Option<u64>) -> u64 {
    let candidate = match (curr, leftmost) {
        (Some(c), Some(l)) => {
            if key_before(l, c) {
                l
            } else {
                c
            }
        }
        (Some(c), None) => c,
        (None, Some(l)) => l,
        (None, None) => return min_vruntime,
    };
    max_vruntime(min_vruntime, candidate)
}

/// Linux `place_entity`. A new task (`initial`) starts one virtual slice after
/// `min_vruntime` (START_DEBIT: forking cannot be used to take more than a fair
/// share), a waking one at most half a latency before it (GENTLE_FAIR_SLEEPERS:
/// a sleeper gets a bounded credit, so it is neither starved nor able to starve
/// the others); neither ever moves backwards from its own `vruntime`.
pub fn place_entity(
    min_vruntime: u64,
    vruntime: u64,
    initial: bool,
    vslice: u64,
    t: &Tunables,
) -> u64 {
    let target = if initial {
        min_vruntime.wrapping_add(vslice)
    } else {
        min_vruntime.wrapping_sub(t.latency / 2)
    };
    max_vruntime(vruntime, target)
}

/// Linux `wakeup_preempt_entity` == 1: the running task's vruntime is ahead of
/// the waking task's by more than the wakeup granularity (in the waking task's
/// virtual time).
pub fn wakeup_preempt(curr_vruntime: u64, vruntime: u64, gran: u64) -> bool {
    let vdiff = curr_vruntime.wrapping_sub(vruntime) as i64;
    vdiff > 0 && vdiff as u64 > gran
}

/// Linux `check_preempt_tick`: the running task has had its slice
/// (`delta_exec` ns since it was picked, `ideal` its `sched_slice`), or has run
/// at least the minimum granularity and is a whole slice (in vruntime) ahead of
/// the first waiting task.
pub fn check_preempt_tick(
    delta_exec: u64,
    ideal: u64,
    curr_vruntime: u64,
    leftmost: Option<u64>,
    t: &Tunables,
) -> bool {
    if delta_exec > ideal {
        return true;
    }
    if delta_exec < t.min_granularity {
        return false;
    }
    match leftmost {
        Some(l) => {
            let d = curr_vruntime.wrapping_sub(l) as i64;
            d > 0 && d as u64 > ideal
        }
        None => false,
    }
}

/// A run queue's fair part (Linux `struct cfs_rq`): the waiting tasks by
/// vruntime (the running one is not in the list, as Linux takes `curr` out of
/// the tree), `min_vruntime`, and the total weight of its runnable tasks, the
/// running one included.
pub struct CfsRq<T> {
    pub tasks: RunList<T>,
    pub min_vruntime: u64,
    pub load: u64,
    /// Fair tasks runnable here, the running one included.
    pub nr_running: u64,
}

impl<T> CfsRq<T> {
    pub const fn new() -> Self {
        Self { tasks: RunList::new(), min_vruntime: 0, load: 0, nr_running: 0 }
    }

    /// Account a task that becomes runnable here (`account_entity_enqueue`).
    pub fn add_load(&mut self, weight: u64) {
        self.load += weight;
        self.nr_running += 1;
    }

    pub fn sub_load(&mut self, weight: u64) {
        self.load = self.load.saturating_sub(weight);
        self.nr_running = self.nr_running.saturating_sub(1);
    }
}

impl<T> Default for CfsRq<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn weights_are_linuxs() {
        assert_eq!(nice_to_weight(0), 1024);
        assert_eq!(nice_to_weight(5), 335);
        assert_eq!(nice_to_weight(-20), 88761);
        assert_eq!(nice_to_weight(19), 15);
        assert_eq!(nice_to_weight(40), 15);
        // Neighbouring nice levels differ by ~1.25.
        for w in SCHED_PRIO_TO_WEIGHT.windows(2) {
            let r = w[0] as f64 / w[1] as f64;
            assert!((1.2..1.3).contains(&r), "{r}");
        }
    }

    #[test]
    fn vruntime_scales_with_weight() {
        assert_eq!(calc_delta_fair(10_000_000, 1024), 10_000_000);
        assert_eq!(calc_delta_fair(10_000_000, 335), 30_567_164);
        assert_eq!(calc_delta_fair(10_000_000, 88761), 115_365);
        // No overflow for long deltas at small weights.
        let x = u64::MAX / 2048;
        assert_eq!(calc_delta_fair(x, 15), (x as u128 * 1024 / 15) as u64);
    }

    #[test]
    fn tunables_scale_with_cpus() {
        let t1 = Tunables::for_cpus(1);
        assert_eq!(
            (t1.latency, t1.min_granularity, t1.wakeup_granularity),
            (6_000_000, 750_000, 1_000_000)
        );
        assert_eq!(Tunables::for_cpus(2).latency, 12_000_000);
        assert_eq!(Tunables::for_cpus(4).latency, 18_000_000);
        assert_eq!(Tunables::for_cpus(64).latency, 24_000_000);
        assert_eq!(t1.nr_latency(), 8);
        assert_eq!(t1.period(3), 6_000_000);
        assert_eq!(t1.period(10), 7_500_000);
        // Two nice-0 tasks split the latency; nice 0 vs nice 5 by weight.
        assert_eq!(t1.sched_slice(2, 2048, 1024), 3_000_000);
        assert_eq!(t1.sched_slice(2, 1024 + 335, 335), 6_000_000 * 335 / 1359);
        assert_eq!(t1.sched_vslice(1, 1024, 1024), 6_000_000);
        assert_eq!(t1.wakeup_gran(1024), 1_000_000);
    }

    #[test]
    fn min_vruntime_only_moves_forward() {
        assert_eq!(update_min_vruntime(100, None, None), 100);
        assert_eq!(update_min_vruntime(100, Some(150), Some(120)), 120);
        assert_eq!(update_min_vruntime(100, Some(90), Some(120)), 100);
        assert_eq!(update_min_vruntime(100, None, Some(300)), 300);
        assert_eq!(update_min_vruntime(u64::MAX - 10, Some(5), None), 5);
    }

    #[test]
    fn placement_neither_starves_nor_is_starved() {
        let t = Tunables::for_cpus(1);
        // A new task starts a slice after min_vruntime, or later if its parent is.
        assert_eq!(place_entity(1_000_000, 0, true, 3_000_000, &t), 4_000_000);
        assert_eq!(place_entity(1_000_000, 9_000_000, true, 3_000_000, &t), 9_000_000);
        // A sleeper gets at most half a latency of credit, never more.
        assert_eq!(place_entity(10_000_000, 0, false, 0, &t), 7_000_000);
        assert_eq!(place_entity(10_000_000, 9_000_000, false, 0, &t), 9_000_000);
    }

    #[test]
    fn preemption_decisions() {
        let t = Tunables::for_cpus(1);
        assert!(wakeup_preempt(5_000_000, 3_000_000, 1_000_000));
        assert!(!wakeup_preempt(3_500_000, 3_000_000, 1_000_000));
        assert!(!wakeup_preempt(1_000_000, 3_000_000, 1_000_000));
        assert!(check_preempt_tick(3_100_000, 3_000_000, 0, None, &t));
        assert!(!check_preempt_tick(500_000, 3_000_000, 10_000_000, Some(0), &t));
        assert!(check_preempt_tick(1_000_000, 3_000_000, 10_000_000, Some(0), &t));
        assert!(!check_preempt_tick(1_000_000, 3_000_000, 2_000_000, Some(0), &t));
    }

    /// Simulate one CPU with a tick of 10 ms: each tick the running task is
    /// charged, the tick decides on preemption, and the next task is the one
    /// with the smallest vruntime. Returns each task's CPU time.
    fn simulate(weights: &[u64], ticks: u32) -> Vec<u64> {
        let t = Tunables::for_cpus(1);
        let tick = 10_000_000u64;
        let mut q: CfsRq<usize> = CfsRq::new();
        let mut vr = alloc::vec![0u64; weights.len()];
        let mut runtime = alloc::vec![0u64; weights.len()];
        for (i, &w) in weights.iter().enumerate() {
            q.add_load(w);
            let v =
                place_entity(q.min_vruntime, 0, true, t.sched_vslice(q.nr_running, q.load, w), &t);
            vr[i] = v;
            q.tasks.insert_tail(v, i);
        }
        let (_, mut curr) = q.tasks.pop_first().unwrap();
        let mut since_pick = 0;
        for _ in 0..ticks {
            runtime[curr] += tick;
            since_pick += tick;
            vr[curr] += calc_delta_fair(tick, weights[curr]);
            q.min_vruntime =
                update_min_vruntime(q.min_vruntime, Some(vr[curr]), q.tasks.first_key());
            let ideal = t.sched_slice(q.nr_running, q.load, weights[curr]);
            if check_preempt_tick(since_pick, ideal, vr[curr], q.tasks.first_key(), &t) {
                q.tasks.insert_tail(vr[curr], curr);
                curr = q.tasks.pop_first().unwrap().1;
                since_pick = 0;
            }
        }
        runtime
    }

    #[test]
    fn shares_follow_the_weights() {
        let r = simulate(&[1024, 1024], 1000);
        assert_eq!(r[0], r[1]);
        let r = simulate(&[1024, 335], 1000);
        let ratio = r[0] as f64 / r[1] as f64;
        assert!((ratio - 1024.0 / 335.0).abs() < 0.05, "{ratio}");
        let r = simulate(&[1024, 1024, 1024, 3121], 1200);
        let ratio = r[3] as f64 / r[0] as f64;
        assert!((ratio - 3121.0 / 1024.0).abs() < 0.1, "{ratio}");
    }
}
