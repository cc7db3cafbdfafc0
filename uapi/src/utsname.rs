//! `struct new_utsname`, what `uname` writes (`include/uapi/linux/utsname.h`).

crate::constants! {
    /// The longest field, without its NUL.
    __NEW_UTS_LEN: usize = 64;
}

/// `struct new_utsname`: six NUL-terminated fields of `__NEW_UTS_LEN + 1` bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types, missing_docs)]
pub struct new_utsname {
    pub sysname: [u8; __NEW_UTS_LEN + 1],
    pub nodename: [u8; __NEW_UTS_LEN + 1],
    pub release: [u8; __NEW_UTS_LEN + 1],
    pub version: [u8; __NEW_UTS_LEN + 1],
    pub machine: [u8; __NEW_UTS_LEN + 1],
    pub domainname: [u8; __NEW_UTS_LEN + 1],
}

impl Default for new_utsname {
    fn default() -> Self {
        let field = [0; __NEW_UTS_LEN + 1];
        new_utsname {
            sysname: field,
            nodename: field,
            release: field,
            version: field,
            machine: field,
            domainname: field,
        }
    }
}

const _: () = assert!(core::mem::size_of::<new_utsname>() == 390);
