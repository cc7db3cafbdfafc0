//! `#!` scripts in execve (Linux fs/binfmt_script.c, `exec_binprm`): the
//! interpreter named on the first line runs with argv = its name, the one
//! optional argument (the rest of the line, spaces and tabs around it
//! dropped), the script's path as execve got it, then the script's
//! arguments after argv[0]. The line is read from the first 256 bytes; a
//! name that may have been cut off, or none, is ENOEXEC; five nested
//! scripts run, a sixth is ELOOP; a missing, non-executable or non-program
//! interpreter fails as Linux fails. The interpreter is this program
//! (argv[0], told by SHEBANG_INTERP in its environment): it prints its argv
//! with its own path as SELF and checks it against SHEBANG_WANT, and its
//! name (PR_GET_NAME) against the script's. The scripts
//! live in /tmp/shebang. One line per check, exit status = failed checks.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::*;

userspace::entry!(main);

const DIR: &CStr = c"/tmp/shebang";

/// NUL-terminated strings in one buffer, and a NULL-terminated pointer array
/// to them (argv, envp, paths).
struct Strs {
    buf: [u8; 4096],
    len: usize,
    starts: [usize; 32],
    n: usize,
    ptrs: [usize; 33],
}

impl Strs {
    fn new() -> Strs {
        Strs { buf: [0; 4096], len: 0, starts: [0; 32], n: 0, ptrs: [0; 33] }
    }

    /// Appends to the string being built.
    fn put(&mut self, s: &[u8]) -> &mut Strs {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
        self
    }

    /// Ends the string being built.
    fn end(&mut self) -> &mut Strs {
        self.buf[self.len] = 0;
        self.len += 1;
        self.starts[self.n + 1] = self.len;
        self.n += 1;
        self
    }

    fn push(&mut self, s: &[u8]) -> &mut Strs {
        self.put(s).end()
    }

    fn get(&self, i: usize) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[self.starts[i]..self.starts[i + 1]]).unwrap_or(c"")
    }

    fn array(&mut self) -> usize {
        let base = self.buf.as_ptr() as usize;
        for i in 0..self.n {
            self.ptrs[i] = base + self.starts[i];
        }
        self.ptrs[self.n] = 0;
        self.ptrs.as_ptr() as usize
    }
}

fn main(args: Args, env: Env) -> i32 {
    if env.var(b"SHEBANG_INTERP").is_some() {
        return interpreter(&args, &env);
    }
    let mut c = Checker::new();
    let Some(me) = args.bytes(0) else { return 1 };
    remove_tree(AT_FDCWD, DIR);
    if !c.ok_eq("mkdir /tmp/shebang", mkdirat(AT_FDCWD, DIR, 0o755), 0) {
        return c.status();
    }
    let s = |tail: &[u8]| {
        let mut l = Strs::new();
        l.put(b"#!").put(me).put(tail).end();
        l
    };
    // Scripts that run: (name, first line, argv after the path, argv[0] given).
    run(&mut c, me, b"plain", &s(b"\n"), b"", true, b"SELF|/tmp/shebang/plain|a|b");
    run(&mut c, me, b"arg", &s(b" -x\n"), b"", true, b"SELF|-x|/tmp/shebang/arg|a|b");
    let mut spaced = Strs::new();
    spaced.put(b"#! \t").put(me).put(b"  one  two \t\n").end();
    run(&mut c, me, b"spaces", &spaced, b"", true, b"SELF|one  two|/tmp/shebang/spaces|a|b");
    run(&mut c, me, b"tab", &s(b"\tone\n"), b"", true, b"SELF|one|/tmp/shebang/tab|a|b");
    run(&mut c, me, b"crlf", &s(b" x\r\n"), b"", true, b"SELF|x\r|/tmp/shebang/crlf|a|b");
    run(&mut c, me, b"nonl", &s(b" last"), b"", true, b"SELF|last|/tmp/shebang/nonl|a|b");
    run(&mut c, me, b"nul", &s(b"\0 -x\n"), b"", true, b"SELF|/tmp/shebang/nul|a|b");
    run(&mut c, me, b"relative", &s(b"\n"), b"./", true, b"SELF|./relative|a|b");
    run(&mut c, me, b"noargv", &s(b"\n"), b"", false, b"SELF|/tmp/shebang/noargv");
    let mut long = Strs::new();
    long.put(b"#!").put(me).put(b" ");
    for _ in 0..300 {
        long.put(b"b");
    }
    long.end();
    run(&mut c, me, b"long", &long, b"", true, b"SELF|<arg to byte 255>|/tmp/shebang/long|a|b");
    // Nested: lvlN runs lvl(N-1) with argument LN; lvl1 runs this program.
    let mut want = Strs::new();
    want.put(b"SELF");
    for n in 1..=6u8 {
        let digit = [b'0' + n];
        let mut line = Strs::new();
        if n == 1 {
            line.put(b"#!").put(me);
        } else {
            line.put(b"#!/tmp/shebang/lvl").put(&[b'0' + n - 1]);
        }
        line.put(b" L").put(&digit).put(b"\n").end();
        let mut path = Strs::new();
        path.put(b"/tmp/shebang/lvl").put(&digit).end();
        create(&mut c, path.get(0), 0o755, line.get(0).to_bytes());
        want.put(b"|L").put(&digit).put(b"|/tmp/shebang/lvl").put(&digit);
    }
    // Five levels run: the argv from lvl5 down (the sixth is ELOOP below).
    let mut five = Strs::new();
    let w = want.buf[..want.len].rsplitn(2, |&b| b == b'|').nth(1).unwrap_or(b"");
    let w = w.rsplitn(2, |&b| b == b'|').nth(1).unwrap_or(b"");
    five.put(w).put(b"|a|b").end();
    exec_case(&mut c, me, b"five nested scripts", c"/tmp/shebang/lvl5", b"", true, Ok(five.get(0)));

    // Scripts that fail.
    create(&mut c, c"/tmp/shebang/data", 0o644, b"data\n");
    create(&mut c, c"/tmp/shebang/text", 0o755, b"echo text\n");
    let mut aaa = Strs::new();
    aaa.put(b"#!");
    for _ in 0..300 {
        aaa.put(b"a");
    }
    aaa.end();
    let fails: [(&[u8], &[u8], Errno); 9] = [
        (b"noname", b"#!\n", ENOEXEC),
        (b"bare", b"#!", EACCES),
        (b"blank", b"#!  \t \n", ENOEXEC),
        (b"missing", b"#!/tmp/shebang/nothere\n", ENOENT),
        (b"dir", b"#!/tmp\n", EACCES),
        (b"noxinterp", b"#!/tmp/shebang/data\n", EACCES),
        (b"textinterp", b"#!/tmp/shebang/text\n", ENOEXEC),
        (b"longname", aaa.get(0).to_bytes(), ENOEXEC),
        (b"lvl6", b"", ELOOP),
    ];
    for (name, line, errno) in fails {
        let mut path = Strs::new();
        path.put(b"/tmp/shebang/").put(name).end();
        if !line.is_empty() {
            create(&mut c, path.get(0), 0o755, line);
        }
        exec_case(&mut c, me, name, path.get(0), b"", true, Err(errno));
    }
    let mut noexec = Strs::new();
    noexec.push(b"/tmp/shebang/noexec");
    create(&mut c, noexec.get(0), 0o644, s(b"\n").get(0).to_bytes());
    exec_case(&mut c, me, b"script without x permission", noexec.get(0), b"", true, Err(EACCES));
    remove_tree(AT_FDCWD, DIR);
    c.status()
}

/// Writes `/tmp/shebang/NAME` holding `line`, mode 0755, and execs it.
fn run(c: &mut Checker, me: &[u8], name: &[u8], line: &Strs, dir: &[u8], argv0: bool, want: &[u8]) {
    let mut path = Strs::new();
    path.put(b"/tmp/shebang/").put(name).end();
    create(c, path.get(0), 0o755, &line.buf[..line.len - 1]);
    let mut w = Strs::new();
    w.push(want);
    if dir.is_empty() {
        exec_case(c, me, name, path.get(0), b"", argv0, Ok(w.get(0)));
    } else {
        let mut rel = Strs::new();
        rel.put(dir).put(name).end();
        exec_case(c, me, name, rel.get(0), DIR.to_bytes(), argv0, Ok(w.get(0)));
    }
}

fn create(c: &mut Checker, path: &CStr, mode: u32, data: &[u8]) {
    let fd = openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, mode);
    match fd {
        Ok(fd) => {
            let _ = write(fd as i32, data);
            let _ = close(fd as i32);
            // openat's mode goes through the umask; make it exact.
            let _ = fchmodat(AT_FDCWD, path, mode);
        }
        Err(e) => c.fail(format_args!("create {}", Bytes(path.to_bytes())), e),
    }
}

/// Forks a child that (in `cwd` if given) execs `path` with argv
/// `[name, a, b]` (none if `!argv0`): the interpreter checks its argv against
/// `want`'s Ok; an Err is the errno execve must fail with.
fn exec_case(
    c: &mut Checker,
    me: &[u8],
    name: &[u8],
    path: &CStr,
    cwd: &[u8],
    argv0: bool,
    want: Result<&CStr, Errno>,
) {
    let mut argv = Strs::new();
    if argv0 {
        argv.push(name).push(b"a").push(b"b");
    }
    let mut envp = Strs::new();
    envp.push(b"SHEBANG_INTERP=1");
    envp.put(b"SHEBANG_SELF=").put(me).end();
    envp.put(b"SHEBANG_CASE=").put(name).end();
    envp.put(b"SHEBANG_WANT=").put(want.map_or(b"", |w| w.to_bytes())).end();
    let base = path.to_bytes().rsplit(|&b| b == b'/').next().unwrap_or(b"");
    envp.put(b"SHEBANG_COMM=").put(&base[..base.len().min(15)]).end();
    let mut dir = Strs::new();
    dir.push(cwd);
    let child = fork_with(|| {
        if !cwd.is_empty() && chdir(dir.get(0)).is_err() {
            return 99;
        }
        let (a, e) = (argv.array(), envp.array());
        // SAFETY: path, argv and envp are NUL-terminated strings and
        // NULL-terminated arrays that outlive the call; on success nothing of
        // this image runs afterwards.
        let r = unsafe { syscall::syscall3(nr::__NR_execve, path.as_ptr() as usize, a, e) };
        match errno::result(r) {
            Err(e) => 100 + e.0 as i32,
            Ok(_) => 98,
        }
    });
    let Ok(p) = child else {
        c.fail("fork", "failed");
        return;
    };
    let got = reap(p);
    let name = Bytes(name);
    match want {
        Ok(_) => {
            c.check(
                format_args!("{name}: the interpreter ran and exited 0"),
                got == Some(WaitStatus::Exited(0)),
            );
        }
        Err(e) => {
            let ok = got == Some(WaitStatus::Exited(100 + e.0 as i32));
            if ok {
                c.check(format_args!("{name}: execve fails with {e}"), true);
            } else {
                c.fail(format_args!("{name}: execve fails with {e}"), format_args!("{got:?}"));
            }
        }
    }
}

/// The interpreter: prints its argv, its own path as SELF, a long argument as
/// the byte of the `#!` line where it ended, and checks it.
fn interpreter(args: &Args, env: &Env) -> i32 {
    let me = env.var(b"SHEBANG_SELF").unwrap_or(b"");
    let case = Bytes(env.var(b"SHEBANG_CASE").unwrap_or(b""));
    let want = env.var(b"SHEBANG_WANT").unwrap_or(b"");
    let mut line = Strs::new();
    for (i, a) in args.iter().enumerate() {
        let a = a.to_bytes();
        if i > 0 {
            line.put(b"|");
        }
        if a == me {
            line.put(b"SELF");
        } else if a.len() > 64 {
            // "#!" SELF " " ARG: where the argument stopped.
            let end = 3 + me.len() + a.len();
            let mut digits = [0u8; 3];
            digits[0] = b'0' + (end / 100 % 10) as u8;
            digits[1] = b'0' + (end / 10 % 10) as u8;
            digits[2] = b'0' + (end % 10) as u8;
            line.put(b"<arg to byte ").put(&digits).put(b">");
        } else {
            line.put(a);
        }
    }
    let got = &line.buf[..line.len];
    let mut c = Checker::new();
    if got == want {
        c.check(format_args!("{case}: argv {}", Bytes(got)), true);
    } else {
        c.fail(format_args!("{case}: argv {}", Bytes(got)), format_args!("want {}", Bytes(want)));
    }
    // The task's name is the script's (Linux: `kbasename(bprm->filename)`).
    let mut comm = [0u8; 16];
    // SAFETY: PR_GET_NAME writes 16 bytes to a live buffer of 16.
    let _ = unsafe { prctl(PR_GET_NAME, comm.as_mut_ptr() as usize, 0, 0, 0) };
    let comm = cstr_field(&comm);
    let want = env.var(b"SHEBANG_COMM").unwrap_or(b"");
    c.check(format_args!("{case}: comm {}, the script's name", Bytes(comm)), comm == want);
    c.status()
}
