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

    /// Text as `/proc/PID/uid_map` shows it (Linux `uid_m_show`): the
    /// outside ids as `up` (the reader's namespace, or its parent when the
    /// reader reads its own namespace's map) numbers them; an extent it does
    /// not map shows (u32)-1.
    pub fn show(&self, up: impl Fn(u32) -> Option<u32>) -> alloc::string::String {
        let mut s = alloc::string::String::new();
        for e in &self.extents {
            let lower = up(e.lower_first).unwrap_or(u32::MAX);
            s.push_str(&alloc::format!("{:>10} {:>10} {:>10}\n", e.first, lower, e.count));
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
    /// `/proc/PID/setgroups` says "allow" (Linux USERNS_SETGROUPS_ALLOWED,
    /// inherited from the parent).
    pub setgroups_allowed: core::sync::atomic::AtomicBool,
}

/// Which map a `uid_map` or `gid_map` write is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    Uid,
    Gid,
}

/// Who writes a map (Linux: the opener's credentials, `file->f_cred`; here
/// the writer's): its user namespace, effective ids (kernel ids) and
/// whether it has the capabilities in its own user namespace.
pub struct Writer {
    pub user_ns: Arc<UserNamespace>,
    pub euid: u32,
    pub egid: u32,
    pub caps: bool,
}

impl Writer {
    fn capable(&self, target: &Arc<UserNamespace>) -> bool {
        ns_capable(&self.user_ns, self.euid, self.caps, target)
    }
}

/// A write of `text` at `pos` to `ns`'s `uid_map` or `gid_map` (Linux
/// `proc_uid_map_write` → `map_write`), in Linux's order: EINVAL at an offset
/// or for a page or more; EPERM from a writer in neither the namespace nor
/// its parent, once a map is written, without CAP_SYS_ADMIN in the
/// namespace; EINVAL for bad text; EPERM for a map the writer may not set
/// (`new_idmap_permitted`: without CAP_SETUID/CAP_SETGID in the parent,
/// only its own effective id, once, and for a gid map only after
/// `setgroups` says "deny") or outside ids the parent does not map.
pub fn write_map(
    ns: &Arc<UserNamespace>,
    kind: MapKind,
    text: &[u8],
    pos: u64,
    w: &Writer,
) -> Result<usize, Errno> {
    if pos != 0 || text.len() >= 4096 {
        return Err(EINVAL);
    }
    let parent = ns.parent.clone().ok_or(EPERM)?;
    if !Arc::ptr_eq(&w.user_ns, ns) && !Arc::ptr_eq(&w.user_ns, &parent) {
        return Err(EPERM);
    }
    let map = match kind {
        MapKind::Uid => &ns.uid_map,
        MapKind::Gid => &ns.gid_map,
    };
    let mut map = map.lock();
    if map.is_some() {
        return Err(EPERM);
    }
    if !w.capable(ns) {
        return Err(EPERM);
    }
    // Parsed with the outside ids as written; mapped down below.
    let new = parse_id_map(text, |id, _| Some(id))?;
    let own_id = match kind {
        MapKind::Uid => w.euid,
        MapKind::Gid => w.egid,
    };
    let parent_map = match kind {
        MapKind::Uid => parent.uid_map.lock().clone(),
        MapKind::Gid => parent.gid_map.lock().clone(),
    };
    let down =
        |id: u32, count: u32| parent_map.as_ref().and_then(|m| m.map_id_range_down(id, count));
    let unprivileged_ok = new.extents.len() == 1
        && new.extents[0].count == 1
        && ns.owner == w.euid
        && down(new.extents[0].lower_first, 1) == Some(own_id)
        && (kind == MapKind::Uid
            || !ns.setgroups_allowed.load(core::sync::atomic::Ordering::Relaxed));
    // CAP_SETUID/CAP_SETGID in the parent (the writer's, there being no
    // separate capability sets here).
    if !unprivileged_ok && !w.capable(&parent) {
        return Err(EPERM);
    }
    let mut extents = new.extents;
    for e in &mut extents {
        e.lower_first = down(e.lower_first, e.count).ok_or(EPERM)?;
    }
    *map = Some(IdMap { extents });
    Ok(text.len())
}

/// A write to `/proc/PID/setgroups` (Linux `proc_setgroups_write`): "allow"
/// or "deny" (then only spaces); EINVAL otherwise or at an offset; EPERM
/// without CAP_SYS_ADMIN in the namespace, for "allow" after "deny", or
/// for "deny" once the gid map is written.
pub fn write_setgroups(
    ns: &Arc<UserNamespace>,
    text: &[u8],
    pos: u64,
    w: &Writer,
) -> Result<usize, Errno> {
    use core::sync::atomic::Ordering::Relaxed;
    if pos != 0 || text.len() >= 8 {
        return Err(EINVAL);
    }
    let (allow, rest) = if let Some(r) = text.strip_prefix(b"allow") {
        (true, r)
    } else if let Some(r) = text.strip_prefix(b"deny") {
        (false, r)
    } else {
        return Err(EINVAL);
    };
    if !rest.iter().all(u8::is_ascii_whitespace) {
        return Err(EINVAL);
    }
    if !w.capable(ns) {
        return Err(EPERM);
    }
    let gid_map = ns.gid_map.lock();
    if allow {
        if !ns.setgroups_allowed.load(Relaxed) {
            return Err(EPERM);
        }
    } else {
        if gid_map.is_some() {
            return Err(EPERM);
        }
        ns.setgroups_allowed.store(false, Relaxed);
    }
    Ok(text.len())
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
            setgroups_allowed: core::sync::atomic::AtomicBool::new(true),
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
            setgroups_allowed: core::sync::atomic::AtomicBool::new(
                parent.setgroups_allowed.load(core::sync::atomic::Ordering::Relaxed),
            ),
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
            m.show(Some),
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
    fn map_writes_follow_linux_rules() {
        let init = UserNamespace::new_initial();
        let ns = UserNamespace::create(&init, 4321, 4321).unwrap();
        let inside = Writer { user_ns: ns.clone(), euid: 4321, egid: 4321, caps: true };
        let other = Writer { user_ns: init.clone(), euid: 1, egid: 1, caps: false };
        let root = Writer { user_ns: init.clone(), euid: 0, egid: 0, caps: true };
        use MapKind::*;
        assert_eq!(write_map(&ns, Uid, b"0 4321 1", 1, &inside), Err(EINVAL), "offset");
        assert_eq!(write_map(&ns, Uid, b"0 4321 1", 0, &other), Err(EPERM), "not capable");
        assert_eq!(write_map(&ns, Uid, b"0 4321 2", 0, &inside), Err(EPERM), "two ids");
        assert_eq!(write_map(&ns, Uid, b"0 4322 1", 0, &inside), Err(EPERM), "another id");
        assert_eq!(write_map(&ns, Uid, b"x", 0, &inside), Err(EINVAL));
        assert_eq!(write_map(&ns, Uid, b"0 4321 1\n", 0, &inside), Ok(9));
        assert_eq!(write_map(&ns, Uid, b"0 4321 1\n", 0, &inside), Err(EPERM), "once");
        assert_eq!(ns.from_kuid(4321), Some(0));
        assert_eq!(write_map(&ns, Gid, b"0 4321 1", 0, &inside), Err(EPERM), "setgroups allowed");
        assert_eq!(write_setgroups(&ns, b"maybe", 0, &inside), Err(EINVAL));
        assert_eq!(write_setgroups(&ns, b"deny\n", 0, &inside), Ok(5));
        assert_eq!(write_setgroups(&ns, b"allow", 0, &inside), Err(EPERM), "after deny");
        assert_eq!(write_map(&ns, Gid, b"0 4321 1", 0, &inside), Ok(8));
        assert_eq!(write_setgroups(&ns, b"deny", 0, &inside), Err(EPERM), "after gid_map");
        assert_eq!(
            ns.gid_map.lock().as_ref().unwrap().show(|k| init.from_kuid(k)),
            "         0       4321          1\n"
        );
        // Root in the parent may map ranges.
        let ns2 = UserNamespace::create(&init, 4321, 4321).unwrap();
        assert_eq!(write_map(&ns2, Uid, b"0 100000 1000", 0, &root), Ok(13));
        assert_eq!(ns2.from_kuid(100_999), Some(999));
        let child = UserNamespace::create(&ns2, 100_000, 0);
        assert_eq!(child.err(), Some(EPERM), "gid 0 is not mapped in ns2");
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
