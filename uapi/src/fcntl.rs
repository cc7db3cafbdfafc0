//! `open` flags, `*at` flags and `fcntl` commands
//! (`include/uapi/asm-generic/fcntl.h`, `linux/fcntl.h`); x86-64 uses the
//! generic values.

crate::constants! {
    /// The mask of the access mode.
    O_ACCMODE: u32 = 0o3;
    /// Open for reading.
    O_RDONLY: u32 = 0o0;
    /// Open for writing.
    O_WRONLY: u32 = 0o1;
    /// Open for reading and writing.
    O_RDWR: u32 = 0o2;
    /// Create the file if it does not exist.
    O_CREAT: u32 = 0o100;
    /// With `O_CREAT`: fail if it exists.
    O_EXCL: u32 = 0o200;
    /// Do not make a terminal the controlling terminal.
    O_NOCTTY: u32 = 0o400;
    /// Truncate to length 0.
    O_TRUNC: u32 = 0o1000;
    /// Every write appends.
    O_APPEND: u32 = 0o2000;
    /// Non-blocking I/O.
    O_NONBLOCK: u32 = 0o4000;
    /// Synchronous data writes.
    O_DSYNC: u32 = 0o10000;
    /// Signal-driven I/O.
    FASYNC: u32 = 0o20000;
    /// Bypass the page cache.
    O_DIRECT: u32 = 0o40000;
    /// Allow files larger than 2 GiB (always on for 64-bit).
    O_LARGEFILE: u32 = 0o100000;
    /// Fail unless the path is a directory.
    O_DIRECTORY: u32 = 0o200000;
    /// Do not follow a final symbolic link.
    O_NOFOLLOW: u32 = 0o400000;
    /// Do not update the access time.
    O_NOATIME: u32 = 0o1000000;
    /// Close on exec.
    O_CLOEXEC: u32 = 0o2000000;
    /// Synchronous writes (data and metadata).
    O_SYNC: u32 = 0o4010000;
    /// A handle on the path only.
    O_PATH: u32 = 0o10000000;
    /// An unnamed temporary file in the directory.
    O_TMPFILE: u32 = 0o20200000;

    /// The `dirfd` meaning "the working directory".
    AT_FDCWD: i32 = -100;
    /// Do not follow a final symbolic link.
    AT_SYMLINK_NOFOLLOW: u32 = 0x100;
    /// `faccessat`: check with the effective ids.
    AT_EACCESS: u32 = 0x200;
    /// `unlinkat`: remove a directory.
    AT_REMOVEDIR: u32 = 0x200;
    /// `linkat`: follow a final symbolic link.
    AT_SYMLINK_FOLLOW: u32 = 0x400;
    /// Do not automount.
    AT_NO_AUTOMOUNT: u32 = 0x800;
    /// An empty path means `dirfd` itself.
    AT_EMPTY_PATH: u32 = 0x1000;

    /// Duplicate to the lowest free fd at or above the argument.
    F_DUPFD: u32 = 0;
    /// Get the fd flags (`FD_CLOEXEC`).
    F_GETFD: u32 = 1;
    /// Set the fd flags.
    F_SETFD: u32 = 2;
    /// Get the file status flags.
    F_GETFL: u32 = 3;
    /// Set the file status flags (`O_APPEND`, `O_NONBLOCK`, ...).
    F_SETFL: u32 = 4;
    /// `F_DUPFD` with close-on-exec (`F_LINUX_SPECIFIC_BASE + 6`).
    F_DUPFD_CLOEXEC: u32 = 1030;
    /// The fd flag: close on exec.
    FD_CLOEXEC: u32 = 1;
}
