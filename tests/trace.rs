//! Tracepoints (`vmm run --trace`, `VmmBuilder::trace`): the guest's
//! scheduler and process tracepoints, drained from its per-CPU rings while it
//! runs, as a Chrome trace-event file (see vmm/src/trace.rs).
//!
//! A known fork tree (userspace/src/bin/forktree.rs: pid 1 forks three
//! children, the first forks a grandchild, the second execs, the third writes
//! a copy-on-write page; everyone exits and is reaped) on 2 and 4 vCPUs: every
//! fork has its child's first switch-in, the child's exit and its reaping by
//! the parent's wait, in causal order; each CPU's records are in time order and
//! each switch starts from the task the CPU's previous switch started (the
//! program itself runs on Linux in tests/programs_on_linux.rs). Off,
//! tracing records nothing, and its tracepoints skip the recording work (the
//! ring-0 instructions a traced fork+exit+wait adds are those of its records).

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use vmm::programs::path;
use vmm::{ExitReport, GuestExit, Vmm};

fn trace_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("trace-{name}-{}.json", std::process::id()))
}

fn traced(vcpus: u32, program: &str, args: &[&str], file: &PathBuf) -> (ExitReport, Value) {
    let r = Vmm::builder()
        .vcpus(vcpus)
        .memory_mib(256)
        .cmdline("quiet")
        .program(path(program), args)
        .trace(file)
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    let text = std::fs::read_to_string(file).expect("the trace file");
    let _ = std::fs::remove_file(file);
    let json: Value = serde_json::from_str(&text).expect("the trace is JSON");
    let summary = r.trace.clone().expect("a traced run reports its trace");
    assert_eq!(summary.dropped, 0, "no ring overflowed");
    assert_eq!(json["otherData"]["events"].as_u64(), Some(summary.events as u64));
    (r, json)
}

fn u(e: &Value, k: &str) -> u64 {
    e["args"][k].as_u64().unwrap_or_else(|| panic!("{k} in {e}"))
}
fn ts(e: &Value) -> f64 {
    e["ts"].as_f64().expect("ts")
}

/// The checks on one traced run of forktree on `vcpus`.
fn fork_tree(vcpus: u32) {
    let (r, json) = traced(vcpus, "forktree", &[], &trace_file(&format!("forktree{vcpus}")));
    assert!(r.stdout.contains("forktree: ok"), "{}", r.stdout);
    let events = json["traceEvents"].as_array().unwrap();
    let named = |n: &'static str| events.iter().filter(move |e| e["name"] == n);
    let slices: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert!(
        events.iter().filter(|e| e["ph"] == "M" && e["name"] == "thread_name").count()
            == vcpus as usize,
        "one named track per vCPU"
    );

    // Each CPU: records in time order, slices back to back, and each switch
    // starts from the task the previous one switched to.
    for cpu in 0..vcpus as u64 {
        let mine: Vec<&&Value> = slices.iter().filter(|e| e["tid"] == cpu).collect();
        for w in mine.windows(2) {
            let end = ts(w[0]) + w[0]["dur"].as_f64().unwrap();
            assert!(ts(w[1]) + 1e-6 >= end, "CPU {cpu}: slices overlap: {} then {}", w[0], w[1]);
            assert_eq!(
                u(w[1], "prev_pid"),
                u(w[0], "pid"),
                "CPU {cpu}: switch from the wrong task"
            );
        }
        let instants: Vec<f64> =
            events.iter().filter(|e| e["ph"] == "i" && e["tid"] == cpu).map(ts).collect();
        assert!(instants.windows(2).all(|w| w[0] <= w[1]), "CPU {cpu}: records out of order");
    }

    // The program's forks: pid 1 three times, one child once more.
    let forks: Vec<&Value> =
        named("sched_process_fork").filter(|e| e["args"]["parent_comm"] == "forktree").collect();
    assert_eq!(forks.len(), 4, "forks: {forks:?}");
    assert_eq!(forks.iter().filter(|f| u(f, "parent_pid") == 1).count(), 3);
    let flows: HashMap<u64, f64> = events
        .iter()
        .filter(|e| e["ph"] == "f")
        .map(|e| (e["id"].as_u64().unwrap(), ts(e)))
        .collect();
    let starts: HashMap<u64, (f64, u64)> = events
        .iter()
        .filter(|e| e["ph"] == "s")
        .map(|e| (e["id"].as_u64().unwrap(), (ts(e), e["tid"].as_u64().unwrap())))
        .collect();
    for f in &forks {
        let (parent, child) = (u(f, "parent_pid"), u(f, "child_pid"));
        // fork(): no CLONE_* flag (the exit signal is not among the flags,
        // as in Linux's `kernel_clone_args`).
        assert_eq!(u(f, "clone_flags"), 0, "fork's clone flags");
        let first_run = slices
            .iter()
            .filter(|s| u(s, "pid") == child)
            .map(|s| ts(s))
            .fold(f64::INFINITY, f64::min);
        assert!(first_run.is_finite(), "child {child} never ran");
        assert!(ts(f) <= first_run, "child {child} ran before its fork");
        let woken = named("sched_wakeup_new").find(|e| u(e, "pid") == child);
        assert!(woken.is_some_and(|w| ts(w) >= ts(f) && ts(w) <= first_run), "wakeup_new {child}");
        let exit = named("sched_process_exit").find(|e| u(e, "pid") == child);
        let exit = exit.unwrap_or_else(|| panic!("no exit of {child}"));
        assert!(ts(exit) > first_run, "child {child} exited before it ran");
        assert_eq!(u(exit, "group_dead"), 1);
        let freed = named("sched_process_free").find(|e| u(e, "pid") == child);
        let freed = freed.unwrap_or_else(|| panic!("child {child} never reaped"));
        assert_eq!(u(freed, "reaper_pid"), parent, "child {child} reaped by its parent");
        assert!(ts(freed) > ts(exit), "child {child} reaped before it exited");
        let waited =
            named("sched_process_wait").any(|w| u(w, "pid") == parent && ts(w) <= ts(freed));
        assert!(waited, "parent {parent} reaped {child} without a wait");
        // The flow from this fork ends at the child's first switch-in.
        let id = starts
            .iter()
            .find(|(_, (t, cpu))| *t == ts(f) && *cpu == f["tid"].as_u64().unwrap())
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("no flow from the fork of {child}"));
        assert_eq!(flows.get(&id), Some(&first_run), "flow of {child}");
    }
    // The second child execs forktree again; the third copies a page on write.
    let second = u(forks.iter().filter(|f| u(f, "parent_pid") == 1).nth(1).unwrap(), "child_pid");
    let exec = named("sched_process_exec").find(|e| u(e, "pid") == second);
    assert!(exec.is_some_and(|e| e["args"]["comm"] == "forktree"), "exec of {second}");
    let third = u(forks.iter().filter(|f| u(f, "parent_pid") == 1).nth(2).unwrap(), "child_pid");
    let copied = named("do_wp_page").any(|e| u(e, "pid") == third && u(e, "copied") == 1);
    assert!(copied, "the third child's copy-on-write fault");
    // Every task that ran on a CPU got there by a switch: its switch-out's
    // `prev_state` is the zombie's (0x20) for every child. Only a child still
    // on its CPU when the trace ends has none: its parent may reap it before
    // that CPU switches away (as in Linux, release_task does not wait for the
    // zombie's last switch), and the VM ends with pid 1 right after. The SVM
    // lane's slow vCPUs did that once for the last child.
    for f in &forks {
        let child = u(f, "child_pid");
        let last_out = slices
            .iter()
            .filter(|s| u(s, "prev_pid") == child)
            .max_by(|a, b| ts(a).total_cmp(&ts(b)))
            .map(|s| u(s, "prev_state"));
        if last_out.is_none() {
            let last_in = slices
                .iter()
                .filter(|s| u(s, "pid") == child)
                .max_by(|a, b| ts(a).total_cmp(&ts(b)))
                .unwrap_or_else(|| panic!("child {child} never ran"));
            let cpu = &last_in["tid"];
            let later = slices.iter().any(|s| s["tid"] == *cpu && ts(s) > ts(last_in));
            assert!(!later, "child {child} left CPU {cpu} with no switch-out recorded");
            continue;
        }
        assert_eq!(last_out, Some(0x20), "child {child}'s last switch-out is as a zombie");
    }
}

#[test]
fn fork_tree_on_2_vcpus() {
    fork_tree(2);
}

#[test]
fn fork_tree_on_4_vcpus() {
    fork_tree(4);
}

/// Off, nothing is recorded; on, a fork+exit+wait's extra ring-0
/// instructions are what its records cost (where ring 0 is emulated and
/// counted): at least the fixed work of writing each record, so tracing off
/// does none of it.
#[test]
fn disabled_tracing_records_nothing_and_skips_the_work() {
    const REPS: u64 = 20;
    let key = "fork_exit_wait size_mib=0";
    let args = ["cases=fork".to_string(), format!("reps={REPS}")];
    let run = |b: vmm::VmmBuilder| {
        let r = b
            .vcpus(1)
            .memory_mib(256)
            .cmdline("quiet")
            .program(path("forkbench"), &args)
            .boot()
            .expect("boot")
            .wait(Some(common::TIMEOUT))
            .expect("wait");
        assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
        r
    };
    let off = run(Vmm::builder());
    assert!(off.trace.is_none(), "no trace without VmmBuilder::trace");
    let file = trace_file("forkbench");
    let on = run(Vmm::builder().trace(&file));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let _ = std::fs::remove_file(&file);
    let (b, e) = (format!("b {key}"), format!("e {key}"));
    let snap =
        |r: &ExitReport, l: &str| r.snapshots.iter().find(|s| s.label == l).unwrap().guest_tsc;
    let (tsc0, khz) = (
        json["otherData"]["tsc0"].as_f64().unwrap(),
        json["otherData"]["tsc_khz"].as_f64().unwrap(),
    );
    let to_us = |tsc: u64| (tsc as f64 - tsc0) * 1000.0 / khz;
    let (from, to) = (to_us(snap(&on, &b)), to_us(snap(&on, &e)));
    let in_span = json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| (e["ph"] == "i" || e["ph"] == "X") && ts(e) >= from && ts(e) <= to)
        .count() as u64;
    assert!(
        in_span >= 5 * REPS,
        "each fork+exit+wait records fork, wakeup_new, exit, wait, free: {in_span}"
    );
    if !vmm::KvmKind::detect().emulates_ring0() {
        return;
    }
    let insns_off = off.insns_in_spans(&b, &e).unwrap();
    let insns_on = on.insns_in_spans(&b, &e).unwrap();
    // A record takes at least: the call, cli, the CPU's ring, rdtsc, head
    // and tail, 8 stores, the release of head, sti, the return.
    const MIN_PER_RECORD: u64 = 20;
    println!(
        "ring-0 instructions per fork+exit+wait: tracing off {}, on {} ({} records per op)",
        insns_off / REPS,
        insns_on / REPS,
        in_span as f64 / REPS as f64
    );
    assert!(
        insns_on >= insns_off + MIN_PER_RECORD * in_span,
        "tracing on added only {} ring-0 instructions for {in_span} records: does the off path record?",
        insns_on.saturating_sub(insns_off)
    );
}

/// `vmm run --trace FILE` writes the trace `vmm trace-svg` draws (a path
/// that cannot be written is refused before the guest boots: tests/cli.rs).
#[test]
fn cli_trace_and_svg() {
    let file = trace_file("cli");
    let svg = file.with_extension("svg");
    let o = common::vmm(&[
        "run",
        "--vcpus",
        "2",
        "--trace",
        file.to_str().unwrap(),
        path("forktree").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::explain_output(&o));
    let o = common::vmm(&["trace-svg", file.to_str().unwrap(), svg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", common::explain_output(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    let _ = (std::fs::remove_file(&file), std::fs::remove_file(&svg));
    assert!(text.starts_with("<svg") && text.contains("CPU 1") && text.contains("forktree (1)"));
    let o = common::vmm(&["trace-svg", "/nonexistent.json", "x.svg"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(common::stderr(&o).contains("cannot read /nonexistent.json"));
}
