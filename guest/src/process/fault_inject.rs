//! Fault injection for `copy_process` (Linux: fail_nth / failslab, in
//! miniature): `fail=STAGE:N` on the kernel command line makes the Nth time that
//! stage is reached fail as its allocation would (ENOMEM; EAGAIN for the pid).
//! `kernel_clone` then checks that the failed clone left nothing behind.

use core::sync::atomic::{AtomicU32, Ordering};

/// The stages of `copy_process`, in order, except that stages added later come
/// last (the numbering is an ABI: `protocol::mailbox::FAULT_STAGES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The task's kernel stack.
    DupTaskStruct = 0,
    CopyFiles = 1,
    CopyFs = 2,
    CopySighand = 3,
    /// Each page copied by `copy_page_range` counts as one reach of this stage,
    /// so N > 1 fails part-way through the copy.
    CopyMm = 4,
    AllocPid = 5,
    /// The new `nsproxy` of a clone that asks for new namespaces (reached only
    /// with CLONE_NEWPID or CLONE_NEWUTS; between `copy_mm` and `alloc_pid`).
    CopyNamespaces = 6,
}

pub const STAGES: [(Stage, &str); 7] = [
    (Stage::DupTaskStruct, "dup_task_struct"),
    (Stage::CopyFiles, "copy_files"),
    (Stage::CopyFs, "copy_fs"),
    (Stage::CopySighand, "copy_sighand"),
    (Stage::CopyMm, "copy_mm"),
    (Stage::AllocPid, "alloc_pid"),
    (Stage::CopyNamespaces, "copy_namespaces"),
];

/// Parse `STAGE:N` (N >= 1).
pub fn parse(spec: &str) -> Option<(Stage, u32)> {
    let (name, n) = spec.split_once(':')?;
    let stage = STAGES.iter().find(|(_, s)| *s == name)?.0;
    let n: u32 = n.parse().ok().filter(|&n| n >= 1)?;
    Some((stage, n))
}

/// Countdown per stage: 0 = not armed; the reach that brings it from 1 to 0 fails.
static ARMED: [AtomicU32; STAGES.len()] = [const { AtomicU32::new(0) }; STAGES.len()];

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
        for (i, (stage, _)) in STAGES.iter().enumerate() {
            assert_eq!(*stage as usize, i, "STAGES is indexed by Stage");
        }
        assert_eq!(STAGES.map(|(_, name)| name), protocol::mailbox::FAULT_STAGES);
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
