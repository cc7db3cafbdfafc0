//! The scheduler (issue 5) on 2 and 4 vCPUs: real VMs running the `sched`
//! test program (userspace/src/bin/sched.rs), with assertions on what it
//! prints and on the guest's counter page. The system calls' results are
//! compared line by line with this machine's Linux.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use vmm::programs::path;
use vmm::protocol::counters::CpuCounters;
use vmm::{ExitReport, GuestExit, Vmm};

/// Run `sched ARGS` as pid 1 in a guest with `vcpus` and kernel command line `cmdline`.
fn sched_in(vcpus: u32, cmdline: &str, args: &[&str]) -> ExitReport {
    Vmm::builder()
        .vcpus(vcpus)
        .memory_mib(256)
        .cmdline(cmdline)
        .program(path("sched"), args)
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait")
}

fn sched(vcpus: u32, args: &[&str]) -> ExitReport {
    sched_in(vcpus, "quiet", args)
}

/// Every check passed: exit status 0 and no FAIL line.
fn assert_passed(r: &ExitReport, what: &str) {
    assert_eq!(r.exit, GuestExit::Status(0), "{what}: {}", common::explain(r));
    assert!(!r.stdout.contains("FAIL"), "{what}: {}", common::explain(r));
}

/// The numbers after `key ` on the line that starts with it.
fn numbers(r: &ExitReport, key: &str) -> Vec<u64> {
    let line = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no `{key}` line in:\n{}", r.stdout));
    line.split_whitespace()
        .filter_map(|w| match w.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => w.parse().ok(),
        })
        .collect()
}

fn cpus(r: &ExitReport, vcpus: u32) -> &[CpuCounters] {
    &r.counters.cpu[..vcpus as usize]
}

fn sum(r: &ExitReport, vcpus: u32, f: impl Fn(&CpuCounters) -> u64) -> u64 {
    cpus(r, vcpus).iter().map(f).sum()
}

/// The run-queue accounting balances: in the snapshot the program takes last,
/// once everything else has finished (see `settled_snapshot` in the program),
/// the program itself is the one runnable task. (At the VM's end a reaped
/// child may still be switching out on its CPU, as in Linux, so the final
/// counters are not the place to look.)
fn assert_queues_empty(r: &ExitReport, vcpus: u32) {
    let end = r.snapshot("end").expect("the program's last snapshot");
    let nr: Vec<u64> = end.counters.cpu[..vcpus as usize].iter().map(|c| c.nr_running).collect();
    assert_eq!(nr.iter().sum::<u64>(), 1, "nr_running when only pid 1 runs: {nr:?}");
}

#[test]
fn system_calls_match_linux() {
    let host = common::host_command(path("sched"))
        .arg("syscalls")
        .stdin(Stdio::null())
        .output()
        .expect("running sched on the host");
    let host_out = String::from_utf8_lossy(&host.stdout).into_owned();
    let code = host.status.code().unwrap_or_else(|| 128 + host.status.signal().unwrap());
    assert_eq!(code, 0, "on Linux:\n{host_out}");
    for vcpus in [2, 4] {
        let r = sched(vcpus, &["syscalls"]);
        assert_passed(&r, "sched syscalls");
        let linux = common::Linux { status: 0, stdout: &host_out, stderr: None };
        common::assert_matches_linux(&format!("sched syscalls on {vcpus} vCPUs"), &r, linux);
        assert_queues_empty(&r, vcpus);
    }
    for line in [
        // sched_reset_on_fork: RT becomes SCHED_NORMAL at nice 0, a negative
        // nice becomes 0, a positive one stays, and the child has no flag.
        "ok sched_getscheduler shows the flag",
        "ok reset child of SCHED_FIFO: SCHED_NORMAL, no flag",
        "ok reset child of SCHED_FIFO: priority 0",
        "ok reset child of SCHED_FIFO at nice -5: nice 0",
        "ok reset child of nice -5: nice 0",
        "ok reset child of nice 5: nice 5",
        "ok child of SCHED_FIFO 10: priority 10",
        // Root may do anything, others only lower their priority.
        "ok user: lower nice to 4 EACCES",
        "ok user: SCHED_FIFO EPERM",
        "ok user may not clear the reset flag",
        "ok running on CPU 0 when it returns",
        "ok sched_getaffinity(len 8) returns 8",
    ] {
        assert!(host_out.lines().any(|l| l == line), "no `{line}` in:\n{host_out}");
    }
}

#[test]
fn rlimits_let_a_user_raise_its_priority_up_to_them() {
    // Raising RLIMIT_NICE/RLIMIT_RTPRIO needs CAP_SYS_RESOURCE, which this
    // machine's root lacks, so this one runs in the guest only.
    let r = sched(2, &["rlimits"]);
    assert_passed(&r, "sched rlimits");
    assert_eq!(
        r.stdout,
        "ok RLIMIT_NICE 25\n\
         ok setuid(1000)\n\
         ok user with RLIMIT_NICE 25: nice -5\n\
         ok user with RLIMIT_NICE 25: nice -6 EACCES\n\
         ok RLIMIT_NICE: the child's checks passed\n\
         ok RLIMIT_RTPRIO 10\n\
         ok setuid(1000)\n\
         ok user with RLIMIT_RTPRIO 10: SCHED_FIFO 10\n\
         ok user with RLIMIT_RTPRIO 10: priority 11 EPERM\n\
         ok user: lower the priority to 5\n\
         ok user: back to SCHED_NORMAL\n\
         ok RLIMIT_RTPRIO: the child's checks passed\n"
    );
}

#[test]
fn cpu_bound_processes_spread_over_every_cpu() {
    for vcpus in [2u32, 4] {
        let n = (2 * vcpus).to_string();
        let r = sched(vcpus, &["spread", &n, "1500"]);
        assert_passed(&r, "sched spread");
        let all = (1u64 << vcpus) - 1;
        assert_eq!(numbers(&r, "cpus_seen"), [all], "{vcpus} vCPUs: the children ran on");
        // Every CPU was busy for most of the 1.5 s (its busy time, from the
        // counters), switched tasks and preempted them.
        let spin_tsc = r.tsc_khz * 1500;
        for (i, c) in cpus(&r, vcpus).iter().enumerate() {
            assert!(
                c.busy_tsc > spin_tsc / 2,
                "{vcpus} vCPUs: cpu {i} busy {} of {spin_tsc} TSC cycles",
                c.busy_tsc
            );
            assert!(c.context_switches > 0 && c.preemptions > 0, "cpu {i}: {c:?}");
        }
        assert_queues_empty(&r, vcpus);
    }
}

#[test]
fn idle_cpus_pull_work_from_a_busy_one() {
    // All the children start queued on CPU 0 (pinned, then unpinned): the
    // other CPUs must pull them (newidle and periodic balancing).
    for vcpus in [2u32, 4] {
        // Every run: every CPU ran a child, pulled work, and the queues end
        // empty. That each CPU was busy for at least half the 1.5 s is
        // timing: with 4 vCPUs on the SVM lane's 2-CPU L1 a vCPU thread can
        // wait long for the host, so up to three runs for it.
        let mut idle = Vec::new();
        for _ in 0..3 {
            let n = (2 * vcpus).to_string();
            let r = sched(vcpus, &["balance", &n, "1500"]);
            assert_passed(&r, "sched balance");
            assert_eq!(numbers(&r, "cpus_seen"), [(1u64 << vcpus) - 1], "{vcpus} vCPUs");
            let spin_tsc = r.tsc_khz * 1500;
            for (i, c) in cpus(&r, vcpus).iter().enumerate().skip(1) {
                assert!(c.migrations > 0, "{vcpus} vCPUs: cpu {i} pulled nothing: {c:?}");
            }
            assert_queues_empty(&r, vcpus);
            let busy: Vec<u64> = cpus(&r, vcpus).iter().map(|c| c.busy_tsc).collect();
            if busy.iter().all(|&b| b > spin_tsc / 2) {
                idle.clear();
                break;
            }
            idle.push(format!("busy TSC per CPU {busy:?}, want > {}", spin_tsc / 2));
        }
        assert!(idle.is_empty(), "{vcpus} vCPUs: a CPU stayed idle in three runs: {idle:?}");
    }
}

/// `sched fair A B 2000`: two CPU-bound children at nice A and B share one
/// CPU for 2 s; the CPU time (CLOCK_THREAD_CPUTIME_ID) each got.
fn fair(vcpus: u32, a: i32, b: i32) -> (f64, f64) {
    let r = sched(vcpus, &["fair", &a.to_string(), &b.to_string(), "2000"]);
    assert_passed(&r, "sched fair");
    let ns = numbers(&r, "cpu_ns");
    let (x, y) = (ns[0] as f64, ns[1] as f64);
    // Together they had the CPU nearly all the time.
    assert!(x + y > 1.6e9, "{vcpus} vCPUs, nice {a}/{b}: {x} + {y} ns of 2 s");
    (x, y)
}

/// `fair(vcpus, a, b)` until the CPU-time ratio is in `range`, at most three
/// times. The guest has no steal-time accounting: a vCPU thread the host
/// stops (the SVM lane's emulated L1 stops them for long stretches) counts
/// as CPU time of whichever task was current, and one such stall can swing a
/// 2 s share. A scheduler that splits by the wrong weights misses every time.
fn fair_ratio_within(vcpus: u32, a: i32, b: i32, range: std::ops::RangeInclusive<f64>) {
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (x, y) = fair(vcpus, a, b);
        if range.contains(&(x / y)) {
            return;
        }
        seen.push(format!("{x} vs {y} ns, ratio {}", x / y));
    }
    panic!("{vcpus} vCPUs, nice {a}/{b}: want a ratio in {range:?}, three runs gave {seen:?}");
}

#[test]
fn two_nice_0_tasks_get_equal_cpu_time() {
    for vcpus in [2, 4] {
        fair_ratio_within(vcpus, 0, 0, 0.9..=1.0 / 0.9);
    }
}

#[test]
fn nice_0_and_nice_5_share_by_linuxs_weights() {
    let want = 1024.0 / 335.0;
    for vcpus in [2, 4] {
        fair_ratio_within(vcpus, 0, 5, want * 0.8..=want * 1.2);
    }
}

#[test]
fn sched_fifo_preempts_fair_tasks_and_keeps_the_cpu_until_it_blocks() {
    for vcpus in [2, 4] {
        let r = sched(vcpus, &["fifo"]);
        assert_passed(&r, "sched fifo");
        for line in [
            "ok the FIFO task ran before the fair task could run again",
            "ok the FIFO task kept the CPU for 300 ms",
            "ok the fair task ran once the FIFO task blocked",
        ] {
            assert!(r.stdout.contains(line), "{vcpus} vCPUs:\n{}", r.stdout);
        }
        assert!(sum(&r, vcpus, |c| c.preemptions) > 0);
    }
}

#[test]
fn sched_rr_tasks_take_turns_in_time_slices() {
    for vcpus in [2, 4] {
        let r = sched(vcpus, &["rr"]);
        assert_passed(&r, "sched rr");
        // Runs of about RR_TIMESLICE (100 ms), not one tick, not all the time.
        for ms in numbers(&r, "rr_longest_run_ms") {
            assert!((60..=300).contains(&ms), "{vcpus} vCPUs: longest run {ms} ms\n{}", r.stdout);
        }
    }
}

#[test]
fn a_task_pinned_to_cpu_1_never_runs_elsewhere() {
    for vcpus in [2, 4] {
        let r = sched(vcpus, &["pinned", "1000"]);
        assert_passed(&r, "sched pinned");
        let n = numbers(&r, "pinned_checks");
        assert!(n[0] > 10 && n[1] == 0, "{vcpus} vCPUs: {n:?}");
        let other = numbers(&r, "pinned_other_samples");
        assert!(other[0] > 0 && other[1] == 0, "{vcpus} vCPUs: {other:?}");
        assert!(sum(&r, vcpus, |c| c.migrations) > 0, "the pinned tasks were moved");
        assert_queues_empty(&r, vcpus);
    }
}

#[test]
fn a_forked_child_runs_on_an_idle_cpu() {
    for vcpus in [2, 4] {
        let r = sched(vcpus, &["forkidle", "20"]);
        assert_passed(&r, &format!("sched forkidle on {vcpus} vCPUs"));
        // The program forks only when it is the one runnable task (the last
        // child's CPU has switched away from it), so every child must move.
        let [elsewhere, n] = numbers(&r, "forkidle")[..] else { panic!("forkidle line") };
        assert!(n == 20 && elsewhere == 20, "{vcpus} vCPUs: {elsewhere} of {n} elsewhere");
        // Waking a child on another CPU's idle task takes an IPI.
        assert!(sum(&r, vcpus, |c| c.wakeup_ipis) >= 20);
    }
}

#[test]
fn registers_survive_thousands_of_preemptions() {
    // Checkers fill every general and SSE register with patterns and spin;
    // ticks and cross-CPU wake-ups (pinned tasks ping-ponging through pipes)
    // preempt them. Run on 2 and 4 vCPUs, again if need be (the tick rate a
    // loaded host delivers varies: in the SVM lane's emulated L1 six rounds
    // once saw 1,854), until thousands of preemptions are seen.
    let mut total = 0;
    for (round, vcpus) in [2u32, 4].into_iter().cycle().take(16).enumerate() {
        let n = (2 * vcpus).to_string();
        let r = sched(vcpus, &["regs", "4", &n]);
        assert_passed(&r, "sched regs");
        assert!(numbers(&r, "regs_rounds")[0] > 0 && numbers(&r, "regs_pings")[0] > 0);
        let preemptions = sum(&r, vcpus, |c| c.preemptions);
        assert!(preemptions > 100, "{vcpus} vCPUs: {preemptions} preemptions");
        total += preemptions;
        if round >= 1 && total >= 2000 {
            return;
        }
    }
    panic!("only {total} preemptions");
}

#[test]
fn a_thousand_forks_from_four_parents_on_four_vcpus() {
    let r = sched(4, &["forks", "4", "250"]);
    assert_passed(&r, "sched forks");
    assert!(r.stdout.contains("ok 4 parents forked and reaped 250 children each\n"));
    assert!(r.counters.global.total_forks >= 1004, "{}", r.counters.global.total_forks);
    for (i, c) in cpus(&r, 4).iter().enumerate() {
        assert!(c.forks > 0 && c.context_switches > 0, "cpu {i}: {c:?}");
    }
    assert_queues_empty(&r, 4);
}

#[test]
fn sched_child_runs_first_on_the_command_line() {
    // Linux's task_fork_fair swaps the two vruntimes only when the parent's
    // lies strictly before the child's place, max(parent, min_vruntime +
    // slice): when another queued task holds min_vruntime a slice or more
    // behind the parent, the places are equal, nothing is swapped, and the
    // parent goes on (the suite on a loaded host saw 19 of 20 once). So: all
    // or nearly all, against about none without the option.
    let r = sched_in(1, "quiet sched_child_runs_first=1", &["childfirst", "20"]);
    assert_passed(&r, "sched childfirst");
    let n = numbers(&r, "child_first");
    assert!(n[0] >= 18 && n[1] == 20, "{n:?}");
    // Off by default (Linux's default): the parent usually goes on first.
    let r = sched(1, &["childfirst", "20"]);
    let n = numbers(&r, "child_first");
    assert!(n[0] < 20, "{n:?}");
    let r = sched_in(1, "quiet sched_child_runs_first=2", &["childfirst", "1"]);
    assert_eq!(
        r.exit,
        GuestExit::Status(2),
        "a bad value is a bad command line: {}",
        common::explain(&r)
    );
}

#[test]
fn tlb_shootdowns_reach_the_other_cpus_of_an_address_space() {
    for vcpus in [2, 4] {
        let r = sched(vcpus, &["tlb"]);
        assert_passed(&r, "sched tlb");
        let sent = sum(&r, vcpus, |c| c.tlb_shootdowns_sent);
        let received = sum(&r, vcpus, |c| c.tlb_shootdowns_received);
        // The writer thread's CPU (1) was asked to flush by fork, mprotect
        // and munmap on CPU 0.
        assert!(sent >= 3 && received >= 1, "{vcpus} vCPUs: sent {sent}, received {received}");
        assert!(r.counters.cpu[1].tlb_shootdowns_received > 0, "{:?}", r.counters.cpu[1]);
    }
}

#[test]
fn sched_yield_switches_between_two_tasks_on_one_cpu() {
    let r = sched(2, &["yield", "500"]);
    assert_passed(&r, "sched yield");
    // Each yield switched to the other task.
    assert!(r.counters.cpu[0].context_switches >= 1000, "{:?}", r.counters.cpu[0]);
}
