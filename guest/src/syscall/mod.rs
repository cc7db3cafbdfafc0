//! The Linux x86-64 system-call table: numbers, argument decoding, errno
//! encoding. Each call is implemented in the module of what it acts on.

mod fs;
mod futex;
mod info;
mod mm;
mod process;
mod sched;
mod time;

use crate::arch::TrapFrame;
use crate::counters as ctr;
use crate::errno::{Errno, ENOSYS};
use uapi::fcntl::{AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW};

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

/// Linux x86-64 system-call numbers ([`uapi::unistd`]).
pub use uapi::unistd as nr;

/// Run the system call in `frame` (number in rax, arguments in rdi, rsi, rdx,
/// r10, r8, r9) and put the result, or `-errno`, in rax.
pub fn do_syscall(frame: &mut TrapFrame, entry_rip: u64, entry_rsp: u64) {
    // Linux takes the number from eax (its entry sign-extends it to an int):
    // the upper half of rax does not select another call.
    let number = frame.rax as u32 as u64;
    if let Some(t) = crate::process::current() {
        t.syscall_restart.set(number, entry_rip, entry_rsp);
    }
    let args = Args { a: [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9] };
    let cpu = crate::arch::cpu_id();
    ctr::cpu_add(cpu, ctr::CPU_SYSCALLS, 1);
    ctr::syscall_counted(number);
    let result = dispatch(number, &args, frame);
    frame.rax = match result {
        Ok(v) => v,
        Err(e) => {
            syscall_failed(number, e);
            e.to_ret() as u64
        }
    };
}

/// Bookkeeping for a failed call, out of the common path: unknown numbers
/// are counted; an interrupted call is marked for restart (after the signal,
/// by `do_signal`).
#[inline(never)]
fn syscall_failed(number: u64, e: Errno) {
    use crate::process::signal::{ERESTARTNOHAND, ERESTARTSYS, ERESTART_RESTARTBLOCK};
    if e == ENOSYS {
        ctr::syscall_enosys(number);
    }
    if e == ERESTARTSYS || e == ERESTARTNOHAND || e == ERESTART_RESTARTBLOCK {
        if let Some(t) = crate::process::current() {
            use core::sync::atomic::Ordering::Relaxed;
            t.restart_pending.store(true, Relaxed);
            if e != ERESTARTSYS {
                t.restart_nohand.store(true, Relaxed);
            }
            if e == ERESTART_RESTARTBLOCK {
                t.restart_via_block.store(true, Relaxed);
            }
        }
    }
}

fn dispatch(number: u64, a: &Args, frame: &mut TrapFrame) -> SysResult {
    match number as usize {
        nr::__NR_exit => process::exit(a),
        nr::__NR_exit_group => process::exit_group(a),
        nr::__NR_getpid => process::getpid(),
        nr::__NR_getppid => process::getppid(),
        nr::__NR_gettid => process::gettid(),
        nr::__NR_getuid => process::getuid(),
        nr::__NR_geteuid => process::geteuid(),
        nr::__NR_getgid => process::getgid(),
        nr::__NR_getegid => process::getegid(),
        nr::__NR_setuid => process::setuid(a),
        nr::__NR_setgid => process::setgid(a),
        nr::__NR_set_tid_address => process::set_tid_address(a),
        nr::__NR_arch_prctl => process::arch_prctl(a),
        nr::__NR_kill => process::kill(a),
        nr::__NR_fork => process::fork(frame),
        nr::__NR_vfork => process::vfork(frame),
        nr::__NR_clone => process::clone(a, frame),
        nr::__NR_clone3 => process::clone3(a, frame),
        nr::__NR_wait4 => process::wait4(a),
        nr::__NR_getrusage => process::getrusage(a),
        nr::__NR_waitid => process::waitid(a),
        nr::__NR_getpgid => process::getpgid(a),
        nr::__NR_getpgrp => process::getpgid(&Args { a: [0; 6] }),
        nr::__NR_setpgid => process::setpgid(a),
        nr::__NR_getsid => process::getsid(a),
        nr::__NR_setsid => process::setsid(),
        nr::__NR_prctl => process::prctl(a),
        nr::__NR_rt_sigaction => process::rt_sigaction(a),
        nr::__NR_rt_sigprocmask => process::rt_sigprocmask(a),
        nr::__NR_rt_sigpending => process::rt_sigpending(a),
        nr::__NR_rt_sigsuspend => process::rt_sigsuspend(a),
        nr::__NR_pause => process::pause(),
        nr::__NR_rt_sigreturn => process::rt_sigreturn(frame),
        nr::__NR_sigaltstack => process::sigaltstack(a, frame),
        nr::__NR_tkill => process::tkill(a),
        nr::__NR_tgkill => process::tgkill(a),
        nr::__NR_uname => info::uname(a),
        nr::__NR_sethostname => info::sethostname(a),
        nr::__NR_setdomainname => info::setdomainname(a),
        nr::__NR_unshare => process::unshare(a),
        nr::__NR_setns => process::setns(a),
        nr::__NR_pidfd_open => process::pidfd_open(a),
        nr::__NR_pidfd_send_signal => process::pidfd_send_signal(a),
        nr::__NR_pidfd_getfd => process::pidfd_getfd(a),
        nr::__NR_getrandom => info::getrandom(a),
        nr::__NR_prlimit64 => info::prlimit64(a),
        nr::__NR_getrlimit => info::getrlimit(a),
        nr::__NR_setrlimit => info::setrlimit(a),
        nr::__NR_sched_yield => sched::sched_yield(),
        nr::__NR_sched_setparam => sched::sched_setparam(a),
        nr::__NR_sched_getparam => sched::sched_getparam(a),
        nr::__NR_sched_setscheduler => sched::sched_setscheduler(a),
        nr::__NR_sched_getscheduler => sched::sched_getscheduler(a),
        nr::__NR_sched_get_priority_max => sched::sched_get_priority_max(a),
        nr::__NR_sched_get_priority_min => sched::sched_get_priority_min(a),
        nr::__NR_sched_rr_get_interval => sched::sched_rr_get_interval(a),
        nr::__NR_sched_setaffinity => sched::sched_setaffinity(a),
        nr::__NR_sched_getaffinity => sched::sched_getaffinity(a),
        nr::__NR_getcpu => sched::getcpu(a),
        nr::__NR_getpriority => sched::getpriority(a),
        nr::__NR_setpriority => sched::setpriority(a),
        nr::__NR_clock_gettime => time::clock_gettime(a),
        nr::__NR_clock_getres => time::clock_getres(a),
        nr::__NR_gettimeofday => time::gettimeofday(a),
        nr::__NR_time => time::time(a),
        nr::__NR_nanosleep => time::nanosleep(a),
        nr::__NR_clock_nanosleep => time::clock_nanosleep(a),
        nr::__NR_restart_syscall => time::restart_syscall(),
        nr::__NR_getitimer => time::getitimer(a),
        nr::__NR_setitimer => time::setitimer(a),
        nr::__NR_alarm => time::alarm(a),
        nr::__NR_timer_create => time::timer_create(a),
        nr::__NR_timer_settime => time::timer_settime(a),
        nr::__NR_timer_gettime => time::timer_gettime(a),
        nr::__NR_timer_getoverrun => time::timer_getoverrun(a),
        nr::__NR_timer_delete => time::timer_delete(a),
        nr::__NR_futex => futex::futex(a),
        nr::__NR_brk => mm::brk(a),
        nr::__NR_mmap => mm::mmap(a),
        nr::__NR_munmap => mm::munmap(a),
        nr::__NR_msync => mm::msync(a),
        nr::__NR_mprotect => mm::mprotect(a),
        nr::__NR_read => fs::read(a.i32(0), a.u(1), a.u(2) as usize),
        nr::__NR_write => fs::write(a.i32(0), a.u(1), a.u(2) as usize),
        nr::__NR_pread64 => fs::pread(a.i32(0), a.u(1), a.u(2) as usize, a.u(3) as i64),
        nr::__NR_pwrite64 => fs::pwrite(a.i32(0), a.u(1), a.u(2) as usize, a.u(3) as i64),
        nr::__NR_readv => fs::readv(a.i32(0), a.u(1), a.i32(2)),
        nr::__NR_writev => fs::writev(a.i32(0), a.u(1), a.i32(2)),
        nr::__NR_open => fs::openat(AT_FDCWD, a.u(0), a.u32(1), a.u32(2)),
        nr::__NR_openat => fs::openat(a.i32(0), a.u(1), a.u32(2), a.u32(3)),
        nr::__NR_close => fs::close(a.i32(0)),
        nr::__NR_lseek => fs::lseek(a.i32(0), a.u(1) as i64, a.u32(2)),
        nr::__NR_fstat => fs::fstat(a.i32(0), a.u(1)),
        nr::__NR_stat | nr::__NR_lstat => fs::newfstatat(AT_FDCWD, a.u(0), a.u(1), 0),
        nr::__NR_newfstatat => fs::newfstatat(a.i32(0), a.u(1), a.u(2), a.u32(3)),
        nr::__NR_getdents64 => fs::getdents64(a.i32(0), a.u(1), a.u(2) as usize),
        nr::__NR_mkdir => fs::mkdirat(AT_FDCWD, a.u(0), a.u32(1)),
        nr::__NR_mkdirat => fs::mkdirat(a.i32(0), a.u(1), a.u32(2)),
        nr::__NR_unlink => fs::unlinkat(AT_FDCWD, a.u(0), 0),
        nr::__NR_rmdir => fs::unlinkat(AT_FDCWD, a.u(0), AT_REMOVEDIR),
        nr::__NR_unlinkat => fs::unlinkat(a.i32(0), a.u(1), a.u32(2)),
        nr::__NR_pipe => fs::pipe2(a.u(0), 0),
        nr::__NR_pipe2 => fs::pipe2(a.u(0), a.u32(1)),
        nr::__NR_dup => fs::dup(a.i32(0)),
        nr::__NR_dup2 => fs::dup2(a.i32(0), a.i32(1)),
        nr::__NR_dup3 => fs::dup3(a.i32(0), a.i32(1), a.u32(2)),
        nr::__NR_fcntl => fs::fcntl(a.i32(0), a.u32(1), a.u(2)),
        nr::__NR_ioctl => fs::ioctl(a.i32(0), a.u(1), a.u(2)),
        nr::__NR_getcwd => fs::getcwd(a.u(0), a.u(1) as usize),
        nr::__NR_chdir => fs::chdir(a.u(0)),
        nr::__NR_access => fs::faccessat(AT_FDCWD, a.u(0), a.u32(1), 0),
        nr::__NR_faccessat => fs::faccessat(a.i32(0), a.u(1), a.u32(2), a.u32(3)),
        nr::__NR_readlink => fs::readlinkat(AT_FDCWD, a.u(0), a.u(1), a.i32(2)),
        nr::__NR_readlinkat => fs::readlinkat(a.i32(0), a.u(1), a.u(2), a.i32(3)),
        nr::__NR_mount => fs::mount(a.u(0), a.u(1), a.u(2), a.u(3), a.u(4)),
        nr::__NR_umount2 => fs::umount2(a.u(0), a.u32(1)),
        nr::__NR_chmod => fs::fchmodat(AT_FDCWD, a.u(0), a.u32(1), 0),
        nr::__NR_fchmod => fs::fchmod(a.i32(0), a.u32(1)),
        nr::__NR_fchmodat => fs::fchmodat(a.i32(0), a.u(1), a.u32(2), 0),
        nr::__NR_fchmodat2 => fs::fchmodat(a.i32(0), a.u(1), a.u32(2), a.u32(3)),
        nr::__NR_chown => fs::fchownat(AT_FDCWD, a.u(0), a.u32(1), a.u32(2), 0),
        nr::__NR_lchown => fs::fchownat(AT_FDCWD, a.u(0), a.u32(1), a.u32(2), AT_SYMLINK_NOFOLLOW),
        nr::__NR_fchown => fs::fchown(a.i32(0), a.u32(1), a.u32(2)),
        nr::__NR_fchownat => fs::fchownat(a.i32(0), a.u(1), a.u32(2), a.u32(3), a.u32(4)),
        nr::__NR_truncate => fs::truncate(a.u(0), a.u(1) as i64),
        nr::__NR_ftruncate => fs::ftruncate(a.i32(0), a.u(1) as i64),
        nr::__NR_statfs => fs::statfs(a.u(0), a.u(1)),
        nr::__NR_fstatfs => fs::fstatfs(a.i32(0), a.u(1)),
        nr::__NR_poll => fs::poll(a.u(0), a.u(1), a.i32(2)),
        nr::__NR_ppoll => fs::ppoll(a.u(0), a.u(1), a.u(2), a.u(3), a.u(4)),
        nr::__NR_umask => fs::umask(a.u32(0)),
        nr::__NR_execve => crate::exec::execve(a.u(0), a.u(1), a.u(2), frame),
        nr::__NR_ptrace => {
            crate::process::ptrace::sys_ptrace(a.u(0), a.u(1) as i64, a.u(2), a.u(3))
        }
        _ => Err(ENOSYS),
    }
}
