//! Bulk memory work — zeroing and copying pages — done by whichever of the
//! guest and the VMM does it cheaper here.
//!
//! Where KVM emulates the guest's ring 0 an instruction at a time (kvm_pvm), a
//! 4 KiB `rep stosq` costs ~700,000 cycles and a `rep movsq` ~1,190,000, while
//! one exit to the VMM costs ~22,000; on hosts with hardware virtualization it
//! is the other way round. So the kernel measures both ways at boot (a part of
//! a page in the guest, a page through the VMM, with the TSC) and picks, for
//! zeroing and copying separately ([`Mode::choose`]); `bulkmem=vmm|guest` on
//! the command line forces a side (tests). The choice is in the counters
//! (`bulk_mode`) and the boot line.
//!
//! The VMM's side is one hypercall, `BulkMem`, carrying a guest-physical list
//! of (op, dst, src, len); a batch of pages costs one exit. Demand-zero pages
//! come from a pool of pre-zeroed frames ([`ZeroPool`]) refilled a batch at a
//! time (one exit zeroes up to [`REFILL`] frames); copies (the COW break
//! `do_wp_page`, a private file page written, exec's copy of a program's file
//! data) are one call each.
//!
//! **The rule: the VMM never writes a frame that is live as a page table.**
//! KVM shadows the guest's page tables on hosts without two-dimensional
//! paging (kvm_pvm): a write by the VMM behind its back would leave the shadow
//! out of date. The request builders here take a [`DataFrame`], which only
//! this module's allocation paths make, from frames the frame allocator hands
//! out for data (never `alloc_table`'s) or from a user mapping's leaf entry
//! (which maps data, never a page table); page tables are zeroed in the guest
//! before they are linked (`kernel_mm::take_table`: never from the pool,
//! whose frames the VMM zeroed, because a frame that was once a page table may
//! still be shadowed). Kernel stacks are heap memory, which is never a page
//! table (`arch::bulk::zero_kernel_memory`).

use protocol::hypercall::{bulk_op, BulkOp, BULK_OPS_MAX};

use crate::cmdline::BulkChoice;

pub const PAGE_SIZE: u64 = 4096;

/// Frames the pool of pre-zeroed frames holds at most.
pub const POOL_CAPACITY: usize = 64;
/// Frames one refill takes from the frame allocator (one `BulkMem` call
/// zeroes those that are not zero already).
pub const REFILL: usize = 32;
const _: () = assert!(REFILL <= BULK_OPS_MAX as usize && REFILL <= POOL_CAPACITY);

/// The part of a page the boot measurement zeroes and copies in the guest
/// (in 8-byte words): an emulated `rep stosq`/`rep movsq` costs the same per
/// word whatever the count, so a quarter page scaled by 4 is the page's cost
/// without spending a whole page's time at every boot.
pub const MEASURE_QWORDS: u64 = 128;

/// Who does what: the VMM zeroes (`zero_vmm`) and copies (`copy_vmm`), or the
/// guest does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    pub zero_vmm: bool,
    pub copy_vmm: bool,
}

/// The boot measurement: TSC cycles per page each way; `None` for the VMM's
/// when it refused the call (a VMM without `BulkMem`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    pub zero_guest: u64,
    pub zero_vmm: Option<u64>,
    pub copy_guest: u64,
    pub copy_vmm: Option<u64>,
}

impl Mode {
    /// The counter word (`bulk_mode`): bit 0 zeroing by the VMM, bit 1 copying.
    pub const fn bits(self) -> u64 {
        self.zero_vmm as u64 | (self.copy_vmm as u64) << 1
    }

    pub const fn from_bits(bits: u64) -> Self {
        Self { zero_vmm: bits & 1 != 0, copy_vmm: bits & 2 != 0 }
    }

    /// The choice for `choice` given the measurement: each operation where it
    /// is cheaper per page (one page per call: the batches only get
    /// cheaper), never where the VMM refused.
    pub fn choose(choice: BulkChoice, m: &Measured) -> Self {
        let works = m.zero_vmm.is_some() && m.copy_vmm.is_some();
        match choice {
            BulkChoice::Guest => Self::default(),
            BulkChoice::Vmm => Self { zero_vmm: works, copy_vmm: works },
            BulkChoice::Auto => Self {
                zero_vmm: m.zero_vmm.is_some_and(|v| v < m.zero_guest),
                copy_vmm: m.copy_vmm.is_some_and(|v| v < m.copy_guest),
            },
        }
    }

    /// Whether to copy `bytes` (up to a page: exec's partial pages) through
    /// the VMM: always when `choice` forces it, else where that is cheaper at
    /// the measured costs.
    pub fn copy_bytes_by_vmm(self, bytes: u64, m: &Measured, choice: BulkChoice) -> bool {
        self.copy_vmm
            && (choice == BulkChoice::Vmm
                || m.copy_vmm.is_some_and(|v| v * PAGE_SIZE < m.copy_guest * bytes))
    }
}

/// `BulkMem` operations zeroing `frames` (page-aligned physical addresses),
/// one per run of contiguous frames, in `ops`; how many were used. `ops` must
/// have room for one per frame.
pub fn zero_ops(frames: &[u64], ops: &mut [BulkOp]) -> usize {
    let mut n = 0;
    for &f in frames {
        if n > 0 {
            let last: &mut BulkOp = &mut ops[n - 1];
            if last.dst + last.len == f {
                last.len += PAGE_SIZE;
                continue;
            }
        }
        ops[n] = BulkOp { op: bulk_op::ZERO, _pad: 0, dst: f, src: 0, len: PAGE_SIZE };
        n += 1;
    }
    n
}

/// The pool of pre-zeroed frames (a stack: the frame zeroed last, the one
/// most likely still in the host's cache, goes first).
#[derive(Debug)]
pub struct ZeroPool {
    frames: [u64; POOL_CAPACITY],
    len: usize,
}

impl Default for ZeroPool {
    fn default() -> Self {
        Self::new()
    }
}

impl ZeroPool {
    pub const fn new() -> Self {
        Self { frames: [0; POOL_CAPACITY], len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room for a refill of [`REFILL`] frames.
    pub fn wants_refill(&self) -> bool {
        self.len + REFILL <= POOL_CAPACITY
    }

    pub fn pop(&mut self) -> Option<u64> {
        self.len = self.len.checked_sub(1)?;
        Some(self.frames[self.len])
    }

    /// Add a zeroed frame; false (and not added) when full.
    pub fn push(&mut self, frame: u64) -> bool {
        if self.len == POOL_CAPACITY {
            return false;
        }
        self.frames[self.len] = frame;
        self.len += 1;
        true
    }
}

#[cfg(target_os = "none")]
pub use kernel::*;

#[cfg(target_os = "none")]
mod kernel {
    use protocol::hypercall::{bulk_op, BulkOp};

    use super::{zero_ops, Measured, Mode, ZeroPool, MEASURE_QWORDS, PAGE_SIZE, REFILL};
    use crate::arch::hypercall::gpa_of;
    use crate::arch::{bulk, mmu};
    use crate::cmdline::BulkChoice;
    use crate::counters as ctr;

    /// A frame the VMM may write: one the frame allocator handed out for
    /// data, or one a user mapping's leaf entry maps — never a page table
    /// (see the module's rule). Made only inside `mm`.
    #[derive(Debug, PartialEq, Eq)]
    pub struct DataFrame(u64);

    impl DataFrame {
        /// `phys` was allocated for data (not by `alloc_table`) and is not
        /// linked into any page table as a table.
        pub(in crate::mm) fn allocated(phys: u64) -> Self {
            Self(phys)
        }

        /// The frame a user mapping's present leaf entry maps: user memory,
        /// which is never a page table (the kernel never maps its tables
        /// into user space).
        pub(in crate::mm) fn user_leaf(phys: u64) -> Self {
            Self(phys)
        }

        pub fn phys(&self) -> u64 {
            self.0
        }

        /// The frame, for a page-table entry or to give back.
        pub fn into_phys(self) -> u64 {
            self.0
        }
    }

    /// The boot measurement (cycles per page) and the command line's choice,
    /// for partial-page decisions.
    static MEASURED: spin::Once<(Measured, BulkChoice)> = spin::Once::new();
    static POOL: spin::Mutex<ZeroPool> = spin::Mutex::new(ZeroPool::new());

    pub fn mode() -> Mode {
        Mode::from_bits(bulk::mode_bits())
    }

    /// Whether zeroed frames come from the pool (the VMM zeroes them).
    pub fn zero_via_vmm() -> bool {
        mode().zero_vmm
    }

    /// One `BulkMem` call (`arch::bulk`); every destination is a data frame.
    fn call(ops: &[BulkOp]) -> bool {
        bulk::bulk_mem(ops)
    }

    fn zero_in_guest(frame: u64) {
        mmu::zero_frame(frame);
        ctr::global_add(ctr::GUEST_PAGES_ZEROED, 1);
    }

    /// Zero `frames`: one `BulkMem` call when the VMM zeroes, else (or if it
    /// refuses) `rep stosq` each.
    pub fn zero_frames(frames: &[DataFrame]) {
        for chunk in frames.chunks(REFILL) {
            let mut phys = [0u64; REFILL];
            for (p, f) in phys.iter_mut().zip(chunk) {
                *p = f.phys();
            }
            zero_phys(&phys[..chunk.len()]);
        }
    }

    /// [`zero_frames`] for frames this module knows are data frames (at most
    /// [`REFILL`]).
    fn zero_phys(frames: &[u64]) {
        if frames.is_empty() {
            return;
        }
        if zero_via_vmm() {
            let mut ops = [BulkOp::default(); REFILL];
            let n = zero_ops(frames, &mut ops);
            if call(&ops[..n]) {
                ctr::global_add(ctr::BULK_PAGES_ZEROED, frames.len() as u64);
                return;
            }
        }
        for &f in frames {
            zero_in_guest(f);
        }
    }

    /// Copy page `src` (a frame the caller holds a reference to) to `dst`
    /// (Linux `copy_user_highpage`, for `do_wp_page` and private file pages).
    pub fn copy_page(dst: &DataFrame, src: u64) {
        if mode().copy_vmm {
            let op = BulkOp { op: bulk_op::COPY, _pad: 0, dst: dst.phys(), src, len: PAGE_SIZE };
            if call(&[op]) {
                ctr::global_add(ctr::BULK_PAGES_COPIED, 1);
                return;
            }
        }
        mmu::copy_frame(dst.phys(), src);
        ctr::global_add(ctr::GUEST_PAGES_COPIED, 1);
    }

    /// Copy `data` (kernel memory: the heap or the kernel image, physically
    /// contiguous) to `dst` at byte `off` (`off + data.len()` at most a page):
    /// exec's copy of a program's file data into its new image.
    pub fn copy_to_page(dst: &DataFrame, off: usize, data: &[u8]) {
        debug_assert!(off + data.len() <= PAGE_SIZE as usize);
        let m = mode();
        let (measured, choice) = MEASURED.get().copied().unwrap_or_default();
        if !data.is_empty() && m.copy_bytes_by_vmm(data.len() as u64, &measured, choice) {
            let op = BulkOp {
                op: bulk_op::COPY,
                _pad: 0,
                dst: dst.phys() + off as u64,
                src: gpa_of(&data[0]),
                len: data.len() as u64,
            };
            if call(&[op]) {
                ctr::global_add(ctr::BULK_PAGES_COPIED, 1);
                return;
            }
        }
        crate::arch::boot::phys_slice_mut(dst.phys() + off as u64, data.len())
            .copy_from_slice(data);
        ctr::global_add(ctr::GUEST_PAGES_COPIED, 1);
    }

    /// A zeroed frame from the pool, refilling it from `refill` when empty
    /// (which takes up to [`REFILL`] frames from the frame allocator, each
    /// with whether it is zero already); None when the allocator has none.
    pub(in crate::mm) fn pool_take(
        refill: impl FnOnce(&mut [(u64, bool); REFILL]) -> usize,
    ) -> Option<u64> {
        let mut pool = POOL.lock();
        if pool.is_empty() {
            let mut got = [(0u64, false); REFILL];
            let n = refill(&mut got);
            if n == 0 {
                return None;
            }
            // Frames the allocator just handed out for this pool: data
            // frames (`DataFrame::allocated`), none of them a page table.
            let mut dirty = [0u64; REFILL];
            let mut ndirty = 0;
            for &(f, is_zero) in &got[..n] {
                if !is_zero {
                    dirty[ndirty] = f;
                    ndirty += 1;
                }
            }
            zero_phys(&dirty[..ndirty]);
            for &(f, _) in &got[..n] {
                pool.push(f);
            }
            ctr::global_add(ctr::ZERO_POOL_REFILLS, 1);
        }
        let f = pool.pop();
        ctr::global_set(ctr::ZERO_POOL_FRAMES, pool.len() as u64);
        ctr::global_add(ctr::ZERO_POOL_HITS, 1);
        f
    }

    /// A frame out of the pool when the frame allocator has none left (its
    /// frames are allocated, and zero: good for any use but a page table).
    pub(in crate::mm) fn pool_drain_one() -> Option<u64> {
        let mut pool = POOL.lock();
        let f = pool.pop();
        ctr::global_set(ctr::ZERO_POOL_FRAMES, pool.len() as u64);
        f
    }

    /// Measure both ways on `a` and `b` (two frames the caller allocated for
    /// this and frees after), then choose for `choice`; publish the choice
    /// and the measurement. Boot CPU, once, with interrupts off.
    pub fn calibrate(choice: BulkChoice, a: &DataFrame, b: &DataFrame) -> (Mode, Measured) {
        let scale = 512 / MEASURE_QWORDS;
        let timed = |f: &dyn Fn() -> bool| {
            let t0 = crate::arch::rdtsc();
            let ok = f();
            ok.then(|| crate::arch::rdtsc().wrapping_sub(t0))
        };
        let zero_guest = timed(&|| {
            mmu::zero_qwords(a.phys(), MEASURE_QWORDS);
            true
        })
        .unwrap_or(0)
            * scale;
        let copy_guest = timed(&|| {
            mmu::copy_qwords(b.phys(), a.phys(), MEASURE_QWORDS);
            true
        })
        .unwrap_or(0)
            * scale;
        let zero = [BulkOp { op: bulk_op::ZERO, _pad: 0, dst: a.phys(), src: 0, len: PAGE_SIZE }];
        let copy =
            [BulkOp { op: bulk_op::COPY, _pad: 0, dst: b.phys(), src: a.phys(), len: PAGE_SIZE }];
        // The better of two calls each (the first may take a cold path).
        let best = |ops: &[BulkOp]| {
            let one = timed(&|| call(ops))?;
            Some(one.min(timed(&|| call(ops))?))
        };
        let zero_vmm = best(&zero);
        let copy_vmm = best(&copy);
        let m = Measured { zero_guest, zero_vmm, copy_guest, copy_vmm };
        let chosen = Mode::choose(choice, &m);
        MEASURED.call_once(|| (m, choice));
        bulk::set_mode_bits(chosen.bits());
        ctr::global_set(ctr::BULK_ZERO_GUEST_TSC, zero_guest);
        ctr::global_set(ctr::BULK_ZERO_VMM_TSC, zero_vmm.unwrap_or(0));
        ctr::global_set(ctr::BULK_COPY_GUEST_TSC, copy_guest);
        ctr::global_set(ctr::BULK_COPY_VMM_TSC, copy_vmm.unwrap_or(0));
        // The measurement's calls are not the kernel's work.
        ctr::global_set(ctr::BULK_CALLS, 0);
        ctr::global_set(ctr::BULK_ERRORS, 0);
        (chosen, m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PVM: Measured = Measured {
        zero_guest: 700_000,
        zero_vmm: Some(25_000),
        copy_guest: 1_190_000,
        copy_vmm: Some(26_000),
    };
    const HW: Measured =
        Measured { zero_guest: 300, zero_vmm: Some(3_000), copy_guest: 500, copy_vmm: Some(3_100) };
    const OLD_VMM: Measured =
        Measured { zero_guest: 700_000, zero_vmm: None, copy_guest: 1_190_000, copy_vmm: None };

    #[test]
    fn auto_picks_the_cheaper_side_for_each() {
        let both = Mode { zero_vmm: true, copy_vmm: true };
        assert_eq!(Mode::choose(BulkChoice::Auto, &PVM), both);
        assert_eq!(Mode::choose(BulkChoice::Auto, &HW), Mode::default());
        let mixed = Measured { copy_vmm: Some(2_000_000), ..PVM };
        assert_eq!(
            Mode::choose(BulkChoice::Auto, &mixed),
            Mode { zero_vmm: true, copy_vmm: false }
        );
        assert_eq!(Mode::choose(BulkChoice::Auto, &OLD_VMM), Mode::default());
    }

    #[test]
    fn forced_choices() {
        let both = Mode { zero_vmm: true, copy_vmm: true };
        assert_eq!(Mode::choose(BulkChoice::Vmm, &HW), both);
        assert_eq!(Mode::choose(BulkChoice::Guest, &PVM), Mode::default());
        assert_eq!(
            Mode::choose(BulkChoice::Vmm, &OLD_VMM),
            Mode::default(),
            "never a refusing VMM"
        );
    }

    #[test]
    fn bits_round_trip() {
        for bits in 0..4 {
            assert_eq!(Mode::from_bits(bits).bits(), bits);
        }
        assert_eq!(Mode { zero_vmm: false, copy_vmm: true }.bits(), 2);
    }

    #[test]
    fn partial_pages_go_to_the_vmm_only_when_worth_an_exit() {
        let auto = BulkChoice::Auto;
        let m = Mode::choose(auto, &PVM);
        assert!(m.copy_bytes_by_vmm(4096, &PVM, auto));
        assert!(m.copy_bytes_by_vmm(200, &PVM, auto), "~58k cycles in the guest against 26k");
        assert!(!m.copy_bytes_by_vmm(64, &PVM, auto));
        assert!(!Mode::default().copy_bytes_by_vmm(4096, &PVM, auto), "copying in the guest");
        let forced = Mode::choose(BulkChoice::Vmm, &HW);
        assert!(forced.copy_bytes_by_vmm(64, &HW, BulkChoice::Vmm), "forced: every copy");
        assert!(!Mode::choose(BulkChoice::Guest, &PVM).copy_bytes_by_vmm(
            4096,
            &PVM,
            BulkChoice::Guest
        ));
    }

    #[test]
    fn zero_ops_merge_contiguous_frames() {
        let mut ops = [BulkOp::default(); 8];
        let n = zero_ops(&[0x1000, 0x2000, 0x3000, 0x9000, 0x8000, 0xa000], &mut ops);
        let runs: Vec<_> = ops[..n].iter().map(|o| (o.op, o.dst, o.len)).collect();
        let z = bulk_op::ZERO;
        assert_eq!(
            runs,
            [(z, 0x1000, 0x3000), (z, 0x9000, 0x1000), (z, 0x8000, 0x1000), (z, 0xa000, 0x1000)]
        );
        assert_eq!(zero_ops(&[], &mut ops), 0);
    }

    #[test]
    fn the_pool_is_a_bounded_stack() {
        let mut p = ZeroPool::new();
        assert!(p.is_empty() && p.wants_refill());
        assert_eq!(p.pop(), None, "exhausted");
        for i in 0..POOL_CAPACITY as u64 {
            assert!(p.push(i * PAGE_SIZE));
        }
        assert!(!p.push(0x99_000), "full");
        assert!(!p.wants_refill());
        assert_eq!(p.pop(), Some((POOL_CAPACITY as u64 - 1) * PAGE_SIZE));
        assert_eq!(p.len(), POOL_CAPACITY - 1);
    }
}
