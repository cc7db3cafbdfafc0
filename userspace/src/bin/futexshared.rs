//! Futexes shared between processes (Linux `get_futex_key`): without
//! FUTEX_PRIVATE_FLAG a futex word in shared memory is keyed by the object
//! and the offset in it, so a FUTEX_WAKE from another process finds the
//! waiter wherever that process mapped the memory:
//! - MAP_SHARED|MAP_ANONYMOUS memory inherited across fork (same address,
//!   two address spaces);
//! - a MAP_SHARED mapping of a /tmp file, which the child maps again itself
//!   at another address and another file offset.
//!
//! And what must not meet: a FUTEX_PRIVATE_FLAG wake from the other process,
//! and a shared wake on MAP_PRIVATE memory of the other process, wake nobody.
//! Each meeting is done `ROUNDS` times: the parent waits (no timeout that a
//! pass depends on) while the child wakes until it has woken one waiter. One
//! line per check, exit status = number of failed checks.
#![no_std]
#![no_main]

use core::ffi::CStr;
use core::sync::atomic::AtomicU32;

use userspace::*;

userspace::entry!(main);

const P: usize = 4096;
const ROUNDS: u32 = 20;
/// How long a child keeps trying to wake the parent before it gives up
/// (a failure: with the right key the first wakes after the parent sleeps
/// find it); and the parent's wait, longer.
const GIVE_UP_NS: u64 = 10_000_000_000;

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let rw = PROT_READ | PROT_WRITE;
    // SAFETY: a new mapping where the kernel chooses: it aliases nothing.
    match unsafe { mmap(0, P, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => {
            let word = a + 64;
            meet(&mut c, "MAP_SHARED|MAP_ANONYMOUS across fork", word, || word);
            isolated(&mut c, "a FUTEX_PRIVATE_FLAG wake from the other process", word, || {
                futex_wake(atomic(word), FUTEX_PRIVATE_FLAG, 1)
            });
        }
        Err(e) => c.fail("mmap MAP_SHARED|MAP_ANONYMOUS", e),
    }
    file_mapping(&mut c);
    // SAFETY: as above.
    match unsafe { mmap(0, P, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => {
            isolated(&mut c, "a shared wake on the other process's MAP_PRIVATE copy", a, || {
                futex_wake(atomic(a), 0, 1)
            })
        }
        Err(e) => c.fail("mmap MAP_PRIVATE|MAP_ANONYMOUS", e),
    }
    c.status()
}

fn atomic(addr: usize) -> &'static AtomicU32 {
    // SAFETY: callers pass an aligned word of a mapping that stays mapped
    // while the program runs; it is only used atomically.
    unsafe { &*(addr as *const AtomicU32) }
}

/// `ROUNDS` times: a child wakes (without FUTEX_PRIVATE_FLAG) the word its
/// `child_word()` gives until it has woken one waiter, while the parent
/// waits on `word` (value 0).
fn meet(c: &mut Checker, name: &str, word: usize, child_word: impl Fn() -> usize) {
    let mut right = 0;
    let mut last = None;
    for _ in 0..ROUNDS {
        let child = fork_with(|| {
            let w = child_word();
            if w == 0 {
                return 2;
            }
            let start = monotonic_ns();
            loop {
                match futex_wake(atomic(w), 0, 1) {
                    Ok(1) => return 0,
                    Ok(_) if monotonic_ns() - start < GIVE_UP_NS => {
                        let _ = sched_yield();
                    }
                    _ => return 1,
                }
            }
        });
        let Ok(pid) = child else {
            c.fail(name, "fork failed");
            return;
        };
        let timeout = timespec::from_nanos(2 * GIVE_UP_NS);
        let woken = futex_wait(atomic(word), 0, 0, Some(&timeout));
        let mut status = 0;
        let _ = wait4(pid as i32, Some(&mut status), 0);
        let ok = woken == Ok(0) && WaitStatus::from_raw(status) == WaitStatus::Exited(0);
        right += u32::from(ok);
        if !ok {
            // One failed meeting is enough (each costs the child's patience).
            last = Some((woken, WaitStatus::from_raw(status)));
            break;
        }
    }
    match last {
        None => {
            c.check(
                format_args!(
                    "{name}: the other process's wake woke the waiter ({ROUNDS} of {ROUNDS})"
                ),
                true,
            );
        }
        Some((w, s)) => {
            c.fail(name, format_args!("{right} of {ROUNDS}; last: wait {w:?}, child {s}"))
        }
    }
}

/// A child's `wake` (another process, same address) wakes nobody: 0.
fn isolated(c: &mut Checker, name: &str, word: usize, wake: impl Fn() -> Result<usize, Errno>) {
    let child = fork_with(|| {
        // The parent may or may not be waiting: either way nobody is woken.
        let _ = sched_yield();
        match wake() {
            Ok(0) => 0,
            Ok(_) => 1,
            Err(_) => 2,
        }
    });
    let Ok(pid) = child else { return c.fail(name, "fork failed") };
    // The parent waits briefly on its own word (nobody may wake it: it ends
    // with ETIMEDOUT); the outcome checked is the child's count.
    let timeout = timespec::from_nanos(20_000_000);
    let _ = futex_wait(atomic(word), 0, 0, Some(&timeout));
    c.reaped(name, pid, 0, WaitStatus::Exited(0));
}

fn file_mapping(c: &mut Checker) {
    // Per process, so that runs on the host at the same time keep apart.
    let mut buf = [0u8; 48];
    let path = file_name(&mut buf, getpid().unwrap_or(0));
    let _ = unlinkat(AT_FDCWD, path, 0);
    let Some(fd) = c.ok("create a /tmp file", openat(AT_FDCWD, path, O_CREAT | O_RDWR, 0o600))
    else {
        return;
    };
    let fd = fd as i32;
    c.ok_eq("make it 4 pages", ftruncate(fd, 4 * P as i64), 0);
    let rw = PROT_READ | PROT_WRITE;
    // SAFETY: a new mapping where the kernel chooses.
    let Some(parent) = c.ok("map it MAP_SHARED", unsafe { mmap(0, 4 * P, rw, MAP_SHARED, fd, 0) })
    else {
        return;
    };
    // The word at file offset P + 8: the parent's mapping has it at P + 8,
    // the child's (of one page from file offset P) at 8.
    let word = parent + P + 8;
    meet(c, "a MAP_SHARED /tmp file mapped again by the child elsewhere", word, || {
        // SAFETY: a new mapping where the kernel chooses.
        match unsafe { mmap(0, P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, P as i64) } {
            Ok(a) if a != parent + P => a + 8,
            _ => 0,
        }
    });
    isolated(c, "a FUTEX_PRIVATE_FLAG wake on the file from the other process", word, || {
        futex_wake(atomic(word), FUTEX_PRIVATE_FLAG, 1)
    });
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, path, 0);
}

/// "/tmp/futexshared-PID" in `buf`.
fn file_name(buf: &mut [u8; 48], pid: usize) -> &CStr {
    let prefix = b"/tmp/futexshared-";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 21];
    let n = decimal_cstr(pid as u64, &mut digits).to_bytes();
    buf[prefix.len()..prefix.len() + n.len()].copy_from_slice(n);
    buf[prefix.len() + n.len()] = 0;
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/tmp/futexshared")
}
