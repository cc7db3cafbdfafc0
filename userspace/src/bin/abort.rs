//! Kills itself with SIGABRT (`kill(getpid(), SIGABRT)`): the expected end is
//! termination by signal 6. Core dumps are turned off first (RLIMIT_CORE soft
//! limit 0) so no core file is left behind. Exits 1 if it survives.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

fn main(_args: Args, _env: Env) -> i32 {
    let mut lim = rlimit::default();
    if getrlimit(RLIMIT_CORE, &mut lim).is_ok() {
        lim.rlim_cur = 0;
        let _ = setrlimit(RLIMIT_CORE, &lim);
    }
    let pid = getpid().expect("getpid");
    let r = kill(pid as i32, SIGABRT);
    println!("FAIL still alive after kill(getpid(), SIGABRT): {:?}", r);
    1
}
