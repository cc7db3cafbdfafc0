//! Scheduler system calls (Linux `sched_*`, `getpriority`/`setpriority`,
//! `getcpu`) and their constants, with the raw kernel semantics (no C library
//! translation: `getpriority` returns `20 - nice`).

use crate::abi::Timespec;
use crate::errno::{result, Errno};
use crate::syscall::*;

pub type SysResult = Result<usize, Errno>;

pub mod nr {
    pub const GETPRIORITY: usize = 140;
    pub const SETPRIORITY: usize = 141;
    pub const SCHED_SETPARAM: usize = 142;
    pub const SCHED_GETPARAM: usize = 143;
    pub const SCHED_SETSCHEDULER: usize = 144;
    pub const SCHED_GETSCHEDULER: usize = 145;
    pub const SCHED_GET_PRIORITY_MAX: usize = 146;
    pub const SCHED_GET_PRIORITY_MIN: usize = 147;
    pub const SCHED_RR_GET_INTERVAL: usize = 148;
    pub const SCHED_SETAFFINITY: usize = 203;
    pub const SCHED_GETAFFINITY: usize = 204;
    pub const GETCPU: usize = 309;
}

pub const SCHED_NORMAL: i32 = 0;
pub const SCHED_FIFO: i32 = 1;
pub const SCHED_RR: i32 = 2;
pub const SCHED_BATCH: i32 = 3;
pub const SCHED_IDLE: i32 = 5;
pub const SCHED_DEADLINE: i32 = 6;
pub const SCHED_RESET_ON_FORK: i32 = 0x4000_0000;

pub const PRIO_PROCESS: i32 = 0;
pub const PRIO_PGRP: i32 = 1;
pub const PRIO_USER: i32 = 2;

pub const RLIMIT_NICE: u32 = 13;
pub const RLIMIT_RTPRIO: u32 = 14;

pub const CLOCK_PROCESS_CPUTIME_ID: u32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: u32 = 3;

/// `sched_setscheduler(pid, policy, &{priority})`.
pub fn sched_setscheduler(pid: i32, policy: i32, priority: i32) -> SysResult {
    let param = priority;
    // SAFETY: param is a live struct sched_param (one int), only read.
    result(unsafe {
        syscall3(
            nr::SCHED_SETSCHEDULER,
            pid as usize,
            policy as usize,
            &param as *const i32 as usize,
        )
    })
}

/// `sched_setscheduler` with a raw parameter pointer (for EINVAL/EFAULT checks).
///
/// # Safety
///
/// `param` is passed as is: the kernel reads 4 bytes there if it gets that far.
pub unsafe fn sched_setscheduler_raw(pid: i32, policy: i32, param: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::SCHED_SETSCHEDULER, pid as usize, policy as usize, param) })
}

pub fn sched_getscheduler(pid: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::SCHED_GETSCHEDULER, pid as usize) })
}

pub fn sched_setparam(pid: i32, priority: i32) -> SysResult {
    let param = priority;
    // SAFETY: param is only read.
    result(unsafe { syscall2(nr::SCHED_SETPARAM, pid as usize, &param as *const i32 as usize) })
}

pub fn sched_getparam(pid: i32) -> Result<i32, Errno> {
    let mut param = -1i32;
    // SAFETY: param is a live int the kernel fills.
    result(unsafe { syscall2(nr::SCHED_GETPARAM, pid as usize, &mut param as *mut i32 as usize) })
        .map(|_| param)
}

/// `sched_getparam` with a raw parameter pointer.
///
/// # Safety
///
/// The kernel writes 4 bytes at `param` if it gets that far.
pub unsafe fn sched_getparam_raw(pid: i32, param: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall2(nr::SCHED_GETPARAM, pid as usize, param) })
}

pub fn sched_get_priority_max(policy: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::SCHED_GET_PRIORITY_MAX, policy as usize) })
}

pub fn sched_get_priority_min(policy: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::SCHED_GET_PRIORITY_MIN, policy as usize) })
}

pub fn sched_rr_get_interval(pid: i32) -> Result<Timespec, Errno> {
    let mut t = Timespec::default();
    // SAFETY: t is a live timespec the kernel fills.
    result(unsafe {
        syscall2(nr::SCHED_RR_GET_INTERVAL, pid as usize, &mut t as *mut Timespec as usize)
    })
    .map(|_| t)
}

/// `sched_setaffinity(pid, mask.len(), mask)`.
pub fn sched_setaffinity(pid: i32, mask: &[u8]) -> SysResult {
    // SAFETY: the kernel reads at most mask.len() bytes.
    result(unsafe {
        syscall3(nr::SCHED_SETAFFINITY, pid as usize, mask.len(), mask.as_ptr() as usize)
    })
}

/// `sched_setaffinity` with a raw length and pointer.
///
/// # Safety
///
/// The kernel reads up to `len` bytes at `ptr` (no more than its mask size).
pub unsafe fn sched_setaffinity_raw(pid: i32, len: usize, ptr: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::SCHED_SETAFFINITY, pid as usize, len, ptr) })
}

/// Pin `pid` (0: the caller) to the CPUs of `mask` (bit n = CPU n).
pub fn set_cpu_mask(pid: i32, mask: u64) -> SysResult {
    sched_setaffinity(pid, &mask.to_le_bytes())
}

/// `sched_getaffinity(pid, buf.len(), buf)`: the number of bytes the kernel wrote.
pub fn sched_getaffinity(pid: i32, buf: &mut [u8]) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes.
    result(unsafe {
        syscall3(nr::SCHED_GETAFFINITY, pid as usize, buf.len(), buf.as_mut_ptr() as usize)
    })
}

/// `sched_getaffinity` with a raw length and pointer.
///
/// # Safety
///
/// The kernel writes up to `len` bytes at `ptr`.
pub unsafe fn sched_getaffinity_raw(pid: i32, len: usize, ptr: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::SCHED_GETAFFINITY, pid as usize, len, ptr) })
}

/// The first 64 CPUs of `pid`'s affinity mask.
pub fn get_cpu_mask(pid: i32) -> Result<u64, Errno> {
    let mut buf = [0u8; 128];
    let n = sched_getaffinity(pid, &mut buf)?;
    let mut m = [0u8; 8];
    m.copy_from_slice(&buf[..8.min(n)]);
    Ok(u64::from_le_bytes(m))
}

/// The CPU the caller runs on (`getcpu`).
pub fn getcpu() -> Result<u32, Errno> {
    let mut cpu = u32::MAX;
    let mut node = u32::MAX;
    // SAFETY: cpu and node are live u32s the kernel fills.
    result(unsafe {
        syscall3(nr::GETCPU, &mut cpu as *mut u32 as usize, &mut node as *mut u32 as usize, 0)
    })
    .map(|_| cpu)
}

/// `getcpu` with raw pointers.
///
/// # Safety
///
/// The kernel writes 4 bytes at each non-null pointer.
pub unsafe fn getcpu_raw(cpu: usize, node: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::GETCPU, cpu, node, 0) })
}

/// The raw `getpriority`: `20 - nice` of the highest-priority task named.
pub fn getpriority(which: i32, who: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::GETPRIORITY, which as usize, who as usize) })
}

pub fn setpriority(which: i32, who: i32, nice: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall3(nr::SETPRIORITY, which as usize, who as usize, nice as usize) })
}

/// The caller's nice value.
pub fn nice_of(pid: i32) -> Result<i32, Errno> {
    getpriority(PRIO_PROCESS, pid).map(|p| 20 - p as i32)
}

/// CPU time of the calling thread in ns (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let mut t = Timespec::default();
    match crate::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) {
        Ok(_) => t.as_nanos(),
        Err(_) => 0,
    }
}
