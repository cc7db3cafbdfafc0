//! The fork benchmark's program (`userspace/c/forkbench.c`) in a quick
//! configuration, on this machine's Linux and as pid 1 in the guest: every case
//! produces exactly the samples, operation counts and (in the guest) counter
//! snapshot pairs it should, and the guest's counters between each pair show
//! exactly the operations the case performed. Counts only: the timings are the
//! benchmark's business (`cargo bench -p vmm --bench fork`).

mod common;

#[path = "../benches/common/forkbench.rs"]
mod forkbench;

use std::process::Command;

use forkbench::{cpu_sum, Output};
use vmm::programs::path;
use vmm::protocol::counters::CounterPage;
use vmm::{ExitReport, GuestExit, KvmKind, Vmm};

const REPS: u64 = 2;
const SIZE_MIB: u64 = 1;
const COW_PAGES: u64 = 8;
const TPUT_FORKS: u64 = 3;

/// The latency cases (one vCPU in the guest) or the throughput case (two).
fn args(tput: bool) -> Vec<String> {
    let cases = if tput { "cases=tput" } else { "cases=touch,fork,vfork,thread,exec,size,cow" };
    vec![
        cases.into(),
        format!("reps={REPS}"),
        format!("sizes={SIZE_MIB}"),
        format!("cow_pages={COW_PAGES}"),
        "parents=1,2".into(),
        format!("tput_forks={TPUT_FORKS}"),
    ]
}

/// (key, samples, ops per sample) of every case, in the order they run.
fn expected_cases() -> Vec<(String, u64, u64)> {
    vec![
        ("fork_exit_wait size_mib=0".into(), REPS, 1),
        ("vfork_exit_wait size_mib=0".into(), REPS, 1),
        ("clone_thread_join size_mib=0".into(), REPS, 1),
        ("fork_execve_wait size_mib=0".into(), REPS, 1),
        (format!("fork_exit_wait size_mib={SIZE_MIB}"), REPS, 1),
        (format!("cow_child pages={COW_PAGES}"), REPS, COW_PAGES),
        (format!("cow_parent pages={COW_PAGES}"), REPS, COW_PAGES),
        ("fork_throughput parents=1".into(), REPS, TPUT_FORKS),
        ("fork_throughput parents=2".into(), REPS, 2 * TPUT_FORKS),
    ]
}

/// The shape every run must have, wherever it ran.
fn check_shape(out: &Output, where_: &str, tput: bool) {
    let want: Vec<(String, u64, u64)> = expected_cases()
        .into_iter()
        .filter(|(k, _, _)| k.starts_with("fork_throughput") == tput)
        .collect();
    let got: Vec<(String, u64, u64)> = out
        .keys()
        .into_iter()
        .map(|k| {
            let s = out.samples_of(&k);
            assert!(
                s.iter().all(|x| x.ops == s[0].ops),
                "{where_}: {k}: ops differ between samples"
            );
            assert!(s.iter().all(|x| x.cycles > 0), "{where_}: {k}: a sample of 0 cycles");
            (k, s.len() as u64, s[0].ops)
        })
        .collect();
    assert_eq!(got, want, "{where_}: cases, sample counts, ops per sample");
    assert_eq!(out.done, Some(want.len() as u64 * REPS), "{where_}");
    for (k, v) in [("reps", "2"), ("size_reps", "2"), ("sizes", "1"), ("touch", "populate")] {
        assert_eq!(out.settings.get(k).map(String::as_str), Some(v), "{where_}: setting {k}");
    }
    if tput {
        assert!(out.touches.is_empty(), "{where_}");
        return;
    }

    let touches: Vec<(&str, u64, u64, &str)> = out
        .touches
        .iter()
        .map(|t| (t.for_case.as_str(), t.size_mib, t.pages, t.method.as_str()))
        .collect();
    let pages = SIZE_MIB * 256;
    assert_eq!(
        touches,
        [
            ("touch", 0, COW_PAGES, "write"),
            ("touch", 0, COW_PAGES, "populate"),
            ("fork_exit_wait", SIZE_MIB, pages, "populate"),
            ("cow_child", 0, COW_PAGES, "populate"),
            ("cow_parent", 0, COW_PAGES, "populate"),
        ],
        "{where_}: touch lines"
    );
    assert!(out.touches.iter().all(|t| t.cycles > 0), "{where_}");
}

#[test]
fn forkbench_on_the_host() {
    for tput in [false, true] {
        let o = Command::new(path("forkbench")).args(args(tput)).output().expect("forkbench");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}\n{text}{}", o.status, String::from_utf8_lossy(&o.stderr));
        let out = forkbench::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        check_shape(&out, "host", tput);
        assert_eq!(out.settings["counters"], "no", "Linux has no /dev/counters");
        assert_eq!(out.settings["sysinfo"], "no", "Linux passes no AT_SYSINFO");
    }

    // The exec target exits at once, silently; a bad argument is refused.
    let o = Command::new(path("forkbench")).arg("exit").output().unwrap();
    assert_eq!((o.status.code(), o.stdout.len()), (Some(0), 0));
    let o = Command::new(path("forkbench")).arg("reps=x").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "error case=args what=reps ret=-22\n");
}

fn in_guest(tput: bool) -> (ExitReport, Output) {
    let r = Vmm::builder()
        .vcpus(if tput { 2 } else { 1 })
        .memory_mib(256)
        .cmdline("quiet")
        .program(path("forkbench"), &args(tput))
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait");
    assert_eq!(r.exit, GuestExit::Status(0), "{}\n{}\n{}", r.console, r.stdout, r.stderr);
    let out = forkbench::parse(&r.stdout).unwrap_or_else(|e| panic!("{e}\n{}", r.stdout));
    check_shape(&out, "guest", tput);
    assert_eq!(out.settings["counters"], "yes", "the guest has /dev/counters");
    assert_eq!(out.settings["sysinfo"], "yes");
    (r, out)
}

/// (key, snapshot pairs) the run should have taken: one pair around each case's
/// samples, or one per sample where each is bracketed on its own (COW,
/// throughput), and two empty ones; sorted by key.
fn expected_pairs(tput: bool) -> Vec<(String, usize)> {
    let mut want: Vec<(String, usize)> = expected_cases()
        .into_iter()
        .filter(|(k, _, _)| k.starts_with("fork_throughput") == tput)
        .map(|(k, n, _)| {
            let per_sample = k.starts_with("cow_") || k.starts_with("fork_throughput");
            (k, if per_sample { n as usize } else { 1 })
        })
        .collect();
    want.push((forkbench::NULL_KEY.into(), 2));
    want.sort();
    want
}

/// Checks the pairs and that each case ran ring-0 code; the pairs by key.
fn check_snapshots(r: &ExitReport, tput: bool) {
    let pairs = forkbench::snapshot_pairs(r).unwrap_or_else(|e| panic!("{e}"));
    let want = expected_pairs(tput);
    let got: Vec<(String, usize)> = pairs.iter().map(|(k, p)| (k.clone(), p.len())).collect();
    assert_eq!(got, want, "snapshot pairs per case");
    assert_eq!(r.snapshots.len(), 2 * want.iter().map(|(_, n)| n).sum::<usize>());
    assert!(r.snapshots.iter().all(|s| !s.reset));
    assert_eq!(r.counters.global.snapshots, r.snapshots.len() as u64, "the guest counted them");
    // The benchmark divides the ring-0 instructions between each case's snapshots
    // (an empty pair's cost subtracted) by its operations. Where KVM emulates ring
    // 0, every case ran some; elsewhere KVM does not count them.
    let ring0 = forkbench::ring0(r).unwrap_or_else(|e| panic!("{e}"));
    if KvmKind::detect().emulates_ring0() {
        for (k, _) in want.iter().filter(|(k, _)| k != forkbench::NULL_KEY) {
            assert!(ring0[k].0 > 0, "{k}: no ring-0 instructions between its snapshots");
        }
    }
}

/// The change of `f` over the pairs of `key`.
fn delta(r: &ExitReport, key: &str, f: &dyn Fn(&CounterPage) -> u64) -> u64 {
    let pairs = forkbench::snapshot_pairs(r).unwrap();
    forkbench::counter_delta(&pairs[key], f)
}

/// Clones between the pairs of `key`: fork-like, vfork, thread, all (`total_forks`).
fn clones(r: &ExitReport, key: &str) -> [u64; 4] {
    [
        delta(r, key, &|c| c.global.clones_fork),
        delta(r, key, &|c| c.global.clones_vfork),
        delta(r, key, &|c| c.global.clones_thread),
        delta(r, key, &|c| c.global.total_forks),
    ]
}

#[test]
fn forkbench_in_the_guest_with_snapshots() {
    let (r, _) = in_guest(false);
    check_snapshots(&r, false);
    // The guest's counters between each pair: exactly the operations the case did.
    assert_eq!(clones(&r, "fork_exit_wait size_mib=0"), [REPS, 0, 0, REPS]);
    assert_eq!(clones(&r, "vfork_exit_wait size_mib=0"), [0, REPS, 0, REPS]);
    assert_eq!(clones(&r, "clone_thread_join size_mib=0"), [0, 0, REPS, REPS]);
    assert_eq!(clones(&r, "fork_execve_wait size_mib=0"), [REPS, 0, 0, REPS]);
    let sized = format!("fork_exit_wait size_mib={SIZE_MIB}");
    assert_eq!(clones(&r, &sized), [REPS, 0, 0, REPS]);
    // The touched megabyte is 256 more page-table entries for each fork to copy.
    let ptes = |key: &str| delta(&r, key, &|c| c.global.fork_ptes_copied);
    assert_eq!(ptes(&sized) - ptes("fork_exit_wait size_mib=0"), REPS * SIZE_MIB * 256);
    for who in ["cow_child", "cow_parent"] {
        let key = format!("{who} pages={COW_PAGES}");
        assert_eq!(clones(&r, &key), [0, 0, 0, 0], "{key}: the fork is outside the pair");
        assert_eq!(delta(&r, &key, &|c| cpu_sum(c, |x| x.cow_copies)), REPS * COW_PAGES, "{key}");
        assert_eq!(delta(&r, &key, &|c| cpu_sum(c, |x| x.cow_reuses)), 0, "{key}");
    }
}

#[test]
fn forkbench_throughput_in_the_guest() {
    let (r, _) = in_guest(true);
    check_snapshots(&r, true);
    for p in [1, 2] {
        let key = format!("fork_throughput parents={p}");
        let n = REPS * p * TPUT_FORKS;
        assert_eq!(clones(&r, &key), [n, 0, 0, n], "{key}: the parents are forked before the pair");
    }
}
