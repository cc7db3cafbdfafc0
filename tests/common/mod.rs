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
