//! The OOM killer's process side (Linux `mm/oom_kill.c` `out_of_memory`):
//! choosing among the processes and killing the victim need the process
//! table and signals, which sit above mm; the arithmetic (`oom_badness`,
//! `select_bad_process`) is mm's (`mm::oom_kill`), tested on the host.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::mm::address_space::Mm;

use crate::mm::oom_kill::{oom_badness, select_bad_process, Candidate};
use crate::process::signal::{force_sig, SIGKILL};
use crate::process::{table, Task};

/// One OOM kill at a time (Linux `oom_lock`), and the last victim: its
/// thread group and its address space. Until every thread of it has exited
/// and the address space is torn down (its last user gone), its memory is
/// not back and no second victim is chosen (Linux: `MMF_OOM_SKIP`, set once
/// `exit_mmap` or the OOM reaper is done with it).
static OOM_LOCK: spin::Mutex<Option<(u32, Weak<Mm>)>> = spin::Mutex::new(None);

/// What the faulting task does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomOutcome {
    /// A victim was killed, or one is still giving its memory back:
    /// retry the fault (after a tick's sleep).
    Retry,
    /// The caller itself was chosen: it dies with its pending SIGKILL.
    KilledCurrent,
}

/// A page fault could not get memory (Linux `pagefault_out_of_memory` ->
/// `out_of_memory`): choose and kill a victim, or wait for the last one.
pub fn out_of_memory(current: &Arc<Task>) -> OomOutcome {
    let mut last_victim = OOM_LOCK.lock();
    // A victim gives its memory back when its last thread has exited
    // (the address space goes with `exit_mm`, its frames once the TLBs
    // are flushed): until then, no second victim. While its address space
    // lives that is all there is to know: every faulting task of a fork bomb
    // asks here until the victim is gone, and need not walk the task table.
    if last_victim.as_ref().is_some_and(|(_, mm)| mm.strong_count() > 0) {
        return outcome_for(current);
    }
    let tasks = table::all();
    let dying = |t: &Arc<Task>| {
        !t.kthread
            && !t.exited.load(Ordering::Acquire)
            && t.fatal_signal.load(Ordering::Relaxed) != 0
    };
    if let Some((victim, _)) = last_victim.as_ref() {
        let alive = |t: &Arc<Task>| t.tgid == *victim && !t.exited.load(Ordering::Acquire);
        if tasks.iter().any(alive) {
            return outcome_for(current);
        }
        // The last victim's memory is back, perhaps only since this fault
        // found none (its teardown ran on another CPU meanwhile): retry the
        // fault before choosing again, as Linux tries the allocation once
        // more under `oom_lock` before `out_of_memory`
        // (`__alloc_pages_may_oom`). Choosing now could kill pid 1 with the
        // memory it needs already free (CI's SVM lane saw it).
        *last_victim = None;
        return outcome_for(current);
    }
    // Per process: the leader's (or any live thread's) address space. The
    // threads of a process are next to each other once sorted by tgid, so
    // one look back finds a process already weighed (a search of every
    // candidate for each task was quadratic in the number of processes).
    let mut by_process: Vec<&Arc<Task>> = tasks.iter().filter(|t| !t.kthread && !t.idle).collect();
    by_process.sort_unstable_by_key(|t| t.tgid);
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut footprints = Vec::new();
    for t in by_process {
        if candidates.last().is_some_and(|c| c.tgid == t.tgid) {
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
    *last_victim = Some((tgid, Arc::downgrade(mm)));
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
