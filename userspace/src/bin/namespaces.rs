//! PID and UTS namespaces as Linux has them (kernel/pid_namespace.c,
//! kernel/nsproxy.c, kernel/utsname.c): a CLONE_NEWPID child is pid 1 of its
//! namespace with parent 0, every pid a process sees (getpid, getppid, fork's
//! result, wait, waitid, CLONE_*_SETTID, getpgid) is its own namespace's
//! number, numbers are not reused at once, orphans go to the namespace's init,
//! the init ignores SIGKILL from inside and signals it has no handler for from
//! outside, its end kills everything in the namespace before its parent reaps
//! it, and a dead namespace takes no new process; unshare(CLONE_NEWPID) places
//! the caller's next child there; CLONE_NEWUTS and unshare(CLONE_NEWUTS) give a
//! private host and domain name; all of it needs root (EPERM otherwise).
//! Last, unshare of what is not a namespace: CLONE_FS and CLONE_FILES make a
//! shared umask or fd table private, and shared handlers cannot be unshared.
//!
//! Run as root (the guest's pid 1 is). One line per check; children never
//! print, they report failed steps as bits through pipes. Every
//! `sethostname` happens in a new UTS namespace only, so a run on the host
//! never renames the host.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use userspace::syscall::{syscall1, syscall2};
use userspace::*;

userspace::entry!(main);

/// A uid for the unprivileged checks.
const OTHER_UID: u32 = 4321;

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    newpid_basics(&mut c);
    clone3_newpid(&mut c);
    orphans(&mut c);
    zap(&mut c);
    signals_from_outside(&mut c);
    unshare_pid(&mut c);
    unprivileged(&mut c);
    uts(&mut c);
    unshare_uts(&mut c);
    unshare_other(&mut c);
    c.err("no child left at the end", wait4(-1, None, __WALL | WNOHANG), ECHILD);
    c.status()
}

// ---- helpers ------------------------------------------------------------------

fn unshare(flags: u64) -> SysResult {
    // SAFETY: no memory is passed.
    userspace::errno::result(unsafe { syscall1(nr::__NR_unshare, flags as usize) })
}

/// `sethostname(ptr, len)` with any pointer and length (the checks use bad ones).
fn sethostname_raw(ptr: usize, len: isize) -> SysResult {
    // SAFETY: the kernel only reads `len` bytes at `ptr`, or fails with EFAULT.
    userspace::errno::result(unsafe { syscall2(nr::__NR_sethostname, ptr, len as usize) })
}

fn sethostname(name: &[u8]) -> SysResult {
    sethostname_raw(name.as_ptr() as usize, name.len() as isize)
}

fn setdomainname(name: &[u8]) -> SysResult {
    // SAFETY: the kernel only reads the bytes of `name`.
    userspace::errno::result(unsafe {
        syscall2(nr::__NR_setdomainname, name.as_ptr() as usize, name.len())
    })
}

fn names() -> new_utsname {
    let mut u = new_utsname::default();
    let _ = uname(&mut u);
    u
}

fn same_names(a: &new_utsname, b: &new_utsname) -> bool {
    a.sysname == b.sysname
        && a.nodename == b.nodename
        && a.release == b.release
        && a.version == b.version
        && a.machine == b.machine
        && a.domainname == b.domainname
}

fn ppid() -> usize {
    getppid().unwrap_or(usize::MAX)
}

/// A child made by `clone(flags | SIGCHLD)` on a copy of our stack, running
/// `f(arg)`: its pid as we see it.
fn spawn(flags: u64, f: ChildFn, arg: usize) -> SysResult {
    // SAFETY: without CLONE_VM the child runs on its own copy of our memory.
    unsafe { clone(flags | SIGCHLD as u64, 0, 0, 0, 0, f, arg) }
}

/// What a child that reports through a pipe gets: the pipe's write end.
#[repr(C)]
struct Report {
    w: i32,
}

/// Reads the failure bits child `pid` wrote to `r`, prints one line per name
/// (bit i = `names[i]` failed) and reaps the child, which must exit 0.
fn expect_report(c: &mut Checker, pid: usize, r: i32, names: &[&str]) {
    let bits = get_u32(r).unwrap_or(u32::MAX);
    for (i, n) in names.iter().enumerate() {
        c.check(n, bits & (1 << i) == 0);
    }
    let st = reap(pid);
    if st != Some(WaitStatus::Exited(0)) {
        c.fail("the reporting child exits 0", format_args!("{:?}", st.map(|s| s.term_signal())));
    }
}

/// Runs `f(w)` in a child made with `flags` and checks its report.
fn run_reporting(c: &mut Checker, what: &str, flags: u64, f: ChildFn, names: &[&str]) -> usize {
    let [r, w] = pipe();
    let rep = Report { w };
    match spawn(flags, f, &rep as *const Report as usize) {
        Ok(p) => {
            let _ = close(w);
            expect_report(c, p, r, names);
            let _ = close(r);
            p
        }
        Err(e) => {
            c.fail(what, e);
            close_all(&[r, w]);
            0
        }
    }
}

/// The child side: `bits` to the report pipe, exit 0.
fn send_report(arg: usize, bits: u32) -> i32 {
    // SAFETY: arg points to the parent's Report, copied into our memory.
    let rep = unsafe { &*(arg as *const Report) };
    if put_u32(rep.w, bits) {
        0
    } else {
        1
    }
}

extern "C" fn exit_0(_: usize) -> i32 {
    0
}

// ---- CLONE_NEWPID -----------------------------------------------------------------

static CHILD_TID: AtomicU32 = AtomicU32::new(0);

extern "C" fn grandchild_2(_: usize) -> i32 {
    ((pid() != 2) as i32) | ((ppid() != 1) as i32) << 1
}

extern "C" fn nested_init(_: usize) -> i32 {
    ((pid() != 1) as i32) | ((ppid() != 0) as i32) << 1 | ((gettid() != Ok(1)) as i32) << 2
}

extern "C" fn newpid_child(arg: usize) -> i32 {
    let mut bits = 0u32;
    let mut fail = |i: u32, bad: bool| {
        if bad {
            bits |= 1 << i;
        }
    };
    fail(0, pid() != 1);
    fail(1, gettid() != Ok(1));
    fail(2, ppid() != 0);
    fail(3, CHILD_TID.load(Ordering::SeqCst) != 1);
    fail(4, getpgid(0) != Ok(0) || getsid(0) != Ok(0));
    // A child of the init: pid 2, parent 1, reaped as 2.
    match spawn(0, grandchild_2, 0) {
        Ok(g) => {
            let mut st = -1;
            let r = wait4(-1, Some(&mut st), 0);
            fail(5, g != 2 || r != Ok(2) || st != 0);
        }
        Err(_) => fail(5, true),
    }
    match fork_with(|| 5) {
        Ok(g) => {
            let mut info = siginfo_t::default();
            let r = waitid(P_PID, g as i32, Some(&mut info), WEXITED);
            fail(6, g != 3 || r != Ok(0) || info.si_pid() != 3 || info.si_status() != 5);
        }
        Err(_) => fail(6, true),
    }
    // The init ignores SIGKILL and SIGTERM from its own namespace (itself here;
    // never kill(0): the process group is the one outside).
    fail(7, kill(1, SIGKILL) != Ok(0) || kill(1, SIGTERM) != Ok(0));
    fail(8, setsid() != Ok(1) || getpgid(0) != Ok(1) || getsid(0) != Ok(1));
    // Freed numbers are not reused at once.
    let a = fork_with(|| 0).unwrap_or(0);
    let _ = reap(a);
    let b = fork_with(|| 0).unwrap_or(0);
    let _ = reap(b);
    fail(9, a != 4 || b != 5);
    // An init may not make siblings (it has no parent in its namespace).
    fail(10, spawn(CLONE_PARENT, exit_0, 0) != Err(EINVAL));
    // A namespace inside this one: its init is 1 there, 6 here.
    match spawn(CLONE_NEWPID, nested_init, 0) {
        Ok(n) => fail(11, n != 6 || reap(n) != Some(WaitStatus::Exited(0))),
        Err(_) => fail(11, true),
    }
    fail(12, kill(6, 0) != Err(ESRCH));
    send_report(arg, bits)
}

fn newpid_basics(c: &mut Checker) {
    let me = pid();
    let [r, w] = pipe();
    let rep = Report { w };
    let parent_tid = AtomicU32::new(0);
    CHILD_TID.store(0, Ordering::SeqCst);
    let flags = CLONE_NEWPID | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | SIGCHLD as u64;
    // SAFETY: no CLONE_VM: the child runs on a copy of our memory; the tid
    // words are live for the whole call.
    let child = unsafe {
        clone(
            flags,
            0,
            parent_tid.as_ptr() as usize,
            CHILD_TID.as_ptr() as usize,
            0,
            newpid_child,
            &rep as *const Report as usize,
        )
    };
    let _ = close(w);
    let Ok(child) = child else {
        c.fail("clone(CLONE_NEWPID) as root", child.unwrap_err());
        let _ = close(r);
        return;
    };
    c.check("clone(CLONE_NEWPID) returns the child's pid in the caller's namespace", {
        child > 0 && child != me && child != 1
    });
    c.check(
        "CLONE_PARENT_SETTID writes the pid the parent sees",
        parent_tid.load(Ordering::SeqCst) == child as u32,
    );
    c.check(
        "CLONE_CHILD_SETTID does not touch the parent's word",
        CHILD_TID.load(Ordering::SeqCst) == 0,
    );
    let bits = get_u32(r).unwrap_or(u32::MAX);
    let names = [
        "CLONE_NEWPID: the child's getpid is 1",
        "CLONE_NEWPID: the child's gettid is 1",
        "CLONE_NEWPID: the init's getppid is 0 (its parent is outside)",
        "CLONE_NEWPID: CLONE_CHILD_SETTID writes 1, the child's own view",
        "CLONE_NEWPID: getpgid and getsid of an outside group read 0",
        "in the namespace: the init's first child is pid 2 with parent 1, reaped as 2",
        "in the namespace: waitid's si_pid is the namespace's number (3)",
        "the init ignores SIGKILL and SIGTERM sent from its own namespace",
        "in the namespace: setsid returns 1 and getpgid/getsid read 1",
        "in the namespace: freed pids are not reused at once (4 then 5)",
        "the init of a namespace: clone(CLONE_PARENT) EINVAL",
        "a nested namespace: its init is 1 there, 6 one level up, parent 0",
        "the nested namespace's init is gone after it is reaped",
    ];
    for (i, n) in names.iter().enumerate() {
        c.check(n, bits & (1 << i) == 0);
    }
    let mut info = siginfo_t::default();
    let rr = waitid(P_PID, child as i32, Some(&mut info), WEXITED);
    c.check(
        "the parent reaps the namespace's init: si_pid as the parent sees it, status 0",
        rr == Ok(0) && info.si_pid() == child as i32 && info.si_status() == 0,
    );
    let _ = close(r);
}

extern "C" fn clone3_child(_: usize) -> i32 {
    ((pid() != 1) as i32) | ((ppid() != 0) as i32) << 1
}

fn clone3_newpid(c: &mut Checker) {
    let args = clone_args {
        flags: CLONE_NEWPID | CLONE_NEWUTS,
        exit_signal: SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: no CLONE_VM: the child runs on a copy of our memory.
    let r = unsafe { clone3(&args, core::mem::size_of::<clone_args>(), clone3_child, 0) };
    match r {
        Ok(p) => {
            let st = reap(p);
            c.check(
                "clone3(CLONE_NEWPID|CLONE_NEWUTS): pid 1 and parent 0 in the child",
                st == Some(WaitStatus::Exited(0)),
            );
        }
        Err(e) => c.fail("clone3(CLONE_NEWPID|CLONE_NEWUTS): pid 1 and parent 0 in the child", e),
    }
}

// ---- orphans ----------------------------------------------------------------------

extern "C" fn orphans_init(arg: usize) -> i32 {
    let mut bits = 0u32;
    let [r, w] = pipe();
    // A (pid 2) forks B (pid 3), tells the init, and exits; B waits to be adopted.
    let a = fork_with(|| {
        let b = fork_with(|| {
            let _ = close(r);
            let before = ppid();
            let _ = close(w); // B started
            let adopted = eventually(|| ppid() == 1);
            ((before != 2) as i32) | ((!adopted) as i32) << 1
        });
        let _ = close(w);
        wait_on(r); // EOF: B has started
        if b == Ok(3) {
            0
        } else {
            9
        }
    });
    let _ = close(w);
    let _ = close(r);
    if a != Ok(2) || reap(2) != Some(WaitStatus::Exited(0)) {
        bits |= 1;
    }
    let mut st = -1;
    let got = wait4(-1, Some(&mut st), 0);
    if got != Ok(3) {
        bits |= 2;
    }
    match WaitStatus::from_raw(st) {
        WaitStatus::Exited(b) => bits |= (b as u32) << 2,
        _ => bits |= 0b1100,
    }
    send_report(arg, bits)
}

fn orphans(c: &mut Checker) {
    run_reporting(
        c,
        "orphans: clone(CLONE_NEWPID)",
        CLONE_NEWPID,
        orphans_init,
        &[
            "orphans: the init's child (2) made a grandchild (3) and exited",
            "orphans: the init reaps the orphan with wait4(-1)",
            "orphans: the orphan's parent was 2",
            "orphans: the orphan's parent becomes the namespace's init (1)",
        ],
    );
}

// ---- the init's end ---------------------------------------------------------------

/// The pipes of the zap check: `ready` gets a byte from each process that
/// must be killed; every one of them holds `alive_w` open.
#[repr(C)]
struct ZapPipes {
    ready_w: i32,
    ready_r: i32,
    alive_w: i32,
    never_r: i32,
    never_w: i32,
}

fn block_forever(p: &ZapPipes) -> i32 {
    let _ = close(p.ready_r);
    let _ = close(p.never_w);
    let _ = write(p.ready_w, b"r");
    let _ = close(p.ready_w);
    wait_on(p.never_r);
    99
}

extern "C" fn zap_blocker(arg: usize) -> i32 {
    // SAFETY: arg points to the ZapPipes in our copy of the parent's memory.
    block_forever(unsafe { &*(arg as *const ZapPipes) })
}

/// The processes of the doomed namespace besides its init.
const DOOMED: usize = 6;

extern "C" fn zap_init(arg: usize) -> i32 {
    // SAFETY: arg points to the ZapPipes in our copy of the parent's memory.
    let p = unsafe { &*(arg as *const ZapPipes) };
    // Three children, a grandchild and a nested namespace's init.
    for _ in 0..3 {
        let _ = fork_with(|| block_forever(p));
    }
    let _ = fork_with(|| {
        let _ = fork_with(|| block_forever(p));
        block_forever(p)
    });
    let _ = spawn(CLONE_NEWPID, zap_blocker, arg);
    // The init holds neither the write end the parent waits on nor the ready pipe.
    let _ = close(p.alive_w);
    let _ = close(p.ready_w);
    let mut b = [0u8; 1];
    let mut n = 0;
    while read(p.ready_r, &mut b) == Ok(1) {
        n += 1;
        if n == DOOMED {
            break;
        }
    }
    if n == DOOMED {
        7
    } else {
        8
    }
}

fn zap(c: &mut Checker) {
    let [ready_r, ready_w] = pipe();
    let [alive_r, alive_w] = pipe2(O_CLOEXEC | O_NONBLOCK).unwrap_or([-1, -1]);
    let [never_r, never_w] = pipe();
    let p = ZapPipes { ready_w, ready_r, alive_w, never_r, never_w };
    let init = spawn(CLONE_NEWPID, zap_init, &p as *const ZapPipes as usize);
    close_all(&[ready_r, ready_w, alive_w, never_r]);
    let Ok(init) = init else {
        c.fail("zap: clone(CLONE_NEWPID)", init.unwrap_err());
        close_all(&[alive_r, never_w]);
        return;
    };
    let st = reap(init);
    c.check(
        "the init's exit status reaches its parent (7: it saw all 6 processes start)",
        st == Some(WaitStatus::Exited(7)),
    );
    let mut b = [0u8; 1];
    c.ok_eq(
        "when the init is reaped, every process of its namespace (nested ones too) is gone",
        read(alive_r, &mut b),
        0,
    );
    close_all(&[alive_r, never_w]);
}

// ---- signals from outside -----------------------------------------------------------

extern "C" fn waiting_init(arg: usize) -> i32 {
    // SAFETY: arg points to three fds in our copy of the parent's memory.
    let [go_r, ready_w, go_w] = unsafe { *(arg as *const [i32; 3]) };
    let _ = close(go_w);
    // A child to be killed with the init.
    let _ = fork_with(|| {
        wait_on(go_r);
        0
    });
    let _ = write(ready_w, b"r");
    wait_on(go_r);
    3
}

fn signals_from_outside(c: &mut Checker) {
    for (sig, name, want) in [
        (
            SIGTERM,
            "SIGTERM from the parent namespace is ignored by an init without a handler",
            WaitStatus::Exited(3),
        ),
        (
            SIGKILL,
            "SIGKILL from the parent namespace kills the init",
            WaitStatus::Signaled(SIGKILL, false),
        ),
    ] {
        let [go_r, go_w] = pipe();
        let [ready_r, ready_w] = pipe();
        let fds = [go_r, ready_w, go_w];
        let init = spawn(CLONE_NEWPID, waiting_init, &fds as *const [i32; 3] as usize);
        let _ = close(ready_w);
        let _ = close(go_r);
        let Ok(init) = init else {
            c.fail(name, init.unwrap_err());
            close_all(&[go_w, ready_r]);
            continue;
        };
        wait_on(ready_r);
        let sent = kill(init as i32, sig);
        // The init goes on only if it survived: EOF releases it (and its child).
        let _ = close(go_w);
        let st = reap(init);
        c.check(name, sent == Ok(0) && st == Some(want));
        let _ = close(ready_r);
    }
}

// ---- unshare(CLONE_NEWPID) ----------------------------------------------------------

const STACK: usize = 64 * 1024;

/// In a child of the program; `report_r`/`report_w`: a pipe on which its
/// children say whether their pids were right.
fn unshare_pid_child(report_r: i32, report_w: i32) -> u32 {
    let mut bits = 0u32;
    let mut fail = |i: u32, bad: bool| {
        if bad {
            bits |= 1 << i;
        }
    };
    let before = pid();
    fail(0, unshare(CLONE_NEWPID) != Ok(0));
    fail(1, pid() != before || ppid() == 0);
    fail(2, unshare(CLONE_NEWPID) != Err(EINVAL));
    fail(3, spawn(CLONE_NEWPID, exit_0, 0) != Err(EINVAL));
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh private mapping only a (wrongly created) thread would use.
    let stack = unsafe { mmap(0, STACK, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }.unwrap_or(0);
    let thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
    // SAFETY: a thread, if the kernel made one, runs exit_0 on its own stack.
    let t = unsafe { clone(thread, stack + STACK, 0, 0, 0, exit_0, 0) };
    fail(4, t != Err(EINVAL));
    let [go_r, go_w] = pipe();
    let [never_r, never_w] = pipe();
    // The first child is the new namespace's init.
    let g1 = fork_with(|| {
        let _ = close(go_w);
        let ok = pid() == 1 && ppid() == 0;
        let _ = put_u32(report_w, ok as u32);
        wait_on(go_r);
        3
    });
    let first = get_u32(report_r) == Some(1);
    fail(5, g1.is_err() || !first);
    let g2 = fork_with(|| {
        let _ = close(go_w);
        let _ = close(never_w);
        let ok = pid() == 2 && ppid() == 0;
        let _ = put_u32(report_w, ok as u32);
        wait_on(never_r);
        4
    });
    let second = get_u32(report_r) == Some(1);
    fail(6, g2.is_err() || !second);
    close_all(&[go_r, never_r]);
    // The init exits: the second child is killed and reaped by us first (the
    // init waits until it is gone), then the init.
    let _ = close(go_w);
    let mut st = 0;
    let r1 = wait4(-1, Some(&mut st), 0);
    fail(7, r1 != g2 || WaitStatus::from_raw(st) != WaitStatus::Signaled(SIGKILL, false));
    let r2 = wait4(-1, Some(&mut st), 0);
    fail(8, r2 != g1 || WaitStatus::from_raw(st) != WaitStatus::Exited(3));
    let _ = close(never_w);
    // A dead namespace takes no process.
    let late = fork_with(|| 0);
    if let Ok(p) = late {
        let _ = reap(p);
    }
    fail(9, late != Err(ENOMEM));
    bits
}

fn unshare_pid(c: &mut Checker) {
    let [rep_r, rep_w] = pipe();
    let [gc_r, gc_w] = pipe();
    let child = fork_with(|| {
        let _ = close(rep_r);
        let bits = unshare_pid_child(gc_r, gc_w);
        (!put_u32(rep_w, bits)) as i32
    });
    close_all(&[rep_w, gc_r, gc_w]);
    match child {
        Ok(p) => expect_report(
            c,
            p,
            rep_r,
            &[
                "unshare(CLONE_NEWPID) as root",
                "unshare(CLONE_NEWPID) leaves the caller's own pid and parent",
                "a second unshare(CLONE_NEWPID) before the first child EINVAL",
                "clone(CLONE_NEWPID) after unshare(CLONE_NEWPID) EINVAL",
                "a thread after unshare(CLONE_NEWPID) EINVAL",
                "the next child is pid 1 of the new namespace, parent 0",
                "the child after it is pid 2 there, parent 0",
                "the init's end kills the other process, which its parent outside reaps first",
                "then the init is reaped with its exit status",
                "fork into the namespace whose init has exited ENOMEM",
            ],
        ),
        Err(e) => c.fail("unshare: fork", e),
    }
    let _ = close(rep_r);
}

// ---- privilege ----------------------------------------------------------------------

extern "C" fn unprivileged_child(arg: usize) -> i32 {
    let mut bits = 0u32;
    let mut fail = |i: u32, bad: bool| {
        if bad {
            bits |= 1 << i;
        }
    };
    if setgid(OTHER_UID).is_err() || setuid(OTHER_UID).is_err() {
        return send_report(arg, u32::MAX);
    }
    let before = names();
    fail(0, spawn(CLONE_NEWPID, exit_0, 0) != Err(EPERM));
    fail(1, spawn(CLONE_NEWUTS, exit_0, 0) != Err(EPERM));
    fail(2, unshare(CLONE_NEWPID) != Err(EPERM));
    fail(3, unshare(CLONE_NEWUTS) != Err(EPERM));
    fail(4, sethostname(b"x") != Err(EPERM));
    fail(5, sethostname_raw(b"x".as_ptr() as usize, 65) != Err(EPERM));
    fail(6, setdomainname(b"x") != Err(EPERM));
    fail(7, !same_names(&before, &names()));
    send_report(arg, bits)
}

fn unprivileged(c: &mut Checker) {
    run_reporting(
        c,
        "unprivileged: fork",
        0,
        unprivileged_child,
        &[
            "not root: clone(CLONE_NEWPID) EPERM",
            "not root: clone(CLONE_NEWUTS) EPERM",
            "not root: unshare(CLONE_NEWPID) EPERM",
            "not root: unshare(CLONE_NEWUTS) EPERM",
            "not root: sethostname EPERM",
            "not root: sethostname of 65 bytes EPERM (privilege is checked first)",
            "not root: setdomainname EPERM",
            "not root: the names are unchanged",
        ],
    );
}

// ---- UTS ------------------------------------------------------------------------------

static BEFORE: saved::Names = saved::Names::new();

/// The parent's names, saved where children read their copy.
mod saved {
    pub struct Names(core::cell::UnsafeCell<[u8; 390]>);
    // SAFETY: written by the main thread before the children that read it
    // exist; the program has no threads.
    unsafe impl Sync for Names {}
    impl Names {
        pub const fn new() -> Self {
            Names(core::cell::UnsafeCell::new([0; 390]))
        }
        pub fn set(&self, u: &userspace::new_utsname) {
            // SAFETY: see the Sync impl: nothing reads while this writes.
            let b = unsafe { &mut *self.0.get() };
            let fields = [u.sysname, u.nodename, u.release, u.version, u.machine, u.domainname];
            for (i, f) in fields.iter().enumerate() {
                b[65 * i..65 * (i + 1)].copy_from_slice(f);
            }
        }
        pub fn nodename(&self) -> [u8; 65] {
            // SAFETY: see the Sync impl.
            let b = unsafe { &*self.0.get() };
            b[65..130].try_into().unwrap()
        }
    }
}

fn field(s: &[u8]) -> [u8; 65] {
    let mut f = [0u8; 65];
    f[..s.len()].copy_from_slice(s);
    f
}

extern "C" fn uts_child(arg: usize) -> i32 {
    let mut bits = 0u32;
    let mut fail = |i: u32, bad: bool| {
        if bad {
            bits |= 1 << i;
        }
    };
    fail(0, names().nodename != BEFORE.nodename());
    let set = sethostname(b"ns-child");
    fail(1, set != Ok(0));
    if set.is_err() {
        // Not in a namespace of our own (or not allowed): change nothing.
        return send_report(arg, u32::MAX);
    }
    fail(2, names().nodename != field(b"ns-child"));
    let dom = setdomainname(b"ns-domain");
    fail(3, dom != Ok(0) || names().domainname != field(b"ns-domain"));
    // A child of ours shares the namespace.
    let shared = fork_with(|| (names().nodename != field(b"ns-child")) as i32);
    fail(4, shared.map(reap) != Ok(Some(WaitStatus::Exited(0))));
    let long = [b'h'; 64];
    fail(5, sethostname(&long) != Ok(0) || names().nodename != field(&long));
    fail(6, sethostname_raw(long.as_ptr() as usize, 65) != Err(EINVAL));
    fail(7, sethostname_raw(long.as_ptr() as usize, -1) != Err(EINVAL));
    fail(8, sethostname_raw(0x10, 4) != Err(EFAULT));
    fail(9, names().nodename != field(&long));
    fail(10, sethostname(b"") != Ok(0) || names().nodename != [0; 65]);
    // Not root, even in a namespace of its own: EPERM.
    let nonroot = fork_with(|| {
        if setgid(OTHER_UID).is_err() || setuid(OTHER_UID).is_err() {
            return 2;
        }
        (sethostname(b"y") != Err(EPERM)) as i32
    });
    fail(11, nonroot.map(reap) != Ok(Some(WaitStatus::Exited(0))));
    fail(12, names().sysname != field(b"Linux"));
    send_report(arg, bits)
}

fn uts(c: &mut Checker) {
    let before = names();
    BEFORE.set(&before);
    run_reporting(
        c,
        "clone(CLONE_NEWUTS)",
        CLONE_NEWUTS,
        uts_child,
        &[
            "CLONE_NEWUTS: the child starts with the parent's host name",
            "CLONE_NEWUTS: sethostname in the child",
            "CLONE_NEWUTS: uname shows the new host name",
            "CLONE_NEWUTS: setdomainname, and uname shows it",
            "CLONE_NEWUTS: a forked grandchild shares the namespace",
            "sethostname of 64 bytes (the most) works, uname shows them",
            "sethostname of 65 bytes EINVAL",
            "sethostname of length -1 EINVAL",
            "sethostname from address 0x10 EFAULT",
            "failed calls leave the name as it was",
            "sethostname of 0 bytes makes the name empty",
            "not root in its own UTS namespace: sethostname EPERM",
            "the system name stays Linux",
        ],
    );
    c.check(
        "the parent's names are unchanged by the child's namespace",
        same_names(&before, &names()),
    );
}

extern "C" fn unshare_uts_child(arg: usize) -> i32 {
    let mut bits = 0u32;
    let u = unshare(CLONE_NEWUTS);
    if u != Ok(0) {
        return send_report(arg, u32::MAX);
    }
    if sethostname(b"unshared") != Ok(0) || names().nodename != field(b"unshared") {
        bits |= 2;
    }
    send_report(arg, bits)
}

fn unshare_uts(c: &mut Checker) {
    let before = names();
    run_reporting(
        c,
        "unshare(CLONE_NEWUTS): fork",
        0,
        unshare_uts_child,
        &["unshare(CLONE_NEWUTS) as root", "after unshare(CLONE_NEWUTS) sethostname is private"],
    );
    c.check("the parent's host name is unchanged by unshare", same_names(&before, &names()));
}

// ---- unshare of what is not a namespace ------------------------------------------

fn umask(mask: u32) -> usize {
    // SAFETY: no memory is passed; umask cannot fail.
    unsafe { syscall1(nr::__NR_umask, mask as usize) as usize }
}

/// The caller's umask (set and put back).
fn current_umask() -> usize {
    let m = umask(0o022);
    umask(m as u32);
    m
}

extern "C" fn set_umask_077(unshare_first: usize) -> i32 {
    if unshare_first != 0 && unshare(CLONE_FS) != Ok(0) {
        return 1;
    }
    umask(0o077);
    0
}

extern "C" fn close_fd(fd_and_unshare: usize) -> i32 {
    let (fd, unshare_first) = (fd_and_unshare >> 1, fd_and_unshare & 1);
    if unshare_first != 0 && unshare(CLONE_FILES) != Ok(0) {
        return 1;
    }
    (close(fd as i32) != Ok(0)) as i32 * 2
}

extern "C" fn unshare_sighand(_: usize) -> i32 {
    (unshare(CLONE_SIGHAND) != Err(EINVAL)) as i32
}

fn unshare_other(c: &mut Checker) {
    let alone = fork_with(|| {
        let ok = unshare(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) == Ok(0)
            && unshare(CLONE_FILES | CLONE_FS) == Ok(0);
        (!ok) as i32
    });
    c.check(
        "unshare of what is not shared (threads, handlers, memory, fds, fs) succeeds",
        alone.map(reap) == Ok(Some(WaitStatus::Exited(0))),
    );
    c.err("unshare of an unknown flag (bit 0) EINVAL", unshare(1), EINVAL);
    // CLONE_FS shares the umask; unshare(CLONE_FS) makes it private again.
    let before = current_umask();
    for (unshare_first, name, changed) in [
        (0, "CLONE_FS: the child's umask is the parent's", true),
        (1, "CLONE_FS then unshare(CLONE_FS): the child's umask is its own", false),
    ] {
        umask(before as u32);
        let r = spawn(CLONE_FS, set_umask_077, unshare_first).map(reap);
        let now = current_umask();
        c.check(name, r == Ok(Some(WaitStatus::Exited(0))) && (now == 0o077) == changed);
    }
    umask(before as u32);
    // CLONE_FILES shares the fd table; unshare(CLONE_FILES) makes it private.
    for (unshare_first, name, closed) in [
        (0, "CLONE_FILES: the child's close closes the parent's fd", true),
        (1, "CLONE_FILES then unshare(CLONE_FILES): the child's close is its own", false),
    ] {
        let [r, w] = pipe();
        let st = spawn(CLONE_FILES, close_fd, ((w as usize) << 1) | unshare_first).map(reap);
        let open = fcntl(w, F_GETFD, 0).is_ok();
        c.check(name, st == Ok(Some(WaitStatus::Exited(0))) && open != closed);
        close_all(&[r, w]);
    }
    // Handlers shared with another process cannot be unshared.
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh private mapping for the child's stack, unmapped after it exits.
    match unsafe { mmap(0, STACK, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
        Ok(stack) => {
            let flags = CLONE_VM | CLONE_SIGHAND | SIGCHLD as u64;
            // SAFETY: the child runs unshare_sighand on its own stack and exits;
            // it touches no memory of ours.
            let r = unsafe { clone(flags, stack + STACK, 0, 0, 0, unshare_sighand, 0) };
            c.check(
                "unshare(CLONE_SIGHAND) of handlers shared with another process EINVAL",
                r.map(reap) == Ok(Some(WaitStatus::Exited(0))),
            );
            // SAFETY: the child has exited; nothing uses the stack.
            let _ = unsafe { munmap(stack, STACK) };
        }
        Err(e) => c.fail("unshare(CLONE_SIGHAND): mmap", e),
    }
}
