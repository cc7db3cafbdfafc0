//! The user-space test programs (userspace/) run unchanged on this machine's
//! Linux: every check passes, `hello`/`hello_c` print their arguments exactly, and
//! each Rust/C pair prints the same lines. The same programs are what the guest
//! kernel runs, so this pins down the Linux behaviour the guest must match.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};

use vmm::programs::{path, PROGRAMS};

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(path(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {name} ({}): {e}", path(name).display()))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a checking program: exit 0, every line `ok ...`, nothing on stderr.
fn run_checks(name: &str) -> String {
    run_checks_args(name, &[])
}

/// [`run_checks`] with arguments.
fn run_checks_args(name: &str, args: &[&str]) -> String {
    let o = run(name, args);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    let failed: Vec<&str> = out.lines().filter(|l| !l.starts_with("ok ")).collect();
    assert!(
        o.status.success() && failed.is_empty() && err.is_empty(),
        "{name}: {}\nfailed lines:\n{}\nstderr:\n{err}\nstdout:\n{out}",
        o.status,
        failed.join("\n"),
    );
    assert!(out.lines().count() > 0, "{name} printed no checks");
    out
}

#[test]
fn hello_prints_its_arguments() {
    for (name, lang) in [("hello", "rust"), ("hello_c", "c")] {
        let o = run(name, &["a", "b c"]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
        let want = format!("hello from {lang}\nargc 3\nargv[0] {name}\nargv[1] a\nargv[2] b c\n");
        assert_eq!(text(&o.stdout), want, "{name}");
        assert_eq!(text(&o.stderr), "", "{name}");

        let o = run(name, &[]);
        let want = format!("hello from {lang}\nargc 1\nargv[0] {name}\n");
        assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), want), "{name} without arguments");
    }
}

#[test]
fn syscalls_pass_and_rust_and_c_agree() {
    let rust = run_checks("syscalls");
    let c = run_checks("syscalls_c");
    assert_eq!(rust, c, "syscalls and syscalls_c print different checks");
}

#[test]
fn files_pass_and_rust_and_c_agree() {
    let rust = run_checks("files");
    let c = run_checks("files_c");
    assert_eq!(rust, c, "files and files_c print different checks");
}

#[test]
fn bad_pointers_give_efault() {
    let out = run_checks("efault");
    for tag in ["0x10", "kernel"] {
        assert!(out.contains(&format!("ok write buf {tag}\n")), "{out}");
        assert!(out.contains(&format!("ok futex uaddr {tag}\n")), "{out}");
    }
}

#[test]
fn mmap64_touches_64_mib() {
    let o = run("mmap64", &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(text(&o.stdout), "ok 64 MiB\n");
}

#[test]
fn badrip_passes_on_linux() {
    let o = run("badrip", &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    let out = text(&o.stdout);
    assert_eq!(out.lines().filter(|l| l.starts_with("ok ")).count(), 7, "{out}");
    assert!(out.contains("SIGSEGV 11 rip 0x8000000000001000"), "{out}");
    assert!(out.contains("si_code 1 si_addr 0x27 rip 0x27"), "{out}");
}

#[test]
fn rawsyscall_works_on_linux() {
    let o = run("rawsyscall", &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "raw syscall returned\ngetpid again: the pid\nnumber 1000: ENOSYS\n\
         number 0x7fff_0000_1000 (4096 in eax): ENOSYS\n\
         getpid with 0x8000_0000 in the upper half: the pid\n\
         getpid with 0xffff_ffff in the upper half: the pid\nnumber -1: ENOSYS\n\
         getpid across a page boundary: the pid\n"
    );
}

#[test]
fn exitcode_exits_with_its_argument() {
    assert_eq!(run("exitcode", &[]).status.code(), Some(3));
    assert_eq!(run("exitcode", &["0"]).status.code(), Some(0));
    assert_eq!(run("exitcode", &["42"]).status.code(), Some(42));
    assert_eq!(run("exitcode", &["255"]).status.code(), Some(255));
    // A bad argument panics: the message on stderr, status 101.
    let o = run("exitcode", &["x"]);
    assert_eq!(o.status.code(), Some(101));
    assert!(text(&o.stderr).contains("not a decimal number"), "{}", text(&o.stderr));
}

#[test]
fn abort_dies_by_sigabrt() {
    let o = run("abort", &[]);
    assert_eq!(o.status.signal(), Some(6), "{} {}", o.status, text(&o.stdout));
    assert_eq!(text(&o.stdout), "");
}

/// `execer <execed>`: execve's errors (ENOENT, EACCES, EFAULT, ENOEXEC), then
/// it execs execed, which continues the output in the same process: its
/// arguments, its environment, fd A (no O_CLOEXEC) open and fd B (O_CLOEXEC)
/// closed. Every line is a passed check or one of execed's `execed: ` lines.
#[test]
fn execer_then_execed() {
    let execed = path("execed").to_str().unwrap();
    let o = run("execer", &[execed]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    let failed: Vec<&str> =
        out.lines().filter(|l| !l.starts_with("ok ") && !l.starts_with("execed: ")).collect();
    assert!(
        o.status.success() && failed.is_empty() && err.is_empty(),
        "execer: {}\nfailed lines:\n{}\nstderr:\n{err}\nstdout:\n{out}",
        o.status,
        failed.join("\n"),
    );
    for check in [
        "execve missing file ENOENT",
        "execve directory EACCES",
        "execve file without execute permission EACCES",
        "execve path 0x10 EFAULT",
        "execve argv 0x10 EFAULT",
        "execve argv[0] 0x10 EFAULT",
        "execve envp 0x10 EFAULT",
        "execve empty file ENOEXEC",
        "execve text file ENOEXEC",
        "execve ELF truncated to 100 bytes ENOEXEC",
        "execve ELF for AArch64 ENOEXEC",
        "execve ELF with PT_INTERP ENOEXEC",
        "open fd A without O_CLOEXEC",
        "open fd B with O_CLOEXEC",
    ] {
        assert!(out.contains(&format!("ok {check}\n")), "no `ok {check}`:\n{out}");
    }
    // execed ran in the same process and printed after the execer's lines.
    let (before, after) = out.split_once("execed: argc 4\n").expect(&out);
    assert!(!before.contains("execed"), "{out}");
    let fd = |arg: &str| -> u32 {
        let value = after.lines().find_map(|l| l.strip_prefix(arg));
        value.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no `{arg}<fd>`:\n{out}"))
    };
    let (a, b) = (fd("execed: argv[2] A="), fd("execed: argv[3] B="));
    assert!(a >= 3 && b >= 3 && a != b, "A={a} B={b}");
    let want = format!(
        "execed: argv[1] after-exec\n\
         execed: argv[2] A={a}\n\
         execed: argv[3] B={b}\n\
         ok execed argc 4\n\
         ok execed argv[1] after-exec\n\
         ok execed environment has EXECER=1\n\
         ok execed fd A without O_CLOEXEC is open\n\
         ok execed fd B with O_CLOEXEC is closed\n"
    );
    assert_eq!(after, want);
    assert!(!std::path::Path::new("/tmp/execer").exists(), "execer left /tmp/execer behind");

    // Without the execer's arguments and environment all 5 of execed's checks fail.
    assert_eq!(run("execed", &[]).status.code(), Some(5));
    // execer without a program to exec is a usage error, not a pass.
    assert_eq!(run("execer", &[]).status.code(), Some(1));
}

/// `hello_pie` is a static PIE: loaded at a bias the kernel picks, it applies its
/// own relocations before main; every line after the first reads a pointer that
/// needed relocating.
#[test]
fn hello_pie_relocates_itself() {
    let o = run("hello_pie", &[]);
    let want = "hello from pie\n\
                word 0 one\n\
                word 1 two\n\
                word 2 three\n\
                answer 42\n\
                morning: good morning\n\
                evening: good evening\n\
                first word one\n";
    assert_eq!(text(&o.stdout), want, "{}", text(&o.stderr));
    assert_eq!((o.status.code(), text(&o.stderr)), (Some(0), String::new()));
}

/// fork and wait (`fork`), the freestanding-C subset (`fork_c`), vfork
/// (`vfork`, given the `exitcode` program to exec), clone and clone3 (`clone`)
/// and signals (`signals`) pass every check, and print the same lines on every
/// run (no pids, addresses or times).
#[test]
fn process_creation_programs_pass() {
    let exitcode = path("exitcode").to_str().unwrap();
    let cases: [(&str, &[&str], &[&str]); 16] = [
        (
            "ptrace",
            &[],
            &[
                "strace -f: A: PTRACE_EVENT_FORK, new task A.1",
                "strace -f: A: PTRACE_EVENT_VFORK, new task A.2",
                "strace -f: A: PTRACE_EVENT_VFORK_DONE",
                "strace -f: A: PTRACE_EVENT_CLONE, new task A.3",
                "strace -f: A: PTRACE_EVENT_EXEC, former tid is its own: true",
                "strace -f: A: PTRACE_EVENT_EXIT, status 0x2100",
                "strace -f: A.1: stopped by SIGSTOP",
                "strace -f: A.2: PTRACE_EVENT_EXEC, former tid is its own: true",
                "strace -f: A.3: exited 0",
                "group stop: status >> 8 == SIGSTOP | PTRACE_EVENT_STOP << 8",
                "listening: PTRACE_CONT is ESRCH",
                "SIGCONT: the listener re-traps: status >> 8 == SIGTRAP | PTRACE_EVENT_STOP << 8",
                "PTRACE_LISTEN after a SIGCONT re-traps at once: SIGTRAP | PTRACE_EVENT_STOP << 8",
                "real parent: WCONTINUED reports the continue",
                "attached, in a group stop: PTRACE_LISTEN is EIO",
                "the tracee saw rax 0x5555 and lived",
                "the parent's copy-on-write page is intact",
                "tracer exit with EXITKILL: the target's end",
            ],
        ),
        (
            "mapcount",
            &[],
            &[
                "mprotect of every other page ends with ENOMEM",
                "after about half the limit in splits",
                "MAP_FIXED over a hole at the limit ENOMEM",
                "the page under it is still mapped",
                "munmap of a hole at the limit ENOMEM",
                "munmap of a whole area at the limit",
                "after it, splits work again",
            ],
        ),
        (
            "fork",
            &[],
            &[
                "fork 100 children one after another",
                "wait4 gives each child's exit status (WIFEXITED, WEXITSTATUS)",
                "cow 4 MiB private mapping: the child's write is not seen by the parent",
                "read() into a copy-on-write page in the child leaves the parent's page",
                "read() into a copy-on-write page in the parent leaves the child's page",
                "MAP_SHARED: a page first touched by the child is shared",
                "the child's write advanced the parent's offset (shared)",
                "waitid of a killed child: si_code CLD_KILLED",
                "the orphan is reparented to the subreaper (getppid)",
            ],
        ),
        (
            "fork_c",
            &[],
            &["fork 20 children", "cow global: the child's write is not seen by the parent"],
        ),
        (
            "vfork",
            &[exitcode],
            &[
                "vfork: the parent resumes only after the child exited",
                "vfork + execve exitcode 7: the parent reaps status 7",
                "vfork + execve: the parent resumes while the new program runs",
                "CLONE_VM|CLONE_VFORK + execve exitcode 7: the parent reaps status 7",
            ],
        ),
        (
            "clone",
            &[],
            &[
                "clone3 non-zero byte past struct clone_args E2BIG",
                "CLONE_CHILD_CLEARTID: the word is cleared and the futex waiter woken at exit",
                "exit_group(5) in a thread ends every thread: the process's status is 5",
                "RLIMIT_NPROC 20: 19 forks succeed, the 20th process fails EAGAIN",
            ],
        ),
        (
            "groupexit",
            &[],
            &[
                "main thread exit(3), then the last thread exit(5): wait4 reports 5",
                "no SIGCHLD when the main thread exits",
                "main thread exit(3) racing exit_group(7) in a thread: 7, every round",
            ],
        ),
        (
            "dethread",
            &[],
            &[
                "image: gettid() == getpid()",
                "image: the fd with O_CLOEXEC is closed",
                "exec from a thread: wait4 reports the new image's exit status",
                "exec from a thread: no wait status for the old leader",
                "two threads exec at once: one image runs as the process (20 rounds)",
                "SIGKILL while a thread execs: the process dies of it (20 rounds)",
            ],
        ),
        (
            "shebang",
            &[],
            &[
                "spaces: argv SELF|one  two|/tmp/shebang/spaces|a|b",
                "long: argv SELF|<arg to byte 255>|/tmp/shebang/long|a|b",
                "lvl6: execve fails with ELOOP",
                "bare: execve fails with EACCES",
            ],
        ),
        (
            "jobctl",
            &[],
            &[
                "wait4 WUNTRACED: stopped by SIGSTOP",
                "no thread runs while stopped",
                "then SIGTERM kills it",
                "30 rounds of SIGSTOP racing exit_group: each ends with status 7",
            ],
        ),
        (
            "groupsig",
            &[],
            &[
                "the main thread and worker 1 block it: the handler runs once, in worker 2",
                "the first thread to unblock it takes it (worker 1)",
                "the remaining thread takes it and the process dies: status SIGTERM",
            ],
        ),
        (
            "sigdeath",
            &[],
            &[
                "blocked SIGTERM, then unblocked: killed by SIGTERM (25 of 25)",
                "SIGUSR1 handler on an unmapped alternate stack: killed by SIGSEGV (25 of 25)",
                "a sleep of years ended by a handled SIGALRM, then exit on another CPU: status 0 (25 of 25)",
            ],
        ),
        (
            "filemap",
            &[],
            &[
                "write() is seen through the mapping",
                "a shared store to an untouched page is seen privately",
                "the exec'd program saw the parent's store",
                "a private copy past the new end: SIGBUS",
                "mprotect PROT_WRITE on it",
                "a pipe's read end",
            ],
        ),
        (
            "futexshared",
            &[],
            &[
                "MAP_SHARED|MAP_ANONYMOUS across fork: the other process's wake woke the waiter (20 of 20)",
                "a MAP_SHARED /tmp file mapped again by the child elsewhere: the other process's wake woke the waiter (20 of 20)",
                "a FUTEX_PRIVATE_FLAG wake on the file from the other process",
            ],
        ),
        (
            "procfs",
            &["one", "two words"],
            &[
                "readlink /proc/self is the pid",
                "a child before it is reaped: state Z",
                "meminfo: 128 zombies hold no kernel stacks (KernelStack grows < 1 MiB)",
                "task/ lists the three threads",
                "maps: the mapping's line",
                "umount2 while a file is open: EBUSY",
            ],
        ),
        (
            "signals",
            &[],
            &[
                "the handler ran before kill returned",
                "rt_sigreturn restores xmm0-xmm15",
                "rt_sigreturn loads the mask from uc_sigmask (SIGUSR2 blocked)",
                "a handled signal without SA_RESTART interrupts a blocking read (EINTR)",
            ],
        ),
    ];
    // clone switches a child to another uid (RLIMIT_NPROC): it needs root, as
    // the guest's pid 1 is.
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    assert_eq!(uid, 0, "these programs run as root here (the guest's pid 1 is uid 0)");
    for (name, args, checks) in cases {
        let out = run_checks_args(name, args);
        for check in checks {
            assert!(out.contains(&format!("ok {check}\n")), "{name}: no `ok {check}`:\n{out}");
        }
        assert_eq!(run_checks_args(name, args), out, "{name}: output differs between runs");
    }
    // vfork without the program to exec fails exactly its two exec checks.
    let o = run("vfork", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    assert_eq!(text(&o.stdout).lines().filter(|l| l.starts_with("FAIL ")).count(), 2);
}

/// Every program is a static x86-64 executable without an interpreter: a
/// non-PIE `ET_EXEC` without a dynamic section, except the static PIEs
/// (`*_pie`), `ET_DYN` with one (for their relocations). Each program is
/// covered by a test here.
#[test]
fn programs_are_static_executables() {
    let mut names: Vec<&str> = PROGRAMS.iter().map(|(n, _)| *n).collect();
    names.sort();
    let want = [
        "abort",
        "badrip",
        // tests/programs_in_guest.rs `cgroups_match_linux` (it needs root).
        "cgroup",
        "clone",
        "cowtables",
        "ctl",
        "dethread",
        "efault",
        "execed",
        "execer",
        "exitcode",
        "filemap",
        "files",
        "files_c",
        "fork",
        "fork_c",
        "forkbench",
        // Guest only (a fork bomb, an OOM hog): tests/reliability.rs.
        "forkbomb",
        "forkonce",
        "forkstress",
        "forktree",
        "fsattr",
        "futexshared",
        // Guest only (pid 1 only; a system-call fuzzer): tests/fuzz.rs.
        "fuzz",
        "groupexit",
        "groupsig",
        "hello",
        "hello_c",
        "hello_pie",
        "itimer",
        "jobctl",
        // Guest only (exact load figures need an otherwise idle machine):
        // tests/programs_in_guest.rs.
        "loadavg",
        "lockstress",
        "mapcount",
        "mmap64",
        "namespaces",
        "nsall",
        "oomhog",
        "opcost",
        "pdeathsig",
        "pidfd",
        "posixtimer",
        "procfs",
        "ptrace",
        "rawsyscall",
        "rusage",
        "sched",
        "shebang",
        "sigdeath",
        "signals",
        "syscalls",
        "syscalls_c",
        "txtbusy",
        "vfork",
    ];
    assert_eq!(names, want, "a new program needs a test in tests/programs_on_linux.rs");
    for (name, p) in PROGRAMS {
        let elf = std::fs::read(p).unwrap_or_else(|e| panic!("reading {p}: {e}"));
        assert_eq!(&elf[..4], b"\x7fELF", "{name}");
        assert_eq!(elf[4], 2, "{name}: not ELF64");
        let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap());
        let pie = name.ends_with("_pie");
        let e_type = if pie { 3 } else { 2 };
        assert_eq!(u16_at(16), e_type, "{name}: e_type (2 ET_EXEC, 3 ET_DYN)");
        assert_eq!(u16_at(18), 62, "{name}: e_machine is not x86-64");
        let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
        let types: Vec<u32> = (0..phnum as usize).map(|i| u32_at(phoff + i * phentsize)).collect();
        assert!(!types.contains(&3), "{name}: has PT_INTERP");
        assert_eq!(types.contains(&2), pie, "{name}: PT_DYNAMIC (2) only in a static PIE");
    }
}

#[test]
#[should_panic(expected = "no user program named \"no-such-program\"")]
fn unknown_program_name_panics() {
    let _ = path("no-such-program");
}

#[test]
fn opcost_measures_both_operations() {
    let o = run("opcost", &["100", "16"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("getpid ") && lines[0].ends_with(" ns"), "{out}");
    assert!(lines[1].starts_with("fault ") && lines[1].ends_with(" ns"), "{out}");
    // With 0 pages the fault measurement is skipped.
    assert_eq!(text(&run("opcost", &["10", "0"]).stdout).lines().count(), 1);
}

#[test]
fn forkonce_forks_twice() {
    let o = run("forkonce", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "first fork: ok\nsecond fork: ok\n");
    // clone(CLONE_PIDFD) reaped through the pidfd (Linux 5.4 and later).
    let o = run("forkonce", &["pidfd"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "first fork: ok\nsecond fork: ok\n");
}

/// The fork tree tests/trace.rs traces: every child reaped with its status
/// (in whatever order they end).
#[test]
fn forktree_reaps_its_three_children() {
    let o = run("forktree", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let mut lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.pop(), Some("forktree: ok"), "{out}");
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["reaped child 1 status 21", "reaped child 2 status 22", "reaped child 3 status 23"],
        "{out}"
    );
}

#[test]
fn pidfd_passes_on_linux_6_15_and_later() {
    // pidfds as Linux 6.15+ has them (tests/programs_in_guest.rs keeps the
    // 6.18 transcript the guest must print, the reference on older hosts).
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut n = r.split(|c: char| !c.is_ascii_digit()).filter_map(|x| x.parse::<u32>().ok());
    let version = (n.next().unwrap_or(0), n.next().unwrap_or(0));
    if version < (6, 15) {
        eprintln!("Linux {version:?} predates 6.15's pidfds: not checked here");
        return;
    }
    let out = run_checks("pidfd");
    assert_eq!(out.lines().count(), 145, "{out}");
    assert!(out.contains("ok pidfd_open of a thread: ENOENT\n"), "{out}");
}

#[test]
fn ctl_needs_the_guests_counter_device() {
    // `ctl` drives the guest's mailbox and `/dev/counters` tests; on Linux the
    // device does not exist and the program says so.
    let o = run("ctl", &["snapshots"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "open /dev/counters: ENOENT\n");
    let o = run("ctl", &[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cowtables_passes() {
    run_checks("cowtables");
}

#[test]
fn namespaces_pass_as_root() {
    // PID and UTS namespaces need root; tests/namespaces.rs holds the transcript
    // the guest must print.
    let out = run_checks("namespaces");
    assert_eq!(out.lines().count(), 69, "{out}");
    assert!(out.contains("ok CLONE_NEWPID: the child's getpid is 1\n"), "{out}");
}

#[test]
fn nsall_passes_as_root() {
    // Every namespace kind, the unprivileged user-namespace path included
    // (a child drops to uid 4321); programs_in_guest compares the guest.
    let out = run_checks("nsall");
    assert_eq!(out.lines().count(), 104, "{out}");
    assert!(out.contains("ok not root: unshare(CLONE_NEWUSER) works\n"), "{out}");
}

#[test]
fn forkstress_passes() {
    let out = run_checks("forkstress");
    assert!(out.contains("ok a fork bomb of a non-root user stops at RLIMIT_NPROC"), "{out}");
    let o = run("forkstress", &["spread", "3"]);
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "ok 3 children ran at once\n".into()));
}

#[test]
fn lockstress_counts_exactly_on_linux() {
    let o = run("lockstress", &["4", "10"]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (
            Some(0),
            "lockstress: 4 workers x 10 forks: 40 children counted, every status exact\n".into()
        )
    );
}

#[test]
fn sched_syscalls_pass_on_linux() {
    // The scheduler system calls' results, errnos and permissions; the guest
    // must print the same lines (tests/sched.rs).
    let out = run_checks_args("sched", &["syscalls"]);
    assert!(out.contains("ok sched_rr_get_interval of SCHED_RR is 100 ms\n"), "{out}");
    assert!(out.contains("ok reset child of SCHED_FIFO: SCHED_NORMAL, no flag\n"), "{out}");
    // Two tasks pinned to one CPU yield to each other; an unknown subcommand
    // is a usage error.
    let o = run("sched", &["yield", "100"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let o = run("sched", &["nosuch"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn pdeathsig_passes_on_linux() {
    // What the guest must match: the parent-death signal, thread parents too.
    let out = run_checks("pdeathsig");
    assert!(out.contains("ok its new parent is that process"), "pdeathsig: {out}");
}

#[test]
fn txtbusy_passes_on_linux() {
    // What the guest must match: a running program's file cannot be written.
    let out = run_checks("txtbusy");
    assert!(out.contains("ok its fork still runs it: ETXTBSY"), "txtbusy: {out}");
}

#[test]
fn fsattr_and_timers_pass_on_linux() {
    // What the guest must match (tests/programs_in_guest.rs): Linux's chown,
    // chmod, truncate and statfs rules on tmpfs, its interval timers and its
    // POSIX timers.
    let out = run_checks("fsattr");
    for line in [
        "ok f_type TMPFS_MAGIC",
        "ok both set-ID bits cleared",
        "ok not the owner: chown -1 -1 checks nothing",
        "ok set-ID bits cleared by truncate",
    ] {
        assert!(out.contains(line), "fsattr: {line}\n{out}");
    }
    let out = run_checks("itimer");
    for line in [
        "ok unblocked: one SIGALRM for the ten periods",
        "ok the fork child has no timers",
        "ok after execve: REAL kept",
    ] {
        assert!(out.contains(line), "itimer: {line}\n{out}");
    }
    let out = run_checks("posixtimer");
    for line in [
        "ok ids go on from the last one given",
        "ok timer_create CLOCK_MONOTONIC_RAW",
        "ok unblocked: one signal for ten periods",
    ] {
        assert!(out.contains(line), "posixtimer: {line}\n{out}");
    }
}

#[test]
fn rusage_passes_on_linux() {
    // What the guest must match (tests/programs_in_guest.rs): Linux's
    // getrusage, wait4's rusage and CPU-time clocks.
    let out = run_checks("rusage");
    for line in [
        "ok the exited thread's 40 ms stay in RUSAGE_SELF",
        "ok an exited child not reaped yet is not in RUSAGE_CHILDREN",
        "ok RUSAGE_CHILDREN after the reap is wait4's rusage",
    ] {
        assert!(out.contains(line), "rusage: {line}\n{out}");
    }
}
