//! Processes killed while their signals are delivered (Linux
//! `get_signal`'s fatal case, `force_sigsegv` when `setup_rt_frame` fails):
//! - a SIGTERM (and a SIGQUIT) that was blocked when it came and is
//!   unblocked later: its default action ends the process on the way back
//!   from `rt_sigprocmask`;
//! - a SIGUSR1 whose handler runs on an alternate stack that is not mapped:
//!   no frame fits, and the process dies of SIGSEGV.
//!
//! - and one that once left its task behind without dying of a signal: a
//!   sleep of years, ended early by a handled SIGALRM, then `exit` on
//!   another CPU (the sleep's timer stayed queued on the first CPU, holding
//!   the task until its deadline: the fuzzer's long runs).
//!
//! Each is done `ROUNDS` times (first argument, default 25) by fresh children
//! and the wait statuses are compared. In the guest the test reads the
//! counter snapshots `sigdeath-before` (after one warm-up round) and
//! `sigdeath-after`: every task must be gone with its kernel stack and heap
//! (the fuzzer found the second path leaking its task). One line per check,
//! exit status = number of failed checks.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

fn main(args: Args, _env: Env) -> i32 {
    let rounds = args
        .get(1)
        .and_then(|a| core::str::from_utf8(a.to_bytes()).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(25u32);
    let mut c = Checker::new();
    // Default actions, whatever this program inherited (a shell starts
    // background jobs with SIGQUIT ignored).
    for sig in [SIGTERM, SIGQUIT, SIGUSR1] {
        let _ = signal_disposition(sig, SIG_DFL);
    }
    // No core files (the host's Linux would dump SIGQUIT and SIGSEGV).
    let mut lim = rlimit::default();
    if getrlimit(RLIMIT_CORE, &mut lim).is_ok() {
        lim.rlim_cur = 0;
        let _ = setrlimit(RLIMIT_CORE, &lim);
    }
    let killed = |sig| WaitStatus::Signaled(sig, false);
    let cases: [(&str, fn() -> i32, WaitStatus); 4] = [
        ("blocked SIGTERM, then unblocked: killed by SIGTERM", unblocked_term, killed(SIGTERM)),
        ("blocked SIGQUIT, then unblocked: killed by SIGQUIT", unblocked_quit, killed(SIGQUIT)),
        (
            "SIGUSR1 handler on an unmapped alternate stack: killed by SIGSEGV",
            bad_altstack,
            killed(SIGSEGV),
        ),
        (
            "a sleep of years ended by a handled SIGALRM, then exit on another CPU: status 0",
            interrupted_sleep,
            WaitStatus::Exited(0),
        ),
    ];
    for (_, f, want) in cases {
        let _ = die(f, want);
    }
    leak_check_snapshot("sigdeath-before");
    for (name, f, want) in cases {
        let mut right = 0;
        let mut first_wrong = None;
        for _ in 0..rounds {
            match die(f, want) {
                Ok(_) => right += 1,
                Err(s) => {
                    first_wrong.get_or_insert(s);
                }
            }
        }
        match first_wrong {
            None => {
                c.check(format_args!("{name} ({rounds} of {rounds})"), true);
            }
            Some(s) => c.fail(name, format_args!("{right} of {rounds} right; first wrong: {s:?}")),
        }
    }
    leak_check_snapshot("sigdeath-after");
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
    c.status()
}

/// Runs `f` in a new child and reaps it: Ok if it ended with `want`, else
/// what happened instead.
fn die(f: fn() -> i32, want: WaitStatus) -> Result<WaitStatus, WaitStatus> {
    let pid = match fork_with(f) {
        Ok(pid) => pid,
        Err(_) => return Err(WaitStatus::Exited(-1)),
    };
    match reap_within(pid, 10) {
        Ok(s) if s == want => Ok(s),
        Ok(s) => Err(s),
        Err(_) => Err(WaitStatus::Exited(-2)),
    }
}

fn unblocked(sig: u32) -> i32 {
    let set = sigmask(sig);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&set), None);
    let _ = kill(pid() as i32, sig);
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&set), None);
    100
}

fn unblocked_term() -> i32 {
    unblocked(SIGTERM)
}

fn unblocked_quit() -> i32 {
    unblocked(SIGQUIT)
}

extern "C" fn on_usr1(_: i32) {}

fn bad_altstack() -> i32 {
    // Page 1 is below every mapping (Linux's mmap_min_addr, the guest's
    // first user address).
    let ss = stack_t { ss_sp: 0x1000, ss_flags: 0, _pad: 0, ss_size: 64 << 10 };
    // SAFETY: the stack is unusable on purpose: the handler never runs, the
    // kernel finds no room for its frame.
    if unsafe { sigaltstack(Some(&ss), None) }.is_err() {
        return 101;
    }
    let act = new_sigaction(on_usr1 as *const () as usize, SA_ONSTACK, 0);
    // SAFETY: on_usr1 does nothing.
    if unsafe { rt_sigaction(SIGUSR1, Some(&act), None) }.is_err() {
        return 102;
    }
    let _ = kill(pid() as i32, SIGUSR1);
    103
}

extern "C" fn on_alrm(_: i32) {}

fn interrupted_sleep() -> i32 {
    let act = new_sigaction(on_alrm as *const () as usize, 0, 0);
    // SAFETY: on_alrm does nothing.
    if unsafe { rt_sigaction(SIGALRM, Some(&act), None) }.is_err() {
        return 101;
    }
    let _ = sched::sched_setaffinity(0, &[1]);
    // Every 10 ms: on a loaded host the first expiry may come before the
    // sleep begins (its handler runs then), and the next one ends the sleep.
    let every_10ms = timeval { tv_sec: 0, tv_usec: 10_000 };
    let timer = itimerval { it_interval: every_10ms, it_value: every_10ms };
    if setitimer(ITIMER_REAL, Some(&timer), None).is_err() {
        return 102;
    }
    let years = timespec { tv_sec: 100 * 365 * 86_400, tv_nsec: 0 };
    if nanosleep(&years, None) != Err(EINTR) {
        return 103;
    }
    if setitimer(ITIMER_REAL, Some(&itimerval::default()), None).is_err() {
        return 104;
    }
    // On one CPU this fails (EINVAL) and the exit is on the same CPU.
    let _ = sched::sched_setaffinity(0, &[2]);
    0
}
