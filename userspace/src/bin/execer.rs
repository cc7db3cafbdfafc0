//! `execer PATH`: execve's errors, then a successful execve. PATH is a valid
//! static program, `execed` (userspace/src/bin/execed.rs): the copies made here
//! are made from it (the guest has no /proc/self/exe) and the final execve runs
//! it. One line per check, as `files`; the files live in /tmp/execer (removed at
//! start and before the final execve) and are created with mode 0755 through
//! openat's mode (the guest has no chmod).
//!
//! - errors before any loading: a missing file (ENOENT), a directory and a file
//!   without execute permission (EACCES), a bad path, argv, argv[0] or envp
//!   pointer (EFAULT);
//! - files no loader accepts (ENOEXEC): an empty file, text that is neither ELF
//!   nor `#!` (scripts: the `shebang` program), the
//!   program truncated to 100 bytes (its program headers cut off), the program
//!   with e_machine AArch64, and the program with its PT_GNU_STACK header turned
//!   into a PT_INTERP (Linux: an interpreter path shorter than 2 bytes; the
//!   guest: dynamically linked);
//! - the final execve of PATH with argv `[PATH, after-exec, A=<fd>, B=<fd>]` and
//!   environment `[EXECER=1]`, where fd A was opened without O_CLOEXEC and fd B
//!   with it. It does not return: `execed` continues the output and checks that
//!   A is open and B closed. If checks failed before, the environment also holds
//!   `EXECER_FAILED=<n>` so that execed's exit status counts them.
#![no_std]
#![no_main]

use core::ffi::CStr;
use core::fmt::Write;

use userspace::*;

userspace::entry!(main);

const DIR: &CStr = c"/tmp/execer";
/// Larger programs are refused (the copy is read into memory).
const MAX_PROGRAM: usize = 64 << 20;

fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let Some(prog) = args.get(1) else {
        c.fail("usage", "execer PATH-OF-A-STATIC-PROGRAM (execed)");
        return c.status();
    };
    remove_tree(AT_FDCWD, DIR);
    if c.ok_eq("mkdirat /tmp/execer", mkdirat(AT_FDCWD, DIR, 0o755), 0) {
        errors(&mut c, prog);
        match read_file(prog) {
            Ok(image) => not_executable(&mut c, image),
            Err(e) => c.fail("read the program to copy", e),
        }
    }
    remove_tree(AT_FDCWD, DIR);
    final_exec(&mut c, prog)
}

/// execve through the system call itself (the library has no wrapper): returns
/// only when it fails.
fn execve(path: usize, argv: usize, envp: usize) -> Result<usize, Errno> {
    // SAFETY: the kernel only reads through the three addresses and answers
    // EFAULT for bad ones; when the call succeeds the process image is replaced,
    // so nothing of this program runs (or is used) afterwards.
    errno::result(unsafe { syscall::syscall3(nr::__NR_execve, path, argv, envp) })
}

/// A NULL-terminated pointer array holding `s`.
fn array(s: &CStr) -> [usize; 2] {
    [s.as_ptr() as usize, 0]
}

fn errors(c: &mut Checker, prog: &CStr) {
    let argv = array(prog);
    let envp = array(c"EXECER=1");
    let (argv_p, envp_p) = (argv.as_ptr() as usize, envp.as_ptr() as usize);
    let path = |p: &CStr| p.as_ptr() as usize;

    let r = execve(path(c"/tmp/execer/missing"), argv_p, envp_p);
    c.err("execve missing file ENOENT", r, ENOENT);
    c.err("execve directory EACCES", execve(path(c"/tmp"), argv_p, envp_p), EACCES);
    let noexec = c"/tmp/execer/noexec";
    if create(c, noexec, "without execute permission", 0o644, &[b"\x7fELF"]) {
        let r = execve(path(noexec), argv_p, envp_p);
        c.err("execve file without execute permission EACCES", r, EACCES);
    }
    // Bad pointers, each with everything else valid (Linux opens the file
    // before it reads argv and envp).
    c.err("execve path 0x10 EFAULT", execve(0x10, argv_p, envp_p), EFAULT);
    let r = execve(path(prog), 0x10, envp_p);
    c.err("execve argv 0x10 EFAULT", r, EFAULT);
    let bad_arg = [0x10usize, 0];
    let r = execve(path(prog), bad_arg.as_ptr() as usize, envp_p);
    c.err("execve argv[0] 0x10 EFAULT", r, EFAULT);
    let r = execve(path(prog), argv_p, 0x10);
    c.err("execve envp 0x10 EFAULT", r, EFAULT);
}

/// Copies of `image` (and other files) that no loader accepts: ENOEXEC each.
fn not_executable(c: &mut Checker, image: &[u8]) {
    let x86_64_elf = image.len() > 64
        && image.starts_with(b"\x7fELF")
        && image[4] == 2
        && u16_at(image, 18) == Some(62);
    if !c.check("the program to copy is an x86-64 ELF64 file", x86_64_elf) {
        return;
    }
    let machine = EM_AARCH64.to_le_bytes();
    let interp = PT_INTERP.to_le_bytes();
    let cases: [(&CStr, &str, [&[u8]; 3]); 4] = [
        (c"/tmp/execer/empty", "empty file", [b"", b"", b""]),
        (c"/tmp/execer/text", "text file", [b"hello\n", b"", b""]),
        (c"/tmp/execer/truncated", "ELF truncated to 100 bytes", [&image[..100], b"", b""]),
        (c"/tmp/execer/aarch64", "ELF for AArch64", [&image[..18], &machine, &image[20..]]),
    ];
    for (path, what, parts) in cases {
        enoexec(c, path, what, &parts);
    }
    long_strings(c);
    // The PT_GNU_STACK header (no file data) becomes a PT_INTERP; the rest of
    // the file is unchanged.
    match phdr_offset(image, PT_GNU_STACK) {
        Some(off) => {
            let parts = [&image[..off], &interp, &image[off + 4..]];
            enoexec(c, c"/tmp/execer/interp", "ELF with PT_INTERP", &parts);
        }
        None => c.fail("execve ELF with PT_INTERP ENOEXEC", "the program has no PT_GNU_STACK"),
    }
}

/// MAX_ARG_STRLEN (32 pages, the NUL included): an argument of 131,071
/// bytes is read whole (the empty file then fails with ENOEXEC, which comes
/// after the strings are copied), one of 131,072 is E2BIG; so is an
/// environment string. The string ends 4 KiB into the page after a run of
/// whole pages, and starts 1 byte before a page's end.
fn long_strings(c: &mut Checker) {
    const MAX: usize = 32 * 4096;
    let empty = c"/tmp/execer/empty";
    // SAFETY: a new private anonymous mapping, used only here.
    let Ok(buf) = (unsafe {
        mmap(0, MAX + 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    }) else {
        c.fail("mmap for the long strings", "failed");
        return;
    };
    // SAFETY: the mapping just made, MAX + 2 pages long, owned here.
    let mem = unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, MAX + 2 * 4096) };
    let start = 4096 - 1;
    for (len, want) in [(MAX - 1, ENOEXEC), (MAX, E2BIG)] {
        mem[start..start + len].fill(b'a');
        mem[start + len] = 0;
        let s = buf + start;
        let argv = [empty.as_ptr() as usize, s, 0];
        let r = execve(empty.as_ptr() as usize, argv.as_ptr() as usize, 0);
        let what = userspace::text::fmt::<64>(format_args!("execve an argument of {len} bytes"));
        c.err(what.str(), r, want);
        let envp = [s, 0];
        let argv = array(empty);
        let r = execve(empty.as_ptr() as usize, argv.as_ptr() as usize, envp.as_ptr() as usize);
        let what = userspace::text::fmt::<64>(format_args!("execve an env string of {len} bytes"));
        c.err(what.str(), r, want);
    }
    // SAFETY: the mapping made above; nothing refers to it any more.
    let _ = unsafe { munmap(buf, MAX + 2 * 4096) };
}

/// Creates `path` (mode 0755) from `parts` and expects execve to say ENOEXEC.
fn enoexec(c: &mut Checker, path: &CStr, what: &str, parts: &[&[u8]]) {
    if create(c, path, what, 0o755, parts) {
        let argv = array(path);
        let r = execve(path.as_ptr() as usize, argv.as_ptr() as usize, 0);
        c.err(Named("execve ", what, " ENOEXEC"), r, ENOEXEC);
    }
}

/// The file offset of the first program header of type `ty`.
fn phdr_offset(image: &[u8], ty: u32) -> Option<usize> {
    let phoff = usize::try_from(u64_at(image, 32)?).ok()?;
    let (phentsize, phnum) = (u16_at(image, 54)? as usize, u16_at(image, 56)? as usize);
    (0..phnum)
        .map(|i| phoff.checked_add(i.checked_mul(phentsize)?))
        .map_while(|o| o)
        .find(|&o| u32_at(image, o) == Some(ty))
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o.checked_add(4)?)?.try_into().ok()?))
}

fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o.checked_add(8)?)?.try_into().ok()?))
}

/// Creates `path` with `mode` holding the concatenation of `parts`; one check
/// line `create <what>`.
fn create(c: &mut Checker, path: &CStr, what: &str, mode: u32, parts: &[&[u8]]) -> bool {
    let name = Named("create ", what, "");
    let flags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC;
    let fd = match openat(AT_FDCWD, path, flags, mode) {
        Ok(fd) => fd as i32,
        Err(e) => {
            c.fail(name, e);
            return false;
        }
    };
    let written = parts.iter().try_for_each(|p| write_all(fd, p));
    // Closed before any execve: a file open for writing is not executable
    // (ETXTBSY).
    let closed = close(fd);
    match written.and(closed) {
        Ok(_) => c.check(name, true),
        Err(e) => {
            c.fail(name, e);
            false
        }
    }
}

fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match write(fd, buf)? {
            0 => return Err(EIO),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// The whole file at `path`, in a new anonymous mapping that is never unmapped.
fn read_file(path: &CStr) -> Result<&'static [u8], Errno> {
    let fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0)? as i32;
    let result = read_fd(fd);
    let _ = close(fd);
    result
}

fn read_fd(fd: i32) -> Result<&'static [u8], Errno> {
    let mut st = stat::default();
    fstat(fd, &mut st)?;
    let size = usize::try_from(st.st_size).map_err(|_| EINVAL)?;
    if size == 0 || size > MAX_PROGRAM {
        return Err(EFBIG);
    }
    let len = size.next_multiple_of(PAGE_SIZE);
    // SAFETY: a new anonymous mapping aliases nothing.
    let base = unsafe { mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)? };
    // SAFETY: [base, base + len) is a new private read-write mapping, zero
    // filled, that is never unmapped, so a 'static slice of it is valid and
    // nothing else refers to it.
    let buf = unsafe { core::slice::from_raw_parts_mut(base as *mut u8, size) };
    let mut done = 0;
    while done < size {
        match read(fd, &mut buf[done..])? {
            0 => return Err(EIO),
            n => done += n,
        }
    }
    Ok(buf)
}

/// Opens fd A (without O_CLOEXEC) and fd B (with it) and execs `prog`.
/// Returns (the number of failed checks) only if something failed.
fn final_exec(c: &mut Checker, prog: &CStr) -> i32 {
    let a = c.ok("open fd A without O_CLOEXEC", openat(AT_FDCWD, prog, O_RDONLY, 0));
    let b = c.ok("open fd B with O_CLOEXEC", openat(AT_FDCWD, prog, O_RDONLY | O_CLOEXEC, 0));
    let (Some(a), Some(b)) = (a, b) else {
        return c.status();
    };
    c.ok_eq("fd A F_GETFD 0", fcntl(a as i32, F_GETFD, 0), 0);
    c.ok_eq("fd B F_GETFD FD_CLOEXEC", fcntl(b as i32, F_GETFD, 0), FD_CLOEXEC as usize);

    let mut arg_a = Text::new();
    let mut arg_b = Text::new();
    let mut failed = Text::new();
    let _ = write!(arg_a, "A={a}");
    let _ = write!(arg_b, "B={b}");
    let _ = write!(failed, "EXECER_FAILED={}", c.failures());
    let argv = [
        prog.as_ptr() as usize,
        c"after-exec".as_ptr() as usize,
        arg_a.as_ptr(),
        arg_b.as_ptr(),
        0,
    ];
    let mut envp = [c"EXECER=1".as_ptr() as usize, 0, 0];
    if c.failures() != 0 {
        envp[1] = failed.as_ptr();
    }
    let r = execve(prog.as_ptr() as usize, argv.as_ptr() as usize, envp.as_ptr() as usize);
    match r {
        Ok(_) => c.fail("execve PATH", "returned 0"),
        Err(e) => c.fail("execve PATH", e),
    }
    c.status()
}

/// A short NUL-terminated string built with `write!`.
struct Text {
    buf: [u8; 40],
    len: usize,
}

impl Text {
    fn new() -> Self {
        Text { buf: [0; 40], len: 0 }
    }

    /// The address of the C string (the buffer always ends in NUL).
    fn as_ptr(&self) -> usize {
        self.buf.as_ptr() as usize
    }
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end >= self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Displays `prefix what suffix`.
struct Named<'a>(&'a str, &'a str, &'a str);

impl core::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}{}{}", self.0, self.1, self.2)
    }
}
