//! brk and the mmap family.

use super::{Args, SysResult};
use crate::errno::ENOMEM;
use crate::process::current;
use crate::process::signal::fatal_signal_pending;
use uapi::mman::MAP_POPULATE;

fn mm() -> Result<alloc::sync::Arc<crate::mm::address_space::Mm>, crate::errno::Errno> {
    current().and_then(|t| t.mm()).ok_or(ENOMEM)
}

pub fn brk(a: &Args) -> SysResult {
    Ok(mm()?.brk(a.u(0)))
}

pub fn mmap(a: &Args) -> SysResult {
    let mm = mm()?;
    let start = mm.mmap(a.u(0), a.u(1), a.u32(2), a.u32(3), a.i32(4), a.u(5))?;
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
