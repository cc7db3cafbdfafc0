//! User programs in the guest: the same static binaries run on this machine's
//! Linux and as pid 1 in the guest, and their output and exit status must be
//! identical. Each checking program exits with its number of failed checks.

mod common;

use common::Linux;
use vmm::programs::path;
use vmm::{ExitReport, GuestExit, Vmm};

/// Run `name` with `args` as pid 1 in a guest with `vcpus`.
fn in_guest(name: &str, args: &[&str], vcpus: u32) -> ExitReport {
    Vmm::builder()
        .vcpus(vcpus)
        .memory_mib(256)
        .cmdline("quiet")
        .program(path(name), args)
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait")
}

/// Run `name` on the host: (exit code or 128 + signal, stdout, stderr).
fn on_host(name: &str, args: &[&str]) -> (u8, String, String) {
    common::run_on_host(path(name), args)
}

/// Same exit status, stdout and stderr in the guest as on the host.
fn same_as_linux(name: &str, args: &[&str]) -> ExitReport {
    let (code, out, err) = on_host(name, args);
    let r = in_guest(name, args, 1);
    let linux = Linux { status: code, stdout: &out, stderr: Some(&err) };
    common::assert_matches_linux(name, &r, linux);
    r
}

#[test]
fn hello_rust_and_c_match_linux() {
    for name in ["hello", "hello_c"] {
        let r = same_as_linux(name, &["a", "b c", ""]);
        assert!(r.stdout.contains("argv[2] b c\n"), "{}", r.stdout);
    }
}

fn checks_match_linux(name: &str) -> String {
    let r = same_as_linux(name, &[]);
    assert_eq!(r.exit, GuestExit::Status(0), "{name}: every check passes\n{}", common::explain(&r));
    assert!(
        r.stdout.lines().count() > 20 && r.stdout.lines().all(|l| l.starts_with("ok ")),
        "{name}: at least 20 checks, all ok\n{}",
        common::explain(&r)
    );
    r.stdout
}

#[test]
fn system_calls_match_linux_rust_and_c() {
    let rust = checks_match_linux("syscalls");
    let c = checks_match_linux("syscalls_c");
    assert!(rust == c, "the Rust and C programs differ at {}", common::first_difference(&rust, &c));
    // The unknown system call the program makes (number 1000) is counted per
    // number as ENOSYS; known calls are counted too.
    let r = in_guest("syscalls", &[], 1);
    let slots = vmm::protocol::counters::SYSCALL_SLOTS;
    assert_eq!(r.counters.syscalls_enosys[slots - 1], r.counters.syscalls[slots - 1]);
    assert!(r.counters.syscalls_enosys[slots - 1] >= 1, "number 1000 lands in the last slot");
    assert!(r.counters.syscalls[39] >= 1, "getpid counted");
    assert_eq!(r.counters.syscalls_enosys[39], 0);
}

#[test]
fn files_match_linux_rust_and_c() {
    let rust = checks_match_linux("files");
    let c = checks_match_linux("files_c");
    assert!(rust == c, "the Rust and C programs differ at {}", common::first_difference(&rust, &c));
}

#[test]
fn every_bad_pointer_is_efault() {
    checks_match_linux("efault");
}

#[test]
fn sixty_four_mib_through_mmap() {
    let r = same_as_linux("mmap64", &[]);
    assert_eq!(r.stdout, "ok 64 MiB\n");
    // Every page was a demand-zero fault taken from user mode.
    assert!(
        r.counters.global.pages_zero_filled >= 16384,
        "{}",
        r.counters.global.pages_zero_filled
    );
    assert!(r.counters.cpu[0].page_faults_user >= 16384);
}

#[test]
fn exit_status_and_death_by_signal() {
    same_as_linux("exitcode", &["42"]);
    same_as_linux("exitcode", &[]);
    // As pid 1, `abort` survives its own SIGABRT: Linux's init ignores signals it
    // has no handler for (SIGNAL_UNKILLABLE). On the host it is not init and dies.
    let (code, _, _) = on_host("abort", &[]);
    assert_eq!(code, 128 + 6, "SIGABRT on the host");
    let r = in_guest("abort", &[], 1);
    assert_eq!(r.exit, GuestExit::Status(1), "{}", common::explain(&r));
    assert_eq!(
        r.stdout,
        "FAIL still alive after kill(getpid(), SIGABRT): Ok(0)\n",
        "{}",
        common::explain(&r)
    );
    // Pid 1 dies of a signal the kernel forces (a fault or SIGSYS: see
    // tests/zpoline.rs), with 128 + N as the VM's status.
}

#[test]
fn raw_syscall_instruction_works_as_on_linux() {
    // Through LSTAR where `syscall` reaches ring 0; where it does not (this
    // machine's kvm_pvm), through the site the VMM found and exec rewrote
    // (zpoline; tests/zpoline.rs has the details, and the SIGSYS a program
    // the VMM did not decode gets).
    let r = same_as_linux("rawsyscall", &[]);
    let zpoline: u64 = r.counters.cpu.iter().map(|c| c.zpoline_entries).sum();
    match r.counters.global.syscall_entry {
        1 => assert_eq!(zpoline, 0),
        2 => assert!(zpoline > 0, "{}", r.console),
        other => panic!("syscall_entry {other}"),
    }
}

#[test]
fn returns_to_bad_addresses_and_bad_calls_are_sigsegv_as_on_linux() {
    // A handler, an rt_sigreturn frame or a system call's return address
    // that is not canonical; a call through NULL, and `call *%rax` to a
    // system-call number from code that is not a patched site.
    checks_match_linux_few("badrip");
}

fn checks_match_linux_few(name: &str) {
    let r = same_as_linux(name, &[]);
    assert_eq!(r.exit, GuestExit::Status(0), "{name}: every check passes\n{}", common::explain(&r));
    assert!(
        r.stdout.lines().filter(|l| l.starts_with("ok ")).count() >= 5,
        "{name}: at least 5 checks\n{}",
        common::explain(&r)
    );
}

#[test]
fn missing_or_bad_program_is_a_clear_error() {
    // Neither ELF nor `#!`: ENOEXEC. (A `#!/bin/sh` script is ENOENT here:
    // the guest has no /bin/sh.)
    let bad = std::env::temp_dir().join(format!("notelf-{}", std::process::id()));
    std::fs::write(&bad, b"echo hi\n").unwrap();
    let r = Vmm::builder()
        .cmdline("quiet")
        .program(&bad, &[] as &[&str])
        .boot()
        .unwrap()
        .wait(Some(common::TIMEOUT))
        .unwrap();
    assert_eq!(
        r.exit,
        GuestExit::Status(vmm::protocol::exit_status::INIT_FAILED),
        "{}",
        common::explain(&r)
    );
    assert!(r.console.contains("cannot run /bin/notelf-"), "{}", r.console);
    assert!(r.console.contains("errno 8"), "ENOEXEC: {}", r.console);
    // A dynamically linked program (the host's own ls).
    if std::path::Path::new("/bin/ls").exists() {
        let r = Vmm::builder()
            .cmdline("quiet")
            .program("/bin/ls", &[] as &[&str])
            .boot()
            .unwrap()
            .wait(Some(common::TIMEOUT))
            .unwrap();
        assert_eq!(
            r.exit,
            GuestExit::Status(vmm::protocol::exit_status::INIT_FAILED),
            "{}",
            common::explain(&r)
        );
        assert!(r.console.contains("dynamically linked"), "{}", r.console);
    }
    // A truncated copy and one built for another architecture.
    let good = std::fs::read(path("hello")).unwrap();
    let truncated = std::env::temp_dir().join(format!("truncated-{}", std::process::id()));
    std::fs::write(&truncated, &good[..good.len() / 3]).unwrap();
    let mut arm = good.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    let aarch64 = std::env::temp_dir().join(format!("aarch64-{}", std::process::id()));
    std::fs::write(&aarch64, &arm).unwrap();
    for (file, text) in [(&truncated, "truncated"), (&aarch64, "AArch64")] {
        let r = Vmm::builder()
            .cmdline("quiet")
            .program(file, &[] as &[&str])
            .boot()
            .unwrap()
            .wait(Some(common::TIMEOUT))
            .unwrap();
        assert_eq!(
            r.exit,
            GuestExit::Status(vmm::protocol::exit_status::INIT_FAILED),
            "{}",
            r.console
        );
        assert!(r.console.contains(text) && r.console.contains("errno 8"), "{}", r.console);
    }
    // A file the VMM cannot read is its own clear error.
    let e = Vmm::builder().program("/nonexistent/prog", &[] as &[&str]).boot().err().unwrap();
    assert!(e.to_string().contains("cannot read /nonexistent/prog"), "{e}");
}

#[test]
fn extra_files_and_cli() {
    // --file puts host files into the guest; the program runs with arguments
    // from the command line, and its stdout is the VMM's stdout.
    let o = common::vmm(&[
        "run",
        "--vcpus",
        "2",
        "--file",
        "/etc/hostname:/etc/hostname",
        path("hello").to_str().unwrap(),
        "x",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::explain_output(&o));
    assert_eq!(
        common::stdout(&o),
        "hello from rust\nargc 2\nargv[0] hello\nargv[1] x\n",
        "{}",
        common::explain_output(&o)
    );
    let o = common::vmm(&["run", path("exitcode").to_str().unwrap(), "9"]);
    assert_eq!(o.status.code(), Some(9), "{}", common::explain_output(&o));
}

#[test]
fn execve_from_a_program_matches_linux() {
    // execer checks execve's errors (ENOENT, EACCES, EFAULT, ENOEXEC for empty,
    // non-ELF, truncated, AArch64 and PT_INTERP files), then execs execed, which
    // checks its arguments, environment and that O_CLOEXEC closed one fd.
    let r = common::execer_matches_linux("execer/execed", "quiet");
    assert!(r.stdout.contains("ok execed fd B with O_CLOEXEC is closed"), "{}", r.stdout);
}

#[test]
fn static_pie_relocates_and_runs() {
    let r = same_as_linux("hello_pie", &[]);
    assert!(r.stdout.starts_with("hello from pie\n"), "{}", r.stdout);
}

#[test]
fn fork_wait_and_copy_on_write_match_linux() {
    // fork return values, 100 children reaped with distinct pids and statuses,
    // deaths by signal, copy-on-write privacy both ways (stack, heap, a 4 MiB
    // mmap, a buffer the kernel wrote), MAP_SHARED shared, fd inheritance and
    // shared offsets, WNOHANG, ECHILD, waitid with siginfo, SIGCHLD ignored,
    // orphans reparented to a subreaper.
    let r = checks_match_linux("fork");
    assert!(r.contains("ok the 100 children have distinct pids"), "{r}");
    checks_match_linux("fork_c");
}

#[test]
fn fork_on_two_and_four_vcpus() {
    for vcpus in [2, 4] {
        let (code, out, _) = on_host("fork", &[]);
        let r = in_guest("fork", &[], vcpus);
        let linux = Linux { status: code, stdout: &out, stderr: None };
        common::assert_matches_linux(&format!("fork on {vcpus} vCPUs"), &r, linux);
        assert!(r.counters.global.total_forks > 100, "{}", r.counters.global.total_forks);
        // Freed kernel stacks were reused from the per-CPU caches.
        assert!(r.counters.global.kstack_cache_hits > 0);
        // Children were placed on other CPUs too.
        let busy = (0..vcpus as usize).filter(|&c| r.counters.cpu[c].syscalls > 0).count();
        assert!(
            busy >= 2,
            "system calls on {busy} CPUs: {:?}",
            r.counters.cpu[..vcpus as usize].iter().map(|c| c.syscalls).collect::<Vec<_>>()
        );
    }
}

#[test]
fn clone_flags_threads_and_limits_match_linux() {
    // The flag-validation table with Linux's errno for each case, clone3's size
    // rules, SETTID/CLEARTID with a futex wait, CLONE_THREAD groups and
    // exit_group, CLONE_PARENT, CLONE_SETTLS, exit signals and __WCLONE/__WALL,
    // what CLONE_VM/FILES/SIGHAND share, RLIMIT_NPROC for a non-root user and a
    // fork bomb bounded by it.
    checks_match_linux("clone");
}

#[test]
fn signals_match_linux() {
    // Handlers with siginfo, masks, SIG_IGN, default actions, SA_ONSTACK,
    // SA_RESETHAND, SA_NODEFER, SA_RESTART and EINTR, rt_sigreturn restoring
    // every register (and xmm0-15), a SIGSEGV handler's context, process groups.
    checks_match_linux("signals");
}

/// `name` prints the same lines and exits the same way on Linux and in the
/// guest on 1, 2 and 4 vCPUs, with at least `min` checks, all ok.
fn matches_linux_on_1_2_4_vcpus(name: &str, min: usize) -> ExitReport {
    let (code, out, err) = on_host(name, &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{name} on Linux: {out}");
    assert!(out.lines().count() >= min && out.lines().all(|l| l.starts_with("ok ")), "{out}");
    let mut last = None;
    for vcpus in [1, 2, 4] {
        let r = in_guest(name, &[], vcpus);
        let linux = Linux { status: 0, stdout: &out, stderr: Some("") };
        common::assert_matches_linux(&format!("{name} on {vcpus} vCPUs"), &r, linux);
        last = Some(r);
    }
    last.unwrap()
}

#[test]
fn thread_group_exit_status_matches_linux() {
    // Issue 13 item 2: the main thread's exit(3) then the last thread's
    // exit(5) is status 5 (the last thread to begin exiting decides, Linux
    // `synchronize_group_exit`); the main thread is a zombie nobody can reap,
    // and SIGCHLD comes only with the last thread; races of two exits, and of
    // exit_group with the main thread's exit, on several CPUs.
    let r = matches_linux_on_1_2_4_vcpus("groupexit", 12);
    let g = r.counters.global;
    // 1 + 1 + 30 x 2 + 30 + 1 threads.
    assert_eq!(g.clones_thread, 93, "{}", common::explain(&r));
}

#[test]
fn execve_from_a_thread_matches_linux() {
    // Issue 13 item 1 (Linux `de_thread`): a thread that is not the leader
    // execs while the leader and a spinning thread run; the new image has the
    // process's pid as its tid, the same parent, no trace of the other
    // threads or of its old tid, the dead threads' CPU time, and its status is
    // what wait4 reports (nothing for the old leader). Also: exec after the
    // leader's exit, exec from the leader, two execs at once, exec racing
    // exit_group, SIGKILL during exec, CLONE_FILES and close-on-exec, and the
    // exit signal reset to SIGCHLD.
    let r = matches_linux_on_1_2_4_vcpus("dethread", 30);
    // Each of the 3 x 20 racing rounds of two threads, and the other cases, ran.
    assert!(r.counters.global.clones_thread >= 2 + 1 + 2 + 3 * 2 * 20, "{}", common::explain(&r));
    // The killed threads, the released leaders and their pids were given back.
    left_nothing_behind(&r, "dethread");
}

#[test]
fn shebang_scripts_match_linux() {
    // Issue 13 item 8, `#!` (Linux fs/binfmt_script.c): the interpreter's
    // argv (name, one optional argument, the script's path, the arguments),
    // the 256-byte line, ENOEXEC/EACCES/ENOENT for bad lines and
    // interpreters, five nested scripts and ELOOP for six. The interpreter is
    // the program itself, as argv[0] names it (/bin/shebang in the guest).
    matches_linux_on_1_2_4_vcpus("shebang", 30);
}

#[test]
fn process_directed_signals_match_linux() {
    // Issue 13 item 4: kill(pid) goes to a thread that does not block the
    // signal (the main thread first), stays pending for the process while all
    // block it, tgkill only to its thread; a fatal signal kills every thread,
    // also after the main thread exited.
    matches_linux_on_1_2_4_vcpus("groupsig", 30);
}

#[test]
fn jobctl_job_control_matches_linux() {
    // Issue 13 item 3: SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU stop every thread of
    // a process (a counter each thread increments stays still, a thread
    // asleep in futex_wait stops too), SIGCONT resumes it (ignored, blocked
    // or handled), SIGKILL ends a stopped process, SIGTERM waits for SIGCONT;
    // wait4 WUNTRACED/WCONTINUED and waitid WSTOPPED/WCONTINUED/WNOWAIT
    // statuses and si_code/si_status, each reported once; SIGCHLD's siginfo
    // with and without SA_NOCLDSTOP; an orphaned process group ignores
    // SIGTSTP; SIGSTOP racing exit_group.
    let r = matches_linux_on_1_2_4_vcpus("jobctl", 100);
    left_nothing_behind(&r, "jobctl");
}

#[test]
fn ptrace_follows_a_process_tree_as_on_linux() {
    // Issue 14 item 1: an `strace -f` of fork, vfork + exec, a thread and an
    // exec (PTRACE_TRACEME, TRACEFORK/VFORK/CLONE/EXEC/EXIT/VFORKDONE, new
    // tasks attached with SIGSTOP, each task's stops in order); PTRACE_SEIZE
    // (PTRACE_EVENT_STOP, INTERRUPT, a group stop), PTRACE_LISTEN (the
    // JOBCTL_TRAP_NOTIFY re-trap at SIGCONT or INTERRUPT, nothing to wait for
    // while listening, the real parent's WUNTRACED/WCONTINUED, EIO/ESRCH),
    // GETREGS/SETREGS and putreg's checks, PEEK/POKEDATA on copy-on-write and
    // read-only pages,
    // signal injection and suppression, DETACH with a signal, KILL, the
    // tracer's exit (and EXITKILL), the legacy SIGTRAP after exec, errors.
    let r = matches_linux_on_1_2_4_vcpus("ptrace", 100);
    assert!(r.counters.global.clones_vfork >= 1, "{}", common::explain(&r));
}

#[test]
fn a_process_killed_while_a_signal_is_delivered_leaves_nothing_behind() {
    // The fuzzer's task leak (issue 12 item 7): a default action that ends
    // the process, or a handler frame that does not fit (forced SIGSEGV),
    // came from `do_signal` while the return-to-user loop held a reference
    // to the task, and `do_group_exit` never returns: every such death left
    // its task, kernel stack and ~26 KiB of heap behind. And a sleep ended
    // early left its timer queued on its CPU, holding the task until the
    // deadline, if it exited on another. Statuses as on Linux; after 4 x 25
    // such ends, everything is as after the warm-up.
    let r = matches_linux_on_1_2_4_vcpus("sigdeath", 4);
    left_nothing_behind(&r, "sigdeath");
}

/// The program's counter snapshots `NAME-before` and `NAME-after` (a run on
/// 4 vCPUs) show the same frames, kernel stacks, pids, open files, page-table
/// pages and tasks, and the heap within what the per-CPU caches of kernel
/// stacks (4 CPUs x 2 x 16 KiB) may have filled.
fn left_nothing_behind(r: &ExitReport, name: &str) {
    let snap = |label: String| {
        let s: Vec<_> = r.snapshots.iter().filter(|s| s.label == label).collect();
        assert_eq!(s.len(), 1, "one {label} snapshot\n{}", common::explain(r));
        s[0].counters.global
    };
    let (a, b) = (snap(format!("{name}-before")), snap(format!("{name}-after")));
    assert_eq!(common::kernel_resources(&a), common::kernel_resources(&b), "{name}");
    assert!(
        b.heap_bytes <= a.heap_bytes + 4 * 2 * (16 << 10),
        "{name}: heap {} B before, {} B after",
        a.heap_bytes,
        b.heap_bytes
    );
}

#[test]
fn vfork_suspends_the_parent_until_exit_or_exec() {
    let (code, out, err) = on_host("vfork", &[path("exitcode").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let r = Vmm::builder()
        .cmdline("quiet")
        .file(path("exitcode"), "/bin/exitcode")
        .program(path("vfork"), &["/bin/exitcode"])
        .boot()
        .unwrap()
        .wait(Some(common::TIMEOUT))
        .unwrap();
    common::assert_matches_linux("vfork", &r, Linux { status: 0, stdout: &out, stderr: None });
    // 7 vforks (vfork() and clone(CLONE_VM|CLONE_VFORK)), nothing else.
    let g = r.counters.global;
    assert_eq!((g.clones_vfork, g.clones_fork, g.clones_vm, g.clones_thread), (7, 0, 0, 0));
}

/// Fork with `stage` failing on its `nth` reach: the errno, that the injection
/// fired, and that the failed clone left nothing behind (the kernel compares
/// frames, page-table pages, kernel stacks, pids, tasks and open-file references
/// before and after; the test also compares the end state with a clean run).
fn injected(stage: &str, nth: u32, errno: &str) {
    injected_with(stage, nth, errno, &[]);
}

/// `injected` with arguments for forkonce (`newns`: clones with CLONE_NEWPID
/// and CLONE_NEWUTS).
fn injected_with(stage: &str, nth: u32, errno: &str, args: &[&str]) {
    let clean = in_guest("forkonce", args, 1);
    assert_eq!(clean.stdout, "first fork: ok\nsecond fork: ok\n", "{}", common::explain(&clean));
    let r = Vmm::builder()
        .cmdline(format!("quiet fail={stage}:{nth}"))
        .program(path("forkonce"), args)
        .boot()
        .unwrap()
        .wait(Some(common::TIMEOUT))
        .unwrap();
    assert_eq!(
        r.stdout,
        format!("first fork: {errno}\nsecond fork: ok\n"),
        "{stage}: {}",
        common::explain(&r)
    );
    assert_eq!(r.exit, GuestExit::Status(0), "{stage}: {}", common::explain(&r));
    let (g, c) = (r.counters.global, clean.counters.global);
    assert_eq!(g.fault_injections, 1, "{stage}: the injection fired once");
    assert_eq!(g.fault_injection_leaks, 0, "{stage}: {}", r.console);
    // One task fewer was ever created; everything else ends as in a clean run.
    assert_eq!(g.total_forks + 1, c.total_forks, "{stage}");
    for (what, a, b) in [
        ("kernel stacks", g.kstacks_in_use, c.kstacks_in_use),
        ("pids", g.pids_in_use, c.pids_in_use),
        ("tasks", g.nr_threads, c.nr_threads),
        ("open files", g.open_files, c.open_files),
        ("page-table pages", g.page_table_pages, c.page_table_pages),
    ] {
        assert_eq!(a, b, "{stage}: {what} in use at the end");
    }
}

#[test]
fn fault_injection_at_every_copy_process_stage_leaks_nothing() {
    injected("dup_task_struct", 1, "ENOMEM");
    injected("copy_files", 1, "ENOMEM");
    injected("copy_fs", 1, "ENOMEM");
    injected("copy_sighand", 1, "ENOMEM");
    // forkonce's fork shares one page table (its text, data and heap) and
    // copies two entries: the share, and the second entry after the first.
    injected("copy_mm", 1, "ENOMEM");
    injected("copy_mm", 3, "ENOMEM");
    injected("alloc_pid", 1, "EAGAIN");
    // New namespaces: their own stage, and the later stages undo them too.
    // forkonce's newns clone asks for a user, mount, UTS, IPC, PID, cgroup
    // and network namespace: every allocation is an injection point.
    injected_with("copy_namespaces", 1, "ENOMEM", &["newns"]);
    injected_with("copy_namespaces", 2, "ENOMEM", &["newns"]);
    injected_with("copy_namespaces", 5, "ENOMEM", &["newns"]);
    injected_with("copy_namespaces", 7, "ENOMEM", &["newns"]);
    injected_with("copy_mm", 2, "ENOMEM", &["newns"]);
    injected_with("alloc_pid", 1, "EAGAIN", &["newns"]);
    // CLONE_PIDFD: its own stage (after alloc_pid), and the pid stage before
    // it; forkonce also checks that no descriptor number stays taken.
    injected_with("pidfd_prepare", 1, "ENOMEM", &["pidfd"]);
    injected_with("alloc_pid", 1, "EAGAIN", &["pidfd"]);
    // cgroup_can_fork (after pidfd_prepare; fails as the pids controller
    // does): the pidfd, the pid and everything before them are undone, and
    // the kernel's check also compares the cgroup's pids charge.
    injected("cgroup_can_fork", 1, "EAGAIN");
    injected_with("cgroup_can_fork", 1, "EAGAIN", &["pidfd"]);
    injected_with("cgroup_can_fork", 1, "EAGAIN", &["newns"]);
}

#[test]
fn fault_injection_cli_flag() {
    let o = common::vmm(&["run", "--fail-at", "alloc_pid:1", path("forkonce").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", common::explain_output(&o));
    assert_eq!(
        common::stdout(&o),
        "first fork: EAGAIN\nsecond fork: ok\n",
        "{}",
        common::explain_output(&o)
    );
    // A bad stage is a usage error of the VMM's (tests/cli.rs); the guest's
    // own check of its command line still answers a bad `fail=`.
    let o = common::vmm(&["run", "--cmdline", "fail=bogus:1"]);
    assert_eq!(
        o.status.code(),
        Some(vmm::protocol::exit_status::BAD_CMDLINE as i32),
        "{}",
        common::explain_output(&o)
    );
}

#[test]
fn reused_frames_are_zeroed() {
    // 3 x 64 MiB in a 112 MiB guest: after the never-used frames run out, freed
    // frames are reused and must be zeroed (`rep stosq` in ring 0) — every fresh
    // page reads zero before it is written.
    let r = Vmm::builder()
        .memory_mib(112)
        .cmdline("quiet")
        .program(path("mmap64"), &["3"])
        .boot()
        .unwrap()
        .wait(Some(common::TIMEOUT))
        .unwrap();
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    assert_eq!(r.stdout, "ok 64 MiB\nok 64 MiB\nok 64 MiB\n", "{}", common::explain(&r));
    assert!(r.counters.global.pages_zero_filled >= 3 * 16384);
}

#[test]
fn page_tables_shared_copy_on_write_by_fork() {
    // Four whole page tables of a private mapping are shared by each fork
    // (On-demand-fork) and unshared by the first change in either process:
    // writes, a new page, mprotect, munmap of part of a table, and the last
    // sharer taking a table back; the same for a whole GiB shared as one page
    // directory.
    let r = same_as_linux("cowtables", &[]);
    let g = r.counters.global;
    assert!(g.fork_page_tables_shared >= 3 * 4, "{}", g.fork_page_tables_shared);
    assert!(g.page_tables_unshared >= 4, "{}", g.page_tables_unshared);
    // A whole GiB is shared as one page directory: by each of its two forks,
    // the grandchild's fork from the child, and the 32 TiB area's fork (its
    // first and last GiB).
    assert!(g.fork_page_dirs_shared >= 5, "{}", g.fork_page_dirs_shared);
    // Only the small areas (stack, data) are copied entry by entry.
    assert!(g.fork_ptes_copied < 3 * 64, "{}", g.fork_ptes_copied);
    // A parent's forks reuse the blocks its areas cover in part while the
    // areas stay the same: a page mapped in a block of its own is one more
    // table shared by the next fork, and one fewer once it is unmapped.
    let shared = |label: &str| {
        let at = |kind: &str| {
            let want = format!("{kind} {label}");
            let s = r.snapshot(&want).unwrap_or_else(|| panic!("no snapshot {want:?}"));
            s.counters.global.fork_page_tables_shared
        };
        at("e") - at("b")
    };
    let before = shared("partial before");
    assert!(before >= 1, "the stack's and the data's blocks: {before}");
    assert_eq!(shared("partial with"), before + 1);
    assert_eq!(shared("partial after"), before);
}

#[test]
fn fork_bomb_and_signals_during_fork_match_linux() {
    // A real fork bomb of a non-root user bounded by RLIMIT_NPROC while root
    // goes on forking; a process-group signal sent while a fork is in progress
    // reaches the child too (2 vCPUs, so that the signal can arrive in the
    // middle of copy_process), and one sent to the parent alone does not.
    let (code, out, err) = on_host("forkstress", &[]);
    assert_eq!((code, err.as_str()), (0, ""), "on Linux: {out}");
    let r = in_guest("forkstress", &[], 2);
    let linux = Linux { status: 0, stdout: &out, stderr: None };
    common::assert_matches_linux("forkstress on 2 vCPUs", &r, linux);
    assert!(r.stdout.contains("ok a signal to the process group while its member forks"));
}

#[test]
fn contended_kernel_locks_block_in_the_vmm_and_are_kicked() {
    // Eight processes forking, reaping and exiting at once on 4 vCPUs (which
    // time-share this machine's 2 cores) meet on the task-list lock, the run
    // queues and the heap. With `pvspin=1` a waiter that finds a lock taken
    // blocks in the VMM (`PvWait`) almost at once, and the unlocker kicks it
    // (`PvKick`): the results are exact, and the counters show that path ran.
    let args = ["8", "25"];
    let (code, out, err) = on_host("lockstress", &args);
    assert_eq!((code, err.as_str()), (0, ""), "on Linux: {out}");
    let r = Vmm::builder()
        .vcpus(4)
        .memory_mib(256)
        .cmdline("quiet pvspin=1")
        .program(path("lockstress"), &args)
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait");
    let linux = Linux { status: 0, stdout: &out, stderr: None };
    common::assert_matches_linux("lockstress on 4 vCPUs", &r, linux);
    let cpus = &r.counters.cpu[..4];
    let contended: u64 = cpus.iter().map(|c| c.pv_lock_contended).sum();
    let waits: u64 = cpus.iter().map(|c| c.pv_waits).sum();
    let kicks: u64 = cpus.iter().map(|c| c.pv_kicks).sum();
    let figures = format!("{contended} contended, {waits} waits, {kicks} kicks");
    assert!(contended > 0 && waits > 0 && kicks > 0, "{figures}");
    // A kick follows only an unlock that found the word marked contended, and
    // only a waiter marks it: once before it blocks (or takes a freed lock)
    // and once after each wait.
    assert!(kicks <= contended + 2 * waits, "{figures}");
    assert_eq!(r.hypercall_errors, 0, "every PvWait and PvKick was well formed");
}

#[test]
fn forked_children_run_on_every_cpu() {
    for vcpus in [2u32, 4] {
        let n = (2 * vcpus).to_string();
        let (_, out, _) = on_host("forkstress", &["spread", &n]);
        let r = in_guest("forkstress", &["spread", &n], vcpus);
        let linux = Linux { status: 0, stdout: &out, stderr: None };
        common::assert_matches_linux(&format!("forkstress spread on {vcpus} vCPUs"), &r, linux);
        // The children spin making system calls until all have started: every
        // CPU ran some of them.
        let calls: Vec<u64> = r.counters.cpu[..vcpus as usize].iter().map(|c| c.syscalls).collect();
        assert!(calls.iter().all(|&n| n > 0), "{vcpus} vCPUs: system calls per CPU {calls:?}");
    }
}

#[test]
fn process_counters() {
    // forkonce: two forks, two waits, three exits (the children and pid 1).
    let r = in_guest("forkonce", &[], 1);
    assert_eq!(r.stdout, "first fork: ok\nsecond fork: ok\n", "{}", common::explain(&r));
    let g = r.counters.global;
    let cpus = &r.counters.cpu;
    let forks: u64 = cpus.iter().map(|c| c.forks).sum();
    // Every task but pid 1 came from copy_process, counted on the CPU that ran it.
    assert_eq!(forks + 1, g.total_forks);
    assert_eq!(g.clones_fork, 2);
    assert_eq!((g.clones_vfork, g.clones_thread, g.clones_vm), (0, 0, 0));
    assert_eq!(g.clones_fork + g.clones_kthread, forks, "every clone has a kind");
    assert_eq!(g.copy_process_calls, forks, "no clone failed");
    assert_eq!(g.wait_calls, 2);
    assert_eq!(g.do_exit_calls, 3);
    assert!(g.copy_process_tsc > 0 && g.wait_tsc > 0 && g.do_exit_tsc > 0);
    // nr_processes(): what is left are the kernel's threads.
    let nr_processes = cpus.iter().fold(0u64, |a, c| a.wrapping_add(c.process_count));
    assert_eq!(nr_processes, g.nr_threads);
    // A failed clone is a copy_process call but no fork.
    let r = Vmm::builder()
        .cmdline("quiet fail=copy_fs:1")
        .program(path("forkonce"), &[] as &[&str])
        .boot()
        .unwrap()
        .wait(Some(common::TIMEOUT))
        .unwrap();
    assert_eq!(r.stdout, "first fork: ENOMEM\nsecond fork: ok\n", "{}", common::explain(&r));
    let g = r.counters.global;
    let forks: u64 = r.counters.cpu.iter().map(|c| c.forks).sum();
    assert_eq!(g.copy_process_calls, forks + 1);
    assert_eq!(g.clones_fork, 1);
    // vfork, threads and other CLONE_VM children are counted by kind.
    let (code, out, _) = on_host("clone", &[]);
    let r = in_guest("clone", &[], 2);
    let linux = Linux { status: code, stdout: &out, stderr: None };
    common::assert_matches_linux("clone on 2 vCPUs", &r, linux);
    let g = r.counters.global;
    // The program makes 7 threads, 3 other CLONE_VM children and 51 processes.
    assert_eq!((g.clones_thread, g.clones_vm, g.clones_fork), (7, 3, 51));
    let forks: u64 = r.counters.cpu.iter().map(|c| c.forks).sum();
    assert_eq!(
        g.clones_fork + g.clones_vfork + g.clones_thread + g.clones_vm + g.clones_kthread,
        forks
    );
    let nr_processes = r.counters.cpu.iter().fold(0u64, |a, c| a.wrapping_add(c.process_count));
    assert_eq!(nr_processes, g.nr_threads);
    // vfork's are counted in vfork_suspends_the_parent_until_exit_or_exec.
}

/// `name`'s checks on the host, then in the guest on 1, 2 and 4 vCPUs: the
/// same lines, all "ok", and the same exit status (0) every time.
fn checks_match_linux_on_1_2_4_vcpus(name: &str, args: &[&str]) -> String {
    let (code, out, err) = on_host(name, args);
    assert_eq!((code, err.as_str()), (0, ""), "{name} on Linux:\n{out}");
    assert!(
        out.lines().count() > 20 && out.lines().all(|l| l.starts_with("ok ")),
        "{name}: at least 20 checks, all ok on Linux:\n{out}"
    );
    for vcpus in [1, 2, 4] {
        let r = in_guest(name, args, vcpus);
        let linux = Linux { status: code, stdout: &out, stderr: Some(&err) };
        common::assert_matches_linux(&format!("{name} on {vcpus} vCPUs"), &r, linux);
    }
    out
}

#[test]
fn file_attributes_match_linux() {
    // chown/fchown/lchown/fchownat (-1, AT_EMPTY_PATH, the set-ID bits they
    // clear), chmod/fchmod/fchmodat, truncate/ftruncate and their errors,
    // statfs/fstatfs as tmpfs reports them, and the permission checks for a
    // user that is not root; bad pointers are EFAULT with nothing changed.
    let out = checks_match_linux_on_1_2_4_vcpus("fsattr", &[]);
    assert!(out.contains("ok f_type TMPFS_MAGIC"), "{out}");
    assert!(out.contains("ok the unprivileged child's checks pass"), "{out}");
}

#[test]
fn proc_files_and_mounts_match_linux() {
    // /proc/self and thread-self, the machine-independent fields of
    // PID/stat and PID/status, comm after PR_SET_NAME, cmdline, a zombie's
    // stat before the reap and ENOENT after, no kernel stack held by a
    // zombie, task/ of three threads, maps of a known mapping, the global
    // files' formats; mount/umount2 of proc and their errors (Linux: in a
    // private mount namespace).
    let out = checks_match_linux_on_1_2_4_vcpus("procfs", &["one", "two words"]);
    assert!(out.contains("ok a child before it is reaped: state Z"), "{out}");
    assert!(out.contains("ok meminfo: 128 zombies hold no kernel stacks"), "{out}");
    assert!(out.contains("ok DIR/.. leaves the mount"), "{out}");
}

#[test]
fn every_namespace_kind_matches_linux() {
    // /proc/PID/ns links and stat through them, which links each CLONE_NEW*
    // flag of unshare and clone changes, the flag and permission checks, a
    // user namespace made by a user that is not root (ids 65534 inside, other
    // namespaces allowed, a nested user namespace not), a proc mount in a
    // private mount namespace its parent does not see.
    let out = checks_match_linux_on_1_2_4_vcpus("nsall", &[]);
    assert!(out.contains("ok unshare(CLONE_NEWTIME): only the one for children differs"), "{out}");
    assert!(out.contains("ok the proc mount in the child's mount namespace is not seen"), "{out}");
}

#[test]
fn interval_timers_and_alarm_match_linux() {
    // setitimer/getitimer/alarm: values, rounding and errors; SIGALRM once,
    // periodically and while blocked; ITIMER_VIRTUAL and ITIMER_PROF from CPU
    // time; cleared by fork, kept by execve (the program execs itself).
    let out = checks_match_linux_on_1_2_4_vcpus("itimer", &[]);
    assert!(out.contains("ok after execve: REAL kept"), "{out}");
    assert!(out.contains("ok PROF: SIGPROF three times, periodically"), "{out}");
}

#[test]
fn running_programs_cannot_be_written_as_on_linux() {
    // ETXTBSY: open for writing, O_TRUNC and truncate of a file a process
    // runs (and a fork of it, after the first is gone), exec of a file open
    // for writing; reading, chmod and unlink allowed.
    let out = checks_match_linux_on_1_2_4_vcpus("txtbusy", &[]);
    assert!(out.contains("ok execve of a file open for writing: ETXTBSY"), "{out}");
}

#[test]
fn load_averages_follow_the_runnable_tasks() {
    // /proc/loadavg's three figures, Linux's fixed-point decay every 5 s
    // (calc_global_load): two spinning threads on 1 vCPU for two updates
    // (~11 s). Guest only: a busy host's figures include everything else.
    let r = in_guest("loadavg", &["2"], 1);
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    assert!(r.stdout.contains("ok after two: about 30"), "{}", r.stdout);
}

#[test]
fn parent_death_signal_matches_linux() {
    // PR_SET_PDEATHSIG/PR_GET_PDEATHSIG and their errors; the signal when the
    // parent exits (SI_USER from the parent, the subreaper the new parent),
    // and when the parent is a thread that exits alone; not inherited by
    // fork, kept by execve, cleared by setuid/setgid to other ids.
    let out = checks_match_linux_on_1_2_4_vcpus("pdeathsig", &[]);
    assert!(out.contains("ok the parent thread exits: the grandchild gets SIGUSR1"), "{out}");
    assert!(out.contains("ok execve keeps it"), "{out}");
}

#[test]
fn posix_timers_match_linux() {
    // timer_create/settime/gettime/getoverrun/delete: clocks, sigevents, ids
    // and every error; SI_TIMER siginfo; one signal per timer with the
    // skipped expiries as its overrun; SIGEV_NONE; SIGEV_THREAD_ID and a
    // process-directed timer signal taken by the thread that does not block
    // it; CPU-time clocks; none in a fork child or after execve.
    let out = checks_match_linux_on_1_2_4_vcpus("posixtimer", &[]);
    assert!(out.contains("ok si_overrun counts the expiries skipped (5 or more)"), "{out}");
    assert!(out.contains("ok the thread that does not block it"), "{out}");
    assert!(out.contains("ok after execve: no timer is left"), "{out}");
}

#[test]
fn resource_usage_matches_linux() {
    // getrusage(SELF, CHILDREN, THREAD), wait4's rusage, CLOCK_PROCESS_ and
    // CLOCK_THREAD_CPUTIME_ID: which figures move and by at least how much,
    // never backwards, an exited thread's figures kept by its process,
    // children's (and grandchildren's) only once reaped, EINVAL and EFAULT.
    let out = checks_match_linux_on_1_2_4_vcpus("rusage", &[]);
    assert!(out.contains("ok the exited thread's 40 ms stay in RUSAGE_SELF"), "{out}");
    assert!(out.contains("ok RUSAGE_CHILDREN after the reap is wait4's rusage"), "{out}");
    assert!(out.contains("ok touching 512 new pages: 512 minor faults or more"), "{out}");
}

/// What `pidfd` prints on Linux 6.18 as root (every check passes). pidfds
/// changed much up to 6.15 (pidfs, PIDFD_THREAD and the PIDFD_SIGNAL_* scopes
/// in 6.9, ENOENT for a thread's pid and the poll rule for a main thread that
/// exited first in 6.15): an older host's Linux (the SVM lane's L1 runs 6.1)
/// is not the reference, this transcript is.
const PIDFD_TRANSCRIPT: &str = include_str!("pidfd-linux-6.18.txt");

/// The host's Linux version (major, minor).
fn host_linux_version() -> (u32, u32) {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut n = r.split(|c: char| !c.is_ascii_digit()).filter_map(|x| x.parse().ok());
    (n.next().unwrap_or(0), n.next().unwrap_or(0))
}

#[test]
fn pidfds_match_linux() {
    // Issue 13 item 6: pidfd_open (flags, ESRCH, ENOENT for a thread without
    // PIDFD_THREAD), CLONE_PIDFD for clone and clone3 (EFAULT leaves no child
    // and no descriptor), waitid(P_PIDFD) (non-children: ECHILD; a
    // non-blocking pidfd: EAGAIN), poll/ppoll (POLLIN at exit, POLLHUP once
    // reaped, a process whose main thread left first), pidfd_send_signal
    // (siginfo rules, scopes, ESRCH once reaped), pidfd_getfd, the pidfd as a
    // file (fstat, fcntl, read/write/lseek), across fork and execve,
    // CLONE_CLEAR_SIGHAND, and clone3's set_tid in a new PID namespace.
    let version = host_linux_version();
    if version >= (6, 15) {
        let (code, out, err) = on_host("pidfd", &[]);
        assert_eq!((code, err.as_str()), (0, ""), "pidfd on Linux {version:?}:\n{out}");
        assert!(
            out == PIDFD_TRANSCRIPT,
            "Linux {version:?} differs from the transcript at {}",
            common::first_difference(PIDFD_TRANSCRIPT, &out)
        );
    } else {
        eprintln!("Linux {version:?} predates 6.15's pidfds: the 6.18 transcript is the reference");
    }
    assert!(PIDFD_TRANSCRIPT.lines().count() > 140);
    for vcpus in [1, 2, 4] {
        let r = in_guest("pidfd", &[], vcpus);
        let linux = Linux { status: 0, stdout: PIDFD_TRANSCRIPT, stderr: Some("") };
        common::assert_matches_linux(&format!("pidfd on {vcpus} vCPUs"), &r, linux);
    }
}

/// What `cgroup pids` prints where cgroup2 has the pids controller, every
/// check passing: Linux 6.18's behaviour as its source has it
/// (kernel/cgroup/pids.c: hierarchical `pids.events` and
/// `pids.events.local` since 6.13, `pids.peak`; kernel/cgroup/cgroup.c: the
/// no-internal-process rule for a threaded controller). This machine's
/// cgroup2 has no pids controller (pids is bound to a cgroup v1 hierarchy),
/// so here the transcript is the reference; a host whose cgroup2 has it
/// (Linux 6.13 or later) must print the same lines.
const CGROUP_PIDS_TRANSCRIPT: &str = include_str!("cgroup-pids-linux-6.18.txt");

#[test]
fn cgroups_match_linux() {
    // Issue 14 item 2, the core: mkdir/rmdir, the files and their errors,
    // cgroup.procs/cgroup.threads moves, cgroup.events, /proc/PID/cgroup,
    // zombies, CLONE_INTO_CGROUP — on the host's cgroup2 (in a group of the
    // program's own) and in the guest (cgroup2 mounted at /sys/fs/cgroup).
    let out = checks_match_linux_on_1_2_4_vcpus("cgroup", &[]);
    assert!(out.contains("ok rmdir the group with only a zombie"), "{out}");
    assert!(out.contains("ok clone3(CLONE_INTO_CGROUP, the group's directory)"), "{out}");
    // The pids controller.
    let version = host_linux_version();
    if version >= (6, 13) {
        let (code, out, err) = on_host("cgroup", &["pids"]);
        assert_eq!((code, err.as_str()), (0, ""), "cgroup pids on Linux {version:?}:\n{out}");
        if out.starts_with("skip:") {
            eprintln!("Linux {version:?} here has no pids controller in cgroup2: {}", out.trim());
        } else {
            assert!(
                out == CGROUP_PIDS_TRANSCRIPT,
                "Linux {version:?} differs from the transcript at {}",
                common::first_difference(CGROUP_PIDS_TRANSCRIPT, &out)
            );
        }
    } else {
        eprintln!(
            "Linux {version:?} predates 6.13's pids events: the 6.18 transcript is the reference"
        );
    }
    assert!(CGROUP_PIDS_TRANSCRIPT.lines().all(|l| l.starts_with("ok ")));
    for vcpus in [1, 2, 4] {
        let r = in_guest("cgroup", &["pids"], vcpus);
        let linux = Linux { status: 0, stdout: CGROUP_PIDS_TRANSCRIPT, stderr: Some("") };
        common::assert_matches_linux(&format!("cgroup pids on {vcpus} vCPUs"), &r, linux);
        // Linux logs the first failed fork of each group.
        for group in ["/kvmfork-pids", "/kvmfork-pids/sub"] {
            let line = format!("cgroup: fork rejected by pids controller in {group}\n");
            assert_eq!(r.console.matches(&line).count(), 1, "{line}{}", common::explain(&r));
        }
    }
}

#[test]
fn the_number_of_memory_areas_is_limited_as_linux_limits_it() {
    // mprotect of every other page splits a mapping until vm.max_map_count
    // (Linux's 65530 on the host; 1000 in the guest, through its command
    // line, to keep the run short): ENOMEM, then munmap of a hole is ENOMEM
    // and of a whole area is not; the same lines on both.
    let (code, out, err) = on_host("mapcount", &[]);
    assert_eq!((code, err.as_str()), (0, ""), "mapcount on Linux: {out}");
    let r = Vmm::builder()
        .cmdline("quiet max_map_count=1000")
        .program(path("mapcount"), &["1000"])
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait");
    let linux = Linux { status: 0, stdout: &out, stderr: Some("") };
    common::assert_matches_linux("mapcount", &r, linux);
    left_nothing_behind(&r, "mapcount");
}

#[test]
fn file_mappings_match_linux() {
    // Issue 13 item 8: MAP_SHARED and MAP_PRIVATE mappings of RAM-fs files
    // (the page cache: write() seen through a shared mapping, stores seen by
    // read(), across fork and execve; copy-on-write for private mappings),
    // SIGBUS past the end of the file and after a truncate, munmap/mprotect
    // (EACCES for PROT_WRITE on a shared read-only file), every mmap error
    // for files, msync's checks; the frames of the files and mappings are
    // gone at the end.
    let out = checks_match_linux_on_1_2_4_vcpus("filemap", &[]);
    assert!(out.contains("ok the exec'd program saw the parent's store"), "{out}");
    assert!(out.contains("ok a private copy past the new end: SIGBUS"), "{out}");
    let r = in_guest("filemap", &[], 4);
    left_nothing_behind(&r, "filemap");
}

#[test]
fn shared_futexes_between_processes_match_linux() {
    // Issue 13 item 9: FUTEX_WAIT/FUTEX_WAKE without FUTEX_PRIVATE_FLAG
    // between two processes, over MAP_SHARED|MAP_ANONYMOUS memory inherited
    // across fork and over a /tmp file the child maps again elsewhere (Linux
    // `get_futex_key`: object and offset); private wakes, and shared wakes
    // on MAP_PRIVATE memory, from the other process wake nobody.
    let r = matches_linux_on_1_2_4_vcpus("futexshared", 6);
    assert!(
        r.stdout.contains("elsewhere: the other process's wake woke the waiter"),
        "{}",
        r.stdout
    );
}
