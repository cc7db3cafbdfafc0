//! `d_type` values of a `struct linux_dirent64` record (`getdents64`), Linux's
//! `DT_*` (`include/linux/fs_types.h`: the file type bits of `st_mode` >> 12).

crate::constants! {
    /// Unknown type.
    DT_UNKNOWN: u8 = 0;
    /// FIFO.
    DT_FIFO: u8 = 1;
    /// Character device.
    DT_CHR: u8 = 2;
    /// Directory.
    DT_DIR: u8 = 4;
    /// Block device.
    DT_BLK: u8 = 6;
    /// Regular file.
    DT_REG: u8 = 8;
    /// Symbolic link.
    DT_LNK: u8 = 10;
    /// Socket.
    DT_SOCK: u8 = 12;
    /// Whiteout.
    DT_WHT: u8 = 14;
}

/// `struct linux_dirent64`, one record of a `getdents64` buffer: the name
/// (NUL-terminated) starts at `offset_of!(linux_dirent64, d_name)` (19) and
/// the record is `d_reclen` bytes long (8-byte aligned).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct linux_dirent64 {
    /// The inode number.
    pub d_ino: u64,
    /// The offset to seek to for the next record.
    pub d_off: i64,
    /// The length of this record.
    pub d_reclen: u16,
    /// The file type (`DT_*`).
    pub d_type: u8,
    /// The name (`char d_name[]`).
    pub d_name: [u8; 0],
}

const _: () = assert!(core::mem::offset_of!(linux_dirent64, d_name) == 19);
