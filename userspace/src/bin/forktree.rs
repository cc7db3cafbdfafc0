//! A known fork tree for the tracepoint test (tests/trace.rs): pid 1 forks
//! three children; the first forks a grandchild and waits for it, the second
//! execs this program again as a leaf (`forktree leaf`), the third writes a
//! page it shares copy-on-write with its parent; each exits with its own
//! status and the parent reaps all three with `wait4(-1)`. Prints one line per
//! reaped child (`reaped child N status S`, N the fork order) and
//! `forktree: ok` when every status is right; exit status = failed checks.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::*;

userspace::entry!(main);

/// A page the third child writes (copy-on-write since the fork).
static mut PAGE: [u8; 4096] = [1; 4096];

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"leaf") {
        return 22;
    }
    let Some(argv0) = args.get(0) else { return 100 };
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let first = fork_with(|| {
        let grandchild = fork_with(|| 31);
        let Ok(g) = grandchild else { return 90 };
        let mut status = 0;
        match wait4(g as i32, Some(&mut status), 0) {
            Ok(p) if p == g && WaitStatus::from_raw(status) == WaitStatus::Exited(31) => 21,
            _ => 91,
        }
    });
    let second = fork_with(|| exec_leaf(argv0));
    let third = fork_with(|| {
        // SAFETY: this process's own copy of the page; nothing else runs in it.
        unsafe { core::ptr::addr_of_mut!(PAGE).cast::<u8>().write_volatile(7) };
        23
    });
    let pids = [first, second, third];
    let mut seen = [false; 3];
    for _ in 0..3 {
        let mut status = 0;
        let Ok(pid) = wait4(-1, Some(&mut status), 0) else {
            c.fail("wait4(-1)", "no child left to reap");
            break;
        };
        let Some(n) = pids.iter().position(|p| *p == Ok(pid)) else {
            c.fail("wait4(-1)", "reaped a pid that was not forked");
            continue;
        };
        seen[n] = true;
        let want = [21, 22, 23][n];
        let got = match WaitStatus::from_raw(status) {
            WaitStatus::Exited(s) => s,
            _ => -1,
        };
        println!("reaped child {} status {}", n + 1, got);
        if got != want {
            c.fail("child status", "not the status it exits with");
        }
    }
    if seen.iter().all(|s| *s) && c.status() == 0 {
        println!("forktree: ok");
    }
    c.status()
}

/// execve(argv0, [argv0, "leaf"], []): returns only if it failed.
fn exec_leaf(argv0: &CStr) -> i32 {
    let leaf = c"leaf";
    let argv = [argv0.as_ptr() as usize, leaf.as_ptr() as usize, 0];
    let envp = [0usize];
    // SAFETY: NUL-terminated strings and NULL-terminated arrays that live
    // across the call; on success nothing of this image runs afterwards.
    let r = unsafe {
        syscall::syscall3(nr::__NR_execve, argv[0], argv.as_ptr() as usize, envp.as_ptr() as usize)
    };
    let _ = r;
    92
}
