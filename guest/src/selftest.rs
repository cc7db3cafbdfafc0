//! Self-tests the kernel runs when the command line asks (see `cmdline`).

use protocol::boot::{BootInfo, MMIO_HOLE_START};

use crate::arch::hypercall::{gpa_of, out16, out32, out8, set_status};
use crate::arch::{cpu_id, status_slot};
use crate::hcfuzz::{self, Expect, Rng, Width, SCRATCH_WORDS};
use crate::println;

const SENTINEL: i64 = i64::MIN + 0x5a5a;

/// Issue `count` malformed hypercalls; true if every answer was the expected one.
pub fn hcfuzz(count: u64, seed: u64, info: &BootInfo) -> bool {
    let mut scratch = [0u64; SCRATCH_WORDS];
    let env = hcfuzz::Env {
        ram_end_low: info.memory_bytes.min(MMIO_HOLE_START),
        cpu_count: info.cpu_count,
        scratch_gpa: gpa_of(&scratch),
    };
    let mut rng = Rng::new(seed);
    let (mut answered, mut ignored, mut wrong) = (0u64, 0u64, 0u64);
    for i in 0..count {
        let case = hcfuzz::case(&mut rng, &env);
        scratch[..4].copy_from_slice(&case.params);
        core::hint::black_box(&mut scratch);
        set_status(SENTINEL);
        crate::counters::cpu_add(cpu_id(), crate::counters::CPU_HYPERCALLS, 1);
        match case.width {
            Width::W8 => out8(case.port, case.value as u8),
            Width::W16 => out16(case.port, case.value as u16),
            Width::W32 => out32(case.port, case.value),
        }
        let got = status_slot(cpu_id()).load(core::sync::atomic::Ordering::Relaxed) as i64;
        let ok = match case.expect {
            Expect::Errno(e) => got == -e,
            Expect::Unanswered => got == SENTINEL,
        };
        match (ok, case.expect) {
            (true, Expect::Errno(_)) => answered += 1,
            (true, Expect::Unanswered) => ignored += 1,
            (false, _) => {
                wrong += 1;
                if wrong <= 5 {
                    println!("hcfuzz: call {i}: {case:?}: got status {got}");
                }
            }
        }
    }
    println!(
        "hcfuzz: {count} malformed calls: {answered} rejected, {ignored} ignored, {wrong} wrong"
    );
    wrong == 0
}
