//! Terminal `ioctl` requests (`include/uapi/asm-generic/ioctls.h`) and
//! `struct winsize` (`asm-generic/termios.h`).

crate::constants! {
    /// Get the terminal attributes (`struct termios`).
    TCGETS: u32 = 0x5401;
    /// Set the terminal attributes.
    TCSETS: u32 = 0x5402;
    /// Get the window size (`struct winsize`).
    TIOCGWINSZ: u32 = 0x5413;
    /// Set the window size.
    TIOCSWINSZ: u32 = 0x5414;
    /// The bytes ready to read.
    FIONREAD: u32 = 0x541b;
}

/// `struct winsize`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types, missing_docs)]
pub struct winsize {
    pub ws_row: u16,
    pub ws_col: u16,
    pub ws_xpixel: u16,
    pub ws_ypixel: u16,
}

const _: () = assert!(core::mem::size_of::<winsize>() == 8);
