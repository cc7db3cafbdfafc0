//! Fast user-space mutexes (Linux `kernel/futex/`): FUTEX_WAIT/WAKE and their
//! bitset forms, private and shared alike keyed by (address space, address).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use super::{Args, SysResult};
use crate::errno::{EAGAIN, EINVAL, ENOSYS, ETIMEDOUT};
use crate::time::{monotonic_ns, realtime_ns, timespec_to_ns};
use crate::uaccess;
use uapi::futex::{
    FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME, FUTEX_PRIVATE_FLAG, FUTEX_WAIT,
    FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET,
};

struct Waiter {
    key: (usize, u64),
    bitset: u32,
    woken: Arc<AtomicBool>,
    task: Arc<crate::process::Task>,
}

/// Held across the read of the futex word, which may fault and shoot down TLBs
/// (see `arch::tlb`): spinners answer shootdowns while they wait.
static WAITERS: spin::mutex::Mutex<Vec<Waiter>, crate::arch::tlb::TlbRelax> =
    spin::mutex::Mutex::new(Vec::new());

fn key(uaddr: u64) -> (usize, u64) {
    let mm = crate::sched::current().and_then(|t| t.mm()).map_or(0, |m| Arc::as_ptr(&m) as usize);
    (mm, uaddr)
}

/// Wake up to `n` waiters on `uaddr` in the current address space.
pub fn futex_wake(uaddr: u64, n: u32) -> u64 {
    wake(key(uaddr), n, FUTEX_BITSET_MATCH_ANY)
}

fn wake(k: (usize, u64), n: u32, bitset: u32) -> u64 {
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

pub fn futex(a: &Args) -> SysResult {
    let (uaddr, op, val) = (a.u(0), a.u32(1), a.u32(2));
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if uaddr % 4 != 0 {
        return Err(EINVAL);
    }
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT {
        return Err(ENOSYS);
    }
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT { FUTEX_BITSET_MATCH_ANY } else { a.u32(5) };
            if bitset == 0 {
                return Err(EINVAL);
            }
            // FUTEX_WAIT's timeout is relative; FUTEX_WAIT_BITSET's absolute, on
            // CLOCK_MONOTONIC or (with the flag) CLOCK_REALTIME.
            let deadline = if a.u(3) == 0 {
                None
            } else {
                let [s, n] = uaccess::read_u64s::<2>(a.u(3))?;
                let ns = timespec_to_ns(s as i64, n as i64).ok_or(EINVAL)?;
                Some(if cmd == FUTEX_WAIT {
                    monotonic_ns().saturating_add(ns)
                } else if op & FUTEX_CLOCK_REALTIME != 0 {
                    monotonic_ns().saturating_add(ns.saturating_sub(realtime_ns()))
                } else {
                    ns
                })
            };
            let k = key(uaddr);
            let woken = Arc::new(AtomicBool::new(false));
            {
                // Check the value and queue under the lock, so a wake between the
                // two cannot be missed (Linux: the hash bucket lock).
                let mut waiters = WAITERS.lock();
                if uaccess::read_u32(uaddr)? != val {
                    return Err(EAGAIN);
                }
                let task = crate::sched::current().expect("futex wait without a task");
                waiters.push(Waiter { key: k, bitset, woken: woken.clone(), task });
            }
            crate::sched::wait_event(None, deadline, || woken.load(Ordering::Acquire));
            if woken.load(Ordering::Acquire) {
                return Ok(0);
            }
            WAITERS.lock().retain(|w| !Arc::ptr_eq(&w.woken, &woken));
            // A wake may have come between the timeout and the removal.
            if woken.load(Ordering::Acquire) {
                Ok(0)
            } else {
                Err(ETIMEDOUT)
            }
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE { FUTEX_BITSET_MATCH_ANY } else { a.u32(5) };
            if bitset == 0 {
                return Err(EINVAL);
            }
            Ok(wake(key(uaddr), val, bitset))
        }
        _ => Err(ENOSYS),
    }
}
