//! The control mailbox: the VMM posts a command, the guest answers.
//!
//! The mailbox is one region at [`crate::boot::MAILBOX_GPA`]. To post, the VMM
//! fills [`Mailbox::command`] and its arguments, increments [`Mailbox::seq`] and
//! raises interrupt [`MAILBOX_VECTOR`] on CPU 0 (an MSI, never polling). The guest's
//! interrupt handler wakes the kernel thread `kmailboxd`, which carries the command
//! out in process context, writes [`Mailbox::status`] and the reply, sets
//! [`Mailbox::reply_seq`] to `seq` and makes the [`MailboxReply`](crate::hypercall::Hypercall::MailboxReply)
//! hypercall. One command is outstanding at a time.

/// The interrupt vector that rings the guest's doorbell.
pub const MAILBOX_VECTOR: u8 = 0xf3;

/// Bytes of reply payload.
pub const REPLY_MAX: usize = 16 * 1024;

/// Commands.
pub mod command {
    /// Arm fault injection: `args[0]` = stage (index into [`super::FAULT_STAGES`]),
    /// `args[1]` = N >= 1: the Nth reach of that stage from now on fails. Status 0.
    pub const INJECT_FAULT: u32 = 1;
    /// Snapshot the counters (the VMM reads them when the reply arrives); `args[0]`
    /// = 1 also resets them afterwards. Status 0.
    pub const COUNTERS: u32 = 2;
    /// Write the process table into the reply as [`super::ProcEntry`] records.
    /// Status: the number of records.
    pub const PROCESS_TABLE: u32 = 3;
    /// Shut the guest down with exit status `args[0]` (0–255). No reply: the
    /// guest exits.
    pub const SHUTDOWN: u32 = 4;
}

macro_rules! fault_stages {
    ($($(#[$meta:meta])* $stage:ident = $name:literal,)*) => {
        /// The stages of `copy_process` that fault injection can fail, in
        /// order, except that stages added later come last: the index is the
        /// ABI ([`command::INJECT_FAULT`]'s `args[0]`), the name that of
        /// `--fail-at STAGE:N` and the kernel's `fail=STAGE:N`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum FaultStage {
            $($(#[$meta])* $stage,)*
        }

        impl FaultStage {
            /// Every stage, by index.
            pub const ALL: [FaultStage; FAULT_STAGES.len()] = [$(FaultStage::$stage),*];

            /// The stage's name (Linux's function).
            pub const fn name(self) -> &'static str {
                FAULT_STAGES[self as usize]
            }
        }

        /// The stages' names, by index.
        pub const FAULT_STAGES: [&str; [$($name),*].len()] = [$($name),*];
    };
}

fault_stages! {
    /// The task's kernel stack.
    DupTaskStruct = "dup_task_struct",
    CopyFiles = "copy_files",
    CopyFs = "copy_fs",
    CopySighand = "copy_sighand",
    /// Each page copied by `copy_page_range` counts as one reach of this stage,
    /// so N > 1 fails part-way through the copy.
    CopyMm = "copy_mm",
    AllocPid = "alloc_pid",
    /// The new `nsproxy` of a clone that asks for new namespaces (reached only
    /// with CLONE_NEWPID or CLONE_NEWUTS; between `copy_mm` and `alloc_pid`).
    CopyNamespaces = "copy_namespaces",
    /// The pidfd of a clone with CLONE_PIDFD (Linux `pidfd_prepare`, after
    /// `alloc_pid`; reached only with CLONE_PIDFD).
    PidfdPrepare = "pidfd_prepare",
    /// The cgroup checks of every fork (Linux `cgroup_can_fork`, after
    /// `pidfd_prepare`): fails as the pids controller does, EAGAIN.
    CgroupCanFork = "cgroup_can_fork",
}

impl FaultStage {
    /// The stage of index `i`.
    pub fn from_index(i: u64) -> Option<FaultStage> {
        usize::try_from(i).ok().and_then(|i| FaultStage::ALL.get(i).copied())
    }

    /// The stage named `name`.
    pub fn from_name(name: &str) -> Option<FaultStage> {
        FaultStage::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[repr(C, align(4096))]
#[derive(Clone, Copy)]
pub struct Mailbox {
    /// Incremented by the VMM for each command posted.
    pub seq: u64,
    pub command: u32,
    pub _pad: u32,
    pub args: [u64; 6],
    /// Set to `seq` by the guest once the reply below is complete.
    pub reply_seq: u64,
    /// Non-negative on success, `-errno` on failure (`EINVAL` for a bad command
    /// or argument).
    pub status: i64,
    /// Bytes of `reply` used.
    pub reply_len: u64,
    /// Set to 1 by the guest once `kmailboxd` runs: a command posted now is
    /// answered unless the kernel is wedged (the VMM asks for the task table
    /// at a timeout only then).
    pub serving: u64,
    pub reserved: [u64; 4],
    pub reply: [u8; REPLY_MAX],
}

impl Default for Mailbox {
    fn default() -> Self {
        Self {
            seq: 0,
            command: 0,
            _pad: 0,
            args: [0; 6],
            reply_seq: 0,
            status: 0,
            reply_len: 0,
            serving: 0,
            reserved: [0; 4],
            reply: [0; REPLY_MAX],
        }
    }
}

/// One task in a [`command::PROCESS_TABLE`] reply.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub uid: u32,
    /// Linux's `/proc/PID/stat` state letter: R, S, D, Z, X.
    pub state: u8,
    /// 1 for a kernel thread.
    pub kthread: u8,
    /// Its scheduler state: [`SCHED_ON_RQ`], [`SCHED_ON_CPU`],
    /// [`SCHED_NEED_RESCHED`] (a runnable task with none of the first two
    /// is on no CPU's queue: lost).
    pub sched: u8,
    pub _pad: u8,
    /// The CPU it last ran on.
    pub cpu: u32,
    /// Its scheduling policy and nice value.
    pub policy: u32,
    pub nice: i32,
    pub comm: [u8; 16],
    /// Signals pending for the thread, for its process (Linux
    /// `pending`, `signal->shared_pending`), and blocked.
    pub pending: u64,
    pub shared_pending: u64,
    pub blocked: u64,
    /// Linux `task->jobctl` (JOBCTL_* bits).
    pub jobctl: u32,
    /// The process's job-control flags (SIGNAL_STOP_* / SIGNAL_CLD_* /
    /// SIGNAL_GROUP_EXIT) and `group_stop_count`; `u32::MAX` when their lock
    /// was held at the moment (the table is read without waiting).
    pub group_flags: u32,
    pub group_stop_count: u32,
    /// The fatal signal it is dying of, 0 if none.
    pub fatal_signal: u32,
    /// The number of the last system call it made (0 before its first; -1
    /// for a kernel thread, or when its lock was held at the moment): the
    /// one it sleeps in when its state is S, T or D.
    pub syscall: i32,
    /// Threads of its process that have not finished exiting (Linux
    /// `signal->live`): a zombie leader is reapable only at 0.
    pub live: u32,
}

/// [`ProcEntry::sched`]: waiting in a run queue (Linux `on_rq`).
pub const SCHED_ON_RQ: u8 = 1;
/// [`ProcEntry::sched`]: running, or still switching out (Linux `on_cpu`).
pub const SCHED_ON_CPU: u8 = 2;
/// [`ProcEntry::sched`]: asked to reschedule (Linux `TIF_NEED_RESCHED`).
pub const SCHED_NEED_RESCHED: u8 = 4;

/// Bytes of one encoded [`ProcEntry`].
pub const PROC_ENTRY_SIZE: usize = core::mem::size_of::<ProcEntry>();

impl ProcEntry {
    /// Its bytes as laid out in memory (`#[repr(C)]`, little endian), without
    /// `unsafe`: the guest writes replies with this and the VMM reads them back
    /// with [`ProcEntry::decode`].
    pub fn encode(&self) -> [u8; PROC_ENTRY_SIZE] {
        let mut b = [0u8; PROC_ENTRY_SIZE];
        let words: [u32; 6] = [
            self.pid as u32,
            self.tgid as u32,
            self.ppid as u32,
            self.pgid as u32,
            self.sid as u32,
            self.uid,
        ];
        for (i, w) in words.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        b[24] = self.state;
        b[25] = self.kthread;
        b[26] = self.sched;
        b[28..32].copy_from_slice(&self.cpu.to_le_bytes());
        b[32..36].copy_from_slice(&self.policy.to_le_bytes());
        b[36..40].copy_from_slice(&self.nice.to_le_bytes());
        b[40..56].copy_from_slice(&self.comm);
        b[56..64].copy_from_slice(&self.pending.to_le_bytes());
        b[64..72].copy_from_slice(&self.shared_pending.to_le_bytes());
        b[72..80].copy_from_slice(&self.blocked.to_le_bytes());
        let tail = [
            self.jobctl,
            self.group_flags,
            self.group_stop_count,
            self.fatal_signal,
            self.syscall as u32,
            self.live,
        ];
        for (i, w) in tail.iter().enumerate() {
            b[80 + 4 * i..84 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    pub fn decode(b: &[u8; PROC_ENTRY_SIZE]) -> Self {
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let q = |i: usize| u64::from(w(i)) | u64::from(w(i + 4)) << 32;
        let mut comm = [0u8; 16];
        comm.copy_from_slice(&b[40..56]);
        Self {
            pid: w(0) as i32,
            tgid: w(4) as i32,
            ppid: w(8) as i32,
            pgid: w(12) as i32,
            sid: w(16) as i32,
            uid: w(20),
            state: b[24],
            kthread: b[25],
            sched: b[26],
            _pad: 0,
            cpu: w(28),
            policy: w(32),
            nice: w(36) as i32,
            comm,
            pending: q(56),
            shared_pending: q(64),
            blocked: q(72),
            jobctl: w(80),
            group_flags: w(84),
            group_stop_count: w(88),
            fatal_signal: w(92),
            syscall: w(96) as i32,
            live: w(100),
        }
    }

    /// The name up to its first NUL.
    pub fn comm_str(&self) -> &str {
        let n = self.comm.iter().position(|&c| c == 0).unwrap_or(16);
        core::str::from_utf8(&self.comm[..n]).unwrap_or("?")
    }
}

const _: () = assert!(PROC_ENTRY_SIZE == 104);

/// Word indices of the mailbox's fields (the guest accesses it as 64-bit words).
pub mod word {
    use super::Mailbox;
    use core::mem::offset_of;
    pub const SEQ: usize = offset_of!(Mailbox, seq) / 8;
    /// `command` in the low 32 bits.
    pub const COMMAND: usize = offset_of!(Mailbox, command) / 8;
    pub const ARGS: usize = offset_of!(Mailbox, args) / 8;
    pub const REPLY_SEQ: usize = offset_of!(Mailbox, reply_seq) / 8;
    pub const STATUS: usize = offset_of!(Mailbox, status) / 8;
    pub const REPLY_LEN: usize = offset_of!(Mailbox, reply_len) / 8;
    pub const SERVING: usize = offset_of!(Mailbox, serving) / 8;
    pub const REPLY: usize = offset_of!(Mailbox, reply) / 8;
}

/// Records that fit in one reply.
pub const PROC_ENTRIES_MAX: usize = REPLY_MAX / core::mem::size_of::<ProcEntry>();
