//! State shared by the vCPU threads and the VMM's control thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use protocol::counters::CounterPage;
use protocol::exit_status;
use protocol::hypercall::{exception_name, ExceptionReport, GPR_NAMES};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

use crate::hypercall;
use crate::stats::{KvmStats, StatsFile};

/// How the guest ended.
#[derive(Clone, Debug, PartialEq)]
pub enum GuestExit {
    /// The guest chose this exit status.
    Status(u8),
    /// The kernel reported an unhandled CPU exception.
    Exception(ExceptionReport),
    Panic {
        cpu: u32,
        message: String,
    },
    /// The VM could not go on (triple fault, emulation failure, KVM error).
    Crashed {
        cpu: u32,
        rip: u64,
        reason: String,
    },
    /// The time given to `wait` ran out.
    Timeout(Duration),
}

impl GuestExit {
    /// The VMM's exit code for this end (see `protocol::exit_status`).
    pub fn exit_code(&self) -> u8 {
        match self {
            GuestExit::Status(s) => *s,
            GuestExit::Exception(_) => exit_status::GUEST_EXCEPTION,
            GuestExit::Panic { .. } => exit_status::GUEST_PANIC,
            GuestExit::Crashed { .. } => exit_status::VM_CRASHED,
            GuestExit::Timeout(_) => exit_status::TIMEOUT,
        }
    }

    /// A report for a person, for every end but a chosen status.
    pub fn describe(&self) -> Option<String> {
        match self {
            GuestExit::Status(_) => None,
            GuestExit::Exception(r) => {
                let mut s = format!(
                    "guest kernel exception: {} (vector {}) on cpu {}\n  error code {:#x}  rip {:#018x}  cs {:#x}  rflags {:#x}\n  rsp {:#018x}  ss {:#x}  cr2 {:#018x}  cr3 {:#x}\n",
                    exception_name(r.vector), r.vector, r.cpu, r.error_code, r.rip, r.cs, r.rflags, r.rsp, r.ss, r.cr2, r.cr3
                );
                for (i, (name, v)) in GPR_NAMES.iter().zip(r.gprs).enumerate() {
                    s += &format!("  {name:>3} {v:#018x}{}", if i % 4 == 3 { "\n" } else { "" });
                }
                Some(s.trim_end().to_string())
            }
            GuestExit::Panic { cpu, message } => {
                Some(format!("guest kernel panic on cpu {cpu}: {message}"))
            }
            GuestExit::Crashed { cpu, rip, reason } => {
                Some(format!("guest crashed on cpu {cpu} at rip {rip:#x}: {reason}"))
            }
            GuestExit::Timeout(t) => {
                Some(format!("guest did not finish within {:.1} s; stopped it", t.as_secs_f64()))
            }
        }
    }
}

/// When the guest reported ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyMark {
    /// Since the VMM's start (`VmBuilder::started_at`).
    pub after: Duration,
    /// KVM exits of all vCPUs up to that moment.
    pub exits: u64,
}

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

/// The counters and KVM's statistics at one moment the guest chose.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub label: String,
    /// The guest's TSC when it asked, and the VMM's clock since its start.
    pub guest_tsc: u64,
    pub after: Duration,
    pub counters: Box<CounterPage>,
    pub kvm: KvmStats,
    /// Whether the guest reset its counters after this snapshot.
    pub reset: bool,
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
            counters: Box::new(crate::report::read_counters(&self.memory)),
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
}
