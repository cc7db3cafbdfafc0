//! x86-64: entry, descriptor tables, exceptions, the local APIC, hypercalls.
//!
//! Only instructions that these hosts' ring-0 emulator implements are used (see
//! docs/hosts.md); each one is exercised by the VM tests in `tests/`.
pub mod apic;
pub mod boot;
pub mod bulk;
pub mod cpu;
pub mod entry;
pub mod entry_page;
pub mod fault;
pub mod heap;
pub mod hypercall;
pub mod irq;
pub mod mmu;
pub mod pvlock;
pub mod task;
pub mod tlb;
pub mod traps;
pub mod uaccess;

pub use boot::{boot_info, counter_words, mailbox_words, phys_to_virt, status_slot, virt_to_phys};
pub use cpu::{
    cpu_count, cpu_id, idle, interrupts_disable, interrupts_enable, irq_window, rdtsc,
    wait_for_interrupt, wait_until,
};
pub use entry::Kernel;
pub use traps::TrapFrame;
