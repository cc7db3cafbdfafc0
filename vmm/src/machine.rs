//! State shared by the vCPU threads and the VMM's control thread, and the
//! report made from it when the VM ends.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use protocol::hypercall::{stream, Hypercall};
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::signal::Killable;

use crate::crash::{self, VcpuEnd};
use crate::debuginfo::{Symbolizer, Unwinder};
use crate::exit::ExitCounts;
use crate::hypercall::{self, Effect};
use crate::profile::{RawProfile, Span};
use crate::pvlock::{PvLocks, WaitEnd};
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
    /// Where the kernel image ends (guest-physical): `BulkMem` writes above.
    pub kernel_end: u64,
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
    /// Profile the kernel (`profile`), if asked to.
    pub profile: Option<ProfileSetup>,
    /// The trace rings (`protocol::trace`), if the guest is traced.
    pub trace: Option<TraceRings>,
}

/// Where the trace rings are, and the file the trace goes to.
#[derive(Clone, Debug)]
pub struct TraceRings {
    pub gpa: u64,
    pub ring_bytes: u64,
    pub path: std::path::PathBuf,
}

/// Signal used to kick a vCPU thread out of KVM_RUN.
pub fn kick_signal() -> i32 {
    vmm_sys_util::signal::SIGRTMIN()
}

/// What the profiler needs from the kernel image, and when to profile.
pub struct ProfileSetup {
    /// The kernel ELF (for names at the end).
    pub image: Arc<[u8]>,
    pub unwinder: Arc<Unwinder>,
    /// The kernel's entry points from user mode, where an armed vCPU stops.
    pub entries: Vec<u64>,
    /// `trap_common`, where the IDT's stubs lead (its entry stubs are counted).
    pub trap_common: Option<u64>,
    /// Only between these snapshots; `None`: the whole run.
    pub span: Option<Span>,
    /// Carry out the instructions this host mis-steps (`stepover`) instead of
    /// stepping them: on kvm_pvm with more than one vCPU, where stepping one
    /// leaves the vCPU halted. With one vCPU they are stepped (their debug
    /// exit is lost, but KVM's counters see them as they are unprofiled).
    pub carry_out_misstepped: bool,
}

/// The profiler's shared state: the setup, whether it is on (and a count of
/// changes, so that each vCPU thread notices one), the records the vCPU
/// threads hand in, and the threads to kick when it changes.
struct Profiler {
    setup: ProfileSetup,
    /// `changes << 1 | on`.
    state: AtomicU64,
    spans: AtomicU64,
    records: Mutex<RawProfile>,
    threads: Mutex<Vec<VcpuThreadId>>,
}

/// A vCPU thread to kick (its `pthread_t`, valid while the thread is joinable:
/// `Vmm` clears the list before joining).
#[derive(Clone, Copy)]
struct VcpuThreadId(libc::pthread_t);

// SAFETY: the ids come from the `JoinHandle`s of the VM's vCPU threads
// (`Vmm::start`), and `Vmm` clears the list (under its lock, which every kick
// holds) before it joins any of them: a listed id names a thread that is
// running or has ended but not been joined, for which pthread_kill is valid.
unsafe impl Killable for VcpuThreadId {
    fn pthread_handle(&self) -> libc::pthread_t {
        self.0
    }
}

/// The VM as its vCPU threads and the control thread share it: how it ended,
/// its console, the start gate of the secondary CPUs, snapshots, mailbox replies.
pub struct Shared {
    hc: hypercall::Context,
    /// The wait queue of the guest's paravirtual spin locks.
    pvlocks: PvLocks,
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
    profiler: Option<Profiler>,
    trace: Option<TraceRings>,
    cpu_count: u32,
}

impl Shared {
    pub fn new(s: Setup) -> Self {
        Self {
            hc: hypercall::Context::new(s.cpu_count, s.kernel_end.next_multiple_of(4096)),
            pvlocks: PvLocks::new(s.cpu_count),
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
            trace: s.trace,
            cpu_count: s.cpu_count,
            profiler: s.profile.map(|setup| {
                // Without a span the profile covers the whole run: on from the start.
                let on = setup.span.is_none();
                Profiler {
                    setup,
                    state: AtomicU64::new(if on { 0b11 } else { 0 }),
                    spans: AtomicU64::new(0),
                    records: Mutex::new(RawProfile::default()),
                    threads: Mutex::new(Vec::new()),
                }
            }),
        }
    }

    /// The profiler's setup, if this VM is profiled.
    pub fn profile_setup(&self) -> Option<&ProfileSetup> {
        self.profiler.as_ref().map(|p| &p.setup)
    }

    /// The profiler's state: (changes so far, on); `(0, false)` without one.
    pub fn profile_state(&self) -> (u64, bool) {
        let s = self.profiler.as_ref().map_or(0, |p| p.state.load(Ordering::Acquire));
        (s >> 1, s & 1 == 1)
    }

    /// Hand in a vCPU's profile record (when its thread ends).
    pub fn submit_profile(&self, raw: RawProfile) {
        if let Some(p) = &self.profiler {
            p.records.lock().unwrap().merge(raw);
        }
    }

    /// The vCPU threads the profiler kicks when it goes on or off.
    pub fn set_vcpu_threads(&self, threads: &[libc::pthread_t]) {
        if let Some(p) = &self.profiler {
            *p.threads.lock().unwrap() = threads.iter().map(|&t| VcpuThreadId(t)).collect();
        }
    }

    /// Forget the vCPU threads (before they are joined).
    pub fn clear_vcpu_threads(&self) {
        if let Some(p) = &self.profiler {
            p.threads.lock().unwrap().clear();
        }
    }

    /// Turn the profiler on or off and make every vCPU but `caller` notice
    /// (the caller sees the change before it runs the guest again).
    fn switch_profile(&self, on: bool, caller: u32) {
        let Some(p) = &self.profiler else { return };
        let s = p.state.load(Ordering::Acquire);
        if (s & 1 == 1) == on {
            return;
        }
        p.state.store(((s >> 1) + 1) << 1 | u64::from(on), Ordering::Release);
        if !on {
            p.spans.fetch_add(1, Ordering::Relaxed);
        }
        let threads = p.threads.lock().unwrap();
        for (i, t) in threads.iter().enumerate() {
            if i as u32 != caller {
                let _ = t.kill(kick_signal());
            }
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

    /// The trace rings, if the guest is traced.
    pub fn trace_rings(&self) -> Option<&TraceRings> {
        self.trace.as_ref()
    }

    /// Take what the guest's trace rings hold into `raw` (without stopping it).
    pub fn drain_trace(&self, raw: &mut crate::trace::RawTrace) {
        if let Some(t) = &self.trace {
            self.vm.drain_trace(t.gpa, t.ring_bytes, self.cpu_count, raw);
        }
    }

    /// The guest's TSC frequency.
    pub fn tsc_khz(&self) -> u64 {
        self.tsc_khz
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
    /// A profile span's first label turns the profiler on, its last off.
    pub fn snapshot(&self, cpu: u32, label: String, guest_tsc: u64, reset: bool) {
        if let Some(span) = self.profiler.as_ref().and_then(|p| p.setup.span.as_ref()) {
            if label == span.from {
                self.switch_profile(true, cpu);
            } else if label == span.to {
                self.switch_profile(false, cpu);
            }
        }
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

    /// `PvWait` from vCPU `cpu`: 1 if it was kicked, else 0.
    pub fn pv_wait(&self, cpu: u32, lock: u64, val: u32) -> i64 {
        (self.pvlocks.wait(cpu, self.vm.memory(), lock, val) == WaitEnd::Kicked) as i64
    }

    /// `PvKick` from vCPU `cpu`: how many waiters were woken (0 or 1).
    pub fn pv_kick(&self, cpu: u32, lock: u64) -> i64 {
        self.pvlocks.kick(cpu, lock) as i64
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
            profile: self.profiler.as_ref().map(|p| {
                let raw = std::mem::take(&mut *p.records.lock().unwrap());
                let mut profile = raw.symbolize(&mut Symbolizer::new(&p.setup.image));
                profile.spans = p.spans.load(Ordering::Relaxed);
                profile
            }),
            trace: None,
            tasks: None,
        }
    }
}
