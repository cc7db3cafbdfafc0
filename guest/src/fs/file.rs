//! Open files and file descriptor tables (Linux: `struct file`, `struct
//! files_struct`, `struct fs_struct`).
//!
//! An open file is shared (`Arc<File>`) by every descriptor that refers to it, in
//! this process and, after fork, in others: they share its offset and status
//! flags, as on Linux. The descriptor's own flag is close-on-exec.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::errno::{Errno, EBADF, EBUSY, EINVAL, EMFILE};
use crate::fs::pipe::Pipe;
pub use uapi::fcntl::{
    O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_LARGEFILE, O_NOCTTY,
    O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
};

/// Status flags F_SETFL may change (Linux: O_APPEND, O_NONBLOCK, O_ASYNC, O_DIRECT, O_NOATIME).
pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK;

/// What an open file refers to.
pub enum FileKind {
    /// The console: reads see end of file, writes go to a VMM stream.
    Console {
        stream: u32,
    },
    /// A regular file or a directory of the RAM file system.
    Inode {
        ino: u64,
        dir: bool,
    },
    PipeRead(Arc<Pipe>),
    PipeWrite(Arc<Pipe>),
    /// `/dev/counters`: a write of `snapshot LABEL` or `reset LABEL` has the VMM
    /// record the counters under LABEL (and then resets them); reads see end
    /// of file.
    Counters,
    /// `/dev/null`: reads see end of file, writes are discarded.
    Null,
    /// A file of a pseudo file system whose behaviour the module that made it
    /// defines (Linux: its `file_operations`), such as a pidfd (pidfs).
    Anon(Arc<dyn AnonFile>),
    /// A file or directory of a proc mount.
    Proc(Arc<crate::fs::proc::ProcFile>),
    /// A file or directory of a cgroup2 mount.
    Cgroup(Arc<crate::fs::cgroupfs::CgroupOpenFile>),
}

/// What an [`FileKind::Anon`] file does (the parts of Linux's
/// `file_operations` and inode such files use here). It has no data: reads
/// and writes are EINVAL, seeks ESPIPE.
pub trait AnonFile: Send + Sync {
    /// What it is ready for now (Linux `f_op->poll`).
    fn poll(&self) -> i16;
    /// Where pollers sleep until [`poll`](Self::poll) may have changed.
    #[cfg(target_os = "none")]
    fn wait_queue(&self) -> &crate::sched::WaitQueue;
    /// `st_mode` and `st_ino` of its inode.
    fn stat(&self) -> (u32, u64);
    /// `f_type` of its file system (`fstatfs`).
    fn fs_magic(&self) -> u64;
    /// The object itself, for the calls that take only files of one kind
    /// (Linux compares `f_op`: `pidfd_pid`).
    fn as_any(&self) -> &dyn core::any::Any;
}

pub struct File {
    pub kind: FileKind,
    /// Access mode and status flags (O_APPEND, O_NONBLOCK, ...).
    pub flags: AtomicU32,
    /// The file position, shared by every descriptor of this open file.
    pub pos: AtomicU64,
    /// How a regular file was opened: the start directory and the path
    /// (`mmap` names its areas after it, as `/proc/PID/maps` prints them).
    pub opened_as: spin::Once<(u64, Vec<u8>)>,
}

impl File {
    pub fn new(kind: FileKind, flags: u32) -> Arc<File> {
        crate::counters::global_add(crate::counters::OPEN_FILES, 1);
        Arc::new(File {
            kind,
            flags: AtomicU32::new(flags & !O_CLOEXEC),
            pos: AtomicU64::new(0),
            opened_as: spin::Once::new(),
        })
    }

    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    pub fn readable(&self) -> bool {
        self.flags() & O_PATH == 0 && matches!(self.flags() & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    pub fn writable(&self) -> bool {
        self.flags() & O_PATH == 0 && matches!(self.flags() & O_ACCMODE, O_WRONLY | O_RDWR)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        crate::counters::global_sub(crate::counters::OPEN_FILES, 1);
        match &self.kind {
            FileKind::PipeRead(p) => {
                p.lock().readers -= 1;
                p.wake_all();
            }
            FileKind::PipeWrite(p) => {
                p.lock().writers -= 1;
                p.wake_all();
            }
            FileKind::Inode { ino, dir: false } if self.writable() => release_writer(*ino),
            FileKind::Inode { ino, .. } => release_inode(*ino),
            FileKind::Console { .. }
            | FileKind::Counters
            | FileKind::Null
            | FileKind::Anon(_)
            | FileKind::Proc(_)
            | FileKind::Cgroup(_) => {}
        }
    }
}

#[cfg(target_os = "none")]
fn release_inode(ino: u64) {
    crate::fs::release_inode(ino);
}

#[cfg(target_os = "none")]
fn release_writer(ino: u64) {
    crate::fs::release_writer(ino);
}

#[cfg(target_os = "none")]
fn acquire_inode(ino: u64) {
    crate::fs::acquire_inode(ino);
}

#[cfg(not(target_os = "none"))]
fn release_inode(_ino: u64) {}

#[cfg(not(target_os = "none"))]
fn release_writer(_ino: u64) {}

#[cfg(not(target_os = "none"))]
fn acquire_inode(_ino: u64) {}

#[derive(Clone)]
struct FdEntry {
    file: Arc<File>,
    cloexec: bool,
}

/// A process's descriptors (Linux: `files_struct`).
pub struct FdTable {
    fds: spin::Mutex<Fds>,
}

/// The descriptors, and the numbers taken for a file not installed yet
/// (Linux: set in `open_fds` while `fd[n]` is still NULL, between
/// `get_unused_fd_flags` and `fd_install`): such a number is not handed out,
/// names no file (EBADF) and cannot be the target of dup2 (EBUSY).
#[derive(Clone, Default)]
struct Fds {
    entries: Vec<Option<FdEntry>>,
    reserved: Vec<usize>,
}

impl core::ops::Deref for Fds {
    type Target = Vec<Option<FdEntry>>;
    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl core::ops::DerefMut for Fds {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.entries
    }
}

impl Fds {
    /// The lowest number >= `min` neither in use nor reserved, below `limit`.
    fn lowest_free(&self, min: usize, limit: u64) -> Result<usize, Errno> {
        let free = (min..)
            .find(|&i| {
                self.entries.get(i).is_none_or(|e| e.is_none()) && !self.reserved.contains(&i)
            })
            .unwrap();
        if free as u64 >= limit || free > i32::MAX as usize {
            return Err(EMFILE);
        }
        Ok(free)
    }
}

/// A descriptor number taken for a file that is installed later
/// ([`FdTable::reserve`]); dropped without [`FdTable::install_reserved`],
/// the number is free again (Linux `put_unused_fd`).
pub struct ReservedFd {
    table: Arc<FdTable>,
    fd: usize,
    done: bool,
}

impl ReservedFd {
    pub fn fd(&self) -> i32 {
        self.fd as i32
    }
}

impl Drop for ReservedFd {
    fn drop(&mut self) {
        if !self.done {
            self.table.fds.lock().reserved.retain(|&r| r != self.fd);
        }
    }
}

impl FdTable {
    pub fn new() -> Self {
        Self { fds: spin::Mutex::new(Fds::default()) }
    }

    /// The table of a task that has let go of its own (Linux `exit_files`
    /// sets `tsk->files` to NULL): one empty table shared by all of them,
    /// which nothing writes (an exited task makes no more system calls, and
    /// other tasks only read another's table).
    pub fn none() -> Arc<Self> {
        static NONE: spin::Once<Arc<FdTable>> = spin::Once::new();
        NONE.call_once(|| Arc::new(FdTable::new())).clone()
    }

    /// Take the lowest free number for a file installed later (Linux
    /// `get_unused_fd_flags`).
    pub fn reserve(self: &Arc<Self>, limit: u64) -> Result<ReservedFd, Errno> {
        let mut fds = self.fds.lock();
        let fd = fds.lowest_free(0, limit)?;
        fds.reserved.push(fd);
        Ok(ReservedFd { table: self.clone(), fd, done: false })
    }

    /// Put `file` at the number `r` took (Linux `fd_install`).
    pub fn install_reserved(&self, mut r: ReservedFd, file: Arc<File>, cloexec: bool) -> i32 {
        let mut fds = self.fds.lock();
        fds.reserved.retain(|&x| x != r.fd);
        if fds.len() <= r.fd {
            fds.resize(r.fd + 1, None);
        }
        fds[r.fd] = Some(FdEntry { file, cloexec });
        r.done = true;
        r.fd as i32
    }

    /// fds 0, 1 and 2 on the console (stdin reads end of file).
    pub fn with_console() -> Self {
        use protocol::hypercall::stream;
        let t = Self::new();
        let stdin = File::new(FileKind::Console { stream: stream::STDOUT }, O_RDONLY);
        let stdout = File::new(FileKind::Console { stream: stream::STDOUT }, O_WRONLY);
        let stderr = File::new(FileKind::Console { stream: stream::STDERR }, O_WRONLY);
        for f in [stdin, stdout, stderr] {
            t.alloc(0, f, false, u64::MAX).unwrap();
        }
        t
    }

    /// A copy for fork without CLONE_FILES: the same open files (numbers
    /// reserved for a file not yet installed are not copied: Linux `dup_fd`).
    pub fn duplicate(&self) -> Self {
        let entries = self.fds.lock().entries.clone();
        Self { fds: spin::Mutex::new(Fds { entries, reserved: Vec::new() }) }
    }

    pub fn get(&self, fd: i32) -> Result<Arc<File>, Errno> {
        let fds = self.fds.lock();
        usize::try_from(fd)
            .ok()
            .and_then(|i| fds.get(i))
            .and_then(|e| e.as_ref())
            .map(|e| e.file.clone())
            .ok_or(EBADF)
    }

    /// The lowest free descriptor >= `min` (and < `limit`, RLIMIT_NOFILE).
    pub fn alloc(
        &self,
        min: usize,
        file: Arc<File>,
        cloexec: bool,
        limit: u64,
    ) -> Result<i32, Errno> {
        let mut fds = self.fds.lock();
        let free = fds.lowest_free(min, limit)?;
        if fds.len() <= free {
            fds.resize(free + 1, None);
        }
        fds[free] = Some(FdEntry { file, cloexec });
        Ok(free as i32)
    }

    /// Put `file` at `fd`, closing what was there (dup2/dup3).
    pub fn install(
        &self,
        fd: i32,
        file: Arc<File>,
        cloexec: bool,
        limit: u64,
    ) -> Result<i32, Errno> {
        let i = usize::try_from(fd).map_err(|_| EBADF)?;
        if i as u64 >= limit {
            return Err(EBADF);
        }
        let old = {
            let mut fds = self.fds.lock();
            if fds.reserved.contains(&i) {
                return Err(EBUSY);
            }
            if fds.len() <= i {
                fds.resize(i + 1, None);
            }
            fds[i].replace(FdEntry { file, cloexec })
        };
        drop(old); // outside the lock: closing may release an inode
        Ok(fd)
    }

    pub fn close(&self, fd: i32) -> Result<(), Errno> {
        let old = {
            let mut fds = self.fds.lock();
            let i = usize::try_from(fd).map_err(|_| EBADF)?;
            fds.get_mut(i).and_then(|e| e.take()).ok_or(EBADF)?
        };
        drop(old);
        Ok(())
    }

    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        let fds = self.fds.lock();
        usize::try_from(fd).ok().and_then(|i| fds.get(i)?.as_ref()).map(|e| e.cloexec).ok_or(EBADF)
    }

    pub fn set_cloexec(&self, fd: i32, on: bool) -> Result<(), Errno> {
        let mut fds = self.fds.lock();
        let e = usize::try_from(fd).ok().and_then(|i| fds.get_mut(i)?.as_mut()).ok_or(EBADF)?;
        e.cloexec = on;
        Ok(())
    }

    /// Close every close-on-exec descriptor (execve).
    pub fn close_on_exec(&self) {
        let closed: Vec<FdEntry> = {
            let mut fds = self.fds.lock();
            fds.iter_mut()
                .filter_map(|e| if e.as_ref().is_some_and(|e| e.cloexec) { e.take() } else { None })
                .collect()
        };
        drop(closed);
    }

    /// Close everything (exit).
    pub fn close_all(&self) {
        let all: Vec<Option<FdEntry>> = core::mem::take(&mut self.fds.lock().entries);
        drop(all);
    }

    /// The table's size as `/proc/PID/status` shows it (Linux `max_fds`:
    /// 64, doubled as descriptors above it are used).
    pub fn max_fds(&self) -> usize {
        self.fds.lock().len().next_power_of_two().max(64)
    }

    pub fn open_count(&self) -> usize {
        self.fds.lock().iter().filter(|e| e.is_some()).count()
    }
}

impl Default for FdTable {
    fn default() -> Self {
        Self::new()
    }
}

/// A process's file-system context (Linux: `fs_struct`): cwd and umask. The
/// working directory holds a reference on its inode, as an open file does, so a
/// removed cwd stays valid until the process leaves it.
pub struct FsStruct {
    cwd: AtomicU64,
    /// A working directory on a proc mount (then `cwd` is the RAM
    /// directory the process left for it, still held).
    cwd_proc: spin::Mutex<Option<Arc<crate::fs::proc::ProcFile>>>,
    pub umask: AtomicU32,
}

impl FsStruct {
    /// Working directory `cwd` (an inode of the RAM file system), umask 022.
    pub fn new(cwd: u64) -> Self {
        acquire_inode(cwd);
        Self {
            cwd: AtomicU64::new(cwd),
            cwd_proc: spin::Mutex::new(None),
            umask: AtomicU32::new(0o022),
        }
    }

    pub fn duplicate(&self) -> Self {
        let s = Self::new(self.cwd());
        *s.cwd_proc.lock() = self.cwd_proc();
        s.umask.store(self.umask.load(Ordering::Relaxed), Ordering::Relaxed);
        s
    }

    pub fn cwd(&self) -> u64 {
        self.cwd.load(Ordering::Relaxed)
    }

    /// The working directory when it is on a proc mount.
    pub fn cwd_proc(&self) -> Option<Arc<crate::fs::proc::ProcFile>> {
        self.cwd_proc.lock().clone()
    }

    /// Make a proc directory the working directory.
    pub fn set_cwd_proc(&self, dir: Arc<crate::fs::proc::ProcFile>) {
        *self.cwd_proc.lock() = Some(dir);
    }

    /// Make `ino` the working directory; the caller took a reference on it.
    pub fn set_cwd_acquired(&self, ino: u64) {
        *self.cwd_proc.lock() = None;
        let old = self.cwd.swap(ino, Ordering::Relaxed);
        release_inode(old);
    }
}

impl Drop for FsStruct {
    fn drop(&mut self) {
        release_inode(self.cwd());
    }
}

/// Validate dup3 flags: only O_CLOEXEC.
pub fn dup3_flags(flags: u32) -> Result<bool, Errno> {
    if flags & !O_CLOEXEC != 0 {
        return Err(EINVAL);
    }
    Ok(flags & O_CLOEXEC != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console() -> Arc<File> {
        File::new(FileKind::Console { stream: 1 }, O_WRONLY)
    }

    #[test]
    fn lowest_free_descriptor_and_limits() {
        let t = FdTable::with_console();
        assert_eq!(t.alloc(0, console(), false, 1024), Ok(3));
        t.close(1).unwrap();
        assert_eq!(t.alloc(0, console(), false, 1024), Ok(1));
        assert_eq!(t.alloc(10, console(), true, 1024), Ok(10));
        assert_eq!(t.cloexec(10), Ok(true));
        assert_eq!(t.alloc(0, console(), false, 4), Err(EMFILE));
        assert_eq!(t.close(7), Err(EBADF));
        assert_eq!(t.close(-1), Err(EBADF));
        assert_eq!(t.get(99).err(), Some(EBADF));
    }

    #[test]
    fn dup_shares_the_open_file_and_exec_closes_cloexec() {
        let t = FdTable::with_console();
        let f = t.get(1).unwrap();
        t.install(5, f.clone(), true, 1024).unwrap();
        assert!(Arc::ptr_eq(&t.get(5).unwrap(), &f));
        f.pos.store(42, Ordering::Relaxed);
        assert_eq!(t.get(5).unwrap().pos.load(Ordering::Relaxed), 42, "shared offset");
        let copy = t.duplicate();
        t.close_on_exec();
        assert_eq!(t.get(5).err(), Some(EBADF));
        assert!(copy.get(5).is_ok(), "the duplicate is independent");
        assert_eq!(dup3_flags(O_CLOEXEC), Ok(true));
        assert_eq!(dup3_flags(1), Err(EINVAL));
    }

    #[test]
    fn reserved_numbers_are_skipped_until_installed_or_dropped() {
        let t = Arc::new(FdTable::with_console());
        let r = t.reserve(1024).unwrap();
        assert_eq!(r.fd(), 3);
        assert_eq!(t.get(3).err(), Some(EBADF), "a reserved number names no file");
        assert_eq!(t.close(3), Err(EBADF));
        assert_eq!(t.install(3, console(), false, 1024), Err(EBUSY), "dup2 onto it");
        assert_eq!(t.alloc(0, console(), false, 1024), Ok(4), "not handed out");
        assert!(t.duplicate().alloc(0, console(), false, 1024) == Ok(3), "not copied");
        drop(r);
        assert_eq!(t.alloc(0, console(), false, 1024), Ok(3), "free again once dropped");
        let r = t.reserve(1024).unwrap();
        assert_eq!(t.install_reserved(r, console(), true), 5);
        assert_eq!(t.cloexec(5), Ok(true));
        assert_eq!(t.reserve(6).err(), Some(EMFILE));
    }

    #[test]
    fn pipe_ends_track_readers_and_writers() {
        let p = Arc::new(Pipe::new());
        let r = File::new(FileKind::PipeRead(p.clone()), O_RDONLY);
        let w = File::new(FileKind::PipeWrite(p.clone()), O_WRONLY);
        drop(w);
        assert_eq!(p.lock().writers, 0);
        drop(r);
        assert_eq!(p.lock().readers, 0);
    }
}
