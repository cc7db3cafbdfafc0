//! The Linux x86-64 user-space ABI, as Linux's `include/uapi` headers define it:
//! the one definition of every system-call number, errno, flag, code and
//! `#[repr(C)]` structure that the guest kernel and the user programs share.
//! `userspace/include/kvmfork_uapi.h` (the C programs' constants) is generated
//! from it (`tests/c_header.rs`).
//!
//! Modules are named after the header a reader finds the value in
//! (`fcntl` ↔ `include/uapi/asm-generic/fcntl.h`, `sched` ↔ `linux/sched.h`,
//! `unistd` ↔ `asm/unistd_64.h`, ...), constants after Linux's macros.
//!
//! Types. Linux's macros have no type of their own; here a value has the type
//! bindgen gives it from Linux's headers (the convention of the `linux-raw-sys`
//! crate): `u32`, or `i32` when it is negative — except where the ABI puts it
//! in a field or register of another width, which then decides:
//! system-call numbers, sizes and pointers (`SIG_DFL`) are `usize`; clone
//! flags, `sa_flags`, `rlim_t` and auxiliary-vector types are `u64`;
//! `si_code` and `ss_flags` values are `i32` (C `int` fields; some codes are
//! negative); `d_type` is `u8`; ELF header fields have their `Elf64_*` widths.
//! Errors are [`errno::Errno`] (with the `-errno` conversions), clone flags
//! [`sched::CloneFlags`] (and a raw `u64` of each flag, for building arbitrary
//! flag words).
//!
//! [`ALL_CONSTANTS`] lists every plain constant (name, value, Rust type) by
//! module: the C header is generated from it and the tests check it.
#![no_std]
#![warn(missing_docs)]

pub mod auxvec;
pub mod binfmts;
pub mod dirent;
pub mod elf;
pub mod errno;
pub mod fcntl;
pub mod fs;
pub mod futex;
pub mod limits;
pub mod mman;
pub mod mount;
pub mod pidfd;
pub mod poll;
pub mod prctl;
pub mod ptrace;
pub mod random;
pub mod resource;
pub mod sched;
pub mod signal;
pub mod stat;
pub mod statfs;
pub mod termios;
pub mod time;
pub mod uio;
pub mod unistd;
pub mod utsname;
pub mod wait;

/// One named constant of a module's `CONSTANTS` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constant {
    /// Linux's name (`O_CREAT`, `__NR_clone3`).
    pub name: &'static str,
    /// Its value (every constant here fits an `i128`).
    pub value: i128,
    /// Its Rust type (`"u32"`, `"i32"`, `"u64"`, `"usize"`, ...).
    pub ty: &'static str,
}

/// Defines plain constants and the module's `CONSTANTS` table of them.
macro_rules! constants {
    ($( $(#[$meta:meta])* $name:ident : $ty:ty = $value:expr; )*) => {
        $( $(#[$meta])* pub const $name: $ty = $value; )*

        /// Every plain constant of this module (name, value, type), in
        /// definition order (listed by [`crate::ALL_CONSTANTS`]).
        pub(crate) const CONSTANTS: &[$crate::Constant] = &[
            $( $crate::Constant { name: stringify!($name), value: $name as i128, ty: stringify!($ty) }, )*
        ];
    };
}
pub(crate) use constants;

/// Every plain constant, by module (clone flags as the `sched` module's
/// second table), in the order the C header lists them.
pub const ALL_CONSTANTS: &[(&str, &[Constant])] = &[
    ("unistd", unistd::CONSTANTS),
    ("errno", errno::CONSTANTS),
    ("fcntl", fcntl::CONSTANTS),
    ("fs", fs::CONSTANTS),
    ("stat", stat::CONSTANTS),
    ("statfs", statfs::CONSTANTS),
    ("dirent", dirent::CONSTANTS),
    ("mman", mman::CONSTANTS),
    ("mount", mount::CONSTANTS),
    ("time", time::CONSTANTS),
    ("random", random::CONSTANTS),
    ("termios", termios::CONSTANTS),
    ("resource", resource::CONSTANTS),
    ("futex", futex::CONSTANTS),
    ("prctl", prctl::CONSTANTS),
    ("signal", signal::CONSTANTS),
    ("wait", wait::CONSTANTS),
    ("ptrace", ptrace::CONSTANTS),
    ("sched", sched::CONSTANTS),
    ("sched", sched::CLONE_FLAG_CONSTANTS),
    ("utsname", utsname::CONSTANTS),
    ("limits", limits::CONSTANTS),
    ("uio", uio::CONSTANTS),
    ("poll", poll::CONSTANTS),
    ("pidfd", pidfd::CONSTANTS),
    ("binfmts", binfmts::CONSTANTS),
    ("auxvec", auxvec::CONSTANTS),
    ("elf", elf::CONSTANTS),
];
