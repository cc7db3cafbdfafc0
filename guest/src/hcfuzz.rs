//! Malformed hypercalls and the answer the VMM must give to each.
//!
//! `hcfuzz=N` on the command line makes the kernel issue N of these (random, from
//! a seeded generator) and check every status; the VMM must answer each with its
//! error and keep running. The order of the VMM's checks is part of the ABI:
//! port range, access size, known call, alignment, memory range, then the fields.

use protocol::errno::{E2BIG, EBUSY, EFAULT, EINVAL, ENOSYS};
use protocol::hypercall::{
    Hypercall, BULK_OPS_MAX, CONSOLE_MAX, LABEL_MAX, PANIC_MAX, PORT_BASE, PORT_COUNT,
};

/// Where the generated calls may point.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    /// End of RAM below 4 GiB: `[ram_end_low, 4 GiB)` is not RAM.
    pub ram_end_low: u64,
    pub cpu_count: u32,
    /// An 8-byte aligned scratch buffer of at least [`SCRATCH_WORDS`] words, in RAM.
    pub scratch_gpa: u64,
}

pub const SCRATCH_WORDS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    W8,
    W16,
    W32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The VMM answers `-errno` in the status slot.
    Errno(i64),
    /// Not a hypercall port: the VMM ignores it and writes no status.
    Unanswered,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    pub port: u16,
    pub width: Width,
    pub value: u32,
    /// Written into the scratch buffer (the rest of it is zero) before the call.
    pub params: [u64; 4],
    pub expect: Expect,
}

/// xorshift64* — deterministic for a seed, so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

const KNOWN: [Hypercall; 11] = [
    Hypercall::Console,
    Hypercall::Exit,
    Hypercall::Exception,
    Hypercall::Panic,
    Hypercall::StartCpus,
    Hypercall::Ready,
    Hypercall::Snapshot,
    Hypercall::MailboxReply,
    Hypercall::BulkMem,
    Hypercall::PvWait,
    Hypercall::PvKick,
];

/// Ports outside the hypercall range with no device behind them (the in-kernel
/// PIC and PIT ports are avoided: writing them has real effects).
const NON_HYPERCALL_PORTS: [u16; 4] = [0x80, 0x3f8, 0x3f9, 0x2f8];

/// An 8-byte-aligned address that is not RAM (the hole below 4 GiB).
fn outside_ram_32(rng: &mut Rng, env: &Env) -> u64 {
    let span = (1u64 << 32) - env.ram_end_low;
    (env.ram_end_low + rng.below(span)) & !7
}

/// Any address that is not RAM, as a 64-bit field value.
fn outside_ram_64(rng: &mut Rng, env: &Env) -> u64 {
    match rng.below(3) {
        0 => outside_ram_32(rng, env),
        1 => u64::MAX - rng.below(64),
        _ => (1 << 63) | rng.next_u64(),
    }
}

pub fn case(rng: &mut Rng, env: &Env) -> Case {
    let scratch = env.scratch_gpa as u32;
    let known = KNOWN[rng.below(KNOWN.len() as u64) as usize] as u16;
    let base = Case {
        port: known,
        width: Width::W32,
        value: scratch,
        params: [0; 4],
        expect: Expect::Errno(EINVAL),
    };
    let console = Hypercall::Console as u16;
    let panic = Hypercall::Panic as u16;
    let snapshot = Hypercall::Snapshot as u16;
    let bulk = Hypercall::BulkMem as u16;
    // `BulkMem`'s second word: the operation count, and the flags above it.
    let count = |n: u64, flags: u64| n | flags << 32;
    match rng.below(23) {
        0 => {
            let unknown = KNOWN.len() as u64 + rng.below(PORT_COUNT as u64 - KNOWN.len() as u64);
            Case { port: PORT_BASE + unknown as u16, expect: Expect::Errno(ENOSYS), ..base }
        }
        1 => Case { width: Width::W8, ..base },
        2 => Case { width: Width::W16, ..base },
        3 => Case { value: scratch + 1 + rng.below(7) as u32, ..base },
        4 => Case { value: outside_ram_32(rng, env) as u32, expect: Expect::Errno(EFAULT), ..base },
        5 => Case {
            port: console,
            value: (env.ram_end_low - 8) as u32,
            expect: Expect::Errno(EFAULT),
            ..base
        },
        6 => Case {
            port: console,
            params: [outside_ram_64(rng, env), 1 + rng.below(100), 0, 0],
            expect: Expect::Errno(EFAULT),
            ..base
        },
        7 => Case {
            port: console,
            params: [env.scratch_gpa, CONSOLE_MAX + 1 + rng.below(1 << 40), 0, 0],
            expect: Expect::Errno(E2BIG),
            ..base
        },
        8 => Case {
            port: panic,
            params: [0, env.scratch_gpa, PANIC_MAX + 1 + rng.below(1 << 20), 0],
            expect: Expect::Errno(E2BIG),
            ..base
        },
        9 => Case {
            port: panic,
            params: [0, outside_ram_64(rng, env), 1 + rng.below(64), 0],
            expect: Expect::Errno(EFAULT),
            ..base
        },
        10 => {
            let cpu = env.cpu_count as u64 + rng.below(1000);
            Case { port: Hypercall::Exception as u16, params: [cpu, 0, 0, 0], ..base }
        }
        11 => {
            let status = 256 + rng.below(u32::MAX as u64 - 256);
            Case { port: Hypercall::Exit as u16, params: [status, 0, 0, 0], ..base }
        }
        12 => {
            let port = if rng.below(2) == 0 { Hypercall::StartCpus } else { Hypercall::Ready };
            Case { port: port as u16, expect: Expect::Errno(EBUSY), ..base }
        }
        13 => Case {
            port: snapshot,
            params: [env.scratch_gpa, LABEL_MAX + 1 + rng.below(1 << 30), 0, 0],
            expect: Expect::Errno(E2BIG),
            ..base
        },
        14 => Case {
            port: snapshot,
            params: [outside_ram_64(rng, env), 1 + rng.below(LABEL_MAX), 0, 0],
            expect: Expect::Errno(EFAULT),
            ..base
        },
        15 => Case {
            // A valid label (the scratch page holds zeros: NUL is valid UTF-8)
            // but a reset flag other than 0 or 1.
            port: snapshot,
            params: [env.scratch_gpa + 64, 4, 0, 2 + rng.below(1 << 31)],
            ..base
        },
        16 => Case {
            port: bulk,
            params: [env.scratch_gpa, count(BULK_OPS_MAX as u64 + 1 + rng.below(1 << 31), 0), 0, 0],
            expect: Expect::Errno(E2BIG),
            ..base
        },
        17 => Case {
            // No operations, or flags.
            port: bulk,
            params: [env.scratch_gpa, count(rng.below(2), 1 + rng.below(1 << 31)), 0, 0],
            ..base
        },
        18 => Case {
            port: bulk,
            params: [outside_ram_64(rng, env) & !7, count(1 + rng.below(4), 0), 0, 0],
            expect: Expect::Errno(EFAULT),
            ..base
        },
        19 => Case {
            // Operations the scratch page's zeros make: op 0, refused.
            port: bulk,
            params: [env.scratch_gpa + 64, count(1 + rng.below(6), 0), 0, 0],
            ..base
        },
        20 => Case {
            port: bulk,
            params: [env.scratch_gpa + 1 + rng.below(7), count(1, 0), 0, 0],
            ..base
        },
        21 => {
            // A pv lock word that is misaligned or not RAM.
            let port = if rng.below(2) == 0 { Hypercall::PvWait } else { Hypercall::PvKick };
            let (lock, expect) = if rng.below(2) == 0 {
                (env.scratch_gpa + 1 + rng.below(3), Expect::Errno(EINVAL))
            } else {
                (outside_ram_64(rng, env) & !3, Expect::Errno(EFAULT))
            };
            Case { port: port as u16, params: [lock, 2, 0, 0], expect, ..base }
        }
        _ => Case {
            port: NON_HYPERCALL_PORTS[rng.below(NON_HYPERCALL_PORTS.len() as u64) as usize],
            value: rng.next_u64() as u32,
            expect: Expect::Unanswered,
            ..base
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: Env = Env { ram_end_low: 256 << 20, cpu_count: 2, scratch_gpa: 0x30_0000 };

    #[test]
    fn deterministic_for_a_seed() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..100 {
            assert_eq!(case(&mut a, &ENV), case(&mut b, &ENV));
        }
    }

    #[test]
    fn every_kind_appears_and_addresses_are_outside_ram() {
        let mut rng = Rng::new(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..5000 {
            let c = case(&mut rng, &ENV);
            seen.insert(format!("{:?}", c.expect));
            if c.expect == Expect::Errno(EFAULT) && c.params == [0; 4] {
                assert!(c.value as u64 + 8 >= ENV.ram_end_low, "{c:?}");
            }
            if Hypercall::in_range(c.port) {
                assert_ne!(c.expect, Expect::Unanswered);
            } else {
                assert_eq!(c.expect, Expect::Unanswered);
            }
        }
        assert_eq!(seen.len(), 6, "{seen:?}");
    }
}
