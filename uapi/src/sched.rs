//! Clone flags, `struct clone_args` and scheduling policies
//! (`include/uapi/linux/sched.h`), `struct sched_param`
//! (`linux/sched/types.h`). Each clone flag is defined once, in the list below,
//! which makes both the [`CloneFlags`] type and a plain `u64` constant of the
//! same name.

use crate::Constant;

macro_rules! clone_flags {
    ($( $(#[doc = $doc:literal])* $name:ident = $value:expr; )*) => {
        bitflags::bitflags! {
            /// The flags of `clone` (low 32 bits, with the exit signal in
            /// [`CSIGNAL`]) and `clone3` (`clone_args::flags`, 64 bits).
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
            pub struct CloneFlags: u64 {
                $( $(#[doc = $doc])* const $name = $value; )*
            }
        }

        $(
            $(#[doc = $doc])*
            ///
            /// The raw `u64` bit, for code that builds arbitrary flag words (a
            /// test of the kernel's checks); the kernel uses [`CloneFlags`].
            pub const $name: u64 = CloneFlags::$name.bits();
        )*

        /// Every clone flag (name, value, type), for the C header.
        pub(crate) const CLONE_FLAG_CONSTANTS: &[Constant] = &[
            $( Constant { name: stringify!($name), value: $value, ty: "u64" }, )*
        ];
    };
}

clone_flags! {
    /// A new time namespace (clone3 and unshare only: for clone the bit is
    /// part of [`CSIGNAL`]).
    CLONE_NEWTIME = 0x0000_0080;
    /// Share the address space.
    CLONE_VM = 0x0000_0100;
    /// Share the root, the working directory and the umask.
    CLONE_FS = 0x0000_0200;
    /// Share the file descriptor table.
    CLONE_FILES = 0x0000_0400;
    /// Share the signal handlers.
    CLONE_SIGHAND = 0x0000_0800;
    /// Return a pidfd of the child.
    CLONE_PIDFD = 0x0000_1000;
    /// Trace the child if the parent is traced.
    CLONE_PTRACE = 0x0000_2000;
    /// The parent sleeps until the child execs or exits.
    CLONE_VFORK = 0x0000_4000;
    /// The child's parent is the caller's parent.
    CLONE_PARENT = 0x0000_8000;
    /// The child is a thread of the caller's thread group.
    CLONE_THREAD = 0x0001_0000;
    /// A new mount namespace.
    CLONE_NEWNS = 0x0002_0000;
    /// Share System V semaphore adjustments.
    CLONE_SYSVSEM = 0x0004_0000;
    /// Set the child's TLS (FS base).
    CLONE_SETTLS = 0x0008_0000;
    /// Write the child's tid at `parent_tid` in the parent.
    CLONE_PARENT_SETTID = 0x0010_0000;
    /// Clear the child's tid at `child_tid` and wake a futex there when it exits.
    CLONE_CHILD_CLEARTID = 0x0020_0000;
    /// Ignored (historic); an error with `CLONE_PIDFD`.
    CLONE_DETACHED = 0x0040_0000;
    /// A tracer cannot force `CLONE_PTRACE` on the child.
    CLONE_UNTRACED = 0x0080_0000;
    /// Write the child's tid at `child_tid` in the child.
    CLONE_CHILD_SETTID = 0x0100_0000;
    /// A new cgroup namespace.
    CLONE_NEWCGROUP = 0x0200_0000;
    /// A new UTS namespace (host and domain name).
    CLONE_NEWUTS = 0x0400_0000;
    /// A new IPC namespace.
    CLONE_NEWIPC = 0x0800_0000;
    /// A new user namespace.
    CLONE_NEWUSER = 0x1000_0000;
    /// A new PID namespace.
    CLONE_NEWPID = 0x2000_0000;
    /// A new network namespace.
    CLONE_NEWNET = 0x4000_0000;
    /// Share the I/O context.
    CLONE_IO = 0x8000_0000;
    /// clone3 only: reset every handled signal to `SIG_DFL` in the child.
    CLONE_CLEAR_SIGHAND = 0x1_0000_0000;
    /// clone3 only: start the child in the cgroup `clone_args::cgroup`.
    CLONE_INTO_CGROUP = 0x2_0000_0000;
}

crate::constants! {
    /// `clone`: the low byte of the flags is the signal sent to the parent
    /// when the child exits.
    CSIGNAL: u64 = 0x0000_00ff;
    /// `sizeof(struct clone_args)` of its first version (up to `tls`).
    CLONE_ARGS_SIZE_VER0: usize = 64;
    /// ... with `set_tid` and `set_tid_size` (Linux 5.5).
    CLONE_ARGS_SIZE_VER1: usize = 80;
    /// ... with `cgroup` (Linux 5.7).
    CLONE_ARGS_SIZE_VER2: usize = 88;

    /// The default time-sharing policy (`SCHED_OTHER`).
    SCHED_NORMAL: u32 = 0;
    /// Real-time, first in first out.
    SCHED_FIFO: u32 = 1;
    /// Real-time, round robin.
    SCHED_RR: u32 = 2;
    /// Time-sharing for batch work (no wake-up preemption).
    SCHED_BATCH: u32 = 3;
    /// Lowest priority time-sharing.
    SCHED_IDLE: u32 = 5;
    /// Earliest deadline first.
    SCHED_DEADLINE: u32 = 6;
    /// OR-ed into the policy: children start with the default policy and nice
    /// 0 or above.
    SCHED_RESET_ON_FORK: u32 = 0x4000_0000;
}

/// `struct clone_args` for `clone3` (`CLONE_ARGS_SIZE_VER2`, 88 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct clone_args {
    /// [`CloneFlags`] bits.
    pub flags: u64,
    /// Where to store the pidfd (`CLONE_PIDFD`).
    pub pidfd: u64,
    /// Where to store the child's tid in the child (`CLONE_CHILD_SETTID`,
    /// `CLONE_CHILD_CLEARTID`).
    pub child_tid: u64,
    /// Where to store the child's tid in the parent (`CLONE_PARENT_SETTID`).
    pub parent_tid: u64,
    /// The signal sent to the parent when the child exits.
    pub exit_signal: u64,
    /// The lowest address of the child's stack.
    pub stack: u64,
    /// The size of the child's stack.
    pub stack_size: u64,
    /// The child's TLS (`CLONE_SETTLS`).
    pub tls: u64,
    /// An array of pids to ask for, one per PID namespace level.
    pub set_tid: u64,
    /// The length of `set_tid`.
    pub set_tid_size: u64,
    /// The cgroup fd (`CLONE_INTO_CGROUP`).
    pub cgroup: u64,
}

/// `struct sched_param`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct sched_param {
    /// The real-time priority (1..=99 for `SCHED_FIFO`/`SCHED_RR`, else 0).
    pub sched_priority: i32,
}

const _: () = {
    assert!(core::mem::size_of::<clone_args>() == CLONE_ARGS_SIZE_VER2);
    assert!(core::mem::size_of::<sched_param>() == 4);
};
