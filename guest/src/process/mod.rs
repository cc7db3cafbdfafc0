//! Processes, named after Linux's `kernel/` files.
pub mod cgroup;
pub mod clone_flags;
#[cfg(target_os = "none")]
pub mod exit;
#[cfg(target_os = "none")]
pub mod fork;
#[cfg(target_os = "none")]
pub mod futex;
pub mod itimer;
pub mod jobctl;
pub mod ns_common;
pub mod nsproxy;
#[cfg(target_os = "none")]
pub mod oom_kill;
pub mod pid;
pub mod pid_namespace;
#[cfg(target_os = "none")]
pub mod pidfd;
pub mod posix_timers;
pub mod ptrace;
pub mod rlimit;
pub mod rusage;
pub mod sighand;
pub mod signal;
#[cfg(target_os = "none")]
pub mod table;
#[cfg(target_os = "none")]
pub mod task;
pub mod user_namespace;
pub mod utsname;
#[cfg(target_os = "none")]
pub mod wait;

#[cfg(target_os = "none")]
pub use task::{
    cond_resched, current, current_or_idle, wait_event, wait_event_any, wait_event_killable,
    PosixThread, Task,
};

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    Exited(u8),
    Killed { signal: u32, core: bool },
}

impl ExitReason {
    /// Linux's wait status encoding.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitReason::Exited(code) => (code as i32) << 8,
            ExitReason::Killed { signal, core } => signal as i32 | if core { 0x80 } else { 0 },
        }
    }

    /// A shell's (and the VMM's) exit code: the status, or 128 + signal.
    pub fn shell_status(self) -> u8 {
        match self {
            ExitReason::Exited(code) => code,
            ExitReason::Killed { signal, .. } => 128u8.wrapping_add(signal as u8),
        }
    }
}
