//! From the VMM's hand-off to safe Rust: the entry function, boot info, the
//! direct map and the shared pages the VMM set up.

use core::sync::atomic::{AtomicU64, Ordering};

use protocol::boot::{BootInfo, KERNEL_MAP_BASE, KERNEL_MAP_SIZE, PAGE_OFFSET};
use protocol::hypercall::StatusSlots;

static BOOT_INFO: AtomicU64 = AtomicU64::new(0);
static ENTRY_TSC: AtomicU64 = AtomicU64::new(0);
static STATUS_BASE: AtomicU64 = AtomicU64::new(0);

unsafe extern "Rust" {
    /// The kernel's entry point, defined by `kernel!` (see `entry::Kernel`).
    safe fn __kernel_main(boot_info: &'static BootInfo, cpu: usize) -> !;
}

/// Called from `_start` on every CPU with `rdi` = boot info, `rsi` = CPU index.
pub extern "C" fn kernel_entry(boot_info: u64, cpu: u64) -> ! {
    // Before the descriptor tables, which take ~580 of the boot CPU's first
    // ring-0 instructions (the IDT's gates most): the boot is timed from here.
    let tsc = super::cpu::rdtsc();
    super::cpu::cpu_init(cpu as usize);
    if cpu == 0 {
        ENTRY_TSC.store(tsc, Ordering::Relaxed);
        BOOT_INFO.store(boot_info, Ordering::Relaxed);
        // The status slots' address is needed before the boot info is validated (to
        // report a mismatch); the protocol fixes it, so take it from there until then.
        STATUS_BASE.store(phys_to_virt(protocol::boot::STATUS_GPA), Ordering::Relaxed);
        super::cpu::idt_init();
    }
    __kernel_main(boot_info_unchecked(), cpu as usize)
}

fn boot_info_unchecked() -> &'static BootInfo {
    // SAFETY: the VMM's boot protocol passes the direct-map address of a BootInfo
    // it wrote and never changes afterwards; `start_kernel` validates its contents
    // (magic, ABI version) before using anything else in it.
    unsafe { &*(BOOT_INFO.load(Ordering::Relaxed) as *const BootInfo) }
}

/// The TSC when the boot CPU entered the kernel (`kernel_entry`'s first step).
pub fn entry_tsc() -> u64 {
    ENTRY_TSC.load(Ordering::Relaxed)
}

/// The boot info, once `start_kernel` validated it.
pub fn boot_info() -> &'static BootInfo {
    boot_info_unchecked()
}

/// Record the shared pages' addresses and the CPU count from a validated boot
/// info (`start_kernel` checked that the counter page is where the protocol
/// puts it).
pub fn set_shared_pages(info: &BootInfo) {
    super::cpu::set_cpu_count(info.cpu_count as usize);
    STATUS_BASE.store(phys_to_virt(info.status_gpa), Ordering::Relaxed);
}

/// Words of the counter page the kernel uses (`CounterPage`).
pub const COUNTER_WORDS: usize = core::mem::size_of::<protocol::counters::CounterPage>() / 8;

/// The counter page as words the guest updates atomically and the VMM reads.
/// The protocol fixes it at `COUNTERS_GPA`, so its address is a link-time
/// constant and a counter update with a constant index is one instruction
/// (a `lock add` to an absolute address): no pointer to load, no bounds check.
#[inline(always)]
pub fn counter_words() -> &'static [AtomicU64; COUNTER_WORDS] {
    use protocol::boot::{COUNTERS_GPA, COUNTERS_SIZE};
    const _: () = assert!(COUNTER_WORDS * 8 <= COUNTERS_SIZE as usize);
    // SAFETY: the protocol reserves COUNTERS_SIZE bytes at COUNTERS_GPA for the
    // counter page, inside the boot region (memory kind Boot, never handed to
    // the frame allocator), and the VMM's boot page tables map it in the direct
    // map before the first instruction; it is page aligned; AtomicU64 has u64's
    // layout, and the VMM only reads it (or zeroes it while no vCPU runs).
    unsafe { &*(phys_to_virt(COUNTERS_GPA) as *const [AtomicU64; COUNTER_WORDS]) }
}

/// CPU `cpu`'s trace ring (`protocol::trace`) as words, if the VMM reserved
/// the rings (`trace_gpa != 0`) and they are big enough for one record.
pub fn trace_ring(info: &BootInfo, cpu: usize) -> Option<&'static [AtomicU64]> {
    use protocol::trace::{capacity, RING_HEADER_BYTES};
    let bytes = info.trace_ring_bytes;
    let usable = info.trace_gpa != 0
        && info.trace_gpa % 4096 == 0
        && bytes % 4096 == 0
        && capacity(bytes) > 0
        && cpu < info.cpu_count as usize;
    if !usable {
        return None;
    }
    let gpa = info.trace_gpa + cpu as u64 * bytes;
    let inside = info.regions().iter().any(|r| {
        r.kind == protocol::boot::MemoryKind::Trace
            && gpa >= r.base
            && gpa + bytes <= r.base + r.len
    });
    if !inside || bytes < RING_HEADER_BYTES {
        return None;
    }
    // SAFETY: the ring lies inside a region of kind Trace of the boot memory
    // map (checked just above), which the frame allocator never hands out
    // (it takes only Usable regions); it is page aligned and mapped by the
    // direct map; the guest and the VMM access it only as aligned 64-bit
    // words (AtomicU64 has u64's layout).
    Some(unsafe {
        core::slice::from_raw_parts(phys_to_virt(gpa) as *const AtomicU64, (bytes / 8) as usize)
    })
}

/// CPU `cpu`'s crash record in the counter page (None past `MAX_CPUS`).
pub fn crash_record(cpu: usize) -> Option<*mut protocol::counters::CrashRecord> {
    use protocol::counters::{CounterPage, CrashRecord};
    let base = counter_words().as_ptr() as u64;
    let off = core::mem::offset_of!(CounterPage, crash) + cpu * core::mem::size_of::<CrashRecord>();
    (cpu < protocol::MAX_CPUS).then(|| (base + off as u64) as *mut CrashRecord)
}

/// The control mailbox (`protocol::mailbox::Mailbox`) as words: the VMM writes
/// the command words, the guest the reply words.
pub fn mailbox_words() -> &'static [AtomicU64] {
    let base = phys_to_virt(protocol::boot::MAILBOX_GPA);
    let words = core::mem::size_of::<protocol::mailbox::Mailbox>() / 8;
    // SAFETY: the protocol fixes the mailbox at MAILBOX_GPA inside the boot region
    // the VMM reserves (memory kind Boot, never handed to the frame allocator);
    // it is page aligned and mapped by the direct map, and the VMM and the guest
    // only ever access it as aligned 64-bit words (AtomicU64 has u64's layout).
    unsafe { core::slice::from_raw_parts(base as *const AtomicU64, words) }
}

/// This CPU's hypercall status slot.
pub fn status_slot(cpu: usize) -> &'static AtomicU64 {
    let base = STATUS_BASE.load(Ordering::Relaxed);
    let cpu = cpu.min(protocol::MAX_CPUS - 1);
    // SAFETY: the status page (a `StatusSlots`, reserved by the VMM and mapped by the
    // direct map) has MAX_CPUS aligned 8-byte slots; the VMM writes a slot only while
    // its vCPU is stopped in the hypercall's exit, so the access never races.
    unsafe { &*((base as *const StatusSlots as *const AtomicU64).add(cpu)) }
}

#[inline]
pub fn phys_to_virt(phys: u64) -> u64 {
    PAGE_OFFSET + phys
}

/// Physical address of a kernel virtual address (kernel map or direct map).
#[inline]
pub fn virt_to_phys(virt: u64) -> u64 {
    if virt >= KERNEL_MAP_BASE {
        debug_assert!(virt - KERNEL_MAP_BASE < KERNEL_MAP_SIZE);
        virt - KERNEL_MAP_BASE
    } else {
        virt - PAGE_OFFSET
    }
}

/// A mutable byte slice over physical memory `[phys, phys + len)` via the direct map.
///
/// Only for memory the caller owns exclusively: frames it got from the frame
/// allocator and has not freed.
pub fn phys_slice_mut(phys: u64, len: usize) -> &'static mut [u8] {
    // SAFETY: the direct map covers all RAM; the caller owns the frames (see above),
    // so no other reference to them exists.
    unsafe { core::slice::from_raw_parts_mut(phys_to_virt(phys) as *mut u8, len) }
}

/// The kernel command line from the boot info, if it is UTF-8.
pub fn cmdline() -> Option<&'static str> {
    let info = boot_info();
    let len = info.cmdline_len.min(protocol::boot::CMDLINE_MAX) as usize;
    if len == 0 {
        return Some("");
    }
    // SAFETY: the VMM wrote `cmdline_len` bytes at `cmdline_gpa` (a Boot region of
    // at most CMDLINE_MAX bytes) before starting the vCPUs and never writes them again.
    let bytes =
        unsafe { core::slice::from_raw_parts(phys_to_virt(info.cmdline_gpa) as *const u8, len) };
    core::str::from_utf8(bytes).ok()
}

/// `len` bytes of boot-time data the VMM placed at `gpa` (outside usable RAM).
fn boot_bytes(gpa: u64, len: u64) -> &'static [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the VMM wrote these bytes before the vCPUs started, in a region the
    // memory map marks Boot or Initramfs (never handed to the frame allocator),
    // and never writes them again; the direct map covers all RAM.
    unsafe { core::slice::from_raw_parts(phys_to_virt(gpa) as *const u8, len as usize) }
}

/// The initramfs image.
pub fn initramfs() -> &'static [u8] {
    let info = boot_info();
    boot_bytes(info.initramfs_gpa, info.initramfs_len)
}

/// The first program's argv and envp blocks (NUL-terminated strings back to back).
pub fn init_args() -> (&'static [u8], &'static [u8]) {
    let info = boot_info();
    (
        boot_bytes(info.init_argv_gpa, info.init_argv_len),
        boot_bytes(info.init_envp_gpa, info.init_envp_len),
    )
}
