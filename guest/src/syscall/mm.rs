//! brk and the mmap family.

use super::{Args, SysResult};
use crate::errno::{EINVAL, ENOMEM};
use crate::process::current;
use crate::process::signal::fatal_signal_pending;
use uapi::mman::{MAP_ANONYMOUS, MAP_POPULATE};

fn mm() -> Result<alloc::sync::Arc<crate::mm::address_space::Mm>, crate::errno::Errno> {
    current().and_then(|t| t.mm()).ok_or(ENOMEM)
}

pub fn brk(a: &Args) -> SysResult {
    Ok(mm()?.brk(a.u(0)))
}

pub fn mmap(a: &Args) -> SysResult {
    let (flags, offset) = (a.u32(3), a.u(5));
    // Linux's x86-64 `sys_mmap` checks the offset first, `ksys_mmap_pgoff`
    // the descriptor next.
    if !offset.is_multiple_of(crate::mm::frame::PAGE_SIZE) {
        return Err(EINVAL);
    }
    let file =
        if flags & MAP_ANONYMOUS == 0 { Some(super::fs::mmap_file(a.i32(4))?) } else { None };
    let mm = mm()?;
    let start = mm.mmap(a.u(0), a.u(1), a.u32(2), flags, file, offset)?;
    if a.u32(3) & MAP_POPULATE != 0 {
        let task = current().ok_or(ENOMEM)?;
        mm.mm_populate(start, a.u(1), || fatal_signal_pending(&task));
    }
    Ok(start)
}

pub fn munmap(a: &Args) -> SysResult {
    mm()?.munmap(a.u(0), a.u(1)).map(|_| 0)
}

pub fn mprotect(a: &Args) -> SysResult {
    mm()?.mprotect(a.u(0), a.u(1), a.u32(2)).map(|_| 0)
}

pub fn msync(a: &Args) -> SysResult {
    mm()?.msync(a.u(0), a.u(1), a.u32(2)).map(|_| 0)
}
