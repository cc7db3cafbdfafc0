//! File types and permission bits (`include/uapi/linux/stat.h`) and x86-64's
//! `struct stat` (`arch/x86/include/uapi/asm/stat.h`).

crate::constants! {
    /// The mask of the file type.
    S_IFMT: u32 = 0o170000;
    /// Socket.
    S_IFSOCK: u32 = 0o140000;
    /// Symbolic link.
    S_IFLNK: u32 = 0o120000;
    /// Regular file.
    S_IFREG: u32 = 0o100000;
    /// Block device.
    S_IFBLK: u32 = 0o060000;
    /// Directory.
    S_IFDIR: u32 = 0o040000;
    /// Character device.
    S_IFCHR: u32 = 0o020000;
    /// FIFO (pipe).
    S_IFIFO: u32 = 0o010000;
    /// Set user id on execution.
    S_ISUID: u32 = 0o4000;
    /// Set group id on execution.
    S_ISGID: u32 = 0o2000;
    /// Sticky (restricted deletion in a directory).
    S_ISVTX: u32 = 0o1000;
    /// Owner: read, write, execute.
    S_IRWXU: u32 = 0o0700;
    /// Owner: read.
    S_IRUSR: u32 = 0o0400;
    /// Owner: write.
    S_IWUSR: u32 = 0o0200;
    /// Owner: execute.
    S_IXUSR: u32 = 0o0100;
    /// Group: read, write, execute.
    S_IRWXG: u32 = 0o0070;
    /// Group: read.
    S_IRGRP: u32 = 0o0040;
    /// Group: write.
    S_IWGRP: u32 = 0o0020;
    /// Group: execute.
    S_IXGRP: u32 = 0o0010;
    /// Others: read, write, execute.
    S_IRWXO: u32 = 0o0007;
    /// Others: read.
    S_IROTH: u32 = 0o0004;
    /// Others: write.
    S_IWOTH: u32 = 0o0002;
    /// Others: execute.
    S_IXOTH: u32 = 0o0001;
}

/// x86-64 `struct stat` (144 bytes), what `stat`, `fstat`, `lstat` and
/// `newfstatat` write.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types, missing_docs)]
pub struct stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub __pad0: u32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    pub __unused: [i64; 3],
}

impl stat {
    /// `S_ISREG(st_mode)`.
    pub const fn is_reg(&self) -> bool {
        self.st_mode & S_IFMT == S_IFREG
    }
    /// `S_ISDIR(st_mode)`.
    pub const fn is_dir(&self) -> bool {
        self.st_mode & S_IFMT == S_IFDIR
    }
    /// `S_ISFIFO(st_mode)`.
    pub const fn is_fifo(&self) -> bool {
        self.st_mode & S_IFMT == S_IFIFO
    }
    /// `S_ISCHR(st_mode)`.
    pub const fn is_chr(&self) -> bool {
        self.st_mode & S_IFMT == S_IFCHR
    }
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<stat>() == 144);
    assert!(offset_of!(stat, st_mode) == 24);
    assert!(offset_of!(stat, st_rdev) == 40);
    assert!(offset_of!(stat, st_atime) == 72);
};
