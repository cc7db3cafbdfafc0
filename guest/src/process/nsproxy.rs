//! A task's namespaces (Linux `kernel/nsproxy.c`): `copy_namespaces` at clone,
//! `unshare_nsproxy_namespaces` for unshare. Only the PID and UTS namespaces
//! exist here; asking for another kind is EINVAL before this is reached.
//!
//! As in Linux, the nsproxy holds the PID namespace for *children*: the task's
//! own (active) PID namespace is the one its pid was allocated in. CLONE_NEWPID
//! makes the child the first process (pid 1) of a new namespace below the
//! parent's; `unshare(CLONE_NEWPID)` does the same for the caller's next child.
//!
//! Hardware-free, so it is unit-tested on the host.

use alloc::sync::Arc;

use crate::errno::{Errno, EINVAL, ENOMEM, EPERM};
use crate::fault_inject::{should_fail, Stage};
use crate::fs::namespace::MntNamespace;
use crate::process::clone_flags::CloneFlags;
use crate::process::pid_namespace::PidNamespace;
use crate::process::utsname::UtsNamespace;

/// The namespace flags this kernel implements.
pub const NS_FLAGS: CloneFlags = CloneFlags::CLONE_NEWPID.union(CloneFlags::CLONE_NEWUTS);

/// Linux `struct nsproxy` (the namespaces that exist here).
pub struct NsProxy {
    pub uts_ns: Arc<UtsNamespace>,
    /// The mount table path lookup uses (CLONE_NEWNS, which would copy it,
    /// is not implemented yet: every task shares the initial one).
    pub mnt_ns: Arc<MntNamespace>,
    pub pid_ns_for_children: Arc<PidNamespace>,
}

impl NsProxy {
    /// Linux `init_nsproxy`.
    pub fn initial(pid_ns: &Arc<PidNamespace>) -> Arc<NsProxy> {
        Arc::new(NsProxy {
            uts_ns: Arc::new(UtsNamespace::new_initial()),
            mnt_ns: MntNamespace::new_initial(),
            pid_ns_for_children: pid_ns.clone(),
        })
    }
}

/// The namespaces of a new task (Linux `copy_namespaces`): the parent's when no
/// new one is asked for; otherwise EPERM without CAP_SYS_ADMIN (`capable`), and
/// a new nsproxy (this is the stage's allocation, where fault injection fails
/// it). `active` is the parent's own PID namespace: CLONE_NEWPID after
/// `unshare(CLONE_NEWPID)` (before the first child) is EINVAL, as Linux's
/// `copy_pid_ns`; a namespace nested too deep is ENOSPC.
pub fn copy_namespaces(
    flags: CloneFlags,
    old: &Arc<NsProxy>,
    active: &Arc<PidNamespace>,
    capable: bool,
) -> Result<Arc<NsProxy>, Errno> {
    if !flags.intersects(NS_FLAGS) {
        return Ok(old.clone());
    }
    if !capable {
        return Err(EPERM);
    }
    if should_fail(Stage::CopyNamespaces) {
        return Err(ENOMEM);
    }
    create_new_namespaces(flags, old, active)
}

/// `unshare`'s part (Linux `unshare_nsproxy_namespaces`): None when no
/// namespace flag is given.
pub fn unshare_nsproxy_namespaces(
    flags: CloneFlags,
    old: &Arc<NsProxy>,
    active: &Arc<PidNamespace>,
    capable: bool,
) -> Result<Option<Arc<NsProxy>>, Errno> {
    if !flags.intersects(NS_FLAGS) {
        return Ok(None);
    }
    if !capable {
        return Err(EPERM);
    }
    create_new_namespaces(flags, old, active).map(Some)
}

/// Linux `create_new_namespaces`, in its order (UTS before PID).
fn create_new_namespaces(
    flags: CloneFlags,
    old: &Arc<NsProxy>,
    active: &Arc<PidNamespace>,
) -> Result<Arc<NsProxy>, Errno> {
    let uts_ns = if flags.contains(CloneFlags::CLONE_NEWUTS) {
        Arc::new(old.uts_ns.copy())
    } else {
        old.uts_ns.clone()
    };
    let pid_ns_for_children = if flags.contains(CloneFlags::CLONE_NEWPID) {
        if !Arc::ptr_eq(active, &old.pid_ns_for_children) {
            return Err(EINVAL);
        }
        PidNamespace::new_child(&old.pid_ns_for_children)?
    } else {
        old.pid_ns_for_children.clone()
    };
    let mnt_ns = old.mnt_ns.clone();
    Ok(Arc::new(NsProxy { uts_ns, mnt_ns, pid_ns_for_children }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::ENOSPC;
    use crate::process::utsname::UtsField;

    #[test]
    fn shared_unless_asked_and_only_for_root() {
        let root = PidNamespace::new_root();
        let init = NsProxy::initial(&root);
        let same = copy_namespaces(CloneFlags::empty(), &init, &root, false).unwrap();
        assert!(Arc::ptr_eq(&same, &init), "no flag: the parent's nsproxy is shared");
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWUTS, &init, &root, false).err(),
            Some(EPERM)
        );
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWPID, &init, &root, false).err(),
            Some(EPERM)
        );
        let uts = copy_namespaces(CloneFlags::CLONE_NEWUTS, &init, &root, true).unwrap();
        assert!(!Arc::ptr_eq(&uts.uts_ns, &init.uts_ns));
        assert!(Arc::ptr_eq(&uts.pid_ns_for_children, &root));
        uts.uts_ns.set(UtsField::Nodename, b"private");
        assert_eq!(&init.uts_ns.name().nodename[..8], b"kvmfork\0");
        let pid = copy_namespaces(CloneFlags::CLONE_NEWPID, &init, &root, true).unwrap();
        assert!(Arc::ptr_eq(&pid.uts_ns, &init.uts_ns));
        assert_eq!(pid.pid_ns_for_children.level, 1);
        assert!(Arc::ptr_eq(pid.pid_ns_for_children.parent.as_ref().unwrap(), &root));
    }

    #[test]
    fn unshare_then_clone_newpid_is_einval() {
        let root = PidNamespace::new_root();
        let init = NsProxy::initial(&root);
        assert!(unshare_nsproxy_namespaces(CloneFlags::empty(), &init, &root, false)
            .unwrap()
            .is_none());
        let after = unshare_nsproxy_namespaces(CloneFlags::CLONE_NEWPID, &init, &root, true)
            .unwrap()
            .unwrap();
        assert_eq!(after.pid_ns_for_children.level, 1);
        // The caller's own namespace is still the root: a second new one is refused.
        assert_eq!(
            unshare_nsproxy_namespaces(CloneFlags::CLONE_NEWPID, &after, &root, true).err(),
            Some(EINVAL)
        );
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWPID, &after, &root, true).err(),
            Some(EINVAL)
        );
        // UTS alone still works.
        assert!(copy_namespaces(CloneFlags::CLONE_NEWUTS, &after, &root, true).is_ok());
    }

    #[test]
    fn nesting_stops_at_level_32() {
        let root = PidNamespace::new_root();
        let mut ns = NsProxy::initial(&root);
        let mut active = root.clone();
        for _ in 0..32 {
            ns = copy_namespaces(CloneFlags::CLONE_NEWPID, &ns, &active, true).unwrap();
            active = ns.pid_ns_for_children.clone();
        }
        assert_eq!(active.level, 32);
        assert_eq!(
            copy_namespaces(CloneFlags::CLONE_NEWPID, &ns, &active, true).err(),
            Some(ENOSPC)
        );
    }
}
