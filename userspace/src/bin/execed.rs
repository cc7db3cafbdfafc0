//! The program `execer` replaces itself with (`execer PATH-OF-EXECED`): it runs
//! as the same process, so its output continues the execer's. It prints
//! `execed: argc N` and `execed: argv[i] ARG` for each argument after argv[0]
//! (whose path differs between kernels), then one check line each: its
//! arguments are `after-exec A=<fd> B=<fd>`, `EXECER=1` is in its environment,
//! fd A (opened without O_CLOEXEC) is still open and fd B (opened with
//! O_CLOEXEC) was closed by execve. Exit status: the failed checks, plus the
//! number the execer passes in `EXECER_FAILED` when its own checks failed (so
//! they are not lost with the execer's image).
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

fn main(args: Args, env: Env) -> i32 {
    let mut c = Checker::new();
    println!("execed: argc {}", args.len());
    for i in 1..args.len() {
        println!("execed: argv[{}] {}", i, Bytes(args.bytes(i).unwrap_or(b"")));
    }
    c.check("execed argc 4", args.len() == 4);
    c.check("execed argv[1] after-exec", args.bytes(1) == Some(b"after-exec"));
    let has_execer = (0..env.len()).any(|i| env.get(i).map(|s| s.to_bytes()) == Some(b"EXECER=1"));
    c.check("execed environment has EXECER=1", has_execer);
    fd_state(&mut c, args.bytes(2), b"A=", true);
    fd_state(&mut c, args.bytes(3), b"B=", false);
    let earlier = env.var(b"EXECER_FAILED").and_then(decimal).unwrap_or(0);
    if earlier != 0 {
        println!("FAIL execer: {} of its checks failed before execve", earlier);
    }
    (c.failures() as usize + earlier).min(255) as i32
}

/// Checks that the fd named by `arg` (`A=<fd>`) is open (`want_open`) or closed.
fn fd_state(c: &mut Checker, arg: Option<&[u8]>, prefix: &[u8], want_open: bool) {
    let letter = prefix[0] as char;
    let (what, want) = if want_open {
        ("without O_CLOEXEC is open", "open")
    } else {
        ("with O_CLOEXEC is closed", "closed")
    };
    let name = Name(letter, what);
    let Some(fd) = arg.and_then(|a| a.strip_prefix(prefix)).and_then(decimal) else {
        c.fail(name, "no argument ?=<fd>");
        return;
    };
    // F_GETFD succeeds on an open fd whatever its flags, EBADF on a closed one.
    let state = match fcntl(fd as i32, F_GETFD, 0) {
        Ok(_) => "open",
        Err(EBADF) => "closed",
        Err(e) => {
            c.fail(name, e);
            return;
        }
    };
    if state == want {
        c.check(name, true);
    } else {
        c.fail(name, state);
    }
}

/// `execed fd X <what>`.
struct Name(char, &'static str);

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "execed fd {} {}", self.0, self.1)
    }
}

/// A non-negative decimal number below 2^31.
fn decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| b.is_ascii_digit().then(|| n * 10 + (b - b'0') as usize))
}
