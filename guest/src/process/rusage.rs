//! Resource usage (Linux `kernel/sys.c` `getrusage`, the accounting of
//! `kernel/exit.c` `wait_task_zombie` and `__exit_signal`, and
//! `kernel/sched/cputime.c` `cputime_adjust`).
//!
//! Each task counts its CPU time twice, as Linux without
//! `CONFIG_VIRT_CPU_ACCOUNTING`: the scheduler's precise runtime
//! (`sum_exec_runtime`) and, per timer tick, a whole tick as user or system
//! time (`utime`/`stime`, Linux `account_process_tick`). What is reported
//! is the runtime split in the ticks' ratio ([`cputime_adjust`]), never going
//! backwards. Each task also counts its minor faults and its voluntary and
//! involuntary context switches.
//!
//! A thread's figures go to its process (Linux `signal_struct`: `utime`,
//! `stime`, `sum_sched_runtime`, `min_flt`, `nvcsw`, `nivcsw`) when it exits;
//! a process's whole figures (its own and those of the children it reaped)
//! go to its parent's `c*` figures when the parent reaps it, and only then.
//! `maxrss` is the address space's high-water RSS in KiB (for children: the
//! largest of them).
//!
//! The arithmetic here builds for the host and is tested there.

pub use uapi::resource::{RUSAGE_CHILDREN, RUSAGE_SELF, RUSAGE_THREAD};

#[cfg(target_os = "none")]
mod kernel_rusage;
#[cfg(target_os = "none")]
pub use kernel_rusage::*;

/// Whose usage `getrusage` reports (`who`); EINVAL for anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    SelfProcess,
    Children,
    Thread,
}

impl Who {
    pub fn from_raw(who: i32) -> Option<Who> {
        match who {
            RUSAGE_SELF => Some(Who::SelfProcess),
            RUSAGE_CHILDREN => Some(Who::Children),
            RUSAGE_THREAD => Some(Who::Thread),
            _ => None,
        }
    }
}

/// Raw CPU time: the scheduler's runtime and the ticks' user/system split
/// (ns), Linux `struct task_cputime`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cputime {
    pub sum_exec_runtime: u64,
    pub utime: u64,
    pub stime: u64,
}

impl Cputime {
    pub fn add(&mut self, o: &Cputime) {
        self.sum_exec_runtime += o.sum_exec_runtime;
        self.utime += o.utime;
        self.stime += o.stime;
    }
}

/// What was last reported (Linux `struct prev_cputime`): user and system
/// time never go backwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrevCputime {
    pub utime: u64,
    pub stime: u64,
}

/// Linux `cputime_adjust`: the runtime split as the ticks split user from
/// system time, monotonic against `prev` (which it updates); (utime, stime).
pub fn cputime_adjust(curr: &Cputime, prev: &mut PrevCputime) -> (u64, u64) {
    let rtime = curr.sum_exec_runtime;
    if prev.stime + prev.utime >= rtime {
        return (prev.utime, prev.stime);
    }
    // No system tick: all user time; no user tick: all system time.
    let stime = match (curr.utime, curr.stime) {
        (_, 0) => 0,
        (0, _) => rtime,
        (u, s) => ((s as u128 * rtime as u128) / (s as u128 + u as u128)) as u64,
    };
    // Neither part goes backwards, and together they are the runtime.
    let mut stime = stime.max(prev.stime);
    let mut utime = rtime - stime;
    if utime < prev.utime {
        utime = prev.utime;
        stime = rtime - utime;
    }
    *prev = PrevCputime { utime, stime };
    (utime, stime)
}

/// The counts besides CPU time (Linux `task_struct`'s `min_flt`, `nvcsw`,
/// `nivcsw`), summed over threads or children.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub min_flt: u64,
    pub nvcsw: u64,
    pub nivcsw: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.min_flt += o.min_flt;
        self.nvcsw += o.nvcsw;
        self.nivcsw += o.nivcsw;
    }
}

/// Reported usage: adjusted user/system time (ns), the counts, and max RSS
/// (KiB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub utime: u64,
    pub stime: u64,
    pub counts: Counts,
    pub maxrss_kib: u64,
}

impl Usage {
    /// Linux `accumulate` of two usages: sums, and the larger max RSS.
    pub fn add(&mut self, o: &Usage) {
        self.utime += o.utime;
        self.stime += o.stime;
        self.counts.add(&o.counts);
        self.maxrss_kib = self.maxrss_kib.max(o.maxrss_kib);
    }

    /// `struct rusage` as the user gets it.
    pub fn to_uapi(&self) -> uapi::resource::rusage {
        let tv = |ns: u64| {
            let (sec, usec) = crate::process::itimer::ns_to_timeval(ns);
            uapi::time::timeval { tv_sec: sec, tv_usec: usec }
        };
        uapi::resource::rusage {
            ru_utime: tv(self.utime),
            ru_stime: tv(self.stime),
            ru_maxrss: self.maxrss_kib as i64,
            ru_minflt: self.counts.min_flt as i64,
            ru_nvcsw: self.counts.nvcsw as i64,
            ru_nivcsw: self.counts.nivcsw as i64,
            ..Default::default()
        }
    }

    /// Its bytes, for the user's buffer.
    pub fn to_bytes(&self) -> [u8; 144] {
        let r = self.to_uapi();
        let words: [i64; 18] = [
            r.ru_utime.tv_sec,
            r.ru_utime.tv_usec,
            r.ru_stime.tv_sec,
            r.ru_stime.tv_usec,
            r.ru_maxrss,
            r.ru_ixrss,
            r.ru_idrss,
            r.ru_isrss,
            r.ru_minflt,
            r.ru_majflt,
            r.ru_nswap,
            r.ru_inblock,
            r.ru_oublock,
            r.ru_msgsnd,
            r.ru_msgrcv,
            r.ru_nsignals,
            r.ru_nvcsw,
            r.ru_nivcsw,
        ];
        let mut out = [0u8; 144];
        for (chunk, w) in out.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// A process's accounting (Linux: those fields of `signal_struct`): its
/// exited threads' CPU time and counts, its high-water RSS, the figures of
/// the children it reaped, and what it last reported of its own CPU time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupUsage {
    pub dead_cputime: Cputime,
    pub dead_counts: Counts,
    /// High-water RSS of the address spaces the process left (exit, exec), KiB.
    pub maxrss_kib: u64,
    /// The reaped children's (and their reaped children's) usage; its
    /// `maxrss_kib` is the largest of them (Linux `cmaxrss`).
    pub children: Usage,
    pub prev_cputime: PrevCputime,
}

impl GroupUsage {
    /// A thread that exits gives its figures to the process (Linux
    /// `__exit_signal`).
    pub fn thread_exited(&mut self, cputime: &Cputime, counts: &Counts) {
        self.dead_cputime.add(cputime);
        self.dead_counts.add(counts);
    }

    /// The process's own usage with its live threads' figures `live` (Linux
    /// `getrusage(RUSAGE_SELF)`; `mm_hiwater_kib`: the address space's now).
    pub fn self_usage(&mut self, live: (&Cputime, &Counts), mm_hiwater_kib: u64) -> Usage {
        let mut cputime = self.dead_cputime;
        cputime.add(live.0);
        let mut counts = self.dead_counts;
        counts.add(live.1);
        let (utime, stime) = cputime_adjust(&cputime, &mut self.prev_cputime);
        Usage { utime, stime, counts, maxrss_kib: self.maxrss_kib.max(mm_hiwater_kib) }
    }

    /// What a reaped process gives its parent (Linux `wait_task_zombie`): its
    /// own usage (all its threads have exited) and its children's, max RSS the
    /// larger of its own and its children's. It is also what `wait4` reports
    /// (Linux `getrusage(p, RUSAGE_BOTH)`).
    pub fn reaped_usage(&mut self) -> Usage {
        let mut u = self.self_usage((&Cputime::default(), &Counts::default()), 0);
        u.add(&self.children);
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_is_self_children_or_thread() {
        assert_eq!(Who::from_raw(0), Some(Who::SelfProcess));
        assert_eq!(Who::from_raw(-1), Some(Who::Children));
        assert_eq!(Who::from_raw(1), Some(Who::Thread));
        for bad in [2, -2, 3, i32::MIN, i32::MAX] {
            assert_eq!(Who::from_raw(bad), None);
        }
    }

    #[test]
    fn cputime_adjust_splits_the_runtime_as_the_ticks_do() {
        let mut prev = PrevCputime::default();
        let c = Cputime { sum_exec_runtime: 9_000, utime: 2, stime: 1 };
        assert_eq!(cputime_adjust(&c, &mut prev), (6_000, 3_000));
        // No ticks yet: all user time (Linux: stime 0 means utime = rtime).
        let mut prev = PrevCputime::default();
        let c = Cputime { sum_exec_runtime: 500, utime: 0, stime: 0 };
        assert_eq!(cputime_adjust(&c, &mut prev), (500, 0));
        let mut prev = PrevCputime::default();
        let c = Cputime { sum_exec_runtime: 500, utime: 0, stime: 4 };
        assert_eq!(cputime_adjust(&c, &mut prev), (0, 500));
    }

    #[test]
    fn cputime_adjust_never_goes_backwards() {
        let mut prev = PrevCputime::default();
        assert_eq!(
            cputime_adjust(&Cputime { sum_exec_runtime: 1_000, utime: 0, stime: 0 }, &mut prev),
            (1_000, 0)
        );
        // A system tick now would make utime 550 < 1000: it stays.
        let (u, s) =
            cputime_adjust(&Cputime { sum_exec_runtime: 1_100, utime: 1, stime: 1 }, &mut prev);
        assert_eq!((u, s), (1_000, 100));
        // The runtime did not move past what was reported: the same again.
        let again =
            cputime_adjust(&Cputime { sum_exec_runtime: 1_050, utime: 5, stime: 1 }, &mut prev);
        assert_eq!(again, (1_000, 100));
        let (u2, s2) =
            cputime_adjust(&Cputime { sum_exec_runtime: 4_000, utime: 1, stime: 3 }, &mut prev);
        assert!(u2 >= u && s2 >= s && u2 + s2 == 4_000, "{u2} {s2}");
    }

    #[test]
    fn threads_go_to_the_group_children_to_the_parent_when_reaped() {
        let mut child = GroupUsage::default();
        child.thread_exited(
            &Cputime { sum_exec_runtime: 3_000, utime: 1, stime: 0 },
            &Counts { min_flt: 10, nvcsw: 2, nivcsw: 1 },
        );
        child.thread_exited(
            &Cputime { sum_exec_runtime: 1_000, utime: 0, stime: 0 },
            &Counts { min_flt: 5, nvcsw: 1, nivcsw: 0 },
        );
        child.maxrss_kib = 400;
        // The child had reaped a grandchild.
        child.children = Usage {
            utime: 7,
            stime: 0,
            counts: Counts { min_flt: 1, ..Counts::default() },
            maxrss_kib: 900,
        };
        let got = child.reaped_usage();
        assert_eq!(got.utime, 4_007);
        assert_eq!(got.stime, 0);
        assert_eq!(got.counts, Counts { min_flt: 16, nvcsw: 3, nivcsw: 1 });
        assert_eq!(got.maxrss_kib, 900);
        let mut parent = GroupUsage::default();
        parent.children.add(&got);
        parent.children.add(&Usage { maxrss_kib: 100, ..Usage::default() });
        assert_eq!(parent.children.maxrss_kib, 900);
        // The parent's own figures are untouched by its children.
        let me = parent.self_usage(
            (&Cputime { sum_exec_runtime: 50, utime: 0, stime: 0 }, &Counts::default()),
            12,
        );
        assert_eq!((me.utime, me.stime, me.maxrss_kib), (50, 0, 12));
    }

    #[test]
    fn rusage_bytes_are_linux_layout() {
        let u = Usage {
            utime: 1_500_002_000,
            stime: 3_000,
            counts: Counts { min_flt: 7, nvcsw: 8, nivcsw: 9 },
            maxrss_kib: 1024,
        };
        let b = u.to_bytes();
        let word = |i: usize| i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!((word(0), word(1), word(2), word(3)), (1, 500_002, 0, 3));
        assert_eq!((word(4), word(8), word(16), word(17)), (1024, 7, 8, 9));
        assert_eq!(word(9), 0);
    }
}
