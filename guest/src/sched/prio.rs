//! Scheduling policies, priorities and the rules for changing them (Linux
//! `include/uapi/linux/sched.h`, `include/linux/sched/prio.h` and the checks of
//! `__sched_setscheduler`, `set_one_prio` and `sched_setaffinity`), as plain
//! logic that the host unit-tests.

use crate::errno::{Errno, EACCES, EINVAL, EPERM};
pub use uapi::resource::{PRIO_PGRP, PRIO_PROCESS, PRIO_USER};
pub use uapi::sched::{
    SCHED_BATCH, SCHED_DEADLINE, SCHED_FIFO, SCHED_IDLE, SCHED_NORMAL, SCHED_RESET_ON_FORK,
    SCHED_RR,
};

pub const MAX_RT_PRIO: u32 = 100;
pub const MIN_NICE: i32 = -20;
pub const MAX_NICE: i32 = 19;

/// Bytes of a CPU mask as the kernel copies it (Linux `cpumask_size()`:
/// `BITS_TO_LONGS(NR_CPUS) * sizeof(long)`; NR_CPUS is `protocol::MAX_CPUS`).
pub const CPUMASK_SIZE: usize = protocol::MAX_CPUS.div_ceil(64) * 8;

pub fn rt_policy(policy: u32) -> bool {
    policy == SCHED_FIFO || policy == SCHED_RR
}

/// Linux `fair_policy`: the policies whose nice value sets their weight.
pub fn fair_policy(policy: u32) -> bool {
    policy == SCHED_NORMAL || policy == SCHED_BATCH
}

pub fn idle_policy(policy: u32) -> bool {
    policy == SCHED_IDLE
}

pub fn valid_policy(policy: u32) -> bool {
    fair_policy(policy) || idle_policy(policy) || rt_policy(policy) || policy == SCHED_DEADLINE
}

/// sched_get_priority_max.
pub fn priority_max(policy: i32) -> Result<u64, Errno> {
    match policy as u32 {
        SCHED_FIFO | SCHED_RR => Ok(MAX_RT_PRIO as u64 - 1),
        SCHED_NORMAL | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE if policy >= 0 => Ok(0),
        _ => Err(EINVAL),
    }
}

/// sched_get_priority_min.
pub fn priority_min(policy: i32) -> Result<u64, Errno> {
    match policy as u32 {
        SCHED_FIFO | SCHED_RR => Ok(1),
        SCHED_NORMAL | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE if policy >= 0 => Ok(0),
        _ => Err(EINVAL),
    }
}

/// Linux `nice_to_rlimit`: nice 19..-20 as 1..40 (RLIMIT_NICE's scale, and what
/// the raw getpriority system call returns).
pub fn nice_to_rlimit(nice: i32) -> u64 {
    (MAX_NICE - nice + 1) as u64
}

/// Linux `is_nice_reduction` / `can_nice` without the capability: RLIMIT_NICE
/// allows `nice`.
pub fn nice_allowed_by_rlimit(nice: i32, rlimit_nice: u64) -> bool {
    nice_to_rlimit(nice) <= rlimit_nice
}

/// What the scheduler keeps about a task's policy (the parts the system calls
/// read and write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedParams {
    pub policy: u32,
    /// 1..99 for SCHED_FIFO/SCHED_RR, 0 otherwise.
    pub rt_priority: u32,
    pub nice: i32,
    pub reset_on_fork: bool,
}

impl Default for SchedParams {
    fn default() -> Self {
        Self { policy: SCHED_NORMAL, rt_priority: 0, nice: 0, reset_on_fork: false }
    }
}

impl SchedParams {
    /// What sched_getscheduler returns.
    pub fn getscheduler(&self) -> u64 {
        (self.policy | if self.reset_on_fork { SCHED_RESET_ON_FORK } else { 0 }) as u64
    }

    /// The child's parameters at fork (Linux `sched_fork`): with
    /// `sched_reset_on_fork`, RT (and deadline) become SCHED_NORMAL at nice 0,
    /// a negative nice becomes 0, and the child does not keep the flag.
    pub fn for_child(&self) -> SchedParams {
        let mut c = *self;
        if c.reset_on_fork {
            if rt_policy(c.policy) || c.policy == SCHED_DEADLINE {
                c.policy = SCHED_NORMAL;
                c.nice = 0;
                c.rt_priority = 0;
            } else if c.nice < 0 {
                c.nice = 0;
            }
            c.reset_on_fork = false;
        }
        c
    }
}

/// Who asks, for the permission rules (Linux: the caller's credentials and
/// capabilities, the target's RLIMIT_RTPRIO / RLIMIT_NICE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// CAP_SYS_NICE (here: effective uid 0).
    pub cap_sys_nice: bool,
    /// Linux `check_same_owner`: the caller's euid is the target's uid or euid.
    pub same_owner: bool,
    pub rlimit_rtprio: u64,
    pub rlimit_nice: u64,
}

/// The new parameters for sched_setscheduler (`policy` Some, possibly with
/// SCHED_RESET_ON_FORK) or sched_setparam (`policy` None: keep the policy and
/// the flag), with Linux's checks in Linux's order (`__sched_setscheduler`,
/// `user_check_sched_setscheduler`). `priority` is `sched_param.sched_priority`.
pub fn check_setscheduler(
    old: &SchedParams,
    policy: Option<i32>,
    priority: i32,
    caller: &Caller,
) -> Result<SchedParams, Errno> {
    let (policy, reset_on_fork) = match policy {
        None => (old.policy, old.reset_on_fork),
        Some(p) => {
            let p = p as u32;
            let reset = p & SCHED_RESET_ON_FORK != 0;
            let p = p & !SCHED_RESET_ON_FORK;
            if !valid_policy(p) {
                return Err(EINVAL);
            }
            (p, reset)
        }
    };
    // `attr.sched_priority` is unsigned: a negative priority is out of range.
    let prio = priority as u32;
    if prio > MAX_RT_PRIO - 1 {
        return Err(EINVAL);
    }
    // The old interface carries no deadline parameters: SCHED_DEADLINE through
    // it always fails __checkparam_dl.
    if policy == SCHED_DEADLINE || rt_policy(policy) != (prio != 0) {
        return Err(EINVAL);
    }
    // sched_setscheduler keeps the nice value (`attr.sched_nice = task_nice(p)`).
    let new = SchedParams { policy, rt_priority: prio, nice: old.nice, reset_on_fork };
    if !caller.cap_sys_nice && needs_privilege(old, &new, caller) {
        return Err(EPERM);
    }
    Ok(new)
}

/// Linux `user_check_sched_setscheduler`: whether the change needs CAP_SYS_NICE.
fn needs_privilege(old: &SchedParams, new: &SchedParams, caller: &Caller) -> bool {
    if fair_policy(new.policy)
        && new.nice < old.nice
        && !nice_allowed_by_rlimit(new.nice, caller.rlimit_nice)
    {
        return true;
    }
    if rt_policy(new.policy) {
        // Can't set or change the RT policy without RLIMIT_RTPRIO.
        if new.policy != old.policy && caller.rlimit_rtprio == 0 {
            return true;
        }
        // Can't raise the priority above the limit.
        if new.rt_priority > old.rt_priority && new.rt_priority as u64 > caller.rlimit_rtprio {
            return true;
        }
    }
    // SCHED_IDLE counts as nice 20: leaving it needs RLIMIT_NICE to allow the
    // task's nice value.
    if idle_policy(old.policy)
        && !idle_policy(new.policy)
        && !nice_allowed_by_rlimit(old.nice, caller.rlimit_nice)
    {
        return true;
    }
    if !caller.same_owner {
        return true;
    }
    // Normal users shall not reset the sched_reset_on_fork flag.
    old.reset_on_fork && !new.reset_on_fork
}

/// setpriority on one task (Linux `set_one_prio`): Ok(()) to apply `nice`,
/// EPERM when the caller may not touch the task, EACCES when lowering the nice
/// value is not allowed. `nice` is already clamped to MIN_NICE..=MAX_NICE.
pub fn check_set_one_prio(old_nice: i32, nice: i32, caller: &Caller) -> Result<(), Errno> {
    if !caller.same_owner && !caller.cap_sys_nice {
        return Err(EPERM);
    }
    if nice < old_nice && !caller.cap_sys_nice && !nice_allowed_by_rlimit(nice, caller.rlimit_nice)
    {
        return Err(EACCES);
    }
    Ok(())
}

/// setpriority's running error over the tasks it acts on: ESRCH until one
/// succeeds; a permission error replaces it (Linux `set_one_prio`'s `error`).
pub fn fold_set_one_prio(error: Option<Errno>, result: Result<(), Errno>) -> Option<Errno> {
    match result {
        Err(e) => Some(e),
        Ok(()) if error == Some(crate::errno::ESRCH) => None,
        Ok(()) => error,
    }
}

/// sched_setaffinity's copy of the user's mask (Linux `get_user_cpu_mask`): a
/// shorter mask is zero-extended, a longer one truncated. The number of bytes
/// to copy from the user.
pub fn setaffinity_copy_len(len: u32) -> usize {
    (len as usize).min(CPUMASK_SIZE)
}

/// sched_getaffinity's length rules: EINVAL when `len` cannot hold every
/// possible CPU or is not a multiple of a long; else the bytes copied out.
pub fn getaffinity_len(len: u32, nr_cpu_ids: usize) -> Result<usize, Errno> {
    if (len as usize) * 8 < nr_cpu_ids || !len.is_multiple_of(8) {
        return Err(EINVAL);
    }
    Ok((len as usize).min(CPUMASK_SIZE))
}

/// The mask a task may run on (`cpus_allowed & online`), or EINVAL when it
/// names no online CPU (Linux `__set_cpus_allowed_ptr`).
pub fn effective_mask(requested: u64, online: usize) -> Result<u64, Errno> {
    let online_mask = if online >= 64 { u64::MAX } else { (1u64 << online) - 1 };
    match requested & online_mask {
        0 => Err(EINVAL),
        m => Ok(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::ESRCH;

    const ROOT: Caller =
        Caller { cap_sys_nice: true, same_owner: true, rlimit_rtprio: 0, rlimit_nice: 0 };
    const USER: Caller =
        Caller { cap_sys_nice: false, same_owner: true, rlimit_rtprio: 0, rlimit_nice: 0 };

    #[test]
    fn priority_ranges() {
        assert_eq!(priority_max(SCHED_FIFO as i32), Ok(99));
        assert_eq!(priority_min(SCHED_RR as i32), Ok(1));
        for p in [SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE] {
            assert_eq!(priority_max(p as i32), Ok(0));
            assert_eq!(priority_min(p as i32), Ok(0));
        }
        for p in [-1, 4, 7, (SCHED_RESET_ON_FORK | SCHED_FIFO) as i32] {
            assert_eq!(priority_max(p), Err(EINVAL));
            assert_eq!(priority_min(p), Err(EINVAL));
        }
        assert_eq!(nice_to_rlimit(0), 20);
        assert_eq!(nice_to_rlimit(19), 1);
        assert_eq!(nice_to_rlimit(-20), 40);
    }

    #[test]
    fn setscheduler_validation() {
        let n = SchedParams::default();
        let fifo = |p| check_setscheduler(&n, Some(SCHED_FIFO as i32), p, &ROOT);
        assert_eq!(fifo(10).unwrap().rt_priority, 10);
        assert_eq!(fifo(0), Err(EINVAL));
        assert_eq!(fifo(100), Err(EINVAL));
        assert_eq!(fifo(-1), Err(EINVAL));
        assert_eq!(check_setscheduler(&n, Some(SCHED_NORMAL as i32), 5, &ROOT), Err(EINVAL));
        assert_eq!(check_setscheduler(&n, Some(4), 0, &ROOT), Err(EINVAL));
        assert_eq!(check_setscheduler(&n, Some(SCHED_DEADLINE as i32), 0, &ROOT), Err(EINVAL));
        let r = check_setscheduler(&n, Some((SCHED_RR | SCHED_RESET_ON_FORK) as i32), 3, &ROOT)
            .unwrap();
        assert_eq!((r.policy, r.rt_priority, r.reset_on_fork), (SCHED_RR, 3, true));
        assert_eq!(r.getscheduler(), (SCHED_RR | SCHED_RESET_ON_FORK) as u64);
        // sched_setparam keeps the policy and the flag.
        let p = check_setscheduler(&r, None, 7, &ROOT).unwrap();
        assert_eq!((p.policy, p.rt_priority, p.reset_on_fork), (SCHED_RR, 7, true));
        assert_eq!(check_setscheduler(&r, None, 0, &ROOT), Err(EINVAL));
        assert_eq!(check_setscheduler(&n, None, 1, &ROOT), Err(EINVAL));
    }

    #[test]
    fn setscheduler_permissions() {
        let n = SchedParams { nice: 3, ..Default::default() };
        assert_eq!(check_setscheduler(&n, Some(SCHED_FIFO as i32), 1, &USER), Err(EPERM));
        let rt = Caller { rlimit_rtprio: 10, ..USER };
        assert!(check_setscheduler(&n, Some(SCHED_FIFO as i32), 10, &rt).is_ok());
        assert_eq!(check_setscheduler(&n, Some(SCHED_FIFO as i32), 11, &rt), Err(EPERM));
        // Lowering an RT priority is always allowed; raising within the limit too.
        let f = SchedParams { policy: SCHED_FIFO, rt_priority: 50, ..Default::default() };
        assert!(check_setscheduler(&f, None, 20, &USER).is_ok());
        assert_eq!(check_setscheduler(&f, None, 51, &USER), Err(EPERM));
        // Batch and back keep the nice value and need nothing.
        let b = check_setscheduler(&n, Some(SCHED_BATCH as i32), 0, &USER).unwrap();
        assert_eq!((b.policy, b.nice), (SCHED_BATCH, 3));
        // Leaving SCHED_IDLE needs RLIMIT_NICE for the nice value.
        let i = SchedParams { policy: SCHED_IDLE, ..Default::default() };
        assert_eq!(check_setscheduler(&i, Some(0), 0, &USER), Err(EPERM));
        let nice20 = Caller { rlimit_nice: 20, ..USER };
        assert!(check_setscheduler(&i, Some(0), 0, &nice20).is_ok());
        // Another user's task, and clearing reset-on-fork.
        let other = Caller { same_owner: false, ..USER };
        assert_eq!(check_setscheduler(&n, Some(0), 0, &other), Err(EPERM));
        assert!(check_setscheduler(&n, Some(0), 0, &Caller { same_owner: false, ..ROOT }).is_ok());
        let r = SchedParams { reset_on_fork: true, ..Default::default() };
        assert_eq!(check_setscheduler(&r, Some(0), 0, &USER), Err(EPERM));
        assert!(check_setscheduler(&r, Some((SCHED_RESET_ON_FORK) as i32), 0, &USER).is_ok());
        assert!(check_setscheduler(&r, None, 0, &USER).is_ok());
    }

    #[test]
    fn reset_on_fork() {
        let rt = SchedParams { policy: SCHED_FIFO, rt_priority: 9, nice: 5, reset_on_fork: true };
        assert_eq!(rt.for_child(), SchedParams::default());
        let neg = SchedParams { nice: -5, reset_on_fork: true, ..Default::default() };
        assert_eq!(neg.for_child(), SchedParams::default());
        let pos = SchedParams { policy: SCHED_BATCH, nice: 5, reset_on_fork: true, rt_priority: 0 };
        assert_eq!(pos.for_child(), SchedParams { reset_on_fork: false, ..pos });
        let keep = SchedParams { policy: SCHED_RR, rt_priority: 4, nice: -3, reset_on_fork: false };
        assert_eq!(keep.for_child(), keep);
    }

    #[test]
    fn setpriority_rules() {
        assert_eq!(check_set_one_prio(0, 5, &USER), Ok(()));
        assert_eq!(check_set_one_prio(5, 0, &USER), Err(EACCES));
        assert_eq!(check_set_one_prio(5, 0, &Caller { rlimit_nice: 20, ..USER }), Ok(()));
        assert_eq!(check_set_one_prio(0, -1, &Caller { rlimit_nice: 20, ..USER }), Err(EACCES));
        assert_eq!(check_set_one_prio(0, 5, &Caller { same_owner: false, ..USER }), Err(EPERM));
        assert_eq!(check_set_one_prio(0, -20, &ROOT), Ok(()));
        let mut e = Some(ESRCH);
        e = fold_set_one_prio(e, Ok(()));
        assert_eq!(e, None);
        e = fold_set_one_prio(e, Err(EPERM));
        assert_eq!(e, Some(EPERM));
        assert_eq!(fold_set_one_prio(e, Ok(())), Some(EPERM));
    }

    #[test]
    fn affinity_masks() {
        assert_eq!(CPUMASK_SIZE, 8);
        assert_eq!(setaffinity_copy_len(4), 4);
        assert_eq!(setaffinity_copy_len(128), 8);
        assert_eq!(getaffinity_len(0, 2), Err(EINVAL));
        assert_eq!(getaffinity_len(4, 2), Err(EINVAL));
        assert_eq!(getaffinity_len(12, 2), Err(EINVAL));
        assert_eq!(getaffinity_len(8, 2), Ok(8));
        assert_eq!(getaffinity_len(128, 4), Ok(8));
        assert_eq!(effective_mask(0, 4), Err(EINVAL));
        assert_eq!(effective_mask(1 << 5, 4), Err(EINVAL));
        assert_eq!(effective_mask(0b110, 2), Ok(0b10));
        assert_eq!(effective_mask(u64::MAX, 64), Ok(u64::MAX));
    }
}
