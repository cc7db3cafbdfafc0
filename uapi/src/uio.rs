//! `struct iovec` and the longest vector `readv`/`writev` take
//! (`include/uapi/linux/uio.h`).

crate::constants! {
    /// The most entries a vector may have.
    UIO_MAXIOV: u32 = 1024;
}

/// `struct iovec`: a buffer of `readv`/`writev`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct iovec {
    /// The buffer's address.
    pub iov_base: usize,
    /// Its length.
    pub iov_len: usize,
}

const _: () = assert!(core::mem::size_of::<iovec>() == 16);
