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

    /// `getrusage`: the calling process (all its threads, live and exited).
    RUSAGE_SELF: i32 = 0;
    /// `getrusage`: the calling process's children that it has waited for.
    RUSAGE_CHILDREN: i32 = -1;
    /// `getrusage`: the calling thread.
    RUSAGE_THREAD: i32 = 1;
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

/// `struct rusage` (`getrusage`, `wait4`): the times, then fourteen `long`s
/// of which Linux fills `ru_maxrss` (KiB), `ru_minflt`, `ru_majflt`,
/// `ru_inblock`, `ru_oublock`, `ru_nvcsw` and `ru_nivcsw`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct rusage {
    /// User CPU time.
    pub ru_utime: crate::time::timeval,
    /// System CPU time.
    pub ru_stime: crate::time::timeval,
    /// Maximum resident set size, KiB.
    pub ru_maxrss: i64,
    /// Unused (0).
    pub ru_ixrss: i64,
    /// Unused (0).
    pub ru_idrss: i64,
    /// Unused (0).
    pub ru_isrss: i64,
    /// Page faults resolved without I/O.
    pub ru_minflt: i64,
    /// Page faults that needed I/O.
    pub ru_majflt: i64,
    /// Unused (0).
    pub ru_nswap: i64,
    /// Blocks read.
    pub ru_inblock: i64,
    /// Blocks written.
    pub ru_oublock: i64,
    /// Unused (0).
    pub ru_msgsnd: i64,
    /// Unused (0).
    pub ru_msgrcv: i64,
    /// Unused (0).
    pub ru_nsignals: i64,
    /// Voluntary context switches.
    pub ru_nvcsw: i64,
    /// Involuntary context switches.
    pub ru_nivcsw: i64,
}

const _: () = assert!(core::mem::size_of::<rusage>() == 144);
