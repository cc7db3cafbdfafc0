//! `mount`/`umount2` flags (`include/uapi/linux/mount.h`, `include/linux/fs.h`).

crate::constants! {
    /// Mount read-only.
    MS_RDONLY: u64 = 1;
    /// Ignore set-user-ID and set-group-ID bits.
    MS_NOSUID: u64 = 2;
    /// Do not interpret device files.
    MS_NODEV: u64 = 4;
    /// Do not execute programs.
    MS_NOEXEC: u64 = 8;
    /// Writes are synchronous.
    MS_SYNCHRONOUS: u64 = 16;
    /// Change the flags of an existing mount.
    MS_REMOUNT: u64 = 32;
    /// Allow mandatory locks.
    MS_MANDLOCK: u64 = 64;
    /// Directory changes are synchronous.
    MS_DIRSYNC: u64 = 128;
    /// Do not follow symbolic links.
    MS_NOSYMFOLLOW: u64 = 256;
    /// Do not update access times.
    MS_NOATIME: u64 = 1024;
    /// Do not update directory access times.
    MS_NODIRATIME: u64 = 2048;
    /// Bind mount.
    MS_BIND: u64 = 4096;
    /// Move a mount.
    MS_MOVE: u64 = 8192;
    /// Recursive (with MS_BIND or a propagation flag).
    MS_REC: u64 = 16384;
    /// Suppress some kernel messages.
    MS_SILENT: u64 = 32768;
    /// Unbindable propagation.
    MS_UNBINDABLE: u64 = 1 << 17;
    /// Private propagation.
    MS_PRIVATE: u64 = 1 << 18;
    /// Slave propagation.
    MS_SLAVE: u64 = 1 << 19;
    /// Shared propagation.
    MS_SHARED: u64 = 1 << 20;
    /// Access times relative to mtime/ctime.
    MS_RELATIME: u64 = 1 << 21;
    /// Always update access times.
    MS_STRICTATIME: u64 = 1 << 24;
    /// Lazy time updates.
    MS_LAZYTIME: u64 = 1 << 25;
    /// The old magic number in the high half of the flags (ignored).
    MS_MGC_VAL: u64 = 0xc0ed_0000;
    /// The bits `MS_MGC_VAL` occupies.
    MS_MGC_MSK: u64 = 0xffff_0000;
    /// `umount2`: force the unmount.
    MNT_FORCE: u32 = 1;
    /// `umount2`: detach now, clean up when no longer busy.
    MNT_DETACH: u32 = 2;
    /// `umount2`: mark for expiry.
    MNT_EXPIRE: u32 = 4;
    /// `umount2`: do not follow a symbolic link as the target.
    UMOUNT_NOFOLLOW: u32 = 8;
}
