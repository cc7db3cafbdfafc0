//! Forks once and reports what happened (`first fork: ok` or the errno name),
//! reaping the child; then forks again to show that the system still works.
//! Used with the kernel's fault injection (`fail=STAGE:N`): the first fork fails
//! at the chosen stage of copy_process and the second must succeed. With the
//! argument `newns` each "fork" is a clone with a new user, mount, UTS, IPC,
//! PID, cgroup and network namespace (run as root), which reaches the
//! `copy_namespaces` stage once per namespace; with `pidfd`
//! it is `clone(CLONE_PIDFD|SIGCHLD)`, which reaches `pidfd_prepare`: the
//! child is reaped through its pidfd, which is then closed, and a failed
//! clone must leave no descriptor behind (the lowest free one is unchanged).
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

extern "C" fn child(_: usize) -> i32 {
    0
}

static PIDFD: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(-1);

/// The lowest free descriptor number now.
fn lowest_free_fd() -> i32 {
    let fd = dup(0).map_or(-1, |f| f as i32);
    let _ = close(fd);
    fd
}

fn attempt_pidfd(label: &str) -> bool {
    let free = lowest_free_fd();
    let word = PIDFD.as_ptr() as usize;
    // SAFETY: no CLONE_VM: the child runs `child` on a copy of our memory.
    let r = unsafe { clone(CLONE_PIDFD | SIGCHLD as u64, 0, word, 0, 0, child, 0) };
    match r {
        Ok(_) => {
            let fd = PIDFD.load(core::sync::atomic::Ordering::SeqCst);
            let mut info = siginfo_t::default();
            let reaped = waitid(P_PIDFD, fd, Some(&mut info), WEXITED).is_ok()
                && info.si_code == CLD_EXITED
                && info.si_status() == 0;
            let closed = close(fd).is_ok() && lowest_free_fd() == free;
            let ok = reaped && closed;
            println!("{label} fork: {}", if ok { "ok" } else { "child not reaped by its pidfd" });
            ok
        }
        Err(e) => {
            let clean = lowest_free_fd() == free;
            println!("{label} fork: {}{}", e, if clean { "" } else { " (a descriptor leaked)" });
            false
        }
    }
}

fn attempt(label: &str, newns: bool) -> bool {
    let r = if newns {
        let flags = CLONE_NEWUSER
            | CLONE_NEWNS
            | CLONE_NEWUTS
            | CLONE_NEWIPC
            | CLONE_NEWPID
            | CLONE_NEWCGROUP
            | CLONE_NEWNET
            | SIGCHLD as u64;
        // SAFETY: no CLONE_VM: the child runs `child` on a copy of our memory.
        unsafe { clone(flags, 0, 0, 0, 0, child, 0) }
    } else {
        fork()
    };
    match r {
        Ok(0) => exit_group(0),
        Ok(pid) => {
            let mut status = 0;
            let reaped = wait4(pid as i32, Some(&mut status), 0);
            let ok = reaped == Ok(pid) && status == 0;
            println!("{label} fork: {}", if ok { "ok" } else { "child not reaped" });
            ok
        }
        Err(e) => {
            println!("{label} fork: {}", e);
            false
        }
    }
}

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"pidfd") {
        attempt_pidfd("first");
        return if attempt_pidfd("second") { 0 } else { 1 };
    }
    let newns = args.bytes(1) == Some(b"newns");
    attempt("first", newns);
    if attempt("second", newns) {
        0
    } else {
        1
    }
}
