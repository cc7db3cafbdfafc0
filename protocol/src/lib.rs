//! The contract between the VMM and the guest kernel.
//!
//! Modelled on uhyve's interface crate: one `no_std` crate that both sides build
//! against, so a change to the ABI is a change to one file and a version bump.
//!
//! * [`hypercall`]: a hypercall is one 32-bit `out` to a port whose number names the
//!   call; the value written is the guest-physical address of the call's `#[repr(C)]`
//!   parameter struct. The VMM answers in the calling vCPU's status slot.
//! * [`boot`]: the boot information the VMM writes before the first instruction runs,
//!   and the guest-physical layout it describes.
//! * [`counters`]: the counter page the guest updates with plain stores and the VMM
//!   reads at any time without an exit.
//! * [`sites`]: the index of `syscall` sites in shipped executables (zpoline).
//! * [`trace`]: the per-CPU trace rings the guest's tracepoints write and the
//!   VMM drains while the guest runs.
//! * [`mailbox`]: commands the VMM posts to the guest (fault injection, counter
//!   snapshots, the process table, shutdown), rung by an interrupt.
#![no_std]

pub mod boot;
pub mod counters;
pub mod hypercall;
pub mod mailbox;
pub mod sites;
pub mod trace;

/// Version of everything in this crate. The guest refuses to run on a VMM whose
/// boot info carries another version, and says so.
pub const ABI_VERSION: u32 = 7;

/// The most vCPUs the ABI has room for (per-CPU arrays in the counter page and the
/// hypercall status slots are this long).
pub const MAX_CPUS: usize = 64;

/// Timer interrupts per second on every guest CPU, idle or busy (Linux `HZ`):
/// each is counted in the counter page (`CpuCounters::timer_ticks`), which
/// the VMM's lockup detector watches.
pub const TICK_HZ: u64 = 100;

/// Errno values used in hypercall status words: [`uapi::errno`]'s numbers as
/// the `i64` of a status word (negated on the wire).
pub mod errno {
    macro_rules! wire {
        ($($name:ident),*) => {
            $(
                #[doc = concat!("`", stringify!($name), "` as a status word's `i64`.")]
                pub const $name: i64 = uapi::errno::$name.0 as i64;
            )*
        };
    }
    wire!(EPERM, EFAULT, EBUSY, EINVAL, E2BIG, ENOSPC, ENOSYS);
}

/// Compile-time layout checks shared by both sides.
const _: () = {
    assert!(core::mem::size_of::<boot::BootInfo>() <= boot::BOOT_INFO_SIZE as usize);
    assert!(core::mem::size_of::<counters::CounterPage>() <= boot::COUNTERS_SIZE as usize);
    assert!(core::mem::size_of::<hypercall::StatusSlots>() <= 4096);
    assert!(core::mem::size_of::<mailbox::Mailbox>() <= boot::MAILBOX_SIZE as usize);
    assert!(boot::COUNTERS_GPA + boot::COUNTERS_SIZE <= boot::MAILBOX_GPA);
    assert!(boot::MAILBOX_GPA + boot::MAILBOX_SIZE <= boot::PAGE_TABLES_GPA);
};

/// Exit statuses. The guest's own status (0–255) becomes the VMM's exit code; the
/// VMM uses the codes below for ends the guest did not choose. The guest kernel
/// itself uses the small codes for failures it detects before user space runs.
pub mod exit_status {
    /// A self-test inside the guest failed.
    pub const SELFTEST_FAILED: u8 = 1;
    /// The kernel command line did not parse.
    pub const BAD_CMDLINE: u8 = 2;
    /// The boot info's magic or ABI version is not the kernel's.
    pub const ABI_MISMATCH: u8 = 3;
    /// The first program could not be started (missing, not executable, bad ELF).
    pub const INIT_FAILED: u8 = 4;
    /// The VMM could not start or run the VM (bad input, KVM error).
    pub const VMM_ERROR: u8 = 1;
    /// A guest CPU took no timer interrupt for the lockup threshold (it
    /// spins or halts with interrupts off; the VMM's lockup detector).
    pub const GUEST_LOCKUP: u8 = 123;
    /// `--timeout` expired.
    pub const TIMEOUT: u8 = 124;
    /// The kernel reported an unhandled CPU exception.
    pub const GUEST_EXCEPTION: u8 = 125;
    /// The kernel panicked.
    pub const GUEST_PANIC: u8 = 126;
    /// The VM stopped by itself: triple fault, emulation failure, KVM internal error.
    pub const VM_CRASHED: u8 = 127;
}
