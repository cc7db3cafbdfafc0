//! Updating the counter page (`protocol::counters`) that the VMM reads without an
//! exit. Fields are named by word index; each CPU writes only its own block with
//! plain (unlocked) load/store, global fields use atomic read-modify-write.

use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicU64, Ordering};

use protocol::counters::{CounterPage, CpuCounters, GlobalCounters};

macro_rules! cpu_field {
    ($name:ident, $field:ident) => {
        pub const $name: usize = offset_of!(CpuCounters, $field) / 8;
    };
}
macro_rules! global_field {
    ($name:ident, $field:ident) => {
        pub const $name: usize =
            (offset_of!(CounterPage, global) + offset_of!(GlobalCounters, $field)) / 8;
    };
}

cpu_field!(CPU_ONLINE, online);
cpu_field!(CPU_TIMER_TICKS, timer_ticks);
cpu_field!(CPU_IPIS_RECEIVED, ipis_received);
cpu_field!(CPU_IPIS_SENT, ipis_sent);
cpu_field!(CPU_IPI_FROM_MASK, ipi_from_mask);
cpu_field!(CPU_HYPERCALLS, hypercalls);
cpu_field!(CPU_IDLE_HALTS, idle_halts);
cpu_field!(CPU_SPURIOUS, spurious);
cpu_field!(CPU_ONLINE_TSC, online_tsc);
cpu_field!(CPU_PAGE_FAULTS_USER, page_faults_user);
cpu_field!(CPU_PAGE_FAULTS_KERNEL, page_faults_kernel);
cpu_field!(CPU_SYSCALLS, syscalls);

global_field!(CPUS_ONLINE, cpus_online);
global_field!(FRAMES_IN_USE, frames_in_use);
global_field!(FRAMES_FREE, frames_free);
global_field!(HEAP_BYTES, heap_bytes);
global_field!(BOOT_TSC, boot_tsc);
global_field!(READY_TSC, ready_tsc);
global_field!(SYSCALL_INSN, syscall_insn);
global_field!(PAGES_ZERO_FILLED, pages_zero_filled);
global_field!(TOTAL_FORKS, total_forks);
global_field!(NR_THREADS, nr_threads);
global_field!(KSTACKS_IN_USE, kstacks_in_use);
global_field!(PIDS_IN_USE, pids_in_use);
global_field!(OPEN_FILES, open_files);
global_field!(PAGE_TABLE_PAGES, page_table_pages);
global_field!(FAULT_INJECTIONS, fault_injections);
global_field!(FAULT_INJECTION_LEAKS, fault_injection_leaks);
global_field!(KSTACK_CACHE_HITS, kstack_cache_hits);

/// Subtract from a global counter (resources released).
#[inline]
pub fn global_sub(field: usize, n: u64) {
    if let Some(w) = word(field) {
        w.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Word index of `field` in CPU `cpu`'s block.
pub const fn cpu_word(cpu: usize, field: usize) -> usize {
    (offset_of!(CounterPage, cpu) + cpu * size_of::<CpuCounters>()) / 8 + field
}

#[cfg(target_os = "none")]
fn words() -> &'static [AtomicU64] {
    crate::arch::counter_words()
}

#[cfg(not(target_os = "none"))]
fn words() -> &'static [AtomicU64] {
    &[]
}

fn word(index: usize) -> Option<&'static AtomicU64> {
    words().get(index)
}

/// Add to one of this CPU's counters (only CPU `cpu` may call this for `cpu`).
#[inline]
pub fn cpu_add(cpu: usize, field: usize, n: u64) {
    if let Some(w) = word(cpu_word(cpu, field)) {
        w.store(w.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

#[inline]
pub fn cpu_set(cpu: usize, field: usize, v: u64) {
    if let Some(w) = word(cpu_word(cpu, field)) {
        w.store(v, Ordering::Relaxed);
    }
}

#[inline]
pub fn cpu_get(cpu: usize, field: usize) -> u64 {
    word(cpu_word(cpu, field)).map_or(0, |w| w.load(Ordering::Relaxed))
}

#[inline]
pub fn global_add(field: usize, n: u64) {
    if let Some(w) = word(field) {
        w.fetch_add(n, Ordering::Relaxed);
    }
}

#[inline]
pub fn global_set(field: usize, v: u64) {
    if let Some(w) = word(field) {
        w.store(v, Ordering::Relaxed);
    }
}

#[inline]
pub fn global_get(field: usize) -> u64 {
    word(field).map_or(0, |w| w.load(Ordering::Relaxed))
}

/// Count a system call by number (numbers past the table share its last slot).
pub fn syscall_counted(number: u64) {
    let slot = (number as usize).min(protocol::counters::SYSCALL_SLOTS - 1);
    global_add(offset_of!(CounterPage, syscalls) / 8 + slot, 1);
}

/// Count a system call answered ENOSYS.
pub fn syscall_enosys(number: u64) {
    let slot = (number as usize).min(protocol::counters::SYSCALL_SLOTS - 1);
    global_add(offset_of!(CounterPage, syscalls_enosys) / 8 + slot, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_indices_match_the_protocol_layout() {
        let page = CounterPage::default();
        let base = &page as *const CounterPage as usize;
        let at = |p: *const u64| (p as usize - base) / 8;
        assert_eq!(cpu_word(0, CPU_TIMER_TICKS), at(&page.cpu[0].timer_ticks));
        assert_eq!(cpu_word(3, CPU_IPI_FROM_MASK), at(&page.cpu[3].ipi_from_mask));
        assert_eq!(CPUS_ONLINE, at(&page.global.cpus_online));
        assert_eq!(READY_TSC, at(&page.global.ready_tsc));
        assert!(cpu_word(protocol::MAX_CPUS - 1, CPU_ONLINE_TSC) * 8 < size_of::<CounterPage>());
    }
}
