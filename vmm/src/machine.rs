//! State shared by the vCPU threads and the VMM's control thread, and the
//! report made from it when the VM ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

use crate::exit::ExitCounts;
use crate::hypercall;
use crate::report::{ExitReport, GuestExit, ReadyMark, Snapshot};
use crate::stats::{KvmStats, StatsFile};
use crate::vm;

pub struct Shared {
    pub memory: GuestMemoryMmap,
    pub hc: hypercall::Context,
    pub echo_console: bool,
    /// The kernel's messages, and the user programs' stdout and stderr.
    pub console: Mutex<Vec<u8>>,
    pub stdout: Mutex<Vec<u8>>,
    pub stderr: Mutex<Vec<u8>>,
    pub stopping: AtomicBool,
    pub hypercall_errors: AtomicU64,
    pub started: Instant,
    /// The guest's TSC frequency.
    pub tsc_khz: u64,
    end: Mutex<Option<GuestExit>>,
    exit_evt: EventFd,
    start_gate: (Mutex<bool>, Condvar),
    ready: Mutex<Option<ReadyMark>>,
    pub vcpu_stats: Vec<StatsFile>,
    pub vm_stats: Option<StatsFile>,
    /// Snapshots the guest asked for (`Snapshot` hypercall), in order.
    pub snapshots: Mutex<Vec<Snapshot>>,
    /// The sequence number of the last mailbox command answered.
    mailbox: (Mutex<u64>, Condvar),
    /// The sequence number of the last command posted (held while posting, so
    /// one command is outstanding at a time).
    pub mailbox_seq: Mutex<u64>,
}

impl Shared {
    pub fn new(
        memory: GuestMemoryMmap,
        cpu_count: u32,
        echo_console: bool,
        started: Instant,
        exit_evt: EventFd,
    ) -> Self {
        Self {
            memory,
            hc: hypercall::Context { cpu_count, ..Default::default() },
            echo_console,
            console: Mutex::new(Vec::new()),
            stdout: Mutex::new(Vec::new()),
            stderr: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            hypercall_errors: AtomicU64::new(0),
            started,
            tsc_khz: 0,
            end: Mutex::new(None),
            exit_evt,
            start_gate: (Mutex::new(false), Condvar::new()),
            ready: Mutex::new(None),
            vcpu_stats: Vec::new(),
            vm_stats: None,
            snapshots: Mutex::new(Vec::new()),
            mailbox: (Mutex::new(0), Condvar::new()),
            mailbox_seq: Mutex::new(0),
        }
    }

    /// Record how the guest ended (the first end wins) and wake the control loop.
    pub fn finish(&self, exit: GuestExit) {
        let mut end = self.end.lock().unwrap();
        if end.is_none() {
            *end = Some(exit);
        }
        self.stopping.store(true, Ordering::Release);
        let _ = self.exit_evt.write(1);
        drop(end);
        // Wake a `command` waiting for a reply that will never come (taking the
        // lock orders this after its check of `stopping`).
        drop(self.mailbox.0.lock().unwrap());
        self.mailbox.1.notify_all();
        self.release_cpus();
    }

    pub fn end(&self) -> Option<GuestExit> {
        self.end.lock().unwrap().clone()
    }

    /// Open the gate for the parked secondary CPUs (also used to let them stop).
    pub fn release_cpus(&self) {
        *self.start_gate.0.lock().unwrap() = true;
        self.start_gate.1.notify_all();
    }

    /// Park until released; false if the VM is stopping instead.
    pub fn wait_for_start(&self) -> bool {
        let mut open = self.start_gate.0.lock().unwrap();
        while !*open {
            open = self.start_gate.1.wait(open).unwrap();
        }
        !self.stopping.load(Ordering::Acquire)
    }

    pub fn mark_ready(&self) {
        let after = self.started.elapsed();
        let exits = self.kvm_stats().vcpu_total("exits");
        *self.ready.lock().unwrap() = Some(ReadyMark { after, exits });
    }

    pub fn ready(&self) -> Option<ReadyMark> {
        *self.ready.lock().unwrap()
    }

    /// Record a snapshot (the calling vCPU is stopped in the hypercall, so the
    /// counters it writes are quiescent; other vCPUs may still be running).
    pub fn snapshot(&self, label: String, guest_tsc: u64, reset: bool) {
        let snap = Snapshot {
            label,
            guest_tsc,
            after: self.started.elapsed(),
            counters: Box::new(vm::read_counters(&self.memory)),
            kvm: self.kvm_stats(),
            reset,
        };
        self.snapshots.lock().unwrap().push(snap);
    }

    pub fn mailbox_replied(&self, seq: u64) {
        let mut last = self.mailbox.0.lock().unwrap();
        *last = (*last).max(seq);
        self.mailbox.1.notify_all();
    }

    /// Wait until mailbox command `seq` is answered, the VM stops, or `timeout`
    /// passes; whether it was answered.
    pub fn wait_mailbox(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut last = self.mailbox.0.lock().unwrap();
        while *last < seq {
            let now = Instant::now();
            if now >= deadline || self.stopping.load(Ordering::Acquire) {
                return false;
            }
            last = self.mailbox.1.wait_timeout(last, deadline - now).unwrap().0;
        }
        true
    }

    pub fn kvm_stats(&self) -> KvmStats {
        KvmStats {
            vm: self.vm_stats.as_ref().and_then(|s| s.read().ok()).unwrap_or_default(),
            vcpus: self.vcpu_stats.iter().map(|s| s.read().unwrap_or_default()).collect(),
        }
    }

    /// The report of a VM whose vCPUs stopped with these exit counts.
    pub fn report(&self, vcpu_exits: Vec<ExitCounts>) -> ExitReport {
        ExitReport {
            exit: self.end().expect("a stopped VM has an end"),
            console: String::from_utf8_lossy(&self.console.lock().unwrap()).into_owned(),
            stdout: String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
            counters: vm::read_counters(&self.memory),
            kvm: self.kvm_stats(),
            vcpu_exits,
            hypercall_errors: self.hypercall_errors.load(std::sync::atomic::Ordering::Relaxed),
            ready: self.ready(),
            elapsed: self.started.elapsed(),
            tsc_khz: self.tsc_khz,
            snapshots: self.snapshots.lock().unwrap().clone(),
        }
    }
}
