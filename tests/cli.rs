//! The `vmm` command line: console, exit codes, timeout, statistics.

mod common;

use vmm::protocol::exit_status;
use vmm::KvmKind;

#[test]
fn kernel_messages_reach_stderr_and_status_is_the_exit_code() {
    let o = common::vmm(&["run", "--vcpus", "2", "--cmdline", "exit=7"]);
    assert_eq!(o.status.code(), Some(7), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains("kernel: 2 CPUs online"), "{}", common::stderr(&o));
    // stdout is reserved for user programs' output.
    assert_eq!(common::stdout(&o), "");
}

/// With `quiet`, a run that goes well prints the program's output and nothing
/// else: no VMM diagnostics on a clean boot (a timing print once went into
/// the VMM's boot path unnoticed).
#[test]
fn a_quiet_run_prints_only_the_programs_output() {
    let hello = vmm::programs::path("hello");
    let o = common::vmm(&["run", "--cmdline", "quiet", hello.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert_eq!(common::stderr(&o), "");
    assert_eq!(common::stdout(&o), "hello from rust\nargc 1\nargv[0] hello\n");
}

#[test]
fn timeout_stops_a_hung_guest() {
    let o = common::vmm(&["run", "--cmdline", "quiet hang", "--timeout", "1"]);
    assert_eq!(o.status.code(), Some(exit_status::TIMEOUT as i32));
    assert!(
        common::stderr(&o).contains("guest did not finish within 1.0 s"),
        "{}",
        common::stderr(&o)
    );
    assert!(common::stderr(&o).contains("hang requested"));
    // No program started, so no kernel thread to answer for the tasks: the
    // report says nothing of them rather than waiting.
    assert!(!common::stderr(&o).contains("tasks at the timeout"));
}

#[test]
fn exception_and_panic_exit_codes() {
    let o = common::vmm(&["run", "--cmdline", "quiet fault=gp"]);
    assert_eq!(o.status.code(), Some(exit_status::GUEST_EXCEPTION as i32));
    assert!(common::stderr(&o).contains("#GP general protection (vector 13) on cpu 0"));
    let o = common::vmm(&["run", "--cmdline", "quiet fault=panic"]);
    assert_eq!(o.status.code(), Some(exit_status::GUEST_PANIC as i32));
    assert!(common::stderr(&o).contains("guest kernel panic on cpu 0"));
    let o = common::vmm(&[
        "run",
        "--vcpus",
        "2",
        "--lockup-secs",
        "2",
        "--cmdline",
        "quiet fault=halt@1",
    ]);
    assert_eq!(o.status.code(), Some(exit_status::GUEST_LOCKUP as i32));
    assert!(
        common::stderr(&o).contains("vmm: guest kernel lockup: cpu 1 took no timer interrupt"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn stats_show_kvm_and_guest_counters() {
    let o = common::vmm(&["run", "--vcpus", "2", "--cmdline", "quiet selftest=timer", "--stats"]);
    assert!(o.status.success());
    let e = common::stderr(&o);
    // `--stats` shows the non-zero KVM statistics: ring-0 instructions KVM
    // emulated are among them where it emulates ring 0.
    if KvmKind::detect().emulates_ring0() {
        assert!(e.contains("insn_emulation"), "missing insn_emulation in:\n{e}");
    }
    for needle in [
        "boot: guest ready",
        "exits",
        "halt_exits",
        "io_out",
        "guest counters",
        "per-CPU counters",
        "timer_ticks",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
    }
    let online: Vec<&str> = e
        .lines()
        .find(|l| l.trim_start().starts_with("cpus_online"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(online, ["cpus_online", "2"]);
}

#[test]
fn stats_json_has_counters_kvm_statistics_and_snapshots() {
    let dir = std::env::temp_dir().join(format!("vmm-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("stats.json");
    let ctl = vmm::programs::path("ctl");
    let o = common::vmm(&[
        "run",
        "--vcpus",
        "2",
        "--cmdline",
        "quiet",
        "--stats-json",
        file.to_str().unwrap(),
        ctl.to_str().unwrap(),
        "snapshots",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["counters"]["global"]["cpus_online"], 2);
    assert_eq!(v["counters"]["cpu"].as_array().unwrap().len(), 2);
    // While init runs: init and kmailboxd; at the end init has been released.
    assert_eq!(v["snapshots"][0]["counters"]["nr_processes"], 2);
    assert_eq!(v["counters"]["nr_processes"], 1);
    assert_eq!(v["counters"]["syscalls"]["39"], 5, "getpid calls since the reset");
    // Every KVM statistic is in the JSON, zero or not.
    let insns = v["kvm"]["vcpus"][0]["insn_emulation"].as_u64().expect("insn_emulation");
    if KvmKind::detect().emulates_ring0() {
        assert!(insns > 0);
    }
    let labels: Vec<_> =
        v["snapshots"].as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["before", "after", "zero", "end"]);
    let getpids = |i: usize| v["snapshots"][i]["counters"]["syscalls"]["39"].as_u64().unwrap_or(0);
    assert_eq!(getpids(1) - getpids(0), 100);
}

#[test]
fn usage_errors_exit_2() {
    for args in [vec![], vec!["boot"], vec!["run", "--vcpus"], vec!["run", "--timeout", "0"]] {
        let o = common::vmm(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(common::stderr(&o).contains("usage: vmm run"));
    }
    let o = common::vmm(&["--help"]);
    assert!(o.status.success() && common::stdout(&o).contains("exit codes"));
}

/// `--fail-at` is checked by the VMM, with the valid stages in the message,
/// before anything boots (issue 12, item 6).
#[test]
fn a_bad_fail_at_is_a_usage_error_naming_the_stages() {
    for spec in ["bogus:1", "copy_mm", "copy_mm:0", "copy_mm:x"] {
        let o = common::vmm(&["run", "--fail-at", spec]);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", common::explain_output(&o));
        let e = common::stderr(&o);
        assert!(e.contains(&format!("not '{spec}'")), "{e}");
        for stage in vmm::FAULT_STAGES {
            assert!(e.lines().next().unwrap().contains(stage), "{stage} in {e}");
        }
        assert!(e.contains("usage: vmm run"), "{e}");
    }
}

/// An output file that cannot be written is found before the program runs:
/// the program's output never appears, and nothing is left behind.
#[test]
fn an_unwritable_output_is_an_error_before_the_program_runs() {
    let dir = std::env::temp_dir().join(format!("vmm-unwritable-{}", std::process::id()));
    let hello = vmm::programs::path("hello");
    for (option, path) in [
        ("--stats-json", dir.join("no-such-dir/stats.json")),
        ("--profile", dir.join("no-such-dir/prof")),
        ("--trace", dir.join("no-such-dir/trace.json")),
    ] {
        let o = common::vmm(&["run", option, path.to_str().unwrap(), hello.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{}", common::explain_output(&o));
        let e = common::stderr(&o);
        assert!(e.contains(&format!("{option}: cannot write {}", dir.display())), "{e}");
        assert!(e.contains("No such file or directory"), "{e}");
        assert_eq!(common::stdout(&o), "", "the program did not run");
    }
    assert!(!dir.exists());
}
