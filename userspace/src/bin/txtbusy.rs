//! A program file a process runs cannot be written (Linux ETXTBSY:
//! `exe_file_deny_write_access`, `get_write_access`): opening it for writing,
//! O_TRUNC, truncate; exec of a file open for writing; the denial held by a
//! fork's copy of the address space until the last process running it is
//! gone; reading, chmod and unlinking still allowed. The program copies its
//! own file to /tmp and runs the copy. One line per check, exit status =
//! number of failed checks. Internal modes: `wait FD` (the running copy:
//! forks, writes the child's pid to FD, waits) and `exit0`.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::*;

userspace::entry!(main);

const COPY: &CStr = c"/tmp/txtbusy-copy";

fn main(args: Args, _env: Env) -> i32 {
    match args.bytes(1) {
        Some(b"wait") => return running_copy(&args),
        Some(b"exit0") => return 0,
        _ => {}
    }
    let mut c = Checker::new();
    let Some(me) = args.get(0) else { return 1 };
    if !copy_file(me, COPY) {
        c.fail("copy the program to /tmp", "open/read/write");
        return c.status();
    }
    let _ = set_child_subreaper(true);
    while_running(&mut c);
    exec_while_open_for_writing(&mut c);
    let _ = unlinkat(AT_FDCWD, COPY, 0);
    c.status()
}

/// Copy `from` to `to` (mode 0755).
fn copy_file(from: &CStr, to: &CStr) -> bool {
    let _ = unlinkat(AT_FDCWD, to, 0);
    let Ok(src) = openat(AT_FDCWD, from, O_RDONLY | O_CLOEXEC, 0) else { return false };
    let Ok(dst) = openat(AT_FDCWD, to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755) else {
        let _ = close(src as i32);
        return false;
    };
    let mut buf = [0u8; 16384];
    let ok = loop {
        match read(src as i32, &mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                if write(dst as i32, &buf[..n]) != Ok(n) {
                    break false;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = close(src as i32);
    close(dst as i32).is_ok() && ok
}

/// Run the copy in a child (`wait FD`): returns (child pid, grandchild pid)
/// once both run it.
fn start_copy() -> Option<(i32, i32)> {
    let [r, w] = pipe2(O_CLOEXEC).ok()?;
    // The write end as fd 10 in the child, open across the exec.
    let child = fork_with(|| {
        if dup2(w, 10).is_err() {
            return 101;
        }
        100 + execv(COPY, &[COPY, c"wait", c"10"]).0
    })
    .ok()? as i32;
    let _ = close(w);
    let mut pid = [0u8; 4];
    let n = read(r, &mut pid);
    let _ = close(r);
    if n != Ok(4) {
        let _ = kill(child, SIGKILL);
        let _ = wait4(child, None, 0);
        return None;
    }
    Some((child, i32::from_le_bytes(pid)))
}

/// The copy, running: a child of its own runs it too; then tell the test
/// (the grandchild's pid on FD) and wait to be killed.
fn running_copy(args: &Args) -> i32 {
    let fd = args.bytes(2).and_then(|b| core::str::from_utf8(b).ok()?.parse::<i32>().ok());
    let Some(fd) = fd else { return 2 };
    let grandchild = match fork() {
        Ok(0) => loop {
            let _ = pause();
        },
        Ok(p) => p as i32,
        Err(_) => return 3,
    };
    let _ = write(fd, &grandchild.to_le_bytes());
    let _ = close(fd);
    loop {
        let _ = pause();
    }
}

fn open_for(flags: u32) -> Result<usize, Errno> {
    let r = openat(AT_FDCWD, COPY, flags | O_CLOEXEC, 0);
    if let Ok(fd) = r {
        let _ = close(fd as i32);
    }
    r
}

/// Poll until opening the copy for writing works, at most ~10 s.
fn writable_again() -> bool {
    for _ in 0..1000 {
        if open_for(O_WRONLY).is_ok() {
            return true;
        }
        let _ = nanosleep(&timespec::from_nanos(10_000_000), None);
    }
    false
}

fn while_running(c: &mut Checker) {
    let Some((child, grandchild)) = start_copy() else {
        c.fail("run the copy (and a fork of it)", "no pid from the pipe");
        return;
    };
    c.check("the copy runs, and a fork of it", grandchild > 0);
    c.err("open O_WRONLY: ETXTBSY", open_for(O_WRONLY), ETXTBSY);
    c.err("open O_RDWR: ETXTBSY", open_for(O_RDWR), ETXTBSY);
    c.err("open O_RDONLY|O_TRUNC: ETXTBSY", open_for(O_RDONLY | O_TRUNC), ETXTBSY);
    c.err("truncate: ETXTBSY", truncate(COPY, 0), ETXTBSY);
    c.ok("open O_RDONLY", open_for(O_RDONLY));
    c.ok_eq("chmod", chmod(COPY, 0o755), 0);
    let mut st = stat::default();
    let size = newfstatat(AT_FDCWD, COPY, &mut st, 0).map(|_| st.st_size);
    c.check("the file is whole", size.is_ok_and(|s| s > 4096));
    // The process that exec'd it goes; its fork still runs it.
    let _ = kill(child, SIGKILL);
    c.reaped(
        "the exec'd process is killed",
        child as usize,
        0,
        WaitStatus::Signaled(SIGKILL, false),
    );
    c.err("its fork still runs it: ETXTBSY", open_for(O_WRONLY), ETXTBSY);
    let _ = kill(grandchild, SIGKILL);
    c.reaped(
        "the fork is killed too",
        grandchild as usize,
        0,
        WaitStatus::Signaled(SIGKILL, false),
    );
    c.check("then it can be opened for writing", writable_again());
    c.ok_eq("and truncated to its size", truncate(COPY, size.unwrap_or(0)), 0);
}

fn exec_while_open_for_writing(c: &mut Checker) {
    let exec_copy = || fork_with(|| 100 + execv(COPY, &[COPY, c"exit0"]).0);
    let w = openat(AT_FDCWD, COPY, O_WRONLY | O_CLOEXEC, 0);
    let Some(w) = c.ok("open the copy for writing", w) else { return };
    if let Some(pid) = c.ok("fork a child that execs it", exec_copy()) {
        let want = WaitStatus::Exited(100 + ETXTBSY.0);
        c.reaped("execve of a file open for writing: ETXTBSY", pid, 0, want);
    }
    let _ = close(w as i32);
    if let Some(pid) = c.ok("closed: fork a child that execs it", exec_copy()) {
        c.reaped("now it runs", pid, 0, WaitStatus::Exited(0));
    }
    // Unlinked while it runs: the process runs on, the name is gone.
    let Some((child, grandchild)) = start_copy() else {
        c.fail("run the copy again", "no pid from the pipe");
        return;
    };
    c.ok_eq("unlink the running copy", unlinkat(AT_FDCWD, COPY, 0), 0);
    c.err("the name is gone", open_for(O_RDONLY), ENOENT);
    for (pid, who) in [(child, "the unlinked copy ran until killed"), (grandchild, "and its fork")]
    {
        let _ = kill(pid, SIGKILL);
        c.reaped(who, pid as usize, 0, WaitStatus::Signaled(SIGKILL, false));
    }
}
