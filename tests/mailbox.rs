//! The control mailbox (VMM → guest commands rung by an interrupt and answered
//! by the kernel thread `kmailboxd`) and the counter snapshots a guest program
//! takes through `/dev/counters`.

mod common;

use std::time::{Duration, Instant};

use protocol::mailbox::{SCHED_ON_CPU, SCHED_ON_RQ};
use vmm::programs::path;
use vmm::{Command, GuestExit, KvmKind, Reply, Vmm};

fn processes(vm: &vmm::Vmm) -> Vec<vmm::ProcEntry> {
    match vm.command(&Command::ProcessTable).expect("process table") {
        Reply::Processes(p) => p,
        other => panic!("not a process table: {other:?}"),
    }
}

#[test]
fn process_table_and_shutdown() {
    let vm = Vmm::builder()
        .vcpus(2)
        .cmdline("quiet")
        .program(path("ctl"), &["sleepers", "3"])
        .boot()
        .unwrap();
    // The children exist once the table shows init plus three sleepers.
    let deadline = Instant::now() + common::TIMEOUT;
    let mut asked = 0;
    let table = loop {
        let t = processes(&vm);
        asked += 1;
        if t.iter().filter(|p| p.kthread == 0).count() == 4
            && t.iter().all(|p| p.kthread == 1 || p.state == b'S')
        {
            break t;
        }
        assert!(Instant::now() < deadline, "the sleepers never showed up: {t:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let init = table.iter().find(|p| p.pid == 1).expect("init");
    assert_eq!((init.ppid, init.comm_str(), init.kthread), (0, "ctl", 0));
    let kthread = table.iter().find(|p| p.kthread == 1).expect("kmailboxd");
    assert_eq!((kthread.pid, kthread.ppid, kthread.comm_str()), (2, 0, "kmailboxd"));
    assert_eq!(kthread.state, b'R', "it is answering this very command");
    let children: Vec<_> = table.iter().filter(|p| p.ppid == 1).collect();
    assert_eq!(children.len(), 3, "{table:?}");
    for c in children {
        assert_eq!((c.tgid, c.pgid, c.sid, c.uid, c.comm_str()), (c.pid, 1, 1, 0, "ctl"));
    }
    vm.command(&Command::Shutdown(7)).unwrap();
    let r = vm.wait(Some(common::TIMEOUT)).unwrap();
    assert_eq!(r.exit, GuestExit::Status(7), "{}", common::explain(&r));
    assert_eq!(r.stdout, "ready\n", "{}", common::explain(&r));
    assert!(r.console.contains("shutdown requested by the VMM (status 7)"), "{}", r.console);
    assert_eq!(r.counters.global.clones_kthread, 1);
    // Every process-table command was counted once; the shutdown never
    // finishes, so it is not (kmailboxd counts a command after answering it
    // and before reading the next). The table may be complete on the first
    // ask (it was in the SVM lane), so the count is what this test asked.
    assert_eq!(r.counters.global.mailbox_commands, asked);
}

/// A guest that runs out of time is asked for its task table before it is
/// stopped (what each task waits in, its signals and job-control state), and
/// the report prints it.
#[test]
fn a_timeout_report_lists_every_task() {
    let vm =
        Vmm::builder().cmdline("quiet").program(path("ctl"), &["sleepers", "2"]).boot().unwrap();
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        let t = processes(&vm);
        if t.iter().filter(|p| p.kthread == 0 && p.state == b'S').count() == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the sleepers never showed up: {t:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = vm.wait(Some(Duration::from_millis(200))).unwrap();
    assert!(matches!(r.exit, GuestExit::Timeout(_)), "{}", common::explain(&r));
    let tasks = r.tasks.as_ref().expect("the guest answered for its tasks");
    const NANOSLEEP: i32 = 35;
    let user: Vec<_> = tasks.iter().filter(|t| t.kthread == 0).collect();
    assert_eq!(user.len(), 3, "{tasks:?}");
    for t in &user {
        // Each sleeps in nanosleep, nothing pending or blocked, one thread.
        assert_eq!(
            (t.state, t.syscall, t.pending | t.shared_pending | t.blocked, t.jobctl, t.live),
            (b'S', NANOSLEEP, 0, 0, 1),
            "{t:?}"
        );
        assert_eq!((t.group_flags, t.group_stop_count, t.fatal_signal), (0, 0, 0), "{t:?}");
        // Asleep: in no run queue and on no CPU.
        assert_eq!(t.sched, 0, "{t:?}");
    }
    let kthread = tasks.iter().find(|t| t.kthread == 1).expect("kmailboxd");
    assert_eq!((kthread.state, kthread.syscall), (b'R', -1));
    // It made the table: it is on its CPU, not waiting in a queue.
    assert_eq!(kthread.sched & (SCHED_ON_CPU | SCHED_ON_RQ), SCHED_ON_CPU, "{kthread:?}");
    let text = r.describe().unwrap();
    assert!(text.contains("tasks at the timeout (4):"), "{text}");
    assert!(text.contains(" S   0   - ctl "), "{text}");
}

/// Arm a fault at `stage` through the mailbox while `ctl forkloop` forks: the
/// next fork fails with `errno`, the one after works, and nothing leaked.
fn inject_while_running(stage: &str, errno: &str) {
    let vm = Vmm::builder().cmdline("quiet").program(path("ctl"), &["forkloop"]).boot().unwrap();
    vm.command(&Command::InjectFault { stage: stage.into(), nth: 1 }).unwrap();
    let r = vm.wait(Some(common::TIMEOUT)).unwrap();
    assert_eq!(r.exit, GuestExit::Status(0), "{stage}: {}", common::explain(&r));
    let want = format!("fork failed: {errno}\nnext fork: ok\n");
    assert_eq!(r.stdout, want, "{stage}: {}", common::explain(&r));
    let g = r.counters.global;
    assert_eq!((g.fault_injections, g.fault_injection_leaks), (1, 0), "{stage}: {}", r.console);
}

#[test]
fn fault_injection_through_the_mailbox() {
    inject_while_running("copy_mm", "ENOMEM");
    inject_while_running("alloc_pid", "EAGAIN");
}

#[test]
fn bad_commands_are_refused_and_the_guest_goes_on() {
    let vm =
        Vmm::builder().cmdline("quiet").program(path("ctl"), &["sleepers", "0"]).boot().unwrap();
    let e = vm.command(&Command::InjectFault { stage: "nope".into(), nth: 1 }).unwrap_err();
    assert!(e.to_string().contains("unknown copy_process stage"), "{e}");
    let e = vm.command(&Command::InjectFault { stage: "copy_fs".into(), nth: 0 }).unwrap_err();
    assert!(e.to_string().contains("from 1"), "{e}");
    // Still answering.
    assert!(processes(&vm).iter().any(|p| p.pid == 1));
    vm.command(&Command::Shutdown(0)).unwrap();
    let r = vm.wait(Some(common::TIMEOUT)).unwrap();
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
}

#[test]
fn counter_snapshots_from_the_guest_and_the_vmm() {
    let r = Vmm::builder()
        .cmdline("quiet")
        .program(path("ctl"), &["snapshots"])
        .boot()
        .unwrap()
        .wait(Some(common::TIMEOUT))
        .unwrap();
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    let want = "bad commands: Some(EINVAL) Some(EINVAL)\nread: Err(EBADF)\n";
    assert_eq!(r.stdout, want, "{}", common::explain(&r));
    let labels: Vec<_> = r.snapshots.iter().map(|s| (s.label.as_str(), s.reset)).collect();
    assert_eq!(labels, [("before", false), ("after", false), ("zero", true), ("end", false)]);
    const GETPID: usize = 39;
    let calls = |label: &str| r.snapshot(label).unwrap().counters.syscalls[GETPID];
    assert_eq!(calls("after") - calls("before"), 100);
    assert_eq!(calls("end"), 5, "counted from zero after the reset");
    assert_eq!(r.counters.global.snapshots, 3);
    assert_eq!(r.counters.global.resets, 1);
    let (a, b) = (r.snapshot("before").unwrap(), r.snapshot("after").unwrap());
    assert!(b.guest_tsc > a.guest_tsc && b.after >= a.after);
    // Each snapshot read KVM's statistics of the vCPU.
    for s in [a, b] {
        assert_eq!(s.kvm.vcpus.len(), 1, "{}: {:?}", s.label, s.kvm);
        assert!(s.kvm.vcpus[0].contains_key("insn_emulation"), "{}: {:?}", s.label, s.kvm);
    }
    assert!(b.kvm.vcpu_total("exits") >= a.kvm.vcpu_total("exits"));
    // Where KVM emulates ring 0, 100 getpid round trips are ring-0 instructions
    // KVM counted; elsewhere ring 0 runs on the CPU and KVM counts none of them.
    let insns = r.insns_between("before", "after").unwrap();
    if KvmKind::detect().emulates_ring0() {
        assert!(insns > 100 * 50, "{insns} ring-0 instructions for 100 getpid round trips");
    }

    // The VMM's own snapshot through the mailbox.
    let vm =
        Vmm::builder().cmdline("quiet").program(path("ctl"), &["sleepers", "1"]).boot().unwrap();
    let snap = match vm.command(&Command::Counters { reset: false }).unwrap() {
        Reply::Counters(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(snap.label, "mailbox");
    assert!(snap.counters.global.total_forks >= 2, "init and kmailboxd at least");
    assert_eq!(snap.kvm.vcpus.len(), 1, "{:?}", snap.kvm);
    assert!(snap.kvm.vcpu_total("exits") > 0, "{:?}", snap.kvm);
    if KvmKind::detect().emulates_ring0() {
        assert!(snap.kvm.vcpu_total("insn_emulation") > 0, "{:?}", snap.kvm);
    }
    vm.command(&Command::Shutdown(0)).unwrap();
    let r = vm.wait(Some(common::TIMEOUT)).unwrap();
    assert_eq!(r.snapshots.len(), 1);
}
