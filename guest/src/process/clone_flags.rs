//! Clone flags and their validation, in the order and with the errno values of
//! Linux's `copy_process` and `clone3_args_valid`, before anything is allocated.

use crate::errno::{Errno, EINVAL};
use uapi::mman::TASK_SIZE_MAX;
pub use uapi::sched::{CloneFlags, CLONE_ARGS_SIZE_VER0, CLONE_ARGS_SIZE_VER2, CSIGNAL};
use uapi::signal::_NSIG;

/// Checks of `copy_process` (Linux order). `caller_is_init`: the caller is a
/// namespace's init (SIGNAL_UNKILLABLE), which may not create siblings.
/// `pid_ns_unshared`: the caller's children go to another PID namespace than
/// its own (after `unshare(CLONE_NEWPID)`), where its threads cannot go.
/// (After `unshare(CLONE_NEWTIME)` threads and CLONE_VM children are
/// allowed, as on Linux 6.18: they stay in the caller's time namespace.)
pub fn check_flags(
    flags: CloneFlags,
    caller_is_init: bool,
    pid_ns_unshared: bool,
) -> Result<(), Errno> {
    use CloneFlags as F;
    if flags.contains(F::CLONE_NEWNS | F::CLONE_FS) {
        return Err(EINVAL);
    }
    if flags.contains(F::CLONE_NEWUSER | F::CLONE_FS) {
        return Err(EINVAL);
    }
    if flags.contains(F::CLONE_THREAD) && !flags.contains(F::CLONE_SIGHAND) {
        return Err(EINVAL);
    }
    if flags.contains(F::CLONE_SIGHAND) && !flags.contains(F::CLONE_VM) {
        return Err(EINVAL);
    }
    if flags.contains(F::CLONE_PARENT) && caller_is_init {
        return Err(EINVAL);
    }
    if flags.contains(F::CLONE_THREAD)
        && (flags.intersects(F::CLONE_NEWUSER | F::CLONE_NEWPID) || pid_ns_unshared)
    {
        return Err(EINVAL);
    }
    if flags.contains(F::CLONE_PIDFD | F::CLONE_DETACHED) {
        return Err(EINVAL);
    }
    Ok(())
}

/// `unshare`'s flags (Linux `ksys_unshare` before `check_unshare_flags`):
/// CLONE_NEWUSER implies CLONE_THREAD and CLONE_FS, CLONE_VM implies
/// CLONE_SIGHAND, CLONE_SIGHAND implies CLONE_THREAD, CLONE_NEWNS implies
/// CLONE_FS; unknown flags are EINVAL.
pub fn unshare_flags(flags: CloneFlags) -> Result<CloneFlags, Errno> {
    use CloneFlags as F;
    let known = F::CLONE_THREAD
        | F::CLONE_FS
        | F::CLONE_NEWNS
        | F::CLONE_SIGHAND
        | F::CLONE_VM
        | F::CLONE_FILES
        | F::CLONE_SYSVSEM
        | F::CLONE_NEWUTS
        | F::CLONE_NEWIPC
        | F::CLONE_NEWNET
        | F::CLONE_NEWUSER
        | F::CLONE_NEWPID
        | F::CLONE_NEWCGROUP
        | F::CLONE_NEWTIME;
    let mut f = flags;
    if f.contains(F::CLONE_NEWUSER) {
        f |= F::CLONE_THREAD | F::CLONE_FS;
    }
    if f.contains(F::CLONE_VM) {
        f |= F::CLONE_SIGHAND;
    }
    if f.contains(F::CLONE_SIGHAND) {
        f |= F::CLONE_THREAD;
    }
    if f.contains(F::CLONE_NEWNS) {
        f |= F::CLONE_FS;
    }
    if !known.contains(f) {
        return Err(EINVAL);
    }
    Ok(f)
}

/// Checks of `clone3_args_valid` on the flags and the exit signal.
pub fn check_clone3(flags: CloneFlags, exit_signal: u64) -> Result<(), Errno> {
    use CloneFlags as F;
    const LEGACY: u64 = 0xffff_ffff;
    let clone3_only = F::CLONE_CLEAR_SIGHAND | F::CLONE_INTO_CGROUP;
    if flags.bits() & !(LEGACY | clone3_only.bits()) != 0 {
        return Err(EINVAL);
    }
    // clone3 has a field for the exit signal and no use for CLONE_DETACHED.
    if flags.bits() & (F::CLONE_DETACHED.bits() | (CSIGNAL & !F::CLONE_NEWTIME.bits())) != 0 {
        return Err(EINVAL);
    }
    if flags.contains(F::CLONE_CLEAR_SIGHAND | F::CLONE_SIGHAND) {
        return Err(EINVAL);
    }
    if exit_signal & !CSIGNAL != 0 || exit_signal > u64::from(_NSIG) {
        return Err(EINVAL);
    }
    if flags.intersects(F::CLONE_THREAD | F::CLONE_PARENT) && exit_signal != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// clone3's `set_tid` and `set_tid_size` (Linux `copy_clone_args_from_user`):
/// at most `MAX_PID_NS_LEVEL` pids, and an array exactly when a size is
/// given. The number of pids.
pub fn check_set_tid(set_tid: u64, size: u64) -> Result<usize, Errno> {
    if size > u64::from(crate::process::pid_namespace::MAX_PID_NS_LEVEL)
        || (set_tid == 0) != (size == 0)
    {
        return Err(EINVAL);
    }
    Ok(size as usize)
}

/// clone3's stack (Linux `clone3_stack_valid`): none at all, or an address and
/// a size that together lie in user space (`access_ok`), the end included.
pub fn clone3_stack_valid(stack: u64, stack_size: u64) -> bool {
    match (stack, stack_size) {
        (0, 0) => true,
        (0, _) | (_, 0) => false,
        _ => stack.checked_add(stack_size).is_some_and(|end| end <= TASK_SIZE_MAX),
    }
}

/// Check clone3's `size`: the bytes the kernel reads, or the errno. `tail` says
/// whether bytes beyond what the kernel knows are all zero.
pub fn check_clone3_size(
    size: usize,
    tail_is_zero: impl FnOnce(usize) -> Result<bool, Errno>,
) -> Result<usize, Errno> {
    if size < CLONE_ARGS_SIZE_VER0 {
        return Err(EINVAL);
    }
    if size > 4096 {
        return Err(crate::errno::E2BIG);
    }
    if size > CLONE_ARGS_SIZE_VER2 && !tail_is_zero(size)? {
        return Err(crate::errno::E2BIG);
    }
    Ok(size.min(CLONE_ARGS_SIZE_VER2))
}

#[cfg(test)]
mod tests {
    use super::*;

    use uapi::sched::*;

    fn check_flags(flags: u64, init: bool, unshared: bool) -> Result<(), Errno> {
        super::check_flags(CloneFlags::from_bits_retain(flags), init, unshared)
    }

    fn check_clone3(flags: u64, exit_signal: u64) -> Result<(), Errno> {
        super::check_clone3(CloneFlags::from_bits_retain(flags), exit_signal)
    }

    #[test]
    fn flag_table() {
        const THREAD: u64 = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
        let cases: &[(u64, bool, Result<(), Errno>)] = &[
            (0, false, Ok(())),
            (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, false, Ok(())),
            (CLONE_SIGHAND, false, Err(EINVAL)),
            (CLONE_VM | CLONE_THREAD, false, Err(EINVAL)),
            (CLONE_NEWNS | CLONE_FS, false, Err(EINVAL)),
            (CLONE_NEWUSER | CLONE_FS, false, Err(EINVAL)),
            (CLONE_PARENT, true, Err(EINVAL)),
            (CLONE_PARENT, false, Ok(())),
            (CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_NEWPID, false, Err(EINVAL)),
            (CLONE_PIDFD | CLONE_DETACHED, false, Err(EINVAL)),
        ];
        for &(flags, init, want) in cases {
            assert_eq!(check_flags(flags, init, false), want, "flags {flags:#x}");
        }
        // A namespace's init may create threads and new namespaces, not siblings.
        assert_eq!(check_flags(THREAD, true, false), Ok(()));
        assert_eq!(check_flags(CLONE_NEWPID | CLONE_NEWUTS, true, false), Ok(()));
        assert_eq!(check_flags(CLONE_PARENT | CLONE_NEWPID, true, false), Err(EINVAL));
        assert_eq!(check_flags(CLONE_PARENT | CLONE_NEWPID, false, false), Ok(()));
        // After unshare(CLONE_NEWPID): processes yes, threads no.
        assert_eq!(check_flags(THREAD, false, true), Err(EINVAL));
        assert_eq!(check_flags(0, false, true), Ok(()));
        assert_eq!(check_flags(CLONE_VM, false, true), Ok(()));
        // The order: CLONE_SIGHAND without CLONE_VM is found before the namespace.
        assert_eq!(check_flags(CLONE_SIGHAND | CLONE_THREAD, false, true), Err(EINVAL));
    }

    #[test]
    fn unshare_implications() {
        let f = CloneFlags::from_bits_retain;
        assert_eq!(super::check_flags(f(CLONE_NEWIPC | CLONE_SYSVSEM), false, false), Ok(()));
        let u = |x| unshare_flags(f(x)).map(|f| f.bits());
        assert_eq!(u(CLONE_NEWUSER), Ok(CLONE_NEWUSER | CLONE_THREAD | CLONE_FS));
        assert_eq!(u(CLONE_NEWNS), Ok(CLONE_NEWNS | CLONE_FS));
        assert_eq!(u(CLONE_VM), Ok(CLONE_VM | CLONE_SIGHAND | CLONE_THREAD));
        assert_eq!(u(CLONE_NEWTIME | CLONE_NEWCGROUP), Ok(CLONE_NEWTIME | CLONE_NEWCGROUP));
        assert_eq!(u(1), Err(EINVAL));
        assert_eq!(u(CLONE_PARENT), Err(EINVAL));
    }

    #[test]
    fn clone3_rules() {
        assert_eq!(check_clone3(1 << 40, 17), Err(EINVAL), "unknown flag");
        assert_eq!(check_clone3(CLONE_DETACHED, 17), Err(EINVAL));
        assert_eq!(check_clone3(17, 0), Err(EINVAL), "a signal in the flags");
        assert_eq!(check_clone3(CLONE_CLEAR_SIGHAND | CLONE_SIGHAND, 0), Err(EINVAL));
        assert_eq!(check_clone3(0, 65), Err(EINVAL));
        assert_eq!(check_clone3(0, 17), Ok(()));
        assert_eq!(check_clone3(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 17), Err(EINVAL));
        assert_eq!(check_clone3_size(63, |_| Ok(true)), Err(EINVAL));
        assert_eq!(check_clone3_size(4097, |_| Ok(true)), Err(crate::errno::E2BIG));
        assert_eq!(check_clone3_size(96, |_| Ok(false)), Err(crate::errno::E2BIG));
        assert_eq!(check_clone3_size(96, |_| Ok(true)), Ok(88));
        assert_eq!(check_clone3_size(64, |_| unreachable!()), Ok(64));
        assert!(clone3_stack_valid(0, 0));
        assert!(!clone3_stack_valid(0, 4096) && !clone3_stack_valid(4096, 0));
        assert!(clone3_stack_valid(0x1000, 0x2000));
        assert!(clone3_stack_valid(TASK_SIZE_MAX - 0x2000, 0x2000), "ends at TASK_SIZE_MAX");
        assert!(!clone3_stack_valid(TASK_SIZE_MAX - 0x1000, 0x2000), "ends above it");
        assert!(!clone3_stack_valid(0xffff_8880_0000_0000, 0x4000), "a kernel address");
        assert!(!clone3_stack_valid(0x1000, u64::MAX), "wraps");
        assert_eq!(check_set_tid(0, 0), Ok(0));
        assert_eq!(check_set_tid(0x1000, 32), Ok(32));
        assert_eq!(check_set_tid(0x1000, 33), Err(EINVAL), "more than MAX_PID_NS_LEVEL");
        assert_eq!(check_set_tid(0, 1), Err(EINVAL), "a size without an array");
        assert_eq!(check_set_tid(0x1000, 0), Err(EINVAL), "an array without a size");
    }
}
