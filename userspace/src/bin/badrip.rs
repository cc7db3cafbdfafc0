//! Returns to user mode at addresses that are not canonical, which the CPU
//! refuses in ring 0 (`iretq` and, on Intel, `sysretq` fault before the switch
//! to ring 3): a signal handler at such an address, an `rt_sigreturn` whose
//! frame holds one, and a system call whose return address is one (the guest's
//! AT_SYSINFO entry; on Linux the same `push; ret`). Linux turns the failed
//! return into SIGSEGV for the process (si_code SI_KERNEL, the bad address in
//! `uc_mcontext.rip`), and the guest kernel must too — never fault itself.
//! Then calls that must fault even where the guest kernel takes `call *%rax`
//! from a patched `syscall` site as a system call (zpoline): through a NULL
//! function pointer, and to address 39 (getpid's number) with `call *%rax`
//! from code that is not such a site.
//! Each case runs in a child whose SIGSEGV handler prints what it got: the
//! signal, and what every x86-64 CPU reports the same way (QEMU's emulation,
//! the reference Linux of the SVM lane, returns to a non-canonical address
//! and faults there instead of faulting in ring 0, so siginfo and the `ret`
//! case's rip differ from silicon's).
//! One line per check, exit status = number of failed checks.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering::SeqCst};

use userspace::*;

userspace::entry!(main);

/// Not canonical: bit 47 clear, bits 63..48 not all equal to it.
const BAD: u64 = 0x8000_0000_0000_1000;
/// Not canonical either: bit 47 set, bits 63..48 clear.
const BAD_HIGH_HALF: u64 = 0x0000_8000_0000_0000;

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    for (name, case, handled, show) in [
        ("a handler at a non-canonical address", handler_at as fn(), true, RIP),
        ("a handler at a non-canonical address, no SIGSEGV handler", handler_at, false, 0),
        ("rt_sigreturn to a non-canonical rip", sigreturn_to, true, RIP),
        ("rt_sigreturn to a non-canonical rip, no SIGSEGV handler", sigreturn_to, false, 0),
        ("a system call returning to a non-canonical address", return_to, true, 0),
        ("a call through a NULL function pointer", call_null, true, RIP | INFO),
        ("call *%rax to 39 (getpid's number), not from a syscall site", call_39, true, RIP | INFO),
    ] {
        SHOW.store(show, SeqCst);
        let pid = fork_with(|| {
            if handled {
                let act = new_sigaction(segv_handler as *const () as usize, SA_SIGINFO, 0);
                // SAFETY: the handler makes system calls and ends the process.
                if unsafe { rt_sigaction(SIGSEGV, Some(&act), None) }.is_err() {
                    return 100;
                }
            }
            case();
            101
        });
        match pid {
            Ok(pid) => {
                let want = if handled {
                    WaitStatus::Exited(0)
                } else {
                    WaitStatus::Signaled(SIGSEGV, false)
                };
                c.reaped(name, pid, 0, want);
            }
            Err(e) => c.fail(name, e),
        }
    }
    c.status()
}

static SEEN_RIP: AtomicU64 = AtomicU64::new(0);
/// What the handler prints besides the signal: the interrupted rip, siginfo.
static SHOW: AtomicU8 = AtomicU8::new(0);
const RIP: u8 = 1;
const INFO: u8 = 2;

extern "C" fn segv_handler(sig: i32, info: *mut siginfo_t, uc: *mut ucontext) {
    // SAFETY: the kernel passes a valid siginfo and ucontext to an SA_SIGINFO handler.
    let (info, uc) = unsafe { (&*info, &*uc) };
    SEEN_RIP.store(uc.uc_mcontext.rip, SeqCst);
    let known = |v: u64| match v {
        BAD | BAD_HIGH_HALF | 0 | 39 => v,
        _ => 1,
    };
    let show = SHOW.load(SeqCst);
    print!("  SIGSEGV {sig}");
    if show & INFO != 0 {
        print!(" si_code {} si_addr {:#x}", info.si_code, known(info.si_addr() as u64));
    }
    if show & RIP != 0 {
        print!(" rip {:#x}", known(uc.uc_mcontext.rip));
    }
    println!(" (1: another address)");
    exit(0);
}

extern "C" fn set_bad_rip(_sig: i32, _info: *mut siginfo_t, uc: *mut ucontext) {
    // SAFETY: the ucontext is ours to change until the handler returns.
    unsafe { (*uc).uc_mcontext.rip = BAD };
}

fn handler_at() {
    let act = new_sigaction(BAD_HIGH_HALF as usize, 0, 0);
    // SAFETY: delivering the signal is the point; the kernel must refuse it.
    let _ = unsafe { rt_sigaction(SIGUSR1, Some(&act), None) };
    let _ = kill(getpid().unwrap_or(0) as i32, SIGUSR1);
}

fn sigreturn_to() {
    let act = new_sigaction(set_bad_rip as *const () as usize, SA_SIGINFO, 0);
    // SAFETY: the handler only changes its ucontext.
    let _ = unsafe { rt_sigaction(SIGUSR1, Some(&act), None) };
    let _ = kill(getpid().unwrap_or(0) as i32, SIGUSR1);
}

fn return_to() {
    let entry = syscall::entry().unwrap_or(0);
    // SAFETY: never returns: the kernel (or, on Linux, `ret`) refuses the
    // return address and the SIGSEGV handler ends the process.
    unsafe {
        core::arch::asm!(
            "sub rsp, 128",
            "push {bad}",
            "test {entry}, {entry}",
            "jz 2f",
            "jmp {entry}",
            "2:",
            "ret",
            bad = in(reg) BAD,
            entry = in(reg) entry,
            in("rax") nr::__NR_getpid,
            options(noreturn),
        );
    }
}

fn call_null() {
    // SAFETY: never returns: the call faults and the handler ends the process.
    unsafe { core::arch::asm!("sub rsp, 128", "xor eax, eax", "call rax", options(noreturn)) }
}

fn call_39() {
    // SAFETY: as `call_null`; the encoding is `ff d0`, as a patched site's.
    unsafe { core::arch::asm!("sub rsp, 128", "mov eax, 39", "call rax", options(noreturn)) }
}
