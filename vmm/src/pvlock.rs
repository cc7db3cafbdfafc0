//! The VMM's half of the guest's paravirtual spin locks: `PvWait` blocks the
//! calling vCPU's thread while a lock word in guest memory holds the value the
//! guest saw, `PvKick` wakes one vCPU waiting on that word (Linux's pv
//! qspinlock `kvm_wait` / `kvm_kick_cpu`, keyed by the lock's address as a
//! futex is).
//!
//! A vCPU that would spin for a lock whose holder its host has descheduled
//! (four vCPUs time-sharing two host cores) gives the host core back instead.
//! The word is read under the wait queue's mutex, which `kick` also takes: a
//! guest that changed the word and then kicked either made the waiter see the
//! new value or finds it queued (the futex argument). A wait ends after
//! `PV_WAIT_MAX_US` at the latest, so a lost kick (none is expected) costs
//! that much and never a hang, and a stopping VM never waits on a vCPU parked
//! here for longer.

use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use protocol::hypercall::PV_WAIT_MAX_US;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Each vCPU's wait: the lock word it waits on and whether it was kicked.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    waiting_on: Option<u64>,
    kicked: bool,
}

/// The wait queue of one VM.
#[derive(Debug)]
pub struct PvLocks {
    slots: Mutex<Vec<Slot>>,
    wake: Vec<Condvar>,
}

/// How a `PvWait` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitEnd {
    /// The word no longer held the value: the lock changed hands already.
    Changed,
    /// Another vCPU kicked this one.
    Kicked,
    TimedOut,
}

impl PvLocks {
    pub fn new(cpus: u32) -> Self {
        Self {
            slots: Mutex::new(vec![Slot::default(); cpus as usize]),
            wake: (0..cpus).map(|_| Condvar::new()).collect(),
        }
    }

    /// Block vCPU `cpu` while the word at `gpa` equals `val` (the caller has
    /// checked that `gpa` is aligned guest memory), until kicked or for
    /// `PV_WAIT_MAX_US`.
    pub fn wait(&self, cpu: u32, mem: &GuestMemoryMmap, gpa: u64, val: u32) -> WaitEnd {
        let Some(cv) = self.wake.get(cpu as usize) else { return WaitEnd::Changed };
        let mut slots = self.slots.lock().unwrap();
        match mem.load::<u32>(GuestAddress(gpa), Ordering::SeqCst) {
            Ok(v) if v == val => {}
            _ => return WaitEnd::Changed,
        }
        slots[cpu as usize] = Slot { waiting_on: Some(gpa), kicked: false };
        let deadline = Instant::now() + Duration::from_micros(PV_WAIT_MAX_US);
        loop {
            if slots[cpu as usize].kicked {
                slots[cpu as usize] = Slot::default();
                return WaitEnd::Kicked;
            }
            let now = Instant::now();
            if now >= deadline {
                slots[cpu as usize] = Slot::default();
                return WaitEnd::TimedOut;
            }
            slots = cv.wait_timeout(slots, deadline - now).unwrap().0;
        }
    }

    /// Wake one vCPU waiting on the word at `gpa` (the lowest-numbered one
    /// after `from`, so that no waiter starves behind lower numbers). Returns
    /// how many were woken: 0 or 1.
    pub fn kick(&self, from: u32, gpa: u64) -> u32 {
        let mut slots = self.slots.lock().unwrap();
        let n = slots.len();
        let target = (1..=n)
            .map(|i| (from as usize + i) % n)
            .find(|&c| slots[c].waiting_on == Some(gpa) && !slots[c].kicked);
        let Some(c) = target else { return 0 };
        slots[c].kicked = true;
        drop(slots);
        self.wake[c].notify_one();
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 16)]).unwrap()
    }

    #[test]
    fn a_changed_word_does_not_block() {
        let (m, l) = (mem(), PvLocks::new(2));
        m.store(1u32, GuestAddress(0x100), Ordering::SeqCst).unwrap();
        // Changed is answered before any wait (a timed-out wait says
        // TimedOut), and the vCPU is not left queued: nobody to kick.
        assert_eq!(l.wait(0, &m, 0x100, 2), WaitEnd::Changed);
        assert_eq!(l.kick(1, 0x100), 0, "no waiter was queued");
        assert_eq!(l.wait(7, &m, 0x100, 1), WaitEnd::Changed, "no such vCPU");
    }

    #[test]
    fn an_unkicked_wait_times_out() {
        let (m, l) = (mem(), PvLocks::new(2));
        m.store(2u32, GuestAddress(0x100), Ordering::SeqCst).unwrap();
        assert_eq!(l.wait(1, &m, 0x100, 2), WaitEnd::TimedOut);
        assert_eq!(l.kick(0, 0x100), 0, "the timed-out waiter left the queue");
    }

    #[test]
    fn a_kick_wakes_one_waiter_on_that_word() {
        let (m, l) = (Arc::new(mem()), Arc::new(PvLocks::new(3)));
        m.store(2u32, GuestAddress(0x100), Ordering::SeqCst).unwrap();
        // Waiters re-wait until kicked (each wait may time out first).
        let waiters: Vec<_> = (1..3)
            .map(|cpu| {
                let (m, l) = (m.clone(), l.clone());
                std::thread::spawn(move || loop {
                    if l.wait(cpu, &m, 0x100, 2) == WaitEnd::Kicked {
                        return;
                    }
                })
            })
            .collect();
        let mut woken = 0;
        while woken < 2 {
            assert_eq!(l.kick(0, 0x200), 0, "nobody waits on another word");
            woken += l.kick(0, 0x100);
            std::thread::yield_now();
        }
        for w in waiters {
            w.join().unwrap();
        }
    }
}
