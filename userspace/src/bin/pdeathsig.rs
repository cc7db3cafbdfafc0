//! The parent-death signal as Linux sends it (`prctl(PR_SET_PDEATHSIG)`,
//! `forget_original_parent`): its value and errors, the signal when the
//! parent exits (si_code SI_USER, si_pid the parent, the new parent a
//! subreaper), also when the parent is a thread that exits while its process
//! lives on (the new parent is then another thread of the same process);
//! not inherited by a fork child, kept by execve, cleared by a change of the
//! effective user or group. One line per check, exit status = number of
//! failed checks. With the argument `get` it is the image execve started: it
//! exits with its parent-death signal.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU32, Ordering::SeqCst};

use userspace::thread::{join, Stacks};
use userspace::*;

userspace::entry!(main);

static GOT: AtomicU32 = AtomicU32::new(0);
static CODE: AtomicI32 = AtomicI32::new(-1);
static FROM: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_death(sig: i32, info: *mut siginfo_t, _: *mut ucontext) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo.
    let info = unsafe { &*info };
    CODE.store(info.si_code, SeqCst);
    FROM.store(info.si_pid(), SeqCst);
    GOT.store(sig as u32, SeqCst);
}

fn prctl2(option: u32, arg: usize) -> SysResult {
    // SAFETY: the options used here read nothing and write at most an int at
    // `arg`, which is a live int or an address the kernel refuses.
    unsafe { prctl(option, arg, 0, 0, 0) }
}

fn get() -> i32 {
    let mut v = -1i32;
    let _ = prctl2(PR_GET_PDEATHSIG, &mut v as *mut i32 as usize);
    v
}

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"get") {
        return get();
    }
    let mut c = Checker::new();
    let _ = set_child_subreaper(true);
    values(&mut c);
    parent_exits(&mut c);
    parent_thread_exits(&mut c);
    inheritance(&mut c, &args);
    c.status()
}

fn values(c: &mut Checker) {
    c.ok_eq("PR_GET_PDEATHSIG is 0 at first", Ok(get()), 0);
    c.err("PR_SET_PDEATHSIG 65: EINVAL", prctl2(PR_SET_PDEATHSIG, 65), EINVAL);
    c.err("PR_SET_PDEATHSIG -1: EINVAL", prctl2(PR_SET_PDEATHSIG, usize::MAX), EINVAL);
    c.ok_eq("PR_SET_PDEATHSIG SIGUSR1", prctl2(PR_SET_PDEATHSIG, SIGUSR1 as usize), 0);
    c.ok_eq("PR_GET_PDEATHSIG reads it", Ok(get()), SIGUSR1 as i32);
    c.err("PR_GET_PDEATHSIG to a bad pointer: EFAULT", prctl2(PR_GET_PDEATHSIG, 0x10), EFAULT);
    c.ok_eq("PR_SET_PDEATHSIG 0", prctl2(PR_SET_PDEATHSIG, 0), 0);
    c.ok_eq("PR_GET_PDEATHSIG reads 0", Ok(get()), 0);
}

/// In a grandchild: ask for SIGUSR1 at the parent's death, say so on
/// `ready`, wait for the signal (at most 10 s), then write what it carried
/// and the new parent to `out`: [signal, si_code, si_pid, getppid()].
fn wait_for_death(ready: i32, out: i32) -> i32 {
    let act = new_sigaction(on_death as *const () as usize, SA_SIGINFO, 0);
    // SAFETY: the handler only stores to atomics.
    let _ = unsafe { rt_sigaction(SIGUSR1, Some(&act), None) };
    if prctl2(PR_SET_PDEATHSIG, SIGUSR1 as usize).is_err() {
        return 1;
    }
    let _ = write(ready, b"r");
    let end = monotonic_ns() + 10_000_000_000;
    while GOT.load(SeqCst) == 0 && monotonic_ns() < end {
        let _ = nanosleep(&timespec::from_nanos(1_000_000), None);
    }
    let ppid = getppid().unwrap_or(0) as i32;
    let r = [GOT.load(SeqCst) as i32, CODE.load(SeqCst), FROM.load(SeqCst), ppid];
    let mut b = [0u8; 16];
    for (i, v) in r.iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    let _ = write(out, &b);
    0
}

fn read_report(fd: i32) -> Option<[i32; 4]> {
    let mut b = [0u8; 16];
    let mut got = 0;
    while got < 16 {
        match read(fd, &mut b[got..]) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got += n,
        }
    }
    let v = |i: usize| i32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
    Some([v(0), v(1), v(2), v(3)])
}

fn parent_exits(c: &mut Checker) {
    let (Ok([rr, rw]), Ok([or, ow])) = (pipe2(O_CLOEXEC), pipe2(O_CLOEXEC)) else {
        c.fail("pipes", "pipe2");
        return;
    };
    let me = getpid().unwrap_or(0) as i32;
    // The child forks the grandchild, waits until it asked for the signal,
    // then exits.
    let child = fork_with(|| {
        if fork_with(|| wait_for_death(rw, ow)).is_err() {
            return 1;
        }
        let mut b = [0u8; 1];
        if read(rr, &mut b) != Ok(1) {
            return 2;
        }
        0
    });
    let _ = close(rw);
    let _ = close(ow);
    let Some(child) = c.ok("fork a child that forks a grandchild", child) else { return };
    c.reaped("the child exits", child, 0, WaitStatus::Exited(0));
    match read_report(or) {
        Some([sig, code, from, ppid]) => {
            c.ok_eq("the grandchild gets SIGUSR1", Ok(sig), SIGUSR1 as i32);
            c.ok_eq("si_code SI_USER", Ok(code), SI_USER);
            c.ok_eq("si_pid is the parent that died", Ok(from), child as i32);
            c.ok_eq("and its new parent is the subreaper", Ok(ppid), me);
        }
        None => c.fail("the grandchild reports", "no report"),
    }
    let _ = close(rr);
    let _ = close(or);
    let reaped = wait4(-1, None, 0);
    c.check("the grandchild is reaped by the subreaper", reaped.is_ok());
}

static T_TID: AtomicU32 = AtomicU32::new(0);
/// The ready pipe's read and write ends and the report pipe's write end.
static PIPES: [AtomicI32; 3] = [AtomicI32::new(-1), AtomicI32::new(-1), AtomicI32::new(-1)];

/// A thread that forks the grandchild, waits until it asked for the signal,
/// and exits (the thread, not its process).
extern "C" fn forking_thread(_: usize) -> i32 {
    let (rr, rw, ow) = (PIPES[0].load(SeqCst), PIPES[1].load(SeqCst), PIPES[2].load(SeqCst));
    if fork_with(|| wait_for_death(rw, ow)).is_err() {
        return 1;
    }
    let mut b = [0u8; 1];
    let _ = read(rr, &mut b);
    0
}

fn parent_thread_exits(c: &mut Checker) {
    let (Ok([rr, rw]), Ok([or, ow])) = (pipe2(O_CLOEXEC), pipe2(O_CLOEXEC)) else {
        c.fail("pipes", "pipe2");
        return;
    };
    // The child's thread forks the grandchild and exits; the child lives on.
    let child = fork_with(|| {
        PIPES[0].store(rr, SeqCst);
        PIPES[1].store(rw, SeqCst);
        PIPES[2].store(ow, SeqCst);
        let Some(stacks) = Stacks::new(1) else { return 1 };
        if !stacks.spawn(0, &T_TID, forking_thread, 0) || !join(&T_TID) {
            return 2;
        }
        loop {
            let _ = pause();
        }
    });
    let _ = close(rw);
    let _ = close(ow);
    let Some(child) = c.ok("fork a child whose thread forks a grandchild", child) else { return };
    match read_report(or) {
        Some([sig, code, from, ppid]) => {
            c.ok_eq(
                "the parent thread exits: the grandchild gets SIGUSR1",
                Ok(sig),
                SIGUSR1 as i32,
            );
            c.ok_eq("si_code SI_USER", Ok(code), SI_USER);
            c.ok_eq("si_pid is the parent's process", Ok(from), child as i32);
            c.ok_eq("its new parent is that process", Ok(ppid), child as i32);
        }
        None => c.fail("the grandchild reports", "no report"),
    }
    let _ = close(rr);
    let _ = close(or);
    let _ = kill(child as i32, SIGKILL);
    c.reaped("the child is killed", child, 0, WaitStatus::Signaled(SIGKILL, false));
    let reaped = wait4(-1, None, 0);
    c.check("the grandchild is reaped by the subreaper", reaped.is_ok());
}

fn inheritance(c: &mut Checker, args: &Args) {
    let grandchild_value = fork_with(|| {
        let _ = prctl2(PR_SET_PDEATHSIG, SIGUSR2 as usize);
        let inner = fork_with(get);
        let mut st = 0;
        match inner {
            Ok(pid) if wait4(pid as i32, Some(&mut st), 0).is_ok() => (st >> 8) & 0xff,
            _ => 99,
        }
    });
    if let Some(pid) = c.ok("fork a child that sets it and forks", grandchild_value) {
        c.reaped("a fork child does not inherit it", pid, 0, WaitStatus::Exited(0));
    }
    if let Some(prog) = args.get(0) {
        let execed = fork_with(|| {
            let _ = prctl2(PR_SET_PDEATHSIG, SIGUSR2 as usize);
            100 + execv(prog, &[prog, c"get"]).0
        });
        if let Some(pid) = c.ok("fork a child that sets it and execs", execed) {
            c.reaped("execve keeps it", pid, 0, WaitStatus::Exited(SIGUSR2 as i32));
        }
    }
    for (name, uid, want) in [
        ("setuid to another user clears it", 1000, 0),
        ("setuid to the same user keeps it", 0, SIGUSR2 as i32),
    ] {
        let r = fork_with(|| {
            let _ = prctl2(PR_SET_PDEATHSIG, SIGUSR2 as usize);
            if setuid(uid).is_err() {
                return 99;
            }
            get()
        });
        if let Some(pid) = c.ok(format_args!("fork: {name}"), r) {
            c.reaped(name, pid, 0, WaitStatus::Exited(want));
        }
    }
    let r = fork_with(|| {
        let _ = prctl2(PR_SET_PDEATHSIG, SIGUSR2 as usize);
        if setgid(1000).is_err() {
            return 99;
        }
        get()
    });
    if let Some(pid) = c.ok("fork: setgid to another group", r) {
        c.reaped("setgid to another group clears it", pid, 0, WaitStatus::Exited(0));
    }
}
