//! The task (Linux: `struct task_struct`): the scheduler's part
//! (`sched::Task`: stack, registers, state, scheduling entity, address space)
//! and the process's, `PosixThread` (identity, credentials, files, signals,
//! exit), which the scheduler's task carries and dereferences to. `Task` is
//! `sched::Task<PosixThread>`; this module keeps the scheduler instance for
//! it and answers the scheduler's questions (`TaskData`).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use crate::arch::task::{FpuState, KernelStack};
use crate::arch::TrapFrame;
use crate::errno::{Errno, ENOMEM};
use crate::mm::address_space::Mm;
use crate::process::nsproxy::NsProxy;
use crate::process::pid_namespace::{Pid, PidNamespace};
use crate::process::rlimit::Rlimits;
pub use crate::process::sighand::SigHand;
pub use crate::process::ExitReason;
use crate::sched::{Scheduler, TaskData, WaitQueue};
/// A signal's disposition (Linux keeps a `struct sigaction` in `struct
/// k_sigaction`): SIG_DFL (0), SIG_IGN (1) or a handler address, and its flags.
pub use uapi::signal::sigaction;
pub use uapi::signal::{SA_NOCLDWAIT, SIG_DFL, SIG_IGN};

/// User and group identity (Linux: `struct cred`, the parts used here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    /// The full capability set in the task's own user namespace when that
    /// is not the initial one (Linux `set_cred_user_ns`: its creator's, and
    /// kept across execve only by the namespace's root); in the initial
    /// namespace the capabilities are root's (euid 0).
    pub userns_caps: bool,
}

/// Task states (the scheduler's).
pub use crate::sched::{EXIT_ZOMBIE, TASK_INTERRUPTIBLE, TASK_RUNNING, TASK_STOPPED};

/// A task: the scheduler's part, with the process's (`PosixThread`) in it.
pub type Task = crate::sched::Task<PosixThread>;

/// The scheduler of the kernel's tasks (its run queues and switch slots).
static SCHEDULER: Scheduler<PosixThread> = Scheduler::new();

impl TaskData for PosixThread {
    #[inline(always)]
    fn scheduler() -> &'static Scheduler<Self> {
        &SCHEDULER
    }

    fn signal_pending(task: &Task) -> bool {
        crate::process::signal::signal_pending(task)
    }

    fn fatal_signal_pending(task: &Task) -> bool {
        crate::process::signal::fatal_signal_pending(task)
    }

    fn describe(task: &Task) -> alloc::string::String {
        alloc::format!("pid {} ({})", task.pid(), task.comm())
    }

    #[inline]
    fn trace_pid(task: &Task) -> u32 {
        if task.idle {
            0
        } else {
            task.pid()
        }
    }
}

/// The task running on this CPU (none: its idle task runs).
#[inline]
pub fn current() -> Option<Arc<Task>> {
    crate::sched::current::<PosixThread>()
}

/// The task running on this CPU, its idle task included (the parent of kernel
/// threads created at boot).
pub fn current_or_idle() -> Arc<Task> {
    crate::sched::current_or_idle::<PosixThread>()
}

/// `sched::cond_resched` for the current task.
pub fn cond_resched() {
    crate::sched::cond_resched::<PosixThread>()
}

/// `sched::wait_event` for the current task.
pub fn wait_event(
    wq: Option<&WaitQueue>,
    deadline: Option<u64>,
    cond: impl FnMut() -> bool,
) -> bool {
    crate::sched::wait_event::<PosixThread>(wq, deadline, cond)
}

/// `sched::wait_event_any` for the current task.
pub fn wait_event_any(
    wqs: &[&WaitQueue],
    deadline: Option<u64>,
    cond: impl FnMut() -> bool,
) -> bool {
    crate::sched::wait_event_any::<PosixThread>(wqs, deadline, cond)
}

/// `sched::wait_event_killable` for the current task.
pub fn wait_event_killable(wq: Option<&WaitQueue>, cond: impl FnMut() -> bool) -> bool {
    crate::sched::wait_event_killable::<PosixThread>(wq, cond)
}

/// What the threads of a process share for exiting and for signals (Linux:
/// parts of `signal_struct`): how many are alive, the group's exit status once
/// it is decided, and the signals sent to the process as a whole.
pub struct ThreadGroup {
    /// Threads that have not finished exiting (Linux `signal->live`): the last
    /// to finish makes the process reapable and notifies its parent.
    pub live: AtomicU32,
    /// Threads that have not begun to exit (Linux `signal->quick_threads`),
    /// changed under `exit`'s lock: the last one to begin decides the group's
    /// status if nothing else did (`exit::synchronize_group_exit`).
    pub quick_threads: AtomicU32,
    /// The group's exit status once decided (Linux SIGNAL_GROUP_EXIT with
    /// `group_exit_code`): by exit_group, a fatal signal, or the last thread
    /// to begin exiting. Also the group's "siglock" for deciding it.
    pub exit: spin::Mutex<Option<ExitReason>>,
    /// Signals sent to the process (Linux `signal->shared_pending`): any
    /// thread that does not block one may take it.
    pub shared_pending: AtomicU64,
    /// What each of them carries (standard signals do not queue).
    pub shared_siginfo: spin::Mutex<crate::process::signal::SigInfos>,
    /// The thread a process-directed signal was last given to (Linux
    /// `signal->curr_target`, by tid; 0: the leader): the search for a thread
    /// that wants the next one starts there.
    pub curr_target: AtomicU32,
    /// Forks in progress in this process (Linux `signal->multiprocess`): each
    /// collects the signals sent to a whole process group meanwhile, which the
    /// child gets too, as if they had been sent after the fork. An entry is
    /// (the fork's number, its signals), inline for one fork at a time.
    pub multiprocess: spin::Mutex<smallvec::SmallVec<[(u64, u64); 1]>>,
    /// The interval timers (Linux `signal->real_timer`, `it[]`): a fork child
    /// starts without, `execve` keeps them. Taken by the timer tick.
    pub itimers: crate::arch::irq::IrqSpinLock<crate::process::itimer::Itimers>,
    /// `itimers.cpu_armed()`, kept by whoever changes it, read by the tick.
    pub cpu_itimers: AtomicBool,
    /// The POSIX timers (Linux `signal->posix_timers`): shared by the
    /// threads, none in a fork child, deleted by `execve`.
    pub posix_timers: crate::arch::irq::IrqSpinLock<crate::process::posix_timers::PosixTimers>,
    /// `posix_timers.cpu_armed()`, kept by whoever changes it, read by the tick.
    pub cpu_posix_timers: AtomicBool,
    /// Resource usage of the exited threads and the reaped children (Linux
    /// `signal->utime`, `cutime`, `maxrss`, `cmaxrss`...), changed under the
    /// task-list lock.
    pub usage: spin::Mutex<crate::process::rusage::GroupUsage>,
    /// The group's threads in the task table, by tid (Linux
    /// `signal->thread_head`): kept by `table::register_charged` and
    /// `table::release`, so that finding a process's threads does not visit
    /// every task in the system. Weak: a task owns its group, not the
    /// reverse. A single-threaded process's one entry is held inline (no
    /// allocation per fork).
    pub threads: spin::Mutex<smallvec::SmallVec<[(u32, alloc::sync::Weak<Task>); 1]>>,
    /// The thread whose execve is taking the process over (Linux
    /// `signal->group_exec_task`, by tid; 0: none), set and cleared under
    /// `exit`'s lock: the other threads die without deciding the group's
    /// status, and a second exec or an exit_group gives way to it.
    pub group_exec_task: AtomicU32,
    /// Where that exec waits for the other threads to be gone (Linux
    /// `notify_count` and the wake-ups in `exit_notify`, `__exit_signal`).
    pub exec_wait: WaitQueue,
    /// Job control (Linux: `signal->flags`' stop bits, `group_stop_count`,
    /// `group_exit_code`), and the lock under which they and every thread's
    /// `jobctl` word change (Linux `siglock`). Lock order: `TASKLIST`, then
    /// `exit`, then this, then `threads`.
    pub jobctl: spin::Mutex<crate::process::jobctl::GroupJobctl>,
    /// The process's resource limits (Linux `signal->rlim`): every thread
    /// reads and sets the same ones; fork copies them into the child's group.
    pub rlimits: spin::Mutex<Rlimits>,
}

impl ThreadGroup {
    pub fn new(rlimits: Rlimits) -> Arc<Self> {
        Arc::new(Self {
            live: AtomicU32::new(1),
            quick_threads: AtomicU32::new(1),
            exit: spin::Mutex::new(None),
            shared_pending: AtomicU64::new(0),
            shared_siginfo: spin::Mutex::new(crate::process::signal::SigInfos::new()),
            curr_target: AtomicU32::new(0),
            multiprocess: spin::Mutex::new(smallvec::SmallVec::new()),
            itimers: crate::arch::irq::IrqSpinLock::new(crate::process::itimer::Itimers::default()),
            cpu_itimers: AtomicBool::new(false),
            posix_timers: crate::arch::irq::IrqSpinLock::new(
                crate::process::posix_timers::PosixTimers::default(),
            ),
            cpu_posix_timers: AtomicBool::new(false),
            usage: spin::Mutex::new(crate::process::rusage::GroupUsage::default()),
            threads: spin::Mutex::new(smallvec::SmallVec::new()),
            group_exec_task: AtomicU32::new(0),
            exec_wait: WaitQueue::new(),
            jobctl: spin::Mutex::new(crate::process::jobctl::GroupJobctl::default()),
            rlimits: spin::Mutex::new(rlimits),
        })
    }
}

/// The process's part of a task (Asterinas: `PosixThread`; Linux keeps it all
/// in `task_struct`).
pub struct PosixThread {
    /// The task's number in the initial PID namespace (the task table's key;
    /// `pid()`); `thread_pid` has its number in every namespace it is visible
    /// in. Both change once, when a thread that is not the leader execs and
    /// takes the leader's (Linux `exchange_tids` in `de_thread`), under the
    /// task table's lock.
    pid_nr: AtomicU32,
    pub group: Arc<ThreadGroup>,
    pub tgid: u32,
    /// Linux `thread_pid` and the thread group's `PIDTYPE_TGID` pid.
    thread_pid: spin::Mutex<Arc<Pid>>,
    pub tgid_pid: Arc<Pid>,
    /// The task's namespaces (Linux `nsproxy`).
    pub nsproxy: spin::Mutex<Arc<NsProxy>>,
    pub ppid: AtomicU32,
    pub pgid: AtomicU32,
    pub sid: AtomicU32,
    /// The program name (Linux: `comm`), for messages.
    pub comm: spin::Mutex<[u8; 16]>,
    pub files: spin::Mutex<Arc<crate::fs::file::FdTable>>,
    pub fs: spin::Mutex<Arc<crate::fs::file::FsStruct>>,
    pub sighand: spin::Mutex<Arc<SigHand>>,
    pub creds: spin::Mutex<Creds>,
    /// Children not yet reaped (Linux `children`); threads are not in it.
    pub children: spin::Mutex<alloc::vec::Vec<Arc<Task>>>,
    /// Signal sent to the parent at exit (Linux `exit_signal`; 0: a "clone" child).
    pub exit_signal: AtomicU32,
    /// Where this task sleeps in wait4/waitid (Linux `signal->wait_chldexit`).
    pub wait_chld: WaitQueue,
    /// Set when a vfork child exits or execs; its parent waits for it.
    pub vfork_done: spin::Mutex<Option<Arc<crate::sched::Completion>>>,
    /// PR_SET_CHILD_SUBREAPER.
    pub child_subreaper: AtomicBool,
    /// PR_SET_PDEATHSIG (Linux `pdeath_signal`): the signal this thread's
    /// process gets when the thread that is its parent exits; 0 in a new
    /// task, cleared when the effective ids change.
    pub pdeath_signal: AtomicU32,
    /// Wait status once the task has exited (Linux's encoding).
    pub exit_status: AtomicI32,
    pub exited: AtomicBool,
    /// The task has begun to exit (Linux PF_EXITING): it takes no more signals.
    pub exiting: AtomicBool,
    /// `set_tid_address`/`CLONE_CHILD_CLEARTID`: cleared and woken at exit.
    pub clear_child_tid: AtomicU64,
    /// CLONE_CHILD_SETTID: the child writes its tid there when it first runs.
    pub set_child_tid: AtomicU64,
    /// A signal whose default action ends the task at its next return to user mode.
    pub fatal_signal: AtomicU32,
    /// Job-control state (Linux `task->jobctl`: `JOBCTL_STOP_PENDING`,
    /// `JOBCTL_STOPPED`...), changed under `group.jobctl`'s lock, read
    /// without it on the way to user mode.
    pub jobctl: AtomicU32,
    /// ptrace flags and options (Linux `task->ptrace`: PT_PTRACED, PT_SEIZED,
    /// the options shifted); 0: not traced. Read without a lock on the fork
    /// and signal paths; changed under the task-list lock.
    pub ptrace: AtomicU32,
    /// The tracer and the stops' state (`ptrace::PtraceState`).
    pub pt: spin::Mutex<crate::process::ptrace::PtraceState>,
    /// The tasks this one traces (Linux `ptraced`), under the task-list lock.
    pub ptraced: spin::Mutex<alloc::vec::Vec<Arc<Task>>>,
    /// Pending and blocked signals (bit `n - 1` for signal `n`).
    pub pending: AtomicU64,
    pub blocked: AtomicU64,
    /// Linux TIF_SIGPENDING, for the process's pending set: this thread may
    /// take a signal of `group.shared_pending` (`complete_signal` chose it, or
    /// `recalc_sigpending` found one it does not block). Its own pending
    /// signals need no flag: they are meant for it. A thread without the flag
    /// leaves the process's signals to the one chosen, as Linux's do.
    pub sigpending: AtomicBool,
    /// What each pending signal carries (standard signals do not queue).
    /// (On the heap: building a Task must not put it on the kernel stack.)
    pub siginfo: spin::Mutex<crate::process::signal::SigInfos>,
    /// sigaltstack: (base, size, flags).
    pub altstack: spin::Mutex<(u64, u64, i32)>,
    /// The system call in progress, for restarting it after a signal: its
    /// number and where its entry instruction was (rip, rsp).
    pub syscall_restart: SyscallEntry,
    /// The system call just made was interrupted (ERESTARTSYS): consulted, and
    /// cleared, on the way back to user mode — never inferred from rax.
    pub restart_pending: AtomicBool,
    /// The interrupted call restarts whatever the handler's SA_RESTART says
    /// (Linux ERESTARTNOINTR: a fork that a signal interrupted).
    pub restart_nointr: AtomicBool,
    /// The interrupted call restarts only if no handler runs, whatever
    /// SA_RESTART says (Linux ERESTARTNOHAND: `pause`, `rt_sigsuspend`).
    pub restart_nohand: AtomicBool,
    /// The interrupted call restarts as `restart_syscall` (Linux
    /// ERESTART_RESTARTBLOCK: only if no handler runs), which continues it
    /// from `restart_block`.
    pub restart_via_block: AtomicBool,
    /// How `restart_syscall` continues an interrupted sleep (Linux
    /// `restart_block`): the nanosleep's deadline (monotonic ns) and where
    /// to write the time left. None: EINTR (`do_no_restart_syscall`).
    pub restart_block: spin::Mutex<Option<(u64, u64)>>,
    /// The mask `rt_sigsuspend` replaced, put back once the signal that ended
    /// it is handled: saved in that handler's frame, or restored on the way
    /// to user mode if none runs (Linux `saved_sigmask`), while
    /// `restore_sigmask` is set (TIF_RESTORE_SIGMASK).
    pub saved_sigmask: AtomicU64,
    pub restore_sigmask: AtomicBool,
    /// The boot self-test task that probes the `syscall` instruction.
    pub probe: bool,
    /// A kernel thread (Linux `PF_KTHREAD`): no address space of its own, never
    /// in user mode, deaf to signals.
    pub kthread: bool,
    /// Its cgroup and pids charge (Linux `task->cgroups`).
    pub cgroups: spin::Mutex<crate::process::cgroup::CssSet>,
    /// Page faults resolved without I/O (Linux `min_flt`).
    pub min_flt: AtomicU64,
    /// When the task was created, in monotonic nanoseconds since boot (Linux
    /// `start_time`; `/proc/PID/stat` field 22).
    pub start_time_ns: u64,
    /// What `getrusage(RUSAGE_THREAD)` last reported (Linux `prev_cputime`).
    pub prev_cputime: spin::Mutex<crate::process::rusage::PrevCputime>,
}

/// What a new task is made of; the rest starts at its default.
pub struct TaskParts {
    pub pid: u32,
    pub group: Arc<ThreadGroup>,
    pub tgid: u32,
    pub thread_pid: Arc<Pid>,
    pub tgid_pid: Arc<Pid>,
    pub nsproxy: Arc<NsProxy>,
    pub ppid: u32,
    pub kstack: Option<KernelStack>,
    pub fpu: FpuState,
    pub idle: bool,
    pub mm: Option<Arc<Mm>>,
    pub files: Arc<crate::fs::file::FdTable>,
    pub fs: Arc<crate::fs::file::FsStruct>,
    pub sighand: Arc<SigHand>,
    pub creds: Creds,
    pub probe: bool,
    pub kthread: bool,
}

impl Task {
    /// Always inlined: each caller puts the task straight into an `Arc`
    /// (`Arc::new(Task::from_parts(..))`), and inlined the compiler builds it
    /// there. Called, it built the task in the caller's frame and `Arc::new`
    /// copied its ~900 bytes, a `rep movs` that costs about an instruction
    /// per word where ring 0 is emulated (the profiler's `rep_string_bytes`
    /// shows whether a copy is back).
    #[inline(always)]
    pub fn from_parts(p: TaskParts) -> Task {
        let data = PosixThread {
            pid_nr: AtomicU32::new(p.pid),
            group: p.group,
            tgid: p.tgid,
            thread_pid: spin::Mutex::new(p.thread_pid),
            tgid_pid: p.tgid_pid,
            nsproxy: spin::Mutex::new(p.nsproxy),
            ppid: AtomicU32::new(p.ppid),
            pgid: AtomicU32::new(p.pid),
            sid: AtomicU32::new(p.pid),
            comm: spin::Mutex::new([0; 16]),
            files: spin::Mutex::new(p.files),
            fs: spin::Mutex::new(p.fs),
            sighand: spin::Mutex::new(p.sighand),
            creds: spin::Mutex::new(p.creds),
            children: spin::Mutex::new(alloc::vec::Vec::new()),
            exit_signal: AtomicU32::new(17),
            wait_chld: WaitQueue::new(),
            vfork_done: spin::Mutex::new(None),
            child_subreaper: AtomicBool::new(false),
            pdeath_signal: AtomicU32::new(0),
            exit_status: AtomicI32::new(0),
            exited: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            clear_child_tid: AtomicU64::new(0),
            set_child_tid: AtomicU64::new(0),
            fatal_signal: AtomicU32::new(0),
            jobctl: AtomicU32::new(0),
            ptrace: AtomicU32::new(0),
            pt: spin::Mutex::new(crate::process::ptrace::PtraceState::default()),
            ptraced: spin::Mutex::new(alloc::vec::Vec::new()),
            pending: AtomicU64::new(0),
            blocked: AtomicU64::new(0),
            sigpending: AtomicBool::new(false),
            siginfo: spin::Mutex::new(crate::process::signal::SigInfos::new()),
            altstack: spin::Mutex::new((0, 0, crate::process::signal::SS_DISABLE)),
            syscall_restart: SyscallEntry::default(),
            restart_pending: AtomicBool::new(false),
            restart_nointr: AtomicBool::new(false),
            restart_nohand: AtomicBool::new(false),
            restart_via_block: AtomicBool::new(false),
            restart_block: spin::Mutex::new(None),
            saved_sigmask: AtomicU64::new(0),
            restore_sigmask: AtomicBool::new(false),
            probe: p.probe,
            kthread: p.kthread,
            cgroups: spin::Mutex::new(crate::process::cgroup::kernel::init_css_set()),
            min_flt: AtomicU64::new(0),
            start_time_ns: crate::time::monotonic_ns(),
            prev_cputime: spin::Mutex::new(crate::process::rusage::PrevCputime {
                utime: 0,
                stime: 0,
            }),
        };
        Task::new(p.kstack, p.fpu, p.idle, p.mm, data)
    }

    /// A task that starts in user mode with `frame` in address space `mm`.
    pub fn new_user(
        pid: u32,
        mm: Arc<Mm>,
        frame: &TrapFrame,
        probe: bool,
    ) -> Result<Arc<Task>, Errno> {
        let kstack = KernelStack::new().ok_or(ENOMEM)?;
        // The first process's pid was allocated in the initial namespace; the
        // boot probe (pid 0) has none.
        let ns = crate::process::table::init_pid_ns();
        let thread_pid = crate::process::table::pid_of(pid)
            .unwrap_or_else(|| Arc::new(Pid::unallocated(pid, ns)));
        let task = Arc::new(Task::from_parts(TaskParts {
            pid,
            group: ThreadGroup::new(Rlimits::default()),
            tgid: pid,
            thread_pid: thread_pid.clone(),
            tgid_pid: thread_pid,
            nsproxy: crate::process::table::init_nsproxy().clone(),
            ppid: 0,
            kstack: Some(kstack),
            fpu: FpuState::new(),
            idle: false,
            mm: Some(mm),
            files: Arc::new(crate::fs::file::FdTable::with_console()),
            fs: Arc::new(crate::fs::file::FsStruct::new(crate::fs::root_ino())),
            sighand: Arc::new(SigHand::new()),
            creds: Creds::default(),
            probe,
            kthread: false,
        }));
        task.context.init_user(task.kstack.as_ref().unwrap(), frame);
        Ok(task)
    }

    /// CPU `cpu`'s idle task: it runs on the CPU's boot stack and halts.
    pub fn new_idle(cpu: usize) -> Arc<Task> {
        let pid0 = Arc::new(Pid::unallocated(0, crate::process::table::init_pid_ns()));
        let t = Arc::new(Task::from_parts(TaskParts {
            pid: 0,
            group: ThreadGroup::new(Rlimits::default()),
            tgid: 0,
            thread_pid: pid0.clone(),
            tgid_pid: pid0,
            nsproxy: crate::process::table::init_nsproxy().clone(),
            ppid: 0,
            kstack: None,
            fpu: FpuState::none(),
            idle: true,
            mm: None,
            files: Arc::new(crate::fs::file::FdTable::new()),
            fs: Arc::new(crate::fs::file::FsStruct::new(crate::fs::root_ino())),
            sighand: Arc::new(SigHand::new()),
            creds: Creds::default(),
            probe: false,
            kthread: false,
        }));
        t.cpu.store(cpu as u32, Ordering::Relaxed);
        t.set_comm(b"swapper");
        t
    }
}

impl PosixThread {
    /// The task's number in the initial PID namespace (Linux `task->pid`).
    #[inline]
    pub fn pid(&self) -> u32 {
        self.pid_nr.load(Ordering::Relaxed)
    }

    /// The task's pid (Linux `task_pid`).
    pub fn thread_pid(&self) -> Arc<Pid> {
        self.thread_pid.lock().clone()
    }

    /// Trade pids with `other`, a thread of the same process (Linux
    /// `exchange_tids`): only `table::exchange_tids` calls this, with the
    /// table re-keyed under its lock.
    pub(super) fn exchange_tids(&self, other: &PosixThread) {
        let (a, b) = (self.pid(), other.pid());
        self.pid_nr.store(b, Ordering::Relaxed);
        other.pid_nr.store(a, Ordering::Relaxed);
        core::mem::swap(&mut *self.thread_pid.lock(), &mut *other.thread_pid.lock());
    }

    pub fn nsproxy(&self) -> Arc<NsProxy> {
        self.nsproxy.lock().clone()
    }

    /// The PID namespace the task lives in (Linux `task_active_pid_ns`).
    pub fn pid_ns(&self) -> &Arc<PidNamespace> {
        // A thread lives in its process's namespace (CLONE_THREAD with
        // CLONE_NEWPID is EINVAL), and the process's pid never changes.
        self.tgid_pid.ns()
    }

    /// The task's tid / its process's pid as the task itself sees them
    /// (Linux `task_pid_vnr`, `task_tgid_vnr` of current).
    pub fn pid_vnr(&self) -> u32 {
        self.thread_pid.lock().vnr()
    }

    pub fn tgid_vnr(&self) -> u32 {
        self.tgid_pid.vnr()
    }

    /// The tid / pid as namespace `ns` sees them, 0 if invisible there (Linux
    /// `task_pid_nr_ns`, `task_tgid_nr_ns`).
    pub fn pid_nr_ns(&self, ns: &PidNamespace) -> u32 {
        self.thread_pid.lock().nr_ns(ns)
    }

    pub fn tgid_nr_ns(&self, ns: &PidNamespace) -> u32 {
        self.tgid_pid.nr_ns(ns)
    }

    pub fn is_group_leader(&self) -> bool {
        self.pid() == self.tgid
    }

    /// The process is a namespace's init (Linux SIGNAL_UNKILLABLE): it takes
    /// only the signals it has handlers for, and may not create siblings.
    pub fn is_ns_init(&self) -> bool {
        self.tgid_pid.vnr() == 1
    }

    pub fn sighand(&self) -> Arc<SigHand> {
        self.sighand.lock().clone()
    }

    pub fn files(&self) -> Arc<crate::fs::file::FdTable> {
        self.files.lock().clone()
    }

    pub fn fs(&self) -> Arc<crate::fs::file::FsStruct> {
        self.fs.lock().clone()
    }

    pub fn creds(&self) -> Creds {
        *self.creds.lock()
    }

    /// Linux `ns_capable(owner, CAP_SYS_ADMIN)` for the task (the
    /// capabilities being all or none here); `owner` None is the initial
    /// user namespace.
    pub fn ns_capable(
        &self,
        owner: Option<Arc<crate::process::user_namespace::UserNamespace>>,
    ) -> bool {
        let who = self.ns_caller();
        let mine = self.nsproxy.lock().user_ns.clone();
        let target = owner.unwrap_or_else(|| {
            let mut init = mine.clone();
            while let Some(p) = init.parent.clone() {
                init = p;
            }
            init
        });
        crate::process::user_namespace::ns_capable(&mine, who.euid, who.caps, &target)
    }

    /// Who the task is when it asks for new namespaces.
    pub fn ns_caller(&self) -> crate::process::nsproxy::NsCaller {
        let c = self.creds();
        let initial = self.nsproxy.lock().user_ns.level == 0;
        crate::process::nsproxy::NsCaller {
            euid: c.euid,
            egid: c.egid,
            caps: if initial { c.euid == 0 } else { c.userns_caps },
        }
    }

    pub fn set_comm(&self, name: &[u8]) {
        let mut c = [0u8; 16];
        let n = name.len().min(15);
        c[..n].copy_from_slice(&name[..n]);
        *self.comm.lock() = c;
    }

    pub fn comm(&self) -> alloc::string::String {
        let c = *self.comm.lock();
        let n = c.iter().position(|&b| b == 0).unwrap_or(16);
        alloc::string::String::from_utf8_lossy(&c[..n]).into_owned()
    }

    /// The process has exited and can be reaped: its leader exited and no
    /// thread of the group is left (Linux `delay_group_leader`).
    pub fn reapable(&self) -> bool {
        self.exited.load(Ordering::Acquire) && self.group.live.load(Ordering::Acquire) == 0
    }

    pub fn set_exit(&self, reason: ExitReason) {
        self.exit_status.store(reason.wait_status(), Ordering::Relaxed);
        self.exited.store(true, Ordering::Release);
    }

    pub fn exit_reason(&self) -> ExitReason {
        let s = self.exit_status.load(Ordering::Acquire);
        if s & 0x7f == 0 {
            ExitReason::Exited((s >> 8) as u8)
        } else {
            ExitReason::Killed { signal: (s & 0x7f) as u32, core: s & 0x80 != 0 }
        }
    }
}

/// The system call a task is in: its number and where its entry instruction
/// was (rip, rsp), for restarting it after a signal. Written by the task at
/// each system call; read by the task itself, by its tracer while it is
/// stopped and by the VMM's debug dump (no lock: each system call would pay
/// for one).
#[derive(Default)]
pub struct SyscallEntry {
    nr: AtomicU64,
    rip: AtomicU64,
    rsp: AtomicU64,
}

impl SyscallEntry {
    pub fn set(&self, nr: u64, rip: u64, rsp: u64) {
        self.nr.store(nr, Ordering::Relaxed);
        self.rip.store(rip, Ordering::Relaxed);
        self.rsp.store(rsp, Ordering::Relaxed);
    }

    /// The system call's number.
    pub fn nr(&self) -> u64 {
        self.nr.load(Ordering::Relaxed)
    }

    /// (number, entry rip, entry rsp).
    pub fn get(&self) -> (u64, u64, u64) {
        (self.nr(), self.rip.load(Ordering::Relaxed), self.rsp.load(Ordering::Relaxed))
    }
}
