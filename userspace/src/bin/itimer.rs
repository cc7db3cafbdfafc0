//! Interval timers as Linux keeps them (`kernel/time/itimer.c`,
//! `alarm_setitimer`, `posix-cpu-timers.c`): getitimer/setitimer's values and
//! errors, alarm's rounding, SIGALRM once and periodically, a periodic timer
//! re-armed only when its SIGALRM is taken, SIGALRM's default action,
//! ITIMER_VIRTUAL and ITIMER_PROF counting CPU time (not sleep), timers
//! cleared in a fork child and kept across execve. One line per check, exit
//! status = number of failed checks. With the argument `exec` it is the
//! image execve started: it checks the timers it was given.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::*;

userspace::entry!(main);

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;
/// An address no program has mapped.
const BAD: usize = 0x10;

static ALRM: AtomicU32 = AtomicU32::new(0);
static VTALRM: AtomicU32 = AtomicU32::new(0);
static PROF: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_alrm(_: i32) {
    ALRM.fetch_add(1, SeqCst);
}
extern "C" fn on_vtalrm(_: i32) {
    VTALRM.fetch_add(1, SeqCst);
}
extern "C" fn on_prof(_: i32) {
    PROF.fetch_add(1, SeqCst);
}

fn install(sig: u32, f: extern "C" fn(i32)) {
    let act = new_sigaction(f as usize, SA_RESTART, 0);
    // SAFETY: the handlers only add to an atomic.
    let _ = unsafe { rt_sigaction(sig, Some(&act), None) };
}

fn tv(ns: u64) -> timeval {
    timeval { tv_sec: (ns / SEC) as i64, tv_usec: ((ns % SEC) / 1000) as i64 }
}

fn ns(t: timeval) -> u64 {
    t.tv_sec as u64 * SEC + t.tv_usec as u64 * 1000
}

fn itv(value: u64, interval: u64) -> itimerval {
    itimerval { it_interval: tv(interval), it_value: tv(value) }
}

fn get(which: u32) -> (u64, u64) {
    let mut cur = itimerval::default();
    let _ = getitimer(which, &mut cur);
    (ns(cur.it_value), ns(cur.it_interval))
}

fn set(which: u32, value: u64, interval: u64) -> (u64, u64) {
    let mut old = itimerval::default();
    let _ = setitimer(which, Some(&itv(value, interval)), Some(&mut old));
    (ns(old.it_value), ns(old.it_interval))
}

fn raw(nr: usize, a: [usize; 3]) -> Result<usize, Errno> {
    // SAFETY: the calls made through this read or write only through BAD (an
    // unmapped address the kernel refuses) or through live itimervals.
    errno::result(unsafe { syscall::syscall3(nr, a[0], a[1], a[2]) })
}

fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    if args.bytes(1) == Some(b"exec") {
        after_exec(&mut c);
        return c.status();
    }
    install(SIGALRM, on_alrm);
    install(SIGVTALRM, on_vtalrm);
    install(SIGPROF, on_prof);
    values(&mut c);
    errors(&mut c);
    alarms(&mut c);
    delivery(&mut c);
    cpu_time(&mut c);
    fork_and_exec(&mut c, args);
    c.status()
}

fn values(c: &mut Checker) {
    for (which, name) in [(ITIMER_REAL, "REAL"), (ITIMER_VIRTUAL, "VIRTUAL"), (ITIMER_PROF, "PROF")]
    {
        c.check(format_args!("{name} starts disarmed"), get(which) == (0, 0));
    }
    c.check("arming REAL returns the old (none)", set(ITIMER_REAL, 5 * SEC, 0) == (0, 0));
    let (v, i) = get(ITIMER_REAL);
    c.check("REAL counts down from 5 s", v > 4 * SEC && v <= 5 * SEC && i == 0);
    let (v, i) = set(ITIMER_REAL, 3 * SEC, SEC);
    c.check("re-arming returns what was left", v > 4 * SEC && v <= 5 * SEC && i == 0);
    let (v, i) = get(ITIMER_REAL);
    c.check("REAL 3 s, interval 1 s exactly", v > 2 * SEC && v <= 3 * SEC && i == SEC);
    let (v, i) = set(ITIMER_REAL, 0, 2 * SEC);
    c.check("disarming returns value and interval", v > 2 * SEC && i == SEC);
    c.check("a disarmed REAL keeps no interval", get(ITIMER_REAL) == (0, 0));
    // A CPU-time timer reads its value plus up to a tick at once (Linux
    // set_cpu_itimer adds the tick in progress) and keeps its interval. Ticks
    // are charged whole: one that lands in this process while it runs charges
    // a full tick (4-10 ms) however little ran, and a loaded host lands more
    // of them there (the suite saw 990 ms once), so up to 50 ms may be gone.
    set(ITIMER_VIRTUAL, SEC, 250 * MS);
    let (v, i) = get(ITIMER_VIRTUAL);
    c.check(
        "VIRTUAL 1 s (less what ticks charged)",
        v > 950 * MS && v <= 1020 * MS && i == 250 * MS,
    );
    let (v, _) = set(ITIMER_VIRTUAL, 0, 0);
    c.check("disarming VIRTUAL returns what was left", v > 950 * MS && v <= 1020 * MS);
    c.check("VIRTUAL disarmed", get(ITIMER_VIRTUAL) == (0, 0));
    set(ITIMER_PROF, 2 * SEC, 0);
    let (v, i) = get(ITIMER_PROF);
    c.check("PROF 2 s", v > 1950 * MS && v <= 2020 * MS && i == 0);
    set(ITIMER_PROF, 0, 0);
    // A NULL new value disarms (a misfeature Linux keeps).
    set(ITIMER_REAL, 5 * SEC, 0);
    c.ok_eq("setitimer with a NULL value", setitimer(ITIMER_REAL, None, None), 0);
    c.check("a NULL value disarmed it", get(ITIMER_REAL) == (0, 0));
}

fn errors(c: &mut Checker) {
    let mut cur = itimerval::default();
    c.err("getitimer which 3 EINVAL", getitimer(3, &mut cur), EINVAL);
    c.err("setitimer which 3 EINVAL", setitimer(3, Some(&itv(SEC, 0)), None), EINVAL);
    let bad_usec =
        itimerval { it_interval: tv(0), it_value: timeval { tv_sec: 1, tv_usec: 1_000_000 } };
    c.err("setitimer usec 1000000 EINVAL", setitimer(ITIMER_REAL, Some(&bad_usec), None), EINVAL);
    let negative = itimerval { it_interval: timeval { tv_sec: -1, tv_usec: 0 }, it_value: tv(SEC) };
    c.err(
        "setitimer negative interval EINVAL",
        setitimer(ITIMER_REAL, Some(&negative), None),
        EINVAL,
    );
    c.err("getitimer bad pointer EFAULT", raw(nr::__NR_getitimer, [0, BAD, 0]), EFAULT);
    c.err("setitimer bad new pointer EFAULT", raw(nr::__NR_setitimer, [0, BAD, 0]), EFAULT);
    c.check("the failed calls armed nothing", get(ITIMER_REAL) == (0, 0));
    // As Linux: the old value is written after the change.
    let new = itv(5 * SEC, 0);
    let r = raw(nr::__NR_setitimer, [0, &new as *const itimerval as usize, BAD]);
    c.err("setitimer bad old pointer EFAULT", r, EFAULT);
    c.check("and the timer was set all the same", get(ITIMER_REAL).0 > 4 * SEC);
    set(ITIMER_REAL, 0, 0);
}

fn alarms(c: &mut Checker) {
    c.ok_eq("alarm 10 with none pending", alarm(10), 0);
    c.ok_eq("alarm 3 returns the 10 s left (rounded)", alarm(3), 10);
    c.check("alarm is ITIMER_REAL", get(ITIMER_REAL).0 > 2 * SEC && get(ITIMER_REAL).1 == 0);
    c.ok_eq("alarm 0 returns 3 and cancels", alarm(0), 3);
    c.ok_eq("alarm 0 with none pending", alarm(0), 0);
    set(ITIMER_REAL, 300 * MS, 0);
    c.ok_eq("0.3 s left rounds to 1 (never 0 while pending)", alarm(0), 1);
    set(ITIMER_REAL, 2600 * MS, 0);
    c.ok_eq("2.6 s left rounds to 3", alarm(0), 3);
    set(ITIMER_REAL, 2400 * MS, 0);
    c.ok_eq("2.4 s left rounds to 2", alarm(0), 2);
}

fn delivery(c: &mut Checker) {
    ALRM.store(0, SeqCst);
    set(ITIMER_REAL, 20 * MS, 0);
    c.err("pause until SIGALRM: EINTR", pause(), EINTR);
    c.ok_eq("one SIGALRM", Ok(ALRM.load(SeqCst)), 1);
    c.check("a one-shot timer is disarmed after it ran", get(ITIMER_REAL) == (0, 0));

    ALRM.store(0, SeqCst);
    set(ITIMER_REAL, 10 * MS, 10 * MS);
    while ALRM.load(SeqCst) < 3 {
        let _ = pause();
    }
    set(ITIMER_REAL, 0, 0);
    c.check("a periodic timer fired three times", ALRM.load(SeqCst) >= 3);

    // A long system call stops for a signal, with what it did so far:
    // getrandom into 64 MiB ends at SIGALRM after whole pages (Linux
    // `get_random_bytes_user` looks once a page). The tick that sends it must
    // reach a CPU busy in the call (system calls run with interrupts off in
    // the guest kernel: `cond_resched` opens a window once a page).
    const BIG: usize = 64 << 20;
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    // SAFETY: a new anonymous mapping, used by nothing else and unmapped below.
    if let Ok(big) = unsafe { mmap(0, BIG, PROT_READ | PROT_WRITE, flags, -1, 0) } {
        ALRM.store(0, SeqCst);
        set(ITIMER_REAL, 10 * MS, 0);
        // SAFETY: the kernel writes at most BIG bytes into the mapping.
        let r = unsafe { syscall::syscall3(nr::__NR_getrandom, big, BIG, 0) };
        c.check(
            "getrandom of 64 MiB: SIGALRM ends it after whole pages",
            r > 0 && (r as usize) < BIG && r % 4096 == 0 && ALRM.load(SeqCst) == 1,
        );
        set(ITIMER_REAL, 0, 0);
        // SAFETY: nothing uses the mapping any more.
        let _ = unsafe { munmap(big, BIG) };
    }

    // Blocked, a periodic timer stops after its first expiry until the
    // signal is taken (Linux re-arms it in dequeue_signal): a tenth of a
    // second of 10 ms periods is one expiry and one SIGALRM.
    let alrm = sigmask(SIGALRM);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&alrm), None);
    ALRM.store(0, SeqCst);
    set(ITIMER_REAL, 10 * MS, 10 * MS);
    sleep_ms(100);
    c.check("blocked: expired, not re-armed, interval kept", get(ITIMER_REAL) == (0, 10 * MS));
    let mut pending = 0;
    let _ = rt_sigpending(&mut pending);
    c.check("SIGALRM pending", pending & alrm != 0);
    // Disarmed now, taking the signal does not start it again.
    set(ITIMER_REAL, 0, 0);
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&alrm), None);
    c.ok_eq("unblocked: one SIGALRM for the ten periods", Ok(ALRM.load(SeqCst)), 1);
    c.check("a disarmed timer stays disarmed", get(ITIMER_REAL) == (0, 0));
    // Taking it re-arms one that is still periodic, from its last expiry.
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&alrm), None);
    ALRM.store(0, SeqCst);
    set(ITIMER_REAL, 10 * MS, SEC);
    sleep_ms(50);
    c.check("blocked: expired, interval 1 s", get(ITIMER_REAL) == (0, SEC));
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&alrm), None);
    c.ok_eq("unblocked: one SIGALRM", Ok(ALRM.load(SeqCst)), 1);
    let (v, i) = get(ITIMER_REAL);
    c.check("taking it re-armed the timer", v > 0 && v <= SEC && i == SEC);
    set(ITIMER_REAL, 0, 0);

    // The default action ends the process.
    let child = fork_with(|| {
        let _ = signal_disposition(SIGALRM, SIG_DFL);
        set(ITIMER_REAL, 20 * MS, 0);
        loop {
            let _ = pause();
        }
    });
    if let Some(pid) = c.ok("fork a child that waits for SIGALRM", child) {
        c.reaped("SIGALRM's default action kills it", pid, 0, WaitStatus::Signaled(SIGALRM, false));
    }
}

fn cpu_time(c: &mut Checker) {
    VTALRM.store(0, SeqCst);
    set(ITIMER_VIRTUAL, 30 * MS, 0);
    c.check("VIRTUAL: SIGVTALRM after 30 ms of user time", spin_until(&VTALRM, 1));
    c.check("a one-shot VIRTUAL timer is disarmed", get(ITIMER_VIRTUAL) == (0, 0));
    PROF.store(0, SeqCst);
    set(ITIMER_PROF, 20 * MS, 20 * MS);
    c.check("PROF: SIGPROF three times, periodically", spin_until(&PROF, 3));
    set(ITIMER_PROF, 0, 0);
    // Sleeping takes no CPU time.
    VTALRM.store(0, SeqCst);
    PROF.store(0, SeqCst);
    set(ITIMER_VIRTUAL, 50 * MS, 0);
    set(ITIMER_PROF, 50 * MS, 0);
    sleep_ms(200);
    c.check(
        "200 ms asleep: no SIGVTALRM, no SIGPROF",
        VTALRM.load(SeqCst) == 0 && PROF.load(SeqCst) == 0,
    );
    c.check("VIRTUAL still armed", get(ITIMER_VIRTUAL).0 > 0);
    set(ITIMER_VIRTUAL, 0, 0);
    set(ITIMER_PROF, 0, 0);
}

fn fork_and_exec(c: &mut Checker, args: Args) {
    set(ITIMER_REAL, 50 * SEC, 0);
    set(ITIMER_VIRTUAL, 60 * SEC, 0);
    let child = fork_with(|| {
        let clear = [ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF].iter().all(|&w| get(w) == (0, 0));
        if clear && alarm(0) == Ok(0) {
            0
        } else {
            1
        }
    });
    if let Some(pid) = c.ok("fork with timers armed", child) {
        c.reaped("the fork child has no timers", pid, 0, WaitStatus::Exited(0));
    }
    c.check("the parent keeps its REAL timer", get(ITIMER_REAL).0 > 40 * SEC);
    set(ITIMER_REAL, 0, 0);
    set(ITIMER_VIRTUAL, 0, 0);
    let Some(prog) = args.get(0) else { return };
    let child = fork_with(|| {
        set(ITIMER_REAL, 70 * SEC, 0);
        set(ITIMER_PROF, 80 * SEC, SEC);
        100 + execv(prog, &[prog, c"exec"]).0
    });
    // Nothing printed between the fork and the reaping: the new image prints.
    match child {
        Ok(pid) => {
            c.reaped("the exec'd image found its timers", pid, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("fork a child that execs with timers armed", e),
    }
}

fn after_exec(c: &mut Checker) {
    let (v, i) = get(ITIMER_REAL);
    c.check("after execve: REAL kept", v > 60 * SEC && v <= 70 * SEC && i == 0);
    let (v, i) = get(ITIMER_PROF);
    c.check("after execve: PROF kept", v > 70 * SEC && i == SEC);
    c.check("after execve: VIRTUAL still disarmed", get(ITIMER_VIRTUAL) == (0, 0));
    set(ITIMER_REAL, 0, 0);
    set(ITIMER_PROF, 0, 0);
}
