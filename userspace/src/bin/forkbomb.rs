//! A fork bomb, and pid 1 stays alive and responsive (issue 12, item 2).
//!
//! `forkbomb [SECONDS] [-v | pids=N]` (default 20): this program (pid 1 in the guest,
//! as root, no RLIMIT_NPROC) starts one child that forks in a loop, as do all
//! its children, without end; a failed fork must be EAGAIN or ENOMEM (anything
//! else prints a `FAIL` line) and is retried after a `sched_yield`. Meanwhile
//! pid 1 keeps a one-second heartbeat (`nanosleep`) and records the largest
//! gap between two beats. After SECONDS it prints its figures and returns
//! while the bomb still runs: the VM must end then. `-v` prints every beat
//! with pid 1's own CPU time. `pids=N` confines the bomb to a cgroup v2
//! group with `pids.max` N (mounting cgroup2 at /sys/fs/cgroup): its forks
//! then fail with EAGAIN at N processes, and pid 1 checks `pids.current`
//! and `pids.events` at the end.
//!
//! Prints `ok ...`/`FAIL ...` lines and one `forkbomb: ...` line of figures
//! (which vary from run to run); exits with the number of failed checks.
//! Never run it on a host you care about: there it is a real fork bomb.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

/// The largest heartbeat gap allowed: twice the one-second period.
const MAX_GAP_NS: u64 = 2_000_000_000;

fn thread_cpu_ns() -> u64 {
    let mut ts = timespec::default();
    let _ = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main(args: Args, _env: Env) -> i32 {
    let secs = args.bytes(1).and_then(text::parse_usize).unwrap_or(20) as u64;
    let verbose = args.bytes(2) == Some(b"-v");
    let pids_max = args.bytes(2).and_then(|a| a.strip_prefix(b"pids=")).and_then(text::parse_usize);
    let mut c = Checker::new();
    if let Some(max) = pids_max {
        c.check("a cgroup with pids.max for the bomb", confine(max).is_ok());
    }
    let start = monotonic_ns();
    let child = if pids_max.is_some() { fork_with(confined_bomb) } else { fork_with(bomb) };
    if c.ok("fork the bomb", child).is_none() {
        return c.status();
    }
    let second = timespec { tv_sec: 1, tv_nsec: 0 };
    let (mut beats, mut max_gap, mut late_beats) = (0u64, 0u64, 0u64);
    let mut last = start;
    let mut cpu = thread_cpu_ns();
    while last < start + secs * 1_000_000_000 {
        let _ = nanosleep(&second, None);
        let now = monotonic_ns();
        let gap = now - last;
        last = now;
        max_gap = max_gap.max(gap);
        late_beats += (gap > MAX_GAP_NS) as u64;
        beats += 1;
        if verbose {
            let cpu_now = thread_cpu_ns();
            println!(
                "beat {}: gap {} ms, pid 1 cpu +{} us",
                beats,
                gap / 1_000_000,
                (cpu_now - cpu) / 1000
            );
            cpu = cpu_now;
        }
    }
    let elapsed = monotonic_ns() - start;
    c.check("heartbeat gap at most 2 s", max_gap <= MAX_GAP_NS);
    if let Some(max) = pids_max {
        let current = read_number(c"/sys/fs/cgroup/bomb/pids.current");
        let events = read_number(c"/sys/fs/cgroup/bomb/pids.events");
        c.check("pids.current at most pids.max", current.is_some_and(|n| n <= max));
        c.check("pids.events counts refused forks", events.is_some_and(|n| n > 0));
        println!(
            "forkbomb: pids.max {}, pids.current {}, pids.events max {}",
            max,
            current.unwrap_or(0),
            events.unwrap_or(0)
        );
    }
    println!(
        "forkbomb: {} s, {} beats, {} late, max gap {} ms, pid 1 returns after {} ms",
        secs,
        beats,
        late_beats,
        max_gap / 1_000_000,
        elapsed / 1_000_000
    );
    c.status()
}

/// Mount cgroup2, enable pids for the root's children and make the group
/// `bomb` with pids.max `max`.
fn confine(max: usize) -> Result<(), Errno> {
    for d in [c"/sys", c"/sys/fs", c"/sys/fs/cgroup"] {
        let _ = mkdirat(AT_FDCWD, d, 0o755);
    }
    mount(Some(c"none"), c"/sys/fs/cgroup", Some(c"cgroup2"), 0)?;
    put(c"/sys/fs/cgroup/cgroup.subtree_control", b"+pids")?;
    mkdirat(AT_FDCWD, c"/sys/fs/cgroup/bomb", 0o755)?;
    let mut b = [0u8; 20];
    let mut n = b.len();
    let mut v = max;
    loop {
        n -= 1;
        b[n] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    put(c"/sys/fs/cgroup/bomb/pids.max", &b[n..])
}

fn put(path: &core::ffi::CStr, s: &[u8]) -> Result<(), Errno> {
    let fd = openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC, 0)? as i32;
    let r = write(fd, s);
    let _ = close(fd);
    r.map(|_| ())
}

/// The first number in the file at `path` ("12", "max 7").
fn read_number(path: &core::ffi::CStr) -> Option<usize> {
    let fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0).ok()? as i32;
    let mut b = [0u8; 64];
    let n = read(fd, &mut b).unwrap_or(0);
    let _ = close(fd);
    let digits: &[u8] = b[..n].split(|c| !c.is_ascii_digit()).find(|s| !s.is_empty())?;
    text::parse_usize(digits)
}

/// The bomb, in the group `bomb` (it moves itself there first).
fn confined_bomb() -> i32 {
    if let Err(e) = put(c"/sys/fs/cgroup/bomb/cgroup.procs", b"0") {
        println!("FAIL move into the bomb's cgroup: {}", e);
        return 1;
    }
    bomb()
}

/// Fork without end, in every process of the tree; a failed fork must be
/// EAGAIN or ENOMEM.
fn bomb() -> i32 {
    loop {
        match fork() {
            Ok(_) => {}
            Err(EAGAIN) | Err(ENOMEM) => {
                let _ = sched_yield();
            }
            Err(e) => {
                println!("FAIL fork in the bomb: {}", e);
                return 1;
            }
        }
    }
}
