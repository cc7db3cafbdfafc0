//! The nodes of a `cgroup2` mount (Linux: kernfs nodes of the cgroup
//! hierarchy): a cgroup's directory and its files, named by the cgroup's id,
//! the order `readdir` lists them in, and an open file of the mount. The
//! cgroups themselves are `process::cgroup`'s.

use alloc::string::String;
use alloc::sync::Arc;

/// A file of a cgroup directory (Linux `cgroup_base_files` and
/// `pids_files`), in Linux's order of definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupFile {
    Type,
    Procs,
    Threads,
    Controllers,
    SubtreeControl,
    Events,
    PidsMax,
    PidsCurrent,
    PidsPeak,
    PidsEvents,
    PidsEventsLocal,
}

impl CgroupFile {
    pub const ALL: [CgroupFile; 11] = [
        Self::Type,
        Self::Procs,
        Self::Threads,
        Self::Controllers,
        Self::SubtreeControl,
        Self::Events,
        Self::PidsMax,
        Self::PidsCurrent,
        Self::PidsPeak,
        Self::PidsEvents,
        Self::PidsEventsLocal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Type => "cgroup.type",
            Self::Procs => "cgroup.procs",
            Self::Threads => "cgroup.threads",
            Self::Controllers => "cgroup.controllers",
            Self::SubtreeControl => "cgroup.subtree_control",
            Self::Events => "cgroup.events",
            Self::PidsMax => "pids.max",
            Self::PidsCurrent => "pids.current",
            Self::PidsPeak => "pids.peak",
            Self::PidsEvents => "pids.events",
            Self::PidsEventsLocal => "pids.events.local",
        }
    }

    pub fn by_name(name: &str) -> Option<CgroupFile> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Linux `CFTYPE_NOT_ON_ROOT`.
    pub fn not_on_root(self) -> bool {
        !matches!(self, Self::Procs | Self::Threads | Self::Controllers | Self::SubtreeControl)
    }

    pub fn is_pids(self) -> bool {
        matches!(
            self,
            Self::PidsMax
                | Self::PidsCurrent
                | Self::PidsPeak
                | Self::PidsEvents
                | Self::PidsEventsLocal
        )
    }

    pub fn writable(self) -> bool {
        matches!(
            self,
            Self::Type | Self::Procs | Self::Threads | Self::SubtreeControl | Self::PidsMax
        )
    }

    /// `st_mode`'s permission bits (Linux: 0644 with a write operation,
    /// else 0444).
    pub fn mode(self) -> u32 {
        if self.writable() {
            0o644
        } else {
            0o444
        }
    }

    pub fn index(self) -> u64 {
        self as u64
    }
}

/// A node of a cgroup2 mount: a cgroup's directory or one of its files,
/// named by the cgroup's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupNode {
    Dir(u64),
    File(u64, CgroupFile),
}

impl CgroupNode {
    pub fn id(self) -> u64 {
        match self {
            Self::Dir(id) | Self::File(id, _) => id,
        }
    }

    pub fn is_dir(self) -> bool {
        matches!(self, Self::Dir(_))
    }

    /// An inode number: the cgroup's id for its directory (Linux's kernfs
    /// ids), made-up numbers for the files.
    pub fn ino(self) -> u64 {
        match self {
            Self::Dir(id) => id,
            Self::File(id, f) => (1 << 40) | (id << 5) | f.index(),
        }
    }
}

/// The order of a kernfs directory's entries (Linux `kernfs_name_hash`:
/// `readdir` lists them by this hash, then by name).
pub fn kernfs_name_hash(name: &str) -> u32 {
    let mut hash: u64 = 0;
    for &c in name.as_bytes() {
        // partial_name_hash, with `c` a (signed) char widened.
        let c = c as i8 as i64 as u64;
        hash = hash.wrapping_add(c << 4).wrapping_add(c >> 4).wrapping_mul(11);
    }
    // end_name_hash: hash_long(hash, 32) = hash_64(hash, 32).
    let mut h = (hash.wrapping_mul(0x61C8_8646_80B5_83EB) >> 32) as u32;
    h &= 0x7fff_ffff;
    if h < 2 {
        h += 2;
    }
    if h >= i32::MAX as u32 {
        h = i32::MAX as u32 - 1;
    }
    h
}

/// Sort directory entries as kernfs lists them.
pub fn kernfs_sort(names: &mut [String]) {
    names.sort_by(|a, b| (kernfs_name_hash(a), a.as_str()).cmp(&(kernfs_name_hash(b), b.as_str())));
}

/// `st_dev` of a cgroup2 mount's files (Linux: an anonymous device).
pub const CGROUP_DEV: u64 = 0x1a;

/// An open file or directory of a cgroup2 mount (Linux: the `struct file`
/// with its `kernfs_open_file`): the mount (kept busy), the node, the cgroup
/// itself (a `process::cgroup::Cgroup`, opaque at this layer: an open
/// descriptor keeps a removed cgroup's object, whose files then answer
/// ENODEV), and the text made at the first read.
pub struct CgroupOpenFile {
    pub mnt: Arc<crate::fs::namespace::Mount>,
    pub node: CgroupNode,
    pub cgroup: Arc<dyn core::any::Any + Send + Sync>,
    pub snapshot: spin::Mutex<Option<Arc<[u8]>>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn directory_order_is_kernfs_hash_order() {
        // `ls -f` of a new cgroup on Linux 6.18 (its own files among these).
        let linux = [
            "cgroup.events",
            "io.pressure",
            "cgroup.procs",
            "cgroup.max.descendants",
            "cgroup.stat.local",
            "cpu.stat",
            "a",
            "memory.pressure",
            "cpu.pressure",
            "cgroup.type",
            "cgroup.stat",
            "cpu.stat.local",
            "cgroup.threads",
            "cgroup.kill",
            "zz",
            "cgroup.freeze",
            "cgroup.controllers",
            "b",
            "cgroup.subtree_control",
            "cgroup.max.depth",
            "cgroup.pressure",
        ];
        let mut names: Vec<String> = linux.iter().rev().map(|s| String::from(*s)).collect();
        kernfs_sort(&mut names);
        assert_eq!(names, linux);
    }
}
