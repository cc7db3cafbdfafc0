//! Pid allocation (Linux `kernel/pid.c`): cyclic, so a freed pid is not reused
//! at once; after wrapping past `pid_max`, numbers below RESERVED_PIDS are
//! skipped.

use alloc::boxed::Box;
use alloc::vec::Vec;

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

/// Numbers to values, allocated cyclically (Linux's `idr` of a PID namespace,
/// `idr_alloc_cyclic`): an array of 64-entry leaves, each with a bitmap of its
/// numbers in use, so that finding, adding and removing a number are an index
/// and a bit, and the next free number a word scan, where the ordered map
/// this replaces searched, and shifted its nodes, on each. Leaves are made on
/// first use and freed when empty; the array of them grows to the highest
/// number used so far and keeps that length (at most `pid_max` / 64
/// pointers: 4 KiB for the default).
pub struct PidMap<V> {
    last: u32,
    max: u32,
    len: usize,
    leaves: Vec<Option<Box<Leaf<V>>>>,
}

const LEAF_BITS: u32 = 6;
const LEAF_LEN: usize = 1 << LEAF_BITS;

struct Leaf<V> {
    used: u64,
    slots: [Option<V>; LEAF_LEN],
}

fn split(nr: u32) -> (usize, usize) {
    ((nr >> LEAF_BITS) as usize, (nr as usize) & (LEAF_LEN - 1))
}

impl<V> PidMap<V> {
    /// A map whose cyclic allocation hands out numbers below `max` (any
    /// number can be inserted).
    pub const fn new(max: u32) -> Self {
        Self { last: 0, max, len: 0, leaves: Vec::new() }
    }

    fn leaf(&self, i: usize) -> Option<&Leaf<V>> {
        self.leaves.get(i).and_then(|l| l.as_deref())
    }

    pub fn get(&self, nr: u32) -> Option<&V> {
        let (i, j) = split(nr);
        self.leaf(i).and_then(|l| l.slots[j].as_ref())
    }

    pub fn get_mut(&mut self, nr: u32) -> Option<&mut V> {
        let (i, j) = split(nr);
        self.leaves.get_mut(i).and_then(|l| l.as_deref_mut()).and_then(|l| l.slots[j].as_mut())
    }

    pub fn contains(&self, nr: u32) -> bool {
        self.get(nr).is_some()
    }

    /// Put `value` at `nr`: the value it replaces, if any.
    pub fn insert(&mut self, nr: u32, value: V) -> Option<V> {
        let (i, j) = split(nr);
        if self.leaves.len() <= i {
            self.leaves.resize_with(i + 1, || None);
        }
        let leaf = self.leaves[i].get_or_insert_with(|| {
            Box::new(Leaf { used: 0, slots: core::array::from_fn(|_| None) })
        });
        let old = leaf.slots[j].replace(value);
        if old.is_none() {
            leaf.used |= 1 << j;
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, nr: u32) -> Option<V> {
        let (i, j) = split(nr);
        let slot = self.leaves.get_mut(i)?;
        let leaf = slot.as_deref_mut()?;
        let old = leaf.slots[j].take()?;
        leaf.used &= !(1 << j);
        self.len -= 1;
        if leaf.used == 0 {
            *slot = None;
        }
        Some(old)
    }

    /// Numbers in use.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values, by number.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.leaves.iter().flatten().flat_map(|l| l.slots.iter().flatten())
    }

    /// The lowest free number in `[lo, hi)`.
    fn first_free(&self, lo: u32, hi: u32) -> Option<u32> {
        let mut nr = lo;
        while nr < hi {
            let (i, j) = split(nr);
            let Some(leaf) = self.leaf(i) else { return Some(nr) };
            let free = !leaf.used & (u64::MAX << j);
            if free != 0 {
                let found = ((i as u32) << LEAF_BITS) + free.trailing_zeros();
                return (found < hi).then_some(found);
            }
            nr = ((i as u32) + 1) << LEAF_BITS;
        }
        None
    }

    /// The next free number after the last one given out, holding `value`;
    /// None when all are used. After `max` it wraps to `RESERVED_PIDS`.
    pub fn alloc(&mut self, value: V) -> Option<u32> {
        let from = self.last.saturating_add(1).clamp(1, self.max);
        let wrap = RESERVED_PIDS.min(self.max.saturating_sub(1)).max(1);
        let nr = self.first_free(from, self.max).or_else(|| self.first_free(wrap, from))?;
        self.insert(nr, value);
        self.last = nr;
        Some(nr)
    }

    /// Take `nr` itself (clone3's `set_tid`; Linux `idr_alloc` of one
    /// number), holding `value`: false when it is in use or out of range.
    /// The cursor of the cyclic allocation does not move.
    pub fn alloc_exact(&mut self, nr: u32, value: V) -> bool {
        if nr == 0 || nr >= self.max || self.contains(nr) {
            return false;
        }
        self.insert(nr, value);
        true
    }

    /// Linux `pid_max` of this map's namespace.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Start again from the bottom (Linux `idr_set_cursor(idr, 0)`): a new
    /// namespace whose first allocation failed still gives its init pid 1.
    pub fn reset_cursor(&mut self) {
        self.last = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclic_without_immediate_reuse_and_wrap_above_reserved() {
        let mut p = PidMap::new(310);
        assert_eq!(p.alloc(()), Some(1));
        assert_eq!(p.alloc(()), Some(2));
        p.remove(2);
        assert_eq!(p.alloc(()), Some(3), "2 is not reused at once");
        while p.alloc(()).is_some_and(|x| x < 309) {}
        assert_eq!(p.len(), 308, "1 and 3..=309");
        // Free one pid below RESERVED_PIDS and one above: after the wrap only
        // the one above is handed out again.
        p.remove(250);
        p.remove(305);
        assert_eq!(p.alloc(()), Some(305));
        assert_eq!(p.alloc(()), None, "2 and 250 are below RESERVED_PIDS");
    }

    /// Numbers across leaves: a leaf goes when its last number does, a
    /// missing leaf's numbers are free, and the scan crosses leaves both
    /// ways round.
    #[test]
    fn leaves_are_made_on_first_use_and_freed_when_empty() {
        let mut p = PidMap::new(400);
        for nr in 1..200 {
            assert_eq!(p.alloc(nr * 10), Some(nr));
        }
        assert_eq!(p.leaves.iter().flatten().count(), 4, "0..64, 64..128, 128..192, 192..256");
        for nr in 64..128 {
            assert_eq!(p.remove(nr), Some(nr * 10));
        }
        assert!(p.leaves[1].is_none(), "the empty leaf is freed");
        assert_eq!((p.get(63), p.get(64), p.get(128)), (Some(&630), None, Some(&1280)));
        assert_eq!(p.remove(64), None);
        // On to 399, then round to RESERVED_PIDS: 300..400 are taken by now,
        // and the scan ends in the hole below.
        while p.alloc(0).is_some_and(|x| x < 399) {}
        assert_eq!(p.len(), 199 - 64 + 200);
        assert_eq!(p.alloc(0), None, "64..128 are below RESERVED_PIDS");
        p.remove(350);
        assert_eq!(p.alloc(7), Some(350));
        // Inserting past `max` (the task table's use) grows the leaves.
        assert_eq!(p.insert(5000, 1), None);
        assert_eq!(p.insert(5000, 2), Some(1));
        assert_eq!(p.get(5000), Some(&2));
        assert_eq!(p.values().last(), Some(&2), "by number");
        assert!(!p.is_empty());
    }

    #[test]
    fn exact_numbers_leave_the_cursor_alone() {
        let mut p = PidMap::new(400);
        assert!(p.alloc_exact(7, 'a'));
        assert!(!p.alloc_exact(7, 'b'), "in use");
        assert_eq!(p.get(7), Some(&'a'));
        assert!(!p.alloc_exact(0, 'c') && !p.alloc_exact(400, 'c'), "out of range");
        assert_eq!(p.alloc('d'), Some(1), "the cyclic allocation starts where it was");
        assert!(p.alloc_exact(2, 'e'));
        assert_eq!(p.alloc('f'), Some(3));
        assert_eq!(p.remove(7), Some('a'));
        assert!(p.alloc_exact(7, 'g'));
        assert_eq!(p.max(), 400);
        assert_eq!(p.values().copied().collect::<Vec<_>>(), ['d', 'e', 'f', 'g']);
    }

    #[test]
    fn cursor_reset_starts_from_one_and_freed_numbers_wait_their_turn() {
        let mut p = PidMap::new(PID_MAX_DEFAULT);
        assert_eq!(p.alloc(()), Some(1));
        p.remove(1);
        p.reset_cursor();
        assert_eq!(p.alloc(()), Some(1), "after a reset the bottom is free again");
        let v: alloc::vec::Vec<u32> = (0..5).map(|_| p.alloc(()).unwrap()).collect();
        assert_eq!(v, [2, 3, 4, 5, 6]);
        for x in [3, 5] {
            p.remove(x);
        }
        assert_eq!(p.alloc(()), Some(7), "freed numbers are not handed out before the wrap");
        assert_eq!(p.len(), 5);
    }
}
