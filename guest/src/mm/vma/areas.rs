//! Where a [`VmaSet`](super::VmaSet) keeps its areas: ordered by start, in a
//! sorted vector while there are few, in a B-tree when there are many.
//!
//! A process has a handful of areas (a static program: text, data, heap,
//! stack) and looks them up on every page fault, builds them at every exec and
//! walks them at every teardown. A B-tree costs several hundred ring-0
//! instructions an insert and one or two hundred a lookup even then (node
//! search, rebalancing, allocation); a linear scan over a few contiguous
//! entries and an insert that moves the ones after it cost a fraction of that.
//! But a process may have `vm.max_map_count` (65,530) areas, where the
//! vector's insert would move megabytes: above [`SMALL_MAX`] areas the set
//! moves to a B-tree (Linux's maple tree plays both parts), and back below
//! [`SMALL_AGAIN`], so that a set near the limit does not flip on each change.
//!
//! Each area is keyed by its `start`, which the caller must not change in
//! place (`VmaSet` removes and reinserts an area whose start moves).

use alloc::collections::btree_map;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ops::{Bound, RangeBounds};

use super::Vma;

/// The most areas kept in a sorted vector (an insert moves at most this many,
/// under 2 KiB of `Vma`s).
pub const SMALL_MAX: usize = 32;
/// A B-tree that shrinks to this many areas goes back to a vector.
pub const SMALL_AGAIN: usize = SMALL_MAX / 2;
/// The vector's first allocation: a static program's text, data, heap, stack
/// and the entry page, with room to spare.
const INITIAL: usize = 8;

#[derive(Clone, Debug)]
pub enum Areas<T> {
    /// Sorted by `start`; at most [`SMALL_MAX`] entries.
    Small(Vec<Vma<T>>),
    /// Keyed by `start`; more than [`SMALL_AGAIN`] entries.
    Large(BTreeMap<u64, Vma<T>>),
}

impl<T> Areas<T> {
    pub const fn new() -> Self {
        Self::Small(Vec::new())
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Small(v) => v.len(),
            Self::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the areas are in the vector (for the tests).
    #[cfg(test)]
    pub fn is_small(&self) -> bool {
        matches!(self, Self::Small(_))
    }

    /// All areas in address order.
    pub fn values(&self) -> Iter<'_, T> {
        self.range(..)
    }

    /// The area that starts at `start`.
    pub fn get(&self, start: u64) -> Option<&Vma<T>> {
        match self {
            Self::Small(v) => position(v, start).ok().map(|i| &v[i]),
            Self::Large(m) => m.get(&start),
        }
    }

    /// The area that starts at `start`, to change anything but its start.
    pub fn get_mut(&mut self, start: u64) -> Option<&mut Vma<T>> {
        match self {
            Self::Small(v) => position(v, start).ok().map(move |i| &mut v[i]),
            Self::Large(m) => m.get_mut(&start),
        }
    }

    /// The last area that starts at or below `addr` (the only one that can
    /// hold it): one search.
    pub fn last_at_or_below(&self, addr: u64) -> Option<&Vma<T>> {
        match self {
            Self::Small(v) => v.iter().rev().find(|x| x.start <= addr),
            Self::Large(m) => m.range(..=addr).next_back().map(|(_, a)| a),
        }
    }

    /// The last area that starts below `addr`.
    pub fn last_below(&self, addr: u64) -> Option<&Vma<T>> {
        match self {
            Self::Small(v) => v.iter().rev().find(|x| x.start < addr),
            Self::Large(m) => m.range(..addr).next_back().map(|(_, a)| a),
        }
    }

    /// The first area that starts at or above `addr`.
    pub fn first_at_or_above(&self, addr: u64) -> Option<&Vma<T>> {
        match self {
            Self::Small(v) => v.iter().find(|x| x.start >= addr),
            Self::Large(m) => m.range(addr..).next().map(|(_, a)| a),
        }
    }

    /// The areas whose start is in `r`, in address order. Unlike
    /// `BTreeMap::range`, a range that ends before it starts is empty.
    pub fn range(&self, r: impl RangeBounds<u64>) -> Iter<'_, T> {
        match self {
            Self::Small(v) => {
                let (lo, hi) = indices(v, &r);
                Iter::Small(v[lo..hi].iter())
            }
            Self::Large(m) => match bounds_ordered(&r) {
                true => Iter::Large(m.range(r)),
                false => Iter::Small([].iter()),
            },
        }
    }

    /// [`Self::range`], to change anything but the areas' starts.
    pub fn range_mut(&mut self, r: impl RangeBounds<u64>) -> IterMut<'_, T> {
        match self {
            Self::Small(v) => {
                let (lo, hi) = indices(v, &r);
                IterMut::Small(v[lo..hi].iter_mut())
            }
            Self::Large(m) => match bounds_ordered(&r) {
                true => IterMut::Large(m.range_mut(r)),
                false => IterMut::Small([].iter_mut()),
            },
        }
    }

    /// Add `area` under its start; an area already there with that start is
    /// replaced and returned (as `BTreeMap::insert`).
    pub fn insert(&mut self, area: Vma<T>) -> Option<Vma<T>> {
        match self {
            Self::Small(v) => match position(v, area.start) {
                Ok(i) => Some(core::mem::replace(&mut v[i], area)),
                Err(i) => {
                    self.insert_new_at(i, area);
                    None
                }
            },
            Self::Large(m) => m.insert(area.start, area),
        }
    }

    /// Add `area`, whose start no area has, where the caller's scan found it
    /// goes: at index `i` of the vector (the first area that starts above
    /// it, or the end), or in the B-tree.
    pub fn insert_new_at(&mut self, i: usize, area: Vma<T>) {
        match self {
            Self::Small(v) if v.len() == SMALL_MAX => {
                let mut m: BTreeMap<u64, Vma<T>> =
                    core::mem::take(v).into_iter().map(|a| (a.start, a)).collect();
                m.insert(area.start, area);
                *self = Self::Large(m);
            }
            Self::Small(v) => {
                debug_assert!(v.get(i).is_none_or(|a| a.start > area.start));
                debug_assert!(i.checked_sub(1).is_none_or(|p| v[p].start < area.start));
                if v.capacity() == 0 {
                    // Room for a static program's areas at once, not in
                    // doublings from 4.
                    v.reserve_exact(INITIAL);
                }
                v.insert(i, area);
            }
            Self::Large(m) => {
                m.insert(area.start, area);
            }
        }
    }

    /// Take out the area that starts at `start`.
    pub fn remove(&mut self, start: u64) -> Option<Vma<T>> {
        match self {
            Self::Small(v) => position(v, start).ok().map(|i| v.remove(i)),
            Self::Large(m) => {
                let gone = m.remove(&start);
                if m.len() <= SMALL_AGAIN {
                    let v = core::mem::take(m).into_values().collect();
                    *self = Self::Small(v);
                }
                gone
            }
        }
    }
}

/// The number of areas of `v` (sorted) that start below `a`: a linear scan,
/// which over at most [`SMALL_MAX`] areas (usually a handful) takes fewer
/// instructions than a binary search's branches and index arithmetic.
fn below<T>(v: &[Vma<T>], a: u64) -> usize {
    v.iter().position(|x| x.start >= a).unwrap_or(v.len())
}

/// The index of the area of `v` that starts at `start`.
fn position<T>(v: &[Vma<T>], start: u64) -> Result<usize, usize> {
    let i = below(v, start);
    match v.get(i) {
        Some(x) if x.start == start => Ok(i),
        _ => Err(i),
    }
}

/// `[lo, hi)`: the indices of the areas of `v` whose start is in `r`.
fn indices<T>(v: &[Vma<T>], r: &impl RangeBounds<u64>) -> (usize, usize) {
    let at_most = |b: u64| b.checked_add(1).map_or(v.len(), |b| below(v, b));
    let lo = match r.start_bound() {
        Bound::Included(&a) => below(v, a),
        Bound::Excluded(&a) => at_most(a),
        Bound::Unbounded => 0,
    };
    let hi = match r.end_bound() {
        Bound::Included(&b) => at_most(b),
        Bound::Excluded(&b) => below(v, b),
        Bound::Unbounded => v.len(),
    };
    (lo, hi.max(lo))
}

/// Whether `BTreeMap::range` takes `r` (it panics on a range that ends before
/// it starts, or an empty one with both ends excluded).
fn bounds_ordered(r: &impl RangeBounds<u64>) -> bool {
    use Bound::{Excluded, Included};
    match (r.start_bound(), r.end_bound()) {
        (Included(a), Included(b)) | (Included(a), Excluded(b)) | (Excluded(a), Included(b)) => {
            a <= b
        }
        (Excluded(a), Excluded(b)) => a < b,
        _ => true,
    }
}

/// The areas of [`Areas::range`].
pub enum Iter<'a, T> {
    Small(core::slice::Iter<'a, Vma<T>>),
    Large(btree_map::Range<'a, u64, Vma<T>>),
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a Vma<T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Small(i) => i.next(),
            Self::Large(i) => i.next().map(|(_, a)| a),
        }
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Self::Small(i) => i.next_back(),
            Self::Large(i) => i.next_back().map(|(_, a)| a),
        }
    }
}

/// The areas of [`Areas::range_mut`].
pub enum IterMut<'a, T> {
    Small(core::slice::IterMut<'a, Vma<T>>),
    Large(btree_map::RangeMut<'a, u64, Vma<T>>),
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = &'a mut Vma<T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Small(i) => i.next(),
            Self::Large(i) => i.next().map(|(_, a)| a),
        }
    }
}

impl<T> DoubleEndedIterator for IterMut<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Self::Small(i) => i.next_back(),
            Self::Large(i) => i.next_back().map(|(_, a)| a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Prot, VmFlags};
    use super::*;

    fn area(start: u64) -> Vma<u32> {
        Vma::new(start * 0x1000, start * 0x1000 + 0x1000, Prot::READ, VmFlags::empty(), 0, 0)
    }

    fn starts<'a>(i: impl Iterator<Item = &'a Vma<u32>>) -> Vec<u64> {
        i.map(|a| a.start / 0x1000).collect()
    }

    /// Every operation agrees with a B-tree of the same areas, through the
    /// growth to a B-tree and the shrinking back, for every kind of range.
    #[test]
    fn agrees_with_a_btree_both_ways() {
        let mut areas = Areas::new();
        let mut model: BTreeMap<u64, Vma<u32>> = BTreeMap::new();
        let mut seen = (false, false);
        // Odd starts first (downwards), then even ones, then remove them all.
        let order: Vec<u64> =
            (0..40).rev().map(|i| 2 * i + 1).chain((0..40).map(|i| 2 * i)).collect();
        let check = |areas: &Areas<u32>, model: &BTreeMap<u64, Vma<u32>>| {
            assert_eq!(areas.len(), model.len());
            assert_eq!(starts(areas.values()), starts(model.values()));
            assert_eq!(starts(areas.values().rev()), starts(model.values().rev()));
            for k in 0..82 {
                let a = k * 0x1000;
                assert_eq!(areas.get(a), model.get(&a));
                let m = |r: btree_map::Range<'_, u64, Vma<u32>>| starts(r.map(|(_, v)| v));
                assert_eq!(starts(areas.range(..a)), m(model.range(..a)));
                assert_eq!(starts(areas.range(..=a)), m(model.range(..=a)));
                assert_eq!(starts(areas.range(a..)), m(model.range(a..)));
                assert_eq!(starts(areas.range(a..a + 0x5000)), m(model.range(a..a + 0x5000)));
                let (lo, hi) = (Bound::Excluded(a), Bound::Included(a + 0x3000));
                assert_eq!(starts(areas.range((lo, hi))), m(model.range((lo, hi))));
                let key = |v: Option<&Vma<u32>>| v.map(|v| v.start);
                let mkey = |e: Option<(&u64, &Vma<u32>)>| e.map(|(&k, _)| k);
                for b in [a, a + 0x800] {
                    assert_eq!(key(areas.last_at_or_below(b)), mkey(model.range(..=b).next_back()));
                    assert_eq!(key(areas.last_below(b)), mkey(model.range(..b).next_back()));
                    assert_eq!(key(areas.first_at_or_above(b)), mkey(model.range(b..).next()));
                }
            }
            let backwards = (Bound::Included(0x5000), Bound::Excluded(0x3000));
            assert_eq!(areas.range(backwards).count(), 0, "backwards: empty");
        };
        for &k in &order {
            assert!(areas.insert(area(k)).is_none());
            model.insert(k * 0x1000, area(k));
            seen = (seen.0 || areas.is_small(), seen.1 || !areas.is_small());
            assert_eq!(areas.is_small(), areas.len() <= SMALL_MAX);
            check(&areas, &model);
        }
        // Replacing keeps one area per start.
        let mut wider = area(7);
        wider.end += 0x100;
        assert_eq!(areas.insert(wider.clone()).map(|a| a.end), Some(8 * 0x1000));
        model.insert(7 * 0x1000, wider);
        for v in areas.range_mut(0x10_000..0x20_000) {
            v.pgoff = 9;
        }
        model.range_mut(0x10_000..0x20_000).for_each(|(_, v)| v.pgoff = 9);
        areas.get_mut(0x30_000).unwrap().backing = 5;
        model.get_mut(&0x30_000).unwrap().backing = 5;
        check(&areas, &model);
        for &k in order.iter().rev() {
            assert_eq!(areas.remove(k * 0x1000), model.remove(&(k * 0x1000)));
            assert_eq!(areas.remove(k * 0x1000), None);
            // Back to a vector only well below the limit: no flipping.
            assert_eq!(areas.is_small(), areas.len() <= SMALL_AGAIN);
            check(&areas, &model);
        }
        assert!(seen.0 && seen.1 && areas.is_small() && areas.is_empty());
    }
}
