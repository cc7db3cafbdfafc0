//! Issuing hypercalls: one `out` to the call's port with the parameter struct's
//! guest-physical address; the result comes back in this CPU's status slot.

use core::arch::asm;
use core::sync::atomic::Ordering;

use protocol::hypercall::Hypercall;

use super::boot::{status_slot, virt_to_phys};
use super::cpu::cpu_id;

/// Make hypercall `call` with `params`. Returns the VMM's status word.
pub fn hypercall<T>(call: Hypercall, params: &T) -> i64 {
    let gpa = virt_to_phys(params as *const T as u64);
    debug_assert!(gpa < 1 << 32 && gpa.is_multiple_of(protocol::hypercall::PARAM_ALIGN));
    crate::counters::cpu_add(cpu_id(), crate::counters::CPU_HYPERCALLS, 1);
    out32(call as u16, gpa as u32);
    status_slot(cpu_id()).load(Ordering::Relaxed) as i64
}

/// Have the VMM record the counters and its statistics under `label` (the
/// `Snapshot` hypercall); then reset the counters if asked. ENOSPC once the
/// VMM keeps no more snapshots.
pub fn snapshot(label: &str, reset: bool) -> Result<(), crate::errno::Errno> {
    // The label lives in kernel memory (the heap or the kernel image), which
    // the VMM reads by guest-physical address.
    let params = protocol::hypercall::Snapshot {
        label: gpa_of(&label.as_bytes()[0]),
        len: label.len() as u64,
        tsc: super::cpu::rdtsc(),
        reset: reset as u32,
        _pad: 0,
    };
    if hypercall(Hypercall::Snapshot, &params) < 0 {
        return Err(crate::errno::ENOSPC);
    }
    crate::counters::snapshot_taken(reset);
    Ok(())
}

/// A raw 32-bit port write (also used by the hypercall fuzzer).
pub fn out32(port: u16, value: u32) {
    // SAFETY: port I/O to the VMM's hypercall ports or to ports with no device;
    // the asm has no memory operands but the VMM reads guest memory during the
    // exit, so it is not `nomem` (the compiler must have stored `params`).
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nostack, preserves_flags))
    }
}

/// A raw 8-bit port write (a malformed hypercall: wrong access size).
pub fn out8(port: u16, value: u8) {
    // SAFETY: as for `out32`.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nostack, preserves_flags)) }
}

/// A raw 16-bit port write (a malformed hypercall: wrong access size).
pub fn out16(port: u16, value: u16) {
    // SAFETY: as for `out32`.
    unsafe { asm!("out dx, ax", in("dx") port, in("ax") value, options(nostack, preserves_flags)) }
}

/// The physical address of a kernel object (for hypercall parameters).
pub fn gpa_of<T>(obj: &T) -> u64 {
    virt_to_phys(obj as *const T as u64)
}

/// Overwrite this CPU's status slot (the fuzzer sets a sentinel to prove that the
/// VMM did not answer an `out` outside the hypercall range).
pub fn set_status(value: i64) {
    status_slot(cpu_id()).store(value as u64, Ordering::Relaxed);
}
