//! What test harnesses set up files with (Linux `fs/open.c` `chown_common`,
//! `chmod_common`, `do_truncate`; `fs/attr.c` `setattr_prepare`;
//! `fs/statfs.c`), in /dev/shm/fsattr-PID (tmpfs on Linux; the RAM file system
//! in the guest), the working directory while it runs: chown/fchown/lchown/fchownat with -1 and AT_EMPTY_PATH, the
//! set-ID bits chown and truncate clear, chmod/fchmod/fchmodat, the
//! permission checks for a user that is not root, truncate/ftruncate and
//! their errors, statfs/fstatfs. One line per check, exit status = number of
//! failed checks.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::*;

userspace::entry!(main);

/// The working directory (made at start, removed at the end).
const DIR: &CStr = c".";
const F: &CStr = c"f";
const NONE: u32 = u32::MAX;
/// An address no program has mapped.
const BAD: usize = 0x10;

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = umask(0o022);
    // The guest has no /dev/shm of its own: make it as Linux has it.
    let _ = mkdirat(AT_FDCWD, c"/dev/shm", 0o1777);
    // Per process, so that runs on the host at the same time keep apart.
    let mut name = [0u8; 48];
    let dir = dir_name(&mut name, getpid().unwrap_or(0));
    remove_tree(AT_FDCWD, dir);
    if !c.ok_eq("mkdir /dev/shm/fsattr-PID", mkdirat(AT_FDCWD, dir, 0o755), 0) {
        return c.status();
    }
    if !c.ok_eq("chdir into it", chdir(dir), 0) {
        return c.status();
    }
    owners(&mut c);
    set_id_bits(&mut c);
    modes(&mut c);
    sizes(&mut c);
    file_system(&mut c);
    unprivileged(&mut c);
    let _ = chdir(c"/");
    remove_tree(AT_FDCWD, dir);
    c.status()
}

/// "/dev/shm/fsattr-PID" in `buf`.
fn dir_name(buf: &mut [u8; 48], pid: usize) -> &CStr {
    let prefix = b"/dev/shm/fsattr-";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 20];
    let (mut n, mut i) = (pid, digits.len());
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let end = prefix.len() + digits.len() - i;
    buf[prefix.len()..end].copy_from_slice(&digits[i..]);
    buf[end] = 0;
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/dev/shm/fsattr")
}

fn stat_of(path: &CStr) -> stat {
    let mut st = stat::default();
    let _ = newfstatat(AT_FDCWD, path, &mut st, 0);
    st
}

fn ids(path: &CStr) -> (u32, u32) {
    let st = stat_of(path);
    (st.st_uid, st.st_gid)
}

fn mode(path: &CStr) -> u32 {
    stat_of(path).st_mode
}

fn create(c: &mut Checker, path: &CStr, mode: u32) -> Option<i32> {
    let fd = c.ok("create a file", openat(AT_FDCWD, path, O_CREAT | O_RDWR | O_TRUNC, mode))?;
    Some(fd as i32)
}

fn raw(nr: usize, a: [usize; 5]) -> Result<usize, Errno> {
    // SAFETY: the calls made through this only read or write through BAD, an
    // unmapped address the kernel must refuse with EFAULT.
    errno::result(unsafe { syscall::syscall5(nr, a[0], a[1], a[2], a[3], a[4]) })
}

fn owners(c: &mut Checker) {
    let Some(fd) = create(c, F, 0o644) else { return };
    c.check("a new file is root's", ids(F) == (0, 0));
    c.ok_eq("chown 1000 2000", chown(F, 1000, 2000), 0);
    c.check("stat shows 1000 2000", ids(F) == (1000, 2000));
    c.ok_eq("chown -1 3000", chown(F, NONE, 3000), 0);
    c.check("uid unchanged by -1", ids(F) == (1000, 3000));
    c.ok_eq("chown 4000 -1", chown(F, 4000, NONE), 0);
    c.check("gid unchanged by -1", ids(F) == (4000, 3000));
    c.ok_eq("chown -1 -1", chown(F, NONE, NONE), 0);
    c.check("both unchanged by -1 -1", ids(F) == (4000, 3000));
    c.ok_eq("fchown 0 0", fchown(fd, 0, 0), 0);
    c.check("fchown seen by stat", ids(F) == (0, 0));
    c.ok_eq("lchown 5 6", lchown(F, 5, 6), 0);
    c.check("lchown seen by stat", ids(F) == (5, 6));
    c.ok_eq("fchownat AT_FDCWD 7 8", fchownat(AT_FDCWD, F, 7, 8, 0), 0);
    c.check("fchownat seen by stat", ids(F) == (7, 8));
    if let Some(dirfd) =
        c.ok("open the directory", openat(AT_FDCWD, DIR, O_RDONLY | O_DIRECTORY, 0))
    {
        let dirfd = dirfd as i32;
        let r = fchownat(dirfd, c"f", 9, 10, AT_SYMLINK_NOFOLLOW);
        c.ok_eq("fchownat relative AT_SYMLINK_NOFOLLOW 9 10", r, 0);
        c.check("fchownat relative seen by stat", ids(F) == (9, 10));
        c.ok_eq(
            "fchownat AT_EMPTY_PATH on the directory",
            fchownat(dirfd, c"", 1, 2, AT_EMPTY_PATH),
            0,
        );
        c.check("the directory changed", ids(DIR) == (1, 2));
        let _ = fchownat(dirfd, c"", 0, 0, AT_EMPTY_PATH);
        let _ = close(dirfd);
    }
    c.ok_eq("fchownat AT_EMPTY_PATH on a file", fchownat(fd, c"", 11, 12, AT_EMPTY_PATH), 0);
    c.check("fchownat AT_EMPTY_PATH seen by stat", ids(F) == (11, 12));
    c.err("fchownat empty path without AT_EMPTY_PATH ENOENT", fchownat(fd, c"", 0, 0, 0), ENOENT);
    c.err("fchownat unknown flag EINVAL", fchownat(AT_FDCWD, F, 0, 0, 0x1), EINVAL);
    c.err(
        "fchownat on a file descriptor as directory ENOTDIR",
        fchownat(fd, c"x", 0, 0, 0),
        ENOTDIR,
    );
    c.check("failed calls changed nothing", ids(F) == (11, 12));
    c.err("chown missing ENOENT", chown(c"missing", 0, 0), ENOENT);
    c.err("chown through a file ENOTDIR", chown(c"f/x", 0, 0), ENOTDIR);
    c.err("fchown bad descriptor EBADF", fchown(999, 0, 0), EBADF);
    c.err("chown bad path pointer EFAULT", raw(nr::__NR_chown, [BAD, 0, 0, 0, 0]), EFAULT);
    let r = raw(nr::__NR_fchownat, [AT_FDCWD as usize, BAD, 0, 0, 0]);
    c.err("fchownat bad path pointer EFAULT", r, EFAULT);
    c.check("EFAULT changed nothing", ids(F) == (11, 12));
    let _ = close(fd);
}

fn set_id_bits(c: &mut Checker) {
    // Root's chown clears set-user-ID always, set-group-ID when group-executable.
    let _ = chmod(F, 0o6755);
    c.ok_eq("chown -1 -1 of a 6755 file", chown(F, NONE, NONE), 0);
    c.ok_eq("both set-ID bits cleared", Ok(mode(F)), S_IFREG | 0o755);
    let _ = chmod(F, 0o6745);
    c.ok_eq("chown 0 0 of a 6745 file", chown(F, 0, 0), 0);
    c.ok_eq("set-group-ID kept without group execute", Ok(mode(F)), S_IFREG | 0o2745);
    let _ = chmod(F, 0o6755);
    c.ok_eq("fchownat of a 6755 file", fchownat(AT_FDCWD, F, 3, NONE, 0), 0);
    c.ok_eq("fchownat cleared them too", Ok(mode(F)), S_IFREG | 0o755);
    let _ = chown(F, 0, 0);
    let d = c"d";
    if c.ok_eq("mkdir d", mkdirat(AT_FDCWD, d, 0o755), 0) {
        let _ = chmod(d, 0o6755);
        c.ok_eq("chown of a 6755 directory", chown(d, 1, 1), 0);
        c.ok_eq("a directory keeps its set-ID bits", Ok(mode(d)), S_IFDIR | 0o6755);
        let _ = unlinkat(AT_FDCWD, d, AT_REMOVEDIR);
    }
    // Root's truncate keeps them.
    let _ = chmod(F, 0o6755);
    c.ok_eq("root truncates a 6755 file", truncate(F, 1), 0);
    c.ok_eq("root's truncate keeps the set-ID bits", Ok(mode(F)), S_IFREG | 0o6755);
    let _ = truncate(F, 0);
    // A new file keeps the set-ID bits it was created with.
    let g = c"g";
    if let Ok(fd) = openat(AT_FDCWD, g, O_CREAT | O_WRONLY, 0o6755) {
        c.ok_eq("a file created 6755 keeps it", Ok(mode(g)), S_IFREG | 0o6755);
        let _ = close(fd as i32);
    }
    let _ = unlinkat(AT_FDCWD, g, 0);
}

fn modes(c: &mut Checker) {
    c.ok_eq("chmod 640", chmod(F, 0o640), 0);
    c.ok_eq("stat shows 640", Ok(mode(F)), S_IFREG | 0o640);
    c.ok_eq("chmod keeps the type and takes 07777", chmod(F, S_IFDIR | 0o7777), 0);
    c.ok_eq("stat shows 7777", Ok(mode(F)), S_IFREG | 0o7777);
    if let Ok(fd) = openat(AT_FDCWD, F, O_RDONLY, 0) {
        c.ok_eq("fchmod on a read-only descriptor", fchmod(fd as i32, 0o600), 0);
        c.ok_eq("fchmod seen by stat", Ok(mode(F)), S_IFREG | 0o600);
        let _ = close(fd as i32);
    }
    if let Ok(dirfd) = openat(AT_FDCWD, DIR, O_RDONLY | O_DIRECTORY, 0) {
        c.ok_eq("fchmodat relative", fchmodat(dirfd as i32, c"f", 0o604), 0);
        c.ok_eq("fchmodat seen by stat", Ok(mode(F)), S_IFREG | 0o604);
        let _ = close(dirfd as i32);
    }
    c.err("chmod missing ENOENT", chmod(c"missing", 0o600), ENOENT);
    c.err("fchmod bad descriptor EBADF", fchmod(999, 0o600), EBADF);
    c.err("chmod bad path pointer EFAULT", raw(nr::__NR_chmod, [BAD, 0o600, 0, 0, 0]), EFAULT);
    c.ok_eq("failed calls changed nothing", Ok(mode(F)), S_IFREG | 0o604);
    let _ = chmod(F, 0o644);
}

fn sizes(c: &mut Checker) {
    let Some(fd) = create(c, F, 0o644) else { return };
    let _ = write(fd, b"0123456789");
    c.ok_eq("ftruncate grows to 10000", ftruncate(fd, 10000), 0);
    let mut st = stat::default();
    let _ = fstat(fd, &mut st);
    c.ok_eq("fstat size 10000", Ok(st.st_size), 10000);
    let mut buf = [0xffu8; 64];
    let r = pread64(fd, &mut buf, 9990);
    c.check("the new bytes read as zeros", r == Ok(10) && buf[..10].iter().all(|&b| b == 0));
    c.ok_eq("the position did not move", lseek(fd, 0, SEEK_CUR), 10);
    c.ok_eq("ftruncate shrinks to 4", ftruncate(fd, 4), 0);
    let r = pread64(fd, &mut buf, 0);
    c.check("read gives the 4 bytes left", r == Ok(4) && &buf[..4] == b"0123");
    c.ok_eq("truncate by path to 7", truncate(F, 7), 0);
    c.ok_eq("stat size 7", Ok(stat_of(F).st_size), 7);
    let r = pread64(fd, &mut buf, 0);
    c.check("the regrown bytes are zeros", r == Ok(7) && &buf[..7] == b"0123\0\0\0");
    c.ok_eq("truncate to the same size", truncate(F, 7), 0);
    c.err("truncate negative EINVAL", truncate(F, -1), EINVAL);
    c.err("ftruncate negative EINVAL", ftruncate(fd, -1), EINVAL);
    c.err("truncate a directory EISDIR", truncate(DIR, 0), EISDIR);
    c.err("truncate a character device EINVAL", truncate(c"/dev/null", 0), EINVAL);
    c.err("truncate missing ENOENT", truncate(c"missing", 0), ENOENT);
    c.err("truncate bad path pointer EFAULT", raw(nr::__NR_truncate, [BAD, 0, 0, 0, 0]), EFAULT);
    c.err("ftruncate bad descriptor EBADF", ftruncate(999, 0), EBADF);
    if let Ok(ro) = openat(AT_FDCWD, F, O_RDONLY, 0) {
        c.err("ftruncate a read-only descriptor EINVAL", ftruncate(ro as i32, 0), EINVAL);
        let _ = close(ro as i32);
    }
    if let Ok(dirfd) = openat(AT_FDCWD, DIR, O_RDONLY | O_DIRECTORY, 0) {
        c.err("ftruncate a directory EINVAL", ftruncate(dirfd as i32, 0), EINVAL);
        let _ = close(dirfd as i32);
    }
    if let Ok([r, w]) = pipe2(0) {
        c.err("ftruncate a pipe EINVAL", ftruncate(w, 0), EINVAL);
        let _ = close(r);
        let _ = close(w);
    }
    if let Ok(ap) = openat(AT_FDCWD, F, O_WRONLY | O_APPEND, 0) {
        c.ok_eq("ftruncate an O_APPEND descriptor", ftruncate(ap as i32, 2), 0);
        let _ = close(ap as i32);
    }
    c.ok_eq("failed calls changed nothing", Ok(stat_of(F).st_size), 2);
    let _ = close(fd);
}

fn file_system(c: &mut Checker) {
    let mut s = statfs::default();
    if c.ok_eq("statfs", statfs(DIR, &mut s), 0) {
        c.ok_eq("f_type TMPFS_MAGIC", Ok(s.f_type as u64), TMPFS_MAGIC);
        c.ok_eq("f_bsize 4096", Ok(s.f_bsize), 4096);
        c.ok_eq("f_frsize 4096", Ok(s.f_frsize), 4096);
        c.ok_eq("f_namelen 255", Ok(s.f_namelen), 255);
        c.check(
            "f_flags ST_VALID, not ST_RDONLY",
            s.f_flags as u64 & (ST_VALID | ST_RDONLY) == ST_VALID,
        );
        c.check(
            "blocks: 0 < free <= total",
            s.f_blocks > 0 && s.f_bfree > 0 && s.f_bfree <= s.f_blocks,
        );
        c.check("available = free (tmpfs keeps none back)", s.f_bavail == s.f_bfree);
        c.check(
            "inodes: 0 < free <= total",
            s.f_files > 0 && s.f_ffree > 0 && s.f_ffree <= s.f_files,
        );
    }
    let Some(fd) = create(c, F, 0o644) else { return };
    let mut f = statfs::default();
    if c.ok_eq("fstatfs", fstatfs(fd, &mut f), 0) {
        c.check(
            "fstatfs: the same file system",
            (f.f_type, f.f_bsize, f.f_blocks, f.f_fsid, f.f_namelen)
                == (s.f_type, s.f_bsize, s.f_blocks, s.f_fsid, s.f_namelen),
        );
    }
    // A 1 MiB file takes 256 blocks.
    let chunk = [7u8; 4096];
    let mut before = statfs::default();
    let _ = fstatfs(fd, &mut before);
    for _ in 0..256 {
        let _ = write(fd, &chunk);
    }
    let mut after = statfs::default();
    let _ = fstatfs(fd, &mut after);
    c.check("a 1 MiB file takes at least 256 free blocks", before.f_bfree >= after.f_bfree + 256);
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, F, 0);
    c.err("statfs missing ENOENT", statfs(c"missing", &mut s), ENOENT);
    c.err("fstatfs bad descriptor EBADF", fstatfs(999, &mut s), EBADF);
    let r = raw(nr::__NR_statfs, [DIR.as_ptr() as usize, BAD, 0, 0, 0]);
    c.err("statfs bad buffer EFAULT", r, EFAULT);
    c.err("statfs bad path pointer EFAULT", raw(nr::__NR_statfs, [BAD, BAD, 0, 0, 0]), EFAULT);
    c.err("fstatfs bad buffer EFAULT", raw(nr::__NR_fstatfs, [1, BAD, 0, 0, 0]), EFAULT);
}

/// Files the unprivileged child works on, owned and moded by root first.
const MINE: &CStr = c"mine";
const ROOTS: &CStr = c"roots";
const OTHER_GROUP: &CStr = c"othergroup";
const SETID: &CStr = c"setid";
const SGID_NOX: &CStr = c"sgidnox";
const SHARED: &CStr = c"shared";

fn unprivileged(c: &mut Checker) {
    for (path, uid, gid, m) in [
        (MINE, 1000, 1000, 0o644),
        (ROOTS, 0, 0, 0o644),
        (OTHER_GROUP, 1000, 3000, 0o644),
        (SETID, 1000, 1000, 0o6755),
        (SGID_NOX, 1000, 3000, 0o2744),
        (SHARED, 0, 0, 0o666),
    ] {
        if let Some(fd) = create(c, path, 0o600) {
            let _ = write(fd, b"data");
            let _ = close(fd);
        }
        let _ = chown(path, uid, gid);
        let _ = chmod(path, m);
    }
    let _ = chmod(DIR, 0o777);
    let child = fork_with(|| {
        let mut c = Checker::new();
        // No supplementary groups (the guest has none), then user 1000.
        // SAFETY: a NULL list with size 0 is read by nobody.
        let _ = unsafe { syscall::syscall2(nr::__NR_setgroups, 0, 0) };
        let ok = setgid(1000).is_ok() && setuid(1000).is_ok();
        if !c.check("user 1000 group 1000", ok) {
            return c.status();
        }
        c.ok_eq("owner: chown to itself", chown(MINE, 1000, NONE), 0);
        c.err("owner: chown to another user EPERM", chown(MINE, 0, NONE), EPERM);
        c.ok_eq("owner: chgrp to its group", chown(MINE, NONE, 1000), 0);
        c.err("owner: chgrp to a group it is not in EPERM", chown(MINE, NONE, 2000), EPERM);
        c.ok_eq("owner: chgrp from another group to its own", chown(OTHER_GROUP, NONE, 1000), 0);
        c.check("seen by stat", ids(OTHER_GROUP) == (1000, 1000));
        c.err("not the owner: chown EPERM", chown(ROOTS, 1000, NONE), EPERM);
        c.err("not the owner: chgrp EPERM", chown(ROOTS, NONE, 1000), EPERM);
        c.err("not the owner: fchownat EPERM", fchownat(AT_FDCWD, ROOTS, 1000, 1000, 0), EPERM);
        c.ok_eq("not the owner: chown -1 -1 checks nothing", chown(ROOTS, NONE, NONE), 0);
        c.check("still root's", ids(ROOTS) == (0, 0));
        c.ok_eq("owner: chown -1 -1 of a 6755 file", chown(SETID, NONE, NONE), 0);
        c.ok_eq("both set-ID bits cleared", Ok(mode(SETID)), S_IFREG | 0o755);
        c.ok_eq(
            "owner outside the group: chown -1 -1 of a 2744 file",
            chown(SGID_NOX, NONE, NONE),
            0,
        );
        c.ok_eq("set-group-ID cleared", Ok(mode(SGID_NOX)), S_IFREG | 0o744);
        c.ok_eq("owner: chmod", chmod(MINE, 0o600), 0);
        c.err("not the owner: chmod EPERM", chmod(ROOTS, 0o600), EPERM);
        c.ok_eq("owner in the group: chmod 2755", chmod(MINE, 0o2755), 0);
        c.ok_eq("set-group-ID set", Ok(mode(MINE)), S_IFREG | 0o2755);
        let _ = chown(SGID_NOX, NONE, NONE);
        let _ = chmod(SGID_NOX, 0o644);
        c.ok_eq("owner outside the group: chmod 2755", chmod(SGID_NOX, 0o2755), 0);
        c.ok_eq("set-group-ID dropped", Ok(mode(SGID_NOX)), S_IFREG | 0o755);
        if let Ok(fd) = openat(AT_FDCWD, ROOTS, O_RDONLY, 0) {
            c.err("not the owner: fchmod EPERM", fchmod(fd as i32, 0o600), EPERM);
            c.err("not the owner: fchown EPERM", fchown(fd as i32, 1000, NONE), EPERM);
            let _ = close(fd as i32);
        }
        c.err("truncate without write permission EACCES", truncate(ROOTS, 0), EACCES);
        c.ok_eq("truncate with others' write permission", truncate(SHARED, 1), 0);
        let _ = chmod(SETID, 0o6755);
        c.ok_eq("owner truncates a 6755 file", truncate(SETID, 1), 0);
        c.ok_eq("set-ID bits cleared by truncate", Ok(mode(SETID)), S_IFREG | 0o755);
        c.ok_eq("size 1", Ok(stat_of(SETID).st_size), 1);
        c.status()
    });
    // Nothing printed between the fork and the reaping: the child's lines come
    // in between, in any order with the parent's.
    match child {
        Ok(pid) => {
            c.reaped("the unprivileged child's checks pass", pid, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("fork the unprivileged child", e),
    }
}
