//! Boot benchmark: VMM process start → guest ready → exit, and the exits and
//! ring-0 instructions a boot takes, as medians over repeated runs; beside it,
//! the host's own cost of starting a process, measured in the same run.
//!
//! `cargo bench -p vmm --bench boot` (BENCH_RUNS=N to change the repetitions).

mod common;

use common::{host_spawn_ms, ms, run_vmm, summary, BootSample};

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing useful.
    let runs: usize = common::env_or("BENCH_RUNS", 20);

    // The host's cost of starting (and reaping) a process, for scale.
    let host: Vec<f64> = (0..runs).map(|_| host_spawn_ms()).collect();

    println!("boot benchmark, {runs} runs each (medians; VMM built with the bench profile)\n");
    let (line, host_med) = summary("host: spawn+exit+wait /bin/true", "ms", host);
    println!("{line}");
    for vcpus in [1, 2, 4] {
        let samples: Vec<BootSample> = (0..runs).map(|_| run_vmm(vcpus)).collect();
        println!("\n{vcpus} vCPU{}:", if vcpus == 1 { "" } else { "s" });
        let (l, _) = summary(
            "  VMM start -> guest ready",
            "ms",
            samples.iter().map(|s| ms(s.ready)).collect(),
        );
        println!("{l}");
        let (l, _) = summary(
            "  kernel entry -> ready (guest TSC)",
            "ms",
            samples.iter().map(|s| ms(s.guest_ready)).collect(),
        );
        println!("{l}");
        let (l, wall) = summary(
            "  process spawn -> exit (wall)",
            "ms",
            samples.iter().map(|s| ms(s.wall)).collect(),
        );
        println!("{l}");
        let (l, _) = summary(
            "  KVM exits until ready",
            "",
            samples.iter().map(|s| s.exits_at_ready as f64).collect(),
        );
        println!("{l}");
        // Ring 0 is counted instruction by instruction only where KVM emulates it.
        let (l, _) = summary(
            if vmm::KvmKind::detect().emulates_ring0() {
                "  ring-0 instructions, whole run"
            } else {
                "  instructions KVM emulated (ring 0 runs on the CPU)"
            },
            "",
            samples.iter().map(|s| s.insn_emulation as f64).collect(),
        );
        println!("{l}");
        println!("  {:<42} {:>10.1}x", "ratio: VM boot+exit / host process", wall / host_med);
    }
}
