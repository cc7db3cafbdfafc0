//! Running out of memory with the OOM killer (issue 12, item 3), in the guest
//! (`--memory 64`) only: on a host this would only exercise the host's OOM.
//!
//! `oomhog MODE`:
//! - `child`: a child writes 64 MiB (all of RAM); the OOM killer kills it (SIGKILL) and
//!   pid 1 then writes 8 MiB of its own without trouble;
//! - `bystander`: a child writes 40 MiB and waits; then pid 1 writes 24 MiB:
//!   the fault that finds no memory is pid 1's, the victim is the child (the
//!   largest, and never init while others exist), and pid 1's write completes;
//! - `thread`: in a child, a second thread writes 64 MiB while the first
//!   sleeps: the whole thread group is killed;
//! - `self`: pid 1 writes 64 MiB alone: it is the only process, so it is the
//!   victim, and the VM ends with 128 + SIGKILL.
//!
//! Prints `ok`/`FAIL` lines; exits with the number of failed checks.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::*;

userspace::entry!(main);

const MIB: usize = 1 << 20;

/// Maps `len` bytes of anonymous memory and writes one byte per page.
fn touch(len: usize) -> Result<(), Errno> {
    // SAFETY: a fresh private anonymous mapping, used only here through raw
    // writes within its length.
    let base = unsafe { mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }?;
    for off in (0..len).step_by(4096) {
        // SAFETY: inside the mapping just made.
        unsafe { core::ptr::write_volatile((base + off) as *mut u8, 1) };
    }
    Ok(())
}

fn killed(st: Option<WaitStatus>) -> bool {
    matches!(st, Some(WaitStatus::Signaled(s, _)) if s == SIGKILL)
}

fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    match args.bytes(1) {
        Some(b"child") => {
            let pid = fork_with(|| touch(64 * MIB).map_or(2, |_| 1));
            if let Some(pid) = c.ok("fork the hog", pid) {
                c.check("the hog is killed by SIGKILL", killed(reap(pid)));
            }
            c.ok("pid 1 writes 8 MiB after the kill", touch(8 * MIB));
        }
        Some(b"bystander") => {
            let [r, w] = pipe();
            let pid = fork_with(|| {
                if touch(40 * MIB).is_err() {
                    return 2;
                }
                put_byte(w, 1);
                loop {
                    let _ = nanosleep(&timespec { tv_sec: 1000, tv_nsec: 0 }, None);
                }
            });
            if let Some(pid) = c.ok("fork the hog", pid) {
                c.check("the hog holds 40 MiB", get_byte(r) == Some(1));
                c.ok("pid 1 writes 24 MiB (the fault that finds no memory)", touch(24 * MIB));
                c.check("the hog, not pid 1, is killed", killed(reap(pid)));
            }
        }
        Some(b"thread") => {
            let pid = fork_with(|| {
                static TID: AtomicU32 = AtomicU32::new(0);
                static mut STACK: [u8; 65536] = [0; 65536];
                extern "C" fn hog(_: usize) -> i32 {
                    exit_group(touch(64 * MIB).map_or(2, |_| 1))
                }
                let flags = CLONE_VM
                    | CLONE_FS
                    | CLONE_FILES
                    | CLONE_SIGHAND
                    | CLONE_THREAD
                    | CLONE_SYSVSEM
                    | CLONE_CHILD_CLEARTID;
                let top = core::ptr::addr_of_mut!(STACK) as usize + 65536;
                let word = TID.as_ptr() as usize;
                TID.store(1, SeqCst);
                // SAFETY: the thread runs on its own static stack and touches
                // only its own mapping; TID is static.
                if unsafe { clone(flags, top, 0, word, 0, hog, 0) }.is_err() {
                    return 3;
                }
                // The first thread sleeps; the group dies with the hog.
                loop {
                    let _ = nanosleep(&timespec { tv_sec: 1000, tv_nsec: 0 }, None);
                }
            });
            if let Some(pid) = c.ok("fork the process with the hog thread", pid) {
                c.check("the whole thread group is killed by SIGKILL", killed(reap(pid)));
            }
        }
        Some(b"self") => {
            let _ = touch(64 * MIB);
            c.fail("pid 1 alone wrote 64 MiB", "still alive");
        }
        _ => c.fail("usage", "oomhog child|bystander|thread|self"),
    }
    c.status()
}
