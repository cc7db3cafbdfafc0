//! The counter page: written by the guest with plain stores, read by the VMM at any
//! time without an exit. Each CPU writes only its own [`CpuCounters`] (so no locked
//! instructions are needed); global fields are updated atomically.
//!
//! The layout is append-only within an ABI version: new counters go at the end of
//! a struct's reserved space.

use crate::MAX_CPUS;

pub const COUNTERS_MAGIC: u64 = u64::from_le_bytes(*b"COUNTERS");

/// Defines a counter struct of `u64` fields followed by reserved words, with the
/// list of its field names (for `--stats` and `--stats-json`).
macro_rules! counter_struct {
    (
        $(#[$sm:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* pub $f:ident: u64, )*
            reserved: [u64; $r:expr],
        }
    ) => {
        $(#[$sm])*
        pub struct $name {
            $( $(#[$fm])* pub $f: u64, )*
            pub reserved: [u64; $r],
        }

        impl $name {
            /// The counters' names, in layout order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($f)),*];

            /// Each counter's name and value, in layout order.
            pub fn values(&self) -> [(&'static str, u64); [$(stringify!($f)),*].len()] {
                [$((stringify!($f), self.$f)),*]
            }
        }
    };
}

counter_struct! {
/// One CPU's counters (two cache lines each, to avoid false sharing).
#[repr(C, align(256))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuCounters {
    /// 1 once the CPU has finished its bring-up.
    pub online: u64,
    /// Local APIC timer interrupts taken.
    pub timer_ticks: u64,
    /// IPIs received / sent.
    pub ipis_received: u64,
    pub ipis_sent: u64,
    /// Bit `n` set: an IPI from CPU `n` was received (the IPI self-test's proof).
    pub ipi_from_mask: u64,
    /// Hypercalls issued.
    pub hypercalls: u64,
    /// Times the CPU halted waiting for an interrupt.
    pub idle_halts: u64,
    /// Spurious interrupts.
    pub spurious: u64,
    /// TSC when the CPU came online.
    pub online_tsc: u64,
    /// Page faults taken from user mode / from the kernel on user addresses.
    pub page_faults_user: u64,
    pub page_faults_kernel: u64,
    /// System calls entered.
    pub syscalls: u64,
    /// Context switches (Linux `nr_switches`), of which involuntary: the running
    /// task was preempted by the tick or a wake-up (`nivcsw`).
    pub context_switches: u64,
    pub preemptions: u64,
    /// Tasks moved onto this CPU's run queue from another one (load balancing,
    /// affinity changes; Linux `nr_migrations` counted at the destination).
    pub migrations: u64,
    /// Reschedule IPIs this CPU sent to wake or preempt a task on another CPU.
    pub wakeup_ipis: u64,
    /// Tasks runnable on this CPU now, the running one included (`rq->nr_running`).
    pub nr_running: u64,
    /// TSC cycles this CPU spent running tasks other than its idle task.
    pub busy_tsc: u64,
    /// Linux's per-CPU `process_counts`: +1 for each process forked on this CPU,
    /// -1 for each released on it (two's complement: one CPU's value may be
    /// negative; the sum over CPUs is `nr_processes()`).
    pub process_count: u64,
    /// TLB shootdowns this CPU asked for, and shootdown IPIs it answered.
    pub tlb_shootdowns_sent: u64,
    pub tlb_shootdowns_received: u64,
    /// Copy-on-write faults resolved by copying the page, and by reusing it (the
    /// faulting process was its only user).
    pub cow_copies: u64,
    pub cow_reuses: u64,
    /// Successful `copy_process` calls on this CPU.
    pub forks: u64,
    /// Returns from `syscall` entries by `sysretq` (the others use `iretq`).
    pub sysret_returns: u64,
    /// System calls entered through a patched `syscall` site (zpoline).
    pub zpoline_entries: u64,
    /// Interrupts that arrived while the interrupted kernel code had
    /// interrupts disabled: impossible on a correct CPU; a hypervisor that
    /// delivers events it must hold back (see the guest's `traps.rs`).
    pub irqs_while_disabled: u64,
    /// Of those, the ones that caught the kernel's entry or exit code while
    /// it ran with the user's GS base (made harmless by the entry code).
    pub entry_window_events: u64,
    /// Paravirtual spin locks (the guest's `arch::pvlock`): acquisitions that
    /// found the lock taken and spun, waits handed to the VMM after the spin
    /// (the vCPU blocked until kicked: `PvWait`), and kicks this CPU sent to a
    /// waiter when it released a lock (`PvKick`).
    pub pv_lock_contended: u64,
    pub pv_waits: u64,
    pub pv_kicks: u64,
    reserved: [u64; 1],
}
}

counter_struct! {
/// Counters that belong to no single CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalCounters {
    /// CPUs that have come online.
    pub cpus_online: u64,
    /// Physical frames handed out by the frame allocator and not yet freed.
    pub frames_in_use: u64,
    /// Frames free.
    pub frames_free: u64,
    /// Kernel heap bytes allocated: what the heap's callers hold, each small
    /// allocation counted as its size class (16 B to 2 KiB), a larger one as
    /// the block the arenas gave.
    pub heap_bytes: u64,
    /// TSC at kernel entry on the boot CPU, and when the guest reported ready.
    pub boot_tsc: u64,
    pub ready_tsc: u64,
    /// 1 if the `syscall` instruction works from ring 3 here (boot self-test), 2 if not.
    pub syscall_insn: u64,
    /// Demand-zero pages mapped.
    pub pages_zero_filled: u64,
    /// Tasks created since boot (Linux `total_forks`) and alive now (`nr_threads`).
    pub total_forks: u64,
    pub nr_threads: u64,
    /// Resources copy_process takes, for the fault-injection leak checks.
    pub kstacks_in_use: u64,
    pub pids_in_use: u64,
    pub open_files: u64,
    pub page_table_pages: u64,
    /// Injected failures that fired, and failed clones that left something behind.
    pub fault_injections: u64,
    pub fault_injection_leaks: u64,
    /// Kernel stacks taken from the per-CPU cache (zeroed on reuse).
    pub kstack_cache_hits: u64,
    /// Successful clones by kind: fork-like (no CLONE_VM), vfork (CLONE_VFORK),
    /// threads (CLONE_THREAD), other CLONE_VM clones, and kernel threads.
    pub clones_fork: u64,
    pub clones_vfork: u64,
    pub clones_thread: u64,
    pub clones_vm: u64,
    pub clones_kthread: u64,
    /// TSC cycles spent in, and number of calls of, the fork and exit paths:
    /// `copy_process` (successful or not), `copy_page_range` (whole address
    /// space), `do_wp_page`, `do_exit`, and wait (`wait4`/`waitid`, the time
    /// spent blocked included).
    pub copy_process_tsc: u64,
    pub copy_process_calls: u64,
    pub copy_page_range_tsc: u64,
    pub copy_page_range_calls: u64,
    pub do_wp_page_tsc: u64,
    pub do_wp_page_calls: u64,
    pub do_exit_tsc: u64,
    pub do_exit_calls: u64,
    pub wait_tsc: u64,
    pub wait_calls: u64,
    /// Pages copied and page-table entries write-protected by fork.
    pub fork_ptes_copied: u64,
    /// Page faults by kind (user and kernel accesses to user memory):
    /// a shared anonymous page mapped, and faults that found no valid mapping
    /// (SIGSEGV or EFAULT).
    pub pages_shared_filled: u64,
    pub faults_bad: u64,
    /// Counter snapshots taken and counter resets done (the `/dev/counters`
    /// device or the mailbox).
    pub snapshots: u64,
    pub resets: u64,
    /// Mailbox commands handled.
    pub mailbox_commands: u64,
    /// Page tables fork shared copy-on-write instead of copying their entries,
    /// and shared page tables later made private (copied, or taken back by
    /// their last user) by a write, a new page, munmap or mprotect.
    pub fork_page_tables_shared: u64,
    pub page_tables_unshared: u64,
    /// The system-call entry programs get: 1 the `syscall` instruction, 2 the
    /// int3 gate (the self-test's choice or the `syscall=` command-line word).
    pub syscall_entry: u64,
    /// Tables of `syscall` sites the VMM shipped that the kernel accepted at
    /// boot, and refused (malformed, for a missing or changed file, a site that
    /// is not a `syscall` instruction in an executable segment).
    pub zpoline_tables: u64,
    pub zpoline_tables_refused: u64,
    /// Executions whose `syscall` sites exec patched, and the sites patched.
    pub zpoline_execs: u64,
    pub zpoline_sites_patched: u64,
    /// TSC cycles spent loading programs (exec's `load_program`: reading the
    /// ELF, building the address space, copying the segments, the stack), and
    /// programs loaded.
    pub load_program_tsc: u64,
    pub load_program_calls: u64,
    /// Bytes of the kernel heap's arenas (the boot one and those it grew by;
    /// `heap_bytes` is what is allocated in them).
    pub heap_arena_bytes: u64,
    /// Processes the OOM killer killed (`Out of memory: Killed process ...`).
    pub oom_kills: u64,
    /// Bytes of the kernel heap's arenas that are slabs of the size-class
    /// caches (Linux's `Slab:` in /proc/meminfo): the small objects counted
    /// in `heap_bytes` live in them, with the caches' free objects.
    pub heap_slab_bytes: u64,
    /// Page directories (1 GiB each) fork shared copy-on-write whole; each
    /// also counts in `fork_page_tables_shared`.
    pub fork_page_dirs_shared: u64,
    /// Bulk memory work (`mm::bulk`): how the kernel zeroes and copies pages
    /// here, bit 0 zeroing and bit 1 copying by the VMM (`BulkMem`
    /// hypercall), clear in the guest (`rep stosq`/`rep movsq`): the boot
    /// measurement's choice or the `bulkmem=` command-line word.
    pub bulk_mode: u64,
    /// `BulkMem` calls made, pages the VMM zeroed and copied through them,
    /// and calls the VMM refused (the work was then done in the guest).
    pub bulk_calls: u64,
    pub bulk_pages_zeroed: u64,
    pub bulk_pages_copied: u64,
    pub bulk_errors: u64,
    /// Pages zeroed and copied in the guest with `rep stosq`/`rep movsq`.
    pub guest_pages_zeroed: u64,
    pub guest_pages_copied: u64,
    /// The pool of pre-zeroed frames: frames it handed out, refills (one
    /// `BulkMem` call each, for frames that were not zero already), and
    /// frames in it now.
    pub zero_pool_hits: u64,
    pub zero_pool_refills: u64,
    pub zero_pool_frames: u64,
    /// The boot measurement, TSC cycles per page: zeroing in the guest and
    /// by the VMM, copying in the guest and by the VMM.
    pub bulk_zero_guest_tsc: u64,
    pub bulk_zero_vmm_tsc: u64,
    pub bulk_copy_guest_tsc: u64,
    pub bulk_copy_vmm_tsc: u64,
    reserved: [u64; 3],
}
}

/// The counters a reset zeroes (word indices within their struct): event counts
/// and cycle sums. Gauges (frames, tasks, pids, `nr_running`, `process_count`,
/// what is online), boot timestamps, `total_forks` (since boot, as in Linux) and
/// the snapshot/reset counts themselves are never reset. The per-number syscall
/// tables are reset too.
pub mod resettable {
    use super::{CpuCounters, GlobalCounters};
    use core::mem::offset_of;

    macro_rules! words {
        ($t:ty: $($f:ident),*) => { &[$(offset_of!($t, $f) / 8),*] };
    }

    pub const CPU: &[usize] = words!(CpuCounters: timer_ticks, ipis_received, ipis_sent,
        hypercalls, idle_halts, spurious, page_faults_user, page_faults_kernel, syscalls,
        context_switches, preemptions, migrations, wakeup_ipis, busy_tsc,
        tlb_shootdowns_sent, tlb_shootdowns_received, cow_copies, cow_reuses, forks,
        sysret_returns, zpoline_entries, pv_lock_contended, pv_waits, pv_kicks);

    pub const GLOBAL: &[usize] = words!(GlobalCounters: pages_zero_filled, kstack_cache_hits,
        clones_fork, clones_vfork, clones_thread, clones_vm, clones_kthread,
        copy_process_tsc, copy_process_calls, copy_page_range_tsc, copy_page_range_calls,
        do_wp_page_tsc, do_wp_page_calls, do_exit_tsc, do_exit_calls, wait_tsc, wait_calls,
        fork_ptes_copied, pages_shared_filled, faults_bad, mailbox_commands,
        fork_page_tables_shared, page_tables_unshared, zpoline_execs, zpoline_sites_patched,
        load_program_tsc, load_program_calls, oom_kills, fork_page_dirs_shared, bulk_calls,
        bulk_pages_zeroed, bulk_pages_copied, bulk_errors, guest_pages_zeroed, guest_pages_copied,
        zero_pool_hits, zero_pool_refills);
}

/// System calls are counted per number up to this one (larger numbers in the last slot).
pub const SYSCALL_SLOTS: usize = 512;

#[repr(C, align(4096))]
#[derive(Clone, Copy, Debug)]
pub struct CounterPage {
    pub magic: u64,
    pub abi_version: u64,
    pub reserved: [u64; 14],
    pub global: GlobalCounters,
    pub cpu: [CpuCounters; MAX_CPUS],
    /// System calls made, by number.
    pub syscalls: [u64; SYSCALL_SLOTS],
    /// System calls answered ENOSYS (unknown numbers), by number.
    pub syscalls_enosys: [u64; SYSCALL_SLOTS],
    /// What each CPU last went through, for the VMM's crash reports.
    pub crash: [CrashRecord; MAX_CPUS],
}

/// One CPU's crash record: the last exception its kernel handler was entered
/// for (written with plain stores on every exception entry but the `int3`
/// system-call gate's, no exit), and what the double-fault handler found (it
/// runs on its own stack and writes here before anything else, so that the
/// VMM can report it even when the guest cannot make a hypercall any more).
/// The VMM reads it after the guest stopped. Counts are written last.
#[repr(C, align(128))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashRecord {
    /// Exceptions entered (vectors 0-31 but #BP); the fields below are the last.
    pub exceptions: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rsp: u64,
    /// CR2 for a page fault (0 for other vectors).
    pub cr2: u64,
    /// Where the last interrupt that arrived with interrupts disabled
    /// interrupted the kernel (see `CpuCounters::irqs_while_disabled`).
    pub irq_while_disabled_rip: u64,
    /// Double faults taken, and the last one's frame and machine state: the
    /// interrupted RIP and RSP (architecturally undefined for #DF, in practice
    /// the instruction whose fault could not be delivered), CR2 (the address
    /// of a page fault that led to it), CR3, and both GS bases (a user value in
    /// GS_BASE means the kernel ran with the user's GS).
    pub double_faults: u64,
    pub df_rip: u64,
    pub df_cs: u64,
    pub df_rsp: u64,
    pub df_cr2: u64,
    pub df_cr3: u64,
    pub df_gs_base: u64,
    pub df_kernel_gs_base: u64,
}

impl Default for CounterPage {
    fn default() -> Self {
        Self {
            magic: 0,
            abi_version: 0,
            reserved: [0; 14],
            global: GlobalCounters::default(),
            cpu: [CpuCounters::default(); MAX_CPUS],
            syscalls: [0; SYSCALL_SLOTS],
            syscalls_enosys: [0; SYSCALL_SLOTS],
            crash: [CrashRecord::default(); MAX_CPUS],
        }
    }
}
