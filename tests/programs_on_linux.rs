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
    let o = run(name, &[]);
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
fn rawsyscall_works_on_linux() {
    let o = run("rawsyscall", &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(text(&o.stdout), "raw syscall returned\n");
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

/// Every program is a static, non-PIE x86-64 executable (`ET_EXEC`, no
/// interpreter, no dynamic section), and each is covered by a test here.
#[test]
fn programs_are_static_executables() {
    let mut names: Vec<&str> = PROGRAMS.iter().map(|(n, _)| *n).collect();
    names.sort();
    let want = [
        "abort",
        "efault",
        "exitcode",
        "files",
        "files_c",
        "hello",
        "hello_c",
        "mmap64",
        "opcost",
        "rawsyscall",
        "syscalls",
        "syscalls_c",
    ];
    assert_eq!(names, want, "a new program needs a test in tests/programs_on_linux.rs");
    for (name, p) in PROGRAMS {
        let elf = std::fs::read(p).unwrap_or_else(|e| panic!("reading {p}: {e}"));
        assert_eq!(&elf[..4], b"\x7fELF", "{name}");
        assert_eq!(elf[4], 2, "{name}: not ELF64");
        let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap());
        assert_eq!(u16_at(16), 2, "{name}: e_type is not ET_EXEC");
        assert_eq!(u16_at(18), 62, "{name}: e_machine is not x86-64");
        let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
        for i in 0..phnum as usize {
            let p_type = u32_at(phoff + i * phentsize);
            assert!(p_type != 3, "{name}: has PT_INTERP");
            assert!(p_type != 2, "{name}: has PT_DYNAMIC");
        }
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
