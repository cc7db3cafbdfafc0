//! Forks once and reports what happened (`first fork: ok` or the errno name),
//! reaping the child; then forks again to show that the system still works.
//! Used with the kernel's fault injection (`fail=STAGE:N`): the first fork fails
//! at the chosen stage of copy_process and the second must succeed.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

fn attempt(label: &str) -> bool {
    match fork() {
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

fn main(_args: Args, _env: Env) -> i32 {
    attempt("first");
    if attempt("second") {
        0
    } else {
        1
    }
}
