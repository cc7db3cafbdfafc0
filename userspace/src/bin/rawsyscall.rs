//! Executes the `syscall` instruction itself (getpid), not the kernel's
//! AT_SYSINFO entry, then prints `raw syscall returned` and exits 0 (1 if the
//! result differs from getpid through the entry). On a host whose KVM breaks
//! `syscall`, the guest kernel must end this process with a clear error
//! (SIGSYS), never hang or crash.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

fn main(_args: Args, _env: Env) -> i32 {
    // SAFETY: getpid takes no arguments and touches no memory.
    let raw = unsafe { syscall::raw_syscall3(nr::__NR_getpid, 0, 0, 0) };
    println!("raw syscall returned");
    if getpid() == Ok(raw as usize) {
        0
    } else {
        println!("FAIL raw getpid differs from getpid");
        1
    }
}
