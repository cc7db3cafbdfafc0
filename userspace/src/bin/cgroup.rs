//! Control groups v2 as Linux 6.x has them (kernel/cgroup/cgroup.c,
//! kernel/cgroup/pids.c). One line per check; exit status = failed checks.
//!
//! `cgroup` (the core): on the first cgroup2 mount in /proc/self/mounts (or
//! one it makes at /sys/fs/cgroup when there is none, as in the guest), in a
//! group of its own below its cgroup (removed at the end): mkdir/rmdir and
//! their errors, the files of a group, their modes, texts and errors,
//! cgroup.procs and cgroup.threads (moves, EINVAL, ESRCH, EOPNOTSUPP, E2BIG),
//! cgroup.events, /proc/PID/cgroup, inheritance at fork, zombies (no longer
//! populating; a group with only zombies can be removed), clone3's
//! CLONE_INTO_CGROUP and its errors. These need no controller, so they run
//! on any Linux with a writable cgroup2 (this machine's has no controller
//! available in it: pids is bound to a cgroup v1 hierarchy).
//!
//! `cgroup pids`: the pids controller (+pids in subtree_control, pids.max
//! parsing, pids.current/peak/events/events.local, EAGAIN at a group's or an
//! ancestor's limit and where it is counted, zombies charged until reaped,
//! the no-internal-process rule, CLONE_INTO_CGROUP EBUSY). Where cgroup2
//! has no pids controller it prints one `skip` line.
#![no_std]
#![no_main]

use core::fmt::Write;

use userspace::*;

userspace::entry!(main);

type Buf = text::Buf<4096>;

fn fmt(args: core::fmt::Arguments<'_>) -> Buf {
    text::fmt(args)
}

/// The whole file at `p`.
fn cat(p: &mut Buf) -> Result<Buf, Errno> {
    text::read_file(p.cstr(), 4096)
}

/// Write `s` to the file at `p` in one write.
fn put(p: &mut Buf, s: &[u8]) -> Result<usize, Errno> {
    let fd = openat(AT_FDCWD, p.cstr(), O_WRONLY | O_CLOEXEC, 0)? as i32;
    let r = write(fd, s);
    let _ = close(fd);
    r
}

/// Where the checks run: the cgroup2 mount point, the program's cgroup in
/// it ("/" or "/a/b"), and the group made for the checks.
struct Ctx {
    mnt: Buf,
    orig: Buf,
    test: Buf,
}

impl Ctx {
    /// `test` + "/" + `rel` ("" for the group itself).
    fn at(&self, rel: &str) -> Buf {
        if rel.is_empty() {
            fmt(format_args!("{}", self.test.str()))
        } else {
            fmt(format_args!("{}/{}", self.test.str(), rel))
        }
    }

    /// The path of group `rel` as /proc/PID/cgroup shows it.
    fn cg_path(&self, rel: &str) -> Buf {
        let o = self.orig.str().trim_end_matches('/');
        let name = self.test.str().rsplit('/').next().unwrap_or("");
        if rel.is_empty() {
            fmt(format_args!("{o}/{name}"))
        } else {
            fmt(format_args!("{o}/{name}/{rel}"))
        }
    }
}

/// The default hierarchy's line of /proc/`who`/cgroup, without "0::" and
/// the newline.
fn proc_cgroup(who: &str) -> Buf {
    let mut p = fmt(format_args!("/proc/{who}/cgroup"));
    let text = match cat(&mut p) {
        Ok(t) => t,
        Err(_) => return Buf::new(),
    };
    let line = text.str().lines().find(|l| l.starts_with("0::")).unwrap_or("");
    fmt(format_args!("{}", &line[line.len().min(3)..]))
}

/// The first cgroup2 mount, or a new one at /sys/fs/cgroup.
fn cgroup2_mount() -> Option<Buf> {
    let mut m = fmt(format_args!("/proc/self/mounts"));
    if let Ok(t) = cat(&mut m) {
        for l in t.str().lines() {
            let mut f = l.split(' ');
            let (_, at, ty) = (f.next(), f.next(), f.next());
            if ty == Some("cgroup2") {
                return Some(fmt(format_args!("{}", at.unwrap_or(""))));
            }
        }
    }
    for d in [c"/sys", c"/sys/fs", c"/sys/fs/cgroup"] {
        let _ = mkdirat(AT_FDCWD, d, 0o755);
    }
    mount(Some(c"none"), c"/sys/fs/cgroup", Some(c"cgroup2"), 0).ok()?;
    Some(fmt(format_args!("/sys/fs/cgroup")))
}

fn setup(name: &str) -> Option<Ctx> {
    let mnt = cgroup2_mount()?;
    let orig = proc_cgroup("self");
    let base = fmt(format_args!("{}{}", mnt.str(), orig.str().trim_end_matches('/')));
    let mut test = fmt(format_args!("{}/{name}", base.str()));
    // Left over from an interrupted run.
    remove_cgroup(&mut test);
    Some(Ctx { mnt, orig, test })
}

/// rmdir a group and the groups below it.
fn remove_cgroup(p: &mut Buf) {
    let fd = match openat(AT_FDCWD, p.cstr(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) {
        Ok(fd) => fd as i32,
        Err(_) => return,
    };
    let mut buf = [0u8; 4096];
    let mut subs: [[u8; 64]; 8] = [[0; 64]; 8];
    let mut k = 0;
    while let Ok(n @ 1..) = getdents64(fd, &mut buf) {
        for d in Dirents::new(&buf[..n]) {
            if d.d_type == DT_DIR && d.name != b"." && d.name != b".." && d.name.len() < 64 && k < 8
            {
                subs[k][..d.name.len()].copy_from_slice(d.name);
                k += 1;
            }
        }
    }
    let _ = close(fd);
    for s in &subs[..k] {
        let name = core::str::from_utf8(cstr_field(s)).unwrap_or("");
        remove_cgroup(&mut fmt(format_args!("{}/{name}", p.str())));
    }
    let _ = unlinkat(AT_FDCWD, p.cstr(), AT_REMOVEDIR);
}

/// A child that waits until `fd` (a pipe's read end) reads end of file.
fn waiter(fd: i32) -> i32 {
    let mut b = [0u8; 1];
    let _ = read(fd, &mut b);
    0
}

/// Fork a child that waits on a new pipe: (pid, the pipe's write end).
fn fork_waiter() -> Option<(usize, i32)> {
    let [r, w] = pipe2(O_CLOEXEC).ok()?;
    let pid = fork_with(|| {
        let _ = close(w);
        waiter(r)
    })
    .ok()?;
    let _ = close(r);
    Some((pid, w))
}

fn mode_of(p: &mut Buf) -> Result<u32, Errno> {
    let mut st = stat::default();
    newfstatat(AT_FDCWD, p.cstr(), &mut st, 0)?;
    Ok(st.st_mode)
}

fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = umask(0o022);
    match args.bytes(1) {
        Some(b"pids") => pids(&mut c),
        _ => core_checks(&mut c),
    }
    c.status()
}

fn core_checks(c: &mut Checker) {
    let Some(ctx) = setup("kvmfork-cgroup") else {
        c.fail("a cgroup2 mount", "none, and mounting one failed");
        return;
    };
    c.check("/proc/self/cgroup: a 0:: line with a path", ctx.orig.str().starts_with('/'));
    let mut t = ctx.at("");
    c.ok("mkdir the test group", mkdirat(AT_FDCWD, t.cstr(), 0o777));
    c.err("mkdir it again: EEXIST", mkdirat(AT_FDCWD, t.cstr(), 0o777), EEXIST);
    c.err(
        "mkdir of a file's name: EEXIST",
        mkdirat(AT_FDCWD, ctx.at("cgroup.procs").cstr(), 0o777),
        EEXIST,
    );
    c.err(
        "mkdir of a name with a newline: EINVAL",
        mkdirat(AT_FDCWD, ctx.at("a\nb").cstr(), 0o777),
        EINVAL,
    );
    let mut st = stat::default();
    if c.ok("stat the group", newfstatat(AT_FDCWD, t.cstr(), &mut st, 0)).is_some() {
        c.check("a directory, 0755 (0777 less the umask)", st.st_mode == S_IFDIR | 0o755);
        c.check("st_nlink 2", st.st_nlink == 2);
    }
    let mut sfs = statfs::default();
    if c.ok("statfs", statfs(t.cstr(), &mut sfs)).is_some() {
        c.check("f_type CGROUP2_SUPER_MAGIC", sfs.f_type as u64 == CGROUP2_SUPER_MAGIC);
    }
    // The files (of those this checks), in the directory's order.
    let known = [
        "cgroup.type",
        "cgroup.procs",
        "cgroup.threads",
        "cgroup.controllers",
        "cgroup.subtree_control",
        "cgroup.events",
    ];
    let mut order = Buf::new();
    if let Ok(fd) = openat(AT_FDCWD, t.cstr(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = getdents64(fd as i32, &mut buf) {
            for d in Dirents::new(&buf[..n]) {
                let name = core::str::from_utf8(d.name).unwrap_or("");
                if known.contains(&name) || name == "." || name == ".." {
                    let _ = write!(order, " {name}");
                }
            }
        }
        let _ = close(fd as i32);
    }
    c.check(
        format_args!("the group's files, in order:{}", order.str()),
        order.str().split(' ').count() == 9,
    );
    for (f, mode) in [
        ("cgroup.procs", 0o644),
        ("cgroup.threads", 0o644),
        ("cgroup.subtree_control", 0o644),
        ("cgroup.type", 0o644),
        ("cgroup.controllers", 0o444),
        ("cgroup.events", 0o444),
    ] {
        c.ok_eq(format_args!("{f}: mode {mode:o}"), mode_of(&mut ctx.at(f)), S_IFREG | mode);
    }
    for (f, want) in [
        ("cgroup.type", "domain\n"),
        ("cgroup.events", "populated 0\nfrozen 0\n"),
        ("cgroup.procs", ""),
        ("cgroup.threads", ""),
        ("cgroup.subtree_control", ""),
    ] {
        let got = cat(&mut ctx.at(f));
        c.check(
            format_args!("a new group's {f}: {want:?}"),
            got.as_ref().is_ok_and(|g| g.str() == want),
        );
    }
    // Root opens a read-only file for writing; the write has no operation.
    c.err(
        "cgroup.controllers <- x (root): EINVAL",
        put(&mut ctx.at("cgroup.controllers"), b"x"),
        EINVAL,
    );
    c.ok_eq("an empty write: 0, nothing done", put(&mut ctx.at("cgroup.procs"), b""), 0);
    c.err(
        "open the directory for writing: EISDIR",
        openat(AT_FDCWD, t.cstr(), O_WRONLY, 0),
        EISDIR,
    );
    c.err(
        "create a file in the group: EACCES",
        openat(AT_FDCWD, ctx.at("newfile").cstr(), O_WRONLY | O_CREAT, 0o644),
        EACCES,
    );
    c.err(
        "unlink cgroup.procs: EPERM",
        unlinkat(AT_FDCWD, ctx.at("cgroup.procs").cstr(), 0),
        EPERM,
    );
    c.err(
        "rmdir cgroup.procs: ENOTDIR",
        unlinkat(AT_FDCWD, ctx.at("cgroup.procs").cstr(), AT_REMOVEDIR),
        ENOTDIR,
    );
    c.err(
        "rmdir of no such group: ENOENT",
        unlinkat(AT_FDCWD, ctx.at("nope").cstr(), AT_REMOVEDIR),
        ENOENT,
    );
    c.err("cgroup.type <- domain: EINVAL", put(&mut ctx.at("cgroup.type"), b"domain"), EINVAL);
    let sc = |s: &[u8]| put(&mut ctx.at("cgroup.subtree_control"), s);
    c.err("subtree_control <- +bogus: EINVAL", sc(b"+bogus"), EINVAL);
    c.err("subtree_control <- pids (no sign): EINVAL", sc(b"pids"), EINVAL);
    c.err("subtree_control <- + alone: EINVAL", sc(b"+"), EINVAL);
    c.ok_eq("subtree_control <- blanks: nothing to do", sc(b"  \n"), 3);
    c.ok_eq("subtree_control <- -pids when not enabled: nothing to do", sc(b"-pids"), 5);

    // cgroup.procs: a child moved in, its own child inherits the group.
    let procs = |rel: &str| ctx.at(if rel.is_empty() { "cgroup.procs" } else { rel });
    let Some((child, w)) = fork_waiter() else {
        c.fail("fork a child", "failed");
        return;
    };
    let pid = fmt(format_args!("{child}\n"));
    c.ok_eq("cgroup.procs <- the child's pid", put(&mut procs(""), pid.bytes()), pid.len());
    c.check("cgroup.procs lists it", cat(&mut procs("")).is_ok_and(|b| b.str() == pid.str()));
    c.check(
        "cgroup.threads lists it",
        cat(&mut ctx.at("cgroup.threads")).is_ok_and(|b| b.str() == pid.str()),
    );
    let want = ctx.cg_path("");
    c.check(
        "/proc/PID/cgroup of the child: the group's path",
        proc_cgroup(fmt(format_args!("{child}")).str()).str() == want.str(),
    );
    c.check(
        "cgroup.events: populated 1",
        cat(&mut ctx.at("cgroup.events")).is_ok_and(|b| b.str() == "populated 1\nfrozen 0\n"),
    );
    c.err("rmdir the populated group: EBUSY", unlinkat(AT_FDCWD, t.cstr(), AT_REMOVEDIR), EBUSY);
    c.ok_eq("the same pid again (already there)", put(&mut procs(""), pid.bytes()), pid.len());
    c.err("cgroup.procs <- abc: EINVAL", put(&mut procs(""), b"abc"), EINVAL);
    c.err("cgroup.procs <- -1: EINVAL", put(&mut procs(""), b"-1"), EINVAL);
    c.err("cgroup.procs <- a newline: EINVAL", put(&mut procs(""), b"\n"), EINVAL);
    c.err("cgroup.procs <- 1 2: EINVAL", put(&mut procs(""), b"1 2"), EINVAL);
    c.err("cgroup.procs <- no such pid: ESRCH", put(&mut procs(""), b"99999999"), ESRCH);
    c.err("cgroup.procs <- 4097 bytes: E2BIG", put(&mut procs(""), &[b' '; 4097]), E2BIG);
    c.ok("mkdir a group below", mkdirat(AT_FDCWD, ctx.at("sub").cstr(), 0o755));
    c.check(
        "the group has 3 links now",
        newfstatat(AT_FDCWD, t.cstr(), &mut st, 0).is_ok() && st.st_nlink == 3,
    );
    c.err(
        "cgroup.threads of another group <- the child: EOPNOTSUPP",
        put(&mut ctx.at("sub/cgroup.threads"), pid.bytes()),
        EOPNOTSUPP,
    );
    c.ok_eq(
        "cgroup.threads of its own group <- the child",
        put(&mut ctx.at("cgroup.threads"), pid.bytes()),
        pid.len(),
    );
    c.ok_eq("the child moves below", put(&mut ctx.at("sub/cgroup.procs"), pid.bytes()), pid.len());
    c.check(
        "the group still populated (by the one below)",
        cat(&mut ctx.at("cgroup.events")).is_ok_and(|b| b.str() == "populated 1\nfrozen 0\n"),
    );
    c.check("and its cgroup.procs empty", cat(&mut procs("")).is_ok_and(|b| b.is_empty()));
    c.err(
        "rmdir a group with a group below: EBUSY",
        unlinkat(AT_FDCWD, t.cstr(), AT_REMOVEDIR),
        EBUSY,
    );
    // The child's child inherits its group.
    let _ = close(w);
    c.reaped("the child", child, 0, WaitStatus::Exited(0));
    let Some((child, w)) = fork_waiter() else { return };
    let pid = fmt(format_args!("{child}"));
    let _ = put(&mut ctx.at("sub/cgroup.procs"), pid.bytes());
    let [go_r, go_w] = pipe2(O_CLOEXEC).unwrap_or([-1, -1]);
    let [rep_r, rep_w] = pipe2(O_CLOEXEC).unwrap_or([-1, -1]);
    let [hold_r, hold_w] = pipe2(O_CLOEXEC).unwrap_or([-1, -1]);
    let parent = fork_with(|| {
        let _ = close(hold_w);
        let _ = close(go_w);
        let _ = close(rep_r);
        // Moved into the group, this process forks: its child starts there.
        waiter(go_r);
        let g = fork_with(|| waiter(hold_r)).unwrap_or(0);
        let _ = write(rep_w, &(g as u32).to_ne_bytes());
        waiter(hold_r);
        let _ = wait4(g as i32, None, 0);
        0
    })
    .unwrap_or(0);
    let _ = put(&mut ctx.at("sub/cgroup.procs"), fmt(format_args!("{parent}")).bytes());
    let _ = close(go_w);
    let mut gb = [0u8; 4];
    let _ = read(rep_r, &mut gb);
    let grandchild = u32::from_ne_bytes(gb);
    c.check(
        "a child of a process in the group starts in it",
        proc_cgroup(fmt(format_args!("{grandchild}")).str()).str() == ctx.cg_path("sub").str(),
    );
    let listed = fmt(format_args!("{child}\n{parent}\n{grandchild}\n"));
    c.check(
        "cgroup.procs lists in the order they joined",
        cat(&mut ctx.at("sub/cgroup.procs")).is_ok_and(|b| b.str() == listed.str()),
    );
    let _ = close(hold_w);
    c.reaped("the forking child", parent, 0, WaitStatus::Exited(0));
    for fd in [go_r, rep_r, rep_w, hold_r] {
        let _ = close(fd);
    }
    // A zombie no longer populates its group, which can then be removed.
    let _ = close(w);
    let mut info = siginfo_t::default();
    let _ = waitid(P_PID, child as i32, Some(&mut info), WEXITED | WNOWAIT);
    c.check(
        "an exited child (a zombie) does not populate its group",
        cat(&mut ctx.at("sub/cgroup.events")).is_ok_and(|b| b.str() == "populated 0\nfrozen 0\n"),
    );
    c.check(
        "nor is it in cgroup.procs",
        cat(&mut ctx.at("sub/cgroup.procs")).is_ok_and(|b| b.is_empty()),
    );
    let fd_sub = openat(AT_FDCWD, ctx.at("sub/cgroup.procs").cstr(), O_RDONLY | O_CLOEXEC, 0);
    c.ok(
        "rmdir the group with only a zombie",
        unlinkat(AT_FDCWD, ctx.at("sub").cstr(), AT_REMOVEDIR),
    );
    let want = fmt(format_args!("{} (deleted)", ctx.cg_path("sub").str()));
    c.check(
        "/proc/PID/cgroup of the zombie: (deleted)",
        proc_cgroup(fmt(format_args!("{child}")).str()).str() == want.str(),
    );
    if let Ok(fd) = fd_sub {
        let mut b = [0u8; 16];
        c.err("reading a removed group's open file: ENODEV", read(fd as i32, &mut b), ENODEV);
        let _ = close(fd as i32);
    }
    c.reaped("the zombie", child, 0, WaitStatus::Exited(0));

    clone_into_cgroup(c, &ctx);

    // This process moves in and out (with a thread: both move).
    c.ok_eq("cgroup.procs <- 0 (the writer)", put(&mut procs(""), b"0"), 1);
    let me = fmt(format_args!("{}\n", getpid().unwrap_or(0)));
    c.check("the writer is listed", cat(&mut procs("")).is_ok_and(|b| b.str() == me.str()));
    c.check("/proc/self/cgroup follows", proc_cgroup("self").str() == ctx.cg_path("").str());
    let back =
        fmt(format_args!("{}{}/cgroup.procs", ctx.mnt.str(), ctx.orig.str().trim_end_matches('/')));
    let mut back = back;
    c.ok_eq("back to where it was", put(&mut back, b"0"), 1);
    c.check("/proc/self/cgroup: back", proc_cgroup("self").str() == ctx.orig.str());
    c.ok("rmdir the test group", unlinkat(AT_FDCWD, t.cstr(), AT_REMOVEDIR));
    c.err("and it is gone", mode_of(&mut t), ENOENT);
}

extern "C" fn child_reports_cgroup(arg: usize) -> i32 {
    // 0 when /proc/self/cgroup ends with the name `arg` points to.
    // SAFETY: the parent passes a pointer to a Buf that outlives the clone
    // (the child has a copy of the address space).
    let want = unsafe { &*(arg as *const Buf) };
    if proc_cgroup("self").str() == want.str() {
        0
    } else {
        1
    }
}

fn clone3_into(fd: u64, size: usize, want: &Buf) -> SysResult {
    let args = clone_args {
        flags: CLONE_INTO_CGROUP,
        exit_signal: SIGCHLD as u64,
        cgroup: fd,
        ..Default::default()
    };
    // SAFETY: args is a live clone_args of `size` readable bytes (at most its
    // own size); no CLONE_VM.
    unsafe { clone3(&args, size, child_reports_cgroup, want as *const Buf as usize) }
}

fn clone_into_cgroup(c: &mut Checker, ctx: &Ctx) {
    let full = core::mem::size_of::<clone_args>();
    let want = ctx.cg_path("");
    let Ok(fd) = openat(AT_FDCWD, ctx.at("").cstr(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) else {
        c.fail("open the group's directory", "failed");
        return;
    };
    if let Some(pid) = c
        .ok("clone3(CLONE_INTO_CGROUP, the group's directory)", clone3_into(fd as u64, full, &want))
    {
        c.reaped("the child started in the group", pid, 0, WaitStatus::Exited(0));
    }
    if let Ok(pfd) = openat(AT_FDCWD, ctx.at("").cstr(), O_PATH | O_CLOEXEC, 0) {
        if let Some(pid) =
            c.ok("... an O_PATH descriptor of it", clone3_into(pfd as u64, full, &want))
        {
            c.reaped("that child too", pid, 0, WaitStatus::Exited(0));
        }
        let _ = close(pfd as i32);
    }
    if let Ok(ffd) = openat(AT_FDCWD, ctx.at("cgroup.procs").cstr(), O_RDONLY | O_CLOEXEC, 0) {
        c.err("... its cgroup.procs: EBADF", clone3_into(ffd as u64, full, &want), EBADF);
        let _ = close(ffd as i32);
    }
    if let Ok(pfd) = openat(AT_FDCWD, c"/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) {
        c.err(
            "... a directory of another file system: EBADF",
            clone3_into(pfd as u64, full, &want),
            EBADF,
        );
        let _ = close(pfd as i32);
    }
    c.err("... a closed descriptor: EBADF", clone3_into(999, full, &want), EBADF);
    c.err("... a descriptor above INT_MAX: EINVAL", clone3_into(1 << 31, full, &want), EINVAL);
    c.err(
        "... in a clone_args without the field (VER1 size): EINVAL",
        clone3_into(fd as u64, CLONE_ARGS_SIZE_VER1, &want),
        EINVAL,
    );
    c.ok("mkdir a group to remove", mkdirat(AT_FDCWD, ctx.at("gone").cstr(), 0o755));
    if let Ok(gfd) = openat(AT_FDCWD, ctx.at("gone").cstr(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
    {
        let _ = unlinkat(AT_FDCWD, ctx.at("gone").cstr(), AT_REMOVEDIR);
        c.err("... a removed group: ENOENT", clone3_into(gfd as u64, full, &want), ENOENT);
        let _ = close(gfd as i32);
    }
    c.err("and no child was left behind", wait4(-1, None, WNOHANG), ECHILD);
    let _ = close(fd as i32);
}

// ---- the pids controller ----------------------------------------------------

fn pids(c: &mut Checker) {
    let Some(ctx) = setup("kvmfork-pids") else {
        c.fail("a cgroup2 mount", "none, and mounting one failed");
        return;
    };
    let mut top = fmt(format_args!(
        "{}{}/cgroup.controllers",
        ctx.mnt.str(),
        ctx.orig.str().trim_end_matches('/')
    ));
    let has = cat(&mut top).is_ok_and(|b| b.str().split_whitespace().any(|w| w == "pids"));
    if !has {
        println!("skip: cgroup2 here has no pids controller");
        return;
    }
    let mut top_sc = fmt(format_args!(
        "{}{}/cgroup.subtree_control",
        ctx.mnt.str(),
        ctx.orig.str().trim_end_matches('/')
    ));
    let was_on = cat(&mut top_sc).is_ok_and(|b| b.str().split_whitespace().any(|w| w == "pids"));
    c.ok_eq("+pids in the parent's subtree_control", put(&mut top_sc, b"+pids"), 5);
    let mut t = ctx.at("");
    c.ok("mkdir the test group", mkdirat(AT_FDCWD, t.cstr(), 0o755));
    let read_s = |rel: &str| cat(&mut ctx.at(rel)).map(|b| fmt(format_args!("{}", b.str())));
    let is = |rel: &str, want: &str| read_s(rel).is_ok_and(|b| b.str() == want);
    c.check("its cgroup.controllers: pids", is("cgroup.controllers", "pids\n"));
    for (f, want) in [
        ("pids.max", "max\n"),
        ("pids.current", "0\n"),
        ("pids.peak", "0\n"),
        ("pids.events", "max 0\n"),
        ("pids.events.local", "max 0\n"),
    ] {
        c.check(format_args!("a new group's {f}: {want:?}"), is(f, want));
    }
    c.ok_eq("pids.max: mode 644", mode_of(&mut ctx.at("pids.max")), S_IFREG | 0o644);
    c.ok_eq("pids.current: mode 444", mode_of(&mut ctx.at("pids.current")), S_IFREG | 0o444);
    let max = |s: &[u8]| put(&mut ctx.at("pids.max"), s);
    c.ok_eq("pids.max <- 50", max(b"50"), 2);
    c.check("reads 50", is("pids.max", "50\n"));
    c.ok_eq("pids.max <- 0x10", max(b"0x10"), 4);
    c.check("reads 16", is("pids.max", "16\n"));
    c.ok_eq("pids.max <- max", max(b"max\n"), 4);
    c.check("reads max", is("pids.max", "max\n"));
    c.err("pids.max <- -1: EINVAL", max(b"-1"), EINVAL);
    c.err("pids.max <- 4194305: EINVAL", max(b"4194305"), EINVAL);
    c.ok_eq("pids.max <- 4194304", max(b"4194304"), 7);
    c.err("pids.max <- abc: EINVAL", max(b"abc"), EINVAL);
    c.err("pids.max <- 2^64: ERANGE", max(b"18446744073709551616"), ERANGE);
    c.err("pids.current <- 1 (root): EINVAL", put(&mut ctx.at("pids.current"), b"1"), EINVAL);
    c.ok_eq("pids.max <- 3", max(b"3"), 1);

    // A process in the group forks to the limit.
    let Ok(leader) = fork_with(|| pids_inside(&ctx)) else {
        c.fail("fork", "failed");
        return;
    };
    let mut st = 0;
    let _ = wait4(leader as i32, Some(&mut st), 0);
    let code = WaitStatus::from_raw(st);
    c.check(format_args!("the checks in the group: {code}"), code == WaitStatus::Exited(0));
    c.check("empty again: pids.current 0", is("pids.current", "0\n"));
    // 4: when -pids moved sub's processes' charges to the group, each was
    // charged there before it was taken from sub's chain (Linux
    // `pids_can_attach`: pids_charge, then pids_uncharge).
    c.check("pids.peak remembers 4", is("pids.peak", "4\n"));
    remove_cgroup(&mut t);
    c.err("the group is gone", mode_of(&mut t), ENOENT);
    if !was_on {
        c.ok_eq("-pids in the parent's subtree_control", put(&mut top_sc, b"-pids"), 5);
    }
}

/// Forks until EAGAIN, in the group `ctx` made (pids.max 3). Prints its
/// checks; exits with their failures.
fn pids_inside(ctx: &Ctx) -> i32 {
    let mut c = Checker::new();
    let read_s = |rel: &str| cat(&mut ctx.at(rel)).map(|b| fmt(format_args!("{}", b.str())));
    let is = |rel: &str, want: &str| read_s(rel).is_ok_and(|b| b.str() == want);
    c.ok_eq("the child moves itself into the group", put(&mut ctx.at("cgroup.procs"), b"0"), 1);
    c.check("pids.current 1", is("pids.current", "1\n"));
    let [wr, ww] = pipe2(O_CLOEXEC).unwrap_or([-1, -1]);
    let a = fork_with(|| {
        let _ = close(ww);
        waiter(wr)
    });
    let b = fork_with(|| {
        let _ = close(ww);
        waiter(wr)
    });
    c.check("two forks below the limit", a.is_ok() && b.is_ok());
    c.check("pids.current 3, pids.peak 3", is("pids.current", "3\n") && is("pids.peak", "3\n"));
    c.err("the next fork: EAGAIN", fork_with(|| 0), EAGAIN);
    c.check("pids.current still 3", is("pids.current", "3\n"));
    c.check("pids.events: max 1", is("pids.events", "max 1\n"));
    c.check("pids.events.local: max 1", is("pids.events.local", "max 1\n"));
    // Zombies stay charged until reaped.
    let _ = close(ww);
    let (a, b) = (a.unwrap_or(0), b.unwrap_or(0));
    let mut info = siginfo_t::default();
    let _ = waitid(P_PID, a as i32, Some(&mut info), WEXITED | WNOWAIT);
    let _ = waitid(P_PID, b as i32, Some(&mut info), WEXITED | WNOWAIT);
    c.check("two zombies: pids.current still 3", is("pids.current", "3\n"));
    c.err("a fork still fails: EAGAIN", fork_with(|| 0), EAGAIN);
    c.reaped("reap one", a, 0, WaitStatus::Exited(0));
    c.check("pids.current 2", is("pids.current", "2\n"));
    c.reaped("reap the other", b, 0, WaitStatus::Exited(0));
    c.check("pids.current 1", is("pids.current", "1\n"));
    c.check("pids.events: max 2", is("pids.events", "max 2\n"));

    // A group below, charged into this one: an ancestor's limit.
    c.ok_eq(
        "+pids in the group's subtree_control (it has a process)",
        put(&mut ctx.at("cgroup.subtree_control"), b"+pids"),
        5,
    );
    c.ok("mkdir sub", mkdirat(AT_FDCWD, ctx.at("sub").cstr(), 0o755));
    c.check("sub has pids.max max", is("sub/pids.max", "max\n"));
    let [sr, sw] = pipe2(O_CLOEXEC).unwrap_or([-1, -1]);
    // Reports from sub's process, and the go-ahead to it.
    let [rr, rw] = pipe2(O_CLOEXEC).unwrap_or([-1, -1]);
    let [gr, gw] = pipe2(O_CLOEXEC).unwrap_or([-1, -1]);
    let d = fork_with(|| {
        // In sub: forks until the limits say no; reports on `rw`.
        let _ = close(sw);
        let moved = put(&mut ctx.at("sub/cgroup.procs"), b"0");
        let e = fork_with(|| waiter(sr));
        let at_parent = fork_with(|| 0);
        let code = |r: SysResult| match r {
            Ok(_) => 0u8,
            Err(e) => e.0 as u8,
        };
        let _ = write(rw, &[code(moved), code(e), code(at_parent)]);
        let mut go = [0u8; 1];
        let _ = read(gr, &mut go);
        // Now sub's own limit (1) is below its count (2).
        let at_sub = fork_with(|| 0);
        let _ = write(rw, &[code(at_sub)]);
        waiter(sr);
        if let Ok(e) = e {
            let _ = wait4(e as i32, None, 0);
        }
        0
    });
    let mut got = [0u8; 3];
    let _ = read(rr, &mut got);
    c.ok_eq("a child moves itself into sub", Ok(got[0]), 0);
    c.ok_eq("sub's process forks (the group's count reaches 3)", Ok(got[1]), 0);
    c.ok_eq("the next fork in sub: EAGAIN at the group's limit", Ok(got[2]), EAGAIN.0 as u8);
    c.check("sub: pids.current 2", is("sub/pids.current", "2\n"));
    c.check("the group: pids.current 3", is("pids.current", "3\n"));
    c.check(
        "the group's pids.events: max 3 (counted where the limit is)",
        is("pids.events", "max 3\n"),
    );
    c.check("the group's pids.events.local: max 3", is("pids.events.local", "max 3\n"));
    c.check("sub's pids.events: max 0", is("sub/pids.events", "max 0\n"));
    c.check("sub's pids.events.local: max 0", is("sub/pids.events.local", "max 0\n"));
    c.ok_eq("sub's pids.max <- 1 (below its count)", put(&mut ctx.at("sub/pids.max"), b"1"), 1);
    let _ = write(gw, &[1]);
    let mut got = [0u8; 1];
    let _ = read(rr, &mut got);
    c.ok_eq("a fork in sub: EAGAIN at sub's limit", Ok(got[0]), EAGAIN.0 as u8);
    c.check("sub's pids.events: max 1", is("sub/pids.events", "max 1\n"));
    c.check("sub's pids.events.local: max 1", is("sub/pids.events.local", "max 1\n"));
    c.check("the group's pids.events: max 4 (sub's below it)", is("pids.events", "max 4\n"));
    c.check("the group's pids.events.local: still max 3", is("pids.events.local", "max 3\n"));

    // The no-internal-process rule (pids is a threaded controller: it bites
    // only once a child is populated).
    let d = d.unwrap_or(0);
    let dpid = fmt(format_args!("{d}"));
    c.err(
        "the group (+pids, a populated child) takes no process: EBUSY",
        put(&mut ctx.at("cgroup.procs"), dpid.bytes()),
        EBUSY,
    );
    let Ok(gfd) = openat(AT_FDCWD, ctx.at("").cstr(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) else {
        return 255;
    };
    let want = Buf::new();
    c.err(
        "clone3(CLONE_INTO_CGROUP) into it: EBUSY",
        clone3_into(gfd as u64, core::mem::size_of::<clone_args>(), &want),
        EBUSY,
    );
    let _ = close(gfd as i32);
    c.ok_eq(
        "+pids in sub's subtree_control",
        put(&mut ctx.at("sub/cgroup.subtree_control"), b"+pids"),
        5,
    );
    c.err(
        "-pids in the group's while sub has it: EBUSY",
        put(&mut ctx.at("cgroup.subtree_control"), b"-pids"),
        EBUSY,
    );
    c.ok_eq("-pids in sub's", put(&mut ctx.at("sub/cgroup.subtree_control"), b"-pids"), 5);
    c.ok_eq("-pids in the group's", put(&mut ctx.at("cgroup.subtree_control"), b"-pids"), 5);
    c.check("sub has no pids files now", mode_of(&mut ctx.at("sub/pids.max")) == Err(ENOENT));
    c.check("the group's count keeps sub's processes: 3", is("pids.current", "3\n"));
    c.err(
        "+pids with a process here and a populated child: EBUSY",
        put(&mut ctx.at("cgroup.subtree_control"), b"+pids"),
        EBUSY,
    );
    c.check("pids.events unchanged: max 4", is("pids.events", "max 4\n"));
    let _ = close(sw);
    c.reaped("sub's process", d, 0, WaitStatus::Exited(0));
    c.check("pids.current 1", is("pids.current", "1\n"));
    c.ok("rmdir sub", unlinkat(AT_FDCWD, ctx.at("sub").cstr(), AT_REMOVEDIR));
    // Leave the group so that the parent can remove it.
    let mut back =
        fmt(format_args!("{}{}/cgroup.procs", ctx.mnt.str(), ctx.orig.str().trim_end_matches('/')));
    c.ok_eq("leave the group", put(&mut back, b"0"), 1);
    c.status()
}
