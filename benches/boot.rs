//! Boot benchmark: VMM process start → guest ready → exit, and the exits and
//! ring-0 instructions a boot takes, as medians over repeated runs; beside it,
//! the host's own cost of starting a process, measured in the same run.
//!
//! `cargo bench -p vmm --bench boot` (BENCH_RUNS=N to change the repetitions).

use std::process::Command;
use std::time::{Duration, Instant};

struct Sample {
    wall: Duration,
    ready: Duration,
    guest_ready: Duration,
    exits_at_ready: u64,
    insn_emulation: u64,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn summary(name: &str, unit: &str, mut v: Vec<f64>) -> (String, f64) {
    let med = percentile(&mut v, 0.5);
    let line = format!(
        "{name:<44} {med:>10.3} {unit:<3} (p10 {:.3}, p90 {:.3}, n={})",
        percentile(&mut v, 0.1),
        percentile(&mut v, 0.9),
        v.len()
    );
    (line, med)
}

/// One run of the `vmm` binary (a fresh process, as a user starts it).
fn run_vmm(vcpus: u32) -> Sample {
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_vmm"))
        .args(["run", "--vcpus", &vcpus.to_string(), "--cmdline", "quiet", "--stats"])
        .output()
        .expect("running vmm");
    let wall = t.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    let num_after = |key: &str| -> f64 {
        let rest = &err[err.find(key).unwrap_or_else(|| panic!("{key} in {err}")) + key.len()..];
        rest.split_whitespace().next().unwrap().trim_start_matches('(').parse().unwrap()
    };
    let insn = err
        .lines()
        .find(|l| l.trim_start().starts_with("insn_emulation "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Sample {
        wall,
        ready: Duration::from_secs_f64(num_after("guest ready ") / 1e3),
        guest_ready: Duration::ZERO,
        exits_at_ready: num_after("VMM start (") as u64,
        insn_emulation: insn,
    }
    .with_guest_ready(&err)
}

impl Sample {
    fn with_guest_ready(mut self, err: &str) -> Self {
        let key = "ms after kernel entry";
        if let Some(line) = err.lines().find(|l| l.contains(key)) {
            let v: f64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
            self.guest_ready = Duration::from_secs_f64(v / 1e3);
        }
        self
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing useful.
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;

    // The host's cost of starting (and reaping) a process, for scale.
    let host: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            Command::new("/bin/true").status().unwrap();
            ms(t.elapsed())
        })
        .collect();

    println!("boot benchmark, {runs} runs each (medians; VMM built with the bench profile)\n");
    let (line, host_med) = summary("host: spawn+exit+wait /bin/true", "ms", host);
    println!("{line}");
    for vcpus in [1, 2, 4] {
        let samples: Vec<Sample> = (0..runs).map(|_| run_vmm(vcpus)).collect();
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
        let (l, _) = summary(
            "  ring-0 instructions, whole run",
            "",
            samples.iter().map(|s| s.insn_emulation as f64).collect(),
        );
        println!("{l}");
        println!("  {:<42} {:>10.1}x", "ratio: VM boot+exit / host process", wall / host_med);
    }
}
