//! The `#[repr(C)]` structures have Linux's x86-64 sizes and field offsets:
//! checked against the libc crate's definitions where glibc's structure is the
//! kernel's, and against the offsets in Linux's headers where glibc's differs
//! (`struct sigaction`, `sigcontext`, `ucontext`: the kernel's are not glibc's).

use core::mem::{offset_of, size_of};

/// Same size, and every listed field at the same offset as in libc.
macro_rules! same_layout {
    ($ours:ty, $theirs:ty: $($field:ident)*) => {
        assert_eq!(size_of::<$ours>(), size_of::<$theirs>(), concat!("sizeof ", stringify!($ours)));
        $(
            assert_eq!(
                offset_of!($ours, $field),
                offset_of!($theirs, $field),
                concat!("offsetof(", stringify!($ours), ", ", stringify!($field), ")")
            );
        )*
    };
}

#[test]
fn structures_match_libc() {
    use uapi::*;
    same_layout!(stat::stat, libc::stat: st_dev st_ino st_nlink st_mode st_uid st_gid st_rdev
        st_size st_blksize st_blocks st_atime st_atime_nsec st_mtime st_mtime_nsec st_ctime
        st_ctime_nsec);
    same_layout!(sched::clone_args, libc::clone_args: flags pidfd child_tid parent_tid
        exit_signal stack stack_size tls set_tid set_tid_size cgroup);
    same_layout!(sched::sched_param, libc::sched_param: sched_priority);
    same_layout!(time::timespec, libc::timespec: tv_sec tv_nsec);
    same_layout!(time::timeval, libc::timeval: tv_sec tv_usec);
    same_layout!(resource::rlimit, libc::rlimit: rlim_cur rlim_max);
    same_layout!(resource::rlimit, libc::rlimit64: rlim_cur rlim_max);
    same_layout!(termios::winsize, libc::winsize: ws_row ws_col ws_xpixel ws_ypixel);
    same_layout!(uio::iovec, libc::iovec: iov_base iov_len);
    same_layout!(poll::pollfd, libc::pollfd: fd events revents);
    same_layout!(utsname::new_utsname, libc::utsname: sysname nodename release version machine
        domainname);
    same_layout!(signal::stack_t, libc::stack_t: ss_sp ss_flags ss_size);
    same_layout!(signal::siginfo_t, libc::siginfo_t: si_signo si_errno si_code);
    assert_eq!(offset_of!(dirent::linux_dirent64, d_name), offset_of!(libc::dirent64, d_name));
    assert_eq!(offset_of!(dirent::linux_dirent64, d_type), offset_of!(libc::dirent64, d_type));
}

#[test]
fn sizes_are_linuxs() {
    use uapi::*;
    assert_eq!(size_of::<sched::clone_args>(), 88);
    assert_eq!(size_of::<sched::clone_args>(), sched::CLONE_ARGS_SIZE_VER2);
    assert_eq!(offset_of!(sched::clone_args, set_tid), sched::CLONE_ARGS_SIZE_VER0);
    assert_eq!(offset_of!(sched::clone_args, cgroup), sched::CLONE_ARGS_SIZE_VER1);
    assert_eq!(size_of::<stat::stat>(), 144);
    assert_eq!(size_of::<signal::siginfo_t>(), 128);
    assert_eq!(size_of::<utsname::new_utsname>(), 6 * 65);
}

/// The kernel's `struct sigaction` (`include/linux/signal_types.h`,
/// `arch/x86/include/uapi/asm/signal.h`), `struct sigcontext`
/// (`asm/sigcontext.h`) and `struct ucontext` (`asm/ucontext.h`).
#[test]
fn signal_frame_structures_are_the_kernels() {
    use uapi::signal::{sigaction, sigcontext, ucontext};
    assert_eq!(size_of::<sigaction>(), 32);
    assert_eq!(offset_of!(sigaction, sa_flags), 8);
    assert_eq!(offset_of!(sigaction, sa_restorer), 16);
    assert_eq!(offset_of!(sigaction, sa_mask), 24);
    assert_eq!(size_of::<sigcontext>(), 256);
    assert_eq!(offset_of!(sigcontext, rdi), 64);
    assert_eq!(offset_of!(sigcontext, rsp), 120);
    assert_eq!(offset_of!(sigcontext, rip), 128);
    assert_eq!(offset_of!(sigcontext, eflags), 136);
    assert_eq!(offset_of!(sigcontext, cs), 144);
    assert_eq!(offset_of!(sigcontext, ss), 150);
    assert_eq!(offset_of!(sigcontext, err), 152);
    assert_eq!(offset_of!(sigcontext, oldmask), 168);
    assert_eq!(offset_of!(sigcontext, cr2), 176);
    assert_eq!(offset_of!(sigcontext, fpstate), 184);
    assert_eq!(offset_of!(ucontext, uc_stack), 16);
    assert_eq!(offset_of!(ucontext, uc_mcontext), 40);
    assert_eq!(offset_of!(ucontext, uc_sigmask), 296);
    assert_eq!(size_of::<ucontext>(), 304);
    // glibc's mcontext_t starts where the kernel's sigcontext does.
    assert_eq!(offset_of!(ucontext, uc_mcontext), offset_of!(libc::ucontext_t, uc_mcontext));
}

#[test]
fn tables_are_consistent() {
    use std::collections::HashMap;
    let mut seen = HashMap::new();
    for (module, constants) in uapi::ALL_CONSTANTS {
        for c in *constants {
            if let Some(other) = seen.insert(c.name, *module) {
                panic!("{} is defined in both uapi::{other} and uapi::{module}", c.name);
            }
        }
    }
    // Every clone flag is in the C header's table, and only those.
    let table = |name: &str, first: &str| {
        let mut tables = uapi::ALL_CONSTANTS.iter().filter(|(m, _)| *m == name);
        tables.find(|(_, t)| t[0].name == first).unwrap().1
    };
    let bits: u64 = table("sched", "CLONE_NEWTIME").iter().fold(0, |a, c| a | c.value as u64);
    assert_eq!(bits, uapi::sched::CloneFlags::all().bits());
    // Every errno has its name, and the names are Linux's.
    for c in table("errno", "EPERM") {
        let e = uapi::errno::Errno(c.value as i32);
        if c.name != "EWOULDBLOCK" && c.name != "EDEADLOCK" {
            assert_eq!(e.name(), Some(c.name));
        }
    }
    assert_eq!(uapi::errno::Errno::from_ret(-22), Some(uapi::errno::EINVAL));
    assert_eq!(uapi::errno::Errno::from_ret(-4096), None);
    assert_eq!(uapi::errno::Errno::from_ret(0), None);
    assert_eq!(uapi::errno::EINVAL.to_ret(), -22);
    assert_eq!(format!("{}", uapi::errno::EINTR), "EINTR");
    assert_eq!(format!("{}", uapi::errno::Errno(999)), "errno 999");
    // The x86-64 table: 0..=336 and 424..=470, nothing between.
    let nrs: Vec<i128> = table("unistd", "__NR_read").iter().map(|c| c.value).collect();
    assert!(nrs.windows(2).all(|w| w[0] < w[1]), "system calls in number order");
    let expected: Vec<i128> = (0..=336).chain(424..=470).collect();
    assert_eq!(nrs, expected);
}
