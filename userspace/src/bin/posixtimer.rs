//! POSIX per-process timers as Linux keeps them (`kernel/time/posix-timers.c`,
//! `posix-cpu-timers.c`): timer_create's clocks, sigevents and ids, the
//! values timer_settime and timer_gettime give (relative, absolute,
//! periodic), the signal's siginfo (SI_TIMER, si_timerid, si_value), one
//! signal queued per timer and the expiries skipped counted as its overrun,
//! SIGEV_NONE, SIGEV_THREAD_ID, CPU-time clocks, the default action, and
//! timers gone in a fork child and after execve; every error. One line per
//! check, exit status = number of failed checks. With the argument `exec` it
//! is the image execve started: it checks it was given no timers.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::SeqCst};

use userspace::thread::{join, set_wake, wait_until, Stacks};
use userspace::*;

userspace::entry!(main);

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;
/// An address no program has mapped.
const BAD: usize = 0x10;
const SIG_A: u32 = SIGUSR1;
const SIG_B: u32 = SIGUSR2;
/// A real-time signal (the C library keeps the first two for itself).
const SIG_RT: u32 = SIGRTMIN + 8;

/// What the handler saw last: how many, signal, si_code, si_timerid,
/// si_overrun, si_value, and the thread that ran it.
static COUNT: AtomicU32 = AtomicU32::new(0);
static SIGNO: AtomicI32 = AtomicI32::new(0);
static CODE: AtomicI32 = AtomicI32::new(0);
static TIMERID: AtomicI32 = AtomicI32::new(-1);
static OVERRUN: AtomicI32 = AtomicI32::new(-1);
/// `si_overrun` of the first signal since `reset`.
static FIRST_OVERRUN: AtomicI32 = AtomicI32::new(-1);
static VALUE: AtomicU64 = AtomicU64::new(0);
static TID: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_timer(sig: i32, info: *mut siginfo_t, _: *mut ucontext) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo.
    let info = unsafe { &*info };
    SIGNO.store(sig, SeqCst);
    CODE.store(info.si_code, SeqCst);
    TIMERID.store(info.si_timerid(), SeqCst);
    OVERRUN.store(info.si_overrun(), SeqCst);
    let _ = FIRST_OVERRUN.compare_exchange(-1, info.si_overrun(), SeqCst, SeqCst);
    VALUE.store(info.si_value(), SeqCst);
    TID.store(gettid().unwrap_or(0) as i32, SeqCst);
    COUNT.fetch_add(1, SeqCst);
}

fn install(sig: u32) {
    let act = new_sigaction(on_timer as *const () as usize, SA_SIGINFO | SA_RESTART, 0);
    // SAFETY: the handler only stores to atomics.
    let _ = unsafe { rt_sigaction(sig, Some(&act), None) };
}

fn reset() {
    COUNT.store(0, SeqCst);
    SIGNO.store(0, SeqCst);
    CODE.store(0, SeqCst);
    TIMERID.store(-1, SeqCst);
    OVERRUN.store(-1, SeqCst);
    FIRST_OVERRUN.store(-1, SeqCst);
    VALUE.store(0, SeqCst);
    TID.store(0, SeqCst);
}

fn spec(value: u64, interval: u64) -> itimerspec {
    itimerspec {
        it_interval: timespec::from_nanos(interval),
        it_value: timespec::from_nanos(value),
    }
}

fn set(id: i32, value: u64, interval: u64) -> (u64, u64) {
    let mut old = itimerspec::default();
    let _ = timer_settime(id, 0, &spec(value, interval), Some(&mut old));
    (old.it_value.as_nanos(), old.it_interval.as_nanos())
}

fn get(id: i32) -> (u64, u64) {
    let mut cur = itimerspec::default();
    match timer_gettime(id, &mut cur) {
        Ok(_) => (cur.it_value.as_nanos(), cur.it_interval.as_nanos()),
        Err(_) => (u64::MAX, u64::MAX),
    }
}

fn event(signo: u32, value: u64) -> sigevent {
    sigevent::new(SIGEV_SIGNAL, signo, value)
}

fn raw(nr: usize, a: [usize; 4]) -> Result<usize, Errno> {
    // SAFETY: the calls made through this read or write only through BAD (an
    // unmapped address the kernel refuses) or through live structs.
    errno::result(unsafe { syscall::syscall4(nr, a[0], a[1], a[2], a[3]) })
}

fn clock(c: u32) -> u64 {
    let mut t = timespec::default();
    let _ = clock_gettime(c, &mut t);
    t.as_nanos()
}

/// Wait (pause) until the handler ran `n` times or `ms` milliseconds passed.
fn wait_count(n: u32, ms: u64) -> bool {
    let end = monotonic_ns() + ms * MS;
    while COUNT.load(SeqCst) < n {
        if monotonic_ns() > end {
            return false;
        }
        sleep_ms(1);
    }
    true
}

fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    if args.bytes(1) == Some(b"exec") {
        after_exec(&mut c);
        return c.status();
    }
    for sig in [SIG_A, SIG_B, SIG_RT, SIGALRM] {
        install(sig);
    }
    create_and_delete(&mut c);
    errors(&mut c);
    values(&mut c);
    delivery(&mut c);
    overruns(&mut c);
    sigev_none(&mut c);
    threads(&mut c);
    cpu_clocks(&mut c);
    default_action(&mut c);
    limit(&mut c);
    fork_and_exec(&mut c, args);
    c.status()
}

fn create_and_delete(c: &mut Checker) {
    let a = timer_create(CLOCK_MONOTONIC, None);
    c.ok_eq("the first timer is id 0", a, 0);
    let b = timer_create(CLOCK_REALTIME, Some(&event(SIG_A, 1)));
    c.ok_eq("the second is id 1", b, 1);
    c.check("a new timer is disarmed", get(0) == (0, 0));
    c.ok_eq("timer_getoverrun of a new timer", timer_getoverrun(0), 0);
    c.ok_eq("timer_delete 0", timer_delete(0), 0);
    c.err("timer_delete 0 again: EINVAL", timer_delete(0), EINVAL);
    let mut cur = itimerspec::default();
    c.err("timer_gettime of a deleted timer: EINVAL", timer_gettime(0, &mut cur), EINVAL);
    c.err("timer_getoverrun of a deleted timer: EINVAL", timer_getoverrun(0), EINVAL);
    c.err(
        "timer_settime of a deleted timer: EINVAL",
        timer_settime(0, 0, &spec(SEC, 0), None),
        EINVAL,
    );
    c.ok_eq("ids go on from the last one given", timer_create(CLOCK_MONOTONIC, None), 2);
    c.err("timer_gettime of id -1: EINVAL", timer_gettime(-1, &mut cur), EINVAL);
    c.err("timer_delete of id 12345: EINVAL", timer_delete(12345), EINVAL);
    for (clk, name) in [
        (CLOCK_BOOTTIME, "CLOCK_BOOTTIME"),
        (CLOCK_TAI, "CLOCK_TAI"),
        (CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"),
        (CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"),
    ] {
        match timer_create(clk, Some(&sigevent::new(SIGEV_NONE, 0, 0))) {
            Ok(id) => {
                c.check(format_args!("timer_create {name}"), true);
                let _ = timer_delete(id);
            }
            Err(e) => c.fail(format_args!("timer_create {name}"), e),
        }
    }
    for id in [1, 2] {
        let _ = timer_delete(id);
    }
}

fn errors(c: &mut Checker) {
    for (clk, name, want) in [
        (CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW", EOPNOTSUPP),
        (CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE", EOPNOTSUPP),
        (CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE", EOPNOTSUPP),
        (10, "clock 10", EINVAL),
        (12, "clock 12", EINVAL),
    ] {
        c.err(format_args!("timer_create {name}"), timer_create(clk, None), want);
    }
    let me = gettid().unwrap_or(0) as i32;
    let bad = [
        ("notify 3", sigevent::new(3, SIG_A, 0)),
        ("SIGEV_SIGNAL signal 0", event(0, 0)),
        ("SIGEV_SIGNAL signal 65", event(65, 0)),
        ("SIGEV_THREAD signal 0", sigevent::new(SIGEV_THREAD, 0, 0)),
        ("SIGEV_THREAD_ID tid 0", sigevent::new(SIGEV_THREAD_ID, SIG_A, 0)),
        ("SIGEV_THREAD_ID of another process", {
            let mut e = sigevent::new(SIGEV_THREAD_ID, SIG_A, 0);
            e.sigev_notify_thread_id = getppid().unwrap_or(1) as i32;
            e
        }),
        ("SIGEV_THREAD|SIGEV_THREAD_ID", {
            let mut e = sigevent::new(SIGEV_THREAD | SIGEV_THREAD_ID, SIG_A, 0);
            e.sigev_notify_thread_id = me;
            e
        }),
    ];
    for (name, ev) in bad {
        c.err(
            format_args!("timer_create {name}: EINVAL"),
            timer_create(CLOCK_MONOTONIC, Some(&ev)),
            EINVAL,
        );
    }
    c.err(
        "timer_create with a bad sigevent pointer: EFAULT",
        raw(nr::__NR_timer_create, [CLOCK_MONOTONIC as usize, BAD, 0, 0]),
        EFAULT,
    );
    c.err(
        "timer_create with a bad id pointer: EFAULT",
        raw(nr::__NR_timer_create, [CLOCK_MONOTONIC as usize, 0, BAD, 0]),
        EFAULT,
    );
    // That one left no timer behind: the only timer is the next one made.
    let id = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_A, 0))).unwrap_or(-1);
    let mut cur = itimerspec::default();
    let others = (0..id).filter(|&i| timer_gettime(i, &mut cur).is_ok()).count();
    c.check("the failed calls left no timer", id >= 0 && others == 0);
    c.err(
        "timer_settime with no value: EINVAL",
        raw(nr::__NR_timer_settime, [id as usize, 0, 0, 0]),
        EINVAL,
    );
    let bad_ns = itimerspec {
        it_interval: timespec::default(),
        it_value: timespec { tv_sec: 1, tv_nsec: 1_000_000_000 },
    };
    c.err("timer_settime nsec 1000000000: EINVAL", timer_settime(id, 0, &bad_ns, None), EINVAL);
    let negative = itimerspec {
        it_interval: timespec { tv_sec: -1, tv_nsec: 0 },
        it_value: timespec::from_nanos(SEC),
    };
    c.err("timer_settime negative interval: EINVAL", timer_settime(id, 0, &negative, None), EINVAL);
    c.err(
        "timer_settime bad value pointer: EFAULT",
        raw(nr::__NR_timer_settime, [id as usize, 0, BAD, 0]),
        EFAULT,
    );
    c.check("the failed calls armed nothing", get(id) == (0, 0));
    let new = spec(5 * SEC, 0);
    c.err(
        "timer_settime bad old pointer: EFAULT",
        raw(nr::__NR_timer_settime, [id as usize, 0, &new as *const itimerspec as usize, BAD]),
        EFAULT,
    );
    c.check("and the timer was set all the same", get(id).0 > 4 * SEC);
    c.err(
        "timer_gettime bad pointer: EFAULT",
        raw(nr::__NR_timer_gettime, [id as usize, BAD, 0, 0]),
        EFAULT,
    );
    let _ = timer_delete(id);
}

fn values(c: &mut Checker) {
    let id = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_A, 0))).unwrap_or(-1);
    c.check("arming returns the old (none)", set(id, 5 * SEC, 0) == (0, 0));
    let (v, i) = get(id);
    c.check("counts down from 5 s", v > 4 * SEC && v <= 5 * SEC && i == 0);
    let (v, i) = set(id, 3 * SEC, SEC);
    c.check("re-arming returns what was left", v > 4 * SEC && v <= 5 * SEC && i == 0);
    let (v, i) = get(id);
    c.check("3 s, interval 1 s exactly", v > 2 * SEC && v <= 3 * SEC && i == SEC);
    let (v, i) = set(id, 0, 2 * SEC);
    c.check("disarming returns value and interval", v > 2 * SEC && i == SEC);
    c.check("a disarmed timer keeps no interval", get(id) == (0, 0));
    // TIMER_ABSTIME: a time on the timer's clock.
    let abs = spec(clock(CLOCK_MONOTONIC) + 3 * SEC, 0);
    c.ok_eq("TIMER_ABSTIME on CLOCK_MONOTONIC", timer_settime(id, TIMER_ABSTIME, &abs, None), 0);
    let (v, _) = get(id);
    c.check("reads as the time left", v > 2 * SEC && v <= 3 * SEC);
    let _ = timer_delete(id);
    let rt = timer_create(CLOCK_REALTIME, Some(&event(SIG_A, 0))).unwrap_or(-1);
    let abs = spec(clock(CLOCK_REALTIME) + 3 * SEC, 0);
    c.ok_eq("TIMER_ABSTIME on CLOCK_REALTIME", timer_settime(rt, TIMER_ABSTIME, &abs, None), 0);
    let (v, _) = get(rt);
    c.check("wall-clock time to the time left", v > 2 * SEC && v <= 3 * SEC);
    // A time already past expires at once.
    reset();
    let past = spec(clock(CLOCK_REALTIME) - SEC, 0);
    let _ = timer_settime(rt, TIMER_ABSTIME, &past, None);
    c.check("a time already past: the signal comes at once", wait_count(1, 5_000));
    c.check("and the timer is disarmed", get(rt) == (0, 0));
    let _ = timer_delete(rt);
}

fn delivery(c: &mut Checker) {
    let id = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_A, 0xabcd_ef01_2345))).unwrap_or(-1);
    reset();
    set(id, 20 * MS, 0);
    c.check("one-shot: the signal comes", wait_count(1, 5_000));
    c.ok_eq("si_signo", Ok(SIGNO.load(SeqCst)), SIG_A as i32);
    c.ok_eq("si_code SI_TIMER", Ok(CODE.load(SeqCst)), SI_TIMER);
    c.ok_eq("si_timerid is the timer's id", Ok(TIMERID.load(SeqCst)), id);
    c.ok_eq("si_value is sigev_value", Ok(VALUE.load(SeqCst)), 0xabcd_ef01_2345);
    c.ok_eq("si_overrun 0", Ok(OVERRUN.load(SeqCst)), 0);
    sleep_ms(50);
    c.ok_eq("once", Ok(COUNT.load(SeqCst)), 1);
    c.check("a one-shot timer is disarmed after it ran", get(id) == (0, 0));
    reset();
    set(id, 10 * MS, 10 * MS);
    c.check("periodic: three signals", wait_count(3, 10_000));
    set(id, 0, 0);
    let _ = timer_delete(id);
    // No sigevent: SIGALRM to the process carrying the timer's id.
    let id = timer_create(CLOCK_MONOTONIC, None).unwrap_or(-1);
    reset();
    set(id, 10 * MS, 0);
    c.check("no sigevent: a signal comes", wait_count(1, 5_000));
    c.ok_eq("it is SIGALRM", Ok(SIGNO.load(SeqCst)), SIGALRM as i32);
    c.check(
        "with the id as si_value and si_timerid",
        VALUE.load(SeqCst) as i32 == id && TIMERID.load(SeqCst) == id,
    );
    let _ = timer_delete(id);
    // Two timers, two signals.
    let a = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_A, 1))).unwrap_or(-1);
    let b = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_B, 2))).unwrap_or(-1);
    let both = sigmask(SIG_A) | sigmask(SIG_B);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&both), None);
    reset();
    set(a, 10 * MS, 0);
    set(b, 20 * MS, 0);
    sleep_ms(60);
    let mut pending = 0;
    let _ = rt_sigpending(&mut pending);
    c.check("two timers: both signals pending", pending & both == both);
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&both), None);
    c.ok_eq("both delivered", Ok(COUNT.load(SeqCst)), 2);
    // An ignored signal: a periodic timer goes on.
    let _ = signal_disposition(SIG_A, SIG_IGN);
    set(a, 10 * MS, 10 * MS);
    sleep_ms(55);
    let (v, i) = get(a);
    c.check("its signal ignored, a periodic timer goes on", v > 0 && v <= 10 * MS && i == 10 * MS);
    set(a, 0, 0);
    install(SIG_A);
    for id in [a, b] {
        let _ = timer_delete(id);
    }
}

fn overruns(c: &mut Checker) {
    // Periods long enough that the next expiry after the signal is taken
    // does not come before the checks that follow, even on a slow host.
    const PERIOD: u64 = 50 * MS;
    let id = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_RT, 9))).unwrap_or(-1);
    let rt = sigmask(SIG_RT);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&rt), None);
    reset();
    set(id, PERIOD, PERIOD);
    sleep_ms(10 * PERIOD / MS);
    let (v, i) = get(id);
    c.check("blocked: read as if restarted", v > 0 && v <= PERIOD && i == PERIOD);
    let mut pending = 0;
    let _ = rt_sigpending(&mut pending);
    c.check("one signal pending", pending & rt != 0);
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&rt), None);
    let over = FIRST_OVERRUN.load(SeqCst);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&rt), None);
    c.ok_eq("unblocked: one signal for ten periods", Ok(COUNT.load(SeqCst)), 1);
    c.check("si_overrun counts the expiries skipped (5 or more)", over >= 5);
    c.ok_eq("timer_getoverrun is the delivered signal's", timer_getoverrun(id), over as usize);
    let (v, i) = get(id);
    c.check("taking it restarted the timer", v > 0 && v <= PERIOD && i == PERIOD);
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&rt), None);
    set(id, 0, 0);
    c.ok_eq("timer_settime clears the overrun", timer_getoverrun(id), 0);
    let _ = timer_delete(id);
}

fn sigev_none(c: &mut Checker) {
    let id = timer_create(CLOCK_MONOTONIC, Some(&sigevent::new(SIGEV_NONE, 0, 0))).unwrap_or(-1);
    reset();
    set(id, 50 * MS, 0);
    let (v, _) = get(id);
    c.check("SIGEV_NONE counts down", v > 0 && v <= 50 * MS);
    sleep_ms(70);
    c.check("and reads 0 once expired", get(id) == (0, 0));
    set(id, 10 * MS, 10 * MS);
    sleep_ms(55);
    let (v, i) = get(id);
    c.check(
        "a periodic SIGEV_NONE timer reads its next period",
        v > 0 && v <= 10 * MS && i == 10 * MS,
    );
    c.ok_eq("no signal from SIGEV_NONE", Ok(COUNT.load(SeqCst)), 0);
    let _ = timer_delete(id);
}

static T_TID: AtomicU32 = AtomicU32::new(0);
static T_GO: AtomicU32 = AtomicU32::new(0);
static T_MASKED: AtomicU32 = AtomicU32::new(0);

/// A thread that leaves SIG_B unblocked and waits for its turn to end.
extern "C" fn waiter(_: usize) -> i32 {
    let b = sigmask(SIG_B);
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&b), None);
    set_wake(&T_MASKED, 1);
    while T_GO.load(SeqCst) == 0 {
        let _ = pause();
    }
    0
}

fn threads(c: &mut Checker) {
    let Some(stacks) = Stacks::new(1) else {
        c.fail("thread stacks", "mmap");
        return;
    };
    // The main thread blocks SIG_B: the process-directed signal goes to the
    // thread that does not.
    let b = sigmask(SIG_B);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&b), None);
    T_GO.store(0, SeqCst);
    T_MASKED.store(0, SeqCst);
    if !stacks.spawn(0, &T_TID, waiter, 0) || !wait_until(&T_MASKED, |v| v == 1) {
        c.fail("start a thread", "clone");
        return;
    }
    let thread = T_TID.load(SeqCst) as i32;
    let id = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_B, 3))).unwrap_or(-1);
    reset();
    set(id, 10 * MS, 0);
    c.check("process-directed: a thread takes it", wait_count(1, 5_000));
    c.check("the thread that does not block it", TID.load(SeqCst) == thread);
    let _ = timer_delete(id);
    // SIGEV_THREAD_ID names the thread; the other thread's timer is its own.
    let mut ev = sigevent::new(SIGEV_THREAD_ID, SIG_A, 4);
    ev.sigev_notify_thread_id = thread;
    let id = timer_create(CLOCK_MONOTONIC, Some(&ev));
    if let Some(id) = c.ok("SIGEV_THREAD_ID of a thread of this process", id) {
        reset();
        set(id, 10 * MS, 0);
        c.check("the signal comes", wait_count(1, 5_000));
        c.check("to that thread", TID.load(SeqCst) == thread);
        let _ = timer_delete(id);
    }
    let mut ev = sigevent::new(SIGEV_THREAD_ID, SIG_A, 5);
    ev.sigev_notify_thread_id = gettid().unwrap_or(0) as i32;
    let id = timer_create(CLOCK_MONOTONIC, Some(&ev)).unwrap_or(-1);
    reset();
    set(id, 10 * MS, 0);
    c.check("SIGEV_THREAD_ID of the main thread: it comes", wait_count(1, 5_000));
    c.check("to the main thread", TID.load(SeqCst) == gettid().unwrap_or(0) as i32);
    let _ = timer_delete(id);
    // A timer made by a thread is the process's.
    T_GO.store(1, SeqCst);
    let _ = tkill(thread, SIG_A);
    c.check("the thread exits", join(&T_TID));
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&b), None);
}

fn cpu_clocks(c: &mut Checker) {
    for (clk, name) in
        [(CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME"), (CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME")]
    {
        let id = timer_create(clk, Some(&event(SIG_A, 6))).unwrap_or(-1);
        reset();
        let start = clock(clk);
        set(id, 30 * MS, 0);
        c.check(format_args!("{name}: the signal after 30 ms of CPU time"), spin_until(&COUNT, 1));
        c.check(format_args!("{name}: not before"), clock(clk) - start >= 30 * MS);
        c.check(format_args!("{name}: one-shot, disarmed"), get(id) == (0, 0));
        // Sleeping takes no CPU time.
        reset();
        set(id, 50 * MS, 0);
        sleep_ms(200);
        c.ok_eq(format_args!("{name}: 200 ms asleep, no signal"), Ok(COUNT.load(SeqCst)), 0);
        let (v, _) = get(id);
        c.check(format_args!("{name}: still armed"), v > 0 && v <= 50 * MS);
        reset();
        set(id, 10 * MS, 10 * MS);
        c.check(format_args!("{name}: periodic, three signals"), spin_until(&COUNT, 3));
        let _ = timer_delete(id);
    }
}

fn default_action(c: &mut Checker) {
    let child = fork_with(|| {
        let _ = signal_disposition(SIG_B, SIG_DFL);
        let id = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_B, 0))).unwrap_or(-1);
        set(id, 10 * MS, 0);
        loop {
            let _ = pause();
        }
    });
    if let Some(pid) = c.ok("fork a child whose timer's signal kills", child) {
        c.reaped("its default action ends the process", pid, 0, WaitStatus::Signaled(SIG_B, false));
    }
}

/// Each timer holds a signal: RLIMIT_SIGPENDING bounds them (Linux counts
/// per user, so the child takes a user of its own).
fn limit(c: &mut Checker) {
    let child = fork_with(|| {
        let four = rlimit { rlim_cur: 4, rlim_max: 4 };
        if setrlimit(RLIMIT_SIGPENDING, &four).is_err() || setuid(54_321).is_err() {
            return 10;
        }
        for i in 0..4 {
            if timer_create(CLOCK_MONOTONIC, Some(&event(SIG_A, 0))).is_err() {
                return 20 + i;
            }
        }
        match timer_create(CLOCK_MONOTONIC, Some(&event(SIG_A, 0))) {
            Err(e) if e == EAGAIN => 0,
            Err(_) => 30,
            Ok(_) => 31,
        }
    });
    if let Some(pid) = c.ok("fork a child with RLIMIT_SIGPENDING 4", child) {
        c.reaped("four timers, then EAGAIN", pid, 0, WaitStatus::Exited(0));
    }
}

fn fork_and_exec(c: &mut Checker, args: Args) {
    let id = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_A, 0))).unwrap_or(-1);
    set(id, 50 * SEC, 0);
    let child = fork_with(|| {
        let mut cur = itimerspec::default();
        if timer_gettime(id, &mut cur) == Err(EINVAL) && timer_delete(id) == Err(EINVAL) {
            0
        } else {
            1
        }
    });
    if let Some(pid) = c.ok("fork with a timer armed", child) {
        c.reaped("the fork child has no timers", pid, 0, WaitStatus::Exited(0));
    }
    c.check("the parent keeps its timer", get(id).0 > 40 * SEC);
    let _ = timer_delete(id);
    let Some(prog) = args.get(0) else { return };
    let child = fork_with(|| {
        for _ in 0..3 {
            let id = timer_create(CLOCK_MONOTONIC, Some(&event(SIG_A, 0))).unwrap_or(-1);
            set(id, 70 * SEC, SEC);
        }
        100 + execv(prog, &[prog, c"exec"]).0
    });
    // Nothing printed between the fork and the reaping: the new image prints.
    match child {
        Ok(pid) => {
            c.reaped("the exec'd image found no timers", pid, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("fork a child that execs with timers armed", e),
    }
}

fn after_exec(c: &mut Checker) {
    let mut cur = itimerspec::default();
    let left = (0..8).filter(|&i| timer_gettime(i, &mut cur).is_ok()).count();
    c.ok_eq("after execve: no timer is left", Ok(left), 0);
    // Nothing arrives from the old image's timers either.
    install(SIG_A);
    sleep_ms(20);
    c.ok_eq("after execve: no signal", Ok(COUNT.load(SeqCst)), 0);
}
