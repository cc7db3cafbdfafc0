//! Per-CPU state, descriptor tables (Linux's GDT layout), MSRs and the few
//! privileged instructions the kernel needs.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::mem::size_of;

use protocol::boot::selectors::{GDT, GDT_ENTRIES, KERNEL_CS, TSS};
use protocol::MAX_CPUS;
use x86_64::structures::tss::TaskStateSegment;

use super::entry;

pub const MSR_FS_BASE: u32 = 0xc000_0100;
pub const MSR_GS_BASE: u32 = 0xc000_0101;
pub const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_SYSCALL_MASK: u32 = 0xc000_0084;
/// RFLAGS cleared on `syscall`: TF, DF, IF, IOPL, NT, AC (as Linux).
const SYSCALL_MASK: u64 = 0x4_7700;

/// Offsets in `PerCpu`, used by the entry assembly as `gs:[offset]`.
pub const PERCPU_KERNEL_RSP: usize = 8;
pub const PERCPU_USER_RSP: usize = 16;
pub const PERCPU_CRASH_RECORD: usize = 24;

/// Linux's vectors for the local APIC's sources.
pub const LOCAL_TIMER_VECTOR: u8 = 0xec;
pub const CALL_FUNCTION_VECTOR: u8 = 0xfc;
/// TLB shootdown requests (`tlb`; Linux 2.6's INVALIDATE_TLB_VECTOR_START).
pub const INVALIDATE_TLB_VECTOR: u8 = 0xf0;
/// The VMM's doorbell for the control mailbox (`protocol::mailbox`).
pub const MAILBOX_VECTOR: u8 = protocol::mailbox::MAILBOX_VECTOR;
pub const RESCHEDULE_VECTOR: u8 = 0xfd;
pub const ERROR_APIC_VECTOR: u8 = 0xfe;
pub const SPURIOUS_APIC_VECTOR: u8 = 0xff;

/// IST slots (1-based in the IDT, 0-based in the TSS).
const IST_DOUBLE_FAULT: u8 = 1;
const IST_NMI: u8 = 2;
const IST_MACHINE_CHECK: u8 = 3;
const IST_STACK_SIZE: usize = 4096;

/// Everything one CPU owns; `gs:0` points at its `PerCpu`.
#[repr(C, align(4096))]
struct CpuArea {
    percpu: PerCpu,
    gdt: [u64; GDT_ENTRIES],
    tss: TaskStateSegment,
    ist: [[u8; IST_STACK_SIZE]; 3],
}

#[repr(C)]
struct PerCpu {
    /// Read as `gs:[0]`.
    cpu: u64,
    /// Top of the current task's kernel stack (`gs:[PERCPU_KERNEL_RSP]`).
    kernel_rsp: u64,
    /// Scratch for the `syscall` entry (`gs:[PERCPU_USER_RSP]`).
    user_rsp: u64,
    /// This CPU's `CrashRecord` in the counter page (0 until the page is known).
    crash_record: u64,
}
const _: () = assert!(core::mem::offset_of!(PerCpu, kernel_rsp) == PERCPU_KERNEL_RSP);
const _: () = assert!(core::mem::offset_of!(PerCpu, user_rsp) == PERCPU_USER_RSP);
const _: () = assert!(core::mem::offset_of!(PerCpu, crash_record) == PERCPU_CRASH_RECORD);

struct CpuAreas(UnsafeCell<[CpuArea; MAX_CPUS]>);
// SAFETY: CPU `n` only ever touches `areas[n]`, from `cpu_init(n)` and through its
// own GS base; no two CPUs share an index (the VMM gives each vCPU its own).
unsafe impl Sync for CpuAreas {}

// Zero-initialised: lives in .bss, which the VMM's fresh memory already zeroes.
static CPU_AREAS: CpuAreas = CpuAreas(UnsafeCell::new(
    // SAFETY: all-zero is a valid CpuArea (integers and a TSS of integers).
    unsafe { core::mem::MaybeUninit::zeroed().assume_init() },
));

#[repr(C, align(16))]
struct Idt(UnsafeCell<[[u64; 2]; 256]>);
// SAFETY: written only by the boot CPU in `idt_init`, before `StartCpus` releases
// the others; afterwards only read by the CPU through IDTR.
unsafe impl Sync for Idt {}
static IDT: Idt = Idt(UnsafeCell::new([[0; 2]; 256]));

/// A present 64-bit interrupt gate's fixed bits: kernel code segment, IST
/// slot `ist` (0: none), DPL 3 if `user` (ring 3 may raise it with `int3`).
const fn gate_attrs(ist: u8, user: bool) -> u64 {
    let attr: u64 = if user { 0xee } else { 0x8e };
    ((KERNEL_CS as u64) << 16) | ((ist as u64) << 32) | (attr << 40)
}

/// The gate for `handler` with `attrs` from [`gate_attrs`]: offset bits 0–15
/// and 16–31 into the low word, 32–63 the high word.
#[inline(always)]
fn idt_gate(handler: u64, attrs: u64) -> [u64; 2] {
    [(handler & 0xffff) | ((handler & 0xffff_0000) << 32) | attrs, handler >> 32]
}

/// Fill the shared IDT: the 32 exception vectors and the APIC vectors in use.
/// Other vectors stay not-present: a stray one raises #NP naming it in its error code.
/// Boot CPU only, before the other CPUs start. The gates' fixed bits are
/// constants and the loop has no per-vector test (the four exceptions that
/// differ are rewritten after it): 855 ring-0 instructions at boot with a
/// `match` on the vector and the bits assembled per gate, fewer so.
pub fn idt_init() {
    const KERNEL: u64 = gate_attrs(0, false);
    // SAFETY: see `Idt`: single writer before any other CPU runs; `exception_stubs`
    // is a table of 32 addresses emitted by entry.rs.
    unsafe {
        let idt = &mut *IDT.0.get();
        let stubs = &entry::exception_stubs;
        for (gate, &stub) in idt.iter_mut().zip(stubs.iter()) {
            *gate = idt_gate(stub, KERNEL);
        }
        idt[2] = idt_gate(stubs[2], gate_attrs(IST_NMI, false));
        // #BP is the system-call gate where `syscall` is broken: ring 3 may raise it.
        idt[3] = idt_gate(stubs[3], gate_attrs(0, true));
        // #DF has its own entry (on its own stack, trusting nothing but it).
        idt[8] = idt_gate(
            entry::double_fault_entry as *const () as u64,
            gate_attrs(IST_DOUBLE_FAULT, false),
        );
        idt[18] = idt_gate(stubs[18], gate_attrs(IST_MACHINE_CHECK, false));
        idt[LOCAL_TIMER_VECTOR as usize] = idt_gate(entry::timer_entry as *const () as u64, KERNEL);
        idt[RESCHEDULE_VECTOR as usize] =
            idt_gate(entry::reschedule_entry as *const () as u64, KERNEL);
        idt[CALL_FUNCTION_VECTOR as usize] =
            idt_gate(entry::call_function_entry as *const () as u64, KERNEL);
        idt[INVALIDATE_TLB_VECTOR as usize] =
            idt_gate(entry::invalidate_tlb_entry as *const () as u64, KERNEL);
        idt[MAILBOX_VECTOR as usize] = idt_gate(entry::mailbox_entry as *const () as u64, KERNEL);
        idt[ERROR_APIC_VECTOR as usize] =
            idt_gate(entry::apic_error_entry as *const () as u64, KERNEL);
        idt[SPURIOUS_APIC_VECTOR as usize] =
            idt_gate(entry::spurious_entry as *const () as u64, KERNEL);
    }
}

/// Per-CPU bring-up: GS base, this CPU's GDT and TSS (with IST stacks), the IDT.
pub fn cpu_init(cpu: usize) {
    assert!(cpu < MAX_CPUS);
    // SAFETY: `cpu` is this CPU's own index (see `CpuAreas`); the descriptor tables
    // loaded here live in static memory for the life of the kernel, and the GDT keeps
    // the selectors the CPU already uses (the VMM's boot GDT has the same layout).
    unsafe {
        let area = &mut (*CPU_AREAS.0.get())[cpu];
        area.percpu.cpu = cpu as u64;
        wrmsr(MSR_GS_BASE, &area.percpu as *const PerCpu as u64);
        // No user GS base yet: what USER_GS_LOADED says.
        wrmsr(MSR_KERNEL_GS_BASE, 0);

        for (i, stack) in area.ist.iter().enumerate() {
            let top = stack.as_ptr() as u64 + IST_STACK_SIZE as u64;
            area.tss.interrupt_stack_table[i] = x86_64::VirtAddr::new(top);
        }
        area.tss.iomap_base = size_of::<TaskStateSegment>() as u16;

        area.gdt = GDT;
        let base = &area.tss as *const TaskStateSegment as u64;
        let limit = size_of::<TaskStateSegment>() as u64 - 1;
        let slot = (TSS / 8) as usize;
        area.gdt[slot] = (limit & 0xffff)
            | ((base & 0xff_ffff) << 16)
            | (0x89 << 40)
            | (((limit >> 16) & 0xf) << 48)
            | (((base >> 24) & 0xff) << 56);
        area.gdt[slot + 1] = base >> 32;

        let gdtr = x86_64::structures::DescriptorTablePointer {
            limit: (size_of::<[u64; GDT_ENTRIES]>() - 1) as u16,
            base: x86_64::VirtAddr::new(area.gdt.as_ptr() as u64),
        };
        x86_64::instructions::tables::lgdt(&gdtr);
        x86_64::instructions::tables::load_tss(x86_64::structures::gdt::SegmentSelector(TSS));
        let idtr = x86_64::structures::DescriptorTablePointer {
            limit: (size_of::<[[u64; 2]; 256]>() - 1) as u16,
            base: x86_64::VirtAddr::new(IDT.0.get() as u64),
        };
        x86_64::instructions::tables::lidt(&idtr);
    }
    wrmsr(
        MSR_STAR,
        ((protocol::boot::selectors::USER32_CS as u64) << 48) | ((KERNEL_CS as u64) << 32),
    );
    wrmsr(MSR_LSTAR, entry::syscall_entry as *const () as u64);
    wrmsr(MSR_SYSCALL_MASK, SYSCALL_MASK);
}

/// The CPU whose double-fault stack holds `addr` (the #DF handler learns its
/// CPU this way: it cannot trust GS).
pub fn cpu_of_double_fault_stack(addr: u64) -> Option<usize> {
    // SAFETY: only addresses are computed; no reference into the areas is formed.
    let base = unsafe { core::ptr::addr_of!((*CPU_AREAS.0.get())[0]) } as u64;
    let size = size_of::<CpuArea>() as u64;
    let cpu = addr.checked_sub(base)? / size;
    let ist = base + cpu * size + core::mem::offset_of!(CpuArea, ist) as u64;
    let slot = (IST_DOUBLE_FAULT - 1) as u64 * IST_STACK_SIZE as u64;
    let on_df_stack = addr > ist + slot && addr <= ist + slot + IST_STACK_SIZE as u64;
    (cpu < MAX_CPUS as u64 && on_df_stack).then_some(cpu as usize)
}

/// Point GS_BASE at `cpu`'s per-CPU data again (the #DF handler, which may have
/// been entered with the user's GS); returns the GS bases it found (GS_BASE,
/// KERNEL_GS_BASE).
pub fn repair_gs_base(cpu: usize) -> (u64, u64) {
    let found = (rdmsr(MSR_GS_BASE), rdmsr(MSR_KERNEL_GS_BASE));
    // SAFETY: only the address of `cpu`'s area is taken.
    let percpu = unsafe { core::ptr::addr_of!((*CPU_AREAS.0.get())[cpu].percpu) } as u64;
    wrmsr(MSR_GS_BASE, percpu);
    found
}

/// For the triple-fault test: make this CPU's double-fault stack `top` (an
/// unmapped address, so that no double fault can be delivered any more).
pub fn set_double_fault_stack(top: u64) {
    let cpu = cpu_id();
    // SAFETY: this CPU's own TSS (see `CpuAreas`); the CPU reads the IST slot
    // only when it delivers a double fault.
    unsafe {
        (*CPU_AREAS.0.get())[cpu].tss.interrupt_stack_table[(IST_DOUBLE_FAULT - 1) as usize] =
            x86_64::VirtAddr::new(top)
    };
}

/// Tell the exception entry where this CPU's crash record is (`cpu_online`).
pub fn set_crash_record(addr: u64) {
    let cpu = cpu_id();
    // SAFETY: this CPU's own area (see `CpuAreas`); read only by this CPU.
    unsafe { (*CPU_AREAS.0.get())[cpu].percpu.crash_record = addr };
}

/// This CPU's crash record's address (0 before `set_crash_record`).
#[inline(always)]
pub fn crash_record() -> u64 {
    let addr: u64;
    // SAFETY: as for `cpu_id`.
    unsafe {
        asm!("mov {}, gs:[{off}]", out(reg) addr, off = const PERCPU_CRASH_RECORD,
             options(nostack, preserves_flags, readonly))
    };
    addr
}

/// Make `top` the kernel stack that entries from ring 3 switch to (TSS.RSP0 and the
/// `syscall` entry's copy) on this CPU.
pub fn set_kernel_stack(top: u64) {
    let cpu = cpu_id();
    // SAFETY: this CPU's own area (see `CpuAreas`); the TSS is read by the CPU only
    // on the next ring 3 -> 0 transition, which cannot happen while we run here.
    unsafe {
        let area = &mut (*CPU_AREAS.0.get())[cpu];
        area.tss.privilege_stack_table[0] = x86_64::VirtAddr::new(top);
        area.percpu.kernel_rsp = top;
    }
}

/// CPUID leaf 1 EDX, for AT_HWCAP (as Linux reports it on x86-64).
pub fn hwcap() -> u64 {
    core::arch::x86_64::__cpuid(1).edx as u64
}

/// Where the `syscall` instruction enters the kernel (LSTAR).
pub fn syscall_entry_address() -> u64 {
    entry::syscall_entry as *const () as u64
}

pub fn set_fs_base(v: u64) {
    wrmsr(MSR_FS_BASE, v);
}

pub fn fs_base() -> u64 {
    rdmsr(MSR_FS_BASE)
}

/// The user GS base each CPU has loaded (KERNEL_GS_BASE while in the kernel),
/// so that a switch between tasks with the same one (almost always 0) costs
/// no MSR write.
static USER_GS_LOADED: [core::sync::atomic::AtomicU64; MAX_CPUS] =
    [const { core::sync::atomic::AtomicU64::new(0) }; MAX_CPUS];

/// The user's GS base while in the kernel (swapped in on return to ring 3).
pub fn set_user_gs_base(v: u64) {
    USER_GS_LOADED[cpu_id()].store(v, core::sync::atomic::Ordering::Relaxed);
    wrmsr(MSR_KERNEL_GS_BASE, v);
}

/// `set_user_gs_base` unless this CPU has `v` loaded already (context switch).
pub fn load_user_gs_base(v: u64) {
    if USER_GS_LOADED[cpu_id()].load(core::sync::atomic::Ordering::Relaxed) != v {
        set_user_gs_base(v);
    }
}

pub fn user_gs_base() -> u64 {
    rdmsr(MSR_KERNEL_GS_BASE)
}

/// Index of the CPU this runs on (`gs:[0]`, set up by `cpu_init`).
#[inline(always)]
pub fn cpu_id() -> usize {
    let cpu: u64;
    // SAFETY: GS base points at this CPU's `PerCpu` from `cpu_init` on, which runs
    // before anything calls this.
    unsafe { asm!("mov {}, gs:[0]", out(reg) cpu, options(nostack, preserves_flags, readonly)) };
    cpu as usize
}

#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects (rdtscp is avoided: these hosts lack it).
    unsafe { core::arch::x86_64::_rdtsc() }
}

pub fn wrmsr(msr: u32, value: u64) {
    // SAFETY: callers pass architectural MSRs that this kernel owns (APIC, GS base);
    // a bad write raises #GP, which is reported, not silently corrupting.
    unsafe { x86_64::registers::model_specific::Msr::new(msr).write(value) }
}

pub fn rdmsr(msr: u32) -> u64 {
    // SAFETY: reading an MSR has no side effect; an unknown one raises #GP.
    unsafe { x86_64::registers::model_specific::Msr::new(msr).read() }
}

#[inline(always)]
pub fn interrupts_enable() {
    // SAFETY: handlers for every vector we program are installed before the first sti.
    unsafe { asm!("sti", options(nomem, nostack)) }
}

/// Whether interrupts are enabled (RFLAGS.IF).
pub fn interrupts_enabled() -> bool {
    x86_64::instructions::interrupts::are_enabled()
}

#[inline(always)]
pub fn interrupts_disable() {
    // SAFETY: cli only masks interrupts.
    unsafe { asm!("cli", options(nomem, nostack)) }
}

/// Take the interrupts pending on this CPU, then turn them off again: system
/// calls run with interrupts off here (Linux's run with them on, so it needs
/// no such thing), and a long one opens this window now and then for the
/// tick and IPIs (`sched::cond_resched`). Nothing if interrupts are on.
///
/// `sti` takes effect after the next instruction, so `sti; nop; cli` is a
/// one-instruction window: enough on hardware-virtualized hosts. A host
/// that delivers interrupts to ring 0 only when it next enters the guest
/// (this machine's KVM emulates ring-0 code and does not look in between:
/// KVM-HOSTS.md, "expect interrupts to reach kernel code late") leaves them
/// in the APIC's IRR; then `sti; hlt` makes that entry happen, and returns
/// at once since an interrupt is pending.
#[inline(always)]
pub fn irq_window() {
    if interrupts_enabled() {
        return;
    }
    // SAFETY: as for `interrupts_enable`; the handlers run on this stack in
    // the window, as they do during a TLB-flush wait (`tlb.rs`). Not `nomem`:
    // they change memory the caller reads after (a reschedule request).
    unsafe { asm!("sti", "nop", "cli", options(nostack)) }
    if super::apic::kernel_vector_pending() {
        // SAFETY: as above; the `hlt` ends with the pending interrupt (it is
        // unmasked: no handler is in service in the system-call path).
        unsafe { asm!("sti", "hlt", "cli", options(nostack)) }
    }
}

/// `sti; hlt`: enable interrupts and halt until one arrives, with no window in
/// which a wake-up could be lost (sti's shadow covers the hlt). Returns with
/// interrupts enabled, after the handler ran.
#[inline(always)]
pub fn wait_for_interrupt() {
    // SAFETY: as for `interrupts_enable`; hlt just waits.
    unsafe { asm!("sti", "hlt", options(nomem, nostack)) }
}

/// CPUs the VMM started (`BootInfo::cpu_count`, recorded at boot).
static CPU_COUNT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(1);

/// The number of CPUs (all online once boot is over).
#[inline]
pub fn cpu_count() -> usize {
    CPU_COUNT.load(core::sync::atomic::Ordering::Relaxed)
}

pub(super) fn set_cpu_count(n: usize) {
    CPU_COUNT.store(n.clamp(1, MAX_CPUS), core::sync::atomic::Ordering::Relaxed);
}

/// Sleep (halting) until `done()` holds. The condition is checked with interrupts
/// off and the halt re-enables them atomically, so no wake-up is lost. For code
/// that runs without a task (boot); tasks sleep with `sched::wait_event`.
/// Returns with interrupts as they were: kernel code runs with them off, and
/// takes interrupts only where it halts.
pub fn wait_until(mut done: impl FnMut() -> bool) {
    let was_on = interrupts_enabled();
    loop {
        interrupts_disable();
        if done() {
            if was_on {
                interrupts_enable();
            }
            return;
        }
        crate::counters::cpu_add(cpu_id(), crate::counters::CPU_IDLE_HALTS, 1);
        wait_for_interrupt();
    }
}

/// Idle: halt with interrupts enabled; the caller re-checks its condition.
#[inline(always)]
pub fn idle() {
    wait_for_interrupt()
}

pub fn read_cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

pub fn read_cr3() -> u64 {
    x86_64::registers::control::Cr3::read_raw().0.start_address().as_u64()
}
