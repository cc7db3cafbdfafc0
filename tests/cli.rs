//! The `vmm` command line: console, exit codes, timeout, statistics.

mod common;

use vmm::protocol::exit_status;

#[test]
fn kernel_messages_reach_stderr_and_status_is_the_exit_code() {
    let o = common::vmm(&["run", "--vcpus", "2", "--cmdline", "exit=7"]);
    assert_eq!(o.status.code(), Some(7), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains("kernel: 2 CPUs online"), "{}", common::stderr(&o));
    // stdout is reserved for user programs' output.
    assert_eq!(common::stdout(&o), "");
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
}

#[test]
fn exception_and_panic_exit_codes() {
    let o = common::vmm(&["run", "--cmdline", "quiet fault=gp"]);
    assert_eq!(o.status.code(), Some(exit_status::GUEST_EXCEPTION as i32));
    assert!(common::stderr(&o).contains("#GP general protection (vector 13) on cpu 0"));
    let o = common::vmm(&["run", "--cmdline", "quiet fault=panic"]);
    assert_eq!(o.status.code(), Some(exit_status::GUEST_PANIC as i32));
    assert!(common::stderr(&o).contains("guest kernel panic on cpu 0"));
}

#[test]
fn stats_show_kvm_and_guest_counters() {
    let o = common::vmm(&["run", "--vcpus", "2", "--cmdline", "quiet selftest=timer", "--stats"]);
    assert!(o.status.success());
    let e = common::stderr(&o);
    for needle in [
        "boot: guest ready",
        "insn_emulation",
        "exits",
        "halt_exits",
        "io_out",
        "guest counters: 2 CPUs online",
        "ticks",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
    }
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
