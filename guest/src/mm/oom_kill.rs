//! The OOM killer (Linux `mm/oom_kill.c`): when a page fault cannot get a
//! frame, kill the process with the largest footprint and let the faulting
//! task retry once the victim's memory is back.
//!
//! Linux's rules: a process's badness is its resident pages plus its
//! page-table pages (plus swap, which this kernel has none of), adjusted by
//! `oom_score_adj` (always 0 here: not implemented); kernel threads and the
//! global init are never chosen (here init is, when it is the only process
//! left, and the VM ends with its death); the whole thread group and every
//! other process sharing the address space get SIGKILL; while a victim has
//! not let go of its memory no second one is chosen (Linux `oom_evaluate_task`
//! aborting on `tsk_is_oom_victim`). Each kill prints Linux's line and counts
//! in `oom_kills`.

/// One process considered by [`select_bad_process`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub tgid: u32,
    /// Linux `oom_badness` (pages).
    pub points: u64,
    /// The global init (pid 1).
    pub init: bool,
}

/// Linux `oom_badness` without `oom_score_adj`: resident pages, swap entries
/// and page-table pages.
pub fn oom_badness(rss_pages: u64, swap_pages: u64, pgtable_pages: u64) -> u64 {
    rss_pages + swap_pages + pgtable_pages
}

/// The process to kill (Linux `select_bad_process`): the highest badness,
/// the global init only when nothing else is left; the first on a tie.
pub fn select_bad_process(candidates: &[Candidate]) -> Option<u32> {
    let pick = |init: bool| {
        candidates
            .iter()
            .filter(|c| c.init == init)
            .fold(None::<&Candidate>, |best, c| match best {
                Some(b) if b.points >= c.points => Some(b),
                _ => Some(c),
            })
            .map(|c| c.tgid)
    };
    pick(false).or_else(|| pick(true))
}

#[cfg(target_os = "none")]
pub use kernel::{out_of_memory, OomOutcome};

#[cfg(target_os = "none")]
mod kernel {
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicU32, Ordering};

    use super::{oom_badness, select_bad_process, Candidate};
    use crate::process::signal::{force_sig, SIGKILL};
    use crate::process::{table, Task};

    /// The thread group last chosen, until its memory is back (0: none).
    static OOM_VICTIM: AtomicU32 = AtomicU32::new(0);
    /// One OOM kill at a time (Linux `oom_lock`).
    static OOM_LOCK: spin::Mutex<()> = spin::Mutex::new(());

    /// What the faulting task does next.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum OomOutcome {
        /// A victim was killed, or one is still giving its memory back:
        /// retry the fault (after letting others run).
        Retry,
        /// The caller itself was chosen: it dies with its pending SIGKILL.
        KilledCurrent,
    }

    /// A page fault could not get memory (Linux `pagefault_out_of_memory` ->
    /// `out_of_memory`): choose and kill a victim, or wait for the last one.
    pub fn out_of_memory(current: &Arc<Task>) -> OomOutcome {
        let _guard = OOM_LOCK.lock();
        let tasks = table::all();
        // A victim gives its memory back when its last thread has exited
        // (the address space goes with `exit_mm`, its frames once the TLBs
        // are flushed): until then, no second victim.
        let dying = |t: &Arc<Task>| {
            !t.kthread
                && !t.exited.load(Ordering::Acquire)
                && t.fatal_signal.load(Ordering::Relaxed) != 0
        };
        let victim = OOM_VICTIM.load(Ordering::Acquire);
        if victim != 0
            && tasks.iter().any(|t| t.tgid == victim && !t.exited.load(Ordering::Acquire))
        {
            return outcome_for(current);
        }
        // Per process: the leader's (or any live thread's) address space.
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut footprints = Vec::new();
        for t in tasks.iter().filter(|t| !t.kthread && !t.idle) {
            if candidates.iter().any(|c| c.tgid == t.tgid) {
                continue;
            }
            let Some(mm) = t.mm() else { continue };
            if t.fatal_signal.load(Ordering::Relaxed) != 0 {
                // Already dying: its memory comes back without our help.
                continue;
            }
            let f = mm.oom_footprint();
            let points = oom_badness(f.rss_pages, 0, f.pgtable_pages);
            candidates.push(Candidate { tgid: t.tgid, points, init: t.tgid == 1 });
            footprints.push((t.clone(), mm, f));
        }
        let chosen = select_bad_process(&candidates);
        if chosen.is_none_or(|tgid| tgid == 1) && tasks.iter().any(dying) {
            // Nothing to kill but init, and others are already dying: their
            // memory comes back first.
            return outcome_for(current);
        }
        let Some(tgid) = chosen else { return outcome_for(current) };
        let (leader, mm, f) = footprints.iter().find(|(t, _, _)| t.tgid == tgid).unwrap();
        OOM_VICTIM.store(tgid, Ordering::Release);
        let kb = |pages: u64| pages * 4;
        crate::println!(
            "Out of memory: Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:0kB, \
             shmem-rss:0kB, UID:{} pgtables:{}kB oom_score_adj:0",
            tgid,
            leader.comm(),
            kb(f.total_vm_pages),
            kb(f.rss_pages),
            leader.creds().uid,
            kb(f.pgtable_pages)
        );
        crate::counters::global_add(crate::counters::OOM_KILLS, 1);
        // The thread group, and any other process sharing the address space
        // (Linux `__oom_kill_process`), but never a kernel thread.
        for t in tasks.iter().filter(|t| !t.kthread) {
            let shares = t.mm().is_some_and(|m| Arc::ptr_eq(&m, mm));
            if t.tgid == tgid || shares {
                force_sig(t, SIGKILL);
            }
        }
        outcome_for(current)
    }

    fn outcome_for(current: &Task) -> OomOutcome {
        if current.fatal_signal.load(Ordering::Relaxed) != 0 {
            OomOutcome::KilledCurrent
        } else {
            OomOutcome::Retry
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(tgid: u32, points: u64) -> Candidate {
        Candidate { tgid, points, init: tgid == 1 }
    }

    #[test]
    fn the_largest_footprint_and_init_only_alone() {
        assert_eq!(oom_badness(100, 0, 3), 103);
        assert_eq!(select_bad_process(&[c(1, 900), c(7, 10), c(8, 300)]), Some(8));
        assert_eq!(
            select_bad_process(&[c(1, 900), c(7, 10)]),
            Some(7),
            "never init while others exist"
        );
        assert_eq!(select_bad_process(&[c(1, 900)]), Some(1));
        assert_eq!(select_bad_process(&[c(5, 50), c(6, 50)]), Some(5), "first on a tie");
        assert_eq!(select_bad_process(&[]), None);
    }
}
