//! pidfds (issue 13 item 6; Linux 6.x `pidfd_open`, `pidfd_send_signal`,
//! `pidfd_getfd`, CLONE_PIDFD for clone and clone3, `waitid(P_PIDFD)`,
//! `poll`/`ppoll` on a pidfd, `fstat`/`fcntl`/`close` on one, pidfds across
//! fork and execve), CLONE_CLEAR_SIGHAND and clone3's `set_tid` (in a new
//! PID namespace: run as root). One line per check, exit status =
//! number of failed checks. Run with the argument `exec FD1 FD2` it is the
//! image a child execs: it checks the pidfds it was given.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU32, Ordering::SeqCst};

use userspace::thread::{spawn_thread, wait_until, Stacks};
use userspace::*;

userspace::entry!(main);

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"exec") {
        return after_exec(&args);
    }
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    open_and_file_ops(&mut c);
    clone_pidfd(&mut c);
    clone3_pidfd(&mut c);
    wait_and_poll(&mut c);
    send_signal(&mut c);
    getfd(&mut c);
    threads(&mut c);
    across_fork_and_exec(&mut c, &args);
    clear_sighand(&mut c);
    set_tid(&mut c);
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
    c.status()
}

// ---- helpers ---------------------------------------------------------------

/// A child that waits for a byte on `fd` (or end of file), then exits with
/// `code`: its pid. The parent keeps the write end.
fn waiting_child(code: i32) -> (usize, i32) {
    let [r, w] = pipe();
    let pid = fork_with(|| {
        let _ = close(w);
        wait_on(r);
        code
    })
    .unwrap_or(0);
    let _ = close(r);
    (pid, w)
}

fn fstat_of(fd: i32) -> Option<stat> {
    let mut st = stat::default();
    fstat(fd, &mut st).ok().map(|_| st)
}

/// What `poll` said: how many ready, and the revents.
#[derive(PartialEq)]
struct Polled(usize, i16);

impl core::fmt::Display for Polled {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ready, revents {:#x}", self.0, self.1)
    }
}

fn poll1(fd: i32, events: i16, timeout_ms: i32) -> Result<Polled, Errno> {
    let mut p = [pollfd { fd, events, revents: 0 }];
    poll(&mut p, timeout_ms).map(|n| Polled(n, p[0].revents))
}

fn waitid_pidfd(fd: i32, options: u32) -> Result<siginfo_t, Errno> {
    let mut info = siginfo_t::default();
    waitid(P_PIDFD, fd, Some(&mut info), options).map(|_| info)
}

/// The lowest free descriptor number now.
fn lowest_free_fd() -> i32 {
    let fd = dup(0).map_or(-1, |f| f as i32);
    let _ = close(fd);
    fd
}

// ---- pidfd_open and what a pidfd is as a file -------------------------------------

fn open_and_file_ops(c: &mut Checker) {
    let me = getpid().unwrap_or(0) as i32;
    let Some(fd) = c.ok("pidfd_open(getpid(), 0)", pidfd_open(me, 0)) else { return };
    let fd = fd as i32;
    c.ok_eq("F_GETFD: close-on-exec", fcntl(fd, F_GETFD, 0), FD_CLOEXEC as usize);
    c.ok_eq("F_GETFL: O_RDWR", fcntl(fd, F_GETFL, 0), O_RDWR as usize);
    c.err("pidfd_open with unknown flags", pidfd_open(me, 1), EINVAL);
    c.err("pidfd_open(0)", pidfd_open(0, 0), EINVAL);
    c.err("pidfd_open(-1)", pidfd_open(-1, 0), EINVAL);
    let nb = pidfd_open(me, PIDFD_NONBLOCK).map_or(-1, |f| f as i32);
    c.ok_eq(
        "PIDFD_NONBLOCK: F_GETFL O_RDWR|O_NONBLOCK",
        fcntl(nb, F_GETFL, 0),
        (O_RDWR | O_NONBLOCK) as usize,
    );
    let st = fstat_of(fd);
    c.check("fstat works", st.is_some());
    let st = st.unwrap_or_default();
    c.ok_eq("st_mode has no file type, mode 0700", Ok(st.st_mode), 0o700);
    c.ok_eq("st_size 0", Ok(st.st_size), 0);
    let other = fstat_of(nb).unwrap_or_default();
    c.check("two pidfds of one process have the same st_ino", other.st_ino == st.st_ino);
    let mut sf = statfs::default();
    c.ok("fstatfs works", fstatfs(fd, &mut sf));
    c.ok_eq("f_type PID_FS_MAGIC", Ok(sf.f_type as u64), PID_FS_MAGIC);
    let mut buf = [0u8; 8];
    c.err("read: EINVAL", read(fd, &mut buf), EINVAL);
    c.err("write: EINVAL", write(fd, b"x"), EINVAL);
    c.err("lseek: ESPIPE", lseek(fd, 0, SEEK_SET), ESPIPE);
    c.err("getdents64: ENOTDIR", getdents64(fd, &mut buf), ENOTDIR);
    c.ok_eq(
        "dup of a pidfd is not close-on-exec",
        dup(fd).and_then(|d| fcntl(d as i32, F_GETFD, 0)),
        0,
    );
    c.ok_eq("close", close(nb), 0);
    c.err("close again: EBADF", close(nb), EBADF);
    let _ = close(fd);

    // A reaped process: its number names nothing.
    let (pid, w) = waiting_child(0);
    let _ = close(w);
    c.reaped("a child exits", pid, 0, WaitStatus::Exited(0));
    c.err("pidfd_open of a reaped pid: ESRCH", pidfd_open(pid as i32, 0), ESRCH);
    // A zombie still has its pid.
    let (pid, w) = waiting_child(0);
    let _ = close(w);
    let mut info = siginfo_t::default();
    let _ = waitid(P_PID, pid as i32, Some(&mut info), WEXITED | WNOWAIT);
    let z = pidfd_open(pid as i32, 0);
    c.check("pidfd_open of a zombie works", z.is_ok());
    if let Ok(z) = z {
        c.ok_eq("and it polls readable", poll1(z as i32, POLLIN, 0), Polled(1, POLLIN));
        let _ = close(z as i32);
    }
    c.reaped("the zombie is reaped", pid, 0, WaitStatus::Exited(0));
}

// ---- CLONE_PIDFD ---------------------------------------------------------------------

static PIDFD_WORD: AtomicI32 = AtomicI32::new(-1);
static TID_WORD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn child_waits(fd: usize) -> i32 {
    wait_on(fd as i32);
    7
}

extern "C" fn child_exits(code: usize) -> i32 {
    code as i32
}

fn clone_pidfd(c: &mut Checker) {
    let [r, w] = pipe();
    PIDFD_WORD.store(-1, SeqCst);
    let word = PIDFD_WORD.as_ptr() as usize;
    // SAFETY: no CLONE_VM: the child runs on a copy of our memory.
    let pid =
        unsafe { clone(CLONE_PIDFD | SIGCHLD as u64, 0, word, 0, 0, child_waits, r as usize) };
    let _ = close(r);
    let Some(pid) = c.ok("clone(CLONE_PIDFD)", pid) else { return };
    let fd = PIDFD_WORD.load(SeqCst);
    c.check("the pidfd is written through parent_tid", fd >= 0);
    c.ok_eq("it is close-on-exec", fcntl(fd, F_GETFD, 0), FD_CLOEXEC as usize);
    c.ok_eq("F_GETFL O_RDWR", fcntl(fd, F_GETFL, 0), O_RDWR as usize);
    c.ok_eq("poll while the child runs: nothing", poll1(fd, POLLIN, 0), Polled(0, 0));
    c.ok_eq("pidfd_send_signal(0) to it", pidfd_send_signal(fd, 0, None, 0), 0);
    let _ = put_byte(w, 1);
    c.ok_eq(
        "poll once it exited: POLLIN|POLLRDNORM (a zombie, no POLLHUP)",
        poll1(fd, POLLIN | POLLRDNORM, 10_000),
        Polled(1, POLLIN | POLLRDNORM),
    );
    c.ok_eq("pidfd_send_signal(0) to the zombie", pidfd_send_signal(fd, 0, None, 0), 0);
    let info = waitid_pidfd(fd, WEXITED);
    c.check(
        "waitid(P_PIDFD) reaps it: CLD_EXITED, status 7, its pid",
        info.is_ok_and(|i| {
            i.si_code == CLD_EXITED && i.si_status() == 7 && i.si_pid() as usize == pid
        }),
    );
    c.ok_eq(
        "poll after the reap: POLLIN|POLLHUP",
        poll1(fd, POLLIN, 0),
        Polled(1, POLLIN | POLLHUP),
    );
    c.err("waitid(P_PIDFD) again: ECHILD", waitid_pidfd(fd, WEXITED), ECHILD);
    c.err("pidfd_send_signal after the reap: ESRCH", pidfd_send_signal(fd, 0, None, 0), ESRCH);
    c.err("and SIGKILL: ESRCH", pidfd_send_signal(fd, SIGKILL, None, 0), ESRCH);
    c.err("pidfd_getfd after the reap: ESRCH", pidfd_getfd(fd, 0, 0), ESRCH);
    let _ = close(fd);
    let _ = close(w);

    // CLONE_PIDFD and CLONE_PARENT_SETTID would both write through parent_tid.
    let flags = CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD as u64;
    // SAFETY: as above (it fails before a child exists).
    let r = unsafe { clone(flags, 0, word, 0, 0, child_exits, 0) };
    c.err("clone(CLONE_PIDFD|CLONE_PARENT_SETTID): EINVAL", r, EINVAL);
    let flags = CLONE_PIDFD | CLONE_DETACHED | SIGCHLD as u64;
    // SAFETY: as above.
    let r = unsafe { clone(flags, 0, word, 0, 0, child_exits, 0) };
    c.err("clone(CLONE_PIDFD|CLONE_DETACHED): EINVAL", r, EINVAL);
}

fn clone3_with(args: &clone_args, code: usize) -> SysResult {
    // SAFETY: args is a live clone_args; no CLONE_VM.
    unsafe { clone3(args, core::mem::size_of::<clone_args>(), child_exits, code) }
}

fn clone3_pidfd(c: &mut Checker) {
    PIDFD_WORD.store(-1, SeqCst);
    TID_WORD.store(-1, SeqCst);
    let args = clone_args {
        flags: CLONE_PIDFD | CLONE_PARENT_SETTID,
        pidfd: PIDFD_WORD.as_ptr() as u64,
        parent_tid: TID_WORD.as_ptr() as u64,
        exit_signal: SIGCHLD as u64,
        ..Default::default()
    };
    let pid = clone3_with(&args, 3);
    if let Some(pid) = c.ok("clone3(CLONE_PIDFD|CLONE_PARENT_SETTID), two places", pid) {
        let fd = PIDFD_WORD.load(SeqCst);
        c.check("args.pidfd has the pidfd", fd >= 0);
        c.check("args.parent_tid the pid", TID_WORD.load(SeqCst) as usize == pid);
        let info = waitid_pidfd(fd, WEXITED);
        c.check("waitid(P_PIDFD): status 3", info.is_ok_and(|i| i.si_status() == 3));
        let _ = close(fd);
    }
    let same = clone_args { parent_tid: args.pidfd, ..args };
    c.err("clone3 with pidfd == parent_tid: EINVAL", clone3_with(&same, 0), EINVAL);
    // A pidfd field without CLONE_PIDFD is not used.
    PIDFD_WORD.store(-1, SeqCst);
    let unused = clone_args { flags: 0, ..args };
    if let Some(pid) = c.ok("clone3 with args.pidfd but no CLONE_PIDFD", clone3_with(&unused, 0)) {
        c.check("nothing is written there", PIDFD_WORD.load(SeqCst) == -1);
        c.reaped("that child", pid, 0, WaitStatus::Exited(0));
    }
    // A bad pidfd pointer: EFAULT, no child, no descriptor used.
    let free = lowest_free_fd();
    let bad = clone_args { flags: CLONE_PIDFD, pidfd: 8, ..args };
    c.err("clone3 with a bad args.pidfd: EFAULT", clone3_with(&bad, 0), EFAULT);
    c.err("and no child was made", wait4(-1, None, WNOHANG), ECHILD);
    c.check("nor a descriptor taken", lowest_free_fd() == free);
}

// ---- waitid(P_PIDFD) and poll ----------------------------------------------------------

fn wait_and_poll(c: &mut Checker) {
    let (pid, w) = waiting_child(4);
    let fd = pidfd_open(pid as i32, 0).map_or(-1, |f| f as i32);
    let nb = pidfd_open(pid as i32, PIDFD_NONBLOCK).map_or(-1, |f| f as i32);
    c.err("waitid(P_PIDFD, -1): EINVAL", waitid_pidfd(-1, WEXITED), EINVAL);
    c.err("waitid(P_PIDFD, not a pidfd): EBADF", waitid_pidfd(w, WEXITED), EBADF);
    c.err("waitid(P_PIDFD, no descriptor): EBADF", waitid_pidfd(999, WEXITED), EBADF);
    c.err(
        "waitid on a PIDFD_NONBLOCK pidfd of a running child: EAGAIN",
        waitid_pidfd(nb, WEXITED),
        EAGAIN,
    );
    let i = waitid_pidfd(nb, WEXITED | WNOHANG);
    c.check("with WNOHANG: 0, si_pid 0", i.is_ok_and(|i| i.si_pid() == 0));
    let me = pidfd_open(getpid().unwrap_or(0) as i32, 0).map_or(-1, |f| f as i32);
    c.err("waitid on a pidfd of oneself (not a child): ECHILD", waitid_pidfd(me, WEXITED), ECHILD);
    // A sibling is not a child either.
    let sib = fork_with(|| match waitid_pidfd(fd, WEXITED) {
        Err(ECHILD) => 0,
        _ => 1,
    });
    if let Ok(sib) = sib {
        c.reaped("waitid on a sibling's pidfd: ECHILD", sib, 0, WaitStatus::Exited(0));
    }
    let mut t = timespec::from_nanos(0);
    let mut p = [pollfd { fd, events: POLLIN, revents: 0 }];
    c.ok_eq("ppoll with a zero timeout while it runs: 0", ppoll(&mut p, Some(&mut t), None), 0);
    let mut bad = timespec { tv_sec: 0, tv_nsec: 1_000_000_000 };
    c.err("ppoll with tv_nsec 1e9: EINVAL", ppoll(&mut p, Some(&mut bad), None), EINVAL);
    let _ = put_byte(w, 1);
    let mask = sigmask(SIGUSR1);
    c.ok_eq("ppoll without a timeout, with a mask: it exits", ppoll(&mut p, None, Some(&mask)), 1);
    c.check("revents POLLIN", p[0].revents == POLLIN);
    c.ok_eq("the mask is back after ppoll", sigmask_get(), 0);
    let i = waitid_pidfd(fd, WEXITED | WNOWAIT);
    c.check("WNOWAIT: reported, status 4", i.is_ok_and(|i| i.si_status() == 4));
    let i = waitid_pidfd(nb, WEXITED);
    c.check("then the non-blocking pidfd reaps it", i.is_ok_and(|i| i.si_status() == 4));
    c.ok_eq("both pidfds poll POLLIN|POLLHUP", poll1(fd, POLLIN, 0), Polled(1, POLLIN | POLLHUP));
    close_all(&[fd, nb, me, w]);
}

// ---- pidfd_send_signal ---------------------------------------------------------------

static INFO_CODE: AtomicI32 = AtomicI32::new(0);
static INFO_PID: AtomicI32 = AtomicI32::new(0);
static INFO_INT: AtomicI32 = AtomicI32::new(0);
static HANDLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_sig: i32, info: *mut siginfo_t, _uc: *mut ucontext) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let i = unsafe { &*info };
    INFO_CODE.store(i.si_code, SeqCst);
    INFO_PID.store(i.si_pid(), SeqCst);
    INFO_INT.store(i.si_status(), SeqCst);
    HANDLED.fetch_add(1, SeqCst);
}

fn catch_usr1() {
    let act = new_sigaction(on_usr1 as *const () as usize, SA_SIGINFO, 0);
    // SAFETY: on_usr1 only stores to atomics.
    let _ = unsafe { rt_sigaction(SIGUSR1, Some(&act), None) };
}

/// A child that catches SIGUSR1, tells the parent it is ready, and exits
/// with a bit per wrong field of what it got: si_code `code`, si_pid its
/// parent's (when `pid`), si_int `int` (when not 0).
fn usr1_child(code: i32, check_pid: bool, int: i32) -> (usize, i32) {
    let [r, w] = pipe();
    let pid = fork_with(|| {
        let _ = close(r);
        catch_usr1();
        let _ = put_byte(w, 1);
        let got = eventually(|| HANDLED.load(SeqCst) > 0);
        let mut bits = 0;
        if !got || INFO_CODE.load(SeqCst) != code {
            bits |= 1;
        }
        if check_pid && INFO_PID.load(SeqCst) != getppid().unwrap_or(0) as i32 {
            bits |= 2;
        }
        if int != 0 && INFO_INT.load(SeqCst) != int {
            bits |= 4;
        }
        bits
    })
    .unwrap_or(0);
    let _ = close(w);
    wait_on(r);
    let _ = close(r);
    let fd = pidfd_open(pid as i32, 0).map_or(-1, |f| f as i32);
    (pid, fd)
}

fn queue_info(sig: u32, code: i32, int: i32) -> siginfo_t {
    let mut i = siginfo_t { si_signo: sig as i32, si_code: code, ..Default::default() };
    i._sifields[0] = getpid().unwrap_or(0) as u64;
    i._sifields[1] = int as u32 as u64;
    i
}

fn send_signal(c: &mut Checker) {
    let (pid, fd) = usr1_child(SI_USER, true, 0);
    c.err("unknown flags: EINVAL", pidfd_send_signal(fd, SIGUSR1, None, 8), EINVAL);
    let two = PIDFD_SIGNAL_THREAD | PIDFD_SIGNAL_THREAD_GROUP;
    c.err("two scope flags: EINVAL", pidfd_send_signal(fd, SIGUSR1, None, two), EINVAL);
    c.err("no such descriptor: EBADF", pidfd_send_signal(999, SIGUSR1, None, 0), EBADF);
    c.err("not a pidfd: EBADF", pidfd_send_signal(0, SIGUSR1, None, 0), EBADF);
    c.err("signal 100: EINVAL", pidfd_send_signal(fd, 100, None, 0), EINVAL);
    let wrong = queue_info(SIGUSR2, SI_QUEUE, 1);
    c.err(
        "siginfo of another signal: EINVAL",
        pidfd_send_signal(fd, SIGUSR1, Some(&wrong), 0),
        EINVAL,
    );
    let user = queue_info(SIGUSR1, SI_USER, 1);
    c.err(
        "siginfo with si_code SI_USER to another process: EPERM",
        pidfd_send_signal(fd, SIGUSR1, Some(&user), 0),
        EPERM,
    );
    let tk = queue_info(SIGUSR1, SI_TKILL, 1);
    c.err("and SI_TKILL: EPERM", pidfd_send_signal(fd, SIGUSR1, Some(&tk), 0), EPERM);
    c.ok_eq("SIGUSR1 without siginfo", pidfd_send_signal(fd, SIGUSR1, None, 0), 0);
    c.reaped("its handler saw SI_USER from its parent", pid, 0, WaitStatus::Exited(0));
    let _ = close(fd);

    let (pid, fd) = usr1_child(SI_QUEUE, true, 42);
    let q = queue_info(SIGUSR1, SI_QUEUE, 42);
    c.ok_eq("siginfo SI_QUEUE with a value", pidfd_send_signal(fd, SIGUSR1, Some(&q), 0), 0);
    c.reaped("its handler saw SI_QUEUE and the value", pid, 0, WaitStatus::Exited(0));
    let _ = close(fd);

    let (pid, fd) = usr1_child(SI_TKILL, true, 0);
    c.ok_eq("PIDFD_SIGNAL_THREAD", pidfd_send_signal(fd, SIGUSR1, None, PIDFD_SIGNAL_THREAD), 0);
    c.reaped("its handler saw SI_TKILL", pid, 0, WaitStatus::Exited(0));
    let _ = close(fd);

    let (pid, fd) = usr1_child(SI_USER, true, 0);
    let g = PIDFD_SIGNAL_THREAD_GROUP;
    c.ok_eq("PIDFD_SIGNAL_THREAD_GROUP", pidfd_send_signal(fd, SIGUSR1, None, g), 0);
    c.reaped("its handler saw SI_USER", pid, 0, WaitStatus::Exited(0));
    let _ = close(fd);

    // To oneself, any si_code goes.
    catch_usr1();
    HANDLED.store(0, SeqCst);
    let me = pidfd_open(getpid().unwrap_or(0) as i32, 0).map_or(-1, |f| f as i32);
    let own = queue_info(SIGUSR1, SI_USER, 9);
    c.ok_eq("siginfo SI_USER to oneself", pidfd_send_signal(me, SIGUSR1, Some(&own), 0), 0);
    c.check(
        "the handler ran with it",
        eventually(|| HANDLED.load(SeqCst) == 1) && INFO_CODE.load(SeqCst) == SI_USER,
    );
    let _ = close(me);
    let _ = signal_disposition(SIGUSR1, SIG_DFL);

    // A fatal signal, and a process group.
    let (pid, w) = waiting_child(0);
    let fd = pidfd_open(pid as i32, 0).map_or(-1, |f| f as i32);
    c.ok_eq("SIGTERM", pidfd_send_signal(fd, SIGTERM, None, 0), 0);
    // (Had the signal not come, closing the pipe ends the child: a FAIL
    // below rather than a wait without end.)
    let _ = poll1(fd, POLLIN, 10_000);
    let _ = close(w);
    let i = waitid_pidfd(fd, WEXITED);
    c.check(
        "it is killed: CLD_KILLED, SIGTERM",
        i.is_ok_and(|i| i.si_code == CLD_KILLED && i.si_status() == SIGTERM as i32),
    );
    let _ = close(fd);
    let (pid, w) = waiting_child(0);
    let _ = setpgid(pid as i32, pid as i32);
    let fd = pidfd_open(pid as i32, 0).map_or(-1, |f| f as i32);
    let pg = PIDFD_SIGNAL_PROCESS_GROUP;
    c.ok_eq("PIDFD_SIGNAL_PROCESS_GROUP", pidfd_send_signal(fd, SIGKILL, None, pg), 0);
    let _ = poll1(fd, POLLIN, 10_000);
    let _ = close(w);
    c.reaped("the group's process is killed", pid, 0, WaitStatus::Signaled(SIGKILL, false));
    c.err("then ESRCH", pidfd_send_signal(fd, SIGKILL, None, pg), ESRCH);
    let _ = close(fd);
}

// ---- pidfd_getfd ---------------------------------------------------------------------

fn getfd(c: &mut Checker) {
    let [r, w] = pipe();
    let (pid, go) = waiting_child(0);
    let fd = pidfd_open(pid as i32, 0).map_or(-1, |f| f as i32);
    // The child has the pipe's write end at `w` (it was open at the fork).
    let _ = close(w);
    let got = pidfd_getfd(fd, w, 0);
    if let Some(nfd) = c.ok("pidfd_getfd of the child's pipe end", got) {
        let nfd = nfd as i32;
        c.ok_eq("close-on-exec", fcntl(nfd, F_GETFD, 0), FD_CLOEXEC as usize);
        c.ok_eq("the same open file: a write reaches the pipe", write(nfd, b"z"), 1);
        let mut b = [0u8; 1];
        c.check("read back", read(r, &mut b) == Ok(1) && b[0] == b'z');
        let _ = close(nfd);
    }
    c.err("pidfd_getfd with flags: EINVAL", pidfd_getfd(fd, 0, 1), EINVAL);
    c.err("pidfd_getfd of a descriptor it lacks: EBADF", pidfd_getfd(fd, 999, 0), EBADF);
    c.err("pidfd_getfd through a pipe: EBADF", pidfd_getfd(r, 0, 0), EBADF);
    // Another user may not take descriptors or send signals.
    let me = pidfd_open(getpid().unwrap_or(0) as i32, 0).map_or(-1, |f| f as i32);
    let other = fork_with(|| {
        if setgid(65534).is_err() || setuid(65534).is_err() {
            return 7;
        }
        let a = pidfd_getfd(me, 0, 0) == Err(EPERM);
        let b = pidfd_send_signal(me, 0, None, 0) == Err(EPERM);
        (!a) as i32 | ((!b) as i32) << 1
    });
    if let Ok(other) = other {
        c.reaped_bits(
            other,
            0,
            &[
                "an unprivileged process: pidfd_getfd of root's EPERM",
                "and pidfd_send_signal EPERM",
            ],
        );
    }
    let _ = put_byte(go, 1);
    c.reaped("the child", pid, 0, WaitStatus::Exited(0));
    close_all(&[fd, r, go, me]);
}

// ---- threads --------------------------------------------------------------------------

static T_TID: AtomicU32 = AtomicU32::new(0);
static T_GO: AtomicU32 = AtomicU32::new(0);

extern "C" fn thread_waits(_: usize) -> i32 {
    wait_until(&T_GO, |v| v != 0);
    0
}

/// In a child process: a thread is started; the main thread exits alone
/// (exit, not exit_group) once told, and the other thread when told.
fn threaded_child(stacks: Stacks, go: i32) -> i32 {
    // SAFETY: stack 0 is the thread's alone; T_TID and T_GO are static.
    if unsafe { spawn_thread(stacks.top(0), &T_TID, thread_waits, 0) }.is_err() {
        return 1;
    }
    wait_on(go);
    exit(0)
}

fn threads(c: &mut Checker) {
    let Some(stacks) = Stacks::new(2) else {
        c.fail("thread stacks", "mmap failed");
        return;
    };
    // A thread's tid: pidfd_open needs PIDFD_THREAD for it.
    let me = getpid().unwrap_or(0) as i32;
    // SAFETY: stack 1 is the thread's alone; T_TID and T_GO are static.
    if unsafe { spawn_thread(stacks.top(1), &T_TID, thread_waits, 0) }.is_ok() {
        let tid = T_TID.load(SeqCst) as i32;
        c.err("pidfd_open of a thread: ENOENT", pidfd_open(tid, 0), ENOENT);
        let t = pidfd_open(tid, PIDFD_THREAD);
        c.check("with PIDFD_THREAD it works", t.is_ok());
        let t = t.map_or(-1, |f| f as i32);
        c.ok_eq(
            "F_GETFL O_RDWR|PIDFD_THREAD",
            fcntl(t, F_GETFL, 0),
            (O_RDWR | PIDFD_THREAD) as usize,
        );
        let p = pidfd_open(me, PIDFD_THREAD).map_or(-1, |f| f as i32);
        c.check(
            "the leader's thread pidfd and process pidfd share st_ino",
            fstat_of(p).map(|s| s.st_ino) == fstat_of(me_pidfd(me)).map(|s| s.st_ino),
        );
        c.ok_eq("poll the running thread: nothing", poll1(t, POLLIN, 0), Polled(0, 0));
        T_GO.store(1, SeqCst);
        let _ = futex_wake(&T_GO, 0, i32::MAX as u32);
        c.ok_eq(
            "poll once it exited: POLLIN|POLLHUP (threads are reaped at once)",
            poll1(t, POLLIN, 2000),
            Polled(1, POLLIN | POLLHUP),
        );
        c.err("waitid on a thread pidfd: ECHILD", waitid_pidfd(t, WEXITED), ECHILD);
        close_all(&[t, p]);
        T_GO.store(0, SeqCst);
    }
    // A process whose main thread exits first is not done until its last
    // thread exits.
    let [r1, w1] = pipe();
    T_TID.store(0, SeqCst);
    let pid = fork_with(|| threaded_child(stacks, r1)).unwrap_or(0);
    let fd = pidfd_open(pid as i32, 0).map_or(-1, |f| f as i32);
    let lt = pidfd_open(pid as i32, PIDFD_THREAD).map_or(-1, |f| f as i32);
    let _ = put_byte(w1, 1);
    // The main thread is a zombie now (nothing to wait for: poll a while).
    nap();
    c.ok_eq(
        "main thread gone, another running: poll shows nothing",
        poll1(fd, POLLIN, 50),
        Polled(0, 0),
    );
    c.ok_eq(
        "a PIDFD_THREAD pidfd of that main thread: nothing either (Linux 6.15+)",
        poll1(lt, POLLIN, 50),
        Polled(0, 0),
    );
    let _ = close(lt);
    c.ok_eq("pidfd_send_signal(0) still finds it", pidfd_send_signal(fd, 0, None, 0), 0);
    c.ok_eq("SIGKILL ends the other thread", pidfd_send_signal(fd, SIGKILL, None, 0), 0);
    c.ok_eq("then the process polls POLLIN", poll1(fd, POLLIN, 10_000), Polled(1, POLLIN));
    let i = waitid_pidfd(fd, WEXITED | WNOHANG);
    c.check("waitid: killed by SIGKILL", i.is_ok_and(|i| i.si_status() == SIGKILL as i32));
    if i.is_ok_and(|i| i.si_pid() == 0) {
        // Still running (a FAIL above): end it rather than wait for ever.
        let _ = kill(pid as i32, SIGKILL);
        let _ = reap(pid);
    }
    close_all(&[fd, r1, w1]);

    // CLONE_PIDFD with CLONE_THREAD: a PIDFD_THREAD pidfd.
    PIDFD_WORD.store(-1, SeqCst);
    T_TID.store(0, SeqCst);
    let flags =
        userspace::thread::THREAD_FLAGS | CLONE_PIDFD | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID;
    let word = PIDFD_WORD.as_ptr() as usize;
    // SAFETY: stack 1 is the thread's alone; the words are static.
    let r =
        unsafe { clone(flags, stacks.top(1), word, T_TID.as_ptr() as usize, 0, thread_waits, 0) };
    if c.ok("clone(CLONE_THREAD|CLONE_PIDFD)", r).is_some() {
        let t = PIDFD_WORD.load(SeqCst);
        c.ok_eq(
            "its pidfd is a PIDFD_THREAD one",
            fcntl(t, F_GETFL, 0),
            (O_RDWR | PIDFD_THREAD) as usize,
        );
        T_GO.store(1, SeqCst);
        let _ = futex_wake(&T_GO, 0, i32::MAX as u32);
        // The poll wakes when the thread exits (`do_notify_pidfd` in
        // `exit_notify`); POLLHUP comes when it is released, an instant
        // later (Linux `release_task` after that wake-up, in the guest
        // too): on several CPUs the first look may fall in between, so look
        // again until POLLHUP or 2 s.
        let mut polled = poll1(t, POLLIN, 2000);
        let deadline = monotonic_ns() + 2_000_000_000;
        while matches!(polled, Ok(Polled(1, r)) if r & POLLHUP == 0) && monotonic_ns() < deadline {
            nap();
            polled = poll1(t, POLLIN, 0);
        }
        c.ok_eq(
            "it polls POLLIN|POLLHUP once the thread exits",
            polled,
            Polled(1, POLLIN | POLLHUP),
        );
        let _ = close(t);
        T_GO.store(0, SeqCst);
    }
}

fn me_pidfd(me: i32) -> i32 {
    static FD: AtomicI32 = AtomicI32::new(-1);
    if FD.load(SeqCst) < 0 {
        FD.store(pidfd_open(me, 0).map_or(-1, |f| f as i32), SeqCst);
    }
    FD.load(SeqCst)
}

// ---- fork and execve ---------------------------------------------------------------------

fn across_fork_and_exec(c: &mut Checker, args: &Args) {
    let (pid, w) = waiting_child(5);
    let fd = pidfd_open(pid as i32, 0).map_or(-1, |f| f as i32);
    let ino = fstat_of(fd).map_or(0, |s| s.st_ino);
    let forked = fork_with(|| {
        let same = fstat_of(fd).is_some_and(|s| s.st_ino == ino);
        let quiet = poll1(fd, POLLIN, 0) == Ok(Polled(0, 0));
        (!same) as i32 | ((!quiet) as i32) << 1
    });
    if let Ok(f) = forked {
        c.reaped_bits(
            f,
            0,
            &["a fork child has the pidfd: same st_ino", "and polls it (the process runs)"],
        );
    }
    // Kept by execve once close-on-exec is cleared; the other one closes.
    let kept = dup(fd).map_or(-1, |f| f as i32);
    let gone = pidfd_open(pid as i32, 0).map_or(-1, |f| f as i32);
    let Some(prog) = args.get(0) else { return };
    let (mut a1, mut a2) = ([0u8; 21], [0u8; 21]);
    let a1 = decimal_cstr(kept.max(0) as u64, &mut a1).as_ptr();
    let a2 = decimal_cstr(gone.max(0) as u64, &mut a2).as_ptr();
    let exec = fork_with(|| {
        let argv = [prog.as_ptr() as usize, c"exec".as_ptr() as usize, a1 as usize, a2 as usize, 0];
        // SAFETY: argv is a NULL-terminated array of C strings; envp is empty.
        let envp = [0usize];
        unsafe {
            syscall::syscall3(
                nr::__NR_execve,
                prog.as_ptr() as usize,
                argv.as_ptr() as usize,
                envp.as_ptr() as usize,
            )
        };
        0x7f
    });
    if let Ok(e) = exec {
        c.reaped_bits(
            e,
            0,
            &[
                "after execve: the pidfd without close-on-exec is there",
                "still a pidfd (F_GETFL O_RDWR)",
                "and polls (the process runs)",
                "the close-on-exec one is closed",
            ],
        );
    }
    let _ = put_byte(w, 1);
    let i = waitid_pidfd(kept, WEXITED);
    c.check("waitid through the dup: status 5", i.is_ok_and(|i| i.si_status() == 5));
    close_all(&[fd, kept, gone, w]);
}

fn parse(b: Option<&[u8]>) -> i32 {
    b.map_or(-1, |b| b.iter().fold(0i32, |a, d| a * 10 + (d - b'0') as i32))
}

/// The exec'd image: bit 0 the kept pidfd is not there, 1 it is not a pidfd
/// (F_GETFL), 2 it does not poll "running", 3 the close-on-exec one is open.
fn after_exec(args: &Args) -> i32 {
    let (kept, gone) = (parse(args.bytes(2)), parse(args.bytes(3)));
    let mut bits = 0;
    if fstat_of(kept).is_none() {
        bits |= 1;
    }
    if fcntl(kept, F_GETFL, 0) != Ok(O_RDWR as usize) {
        bits |= 2;
    }
    if poll1(kept, POLLIN, 0) != Ok(Polled(0, 0)) {
        bits |= 4;
    }
    if fcntl(gone, F_GETFD, 0) != Err(EBADF) {
        bits |= 8;
    }
    bits
}

// ---- CLONE_CLEAR_SIGHAND ----------------------------------------------------------------

extern "C" fn on_usr2(_: i32) {}

extern "C" fn clear_sighand_child(_: usize) -> i32 {
    let mut bits = 0;
    match sigaction_get(SIGUSR2) {
        Ok(a) if a.sa_handler == SIG_DFL && a.sa_flags == 0 && a.sa_mask == 0 => {}
        _ => bits |= 1,
    }
    match sigaction_get(SIGHUP) {
        Ok(a) if a.sa_handler == SIG_IGN && a.sa_flags == 0 && a.sa_mask == 0 => {}
        _ => bits |= 2,
    }
    bits
}

fn clear_sighand(c: &mut Checker) {
    let act = new_sigaction(on_usr2 as *const () as usize, SA_RESTART, sigmask(SIGTERM));
    let ign = new_sigaction(SIG_IGN, SA_RESTART, sigmask(SIGTERM));
    // SAFETY: on_usr2 does nothing.
    let set = unsafe {
        rt_sigaction(SIGUSR2, Some(&act), None).and(rt_sigaction(SIGHUP, Some(&ign), None))
    };
    c.ok("a handler for SIGUSR2, SIGHUP ignored (with flags and masks)", set);
    let args = clone_args {
        flags: CLONE_CLEAR_SIGHAND,
        exit_signal: SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: no CLONE_VM: the child runs on a copy of our memory.
    let pid = unsafe { clone3(&args, core::mem::size_of::<clone_args>(), clear_sighand_child, 0) };
    if let Some(pid) = c.ok("clone3(CLONE_CLEAR_SIGHAND)", pid) {
        c.reaped_bits(
            pid,
            0,
            &[
                "the child's handler is SIG_DFL, flags and mask cleared",
                "its ignored signal stays ignored, flags and mask cleared",
            ],
        );
    }
    let _ = signal_disposition(SIGUSR2, SIG_DFL);
    let _ = signal_disposition(SIGHUP, SIG_DFL);
}

// ---- clone3's set_tid -------------------------------------------------------------------

/// clone3 with `set_tid` (its first `size` entries; `at` overrides the
/// array's address), the child exiting with `code`.
fn clone3_tid(
    set_tid: &[i32],
    size: u64,
    at: Option<u64>,
    flags: u64,
    f: ChildFn,
    code: usize,
) -> SysResult {
    let args = clone_args {
        flags,
        exit_signal: SIGCHLD as u64,
        set_tid: at.unwrap_or(set_tid.as_ptr() as u64),
        set_tid_size: size,
        ..Default::default()
    };
    // SAFETY: args and set_tid are live; no CLONE_VM.
    unsafe { clone3(&args, core::mem::size_of::<clone_args>(), f, code) }
}

/// The init of a new PID namespace: set_tid there. Bit per failed check.
extern "C" fn ns_init(_: usize) -> i32 {
    let mut bits = 0;
    let seven = clone3_tid(&[7], 1, None, 0, child_exits, 0);
    if seven != Ok(7) {
        bits |= 1;
    }
    // The first child is a zombie: 7 is still taken.
    if clone3_tid(&[7], 1, None, 0, child_exits, 0) != Err(EEXIST) {
        bits |= 2;
    }
    // 5 here and 1 in the parent namespace, whose init has it: EEXIST, and 5
    // is given back.
    if clone3_tid(&[5, 1], 2, None, 0, child_exits, 0) != Err(EEXIST)
        || clone3_tid(&[5], 1, None, 0, child_exits, 0) != Ok(5)
    {
        bits |= 4;
    }
    if clone3_tid(&[5, 1, 1], 3, None, 0, child_exits, 0) != Err(EINVAL) {
        bits |= 8;
    }
    if fork_with(|| 0) != Ok(2) {
        bits |= 16;
    }
    let unprivileged = fork_with(|| {
        if setuid(65534).is_err() {
            return 1;
        }
        (clone3_tid(&[9], 1, None, 0, child_exits, 0) != Err(EPERM)) as i32
    });
    if unprivileged.map_or(true, |p| reap(p) != Some(WaitStatus::Exited(0))) {
        bits |= 32;
    }
    while wait4(-1, None, 0).is_ok() {}
    bits
}

fn set_tid(c: &mut Checker) {
    let one = [1i32];
    c.err("set_tid_size 33: EINVAL", clone3_tid(&[1; 33], 33, None, 0, child_exits, 0), EINVAL);
    c.err(
        "set_tid_size without set_tid: EINVAL",
        clone3_tid(&one, 1, Some(0), 0, child_exits, 0),
        EINVAL,
    );
    c.err("set_tid without a size: EINVAL", clone3_tid(&one, 0, None, 0, child_exits, 0), EINVAL);
    c.err(
        "set_tid at a bad address: EFAULT",
        clone3_tid(&one, 1, Some(8), 0, child_exits, 0),
        EFAULT,
    );
    c.err(
        "more pids than namespace levels: EINVAL",
        clone3_tid(&[1, 1], 2, None, 0, child_exits, 0),
        EINVAL,
    );
    c.err("set_tid 0: EINVAL", clone3_tid(&[0], 1, None, 0, child_exits, 0), EINVAL);
    c.err("set_tid -1: EINVAL", clone3_tid(&[-1], 1, None, 0, child_exits, 0), EINVAL);
    c.err(
        "set_tid at PID_MAX_LIMIT: EINVAL",
        clone3_tid(&[4 << 20], 1, None, 0, child_exits, 0),
        EINVAL,
    );
    c.err("set_tid 1, the init's: EEXIST", clone3_tid(&one, 1, None, 0, child_exits, 0), EEXIST);
    c.err(
        "CLONE_NEWPID with set_tid 2 (no init there yet): EINVAL",
        clone3_tid(&[2], 1, None, CLONE_NEWPID, child_exits, 0),
        EINVAL,
    );
    let init = clone3_tid(&one, 1, None, CLONE_NEWPID, ns_init, 0);
    if let Some(init) = c.ok("CLONE_NEWPID with set_tid 1", init) {
        c.reaped_bits(
            init,
            0,
            &[
                "in the new namespace set_tid 7 gives pid 7",
                "7 again while its zombie waits: EEXIST",
                "5 there and 1 in the parent namespace: EEXIST, and 5 stays free",
                "three pids at level 1: EINVAL",
                "set_tid leaves the allocation cursor: the next fork is pid 2",
                "a non-root process: EPERM",
            ],
        );
    }
}
