//! Clocks and timer flags (`include/uapi/linux/time.h`), `struct timespec`
//! (`__kernel_timespec`) and `struct timeval` (`__kernel_old_timeval`).

crate::constants! {
    /// Wall-clock time.
    CLOCK_REALTIME: u32 = 0;
    /// Time since boot, not counting suspend; never jumps.
    CLOCK_MONOTONIC: u32 = 1;
    /// The process's CPU time.
    CLOCK_PROCESS_CPUTIME_ID: u32 = 2;
    /// The thread's CPU time.
    CLOCK_THREAD_CPUTIME_ID: u32 = 3;
    /// `CLOCK_MONOTONIC` without NTP adjustment.
    CLOCK_MONOTONIC_RAW: u32 = 4;
    /// `CLOCK_REALTIME` at tick resolution.
    CLOCK_REALTIME_COARSE: u32 = 5;
    /// `CLOCK_MONOTONIC` at tick resolution.
    CLOCK_MONOTONIC_COARSE: u32 = 6;
    /// `CLOCK_MONOTONIC` including suspend.
    CLOCK_BOOTTIME: u32 = 7;
    /// `CLOCK_REALTIME` that wakes from suspend.
    CLOCK_REALTIME_ALARM: u32 = 8;
    /// `CLOCK_BOOTTIME` that wakes from suspend.
    CLOCK_BOOTTIME_ALARM: u32 = 9;
    /// International atomic time.
    CLOCK_TAI: u32 = 11;
    /// `clock_nanosleep`: the time is absolute.
    TIMER_ABSTIME: u32 = 0x01;
    /// `setitimer`: real (wall-clock) time; SIGALRM.
    ITIMER_REAL: u32 = 0;
    /// `setitimer`: the process's user CPU time; SIGVTALRM.
    ITIMER_VIRTUAL: u32 = 1;
    /// `setitimer`: the process's user and system CPU time; SIGPROF.
    ITIMER_PROF: u32 = 2;
}

/// `struct timespec` (64-bit `__kernel_timespec`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds (0..1e9).
    pub tv_nsec: i64,
}

impl timespec {
    /// The timespec of `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> timespec {
        timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 }
    }

    /// Nanoseconds since the clock's epoch (negative parts count as 0).
    pub const fn as_nanos(&self) -> u64 {
        let sec = if self.tv_sec < 0 { 0 } else { self.tv_sec as u64 };
        let nsec = if self.tv_nsec < 0 { 0 } else { self.tv_nsec as u64 };
        sec * 1_000_000_000 + nsec
    }
}

/// `struct timeval` (`gettimeofday`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct timeval {
    /// Seconds.
    pub tv_sec: i64,
    /// Microseconds (0..1e6).
    pub tv_usec: i64,
}

/// `struct itimerval` (`__kernel_old_itimerval`: `setitimer`, `getitimer`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct itimerval {
    /// The reload value after each expiry (zero: one shot).
    pub it_interval: timeval,
    /// The time to the next expiry (zero: disarmed).
    pub it_value: timeval,
}

/// `struct itimerspec` (`__kernel_itimerspec`: `timer_settime`,
/// `timer_gettime`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct itimerspec {
    /// The reload value after each expiry (zero: one shot).
    pub it_interval: timespec,
    /// The time to the next expiry (zero: disarmed), or with TIMER_ABSTIME
    /// the time of it.
    pub it_value: timespec,
}

const _: () = assert!(core::mem::size_of::<itimerspec>() == 32);
const _: () = assert!(core::mem::size_of::<timespec>() == 16);
const _: () = assert!(core::mem::size_of::<itimerval>() == 32);
const _: () = assert!(core::mem::size_of::<timeval>() == 16);
