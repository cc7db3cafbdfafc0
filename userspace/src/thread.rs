//! Threads for test programs (what pthread_create does, without a libc):
//! `clone` with the flags of a POSIX thread on a stack of its own, a tid word
//! the kernel sets and clears (CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID), and
//! futex waits on shared words.

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use crate::abi::*;
use crate::calls::{
    clone, futex_wait, futex_wake, mmap, monotonic_ns, set_tid_address, ChildFn, SysResult,
};

/// The flags of a POSIX thread (pthread_create), without the tid flags.
pub const THREAD_FLAGS: u64 =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;

/// Bytes of each thread stack in [`Stacks`].
pub const THREAD_STACK: usize = 64 * 1024;

/// `n` thread stacks of [`THREAD_STACK`] bytes in one private mapping.
#[derive(Clone, Copy)]
pub struct Stacks(usize);

impl Stacks {
    pub fn new(n: usize) -> Option<Stacks> {
        let prot = PROT_READ | PROT_WRITE;
        // SAFETY: a fresh private anonymous mapping, used only as stacks.
        let a = unsafe { mmap(0, n * THREAD_STACK, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) };
        a.ok().map(Stacks)
    }

    /// The top of stack `i`.
    pub fn top(self, i: usize) -> usize {
        self.0 + (i + 1) * THREAD_STACK
    }
}

/// Starts a thread of this process running `f(arg)` on the stack whose top is
/// `top`; `tid` becomes its tid, and 0 when it has exited (CLONE_CHILD_CLEARTID).
///
/// # Safety
///
/// The stack must be used by nothing else while the thread runs, and `tid`
/// and whatever `arg` points to must outlive the thread.
pub unsafe fn spawn_thread(top: usize, tid: &AtomicU32, f: ChildFn, arg: usize) -> SysResult {
    let flags = THREAD_FLAGS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    let word = tid.as_ptr() as usize;
    // SAFETY: forwarded to the caller.
    unsafe { clone(flags, top, word, word, 0, f, arg) }
}

impl Stacks {
    /// Starts a thread running `f(arg)` on stack `i` ([`spawn_thread`]);
    /// whether clone succeeded. Each stack must serve one live thread at a
    /// time: the programs give thread `i` stack `i`.
    pub fn spawn(self, i: usize, tid: &'static AtomicU32, f: ChildFn, arg: usize) -> bool {
        // SAFETY: stack i is this thread's alone (the callers' convention
        // above); tid is static and arg a plain number.
        unsafe { spawn_thread(self.top(i), tid, f, arg) }.is_ok()
    }
}

/// Makes `word` the calling thread's clear-tid word (set_tid_address) and
/// stores its tid there: `join(word)` then waits for this thread, the main
/// thread included, to exit. Whether set_tid_address succeeded.
pub fn leader_word(word: &'static AtomicU32) -> bool {
    match set_tid_address(word) {
        Ok(me) => {
            word.store(me as u32, SeqCst);
            true
        }
        Err(_) => false,
    }
}

/// Waits (futex) until `pred(word)`, at most `ms` milliseconds; whether it held.
pub fn wait_until_ms(word: &AtomicU32, ms: u64, pred: impl Fn(u32) -> bool) -> bool {
    let deadline = monotonic_ns() + ms * 1_000_000;
    loop {
        let v = word.load(SeqCst);
        if pred(v) {
            return true;
        }
        let now = monotonic_ns();
        if now > deadline {
            return false;
        }
        let t = timespec::from_nanos((deadline - now).min(1_000_000_000));
        let _ = futex_wait(word, 0, v, Some(&t));
    }
}

/// [`wait_until_ms`] with 10 s.
pub fn wait_until(word: &AtomicU32, pred: impl Fn(u32) -> bool) -> bool {
    wait_until_ms(word, 10_000, pred)
}

/// Stores `v` in `word` and wakes every futex waiter on it.
pub fn set_wake(word: &AtomicU32, v: u32) {
    word.store(v, SeqCst);
    let _ = futex_wake(word, 0, i32::MAX as u32);
}

/// Waits until the kernel cleared a thread's tid word: it has exited.
pub fn join(tid: &AtomicU32) -> bool {
    wait_until(tid, |v| v == 0)
}
