//! Process-creation benchmark: the same static program (`userspace/c/forkbench.c`)
//! times fork+exit+wait, vfork+exit+wait, clone of a thread + join,
//! fork+execve+wait, fork+exit+wait after the parent touched 1 MiB … 1 GiB,
//! copy-on-write faults in the child and in the parent, and fork throughput
//! with 1, 2 and 4 forking parents, with the TSC in ring 3, on this machine's
//! Linux and as pid 1 in the guest, in the same run. Beside each guest figure:
//! the ring-0 instructions per operation (KVM `insn_emulation` between the
//! snapshots the program takes through `/dev/counters`) and the ratio
//! guest/host; then the boot (VMM start → guest ready → exit).
//!
//! `cargo bench -p vmm --bench fork`; `BENCH_QUICK=1` for a run of about a
//! minute. Environment (defaults full / quick):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BENCH_REPS` | samples per case | 10 / 3 |
//! | `BENCH_SIZE_REPS` | samples per size of the size curve | 3 / 2 |
//! | `BENCH_MAX_MIB` | largest size of the curve (of 1, 16, 256, 1024) | 1024 / 16 |
//! | `BENCH_COW_PAGES` | pages written after fork in the COW cases | 256 / 32 |
//! | `BENCH_TPUT_FORKS` | forks per parent in the throughput case | 20 / 5 |
//! | `BENCH_BOOT_RUNS` | boots measured | 10 / 3 |
//! | `BENCH_TOUCH` | `populate` (MAP_POPULATE) or `write` for the curve | populate |
//! | `BENCH_OUT` | where `fork.json` and `fork.svg` go | `$CARGO_TARGET_DIR/bench` |
//! | `BENCH_CMDLINE` | words added to the guest's command line (`bulkmem=guest`, `pvspin=0`) | unset |
//! | `BENCH_PROFILE` | `1`: instead of timing, profile each latency case's ring-0 instructions | unset |
//!
//! With `BENCH_PROFILE=1` each latency case runs alone in a profiled guest
//! (`VmmBuilder::profile_span` between its snapshots; one VM exit per ring-0
//! instruction, so a minute or two in all) and `profile-CASE.folded`, `.svg`
//! and `.txt` (the top functions per operation) go to `BENCH_OUT`.
//!
//! 1 GiB is left out when the host's available memory cannot hold the guest
//! and the host's copy at once.

mod common;

#[path = "common/forkbench.rs"]
mod forkbench;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{env_or, ms, Stats};
use forkbench::{Output, Sample};
use vmm::{ExitReport, GuestExit, Vmm};

/// The sizes of the cost-versus-size curve, MiB.
const SIZES: &[u64] = &[1, 16, 256, 1024];
/// The throughput case's numbers of forking parents (each on its own vCPU in the guest).
const PARENTS: &[u32] = &[1, 2, 4];
const LATENCY_CASES: &str = "touch,fork,vfork,thread,exec,size,cow";

struct Config {
    quick: bool,
    reps: u64,
    size_reps: u64,
    sizes: Vec<u64>,
    cow_pages: u64,
    tput_forks: u64,
    boot_runs: usize,
    touch: String,
}

impl Config {
    fn from_env() -> Config {
        let quick = common::quick();
        let pick = |full, q| if quick { q } else { full };
        let max_mib: u64 = env_or("BENCH_MAX_MIB", pick(1024, 16));
        let touch: String = env_or("BENCH_TOUCH", "populate".to_string());
        assert!(touch == "populate" || touch == "write", "BENCH_TOUCH is populate or write");
        let mut sizes: Vec<u64> = SIZES.iter().copied().filter(|&s| s <= max_mib).collect();
        // The guest holds the largest size plus its kernel and copies, the host
        // its own copy of it: leave the rest of the machine room.
        let available = available_mib();
        while let Some(&largest) = sizes.last() {
            if guest_memory_mib(largest) + largest + 1024 <= available {
                break;
            }
            println!(
                "note: {largest} MiB left out of the size curve: {available} MiB available on the host"
            );
            sizes.pop();
        }
        Config {
            quick,
            reps: env_or("BENCH_REPS", pick(10, 3)),
            size_reps: env_or("BENCH_SIZE_REPS", pick(3, 2)),
            sizes,
            cow_pages: env_or("BENCH_COW_PAGES", pick(256, 32)),
            tput_forks: env_or("BENCH_TPUT_FORKS", pick(20, 5)),
            boot_runs: env_or("BENCH_BOOT_RUNS", if quick { 3 } else { 10 }),
            touch,
        }
    }

    fn sizes_arg(&self) -> String {
        let s: Vec<String> = self.sizes.iter().map(u64::to_string).collect();
        format!("sizes={}", s.join(","))
    }

    /// forkbench's arguments for the latency cases (one vCPU) or the throughput
    /// case with `parents`. The host, where a large fork takes milliseconds,
    /// samples the size curve as often as the other cases (its figures are
    /// the noisier, on a machine shared with other work).
    fn args(&self, parents: Option<&[u32]>, host: bool) -> Vec<String> {
        let size_reps = if host { self.size_reps.max(self.reps) } else { self.size_reps };
        let mut a = vec![
            format!("reps={}", self.reps),
            format!("size_reps={size_reps}"),
            format!("cow_pages={}", self.cow_pages),
            format!("tput_forks={}", self.tput_forks),
            format!("touch={}", self.touch),
        ];
        match parents {
            None if self.sizes.is_empty() => {
                a.push("cases=touch,fork,vfork,thread,exec,cow".into())
            }
            None => {
                a.push(format!("cases={LATENCY_CASES}"));
                a.push(self.sizes_arg());
            }
            Some(p) => {
                let p: Vec<String> = p.iter().map(u32::to_string).collect();
                a.push("cases=tput".into());
                a.push(format!("parents={}", p.join(",")));
            }
        }
        a
    }
}

/// MiB of guest RAM for a curve up to `largest` MiB.
fn guest_memory_mib(largest: u64) -> u64 {
    256 + largest + largest / 8
}

/// The host's MemAvailable in MiB (0 if unknown).
fn available_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn run_host(args: &[String]) -> Output {
    let path = vmm::programs::path("forkbench");
    let o = Command::new(path).args(args).output().expect("running forkbench on the host");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "forkbench on the host: {}\n{out}{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    forkbench::parse(&out).unwrap_or_else(|e| panic!("forkbench on the host: {e}\n{out}"))
}

fn run_guest(vcpus: u32, memory_mib: u64, args: &[String]) -> (ExitReport, Output) {
    let r = Vmm::builder()
        .vcpus(vcpus)
        .memory_mib(memory_mib)
        .cmdline(common::guest_cmdline())
        .program(vmm::programs::path("forkbench"), args)
        .boot()
        .expect("booting the guest")
        .wait(Some(Duration::from_secs(3600)))
        .expect("running the guest");
    assert_eq!(
        r.exit,
        GuestExit::Status(0),
        "forkbench in the guest: {}\nconsole:\n{}\nstdout:\n{}\nstderr:\n{}",
        r.exit.describe().unwrap_or_default(),
        r.console,
        r.stdout,
        r.stderr
    );
    let out = forkbench::parse(&r.stdout)
        .unwrap_or_else(|e| panic!("forkbench in the guest: {e}\n{}", r.stdout));
    (r, out)
}

/// One case's figures on one side.
struct Side {
    /// Per operation, in microseconds (throughput: per fork of the whole run).
    us: Stats,
    /// Operations per second, from each sample.
    per_s: Stats,
    samples: Vec<(u64, u64)>,
}

fn side(samples: &[&Sample], tsc_khz: u64) -> Side {
    let us_per_cycle = 1e3 / tsc_khz as f64;
    let us: Vec<f64> =
        samples.iter().map(|s| s.cycles as f64 * us_per_cycle / s.ops as f64).collect();
    let per_s: Vec<f64> = us.iter().map(|u| 1e6 / u).collect();
    Side {
        us: Stats::of(&us),
        per_s: Stats::of(&per_s),
        samples: samples.iter().map(|s| (s.ops, s.cycles)).collect(),
    }
}

struct Row {
    key: String,
    case: String,
    param: String,
    value: u64,
    title: String,
    guest: Side,
    host: Side,
    /// Ring-0 instructions per operation in the guest, and the KVM exits.
    ring0_per_op: Option<f64>,
    exits_per_op: Option<f64>,
    /// Guest counters' changes per operation (the non-zero ones).
    counters_per_op: BTreeMap<String, f64>,
}

fn title(s: &Sample) -> String {
    match (s.case.as_str(), s.value) {
        ("fork_exit_wait", 0) => "fork+exit+wait, minimal process".into(),
        ("fork_exit_wait", m) => format!("fork+exit+wait, parent touched {}", mib(m)),
        ("vfork_exit_wait", _) => "vfork+exit+wait".into(),
        ("clone_thread_join", _) => "clone thread + join (futex)".into(),
        ("fork_execve_wait", _) => "fork+execve+wait".into(),
        ("cow_child", n) => format!("COW fault in the child, per page ({n} pages)"),
        ("cow_parent", n) => format!("COW fault in the parent, per page ({n} pages)"),
        ("fork_throughput", p) => {
            format!("fork throughput, {p} parent{} (forks/s)", if p == 1 { "" } else { "s" })
        }
        (c, v) => format!("{c} {v}"),
    }
}

fn mib(m: u64) -> String {
    if m >= 1024 && m.is_multiple_of(1024) {
        format!("{} GiB", m / 1024)
    } else {
        format!("{m} MiB")
    }
}

/// A time in µs with a unit that keeps 3 significant digits.
fn time(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.3} ms", us / 1e3)
    } else {
        format!("{us:.1} µs")
    }
}

fn rate(per_s: f64) -> String {
    if per_s >= 100.0 {
        format!("{per_s:.0}")
    } else {
        format!("{per_s:.2}")
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Builds the rows of every case the guest and the host both ran.
fn rows(guest: &[(ExitReport, Output)], host: &[Output], tsc_khz: u64) -> Vec<Row> {
    let mut rows = Vec::new();
    // KVM counts ring-0 instructions only where it emulates ring 0 (kvm_pvm).
    let counts_ring0 = vmm::KvmKind::detect().emulates_ring0();
    for (report, gout) in guest {
        let ring0 = forkbench::ring0(report).unwrap_or_else(|e| panic!("snapshots: {e}"));
        let pairs = forkbench::snapshot_pairs(report).unwrap();
        for key in gout.keys() {
            let gs = gout.samples_of(&key);
            let hs: Vec<&Sample> = host.iter().flat_map(|h| h.samples_of(&key)).collect();
            if hs.is_empty() {
                continue;
            }
            let ops: u64 = gs.iter().map(|s| s.ops).sum();
            let ring0_per_op =
                ring0.get(&key).filter(|_| counts_ring0).map(|(n, _)| *n as f64 / ops as f64);
            let p = pairs.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let exits_per_op = (!p.is_empty()).then(|| {
                let exits: u64 = p
                    .iter()
                    .map(|(b, e)| e.kvm.vcpu_total("exits") - b.kvm.vcpu_total("exits"))
                    .sum();
                exits as f64 / ops as f64
            });
            let mut counters_per_op = BTreeMap::new();
            for (i, name) in vmm::protocol::counters::GlobalCounters::FIELDS.iter().enumerate() {
                let d = forkbench::counter_delta(p, |c| c.global.values()[i].1);
                if d != 0 && (d as i64) > 0 {
                    counters_per_op.insert(name.to_string(), d as f64 / ops as f64);
                }
            }
            for (i, name) in vmm::protocol::counters::CpuCounters::FIELDS.iter().enumerate() {
                let d = forkbench::counter_delta(p, |c| forkbench::cpu_sum(c, |x| x.values()[i].1));
                if d != 0 && (d as i64) > 0 {
                    counters_per_op.insert(format!("cpu.{name}"), d as f64 / ops as f64);
                }
            }
            rows.push(Row {
                key: key.clone(),
                case: gs[0].case.clone(),
                param: gs[0].param.clone(),
                value: gs[0].value,
                title: title(gs[0]),
                guest: side(&gs, tsc_khz),
                host: side(&hs, tsc_khz),
                ring0_per_op,
                exits_per_op,
                counters_per_op,
            });
        }
    }
    rows
}

fn print_table(rows: &[Row]) {
    println!("| case | guest median (min–max) | host median (min–max) | guest/host | ring-0 instructions per op (guest) |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let tput = r.case == "fork_throughput";
        let spread = |s: &Stats, f: fn(f64) -> String| {
            format!("{} ({}–{})", f(s.median), f(s.min), f(s.max))
        };
        let (g, h, ratio) = if tput {
            (
                spread(&r.guest.per_s, rate),
                spread(&r.host.per_s, rate),
                r.host.per_s.median / r.guest.per_s.median,
            )
        } else {
            (
                spread(&r.guest.us, time),
                spread(&r.host.us, time),
                r.guest.us.median / r.host.us.median,
            )
        };
        let ring0 = r.ring0_per_op.map_or("–".into(), thousands);
        // Below 10 with a decimal: the 1 GiB fork's 0.4× is not 0×.
        let ratio = if ratio < 10.0 { format!("{ratio:.1}") } else { format!("{ratio:.0}") };
        println!("| {} | {g} | {h} | {ratio}× | {ring0} |", r.title);
    }
}

/// Touch costs per page: (for, method) → (guest µs/page, host µs/page).
fn touch_rows(guest: &Output, host: &Output, tsc_khz: u64) -> Vec<serde_json::Value> {
    let us = |c: u64, pages: u64| c as f64 * 1e3 / tsc_khz as f64 / pages as f64;
    guest
        .touches
        .iter()
        .filter_map(|g| {
            let h = host
                .touches
                .iter()
                .find(|h| h.for_case == g.for_case && h.pages == g.pages && h.method == g.method)?;
            Some(serde_json::json!({
                "for": g.for_case, "pages": g.pages, "size_mib": g.size_mib, "method": g.method,
                "guest_us_per_page": us(g.cycles, g.pages), "host_us_per_page": us(h.cycles, h.pages),
                "guest_total_ms": us(g.cycles, 1) / 1e3, "host_total_ms": us(h.cycles, 1) / 1e3,
            }))
        })
        .collect()
}

struct BootRow {
    vcpus: u32,
    ready_ms: Stats,
    guest_ready_ms: Stats,
    wall_ms: Stats,
    exits: Stats,
    insns: Stats,
}

fn boot(runs: usize) -> (Vec<BootRow>, Stats) {
    let host: Vec<f64> = (0..runs).map(|_| common::host_spawn_ms()).collect();
    let rows = [1, 2, 4]
        .into_iter()
        .map(|vcpus| {
            let s: Vec<common::BootSample> = (0..runs).map(|_| common::run_vmm(vcpus)).collect();
            let f = |g: &dyn Fn(&common::BootSample) -> f64| {
                Stats::of(&s.iter().map(g).collect::<Vec<_>>())
            };
            BootRow {
                vcpus,
                ready_ms: f(&|b| ms(b.ready)),
                guest_ready_ms: f(&|b| ms(b.guest_ready)),
                wall_ms: f(&|b| ms(b.wall)),
                exits: f(&|b| b.exits_at_ready as f64),
                insns: f(&|b| b.insn_emulation as f64),
            }
        })
        .collect();
    (rows, Stats::of(&host))
}

fn print_boot(rows: &[BootRow], host: Stats) {
    let cell = |s: Stats| format!("{:.1} ms ({:.1}–{:.1})", s.median, s.min, s.max);
    println!("| boot (`vmm run`, no program) | 1 vCPU | 2 vCPUs | 4 vCPUs |");
    println!("|---|---|---|---|");
    let line = |name: &str, f: &dyn Fn(&BootRow) -> String| {
        let cells: Vec<String> = rows.iter().map(f).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    line("VMM start → guest ready", &|r| cell(r.ready_ms));
    line("kernel entry → ready (guest TSC)", &|r| cell(r.guest_ready_ms));
    line("process spawn → exit (wall)", &|r| cell(r.wall_ms));
    line("KVM exits until ready", &|r| format!("{:.0}", r.exits.median));
    if vmm::KvmKind::detect().emulates_ring0() {
        line("ring-0 instructions, whole run", &|r| thousands(r.insns.median));
    }
    line(
        &format!("ratio spawn → exit / host spawn+exit+wait `/bin/true` ({:.2} ms)", host.median),
        &|r| format!("{:.0}×", r.wall_ms.median / host.median),
    );
}

fn plot(rows: &[Row], path: &Path, tsc_note: &str) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let curve: Vec<&Row> =
        rows.iter().filter(|r| r.case == "fork_exit_wait" && r.value > 0).collect();
    if curve.is_empty() {
        return Ok(());
    }
    let ms_of = |s: &Stats| (s.min / 1e3, s.median / 1e3, s.max / 1e3);
    let lo = curve.iter().map(|r| r.host.us.min.min(r.guest.us.min)).fold(f64::MAX, f64::min) / 1e3;
    let hi = curve.iter().map(|r| r.host.us.max.max(r.guest.us.max)).fold(0.0, f64::max) / 1e3;
    let xmax = curve.iter().map(|r| r.value).max().unwrap_or(1) as f64 * 2.0;

    let root = SVGBackend::new(path, (960, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(580);
    let key_points = || curve.iter().map(|r| r.value as f64).collect::<Vec<_>>();
    let mut chart = ChartBuilder::on(&upper)
        .caption("fork+exit+wait against the memory the parent touched", ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (0.5f64..xmax).log_scale().with_key_points(key_points()),
            (lo / 2.0..hi * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc(format!("MiB touched by the parent before fork (log scale); {tsc_note}"))
        .y_desc("ms per fork+exit+wait (median, bars min–max; log scale)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    let series = [("guest (this PVM host)", RED, true), ("host Linux", BLUE, false)];
    for (name, color, in_guest) in series {
        let pts: Vec<(f64, (f64, f64, f64))> = curve
            .iter()
            .map(|r| (r.value as f64, ms_of(if in_guest { &r.guest.us } else { &r.host.us })))
            .collect();
        let c = color;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|(x, (_, m, _))| (*x, *m)),
                c.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|(x, (_, m, _))| Circle::new((*x, *m), 4, c.filled())))?;
        chart
            .draw_series(pts.iter().map(|(x, (lo, m, hi))| {
                ErrorBar::new_vertical(*x, *lo, *m, *hi, c.filled(), 10)
            }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()?;

    // The guest's kernel path length for the same forks.
    let insns: Vec<(f64, f64)> =
        curve.iter().filter_map(|r| Some((r.value as f64, r.ring0_per_op?))).collect();
    let top = insns.iter().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&lower)
        .caption(
            "guest: ring-0 instructions per fork+exit+wait (KVM insn_emulation)",
            ("sans-serif", 20),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (0.5f64..xmax).log_scale().with_key_points(key_points()),
            0.0..top.max(1.0),
        )?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("MiB touched by the parent before fork (log scale)")
        .y_desc("ring-0 instructions")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{:.0}k", y / 1e3))
        .draw()?;
    chart.draw_series(LineSeries::new(insns.iter().copied(), RED.stroke_width(2)))?;
    chart.draw_series(insns.iter().map(|&p| Circle::new(p, 4, RED.filled())))?;
    root.present()?;
    Ok(())
}

fn side_json(s: &Side) -> serde_json::Value {
    serde_json::json!({
        "us_per_op": s.us.to_json(),
        "ops_per_s": s.per_s.to_json(),
        "samples_ops_cycles": s.samples,
    })
}

/// Profile each latency case alone (`BENCH_PROFILE=1`): (file name, forkbench
/// case, snapshot key, operations per snapshot pair).
fn profile_cases(cfg: &Config, out_dir: &Path) {
    let reps = cfg.reps;
    let cow = cfg.cow_pages.min(64);
    let cases = [
        ("fork-exit-wait", "fork", "fork_exit_wait size_mib=0".to_string(), 1),
        ("vfork-exit-wait", "vfork", "vfork_exit_wait size_mib=0".to_string(), 1),
        ("thread-create-join", "thread", "clone_thread_join size_mib=0".to_string(), 1),
        ("fork-execve-wait", "exec", "fork_execve_wait size_mib=0".to_string(), 1),
        ("cow-fault-child", "cow", format!("cow_child pages={cow}"), cow),
    ];
    for (name, case, key, ops_per_pair) in cases {
        let args = [format!("cases={case}"), format!("reps={reps}"), format!("cow_pages={cow}")];
        let t = Instant::now();
        let r = Vmm::builder()
            .vcpus(1)
            .memory_mib(256)
            .cmdline(common::guest_cmdline())
            .program(vmm::programs::path("forkbench"), &args)
            .profile_span(format!("b {key}"), format!("e {key}"))
            .boot()
            .expect("booting the guest")
            .wait(Some(Duration::from_secs(3600)))
            .expect("running the guest");
        assert_eq!(r.exit, GuestExit::Status(0), "forkbench {case}: {:?}\n{}", r.exit, r.console);
        let p = r.profile.as_ref().expect("a profile");
        // The cow case's `b` snapshot comes once per sample, the others' once.
        let ops = p.spans.max(1) * ops_per_pair * if case == "cow" { 1 } else { reps };
        let kvm = r.insns_in_spans(&format!("b {key}"), &format!("e {key}")).unwrap_or(0);
        // Bytes of `rep movs`/`rep stos`: one instruction each in the count,
        // but about an instruction's time per 8-byte word where ring 0 is
        // emulated.
        let rep = p.event_total(vmm::REP_STRING_BYTES) / ops.max(1);
        let text = format!(
            "{name}: {ops} operations; {}; KVM's insn_emulation: {kvm}; \
             rep movs/stos bytes per operation: {rep}\n\nper operation:\n\n{}",
            p.summary(),
            p.top_table(30, ops)
        );
        let write = |ext: &str, data: &[u8]| {
            let path = out_dir.join(format!("profile-{name}.{ext}"));
            std::fs::write(&path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        };
        write("folded", p.folded().as_bytes());
        write("svg", &p.flamegraph(&format!("{name}, {ops} operations")).expect("flame graph"));
        write("txt", text.as_bytes());
        println!(
            "{}\n({:.1} s)\n",
            text.lines().take(16).collect::<Vec<_>>().join("\n"),
            t.elapsed().as_secs_f64()
        );
    }
    println!("wrote profile-*.folded, .svg, .txt in {}", out_dir.display());
}

fn main() {
    let started = Instant::now();
    let cfg = Config::from_env();
    let out_dir = common::out_dir();
    if std::env::var_os("BENCH_PROFILE").is_some_and(|v| v == "1") {
        profile_cases(&cfg, &out_dir);
        return;
    }
    let kvm = vmm::KvmKind::detect();
    if !kvm.emulates_ring0() {
        println!(
            "this KVM ({}) runs the guest's ring 0 on the CPU: KVM does not count ring-0 \
             instructions here, and the table shows none",
            kvm.module()
        );
    }
    println!(
        "fork benchmark{}: reps {}, size curve {:?} MiB × {} (touched by {}), COW {} pages, \
         throughput {} forks per parent, boot {} runs",
        if cfg.quick { " (quick)" } else { "" },
        cfg.reps,
        cfg.sizes,
        cfg.size_reps,
        cfg.touch,
        cfg.cow_pages,
        cfg.tput_forks,
        cfg.boot_runs
    );

    // The latency cases and the size curve: one vCPU.
    let largest = cfg.sizes.last().copied().unwrap_or(0);
    let host_lat = run_host(&cfg.args(None, true));
    let t = Instant::now();
    let guest_lat = run_guest(1, guest_memory_mib(largest), &cfg.args(None, false));
    println!("guest latency cases: {:.1} s", t.elapsed().as_secs_f64());
    let tsc_khz = guest_lat.0.tsc_khz;

    // Throughput: P parents on P vCPUs in the guest; the host has what it has.
    let host_tput = run_host(&cfg.args(Some(PARENTS), true));
    let mut guest: Vec<(ExitReport, Output)> = vec![guest_lat];
    for &p in PARENTS {
        guest.push(run_guest(p, 256, &cfg.args(Some(&[p]), false)));
    }
    let rows = rows(&guest, &[host_lat.clone(), host_tput], tsc_khz);
    let host_cpus = std::thread::available_parallelism().map_or(0, |n| n.get());

    println!();
    print_table(&rows);
    let touch = touch_rows(&guest[0].1, &host_lat, tsc_khz);
    println!();
    for t in &touch {
        println!(
            "setup, {} pages for {} by {}: guest {:.1} µs/page, host {:.3} µs/page",
            t["pages"],
            t["for"].as_str().unwrap(),
            t["method"].as_str().unwrap(),
            t["guest_us_per_page"].as_f64().unwrap(),
            t["host_us_per_page"].as_f64().unwrap()
        );
    }

    let (boot_rows, host_spawn) = boot(cfg.boot_runs);
    println!();
    print_boot(&boot_rows, host_spawn);

    let tsc_note = format!("TSC {:.3} GHz", tsc_khz as f64 / 1e6);
    let svg = out_dir.join("fork.svg");
    plot(&rows, &svg, &tsc_note).unwrap_or_else(|e| panic!("plotting {}: {e}", svg.display()));

    let json = serde_json::json!({
        "config": {
            "quick": cfg.quick, "reps": cfg.reps, "size_reps": cfg.size_reps,
            "sizes_mib": cfg.sizes, "cow_pages": cfg.cow_pages, "tput_forks": cfg.tput_forks,
            "boot_runs": cfg.boot_runs, "touch": cfg.touch,
        },
        "tsc_khz": tsc_khz,
        "host_cpus": host_cpus,
        "cases": rows.iter().map(|r| serde_json::json!({
            "key": r.key, "case": r.case, "param": r.param, "value": r.value, "title": r.title,
            "guest": side_json(&r.guest), "host": side_json(&r.host),
            "ratio_guest_over_host": r.guest.us.median / r.host.us.median,
            "ring0_insns_per_op": r.ring0_per_op,
            "kvm_exits_per_op": r.exits_per_op,
            "guest_counters_per_op": r.counters_per_op,
        })).collect::<Vec<_>>(),
        "touch": touch,
        "boot": {
            "host_spawn_true_ms": host_spawn.to_json(),
            "vcpus": boot_rows.iter().map(|b| serde_json::json!({
                "vcpus": b.vcpus, "ready_ms": b.ready_ms.to_json(),
                "guest_ready_ms": b.guest_ready_ms.to_json(), "spawn_to_exit_ms": b.wall_ms.to_json(),
                "exits_until_ready": b.exits.to_json(), "ring0_insns": b.insns.to_json(),
            })).collect::<Vec<_>>(),
        },
        "guest_elapsed_ms": guest.iter().map(|(r, _)| ms(r.elapsed)).collect::<Vec<_>>(),
    });
    let json_path = out_dir.join("fork.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&json).unwrap())
        .unwrap_or_else(|e| panic!("writing {}: {e}", json_path.display()));
    println!(
        "\nwrote {} and {} ({:.0} s in all)",
        json_path.display(),
        svg.display(),
        started.elapsed().as_secs_f64()
    );
}
