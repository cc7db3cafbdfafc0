//! Process creation (Linux `kernel/fork.c`): `kernel_clone` → `copy_process`.
//!
//! `copy_process` checks the flags before it allocates anything, then builds the
//! child in Linux's order: the task and its kernel stack (`dup_task_struct`),
//! RLIMIT_NPROC and `max_threads`, credentials, files, fs, sighand, mm,
//! namespaces, the thread state, and the pid last. Every piece is owned by
//! something that frees it when dropped, so an error at any stage undoes
//! exactly what was done.
//!
//! Signals and fork (Linux since 4.20): a signal already pending when the fork
//! starts is handled first and the fork restarted (ERESTARTNOINTR); a signal
//! sent to the parent's process group (or to every process) while the fork is
//! in progress is given to the child as well, as if sent after the fork; a
//! fatal signal for the parent fails the fork (EINTR: the parent is dying).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::task::KernelStack;
use crate::arch::TrapFrame;
use crate::errno::{Errno, EAGAIN, EINTR, EINVAL, ENOMEM, EPERM};
use crate::fault_inject::{should_fail, Stage};
use crate::process::clone_flags::{check_flags, CloneFlags};
use crate::process::rlimit::RLIMIT_NPROC;
use crate::process::signal::{signal_pending, ERESTARTNOINTR};
use crate::process::table;
use crate::process::task::{Task, TaskParts, ThreadGroup};
use crate::sched;

/// What a clone asks for (Linux `struct kernel_clone_args`).
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelCloneArgs {
    pub flags: CloneFlags,
    pub exit_signal: u32,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    /// Where CLONE_PIDFD writes the pidfd (clone: `parent_tid`).
    pub pidfd: u64,
    /// clone3's `set_tid`: the pid wanted in the child's namespace, then in
    /// its parent's, ... (`set_tid_size` of them, at most
    /// `MAX_PID_NS_LEVEL`).
    pub set_tid: [i32; 32],
    pub set_tid_size: usize,
    /// clone3's `cgroup`: the descriptor of the cgroup directory
    /// CLONE_INTO_CGROUP starts the child in.
    pub cgroup: i32,
}

/// How the child starts (Linux `copy_thread`'s two cases): returning to user
/// mode with the parent's registers (rax = 0), or as a kernel thread calling a
/// kernel function.
#[derive(Clone, Copy)]
pub enum ThreadStart<'a> {
    User(&'a TrapFrame),
    Kernel { entry: extern "C" fn(u64) -> !, arg: u64 },
}

/// Create a task as `args` asks; the child's pid as the caller's namespace
/// sees it. The parent's registers are `frame` (the child returns 0 from the
/// same call).
pub fn kernel_clone(args: &KernelCloneArgs, frame: &mut TrapFrame) -> Result<u64, Errno> {
    // Legacy clone writes the pidfd through `parent_tid`: both flags would
    // write to one place (clone3 has a field of its own; the same address
    // in both is refused too).
    if args.flags.contains(CloneFlags::CLONE_PIDFD | CloneFlags::CLONE_PARENT_SETTID)
        && args.pidfd == args.parent_tid
    {
        return Err(EINVAL);
    }
    let parent = crate::process::current().expect("clone without a task");
    // Linux `kernel_clone`'s trace choice: the event to report, if the
    // caller is traced and its tracer asked for it (one load and a branch
    // when untraced).
    let ptrace = parent.ptrace.load(Ordering::Relaxed);
    let trace = if ptrace == 0 {
        0
    } else {
        crate::process::ptrace::clone_event(args.flags, args.exit_signal, ptrace)
    };
    let (child, pid, vfork) =
        kernel_clone_from(parent.clone(), args, ThreadStart::User(frame), trace)?;
    if trace != 0 {
        // The syscall's registers as Linux shows them in the stop: rax is
        // -ENOSYS until the call returns, orig_rax its number.
        let orig_rax = frame.rax;
        frame.rax = crate::errno::ENOSYS.to_ret() as u64;
        crate::process::ptrace::ptrace_event_pid(&parent, trace, &child, Some(frame), orig_rax);
    }
    if let Some(done) = vfork {
        // Killable only (Linux `wait_for_vfork_done`): a handled signal must not
        // let the parent run while the child still borrows its memory.
        crate::process::wait_event_killable(Some(&done.wait), || done.is_done());
        if done.is_done() && parent.ptrace.load(Ordering::Relaxed) != 0 {
            let orig_rax = frame.rax;
            crate::process::ptrace::ptrace_event_pid(
                &parent,
                crate::process::ptrace::PTRACE_EVENT_VFORK_DONE,
                &child,
                Some(frame),
                orig_rax,
            );
        }
    }
    Ok(pid as u64)
}

/// Start a kernel thread running `entry(arg)` (Linux `kernel_thread`): a task
/// with no address space of its own that shares the creator's files and fs and
/// never returns to user mode. Its parent is the task running now (the idle
/// task at boot, as Linux's first kernel threads are children of pid 0).
pub fn kernel_thread(
    entry: extern "C" fn(u64) -> !,
    arg: u64,
    name: &[u8],
) -> Result<Arc<Task>, Errno> {
    let parent = crate::process::current_or_idle();
    let args = KernelCloneArgs {
        flags: CloneFlags::CLONE_VM
            | CloneFlags::CLONE_FS
            | CloneFlags::CLONE_FILES
            | CloneFlags::CLONE_UNTRACED,
        ..Default::default()
    };
    let (task, _, _) = kernel_clone_from(parent, &args, ThreadStart::Kernel { entry, arg }, 0)?;
    task.set_comm(name);
    crate::counters::global_add(crate::counters::CLONES_KTHREAD, 1);
    Ok(task)
}

/// `kernel_clone` for `parent`: the child, its pid in `parent`'s PID
/// namespace, and for a vfork what the caller waits on. `trace`: the ptrace
/// event the clone reports (the child is traced too).
fn kernel_clone_from(
    parent: Arc<Task>,
    args: &KernelCloneArgs,
    start: ThreadStart,
    trace: u32,
) -> Result<(Arc<Task>, u32, Option<Arc<sched::Completion>>), Errno> {
    // After unshare(CLONE_NEWPID) the caller's children go to another PID
    // namespace than its own: no threads then (Linux).
    let pid_ns_unshared = !Arc::ptr_eq(parent.pid_ns(), &parent.nsproxy().pid_ns_for_children);
    check_flags(args.flags, parent.is_ns_init(), pid_ns_unshared)?;
    let before = resources(&parent);
    let injected = crate::counters::global_get(crate::counters::FAULT_INJECTIONS);
    let t0 = crate::arch::rdtsc();
    let result = copy_process(&parent, args, start, trace);
    crate::counters::global_add(crate::counters::COPY_PROCESS_TSC, crate::arch::rdtsc() - t0);
    crate::counters::global_add(crate::counters::COPY_PROCESS_CALLS, 1);
    let child = match result {
        Ok(c) => c,
        Err(ERESTARTNOINTR) => {
            // Handle the signal, then make the same call again, whatever
            // the handler's SA_RESTART says.
            parent.restart_nointr.store(true, Ordering::Relaxed);
            parent.restart_pending.store(true, Ordering::Relaxed);
            return Err(ERESTARTNOINTR);
        }
        Err(e) => {
            // An injected failure must leave nothing behind: every resource
            // copy_process takes is back to where it was.
            if crate::counters::global_get(crate::counters::FAULT_INJECTIONS) != injected {
                let after = resources(&parent);
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
    count_clone(args.flags, &start);
    // The child's pid as the caller's namespace sees it (Linux `pid_vnr`).
    let pid = child.pid_nr_ns(parent.pid_ns());
    if args.flags.contains(CloneFlags::CLONE_PARENT_SETTID) {
        let _ = crate::uaccess::write_u32(args.parent_tid, pid);
    }
    // The parent waits on a completion of its own (Linux's `vfork_done`), which
    // the child completes when it exits or execs: no other task is woken.
    let vfork = args.flags.contains(CloneFlags::CLONE_VFORK).then(|| {
        let done = Arc::new(sched::Completion::new());
        *child.vfork_done.lock() = Some(done.clone());
        done
    });
    crate::trace_event!(
        SchedProcessFork,
        parent.pid(),
        child.pid(),
        args.flags.bits(),
        crate::trace::comm_word(&parent.comm, 0),
        crate::trace::comm_word(&parent.comm, 1),
        child.tgid
    );
    // Placed on an idle or the least loaded CPU, threads included: TLB
    // shootdowns keep a shared address space coherent across CPUs.
    sched::wake_up_new_task(child.clone());
    Ok((child, pid, vfork))
}

/// The first thing a new task runs (Linux `schedule_tail`): finish the switch
/// to it, then write its tid where CLONE_CHILD_SETTID asked (in its own
/// address space).
pub fn schedule_tail() {
    sched::schedule_tail::<crate::process::PosixThread>();
    if let Some(t) = crate::process::current() {
        let at = t.set_child_tid.swap(0, Ordering::Relaxed);
        if at != 0 {
            let _ = crate::uaccess::write_u32(at, t.pid_vnr());
        }
    }
}

/// Count a successful clone on this CPU and by kind (kernel threads are
/// counted by `kernel_thread`).
fn count_clone(flags: CloneFlags, start: &ThreadStart) {
    use crate::counters::*;
    cpu_add(crate::arch::cpu_id(), CPU_FORKS, 1);
    if matches!(start, ThreadStart::Kernel { .. }) {
        return;
    }
    let kind = if flags.contains(CloneFlags::CLONE_VFORK) {
        CLONES_VFORK
    } else if flags.contains(CloneFlags::CLONE_THREAD) {
        CLONES_THREAD
    } else if flags.contains(CloneFlags::CLONE_VM) {
        CLONES_VM
    } else {
        CLONES_FORK
    };
    global_add(kind, 1);
}

/// A fork in progress, entered in its process's `multiprocess` list while it
/// runs (Linux `struct multiprocess_signals delayed`, on `copy_process`'s
/// stack): group signals sent meanwhile collect in its entry, named by the
/// fork's number. Leaves the list when dropped.
struct Delayed<'a> {
    group: &'a ThreadGroup,
    id: u64,
}

/// Numbers the forks in progress (`Delayed`).
static NEXT_DELAYED: AtomicU64 = AtomicU64::new(0);

impl<'a> Delayed<'a> {
    fn enter(group: &'a ThreadGroup) -> Self {
        let id = NEXT_DELAYED.fetch_add(1, Ordering::Relaxed);
        group.multiprocess.lock().push((id, 0));
        Delayed { group, id }
    }

    /// The group signals sent since [`Self::enter`] (final under
    /// `table::TASKLIST`, which their senders hold).
    fn signals(&self) -> u64 {
        let list = self.group.multiprocess.lock();
        list.iter().find(|&&(id, _)| id == self.id).map_or(0, |&(_, s)| s)
    }
}

impl Drop for Delayed<'_> {
    fn drop(&mut self) {
        self.group.multiprocess.lock().retain(|&mut (id, _)| id != self.id);
    }
}

/// The child counted for its user until the fork fails (Linux
/// `bad_fork_cleanup_count`) or the child joins the table.
struct UserCharge {
    uid: u32,
    count: u32,
    committed: bool,
}

impl UserCharge {
    fn new(uid: u32) -> Self {
        UserCharge { uid, count: table::charge_user(uid), committed: false }
    }

    fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for UserCharge {
    fn drop(&mut self) {
        if !self.committed {
            table::uncharge_user(self.uid);
        }
    }
}

/// What copy_process takes: frames, page-table pages, kernel stacks, pids,
/// tasks, open-file references, and the pids charge of `parent`'s cgroup.
fn resources(parent: &Task) -> [u64; 7] {
    use crate::counters::*;
    [
        crate::process::cgroup::kernel::pids_charged(parent),
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
    if let Some(done) = task.vfork_done.lock().take() {
        done.complete_all();
    }
}

fn copy_process(
    parent: &Arc<Task>,
    args: &KernelCloneArgs,
    start: ThreadStart,
    trace: u32,
) -> Result<Arc<Task>, Errno> {
    let flags = args.flags;
    let thread = flags.contains(CloneFlags::CLONE_THREAD);
    // Signals that came before this point are handled before the fork, which
    // then starts again; process-group signals from now on are delayed to
    // appear after it (given to the child too).
    let delayed = (!thread).then(|| Delayed::enter(&parent.group));
    if signal_pending(parent) {
        return Err(ERESTARTNOINTR);
    }
    // dup_task_struct: the kernel stack.
    if should_fail(Stage::DupTaskStruct) {
        return Err(ENOMEM);
    }
    // Memory for the kernel's side of a task must not come from the last
    // frames, which the heap needs to never fail (checked first: a fork bomb
    // at the limit retries this path without end, so it must be cheap).
    if !crate::mm::fork_memory_ok() {
        return Err(ENOMEM);
    }
    let kstack = KernelStack::new().ok_or(ENOMEM)?;
    // RLIMIT_NPROC, per real user, counting the child first (so that forks
    // on two CPUs cannot both pass); root is exempt (CAP_SYS_RESOURCE/CAP_SYS_ADMIN).
    let creds = parent.creds();
    let nproc = parent.group.rlimits.lock().get(RLIMIT_NPROC).map_or(u64::MAX, |r| r.rlim_cur);
    let charge = UserCharge::new(creds.uid);
    if creds.uid != 0 && creds.euid != 0 && charge.count as u64 > nproc {
        return Err(EAGAIN);
    }
    if table::nr_threads() >= table::MAX_THREADS {
        return Err(EAGAIN);
    }

    if should_fail(Stage::CopyFiles) {
        return Err(ENOMEM);
    }
    let files = if flags.contains(CloneFlags::CLONE_FILES) {
        parent.files()
    } else {
        Arc::new(parent.files().duplicate())
    };
    if should_fail(Stage::CopyFs) {
        return Err(ENOMEM);
    }
    let fs = if flags.contains(CloneFlags::CLONE_FS) {
        parent.fs()
    } else {
        Arc::new(parent.fs().duplicate())
    };
    if should_fail(Stage::CopySighand) {
        return Err(ENOMEM);
    }
    let sighand = if flags.contains(CloneFlags::CLONE_SIGHAND) {
        parent.sighand()
    } else {
        let h = parent.sighand().duplicate();
        if flags.contains(CloneFlags::CLONE_CLEAR_SIGHAND) {
            h.flush_handlers();
        }
        Arc::new(h)
    };
    // copy_mm: kernel threads (and the idle task) have no address space.
    let mm = match parent.mm() {
        Some(mm) if flags.contains(CloneFlags::CLONE_VM) => Some(mm),
        Some(mm) => Some(mm.fork()?),
        None if matches!(start, ThreadStart::Kernel { .. }) => None,
        None => return Err(EINVAL),
    };
    // copy_namespaces: shared, or new ones (CAP_SYS_ADMIN in the user
    // namespace, which may be a new one whose creator the child is).
    let nsproxy = crate::process::nsproxy::copy_namespaces(
        flags,
        &parent.nsproxy(),
        parent.pid_ns(),
        || parent.ns_caller(),
    )?;
    let mut creds = creds;
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        creds.userns_caps = true;
    }
    // copy_thread -> set_new_tls: the new FS base goes through
    // arch_prctl(ARCH_SET_FS)'s check, EPERM at or above TASK_SIZE_MAX (a
    // non-canonical base would fault the kernel's wrmsr at the switch-in).
    let fs_base = if flags.contains(CloneFlags::CLONE_SETTLS) {
        if args.tls >= crate::arch::uaccess::USER_TOP {
            return Err(EPERM);
        }
        args.tls
    } else {
        crate::arch::cpu::fs_base()
    };

    // The pid last, in the namespace for children (with a number in each
    // ancestor): EAGAIN when one is full, ENOMEM when it no longer takes
    // processes (its init has exited).
    if should_fail(Stage::AllocPid) {
        return Err(EAGAIN);
    }
    let set_tid = &args.set_tid[..args.set_tid_size.min(args.set_tid.len())];
    let thread_pid =
        table::alloc_pid_set_tid(&nsproxy.pid_ns_for_children, set_tid, creds.euid == 0)?;
    let pid = thread_pid.global();
    // CLONE_PIDFD: a descriptor number and the pidfd, in the parent's table
    // (after copy_files, so that a child with a table of its own does not
    // get it), its number written for the parent now, the file installed
    // once the child exists (Linux `pidfd_prepare`, `fd_install`). A new
    // thread's pidfd is a PIDFD_THREAD one.
    let pidfd = if flags.contains(CloneFlags::CLONE_PIDFD) {
        match clone_pidfd(parent, &thread_pid, thread, args.pidfd) {
            Ok(p) => Some(p),
            Err(e) => {
                table::free_unattached(&thread_pid);
                return Err(e);
            }
        }
    } else {
        None
    };
    // cgroup_can_fork: the child's cgroup (the parent's, or CLONE_INTO_CGROUP's)
    // and its pids charge (EAGAIN at a limit); dropped on a failure below,
    // it gives the charge back (Linux `cgroup_cancel_fork`).
    let cgroup = match crate::process::cgroup::kernel::cgroup_can_fork(
        parent,
        flags.contains(CloneFlags::CLONE_INTO_CGROUP).then_some(args.cgroup),
        thread,
    ) {
        Ok(c) => c,
        Err(e) => {
            drop(pidfd);
            table::free_unattached(&thread_pid);
            return Err(e);
        }
    };
    let tgid_pid = if thread { parent.tgid_pid.clone() } else { thread_pid.clone() };
    let (ppid, exit_signal) =
        if flags.intersects(CloneFlags::CLONE_PARENT | CloneFlags::CLONE_THREAD) {
            let sig = if thread { 0 } else { parent.exit_signal.load(Ordering::Relaxed) };
            (parent.ppid.load(Ordering::Relaxed), sig)
        } else {
            (parent.pid(), args.exit_signal)
        };
    let group =
        if thread { parent.group.clone() } else { ThreadGroup::new(*parent.group.rlimits.lock()) };
    // Into its `Arc` at once (see `from_parts`).
    let child = Arc::new(Task::from_parts(TaskParts {
        pid,
        group,
        tgid: if thread { parent.tgid } else { pid },
        thread_pid: thread_pid.clone(),
        tgid_pid,
        nsproxy,
        ppid,
        kstack: Some(kstack),
        fpu: crate::arch::task::FpuState::clone_current(),
        idle: false,
        mm,
        files,
        fs,
        sighand,
        creds,
        probe: false,
        kthread: matches!(start, ThreadStart::Kernel { .. }),
    }));
    // copy_thread: a user child returns 0, on its new stack if one was given.
    match start {
        ThreadStart::User(frame) => {
            let mut child_frame = *frame;
            child_frame.rax = 0;
            if args.stack != 0 {
                child_frame.rsp = args.stack.wrapping_add(args.stack_size);
            }
            child.context.init_user(child.kstack.as_ref().unwrap(), &child_frame);
        }
        ThreadStart::Kernel { entry, arg } => {
            child.context.init_kernel(child.kstack.as_ref().unwrap(), entry, arg);
        }
    }
    // sched_fork: TASK_NEW, the parent's policy and priorities, a CPU later.
    sched::sched_fork(&child, parent);
    child.exit_signal.store(exit_signal, Ordering::Relaxed);
    child.fs_base.store(fs_base, Ordering::Relaxed);
    child.gs_base.store(parent.gs_base.load(Ordering::Relaxed), Ordering::Relaxed);
    child.pgid.store(parent.pgid.load(Ordering::Relaxed), Ordering::Relaxed);
    child.sid.store(parent.sid.load(Ordering::Relaxed), Ordering::Relaxed);
    *child.comm.lock() = *parent.comm.lock();
    // The signal mask is inherited; pending signals are not. The alternate
    // signal stack is kept by fork and vfork, not by new threads (Linux).
    child.blocked.store(parent.blocked.load(Ordering::Relaxed), Ordering::Relaxed);
    if flags & (CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK) != CloneFlags::CLONE_VM {
        *child.altstack.lock() = *parent.altstack.lock();
    }
    if flags.contains(CloneFlags::CLONE_CHILD_SETTID) {
        child.set_child_tid.store(args.child_tid, Ordering::Relaxed);
    }
    if flags.contains(CloneFlags::CLONE_CHILD_CLEARTID) {
        child.clear_child_tid.store(args.child_tid, Ordering::Relaxed);
    }

    // Join the task list (Linux: under `tasklist_lock` and the parent's
    // `siglock`), unless the namespace began dying or the parent was killed
    // meanwhile.
    let tasklist = table::TASKLIST.lock();
    let refused = if !thread_pid.ns().adding() {
        Some(ENOMEM)
    } else if parent.fatal_signal.load(Ordering::Relaxed) != 0 {
        Some(EINTR)
    } else {
        None
    };
    if let Some(e) = refused {
        drop(tasklist);
        drop(child);
        table::free_unattached(&thread_pid);
        return Err(e);
    }
    // A new thread joins under the group's lock, held until it is in the
    // table, as Linux counts `quick_threads` and links the thread under
    // siglock: a group whose status is decided takes no new thread (its
    // threads were all sent SIGKILL, this one's caller included, which was
    // seen above, or are being sent it: `complete_signal` decides under this
    // lock, then kills what the table holds), and the count the last exiting
    // thread reads is exact.
    let group_lock = if thread {
        let exit = parent.group.exit.lock();
        if exit.is_some() {
            drop(exit);
            drop(tasklist);
            drop(child);
            table::free_unattached(&thread_pid);
            return Err(EINTR);
        }
        parent.group.live.fetch_add(1, Ordering::AcqRel);
        parent.group.quick_threads.fetch_add(1, Ordering::AcqRel);
        Some(exit)
    } else {
        None
    };
    if let Some(d) = &delayed {
        // Group signals sent during the fork: pending in the child's process
        // too (with no siginfo of their own, in Linux's shared_pending).
        child.group.shared_pending.store(d.signals(), Ordering::Release);
    }
    // Linux `calculate_sigpending` on the child's first run: a process signal
    // it does not block (a delayed one, or its thread group's) is its to take.
    crate::process::signal::recalc_sigpending(&child);
    if flags.intersects(CloneFlags::CLONE_PARENT | CloneFlags::CLONE_THREAD) {
        // The parent's parent may have exited since `ppid` was read, and this
        // process moved to a new one: take it under the lock (Linux reads
        // `real_parent` under `tasklist_lock`), or the child would join the
        // children of a task that already handed its children over.
        child.ppid.store(parent.ppid.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    let ppid = child.ppid.load(Ordering::Relaxed);
    // A new thread joins a group stop in progress (Linux
    // `task_join_group_stop`), under the job-control lock until it is in the
    // group's thread list, which a stop or SIGCONT reads under that lock.
    let jobctl_lock = thread.then(|| {
        let mut g = parent.group.jobctl.lock();
        let mut j = 0;
        g.task_join_group_stop(parent.jobctl.load(Ordering::Relaxed), &mut j);
        child.jobctl.store(j, Ordering::Relaxed);
        g
    });
    table::register_charged(&child);
    drop(jobctl_lock);
    // Linux `ptrace_init_task`: traced by the parent's tracer with
    // CLONE_PTRACE or a reported event.
    if (trace != 0 || flags.contains(CloneFlags::CLONE_PTRACE))
        && parent.ptrace.load(Ordering::Relaxed) != 0
    {
        crate::process::ptrace::ptrace_init_task(&child, parent);
    }
    drop(group_lock);
    charge.commit();
    if !thread {
        match table::find(ppid) {
            Some(p) => p.children.lock().push(child.clone()),
            None => parent.children.lock().push(child.clone()),
        }
    }
    drop(delayed);
    drop(tasklist);
    if let Some((files, fd, file)) = pidfd {
        files.install_reserved(fd, file, true);
    }
    cgroup.post_fork(&child);
    Ok(child)
}

/// The pidfd of a CLONE_PIDFD clone, its number written to `at` in the
/// parent's memory (EFAULT undoes it), not yet installed.
fn clone_pidfd(
    parent: &Task,
    pid: &Arc<crate::process::pid_namespace::Pid>,
    thread: bool,
    at: u64,
) -> Result<PreparedPidfd, Errno> {
    use crate::process::pidfd;
    if should_fail(Stage::PidfdPrepare) {
        return Err(ENOMEM);
    }
    let files = parent.files();
    let flags = if thread { uapi::pidfd::PIDFD_THREAD } else { 0 };
    let (fd, file) =
        pidfd::pidfd_prepare_unchecked(pid, flags, &files, pidfd::nofile_limit(parent))?;
    crate::uaccess::write_u32(at, fd.fd() as u32)?;
    Ok((files, fd, file))
}

/// A pidfd made for a child, to be installed when the fork succeeds.
type PreparedPidfd =
    (Arc<crate::fs::file::FdTable>, crate::fs::file::ReservedFd, Arc<crate::fs::file::File>);
