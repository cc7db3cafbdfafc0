//! Job control (issue 13 item 3; Linux kernel/signal.c `prepare_signal`,
//! `do_signal_stop`, `do_notify_parent_cldstop`, kernel/exit.c
//! `wait_task_stopped`, `wait_task_continued`): SIGSTOP, SIGTSTP, SIGTTIN and
//! SIGTTOU stop every thread of a process, SIGCONT resumes it (also when
//! ignored or blocked, and its handler runs), SIGKILL ends a stopped process
//! and other signals wait for SIGCONT; `wait4` with WUNTRACED/WCONTINUED and
//! `waitid` with WSTOPPED/WCONTINUED/WNOWAIT report each stop and continue
//! once; the parent gets SIGCHLD (CLD_STOPPED, CLD_CONTINUED) unless
//! SA_NOCLDSTOP; an orphaned process group ignores SIGTSTP; a stop racing
//! exit_group. One line per check, exit status = number of failed checks.
//!
//! Everything runs in a child that made itself a session leader, so that
//! process groups are the same on Linux and in the guest whoever started
//! the program (pid 1 in the guest).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::SeqCst};

use userspace::thread::Stacks;
use userspace::*;

userspace::entry!(main);

/// `race=N`: only the SIGSTOP-racing-exit_group rounds, N of them (a stress
/// mode; it showed that what looked like a lost wake-up in loaded full-suite
/// runs on 1 vCPU was each round waiting 5 s for a main thread that an
/// exit_group had ended before it ever ran).
static RACE_ROUNDS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

fn main(args: Args, _env: Env) -> i32 {
    if let Some(n) = args.bytes(1).and_then(|b| b.strip_prefix(b"race=")) {
        RACE_ROUNDS
            .store(core::str::from_utf8(n).ok().and_then(|n| n.parse().ok()).unwrap_or(30), SeqCst);
    }
    // Default actions whatever the caller ignored (a shell's background job
    // ignores SIGINT and SIGQUIT; nohup, SIGHUP): the children inherit them.
    for sig in [SIGCHLD, SIGQUIT, SIGTERM, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU] {
        let _ = signal_disposition(sig, SIG_DFL);
    }
    let Some(sh) = Shared::new() else {
        println!("FAIL mmap the shared page");
        return 1;
    };
    // The shared page is in memory before the first snapshot.
    sh.reset();
    leak_check_snapshot("jobctl-before");
    let manager = fork_with(|| {
        let mut c = Checker::new();
        c.ok("setsid", setsid());
        run(&mut c, sh);
        c.status()
    });
    match manager {
        Ok(pid) => {
            let mut st = 0;
            let r = wait4(pid as i32, Some(&mut st), 0);
            leak_check_snapshot("jobctl-after");
            match r {
                Ok(_) => match WaitStatus::from_raw(st) {
                    WaitStatus::Exited(n) => n,
                    other => {
                        println!("FAIL the checking process: {}", other);
                        1
                    }
                },
                Err(e) => {
                    println!("FAIL wait for the checking process: {}", e);
                    1
                }
            }
        }
        Err(e) => {
            println!("FAIL fork: {}", e);
            1
        }
    }
}

// ---- memory shared with the children -------------------------------------------

/// Counters the children's threads increment, tids, flags: one page
/// (MAP_SHARED, so the parent sees what the children do).
#[derive(Clone, Copy)]
struct Shared(usize);

const COUNTERS: usize = 4;

impl Shared {
    fn new() -> Option<Shared> {
        let prot = PROT_READ | PROT_WRITE;
        // SAFETY: a fresh shared anonymous mapping, used only through atomics.
        let a = unsafe { mmap(0, PAGE_SIZE, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0) };
        a.ok().map(Shared)
    }

    fn word(self, i: usize) -> &'static AtomicU64 {
        assert!(i < PAGE_SIZE / 8);
        // SAFETY: in the mapping, 8-byte aligned, never unmapped; only ever
        // accessed as atomics.
        unsafe { &*((self.0 + 8 * i) as *const AtomicU64) }
    }

    fn counter(self, i: usize) -> &'static AtomicU64 {
        self.word(i)
    }

    fn tid(self, i: usize) -> &'static AtomicU64 {
        self.word(8 + i)
    }

    /// Set by the child's SIGCONT handler.
    fn cont_handled(self) -> &'static AtomicU64 {
        self.word(16)
    }

    fn counts(self) -> [u64; COUNTERS] {
        core::array::from_fn(|i| self.counter(i).load(SeqCst))
    }

    fn reset(self) {
        for i in 0..32 {
            self.word(i).store(0, SeqCst);
        }
    }
}

static SHARED: AtomicU64 = AtomicU64::new(0);

fn shared() -> Shared {
    Shared(SHARED.load(SeqCst) as usize)
}

/// Polls `pred` every millisecond for up to 5 s.
fn soon(pred: impl Fn() -> bool) -> bool {
    let deadline = monotonic_ns() + 5_000_000_000;
    while !pred() {
        if monotonic_ns() > deadline {
            return false;
        }
        sleep_ms(1);
    }
    true
}

// ---- the children ---------------------------------------------------------------

/// Spins incrementing counter `i` (in user mode, never entering the kernel).
fn spin(i: usize) -> ! {
    let c = shared().counter(i);
    loop {
        c.fetch_add(1, SeqCst);
        core::hint::spin_loop();
    }
}

/// A child in a process group of its own (so not orphaned: its parent is in
/// another group of the same session) that spins.
fn spinner(own_group: bool) -> usize {
    let pid = fork_with(|| {
        if own_group {
            let _ = setpgid(0, 0);
        }
        spin(0)
    });
    let pid = pid.unwrap_or(0);
    if own_group && pid != 0 {
        let _ = setpgid(pid as i32, pid as i32);
    }
    pid
}

/// A thread of a multi-threaded child: 1 and 2 spin, 3 sleeps in the kernel
/// (futex_wait on a word that never changes), and all record their tids.
extern "C" fn child_thread(i: usize) -> i32 {
    shared().tid(i).store(gettid().unwrap_or(0) as u64, SeqCst);
    if i == 3 {
        let never = AtomicU32::new(0);
        loop {
            let _ = futex_wait(&never, 0, 0, None);
            shared().counter(3).fetch_add(1, SeqCst);
        }
    }
    spin(i)
}

static THREAD_TIDS: [AtomicU32; 4] =
    [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];

fn threaded_child(stacks: Stacks) -> usize {
    let pid = fork_with(move || {
        let _ = setpgid(0, 0);
        for i in 1..4 {
            if !stacks.spawn(i, &THREAD_TIDS[i], child_thread, i) {
                return 99;
            }
        }
        spin(0)
    });
    let pid = pid.unwrap_or(0);
    if pid != 0 {
        let _ = setpgid(pid as i32, pid as i32);
    }
    pid
}

// ---- SIGCHLD in the checking process ------------------------------------------

static CHLD_COUNT: AtomicU32 = AtomicU32::new(0);
static CHLD_CODE: AtomicI32 = AtomicI32::new(0);
static CHLD_STATUS: AtomicI32 = AtomicI32::new(0);
static CHLD_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_chld(_sig: i32, info: *mut siginfo_t, _uc: *mut u8) {
    // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO.
    let info = unsafe { &*info };
    CHLD_CODE.store(info.si_code, SeqCst);
    CHLD_STATUS.store(info.si_status(), SeqCst);
    CHLD_PID.store(info.si_pid(), SeqCst);
    CHLD_COUNT.fetch_add(1, SeqCst);
}

fn sigchld_handler(flags: u64) -> bool {
    let act = new_sigaction(on_chld as *const () as usize, SA_SIGINFO | SA_RESTART | flags, 0);
    // SAFETY: on_chld only stores to atomics.
    unsafe { rt_sigaction(SIGCHLD, Some(&act), None) }.is_ok()
}

/// Waits for SIGCHLD number `n` and checks what it carried.
fn sigchld(
    c: &mut Checker,
    name: impl core::fmt::Display + Copy,
    n: u32,
    pid: usize,
    code: i32,
    status: i32,
) {
    let came = soon(|| CHLD_COUNT.load(SeqCst) >= n);
    let got = (CHLD_COUNT.load(SeqCst), CHLD_CODE.load(SeqCst), CHLD_STATUS.load(SeqCst));
    let from = CHLD_PID.load(SeqCst) == pid as i32;
    if came && got == (n, code, status) && from {
        c.check(name, true);
    } else {
        c.fail(
            name,
            format_args!(
                "SIGCHLD #{} si_code {} si_status {} (from the child: {}), want #{} {} {}",
                got.0, got.1, got.2, from, n, code, status
            ),
        );
    }
}

// ---- checks ------------------------------------------------------------------

fn status_of(pid: usize, options: u32) -> Result<(usize, WaitStatus), Errno> {
    let mut st = 0;
    let p = wait4(pid as i32, Some(&mut st), options)?;
    Ok((p, WaitStatus::from_raw(st)))
}

fn wait_is(
    c: &mut Checker,
    name: impl core::fmt::Display + Copy,
    pid: usize,
    options: u32,
    want: WaitStatus,
) {
    match status_of(pid, options) {
        Ok((p, st)) if p == pid && st == want => {
            c.check(name, true);
        }
        Ok((p, st)) => c.fail(name, format_args!("pid ok {} {}, want {}", p == pid, st, want)),
        Err(e) => c.fail(name, e),
    }
}

fn nothing_to_report(c: &mut Checker, name: &str, pid: usize, options: u32) {
    c.ok_eq(name, wait4(pid as i32, None, options | WNOHANG), 0);
}

fn waitid_is(c: &mut Checker, name: &str, pid: usize, options: u32, code: i32, status: i32) {
    let mut info = siginfo_filled(0x5a);
    match waitid(P_PID, pid as i32, Some(&mut info), options) {
        Ok(_) => {
            let got = (info.si_signo, info.si_code, info.si_status(), info.si_pid());
            let want = (SIGCHLD as i32, code, status, pid as i32);
            if got == want {
                c.check(name, true);
            } else {
                c.fail(
                    name,
                    format_args!(
                        "si_signo {} si_code {} si_status {} (pid ok {}), want {} {} {}",
                        got.0,
                        got.1,
                        got.2,
                        got.3 == pid as i32,
                        want.0,
                        want.1,
                        want.2
                    ),
                );
            }
        }
        Err(e) => c.fail(name, e),
    }
}

fn waitid_none(c: &mut Checker, name: &str, pid: usize, options: u32) {
    let mut info = siginfo_filled(0x5a);
    let r = waitid(P_PID, pid as i32, Some(&mut info), options | WNOHANG);
    c.check(name, r == Ok(0) && info.si_pid() == 0 && info.si_signo == 0);
}

/// Whether the counters in `which` stay still for 50 ms.
fn still(which: &[usize]) -> bool {
    let before = shared().counts();
    sleep_ms(50);
    let after = shared().counts();
    which.iter().all(|&i| before[i] == after[i])
}

/// Whether each counter in `which` moves within 5 s.
fn moving(which: &[usize]) -> bool {
    let before = shared().counts();
    soon(|| {
        let now = shared().counts();
        which.iter().all(|&i| now[i] > before[i])
    })
}

fn run(c: &mut Checker, sh: Shared) {
    SHARED.store(sh.0 as u64, SeqCst);
    if !sigchld_handler(0) {
        c.fail("sigaction SIGCHLD", "failed");
        return;
    }
    if RACE_ROUNDS.load(SeqCst) != 0 {
        if let Some(stacks) = Stacks::new(4) {
            stop_racing_exit_group(c, stacks);
        }
        return;
    }
    one_thread(c);
    waitid_options(c);
    killed_while_stopped(c);
    sigterm_waits_for_sigcont(c);
    sigcont_ignored_blocked_or_handled(c);
    match Stacks::new(4) {
        Some(stacks) => threads(c, stacks),
        None => c.fail("mmap the thread stacks", "failed"),
    }
    no_cldstop(c);
    orphaned_group(c);
    sleep_through_a_stop(c);
    match Stacks::new(2) {
        Some(stacks) => stop_racing_exit_group(c, stacks),
        None => c.fail("mmap the thread stacks", "failed"),
    }
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
}

fn one_thread(c: &mut Checker) {
    shared().reset();
    let n0 = CHLD_COUNT.load(SeqCst);
    let pid = spinner(true);
    c.check("a spinning child", pid != 0 && moving(&[0]));
    nothing_to_report(c, "wait4 WUNTRACED|WCONTINUED: nothing yet", pid, WUNTRACED | WCONTINUED);
    c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
    // The SIGCHLD before the wait: Linux's stopping child reads si_status
    // from `group_exit_code` after it drops the siglock
    // (`do_signal_stop` -> `do_notify_parent_cldstop`), and a wait4 that
    // reports the stop meanwhile clears it (`wait_task_stopped`), so a
    // parent that waits first may get si_status 0.
    sigchld(c, "SIGCHLD CLD_STOPPED with si_status SIGSTOP", n0 + 1, pid, CLD_STOPPED, 19);
    wait_is(c, "wait4 WUNTRACED: stopped by SIGSTOP", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
    c.check("the stopped child does not run", still(&[0]));
    nothing_to_report(c, "the stop is reported once", pid, WUNTRACED);
    nothing_to_report(c, "wait4 without WUNTRACED does not see a stop", pid, 0);
    c.ok_eq("kill SIGSTOP again", kill(pid as i32, SIGSTOP), 0);
    sleep_ms(20);
    nothing_to_report(c, "a second SIGSTOP while stopped: no new report", pid, WUNTRACED);
    c.check("no SIGCHLD for it", CHLD_COUNT.load(SeqCst) == n0 + 1);
    c.ok_eq("kill SIGCONT", kill(pid as i32, SIGCONT), 0);
    wait_is(c, "wait4 WCONTINUED: continued (0xffff)", pid, WCONTINUED, WaitStatus::Continued);
    sigchld(c, "SIGCHLD CLD_CONTINUED with si_status SIGCONT", n0 + 2, pid, CLD_CONTINUED, 18);
    c.check("the continued child runs", moving(&[0]));
    nothing_to_report(c, "the continue is reported once", pid, WCONTINUED | WUNTRACED);
    c.ok_eq("kill SIGCONT while running", kill(pid as i32, SIGCONT), 0);
    sleep_ms(20);
    nothing_to_report(c, "SIGCONT to a running process: nothing to report", pid, WCONTINUED);
    c.check("and no SIGCHLD", CHLD_COUNT.load(SeqCst) == n0 + 2);
    for (sig, name) in [(SIGTSTP, "SIGTSTP"), (SIGTTIN, "SIGTTIN"), (SIGTTOU, "SIGTTOU")] {
        let n = CHLD_COUNT.load(SeqCst);
        c.ok_eq(format_args!("kill {}", name), kill(pid as i32, sig), 0);
        // The SIGCHLD first, as for SIGSTOP above.
        sigchld(c, "its SIGCHLD", n + 1, pid, CLD_STOPPED, sig as i32);
        let what = format_args!("wait4 WUNTRACED|WCONTINUED: stopped by {}", name);
        wait_is(c, what, pid, WUNTRACED | WCONTINUED, WaitStatus::Stopped(sig));
        c.ok_eq("kill SIGCONT", kill(pid as i32, SIGCONT), 0);
        wait_is(
            c,
            "wait4 WUNTRACED|WCONTINUED: continued",
            pid,
            WUNTRACED | WCONTINUED,
            WaitStatus::Continued,
        );
        sigchld(c, "its SIGCHLD", n + 2, pid, CLD_CONTINUED, 18);
    }
    let n = CHLD_COUNT.load(SeqCst);
    c.ok_eq("kill SIGTERM", kill(pid as i32, SIGTERM), 0);
    wait_is(
        c,
        "wait4 WUNTRACED|WCONTINUED: killed by SIGTERM",
        pid,
        WUNTRACED | WCONTINUED,
        WaitStatus::Signaled(SIGTERM, false),
    );
    sigchld(c, "SIGCHLD CLD_KILLED with si_status SIGTERM", n + 1, pid, CLD_KILLED, 15);
}

fn waitid_options(c: &mut Checker) {
    shared().reset();
    let pid = spinner(true);
    c.check("another spinning child", pid != 0 && moving(&[0]));
    let n = CHLD_COUNT.load(SeqCst);
    waitid_none(c, "waitid WSTOPPED|WCONTINUED|WNOHANG: nothing yet", pid, WSTOPPED | WCONTINUED);
    c.ok_eq("kill SIGTTIN", kill(pid as i32, SIGTTIN), 0);
    // Each CLD_STOPPED SIGCHLD before the wait that consumes the stop (see
    // `one_thread`).
    sigchld(c, "SIGCHLD CLD_STOPPED with si_status SIGTTIN", n + 1, pid, CLD_STOPPED, 21);
    waitid_is(
        c,
        "waitid WSTOPPED|WNOWAIT: CLD_STOPPED, SIGTTIN",
        pid,
        WSTOPPED | WNOWAIT,
        CLD_STOPPED,
        21,
    );
    waitid_is(c, "WNOWAIT left it: waitid WSTOPPED again", pid, WSTOPPED, CLD_STOPPED, 21);
    waitid_none(c, "then it is consumed", pid, WSTOPPED);
    waitid_none(c, "waitid WEXITED|WNOHANG: a stopped child has not exited", pid, WEXITED);
    c.ok_eq("kill SIGCONT", kill(pid as i32, SIGCONT), 0);
    waitid_is(
        c,
        "waitid WCONTINUED|WNOWAIT: CLD_CONTINUED, SIGCONT",
        pid,
        WCONTINUED | WNOWAIT,
        CLD_CONTINUED,
        18,
    );
    wait_is(c, "WNOWAIT left it: wait4 WCONTINUED", pid, WCONTINUED, WaitStatus::Continued);
    waitid_none(c, "then it is consumed", pid, WCONTINUED);
    sigchld(c, "SIGCHLD CLD_CONTINUED", n + 2, pid, CLD_CONTINUED, 18);
    c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
    sigchld(c, "SIGCHLD CLD_STOPPED", n + 3, pid, CLD_STOPPED, 19);
    wait_is(c, "wait4 WUNTRACED", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
    c.ok_eq("kill SIGCONT", kill(pid as i32, SIGCONT), 0);
    let all = WEXITED | WSTOPPED | WCONTINUED;
    waitid_is(c, "waitid WEXITED|WSTOPPED|WCONTINUED: CLD_CONTINUED", pid, all, CLD_CONTINUED, 18);
    sigchld(c, "SIGCHLD CLD_CONTINUED", n + 4, pid, CLD_CONTINUED, 18);
    c.ok_eq("kill SIGKILL", kill(pid as i32, SIGKILL), 0);
    waitid_is(
        c,
        "waitid WEXITED|WNOWAIT: CLD_KILLED, SIGKILL",
        pid,
        WEXITED | WNOWAIT,
        CLD_KILLED,
        9,
    );
    waitid_is(c, "waitid WEXITED|WSTOPPED|WCONTINUED: CLD_KILLED", pid, all, CLD_KILLED, 9);
    // A death whose default action dumps core: CLD_DUMPED if a core was
    // written (the host's settings decide), else CLD_KILLED.
    let pid = spinner(true);
    c.ok_eq("kill SIGQUIT", kill(pid as i32, SIGQUIT), 0);
    let mut info = siginfo_filled(0x5a);
    let r = waitid(P_PID, pid as i32, Some(&mut info), WEXITED);
    let code_ok = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    c.check(
        "waitid WEXITED: CLD_KILLED or CLD_DUMPED, si_status SIGQUIT",
        r == Ok(0) && code_ok && info.si_status() == 3 && info.si_pid() == pid as i32,
    );
}

fn killed_while_stopped(c: &mut Checker) {
    shared().reset();
    let pid = spinner(true);
    c.check("a spinning child", pid != 0 && moving(&[0]));
    let n = CHLD_COUNT.load(SeqCst);
    c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
    sigchld(c, "SIGCHLD CLD_STOPPED", n + 1, pid, CLD_STOPPED, 19);
    wait_is(c, "stopped", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
    c.ok_eq("SIGKILL to the stopped child", kill(pid as i32, SIGKILL), 0);
    wait_is(
        c,
        "it dies of SIGKILL",
        pid,
        WUNTRACED | WCONTINUED,
        WaitStatus::Signaled(SIGKILL, false),
    );
    sigchld(c, "SIGCHLD CLD_KILLED, SIGKILL", n + 2, pid, CLD_KILLED, 9);
}

fn sigterm_waits_for_sigcont(c: &mut Checker) {
    shared().reset();
    let pid = spinner(true);
    c.check("a spinning child", pid != 0 && moving(&[0]));
    c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
    wait_is(c, "stopped", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
    c.ok_eq("SIGTERM to the stopped child", kill(pid as i32, SIGTERM), 0);
    sleep_ms(30);
    waitid_none(c, "it stays pending: the child lives on, stopped", pid, WEXITED);
    c.check("and does not run", still(&[0]));
    c.ok_eq("SIGCONT", kill(pid as i32, SIGCONT), 0);
    wait_is(c, "then SIGTERM kills it", pid, 0, WaitStatus::Signaled(SIGTERM, false));
}

extern "C" fn on_cont(_: i32) {
    shared().cont_handled().fetch_add(1, SeqCst);
}

/// A child whose SIGCONT is `mode` (0 ignored, 1 blocked, 2 handled).
fn cont_child(mode: u32) -> usize {
    let pid = fork_with(move || {
        let _ = setpgid(0, 0);
        match mode {
            0 => {
                let _ = signal_disposition(SIGCONT, SIG_IGN);
            }
            1 => {
                let set = sigmask(SIGCONT);
                let _ = rt_sigprocmask(SIG_BLOCK, Some(&set), None);
            }
            _ => {
                let act = new_sigaction(on_cont as *const () as usize, SA_RESTART, 0);
                // SAFETY: on_cont only touches an atomic.
                let _ = unsafe { rt_sigaction(SIGCONT, Some(&act), None) };
            }
        }
        shared().tid(0).store(1, SeqCst);
        spin(0)
    });
    let pid = pid.unwrap_or(0);
    if pid != 0 {
        let _ = setpgid(pid as i32, pid as i32);
    }
    pid
}

fn sigcont_ignored_blocked_or_handled(c: &mut Checker) {
    for (mode, name) in [(0, "ignored"), (1, "blocked"), (2, "handled")] {
        shared().reset();
        let pid = cont_child(mode);
        let ready = soon(|| shared().tid(0).load(SeqCst) == 1) && moving(&[0]);
        c.check(format_args!("a child with SIGCONT {}", name), ready);
        c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
        wait_is(c, "stopped", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
        c.check("not running", still(&[0]));
        c.ok_eq("kill SIGCONT", kill(pid as i32, SIGCONT), 0);
        wait_is(c, "continued", pid, WCONTINUED, WaitStatus::Continued);
        c.check("running again", moving(&[0]));
        let handled = shared().cont_handled().load(SeqCst);
        let want = if mode == 2 { 1 } else { 0 };
        c.check(format_args!("the handler ran {} times", want), handled == want);
        let _ = kill(pid as i32, SIGKILL);
        wait_is(c, "killed", pid, 0, WaitStatus::Signaled(SIGKILL, false));
    }
}

fn threads(c: &mut Checker, stacks: Stacks) {
    shared().reset();
    let pid = threaded_child(stacks);
    let tids_known = soon(|| (1..4).all(|i| shared().tid(i).load(SeqCst) != 0));
    c.check("a child with three more threads (one asleep in futex_wait)", pid != 0 && tids_known);
    c.check("its three spinning threads run", moving(&[0, 1, 2]));
    let n = CHLD_COUNT.load(SeqCst);
    let t2 = shared().tid(2).load(SeqCst) as i32;
    c.ok_eq("tgkill SIGSTOP to one thread", tgkill(pid as i32, t2, SIGSTOP), 0);
    sigchld(c, "one SIGCHLD CLD_STOPPED", n + 1, pid, CLD_STOPPED, 19);
    wait_is(c, "the process is reported stopped", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
    c.check("no thread runs while stopped", still(&[0, 1, 2, 3]));
    c.ok_eq("kill SIGCONT", kill(pid as i32, SIGCONT), 0);
    wait_is(c, "continued", pid, WCONTINUED, WaitStatus::Continued);
    sigchld(c, "one SIGCHLD CLD_CONTINUED", n + 2, pid, CLD_CONTINUED, 18);
    c.check("every spinning thread runs again", moving(&[0, 1, 2]));
    c.check("the sleeping thread went back to sleep", shared().counter(3).load(SeqCst) == 0);
    for round in 0..10 {
        let ok = kill(pid as i32, SIGTSTP).is_ok()
            && status_of(pid, WUNTRACED) == Ok((pid, WaitStatus::Stopped(SIGTSTP)))
            && still(&[0, 1, 2])
            && kill(pid as i32, SIGCONT).is_ok()
            && status_of(pid, WCONTINUED) == Ok((pid, WaitStatus::Continued))
            && moving(&[0, 1, 2]);
        if !ok {
            c.fail("10 rounds of SIGTSTP and SIGCONT", format_args!("round {}", round));
            break;
        }
        if round == 9 {
            c.check("10 rounds of SIGTSTP and SIGCONT stop and resume every thread", true);
        }
    }
    c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
    wait_is(c, "stopped", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
    c.ok_eq("SIGKILL to the stopped threads", kill(pid as i32, SIGKILL), 0);
    wait_is(c, "they all die", pid, 0, WaitStatus::Signaled(SIGKILL, false));
}

fn no_cldstop(c: &mut Checker) {
    shared().reset();
    c.check("SIGCHLD handler with SA_NOCLDSTOP", sigchld_handler(SA_NOCLDSTOP));
    let pid = spinner(true);
    c.check("a spinning child", pid != 0 && moving(&[0]));
    let n = CHLD_COUNT.load(SeqCst);
    c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
    wait_is(c, "wait4 still reports the stop", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
    c.ok_eq("kill SIGCONT", kill(pid as i32, SIGCONT), 0);
    wait_is(c, "and the continue", pid, WCONTINUED, WaitStatus::Continued);
    sleep_ms(20);
    c.check("no SIGCHLD for either", CHLD_COUNT.load(SeqCst) == n);
    c.ok_eq("kill SIGKILL", kill(pid as i32, SIGKILL), 0);
    wait_is(c, "killed", pid, 0, WaitStatus::Signaled(SIGKILL, false));
    sigchld(c, "SIGCHLD CLD_KILLED still comes", n + 1, pid, CLD_KILLED, 9);
    c.check("SIGCHLD handler without SA_NOCLDSTOP", sigchld_handler(0));
}

fn orphaned_group(c: &mut Checker) {
    shared().reset();
    // In this session leader's own process group, whose only outside parent
    // is in another session: orphaned.
    let pid = spinner(false);
    c.check("a child in an orphaned process group", pid != 0 && moving(&[0]));
    for (sig, name) in [(SIGTSTP, "SIGTSTP"), (SIGTTIN, "SIGTTIN"), (SIGTTOU, "SIGTTOU")] {
        c.ok_eq(format_args!("kill {}", name), kill(pid as i32, sig), 0);
        sleep_ms(20);
        nothing_to_report(c, "it does not stop", pid, WUNTRACED);
        c.check("it runs", moving(&[0]));
    }
    c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
    wait_is(c, "SIGSTOP stops it all the same", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
    c.ok_eq("kill SIGKILL", kill(pid as i32, SIGKILL), 0);
    wait_is(c, "killed", pid, 0, WaitStatus::Signaled(SIGKILL, false));
}

/// A child in nanosleep is stopped and continued: the sleep goes on to its
/// end and returns 0 (Linux restarts it through its restart block), as does
/// clock_nanosleep with an absolute time; a handler still interrupts one.
fn sleep_through_a_stop(c: &mut Checker) {
    for (abs, name) in [(false, "nanosleep"), (true, "clock_nanosleep TIMER_ABSTIME")] {
        shared().reset();
        let pid = fork_with(move || {
            let _ = setpgid(0, 0);
            let t0 = monotonic_ns();
            shared().tid(0).store(1, SeqCst);
            let r = if abs {
                let t = timespec::from_nanos(t0 + 300_000_000);
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, None)
            } else {
                nanosleep(&timespec::from_nanos(300_000_000), None)
            };
            let slept = monotonic_ns() - t0 >= 300_000_000;
            shared().counter(1).store(r.is_ok() as u64 + 2 * slept as u64, SeqCst);
            0
        });
        let pid = pid.unwrap_or(0);
        if pid != 0 {
            let _ = setpgid(pid as i32, pid as i32);
        }
        c.check(
            format_args!("a child in {} of 300 ms", name),
            pid != 0 && soon(|| shared().tid(0).load(SeqCst) == 1),
        );
        sleep_ms(50);
        c.ok_eq("kill SIGSTOP", kill(pid as i32, SIGSTOP), 0);
        wait_is(c, "stopped", pid, WUNTRACED, WaitStatus::Stopped(SIGSTOP));
        sleep_ms(50);
        c.ok_eq("kill SIGCONT", kill(pid as i32, SIGCONT), 0);
        wait_is(c, "it ends when its time is up", pid, 0, WaitStatus::Exited(0));
        let r = shared().counter(1).load(SeqCst);
        c.check("the sleep returned 0, not EINTR", r & 1 == 1);
        c.check("after its whole time", r & 2 == 2);
    }
}

extern "C" fn exiter(spins: usize) -> i32 {
    // Seen by the parent: the child runs (its main thread may never get to:
    // on one CPU this thread can run first and end the process).
    shared().counter(1).store(1, SeqCst);
    for _ in 0..spins {
        core::hint::spin_loop();
    }
    exit_group(7)
}

static EXITER_TID: AtomicU32 = AtomicU32::new(0);

fn stop_racing_exit_group(c: &mut Checker, stacks: Stacks) {
    let rounds = match RACE_ROUNDS.load(SeqCst) {
        0 => 30,
        n => n,
    };
    let mut ok = 0;
    for round in 0..rounds {
        shared().reset();
        let pid = fork_with(move || {
            let _ = setpgid(0, 0);
            if !stacks.spawn(0, &EXITER_TID, exiter, (round % 10) * 20_000) {
                return 99;
            }
            spin(0)
        });
        let Ok(pid) = pid else { break };
        let _ = setpgid(pid as i32, pid as i32);
        let _ =
            soon(|| shared().counter(0).load(SeqCst) > 0 || shared().counter(1).load(SeqCst) > 0);
        let _ = kill(pid as i32, SIGSTOP);
        // Stopped first (then continued), or exited with 7.
        let end = loop {
            match status_of(pid, WUNTRACED) {
                Ok((_, WaitStatus::Stopped(_))) => {
                    let _ = kill(pid as i32, SIGCONT);
                }
                other => break other,
            }
        };
        if end == Ok((pid, WaitStatus::Exited(7))) {
            ok += 1;
        }
    }
    c.check(
        format_args!("{rounds} rounds of SIGSTOP racing exit_group: each ends with status 7"),
        ok == rounds,
    );
}
