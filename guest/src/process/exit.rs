//! Exit (Linux `kernel/exit.c`: `do_exit`).

use core::sync::atomic::Ordering;

use crate::process::ExitReason;
use crate::sched;

/// End the current task: release what it holds, record how it ended, and switch
/// away for good. Its address space goes when the scheduler drops the task.
pub fn do_exit(reason: ExitReason) -> ! {
    let task = sched::current().expect("do_exit without a task");
    // CLONE_CHILD_CLEARTID / set_tid_address: clear the word and wake a waiter.
    let ctid = task.clear_child_tid.swap(0, Ordering::Relaxed);
    if ctid != 0 && crate::arch::uaccess::copy_to_user(ctid, &0u32.to_le_bytes()).is_ok() {
        crate::syscall::futex::futex_wake(ctid, 1);
    }
    task.files().close_all();
    task.set_exit(reason);
    drop(task);
    sched::exit_current()
}
