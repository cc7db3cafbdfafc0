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
