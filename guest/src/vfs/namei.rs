//! Path lookup across mounts (Linux `fs/namei.c`: `link_path_walk`,
//! `follow_mount`, `follow_dotdot`, symbolic links of proc): a path resolves
//! to a [`PathRef`], a mount and a node of its file system (Linux `struct
//! path`). The RAM file system's own `lookup` does one component at a time
//! here; after each, a mount on the result is followed, and `..` at a
//! mount's root goes to the directory it is mounted on first.

use alloc::string::String;
use alloc::sync::Arc;

use crate::errno::{Errno, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR};
use crate::fs::cgroupfs::CgroupNode;
use crate::fs::namespace::{FsType, MntNamespace, Mount};
use crate::fs::proc::ProcNode;
use crate::fs::ramfs::{Ino, Stat, PATH_MAX, ROOT_INO};
use crate::fs::with_fs;
use crate::process::Task;
use crate::vfs::proc;

/// Symbolic links followed in one lookup at most (Linux MAXSYMLINKS).
const MAXSYMLINKS: u32 = 40;

/// A node of a mounted file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Ram(Ino),
    Proc(ProcNode),
    Cgroup(CgroupNode),
}

/// A place in the mount tree (Linux `struct path`).
#[derive(Clone)]
pub struct PathRef {
    pub mnt: Arc<Mount>,
    pub node: Node,
}

impl PathRef {
    /// The node's inode number in its file system (what a mount on it records).
    pub fn ino(&self) -> u64 {
        match self.node {
            Node::Ram(ino) => ino,
            Node::Proc(p) => p.ino(),
            Node::Cgroup(c) => c.ino(),
        }
    }

    /// The RAM file system's inode, or `err` for a node of another file system.
    pub fn ram(&self, err: Errno) -> Result<Ino, Errno> {
        match self.node {
            Node::Ram(ino) => Ok(ino),
            Node::Proc(_) | Node::Cgroup(_) => Err(err),
        }
    }

    fn is_mount_root(&self) -> bool {
        self.node == root_node(&self.mnt.fs)
    }
}

/// Whether `p` is the root of its mount (Linux `path->dentry ==
/// path->mnt->mnt_root`).
pub fn is_mount_root(p: &PathRef) -> bool {
    p.is_mount_root()
}

/// The root node of a file system.
pub fn root_node(fs: &FsType) -> Node {
    match fs {
        FsType::Ram => Node::Ram(ROOT_INO),
        FsType::Proc { .. } => Node::Proc(ProcNode::Root),
        FsType::Cgroup2 => Node::Cgroup(CgroupNode::Dir(1)),
    }
}

fn proc_ns(mnt: &Mount) -> Result<Arc<crate::process::pid_namespace::PidNamespace>, Errno> {
    proc::pid_ns_of(&mnt.fs).ok_or(crate::errno::EINVAL)
}

/// The mount namespace of `t`.
pub fn mnt_ns_of(t: &Task) -> Arc<MntNamespace> {
    t.nsproxy().mnt_ns.clone()
}

/// `/` of `t`'s namespace (no chroot here).
pub fn root_of(t: &Task) -> PathRef {
    let mnt = mnt_ns_of(t).root();
    let node = root_node(&mnt.fs);
    PathRef { mnt, node }
}

/// A RAM-file-system directory as a path (working directories and
/// descriptors of the RAM file system: it is only the root mount).
pub fn ram_path(t: &Task, ino: Ino) -> PathRef {
    let mnt = mnt_ns_of(t).root();
    PathRef { mnt, node: Node::Ram(ino) }
}

/// The mounts on `p`, the last one's root (Linux `follow_mount`).
fn follow_mounts(ns: &MntNamespace, mut p: PathRef) -> PathRef {
    loop {
        let on = ns.table.lock().mounted_on(p.mnt.id, p.ino());
        match on {
            Some(m) => {
                let node = root_node(&m.fs);
                p = PathRef { mnt: m, node };
            }
            None => return p,
        }
    }
}

pub fn is_dir(p: &PathRef) -> Result<bool, Errno> {
    match p.node {
        Node::Ram(ino) => Ok(with_fs(|fs| fs.stat(ino))?.is_dir()),
        Node::Proc(n) => Ok(n.is_dir()),
        Node::Cgroup(n) => Ok(n.is_dir()),
    }
}

/// `..` of `p` (Linux `follow_dotdot`): the root stays; at a mount's root,
/// first to the directory it is mounted on.
fn dotdot(ns: &MntNamespace, root: &PathRef, mut p: PathRef) -> Result<PathRef, Errno> {
    loop {
        if Arc::ptr_eq(&p.mnt, &root.mnt) && p.node == root.node {
            return Ok(p);
        }
        if p.is_mount_root() && !p.mnt.is_root() {
            let parent = ns.table.lock().get(p.mnt.parent);
            match parent {
                Some(mnt) => {
                    let node = match &mnt.fs {
                        FsType::Ram => Node::Ram(p.mnt.mountpoint),
                        FsType::Proc { .. } => Node::Proc(proc_node_by_ino(p.mnt.mountpoint)),
                        // Mounts on cgroup directories are refused.
                        FsType::Cgroup2 => Node::Cgroup(CgroupNode::Dir(1)),
                    };
                    p = PathRef { mnt, node };
                    continue;
                }
                // Unmounted meanwhile (a lazily detached mount): its root stays.
                None => return Ok(p),
            }
        }
        break;
    }
    let node = match p.node {
        Node::Ram(ino) => Node::Ram(with_fs(|fs| fs.lookup(ino, ".."))?),
        Node::Proc(n) => Node::Proc(n.parent()),
        Node::Cgroup(n) => Node::Cgroup(crate::vfs::cgroup::parent(n)),
    };
    Ok(follow_mounts(ns, PathRef { mnt: p.mnt, node }))
}

/// Mounts on proc directories record the node's inode number; only the
/// root can be found from it again (mounts elsewhere in proc are refused).
fn proc_node_by_ino(_ino: u64) -> ProcNode {
    ProcNode::Root
}

/// One component `name` (not `.` or `..`) in directory `dir`.
fn step(me: &Task, dir: &PathRef, name: &str) -> Result<PathRef, Errno> {
    let node = match dir.node {
        Node::Ram(ino) => Node::Ram(with_fs(|fs| fs.lookup(ino, name))?),
        Node::Proc(n) => {
            let _ = me;
            Node::Proc(proc::lookup(&*proc_ns(&dir.mnt)?, n, name)?)
        }
        Node::Cgroup(n) => Node::Cgroup(crate::vfs::cgroup::lookup(n, name)?),
    };
    Ok(PathRef { mnt: dir.mnt.clone(), node })
}

/// The target of symbolic link `p`.
pub fn readlink(me: &Task, p: &PathRef) -> Result<String, Errno> {
    match p.node {
        Node::Proc(n) if n.is_symlink() => proc::readlink(&*proc_ns(&p.mnt)?, me, n),
        _ => Err(crate::errno::EINVAL),
    }
}

fn is_symlink(p: &PathRef) -> bool {
    matches!(p.node, Node::Proc(n) if n.is_symlink())
}

/// Resolve `path` from `start` (absolute paths from `me`'s root), following
/// a symbolic link in the last component when `follow` (Linux
/// `filename_lookup` with or without LOOKUP_FOLLOW). Errors as
/// [`crate::fs::ramfs::RamFs::lookup`], and ELOOP.
pub fn lookup(me: &Task, start: PathRef, path: &str, follow: bool) -> Result<PathRef, Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    let ns = mnt_ns_of(me);
    let root = root_of(me);
    let mut links = 0;
    walk(me, &ns, &root, start, path, follow, &mut links)
}

fn walk(
    me: &Task,
    ns: &MntNamespace,
    root: &PathRef,
    start: PathRef,
    path: &str,
    follow: bool,
    links: &mut u32,
) -> Result<PathRef, Errno> {
    let mut cur = if path.starts_with('/') { root.clone() } else { start };
    let trailing = path.ends_with('/');
    let mut comps = path.split('/').filter(|c| !c.is_empty()).peekable();
    while let Some(c) = comps.next() {
        let last = comps.peek().is_none();
        if !is_dir(&cur)? {
            return Err(ENOTDIR);
        }
        cur = match c {
            "." => cur,
            ".." => dotdot(ns, root, cur)?,
            name => {
                let next = follow_mounts(ns, step(me, &cur, name)?);
                let following = !last || follow || trailing;
                if let Node::Proc(ProcNode::NsLink(p, t, i)) = next.node {
                    if following {
                        // A magic link: to the namespace, not by its text.
                        cur =
                            PathRef { mnt: next.mnt, node: Node::Proc(ProcNode::NsFile(p, t, i)) };
                        continue;
                    }
                }
                if is_symlink(&next) && following {
                    *links += 1;
                    if *links > MAXSYMLINKS {
                        return Err(ELOOP);
                    }
                    let target = readlink(me, &next)?;
                    walk(me, ns, root, cur, &target, true, links)?
                } else {
                    next
                }
            }
        };
    }
    if trailing && !is_dir(&cur)? {
        return Err(ENOTDIR);
    }
    Ok(cur)
}

/// `stat` of a node (st_dev is the caller's to fill).
pub fn stat(p: &PathRef) -> Result<Stat, Errno> {
    match p.node {
        Node::Ram(ino) => with_fs(|fs| fs.stat(ino)),
        Node::Proc(n) => proc::stat(&*proc_ns(&p.mnt)?, n),
        Node::Cgroup(n) => crate::vfs::cgroup::stat(n),
    }
}

/// Resolve all but the last component of `path` for an operation of the RAM
/// file system that creates or removes a name (see `RamFs::lookup_parent`):
/// the directory is found across mounts; one on another file system is
/// EPERM (proc has no such operations: Linux `vfs_mkdir` and the like
/// without the inode operation).
pub fn ram_parent(me: &Task, start: PathRef, path: &str) -> Result<(Ino, String), Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return with_fs(|fs| fs.lookup_parent(ROOT_INO, path));
    }
    let (dir, rest) = match trimmed.rfind('/') {
        Some(i) => (lookup(me, start, &path[..=i], true)?, &path[i + 1..]),
        None => (start, path),
    };
    let ino = dir.ram(crate::errno::EPERM)?;
    with_fs(|fs| fs.lookup_parent(ino, rest))
}

/// The path of mount `m` from the namespace's root, for `/proc/mounts`.
pub fn mount_path(ns: &MntNamespace, m: &Mount) -> String {
    if m.is_root() {
        return String::from("/");
    }
    let parent = ns.table.lock().get(m.parent);
    let Some(parent) = parent else { return String::from("?") };
    let base = mount_path(ns, &parent);
    let rel = match parent.fs {
        FsType::Ram => with_fs(|fs| fs.path_of(m.mountpoint)).unwrap_or_default(),
        FsType::Proc { .. } | FsType::Cgroup2 => String::from("/"),
    };
    if base == "/" {
        rel
    } else if rel == "/" {
        base
    } else {
        alloc::format!("{base}{rel}")
    }
}

/// All but the last component of `path` resolved across mounts (Linux
/// `filename_parentat`): the directory and the last name (which may be "."
/// or ".."; ENOENT for an empty path, ENAMETOOLONG for a name past
/// NAME_MAX).
pub fn parent(me: &Task, start: PathRef, path: &str) -> Result<(PathRef, String), Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok((root_of(me), String::from(".")));
    }
    let (dir, name) = match trimmed.rfind('/') {
        Some(i) => (lookup(me, start, &trimmed[..=i], true)?, &trimmed[i + 1..]),
        None => (start, trimmed),
    };
    if name.len() > crate::fs::ramfs::NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    if !is_dir(&dir)? {
        return Err(ENOTDIR);
    }
    Ok((dir, String::from(name)))
}
