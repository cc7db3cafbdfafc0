//! The counter page: written by the guest with plain stores, read by the VMM at any
//! time without an exit. Each CPU writes only its own [`CpuCounters`] (so no locked
//! instructions are needed); global fields are updated atomically.
//!
//! The layout is append-only within an ABI version: new counters go at the end of
//! a struct's reserved space.

use crate::MAX_CPUS;

pub const COUNTERS_MAGIC: u64 = u64::from_le_bytes(*b"COUNTERS");

/// One CPU's counters (one cache line each, to avoid false sharing).
#[repr(C, align(128))]
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
    pub reserved: [u64; 4],
}

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
    /// Kernel heap bytes allocated.
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
    pub reserved: [u64; 15],
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
        }
    }
}
