//! Reliability under a hostile program (issue 12): a fork bomb neither
//! crashes the kernel nor keeps the VM alive after pid 1 returns; memory
//! exhaustion ends in a failed fork (EAGAIN/ENOMEM), not a panic; the kernel
//! heap grows from the frame allocator.

mod common;

use std::time::Duration;

use vmm::programs::path;
use vmm::protocol::boot::memory;
use vmm::protocol::counters::CounterPage;
use vmm::{ExitReport, GuestExit, Vmm};

fn forkbomb(vcpus: u32, memory_mib: u64, secs: u64) -> ExitReport {
    let secs_arg = secs.to_string();
    Vmm::builder()
        .vcpus(vcpus)
        .memory_mib(memory_mib)
        .cmdline("quiet")
        .program(path("forkbomb"), &[secs_arg.as_str()])
        .boot()
        .expect("boot")
        // The bomb never stops on its own: without the VM ending with pid 1,
        // this times out.
        .wait(Some(Duration::from_secs(secs + 90)))
        .expect("wait")
}

/// What every fork bomb run must show: pid 1 returned and its status is the
/// VM's (0, or 1 for a late heartbeat: see below), no bomb process saw another
/// error than EAGAIN/ENOMEM, no panic, the heap grew beyond its boot arena
/// without eating the frames held back for it.
fn check_bomb(r: &ExitReport, secs: u64, memory_mib: u64) -> String {
    let figures = r.stdout.lines().find(|l| l.starts_with("forkbomb: ")).unwrap_or("").to_string();
    assert!(
        matches!(r.exit, GuestExit::Status(0 | 1)),
        "the VM ends with pid 1's status\n{}",
        common::explain(r)
    );
    assert!(!figures.is_empty(), "pid 1 printed its figures\n{}", common::explain(r));
    assert!(!r.stdout.contains("FAIL fork"), "forks fail only with EAGAIN/ENOMEM\n{}", r.stdout);
    assert!(!r.console.contains("panic"), "{}", r.console);
    let g = r.counters.global;
    let boot_arena = memory::boot_heap_bytes(memory_mib << 20);
    assert!(g.total_forks > 50, "the bomb forked: {}", g.total_forks);
    assert!(g.heap_arena_bytes > boot_arena, "the heap grew: {} bytes", g.heap_arena_bytes);
    // User memory stops where `reserve` frames are left (mm's `take`); only
    // the heap may grow into them. So whatever is missing from the reserve
    // at the end must be in the heap's arenas beyond the boot one.
    let reserve = memory::frame_reserve((memory_mib << 20) / 4096);
    let heap_grown = (g.heap_arena_bytes - boot_arena) / 4096;
    assert!(
        g.frames_free + heap_grown >= reserve,
        "{} frames free and {heap_grown} grown into by the heap: less than the {reserve} held back",
        g.frames_free
    );
    // pid 1 returns after `secs` and a beat; the VM must end then, not when
    // the bomb does (never) or the timeout expires.
    assert!(
        r.elapsed < Duration::from_secs(secs + 60),
        "the VM ended {:?} after start, pid 1 returned at {figures}",
        r.elapsed
    );
    eprintln!(
        "{figures}; {} forks, heap {} KiB in {} KiB of arenas, {} frames free, VM ended after {:.1} s",
        g.total_forks,
        g.heap_bytes / 1024,
        g.heap_arena_bytes / 1024,
        g.frames_free,
        r.elapsed.as_secs_f64()
    );
    figures
}

/// 20 s of fork bomb on 2 vCPUs in 32 MiB (memory runs out after ~400
/// processes here). pid 1's heartbeat gap (its `heartbeat gap at most 2 s`
/// line) is printed, not asserted here: it is a matter of time, which the
/// suite leaves to the on-demand 60 s test below and the README's figures
/// (the lanes' emulated hosts vary); a late heartbeat makes pid 1 exit 1.
#[test]
fn fork_bomb_ends_with_pid_1_and_no_panic() {
    check_bomb(&forkbomb(2, 32, 20), 20, 32);
}

/// Issue 14 item 2: the same bomb confined by cgroup v2's pids controller
/// (`pids.max` 50): its forks fail with EAGAIN at 50 processes, counted in
/// `pids.events`, and the VM ends with pid 1. pid 1's heartbeat is printed,
/// not asserted (as in the unconfined bomb above); timing is asserted only in
/// the generous bound on when the VM ends.
#[test]
fn fork_bomb_confined_by_pids_max() {
    let r = Vmm::builder()
        .vcpus(2)
        .memory_mib(64)
        .cmdline("quiet")
        .program(path("forkbomb"), &["20", "pids=50"])
        .boot()
        .expect("boot")
        .wait(Some(Duration::from_secs(20 + 90)))
        .expect("wait");
    let figures = check_bomb_confined(&r);
    assert!(r.stdout.contains("ok pids.current at most pids.max\n"), "{}", common::explain(&r));
    assert!(r.stdout.contains("ok pids.events counts refused forks\n"), "{}", common::explain(&r));
    // The bomb's processes never exit: at most 50 of them were ever made
    // (pid 1's own fork, the kernel's threads and the bomb's 50).
    let g = r.counters.global;
    assert!(g.total_forks <= 60, "{} forks: {figures}\n{}", g.total_forks, r.stdout);
    assert!(
        r.console.contains("cgroup: fork rejected by pids controller in /bomb\n"),
        "{}",
        r.console
    );
}

/// `check_bomb` without its memory figures (a confined bomb fills no memory).
fn check_bomb_confined(r: &ExitReport) -> String {
    assert!(
        matches!(r.exit, GuestExit::Status(0 | 1)),
        "the VM ends with pid 1's status\n{}",
        common::explain(r)
    );
    // Every check but the heartbeat's, which is a matter of time (a late beat
    // makes pid 1 exit 1, allowed above; the SVM lane's emulated host once
    // gave a 4.2 s gap here).
    let failed: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL") && *l != "FAIL heartbeat gap at most 2 s")
        .collect();
    assert!(failed.is_empty(), "{failed:?}\n{}", r.stdout);
    assert!(!r.console.contains("panic"), "{}", r.console);
    assert!(r.elapsed < Duration::from_secs(20 + 60), "the VM ended {:?} after start", r.elapsed);
    let figures: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("forkbomb: ")).collect();
    eprintln!("{}", figures.join("; "));
    figures.join("; ")
}

/// The 60 s version, heartbeat included (on demand: `cargo test
/// --release --test reliability fork_bomb_sixty -- --ignored --nocapture`):
/// every gap between pid 1's beats at most 2 s (pid 1 exits 0 only then).
#[test]
#[ignore]
fn fork_bomb_sixty_seconds() {
    let r = forkbomb(2, 32, 60);
    let figures = check_bomb(&r, 60, 32);
    assert_eq!(r.exit, GuestExit::Status(0), "{figures}\n{}", r.stdout);
    assert!(figures.contains(" 0 late,"), "{figures}");
}

fn oomhog(mode: &str) -> ExitReport {
    Vmm::builder()
        .vcpus(2)
        .memory_mib(64)
        .cmdline("quiet")
        .program(path("oomhog"), &[mode])
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait")
}

/// The one line the OOM killer printed (Linux's format), for pid 1 (`init`)
/// or another process.
fn oom_line(r: &ExitReport, init: bool) -> String {
    let lines: Vec<&str> = r.console.lines().filter(|l| l.starts_with("Out of memory: ")).collect();
    assert_eq!(lines.len(), 1, "one OOM kill\n{}", common::explain(r));
    let pid: u32 = lines[0]
        .strip_prefix("Out of memory: Killed process ")
        .and_then(|s| s.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a pid in {}", lines[0]));
    assert_eq!(pid == 1, init, "the victim: {}", lines[0]);
    let want = format!("Out of memory: Killed process {pid} (oomhog) total-vm:");
    assert!(lines[0].starts_with(&want), "{}\n{}", lines[0], common::explain(r));
    for field in
        ["kB, anon-rss:", "kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:", "kB oom_score_adj:0"]
    {
        assert!(lines[0].contains(field), "{field} in {}", lines[0]);
    }
    assert_eq!(r.counters.global.oom_kills, 1, "counted");
    lines[0].to_string()
}

/// Every OOM run: the checks passed and the victim's memory came back.
fn oom_checks_pass(r: &ExitReport) {
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(r));
    assert!(r.stdout.lines().all(|l| l.starts_with("ok ")), "{}", r.stdout);
}

/// A child writes all of RAM: it is killed (SIGKILL, Linux's line, the
/// counter), and pid 1 can use memory afterwards.
#[test]
fn oom_kills_a_child_hog() {
    let r = oomhog("child");
    oom_checks_pass(&r);
    let line = oom_line(&r, false);
    let rss: u64 =
        line.split("anon-rss:").nth(1).and_then(|s| s.split("kB").next()).unwrap().parse().unwrap();
    assert!(rss > 40 << 10, "the hog's resident memory: {line}");
}

/// The fault that finds no memory is pid 1's, but the victim is the largest
/// process (never init while others exist) and pid 1's write completes.
#[test]
fn oom_spares_the_faulting_pid_1_and_kills_the_largest() {
    let r = oomhog("bystander");
    oom_checks_pass(&r);
    oom_line(&r, false);
}

/// A thread of a process writes all of RAM: the whole thread group dies.
#[test]
fn oom_kills_the_whole_thread_group() {
    let r = oomhog("thread");
    oom_checks_pass(&r);
    oom_line(&r, false);
}

/// pid 1 alone writes all of RAM: it is the only process, so it is the
/// victim, and the VM ends with 128 + SIGKILL.
#[test]
fn oom_kills_pid_1_when_it_is_alone() {
    let r = oomhog("self");
    assert_eq!(r.exit, GuestExit::Status(128 + 9), "{}", common::explain(&r));
    oom_line(&r, true);
}

/// The kernel heap in use after `forks` fork+exit+wait cycles of `opcost`
/// with `pid_max=301` (the smallest: pids wrap from 300 to 300), on 1 vCPU (on more, the
/// per-CPU caches of kernel stacks fill depending on where children exit:
/// 16 KiB steps that have nothing to do with a leak).
fn heap_after_cycles(forks: u32) -> u64 {
    let n = forks.to_string();
    let r = Vmm::builder()
        .vcpus(1)
        .memory_mib(256)
        .cmdline("quiet pid_max=301")
        .program(path("opcost"), &["0", "0", n.as_str()])
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    let g = r.counters.global;
    assert_eq!(g.total_forks, u64::from(forks) + 2, "pid 1 and kmailboxd, then the cycles");
    assert_eq!((g.nr_threads, g.pids_in_use), (1, 1), "everything reaped but pid 1");
    g.heap_bytes
}

/// Issue 12, item 4: the kernel heap returns to a fixed bound however many
/// fork+exit+wait cycles ran, pid wrap-arounds included: the same after
/// pid_max cycles and after 3 × pid_max (before, it grew by ~55 bytes a cycle:
/// 33 KB over the difference).
#[test]
fn heap_returns_to_a_fixed_bound_over_three_pid_max_cycles() {
    let once = heap_after_cycles(301);
    let thrice = heap_after_cycles(903);
    eprintln!("heap_bytes after 301 cycles {once}, after 903 {thrice}");
    assert!(thrice <= once + 1024, "heap after 301 cycles {once} B, after 903 {thrice} B");
}

/// The kernel's resources after `forks` fork+exit+wait cycles by 4 parents
/// at once on 4 vCPUs, twice (`forkbench cases=tput`, 2 samples): the
/// counters at the end of the first round and of the second, every child and
/// parent reaped both times, each read once every kernel stack belongs to a
/// task that exists (`settle_ms`, the longest wait: a child reaped last may
/// still be switching out on another CPU, holding its kernel stack; under
/// load once seen as 3 kernel stacks against 2).
fn soak(forks: u64) -> (Box<CounterPage>, Box<CounterPage>) {
    let per_parent = format!("tput_forks={}", forks / 4);
    let r = Vmm::builder()
        .vcpus(4)
        .memory_mib(256)
        .cmdline("quiet")
        .program(
            path("forkbench"),
            &["cases=tput", "parents=4", per_parent.as_str(), "reps=2", "settle_ms=10000"],
        )
        .boot()
        .expect("boot")
        .wait(None)
        .expect("wait");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    let ends: Vec<&vmm::Snapshot> =
        r.snapshots.iter().filter(|s| s.label == "s fork_throughput parents=4").collect();
    assert_eq!(ends.len(), 2, "{}", common::explain(&r));
    (ends[0].counters.clone(), ends[1].counters.clone())
}

/// Issue 12, item 8: after a round of fork+exit+wait on 4 vCPUs, another
/// round as long leaves frames, kernel stacks, pids, open files, page-table
/// pages and tasks exactly where the first left them, and the heap within
/// what the per-CPU kernel-stack caches may hold (their fill depends on
/// where children exit). `soak(N)` runs 2 × N cycles.
fn check_soak(forks: u64) {
    let (a, b) = soak(forks);
    let (a, b) = (&a.global, &b.global);
    assert_eq!(
        common::kernel_resources(a),
        common::kernel_resources(b),
        "back to the first round's state"
    );
    assert_eq!(b.total_forks - a.total_forks, forks + 4, "the second round's forks");
    // 4 CPUs × 2 cached stacks (arch/x86_64/task.rs CACHED_STACKS) × 16 KiB.
    let cache_slack = 4 * 2 * (16 << 10);
    assert!(
        b.heap_bytes <= a.heap_bytes + cache_slack,
        "heap after round 1 {} B, after round 2 {} B",
        a.heap_bytes,
        b.heap_bytes
    );
    eprintln!(
        "soak: 2 x {forks} fork+exit+wait on 4 vCPUs; after each round: frames_in_use {}, \
         kstacks {}, pids {}, open files {}, page-table pages {}, heap {} B then {} B",
        b.frames_in_use,
        b.kstacks_in_use,
        b.pids_in_use,
        b.open_files,
        b.page_table_pages,
        a.heap_bytes,
        b.heap_bytes
    );
}

/// A short soak in the suite: 2 × 200 cycles (about 11 s on kvm_pvm).
#[test]
fn fork_exit_wait_soak_returns_to_the_same_state() {
    check_soak(200);
}

/// The soak, on demand: `cargo test --release --test reliability --
/// --ignored soak_100k --nocapture` runs 100,000 cycles after a first round
/// as long (2 × 4,000 took 204 s on kvm_pvm at load ~6: count on 85 min);
/// `SOAK_FORKS=N` runs N instead.
#[test]
#[ignore]
fn soak_100k() {
    let forks = std::env::var("SOAK_FORKS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    check_soak(forks);
}
