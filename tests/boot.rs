//! Booting: every CPU comes online, the guest reports ready, and its exit status
//! is the VM's.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    // KVM's statistics were read from every vCPU, each of which left the guest.
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

/// What the tests take this machine's KVM to be (`vmm::KvmKind`, which decides
/// whether they assert ring-0 instruction counts) agrees with what the guest
/// sees: where KVM emulates ring 0 it counted the kernel's boot instruction by
/// instruction; on hardware virtualization the `syscall` instruction reaches
/// ring 0 (the kernel's boot self-test).
#[test]
fn the_kvm_kind_agrees_with_the_guest() {
    let kind = vmm::KvmKind::detect();
    let r = common::run(1, "quiet");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", r.console);
    let insns = r.kvm.vcpu_total("insn_emulation");
    match kind {
        vmm::KvmKind::Pvm => {
            assert!(insns > 10_000, "kvm_pvm: a boot is {insns} emulated ring-0 instructions")
        }
        vmm::KvmKind::Vmx | vmm::KvmKind::Svm => assert_eq!(
            r.counters.global.syscall_insn,
            1,
            "{}: the kernel found the syscall instruction broken",
            kind.module()
        ),
        vmm::KvmKind::Unknown => panic!(
            "cannot tell which KVM module backs /dev/kvm (none of kvm_pvm, kvm_intel with vmx, \
             kvm_amd with svm in /sys/module and /proc/cpuinfo): tests would not know whether \
             to expect ring-0 instruction counts"
        ),
    }
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
    // 128 MiB: the heap's boot arena is 1/16 of RAM (8 MiB = 2048 frames) and
    // it has not grown, the frame reference counts take 4 bytes per frame (32
    // frames), the entry page 1. Everything the boot self-test of `syscall`
    // allocated (a process, its page tables) is freed.
    assert_eq!(g.heap_arena_bytes, 8 << 20, "the boot arena only");
    // The size-class caches' slabs are blocks of the arenas; what the kernel
    // holds at the end of boot (heap_bytes) is mostly small objects in them.
    assert!(
        g.heap_slab_bytes > 0 && g.heap_slab_bytes < g.heap_arena_bytes,
        "{} bytes of slabs in {} of arenas",
        g.heap_slab_bytes,
        g.heap_arena_bytes
    );
    assert!(g.heap_bytes > 0 && g.heap_bytes < g.heap_arena_bytes, "{} heap bytes", g.heap_bytes);
    assert_eq!(g.frames_in_use, 2048 + 32 + 1);
    let usable = g.frames_free + g.frames_in_use;
    assert!(usable < 128 * 256 && usable > 120 * 256, "{usable} frames usable");
}

/// The KVM objects this process holds: fds of KVM VMs, vCPUs and their
/// statistics, and threads named `vcpuN`.
fn kvm_objects() -> (Vec<String>, usize) {
    let fds = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target.starts_with("anon_inode:kvm"))
        .collect();
    let threads = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("vcpu"))
        .count();
    (fds, threads)
}

/// Poll `kvm_objects` until it shows none (a joined thread leaves
/// `/proc/self/task` a moment after it ends), up to 10 s.
fn no_kvm_objects_left() -> (Vec<String>, usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = kvm_objects();
        if now == (Vec::new(), 0) || std::time::Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A `Vmm` owns its vCPU threads and KVM objects: dropping one whose guest is
/// still running (its vCPUs halted in KVM_RUN) stops and joins the threads and
/// closes every KVM fd, as `wait` does.
#[test]
fn a_dropped_vm_leaves_no_thread_or_kvm_fd() {
    const ALONE: &str = "KVMFORK_TEST_ALONE";
    if std::env::var_os(ALONE).is_none() {
        // Run in a process of its own: other tests' VMs would be counted too.
        let name = "a_dropped_vm_leaves_no_thread_or_kvm_fd";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--test-threads=1", "--nocapture"])
            .env(ALONE, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
        return;
    }
    assert_eq!(kvm_objects(), (Vec::new(), 0), "nothing before the first boot");
    let boot = || {
        let vm = vmm::Vmm::builder()
            .vcpus(2)
            .cmdline("quiet")
            .program(vmm::programs::path("ctl"), &["sleepers", "0"])
            .boot()
            .unwrap();
        let deadline = std::time::Instant::now() + common::TIMEOUT;
        while vm.ready().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(vm.ready().is_some(), "the guest reported ready");
        let (fds, threads) = kvm_objects();
        assert_eq!(threads, 2, "{fds:?}");
        assert!(fds.iter().any(|f| f == "anon_inode:kvm-vm"), "{fds:?}");
        assert_eq!(fds.iter().filter(|f| f.starts_with("anon_inode:kvm-vcpu:")).count(), 2);
        vm
    };

    drop(boot());
    assert_eq!(no_kvm_objects_left(), (Vec::new(), 0), "after drop");

    let r = boot().wait(Some(std::time::Duration::from_millis(100))).unwrap();
    assert!(matches!(r.exit, GuestExit::Timeout(_)), "{:?}", r.exit);
    assert_eq!(no_kvm_objects_left(), (Vec::new(), 0), "after wait");
}

/// The fds the VMM opens: /dev/kvm, the VM, its vCPUs and their statistics,
/// and the eventfd, epoll and timer of the event loop.
fn opened_by_the_vmm(target: &str) -> bool {
    target == "/dev/kvm"
        || target.starts_with("anon_inode:kvm")
        || ["anon_inode:[eventfd]", "anon_inode:[eventpoll]", "anon_inode:[timerfd]"]
            .contains(&target)
}

/// (fd, what it refers to) for each open fd of process `pid` ("self" or a number).
fn fds_of(pid: &str) -> Vec<(u32, String)> {
    let dir = format!("/proc/{pid}/fd");
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| {
            let e = e.ok()?;
            let fd = e.file_name().to_str()?.parse().ok()?;
            Some((fd, std::fs::read_link(e.path()).ok()?.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

/// Whether this process's `fd` is close-on-exec (O_CLOEXEC in its fdinfo flags),
/// or None if it was closed meanwhile.
fn close_on_exec(fd: u32) -> Option<bool> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?.trim();
    Some(u32::from_str_radix(flags, 8).ok()? & 0o2000000 != 0)
}

#[test]
fn the_vmms_fds_are_close_on_exec() {
    // A VM that idles until its wait times out, on another thread, as when one
    // test boots a VM while another starts a host program.
    let vm = vmm::Vmm::builder().vcpus(2).cmdline("quiet hang").boot().expect("boot");
    let waiter = std::thread::spawn(move || vm.wait(Some(Duration::from_secs(2))).expect("wait"));
    // Once the waiter's event loop is up, every kind of fd the VMM opens exists.
    let deadline = Instant::now() + common::TIMEOUT;
    let expected = ["anon_inode:kvm-vm", "anon_inode:kvm-vcpu:1", "anon_inode:[eventfd]"];
    let ours = loop {
        let fds = fds_of("self");
        let have = |t: &str| fds.iter().any(|(_, x)| x == t);
        if expected.iter().all(|t| have(t))
            && fds.iter().any(|(_, x)| x.starts_with("anon_inode:kvm-vcpu-stats"))
            && have("anon_inode:[eventpoll]")
            && have("anon_inode:[timerfd]")
        {
            break fds;
        }
        assert!(Instant::now() < deadline, "the VM's fds never all showed up: {fds:?}");
        std::thread::sleep(Duration::from_millis(5));
    };
    let inheritable: Vec<_> = ours
        .iter()
        .filter(|(fd, t)| opened_by_the_vmm(t) && close_on_exec(*fd) == Some(false))
        .collect();
    assert!(inheritable.is_empty(), "fds without close-on-exec: {inheritable:?} (all: {ours:?})");

    // A host program started now inherits none of them. `cat` echoes a line
    // once it runs: its exec, close-on-exec included, is over by then (`spawn`
    // may return before: a vfork parent resumes when the child's new memory is
    // in place, before the kernel closes the close-on-exec fds).
    let mut child =
        Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("cat runs");
    child.stdin.as_mut().unwrap().write_all(b"running\n").unwrap();
    let mut line = [0u8; 8];
    child.stdout.as_mut().unwrap().read_exact(&mut line).unwrap();
    let theirs = fds_of(&child.id().to_string());
    drop(child.stdin.take());
    child.wait().unwrap();
    let leaked: Vec<_> = theirs.iter().filter(|(_, t)| opened_by_the_vmm(t)).collect();
    assert!(leaked.is_empty(), "a host program inherited {leaked:?} (its fds: {theirs:?})");

    let r = waiter.join().unwrap();
    assert!(matches!(r.exit, GuestExit::Timeout(_)), "{:?}\n{}", r.exit, r.console);
}
