//! User namespaces (Linux `kernel/user_namespace.c`, `kernel/capability.c`
//! `ns_capable`): who owns a namespace, the id maps between a namespace and
//! its parent, and the capability rule that lets the creator of a user
//! namespace create other namespaces in it without being root outside.
//!
//! Linux keeps a task's user namespace in its `cred`; here it is in the
//! task's `nsproxy` (the credentials are a plain copied value), which gives
//! the same sharing: both are per task, copied at clone, and replaced by
//! `unshare`. The capabilities are Linux's for what exists here: root in the
//! initial namespace has them all; a task that created or entered a user
//! namespace has them all there (`set_cred_user_ns`) until it execs without
//! being root of that namespace; the owner of a namespace (its creator's
//! effective uid, in the parent) has them all in it from the parent.
//!
//! Hardware-free, so it is unit-tested on the host.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::{Errno, EINVAL, ENOSPC, EPERM};
use crate::process::ns_common::{ns_alloc_inum, PROC_USER_INIT_INO};

/// At most this many lines in a map (Linux `UID_GID_MAP_MAX_EXTENTS`).
pub const UID_GID_MAP_MAX_EXTENTS: usize = 340;

/// One line of a map: `count` ids from `first` inside are `lower_first`...
/// in the kernel's ids (Linux `uid_gid_extent`, with the outside ids
/// translated to kernel ids when written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub first: u32,
    pub lower_first: u32,
    pub count: u32,
}

/// A uid or gid map (Linux `uid_gid_map`): empty until written, written once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdMap {
    pub extents: Vec<Extent>,
}

impl IdMap {
    /// The identity map of the initial namespace.
    pub fn identity() -> Self {
        IdMap { extents: alloc::vec![Extent { first: 0, lower_first: 0, count: u32::MAX }] }
    }

    /// A kernel id as the namespace sees it (Linux `map_id_up`).
    pub fn map_id_up(&self, kid: u32) -> Option<u32> {
        self.extents
            .iter()
            .find(|e| kid >= e.lower_first && kid - e.lower_first < e.count)
            .map(|e| e.first + (kid - e.lower_first))
    }

    /// The kernel id of the namespace's id `id` (Linux `map_id_down`).
    pub fn map_id_down(&self, id: u32) -> Option<u32> {
        self.map_id_range_down(id, 1)
    }

    /// The kernel ids of `count` ids from `id`, if one extent holds them all
    /// (Linux `map_id_range_down`).
    pub fn map_id_range_down(&self, id: u32, count: u32) -> Option<u32> {
        let last = id.checked_add(count - 1)?;
        self.extents
            .iter()
            .find(|e| id >= e.first && last - e.first < e.count)
            .map(|e| e.lower_first + (id - e.first))
    }

    /// Text as `/proc/PID/uid_map` shows it to a reader whose namespace's
    /// map is `reader` (Linux `uid_m_show`: outside ids in the reader's
    /// terms; here the reader is the namespace's parent or the initial
    /// namespace, as the ids are kernel ids).
    pub fn show(&self) -> alloc::string::String {
        let mut s = alloc::string::String::new();
        for e in &self.extents {
            s.push_str(&alloc::format!("{:>10} {:>10} {:>10}\n", e.first, e.lower_first, e.count));
        }
        s
    }
}

/// Parse what is written to a `uid_map` or `gid_map` (Linux
/// `map_write`'s parsing): lines of three decimal numbers `first
/// lower_first count`, separated by spaces; EINVAL for anything else, a
/// count of 0, a range that wraps, overlapping ranges inside or outside,
/// or more than [`UID_GID_MAP_MAX_EXTENTS`] lines. The outside ids are as
/// the writer's parent-side namespace numbers them: `to_kernel` maps a
/// range of them down (None: not mapped there, EPERM).
pub fn parse_id_map(
    text: &[u8],
    to_kernel: impl Fn(u32, u32) -> Option<u32>,
) -> Result<IdMap, Errno> {
    let text = core::str::from_utf8(text).map_err(|_| EINVAL)?;
    let mut extents: Vec<Extent> = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() && lines.peek().is_none() {
            break;
        }
        let mut f = line.split(' ').filter(|s| !s.is_empty());
        let mut num = || -> Result<u32, Errno> {
            let s = f.next().ok_or(EINVAL)?;
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(EINVAL);
            }
            s.parse::<u32>().map_err(|_| EINVAL)
        };
        let (first, lower_first, count) = (num()?, num()?, num()?);
        if f.next().is_some() {
            return Err(EINVAL);
        }
        // (u32)-1 is not a valid id: a range may not reach it.
        if count == 0
            || first.checked_add(count).is_none()
            || lower_first.checked_add(count).is_none()
        {
            return Err(EINVAL);
        }
        if extents.iter().any(|e| {
            (e.first < first + count && first < e.first + e.count)
                || (e.lower_first < lower_first + count && lower_first < e.lower_first + e.count)
        }) {
            return Err(EINVAL);
        }
        if extents.len() == UID_GID_MAP_MAX_EXTENTS {
            return Err(EINVAL);
        }
        extents.push(Extent { first, lower_first, count });
    }
    if extents.is_empty() {
        return Err(EINVAL);
    }
    for e in &mut extents {
        e.lower_first = to_kernel(e.lower_first, e.count).ok_or(EPERM)?;
    }
    Ok(IdMap { extents })
}

/// A user namespace (Linux `struct user_namespace`).
pub struct UserNamespace {
    pub inum: u32,
    pub level: u32,
    pub parent: Option<Arc<UserNamespace>>,
    /// The creator's effective uid and gid (kernel ids).
    pub owner: u32,
    pub group: u32,
    pub uid_map: spin::Mutex<Option<IdMap>>,
    pub gid_map: spin::Mutex<Option<IdMap>>,
}

impl UserNamespace {
    /// Linux `init_user_ns`: every id maps to itself.
    pub fn new_initial() -> Arc<Self> {
        Arc::new(UserNamespace {
            inum: PROC_USER_INIT_INO,
            level: 0,
            parent: None,
            owner: 0,
            group: 0,
            uid_map: spin::Mutex::new(Some(IdMap::identity())),
            gid_map: spin::Mutex::new(Some(IdMap::identity())),
        })
    }

    /// Linux `create_user_ns`: ENOSPC below level 33 (`parent_ns->level >
    /// 32`); EPERM when the
    /// creator's effective ids have no mapping in `parent` (as after an
    /// `unshare(CLONE_NEWUSER)` whose maps were never written).
    pub fn create(parent: &Arc<UserNamespace>, euid: u32, egid: u32) -> Result<Arc<Self>, Errno> {
        if parent.level > 32 {
            return Err(ENOSPC);
        }
        if parent.from_kuid(euid).is_none() || parent.from_kgid(egid).is_none() {
            return Err(EPERM);
        }
        Ok(Arc::new(UserNamespace {
            inum: ns_alloc_inum(),
            level: parent.level + 1,
            parent: Some(parent.clone()),
            owner: euid,
            group: egid,
            uid_map: spin::Mutex::new(None),
            gid_map: spin::Mutex::new(None),
        }))
    }

    /// A kernel uid as this namespace sees it (Linux `from_kuid`).
    pub fn from_kuid(&self, kuid: u32) -> Option<u32> {
        self.uid_map.lock().as_ref().and_then(|m| m.map_id_up(kuid))
    }

    pub fn from_kgid(&self, kgid: u32) -> Option<u32> {
        self.gid_map.lock().as_ref().and_then(|m| m.map_id_up(kgid))
    }

    /// Linux `from_kuid_munged`: the overflow uid for an unmapped id.
    pub fn from_kuid_munged(&self, kuid: u32) -> u32 {
        self.from_kuid(kuid).unwrap_or(uapi::limits::OVERFLOWUID)
    }

    pub fn from_kgid_munged(&self, kgid: u32) -> u32 {
        self.from_kgid(kgid).unwrap_or(uapi::limits::OVERFLOWGID)
    }

    /// Whether `self` is `ns` or one of its ancestors.
    pub fn is_ancestor_of(self: &Arc<Self>, ns: &Arc<UserNamespace>) -> bool {
        let mut cur = ns.clone();
        loop {
            if Arc::ptr_eq(&cur, self) {
                return true;
            }
            match cur.parent.clone() {
                Some(p) if p.level >= self.level => cur = p,
                _ => return false,
            }
        }
    }
}

/// Linux `cap_capable` for CAP_SYS_ADMIN (and the other capabilities, as
/// there are no capability sets here): does a task whose user namespace is
/// `mine`, with effective uid `euid` and capabilities in its own namespace
/// `caps_in_own`, have the capability in `target`? Yes in its own
/// namespace if it has them there, in a namespace it (its euid) owns whose
/// parent is its own, and in every namespace below one of those.
pub fn ns_capable(
    mine: &Arc<UserNamespace>,
    euid: u32,
    caps_in_own: bool,
    target: &Arc<UserNamespace>,
) -> bool {
    let mut ns = target.clone();
    loop {
        if Arc::ptr_eq(&ns, mine) {
            return caps_in_own;
        }
        if ns.level <= mine.level {
            return false;
        }
        let parent = ns.parent.clone().expect("a namespace above level 0 has a parent");
        if Arc::ptr_eq(&parent, mine) && ns.owner == euid {
            return true;
        }
        ns = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(id: u32, _count: u32) -> Option<u32> {
        Some(id)
    }

    #[test]
    fn maps_parse_as_linux_parses_them() {
        let m = parse_id_map(b"0 1000 1\n", ident).unwrap();
        assert_eq!(m.extents, [Extent { first: 0, lower_first: 1000, count: 1 }]);
        assert_eq!(m.map_id_up(1000), Some(0));
        assert_eq!(m.map_id_up(1001), None);
        assert_eq!(m.map_id_down(0), Some(1000));
        assert_eq!(m.map_id_down(1), None);
        let m = parse_id_map(b"0 100000 65536\n70000 5 2", ident).unwrap();
        assert_eq!(m.map_id_up(100_005), Some(5));
        assert_eq!(m.map_id_up(6), Some(70001));
        assert_eq!(m.map_id_range_down(65535, 2), None, "across extents");
        assert_eq!(
            m.show(),
            "         0     100000      65536\n     70000          5          2\n"
        );
        for bad in [
            &b""[..],
            b"\n",
            b"0 1000\n",
            b"0 1000 1 5\n",
            b"0 1000 0\n",
            b"0 -1 1\n",
            b"a 1 1\n",
            b"0 1000 1\n\n",
            b"0 4294967295 1\n",
            b"0 10 5\n3 100 1\n",
            b"0 10 5\n100 12 1\n",
        ] {
            assert_eq!(parse_id_map(bad, ident), Err(EINVAL), "{:?}", core::str::from_utf8(bad));
        }
        let many: alloc::string::String = (0..341).map(|i| alloc::format!("{i} {i} 1\n")).collect();
        assert_eq!(parse_id_map(many.as_bytes(), ident), Err(EINVAL));
        assert!(parse_id_map(many.as_bytes()[..many.len() - 10].as_ref(), ident).is_ok());
        assert_eq!(parse_id_map(b"0 1000 1", |_, _| None), Err(EPERM));
    }

    #[test]
    fn unmapped_ids_read_as_the_overflow_id() {
        let init = UserNamespace::new_initial();
        assert_eq!(init.from_kuid_munged(1234), 1234);
        let ns = UserNamespace::create(&init, 1000, 1000).unwrap();
        assert_eq!(ns.from_kuid_munged(1000), 65534);
        assert_eq!(ns.from_kgid_munged(1000), 65534);
        assert_eq!(UserNamespace::create(&ns, 1000, 1000).err(), Some(EPERM), "no mapping yet");
        *ns.uid_map.lock() = Some(parse_id_map(b"0 1000 1", ident).unwrap());
        *ns.gid_map.lock() = Some(parse_id_map(b"0 1000 1", ident).unwrap());
        assert_eq!(ns.from_kuid_munged(1000), 0);
        let inner = UserNamespace::create(&ns, 1000, 1000).unwrap();
        assert_eq!(inner.level, 2);
        assert!(init.is_ancestor_of(&inner) && ns.is_ancestor_of(&inner));
        assert!(!inner.is_ancestor_of(&ns));
    }

    #[test]
    fn creators_and_root_are_capable() {
        let init = UserNamespace::new_initial();
        assert!(ns_capable(&init, 0, true, &init));
        assert!(!ns_capable(&init, 1000, false, &init));
        let ns = UserNamespace::create(&init, 1000, 1000).unwrap();
        // Root outside has every capability inside; the owner too, from outside.
        assert!(ns_capable(&init, 0, true, &ns));
        assert!(ns_capable(&init, 1000, false, &ns));
        assert!(!ns_capable(&init, 1001, false, &ns));
        // Inside, with the creator's full set: capable there, not outside.
        assert!(ns_capable(&ns, 1000, true, &ns));
        assert!(!ns_capable(&ns, 1000, true, &init));
        assert!(!ns_capable(&ns, 1000, false, &ns), "after an exec as non-root");
        let other = UserNamespace::create(&init, 1001, 1001).unwrap();
        assert!(!ns_capable(&ns, 1000, true, &other), "a sibling");
        let mut deep = init.clone();
        for _ in 0..33 {
            deep = UserNamespace::create(&deep, 0, 0).unwrap();
            *deep.uid_map.lock() = Some(IdMap::identity());
            *deep.gid_map.lock() = Some(IdMap::identity());
        }
        assert_eq!(deep.level, 33);
        assert_eq!(UserNamespace::create(&deep, 0, 0).err(), Some(ENOSPC));
    }
}
