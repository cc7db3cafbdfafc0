//! The control thread's side of a booted VM: [`Vmm`] owns the vCPU threads,
//! posts mailbox commands, and runs the event loop that waits for the guest's end.

use std::sync::Arc;
use std::time::Duration;

use protocol::counters::CounterPage;
use vmm_sys_util::eventfd::EventFd;

use crate::error::Result;
use crate::event_loop::{self, Wake};
use crate::exit::ExitCounts;
use crate::machine::Shared;
use crate::mailbox::{Command, Outbox, Reply};
use crate::report::{ExitReport, GuestExit, ReadyMark, TraceSummary};
use crate::stats::KvmStats;
use crate::trace::RawTrace;
use crate::vcpu::{Vcpu, VcpuHandle};
use crate::watchdog::LockupDetector;

/// A booted VM and the VMM around it: the vCPU threads, the control side of the
/// mailbox, and the event loop that waits for the guest's end. Dropping it stops
/// the vCPUs, as [`Vmm::wait`] does. [`Vmm::builder`] configures and boots one.
pub struct Vmm {
    shared: Arc<Shared>,
    vcpus: Vec<VcpuHandle>,
    mailbox: Outbox,
    exit_evt: EventFd,
    /// The thread that drains the trace rings while the guest runs.
    tracer: Option<std::thread::JoinHandle<RawTrace>>,
    /// The lockup detector's threshold (None: off).
    lockup: Option<Duration>,
}

/// How often the lockup detector looks.
const LOCKUP_CHECK_PERIOD: Duration = Duration::from_secs(1);

/// How long a timed-out guest gets to answer for its task table.
const TASKS_AT_TIMEOUT_WAIT: Duration = Duration::from_secs(3);

/// How often the drain thread empties the trace rings: a CPU writing an event
/// every 2 µs fills its 16,380-record ring in 33 ms.
const TRACE_DRAIN_INTERVAL: Duration = Duration::from_millis(2);

impl Vmm {
    /// Start a thread for each vCPU (the boot CPU runs, the others wait for the
    /// guest's `StartCpus`).
    pub(crate) fn start(
        shared: Shared,
        vcpus: Vec<Vcpu>,
        exit_evt: EventFd,
        lockup: Option<Duration>,
    ) -> Result<Self> {
        let mut vmm = Vmm {
            shared: Arc::new(shared),
            vcpus: Vec::with_capacity(vcpus.len()),
            mailbox: Outbox::default(),
            exit_evt,
            tracer: None,
            lockup,
        };
        for v in vcpus {
            // On failure, dropping `vmm` stops the threads already started.
            vmm.vcpus.push(v.spawn(vmm.shared.clone())?);
        }
        let threads: Vec<libc::pthread_t> = vmm.vcpus.iter().map(VcpuHandle::pthread).collect();
        vmm.shared.set_vcpu_threads(&threads);
        if vmm.shared.trace_rings().is_some() {
            let shared = vmm.shared.clone();
            let drain = move || {
                let mut raw = RawTrace::default();
                while !shared.stopping() {
                    shared.drain_trace(&mut raw);
                    std::thread::sleep(TRACE_DRAIN_INTERVAL);
                }
                raw
            };
            let t = std::thread::Builder::new().name("trace-drain".into()).spawn(drain).map_err(
                |e| crate::error::Error::Trace(format!("cannot start the drain thread: {e}")),
            )?;
            vmm.tracer = Some(t);
        }
        Ok(vmm)
    }

    /// The guest's counter page, read now without stopping the guest.
    pub fn counters(&self) -> CounterPage {
        self.shared.vm().counters()
    }

    /// KVM's statistics for the VM and each vCPU, now.
    pub fn kvm_stats(&self) -> KvmStats {
        self.shared.kvm_stats()
    }

    /// Post a command to the guest's control mailbox and wait for its answer
    /// (up to 30 s). The guest carries it out in its kernel thread `kmailboxd`,
    /// which runs once the first program has started; a command posted earlier
    /// waits for it.
    pub fn command(&self, cmd: &Command) -> Result<Reply> {
        self.mailbox.post(&self.shared, cmd)
    }

    /// When the guest reported ready, if it has.
    pub fn ready(&self) -> Option<ReadyMark> {
        self.shared.ready()
    }

    /// The lockup detector's look, once a second: each CPU's timer ticks from
    /// the counter page and its vCPU thread's CPU time.
    fn lockup_watch(&self, threshold: Duration) -> event_loop::Watch {
        let shared = self.shared.clone();
        let clocks: Vec<_> = self.vcpus.iter().map(VcpuHandle::cpu_clock).collect();
        let start = std::time::Instant::now();
        let mut detector = LockupDetector::new(threshold);
        event_loop::Watch {
            period: LOCKUP_CHECK_PERIOD,
            check: Box::new(move || {
                let page = shared.vm().counters();
                let ticks: Vec<u64> =
                    page.cpu.iter().take(clocks.len()).map(|c| c.timer_ticks).collect();
                let times: Vec<_> = clocks.iter().map(|c| c.and_then(|c| c.read())).collect();
                detector.observe(start.elapsed(), &ticks, &times)
            }),
        }
    }

    /// Run the event loop until the guest ends, `timeout` passes or a CPU
    /// locks up, then stop every vCPU and report.
    pub fn wait(mut self, timeout: Option<Duration>) -> Result<ExitReport> {
        let watch = self.lockup.map(|t| self.lockup_watch(t));
        let wake = event_loop::run_until_exit(&self.exit_evt, timeout, watch)?;
        let hung = wake != Wake::GuestEnded;
        // What every task was doing when the time ran out or a CPU locked up
        // (Linux's SysRq-t): the kernel thread that answers the mailbox runs
        // while user tasks hang, so ask it before stopping the vCPUs, if it
        // has started.
        let tasks = (hung && self.mailbox.serving(&self.shared))
            .then(|| {
                self.mailbox.post_within(
                    &self.shared,
                    &Command::ProcessTable,
                    TASKS_AT_TIMEOUT_WAIT,
                )
            })
            .and_then(|r| match r {
                Ok(Reply::Processes(p)) => Some(p),
                _ => None,
            });
        match wake {
            Wake::GuestEnded => {}
            Wake::TimedOut => self.shared.finish(GuestExit::Timeout(timeout.unwrap_or_default())),
            Wake::LockedUp(l) => self.shared.finish(GuestExit::Lockup(l)),
        }
        let exits = self.stop();
        let mut report = self.shared.report(exits);
        report.tasks = tasks;
        if let Some(rings) = self.shared.trace_rings() {
            // The vCPUs have stopped: what is left in the rings is the end.
            let mut raw = self.tracer.take().and_then(|t| t.join().ok()).unwrap_or_default();
            self.shared.drain_trace(&mut raw);
            let json = crate::trace::chrome_json(&raw, self.shared.tsc_khz());
            let text = serde_json::to_string(&json).expect("JSON of plain values");
            std::fs::write(&rings.path, text + "\n").map_err(|e| {
                crate::error::Error::Trace(format!("cannot write {}: {e}", rings.path.display()))
            })?;
            report.trace = Some(TraceSummary {
                path: rings.path.clone(),
                events: raw.events(),
                dropped: raw.dropped_total(),
            });
        }
        Ok(report)
    }

    /// Stop and join every vCPU thread; their exit counts.
    fn stop(&mut self) -> Vec<ExitCounts> {
        self.shared.finish(GuestExit::Crashed {
            cpu: 0,
            rip: 0,
            reason: "stopped by the VMM".into(),
        });
        // No kicks from the profiler once a thread may have been joined.
        self.shared.clear_vcpu_threads();
        for v in &self.vcpus {
            v.kick();
        }
        self.vcpus.drain(..).map(VcpuHandle::join).collect()
    }
}

impl Drop for Vmm {
    fn drop(&mut self) {
        if !self.vcpus.is_empty() {
            self.stop();
        }
    }
}
