//! The hypercall ABI.
//!
//! A hypercall is `out dx, eax` with `dx` = one of the ports below and `eax` = the
//! guest-physical address of the call's parameter struct (below 4 GiB, aligned to
//! [`PARAM_ALIGN`]). It costs exactly one exit whatever the size of the parameters.
//! The VMM validates the address and every field before it touches guest memory,
//! and writes the result into the calling vCPU's slot of [`StatusSlots`]: a
//! non-negative value on success, `-errno` on failure (`ENOSYS` for an unknown call,
//! `EINVAL` for a misaligned or oversized request, `EFAULT` for an address outside
//! guest memory). A malformed call never stops the VM.

/// First port of the hypercall range; the calls are `PORT_BASE + n`.
pub const PORT_BASE: u16 = 0x0500;
/// Number of ports reserved for hypercalls (unknown ones answer `-ENOSYS`).
pub const PORT_COUNT: u16 = 0x40;
/// Required alignment of a parameter struct's guest-physical address.
pub const PARAM_ALIGN: u64 = 8;
/// Largest console write accepted in one call.
pub const CONSOLE_MAX: u64 = 64 * 1024;
/// Largest panic message accepted.
pub const PANIC_MAX: u64 = 4096;

/// The calls, by port number.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hypercall {
    /// [`ConsoleWrite`]: write bytes to the VMM's console (stdout).
    Console = PORT_BASE,
    /// [`Exit`]: the guest is done; its status becomes the VMM's exit code.
    Exit = PORT_BASE + 1,
    /// [`ExceptionReport`]: an unhandled CPU exception in the kernel.
    Exception = PORT_BASE + 2,
    /// [`PanicReport`]: a kernel panic with its message.
    Panic = PORT_BASE + 3,
    /// [`StartCpus`]: the boot CPU has set up shared state; start the others.
    StartCpus = PORT_BASE + 4,
    /// [`Ready`]: every CPU is online; the guest is ready for work.
    Ready = PORT_BASE + 5,
    /// [`Snapshot`]: record the counters and KVM's statistics now, under a label.
    Snapshot = PORT_BASE + 6,
    /// [`MailboxReply`]: the reply to the mailbox's current command is complete.
    MailboxReply = PORT_BASE + 7,
    /// [`BulkMem`]: zero or copy guest memory natively, a batch of [`BulkOp`]s.
    BulkMem = PORT_BASE + 8,
    /// [`PvWait`]: block this vCPU while a lock word holds a value, until a
    /// `PvKick` on that word or a short timeout (Linux's pv spinlock
    /// `kvm_wait`, here without an interrupt: it works with interrupts off).
    PvWait = PORT_BASE + 9,
    /// [`PvKick`]: wake one vCPU blocked in `PvWait` on a lock word (Linux
    /// `kvm_kick_cpu`, keyed by the lock as a futex is).
    PvKick = PORT_BASE + 10,
}

impl Hypercall {
    /// The call named by `port`, if any.
    pub const fn from_port(port: u16) -> Option<Self> {
        Some(match port {
            p if p == Self::Console as u16 => Self::Console,
            p if p == Self::Exit as u16 => Self::Exit,
            p if p == Self::Exception as u16 => Self::Exception,
            p if p == Self::Panic as u16 => Self::Panic,
            p if p == Self::StartCpus as u16 => Self::StartCpus,
            p if p == Self::Ready as u16 => Self::Ready,
            p if p == Self::Snapshot as u16 => Self::Snapshot,
            p if p == Self::MailboxReply as u16 => Self::MailboxReply,
            p if p == Self::BulkMem as u16 => Self::BulkMem,
            p if p == Self::PvWait as u16 => Self::PvWait,
            p if p == Self::PvKick as u16 => Self::PvKick,
            _ => return None,
        })
    }

    /// Whether `port` lies in the hypercall range (known call or not).
    pub const fn in_range(port: u16) -> bool {
        port >= PORT_BASE && port < PORT_BASE + PORT_COUNT
    }

    /// Size of the parameter struct this call reads.
    pub const fn param_size(self) -> usize {
        match self {
            Self::Console => core::mem::size_of::<ConsoleWrite>(),
            Self::Exit => core::mem::size_of::<Exit>(),
            Self::Exception => core::mem::size_of::<ExceptionReport>(),
            Self::Panic => core::mem::size_of::<PanicReport>(),
            Self::StartCpus => core::mem::size_of::<StartCpus>(),
            Self::Ready => core::mem::size_of::<Ready>(),
            Self::Snapshot => core::mem::size_of::<Snapshot>(),
            Self::MailboxReply => core::mem::size_of::<MailboxReply>(),
            Self::BulkMem => core::mem::size_of::<BulkMem>(),
            Self::PvWait => core::mem::size_of::<PvWait>(),
            Self::PvKick => core::mem::size_of::<PvKick>(),
        }
    }
}

/// Per-vCPU result words, written by the VMM before the vCPU resumes.
/// `slot[cpu]` holds the result of that CPU's last hypercall.
#[repr(C, align(4096))]
pub struct StatusSlots {
    pub slot: [i64; crate::MAX_CPUS],
}

/// `Console`: `len` bytes at guest-physical `buf` to `stream`. Result: bytes written.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleWrite {
    pub buf: u64,
    pub len: u64,
    /// One of [`stream`].
    pub stream: u32,
    pub _pad: u32,
}

/// Console streams: the kernel's own messages, and user programs' fds 1 and 2.
pub mod stream {
    pub const KERNEL: u32 = 0;
    pub const STDOUT: u32 = 1;
    pub const STDERR: u32 = 2;
}

/// `Exit`: the guest's exit status (0–255 on the VMM's side).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exit {
    pub status: u32,
    pub _pad: u32,
}

/// `Exception`: everything needed to find the faulting instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExceptionReport {
    pub cpu: u32,
    pub vector: u32,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub cr2: u64,
    pub cr3: u64,
    /// rax, rbx, rcx, rdx, rsi, rdi, rbp, r8..r15 in that order.
    pub gprs: [u64; 15],
}

/// Names of [`ExceptionReport::gprs`], in order.
pub const GPR_NAMES: [&str; 15] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15",
];

/// `Panic`: the message (`len` bytes at `msg`) and the CPU it happened on.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PanicReport {
    pub cpu: u32,
    pub _pad: u32,
    pub msg: u64,
    pub len: u64,
}

/// `StartCpus`: no parameters beyond a reserved word (a struct keeps the ABI uniform).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartCpus {
    pub reserved: u64,
}

/// `Ready`: the number of CPUs online.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    pub cpus_online: u64,
}

/// Longest snapshot label.
pub const LABEL_MAX: u64 = 64;
/// Snapshots the VMM keeps for one run; later ones are refused with `-ENOSPC`
/// (a guest cannot make the VMM's memory grow without bound).
pub const SNAPSHOTS_MAX: u64 = 4096;

/// `Snapshot`: the VMM copies the counter page and reads every vCPU's KVM
/// statistics, and keeps them with the label (`len` bytes of UTF-8 at `label`)
/// and its own clock. The guest resets its counters after the call returns when
/// it was asked to. Result: 0, or `-ENOSPC` once [`SNAPSHOTS_MAX`] were taken.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub label: u64,
    pub len: u64,
    /// The guest's TSC when it made the call.
    pub tsc: u64,
    /// 1 if the counters are reset after this snapshot.
    pub reset: u32,
    pub _pad: u32,
}

/// `MailboxReply`: the sequence number of the command answered.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailboxReply {
    pub seq: u64,
}

/// Most operations in one [`BulkMem`] call.
pub const BULK_OPS_MAX: u32 = 64;
/// Most bytes one [`BulkOp`] may cover.
pub const BULK_OP_LEN_MAX: u64 = 2 << 20;
/// Most bytes one [`BulkMem`] call may cover (all its operations): bounds the
/// time the calling vCPU spends in the VMM.
pub const BULK_BYTES_MAX: u64 = 4 << 20;

/// `BulkMem`: carry out the `count` operations of the array of [`BulkOp`] at
/// guest-physical `ops` (8-byte aligned), in order, with the host's own
/// `memset`/`memcpy`. One exit does any number of pages, where the guest's
/// `rep stosq`/`rep movsq` may be emulated an instruction at a time.
///
/// The VMM validates the whole batch before it does any of it, so a refused
/// call changes nothing. Checks, in this order: `count` is 1 to
/// [`BULK_OPS_MAX`] and `flags` 0 (`-EINVAL`, or `-E2BIG` for too many), the
/// array lies in guest memory (`-EFAULT`); then for each operation: a known
/// `op` with its unused fields 0, `len` 1 to [`BULK_OP_LEN_MAX`] (`-EINVAL`,
/// `-E2BIG`), the ranges in guest memory and not wrapping (`-EFAULT`), the
/// destination in RAM the guest owns, above the kernel image (`-EPERM`: the
/// boot structures, the boot page tables and the kernel are never written),
/// a copy's source and destination disjoint (`-EINVAL`); and the batch's
/// total at most [`BULK_BYTES_MAX`] (`-E2BIG`). Result: the number of
/// operations done (`count`).
///
/// The guest's side of the contract: the VMM writes behind the back of KVM's
/// shadow page tables (on hosts without two-dimensional paging), so a
/// destination is never a frame the guest uses as a page table.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulkMem {
    pub ops: u64,
    pub count: u32,
    pub flags: u32,
}

/// One operation of a [`BulkMem`] call.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulkOp {
    /// One of [`bulk_op`].
    pub op: u32,
    pub _pad: u32,
    /// Guest-physical destination.
    pub dst: u64,
    /// Guest-physical source (a copy), 0 otherwise.
    pub src: u64,
    pub len: u64,
}

/// [`BulkOp::op`] values (0 is no operation: a zeroed array is refused).
pub mod bulk_op {
    /// Zero `[dst, dst + len)`.
    pub const ZERO: u32 = 1;
    /// Copy `[src, src + len)` to `[dst, dst + len)`.
    pub const COPY: u32 = 2;
}

/// `PvWait`: block the calling vCPU while the 32-bit word at guest-physical
/// `lock` (4-byte aligned) equals `val`, checked under the VMM's wait-queue
/// lock so that a `PvKick` after the guest changed the word is never missed
/// (futex semantics). Returns at the latest after [`PV_WAIT_MAX_US`]. Result: 1
/// if kicked, 0 if the word differed or the wait timed out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PvWait {
    pub lock: u64,
    pub val: u32,
    pub _pad: u32,
}

/// `PvKick`: wake one vCPU waiting in `PvWait` on the word at `lock`. Result:
/// the number woken (0 or 1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PvKick {
    pub lock: u64,
}

/// The longest a `PvWait` blocks without a kick: a bound on the cost of a lost
/// kick (none is expected) and on how long a stopping VM waits for its vCPUs.
pub const PV_WAIT_MAX_US: u64 = 2_000;

/// Names of the x86 exception vectors, as the SDM abbreviates them.
pub const fn exception_name(vector: u32) -> &'static str {
    match vector {
        0 => "#DE divide error",
        1 => "#DB debug",
        2 => "NMI",
        3 => "#BP breakpoint",
        4 => "#OF overflow",
        5 => "#BR bound range",
        6 => "#UD invalid opcode",
        7 => "#NM device not available",
        8 => "#DF double fault",
        10 => "#TS invalid TSS",
        11 => "#NP segment not present",
        12 => "#SS stack fault",
        13 => "#GP general protection",
        14 => "#PF page fault",
        16 => "#MF x87 floating point",
        17 => "#AC alignment check",
        18 => "#MC machine check",
        19 => "#XM SIMD floating point",
        20 => "#VE virtualization",
        21 => "#CP control protection",
        _ => "reserved/unknown vector",
    }
}
