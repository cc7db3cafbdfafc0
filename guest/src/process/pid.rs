//! Pid allocation (Linux `kernel/pid.c`): cyclic, so a freed pid is not reused
//! at once; after wrapping past `pid_max`, numbers below RESERVED_PIDS are
//! skipped.

use alloc::collections::BTreeSet;

/// Linux's default `pid_max`.
pub const PID_MAX_DEFAULT: u32 = 32768;
/// Pids below this are not handed out again after the first wrap.
pub const RESERVED_PIDS: u32 = 300;

/// `pid_max` for new PID namespaces (the kernel command line's `pid_max=N`,
/// Linux's boot parameter; at least `RESERVED_PIDS + 1`, as Linux's `pid_max_min`).
static PID_MAX: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(PID_MAX_DEFAULT);

pub fn pid_max() -> u32 {
    PID_MAX.load(core::sync::atomic::Ordering::Relaxed)
}

pub fn set_pid_max(max: u32) {
    PID_MAX.store(
        max.clamp(RESERVED_PIDS + 1, 4 * 1024 * 1024),
        core::sync::atomic::Ordering::Relaxed,
    );
}

pub struct PidAllocator {
    last: u32,
    max: u32,
    used: BTreeSet<u32>,
}

impl PidAllocator {
    pub const fn new(max: u32) -> Self {
        Self { last: 0, max, used: BTreeSet::new() }
    }

    /// The next free pid after the last one given out, or None when all are used.
    pub fn alloc(&mut self) -> Option<u32> {
        let mut candidate = self.last + 1;
        for _ in 0..self.max {
            if candidate >= self.max {
                candidate = RESERVED_PIDS.min(self.max - 1);
            }
            if candidate > 0 && !self.used.contains(&candidate) {
                self.used.insert(candidate);
                self.last = candidate;
                return Some(candidate);
            }
            candidate += 1;
        }
        None
    }

    /// Take `pid` itself (clone3's `set_tid`; Linux `idr_alloc` of one
    /// number): false when it is in use. The cursor of the cyclic
    /// allocation does not move.
    pub fn alloc_exact(&mut self, pid: u32) -> bool {
        pid > 0 && pid < self.max && self.used.insert(pid)
    }

    /// Linux `pid_max` of this allocator's namespace.
    pub fn max(&self) -> u32 {
        self.max
    }

    pub fn free(&mut self, pid: u32) {
        self.used.remove(&pid);
    }

    /// Start again from the bottom (Linux `idr_set_cursor(idr, 0)`): a new
    /// namespace whose first allocation failed still gives its init pid 1.
    pub fn reset_cursor(&mut self) {
        self.last = 0;
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclic_without_immediate_reuse_and_wrap_above_reserved() {
        let mut p = PidAllocator::new(310);
        assert_eq!(p.alloc(), Some(1));
        assert_eq!(p.alloc(), Some(2));
        p.free(2);
        assert_eq!(p.alloc(), Some(3), "2 is not reused at once");
        while p.alloc().is_some_and(|x| x < 309) {}
        assert_eq!(p.in_use(), 308, "1 and 3..=309");
        // Free one pid below RESERVED_PIDS and one above: after the wrap only
        // the one above is handed out again.
        p.free(250);
        p.free(305);
        assert_eq!(p.alloc(), Some(305));
        assert_eq!(p.alloc(), None, "2 and 250 are below RESERVED_PIDS");
    }

    #[test]
    fn exact_numbers_leave_the_cursor_alone() {
        let mut p = PidAllocator::new(400);
        assert!(p.alloc_exact(7));
        assert!(!p.alloc_exact(7), "in use");
        assert!(!p.alloc_exact(0) && !p.alloc_exact(400), "out of range");
        assert_eq!(p.alloc(), Some(1), "the cyclic allocation starts where it was");
        assert!(p.alloc_exact(2));
        assert_eq!(p.alloc(), Some(3));
        p.free(7);
        assert!(p.alloc_exact(7));
        assert_eq!(p.max(), 400);
    }

    #[test]
    fn cursor_reset_starts_from_one_and_freed_numbers_wait_their_turn() {
        let mut p = PidAllocator::new(PID_MAX_DEFAULT);
        assert_eq!(p.alloc(), Some(1));
        p.free(1);
        p.reset_cursor();
        assert_eq!(p.alloc(), Some(1), "after a reset the bottom is free again");
        let v: alloc::vec::Vec<u32> = (0..5).map(|_| p.alloc().unwrap()).collect();
        assert_eq!(v, [2, 3, 4, 5, 6]);
        for x in [3, 5] {
            p.free(x);
        }
        assert_eq!(p.alloc(), Some(7), "freed numbers are not handed out before the wrap");
        assert_eq!(p.in_use(), 5);
    }
}
