//! Process identity and lifetime calls.

use core::sync::atomic::Ordering;

use super::{Args, SysResult};
use crate::errno::{EFAULT, EINVAL, EPERM, ESRCH};
use crate::process::signal::{send_signal, NSIG};
use crate::process::ExitReason;
use crate::sched::current;

fn task() -> alloc::sync::Arc<crate::process::Task> {
    current().expect("a system call without a task")
}

pub fn exit(a: &Args) -> SysResult {
    crate::process::exit::do_exit(ExitReason::Exited(a.u(0) as u8))
}

/// One thread per process for now, so exit_group is exit.
pub fn exit_group(a: &Args) -> SysResult {
    crate::process::exit::do_exit(ExitReason::Exited(a.u(0) as u8))
}

pub fn getpid() -> SysResult {
    Ok(task().tgid as u64)
}

pub fn getppid() -> SysResult {
    Ok(task().ppid.load(Ordering::Relaxed) as u64)
}

pub fn gettid() -> SysResult {
    Ok(task().pid as u64)
}

pub fn getuid() -> SysResult {
    Ok(task().creds().uid as u64)
}

pub fn geteuid() -> SysResult {
    Ok(task().creds().euid as u64)
}

pub fn getgid() -> SysResult {
    Ok(task().creds().gid as u64)
}

pub fn getegid() -> SysResult {
    Ok(task().creds().egid as u64)
}

/// `setuid` (Linux `__sys_setuid`): root sets all three ids; others only the
/// effective id, to the real or saved one.
pub fn setuid(a: &Args) -> SysResult {
    let uid = a.u32(0);
    if uid == u32::MAX {
        return Err(EINVAL);
    }
    let t = task();
    let mut c = t.creds.lock();
    if c.euid == 0 {
        (c.uid, c.euid, c.suid) = (uid, uid, uid);
    } else if uid == c.uid || uid == c.suid {
        c.euid = uid;
    } else {
        return Err(EPERM);
    }
    Ok(0)
}

pub fn setgid(a: &Args) -> SysResult {
    let gid = a.u32(0);
    if gid == u32::MAX {
        return Err(EINVAL);
    }
    let t = task();
    let mut c = t.creds.lock();
    if c.euid == 0 {
        (c.gid, c.egid, c.sgid) = (gid, gid, gid);
    } else if gid == c.gid || gid == c.sgid {
        c.egid = gid;
    } else {
        return Err(EPERM);
    }
    Ok(0)
}

pub fn set_tid_address(a: &Args) -> SysResult {
    let t = task();
    t.clear_child_tid.store(a.u(0), Ordering::Relaxed);
    Ok(t.pid as u64)
}

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

fn canonical_user(addr: u64) -> bool {
    addr < crate::arch::uaccess::USER_TOP
}

pub fn arch_prctl(a: &Args) -> SysResult {
    let t = task();
    match a.u(0) {
        ARCH_SET_FS => {
            if !canonical_user(a.u(1)) {
                return Err(EPERM);
            }
            t.fs_base.store(a.u(1), Ordering::Relaxed);
            crate::arch::cpu::set_fs_base(a.u(1));
            Ok(0)
        }
        ARCH_SET_GS => {
            if !canonical_user(a.u(1)) {
                return Err(EPERM);
            }
            t.gs_base.store(a.u(1), Ordering::Relaxed);
            crate::arch::cpu::set_user_gs_base(a.u(1));
            Ok(0)
        }
        ARCH_GET_FS => {
            crate::uaccess::write_u64s(a.u(1), &[t.fs_base.load(Ordering::Relaxed)]).map(|_| 0)
        }
        ARCH_GET_GS => {
            crate::uaccess::write_u64s(a.u(1), &[t.gs_base.load(Ordering::Relaxed)]).map(|_| 0)
        }
        _ => Err(EINVAL),
    }
}

fn valid_signal(sig: i32) -> Result<u8, crate::errno::Errno> {
    if (0..=NSIG as i32).contains(&sig) {
        Ok(sig as u8)
    } else {
        Err(EINVAL)
    }
}

/// `kill`: only this process exists to be signalled until fork arrives.
pub fn kill(a: &Args) -> SysResult {
    let (pid, sig) = (a.i32(0), valid_signal(a.i32(1))?);
    let t = task();
    if pid == t.tgid as i32 || pid == 0 || pid == -1 {
        if sig != 0 {
            send_signal(&t, sig);
        }
        Ok(0)
    } else {
        Err(ESRCH)
    }
}

pub fn tkill(a: &Args) -> SysResult {
    let (tid, sig) = (a.i32(0), valid_signal(a.i32(1))?);
    if tid <= 0 {
        return Err(EINVAL);
    }
    let t = task();
    if tid as u32 != t.pid {
        return Err(ESRCH);
    }
    if sig != 0 {
        send_signal(&t, sig);
    }
    Ok(0)
}

pub fn tgkill(a: &Args) -> SysResult {
    let (tgid, tid, sig) = (a.i32(0), a.i32(1), valid_signal(a.i32(2))?);
    if tgid <= 0 || tid <= 0 {
        return Err(EINVAL);
    }
    let t = task();
    if tgid as u32 != t.tgid || tid as u32 != t.pid {
        return Err(ESRCH);
    }
    if sig != 0 {
        send_signal(&t, sig);
    }
    let _ = EFAULT;
    Ok(0)
}
