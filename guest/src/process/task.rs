//! The task (Linux: `struct task_struct`).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use crate::arch::task::{Context, FpuState, HasContext, KernelStack};
use crate::arch::TrapFrame;
use crate::errno::{Errno, ENOMEM};
use crate::mm::address_space::Mm;
use crate::process::rlimit::Rlimits;
pub use crate::process::ExitReason;

/// User and group identity (Linux: `struct cred`, the parts used here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
}

/// Scheduler states (Linux: `__state`, `exit_state`).
pub const TASK_RUNNING: u8 = 0;
pub const TASK_INTERRUPTIBLE: u8 = 1;
pub const EXIT_ZOMBIE: u8 = 2;

pub struct Task {
    pub pid: u32,
    pub tgid: u32,
    pub ppid: AtomicU32,
    /// The program name (Linux: `comm`), for messages.
    pub comm: spin::Mutex<[u8; 16]>,
    /// The kernel stack (none for a CPU's idle task, which runs on its boot stack).
    pub kstack: Option<KernelStack>,
    pub context: Context,
    pub fpu: FpuState,
    /// TASK_RUNNING (on a run queue or running), TASK_INTERRUPTIBLE, EXIT_ZOMBIE.
    pub state: core::sync::atomic::AtomicU8,
    /// In its CPU's run queue (set and cleared under that queue's lock).
    pub on_rq: AtomicBool,
    /// The CPU whose run queue the task belongs to.
    pub cpu: AtomicU32,
    /// The task should give up the CPU at its next return to user mode.
    pub need_resched: AtomicBool,
    pub idle: bool,
    pub mm: spin::Mutex<Option<Arc<Mm>>>,
    pub files: spin::Mutex<Arc<crate::fs::file::FdTable>>,
    pub fs: spin::Mutex<Arc<crate::fs::file::FsStruct>>,
    pub creds: spin::Mutex<Creds>,
    pub rlimits: spin::Mutex<Rlimits>,
    /// Wait status once the task has exited (Linux's encoding).
    pub exit_status: AtomicI32,
    pub exited: AtomicBool,
    /// Thread-local storage bases, restored when the task runs.
    pub fs_base: AtomicU64,
    pub gs_base: AtomicU64,
    /// `set_tid_address`/`CLONE_CHILD_CLEARTID`: cleared and woken at exit.
    pub clear_child_tid: AtomicU64,
    /// A signal whose default action ends the task at its next return to user mode.
    pub fatal_signal: AtomicU32,
    /// The boot self-test task that probes the `syscall` instruction.
    pub probe: bool,
}

impl Task {
    /// A task that starts in user mode with `frame` in address space `mm`.
    pub fn new_user(
        pid: u32,
        mm: Arc<Mm>,
        frame: &TrapFrame,
        probe: bool,
    ) -> Result<Arc<Task>, Errno> {
        let kstack = KernelStack::new().ok_or(ENOMEM)?;
        let context = Context::new();
        context.init_user(&kstack, frame);
        Ok(Arc::new(Task {
            pid,
            tgid: pid,
            ppid: AtomicU32::new(0),
            comm: spin::Mutex::new([0; 16]),
            kstack: Some(kstack),
            context,
            fpu: FpuState::new(),
            state: core::sync::atomic::AtomicU8::new(TASK_RUNNING),
            on_rq: AtomicBool::new(false),
            cpu: AtomicU32::new(crate::arch::cpu_id() as u32),
            need_resched: AtomicBool::new(false),
            idle: false,
            mm: spin::Mutex::new(Some(mm)),
            files: spin::Mutex::new(Arc::new(crate::fs::file::FdTable::with_console())),
            fs: spin::Mutex::new(Arc::new(crate::fs::file::FsStruct::new(crate::fs::root_ino()))),
            creds: spin::Mutex::new(Creds::default()),
            rlimits: spin::Mutex::new(Rlimits::default()),
            exit_status: AtomicI32::new(0),
            exited: AtomicBool::new(false),
            fs_base: AtomicU64::new(0),
            gs_base: AtomicU64::new(0),
            clear_child_tid: AtomicU64::new(0),
            fatal_signal: AtomicU32::new(0),
            probe,
        }))
    }

    /// CPU `cpu`'s idle task: it runs on the CPU's boot stack and halts.
    pub fn new_idle(cpu: usize) -> Arc<Task> {
        Arc::new(Task {
            pid: 0,
            tgid: 0,
            ppid: AtomicU32::new(0),
            comm: spin::Mutex::new(*b"swapper\0\0\0\0\0\0\0\0\0"),
            kstack: None,
            context: Context::new(),
            fpu: FpuState::new(),
            state: core::sync::atomic::AtomicU8::new(TASK_RUNNING),
            on_rq: AtomicBool::new(false),
            cpu: AtomicU32::new(cpu as u32),
            need_resched: AtomicBool::new(false),
            idle: true,
            mm: spin::Mutex::new(None),
            files: spin::Mutex::new(Arc::new(crate::fs::file::FdTable::new())),
            fs: spin::Mutex::new(Arc::new(crate::fs::file::FsStruct::new(crate::fs::root_ino()))),
            creds: spin::Mutex::new(Creds::default()),
            rlimits: spin::Mutex::new(Rlimits::default()),
            exit_status: AtomicI32::new(0),
            exited: AtomicBool::new(false),
            fs_base: AtomicU64::new(0),
            gs_base: AtomicU64::new(0),
            clear_child_tid: AtomicU64::new(0),
            fatal_signal: AtomicU32::new(0),
            probe: false,
        })
    }

    /// Top of the kernel stack entries from user mode land on.
    pub fn kernel_stack_top(&self) -> u64 {
        self.kstack.as_ref().map_or(0, |k| k.top())
    }

    pub fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    pub fn mm(&self) -> Option<Arc<Mm>> {
        self.mm.lock().clone()
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

    pub fn set_exit(&self, reason: ExitReason) {
        self.exit_status.store(reason.wait_status(), Ordering::Relaxed);
        self.exited.store(true, Ordering::Release);
    }

    pub fn exit_reason(&self) -> ExitReason {
        let s = self.exit_status.load(Ordering::Acquire);
        if s & 0x7f == 0 {
            ExitReason::Exited((s >> 8) as u8)
        } else {
            ExitReason::Killed { signal: (s & 0x7f) as u8, core: s & 0x80 != 0 }
        }
    }
}

impl HasContext for Task {
    fn context(&self) -> &Context {
        &self.context
    }
}
