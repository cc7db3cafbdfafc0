//! Time: TSC cycles to nanoseconds (Linux's clocksource mult/shift), the
//! monotonic clock since boot and the wall clock from the VMM's boot time.

/// Converts TSC cycles to nanoseconds with a multiply and a shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clocksource {
    mult: u64,
    shift: u32,
}

impl Clocksource {
    pub const fn new(tsc_khz: u64) -> Self {
        // ns = cycles * 1e6 / khz = (cycles * mult) >> 32, exact to < 1 ns/s.
        let khz = if tsc_khz == 0 { 1 } else { tsc_khz };
        Self { mult: (1_000_000u64 << 32) / khz, shift: 32 }
    }

    pub fn cycles_to_ns(&self, cycles: u64) -> u64 {
        ((cycles as u128 * self.mult as u128) >> self.shift) as u64
    }

    pub fn ns_to_cycles(&self, ns: u64) -> u64 {
        (((ns as u128) << self.shift) / self.mult.max(1) as u128).min(u64::MAX as u128) as u64
    }
}

/// `struct timespec` from nanoseconds.
pub fn ns_to_timespec(ns: u64) -> (i64, i64) {
    ((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64)
}

/// Nanoseconds from a `struct timespec`; None if invalid (negative or tv_nsec out of range).
pub fn timespec_to_ns(sec: i64, nsec: i64) -> Option<u64> {
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return None;
    }
    Some((sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64))
}

#[cfg(target_os = "none")]
mod kernel_time {
    use super::Clocksource;
    use core::sync::atomic::{AtomicU64, Ordering};

    static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
    static TSC_KHZ: AtomicU64 = AtomicU64::new(1);
    static BOOT_REALTIME_NS: AtomicU64 = AtomicU64::new(0);

    pub fn init(boot_tsc: u64, tsc_khz: u64, realtime_ns: u64) {
        BOOT_TSC.store(boot_tsc, Ordering::Relaxed);
        TSC_KHZ.store(tsc_khz.max(1), Ordering::Relaxed);
        BOOT_REALTIME_NS.store(realtime_ns, Ordering::Relaxed);
    }

    fn clocksource() -> Clocksource {
        Clocksource::new(TSC_KHZ.load(Ordering::Relaxed))
    }

    /// Nanoseconds since the kernel started (CLOCK_MONOTONIC, CLOCK_BOOTTIME).
    pub fn monotonic_ns() -> u64 {
        monotonic_ns_at(crate::arch::rdtsc())
    }

    /// [`monotonic_ns`] at the TSC value `tsc` (read by the caller).
    pub fn monotonic_ns_at(tsc: u64) -> u64 {
        clocksource().cycles_to_ns(tsc.saturating_sub(BOOT_TSC.load(Ordering::Relaxed)))
    }

    /// Nanoseconds since the epoch (CLOCK_REALTIME).
    pub fn realtime_ns() -> u64 {
        BOOT_REALTIME_NS.load(Ordering::Relaxed) + monotonic_ns()
    }
}

#[cfg(target_os = "none")]
pub use kernel_time::{init, monotonic_ns, monotonic_ns_at, realtime_ns};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let c = Clocksource::new(2_596_134);
        let second = c.cycles_to_ns(2_596_134_000);
        assert!((999_999_999..=1_000_000_000).contains(&second), "{second}");
        // A day of uptime does not overflow.
        let day = 2_596_134_000u64 * 86_400;
        let ns = c.cycles_to_ns(day);
        assert!((ns as i128 - 86_400_000_000_000i128).abs() < 100_000, "{ns}");
        let back = c.ns_to_cycles(1_000_000);
        assert!((back as i64 - 2_596_134).abs() <= 1, "{back}");
        assert_eq!(ns_to_timespec(1_500_000_000), (1, 500_000_000));
        assert_eq!(timespec_to_ns(1, 5), Some(1_000_000_005));
        assert_eq!(timespec_to_ns(0, -1), None);
        assert_eq!(timespec_to_ns(0, 1_000_000_000), None);
        assert_eq!(timespec_to_ns(-1, 0), None);
    }
}
