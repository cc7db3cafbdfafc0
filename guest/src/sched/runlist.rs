//! The ordered list of runnable tasks a run queue keeps per class (Linux: the
//! CFS red-black tree keyed by vruntime, the RT class's per-priority lists).
//!
//! A run queue holds a handful of tasks, so a sorted `VecDeque` of (key, task)
//! beats a tree on these hosts, where every ring-0 instruction costs ~1,500
//! cycles: picking the first entry is O(1), insertion is a binary search plus a
//! shift of the shorter side, and nothing is allocated once the deque has grown
//! to the queue's usual length. Keys compare as Linux compares vruntimes: by the
//! sign of their wrapping difference, so the order survives a wrap of the u64.

use alloc::collections::VecDeque;

/// `a` sorts before `b` (Linux `entity_before`: `(s64)(a - b) < 0`).
#[inline]
pub fn key_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// Entries sorted by key; entries with equal keys keep their insertion order
/// unless inserted at the head of their key.
pub struct RunList<T> {
    items: VecDeque<(u64, T)>,
}

impl<T> RunList<T> {
    pub const fn new() -> Self {
        Self { items: VecDeque::new() }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Insert after every entry whose key is not after `key` (FIFO among equals).
    pub fn insert_tail(&mut self, key: u64, item: T) {
        let at = self.items.partition_point(|(k, _)| !key_before(key, *k));
        self.items.insert(at, (key, item));
    }

    /// Insert before every entry whose key is not before `key` (an RT task that
    /// was preempted goes back to the head of its priority, as in Linux).
    pub fn insert_head(&mut self, key: u64, item: T) {
        let at = self.items.partition_point(|(k, _)| key_before(*k, key));
        self.items.insert(at, (key, item));
    }

    /// The first entry's key (Linux `__pick_first_entity`).
    pub fn first_key(&self) -> Option<u64> {
        self.items.front().map(|(k, _)| *k)
    }

    pub fn first(&self) -> Option<&T> {
        self.items.front().map(|(_, t)| t)
    }

    /// The last entry's key (Linux `__pick_last_entity`).
    pub fn last_key(&self) -> Option<u64> {
        self.items.back().map(|(k, _)| *k)
    }

    pub fn pop_first(&mut self) -> Option<(u64, T)> {
        self.items.pop_front()
    }

    /// Remove and return the entry at `index` (0 = first).
    pub fn remove_at(&mut self, index: usize) -> Option<(u64, T)> {
        self.items.remove(index)
    }

    /// Index of the first entry for which `f` holds, searching from the back
    /// when `from_back` (the load balancer takes the tasks that would run last).
    pub fn position(&self, from_back: bool, mut f: impl FnMut(u64, &T) -> bool) -> Option<usize> {
        if from_back {
            self.items.iter().rposition(|(k, t)| f(*k, t))
        } else {
            self.items.iter().position(|(k, t)| f(*k, t))
        }
    }

    /// Remove the first entry for which `f` holds.
    pub fn remove_where(&mut self, f: impl FnMut(u64, &T) -> bool) -> Option<(u64, T)> {
        let i = self.position(false, f)?;
        self.items.remove(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.items.iter().map(|(k, t)| (*k, t))
    }

    /// Number of entries whose key is exactly `key` (RR: are there others at
    /// this priority?).
    pub fn count_key(&self, key: u64) -> usize {
        self.items.iter().filter(|(k, _)| *k == key).count()
    }
}

impl<T> Default for RunList<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn order(l: &RunList<u32>) -> Vec<u32> {
        l.iter().map(|(_, t)| *t).collect()
    }

    #[test]
    fn sorted_by_key_fifo_among_equals() {
        let mut l = RunList::new();
        l.insert_tail(30, 1);
        l.insert_tail(10, 2);
        l.insert_tail(20, 3);
        l.insert_tail(10, 4);
        assert_eq!(order(&l), [2, 4, 3, 1]);
        l.insert_head(10, 5);
        assert_eq!(order(&l), [5, 2, 4, 3, 1]);
        assert_eq!(l.first_key(), Some(10));
        assert_eq!(l.last_key(), Some(30));
        assert_eq!(l.count_key(10), 3);
        assert_eq!(l.pop_first(), Some((10, 5)));
        assert_eq!(l.remove_where(|_, &t| t == 3), Some((20, 3)));
        assert_eq!(order(&l), [2, 4, 1]);
        assert_eq!(l.position(true, |k, _| k == 10), Some(1));
        assert_eq!(l.remove_at(0), Some((10, 2)));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn keys_compare_across_a_wrap() {
        assert!(key_before(u64::MAX - 5, 3));
        assert!(!key_before(3, u64::MAX - 5));
        assert!(!key_before(7, 7));
        let mut l = RunList::new();
        l.insert_tail(2, 1);
        l.insert_tail(u64::MAX - 1, 2);
        l.insert_tail(u64::MAX, 3);
        assert_eq!(order(&l), [2, 3, 1]);
    }
}
