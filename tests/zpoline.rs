//! zpoline: programs that execute the `syscall` instruction themselves, on
//! the int3 gate (`syscall=int3`; the only entry on this machine's kvm_pvm,
//! where `syscall` does not reach ring 0). The VMM ships each program's
//! `syscall` sites, exec rewrites them into `call *%rax`, and the kernel takes
//! the resulting faults as system calls; programs the VMM did not decode end
//! with SIGSYS and a message, and bad site tables are refused without harm.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use vmm::programs::path;
use vmm::zpoline::{self, Table};
use vmm::{ExitReport, GuestExit, Vmm, VmmBuilder};

fn rawsyscall() -> VmmBuilder {
    Vmm::builder().cmdline("syscall=int3").program(path("rawsyscall"), &[] as &[&str])
}

fn run(b: VmmBuilder) -> ExitReport {
    b.boot().expect("boot").wait(Some(common::TIMEOUT)).expect("wait")
}

fn linux_stdout(name: &str) -> String {
    let o = common::host_command(path(name)).stdin(Stdio::null()).output().expect("host run");
    assert!(o.status.success(), "{name} on Linux: {:?}", o.status.signal());
    String::from_utf8_lossy(&o.stdout).into()
}

fn zpoline_entries(r: &ExitReport) -> u64 {
    r.counters.cpu.iter().map(|c| c.zpoline_entries).sum()
}

/// The program's `syscall` sites, as the VMM finds them.
fn sites(name: &str) -> Vec<u64> {
    zpoline::syscall_sites(&std::fs::read(path(name)).unwrap()).unwrap()
}

#[test]
fn a_program_that_executes_syscall_runs_as_on_linux() {
    let r = run(rawsyscall());
    assert_eq!(r.exit, GuestExit::Status(0), "kernel said:\n{}\n{}", r.console, r.stdout);
    assert_eq!(r.stdout, linux_stdout("rawsyscall"), "rawsyscall's output differs from Linux");
    let g = r.counters.global;
    assert_eq!((g.zpoline_tables, g.zpoline_tables_refused), (1, 0), "the table was accepted");
    assert_eq!(g.zpoline_execs, 1);
    assert_eq!(g.zpoline_sites_patched, sites("rawsyscall").len() as u64, "every site patched");
    // Eight `syscall`s (getpid twice, 1000, 4096, two getpids with a
    // non-canonical and a kernel-half number, -1, and one whose site crosses
    // a page boundary), each one entry.
    assert_eq!(zpoline_entries(&r), 8, "{}", r.console);
    assert!(r.counters.syscalls[39] >= 4, "getpid counted");
}

#[test]
fn a_program_the_vmm_did_not_decode_gets_sigsys_with_the_message() {
    let r = run(rawsyscall().syscall_sites(false));
    assert_eq!(r.exit, GuestExit::Status(128 + 31), "SIGSYS; kernel said:\n{}", r.console);
    assert!(r.console.contains("pid 1 (rawsyscall): killed by SIGSYS"), "{}", r.console);
    assert!(r.console.contains("AT_SYSINFO"), "the message says what to do: {}", r.console);
    assert_eq!(r.stdout, "", "nothing ran after the syscall");
    assert_eq!((r.counters.global.zpoline_tables, zpoline_entries(&r)), (0, 0));
}

#[test]
fn exec_patches_a_program_started_by_another() {
    // execer checks execve's errors, then execs a program that executes
    // `syscall`: the new image is patched as pid 1's was.
    let r = run(Vmm::builder()
        .cmdline("quiet syscall=int3")
        .file(path("rawsyscall"), "/bin/rawsyscall")
        .program(path("execer"), &["/bin/rawsyscall"]));
    assert_eq!(r.exit, GuestExit::Status(0), "kernel said:\n{}\n{}", r.console, r.stdout);
    assert!(r.stdout.ends_with(&linux_stdout("rawsyscall")), "{}", r.stdout);
    let g = r.counters.global;
    assert_eq!((g.zpoline_tables, g.zpoline_execs), (2, 2), "execer and rawsyscall");
    assert_eq!(zpoline_entries(&r), 8);
}

/// Boot rawsyscall with `index` as the site index: the kernel refuses what it
/// must (`why` in its message), boots anyway, and the program then ends with
/// SIGSYS (`runs`: false) or runs (the good table of a mixed index).
fn bad_index(index: Vec<u8>, why: &str, refused: u64, runs: bool) {
    let r = run(rawsyscall().syscall_site_index(index));
    assert!(
        r.console.contains("kernel: syscall site table ignored: ") && r.console.contains(why),
        "{why}: {}",
        r.console
    );
    assert_eq!(r.counters.global.zpoline_tables_refused, refused, "{why}: {}", r.console);
    if runs {
        assert_eq!(r.exit, GuestExit::Status(0), "{why}: {}", r.console);
        assert_eq!(r.stdout, linux_stdout("rawsyscall"), "{why}");
    } else {
        assert_eq!(r.exit, GuestExit::Status(128 + 31), "{why}: {}", r.console);
        assert!(r.console.contains("killed by SIGSYS"), "{why}: {}", r.console);
    }
}

#[test]
fn bad_site_tables_are_refused_and_the_kernel_goes_on() {
    let image = std::fs::read(path("rawsyscall")).unwrap();
    let size = image.len() as u64;
    let good = sites("rawsyscall");
    let table =
        |path: &str, file_size: u64, sites: Vec<u64>| Table { path: path.into(), file_size, sites };
    let one = |t: Table| zpoline::index(&[t]);
    bad_index(b"not an index".to_vec(), "no SYSSITES header", 1, false);
    let mut truncated = one(table("/bin/rawsyscall", size, good.clone()));
    truncated.truncate(truncated.len() - 3);
    bad_index(truncated, "record 0 runs past the end", 1, false);
    // A site one byte off: not a syscall instruction there.
    let mut shifted = good.clone();
    shifted[0] += 1;
    bad_index(
        one(table("/bin/rawsyscall", size, shifted)),
        "is not a syscall instruction",
        1,
        false,
    );
    // A site outside the text, sites out of order, a table for another size.
    let mut outside = good.clone();
    outside.push(0x10);
    outside.sort();
    bad_index(one(table("/bin/rawsyscall", size, outside)), "executable segment", 1, false);
    let mut reversed = good.clone();
    reversed.push(good[0]);
    bad_index(one(table("/bin/rawsyscall", size, reversed)), "above the previous", 1, false);
    bad_index(
        one(table("/bin/rawsyscall", size + 1, good.clone())),
        "bytes, this one has",
        1,
        false,
    );
    // A table for a file that is not there, next to a good one: that one works.
    let index = zpoline::index(&[
        table("/bin/missing", size, good.clone()),
        table("/bin/rawsyscall", size, good.clone()),
    ]);
    bad_index(index, "/bin/missing: no such file", 1, true);
}

#[test]
fn the_index_path_is_reserved() {
    let e = Vmm::builder()
        .file(path("hello"), vmm::protocol::sites::INDEX_PATH)
        .program(path("hello"), &[] as &[&str])
        .boot()
        .err()
        .expect("a file at the index's path is refused");
    assert!(e.to_string().contains("reserved for the VMM's syscall site index"), "{e}");
}

#[test]
fn where_syscall_works_it_is_not_patched() {
    // With the `syscall` instruction as the entry (hardware KVM only), the
    // program's own `syscall`s go through LSTAR and nothing is patched.
    if !common::syscall_entries().contains(&"syscall=insn") {
        eprintln!("skipped: `syscall` does not reach ring 0 on this host");
        return;
    }
    let r = run(Vmm::builder().cmdline("syscall=insn").program(path("rawsyscall"), &[] as &[&str]));
    assert_eq!(r.exit, GuestExit::Status(0), "{}", r.console);
    assert_eq!(r.stdout, linux_stdout("rawsyscall"));
    assert_eq!((r.counters.global.zpoline_execs, zpoline_entries(&r)), (0, 0));
}
