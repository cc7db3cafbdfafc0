//! clone and clone3 as Linux defines them (kernel/fork.c): the flag and
//! argument checks with their exact errors, the tid flags (PARENT_SETTID,
//! CHILD_SETTID, CHILD_CLEARTID with a futex waiter), threads (CLONE_THREAD
//! identity, wait4 never sees them, exit_group ends the group), CLONE_PARENT,
//! CLONE_SETTLS, exit signals other than SIGCHLD (__WCLONE, __WALL), what
//! CLONE_VM/CLONE_FILES/CLONE_SIGHAND share, and RLIMIT_NPROC (root exempt; a
//! bounded fork bomb as another uid). One line per check, exit status = number
//! of failed checks.
//!
//! Run it as root (the guest's pid 1 is uid 0): the RLIMIT_NPROC checks switch
//! a child to an unused uid with setgid/setuid.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};

use userspace::thread::wait_until;
use userspace::*;

userspace::entry!(main);

const STACK: usize = 64 * 1024;
const STACKS: usize = 4;
const MS: u64 = 1_000_000;
/// The flags of a POSIX thread (pthread_create), without the tid flags.
const THREAD: u64 =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
/// First uid of the RLIMIT_NPROC checks (plus the program's pid: no other
/// process has it, so the counts are exact).
const UID_BASE: usize = 2_000_000_000;

/// Stacks for clone children: `STACKS` regions of `STACK` bytes.
#[derive(Clone, Copy)]
struct Stacks(usize);

impl Stacks {
    fn top(self, i: usize) -> usize {
        self.0 + (i + 1) * STACK
    }
    fn contains(self, i: usize, addr: usize) -> bool {
        (self.0 + i * STACK..self.top(i)).contains(&addr)
    }
}

/// argv[0], the path the shared-handlers check execs (`clone handlers`).
static ARGV0: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"handlers") {
        // The image exec'd by `exec_with_shared_handlers`'s child.
        return check_handlers(0);
    }
    if let Some(a) = args.get(0) {
        ARGV0.store(a.as_ptr() as usize, core::sync::atomic::Ordering::SeqCst);
    }
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh private anonymous mapping for the children's stacks.
    let stacks = match unsafe { mmap(0, STACKS * STACK, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }
    {
        Ok(a) => Stacks(a),
        Err(e) => {
            c.fail("mmap the clone stacks", e);
            return c.status();
        }
    };
    clone_checks(&mut c, stacks);
    clone_accepts(&mut c, stacks);
    clone3_checks(&mut c, stacks);
    clone3_works(&mut c, stacks);
    tid_flags(&mut c, stacks);
    threads(&mut c, stacks);
    rlimits_are_the_process(&mut c, stacks);
    exit_group_in_thread(&mut c, stacks);
    leader_exits_first(&mut c, stacks);
    clone_parent(&mut c);
    settls(&mut c, stacks);
    gs_bases(&mut c);
    exit_signals(&mut c);
    sharing(&mut c, stacks);
    fpu_registers(&mut c);
    nproc(&mut c);
    c.err("no child left at the end (__WALL)", wait4(-1, None, __WALL | WNOHANG), ECHILD);
    c.status()
}

// ---- helpers ------------------------------------------------------------------

extern "C" fn exit_12(_: usize) -> i32 {
    12
}

extern "C" fn noop_handler(_: i32) {}

fn pid() -> usize {
    getpid().unwrap_or(0)
}

/// Reaps `pid`, giving up after 10 s (then it is killed): for children whose
/// end depends on the kernel ending other threads.
fn reap_within(pid: usize) -> Result<WaitStatus, &'static str> {
    let deadline = monotonic_ns() + 10_000 * MS;
    loop {
        let mut st = 0;
        match wait4(pid as i32, Some(&mut st), __WALL | WNOHANG) {
            Ok(0) => {}
            Ok(p) if p == pid => return Ok(WaitStatus::from_raw(st)),
            _ => return Err("wait4 failed"),
        }
        if monotonic_ns() > deadline {
            let _ = kill(pid as i32, SIGKILL);
            let _ = wait4(pid as i32, None, __WALL);
            return Err("still running after 10 s (killed)");
        }
        let _ = nanosleep(&timespec::from_nanos(MS), None);
    }
}

/// Whether `cond` becomes true within 2 s (polled every millisecond): for a
/// state the kernel reaches a moment after what the program can wait for.
fn eventually(cond: impl Fn() -> bool) -> bool {
    let deadline = monotonic_ns() + 2_000 * MS;
    loop {
        if cond() {
            return true;
        }
        if monotonic_ns() > deadline {
            return false;
        }
        let _ = nanosleep(&timespec::from_nanos(MS), None);
    }
}

/// Expects `r` to fail with `want`; reaps a child a wrong kernel made.
fn expect_err(c: &mut Checker, name: &str, r: SysResult, want: Errno) {
    if let Ok(p) = r {
        let _ = wait4(p as i32, None, __WALL);
    }
    c.err(name, r, want);
}

fn set_wake(word: &AtomicU32, v: u32) {
    word.store(v, SeqCst);
    let _ = futex_wake(word, 0, i32::MAX as u32);
}

/// Starts a thread running `f(arg)` on stack `top`, with `CLONE_PARENT_SETTID`
/// and `CLONE_CHILD_CLEARTID` on `tid` (which becomes its tid, then 0 when it
/// has exited), plus `extra` flags and `tls`.
fn spawn_thread(
    top: usize,
    extra: u64,
    tls: usize,
    tid: &AtomicU32,
    f: ChildFn,
    arg: usize,
) -> SysResult {
    let flags = THREAD | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | extra;
    let word = tid.as_ptr() as usize;
    // SAFETY: the thread runs on its own stack; `tid` and whatever `arg`
    // points to outlive it because every caller joins it (`join`) first.
    unsafe { clone(flags, top, word, word, tls, f, arg) }
}

/// Waits until the kernel cleared the thread's tid word (CLONE_CHILD_CLEARTID).
fn join(tid: &AtomicU32) -> bool {
    wait_until(tid, |v| v == 0)
}

fn arg<T>(r: &T) -> usize {
    r as *const T as usize
}

fn from_arg<'a, T>(a: usize) -> &'a T {
    // SAFETY: every child function gets the address of a live T (see arg)
    // that the parent keeps until the child is gone.
    unsafe { &*(a as *const T) }
}

// ---- clone(): which flags it rejects, which it ignores ------------------------

fn clone_checks(c: &mut Checker, st: Stacks) {
    let word = AtomicU32::new(0);
    let w = word.as_ptr() as usize;
    let sig = SIGCHLD as u64;
    let cases: [(&str, u64, Errno); 8] = [
        ("clone CLONE_SIGHAND without CLONE_VM EINVAL", CLONE_SIGHAND | sig, EINVAL),
        ("clone CLONE_THREAD without CLONE_SIGHAND EINVAL", CLONE_THREAD | CLONE_VM, EINVAL),
        ("clone CLONE_FS|CLONE_NEWNS EINVAL", CLONE_FS | CLONE_NEWNS | sig, EINVAL),
        ("clone CLONE_NEWUSER|CLONE_FS EINVAL", CLONE_NEWUSER | CLONE_FS | sig, EINVAL),
        ("clone CLONE_THREAD|CLONE_NEWUSER EINVAL", THREAD | CLONE_NEWUSER, EINVAL),
        ("clone CLONE_THREAD|CLONE_NEWPID EINVAL", THREAD | CLONE_NEWPID, EINVAL),
        (
            "clone CLONE_PIDFD|CLONE_PARENT_SETTID (same pointer) EINVAL",
            CLONE_PIDFD | CLONE_PARENT_SETTID | sig,
            EINVAL,
        ),
        ("clone CLONE_PIDFD|CLONE_DETACHED EINVAL", CLONE_PIDFD | CLONE_DETACHED | sig, EINVAL),
    ];
    for (name, flags, want) in cases {
        // SAFETY: a child a wrong kernel makes runs exit_12 on its own stack.
        let r = unsafe { clone(flags, st.top(0), w, w, 0, exit_12, 0) };
        expect_err(c, name, r, want);
    }
    // CLONE_SETTLS takes arch_prctl(ARCH_SET_FS)'s check (Linux set_new_tls):
    // a base at or above TASK_SIZE_MAX is EPERM, before any child exists.
    let tls_cases: [(&str, usize); 2] = [
        ("clone CLONE_SETTLS with a non-canonical base EPERM", 0x8000_0000_0000_0000),
        ("clone CLONE_SETTLS with a kernel address EPERM", 0xffff_8880_0000_0000),
    ];
    for (name, tls) in tls_cases {
        // SAFETY: as above.
        let r = unsafe { clone(CLONE_SETTLS | sig, st.top(0), w, w, tls, exit_12, 0) };
        expect_err(c, name, r, EPERM);
    }
}

fn clone_accepts(c: &mut Checker, st: Stacks) {
    let sig = SIGCHLD as u64;
    // clone() takes the flags as 32 bits: the upper half is ignored, and every
    // lower bit is a known flag; CLONE_DETACHED is ignored.
    let cases: [(&str, u64); 2] = [
        ("clone ignores flag bits 32-63", (1 << 32) | (1 << 63) | sig),
        ("clone ignores CLONE_DETACHED", CLONE_DETACHED | sig),
    ];
    for (name, flags) in cases {
        // SAFETY: a fork-like child on its own copy of memory and stack.
        match unsafe { clone(flags, st.top(0), 0, 0, 0, exit_12, 0) } {
            Ok(p) => {
                c.reaped(name, p, 0, WaitStatus::Exited(12));
            }
            Err(e) => c.fail(name, e),
        }
    }
    // clone() does not check the exit signal (clone3 does): 65 is accepted,
    // no signal is sent, and only __WALL/__WCLONE see the child.
    // SAFETY: as above.
    match unsafe { clone(65, st.top(0), 0, 0, 0, exit_12, 0) } {
        Ok(p) => {
            c.check("clone accepts exit signal 65", true);
            let r = wait4(p as i32, None, 0);
            c.err("exit signal 65: wait4 without __WALL/__WCLONE ECHILD", r, ECHILD);
            c.reaped(
                "exit signal 65: wait4 __WALL reaps the child",
                p,
                __WALL,
                WaitStatus::Exited(12),
            );
        }
        Err(e) => c.fail("clone accepts exit signal 65", e),
    }
}

// ---- clone3 -------------------------------------------------------------------

/// clone_args followed by the rest of a page, for the size rules.
#[repr(C, align(8))]
struct ArgsPage {
    args: clone_args,
    tail: [u8; PAGE_SIZE - CLONE_ARGS_SIZE_VER2],
}

impl ArgsPage {
    fn new() -> ArgsPage {
        let args = clone_args { exit_signal: SIGCHLD as u64, ..clone_args::default() };
        ArgsPage { args, tail: [0; PAGE_SIZE - CLONE_ARGS_SIZE_VER2] }
    }

    fn call(&self, size: usize, f: ChildFn, a: usize) -> SysResult {
        // SAFETY: size <= PAGE_SIZE bytes of self are readable (callers pass
        // at most a page, or more only to get E2BIG before anything is read);
        // a child runs f on the stack the args give, or a copy of ours.
        unsafe { clone3(&self.args, size, f, a) }
    }
}

fn clone3_checks(c: &mut Checker, st: Stacks) {
    let mut p = ArgsPage::new();
    let sizes: [(&str, usize, Errno); 4] = [
        ("clone3 size 0 EINVAL", 0, EINVAL),
        ("clone3 size 63 (below CLONE_ARGS_SIZE_VER0) EINVAL", 63, EINVAL),
        ("clone3 size 4097 (above a page) E2BIG", PAGE_SIZE + 1, E2BIG),
        ("clone3 size 8192 E2BIG", 2 * PAGE_SIZE, E2BIG),
    ];
    for (name, size, want) in sizes {
        let r = p.call(size, exit_12, 0);
        expect_err(c, name, r, want);
    }
    p.tail[4000 - CLONE_ARGS_SIZE_VER2] = 1;
    let r = p.call(PAGE_SIZE, exit_12, 0);
    expect_err(c, "clone3 non-zero byte past struct clone_args E2BIG", r, E2BIG);
    match p.call(4000, exit_12, 0) {
        Ok(pid) => {
            c.reaped("clone3 does not read past its size argument", pid, 0, WaitStatus::Exited(12));
        }
        Err(e) => c.fail("clone3 does not read past its size argument", e),
    }
    p.tail[4000 - CLONE_ARGS_SIZE_VER2] = 0;
    // SAFETY: an unmapped address: the kernel's copy fails, no child is made.
    let r = unsafe { clone3(0x10 as *const clone_args, CLONE_ARGS_SIZE_VER2, exit_12, 0) };
    expect_err(c, "clone3 args at an unmapped address EFAULT", r, EFAULT);

    let tls = 0x8000_0000_0000_0000;
    p.args =
        clone_args { flags: CLONE_SETTLS, tls, exit_signal: SIGCHLD as u64, ..Default::default() };
    let r = p.call(CLONE_ARGS_SIZE_VER2, exit_12, 0);
    expect_err(c, "clone3 CLONE_SETTLS with a non-canonical base EPERM", r, EPERM);

    let mut bad = |c: &mut Checker, name: &str, args: clone_args| {
        p.args = args;
        let r = p.call(CLONE_ARGS_SIZE_VER2, exit_12, 0);
        expect_err(c, name, r, EINVAL);
    };
    let base = clone_args { exit_signal: SIGCHLD as u64, ..clone_args::default() };
    let base0 = (st.top(0) - STACK) as u64;
    bad(c, "clone3 exit_signal 65 EINVAL", clone_args { exit_signal: 65, ..base });
    let hi = SIGCHLD as u64 | (1 << 32);
    bad(
        c,
        "clone3 exit_signal with bits above the low byte EINVAL",
        clone_args { exit_signal: hi, ..base },
    );
    bad(c, "clone3 CLONE_DETACHED EINVAL", clone_args { flags: CLONE_DETACHED, ..base });
    let both = CLONE_SIGHAND | CLONE_CLEAR_SIGHAND | CLONE_VM;
    let with_stack = clone_args { stack: base0, stack_size: STACK as u64, ..base };
    bad(
        c,
        "clone3 CLONE_SIGHAND|CLONE_CLEAR_SIGHAND EINVAL",
        clone_args { flags: both, ..with_stack },
    );
    bad(
        c,
        "clone3 CLONE_SIGHAND without CLONE_VM EINVAL",
        clone_args { flags: CLONE_SIGHAND, ..base },
    );
    bad(
        c,
        "clone3 CLONE_THREAD with an exit signal EINVAL",
        clone_args { flags: THREAD, ..with_stack },
    );
    bad(
        c,
        "clone3 CLONE_PARENT with an exit signal EINVAL",
        clone_args { flags: CLONE_PARENT, ..base },
    );
    bad(
        c,
        "clone3 stack_size without stack EINVAL",
        clone_args { stack_size: STACK as u64, ..base },
    );
    bad(c, "clone3 stack without stack_size EINVAL", clone_args { stack: base0, ..base });
    // Linux clone3_stack_valid: the stack must pass access_ok, i.e. lie below
    // TASK_SIZE_MAX without wrapping. (Not a stack just above 0x7ffffffff000:
    // a Linux with 5-level paging, such as the SVM lane's L1 under QEMU's
    // `-cpu max`, has TASK_SIZE_MAX at 2^56 - 4096 and accepts it.)
    let kernel = clone_args { stack: 0xffff_8880_0000_0000, stack_size: STACK as u64, ..base };
    bad(c, "clone3 stack at a kernel address EINVAL", kernel);
    let wraps = clone_args { stack: 0x1000, stack_size: u64::MAX, ..base };
    bad(c, "clone3 stack_size wrapping the address space EINVAL", wraps);
    bad(c, "clone3 set_tid_size without set_tid EINVAL", clone_args { set_tid_size: 1, ..base });
    let tids = [0i32; 40];
    let set_tid = tids.as_ptr() as u64;
    bad(c, "clone3 set_tid without set_tid_size EINVAL", clone_args { set_tid, ..base });
    let many = clone_args { set_tid, set_tid_size: 33, ..base };
    bad(c, "clone3 set_tid_size 33 (above 32 pid levels) EINVAL", many);

    // Flag bits clone3 rejects: the exit-signal byte of clone() (bits 0-6; bit
    // 7 is CLONE_NEWTIME) and everything above CLONE_INTO_CGROUP (bit 33).
    let mut all = |c: &mut Checker, name: &str, bits: core::ops::RangeInclusive<u32>| {
        let mut failed = None;
        for b in bits {
            p.args = clone_args { flags: 1 << b, ..base };
            let r = p.call(CLONE_ARGS_SIZE_VER2, exit_12, 0);
            if let Ok(pid) = r {
                let _ = wait4(pid as i32, None, __WALL);
            }
            if r != Err(EINVAL) && failed.is_none() {
                failed = Some(b);
            }
        }
        match failed {
            None => {
                c.check(name, true);
            }
            Some(b) => c.fail(name, format_args!("bit {} not rejected", b)),
        }
    };
    all(c, "clone3 flag bits 0-6 (clone's exit-signal byte) EINVAL", 0..=6);
    all(c, "clone3 unknown flag bits 34-63 EINVAL", 34..=63);
}

/// For children that report what they saw.
#[derive(Default)]
struct Report {
    a: AtomicUsize,
    b: AtomicUsize,
    c: AtomicUsize,
    d: AtomicUsize,
    /// 1 once the child recorded, for a waiting parent.
    ready: AtomicU32,
    /// Set by the parent to release a waiting child.
    go: AtomicU32,
}

extern "C" fn record_local(a: usize) -> i32 {
    let r: &Report = from_arg(a);
    let local = 0u8;
    r.a.store(core::hint::black_box(&local) as *const u8 as usize, SeqCst);
    r.b.store(getpid().unwrap_or(0), SeqCst);
    13
}

extern "C" fn check_handlers(_: usize) -> i32 {
    let mut bits = 0;
    if sigaction_get(SIGUSR1).map(|a| a.sa_handler) != Ok(SIG_DFL) {
        bits |= 1;
    }
    if sigaction_get(SIGUSR2).map(|a| a.sa_handler) != Ok(SIG_IGN) {
        bits |= 2;
    }
    bits
}

fn clone3_works(c: &mut Checker, st: Stacks) {
    let mut p = ArgsPage::new();
    for (name, size) in [
        ("clone3 size 64 (CLONE_ARGS_SIZE_VER0) works", CLONE_ARGS_SIZE_VER0),
        ("clone3 size 88 (CLONE_ARGS_SIZE_VER2) works", CLONE_ARGS_SIZE_VER2),
        ("clone3 size 4096 with zeros past the struct works", PAGE_SIZE),
    ] {
        match p.call(size, exit_12, 0) {
            Ok(pid) => {
                c.reaped(name, pid, 0, WaitStatus::Exited(12));
            }
            Err(e) => c.fail(name, e),
        }
    }

    // A stack: the child starts at stack + stack_size.
    let r = Report::default();
    p.args = clone_args {
        flags: CLONE_VM,
        exit_signal: SIGCHLD as u64,
        stack: (st.top(1) - STACK) as u64,
        stack_size: STACK as u64,
        ..clone_args::default()
    };
    match p.call(CLONE_ARGS_SIZE_VER2, record_local, arg(&r)) {
        Ok(pid) => {
            c.reaped("clone3 CLONE_VM child exits 13", pid, 0, WaitStatus::Exited(13));
            c.check(
                "clone3: the child runs on stack..stack+stack_size",
                st.contains(1, r.a.load(SeqCst)),
            );
            c.check("clone3 returns the child's pid", r.b.load(SeqCst) == pid);
        }
        Err(e) => c.fail("clone3 with CLONE_VM and a stack", e),
    }

    // Tid words.
    let ptid = AtomicU32::new(0);
    let ctid = AtomicU32::new(0);
    p.args = clone_args {
        flags: CLONE_PARENT_SETTID | CLONE_CHILD_SETTID,
        exit_signal: SIGCHLD as u64,
        parent_tid: ptid.as_ptr() as u64,
        child_tid: ctid.as_ptr() as u64,
        ..clone_args::default()
    };
    match p.call(CLONE_ARGS_SIZE_VER2, check_ctid, arg(&ctid)) {
        Ok(pid) => {
            c.check(
                "clone3 CLONE_PARENT_SETTID writes the tid in the parent",
                ptid.load(SeqCst) == pid as u32,
            );
            let names = ["clone3 CLONE_CHILD_SETTID writes the tid in the child"];
            c.reaped_bits(pid, 0, &names);
        }
        Err(e) => c.fail("clone3 with tid flags", e),
    }

    // exit_signal 0.
    p.args = clone_args::default();
    match p.call(CLONE_ARGS_SIZE_VER2, exit_12, 0) {
        Ok(pid) => {
            let r = wait4(pid as i32, None, 0);
            c.err("clone3 exit_signal 0: wait4 without __WALL ECHILD", r, ECHILD);
            c.reaped(
                "clone3 exit_signal 0: wait4 __WALL reaps it",
                pid,
                __WALL,
                WaitStatus::Exited(12),
            );
        }
        Err(e) => c.fail("clone3 exit_signal 0", e),
    }

    // CLONE_CLEAR_SIGHAND: handlers back to SIG_DFL, ignored stays ignored.
    let act = new_sigaction(noop_handler as *const () as usize, 0, 0);
    // SAFETY: noop_handler does nothing.
    let set = unsafe { rt_sigaction(SIGUSR1, Some(&act), None) };
    if set.is_ok() && signal_disposition(SIGUSR2, SIG_IGN).is_ok() {
        p.args = clone_args {
            flags: CLONE_CLEAR_SIGHAND,
            exit_signal: SIGCHLD as u64,
            ..clone_args::default()
        };
        match p.call(CLONE_ARGS_SIZE_VER2, check_handlers, 0) {
            Ok(pid) => c.reaped_bits(
                pid,
                0,
                &[
                    "CLONE_CLEAR_SIGHAND resets a handled signal to SIG_DFL",
                    "CLONE_CLEAR_SIGHAND keeps an ignored signal ignored",
                ],
            ),
            Err(e) => c.fail("clone3 CLONE_CLEAR_SIGHAND", e),
        }
        c.check(
            "CLONE_CLEAR_SIGHAND leaves the parent's handler",
            sigaction_get(SIGUSR1).map(|a| a.sa_handler) == Ok(noop_handler as *const () as usize),
        );
        exec_with_shared_handlers(c, st);
    } else {
        c.fail("clone3 CLONE_CLEAR_SIGHAND", "rt_sigaction failed");
    }
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
    let _ = signal_disposition(SIGUSR2, SIG_DFL);
}

/// The child of `exec_with_shared_handlers`: exec this program as
/// `clone handlers` (status 99 if the exec fails).
extern "C" fn exec_handlers_image(_: usize) -> i32 {
    let path = ARGV0.load(core::sync::atomic::Ordering::SeqCst);
    let argv = [path, c"handlers".as_ptr() as usize, 0];
    // SAFETY: a NUL-terminated path and a NULL-terminated argv of such
    // strings; on success nothing of this image runs any more.
    let _ = unsafe { syscall::syscall3(nr::__NR_execve, path, argv.as_ptr() as usize, 0) };
    exit(99)
}

/// A process sharing its parent's handlers (CLONE_SIGHAND without
/// CLONE_THREAD; CLONE_VM and CLONE_VFORK as the kernel requires of
/// CLONE_SIGHAND) execs: the new image has its own table, flushed (SIGUSR1's
/// handler back to SIG_DFL, SIGUSR2 still ignored: Linux `unshare_sighand`,
/// then `flush_signal_handlers`), and the parent's handler stays.
fn exec_with_shared_handlers(c: &mut Checker, st: Stacks) {
    let flags = CLONE_VM | CLONE_VFORK | CLONE_SIGHAND | SIGCHLD as u64;
    // SAFETY: the child runs on its own stack and only execs or exits.
    match unsafe { clone(flags, st.top(0), 0, 0, 0, exec_handlers_image, 0) } {
        Ok(pid) => c.reaped_bits(
            pid,
            0,
            &[
                "exec with shared handlers resets a handled signal to SIG_DFL",
                "exec with shared handlers keeps an ignored signal ignored",
            ],
        ),
        Err(e) => c.fail("clone CLONE_VM|CLONE_VFORK|CLONE_SIGHAND", e),
    }
    c.check(
        "... and the parent's handler stays",
        sigaction_get(SIGUSR1).map(|a| a.sa_handler) == Ok(noop_handler as *const () as usize),
    );
    c.check(
        "... and the parent's ignored signal stays ignored",
        sigaction_get(SIGUSR2).map(|a| a.sa_handler) == Ok(SIG_IGN),
    );
}

// ---- tid flags ----------------------------------------------------------------

/// 0 if the word at `a` (the child's copy) is 0.
extern "C" fn check_zero(a: usize) -> i32 {
    let w: &AtomicU32 = from_arg(a);
    (w.load(SeqCst) != 0) as i32
}

/// 0 if the word at `a` is the caller's tid.
extern "C" fn check_ctid(a: usize) -> i32 {
    let w: &AtomicU32 = from_arg(a);
    (Ok(w.load(SeqCst) as usize) != gettid()) as i32
}

/// Waits until the parent sets `a.go`.
extern "C" fn wait_go(a: usize) -> i32 {
    let r: &Report = from_arg(a);
    wait_until(&r.go, |v| v != 0);
    0
}

fn tid_flags(c: &mut Checker, st: Stacks) {
    let sig = SIGCHLD as u64;
    let ptid = AtomicU32::new(0);
    let p = ptid.as_ptr() as usize;
    // SAFETY: a fork-like child (own memory); ptid is a live u32.
    match unsafe { clone(CLONE_PARENT_SETTID | sig, 0, p, 0, 0, check_zero, arg(&ptid)) } {
        Ok(pid) => {
            c.check(
                "CLONE_PARENT_SETTID: the parent's word holds the child's tid",
                ptid.load(SeqCst) == pid as u32,
            );
            let names = ["CLONE_PARENT_SETTID: the child's copy of the word is unchanged"];
            c.reaped_bits(pid, 0, &names);
        }
        Err(e) => c.fail("clone CLONE_PARENT_SETTID", e),
    }
    let ctid = AtomicU32::new(0);
    let w = ctid.as_ptr() as usize;
    // SAFETY: as above.
    match unsafe { clone(CLONE_CHILD_SETTID | sig, 0, 0, w, 0, check_ctid, arg(&ctid)) } {
        Ok(pid) => {
            c.check("CLONE_CHILD_SETTID: the parent's word is unchanged", ctid.load(SeqCst) == 0);
            let names = ["CLONE_CHILD_SETTID: the child's word holds its tid"];
            c.reaped_bits(pid, 0, &names);
        }
        Err(e) => c.fail("clone CLONE_CHILD_SETTID", e),
    }
    // A thread: its tid word is set before clone returns and cleared (with a
    // futex wake) when it exits.
    let tid = AtomicU32::new(0);
    let r = Report::default();
    match spawn_thread(st.top(0), 0, 0, &tid, wait_go, arg(&r)) {
        Ok(t) => {
            let v = tid.load(SeqCst);
            c.check("thread: CLONE_PARENT_SETTID holds its tid when clone returns", v == t as u32);
            set_wake(&r.go, 1);
            c.check(
                "CLONE_CHILD_CLEARTID: the word is cleared and the futex waiter woken at exit",
                join(&tid),
            );
        }
        Err(e) => c.fail("clone a thread", e),
    }
}

// ---- threads ------------------------------------------------------------------

/// A thread that records its ids, closes fd `r.d`, then waits for `go`.
extern "C" fn thread_identity(a: usize) -> i32 {
    let r: &Report = from_arg(a);
    r.a.store(getpid().unwrap_or(0), SeqCst);
    r.b.store(gettid().unwrap_or(0), SeqCst);
    r.c.store(getppid().unwrap_or(0), SeqCst);
    let _ = close(r.d.load(SeqCst) as i32);
    set_wake(&r.ready, 1);
    wait_until(&r.go, |v| v != 0);
    0
}

fn threads(c: &mut Checker, st: Stacks) {
    let me = pid();
    let Ok([pr, pw]) = pipe2(O_CLOEXEC) else {
        c.fail("threads: pipe2", "failed");
        return;
    };
    let r = Report::default();
    r.d.store(pw as usize, SeqCst);
    let tid = AtomicU32::new(0);
    let t = match spawn_thread(st.top(0), 0, 0, &tid, thread_identity, arg(&r)) {
        Ok(t) => t,
        Err(e) => {
            c.fail("clone(CLONE_THREAD|CLONE_VM|CLONE_SIGHAND|...)", e);
            return;
        }
    };
    c.check("clone a thread", true);
    c.check("thread ready", wait_until(&r.ready, |v| v != 0));
    c.check("CLONE_THREAD: getpid in the thread is the process's pid", r.a.load(SeqCst) == me);
    c.check("CLONE_THREAD: gettid in the thread is what clone returned", r.b.load(SeqCst) == t);
    c.check("CLONE_THREAD: the thread's tid differs from the pid", t != me);
    c.check(
        "CLONE_THREAD: getppid in the thread is the process's parent",
        Ok(r.c.load(SeqCst)) == getppid(),
    );
    c.err("CLONE_FILES: the thread's close closed the process's fd", fcntl(pw, F_GETFD, 0), EBADF);
    c.err("wait4 does not wait for a thread (ECHILD)", wait4(-1, None, WNOHANG), ECHILD);
    let r2 = wait4(-1, None, __WALL | WNOHANG);
    c.err("wait4 __WALL does not wait for a thread (ECHILD)", r2, ECHILD);
    let r3 = wait4(t as i32, None, __WALL | WNOHANG);
    c.err("wait4 for the thread's tid ECHILD", r3, ECHILD);
    c.ok_eq("tgkill(pid, thread tid, 0) finds the thread", tgkill(me as i32, t as i32, 0), 0);
    c.ok_eq("tkill(thread tid, 0) finds the thread", tkill(t as i32, 0), 0);
    set_wake(&r.go, 1);
    c.check("the thread exits (SYS_exit) and the process goes on", join(&tid));
    // The tid word is cleared when the thread releases its memory, a moment
    // before the kernel forgets the thread.
    let gone = eventually(|| tgkill(me as i32, t as i32, 0) == Err(ESRCH));
    c.check("tgkill of the exited thread ESRCH (once the kernel released it)", gone);
    c.err("no child after the thread exited", wait4(-1, None, __WALL | WNOHANG), ECHILD);
    let _ = close(pr);
}

/// Sets RLIMIT_NOFILE's soft limit to the value `a` points at, and exits.
extern "C" fn thread_setrlimit(a: usize) -> i32 {
    let cur: &AtomicU64 = from_arg(a);
    let mut lim = rlimit::default();
    if getrlimit(RLIMIT_NOFILE, &mut lim).is_err() {
        return 1;
    }
    lim.rlim_cur = cur.load(SeqCst);
    setrlimit(RLIMIT_NOFILE, &lim).map_or(2, |_| 0)
}

/// Resource limits belong to the process (Linux `signal->rlim`): a thread's
/// setrlimit is what every thread of it reads afterwards.
fn rlimits_are_the_process(c: &mut Checker, st: Stacks) {
    let mut old = rlimit::default();
    if getrlimit(RLIMIT_NOFILE, &mut old).is_err() || old.rlim_cur < 101 {
        c.fail("rlimits: getrlimit(RLIMIT_NOFILE)", "failed or below 101");
        return;
    }
    let cur = AtomicU64::new(100);
    let tid = AtomicU32::new(0);
    if let Err(e) = spawn_thread(st.top(0), 0, 0, &tid, thread_setrlimit, arg(&cur)) {
        c.fail("rlimits: clone a thread", e);
        return;
    }
    c.check("rlimits: the thread's setrlimit returns", join(&tid));
    let mut now = rlimit::default();
    let _ = getrlimit(RLIMIT_NOFILE, &mut now);
    c.check(
        "setrlimit(RLIMIT_NOFILE) in a thread sets the process's limit (the main thread reads it)",
        now.rlim_cur == 100 && now.rlim_max == old.rlim_max,
    );
    let _ = setrlimit(RLIMIT_NOFILE, &old);
}

/// Blocks forever in FUTEX_WAIT after counting itself in `r.ready`.
extern "C" fn thread_block(a: usize) -> i32 {
    let r: &Report = from_arg(a);
    let _ = r.ready.fetch_add(1, SeqCst);
    let _ = futex_wake(&r.ready, 0, i32::MAX as u32);
    loop {
        let _ = futex_wait(&r.go, 0, 0, None);
    }
}

/// Waits for the blocking thread, gives it time to sleep in the kernel, then
/// ends the whole thread group with exit_group(5).
extern "C" fn thread_exit_group(a: usize) -> i32 {
    let r: &Report = from_arg(a);
    wait_until(&r.ready, |v| v >= 1);
    let _ = nanosleep(&timespec::from_nanos(10 * MS), None);
    exit_group(5)
}

fn exit_group_in_thread(c: &mut Checker, st: Stacks) {
    let name = "exit_group(5) in a thread ends every thread: the process's status is 5";
    // In a child, so that this program survives: its main thread and one
    // thread block in FUTEX_WAIT, another thread calls exit_group(5).
    let child = fork_with(|| {
        let r = Report::default();
        let (t1, t2) = (AtomicU32::new(0), AtomicU32::new(0));
        if spawn_thread(st.top(0), 0, 0, &t1, thread_block, arg(&r)).is_err()
            || spawn_thread(st.top(1), 0, 0, &t2, thread_exit_group, arg(&r)).is_err()
        {
            return 100;
        }
        loop {
            let _ = futex_wait(&r.go, 0, 0, None);
        }
    });
    match child {
        Ok(p) => match reap_within(p) {
            Ok(WaitStatus::Exited(5)) => {
                c.check(name, true);
            }
            Ok(s) => c.fail(name, s),
            Err(why) => c.fail(name, why),
        },
        Err(e) => c.fail(name, e),
    }
}

/// The main thread's clear-child-tid word (set_tid_address) in the child of
/// `leader_exits_first`.
static LEADER_TID: AtomicU32 = AtomicU32::new(0);

/// Waits until the main thread has exited, tells the parent (fd `r.d`), waits
/// for its byte (fd `r.c`), then exit_group(6).
extern "C" fn thread_after_leader(a: usize) -> i32 {
    let r: &Report = from_arg(a);
    if !wait_until(&LEADER_TID, |v| v == 0) {
        exit_group(101);
    }
    let _ = write(r.d.load(SeqCst) as i32, b"g");
    let mut b = [0u8; 1];
    let _ = read(r.c.load(SeqCst) as i32, &mut b);
    exit_group(6)
}

fn leader_exits_first(c: &mut Checker, st: Stacks) {
    let (Ok([up_r, up_w]), Ok([down_r, down_w])) = (pipe2(O_CLOEXEC), pipe2(O_CLOEXEC)) else {
        c.fail("leader exits first: pipes", "pipe2 failed");
        return;
    };
    let child = fork_with(|| {
        // Leaked on purpose: the thread uses it after this thread is gone.
        let r = Report::default();
        r.d.store(up_w as usize, SeqCst);
        r.c.store(down_r as usize, SeqCst);
        let Ok(me) = set_tid_address(&LEADER_TID) else {
            return 100;
        };
        LEADER_TID.store(me as u32, SeqCst);
        let t = AtomicU32::new(0);
        if spawn_thread(st.top(0), 0, 0, &t, thread_after_leader, arg(&r)).is_err() {
            return 101;
        }
        // Only this thread ends; r and t stay valid (the stack is not freed).
        exit(3)
    });
    // Only the child keeps up_w: EOF for us if it dies early.
    let _ = close(up_w);
    match child {
        Ok(p) => {
            let mut b = [0u8; 1];
            let up = read(up_r, &mut b);
            c.check("the thread sees the main thread's exit (its clear-tid word)", up == Ok(1));
            let r = wait4(p as i32, None, WNOHANG);
            c.ok_eq("a process whose main thread exited is not reaped while a thread runs", r, 0);
            let _ = write(down_w, b"x");
            let name = "main thread exit(3), then exit_group(6) in the other thread: status 6";
            match reap_within(p) {
                Ok(WaitStatus::Exited(6)) => {
                    c.check(name, true);
                }
                Ok(s) => c.fail(name, s),
                Err(why) => c.fail(name, why),
            }
        }
        Err(e) => c.fail("leader exits first: fork", e),
    }
    for fd in [up_r, down_r, down_w] {
        let _ = close(fd);
    }
}

// ---- CLONE_PARENT, CLONE_SETTLS ---------------------------------------------------

/// 0 if the caller's parent is the pid in `a`.
extern "C" fn parent_is(a: usize) -> i32 {
    (getppid() != Ok(a)) as i32
}

fn clone_parent(c: &mut Checker) {
    let Ok([r, w]) = pipe2(O_CLOEXEC) else {
        c.fail("CLONE_PARENT: pipe2", "failed");
        return;
    };
    // In a child C: its CLONE_PARENT child is C's sibling, the program's child.
    let child = fork_with(|| {
        let grandparent = getppid().unwrap_or(0);
        // Exit signal 0 in the flags: CLONE_PARENT uses the caller's own (SIGCHLD).
        // SAFETY: a fork-like child on a copy of our memory.
        match unsafe { clone(CLONE_PARENT, 0, 0, 0, 0, parent_is, grandparent) } {
            Ok(s) => {
                let mut bits = 0;
                if wait4(s as i32, None, __WALL | WNOHANG) != Err(ECHILD) {
                    bits |= 1;
                }
                if write(w, &(s as u32).to_ne_bytes()) != Ok(4) {
                    bits |= 2;
                }
                bits
            }
            Err(_) => 7, // nothing else was tested
        }
    });
    // Only C (and the sibling, a copy of C) keep the write end: EOF if C fails.
    let _ = close(w);
    let Ok(child) = child else {
        c.fail("CLONE_PARENT: fork", "failed");
        let _ = close(r);
        return;
    };
    let mut b = [0u8; 4];
    let sibling = match read(r, &mut b) {
        Ok(4) => u32::from_ne_bytes(b) as usize,
        _ => 0,
    };
    c.reaped_bits(
        child,
        0,
        &[
            "CLONE_PARENT: the caller cannot wait for the new process (ECHILD)",
            "CLONE_PARENT: the caller reports the new pid",
            "CLONE_PARENT in a child: clone succeeds",
        ],
    );
    let name = "CLONE_PARENT: the new process's parent is the caller's parent, which reaps it with the caller's exit signal";
    if sibling != 0 {
        c.reaped_bits(sibling, 0, &[name]);
    } else {
        c.fail(name, "no new process");
    }
    let _ = close(r);
}

static TLS_BLOCK: [u64; 2] = [0x7115_b10c_0000_0001, 0];

fn read_fs0() -> u64 {
    let v: u64;
    // SAFETY: called only where FS points at TLS_BLOCK, a readable u64.
    unsafe { core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) v, options(nostack, readonly)) };
    v
}

/// Bits: 1 FS base is not `a`, 2 fs:[0] is not TLS_BLOCK[0].
extern "C" fn check_tls(a: usize) -> i32 {
    let mut bits = 0;
    if arch_get_fs() != Ok(a) {
        bits |= 1;
    } else if read_fs0() != TLS_BLOCK[0] {
        bits |= 2;
    }
    bits
}

extern "C" fn thread_tls(a: usize) -> i32 {
    let r: &Report = from_arg(a);
    r.a.store(arch_get_fs().unwrap_or(0), SeqCst);
    if r.a.load(SeqCst) == TLS_BLOCK.as_ptr() as usize {
        r.b.store(read_fs0() as usize, SeqCst);
    }
    0
}

fn settls(c: &mut Checker, st: Stacks) {
    let before = arch_get_fs();
    let tls = TLS_BLOCK.as_ptr() as usize;
    let sig = SIGCHLD as u64;
    // SAFETY: a fork-like child; only its FS base changes.
    match unsafe { clone(CLONE_SETTLS | sig, 0, 0, 0, tls, check_tls, tls) } {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "CLONE_SETTLS sets the child's FS base (ARCH_GET_FS)",
                "CLONE_SETTLS: fs:[0] reads the new TLS block",
            ],
        ),
        Err(e) => c.fail("clone CLONE_SETTLS", e),
    }
    c.check("CLONE_SETTLS leaves the parent's FS base", arch_get_fs() == before);
    let r = Report::default();
    let tid = AtomicU32::new(0);
    match spawn_thread(st.top(0), CLONE_SETTLS, tls, &tid, thread_tls, arg(&r)) {
        Ok(_) => {
            let joined = join(&tid);
            c.check("CLONE_SETTLS sets a thread's FS base", joined && r.a.load(SeqCst) == tls);
            c.check(
                "CLONE_SETTLS: the thread reads its TLS block through fs",
                r.b.load(SeqCst) as u64 == TLS_BLOCK[0],
            );
        }
        Err(e) => c.fail("clone a thread with CLONE_SETTLS", e),
    }
    c.check("a thread's CLONE_SETTLS leaves the caller's FS base", arch_get_fs() == before);
}

// ---- GS bases -------------------------------------------------------------------

static GS_WORDS: [u64; 2] = [0x6500_0000_0000_0001, 0x6500_0000_0000_0002];

fn read_gs0() -> u64 {
    let v: u64;
    // SAFETY: called only where GS points at one of GS_WORDS, a readable u64.
    unsafe { core::arch::asm!("mov {}, qword ptr gs:[0]", out(reg) v, options(nostack, readonly)) };
    v
}

/// ARCH_SET_GS in one process is not another's: parent and child set
/// different GS bases and read through gs while they take turns on the CPUs
/// (sched_yield), each must read its own word every time.
fn gs_bases(c: &mut Checker) {
    const ROUNDS: usize = 200;
    let at = |i: usize| &GS_WORDS[i] as *const u64 as usize;
    // SAFETY: nothing in this program uses GS-relative storage.
    if let Err(e) = unsafe { arch_prctl(ARCH_SET_GS, at(0)) } {
        return c.fail("arch_prctl ARCH_SET_GS", e);
    }
    let child = fork_with(|| {
        // SAFETY: as above.
        if unsafe { arch_prctl(ARCH_SET_GS, at(1)) }.is_err() {
            return 2;
        }
        let mut bad = 0;
        for _ in 0..ROUNDS {
            bad |= (read_gs0() != GS_WORDS[1]) as i32;
            let _ = sched_yield();
        }
        bad
    });
    let mut bad = false;
    for _ in 0..ROUNDS {
        bad |= read_gs0() != GS_WORDS[0];
        let _ = sched_yield();
    }
    match child {
        Ok(p) => c.reaped_bits(p, 0, &["the child reads its own GS base across switches"]),
        Err(e) => c.fail("fork for the GS check", e),
    }
    c.check("the parent keeps its GS base while the child has another", !bad);
    // SAFETY: as above; back to no GS base.
    let _ = unsafe { arch_prctl(ARCH_SET_GS, 0) };
}

// ---- exit signals -------------------------------------------------------------

static USR1_COUNT: AtomicU32 = AtomicU32::new(0);
static USR1_CODE: AtomicUsize = AtomicUsize::new(0);
static USR1_PID: AtomicUsize = AtomicUsize::new(0);
static USR1_STATUS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn usr1_info(_sig: i32, info: *mut siginfo_t, _uc: *mut ucontext) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let info = unsafe { &*info };
    USR1_CODE.store(info.si_code as usize, SeqCst);
    USR1_PID.store(info.si_pid() as usize, SeqCst);
    USR1_STATUS.store(info.si_status() as usize, SeqCst);
    let _ = USR1_COUNT.fetch_add(1, SeqCst);
}

extern "C" fn exit_3_after_go(a: usize) -> i32 {
    let fd = a as i32;
    let mut b = [0u8; 1];
    let _ = read(fd, &mut b);
    3
}

fn exit_signals(c: &mut Checker) {
    // Exit signal 0: only __WCLONE or __WALL see the child.
    let cases = [
        (
            "exit signal 0: wait4 without __WCLONE/__WALL ECHILD",
            "exit signal 0: waitid without __WCLONE/__WALL ECHILD",
            "exit signal 0: wait4 __WCLONE reaps the child",
            __WCLONE,
        ),
        (
            "exit signal 0 (second child): wait4 without __WCLONE/__WALL ECHILD",
            "exit signal 0 (second child): waitid without __WCLONE/__WALL ECHILD",
            "exit signal 0: wait4 __WALL reaps the child",
            __WALL,
        ),
    ];
    for (no_wait4, no_waitid, reaped, opt) in cases {
        // SAFETY: a fork-like child.
        match unsafe { clone(0, 0, 0, 0, 0, exit_12, 0) } {
            Ok(p) => {
                c.err(no_wait4, wait4(p as i32, None, 0), ECHILD);
                let mut info = siginfo_t::default();
                let r = waitid(P_PID, p as i32, Some(&mut info), WEXITED | WNOHANG);
                c.err(no_waitid, r, ECHILD);
                c.reaped(reaped, p, opt, WaitStatus::Exited(12));
            }
            Err(e) => c.fail("clone with exit signal 0", e),
        }
    }
    // A SIGCHLD child is invisible to __WCLONE.
    match pipe2(O_CLOEXEC) {
        Err(e) => c.fail("exit signals: pipe2", e),
        Ok([r, w]) => {
            // SAFETY: a fork-like child; it reads the pipe then exits 3.
            match unsafe { clone(SIGCHLD as u64, 0, 0, 0, 0, exit_3_after_go, r as usize) } {
                Ok(p) => {
                    let res = wait4(p as i32, None, __WCLONE | WNOHANG);
                    c.err("wait4 __WCLONE does not see a SIGCHLD child (ECHILD)", res, ECHILD);
                    let _ = write(w, b"x");
                    c.reaped(
                        "the SIGCHLD child is reaped by plain wait4",
                        p,
                        0,
                        WaitStatus::Exited(3),
                    );
                }
                Err(e) => c.fail("clone a SIGCHLD child", e),
            }
            let _ = close(r);
            let _ = close(w);
        }
    }
    // Exit signal SIGUSR1: the parent gets SIGUSR1 with the SIGCHLD-style siginfo.
    let act = new_sigaction(usr1_info as *const () as usize, SA_SIGINFO, 0);
    // SAFETY: usr1_info only stores into atomics.
    if unsafe { rt_sigaction(SIGUSR1, Some(&act), None) }.is_err() {
        c.fail("exit signal SIGUSR1: rt_sigaction", "failed");
        return;
    }
    USR1_COUNT.store(0, SeqCst);
    // SAFETY: a fork-like child.
    match unsafe { clone(SIGUSR1 as u64, 0, 0, 0, 0, exit_12, 0) } {
        Ok(p) => {
            c.reaped(
                "exit signal SIGUSR1: wait4 __WCLONE reaps the child",
                p,
                __WCLONE,
                WaitStatus::Exited(12),
            );
            c.check(
                "exit signal SIGUSR1: the parent's handler ran once",
                USR1_COUNT.load(SeqCst) == 1,
            );
            c.check(
                "exit signal SIGUSR1: si_code CLD_EXITED",
                USR1_CODE.load(SeqCst) == CLD_EXITED as usize,
            );
            c.check("exit signal SIGUSR1: si_pid is the child", USR1_PID.load(SeqCst) == p);
            c.check("exit signal SIGUSR1: si_status 12", USR1_STATUS.load(SeqCst) == 12);
        }
        Err(e) => c.fail("clone with exit signal SIGUSR1", e),
    }
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
}

// ---- what CLONE_VM, CLONE_FILES and CLONE_SIGHAND share ---------------------------

/// Closes fd `a.d`, opens a pipe and returns its fds as `read << 4 | write`
/// (both below 16), 0 on failure.
extern "C" fn files_child(a: usize) -> i32 {
    let r: &Report = from_arg(a);
    if close(r.d.load(SeqCst) as i32).is_err() {
        return 0;
    }
    match pipe2(O_CLOEXEC) {
        Ok([x, y]) if x < 16 && y < 16 => (x << 4) | y,
        _ => 0,
    }
}

extern "C" fn install_handler(_: usize) -> i32 {
    let act = new_sigaction(noop_handler as *const () as usize, 0, 0);
    // SAFETY: noop_handler does nothing.
    unsafe { rt_sigaction(SIGUSR2, Some(&act), None) }.is_err() as i32
}

fn sharing(c: &mut Checker, st: Stacks) {
    let sig = SIGCHLD as u64;
    let me = pid();
    // CLONE_VM without CLONE_THREAD: a separate process in our memory.
    let r = Report::default();
    // SAFETY: the child runs on its own stack and writes only r's atomics.
    match unsafe { clone(CLONE_VM | sig, st.top(0), 0, 0, 0, record_local, arg(&r)) } {
        Ok(p) => {
            c.reaped("CLONE_VM child (a process) is reaped by wait4", p, 0, WaitStatus::Exited(13));
            c.check("CLONE_VM: the parent sees the child's writes", r.b.load(SeqCst) == p);
            c.check("CLONE_VM without CLONE_THREAD: the child has its own pid", p != me);
            c.check(
                "CLONE_VM: the child runs on the given stack",
                st.contains(0, r.a.load(SeqCst)),
            );
        }
        Err(e) => c.fail("clone CLONE_VM", e),
    }
    // CLONE_FILES without CLONE_VM: one fd table. The child closes fd 20 (a
    // copy of ours) and opens a pipe (the lowest free fds, not 20).
    match dup2(1, 20) {
        Err(e) => c.fail("CLONE_FILES: dup2 to fd 20", e),
        Ok(hi) => {
            let r = Report::default();
            r.d.store(hi, SeqCst);
            // SAFETY: a child with a copy of our memory and our fd table.
            match unsafe { clone(CLONE_FILES | sig, 0, 0, 0, 0, files_child, arg(&r)) } {
                Ok(p) => {
                    // The child's memory is a copy: it reports the pipe's fds in its status.
                    let mut st = 0;
                    let ok = wait4(p as i32, Some(&mut st), 0) == Ok(p);
                    let ws = WaitStatus::from_raw(st);
                    let (x, y) = match ws {
                        WaitStatus::Exited(v) if ok && v != 0 => (v >> 4, v & 15),
                        _ => (-1, -1),
                    };
                    c.check("CLONE_FILES child reports its new fds", x > 0 && y > 0);
                    let r1 = fcntl(hi as i32, F_GETFD, 0);
                    c.err("CLONE_FILES: the child's close closed the parent's fd", r1, EBADF);
                    let open = fcntl(x, F_GETFD, 0).is_ok() && fcntl(y, F_GETFD, 0).is_ok();
                    c.check("CLONE_FILES: fds the child opened are open in the parent", open);
                    let _ = close(x);
                    let _ = close(y);
                }
                Err(e) => c.fail("clone CLONE_FILES", e),
            }
            let _ = close(hi as i32);
        }
    }
    // CLONE_SIGHAND (with CLONE_VM): one table of signal handlers.
    let flags = CLONE_SIGHAND | CLONE_VM | sig;
    // SAFETY: the child runs on its own stack; it only changes SIGUSR2's action.
    match unsafe { clone(flags, st.top(0), 0, 0, 0, install_handler, 0) } {
        Ok(p) => {
            c.reaped("CLONE_SIGHAND child exits 0", p, 0, WaitStatus::Exited(0));
            let h = sigaction_get(SIGUSR2).map(|a| a.sa_handler);
            c.check(
                "CLONE_SIGHAND: the child's rt_sigaction changed the parent's handler",
                h == Ok(noop_handler as *const () as usize),
            );
        }
        Err(e) => c.fail("clone CLONE_SIGHAND|CLONE_VM", e),
    }
    let _ = signal_disposition(SIGUSR2, SIG_DFL);
    own_handlers_after_fork(c);
}

/// Without CLONE_SIGHAND each side has its own table, equal to the parent's
/// at the fork: a change on either side after it is not seen by the other
/// (the kernel shares the table until the first change).
fn own_handlers_after_fork(c: &mut Checker) {
    let noop = noop_handler as *const () as usize;
    let act = new_sigaction(noop, 0, 0);
    // SAFETY: noop_handler does nothing.
    let (Ok(_), Ok([r, w])) =
        (unsafe { rt_sigaction(SIGUSR2, Some(&act), None) }, pipe2(O_CLOEXEC))
    else {
        c.fail("fork's own handlers: rt_sigaction or pipe2", "failed");
        return;
    };
    // The child changes SIGUSR1 at once; it checks SIGUSR2 once the parent
    // has changed its own (the byte on the pipe), then exits with a bit per
    // failed check.
    let child = fork_with(|| {
        let _ = close(w);
        let set = signal_disposition(SIGUSR1, SIG_IGN);
        let mut bits =
            (set.is_err() || sigaction_get(SIGUSR1).map(|a| a.sa_handler) != Ok(SIG_IGN)) as i32;
        let mut b = [0u8; 1];
        if read(r, &mut b) != Ok(1) {
            return 4;
        }
        if sigaction_get(SIGUSR2).map(|a| a.sa_handler) != Ok(noop) {
            bits |= 2;
        }
        bits
    });
    let _ = close(r);
    match child {
        Ok(p) => {
            let set = signal_disposition(SIGUSR2, SIG_IGN);
            let _ = write(w, b"x");
            c.reaped_bits(
                p,
                0,
                &[
                    "fork: the child sets its own SIGUSR1 action",
                    "fork: the parent's change after the fork leaves the child's handler",
                    "fork: the child is told to check",
                ],
            );
            c.check("fork: the parent changes its SIGUSR2 action", set.is_ok());
            c.check(
                "fork: the child's change leaves the parent's SIGUSR1 at SIG_DFL",
                sigaction_get(SIGUSR1).map(|a| a.sa_handler) == Ok(SIG_DFL),
            );
        }
        Err(e) => c.fail("fork's own handlers: fork", e),
    }
    let _ = close(w);
    let _ = signal_disposition(SIGUSR1, SIG_DFL);
    let _ = signal_disposition(SIGUSR2, SIG_DFL);
}

// ---- x87/SSE registers ---------------------------------------------------------

/// Load xmm0-15 from `xmm` and MXCSR from `mxcsr`. Compiled code on this
/// target never uses them (no SSE), so they keep these values until changed
/// here or by the kernel.
fn load_fpu(xmm: &[u64; 32], mxcsr: &u32) {
    // SAFETY: reads 256 bytes at `xmm` and 4 at `mxcsr`, both live; the xmm
    // registers and MXCSR are not used by compiled code on this target.
    unsafe {
        core::arch::asm!(
            "movdqu xmm0, [{p}]", "movdqu xmm1, [{p} + 16]", "movdqu xmm2, [{p} + 32]",
            "movdqu xmm3, [{p} + 48]", "movdqu xmm4, [{p} + 64]", "movdqu xmm5, [{p} + 80]",
            "movdqu xmm6, [{p} + 96]", "movdqu xmm7, [{p} + 112]", "movdqu xmm8, [{p} + 128]",
            "movdqu xmm9, [{p} + 144]", "movdqu xmm10, [{p} + 160]", "movdqu xmm11, [{p} + 176]",
            "movdqu xmm12, [{p} + 192]", "movdqu xmm13, [{p} + 208]", "movdqu xmm14, [{p} + 224]",
            "movdqu xmm15, [{p} + 240]", "ldmxcsr [{m}]",
            p = in(reg) xmm.as_ptr(), m = in(reg) mxcsr as *const u32, options(nostack, readonly),
        )
    }
}

/// xmm0-15 and MXCSR as they are now.
fn store_fpu() -> ([u64; 32], u32) {
    let (mut xmm, mut mxcsr) = ([0u64; 32], 0u32);
    // SAFETY: writes 256 bytes at `xmm` and 4 at `mxcsr`, both live locals.
    unsafe {
        core::arch::asm!(
            "movdqu [{p}], xmm0", "movdqu [{p} + 16], xmm1", "movdqu [{p} + 32], xmm2",
            "movdqu [{p} + 48], xmm3", "movdqu [{p} + 64], xmm4", "movdqu [{p} + 80], xmm5",
            "movdqu [{p} + 96], xmm6", "movdqu [{p} + 112], xmm7", "movdqu [{p} + 128], xmm8",
            "movdqu [{p} + 144], xmm9", "movdqu [{p} + 160], xmm10", "movdqu [{p} + 176], xmm11",
            "movdqu [{p} + 192], xmm12", "movdqu [{p} + 208], xmm13", "movdqu [{p} + 224], xmm14",
            "movdqu [{p} + 240], xmm15", "stmxcsr [{m}]",
            p = in(reg) xmm.as_mut_ptr(), m = in(reg) &mut mxcsr as *mut u32, options(nostack),
        )
    }
    (xmm, mxcsr)
}

/// A forked child starts with its parent's x87/SSE registers as they were at
/// the fork (Linux `fpu_clone`), and the parent keeps them: xmm0-15 hold a
/// pattern and MXCSR rounds toward zero with every exception masked.
fn fpu_registers(c: &mut Checker) {
    let mut xmm = [0u64; 32];
    for (i, w) in xmm.iter_mut().enumerate() {
        *w = 0x0123_4567_89ab_cdefu64.rotate_left(i as u32 * 5) ^ i as u64;
    }
    let (mxcsr, default) = (0x7f80u32, 0x1f80u32);
    load_fpu(&xmm, &mxcsr);
    let child = fork_with(|| {
        let (x, m) = store_fpu();
        (x != xmm) as i32 | ((m != mxcsr) as i32) << 1
    });
    let (x, m) = store_fpu();
    load_fpu(&[0; 32], &default);
    match child {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "fork: the child starts with the parent's xmm0-15",
                "fork: the child starts with the parent's MXCSR",
            ],
        ),
        Err(e) => c.fail("fork (x87/SSE registers)", e),
    }
    c.check("fork: the parent keeps its xmm0-15 and MXCSR", x == xmm && m == mxcsr);
}

// ---- RLIMIT_NPROC ---------------------------------------------------------------

fn nproc(c: &mut Checker) {
    let one = rlimit { rlim_cur: 1, rlim_max: 1 };
    // Root (uid 0) is exempt.
    let root = fork_with(|| {
        if setrlimit(RLIMIT_NPROC, &one).is_err() {
            return 1;
        }
        match fork() {
            Ok(0) => exit_group(0),
            Ok(p) => (wait4(p as i32, None, 0) != Ok(p)) as i32 * 2,
            Err(_) => 4,
        }
    });
    match root {
        Ok(p) => {
            c.reaped("root forks despite RLIMIT_NPROC 1", p, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("root forks despite RLIMIT_NPROC 1", e),
    }

    let Ok([rep_r, rep_w]) = pipe2(O_CLOEXEC) else {
        c.fail("RLIMIT_NPROC: pipe2", "failed");
        return;
    };
    let uid = (UID_BASE + pid()) as u32;
    let child = fork_with(|| {
        let bits = as_other_uid(uid);
        (write(rep_w, &bits.to_ne_bytes()) != Ok(4)) as i32
    });
    // Only the child keeps rep_w: EOF for us if it dies early.
    let _ = close(rep_w);
    let names = [
        "setgid and setuid to another uid (dropping root)",
        "setuid(0) after dropping root EPERM",
        "RLIMIT_NPROC 20: 19 forks succeed, the 20th process fails EAGAIN",
        "the fork bomb's children exit and are all reaped",
        "after reaping, the uid forks again",
        "RLIMIT_NPROC 2: a zombie child still counts (fork EAGAIN)",
        "RLIMIT_NPROC 2: after reaping the zombie, fork works",
        "RLIMIT_NPROC 1: fork EAGAIN (the caller is the uid's one process)",
        "raising the hard RLIMIT_NPROC without privilege EPERM",
    ];
    match child {
        Ok(p) => {
            let mut b = [0u8; 4];
            let bits = match read(rep_r, &mut b) {
                Ok(4) => u32::from_ne_bytes(b),
                _ => u32::MAX,
            };
            for (i, n) in names.iter().enumerate() {
                c.check(n, bits & (1 << i) == 0);
            }
            c.reaped("the RLIMIT_NPROC child exits 0", p, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("RLIMIT_NPROC: fork", e),
    }
    let _ = close(rep_r);
    match fork_with(|| 0) {
        Ok(p) => {
            c.reaped("root still forks after the fork bomb", p, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("root still forks after the fork bomb", e),
    }
}

/// In a child running as root: becomes `uid` and checks RLIMIT_NPROC; returns
/// the failed steps as bits (see the names in `nproc`); a step that cannot
/// run marks itself and every later step failed.
fn as_other_uid(uid: u32) -> u32 {
    let mut bits = 0;
    if setgid(uid).is_err()
        || setuid(uid).is_err()
        || getuid() != Ok(uid as usize)
        || geteuid() != Ok(uid as usize)
    {
        return u32::MAX; // nothing else was tested
    }
    if setuid(0) != Err(EPERM) {
        bits |= 2;
    }
    // A bounded fork bomb: each child waits for EOF on the pipe.
    let limit = |n: u64| setrlimit(RLIMIT_NPROC, &rlimit { rlim_cur: n, rlim_max: n });
    if limit(20).is_err() {
        return bits | (u32::MAX << 2);
    }
    let Ok([r, w]) = pipe2(O_CLOEXEC) else {
        return bits | (u32::MAX << 2);
    };
    let mut pids = [0usize; 32];
    let mut n = 0;
    let mut error = None;
    while n < pids.len() {
        match fork_with(|| {
            let _ = close(w);
            let mut b = [0u8; 1];
            let _ = read(r, &mut b);
            0
        }) {
            Ok(p) => {
                pids[n] = p;
                n += 1;
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // The uid is unused, so its count is exact: the caller plus 19 children.
    if n != 19 || error != Some(EAGAIN) {
        bits |= 4;
    }
    let _ = close(w);
    let reaped = pids[..n].iter().filter(|&&p| {
        let mut st = 0;
        wait4(p as i32, Some(&mut st), 0) == Ok(p) && st == 0
    });
    if reaped.count() != n {
        bits |= 8;
    }
    let _ = close(r);
    match fork() {
        Ok(0) => exit_group(0),
        Ok(p) => {
            let _ = wait4(p as i32, None, 0);
        }
        Err(_) => bits |= 16,
    }
    // A zombie counts until it is reaped.
    if limit(2).is_err() {
        return bits | (u32::MAX << 5);
    }
    match fork() {
        Ok(0) => exit_group(0),
        Ok(z) => {
            // Wait until it is a zombie, without reaping it.
            let mut info = siginfo_t::default();
            let _ = waitid(P_PID, z as i32, Some(&mut info), WEXITED | WNOWAIT);
            match fork() {
                Ok(0) => exit_group(0),
                Ok(p) => {
                    let _ = wait4(p as i32, None, 0);
                    bits |= 32;
                }
                Err(EAGAIN) => {}
                Err(_) => bits |= 32,
            }
            let _ = wait4(z as i32, None, 0);
            match fork() {
                Ok(0) => exit_group(0),
                Ok(p) => {
                    let _ = wait4(p as i32, None, 0);
                }
                Err(_) => bits |= 64,
            }
        }
        Err(_) => bits |= 32,
    }
    if limit(1).is_err() {
        return bits | (u32::MAX << 7);
    }
    match fork() {
        Ok(0) => exit_group(0),
        Ok(p) => {
            let _ = wait4(p as i32, None, 0);
            bits |= 128;
        }
        Err(EAGAIN) => {}
        Err(_) => bits |= 128,
    }
    if limit(2) != Err(EPERM) {
        bits |= 256;
    }
    bits
}
