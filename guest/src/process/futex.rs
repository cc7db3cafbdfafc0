//! Fast user-space mutexes (Linux `kernel/futex/waitwake.c`): waiting on a
//! futex word and waking its waiters. A private futex (FUTEX_PRIVATE_FLAG)
//! is keyed by (address space, address); a shared one in a shared mapping
//! by (object, offset), so that processes mapping the same shared memory or
//! file meet on it wherever they mapped it (Linux `get_futex_key`). The
//! system call is `syscall::futex`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::errno::{Errno, EAGAIN, ETIMEDOUT};
use crate::mm::address_space::FutexKey;
use crate::uaccess;
use uapi::futex::FUTEX_BITSET_MATCH_ANY;

struct Waiter {
    key: FutexKey,
    bitset: u32,
    woken: Arc<AtomicBool>,
    task: Arc<crate::process::Task>,
}

/// Held across the read of the futex word, which may fault and shoot down TLBs
/// (see `arch::tlb`): spinners answer shootdowns while they wait.
static WAITERS: spin::mutex::Mutex<Vec<Waiter>, crate::arch::tlb::TlbRelax> =
    spin::mutex::Mutex::new(Vec::new());

fn key(uaddr: u64, shared: bool) -> FutexKey {
    match crate::process::current().and_then(|t| t.mm()) {
        Some(mm) => mm.futex_key(uaddr, shared),
        None => FutexKey::Private { mm: 0, addr: uaddr },
    }
}

/// Wake up to `n` waiters on the futex word at `uaddr` (a shared futex, as
/// Linux's `mm_release` wakes `clear_child_tid`).
pub fn futex_wake(uaddr: u64, n: u32) -> u64 {
    wake(key(uaddr, true), n, FUTEX_BITSET_MATCH_ANY)
}

/// Wake up to `n` waiters on `uaddr` whose bitset shares a bit with `bitset`
/// (Linux `futex_wake`): how many were woken. `shared`: no FUTEX_PRIVATE_FLAG.
pub fn futex_wake_bitset(uaddr: u64, n: u32, bitset: u32, shared: bool) -> u64 {
    wake(key(uaddr, shared), n, bitset)
}

fn wake(k: FutexKey, n: u32, bitset: u32) -> u64 {
    let mut to_wake = Vec::new();
    {
        let mut waiters = WAITERS.lock();
        waiters.retain(|w| {
            if (to_wake.len() as u64) < n as u64 && w.key == k && w.bitset & bitset != 0 {
                w.woken.store(true, Ordering::Release);
                to_wake.push(w.task.clone());
                false
            } else {
                true
            }
        });
    }
    let woken = to_wake.len() as u64;
    for t in to_wake {
        crate::sched::wake_up(&t);
    }
    woken
}

/// Sleep until a wake-up for `uaddr` matching `bitset` comes, if the word at
/// `uaddr` still holds `val` (EAGAIN otherwise), or until `deadline`
/// (monotonic ns; ETIMEDOUT) passes (Linux `futex_wait`). `shared`: no
/// FUTEX_PRIVATE_FLAG.
pub fn futex_wait(
    uaddr: u64,
    val: u32,
    bitset: u32,
    deadline: Option<u64>,
    shared: bool,
) -> Result<u64, Errno> {
    let k = key(uaddr, shared);
    let woken = Arc::new(AtomicBool::new(false));
    {
        // Check the value and queue under the lock, so a wake between the
        // two cannot be missed (Linux: the hash bucket lock).
        let mut waiters = WAITERS.lock();
        if uaccess::read_u32(uaddr)? != val {
            return Err(EAGAIN);
        }
        let task = crate::process::current().expect("futex wait without a task");
        waiters.push(Waiter { key: k, bitset, woken: woken.clone(), task });
    }
    crate::process::wait_event(None, deadline, || woken.load(Ordering::Acquire));
    if woken.load(Ordering::Acquire) {
        return Ok(0);
    }
    WAITERS.lock().retain(|w| !Arc::ptr_eq(&w.woken, &woken));
    // A wake may have come between the timeout and the removal.
    if woken.load(Ordering::Acquire) {
        Ok(0)
    } else if deadline.is_some_and(|d| crate::time::monotonic_ns() >= d) {
        Err(ETIMEDOUT)
    } else if deadline.is_none() {
        // A signal (or a job-control stop): made again after it unless a
        // handler without SA_RESTART runs (Linux -ERESTARTSYS).
        Err(crate::process::signal::ERESTARTSYS)
    } else {
        // Linux restarts a timed wait through its restart block, with the
        // same deadline, when no handler runs, and fails it with EINTR when
        // one does (-ERESTART_RESTARTBLOCK). Here the wait is made again
        // with its timeout from the start (ERESTARTNOHAND).
        Err(crate::process::signal::ERESTARTNOHAND)
    }
}
