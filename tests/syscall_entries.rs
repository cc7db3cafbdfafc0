//! The same programs through each system-call entry the host can run: the
//! int3 gate (kernel command line `syscall=int3`; programs that execute
//! `syscall` themselves go through zpoline) and, where `syscall` reaches ring
//! 0 (hardware KVM; not this machine's kvm_pvm, where the test says so and
//! runs the gate alone), the `syscall` instruction's LSTAR entry
//! (`syscall=insn`): signals, restarts, vfork, clone, rt_sigreturn, exec and
//! preemption must behave the same, and as on Linux (same static binaries on
//! the host). Each comparison names the program and the entry.

mod common;

use vmm::programs::path;
use vmm::{ExitReport, GuestExit, Vmm};

/// Run `name` as pid 1 with `entry` on the kernel command line.
fn in_guest(entry: &str, vcpus: u32, name: &str, args: &[&str], files: &[&str]) -> ExitReport {
    let mut b = Vmm::builder()
        .vcpus(vcpus)
        .memory_mib(256)
        .cmdline(format!("quiet {entry}"))
        .program(path(name), args);
    for f in files {
        b = b.file(path(f), format!("/bin/{f}"));
    }
    b.boot().expect("boot").wait(Some(common::TIMEOUT)).expect("wait")
}

/// Run `name` on the host: (exit code or 128 + signal, stdout).
fn on_host(name: &str, args: &[&str]) -> (u8, String) {
    let (code, out, _) = common::run_on_host(path(name), args);
    (code, out)
}

/// The entry the guest reports it used: 1 `syscall`, 2 the int3 gate.
fn entry_number(entry: &str) -> u64 {
    match entry {
        "syscall=insn" => 1,
        "syscall=int3" => 2,
        _ => panic!("unknown entry {entry}"),
    }
}

/// `name` (with `files` in /bin) behaves as on Linux through every entry;
/// `host_args` are its arguments on the host (paths differ for exec).
fn same_through_every_entry(
    name: &str,
    args: &[&str],
    host_args: &[&str],
    files: &[&str],
    vcpus: u32,
) -> Vec<(String, ExitReport)> {
    let (code, out) = on_host(name, host_args);
    let mut reports = Vec::new();
    for entry in common::syscall_entries() {
        let r = in_guest(entry, vcpus, name, args, files);
        let what = format!("{name} through {entry} on {vcpus} vCPUs");
        assert_eq!(
            r.exit,
            GuestExit::Status(code),
            "{what}: exit status; kernel said:\n{}\nstdout:\n{}",
            r.console,
            r.stdout
        );
        assert_eq!(r.stdout, out, "{what}: stdout differs from Linux");
        let g = &r.counters.global;
        assert_eq!(g.syscall_entry, entry_number(entry), "{what}: the entry in use");
        let sysrets: u64 = r.counters.cpu.iter().map(|c| c.sysret_returns).sum();
        if *entry == "syscall=insn" {
            assert!(sysrets > 0, "{what}: no return by sysretq");
        } else {
            // Only the boot self-test's own `syscall`, where it reaches ring 0.
            let probe = (g.syscall_insn == 1) as u64;
            assert_eq!(sysrets, probe, "{what}: a sysretq return through the int3 gate");
        }
        reports.push((entry.to_string(), r));
    }
    reports
}

#[test]
fn system_calls_files_and_bad_pointers() {
    for (name, args) in [
        ("hello", &["a", "b c", ""][..]),
        ("hello_c", &["a", "b c", ""]),
        ("hello_pie", &[]),
        ("syscalls", &[]),
        ("syscalls_c", &[]),
        ("files", &[]),
        ("files_c", &[]),
        ("efault", &[]),
        ("exitcode", &["42"]),
        ("mmap64", &[]),
    ] {
        same_through_every_entry(name, args, args, &[], 1);
    }
}

#[test]
fn fork_clone_vfork_and_exec() {
    for (name, vcpus) in [("fork", 2), ("fork_c", 1), ("clone", 2), ("cowtables", 1)] {
        same_through_every_entry(name, &[], &[], &[], vcpus);
    }
    // vfork: the child runs on the parent's stack (the gate's return address
    // was read at entry and is never read again) until exit or exec.
    let exitcode = path("exitcode");
    let e = exitcode.to_str().unwrap();
    same_through_every_entry("vfork", &["/bin/exitcode"], &[e], &["exitcode"], 1);
    let execed = path("execed");
    let e = execed.to_str().unwrap();
    same_through_every_entry("execer", &["/bin/execed"], &[e], &["execed"], 1);
    // Signals to a process group during fork restart the fork (ERESTARTNOINTR).
    same_through_every_entry("forkstress", &[], &[], &[], 2);
}

#[test]
fn signals_restarts_and_sigreturn() {
    // Handlers, SA_RESTART restarts and EINTR, rt_sigreturn restoring every
    // register — rcx and r11 included, which a `sysretq` return cannot: those
    // returns must be `iretq` — and a SIGSEGV handler's context.
    same_through_every_entry("signals", &[], &[], &[], 1);
    // Returns to non-canonical addresses (a handler there, an rt_sigreturn
    // frame, a call's return address) become SIGSEGV, as on Linux; on Intel
    // the CPU would fault in ring 0 (iretq, sysretq) if the kernel tried.
    same_through_every_entry("badrip", &[], &[], &[], 1);
}

#[test]
fn programs_that_execute_syscall_themselves() {
    // Through LSTAR where `syscall` works; through their patched sites
    // (zpoline) with the int3 gate: rawsyscall's eight `syscall`s.
    for (entry, r) in same_through_every_entry("rawsyscall", &[], &[], &[], 2) {
        let zpoline: u64 = r.counters.cpu.iter().map(|c| c.zpoline_entries).sum();
        let g = &r.counters.global;
        if entry == "syscall=int3" {
            assert_eq!((zpoline, g.zpoline_execs), (8, 1), "rawsyscall through {entry}");
            assert!(g.zpoline_sites_patched >= 1, "rawsyscall through {entry}");
        } else {
            assert_eq!((zpoline, g.zpoline_execs), (0, 0), "rawsyscall through {entry}");
        }
    }
}

#[test]
fn preemption_keeps_every_register() {
    // Tasks check their general and SSE registers while the tick and
    // cross-CPU wake-ups preempt them, in ring 3 and in system calls.
    for entry in common::syscall_entries() {
        let r = in_guest(entry, 2, "sched", &["regs", "2", "4"], &[]);
        assert_eq!(
            r.exit,
            GuestExit::Status(0),
            "sched regs through {entry}: kernel said:\n{}\n{}",
            r.console,
            r.stdout
        );
        let preemptions: u64 = r.counters.cpu.iter().map(|c| c.preemptions).sum();
        assert!(preemptions > 0, "sched regs through {entry}: no preemption");
    }
}
