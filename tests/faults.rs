//! A deliberate kernel fault is reported with its vector, CPU and exact RIP.

mod common;

use vmm::GuestExit;

/// Raise `fault` and compare the report with what the guest announced.
fn fault(vcpus: u32, spec: &str, vector: u32, cpu: u32) {
    let r = common::run(vcpus, &format!("quiet fault={spec}"));
    let line = r.console.lines().find(|l| l.starts_with("fault: raising")).expect("announcement");
    let rip = common::hex_after(line, "at rip").expect("rip");
    match r.exit {
        GuestExit::Exception(e) => {
            assert_eq!(e.vector, vector, "{line}");
            assert_eq!(e.cpu, cpu);
            assert_eq!(e.rip, rip, "reported RIP is the faulting instruction");
            assert_eq!(e.cs, 0x10, "kernel CS in Linux's layout");
            if let Some(cr2) = common::hex_after(line, "cr2") {
                assert_eq!(e.cr2, cr2);
            }
        }
        other => panic!("expected an exception report, got {other:?}\n{}", r.console),
    }
    assert_eq!(
        r.exit_code(),
        vmm::protocol::exit_status::GUEST_EXCEPTION,
        "{}",
        common::explain(&r)
    );
    let text = r.exit.describe().unwrap();
    assert!(text.contains(&format!("(vector {vector}) on cpu {cpu}")), "{text}");
}

#[test]
fn invalid_opcode() {
    fault(1, "ud", 6, 0);
}

#[test]
fn page_fault_with_cr2() {
    fault(1, "pf", 14, 0);
}

#[test]
fn general_protection() {
    fault(1, "gp", 13, 0);
}

#[test]
fn divide_error() {
    fault(1, "de", 0, 0);
}

#[test]
fn fault_on_a_secondary_cpu() {
    fault(2, "ud@1", 6, 1);
    fault(4, "pf@3", 14, 3);
}

#[test]
fn panic_is_reported_with_its_message() {
    let r = common::run(2, "quiet fault=panic@1");
    match &r.exit {
        GuestExit::Panic { cpu, message } => {
            assert_eq!(*cpu, 1);
            assert!(
                message.contains("deliberate panic requested on the command line"),
                "{message}"
            );
            assert!(message.contains("fault.rs"), "location included: {message}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(r.exit_code(), vmm::protocol::exit_status::GUEST_PANIC, "{}", common::explain(&r));
}

#[test]
fn fault_on_a_cpu_that_does_not_exist_is_a_command_line_error() {
    let r = common::run(2, "quiet fault=ud@5");
    let want = GuestExit::Status(vmm::protocol::exit_status::BAD_CMDLINE);
    assert_eq!(r.exit, want, "{}", common::explain(&r));
    assert!(r.console.contains("there is no cpu 5"), "{}", r.console);
}
