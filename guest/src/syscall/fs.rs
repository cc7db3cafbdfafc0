//! File system calls (Linux `fs/open.c`, `fs/read_write.c`, `fs/namei.c`,
//! `fs/stat.c`, `fs/readdir.c`, `fs/pipe.c`, `fs/fcntl.c`, `fs/file.c`), on the
//! current task's descriptor table and the file system of `crate::fs`.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use super::SysResult;
use crate::errno::*;
use crate::fs::attr;
use crate::fs::cgroupfs::{CgroupNode, CgroupOpenFile};
use crate::fs::file::*;
use crate::fs::namespace::Mount;
use crate::fs::pipe::{Outcome, Pipe};
use crate::fs::proc::{ProcFile, ProcNode};
use crate::fs::ramfs::{self, Ino, Stat, S_IFCHR, S_IFIFO};
use crate::fs::{with_fs, CONSOLE_RDEV, COUNTERS_RDEV, NULL_RDEV};
use crate::process::rlimit::RLIMIT_NOFILE;
use crate::process::signal::fatal_signal_pending;
use crate::process::Task;
use crate::process::{cond_resched, current};
use crate::uaccess;
use crate::vfs::namei::{self, Node, PathRef};
use crate::vfs::proc as procfs;
pub use uapi::fcntl::{
    AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, FD_CLOEXEC, F_DUPFD,
    F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, F_SETFL,
};
use uapi::fs::{SEEK_CUR, SEEK_END, SEEK_SET};
use uapi::termios::TIOCGWINSZ;
use uapi::uio::UIO_MAXIOV;

/// Linux's MAX_RW_COUNT: one read or write moves at most this much.
const MAX_RW_COUNT: usize = 0x7fff_f000;
/// Bytes moved through the kernel per step of a large read or write.
const CHUNK: usize = 64 * 1024;

pub fn close(fd: i32) -> SysResult {
    files().close(fd).map(|_| 0)
}

pub fn umask(mask: u32) -> SysResult {
    let fs = task().fs();
    Ok(fs.umask.swap(mask & 0o777, Ordering::Relaxed) as u64)
}

fn task() -> Arc<Task> {
    current().expect("a system call without a task")
}

fn files() -> Arc<FdTable> {
    task().files()
}

fn nofile_limit(t: &Task) -> u64 {
    t.group.rlimits.lock().get(RLIMIT_NOFILE).map_or(1024, |r| r.rlim_cur)
}

fn path_str(bytes: &[u8]) -> Result<&str, Errno> {
    core::str::from_utf8(bytes).map_err(|_| EINVAL)
}

/// The directory a relative path at `dirfd` starts from.
fn start_dir(dirfd: i32, path: &[u8]) -> Result<Ino, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(ramfs::ROOT_INO);
    }
    if dirfd == AT_FDCWD {
        return Ok(task().fs().cwd());
    }
    let file = files().get(dirfd)?;
    match file.kind {
        FileKind::Inode { ino, dir: true } => Ok(ino),
        _ => Err(ENOTDIR),
    }
}

/// Where a path at `dirfd` starts, as a place in the mount tree (absolute
/// paths: the root; relative: the working directory or `dirfd`'s directory).
fn start_path(dirfd: i32, path: &[u8]) -> Result<PathRef, Errno> {
    let t = task();
    if path.first() == Some(&b'/') {
        return Ok(namei::root_of(&t));
    }
    if dirfd == AT_FDCWD {
        let fs = t.fs();
        if let Some(pf) = fs.cwd_proc() {
            return Ok(PathRef { mnt: pf.mnt.clone(), node: Node::Proc(pf.node) });
        }
        return Ok(namei::ram_path(&t, fs.cwd()));
    }
    let file = files().get(dirfd)?;
    match &file.kind {
        FileKind::Inode { ino, dir: true } => Ok(namei::ram_path(&t, *ino)),
        FileKind::Proc(pf) if pf.node.is_dir() => {
            Ok(PathRef { mnt: pf.mnt.clone(), node: Node::Proc(pf.node) })
        }
        FileKind::Cgroup(cf) if cf.node.is_dir() => {
            Ok(PathRef { mnt: cf.mnt.clone(), node: Node::Cgroup(cf.node) })
        }
        _ => Err(ENOTDIR),
    }
}

fn read_path(addr: u64) -> Result<Vec<u8>, Errno> {
    let p = uaccess::read_cstr(addr, ramfs::PATH_MAX - 1)?;
    if p.is_empty() {
        return Err(ENOENT);
    }
    Ok(p)
}

// ---- open, close, dup, fcntl ----------------------------------------------

pub fn openat(dirfd: i32, path: u64, flags: u32, mode: u32) -> SysResult {
    let path = read_path(path)?;
    let start = start_path(dirfd, &path)?;
    let start_ram = match start.node {
        Node::Ram(dir) => Some(dir),
        Node::Proc(_) | Node::Cgroup(_) => None,
    };
    let p = path_str(&path)?;
    let t = task();
    let umask = t.fs().umask.load(Ordering::Relaxed);
    let creds = t.creds();
    let acc = flags & O_ACCMODE;
    if acc == 3 {
        return Err(EINVAL);
    }
    let found = namei::lookup(&t, start.clone(), p, flags & O_NOFOLLOW == 0);
    if let Ok(PathRef { mnt, node: Node::Proc(node) }) = &found {
        return open_proc(&t, mnt.clone(), *node, flags);
    }
    if let Ok(PathRef { mnt, node: Node::Cgroup(node) }) = &found {
        return open_cgroup(&t, mnt.clone(), *node, flags);
    }
    if matches!(found, Err(ENOENT)) && flags & O_CREAT != 0 {
        // kernfs directories create nothing (Linux `lookup_open`: no
        // `create` operation).
        if let Ok((PathRef { node: Node::Cgroup(_), .. }, _)) = namei::parent(&t, start.clone(), p)
        {
            return Err(EACCES);
        }
    }
    let parent = match found {
        Err(ENOENT) if flags & O_CREAT != 0 && !p.ends_with('/') => {
            Some(namei::ram_parent(&t, start, p)?)
        }
        _ => None,
    };
    let (ino, stat) = with_fs(|fs| -> Result<(Ino, Stat), Errno> {
        let ino = match found {
            Ok(found) => {
                if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
                    return Err(EEXIST);
                }
                found.ram(EINVAL)?
            }
            Err(ENOENT) if flags & O_CREAT != 0 => {
                if p.ends_with('/') {
                    return Err(EISDIR);
                }
                let (parent, name) = parent.clone().ok_or(ENOENT)?;
                let ino = fs.create(parent, &name, ramfs::S_IFREG | (mode & 0o7777 & !umask))?;
                fs.chown(ino, Some(creds.euid), Some(creds.egid))?;
                ino
            }
            Err(e) => return Err(e),
        };
        let st = fs.stat(ino)?;
        if flags & O_DIRECTORY != 0 && !st.is_dir() {
            return Err(ENOTDIR);
        }
        if st.is_dir() && (acc != O_RDONLY || flags & O_CREAT != 0) {
            return Err(EISDIR);
        }
        // A regular file opened for writing counts as a writer (Linux
        // `get_write_access` in `do_dentry_open`; O_TRUNC alone takes one
        // for the truncation, `handle_truncate`): ETXTBSY while it runs.
        let writer = st.is_reg() && flags & O_PATH == 0 && matches!(acc, O_WRONLY | O_RDWR);
        if st.is_reg() && (writer || flags & O_TRUNC != 0) {
            fs.get_write_access(ino)?;
        }
        // Linux truncates even when opened read-only (O_TRUNC's effect there is unspecified).
        if st.is_reg() && flags & O_TRUNC != 0 {
            if let Err(e) = fs.truncate(ino, 0) {
                fs.put_write_access(ino);
                return Err(e);
            }
            if !writer {
                fs.put_write_access(ino);
            }
        }
        if let Err(e) = fs.open_inc(ino) {
            if writer {
                fs.put_write_access(ino);
            }
            return Err(e);
        }
        Ok((ino, st))
    })?;
    let kind = if stat.is_chr() && stat.rdev == CONSOLE_RDEV {
        // Opening the console device gives a console file; the inode is not held.
        release_inode_now(ino);
        FileKind::Console { stream: protocol::hypercall::stream::STDOUT }
    } else if stat.is_chr() && stat.rdev == COUNTERS_RDEV {
        release_inode_now(ino);
        FileKind::Counters
    } else if stat.is_chr() && stat.rdev == NULL_RDEV {
        release_inode_now(ino);
        FileKind::Null
    } else {
        FileKind::Inode { ino, dir: stat.is_dir() }
    };
    let file = File::new(kind, flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
    if stat.is_reg() {
        if flags & O_TRUNC != 0 {
            unmap_truncated(ino);
        }
        // The path from the RAM directory the lookup started in (for
        // /proc/PID/maps); a lookup that started in proc has none.
        if let Some(dir) = start_ram {
            file.opened_as.call_once(|| (dir, path));
        }
    }
    t.files().alloc(0, file, flags & O_CLOEXEC != 0, nofile_limit(&t)).map(|fd| fd as u64)
}

/// After `ino` shrank: the page-table entries of its pages past the new end
/// go from every address space that maps them (Linux `truncate_pagecache`,
/// `unmap_mapping_range`), so that accesses there get SIGBUS. Nothing to do
/// for a file never mapped (no page cache) or no longer mapped.
fn unmap_truncated(ino: Ino) {
    let Some(cache) = with_fs(|fs| fs.cached(ino)) else { return };
    // The inode holds one reference, this function another; each area
    // mapping the file holds one more.
    if Arc::strong_count(&cache) <= 2 {
        return;
    }
    let pgoff = cache.size().div_ceil(crate::mm::frame::PAGE_SIZE);
    let mut seen: Vec<usize> = Vec::new();
    for t in crate::process::table::all() {
        let Some(mm) = t.mm() else { continue };
        let key = Arc::as_ptr(&mm) as usize;
        if !seen.contains(&key) {
            seen.push(key);
            mm.unmap_mapping_range(&cache, pgoff);
        }
    }
}

/// The file that `mmap(.., fd, ..)` maps (Linux `ksys_mmap_pgoff`'s `fget`
/// and what `do_mmap` asks of the file): EBADF for a bad descriptor; a file
/// that is not a regular file of the RAM file system has no page cache
/// (`do_mmap` answers ENODEV after its access checks).
pub fn mmap_file(fd: i32) -> Result<crate::mm::address_space::MmapFile, Errno> {
    use crate::mm::address_space::MmapFile;
    let file = files().get(fd)?;
    if file.flags() & O_PATH != 0 {
        return Err(EBADF);
    }
    let (readable, writable) = (file.readable(), file.writable());
    let FileKind::Inode { ino, dir: false } = file.kind else {
        return Ok(MmapFile { cache: None, ino: 0, path: Arc::from(""), readable, writable });
    };
    let (cache, path) = with_fs(|fs| {
        let path = match file.opened_as.get() {
            Some((start, p)) => core::str::from_utf8(p)
                .ok()
                .and_then(|p| fs.lookup_parent(*start, p).ok())
                .and_then(|(dir, name)| Some((fs.path_of(dir).ok()?, name)))
                .map(|(dir, name)| {
                    let sep = if dir.ends_with('/') { "" } else { "/" };
                    alloc::format!("{dir}{sep}{name}")
                }),
            None => None,
        };
        (fs.page_cache(ino), path.unwrap_or_default())
    });
    // Frames for the page cache could not be had.
    let cache = Some(cache?);
    Ok(MmapFile { cache, ino, path: Arc::from(path.as_str()), readable, writable })
}

/// Open a node of proc (read-only files; Linux: `proc_reg_open` of files of
/// mode 0444, `proc_self` links are ELOOP with O_NOFOLLOW).
fn open_proc(t: &Task, mnt: Arc<Mount>, node: ProcNode, flags: u32) -> SysResult {
    if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
        return Err(EEXIST);
    }
    if node.is_symlink() {
        return Err(ELOOP);
    }
    if flags & O_DIRECTORY != 0 && !node.is_dir() {
        return Err(ENOTDIR);
    }
    let writable = matches!(node, ProcNode::PidFile(_, _, e) if e.writable());
    if flags & O_ACCMODE != O_RDONLY || flags & (O_CREAT | O_TRUNC) != 0 {
        if node.is_dir() {
            return Err(EISDIR);
        }
        // Mode 0644: the owner (the process's effective uid) or root.
        if !writable || flags & O_CREAT != 0 {
            return Err(EACCES);
        }
        let ns = procfs::pid_ns_of(&mnt.fs).ok_or(EINVAL)?;
        let owner = procfs::stat(&ns, node)?.uid;
        let euid = t.creds().euid;
        if euid != 0 && euid != owner {
            return Err(EACCES);
        }
    }
    let pf = ProcFile::new(mnt, node);
    if let ProcNode::NsFile(..) = node {
        // The namespace is held from now on, whatever becomes of the task.
        let ns = procfs::pid_ns_of(&pf.mnt.fs).ok_or(EINVAL)?;
        let r: Arc<dyn core::any::Any + Send + Sync> = Arc::new(procfs::ns_ref(&ns, node)?);
        pf.pinned.call_once(|| r);
    }
    let file =
        File::new(FileKind::Proc(Arc::new(pf)), flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
    t.files().alloc(0, file, flags & O_CLOEXEC != 0, nofile_limit(t)).map(|fd| fd as u64)
}

/// Open a node of a cgroup2 mount (Linux `kernfs_fop_open`): directories
/// read-only; a file for writing by root, or by its owner if it is 0644
/// (EACCES otherwise); O_CREAT and O_TRUNC of an existing file do nothing.
fn open_cgroup(t: &Task, mnt: Arc<Mount>, node: CgroupNode, flags: u32) -> SysResult {
    use crate::process::cgroup::kernel::find;
    if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
        return Err(EEXIST);
    }
    let cg = find(node.id()).ok_or(ENOENT)?;
    let acc = flags & O_ACCMODE;
    match node {
        CgroupNode::Dir(_) => {
            if acc != O_RDONLY || flags & O_CREAT != 0 {
                return Err(EISDIR);
            }
        }
        CgroupNode::File(_, f) => {
            if flags & O_DIRECTORY != 0 {
                return Err(ENOTDIR);
            }
            // Root may open any for writing (a write without an operation
            // is then EINVAL); others need the owner's write bit.
            let c = t.creds();
            if acc != O_RDONLY && c.euid != 0 && (!f.writable() || c.euid != cg.uid) {
                return Err(EACCES);
            }
        }
    }
    let file = File::new(
        FileKind::Cgroup(Arc::new(CgroupOpenFile {
            mnt,
            node,
            cgroup: cg,
            snapshot: spin::Mutex::new(None),
        })),
        flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC),
    );
    t.files().alloc(0, file, flags & O_CLOEXEC != 0, nofile_limit(t)).map(|fd| fd as u64)
}

/// The cgroup an open cgroup2 file belongs to.
fn open_cgroup_of(cf: &CgroupOpenFile) -> Arc<crate::process::cgroup::Cgroup> {
    cf.cgroup.clone().downcast().expect("a cgroup2 file holds its cgroup")
}

/// Read a cgroup2 file at `pos`: the text is made at offset 0 (Linux
/// `seq_read` as `proc_read`).
fn cgroup_read(cf: &CgroupOpenFile, buf: u64, len: usize, pos: u64) -> Result<usize, Errno> {
    let CgroupNode::File(_, f) = cf.node else { return Err(EISDIR) };
    let text = {
        let mut snap = cf.snapshot.lock();
        match &*snap {
            Some(t) if pos != 0 => t.clone(),
            _ => {
                let cg = open_cgroup_of(cf);
                let t: Arc<[u8]> =
                    crate::process::cgroup::kernel::read_file(&task(), &cg, f)?.into();
                *snap = Some(t.clone());
                t
            }
        }
    };
    let start = (pos as usize).min(text.len());
    let n = len.min(text.len() - start);
    uaccess::write_bytes(buf, &text[start..start + n])?;
    Ok(n)
}

/// Write to a cgroup2 file (Linux `kernfs_fop_write_iter`: one page at most,
/// E2BIG past it; the file's operation sees the whole write, wherever the
/// position is).
fn cgroup_write(cf: &CgroupOpenFile, buf: u64, len: usize) -> SysResult {
    let CgroupNode::File(_, f) = cf.node else { return Err(EISDIR) };
    if len > 4096 {
        return Err(E2BIG);
    }
    if len == 0 {
        return Ok(0);
    }
    let data = uaccess::read_bytes(buf, len)?;
    let cg = open_cgroup_of(cf);
    crate::process::cgroup::kernel::write_file(&task(), &cg, f, &data)?;
    Ok(len as u64)
}

/// Read a proc file at `pos` (Linux `seq_read`): the text is made at a
/// read at offset 0 (or the first read) and kept for the reads after it.
fn proc_read(pf: &ProcFile, buf: u64, len: usize, pos: u64) -> Result<usize, Errno> {
    if pf.node.is_dir() {
        return Err(EISDIR);
    }
    let text = {
        let mut snap = pf.snapshot.lock();
        match &*snap {
            Some(t) if pos != 0 => t.clone(),
            _ => {
                let ns = procfs::pid_ns_of(&pf.mnt.fs).ok_or(EINVAL)?;
                let mnt_ns = namei::mnt_ns_of(&task());
                let t: Arc<[u8]> = procfs::generate(&mnt_ns, &ns, pf.node)?.into();
                *snap = Some(t.clone());
                t
            }
        }
    };
    let start = (pos as usize).min(text.len());
    let n = len.min(text.len() - start);
    uaccess::write_bytes(buf, &text[start..start + n])?;
    Ok(n)
}

fn release_inode_now(ino: Ino) {
    with_fs(|fs| {
        let _ = fs.close_dec(ino);
    });
}

pub fn dup(fd: i32) -> SysResult {
    let t = task();
    let files = t.files();
    let f = files.get(fd)?;
    files.alloc(0, f, false, nofile_limit(&t)).map(|fd| fd as u64)
}

pub fn dup2(old: i32, new: i32) -> SysResult {
    let t = task();
    let files = t.files();
    let f = files.get(old)?;
    if old == new {
        return Ok(new as u64);
    }
    files.install(new, f, false, nofile_limit(&t)).map(|fd| fd as u64)
}

pub fn dup3(old: i32, new: i32, flags: u32) -> SysResult {
    let cloexec = dup3_flags(flags)?;
    if old == new {
        return Err(EINVAL);
    }
    let t = task();
    let files = t.files();
    let f = files.get(old)?;
    files.install(new, f, cloexec, nofile_limit(&t)).map(|fd| fd as u64)
}

pub fn fcntl(fd: i32, cmd: u32, arg: u64) -> SysResult {
    let t = task();
    let files = t.files();
    let file = files.get(fd)?;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = arg as i64;
            if min < 0 || min as u64 >= nofile_limit(&t) {
                return Err(EINVAL);
            }
            files
                .alloc(min as usize, file, cmd == F_DUPFD_CLOEXEC, nofile_limit(&t))
                .map(|fd| fd as u64)
        }
        F_GETFD => Ok(if files.cloexec(fd)? { u64::from(FD_CLOEXEC) } else { 0 }),
        F_SETFD => files.set_cloexec(fd, arg & u64::from(FD_CLOEXEC) != 0).map(|_| 0),
        F_GETFL => Ok(file.flags() as u64),
        F_SETFL => {
            let old = file.flags();
            file.flags.store((old & !SETFL_MASK) | (arg as u32 & SETFL_MASK), Ordering::Relaxed);
            Ok(0)
        }
        _ => Err(EINVAL),
    }
}

pub fn ioctl(fd: i32, req: u64, arg: u64) -> SysResult {
    let file = files().get(fd)?;
    match (&file.kind, req) {
        (FileKind::Console { .. }, req) if req == u64::from(TIOCGWINSZ) => {
            // struct winsize { rows, cols, xpixel, ypixel }: u16 each.
            let ws: [u8; 8] = [24, 0, 80, 0, 0, 0, 0, 0];
            uaccess::write_bytes(arg, &ws).map(|_| 0)
        }
        _ => Err(ENOTTY),
    }
}

// ---- read and write --------------------------------------------------------

pub fn read(fd: i32, buf: u64, len: usize) -> SysResult {
    let file = files().get(fd)?;
    if !file.readable() {
        return Err(EBADF);
    }
    do_read(&file, buf, len.min(MAX_RW_COUNT), None)
}

pub fn write(fd: i32, buf: u64, len: usize) -> SysResult {
    let file = files().get(fd)?;
    if !file.writable() {
        return Err(EBADF);
    }
    do_write(&file, buf, len.min(MAX_RW_COUNT), None)
}

pub fn pread(fd: i32, buf: u64, len: usize, offset: i64) -> SysResult {
    let file = files().get(fd)?;
    if !file.readable() {
        return Err(EBADF);
    }
    if offset < 0 {
        return Err(EINVAL);
    }
    match file.kind {
        FileKind::Inode { dir: false, .. } => {
            do_read(&file, buf, len.min(MAX_RW_COUNT), Some(offset as u64))
        }
        FileKind::Inode { dir: true, .. } => Err(EISDIR),
        FileKind::Proc(ref pf) => {
            proc_read(pf, buf, len.min(MAX_RW_COUNT), offset as u64).map(|n| n as u64)
        }
        FileKind::Cgroup(ref cf) => {
            cgroup_read(cf, buf, len.min(MAX_RW_COUNT), offset as u64).map(|n| n as u64)
        }
        // No read operation (Linux: FMODE_PREAD without FMODE_CAN_READ).
        FileKind::Anon(_) => Err(EINVAL),
        _ => Err(ESPIPE),
    }
}

pub fn pwrite(fd: i32, buf: u64, len: usize, offset: i64) -> SysResult {
    let file = files().get(fd)?;
    if !file.writable() {
        return Err(EBADF);
    }
    if offset < 0 {
        return Err(EINVAL);
    }
    match file.kind {
        FileKind::Inode { .. } => do_write(&file, buf, len.min(MAX_RW_COUNT), Some(offset as u64)),
        FileKind::Cgroup(ref cf) => cgroup_write(cf, buf, len.min(MAX_RW_COUNT)),
        FileKind::Anon(_) => Err(EINVAL),
        _ => Err(ESPIPE),
    }
}

/// The (base, len) pairs of a user iovec array (Linux `import_iovec`).
fn iovecs(iov: u64, count: i32) -> Result<Vec<(u64, usize)>, Errno> {
    if !(0..=UIO_MAXIOV as i32).contains(&count) {
        return Err(EINVAL);
    }
    let raw = uaccess::read_bytes(iov, 16 * count as usize)?;
    let mut total: u64 = 0;
    let mut v = Vec::with_capacity(count as usize);
    for c in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(c[..8].try_into().unwrap());
        let len = u64::from_le_bytes(c[8..].try_into().unwrap());
        if len > isize::MAX as u64 {
            return Err(EINVAL);
        }
        total = total.saturating_add(len);
        v.push((base, len as usize));
    }
    if total > isize::MAX as u64 {
        return Err(EINVAL);
    }
    Ok(v)
}

pub fn readv(fd: i32, iov: u64, count: i32) -> SysResult {
    let file = files().get(fd)?;
    if !file.readable() {
        return Err(EBADF);
    }
    each_iovec(iovecs(iov, count)?, |base, len| do_read(&file, base, len, None))
}

pub fn writev(fd: i32, iov: u64, count: i32) -> SysResult {
    let file = files().get(fd)?;
    if !file.writable() {
        return Err(EBADF);
    }
    let vecs = iovecs(iov, count)?;
    // Console writes are gathered so that one writev is one line of output
    // (up to CHUNK bytes: larger ones go out iovec by iovec, in chunks, so a
    // user-chosen total never sizes a kernel buffer).
    let total = vecs.iter().map(|(_, len)| *len as u64).sum::<u64>();
    if matches!(file.kind, FileKind::Console { .. }) && total <= CHUNK as u64 {
        let mut all = Vec::new();
        for (base, len) in &vecs {
            all.extend_from_slice(&uaccess::read_bytes(*base, *len)?);
        }
        return console_write(&file, &all);
    }
    each_iovec(vecs, |base, len| do_write(&file, base, len, None))
}

/// `op` on each iovec in turn, as Linux's `do_loop_readv_writev`: the bytes
/// of all; a short transfer ends the call; an error is the call's result only
/// when nothing was transferred before it.
fn each_iovec(vecs: Vec<(u64, usize)>, mut op: impl FnMut(u64, usize) -> SysResult) -> SysResult {
    let mut done = 0u64;
    for (base, len) in vecs {
        match op(base, len) {
            Ok(n) => {
                done += n;
                if (n as usize) < len {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

fn console_write(file: &File, data: &[u8]) -> SysResult {
    if let FileKind::Console { stream } = file.kind {
        if !data.is_empty() {
            crate::console::write_stream(stream, data);
        }
    }
    Ok(data.len() as u64)
}

/// Read into user memory at `buf`: at the file position (advancing it) or at `at`.
fn do_read(file: &File, buf: u64, len: usize, at: Option<u64>) -> SysResult {
    match &file.kind {
        FileKind::Console { .. } | FileKind::Counters | FileKind::Null => Ok(0),
        FileKind::Inode { dir: true, .. } => Err(EISDIR),
        FileKind::Inode { ino, dir: false } => {
            let mut done = 0usize;
            let mut pos = at.unwrap_or_else(|| file.pos.load(Ordering::Relaxed));
            let mut kbuf = vec![0u8; len.min(CHUNK)];
            let me = task();
            while done < len {
                if done > 0 {
                    cond_resched();
                }
                if fatal_signal_pending(&me) {
                    // Linux `filemap_read`: a fatal signal ends a long read.
                    if done == 0 {
                        return Err(EINTR);
                    }
                    break;
                }
                let want = (len - done).min(kbuf.len());
                let n = with_fs(|fs| fs.read_at(*ino, pos, &mut kbuf[..want]))?;
                if n == 0 {
                    break;
                }
                // A buffer that runs into a bad page gets the bytes before it
                // (the file position moves by those only); EFAULT if none.
                let copied = uaccess::write_bytes_partial(buf + done as u64, &kbuf[..n]);
                done += copied;
                pos += copied as u64;
                if copied < n {
                    if done == 0 {
                        return Err(EFAULT);
                    }
                    break;
                }
            }
            if at.is_none() {
                file.pos.store(pos, Ordering::Relaxed);
            }
            Ok(done as u64)
        }
        FileKind::PipeRead(pipe) => {
            // Peek, copy to the user, and only then take the bytes out of the
            // pipe: a read that faults leaves the data for the next reader
            // (Linux `pipe_read`). The pipe lock is held over the copy so that
            // no other reader takes the same bytes; a fault in it is only a
            // recovered EFAULT, never a sleep (user memory is resident or
            // missing, and the copy does not block).
            let mut kbuf = vec![0u8; len.min(crate::fs::pipe::PIPE_CAPACITY)];
            let mut fault = None;
            let n = pipe_wait(file, pipe, || {
                let mut p = pipe.lock();
                let o = p.peek(&mut kbuf);
                if let Outcome::Done(n) = o {
                    match uaccess::write_bytes(buf, &kbuf[..n]) {
                        Ok(()) => p.consume(n),
                        Err(e) => fault = Some(e),
                    }
                }
                o
            })?;
            match fault {
                Some(e) => Err(e),
                None => Ok(n as u64),
            }
        }
        FileKind::PipeWrite(_) => Err(EBADF),
        FileKind::Proc(pf) => {
            let pos = at.unwrap_or_else(|| file.pos.load(Ordering::Relaxed));
            let n = proc_read(pf, buf, len, pos)?;
            if at.is_none() {
                file.pos.store(pos + n as u64, Ordering::Relaxed);
            }
            Ok(n as u64)
        }
        FileKind::Cgroup(cf) => {
            let pos = at.unwrap_or_else(|| file.pos.load(Ordering::Relaxed));
            let n = cgroup_read(cf, buf, len, pos)?;
            if at.is_none() {
                file.pos.store(pos + n as u64, Ordering::Relaxed);
            }
            Ok(n as u64)
        }
        // Pseudo files without a read operation (Linux `vfs_read`: EINVAL).
        FileKind::Anon(_) => Err(EINVAL),
    }
}

/// Write from user memory at `buf`: at the file position (advancing it; O_APPEND
/// moves it to the end first) or at `at`.
fn do_write(file: &File, buf: u64, len: usize, at: Option<u64>) -> SysResult {
    match &file.kind {
        FileKind::Console { .. } => {
            let mut done = 0usize;
            let me = task();
            while done < len {
                if done > 0 {
                    cond_resched();
                }
                // As Linux's `tty_write` (a signal ends a long write): a
                // write of terabytes from a mapped area would otherwise hold
                // the task for hours, SIGKILL or not.
                if fatal_signal_pending(&me) {
                    return if done == 0 { Err(EINTR) } else { Ok(done as u64) };
                }
                let n = (len - done).min(CHUNK);
                // What was written stays written: a fault after the first
                // chunk ends the call with the count so far.
                let data = match uaccess::read_bytes(buf + done as u64, n) {
                    Ok(d) => d,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => return Ok(done as u64),
                };
                console_write(file, &data)?;
                done += n;
            }
            Ok(len as u64)
        }
        // Linux's write_null: the buffer is not even read.
        FileKind::Null => Ok(len as u64),
        FileKind::Counters => {
            let data = uaccess::read_bytes(buf, len.min(CHUNK))?;
            let (reset, label) = crate::counters::parse_device_command(&data).ok_or(EINVAL)?;
            crate::arch::hypercall::snapshot(label, reset)?;
            Ok(data.len() as u64)
        }
        FileKind::Inode { dir: true, .. } => Err(EISDIR),
        FileKind::Inode { ino, dir: false } => {
            let mut done = 0usize;
            let mut pos = match at {
                Some(p) => p,
                None if file.flags() & O_APPEND != 0 => with_fs(|fs| fs.stat(*ino))?.size,
                None => file.pos.load(Ordering::Relaxed),
            };
            let me = task();
            while done < len {
                if done > 0 {
                    cond_resched();
                }
                // Linux `generic_perform_write`: a fatal signal ends it.
                if fatal_signal_pending(&me) {
                    if done == 0 {
                        return Err(EINTR);
                    }
                    break;
                }
                let n = (len - done).min(CHUNK);
                // The bytes before a bad page are written (Linux
                // `generic_perform_write`); EFAULT if there are none.
                let data = match uaccess::read_bytes_partial(buf + done as u64, n) {
                    Ok(d) if d.is_empty() && done == 0 => return Err(EFAULT),
                    Ok(d) if d.is_empty() => break,
                    Ok(d) => d,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                };
                match with_fs(|fs| fs.write_at(*ino, pos, &data)) {
                    Ok(w) => {
                        done += w;
                        pos += w as u64;
                        if w < n {
                            break;
                        }
                    }
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
            }
            if at.is_none() {
                file.pos.store(pos, Ordering::Relaxed);
            }
            Ok(done as u64)
        }
        FileKind::PipeWrite(pipe) => {
            let data = uaccess::read_bytes(buf, len.min(crate::fs::pipe::PIPE_CAPACITY))?;
            let write = || pipe.lock().write(&data).unwrap_or(Outcome::Done(usize::MAX));
            match pipe_wait(file, pipe, write) {
                Ok(usize::MAX) => {
                    crate::process::signal::send_signal(&task(), crate::process::signal::SIGPIPE);
                    Err(EPIPE)
                }
                r => r.map(|n| n as u64),
            }
        }
        FileKind::PipeRead(_) => Err(EBADF),
        FileKind::Anon(_) => Err(EINVAL),
        // Written only where open_proc allowed it.
        FileKind::Proc(pf) => {
            let pos = at.unwrap_or_else(|| file.pos.load(Ordering::Relaxed));
            // Linux `map_write`: the offset and size before the copy.
            if pos != 0 || len >= 4096 {
                return Err(EINVAL);
            }
            let data = uaccess::read_bytes(buf, len)?;
            let ns = procfs::pid_ns_of(&pf.mnt.fs).ok_or(EINVAL)?;
            let n = procfs::write(&ns, &task(), pf.node, &data, pos)?;
            if at.is_none() {
                file.pos.store(pos + n as u64, Ordering::Relaxed);
            }
            Ok(n as u64)
        }
        FileKind::Cgroup(cf) => {
            let n = cgroup_write(cf, buf, len)?;
            if at.is_none() {
                file.pos.fetch_add(n, Ordering::Relaxed);
            }
            Ok(n)
        }
    }
}

/// Retry an operation on `pipe` until it can proceed (or EAGAIN when
/// non-blocking), sleeping on the pipe's wait queue.
fn pipe_wait(file: &File, pipe: &Pipe, mut op: impl FnMut() -> Outcome) -> Result<usize, Errno> {
    loop {
        match op() {
            Outcome::Done(n) => {
                pipe.wake_all();
                return Ok(n);
            }
            Outcome::WouldBlock if file.flags() & O_NONBLOCK != 0 => return Err(EAGAIN),
            Outcome::WouldBlock => {
                let mut result = None;
                crate::process::wait_event(Some(&pipe.wait), None, || {
                    match op() {
                        Outcome::Done(n) => result = Some(n),
                        Outcome::WouldBlock => {}
                    }
                    result.is_some()
                });
                if let Some(n) = result {
                    pipe.wake_all();
                    return Ok(n);
                }
                if crate::process::signal::signal_pending(&task()) {
                    return Err(crate::process::signal::ERESTARTSYS);
                }
            }
        }
    }
}

pub fn lseek(fd: i32, offset: i64, whence: u32) -> SysResult {
    let file = files().get(fd)?;
    let ino = match file.kind {
        FileKind::Inode { ino, .. } => Some(ino),
        // seq_lseek: SEEK_SET and SEEK_CUR only.
        FileKind::Proc(_) | FileKind::Cgroup(_) => None,
        _ => return Err(ESPIPE),
    };
    let base = match (whence, ino) {
        (SEEK_SET, _) => 0,
        (SEEK_CUR, _) => file.pos.load(Ordering::Relaxed) as i64,
        (SEEK_END, Some(ino)) => with_fs(|fs| fs.stat(ino))?.size as i64,
        _ => return Err(EINVAL),
    };
    let new = base.checked_add(offset).ok_or(EINVAL)?;
    if new < 0 {
        return Err(EINVAL);
    }
    file.pos.store(new as u64, Ordering::Relaxed);
    Ok(new as u64)
}

// ---- metadata ----------------------------------------------------------------

/// `st_dev` of every file on the RAM file system.
const ST_DEV: u64 = ramfs::RAM_DEV;

/// Linux x86-64 `struct stat` (144 bytes), with `st_dev` `dev`.
fn stat_bytes_dev(st: &Stat, dev: u64) -> [u8; 144] {
    let mut b = [0u8; 144];
    let mut put = |off: usize, v: u64, size: usize| {
        b[off..off + size].copy_from_slice(&v.to_le_bytes()[..size])
    };
    put(0, dev, 8);
    put(8, st.ino, 8);
    put(16, st.nlink as u64, 8);
    put(24, st.mode as u64, 4);
    put(28, st.uid as u64, 4);
    put(32, st.gid as u64, 4);
    put(40, st.rdev, 8);
    put(48, st.size, 8);
    put(56, st.blksize as u64, 8);
    put(64, st.blocks, 8);
    for (i, t) in [st.atime_ns, st.mtime_ns, st.ctime_ns].iter().enumerate() {
        put(72 + 16 * i, t / 1_000_000_000, 8);
        put(80 + 16 * i, t % 1_000_000_000, 8);
    }
    b
}

fn synthetic_stat(mode: u32, rdev: u64, ino: u64) -> Stat {
    Stat {
        ino,
        mode,
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev,
        size: 0,
        blksize: ramfs::BLKSIZE,
        blocks: 0,
        atime_ns: 0,
        mtime_ns: 0,
        ctime_ns: 0,
    }
}

fn file_stat(file: &File) -> Result<Stat, Errno> {
    match &file.kind {
        FileKind::Inode { ino, .. } => with_fs(|fs| fs.stat(*ino)),
        FileKind::Console { .. } => Ok(synthetic_stat(S_IFCHR | 0o620, CONSOLE_RDEV, 0x1000_0001)),
        FileKind::Counters => Ok(synthetic_stat(S_IFCHR | 0o600, COUNTERS_RDEV, 0x1000_0002)),
        FileKind::Null => Ok(synthetic_stat(S_IFCHR | 0o666, NULL_RDEV, 0x1000_0003)),
        FileKind::PipeRead(p) | FileKind::PipeWrite(p) => Ok(synthetic_stat(
            S_IFIFO | 0o600,
            0,
            0x2000_0000 + (Arc::as_ptr(p) as u64 & 0xfff_ffff),
        )),
        FileKind::Proc(pf) => procfs::fstat(pf),
        FileKind::Cgroup(cf) => Ok(crate::vfs::cgroup::stat_of(&open_cgroup_of(cf), cf.node)),
        FileKind::Anon(a) => {
            let (mode, ino) = a.stat();
            let mut st = synthetic_stat(mode, 0, ino);
            st.blksize = 4096;
            Ok(st)
        }
    }
}

pub fn fstat(fd: i32, buf: u64) -> SysResult {
    let file = files().get(fd)?;
    let st = file_stat(&file)?;
    uaccess::write_bytes(buf, &stat_bytes_dev(&st, file_dev(&file))).map(|_| 0)
}

/// `st_dev` of an open file.
fn file_dev(file: &File) -> u64 {
    match file.kind {
        FileKind::Proc(_) => crate::fs::proc::PROC_DEV,
        FileKind::Cgroup(_) => crate::fs::cgroupfs::CGROUP_DEV,
        _ => ST_DEV,
    }
}

/// `st_dev` of a place in the mount tree.
fn path_dev(p: &PathRef) -> u64 {
    match p.node {
        Node::Proc(_) => crate::fs::proc::PROC_DEV,
        Node::Cgroup(_) => crate::fs::cgroupfs::CGROUP_DEV,
        Node::Ram(_) => ST_DEV,
    }
}

pub fn newfstatat(dirfd: i32, path: u64, buf: u64, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800) != 0 {
        return Err(EINVAL);
    }
    let p = uaccess::read_cstr(path, ramfs::PATH_MAX - 1)?;
    let (st, dev) = if p.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(ENOENT);
        }
        if dirfd == AT_FDCWD {
            (with_fs(|fs| fs.stat(task().fs().cwd()))?, ST_DEV)
        } else {
            let file = files().get(dirfd)?;
            (file_stat(&file)?, file_dev(&file))
        }
    } else {
        let start = start_path(dirfd, &p)?;
        let s = path_str(&p)?;
        let found = namei::lookup(&task(), start, s, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        (namei::stat(&found)?, path_dev(&found))
    };
    uaccess::write_bytes(buf, &stat_bytes_dev(&st, dev)).map(|_| 0)
}

// ---- attributes: chmod, chown, truncate, statfs ---------------------------------

/// The caller's file-system credentials (the effective ids here).
fn fs_cred() -> attr::FsCred {
    let c = task().creds();
    attr::FsCred { fsuid: c.euid, fsgid: c.egid }
}

fn owner_of(st: &Stat) -> attr::Owner {
    attr::Owner { mode: st.mode, uid: st.uid, gid: st.gid }
}

/// The inode `path` names at `dirfd`, or with AT_EMPTY_PATH and an empty path
/// the one `dirfd` refers to (the working directory for AT_FDCWD); `Ok(None)`
/// for a descriptor without an inode here (a pipe, a device file).
fn inode_at(dirfd: i32, path: u64, flags: u32) -> Result<Option<Ino>, Errno> {
    let p = uaccess::read_cstr(path, ramfs::PATH_MAX - 1)?;
    if p.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(ENOENT);
        }
        if dirfd == AT_FDCWD {
            return Ok(Some(task().fs().cwd()));
        }
        return match files().get(dirfd)?.kind {
            FileKind::Inode { ino, .. } => Ok(Some(ino)),
            _ => Ok(None),
        };
    }
    let start = start_dir(dirfd, &p)?;
    with_fs(|fs| fs.lookup(start, path_str(&p)?)).map(Some)
}

/// `fchmodat(dirfd, path, mode)` (and `fchmodat2` with its flags, `chmod`):
/// Linux `chmod_common` — the owner or a capable caller; the set-group-ID bit
/// only for a member of the file's group (or a capable caller).
pub fn fchmodat(dirfd: i32, path: u64, mode: u32, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    match inode_at(dirfd, path, flags)? {
        Some(ino) => chmod_inode(ino, mode),
        None => Ok(0),
    }
}

pub fn fchmod(fd: i32, mode: u32) -> SysResult {
    match files().get(fd)?.kind {
        FileKind::Inode { ino, .. } => chmod_inode(ino, mode),
        // Devices and pipes have no inode here that keeps a mode.
        _ => Ok(0),
    }
}

fn chmod_inode(ino: Ino, mode: u32) -> SysResult {
    let cred = fs_cred();
    with_fs(|fs| {
        let new = attr::chmod(owner_of(&fs.stat(ino)?), cred, mode)?;
        fs.chmod(ino, new)
    })
    .map(|_| 0)
}

/// `fchownat(dirfd, path, uid, gid, flags)` (and `chown`, `lchown`): Linux
/// `chown_common`; -1 leaves an id as it is. There are no symbolic links here,
/// so AT_SYMLINK_NOFOLLOW changes nothing.
pub fn fchownat(dirfd: i32, path: u64, uid: u32, gid: u32, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    match inode_at(dirfd, path, flags)? {
        Some(ino) => chown_inode(ino, uid, gid),
        None => Ok(0),
    }
}

pub fn fchown(fd: i32, uid: u32, gid: u32) -> SysResult {
    match files().get(fd)?.kind {
        FileKind::Inode { ino, .. } => chown_inode(ino, uid, gid),
        _ => Ok(0),
    }
}

fn chown_inode(ino: Ino, uid: u32, gid: u32) -> SysResult {
    let cred = fs_cred();
    let uid = (uid != u32::MAX).then_some(uid);
    let gid = (gid != u32::MAX).then_some(gid);
    with_fs(|fs| {
        let cur = owner_of(&fs.stat(ino)?);
        let new = attr::chown(cur, cred, uid, gid)?;
        fs.chown(ino, uid, gid)?;
        if new.mode != cur.mode {
            fs.chmod(ino, new.mode)?;
        }
        Ok(())
    })
    .map(|_| 0)
}

/// Linux `do_truncate` on a regular file the caller may write: the new size
/// (zeros when it grows), and the set-ID bits a caller without CAP_FSETID loses.
fn truncate_inode(ino: Ino, len: u64, cred: attr::FsCred) -> Result<(), Errno> {
    with_fs(|fs| {
        let cur = owner_of(&fs.stat(ino)?);
        fs.truncate(ino, len)?;
        let mode = attr::truncate_mode(cur, cred);
        if mode != cur.mode {
            fs.chmod(ino, mode)?;
        }
        Ok(())
    })?;
    unmap_truncated(ino);
    Ok(())
}

/// `truncate(path, length)` (Linux `do_sys_truncate`, `vfs_truncate`).
pub fn truncate(path: u64, len: i64) -> SysResult {
    if len < 0 {
        return Err(EINVAL);
    }
    let p = read_path(path)?;
    let start = start_dir(AT_FDCWD, &p)?;
    let cred = fs_cred();
    let (ino, st) = with_fs(|fs| {
        let ino = fs.lookup(start, path_str(&p)?)?;
        Ok::<_, Errno>((ino, fs.stat(ino)?))
    })?;
    if st.is_dir() {
        return Err(EISDIR);
    }
    if !st.is_reg() {
        return Err(EINVAL);
    }
    if !attr::may_write(owner_of(&st), cred) {
        return Err(EACCES);
    }
    // A writer for the truncation (Linux `vfs_truncate`): ETXTBSY while a
    // process runs the file.
    with_fs(|fs| fs.get_write_access(ino))?;
    let r = truncate_inode(ino, len as u64, cred);
    with_fs(|fs| fs.put_write_access(ino));
    r.map(|_| 0)
}

/// `ftruncate(fd, length)` (Linux `do_sys_ftruncate`): a regular file open
/// for writing, else EINVAL.
pub fn ftruncate(fd: i32, len: i64) -> SysResult {
    if len < 0 {
        return Err(EINVAL);
    }
    let file = files().get(fd)?;
    match file.kind {
        FileKind::Inode { ino, dir: false } if file.writable() => {
            truncate_inode(ino, len as u64, fs_cred()).map(|_| 0)
        }
        _ => Err(EINVAL),
    }
}

/// The RAM file system's `struct statfs`, as Linux's tmpfs fills it
/// (`shmem_statfs`): 4 KiB blocks; the size limit is the capacity (half the
/// guest's memory, tmpfs's default), the free blocks what is left of it but at
/// most what the frame allocator has free; as many inodes as blocks (tmpfs's
/// default `nr_inodes` is half the RAM pages too).
fn ramfs_statfs() -> uapi::statfs::statfs {
    use uapi::statfs::{ST_VALID, TMPFS_MAGIC};
    let (capacity, used, inodes) =
        with_fs(|fs| (fs.capacity(), fs.used_blocks(), fs.inode_count() as u64));
    let bsize = u64::from(ramfs::BLKSIZE);
    let blocks = capacity / bsize;
    let frames_free = crate::counters::global_get(crate::counters::FRAMES_FREE);
    let free = blocks.saturating_sub(used).min(frames_free);
    uapi::statfs::statfs {
        f_type: TMPFS_MAGIC as i64,
        f_bsize: bsize as i64,
        f_blocks: blocks,
        f_bfree: free,
        f_bavail: free,
        f_files: blocks,
        f_ffree: blocks.saturating_sub(inodes),
        // st_dev's number (huge_encode_dev), as file systems without a uuid.
        f_fsid: [ST_DEV as i32, 0],
        f_namelen: ramfs::NAME_MAX as i64,
        f_frsize: bsize as i64,
        // The root file system is mounted without options (Linux's rootfs).
        f_flags: ST_VALID as i64,
        f_spare: [0; 4],
    }
}

fn statfs_bytes(s: &uapi::statfs::statfs) -> [u8; 120] {
    let mut b = [0u8; 120];
    let words = [
        s.f_type as u64,
        s.f_bsize as u64,
        s.f_blocks,
        s.f_bfree,
        s.f_bavail,
        s.f_files,
        s.f_ffree,
        (s.f_fsid[0] as u32 as u64) | ((s.f_fsid[1] as u32 as u64) << 32),
        s.f_namelen as u64,
        s.f_frsize as u64,
        s.f_flags as u64,
    ];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// `statfs(path, buf)`: the file system `path` is on (the RAM file system).
pub fn statfs(path: u64, buf: u64) -> SysResult {
    let p = read_path(path)?;
    let start = start_path(AT_FDCWD, &p)?;
    let found = namei::lookup(&task(), start, path_str(&p)?, true)?;
    let st = match found.node {
        Node::Proc(_) => proc_statfs(),
        Node::Cgroup(_) => cgroup_statfs(),
        Node::Ram(_) => ramfs_statfs(),
    };
    uaccess::write_bytes(buf, &statfs_bytes(&st)).map(|_| 0)
}

/// cgroup2's `struct statfs` (Linux `simple_statfs` of its kernfs super
/// block; mounted "rw,relatime" here).
fn cgroup_statfs() -> uapi::statfs::statfs {
    uapi::statfs::statfs { f_type: uapi::statfs::CGROUP2_SUPER_MAGIC as i64, ..proc_statfs() }
}

/// proc's `struct statfs` (Linux `simple_statfs` of proc's super block).
fn proc_statfs() -> uapi::statfs::statfs {
    uapi::statfs::statfs {
        f_type: uapi::statfs::PROC_SUPER_MAGIC as i64,
        f_bsize: 4096,
        f_namelen: 255,
        f_frsize: 4096,
        f_flags: (uapi::statfs::ST_VALID | uapi::statfs::ST_RELATIME) as i64,
        ..Default::default()
    }
}

/// `fstatfs(fd, buf)`: a pipe is on Linux's pipefs; everything else is on the
/// RAM file system (device files included: Linux's devtmpfs is tmpfs too).
pub fn fstatfs(fd: i32, buf: u64) -> SysResult {
    let file = files().get(fd)?;
    let st = match file.kind {
        FileKind::PipeRead(_) | FileKind::PipeWrite(_) => uapi::statfs::statfs {
            f_type: uapi::statfs::PIPEFS_MAGIC as i64,
            f_bsize: i64::from(ramfs::BLKSIZE),
            f_namelen: ramfs::NAME_MAX as i64,
            f_frsize: i64::from(ramfs::BLKSIZE),
            f_flags: uapi::statfs::ST_VALID as i64,
            ..Default::default()
        },
        FileKind::Anon(ref a) => uapi::statfs::statfs {
            f_type: a.fs_magic() as i64,
            f_bsize: 4096,
            f_namelen: 255,
            f_frsize: 4096,
            f_flags: uapi::statfs::ST_VALID as i64,
            ..Default::default()
        },
        FileKind::Proc(_) => proc_statfs(),
        FileKind::Cgroup(_) => cgroup_statfs(),
        _ => ramfs_statfs(),
    };
    uaccess::write_bytes(buf, &statfs_bytes(&st)).map(|_| 0)
}

use uapi::poll::{POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM};

/// What `file` is ready for now (Linux's `f_op->poll` masks): files and
/// devices always; a pipe's read end when it holds data (POLLHUP once no
/// writer is left), its write end when there is room (POLLERR once no reader
/// is left).
fn poll_mask(file: &File) -> i16 {
    const ALWAYS: i16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
    match &file.kind {
        FileKind::PipeRead(p) => {
            let p = p.lock();
            let data = if p.is_empty() { 0 } else { POLLIN | POLLRDNORM };
            data | if p.writers == 0 { POLLHUP } else { 0 }
        }
        FileKind::PipeWrite(p) => {
            let p = p.lock();
            let room = p.len() < crate::fs::pipe::PIPE_CAPACITY;
            let out = if room { POLLOUT | POLLWRNORM } else { 0 };
            out | if p.readers == 0 { POLLERR } else { 0 }
        }
        FileKind::Anon(a) => a.poll(),
        _ => ALWAYS,
    }
}

/// `poll(fds, nfds, timeout_ms)`: fill each `struct pollfd`'s revents and
/// return how many are non-zero, waiting (for pipes) up to the timeout; a
/// negative timeout waits without end.
pub fn poll(fds: u64, nfds: u64, timeout_ms: i32) -> SysResult {
    let deadline = (timeout_ms >= 0)
        .then(|| crate::time::monotonic_ns().saturating_add(timeout_ms as u64 * 1_000_000));
    do_poll(fds, nfds, deadline)
}

/// `ppoll(fds, nfds, tmo_p, sigmask, sigsetsize)`: `poll` with a timespec
/// timeout (NULL: none; the time left is written back, as Linux does) and a
/// signal mask in force while it waits (Linux `do_sys_poll` with
/// `set_user_sigmask`): interrupted, the mask stays until the handler has
/// run (as `rt_sigsuspend`'s).
pub fn ppoll(fds: u64, nfds: u64, tmo: u64, sigmask: u64, sigsetsize: u64) -> SysResult {
    use crate::process::signal::{ERESTARTNOHAND, UNBLOCKABLE};
    let now = crate::time::monotonic_ns();
    let deadline = if tmo == 0 {
        None
    } else {
        let [sec, nsec] = uaccess::read_u64s::<2>(tmo)?;
        if (sec as i64) < 0 || nsec >= 1_000_000_000 {
            return Err(EINVAL);
        }
        Some(now.saturating_add(sec.saturating_mul(1_000_000_000)).saturating_add(nsec))
    };
    let t = task();
    let old = if sigmask != 0 {
        if sigsetsize != 8 {
            return Err(EINVAL);
        }
        let mask = uaccess::read_u64s::<1>(sigmask)?[0] & !UNBLOCKABLE;
        let old = t.blocked.load(Ordering::Relaxed);
        crate::process::signal::set_current_blocked(&t, mask);
        Some(old)
    } else {
        None
    };
    let r = do_poll(fds, nfds, deadline);
    if let Some(old) = old {
        if r == Err(ERESTARTNOHAND) {
            t.saved_sigmask.store(old, Ordering::Relaxed);
            t.restore_sigmask.store(true, Ordering::Relaxed);
        } else {
            crate::process::signal::set_current_blocked(&t, old);
        }
    }
    if let (Some(d), true) = (deadline, r.is_ok() || r == Err(ERESTARTNOHAND)) {
        let left = d.saturating_sub(crate::time::monotonic_ns());
        uaccess::write_u64s(tmo, &[left / 1_000_000_000, left % 1_000_000_000])?;
    }
    r
}

/// `poll`'s work until `deadline` (monotonic ns; None: no limit).
fn do_poll(fds: u64, nfds: u64, deadline: Option<u64>) -> SysResult {
    let t = task();
    if nfds > nofile_limit(&t) {
        return Err(EINVAL);
    }
    let n = nfds as usize;
    let mut raw = uaccess::read_bytes(fds, n * 8)?;
    // struct pollfd (uapi::poll::pollfd): fd, events, revents.
    let entries: Vec<(i32, i16)> = raw
        .chunks_exact(8)
        .map(|c| (i32::from_le_bytes([c[0], c[1], c[2], c[3]]), i16::from_le_bytes([c[4], c[5]])))
        .collect();
    let table = t.files();
    let scan = |raw: &mut [u8]| -> u64 {
        let mut ready = 0;
        for (i, &(fd, events)) in entries.iter().enumerate() {
            let revents = if fd < 0 {
                0
            } else {
                match table.get(fd) {
                    Ok(f) => poll_mask(&f) & (events | POLLERR | POLLHUP),
                    Err(_) => POLLNVAL,
                }
            };
            raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&revents.to_le_bytes());
            ready += (revents != 0) as u64;
        }
        ready
    };
    loop {
        let ready = scan(&mut raw);
        let expired = deadline.is_some_and(|d| crate::time::monotonic_ns() >= d);
        if ready > 0 || expired {
            uaccess::write_bytes(fds, &raw)?;
            return Ok(ready);
        }
        if crate::process::signal::signal_pending(&t) {
            return Err(crate::process::signal::ERESTARTNOHAND);
        }
        // Sleep on the wait queue of every pipe and pseudo file polled
        // (other files are always ready, so there are only those here).
        let files: Vec<Arc<File>> = entries
            .iter()
            .filter_map(|&(fd, _)| table.get(fd).ok())
            .filter(|f| {
                matches!(f.kind, FileKind::PipeRead(_) | FileKind::PipeWrite(_) | FileKind::Anon(_))
            })
            .collect();
        let queues: Vec<&crate::sched::WaitQueue> = files
            .iter()
            .filter_map(|f| match &f.kind {
                FileKind::PipeRead(p) | FileKind::PipeWrite(p) => Some(&p.wait),
                FileKind::Anon(a) => Some(a.wait_queue()),
                _ => None,
            })
            .collect();
        let mut probe = raw.clone();
        crate::process::wait_event_any(&queues, deadline, || scan(&mut probe) > 0);
    }
}

/// `readlinkat`: proc's links (`/proc/self`, ...) give their target
/// (truncated to `bufsiz`, no NUL); anything else that exists is EINVAL
/// (not a link), a missing path the lookup's error, as Linux.
pub fn readlinkat(dirfd: i32, path: u64, buf: u64, bufsiz: i32) -> SysResult {
    if bufsiz <= 0 {
        return Err(EINVAL);
    }
    let p = read_path(path)?;
    let start = start_path(dirfd, &p)?;
    let t = task();
    let found = namei::lookup(&t, start, path_str(&p)?, false)?;
    let target = namei::readlink(&t, &found)?;
    let n = target.len().min(bufsiz as usize);
    uaccess::write_bytes(buf, &target.as_bytes()[..n])?;
    Ok(n as u64)
}

pub fn faccessat(dirfd: i32, path: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let p = read_path(path)?;
    let start = start_path(dirfd, &p)?;
    let found = namei::lookup(&task(), start, path_str(&p)?, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    let st = namei::stat(&found)?;
    let c = task().creds();
    let uid = if flags & AT_EACCESS != 0 { c.euid } else { c.uid };
    let gid = if flags & AT_EACCESS != 0 { c.egid } else { c.gid };
    let perm = if uid == 0 {
        // Root may read and write anything, and execute what anyone may.
        6 | if st.mode & 0o111 != 0 || st.is_dir() { 1 } else { 0 }
    } else if uid == st.uid {
        (st.mode >> 6) & 7
    } else if gid == st.gid {
        (st.mode >> 3) & 7
    } else {
        st.mode & 7
    };
    if mode & !perm != 0 {
        Err(EACCES)
    } else {
        Ok(0)
    }
}

pub fn getdents64(fd: i32, buf: u64, count: usize) -> SysResult {
    let file = files().get(fd)?;
    let ino = match &file.kind {
        FileKind::Inode { ino, dir: true } => *ino,
        FileKind::Proc(pf) if pf.node.is_dir() => return proc_getdents(&file, pf, buf, count),
        FileKind::Cgroup(cf) if cf.node.is_dir() => return cgroup_getdents(&file, cf, buf, count),
        _ => return Err(ENOTDIR),
    };
    let mut out = Vec::new();
    let mut cookie = file.pos.load(Ordering::Relaxed);
    while let Some(e) = with_fs(|fs| fs.readdir(ino, cookie))? {
        if !put_dirent(&mut out, count, e.ino, e.next_cookie, e.d_type, &e.name) {
            if out.is_empty() {
                return Err(EINVAL);
            }
            break;
        }
        cookie = e.next_cookie;
    }
    uaccess::write_bytes(buf, &out)?;
    file.pos.store(cookie, Ordering::Relaxed);
    Ok(out.len() as u64)
}

/// One `struct linux_dirent64` (d_ino, d_off, d_reclen, d_type, d_name with
/// its NUL, 8-aligned) appended to `out` if it fits in `count`.
fn put_dirent(out: &mut Vec<u8>, count: usize, ino: u64, off: u64, d_type: u8, name: &str) -> bool {
    let reclen = (19 + name.len() + 1).next_multiple_of(8);
    if out.len() + reclen > count {
        return false;
    }
    let at = out.len();
    out.resize(at + reclen, 0);
    out[at..at + 8].copy_from_slice(&ino.to_le_bytes());
    out[at + 8..at + 16].copy_from_slice(&off.to_le_bytes());
    out[at + 16..at + 18].copy_from_slice(&(reclen as u16).to_le_bytes());
    out[at + 18] = d_type;
    out[at + 19..at + 19 + name.len()].copy_from_slice(name.as_bytes());
    true
}

/// getdents64 of a directory made up as it is read (proc, cgroup2): `.`
/// (inode `dot`), `..` (inode `dotdot`), then `entry(0)`, `entry(1)`, ...
/// as (inode, type, name) until None; the offset counts entries.
fn synthetic_getdents<'a>(
    file: &File,
    buf: u64,
    count: usize,
    (dot, dotdot): (u64, u64),
    entry: impl Fn(usize) -> Option<(u64, u8, &'a str)>,
) -> SysResult {
    let mut pos = file.pos.load(Ordering::Relaxed);
    let mut out = Vec::new();
    loop {
        let (ino, d_type, name) = match pos {
            0 => (dot, uapi::dirent::DT_DIR, "."),
            1 => (dotdot, uapi::dirent::DT_DIR, ".."),
            n => match entry(n as usize - 2) {
                Some(e) => e,
                None => break,
            },
        };
        if !put_dirent(&mut out, count, ino, pos + 1, d_type, name) {
            if out.is_empty() {
                return Err(EINVAL);
            }
            break;
        }
        pos += 1;
    }
    uaccess::write_bytes(buf, &out)?;
    file.pos.store(pos, Ordering::Relaxed);
    Ok(out.len() as u64)
}

/// getdents64 of a proc directory: its entries as listed now.
fn proc_getdents(file: &File, pf: &ProcFile, buf: u64, count: usize) -> SysResult {
    let pid_ns = procfs::pid_ns_of(&pf.mnt.fs).ok_or(ENOTDIR)?;
    let entries = procfs::readdir(&pid_ns, pf.node)?;
    let dots = (pf.node.ino(), pf.node.parent().ino());
    synthetic_getdents(file, buf, count, dots, |i| {
        entries.get(i).map(|e| (e.node.ino(), e.node.d_type(), e.name.as_str()))
    })
}

/// getdents64 of a cgroup2 directory: its children and files in kernfs's
/// order.
fn cgroup_getdents(file: &File, cf: &CgroupOpenFile, buf: u64, count: usize) -> SysResult {
    let cg = open_cgroup_of(cf);
    let entries = if cg.is_dead() { Vec::new() } else { crate::vfs::cgroup::readdir(&cg) };
    let dots = (cf.node.ino(), crate::vfs::cgroup::parent(cf.node).ino());
    synthetic_getdents(file, buf, count, dots, |i| {
        entries.get(i).map(|(name, node)| {
            let t = if node.is_dir() { uapi::dirent::DT_DIR } else { uapi::dirent::DT_REG };
            (node.ino(), t, name.as_str())
        })
    })
}

// ---- mounts -----------------------------------------------------------------

/// `mount(source, target, fstype, flags, data)` (Linux `do_mount`): a new
/// mount of `proc` (the only file system type that can be mounted besides
/// the root's). Errors in Linux's order: EFAULT for the strings, the
/// target's lookup (ENOENT, ENOTDIR), EPERM without root, EINVAL for a
/// remount, bind, move or propagation change (not implemented) or no type,
/// ENODEV for an unknown type; ENOTDIR for a target that is not a directory.
pub fn mount(source: u64, target: u64, fstype: u64, flags: u64, _data: u64) -> SysResult {
    use uapi::mount::{MS_MGC_MSK, MS_MGC_VAL};
    let fstype = if fstype == 0 { None } else { Some(uaccess::read_cstr(fstype, 4095)?) };
    let source = if source == 0 { None } else { Some(uaccess::read_cstr(source, 4095)?) };
    let p = read_path(target)?;
    let t = task();
    let start = start_path(AT_FDCWD, &p)?;
    let at = namei::lookup(&t, start, path_str(&p)?, true)?;
    if t.creds().euid != 0 {
        return Err(EPERM);
    }
    let mut flags = flags;
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags &= !MS_MGC_MSK;
    }
    if flags & crate::fs::namespace::MS_OTHER_OPS != 0 {
        return Err(EINVAL);
    }
    if flags & uapi::mount::MS_PRIVATE != 0 {
        // Linux `do_change_type` to private: on a mount's root only; every
        // mount is private here already (no propagation).
        crate::fs::namespace::check_change_type(flags)?;
        if !namei::is_mount_root(&at) {
            return Err(EINVAL);
        }
        return Ok(0);
    }
    let fs = match fstype.as_deref() {
        None => return Err(EINVAL),
        Some(b"proc") => procfs::proc_fs_type(t.pid_ns()),
        Some(b"cgroup2") => crate::fs::namespace::FsType::Cgroup2,
        Some(_) => return Err(ENODEV),
    };
    if !namei::is_dir(&at)? {
        return Err(ENOTDIR);
    }
    if matches!(at.node, Node::Proc(_) | Node::Cgroup(_)) {
        // Mounts on proc's or cgroup2's own directories are not supported.
        return Err(EINVAL);
    }
    let source = source.as_deref().map(|s| alloc::string::String::from_utf8_lossy(s).into_owned());
    let ns = namei::mnt_ns_of(&t);
    let mut table = ns.table.lock();
    table
        .add(
            at.mnt.id,
            at.ino(),
            fs,
            source.as_deref().unwrap_or("none"),
            flags & crate::fs::namespace::MS_NEW_MOUNT_FLAGS,
        )
        .map(|_| 0)
}

/// `umount2(target, flags)` (Linux `ksys_umount`, `path_umount`): EINVAL
/// for bad flags, the lookup's errors, EPERM without root, EINVAL when the
/// target is not the root of a mount, EBUSY when the mount is in use (an
/// open file, a mount on it) or is the root. MNT_DETACH is not implemented
/// (a busy mount stays, EBUSY); MNT_FORCE and MNT_EXPIRE act as 0.
pub fn umount2(target: u64, flags: u32) -> SysResult {
    crate::fs::namespace::check_umount_flags(flags)?;
    let p = read_path(target)?;
    let t = task();
    let start = start_path(AT_FDCWD, &p)?;
    let follow = flags & uapi::mount::UMOUNT_NOFOLLOW == 0;
    let at = namei::lookup(&t, start, path_str(&p)?, follow)?;
    if t.creds().euid != 0 {
        return Err(EPERM);
    }
    if at.node != namei::root_node(&at.mnt.fs) {
        return Err(EINVAL);
    }
    let ns = namei::mnt_ns_of(&t);
    let id = at.mnt.id;
    let mut table = ns.table.lock();
    // The lookup's reference is the caller's own.
    table.umount(id, 1).map(|_| 0)
}

// ---- namespace -------------------------------------------------------------

/// The cgroup directory the last component of `p` at `dirfd` is in, and
/// that component, if it is on a cgroup2 mount.
fn cgroup_parent(
    dirfd: i32,
    p: &[u8],
) -> Result<Option<(Arc<crate::process::cgroup::Cgroup>, alloc::string::String)>, Errno> {
    let start = start_path(dirfd, p)?;
    match namei::parent(&task(), start, path_str(p)?) {
        Ok((PathRef { node: Node::Cgroup(CgroupNode::Dir(id)), .. }, name)) => {
            let cg = crate::process::cgroup::kernel::find(id).ok_or(ENOENT)?;
            Ok(Some((cg, name)))
        }
        _ => Ok(None),
    }
}

pub fn mkdirat(dirfd: i32, path: u64, mode: u32) -> SysResult {
    let p = read_path(path)?;
    if let Some((cg, name)) = cgroup_parent(dirfd, &p)? {
        if name == "." || name == ".." {
            return Err(EEXIST);
        }
        let t = task();
        let umask = t.fs().umask.load(Ordering::Relaxed);
        return crate::process::cgroup::kernel::mkdir(&t, &cg, &name, mode & 0o777 & !umask)
            .map(|_| 0);
    }
    let start = start_dir(dirfd, &p)?;
    let t = task();
    let umask = t.fs().umask.load(Ordering::Relaxed);
    let creds = t.creds();
    with_fs(|fs| {
        let (parent, name) = fs.lookup_parent(start, path_str(&p)?)?;
        let ino = fs.mkdir(parent, &name, mode & 0o7777 & !umask)?;
        fs.chown(ino, Some(creds.euid), Some(creds.egid))
    })
    .map(|_| 0)
}

pub fn unlinkat(dirfd: i32, path: u64, flags: u32) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(EINVAL);
    }
    let p = read_path(path)?;
    if let Some((cg, name)) = cgroup_parent(dirfd, &p)? {
        use crate::process::cgroup::kernel;
        return match (flags & AT_REMOVEDIR != 0, name.as_str()) {
            (true, ".") => Err(EINVAL),
            (true, "..") => Err(ENOTEMPTY),
            (true, name) => kernel::rmdir(&task(), &cg, name),
            (false, "." | "..") => Err(EISDIR),
            (false, name) => kernel::unlink(&cg, name),
        }
        .map(|_| 0);
    }
    let start = start_dir(dirfd, &p)?;
    with_fs(|fs| {
        let (parent, name) = fs.lookup_parent(start, path_str(&p)?)?;
        if flags & AT_REMOVEDIR != 0 {
            fs.rmdir(parent, &name)
        } else {
            fs.unlink(parent, &name)
        }
    })
    .map(|_| 0)
}

pub fn getcwd(buf: u64, size: usize) -> SysResult {
    let t = task();
    let fs = t.fs();
    let mut path = match fs.cwd_proc() {
        Some(pf) => {
            let ns = namei::mnt_ns_of(&t);
            let pid_ns = procfs::pid_ns_of(&pf.mnt.fs).ok_or(EINVAL)?;
            let base = namei::mount_path(&ns, &pf.mnt);
            let rel = procfs::node_path(&pid_ns, pf.node);
            if rel.is_empty() {
                base
            } else {
                alloc::format!("{}{rel}", base.trim_end_matches('/'))
            }
            .into_bytes()
        }
        None => with_fs(|f| f.path_of(fs.cwd()))?.into_bytes(),
    };
    path.push(0);
    if size < path.len() {
        return Err(ERANGE);
    }
    uaccess::write_bytes(buf, &path).map(|_| path.len() as u64)
}

pub fn chdir(path: u64) -> SysResult {
    let p = read_path(path)?;
    let start = start_path(AT_FDCWD, &p)?;
    let found = namei::lookup(&task(), start, path_str(&p)?, true)?;
    if !namei::is_dir(&found)? {
        return Err(ENOTDIR);
    }
    let ino = match found.node {
        Node::Ram(ino) => ino,
        Node::Proc(node) => {
            // Held by the mount (busy while it is a working directory).
            task().fs().set_cwd_proc(Arc::new(ProcFile::new(found.mnt.clone(), node)));
            return Ok(0);
        }
        // A working directory on a cgroup2 mount is not implemented.
        Node::Cgroup(_) => return Err(EOPNOTSUPP),
    };
    // The working directory holds a reference on its inode (see FsStruct).
    let ino = with_fs(|fs| {
        if !fs.stat(ino)?.is_dir() {
            return Err(ENOTDIR);
        }
        fs.open_inc(ino)?;
        Ok(ino)
    })?;
    task().fs().set_cwd_acquired(ino);
    Ok(0)
}

pub fn pipe2(fds: u64, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK | 0o40000) != 0 {
        return Err(EINVAL);
    }
    let t = task();
    let files = t.files();
    let state = Arc::new(Pipe::new());
    let status = flags & O_NONBLOCK;
    let r = File::new(FileKind::PipeRead(state.clone()), O_RDONLY | status);
    let w = File::new(FileKind::PipeWrite(state), O_WRONLY | status);
    let cloexec = flags & O_CLOEXEC != 0;
    let limit = nofile_limit(&t);
    let rfd = files.alloc(0, r, cloexec, limit)?;
    let wfd = match files.alloc(0, w, cloexec, limit) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = files.close(rfd);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_le_bytes());
    out[4..].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = uaccess::write_bytes(fds, &out) {
        let _ = files.close(rfd);
        let _ = files.close(wfd);
        return Err(e);
    }
    Ok(0)
}
