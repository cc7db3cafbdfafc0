//! Clone flags and their validation, in the order and with the errno values of
//! Linux's `copy_process` and `clone3_args_valid`, before anything is allocated.

use crate::errno::{Errno, EINVAL};

pub const CSIGNAL: u64 = 0x0000_00ff;
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
pub const CLONE_VM: u64 = 0x0000_0100;
pub const CLONE_FS: u64 = 0x0000_0200;
pub const CLONE_FILES: u64 = 0x0000_0400;
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
pub const CLONE_PIDFD: u64 = 0x0000_1000;
pub const CLONE_PTRACE: u64 = 0x0000_2000;
pub const CLONE_VFORK: u64 = 0x0000_4000;
pub const CLONE_PARENT: u64 = 0x0000_8000;
pub const CLONE_THREAD: u64 = 0x0001_0000;
pub const CLONE_NEWNS: u64 = 0x0002_0000;
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
pub const CLONE_SETTLS: u64 = 0x0008_0000;
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
pub const CLONE_DETACHED: u64 = 0x0040_0000;
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
pub const CLONE_NEWPID: u64 = 0x2000_0000;
pub const CLONE_NEWNET: u64 = 0x4000_0000;
pub const CLONE_IO: u64 = 0x8000_0000;
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Namespaces this kernel does not implement: requesting one is EINVAL.
pub const UNSUPPORTED_NAMESPACES: u64 =
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWTIME;

/// The highest valid signal number.
pub const NSIG: u64 = 64;

/// Checks of `copy_process` (Linux order). `caller_is_init`: the caller is a
/// namespace's init (SIGNAL_UNKILLABLE), which may not create siblings.
/// `pid_ns_unshared`: the caller's children go to another PID namespace than
/// its own (after `unshare(CLONE_NEWPID)`), where its threads cannot go.
pub fn check_flags(flags: u64, caller_is_init: bool, pid_ns_unshared: bool) -> Result<(), Errno> {
    if flags & (CLONE_NEWNS | CLONE_FS) == CLONE_NEWNS | CLONE_FS {
        return Err(EINVAL);
    }
    if flags & (CLONE_NEWUSER | CLONE_FS) == CLONE_NEWUSER | CLONE_FS {
        return Err(EINVAL);
    }
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
        return Err(EINVAL);
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return Err(EINVAL);
    }
    if flags & CLONE_PARENT != 0 && caller_is_init {
        return Err(EINVAL);
    }
    if flags & CLONE_THREAD != 0 && (flags & (CLONE_NEWUSER | CLONE_NEWPID) != 0 || pid_ns_unshared)
    {
        return Err(EINVAL);
    }
    if flags & CLONE_PIDFD != 0 && flags & CLONE_DETACHED != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// Checks of `clone3_args_valid` on the flags and the exit signal.
pub fn check_clone3(flags: u64, exit_signal: u64) -> Result<(), Errno> {
    const LEGACY: u64 = 0xffff_ffff;
    if flags & !(LEGACY | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) != 0 {
        return Err(EINVAL);
    }
    // clone3 has a field for the exit signal and no use for CLONE_DETACHED.
    if flags & (CLONE_DETACHED | (CSIGNAL & !CLONE_NEWTIME)) != 0 {
        return Err(EINVAL);
    }
    if flags & (CLONE_CLEAR_SIGHAND | CLONE_SIGHAND) == CLONE_CLEAR_SIGHAND | CLONE_SIGHAND {
        return Err(EINVAL);
    }
    if exit_signal & !CSIGNAL != 0 || exit_signal > NSIG {
        return Err(EINVAL);
    }
    if flags & (CLONE_THREAD | CLONE_PARENT) != 0 && exit_signal != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// `struct clone_args` sizes (Linux `copy_struct_from_user` rules).
pub const CLONE_ARGS_SIZE_VER0: usize = 64;
pub const CLONE_ARGS_SIZE_VER2: usize = 88;

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
    }
}
