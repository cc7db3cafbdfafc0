//! Raw system calls: through the kernel's `AT_SYSINFO` entry when it passed one,
//! else the `syscall` instruction.
//!
//! The entry takes exactly the registers of `syscall` (rax = number; rdi, rsi,
//! rdx, r10, r8, r9 = arguments; result in rax, `-errno` on error; rcx and r11
//! clobbered) and is reached with `call`, so the return address is pushed below
//! RSP: the 128-byte red zone is stepped over first. The kernel returns straight
//! to the pushed return address and pops it.
//!
//! All functions return the raw kernel result: `-4095..=-1` is `-errno`.

use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The `AT_SYSINFO` entry, 0 when the kernel passed none (use `syscall`).
static SYSINFO: AtomicUsize = AtomicUsize::new(0);

/// Sets the system-call entry (done once by `_start` from the auxiliary vector).
///
/// # Safety
///
/// `entry` must be 0 or the address of a system-call entry with the contract
/// described in the module documentation.
pub unsafe fn set_entry(entry: usize) {
    SYSINFO.store(entry, Ordering::Relaxed);
}

/// The `AT_SYSINFO` entry in use, `None` when system calls use `syscall`.
pub fn entry() -> Option<usize> {
    match SYSINFO.load(Ordering::Relaxed) {
        0 => None,
        e => Some(e),
    }
}

/// Six-argument system call; the others pass zeros for the unused arguments.
///
/// # Safety
///
/// The call may read or write memory through its arguments, change the address
/// space or end the process, exactly as the kernel defines for `nr`.
#[inline(always)]
pub unsafe fn syscall6(
    nr: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> isize {
    let entry = SYSINFO.load(Ordering::Relaxed);
    let ret: isize;
    // SAFETY: the caller vouches for the call's effects. Either path follows the
    // `syscall` register convention; the `call` path first moves RSP below the
    // red zone so the pushed return address overwrites nothing live, and the
    // kernel pops it on return. No `nostack`: the asm pushes.
    unsafe {
        asm!(
            "test {entry}, {entry}",
            "jz 2f",
            "sub rsp, 128",
            "call {entry}",
            "add rsp, 128",
            "jmp 3f",
            "2:",
            "syscall",
            "3:",
            entry = in(reg) entry,
            inlateout("rax") nr as isize => ret,
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            in("r10") a4,
            in("r8") a5,
            in("r9") a6,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

/// # Safety
///
/// See [`syscall6`].
#[inline(always)]
pub unsafe fn syscall0(nr: usize) -> isize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(nr, 0, 0, 0, 0, 0, 0) }
}

/// # Safety
///
/// See [`syscall6`].
#[inline(always)]
pub unsafe fn syscall1(nr: usize, a1: usize) -> isize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(nr, a1, 0, 0, 0, 0, 0) }
}

/// # Safety
///
/// See [`syscall6`].
#[inline(always)]
pub unsafe fn syscall2(nr: usize, a1: usize, a2: usize) -> isize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(nr, a1, a2, 0, 0, 0, 0) }
}

/// # Safety
///
/// See [`syscall6`].
#[inline(always)]
pub unsafe fn syscall3(nr: usize, a1: usize, a2: usize, a3: usize) -> isize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(nr, a1, a2, a3, 0, 0, 0) }
}

/// # Safety
///
/// See [`syscall6`].
#[inline(always)]
pub unsafe fn syscall4(nr: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(nr, a1, a2, a3, a4, 0, 0) }
}

/// # Safety
///
/// See [`syscall6`].
#[inline(always)]
pub unsafe fn syscall5(nr: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize {
    // SAFETY: forwarded contract.
    unsafe { syscall6(nr, a1, a2, a3, a4, a5, 0) }
}

/// A system call made with the `syscall` instruction itself, never the
/// `AT_SYSINFO` entry (for testing how a kernel treats it).
///
/// # Safety
///
/// See [`syscall6`].
#[inline(always)]
pub unsafe fn raw_syscall3(nr: usize, a1: usize, a2: usize, a3: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call's effects; `syscall` writes no
    // memory of ours and clobbers only rcx and r11.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}
