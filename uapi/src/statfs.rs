//! `statfs`/`fstatfs`: x86-64's `struct statfs` (`include/uapi/asm-generic/statfs.h`
//! as x86-64 lays it out), the `f_flags` bits (`include/linux/statfs.h`) and the
//! file-system magic numbers reported in `f_type` (`include/uapi/linux/magic.h`).

crate::constants! {
    /// `f_flags`: mounted read-only.
    ST_RDONLY: u64 = 0x0001;
    /// `f_flags`: set-user-ID and set-group-ID bits ignored.
    ST_NOSUID: u64 = 0x0002;
    /// `f_flags`: device files not interpreted.
    ST_NODEV: u64 = 0x0004;
    /// `f_flags`: programs not executed.
    ST_NOEXEC: u64 = 0x0008;
    /// `f_flags`: writes are synchronous.
    ST_SYNCHRONOUS: u64 = 0x0010;
    /// `f_flags`: the flags are valid (always set by Linux's `statfs`).
    ST_VALID: u64 = 0x0020;
    /// `f_flags`: access times not updated.
    ST_NOATIME: u64 = 0x0400;
    /// `f_flags`: access times relative to mtime/ctime.
    ST_RELATIME: u64 = 0x1000;
    /// `f_type` of tmpfs (and of Linux's initramfs `rootfs` when it is tmpfs).
    TMPFS_MAGIC: u64 = 0x0102_1994;
    /// `f_type` of ramfs.
    RAMFS_MAGIC: u64 = 0x8584_58f6;
    /// `f_type` of the proc file system.
    PROC_SUPER_MAGIC: u64 = 0x9fa0;
    /// `f_type` of the pipe file system.
    PIPEFS_MAGIC: u64 = 0x5049_5045;
    /// `f_type` of the cgroup v2 file system.
    CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;
}

/// x86-64 `struct statfs` (120 bytes): every field a 64-bit word but `f_fsid`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct statfs {
    /// The file system's magic number (`TMPFS_MAGIC`, ...).
    pub f_type: i64,
    /// The optimal transfer block size.
    pub f_bsize: i64,
    /// Data blocks in all (`f_frsize` units).
    pub f_blocks: u64,
    /// Free blocks.
    pub f_bfree: u64,
    /// Free blocks an unprivileged user may use.
    pub f_bavail: u64,
    /// Inodes in all.
    pub f_files: u64,
    /// Free inodes.
    pub f_ffree: u64,
    /// The file system's id.
    pub f_fsid: [i32; 2],
    /// The longest file name.
    pub f_namelen: i64,
    /// The fragment size (the unit of the block counts).
    pub f_frsize: i64,
    /// `ST_*` mount flags.
    pub f_flags: i64,
    /// Padding.
    pub f_spare: [i64; 4],
}

const _: () = assert!(core::mem::size_of::<statfs>() == 120);
