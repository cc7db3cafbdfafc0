//! Signals as Linux delivers them (kernel/signal.c, arch/x86/kernel/signal.c):
//! handlers run before kill(self) returns, with siginfo (si_signo, si_code,
//! si_pid); blocking, pending and the unblocked delivery; SIG_IGN and default
//! actions; what rt_sigaction refuses; sigaltstack and SA_ONSTACK;
//! SA_RESETHAND, SA_NODEFER, sa_mask; rt_sigreturn restoring every register,
//! the flags and the mask from the frame (and a handler changing them in the
//! ucontext); SIGSEGV's siginfo and ucontext; a return to a non-canonical
//! address (SIGSEGV, never a kernel crash); EINTR and SA_RESTART; SIGCHLD;
//! what fork inherits; kill/tgkill/tkill errors; process groups and sessions.
//! One line per check, exit status = number of failed checks.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};

use userspace::*;

userspace::entry!(main);

const MS: u64 = 1_000_000;
const ALT_SIZE: usize = 64 * 1024;

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    // A known start whatever the parent left: nothing blocked, default actions.
    let _ = rt_sigprocmask(SIG_SETMASK, Some(&0), None);
    for sig in [SIGUSR1, SIGUSR2, SIGTERM, SIGSEGV, SIGCHLD, SIGURG, SIGWINCH] {
        let _ = signal_disposition(sig, SIG_DFL);
    }
    basic(&mut c);
    siginfo(&mut c);
    nesting(&mut c);
    blocking(&mut c);
    ignoring(&mut c);
    actions(&mut c);
    default_actions(&mut c);
    altstack(&mut c);
    registers(&mut c);
    segv_ucontext(&mut c);
    bad_return_address(&mut c);
    eintr(&mut c);
    sigchld(&mut c);
    fork_inherits(&mut c);
    kill_errors(&mut c);
    groups(&mut c);
    c.err("no child left at the end", wait4(-1, None, __WALL | WNOHANG), ECHILD);
    c.status()
}

// ---- handlers and their records ---------------------------------------------

static COUNT: AtomicU32 = AtomicU32::new(0);
static LAST: AtomicI32 = AtomicI32::new(0);
static MASK_IN_HANDLER: AtomicU64 = AtomicU64::new(0);
static INFO_SIGNO: AtomicI32 = AtomicI32::new(0);
static INFO_CODE: AtomicI32 = AtomicI32::new(0);
static INFO_PID: AtomicI32 = AtomicI32::new(0);
static INFO_UID: AtomicU32 = AtomicU32::new(0);
static INFO_STATUS: AtomicI32 = AtomicI32::new(0);
static LOCAL: AtomicUsize = AtomicUsize::new(0);
static ALT_FLAGS: AtomicI32 = AtomicI32::new(-1);
static ALT_CHANGE: AtomicI32 = AtomicI32::new(0);
/// Events of `nesting`, 4 bits each, first in the low bits.
static EVENTS: AtomicU64 = AtomicU64::new(0);
static NEVENTS: AtomicU32 = AtomicU32::new(0);

type Handler = extern "C" fn(i32);
type InfoHandler = extern "C" fn(i32, *mut siginfo_t, *mut ucontext);

fn h(f: Handler) -> usize {
    f as usize
}

fn hi(f: InfoHandler) -> usize {
    f as usize
}

/// Installs `handler` for `sig` with the library's restorer.
fn install(sig: u32, handler: usize, flags: u64, mask: u64) -> SysResult {
    let act = new_sigaction(handler, flags, mask);
    // SAFETY: the handlers of this program only touch atomics and make system
    // calls (or, in assembly, only registers and their own statics).
    unsafe { rt_sigaction(sig, Some(&act), None) }
}

extern "C" fn count_handler(sig: i32) {
    MASK_IN_HANDLER.store(sigmask_get().unwrap_or(0), SeqCst);
    LAST.store(sig, SeqCst);
    let _ = COUNT.fetch_add(1, SeqCst);
}

extern "C" fn info_handler(sig: i32, info: *mut siginfo_t, _uc: *mut ucontext) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let info = unsafe { &*info };
    INFO_SIGNO.store(info.si_signo, SeqCst);
    INFO_CODE.store(info.si_code, SeqCst);
    INFO_PID.store(info.si_pid(), SeqCst);
    INFO_UID.store(info.si_uid(), SeqCst);
    INFO_STATUS.store(info.si_status(), SeqCst);
    LAST.store(sig, SeqCst);
    let _ = COUNT.fetch_add(1, SeqCst);
}

fn event(e: u64) {
    let n = NEVENTS.fetch_add(1, SeqCst);
    let _ = EVENTS.fetch_or(e << (4 * n), SeqCst);
}

fn events() -> u64 {
    let e = EVENTS.swap(0, SeqCst);
    NEVENTS.store(0, SeqCst);
    e
}

/// SIGUSR1: event 1, raise SIGUSR2, event 2.
extern "C" fn usr1_raises_usr2(_: i32) {
    event(1);
    let _ = kill(getpid().unwrap_or(0) as i32, SIGUSR2);
    event(2);
}

/// SIGUSR2: event 3.
extern "C" fn usr2_event(_: i32) {
    event(3);
}

/// Records the address of a local (which stack it runs on), what sigaltstack
/// says inside the handler and what changing it inside the handler gives.
extern "C" fn altstack_handler(_: i32) {
    let local = 0u8;
    LOCAL.store(core::hint::black_box(&local) as *const u8 as usize, SeqCst);
    let mut old = stack_t::default();
    // SAFETY: querying changes nothing.
    let _ = unsafe { sigaltstack(None, Some(&mut old)) };
    ALT_FLAGS.store(old.ss_flags, SeqCst);
    let off = stack_t { ss_flags: SS_DISABLE, ..stack_t::default() };
    // SAFETY: refused while on the stack (EPERM); had it worked, the handler
    // would keep running on the memory, which stays mapped.
    let r = unsafe { sigaltstack(Some(&off), None) };
    ALT_CHANGE.store(r.map_or_else(|e| e.0, |_| 0), SeqCst);
}

/// Works with caller-saved registers and makes a system call.
extern "C" fn busy_handler(_: i32) {
    let mut x = core::hint::black_box(0x1234_5678u64);
    for i in 0..16 {
        x = x.rotate_left(7) ^ i;
    }
    let _ = getpid();
    LOCAL.store(x as usize, SeqCst);
    let _ = COUNT.fetch_add(1, SeqCst);
}

fn me() -> i32 {
    getpid().unwrap_or(0) as i32
}

fn tid() -> i32 {
    gettid().unwrap_or(0) as i32
}

fn pending() -> u64 {
    let mut set = 0;
    let _ = rt_sigpending(&mut set);
    set
}

fn sleep_ms(ms: u64) {
    let _ = nanosleep(&timespec::from_nanos(ms * MS), None);
}

// ---- the checks ---------------------------------------------------------------

fn basic(c: &mut Checker) {
    c.ok_eq("rt_sigaction SIGUSR1 handler", install(SIGUSR1, h(count_handler), 0, 0), 0);
    COUNT.store(0, SeqCst);
    c.ok_eq("kill(self, SIGUSR1)", kill(me(), SIGUSR1), 0);
    c.check("the handler ran before kill returned", COUNT.load(SeqCst) == 1);
    c.check("the handler gets the signal number", LAST.load(SeqCst) == SIGUSR1 as i32);
    let m = MASK_IN_HANDLER.load(SeqCst);
    c.check("the handler runs with its signal blocked", m == sigmask(SIGUSR1));
    c.ok_eq("the mask is restored after the handler", sigmask_get(), 0);
    let want = new_sigaction(h(count_handler), 0, 0);
    c.check(
        "rt_sigaction returns the installed action (handler, SA_RESTORER, restorer, mask)",
        sigaction_get(SIGUSR1) == Ok(want),
    );

    let _ = install(SIGUSR1, h(count_handler), 0, sigmask(SIGUSR2));
    let _ = kill(me(), SIGUSR1);
    let m = MASK_IN_HANDLER.load(SeqCst);
    c.check("sa_mask is blocked while the handler runs", m == sigmask(SIGUSR1) | sigmask(SIGUSR2));
    let _ = install(SIGUSR1, h(count_handler), SA_NODEFER, 0);
    let _ = kill(me(), SIGUSR1);
    c.check(
        "SA_NODEFER: the signal is not blocked in its handler",
        MASK_IN_HANDLER.load(SeqCst) == 0,
    );

    let _ = install(SIGUSR1, h(count_handler), 0, 0);
    COUNT.store(0, SeqCst);
    c.ok_eq("tgkill(pid, own tid, SIGUSR1)", tgkill(me(), tid(), SIGUSR1), 0);
    c.check("tgkill to its own tid runs the handler before returning", COUNT.load(SeqCst) == 1);
    c.ok_eq("tkill(own tid, SIGUSR1)", tkill(tid(), SIGUSR1), 0);
    c.check("tkill to its own tid runs the handler before returning", COUNT.load(SeqCst) == 2);
    c.ok_eq("kill(self, 0) sends nothing", kill(me(), 0), 0);
    c.check("signal 0 runs no handler", COUNT.load(SeqCst) == 2);
}

fn siginfo(c: &mut Checker) {
    c.ok_eq("rt_sigaction SA_SIGINFO", install(SIGUSR1, hi(info_handler), SA_SIGINFO, 0), 0);
    INFO_SIGNO.store(0, SeqCst);
    let _ = kill(me(), SIGUSR1);
    c.check("kill: si_signo SIGUSR1", INFO_SIGNO.load(SeqCst) == SIGUSR1 as i32);
    c.check("kill: si_code SI_USER", INFO_CODE.load(SeqCst) == SI_USER);
    c.check("kill: si_pid is the sender", INFO_PID.load(SeqCst) == me());
    c.check("kill: si_uid is the sender's uid", Ok(INFO_UID.load(SeqCst) as usize) == getuid());
    INFO_SIGNO.store(0, SeqCst);
    let _ = tgkill(me(), tid(), SIGUSR1);
    c.check("tgkill: si_signo SIGUSR1", INFO_SIGNO.load(SeqCst) == SIGUSR1 as i32);
    c.check("tgkill: si_code SI_TKILL", INFO_CODE.load(SeqCst) == SI_TKILL);
    c.check("tgkill: si_pid is the sender", INFO_PID.load(SeqCst) == me());
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
}

fn nesting(c: &mut Checker) {
    let _ = install(SIGUSR2, h(usr2_event), 0, 0);
    let _ = install(SIGUSR1, h(usr1_raises_usr2), 0, sigmask(SIGUSR2));
    let _ = events();
    let _ = kill(me(), SIGUSR1);
    c.check("a signal blocked by sa_mask waits until the handler returns", events() == 0x321);
    let _ = install(SIGUSR1, h(usr1_raises_usr2), 0, 0);
    let _ = kill(me(), SIGUSR1);
    c.check("a signal not in sa_mask nests inside the handler", events() == 0x231);
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
    let _ = signal_disposition(SIGUSR2, SIG_DFL);
}

fn blocking(c: &mut Checker) {
    let _ = install(SIGUSR1, h(count_handler), 0, 0);
    let mut old = u64::MAX;
    let r = rt_sigprocmask(SIG_BLOCK, Some(&sigmask(SIGUSR1)), Some(&mut old));
    c.check("rt_sigprocmask SIG_BLOCK returns the old mask", r == Ok(0) && old == 0);
    COUNT.store(0, SeqCst);
    let _ = kill(me(), SIGUSR1);
    let _ = kill(me(), SIGUSR1);
    c.check("a blocked signal is not delivered", COUNT.load(SeqCst) == 0);
    c.check("a blocked signal is pending (rt_sigpending)", pending() == sigmask(SIGUSR1));
    let r = rt_sigprocmask(SIG_UNBLOCK, Some(&sigmask(SIGUSR1)), None);
    c.ok_eq("rt_sigprocmask SIG_UNBLOCK", r, 0);
    c.check(
        "unblocking delivers it before rt_sigprocmask returns, once (no queueing)",
        COUNT.load(SeqCst) == 1,
    );
    c.check("nothing pending after the delivery", pending() == 0);

    let r = rt_sigprocmask(SIG_SETMASK, Some(&u64::MAX), None);
    let all = sigmask_get();
    c.check(
        "SIGKILL and SIGSTOP cannot be blocked",
        r == Ok(0) && all == Ok(!(sigmask(SIGKILL) | sigmask(SIGSTOP))),
    );
    let _ = rt_sigprocmask(SIG_SETMASK, Some(&0), None);
    c.ok_eq("SIG_SETMASK 0 unblocks everything", sigmask_get(), 0);
    let r = rt_sigprocmask(3, Some(&0), None);
    c.err("rt_sigprocmask bad how EINVAL", r, EINVAL);
    let mut cur = u64::MAX;
    let r = rt_sigprocmask(3, None, Some(&mut cur));
    c.check("rt_sigprocmask bad how without a new set only reads the mask", r == Ok(0) && cur == 0);
    let set = 0u64;
    // SAFETY: the kernel rejects the size before touching memory.
    let r = errno::result(unsafe {
        syscall::syscall4(
            nr::__NR_rt_sigprocmask,
            SIG_BLOCK as usize,
            &set as *const u64 as usize,
            0,
            4,
        )
    });
    c.err("rt_sigprocmask sigsetsize 4 EINVAL", r, EINVAL);
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
}

fn ignoring(c: &mut Checker) {
    let _ = signal_disposition(SIGUSR1, SIG_IGN);
    c.ok_eq("SIG_IGN: kill(self, SIGUSR1) returns 0", kill(me(), SIGUSR1), 0);
    c.check("SIG_IGN: the signal is discarded (not pending, process alive)", pending() == 0);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&sigmask(SIGUSR1)), None);
    let _ = kill(me(), SIGUSR1);
    c.check("a blocked signal is queued even when ignored", pending() == sigmask(SIGUSR1));
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
    c.check("setting SIG_DFL keeps it pending", pending() == sigmask(SIGUSR1));
    let _ = signal_disposition(SIGUSR1, SIG_IGN);
    c.check("setting SIG_IGN discards the pending signal", pending() == 0);
    let _ = rt_sigprocmask(SIG_SETMASK, Some(&0), None);
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
    for (name, sig) in [
        ("SIGCHLD is ignored by default", SIGCHLD),
        ("SIGURG is ignored by default", SIGURG),
        ("SIGWINCH is ignored by default", SIGWINCH),
    ] {
        let r = kill(me(), sig);
        c.check(name, r == Ok(0) && pending() == 0);
    }
}

fn actions(c: &mut Checker) {
    let act = new_sigaction(h(count_handler), 0, 0);
    let ign = new_sigaction(SIG_IGN, 0, 0);
    // SAFETY: these are refused; count_handler is harmless anyway.
    unsafe {
        c.err(
            "rt_sigaction SIGKILL handler EINVAL",
            rt_sigaction(SIGKILL, Some(&act), None),
            EINVAL,
        );
        c.err(
            "rt_sigaction SIGKILL SIG_IGN EINVAL",
            rt_sigaction(SIGKILL, Some(&ign), None),
            EINVAL,
        );
        c.err(
            "rt_sigaction SIGSTOP handler EINVAL",
            rt_sigaction(SIGSTOP, Some(&act), None),
            EINVAL,
        );
        c.err("rt_sigaction signal 0 EINVAL", rt_sigaction(0, None, None), EINVAL);
        c.err("rt_sigaction signal 65 EINVAL", rt_sigaction(65, Some(&act), None), EINVAL);
    }
    let k = sigaction_get(SIGKILL);
    c.check(
        "rt_sigaction reads SIGKILL's action (SIG_DFL)",
        k.map(|a| a.sa_handler) == Ok(SIG_DFL),
    );
    let mut old = sigaction::default();
    // SAFETY: the kernel rejects the size before touching memory.
    let r = errno::result(unsafe {
        syscall::syscall4(
            nr::__NR_rt_sigaction,
            SIGUSR1 as usize,
            0,
            &mut old as *mut sigaction as usize,
            4,
        )
    });
    c.err("rt_sigaction sigsetsize 4 EINVAL", r, EINVAL);

    let _ = install(SIGUSR2, h(count_handler), 0, u64::MAX);
    let m = sigaction_get(SIGUSR2).map(|a| a.sa_mask);
    c.check(
        "rt_sigaction drops SIGKILL and SIGSTOP from sa_mask",
        m == Ok(!(sigmask(SIGKILL) | sigmask(SIGSTOP))),
    );
    let _ = install(SIGUSR2, h(count_handler), SA_UNSUPPORTED, 0);
    let f = sigaction_get(SIGUSR2).map(|a| a.sa_flags);
    c.check("rt_sigaction drops unknown sa_flags bits (SA_UNSUPPORTED)", f == Ok(SA_RESTORER));
    let _ = signal_disposition(SIGUSR2, SIG_DFL);
}

fn default_actions(c: &mut Checker) {
    let Ok([r, w]) = pipe2(O_CLOEXEC) else {
        c.fail("default actions: pipe2", "failed");
        return;
    };
    match fork_with(|| {
        let _ = close(w);
        let mut b = [0u8; 1];
        let _ = read(r, &mut b);
        0
    }) {
        Ok(p) => {
            c.ok_eq("kill a child with SIGTERM", kill(p as i32, SIGTERM), 0);
            c.reaped(
                "the default action of SIGTERM ends the child (WTERMSIG 15)",
                p,
                0,
                WaitStatus::Signaled(SIGTERM, false),
            );
        }
        Err(e) => c.fail("default actions: fork", e),
    }
    let _ = close(r);
    let _ = close(w);

    let _ = install(SIGUSR1, h(count_handler), SA_RESETHAND, 0);
    COUNT.store(0, SeqCst);
    let _ = kill(me(), SIGUSR1);
    c.check("SA_RESETHAND: the handler runs once", COUNT.load(SeqCst) == 1);
    let now = sigaction_get(SIGUSR1).map(|a| a.sa_handler);
    c.check("SA_RESETHAND: the action is SIG_DFL after the delivery", now == Ok(SIG_DFL));
    match fork_with(|| {
        let _ = install(SIGUSR1, h(count_handler), SA_RESETHAND, 0);
        COUNT.store(0, SeqCst);
        let _ = kill(me(), SIGUSR1);
        if COUNT.load(SeqCst) != 1 {
            return 1;
        }
        let _ = kill(me(), SIGUSR1);
        2
    }) {
        Ok(p) => {
            c.reaped(
                "SA_RESETHAND: the second SIGUSR1 ends the process",
                p,
                0,
                WaitStatus::Signaled(SIGUSR1, false),
            );
        }
        Err(e) => c.fail("SA_RESETHAND: fork", e),
    }

    match fork_with(|| {
        let _ = setrlimit(RLIMIT_CORE, &rlimit { rlim_cur: 0, rlim_max: 0 });
        let _ = install(SIGSEGV, hi(segv_handler), SA_SIGINFO, 0);
        let _ = rt_sigprocmask(SIG_BLOCK, Some(&sigmask(SIGSEGV)), None);
        // SAFETY: the write faults; with SIGSEGV blocked the kernel kills us.
        unsafe { core::arch::asm!("mov byte ptr [{}], 1", in(reg) 0x10usize, options(nostack)) };
        3
    }) {
        Ok(p) => {
            c.reaped(
                "a fault while SIGSEGV is blocked ends the process (WTERMSIG 11)",
                p,
                0,
                WaitStatus::Signaled(SIGSEGV, false),
            );
        }
        Err(e) => c.fail("blocked SIGSEGV: fork", e),
    }
}

fn altstack(c: &mut Checker) {
    let mut old = stack_t { ss_sp: 1, ss_flags: 0, _pad: 0, ss_size: 1 };
    // SAFETY: a query changes nothing.
    let r = unsafe { sigaltstack(None, Some(&mut old)) };
    let off = stack_t { ss_sp: 0, ss_flags: SS_DISABLE, _pad: 0, ss_size: 0 };
    c.check("sigaltstack at start: disabled (SS_DISABLE, no stack)", r == Ok(0) && old == off);
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh private anonymous mapping for the alternate stack.
    let base = match unsafe { mmap(0, ALT_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => a,
        Err(e) => {
            c.fail("sigaltstack: mmap", e);
            return;
        }
    };
    let small = stack_t { ss_sp: base, ss_flags: 0, _pad: 0, ss_size: 1024 };
    // SAFETY: refused (too small).
    let r = unsafe { sigaltstack(Some(&small), None) };
    c.err("sigaltstack smaller than MINSIGSTKSZ ENOMEM", r, ENOMEM);
    let bad = stack_t { ss_sp: base, ss_flags: 4, _pad: 0, ss_size: ALT_SIZE };
    // SAFETY: refused (bad flags).
    let r = unsafe { sigaltstack(Some(&bad), None) };
    c.err("sigaltstack unknown flags EINVAL", r, EINVAL);
    let ss = stack_t { ss_sp: base, ss_flags: 0, _pad: 0, ss_size: ALT_SIZE };
    // SAFETY: the mapping stays for the rest of the program and only handlers use it.
    let r = unsafe { sigaltstack(Some(&ss), None) };
    c.ok_eq("sigaltstack sets a 64 KiB stack", r, 0);
    let mut now = stack_t::default();
    // SAFETY: a query.
    let _ = unsafe { sigaltstack(None, Some(&mut now)) };
    c.check("sigaltstack returns the stack set (flags 0)", now == ss);

    let _ = install(SIGUSR1, h(altstack_handler), SA_ONSTACK, 0);
    let _ = kill(me(), SIGUSR1);
    let local = LOCAL.load(SeqCst);
    c.check(
        "SA_ONSTACK: the handler runs on the alternate stack",
        (base..base + ALT_SIZE).contains(&local),
    );
    c.check("sigaltstack in the handler reports SS_ONSTACK", ALT_FLAGS.load(SeqCst) == SS_ONSTACK);
    c.check("changing the alternate stack while on it EPERM", ALT_CHANGE.load(SeqCst) == EPERM.0);
    let _ = install(SIGUSR1, h(altstack_handler), 0, 0);
    let _ = kill(me(), SIGUSR1);
    let local = LOCAL.load(SeqCst);
    c.check(
        "without SA_ONSTACK the handler runs on the normal stack",
        !(base..base + ALT_SIZE).contains(&local),
    );
    c.check("sigaltstack outside the alternate stack reports flags 0", ALT_FLAGS.load(SeqCst) == 0);
    let _ = signal_disposition(SIGUSR1, SIG_DFL);

    // SAFETY: disabling: no handler will use the stack any more.
    let r = unsafe { sigaltstack(Some(&off), None) };
    c.ok_eq("sigaltstack SS_DISABLE", r, 0);
    let mut now = stack_t::default();
    // SAFETY: a query.
    let _ = unsafe { sigaltstack(None, Some(&mut now)) };
    c.check("after SS_DISABLE sigaltstack reports SS_DISABLE", now.ss_flags == SS_DISABLE);
    // SAFETY: nothing uses the mapping now.
    let _ = unsafe { munmap(base, ALT_SIZE) };
}

static ALIGN: AtomicU64 = AtomicU64::new(99);
static CLOBBERS: AtomicU32 = AtomicU32::new(0);

/// A handler that returns with every general register, every xmm register
/// and DF changed: only rt_sigreturn can give the interrupted code its values
/// back. It records `(rsp + 8) % 16` at entry (0 for a correctly aligned
/// frame, as after a call).
#[unsafe(naked)]
unsafe extern "C" fn clobber_handler(_sig: i32) {
    core::arch::naked_asm!(
        "lea rax, [rsp + 8]",
        "and eax, 15",
        "mov qword ptr [rip + {align}], rax",
        "lock inc dword ptr [rip + {count}]",
        "mov rax, -1",
        "mov rbx, rax",
        "mov rcx, rax",
        "mov rdx, rax",
        "mov rsi, rax",
        "mov rdi, rax",
        "mov rbp, rax",
        "mov r8, rax",
        "mov r9, rax",
        "mov r10, rax",
        "mov r11, rax",
        "mov r12, rax",
        "mov r13, rax",
        "mov r14, rax",
        "mov r15, rax",
        "pcmpeqd xmm0, xmm0",
        "pcmpeqd xmm1, xmm1",
        "pcmpeqd xmm2, xmm2",
        "pcmpeqd xmm3, xmm3",
        "pcmpeqd xmm4, xmm4",
        "pcmpeqd xmm5, xmm5",
        "pcmpeqd xmm6, xmm6",
        "pcmpeqd xmm7, xmm7",
        "pcmpeqd xmm8, xmm8",
        "pcmpeqd xmm9, xmm9",
        "pcmpeqd xmm10, xmm10",
        "pcmpeqd xmm11, xmm11",
        "pcmpeqd xmm12, xmm12",
        "pcmpeqd xmm13, xmm13",
        "pcmpeqd xmm14, xmm14",
        "pcmpeqd xmm15, xmm15",
        "std",
        "ret",
        align = sym ALIGN,
        count = sym CLOBBERS,
    )
}

/// kill(self, SIGUSR1) with known values in rbx, rbp, rdx, rsi, rdi, r8-r10,
/// r12-r15 and xmm0-15 (DF clear), then compares: returns the kill result and
/// a mask of what differs afterwards (bits 0-9 rbx rbp rdx r8 r9 r10 r12 r13
/// r14 r15, 10 rsi, 11 rdi, 12 DF set, 16-31 xmm low halves, 32-47 high
/// halves). rcx and r11 are the system call's.
fn register_roundtrip() -> (isize, u64) {
    let entry = syscall::entry().unwrap_or(0);
    let ret: isize;
    let mask: u64;
    // SAFETY: rbx and rbp are saved and restored on the stack; every other
    // register the block changes is declared. The xmm registers are not (this
    // target has no SSE, so compiled code never holds values in them). The
    // system call is kill(self, SIGUSR1) through the entry (after stepping
    // over the red zone) or `syscall`.
    unsafe {
        core::arch::asm!(
            "push rbx",
            "push rbp",
            "push rdi",
            "push rsi",
            "mov rbx, 0x1111222233330001",
            "mov rbp, 0x1111222233330002",
            "mov rdx, 0x1111222233330003",
            "mov r8, 0x1111222233330004",
            "mov r9, 0x1111222233330005",
            "mov r10, 0x1111222233330006",
            "mov r12, 0x1111222233330007",
            "mov r13, 0x1111222233330008",
            "mov r14, 0x1111222233330009",
            "mov r15, 0x111122223333000a",
            "mov rcx, 0x5555666677770000",
            "movq xmm0, rcx",
            "pshufd xmm0, xmm0, 0x44",
            "mov rcx, 0x5555666677770001",
            "movq xmm1, rcx",
            "pshufd xmm1, xmm1, 0x44",
            "mov rcx, 0x5555666677770002",
            "movq xmm2, rcx",
            "pshufd xmm2, xmm2, 0x44",
            "mov rcx, 0x5555666677770003",
            "movq xmm3, rcx",
            "pshufd xmm3, xmm3, 0x44",
            "mov rcx, 0x5555666677770004",
            "movq xmm4, rcx",
            "pshufd xmm4, xmm4, 0x44",
            "mov rcx, 0x5555666677770005",
            "movq xmm5, rcx",
            "pshufd xmm5, xmm5, 0x44",
            "mov rcx, 0x5555666677770006",
            "movq xmm6, rcx",
            "pshufd xmm6, xmm6, 0x44",
            "mov rcx, 0x5555666677770007",
            "movq xmm7, rcx",
            "pshufd xmm7, xmm7, 0x44",
            "mov rcx, 0x5555666677770008",
            "movq xmm8, rcx",
            "pshufd xmm8, xmm8, 0x44",
            "mov rcx, 0x5555666677770009",
            "movq xmm9, rcx",
            "pshufd xmm9, xmm9, 0x44",
            "mov rcx, 0x555566667777000a",
            "movq xmm10, rcx",
            "pshufd xmm10, xmm10, 0x44",
            "mov rcx, 0x555566667777000b",
            "movq xmm11, rcx",
            "pshufd xmm11, xmm11, 0x44",
            "mov rcx, 0x555566667777000c",
            "movq xmm12, rcx",
            "pshufd xmm12, xmm12, 0x44",
            "mov rcx, 0x555566667777000d",
            "movq xmm13, rcx",
            "pshufd xmm13, xmm13, 0x44",
            "mov rcx, 0x555566667777000e",
            "movq xmm14, rcx",
            "pshufd xmm14, xmm14, 0x44",
            "mov rcx, 0x555566667777000f",
            "movq xmm15, rcx",
            "pshufd xmm15, xmm15, 0x44",
            "test r11, r11",
            "jz 2f",
            "sub rsp, 128",
            "call r11",
            "add rsp, 128",
            "jmp 3f",
            "2:",
            "syscall",
            "3:",
            "xor ecx, ecx",
            "mov r11, 0x1111222233330001",
            "cmp rbx, r11",
            "je 20f",
            "bts rcx, 0",
            "20:",
            "mov r11, 0x1111222233330002",
            "cmp rbp, r11",
            "je 21f",
            "bts rcx, 1",
            "21:",
            "mov r11, 0x1111222233330003",
            "cmp rdx, r11",
            "je 22f",
            "bts rcx, 2",
            "22:",
            "mov r11, 0x1111222233330004",
            "cmp r8, r11",
            "je 23f",
            "bts rcx, 3",
            "23:",
            "mov r11, 0x1111222233330005",
            "cmp r9, r11",
            "je 24f",
            "bts rcx, 4",
            "24:",
            "mov r11, 0x1111222233330006",
            "cmp r10, r11",
            "je 25f",
            "bts rcx, 5",
            "25:",
            "mov r11, 0x1111222233330007",
            "cmp r12, r11",
            "je 26f",
            "bts rcx, 6",
            "26:",
            "mov r11, 0x1111222233330008",
            "cmp r13, r11",
            "je 27f",
            "bts rcx, 7",
            "27:",
            "mov r11, 0x1111222233330009",
            "cmp r14, r11",
            "je 28f",
            "bts rcx, 8",
            "28:",
            "mov r11, 0x111122223333000a",
            "cmp r15, r11",
            "je 29f",
            "bts rcx, 9",
            "29:",
            "cmp rsi, qword ptr [rsp]",
            "je 30f",
            "bts rcx, 10",
            "30:",
            "cmp rdi, qword ptr [rsp + 8]",
            "je 31f",
            "bts rcx, 11",
            "31:",
            "pushfq",
            "pop r11",
            "bt r11, 10",
            "jnc 32f",
            "bts rcx, 12",
            "cld",
            "32:",
            "mov rdx, 0x5555666677770000",
            "movq r11, xmm0",
            "cmp r11, rdx",
            "je 33f",
            "bts rcx, 16",
            "33:",
            "pshufd xmm0, xmm0, 0xee",
            "movq r11, xmm0",
            "cmp r11, rdx",
            "je 34f",
            "bts rcx, 32",
            "34:",
            "mov rdx, 0x5555666677770001",
            "movq r11, xmm1",
            "cmp r11, rdx",
            "je 35f",
            "bts rcx, 17",
            "35:",
            "pshufd xmm1, xmm1, 0xee",
            "movq r11, xmm1",
            "cmp r11, rdx",
            "je 36f",
            "bts rcx, 33",
            "36:",
            "mov rdx, 0x5555666677770002",
            "movq r11, xmm2",
            "cmp r11, rdx",
            "je 37f",
            "bts rcx, 18",
            "37:",
            "pshufd xmm2, xmm2, 0xee",
            "movq r11, xmm2",
            "cmp r11, rdx",
            "je 38f",
            "bts rcx, 34",
            "38:",
            "mov rdx, 0x5555666677770003",
            "movq r11, xmm3",
            "cmp r11, rdx",
            "je 39f",
            "bts rcx, 19",
            "39:",
            "pshufd xmm3, xmm3, 0xee",
            "movq r11, xmm3",
            "cmp r11, rdx",
            "je 40f",
            "bts rcx, 35",
            "40:",
            "mov rdx, 0x5555666677770004",
            "movq r11, xmm4",
            "cmp r11, rdx",
            "je 41f",
            "bts rcx, 20",
            "41:",
            "pshufd xmm4, xmm4, 0xee",
            "movq r11, xmm4",
            "cmp r11, rdx",
            "je 42f",
            "bts rcx, 36",
            "42:",
            "mov rdx, 0x5555666677770005",
            "movq r11, xmm5",
            "cmp r11, rdx",
            "je 43f",
            "bts rcx, 21",
            "43:",
            "pshufd xmm5, xmm5, 0xee",
            "movq r11, xmm5",
            "cmp r11, rdx",
            "je 44f",
            "bts rcx, 37",
            "44:",
            "mov rdx, 0x5555666677770006",
            "movq r11, xmm6",
            "cmp r11, rdx",
            "je 45f",
            "bts rcx, 22",
            "45:",
            "pshufd xmm6, xmm6, 0xee",
            "movq r11, xmm6",
            "cmp r11, rdx",
            "je 46f",
            "bts rcx, 38",
            "46:",
            "mov rdx, 0x5555666677770007",
            "movq r11, xmm7",
            "cmp r11, rdx",
            "je 47f",
            "bts rcx, 23",
            "47:",
            "pshufd xmm7, xmm7, 0xee",
            "movq r11, xmm7",
            "cmp r11, rdx",
            "je 48f",
            "bts rcx, 39",
            "48:",
            "mov rdx, 0x5555666677770008",
            "movq r11, xmm8",
            "cmp r11, rdx",
            "je 49f",
            "bts rcx, 24",
            "49:",
            "pshufd xmm8, xmm8, 0xee",
            "movq r11, xmm8",
            "cmp r11, rdx",
            "je 50f",
            "bts rcx, 40",
            "50:",
            "mov rdx, 0x5555666677770009",
            "movq r11, xmm9",
            "cmp r11, rdx",
            "je 51f",
            "bts rcx, 25",
            "51:",
            "pshufd xmm9, xmm9, 0xee",
            "movq r11, xmm9",
            "cmp r11, rdx",
            "je 52f",
            "bts rcx, 41",
            "52:",
            "mov rdx, 0x555566667777000a",
            "movq r11, xmm10",
            "cmp r11, rdx",
            "je 53f",
            "bts rcx, 26",
            "53:",
            "pshufd xmm10, xmm10, 0xee",
            "movq r11, xmm10",
            "cmp r11, rdx",
            "je 54f",
            "bts rcx, 42",
            "54:",
            "mov rdx, 0x555566667777000b",
            "movq r11, xmm11",
            "cmp r11, rdx",
            "je 55f",
            "bts rcx, 27",
            "55:",
            "pshufd xmm11, xmm11, 0xee",
            "movq r11, xmm11",
            "cmp r11, rdx",
            "je 56f",
            "bts rcx, 43",
            "56:",
            "mov rdx, 0x555566667777000c",
            "movq r11, xmm12",
            "cmp r11, rdx",
            "je 57f",
            "bts rcx, 28",
            "57:",
            "pshufd xmm12, xmm12, 0xee",
            "movq r11, xmm12",
            "cmp r11, rdx",
            "je 58f",
            "bts rcx, 44",
            "58:",
            "mov rdx, 0x555566667777000d",
            "movq r11, xmm13",
            "cmp r11, rdx",
            "je 59f",
            "bts rcx, 29",
            "59:",
            "pshufd xmm13, xmm13, 0xee",
            "movq r11, xmm13",
            "cmp r11, rdx",
            "je 60f",
            "bts rcx, 45",
            "60:",
            "mov rdx, 0x555566667777000e",
            "movq r11, xmm14",
            "cmp r11, rdx",
            "je 61f",
            "bts rcx, 30",
            "61:",
            "pshufd xmm14, xmm14, 0xee",
            "movq r11, xmm14",
            "cmp r11, rdx",
            "je 62f",
            "bts rcx, 46",
            "62:",
            "mov rdx, 0x555566667777000f",
            "movq r11, xmm15",
            "cmp r11, rdx",
            "je 63f",
            "bts rcx, 31",
            "63:",
            "pshufd xmm15, xmm15, 0xee",
            "movq r11, xmm15",
            "cmp r11, rdx",
            "je 64f",
            "bts rcx, 47",
            "64:",
            "add rsp, 16",
            "pop rbp",
            "pop rbx",
            inlateout("rax") nr::__NR_kill as isize => ret,
            inlateout("rdi") me() as usize => _,
            inlateout("rsi") SIGUSR1 as usize => _,
            inlateout("r11") entry => _,
            lateout("rcx") mask,
            lateout("rdx") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r12") _,
            lateout("r13") _,
            lateout("r14") _,
            lateout("r15") _,
        );
    }
    (ret, mask)
}

fn registers(c: &mut Checker) {
    let _ = install(SIGUSR1, clobber_handler as *const () as usize, 0, 0);
    CLOBBERS.store(0, SeqCst);
    let (ret, mask) = register_roundtrip();
    c.check("kill(self) returns 0 across a handler that clobbers registers", ret == 0);
    c.check("the clobbering handler ran once", CLOBBERS.load(SeqCst) == 1);
    c.check("handlers start with (rsp + 8) 16-byte aligned", ALIGN.load(SeqCst) == 0);
    let gpr = mask & 0xfff;
    if gpr == 0 {
        c.check("rt_sigreturn restores rbx rbp rdx rsi rdi r8-r10 r12-r15", true);
    } else {
        c.fail(
            "rt_sigreturn restores rbx rbp rdx rsi rdi r8-r10 r12-r15",
            format_args!("mask {:#x}", gpr),
        );
    }
    c.check("rt_sigreturn restores DF (clear)", mask & (1 << 12) == 0);
    let xmm = mask >> 16;
    if xmm == 0 {
        c.check("rt_sigreturn restores xmm0-xmm15", true);
    } else {
        c.fail("rt_sigreturn restores xmm0-xmm15", format_args!("mask {:#x}", xmm));
    }

    // A computation across many deliveries.
    let _ = install(SIGUSR1, h(busy_handler), 0, 0);
    COUNT.store(0, SeqCst);
    let run = |signals: bool| {
        let mut acc: u64 = 1;
        for i in 0..200u64 {
            acc =
                core::hint::black_box(acc).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
            if signals && i % 7 == 0 {
                let _ = kill(me(), SIGUSR1);
            }
        }
        acc
    };
    let with = run(true);
    let without = run(false);
    c.check(
        "a loop across 29 handled signals computes the same value",
        with == without && COUNT.load(SeqCst) == 29,
    );
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
}

/// [resume address, faulting instruction address] for `segv_handler`.
static RESUME: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
static SEGV: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
const R12_FROM_HANDLER: u64 = 0x5a5a_0000_1234_5678;

/// Records the fault's siginfo and ucontext, then changes the ucontext:
/// resume after the faulting instruction, r12 = R12_FROM_HANDLER, SIGUSR2
/// added to the mask restored by rt_sigreturn.
extern "C" fn segv_handler(sig: i32, info: *mut siginfo_t, uc: *mut ucontext) {
    // SAFETY: the kernel passes a valid siginfo and ucontext to an SA_SIGINFO
    // handler, and the ucontext is ours to change until we return.
    let (info, uc) = unsafe { (&*info, &mut *uc) };
    let m = &uc.uc_mcontext;
    for (slot, v) in SEGV.iter().zip([
        sig as u64,
        info.si_code as u64,
        info.si_addr() as u64,
        m.rip,
        m.cr2,
        m.trapno,
        m.err,
        uc.uc_sigmask,
    ]) {
        slot.store(v, SeqCst);
    }
    uc.uc_mcontext.rip = RESUME[0].load(SeqCst) as u64;
    uc.uc_mcontext.r12 = R12_FROM_HANDLER;
    uc.uc_sigmask |= sigmask(SIGUSR2);
}

fn segv_ucontext(c: &mut Checker) {
    if install(SIGSEGV, hi(segv_handler), SA_SIGINFO, 0).is_err() {
        c.fail("rt_sigaction SIGSEGV", "failed");
        return;
    }
    let r12: u64;
    // SAFETY: the write to 0x10 faults; the handler resumes at label 2 with
    // r12 set (declared as an output); rcx and rdx are declared clobbered.
    unsafe {
        core::arch::asm!(
            "lea rcx, [rip + 2f]",
            "mov qword ptr [{resume}], rcx",
            "lea rcx, [rip + 3f]",
            "mov qword ptr [{resume} + 8], rcx",
            "xor r12d, r12d",
            "3:",
            "mov byte ptr [{bad}], 1",
            "mov r12, 0x777",
            "2:",
            resume = in(reg) RESUME.as_ptr(),
            bad = in(reg) 0x10usize,
            out("rcx") _,
            out("r12") r12,
            options(nostack),
        );
    }
    let got = |i: usize| SEGV[i].load(SeqCst);
    c.check("SIGSEGV handler: signal 11", got(0) == SIGSEGV as u64);
    c.check("SIGSEGV: si_code SEGV_MAPERR", got(1) == SEGV_MAPERR as u64);
    c.check("SIGSEGV: si_addr is the address written (0x10)", got(2) == 0x10);
    c.check(
        "SIGSEGV: uc_mcontext.rip is the faulting instruction",
        got(3) == RESUME[1].load(SeqCst) as u64,
    );
    c.check("SIGSEGV: uc_mcontext.cr2 is the address", got(4) == 0x10);
    c.check("SIGSEGV: uc_mcontext.trapno 14 (page fault)", got(5) == 14);
    c.check("SIGSEGV: uc_mcontext.err 6 (user write, page not present)", got(6) == 6);
    c.check("SIGSEGV: uc_sigmask is the mask before the signal", got(7) == 0);
    c.check("rt_sigreturn resumes at the rip the handler stored", r12 != 0x777);
    c.check("rt_sigreturn loads the r12 the handler stored", r12 == R12_FROM_HANDLER);
    let mask = sigmask_get();
    c.check(
        "rt_sigreturn loads the mask from uc_sigmask (SIGUSR2 blocked)",
        mask == Ok(sigmask(SIGUSR2)),
    );
    let _ = rt_sigprocmask(SIG_SETMASK, Some(&0), None);
    let _ = signal_disposition(SIGSEGV, SIG_DFL);
}

/// Not a canonical address: the CPU refuses to return to user mode there.
const NONCANONICAL: u64 = 0x8000_0000_0000_0000;

extern "C" fn noncanonical_rip_handler(_sig: i32, _info: *mut siginfo_t, uc: *mut ucontext) {
    // SAFETY: the ucontext of an SA_SIGINFO handler is ours to change.
    unsafe { (*uc).uc_mcontext.rip = NONCANONICAL };
}

/// A return to user mode at a non-canonical rip (one rt_sigreturn restores,
/// or a handler's address) faults in the kernel's return path: Linux makes it
/// the task's own fault (`fixup_bad_iret`), SIGSEGV, which kills it here.
fn bad_return_address(c: &mut Checker) {
    let child = fork_with(|| {
        if install(SIGUSR1, hi(noncanonical_rip_handler), SA_SIGINFO, 0).is_err() {
            return 1;
        }
        let _ = kill(me(), SIGUSR1);
        2
    });
    match child {
        Ok(p) => {
            c.reaped(
                "rt_sigreturn to a non-canonical rip: the process gets SIGSEGV",
                p,
                0,
                WaitStatus::Signaled(SIGSEGV, false),
            );
        }
        Err(e) => c.fail("bad return address: fork", e),
    }
    let child = fork_with(|| {
        if install(SIGUSR1, NONCANONICAL as usize, 0, 0).is_err() {
            return 1;
        }
        let _ = kill(me(), SIGUSR1);
        2
    });
    match child {
        Ok(p) => {
            c.reaped(
                "a handler at a non-canonical address: the process gets SIGSEGV",
                p,
                0,
                WaitStatus::Signaled(SIGSEGV, false),
            );
        }
        Err(e) => c.fail("bad return address: fork", e),
    }
}

fn eintr(c: &mut Checker) {
    let (Ok([dr, dw]), Ok([ar, aw])) = (pipe2(O_CLOEXEC), pipe2(O_CLOEXEC | O_NONBLOCK)) else {
        c.fail("EINTR: pipes", "pipe2 failed");
        return;
    };
    let parent = me();
    // Without SA_RESTART: the child signals until the parent acknowledges.
    let _ = install(SIGUSR1, h(count_handler), 0, 0);
    COUNT.store(0, SeqCst);
    let child = fork_with(|| {
        let deadline = monotonic_ns() + 10_000 * MS;
        let mut b = [0u8; 1];
        while monotonic_ns() < deadline {
            let _ = kill(parent, SIGUSR1);
            sleep_ms(2);
            match read(ar, &mut b) {
                Ok(1) => return 0,
                Err(EAGAIN) => {}
                _ => return 1,
            }
        }
        // No EINTR within 10 s: end the parent's read with a byte instead.
        let _ = write(dw, b"t");
        2
    });
    let mut buf = [0u8; 8];
    match child {
        Ok(p) => {
            let r = read(dr, &mut buf);
            c.err(
                "a handled signal without SA_RESTART interrupts a blocking read (EINTR)",
                r,
                EINTR,
            );
            c.check("the handler ran for the interrupting signal", COUNT.load(SeqCst) >= 1);
            // The child may signal once more before it sees the ack: blocked
            // meanwhile, that signal cannot interrupt the wait (EINTR).
            let _ = rt_sigprocmask(SIG_BLOCK, Some(&sigmask(SIGUSR1)), None);
            let _ = write(aw, b"x");
            c.reaped("the signalling child exits 0", p, 0, WaitStatus::Exited(0));
            let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&sigmask(SIGUSR1)), None);
        }
        Err(e) => c.fail("EINTR: fork", e),
    }
    // With SA_RESTART the read goes on until the data comes.
    let _ = install(SIGUSR1, h(count_handler), SA_RESTART, 0);
    let child = fork_with(|| {
        for _ in 0..5 {
            let _ = kill(parent, SIGUSR1);
            sleep_ms(5);
        }
        (write(dw, b"data") != Ok(4)) as i32
    });
    match child {
        Ok(p) => {
            let r = read(dr, &mut buf);
            c.check(
                "SA_RESTART: the interrupted read restarts and returns the data",
                r == Ok(4) && &buf[..4] == b"data",
            );
            c.reaped("the restarting child exits 0", p, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("SA_RESTART: fork", e),
    }
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
    for fd in [dr, dw, ar, aw] {
        let _ = close(fd);
    }
}

fn sigchld(c: &mut Checker) {
    let _ = install(SIGCHLD, hi(info_handler), SA_SIGINFO, 0);
    COUNT.store(0, SeqCst);
    match fork_with(|| 3) {
        Ok(p) => {
            c.reaped(
                "wait4 returns the child while SIGCHLD is handled",
                p,
                0,
                WaitStatus::Exited(3),
            );
            c.check("the SIGCHLD handler ran once by then", COUNT.load(SeqCst) == 1);
            c.check("SIGCHLD: si_signo SIGCHLD", INFO_SIGNO.load(SeqCst) == SIGCHLD as i32);
            c.check("SIGCHLD: si_code CLD_EXITED", INFO_CODE.load(SeqCst) == CLD_EXITED);
            c.check("SIGCHLD: si_pid is the child", INFO_PID.load(SeqCst) == p as i32);
            c.check("SIGCHLD: si_status 3", INFO_STATUS.load(SeqCst) == 3);
        }
        Err(e) => c.fail("SIGCHLD: fork", e),
    }
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
}

fn fork_inherits(c: &mut Checker) {
    let _ = install(SIGUSR1, h(count_handler), 0, 0);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&sigmask(SIGUSR2)), None);
    let _ = kill(me(), SIGUSR2);
    match fork_with(|| {
        let mut bits = 0;
        if sigmask_get() != Ok(sigmask(SIGUSR2)) {
            bits |= 1;
        }
        if pending() != 0 {
            bits |= 2;
        }
        if sigaction_get(SIGUSR1).map(|a| a.sa_handler) != Ok(h(count_handler)) {
            bits |= 4;
        }
        bits
    }) {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "fork: the child inherits the signal mask",
                "fork: the child does not inherit pending signals",
                "fork: the child inherits the handlers",
            ],
        ),
        Err(e) => c.fail("fork_inherits: fork", e),
    }
    c.check("the parent's pending signal stays pending", pending() == sigmask(SIGUSR2));
    let _ = signal_disposition(SIGUSR2, SIG_IGN);
    let _ = rt_sigprocmask(SIG_SETMASK, Some(&0), None);
    let _ = signal_disposition(SIGUSR2, SIG_DFL);
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
}

fn kill_errors(c: &mut Checker) {
    c.err("kill signal 65 EINVAL", kill(me(), 65), EINVAL);
    c.err("kill a pid that does not exist ESRCH", kill(0x7fff_fff0, 0), ESRCH);
    c.err("tgkill signal 65 EINVAL", tgkill(me(), tid(), 65), EINVAL);
    c.err("tgkill tgid 0 EINVAL", tgkill(0, tid(), 0), EINVAL);
    c.err("tgkill tid 0 EINVAL", tgkill(me(), 0, 0), EINVAL);
    c.err("tgkill a tgid that does not exist ESRCH", tgkill(0x7fff_fff0, tid(), 0), ESRCH);
    c.err("tkill tid 0 EINVAL", tkill(0, 0), EINVAL);
    c.err("tkill tid -1 EINVAL", tkill(-1, 0), EINVAL);
    c.err("tkill a tid that does not exist ESRCH", tkill(0x7fff_fff0, 0), ESRCH);
    match fork_with(|| 4) {
        Ok(z) => {
            // Wait until it is a zombie, without reaping it.
            let mut info = siginfo_t::default();
            let _ = waitid(P_PID, z as i32, Some(&mut info), WEXITED | WNOWAIT);
            c.ok_eq("kill(zombie, 0) succeeds", kill(z as i32, 0), 0);
            c.ok_eq("kill(zombie, SIGKILL) succeeds", kill(z as i32, SIGKILL), 0);
            c.reaped(
                "a signal to a zombie does not change its status",
                z,
                0,
                WaitStatus::Exited(4),
            );
            c.err("kill a reaped pid ESRCH", kill(z as i32, 0), ESRCH);
        }
        Err(e) => c.fail("kill errors: fork", e),
    }
}

fn groups(c: &mut Checker) {
    let pid = me();
    let pg = getpgid(0);
    c.check("getpgid(0) succeeds", pg.is_ok());
    c.check("getpgrp() equals getpgid(0)", getpgrp() == pg);
    c.check("getpgid(own pid) equals getpgid(0)", getpgid(pid) == pg);
    let sid = getsid(0);
    c.check("getsid(0) succeeds", sid.is_ok());
    c.check("getsid(own pid) equals getsid(0)", getsid(pid) == sid);
    c.err("getpgid of a pid that does not exist ESRCH", getpgid(0x7fff_fff0), ESRCH);
    c.err("getsid of a pid that does not exist ESRCH", getsid(0x7fff_fff0), ESRCH);
    c.err("setpgid pgid -1 EINVAL", setpgid(0, -1), EINVAL);
    c.err("setpgid of a pid that does not exist ESRCH", setpgid(0x7fff_fff0, 0), ESRCH);

    match fork_with(|| {
        let me = getpid().unwrap_or(0);
        let mut bits = 0;
        if setsid() != Ok(me) {
            bits |= 1;
        }
        if getpgid(0) != Ok(me) {
            bits |= 2;
        }
        if getsid(0) != Ok(me) {
            bits |= 4;
        }
        if setsid() != Err(EPERM) {
            bits |= 8;
        }
        if setpgid(0, 0) != Err(EPERM) {
            bits |= 16;
        }
        bits
    }) {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "setsid in a child returns its pid",
                "after setsid, getpgid(0) is its pid",
                "after setsid, getsid(0) is its pid",
                "setsid as a session leader EPERM",
                "setpgid of a session leader EPERM",
            ],
        ),
        Err(e) => c.fail("setsid: fork", e),
    }
    let parent_sid = sid.unwrap_or(0);
    match fork_with(|| {
        let me = getpid().unwrap_or(0);
        let mut bits = 0;
        if setpgid(0, 0) != Ok(0) {
            bits |= 1;
        }
        if getpgid(0) != Ok(me) {
            bits |= 2;
        }
        if setsid() != Err(EPERM) {
            bits |= 4;
        }
        if getsid(0) != Ok(parent_sid) {
            bits |= 8;
        }
        bits
    }) {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "setpgid(0, 0) in a child",
                "after setpgid(0, 0), getpgid(0) is its pid",
                "setsid as a process group leader EPERM",
                "setpgid keeps the session",
            ],
        ),
        Err(e) => c.fail("setpgid: fork", e),
    }

    // A process group of two children, signalled and reaped as a group.
    let Ok([r, w]) = pipe2(O_CLOEXEC) else {
        c.fail("groups: pipe2", "failed");
        return;
    };
    let block = || {
        let _ = close(w);
        let mut b = [0u8; 1];
        let _ = read(r, &mut b);
        0
    };
    let (Ok(leader), Ok(member)) = (fork_with(block), fork_with(block)) else {
        c.fail("groups: fork", "failed");
        return;
    };
    let (l, m) = (leader as i32, member as i32);
    c.ok_eq("setpgid(child, child) makes it a group leader", setpgid(l, l), 0);
    c.ok_eq("getpgid(child) is the new group", getpgid(l), leader);
    c.err("setpgid to a group that does not exist EPERM", setpgid(m, 0x7fff_fff0), EPERM);
    c.ok_eq("setpgid(other child, group) joins the group", setpgid(m, l), 0);
    c.ok_eq("getpgid(other child) is the group", getpgid(m), leader);
    c.ok_eq("kill(-pgid, SIGTERM) signals the group", kill(-l, SIGTERM), 0);
    let mut st = 0;
    let first = wait4(-l, Some(&mut st), 0);
    let first_ok = matches!(first, Ok(p) if p == leader || p == member)
        && WaitStatus::from_raw(st) == WaitStatus::Signaled(SIGTERM, false);
    c.check("wait4(-pgid) reaps a member killed by SIGTERM", first_ok);
    let mut info = siginfo_t::default();
    let second = waitid(P_PGID, l, Some(&mut info), WEXITED);
    let other = if first == Ok(leader) { m } else { l };
    c.check(
        "waitid(P_PGID) reaps the other member, killed by SIGTERM",
        second == Ok(0)
            && info.si_pid() == other
            && info.si_code == CLD_KILLED
            && info.si_status() == SIGTERM as i32,
    );
    c.err("wait4(-pgid) ECHILD once the group is reaped", wait4(-l, None, WNOHANG), ECHILD);
    let _ = close(r);
    let _ = close(w);
}
