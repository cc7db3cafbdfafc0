//! The machine side of tasks: kernel stacks, the saved kernel stack pointer and
//! the switch between tasks.

use alloc::boxed::Box;
use core::cell::UnsafeCell;

use super::irq::IrqSpinLock;
use super::traps::TrapFrame;

pub const KERNEL_STACK_SIZE: usize = 16 * 1024;
/// Linux's STACK_END_MAGIC.
const STACK_END_MAGIC: u64 = 0x57ac_6e9d;

#[repr(C, align(16))]
struct StackMemory([u8; KERNEL_STACK_SIZE]);

/// A task's kernel stack. Its memory goes back (to this CPU's cache, or
/// freed) when the task, dead, has left its CPU for the last time
/// ([`KernelStack::release`]), or else when the task is freed; `None` after.
pub struct KernelStack(UnsafeCell<Option<Box<UnsafeCell<StackMemory>>>>);

/// Each CPU keeps up to two freed stacks for its next tasks (Linux
/// NR_CACHED_STACKS).
const CACHED_STACKS: usize = 2;

struct StackCache(IrqSpinLock<[Option<Box<UnsafeCell<StackMemory>>>; CACHED_STACKS]>);
// SAFETY: the cached stacks are plain memory owned by the cache; the lock
// serialises access.
unsafe impl Sync for StackCache {}

static STACK_CACHES: [StackCache; protocol::MAX_CPUS] =
    [const { StackCache(IrqSpinLock::new([None, None])) }; protocol::MAX_CPUS];

/// Run `f` on this CPU's stack cache, held with interrupts off (a task, and
/// with it its stack, can be freed in the timer interrupt).
fn with_cache<R>(
    f: impl FnOnce(&mut [Option<Box<UnsafeCell<StackMemory>>>; CACHED_STACKS]) -> R,
) -> R {
    f(&mut STACK_CACHES[super::cpu::cpu_id()].0.lock())
}

// SAFETY: the stack is used only by the task that owns it, on one CPU at a time;
// other code only computes its address. The memory is taken out of the cell
// only by `release`, once nothing uses it (see there), or by `drop`.
unsafe impl Sync for KernelStack {}
// SAFETY: as above.
unsafe impl Send for KernelStack {}

impl KernelStack {
    /// A stack: one from this CPU's cache, zeroed, if it has one (Linux
    /// `cached_stacks`), else a new one; None when the heap is exhausted.
    pub fn new() -> Option<Self> {
        let mem = match with_cache(|c| c.iter_mut().find_map(|s| s.take())) {
            Some(mut mem) => {
                // Heap memory, which the VMM may zero (`mm::bulk`) where that
                // is cheaper; else `rep stosq` here.
                if !super::bulk::zero_kernel_memory(&mut mem.get_mut().0) {
                    // SAFETY: a cached stack is owned by the cache alone; 2048
                    // qwords are exactly its 16 KiB.
                    unsafe {
                        core::arch::asm!("rep stosq", inout("rcx") KERNEL_STACK_SIZE / 8 => _,
                            inout("rdi") mem.get() => _, in("rax") 0u64, options(nostack, preserves_flags));
                    }
                    crate::counters::global_add(
                        crate::counters::GUEST_PAGES_ZEROED,
                        (KERNEL_STACK_SIZE / 4096) as u64,
                    );
                }
                crate::counters::global_add(crate::counters::KSTACK_CACHE_HITS, 1);
                mem
            }
            None => {
                let layout = core::alloc::Layout::new::<UnsafeCell<StackMemory>>();
                // SAFETY: the layout is non-zero-sized; the memory is handed to a
                // Box of the same layout. It need not be zeroed: it only ever holds
                // frames the kernel writes before reading.
                unsafe {
                    let p = alloc::alloc::alloc(layout) as *mut UnsafeCell<StackMemory>;
                    if p.is_null() {
                        return None;
                    }
                    Box::from_raw(p)
                }
            }
        };
        crate::counters::global_add(crate::counters::KSTACKS_IN_USE, 1);
        // The stack-end canary (Linux STACK_END_MAGIC): an overflow that runs off
        // the bottom overwrites it first.
        // SAFETY: the lowest word of memory this KernelStack now owns.
        unsafe { (mem.get() as *mut u64).write(STACK_END_MAGIC) };
        Some(Self(UnsafeCell::new(Some(mem))))
    }

    /// The memory, while the task has it.
    fn memory(&self) -> &UnsafeCell<StackMemory> {
        // SAFETY: only `release` and `drop` change the cell, when the task
        // runs no more and nothing else reads its stack: the only callers
        // then are bugs, which the `expect` stops.
        unsafe { (*self.0.get()).as_deref() }.expect("a live stack")
    }

    /// Give the stack back (Linux `put_task_stack` from `finish_task_switch`
    /// when the previous task is dead): the scheduler calls this on the CPU
    /// that has just switched away from its dead task for the last time. Its
    /// `switch_to` was the last code to run on the stack, and no other code
    /// reads a task's stack (a tracer gets a copy of the registers the task
    /// made itself, its `top` is asked only of the task that runs next). A
    /// zombie so holds no kernel stack, as on Linux.
    pub fn release(&self) {
        // SAFETY: as above: nothing uses the stack any more, and only this
        // CPU's scheduler, holding a reference to the task, calls this for it.
        if let Some(mem) = unsafe { (*self.0.get()).take() } {
            give_back(mem);
        }
    }

    /// Whether the stack-end canary is intact (Linux `task_stack_end_corrupted`).
    pub fn canary_intact(&self) -> bool {
        let mem = self.memory();
        // SAFETY: the lowest word of the stack, written by `new`; reading it races
        // only with an overflow, which is what this detects.
        unsafe { (mem.get() as *const u64).read_volatile() == STACK_END_MAGIC }
    }

    pub fn top(&self) -> u64 {
        self.memory().get() as u64 + KERNEL_STACK_SIZE as u64
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        if let Some(mem) = self.0.get_mut().take() {
            give_back(mem);
        }
    }
}

/// A stack's memory into this CPU's cache if there is room (zeroed when
/// reused), else freed.
fn give_back(mem: Box<UnsafeCell<StackMemory>>) {
    crate::counters::global_sub(crate::counters::KSTACKS_IN_USE, 1);
    let spare = with_cache(|c| match c.iter_mut().find(|s| s.is_none()) {
        Some(slot) => {
            *slot = Some(mem);
            None
        }
        None => Some(mem),
    });
    drop(spare);
}

/// The kernel stack pointer saved by `switch_to` for a task not running.
pub struct Context(UnsafeCell<u64>);

// SAFETY: written only by `switch_to` on the CPU that switches away from the task
// and read by the CPU that switches to it; the scheduler never runs a task on two
// CPUs at once.
unsafe impl Sync for Context {}

impl Context {
    pub const fn new() -> Self {
        Self(UnsafeCell::new(0))
    }

    /// Prepare a new task: its first switch lands in `ret_from_fork`, which
    /// returns to user mode with `frame`.
    pub fn init_user(&self, stack: &KernelStack, frame: &TrapFrame) {
        let top = stack.top();
        let frame_addr = top - core::mem::size_of::<TrapFrame>() as u64;
        // Six callee-saved registers, then the return address into ret_from_fork.
        let rsp = frame_addr - 8 * 7;
        // SAFETY: the addresses are inside `stack`, which no one runs on yet (the
        // task is new); the TrapFrame is written in place for `trap_return`.
        unsafe {
            core::ptr::write(frame_addr as *mut TrapFrame, *frame);
            let words = rsp as *mut u64;
            for i in 0..6 {
                words.add(i).write(0);
            }
            words.add(6).write(super::entry::ret_from_fork as *const () as u64);
            *self.0.get() = rsp;
        }
    }

    /// Prepare a kernel thread: its first switch lands in `ret_from_kernel_thread`,
    /// which calls `entry(arg)` on `stack` in ring 0.
    pub fn init_kernel(&self, stack: &KernelStack, entry: extern "C" fn(u64) -> !, arg: u64) {
        // switch_to_asm pops r15, r14, r13, r12, rbx, rbp, then returns; the
        // TrapFrame slot at the top stays unused (a kernel thread never returns
        // to user mode), which keeps the stack layout of user tasks.
        let top = stack.top() - core::mem::size_of::<TrapFrame>() as u64;
        let rsp = top - 8 * 7;
        let words = [0, 0, 0, arg, entry as usize as u64, 0];
        // SAFETY: the addresses are inside `stack`, which no one runs on yet (the
        // task is new).
        unsafe {
            let p = rsp as *mut u64;
            for (i, w) in words.iter().enumerate() {
                p.add(i).write(*w);
            }
            p.add(6).write(super::entry::ret_from_kernel_thread as *const () as u64);
            *self.0.get() = rsp;
        }
    }

    /// The TrapFrame of a task whose kernel stack is `stack` (at its top).
    pub fn user_frame(stack: &KernelStack) -> *mut TrapFrame {
        (stack.top() - core::mem::size_of::<TrapFrame>() as u64) as *mut TrapFrame
    }

    /// A copy of the user registers of the running task, whose kernel stack
    /// is `stack`, from a path that never returns to user mode (exit: Linux
    /// `task_pt_regs(current)` for ptrace's PTRACE_EVENT_EXIT stop).
    pub fn own_user_frame_copy(stack: &KernelStack) -> TrapFrame {
        // SAFETY: the frame at the top of the running task's own stack was
        // written by its entry from user mode; the caller never returns
        // there, so no reference to the frame is used again meanwhile.
        unsafe { core::ptr::read_volatile(Self::user_frame(stack)) }
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

/// Switch from the running task (whose context is `prev`) to `next`.
/// Returns when something switches back to `prev`.
pub fn switch_to(prev: &Context, next: &Context) {
    // SAFETY: `next` holds a stack pointer saved by switch_to or made by
    // `init_user`, on a stack that stays alive while its task can run; `prev` is
    // the running task's own context.
    unsafe { super::entry::switch_to_asm(prev.0.get(), *next.0.get()) }
}

/// Something the scheduler switches between.
pub trait HasContext {
    fn context(&self) -> &Context;
}

/// A CPU's switch slots: they own the task running on the CPU and, during a
/// switch, the one being switched away from, so that both outlive the switch.
/// Only `switch` and `finish` move tasks in and out of them.
pub struct SwitchSlots<T> {
    /// (current, previous).
    slots: spin::Mutex<(Slot<T>, Slot<T>)>,
    /// The current task, for `current` (which takes no lock).
    curr: core::sync::atomic::AtomicPtr<T>,
}

type Slot<T> = Option<alloc::sync::Arc<T>>;

impl<T: HasContext> SwitchSlots<T> {
    pub const fn new() -> Self {
        Self {
            slots: spin::Mutex::new((None, None)),
            curr: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Record the task the CPU runs before any switch (its idle task).
    pub fn set_current(&self, task: alloc::sync::Arc<T>) {
        let p = alloc::sync::Arc::as_ptr(&task) as *mut T;
        self.slots.lock().0 = Some(task);
        self.curr.store(p, core::sync::atomic::Ordering::Release);
    }

    /// The task running on this CPU, as a new reference, without a lock (the
    /// scheduler's `current`). Only for the CPU these slots belong to: only it
    /// changes its current task, and not while it runs this.
    pub fn current(&self) -> Option<alloc::sync::Arc<T>> {
        let p = self.curr.load(core::sync::atomic::Ordering::Acquire) as *const T;
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` is `Arc::as_ptr` of the task the current slot owns. The
        // caller runs on this CPU, so the task stays current (and the slot
        // keeps its reference) until this CPU switches, which it cannot do
        // during this call (switches happen only in `switch`, never from an
        // interrupt handler). Taking a reference first makes `from_raw`'s
        // balance right.
        unsafe {
            alloc::sync::Arc::increment_strong_count(p);
            Some(alloc::sync::Arc::from_raw(p))
        }
    }

    /// Switch from the current task to `next` (interrupts off). Returns when the
    /// task that called it runs again; the other side must call `finish`.
    pub fn switch(&self, next: alloc::sync::Arc<T>) {
        super::irq::assert_irqs_disabled();
        let (prev, next) = {
            let mut s = self.slots.lock();
            self.curr.store(
                alloc::sync::Arc::as_ptr(&next) as *mut T,
                core::sync::atomic::Ordering::Release,
            );
            let prev = s.0.replace(next).expect("a current task");
            let pp = alloc::sync::Arc::as_ptr(&prev);
            debug_assert!(s.1.is_none(), "finish was not called after the last switch");
            s.1 = Some(prev);
            (pp, alloc::sync::Arc::as_ptr(s.0.as_ref().unwrap()))
        };
        // SAFETY: the slots own both tasks (current and previous) until `finish`
        // runs on the other side of the switch, so the references are valid for
        // the whole switch.
        let (p, n) = unsafe { (&*prev, &*next) };
        switch_to(p.context(), n.context());
    }

    /// After a switch: release the task switched away from.
    pub fn finish(&self) -> Option<alloc::sync::Arc<T>> {
        self.slots.lock().1.take()
    }
}

impl<T: HasContext> Default for SwitchSlots<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// An `fxsave64` image: 512 bytes, 16-byte aligned.
#[repr(C, align(16))]
struct FxArea([u8; 512]);

impl FxArea {
    /// The state after `fninit` with SSE exceptions masked: FCW 0x37f, MXCSR 0x1f80.
    fn initial() -> Self {
        let mut a = [0u8; 512];
        a[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        a[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        a[28..32].copy_from_slice(&0xffffu32.to_le_bytes()); // MXCSR_MASK
        Self(a)
    }

    fn fxrstor(&self) {
        // SAFETY: a 512-byte, 16-byte aligned image written by `initial`,
        // `fxsave64` or `FpuState::load_image` (a valid MXCSR).
        unsafe {
            core::arch::asm!("fxrstor64 [{}]", in(reg) &self.0, options(nostack, preserves_flags))
        }
    }
}

/// Write this CPU's x87/SSE registers into `area`.
fn fxsave(area: *mut FxArea) {
    // SAFETY: `area` points to 512 writable, 16-byte aligned bytes (an
    // `FxArea`) that nothing else uses meanwhile (callers' notes).
    unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) area, options(nostack, preserves_flags)) }
}

/// x87/SSE state of a user task (`fxsave64` area), saved when it is switched
/// out and restored when it runs again. The kernel itself uses no SSE. The
/// area is on the heap and written in place (a fork saves the parent's
/// registers straight into the child's, as Linux's `fpu_clone`): held in the
/// task, its 512 bytes were copied into the child's state and then moved
/// with the task three times more, each a `rep movs` of 64 words that
/// costs about an instruction per word where ring 0 is emulated.
/// A CPU's idle task has none (`none`): it never runs user code.
pub struct FpuState(Option<Box<UnsafeCell<FxArea>>>);

// SAFETY: only the CPU running the task (or the one switching it) touches it.
unsafe impl Sync for FpuState {}
// SAFETY: as above.
unsafe impl Send for FpuState {}

impl FpuState {
    /// The state after `fninit` with SSE exceptions masked.
    pub fn new() -> Self {
        Self(Some(Box::new(UnsafeCell::new(FxArea::initial()))))
    }

    /// No area: for a task that never runs in user mode and whose switches
    /// neither save nor restore these registers (a CPU's idle task).
    pub fn none() -> Self {
        Self(None)
    }

    /// The calling task's registers as they are now, in a new area (fork:
    /// the child starts with the parent's registers, which are live on this
    /// CPU while the parent is in the kernel).
    pub fn clone_current() -> Self {
        let mut area = Box::<UnsafeCell<FxArea>>::new_uninit();
        fxsave(area.as_mut_ptr().cast());
        // SAFETY: fxsave64 wrote all 512 bytes, the whole of an `FxArea`.
        Self(Some(unsafe { area.assume_init() }))
    }

    /// Save this CPU's x87/SSE registers here (nothing without an area).
    pub fn save(&self) {
        // The area is owned by the task being switched out on this CPU.
        if let Some(area) = &self.0 {
            fxsave(area.get());
        }
    }

    /// Load this CPU's x87/SSE registers from here (nothing without an area).
    pub fn restore(&self) {
        if let Some(area) = &self.0 {
            // SAFETY: read on the CPU that runs the task only (see the Sync note).
            unsafe { &*area.get() }.fxrstor();
        }
    }

    /// This CPU's x87/SSE registers as an `fxsave` image (signal frames).
    pub fn capture() -> [u8; 512] {
        let mut area = core::mem::MaybeUninit::<FxArea>::uninit();
        fxsave(area.as_mut_ptr());
        // SAFETY: fxsave64 wrote all 512 bytes.
        unsafe { area.assume_init() }.0
    }

    /// Load this CPU's x87/SSE registers from an `fxsave` image (rt_sigreturn).
    /// MXCSR bits the CPU does not support are cleared first: fxrstor would
    /// fault on them.
    pub fn load_image(mut image: [u8; 512]) {
        let mxcsr = u32::from_le_bytes(image[24..28].try_into().unwrap()) & 0xffff;
        image[24..28].copy_from_slice(&mxcsr.to_le_bytes());
        FxArea(image).fxrstor();
    }

    /// Load the state after `fninit` (a signal handler starts with it).
    pub fn load_initial() {
        FxArea::initial().fxrstor();
    }
}

impl Default for FpuState {
    fn default() -> Self {
        Self::new()
    }
}
