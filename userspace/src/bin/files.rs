//! File, directory, pipe and file-descriptor system calls, in /tmp/files-rs
//! (removed at start and at the end): one line per check, exit status = number
//! of failed checks. `files_c` (userspace/c/files_c.c) makes the same checks in
//! /tmp/files-c and prints the same lines.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::*;

userspace::entry!(main);

const DIR: &CStr = c"/tmp/files-rs";
const FILE_A: &CStr = c"/tmp/files-rs/a";

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    remove_tree(AT_FDCWD, DIR);
    if c.ok_eq("mkdirat", mkdirat(AT_FDCWD, DIR, 0o755), 0) {
        c.err("mkdirat existing EEXIST", mkdirat(AT_FDCWD, DIR, 0o755), EEXIST);
        let dirfd = c.ok("open directory", openat(AT_FDCWD, DIR, O_RDONLY | O_DIRECTORY, 0));
        if let Some(dirfd) = dirfd {
            let dirfd = dirfd as i32;
            file_io(&mut c, dirfd);
            listing(&mut c, dirfd);
            removal(&mut c, dirfd);
            c.ok_eq("close directory", close(dirfd), 0);
        }
        c.ok_eq("unlinkat top directory", unlinkat(AT_FDCWD, DIR, AT_REMOVEDIR), 0);
    }
    pipes(&mut c);
    std_fds(&mut c);
    remove_tree(AT_FDCWD, DIR);
    c.status()
}

fn file_io(c: &mut Checker, dirfd: i32) {
    let excl = O_CREAT | O_EXCL | O_RDWR;
    let Some(fd) = c.ok("openat create exclusive", openat(AT_FDCWD, FILE_A, excl, 0o644)) else {
        return;
    };
    let fd = fd as i32;
    let r = openat(AT_FDCWD, FILE_A, excl, 0o644);
    c.err("openat create exclusive again EEXIST", r, EEXIST);
    let r = openat(AT_FDCWD, c"/tmp/files-rs/missing", O_RDONLY, 0);
    c.err("openat missing ENOENT", r, ENOENT);
    let r = openat(AT_FDCWD, FILE_A, O_RDONLY | O_DIRECTORY, 0);
    c.err("openat O_DIRECTORY on a file ENOTDIR", r, ENOTDIR);

    // write, read, readv, writev
    c.ok_eq("write 12 bytes", write(fd, b"hello world\n"), 12);
    c.ok_eq("lseek cur after write", lseek(fd, 0, SEEK_CUR), 12);
    c.ok_eq("lseek set 0", lseek(fd, 0, SEEK_SET), 0);
    let mut buf = [0u8; 64];
    let r = read(fd, &mut buf[..5]);
    c.check("read 5 bytes", r == Ok(5) && &buf[..5] == b"hello");
    let (mut x, mut y) = ([0u8; 3], [0u8; 8]);
    let r = readv(fd, &mut [IoVecMut::new(&mut x), IoVecMut::new(&mut y)]);
    c.ok_eq("readv 2 buffers", r, 7);
    c.check("readv contents", &x == b" wo" && &y[..4] == b"rld\n");
    c.ok_eq("read at end returns 0", read(fd, &mut buf), 0);
    let r = writev(fd, &[IoVec::new(b"abc"), IoVec::new(b""), IoVec::new(b"defg")]);
    c.ok_eq("writev 3 buffers", r, 7);
    c.ok_eq("lseek end", lseek(fd, 0, SEEK_END), 19);

    // pread64, pwrite64 at offsets, without moving the file position
    let r = pread64(fd, &mut buf[..5], 6);
    c.check("pread64 at offset 6", r == Ok(5) && &buf[..5] == b"world");
    c.ok_eq("pread64 keeps position", lseek(fd, 0, SEEK_CUR), 19);
    c.ok_eq("pwrite64 at offset 6", pwrite64(fd, b"WORLD", 6), 5);
    c.ok_eq("pwrite64 keeps position", lseek(fd, 0, SEEK_CUR), 19);
    let r = pread64(fd, &mut buf, 0);
    c.check("pread64 sees pwrite64", r == Ok(19) && &buf[..19] == b"hello WORLD\nabcdefg");
    c.ok_eq("pread64 past end returns 0", pread64(fd, &mut buf, 100), 0);
    c.err("pread64 negative offset EINVAL", pread64(fd, &mut buf, -1), EINVAL);

    // lseek
    c.ok_eq("lseek cur relative", lseek(fd, -4, SEEK_CUR), 15);
    c.err("lseek negative result EINVAL", lseek(fd, -100, SEEK_SET), EINVAL);
    c.err("lseek cur before start EINVAL", lseek(fd, -1000, SEEK_CUR), EINVAL);
    c.err("lseek end before start EINVAL", lseek(fd, -20, SEEK_END), EINVAL);
    c.err("lseek bad whence EINVAL", lseek(fd, 0, 7), EINVAL);
    c.ok_eq("lseek position unchanged by errors", lseek(fd, 0, SEEK_CUR), 15);
    c.ok_eq("lseek beyond end", lseek(fd, 100, SEEK_SET), 100);
    c.ok_eq("read beyond end returns 0", read(fd, &mut buf), 0);

    // fstat, newfstatat
    let mut st = stat::default();
    c.ok_eq("fstat", fstat(fd, &mut st), 0);
    c.check("fstat size 19", st.st_size == 19);
    c.check("fstat regular file", st.is_reg());
    c.ok_eq("newfstatat /tmp", newfstatat(AT_FDCWD, c"/tmp", &mut st, 0), 0);
    c.check("newfstatat /tmp is a directory", st.is_dir());
    let r = newfstatat(dirfd, c"a", &mut st, 0);
    c.check("newfstatat relative to dirfd", r == Ok(0) && st.is_reg() && st.st_size == 19);
    let r = newfstatat(AT_FDCWD, c"/tmp/files-rs/missing", &mut st, 0);
    c.err("newfstatat missing ENOENT", r, ENOENT);
    let r = newfstatat(AT_FDCWD, c"/tmp/files-rs/a/x", &mut st, 0);
    c.err("newfstatat through a file ENOTDIR", r, ENOTDIR);

    dups(c, fd);

    // close
    c.ok_eq("close", close(fd), 0);
    c.err("close again EBADF", close(fd), EBADF);
    c.err("fstat closed fd EBADF", fstat(fd, &mut st), EBADF);
    c.err("read closed fd EBADF", read(fd, &mut buf), EBADF);

    let r = openat(AT_FDCWD, FILE_A, O_RDONLY, 0);
    if let Some(ro) = c.ok("openat read-only", r) {
        let ro = ro as i32;
        c.err("write to read-only fd EBADF", write(ro, b"x"), EBADF);
        let r = read(ro, &mut buf[..5]);
        c.check("read read-only fd", r == Ok(5) && &buf[..5] == b"hello");
        let _ = close(ro);
    }
}

/// The lowest fd that is not open (probed with F_GETFD).
fn lowest_free_fd() -> i32 {
    (0..).find(|&fd| fcntl(fd, F_GETFD, 0) == Err(EBADF)).unwrap_or(-1)
}

fn dups(c: &mut Checker, fd: i32) {
    // fcntl flags: the file was opened without O_CLOEXEC
    c.ok_eq("fcntl F_GETFD", fcntl(fd, F_GETFD, 0), 0);
    c.ok_eq("fcntl F_SETFD FD_CLOEXEC", fcntl(fd, F_SETFD, FD_CLOEXEC as usize), 0);
    c.ok_eq("fcntl F_GETFD after F_SETFD", fcntl(fd, F_GETFD, 0), FD_CLOEXEC as usize);
    let r = fcntl(fd, F_GETFL, 0).map(|f| f as u32 & O_ACCMODE);
    c.ok_eq("fcntl F_GETFL O_RDWR", r, O_RDWR);
    c.err("fcntl bad fd EBADF", fcntl(999, F_GETFD, 0), EBADF);
    c.err("fcntl bad command EINVAL", fcntl(fd, 9999, 0), EINVAL);

    let low = lowest_free_fd() as usize;
    let Some(d) = c.ok("dup", dup(fd)) else {
        return;
    };
    let d = d as i32;
    c.check("dup returns the lowest free fd", d as usize == low);
    c.ok_eq("dup clears FD_CLOEXEC", fcntl(d, F_GETFD, 0), 0);
    let _ = lseek(fd, 3, SEEK_SET);
    c.ok_eq("dup shares the file offset", lseek(d, 0, SEEK_CUR), 3);
    c.err("dup bad fd EBADF", dup(999), EBADF);

    c.ok_eq("dup2 same fd returns it", dup2(fd, fd), fd as usize);
    c.ok_eq("dup2 to a high fd", dup2(fd, 100), 100);
    c.ok_eq("dup2 clears FD_CLOEXEC", fcntl(100, F_GETFD, 0), 0);
    c.ok_eq("dup2 onto an open fd", dup2(fd, d), d as usize);
    c.err("dup2 bad fd EBADF", dup2(999, 101), EBADF);

    c.err("dup3 same fd EINVAL", dup3(fd, fd, 0), EINVAL);
    c.ok_eq("dup3 O_CLOEXEC", dup3(fd, 101, O_CLOEXEC), 101);
    c.ok_eq("dup3 O_CLOEXEC sets FD_CLOEXEC", fcntl(101, F_GETFD, 0), FD_CLOEXEC as usize);
    c.err("dup3 bad flags EINVAL", dup3(fd, 102, O_APPEND), EINVAL);

    let r = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    c.check("fcntl F_DUPFD_CLOEXEC at least 50", matches!(r, Ok(n) if n >= 50));
    if let Ok(n) = r {
        c.ok_eq(
            "fcntl F_DUPFD_CLOEXEC sets FD_CLOEXEC",
            fcntl(n as i32, F_GETFD, 0),
            FD_CLOEXEC as usize,
        );
        let _ = close(n as i32);
    }
    let r = fcntl(fd, F_DUPFD, 60);
    c.check("fcntl F_DUPFD at least 60", matches!(r, Ok(n) if n >= 60));
    if let Ok(n) = r {
        c.ok_eq("fcntl F_DUPFD clears FD_CLOEXEC", fcntl(n as i32, F_GETFD, 0), 0);
        let _ = close(n as i32);
    }
    let _ = close(d);
    let _ = close(100);
    let _ = close(101);
    let _ = fcntl(fd, F_SETFD, 0);
}

fn create(dirfd: i32, name: &CStr) -> bool {
    match openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644) {
        Ok(fd) => close(fd as i32).is_ok(),
        Err(_) => false,
    }
}

const LISTED_NAME_MAX: usize = 32;

/// The names (and types) in a directory, sorted.
struct Listing {
    names: [[u8; LISTED_NAME_MAX]; 16],
    lens: [usize; 16],
    types: [u8; 16],
    n: usize,
    overflow: bool,
}

/// Displays the sorted names, each after a space.
impl core::fmt::Display for Listing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for i in 0..self.n {
            write!(f, " {}", Bytes(self.name(i)))?;
        }
        Ok(())
    }
}

impl Listing {
    fn name(&self, i: usize) -> &[u8] {
        &self.names[i][..self.lens[i]]
    }

    fn type_of(&self, name: &[u8]) -> Option<u8> {
        (0..self.n).find(|&i| self.name(i) == name).map(|i| self.types[i])
    }

    fn is(&self, want: &[&[u8]]) -> bool {
        !self.overflow && self.n == want.len() && (0..self.n).all(|i| self.name(i) == want[i])
    }
}

/// Reads the whole directory from offset 0 with a small buffer (several
/// getdents64 calls), sorted by name.
fn list(dirfd: i32) -> Result<Listing, Errno> {
    let mut l = Listing {
        names: [[0; LISTED_NAME_MAX]; 16],
        lens: [0; 16],
        types: [0; 16],
        n: 0,
        overflow: false,
    };
    lseek(dirfd, 0, SEEK_SET)?;
    let mut buf = [0u8; 96];
    loop {
        let n = getdents64(dirfd, &mut buf)?;
        if n == 0 {
            break;
        }
        for d in Dirents::new(&buf[..n]) {
            if l.n == l.names.len() || d.name.len() > LISTED_NAME_MAX {
                l.overflow = true;
                continue;
            }
            l.names[l.n][..d.name.len()].copy_from_slice(d.name);
            l.lens[l.n] = d.name.len();
            l.types[l.n] = d.d_type;
            l.n += 1;
        }
    }
    // insertion sort by name
    for i in 1..l.n {
        let mut j = i;
        while j > 0 && l.name(j - 1) > l.name(j) {
            l.names.swap(j - 1, j);
            l.lens.swap(j - 1, j);
            l.types.swap(j - 1, j);
            j -= 1;
        }
    }
    Ok(l)
}

fn listing(c: &mut Checker, dirfd: i32) {
    let made = create(dirfd, c"b")
        && create(dirfd, c"c")
        && mkdirat(dirfd, c"sub", 0o755).is_ok()
        && create(dirfd, c"sub/inner");
    c.check("create directory entries", made);
    match list(dirfd) {
        Ok(l) => {
            let want: [&[u8]; 6] = [b".", b"..", b"a", b"b", b"c", b"sub"];
            c.check(format_args!("getdents64 names{}", l), l.is(&want));
            let types = l.type_of(b".") == Some(DT_DIR)
                && l.type_of(b"..") == Some(DT_DIR)
                && l.type_of(b"a") == Some(DT_REG)
                && l.type_of(b"sub") == Some(DT_DIR);
            c.check("getdents64 types", types);
        }
        Err(e) => c.fail("getdents64", e),
    }
    let mut buf = [0u8; 256];
    c.ok_eq("getdents64 at end returns 0", getdents64(dirfd, &mut buf), 0);
    let _ = lseek(dirfd, 0, SEEK_SET);
    c.err("getdents64 buffer too small EINVAL", getdents64(dirfd, &mut buf[..8]), EINVAL);
    let r = openat(dirfd, c"a", O_RDONLY | O_CLOEXEC, 0);
    if let Some(fd) = c.ok("openat relative to dirfd", r) {
        let r = getdents64(fd as i32, &mut buf);
        c.err("getdents64 on a file ENOTDIR", r, ENOTDIR);
        let _ = close(fd as i32);
    }
}

fn removal(c: &mut Checker, dirfd: i32) {
    let r = unlinkat(AT_FDCWD, c"/tmp/files-rs/sub", AT_REMOVEDIR);
    c.err("unlinkat non-empty directory ENOTEMPTY", r, ENOTEMPTY);
    let r = unlinkat(AT_FDCWD, c"/tmp/files-rs/b", AT_REMOVEDIR);
    c.err("unlinkat file with AT_REMOVEDIR ENOTDIR", r, ENOTDIR);
    let r = unlinkat(AT_FDCWD, c"/tmp/files-rs/sub", 0);
    c.err("unlinkat directory without AT_REMOVEDIR EISDIR", r, EISDIR);
    let r = unlinkat(dirfd, c"missing", 0);
    c.err("unlinkat missing ENOENT", r, ENOENT);
    c.ok_eq("unlinkat file", unlinkat(dirfd, c"sub/inner", 0), 0);
    c.ok_eq("unlinkat empty directory", unlinkat(dirfd, c"sub", AT_REMOVEDIR), 0);
    let all = [c"a", c"b", c"c"].iter().all(|n| unlinkat(dirfd, n, 0) == Ok(0));
    c.check("unlinkat remaining files", all);
    let mut st = stat::default();
    let r = newfstatat(AT_FDCWD, FILE_A, &mut st, 0);
    c.err("newfstatat removed file ENOENT", r, ENOENT);
    let empty = matches!(list(dirfd), Ok(l) if l.is(&[b".", b".."]));
    c.check("directory empty", empty);
}

fn pipes(c: &mut Checker) {
    let Some([r, w]) = c.ok("pipe2 O_CLOEXEC", pipe2(O_CLOEXEC)) else {
        return;
    };
    c.ok_eq("pipe write", write(w, b"ping"), 4);
    let mut buf = [0u8; 16];
    let n = read(r, &mut buf);
    c.check("pipe read", n == Ok(4) && &buf[..4] == b"ping");
    c.ok_eq("pipe2 O_CLOEXEC read end", fcntl(r, F_GETFD, 0), FD_CLOEXEC as usize);
    c.ok_eq("pipe2 O_CLOEXEC write end", fcntl(w, F_GETFD, 0), FD_CLOEXEC as usize);
    let acc = |fd| fcntl(fd, F_GETFL, 0).map(|f| f as u32 & O_ACCMODE);
    c.ok_eq("pipe read end O_RDONLY", acc(r), O_RDONLY);
    c.ok_eq("pipe write end O_WRONLY", acc(w), O_WRONLY);
    let mut st = stat::default();
    c.check("fstat pipe is a fifo", fstat(r, &mut st) == Ok(0) && st.is_fifo());
    c.err("lseek pipe ESPIPE", lseek(r, 0, SEEK_CUR), ESPIPE);
    c.err("pread64 pipe ESPIPE", pread64(r, &mut buf, 0), ESPIPE);
    c.err("read from write end EBADF", read(w, &mut buf), EBADF);
    c.err("write to read end EBADF", write(r, b"x"), EBADF);
    c.ok_eq("close write end", close(w), 0);
    c.ok_eq("pipe read after writer closed returns 0", read(r, &mut buf), 0);
    c.ok_eq("close read end", close(r), 0);
    c.err("pipe2 bad flags EINVAL", pipe2(O_APPEND), EINVAL);
    let p = pipe2(0);
    c.check("pipe2 without O_CLOEXEC", matches!(p, Ok([r, _]) if fcntl(r, F_GETFD, 0) == Ok(0)));
    if let Ok([r, w]) = p {
        let _ = close(r);
        let _ = close(w);
    }
}

fn std_fds(c: &mut Checker) {
    let mut st = stat::default();
    for fd in 0..3 {
        c.ok_eq(format_args!("fstat fd {}", fd), fstat(fd, &mut st), 0);
    }
    c.ok_eq("write 0 bytes to fd 1", write(1, b""), 0);
    c.ok_eq("write 0 bytes to fd 2", write(2, b""), 0);
}
