//! Every kind of namespace as Linux has it (kernel/nsproxy.c, kernel/fork.c
//! `ksys_unshare`/`copy_process`, fs/namespace.c `copy_mnt_ns`,
//! kernel/user_namespace.c, kernel/time/namespace.c, fs/proc/namespaces.c):
//! the `/proc/PID/ns` links and their `TYPE:[INUM]` text, `stat` through a
//! link giving the namespace's number; which links change with each
//! CLONE_NEW* flag of `unshare` and `clone` (CLONE_NEWPID and CLONE_NEWTIME
//! only for children); the flag checks (EINVAL combinations, EPERM without
//! privilege); a user namespace made by a user that is not root, where its
//! ids read as 65534 (no map written) and it may make other namespaces but
//! not a nested user namespace; a proc mount in a private mount namespace
//! that its parent does not see.
//!
//! Run as root. Namespace numbers differ between kernels: the checks print
//! only whether two are the same. One line per check; children report
//! through their exit status.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::syscall::{syscall1, syscall2};
use userspace::*;

userspace::entry!(main);

const OTHER_UID: u32 = 4321;

/// The `/proc/self/ns` links, in Linux's order.
const NAMES: [&str; 10] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];
const PATHS: [&CStr; 10] = [
    c"/proc/self/ns/cgroup",
    c"/proc/self/ns/ipc",
    c"/proc/self/ns/mnt",
    c"/proc/self/ns/net",
    c"/proc/self/ns/pid",
    c"/proc/self/ns/pid_for_children",
    c"/proc/self/ns/time",
    c"/proc/self/ns/time_for_children",
    c"/proc/self/ns/user",
    c"/proc/self/ns/uts",
];
const MNT: usize = 2;
const PID: usize = 4;
const PID_CHILDREN: usize = 5;
const TIME: usize = 6;
const TIME_CHILDREN: usize = 7;
const USER: usize = 8;

/// The text of every link.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Links {
    b: [[u8; 48]; 10],
    n: [usize; 10],
}

impl Links {
    fn read() -> Links {
        let mut l = Links { b: [[0; 48]; 10], n: [0; 10] };
        for (i, p) in PATHS.iter().enumerate() {
            l.n[i] = readlinkat(AT_FDCWD, p, &mut l.b[i]).unwrap_or(0);
        }
        l
    }

    fn text(&self, i: usize) -> &[u8] {
        &self.b[i][..self.n[i]]
    }

    fn same(&self, other: &Links, i: usize) -> bool {
        self.n[i] > 0 && self.text(i) == other.text(i)
    }

    /// The number in the text, `TYPE:[N]`.
    fn inum(&self, i: usize) -> Option<u64> {
        let t = core::str::from_utf8(self.text(i)).ok()?;
        t.split_once(":[")?.1.strip_suffix(']')?.parse().ok()
    }
}

/// 0 if exactly the links in `changed` differ between `a` and `b`; else
/// bit 1 (one of them is the same) and/or bit 2 (another differs).
fn compare(a: &Links, b: &Links, changed: &[usize]) -> i32 {
    let mut bits = 0;
    for i in 0..10 {
        let want_same = !changed.contains(&i);
        if a.same(b, i) != want_same {
            bits |= if want_same { 4 } else { 2 };
        }
    }
    bits
}

fn unshare(flags: u64) -> SysResult {
    // SAFETY: no memory is passed.
    userspace::errno::result(unsafe { syscall1(nr::__NR_unshare, flags as usize) })
}

/// `clone(flags | SIGCHLD)` running `f(arg)` on a copy of our memory.
fn spawn(flags: u64, f: ChildFn, arg: usize) -> SysResult {
    // SAFETY: without CLONE_VM the child runs on its own copy of our memory.
    unsafe { clone(flags | SIGCHLD as u64, 0, 0, 0, 0, f, arg) }
}

extern "C" fn exit_0(_: usize) -> i32 {
    0
}

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    let me = Links::read();
    links(&mut c, &me);
    unshare_each(&mut c, &me);
    clone_each(&mut c, &me);
    time_for_children(&mut c);
    flag_checks(&mut c);
    unprivileged(&mut c);
    id_maps(&mut c);
    mounts(&mut c);
    setns_checks(&mut c);
    time_offsets(&mut c);
    c.err("no child left at the end", wait4(-1, None, __WALL | WNOHANG), ECHILD);
    c.status()
}

fn links(c: &mut Checker, me: &Links) {
    for (i, name) in NAMES.iter().enumerate() {
        let t = core::str::from_utf8(me.text(i)).unwrap_or("");
        let ty = if name.ends_with("_for_children") { &name[..name.len() - 13] } else { name };
        let ok =
            t.strip_prefix(ty).and_then(|r| r.strip_prefix(":[")).is_some() && me.inum(i).is_some();
        c.check(format_args!("ns/{name} reads {ty}:[N]"), ok);
    }
    c.check(
        "pid_for_children is pid at first",
        me.same(me, PID) && me.inum(PID) == me.inum(PID_CHILDREN),
    );
    c.check("time_for_children is time at first", me.inum(TIME) == me.inum(TIME_CHILDREN));
    for i in [MNT, USER] {
        let mut st = stat::default();
        let r = newfstatat(AT_FDCWD, PATHS[i], &mut st, 0);
        c.check(
            format_args!("stat follows ns/{}: st_ino is the link's number", NAMES[i]),
            r.is_ok() && Some(st.st_ino) == me.inum(i),
        );
        let r = newfstatat(AT_FDCWD, PATHS[i], &mut st, AT_SYMLINK_NOFOLLOW);
        c.check(
            format_args!("lstat of ns/{} is a symbolic link", NAMES[i]),
            r.is_ok() && st.st_mode & S_IFMT == S_IFLNK,
        );
    }
    let again = Links::read();
    c.check("the links read the same twice", again == *me);
    let pid = fork_with(|| compare(&Links::read(), &Links::read_parent(), &[]));
    match pid {
        Ok(p) => {
            exited_0(c, "a forked child's links are its parent's", p);
        }
        Err(e) => c.fail("fork", e),
    }
}

impl Links {
    /// The links of the parent process (`/proc/PPID/ns/*`).
    fn read_parent() -> Links {
        let ppid = getppid().unwrap_or(0);
        let mut l = Links { b: [[0; 48]; 10], n: [0; 10] };
        for (i, name) in NAMES.iter().enumerate() {
            let mut path = [0u8; 64];
            fmt_into(&mut path, format_args!("/proc/{ppid}/ns/{name}\0"));
            let p = CStr::from_bytes_until_nul(&path).unwrap_or(c"");
            l.n[i] = readlinkat(AT_FDCWD, p, &mut l.b[i]).unwrap_or(0);
        }
        l
    }
}

/// (flag, its name, the links it changes for the caller)
const UNSHARE: [(u64, &str, &[usize]); 8] = [
    (CLONE_NEWNS, "CLONE_NEWNS", &[MNT]),
    (CLONE_NEWUTS, "CLONE_NEWUTS", &[9]),
    (CLONE_NEWIPC, "CLONE_NEWIPC", &[1]),
    (CLONE_NEWNET, "CLONE_NEWNET", &[3]),
    (CLONE_NEWCGROUP, "CLONE_NEWCGROUP", &[0]),
    (CLONE_NEWUSER, "CLONE_NEWUSER", &[USER]),
    (CLONE_NEWPID, "CLONE_NEWPID", &[PID_CHILDREN]),
    (CLONE_NEWTIME, "CLONE_NEWTIME", &[TIME_CHILDREN]),
];

fn unshare_each(c: &mut Checker, me: &Links) {
    for (flag, name, changed) in UNSHARE {
        let r = fork_with(|| {
            if unshare(flag).is_err() {
                return 1;
            }
            compare(&Links::read(), me, changed)
        });
        let what = if changed[0] == PID_CHILDREN || changed[0] == TIME_CHILDREN {
            "only the one for children differs"
        } else {
            "only its link differs"
        };
        match r {
            Ok(p) => {
                exited_0(c, format_args!("unshare({name}): {what}"), p);
            }
            Err(e) => c.fail("fork", e),
        }
    }
}

static mut PARENT: Option<Links> = None;

extern "C" fn clone_child(changed: usize) -> i32 {
    // SAFETY: written before the clone; the child reads its own copy.
    let parent = unsafe { (*core::ptr::addr_of!(PARENT)).unwrap() };
    let changed: &[usize] = match changed {
        0 => &[PID, PID_CHILDREN],
        1 => &[USER, 9],
        i => &[[0, 1, MNT, 3][i - 2]],
    };
    compare(&Links::read(), &parent, changed)
}

fn clone_each(c: &mut Checker, me: &Links) {
    // SAFETY: no other thread; children get a copy.
    unsafe { PARENT = Some(*me) };
    let cases: [(u64, &str, usize); 6] = [
        (CLONE_NEWPID, "CLONE_NEWPID: the child's pid and pid_for_children differ", 0),
        (CLONE_NEWUSER | CLONE_NEWUTS, "CLONE_NEWUSER|CLONE_NEWUTS: user and uts differ", 1),
        (CLONE_NEWCGROUP, "CLONE_NEWCGROUP: only cgroup differs", 2),
        (CLONE_NEWIPC, "CLONE_NEWIPC: only ipc differs", 3),
        (CLONE_NEWNS, "CLONE_NEWNS: only mnt differs", 4),
        (CLONE_NEWNET, "CLONE_NEWNET: only net differs", 5),
    ];
    for (flags, name, arg) in cases {
        match spawn(flags, clone_child, arg) {
            Ok(p) => {
                exited_0(c, format_args!("clone({name}"), p);
            }
            Err(e) => c.fail(format_args!("clone({name}"), e),
        }
    }
}

fn time_for_children(c: &mut Checker) {
    let r = fork_with(|| {
        if unshare(CLONE_NEWTIME).is_err() {
            return 1;
        }
        let mine = Links::read();
        let mut bits = 0;
        if mine.inum(TIME) == mine.inum(TIME_CHILDREN) {
            bits |= 2;
        }
        // Its children enter it.
        match fork_with(|| {
            let l = Links::read();
            let ok = l.inum(TIME) == mine.inum(TIME_CHILDREN)
                && l.inum(TIME_CHILDREN) == mine.inum(TIME_CHILDREN)
                && l.inum(TIME) != mine.inum(TIME);
            if ok {
                0
            } else {
                1
            }
        }) {
            Ok(p) if reap(p) == Some(WaitStatus::Exited(0)) => {}
            _ => bits |= 4,
        }
        bits
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "unshare(CLONE_NEWTIME)",
                "after unshare(CLONE_NEWTIME): the caller's own time namespace is unchanged",
                "after unshare(CLONE_NEWTIME): a child's time is the parent's time_for_children",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
}

fn flag_checks(c: &mut Checker) {
    let thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
    c.err(
        "clone(CLONE_NEWUSER|CLONE_FS) EINVAL",
        spawn(CLONE_NEWUSER | CLONE_FS, exit_0, 0),
        EINVAL,
    );
    c.err("clone(CLONE_NEWNS|CLONE_FS) EINVAL", spawn(CLONE_NEWNS | CLONE_FS, exit_0, 0), EINVAL);
    c.err(
        "clone(CLONE_NEWIPC|CLONE_SYSVSEM) EINVAL",
        spawn(CLONE_NEWIPC | CLONE_SYSVSEM, exit_0, 0),
        EINVAL,
    );
    c.err("a thread with CLONE_NEWUSER EINVAL", spawn(thread | CLONE_NEWUSER, exit_0, 0), EINVAL);
    c.err("a thread with CLONE_NEWPID EINVAL", spawn(thread | CLONE_NEWPID, exit_0, 0), EINVAL);
    c.err("unshare of an unknown flag (CLONE_PARENT) EINVAL", unshare(CLONE_PARENT), EINVAL);
    // CLONE_NEWUSER and CLONE_NEWNS make CLONE_FS private (unshare implies it).
    let r = fork_with(|| {
        let _ = umask(0o022);
        let mut bits = 0;
        if unshare(CLONE_NEWNS | CLONE_NEWUSER).is_err() {
            bits |= 1;
        }
        bits
    });
    match r {
        Ok(p) => exited_0(c, "unshare(CLONE_NEWNS|CLONE_NEWUSER) together", p),
        Err(e) => c.fail("fork", e),
    }
}

fn unprivileged(c: &mut Checker) {
    let r = fork_with(|| {
        if setgid(OTHER_UID).is_err() || setuid(OTHER_UID).is_err() {
            return 0xff;
        }
        let mut bits = 0;
        let flags = [CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME];
        for (i, f) in flags.iter().enumerate() {
            if unshare(*f) != Err(EPERM) {
                bits |= 1 << i;
            }
        }
        if spawn(CLONE_NEWNET, exit_0, 0) != Err(EPERM) {
            bits |= 1 << 5;
        }
        bits
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "not root: unshare(CLONE_NEWNS) EPERM",
                "not root: unshare(CLONE_NEWIPC) EPERM",
                "not root: unshare(CLONE_NEWNET) EPERM",
                "not root: unshare(CLONE_NEWCGROUP) EPERM",
                "not root: unshare(CLONE_NEWTIME) EPERM",
                "not root: clone(CLONE_NEWNET) EPERM",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
    let r = fork_with(|| {
        if setgid(OTHER_UID).is_err() || setuid(OTHER_UID).is_err() {
            return 0xff;
        }
        let before = Links::read();
        let mut bits = 0;
        if unshare(CLONE_NEWUSER).is_err() {
            return 1;
        }
        let ids = [getuid(), geteuid(), getgid(), getegid()];
        if ids.iter().any(|&id| id != Ok(65534)) {
            bits |= 2;
        }
        if unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)
            .is_err()
        {
            bits |= 4;
        }
        if compare(&Links::read(), &before, &[0, 1, MNT, 3, USER, 9]) != 0 {
            bits |= 8;
        }
        if unshare(CLONE_NEWUSER) != Err(EPERM) {
            bits |= 16;
        }
        bits
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "not root: unshare(CLONE_NEWUSER) works",
                "in the new user namespace (no map): getuid, geteuid, getgid, getegid are 65534",
                "in it: unshare of mount, UTS, IPC, network and cgroup namespaces works",
                "in it: the user link and theirs differ, the rest is the same",
                "in it: a nested user namespace without a map EPERM",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
    let r = fork_with(|| {
        if setgid(OTHER_UID).is_err() || setuid(OTHER_UID).is_err() {
            return 0xff;
        }
        extern "C" fn inside(_: usize) -> i32 {
            let mut bits = (getuid() != Ok(65534)) as i32;
            // SAFETY: the kernel reads the 5 bytes.
            let set = unsafe { syscall2(nr::__NR_sethostname, b"inner".as_ptr() as usize, 5) };
            if set != 0 || nodename()[..6] != *b"inner\0" {
                bits |= 2;
            }
            bits
        }
        match spawn(CLONE_NEWUSER | CLONE_NEWUTS | CLONE_NEWPID, inside, 0) {
            Ok(p) => match reap(p) {
                Some(WaitStatus::Exited(0)) => 0,
                Some(WaitStatus::Exited(2)) => 4,
                _ => 2,
            },
            Err(_) => 1,
        }
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "not root: clone(CLONE_NEWUSER|CLONE_NEWUTS|CLONE_NEWPID) works",
                "its child's getuid is 65534",
                "its child may name its own UTS namespace (sethostname)",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
}

/// Write `text` to file `p` at offset `at` (a new open each time).
fn write_file(p: &CStr, text: &[u8], at: i64) -> SysResult {
    let fd = openat(AT_FDCWD, p, O_WRONLY | O_CLOEXEC, 0)? as i32;
    // (At an offset through lseek: seq files take no pwrite, ESPIPE.)
    let r = lseek(fd, at, SEEK_SET).and_then(|_| write(fd, text));
    let _ = close(fd);
    r
}

/// The first bytes of file `p`.
fn read_text(p: &CStr, buf: &mut [u8; 64]) -> usize {
    let Ok(fd) = openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0) else { return 0 };
    let n = read(fd as i32, buf).unwrap_or(0);
    let _ = close(fd as i32);
    n
}

/// Become OTHER_UID, and dumpable again: a change of ids makes a process
/// not dumpable, and then its proc files (uid_map among them) are root's.
fn drop_root_dumpable() -> bool {
    // SAFETY: these options take plain values.
    setgid(OTHER_UID).is_ok()
        && setuid(OTHER_UID).is_ok()
        && unsafe { prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) } == Ok(0)
        && unsafe { prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) }.is_ok()
}

fn id_maps(c: &mut Checker) {
    let r = fork_with(|| {
        if setgid(OTHER_UID).is_err() || setuid(OTHER_UID).is_err() {
            return 0xff;
        }
        let mut st = stat::default();
        let root_owned = newfstatat(AT_FDCWD, c"/proc/self/uid_map", &mut st, 0).is_ok()
            && (st.st_uid, st.st_gid) == (0, 0)
            && st.st_mode == S_IFREG | 0o644;
        let denied = write_file(c"/proc/self/uid_map", b"0 4321 1", 0) == Err(EACCES);
        (!root_owned) as i32 | ((!denied) as i32) << 1
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "after setuid a process is not dumpable: its uid_map is root's, 0644",
                "and its own uid_map cannot be opened for writing: EACCES",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
    // The usual unprivileged sequence: a user namespace, then its own maps.
    let r = fork_with(|| {
        if !drop_root_dumpable() || unshare(CLONE_NEWUSER).is_err() {
            return 0xff;
        }
        let mut bits = 0;
        let mut bad = |i: u32, b: bool| {
            if b {
                bits |= 1 << i;
            }
        };
        bad(0, write_file(c"/proc/self/uid_map", b"0 4321 2\n", 0) != Err(EPERM));
        bad(1, write_file(c"/proc/self/uid_map", b"0 x 1\n", 0) != Err(EINVAL));
        bad(2, write_file(c"/proc/self/uid_map", b"0 4321 1\n", 0) != Ok(9));
        bad(3, getuid() != Ok(0) || geteuid() != Ok(0));
        bad(4, write_file(c"/proc/self/uid_map", b"1 4321 1\n", 0) != Err(EPERM));
        bad(5, write_file(c"/proc/self/gid_map", b"0 4321 1\n", 0) != Err(EPERM));
        let denied = write_file(c"/proc/self/setgroups", b"deny\n", 0) == Ok(5);
        bad(
            6,
            !denied
                || write_file(c"/proc/self/gid_map", b"0 4321 1", 0) != Ok(8)
                || getgid() != Ok(0),
        );
        let mut buf = [0u8; 64];
        let n = read_text(c"/proc/self/uid_map", &mut buf);
        bad(7, &buf[..n] != b"         0       4321          1\n");
        bits
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "not root, own user namespace: uid_map of two ids EPERM",
                "uid_map of bad text EINVAL",
                "uid_map \"0 4321 1\" by the creator",
                "then getuid and geteuid are 0",
                "a second uid_map write EPERM",
                "gid_map before setgroups says deny EPERM",
                "setgroups \"deny\", then gid_map \"0 4321 1\": getgid is 0",
                "uid_map read inside shows the parent's id",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
    let r = fork_with(|| {
        if !drop_root_dumpable() || unshare(CLONE_NEWUSER).is_err() {
            return 0xff;
        }
        let mut bits = 0;
        let mut bad = |i: u32, b: bool| {
            if b {
                bits |= 1 << i;
            }
        };
        let mut buf = [0u8; 64];
        let n = read_text(c"/proc/self/setgroups", &mut buf);
        bad(0, &buf[..n] != b"allow\n");
        bad(1, write_file(c"/proc/self/uid_map", b"0 4321 1\n", 1) != Err(EINVAL));
        bad(2, write_file(c"/proc/self/setgroups", b"maybe", 0) != Err(EINVAL));
        let _ = write_file(c"/proc/self/setgroups", b"deny", 0);
        bad(3, write_file(c"/proc/self/setgroups", b"allow", 0) != Err(EPERM));
        let n = read_text(c"/proc/self/setgroups", &mut buf);
        bad(4, &buf[..n] != b"deny\n");
        let maps = write_file(c"/proc/self/uid_map", b"0 4321 1", 0).is_ok()
            && write_file(c"/proc/self/gid_map", b"0 4321 1", 0).is_ok();
        bad(5, !maps || unshare(CLONE_NEWUSER).is_err());
        bad(6, getuid() != Ok(65534));
        bits
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "a new user namespace's setgroups reads allow",
                "uid_map written at offset 1 EINVAL",
                "setgroups of bad text EINVAL",
                "setgroups \"allow\" after \"deny\" EPERM",
                "setgroups then reads deny",
                "with maps written, a nested user namespace works",
                "in the nested one (no map) getuid is 65534",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
    // Root in the parent namespace writes a child's map.
    let [r1, w1] = pipe();
    extern "C" fn mapped_child(fds: usize) -> i32 {
        let (r, w) = ((fds >> 32) as i32, fds as u32 as i32);
        put_byte(w, 1);
        let _ = get_byte(r);
        let mut bits = 0;
        if getuid() != Ok(5) {
            bits |= 1;
        }
        bits
    }
    let [r2, w2] = pipe();
    match spawn(CLONE_NEWUSER, mapped_child, ((r2 as usize) << 32) | w1 as usize) {
        Ok(p) => {
            let _ = get_byte(r1);
            let mut path = [0u8; 64];
            fmt_into(&mut path, format_args!("/proc/{p}/uid_map\0"));
            let wrote = write_file(cs(&path), b"5 0 1\n", 0);
            c.check("root writes a child's uid_map \"5 0 1\"", wrote == Ok(6));
            let mut buf = [0u8; 64];
            let n = read_text(cs(&path), &mut buf);
            c.check(
                "and reads it back in its own ids",
                &buf[..n] == b"         5          0          1\n",
            );
            put_byte(w2, 1);
            c.reaped_bits(p, 0, &["the child's getuid is then 5"]);
        }
        Err(e) => c.fail("clone(CLONE_NEWUSER)", e),
    }
    close_all(&[r1, w1, r2, w2]);
}

fn mounts(c: &mut Checker) {
    let me = getpid().unwrap_or(0);
    let mut dir = [0u8; 64];
    let mut mnt = [0u8; 64];
    let mut selfp = [0u8; 64];
    let fmt = fmt_into;
    fmt(&mut dir, format_args!("/tmp/nsall-{me}\0"));
    fmt(&mut mnt, format_args!("/tmp/nsall-{me}/p\0"));
    fmt(&mut selfp, format_args!("/tmp/nsall-{me}/p/self\0"));
    let _ = mkdirat(AT_FDCWD, cs(&dir), 0o755);
    let _ = mkdirat(AT_FDCWD, cs(&mnt), 0o755);
    let [r1, w1] = pipe();
    let [r2, w2] = pipe();
    let mut st = stat::default();
    let child = fork_with(|| {
        let mut bits = 0;
        if unshare(CLONE_NEWNS).is_err() || mount(None, c"/", None, MS_REC | MS_PRIVATE).is_err() {
            bits |= 1;
        }
        if mount(Some(c"proc"), cs(&mnt), Some(c"proc"), 0).is_err() {
            bits |= 2;
        }
        let mut st = stat::default();
        if newfstatat(AT_FDCWD, cs(&selfp), &mut st, 0).is_err() {
            bits |= 4;
        }
        put_byte(w1, 1);
        let _ = get_byte(r2);
        bits
    });
    let Ok(child) = child else {
        c.fail("fork", "failed");
        return;
    };
    let _ = get_byte(r1);
    c.err(
        "the proc mount in the child's mount namespace is not seen by its parent",
        newfstatat(AT_FDCWD, cs(&selfp), &mut st, 0),
        ENOENT,
    );
    let mut path = [0u8; 64];
    fmt(&mut path, format_args!("/proc/{child}/mounts\0"));
    let theirs = count_in(cs(&path), &dir);
    let mine = count_in(c"/proc/self/mounts", &dir);
    c.check(
        "/proc/CHILD/mounts shows the child's mount, /proc/self/mounts not",
        theirs == 1 && mine == 0,
    );
    put_byte(w2, 1);
    c.reaped_bits(
        child,
        0,
        &[
            "unshare(CLONE_NEWNS) and mount(MS_REC|MS_PRIVATE) of /",
            "mount of proc in the new mount namespace",
            "the child sees its proc mount",
        ],
    );
    c.err(
        "after the child's end its mount is gone with its namespace",
        newfstatat(AT_FDCWD, cs(&selfp), &mut st, 0),
        ENOENT,
    );
    close_all(&[r1, w1, r2, w2]);
    let _ = unlinkat(AT_FDCWD, cs(&mnt), AT_REMOVEDIR);
    let _ = unlinkat(AT_FDCWD, cs(&dir), AT_REMOVEDIR);
}

/// The NUL-terminated string in `b`.
fn cs(b: &[u8; 64]) -> &CStr {
    CStr::from_bytes_until_nul(b).unwrap_or(c"")
}

/// Reaps `pid` and checks that it exited 0 (its status says which of its
/// checks failed otherwise).
fn exited_0(c: &mut Checker, name: impl core::fmt::Display, pid: usize) {
    match reap(pid) {
        Some(WaitStatus::Exited(0)) => {
            c.check(name, true);
        }
        Some(st) => c.fail(name, st),
        None => c.fail(name, "not reaped"),
    }
}

/// Format `a` into `b` (cut short if it does not fit; `b` starts zeroed).
fn fmt_into(b: &mut [u8; 64], a: core::fmt::Arguments<'_>) {
    struct W<'a>(&'a mut [u8], usize);
    impl core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            if end >= self.0.len() {
                return Err(core::fmt::Error);
            }
            self.0[self.1..end].copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let _ = core::fmt::Write::write_fmt(&mut W(b, 0), a);
}

/// How many lines of file `p` hold the path in `dir` (NUL-terminated).
fn count_in(p: &CStr, dir: &[u8; 64]) -> usize {
    let Ok(fd) = openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0) else { return usize::MAX };
    let mut buf = [0u8; 8192];
    let mut n = 0;
    while n < buf.len() {
        match read(fd as i32, &mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let _ = close(fd as i32);
    let needle = CStr::from_bytes_until_nul(dir).map(|s| s.to_bytes()).unwrap_or(b"");
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    let needle = core::str::from_utf8(needle).unwrap_or("?");
    text.lines().filter(|l| l.split(' ').nth(1).is_some_and(|m| m.starts_with(needle))).count()
}

fn setns(fd: i32, nstype: u64) -> SysResult {
    // SAFETY: no memory is passed.
    userspace::errno::result(unsafe { syscall2(nr::__NR_setns, fd as usize, nstype as usize) })
}

fn nodename() -> [u8; 65] {
    let mut u = new_utsname::default();
    let _ = uname(&mut u);
    u.nodename
}

fn open_ns(p: &CStr) -> i32 {
    openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0).map_or(-1, |fd| fd as i32)
}

fn setns_checks(c: &mut Checker) {
    let me = getpid().unwrap_or(0);
    let mut qdir = [0u8; 64];
    let mut qself = [0u8; 64];
    fmt_into(&mut qdir, format_args!("/tmp/nsall-q{me}\0"));
    fmt_into(&mut qself, format_args!("/tmp/nsall-q{me}/self\0"));
    let _ = mkdirat(AT_FDCWD, cs(&qdir), 0o755);
    let my_uts = open_ns(c"/proc/self/ns/uts");
    let my_user = open_ns(c"/proc/self/ns/user");
    let original = nodename();
    // B: its own UTS and mount namespaces, a host name and a proc mount;
    // the parent opens them, then B exits: the descriptors keep them.
    let [r1, w1] = pipe();
    let [r2, w2] = pipe();
    let b = fork_with(|| {
        let mut bits = 0;
        if unshare(CLONE_NEWUTS | CLONE_NEWNS).is_err()
            || mount(None, c"/", None, MS_REC | MS_PRIVATE).is_err()
        {
            bits |= 1;
        }
        // SAFETY: the kernel reads the 7 bytes.
        let set = unsafe { syscall2(nr::__NR_sethostname, b"nsall-b".as_ptr() as usize, 7) };
        if set != 0 || mount(Some(c"proc"), cs(&qdir), Some(c"proc"), 0).is_err() {
            bits |= 2;
        }
        put_byte(w1, 1);
        let _ = get_byte(r2);
        bits
    });
    let Ok(b) = b else {
        c.fail("fork", "failed");
        return;
    };
    let _ = get_byte(r1);
    let mut path = [0u8; 64];
    fmt_into(&mut path, format_args!("/proc/{b}/ns/uts\0"));
    let b_uts = open_ns(cs(&path));
    fmt_into(&mut path, format_args!("/proc/{b}/ns/mnt\0"));
    let b_mnt = open_ns(cs(&path));
    let mut b_link = Links { b: [[0; 48]; 10], n: [0; 10] };
    fmt_into(&mut path, format_args!("/proc/{b}/ns/uts\0"));
    b_link.n[0] = readlinkat(AT_FDCWD, cs(&path), &mut b_link.b[0]).unwrap_or(0);
    put_byte(w2, 1);
    c.reaped_bits(
        b,
        0,
        &["setns: B unshares UTS and mount namespaces", "B names its host and mounts proc"],
    );
    close_all(&[r1, w1, r2, w2]);
    c.check("/proc/B/ns/uts and /proc/B/ns/mnt open", b_uts >= 0 && b_mnt >= 0);
    let mut st = stat::default();
    c.check(
        "fstat of an open namespace: st_ino is its number",
        fstat(b_uts, &mut st).is_ok() && Some(st.st_ino) == b_link.inum(0),
    );
    let r = fork_with(|| {
        let mut bits = 0;
        let mut bad = |i: u32, b: bool| {
            if b {
                bits |= 1 << i;
            }
        };
        bad(0, setns(b_uts, CLONE_NEWNET) != Err(EINVAL));
        bad(1, setns(b_uts, CLONE_NEWUTS).is_err() || nodename()[..8] != *b"nsall-b\0");
        let now = Links::read();
        bad(2, now.text(9) != b_link.text(0));
        bad(3, setns(my_uts, 0).is_err() || nodename() != original);
        let stat_fd = open_ns(c"/proc/self/stat");
        bad(4, setns(stat_fd, 0) != Err(EINVAL) || setns(999, 0) != Err(EBADF));
        bad(5, setns(my_user, CLONE_NEWUSER) != Err(EINVAL));
        let mut st = stat::default();
        let entered = setns(b_mnt, CLONE_NEWNS).is_ok();
        bad(6, !entered || newfstatat(AT_FDCWD, cs(&qself), &mut st, 0).is_err());
        bits
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "setns with a UTS namespace and nstype CLONE_NEWNET EINVAL",
                "setns into B's UTS namespace after B is gone: B's host name",
                "then its uts link is B's",
                "setns back into the first UTS namespace: the first name",
                "setns of a file that is no namespace EINVAL, of no descriptor EBADF",
                "setns into one's own user namespace EINVAL",
                "setns into B's mount namespace: B's proc mount is there",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
    let r = fork_with(|| {
        if setgid(OTHER_UID).is_err() || setuid(OTHER_UID).is_err() {
            return 0xff;
        }
        (setns(b_uts, 0) != Err(EPERM)) as i32
    });
    match r {
        Ok(p) => c.reaped_bits(p, 0, &["not root: setns EPERM"]),
        Err(e) => c.fail("fork", e),
    }
    c.err(
        "the parent does not see B's mount",
        newfstatat(AT_FDCWD, cs(&qself), &mut st, 0),
        ENOENT,
    );
    close_all(&[my_uts, my_user, b_uts, b_mnt]);
    let _ = unlinkat(AT_FDCWD, cs(&qdir), AT_REMOVEDIR);
}

fn clock_ns(clock: u32) -> i128 {
    let mut ts = timespec::default();
    let _ = clock_gettime(clock, &mut ts);
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

fn time_offsets(c: &mut Checker) {
    let r = fork_with(|| {
        if unshare(CLONE_NEWTIME).is_err() {
            return 0xff;
        }
        let mut bits = 0;
        let mut bad = |i: u32, b: bool| {
            if b {
                bits |= 1 << i;
            }
        };
        let p = c"/proc/self/timens_offsets";
        let text = b"monotonic 100 5\nboottime 200 0\n";
        bad(0, write_file(p, text, 0) != Ok(text.len()));
        let mut buf = [0u8; 64];
        let n = read_text(p, &mut buf);
        bad(1, &buf[..n] != b"monotonic         100         5\nboottime          200         0\n");
        bad(2, write_file(p, b"realtime 1 0\n", 0) != Err(EINVAL));
        bad(3, write_file(p, b"monotonic 1 1000000000\n", 0) != Err(EINVAL));
        bad(4, write_file(p, b"monotonic -100000000 0\n", 0) != Err(ERANGE));
        let (m0, b0) = (clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_BOOTTIME));
        let g = fork_with(|| {
            let (m1, b1) = (clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_BOOTTIME));
            let s = 1_000_000_000i128;
            let m_ok = (100 * s..101 * s).contains(&(m1 - m0));
            let b_ok = (200 * s..201 * s).contains(&(b1 - b0));
            (!m_ok) as i32 | ((!b_ok) as i32) << 1
        });
        match g {
            Ok(g) => bad(5, reap(g) != Some(WaitStatus::Exited(0))),
            Err(_) => bad(5, true),
        }
        bad(6, write_file(p, b"monotonic 1 0\n", 0) != Err(EACCES));
        let own = clock_ns(CLOCK_MONOTONIC) - m0;
        bad(7, !(0..1_000_000_000).contains(&own));
        bits
    });
    match r {
        Ok(p) => c.reaped_bits(
            p,
            0,
            &[
                "after unshare(CLONE_NEWTIME): timens_offsets takes monotonic 100 s 5 ns, boottime 200 s",
                "timens_offsets reads them back",
                "an offset of another clock EINVAL",
                "nanoseconds of 1e9 EINVAL",
                "an offset that makes the clock negative ERANGE",
                "a child in the namespace sees CLOCK_MONOTONIC +100 s and CLOCK_BOOTTIME +200 s",
                "once a process is in it: timens_offsets EACCES",
                "the caller's own clocks are unchanged",
            ],
        ),
        Err(e) => c.fail("fork", e),
    }
}
