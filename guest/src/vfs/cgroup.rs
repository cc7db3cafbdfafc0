//! The cgroup2 file system's view of the hierarchy (Linux: kernfs nodes of
//! `cgroup2_fs_type`): lookups, listings and `stat` of its nodes.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::{Errno, ENOENT, ENOTDIR};
use crate::fs::cgroupfs::{kernfs_sort, CgroupFile, CgroupNode};
use crate::fs::ramfs::{Stat, S_IFDIR, S_IFREG};
use crate::process::cgroup::kernel::find;
use crate::process::cgroup::Cgroup;

fn cgroup(id: u64) -> Result<Arc<Cgroup>, Errno> {
    find(id).ok_or(ENOENT)
}

/// `name` in directory `dir`: a child cgroup or one of the cgroup's files.
pub fn lookup(dir: CgroupNode, name: &str) -> Result<CgroupNode, Errno> {
    let CgroupNode::Dir(id) = dir else { return Err(ENOTDIR) };
    let cg = cgroup(id)?;
    if let Some(c) = cg.child(name) {
        return Ok(CgroupNode::Dir(c.id));
    }
    let f = CgroupFile::by_name(name).filter(|f| cg.files().contains(f)).ok_or(ENOENT)?;
    Ok(CgroupNode::File(id, f))
}

/// The directory `node` is in (the root's is the root).
pub fn parent(node: CgroupNode) -> CgroupNode {
    match node {
        CgroupNode::File(id, _) => CgroupNode::Dir(id),
        CgroupNode::Dir(id) => {
            CgroupNode::Dir(find(id).and_then(|c| c.parent.as_ref().map(|p| p.id)).unwrap_or(1))
        }
    }
}

/// The entries of directory `dir` after `.` and `..`, in kernfs's order.
pub fn readdir(cg: &Cgroup) -> Vec<(String, CgroupNode)> {
    let mut names: Vec<String> = cg.children().iter().map(|c| c.name.clone()).collect();
    names.extend(cg.files().iter().map(|f| String::from(f.name())));
    kernfs_sort(&mut names);
    names
        .into_iter()
        .map(|n| {
            let node = match cg.child(&n) {
                Some(c) => CgroupNode::Dir(c.id),
                None => CgroupNode::File(cg.id, CgroupFile::by_name(&n).expect("a file")),
            };
            (n, node)
        })
        .collect()
}

/// `stat` of a node of `cg` (Linux kernfs: directories with 2 + their
/// subdirectories as links, files of size 0, the creator as owner).
pub fn stat_of(cg: &Cgroup, node: CgroupNode) -> Stat {
    let (mode, nlink) = match node {
        CgroupNode::Dir(_) => (S_IFDIR | cg.mode, 2 + cg.children().len() as u32),
        CgroupNode::File(_, f) => (S_IFREG | f.mode(), 1),
    };
    let now = crate::time::realtime_ns();
    Stat {
        ino: node.ino(),
        mode,
        nlink,
        uid: cg.uid,
        gid: cg.gid,
        rdev: 0,
        size: 0,
        blksize: 4096,
        blocks: 0,
        atime_ns: now,
        mtime_ns: now,
        ctime_ns: now,
    }
}

pub fn stat(node: CgroupNode) -> Result<Stat, Errno> {
    Ok(stat_of(&*cgroup(node.id())?, node))
}

/// Mount cgroup2's `st_dev`.
pub use crate::fs::cgroupfs::CGROUP_DEV;
