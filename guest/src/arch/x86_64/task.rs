//! The machine side of tasks: kernel stacks, the saved kernel stack pointer and
//! the switch between tasks.

use alloc::boxed::Box;
use core::cell::UnsafeCell;

use super::traps::TrapFrame;

pub const KERNEL_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct StackMemory([u8; KERNEL_STACK_SIZE]);

/// A task's kernel stack.
pub struct KernelStack(Box<UnsafeCell<StackMemory>>);

// SAFETY: the stack is used only by the task that owns it, on one CPU at a time;
// other code only computes its address.
unsafe impl Sync for KernelStack {}
// SAFETY: as above.
unsafe impl Send for KernelStack {}

impl KernelStack {
    /// A new stack, or None when the heap is exhausted.
    pub fn new() -> Option<Self> {
        let layout = core::alloc::Layout::new::<UnsafeCell<StackMemory>>();
        // SAFETY: the layout is non-zero-sized; the memory is handed to a Box of
        // the same layout. It need not be zeroed: it only ever holds frames the
        // kernel writes before reading.
        unsafe {
            let p = alloc::alloc::alloc(layout) as *mut UnsafeCell<StackMemory>;
            if p.is_null() {
                return None;
            }
            Some(Self(Box::from_raw(p)))
        }
    }

    pub fn top(&self) -> u64 {
        self.0.get() as u64 + KERNEL_STACK_SIZE as u64
    }
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

    /// The TrapFrame of a task whose kernel stack is `stack` (at its top).
    pub fn user_frame(stack: &KernelStack) -> *mut TrapFrame {
        (stack.top() - core::mem::size_of::<TrapFrame>() as u64) as *mut TrapFrame
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
