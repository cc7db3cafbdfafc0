//! The futex system call (Linux `kernel/futex/syscalls.c`): FUTEX_WAIT/WAKE
//! and their bitset forms, on top of `process::futex`.

use super::{Args, SysResult};
use crate::errno::{EINVAL, ENOSYS};
use crate::process::futex::{futex_wait, futex_wake_bitset};
use crate::time::{monotonic_ns, realtime_ns, timespec_to_ns};
use crate::uaccess;
use uapi::futex::{
    FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME, FUTEX_PRIVATE_FLAG, FUTEX_WAIT,
    FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET,
};

pub fn futex(a: &Args) -> SysResult {
    let (uaddr, op, val) = (a.u(0), a.u32(1), a.u32(2));
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let shared = op & FUTEX_PRIVATE_FLAG == 0;
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
            futex_wait(uaddr, val, bitset, deadline, shared)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE { FUTEX_BITSET_MATCH_ANY } else { a.u32(5) };
            if bitset == 0 {
                return Err(EINVAL);
            }
            Ok(futex_wake_bitset(uaddr, val, bitset, shared))
        }
        _ => Err(ENOSYS),
    }
}
