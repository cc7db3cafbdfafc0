//! The pure half of the system-call fuzzer (`src/bin/fuzz.rs`): a seeded
//! generator, the choice of a call number from the x86-64 table, arguments
//! drawn from classes of interesting values (in the manner of trinity's
//! argument generators: boundaries, flags, descriptors of every kind, good,
//! bad and kernel pointers, huge sizes), and the sandbox that keeps a fuzzing
//! child from reaching the supervisor (pid 1). Nothing here makes a system
//! call, so the host unit-tests it.

use uapi::unistd as nr;

/// A small, fast, seeded generator (xorshift64*): the same seed gives the
/// same calls.
#[derive(Clone, Copy, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, never 0 (xorshift's fixed point).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Mixes `v` (a pid after a fork) into the state, so that two processes
    /// that were one do not go on making the same calls.
    pub fn mix(&mut self, v: u64) {
        *self = Rng::new(self.next_u64() ^ v.rotate_left(17));
    }
}

/// Every number of the x86-64 table ([`uapi::unistd`]), in order.
pub fn table() -> impl Iterator<Item = usize> {
    uapi::ALL_CONSTANTS
        .iter()
        .find(|(m, _)| *m == "unistd")
        .map(|(_, c)| *c)
        .unwrap_or(&[])
        .iter()
        .map(|c| c.value as usize)
}

/// The highest number in the table plus one (the size of per-number maps).
pub const NR_SLOTS: usize = 512;

/// Numbers that return ENOSYS are mostly skipped once seen (trinity
/// deactivates them): one bit per number.
#[derive(Clone, Copy, Default)]
pub struct Enosys([u64; NR_SLOTS / 64]);

impl Enosys {
    pub fn mark(&mut self, nr: usize) {
        if nr < NR_SLOTS {
            self.0[nr / 64] |= 1 << (nr % 64);
        }
    }

    pub fn has(&self, nr: usize) -> bool {
        nr < NR_SLOTS && self.0[nr / 64] & (1 << (nr % 64)) != 0
    }
}

/// A call number: mostly one of the table's (one seen to return ENOSYS is
/// taken 1 time in 50 it comes up), sometimes anything (negative, past the
/// table, huge).
pub fn pick_nr(rng: &mut Rng, table: &[usize], enosys: &Enosys) -> usize {
    if rng.chance(1, 100) {
        let any = rng.next_u64() as usize;
        return rng.pick(&[NR_SLOTS - 1, 1000, usize::MAX, 0x4000_0000, 0x8000_0000, any]);
    }
    loop {
        let n = rng.pick(table);
        if !enosys.has(n) || rng.chance(1, 50) {
            return n;
        }
    }
}

/// What a fuzzing process has at hand to point at and to pass as
/// descriptors (filled in by the program; the host tests use made-up values).
#[derive(Clone, Copy, Debug, Default)]
pub struct Pools {
    /// Pointers: into a read-write arena (random bytes, a valid iovec array,
    /// small timespecs, NUL-terminated paths), a PROT_NONE page, the text, the
    /// stack, and the bad ones this module adds itself.
    pub ptrs: [usize; 16],
    pub nptrs: usize,
    /// Descriptors: a regular file, a directory, both ends of a pipe,
    /// /dev/null, a closed one (the module adds -1, AT_FDCWD and huge ones).
    pub fds: [i32; 12],
    pub nfds: usize,
    /// Paths (pointers to NUL-terminated strings in the arena).
    pub paths: [usize; 16],
    pub npaths: usize,
}

/// Addresses no user access may succeed at: NULL and the page above it, the
/// top of user space, the first non-canonical address, kernel addresses (the
/// direct map, the kernel image, the last page).
pub const BAD_POINTERS: [usize; 9] = [
    0,
    8,
    0xfff,
    0x0000_7fff_ffff_f000,
    0x0000_7fff_ffff_fffc,
    0x0000_8000_0000_0000,
    0xffff_8000_0000_0000,
    0xffff_ffff_8000_0000,
    0xffff_ffff_ffff_f000,
];

/// Boundary integers.
pub const BOUNDARIES: [u64; 18] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0xfff,
    0x1000,
    0x1001,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
    (-4096i64) as u64,
    (-4095i64) as u64,
];

/// One argument, from a class chosen at random.
pub fn arg(rng: &mut Rng, p: &Pools) -> u64 {
    match rng.below(10) {
        // Small numbers: counts, commands, signal numbers, `which`s.
        0 => rng.below(70),
        1 => rng.pick(&BOUNDARIES),
        // Flags: a few random bits (most flag words are sparse).
        2 => {
            let mut f = 0u64;
            for _ in 0..=rng.below(4) {
                f |= 1 << rng.below(32);
            }
            f
        }
        3 => rng.next_u64(),
        // Descriptors of every kind, and invalid ones.
        4 => {
            if p.nfds > 0 && rng.chance(3, 4) {
                p.fds[rng.below(p.nfds as u64) as usize] as i64 as u64
            } else {
                rng.pick(&[-1i64, -100, 1023, 1024, 65535, 1 << 20, i32::MAX as i64]) as u64
            }
        }
        // Good pointers (with an offset that may straddle the end).
        5 | 6 => {
            if p.nptrs > 0 {
                let base = p.ptrs[rng.below(p.nptrs as u64) as usize] as u64;
                base.wrapping_add(rng.pick(&[0, 0, 0, 1, 8, 0xff8, 0xffc]))
            } else {
                rng.next_u64()
            }
        }
        7 => rng.pick(&BAD_POINTERS) as u64,
        8 => {
            if p.npaths > 0 {
                p.paths[rng.below(p.npaths as u64) as usize] as u64
            } else {
                0
            }
        }
        // Sizes: page multiples and huge.
        _ => rng.pick(&[0, 1, 16, 4096, 8192, 65536, 1 << 20, 1 << 30, 1 << 40, 1 << 47]),
    }
}

/// Calls whose argument at `i` is a pid (or a process group) another process
/// may act on.
fn pid_args(nr: usize) -> &'static [usize] {
    match nr {
        nr::__NR_kill
        | nr::__NR_tkill
        | nr::__NR_setpgid
        | nr::__NR_prlimit64
        | nr::__NR_sched_setaffinity
        | nr::__NR_sched_setparam
        | nr::__NR_sched_setscheduler
        | nr::__NR_rt_sigqueueinfo => &[0],
        nr::__NR_tgkill | nr::__NR_rt_tgsigqueueinfo => &[0, 1],
        nr::__NR_setpriority | nr::__NR_ptrace => &[1],
        _ => &[],
    }
}

/// Keeps a fuzzing child's call from reaching the supervisor, pid 1: a pid
/// or process group argument of 1 becomes 0 (the caller) for the calls that
/// act on another process. (pid 1 is also immune to signals it has no
/// handler for, SIGKILL included, as Linux's init is; this keeps its limits,
/// affinity, priority and group too.) Everything else a child may do: it is
/// disposable.
pub fn sandbox(nr: usize, a: &mut [u64; 6]) {
    for &i in pid_args(nr) {
        if a[i] as i32 == 1 {
            a[i] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_spread() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut hits = [0u32; 10];
        for _ in 0..10_000 {
            hits[a.below(10) as usize] += 1;
        }
        assert!(hits.iter().all(|&h| (800..1200).contains(&h)), "{hits:?}");
        assert_ne!(Rng::new(0).next_u64(), Rng::new(1).next_u64());
        let mut c = a;
        c.mix(42);
        assert_ne!(a.next_u64(), c.next_u64());
    }

    #[test]
    fn numbers_come_from_the_table_and_enosys_is_mostly_skipped() {
        let t: std::vec::Vec<usize> = table().collect();
        assert!(t.len() > 350 && t.contains(&nr::__NR_read) && t.contains(&nr::__NR_clone3));
        let mut e = Enosys::default();
        for &n in &t[200..] {
            e.mark(n);
        }
        let mut rng = Rng::new(1);
        let mut dead = 0;
        for _ in 0..1000 {
            let n = pick_nr(&mut rng, &t, &e);
            dead += e.has(n) as u32;
        }
        // 200 live numbers, the rest taken 1 time in 50: ~2% dead picks.
        assert!((5..60).contains(&dead), "{dead}");
    }

    #[test]
    fn args_cover_every_class() {
        let mut p = Pools::default();
        p.ptrs[0] = 0x10_0000;
        p.nptrs = 1;
        p.fds[0] = 3;
        p.nfds = 1;
        p.paths[0] = 0x20_0000;
        p.npaths = 1;
        let mut rng = Rng::new(3);
        let xs: std::vec::Vec<u64> = (0..5000).map(|_| arg(&mut rng, &p)).collect();
        for want in [3, 0x10_0000, 0x20_0000, 0xffff_8000_0000_0000, u64::MAX, 1 << 47] {
            assert!(xs.contains(&want), "{want:#x}");
        }
    }

    #[test]
    fn the_sandbox_keeps_pid_1_out_of_reach() {
        let mut a = [1, 9, 0, 0, 0, 0];
        sandbox(nr::__NR_kill, &mut a);
        assert_eq!(a[0], 0);
        let mut a = [1, 1, 9, 0, 0, 0];
        sandbox(nr::__NR_tgkill, &mut a);
        assert_eq!(a[..2], [0, 0]);
        let mut a = [1, 1, 19, 0, 0, 0];
        sandbox(nr::__NR_setpriority, &mut a);
        assert_eq!(a[1], 0);
        let mut a = [1, 2, 3, 0, 0, 0];
        sandbox(nr::__NR_read, &mut a);
        assert_eq!(a, [1, 2, 3, 0, 0, 0]);
        let mut a = [2, 9, 0, 0, 0, 0];
        sandbox(nr::__NR_kill, &mut a);
        assert_eq!(a[0], 2);
    }
}
