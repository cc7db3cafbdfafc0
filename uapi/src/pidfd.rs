//! pidfd flags (`include/uapi/linux/pidfd.h`) and pidfs's magic number
//! (`include/uapi/linux/magic.h`).

crate::constants! {
    /// `pidfd_open`: a non-blocking pidfd (`waitid` on it is EAGAIN while the
    /// process runs); `O_NONBLOCK`'s value.
    PIDFD_NONBLOCK: u32 = 0o4000;
    /// `pidfd_open`: a pidfd of one thread rather than of a process
    /// (Linux 6.9); `O_EXCL`'s value.
    PIDFD_THREAD: u32 = 0o200;
    /// `pidfd_send_signal`: to the thread the pidfd names.
    PIDFD_SIGNAL_THREAD: u32 = 1 << 0;
    /// `pidfd_send_signal`: to the process of the pidfd's task.
    PIDFD_SIGNAL_THREAD_GROUP: u32 = 1 << 1;
    /// `pidfd_send_signal`: to the process group the pidfd's pid leads.
    PIDFD_SIGNAL_PROCESS_GROUP: u32 = 1 << 2;
    /// `f_type` of pidfs, the file system of pidfds.
    PID_FS_MAGIC: u64 = 0x5049_4446;
}
