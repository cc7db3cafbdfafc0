//! The exit status of a thread group (Linux kernel/exit.c `do_exit`,
//! `synchronize_group_exit`, `delay_group_leader`, `wait_task_zombie`): when
//! no exit_group or fatal signal decided it, the status is that of the last
//! thread to exit, even if the main thread left first with another one; the
//! main thread waits as a zombie nobody can reap until the last thread is
//! gone, and the parent hears of the process (SIGCHLD) only then. Threads
//! exiting at once on several CPUs, and an exit_group racing the main
//! thread's exit, give Linux's status every time. One line per check, exit
//! status = number of failed checks.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::thread::{leader_word, wait_until, Stacks};
use userspace::*;

userspace::entry!(main);

/// Rounds of each race.
const ROUNDS: usize = 30;

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let Some(stacks) = Stacks::new(4) else {
        c.fail("mmap the thread stacks", "failed");
        return c.status();
    };
    leader_first_then_thread(&mut c, stacks);
    thread_first_then_leader(&mut c, stacks);
    two_threads_at_once(&mut c, stacks);
    exit_group_races_leader_exit(&mut c, stacks);
    leader_first_then_killed(&mut c, stacks);
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
    c.status()
}

/// The main thread's clear-child-tid word (set_tid_address) in each child:
/// 0 once the main thread has exited.
static LEADER: AtomicU32 = AtomicU32::new(0);
/// Set to 1 to start a race.
static GO: AtomicU32 = AtomicU32::new(0);
/// Thread tid words (CLONE_CHILD_CLEARTID).
static T1: AtomicU32 = AtomicU32::new(0);
static T2: AtomicU32 = AtomicU32::new(0);

fn sigchld_pending() -> bool {
    let mut set = 0;
    rt_sigpending(&mut set).is_ok() && set & sigmask(SIGCHLD) != 0
}

// ---- the main thread exits first ------------------------------------------------

/// Waits for the main thread to exit, tells the parent (fd `a & 0xffff`),
/// waits for its byte (fd `a >> 16`), then exit(5).
extern "C" fn after_leader_exit5(a: usize) -> i32 {
    if !wait_until(&LEADER, |v| v == 0) {
        exit_group(101);
    }
    let (up, down) = ((a & 0xffff) as i32, (a >> 16) as i32);
    put_byte(up, b'g');
    wait_on(down);
    5
}

fn leader_first_then_thread(c: &mut Checker, stacks: Stacks) {
    let ([up_r, up_w], [down_r, down_w]) = (coord::pipe(), coord::pipe());
    // SIGCHLD blocked and none pending: it shows when the parent is told.
    let block = sigmask(SIGCHLD);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&block), None);
    let _ = signal_disposition(SIGCHLD, SIG_IGN);
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let child = fork_with(|| {
        if !leader_word(&LEADER)
            || !stacks.spawn(0, &T1, after_leader_exit5, (down_r << 16 | up_w) as usize)
        {
            return 100;
        }
        exit(3)
    });
    let _ = close(up_w);
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    c.check("the thread sees the main thread's exit(3)", get_byte(up_r) == Some(b'g'));
    c.ok_eq(
        "wait4 WNOHANG: the process is not reapable while a thread runs",
        wait4(p as i32, None, WNOHANG),
        0,
    );
    let mut info = siginfo_filled(0);
    let r = waitid(P_PID, p as i32, Some(&mut info), WEXITED | WNOHANG | WNOWAIT);
    c.check("waitid WNOHANG|WNOWAIT: nothing to report yet", r == Ok(0) && info.si_pid() == 0);
    c.ok_eq("kill(pid, 0) finds the process", kill(p as i32, 0), 0);
    c.check("no SIGCHLD when the main thread exits", !sigchld_pending());
    put_byte(down_w, b'x');
    let mut info = siginfo_filled(0);
    let r = waitid(P_PID, p as i32, Some(&mut info), WEXITED | WNOWAIT);
    c.check(
        "waitid WNOWAIT after the last thread's exit(5): CLD_EXITED, status 5",
        r == Ok(0)
            && info.si_code == CLD_EXITED
            && info.si_status() == 5
            && info.si_pid() == p as i32,
    );
    c.check("SIGCHLD when the last thread exits", sigchld_pending());
    status_is(
        c,
        "main thread exit(3), then the last thread exit(5): wait4 reports 5",
        p,
        WaitStatus::Exited(5),
        10,
    );
    let _ = signal_disposition(SIGCHLD, SIG_IGN);
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&block), None);
    close_all(&[up_r, down_r, down_w]);
}

// ---- a thread exits first, the main thread last --------------------------------

extern "C" fn exit9(_: usize) -> i32 {
    9
}

fn thread_first_then_leader(c: &mut Checker, stacks: Stacks) {
    let child = fork_with(|| {
        if !stacks.spawn(0, &T1, exit9, 0) || !wait_until(&T1, |v| v == 0) {
            return 100;
        }
        exit(4)
    });
    match child {
        Ok(p) => status_is(
            c,
            "a thread exit(9), then the main thread exit(4): wait4 reports 4",
            p,
            WaitStatus::Exited(4),
            10,
        ),
        Err(e) => c.fail("fork", e),
    }
}

// ---- races ------------------------------------------------------------------------

/// Waits for the main thread's exit, then exits with `code` at once.
extern "C" fn exit_after_leader(code: usize) -> i32 {
    if !wait_until(&LEADER, |v| v == 0) {
        exit_group(101);
    }
    code as i32
}

fn two_threads_at_once(c: &mut Checker, stacks: Stacks) {
    // The main thread exit(3); then two threads exit(5) and exit(6) at the
    // same moment (on two CPUs where there are two): whichever began to
    // exit last decides, never the main thread.
    let mut bad = None;
    for _ in 0..ROUNDS {
        let child = fork_with(|| {
            if !leader_word(&LEADER)
                || !stacks.spawn(0, &T1, exit_after_leader, 5)
                || !stacks.spawn(1, &T2, exit_after_leader, 6)
            {
                return 100;
            }
            exit(3)
        });
        let Ok(p) = child else {
            bad = Some(WaitStatus::Exited(-1));
            break;
        };
        match reap_within(p, 10) {
            Ok(WaitStatus::Exited(5 | 6)) => {}
            Ok(s) => bad = Some(s),
            Err(_) => bad = Some(WaitStatus::Exited(-2)),
        }
    }
    let name = "main thread exit(3), two threads exit(5) and exit(6) at once: 5 or 6, every round";
    match bad {
        None => {
            c.check(name, true);
        }
        Some(s) => c.fail(name, s),
    }
}

/// Waits for GO, then exit_group(7).
extern "C" fn exit_group_on_go(_: usize) -> i32 {
    while GO.load(SeqCst) == 0 {
        core::hint::spin_loop();
    }
    exit_group(7)
}

fn exit_group_races_leader_exit(c: &mut Checker, stacks: Stacks) {
    // exit_group decides the status whether the main thread's exit(3) came
    // before or after it.
    let mut bad = None;
    for _ in 0..ROUNDS {
        let child = fork_with(|| {
            GO.store(0, SeqCst);
            if !stacks.spawn(0, &T1, exit_group_on_go, 0) {
                return 100;
            }
            GO.store(1, SeqCst);
            exit(3)
        });
        let Ok(p) = child else {
            bad = Some(WaitStatus::Exited(-1));
            break;
        };
        match reap_within(p, 10) {
            Ok(WaitStatus::Exited(7)) => {}
            Ok(s) => bad = Some(s),
            Err(_) => bad = Some(WaitStatus::Exited(-2)),
        }
    }
    let name = "main thread exit(3) racing exit_group(7) in a thread: 7, every round";
    match bad {
        None => {
            c.check(name, true);
        }
        Some(s) => c.fail(name, s),
    }
}

// ---- a fatal signal after the main thread left ------------------------------------

/// Tells the parent (fd `a`) once the main thread has exited, then waits.
extern "C" fn wait_forever_after_leader(a: usize) -> i32 {
    if !wait_until(&LEADER, |v| v == 0) {
        exit_group(101);
    }
    put_byte(a as i32, b'g');
    loop {
        let _ = futex_wait(&GO, 0, GO.load(SeqCst), None);
    }
}

fn leader_first_then_killed(c: &mut Checker, stacks: Stacks) {
    let [r, w] = coord::pipe();
    let child = fork_with(|| {
        if !leader_word(&LEADER) || !stacks.spawn(0, &T1, wait_forever_after_leader, w as usize) {
            return 100;
        }
        exit(3)
    });
    let _ = close(w);
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    c.check("the thread sees the main thread's exit(3)", get_byte(r) == Some(b'g'));
    let _ = close(r);
    c.ok_eq("SIGKILL to the process whose main thread exited", kill(p as i32, SIGKILL), 0);
    status_is(
        c,
        "main thread exit(3), then SIGKILL: the status is SIGKILL",
        p,
        WaitStatus::Signaled(SIGKILL, false),
        10,
    );
}
