//! ptrace for process creation (issue 14 item 1; Linux kernel/ptrace.c,
//! kernel/signal.c `ptrace_stop`, `ptrace_signal`, `do_jobctl_trap`,
//! kernel/fork.c's trace choice, fs/exec.c's PTRACE_EVENT_EXEC).
//!
//! First a small `strace -f`: a child asks to be traced (PTRACE_TRACEME),
//! stops, and the tracer sets TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC,
//! TRACEEXIT and TRACEVFORKDONE; the child forks, vforks a child that execs,
//! starts a thread, then execs itself. The tracer follows every task (new
//! ones are attached and start with SIGSTOP), names each after its parent
//! and the order of its creation (A, A.1, ...), and prints each task's stops
//! in order, tasks by name: the same lines whatever the scheduling.
//!
//! Then focused checks: PTRACE_SEIZE (new children start with
//! PTRACE_EVENT_STOP, PTRACE_INTERRUPT, a group stop as SIGSTOP |
//! PTRACE_EVENT_STOP << 8), PTRACE_LISTEN (the listener traps again when
//! SIGCONT ends the group stop, or at PTRACE_INTERRUPT; the real parent,
//! another process, sees WUNTRACED and WCONTINUED), GETREGS/SETREGS (rax and rip change what the
//! tracee sees; bad bases and selectors are EIO), PEEKDATA/POKEDATA (the
//! tracee's copy of a copy-on-write page and of read-only data changes, the
//! parent's stays), GETSIGINFO, signal injection and suppression, WCONTINUED
//! to a parent that traces its child, DETACH with
//! a signal, the tracer's exit (detach, PTRACE_O_EXITKILL), the legacy
//! SIGTRAP after exec, an exec that waits until the tracer has reaped the
//! traced thread it ended, CLONE_PTRACE and CLONE_UNTRACED, and the errors
//! (ESRCH, EPERM, EIO, EINVAL, EFAULT).
//! One line per check, exit status = number of failed checks.
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};

use userspace::thread::Stacks;
use userspace::*;

userspace::entry!(main);

/// The program's own path (argv[0]), for execve.
static SELF_PATH: AtomicUsize = AtomicUsize::new(0);

fn main(args: Args, _env: Env) -> i32 {
    // `ptrace --leaf N`: what an exec'd tracee runs; exits 11 * N.
    if args.bytes(1) == Some(b"--leaf") {
        let n = args.bytes(2).and_then(|b| b.first()).map_or(1, |d| (d - b'0') as i32);
        return n * 10 + n;
    }
    let Some(me) = args.get(0) else { return 1 };
    SELF_PATH.store(me.as_ptr() as usize, SeqCst);
    for sig in [SIGCHLD, SIGTERM, SIGUSR1, SIGUSR2, SIGSTOP, SIGCONT] {
        let _ = signal_disposition(sig, SIG_DFL);
    }
    let mut c = Checker::new();
    strace_tree(&mut c);
    seize_checks(&mut c);
    listen_checks(&mut c);
    regs_checks(&mut c);
    memory_checks(&mut c);
    signal_checks(&mut c);
    continued_to_tracing_parent(&mut c);
    detach_checks(&mut c);
    tracer_exit_checks(&mut c);
    exec_sigtrap_check(&mut c);
    exec_waits_for_traced_thread_check(&mut c);
    clone_flags_checks(&mut c);
    error_checks(&mut c);
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
    c.status()
}

// ---- helpers ---------------------------------------------------------------------

fn pt(req: u32, pid: usize, addr: usize, data: usize) -> SysResult {
    // SAFETY: the callers pass, for requests that use memory, pointers to
    // live locals of the right size (a word, a user_regs_struct, a siginfo).
    unsafe { ptrace(req, pid as i32, addr, data) }
}

/// wait4 with __WALL: (pid, status).
fn wait_all(pid: i32) -> Result<(usize, i32), Errno> {
    let mut st = 0;
    let p = wait4(pid, Some(&mut st), __WALL)?;
    Ok((p, st))
}

/// The status of a ptrace stop: `status >> 8` (signal | event << 8), or
/// None for something else.
fn stop_code(st: i32) -> Option<u32> {
    (st & 0xff == 0x7f).then_some((st >> 8) as u32)
}

fn exec_self(n: u8) -> ! {
    let path = SELF_PATH.load(SeqCst);
    let digit = [b'0' + n, 0];
    let argv = [path, c"--leaf".as_ptr() as usize, digit.as_ptr() as usize, 0];
    let envp = [0usize];
    // SAFETY: NUL-terminated strings and NULL-terminated arrays on this stack.
    unsafe {
        syscall::syscall3(nr::__NR_execve, path, argv.as_ptr() as usize, envp.as_ptr() as usize)
    };
    exit_group(127)
}

fn signame(sig: u32) -> &'static str {
    match sig {
        SIGTRAP => "SIGTRAP",
        SIGSTOP => "SIGSTOP",
        SIGCHLD => "SIGCHLD",
        SIGUSR1 => "SIGUSR1",
        SIGUSR2 => "SIGUSR2",
        SIGTERM => "SIGTERM",
        SIGCONT => "SIGCONT",
        SIGKILL => "SIGKILL",
        _ => "another signal",
    }
}

fn event_name(e: u32) -> &'static str {
    match e {
        PTRACE_EVENT_FORK => "PTRACE_EVENT_FORK",
        PTRACE_EVENT_VFORK => "PTRACE_EVENT_VFORK",
        PTRACE_EVENT_CLONE => "PTRACE_EVENT_CLONE",
        PTRACE_EVENT_EXEC => "PTRACE_EVENT_EXEC",
        PTRACE_EVENT_VFORK_DONE => "PTRACE_EVENT_VFORK_DONE",
        PTRACE_EVENT_EXIT => "PTRACE_EVENT_EXIT",
        PTRACE_EVENT_STOP => "PTRACE_EVENT_STOP",
        _ => "another event",
    }
}

/// A small string on the stack.
struct Line {
    b: [u8; 96],
    n: usize,
}

impl Line {
    const fn new() -> Self {
        Line { b: [0; 96], n: 0 }
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.b[..self.n]).unwrap_or("?")
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let take = s.len().min(self.b.len() - self.n);
        self.b[self.n..self.n + take].copy_from_slice(&s.as_bytes()[..take]);
        self.n += take;
        Ok(())
    }
}

// ---- the strace -f of a process tree ------------------------------------------

const MAX_TASKS: usize = 8;
const MAX_EVENTS: usize = 12;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ev {
    None,
    Signal(u32),
    /// An event and its message: a new task's slot (fork, vfork, clone), or a
    /// status (exit), or whether the former tid is the task's own (exec).
    Event(u32, u64),
    Exited(i32),
    Killed(u32),
}

#[derive(Clone, Copy)]
struct Tracee {
    pid: usize,
    /// Name: the parent's slot and the child's number (A = slot 0, root).
    parent: usize,
    nth: usize,
    named: bool,
    children: usize,
    events: [Ev; MAX_EVENTS],
    n: usize,
    done: bool,
}

impl Tracee {
    const EMPTY: Tracee = Tracee {
        pid: 0,
        parent: usize::MAX,
        nth: 0,
        named: false,
        children: 0,
        events: [Ev::None; MAX_EVENTS],
        n: 0,
        done: false,
    };
    fn push(&mut self, e: Ev) {
        if self.n < MAX_EVENTS {
            self.events[self.n] = e;
            self.n += 1;
        }
    }
}

struct Tree {
    t: [Tracee; MAX_TASKS],
    len: usize,
}

impl Tree {
    fn slot(&mut self, pid: usize) -> Option<usize> {
        if let Some(i) = (0..self.len).find(|&i| self.t[i].pid == pid) {
            return Some(i);
        }
        if self.len == MAX_TASKS {
            return None;
        }
        self.t[self.len] = Tracee { pid, ..Tracee::EMPTY };
        self.len += 1;
        Some(self.len - 1)
    }

    fn name(&self, i: usize, out: &mut Line) {
        let t = &self.t[i];
        if t.parent == usize::MAX {
            let _ = out.write_str(if t.named { "A" } else { "?" });
        } else {
            self.name(t.parent, out);
            let _ = write!(out, ".{}", t.nth);
        }
    }
}

/// The traced child: stop, then fork, vfork + exec, a thread, exec.
fn tree_root() -> i32 {
    if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
        return 100;
    }
    let _ = kill(getpid().unwrap_or(0) as i32, SIGSTOP);
    // A.1: a fork child that exits 11.
    let Ok(b) = fork_with(|| 11) else { return 101 };
    let mut st = 0;
    if wait4(b as i32, Some(&mut st), 0) != Ok(b)
        || WaitStatus::from_raw(st) != WaitStatus::Exited(11)
    {
        return 102;
    }
    // A.2: a vfork child that execs `ptrace --leaf 2` (exits 22).
    extern "C" fn vforked(_: usize) -> i32 {
        exec_self(2)
    }
    // SAFETY: the child only execs (or exits).
    let Ok(v) = (unsafe { vfork(vforked, 0) }) else { return 103 };
    if wait4(v as i32, Some(&mut st), 0) != Ok(v)
        || WaitStatus::from_raw(st) != WaitStatus::Exited(22)
    {
        return 104;
    }
    // A.3: a thread that exits 0; joined through its CLONE_CHILD_CLEARTID word.
    static TID: AtomicU32 = AtomicU32::new(0);
    extern "C" fn thread(_: usize) -> i32 {
        0
    }
    let Some(stacks) = Stacks::new(1) else { return 105 };
    if !stacks.spawn(0, &TID, thread, 0) || !thread::join(&TID) {
        return 106;
    }
    // The new image exits 33.
    exec_self(3)
}

fn strace_tree(c: &mut Checker) {
    let Ok(root) = fork_with(tree_root) else {
        c.fail("fork the traced child", "fork");
        return;
    };
    let mut tree = Tree { t: [Tracee::EMPTY; MAX_TASKS], len: 0 };
    tree.slot(root);
    tree.t[0].named = true;
    let opts = PTRACE_O_TRACEFORK
        | PTRACE_O_TRACEVFORK
        | PTRACE_O_TRACECLONE
        | PTRACE_O_TRACEEXEC
        | PTRACE_O_TRACEEXIT
        | PTRACE_O_TRACEVFORKDONE;
    let mut first = true;
    let mut ok = true;
    loop {
        let live = (0..tree.len).any(|i| !tree.t[i].done);
        if !live {
            break;
        }
        let (pid, st) = match wait_all(-1) {
            Ok(r) => r,
            Err(e) => {
                c.fail("wait4(__WALL) for the tracees", e);
                ok = false;
                break;
            }
        };
        let Some(i) = tree.slot(pid) else {
            c.fail("at most 8 tracees", "more");
            ok = false;
            break;
        };
        match WaitStatus::from_raw(st) {
            WaitStatus::Exited(n) => {
                tree.t[i].push(Ev::Exited(n));
                tree.t[i].done = true;
                continue;
            }
            WaitStatus::Signaled(s, _) => {
                tree.t[i].push(Ev::Killed(s));
                tree.t[i].done = true;
                continue;
            }
            _ => {}
        }
        let Some(code) = stop_code(st) else {
            c.fail("a stop", "another status");
            ok = false;
            break;
        };
        let (sig, event) = (code & 0xff, code >> 8);
        let mut inject = 0;
        if event == 0 {
            tree.t[i].push(Ev::Signal(sig));
            if first && i == 0 {
                first = false;
                if pt(PTRACE_SETOPTIONS, pid, 0, opts as usize).is_err() {
                    c.fail("PTRACE_SETOPTIONS", "failed");
                    ok = false;
                }
            }
            if sig != SIGSTOP {
                inject = sig as usize;
            }
        } else {
            let mut msg = 0u64;
            let _ = pt(PTRACE_GETEVENTMSG, pid, 0, &mut msg as *mut u64 as usize);
            let m = match event {
                PTRACE_EVENT_FORK | PTRACE_EVENT_VFORK | PTRACE_EVENT_CLONE => {
                    let parent_slot = i;
                    tree.t[parent_slot].children += 1;
                    let nth = tree.t[parent_slot].children;
                    match tree.slot(msg as usize) {
                        Some(k) => {
                            tree.t[k].parent = parent_slot;
                            tree.t[k].nth = nth;
                            tree.t[k].named = true;
                            k as u64
                        }
                        None => u64::MAX,
                    }
                }
                PTRACE_EVENT_EXEC => u64::from(msg as usize == pid),
                PTRACE_EVENT_VFORK_DONE => u64::MAX,
                _ => msg,
            };
            tree.t[i].push(Ev::Event(event, m));
        }
        if let Err(e) = pt(PTRACE_CONT, pid, 0, inject) {
            c.fail("PTRACE_CONT", e);
            ok = false;
            break;
        }
    }
    // Print per task, by name.
    let mut order: [usize; MAX_TASKS] = [0; MAX_TASKS];
    let mut names = [const { Line::new() }; MAX_TASKS];
    for i in 0..tree.len {
        order[i] = i;
        tree.name(i, &mut names[i]);
    }
    let order = &mut order[..tree.len];
    order.sort_unstable_by(|&a, &b| names[a].as_str().cmp(names[b].as_str()));
    for &i in order.iter() {
        let t = tree.t[i];
        for e in &t.events[..t.n] {
            let mut l = Line::new();
            let _ = write!(l, "strace -f: {}: ", names[i].as_str());
            match *e {
                Ev::Signal(s) => {
                    let _ = write!(l, "stopped by {}", signame(s));
                }
                Ev::Event(ev, m) => {
                    let _ = write!(l, "{}", event_name(ev));
                    match ev {
                        PTRACE_EVENT_FORK | PTRACE_EVENT_VFORK | PTRACE_EVENT_CLONE => {
                            if (m as usize) < tree.len {
                                let mut n = Line::new();
                                tree.name(m as usize, &mut n);
                                let _ = write!(l, ", new task {}", n.as_str());
                            }
                        }
                        PTRACE_EVENT_EXEC => {
                            let _ = write!(l, ", former tid is its own: {}", m == 1);
                        }
                        PTRACE_EVENT_EXIT => {
                            let _ = write!(l, ", status {:#x}", m);
                        }
                        _ => {}
                    }
                }
                Ev::Exited(n) => {
                    let _ = write!(l, "exited {}", n);
                }
                Ev::Killed(s) => {
                    let _ = write!(l, "killed by {}", signame(s));
                }
                Ev::None => {}
            }
            c.check(l.as_str(), ok);
        }
    }
    c.check("strace -f: four tasks followed", tree.len == 4);
}

// ---- PTRACE_SEIZE --------------------------------------------------------------

/// A child that blocks reading `fd` until a byte comes, then forks a child
/// that exits 7, reaps it and exits with its status.
fn blocked_reader(fd: i32) -> i32 {
    let mut b = [0u8; 1];
    if read(fd, &mut b) != Ok(1) {
        return 90;
    }
    let Ok(p) = fork_with(|| 7) else { return 91 };
    let mut st = 0;
    if wait4(p as i32, Some(&mut st), 0) != Ok(p) {
        return 92;
    }
    match WaitStatus::from_raw(st) {
        WaitStatus::Exited(n) => n,
        _ => 93,
    }
}

fn seize_checks(c: &mut Checker) {
    let Some([r, w]) = c.ok("pipe", pipe2(0)) else { return };
    let Ok(q) = fork_with(|| blocked_reader(r)) else { return };
    let opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEEXIT;
    c.ok(
        "PTRACE_SEIZE with options: the tracee does not stop",
        pt(PTRACE_SEIZE, q, 0, opts as usize),
    );
    c.ok_eq("no stop to report after the seize", wait4(q as i32, None, __WALL | WNOHANG), 0);
    c.ok("PTRACE_INTERRUPT", pt(PTRACE_INTERRUPT, q, 0, 0));
    let code = wait_all(q as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check(
        "interrupted: status >> 8 == SIGTRAP | PTRACE_EVENT_STOP << 8",
        code == Some(SIGTRAP | PTRACE_EVENT_STOP << 8),
    );
    let mut si = siginfo_t::default();
    c.ok(
        "PTRACE_GETSIGINFO at the interrupt",
        pt(PTRACE_GETSIGINFO, q, 0, &mut si as *mut _ as usize),
    );
    c.check(
        "its siginfo: SIGTRAP, si_code SIGTRAP | PTRACE_EVENT_STOP << 8",
        si.si_signo == SIGTRAP as i32 && si.si_code == (SIGTRAP | PTRACE_EVENT_STOP << 8) as i32,
    );
    c.ok("PTRACE_CONT after the interrupt", pt(PTRACE_CONT, q, 0, 0));
    // A group stop of a seized tracee: first the signal-delivery stop, then
    // (the tracer lets SIGSTOP through) the group stop, as PTRACE_EVENT_STOP.
    c.ok("kill SIGSTOP", kill(q as i32, SIGSTOP));
    let code = wait_all(q as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("signal-delivery stop: SIGSTOP", code == Some(SIGSTOP));
    c.ok("PTRACE_CONT with SIGSTOP", pt(PTRACE_CONT, q, 0, SIGSTOP as usize));
    let code = wait_all(q as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check(
        "group stop: status >> 8 == SIGSTOP | PTRACE_EVENT_STOP << 8",
        code == Some(SIGSTOP | PTRACE_EVENT_STOP << 8),
    );
    // A seized tracee resumed from its group stop runs (Linux; the group
    // stays stopped as far as job control goes: PTRACE_LISTEN is not used).
    c.ok("PTRACE_CONT from the group stop", pt(PTRACE_CONT, q, 0, 0));
    // Now the fork: the parent's event, the child's PTRACE_EVENT_STOP.
    let _ = write(w, b"x");
    let mut child = 0usize;
    let mut seen_fork = false;
    let mut seen_child_stop = false;
    let mut exit_event_status = None;
    let mut q_exit = None;
    let mut child_exit = None;
    for _ in 0..12 {
        let Ok((p, st)) = wait_all(-1) else { break };
        if let Some(code) = stop_code(st) {
            let event = code >> 8;
            if p == q && event == PTRACE_EVENT_FORK {
                let mut m = 0u64;
                let _ = pt(PTRACE_GETEVENTMSG, q, 0, &mut m as *mut u64 as usize);
                child = m as usize;
                seen_fork = true;
            } else if p != q && code == SIGTRAP | PTRACE_EVENT_STOP << 8 {
                seen_child_stop = true;
                child = p;
            } else if event == PTRACE_EVENT_EXIT && p == q {
                let mut m = 0u64;
                let _ = pt(PTRACE_GETEVENTMSG, q, 0, &mut m as *mut u64 as usize);
                exit_event_status = Some(m);
            }
            let inject = if event == 0 && code != SIGSTOP { code as usize } else { 0 };
            let _ = pt(PTRACE_CONT, p, 0, inject);
            continue;
        }
        if p == q {
            q_exit = Some(WaitStatus::from_raw(st));
            break;
        }
        child_exit = Some(WaitStatus::from_raw(st));
    }
    c.check("seized: PTRACE_EVENT_FORK, message the child's pid", seen_fork && child != 0);
    c.check("the seized child starts with PTRACE_EVENT_STOP (SIGTRAP)", seen_child_stop);
    c.check("the child's exit is the tracer's to see", child_exit == Some(WaitStatus::Exited(7)));
    c.check("PTRACE_EVENT_EXIT, message the status 7 << 8", exit_event_status == Some(0x700));
    c.check("the seized process exits 7", q_exit == Some(WaitStatus::Exited(7)));
    let _ = close(r);
    let _ = close(w);
}

// ---- PTRACE_LISTEN ---------------------------------------------------------------

/// The code of the next stop of `q` (`status >> 8`), or None.
fn next_stop(q: usize) -> Option<u32> {
    wait_all(q as i32).ok().and_then(|(_, st)| stop_code(st))
}

/// A child that blocks reading `fd` and exits with the byte it reads.
fn exit_with_byte(fd: i32) -> i32 {
    let mut b = [0u8; 1];
    match read(fd, &mut b) {
        Ok(1) => i32::from(b[0]),
        _ => 90,
    }
}

/// PTRACE_LISTEN (Linux `ptrace_request`, `ptrace_trap_notify`): a seized
/// tracee in a group stop's PTRACE_EVENT_STOP trap listens — it stays
/// stopped, but the tracer can neither wait for it nor resume it — until the
/// group stop's state changes (SIGCONT) or PTRACE_INTERRUPT: then it traps
/// again, reported as PTRACE_EVENT_STOP (SIGTRAP once the group runs again).
fn listen_checks(c: &mut Checker) {
    let Some([r, w]) = c.ok("listen: pipe", pipe2(0)) else { return };
    let Ok(q) = fork_with(|| exit_with_byte(r)) else { return };
    c.ok("listen: PTRACE_SEIZE", pt(PTRACE_SEIZE, q, 0, 0));
    c.err("PTRACE_LISTEN of a running tracee: ESRCH", pt(PTRACE_LISTEN, q, 0, 0), ESRCH);
    c.ok("listen: kill SIGSTOP", kill(q as i32, SIGSTOP));
    c.check("listen: signal-delivery stop: SIGSTOP", next_stop(q) == Some(SIGSTOP));
    c.err("PTRACE_LISTEN in a signal-delivery stop: EIO", pt(PTRACE_LISTEN, q, 0, 0), EIO);
    c.ok("listen: PTRACE_CONT with SIGSTOP", pt(PTRACE_CONT, q, 0, SIGSTOP as usize));
    c.check(
        "listen: group stop: status >> 8 == SIGSTOP | PTRACE_EVENT_STOP << 8",
        next_stop(q) == Some(SIGSTOP | PTRACE_EVENT_STOP << 8),
    );
    c.ok("PTRACE_LISTEN in the group stop", pt(PTRACE_LISTEN, q, 0, 0));
    c.ok_eq("listening: wait4 WNOHANG reports nothing", wait4(q as i32, None, __WALL | WNOHANG), 0);
    c.err("listening: PTRACE_CONT is ESRCH", pt(PTRACE_CONT, q, 0, 0), ESRCH);
    let mut si = siginfo_t::default();
    let sip = &mut si as *mut siginfo_t as usize;
    c.err("listening: PTRACE_GETSIGINFO is ESRCH", pt(PTRACE_GETSIGINFO, q, 0, sip), ESRCH);
    c.err("listening: PTRACE_LISTEN again is ESRCH", pt(PTRACE_LISTEN, q, 0, 0), ESRCH);
    // PTRACE_INTERRUPT of a listening tracee: it traps again at once, still
    // in the group stop.
    c.ok("listening: PTRACE_INTERRUPT", pt(PTRACE_INTERRUPT, q, 0, 0));
    c.check(
        "the interrupt re-traps in the group stop: SIGSTOP | PTRACE_EVENT_STOP << 8",
        next_stop(q) == Some(SIGSTOP | PTRACE_EVENT_STOP << 8),
    );
    c.ok("PTRACE_LISTEN after the interrupt", pt(PTRACE_LISTEN, q, 0, 0));
    // SIGCONT ends the group stop: the listening tracee traps again.
    c.ok("listening: kill SIGCONT", kill(q as i32, SIGCONT));
    c.check(
        "SIGCONT: the listener re-traps: status >> 8 == SIGTRAP | PTRACE_EVENT_STOP << 8",
        next_stop(q) == Some(SIGTRAP | PTRACE_EVENT_STOP << 8),
    );
    c.ok("PTRACE_GETSIGINFO at the notify trap", pt(PTRACE_GETSIGINFO, q, 0, sip));
    c.check(
        "its siginfo: SIGTRAP, si_code SIGTRAP | PTRACE_EVENT_STOP << 8",
        si.si_signo == SIGTRAP as i32 && si.si_code == (SIGTRAP | PTRACE_EVENT_STOP << 8) as i32,
    );
    c.ok("PTRACE_CONT from the notify trap", pt(PTRACE_CONT, q, 0, 0));
    c.check("then SIGCONT's signal-delivery stop", next_stop(q) == Some(SIGCONT));
    c.ok("PTRACE_CONT without SIGCONT", pt(PTRACE_CONT, q, 0, 0));
    c.err("PTRACE_LISTEN of the tracee running again: ESRCH", pt(PTRACE_LISTEN, q, 0, 0), ESRCH);
    // A SIGCONT to a running seized tracee is news too (Linux calls
    // `ptrace_trap_notify` for every seized thread): a PTRACE_EVENT_STOP
    // trap first, then SIGCONT's delivery stop.
    c.ok("kill SIGCONT to the running tracee", kill(q as i32, SIGCONT));
    c.check(
        "SIGCONT to a running tracee: first SIGTRAP | PTRACE_EVENT_STOP << 8",
        next_stop(q) == Some(SIGTRAP | PTRACE_EVENT_STOP << 8),
    );
    c.ok("PTRACE_CONT from the running tracee's trap", pt(PTRACE_CONT, q, 0, 0));
    c.check("then its SIGCONT's delivery stop", next_stop(q) == Some(SIGCONT));
    c.ok("PTRACE_CONT: running again", pt(PTRACE_CONT, q, 0, 0));
    // SIGCONT while the tracee sits in its group-stop trap, not listening:
    // nothing to report (JOBCTL_TRAP_NOTIFY waits), until PTRACE_LISTEN
    // makes it trap again at once.
    c.ok("listen: kill SIGSTOP again", kill(q as i32, SIGSTOP));
    c.check("listen: SIGSTOP's delivery stop again", next_stop(q) == Some(SIGSTOP));
    c.ok("listen: PTRACE_CONT with SIGSTOP again", pt(PTRACE_CONT, q, 0, SIGSTOP as usize));
    c.check(
        "listen: the second group stop",
        next_stop(q) == Some(SIGSTOP | PTRACE_EVENT_STOP << 8),
    );
    c.ok("kill SIGCONT in the trap, before PTRACE_LISTEN", kill(q as i32, SIGCONT));
    c.ok_eq(
        "SIGCONT in the trap: nothing to report yet",
        wait4(q as i32, None, __WALL | WNOHANG),
        0,
    );
    c.ok("PTRACE_LISTEN after the SIGCONT", pt(PTRACE_LISTEN, q, 0, 0));
    c.check(
        "PTRACE_LISTEN after a SIGCONT re-traps at once: SIGTRAP | PTRACE_EVENT_STOP << 8",
        next_stop(q) == Some(SIGTRAP | PTRACE_EVENT_STOP << 8),
    );
    c.ok("PTRACE_CONT from that trap", pt(PTRACE_CONT, q, 0, 0));
    c.check("then the second SIGCONT's delivery stop", next_stop(q) == Some(SIGCONT));
    c.ok("PTRACE_CONT: the tracee runs", pt(PTRACE_CONT, q, 0, 0));
    let _ = write(w, &[7]);
    c.reaped("the listened-to tracee exits 7", q, __WALL, WaitStatus::Exited(7));
    listen_real_parent_checks(c, r, w);
    listen_attached_checks(c, r, w);
    let _ = close(r);
    let _ = close(w);
}

/// The tracer is not the real parent (as `man 2 ptrace` advises for job
/// control): the real parent sees the group stop (WUNTRACED) and, after the
/// SIGCONT the listening tracee re-traps for, WCONTINUED; the tracer sees
/// the stops. Lines in a fixed order: the parent prints only while the
/// tracer waits for it, and after the tracer's exit.
fn listen_real_parent_checks(c: &mut Checker, r: i32, w: i32) {
    let (Ok([p_rd, t_wr]), Ok([t_rd, p_wr])) = (pipe2(0), pipe2(0)) else { return };
    let Ok(q) = fork_with(|| exit_with_byte(r)) else { return };
    let Ok(tracer) = fork_with(move || {
        let mut t = Checker::new();
        let mut b = [0u8; 1];
        t.ok("another tracer: PTRACE_SEIZE", pt(PTRACE_SEIZE, q, 0, 0));
        let _ = write(t_wr, b"1");
        t.check("another tracer: SIGSTOP's delivery stop", next_stop(q) == Some(SIGSTOP));
        t.ok("another tracer: PTRACE_CONT with SIGSTOP", pt(PTRACE_CONT, q, 0, SIGSTOP as usize));
        t.check(
            "another tracer: the group stop",
            next_stop(q) == Some(SIGSTOP | PTRACE_EVENT_STOP << 8),
        );
        t.ok("another tracer: PTRACE_LISTEN", pt(PTRACE_LISTEN, q, 0, 0));
        let _ = write(t_wr, b"2");
        let _ = read(t_rd, &mut b);
        t.check(
            "another tracer: the parent's SIGCONT re-traps the listener",
            next_stop(q) == Some(SIGTRAP | PTRACE_EVENT_STOP << 8),
        );
        t.ok("another tracer: PTRACE_CONT", pt(PTRACE_CONT, q, 0, 0));
        t.check("another tracer: SIGCONT's delivery stop", next_stop(q) == Some(SIGCONT));
        t.ok("another tracer: PTRACE_DETACH", pt(PTRACE_DETACH, q, 0, 0));
        t.status() as i32
    }) else {
        return;
    };
    let mut b = [0u8; 1];
    let _ = read(p_rd, &mut b);
    let stop = kill(q as i32, SIGSTOP);
    let _ = read(p_rd, &mut b);
    c.ok("real parent: kill SIGSTOP", stop);
    let mut st = 0;
    let got = wait4(q as i32, Some(&mut st), WUNTRACED).map(|_| WaitStatus::from_raw(st));
    c.check(
        "real parent: WUNTRACED reports the group stop (SIGSTOP)",
        got == Ok(WaitStatus::Stopped(SIGSTOP)),
    );
    c.ok("real parent: kill SIGCONT", kill(q as i32, SIGCONT));
    let got = wait4(q as i32, Some(&mut st), WCONTINUED).map(|_| WaitStatus::from_raw(st));
    c.check("real parent: WCONTINUED reports the continue", got == Ok(WaitStatus::Continued));
    let _ = write(p_wr, b"3");
    c.reaped("the other tracer passes its checks", tracer, 0, WaitStatus::Exited(0));
    let _ = write(w, &[8]);
    c.reaped("the detached tracee exits 8 to its parent", q, 0, WaitStatus::Exited(8));
    for fd in [p_rd, t_wr, t_rd, p_wr] {
        let _ = close(fd);
    }
}

/// PTRACE_LISTEN needs PTRACE_SEIZE: EIO for an attached tracee, in its
/// SIGSTOP's delivery stop as in its group stop.
fn listen_attached_checks(c: &mut Checker, r: i32, w: i32) {
    let Ok(q) = fork_with(|| exit_with_byte(r)) else { return };
    c.ok("listen: PTRACE_ATTACH", pt(PTRACE_ATTACH, q, 0, 0));
    c.check("attached: SIGSTOP's delivery stop", next_stop(q) == Some(SIGSTOP));
    c.err("attached: PTRACE_LISTEN is EIO", pt(PTRACE_LISTEN, q, 0, 0), EIO);
    c.ok("attached: PTRACE_CONT with SIGSTOP", pt(PTRACE_CONT, q, 0, SIGSTOP as usize));
    c.check("attached: the group stop is SIGSTOP", next_stop(q) == Some(SIGSTOP));
    c.err("attached, in a group stop: PTRACE_LISTEN is EIO", pt(PTRACE_LISTEN, q, 0, 0), EIO);
    c.ok("attached: PTRACE_DETACH", pt(PTRACE_DETACH, q, 0, 0));
    c.ok("attached: kill SIGCONT", kill(q as i32, SIGCONT));
    let _ = write(w, &[9]);
    c.reaped("the attached tracee exits 9", q, 0, WaitStatus::Exited(9));
}

// ---- registers --------------------------------------------------------------------

/// What the regs tracee's tgkill returned, seen after the tracer's SETREGS.
static SEEN_RAX: AtomicU64 = AtomicU64::new(0);

extern "C" fn landing() -> ! {
    exit_group(42)
}

/// TRACEME, then tgkill(self, SIGUSR1): the tracer changes the result in
/// rax; exits 0 if it sees 0x5555 (SIGUSR1 suppressed, else it would die).
fn regs_tracee() -> i32 {
    if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
        return 100;
    }
    let me = getpid().unwrap_or(0);
    let tid = gettid().unwrap_or(0);
    // SAFETY: tgkill takes numbers only.
    let r = unsafe { syscall::syscall3(nr::__NR_tgkill, me, tid, SIGUSR1 as usize) };
    SEEN_RAX.store(r as u64, SeqCst);
    if r == 0x5555 {
        0
    } else {
        1
    }
}

fn regs_checks(c: &mut Checker) {
    let Ok(p) = fork_with(regs_tracee) else { return };
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("regs: signal-delivery stop for SIGUSR1", code == Some(SIGUSR1));
    let mut r = user_regs_struct::default();
    c.ok("PTRACE_GETREGS", pt(PTRACE_GETREGS, p, 0, &mut r as *mut _ as usize));
    c.check("GETREGS: rax is tgkill's result (0)", r.rax == 0);
    c.check("GETREGS: cs 0x33, ss 0x2b", r.cs == 0x33 && r.ss == 0x2b);
    c.check("GETREGS: eflags has IF", r.eflags & 0x200 != 0);
    let mut word = 0u64;
    c.ok("PEEKUSER of rip", pt(PTRACE_PEEKUSR, p, 16 * 8, &mut word as *mut u64 as usize));
    c.check("PEEKUSER: rip as GETREGS has it", word == r.rip);
    c.err(
        "PEEKUSER at an unaligned offset: EIO",
        pt(PTRACE_PEEKUSR, p, 3, &mut word as *mut u64 as usize),
        EIO,
    );
    c.err(
        "PEEKUSER past struct user: EIO",
        pt(PTRACE_PEEKUSR, p, 4096, &mut word as *mut u64 as usize),
        EIO,
    );
    // Refused values (Linux putreg): nothing reaches the MSRs or iretq.
    let mut bad = r;
    bad.fs_base = 0x8000_0000_0000_0000;
    c.err(
        "SETREGS with a non-canonical fs_base: EIO",
        pt(PTRACE_SETREGS, p, 0, &bad as *const _ as usize),
        EIO,
    );
    let mut bad = r;
    bad.gs_base = 0xffff_8000_0000_0000;
    c.err(
        "SETREGS with a kernel gs_base: EIO",
        pt(PTRACE_SETREGS, p, 0, &bad as *const _ as usize),
        EIO,
    );
    let mut bad = r;
    bad.cs = 0;
    c.err("SETREGS with a null cs: EIO", pt(PTRACE_SETREGS, p, 0, &bad as *const _ as usize), EIO);
    let mut bad = r;
    bad.ss = 0x10;
    c.err(
        "SETREGS with a ring-0 ss: EIO",
        pt(PTRACE_SETREGS, p, 0, &bad as *const _ as usize),
        EIO,
    );
    c.err("POKEUSER of cs with a ring-0 selector: EIO", pt(PTRACE_POKEUSR, p, 17 * 8, 0x8), EIO);
    let mut good = r;
    good.rax = 0x5555;
    c.ok("SETREGS rax = 0x5555", pt(PTRACE_SETREGS, p, 0, &good as *const _ as usize));
    let mut back = user_regs_struct::default();
    let _ = pt(PTRACE_GETREGS, p, 0, &mut back as *mut _ as usize);
    c.check("GETREGS gives it back", back.rax == 0x5555 && back.rip == r.rip);
    c.ok("PTRACE_CONT suppressing SIGUSR1", pt(PTRACE_CONT, p, 0, 0));
    c.reaped("the tracee saw rax 0x5555 and lived", p, __WALL, WaitStatus::Exited(0));

    // rip: the tracee goes on at `landing`, which exits 42.
    let Ok(p) = fork_with(regs_tracee) else { return };
    let _ = wait_all(p as i32);
    let mut r = user_regs_struct::default();
    let _ = pt(PTRACE_GETREGS, p, 0, &mut r as *mut _ as usize);
    r.rip = landing as *const () as usize as u64;
    r.rsp = ((r.rsp - 512) & !15) - 8;
    c.ok("SETREGS rip = landing", pt(PTRACE_SETREGS, p, 0, &r as *const _ as usize));
    c.ok("PTRACE_CONT", pt(PTRACE_CONT, p, 0, 0));
    c.reaped("the tracee went on at the new rip (exit 42)", p, __WALL, WaitStatus::Exited(42));
}

// ---- memory --------------------------------------------------------------------

/// A private page the parent and the child share copy-on-write after fork.
static COW_WORD: AtomicU64 = AtomicU64::new(0x1111);
/// Read-only data (in .rodata: POKEDATA writes it with FOLL_FORCE).
static RO_WORD: u64 = 0x2222;

fn ro_word() -> u64 {
    // SAFETY: a volatile read of a static (the tracer may have changed the
    // tracee's copy behind the compiler's back).
    unsafe { core::ptr::read_volatile(&RO_WORD) }
}

fn memory_tracee() -> i32 {
    if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
        return 100;
    }
    let _ = kill(getpid().unwrap_or(0) as i32, SIGSTOP);
    let mut bits = 0;
    if COW_WORD.load(SeqCst) != 0x3333 {
        bits |= 1;
    }
    if ro_word() != 0x4444 {
        bits |= 2;
    }
    bits
}

fn memory_checks(c: &mut Checker) {
    COW_WORD.store(0x1111, SeqCst);
    let Ok(p) = fork_with(memory_tracee) else { return };
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("memory: the tracee stopped (SIGSTOP)", code == Some(SIGSTOP));
    let cow = COW_WORD.as_ptr() as usize;
    let ro = &RO_WORD as *const u64 as usize;
    let mut word = 0u64;
    c.ok(
        "PEEKDATA of a copy-on-write page",
        pt(PTRACE_PEEKDATA, p, cow, &mut word as *mut u64 as usize),
    );
    c.check("PEEKDATA reads the tracee's value", word == 0x1111);
    c.ok("POKEDATA into the copy-on-write page", pt(PTRACE_POKEDATA, p, cow, 0x3333));
    c.ok("POKEDATA into read-only data", pt(PTRACE_POKEDATA, p, ro, 0x4444));
    let _ = pt(PTRACE_PEEKDATA, p, ro, &mut word as *mut u64 as usize);
    c.check("PEEKDATA sees the new read-only word", word == 0x4444);
    c.err(
        "PEEKDATA of an unmapped address: EIO",
        pt(PTRACE_PEEKDATA, p, 0x1000, &mut word as *mut u64 as usize),
        EIO,
    );
    c.err("POKEDATA of an unmapped address: EIO", pt(PTRACE_POKEDATA, p, 0x1000, 1), EIO);
    c.ok("PTRACE_CONT", pt(PTRACE_CONT, p, 0, 0));
    c.reaped("the tracee saw both words changed", p, __WALL, WaitStatus::Exited(0));
    c.check("the parent's copy-on-write page is intact", COW_WORD.load(SeqCst) == 0x1111);
    c.check("the parent's read-only data is intact", ro_word() == 0x2222);
}

// ---- signals --------------------------------------------------------------------

static USR1_HANDLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_: i32) {
    USR1_HANDLED.fetch_add(1, SeqCst);
}

/// TRACEME; SIGUSR2 (replaced by SIGUSR1 by the tracer: the handler runs),
/// SIGTERM (suppressed). Exits 5 if the handler ran once.
fn signal_tracee() -> i32 {
    // SAFETY: on_usr1 only touches an atomic.
    let sa = new_sigaction(on_usr1 as *const () as usize, SA_RESTORER, 0);
    if unsafe { rt_sigaction(SIGUSR1, Some(&sa), None) }.is_err() {
        return 100;
    }
    if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
        return 101;
    }
    let me = getpid().unwrap_or(0) as i32;
    let _ = kill(me, SIGUSR2);
    let _ = kill(me, SIGTERM);
    USR1_HANDLED.load(SeqCst) as i32 + 4
}

fn signal_checks(c: &mut Checker) {
    let Ok(p) = fork_with(signal_tracee) else { return };
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("signal-delivery stop: SIGUSR2", code == Some(SIGUSR2));
    let mut si = siginfo_t::default();
    c.ok("PTRACE_GETSIGINFO", pt(PTRACE_GETSIGINFO, p, 0, &mut si as *mut _ as usize));
    c.check(
        "siginfo: SIGUSR2 from kill (SI_USER)",
        si.si_signo == SIGUSR2 as i32 && si.si_code == SI_USER,
    );
    let mut msg = 0u64;
    c.ok(
        "PTRACE_GETEVENTMSG at a signal stop",
        pt(PTRACE_GETEVENTMSG, p, 0, &mut msg as *mut u64 as usize),
    );
    c.check("GETEVENTMSG at a signal stop is 0", msg == 0);
    c.err("PTRACE_CONT with signal 65: EIO", pt(PTRACE_CONT, p, 0, 65), EIO);
    c.ok("PTRACE_CONT injecting SIGUSR1 instead", pt(PTRACE_CONT, p, 0, SIGUSR1 as usize));
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("signal-delivery stop: SIGTERM", code == Some(SIGTERM));
    c.ok("PTRACE_CONT suppressing SIGTERM", pt(PTRACE_CONT, p, 0, 0));
    c.reaped("SIGUSR1's handler ran once, SIGTERM did not kill", p, __WALL, WaitStatus::Exited(5));
}

/// A parent that traces its child still hears of a SIGCONT through
/// WCONTINUED (Linux `wait_consider_task`: the real parent's wait of a child
/// it traces takes the ptrace path, which ends with `wait_task_continued`).
fn continued_to_tracing_parent(c: &mut Checker) {
    let Ok(p) = fork_with(|| {
        if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
            return 100;
        }
        let _ = kill(getpid().unwrap_or(0) as i32, SIGSTOP);
        0
    }) else {
        return;
    };
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("tracing parent: signal-delivery stop: SIGSTOP", code == Some(SIGSTOP));
    c.ok("PTRACE_CONT with SIGSTOP: a group stop", pt(PTRACE_CONT, p, 0, SIGSTOP as usize));
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("the group stop reported to the tracer: SIGSTOP", code == Some(SIGSTOP));
    c.ok("SIGCONT to it", kill(p as i32, SIGCONT));
    let mut st = 0;
    let r = wait4(p as i32, Some(&mut st), WCONTINUED | WNOHANG | __WALL);
    c.check(
        "wait4(WCONTINUED) by the tracing parent reports it continued",
        r == Ok(p) && st == 0xffff,
    );
    let r = wait4(p as i32, Some(&mut st), WCONTINUED | WNOHANG | __WALL);
    c.check("once", r == Ok(0));
    // Still in its trap until the tracer lets it go: then SIGCONT's own
    // delivery stop, and the child exits 0.
    c.ok("PTRACE_CONT out of the group stop", pt(PTRACE_CONT, p, 0, 0));
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("signal-delivery stop: SIGCONT", code == Some(SIGCONT));
    c.ok("PTRACE_CONT", pt(PTRACE_CONT, p, 0, 0));
    c.reaped("it exits 0", p, __WALL, WaitStatus::Exited(0));
}

// ---- detach ---------------------------------------------------------------------

fn detach_checks(c: &mut Checker) {
    let Ok(p) = fork_with(|| {
        if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
            return 100;
        }
        let _ = kill(getpid().unwrap_or(0) as i32, SIGUSR2);
        0
    }) else {
        return;
    };
    let _ = wait_all(p as i32);
    c.err("PTRACE_DETACH with signal 99: EIO", pt(PTRACE_DETACH, p, 0, 99), EIO);
    c.ok("PTRACE_DETACH with SIGTERM", pt(PTRACE_DETACH, p, 0, SIGTERM as usize));
    c.err("after the detach: ESRCH", pt(PTRACE_CONT, p, 0, 0), ESRCH);
    c.reaped("the detached task dies of SIGTERM", p, 0, WaitStatus::Signaled(SIGTERM, false));

    // PTRACE_KILL of a running tracee.
    let Ok(p) = fork_with(|| {
        if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
            return 100;
        }
        let _ = kill(getpid().unwrap_or(0) as i32, SIGSTOP);
        loop {
            let _ = pause();
        }
    }) else {
        return;
    };
    let _ = wait_all(p as i32);
    c.ok("PTRACE_CONT", pt(PTRACE_CONT, p, 0, 0));
    c.err("GETREGS of a running tracee: ESRCH", pt(PTRACE_GETREGS, p, 0, 0), ESRCH);
    c.ok("PTRACE_KILL of a running tracee", pt(PTRACE_KILL, p, 0, 0));
    c.reaped("it dies of SIGKILL", p, __WALL, WaitStatus::Signaled(SIGKILL, false));
}

// ---- the tracer's exit ----------------------------------------------------------

/// A target blocked on a pipe, a tracer (another child) that seizes it with
/// `opts` and exits; then the target is released.
fn tracer_exit_case(c: &mut Checker, opts: u32, name: &str, want: WaitStatus) {
    let Ok([r, w]) = pipe2(0) else { return };
    let Ok(q) = fork_with(|| {
        let mut b = [0u8; 1];
        let _ = read(r, &mut b);
        5
    }) else {
        return;
    };
    let Ok(tracer) = fork_with(|| match pt(PTRACE_SEIZE, q, 0, opts as usize) {
        Ok(_) => 0,
        Err(_) => 1,
    }) else {
        return;
    };
    let mut l = Line::new();
    let _ = write!(l, "{name}: the tracer seized it and exited");
    c.reaped(l.as_str(), tracer, 0, WaitStatus::Exited(0));
    let _ = write(w, b"x");
    let mut l = Line::new();
    let _ = write!(l, "{name}: the target's end");
    c.reaped(l.as_str(), q, 0, want);
    let _ = close(r);
    let _ = close(w);
}

fn tracer_exit_checks(c: &mut Checker) {
    tracer_exit_case(c, 0, "tracer exit", WaitStatus::Exited(5));
    let kill = PTRACE_O_EXITKILL;
    tracer_exit_case(c, kill, "tracer exit with EXITKILL", WaitStatus::Signaled(SIGKILL, false));
}

// ---- exec without TRACEEXEC ----------------------------------------------------

fn exec_sigtrap_check(c: &mut Checker) {
    let Ok(p) = fork_with(|| {
        if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
            return 100;
        }
        exec_self(4)
    }) else {
        return;
    };
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("exec without PTRACE_O_TRACEEXEC: the legacy SIGTRAP stop", code == Some(SIGTRAP));
    c.ok("PTRACE_CONT suppressing it", pt(PTRACE_CONT, p, 0, 0));
    c.reaped("the new image runs (exit 44)", p, __WALL, WaitStatus::Exited(44));
}

// ---- exec while a traced thread is a zombie ---------------------------------------

/// TRACEME, stop, a thread that exits at once, then exec: the exec waits
/// (`de_thread`) until the thread is released, which only its tracer's wait
/// does (a traced thread is not reaped by itself). Exits 33 from the new image.
fn exec_after_thread_tracee() -> i32 {
    if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
        return 100;
    }
    let _ = kill(getpid().unwrap_or(0) as i32, SIGSTOP);
    static TID: AtomicU32 = AtomicU32::new(0);
    extern "C" fn thread(_: usize) -> i32 {
        0
    }
    let Some(stacks) = Stacks::new(1) else { return 101 };
    if !stacks.spawn(0, &TID, thread, 0) {
        return 102;
    }
    exec_self(3)
}

/// Whether task `pid` sleeps (`/proc/PID/stat` state S, or D: Linux's
/// `de_thread` waits killable).
fn sleeping(pid: usize) -> bool {
    let mut p: text::Buf<48> = text::fmt(format_args!("/proc/{pid}/stat"));
    let stat: text::Buf<512> = text::read_file(p.cstr(), 512).unwrap_or_default();
    // The state follows the command's closing parenthesis.
    let s = stat.str();
    s.rfind(')')
        .and_then(|i| s[i + 1..].trim_start().bytes().next())
        .is_some_and(|b| b == b'S' || b == b'D')
}

/// The tracer reaps the thread only once the exec waits for it: the reap
/// must wake the exec (Linux: `__exit_signal`'s `notify_count` wake-up of
/// `group_exec_task`), which then stops at PTRACE_EVENT_EXEC and runs.
fn exec_waits_for_traced_thread_check(c: &mut Checker) {
    let Ok(p) = fork_with(exec_after_thread_tracee) else { return };
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("exec after a traced thread: the tracee's SIGSTOP", code == Some(SIGSTOP));
    let opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;
    c.ok(
        "exec after a traced thread: PTRACE_SETOPTIONS",
        pt(PTRACE_SETOPTIONS, p, 0, opts as usize),
    );
    c.ok("exec after a traced thread: PTRACE_CONT", pt(PTRACE_CONT, p, 0, 0));
    // The clone event and the new thread's first stop, in either order, and
    // only then either goes on: a tracee let go at its clone event could
    // exec and kill the thread before its first stop is seen.
    let (mut tid, mut clone_seen, mut thread_started) = (0, false, false);
    while !(clone_seen && thread_started) {
        let Ok((who, st)) = wait_all(-1) else { break };
        let code = stop_code(st).unwrap_or(0);
        if who == p && code >> 8 == PTRACE_EVENT_CLONE {
            let mut msg = 0u64;
            let _ = pt(PTRACE_GETEVENTMSG, p, 0, &mut msg as *mut u64 as usize);
            tid = msg as usize;
            clone_seen = true;
        } else if who != p && code == SIGSTOP {
            thread_started = true;
        } else {
            break;
        }
    }
    c.check(
        "exec after a traced thread: its clone event and its start",
        clone_seen && thread_started,
    );
    // The thread runs to its end; the tracee goes on to its exec.
    let _ = pt(PTRACE_CONT, tid, 0, 0);
    let _ = pt(PTRACE_CONT, p, 0, 0);
    // The thread ends (by itself, or by the exec's SIGKILL) and waits for
    // this tracer; the exec waits for the thread to be gone.
    let end = monotonic_ns() + 30_000_000_000;
    while !sleeping(p) && monotonic_ns() < end {
        sleep_ms(1);
    }
    c.check("exec after a traced thread: the exec waits for the thread", sleeping(p));
    // The reap releases the thread (its status: 0, or SIGKILL from the exec).
    let reaped = wait_all(tid as i32);
    c.check(
        "exec after a traced thread: the thread reaped",
        reaped.is_ok_and(|(w, st)| {
            w == tid
                && matches!(
                    WaitStatus::from_raw(st),
                    WaitStatus::Exited(0) | WaitStatus::Signaled(SIGKILL, _)
                )
        }),
    );
    let code = wait_all(p as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check(
        "exec after a traced thread: the reap lets the exec go on (PTRACE_EVENT_EXEC)",
        code == Some(SIGTRAP | PTRACE_EVENT_EXEC << 8),
    );
    c.ok("exec after a traced thread: PTRACE_CONT after the exec", pt(PTRACE_CONT, p, 0, 0));
    c.reaped(
        "exec after a traced thread: the new image runs (exit 33)",
        p,
        __WALL,
        WaitStatus::Exited(33),
    );
}

// ---- CLONE_PTRACE and CLONE_UNTRACED --------------------------------------------

extern "C" fn exit3(_: usize) -> i32 {
    3
}

extern "C" fn exit4(_: usize) -> i32 {
    4
}

/// TRACEME; a CLONE_PTRACE child (no option set: traced all the same);
/// SIGUSR2 (the tracer sets TRACEFORK there); a CLONE_UNTRACED child (no
/// event, not traced). Exits 0 if both children ended as they should.
fn clone_flags_tracee() -> i32 {
    if pt(PTRACE_TRACEME, 0, 0, 0).is_err() {
        return 100;
    }
    let me = getpid().unwrap_or(0) as i32;
    let _ = kill(me, SIGSTOP);
    let mut bits = 0;
    let mut st = 0;
    // SAFETY: no CLONE_VM: the child runs on its own copy of this stack.
    let a = unsafe { clone(CLONE_PTRACE | SIGCHLD as u64, 0, 0, 0, 0, exit3, 0) };
    match a {
        Ok(a) if wait4(a as i32, Some(&mut st), 0) == Ok(a) && st == 3 << 8 => {}
        _ => bits |= 1,
    }
    let _ = kill(me, SIGUSR2);
    // SAFETY: as above.
    let b = unsafe { clone(CLONE_UNTRACED | SIGCHLD as u64, 0, 0, 0, 0, exit4, 0) };
    match b {
        Ok(b) if wait4(b as i32, Some(&mut st), 0) == Ok(b) && st == 4 << 8 => {}
        _ => bits |= 2,
    }
    bits
}

fn clone_flags_checks(c: &mut Checker) {
    let Ok(t) = fork_with(clone_flags_tracee) else { return };
    let (mut other_sigstop, mut other_exit, mut events, mut others) = (false, None, 0, 0);
    let mut end = None;
    for _ in 0..16 {
        let Ok((p, st)) = wait_all(-1) else { break };
        match (p == t, stop_code(st)) {
            (true, None) => {
                end = Some(WaitStatus::from_raw(st));
                break;
            }
            (false, None) => other_exit = Some(WaitStatus::from_raw(st)),
            (true, Some(code)) => {
                let mut inject = 0;
                if code >> 8 != 0 {
                    events += 1;
                } else if code == SIGUSR2 {
                    let _ = pt(PTRACE_SETOPTIONS, t, 0, PTRACE_O_TRACEFORK as usize);
                } else if code != SIGSTOP {
                    inject = code as usize;
                }
                let _ = pt(PTRACE_CONT, t, 0, inject);
            }
            (false, Some(code)) => {
                if code == SIGSTOP {
                    if other_sigstop {
                        others += 1;
                    }
                    other_sigstop = true;
                } else {
                    others += 1;
                }
                let _ = pt(PTRACE_CONT, p, 0, 0);
            }
        }
    }
    c.check("CLONE_PTRACE: the child is traced, starting with SIGSTOP", other_sigstop);
    c.check(
        "CLONE_PTRACE: its exit is the tracer's to see",
        other_exit == Some(WaitStatus::Exited(3)),
    );
    c.check("CLONE_PTRACE and CLONE_UNTRACED report no event", events == 0);
    c.check("CLONE_UNTRACED: the child is not traced (no stop of it)", others == 0);
    c.check("both children ended as they should", end == Some(WaitStatus::Exited(0)));
}

// ---- errors ---------------------------------------------------------------------

fn error_checks(c: &mut Checker) {
    let me = getpid().unwrap_or(0);
    c.err("PTRACE_ATTACH to itself: EPERM", pt(PTRACE_ATTACH, me, 0, 0), EPERM);
    c.err("PTRACE_ATTACH to no such pid: ESRCH", pt(PTRACE_ATTACH, 0x3fff_fff0, 0, 0), ESRCH);
    let Ok([r, w]) = pipe2(0) else { return };
    let Ok(q) = fork_with(|| {
        let mut b = [0u8; 1];
        let _ = read(r, &mut b);
        0
    }) else {
        return;
    };
    c.err("PTRACE_CONT of a child not traced: ESRCH", pt(PTRACE_CONT, q, 0, 0), ESRCH);
    c.err("PTRACE_SEIZE with an address: EIO", pt(PTRACE_SEIZE, q, 8, 0), EIO);
    c.err("PTRACE_SEIZE with an unknown option: EIO", pt(PTRACE_SEIZE, q, 0, 1 << 30), EIO);
    c.ok("PTRACE_ATTACH", pt(PTRACE_ATTACH, q, 0, 0));
    c.err("PTRACE_ATTACH twice: EPERM", pt(PTRACE_ATTACH, q, 0, 0), EPERM);
    let code = wait_all(q as i32).ok().and_then(|(_, st)| stop_code(st));
    c.check("PTRACE_ATTACH sends SIGSTOP: its stop", code == Some(SIGSTOP));
    c.err("an unknown request: EIO", pt(0x7777, q, 0, 0), EIO);
    c.err("PTRACE_INTERRUPT without SEIZE: EIO", pt(PTRACE_INTERRUPT, q, 0, 0), EIO);
    c.err(
        "PTRACE_SETOPTIONS with an unknown option: EINVAL",
        pt(PTRACE_SETOPTIONS, q, 0, 1 << 30),
        EINVAL,
    );
    c.err("PTRACE_GETREGS to a bad address: EFAULT", pt(PTRACE_GETREGS, q, 0, 8), EFAULT);
    c.ok("PTRACE_CONT", pt(PTRACE_CONT, q, 0, 0));
    let _ = write(w, b"x");
    c.reaped("the attached child exits 0", q, __WALL, WaitStatus::Exited(0));
    let _ = close(r);
    let _ = close(w);
    // A user that is not root may not trace pid 1 (another user's).
    let Ok(p) = fork_with(|| {
        if setuid(1000).is_err() {
            return 100;
        }
        match pt(PTRACE_ATTACH, 1, 0, 0) {
            Err(e) if e == EPERM => 0,
            _ => 1,
        }
    }) else {
        return;
    };
    c.reaped("PTRACE_ATTACH to pid 1 as another user: EPERM", p, 0, WaitStatus::Exited(0));
}
