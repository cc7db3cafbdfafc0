//! Resource usage as Linux reports it (`kernel/sys.c` `getrusage`,
//! `kernel/exit.c` `wait_task_zombie`, `posix-cpu-timers.c`): what is
//! deterministic of `getrusage(RUSAGE_SELF | RUSAGE_CHILDREN |
//! RUSAGE_THREAD)`, `wait4`'s rusage and the CPU-time clocks — which fields
//! move and by at least how much, that they never go backwards, that a
//! thread's figures stay with its process when it exits, that children's
//! figures appear only once they are reaped (grandchildren's with them), and
//! the errors. One line per check, exit status = number of failed checks.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::thread::{spawn_thread, wait_until, Stacks};
use userspace::*;

userspace::entry!(main);

const MS: u64 = 1_000_000;
/// An address no program has mapped.
const BAD: usize = 0x10;

fn usage(who: i32) -> rusage {
    let mut r = rusage::default();
    let _ = getrusage(who, &mut r);
    r
}

fn tv_ns(t: timeval) -> u64 {
    t.tv_sec as u64 * 1_000 * MS + t.tv_usec as u64 * 1_000
}

/// User plus system time, ns.
fn cpu(r: &rusage) -> u64 {
    tv_ns(r.ru_utime) + tv_ns(r.ru_stime)
}

fn clock(id: u32) -> u64 {
    let mut t = timespec::default();
    let _ = clock_gettime(id, &mut t);
    t.as_nanos()
}

/// Spin in user mode until this thread has used `ns` more CPU time.
///
/// Each look at the clock is a system call (no vDSO for CPU clocks), so
/// there is a lot of user work between two: under an emulated CPU (the SVM
/// lane's L1 runs on QEMU's TCG) a system call costs as much as tens of
/// thousands of loop iterations, and with 10,000 per look Linux there once
/// counted less than half of a 40 ms spin as user time.
fn spin(ns: u64) {
    let end = clock(CLOCK_THREAD_CPUTIME_ID) + ns;
    let mut x = 0u64;
    while clock(CLOCK_THREAD_CPUTIME_ID) < end {
        for i in 0..200_000u64 {
            x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    core::hint::black_box(x);
}

/// Pages of read/write memory between two PROT_NONE pages in [`touch`]: no
/// area can hold a 2 MiB-aligned huge page, so Linux (with transparent huge
/// pages "always") takes a fault per page, as this kernel does.
const RUN: usize = 128;

/// Map `pages` fresh pages and write to each: that many minor faults. The
/// mapping has a PROT_NONE page after every [`RUN`] pages; (address, length)
/// for munmap.
fn touch(pages: usize) -> Option<(usize, usize)> {
    let len = (pages + pages.div_ceil(RUN)) * PAGE_SIZE;
    // SAFETY: a fresh anonymous mapping that nothing else uses.
    let at =
        unsafe { mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }.ok()?;
    // The guard pages first: a write before would fault in the area whole.
    for run in 0..pages.div_ceil(RUN) {
        let guard = run * (RUN + 1) + (pages - run * RUN).min(RUN);
        // SAFETY: the guard page is in the mapping and never used.
        unsafe { mprotect(at + guard * PAGE_SIZE, PAGE_SIZE, PROT_NONE) }.ok()?;
    }
    for p in (0..pages).map(|p| p + p / RUN) {
        // SAFETY: inside the mapping just made, not a guard page.
        unsafe { core::ptr::write_volatile((at + p * PAGE_SIZE) as *mut u8, 1) };
    }
    Some((at, len))
}

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    errors(&mut c);
    clocks(&mut c);
    self_usage(&mut c);
    let Some(stacks) = Stacks::new(2) else {
        c.fail("thread stacks", "mmap failed");
        return c.status();
    };
    threads(&mut c, stacks);
    children(&mut c);
    c.status()
}

fn errors(c: &mut Checker) {
    for who in [2, -2, 3, i32::MIN] {
        let mut r = rusage { ru_maxrss: 77, ..rusage::default() };
        c.err(format_args!("getrusage(who {who}) is EINVAL"), getrusage(who, &mut r), EINVAL);
        c.check(format_args!("getrusage(who {who}) wrote nothing"), r.ru_maxrss == 77);
    }
    for who in [RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD] {
        // SAFETY: BAD is an unmapped address the kernel refuses.
        let r = errno::result(unsafe { syscall::syscall2(nr::__NR_getrusage, who as usize, BAD) });
        c.err(format_args!("getrusage(who {who}, bad pointer) is EFAULT"), r, EFAULT);
    }
    for (id, name) in [(CLOCK_PROCESS_CPUTIME_ID, "PROCESS"), (CLOCK_THREAD_CPUTIME_ID, "THREAD")] {
        // SAFETY: as above.
        let r =
            errno::result(unsafe { syscall::syscall2(nr::__NR_clock_gettime, id as usize, BAD) });
        c.err(format_args!("clock_gettime(CLOCK_{name}_CPUTIME_ID, bad) is EFAULT"), r, EFAULT);
    }
    let mut r = rusage::default();
    c.ok("getrusage works after the errors", getrusage(RUSAGE_SELF, &mut r));
}

fn clocks(c: &mut Checker) {
    for (id, name) in [(CLOCK_PROCESS_CPUTIME_ID, "PROCESS"), (CLOCK_THREAD_CPUTIME_ID, "THREAD")] {
        let mut res = timespec::default();
        c.ok(format_args!("clock_getres(CLOCK_{name}_CPUTIME_ID)"), clock_getres(id, &mut res));
        c.check(format_args!("CLOCK_{name}_CPUTIME_ID resolution is 1 ns"), res.as_nanos() == 1);
        let (mut last, mut back) = (clock(id), false);
        for _ in 0..200 {
            let now = clock(id);
            back |= now < last;
            last = now;
        }
        c.check(format_args!("CLOCK_{name}_CPUTIME_ID never goes backwards"), !back);
    }
    let m0 = monotonic_ns();
    let (p0, t0) = (clock(CLOCK_PROCESS_CPUTIME_ID), clock(CLOCK_THREAD_CPUTIME_ID));
    spin(30 * MS);
    let (p1, t1) = (clock(CLOCK_PROCESS_CPUTIME_ID), clock(CLOCK_THREAD_CPUTIME_ID));
    let m1 = monotonic_ns();
    c.check("spinning 30 ms moves the thread clock by 30 ms or more", t1 - t0 >= 30 * MS);
    c.check("and the process clock by as much", p1 - p0 >= 30 * MS);
    // Within 5 %: Linux reads a task's CPU time from the scheduler's clock
    // (`sched_clock`) and CLOCK_MONOTONIC from the timekeeping clock source;
    // on an emulated machine they drift apart: in the SVM lane's L1 (Linux
    // under QEMU) the thread's CPU time once came out above the monotonic
    // time that passed. Double counting (twice the time) still fails.
    c.check(
        "and CPU time is not more than the time that passed (within 5 %)",
        (t1 - t0) * 100 <= (m1 - m0) * 105,
    );
    // The thread's first: the process clock read after it cannot be less.
    let t = clock(CLOCK_THREAD_CPUTIME_ID);
    let p = clock(CLOCK_PROCESS_CPUTIME_ID);
    c.check("one thread: the process clock is at least the thread's", p >= t);
    let m = monotonic_ns();
    sleep_ms(30);
    let slept = clock(CLOCK_THREAD_CPUTIME_ID) - t;
    c.check("sleeping 30 ms does not count as CPU time", slept < (monotonic_ns() - m) / 2);
}

fn self_usage(c: &mut Checker) {
    let r = usage(RUSAGE_SELF);
    c.check("RUSAGE_SELF: some CPU time used", cpu(&r) > 0);
    // (How many faults a program has taken by now depends on how its image
    // was loaded: Linux faults it in, this kernel's exec copies it.)
    c.check("RUSAGE_SELF: max RSS at least a page", r.ru_maxrss >= 4);
    c.check(
        "RUSAGE_SELF: unused fields are 0",
        r.ru_ixrss == 0 && r.ru_idrss == 0 && r.ru_isrss == 0 && r.ru_nswap == 0,
    );
    // Linux takes a major fault for a page of the program's file not in the
    // page cache (a fresh build, or memory pressure on the host): at most
    // the file's few pages. This kernel's files are in memory: none.
    c.check("RUSAGE_SELF: major faults only for the program's own pages", r.ru_majflt <= 32);
    c.check("the process clock is at least RUSAGE_SELF's CPU time", {
        let before = cpu(&usage(RUSAGE_SELF));
        clock(CLOCK_PROCESS_CPUTIME_ID) >= before
    });
    let mut last = usage(RUSAGE_SELF);
    let mut back = false;
    for i in 0..60 {
        if i % 20 == 0 {
            spin(2 * MS);
        }
        let now = usage(RUSAGE_SELF);
        back |= tv_ns(now.ru_utime) < tv_ns(last.ru_utime)
            || tv_ns(now.ru_stime) < tv_ns(last.ru_stime)
            || now.ru_minflt < last.ru_minflt
            || now.ru_nvcsw < last.ru_nvcsw
            || now.ru_nivcsw < last.ru_nivcsw
            || now.ru_maxrss < last.ru_maxrss;
        last = now;
    }
    c.check("RUSAGE_SELF: no figure ever goes backwards", !back);
    let before = usage(RUSAGE_SELF);
    spin(40 * MS);
    let after = usage(RUSAGE_SELF);
    c.check("spinning 40 ms adds 35 ms or more of CPU time", cpu(&after) - cpu(&before) >= 35 * MS);
    // Ticks decide the user/system split (Linux without VIRT_CPU_ACCOUNTING):
    // under emulation (the SVM lane's L1 Linux in QEMU TCG) the few ticks of
    // 40 ms can all land in the kernel, so it spins on, 40 ms at a time for
    // up to 2 s, until a tick's worth of user time shows.
    let mut now = after;
    for _ in 0..50 {
        if tv_ns(now.ru_utime) - tv_ns(before.ru_utime) >= 4 * MS {
            break;
        }
        spin(40 * MS);
        now = usage(RUSAGE_SELF);
    }
    c.check(
        "user time grows by a tick or more while it spins",
        tv_ns(now.ru_utime) - tv_ns(before.ru_utime) >= 4 * MS,
    );
    let before = usage(RUSAGE_SELF);
    let Some((at, len)) = touch(512) else {
        c.fail("mmap 512 pages", "failed");
        return;
    };
    let after = usage(RUSAGE_SELF);
    c.check(
        "touching 512 new pages: 512 minor faults or more",
        after.ru_minflt - before.ru_minflt >= 512,
    );
    // Linux's RSS counters are per CPU and read without the CPUs' pending
    // counts (a batch of pages each): what getrusage sees may lag.
    c.check("and max RSS is 1.5 MiB or more (2 MiB touched)", after.ru_maxrss >= 1536);
    // SAFETY: the mapping is not used again.
    let _ = unsafe { munmap(at, len) };
    c.check("max RSS stays after munmap", usage(RUSAGE_SELF).ru_maxrss >= after.ru_maxrss);
    // A sleep whose deadline has passed by the time the kernel would block
    // returns without a switch (Linux's do_nanosleep finds the timer gone;
    // the guest's wait_event finds the condition true): under emulation a
    // 2 ms sleep can be that late, so it sleeps on, up to 50 times, until
    // two voluntary switches show.
    let before = usage(RUSAGE_SELF);
    let mut after = before;
    for _ in 0..50 {
        sleep_ms(2);
        after = usage(RUSAGE_SELF);
        if after.ru_nvcsw - before.ru_nvcsw >= 2 {
            break;
        }
    }
    c.check("2 ms sleeps: two voluntary switches or more", after.ru_nvcsw - before.ru_nvcsw >= 2);
    let me = usage(RUSAGE_THREAD);
    let all = usage(RUSAGE_SELF);
    c.check(
        "one thread: RUSAGE_THREAD's minor faults are the process's",
        me.ru_minflt == all.ru_minflt,
    );
    c.check("one thread: RUSAGE_THREAD's max RSS is the process's", me.ru_maxrss == all.ru_maxrss);
}

static T1: AtomicU32 = AtomicU32::new(0);
/// What the fresh thread saw of itself: CPU time (µs), minor faults,
/// voluntary switches; then 1 when it is done.
static SEEN_CPU_US: AtomicU32 = AtomicU32::new(u32::MAX);
static SEEN_MINFLT: AtomicU32 = AtomicU32::new(u32::MAX);
static SEEN_NVCSW: AtomicU32 = AtomicU32::new(u32::MAX);
static SEEN_THREAD_CLOCK_US: AtomicU32 = AtomicU32::new(u32::MAX);

/// A fresh thread: notes its own usage, then spins 40 ms and faults 256
/// pages in (which stay with the process when it exits).
extern "C" fn worker(_: usize) -> i32 {
    let r = usage(RUSAGE_THREAD);
    SEEN_CPU_US.store((cpu(&r) / 1_000) as u32, SeqCst);
    SEEN_MINFLT.store(r.ru_minflt as u32, SeqCst);
    SEEN_NVCSW.store(r.ru_nvcsw as u32, SeqCst);
    SEEN_THREAD_CLOCK_US.store((clock(CLOCK_THREAD_CPUTIME_ID) / 1_000) as u32, SeqCst);
    spin(40 * MS);
    if touch(256).is_none() {
        return 1;
    }
    0
}

fn threads(c: &mut Checker, stacks: Stacks) {
    let before = usage(RUSAGE_SELF);
    let clock_before = clock(CLOCK_PROCESS_CPUTIME_ID);
    let my_clock = clock(CLOCK_THREAD_CPUTIME_ID);
    // SAFETY: stack 0 is the thread's alone; T1 is static.
    if unsafe { spawn_thread(stacks.top(0), &T1, worker, 0) }.is_err() {
        c.fail("spawn a thread", "clone failed");
        return;
    }
    if !wait_until(&T1, |v| v == 0) {
        c.fail("the thread exits", "still running");
        return;
    }
    c.check(
        "a fresh thread's RUSAGE_THREAD: under 20 ms of CPU time",
        SEEN_CPU_US.load(SeqCst) < 20_000,
    );
    c.check("a fresh thread's RUSAGE_THREAD: under 16 minor faults", SEEN_MINFLT.load(SeqCst) < 16);
    c.check(
        "a fresh thread's RUSAGE_THREAD: under 4 voluntary switches",
        SEEN_NVCSW.load(SeqCst) < 4,
    );
    c.check(
        "a fresh thread's CLOCK_THREAD_CPUTIME_ID: under 20 ms",
        SEEN_THREAD_CLOCK_US.load(SeqCst) < 20_000,
    );
    let after = usage(RUSAGE_SELF);
    c.check("the exited thread's 40 ms stay in RUSAGE_SELF", cpu(&after) - cpu(&before) >= 35 * MS);
    c.check("and its 256 minor faults", after.ru_minflt - before.ru_minflt >= 256);
    // This thread's clock first, the process's after: the process's grew by
    // this thread's time and the exited thread's 40 ms (however long this
    // thread's clone took).
    let mine = clock(CLOCK_THREAD_CPUTIME_ID) - my_clock;
    let process = clock(CLOCK_PROCESS_CPUTIME_ID) - clock_before;
    c.check("and in CLOCK_PROCESS_CPUTIME_ID", process >= 40 * MS);
    c.check("but not in this thread's clock", mine + 40 * MS <= process);
    let me = usage(RUSAGE_THREAD);
    let after = usage(RUSAGE_SELF);
    c.check(
        "RUSAGE_THREAD has less CPU time than RUSAGE_SELF now",
        cpu(&me) + 35 * MS <= cpu(&after),
    );
    c.check(
        "RUSAGE_THREAD has fewer minor faults than RUSAGE_SELF now",
        me.ru_minflt + 256 <= after.ru_minflt,
    );
}

/// A child: spins 40 ms, faults 1024 pages in, sleeps, and reaps a grandchild
/// that spins 30 ms; exits 0.
fn child() -> i32 {
    spin(40 * MS);
    if touch(1024).is_none() {
        return 1;
    }
    sleep_ms(1);
    let Ok(pid) = fork_with(|| {
        spin(30 * MS);
        0
    }) else {
        return 2;
    };
    let mut st = 0;
    if wait4(pid as i32, Some(&mut st), 0) != Ok(pid) || st != 0 {
        return 3;
    }
    0
}

fn children(c: &mut Checker) {
    let none = usage(RUSAGE_CHILDREN);
    let mine_before = usage(RUSAGE_SELF);
    c.check("nothing reaped yet: RUSAGE_CHILDREN is all zeros", none == rusage::default());
    let Ok(pid) = fork_with(child) else {
        c.fail("fork", "failed");
        return;
    };
    // Wait until it is a zombie, without reaping it.
    let mut info = siginfo_t::default();
    c.ok(
        "waitid(WEXITED | WNOWAIT) sees the child exit",
        waitid(P_PID, pid as i32, Some(&mut info), WEXITED | WNOWAIT),
    );
    c.check(
        "an exited child not reaped yet is not in RUSAGE_CHILDREN",
        usage(RUSAGE_CHILDREN) == rusage::default(),
    );
    let mut theirs = rusage::default();
    let mut st = -1;
    c.ok_eq(
        "wait4 with rusage reaps it",
        wait4_rusage(pid as i32, Some(&mut st), 0, &mut theirs),
        pid,
    );
    c.check("it exited 0", st == 0);
    c.check(
        "wait4's rusage: 65 ms or more of CPU time (its own and its child's)",
        cpu(&theirs) >= 65 * MS,
    );
    c.check("wait4's rusage: 1024 minor faults or more", theirs.ru_minflt >= 1024);
    c.check("wait4's rusage: max RSS 3.5 MiB or more (4 MiB touched)", theirs.ru_maxrss >= 3584);
    c.check("wait4's rusage: a voluntary switch or more", theirs.ru_nvcsw >= 1);
    let reaped = usage(RUSAGE_CHILDREN);
    c.check("RUSAGE_CHILDREN after the reap is wait4's rusage", reaped == theirs);
    let mine = usage(RUSAGE_SELF);
    // (Not its time: the parent's forks are system time of its own, and
    // slow under an emulating hypervisor.)
    c.check(
        "the child's faults are not the parent's own",
        mine.ru_minflt - mine_before.ru_minflt < 512,
    );
    // A child the parent does not wait for is not counted until it is.
    let Ok(pid) = fork_with(|| {
        spin(20 * MS);
        0
    }) else {
        c.fail("fork", "failed");
        return;
    };
    let mut info = siginfo_t::default();
    let _ = waitid(P_PID, pid as i32, Some(&mut info), WEXITED | WNOWAIT);
    c.check("a second zombie adds nothing yet", usage(RUSAGE_CHILDREN) == reaped);
    let mut st = -1;
    let _ = wait4(pid as i32, Some(&mut st), 0);
    let both = usage(RUSAGE_CHILDREN);
    c.check("reaped: its 20 ms are added", cpu(&both) >= cpu(&reaped) + 15 * MS);
    c.check("RUSAGE_CHILDREN's max RSS is the largest child's", both.ru_maxrss == reaped.ru_maxrss);
    let mut r = rusage { ru_maxrss: 5, ..rusage::default() };
    c.err("wait4 with no child left is ECHILD", wait4_rusage(-1, None, 0, &mut r), ECHILD);
    c.check("and writes no rusage", r.ru_maxrss == 5);
}
