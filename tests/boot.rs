//! Booting: every CPU comes online, the guest reports ready, and its exit status
//! is the VM's.

mod common;

use vmm::GuestExit;

fn boots_with(vcpus: u32) {
    let r = common::run(vcpus, "");
    assert_eq!(r.exit, GuestExit::Status(0), "console:\n{}", r.console);
    let plural = if vcpus == 1 { "" } else { "s" };
    assert!(r.console.contains(&format!("kernel: {vcpus} CPU{plural} online")), "{}", r.console);
    assert_eq!(r.counters.global.cpus_online, vcpus as u64);
    for cpu in 0..vcpus as usize {
        assert_eq!(r.counters.cpu[cpu].online, 1, "cpu {cpu}");
        assert!(r.counters.cpu[cpu].online_tsc > 0, "cpu {cpu}");
    }
    for cpu in vcpus as usize..protocol_max() {
        assert_eq!(r.counters.cpu[cpu].online, 0, "cpu {cpu} does not exist");
    }
    let ready = r.ready.expect("the guest reported ready");
    assert!(ready.after <= r.elapsed);
    // KVM's statistics were read from every vCPU, and ring-0 code ran on each.
    assert_eq!(r.kvm.vcpus.len(), vcpus as usize);
    for (cpu, s) in r.kvm.vcpus.iter().enumerate() {
        assert!(s.get("exits").copied().unwrap_or(0) > 0, "cpu {cpu}: {s:?}");
        assert!(s.get("insn_emulation").is_some(), "cpu {cpu} has insn_emulation");
    }
    // Every hypercall of a healthy boot succeeds.
    assert_eq!(r.hypercall_errors, 0);
    assert!(r.vmm_exits("io_out") >= 4, "StartCpus, Ready, console, Exit");
}

fn protocol_max() -> usize {
    vmm::protocol::MAX_CPUS
}

#[test]
fn boots_on_1_vcpu() {
    boots_with(1);
}

#[test]
fn boots_on_2_vcpus() {
    boots_with(2);
}

#[test]
fn boots_on_4_vcpus() {
    boots_with(4);
}

#[test]
fn exit_status_is_the_guests() {
    assert_eq!(common::run(1, "quiet exit=42").exit, GuestExit::Status(42));
    assert_eq!(common::run(2, "quiet exit=255").exit, GuestExit::Status(255));
}

#[test]
fn frame_allocator_and_heap_are_accounted() {
    let r = common::run(1, "quiet");
    let g = r.counters.global;
    // 128 MiB: the heap is 1/16 of RAM (8 MiB = 2048 frames), the frame reference
    // counts take 4 bytes per frame (32 frames), the entry page 1. Everything the
    // boot self-test of `syscall` allocated (a process, its page tables) is freed.
    assert_eq!(g.frames_in_use, 2048 + 32 + 1);
    let usable = g.frames_free + g.frames_in_use;
    assert!(usable < 128 * 256 && usable > 120 * 256, "{usable} frames usable");
}
