//! vfork and clone(CLONE_VM|CLONE_VFORK) as Linux defines them: the child runs
//! in the parent's memory while the parent is suspended until the child exits
//! or execs. One line per check, exit status = number of failed checks.
//!
//! Usage: `vfork PATH-OF-EXITCODE` (the `exitcode` program, exec'd with
//! argument 7). argv[0] must be this program's own path: it execs itself as
//! `vfork --wait-fd FD`, a mode that waits (at most 10 s) for a byte on FD and
//! exits 7, to see that the parent resumes while the exec'd program still runs.
#![no_std]
#![no_main]

use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};

use userspace::*;

userspace::entry!(main);

const STACK: usize = 64 * 1024;
const MS: u64 = 1_000_000;

/// Written by vfork children, read by the parent.
static GLOBAL: AtomicU32 = AtomicU32::new(0);

/// What a vfork child and its suspended parent share (on the parent's stack).
#[derive(Default)]
struct Shared {
    /// 1 when the child started, 2 when it finished its work.
    step: AtomicU32,
    value: AtomicU64,
    pid: AtomicUsize,
    ppid: AtomicUsize,
    /// The errno of a failed execve.
    errno: AtomicI32,
    /// The address of a local of the child (which stack it ran on).
    local: AtomicUsize,
    /// execve's arguments for `child_exec`.
    path: usize,
    argv: usize,
    envp: usize,
}

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"--wait-fd") {
        return wait_mode(args.bytes(2));
    }
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    vfork_exit(&mut c);
    vfork_exit_group(&mut c);
    vfork_exec(&mut c, args.get(1));
    vfork_resumes_at_exec(&mut c, args.get(0));
    vfork_exec_fails(&mut c);
    clone_vm_vfork(&mut c, args.get(1));
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
    c.status()
}

/// `vfork --wait-fd FD`: exit 7 once a byte arrives on FD, 8 if it is closed
/// or fails, 9 after 10 s without one.
fn wait_mode(fd: Option<&[u8]>) -> i32 {
    let Some(fd) = fd.and_then(decimal) else {
        return 8;
    };
    let fd = fd as i32;
    if fcntl(fd, F_SETFL, O_NONBLOCK as usize).is_err() {
        return 8;
    }
    let deadline = monotonic_ns() + 10_000 * MS;
    let mut b = [0u8; 1];
    loop {
        match read(fd, &mut b) {
            Ok(1) => return 7,
            Err(EAGAIN) => {}
            _ => return 8,
        }
        if monotonic_ns() > deadline {
            return 9;
        }
        let _ = nanosleep(&timespec::from_nanos(MS), None);
    }
}

fn decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| b.is_ascii_digit().then(|| n * 10 + (b - b'0') as usize))
}

fn shared(arg: usize) -> &'static Shared {
    // SAFETY: every child function gets the address of a Shared on the
    // parent's stack, which lives until the parent has reaped the child (the
    // parent is suspended meanwhile, or the child only reads before execve).
    unsafe { &*(arg as *const Shared) }
}

fn addr(s: &Shared) -> usize {
    s as *const Shared as usize
}

/// A vfork child: records that it started, waits 20 ms (a parent that was
/// not suspended would run meanwhile and see step 1), writes the parent's
/// memory and exits 5.
extern "C" fn child_exit(arg: usize) -> i32 {
    let s = shared(arg);
    s.step.store(1, SeqCst);
    let local = 0u8;
    s.local.store(core::hint::black_box(&local) as *const u8 as usize, SeqCst);
    let _ = nanosleep(&timespec::from_nanos(20 * MS), None);
    s.pid.store(getpid().unwrap_or(0), SeqCst);
    s.ppid.store(getppid().unwrap_or(0), SeqCst);
    s.value.store(0xfeed_f00d, SeqCst);
    GLOBAL.store(7, SeqCst);
    s.step.store(2, SeqCst);
    5
}

/// Like `child_exit` but ends with exit_group(6).
extern "C" fn child_exit_group(arg: usize) -> i32 {
    let s = shared(arg);
    s.step.store(1, SeqCst);
    let _ = nanosleep(&timespec::from_nanos(20 * MS), None);
    s.value.store(0x66, SeqCst);
    s.step.store(2, SeqCst);
    exit_group(6)
}

/// A vfork child that execs `path` with `argv` and `envp`; on failure it
/// stores the errno and exits 127.
extern "C" fn child_exec(arg: usize) -> i32 {
    let s = shared(arg);
    s.step.store(1, SeqCst);
    // SAFETY: path, argv and envp point to a C string and NULL-terminated
    // arrays of C strings the suspended parent keeps alive.
    let r = unsafe { syscall::syscall3(nr::__NR_execve, s.path, s.argv, s.envp) };
    s.errno.store(Errno::from_ret(r).map_or(-1, |e| e.0), SeqCst);
    127
}

fn vfork_exit(c: &mut Checker) {
    GLOBAL.store(0, SeqCst);
    let s = Shared::default();
    // SAFETY: child_exit writes only the atomics of s and GLOBAL.
    let r = unsafe { vfork(child_exit, addr(&s)) };
    let Some(pid) = c.ok("vfork", r) else {
        return;
    };
    let step = s.step.load(SeqCst);
    c.check("vfork: the parent resumes only after the child exited", step == 2);
    c.check(
        "vfork: the parent sees the child's write to its stack memory",
        s.value.load(SeqCst) == 0xfeed_f00d,
    );
    c.check("vfork: the parent sees the child's write to a static", GLOBAL.load(SeqCst) == 7);
    c.check("vfork: getpid in the child is what vfork returned", s.pid.load(SeqCst) == pid);
    c.check("vfork: getppid in the child is the parent", Ok(s.ppid.load(SeqCst)) == getpid());
    let here = addr(&s);
    let local = s.local.load(SeqCst);
    c.check(
        "vfork: the child runs on the parent's stack, below the caller",
        local < here && here - local < STACK,
    );
    c.reaped("vfork: the child's exit status 5 is reaped", pid, 0, WaitStatus::Exited(5));
}

fn vfork_exit_group(c: &mut Checker) {
    let s = Shared::default();
    // SAFETY: child_exit_group writes only the atomics of s.
    let r = unsafe { vfork(child_exit_group, addr(&s)) };
    let Some(pid) = c.ok("vfork (child ends with exit_group)", r) else {
        return;
    };
    c.check(
        "vfork: the parent resumes after the child's exit_group",
        s.step.load(SeqCst) == 2 && s.value.load(SeqCst) == 0x66,
    );
    c.reaped("vfork: the child's exit_group status 6 is reaped", pid, 0, WaitStatus::Exited(6));
}

fn vfork_exec(c: &mut Checker, prog: Option<&'static CStr>) {
    let name = "vfork + execve exitcode 7: the parent reaps status 7";
    let Some(prog) = prog else {
        c.fail(name, "no program given (usage: vfork PATH-OF-EXITCODE)");
        return;
    };
    let argv: [*const c_char; 3] = [c"exitcode".as_ptr(), c"7".as_ptr(), core::ptr::null()];
    let envp: [*const c_char; 1] = [core::ptr::null()];
    let s = Shared {
        path: prog.as_ptr() as usize,
        argv: argv.as_ptr() as usize,
        envp: envp.as_ptr() as usize,
        ..Shared::default()
    };
    // SAFETY: child_exec only reads s's pointers and writes its atomics.
    let r = unsafe { vfork(child_exec, addr(&s)) };
    let Some(pid) = c.ok("vfork (child execs)", r) else {
        return;
    };
    let e = s.errno.load(SeqCst);
    if e == 0 {
        c.check("vfork + execve: execve succeeded in the child", true);
    } else {
        c.fail("vfork + execve: execve succeeded in the child", Errno(e));
    }
    c.reaped(name, pid, 0, WaitStatus::Exited(7));
}

fn vfork_resumes_at_exec(c: &mut Checker, me: Option<&'static CStr>) {
    let name = "vfork + execve: the parent resumes while the new program runs";
    let Some(me) = me else {
        c.fail(name, "no argv[0]");
        return;
    };
    let Ok([r, w]) = pipe2(O_CLOEXEC) else {
        c.fail(name, "pipe2 failed");
        return;
    };
    // The exec'd program inherits a copy of the read end without O_CLOEXEC.
    let Ok(rfd) = dup(r) else {
        c.fail(name, "dup failed");
        return;
    };
    let mut buf = [0u8; 21];
    let fd_arg = decimal_cstr(rfd as u64, &mut buf);
    let argv: [*const c_char; 4] =
        [me.as_ptr(), c"--wait-fd".as_ptr(), fd_arg.as_ptr(), core::ptr::null()];
    let envp: [*const c_char; 1] = [core::ptr::null()];
    let s = Shared {
        path: me.as_ptr() as usize,
        argv: argv.as_ptr() as usize,
        envp: envp.as_ptr() as usize,
        ..Shared::default()
    };
    // SAFETY: child_exec only reads s's pointers and writes its atomics.
    match unsafe { vfork(child_exec, addr(&s)) } {
        Ok(pid) => {
            let e = s.errno.load(SeqCst);
            if e != 0 {
                c.fail(name, format_args!("execve of argv[0] failed: {}", Errno(e)));
            } else {
                // The new program waits for our byte, so it cannot have exited.
                c.ok_eq(name, wait4(pid as i32, None, WNOHANG), 0);
            }
            let _ = write(w, b"x");
            c.reaped(
                "vfork + execve: the exec'd program exits 7 once released",
                pid,
                0,
                WaitStatus::Exited(7),
            );
        }
        Err(e) => c.fail(name, e),
    }
    for fd in [r, w, rfd as i32] {
        let _ = close(fd);
    }
}

fn vfork_exec_fails(c: &mut Checker) {
    let path = c"/nonexistent/program";
    let argv: [*const c_char; 2] = [path.as_ptr(), core::ptr::null()];
    let envp: [*const c_char; 1] = [core::ptr::null()];
    let s = Shared {
        path: path.as_ptr() as usize,
        argv: argv.as_ptr() as usize,
        envp: envp.as_ptr() as usize,
        ..Shared::default()
    };
    // SAFETY: child_exec only reads s's pointers and writes its atomics.
    let r = unsafe { vfork(child_exec, addr(&s)) };
    let Some(pid) = c.ok("vfork (child's execve fails)", r) else {
        return;
    };
    let e = Errno(s.errno.load(SeqCst));
    c.check("vfork + failed execve: the parent sees the child's ENOENT", e == ENOENT);
    c.reaped("vfork + failed execve: the child exits 127", pid, 0, WaitStatus::Exited(127));
}

fn clone_vm_vfork(c: &mut Checker, prog: Option<&'static CStr>) {
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh private anonymous mapping, the children's stack.
    let stack = match unsafe { mmap(0, STACK, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => a,
        Err(e) => {
            c.fail("clone(CLONE_VM|CLONE_VFORK): mmap a stack", e);
            return;
        }
    };
    let flags = CLONE_VM | CLONE_VFORK | SIGCHLD as u64;
    GLOBAL.store(0, SeqCst);
    let s = Shared::default();
    // SAFETY: the child runs on its own stack and writes only s's atomics and
    // GLOBAL while the parent is suspended.
    let r = unsafe { clone(flags, stack + STACK, 0, 0, 0, child_exit, addr(&s)) };
    if let Some(pid) = c.ok("clone(CLONE_VM|CLONE_VFORK|SIGCHLD) with a child stack", r) {
        c.check(
            "CLONE_VFORK: the parent resumes only after the child exited",
            s.step.load(SeqCst) == 2,
        );
        c.check(
            "CLONE_VM: the parent sees the child's writes",
            s.value.load(SeqCst) == 0xfeed_f00d && GLOBAL.load(SeqCst) == 7,
        );
        let local = s.local.load(SeqCst);
        c.check("the clone child runs on the given stack", (stack..stack + STACK).contains(&local));
        c.check(
            "CLONE_VM|CLONE_VFORK: getpid in the child is the returned pid",
            s.pid.load(SeqCst) == pid,
        );
        c.reaped(
            "CLONE_VM|CLONE_VFORK: the child's status 5 is reaped",
            pid,
            0,
            WaitStatus::Exited(5),
        );
    }

    // As posix_spawn: the child execs on its own stack.
    let name = "CLONE_VM|CLONE_VFORK + execve exitcode 7: the parent reaps status 7";
    match prog {
        None => c.fail(name, "no program given (usage: vfork PATH-OF-EXITCODE)"),
        Some(prog) => {
            let argv: [*const c_char; 3] = [c"exitcode".as_ptr(), c"7".as_ptr(), core::ptr::null()];
            let envp: [*const c_char; 1] = [core::ptr::null()];
            let s = Shared {
                path: prog.as_ptr() as usize,
                argv: argv.as_ptr() as usize,
                envp: envp.as_ptr() as usize,
                ..Shared::default()
            };
            // SAFETY: as above; child_exec only reads s's pointers.
            match unsafe { clone(flags, stack + STACK, 0, 0, 0, child_exec, addr(&s)) } {
                Ok(pid) => {
                    let e = s.errno.load(SeqCst);
                    if e == 0 {
                        c.check("CLONE_VM|CLONE_VFORK + execve succeeded in the child", true);
                    } else {
                        c.fail("CLONE_VM|CLONE_VFORK + execve succeeded in the child", Errno(e));
                    }
                    c.reaped(name, pid, 0, WaitStatus::Exited(7));
                }
                Err(e) => c.fail(name, e),
            }
        }
    }
    // SAFETY: no child uses the stack any more (they exited or exec'd).
    let _ = unsafe { munmap(stack, STACK) };
}
