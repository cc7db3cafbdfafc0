//! uname, sethostname, setdomainname, getrandom and resource limits.

use super::{Args, SysResult};
use crate::errno::{EFAULT, EINVAL, EPERM};
use crate::mm::frame::PAGE_SIZE;
use crate::process::rlimit::{rlimit, RLIMIT_NOFILE};
use crate::process::signal::signal_pending;
use crate::process::utsname::{check_set, UtsField};
use crate::process::{cond_resched, current};
use crate::uaccess;
use uapi::random::{GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM};

/// `struct new_utsname` of the caller's UTS namespace: six 65-byte fields.
pub fn uname(a: &Args) -> SysResult {
    let name = current().unwrap().nsproxy().uts_ns.name();
    uaccess::write_bytes(a.u(0), &name.bytes()).map(|_| 0)
}

/// `sethostname(name, len)` in the caller's UTS namespace.
pub fn sethostname(a: &Args) -> SysResult {
    set_utsname(a, UtsField::Nodename)
}

/// `setdomainname(name, len)` in the caller's UTS namespace.
pub fn setdomainname(a: &Args) -> SysResult {
    set_utsname(a, UtsField::Domainname)
}

/// Linux's order: EPERM without CAP_SYS_ADMIN in the user namespace that
/// owns the UTS namespace (`ns_capable(uts_ns->user_ns)`: root for the
/// initial one, the creator of a user namespace for one made in it), EINVAL
/// for a length above 64 (or negative), EFAULT for the bytes; no NUL is
/// needed.
fn set_utsname(a: &Args, which: UtsField) -> SysResult {
    let t = current().unwrap();
    let uts = t.nsproxy().uts_ns.clone();
    let capable = t.ns_capable(uts.owner.get().cloned());
    let len = check_set(a.i32(1), capable)?;
    let name = uaccess::read_bytes(a.u(0), len)?;
    uts.set(which, &name);
    Ok(0)
}

pub fn getrandom(a: &Args) -> SysResult {
    let (buf, len, flags) = (a.u(0), a.u(1) as usize, a.u32(2));
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE
    {
        return Err(EINVAL);
    }
    // Linux `get_random_bytes_user`: at most INT_MAX bytes, written block by
    // block; after each page's worth it stops for a pending signal (a short
    // count) and lets the CPU go (`cond_resched`), so that a 2 GiB request
    // neither outlives a SIGKILL nor keeps the tick away from its CPU. A
    // fault ends it with the bytes before the bad page, EFAULT if none.
    let len = len.min(i32::MAX as usize);
    let me = current().unwrap();
    let mut block = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(block.len());
        crate::random::get_random_bytes(&mut block[..n]);
        let copied = uaccess::write_bytes_partial(buf.wrapping_add(done as u64), &block[..n]);
        done += copied;
        if copied < n {
            return if done == 0 { Err(EFAULT) } else { Ok(done as u64) };
        }
        if done as u64 % PAGE_SIZE == 0 && done < len {
            if signal_pending(&me) {
                break;
            }
            cond_resched();
        }
    }
    Ok(done as u64)
}

fn rlimit_words(r: rlimit) -> [u64; 2] {
    [r.rlim_cur, r.rlim_max]
}

/// `prlimit64(pid, resource, new, old)`: this process only (pid 0 or own).
pub fn prlimit64(a: &Args) -> SysResult {
    let t = current().unwrap();
    let pid = a.i32(0);
    if pid != 0 && pid as u32 != t.tgid_vnr() {
        return Err(crate::errno::ESRCH);
    }
    let resource = a.u32(1);
    let new = if a.u(2) != 0 { Some(uaccess::read_u64s::<2>(a.u(2))?) } else { None };
    let privileged = t.creds().euid == 0;
    let mut limits = t.group.rlimits.lock();
    let old = limits.get(resource).ok_or(EINVAL)?;
    if let Some([cur, max]) = new {
        limits.set(resource, rlimit { rlim_cur: cur, rlim_max: max }, privileged)?;
    }
    drop(limits);
    if a.u(3) != 0 {
        uaccess::write_u64s(a.u(3), &rlimit_words(old))?;
    }
    Ok(0)
}

pub fn getrlimit(a: &Args) -> SysResult {
    let t = current().unwrap();
    let r = t.group.rlimits.lock().get(a.u32(0)).ok_or(EINVAL)?;
    uaccess::write_u64s(a.u(1), &rlimit_words(r)).map(|_| 0)
}

pub fn setrlimit(a: &Args) -> SysResult {
    let t = current().unwrap();
    let [cur, max] = uaccess::read_u64s::<2>(a.u(1))?;
    let privileged = t.creds().euid == 0;
    t.group.rlimits.lock().set(a.u32(0), rlimit { rlim_cur: cur, rlim_max: max }, privileged)?;
    let _ = (EPERM, RLIMIT_NOFILE);
    Ok(0)
}
