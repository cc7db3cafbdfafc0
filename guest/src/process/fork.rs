//! Process creation (Linux `kernel/fork.c`): `kernel_clone` → `copy_process`.
//!
//! `copy_process` checks the flags before it allocates anything, then builds the
//! child in Linux's order: the task and its kernel stack (`dup_task_struct`),
//! RLIMIT_NPROC and `max_threads`, credentials, files, fs, sighand, mm, the
//! thread state, and the pid last. Every piece is owned by something that frees
//! it when dropped, so an error at any stage undoes exactly what was done.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::task::KernelStack;
use crate::arch::TrapFrame;
use crate::errno::{Errno, EAGAIN, EINVAL, ENOMEM};
use crate::process::clone_flags::*;
use crate::process::fault_inject::{should_fail, Stage};
use crate::process::rlimit::RLIMIT_NPROC;
use crate::process::table;
use crate::process::task::{Task, TaskParts, SIG_IGN};
use crate::sched;

/// What a clone asks for (Linux `struct kernel_clone_args`).
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelCloneArgs {
    pub flags: u64,
    pub exit_signal: u32,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
}

/// Tasks waiting for a vfork child to exit or exec.
static VFORK_WAIT: sched::WaitQueue = sched::WaitQueue::new();

/// Create a task as `args` asks; the child's pid. The parent's registers are
/// `frame` (the child returns 0 from the same call).
pub fn kernel_clone(args: &KernelCloneArgs, frame: &TrapFrame) -> Result<u64, Errno> {
    let parent = sched::current().expect("clone without a task");
    check_flags(args.flags, parent.pid == 1)?;
    if args.flags & UNSUPPORTED_NAMESPACES != 0 || args.flags & (CLONE_NEWPID | CLONE_NEWUTS) != 0 {
        // PID and UTS namespaces come later; none is implemented yet.
        return Err(EINVAL);
    }
    let before = resources();
    let injected = crate::counters::global_get(crate::counters::FAULT_INJECTIONS);
    let child = match copy_process(&parent, args, frame) {
        Ok(c) => c,
        Err(e) => {
            // An injected failure must leave nothing behind: every resource
            // copy_process takes is back to where it was.
            if crate::counters::global_get(crate::counters::FAULT_INJECTIONS) != injected {
                let after = resources();
                if after != before {
                    crate::counters::global_add(crate::counters::FAULT_INJECTION_LEAKS, 1);
                    crate::println!(
                        "kernel: failed clone leaked: before {before:?} after {after:?}"
                    );
                }
            }
            return Err(e);
        }
    };
    let pid = child.pid;
    if args.flags & CLONE_PARENT_SETTID != 0 {
        let _ = crate::uaccess::write_u32(args.parent_tid, pid);
    }
    let done = if args.flags & CLONE_VFORK != 0 {
        let d = Arc::new(AtomicBool::new(false));
        *child.vfork_done.lock() = Some(d.clone());
        Some(d)
    } else {
        None
    };
    // Threads share the address space: keep them on this CPU until TLB
    // shootdowns exist; processes go to the least loaded CPU.
    let cpu = if args.flags & CLONE_VM != 0 { crate::arch::cpu_id() } else { sched::select_cpu() };
    sched::wake_up_new_task(child, cpu);
    if let Some(d) = done {
        // Killable only (Linux `wait_for_vfork_done`): a handled signal must not
        // let the parent run while the child still borrows its memory.
        sched::wait_event_killable(Some(&VFORK_WAIT), || d.load(Ordering::Acquire));
    }
    Ok(pid as u64)
}

/// What copy_process takes: frames, page-table pages, kernel stacks, pids,
/// tasks, open-file references.
fn resources() -> [u64; 6] {
    use crate::counters::*;
    [
        global_get(FRAMES_IN_USE),
        global_get(PAGE_TABLE_PAGES),
        global_get(KSTACKS_IN_USE),
        global_get(PIDS_IN_USE),
        global_get(NR_THREADS),
        global_get(OPEN_FILES),
    ]
}

/// A vfork child exited or exec'd: release its parent (Linux `mm_release`).
pub fn vfork_release(task: &Task) {
    if let Some(d) = task.vfork_done.lock().take() {
        d.store(true, Ordering::Release);
        VFORK_WAIT.wake_all();
    }
}

fn copy_process(
    parent: &Arc<Task>,
    args: &KernelCloneArgs,
    frame: &TrapFrame,
) -> Result<Arc<Task>, Errno> {
    let flags = args.flags;
    // dup_task_struct: the kernel stack.
    if should_fail(Stage::DupTaskStruct) {
        return Err(ENOMEM);
    }
    let kstack = KernelStack::new().ok_or(ENOMEM)?;
    // RLIMIT_NPROC, per real user; root is exempt (CAP_SYS_RESOURCE/CAP_SYS_ADMIN).
    let creds = parent.creds();
    let nproc = parent.rlimits.lock().get(RLIMIT_NPROC).map_or(u64::MAX, |r| r.cur);
    if creds.uid != 0 && creds.euid != 0 && table::user_processes(creds.uid) as u64 >= nproc {
        return Err(EAGAIN);
    }
    if table::nr_threads() >= table::MAX_THREADS {
        return Err(EAGAIN);
    }
    if should_fail(Stage::CopyFiles) {
        return Err(ENOMEM);
    }
    let files = if flags & CLONE_FILES != 0 {
        parent.files()
    } else {
        Arc::new(parent.files().duplicate())
    };
    if should_fail(Stage::CopyFs) {
        return Err(ENOMEM);
    }
    let fs = if flags & CLONE_FS != 0 { parent.fs() } else { Arc::new(parent.fs().duplicate()) };
    if should_fail(Stage::CopySighand) {
        return Err(ENOMEM);
    }
    let sighand = if flags & CLONE_SIGHAND != 0 {
        parent.sighand()
    } else {
        let h = parent.sighand().duplicate();
        if flags & CLONE_CLEAR_SIGHAND != 0 {
            // Handlers reset to SIG_DFL; ignored signals stay ignored.
            for a in h.actions.lock().iter_mut() {
                if a.handler != SIG_IGN {
                    *a = Default::default();
                }
            }
        }
        Arc::new(h)
    };
    let parent_mm = parent.mm().ok_or(EINVAL)?;
    let mm = if flags & CLONE_VM != 0 { parent_mm } else { parent_mm.fork()? };

    // copy_thread: the child returns 0, on its new stack if one was given.
    let mut child_frame = *frame;
    child_frame.rax = 0;
    if args.stack != 0 {
        child_frame.rsp = args.stack.wrapping_add(args.stack_size);
    }
    let fs_base = if flags & CLONE_SETTLS != 0 { args.tls } else { crate::arch::cpu::fs_base() };

    // The pid last: nothing after it can fail.
    if should_fail(Stage::AllocPid) {
        return Err(EAGAIN);
    }
    let pid = table::alloc_pid().ok_or(EAGAIN)?;
    let thread = flags & CLONE_THREAD != 0;
    let (ppid, exit_signal) = if flags & (CLONE_PARENT | CLONE_THREAD) != 0 {
        let sig = if thread { 0 } else { parent.exit_signal.load(Ordering::Relaxed) };
        (parent.ppid.load(Ordering::Relaxed), sig)
    } else {
        (parent.pid, args.exit_signal)
    };
    let group = if thread {
        parent.group.live.fetch_add(1, Ordering::AcqRel);
        parent.group.clone()
    } else {
        crate::process::task::ThreadGroup::new()
    };
    let child = Task::from_parts(TaskParts {
        pid,
        group,
        tgid: if thread { parent.tgid } else { pid },
        ppid,
        kstack: Some(kstack),
        fpu: parent.fpu.duplicate(),
        idle: false,
        mm: Some(mm),
        files,
        fs,
        sighand,
        creds,
        rlimits: *parent.rlimits.lock(),
        probe: false,
    });
    child.context.init_user(child.kstack.as_ref().unwrap(), &child_frame);
    child.exit_signal.store(exit_signal, Ordering::Relaxed);
    child.fs_base.store(fs_base, Ordering::Relaxed);
    child.gs_base.store(parent.gs_base.load(Ordering::Relaxed), Ordering::Relaxed);
    child.pgid.store(parent.pgid.load(Ordering::Relaxed), Ordering::Relaxed);
    child.sid.store(parent.sid.load(Ordering::Relaxed), Ordering::Relaxed);
    *child.comm.lock() = *parent.comm.lock();
    // The signal mask is inherited; pending signals are not. The alternate
    // signal stack is kept by fork and vfork, not by new threads (Linux).
    child.blocked.store(parent.blocked.load(Ordering::Relaxed), Ordering::Relaxed);
    if flags & (CLONE_VM | CLONE_VFORK) != CLONE_VM {
        *child.altstack.lock() = *parent.altstack.lock();
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        child.set_child_tid.store(args.child_tid, Ordering::Relaxed);
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid.store(args.child_tid, Ordering::Relaxed);
    }
    let child = Arc::new(child);
    table::register(&child);
    if !thread {
        match table::find(ppid) {
            Some(p) => p.children.lock().push(child.clone()),
            None => parent.children.lock().push(child.clone()),
        }
    }
    Ok(child)
}
