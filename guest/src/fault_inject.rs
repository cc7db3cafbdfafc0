//! Fault injection for `copy_process` (Linux: fail_nth / failslab, in
//! miniature, and like Linux's `lib/fault-inject.c` below everything that uses
//! it): `fail=STAGE:N` on the kernel command line makes the Nth time that
//! stage is reached fail as its allocation would (ENOMEM; EAGAIN for the pid).
//! `kernel_clone` then checks that the failed clone left nothing behind. The
//! stages are reached in `process` (the task, files, fs, sighand, namespaces,
//! the pid) and in `mm` (`copy_mm`, once per page copied).

use core::sync::atomic::{AtomicU32, Ordering};

/// The stages of `copy_process`, defined with their names and numbering by the
/// VMM/guest protocol.
pub use protocol::mailbox::FaultStage as Stage;
use protocol::mailbox::FAULT_STAGES;

/// Parse `STAGE:N` (N >= 1).
pub fn parse(spec: &str) -> Option<(Stage, u32)> {
    let (name, n) = spec.split_once(':')?;
    let stage = Stage::from_name(name)?;
    let n: u32 = n.parse().ok().filter(|&n| n >= 1)?;
    Some((stage, n))
}

/// Countdown per stage: 0 = not armed; the reach that brings it from 1 to 0 fails.
static ARMED: [AtomicU32; FAULT_STAGES.len()] = [const { AtomicU32::new(0) }; FAULT_STAGES.len()];

pub fn arm(stage: Stage, nth: u32) {
    ARMED[stage as usize].store(nth, Ordering::Relaxed);
}

/// True if this reach of `stage` must fail.
pub fn should_fail(stage: Stage) -> bool {
    let slot = &ARMED[stage as usize];
    let fire =
        slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1)) == Ok(1);
    if fire {
        crate::counters::global_add(crate::counters::FAULT_INJECTIONS, 1);
    }
    fire
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_countdown() {
        assert_eq!(parse("copy_mm:3"), Some((Stage::CopyMm, 3)));
        assert_eq!(parse("alloc_pid:1"), Some((Stage::AllocPid, 1)));
        assert_eq!(parse("copy_namespaces:2"), Some((Stage::CopyNamespaces, 2)));
        for (i, stage) in Stage::ALL.iter().enumerate() {
            assert_eq!(*stage as usize, i, "Stage::ALL is indexed by Stage");
        }
        assert_eq!(Stage::ALL.map(Stage::name), protocol::mailbox::FAULT_STAGES);
        assert_eq!(parse("copy_mm:0"), None);
        assert_eq!(parse("nope:1"), None);
        assert_eq!(parse("copy_mm"), None);
        arm(Stage::CopyFs, 2);
        assert!(!should_fail(Stage::CopyFs));
        assert!(should_fail(Stage::CopyFs));
        assert!(!should_fail(Stage::CopyFs), "fires once");
        assert!(!should_fail(Stage::CopyFiles), "other stages unarmed");
    }
}
