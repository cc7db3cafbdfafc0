//! The scheduler as Linux defines it, one subcommand per property:
//!
//! | subcommand | what it checks |
//! |---|---|
//! | `syscalls` | the sched system calls' results and errnos, sched_reset_on_fork, root and non-root permissions (same output on Linux) |
//! | `rlimits` | RLIMIT_NICE and RLIMIT_RTPRIO for a non-root user (needs CAP_SYS_RESOURCE to raise them) |
//! | `spread N MS` | N CPU-bound children for MS ms; prints the CPUs they ran on |
//! | `balance N MS` | the same, but all start on CPU 0 and load balancing must spread them |
//! | `fair NICE_A NICE_B MS` | two CPU-bound children on one CPU; prints the CPU time each got |
//! | `fifo` | a SCHED_FIFO task preempts a fair one at once and keeps the CPU until it blocks |
//! | `rr` | two SCHED_RR tasks share a CPU in time slices; a fair task gets nothing meanwhile |
//! | `pinned MS` | a task pinned to CPU 1 never runs elsewhere, with CPU hogs around |
//! | `forkidle N` | a child forked while every other CPU is idle runs on one of them |
//! | `regs SECS N` | N tasks check their general and SSE registers while ticks and cross-CPU wake-ups preempt them |
//! | `forks PARENTS CHILDREN` | every child of every parent completes and is reaped |
//! | `childfirst N` | how often a forked child ran before its parent returned from fork |
//! | `yield N`, `yieldalone N` | two tasks on one CPU call sched_yield N times each (the cost of a switch), or one alone (no switch) |
//! | `tlb` | threads on two CPUs: fork's write protection, mprotect and munmap take effect on the other CPU |
//!
//! Checks print `ok ...`/`FAIL ...`; the exit status is the number of failures.
//! Measurements print `key value` lines for the tests to parse.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

use userspace::sched::*;
use userspace::*;

userspace::entry!(main);

const MS: u64 = 1_000_000;

fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let num = |i: usize, default: u64| -> u64 {
        args.bytes(i)
            .and_then(|b| core::str::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let int = |i: usize, default: i64| -> i64 {
        args.bytes(i)
            .and_then(|b| core::str::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    match args.bytes(1).unwrap_or(b"") {
        b"syscalls" => syscalls(&mut c),
        b"spread" => spread(&mut c, num(2, 4) as usize, num(3, 1000), false),
        b"balance" => spread(&mut c, num(2, 4) as usize, num(3, 1000), true),
        b"fair" => fair(&mut c, int(2, 0) as i32, int(3, 0) as i32, num(4, 2000)),
        b"fifo" => fifo(&mut c),
        b"rr" => rr(&mut c),
        b"pinned" => pinned(&mut c, num(2, 1000)),
        b"forkidle" => forkidle(&mut c, num(2, 20) as u32),
        b"regs" => regs(&mut c, num(2, 3), num(3, 4) as usize),
        b"forks" => forks(&mut c, num(2, 4) as usize, num(3, 250) as usize),
        b"childfirst" => childfirst(num(2, 20) as u32),
        b"tlb" => tlb(&mut c),
        b"rlimits" => rlimits(&mut c),
        b"yield" => yield_pingpong(&mut c, num(2, 1000), true),
        b"yieldalone" => yield_pingpong(&mut c, num(2, 1000), false),
        _ => {
            eprintln!(
                "usage: sched syscalls|rlimits|spread|balance|fair|fifo|rr|pinned|forkidle|\
                 regs|forks|childfirst|yield|yieldalone|tlb ..."
            );
            return 2;
        }
    }
    settled_snapshot();
    c.status()
}

/// In the guest: once every other task has had time to finish switching out
/// (200 ms), snapshot the counters as `end`, so that the test can check the
/// run-queue accounting at a quiet moment (only this task runnable). On Linux
/// there is no /dev/counters and nothing happens.
fn settled_snapshot() {
    counters_snapshot_settled("end", 200);
}

// ---- helpers ------------------------------------------------------------------

/// Burn CPU in user mode for a little while (~1M loop iterations).
fn burn() {
    let mut x = 0u64;
    for i in 0..1_000_000u64 {
        x = black_box(x.wrapping_add(i));
    }
    black_box(x);
}

/// Spin in user mode until CLOCK_MONOTONIC reaches `deadline`.
fn spin_until(deadline: u64) {
    while monotonic_ns() < deadline {
        burn();
    }
}

/// `n` words of anonymous memory shared with the children forked afterwards.
fn shared_words(n: usize) -> &'static [AtomicU64] {
    let len = (n * 8).next_multiple_of(4096);
    // SAFETY: a fresh shared anonymous mapping, never unmapped; AtomicU64 has
    // u64's layout and zeroed memory is a valid value.
    unsafe {
        let a = mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
            .expect("mmap shared");
        core::slice::from_raw_parts(a as *const AtomicU64, n)
    }
}

/// Reap `pid`; its exit code (or 128 + signal).
fn reap(pid: usize) -> i32 {
    let mut st = 0;
    match wait4(pid as i32, Some(&mut st), 0) {
        Ok(_) => match WaitStatus::from_raw(st) {
            WaitStatus::Exited(code) => code,
            WaitStatus::Signaled(sig, _) => 128 + sig as i32,
            _ => -1,
        },
        Err(_) => -1,
    }
}

/// The CPUs this process may run on.
fn cpus() -> u64 {
    get_cpu_mask(0).unwrap_or(1)
}

fn last_cpu() -> u32 {
    63 - cpus().leading_zeros()
}

/// A pid that no process has: a child's, once reaped.
fn dead_pid() -> i32 {
    let pid = fork_with(|| 0).expect("fork");
    reap(pid);
    pid as i32
}

/// Fork a child that runs `f` and exits with the number of its own failed
/// checks; record in `c` whether it had none.
fn in_child(c: &mut Checker, name: &str, f: impl FnOnce(&mut Checker)) {
    match fork_with(|| {
        let mut cc = Checker::new();
        f(&mut cc);
        cc.status()
    }) {
        Ok(pid) => {
            let st = reap(pid);
            c.check(format_args!("{name}: the child's checks passed"), st == 0);
        }
        Err(e) => c.fail(format_args!("{name}: fork"), e),
    }
}

// ---- syscalls: results and errnos, as on Linux --------------------------------

fn syscalls(c: &mut Checker) {
    priorities(c);
    policies(c);
    reset_on_fork(c);
    nice_values(c);
    affinity(c);
    permissions(c);
}

fn priorities(c: &mut Checker) {
    for (name, p, max, min) in [
        ("SCHED_FIFO", SCHED_FIFO, 99, 1),
        ("SCHED_RR", SCHED_RR, 99, 1),
        ("SCHED_NORMAL", SCHED_NORMAL, 0, 0),
        ("SCHED_BATCH", SCHED_BATCH, 0, 0),
        ("SCHED_IDLE", SCHED_IDLE, 0, 0),
        ("SCHED_DEADLINE", SCHED_DEADLINE, 0, 0),
    ] {
        c.ok_eq(format_args!("sched_get_priority_max({name})"), sched_get_priority_max(p), max);
        c.ok_eq(format_args!("sched_get_priority_min({name})"), sched_get_priority_min(p), min);
    }
    // (7 is SCHED_EXT on Linux kernels built with sched_ext.)
    for p in [4, 8, u32::MAX, SCHED_FIFO | SCHED_RESET_ON_FORK] {
        c.err(
            format_args!("sched_get_priority_max({p:#x}) EINVAL"),
            sched_get_priority_max(p),
            EINVAL,
        );
        c.err(
            format_args!("sched_get_priority_min({p:#x}) EINVAL"),
            sched_get_priority_min(p),
            EINVAL,
        );
    }
}

fn policies(c: &mut Checker) {
    let dead = dead_pid();
    c.ok_eq("sched_getscheduler(0) is SCHED_NORMAL", sched_getscheduler(0), 0);
    c.ok_eq("sched_getparam(0) is 0", sched_getparam(0), 0);
    c.err("sched_getscheduler(-1) EINVAL", sched_getscheduler(-1), EINVAL);
    c.err("sched_getscheduler(dead pid) ESRCH", sched_getscheduler(dead), ESRCH);
    c.err("sched_getparam(-1) EINVAL", sched_getparam(-1), EINVAL);
    c.err("sched_getparam(dead pid) ESRCH", sched_getparam(dead), ESRCH);
    // SAFETY: a null or unmapped pointer: the kernel fails the call.
    unsafe {
        c.err("sched_getparam(0, NULL) EINVAL", sched_getparam_raw(0, 0), EINVAL);
        c.err("sched_getparam(0, bad pointer) EFAULT", sched_getparam_raw(0, 8), EFAULT);
        c.err(
            "sched_setscheduler(0, FIFO, NULL) EINVAL",
            sched_setscheduler_raw(0, SCHED_FIFO, 0),
            EINVAL,
        );
        c.err(
            "sched_setscheduler(0, FIFO, bad pointer) EFAULT",
            sched_setscheduler_raw(0, SCHED_FIFO, 8),
            EFAULT,
        );
        c.err(
            "sched_setscheduler(-1, FIFO, bad pointer) EINVAL first",
            sched_setscheduler_raw(-1, SCHED_FIFO, 8),
            EINVAL,
        );
    }
    for (name, policy, prio) in [
        ("SCHED_FIFO at 0", SCHED_FIFO, 0),
        ("SCHED_FIFO at 100", SCHED_FIFO, 100),
        ("SCHED_RR at -1", SCHED_RR, -1),
        ("SCHED_NORMAL at 1", SCHED_NORMAL, 1),
        ("policy 4", 4, 0),
        ("policy -1", u32::MAX, 0),
        ("SCHED_DEADLINE", SCHED_DEADLINE, 0),
    ] {
        c.err(
            format_args!("sched_setscheduler({name}) EINVAL"),
            sched_setscheduler(0, policy, prio),
            EINVAL,
        );
    }
    c.err("sched_setscheduler(-1, ...) EINVAL", sched_setscheduler(-1, SCHED_FIFO, 1), EINVAL);
    c.err("sched_setscheduler(dead pid) ESRCH", sched_setscheduler(dead, SCHED_FIFO, 1), ESRCH);
    c.err("sched_setparam(dead pid) ESRCH", sched_setparam(dead, 0), ESRCH);
    c.err("sched_setparam(SCHED_NORMAL, 5) EINVAL", sched_setparam(0, 5), EINVAL);
    c.ok_eq("sched_setscheduler(0, SCHED_FIFO, 10)", sched_setscheduler(0, SCHED_FIFO, 10), 0);
    c.ok_eq("sched_getscheduler is SCHED_FIFO", sched_getscheduler(0), 1);
    c.ok_eq("sched_getparam is 10", sched_getparam(0), 10);
    c.ok_eq("sched_setparam(0, 20)", sched_setparam(0, 20), 0);
    c.ok_eq("sched_getparam is 20 after sched_setparam", sched_getparam(0), 20);
    c.ok_eq("sched_setparam keeps SCHED_FIFO", sched_getscheduler(0), 1);
    c.err("sched_setparam(0, 0) for SCHED_FIFO EINVAL", sched_setparam(0, 0), EINVAL);
    c.ok_eq(
        "sched_rr_get_interval of SCHED_FIFO is 0",
        sched_rr_get_interval(0).map(|t| t.as_nanos()),
        0,
    );
    c.ok_eq("sched_setscheduler(0, SCHED_RR, 5)", sched_setscheduler(0, SCHED_RR, 5), 0);
    c.ok_eq(
        "sched_rr_get_interval of SCHED_RR is 100 ms",
        sched_rr_get_interval(0).map(|t| t.as_nanos()),
        100 * MS,
    );
    c.err("sched_rr_get_interval(-1) EINVAL", sched_rr_get_interval(-1), EINVAL);
    c.err("sched_rr_get_interval(dead pid) ESRCH", sched_rr_get_interval(dead), ESRCH);
    c.ok_eq("sched_setscheduler(0, SCHED_BATCH, 0)", sched_setscheduler(0, SCHED_BATCH, 0), 0);
    c.ok_eq("sched_getscheduler is SCHED_BATCH", sched_getscheduler(0), 3);
    c.ok_eq("sched_getparam of SCHED_BATCH is 0", sched_getparam(0), 0);
    c.ok_eq("back to SCHED_NORMAL", sched_setscheduler(0, SCHED_NORMAL, 0), 0);
    c.ok_eq("sched_yield", sched_yield(), 0);
}

fn reset_on_fork(c: &mut Checker) {
    let flag = SCHED_RESET_ON_FORK as usize;
    // Without the flag the child inherits the policy, priority and nice value.
    c.ok_eq("SCHED_FIFO 10", sched_setscheduler(0, SCHED_FIFO, 10), 0);
    c.ok_eq("nice -5", setpriority(PRIO_PROCESS, 0, -5), 0);
    in_child(c, "inherited", |cc| {
        cc.ok_eq("child of SCHED_FIFO 10: SCHED_FIFO", sched_getscheduler(0), 1);
        cc.ok_eq("child of SCHED_FIFO 10: priority 10", sched_getparam(0), 10);
        cc.ok_eq("child of nice -5: nice -5", nice_of(0), -5);
    });
    // With it, RT becomes SCHED_NORMAL at nice 0, and the child has no flag.
    c.ok_eq(
        "SCHED_FIFO | SCHED_RESET_ON_FORK",
        sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, 10),
        0,
    );
    c.ok_eq("sched_getscheduler shows the flag", sched_getscheduler(0), 1 | flag);
    in_child(c, "reset RT", |cc| {
        cc.ok_eq("reset child of SCHED_FIFO: SCHED_NORMAL, no flag", sched_getscheduler(0), 0);
        cc.ok_eq("reset child of SCHED_FIFO: priority 0", sched_getparam(0), 0);
        cc.ok_eq("reset child of SCHED_FIFO at nice -5: nice 0", nice_of(0), 0);
    });
    // A fair parent: a negative nice becomes 0, a positive one stays.
    c.ok_eq(
        "SCHED_NORMAL | SCHED_RESET_ON_FORK",
        sched_setscheduler(0, SCHED_NORMAL | SCHED_RESET_ON_FORK, 0),
        0,
    );
    c.ok_eq("sched_getscheduler is SCHED_NORMAL with the flag", sched_getscheduler(0), flag);
    in_child(c, "reset negative nice", |cc| {
        cc.ok_eq("reset child of nice -5: nice 0", nice_of(0), 0);
        cc.ok_eq("reset child: no flag", sched_getscheduler(0), 0);
    });
    c.ok_eq("nice 5", setpriority(PRIO_PROCESS, 0, 5), 0);
    in_child(c, "reset positive nice", |cc| {
        cc.ok_eq("reset child of nice 5: nice 5", nice_of(0), 5);
    });
    c.ok_eq("sched_setparam keeps the flag", sched_setparam(0, 0), 0);
    c.ok_eq("flag still set", sched_getscheduler(0), flag);
    c.ok_eq("clear the flag", sched_setscheduler(0, SCHED_NORMAL, 0), 0);
    c.ok_eq("nice 0 again", setpriority(PRIO_PROCESS, 0, 0), 0);
}

fn nice_values(c: &mut Checker) {
    let dead = dead_pid();
    c.ok_eq("getpriority(PRIO_PROCESS, 0) is 20 - nice", getpriority(PRIO_PROCESS, 0), 20);
    c.ok_eq("setpriority(nice 5)", setpriority(PRIO_PROCESS, 0, 5), 0);
    c.ok_eq("getpriority after nice 5 is 15", getpriority(PRIO_PROCESS, 0), 15);
    c.ok_eq("setpriority(nice 100) clamps", setpriority(PRIO_PROCESS, 0, 100), 0);
    c.ok_eq("getpriority after nice 100 is 1 (nice 19)", getpriority(PRIO_PROCESS, 0), 1);
    c.ok_eq("setpriority(nice -100) clamps (root)", setpriority(PRIO_PROCESS, 0, -100), 0);
    c.ok_eq("getpriority after nice -100 is 40 (nice -20)", getpriority(PRIO_PROCESS, 0), 40);
    c.ok_eq("nice 0", setpriority(PRIO_PROCESS, 0, 0), 0);
    let me = getpid().unwrap_or(0) as i32;
    c.ok_eq("getpriority(PRIO_PROCESS, own pid)", getpriority(PRIO_PROCESS, me), 20);
    for which in [3, -1i32] {
        c.err(
            format_args!("getpriority(which {which}) EINVAL"),
            getpriority(which as u32, 0),
            EINVAL,
        );
        c.err(
            format_args!("setpriority(which {which}) EINVAL"),
            setpriority(which as u32, 0, 0),
            EINVAL,
        );
    }
    c.err("getpriority(dead pid) ESRCH", getpriority(PRIO_PROCESS, dead), ESRCH);
    c.err("setpriority(dead pid) ESRCH", setpriority(PRIO_PROCESS, dead, 0), ESRCH);
    c.err("getpriority(PRIO_PROCESS, -1) ESRCH", getpriority(PRIO_PROCESS, -1), ESRCH);
    c.err("getpriority(PRIO_PGRP, dead pid) ESRCH", getpriority(PRIO_PGRP, dead), ESRCH);
    in_child(c, "process group", |cc| {
        cc.ok("setpgid(0, 0)", setpgid(0, 0));
        cc.ok_eq("setpriority(PRIO_PGRP, 0, 7)", setpriority(PRIO_PGRP, 0, 7), 0);
        cc.ok_eq("getpriority(PRIO_PGRP, 0) is 13", getpriority(PRIO_PGRP, 0), 13);
        cc.ok_eq("the group's member got nice 7", nice_of(0), 7);
        let pg = getpgrp().unwrap_or(0) as i32;
        cc.ok_eq("getpriority(PRIO_PGRP, own group)", getpriority(PRIO_PGRP, pg), 13);
    });
}

fn affinity(c: &mut Checker) {
    let dead = dead_pid();
    let mut buf = [0u8; 128];
    for len in [0usize, 4, 7, 12] {
        c.err(
            format_args!("sched_getaffinity(len {len}) EINVAL"),
            sched_getaffinity(0, &mut buf[..len]),
            EINVAL,
        );
    }
    c.ok_eq("sched_getaffinity(len 8) returns 8", sched_getaffinity(0, &mut buf[..8]), 8);
    let n = sched_getaffinity(0, &mut buf).unwrap_or(0);
    c.check(
        "sched_getaffinity(len 128) returns whole longs, at most len",
        n >= 8 && n.is_multiple_of(8) && n <= 128,
    );
    c.check("the mask includes CPU 0", buf[0] & 1 == 1);
    c.err("sched_getaffinity(dead pid) ESRCH", sched_getaffinity(dead, &mut buf[..8]), ESRCH);
    c.err("sched_getaffinity(-1) ESRCH", sched_getaffinity(-1, &mut buf[..8]), ESRCH);
    let all = cpus();
    // SAFETY: an unmapped pointer: the kernel fails the call.
    unsafe {
        c.err("sched_getaffinity(bad pointer) EFAULT", sched_getaffinity_raw(0, 8, 8), EFAULT);
        c.err("sched_setaffinity(bad pointer) EFAULT", sched_setaffinity_raw(0, 8, 8), EFAULT);
        c.err(
            "sched_setaffinity(len 0) EINVAL (empty mask)",
            sched_setaffinity_raw(0, 0, 8),
            EINVAL,
        );
        c.err("getcpu(bad pointer) EFAULT", getcpu_raw(8, 0), EFAULT);
        c.ok_eq("getcpu(NULL, NULL)", getcpu_raw(0, 0), 0);
    }
    c.err("sched_setaffinity(empty mask) EINVAL", set_cpu_mask(0, 0), EINVAL);
    c.err("sched_setaffinity(only CPU 63) EINVAL", set_cpu_mask(0, 1 << 63), EINVAL);
    c.err("sched_setaffinity(dead pid) ESRCH", set_cpu_mask(dead, 1), ESRCH);
    c.ok_eq("sched_setaffinity(CPU 0)", set_cpu_mask(0, 1), 0);
    c.ok_eq("running on CPU 0 when it returns", getcpu(), 0);
    c.ok_eq("sched_getaffinity shows CPU 0 only", get_cpu_mask(0), 1);
    c.ok_eq("sched_setaffinity(every CPU)", set_cpu_mask(0, u64::MAX), 0);
    c.ok_eq("sched_getaffinity: the online CPUs", get_cpu_mask(0), all);
    c.ok_eq("sched_setaffinity with a 1-byte mask", sched_setaffinity(0, &[1]), 0);
    c.ok_eq("a short mask is zero-extended", get_cpu_mask(0), 1);
    c.ok_eq("restore", set_cpu_mask(0, all), 0);
    in_child(c, "inherit", |cc| {
        cc.ok_eq("pin to CPU 0", set_cpu_mask(0, 1), 0);
        in_child(cc, "grandchild", |g| {
            g.ok_eq("a child inherits its parent's affinity", get_cpu_mask(0), 1);
        });
    });
}

fn permissions(c: &mut Checker) {
    let parent = getpid().unwrap_or(0) as i32;
    let zero = rlimit { rlim_cur: 0, rlim_max: 0 };
    in_child(c, "non-root", |cc| {
        cc.ok("RLIMIT_NICE 0", setrlimit(RLIMIT_NICE, &zero));
        cc.ok("RLIMIT_RTPRIO 0", setrlimit(RLIMIT_RTPRIO, &zero));
        cc.ok("setuid(1000)", setuid(1000));
        cc.ok_eq("user: raise nice to 5", setpriority(PRIO_PROCESS, 0, 5), 0);
        cc.err("user: lower nice to 4 EACCES", setpriority(PRIO_PROCESS, 0, 4), EACCES);
        cc.ok_eq("user: nice still 5", nice_of(0), 5);
        cc.ok_eq("user: same nice again", setpriority(PRIO_PROCESS, 0, 5), 0);
        cc.err("user: SCHED_FIFO EPERM", sched_setscheduler(0, SCHED_FIFO, 1), EPERM);
        cc.err("user: SCHED_RR EPERM", sched_setscheduler(0, SCHED_RR, 1), EPERM);
        cc.err("user: invalid policy is still EINVAL", sched_setscheduler(0, 4, 0), EINVAL);
        cc.ok_eq("user: SCHED_BATCH", sched_setscheduler(0, SCHED_BATCH, 0), 0);
        cc.ok_eq("user: SCHED_NORMAL", sched_setscheduler(0, SCHED_NORMAL, 0), 0);
        cc.ok_eq("user: SCHED_IDLE", sched_setscheduler(0, SCHED_IDLE, 0), 0);
        cc.err(
            "user: leaving SCHED_IDLE needs RLIMIT_NICE",
            sched_setscheduler(0, SCHED_NORMAL, 0),
            EPERM,
        );
        cc.err(
            "user: setpriority on root's process EPERM",
            setpriority(PRIO_PROCESS, parent, 5),
            EPERM,
        );
        cc.err(
            "user: sched_setscheduler on root's process EPERM",
            sched_setscheduler(parent, SCHED_NORMAL, 0),
            EPERM,
        );
        cc.err(
            "user: sched_setaffinity on root's process EPERM",
            set_cpu_mask(parent, u64::MAX),
            EPERM,
        );
        cc.ok_eq("user: getpriority of root's process", getpriority(PRIO_PROCESS, parent), 20);
        cc.ok_eq("user: sched_getscheduler of root's process", sched_getscheduler(parent), 0);
        cc.ok_eq(
            "user: sched_getaffinity of root's process",
            sched_getaffinity(parent, &mut [0u8; 8]),
            8,
        );
    });
    in_child(c, "reset flag", |cc| {
        cc.ok_eq("root sets the reset flag", sched_setscheduler(0, SCHED_RESET_ON_FORK, 0), 0);
        cc.ok("setuid(1000)", setuid(1000));
        cc.err("user may not clear the reset flag", sched_setscheduler(0, SCHED_NORMAL, 0), EPERM);
        cc.ok_eq("user may keep it", sched_setscheduler(0, SCHED_RESET_ON_FORK, 0), 0);
    });
}

/// RLIMIT_NICE and RLIMIT_RTPRIO above 0 let a non-root user lower its nice
/// value or use RT policies up to the limit. Raising the hard limits needs
/// CAP_SYS_RESOURCE, which root in a container may lack: run it as a root
/// that has it (the guest's pid 1).
fn rlimits(c: &mut Checker) {
    in_child(c, "RLIMIT_NICE", |cc| {
        cc.ok("RLIMIT_NICE 25", setrlimit(RLIMIT_NICE, &rlimit { rlim_cur: 25, rlim_max: 25 }));
        cc.ok("setuid(1000)", setuid(1000));
        cc.ok_eq("user with RLIMIT_NICE 25: nice -5", setpriority(PRIO_PROCESS, 0, -5), 0);
        cc.err(
            "user with RLIMIT_NICE 25: nice -6 EACCES",
            setpriority(PRIO_PROCESS, 0, -6),
            EACCES,
        );
    });
    in_child(c, "RLIMIT_RTPRIO", |cc| {
        cc.ok("RLIMIT_RTPRIO 10", setrlimit(RLIMIT_RTPRIO, &rlimit { rlim_cur: 10, rlim_max: 10 }));
        cc.ok("setuid(1000)", setuid(1000));
        cc.ok_eq(
            "user with RLIMIT_RTPRIO 10: SCHED_FIFO 10",
            sched_setscheduler(0, SCHED_FIFO, 10),
            0,
        );
        cc.err("user with RLIMIT_RTPRIO 10: priority 11 EPERM", sched_setparam(0, 11), EPERM);
        cc.ok_eq("user: lower the priority to 5", sched_setparam(0, 5), 0);
        cc.ok_eq("user: back to SCHED_NORMAL", sched_setscheduler(0, SCHED_NORMAL, 0), 0);
    });
}

// ---- spread: N CPU-bound children over the CPUs -------------------------------

fn spread(c: &mut Checker, n: usize, ms: u64, from_cpu_0: bool) {
    let n = n.min(64);
    let sh = shared_words(1);
    let all = cpus();
    if from_cpu_0 {
        // The children inherit the pin: all of them are queued on CPU 0.
        c.ok_eq("pin to CPU 0", set_cpu_mask(0, 1), 0);
    }
    let [r, w] = match pipe2(0) {
        Ok(p) => p,
        Err(e) => return c.fail("pipe2", e),
    };
    let mut pids = [0usize; 64];
    for pid in pids.iter_mut().take(n) {
        // Each child waits for the go, spins until the common deadline, and
        // reports the CPUs it saw itself on (bit n = CPU n < 8).
        *pid = fork_with(|| {
            let _ = close(w);
            let mut b = [0u8; 1];
            if read(r, &mut b) != Ok(1) {
                return 0;
            }
            if from_cpu_0 && set_cpu_mask(0, all).is_err() {
                return 0;
            }
            let deadline = sh[0].load(SeqCst);
            let mut seen = 0u32;
            loop {
                burn();
                if let Ok(cpu) = getcpu() {
                    seen |= 1 << cpu.min(7);
                }
                if monotonic_ns() >= deadline {
                    break;
                }
            }
            seen as i32
        })
        .unwrap_or(0);
    }
    let _ = close(r);
    sh[0].store(monotonic_ns() + ms * MS, SeqCst);
    let go = [0u8; 64];
    let _ = write(w, &go[..n]);
    let mut union = 0;
    let mut ok = true;
    for &pid in pids.iter().take(n) {
        let st = reap(pid);
        ok &= (1..128).contains(&st);
        union |= st.max(0);
    }
    c.check(format_args!("{n} CPU-bound children ran and were reaped"), ok);
    println!("cpus_seen {union:#x}");
}

// ---- fair: two CPU-bound tasks on one CPU --------------------------------------

fn fair(c: &mut Checker, nice_a: i32, nice_b: i32, ms: u64) {
    // Both on the last CPU, so the split is the scheduler's.
    let cpu = last_cpu();
    c.ok_eq("pin to one CPU", set_cpu_mask(0, 1 << cpu), 0);
    let sh = shared_words(2);
    let [r, w] = match pipe2(0) {
        Ok(p) => p,
        Err(e) => return c.fail("pipe2", e),
    };
    let mut pids = [0usize; 2];
    for (i, nice) in [nice_a, nice_b].into_iter().enumerate() {
        pids[i] = fork_with(|| {
            let _ = close(w);
            if setpriority(PRIO_PROCESS, 0, nice).is_err() {
                return 1;
            }
            // Start together: both wait for the go.
            let mut b = [0u8; 1];
            if read(r, &mut b) != Ok(1) {
                return 2;
            }
            let start = thread_cpu_ns();
            spin_until(monotonic_ns() + ms * MS);
            sh[i].store(thread_cpu_ns() - start, SeqCst);
            0
        })
        .unwrap_or(0);
    }
    let _ = close(r);
    sleep_ms(50);
    let _ = write(w, b"go");
    let ok = pids.iter().all(|&p| reap(p) == 0);
    c.check("both children ran to the end", ok);
    println!("cpu_ns {} {}", sh[0].load(SeqCst), sh[1].load(SeqCst));
}

// ---- fifo: RT preempts fair and keeps the CPU ----------------------------------

fn fifo(c: &mut Checker) {
    let cpu = last_cpu();
    c.ok_eq("pin to one CPU", set_cpu_mask(0, 1 << cpu), 0);
    // 0: the fair task's progress; 1: progress when the wake-up was sent;
    // 2: when the FIFO task started; 3: after its 300 ms; 4: after its sleep;
    // 5: wake-up time; 6: the FIFO task's start time.
    let sh = shared_words(8);
    let hog = fork_with(|| {
        let mut i = 0u64;
        loop {
            i += 1;
            sh[0].store(i, Relaxed);
        }
    });
    let [r, w] = match pipe2(0) {
        Ok(p) => p,
        Err(e) => return c.fail("pipe2", e),
    };
    let f = fork_with(|| {
        let _ = close(w);
        let mut b = [0u8; 1];
        if read(r, &mut b) != Ok(1) {
            return 1;
        }
        let p0 = sh[0].load(Relaxed);
        sh[2].store(p0, SeqCst);
        sh[6].store(monotonic_ns(), SeqCst);
        // Keep the CPU for 300 ms: the fair task must not run at all.
        spin_until(monotonic_ns() + 300 * MS);
        sh[3].store(sh[0].load(Relaxed), SeqCst);
        // Block: now the fair task runs.
        sleep_ms(100);
        sh[4].store(sh[0].load(Relaxed), SeqCst);
        0
    });
    let _ = close(r);
    let (Ok(hog), Ok(f)) = (hog, f) else {
        return c.fail("fork", "failed");
    };
    c.ok_eq(
        "sched_setscheduler(child, SCHED_FIFO, 10)",
        sched_setscheduler(f as i32, SCHED_FIFO, 10),
        0,
    );
    // The fair task runs for a while.
    sleep_ms(100);
    // The time first: from reading the progress to the write, nothing may
    // let the fair task run (no system call, as few instructions as can be).
    sh[5].store(monotonic_ns(), SeqCst);
    let pw = sh[0].load(Relaxed);
    sh[1].store(pw, SeqCst);
    let _ = write(w, b"x");
    c.ok_eq("the FIFO task ended well", Ok(reap(f)), 0);
    let _ = kill(hog as i32, SIGKILL);
    reap(hog);
    let (pw, p0, p1, p2) =
        (sh[1].load(SeqCst), sh[2].load(SeqCst), sh[3].load(SeqCst), sh[4].load(SeqCst));
    c.check("the fair task was running before the wake-up", pw > 0);
    c.check("the FIFO task ran before the fair task could run again", p0 == pw);
    c.check("the FIFO task kept the CPU for 300 ms", p1 == p0);
    c.check("the fair task ran once the FIFO task blocked", p2 > p1);
    println!("fifo_progress {pw} {p0} {p1} {p2}");
    println!(
        "fifo_wakeup_latency_us {}",
        sh[6].load(SeqCst).saturating_sub(sh[5].load(SeqCst)) / 1000
    );
}

// ---- rr: round robin between two SCHED_RR tasks ---------------------------------

fn rr(c: &mut Checker) {
    let cpu = last_cpu();
    c.ok_eq("pin to one CPU", set_cpu_mask(0, 1 << cpu), 0);
    // 0: the fair task's progress; 1, 2: the RR tasks' gaps; 3, 4: their
    // longest run (ms); 5: the fair task's progress when they ended.
    let sh = shared_words(8);
    let hog = fork_with(|| {
        let mut i = 0u64;
        loop {
            i += 1;
            sh[0].store(i, Relaxed);
        }
    })
    .unwrap_or(0);
    let [r, w] = match pipe2(0) {
        Ok(p) => p,
        Err(e) => return c.fail("pipe2", e),
    };
    let mut rrs = [0usize; 2];
    for (k, slot) in rrs.iter_mut().enumerate() {
        *slot = fork_with(|| {
            let _ = close(w);
            if sched_setscheduler(0, SCHED_RR, 5).is_err() {
                return 1;
            }
            let mut b = [0u8; 1];
            if read(r, &mut b) != Ok(1) {
                return 2;
            }
            let start = monotonic_ns();
            let progress = sh[0].load(Relaxed);
            let (mut last, mut run_start, mut gaps, mut longest) = (start, start, 0u64, 0u64);
            while last < start + 1200 * MS {
                burn();
                let now = monotonic_ns();
                if now - last > 30 * MS {
                    // Descheduled: the other RR task had its slice.
                    gaps += 1;
                    longest = longest.max(last - run_start);
                    run_start = now;
                }
                last = now;
            }
            sh[1 + k].store(gaps, SeqCst);
            sh[3 + k].store(longest / MS, SeqCst);
            if sh[0].load(Relaxed) != progress {
                sh[5].fetch_add(1, SeqCst);
            }
            0
        })
        .unwrap_or(0);
    }
    let _ = close(r);
    sleep_ms(50);
    let _ = write(w, b"xx");
    let ok = rrs.iter().all(|&p| reap(p) == 0);
    let _ = kill(hog as i32, SIGKILL);
    reap(hog);
    c.check("both SCHED_RR tasks ran to the end", ok);
    let gaps = [sh[1].load(SeqCst), sh[2].load(SeqCst)];
    c.check(
        "the SCHED_RR tasks took turns (each waited for the other)",
        gaps.iter().all(|&g| g >= 2),
    );
    println!("rr_gaps {} {}", gaps[0], gaps[1]);
    println!("rr_longest_run_ms {} {}", sh[3].load(SeqCst), sh[4].load(SeqCst));
    c.ok_eq(
        "the fair task did not run while SCHED_RR tasks were runnable",
        Ok(sh[5].load(SeqCst)),
        0,
    );
}

// ---- pinned: affinity is respected --------------------------------------------

fn pinned(c: &mut Checker, ms: u64) {
    let all = cpus();
    let ncpus = all.count_ones() as usize;
    // 0: a hog's last CPU, 1: set once the parent pinned it, 2: its samples
    // after that, 3: those on another CPU than 0.
    let sh = shared_words(4);
    let mut hogs = [0usize; 16];
    for (i, h) in hogs.iter_mut().enumerate().take(ncpus.min(16)) {
        // CPU hogs until killed.
        *h = fork_with(|| {
            loop {
                burn();
                if i == 0 {
                    // The flag first: once it is set, the pin has taken effect.
                    let pinned = sh[1].load(SeqCst) == 1;
                    let cpu = getcpu().unwrap_or(99) as u64;
                    sh[0].store(cpu, SeqCst);
                    if pinned {
                        sh[2].fetch_add(1, SeqCst);
                        if cpu != 0 {
                            sh[3].fetch_add(1, SeqCst);
                        }
                    }
                }
            }
        })
        .unwrap_or(0);
    }
    c.ok_eq("sched_setaffinity(CPU 1)", set_cpu_mask(0, 0b10), 0);
    c.ok_eq("on CPU 1 as soon as sched_setaffinity returns", getcpu(), 1);
    let end = monotonic_ns() + ms * MS;
    let (mut checks, mut elsewhere, mut i) = (0u64, 0u64, 0u64);
    while monotonic_ns() < end {
        if getcpu() != Ok(1) {
            elsewhere += 1;
        }
        checks += 1;
        i += 1;
        if i % 64 == 0 {
            // Sleep and wake up: the wake-up must honour the mask too.
            let _ = nanosleep(&timespec::from_nanos(1000), None);
        }
    }
    c.check("a task pinned to CPU 1 never ran elsewhere", elsewhere == 0 && checks > 10);
    println!("pinned_checks {checks} elsewhere {elsewhere}");
    // Pin a running hog to CPU 0 from here: it must move there.
    c.ok_eq("pin a running task to CPU 0", set_cpu_mask(hogs[0] as i32, 1), 0);
    sh[1].store(1, SeqCst);
    sleep_ms(200);
    let (samples, off) = (sh[2].load(SeqCst), sh[3].load(SeqCst));
    c.check("the task pinned by another ran only on CPU 0", samples > 0 && off == 0);
    println!("pinned_other_samples {samples} elsewhere {off}");
    for &h in hogs.iter().take(ncpus.min(16)) {
        let _ = kill(h as i32, SIGKILL);
        reap(h);
    }
}

// ---- forkidle: a child goes to an idle CPU --------------------------------------

/// `procs_running` of /proc/stat: runnable tasks on all CPUs, the caller
/// included (Linux `nr_running`).
fn procs_running() -> Option<u64> {
    let s = userspace::text::read_file::<8192>(c"/proc/stat", 4096).ok()?;
    let line = s.str().lines().find_map(|l| l.strip_prefix("procs_running "))?;
    userspace::text::parse_u64(line.trim().as_bytes())
}

fn forkidle(c: &mut Checker, n: u32) {
    // procs_running counts what is runnable: three CPU hogs and this task.
    let mut hogs = [0usize; 3];
    for h in hogs.iter_mut() {
        match fork_with(|| loop {
            burn();
        }) {
            Ok(pid) => *h = pid,
            Err(e) => return c.fail("fork a hog", e),
        }
    }
    c.check("procs_running: three hogs and the reader", procs_running() == Some(4));
    for &h in &hogs {
        let _ = kill(h as i32, SIGKILL);
        reap(h);
    }
    let mut elsewhere = 0;
    for i in 0..n {
        // Fork only once this task is the one runnable task: the CPU of the
        // child reaped last may still be switching away from it (wait4
        // returns once the child is a zombie, and the host may preempt that
        // vCPU right there; under a nested hypervisor for many ms), and a
        // CPU that still has it is not idle. Then every other CPU is idle
        // and the child must go to one of them.
        let t0 = monotonic_ns();
        while procs_running() != Some(1) {
            if monotonic_ns() - t0 > 10_000_000_000 {
                return c.fail(
                    format_args!("fork {i}: the other CPUs idle within 10 s"),
                    format_args!("procs_running {:?}", procs_running()),
                );
            }
            let _ = nanosleep(&timespec::from_nanos(1_000_000), None);
        }
        let here = getcpu().unwrap_or(0) as i32;
        match fork_with(|| getcpu().map_or(99, |c| c as i32)) {
            Ok(pid) => {
                if reap(pid) != here {
                    elsewhere += 1;
                }
            }
            Err(e) => return c.fail("fork", e),
        }
    }
    c.check(
        format_args!("all {n} children forked with the other CPUs idle ran on one of them"),
        elsewhere == n,
    );
    println!("forkidle {elsewhere} of {n}");
}

// ---- regs: register state across preemptions -----------------------------------

/// Fill rax, rbx, rdx, rbp, rsi, rdi, r8-r15 and xmm0-15 with patterns derived
/// from `seed`, spin `iters` times in user mode (where preemptions land), then
/// store them all. Returns the number of registers that changed.
fn check_regs(seed: u64, iters: u64) -> u32 {
    // io[0]: iterations; io[1..33]: the xmm patterns (in); io[40..54]: the
    // general registers after the spin; io[60..92]: the xmm registers after.
    let mut io = [0u64; 96];
    io[0] = iters;
    for (i, w) in io[1..33].iter_mut().enumerate() {
        *w = seed.rotate_left(i as u32 + 1) ^ (0x5a5a_0000_0000 + i as u64);
    }
    let gpr = |i: u64| seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(i);
    // SAFETY: rbx and rbp are saved and restored on the stack; every other
    // general register the block changes is declared. The xmm registers are
    // not (this target has no SSE: compiled code never holds values in them).
    // `io` is a live local array of 96 words; the block reads and writes it
    // only through rsi/rcx as laid out above.
    unsafe {
        core::arch::asm!(
            "push rbx",
            "push rbp",
            "push rsi",
            "movdqu xmm0, [rsi + 8]",
            "movdqu xmm1, [rsi + 24]",
            "movdqu xmm2, [rsi + 40]",
            "movdqu xmm3, [rsi + 56]",
            "movdqu xmm4, [rsi + 72]",
            "movdqu xmm5, [rsi + 88]",
            "movdqu xmm6, [rsi + 104]",
            "movdqu xmm7, [rsi + 120]",
            "movdqu xmm8, [rsi + 136]",
            "movdqu xmm9, [rsi + 152]",
            "movdqu xmm10, [rsi + 168]",
            "movdqu xmm11, [rsi + 184]",
            "movdqu xmm12, [rsi + 200]",
            "movdqu xmm13, [rsi + 216]",
            "movdqu xmm14, [rsi + 232]",
            "movdqu xmm15, [rsi + 248]",
            "mov rcx, [rsi]",
            "mov rax, rdi",
            "add rax, 1",
            "mov rbx, rdi",
            "add rbx, 2",
            "mov rdx, rdi",
            "add rdx, 3",
            "mov rbp, rdi",
            "add rbp, 4",
            "mov rsi, rdi",
            "add rsi, 5",
            "mov r8, rdi",
            "add r8, 8",
            "mov r9, rdi",
            "add r9, 9",
            "mov r10, rdi",
            "add r10, 10",
            "mov r11, rdi",
            "add r11, 11",
            "mov r12, rdi",
            "add r12, 12",
            "mov r13, rdi",
            "add r13, 13",
            "mov r14, rdi",
            "add r14, 14",
            "mov r15, rdi",
            "add r15, 15",
            "2:",
            "dec rcx",
            "jnz 2b",
            "mov rcx, [rsp]",
            "mov [rcx + 320], rax",
            "mov [rcx + 328], rbx",
            "mov [rcx + 336], rdx",
            "mov [rcx + 344], rbp",
            "mov [rcx + 352], rsi",
            "mov [rcx + 360], rdi",
            "mov [rcx + 368], r8",
            "mov [rcx + 376], r9",
            "mov [rcx + 384], r10",
            "mov [rcx + 392], r11",
            "mov [rcx + 400], r12",
            "mov [rcx + 408], r13",
            "mov [rcx + 416], r14",
            "mov [rcx + 424], r15",
            "movdqu [rcx + 480], xmm0",
            "movdqu [rcx + 496], xmm1",
            "movdqu [rcx + 512], xmm2",
            "movdqu [rcx + 528], xmm3",
            "movdqu [rcx + 544], xmm4",
            "movdqu [rcx + 560], xmm5",
            "movdqu [rcx + 576], xmm6",
            "movdqu [rcx + 592], xmm7",
            "movdqu [rcx + 608], xmm8",
            "movdqu [rcx + 624], xmm9",
            "movdqu [rcx + 640], xmm10",
            "movdqu [rcx + 656], xmm11",
            "movdqu [rcx + 672], xmm12",
            "movdqu [rcx + 688], xmm13",
            "movdqu [rcx + 704], xmm14",
            "movdqu [rcx + 720], xmm15",
            "pop rcx",
            "pop rbp",
            "pop rbx",
            inout("rdi") gpr(0) => _,
            inout("rsi") io.as_mut_ptr() => _,
            out("rax") _,
            out("rcx") _,
            out("rdx") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
        );
    }
    let base = gpr(0);
    let want_gpr = [1u64, 2, 3, 4, 5, 0, 8, 9, 10, 11, 12, 13, 14, 15];
    let mut bad = 0;
    for (i, off) in want_gpr.iter().enumerate() {
        if io[40 + i] != base.wrapping_add(*off) {
            bad += 1;
        }
    }
    for i in 0..32 {
        if io[60 + i] != io[1 + i] {
            bad += 1;
        }
    }
    bad
}

/// `n` tasks check their registers for `secs` seconds while, on each pair of
/// CPUs, two pinned tasks ping-pong a byte through pipes: every wake-up lands
/// on a CPU where a checker runs and preempts it (as the tick does).
fn regs(c: &mut Checker, secs: u64, n: usize) {
    let deadline = monotonic_ns() + secs * 1000 * MS;
    let sh = shared_words(2);
    let mut pids = [0usize; 64];
    let n = n.min(48);
    for (k, pid) in pids.iter_mut().enumerate().take(n) {
        *pid = fork_with(|| {
            let mut round = 0u64;
            let mut bad = 0u32;
            while monotonic_ns() < deadline {
                bad += check_regs(round ^ ((k as u64) << 48), 20_000_000);
                round += 1;
            }
            sh[0].fetch_add(round, SeqCst);
            bad.min(255) as i32
        })
        .unwrap_or(0);
    }
    let ncpus = cpus().count_ones() as usize;
    let mut pingers = n;
    for pair in 0..ncpus / 2 {
        let (Ok([r1, w1]), Ok([r2, w2])) = (pipe2(0), pipe2(0)) else {
            return c.fail("pipe2", "failed");
        };
        for side in 0..2 {
            let cpu = 2 * pair + side;
            pids[pingers] = fork_with(|| {
                if set_cpu_mask(0, 1 << cpu).is_err() {
                    return 1;
                }
                let (r, w) = if side == 0 { (r2, w1) } else { (r1, w2) };
                // Only its own ends, so that it sees EOF when its peer is gone.
                for fd in [r1, w1, r2, w2].into_iter().filter(|&fd| fd != r && fd != w) {
                    let _ = close(fd);
                }
                let mut b = [0u8; 1];
                if side == 0 {
                    let _ = write(w, b"p");
                }
                while monotonic_ns() < deadline {
                    if read(r, &mut b) != Ok(1) || write(w, b"p") != Ok(1) {
                        return 2;
                    }
                    sh[1].fetch_add(1, SeqCst);
                }
                0
            })
            .unwrap_or(0);
            pingers += 1;
        }
        for fd in [r1, w1, r2, w2] {
            let _ = close(fd);
        }
    }
    let mut ok = true;
    for &p in pids.iter().take(n) {
        ok &= reap(p) == 0;
    }
    c.check(format_args!("{n} tasks kept every general and SSE register across preemptions"), ok);
    // A pinger ends when its peer has gone (EOF or EPIPE): only count checks.
    for &p in pids.iter().take(pingers).skip(n) {
        reap(p);
    }
    println!("regs_rounds {}", sh[0].load(SeqCst));
    println!("regs_pings {}", sh[1].load(SeqCst));
}

// ---- forks: many children from several parents ----------------------------------

fn forks(c: &mut Checker, parents: usize, children: usize) {
    let sh = shared_words(2);
    let mut pids = [0usize; 16];
    let parents = parents.min(16);
    for (p, pid) in pids.iter_mut().enumerate().take(parents) {
        *pid = fork_with(|| {
            let mut bad = 0u32;
            let mut batch = [0usize; 8];
            let mut done = 0;
            while done < children {
                let k = (children - done).min(batch.len());
                for (j, b) in batch.iter_mut().enumerate().take(k) {
                    let code = ((p * 31 + done + j) % 100) as i32;
                    *b = match fork_with(move || code) {
                        Ok(pid) => pid,
                        Err(_) => {
                            bad += 1;
                            0
                        }
                    };
                }
                for (j, &b) in batch.iter().enumerate().take(k) {
                    let code = ((p * 31 + done + j) % 100) as i32;
                    if b == 0 || reap(b) != code {
                        bad += 1;
                    } else {
                        sh[0].fetch_add(1, SeqCst);
                    }
                }
                done += k;
            }
            bad.min(255) as i32
        })
        .unwrap_or(0);
    }
    let mut ok = true;
    for &p in pids.iter().take(parents) {
        ok &= reap(p) == 0;
    }
    c.check(format_args!("{parents} parents forked and reaped {children} children each"), ok);
    c.ok_eq(
        "children reaped with their exit codes",
        Ok(sh[0].load(SeqCst)),
        (parents * children) as u64,
    );
    c.err("no child left", wait4(-1, None, WNOHANG), ECHILD);
}

// ---- yield: context switches between two tasks on one CPU -----------------------

fn yield_pingpong(c: &mut Checker, n: u64, pair: bool) {
    c.ok_eq("pin to CPU 0", set_cpu_mask(0, 1), 0);
    let child = fork_with(|| {
        for _ in 0..if pair { n } else { 0 } {
            let _ = sched_yield();
        }
        0
    });
    if !pair {
        c.ok_eq("the other task exited", child.map(reap), 0);
    }
    for _ in 0..n {
        let _ = sched_yield();
    }
    if pair {
        c.ok_eq("the other task yielded as often", child.map(reap), 0);
    }
}

// ---- childfirst ---------------------------------------------------------------------

extern "C" fn child_exits(_: usize) -> i32 {
    0
}

/// Each child is made with CLONE_CHILD_SETTID on a shared word: the kernel
/// writes the child's tid there the moment the child first runs (before it
/// returns to user mode), so the parent sees whether the child ran first
/// however long the child then takes.
fn childfirst(n: u32) {
    let sh = shared_words(1);
    let word = sh[0].as_ptr() as usize;
    let mut first = 0;
    for _ in 0..n {
        sh[0].store(0, SeqCst);
        // SAFETY: no new stack (the child runs on a copy of ours, as after
        // fork); the tid word is in shared memory that stays mapped.
        match unsafe { clone(SIGCHLD as u64 | CLONE_CHILD_SETTID, 0, 0, word, 0, child_exits, 0) } {
            Ok(pid) => {
                if sh[0].load(SeqCst) != 0 {
                    first += 1;
                }
                reap(pid);
            }
            Err(_) => break,
        }
    }
    println!("child_first {first} of {n}");
}

// ---- tlb: shootdowns --------------------------------------------------------------

const THREAD: u64 = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_CHILD_CLEARTID;

/// What the writer thread shares with the main thread.
struct Writer {
    /// The page it writes (a counter in its first word).
    page: AtomicU64,
    /// Its last value written, after the page write succeeded.
    done: AtomicU64,
    /// 0: starting, 1: running on its CPU, 2: faulted (then it exits).
    state: AtomicU32,
    stop: AtomicU32,
    tid: AtomicU32,
}

static WRITER: Writer = Writer {
    page: AtomicU64::new(0),
    done: AtomicU64::new(0),
    state: AtomicU32::new(0),
    stop: AtomicU32::new(0),
    tid: AtomicU32::new(0),
};

extern "C" fn writer_segv(_sig: i32, _info: *mut siginfo_t, _uc: *mut ucontext) {
    WRITER.state.store(2, SeqCst);
    exit(0);
}

/// The writer thread: on CPU 1, writes an increasing counter to the page.
extern "C" fn writer(_: usize) -> i32 {
    if set_cpu_mask(0, 0b10).is_err() {
        return 1;
    }
    WRITER.state.store(1, SeqCst);
    let p = WRITER.page.load(SeqCst) as *mut u64;
    let mut i = 0u64;
    while WRITER.stop.load(Relaxed) == 0 {
        i += 1;
        // SAFETY: the page is mapped until the main thread unmaps or
        // protects it, after which the write faults and the SIGSEGV handler
        // ends this thread.
        unsafe { core::ptr::write_volatile(p, i) };
        WRITER.done.store(i, Relaxed);
    }
    0
}

fn start_writer(c: &mut Checker, stack: usize, page: usize) -> bool {
    WRITER.page.store(page as u64, SeqCst);
    WRITER.state.store(0, SeqCst);
    WRITER.stop.store(0, SeqCst);
    WRITER.tid.store(1, SeqCst);
    let tid = WRITER.tid.as_ptr() as usize;
    // SAFETY: the thread runs on its own stack (64 KiB at `stack`) and touches
    // only WRITER and the page; it is joined before the stack is reused.
    if let Err(e) = unsafe { clone(THREAD, stack + 65536, 0, tid, 0, writer, 0) } {
        c.fail("clone the writer thread", e);
        return false;
    }
    let end = monotonic_ns() + 2000 * MS;
    while WRITER.state.load(SeqCst) == 0 || WRITER.done.load(SeqCst) < 1000 {
        if monotonic_ns() > end {
            c.fail("the writer thread started", "timeout");
            return false;
        }
        sleep_ms(1);
    }
    true
}

fn join_writer() -> bool {
    WRITER.stop.store(1, SeqCst);
    let end = monotonic_ns() + 2000 * MS;
    loop {
        let v = WRITER.tid.load(SeqCst);
        if v == 0 {
            return true;
        }
        if monotonic_ns() > end {
            return false;
        }
        let t = timespec::from_nanos(10 * MS);
        let _ = futex_wait(&WRITER.tid, 0, v, Some(&t));
    }
}

fn map_page() -> usize {
    // SAFETY: a fresh private anonymous page.
    unsafe { mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }
        .expect("mmap")
}

fn tlb(c: &mut Checker) {
    if cpus().count_ones() < 2 {
        return c.fail("tlb", "needs two CPUs");
    }
    let act = new_sigaction(writer_segv as *const () as usize, SA_SIGINFO, 0);
    // SAFETY: the handler only stores to an atomic and ends its thread.
    if let Err(e) = unsafe { rt_sigaction(SIGSEGV, Some(&act), None) } {
        return c.fail("sigaction", e);
    }
    // SAFETY: a fresh private anonymous mapping for the thread's stack.
    let stack =
        unsafe { mmap(0, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }
            .expect("mmap stack");
    c.ok_eq("main thread on CPU 0", set_cpu_mask(0, 1), 0);

    // fork write-protects the page the thread writes on CPU 1: its copy in the
    // child must not change afterwards.
    let page = map_page();
    if !start_writer(c, stack, page) {
        return;
    }
    let mut frozen = 0;
    for _ in 0..10 {
        match fork_with(|| {
            // SAFETY: the page is mapped in the child (a copy-on-write copy).
            let v1 = unsafe { core::ptr::read_volatile(page as *const u64) };
            sleep_ms(20);
            // SAFETY: as above.
            let v2 = unsafe { core::ptr::read_volatile(page as *const u64) };
            (v1 != v2) as i32
        }) {
            Ok(pid) => frozen += (reap(pid) == 0) as u32,
            Err(e) => return c.fail("fork", e),
        }
    }
    c.check("fork: the child's copy of a page another CPU writes stays frozen", frozen == 10);
    c.check("the writer kept running through the forks", WRITER.state.load(SeqCst) == 1);
    c.check("join the writer", join_writer());

    // mprotect(PROT_READ): the thread's next write faults.
    let page = map_page();
    if !start_writer(c, stack, page) {
        return;
    }
    // SAFETY: the page is ours; the writer's faulting write ends it.
    c.ok("mprotect(PROT_READ) while another CPU writes", unsafe {
        mprotect(page, 4096, PROT_READ)
    });
    // SAFETY: the page is mapped (read-only now) for the rest of the program.
    let v1 = unsafe { core::ptr::read_volatile(page as *const u64) };
    sleep_ms(20);
    // SAFETY: as above.
    let v2 = unsafe { core::ptr::read_volatile(page as *const u64) };
    c.check("mprotect: no write lands after it returns", v1 == v2);
    c.check("mprotect: the writer faulted", WRITER.state.load(SeqCst) == 2);
    c.check("join the writer", join_writer());

    // munmap: likewise.
    let page = map_page();
    if !start_writer(c, stack, page) {
        return;
    }
    // SAFETY: only the writer uses the page, and its next write faults.
    c.ok("munmap while another CPU writes", unsafe { munmap(page, 4096) });
    let d1 = WRITER.done.load(SeqCst);
    sleep_ms(20);
    let d2 = WRITER.done.load(SeqCst);
    c.check("munmap: at most one more write completes after it returns", d2 - d1 <= 1);
    c.check("munmap: the writer faulted", WRITER.state.load(SeqCst) == 2);
    c.check("join the writer", join_writer());
}
