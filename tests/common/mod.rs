//! Helpers shared by the integration tests: every test boots a real VM on
//! /dev/kvm and asserts on what the guest did.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::time::Duration;

use vmm::{ExitReport, Vmm};

/// Generous: a guest that hangs is caught, and a slow, loaded machine is not a failure.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Boot the embedded kernel with `vcpus` and `cmdline`, wait for its end.
pub fn run(vcpus: u32, cmdline: &str) -> ExitReport {
    let vm = Vmm::builder().vcpus(vcpus).memory_mib(128).cmdline(cmdline).boot().expect("boot");
    vm.wait(Some(TIMEOUT)).expect("wait")
}

/// Run the `vmm` binary with `args`.
pub fn vmm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmm")).args(args).output().expect("running vmm")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Parse `0x...` from a console line after `key `.
pub fn hex_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let word = rest.split_whitespace().next()?;
    u64::from_str_radix(word.trim_start_matches("0x"), 16).ok()
}

/// The system-call entries this host's KVM can run, as kernel command-line
/// words (`syscall=`, see guest/src/cmdline.rs): the int3 gate everywhere
/// (with zpoline for programs that execute `syscall` themselves), and the
/// `syscall` instruction (LSTAR) where the guest's boot self-test finds that
/// it reaches ring 0 — hardware KVM, not this machine's kvm_pvm. Says which on
/// stderr, once per test binary.
pub fn syscall_entries() -> &'static [&'static str] {
    static ENTRIES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    ENTRIES.get_or_init(|| {
        let r = run(1, "quiet");
        match r.counters.global.syscall_insn {
            1 => {
                eprintln!("syscall entries: this host runs both the int3 gate and `syscall`");
                vec!["syscall=int3", "syscall=insn"]
            }
            2 => {
                eprintln!(
                    "syscall entries: `syscall` does not reach ring 0 on this host's KVM \
                     (kvm_pvm?): only the int3 gate (and zpoline) runs here"
                );
                vec!["syscall=int3"]
            }
            other => panic!("the guest's syscall self-test did not run ({other}):\n{}", r.console),
        }
    })
}

/// The last `n` lines of `text`, with a note of how many came before.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    let mut s = if skip > 0 { format!("  ({skip} earlier lines)\n") } else { String::new() };
    for l in &lines[skip..] {
        s += "  ";
        s += l;
        s += "\n";
    }
    s
}

/// How a guest run ended and what it said, for assertion messages: the end (a
/// crash report in full), the program's `FAIL` lines, and the ends of its
/// stdout and stderr and of the kernel's console.
pub fn explain(r: &ExitReport) -> String {
    let end = r.describe().unwrap_or_else(|| format!("{:?}", r.exit));
    let fails: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    format!(
        "the guest ended: {end}\nFAIL lines of the program: {}\n{}stdout:\n{}stderr:\n{}console:\n{}",
        fails.len(),
        tail(&fails.join("\n"), 20),
        tail(&r.stdout, 30),
        tail(&r.stderr, 15),
        tail(&r.console, 40)
    )
}

/// Where `got` first differs from `want`, line by line.
pub fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    match (0..w.len().max(g.len())).find(|&i| w.get(i) != g.get(i)) {
        None => "the same lines (line endings differ)".into(),
        Some(i) => format!(
            "line {}: expected {:?}, got {:?} ({} lines expected, {} got)",
            i + 1,
            w.get(i).copied().unwrap_or("<end>"),
            g.get(i).copied().unwrap_or("<end>"),
            w.len(),
            g.len()
        ),
    }
}

/// What the same program did on the host's Linux.
pub struct Linux<'a> {
    pub status: u8,
    pub stdout: &'a str,
    /// None: stderr is not compared.
    pub stderr: Option<&'a str>,
}

/// The guest run `r` of `what` ended like the Linux run: same exit status,
/// stdout (and stderr); otherwise a failure that names each difference and the
/// first differing line, then `explain`s the guest run.
pub fn assert_matches_linux(what: &str, r: &ExitReport, linux: Linux) {
    let mut problems = Vec::new();
    if r.exit != vmm::GuestExit::Status(linux.status) {
        problems.push(format!("exit: {:?} in the guest, status {} on Linux", r.exit, linux.status));
    }
    if r.stdout != linux.stdout {
        problems.push(format!(
            "stdout differs from Linux at {}",
            first_difference(linux.stdout, &r.stdout)
        ));
    }
    if let Some(err) = linux.stderr {
        if r.stderr != err {
            problems
                .push(format!("stderr differs from Linux at {}", first_difference(err, &r.stderr)));
        }
    }
    assert!(problems.is_empty(), "{what}: {}\n{}", problems.join("; "), explain(r));
}

/// How a `vmm` command ended, for assertion messages.
pub fn explain_output(o: &Output) -> String {
    format!("{}\nstdout:\n{}stderr:\n{}", o.status, tail(&stdout(o), 30), tail(&stderr(o), 40))
}

/// `Command::new(program)` for a host run that is compared with the guest:
/// the program starts as the guest's pid 1 does, with every signal's
/// disposition at its default and none blocked. A test runner started in the
/// background of a non-interactive shell has SIGINT and SIGQUIT ignored, and
/// ignored dispositions survive exec: without this a shell script's `trap ...
/// INT` would silently do nothing on the host and the comparison would blame
/// the guest.
pub fn host_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(program);
    // SAFETY: the closure runs in the child between fork and exec and calls
    // only async-signal-safe functions (sigaction, sigprocmask) on its own
    // stack data; it allocates nothing and takes no locks.
    unsafe {
        c.pre_exec(|| {
            for sig in 1..libc::SIGRTMIN() {
                if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                    continue;
                }
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
    c
}

/// Run `program args` on the host as [`host_command`] starts it, stdin from
/// /dev/null: (exit status, or 128 + the signal that killed it; stdout; stderr).
pub fn run_on_host(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> (u8, String, String) {
    use std::os::unix::process::ExitStatusExt;
    let o = host_command(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("host run");
    let code = o.status.code().map_or_else(|| 128 + o.status.signal().unwrap() as u8, |c| c as u8);
    (code, String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

/// The kernel resources a run must give back, by name, from the counter
/// page: what a leak check compares before and after (the soak, the fuzzer).
pub fn kernel_resources(g: &vmm::protocol::counters::GlobalCounters) -> [(&'static str, u64); 6] {
    [
        ("frames_in_use", g.frames_in_use),
        ("kstacks_in_use", g.kstacks_in_use),
        ("pids_in_use", g.pids_in_use),
        ("open_files", g.open_files),
        ("page_table_pages", g.page_table_pages),
        ("nr_threads", g.nr_threads),
    ]
}

/// `execer /bin/execed` on this machine's Linux, then in a guest booted with
/// `cmdline`: the same exit status and output (execer checks execve's errors,
/// then execs execed, which checks its arguments, environment and
/// close-on-exec). The guest's report, for the caller's own checks.
#[allow(dead_code)]
pub fn execer_matches_linux(what: &str, cmdline: &str) -> ExitReport {
    use vmm::programs::path;
    let (code, out, err) = run_on_host(path("execer"), &[path("execed").to_str().unwrap()]);
    assert_eq!(code, 0, "on Linux: {out}{err}");
    let r = Vmm::builder()
        .cmdline(cmdline)
        .file(path("execed"), "/bin/execed")
        .program(path("execer"), &["/bin/execed"])
        .boot()
        .unwrap()
        .wait(Some(TIMEOUT))
        .unwrap();
    assert_matches_linux(what, &r, Linux { status: 0, stdout: &out, stderr: None });
    r
}
