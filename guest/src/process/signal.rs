//! Signals: numbers, default actions, siginfo, and the choice of the next signal
//! to deliver (pure, host-tested); sending and delivery with Linux's x86-64
//! signal frame are in `kernel_signal.rs`.

use crate::process::ExitReason;

pub use uapi::signal::{
    sigmask, _NSIG, CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLD_TRAPPED,
    MINSIGSTKSZ, SA_NOCLDSTOP, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER,
    SA_SIGINFO, SEGV_ACCERR, SEGV_MAPERR, SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGCONT, SIGFPE,
    SIGHUP, SIGILL, SIGINT, SIGKILL, SIGPIPE, SIGPROF, SIGQUIT, SIGRTMIN, SIGSEGV, SIGSTOP, SIGSYS,
    SIGTERM, SIGTRAP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGUSR1, SIGUSR2, SIGVTALRM, SIGWINCH,
    SIGXCPU, SIGXFSZ, SI_KERNEL, SI_TIMER, SI_TKILL, SI_USER, SS_AUTODISARM, SS_DISABLE,
    SS_ONSTACK,
};

/// A signal's default action (Linux `sig_kernel_*` sets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    CoreDump,
    Ignore,
    Stop,
    Continue,
}

pub fn default_action(sig: u32) -> DefaultAction {
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::CoreDump,
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGCONT => DefaultAction::Continue,
        _ => DefaultAction::Terminate,
    }
}

/// How a task killed by `sig` ended (core dumps are not written, but reported,
/// as Linux reports them in the wait status when the limit allows; RLIMIT_CORE
/// is 0 by default, so the core flag stays clear).
pub fn death_reason(sig: u32) -> ExitReason {
    ExitReason::Killed { signal: sig, core: false }
}

/// What a signal carries to its handler (the parts of `siginfo_t` used here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigInfo {
    pub code: i32,
    pub pid: u32,
    pub uid: u32,
    pub status: i32,
    /// Faulting address (SIGSEGV, SIGBUS).
    pub addr: u64,
    /// For faults: trap number, error code and CR2 for the signal context.
    pub trapno: u64,
    pub err: u64,
}

impl SigInfo {
    /// A POSIX timer's signal (`si_code` SI_TIMER). Its `si_timerid`,
    /// `si_overrun` and `si_value` are kept in `pid`, `uid` and `addr`, which
    /// a timer's siginfo does not have (they share the same bytes in Linux's
    /// union but for `si_value`, which [`siginfo_bytes`] places).
    pub fn timer(id: i32, overrun: i32, value: u64) -> SigInfo {
        SigInfo {
            code: SI_TIMER,
            pid: id as u32,
            uid: overrun as u32,
            addr: value,
            ..Default::default()
        }
    }

    /// This siginfo if it is timer `id`'s signal.
    pub fn timer_mut(&mut self, id: i32) -> Option<&mut SigInfo> {
        (self.code == SI_TIMER && self.pid == id as u32).then_some(self)
    }

    /// A timer signal's `si_overrun`, set when it is dequeued.
    pub fn set_timer_overrun(&mut self, overrun: i32) {
        self.uid = overrun as u32;
    }
}

/// What the pending signals of a task or a process carry (Linux keeps a
/// `sigqueue` entry per queued signal): one entry per signal that carries
/// anything, kept inline for two. A fork zeroed two tables of all 65 (2,600
/// bytes each), which where ring 0 is emulated cost as much time as some 700
/// instructions, for tasks that mostly never take a signal.
#[derive(Default)]
pub struct SigInfos(smallvec::SmallVec<[(u32, SigInfo); 2]>);

impl SigInfos {
    pub fn new() -> Self {
        Self(smallvec::SmallVec::new())
    }

    /// Record what `sig` carries.
    pub fn set(&mut self, sig: u32, info: SigInfo) {
        match self.0.iter_mut().find(|(s, _)| *s == sig) {
            Some(e) => e.1 = info,
            None if info == SigInfo::default() => {}
            None => self.0.push((sig, info)),
        }
    }

    /// [`Self::set`] from interrupt context, where the heap is not to be
    /// used. The entries of signals no longer `pending` (discarded without
    /// being taken: SIGCONT's flush of stop signals, a handler set to
    /// SIG_IGN) make room first; with none left the information is lost and
    /// the signal still sent, as Linux sends a standard signal whose
    /// `sigqueue` it cannot allocate (its handler sees SI_USER from pid 0).
    pub fn set_without_allocating(&mut self, sig: u32, info: SigInfo, pending: u64) {
        let known = self.0.iter().any(|&(s, _)| s == sig);
        if !known && self.0.len() == self.0.capacity() {
            self.0.retain(|&mut (s, _)| pending & sigmask(s) != 0);
        }
        if known || self.0.len() < self.0.capacity() {
            self.set(sig, info);
        }
    }

    /// Take what `sig` carried (nothing: the default) as it is dequeued.
    pub fn take(&mut self, sig: u32) -> SigInfo {
        match self.0.iter().position(|&(s, _)| s == sig) {
            Some(i) => self.0.swap_remove(i).1,
            None => SigInfo::default(),
        }
    }
}

/// Signals that can be neither blocked nor caught.
pub const UNBLOCKABLE: u64 = sigmask(SIGKILL) | sigmask(SIGSTOP);

/// The `siginfo_t` bytes for `sig` (128 bytes, x86-64 layout).
pub fn siginfo_bytes(sig: u32, info: &SigInfo) -> [u8; 128] {
    let mut b = [0u8; 128];
    b[0..4].copy_from_slice(&(sig as i32).to_le_bytes());
    b[8..12].copy_from_slice(&info.code.to_le_bytes());
    if info.code == SI_TIMER {
        // si_timerid, si_overrun, si_value (Linux `_timer`).
        b[16..20].copy_from_slice(&info.pid.to_le_bytes());
        b[20..24].copy_from_slice(&info.uid.to_le_bytes());
        b[24..32].copy_from_slice(&info.addr.to_le_bytes());
    } else if sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE {
        b[16..24].copy_from_slice(&info.addr.to_le_bytes());
    } else {
        // si_pid, si_uid, and si_status (an exit notification, whatever the signal).
        b[16..20].copy_from_slice(&info.pid.to_le_bytes());
        b[20..24].copy_from_slice(&info.uid.to_le_bytes());
        b[24..28].copy_from_slice(&info.status.to_le_bytes());
    }
    b
}

/// The signal to deliver next from `pending` and not `blocked`: the lowest.
pub fn next_signal(pending: u64, blocked: u64) -> Option<u32> {
    let ready = pending & !(blocked & !UNBLOCKABLE);
    (ready != 0).then(|| ready.trailing_zeros() + 1)
}

/// Linux `complete_signal`'s search over a thread group, `tids` in list
/// order: the index of the first thread at or after `curr_target` (wrapping
/// round) that `wants` the signal — so the thread chosen last is asked first.
pub fn next_target(tids: &[u32], curr_target: u32, wants: impl Fn(usize) -> bool) -> Option<usize> {
    let n = tids.len();
    let start = tids.iter().position(|&t| t >= curr_target).unwrap_or(0);
    (0..n).map(|i| (start + i) % n).find(|&i| wants(i))
}

/// Linux `retarget_shared_pending`'s search: the process's signals in
/// `retarget`, which thread `me` no longer takes (it blocks them now, or it
/// exits), go to the threads after it in list order (wrapping round, `me`
/// last): a thread that does not block one of those left is woken (its index
/// is returned), and what it does not block is no longer looked for.
/// `blocked(i)`: thread `i`'s mask, or None for one that takes no signals
/// (exiting). Stops once nothing is left.
pub fn retarget_targets(
    tids: &[u32],
    me: u32,
    mut retarget: u64,
    blocked: impl Fn(usize) -> Option<u64>,
) -> alloc::vec::Vec<usize> {
    let mut woken = alloc::vec::Vec::new();
    let n = tids.len();
    let start = tids.iter().position(|&t| t > me).unwrap_or(0);
    for i in (0..n).map(|k| (start + k) % n) {
        if retarget == 0 {
            break;
        }
        if tids[i] == me {
            continue;
        }
        let Some(b) = blocked(i) else { continue };
        if next_signal(retarget, b).is_none() {
            continue;
        }
        retarget &= b & !UNBLOCKABLE;
        woken.push(i);
    }
    woken
}

/// Whether `sig`, about to be taken with its action (`default`: SIG_DFL),
/// kills the whole process at once (Linux `sig_fatal` in `complete_signal`):
/// SIGKILL, or a default action that terminates. Core-dumping signals are
/// left to the thread that takes them.
pub fn kills_group_at_once(sig: u32, default: bool) -> bool {
    sig == SIGKILL || (default && default_action(sig) == DefaultAction::Terminate)
}

#[cfg(target_os = "none")]
mod kernel_signal;
#[cfg(target_os = "none")]
pub use kernel_signal::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_signal_lowest_unblocked_and_kill_unblockable() {
        assert_eq!(next_signal(0, 0), None);
        assert_eq!(next_signal(sigmask(SIGUSR1) | sigmask(SIGTERM), 0), Some(SIGUSR1));
        assert_eq!(
            next_signal(sigmask(SIGUSR1) | sigmask(SIGTERM), sigmask(SIGUSR1)),
            Some(SIGTERM)
        );
        assert_eq!(next_signal(sigmask(SIGKILL), u64::MAX), Some(SIGKILL));
        let b = siginfo_bytes(
            SIGCHLD,
            &SigInfo { code: CLD_EXITED, pid: 7, uid: 3, status: 5, ..Default::default() },
        );
        assert_eq!((b[0], b[8], b[16], b[20], b[24]), (17, 1, 7, 3, 5));
    }

    #[test]
    fn process_directed_signal_goes_to_the_next_thread_that_wants_it() {
        let tids = [10, 12, 15];
        // The leader (curr_target 0) first, then on in tid order.
        assert_eq!(next_target(&tids, 0, |_| true), Some(0));
        assert_eq!(next_target(&tids, 0, |i| i == 2), Some(2));
        // From the thread chosen last, wrapping round.
        assert_eq!(next_target(&tids, 12, |i| i != 1), Some(2));
        assert_eq!(next_target(&tids, 15, |i| i == 0), Some(0));
        // That thread exited: the next one on.
        assert_eq!(next_target(&tids, 13, |_| true), Some(2));
        assert_eq!(next_target(&tids, 16, |_| true), Some(0));
        assert_eq!(next_target(&tids, 0, |_| false), None);
        assert_eq!(next_target(&[], 0, |_| true), None);
    }

    #[test]
    fn retargeted_signals_wake_the_threads_after_me_that_take_them() {
        let tids = [10, 12, 15, 20];
        let (u1, u2) = (sigmask(SIGUSR1), sigmask(SIGUSR2));
        // Thread 12 blocks USR1 now: the next thread on that does not block it (15).
        assert_eq!(retarget_targets(&tids, 12, u1, |_| Some(0)), [2]);
        // 15 blocks it, 20 exits: round to the leader.
        let b = |i: usize| match i {
            2 => Some(u1),
            3 => None,
            _ => Some(0),
        };
        assert_eq!(retarget_targets(&tids, 12, u1, b), [0]);
        // Two signals: 15 takes USR2 only, 20 USR1 as well; nobody after that.
        let b = |i: usize| Some(if i == 2 { u1 } else { 0 });
        assert_eq!(retarget_targets(&tids, 12, u1 | u2, b), [2, 3]);
        // Every other thread blocks them: nobody; never `me` itself.
        assert_eq!(retarget_targets(&tids, 20, u1, |i| Some(if i == 3 { 0 } else { u1 })), []);
        assert_eq!(retarget_targets(&tids, 12, 0, |_| Some(0)), []);
        assert_eq!(retarget_targets(&[12], 12, u1, |_| Some(0)), []);
        // SIGKILL cannot be blocked.
        assert_eq!(retarget_targets(&tids, 10, sigmask(SIGKILL), |_| Some(u64::MAX)), [1]);
    }

    #[test]
    fn which_signals_kill_the_group_at_once() {
        assert!(kills_group_at_once(SIGKILL, false));
        assert!(kills_group_at_once(SIGTERM, true));
        assert!(!kills_group_at_once(SIGTERM, false), "a handler");
        assert!(!kills_group_at_once(SIGSEGV, true), "a core dump: the taker's do_group_exit");
        assert!(!kills_group_at_once(SIGCHLD, true));
        assert!(!kills_group_at_once(SIGSTOP, true));
        assert!(!kills_group_at_once(SIGCONT, true));
    }

    #[test]
    fn defaults_and_wait_status() {
        assert_eq!(default_action(SIGSEGV), DefaultAction::CoreDump);
        assert_eq!(default_action(SIGCHLD), DefaultAction::Ignore);
        assert_eq!(default_action(SIGTERM), DefaultAction::Terminate);
        assert_eq!(death_reason(SIGKILL).wait_status(), 9);
        assert_eq!(ExitReason::Exited(3).wait_status(), 3 << 8);
        assert_eq!(ExitReason::Killed { signal: 6, core: true }.wait_status(), 0x86);
        assert_eq!(death_reason(SIGSYS).shell_status(), 128 + 31);
    }

    #[test]
    fn siginfos_keep_what_each_pending_signal_carries() {
        let info = |pid| SigInfo { code: SI_USER, pid, ..Default::default() };
        let mut s = SigInfos::new();
        assert_eq!(s.take(SIGUSR1), SigInfo::default(), "nothing recorded");
        s.set(SIGUSR1, info(7));
        s.set(SIGUSR2, info(8));
        s.set(SIGUSR1, info(9));
        assert_eq!(s.0.len(), 2, "one entry a signal");
        // Interrupt context: the room there is, never more; the entries of
        // signals no longer pending give theirs.
        let both = sigmask(SIGUSR1) | sigmask(SIGUSR2);
        s.set_without_allocating(SIGALRM, info(10), both);
        assert!(!s.0.spilled(), "no allocation");
        assert_eq!(s.take(SIGALRM), SigInfo::default(), "no room: lost");
        s.set_without_allocating(SIGUSR2, info(11), both);
        s.set_without_allocating(SIGALRM, info(13), sigmask(SIGUSR2));
        assert_eq!(s.take(SIGALRM), info(13), "SIGUSR1's stale entry made room");
        assert_eq!((s.take(SIGUSR1), s.take(SIGUSR2)), (SigInfo::default(), info(11)));
        assert_eq!(s.take(SIGUSR2), SigInfo::default(), "taken once");
        s.set_without_allocating(SIGALRM, info(12), 0);
        assert_eq!(s.take(SIGALRM), info(12));
        // Process context may spill to the heap.
        for sig in 1..=10 {
            s.set(sig, info(sig));
        }
        assert!((1..=10).all(|sig| s.take(sig) == info(sig)));
    }
}
