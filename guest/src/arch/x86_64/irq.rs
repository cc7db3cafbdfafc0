//! Local interrupts and the locks that must keep them off (Asterinas:
//! `ostd::trap::irq::disable_local` and `SpinLock<T, LocalIrqDisabled>`;
//! Linux: `local_irq_save`, `spin_lock_irqsave`).
//!
//! The rule: a lock that an interrupt handler takes (a run queue: the tick
//! and wake-up IPIs; the heap and the kernel-stack cache: a task freed in an
//! interrupt) is held with this CPU's interrupts off, or the handler could
//! spin forever on a lock its own CPU holds. [`IrqSpinLock`] makes the rule a
//! type: its guard turns interrupts off before it locks and restores them
//! after it unlocks. `docs/locking.md` has the lock order.

use core::marker::PhantomData;

use super::cpu::{interrupts_disable, interrupts_enable, interrupts_enabled};
use super::pvlock::{PvMutex, PvMutexGuard};

/// Interrupts off on this CPU while it lives; dropped, they are back to what
/// they were (Linux `local_irq_save`/`local_irq_restore`). Not `Send`: it
/// belongs to the CPU that made it.
#[must_use]
pub struct IrqGuard {
    was_enabled: bool,
    _cpu_local: PhantomData<*const ()>,
}

/// Turn this CPU's interrupts off until the guard is dropped.
#[inline]
pub fn disable_local() -> IrqGuard {
    let was_enabled = interrupts_enabled();
    interrupts_disable();
    IrqGuard { was_enabled, _cpu_local: PhantomData }
}

impl Drop for IrqGuard {
    #[inline]
    fn drop(&mut self) {
        if self.was_enabled {
            interrupts_enable();
        }
    }
}

/// For functions that require this CPU's interrupts off: a debug-build
/// check (the kernel built with `KVMFORK_KERNEL_DEBUG=1`; see the README).
#[inline(always)]
#[track_caller]
pub fn assert_irqs_disabled() {
    debug_assert!(!interrupts_enabled(), "interrupts must be off here");
}

/// A spin lock held with local interrupts off (Asterinas `SpinLock<T,
/// LocalIrqDisabled>`): `lock` disables them first and the guard restores
/// them after unlocking, so an interrupt handler on this CPU never finds it
/// held. Where interrupts are already off and a guard proves it,
/// `lock_irqs_off` takes the lock without saving and restoring them (two
/// locks taken together, a lock taken under an `IrqGuard` that must outlive
/// it). The lock itself is a [`PvMutex`]: a waiter with interrupts off spins
/// briefly, then blocks in the VMM until the holder kicks it.
pub struct IrqSpinLock<T> {
    inner: PvMutex<T>,
}

/// The guard of an [`IrqSpinLock`]: the lock is released (the first field
/// dropped) before interrupts are restored.
pub struct IrqSpinLockGuard<'a, T> {
    inner: PvMutexGuard<'a, T>,
    _irq: IrqGuard,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self { inner: PvMutex::new(value) }
    }

    /// Interrupts off, then the lock. While another CPU holds it, this one
    /// waits with its interrupts as they were before the call (Linux's
    /// `__raw_spin_lock_irqsave` in `kernel/locking/spinlock.c` with
    /// `CONFIG_GENERIC_LOCKBREAK`): only the attempt to take the lock runs with
    /// them off, so a CPU waiting for a holder that its hypervisor has
    /// descheduled still takes its tick and IPIs (and its hypervisor the
    /// interrupts that make it exit), instead of spinning for as long as the
    /// holder is away with every interrupt blocked. The kernel does not
    /// preempt itself, so a wait with interrupts on never switches tasks.
    /// With interrupts already off (where kernel code runs), the wait is the
    /// paravirtual one: spin, then block in the VMM until kicked.
    #[inline]
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        loop {
            let irq = disable_local();
            if let Some(inner) = self.inner.try_lock() {
                return IrqSpinLockGuard { inner, _irq: irq };
            }
            if !irq.was_enabled {
                return IrqSpinLockGuard { inner: self.inner.lock(), _irq: irq };
            }
            drop(irq);
            while self.inner.is_locked() {
                core::hint::spin_loop();
            }
        }
    }

    /// The lock, with interrupts already off for as long as `irq` lives.
    #[inline]
    pub fn lock_irqs_off<'a>(&'a self, irq: &'a IrqGuard) -> PvMutexGuard<'a, T> {
        let _ = irq;
        assert_irqs_disabled();
        self.inner.lock()
    }
}

impl<T> core::ops::Deref for IrqSpinLockGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> core::ops::DerefMut for IrqSpinLockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}
