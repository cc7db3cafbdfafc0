//! Fork under pressure, as Linux behaves:
//!
//! - a real fork bomb (every process forks until it fails) by a non-root user
//!   is bounded by RLIMIT_NPROC: exactly the limit's number of processes, each
//!   further fork EAGAIN, and root still forks and runs meanwhile; afterwards
//!   every bomb process is reaped (by this program, their subreaper) and the
//!   user can fork again;
//! - a signal sent to the process group while a fork is in progress is not
//!   lost for the child (Linux: the fork is restarted if the signal came
//!   first, or the child gets it too), and one sent to the parent alone is
//!   not given to the child;
//! - orphans are never lost on their way to their subreaper: a subreaper
//!   polling `wait4` while its child exits (and hands its own children over)
//!   sees the child, then its orphans, never `ECHILD` in between.
//!
//! With the arguments `spread N`: N children spin at the same time, each
//! making system calls, until all have started (for the tests that look at
//! which CPUs ran them); prints one line.
//!
//! Run as root (the guest's pid 1 is). Children never print.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::*;

userspace::entry!(main);

/// The bomb's limit: the user's processes, the first one included.
const LIMIT: usize = 32;
/// A uid no other test uses (clone uses 2_000_000_000 + pid).
const UID_BASE: usize = 2_100_000_000;
/// Rounds of the signal-during-fork check.
const ROUNDS: usize = 5;

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"spread") {
        let n = args.bytes(2).and_then(text::parse_usize).unwrap_or(0);
        return spread(n);
    }
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    c.ok_eq(
        "PR_SET_CHILD_SUBREAPER (orphans of the bomb come back here)",
        set_child_subreaper(true),
        0,
    );
    bomb(&mut c);
    orphans_in_transit(&mut c);
    signal_during_fork(&mut c);
    c.err("no child left at the end", wait4(-1, None, __WALL | WNOHANG), ECHILD);
    c.status()
}

/// Shared anonymous memory for `words` u32 counters.
fn shared_words(words: usize) -> Option<&'static [AtomicU32]> {
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh shared anonymous mapping, never unmapped.
    let a = unsafe { mmap(0, PAGE_SIZE, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0) }.ok()?;
    // SAFETY: the page is zeroed, aligned and lives as long as the program;
    // atomics are the only access.
    Some(unsafe { core::slice::from_raw_parts(a as *const AtomicU32, words) })
}

// ---- the fork bomb --------------------------------------------------------------

/// Every process forks until fork fails, says how it failed (1: EAGAIN, 2:
/// anything else) on `ready_w`, and waits for `go_r` to close.
fn detonate(ready_w: i32, go_r: i32) -> ! {
    let why = loop {
        match fork() {
            Ok(_) => continue, // parent and child alike go on forking
            Err(EAGAIN) => break 1u8,
            Err(_) => break 2u8,
        }
    };
    let _ = write(ready_w, &[why]);
    wait_on(go_r);
    exit_group(0)
}

fn bomb(c: &mut Checker) {
    let uid = (UID_BASE + pid()) as u32;
    let [ready_r, ready_w] = pipe();
    let [go_r, go_w] = pipe();
    let first = fork_with(|| {
        let _ = close(ready_r);
        let _ = close(go_w);
        if setgid(uid).is_err() || setuid(uid).is_err() {
            return 1;
        }
        let n = LIMIT as u64;
        if setrlimit(RLIMIT_NPROC, &rlimit { rlim_cur: n, rlim_max: n }).is_err() {
            return 2;
        }
        detonate(ready_w, go_r)
    });
    let _ = close(ready_w);
    let _ = close(go_r);
    let Ok(first) = first else {
        c.fail("fork bomb: the first process", first.unwrap_err());
        close_all(&[ready_r, go_w]);
        return;
    };
    // One report from each bomb process once it cannot fork any more.
    let (mut eagain, mut other) = (0, 0);
    let mut b = [0u8; 1];
    while eagain + other < LIMIT {
        match read(ready_r, &mut b) {
            Ok(1) if b[0] == 1 => eagain += 1,
            Ok(1) => other += 1,
            _ => break,
        }
    }
    c.check(
        "a fork bomb of a non-root user stops at RLIMIT_NPROC (32 processes, each fork then EAGAIN)",
        eagain == LIMIT && other == 0,
    );
    // The system goes on meanwhile: root forks, runs and reaps a child that
    // itself forks.
    let [r, w] = pipe();
    let root = fork_with(|| {
        let inner = fork_with(|| 5);
        let ok = matches!(inner.map(reap), Ok(Some(WaitStatus::Exited(5))));
        (write(w, b"alive") != Ok(5) || !ok) as i32
    });
    let _ = close(w);
    let mut buf = [0u8; 8];
    let heard = read(r, &mut buf) == Ok(5) && &buf[..5] == b"alive";
    let st = root.map(reap);
    c.check(
        "while the bomb is at its limit, root forks, runs and reaps children",
        heard && st == Ok(Some(WaitStatus::Exited(0))),
    );
    let _ = close(r);
    // End it: every bomb process exits; the orphans come to us.
    let _ = close(go_w);
    let mut reaped = 0;
    let mut all_zero = true;
    let mut saw_first = false;
    loop {
        let mut st = 0;
        match wait4(-1, Some(&mut st), 0) {
            Ok(p) => {
                reaped += 1;
                saw_first |= p == first;
                all_zero &= st == 0;
            }
            Err(_) => break,
        }
    }
    c.check(
        "every bomb process exits and is reaped (32, the orphans by their subreaper)",
        reaped == LIMIT && all_zero && saw_first,
    );
    let again = fork_with(|| {
        if setgid(uid).is_err() || setuid(uid).is_err() {
            return 1;
        }
        let n = LIMIT as u64;
        if setrlimit(RLIMIT_NPROC, &rlimit { rlim_cur: n, rlim_max: n }).is_err() {
            return 2;
        }
        match fork_with(|| 0) {
            Ok(p) if reap(p) == Some(WaitStatus::Exited(0)) => 0,
            _ => 3,
        }
    });
    c.check(
        "after the bomb the user forks again",
        again.map(reap) == Ok(Some(WaitStatus::Exited(0))),
    );
    let _ = close(ready_r);
}

// ---- orphans on their way to the subreaper ----------------------------------------------

/// Rounds of the orphan check, and the children each exiting child leaves.
const ORPHAN_ROUNDS: usize = 40;
const ORPHANS: usize = 6;

/// Each round: a child forks ORPHANS grandchildren (blocked on a pipe) and
/// exits at once, while this process, their subreaper, polls `wait4(-1,
/// WNOHANG)`. It must reap the child and then every orphan: `ECHILD` before
/// that means an orphan was in neither parent's list when it looked (Linux
/// moves them under `tasklist_lock`, which `wait4` also takes).
fn orphans_in_transit(c: &mut Checker) {
    let mut lost = 0;
    let mut reaped_all = true;
    for _ in 0..ORPHAN_ROUNDS {
        let [go_r, go_w] = pipe();
        let child = fork_with(|| {
            for _ in 0..ORPHANS {
                let g = fork_with(|| {
                    let _ = close(go_w);
                    wait_on(go_r);
                    0
                });
                if g.is_err() {
                    return 1;
                }
            }
            0
        });
        let _ = close(go_r);
        if child.is_err() {
            let _ = close(go_w);
            reaped_all = false;
            break;
        }
        let mut reaped = 0;
        loop {
            let mut st = 0;
            match wait4(-1, Some(&mut st), WNOHANG) {
                Ok(0) => core::hint::spin_loop(),
                Ok(p) => {
                    reaped += 1;
                    reaped_all &= st == 0;
                    if Ok(p) == child {
                        // The orphans may go now.
                        let _ = close(go_w);
                    }
                }
                Err(_) => break,
            }
        }
        if reaped != 1 + ORPHANS {
            lost += 1;
            // Whatever was missed arrives later: collect it for the next round.
            let _ = close(go_w);
            while wait4(-1, None, 0).is_ok() {}
        }
    }
    let name = "orphans are never lost on their way to their subreaper (40 rounds of a child \
                exiting while its 6 children move to the subreaper that polls wait4)";
    if lost > 0 || !reaped_all {
        c.fail(
            name,
            format_args!("ECHILD too early in {lost} rounds, exit statuses all 0: {reaped_all}"),
        );
    } else {
        c.check(name, true);
    }
}

// ---- signals arriving during fork ------------------------------------------------------

static GOT_USR1: AtomicU32 = AtomicU32::new(0);
/// The pid of the process whose SIGUSR2 handler ran last (0: none).
static USR2_PID: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_: i32) {
    GOT_USR1.store(1, SeqCst);
}

extern "C" fn on_usr2(_: i32) {
    USR2_PID.store(pid() as u32, SeqCst);
}

/// Bytes of private memory the forking process has touched, and fds it holds:
/// both make its fork long, so the signal tends to arrive in the middle.
const BALLAST: usize = 16 << 20;
const FDS: usize = 600;

/// Forks ROUNDS times while another process of its group sends SIGUSR1 to the
/// group and SIGUSR2 to it alone as soon as the fork starts; each child
/// reports whether SIGUSR1 reached it (its own handler ran, or it inherited the
/// flag because the fork was restarted after the parent's handler) and that
/// SIGUSR2's handler never ran in it (the flag says in which process it ran).
/// Returns failure bits: 1 setup, 2 SIGUSR1 lost for a child, 4 SIGUSR2 given
/// to a child, 8 the parent missed a signal.
fn forking_parent() -> u32 {
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: fresh private memory only this function uses, never unmapped
    // before the process exits.
    let Ok(ballast) = (unsafe { mmap(0, BALLAST, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) })
    else {
        return 1;
    };
    for off in (0..BALLAST).step_by(PAGE_SIZE) {
        // SAFETY: inside the mapping just made.
        unsafe { core::ptr::write_volatile((ballast + off) as *mut u8, 1) };
    }
    for _ in 0..FDS {
        if dup(0).is_err() && dup(1).is_err() {
            break;
        }
    }
    let Some(flag) = shared_words(1) else { return 1 };
    for (sig, f) in [(SIGUSR1, on_usr1 as extern "C" fn(i32)), (SIGUSR2, on_usr2)] {
        let act = new_sigaction(f as usize, SA_RESTART, 0);
        // SAFETY: the handlers only store to atomics.
        if unsafe { rt_sigaction(sig, Some(&act), None) }.is_err() {
            return 1;
        }
    }
    let me = pid() as i32;
    let mut bits = 0;
    for _ in 0..ROUNDS {
        GOT_USR1.store(0, SeqCst);
        USR2_PID.store(0, SeqCst);
        flag[0].store(0, SeqCst);
        let killer = fork_with(|| {
            while flag[0].load(SeqCst) == 0 {
                core::hint::spin_loop();
            }
            let a = kill(0, SIGUSR1);
            let b = kill(me, SIGUSR2);
            (a.is_err() || b.is_err()) as i32
        });
        let Ok(killer) = killer else { return bits | 1 };
        let [r, w] = pipe();
        flag[0].store(1, SeqCst);
        let child = fork_with(|| {
            let _ = close(w);
            wait_on(r); // the parent has seen both signals
            let usr1 = eventually(|| GOT_USR1.load(SeqCst) == 1);
            let usr2 = USR2_PID.load(SeqCst) == pid() as u32;
            ((!usr1) as i32 * 2) | (usr2 as i32 * 4)
        });
        let _ = close(r);
        let seen = eventually(|| GOT_USR1.load(SeqCst) == 1 && USR2_PID.load(SeqCst) == me as u32);
        if !seen {
            bits |= 8;
        }
        let _ = close(w);
        match child.map(reap) {
            Ok(Some(WaitStatus::Exited(b))) => bits |= b as u32,
            _ => bits |= 1,
        }
        if reap(killer) != Some(WaitStatus::Exited(0)) {
            bits |= 1;
        }
    }
    bits
}

fn signal_during_fork(c: &mut Checker) {
    // In a process group of its own, so that the group signal hits only the
    // processes of this check.
    let p = fork_with(|| {
        if setpgid(0, 0).is_err() {
            return 1;
        }
        forking_parent() as i32
    });
    let bits = match p.map(reap) {
        Ok(Some(WaitStatus::Exited(b))) => b as u32,
        _ => 0xff,
    };
    c.check("signal during fork: the setup works", bits & 1 == 0);
    c.check(
        "a signal to the process group while its member forks reaches the child too (5 rounds)",
        bits & 2 == 0,
    );
    c.check("a signal to the forking parent alone is not given to the child", bits & 4 == 0);
    c.check("the forking parent gets both signals", bits & 8 == 0);
}

// ---- spread -------------------------------------------------------------------------

fn spread(n: usize) -> i32 {
    let Some(w) = shared_words(2) else { return 1 };
    let (started, stop) = (&w[0], &w[1]);
    let mut pids = [0usize; 64];
    let n = n.min(pids.len());
    for slot in pids.iter_mut().take(n) {
        match fork_with(|| {
            started.fetch_add(1, SeqCst);
            while stop.load(SeqCst) == 0 {
                let _ = getpid();
            }
            0
        }) {
            Ok(p) => *slot = p,
            Err(_) => return 1,
        }
    }
    let all = eventually(|| started.load(SeqCst) == n as u32);
    stop.store(1, SeqCst);
    let reaped = pids[..n].iter().filter(|&&p| reap(p) == Some(WaitStatus::Exited(0))).count();
    if all && reaped == n {
        println!("ok {} children ran at once", n);
        0
    } else {
        println!(
            "FAIL {} children ran at once: started {}, reaped {}",
            n,
            started.load(SeqCst),
            reaped
        );
        1
    }
}
