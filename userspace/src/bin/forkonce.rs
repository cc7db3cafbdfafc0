//! Forks once and reports what happened (`first fork: ok` or the errno name),
//! reaping the child; then forks again to show that the system still works.
//! Used with the kernel's fault injection (`fail=STAGE:N`): the first fork fails
//! at the chosen stage of copy_process and the second must succeed. With the
//! argument `newns` each "fork" is `clone(CLONE_NEWPID|CLONE_NEWUTS|SIGCHLD)`
//! (run as root), which reaches the `copy_namespaces` stage too.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

extern "C" fn child(_: usize) -> i32 {
    0
}

fn attempt(label: &str, newns: bool) -> bool {
    let r = if newns {
        let flags = CLONE_NEWPID | CLONE_NEWUTS | SIGCHLD as u64;
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
    let newns = args.bytes(1) == Some(b"newns");
    attempt("first", newns);
    if attempt("second", newns) {
        0
    } else {
        1
    }
}
