//! The mechanism of bulk memory work (`mm::bulk` has the policy): the
//! `BulkMem` hypercall, and who zeroes and copies now (the boot choice).
//! Kernel stacks are zeroed from here (`task`), as heap memory.

use core::sync::atomic::{AtomicU64, Ordering};

use protocol::hypercall::{bulk_op, BulkMem, BulkOp, Hypercall};

use super::hypercall::{gpa_of, hypercall};
use crate::counters as ctr;

/// Each CPU's `BulkMem` parameters: `ops`, then `count | flags << 32` (the
/// struct's layout in two words).
static PARAMS: [[AtomicU64; 2]; protocol::MAX_CPUS] =
    [const { [AtomicU64::new(0), AtomicU64::new(0)] }; protocol::MAX_CPUS];
const _: () = assert!(core::mem::size_of::<BulkMem>() == 16);

/// The choice (`mm::bulk::Mode::bits`): bit 0 the VMM zeroes, bit 1 it copies.
static MODE: AtomicU64 = AtomicU64::new(0);

pub fn mode_bits() -> u64 {
    MODE.load(Ordering::Relaxed)
}

pub fn set_mode_bits(bits: u64) {
    MODE.store(bits, Ordering::Relaxed);
    ctr::global_set(ctr::BULK_MODE, bits);
}

/// One `BulkMem` call for `ops` (in kernel memory: the stack, the heap or
/// the kernel image); false when the VMM refused it (counted: the caller then
/// does the work itself). The caller vouches that no destination is a page
/// table (`mm::bulk`'s rule).
pub fn bulk_mem(ops: &[BulkOp]) -> bool {
    if ops.is_empty() {
        return true;
    }
    // The parameters go in this CPU's slot in the kernel image, below 4 GiB
    // as a hypercall's must be (the stack, in the heap, may lie above it in
    // a large guest); the list itself may be anywhere. Kernel code runs with
    // interrupts off, so nothing else on this CPU uses the slot meanwhile.
    let slot = &PARAMS[super::cpu::cpu_id().min(protocol::MAX_CPUS - 1)];
    let params = BulkMem { ops: gpa_of(&ops[0]), count: ops.len() as u32, flags: 0 };
    slot[0].store(params.ops, Ordering::Relaxed);
    slot[1].store(u64::from(params.count) | u64::from(params.flags) << 32, Ordering::Relaxed);
    ctr::global_add(ctr::BULK_CALLS, 1);
    if hypercall(Hypercall::BulkMem, slot) != ops.len() as i64 {
        ctr::global_add(ctr::BULK_ERRORS, 1);
        return false;
    }
    true
}

/// Zero kernel heap memory (a reused kernel stack) through the VMM when it
/// zeroes here: the heap's arenas are never page tables (they come from the
/// top of RAM, which the frame allocator hands to nothing else), and an
/// allocation lies in one arena, which is physically contiguous. False when
/// the VMM does not zero here or refused: the caller zeroes it itself.
pub fn zero_kernel_memory(mem: &mut [u8]) -> bool {
    if mode_bits() & 1 == 0 || mem.is_empty() {
        return false;
    }
    let op =
        BulkOp { op: bulk_op::ZERO, _pad: 0, dst: gpa_of(&mem[0]), src: 0, len: mem.len() as u64 };
    if bulk_mem(&[op]) {
        ctr::global_add(ctr::BULK_PAGES_ZEROED, (mem.len() as u64).div_ceil(4096));
        return true;
    }
    false
}
