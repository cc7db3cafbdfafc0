//! The Linux x86-64 system-call table: numbers, argument decoding, errno
//! encoding. Each call is implemented in the module of what it acts on.

pub mod futex;
mod info;
mod mm;
mod process;
mod sched;
mod time;

use crate::arch::TrapFrame;
use crate::counters as ctr;
use crate::errno::{Errno, ENOSYS};

/// Arguments in the `syscall` register convention.
#[derive(Clone, Copy, Debug)]
pub struct Args {
    pub a: [u64; 6],
}

impl Args {
    pub fn u(&self, i: usize) -> u64 {
        self.a[i]
    }
    pub fn i32(&self, i: usize) -> i32 {
        self.a[i] as i32
    }
    pub fn u32(&self, i: usize) -> u32 {
        self.a[i] as u32
    }
}

pub type SysResult = Result<u64, Errno>;

/// Linux x86-64 numbers used by this kernel.
pub mod nr {
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const OPEN: u64 = 2;
    pub const CLOSE: u64 = 3;
    pub const STAT: u64 = 4;
    pub const FSTAT: u64 = 5;
    pub const LSTAT: u64 = 6;
    pub const LSEEK: u64 = 8;
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const MUNMAP: u64 = 11;
    pub const BRK: u64 = 12;
    pub const RT_SIGACTION: u64 = 13;
    pub const RT_SIGPROCMASK: u64 = 14;
    pub const IOCTL: u64 = 16;
    pub const PREAD64: u64 = 17;
    pub const PWRITE64: u64 = 18;
    pub const READV: u64 = 19;
    pub const WRITEV: u64 = 20;
    pub const ACCESS: u64 = 21;
    pub const PIPE: u64 = 22;
    pub const SCHED_YIELD: u64 = 24;
    pub const DUP: u64 = 32;
    pub const DUP2: u64 = 33;
    pub const NANOSLEEP: u64 = 35;
    pub const GETPID: u64 = 39;
    pub const EXECVE: u64 = 59;
    pub const EXIT: u64 = 60;
    pub const KILL: u64 = 62;
    pub const UNAME: u64 = 63;
    pub const FCNTL: u64 = 72;
    pub const GETCWD: u64 = 79;
    pub const CHDIR: u64 = 80;
    pub const MKDIR: u64 = 83;
    pub const RMDIR: u64 = 84;
    pub const UNLINK: u64 = 87;
    pub const UMASK: u64 = 95;
    pub const GETTIMEOFDAY: u64 = 96;
    pub const GETRLIMIT: u64 = 97;
    pub const GETUID: u64 = 102;
    pub const GETGID: u64 = 104;
    pub const SETUID: u64 = 105;
    pub const SETGID: u64 = 106;
    pub const GETEUID: u64 = 107;
    pub const GETEGID: u64 = 108;
    pub const GETPPID: u64 = 110;
    pub const ARCH_PRCTL: u64 = 158;
    pub const SETRLIMIT: u64 = 160;
    pub const GETTID: u64 = 186;
    pub const TKILL: u64 = 200;
    pub const TIME: u64 = 201;
    pub const FUTEX: u64 = 202;
    pub const GETDENTS64: u64 = 217;
    pub const SET_TID_ADDRESS: u64 = 218;
    pub const CLOCK_GETTIME: u64 = 228;
    pub const CLOCK_GETRES: u64 = 229;
    pub const CLOCK_NANOSLEEP: u64 = 230;
    pub const EXIT_GROUP: u64 = 231;
    pub const TGKILL: u64 = 234;
    pub const OPENAT: u64 = 257;
    pub const MKDIRAT: u64 = 258;
    pub const NEWFSTATAT: u64 = 262;
    pub const UNLINKAT: u64 = 263;
    pub const FACCESSAT: u64 = 269;
    pub const DUP3: u64 = 292;
    pub const PIPE2: u64 = 293;
    pub const PRLIMIT64: u64 = 302;
    pub const GETRANDOM: u64 = 318;
    pub const CLONE: u64 = 56;
    pub const FORK: u64 = 57;
    pub const VFORK: u64 = 58;
    pub const WAIT4: u64 = 61;
    pub const SETPGID: u64 = 109;
    pub const GETPGRP: u64 = 111;
    pub const SETSID: u64 = 112;
    pub const GETPGID: u64 = 121;
    pub const GETSID: u64 = 124;
    pub const PRCTL: u64 = 157;
    pub const WAITID: u64 = 247;
    pub const CLONE3: u64 = 435;
    pub const RT_SIGRETURN: u64 = 15;
    pub const RT_SIGPENDING: u64 = 127;
    pub const SIGALTSTACK: u64 = 131;
    pub const GETPRIORITY: u64 = 140;
    pub const SETPRIORITY: u64 = 141;
    pub const SCHED_SETPARAM: u64 = 142;
    pub const SCHED_GETPARAM: u64 = 143;
    pub const SCHED_SETSCHEDULER: u64 = 144;
    pub const SCHED_GETSCHEDULER: u64 = 145;
    pub const SCHED_GET_PRIORITY_MAX: u64 = 146;
    pub const SCHED_GET_PRIORITY_MIN: u64 = 147;
    pub const SCHED_RR_GET_INTERVAL: u64 = 148;
    pub const SCHED_SETAFFINITY: u64 = 203;
    pub const SCHED_GETAFFINITY: u64 = 204;
    pub const GETCPU: u64 = 309;
    pub const SETHOSTNAME: u64 = 170;
    pub const SETDOMAINNAME: u64 = 171;
    pub const UNSHARE: u64 = 272;
}

/// Run the system call in `frame` (number in rax, arguments in rdi, rsi, rdx,
/// r10, r8, r9) and put the result, or `-errno`, in rax.
pub fn do_syscall(frame: &mut TrapFrame, entry_rip: u64, entry_rsp: u64) {
    let number = frame.rax;
    if let Some(t) = crate::sched::current() {
        *t.syscall_restart.lock() = (number, entry_rip, entry_rsp);
    }
    let args = Args { a: [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9] };
    let cpu = crate::arch::cpu_id();
    ctr::cpu_add(cpu, ctr::CPU_SYSCALLS, 1);
    ctr::syscall_counted(number);
    let result = dispatch(number, &args, frame);
    if result == Err(ENOSYS) {
        ctr::syscall_enosys(number);
    }
    if result == Err(crate::process::signal::ERESTARTSYS) {
        if let Some(t) = crate::sched::current() {
            t.restart_pending.store(true, core::sync::atomic::Ordering::Relaxed);
        }
    }
    frame.rax = match result {
        Ok(v) => v,
        Err(e) => (-(e as i64)) as u64,
    };
}

fn dispatch(number: u64, a: &Args, frame: &mut TrapFrame) -> SysResult {
    use nr::*;
    match number {
        EXIT => process::exit(a),
        EXIT_GROUP => process::exit_group(a),
        GETPID => process::getpid(),
        GETPPID => process::getppid(),
        GETTID => process::gettid(),
        GETUID => process::getuid(),
        GETEUID => process::geteuid(),
        GETGID => process::getgid(),
        GETEGID => process::getegid(),
        SETUID => process::setuid(a),
        SETGID => process::setgid(a),
        SET_TID_ADDRESS => process::set_tid_address(a),
        ARCH_PRCTL => process::arch_prctl(a),
        KILL => process::kill(a),
        FORK => process::fork(frame),
        VFORK => process::vfork(frame),
        CLONE => process::clone(a, frame),
        CLONE3 => process::clone3(a, frame),
        WAIT4 => process::wait4(a),
        WAITID => process::waitid(a),
        GETPGID => process::getpgid(a),
        GETPGRP => process::getpgid(&Args { a: [0; 6] }),
        SETPGID => process::setpgid(a),
        GETSID => process::getsid(a),
        SETSID => process::setsid(),
        PRCTL => process::prctl(a),
        RT_SIGACTION => process::rt_sigaction(a),
        RT_SIGPROCMASK => process::rt_sigprocmask(a),
        RT_SIGPENDING => process::rt_sigpending(a),
        RT_SIGRETURN => process::rt_sigreturn(frame),
        SIGALTSTACK => process::sigaltstack(a, frame),
        TKILL => process::tkill(a),
        TGKILL => process::tgkill(a),
        UNAME => info::uname(a),
        SETHOSTNAME => info::sethostname(a),
        SETDOMAINNAME => info::setdomainname(a),
        UNSHARE => process::unshare(a),
        GETRANDOM => info::getrandom(a),
        PRLIMIT64 => info::prlimit64(a),
        GETRLIMIT => info::getrlimit(a),
        SETRLIMIT => info::setrlimit(a),
        SCHED_YIELD => sched::sched_yield(),
        SCHED_SETPARAM => sched::sched_setparam(a),
        SCHED_GETPARAM => sched::sched_getparam(a),
        SCHED_SETSCHEDULER => sched::sched_setscheduler(a),
        SCHED_GETSCHEDULER => sched::sched_getscheduler(a),
        SCHED_GET_PRIORITY_MAX => sched::sched_get_priority_max(a),
        SCHED_GET_PRIORITY_MIN => sched::sched_get_priority_min(a),
        SCHED_RR_GET_INTERVAL => sched::sched_rr_get_interval(a),
        SCHED_SETAFFINITY => sched::sched_setaffinity(a),
        SCHED_GETAFFINITY => sched::sched_getaffinity(a),
        GETCPU => sched::getcpu(a),
        GETPRIORITY => sched::getpriority(a),
        SETPRIORITY => sched::setpriority(a),
        CLOCK_GETTIME => time::clock_gettime(a),
        CLOCK_GETRES => time::clock_getres(a),
        GETTIMEOFDAY => time::gettimeofday(a),
        TIME => time::time(a),
        NANOSLEEP => time::nanosleep(a),
        CLOCK_NANOSLEEP => time::clock_nanosleep(a),
        FUTEX => futex::futex(a),
        BRK => mm::brk(a),
        MMAP => mm::mmap(a),
        MUNMAP => mm::munmap(a),
        MPROTECT => mm::mprotect(a),
        _ => crate::fs::syscalls::dispatch(number, a, frame),
    }
}
