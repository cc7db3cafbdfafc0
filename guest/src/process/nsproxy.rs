//! A task's namespaces (Linux `kernel/nsproxy.c`): `copy_namespaces` at clone,
//! `unshare_nsproxy_namespaces` for unshare, `setns`'s `validate_nsset`.
//! Every kind of Linux namespace exists: mount (a copy of the mount table),
//! UTS, IPC, PID, network, cgroup, time, and user (which Linux keeps in the
//! credentials: see `user_namespace`).
//!
//! As in Linux, the nsproxy holds the PID namespace for *children*: the task's
//! own (active) PID namespace is the one its pid was allocated in. CLONE_NEWPID
//! makes the child the first process (pid 1) of a new namespace below the
//! parent's; `unshare(CLONE_NEWPID)` does the same for the caller's next child.
//! The time namespace works the same way (`time_ns_for_children`), except
//! that the task's own time namespace is in the nsproxy too (`time_ns`).
//!
//! Hardware-free, so it is unit-tested on the host.

use alloc::sync::Arc;

use crate::errno::{Errno, EINVAL, ENOMEM, EPERM, EUSERS};
use crate::fault_inject::{should_fail, Stage};
use crate::fs::namespace::MntNamespace;
use crate::process::clone_flags::CloneFlags;
use crate::process::ns_common::{
    ns_alloc_inum, CgroupNamespace, IpcNamespace, NetNamespace, NsRef, TimeNamespace,
    PROC_MNT_INIT_INO,
};
use crate::process::pid_namespace::PidNamespace;
use crate::process::user_namespace::{ns_capable, UserNamespace};
use crate::process::utsname::UtsNamespace;

/// The namespace flags of `create_new_namespaces` (all but CLONE_NEWUSER,
/// which Linux handles with the credentials).
pub const NS_FLAGS: CloneFlags = CloneFlags::CLONE_NEWNS
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWPID)
    .union(CloneFlags::CLONE_NEWNET)
    .union(CloneFlags::CLONE_NEWCGROUP)
    .union(CloneFlags::CLONE_NEWTIME);

/// Linux `struct nsproxy`, and the task's user namespace.
pub struct NsProxy {
    pub uts_ns: Arc<UtsNamespace>,
    pub ipc_ns: Arc<IpcNamespace>,
    /// The mount table path lookup uses.
    pub mnt_ns: Arc<MntNamespace>,
    pub pid_ns_for_children: Arc<PidNamespace>,
    pub net_ns: Arc<NetNamespace>,
    pub time_ns: Arc<TimeNamespace>,
    pub time_ns_for_children: Arc<TimeNamespace>,
    pub cgroup_ns: Arc<CgroupNamespace>,
    /// Linux: `cred->user_ns`.
    pub user_ns: Arc<UserNamespace>,
}

impl NsProxy {
    /// Linux `init_nsproxy` (and `init_user_ns`).
    pub fn initial(pid_ns: &Arc<PidNamespace>) -> Arc<NsProxy> {
        let time_ns = TimeNamespace::new_initial();
        Arc::new(NsProxy {
            uts_ns: Arc::new(UtsNamespace::new_initial()),
            ipc_ns: IpcNamespace::new_initial(),
            mnt_ns: MntNamespace::new_initial(PROC_MNT_INIT_INO),
            pid_ns_for_children: pid_ns.clone(),
            net_ns: NetNamespace::new_initial(),
            time_ns_for_children: time_ns.clone(),
            time_ns,
            cgroup_ns: CgroupNamespace::new_initial(),
            user_ns: UserNamespace::new_initial(),
        })
    }

    /// Whether `unshare(CLONE_NEWTIME)` left the caller's children to another
    /// time namespace than its own (then no threads nor CLONE_VM children).
    pub fn time_ns_unshared(&self) -> bool {
        !Arc::ptr_eq(&self.time_ns, &self.time_ns_for_children)
    }

    /// Linux `exec_task_namespaces`: after `unshare(CLONE_NEWTIME)`, execve
    /// enters the time namespace for children. None when nothing changes.
    pub fn for_exec(&self) -> Option<Arc<NsProxy>> {
        if !self.time_ns_unshared() {
            return None;
        }
        let mut ns = self.clone_with(self.user_ns.clone());
        ns.time_ns = self.time_ns_for_children.clone();
        ns.time_ns.freeze();
        Some(Arc::new(ns))
    }

    fn clone_with(&self, user_ns: Arc<UserNamespace>) -> NsProxy {
        NsProxy {
            uts_ns: self.uts_ns.clone(),
            ipc_ns: self.ipc_ns.clone(),
            mnt_ns: self.mnt_ns.clone(),
            pid_ns_for_children: self.pid_ns_for_children.clone(),
            net_ns: self.net_ns.clone(),
            time_ns: self.time_ns.clone(),
            time_ns_for_children: self.time_ns_for_children.clone(),
            cgroup_ns: self.cgroup_ns.clone(),
            user_ns,
        }
    }
}

/// Who asks for new namespaces: its effective ids (kernel ids), and whether
/// it has the capabilities in its own user namespace (root in the initial
/// one; the creator of another).
#[derive(Clone, Copy, Debug)]
pub struct NsCaller {
    pub euid: u32,
    pub egid: u32,
    pub caps: bool,
}

/// The user namespace of a new task or of `unshare`'s caller (Linux
/// `copy_creds`/`unshare_userns` → `create_user_ns`), before the other
/// namespaces: a new one when CLONE_NEWUSER is given. Its creator has every
/// capability in it, whoever it is outside.
fn new_user_ns(
    flags: CloneFlags,
    old: &Arc<NsProxy>,
    who: &NsCaller,
) -> Result<Option<Arc<UserNamespace>>, Errno> {
    if !flags.contains(CloneFlags::CLONE_NEWUSER) {
        return Ok(None);
    }
    if should_fail(Stage::CopyNamespaces) {
        return Err(ENOMEM);
    }
    UserNamespace::create(&old.user_ns, who.euid, who.egid).map(Some)
}

/// The namespaces of a new task (Linux `copy_creds`' user namespace, then
/// `copy_namespaces`): the parent's when no new one is asked for (and its
/// children's time namespace is its own, or the child shares its memory);
/// otherwise EPERM without CAP_SYS_ADMIN in the (new) user namespace, EINVAL
/// for CLONE_NEWIPC with CLONE_SYSVSEM, and a new nsproxy. `active` is the
/// parent's own PID namespace: CLONE_NEWPID after `unshare(CLONE_NEWPID)`
/// (before the first child) is EINVAL, as Linux's `copy_pid_ns`; a namespace
/// nested too deep is ENOSPC. Every allocation is a fault-injection point.
pub fn copy_namespaces(
    flags: CloneFlags,
    old: &Arc<NsProxy>,
    active: &Arc<PidNamespace>,
    who: impl FnOnce() -> NsCaller,
) -> Result<Arc<NsProxy>, Errno> {
    if !flags.intersects(NS_FLAGS | CloneFlags::CLONE_NEWUSER)
        && (flags.contains(CloneFlags::CLONE_VM) || !old.time_ns_unshared())
    {
        return Ok(old.clone());
    }
    let who = &who();
    let user_ns = new_user_ns(flags, old, who)?;
    let capable = user_ns.is_some() || who.caps;
    if flags.intersects(NS_FLAGS) && !capable {
        return Err(EPERM);
    }
    if flags.contains(CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_SYSVSEM) {
        return Err(EINVAL);
    }
    let mut ns = create_new_namespaces(flags, old, active, user_ns)?;
    // Linux `timens_on_fork`: a child that does not share the memory enters
    // the time namespace for children.
    if !flags.contains(CloneFlags::CLONE_VM) {
        ns.time_ns = ns.time_ns_for_children.clone();
        ns.time_ns.freeze();
    }
    Ok(Arc::new(ns))
}

/// `unshare`'s part (Linux `unshare_userns` then
/// `unshare_nsproxy_namespaces`): None when no namespace flag is given.
/// The caller's time namespace stays; its children's changes.
pub fn unshare_nsproxy_namespaces(
    flags: CloneFlags,
    old: &Arc<NsProxy>,
    active: &Arc<PidNamespace>,
    who: &NsCaller,
) -> Result<Option<Arc<NsProxy>>, Errno> {
    if !flags.intersects(NS_FLAGS | CloneFlags::CLONE_NEWUSER) {
        return Ok(None);
    }
    let user_ns = new_user_ns(flags, old, who)?;
    let capable = user_ns.is_some() || who.caps;
    if flags.intersects(NS_FLAGS) && !capable {
        return Err(EPERM);
    }
    create_new_namespaces(flags, old, active, user_ns).map(|ns| Some(Arc::new(ns)))
}

/// What `setns` needs to know of the caller besides its namespaces.
pub struct SetnsCaller {
    pub who: NsCaller,
    /// Its thread group has no other thread.
    pub single_threaded: bool,
    /// Its `fs_struct` (cwd, umask) is shared with another task.
    pub fs_shared: bool,
}

/// `setns` into `target` (Linux `validate_nsset` → the type's `install`,
/// then `commit_nsset`): the caller's new nsproxy. Every kind asks for
/// CAP_SYS_ADMIN in the user namespace that owns the target and in the
/// caller's own; a mount namespace EINVAL with a shared fs_struct; a PID
/// namespace only the active one or one below it (EINVAL), for the
/// children; a time namespace EUSERS from a thread group of several; a user
/// namespace EINVAL for the caller's own, from a thread group of several or
/// with a shared fs_struct, EPERM without CAP_SYS_ADMIN in it (then the
/// caller has every capability there).
pub fn setns_install(
    old: &Arc<NsProxy>,
    active: &Arc<PidNamespace>,
    target: &NsRef,
    c: &SetnsCaller,
) -> Result<Arc<NsProxy>, Errno> {
    let mut init = old.user_ns.clone();
    while let Some(p) = init.parent.clone() {
        init = p;
    }
    let capable = |ns: &Arc<UserNamespace>| ns_capable(&old.user_ns, c.who.euid, c.who.caps, ns);
    let owner = target.owner().unwrap_or_else(|| init.clone());
    let mut ns = old.clone_with(old.user_ns.clone());
    if let NsRef::User(u) = target {
        if Arc::ptr_eq(u, &old.user_ns) || !c.single_threaded || c.fs_shared {
            return Err(EINVAL);
        }
        if !capable(u) {
            return Err(EPERM);
        }
        ns.user_ns = u.clone();
        return Ok(Arc::new(ns));
    }
    if !capable(&owner) || !c.who.caps {
        return Err(EPERM);
    }
    match target {
        NsRef::Mnt(m) => {
            if c.fs_shared {
                return Err(EINVAL);
            }
            ns.mnt_ns = m.clone();
        }
        NsRef::Uts(u) => ns.uts_ns = u.clone(),
        NsRef::Ipc(i) => ns.ipc_ns = i.clone(),
        NsRef::Net(n) => ns.net_ns = n.clone(),
        NsRef::Cgroup(g) => ns.cgroup_ns = g.clone(),
        NsRef::Pid(p) => {
            let mut cur = p.clone();
            while cur.level > active.level {
                cur = cur.parent.clone().expect("below level 0");
            }
            if !Arc::ptr_eq(&cur, active) {
                return Err(EINVAL);
            }
            ns.pid_ns_for_children = p.clone();
        }
        NsRef::Time(t) => {
            if !c.single_threaded {
                return Err(EUSERS);
            }
            t.freeze();
            ns.time_ns = t.clone();
            ns.time_ns_for_children = t.clone();
        }
        NsRef::User(_) => unreachable!("handled above"),
    }
    Ok(Arc::new(ns))
}

/// One namespace: a new one from `make` when `flag` is asked for (a fault
/// injection point first), else the old one shared.
fn new_or_shared<T>(
    flags: CloneFlags,
    flag: CloneFlags,
    old: &Arc<T>,
    make: impl FnOnce() -> Result<Arc<T>, Errno>,
) -> Result<Arc<T>, Errno> {
    if !flags.contains(flag) {
        return Ok(old.clone());
    }
    if should_fail(Stage::CopyNamespaces) {
        return Err(ENOMEM);
    }
    make()
}

/// Linux `create_new_namespaces`, in its order (mount, UTS, IPC, PID,
/// cgroup, network, time). A failure drops what was made before it.
fn create_new_namespaces(
    flags: CloneFlags,
    old: &Arc<NsProxy>,
    active: &Arc<PidNamespace>,
    user_ns: Option<Arc<UserNamespace>>,
) -> Result<NsProxy, Errno> {
    use CloneFlags as F;
    let mut ns = old.clone_with(user_ns.unwrap_or_else(|| old.user_ns.clone()));
    let owner = ns.user_ns.clone();
    let owned = (owner.level > 0).then(|| owner.clone());
    ns.mnt_ns = new_or_shared(flags, F::CLONE_NEWNS, &old.mnt_ns, || {
        let m = old.mnt_ns.copy(ns_alloc_inum())?;
        if let Some(o) = &owned {
            m.owner.call_once(|| o.clone());
        }
        Ok(m)
    })?;
    ns.uts_ns = new_or_shared(flags, F::CLONE_NEWUTS, &old.uts_ns, || {
        let u = Arc::new(old.uts_ns.copy());
        if let Some(o) = &owned {
            u.owner.call_once(|| o.clone());
        }
        Ok(u)
    })?;
    ns.ipc_ns =
        new_or_shared(flags, F::CLONE_NEWIPC, &old.ipc_ns, || Ok(IpcNamespace::new(&owner)))?;
    ns.pid_ns_for_children =
        new_or_shared(flags, F::CLONE_NEWPID, &old.pid_ns_for_children, || {
            if !Arc::ptr_eq(active, &old.pid_ns_for_children) {
                return Err(EINVAL);
            }
            let p = PidNamespace::new_child(&old.pid_ns_for_children)?;
            if let Some(o) = &owned {
                p.owner.call_once(|| o.clone());
            }
            Ok(p)
        })?;
    ns.cgroup_ns = new_or_shared(flags, F::CLONE_NEWCGROUP, &old.cgroup_ns, || {
        Ok(CgroupNamespace::new(&owner))
    })?;
    ns.net_ns =
        new_or_shared(flags, F::CLONE_NEWNET, &old.net_ns, || Ok(NetNamespace::new(&owner)))?;
    ns.time_ns_for_children =
        new_or_shared(flags, F::CLONE_NEWTIME, &old.time_ns_for_children, || {
            Ok(TimeNamespace::new(&owner))
        })?;
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::ENOSPC;
    use crate::process::utsname::UtsField;

    const ROOT: NsCaller = NsCaller { euid: 0, egid: 0, caps: true };
    const USER: NsCaller = NsCaller { euid: 1000, egid: 1000, caps: false };

    #[test]
    fn shared_unless_asked_and_only_for_root() {
        let root = PidNamespace::new_root();
        let init = NsProxy::initial(&root);
        let same = copy_namespaces(CloneFlags::empty(), &init, &root, || USER).unwrap();
        assert!(Arc::ptr_eq(&same, &init), "no flag: the parent's nsproxy is shared");
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWUTS, &init, &root, || USER).err(),
            Some(EPERM)
        );
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWPID, &init, &root, || USER).err(),
            Some(EPERM)
        );
        let uts = copy_namespaces(CloneFlags::CLONE_NEWUTS, &init, &root, || ROOT).unwrap();
        assert!(!Arc::ptr_eq(&uts.uts_ns, &init.uts_ns));
        assert!(Arc::ptr_eq(&uts.pid_ns_for_children, &root));
        uts.uts_ns.set(UtsField::Nodename, b"private");
        assert_eq!(&init.uts_ns.name().nodename[..8], b"kvmfork\0");
        let pid = copy_namespaces(CloneFlags::CLONE_NEWPID, &init, &root, || ROOT).unwrap();
        assert!(Arc::ptr_eq(&pid.uts_ns, &init.uts_ns));
        assert_eq!(pid.pid_ns_for_children.level, 1);
        assert!(Arc::ptr_eq(pid.pid_ns_for_children.parent.as_ref().unwrap(), &root));
    }

    #[test]
    fn unshare_then_clone_newpid_is_einval() {
        let root = PidNamespace::new_root();
        let init = NsProxy::initial(&root);
        assert!(unshare_nsproxy_namespaces(CloneFlags::empty(), &init, &root, &USER)
            .unwrap()
            .is_none());
        let after = unshare_nsproxy_namespaces(CloneFlags::CLONE_NEWPID, &init, &root, &ROOT)
            .unwrap()
            .unwrap();
        assert_eq!(after.pid_ns_for_children.level, 1);
        // The caller's own namespace is still the root: a second new one is refused.
        assert_eq!(
            unshare_nsproxy_namespaces(CloneFlags::CLONE_NEWPID, &after, &root, &ROOT).err(),
            Some(EINVAL)
        );
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWPID, &after, &root, || ROOT).err(),
            Some(EINVAL)
        );
        // UTS alone still works.
        assert!(copy_namespaces(CloneFlags::CLONE_NEWUTS, &after, &root, || ROOT).is_ok());
    }

    #[test]
    fn a_user_namespace_lets_its_creator_make_the_others() {
        let root = PidNamespace::new_root();
        let init = NsProxy::initial(&root);
        let f = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS;
        let ns = copy_namespaces(f, &init, &root, || USER).unwrap();
        assert_eq!(ns.user_ns.level, 1);
        assert_eq!(ns.user_ns.owner, 1000);
        assert_ne!(ns.net_ns.inum, init.net_ns.inum);
        assert_ne!(ns.mnt_ns.inum, init.mnt_ns.inum);
        assert!(Arc::ptr_eq(&ns.ipc_ns, &init.ipc_ns) && Arc::ptr_eq(&ns.uts_ns, &init.uts_ns));
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWNET, &init, &root, || USER).err(),
            Some(EPERM)
        );
        let sysvsem = CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_SYSVSEM;
        assert_eq!(copy_namespaces(sysvsem, &init, &root, || ROOT).err(), Some(EINVAL));
        assert!(unshare_nsproxy_namespaces(sysvsem, &init, &root, &ROOT).is_ok());
    }

    #[test]
    fn time_namespaces_are_for_children() {
        let root = PidNamespace::new_root();
        let init = NsProxy::initial(&root);
        let me = unshare_nsproxy_namespaces(CloneFlags::CLONE_NEWTIME, &init, &root, &ROOT)
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&me.time_ns, &init.time_ns) && me.time_ns_unshared());
        let child = copy_namespaces(CloneFlags::empty(), &me, &root, || USER).unwrap();
        assert!(Arc::ptr_eq(&child.time_ns, &me.time_ns_for_children));
        assert!(!child.time_ns_unshared());
        let thread = copy_namespaces(CloneFlags::CLONE_VM, &me, &root, || USER).unwrap();
        assert!(Arc::ptr_eq(&thread, &me), "a CLONE_VM child shares the nsproxy");
        assert!(Arc::ptr_eq(&me.for_exec().unwrap().time_ns, &me.time_ns_for_children));
        assert!(child.for_exec().is_none());
    }

    #[test]
    fn setns_checks() {
        let root = PidNamespace::new_root();
        let init = NsProxy::initial(&root);
        let plain = SetnsCaller { who: ROOT, single_threaded: true, fs_shared: false };
        let other = copy_namespaces(
            CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS,
            &init,
            &root,
            || ROOT,
        )
        .unwrap();
        let uts = NsRef::Uts(other.uts_ns.clone());
        let back = setns_install(&init, &root, &uts, &plain).unwrap();
        assert!(Arc::ptr_eq(&back.uts_ns, &other.uts_ns));
        assert!(Arc::ptr_eq(&back.mnt_ns, &init.mnt_ns), "the rest stays");
        let user = SetnsCaller { who: USER, ..plain };
        assert_eq!(setns_install(&init, &root, &uts, &user).err(), Some(EPERM));
        let mnt = NsRef::Mnt(other.mnt_ns.clone());
        let shared = SetnsCaller { fs_shared: true, ..plain };
        assert_eq!(setns_install(&init, &root, &mnt, &shared).err(), Some(EINVAL));
        // PID: the active namespace or below, for the children.
        let pid = NsRef::Pid(other.pid_ns_for_children.clone());
        let inside = setns_install(&init, &root, &pid, &plain).unwrap();
        assert!(Arc::ptr_eq(&inside.pid_ns_for_children, &other.pid_ns_for_children));
        let active = other.pid_ns_for_children.clone();
        assert_eq!(
            setns_install(&init, &active, &NsRef::Pid(root.clone()), &plain).err(),
            Some(EINVAL),
            "not above the active one"
        );
        let time = NsRef::Time(init.time_ns.clone());
        let threads = SetnsCaller { single_threaded: false, ..plain };
        assert_eq!(setns_install(&init, &root, &time, &threads).err(), Some(EUSERS));
        // User namespaces: not one's own; the owner may enter its child.
        let own = NsRef::User(init.user_ns.clone());
        assert_eq!(setns_install(&init, &root, &own, &plain).err(), Some(EINVAL));
        let mine = copy_namespaces(CloneFlags::CLONE_NEWUSER, &init, &root, || USER).unwrap();
        let target = NsRef::User(mine.user_ns.clone());
        assert!(setns_install(&init, &root, &target, &user).is_ok());
        let stranger = SetnsCaller { who: NsCaller { euid: 7, egid: 7, caps: false }, ..plain };
        assert_eq!(setns_install(&init, &root, &target, &stranger).err(), Some(EPERM));
        // A namespace owned by a user namespace: its owner's creator may enter.
        let owned = copy_namespaces(
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET,
            &init,
            &root,
            || USER,
        )
        .unwrap();
        let net = NsRef::Net(owned.net_ns.clone());
        let in_mine = SetnsCaller { who: NsCaller { caps: true, ..USER }, ..plain };
        assert!(setns_install(&mine, &root, &net, &in_mine).is_err(), "a sibling's");
        assert!(setns_install(&owned, &root, &net, &in_mine).is_ok());
    }

    #[test]
    fn nesting_stops_at_level_32() {
        let root = PidNamespace::new_root();
        let mut ns = NsProxy::initial(&root);
        let mut active = root.clone();
        for _ in 0..32 {
            ns = copy_namespaces(CloneFlags::CLONE_NEWPID, &ns, &active, || ROOT).unwrap();
            active = ns.pid_ns_for_children.clone();
        }
        assert_eq!(active.level, 32);
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWPID, &ns, &active, || ROOT).err(),
            Some(ENOSPC)
        );
    }
}
