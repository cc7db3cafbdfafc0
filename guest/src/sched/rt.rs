//! The real-time class (Linux `kernel/sched/rt.c`): SCHED_FIFO and SCHED_RR at
//! priorities 1..99, always ahead of the fair class. Within a priority tasks
//! run in FIFO order; a SCHED_RR task that used up its time slice goes to the
//! back of its priority, a preempted one stays at the front. The queue order
//! and the decisions are plain functions, unit-tested on the host.

use super::HZ;

/// Linux `RR_TIMESLICE`: 100 ms, in ticks.
pub const RR_TIMESLICE_TICKS: u32 = (100 * HZ / 1000) as u32;
/// The same in nanoseconds (sched_rr_get_interval).
pub const RR_TIMESLICE_NS: u64 = 100_000_000;

/// The run-list key of an RT priority: higher priorities sort first.
pub fn rt_key(rt_priority: u32) -> u64 {
    (super::prio::MAX_RT_PRIO - rt_priority.min(99)) as u64
}

/// Whether a task at `rt_priority` (0: not RT) preempts one running at
/// `curr_rt_priority` (0: a fair or idle task): a strictly higher RT
/// priority, or any RT task over a fair one (Linux `check_preempt_curr_rt` and
/// the class order).
pub fn rt_preempts(rt_priority: u32, curr_rt_priority: u32) -> bool {
    rt_priority > curr_rt_priority
}

/// What the tick does to a running SCHED_RR task (Linux `task_tick_rt`):
/// returns the slice left and whether the task goes to the back of its
/// priority (its slice ran out and another task of that priority waits).
pub fn rr_tick(slice_left: u32, others_at_prio: bool) -> (u32, bool) {
    if slice_left > 1 {
        return (slice_left - 1, false);
    }
    (RR_TIMESLICE_TICKS, others_at_prio)
}

#[cfg(test)]
mod tests {
    use super::super::runlist::RunList;
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn order_by_priority_then_fifo() {
        let mut q = RunList::new();
        q.insert_tail(rt_key(10), 'a');
        q.insert_tail(rt_key(50), 'b');
        q.insert_tail(rt_key(10), 'c');
        q.insert_tail(rt_key(99), 'd');
        // A preempted task at priority 10 goes back to the head of priority 10.
        q.insert_head(rt_key(10), 'e');
        let order: Vec<char> = q.iter().map(|(_, &c)| c).collect();
        assert_eq!(order, ['d', 'b', 'e', 'a', 'c']);
    }

    #[test]
    fn preemption_and_round_robin() {
        assert_eq!(RR_TIMESLICE_TICKS, 10);
        assert!(rt_preempts(1, 0));
        assert!(rt_preempts(20, 10));
        assert!(!rt_preempts(10, 10));
        assert!(!rt_preempts(0, 0));
        // Ten ticks, then the slice is refilled and the task requeued if others wait.
        let mut s = RR_TIMESLICE_TICKS;
        let mut requeues = 0;
        for _ in 0..30 {
            let (left, requeue) = rr_tick(s, true);
            s = left;
            requeues += requeue as u32;
        }
        assert_eq!(requeues, 3);
        assert_eq!(rr_tick(1, false), (RR_TIMESLICE_TICKS, false));
    }
}
