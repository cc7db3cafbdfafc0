//! Shared by the benchmarks (`benches/boot.rs`, `benches/fork.rs`): summary
//! statistics, one boot of the `vmm` binary measured as a user starts it, the
//! host's cost of starting a process, and where results are written.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The value at fraction `p` (0..=1) of the sorted values (nearest rank).
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Median, spread and count of a set of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p25: f64,
    pub p75: f64,
    pub n: usize,
}

impl Stats {
    /// # Panics
    ///
    /// If `v` is empty.
    pub fn of(v: &[f64]) -> Stats {
        assert!(!v.is_empty(), "no samples");
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        // Linear interpolation between the closest ranks (the median of an
        // even count is the mean of the middle two).
        let at = |p: f64| {
            let x = (v.len() - 1) as f64 * p;
            let (i, f) = (x.floor() as usize, x.fract());
            if f == 0.0 {
                v[i]
            } else {
                v[i] + (v[i + 1] - v[i]) * f
            }
        };
        Stats {
            median: at(0.5),
            min: v[0],
            max: v[v.len() - 1],
            p25: at(0.25),
            p75: at(0.75),
            n: v.len(),
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "median": self.median, "min": self.min, "max": self.max,
            "p25": self.p25, "p75": self.p75, "n": self.n,
        })
    }
}

/// `name  median unit (p10 .., p90 .., n=..)`, and the median.
pub fn summary(name: &str, unit: &str, mut v: Vec<f64>) -> (String, f64) {
    let med = percentile(&mut v, 0.5);
    let line = format!(
        "{name:<44} {med:>10.3} {unit:<3} (p10 {:.3}, p90 {:.3}, n={})",
        percentile(&mut v, 0.1),
        percentile(&mut v, 0.9),
        v.len()
    );
    (line, med)
}

/// One boot of the `vmm` binary, as a user starts it.
#[derive(Clone, Copy, Debug)]
pub struct BootSample {
    /// Process spawn → exit, measured here.
    pub wall: Duration,
    /// VMM start → guest ready (the VMM's clock).
    pub ready: Duration,
    /// Kernel entry → ready (the guest's TSC).
    pub guest_ready: Duration,
    /// KVM exits until ready, all vCPUs.
    pub exits_at_ready: u64,
    /// Ring-0 instructions emulated over the whole run, all vCPUs.
    pub insn_emulation: u64,
}

/// The guest's command line: `quiet`, and `BENCH_CMDLINE`'s words if set
/// (e.g. `bulkmem=guest` to measure with the in-guest zeroing and copying).
pub fn guest_cmdline() -> String {
    match std::env::var("BENCH_CMDLINE") {
        Ok(extra) if !extra.trim().is_empty() => format!("quiet {}", extra.trim()),
        _ => "quiet".to_string(),
    }
}

/// Runs `vmm run --vcpus N --cmdline quiet --stats` (the kernel's boot and its
/// self-tests, no program) and reads the figures from its `--stats` report.
pub fn run_vmm(vcpus: u32) -> BootSample {
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_vmm"))
        .args(["run", "--vcpus", &vcpus.to_string(), "--cmdline", &guest_cmdline(), "--stats"])
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
    let key = "ms after kernel entry";
    let guest_ready = err
        .lines()
        .find(|l| l.contains(key))
        .map(|l| l.split_whitespace().nth(3).unwrap().parse::<f64>().unwrap())
        .map_or(Duration::ZERO, |v| Duration::from_secs_f64(v / 1e3));
    BootSample {
        wall,
        ready: Duration::from_secs_f64(num_after("guest ready ") / 1e3),
        guest_ready,
        exits_at_ready: num_after("VMM start (") as u64,
        insn_emulation: insn,
    }
}

/// The host's cost of starting and reaping a process (`/bin/true`), in ms.
pub fn host_spawn_ms() -> f64 {
    let t = Instant::now();
    let s = Command::new("/bin/true").status().expect("running /bin/true");
    assert!(s.success());
    ms(t.elapsed())
}

/// `BENCH_OUT`, else `$CARGO_TARGET_DIR/bench`, else `bench/` in the target
/// directory this benchmark was built in (created).
pub fn out_dir() -> PathBuf {
    let dir = if let Some(d) = std::env::var_os("BENCH_OUT") {
        PathBuf::from(d)
    } else if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(d).join("bench")
    } else {
        // target/<profile>/deps/<bench binary>
        let exe = std::env::current_exe().expect("the benchmark's own path");
        exe.ancestors().nth(3).expect("a target directory").join("bench")
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// An environment variable parsed as `T`, or `default` when unset.
///
/// # Panics
///
/// If it is set but does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v}: not a valid value")),
        Err(_) => default,
    }
}

/// Whether `BENCH_QUICK` asks for a quick run (set and not `0`).
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}
