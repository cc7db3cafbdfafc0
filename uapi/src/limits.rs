//! Limits of names, paths and pipes (`include/uapi/linux/limits.h`).

crate::constants! {
    /// The longest file name (a path component), without the NUL.
    NAME_MAX: usize = 255;
    /// The longest path, with its NUL.
    PATH_MAX: usize = 4096;
    /// Writes to a pipe up to this size are atomic.
    PIPE_BUF: usize = 4096;
    /// The user id shown for an id with no mapping in the reader's user
    /// namespace (`/proc/sys/kernel/overflowuid`'s default).
    OVERFLOWUID: u32 = 65534;
    /// The group id shown for an unmapped id (`overflowgid`'s default).
    OVERFLOWGID: u32 = 65534;
}
