//! Tracepoints (Linux `include/trace/events/sched.h`): each CPU appends fixed-
//! size records to its own ring in guest memory (`protocol::trace`), which the
//! VMM drains while the guest runs; no VM exit per event.
//!
//! A tracepoint is one line, [`trace_event!`]`(Event, args...)`: when tracing
//! is off (the VMM reserved no rings) it costs a load of [`ON`] and a branch;
//! its arguments are evaluated only when it is on. The record is written with
//! interrupts off, so a tracepoint in an interrupt handler and one in the task
//! it interrupted never write the same slot: each ring has one producer.
//! A full ring drops the record (the VMM reports how many were dropped).

use core::sync::atomic::{AtomicBool, Ordering};

pub use protocol::trace::Event;

/// Whether the rings are there. Read first by every tracepoint.
static ON: AtomicBool = AtomicBool::new(false);

/// Whether tracepoints record (the one test every tracepoint makes).
#[inline(always)]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Record one event (every tracepoint comes here only when [`enabled`]).
/// Kept out of line: the disabled path is the load and the branch alone.
#[cfg(target_os = "none")]
#[cold]
#[inline(never)]
pub fn emit(event: Event, args: &[u64]) {
    let _irq = crate::arch::irq::disable_local();
    let cpu = crate::arch::cpu_id();
    let Some(ring) = RINGS.get().and_then(|r| r.get(cpu).copied().flatten()) else { return };
    protocol::trace::produce(ring, crate::arch::rdtsc(), event as u32, cpu as u32, args);
}

/// The host has no rings: nothing is ever recorded ([`ON`] stays false).
#[cfg(not(target_os = "none"))]
pub fn emit(_event: Event, _args: &[u64]) {}

#[cfg(target_os = "none")]
type Rings = [Option<&'static [core::sync::atomic::AtomicU64]>; protocol::MAX_CPUS];
#[cfg(target_os = "none")]
static RINGS: spin::Once<Rings> = spin::Once::new();

/// Find each CPU's ring in the boot info and turn the tracepoints on if the
/// VMM reserved them (boot, before the other CPUs start).
#[cfg(target_os = "none")]
pub fn init(info: &protocol::boot::BootInfo) {
    // Off (no `--trace`: no rings): nothing to keep. The table of rings is
    // 1 KiB, and copying it is a `rep movs` of 128 words, each about as slow
    // as an instruction where ring 0 is emulated.
    if info.trace_gpa == 0 {
        return;
    }
    let mut rings: Rings = [None; protocol::MAX_CPUS];
    for (cpu, r) in rings.iter_mut().enumerate().take(info.cpu_count as usize) {
        *r = crate::arch::boot::trace_ring(info, cpu);
    }
    let on = rings.iter().take(info.cpu_count as usize).all(Option::is_some) && info.cpu_count > 0;
    RINGS.call_once(|| rings);
    ON.store(on, Ordering::Release);
}

/// Word `i` (0 or 1) of a task's `comm`, for the events that carry it.
pub fn comm_word(comm: &spin::Mutex<[u8; 16]>, i: usize) -> u64 {
    protocol::trace::comm_words(&comm.lock())[i]
}

/// Record `Event` with the argument words given (each converted `as u64`)
/// when tracing is on; `trace_event!(Event if COND; args...)` records only
/// when `COND` also holds (tested after the enable word).
#[macro_export]
macro_rules! trace_event {
    ($event:ident if $cond:expr; $($arg:expr),* $(,)?) => {
        if $crate::trace::enabled() && $cond {
            $crate::trace::emit($crate::trace::Event::$event, &[$(($arg) as u64),*]);
        }
    };
    ($event:ident $(, $arg:expr)* $(,)?) => {
        if $crate::trace::enabled() {
            $crate::trace::emit($crate::trace::Event::$event, &[$(($arg) as u64),*]);
        }
    };
}
