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
/// offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME, which
/// `/proc/PID/timens_offsets` sets until a task enters it
/// (`frozen_offsets`).
pub struct TimeNamespace {
    pub inum: u32,
    /// The owning user namespace (None: the initial one).
    pub owner: Option<Arc<UserNamespace>>,
    /// (monotonic, boottime) offsets in ns.
    pub offsets: spin::Mutex<(i64, i64)>,
    pub frozen: core::sync::atomic::AtomicBool,
}

/// The longest time in seconds (Linux `KTIME_SEC_MAX`).
pub const KTIME_SEC_MAX: i64 = i64::MAX / 1_000_000_000;

/// One line written to `timens_offsets`: the clock (CLOCK_MONOTONIC or
/// CLOCK_BOOTTIME, by name or number), seconds and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimensOffset {
    pub clock: u32,
    pub secs: i64,
    pub nsecs: i64,
}

/// Parse what is written to `timens_offsets` (Linux
/// `proc_timens_set_offset`'s caller): lines `CLOCK SECS NSECS`, CLOCK
/// `monotonic`/`boottime` or 1/7; EINVAL for anything else, another clock,
/// or nanoseconds outside 0..1e9.
pub fn parse_timens_offsets(
    text: &[u8],
) -> Result<alloc::vec::Vec<TimensOffset>, crate::errno::Errno> {
    use crate::errno::EINVAL;
    let text = core::str::from_utf8(text).map_err(|_| EINVAL)?;
    let mut v = alloc::vec::Vec::new();
    for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
        let mut f = line.split_whitespace();
        let clock = match f.next().ok_or(EINVAL)? {
            "monotonic" => uapi::time::CLOCK_MONOTONIC,
            "boottime" => uapi::time::CLOCK_BOOTTIME,
            n => n.parse::<u32>().map_err(|_| EINVAL)?,
        };
        if clock != uapi::time::CLOCK_MONOTONIC && clock != uapi::time::CLOCK_BOOTTIME {
            return Err(EINVAL);
        }
        let secs = f.next().ok_or(EINVAL)?.parse::<i64>().map_err(|_| EINVAL)?;
        let nsecs = f.next().ok_or(EINVAL)?.parse::<i64>().map_err(|_| EINVAL)?;
        if !(0..1_000_000_000).contains(&nsecs) {
            return Err(EINVAL);
        }
        v.push(TimensOffset { clock, secs, nsecs });
    }
    Ok(v)
}

impl TimeNamespace {
    /// Set offsets (Linux `proc_timens_set_offset` after the permission
    /// check): ERANGE when a clock would go below 0 or past KTIME_SEC_MAX / 2
    /// from `now_ns` (monotonic and boottime are one clock here), then
    /// EACCES once a task is in it.
    pub fn set_offsets(
        &self,
        offs: &[TimensOffset],
        now_ns: u64,
    ) -> Result<(), crate::errno::Errno> {
        for off in offs {
            if off.secs > KTIME_SEC_MAX || off.secs < -KTIME_SEC_MAX {
                return Err(crate::errno::ERANGE);
            }
            let at = now_ns as i128 + off.secs as i128 * 1_000_000_000 + off.nsecs as i128;
            if at < 0 || at / 1_000_000_000 > (KTIME_SEC_MAX / 2) as i128 {
                return Err(crate::errno::ERANGE);
            }
        }
        let mut o = self.offsets.lock();
        if self.frozen.load(core::sync::atomic::Ordering::Acquire) {
            return Err(crate::errno::EACCES);
        }
        let mut new = *o;
        for off in offs {
            let ns = off.secs * 1_000_000_000 + off.nsecs;
            if off.clock == uapi::time::CLOCK_MONOTONIC {
                new.0 = ns;
            } else {
                new.1 = ns;
            }
        }
        *o = new;
        Ok(())
    }

    /// A task enters it (Linux `timens_commit`): the offsets are fixed.
    pub fn freeze(&self) {
        let _o = self.offsets.lock();
        self.frozen.store(true, core::sync::atomic::Ordering::Release);
    }

    /// `/proc/PID/timens_offsets` (Linux `proc_timens_show_offsets`).
    pub fn show(&self) -> alloc::string::String {
        let (m, b) = *self.offsets.lock();
        let line = |name: &str, ns: i64| {
            alloc::format!(
                "{:<10} {:>10} {:>9}\n",
                name,
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000)
            )
        };
        alloc::format!("{}{}", line("monotonic", m), line("boottime", b))
    }
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
        Self {
            inum,
            owner,
            offsets: spin::Mutex::new((0, 0)),
            frozen: core::sync::atomic::AtomicBool::new(false),
        }
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
        // proc's list of links is this one, in the same order.
        let names: alloc::vec::Vec<&str> = NsType::ALL.iter().map(|t| t.entry()).collect();
        assert_eq!(names, crate::fs::proc::NS_ENTRIES);
        let init = UserNamespace::new_initial();
        let (a, b) = (IpcNamespace::new(&init), IpcNamespace::new(&init));
        assert!(a.owner.is_none(), "the initial user namespace is None");
        assert!(a.inum >= PROC_DYNAMIC_FIRST && b.inum != a.inum);
        assert_eq!(IpcNamespace::new_initial().inum, PROC_IPC_INIT_INO);
    }

    #[test]
    fn time_offsets() {
        use crate::errno::{EACCES, EINVAL, ERANGE};
        let init = UserNamespace::new_initial();
        let t = TimeNamespace::new(&init);
        assert_eq!(t.show(), "monotonic           0         0\nboottime            0         0\n");
        let offs = parse_timens_offsets(b"monotonic 100 5\n7 -2 0\n").unwrap();
        assert_eq!(offs.len(), 2);
        assert_eq!(parse_timens_offsets(b"realtime 1 0"), Err(EINVAL));
        assert_eq!(parse_timens_offsets(b"1 1 1000000000"), Err(EINVAL));
        assert_eq!(parse_timens_offsets(b"0 1 0"), Err(EINVAL));
        assert_eq!(parse_timens_offsets(b"monotonic 1"), Err(EINVAL));
        t.set_offsets(&offs, 10_000_000_000).unwrap();
        assert_eq!(*t.offsets.lock(), (100_000_000_005, -2_000_000_000));
        assert!(t.show().ends_with("boottime           -2         0\n"));
        let back = parse_timens_offsets(b"monotonic -11 0").unwrap();
        assert_eq!(t.set_offsets(&back, 10_000_000_000), Err(ERANGE));
        t.freeze();
        assert_eq!(t.set_offsets(&offs, 10_000_000_000), Err(EACCES));
    }
}
