//! Copies between the kernel and user memory that turn every bad user pointer
//! into `EFAULT`: the range is checked against the user half, and a page fault
//! inside the copy is resolved (demand paging) or ends the copy (see traps.rs).

use crate::errno::{Errno, EFAULT};

/// First address above user space (Linux: TASK_SIZE_MAX, one guard page below
/// the canonical hole).
pub const USER_TOP: u64 = uapi::mman::TASK_SIZE_MAX;

/// Whether `[addr, addr + len)` lies in user space.
pub fn user_range_ok(addr: u64, len: usize) -> bool {
    addr.checked_add(len as u64).is_some_and(|end| end <= USER_TOP)
}

pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Errno> {
    if dst.is_empty() {
        return Ok(());
    }
    if !user_range_ok(src, dst.len()) {
        return Err(EFAULT);
    }
    // SAFETY: `dst` is a valid kernel buffer of its length; `src` is a checked user
    // range, whose faults the trap handler resolves or turns into a return of 1.
    match unsafe { super::entry::copy_user_asm(dst.as_mut_ptr(), src as *const u8, dst.len()) } {
        0 => Ok(()),
        _ => Err(EFAULT),
    }
}

pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Errno> {
    if src.is_empty() {
        return Ok(());
    }
    if !user_range_ok(dst, src.len()) {
        return Err(EFAULT);
    }
    // SAFETY: as for `copy_from_user`, with the roles swapped.
    match unsafe { super::entry::copy_user_asm(dst as *mut u8, src.as_ptr(), src.len()) } {
        0 => Ok(()),
        _ => Err(EFAULT),
    }
}
