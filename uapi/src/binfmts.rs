//! Limits of `execve`'s arguments (`include/uapi/linux/binfmts.h`).

crate::constants! {
    /// The longest argument or environment string, with its NUL
    /// (`PAGE_SIZE * 32`).
    MAX_ARG_STRLEN: usize = 4096 * 32;
    /// The most arguments (and environment strings).
    MAX_ARG_STRINGS: usize = 0x7fff_ffff;
}
