//! What a finished VM reports: how it ended, its console, counters and statistics.

use std::fmt::Write;
use std::time::Duration;

use protocol::boot::COUNTERS_GPA;
use protocol::counters::CounterPage;
use vm_memory::GuestMemoryMmap;

use crate::exit::EXIT_REASONS;
use crate::machine::{GuestExit, ReadyMark, Shared};
use crate::stats::KvmStats;
use crate::vcpu::ExitCounts;

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
}

pub(crate) fn read_counters(mem: &GuestMemoryMmap) -> CounterPage {
    crate::pod::read(mem, COUNTERS_GPA).unwrap_or_default()
}

pub(crate) fn collect(shared: &Shared, vcpu_exits: Vec<ExitCounts>) -> ExitReport {
    ExitReport {
        exit: shared.end().expect("a stopped VM has an end"),
        console: String::from_utf8_lossy(&shared.console.lock().unwrap()).into_owned(),
        stdout: String::from_utf8_lossy(&shared.stdout.lock().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&shared.stderr.lock().unwrap()).into_owned(),
        counters: read_counters(&shared.memory),
        kvm: shared.kvm_stats(),
        vcpu_exits,
        hypercall_errors: shared.hypercall_errors.load(std::sync::atomic::Ordering::Relaxed),
        ready: shared.ready(),
        elapsed: shared.started.elapsed(),
        tsc_khz: shared.tsc_khz,
    }
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

    /// Guest time from kernel entry to ready, measured by the guest's TSC.
    pub fn guest_boot_time(&self) -> Option<Duration> {
        let g = &self.counters.global;
        (g.ready_tsc > g.boot_tsc && g.boot_tsc > 0 && self.tsc_khz > 0)
            .then(|| Duration::from_nanos((g.ready_tsc - g.boot_tsc) * 1_000_000 / self.tsc_khz))
    }

    /// Exits of `reason` (one of [`EXIT_REASONS`]) that reached the VMM, all vCPUs.
    pub fn vmm_exits(&self, reason: &str) -> u64 {
        let i = EXIT_REASONS.iter().position(|r| *r == reason).expect("a known exit reason");
        self.vcpu_exits.iter().map(|c| c[i]).sum()
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

        let g = &self.counters.global;
        let _ = writeln!(
            s,
            "\nguest counters: {} CPUs online, {} frames in use, {} free, heap {} bytes",
            g.cpus_online, g.frames_in_use, g.frames_free, g.heap_bytes
        );
        let _ = writeln!(
            s,
            "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "cpu", "ticks", "ipi_rx", "ipi_tx", "hypercall", "halts"
        );
        for (i, c) in self.counters.cpu.iter().enumerate().take(n) {
            let _ = writeln!(
                s,
                "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>10}",
                i, c.timer_ticks, c.ipis_received, c.ipis_sent, c.hypercalls, c.idle_halts
            );
        }
        s
    }
}
