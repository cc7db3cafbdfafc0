//! The lockup detector: Linux's hard-lockup watchdog (`kernel/watchdog.c`,
//! `watchdog_thresh`), seen from outside the guest. Every guest CPU takes a
//! timer interrupt `protocol::TICK_HZ` times a second, idle or busy, and
//! counts it in the counter page (`timer_ticks`). A CPU whose count stands
//! still has had interrupts off the whole time: it spins or halts with them
//! off, and nothing in the guest can say so (Linux uses an NMI for that).
//! The control thread looks once a second; a CPU counts as locked up once its
//! count has not moved for the threshold and either
//!
//! - its vCPU's host thread ran for half of that time or more (it spins), or
//! - the other CPUs took a quarter of the ticks the time allows (the VM was
//!   given the host's CPUs, and this vCPU halted with interrupts off).
//!
//! A host that gives the whole VM no CPU (a loaded machine) trips neither.
//! The decision is a plain function of what was read, tested on the host.

use std::time::Duration;

use protocol::TICK_HZ;

/// A CPU that stopped taking timer interrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lockup {
    pub cpu: u32,
    /// How long its tick count has stood still.
    pub stuck: Duration,
    pub evidence: Evidence,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Its vCPU thread ran this long in that time: spinning with interrupts off.
    Spinning { ran: Duration },
    /// The other CPUs took this many ticks meanwhile: halted with interrupts off.
    OthersTicked { ticks: u64 },
}

impl std::fmt::Display for Lockup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "guest kernel lockup: cpu {} took no timer interrupt for {:.1} s (interrupts off); ",
            self.cpu,
            self.stuck.as_secs_f64()
        )?;
        match self.evidence {
            Evidence::Spinning { ran } => write!(
                f,
                "its vCPU ran {:.1} s of that time: it spins with interrupts off",
                ran.as_secs_f64()
            ),
            Evidence::OthersTicked { ticks } => write!(
                f,
                "the other CPUs took {ticks} ticks meanwhile: it halted or waits with \
                 interrupts off"
            ),
        }
    }
}

/// What is known of one CPU since its tick count last moved.
#[derive(Clone, Copy, Debug)]
struct Watch {
    ticks: u64,
    since: Duration,
    thread_time: Option<Duration>,
    others: u64,
}

/// The detector's state between looks.
#[derive(Debug)]
pub struct LockupDetector {
    threshold: Duration,
    cpus: Vec<Option<Watch>>,
}

impl LockupDetector {
    pub fn new(threshold: Duration) -> Self {
        Self { threshold, cpus: Vec::new() }
    }

    /// One look at `now` (any monotonic clock): each CPU's timer ticks, and
    /// its vCPU thread's CPU time where known. A CPU that has not ticked yet
    /// (not started) is not watched.
    pub fn observe(
        &mut self,
        now: Duration,
        ticks: &[u64],
        thread_time: &[Option<Duration>],
    ) -> Option<Lockup> {
        self.cpus.resize(ticks.len(), None);
        // Wrapping: the words are the guest's to write.
        let total = ticks.iter().fold(0u64, |a, &t| a.wrapping_add(t));
        for (cpu, &t) in ticks.iter().enumerate() {
            let time = thread_time.get(cpu).copied().flatten();
            let others = total.wrapping_sub(t);
            let w = match self.cpus[cpu] {
                Some(w) if w.ticks == t => w,
                // Not ticking yet (not online): nothing to watch.
                None if t == 0 => continue,
                // It moved: up, or down to 0 when a program reset the
                // counters (`/dev/counters`); a CPU that ticked once stays
                // watched from then on, at 0 too.
                _ => {
                    self.cpus[cpu] =
                        Some(Watch { ticks: t, since: now, thread_time: time, others });
                    continue;
                }
            };
            let stuck = now.saturating_sub(w.since);
            if stuck < self.threshold {
                continue;
            }
            let gained = others.saturating_sub(w.others);
            let ran = time.zip(w.thread_time).map(|(a, b)| a.saturating_sub(b));
            let evidence = if ran.is_some_and(|r| r >= self.threshold / 2) {
                Evidence::Spinning { ran: ran.unwrap_or_default() }
            } else if gained >= self.threshold.as_secs() * TICK_HZ / 4 {
                Evidence::OthersTicked { ticks: gained }
            } else {
                continue;
            };
            return Some(Lockup { cpu: cpu as u32, stuck, evidence });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn cpus_that_tick_are_never_locked_up() {
        let mut d = LockupDetector::new(T);
        for i in 0..100 {
            let ticks = [100 * i + 1, 100 * i + 1];
            assert_eq!(d.observe(s(i), &ticks, &[Some(s(i)), Some(s(i))]), None);
        }
    }

    #[test]
    fn a_counter_reset_neither_hides_a_lockup_nor_fakes_one() {
        // CPU 1 stuck at 50; at second 5 a program resets the counters: every
        // count drops, CPU 1's to 0 for good. It is still found, 10 s after
        // the reset (its count moved then).
        let mut d = LockupDetector::new(T);
        for i in 0..5 {
            let r = d.observe(s(i), &[100 * i + 1, 50], &[Some(s(i)), Some(s(i))]);
            assert_eq!(r, None, "second {i}");
        }
        for i in 5..15 {
            let r = d.observe(s(i), &[100 * (i - 5), 0], &[Some(s(i)), Some(s(i))]);
            assert_eq!(r, None, "second {i}: the others' count fell, no underflow");
        }
        assert_eq!(
            d.observe(s(15), &[1000, 0], &[Some(s(15)), Some(s(15))]),
            Some(Lockup { cpu: 1, stuck: s(10), evidence: Evidence::Spinning { ran: s(10) } })
        );
        // A CPU that never ticked (not online) is not watched; garbage words
        // (the guest writes them) wrap instead of overflowing.
        let mut d = LockupDetector::new(T);
        for i in 0..20 {
            let r = d.observe(s(i), &[u64::MAX - 3 + i % 2, 0], &[Some(s(i)), Some(s(i))]);
            assert_eq!(r, None, "second {i}");
        }
    }

    #[test]
    fn a_cpu_spinning_with_interrupts_off_is_found_at_the_threshold() {
        let mut d = LockupDetector::new(T);
        // CPU 1 stops at 50 ticks; its thread keeps running.
        for i in 0..10 {
            let r = d.observe(s(i), &[100 * i + 1, 50], &[Some(s(i)), Some(s(i))]);
            assert_eq!(r, None, "second {i}");
        }
        let r = d.observe(s(10), &[1001, 50], &[Some(s(10)), Some(s(10))]);
        assert_eq!(
            r,
            Some(Lockup { cpu: 1, stuck: s(10), evidence: Evidence::Spinning { ran: s(10) } })
        );
        // One CPU alone: its own thread's time is the evidence.
        let mut d = LockupDetector::new(T);
        assert_eq!(d.observe(s(0), &[7], &[Some(s(0))]), None);
        assert_eq!(d.observe(s(9), &[7], &[Some(s(9))]), None);
        assert!(matches!(
            d.observe(s(10), &[7], &[Some(s(10))]),
            Some(Lockup { cpu: 0, evidence: Evidence::Spinning { .. }, .. })
        ));
    }

    #[test]
    fn a_cpu_halted_with_interrupts_off_is_found_by_the_others_ticks() {
        let mut d = LockupDetector::new(T);
        // CPU 0 halts at 30 ticks (its thread sleeps); CPUs 1 and 2 tick on.
        let time = [Some(s(1)), Some(s(0)), Some(s(0))];
        assert_eq!(d.observe(s(0), &[30, 1, 1], &time), None);
        assert_eq!(d.observe(s(9), &[30, 901, 901], &time), None);
        assert_eq!(
            d.observe(s(10), &[30, 1001, 1001], &time),
            Some(Lockup { cpu: 0, stuck: s(10), evidence: Evidence::OthersTicked { ticks: 2000 } })
        );
    }

    #[test]
    fn a_vm_the_host_starves_is_not_locked_up() {
        // No CPU ticks and no vCPU thread runs: the host gave the VM nothing.
        let mut d = LockupDetector::new(T);
        for i in 0..60 {
            assert_eq!(d.observe(s(i), &[40, 41], &[Some(s(1)), Some(s(1))]), None);
        }
        // Its CPUs ran a little (a quarter of the threshold is the bar).
        let mut d = LockupDetector::new(T);
        for i in 0..60 {
            assert_eq!(d.observe(s(i), &[40, 41 + i], &[Some(s(1)), Some(s(1))]), None);
        }
    }

    #[test]
    fn cpus_not_started_are_not_watched() {
        let mut d = LockupDetector::new(T);
        for i in 0..60 {
            assert_eq!(d.observe(s(i), &[100 * i + 1, 0], &[Some(s(i)), Some(s(i))]), None);
        }
    }

    #[test]
    fn the_message_says_what_was_seen() {
        let l = Lockup { cpu: 3, stuck: s(20), evidence: Evidence::Spinning { ran: s(19) } };
        assert_eq!(
            l.to_string(),
            "guest kernel lockup: cpu 3 took no timer interrupt for 20.0 s (interrupts off); \
             its vCPU ran 19.0 s of that time: it spins with interrupts off"
        );
    }
}
