//! Process-directed signals (Linux kernel/signal.c `__send_signal_locked`
//! with PIDTYPE_TGID, `complete_signal`, `wants_signal`, `dequeue_signal`):
//! kill(pid) queues the signal for the process, and any thread that does not
//! block it takes it — the main thread when it does not block it, else
//! another; while every thread blocks it, it stays pending for the process
//! (sigpending shows it in every thread) until one unblocks it. tgkill is for
//! one thread only. A fatal signal (default action: terminate) kills every
//! thread, even those that block it, and even after the main thread exited.
//! One line per check, exit status = number of failed checks.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::thread::{
    join, leader_word, set_wake, spawn_thread, wait_until, wait_until_ms, Stacks,
};
use userspace::*;

userspace::entry!(main);

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let Some(stacks) = Stacks::new(4) else {
        c.fail("mmap the thread stacks", "failed");
        return c.status();
    };
    let act = new_sigaction(on_usr1 as *const () as usize, 0, 0);
    // SAFETY: on_usr1 only stores to atomics and makes a system call.
    if unsafe { rt_sigaction(SIGUSR1, Some(&act), None) }.is_err() {
        c.fail("sigaction SIGUSR1", "failed");
        return c.status();
    }
    in_this_process(&mut c, stacks);
    fatal_to_a_process(&mut c, stacks);
    fatal_after_leader_exit(&mut c, stacks);
    fatal_while_blocked(&mut c, stacks);
    sigkill_to_one_thread(&mut c, stacks);
    handled_after_leader_exit(&mut c, stacks);
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
    c.status()
}

/// Times SIGUSR1's handler ran, and the thread it last ran in.
static HANDLED: AtomicU32 = AtomicU32::new(0);
static HANDLED_BY: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_: i32) {
    HANDLED_BY.store(gettid().unwrap_or(0) as u32, SeqCst);
    HANDLED.fetch_add(1, SeqCst);
}

fn tid() -> u32 {
    gettid().unwrap_or(0) as u32
}

fn mask(how: u32, sig: u32) {
    let set = sigmask(sig);
    let _ = rt_sigprocmask(how, Some(&set), None);
}

fn pending(sig: u32) -> bool {
    let mut set = 0;
    rt_sigpending(&mut set).is_ok() && set & sigmask(sig) != 0
}

/// Sleeps `ms` milliseconds.

// ---- worker threads of this process, told what to do -------------------------------

const BLOCK: u32 = 1;
const UNBLOCK: u32 = 2;
const PENDING: u32 = 3;
const EXIT: u32 = 4;
/// Make system calls (getpid) until `BUSY_STOP` is set; `answer` 1 once begun.
const BUSY: u32 = 5;

static BUSY_STOP: AtomicU32 = AtomicU32::new(0);

/// A worker's command word (0: done, waiting for the next) and its answer.
struct Worker {
    cmd: AtomicU32,
    answer: AtomicU32,
    tid: AtomicU32,
}

static WORKERS: [Worker; 2] = [
    Worker { cmd: AtomicU32::new(0), answer: AtomicU32::new(0), tid: AtomicU32::new(0) },
    Worker { cmd: AtomicU32::new(0), answer: AtomicU32::new(0), tid: AtomicU32::new(0) },
];

extern "C" fn worker(i: usize) -> i32 {
    let w = &WORKERS[i];
    loop {
        match w.cmd.load(SeqCst) {
            0 => {
                // A handler interrupts the wait (EINTR): look again.
                let _ = futex_wait(&w.cmd, 0, 0, None);
                continue;
            }
            BLOCK => mask(SIG_BLOCK, SIGUSR1),
            UNBLOCK => mask(SIG_UNBLOCK, SIGUSR1),
            PENDING => w.answer.store(pending(SIGUSR1) as u32, SeqCst),
            BUSY => {
                w.answer.store(1, SeqCst);
                while BUSY_STOP.load(SeqCst) == 0 {
                    let _ = getpid();
                }
            }
            _ => return 0,
        }
        set_wake(&w.cmd, 0);
    }
}

/// Has worker `i` do `cmd` and waits until it has.
fn order(i: usize, cmd: u32) -> bool {
    set_wake(&WORKERS[i].cmd, cmd);
    cmd == EXIT || wait_until(&WORKERS[i].cmd, |v| v == 0)
}

fn handled_by(n: u32, who: u32) -> bool {
    wait_until_ms(&HANDLED, 2000, |v| v >= n)
        && HANDLED.load(SeqCst) == n
        && HANDLED_BY.load(SeqCst) == who
}

fn in_this_process(c: &mut Checker, stacks: Stacks) {
    let me = getpid().unwrap_or(0) as i32;
    // The workers start with SIGUSR1 blocked (the mask is inherited).
    mask(SIG_BLOCK, SIGUSR1);
    for (i, w) in WORKERS.iter().enumerate() {
        // SAFETY: stack i is the worker's alone; WORKERS is static.
        if unsafe { spawn_thread(stacks.top(i), &w.tid, worker, i) }.is_err() {
            c.fail("spawn the workers", "clone failed");
            return;
        }
    }
    let (t1, t2) = (WORKERS[0].tid.load(SeqCst), WORKERS[1].tid.load(SeqCst));

    c.check("worker 2 unblocks SIGUSR1", order(1, UNBLOCK));
    c.ok_eq("kill(getpid(), SIGUSR1)", kill(me, SIGUSR1), 0);
    c.check(
        "the main thread and worker 1 block it: the handler runs once, in worker 2",
        handled_by(1, t2),
    );

    c.check("worker 2 blocks SIGUSR1 again", order(1, BLOCK));
    c.ok_eq("kill(getpid(), SIGUSR1) with every thread blocking it", kill(me, SIGUSR1), 0);
    c.check("it is pending for the process: sigpending in the main thread", pending(SIGUSR1));
    let asked = order(0, PENDING);
    c.check("and in worker 1", asked && WORKERS[0].answer.load(SeqCst) == 1);
    sleep_ms(20);
    c.check("no thread takes it while all block it", HANDLED.load(SeqCst) == 1);
    c.check("worker 1 unblocks SIGUSR1", order(0, UNBLOCK));
    c.check("the first thread to unblock it takes it (worker 1)", handled_by(2, t1));
    c.check("it is pending no more", !pending(SIGUSR1));

    c.check("worker 1 blocks SIGUSR1 again", order(0, BLOCK));
    mask(SIG_UNBLOCK, SIGUSR1);
    c.ok_eq(
        "tgkill(pid, worker 1, SIGUSR1) while worker 1 blocks it",
        tgkill(me, t1 as i32, SIGUSR1),
        0,
    );
    sleep_ms(20);
    c.check("no other thread takes a thread's signal", HANDLED.load(SeqCst) == 2);
    let asked = order(0, PENDING);
    c.check("it is pending for worker 1", asked && WORKERS[0].answer.load(SeqCst) == 1);
    c.check("worker 1 unblocks it", order(0, UNBLOCK));
    c.check("worker 1 takes it", handled_by(3, t1));

    c.ok_eq("kill(getpid(), SIGUSR1) with no thread blocking it", kill(me, SIGUSR1), 0);
    c.check(
        "the main thread takes it, before kill returns",
        HANDLED.load(SeqCst) == 4 && HANDLED_BY.load(SeqCst) == tid(),
    );
    // Linux wakes one thread for a process signal (TIF_SIGPENDING): another
    // thread that does not block it, returning from its own system calls on
    // another CPU meanwhile, leaves it to the one chosen.
    WORKERS[0].answer.store(0, SeqCst);
    set_wake(&WORKERS[0].cmd, BUSY);
    let busy = wait_until(&WORKERS[0].answer, |v| v == 1);
    c.check("worker 1 makes system calls without a pause, SIGUSR1 unblocked", busy);
    let mut stolen = 0;
    for k in 0..200 {
        let sent = kill(me, SIGUSR1) == Ok(0);
        if !sent || HANDLED.load(SeqCst) != 5 + k || HANDLED_BY.load(SeqCst) != tid() {
            stolen += 1;
            // Let it be counted before the next one.
            let _ = wait_until_ms(&HANDLED, 2000, |v| v >= 5 + k);
            HANDLED.store(5 + k, SeqCst);
        }
    }
    let name = "200 more kill(getpid()): the main thread takes every one itself";
    if stolen == 0 {
        c.check(name, true);
    } else {
        c.fail(name, format_args!("{} of them not (taken elsewhere, or late)", stolen));
    }
    BUSY_STOP.store(1, SeqCst);
    c.check("worker 1 stops", wait_until(&WORKERS[0].cmd, |v| v == 0));
    for (i, w) in WORKERS.iter().enumerate() {
        order(i, EXIT);
        c.check(format_args!("worker {} exits", i + 1), join(&w.tid));
    }
}

// ---- fatal signals, in children -------------------------------------------------------

/// Thread tid words (CLONE_CHILD_CLEARTID) and a word nobody changes.
static T1: AtomicU32 = AtomicU32::new(0);
static T2: AtomicU32 = AtomicU32::new(0);
static NEVER: AtomicU32 = AtomicU32::new(0);
/// The main thread's clear-tid word in a child (set_tid_address).
static LEADER: AtomicU32 = AtomicU32::new(0);

fn forever() -> ! {
    loop {
        let _ = futex_wait(&NEVER, 0, 0, None);
    }
}

/// Unblocks SIGTERM, tells the parent (fd `a`), waits for ever.
extern "C" fn unblock_term_and_wait(a: usize) -> i32 {
    mask(SIG_UNBLOCK, SIGTERM);
    put_byte(a as i32, b'r');
    forever()
}

/// Tells the parent (fd `a`), waits for ever (SIGTERM stays blocked).
extern "C" fn ready_and_wait(a: usize) -> i32 {
    put_byte(a as i32, b'r');
    forever()
}

fn fatal_to_a_process(c: &mut Checker, stacks: Stacks) {
    let [r, w] = coord::pipe();
    let child = fork_with(|| {
        mask(SIG_BLOCK, SIGTERM);
        if !stacks.spawn(0, &T1, ready_and_wait, w as usize)
            || !stacks.spawn(1, &T2, unblock_term_and_wait, w as usize)
        {
            return 100;
        }
        forever()
    });
    let _ = close(w);
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    let ready = get_byte(r).is_some() && get_byte(r).is_some();
    c.check("three threads, SIGTERM blocked in two of them", ready);
    let _ = close(r);
    c.ok_eq("kill(pid, SIGTERM)", kill(p as i32, SIGTERM), 0);
    status_is(
        c,
        "the thread that does not block SIGTERM takes it and every thread dies: status SIGTERM",
        p,
        WaitStatus::Signaled(SIGTERM, false),
        5,
    );
}

/// Waits until the main thread has exited, tells the parent (fd `a`), waits.
extern "C" fn after_leader_wait(a: usize) -> i32 {
    if !wait_until(&LEADER, |v| v == 0) {
        exit_group(101);
    }
    put_byte(a as i32, b'g');
    forever()
}

fn fatal_after_leader_exit(c: &mut Checker, stacks: Stacks) {
    let [r, w] = coord::pipe();
    let child = fork_with(|| {
        if !leader_word(&LEADER) || !stacks.spawn(0, &T1, after_leader_wait, w as usize) {
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
    c.ok_eq("kill(pid, SIGTERM) after the main thread exited", kill(p as i32, SIGTERM), 0);
    status_is(
        c,
        "the remaining thread takes it and the process dies: status SIGTERM",
        p,
        WaitStatus::Signaled(SIGTERM, false),
        5,
    );
}

/// With SIGTERM blocked everywhere: tells the parent (fd `a & 0xffff`) once
/// SIGTERM is pending, waits for its byte (fd `a >> 16`), then unblocks it.
extern "C" fn pending_then_unblock(a: usize) -> i32 {
    let (up, down) = ((a & 0xffff) as i32, (a >> 16) as i32);
    put_byte(up, b'r');
    let seen = coord::eventually(|| pending(SIGTERM));
    put_byte(up, if seen { b'p' } else { b'n' });
    wait_on(down);
    mask(SIG_UNBLOCK, SIGTERM);
    exit_group(102)
}

fn fatal_while_blocked(c: &mut Checker, stacks: Stacks) {
    let ([up_r, up_w], [down_r, down_w]) = (coord::pipe(), coord::pipe());
    let child = fork_with(|| {
        mask(SIG_BLOCK, SIGTERM);
        if !stacks.spawn(0, &T1, pending_then_unblock, (down_r << 16 | up_w) as usize) {
            return 100;
        }
        forever()
    });
    let _ = close(up_w);
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    c.check("two threads, SIGTERM blocked in both", get_byte(up_r) == Some(b'r'));
    c.ok_eq("kill(pid, SIGTERM) while every thread blocks it", kill(p as i32, SIGTERM), 0);
    c.check("it stays pending and the process lives on", get_byte(up_r) == Some(b'p'));
    put_byte(down_w, b'x');
    status_is(
        c,
        "once a thread unblocks it, the process dies: status SIGTERM",
        p,
        WaitStatus::Signaled(SIGTERM, false),
        5,
    );
    close_all(&[up_r, down_r, down_w]);
}

/// Tells the parent (fd `a`) its tid, waits for ever.
extern "C" fn tell_tid_and_wait(a: usize) -> i32 {
    put_u32(a as i32, tid());
    forever()
}

fn sigkill_to_one_thread(c: &mut Checker, stacks: Stacks) {
    let [r, w] = coord::pipe();
    let child = fork_with(|| {
        if !stacks.spawn(0, &T1, tell_tid_and_wait, w as usize) {
            return 100;
        }
        forever()
    });
    let _ = close(w);
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    let t = get_u32(r);
    let _ = close(r);
    c.check("a process with two threads", t.is_some());
    let t = t.unwrap_or(0) as i32;
    c.ok_eq("tgkill(pid, thread, SIGKILL)", tgkill(p as i32, t, SIGKILL), 0);
    let name = "SIGKILL to one thread kills the process: status SIGKILL";
    status_is(c, name, p, WaitStatus::Signaled(SIGKILL, false), 5);
}

/// Waits for the main thread's exit, tells the parent (fd `a`), waits for
/// SIGUSR1's handler; exit(10) if it ran in this thread, else exit(11).
extern "C" fn handler_after_leader(a: usize) -> i32 {
    if !wait_until(&LEADER, |v| v == 0) {
        exit_group(101);
    }
    put_byte(a as i32, b'g');
    let ran = wait_until_ms(&HANDLED, 2000, |v| v >= 1);
    if ran && HANDLED_BY.load(SeqCst) == tid() {
        10
    } else {
        11
    }
}

fn handled_after_leader_exit(c: &mut Checker, stacks: Stacks) {
    let [r, w] = coord::pipe();
    let child = fork_with(|| {
        HANDLED.store(0, SeqCst);
        if !leader_word(&LEADER) || !stacks.spawn(0, &T1, handler_after_leader, w as usize) {
            return 100;
        }
        exit(0)
    });
    let _ = close(w);
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    c.check("the thread sees the main thread's exit(0)", get_byte(r) == Some(b'g'));
    let _ = close(r);
    c.ok_eq("kill(pid, SIGUSR1) after the main thread exited", kill(p as i32, SIGUSR1), 0);
    status_is(
        c,
        "the remaining thread runs the handler, then exit(10) is the process's status",
        p,
        WaitStatus::Exited(10),
        5,
    );
}
