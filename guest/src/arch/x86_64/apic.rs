//! The local APIC in x2APIC mode (MSR interface; the VMM enables x2APIC mode).

use super::cpu::{rdmsr, wrmsr, ERROR_APIC_VECTOR, LOCAL_TIMER_VECTOR, SPURIOUS_APIC_VECTOR};

const X2APIC_ID: u32 = 0x802;
const X2APIC_TPR: u32 = 0x808;
const X2APIC_EOI: u32 = 0x80b;
const X2APIC_SVR: u32 = 0x80f;
const X2APIC_ESR: u32 = 0x828;
/// IRR bits 224-255, which hold every vector this kernel programs (0xe0-0xff).
const X2APIC_IRR_224: u32 = 0x827;
const X2APIC_ICR: u32 = 0x830;
const X2APIC_LVT_TIMER: u32 = 0x832;
const X2APIC_LVT_ERROR: u32 = 0x837;
const X2APIC_TMICT: u32 = 0x838;
const X2APIC_TDCR: u32 = 0x83e;

const SVR_ENABLE: u64 = 1 << 8;
const LVT_TIMER_PERIODIC: u64 = 1 << 17;
const TDCR_DIVIDE_BY_1: u64 = 0b1011;

/// Enable this CPU's APIC and start a periodic timer of `count` APIC-timer ticks.
pub fn init(timer_count: u32) {
    wrmsr(X2APIC_TPR, 0);
    wrmsr(X2APIC_SVR, SVR_ENABLE | SPURIOUS_APIC_VECTOR as u64);
    wrmsr(X2APIC_LVT_ERROR, ERROR_APIC_VECTOR as u64);
    wrmsr(X2APIC_TDCR, TDCR_DIVIDE_BY_1);
    wrmsr(X2APIC_LVT_TIMER, LVT_TIMER_PERIODIC | LOCAL_TIMER_VECTOR as u64);
    wrmsr(X2APIC_TMICT, timer_count as u64);
}

pub fn id() -> u32 {
    rdmsr(X2APIC_ID) as u32
}

#[inline(always)]
pub fn eoi() {
    wrmsr(X2APIC_EOI, 0);
}

/// Fixed-delivery IPI with `vector` to the CPU whose x2APIC id is `dest`.
pub fn send_ipi(dest: u32, vector: u8) {
    wrmsr(X2APIC_ICR, ((dest as u64) << 32) | vector as u64);
}

/// Whether an interrupt on one of the kernel's vectors waits in this CPU's
/// APIC for interrupts to be enabled (its IRR bit is set).
pub fn kernel_vector_pending() -> bool {
    rdmsr(X2APIC_IRR_224) != 0
}

/// Read and clear the error status.
pub fn read_esr() -> u64 {
    wrmsr(X2APIC_ESR, 0);
    rdmsr(X2APIC_ESR)
}
