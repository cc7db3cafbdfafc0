//! Malformed hypercalls get an error status and never hurt the VMM.

mod common;

use vmm::GuestExit;

fn count_after(console: &str, key: &str) -> u64 {
    let line =
        console.lines().find(|l| l.starts_with("hcfuzz:") && l.contains("malformed")).unwrap();
    let before = &line[..line.find(key).unwrap()];
    before.split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn random_malformed_hypercalls_leave_the_vmm_healthy() {
    for (vcpus, seed) in [(1, 1), (2, 99)] {
        let r = common::run(vcpus, &format!("quiet hcfuzz=3000 seed={seed}"));
        // The guest checked every answer; any wrong one fails it with status 1.
        assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
        assert!(r.console.contains("0 wrong"), "{}", r.console);
        let rejected = count_after(&r.console, "rejected");
        let ignored = count_after(&r.console, "ignored");
        assert_eq!(rejected + ignored, 3000);
        assert!(rejected > 2000 && ignored > 0, "{}", r.console);
        // The VMM counted exactly the calls it rejected.
        assert_eq!(r.hypercall_errors, rejected);
        // And stayed healthy: the console line after the fuzzing arrived, and the
        // Exit hypercall was honoured.
        assert!(r.console.ends_with("wrong\n"), "{}", r.console);
    }
}

#[test]
fn abi_version_mismatch_is_refused_by_the_guest() {
    let vm = vmm::Vmm::builder().abi_version(999).boot().unwrap();
    let r = vm.wait(Some(common::TIMEOUT)).unwrap();
    let want = GuestExit::Status(vmm::protocol::exit_status::ABI_MISMATCH);
    assert_eq!(r.exit, want, "{}", common::explain(&r));
    let expected = format!(
        "this kernel speaks ABI version {}, the VMM passed version 999",
        vmm::protocol::ABI_VERSION
    );
    assert!(r.console.contains(&expected), "{}", r.console);
}
