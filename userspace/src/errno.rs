//! Linux errno values ([`uapi::errno`]) and the conversion of a raw
//! system-call result.

pub use uapi::errno::*;

/// Converts a raw system-call result: `-4095..=-1` is an error.
pub fn result(ret: isize) -> Result<usize, Errno> {
    match Errno::from_ret(ret) {
        Some(e) => Err(e),
        None => Ok(ret as usize),
    }
}
