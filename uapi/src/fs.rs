//! `lseek` origins and `renameat2` flags (`include/uapi/linux/fs.h`).

crate::constants! {
    /// `lseek`: from the start of the file.
    SEEK_SET: u32 = 0;
    /// `lseek`: from the current position.
    SEEK_CUR: u32 = 1;
    /// `lseek`: from the end of the file.
    SEEK_END: u32 = 2;
    /// `lseek`: the next data at or after the offset.
    SEEK_DATA: u32 = 3;
    /// `lseek`: the next hole at or after the offset.
    SEEK_HOLE: u32 = 4;

    /// `renameat2`: fail (EEXIST) rather than replace the target.
    RENAME_NOREPLACE: u32 = 1 << 0;
    /// `renameat2`: exchange source and target.
    RENAME_EXCHANGE: u32 = 1 << 1;
    /// `renameat2`: leave a whiteout (overlay file systems).
    RENAME_WHITEOUT: u32 = 1 << 2;
}
