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
    // The report names the kernel function, from the embedded kernel's symbols.
    let report = r.describe().unwrap();
    let function =
        format!("  at fault_{spec_kind}_insn", spec_kind = spec.split('@').next().unwrap());
    assert!(report.contains(&function), "no {function:?} in:\n{report}");
    // ... and the exception is the last one the kernel recorded for that CPU.
    let rec = &r.counters.crash[cpu as usize];
    assert!(rec.exceptions > 0, "{report}");
    assert_eq!((rec.vector, rec.rip), (vector as u64, rip), "{report}");
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

/// A page fault on an unmapped stack cannot be delivered on that stack either:
/// the CPU raises #DF on the double-fault handler's own stack (IST), which
/// reports it with the function it arose in.
#[test]
fn double_fault_is_reported_from_its_own_stack_with_the_function() {
    for (vcpus, spec, cpu) in [(1, "df", 0), (2, "df@1", 1)] {
        let r = common::run(vcpus, &format!("quiet fault={spec}"));
        let line =
            r.console.lines().find(|l| l.starts_with("fault: raising")).expect("announcement");
        let rip = common::hex_after(line, "at rip").expect("rip");
        let cr2 = common::hex_after(line, "cr2").expect("cr2");
        let report = r.describe().unwrap_or_default();
        match &r.exit {
            GuestExit::Exception(e) => {
                assert_eq!((e.vector, e.cpu), (8, cpu), "{report}");
                assert_eq!(e.rip, rip, "{report}");
                assert_eq!(e.cr2, cr2, "the page fault that could not be delivered");
            }
            other => panic!("expected a double-fault report, got {other:?}\n{}", r.console),
        }
        assert!(report.contains("#DF double fault (vector 8)"), "{report}");
        assert!(report.contains("  at fault_df_insn+0x3"), "{report}");
        // The handler wrote what it found into the counter page first.
        let rec = &r.counters.crash[cpu as usize];
        assert_eq!(rec.double_faults, 1, "{report}");
        assert_eq!((rec.df_rip, rec.df_cr2), (rip, cr2), "{report}");
        assert!(rec.df_gs_base >= 0xffff_8000_0000_0000, "the kernel's GS: {:#x}", rec.df_gs_base);
        assert!(report.contains("1 double fault(s), the last at rip"), "{report}");
    }
}

/// A triple fault (here: a #GP whose handler faults again with no stack to
/// deliver anything on) ends the VM with KVM_EXIT_SHUTDOWN; the report says
/// which exception the kernel took last, from the counter page, not just
/// where the reset left the CPU.
#[test]
fn triple_fault_reports_the_last_exception() {
    let r = common::run(2, "quiet fault=tf@1");
    let line = r.console.lines().find(|l| l.starts_with("fault: raising")).expect("announcement");
    let gp_rip = common::hex_after(line, "at rip").expect("rip");
    let report = r.describe().unwrap_or_default();
    match &r.exit {
        GuestExit::Crashed { cpu, reason, .. } => {
            assert_eq!(*cpu, 1, "{report}");
            assert!(reason.contains("triple fault"), "{report}");
        }
        other => panic!("expected a triple fault, got {other:?}\n{}", r.console),
    }
    assert_eq!(r.exit_code(), vmm::protocol::exit_status::VM_CRASHED);
    let rec = &r.counters.crash[1];
    assert_eq!((rec.vector, rec.rip), (13, gp_rip), "{report}");
    assert!(
        report.contains(&format!(
            "cpu 1: last exception: #GP general protection (vector 13) from kernel mode at rip \
             {gp_rip:#x} fault_gp_insn"
        )),
        "{report}"
    );
    assert!(report.contains("KVM_CAP_X86_TRIPLE_FAULT_EVENT: "), "{report}");
    // The page tables the CPU had loaded, checked by the VMM (intact here).
    assert!(report.contains("cpu 1's page tables (root 0x"), "{report}");
    assert!(report.contains("kernel half as at boot"), "{report}");
    assert!(report.contains("kernel console, last"), "{report}");
}

/// Kernel code that runs with the user's GS base (an unbalanced swapgs) is
/// caught at its next exception: the entry code sees a user GS base from
/// kernel mode outside the entry and exit windows, takes the kernel's, and
/// the kernel panics naming the instruction.
#[test]
fn kernel_code_running_with_the_user_gs_is_named() {
    for (vcpus, spec, cpu) in [(1, "gs", 0), (2, "gs@1", 1)] {
        let r = common::run(vcpus, &format!("quiet fault={spec}"));
        let line =
            r.console.lines().find(|l| l.starts_with("fault: raising")).expect("announcement");
        let rip = common::hex_after(line, "at rip").expect("rip");
        match &r.exit {
            GuestExit::Panic { cpu: c, message } => {
                assert_eq!(*c, cpu);
                assert!(
                    message.contains(&format!(
                        "kernel code at {rip:#x} ran with the user's GS base (vector 0x6"
                    )),
                    "{message}"
                );
            }
            other => panic!("expected a panic, got {other:?}\n{}", r.console),
        }
        assert_eq!(r.counters.cpu[cpu as usize].entry_window_events, 0);
    }
}

#[test]
fn fault_on_a_cpu_that_does_not_exist_is_a_command_line_error() {
    let r = common::run(2, "quiet fault=ud@5");
    let want = GuestExit::Status(vmm::protocol::exit_status::BAD_CMDLINE);
    assert_eq!(r.exit, want, "{}", common::explain(&r));
    assert!(r.console.contains("there is no cpu 5"), "{}", r.console);
}

/// The lockup detector (`vmm/src/watchdog.rs`, Linux's hard-lockup watchdog
/// seen from the VMM): a CPU left spinning with interrupts off is found by its
/// vCPU thread's CPU time, one halted with them off by the other CPU's ticks;
/// the VM ends with exit code 123 and the report says where the CPU is. The
/// threshold is 3 s here (60 s by default).
#[test]
fn a_cpu_locked_up_with_interrupts_off_is_found_and_named() {
    use std::time::Duration;
    use vmm::LockupEvidence::{OthersTicked, Spinning};
    let threshold = Duration::from_secs(3);
    for (vcpus, spec, cpu, at) in [
        (1, "lockup", 0, "fault_lockup_insn"),
        (2, "lockup@1", 1, "fault_lockup_insn"),
        (2, "halt@1", 1, "fault_halt_insn"),
    ] {
        let r = vmm::Vmm::builder()
            .vcpus(vcpus)
            .memory_mib(128)
            .cmdline(format!("quiet fault={spec}"))
            .lockup_threshold(Some(threshold))
            .boot()
            .expect("boot")
            .wait(Some(common::TIMEOUT))
            .expect("wait");
        let GuestExit::Lockup(l) = r.exit else {
            panic!("{spec}: expected a lockup, got {}", common::explain(&r));
        };
        assert_eq!(l.cpu, cpu, "{spec}");
        assert!(l.stuck >= threshold, "{spec}: {l:?}");
        match (spec, l.evidence) {
            // Its thread ran, or (on a loaded host, before it ran half the
            // time) the other CPU ticked on.
            ("lockup@1", Spinning { .. } | OthersTicked { .. }) => {}
            // Alone, it can only be seen spinning.
            ("lockup", Spinning { ran }) => assert!(ran >= threshold / 2, "{l:?}"),
            // A halted vCPU's thread sleeps: only the other CPU tells.
            ("halt@1", OthersTicked { ticks }) => assert!(ticks >= 3 * 100 / 4, "{l:?}"),
            _ => panic!("{spec}: {l:?}"),
        }
        assert_eq!(r.exit_code(), vmm::protocol::exit_status::GUEST_LOCKUP);
        let text = r.describe().expect("a report");
        assert!(
            text.contains(&format!("guest kernel lockup: cpu {cpu} took no timer interrupt")),
            "{text}"
        );
        // The locked CPU's line names the loop it is in, and its callers.
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("cpu {cpu}")) && l.contains("rip"))
            .unwrap_or_else(|| panic!("{spec}: no line for cpu {cpu}:\n{text}"));
        assert!(line.contains(at), "{spec}: {line}\n{text}");
        assert!(text.contains("fault::trigger"), "{spec}: {text}");
    }
}
