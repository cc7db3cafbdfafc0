//! User-space support for the test programs that run both on Linux and in the
//! guest kernel: program entry, system calls, printing, a panic handler and a small
//! check reporter.
//!
//! A program is a `#![no_std] #![no_main]` binary for target `x86_64-unknown-none`:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use userspace::{println, Args, Env};
//!
//! userspace::entry!(main);
//!
//! fn main(args: Args, _env: Env) -> i32 {
//!     println!("argc {}", args.len());
//!     0
//! }
//! ```
//!
//! System calls go through the entry the kernel passes in the auxiliary vector as
//! `AT_SYSINFO` (`call *entry` with the registers of the `syscall` instruction),
//! or through the `syscall` instruction when there is none (Linux); see
//! [`syscall`]. On other targets than `x86_64-unknown-none` this is a plain
//! `no_std` library (no `_start`, no panic handler), so the host can build and
//! unit-test it.
#![cfg_attr(not(test), no_std)]

pub mod abi;
pub mod calls;
pub mod check;
pub mod coord;
pub mod errno;
pub mod fuzz;
pub mod io;
/// Linux x86-64 system-call numbers ([`uapi::unistd`]: `nr::__NR_clone3`).
pub use uapi::unistd as nr;
pub mod rt;
pub mod sched;
pub mod syscall;
pub mod text;
pub mod thread;

pub use abi::*;
pub use calls::*;
pub use check::Checker;
pub use coord::*;
pub use errno::*;
pub use io::{decimal_cstr, Bytes};
#[cfg(target_os = "none")]
pub use rt::_start;
pub use rt::{auxv, Args, Env};

/// Declares the program's `main`: `fn main(args: Args, env: Env) -> i32`. Its
/// return value is the process's exit status (`exit_group`).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub fn __userspace_main(args: $crate::Args, env: $crate::Env) -> i32 {
            let main: fn($crate::Args, $crate::Env) -> i32 = $main;
            main(args, env)
        }

        // Keeps the library's `_start` in the link whatever the profile.
        #[cfg(target_os = "none")]
        #[used]
        static __USERSPACE_START: unsafe extern "C" fn() -> ! = $crate::_start;
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn errno_names_and_results() {
        assert_eq!(EINVAL.name(), Some("EINVAL"));
        assert_eq!(std::format!("{}", Errno(999)), "errno 999");
        assert_eq!(errno::result(-22), Err(EINVAL));
        assert_eq!(errno::result(5), Ok(5));
        // A high user address is a success, not an error.
        assert_eq!(errno::result(-4096), Ok(-4096isize as usize));
    }

    #[test]
    fn syscalls_through_the_syscall_instruction() {
        assert_eq!(getpid().unwrap(), std::process::id() as usize);
        assert!(gettid().unwrap() > 0);
        let [r, w] = pipe2(O_CLOEXEC).unwrap();
        assert_eq!(write(w, b"ping").unwrap(), 4);
        let mut buf = [0u8; 8];
        assert_eq!(read(r, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        assert_eq!(close(r).unwrap(), 0);
        assert_eq!(close(w).unwrap(), 0);
        assert_eq!(close(w), Err(EBADF));
        // SAFETY: an unknown number does nothing.
        assert_eq!(errno::result(unsafe { syscall::syscall0(1000) }), Err(ENOSYS));
    }

    // An AT_SYSINFO-style entry for the host: `syscall; ret`.
    core::arch::global_asm!(
        ".globl userspace_test_entry",
        "userspace_test_entry:",
        "syscall",
        "ret",
    );
    unsafe extern "C" {
        fn userspace_test_entry();
    }

    #[test]
    fn syscalls_through_an_entry() {
        let pid = getpid().unwrap();
        // SAFETY: the stub follows the entry's contract (syscall registers, ret).
        unsafe { syscall::set_entry(userspace_test_entry as *const () as usize) };
        assert!(syscall::entry().is_some());
        let through = getpid();
        let bad = close(-1);
        // SAFETY: back to the syscall instruction.
        unsafe { syscall::set_entry(0) };
        assert_eq!(through, Ok(pid));
        assert_eq!(bad, Err(EBADF));
    }

    #[test]
    fn line_writer_buffers_and_splits() {
        let mut w = io::LineWriter::new(1);
        write!(w, "a {} b", 42).unwrap();
        assert_eq!(w.pending(), b"a 42 b");
        assert_eq!(std::format!("{}", Bytes(b"x\xffy")), "x\u{FFFD}y");
    }

    #[test]
    fn dirents_parse_getdents64() {
        let fd = openat(AT_FDCWD, c"/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0).unwrap() as i32;
        let mut buf = [0u8; 4096];
        let n = getdents64(fd, &mut buf).unwrap();
        let names: std::vec::Vec<_> = Dirents::new(&buf[..n]).map(|d| d.name.to_vec()).collect();
        assert!(names.iter().any(|n| n == b"."), "{names:?}");
        assert!(names.iter().any(|n| n == b".."), "{names:?}");
        close(fd).unwrap();
    }
}
