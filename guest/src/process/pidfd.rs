//! pidfds (Linux `kernel/pid.c` `pidfd_open`/`pidfd_getfd`, `kernel/fork.c`
//! `pidfd_prepare`, `fs/pidfs.c`): a file that refers to a process, or with
//! PIDFD_THREAD to one thread, by its `struct pid` — never by its number,
//! which may name another process once this one is reaped, and never by the
//! task, which goes away when reaped while the pidfd stays valid (and then
//! reports the process gone: ESRCH, POLLHUP).
//!
//! The file is an [`AnonFile`] in the descriptor table like any other (pidfs
//! in Linux): it is shared by fork, kept by execve unless close-on-exec (set
//! when it is made), and its `st_ino` is its pid's, the same for every pidfd
//! of one process.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::errno::{Errno, EBADF, ENOENT, ESRCH};
use crate::fs::file::{AnonFile, FdTable, File, FileKind, ReservedFd, O_NONBLOCK, O_RDWR};
use crate::process::pid_namespace::Pid;
use crate::process::rlimit::RLIMIT_NOFILE;
use crate::process::{table, Task};
use uapi::pidfd::{PIDFD_THREAD, PID_FS_MAGIC};
use uapi::poll::{POLLHUP, POLLIN, POLLRDNORM};

/// What a pidfd refers to.
pub struct PidFile {
    pub pid: Arc<Pid>,
    /// PIDFD_THREAD: one thread rather than its process (kept apart from the
    /// file's status flags, which F_SETFL may change).
    pub thread: bool,
}

/// The task `pid` is the thread id of, while it exists (Linux `pid_task(pid,
/// PIDTYPE_PID)`): found by number in the task table, and only if that task
/// uses this very pid (a reused number names another one).
pub fn pid_task(pid: &Arc<Pid>) -> Option<Arc<Task>> {
    table::find(pid.global()).filter(|t| Arc::ptr_eq(&t.thread_pid(), pid))
}

/// Linux `delay_group_leader`: a process's leader that exited while other
/// threads of it still run, whose exit is not yet the process's.
fn delay_group_leader(t: &Task) -> bool {
    t.is_group_leader() && t.group.live.load(Ordering::Acquire) > 0
}

/// Linux `pidfd_poll` (6.15 and later): readable once the task has exited,
/// unless it is a process's main thread waiting for the other threads — for
/// a PIDFD_THREAD pidfd too (its waiters are told when the last thread
/// exits, or never if one of them execs and takes over the pid); hung up
/// once it is reaped (at once for a thread other than the main one).
pub fn pidfd_poll(pid: &Arc<Pid>) -> i16 {
    match pid_task(pid) {
        None => POLLIN | POLLRDNORM | POLLHUP,
        Some(t) if t.exited.load(Ordering::Acquire) && !delay_group_leader(&t) => {
            POLLIN | POLLRDNORM
        }
        Some(_) => 0,
    }
}

impl AnonFile for PidFile {
    fn poll(&self) -> i16 {
        pidfd_poll(&self.pid)
    }

    fn wait_queue(&self) -> &crate::sched::WaitQueue {
        &self.pid.wait_pidfd
    }

    fn stat(&self) -> (u32, u64) {
        // pidfs inodes have no file type in st_mode (Linux `pidfs_getattr`).
        (0o700, self.pid.ino())
    }

    fn fs_magic(&self) -> u64 {
        PID_FS_MAGIC
    }

    fn as_any(&self) -> &dyn core::any::Any {
        self
    }
}

/// The pid a pidfd refers to and whether it is a PIDFD_THREAD one (Linux
/// `pidfd_pid`): EBADF for any other file.
pub fn pidfd_pid(file: &File) -> Result<&PidFile, Errno> {
    match &file.kind {
        FileKind::Anon(a) => a.as_any().downcast_ref::<PidFile>().ok_or(EBADF),
        _ => Err(EBADF),
    }
}

/// `task`'s RLIMIT_NOFILE.
pub fn nofile_limit(task: &Task) -> u64 {
    task.group.rlimits.lock().get(RLIMIT_NOFILE).map_or(1024, |r| r.rlim_cur)
}

/// A descriptor number in `files` and a pidfd for `pid`, not yet installed
/// (Linux `pidfd_prepare` with PIDFD_STALE: the caller knows what `pid` is —
/// `copy_process` for a child not yet attached). `flags`: PIDFD_THREAD,
/// PIDFD_NONBLOCK.
pub fn pidfd_prepare_unchecked(
    pid: &Arc<Pid>,
    flags: u32,
    files: &Arc<FdTable>,
    limit: u64,
) -> Result<(ReservedFd, Arc<File>), Errno> {
    let fd = files.reserve(limit)?;
    let thread = flags & PIDFD_THREAD != 0;
    let file = File::new(
        FileKind::Anon(Arc::new(PidFile { pid: pid.clone(), thread })),
        O_RDWR | (flags & (O_NONBLOCK | PIDFD_THREAD)),
    );
    Ok((fd, file))
}

/// Linux `pidfd_prepare`: ESRCH when no task uses `pid` any more, ENOENT
/// when it is not a process's (a leader's) pid and PIDFD_THREAD was not
/// asked for.
pub fn pidfd_prepare(
    pid: &Arc<Pid>,
    flags: u32,
    files: &Arc<FdTable>,
    limit: u64,
) -> Result<(ReservedFd, Arc<File>), Errno> {
    let task = pid_task(pid).ok_or(ESRCH)?;
    if flags & PIDFD_THREAD == 0 && !task.is_group_leader() {
        return Err(ENOENT);
    }
    pidfd_prepare_unchecked(pid, flags, files, limit)
}

/// Linux `pidfd_create`: a close-on-exec pidfd for `pid` in `task`'s table.
pub fn pidfd_create(task: &Task, pid: &Arc<Pid>, flags: u32) -> Result<i32, Errno> {
    let files = task.files();
    let (fd, file) = pidfd_prepare(pid, flags, &files, nofile_limit(task))?;
    Ok(files.install_reserved(fd, file, true))
}

/// A task using `pid` exited or was reaped: wake its pidfds' pollers (Linux
/// `do_notify_pidfd`).
pub fn do_notify_pidfd(pid: &Pid) {
    pid.wait_pidfd.wake_all();
}
