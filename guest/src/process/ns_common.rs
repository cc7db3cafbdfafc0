//! What every namespace has (Linux `struct ns_common`): an inode number,
//! shown by `/proc/PID/ns/*` links as `TYPE:[INUM]`, and the namespace
//! types (Linux `proc_ns_operations`: names and CLONE_NEW* flags).
//!
//! The initial namespaces have Linux's fixed numbers (`PROC_*_INIT_INO`);
//! new ones are numbered from `PROC_DYNAMIC_FIRST` up (Linux
//! `proc_alloc_inum`). Numbers are not reused here (Linux's ida reuses a
//! freed one): 2^28 namespaces before they would wrap.
//!
//! Hardware-free, so it is unit-tested on the host.

use core::sync::atomic::{AtomicU32, Ordering};

use alloc::sync::Arc;

use crate::process::clone_flags::CloneFlags;
use crate::process::user_namespace::UserNamespace;

/// Linux `PROC_IPC_INIT_INO` and the others (`include/linux/proc_ns.h`).
pub const PROC_IPC_INIT_INO: u32 = 0xEFFF_FFFF;
pub const PROC_UTS_INIT_INO: u32 = 0xEFFF_FFFE;
pub const PROC_USER_INIT_INO: u32 = 0xEFFF_FFFD;
pub const PROC_PID_INIT_INO: u32 = 0xEFFF_FFFC;
pub const PROC_CGROUP_INIT_INO: u32 = 0xEFFF_FFFB;
pub const PROC_TIME_INIT_INO: u32 = 0xEFFF_FFFA;
pub const PROC_NET_INIT_INO: u32 = 0xEFFF_FFF9;
pub const PROC_MNT_INIT_INO: u32 = 0xEFFF_FFF8;
/// The first number `proc_alloc_inum` hands out.
pub const PROC_DYNAMIC_FIRST: u32 = 0xF000_0000;

static NEXT_INUM: AtomicU32 = AtomicU32::new(PROC_DYNAMIC_FIRST);

/// A new namespace's number (Linux `ns_alloc_inum`).
pub fn ns_alloc_inum() -> u32 {
    NEXT_INUM.fetch_add(1, Ordering::Relaxed)
}

/// The namespace types, in the order of `/proc/PID/ns` (Linux `ns_entries`
/// as `readdir` lists them; `pid_for_children` and `time_for_children`
/// after their namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsType {
    Cgroup,
    Ipc,
    Mnt,
    Net,
    Pid,
    PidForChildren,
    Time,
    TimeForChildren,
    User,
    Uts,
}

impl NsType {
    pub const ALL: [NsType; 10] = [
        NsType::Cgroup,
        NsType::Ipc,
        NsType::Mnt,
        NsType::Net,
        NsType::Pid,
        NsType::PidForChildren,
        NsType::Time,
        NsType::TimeForChildren,
        NsType::User,
        NsType::Uts,
    ];

    /// The entry's name in `/proc/PID/ns`.
    pub fn entry(self) -> &'static str {
        match self {
            NsType::Cgroup => "cgroup",
            NsType::Ipc => "ipc",
            NsType::Mnt => "mnt",
            NsType::Net => "net",
            NsType::Pid => "pid",
            NsType::PidForChildren => "pid_for_children",
            NsType::Time => "time",
            NsType::TimeForChildren => "time_for_children",
            NsType::User => "user",
            NsType::Uts => "uts",
        }
    }

    /// The type's name in the link's text (Linux `proc_ns_operations.name`).
    pub fn name(self) -> &'static str {
        match self {
            NsType::PidForChildren => "pid",
            NsType::TimeForChildren => "time",
            t => t.entry(),
        }
    }

    /// The CLONE_NEW* flag of the type (`setns`'s `nstype`).
    pub fn flag(self) -> CloneFlags {
        match self {
            NsType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            NsType::Ipc => CloneFlags::CLONE_NEWIPC,
            NsType::Mnt => CloneFlags::CLONE_NEWNS,
            NsType::Net => CloneFlags::CLONE_NEWNET,
            NsType::Pid | NsType::PidForChildren => CloneFlags::CLONE_NEWPID,
            NsType::Time | NsType::TimeForChildren => CloneFlags::CLONE_NEWTIME,
            NsType::User => CloneFlags::CLONE_NEWUSER,
            NsType::Uts => CloneFlags::CLONE_NEWUTS,
        }
    }

    pub fn from_entry(name: &str) -> Option<NsType> {
        Self::ALL.into_iter().find(|t| t.entry() == name)
    }

    /// The link's text, `TYPE:[INUM]` (Linux `ns_get_name`).
    pub fn link_text(self, inum: u32) -> alloc::string::String {
        alloc::format!("{}:[{}]", self.name(), inum)
    }
}

/// An IPC namespace (Linux `struct ipc_namespace`): there is no System V
/// IPC or POSIX message queue here, so it is its identity alone.
pub struct IpcNamespace {
    pub inum: u32,
    /// The owning user namespace (None: the initial one).
    pub owner: Option<Arc<UserNamespace>>,
}

/// A network namespace (Linux `struct net`): there are no network devices
/// here (not even `lo`), so it is its identity alone.
pub struct NetNamespace {
    pub inum: u32,
    /// The owning user namespace (None: the initial one).
    pub owner: Option<Arc<UserNamespace>>,
}

/// A cgroup namespace (Linux `struct cgroup_namespace`): its identity; the
/// root cgroup it would show is the creator's (there is one cgroup here).
pub struct CgroupNamespace {
    pub inum: u32,
    /// The owning user namespace (None: the initial one).
    pub owner: Option<Arc<UserNamespace>>,
}

/// A time namespace (Linux `struct time_namespace`): its identity and the
/// offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME (zero: setting them through
/// `/proc/PID/timens_offsets` is not implemented).
pub struct TimeNamespace {
    pub inum: u32,
    /// The owning user namespace (None: the initial one).
    pub owner: Option<Arc<UserNamespace>>,
    pub monotonic_offset_ns: i64,
    pub boottime_offset_ns: i64,
}

macro_rules! simple_ns {
    ($t:ident, $init:expr) => {
        impl $t {
            pub fn new_initial() -> Arc<Self> {
                Arc::new(Self::with_inum($init, None))
            }

            /// A new namespace owned by `owner` (its `copy_*`/`clone_*` in
            /// Linux).
            pub fn new(owner: &Arc<UserNamespace>) -> Arc<Self> {
                let owner = (owner.level > 0).then(|| owner.clone());
                Arc::new(Self::with_inum(ns_alloc_inum(), owner))
            }
        }
    };
}

impl IpcNamespace {
    fn with_inum(inum: u32, owner: Option<Arc<UserNamespace>>) -> Self {
        Self { inum, owner }
    }
}
impl NetNamespace {
    fn with_inum(inum: u32, owner: Option<Arc<UserNamespace>>) -> Self {
        Self { inum, owner }
    }
}
impl CgroupNamespace {
    fn with_inum(inum: u32, owner: Option<Arc<UserNamespace>>) -> Self {
        Self { inum, owner }
    }
}
impl TimeNamespace {
    fn with_inum(inum: u32, owner: Option<Arc<UserNamespace>>) -> Self {
        Self { inum, owner, monotonic_offset_ns: 0, boottime_offset_ns: 0 }
    }
}

/// A reference to a namespace of any kind (what an open `/proc/PID/ns/*`
/// file holds, Linux's `ns_common` of an nsfs inode).
#[derive(Clone)]
pub enum NsRef {
    Mnt(Arc<crate::fs::namespace::MntNamespace>),
    Uts(Arc<crate::process::utsname::UtsNamespace>),
    Ipc(Arc<IpcNamespace>),
    Net(Arc<NetNamespace>),
    Pid(Arc<crate::process::pid_namespace::PidNamespace>),
    Time(Arc<TimeNamespace>),
    Cgroup(Arc<CgroupNamespace>),
    User(Arc<UserNamespace>),
}

impl NsRef {
    pub fn inum(&self) -> u32 {
        match self {
            NsRef::Mnt(n) => n.inum,
            NsRef::Uts(n) => n.inum,
            NsRef::Ipc(n) => n.inum,
            NsRef::Net(n) => n.inum,
            NsRef::Pid(n) => n.inum,
            NsRef::Time(n) => n.inum,
            NsRef::Cgroup(n) => n.inum,
            NsRef::User(n) => n.inum,
        }
    }

    /// Its CLONE_NEW* flag (`setns`'s `nstype`).
    pub fn flag(&self) -> CloneFlags {
        match self {
            NsRef::Mnt(_) => CloneFlags::CLONE_NEWNS,
            NsRef::Uts(_) => CloneFlags::CLONE_NEWUTS,
            NsRef::Ipc(_) => CloneFlags::CLONE_NEWIPC,
            NsRef::Net(_) => CloneFlags::CLONE_NEWNET,
            NsRef::Pid(_) => CloneFlags::CLONE_NEWPID,
            NsRef::Time(_) => CloneFlags::CLONE_NEWTIME,
            NsRef::Cgroup(_) => CloneFlags::CLONE_NEWCGROUP,
            NsRef::User(_) => CloneFlags::CLONE_NEWUSER,
        }
    }

    /// The user namespace that owns it (None: the initial one); a user
    /// namespace is owned by its parent.
    pub fn owner(&self) -> Option<Arc<UserNamespace>> {
        match self {
            NsRef::Mnt(n) => n.owner.get().and_then(|o| o.clone().downcast::<UserNamespace>().ok()),
            NsRef::Uts(n) => n.owner.get().cloned(),
            NsRef::Ipc(n) => n.owner.clone(),
            NsRef::Net(n) => n.owner.clone(),
            NsRef::Pid(n) => n.owner.get().cloned(),
            NsRef::Time(n) => n.owner.clone(),
            NsRef::Cgroup(n) => n.owner.clone(),
            NsRef::User(n) => n.parent.clone().filter(|p| p.level > 0),
        }
    }
}
simple_ns!(IpcNamespace, PROC_IPC_INIT_INO);
simple_ns!(NetNamespace, PROC_NET_INIT_INO);
simple_ns!(CgroupNamespace, PROC_CGROUP_INIT_INO);
simple_ns!(TimeNamespace, PROC_TIME_INIT_INO);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(NsType::Mnt.link_text(PROC_MNT_INIT_INO), "mnt:[4026531832]");
        assert_eq!(NsType::PidForChildren.link_text(7), "pid:[7]");
        assert_eq!(NsType::from_entry("time_for_children"), Some(NsType::TimeForChildren));
        assert_eq!(NsType::from_entry("x"), None);
        let init = UserNamespace::new_initial();
        let (a, b) = (IpcNamespace::new(&init), IpcNamespace::new(&init));
        assert!(a.owner.is_none(), "the initial user namespace is None");
        assert!(a.inum >= PROC_DYNAMIC_FIRST && b.inum != a.inum);
        assert_eq!(IpcNamespace::new_initial().inum, PROC_IPC_INIT_INO);
    }
}
