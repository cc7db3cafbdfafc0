//! execve from a process with several threads (Linux fs/exec.c `de_thread`,
//! kernel/exit.c `release_task`): the other threads are killed and waited
//! for, a thread that is not the leader takes over the process's pid and
//! becomes its leader (`gettid() == getpid()`), keeps the parent, the old
//! leader vanishes without a wait status of its own, the dead threads' CPU
//! time stays the process's, close-on-exec descriptors close for the new
//! image only, and the parent's wait4 reports the new image's status. Races:
//! two threads exec at once (one image runs), an exec against exit_group
//! (one of them decides, consistently), a SIGKILL during the exec (the
//! process dies of it). The new image is this program again
//! (`dethread image KIND ...`, argv[0] as the path), which checks itself.
//! Counter snapshots dethread-before/-after (in the guest) bracket all but
//! the first case for a leak check. One line per check, exit status =
//! number of failed checks.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};

use userspace::thread::{leader_word, set_wake, wait_until, wait_until_ms, Stacks};
use userspace::*;

userspace::entry!(main);

/// Rounds of each race.
const ROUNDS: usize = 20;
/// The status of a new image whose checks passed.
const IMAGE_OK: i32 = 42;
/// CPU time the spinning thread burns before the exec (and that the
/// process keeps), in microseconds.
const SPIN_US: i64 = 100_000;

/// argv[0], the path this program execs.
static ARGV0: AtomicUsize = AtomicUsize::new(0);
/// The main thread's clear-tid word: 0 once it has exited.
static LEADER: AtomicU32 = AtomicU32::new(0);
/// Thread tid words (CLONE_CHILD_CLEARTID).
static T1: AtomicU32 = AtomicU32::new(0);
static T2: AtomicU32 = AtomicU32::new(0);
/// Set to 1 to start a race, or when the spinning thread has spun.
static GO: AtomicU32 = AtomicU32::new(0);
static SPUN: AtomicU32 = AtomicU32::new(0);
/// What the execing threads pass on: (kind, the two fds).
static KIND: AtomicUsize = AtomicUsize::new(0);
static FD_A: AtomicU32 = AtomicU32::new(0);
static FD_B: AtomicU32 = AtomicU32::new(0);
static PPID: AtomicU32 = AtomicU32::new(0);

fn main(args: Args, _env: Env) -> i32 {
    if args.bytes(1) == Some(b"image") {
        return image(&args);
    }
    let Some(argv0) = args.get(0) else { return 1 };
    ARGV0.store(argv0.as_ptr() as usize, SeqCst);
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let Some(stacks) = Stacks::new(3) else {
        c.fail("mmap the thread stacks", "failed");
        return c.status();
    };
    exec_from_a_thread(&mut c, stacks);
    // Everything after this warm-up gives back what it took (the VMM records
    // the counter page in the guest; nothing happens on Linux).
    leak_check_snapshot("dethread-before");
    exec_after_the_leader_exited(&mut c, stacks);
    exec_from_the_leader(&mut c, stacks);
    two_threads_exec_at_once(&mut c, stacks);
    exec_races_exit_group(&mut c, stacks);
    sigkill_during_exec(&mut c, stacks);
    close_on_exec_with_a_shared_table(&mut c);
    exit_signal_becomes_sigchld(&mut c);
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
    leak_check_snapshot("dethread-after");
    c.status()
}

// ---- argument vectors ----------------------------------------------------------

/// An argv for execve built in place: strings in `buf`, pointers in `ptrs`.
struct Argv {
    buf: [u8; 512],
    len: usize,
    ends: [usize; 16],
    n: usize,
    ptrs: [usize; 17],
}

impl Argv {
    fn new() -> Argv {
        let mut a = Argv { buf: [0; 512], len: 0, ends: [0; 16], n: 0, ptrs: [0; 17] };
        let argv0 = ARGV0.load(SeqCst) as *const core::ffi::c_char;
        // SAFETY: argv[0] of this process, a NUL-terminated string that lives
        // as long as the process.
        let argv0 = unsafe { core::ffi::CStr::from_ptr(argv0) };
        a.push(argv0.to_bytes());
        a.push(b"image");
        a
    }

    fn push(&mut self, s: &[u8]) -> &mut Argv {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len() + 1;
        self.ends[self.n] = self.len;
        self.n += 1;
        self
    }

    fn num(&mut self, v: u64) -> &mut Argv {
        let mut digits = [0u8; 21];
        self.push(decimal_cstr(v, &mut digits).to_bytes())
    }

    /// execve(argv[0], argv, {}): returns only if it failed.
    fn exec(&mut self) -> Errno {
        let base = self.buf.as_ptr() as usize;
        let mut start = 0;
        for i in 0..self.n {
            self.ptrs[i] = base + start;
            start = self.ends[i];
        }
        self.ptrs[self.n] = 0;
        let envp = [0usize];
        // SAFETY: path, argv and envp are NUL-terminated strings and
        // NULL-terminated arrays in this live struct; on success nothing of
        // this image runs afterwards.
        let r = unsafe {
            syscall::syscall3(
                nr::__NR_execve,
                self.ptrs[0],
                self.ptrs.as_ptr() as usize,
                envp.as_ptr() as usize,
            )
        };
        errno::result(r).err().unwrap_or(EINVAL)
    }
}

fn parse(b: Option<&[u8]>) -> i64 {
    let Some(b) = b else { return -1 };
    let mut v = 0i64;
    for &d in b {
        if !d.is_ascii_digit() {
            return -1;
        }
        v = v * 10 + (d - b'0') as i64;
    }
    v
}

// ---- the new image -------------------------------------------------------------

/// `dethread image KIND PID PPID [...]`: the program after the exec.
fn image(args: &Args) -> i32 {
    let kind = args.bytes(2).unwrap_or(b"");
    let arg = |i| parse(args.bytes(i));
    let (pid, ppid) = (arg(3), arg(4));
    let me = getpid().map_or(-1, |p| p as i64);
    let tid = gettid().map_or(-1, |p| p as i64);
    let parent = getppid().map_or(-1, |p| p as i64);
    match kind {
        b"thread" | b"leader" => {
            let mut c = Checker::new();
            c.check("image: the process's pid", me == pid);
            c.check("image: gettid() == getpid()", tid == me);
            c.check("image: the same parent", parent == ppid);
            let what = if kind == b"thread" { "the other thread" } else { "thread 1" };
            c.err(
                format_args!("image: {what} is gone (tgkill ESRCH)"),
                tgkill(me as i32, arg(5) as i32, 0),
                ESRCH,
            );
            let what = if kind == b"thread" { "the execing thread's old tid" } else { "thread 2" };
            c.err(
                format_args!("image: {what} is gone (kill ESRCH)"),
                kill(arg(6) as i32, 0),
                ESRCH,
            );
            if kind == b"thread" {
                let (a, b) = (arg(7) as i32, arg(8) as i32);
                c.ok_eq("image: the fd without O_CLOEXEC is open", fcntl(a, F_GETFD, 0), 0);
                c.err("image: the fd with O_CLOEXEC is closed", fcntl(b, F_GETFD, 0), EBADF);
                let mut u = rusage::default();
                let _ = getrusage(RUSAGE_SELF, &mut u);
                c.check(
                    "image: RUSAGE_SELF keeps the dead threads' CPU time",
                    usecs(&u.ru_utime) + usecs(&u.ru_stime) >= SPIN_US,
                );
            }
            c.err("image: no children (the old leader is none)", wait4(-1, None, WNOHANG), ECHILD);
            if c.failures() == 0 {
                IMAGE_OK
            } else {
                1
            }
        }
        b"gone" => {
            let ok = me == pid && tid == me && parent == ppid;
            if !ok {
                println!("FAIL image after the leader's exit: pid {me} tid {tid} ppid {parent}");
            }
            if ok {
                IMAGE_OK
            } else {
                1
            }
        }
        // Quiet rounds: report by a byte on fd arg(5) (if any) and the status.
        b"quiet" | b"pause" | b"files" => {
            let fd = arg(5) as i32;
            let mut ok = me == pid && tid == me;
            if kind == b"files" {
                ok &= fcntl(arg(6) as i32, F_GETFD, 0) == Err(EBADF);
            }
            if fd >= 0 {
                let _ = put_byte(fd, if ok { b'i' } else { b'x' });
            }
            if kind == b"pause" {
                loop {
                    let _ = pause();
                }
            }
            if ok {
                IMAGE_OK
            } else {
                1
            }
        }
        _ => 2,
    }
}

fn usecs(t: &timeval) -> i64 {
    t.tv_sec * 1_000_000 + t.tv_usec
}

// ---- exec from a thread that is not the leader ----------------------------------

/// Burns CPU until this thread has used SPIN_US, says so, and spins on.
extern "C" fn spinner(_: usize) -> i32 {
    loop {
        let mut u = rusage::default();
        let _ = getrusage(RUSAGE_THREAD, &mut u);
        if usecs(&u.ru_utime) + usecs(&u.ru_stime) >= SPIN_US {
            break;
        }
        // Plain work, not `pause`: a KVM with pause-loop exiting would
        // spend the time in its exits, not in this thread.
        for i in 0..100_000u32 {
            core::hint::black_box(i);
        }
    }
    set_wake(&SPUN, 1);
    loop {
        core::hint::spin_loop();
        let _ = sched_yield();
    }
}

/// Waits for the spinner, then execs `image thread PID PPID T1 MYTID A B`.
extern "C" fn exec_after_spin(_: usize) -> i32 {
    // The spinner may share a CPU with the main thread: time enough.
    if !wait_until_ms(&SPUN, 60_000, |v| v == 1) {
        exit_group(101);
    }
    let mut a = Argv::new();
    let pid = getpid().unwrap_or(0) as u64;
    a.push(b"thread").num(pid).num(PPID.load(SeqCst) as u64).num(T1.load(SeqCst) as u64);
    a.num(gettid().unwrap_or(0) as u64);
    a.num(FD_A.load(SeqCst) as u64).num(FD_B.load(SeqCst) as u64);
    a.exec();
    exit_group(102)
}

fn exec_from_a_thread(c: &mut Checker, stacks: Stacks) {
    let me = pid();
    let child = fork_with(|| {
        PPID.store(me as u32, SeqCst);
        let (Ok([a, _]), Ok([b, _])) = (pipe2(0), pipe2(O_CLOEXEC)) else { return 100 };
        FD_A.store(a as u32, SeqCst);
        FD_B.store(b as u32, SeqCst);
        if !stacks.spawn(0, &T1, spinner, 0) || !stacks.spawn(1, &T2, exec_after_spin, 0) {
            return 100;
        }
        // The main thread must never see the close-on-exec descriptor closed:
        // it dies before the exec closes it.
        loop {
            if fcntl(b, F_GETFD, 0).is_err() {
                println!("FAIL the main thread saw the close-on-exec descriptor closed");
                exit_group(103);
            }
            let _ = sched_yield();
        }
    });
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    let mut u = rusage::default();
    let mut st = 0;
    let r = wait4_rusage(p as i32, Some(&mut st), 0, &mut u);
    let name = "exec from a thread: wait4 reports the new image's exit status";
    if r == Ok(p) && WaitStatus::from_raw(st) == WaitStatus::Exited(IMAGE_OK) {
        c.check(name, true);
    } else {
        // 101: the spinning thread never got its CPU time; 102: execve failed.
        c.fail(name, format_args!("{r:?}: {}", WaitStatus::from_raw(st)));
    }
    c.check(
        "exec from a thread: wait4's rusage has the dead threads' CPU time",
        usecs(&u.ru_utime) + usecs(&u.ru_stime) >= SPIN_US,
    );
    c.err(
        "exec from a thread: no wait status for the old leader",
        wait4(-1, None, WNOHANG),
        ECHILD,
    );
}

// ---- the leader exited before a thread execs -------------------------------------

extern "C" fn exec_after_leader_exit(_: usize) -> i32 {
    if !wait_until(&LEADER, |v| v == 0) {
        exit_group(101);
    }
    let mut a = Argv::new();
    a.push(b"gone").num(getpid().unwrap_or(0) as u64).num(PPID.load(SeqCst) as u64);
    a.exec();
    exit_group(102)
}

fn exec_after_the_leader_exited(c: &mut Checker, stacks: Stacks) {
    let me = pid();
    let child = fork_with(|| {
        PPID.store(me as u32, SeqCst);
        if !leader_word(&LEADER) || !stacks.spawn(0, &T1, exec_after_leader_exit, 0) {
            return 100;
        }
        exit(3)
    });
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    status_is(
        c,
        "main thread exit(3), then a thread execs: wait4 reports the image's status",
        p,
        WaitStatus::Exited(IMAGE_OK),
        20,
    );
    c.err("... and nothing else to reap", wait4(-1, None, WNOHANG), ECHILD);
}

// ---- exec from the leader while other threads run --------------------------------

extern "C" fn block_forever(_: usize) -> i32 {
    let word = AtomicU32::new(0);
    loop {
        let _ = futex_wait(&word, FUTEX_PRIVATE_FLAG, 0, None);
    }
}

extern "C" fn spin_forever(_: usize) -> i32 {
    set_wake(&GO, 1);
    loop {
        core::hint::spin_loop();
    }
}

fn exec_from_the_leader(c: &mut Checker, stacks: Stacks) {
    let me = pid();
    GO.store(0, SeqCst);
    let child = fork_with(|| {
        if !stacks.spawn(0, &T1, spin_forever, 0) || !stacks.spawn(1, &T2, block_forever, 0) {
            return 100;
        }
        if !wait_until(&GO, |v| v == 1) {
            return 101;
        }
        let mut a = Argv::new();
        a.push(b"leader").num(pid() as u64).num(me as u64);
        a.num(T1.load(SeqCst) as u64).num(T2.load(SeqCst) as u64);
        a.exec();
        102
    });
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    status_is(
        c,
        "exec from the main thread with a spinning and a blocked thread: the image's status",
        p,
        WaitStatus::Exited(IMAGE_OK),
        20,
    );
}

// ---- races ----------------------------------------------------------------------

/// Waits for GO, then execs `image KIND PID PPID FD`.
extern "C" fn exec_on_go(_: usize) -> i32 {
    while GO.load(SeqCst) == 0 {
        core::hint::spin_loop();
    }
    let kind: &[u8] = match KIND.load(SeqCst) {
        1 => b"pause",
        _ => b"quiet",
    };
    let mut a = Argv::new();
    a.push(kind).num(getpid().unwrap_or(0) as u64).num(PPID.load(SeqCst) as u64);
    a.num(FD_A.load(SeqCst) as u64);
    a.exec();
    exit_group(102)
}

extern "C" fn exit_group_on_go(_: usize) -> i32 {
    while GO.load(SeqCst) == 0 {
        core::hint::spin_loop();
    }
    exit_group(7)
}

/// Forks a child whose threads 1 and 2 run `f1`, `f2`, and whose main thread
/// starts them (GO) and blocks; the image reports on the returned pipe.
fn race(kind: usize, f1: ChildFn, f2: Option<ChildFn>, stacks: Stacks) -> Option<(usize, i32)> {
    let me = pid();
    let [r, w] = pipe2(0).ok()?;
    GO.store(0, SeqCst);
    KIND.store(kind, SeqCst);
    let child = fork_with(|| {
        PPID.store(me as u32, SeqCst);
        FD_A.store(w as u32, SeqCst);
        let _ = close(r);
        if !stacks.spawn(0, &T1, f1, 0) || f2.is_some_and(|f| !stacks.spawn(1, &T2, f, 0)) {
            return 100;
        }
        GO.store(1, SeqCst);
        if kind == 1 {
            // The parent's SIGKILL is to land while the exec is under way.
            let _ = put_byte(w, b'g');
        }
        block_forever(0)
    });
    let _ = close(w);
    match child {
        Ok(p) => {
            if kind == 1 {
                let _ = get_byte(r);
            }
            Some((p, r))
        }
        Err(_) => {
            let _ = close(r);
            None
        }
    }
}

/// The bytes the images wrote on `r` until end of file.
fn reports(r: i32) -> (usize, bool) {
    let (mut n, mut all_ok) = (0, true);
    while let Some(b) = get_byte(r) {
        n += 1;
        all_ok &= b == b'i';
    }
    let _ = close(r);
    (n, all_ok)
}

fn two_threads_exec_at_once(c: &mut Checker, stacks: Stacks) {
    let mut good = 0;
    for _ in 0..ROUNDS {
        let Some((p, r)) = race(0, exec_on_go, Some(exec_on_go), stacks) else { break };
        let st = reap_within(p, 20);
        let (n, ok) = reports(r);
        if st == Ok(WaitStatus::Exited(IMAGE_OK)) && n == 1 && ok {
            good += 1;
        } else {
            println!("FAIL two execs at once: {st:?}, {n} images ran, checks {ok}");
        }
    }
    c.check(
        format_args!("two threads exec at once: one image runs as the process ({ROUNDS} rounds)"),
        good == ROUNDS,
    );
}

fn exec_races_exit_group(c: &mut Checker, stacks: Stacks) {
    let mut good = 0;
    for _ in 0..ROUNDS {
        let Some((p, r)) = race(0, exec_on_go, Some(exit_group_on_go), stacks) else { break };
        let st = reap_within(p, 20);
        let (n, ok) = reports(r);
        let consistent = match st {
            Ok(WaitStatus::Exited(IMAGE_OK)) => n == 1 && ok,
            Ok(WaitStatus::Exited(7)) => n == 0,
            _ => false,
        };
        if consistent {
            good += 1;
        } else {
            println!("FAIL exec racing exit_group: {st:?} with {n} images run");
        }
    }
    c.check(
        format_args!(
            "exec racing exit_group: the image's status if it ran, else 7 ({ROUNDS} rounds)"
        ),
        good == ROUNDS,
    );
}

fn sigkill_during_exec(c: &mut Checker, stacks: Stacks) {
    let mut good = 0;
    for _ in 0..ROUNDS {
        let Some((p, r)) = race(1, exec_on_go, Some(spin_forever), stacks) else { break };
        let _ = kill(p as i32, SIGKILL);
        let st = reap_within(p, 20);
        let _ = reports(r);
        if st == Ok(WaitStatus::Signaled(SIGKILL, false)) {
            good += 1;
        } else {
            println!("FAIL SIGKILL during an exec: {st:?}");
        }
    }
    c.check(
        format_args!("SIGKILL while a thread execs: the process dies of it ({ROUNDS} rounds)"),
        good == ROUNDS,
    );
}

// ---- the descriptor table and the exit signal --------------------------------------

extern "C" fn exec_files(_: usize) -> i32 {
    let mut a = Argv::new();
    a.push(b"files").num(getpid().unwrap_or(0) as u64).num(PPID.load(SeqCst) as u64);
    a.num(FD_A.load(SeqCst) as u64).num(FD_B.load(SeqCst) as u64);
    a.exec();
    102
}

fn close_on_exec_with_a_shared_table(c: &mut Checker) {
    let (Ok([r, w]), Ok([b, bw])) = (pipe2(0), pipe2(O_CLOEXEC)) else {
        c.fail("pipes", "failed");
        return;
    };
    PPID.store(pid() as u32, SeqCst);
    FD_A.store(w as u32, SeqCst);
    FD_B.store(b as u32, SeqCst);
    // SAFETY: no CLONE_VM: the child runs on a copy of this stack.
    let child = unsafe { clone(CLONE_FILES | SIGCHLD as u64, 0, 0, 0, 0, exec_files, 0) };
    let Ok(p) = child else {
        c.fail("clone CLONE_FILES", "failed");
        return;
    };
    c.check(
        "CLONE_FILES child execs: the image sees its O_CLOEXEC fd closed",
        get_byte(r) == Some(b'i'),
    );
    c.reaped("... and exits with the image's status", p, 0, WaitStatus::Exited(IMAGE_OK));
    c.ok_eq(
        "... while the parent's shared table keeps that fd",
        fcntl(b, F_GETFD, 0),
        FD_CLOEXEC as usize,
    );
    close_all(&[r, w, b, bw]);
}

fn exit_signal_becomes_sigchld(c: &mut Checker) {
    let [r, w] = pipe2(0).unwrap_or([-1, -1]);
    let block = sigmask(SIGUSR1);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&block), None);
    PPID.store(pid() as u32, SeqCst);
    FD_A.store(w as u32, SeqCst);
    KIND.store(0, SeqCst);
    GO.store(1, SeqCst);
    // SAFETY: no CLONE_VM: the child runs on a copy of this stack.
    let child = unsafe { clone(SIGUSR1 as u64, 0, 0, 0, 0, exec_on_go, 0) };
    let _ = close(w);
    let Ok(p) = child else {
        c.fail("clone with exit signal SIGUSR1", "failed");
        return;
    };
    c.check("a child cloned with exit signal SIGUSR1 execs", get_byte(r) == Some(b'i'));
    c.reaped(
        "... and a wait4 without __WCLONE reaps it: exec made its exit signal SIGCHLD",
        p,
        0,
        WaitStatus::Exited(IMAGE_OK),
    );
    let mut set = 0;
    let _ = rt_sigpending(&mut set);
    c.check("... and no SIGUSR1 came", set & sigmask(SIGUSR1) == 0);
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&block), None);
    let _ = close(r);
}
