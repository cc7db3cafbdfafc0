//! Linux's errno values ([`uapi::errno`]). System calls return `-errno`;
//! kernel functions return `Result<T, Errno>`.

pub use uapi::errno::*;
