//! Coordinating the processes of a test program: pipes that carry "go" bytes
//! and small reports between parent and child, polling for a state the kernel
//! reaches a moment after what a program can wait for, and reaping.

use crate::abi::{timespec, WaitStatus, AT_FDCWD, O_CLOEXEC, O_WRONLY, SIGKILL, WNOHANG};
use crate::calls::{
    close, getpid, kill, monotonic_ns, nanosleep, openat, pipe2, read, wait4, write,
};
use crate::check::Checker;

/// A close-on-exec pipe, `[read end, write end]` (`[-1, -1]` if it failed: the
/// checks that use it then fail visibly).
pub fn pipe() -> [i32; 2] {
    pipe2(O_CLOEXEC).unwrap_or([-1, -1])
}

pub fn close_all(fds: &[i32]) {
    for &fd in fds {
        let _ = close(fd);
    }
}

pub fn put_byte(fd: i32, b: u8) -> bool {
    write(fd, &[b]) == Ok(1)
}

pub fn get_byte(fd: i32) -> Option<u8> {
    let mut b = [0u8; 1];
    match read(fd, &mut b) {
        Ok(1) => Some(b[0]),
        _ => None,
    }
}

pub fn put_u32(fd: i32, v: u32) -> bool {
    write(fd, &v.to_ne_bytes()) == Ok(4)
}

pub fn get_u32(fd: i32) -> Option<u32> {
    let mut b = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        match read(fd, &mut b[n..]) {
            Ok(0) | Err(_) => return None,
            Ok(k) => n += k,
        }
    }
    Some(u32::from_ne_bytes(b))
}

/// Block until `fd` has a byte or reaches end of file (a child waiting for its
/// parent's go, or for the parent to die).
pub fn wait_on(fd: i32) {
    let _ = get_byte(fd);
}

/// Sleep one millisecond.
pub fn nap() {
    sleep_ms(1);
}

/// Sleep `ms` milliseconds (less if a signal's handler interrupts it).
pub fn sleep_ms(ms: u64) {
    let _ = nanosleep(&timespec::from_nanos(ms * 1_000_000), None);
}

/// Spin in user mode until `counter` reaches `n` or 30 s of real time pass
/// (a generous bound: a loaded or emulated host gives a program little
/// CPU); whether it did. For what counts CPU time: CPU-time timers,
/// rusage.
pub fn spin_until(counter: &core::sync::atomic::AtomicU32, n: u32) -> bool {
    let end = monotonic_ns() + 30_000_000_000;
    let mut x = 0u64;
    while counter.load(core::sync::atomic::Ordering::SeqCst) < n {
        for i in 0..10_000 {
            x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        if monotonic_ns() > end {
            return false;
        }
    }
    true
}

/// Whether `cond` becomes true within 2 s (polled every millisecond).
pub fn eventually(cond: impl Fn() -> bool) -> bool {
    let deadline = monotonic_ns() + 2_000_000_000;
    loop {
        if cond() {
            return true;
        }
        if monotonic_ns() > deadline {
            return false;
        }
        nap();
    }
}

/// Reap `pid`: its status, or None if something else (or nothing) was reaped.
pub fn reap(pid: usize) -> Option<WaitStatus> {
    let mut st = 0;
    match wait4(pid as i32, Some(&mut st), 0) {
        Ok(p) if p == pid => Some(WaitStatus::from_raw(st)),
        _ => None,
    }
}

/// This process's pid (0 if getpid failed, which it cannot).
pub fn pid() -> usize {
    getpid().unwrap_or(0)
}

/// Reaps `pid`, giving up after `secs` seconds (then it is killed and reaped):
/// a check of a process that should have ended fails instead of hanging.
pub fn reap_within(pid: usize, secs: u64) -> Result<WaitStatus, &'static str> {
    let deadline = monotonic_ns() + secs * 1_000_000_000;
    loop {
        let mut st = 0;
        match wait4(pid as i32, Some(&mut st), WNOHANG) {
            Ok(0) => {}
            Ok(p) if p == pid => return Ok(WaitStatus::from_raw(st)),
            _ => return Err("wait4 failed"),
        }
        if monotonic_ns() > deadline {
            let _ = kill(pid as i32, SIGKILL);
            let _ = wait4(pid as i32, None, 0);
            return Err("still running at the deadline (killed)");
        }
        nap();
    }
}

/// Checks that `pid` ends, within `secs` seconds, with status `want`.
pub fn status_is(c: &mut Checker, name: &str, pid: usize, want: WaitStatus, secs: u64) {
    match reap_within(pid, secs) {
        Ok(s) if s == want => {
            c.check(name, true);
        }
        Ok(s) => c.fail(name, format_args!("{}, want {}", s, want)),
        Err(why) => c.fail(name, why),
    }
}

/// In the guest: `snapshot LABEL` to /dev/counters, so the VMM records the
/// counter page (tests compare two such snapshots). On Linux there is no
/// /dev/counters and nothing happens. Labels longer than 64 bytes are cut.
pub fn counters_snapshot(label: &str) {
    counters_snapshot_settled(label, 0);
}

/// [`counters_snapshot`] after `settle_ms` milliseconds (in the guest only):
/// a snapshot at a quiet moment, once every other task has had time to
/// finish switching out. For a leak check use [`leak_check_snapshot`],
/// which waits for a condition rather than for a time.
pub fn counters_snapshot_settled(label: &str, settle_ms: u64) {
    if let Some(fd) = open_counters() {
        if settle_ms > 0 {
            let _ = nanosleep(&timespec::from_nanos(settle_ms * 1_000_000), None);
        }
        write_snapshot(fd, label);
    }
}

/// `/dev/counters`, open for writing (in the guest; None on Linux).
fn open_counters() -> Option<i32> {
    openat(AT_FDCWD, c"/dev/counters", O_WRONLY | O_CLOEXEC, 0).ok().map(|fd| fd as i32)
}

/// Write `snapshot LABEL` to the open `/dev/counters` `fd`, and close it.
fn write_snapshot(fd: i32, label: &str) {
    let mut buf = [0u8; 73];
    let cmd = b"snapshot ";
    let label = &label.as_bytes()[..label.len().min(buf.len() - cmd.len())];
    buf[..cmd.len()].copy_from_slice(cmd);
    buf[cmd.len()..cmd.len() + label.len()].copy_from_slice(label);
    let _ = write(fd, &buf[..cmd.len() + label.len()]);
    let _ = close(fd);
}

/// Whether every kernel stack belongs to a task that exists:
/// `/proc/meminfo`'s `KernelStack` is 16 kB (x86-64's `THREAD_SIZE`) for
/// each task `/proc/loadavg` counts. Not so for a moment after a process is
/// reaped or a thread is released: the task may still be switching out on
/// another CPU, and its stack goes only at that last switch (Linux
/// `put_task_stack` from `finish_task_switch`); a vCPU the host does not run
/// for a while can make that long.
fn kernel_stacks_settled() -> bool {
    let (Ok(load), Ok(mem)) = (
        crate::text::read_file::<128>(c"/proc/loadavg", 128),
        crate::text::read_file::<1024>(c"/proc/meminfo", 1024),
    ) else {
        return true;
    };
    // "0.00 0.00 0.00 RUNNING/TOTAL LAST_PID"
    let tasks = load.str().split_whitespace().nth(3).and_then(|f| f.split_once('/'));
    let tasks = tasks.and_then(|(_, total)| crate::text::parse_u64(total.as_bytes()));
    match (tasks, crate::text::meminfo_kb(mem.str(), "KernelStack")) {
        (Some(tasks), Some(kb)) => kb == tasks * 16,
        _ => true,
    }
}

/// The longest [`leak_check_snapshot`] waits for the kernel stacks to settle.
const STACKS_SETTLE_MAX_NS: u64 = 10_000_000_000;

/// A snapshot for a leak check, which compares two of them (in the guest;
/// nothing on Linux): once every kernel stack belongs to a task that exists
/// (polled every 10 ms, for at most 10 s), so that a task still switching
/// out is not counted, while a stack that is really left behind still is.
pub fn leak_check_snapshot(label: &str) {
    let Some(fd) = open_counters() else { return };
    let deadline = monotonic_ns() + STACKS_SETTLE_MAX_NS;
    while !kernel_stacks_settled() && monotonic_ns() < deadline {
        let _ = nanosleep(&timespec::from_nanos(10_000_000), None);
    }
    write_snapshot(fd, label);
}
