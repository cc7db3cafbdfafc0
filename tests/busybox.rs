//! Debian's static busybox (package `busybox-static`, `/bin/busybox`) as pid 1
//! running the shell scripts in tests/busybox/*.sh: pipelines, subshells,
//! background jobs and `wait`, `xargs -P` fan-out, redirections to /tmp,
//! `trap` and `kill`, loops with `$(...)`, here-documents, exit statuses.
//! Each script's stdout, stderr and exit status in the guest must be those of
//! the same busybox running the same script on the host's Linux (commands are
//! busybox applets, `busybox NAME`, on both sides: PATH holds only busybox).
//!
//! busybox executes `syscall` itself (glibc, statically linked): through the
//! LSTAR entry where the instruction reaches ring 0, and through the VMM's
//! decoded sites rewritten by exec (zpoline) with the int3 gate — the only
//! entry on this machine's kvm_pvm. Every script runs through each entry the
//! host has.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use vmm::programs::path;
use vmm::{ExitReport, GuestExit, Vmm};

const BUSYBOX: &str = "/bin/busybox";
/// busybox execs itself for every applet a script runs: ring 0 copies its
/// 1.9 MB of text each time, slow where ring 0 is emulated.
const TIMEOUT: Duration = Duration::from_secs(400);

/// `/bin/busybox`, checked to be a static x86-64 executable (the guest runs
/// nothing else), or a clear failure saying what to install.
fn busybox() -> &'static Path {
    let data = std::fs::read(BUSYBOX).unwrap_or_else(|e| {
        panic!("{BUSYBOX}: {e}: install Debian's busybox-static (ci/setup.sh does)")
    });
    assert!(
        vmm::zpoline::is_static_x86_64(&data),
        "{BUSYBOX} is not a static x86-64 executable (the package busybox is dynamically \
         linked): install busybox-static (ci/setup.sh does)"
    );
    Path::new(BUSYBOX)
}

/// The scripts, by absolute path (the same path in the guest, so that `$0`
/// and shell error messages agree).
fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/busybox");
    let dir = dir.canonicalize().expect("tests/busybox");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/busybox")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "tests/busybox/*.sh: {v:?}");
    v
}

/// A directory holding only a `busybox` link, the host's PATH for the
/// scripts (the guest's /bin holds only busybox too).
fn host_path() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("kvmfork-busybox-path-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let link = d.join("busybox");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(busybox(), &link).unwrap();
        d
    })
    .clone()
}

/// `busybox sh SCRIPT` on the host: (exit status or 128 + signal, stdout, stderr).
/// One at a time: the host's /tmp is shared, and a script whose output names
/// its directory (shebang.sh's `$0`) uses a fixed one, so two runs at once
/// (the test's two workers on one script's two entries) collided there once
/// in the SVM lane. Each VM has a /tmp of its own.
fn on_host(script: &Path) -> (u8, String, String) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = common::host_command(busybox())
        .arg("sh")
        .arg(script)
        .env_clear()
        .envs([("HOME", "/".into()), ("TERM", "linux".into()), ("PATH", host_path())])
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .expect("running busybox on the host");
    let code = o.status.code().map_or_else(|| 128 + o.status.signal().unwrap() as u8, |c| c as u8);
    (code, String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

/// `busybox sh SCRIPT` as pid 1 (environment HOME=/ TERM=linux PATH=/bin).
fn in_guest(script: &Path, entry: &str, vcpus: u32, files: &[(&Path, &str)]) -> ExitReport {
    let mut b = Vmm::builder()
        .vcpus(vcpus)
        .memory_mib(256)
        .cmdline(format!("quiet {entry}"))
        .file(script, script.to_str().unwrap())
        .program(busybox(), &["sh", script.to_str().unwrap()]);
    for (host, guest) in files {
        b = b.file(host, *guest);
    }
    b.boot().expect("boot").wait(Some(TIMEOUT)).expect("wait")
}

/// Compare one script's run in the guest with Linux: None if the same, else
/// what differs.
fn compare(script: &Path, entry: &str, vcpus: u32) -> Option<String> {
    let name = script.file_name().unwrap().to_string_lossy();
    let what = format!("{name} through {entry} on {vcpus} vCPUs");
    let (code, out, err) = on_host(script);
    let r = in_guest(script, entry, vcpus, &[]);
    let mut bad = Vec::new();
    if r.exit != GuestExit::Status(code) {
        bad.push(format!("exit {:?}, Linux {code}", r.exit));
    }
    if r.stdout != out {
        bad.push(format!("stdout:\n{}\nLinux:\n{out}", r.stdout));
    }
    if r.stderr != err {
        bad.push(format!("stderr:\n{}\nLinux:\n{err}", r.stderr));
    }
    if entry == "syscall=int3" {
        let zpoline: u64 = r.counters.cpu.iter().map(|c| c.zpoline_entries).sum();
        if zpoline == 0 || r.counters.global.zpoline_execs == 0 {
            bad.push("busybox's system calls did not go through zpoline".into());
        }
    }
    (!bad.is_empty()).then(|| format!("{what}: {}\nkernel said:\n{}", bad.join("\n"), r.console))
}

#[test]
fn every_script_gives_linux_output_through_every_entry() {
    let jobs: Vec<(PathBuf, &str)> = scripts()
        .into_iter()
        .flat_map(|s| common::syscall_entries().iter().map(move |e| (s.clone(), *e)))
        .collect();
    let next = Mutex::new(0usize);
    let failures = Mutex::new(Vec::new());
    // Two VMs at a time: the scripts are independent.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some((script, entry)) = jobs.get(i) else { break };
                if let Some(f) = compare(script, entry, 2) {
                    failures.lock().unwrap().push(f);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} runs differ:\n{}", failures.len(), jobs.len(), {
        failures.join("\n\n")
    });
}

#[test]
fn the_script_that_crashed_the_kernel_in_issue_10_on_one_vcpu() {
    // (On two vCPUs in the test above.)
    let script = scripts().into_iter().find(|s| s.ends_with("issue10_crash.sh")).unwrap();
    for entry in common::syscall_entries() {
        if let Some(f) = compare(&script, entry, 1) {
            panic!("{f}");
        }
    }
}

#[test]
fn busybox_is_patched_once_per_exec_and_the_index_stays_hidden() {
    let script = std::env::temp_dir().join(format!("kvmfork-bb-ls-{}.sh", std::process::id()));
    std::fs::write(&script, "busybox ls -a /\nbusybox true\n").unwrap();
    let sites = vmm::zpoline::syscall_sites(&std::fs::read(busybox()).unwrap()).unwrap();
    let r = in_guest(&script, "syscall=int3", 1, &[]);
    let _ = std::fs::remove_file(&script);
    assert_eq!(r.exit, GuestExit::Status(0), "{}\n{}", r.console, r.stderr);
    assert!(!r.stdout.contains("syscall-sites"), "the index is removed at boot:\n{}", r.stdout);
    assert!(r.stdout.contains("\ntmp\n"), "{}", r.stdout);
    let g = r.counters.global;
    assert_eq!((g.zpoline_tables, g.zpoline_tables_refused), (1, 0));
    // sh, then `busybox ls` and `busybox true`, each a fork and exec.
    assert_eq!(g.zpoline_execs, 3, "{}", r.console);
    assert_eq!(g.zpoline_sites_patched, 3 * sites.len() as u64);
}

#[test]
fn a_program_written_inside_the_guest_is_not_patched() {
    // A copy made in the guest is a new file without a site table: where
    // `syscall` is not taken (the int3 gate), it ends with SIGSYS and the
    // kernel says why; the shipped original runs.
    let script = std::env::temp_dir().join(format!("kvmfork-bb-copy-{}.sh", std::process::id()));
    std::fs::write(
        &script,
        "/bin/rawsyscall > /dev/null; echo \"shipped: $?\"\n\
         busybox cp /bin/rawsyscall /tmp/copy\n\
         /tmp/copy; echo \"copied: $?\"\n",
    )
    .unwrap();
    let raw = path("rawsyscall");
    let r = in_guest(&script, "syscall=int3", 1, &[(raw, "/bin/rawsyscall")]);
    let _ = std::fs::remove_file(&script);
    assert_eq!(r.exit, GuestExit::Status(0), "{}", r.console);
    assert_eq!(r.stdout, "shipped: 0\ncopied: 159\n", "{}", r.console);
    assert!(r.console.contains("(copy): killed by SIGSYS"), "{}", r.console);
    assert!(r.console.contains("AT_SYSINFO"), "{}", r.console);
}
