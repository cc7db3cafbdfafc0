//! Timer interrupts on every CPU and IPIs between every pair of CPUs.

mod common;

use vmm::GuestExit;

fn timer_ticks_on_every_cpu(vcpus: u32) {
    let r = common::run(vcpus, "quiet selftest=timer ticks=3");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    for cpu in 0..vcpus as usize {
        let prefix = format!("selftest timer: cpu {cpu}: ");
        let line = r.console.lines().find(|l| l.starts_with(&prefix)).expect("a line per CPU");
        let printed: u64 = line[prefix.len()..].trim_end_matches(" ticks").parse().unwrap();
        assert!(printed >= 3, "cpu {cpu} saw {printed} ticks");
        // Ticks go on arriving until the VM stops.
        assert!(r.counters.cpu[cpu].timer_ticks >= printed, "cpu {cpu}");
    }
}

#[test]
fn timer_ticks_on_every_cpu_1() {
    timer_ticks_on_every_cpu(1);
}

#[test]
fn timer_ticks_on_every_cpu_4() {
    timer_ticks_on_every_cpu(4);
}

fn every_cpu_interrupts_every_other(vcpus: u32) {
    let r = common::run(vcpus, "quiet selftest=ipi");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    let all = (1u64 << vcpus) - 1;
    for cpu in 0..vcpus as usize {
        let c = r.counters.cpu[cpu];
        assert_eq!(
            c.ipi_from_mask,
            all & !(1 << cpu),
            "cpu {cpu} heard from {:#x}",
            c.ipi_from_mask
        );
        // Pings to every other CPU (and for the boot CPU, the job wake-ups).
        assert!(c.ipis_sent >= vcpus as u64 - 1, "cpu {cpu} sent {}", c.ipis_sent);
        // IPIs of one vector that arrive while it is pending coalesce (the APIC has
        // one IRR bit per vector), so the receive count can be below the senders';
        // the sender mask above is the proof that each one got through.
        assert!(c.ipis_received >= 1, "cpu {cpu} received {}", c.ipis_received);
    }
    assert!(!r.console.contains("MISMATCH"), "{}", r.console);
}

#[test]
fn ipis_between_2_cpus() {
    every_cpu_interrupts_every_other(2);
}

#[test]
fn ipis_between_4_cpus() {
    every_cpu_interrupts_every_other(4);
}

#[test]
fn halted_cpus_are_woken_by_interrupts() {
    // Secondary CPUs spend the run halted (`sti; hlt`), not spinning: KVM counts
    // their halts, and the guest counts its idle loops.
    let r = common::run(2, "quiet selftest=timer ticks=5");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    assert!(r.counters.cpu[1].idle_halts >= 4, "{:?}", r.counters.cpu[1]);
    assert!(r.kvm.vcpus[1].get("halt_exits").copied().unwrap_or(0) > 0, "{:?}", r.kvm.vcpus[1]);
}
