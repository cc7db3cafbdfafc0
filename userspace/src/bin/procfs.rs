//! The proc file system and mounts as Linux has them (fs/proc/array.c
//! `do_task_stat`, `proc_pid_status`; fs/proc/task_mmu.c `show_map_vma`;
//! fs/proc/self.c; fs/namespace.c `do_mount`, `path_umount`): /proc/self and
//! /proc/thread-self, the fields of PID/stat and PID/status that do not
//! depend on the machine, comm after prctl(PR_SET_NAME), cmdline with its
//! NULs, a child's stat as a zombie before it is reaped and ENOENT after,
//! task/ of a process with three threads (only leaders in /proc's listing),
//! no kernel stack for a zombie (meminfo's KernelStack),
//! maps of a known mapping, the global files' formats, reads in pieces that
//! continue one snapshot; mount/umount2 of proc and their errors (on Linux
//! in a private mount namespace: the program unshares one first). One line
//! per check, exit status = number of failed checks. Run with the arguments
//! `one` `two words`.
#![no_std]
#![no_main]

use core::ffi::CStr;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::thread::{join, set_wake, wait_until, Stacks};
use userspace::*;

userspace::entry!(main);

type Buf = text::Buf<8192>;

fn path(args: core::fmt::Arguments<'_>) -> Buf {
    text::fmt(args)
}

fn read_file(p: &CStr, chunk: usize) -> Result<Buf, Errno> {
    text::read_file(p, chunk)
}

fn readlink(p: &CStr) -> Result<Buf, Errno> {
    text::readlink(p)
}

/// The fields of a stat line after the comm: field 3 is `[0]`.
fn stat_fields(line: &str) -> (&str, [&str; 50]) {
    let mut f = [""; 50];
    let open = line.find('(').unwrap_or(0);
    let close = line.rfind(')').unwrap_or(0);
    let comm = line.get(open + 1..close).unwrap_or("");
    for (i, w) in line.get(close + 2..).unwrap_or("").split_whitespace().take(50).enumerate() {
        f[i] = w;
    }
    (comm, f)
}

fn num(s: &str) -> usize {
    s.trim().parse().unwrap_or(usize::MAX)
}

/// The value of `key:` in a status text.
fn status_value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map_or("", |v| v.trim_start_matches('\t'))
}

fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = umask(0o022);
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let me = getpid().unwrap_or(0);
    self_links(&mut c, me);
    stat_and_status(&mut c, me);
    comm_and_cmdline(&mut c, &args);
    zombie(&mut c, me);
    zombie_stacks(&mut c);
    threads(&mut c, me);
    maps(&mut c);
    global_files(&mut c);
    mounts(&mut c, me);
    c.status()
}

fn self_links(c: &mut Checker, me: usize) {
    let want = path(format_args!("{me}"));
    match readlink(c"/proc/self") {
        Ok(b) => {
            c.check("readlink /proc/self is the pid", b.str() == want.str());
        }
        Err(e) => c.fail("readlink /proc/self", e),
    }
    let tid = gettid().unwrap_or(0);
    let want = path(format_args!("{me}/task/{tid}"));
    match readlink(c"/proc/thread-self") {
        Ok(b) => {
            c.check("readlink /proc/thread-self is PID/task/TID", b.str() == want.str());
        }
        Err(e) => c.fail("readlink /proc/thread-self", e),
    }
    let mut st = stat::default();
    let _ = newfstatat(AT_FDCWD, c"/proc/self", &mut st, AT_SYMLINK_NOFOLLOW);
    c.check("/proc/self is a symbolic link", st.st_mode & S_IFMT == S_IFLNK);
    let _ = newfstatat(AT_FDCWD, c"/proc/self", &mut st, 0);
    c.check("/proc/self followed is a directory 0555", st.st_mode == S_IFDIR | 0o555);
    let mut p = path(format_args!("/proc/{me}/stat"));
    let mut st2 = stat::default();
    let _ = newfstatat(AT_FDCWD, p.cstr(), &mut st2, 0);
    let _ = newfstatat(AT_FDCWD, c"/proc/self/stat", &mut st, 0);
    c.check(
        "/proc/self/stat is /proc/PID/stat",
        st.st_ino == st2.st_ino && st.st_dev == st2.st_dev,
    );
    c.check("PID/stat is a regular file 0444", st.st_mode == S_IFREG | 0o444);
    c.check("PID/stat has size 0", st.st_size == 0);
    c.err("readlink of a file that is not a link: EINVAL", readlink(c"/proc/self/stat"), EINVAL);
    c.err(
        "O_NOFOLLOW on /proc/self: ELOOP",
        openat(AT_FDCWD, c"/proc/self", O_RDONLY | O_NOFOLLOW, 0),
        ELOOP,
    );
    let mut sf = statfs::default();
    let _ = statfs(c"/proc/self/stat", &mut sf);
    c.check("statfs: PROC_SUPER_MAGIC", sf.f_type as u64 == PROC_SUPER_MAGIC);
}

fn stat_and_status(c: &mut Checker, me: usize) {
    let _ = signal_disposition(SIGUSR2, SIG_IGN);
    let set = 1u64 << (SIGUSR1 - 1);
    let _ = rt_sigprocmask(SIG_BLOCK, Some(&set), None);
    let Ok(b) = read_file(c"/proc/self/stat", 4096) else {
        c.fail("read /proc/self/stat", "failed");
        return;
    };
    let line = b.str();
    c.check("stat is one line", line.ends_with('\n') && line.matches('\n').count() == 1);
    let (comm, f) = stat_fields(line);
    c.check("stat: 52 fields", f[49] != "" && line.split_whitespace().count() == 52);
    c.check("stat: pid", line.split(' ').next().map(num) == Some(me));
    c.check("stat: (comm)", comm == "procfs");
    c.check("stat: state R", f[0] == "R");
    c.check("stat: ppid", num(f[1]) == getppid().unwrap_or(0));
    c.check("stat: pgrp", num(f[2]) == getpgid(0).unwrap_or(0));
    c.check("stat: session", num(f[3]) == getsid(0).unwrap_or(0));
    c.check("stat: no tty, tpgid -1", f[4] == "0" && f[5] == "-1");
    c.check("stat: priority 20 nice 0", f[15] == "20" && f[16] == "0");
    c.check("stat: 1 thread", f[17] == "1");
    c.check("stat: itrealvalue 0", f[18] == "0");
    let sizes = (num(f[20]), num(f[21]));
    // (rss may read 0 on Linux: its per-CPU RSS counters are folded in lazily.)
    if !c.check("stat: vsize > 0", sizes.0 > 0 && sizes.0 != usize::MAX && sizes.1 != usize::MAX) {
        println!("  {line}");
    }
    c.check("stat: rsslim unlimited", f[22] == "18446744073709551615");
    c.check("stat: blocked has SIGUSR1", num(f[29]) == 1 << (SIGUSR1 - 1));
    c.check("stat: sigignore has SIGUSR2", num(f[30]) & (1 << (SIGUSR2 - 1)) != 0);
    c.check("stat: exit_signal 17", f[35] == "17");
    c.check("stat: exit_code 0", f[49] == "0");
    // Read in 7-byte pieces: one snapshot, continued.
    match read_file(c"/proc/self/stat", 7) {
        Ok(p) => {
            let s = p.str();
            let one = s.matches('\n').count() == 1 && s.split_whitespace().count() == 52;
            c.check("stat read in pieces is one line of 52 fields", one);
        }
        Err(e) => c.fail("stat in pieces", e),
    }
    let Ok(s) = read_file(c"/proc/self/status", 4096) else {
        c.fail("read /proc/self/status", "failed");
        return;
    };
    let t = s.str();
    const KEYS: [&str; 17] = [
        "Name",
        "Umask",
        "State",
        "Tgid",
        "Ngid",
        "Pid",
        "PPid",
        "TracerPid",
        "Uid",
        "Gid",
        "FDSize",
        "Groups",
        "NStgid",
        "NSpid",
        "Threads",
        "SigBlk",
        "voluntary_ctxt_switches",
    ];
    let mut at = 0;
    let mut in_order = true;
    for k in KEYS {
        let key = path(format_args!("\n{k}:\t"));
        match t[at..].find(key.str()).or_else(|| (at == 0 && k == "Name").then_some(0)) {
            Some(i) => at += i + 1,
            None => in_order = false,
        }
    }
    c.check("status: the lines in Linux's order", t.starts_with("Name:\t") && in_order);
    c.check("status: Name", status_value(t, "Name") == "procfs");
    c.check("status: Umask 0022", status_value(t, "Umask") == "0022");
    c.check("status: State R (running)", status_value(t, "State") == "R (running)");
    let me_s = path(format_args!("{me}"));
    c.check("status: Tgid, Pid, NStgid", {
        status_value(t, "Tgid") == me_s.str()
            && status_value(t, "Pid") == me_s.str()
            && status_value(t, "NStgid") == me_s.str()
    });
    let ppid = path(format_args!("{}", getppid().unwrap_or(0)));
    c.check("status: PPid", status_value(t, "PPid") == ppid.str());
    c.check("status: TracerPid 0, Ngid 0", status_value(t, "TracerPid") == "0");
    let uid = getuid().unwrap_or(0);
    let uids = path(format_args!("{uid}\t{uid}\t{uid}\t{uid}"));
    c.check("status: Uid real, effective, saved, fs", status_value(t, "Uid") == uids.str());
    c.check("status: Threads 1", status_value(t, "Threads") == "1");
    c.check("status: SigBlk", status_value(t, "SigBlk") == "0000000000000200");
    let ign = u64::from_str_radix(status_value(t, "SigIgn"), 16).unwrap_or(0);
    c.check(
        "status: SigIgn has SIGUSR2",
        ign & 0x800 != 0 && status_value(t, "SigIgn").len() == 16,
    );
    c.check("status: SigPnd 0", status_value(t, "SigPnd") == "0000000000000000");
    c.check("status: VmRSS in kB", {
        let v = status_value(t, "VmRSS");
        v.ends_with(" kB") && v.len() == 11
    });
    let _ = rt_sigprocmask(SIG_UNBLOCK, Some(&set), None);
    let _ = signal_disposition(SIGUSR2, SIG_DFL);
}

fn comm_and_cmdline(c: &mut Checker, args: &Args) {
    c.check("comm", read_file(c"/proc/self/comm", 64).is_ok_and(|b| b.str() == "procfs\n"));
    // SAFETY: PR_SET_NAME reads a NUL-terminated name.
    let r = unsafe { prctl(PR_SET_NAME, c"a-much-longer-name".as_ptr() as usize, 0, 0, 0) };
    c.ok_eq("prctl(PR_SET_NAME)", r, 0);
    c.check(
        "comm after PR_SET_NAME (15 bytes)",
        read_file(c"/proc/self/comm", 64).is_ok_and(|b| b.str() == "a-much-longer-n\n"),
    );
    let name = read_file(c"/proc/self/status", 4096);
    c.check(
        "status Name after PR_SET_NAME",
        name.is_ok_and(|b| status_value(b.str(), "Name") == "a-much-longer-n"),
    );
    // SAFETY: as above.
    let _ = unsafe { prctl(PR_SET_NAME, c"procfs".as_ptr() as usize, 0, 0, 0) };
    let Ok(b) = read_file(c"/proc/self/cmdline", 5) else {
        c.fail("read /proc/self/cmdline", "failed");
        return;
    };
    let argv0 = args.bytes(0).unwrap_or(b"");
    let mut want = Buf::new();
    for i in 0..args.len() {
        let _ = want.write_str(core::str::from_utf8(args.bytes(i).unwrap_or(b"")).unwrap_or(""));
        let _ = want.write_char('\0');
    }
    c.check("cmdline: argv with NULs", b.bytes() == want.bytes() && !argv0.is_empty());
    c.check("cmdline: the arguments after argv[0]", b.bytes().ends_with(b"\0one\0two words\0"));
}

fn zombie(c: &mut Checker, me: usize) {
    let Ok(child) = fork_with(|| 3) else {
        c.fail("fork", "failed");
        return;
    };
    let mut info = siginfo_t::default();
    let _ = waitid(P_PID, child as i32, Some(&mut info), WEXITED | WNOWAIT);
    let mut p = path(format_args!("/proc/{child}/stat"));
    match read_file(p.cstr(), 4096) {
        Ok(b) => {
            let (comm, f) = stat_fields(b.str());
            c.check("a child before it is reaped: state Z", f[0] == "Z");
            c.check("the zombie's ppid is the parent", num(f[1]) == me);
            c.check("the zombie's comm", comm == "procfs");
            c.check("the zombie's exit_code", f[49] == "768");
        }
        Err(e) => c.fail("read the zombie's stat", e),
    }
    let mut st = Buf::new();
    let _ = write!(st, "/proc/{child}/status");
    let z = read_file(st.cstr(), 4096);
    c.check(
        "the zombie's status: Z (zombie)",
        z.is_ok_and(|b| status_value(b.str(), "State") == "Z (zombie)"),
    );
    c.reaped("reap the child", child, 0, WaitStatus::Exited(3));
    c.err("its stat after the reap: ENOENT", read_file(p.cstr(), 4096).map(|_| ()), ENOENT);
}

/// The KernelStack line of /proc/meminfo, in kB.
fn kernel_stack_kb() -> Option<u64> {
    let m = read_file(c"/proc/meminfo", 8000).ok()?;
    text::meminfo_kb(m.str(), "KernelStack")
}

/// A zombie holds no kernel stack (Linux frees it when the dead task leaves
/// its CPU for the last time, `put_task_stack`, not when it is reaped): 128
/// zombies' 16 KiB stacks would be 2 MiB more KernelStack. On Linux the
/// count is the whole machine's, so the check allows half of that for other
/// programs' threads meanwhile.
fn zombie_stacks(c: &mut Checker) {
    const N: usize = 128;
    let before = kernel_stack_kb();
    let mut pids = [0usize; N];
    let mut made = 0;
    for pid in pids.iter_mut() {
        match fork_with(|| 0) {
            Ok(p) => {
                *pid = p;
                made += 1;
            }
            Err(e) => {
                c.fail("fork the zombies", e);
                break;
            }
        }
    }
    // Each one a zombie before the count is read (not reaped: WNOWAIT).
    for &pid in &pids[..made] {
        let mut info = siginfo_t::default();
        let _ = waitid(P_PID, pid as i32, Some(&mut info), WEXITED | WNOWAIT);
    }
    let after = kernel_stack_kb();
    c.check(
        format_args!("meminfo: {N} zombies hold no kernel stacks (KernelStack grows < 1 MiB)"),
        made == N && before.zip(after).is_some_and(|(b, a)| a < b + (N as u64 * 16) / 2),
    );
    let reaped = pids[..made].iter().filter(|&&pid| wait4(pid as i32, None, 0) == Ok(pid)).count();
    c.check("the zombies reaped", reaped == made);
}

static T1: AtomicU32 = AtomicU32::new(0);
static T2: AtomicU32 = AtomicU32::new(0);
static STOP: AtomicU32 = AtomicU32::new(0);
static UP: AtomicU32 = AtomicU32::new(0);

extern "C" fn parked(_: usize) -> i32 {
    UP.fetch_add(1, SeqCst);
    let _ = futex_wake(&UP, 0, 1);
    wait_until(&STOP, |v| v != 0);
    0
}

/// The numbers in a directory, sorted (at most 1024).
fn numbers_in(dir: &CStr) -> ([usize; 1024], usize) {
    let mut out = [0usize; 1024];
    let mut n = 0;
    let Ok(fd) = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) else {
        return (out, 0);
    };
    let mut buf = [0u8; 4096];
    while let Ok(len) = getdents64(fd as i32, &mut buf) {
        if len == 0 {
            break;
        }
        let mut at = 0;
        while at < len {
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let name = &buf[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let Ok(v) = core::str::from_utf8(name).unwrap_or("x").parse::<usize>() {
                if n < out.len() {
                    out[n] = v;
                    n += 1;
                }
            }
            at += reclen;
        }
    }
    let _ = close(fd as i32);
    out[..n].sort_unstable();
    (out, n)
}

fn threads(c: &mut Checker, me: usize) {
    let Some(stacks) = Stacks::new(2) else {
        c.fail("thread stacks", "mmap failed");
        return;
    };
    let ok = stacks.spawn(0, &T1, parked, 0) && stacks.spawn(1, &T2, parked, 0);
    c.check("two threads started", ok && wait_until(&UP, |v| v == 2));
    let (t1, t2) = (T1.load(SeqCst) as usize, T2.load(SeqCst) as usize);
    let (tids, n) = numbers_in(c"/proc/self/task");
    let mut want = [me, t1, t2];
    want.sort_unstable();
    c.check("task/ lists the three threads", n == 3 && tids[..3] == want);
    let (pids, n) = numbers_in(c"/proc");
    c.check("/proc lists the process", pids[..n].contains(&me));
    c.check("/proc does not list its other threads", !pids[..n].contains(&t1));
    let mut p = path(format_args!("/proc/{t1}/task/{t1}/stat"));
    let r = read_file(p.cstr(), 4096);
    c.check(
        "/proc/TID/task/TID/stat names the thread",
        r.is_ok_and(|b| b.str().split(' ').next().map(num) == Some(t1)),
    );
    let mut p = path(format_args!("/proc/{me}/task/{t2}/status"));
    let r = read_file(p.cstr(), 4096);
    c.check(
        "task/TID/status: Tgid is the process, Pid the thread",
        r.is_ok_and(|b| {
            num(status_value(b.str(), "Tgid")) == me && num(status_value(b.str(), "Pid")) == t2
        }),
    );
    let st = read_file(c"/proc/self/stat", 4096);
    c.check("stat: 3 threads", st.is_ok_and(|b| stat_fields(b.str()).1[17] == "3"));
    let s = read_file(c"/proc/self/status", 4096);
    c.check("status: Threads 3", s.is_ok_and(|b| status_value(b.str(), "Threads") == "3"));
    set_wake(&STOP, 1);
    c.check("the threads exited", join(&T1) && join(&T2));
}

fn maps(c: &mut Checker) {
    const LEN: usize = 3 * 4096;
    // SAFETY: a fresh anonymous mapping, only looked at through maps.
    let Ok(a) = (unsafe { mmap(0, LEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }) else {
        c.fail("mmap", "failed");
        return;
    };
    let line = path(format_args!("{:08x}-{:08x} r--p 00000000 00:00 0 \n", a, a + LEN));
    let m = read_file(c"/proc/self/maps", 4096);
    c.check("maps: the mapping's line", m.as_ref().is_ok_and(|b| b.str().contains(line.str())));
    c.check(
        "maps: [stack] rw-p, the name at column 74",
        m.as_ref().is_ok_and(|b| {
            b.str().lines().any(|l| {
                l.ends_with("[stack]") && l.find("[stack]") == Some(73) && l.contains(" rw-p ")
            })
        }),
    );
    // SAFETY: unmapping the area mapped above.
    let _ = unsafe { munmap(a, LEN) };
    let m = read_file(c"/proc/self/maps", 4096);
    c.check("maps: gone after munmap", m.is_ok_and(|b| !b.str().contains(line.str())));
    file_maps(c);
}

/// A file mapping's line: its offset, the file's device and inode numbers as
/// `fstat` gives them, its path; `(deleted)` once the file is unlinked.
fn file_maps(c: &mut Checker) {
    const FILE: &CStr = c"/tmp/procfs-map";
    let fd = openat(AT_FDCWD, FILE, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600);
    let Ok(fd) = fd.map(|f| f as i32) else {
        c.fail("create /tmp/procfs-map", "open");
        return;
    };
    let _ = ftruncate(fd, 3 * 4096);
    let mut st = stat::default();
    let _ = fstat(fd, &mut st);
    // SAFETY: a fresh shared mapping of the file, only looked at through maps.
    let m = unsafe { mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096) };
    let _ = close(fd);
    let Ok(a) = m else {
        c.fail("mmap the file at offset 4096", "failed");
        return;
    };
    let dev = st.st_dev;
    let (major, minor) =
        (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff), (dev & 0xff) | ((dev >> 12) & !0xff));
    let head = path(format_args!(
        "{:08x}-{:08x} rw-s 00001000 {:02x}:{:02x} {} ",
        a,
        a + 4096,
        major,
        minor,
        st.st_ino
    ));
    let line_of = |m: &Buf| -> Option<Buf> {
        m.str().lines().find(|l| l.starts_with(head.str())).map(|l| path(format_args!("{l}")))
    };
    let m = read_file(c"/proc/self/maps", 4096);
    let l = m.as_ref().ok().and_then(line_of);
    c.check("maps: a file mapping's offset, device, inode", l.is_some());
    c.check(
        "maps: and its path at column 74",
        l.as_ref().is_some_and(|l| {
            l.str().ends_with(" /tmp/procfs-map") && l.str().find("/tmp") == Some(73)
        }),
    );
    let _ = unlinkat(AT_FDCWD, FILE, 0);
    let m = read_file(c"/proc/self/maps", 4096);
    let l = m.as_ref().ok().and_then(line_of);
    c.check(
        "maps: unlinked, the path says (deleted)",
        l.is_some_and(|l| l.str().ends_with(" /tmp/procfs-map (deleted)")),
    );
    // SAFETY: unmapping the area mapped above.
    let _ = unsafe { munmap(a, 4096) };
}

fn global_files(c: &mut Checker) {
    let l = read_file(c"/proc/loadavg", 256);
    c.check(
        "loadavg: three averages, running/total, last pid",
        l.is_ok_and(|b| {
            let f: [&str; 6] = {
                let mut f = [""; 6];
                for (i, w) in b.str().split_whitespace().take(6).enumerate() {
                    f[i] = w;
                }
                f
            };
            f[..3].iter().all(|v| v.len() >= 4 && v.as_bytes()[v.len() - 3] == b'.')
                && f[3].contains('/')
                && num(f[4]) > 0
                && f[5].is_empty()
        }),
    );
    let u = read_file(c"/proc/uptime", 256);
    c.check(
        "uptime: two numbers in 1/100 s",
        u.is_ok_and(|b| {
            let s = b.str();
            s.ends_with('\n')
                && s.split_whitespace().count() == 2
                && s.split_whitespace()
                    .all(|v| v.as_bytes().get(v.len().wrapping_sub(3)) == Some(&b'.'))
        }),
    );
    let m = read_file(c"/proc/meminfo", 8000);
    c.check(
        "meminfo: MemTotal, MemFree, MemAvailable first, in kB",
        m.as_ref().is_ok_and(|b| {
            let mut lines = b.str().lines();
            let ok = |l: Option<&str>, k: &str| {
                l.is_some_and(|l| l.starts_with(k) && l.ends_with(" kB") && l.len() == 27)
            };
            ok(lines.next(), "MemTotal:")
                && ok(lines.next(), "MemFree:")
                && ok(lines.next(), "MemAvailable:")
        }),
    );
    c.check(
        "meminfo: KernelStack and PageTables, Slab = SReclaimable + SUnreclaim",
        m.is_ok_and(|b| {
            let kb = |name| userspace::text::meminfo_kb(b.str(), name);
            let slab = kb("SReclaimable").zip(kb("SUnreclaim")).map(|(r, u)| r + u);
            kb("KernelStack").is_some_and(|k| k > 0)
                && kb("PageTables").is_some_and(|p| p > 0)
                && slab.is_some()
                && kb("Slab") == slab
        }),
    );
    let s = read_file(c"/proc/stat", 8000);
    c.check(
        "stat: the cpu line first, ten numbers",
        s.is_ok_and(|b| {
            let first = b.str().lines().next().unwrap_or("");
            first.starts_with("cpu  ") && first.split_whitespace().count() == 11
        }),
    );
}

fn mounts(c: &mut Checker, me: usize) {
    // On Linux, a mount namespace of our own (never the host's /proc).
    // SAFETY: no memory is passed.
    let un = userspace::errno::result(unsafe {
        userspace::syscall::syscall1(nr::__NR_unshare, 0x0002_0000)
    });
    if un.is_ok() {
        let _ = mount(None, c"/", None, MS_REC | MS_PRIVATE);
    } else if un != Err(EINVAL) {
        c.fail("unshare(CLONE_NEWNS)", "no private mount namespace for the mount checks");
        return;
    }
    let mut dir = path(format_args!("/tmp/procfs-{me}"));
    let mut mnt = path(format_args!("/tmp/procfs-{me}/p"));
    let mut file = path(format_args!("/tmp/procfs-{me}/f"));
    let _ = mkdirat(AT_FDCWD, dir.cstr(), 0o755);
    let _ = mkdirat(AT_FDCWD, mnt.cstr(), 0o755);
    if let Ok(fd) = openat(AT_FDCWD, file.cstr(), O_CREAT | O_WRONLY | O_CLOEXEC, 0o644) {
        let _ = close(fd as i32);
    }
    let proc_ = Some(c"proc");
    c.err(
        "mount on a missing target: ENOENT",
        mount(proc_, c"/tmp/no-such-dir/x", proc_, 0),
        ENOENT,
    );
    c.err("mount on a file: ENOTDIR", mount(proc_, file.cstr(), proc_, 0), ENOTDIR);
    c.err(
        "mount of an unknown type: ENODEV",
        mount(proc_, mnt.cstr(), Some(c"nosuchfs"), 0),
        ENODEV,
    );
    c.err("umount2 with a bad flag: EINVAL", umount2(mnt.cstr(), 0x100), EINVAL);
    c.err(
        "umount2 MNT_EXPIRE|MNT_FORCE: EINVAL",
        umount2(mnt.cstr(), MNT_EXPIRE | MNT_FORCE),
        EINVAL,
    );
    c.err("umount2 of a directory that is no mount: EINVAL", umount2(mnt.cstr(), 0), EINVAL);
    c.err("umount2 of a missing path: ENOENT", umount2(c"/tmp/no-such-dir", 0), ENOENT);
    if !c.ok_eq("mount -t proc proc DIR", mount(proc_, mnt.cstr(), proc_, 0), 0) {
        return;
    }
    let mut selfp = path(format_args!("{}/self", mnt.str()));
    let want = path(format_args!("{me}"));
    c.check("DIR/self is the pid", readlink(selfp.cstr()).is_ok_and(|b| b.str() == want.str()));
    let mut up = path(format_args!("{}/..", mnt.str()));
    let (mut a, mut b) = (stat::default(), stat::default());
    let _ = newfstatat(AT_FDCWD, up.cstr(), &mut a, 0);
    let _ = newfstatat(AT_FDCWD, dir.cstr(), &mut b, 0);
    c.check("DIR/.. leaves the mount", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    let _ = newfstatat(AT_FDCWD, mnt.cstr(), &mut a, 0);
    c.check("DIR is proc's root", a.st_mode == S_IFDIR | 0o555 && a.st_dev != b.st_dev);
    let mut statp = path(format_args!("{}/self/stat", mnt.str()));
    let fd = openat(AT_FDCWD, statp.cstr(), O_RDONLY | O_CLOEXEC, 0);
    c.err("umount2 while a file is open: EBUSY", umount2(mnt.cstr(), 0), EBUSY);
    if let Ok(fd) = fd {
        let _ = close(fd as i32);
    }
    let unpriv = fork_with(|| {
        if setuid(65534).is_err() {
            return 9;
        }
        let m = mount(proc_, mnt.cstr(), proc_, 0) == Err(EPERM);
        let u = umount2(mnt.cstr(), 0) == Err(EPERM);
        (!m) as i32 | ((!u) as i32) << 1
    });
    match unpriv {
        Ok(pid) => {
            c.reaped("mount and umount2 without root: EPERM", pid, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("fork", e),
    }
    c.ok_eq("umount2 DIR", umount2(mnt.cstr(), 0), 0);
    c.err("DIR/self after umount2: ENOENT", readlink(selfp.cstr()).map(|_| ()), ENOENT);
    c.err("umount2 again: EINVAL", umount2(mnt.cstr(), 0), EINVAL);
    let _ = unlinkat(AT_FDCWD, file.cstr(), 0);
    let _ = unlinkat(AT_FDCWD, mnt.cstr(), AT_REMOVEDIR);
    let _ = unlinkat(AT_FDCWD, dir.cstr(), AT_REMOVEDIR);
}
