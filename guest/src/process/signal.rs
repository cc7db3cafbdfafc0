//! Signals: numbers, default actions, siginfo, and the choice of the next signal
//! to deliver (pure, host-tested); sending and delivery with Linux's x86-64
//! signal frame are in `kernel_signal.rs`.

use crate::process::ExitReason;

pub const SIGHUP: u8 = 1;
pub const SIGINT: u8 = 2;
pub const SIGQUIT: u8 = 3;
pub const SIGILL: u8 = 4;
pub const SIGTRAP: u8 = 5;
pub const SIGABRT: u8 = 6;
pub const SIGBUS: u8 = 7;
pub const SIGFPE: u8 = 8;
pub const SIGKILL: u8 = 9;
pub const SIGUSR1: u8 = 10;
pub const SIGSEGV: u8 = 11;
pub const SIGUSR2: u8 = 12;
pub const SIGPIPE: u8 = 13;
pub const SIGALRM: u8 = 14;
pub const SIGTERM: u8 = 15;
pub const SIGCHLD: u8 = 17;
pub const SIGCONT: u8 = 18;
pub const SIGSTOP: u8 = 19;
pub const SIGTSTP: u8 = 20;
pub const SIGTTIN: u8 = 21;
pub const SIGTTOU: u8 = 22;
pub const SIGURG: u8 = 23;
pub const SIGXCPU: u8 = 24;
pub const SIGXFSZ: u8 = 25;
pub const SIGWINCH: u8 = 28;
pub const SIGSYS: u8 = 31;
pub const NSIG: u8 = 64;

/// A signal's default action (Linux `sig_kernel_*` sets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    CoreDump,
    Ignore,
    Stop,
    Continue,
}

pub fn default_action(sig: u8) -> DefaultAction {
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
pub fn death_reason(sig: u8) -> ExitReason {
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

pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;

pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_SIGINFO: u64 = 4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const SS_AUTODISARM: u32 = 1 << 31;
pub const MINSIGSTKSZ: u64 = 2048;

/// Bit of signal `sig` in a mask.
pub const fn sigbit(sig: u8) -> u64 {
    1u64 << (sig - 1)
}

/// Signals that can be neither blocked nor caught.
pub const UNBLOCKABLE: u64 = sigbit(SIGKILL) | sigbit(SIGSTOP);

/// The `siginfo_t` bytes for `sig` (128 bytes, x86-64 layout).
pub fn siginfo_bytes(sig: u8, info: &SigInfo) -> [u8; 128] {
    let mut b = [0u8; 128];
    b[0..4].copy_from_slice(&(sig as i32).to_le_bytes());
    b[8..12].copy_from_slice(&info.code.to_le_bytes());
    if sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE {
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
pub fn next_signal(pending: u64, blocked: u64) -> Option<u8> {
    let ready = pending & !(blocked & !UNBLOCKABLE);
    (ready != 0).then(|| ready.trailing_zeros() as u8 + 1)
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
        assert_eq!(next_signal(sigbit(SIGUSR1) | sigbit(SIGTERM), 0), Some(SIGUSR1));
        assert_eq!(next_signal(sigbit(SIGUSR1) | sigbit(SIGTERM), sigbit(SIGUSR1)), Some(SIGTERM));
        assert_eq!(next_signal(sigbit(SIGKILL), u64::MAX), Some(SIGKILL));
        let b = siginfo_bytes(
            SIGCHLD,
            &SigInfo { code: CLD_EXITED, pid: 7, uid: 3, status: 5, ..Default::default() },
        );
        assert_eq!((b[0], b[8], b[16], b[20], b[24]), (17, 1, 7, 3, 5));
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
}
