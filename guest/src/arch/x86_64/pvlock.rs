//! Paravirtual spin locks: spin briefly, then ask the VMM to block this vCPU
//! until the holder kicks it (Linux's pv qspinlock, `kernel/locking/
//! qspinlock_paravirt.h`, with `kvm_wait`/`kvm_kick_cpu` of
//! `arch/x86/kernel/kvm.c`).
//!
//! Why: a vCPU is a host thread. Where vCPUs outnumber host cores (four vCPUs
//! on this machine's two), the holder of a lock can be descheduled by the host
//! for a whole host tick (~4 ms), and a waiter that spins burns that host core,
//! on a host that emulates ring 0 at ~1,500 cycles per spin instruction, while
//! the holder cannot run. A waiter that blocks in the VMM gives the core back.
//!
//! The lock word (Drepper's three-state futex mutex, "Futexes Are Tricky",
//! mutex 3): 0 free, 1 held, 2 held and someone may be blocked. A waiter that
//! spun [`spin_threshold`] times marks the word 2 and makes the `PvWait`
//! hypercall with the value 2; the VMM reads the word under its wait queue's
//! lock and blocks the vCPU only while it is still 2, so the unlocker's
//! `PvKick` (made when it swapped a 2 out) always finds a waiter that saw the
//! old value queued. `PvWait` needs no interrupt to end, so it works with
//! interrupts off, where almost all kernel code runs (Linux's `kvm_wait` must
//! choose between `safe_halt` and a `halt` that only its kick hypercall can
//! end; a VMM-side wait has no such window). A wait also ends after
//! `protocol::hypercall::PV_WAIT_MAX_US`, after which the waiter looks again.
//!
//! The counters: `pv_lock_contended` (the lock was taken: the slow path),
//! `pv_waits` (blocked in the VMM), `pv_kicks` (this CPU woke a waiter).

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering::*};

use protocol::hypercall::{Hypercall, PvKick, PvWait};

use super::cpu::cpu_id;
use super::hypercall::{gpa_of, hypercall};
use crate::counters as ctr;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Held, and a waiter may be blocked in the VMM: the unlocker kicks.
const CONTENDED: u32 = 2;

/// Spins (each a load and a `pause`) before a waiter blocks; 0: never block
/// (a plain spin lock, for comparison: `pvspin=0` on the kernel command line).
/// On the emulating host a spin costs ~5 ring-0 instructions (~7,500 cycles)
/// and a `PvWait` + `PvKick` pair two exits (~45,000): a hundred spins cover a
/// short critical section and cost about what ten round trips to the VMM do.
pub const SPIN_THRESHOLD: u32 = 128;

static THRESHOLD: AtomicU32 = AtomicU32::new(SPIN_THRESHOLD);

/// Set the spin threshold (`pvspin=N`; 0: spin without ever blocking).
pub fn set_spin_threshold(n: u32) {
    THRESHOLD.store(n, Relaxed);
}

pub fn spin_threshold() -> u32 {
    THRESHOLD.load(Relaxed)
}

/// A mutual-exclusion spin lock whose waiters block in the VMM after a short
/// spin (see the module). The same interface as `spin::Mutex`.
pub struct PvMutex<T: ?Sized> {
    state: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one holder at a time (the
// state word's 0 -> 1/2 transition is the acquisition), so sharing the mutex
// between CPUs is sound when the data may be sent between them.
unsafe impl<T: ?Sized + Send> Sync for PvMutex<T> {}
// SAFETY: as for `spin::Mutex`: moving the mutex moves the data.
unsafe impl<T: ?Sized + Send> Send for PvMutex<T> {}

/// A held [`PvMutex`]; dropping it unlocks (and kicks a waiter if one may
/// be blocked).
pub struct PvMutexGuard<'a, T: ?Sized> {
    lock: &'a PvMutex<T>,
}

impl<T> PvMutex<T> {
    pub const fn new(value: T) -> Self {
        Self { state: AtomicU32::new(UNLOCKED), data: UnsafeCell::new(value) }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> PvMutex<T> {
    #[inline]
    pub fn try_lock(&self) -> Option<PvMutexGuard<'_, T>> {
        // Not `then_some(guard)`: that would build the guard first and drop
        // it (unlocking someone else's lock) when the exchange failed.
        match self.state.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed) {
            Ok(_) => Some(PvMutexGuard { lock: self }),
            Err(_) => None,
        }
    }

    #[inline]
    pub fn lock(&self) -> PvMutexGuard<'_, T> {
        if self.state.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed).is_err() {
            self.lock_slow();
        }
        PvMutexGuard { lock: self }
    }

    #[inline]
    pub fn is_locked(&self) -> bool {
        self.state.load(Relaxed) != UNLOCKED
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The lock was taken: spin, then block in the VMM until kicked (Linux
    /// `pv_wait_head_or_lock`).
    #[cold]
    fn lock_slow(&self) {
        let cpu = cpu_id();
        ctr::cpu_add(cpu, ctr::CPU_PV_LOCK_CONTENDED, 1);
        let threshold = spin_threshold();
        loop {
            for _ in 0..threshold.max(1) {
                if self.state.load(Relaxed) == UNLOCKED
                    && self.state.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed).is_ok()
                {
                    return;
                }
                core::hint::spin_loop();
            }
            if threshold == 0 {
                continue;
            }
            // Mark the word contended; if it was free, it is ours (marked 2:
            // the unlock makes one spare kick, as in Drepper's mutex).
            if self.state.swap(CONTENDED, Acquire) == UNLOCKED {
                return;
            }
            ctr::cpu_add(cpu, ctr::CPU_PV_WAITS, 1);
            pv_wait(&self.state, CONTENDED);
            if self.state.swap(CONTENDED, Acquire) == UNLOCKED {
                return;
            }
        }
    }

    #[inline]
    fn unlock(&self) {
        if self.state.swap(UNLOCKED, Release) == CONTENDED {
            ctr::cpu_add(cpu_id(), ctr::CPU_PV_KICKS, 1);
            pv_kick(&self.state);
        }
    }
}

impl<T: ?Sized + Default> Default for PvMutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized + core::fmt::Debug> core::fmt::Debug for PvMutex<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.try_lock() {
            Some(g) => f.debug_struct("PvMutex").field("data", &&*g).finish(),
            None => f.write_str("PvMutex { <locked> }"),
        }
    }
}

impl<T: ?Sized> Deref for PvMutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this CPU holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for PvMutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes the access unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for PvMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

/// Block in the VMM while `*word == val` (until a kick or the VMM's timeout).
fn pv_wait(word: &AtomicU32, val: u32) {
    let params = WaitParams(PvWait { lock: gpa_of(word), val, _pad: 0 });
    hypercall(Hypercall::PvWait, &params.0);
}

/// Wake one vCPU blocked on `word`.
fn pv_kick(word: &AtomicU32) {
    let params = KickParams(PvKick { lock: gpa_of(word) });
    hypercall(Hypercall::PvKick, &params.0);
}

/// Hypercall parameters need 8-byte alignment (`PARAM_ALIGN`).
#[repr(C, align(8))]
struct WaitParams(PvWait);
#[repr(C, align(8))]
struct KickParams(PvKick);
