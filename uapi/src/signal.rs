//! Signals: numbers and `rt_sigaction` flags (`include/uapi/asm/signal.h`,
//! `asm-generic/signal-defs.h`), `siginfo_t` and its codes
//! (`asm-generic/siginfo.h`), and the x86-64 signal frame's `sigcontext` and
//! `ucontext` (`asm/sigcontext.h`, `asm/ucontext.h`).

crate::constants! {
    /// Hangup.
    SIGHUP: u32 = 1;
    /// Interrupt from the keyboard.
    SIGINT: u32 = 2;
    /// Quit from the keyboard.
    SIGQUIT: u32 = 3;
    /// Illegal instruction.
    SIGILL: u32 = 4;
    /// Trace or breakpoint trap.
    SIGTRAP: u32 = 5;
    /// Abort.
    SIGABRT: u32 = 6;
    /// `SIGABRT` by its other name.
    SIGIOT: u32 = 6;
    /// Bus error.
    SIGBUS: u32 = 7;
    /// Arithmetic exception.
    SIGFPE: u32 = 8;
    /// Kill (cannot be caught or ignored).
    SIGKILL: u32 = 9;
    /// User-defined signal 1.
    SIGUSR1: u32 = 10;
    /// Invalid memory reference.
    SIGSEGV: u32 = 11;
    /// User-defined signal 2.
    SIGUSR2: u32 = 12;
    /// Write to a pipe without readers.
    SIGPIPE: u32 = 13;
    /// Timer from `alarm`.
    SIGALRM: u32 = 14;
    /// Termination.
    SIGTERM: u32 = 15;
    /// Coprocessor stack fault (unused).
    SIGSTKFLT: u32 = 16;
    /// A child stopped or terminated.
    SIGCHLD: u32 = 17;
    /// Continue if stopped.
    SIGCONT: u32 = 18;
    /// Stop (cannot be caught or ignored).
    SIGSTOP: u32 = 19;
    /// Stop from the terminal.
    SIGTSTP: u32 = 20;
    /// Terminal input for a background process.
    SIGTTIN: u32 = 21;
    /// Terminal output for a background process.
    SIGTTOU: u32 = 22;
    /// Urgent condition on a socket.
    SIGURG: u32 = 23;
    /// CPU time limit exceeded.
    SIGXCPU: u32 = 24;
    /// File size limit exceeded.
    SIGXFSZ: u32 = 25;
    /// Virtual alarm clock.
    SIGVTALRM: u32 = 26;
    /// Profiling timer expired.
    SIGPROF: u32 = 27;
    /// Window resize.
    SIGWINCH: u32 = 28;
    /// I/O now possible.
    SIGIO: u32 = 29;
    /// `SIGIO` by its System V name.
    SIGPOLL: u32 = 29;
    /// Power failure.
    SIGPWR: u32 = 30;
    /// Bad system call.
    SIGSYS: u32 = 31;
    /// The first real-time signal (`SIGRTMIN`).
    SIGRTMIN: u32 = 32;
    /// The highest signal number: signals are `1..=_NSIG`.
    _NSIG: u32 = 64;

    /// `sigev_notify`: a signal to the process (`sigev_signo`).
    SIGEV_SIGNAL: i32 = 0;
    /// `sigev_notify`: no notification (the timer can be read).
    SIGEV_NONE: i32 = 1;
    /// `sigev_notify`: a thread made by the C library (the kernel sends the
    /// signal to the process, as for `SIGEV_SIGNAL`).
    SIGEV_THREAD: i32 = 2;
    /// `sigev_notify` flag: the signal goes to thread `sigev_notify_thread_id`.
    SIGEV_THREAD_ID: i32 = 4;

    /// `sa_handler`: the default action.
    SIG_DFL: usize = 0;
    /// `sa_handler`: ignore the signal.
    SIG_IGN: usize = 1;

    /// `sa_flags`: no SIGCHLD when a child stops or continues.
    SA_NOCLDSTOP: u64 = 0x0000_0001;
    /// `sa_flags`: children do not become zombies (SIGCHLD).
    SA_NOCLDWAIT: u64 = 0x0000_0002;
    /// `sa_flags`: the handler takes `(sig, siginfo_t *, ucontext *)`.
    SA_SIGINFO: u64 = 0x0000_0004;
    /// `sa_flags`: never supported; the kernel clears it, so a program can
    /// detect which flags a kernel knows.
    SA_UNSUPPORTED: u64 = 0x0000_0400;
    /// `sa_flags`: keep the tag bits of `si_addr`.
    SA_EXPOSE_TAGBITS: u64 = 0x0000_0800;
    /// `sa_flags`: `sa_restorer` is set (required on x86-64).
    SA_RESTORER: u64 = 0x0400_0000;
    /// `sa_flags`: run the handler on the alternate stack.
    SA_ONSTACK: u64 = 0x0800_0000;
    /// `sa_flags`: restart interrupted system calls.
    SA_RESTART: u64 = 0x1000_0000;
    /// `sa_flags`: do not block the signal while its handler runs.
    SA_NODEFER: u64 = 0x4000_0000;
    /// `sa_flags`: reset the handler to `SIG_DFL` on delivery.
    SA_RESETHAND: u64 = 0x8000_0000;

    /// `rt_sigprocmask`: add to the mask.
    SIG_BLOCK: u32 = 0;
    /// `rt_sigprocmask`: remove from the mask.
    SIG_UNBLOCK: u32 = 1;
    /// `rt_sigprocmask`: replace the mask.
    SIG_SETMASK: u32 = 2;

    /// `ss_flags`: the thread is running on the alternate stack.
    SS_ONSTACK: i32 = 1;
    /// `ss_flags`: the alternate stack is disabled.
    SS_DISABLE: i32 = 2;
    /// `ss_flags`: disable the alternate stack while a handler runs on it.
    SS_AUTODISARM: i32 = 1 << 31;
    /// The smallest alternate stack `sigaltstack` accepts.
    MINSIGSTKSZ: usize = 2048;
    /// A comfortable alternate stack size.
    SIGSTKSZ: usize = 8192;

    /// `si_code`: sent by `kill`.
    SI_USER: i32 = 0;
    /// `si_code`: sent by the kernel.
    SI_KERNEL: i32 = 0x80;
    /// `si_code`: sent by `sigqueue`.
    SI_QUEUE: i32 = -1;
    /// `si_code`: a POSIX timer expired (`timer_create`).
    SI_TIMER: i32 = -2;
    /// `si_code`: sent by `tkill` or `tgkill`.
    SI_TKILL: i32 = -6;
    /// `si_code` of SIGSEGV: no mapping at the address.
    SEGV_MAPERR: i32 = 1;
    /// `si_code` of SIGSEGV: the mapping forbids the access.
    SEGV_ACCERR: i32 = 2;
    /// `si_code` of SIGBUS: no such physical address (a file mapping past the
    /// end of its file).
    BUS_ADRERR: i32 = 2;
    /// `si_code` of SIGCHLD: the child exited.
    CLD_EXITED: i32 = 1;
    /// `si_code` of SIGCHLD: a signal killed the child.
    CLD_KILLED: i32 = 2;
    /// `si_code` of SIGCHLD: a signal killed the child, which dumped core.
    CLD_DUMPED: i32 = 3;
    /// `si_code` of SIGCHLD: a traced child trapped.
    CLD_TRAPPED: i32 = 4;
    /// `si_code` of SIGCHLD: the child stopped.
    CLD_STOPPED: i32 = 5;
    /// `si_code` of SIGCHLD: the stopped child continued.
    CLD_CONTINUED: i32 = 6;
}

/// The bit of signal `sig` (1..=64) in a `sigset_t` (the kernel's 64-bit set).
pub const fn sigmask(sig: u32) -> u64 {
    1u64 << (sig - 1)
}

/// `struct sigaction` as `rt_sigaction` takes it (the kernel's, not glibc's):
/// the handler (or `SIG_DFL`/`SIG_IGN`), `SA_*` flags, the restorer the
/// handler returns to (x86-64 has no default), the signals blocked while the
/// handler runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct sigaction {
    /// `__sighandler_t sa_handler` (also `sa_sigaction`).
    pub sa_handler: usize,
    /// `unsigned long sa_flags`.
    pub sa_flags: u64,
    /// `__sigrestore_t sa_restorer`.
    pub sa_restorer: usize,
    /// `sigset_t sa_mask`.
    pub sa_mask: u64,
}

/// `stack_t` (`struct sigaltstack`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct stack_t {
    /// `void *ss_sp`.
    pub ss_sp: usize,
    /// `int ss_flags`.
    pub ss_flags: i32,
    /// Padding (x86-64 alignment of `ss_size`).
    pub _pad: i32,
    /// `size_t ss_size`.
    pub ss_size: usize,
}

/// `struct sigevent` (`timer_create`): how a timer's expiry is told.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct sigevent {
    /// `sigev_value`: what the signal carries (`si_value`).
    pub sigev_value: u64,
    /// The signal.
    pub sigev_signo: i32,
    /// `SIGEV_*`.
    pub sigev_notify: i32,
    /// With SIGEV_THREAD_ID, the thread (the union's `_tid`).
    pub sigev_notify_thread_id: i32,
    /// The rest of the union (64 bytes in all).
    pub _pad: [i32; 11],
}

impl sigevent {
    /// Notify as `notify` with `signo` carrying `value`.
    pub const fn new(notify: i32, signo: u32, value: u64) -> sigevent {
        sigevent {
            sigev_value: value,
            sigev_signo: signo as i32,
            sigev_notify: notify,
            sigev_notify_thread_id: 0,
            _pad: [0; 11],
        }
    }
}

const _: () = assert!(core::mem::size_of::<sigevent>() == 64);

/// `siginfo_t` (128 bytes): `si_signo`, `si_errno`, `si_code`, then the union
/// `_sifields`, read with the accessors named after Linux's macros.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct siginfo_t {
    /// The signal.
    pub si_signo: i32,
    /// An errno value (unused by Linux).
    pub si_errno: i32,
    /// Who sent it or why (`SI_*`, `CLD_*`, `SEGV_*`).
    pub si_code: i32,
    /// Padding (x86-64 alignment of the union).
    pub _pad: i32,
    /// The union of the kill, timer, SIGCHLD, fault, poll and sys layouts.
    pub _sifields: [u64; 14],
}

impl siginfo_t {
    /// `si_timerid` (a POSIX timer's signal, SI_TIMER).
    pub const fn si_timerid(&self) -> i32 {
        self._sifields[0] as u32 as i32
    }
    /// `si_overrun` (SI_TIMER): the expiries skipped before it was taken.
    pub const fn si_overrun(&self) -> i32 {
        (self._sifields[0] >> 32) as u32 as i32
    }
    /// `si_value` (SI_TIMER, SI_QUEUE), as the `sival_ptr` bits.
    pub const fn si_value(&self) -> u64 {
        self._sifields[1]
    }
    /// `si_pid` (kill, tkill, SIGCHLD).
    pub const fn si_pid(&self) -> i32 {
        self._sifields[0] as u32 as i32
    }
    /// `si_uid` (kill, tkill, SIGCHLD).
    pub const fn si_uid(&self) -> u32 {
        (self._sifields[0] >> 32) as u32
    }
    /// `si_status` (SIGCHLD, waitid): the exit code or the signal.
    pub const fn si_status(&self) -> i32 {
        self._sifields[1] as u32 as i32
    }
    /// `si_addr` (SIGSEGV, SIGBUS, SIGILL, SIGFPE).
    pub const fn si_addr(&self) -> usize {
        self._sifields[0] as usize
    }
}

/// x86-64 `struct sigcontext` (the registers in a signal frame, 256 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types, missing_docs)]
pub struct sigcontext {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    pub eflags: u64,
    pub cs: u16,
    pub gs: u16,
    pub fs: u16,
    pub ss: u16,
    pub err: u64,
    pub trapno: u64,
    pub oldmask: u64,
    pub cr2: u64,
    /// The address of the saved FPU state (`struct _fpstate *`).
    pub fpstate: u64,
    pub reserved1: [u64; 8],
}

/// x86-64 `struct ucontext` as the kernel builds it in a signal frame (the
/// third argument of an `SA_SIGINFO` handler); `rt_sigreturn` restores the
/// registers and the signal mask from it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct ucontext {
    /// `UC_*` flags.
    pub uc_flags: u64,
    /// `struct ucontext *uc_link`.
    pub uc_link: u64,
    /// The alternate stack at delivery.
    pub uc_stack: stack_t,
    /// The interrupted registers.
    pub uc_mcontext: sigcontext,
    /// The signal mask to restore.
    pub uc_sigmask: u64,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<sigaction>() == 32);
    assert!(size_of::<stack_t>() == 24);
    assert!(size_of::<siginfo_t>() == 128);
    assert!(size_of::<sigcontext>() == 256);
    assert!(offset_of!(ucontext, uc_mcontext) == 40);
    assert!(offset_of!(ucontext, uc_sigmask) == 296);
    assert!(size_of::<ucontext>() == 304);
};
