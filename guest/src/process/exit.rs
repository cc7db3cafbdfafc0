//! Exit (Linux `kernel/exit.c`: `do_exit`, `exit_notify`, `forget_original_parent`).

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::process::signal::SIGCHLD;
use crate::process::table;
use crate::process::task::{Task, SA_NOCLDWAIT, SIG_IGN};
use crate::process::ExitReason;
use crate::sched;

/// End the current task: release what it holds, record how it ended, notify its
/// parent, hand its children to a reaper, and switch away for good.
pub fn do_exit(reason: ExitReason) -> ! {
    let task = sched::current().expect("do_exit without a task");
    // A group exit (exit_group, a fatal signal) decides every thread's status.
    let reason = task.group.exit.lock().unwrap_or(reason);
    // CLONE_CHILD_CLEARTID / set_tid_address: clear the word and wake a waiter
    // (while the address space is still ours).
    let ctid = task.clear_child_tid.swap(0, Ordering::Relaxed);
    if ctid != 0 && crate::uaccess::write_u32(ctid, 0).is_ok() {
        crate::syscall::futex::futex_wake(ctid, 1);
    }
    crate::process::fork::vfork_release(&task);
    // exit_mm: leave the address space (others may still share it).
    let mm = task.mm.lock().take();
    crate::arch::mmu::load_cr3(crate::arch::mmu::kernel_root());
    drop(mm);
    // exit_files, exit_fs: drop this task's references.
    *task.files.lock() = Arc::new(crate::fs::file::FdTable::new());
    task.set_exit(reason);
    let remaining = task.group.live.fetch_sub(1, Ordering::AcqRel) - 1;
    exit_notify(&task, remaining);
    drop(task);
    sched::exit_current()
}

/// End the whole thread group (Linux `do_group_exit`): the first group exit
/// decides the status; the other threads are killed.
pub fn do_group_exit(reason: ExitReason) -> ! {
    let task = sched::current().expect("do_group_exit without a task");
    {
        let mut exit = task.group.exit.lock();
        if exit.is_none() {
            *exit = Some(reason);
        }
    }
    if task.group.live.load(Ordering::Acquire) > 1 {
        for t in table::all().iter().filter(|t| t.tgid == task.tgid && t.pid != task.pid) {
            crate::process::signal::force_sig(t, crate::process::signal::SIGKILL);
        }
    }
    drop(task);
    do_exit(reason)
}

/// The task that inherits `task`'s children: the nearest ancestor that is a
/// child subreaper, else init (Linux `find_new_reaper`).
fn find_reaper(task: &Task) -> Option<Arc<Task>> {
    let mut ppid = task.ppid.load(Ordering::Relaxed);
    while ppid > 1 {
        let p = table::find(ppid)?;
        if p.child_subreaper.load(Ordering::Relaxed) && !p.exited.load(Ordering::Acquire) {
            return Some(p);
        }
        ppid = p.ppid.load(Ordering::Relaxed);
    }
    table::find(1)
}

fn exit_notify(task: &Arc<Task>, remaining: u32) {
    // Orphans go to the reaper; zombies among them are its to reap now.
    let children = core::mem::take(&mut *task.children.lock());
    if !children.is_empty() {
        if let Some(reaper) = find_reaper(task).filter(|r| !Arc::ptr_eq(r, task)) {
            for c in &children {
                c.ppid.store(reaper.pid, Ordering::Relaxed);
            }
            reaper.children.lock().extend(children);
            reaper.wait_chld.wake_all();
        } else {
            for c in &children {
                c.ppid.store(0, Ordering::Relaxed);
            }
        }
    }
    if task.tgid != task.pid {
        // A thread: nobody waits for it (Linux: autoreaped). The last one out
        // reports a group leader that exited before it.
        table::release(task);
        if remaining == 0 {
            if let Some(leader) =
                table::find(task.tgid).filter(|l| l.exited.load(Ordering::Acquire))
            {
                if let Some(reason) = *task.group.exit.lock() {
                    leader.set_exit(reason);
                }
                notify_parent(&leader);
            }
        }
        return;
    }
    if remaining > 0 {
        // A leader with threads still running is reported when the last ends.
        return;
    }
    notify_parent(task);
}

/// Tell the parent a process ended (Linux `do_notify_parent`): reap it at once
/// if the parent ignores SIGCHLD, else send the exit signal and wake waiters.
fn notify_parent(task: &Arc<Task>) {
    let exit_signal = task.exit_signal.load(Ordering::Relaxed) as u8;
    let Some(parent) = table::find(task.ppid.load(Ordering::Relaxed)) else {
        table::release(task);
        return;
    };
    let sa = parent.sighand().action(SIGCHLD);
    let ignored = sa.handler == SIG_IGN || sa.flags & SA_NOCLDWAIT != 0;
    if exit_signal == SIGCHLD && ignored {
        // SIGCHLD ignored: the child is reaped at once (Linux `do_notify_parent`).
        parent.children.lock().retain(|c| !Arc::ptr_eq(c, task));
        table::release(task);
    } else if exit_signal != 0 {
        let (code, status) = match task.exit_reason() {
            ExitReason::Exited(c) => (crate::process::signal::CLD_EXITED, c as i32),
            ExitReason::Killed { signal, core } => (
                if core {
                    crate::process::signal::CLD_DUMPED
                } else {
                    crate::process::signal::CLD_KILLED
                },
                signal as i32,
            ),
        };
        let info = crate::process::signal::SigInfo {
            code,
            pid: task.pid,
            uid: task.creds().uid,
            status,
            ..Default::default()
        };
        crate::process::signal::send_signal_info(&parent, exit_signal, info);
    }
    parent.wait_chld.wake_all();
}
