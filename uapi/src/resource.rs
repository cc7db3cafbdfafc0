//! Resource limits (`include/uapi/asm-generic/resource.h`) and `getpriority`
//! targets (`linux/resource.h`).

crate::constants! {
    /// CPU time in seconds.
    RLIMIT_CPU: u32 = 0;
    /// The largest file size.
    RLIMIT_FSIZE: u32 = 1;
    /// The data segment size.
    RLIMIT_DATA: u32 = 2;
    /// The stack size.
    RLIMIT_STACK: u32 = 3;
    /// The core file size.
    RLIMIT_CORE: u32 = 4;
    /// The resident set size.
    RLIMIT_RSS: u32 = 5;
    /// Processes per real user id.
    RLIMIT_NPROC: u32 = 6;
    /// Open files (one more than the highest fd).
    RLIMIT_NOFILE: u32 = 7;
    /// Locked memory.
    RLIMIT_MEMLOCK: u32 = 8;
    /// The address space size.
    RLIMIT_AS: u32 = 9;
    /// File locks.
    RLIMIT_LOCKS: u32 = 10;
    /// Pending signals.
    RLIMIT_SIGPENDING: u32 = 11;
    /// POSIX message queue bytes.
    RLIMIT_MSGQUEUE: u32 = 12;
    /// The ceiling of the nice value (as 20 - nice).
    RLIMIT_NICE: u32 = 13;
    /// The ceiling of the real-time priority.
    RLIMIT_RTPRIO: u32 = 14;
    /// Real-time CPU time without a blocking call, in microseconds.
    RLIMIT_RTTIME: u32 = 15;
    /// The number of limits.
    RLIM_NLIMITS: u32 = 16;
    /// No limit (`rlim_t` -1).
    RLIM_INFINITY: u64 = u64::MAX;

    /// `getpriority`/`setpriority`: a process (thread).
    PRIO_PROCESS: u32 = 0;
    /// `getpriority`/`setpriority`: a process group.
    PRIO_PGRP: u32 = 1;
    /// `getpriority`/`setpriority`: a user's processes.
    PRIO_USER: u32 = 2;
}

/// `struct rlimit` (and `struct rlimit64`, the same on x86-64).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct rlimit {
    /// The soft limit.
    pub rlim_cur: u64,
    /// The hard limit (the ceiling of the soft limit).
    pub rlim_max: u64,
}

const _: () = assert!(core::mem::size_of::<rlimit>() == 16);
