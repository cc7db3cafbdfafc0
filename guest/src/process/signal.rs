//! Signals: numbers, default actions, and (for now) delivery of fatal ones.
//! Handlers, masks and `rt_sigaction` come with the process-creation issue.

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

#[cfg(target_os = "none")]
mod kernel_signal {
    use super::*;
    use crate::process::task::SIG_IGN;
    use crate::process::Task;
    use alloc::sync::Arc;
    use core::sync::atomic::Ordering;

    /// Deliver a signal the task cannot ignore or handle (a fault, SIGSYS): it
    /// dies on its way back to user mode; a sleeping task is woken for that.
    pub fn force_sig(task: &Arc<Task>, sig: u8) {
        task.fatal_signal.store(sig as u32, Ordering::Relaxed);
        crate::sched::wake_up(task);
    }

    /// Send `sig` to `task` (kill, tgkill, exit signals). Ignored signals are
    /// dropped; otherwise the default action applies (user handlers are not
    /// delivered yet: `rt_sigaction` refuses to install one). Stop and continue
    /// are not implemented and ignored.
    pub fn send_signal(task: &Arc<Task>, sig: u8) {
        if sig == 0 || sig > NSIG {
            return;
        }
        let ignored = sig != SIGKILL && task.sighand().action(sig).handler == SIG_IGN;
        if ignored {
            return;
        }
        match default_action(sig) {
            DefaultAction::Terminate | DefaultAction::CoreDump => force_sig(task, sig),
            DefaultAction::Ignore | DefaultAction::Stop | DefaultAction::Continue => {}
        }
    }
}

#[cfg(target_os = "none")]
pub use kernel_signal::{force_sig, send_signal};

#[cfg(test)]
mod tests {
    use super::*;

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
