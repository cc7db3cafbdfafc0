//! Trace rings: scheduler and process tracepoints that the guest writes and the
//! VMM drains while the guest runs, without a VM exit per event.
//!
//! The VMM reserves `cpu_count` rings of [`BootInfo::trace_ring_bytes`] each,
//! back to back at [`BootInfo::trace_gpa`] (memory kind
//! [`MemoryKind::Trace`]); `trace_gpa == 0` means tracing is off and every
//! tracepoint costs one load and one branch. Each ring has one producer, its
//! CPU (which writes with interrupts off), and one consumer, the VMM's drain
//! thread: a single-producer single-consumer queue of fixed-size records as
//! perf's ring buffer, with free-running 64-bit `head` (written by the guest)
//! and `tail` (written by the VMM) counters in separate cache lines. The
//! producer publishes a record by storing `head` with release ordering after
//! the record's words; the consumer reads `head` with acquire ordering, copies
//! the records, then stores `tail` with release ordering, which hands the slots
//! back. A full ring drops the new record and counts it in `dropped`: the
//! guest never waits for the VMM.
//!
//! Events are Linux's tracepoints of `include/trace/events/sched.h` where Linux
//! has one (their fields, pids as Linux's `task->pid`: the initial PID
//! namespace's), and two of this kernel's own for copy-on-write.
//!
//! [`BootInfo::trace_ring_bytes`]: crate::boot::BootInfo::trace_ring_bytes
//! [`BootInfo::trace_gpa`]: crate::boot::BootInfo::trace_gpa
//! [`MemoryKind::Trace`]: crate::boot::MemoryKind::Trace

use core::sync::atomic::{AtomicU64, Ordering};

/// Bytes of one record: TSC, event and CPU, [`ARGS`] argument words.
pub const RECORD_BYTES: u64 = 64;
/// Argument words per record.
pub const ARGS: usize = 6;
/// Bytes before a ring's first record: `head`, `tail` and `dropped`, each in
/// its own cache line.
pub const RING_HEADER_BYTES: u64 = 256;
/// Word indices of the ring header.
pub const HEAD_WORD: usize = 0;
pub const TAIL_WORD: usize = 8;
pub const DROPPED_WORD: usize = 16;
const RECORDS_WORD: usize = (RING_HEADER_BYTES / 8) as usize;
const RECORD_WORDS: usize = (RECORD_BYTES / 8) as usize;
/// The default size of each CPU's ring (16,380 records).
pub const DEFAULT_RING_BYTES: u64 = 1 << 20;

/// Records a ring of `ring_bytes` holds.
pub const fn capacity(ring_bytes: u64) -> u64 {
    ring_bytes.saturating_sub(RING_HEADER_BYTES) / RECORD_BYTES
}

/// One record as the VMM reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The guest's TSC when the event happened.
    pub tsc: u64,
    /// An [`Event`] number (the VMM keeps unknown ones as they are).
    pub event: u32,
    /// The CPU whose ring the record is in.
    pub cpu: u32,
    pub args: [u64; ARGS],
}

macro_rules! events {
    ($( $(#[$m:meta])* $name:ident = $n:literal, $str:literal, [$($arg:literal),*]; )*) => {
        /// The tracepoints.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Event {
            $( $(#[$m])* $name = $n, )*
        }

        impl Event {
            /// Every event, by number.
            pub const ALL: &'static [Event] = &[$(Event::$name),*];

            pub fn from_u32(n: u32) -> Option<Event> {
                match n {
                    $( $n => Some(Event::$name), )*
                    _ => None,
                }
            }

            /// Linux's name of the tracepoint.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Event::$name => $str, )*
                }
            }

            /// The names of the argument words, in order (`comm` takes two
            /// words: [`comm_words`]).
            pub const fn arg_names(self) -> &'static [&'static str] {
                match self {
                    $( Event::$name => &[$($arg),*], )*
                }
            }
        }
    };
}

events! {
    /// `kernel_clone` made a task (Linux `trace_sched_process_fork`, just
    /// before `wake_up_new_task`).
    SchedProcessFork = 1, "sched_process_fork",
        ["parent_pid", "child_pid", "clone_flags", "parent_comm", "parent_comm+8", "child_tgid"];
    /// A new task is made runnable on `target_cpu`.
    SchedWakeupNew = 2, "sched_wakeup_new", ["pid", "prio", "target_cpu"];
    /// The CPU switches from `prev_pid` to `next_pid` (0: the idle task);
    /// `prev_state` as Linux reports it (0 runnable, 1 S, 0x20 zombie).
    SchedSwitch = 3, "sched_switch", ["prev_pid", "prev_prio", "prev_state", "next_pid", "next_prio"];
    /// A sleeping task is made runnable on `target_cpu`.
    SchedWakeup = 4, "sched_wakeup", ["pid", "prio", "target_cpu"];
    /// A task moves to another CPU's run queue.
    SchedMigrateTask = 5, "sched_migrate_task", ["pid", "prio", "orig_cpu", "dest_cpu"];
    /// A task executed a program (`comm`: its new name).
    SchedProcessExec = 6, "sched_process_exec", ["pid", "old_pid", "comm", "comm+8"];
    /// A task exits (`group_dead`: it was its process's last thread).
    SchedProcessExit = 7, "sched_process_exit", ["pid", "prio", "group_dead", "comm", "comm+8"];
    /// A task begins waiting for children (`wait_pid` as Linux passes it:
    /// `-1` any, `> 0` that one, `0` the caller's group; as `i64`).
    SchedProcessWait = 8, "sched_process_wait", ["pid", "wait_pid"];
    /// A zombie is released (reaped by `reaper_pid`, or by the kernel).
    SchedProcessFree = 9, "sched_process_free", ["pid", "reaper_pid"];
    /// A write fault on a copy-on-write page (`do_wp_page`): `copied` 1 when
    /// the page was copied, 0 when it was reused (its only user).
    MmCowFault = 10, "do_wp_page", ["pid", "address", "copied"];
    /// Page tables shared since a fork were made private to `pid`'s address
    /// space for a write at `address`: `tables` made private.
    MmPageTableUnshare = 11, "pt_unshare", ["pid", "address", "tables"];
    /// A task moved to another cgroup (Linux `trace_cgroup_attach_task`):
    /// the cgroup's id and depth.
    CgroupAttachTask = 12, "cgroup_attach_task", ["pid", "dst_id", "dst_level"];
}

/// A 16-byte `comm` as two argument words (little-endian).
pub fn comm_words(comm: &[u8; 16]) -> [u64; 2] {
    let (a, b) = comm.split_at(8);
    [u64::from_le_bytes(a.try_into().unwrap()), u64::from_le_bytes(b.try_into().unwrap())]
}

/// The bytes of a `comm` from its two words, up to the first NUL.
pub fn comm_bytes(words: [u64; 2]) -> ([u8; 16], usize) {
    let mut c = [0u8; 16];
    c[..8].copy_from_slice(&words[0].to_le_bytes());
    c[8..].copy_from_slice(&words[1].to_le_bytes());
    let len = c.iter().position(|&b| b == 0).unwrap_or(16);
    (c, len)
}

/// Memory a ring lives in, as 64-bit words: the guest's direct map, or the
/// VMM's mapping of guest memory.
pub trait Words {
    fn load(&self, word: usize, order: Ordering) -> u64;
    fn store(&self, word: usize, value: u64, order: Ordering);
    /// Number of words.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Words for [AtomicU64] {
    #[inline]
    fn load(&self, word: usize, order: Ordering) -> u64 {
        self[word].load(order)
    }
    #[inline]
    fn store(&self, word: usize, value: u64, order: Ordering) {
        self[word].store(value, order)
    }
    fn len(&self) -> usize {
        <[AtomicU64]>::len(self)
    }
}

/// Append a record (the ring's one producer): false if the ring was full and
/// the record was dropped (counted).
#[inline]
pub fn produce<W: Words + ?Sized>(ring: &W, tsc: u64, event: u32, cpu: u32, args: &[u64]) -> bool {
    let cap = ((ring.len() - RECORDS_WORD) / RECORD_WORDS) as u64;
    let head = ring.load(HEAD_WORD, Ordering::Relaxed);
    let tail = ring.load(TAIL_WORD, Ordering::Acquire);
    if cap == 0 || head.wrapping_sub(tail) >= cap {
        // Only the producer writes `dropped`.
        let d = ring.load(DROPPED_WORD, Ordering::Relaxed);
        ring.store(DROPPED_WORD, d + 1, Ordering::Relaxed);
        return false;
    }
    let at = RECORDS_WORD + (head % cap) as usize * RECORD_WORDS;
    ring.store(at, tsc, Ordering::Relaxed);
    ring.store(at + 1, u64::from(event) | u64::from(cpu) << 32, Ordering::Relaxed);
    for i in 0..ARGS {
        ring.store(at + 2 + i, args.get(i).copied().unwrap_or(0), Ordering::Relaxed);
    }
    ring.store(HEAD_WORD, head.wrapping_add(1), Ordering::Release);
    true
}

/// Take every published record (the ring's one consumer), oldest first, into
/// `out`; the ring's `dropped` count. A `head` that is not within one ring of
/// `tail` (a guest writing nonsense) is taken as empty.
pub fn consume<W: Words + ?Sized>(ring: &W, out: &mut impl Extend<Record>) -> u64 {
    let dropped = ring.load(DROPPED_WORD, Ordering::Relaxed);
    if ring.len() < RECORDS_WORD + RECORD_WORDS {
        return dropped;
    }
    let cap = ((ring.len() - RECORDS_WORD) / RECORD_WORDS) as u64;
    let head = ring.load(HEAD_WORD, Ordering::Acquire);
    let tail = ring.load(TAIL_WORD, Ordering::Relaxed);
    let n = head.wrapping_sub(tail);
    if n == 0 || n > cap {
        return dropped;
    }
    out.extend((0..n).map(|k| {
        let at = RECORDS_WORD + (tail.wrapping_add(k) % cap) as usize * RECORD_WORDS;
        let w = |i| ring.load(at + i, Ordering::Relaxed);
        let id = w(1);
        let mut args = [0; ARGS];
        for (i, a) in args.iter_mut().enumerate() {
            *a = w(2 + i);
        }
        Record { tsc: w(0), event: id as u32, cpu: (id >> 32) as u32, args }
    }));
    ring.store(TAIL_WORD, head, Ordering::Release);
    dropped
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn ring(records: u64) -> Vec<AtomicU64> {
        let words = (RING_HEADER_BYTES + records * RECORD_BYTES) / 8;
        (0..words).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn records_come_out_in_order_across_the_wrap_and_a_full_ring_drops() {
        let r = ring(4);
        let r = r.as_slice();
        assert_eq!(capacity(RING_HEADER_BYTES + 4 * RECORD_BYTES), 4);
        let mut out = Vec::new();
        for round in 0..3u64 {
            for i in 0..3 {
                assert!(produce(r, round * 10 + i, 3, 1, &[i, round]));
            }
            assert_eq!(consume(r, &mut out), 0);
        }
        let tscs: Vec<u64> = out.iter().map(|r| r.tsc).collect();
        assert_eq!(tscs, [0, 1, 2, 10, 11, 12, 20, 21, 22]);
        assert_eq!(out[4], Record { tsc: 11, event: 3, cpu: 1, args: [1, 1, 0, 0, 0, 0] });
        for i in 0..6 {
            assert_eq!(produce(r, i, 1, 0, &[]), i < 4);
        }
        out.clear();
        assert_eq!(consume(r, &mut out), 2, "two dropped");
        assert_eq!(out.len(), 4);
        assert_eq!(consume(r, &mut out), 2);
        assert_eq!(out.len(), 4, "nothing new");
    }

    #[test]
    fn a_nonsense_head_reads_as_empty() {
        let r = ring(4);
        r[HEAD_WORD].store(1000, Ordering::Relaxed);
        let mut out = Vec::new();
        consume(r.as_slice(), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn events_round_trip() {
        for &e in Event::ALL {
            assert_eq!(Event::from_u32(e as u32), Some(e));
            assert!(e.arg_names().len() <= ARGS);
        }
        let mut c = [0u8; 16];
        c[..5].copy_from_slice(b"forky");
        let (b, n) = comm_bytes(comm_words(&c));
        assert_eq!(&b[..n], b"forky");
    }
}
