//! A fork bomb, and pid 1 stays alive and responsive (issue 12, item 2).
//!
//! `forkbomb [SECONDS] [-v]` (default 20): this program (pid 1 in the guest,
//! as root, no RLIMIT_NPROC) starts one child that forks in a loop, as do all
//! its children, without end; a failed fork must be EAGAIN or ENOMEM (anything
//! else prints a `FAIL` line) and is retried after a `sched_yield`. Meanwhile
//! pid 1 keeps a one-second heartbeat (`nanosleep`) and records the largest
//! gap between two beats. After SECONDS it prints its figures and returns
//! while the bomb still runs: the VM must end then. `-v` prints every beat
//! with pid 1's own CPU time.
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
    let secs = args.bytes(1).and_then(parse).unwrap_or(20) as u64;
    let verbose = args.bytes(2) == Some(b"-v");
    let mut c = Checker::new();
    let start = monotonic_ns();
    if c.ok("fork the bomb", fork_with(bomb)).is_none() {
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

fn parse(b: &[u8]) -> Option<usize> {
    let mut n = 0usize;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((d - b'0') as usize)?;
    }
    (!b.is_empty()).then_some(n)
}
