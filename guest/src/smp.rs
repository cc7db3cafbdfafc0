//! Cross-CPU work: jobs posted to a CPU with a wake-up IPI, and the IPI self-test
//! in which every CPU interrupts every other one.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use protocol::MAX_CPUS;

use crate::arch::{apic, cpu::CALL_FUNCTION_VECTOR, cpu::RESCHEDULE_VECTOR};
use crate::arch::{cpu_count, wait_until};
use crate::cmdline::FaultKind;
use crate::counters as ctr;
use crate::println;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    PingAll,
    Fault(FaultKind),
}

impl Job {
    fn encode(self) -> u32 {
        match self {
            Job::PingAll => 1,
            Job::Fault(k) => 0x100 + k as u32,
        }
    }

    fn decode(v: u32) -> Option<Job> {
        const KINDS: [FaultKind; 10] = [
            FaultKind::InvalidOpcode,
            FaultKind::PageFault,
            FaultKind::GeneralProtection,
            FaultKind::DivideError,
            FaultKind::DoubleFault,
            FaultKind::TripleFault,
            FaultKind::UserGs,
            FaultKind::Panic,
            FaultKind::Lockup,
            FaultKind::HaltLocked,
        ];
        match v {
            1 => Some(Job::PingAll),
            v if v >= 0x100 => {
                KINDS.iter().copied().find(|&k| k as u32 == v - 0x100).map(Job::Fault)
            }
            _ => None,
        }
    }
}

static JOBS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
/// Bit `s` of `PENDING[t]`: CPU `s` sent CPU `t` a ping not yet seen.
static PENDING: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static PINGS_COMPLETE: AtomicU32 = AtomicU32::new(0);

fn send_ipi(from: usize, to: usize, vector: u8) {
    apic::send_ipi(to as u32, vector);
    ctr::cpu_add(from, ctr::CPU_IPIS_SENT, 1);
}

/// Post `job` to `cpu` and wake it.
pub fn post_job(cpu: usize, job: Job) {
    JOBS[cpu].store(job.encode(), Ordering::Release);
    send_ipi(crate::arch::cpu_id(), cpu, RESCHEDULE_VECTOR);
}

pub fn take_job(cpu: usize) -> Option<Job> {
    match JOBS[cpu].swap(0, Ordering::Acquire) {
        0 => None,
        v => Job::decode(v),
    }
}

pub fn run_job(cpu: usize, job: Job) {
    match job {
        Job::PingAll => ping_all(cpu),
        Job::Fault(kind) => crate::kernel::fault_here(kind),
    }
}

fn all_but(cpu: usize) -> u64 {
    let all = if cpu_count() == 64 { u64::MAX } else { (1u64 << cpu_count()) - 1 };
    all & !(1 << cpu)
}

fn ping_all(me: usize) {
    for t in (0..cpu_count()).filter(|&t| t != me) {
        PENDING[t].fetch_or(1 << me, Ordering::AcqRel);
        send_ipi(me, t, CALL_FUNCTION_VECTOR);
    }
}

/// CALL_FUNCTION_VECTOR handler body: record who pinged us.
pub fn call_function_interrupt(me: usize) {
    crate::arch::irq::assert_irqs_disabled();
    let bits = PENDING[me].swap(0, Ordering::AcqRel);
    if bits == 0 {
        return;
    }
    let old = ctr::cpu_get(me, ctr::CPU_IPI_FROM_MASK);
    let new = old | bits;
    ctr::cpu_set(me, ctr::CPU_IPI_FROM_MASK, new);
    let want = all_but(me);
    if old != want && new == want {
        PINGS_COMPLETE.fetch_add(1, Ordering::AcqRel);
        if me != 0 {
            send_ipi(me, 0, RESCHEDULE_VECTOR);
        }
    }
}

/// Every CPU sends an IPI to every other CPU; each must hear from all the others.
pub fn ipi_selftest() -> bool {
    let n = cpu_count();
    for cpu in 1..n {
        post_job(cpu, Job::PingAll);
    }
    ping_all(0);
    wait_until(|| PINGS_COMPLETE.load(Ordering::Acquire) as usize == n || n == 1);
    let mut ok = true;
    for cpu in 0..n {
        let mask = ctr::cpu_get(cpu, ctr::CPU_IPI_FROM_MASK);
        let good = mask == all_but(cpu);
        ok &= good;
        println!(
            "selftest ipi: cpu {cpu}: heard from mask {mask:#x} (expected {:#x}){}",
            all_but(cpu),
            if good { "" } else { " MISMATCH" }
        );
    }
    ok
}
