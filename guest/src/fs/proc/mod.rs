//! The proc file system (Linux `fs/proc/`): `/proc/self`, `/proc/thread-self`,
//! `/proc/PID/{stat,status,cmdline,comm,maps,mounts,cgroup,ns/,task/TID/...}`,
//! `/proc/loadavg`, `/proc/meminfo`, `/proc/uptime`, `/proc/stat`,
//! `/proc/mounts`.
//!
//! Its inodes are [`ProcNode`]s, made on lookup and never stored: a
//! process's entries name it by its number in the initial PID namespace, and
//! vanish (ENOENT on lookup, ESRCH on read) once it is reaped. The numbers
//! shown are those of the PID namespace of the mount (Linux: the mounter's
//! `task_active_pid_ns`, kept in the super block). A file's text is made
//! when it is first read (at offset 0) and kept with the open file, so that
//! reads at later offsets continue the same snapshot (Linux `seq_file`).
//!
//! The node logic and the text formats ([`array`]) are hardware-free and
//! unit-tested on the host; `vfs::proc` (a layer above the processes)
//! gathers the figures in the kernel.

pub mod array;

use crate::fs::ramfs::{S_IFDIR, S_IFLNK, S_IFREG};
pub use uapi::dirent::DT_LNK;
use uapi::dirent::{DT_DIR, DT_REG};

/// A file of a process's directory (and of a thread's, under `task/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidEntry {
    Status,
    Comm,
    Cmdline,
    Stat,
    Maps,
    Mounts,
    Cgroup,
    UidMap,
    GidMap,
    Setgroups,
    TimensOffsets,
}

impl PidEntry {
    /// Whether the owner may write it (mode 0644; Linux `uid_map`,
    /// `gid_map`, `setgroups`).
    pub fn writable(self) -> bool {
        matches!(self, Self::UidMap | Self::GidMap | Self::Setgroups | Self::TimensOffsets)
    }
}

/// A process directory's entries after `task`, in Linux's order
/// (`tgid_base_stuff`, the ones that exist here); a thread's directory has
/// the same (`tid_base_stuff`).
pub const PID_ENTRIES: [(&str, PidEntry); 11] = [
    ("status", PidEntry::Status),
    ("comm", PidEntry::Comm),
    ("cmdline", PidEntry::Cmdline),
    ("stat", PidEntry::Stat),
    ("maps", PidEntry::Maps),
    ("mounts", PidEntry::Mounts),
    ("cgroup", PidEntry::Cgroup),
    ("uid_map", PidEntry::UidMap),
    ("gid_map", PidEntry::GidMap),
    ("setgroups", PidEntry::Setgroups),
    ("timens_offsets", PidEntry::TimensOffsets),
];

/// An inode of the proc file system. Processes and threads are named by
/// their number in the initial PID namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcNode {
    Root,
    /// `/proc/self` → the reader's process.
    SelfLink,
    /// `/proc/thread-self` → `PID/task/TID` of the reader.
    ThreadSelf,
    /// `/proc/mounts` → `self/mounts`.
    MountsLink,
    Loadavg,
    Meminfo,
    Uptime,
    Stat,
    /// `/proc/PID`.
    PidDir(u32),
    /// `/proc/PID/task`.
    TaskDir(u32),
    /// `/proc/PID/task/TID`.
    TidDir(u32, u32),
    /// A file of `/proc/PID` (tid None) or of `/proc/PID/task/TID`.
    PidFile(u32, Option<u32>, PidEntry),
    /// `/proc/PID/ns` (tid None) or `/proc/PID/task/TID/ns`.
    NsDir(u32, Option<u32>),
    /// A link of an `ns` directory: the index of its name in [`NS_ENTRIES`].
    NsLink(u32, Option<u32>, u8),
    /// Where such a link leads when followed: the namespace itself (Linux's
    /// nsfs inode, whose number is the namespace's).
    NsFile(u32, Option<u32>, u8),
}

/// The links of `/proc/PID/ns`, in Linux's order (`ns_entries`, as
/// `readdir` lists them).
pub const NS_ENTRIES: [&str; 10] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

/// `/proc`'s own entries (Linux's `proc_root` children that exist here),
/// listed before the processes.
pub const ROOT_ENTRIES: [(&str, ProcNode); 7] = [
    ("loadavg", ProcNode::Loadavg),
    ("meminfo", ProcNode::Meminfo),
    ("mounts", ProcNode::MountsLink),
    ("self", ProcNode::SelfLink),
    ("stat", ProcNode::Stat),
    ("thread-self", ProcNode::ThreadSelf),
    ("uptime", ProcNode::Uptime),
];

/// An open file of proc (Linux: the `struct file` with its `seq_file`):
/// the mount it was opened on (which keeps the mount busy), the node, and
/// the text made at the first read, which later reads continue.
pub struct ProcFile {
    pub mnt: alloc::sync::Arc<crate::fs::namespace::Mount>,
    pub node: ProcNode,
    pub snapshot: spin::Mutex<Option<alloc::sync::Arc<[u8]>>>,
    /// For a namespace (an `NsFile`), the namespace itself, held from the
    /// open on (Linux: the nsfs inode's `ns_common`); opaque here.
    pub pinned: spin::Once<alloc::sync::Arc<dyn core::any::Any + Send + Sync>>,
}

impl ProcFile {
    pub fn new(mnt: alloc::sync::Arc<crate::fs::namespace::Mount>, node: ProcNode) -> Self {
        Self { mnt, node, snapshot: spin::Mutex::new(None), pinned: spin::Once::new() }
    }
}

/// `st_dev` of proc's files (Linux: an anonymous device, 0:N).
pub const PROC_DEV: u64 = 0x17;

/// A directory entry of a proc directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcDirent {
    pub name: alloc::string::String,
    pub node: ProcNode,
}

impl ProcNode {
    pub fn is_dir(self) -> bool {
        matches!(
            self,
            Self::Root | Self::PidDir(_) | Self::TaskDir(_) | Self::TidDir(..) | Self::NsDir(..)
        )
    }

    pub fn is_symlink(self) -> bool {
        matches!(self, Self::SelfLink | Self::ThreadSelf | Self::MountsLink | Self::NsLink(..))
    }

    /// A link that path lookup follows to an object of its own, not by its
    /// text (Linux's "magic links": `/proc/PID/ns/*` lead to the namespace).
    pub fn is_magic_link(self) -> bool {
        matches!(self, Self::NsLink(..))
    }

    /// `st_mode` (Linux: directories 0555, files 0444, links 0777).
    pub fn mode(self) -> u32 {
        if self.is_dir() {
            S_IFDIR | 0o555
        } else if self.is_symlink() {
            S_IFLNK | 0o777
        } else if matches!(self, Self::PidFile(_, _, e) if e.writable()) {
            S_IFREG | 0o644
        } else {
            S_IFREG | 0o444
        }
    }

    pub fn d_type(self) -> u8 {
        if self.is_dir() {
            DT_DIR
        } else if self.is_symlink() {
            DT_LNK
        } else {
            DT_REG
        }
    }

    /// The process the node belongs to (its initial-namespace pid).
    pub fn tgid(self) -> Option<u32> {
        match self {
            Self::PidDir(p)
            | Self::TaskDir(p)
            | Self::TidDir(p, _)
            | Self::PidFile(p, ..)
            | Self::NsDir(p, _)
            | Self::NsLink(p, ..)
            | Self::NsFile(p, ..) => Some(p),
            _ => None,
        }
    }

    /// An inode number, stable for the node (Linux's proc inode numbers
    /// are made up too).
    pub fn ino(self) -> u64 {
        let fixed = |i: u64| 2 + i;
        let per_pid = |tgid: u32, tid: u32, code: u64| {
            0x1000 + ((((tid as u64) << 24) | tgid as u64) << 5 | code)
        };
        match self {
            Self::Root => 1,
            Self::SelfLink => fixed(0),
            Self::ThreadSelf => fixed(1),
            Self::MountsLink => fixed(2),
            Self::Loadavg => fixed(3),
            Self::Meminfo => fixed(4),
            Self::Uptime => fixed(5),
            Self::Stat => fixed(6),
            Self::PidDir(p) => per_pid(p, 0, 0),
            Self::TaskDir(p) => per_pid(p, 0, 1),
            Self::TidDir(p, t) => per_pid(p, t, 2),
            Self::PidFile(p, t, e) => per_pid(p, t.unwrap_or(0), 3 + e as u64),
            Self::NsDir(p, t) => per_pid(p, t.unwrap_or(0), 3 + PID_ENTRIES.len() as u64),
            Self::NsLink(p, t, i) | Self::NsFile(p, t, i) => {
                per_pid(p, t.unwrap_or(0), 4 + PID_ENTRIES.len() as u64 + i as u64)
            }
        }
    }

    /// The directory the node is in (`..`).
    pub fn parent(self) -> ProcNode {
        match self {
            Self::TidDir(p, _) => Self::TaskDir(p),
            Self::TaskDir(p) => Self::PidDir(p),
            Self::PidFile(p, Some(t), _) => Self::TidDir(p, t),
            Self::PidFile(p, None, _) | Self::NsDir(p, None) => Self::PidDir(p),
            Self::NsDir(p, Some(t)) => Self::TidDir(p, t),
            Self::NsLink(p, t, _) | Self::NsFile(p, t, _) => Self::NsDir(p, t),
            _ => Self::Root,
        }
    }

    /// A fixed name in this directory (not a process or thread number).
    pub fn lookup_fixed(self, name: &str) -> Option<ProcNode> {
        match self {
            Self::Root => ROOT_ENTRIES.iter().find(|(n, _)| *n == name).map(|(_, node)| *node),
            Self::PidDir(p) if name == "task" => Some(Self::TaskDir(p)),
            Self::PidDir(p) if name == "ns" => Some(Self::NsDir(p, None)),
            Self::PidDir(p) => entry(name).map(|e| Self::PidFile(p, None, e)),
            Self::TidDir(p, t) if name == "ns" => Some(Self::NsDir(p, Some(t))),
            Self::TidDir(p, t) => entry(name).map(|e| Self::PidFile(p, Some(t), e)),
            Self::NsDir(p, t) => {
                NS_ENTRIES.iter().position(|n| *n == name).map(|i| Self::NsLink(p, t, i as u8))
            }
            _ => None,
        }
    }
}

fn entry(name: &str) -> Option<PidEntry> {
    PID_ENTRIES.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
}

/// A process or thread number as a directory name: decimal without a sign
/// or leading zeros (Linux `name_to_int`).
pub fn name_to_int(name: &str) -> Option<u32> {
    if name.is_empty() || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    if !name.bytes().all(|b| b.is_ascii_digit()) || name.len() > 10 {
        return None;
    }
    name.parse::<u32>().ok().filter(|&n| n > 0 && n < i32::MAX as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_nodes() {
        assert_eq!(name_to_int("42"), Some(42));
        assert_eq!(name_to_int("042"), None);
        assert_eq!(name_to_int("+1"), None);
        assert_eq!(name_to_int("0"), None);
        assert_eq!(name_to_int(""), None);
        assert_eq!(ProcNode::Root.lookup_fixed("self"), Some(ProcNode::SelfLink));
        assert_eq!(ProcNode::PidDir(7).lookup_fixed("task"), Some(ProcNode::TaskDir(7)));
        assert_eq!(
            ProcNode::TidDir(7, 8).lookup_fixed("stat"),
            Some(ProcNode::PidFile(7, Some(8), PidEntry::Stat))
        );
        assert_eq!(ProcNode::TidDir(7, 8).lookup_fixed("task"), None);
        assert_eq!(ProcNode::PidFile(7, Some(8), PidEntry::Stat).parent(), ProcNode::TidDir(7, 8));
        assert_eq!(ProcNode::PidDir(7).parent(), ProcNode::Root);
        assert_eq!(ProcNode::SelfLink.mode(), S_IFLNK | 0o777);
        assert_eq!(ProcNode::PidFile(1, None, PidEntry::Maps).mode(), S_IFREG | 0o444);
        let mut inos: alloc::vec::Vec<u64> = [
            ProcNode::Root,
            ProcNode::PidDir(1),
            ProcNode::TaskDir(1),
            ProcNode::TidDir(1, 1),
            ProcNode::PidFile(1, None, PidEntry::Stat),
            ProcNode::PidFile(1, Some(1), PidEntry::Stat),
            ProcNode::PidFile(1, None, PidEntry::Maps),
            ProcNode::PidDir(2),
        ]
        .iter()
        .map(|n| n.ino())
        .collect();
        inos.sort();
        inos.dedup();
        assert_eq!(inos.len(), 8, "distinct inode numbers");
        let mnt = ProcNode::PidDir(7).lookup_fixed("ns").unwrap().lookup_fixed("mnt").unwrap();
        assert_eq!(mnt, ProcNode::NsLink(7, None, 2));
        assert!(mnt.is_symlink() && mnt.is_magic_link());
        assert_eq!(mnt.parent().parent(), ProcNode::PidDir(7));
        assert_ne!(mnt.ino(), ProcNode::NsLink(7, None, 3).ino());
        assert_ne!(
            ProcNode::NsDir(7, None).ino(),
            ProcNode::PidFile(7, None, PidEntry::Mounts).ino()
        );
        assert_eq!(ProcNode::NsDir(7, None).lookup_fixed("nope"), None);
    }
}
