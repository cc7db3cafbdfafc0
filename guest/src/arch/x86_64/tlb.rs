//! TLB shootdown (Linux `arch/x86/mm/tlb.c`): after changing the page tables
//! of an address space, invalidate the stale translations on every CPU that
//! may hold them before the change is relied on (fork's write-protection,
//! munmap, mprotect, a copy-on-write break).
//!
//! - Which CPUs: each CPU records the page-table root it has loaded
//!   (`LOADED_ROOT`, Linux `cpu_tlbstate.loaded_mm`); the address space's CPU
//!   mask (`mm_cpumask`) is the CPUs whose loaded root is its root. There is no
//!   lazy TLB mode and no PCID: a CPU that switches to another root drops every
//!   user translation, so the mask is exact. `load_cr3` publishes the new root
//!   before loading it, and the flusher reads the mask after a full fence that
//!   follows its page-table writes: either the flusher sees the CPU, or the CPU
//!   walks the new tables.
//! - How: the flusher posts a request to each target (a per-target generation,
//!   `FLUSH_REQ`) and sends INVALIDATE_TLB_VECTOR; the target reloads CR3 and
//!   records the generation it covered (`FLUSH_DONE`), then wakes the waiters
//!   with a reschedule IPI. Any CR3 load covers the requests posted before it,
//!   so a target that switches address space acknowledges by doing so.
//! - Waiting: never by spinning in ring 0 (docs/hosts.md rule 3; an IPI to a
//!   vCPU busy in ring 0 can take milliseconds). The flusher halts with
//!   interrupts enabled until each target has acknowledged or no longer has
//!   the root loaded; meanwhile it answers other CPUs' requests itself.
//! - A target spinning with interrupts off on the address-space lock the
//!   flusher holds would never take the IPI: that lock's relax strategy
//!   (`TlbRelax`) answers pending requests while it spins.

use core::sync::atomic::{fence, AtomicU64, Ordering::*};

use protocol::MAX_CPUS;

use super::cpu::{self, cpu_id, INVALIDATE_TLB_VECTOR, RESCHEDULE_VECTOR};
use super::{apic, mmu};
use crate::counters as ctr;

/// The page-table root each CPU has loaded (or is loading).
static LOADED_ROOT: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// Flush requests posted to each CPU (a generation count).
static FLUSH_REQ: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The last request generation each CPU has covered with a CR3 load.
static FLUSH_DONE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// CPUs waiting for each CPU's acknowledgement (bit = waiting CPU).
static FLUSH_WAITERS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// `FLUSH_GEN[s][t]`: the generation CPU `s` waits for CPU `t` to cover.
static FLUSH_GEN: [[AtomicU64; MAX_CPUS]; MAX_CPUS] =
    [const { [const { AtomicU64::new(0) }; MAX_CPUS] }; MAX_CPUS];

/// Invalidate this many pages one by one at most; beyond, reload CR3
/// (docs/hosts.md: one CR3 reload beats per-page `invlpg` beyond ~3 pages).
const INVLPG_MAX_PAGES: u64 = 4;

/// Bits set in `mask`, lowest first.
fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let b = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(b)
    })
}

/// Called by `mmu::load_cr3` around the CR3 write: returns the requests this
/// load will cover; the new root is published before the load.
pub(super) fn before_cr3_load(cpu: usize, root: u64) -> u64 {
    let covered = FLUSH_REQ[cpu].load(Acquire);
    LOADED_ROOT[cpu].store(root, Release);
    covered
}

/// After a CR3 load that covered the requests up to `covered`: acknowledge
/// them and wake the CPUs waiting for this one.
pub(super) fn after_cr3_load(cpu: usize, covered: u64) {
    if FLUSH_DONE[cpu].load(Relaxed) < covered {
        FLUSH_DONE[cpu].fetch_max(covered, AcqRel);
        wake_waiters(cpu);
    }
}

fn wake_waiters(cpu: usize) {
    let waiters = FLUSH_WAITERS[cpu].swap(0, AcqRel);
    for w in bits(waiters) {
        apic::send_ipi(w as u32, RESCHEDULE_VECTOR);
        ctr::cpu_add(cpu, ctr::CPU_IPIS_SENT, 1);
    }
}

/// The CPUs that have the address space whose root is `root` loaded (Linux
/// `mm_cpumask`).
pub fn mm_cpumask(root: u64) -> u64 {
    let n = cpu::cpu_count();
    (0..n).filter(|&c| LOADED_ROOT[c].load(Acquire) == root).fold(0, |m, c| m | 1 << c)
}

/// Answer the flush requests posted to this CPU, if any (a CR3 reload); true
/// if there were some.
fn flush_pending(cpu: usize) -> bool {
    if FLUSH_REQ[cpu].load(Acquire) == FLUSH_DONE[cpu].load(Relaxed) {
        return false;
    }
    mmu::load_cr3(mmu::current_cr3());
    ctr::cpu_add(cpu, ctr::CPU_TLB_SHOOTDOWNS_RECEIVED, 1);
    true
}

/// INVALIDATE_TLB_VECTOR's handler.
pub fn flush_tlb_interrupt() {
    super::irq::assert_irqs_disabled();
    let cpu = cpu_id();
    if !flush_pending(cpu) {
        // Already covered (by a CR3 load since): the waiters may still be asleep.
        wake_waiters(cpu);
    }
}

/// Whether CPU `t` no longer holds translations of `root` that `me` asked it
/// to drop.
fn target_done(me: usize, t: usize, root: u64) -> bool {
    FLUSH_DONE[t].load(Acquire) >= FLUSH_GEN[me][t].load(Relaxed)
        || LOADED_ROOT[t].load(Acquire) != root
}

/// Invalidate `[start, end)` of the address space whose root is `root` on
/// every CPU that has it loaded, and wait until they all have (Linux
/// `flush_tlb_mm_range`). Call after the page-table change.
pub fn flush_tlb_mm_range(root: u64, start: u64, end: u64) {
    let me = cpu_id();
    if mmu::current_cr3() == root {
        if end.saturating_sub(start) / 4096 > INVLPG_MAX_PAGES {
            mmu::flush_tlb();
        } else {
            (start..end).step_by(4096).for_each(mmu::invlpg);
        }
    }
    // The page-table writes before the read of who has the root loaded.
    fence(SeqCst);
    let targets = mm_cpumask(root) & !(1u64 << me);
    if targets == 0 {
        return;
    }
    ctr::cpu_add(me, ctr::CPU_TLB_SHOOTDOWNS_SENT, 1);
    for t in bits(targets) {
        let gen = FLUSH_REQ[t].fetch_add(1, AcqRel) + 1;
        FLUSH_GEN[me][t].store(gen, Relaxed);
        apic::send_ipi(t as u32, INVALIDATE_TLB_VECTOR);
        ctr::cpu_add(me, ctr::CPU_IPIS_SENT, 1);
    }
    // Halt with interrupts enabled until every target is done: its
    // acknowledgement wakes us. Registering as a waiter before the last check
    // closes the race with an acknowledgement in between (`sti; hlt` takes an
    // interrupt that arrives after the check).
    let was_on = cpu::interrupts_enabled();
    let mut pending = targets;
    loop {
        cpu::interrupts_disable();
        pending &= !bits(pending).filter(|&t| target_done(me, t, root)).fold(0, |m, t| m | 1 << t);
        if pending == 0 {
            break;
        }
        for t in bits(pending) {
            FLUSH_WAITERS[t].fetch_or(1 << me, AcqRel);
        }
        if bits(pending).all(|t| target_done(me, t, root)) {
            break;
        }
        cpu::wait_for_interrupt();
    }
    if was_on {
        cpu::interrupts_enable();
    }
}

/// The relax strategy of locks that a CPU may spin on, with interrupts off,
/// while the holder waits for that CPU's TLB shootdown (the address-space
/// lock): answer pending requests while spinning.
pub struct TlbRelax;

impl spin::RelaxStrategy for TlbRelax {
    #[inline]
    fn relax() {
        flush_pending(cpu_id());
        core::hint::spin_loop();
    }
}
