//! What a finished VM reports: how it ended, its console, counters and statistics
//! (plain data and its formatting; `machine` fills it in).

use std::fmt::Write;
use std::time::Duration;

use protocol::counters::CounterPage;
use protocol::exit_status;
use protocol::hypercall::{exception_name, ExceptionReport, GPR_NAMES};

use crate::exit::{ExitCounts, EXIT_REASONS};
use crate::profile::Profile;
use crate::stats::KvmStats;

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
    /// A CPU took no timer interrupt for the lockup threshold.
    Lockup(crate::watchdog::Lockup),
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
            GuestExit::Lockup(_) => exit_status::GUEST_LOCKUP,
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
            GuestExit::Lockup(l) => Some(format!("{l}; stopped it")),
        }
    }
}

/// Whether KVM reports pending triple faults in the vCPU events
/// (`KVM_CAP_X86_TRIPLE_FAULT_EVENT`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TripleFaultEvent {
    /// Enabled with `KVM_ENABLE_CAP`.
    On,
    /// The host has it, but enabling it failed (the error).
    Off(String),
    /// `KVM_CHECK_EXTENSION` says the host does not have it.
    #[default]
    Unsupported,
}

impl std::fmt::Display for TripleFaultEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::On => write!(f, "on"),
            Self::Off(e) => write!(f, "off (enabling it failed: {e})"),
            Self::Unsupported => write!(f, "off (this host's KVM does not have it)"),
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

#[derive(Clone, Debug)]
pub struct ExitReport {
    pub exit: GuestExit,
    /// The kernel's console messages.
    pub console: String,
    /// What user programs wrote to their stdout (fd 1) and stderr (fd 2).
    pub stdout: String,
    pub stderr: String,
    /// The guest's counter page at the end.
    pub counters: CounterPage,
    /// KVM's statistics at the end.
    pub kvm: KvmStats,
    /// Exits that reached the VMM, per vCPU, indexed like [`EXIT_REASONS`].
    pub vcpu_exits: Vec<ExitCounts>,
    /// Hypercalls answered with an error.
    pub hypercall_errors: u64,
    /// When the guest reported ready.
    pub ready: Option<ReadyMark>,
    /// From the VMM's start to the guest's end.
    pub elapsed: Duration,
    /// The guest's TSC frequency, for converting its TSC counters.
    pub tsc_khz: u64,
    /// Snapshots of the counters and KVM's statistics the guest took (by writing
    /// to `/dev/counters`), in order.
    pub snapshots: Vec<Snapshot>,
    /// For an end the guest did not choose: where each CPU was (kernel
    /// functions named), the last exception each took, the decoded error
    /// code, the console's last lines (see `crash`).
    pub crash: Option<String>,
    /// Whether KVM reported pending triple faults (`KVM_CAP_X86_TRIPLE_FAULT_EVENT`).
    pub triple_fault_event: TripleFaultEvent,
    /// The ring-0 profile, when the VM was profiled (`VmmBuilder::profile`).
    pub profile: Option<Profile>,
    /// What the trace file got, when the VM was traced (`VmmBuilder::trace`).
    pub trace: Option<TraceSummary>,
    /// Every task at a timeout, as the guest answered for them just before
    /// it was stopped (none if it could not answer).
    pub tasks: Option<Vec<protocol::mailbox::ProcEntry>>,
}

/// The trace a traced VM wrote (`VmmBuilder::trace`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSummary {
    pub path: std::path::PathBuf,
    /// Records drained from the guest's rings.
    pub events: usize,
    /// Records the guest dropped because its ring was full.
    pub dropped: u64,
}

/// The counters of a counter page by name: global ones, every online CPU's, the
/// sum of the per-CPU process counts (Linux `nr_processes()`), and the system
/// calls made (and answered ENOSYS) by number, non-zero ones only.
pub fn counters_json(page: &CounterPage, cpus: usize) -> serde_json::Value {
    use serde_json::{Map, Value};
    let map = |pairs: &[(&str, u64)]| -> Value {
        Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect())
    };
    let by_number = |table: &[u64]| -> Value {
        let mut m = Map::new();
        for (nr, &n) in table.iter().enumerate().filter(|(_, &n)| n > 0) {
            m.insert(nr.to_string(), Value::from(n));
        }
        Value::Object(m)
    };
    let cpus = &page.cpu[..cpus.min(page.cpu.len())];
    serde_json::json!({
        "global": map(&page.global.values()),
        "nr_processes": nr_processes(page, cpus.len()),
        "cpu": cpus.iter().map(|c| map(&c.values())).collect::<Vec<_>>(),
        "syscalls": by_number(&page.syscalls),
        "syscalls_enosys": by_number(&page.syscalls_enosys),
    })
}

/// Processes alive (Linux `nr_processes()`): the sum of the per-CPU counts,
/// each of which may be negative.
pub fn nr_processes(page: &CounterPage, cpus: usize) -> i64 {
    page.cpu.iter().take(cpus).map(|c| c.process_count as i64).sum()
}

fn kvm_json(k: &KvmStats) -> serde_json::Value {
    serde_json::json!({ "vm": k.vm, "vcpus": k.vcpus })
}

/// The guest's counters as text: the non-zero global ones, a table of the
/// per-CPU ones (rows that are zero on every CPU left out), and the system calls
/// made, by number.
pub fn counters_text(page: &CounterPage, cpus: usize) -> String {
    let mut s = String::from("\nguest counters\n");
    for (name, v) in page.global.values().iter().filter(|(_, v)| *v > 0) {
        let _ = writeln!(s, "  {name:<24} {v:>14}");
    }
    let _ = writeln!(s, "  {:<24} {:>14}", "nr_processes", nr_processes(page, cpus));
    let _ = write!(s, "\nper-CPU counters         {:>14}", "total");
    for i in 0..cpus {
        let _ = write!(s, " {:>12}", format!("cpu{i}"));
    }
    s += "\n";
    let rows: Vec<_> = page.cpu.iter().take(cpus).map(|c| c.values()).collect();
    for (f, name) in protocol::counters::CpuCounters::FIELDS.iter().enumerate() {
        if rows.iter().all(|r| r[f].1 == 0) || *name == "online_tsc" || *name == "ipi_from_mask" {
            continue;
        }
        let total = rows.iter().fold(0u64, |t, r| t.wrapping_add(r[f].1));
        let _ = write!(s, "  {name:<22} {:>14}", total as i64);
        for r in &rows {
            let _ = write!(s, " {:>12}", r[f].1 as i64);
        }
        s += "\n";
    }
    let calls: Vec<String> = page
        .syscalls
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(nr, n)| format!("{nr}:{n}"))
        .collect();
    if !calls.is_empty() {
        let _ = writeln!(s, "\nsystem calls (number:count): {}", calls.join(" "));
    }
    s
}

/// KVM vCPU statistics worth showing by default.
fn interesting(name: &str) -> bool {
    name.contains("exits")
        || name == "insn_emulation"
        || name == "insn_emulation_fail"
        || name.starts_with("halt_")
        || name.starts_with("pf_")
        || name == "tlb_flush"
        || name == "irq_injections"
}

impl ExitReport {
    pub fn exit_code(&self) -> u8 {
        self.exit.exit_code()
    }

    /// How the guest ended, for a person (None for an exit status it chose):
    /// `GuestExit::describe` and the crash details.
    pub fn describe(&self) -> Option<String> {
        let head = self.exit.describe()?;
        let mut s = match &self.crash {
            Some(d) if !d.is_empty() => format!("{head}\n{d}"),
            _ => head,
        };
        if let Some(tasks) = &self.tasks {
            s += "\n";
            s += &task_table(tasks);
        }
        Some(s)
    }

    /// Guest time from kernel entry to ready, measured by the guest's TSC.
    pub fn guest_boot_time(&self) -> Option<Duration> {
        let g = &self.counters.global;
        (g.ready_tsc > g.boot_tsc && g.boot_tsc > 0 && self.tsc_khz > 0)
            .then(|| Duration::from_nanos((g.ready_tsc - g.boot_tsc) * 1_000_000 / self.tsc_khz))
    }

    /// The snapshot labelled `label` (the first, if several are).
    pub fn snapshot(&self, label: &str) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.label == label)
    }

    /// Ring-0 instructions emulated (KVM's `insn_emulation`, all vCPUs) between
    /// snapshots `from` and `to`.
    pub fn insns_between(&self, from: &str, to: &str) -> Option<u64> {
        let a = self.snapshot(from)?.kvm.vcpu_total("insn_emulation");
        let b = self.snapshot(to)?.kvm.vcpu_total("insn_emulation");
        b.checked_sub(a)
    }

    /// Ring-0 instructions emulated in every span from a snapshot labelled
    /// `from` to the next labelled `to`, added up (none if no span closed).
    pub fn insns_in_spans(&self, from: &str, to: &str) -> Option<u64> {
        self.stat_in_spans(from, to, "insn_emulation")
    }

    /// How much the vCPU statistic `stat` went up in the spans (as
    /// `insns_in_spans`).
    pub fn stat_in_spans(&self, from: &str, to: &str, stat: &str) -> Option<u64> {
        let (mut start, mut sum, mut closed) = (None, 0, false);
        for s in &self.snapshots {
            let insns = s.kvm.vcpu_total(stat);
            if s.label == from && start.is_none() {
                start = Some(insns);
            } else if s.label == to {
                if let Some(a) = start.take() {
                    sum += insns.saturating_sub(a);
                    closed = true;
                }
            }
        }
        closed.then_some(sum)
    }

    /// Exits of `reason` (one of [`EXIT_REASONS`]) that reached the VMM, all vCPUs.
    pub fn vmm_exits(&self, reason: &str) -> u64 {
        let i = EXIT_REASONS.iter().position(|r| *r == reason).expect("a known exit reason");
        self.vcpu_exits.iter().map(|c| c[i]).sum()
    }

    /// Everything `--stats` shows, and the snapshots, as JSON (`--stats-json`).
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let cpus = self.kvm.vcpus.len();
        let exits: Vec<serde_json::Value> = self
            .vcpu_exits
            .iter()
            .map(|c| {
                EXIT_REASONS
                    .iter()
                    .zip(c.iter())
                    .filter(|(_, &n)| n > 0)
                    .map(|(r, &n)| (r.to_string(), serde_json::Value::from(n)))
                    .collect()
            })
            .collect();
        serde_json::json!({
            "exit_code": self.exit_code(),
            "exit": self.exit.describe(),
            "elapsed_ms": ms(self.elapsed),
            "ready_ms": self.ready.map(|r| ms(r.after)),
            "guest_boot_ms": self.guest_boot_time().map(ms),
            "tsc_khz": self.tsc_khz,
            "kvm": kvm_json(&self.kvm),
            "vmm_exits": exits,
            "hypercall_errors": self.hypercall_errors,
            "counters": counters_json(&self.counters, cpus),
            "snapshots": self.snapshots.iter().map(|s| serde_json::json!({
                "label": s.label,
                "reset": s.reset,
                "guest_tsc": s.guest_tsc,
                "after_ms": ms(s.after),
                "kvm": kvm_json(&s.kvm),
                "counters": counters_json(&s.counters, cpus),
            })).collect::<Vec<_>>(),
        })
    }

    /// The `--stats` text: boot timing, KVM statistics, VMM exits, guest counters.
    pub fn stats_text(&self) -> String {
        let mut s = String::new();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        match self.ready {
            Some(r) => {
                let _ = writeln!(
                    s,
                    "boot: guest ready {:.2} ms after VMM start ({} KVM exits so far)",
                    ms(r.after),
                    r.exits
                );
            }
            None => s += "boot: guest never reported ready\n",
        }
        if let Some(t) = self.guest_boot_time() {
            let _ = writeln!(s, "boot: guest ready {:.3} ms after kernel entry (guest TSC)", ms(t));
        }
        let _ = writeln!(
            s,
            "end: {:.2} ms after VMM start, exit code {}",
            ms(self.elapsed),
            self.exit_code()
        );

        let n = self.kvm.vcpus.len();
        let _ = write!(s, "\nKVM statistics         {:>12}", "total");
        for i in 0..n {
            let _ = write!(s, " {:>12}", format!("cpu{i}"));
        }
        s += "\n";
        let names = self
            .kvm
            .vcpus
            .first()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for name in names.iter().filter(|n| interesting(n)) {
            let total = self.kvm.vcpu_total(name);
            if total == 0 {
                continue;
            }
            let _ = write!(s, "  {name:<20} {total:>12}");
            for m in &self.kvm.vcpus {
                let _ = write!(s, " {:>12}", m.get(name).copied().unwrap_or(0));
            }
            s += "\n";
        }

        s += "\nexits handled by the VMM\n";
        for (i, reason) in EXIT_REASONS.iter().enumerate() {
            let total: u64 = self.vcpu_exits.iter().map(|c| c[i]).sum();
            if total > 0 {
                let _ = write!(s, "  {reason:<20} {total:>12}");
                for c in &self.vcpu_exits {
                    let _ = write!(s, " {:>12}", c[i]);
                }
                s += "\n";
            }
        }
        let _ = writeln!(s, "  hypercall errors     {:>12}", self.hypercall_errors);

        s += &counters_text(&self.counters, n);
        for snap in &self.snapshots {
            let _ = writeln!(
                s,
                "snapshot {:?} at {:.2} ms{}: {} ring-0 instructions so far",
                snap.label,
                ms(snap.after),
                if snap.reset { " (then reset)" } else { "" },
                snap.kvm.vcpu_total("insn_emulation")
            );
        }
        s
    }
}

/// `ProcEntry::sched` as letters: `q` queued, `c` on its CPU, `r` asked to
/// reschedule; `-` for none.
fn run_flags(sched: u8) -> String {
    use protocol::mailbox::{SCHED_NEED_RESCHED, SCHED_ON_CPU, SCHED_ON_RQ};
    let s: String = [(SCHED_ON_RQ, 'q'), (SCHED_ON_CPU, 'c'), (SCHED_NEED_RESCHED, 'r')]
        .iter()
        .filter(|(b, _)| sched & b != 0)
        .map(|&(_, c)| c)
        .collect();
    if s.is_empty() {
        "-".to_string()
    } else {
        s
    }
}

/// The task table of a timeout report: one line per task with its state,
/// where the scheduler has it, signals (hex masks) and job-control bits, as
/// the guest's `kmailboxd` read them (Linux's SysRq-t, in short).
pub fn task_table(tasks: &[protocol::mailbox::ProcEntry]) -> String {
    let mut s = format!(
        "tasks at the timeout ({}):\n  {:>5} {:>5} {:>5} {:>5} S CPU RUN {:<16} {:>16} {:>16} {:>16} {:>8} {:>8} {:>5} FATAL SYSCALL LIVE\n",
        tasks.len(),
        "PID",
        "TGID",
        "PPID",
        "PGID",
        "COMM",
        "PENDING",
        "SHARED",
        "BLOCKED",
        "JOBCTL",
        "GFLAGS",
        "GSTOP"
    );
    for t in tasks {
        let group = |v: u32| if v == u32::MAX { "locked".to_string() } else { format!("{v:x}") };
        s += &format!(
            "  {:>5} {:>5} {:>5} {:>5} {} {:>3} {:>3} {:<16} {:>16x} {:>16x} {:>16x} {:>8x} {:>8} {:>5} {:>5} {:>7} {:>4}\n",
            t.pid,
            t.tgid,
            t.ppid,
            t.pgid,
            t.state as char,
            t.cpu,
            run_flags(t.sched),
            t.comm_str(),
            t.pending,
            t.shared_pending,
            t.blocked,
            t.jobctl,
            group(t.group_flags),
            group(t.group_stop_count),
            t.fatal_signal,
            t.syscall,
            t.live
        );
    }
    s.trim_end().to_string()
}
