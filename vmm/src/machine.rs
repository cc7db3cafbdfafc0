//! State shared by the vCPU threads and the VMM's control thread, and the
//! report made from it when the VM ends.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use protocol::hypercall::{stream, Hypercall};
use vmm_sys_util::eventfd::EventFd;

use crate::crash::{self, VcpuEnd};
use crate::exit::ExitCounts;
use crate::hypercall::{self, Effect};
use crate::report::{ExitReport, GuestExit, ReadyMark, Snapshot, TripleFaultEvent};
use crate::stats::{KvmStats, StatsFiles};
use crate::symbols::Symbols;
use crate::vm::Vm;

/// What the shared state starts from.
pub struct Setup {
    pub vm: Arc<Vm>,
    /// KVM's statistics files of the VM and each vCPU.
    pub stats: StatsFiles,
    pub cpu_count: u32,
    /// The guest's TSC frequency.
    pub tsc_khz: u64,
    /// Copy console output to the VMM's stdout and stderr as it arrives.
    pub echo_console: bool,
    /// The moment boot timings are measured from.
    pub started: Instant,
    /// Written when the guest ends (the control thread's event loop waits on it).
    pub exit_evt: EventFd,
    /// The kernel ELF the guest runs (its symbols name functions in reports).
    pub kernel_image: std::borrow::Cow<'static, [u8]>,
    /// Whether KVM reports pending triple faults (`KVM_CAP_X86_TRIPLE_FAULT_EVENT`).
    pub triple_fault_event: TripleFaultEvent,
}

/// The VM as its vCPU threads and the control thread share it: how it ended,
/// its console, the start gate of the secondary CPUs, snapshots, mailbox replies.
pub struct Shared {
    hc: hypercall::Context,
    echo_console: bool,
    /// The kernel's messages, and the user programs' stdout and stderr.
    console: Mutex<Vec<u8>>,
    stdout: Mutex<Vec<u8>>,
    stderr: Mutex<Vec<u8>>,
    stopping: AtomicBool,
    hypercall_errors: AtomicU64,
    started: Instant,
    tsc_khz: u64,
    end: Mutex<Option<GuestExit>>,
    exit_evt: EventFd,
    start_gate: (Mutex<bool>, Condvar),
    ready: Mutex<Option<ReadyMark>>,
    /// Snapshots the guest asked for (`Snapshot` hypercall), in order.
    snapshots: Mutex<Vec<Snapshot>>,
    /// The sequence number of the last mailbox command answered.
    mailbox: (Mutex<u64>, Condvar),
    kernel_image: std::borrow::Cow<'static, [u8]>,
    triple_fault_event: TripleFaultEvent,
    /// Each vCPU's state when it stopped (for crash and hang reports).
    vcpu_ends: Mutex<Vec<Option<VcpuEnd>>>,
    // Statistics fds keep KVM's VM alive: declared before `vm`, so closed
    // before the guest memory can be unmapped (see `Vm`).
    stats: StatsFiles,
    vm: Arc<Vm>,
}

impl Shared {
    pub fn new(s: Setup) -> Self {
        Self {
            hc: hypercall::Context::new(s.cpu_count),
            echo_console: s.echo_console,
            console: Mutex::new(Vec::new()),
            stdout: Mutex::new(Vec::new()),
            stderr: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            hypercall_errors: AtomicU64::new(0),
            started: s.started,
            tsc_khz: s.tsc_khz,
            end: Mutex::new(None),
            exit_evt: s.exit_evt,
            start_gate: (Mutex::new(false), Condvar::new()),
            ready: Mutex::new(None),
            snapshots: Mutex::new(Vec::new()),
            mailbox: (Mutex::new(0), Condvar::new()),
            kernel_image: s.kernel_image,
            triple_fault_event: s.triple_fault_event,
            vcpu_ends: Mutex::new(vec![None; s.cpu_count as usize]),
            stats: s.stats,
            vm: s.vm,
        }
    }

    /// Record vCPU `end.cpu`'s state as it stops.
    pub fn record_vcpu_end(&self, end: VcpuEnd) {
        if let Some(slot) = self.vcpu_ends.lock().unwrap().get_mut(end.cpu as usize) {
            *slot = Some(end);
        }
    }

    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// Whether the VM is stopping (its end is recorded; vCPUs leave `KVM_RUN`).
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Check hypercall `call` with parameters at `gpa`: the status for the
    /// caller and the effect for the VMM to apply (`hypercall::handle`).
    pub fn hypercall(&self, call: Hypercall, gpa: u64) -> (i64, Effect) {
        hypercall::handle(call, gpa, self.vm.memory(), &self.hc)
    }

    /// Count a hypercall answered with an error (for the report).
    pub fn count_hypercall_error(&self) {
        self.hypercall_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes written to console `stream`: kept for the report, and with
    /// `echo_console` copied at once, the program's stdout to the VMM's stdout,
    /// its stderr and the kernel's messages to the VMM's stderr.
    pub fn console_write(&self, to: u32, bytes: &[u8]) {
        if self.echo_console {
            let _ = if to == stream::STDOUT {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|_| out.flush())
            } else {
                std::io::stderr().lock().write_all(bytes)
            };
        }
        let capture = match to {
            stream::STDOUT => &self.stdout,
            stream::STDERR => &self.stderr,
            _ => &self.console,
        };
        capture.lock().unwrap().extend_from_slice(bytes);
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
        !self.stopping()
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
            counters: Box::new(self.vm.counters()),
            kvm: self.kvm_stats(),
            reset,
        };
        self.snapshots.lock().unwrap().push(snap);
    }

    /// How many snapshots the guest took so far.
    pub fn snapshot_count(&self) -> usize {
        self.snapshots.lock().unwrap().len()
    }

    /// The last snapshot labelled `label` among those after the first `skip`.
    pub fn last_snapshot_since(&self, skip: usize, label: &str) -> Option<Snapshot> {
        let snaps = self.snapshots.lock().unwrap();
        snaps.get(skip..)?.iter().rev().find(|s| s.label == label).cloned()
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
            if now >= deadline || self.stopping() {
                return false;
            }
            last = self.mailbox.1.wait_timeout(last, deadline - now).unwrap().0;
        }
        true
    }

    pub fn kvm_stats(&self) -> KvmStats {
        self.stats.read()
    }

    /// The report of a VM whose vCPUs stopped with these exit counts.
    pub fn report(&self, vcpu_exits: Vec<ExitCounts>) -> ExitReport {
        let exit = self.end().expect("a stopped VM has an end");
        let console = String::from_utf8_lossy(&self.console.lock().unwrap()).into_owned();
        let counters = self.vm.counters();
        let crash = if matches!(exit, GuestExit::Status(_)) {
            None
        } else {
            let ends = self.vcpu_ends.lock().unwrap().clone();
            crash::details(&crash::Inputs {
                exit: &exit,
                mem: self.vm.memory(),
                counters: &counters,
                cpus: ends.len(),
                ends: &ends,
                symbols: &Symbols::from_elf(&self.kernel_image),
                console: &console,
                triple_fault_event: &self.triple_fault_event,
            })
        };
        ExitReport {
            exit,
            console,
            stdout: String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
            counters,
            kvm: self.kvm_stats(),
            vcpu_exits,
            hypercall_errors: self.hypercall_errors.load(Ordering::Relaxed),
            ready: self.ready(),
            elapsed: self.started.elapsed(),
            tsc_khz: self.tsc_khz,
            snapshots: self.snapshots.lock().unwrap().clone(),
            crash,
            triple_fault_event: self.triple_fault_event.clone(),
        }
    }
}
