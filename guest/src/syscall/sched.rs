//! Scheduler system calls with Linux's numbers, argument checks and errno
//! order (Linux `kernel/sched/syscalls.c`, `getpriority`/`setpriority` in
//! `kernel/sys.c`, `getcpu`). The rules themselves are in `sched::prio`.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{Args, SysResult};
use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::errno::{Errno, EINVAL, EPERM, ESRCH};
use crate::process::table;
use crate::process::Task;
use crate::sched::prio::{self, Caller, PRIO_PGRP, PRIO_PROCESS, PRIO_USER};
use crate::uaccess;
use uapi::resource::{RLIMIT_NICE, RLIMIT_RTPRIO};

fn me() -> Arc<Task> {
    crate::process::current().expect("a system call without a task")
}

/// Linux `find_process_by_pid`: 0 is the caller, else the task with that
/// number in the caller's PID namespace.
fn find_process_by_pid(me: &Arc<Task>, pid: i32) -> Result<Arc<Task>, Errno> {
    match pid {
        0 => Ok(me.clone()),
        p if p < 0 => Err(ESRCH),
        p => table::find_in(me.pid_ns(), p as u32).ok_or(ESRCH),
    }
}

/// The permission facts for `me` acting on `target`.
fn caller(me: &Task, target: &Task) -> Caller {
    let (c, t) = (me.creds(), target.creds());
    let rl = *target.group.rlimits.lock();
    Caller {
        cap_sys_nice: c.euid == 0,
        same_owner: c.euid == t.euid || c.euid == t.uid,
        rlimit_rtprio: rl.get(RLIMIT_RTPRIO).map_or(0, |r| r.rlim_cur),
        rlimit_nice: rl.get(RLIMIT_NICE).map_or(0, |r| r.rlim_cur),
    }
}

fn online_mask() -> u64 {
    let n = crate::arch::cpu_count();
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// sched_yield.
pub fn sched_yield() -> SysResult {
    crate::sched::yield_current::<crate::process::PosixThread>();
    Ok(0)
}

/// sched_setscheduler(pid, policy, param).
pub fn sched_setscheduler(a: &Args) -> SysResult {
    let policy = a.i32(1);
    if policy < 0 {
        return Err(EINVAL);
    }
    do_sched_setscheduler(a.i32(0), Some(policy), a.u(2))
}

/// sched_setparam(pid, param): the policy stays.
pub fn sched_setparam(a: &Args) -> SysResult {
    do_sched_setscheduler(a.i32(0), None, a.u(1))
}

fn do_sched_setscheduler(pid: i32, policy: Option<i32>, param: u64) -> SysResult {
    if param == 0 || pid < 0 {
        return Err(EINVAL);
    }
    let priority = uaccess::read_u32(param)? as i32;
    let me = me();
    let p = find_process_by_pid(&me, pid)?;
    let new = prio::check_setscheduler(&p.se.params(), policy, priority, &caller(&me, &p))?;
    crate::sched::sched_setattr(&p, &new);
    Ok(0)
}

/// sched_getscheduler(pid): the policy, with SCHED_RESET_ON_FORK if set.
pub fn sched_getscheduler(a: &Args) -> SysResult {
    let pid = a.i32(0);
    if pid < 0 {
        return Err(EINVAL);
    }
    let p = find_process_by_pid(&me(), pid)?;
    Ok(p.se.params().getscheduler())
}

/// sched_getparam(pid, param).
pub fn sched_getparam(a: &Args) -> SysResult {
    let (pid, param) = (a.i32(0), a.u(1));
    if param == 0 || pid < 0 {
        return Err(EINVAL);
    }
    let p = find_process_by_pid(&me(), pid)?;
    uaccess::write_u32(param, p.se.rt_prio())?;
    Ok(0)
}

pub fn sched_get_priority_max(a: &Args) -> SysResult {
    prio::priority_max(a.i32(0))
}

pub fn sched_get_priority_min(a: &Args) -> SysResult {
    prio::priority_min(a.i32(0))
}

/// sched_rr_get_interval(pid, interval).
pub fn sched_rr_get_interval(a: &Args) -> SysResult {
    let pid = a.i32(0);
    if pid < 0 {
        return Err(EINVAL);
    }
    let p = find_process_by_pid(&me(), pid)?;
    let ns = crate::sched::rr_interval(&p);
    uaccess::write_u64s(a.u(1), &[ns / 1_000_000_000, ns % 1_000_000_000])?;
    Ok(0)
}

/// sched_setaffinity(pid, len, mask): a shorter mask is zero-extended, a
/// longer one truncated; EINVAL if it names no online CPU.
pub fn sched_setaffinity(a: &Args) -> SysResult {
    let (pid, len, ptr) = (a.i32(0), a.u32(1), a.u(2));
    let mut bytes = [0u8; prio::CPUMASK_SIZE];
    let n = prio::setaffinity_copy_len(len);
    copy_from_user(&mut bytes[..n], ptr)?;
    let requested = u64::from_le_bytes(bytes);
    let me = me();
    let p = find_process_by_pid(&me, pid)?;
    let c = caller(&me, &p);
    if !c.same_owner && !c.cap_sys_nice {
        return Err(EPERM);
    }
    let mask = prio::effective_mask(requested, crate::arch::cpu_count())?;
    crate::sched::set_cpus_allowed(&p, mask);
    Ok(0)
}

/// sched_getaffinity(pid, len, mask): the number of bytes written.
pub fn sched_getaffinity(a: &Args) -> SysResult {
    let (pid, len, ptr) = (a.i32(0), a.u32(1), a.u(2));
    let n = prio::getaffinity_len(len, crate::arch::cpu_count())?;
    let p = find_process_by_pid(&me(), pid)?;
    let mask = p.se.cpus_allowed.load(core::sync::atomic::Ordering::Relaxed) & online_mask();
    copy_to_user(ptr, &mask.to_le_bytes()[..n])?;
    Ok(n as u64)
}

/// getcpu(cpu, node, tcache).
pub fn getcpu(a: &Args) -> SysResult {
    let cpu = crate::arch::cpu_id() as u32;
    let mut ok = true;
    if a.u(0) != 0 {
        ok &= uaccess::write_u32(a.u(0), cpu).is_ok();
    }
    if a.u(1) != 0 {
        ok &= uaccess::write_u32(a.u(1), 0).is_ok();
    }
    if ok {
        Ok(0)
    } else {
        Err(crate::errno::EFAULT)
    }
}

/// The tasks `which`/`who` name for getpriority/setpriority (Linux iterates
/// threads: PRIO_PROCESS names one thread).
fn prio_targets(me: &Arc<Task>, which: i32, who: i32) -> Result<Vec<Arc<Task>>, Errno> {
    match which as u32 {
        PRIO_PROCESS => Ok(find_process_by_pid(me, who).into_iter().collect()),
        PRIO_PGRP => {
            let pgrp = match who {
                0 => me.pgid.load(core::sync::atomic::Ordering::Relaxed),
                w if w < 0 => return Ok(Vec::new()),
                w => match me.pid_ns().find(w as u32) {
                    Some(g) => g,
                    None => return Ok(Vec::new()),
                },
            };
            Ok(table::all()
                .into_iter()
                .filter(|t| !t.idle && t.pgid.load(core::sync::atomic::Ordering::Relaxed) == pgrp)
                .collect())
        }
        PRIO_USER => {
            let uid = if who == 0 { me.creds().uid } else { who as u32 };
            let ns = me.pid_ns().clone();
            Ok(table::all()
                .into_iter()
                .filter(|t| !t.idle && t.creds().uid == uid && t.pid_nr_ns(&ns) != 0)
                .collect())
        }
        _ => Err(EINVAL),
    }
}

/// getpriority(which, who): the highest priority among the tasks named, as
/// `20 - nice` (1..40; the C library turns it back into a nice value).
pub fn getpriority(a: &Args) -> SysResult {
    let me = me();
    let targets = prio_targets(&me, a.i32(0), a.i32(1))?;
    targets.iter().map(|t| prio::nice_to_rlimit(t.se.params().nice)).max().ok_or(ESRCH)
}

/// setpriority(which, who, nice): nice clamped to -20..19; EPERM for another
/// user's task, EACCES for a lower nice value than RLIMIT_NICE allows
/// (without CAP_SYS_NICE); ESRCH if nothing matched.
pub fn setpriority(a: &Args) -> SysResult {
    let me = me();
    let nice = a.i32(2).clamp(prio::MIN_NICE, prio::MAX_NICE);
    let targets = prio_targets(&me, a.i32(0), a.i32(1))?;
    let mut error = Some(ESRCH);
    for t in &targets {
        let mut params = t.se.params();
        let r = prio::check_set_one_prio(params.nice, nice, &caller(&me, t));
        if r.is_ok() {
            params.nice = nice;
            crate::sched::sched_setattr(t, &params);
        }
        error = prio::fold_set_one_prio(error, r);
    }
    error.map_or(Ok(0), Err)
}
