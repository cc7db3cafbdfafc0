//! The RAM file system: the pure data-structure layer under the file system calls.
//!
//! A [`RamFs`] is an arena of inodes (regular files, directories, character
//! devices) keyed by inode number, with Linux's semantics and errno values for
//! every operation (tmpfs is the model). It knows nothing about processes, file
//! descriptors, user memory or locking: the system-call layer keeps one `RamFs`
//! behind a lock and builds `openat`, `read`, `getdents64`, ... on this API.
//!
//! # Conventions
//!
//! - Inode numbers are never reused, so a stale [`Ino`] is detected (`ENOENT`)
//!   rather than aliasing a new file. The root is [`ROOT_INO`].
//! - There are no permission checks (`EACCES` is never returned): the caller does
//!   them, if it wants, from [`Stat::mode`], `uid` and `gid`. New inodes belong to
//!   uid 0 / gid 0; the caller `chown`s them to the creating process's ids.
//! - Timestamps are nanoseconds since the epoch taken from a clock the caller sets
//!   with [`RamFs::set_time`] before each operation (it is 0 until set). Each
//!   operation changes the times Linux changes; reads never change `atime` (as if
//!   mounted `noatime`).
//! - Names are the last component as [`RamFs::lookup_parent`] returns it: a plain
//!   name, the same followed by `/` when the path ended in slashes (the path then
//!   names a directory), `.`, `..`, or `/` for the root itself. Operations taking a
//!   name give Linux's errno for each form, e.g. `mkdir(".")` → `EEXIST`,
//!   `unlink(".")` → `EISDIR`, `rmdir(".")` → `EINVAL`, `rmdir("..")` →
//!   `ENOTEMPTY`, `rmdir("/")` → `EBUSY`, `unlink("file/")` → `ENOTDIR`.
//! - Capacity: the bytes of all regular files (including unlinked files still
//!   open) are limited to the capacity given to [`RamFs::new`]; a write that does
//!   not fit is short, and one that cannot write a single byte fails with `ENOSPC`.
//!   Files are stored densely (a hole written past the end is zero-filled and
//!   counted), so `truncate` growing a file also needs the space (`ENOSPC`).
//!
//! # Building the system calls on it
//!
//! - `openat(dirfd, path, flags, mode)`: without `O_CREAT`, `lookup(dir, path)`.
//!   With `O_CREAT`: `(parent, name) = lookup_parent(dir, path)`, then
//!   `create(parent, &name, mode & !umask)`. With `O_EXCL` its error is the answer
//!   (`EEXIST`, or `EISDIR` for a trailing slash). Without `O_EXCL`, on `EEXIST`
//!   use `lookup(parent, &name)` instead, and fail with `EISDIR` if that is a
//!   directory. Then: `O_DIRECTORY` on a non-directory → `ENOTDIR`; write access
//!   (`O_WRONLY`/`O_RDWR`) or `O_TRUNC` on a directory → `EISDIR`; `O_TRUNC` on a
//!   regular file → `truncate(ino, 0)` (not on a newly created one: already
//!   empty); then `open_inc(ino)`, and `close_dec(ino)` when the open file
//!   description goes away. Count a process's cwd as open too.
//! - `read`/`write`/`pread64`/`pwrite64`: [`RamFs::read_at`], [`RamFs::write_at`]
//!   at the file offset, which the caller advances by the count returned.
//!   `O_APPEND`: under the same lock, `offset = stat(ino).size`, write there, set
//!   the file offset to `offset + n`. Character devices (`/dev/console`) are the
//!   caller's to route by [`Stat::rdev`]; here they answer `ENXIO`.
//! - `lseek`: `SEEK_END` is relative to `stat(ino).size`; on a directory, any
//!   offset returned as a `next_cookie` (or 0) is a valid position.
//! - `getdents64(fd)`: keep the fd's offset as a cookie, starting at 0. Repeat
//!   `readdir(ino, cookie)`: for `Some(e)`, emit a `linux_dirent64` with `d_ino =
//!   e.ino`, `d_off = e.next_cookie`, `d_type = e.d_type`, `d_name = e.name`; if it
//!   does not fit in the user buffer, stop (`EINVAL` if it is the first one) and
//!   keep the cookie; otherwise `cookie = e.next_cookie`. `None` is the end.
//!   Entries come as `.`, `..`, then in creation order (like tmpfs since Linux
//!   6.6): a cookie stays valid whatever is added or removed in between; entries
//!   created after the scan started appear at its end, removed ones are not
//!   returned, none is returned twice (except one renamed during the scan, which
//!   counts as created anew).
//! - `newfstatat`/`fstat`: [`RamFs::stat`]; `st_dev` is the caller's.
//! - `mkdirat`, `unlinkat` (`rmdir` with `AT_REMOVEDIR`), `linkat`, `renameat2`,
//!   `mknodat`: `lookup_parent`, then the operation of the same name.
//! - `getcwd`: [`RamFs::path_of`]. `ftruncate`: [`RamFs::truncate`] (a negative
//!   length is the caller's `EINVAL`). `fchmodat`, `fchownat`, `utimensat`:
//!   [`RamFs::chmod`], [`RamFs::chown`], [`RamFs::set_times`].

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::cpio::{self, CpioError};
use crate::errno::{
    Errno, EBUSY, EEXIST, EFBIG, EINVAL, EISDIR, ENAMETOOLONG, ENFILE, ENOENT, ENOMEM, ENOSPC,
    ENOTDIR, ENOTEMPTY, ENXIO, EPERM, ETXTBSY,
};
use crate::mm::filemap::PageCache;
use crate::mm::zpoline::SiteTable;
pub use uapi::dirent::{DT_CHR, DT_DIR, DT_REG};
pub use uapi::fs::{RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT};
pub use uapi::limits::{NAME_MAX, PATH_MAX};
pub use uapi::stat::{
    S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, S_ISUID,
    S_ISVTX, S_IXGRP,
};

/// An inode number.
pub type Ino = u64;

/// The root directory's inode number.
pub const ROOT_INO: Ino = 1;
/// The largest file size Linux allows (`MAX_LFS_FILESIZE`), the default limit.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;
/// `st_blksize` of every inode.
pub const BLKSIZE: u32 = 4096;
/// What tmpfs counts as the size of one directory entry in a directory's `st_size`.
pub const BOGO_DIRENT_SIZE: u64 = 20;

/// A device number as `stat` reports it in `st_rdev` (glibc's `makedev`, which is
/// the kernel's `new_encode_dev` for majors below 4096 and minors below 2^20).
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (major, minor) = (major as u64, minor as u64);
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// The major number of a device number made by [`makedev`].
/// The device number of the RAM file system (`st_dev`, and what
/// `/proc/PID/maps` shows for its files): 00:0f.
pub const RAM_DEV: u64 = 0x0f;

pub const fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

/// The minor number of a device number made by [`makedev`].
pub const fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// What `stat` reports about an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub ino: Ino,
    /// Type bits (`S_IFREG`, `S_IFDIR`, `S_IFCHR`) and permission bits.
    pub mode: u32,
    /// Names referring to it; for a directory 2 + its subdirectories; 0 once removed.
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    /// For a character device, the device ([`makedev`]); else 0.
    pub rdev: u64,
    /// Bytes for a regular file; for a directory, as tmpfs: 20 × (entries + 2).
    pub size: u64,
    /// Always [`BLKSIZE`].
    pub blksize: u32,
    /// 512-byte blocks allocated: a regular file's size rounded up to whole 4 KiB
    /// pages (as tmpfs counts), 0 for others.
    pub blocks: u64,
    pub atime_ns: u64,
    pub mtime_ns: u64,
    pub ctime_ns: u64,
}

impl Stat {
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    pub fn is_reg(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    pub fn is_chr(&self) -> bool {
        self.mode & S_IFMT == S_IFCHR
    }
}

/// One directory entry from [`RamFs::readdir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: Ino,
    pub name: String,
    /// [`DT_DIR`], [`DT_REG`] or [`DT_CHR`].
    pub d_type: u8,
    /// The cookie that continues after this entry (getdents64's `d_off`).
    pub next_cookie: u64,
}

/// Why [`RamFs::unpack_cpio`] stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnpackError {
    /// The archive itself is malformed.
    Cpio(CpioError),
    /// The entry is a symbolic link, FIFO, socket or block device, which this file
    /// system does not hold (`mode` is its full `st_mode`).
    Unsupported { name: String, mode: u32 },
    /// The entry's name has a `..` component.
    BadName { name: String },
    /// Creating the entry failed with this errno (e.g. `ENOSPC`, `ENAMETOOLONG`,
    /// `ENOTDIR` when a parent is a file, `ENOTEMPTY` replacing a directory).
    Fs { name: String, errno: Errno },
}

impl From<CpioError> for UnpackError {
    fn from(e: CpioError) -> Self {
        Self::Cpio(e)
    }
}

impl core::fmt::Display for UnpackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Cpio(e) => write!(f, "initramfs: {e}"),
            Self::Unsupported { name, mode } => write!(
                f,
                "initramfs: '{name}' has file type {:#o}; only directories, regular files \
                 and character devices are supported",
                mode & S_IFMT
            ),
            Self::BadName { name } => write!(f, "initramfs: '{name}' has a '..' component"),
            Self::Fs { name, errno } => {
                write!(
                    f,
                    "initramfs: cannot create '{name}': {} (errno {})",
                    errno_name(*errno),
                    errno.0
                )
            }
        }
    }
}

/// The symbolic name of the errno values this module returns.
fn errno_name(e: Errno) -> &'static str {
    match e {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ENXIO => "ENXIO",
        ENOMEM => "ENOMEM",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        ENOTDIR => "ENOTDIR",
        EISDIR => "EISDIR",
        EINVAL => "EINVAL",
        EFBIG => "EFBIG",
        ENOSPC => "ENOSPC",
        ENAMETOOLONG => "ENAMETOOLONG",
        ENOTEMPTY => "ENOTEMPTY",
        _ => "errno",
    }
}

/// Where a regular file's bytes are.
enum FileData {
    /// In one vector, shared with an exec in progress (`file_data_shared`);
    /// a write while it is copies it first. Every file starts so.
    Flat(Arc<Vec<u8>>),
    /// In page-sized frames, since the file was first mapped
    /// ([`RamFs::page_cache`]): the frames its mappings map.
    Paged(Arc<PageCache>),
}

impl FileData {
    fn empty() -> Self {
        FileData::Flat(Arc::new(Vec::new()))
    }

    fn len(&self) -> u64 {
        match self {
            FileData::Flat(v) => v.len() as u64,
            FileData::Paged(c) => c.size(),
        }
    }
}

enum Kind {
    Regular { data: FileData },
    Directory(Dir),
    CharDevice { rdev: u64 },
}

struct Dir {
    /// Name → inode and the entry's readdir cookie.
    entries: BTreeMap<String, Slot>,
    /// Cookie → name: the readdir order.
    by_cookie: BTreeMap<u64, String>,
    /// The cookie of the next entry added (cookies 0 and 1 are `.` and `..`).
    next_cookie: u64,
    /// `..`; the root's is itself. Kept as it was when the directory is removed.
    parent: Ino,
}

#[derive(Clone, Copy)]
struct Slot {
    ino: Ino,
    cookie: u64,
}

struct Inode {
    kind: Kind,
    mode: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    atime: u64,
    mtime: u64,
    ctime: u64,
    open_count: u32,
    /// Linux `i_writecount`: how many open it for writing (> 0), or how many
    /// address spaces run it as their program (< 0, each denying writers:
    /// ETXTBSY).
    writecount: i32,
    /// The `syscall` sites of this executable as the VMM found them
    /// (`exec::zpoline`), bound at boot; dropped by the first change to the
    /// file's data, so a table never describes other contents.
    syscall_sites: Option<Arc<SiteTable>>,
}

impl Inode {
    fn dir(&self) -> Result<&Dir, Errno> {
        match &self.kind {
            Kind::Directory(d) => Ok(d),
            _ => Err(ENOTDIR),
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Directory(_))
    }

    fn d_type(&self) -> u8 {
        match self.kind {
            Kind::Regular { .. } => DT_REG,
            Kind::Directory(_) => DT_DIR,
            Kind::CharDevice { .. } => DT_CHR,
        }
    }
}

/// The last component of a path, as the operations taking a name see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Last<'a> {
    Root,
    Dot,
    DotDot,
    /// A plain name; `slash` if the path ended in `/` (it must name a directory).
    Name {
        name: &'a str,
        slash: bool,
    },
}

/// Classify a name given to an operation (see the module docs). A name with a
/// `/` inside or a NUL is a caller bug: `EINVAL`.
fn parse_last(name: &str) -> Result<Last<'_>, Errno> {
    if name.is_empty() {
        return Err(ENOENT);
    }
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Last::Root);
    }
    if trimmed.contains(['/', '\0']) {
        return Err(EINVAL);
    }
    match trimmed {
        "." => Ok(Last::Dot),
        ".." => Ok(Last::DotDot),
        _ if trimmed.len() > NAME_MAX => Err(ENAMETOOLONG),
        _ => Ok(Last::Name { name: trimmed, slash: trimmed.len() < name.len() }),
    }
}

/// The RAM file system. See the module documentation.
pub struct RamFs {
    inodes: BTreeMap<Ino, Inode>,
    next_ino: Ino,
    capacity: u64,
    used: u64,
    max_file_size: u64,
    now: u64,
}

impl RamFs {
    /// An empty file system (the root directory, mode 0755, owned by 0:0) whose
    /// regular files may hold `capacity_bytes` in all.
    pub fn new(capacity_bytes: u64) -> Self {
        let mut inodes = BTreeMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                kind: Kind::Directory(Dir {
                    entries: BTreeMap::new(),
                    by_cookie: BTreeMap::new(),
                    next_cookie: 2,
                    parent: ROOT_INO,
                }),
                mode: S_IFDIR | 0o755,
                nlink: 2,
                uid: 0,
                gid: 0,
                atime: 0,
                mtime: 0,
                ctime: 0,
                open_count: 0,
                writecount: 0,
                syscall_sites: None,
            },
        );
        Self {
            inodes,
            next_ino: ROOT_INO + 1,
            capacity: capacity_bytes,
            used: 0,
            max_file_size: MAX_FILE_SIZE,
            now: 0,
        }
    }

    /// Limit each file to `bytes` (default [`MAX_FILE_SIZE`]): a write starting at or
    /// past it fails with `EFBIG`, one crossing it is short; `truncate` past it: `EFBIG`.
    pub fn set_max_file_size(&mut self, bytes: u64) {
        self.max_file_size = bytes;
    }

    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// Set the clock (ns since the epoch) that the following operations stamp.
    pub fn set_time(&mut self, now_ns: u64) {
        self.now = now_ns;
    }

    /// The capacity given to [`RamFs::new`].
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bytes held by regular files, including unlinked ones still open.
    pub fn used_bytes(&self) -> u64 {
        self.used
    }

    /// Inodes that exist, the root and unlinked-but-open ones included.
    pub fn inode_count(&self) -> usize {
        self.inodes.len()
    }

    fn inode(&self, ino: Ino) -> Result<&Inode, Errno> {
        self.inodes.get(&ino).ok_or(ENOENT)
    }

    fn inode_mut(&mut self, ino: Ino) -> Result<&mut Inode, Errno> {
        self.inodes.get_mut(&ino).ok_or(ENOENT)
    }

    fn dir(&self, ino: Ino) -> Result<&Dir, Errno> {
        self.inode(ino)?.dir()
    }

    fn dir_mut(&mut self, ino: Ino) -> Result<&mut Dir, Errno> {
        match &mut self.inode_mut(ino)?.kind {
            Kind::Directory(d) => Ok(d),
            _ => Err(ENOTDIR),
        }
    }

    /// The inode named `name` in directory `dir`, if any.
    fn child(&self, dir: Ino, name: &str) -> Result<Option<Ino>, Errno> {
        Ok(self.dir(dir)?.entries.get(name).map(|s| s.ino))
    }

    /// A directory that was removed (nothing can be created in it).
    fn is_dead(&self, ino: Ino) -> bool {
        self.inodes.get(&ino).is_none_or(|i| i.nlink == 0)
    }

    /// Set mtime and ctime of `ino` to now.
    fn touch(&mut self, ino: Ino) {
        let now = self.now;
        if let Some(i) = self.inodes.get_mut(&ino) {
            i.mtime = now;
            i.ctime = now;
        }
    }

    fn touch_ctime(&mut self, ino: Ino) {
        let now = self.now;
        if let Some(i) = self.inodes.get_mut(&ino) {
            i.ctime = now;
        }
    }

    /// One step of path resolution from directory `cur`.
    fn step(&self, cur: Ino, component: &str) -> Result<Ino, Errno> {
        let dir = self.dir(cur)?;
        match component {
            "." => Ok(cur),
            ".." if cur == ROOT_INO => Ok(ROOT_INO),
            // A removed directory's parent may be gone since.
            ".." => self.inode(dir.parent).map(|_| dir.parent),
            _ if component.len() > NAME_MAX => Err(ENAMETOOLONG),
            _ => dir.entries.get(component).map(|s| s.ino).ok_or(ENOENT),
        }
    }

    /// Resolve `path`: absolute from the root (`dir` unused), relative from
    /// directory `dir`. Handles `.`, `..` (the root's is the root), repeated and
    /// trailing slashes. There are no symbolic links.
    ///
    /// Errors: `ENOENT` for an empty path or a missing component (or `dir` itself
    /// missing); `ENOTDIR` when a component used as a directory (including `dir`
    /// for a relative path, and the last one when the path ends in `/`) is not
    /// one; `ENAMETOOLONG` for a component over 255 bytes or a path of 4096 bytes
    /// or more.
    pub fn lookup(&self, dir: Ino, path: &str) -> Result<Ino, Errno> {
        if path.is_empty() {
            return Err(ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(ENAMETOOLONG);
        }
        let mut cur = if path.starts_with('/') { ROOT_INO } else { dir };
        self.inode(cur)?;
        for component in path.split('/').filter(|c| !c.is_empty()) {
            cur = self.step(cur, component)?;
        }
        if path.ends_with('/') && !self.inode(cur)?.is_dir() {
            return Err(ENOTDIR);
        }
        Ok(cur)
    }

    /// Resolve all but the last component of `path` (as [`RamFs::lookup`]) for an
    /// operation that creates or removes a name: the directory and the last
    /// component. The last component is returned as the operations take it:
    /// `.` or `..` as they are, `/` if the path is the root itself (`/`, `//`),
    /// otherwise the name followed by one `/` if the path ended in slashes. Its
    /// existence is not checked.
    ///
    /// Errors: as `lookup` for the directory part; `ENAMETOOLONG` for a last
    /// component over 255 bytes.
    pub fn lookup_parent(&self, dir: Ino, path: &str) -> Result<(Ino, String), Errno> {
        if path.is_empty() {
            return Err(ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(ENAMETOOLONG);
        }
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok((ROOT_INO, String::from("/")));
        }
        let (parent, last) = match trimmed.rfind('/') {
            Some(i) => (self.lookup(dir, &trimmed[..=i])?, &trimmed[i + 1..]),
            None => {
                self.dir(dir)?;
                (dir, trimmed)
            }
        };
        let mut name = String::from(last);
        match parse_last(last)? {
            Last::Name { .. } if trimmed.len() < path.len() => name.push('/'),
            _ => {}
        }
        Ok((parent, name))
    }

    /// Allocate an inode and link it into `parent` under `name` (checked by the caller).
    fn insert(&mut self, parent: Ino, name: &str, kind: Kind, mode: u32) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        let is_dir = matches!(kind, Kind::Directory(_));
        let now = self.now;
        self.inodes.insert(
            ino,
            Inode {
                kind,
                mode,
                nlink: if is_dir { 2 } else { 1 },
                uid: 0,
                gid: 0,
                atime: now,
                mtime: now,
                ctime: now,
                open_count: 0,
                writecount: 0,
                syscall_sites: None,
            },
        );
        self.add_entry(parent, name, ino);
        if is_dir {
            if let Ok(p) = self.inode_mut(parent) {
                p.nlink += 1;
            }
        }
        ino
    }

    /// Add the entry `name` → `ino` to directory `parent` (mtime, ctime updated).
    fn add_entry(&mut self, parent: Ino, name: &str, ino: Ino) {
        if let Ok(d) = self.dir_mut(parent) {
            let cookie = d.next_cookie;
            d.next_cookie += 1;
            d.entries.insert(String::from(name), Slot { ino, cookie });
            d.by_cookie.insert(cookie, String::from(name));
        }
        self.touch(parent);
    }

    /// Remove the entry `name` from directory `parent` (mtime, ctime updated).
    fn remove_entry(&mut self, parent: Ino, name: &str) {
        if let Ok(d) = self.dir_mut(parent) {
            if let Some(slot) = d.entries.remove(name) {
                d.by_cookie.remove(&slot.cookie);
            }
        }
        self.touch(parent);
    }

    /// Free `ino` if no name and no open file refers to it any more.
    fn maybe_free(&mut self, ino: Ino) {
        if ino == ROOT_INO {
            return;
        }
        if self.inodes.get(&ino).is_some_and(|i| i.nlink == 0 && i.open_count == 0) {
            if let Some(Inode { kind: Kind::Regular { data }, .. }) = self.inodes.remove(&ino) {
                self.used -= data.len();
            }
        }
    }

    /// Checks shared by the operations creating a name (Linux's
    /// `filename_create`): `.`, `..`, `/` → `EEXIST`; an existing name → `EEXIST`;
    /// with a trailing slash a missing name → `ENOENT` (unless `dir_ok`, for mkdir);
    /// a removed parent → `ENOENT`. The plain name.
    fn new_name<'n>(&self, parent: Ino, name: &'n str, dir_ok: bool) -> Result<&'n str, Errno> {
        self.dir(parent)?;
        let (name, slash) = match parse_last(name)? {
            Last::Name { name, slash } => (name, slash),
            _ => return Err(EEXIST),
        };
        if self.is_dead(parent) {
            return Err(ENOENT);
        }
        if self.child(parent, name)?.is_some() {
            return Err(EEXIST);
        }
        if slash && !dir_ok {
            return Err(ENOENT);
        }
        Ok(name)
    }

    /// Create an empty regular file `name` in `parent` with permission bits
    /// `mode & 0o7777` (the caller has applied the umask; type bits are ignored).
    ///
    /// Errors: `EISDIR` if `name` ends in `/` (checked first, as `open(O_CREAT)`
    /// does); `EEXIST` if it exists or is `.`, `..`, `/`; `ENOENT` if `parent` was
    /// removed; `ENOTDIR` if `parent` is not a directory; `ENAMETOOLONG`.
    pub fn create(&mut self, parent: Ino, name: &str, mode: u32) -> Result<Ino, Errno> {
        self.dir(parent)?;
        if let Last::Name { slash: true, .. } = parse_last(name)? {
            return Err(EISDIR);
        }
        let name = self.new_name(parent, name, false)?;
        Ok(self.insert(
            parent,
            name,
            Kind::Regular { data: FileData::empty() },
            S_IFREG | mode & 0o7777,
        ))
    }

    /// Create directory `name` in `parent` with permission bits `mode & 0o1777`
    /// (as Linux's `vfs_mkdir`; the caller has applied the umask). A trailing `/`
    /// is allowed. The parent's link count grows by one.
    ///
    /// Errors: `EEXIST` if it exists or is `.`, `..`, `/`; `ENOENT` if `parent` was
    /// removed; `ENOTDIR`; `ENAMETOOLONG`.
    pub fn mkdir(&mut self, parent: Ino, name: &str, mode: u32) -> Result<Ino, Errno> {
        let name = self.new_name(parent, name, true)?;
        let dir =
            Dir { entries: BTreeMap::new(), by_cookie: BTreeMap::new(), next_cookie: 2, parent };
        Ok(self.insert(parent, name, Kind::Directory(dir), S_IFDIR | mode & 0o1777))
    }

    /// `mknodat`: create a regular file (type bits 0 or `S_IFREG`) or a character
    /// device (`S_IFCHR`, device `rdev` from [`makedev`]) with permission bits
    /// `mode & 0o7777`.
    ///
    /// Errors: `EPERM` for `S_IFDIR` (as Linux) and for block devices, FIFOs and
    /// sockets (not supported here); `EINVAL` for an invalid type; then as
    /// Linux's `filename_create`: `EEXIST` if the name exists or is `.`, `..`,
    /// `/`; `ENOENT` for a missing name with a trailing `/` or a removed parent.
    pub fn mknod(&mut self, parent: Ino, name: &str, mode: u32, rdev: u64) -> Result<Ino, Errno> {
        let kind = match mode & S_IFMT {
            0 | S_IFREG => Kind::Regular { data: FileData::empty() },
            S_IFCHR => Kind::CharDevice { rdev },
            S_IFDIR | S_IFBLK | S_IFIFO | S_IFSOCK => return Err(EPERM),
            _ => return Err(EINVAL),
        };
        let name = self.new_name(parent, name, false)?;
        let ty = if let Kind::CharDevice { .. } = kind { S_IFCHR } else { S_IFREG };
        Ok(self.insert(parent, name, kind, ty | mode & 0o7777))
    }

    /// `linkat`: give inode `ino` the additional name `name` in `parent`.
    ///
    /// Errors: as [`RamFs::mknod`] for the new name (checked first); then `EPERM`
    /// if `ino` is a directory, `ENOENT` if it has no name left (unlinked, still
    /// open) or does not exist.
    pub fn link(&mut self, ino: Ino, parent: Ino, name: &str) -> Result<(), Errno> {
        let name = self.new_name(parent, name, false)?;
        let inode = self.inode(ino)?;
        if inode.is_dir() {
            return Err(EPERM);
        }
        if inode.nlink == 0 {
            return Err(ENOENT);
        }
        self.inode_mut(ino)?.nlink += 1;
        self.touch_ctime(ino);
        self.add_entry(parent, name, ino);
        Ok(())
    }

    /// Remove the non-directory `name` from `parent`. The inode lives on while it
    /// has other names or is open (see [`RamFs::close_dec`]).
    ///
    /// Errors: `EISDIR` for `.`, `..`, `/` and for a directory; `ENOENT` if
    /// missing; `ENOTDIR` for `file/` (a trailing slash on a non-directory);
    /// `ENOTDIR` if `parent` is not a directory.
    pub fn unlink(&mut self, parent: Ino, name: &str) -> Result<(), Errno> {
        self.dir(parent)?;
        let (name, slash) = match parse_last(name)? {
            Last::Name { name, slash } => (name, slash),
            _ => return Err(EISDIR),
        };
        let ino = self.child(parent, name)?.ok_or(ENOENT)?;
        if self.inode(ino)?.is_dir() {
            return Err(EISDIR);
        }
        if slash {
            return Err(ENOTDIR);
        }
        self.remove_entry(parent, name);
        self.inode_mut(ino)?.nlink -= 1;
        self.touch_ctime(ino);
        self.maybe_free(ino);
        Ok(())
    }

    /// Remove the empty directory `name` from `parent`. Its link count drops to 0
    /// (an open directory stays readable but empty: `readdir` gives `ENOENT`, as
    /// Linux for a removed directory) and the parent's by one.
    ///
    /// Errors: `EINVAL` for `.`, `ENOTEMPTY` for `..`, `EBUSY` for `/`; `ENOENT` if
    /// missing; `ENOTDIR` if not a directory; `ENOTEMPTY` if it has entries.
    pub fn rmdir(&mut self, parent: Ino, name: &str) -> Result<(), Errno> {
        self.dir(parent)?;
        let name = match parse_last(name)? {
            Last::Name { name, .. } => name,
            Last::Dot => return Err(EINVAL),
            Last::DotDot => return Err(ENOTEMPTY),
            Last::Root => return Err(EBUSY),
        };
        let ino = self.child(parent, name)?.ok_or(ENOENT)?;
        if !self.dir(ino)?.entries.is_empty() {
            return Err(ENOTEMPTY);
        }
        self.remove_entry(parent, name);
        self.inode_mut(parent)?.nlink -= 1;
        self.inode_mut(ino)?.nlink = 0;
        self.touch_ctime(ino);
        self.maybe_free(ino);
        Ok(())
    }

    /// `renameat2`: move `old_name` in `old_parent` to `new_name` in `new_parent`,
    /// replacing an existing target (a directory only by an empty directory).
    /// `flags` may hold [`RENAME_NOREPLACE`].
    ///
    /// Errors, in Linux's order: `EINVAL` for other flags; `EBUSY` if either name
    /// is `.`, `..` or `/` (`EEXIST` for the new one with `RENAME_NOREPLACE`);
    /// `ENOENT` if the source is missing; `EEXIST` if the target exists with
    /// `RENAME_NOREPLACE`; `ENOTDIR` if the source is not a directory but either
    /// name ends in `/`; `EINVAL` if the source is a directory containing the new
    /// parent; `ENOTEMPTY` if the target is a directory containing the source;
    /// `ENOTDIR` (directory over non-directory), `EISDIR` (non-directory over
    /// directory), `ENOTEMPTY` (over a non-empty directory); `ENOENT` if the new
    /// parent was removed. Renaming a name onto another name of the same inode
    /// succeeds and changes nothing.
    pub fn rename(
        &mut self,
        old_parent: Ino,
        old_name: &str,
        new_parent: Ino,
        new_name: &str,
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !RENAME_NOREPLACE != 0 {
            return Err(EINVAL);
        }
        self.dir(old_parent)?;
        self.dir(new_parent)?;
        let (old_name, old_slash) = match parse_last(old_name)? {
            Last::Name { name, slash } => (name, slash),
            _ => return Err(EBUSY),
        };
        let (new_name, new_slash) = match parse_last(new_name)? {
            Last::Name { name, slash } => (name, slash),
            _ if flags & RENAME_NOREPLACE != 0 => return Err(EEXIST),
            _ => return Err(EBUSY),
        };
        let ino = self.child(old_parent, old_name)?.ok_or(ENOENT)?;
        let target = self.child(new_parent, new_name)?;
        if target.is_some() && flags & RENAME_NOREPLACE != 0 {
            return Err(EEXIST);
        }
        let is_dir = self.inode(ino)?.is_dir();
        if !is_dir && (old_slash || new_slash) {
            return Err(ENOTDIR);
        }
        if old_parent != new_parent {
            if self.is_ancestor(ino, new_parent) {
                return Err(EINVAL);
            }
            if target.is_some_and(|t| self.is_ancestor(t, old_parent)) {
                return Err(ENOTEMPTY);
            }
        }
        if target == Some(ino) {
            return Ok(());
        }
        if let Some(t) = target {
            match (is_dir, self.inode(t)?.dir()) {
                (true, Err(_)) => return Err(ENOTDIR),
                (false, Ok(_)) => return Err(EISDIR),
                (true, Ok(d)) if !d.entries.is_empty() => return Err(ENOTEMPTY),
                _ => {}
            }
        } else if self.is_dead(new_parent) {
            return Err(ENOENT);
        }

        if let Some(t) = target {
            self.remove_entry(new_parent, new_name);
            let target = self.inode_mut(t)?;
            if target.is_dir() {
                target.nlink = 0;
                self.inode_mut(new_parent)?.nlink -= 1;
            } else {
                target.nlink -= 1;
            }
            self.touch_ctime(t);
            self.maybe_free(t);
        }
        self.remove_entry(old_parent, old_name);
        self.add_entry(new_parent, new_name, ino);
        if is_dir && old_parent != new_parent {
            self.inode_mut(old_parent)?.nlink -= 1;
            self.inode_mut(new_parent)?.nlink += 1;
            self.dir_mut(ino)?.parent = new_parent;
        }
        self.touch_ctime(ino);
        Ok(())
    }

    /// Whether `ancestor` is `ino` or one of the directories above it.
    fn is_ancestor(&self, ancestor: Ino, mut ino: Ino) -> bool {
        // Bounded: removed directories may point at parents that are gone.
        for _ in 0..=self.inodes.len() {
            if ino == ancestor {
                return true;
            }
            match self.dir(ino) {
                Ok(d) if ino != ROOT_INO => ino = d.parent,
                _ => return false,
            }
        }
        false
    }

    /// Read from regular file `ino` at `offset` into `buf`: the bytes read, 0 at
    /// or past the end. Errors: `EISDIR` for a directory, `ENXIO` for a character
    /// device (the caller routes device I/O), `ENOENT` for no such inode.
    pub fn read_at(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        if let Kind::Regular { data: FileData::Paged(c) } = &self.inode(ino)?.kind {
            return Ok(c.read_at(offset, buf));
        }
        let data = self.file_data(ino)?;
        let Some(rest) = usize::try_from(offset).ok().and_then(|o| data.get(o..)) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    /// The whole contents of regular file `ino` in place (boot: the initramfs's
    /// executables, before anything is mapped). Errors as [`RamFs::read_at`],
    /// and `EBUSY` for a file whose data is in a page cache (mapped once).
    pub fn file_data(&self, ino: Ino) -> Result<&[u8], Errno> {
        match &self.inode(ino)?.kind {
            Kind::Regular { data: FileData::Flat(data) } => Ok(data.as_slice()),
            Kind::Regular { data: FileData::Paged(_) } => Err(EBUSY),
            Kind::Directory(_) => Err(EISDIR),
            Kind::CharDevice { .. } => Err(ENXIO),
        }
    }

    /// The contents of regular file `ino`, shared rather than copied (exec reads
    /// them without holding the file system's lock; a write meanwhile gives
    /// the file a new copy). A file in a page cache is copied (`ENOMEM`).
    /// Errors as [`RamFs::read_at`].
    pub fn file_data_shared(&self, ino: Ino) -> Result<Arc<Vec<u8>>, Errno> {
        match &self.inode(ino)?.kind {
            Kind::Regular { data: FileData::Flat(data) } => Ok(data.clone()),
            Kind::Regular { data: FileData::Paged(c) } => Ok(Arc::new(c.to_vec()?)),
            Kind::Directory(_) => Err(EISDIR),
            Kind::CharDevice { .. } => Err(ENXIO),
        }
    }

    /// Bind the `syscall` site table of executable `ino` (a regular file) until
    /// its data next changes. Errors: `ENOENT`, `EINVAL` for other kinds.
    pub fn set_syscall_sites(&mut self, ino: Ino, table: Arc<SiteTable>) -> Result<(), Errno> {
        let i = self.inode_mut(ino)?;
        if !matches!(i.kind, Kind::Regular { .. }) {
            return Err(EINVAL);
        }
        i.syscall_sites = Some(table);
        Ok(())
    }

    /// The page cache of regular file `ino`, made on the first call (the data
    /// moves from its vector into frames: `ENOMEM` if they cannot be had, and
    /// the file stays as it was): what `mmap` maps. Errors as
    /// [`RamFs::read_at`].
    pub fn page_cache(&mut self, ino: Ino) -> Result<Arc<PageCache>, Errno> {
        match &mut self.inode_mut(ino)?.kind {
            Kind::Regular { data: FileData::Paged(c) } => Ok(c.clone()),
            Kind::Regular { data } => {
                let FileData::Flat(v) = &*data else { unreachable!() };
                let c = Arc::new(PageCache::from_bytes(v)?);
                *data = FileData::Paged(c.clone());
                Ok(c)
            }
            Kind::Directory(_) => Err(EISDIR),
            Kind::CharDevice { .. } => Err(ENXIO),
        }
    }

    /// The page cache of `ino` if it has one (it was mapped once).
    pub fn cached(&self, ino: Ino) -> Option<Arc<PageCache>> {
        match &self.inode(ino).ok()?.kind {
            Kind::Regular { data: FileData::Paged(c) } => Some(c.clone()),
            _ => None,
        }
    }

    /// The `syscall` site table bound to `ino`, if any (see
    /// [`RamFs::set_syscall_sites`]).
    pub fn syscall_sites(&self, ino: Ino) -> Option<Arc<SiteTable>> {
        self.inode(ino).ok()?.syscall_sites.clone()
    }

    fn drop_syscall_sites(&mut self, ino: Ino) {
        if let Some(i) = self.inodes.get_mut(&ino) {
            i.syscall_sites = None;
        }
    }

    /// Write `data` to regular file `ino` at `offset`, extending the file (a gap
    /// past the old end reads as zeros): the bytes written, which is less than
    /// `data.len()` when the file system or the file size limit is reached.
    /// Updates mtime and ctime when anything is written. An empty `data` writes
    /// nothing and returns 0.
    ///
    /// Errors: `EISDIR`, `ENXIO` (character device), `ENOENT` (no such inode);
    /// `EFBIG` if `offset` is at or past the file size limit; `ENOSPC` if not one
    /// byte fits; `ENOMEM` if the kernel heap cannot hold the file.
    pub fn write_at(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let free = self.capacity.saturating_sub(self.used);
        let max = self.max_file_size;
        let file = match &mut self.inode_mut(ino)?.kind {
            Kind::Regular { data } => data,
            Kind::Directory(_) => return Err(EISDIR),
            Kind::CharDevice { .. } => return Err(ENXIO),
        };
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= max {
            return Err(EFBIG);
        }
        let len = file.len();
        let mut end = offset.saturating_add(data.len() as u64).min(max);
        if end > len && end - len > free {
            end = len + free;
            if end <= offset {
                return Err(ENOSPC);
            }
        }
        let (start, end_us) = match (usize::try_from(offset), usize::try_from(end)) {
            (Ok(s), Ok(e)) => (s, e),
            _ => return Err(EFBIG),
        };
        let growth = end.saturating_sub(len);
        let n = end_us - start;
        match file {
            FileData::Flat(v) => {
                let file = Arc::make_mut(v);
                if end_us > file.len() {
                    file.try_reserve(end_us - file.len()).map_err(|_| ENOMEM)?;
                    file.resize(end_us, 0);
                }
                file[start..end_us].copy_from_slice(&data[..n]);
            }
            FileData::Paged(c) => c.write_at(offset, &data[..n])?,
        }
        self.used += growth;
        self.touch(ino);
        self.drop_syscall_sites(ino);
        Ok(n)
    }

    /// Set the size of regular file `ino` to `len`, dropping bytes past it or
    /// adding zeros. Times change only if the size does (as tmpfs).
    ///
    /// Errors: `EISDIR` for a directory, `EINVAL` for a character device (as
    /// `truncate(2)`), `ENOENT`; `EFBIG` past the file size limit; `ENOSPC` if the
    /// growth does not fit (files are not sparse here); `ENOMEM`.
    pub fn truncate(&mut self, ino: Ino, len: u64) -> Result<(), Errno> {
        let free = self.capacity.saturating_sub(self.used);
        let max = self.max_file_size;
        let data = match &mut self.inode_mut(ino)?.kind {
            Kind::Regular { data } => data,
            Kind::Directory(_) => return Err(EISDIR),
            Kind::CharDevice { .. } => return Err(EINVAL),
        };
        if len > max {
            return Err(EFBIG);
        }
        let old = data.len();
        if len == old {
            return Ok(());
        }
        if let FileData::Paged(c) = data {
            if len > old && len - old > free {
                return Err(ENOSPC);
            }
            usize::try_from(len).map_err(|_| EFBIG)?;
            // Pages past the end go now; mappings still holding them keep
            // them until the caller unmaps them.
            drop(c.set_size(len)?);
            if len > old {
                self.used += len - old;
            } else {
                self.used -= old - len;
            }
            self.touch(ino);
            self.drop_syscall_sites(ino);
            return Ok(());
        }
        let FileData::Flat(v) = data else { unreachable!() };
        let file = Arc::make_mut(v);
        if len > old {
            if len - old > free {
                return Err(ENOSPC);
            }
            let new_len = usize::try_from(len).map_err(|_| EFBIG)?;
            file.try_reserve_exact(new_len - file.len()).map_err(|_| ENOMEM)?;
            file.resize(new_len, 0);
            self.used += len - old;
        } else {
            file.truncate(len as usize);
            if file.capacity() > 2 * file.len() {
                file.shrink_to_fit();
            }
            self.used -= old - len;
        }
        self.touch(ino);
        self.drop_syscall_sites(ino);
        Ok(())
    }

    /// The attributes of `ino`. Errors: `ENOENT` for no such inode.
    pub fn stat(&self, ino: Ino) -> Result<Stat, Errno> {
        let i = self.inode(ino)?;
        let (size, blocks, rdev) = match &i.kind {
            Kind::Regular { data } => {
                let size = data.len();
                (size, size.div_ceil(BLKSIZE as u64) * (BLKSIZE as u64 / 512), 0)
            }
            Kind::Directory(d) => (BOGO_DIRENT_SIZE * (d.entries.len() as u64 + 2), 0, 0),
            Kind::CharDevice { rdev } => (0, 0, *rdev),
        };
        Ok(Stat {
            ino,
            mode: i.mode,
            nlink: i.nlink,
            uid: i.uid,
            gid: i.gid,
            rdev,
            size,
            blksize: BLKSIZE,
            blocks,
            atime_ns: i.atime,
            mtime_ns: i.mtime,
            ctime_ns: i.ctime,
        })
    }

    /// Set the permission bits to `mode & 0o7777` (the type is kept); ctime changes.
    pub fn chmod(&mut self, ino: Ino, mode: u32) -> Result<(), Errno> {
        let i = self.inode_mut(ino)?;
        i.mode = i.mode & S_IFMT | mode & 0o7777;
        self.touch_ctime(ino);
        Ok(())
    }

    /// Change the owner and/or group (`None`: unchanged, like -1 for `chown`); ctime
    /// changes. The mode is left alone: which set-ID bits a `chown` clears
    /// depends on the caller ([`crate::fs::attr::chown`]), and a new file's
    /// owner is set with it intact.
    pub fn chown(&mut self, ino: Ino, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        let i = self.inode_mut(ino)?;
        if let Some(uid) = uid {
            i.uid = uid;
        }
        if let Some(gid) = gid {
            i.gid = gid;
        }
        self.touch_ctime(ino);
        Ok(())
    }

    /// Blocks of `BLKSIZE` held by regular files (each file rounded up to whole
    /// blocks, as tmpfs counts pages), unlinked-but-open ones included.
    pub fn used_blocks(&self) -> u64 {
        self.inodes
            .values()
            .map(|i| match &i.kind {
                Kind::Regular { data } => data.len().div_ceil(BLKSIZE as u64),
                _ => 0,
            })
            .sum()
    }

    /// `utimensat`: set atime and/or mtime (`None`: `UTIME_OMIT`; for `UTIME_NOW`
    /// pass the current time). ctime becomes the clock's time.
    pub fn set_times(
        &mut self,
        ino: Ino,
        atime: Option<u64>,
        mtime: Option<u64>,
    ) -> Result<(), Errno> {
        let i = self.inode_mut(ino)?;
        if let Some(t) = atime {
            i.atime = t;
        }
        if let Some(t) = mtime {
            i.mtime = t;
        }
        self.touch_ctime(ino);
        Ok(())
    }

    /// The directory entry at `cookie` in directory `ino`, for getdents64 (see the
    /// module docs): cookie 0 is `.`, 1 is `..` (the root's is the root), then the
    /// entries in creation order; continue with the entry's `next_cookie`.
    /// `Ok(None)` at the end.
    ///
    /// Errors: `ENOTDIR` for a non-directory; `ENOENT` for a removed directory (as
    /// Linux) or no such inode.
    pub fn readdir(&self, ino: Ino, cookie: u64) -> Result<Option<DirEntry>, Errno> {
        let dir = self.dir(ino)?;
        if self.is_dead(ino) {
            return Err(ENOENT);
        }
        let (ino, name, next_cookie) = match cookie {
            0 => (ino, ".", 1),
            1 => (if ino == ROOT_INO { ROOT_INO } else { dir.parent }, "..", 2),
            _ => match dir.by_cookie.range(cookie..).next() {
                Some((&c, name)) => {
                    (dir.entries.get(name).ok_or(ENOENT)?.ino, name.as_str(), c + 1)
                }
                None => return Ok(None),
            },
        };
        Ok(Some(DirEntry {
            ino,
            name: String::from(name),
            d_type: self.inode(ino)?.d_type(),
            next_cookie,
        }))
    }

    /// The absolute path of directory `ino` (for `getcwd`): "/" for the root.
    /// Errors: `ENOENT` for a removed directory (as `getcwd`) or no such inode,
    /// `ENOTDIR` for a non-directory.
    pub fn path_of(&self, ino: Ino) -> Result<String, Errno> {
        let mut names = Vec::new();
        let mut cur = ino;
        while cur != ROOT_INO {
            let dir = self.dir(cur)?;
            if self.is_dead(cur) || names.len() > self.inodes.len() {
                return Err(ENOENT);
            }
            let name = self
                .dir(dir.parent)?
                .entries
                .iter()
                .find(|(_, s)| s.ino == cur)
                .map(|(n, _)| n.as_str())
                .ok_or(ENOENT)?;
            names.push(name);
            cur = dir.parent;
        }
        if names.is_empty() {
            return Ok(String::from("/"));
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(name);
        }
        Ok(path)
    }

    /// Count an open file (or cwd) referring to `ino`. Errors: `ENOENT`.
    pub fn open_inc(&mut self, ino: Ino) -> Result<(), Errno> {
        let i = self.inode_mut(ino)?;
        i.open_count = i.open_count.checked_add(1).ok_or(ENOMEM)?;
        Ok(())
    }

    /// The end of one [`RamFs::open_inc`]: the last one frees an inode that has no
    /// name left, and its data. Errors: `ENOENT`; `EINVAL` if it is not open.
    pub fn close_dec(&mut self, ino: Ino) -> Result<(), Errno> {
        let i = self.inode_mut(ino)?;
        i.open_count = i.open_count.checked_sub(1).ok_or(EINVAL)?;
        self.maybe_free(ino);
        Ok(())
    }

    /// A writer of `ino` (an open for writing, a truncate; Linux
    /// `get_write_access`): ETXTBSY while a process runs it. Ended by
    /// [`RamFs::put_write_access`].
    pub fn get_write_access(&mut self, ino: Ino) -> Result<(), Errno> {
        let i = self.inode_mut(ino)?;
        if i.writecount < 0 {
            return Err(ETXTBSY);
        }
        i.writecount = i.writecount.checked_add(1).ok_or(ENFILE)?;
        Ok(())
    }

    /// The end of one [`RamFs::get_write_access`].
    pub fn put_write_access(&mut self, ino: Ino) {
        if let Ok(i) = self.inode_mut(ino) {
            i.writecount -= 1;
        }
    }

    /// A process runs `ino` (Linux `exe_file_deny_write_access`): ETXTBSY
    /// while it is open for writing; otherwise writers are refused until
    /// [`RamFs::allow_write_access`], and the inode is held (as an open file
    /// holds it) meanwhile.
    pub fn deny_write_access(&mut self, ino: Ino) -> Result<(), Errno> {
        let i = self.inode_mut(ino)?;
        if i.writecount > 0 {
            return Err(ETXTBSY);
        }
        i.open_count = i.open_count.checked_add(1).ok_or(ENOMEM)?;
        i.writecount -= 1;
        Ok(())
    }

    /// The end of one [`RamFs::deny_write_access`].
    pub fn allow_write_access(&mut self, ino: Ino) {
        if let Ok(i) = self.inode_mut(ino) {
            i.writecount += 1;
        }
        let _ = self.close_dec(ino);
    }

    /// Unpack a cpio newc archive into this file system: directories, regular
    /// files and character devices, with the archive's permissions, owner and
    /// mtime (atime = mtime; ctime is the clock's time). The root entry (`.`) is
    /// skipped; missing parent directories are created (mode 0755, owner 0:0). As
    /// Linux's initramfs unpacker, a later entry replaces an earlier one of the same
    /// name (a directory only if empty), and regular files with `nlink` ≥ 2 sharing
    /// device and inode numbers become hard links (the data may come with any of
    /// them). The number of archive entries unpacked (not counting `.`, implicit
    /// directories or the trailer).
    ///
    /// Errors: [`UnpackError::Unsupported`] for symbolic links, FIFOs, sockets and
    /// block devices; `BadName` for a `..` component; `Fs` with the errno of the
    /// failing operation; `Cpio` for a malformed archive. What was unpacked before
    /// the error stays.
    pub fn unpack_cpio(&mut self, archive: &[u8]) -> Result<usize, UnpackError> {
        self.unpack_cpio_except(archive, "")
    }

    /// [`RamFs::unpack_cpio`] without the member named `skip` (as the archive
    /// names it, without the leading `/`; "" skips nothing).
    pub fn unpack_cpio_except(&mut self, archive: &[u8], skip: &str) -> Result<usize, UnpackError> {
        let mut count = 0;
        let mut links: BTreeMap<(u32, u32, u32), Ino> = BTreeMap::new();
        let mut dir_times = Vec::new();
        for entry in cpio::entries(archive) {
            let e = entry?;
            if !skip.is_empty() && e.name == skip {
                continue;
            }
            let fs_err = |errno| UnpackError::Fs { name: String::from(e.name), errno };
            let components: Vec<&str> =
                e.name.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
            let Some((&name, parents)) = components.split_last() else {
                continue; // the root
            };
            if components.contains(&"..") {
                return Err(UnpackError::BadName { name: String::from(e.name) });
            }
            let ty = e.mode & S_IFMT;
            if !matches!(ty, S_IFDIR | S_IFREG | S_IFCHR) {
                return Err(UnpackError::Unsupported { name: String::from(e.name), mode: e.mode });
            }
            let mut dir = ROOT_INO;
            for &c in parents {
                dir = match self.child(dir, c).map_err(fs_err)? {
                    Some(ino) => ino,
                    None => self.mkdir(dir, c, 0o755).map_err(fs_err)?,
                };
            }
            let existing = self.child(dir, name).map_err(fs_err)?;
            let existing_dir = existing.filter(|&i| self.inode(i).is_ok_and(|i| i.is_dir()));
            let link_key = (e.dev_major, e.dev_minor, e.ino);
            let link_to = match (ty, e.nlink >= 2) {
                (S_IFREG, true) => links.get(&link_key).copied().filter(|&t| self.inode(t).is_ok()),
                _ => None,
            };
            // Remove what is in the way, as Linux's clean_path and O_TRUNC do.
            match existing {
                Some(i) if Some(i) == link_to => {}
                Some(i) if Some(i) == existing_dir && ty == S_IFDIR => {}
                Some(_) if existing_dir.is_some() => self.rmdir(dir, name).map_err(fs_err)?,
                Some(i)
                    if ty == S_IFREG
                        && link_to.is_none()
                        && self.inode(i).is_ok_and(|i| i.d_type() == DT_REG) =>
                {
                    self.truncate(i, 0).map_err(fs_err)?
                }
                Some(_) => self.unlink(dir, name).map_err(fs_err)?,
                None => {}
            }
            let ino = match self.child(dir, name).map_err(fs_err)? {
                Some(ino) => ino,
                None => match (ty, link_to) {
                    (S_IFDIR, _) => self.mkdir(dir, name, e.mode).map_err(fs_err)?,
                    (S_IFCHR, _) => {
                        let rdev = makedev(e.rdev_major, e.rdev_minor);
                        self.mknod(dir, name, e.mode, rdev).map_err(fs_err)?
                    }
                    (_, Some(target)) => {
                        self.link(target, dir, name).map_err(fs_err)?;
                        target
                    }
                    _ => self.create(dir, name, e.mode).map_err(fs_err)?,
                },
            };
            if ty == S_IFREG {
                if e.nlink >= 2 {
                    links.entry(link_key).or_insert(ino);
                }
                if !e.data.is_empty() {
                    if link_to.is_some() {
                        self.truncate(ino, 0).map_err(fs_err)?;
                    }
                    let n = self.write_at(ino, 0, e.data).map_err(fs_err)?;
                    if n < e.data.len() {
                        return Err(fs_err(ENOSPC));
                    }
                }
            }
            self.chmod(ino, e.mode).map_err(fs_err)?;
            self.chown(ino, Some(e.uid), Some(e.gid)).map_err(fs_err)?;
            let mtime = u64::from(e.mtime) * 1_000_000_000;
            self.set_times(ino, Some(mtime), Some(mtime)).map_err(fs_err)?;
            if ty == S_IFDIR {
                // Applied at the end: adding entries changes a directory's mtime.
                dir_times.push((ino, mtime));
            }
            count += 1;
        }
        for (ino, mtime) in dir_times {
            let _ = self.set_times(ino, Some(mtime), Some(mtime));
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs() -> RamFs {
        RamFs::new(1 << 20)
    }

    /// All names `readdir` returns from cookie 0, in order.
    fn list(fs: &RamFs, dir: Ino) -> Vec<String> {
        let mut names = Vec::new();
        let mut cookie = 0;
        while let Some(e) = fs.readdir(dir, cookie).unwrap() {
            names.push(e.name);
            cookie = e.next_cookie;
        }
        names
    }

    fn write_file(fs: &mut RamFs, path: &str, data: &[u8]) -> Ino {
        let (p, name) = fs.lookup_parent(ROOT_INO, path).unwrap();
        let ino = fs.create(p, &name, 0o644).unwrap();
        assert_eq!(fs.write_at(ino, 0, data), Ok(data.len()));
        ino
    }

    #[test]
    fn shared_contents_stay_as_they_were() {
        let mut fs = fs();
        let f = write_file(&mut fs, "/exe", b"version 1");
        let held = fs.file_data_shared(f).unwrap();
        assert_eq!(fs.write_at(f, 8, b"2"), Ok(1));
        assert_eq!(held.as_slice(), b"version 1", "an exec's copy is not written");
        assert_eq!(fs.file_data(f).unwrap(), b"version 2");
        let held = fs.file_data_shared(f).unwrap();
        fs.truncate(f, 3).unwrap();
        assert_eq!((held.as_slice(), fs.file_data(f).unwrap()), (&b"version 2"[..], &b"ver"[..]));
        assert_eq!(fs.used_bytes(), 3);
        assert_eq!(fs.file_data_shared(ROOT_INO), Err(EISDIR));
    }

    #[test]
    fn lookup_paths() {
        let mut fs = fs();
        let a = fs.mkdir(ROOT_INO, "a", 0o755).unwrap();
        let b = fs.mkdir(a, "b", 0o755).unwrap();
        let f = fs.create(b, "f", 0o644).unwrap();
        assert_eq!(fs.lookup(ROOT_INO, "/"), Ok(ROOT_INO));
        assert_eq!(fs.lookup(ROOT_INO, "//"), Ok(ROOT_INO));
        assert_eq!(fs.lookup(f, "/a/b/f"), Ok(f)); // dir ignored for absolute paths
        assert_eq!(fs.lookup(ROOT_INO, "a//b///f"), Ok(f));
        assert_eq!(fs.lookup(ROOT_INO, "./a/./b/../b/f"), Ok(f));
        assert_eq!(fs.lookup(b, "f"), Ok(f));
        assert_eq!(fs.lookup(b, ".."), Ok(a));
        assert_eq!(fs.lookup(b, "../.."), Ok(ROOT_INO));
        assert_eq!(fs.lookup(b, "../../../.."), Ok(ROOT_INO));
        assert_eq!(fs.lookup(ROOT_INO, "/.."), Ok(ROOT_INO));
        assert_eq!(fs.lookup(ROOT_INO, "a/b/"), Ok(b));
        assert_eq!(fs.lookup(ROOT_INO, "a/b/."), Ok(b));
        assert_eq!(fs.lookup(b, "."), Ok(b));

        assert_eq!(fs.lookup(ROOT_INO, ""), Err(ENOENT));
        assert_eq!(fs.lookup(ROOT_INO, "a/x"), Err(ENOENT));
        assert_eq!(fs.lookup(ROOT_INO, "x/b"), Err(ENOENT));
        assert_eq!(fs.lookup(ROOT_INO, "a/b/f/"), Err(ENOTDIR));
        assert_eq!(fs.lookup(ROOT_INO, "a/b/f/."), Err(ENOTDIR));
        assert_eq!(fs.lookup(ROOT_INO, "a/b/f/.."), Err(ENOTDIR));
        assert_eq!(fs.lookup(ROOT_INO, "a/b/f/x"), Err(ENOTDIR));
        assert_eq!(fs.lookup(f, "x"), Err(ENOTDIR)); // relative to a file
        assert_eq!(fs.lookup(999, "x"), Err(ENOENT));

        let long = "n".repeat(256);
        assert_eq!(fs.lookup(ROOT_INO, &long), Err(ENAMETOOLONG));
        assert_eq!(fs.lookup(ROOT_INO, &format!("a/{long}/x")), Err(ENAMETOOLONG));
        // A missing short component is found missing before a long one is seen.
        assert_eq!(fs.lookup(ROOT_INO, &format!("x/{long}")), Err(ENOENT));
        let ok_name = "n".repeat(255);
        fs.create(ROOT_INO, &ok_name, 0o644).unwrap();
        assert!(fs.lookup(ROOT_INO, &ok_name).is_ok());

        // 4095 bytes is a valid path length, 4096 is not.
        let path = "./".repeat(2046) + "a/"; // 4094 bytes
        assert_eq!(path.len(), 4094);
        assert_eq!(fs.lookup(ROOT_INO, &(path.clone() + "b")), Ok(b));
        assert_eq!(fs.lookup(ROOT_INO, &(path + "b/")), Err(ENAMETOOLONG));
    }

    #[test]
    fn lookup_parent_forms() {
        let mut fs = fs();
        let a = fs.mkdir(ROOT_INO, "a", 0o755).unwrap();
        let f = fs.create(a, "f", 0o644).unwrap();
        let lp = |fs: &RamFs, dir, p: &str| fs.lookup_parent(dir, p);
        assert_eq!(lp(&fs, ROOT_INO, "/a/new"), Ok((a, "new".into())));
        assert_eq!(lp(&fs, ROOT_INO, "a/new//"), Ok((a, "new/".into())));
        assert_eq!(lp(&fs, a, "new"), Ok((a, "new".into())));
        assert_eq!(lp(&fs, a, "../a/."), Ok((a, ".".into())));
        assert_eq!(lp(&fs, a, "./../"), Ok((a, "..".into())));
        assert_eq!(lp(&fs, a, "/"), Ok((ROOT_INO, "/".into())));
        assert_eq!(lp(&fs, a, "///"), Ok((ROOT_INO, "/".into())));
        assert_eq!(lp(&fs, ROOT_INO, "/x"), Ok((ROOT_INO, "x".into())));
        assert_eq!(lp(&fs, ROOT_INO, ""), Err(ENOENT));
        assert_eq!(lp(&fs, ROOT_INO, "x/y"), Err(ENOENT));
        assert_eq!(lp(&fs, ROOT_INO, "a/f/y"), Err(ENOTDIR));
        assert_eq!(lp(&fs, f, "y"), Err(ENOTDIR));
        assert_eq!(lp(&fs, ROOT_INO, &"n".repeat(256)), Err(ENAMETOOLONG));
        assert_eq!(lp(&fs, ROOT_INO, &"/".repeat(4096)), Err(ENAMETOOLONG));
    }

    #[test]
    fn create_and_mkdir() {
        let mut fs = fs();
        fs.set_time(5);
        let d = fs.mkdir(ROOT_INO, "d/", 0o7777).unwrap();
        let st = fs.stat(d).unwrap();
        assert_eq!((st.mode, st.nlink, st.size, st.mtime_ns), (S_IFDIR | 0o1777, 2, 40, 5));
        assert_eq!(fs.stat(ROOT_INO).unwrap().nlink, 3);
        fs.set_time(6);
        let f = fs.create(d, "f", S_IFDIR | 0o4755).unwrap();
        let st = fs.stat(f).unwrap();
        assert_eq!((st.mode, st.nlink, st.size, st.uid, st.gid), (S_IFREG | 0o4755, 1, 0, 0, 0));
        assert_eq!((st.atime_ns, st.mtime_ns, st.ctime_ns), (6, 6, 6));
        assert_eq!(fs.stat(d).unwrap().mtime_ns, 6);
        assert_eq!(fs.stat(d).unwrap().size, 60);
        assert_eq!(fs.stat(d).unwrap().nlink, 2); // files do not count

        assert_eq!(fs.create(d, "f", 0o644), Err(EEXIST));
        assert_eq!(fs.create(d, ".", 0o644), Err(EEXIST));
        assert_eq!(fs.create(d, "..", 0o644), Err(EEXIST));
        assert_eq!(fs.create(d, "/", 0o644), Err(EEXIST));
        assert_eq!(fs.create(d, "g/", 0o644), Err(EISDIR));
        assert_eq!(fs.create(d, "f/", 0o644), Err(EISDIR));
        assert_eq!(fs.create(f, "g", 0o644), Err(ENOTDIR));
        assert_eq!(fs.create(d, "", 0o644), Err(ENOENT));
        assert_eq!(fs.create(d, "a/b", 0o644), Err(EINVAL));
        assert_eq!(fs.create(d, &"n".repeat(256), 0o644), Err(ENAMETOOLONG));
        assert_eq!(fs.mkdir(d, "f", 0o755), Err(EEXIST));
        assert_eq!(fs.mkdir(d, ".", 0o755), Err(EEXIST));
        assert_eq!(fs.mkdir(d, "..", 0o755), Err(EEXIST));
        assert_eq!(fs.mkdir(ROOT_INO, "/", 0o755), Err(EEXIST));
        assert_eq!(fs.mkdir(f, "x", 0o755), Err(ENOTDIR));
        assert_eq!(fs.mkdir(999, "x", 0o755), Err(ENOENT));
        assert_eq!(fs.mkdir(d, &"n".repeat(256), 0o755), Err(ENAMETOOLONG));
    }

    #[test]
    fn mknod_and_char_devices() {
        let mut fs = fs();
        let dev = fs.mkdir(ROOT_INO, "dev", 0o755).unwrap();
        let con = fs.mknod(dev, "console", S_IFCHR | 0o600, makedev(5, 1)).unwrap();
        let st = fs.stat(con).unwrap();
        assert!(st.is_chr() && !st.is_dir() && !st.is_reg());
        assert_eq!((st.mode, st.rdev, st.size), (S_IFCHR | 0o600, makedev(5, 1), 0));
        assert_eq!((major(st.rdev), minor(st.rdev)), (5, 1));
        assert_eq!(makedev(5, 1), 0x501);
        assert_eq!((major(makedev(4100, 300_000)), minor(makedev(4100, 300_000))), (4100, 300_000));
        assert_eq!(fs.read_at(con, 0, &mut [0; 4]), Err(ENXIO));
        assert_eq!(fs.write_at(con, 0, b"x"), Err(ENXIO));
        assert_eq!(fs.truncate(con, 0), Err(EINVAL));
        assert_eq!(fs.readdir(dev, 2).unwrap().unwrap().d_type, DT_CHR);
        let r = fs.mknod(dev, "r", 0o644, 0).unwrap();
        assert_eq!(fs.stat(r).unwrap().mode, S_IFREG | 0o644);
        assert_eq!(fs.mknod(dev, "d", S_IFDIR | 0o755, 0), Err(EPERM));
        assert_eq!(fs.mknod(dev, "p", S_IFIFO | 0o644, 0), Err(EPERM));
        assert_eq!(fs.mknod(dev, "b", S_IFBLK | 0o644, 0), Err(EPERM));
        assert_eq!(fs.mknod(dev, "x", 0o170000, 0), Err(EINVAL));
        assert_eq!(fs.mknod(dev, "console", S_IFCHR, 0), Err(EEXIST));
        assert_eq!(fs.mknod(dev, "console/", S_IFCHR, 0), Err(EEXIST));
        assert_eq!(fs.mknod(dev, "new/", S_IFCHR, 0), Err(ENOENT));
        assert_eq!(fs.mknod(dev, ".", S_IFCHR, 0), Err(EEXIST));
        assert_eq!(fs.unlink(dev, "console"), Ok(()));
        assert_eq!(fs.stat(con), Err(ENOENT));
    }

    #[test]
    fn unlink_and_rmdir_errors() {
        let mut fs = fs();
        let d = fs.mkdir(ROOT_INO, "d", 0o755).unwrap();
        let e = fs.mkdir(d, "e", 0o755).unwrap();
        let f = fs.create(d, "f", 0o644).unwrap();
        assert_eq!(fs.stat(d).unwrap().nlink, 3);

        assert_eq!(fs.unlink(d, "e"), Err(EISDIR));
        assert_eq!(fs.unlink(d, "e/"), Err(EISDIR));
        assert_eq!(fs.unlink(d, "."), Err(EISDIR));
        assert_eq!(fs.unlink(d, ".."), Err(EISDIR));
        assert_eq!(fs.unlink(d, "/"), Err(EISDIR));
        assert_eq!(fs.unlink(d, "x"), Err(ENOENT));
        assert_eq!(fs.unlink(d, "x/"), Err(ENOENT));
        assert_eq!(fs.unlink(d, "f/"), Err(ENOTDIR));
        assert_eq!(fs.unlink(f, "x"), Err(ENOTDIR));
        assert_eq!(fs.rmdir(d, "."), Err(EINVAL));
        assert_eq!(fs.rmdir(d, ".."), Err(ENOTEMPTY));
        assert_eq!(fs.rmdir(ROOT_INO, "/"), Err(EBUSY));
        assert_eq!(fs.rmdir(d, "f"), Err(ENOTDIR));
        assert_eq!(fs.rmdir(d, "f/"), Err(ENOTDIR));
        assert_eq!(fs.rmdir(d, "x"), Err(ENOENT));
        assert_eq!(fs.rmdir(ROOT_INO, "d"), Err(ENOTEMPTY));

        fs.set_time(9);
        assert_eq!(fs.unlink(d, "f"), Ok(()));
        assert_eq!(fs.stat(f), Err(ENOENT));
        assert_eq!(fs.lookup(d, "f"), Err(ENOENT));
        assert_eq!(fs.stat(d).unwrap().mtime_ns, 9);
        assert_eq!(fs.rmdir(d, "e/"), Ok(()));
        assert_eq!(fs.stat(e), Err(ENOENT));
        assert_eq!(fs.stat(d).unwrap().nlink, 2);
        assert_eq!(fs.rmdir(ROOT_INO, "d"), Ok(()));
        assert_eq!(fs.stat(ROOT_INO).unwrap().nlink, 2);
        assert_eq!(fs.inode_count(), 1);
        assert_eq!(list(&fs, ROOT_INO), [".", ".."]);
    }

    #[test]
    fn read_write_truncate() {
        let mut fs = fs();
        let d = fs.mkdir(ROOT_INO, "d", 0o755).unwrap();
        fs.set_time(1);
        let f = fs.create(ROOT_INO, "f", 0o644).unwrap();
        fs.set_time(2);
        assert_eq!(fs.write_at(f, 0, b"hello"), Ok(5));
        assert_eq!(fs.stat(f).unwrap().mtime_ns, 2);
        assert_eq!(fs.write_at(f, 8, b"xy"), Ok(2)); // a hole of 3 zeros
        let mut buf = [0xffu8; 16];
        assert_eq!(fs.read_at(f, 0, &mut buf), Ok(10));
        assert_eq!(&buf[..10], b"hello\0\0\0xy");
        assert_eq!(fs.read_at(f, 3, &mut buf[..2]), Ok(2));
        assert_eq!(&buf[..2], b"lo");
        assert_eq!(fs.read_at(f, 10, &mut buf), Ok(0));
        assert_eq!(fs.read_at(f, u64::MAX, &mut buf), Ok(0));
        assert_eq!(fs.write_at(f, 1, b"EL"), Ok(2));
        assert_eq!(fs.file_data(f), Ok(&b"hELlo\0\0\0xy"[..]));
        let st = fs.stat(f).unwrap();
        assert_eq!((st.size, st.blocks, st.blksize), (10, 8, 4096));
        assert_eq!(fs.used_bytes(), 10);

        fs.set_time(3);
        assert_eq!(fs.write_at(f, 100, b""), Ok(0)); // nothing, no extension
        assert_eq!(fs.stat(f).unwrap().size, 10);
        assert_eq!(fs.stat(f).unwrap().mtime_ns, 2);
        assert_eq!(fs.truncate(f, 10), Ok(())); // same size: times unchanged
        assert_eq!(fs.stat(f).unwrap().mtime_ns, 2);
        assert_eq!(fs.truncate(f, 3), Ok(()));
        assert_eq!(fs.file_data(f), Ok(&b"hEL"[..]));
        assert_eq!(fs.stat(f).unwrap().ctime_ns, 3);
        assert_eq!(fs.truncate(f, 4097), Ok(()));
        assert_eq!(fs.stat(f).unwrap().blocks, 16);
        assert_eq!(fs.read_at(f, 3, &mut buf), Ok(16));
        assert_eq!(buf, [0; 16]);
        assert_eq!(fs.used_bytes(), 4097);
        assert_eq!(fs.truncate(f, 0), Ok(()));
        assert_eq!(fs.used_bytes(), 0);

        assert_eq!(fs.read_at(d, 0, &mut buf), Err(EISDIR));
        assert_eq!(fs.write_at(d, 0, b"x"), Err(EISDIR));
        assert_eq!(fs.truncate(d, 0), Err(EISDIR));
        assert_eq!(fs.file_data(d), Err(EISDIR));
        assert_eq!(fs.read_at(999, 0, &mut buf), Err(ENOENT));
        assert_eq!(fs.write_at(999, 0, b"x"), Err(ENOENT));
    }

    #[test]
    fn file_size_limit() {
        let mut fs = fs();
        fs.set_max_file_size(10);
        let f = fs.create(ROOT_INO, "f", 0o644).unwrap();
        assert_eq!(fs.write_at(f, 8, b"abcd"), Ok(2)); // short, as Linux
        assert_eq!(fs.write_at(f, 10, b"x"), Err(EFBIG));
        assert_eq!(fs.write_at(f, u64::MAX, b"x"), Err(EFBIG));
        assert_eq!(fs.truncate(f, 11), Err(EFBIG));
        assert_eq!(fs.truncate(f, 10), Ok(()));
        let mut fs = RamFs::new(u64::MAX);
        let g = fs.create(ROOT_INO, "g", 0o644).unwrap();
        assert_eq!(fs.write_at(g, MAX_FILE_SIZE, b"x"), Err(EFBIG));
    }

    #[test]
    fn enospc() {
        let mut fs = RamFs::new(10);
        let a = fs.create(ROOT_INO, "a", 0o644).unwrap();
        let b = fs.create(ROOT_INO, "b", 0o644).unwrap();
        assert_eq!(fs.write_at(a, 0, b"123456"), Ok(6));
        assert_eq!(fs.write_at(b, 0, b"abcdef"), Ok(4)); // what fits
        assert_eq!(fs.write_at(b, 4, b"x"), Err(ENOSPC));
        assert_eq!(fs.write_at(b, 100, b"x"), Err(ENOSPC));
        assert_eq!(fs.write_at(b, 0, b"ABCD"), Ok(4)); // overwriting needs no space
        assert_eq!(fs.truncate(a, 7), Err(ENOSPC));
        assert_eq!(fs.used_bytes(), 10);
        assert_eq!(fs.truncate(a, 2), Ok(()));
        assert_eq!(fs.write_at(b, 4, b"xyzwv"), Ok(4));
        assert_eq!(fs.used_bytes(), 10);
        assert_eq!(fs.unlink(ROOT_INO, "b"), Ok(()));
        assert_eq!(fs.used_bytes(), 2);
        assert_eq!(fs.write_at(a, 2, b"12345678"), Ok(8));
        assert_eq!(fs.capacity(), 10);
    }

    #[test]
    fn unlink_while_open_keeps_data_until_last_close() {
        let mut fs = fs();
        let f = write_file(&mut fs, "/f", b"still here");
        fs.open_inc(f).unwrap();
        fs.open_inc(f).unwrap();
        fs.set_time(7);
        fs.unlink(ROOT_INO, "f").unwrap();
        assert_eq!(fs.lookup(ROOT_INO, "f"), Err(ENOENT));
        let st = fs.stat(f).unwrap();
        assert_eq!((st.nlink, st.size, st.ctime_ns), (0, 10, 7));
        assert_eq!(fs.write_at(f, 10, b"!"), Ok(1));
        let mut buf = [0; 11];
        assert_eq!(fs.read_at(f, 0, &mut buf), Ok(11));
        assert_eq!(&buf, b"still here!");
        assert_eq!(fs.used_bytes(), 11);
        assert_eq!(fs.link(f, ROOT_INO, "again"), Err(ENOENT));
        // A new file of the same name is another inode.
        let g = fs.create(ROOT_INO, "f", 0o644).unwrap();
        assert_ne!(f, g);
        fs.close_dec(f).unwrap();
        assert!(fs.stat(f).is_ok());
        fs.close_dec(f).unwrap();
        assert_eq!(fs.stat(f), Err(ENOENT));
        assert_eq!(fs.used_bytes(), 0);
        assert_eq!(fs.close_dec(f), Err(ENOENT));
        assert_eq!(fs.close_dec(g), Err(EINVAL)); // not open
                                                  // Closing a file that still has a name frees nothing.
        fs.open_inc(g).unwrap();
        fs.close_dec(g).unwrap();
        assert!(fs.stat(g).is_ok());
    }

    #[test]
    fn removed_directory_while_open() {
        let mut fs = fs();
        let d = fs.mkdir(ROOT_INO, "d", 0o755).unwrap();
        let e = fs.mkdir(d, "e", 0o755).unwrap();
        fs.open_inc(e).unwrap(); // a cwd
        fs.rmdir(d, "e").unwrap();
        assert_eq!(fs.stat(e).unwrap().nlink, 0);
        assert_eq!(fs.readdir(e, 0), Err(ENOENT));
        assert_eq!(fs.create(e, "x", 0o644), Err(ENOENT));
        assert_eq!(fs.mkdir(e, "x", 0o755), Err(ENOENT));
        assert_eq!(fs.lookup(e, "x"), Err(ENOENT));
        assert_eq!(fs.lookup(e, "."), Ok(e));
        assert_eq!(fs.lookup(e, ".."), Ok(d));
        assert_eq!(fs.path_of(e), Err(ENOENT));
        fs.rmdir(ROOT_INO, "d").unwrap();
        assert_eq!(fs.lookup(e, ".."), Err(ENOENT)); // its parent is gone too
        fs.close_dec(e).unwrap();
        assert_eq!(fs.inode_count(), 1);
    }

    #[test]
    fn hard_links() {
        let mut fs = fs();
        let d = fs.mkdir(ROOT_INO, "d", 0o755).unwrap();
        let f = write_file(&mut fs, "/f", b"data");
        fs.set_time(4);
        assert_eq!(fs.link(f, d, "g"), Ok(()));
        assert_eq!(fs.stat(f).unwrap().nlink, 2);
        assert_eq!(fs.stat(f).unwrap().ctime_ns, 4);
        assert_eq!(fs.lookup(ROOT_INO, "/d/g"), Ok(f));
        assert_eq!(fs.link(f, d, "g"), Err(EEXIST));
        assert_eq!(fs.link(f, d, "."), Err(EEXIST));
        assert_eq!(fs.link(f, d, "h/"), Err(ENOENT));
        assert_eq!(fs.link(f, d, "g/"), Err(EEXIST));
        assert_eq!(fs.link(d, ROOT_INO, "dd"), Err(EPERM));
        assert_eq!(fs.link(999, ROOT_INO, "x"), Err(ENOENT));
        fs.unlink(ROOT_INO, "f").unwrap();
        assert_eq!(fs.stat(f).unwrap().nlink, 1);
        assert_eq!(fs.file_data(f), Ok(&b"data"[..]));
        fs.unlink(d, "g").unwrap();
        assert_eq!(fs.stat(f), Err(ENOENT));
    }

    #[test]
    fn rename_moves_and_replaces() {
        let mut fs = fs();
        let a = fs.mkdir(ROOT_INO, "a", 0o755).unwrap();
        let b = fs.mkdir(ROOT_INO, "b", 0o755).unwrap();
        let f = write_file(&mut fs, "/a/f", b"f");
        let g = write_file(&mut fs, "/b/g", b"g");
        fs.set_time(3);
        // A file onto another: the target is replaced and freed.
        assert_eq!(fs.rename(a, "f", b, "g", 0), Ok(()));
        assert_eq!(fs.lookup(ROOT_INO, "/b/g"), Ok(f));
        assert_eq!(fs.lookup(ROOT_INO, "/a/f"), Err(ENOENT));
        assert_eq!(fs.stat(g), Err(ENOENT));
        assert_eq!(fs.used_bytes(), 1);
        assert_eq!(fs.stat(f).unwrap().ctime_ns, 3);
        assert_eq!(fs.stat(a).unwrap().mtime_ns, 3);
        // A directory to another parent: link counts and `..` follow.
        let c = fs.mkdir(a, "c", 0o755).unwrap();
        assert_eq!(fs.stat(a).unwrap().nlink, 3);
        assert_eq!(fs.rename(a, "c", b, "c2", 0), Ok(()));
        assert_eq!(fs.stat(a).unwrap().nlink, 2);
        assert_eq!(fs.stat(b).unwrap().nlink, 3);
        assert_eq!(fs.lookup(c, ".."), Ok(b));
        assert_eq!(fs.readdir(c, 1).unwrap().unwrap().ino, b);
        assert_eq!(fs.path_of(c).unwrap(), "/b/c2");
        // A directory onto an empty directory.
        let e = fs.mkdir(a, "e", 0o755).unwrap();
        assert_eq!(fs.rename(b, "c2", a, "e", 0), Ok(()));
        assert_eq!(fs.stat(e), Err(ENOENT));
        assert_eq!(fs.lookup(ROOT_INO, "/a/e"), Ok(c));
        assert_eq!((fs.stat(a).unwrap().nlink, fs.stat(b).unwrap().nlink), (3, 2));
        // Within one directory, and onto another name of the same inode.
        assert_eq!(fs.rename(b, "g", b, "h", 0), Ok(()));
        fs.link(f, b, "h2").unwrap();
        assert_eq!(fs.rename(b, "h", b, "h2", 0), Ok(()));
        assert_eq!(fs.stat(f).unwrap().nlink, 2);
        assert_eq!(fs.rename(b, "h", b, "h", 0), Ok(()));
        assert_eq!(fs.rename(a, "e/", a, "e2/", RENAME_NOREPLACE), Ok(()));
    }

    #[test]
    fn rename_errors() {
        let mut fs = fs();
        let a = fs.mkdir(ROOT_INO, "a", 0o755).unwrap();
        let sub = fs.mkdir(a, "sub", 0o755).unwrap();
        let full = fs.mkdir(ROOT_INO, "full", 0o755).unwrap();
        fs.create(full, "x", 0o644).unwrap();
        fs.create(ROOT_INO, "f", 0o644).unwrap();
        fs.create(ROOT_INO, "g", 0o644).unwrap();
        let r = ROOT_INO;
        assert_eq!(fs.rename(r, "f", r, "g", RENAME_EXCHANGE), Err(EINVAL));
        assert_eq!(fs.rename(r, "f", r, "g", RENAME_WHITEOUT), Err(EINVAL));
        assert_eq!(fs.rename(a, ".", r, "z", 0), Err(EBUSY));
        assert_eq!(fs.rename(a, "..", r, "z", 0), Err(EBUSY));
        assert_eq!(fs.rename(r, "/", r, "z", 0), Err(EBUSY));
        assert_eq!(fs.rename(r, "f", a, ".", 0), Err(EBUSY));
        assert_eq!(fs.rename(r, "f", a, ".", RENAME_NOREPLACE), Err(EEXIST));
        assert_eq!(fs.rename(r, "missing", r, "z", 0), Err(ENOENT));
        assert_eq!(fs.rename(r, "f", r, "g", RENAME_NOREPLACE), Err(EEXIST));
        assert_eq!(fs.rename(r, "f/", r, "z", 0), Err(ENOTDIR));
        assert_eq!(fs.rename(r, "f", r, "z/", 0), Err(ENOTDIR));
        assert_eq!(fs.rename(r, "a", sub, "z", 0), Err(EINVAL)); // into itself
        assert_eq!(fs.rename(r, "a", a, "z", 0), Err(EINVAL));
        assert_eq!(fs.rename(a, "sub", r, "a", 0), Err(ENOTEMPTY)); // over its parent
        assert_eq!(fs.rename(r, "a", r, "f", 0), Err(ENOTDIR));
        assert_eq!(fs.rename(r, "f", r, "a", 0), Err(EISDIR));
        assert_eq!(fs.rename(r, "a", r, "full", 0), Err(ENOTEMPTY));
        assert_eq!(fs.rename(r, "f", 999, "z", 0), Err(ENOENT));
        fs.open_inc(sub).unwrap();
        fs.rmdir(a, "sub").unwrap();
        assert_eq!(fs.rename(r, "f", sub, "z", 0), Err(ENOENT)); // removed parent
                                                                 // Nothing changed.
        assert_eq!(list(&fs, r), [".", "..", "a", "full", "f", "g"]);
    }

    #[test]
    fn readdir_order_types_and_errors() {
        let mut fs = fs();
        let d = fs.mkdir(ROOT_INO, "d", 0o755).unwrap();
        let z = fs.create(d, "z", 0o644).unwrap();
        let a = fs.mkdir(d, "a", 0o755).unwrap();
        fs.mknod(d, "c", S_IFCHR | 0o600, makedev(1, 3)).unwrap();
        let e0 = fs.readdir(d, 0).unwrap().unwrap();
        assert_eq!(e0, DirEntry { ino: d, name: ".".into(), d_type: DT_DIR, next_cookie: 1 });
        let e1 = fs.readdir(d, 1).unwrap().unwrap();
        assert_eq!(
            e1,
            DirEntry { ino: ROOT_INO, name: "..".into(), d_type: DT_DIR, next_cookie: 2 }
        );
        let e2 = fs.readdir(d, 2).unwrap().unwrap();
        assert_eq!((e2.ino, e2.name.as_str(), e2.d_type), (z, "z", DT_REG));
        let e3 = fs.readdir(d, e2.next_cookie).unwrap().unwrap();
        assert_eq!((e3.ino, e3.d_type), (a, DT_DIR));
        assert_eq!(list(&fs, d), [".", "..", "z", "a", "c"]);
        assert_eq!(fs.readdir(ROOT_INO, 1).unwrap().unwrap().ino, ROOT_INO);
        assert_eq!(fs.readdir(d, 1000), Ok(None));
        assert_eq!(fs.readdir(d, u64::MAX), Ok(None));
        assert_eq!(fs.readdir(z, 0), Err(ENOTDIR));
        assert_eq!(fs.readdir(999, 0), Err(ENOENT));
    }

    /// getdents64-style scans resume at their cookie while the directory changes:
    /// no entry that exists throughout is skipped or returned twice.
    #[test]
    fn readdir_resumes_while_the_directory_changes() {
        let mut fs = fs();
        for i in 0..10 {
            fs.create(ROOT_INO, &format!("f{i}"), 0o644).unwrap();
        }
        let mut seen = Vec::new();
        let mut cookie = 0;
        let mut step = 0;
        while let Some(e) = fs.readdir(ROOT_INO, cookie).unwrap() {
            seen.push(e.name.clone());
            cookie = e.next_cookie;
            step += 1;
            // Between "calls": remove the entry just returned, one not yet
            // returned, and one already returned; add a new one.
            match step {
                4 => fs.unlink(ROOT_INO, &e.name).unwrap(),
                5 => fs.unlink(ROOT_INO, "f7").unwrap(),
                6 => fs.unlink(ROOT_INO, "f0").unwrap(),
                7 => {
                    fs.create(ROOT_INO, "new", 0o644).unwrap();
                }
                _ => {}
            }
        }
        assert_eq!(seen, [".", "..", "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f8", "f9", "new"]);
        assert_eq!(
            list(&fs, ROOT_INO),
            [".", "..", "f2", "f3", "f4", "f5", "f6", "f8", "f9", "new"]
        );
        // Re-reading from a saved cookie after its entry was removed continues
        // with the next one.
        let c = fs.readdir(ROOT_INO, 2).unwrap().unwrap();
        assert_eq!(c.name, "f2");
        let after = fs.readdir(ROOT_INO, c.next_cookie).unwrap().unwrap();
        assert_eq!(after.name, "f3");
        fs.unlink(ROOT_INO, "f2").unwrap();
        fs.unlink(ROOT_INO, "f3").unwrap();
        assert_eq!(fs.readdir(ROOT_INO, c.next_cookie).unwrap().unwrap().name, "f4");
    }

    #[test]
    fn attributes() {
        let mut fs = fs();
        let f = fs.create(ROOT_INO, "f", 0o6755).unwrap();
        fs.set_time(11);
        fs.chmod(f, S_IFDIR | 0o600).unwrap();
        let st = fs.stat(f).unwrap();
        assert_eq!((st.mode, st.ctime_ns), (S_IFREG | 0o600, 11));
        fs.chmod(f, 0o6755).unwrap();
        fs.chown(f, Some(1000), None).unwrap();
        let st = fs.stat(f).unwrap();
        assert_eq!((st.uid, st.gid, st.mode), (1000, 0, S_IFREG | 0o6755));
        assert_eq!(fs.used_blocks(), 0);
        let g = fs.create(ROOT_INO, "g", 0o644).unwrap();
        fs.write_at(g, 4095, b"ab").unwrap();
        assert_eq!(fs.used_blocks(), 2);
        fs.chown(f, None, Some(100)).unwrap();
        assert_eq!((fs.stat(f).unwrap().uid, fs.stat(f).unwrap().gid), (1000, 100));
        let d = fs.mkdir(ROOT_INO, "d", 0o2755).unwrap();
        assert_eq!(fs.stat(d).unwrap().mode, S_IFDIR | 0o755); // mkdir keeps 0o1777 only
        fs.chmod(d, 0o2755).unwrap();
        fs.chown(d, Some(1), Some(1)).unwrap();
        assert_eq!(fs.stat(d).unwrap().mode, S_IFDIR | 0o2755);
        fs.set_time(12);
        fs.set_times(f, Some(1), None).unwrap();
        let st = fs.stat(f).unwrap();
        assert_eq!((st.atime_ns, st.mtime_ns, st.ctime_ns), (1, 0, 12));
        fs.set_times(f, None, Some(2)).unwrap();
        assert_eq!(fs.stat(f).unwrap().mtime_ns, 2);
        assert_eq!(fs.chmod(999, 0), Err(ENOENT));
        assert_eq!(fs.chown(999, None, None), Err(ENOENT));
        assert_eq!(fs.set_times(999, None, None), Err(ENOENT));
        assert_eq!(fs.stat(999), Err(ENOENT));
        assert_eq!(fs.open_inc(999), Err(ENOENT));
    }

    #[test]
    fn path_of_directories() {
        let mut fs = fs();
        let a = fs.mkdir(ROOT_INO, "a", 0o755).unwrap();
        let b = fs.mkdir(a, "b", 0o755).unwrap();
        let f = fs.create(b, "f", 0o644).unwrap();
        assert_eq!(fs.path_of(ROOT_INO).unwrap(), "/");
        assert_eq!(fs.path_of(b).unwrap(), "/a/b");
        assert_eq!(fs.path_of(f), Err(ENOTDIR));
        assert_eq!(fs.path_of(999), Err(ENOENT));
    }

    /// Link counts, byte accounting and the two entry maps agree with the tree.
    fn check_invariants(fs: &RamFs) {
        let mut names_of: BTreeMap<Ino, u32> = BTreeMap::new();
        let mut used = 0;
        for (&ino, inode) in &fs.inodes {
            match &inode.kind {
                Kind::Regular { data } => used += data.len(),
                Kind::Directory(d) => {
                    assert_eq!(d.entries.len(), d.by_cookie.len());
                    for (c, name) in &d.by_cookie {
                        assert_eq!(d.entries[name].cookie, *c);
                        assert!(*c >= 2 && *c < d.next_cookie);
                    }
                    let mut subdirs = 0;
                    for slot in d.entries.values() {
                        let child = &fs.inodes[&slot.ino];
                        if let Kind::Directory(cd) = &child.kind {
                            subdirs += 1;
                            assert_eq!(cd.parent, ino);
                        }
                        *names_of.entry(slot.ino).or_default() += 1;
                    }
                    if inode.nlink > 0 {
                        assert_eq!(inode.nlink, 2 + subdirs, "directory {ino}");
                    }
                }
                Kind::CharDevice { .. } => {}
            }
        }
        assert_eq!(used, fs.used_bytes());
        assert!(used <= fs.capacity());
        for (&ino, inode) in &fs.inodes {
            let names = names_of.get(&ino).copied().unwrap_or(0);
            if inode.is_dir() {
                assert!(names <= 1);
                assert_eq!(names == 1 || ino == ROOT_INO, inode.nlink > 0, "directory {ino}");
            } else {
                assert_eq!(names, inode.nlink, "inode {ino}");
            }
            assert!(inode.nlink > 0 || inode.open_count > 0, "inode {ino} should be freed");
        }
    }

    /// Random operations on a small tree: whatever each returns, nothing panics
    /// and the invariants hold after every step.
    #[test]
    fn a_file_in_a_page_cache_reads_writes_and_truncates_as_before() {
        // The same operations on a file kept in a vector and on one moved to
        // a page cache (mapped), in two file systems of the same capacity:
        // the same results, sizes and accounting.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let new_fs = || {
            let mut fs = RamFs::new(20_000);
            fs.set_max_file_size(30_000);
            fs
        };
        let (mut fa, mut fb) = (new_fs(), new_fs());
        let flat = write_file(&mut fa, "/f", b"start");
        let paged = write_file(&mut fb, "/f", b"start");
        let cache = fb.page_cache(paged).unwrap();
        assert!(Arc::ptr_eq(&cache, &fb.page_cache(paged).unwrap()), "made once");
        assert!(fa.cached(flat).is_none());
        assert_eq!(fb.file_data(paged), Err(EBUSY));
        for step in 0..3_000 {
            let off = rand(32_000);
            let len = rand(9_000) as usize;
            let data: Vec<u8> = (0..len).map(|i| (i as u64 + step) as u8).collect();
            match rand(3) {
                0 => assert_eq!(
                    fa.write_at(flat, off, &data),
                    fb.write_at(paged, off, &data),
                    "step {step}"
                ),
                1 => assert_eq!(fa.truncate(flat, off), fb.truncate(paged, off), "step {step}"),
                _ => {
                    let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
                    assert_eq!(fa.read_at(flat, off, &mut a), fb.read_at(paged, off, &mut b));
                    assert_eq!(a, b, "step {step}");
                }
            }
            assert_eq!(fa.stat(flat).unwrap().size, fb.stat(paged).unwrap().size);
            assert_eq!(cache.size(), fb.stat(paged).unwrap().size);
            assert_eq!(fa.used_bytes(), fb.used_bytes());
        }
        let whole = fb.file_data_shared(paged).unwrap();
        assert_eq!(whole.as_slice(), fa.file_data(flat).unwrap());
        assert_eq!(fa.used_blocks(), fb.used_blocks());
        check_invariants(&fb);
        // Unlinked and not open, the inode lets go of its cache.
        fb.unlink(ROOT_INO, "f").unwrap();
        assert_eq!(Arc::strong_count(&cache), 1);
        assert_eq!(fb.used_bytes(), 0);
    }

    #[test]
    fn random_operations_keep_invariants() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let names = ["a", "b", "c", ".", "..", "a/", "/"];
        let paths = ["a", "b", "a/b", "b/a", "a/a/c", "c/b", ".", "a/..", "/"];
        let mut fs = RamFs::new(300);
        let mut open: Vec<Ino> = Vec::new();
        for step in 0..20_000 {
            fs.set_time(step);
            let dir =
                fs.lookup(ROOT_INO, paths[rand(paths.len() as u64) as usize]).unwrap_or(ROOT_INO);
            let name = names[rand(names.len() as u64) as usize];
            let ino = fs.inodes.keys().nth(rand(fs.inodes.len() as u64) as usize).copied().unwrap();
            let data = [b'x'; 64];
            let len = rand(64) as usize;
            let _ = match rand(14) {
                0 => fs.create(dir, name, 0o644).map(|_| ()),
                1 => fs.mkdir(dir, name, 0o755).map(|_| ()),
                2 => fs.unlink(dir, name),
                3 => fs.rmdir(dir, name),
                4 => fs.link(ino, dir, name),
                5 => {
                    let to = fs.lookup(ROOT_INO, paths[rand(paths.len() as u64) as usize]);
                    let to_name = names[rand(names.len() as u64) as usize];
                    fs.rename(dir, name, to.unwrap_or(ROOT_INO), to_name, rand(2) as u32)
                }
                6 => fs.write_at(ino, rand(200), &data[..len]).map(|_| ()),
                7 => fs.truncate(ino, rand(150)),
                8 => fs.open_inc(ino).map(|_| open.push(ino)),
                9 if !open.is_empty() => {
                    let i = open.swap_remove(rand(open.len() as u64) as usize);
                    fs.close_dec(i)
                }
                10 => fs.mknod(dir, name, S_IFCHR | 0o600, makedev(1, 3)).map(|_| ()),
                11 => fs.readdir(ino, rand(8)).map(|_| ()),
                12 => fs.path_of(ino).map(|_| ()),
                _ => fs.read_at(ino, rand(100), &mut [0; 16]).map(|_| ()),
            };
            check_invariants(&fs);
        }
        for ino in open {
            fs.close_dec(ino).unwrap();
        }
        check_invariants(&fs);
    }

    /// A newc archive as gen_init_cpio writes it.
    fn archive(entries: &[(&str, u32, &[u8], u32, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut push = |name: &str, mode: u32, data: &[u8], ino: u32, nlink: u32| {
            let header = format!(
                "070701{ino:08X}{mode:08X}{:08X}{:08X}{nlink:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
                1000,
                100,
                1_600_000_000u32,
                data.len(),
                0,
                0,
                5,
                1,
                name.len() + 1,
                0
            );
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.resize(out.len().next_multiple_of(4), 0);
            out.extend_from_slice(data);
            out.resize(out.len().next_multiple_of(4), 0);
        };
        for &(name, mode, data, ino, nlink) in entries {
            push(name, mode, data, ino, nlink);
        }
        push(cpio::TRAILER, 0, b"", 0, 1);
        out
    }

    #[test]
    fn writers_and_running_programs_exclude_each_other() {
        let mut fs = RamFs::new(1 << 20);
        let ino = fs.create(ROOT_INO, "prog", S_IFREG | 0o755).unwrap();
        // Open for writing: exec is refused.
        fs.get_write_access(ino).unwrap();
        assert_eq!(fs.deny_write_access(ino), Err(ETXTBSY));
        fs.put_write_access(ino);
        // Running (twice): writers are refused until both end.
        fs.deny_write_access(ino).unwrap();
        fs.deny_write_access(ino).unwrap();
        assert_eq!(fs.get_write_access(ino), Err(ETXTBSY));
        fs.allow_write_access(ino);
        assert_eq!(fs.get_write_access(ino), Err(ETXTBSY));
        // Unlinked while it runs: the inode stays until the last one ends.
        fs.unlink(ROOT_INO, "prog").unwrap();
        assert!(fs.stat(ino).is_ok());
        fs.allow_write_access(ino);
        assert_eq!(fs.stat(ino).map(|_| ()), Err(ENOENT));
    }

    #[test]
    fn unpack() {
        let mut fs = fs();
        fs.set_time(77);
        let a = archive(&[
            (".", S_IFDIR | 0o700, b"", 1, 2),
            ("bin", S_IFDIR | 0o755, b"", 2, 2),
            ("bin/init", S_IFREG | 0o755, b"\x7fELF...", 3, 1),
            ("etc/deep/motd", S_IFREG | 0o644, b"hi\n", 4, 1), // implicit parents
            ("dev/console", S_IFCHR | 0o600, b"", 5, 1),
            ("bin/link1", S_IFREG | 0o644, b"", 6, 2),
            ("bin/link2", S_IFREG | 0o644, b"shared", 6, 2),
        ]);
        assert_eq!(fs.unpack_cpio(&a), Ok(6));
        let init = fs.lookup(ROOT_INO, "/bin/init").unwrap();
        assert_eq!(fs.file_data(init), Ok(&b"\x7fELF..."[..]));
        let st = fs.stat(init).unwrap();
        assert_eq!((st.mode, st.uid, st.gid), (S_IFREG | 0o755, 1000, 100));
        assert_eq!(
            (st.mtime_ns, st.atime_ns, st.ctime_ns),
            (1_600_000_000_000_000_000, 1_600_000_000_000_000_000, 77)
        );
        let bin = fs.lookup(ROOT_INO, "/bin").unwrap();
        assert_eq!(fs.stat(bin).unwrap().mtime_ns, 1_600_000_000_000_000_000);
        let deep = fs.lookup(ROOT_INO, "/etc/deep").unwrap();
        let st = fs.stat(deep).unwrap();
        assert_eq!((st.mode, st.uid), (S_IFDIR | 0o755, 0));
        let motd = fs.lookup(deep, "motd").unwrap();
        assert_eq!(fs.file_data(motd), Ok(&b"hi\n"[..]));
        let con = fs.lookup(ROOT_INO, "/dev/console").unwrap();
        assert_eq!(fs.stat(con).unwrap().rdev, makedev(5, 1));
        let l1 = fs.lookup(ROOT_INO, "/bin/link1").unwrap();
        assert_eq!(fs.lookup(ROOT_INO, "/bin/link2"), Ok(l1));
        assert_eq!(fs.stat(l1).unwrap().nlink, 2);
        assert_eq!(fs.file_data(l1), Ok(&b"shared"[..]));
        assert_eq!(fs.stat(ROOT_INO).unwrap().mode, S_IFDIR | 0o755); // "." skipped
        assert_eq!(list(&fs, ROOT_INO), [".", "..", "bin", "etc", "dev"]);

        // A second archive replaces files and types, and merges directories.
        let b = archive(&[
            ("bin/init", S_IFREG | 0o700, b"new", 9, 1),
            ("bin", S_IFDIR | 0o711, b"", 10, 2),
            ("etc/deep/motd", S_IFDIR | 0o755, b"", 11, 2),
            ("dev/console", S_IFREG | 0o644, b"file now", 12, 1),
        ]);
        assert_eq!(fs.unpack_cpio(&b), Ok(4));
        assert_eq!(fs.lookup(ROOT_INO, "/bin/init"), Ok(init));
        assert_eq!(fs.file_data(init), Ok(&b"new"[..]));
        assert_eq!(fs.stat(bin).unwrap().mode, S_IFDIR | 0o711);
        assert!(fs.stat(fs.lookup(ROOT_INO, "/etc/deep/motd").unwrap()).unwrap().is_dir());
        assert_eq!(fs.stat(motd), Err(ENOENT));
        let con2 = fs.lookup(ROOT_INO, "/dev/console").unwrap();
        assert!(fs.stat(con2).unwrap().is_reg());
        assert_eq!(fs.used_bytes(), 3 + 6 + 8);
    }

    #[test]
    fn unpack_errors() {
        let mut fs = fs();
        let link = archive(&[("lnk", S_IFLNK | 0o777, b"target", 1, 1)]);
        let err = fs.unpack_cpio(&link).unwrap_err();
        assert_eq!(err, UnpackError::Unsupported { name: "lnk".into(), mode: S_IFLNK | 0o777 });
        assert!(format!("{err}").contains("lnk"));
        let fifo = archive(&[("p", S_IFIFO | 0o644, b"", 1, 1)]);
        assert!(matches!(fs.unpack_cpio(&fifo), Err(UnpackError::Unsupported { .. })));
        let up = archive(&[("a/../b", S_IFREG | 0o644, b"", 1, 1)]);
        assert_eq!(fs.unpack_cpio(&up), Err(UnpackError::BadName { name: "a/../b".into() }));
        let under_file =
            archive(&[("f", S_IFREG | 0o644, b"", 1, 1), ("f/g", S_IFREG | 0o644, b"", 2, 1)]);
        let err = fs.unpack_cpio(&under_file).unwrap_err();
        assert_eq!(err, UnpackError::Fs { name: "f/g".into(), errno: ENOTDIR });
        assert!(format!("{err}").contains("ENOTDIR"), "{err}");
        let long = "n".repeat(256);
        let long_name = archive(&[(long.as_str(), S_IFREG | 0o644, b"", 1, 1)]);
        assert!(matches!(
            fs.unpack_cpio(&long_name),
            Err(UnpackError::Fs { errno: ENAMETOOLONG, .. })
        ));
        let mut small = RamFs::new(4);
        let big = archive(&[("big", S_IFREG | 0o644, b"too large", 1, 1)]);
        assert!(matches!(small.unpack_cpio(&big), Err(UnpackError::Fs { errno: ENOSPC, .. })));
        let nonempty =
            archive(&[("d/x", S_IFREG | 0o644, b"", 1, 1), ("d", S_IFREG | 0o644, b"", 2, 1)]);
        assert!(matches!(fs.unpack_cpio(&nonempty), Err(UnpackError::Fs { errno: ENOTEMPTY, .. })));
        let mut cut = archive(&[("f", S_IFREG | 0o644, b"data", 1, 1)]);
        cut.truncate(cut.len() - 124);
        let err = fs.unpack_cpio(&cut).unwrap_err();
        assert_eq!(err, UnpackError::Cpio(CpioError::MissingTrailer));
        assert!(format!("{err}").contains("TRAILER"));
        assert_eq!(
            fs.unpack_cpio(&[b'x'; 200]),
            Err(UnpackError::Cpio(CpioError::BadMagic { offset: 0 }))
        );
    }
}
