//! Scheduler system calls (Linux `sched_*`, `getpriority`/`setpriority`,
//! `getcpu`; their constants are [`uapi::sched`]'s), with the raw kernel
//! semantics (no C library translation: `getpriority` returns `20 - nice`).

use crate::abi::{timespec, CLOCK_THREAD_CPUTIME_ID, PRIO_PROCESS};
use crate::errno::{result, Errno};
use crate::nr;
use crate::syscall::*;

pub type SysResult = Result<usize, Errno>;

/// `sched_setscheduler(pid, policy, &{priority})`.
pub fn sched_setscheduler(pid: i32, policy: u32, priority: i32) -> SysResult {
    let param = priority;
    // SAFETY: param is a live struct sched_param (one int), only read.
    result(unsafe {
        syscall3(
            nr::__NR_sched_setscheduler,
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
pub unsafe fn sched_setscheduler_raw(pid: i32, policy: u32, param: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::__NR_sched_setscheduler, pid as usize, policy as usize, param) })
}

pub fn sched_getscheduler(pid: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_sched_getscheduler, pid as usize) })
}

pub fn sched_setparam(pid: i32, priority: i32) -> SysResult {
    let param = priority;
    // SAFETY: param is only read.
    result(unsafe {
        syscall2(nr::__NR_sched_setparam, pid as usize, &param as *const i32 as usize)
    })
}

pub fn sched_getparam(pid: i32) -> Result<i32, Errno> {
    let mut param = -1i32;
    // SAFETY: param is a live int the kernel fills.
    result(unsafe {
        syscall2(nr::__NR_sched_getparam, pid as usize, &mut param as *mut i32 as usize)
    })
    .map(|_| param)
}

/// `sched_getparam` with a raw parameter pointer.
///
/// # Safety
///
/// The kernel writes 4 bytes at `param` if it gets that far.
pub unsafe fn sched_getparam_raw(pid: i32, param: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall2(nr::__NR_sched_getparam, pid as usize, param) })
}

pub fn sched_get_priority_max(policy: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_sched_get_priority_max, policy as usize) })
}

pub fn sched_get_priority_min(policy: u32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall1(nr::__NR_sched_get_priority_min, policy as usize) })
}

pub fn sched_rr_get_interval(pid: i32) -> Result<timespec, Errno> {
    let mut t = timespec::default();
    // SAFETY: t is a live timespec the kernel fills.
    result(unsafe {
        syscall2(nr::__NR_sched_rr_get_interval, pid as usize, &mut t as *mut timespec as usize)
    })
    .map(|_| t)
}

/// `sched_setaffinity(pid, mask.len(), mask)`.
pub fn sched_setaffinity(pid: i32, mask: &[u8]) -> SysResult {
    // SAFETY: the kernel reads at most mask.len() bytes.
    result(unsafe {
        syscall3(nr::__NR_sched_setaffinity, pid as usize, mask.len(), mask.as_ptr() as usize)
    })
}

/// `sched_setaffinity` with a raw length and pointer.
///
/// # Safety
///
/// The kernel reads up to `len` bytes at `ptr` (no more than its mask size).
pub unsafe fn sched_setaffinity_raw(pid: i32, len: usize, ptr: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::__NR_sched_setaffinity, pid as usize, len, ptr) })
}

/// Pin `pid` (0: the caller) to the CPUs of `mask` (bit n = CPU n).
pub fn set_cpu_mask(pid: i32, mask: u64) -> SysResult {
    sched_setaffinity(pid, &mask.to_le_bytes())
}

/// `sched_getaffinity(pid, buf.len(), buf)`: the number of bytes the kernel wrote.
pub fn sched_getaffinity(pid: i32, buf: &mut [u8]) -> SysResult {
    // SAFETY: the kernel writes at most buf.len() bytes.
    result(unsafe {
        syscall3(nr::__NR_sched_getaffinity, pid as usize, buf.len(), buf.as_mut_ptr() as usize)
    })
}

/// `sched_getaffinity` with a raw length and pointer.
///
/// # Safety
///
/// The kernel writes up to `len` bytes at `ptr`.
pub unsafe fn sched_getaffinity_raw(pid: i32, len: usize, ptr: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    result(unsafe { syscall3(nr::__NR_sched_getaffinity, pid as usize, len, ptr) })
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
        syscall3(nr::__NR_getcpu, &mut cpu as *mut u32 as usize, &mut node as *mut u32 as usize, 0)
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
    result(unsafe { syscall3(nr::__NR_getcpu, cpu, node, 0) })
}

/// The raw `getpriority`: `20 - nice` of the highest-priority task named.
pub fn getpriority(which: u32, who: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall2(nr::__NR_getpriority, which as usize, who as usize) })
}

pub fn setpriority(which: u32, who: i32, nice: i32) -> SysResult {
    // SAFETY: no memory is passed.
    result(unsafe { syscall3(nr::__NR_setpriority, which as usize, who as usize, nice as usize) })
}

/// The caller's nice value.
pub fn nice_of(pid: i32) -> Result<i32, Errno> {
    getpriority(PRIO_PROCESS, pid).map(|p| 20 - p as i32)
}

/// CPU time of the calling thread in ns (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let mut t = timespec::default();
    match crate::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) {
        Ok(_) => t.as_nanos(),
        Err(_) => 0,
    }
}
