//! Exit (Linux `kernel/exit.c`: `do_exit`, `exit_notify`, `forget_original_parent`,
//! `find_new_reaper`; `kernel/pid_namespace.c`: `zap_pid_ns_processes`).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::process::pid_namespace::PidNamespace;
use crate::process::signal::{SigInfo, SIGCHLD, SIGKILL, SI_KERNEL};
use crate::process::table;
use crate::process::task::{Task, SA_NOCLDWAIT, SIG_IGN};
use crate::process::ExitReason;

/// End the current task: release what it holds, record how it ended, notify its
/// parent, hand its children to a reaper, and switch away for good.
pub fn do_exit(reason: ExitReason) -> ! {
    let t0 = crate::arch::rdtsc();
    let task = crate::process::current().expect("do_exit without a task");
    if let Some(code) = synchronize_group_exit(&task, reason) {
        // It was the last thread a group stop waited for.
        crate::process::signal::do_notify_parent_cldstop(
            &task,
            crate::process::signal::CLD_STOPPED,
            code,
        );
    }
    // A group exit (exit_group, a fatal signal) decides every thread's status.
    let reason = task.group.exit.lock().unwrap_or(reason);
    if task.ptrace.load(Ordering::Relaxed) != 0 {
        // Linux `ptrace_event(PTRACE_EVENT_EXIT, code)`: the tracer sees the
        // task before it is gone (not when a fatal signal is pending: the
        // threads a group exit kills do not stop).
        let orig_rax = task.syscall_restart.nr();
        let status = reason.wait_status() as u32 as u64;
        crate::process::ptrace::ptrace_event(
            &task,
            crate::process::ptrace::PTRACE_EVENT_EXIT,
            status,
            None,
            orig_rax,
        );
    }
    // CLONE_CHILD_CLEARTID / set_tid_address: clear the word and wake a waiter
    // (while the address space is still ours).
    let ctid = task.clear_child_tid.swap(0, Ordering::Relaxed);
    if ctid != 0 && crate::uaccess::write_u32(ctid, 0).is_ok() {
        crate::process::futex::futex_wake(ctid, 1);
    }
    crate::process::fork::vfork_release(&task);
    // exit_mm: leave the address space (others may still share it).
    let mm = task.mm.lock().take();
    crate::arch::mmu::load_cr3(crate::arch::mmu::kernel_root());
    if let Some(mm) = &mm {
        crate::process::rusage::leave_mm(&task, mm);
    }
    drop(mm);
    // exit_files, exit_fs: drop this task's references.
    *task.files.lock() = crate::fs::file::FdTable::none();
    // cgroup_exit: no longer populates its cgroup (charged until reaped).
    crate::process::cgroup::kernel::cgroup_exit(&task);
    // The init of a PID namespace takes everything in it along (before it
    // becomes a zombie its parent could reap), unless a thread of it lives on.
    let ns = task.pid_ns().clone();
    if ns.level > 0 && ns.child_reaper() == task.pid() {
        match find_alive_thread(&task) {
            Some(t) => ns.set_child_reaper(t.pid()),
            None => zap_pid_ns_processes(&task, &ns),
        }
    }
    // Linux `exit_notify` runs under `tasklist_lock`, and so does this: the
    // task becomes reapable only once its children are handed over, and
    // `do_wait`, which looks under the same lock, sees every child in exactly
    // one parent's list (never an orphan in transit, which would be ECHILD).
    // The thread's CPU time, faults and switches go to its process (Linux
    // `__exit_signal`) in the section that marks it exited: counted once,
    // and before its parent can reap the process. Read before the lock (the
    // CPU time locks the run queue, which the task-list lock's section need
    // not wait for); what the thread runs after the read, the rest of its
    // exit, is not counted (as what it ran after the section was not).
    let usage = crate::process::rusage::exit_thread_usage(&task);
    let tasklist = table::TASKLIST.lock();
    crate::process::rusage::exit_thread_accounting(&task, usage);
    task.set_exit(reason);
    let remaining = task.group.live.fetch_sub(1, Ordering::AcqRel) - 1;
    if remaining == 0 {
        // The group is dead: its status is decided by now (the thread that
        // began exiting last decided it before it got here, and the `live`
        // counts are taken under this lock), whichever thread finishes last.
        let status = task.group.exit.lock().unwrap_or(reason);
        task.set_exit(status);
    }
    crate::trace_event!(
        SchedProcessExit,
        task.pid(),
        task.se.prio(),
        remaining == 0,
        crate::trace::comm_word(&task.comm, 0),
        crate::trace::comm_word(&task.comm, 1)
    );
    exit_notify(&task, remaining);
    drop(tasklist);
    if remaining == 0 {
        // Linux `exit_itimers` for a dead group.
        crate::process::posix_timers::exit_itimers(&task.group);
    }
    crate::counters::global_add(crate::counters::DO_EXIT_TSC, crate::arch::rdtsc() - t0);
    crate::counters::global_add(crate::counters::DO_EXIT_CALLS, 1);
    if task.tgid == 1 && remaining == 0 {
        // The first process is gone: its end is the VM's end, now, whatever
        // else still runs (Linux panics "Attempted to kill init!"; here the
        // VMM gets its status). Waiting for this CPU's idle task to notice
        // could take as long as every other runnable task's turn.
        crate::kernel::exit(task.exit_reason().shell_status());
    }
    drop(task);
    crate::sched::exit_current::<crate::process::PosixThread>()
}

/// A task begins to exit (Linux `synchronize_group_exit`): it takes no more
/// signals, and if it is the last thread of its group to begin exiting and
/// nothing decided the group's status yet (exit_group, a fatal signal), its
/// own status is the group's. So a process whose main thread called `exit(3)`
/// and whose last other thread then called `exit(5)` ends with status 5, and
/// of threads exiting at once on several CPUs the one that took the group's
/// lock last decides. A thread exiting during a group stop takes part in it
/// (Linux `exit_signals`): the stop signal if that completed the stop.
fn synchronize_group_exit(task: &Arc<Task>, reason: ExitReason) -> Option<u32> {
    task.exiting.store(true, Ordering::SeqCst);
    let mut exit = task.group.exit.lock();
    let stopped = crate::process::signal::exit_signals_jobctl(task, exit.is_some());
    let quick = task.group.quick_threads.fetch_sub(1, Ordering::AcqRel) - 1;
    let group_exit = exit.is_some();
    if quick == 0 && !group_exit {
        *exit = Some(reason);
    }
    drop(exit);
    // Process signals this thread may have been woken for go to a thread
    // that takes them (Linux `exit_signals`; not when the whole group is
    // dying). Not only with the flag set: a sender may have chosen this
    // thread just before `exiting` was set and not set the flag yet; the
    // SeqCst store above and its load in `wants_signal` leave this check
    // seeing its signal then.
    if !group_exit {
        let unblocked = !task.blocked.load(Ordering::SeqCst);
        crate::process::signal::retarget_shared_pending(task, unblocked);
    }
    stopped
}

/// End the whole thread group (Linux `do_group_exit`): the first group exit
/// decides the status; the other threads are killed. While another thread's
/// execve takes the process over (`de_thread`), the exec wins: this thread
/// just exits (Linux: with status 0, which nobody sees).
pub fn do_group_exit(reason: ExitReason) -> ! {
    let task = crate::process::current().expect("do_group_exit without a task");
    let (first, reason) = {
        let mut exit = task.group.exit.lock();
        match *exit {
            Some(_) => (false, reason),
            None if task.group.group_exec_task.load(Ordering::Relaxed) != 0 => {
                (false, ExitReason::Exited(0))
            }
            None => {
                *exit = Some(reason);
                (true, reason)
            }
        }
    };
    if first {
        crate::process::signal::group_exit_jobctl(&task);
    }
    if first && task.group.live.load(Ordering::Acquire) > 1 {
        zap_other_threads(&task);
    }
    drop(task);
    do_exit(reason)
}

/// SIGKILL to every other thread of `task`'s group (Linux `zap_other_threads`),
/// under the task-list lock: a thread being cloned meanwhile either joins the
/// list first (and is killed here) or its clone sees the group's status set
/// and fails.
pub fn zap_other_threads(task: &Task) {
    let _tasklist = table::TASKLIST.lock();
    let others = table::threads_of(&task.group).into_iter().filter(|t| t.pid() != task.pid());
    for t in others.filter(|t| !t.exited.load(Ordering::Acquire)) {
        // Linux: `task_clear_jobctl_pending(t, JOBCTL_PENDING_MASK)`.
        t.jobctl.fetch_and(!crate::process::jobctl::JOBCTL_PENDING_MASK, Ordering::Relaxed);
        crate::process::signal::force_sig(&t, crate::process::signal::SIGKILL);
    }
}

/// Another thread of `task`'s process that has not exited (Linux `find_alive_thread`).
fn find_alive_thread(task: &Task) -> Option<Arc<Task>> {
    table::threads_of(&task.group)
        .into_iter()
        .find(|t| t.pid() != task.pid() && !t.exited.load(Ordering::Acquire))
}

/// The task that inherits `father`'s children (Linux `find_new_reaper`): another
/// live thread of its process; else the nearest ancestor in the same PID
/// namespace that is a child subreaper; else the namespace's init.
fn find_new_reaper(father: &Arc<Task>) -> Option<Arc<Task>> {
    if let Some(t) = find_alive_thread(father) {
        return Some(t);
    }
    let level = father.pid_ns().level;
    let mut ppid = father.ppid.load(Ordering::Relaxed);
    while let Some(p) = table::find(ppid) {
        if p.pid_ns().level != level {
            break;
        }
        if p.child_subreaper.load(Ordering::Relaxed) && !p.exited.load(Ordering::Acquire) {
            return Some(p);
        }
        ppid = p.ppid.load(Ordering::Relaxed);
    }
    table::find(father.pid_ns().child_reaper())
}

/// The last thread of a namespace's init is exiting (Linux
/// `zap_pid_ns_processes`): no process may enter the namespace any more, every
/// process in it (nested namespaces included) gets SIGKILL, and the init reaps
/// its children and waits until every other pid of the namespace is gone — some
/// may be children of a process outside, which reaps them.
fn zap_pid_ns_processes(me: &Arc<Task>, ns: &Arc<PidNamespace>) {
    {
        let _tasklist = table::TASKLIST.lock();
        ns.disable_adding();
    }
    // Children that exit from now on are reaped at once.
    me.sighand().update_action(SIGCHLD, |a| a.sa_handler = SIG_IGN);
    {
        let _tasklist = table::TASKLIST.lock();
        let info = SigInfo { code: SI_KERNEL, ..Default::default() };
        for t in ns.members().into_iter().filter_map(table::find) {
            if t.tgid != me.tgid && t.fatal_signal.load(Ordering::Relaxed) == 0 {
                crate::process::signal::send_group_signal(&t, SIGKILL, info, true);
            }
        }
    }
    // The pids that stay: this task's, and its process's if it is not the leader.
    let own = if me.is_group_leader() { 1 } else { 2 };
    let reapable = |c: &Arc<Task>| c.reapable();
    loop {
        // A dying task takes no signals: forget what came (SIGKILL included).
        me.fatal_signal.store(0, Ordering::Relaxed);
        me.pending.store(0, Ordering::Relaxed);
        me.group.shared_pending.store(0, Ordering::Relaxed);
        {
            let _tasklist = table::TASKLIST.lock();
            let zombies: Vec<Arc<Task>> =
                me.children.lock().iter().filter(|c| reapable(c)).cloned().collect();
            for z in &zombies {
                me.children.lock().retain(|c| !Arc::ptr_eq(c, z));
                table::release(z);
            }
        }
        let done = || me.children.lock().is_empty() && ns.nr_pids() <= own;
        if done() {
            return;
        }
        crate::process::wait_event(Some(&me.wait_chld), None, || {
            done() || me.children.lock().iter().any(reapable)
        });
    }
}

/// Under `table::TASKLIST` (see `do_exit`). A thread nobody waits for is
/// released here, wholly under the lock: its pids and charges are gone
/// before anyone can see its process reapable (the last thread out makes it
/// so in this section; an earlier one could be preempted between the lock
/// and the rest of a deferred release, and the parent reap the process and
/// count pids in between, as the fuzz test's before/after counts on 2 vCPUs
/// once did). Only `wait` defers the rest of a release (`table::Released`).
fn exit_notify(task: &Arc<Task>, remaining: u32) {
    if !task.ptraced.lock().is_empty() {
        for t in crate::process::ptrace::exit_ptrace(task) {
            table::release(&t);
        }
    }
    forget_original_parent(task);
    // A thread nobody waits for is released below, still under `TASKLIST`,
    // and its release tells its pidfds once it is gone: a waiter woken
    // here could see it exited but not yet reaped (POLLIN without POLLHUP),
    // a state no one can act on. Linux wakes them here and releases the
    // thread right after; its pollers see POLLHUP unless they run in between.
    let autoreap = !task.is_group_leader() && task.ptrace.load(Ordering::Acquire) == 0;
    if !autoreap {
        crate::process::pidfd::do_notify_pidfd(&task.thread_pid());
    }
    if task.is_group_leader() && task.group.group_exec_task.load(Ordering::Relaxed) != 0 {
        // A thread's execve waits for the leader to be a zombie: it is now,
        // and the exec looks again once this section is done, under the same
        // lock (Linux: the `notify_count` wake-ups). Another thread is waited
        // for until it is released, and `table::release` wakes the exec then.
        task.group.exec_wait.wake_all();
    }
    if !task.is_group_leader() {
        // A thread: nobody waits for it (Linux: autoreaped), unless it is
        // traced: its tracer is told and reaps it. The last one out reports
        // a group leader that exited before it.
        if autoreap {
            drop(table::release(task));
        } else {
            notify_parent(task);
        }
        if remaining == 0 {
            if let Some(leader) =
                table::find(task.tgid).filter(|l| l.exited.load(Ordering::Acquire))
            {
                // The leader waited as a zombie (Linux `delay_group_leader`);
                // the process's status is the group's (`do_exit`).
                leader.set_exit(task.exit_reason());
                crate::process::pidfd::do_notify_pidfd(&leader.thread_pid());
                notify_parent(&leader);
            }
        }
        return;
    }
    if remaining == 0 {
        // A leader with threads still running is reported when the last ends.
        notify_parent(task);
    }
}

/// Hand `father`'s children to their new parent (Linux `forget_original_parent`
/// and `reparent_leader`): every thread of each child gets the new parent; a
/// child that is already a zombie is reported to it (and reaped at once if it
/// ignores SIGCHLD). Children adopted by another thread of the same process
/// keep their exit signal; others now send SIGCHLD.
fn forget_original_parent(father: &Arc<Task>) {
    let children = core::mem::take(&mut *father.children.lock());
    if children.is_empty() {
        return;
    }
    let Some(reaper) = find_new_reaper(father).filter(|r| !Arc::ptr_eq(r, father)) else {
        for c in &children {
            c.ppid.store(0, Ordering::Relaxed);
            send_pdeath_signals(father, c);
        }
        return;
    };
    let threaded = reaper.tgid == father.tgid;
    for c in &children {
        for t in table::threads_of(&c.group).iter() {
            t.ppid.store(reaper.pid(), Ordering::Relaxed);
        }
        send_pdeath_signals(father, c);
        if !threaded {
            c.exit_signal.store(SIGCHLD, Ordering::Relaxed);
        }
    }
    reaper.children.lock().extend(children.iter().cloned());
    if !threaded {
        for c in children.iter().filter(|c| c.reapable()) {
            notify_parent(c);
        }
    }
    reaper.wait_chld.wake_all();
}

/// `child`'s parent thread `father` is exiting: each thread of the child's
/// process that asked for a parent-death signal (PR_SET_PDEATHSIG) gets it
/// sent to its process, from `father` (Linux `forget_original_parent`:
/// `group_send_sig_info(t->pdeath_signal, SEND_SIG_NOINFO, t, PIDTYPE_TGID)`),
/// also when another thread of the father's process is the new parent.
fn send_pdeath_signals(father: &Task, child: &Arc<Task>) {
    for t in table::threads_of(&child.group) {
        let sig = t.pdeath_signal.load(Ordering::Relaxed);
        if sig != 0 {
            let info = SigInfo {
                code: crate::process::signal::SI_USER,
                pid: father.tgid_nr_ns(t.pid_ns()),
                uid: father.creds().uid,
                ..Default::default()
            };
            crate::process::signal::send_process_signal(&t, sig, info, false);
        }
    }
}

/// Tell the parent a process ended (Linux `do_notify_parent`): send the exit
/// signal (si_pid as the parent's namespace sees the child) and wake waiters;
/// reap it at once if the parent ignores SIGCHLD or set SA_NOCLDWAIT.
pub(crate) fn notify_parent(task: &Arc<Task>) {
    if let Some(tracer) = crate::process::ptrace::tracer_of(task) {
        // Traced (Linux `exit_notify` with `tsk->ptrace`): the tracer is told
        // first, with the exit signal if it is the real parent of a process
        // that is gone, else SIGCHLD; nothing is reaped at once.
        let real =
            table::find(task.ppid.load(Ordering::Relaxed)).is_some_and(|p| p.tgid == tracer.tgid);
        let sig = if task.is_group_leader() && real {
            task.exit_signal.load(Ordering::Relaxed)
        } else {
            SIGCHLD
        };
        if sig != 0 {
            send_exit_signal(task, &tracer, sig);
        }
        tracer.wait_chld.wake_all();
        return;
    }
    let mut exit_signal = task.exit_signal.load(Ordering::Relaxed);
    let Some(parent) = table::find(task.ppid.load(Ordering::Relaxed)) else {
        table::release(task);
        return;
    };
    let sa = parent.sighand().action(SIGCHLD);
    let mut autoreap = false;
    if exit_signal == SIGCHLD && (sa.sa_handler == SIG_IGN || sa.sa_flags & SA_NOCLDWAIT != 0) {
        autoreap = true;
        if sa.sa_handler == SIG_IGN {
            exit_signal = 0;
        }
    }
    if exit_signal != 0 {
        send_exit_signal(task, &parent, exit_signal);
    }
    if autoreap {
        parent.children.lock().retain(|c| !Arc::ptr_eq(c, task));
        table::release(task);
    }
    parent.wait_chld.wake_all();
}

/// The exit signal `sig` for `task` to `parent` (CLD_EXITED, CLD_KILLED...).
fn send_exit_signal(task: &Arc<Task>, parent: &Arc<Task>, exit_signal: u32) {
    {
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
        let info = SigInfo {
            code,
            pid: task.tgid_nr_ns(parent.pid_ns()),
            uid: task.creds().uid,
            status,
            ..Default::default()
        };
        crate::process::signal::send_process_signal(parent, exit_signal, info, false);
    }
}

/// Whether the current process group is orphaned (Linux
/// `is_current_pgrp_orphaned`, `will_become_orphaned_pgrp`): no process of
/// it has a parent in another process group of the same session (the
/// initial namespace's init does not count), so no shell could continue it
/// — SIGTSTP, SIGTTIN and SIGTTOU do not stop it.
pub fn is_current_pgrp_orphaned(task: &Task) -> bool {
    let _tasklist = table::TASKLIST.lock();
    let pgrp = task.pgid.load(Ordering::Relaxed);
    let members = table::all();
    let members =
        members.iter().filter(|p| p.is_group_leader() && p.pgid.load(Ordering::Relaxed) == pgrp);
    !members.filter(|p| !p.reapable()).any(|p| {
        let parent = table::find(p.ppid.load(Ordering::Relaxed)).and_then(|t| table::find(t.tgid));
        parent.is_some_and(|parent| {
            parent.tgid != 1
                && parent.pgid.load(Ordering::Relaxed) != pgrp
                && parent.sid.load(Ordering::Relaxed) == p.sid.load(Ordering::Relaxed)
        })
    })
}
