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
global_field!(CLONES_KTHREAD, clones_kthread);
global_field!(COPY_PAGE_RANGE_TSC, copy_page_range_tsc);
global_field!(COPY_PAGE_RANGE_CALLS, copy_page_range_calls);
global_field!(DO_WP_PAGE_TSC, do_wp_page_tsc);
global_field!(DO_WP_PAGE_CALLS, do_wp_page_calls);
global_field!(FORK_PTES_COPIED, fork_ptes_copied);
global_field!(PAGES_SHARED_FILLED, pages_shared_filled);
global_field!(FAULTS_BAD, faults_bad);
global_field!(SNAPSHOTS, snapshots);
global_field!(RESETS, resets);
global_field!(MAILBOX_COMMANDS, mailbox_commands);
global_field!(FORK_PAGE_TABLES_SHARED, fork_page_tables_shared);
global_field!(PAGE_TABLES_UNSHARED, page_tables_unshared);
cpu_field!(CPU_COW_COPIES, cow_copies);
cpu_field!(CPU_COW_REUSES, cow_reuses);
cpu_field!(CPU_PROCESS_COUNT, process_count);
cpu_field!(CPU_FORKS, forks);
cpu_field!(CPU_SYSRET_RETURNS, sysret_returns);
cpu_field!(CPU_ZPOLINE_ENTRIES, zpoline_entries);
global_field!(SYSCALL_ENTRY, syscall_entry);
global_field!(ZPOLINE_TABLES, zpoline_tables);
global_field!(ZPOLINE_TABLES_REFUSED, zpoline_tables_refused);
global_field!(ZPOLINE_EXECS, zpoline_execs);
global_field!(ZPOLINE_SITES_PATCHED, zpoline_sites_patched);
global_field!(LOAD_PROGRAM_TSC, load_program_tsc);
global_field!(LOAD_PROGRAM_CALLS, load_program_calls);
global_field!(HEAP_ARENA_BYTES, heap_arena_bytes);
global_field!(OOM_KILLS, oom_kills);
global_field!(HEAP_SLAB_BYTES, heap_slab_bytes);
global_field!(FORK_PAGE_DIRS_SHARED, fork_page_dirs_shared);
global_field!(BULK_MODE, bulk_mode);
global_field!(BULK_CALLS, bulk_calls);
global_field!(BULK_PAGES_ZEROED, bulk_pages_zeroed);
global_field!(BULK_PAGES_COPIED, bulk_pages_copied);
global_field!(BULK_ERRORS, bulk_errors);
global_field!(GUEST_PAGES_ZEROED, guest_pages_zeroed);
global_field!(GUEST_PAGES_COPIED, guest_pages_copied);
global_field!(ZERO_POOL_HITS, zero_pool_hits);
global_field!(ZERO_POOL_REFILLS, zero_pool_refills);
global_field!(ZERO_POOL_FRAMES, zero_pool_frames);
global_field!(BULK_ZERO_GUEST_TSC, bulk_zero_guest_tsc);
global_field!(BULK_ZERO_VMM_TSC, bulk_zero_vmm_tsc);
global_field!(BULK_COPY_GUEST_TSC, bulk_copy_guest_tsc);
global_field!(BULK_COPY_VMM_TSC, bulk_copy_vmm_tsc);
cpu_field!(CPU_IRQS_WHILE_DISABLED, irqs_while_disabled);
cpu_field!(CPU_ENTRY_WINDOW_EVENTS, entry_window_events);
cpu_field!(CPU_PV_LOCK_CONTENDED, pv_lock_contended);
cpu_field!(CPU_PV_WAITS, pv_waits);
cpu_field!(CPU_PV_KICKS, pv_kicks);
cpu_field!(CPU_CONTEXT_SWITCHES, context_switches);
cpu_field!(CPU_PREEMPTIONS, preemptions);
cpu_field!(CPU_MIGRATIONS, migrations);
cpu_field!(CPU_WAKEUP_IPIS, wakeup_ipis);
cpu_field!(CPU_NR_RUNNING, nr_running);
cpu_field!(CPU_BUSY_TSC, busy_tsc);
cpu_field!(CPU_TLB_SHOOTDOWNS_SENT, tlb_shootdowns_sent);
cpu_field!(CPU_TLB_SHOOTDOWNS_RECEIVED, tlb_shootdowns_received);
global_field!(CLONES_FORK, clones_fork);
global_field!(CLONES_VFORK, clones_vfork);
global_field!(CLONES_THREAD, clones_thread);
global_field!(CLONES_VM, clones_vm);
global_field!(COPY_PROCESS_TSC, copy_process_tsc);
global_field!(COPY_PROCESS_CALLS, copy_process_calls);
global_field!(DO_EXIT_TSC, do_exit_tsc);
global_field!(DO_EXIT_CALLS, do_exit_calls);
global_field!(WAIT_TSC, wait_tsc);
global_field!(WAIT_CALLS, wait_calls);

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

/// The counter page (`arch::counter_words`: at a fixed address, so that an
/// update is one instruction on every path that counts). The host's unit
/// tests have none: their counters count nothing.
#[cfg(target_os = "none")]
#[inline(always)]
fn words() -> &'static [AtomicU64] {
    crate::arch::counter_words()
}

#[cfg(not(target_os = "none"))]
#[inline(always)]
fn words() -> &'static [AtomicU64] {
    &[]
}

#[inline(always)]
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

/// A command written to `/dev/counters`: `snapshot LABEL` or `reset LABEL` (one
/// trailing newline allowed; LABEL is 1 to 64 bytes of UTF-8). Whether it
/// resets, and the label.
pub fn parse_device_command(data: &[u8]) -> Option<(bool, &str)> {
    let text = core::str::from_utf8(data.strip_suffix(b"\n").unwrap_or(data)).ok()?;
    let (reset, label) = if let Some(l) = text.strip_prefix("snapshot ") {
        (false, l)
    } else {
        (true, text.strip_prefix("reset ")?)
    };
    let ok = !label.is_empty() && label.len() as u64 <= protocol::hypercall::LABEL_MAX;
    ok.then_some((reset, label))
}

/// The VMM recorded a snapshot (`arch::hypercall::snapshot`): count it, and
/// reset the counters if it was a reset.
pub fn snapshot_taken(reset: bool) {
    global_add(if reset { RESETS } else { SNAPSHOTS }, 1);
    if reset {
        reset_counters();
    }
}

/// Zero the event counters (`protocol::counters::resettable`) of every CPU and
/// the per-number system-call tables. Another CPU's increment racing with the
/// reset may survive it or be lost: counters read after a reset are exact only
/// for CPUs that were idle or in user mode meanwhile.
pub fn reset_counters() {
    use protocol::counters::resettable;
    for cpu in 0..(global_get(CPUS_ONLINE) as usize).min(protocol::MAX_CPUS) {
        for &f in resettable::CPU {
            if let Some(w) = word(cpu_word(cpu, f)) {
                w.store(0, Ordering::Relaxed);
            }
        }
    }
    let global = offset_of!(CounterPage, global) / 8;
    for &f in resettable::GLOBAL {
        global_set(global + f, 0);
    }
    let tables = offset_of!(CounterPage, syscalls) / 8;
    for i in 0..2 * protocol::counters::SYSCALL_SLOTS {
        global_set(tables + i, 0);
    }
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

    #[test]
    fn device_commands() {
        assert_eq!(parse_device_command(b"snapshot fork-start\n"), Some((false, "fork-start")));
        assert_eq!(parse_device_command(b"reset x"), Some((true, "x")));
        assert_eq!(parse_device_command(b"reset "), None, "empty label");
        assert_eq!(parse_device_command(b"snap x"), None);
        assert_eq!(parse_device_command(&[b'r', b'e', b's', b'e', b't', b' ', 0xff]), None);
        let long = [b'a'; 65];
        let mut cmd = b"snapshot ".to_vec();
        cmd.extend_from_slice(&long);
        assert_eq!(parse_device_command(&cmd), None, "label too long");
        assert_eq!(parse_device_command(&cmd[..cmd.len() - 1]).map(|c| c.1.len()), Some(64));
    }
}
