//! Load averages (Linux `kernel/sched/loadavg.c`): every 5 seconds the
//! number of runnable tasks on all CPUs is folded into three exponentially
//! decaying averages, over 1, 5 and 15 minutes, in fixed point with 11 bits
//! of fraction — what `/proc/loadavg`, `uptime` and `top` print.
//!
//! As Linux with NO_HZ, a period in which no tick ran the update (every CPU
//! idle) is caught up at the next one: the averages decay over each missed
//! period with the number of tasks runnable now (`calc_load_n`). Tasks in
//! uninterruptible sleep, which Linux also counts, do not exist here.
//!
//! The arithmetic builds for the host and is tested there.

/// Bits of fraction (Linux FSHIFT).
pub const FSHIFT: u32 = 11;
/// 1.0 in fixed point.
pub const FIXED_1: u64 = 1 << FSHIFT;
/// Nanoseconds between updates (Linux LOAD_FREQ, 5 s and a tick).
pub const LOAD_FREQ_NS: u64 = 5_000_000_000 + 10_000_000;
/// 1/exp(5 s / 1 min), 1/exp(5 s / 5 min), 1/exp(5 s / 15 min) in fixed point.
pub const EXP: [u64; 3] = [1884, 2014, 2037];

/// One period (Linux `calc_load`): `load` decays by `exp` towards `active`
/// (fixed point), rounded up while it rises.
pub fn calc_load(load: u64, exp: u64, active: u64) -> u64 {
    let mut new = load * exp + active * (FIXED_1 - exp);
    if active >= load {
        new += FIXED_1 - 1;
    }
    new / FIXED_1
}

/// `n` periods at once with the same `active` (Linux `calc_load_n`:
/// `exp^n` by squaring in fixed point).
pub fn calc_load_n(load: u64, exp: u64, active: u64, n: u64) -> u64 {
    calc_load(load, fixed_power_int(exp, n), active)
}

/// `x^n` in fixed point (Linux `fixed_power_int`), rounded.
fn fixed_power_int(mut x: u64, mut n: u64) -> u64 {
    let mut result = FIXED_1;
    if n == 0 {
        return result;
    }
    loop {
        if n & 1 != 0 {
            result = (result * x + FIXED_1 / 2) >> FSHIFT;
        }
        n >>= 1;
        if n == 0 {
            break;
        }
        x = (x * x + FIXED_1 / 2) >> FSHIFT;
    }
    result
}

/// The averages after `periods` (≥ 1) updates with `nr_active` runnable tasks.
pub fn fold(avenrun: [u64; 3], nr_active: u64, periods: u64) -> [u64; 3] {
    let active = nr_active * FIXED_1;
    let mut out = avenrun;
    for (i, a) in out.iter_mut().enumerate() {
        *a = calc_load_n(*a, EXP[i], active, periods.max(1));
    }
    out
}

#[cfg(target_os = "none")]
mod kernel_loadavg {
    use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

    use super::{fold, LOAD_FREQ_NS};

    static AVENRUN: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
    /// When the next update is due (monotonic ns); the tick that moves it
    /// does the update.
    static NEXT_UPDATE: AtomicU64 = AtomicU64::new(LOAD_FREQ_NS);

    /// From the timer tick of any CPU at `now` (Linux `calc_global_load`):
    /// fold the runnable tasks into the averages once per period.
    pub fn calc_global_load(now: u64, nr_active: impl FnOnce() -> u64) {
        let due = NEXT_UPDATE.load(Relaxed);
        if now < due {
            return;
        }
        let periods = (now - due) / LOAD_FREQ_NS + 1;
        let next = due + periods * LOAD_FREQ_NS;
        if NEXT_UPDATE.compare_exchange(due, next, Relaxed, Relaxed).is_err() {
            return; // Another CPU's tick does it.
        }
        let cur = [0, 1, 2].map(|i| AVENRUN[i].load(Relaxed));
        let new = fold(cur, nr_active(), periods);
        for (a, v) in AVENRUN.iter().zip(new) {
            a.store(v, Relaxed);
        }
    }

    /// The 1, 5 and 15 minute averages (Linux `get_avenrun`), fixed point.
    pub fn get_avenrun() -> [u64; 3] {
        [0, 1, 2].map(|i| AVENRUN[i].load(Relaxed))
    }
}

#[cfg(target_os = "none")]
pub use kernel_loadavg::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_busy_task_as_linux() {
        // One runnable task for a minute: 12 updates; Linux's 1-minute
        // average reaches 1 - 1/e (0.63), as its fixed point gives it.
        let mut a = [0u64; 3];
        for _ in 0..12 {
            a = fold(a, 1, 1);
        }
        assert!((1290..=1300).contains(&a[0]), "{a:?}");
        assert!(a[1] < a[0] && a[2] < a[1]);
        // The first update of a busy CPU: 2048*(2048-1884)/2048 rounded up.
        assert_eq!(fold([0; 3], 1, 1)[0], 164);
        // Idle: it decays towards 0 and gets there.
        let mut b = a;
        for _ in 0..2000 {
            b = fold(b, 0, 1);
        }
        assert_eq!(b, [0, 0, 0]);
    }

    #[test]
    fn missed_periods_are_caught_up() {
        let mut a = [FIXED_1 * 2; 3];
        let stepwise = {
            let mut s = a;
            for _ in 0..6 {
                s = fold(s, 0, 1);
            }
            s
        };
        a = fold(a, 0, 6);
        for i in 0..3 {
            assert!(a[i].abs_diff(stepwise[i]) <= 3, "{a:?} {stepwise:?}");
        }
        assert_eq!(fixed_power_int(EXP[0], 0), FIXED_1);
        assert_eq!(fixed_power_int(EXP[0], 1), EXP[0]);
    }
}
