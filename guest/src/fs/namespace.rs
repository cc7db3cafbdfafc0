//! The mount table (Linux `fs/namespace.c`, in spirit): which file system is
//! mounted where, for path lookup to cross mount points, `mount`, `umount2`
//! and `/proc/mounts`.
//!
//! A [`Mount`] is one instance of a file system grafted on a directory of
//! another mount (Linux `struct mount`: `mnt_parent`, `mnt_mountpoint`,
//! `mnt_sb`). The root mount has no parent. Several mounts may sit on the
//! same directory; lookup sees the last one (Linux `follow_mount`). Whoever
//! uses a mount (an open file, a path being resolved) holds an `Arc` of it:
//! a mount held by anyone but the table is busy (Linux `mnt_count`,
//! `propagate_mount_busy`), and `umount2` then answers EBUSY.
//!
//! The table is a [`MntNamespace`]'s (Linux `struct mnt_namespace`), which a
//! task's `nsproxy` carries: `CLONE_NEWNS` copies it (Linux `copy_mnt_ns`:
//! every mount again, with new ids), after which a mount or unmount in one
//! namespace is invisible in the other. Mount propagation (shared, slave
//! and unbindable mounts) is not implemented: every mount is private, and
//! `mount(MS_PRIVATE)` is accepted as the no-op it is. Mountpoints are inode numbers
//! of the parent mount's file system; the file systems are those of
//! [`FsType`]: the RAM file system (the root), `proc` and `cgroup2`.
//!
//! Hardware-free, so it is unit-tested on the host.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::{Errno, EBUSY, EINVAL};

/// A mount's number (Linux `mnt_id`), unique while the kernel runs.
pub type MountId = u32;

/// What a mount is an instance of (Linux: the `super_block` and its
/// `file_system_type`).
#[derive(Clone)]
pub enum FsType {
    /// The RAM file system the initramfs is unpacked into (Linux's rootfs).
    Ram,
    /// The proc file system, showing the processes of the PID namespace that
    /// was the mounting task's: `fs_info` is that namespace (Linux
    /// `proc_fill_super`: `s_fs_info` is the mounter's `task_active_pid_ns`;
    /// opaque here, as the file systems are a layer below the processes).
    Proc { fs_info: Arc<dyn core::any::Any + Send + Sync> },
    /// The cgroup v2 file system: the one hierarchy, whoever mounts it.
    Cgroup2,
}

impl FsType {
    /// The type's name as `/proc/mounts` shows it.
    pub fn name(&self) -> &'static str {
        match self {
            FsType::Ram => "rootfs",
            FsType::Proc { .. } => "proc",
            FsType::Cgroup2 => "cgroup2",
        }
    }
}

/// One mount (Linux `struct mount`).
pub struct Mount {
    pub id: MountId,
    /// The mount this one is on (itself for the root mount).
    pub parent: MountId,
    /// The directory it is on: an inode of the parent mount's file system.
    pub mountpoint: u64,
    pub fs: FsType,
    /// The source as `mount` was given it ("proc", "none", ...).
    pub source: String,
    /// `MS_RDONLY`, `MS_NOSUID`, `MS_NODEV`, `MS_NOEXEC`, ... as given.
    pub flags: u64,
}

impl Mount {
    pub fn is_root(&self) -> bool {
        self.parent == self.id
    }
}

/// The mounts of a namespace, in the order they were made.
pub struct MountTable {
    mounts: BTreeMap<MountId, Arc<Mount>>,
    root: MountId,
}

/// Mount ids are unique across namespaces.
static NEXT_ID: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(1);

fn next_id() -> MountId {
    NEXT_ID.fetch_add(1, core::sync::atomic::Ordering::Relaxed)
}

impl MountTable {
    /// A table with only the root mount, of `fs`.
    pub fn new(fs: FsType, source: &str) -> Self {
        let id = next_id();
        let root = Arc::new(Mount {
            id,
            parent: id,
            mountpoint: 0,
            fs,
            source: String::from(source),
            flags: 0,
        });
        let mut mounts = BTreeMap::new();
        mounts.insert(id, root);
        Self { mounts, root: id }
    }

    pub fn root(&self) -> Arc<Mount> {
        self.mounts[&self.root].clone()
    }

    pub fn get(&self, id: MountId) -> Option<Arc<Mount>> {
        self.mounts.get(&id).cloned()
    }

    /// The mount on directory `ino` of mount `parent`: the one mounted last
    /// when there are several (Linux `lookup_mnt` as `follow_mount` uses it).
    pub fn mounted_on(&self, parent: MountId, ino: u64) -> Option<Arc<Mount>> {
        self.mounts
            .values()
            .rev()
            .find(|m| !m.is_root() && m.parent == parent && m.mountpoint == ino)
            .cloned()
    }

    /// Mount `fs` on directory `mountpoint` of `parent` (Linux
    /// `do_new_mount` → `graft_tree`); the caller resolved the target to
    /// `(parent, mountpoint)` with mounts followed, so a new mount on an
    /// existing mountpoint goes on top (the caller passes the top mount's
    /// root then).
    pub fn add(
        &mut self,
        parent: MountId,
        mountpoint: u64,
        fs: FsType,
        source: &str,
        flags: u64,
    ) -> Result<Arc<Mount>, Errno> {
        if !self.mounts.contains_key(&parent) {
            return Err(EINVAL);
        }
        let m = Arc::new(Mount {
            id: next_id(),
            parent,
            mountpoint,
            fs,
            source: String::from(source),
            flags,
        });
        self.mounts.insert(m.id, m.clone());
        Ok(m)
    }

    /// Unmount mount `id` (Linux `do_umount` without MNT_DETACH): EINVAL if
    /// it is not in this table; EBUSY for the root mount, a mount with
    /// mounts on it, or one that anyone but the table and the caller's
    /// `held` references uses (`propagate_mount_busy`).
    pub fn umount(&mut self, id: MountId, held: usize) -> Result<Arc<Mount>, Errno> {
        let m = self.mounts.get(&id).ok_or(EINVAL)?;
        if m.is_root() {
            return Err(EBUSY);
        }
        if self.mounts.values().any(|c| !c.is_root() && c.parent == id) {
            return Err(EBUSY);
        }
        if Arc::strong_count(m) > 1 + held {
            return Err(EBUSY);
        }
        Ok(self.mounts.remove(&id).expect("present"))
    }

    /// Every mount, in the order they were made (`/proc/mounts`).
    pub fn mounts(&self) -> Vec<Arc<Mount>> {
        self.mounts.values().cloned().collect()
    }
}

/// A mount namespace (Linux `struct mnt_namespace`).
pub struct MntNamespace {
    /// Its `ns_common` number (`/proc/PID/ns/mnt`).
    pub inum: u32,
    pub table: spin::Mutex<MountTable>,
    /// The user namespace that owns it (Linux `mnt_namespace.user_ns`; opaque
    /// here, the processes being a layer above), set when it is made by a
    /// copy; unset: the initial one.
    pub owner: spin::Once<Arc<dyn core::any::Any + Send + Sync>>,
}

impl MountTable {
    /// A copy of every mount, with new ids, in the same order (Linux
    /// `copy_tree` for `copy_mnt_ns`): the same file systems on the same
    /// mountpoints.
    pub fn copy(&self) -> MountTable {
        let ids: BTreeMap<MountId, MountId> =
            self.mounts.keys().map(|&id| (id, next_id())).collect();
        let mounts = self
            .mounts
            .values()
            .map(|m| {
                let id = ids[&m.id];
                let copy = Mount {
                    id,
                    parent: ids[&m.parent],
                    mountpoint: m.mountpoint,
                    fs: m.fs.clone(),
                    source: m.source.clone(),
                    flags: m.flags,
                };
                (id, Arc::new(copy))
            })
            .collect();
        MountTable { mounts, root: ids[&self.root] }
    }
}

impl MntNamespace {
    /// The initial namespace, numbered `inum`: the RAM file system as the
    /// root (Linux `init_mount_tree`).
    pub fn new_initial(inum: u32) -> Arc<Self> {
        Arc::new(Self {
            inum,
            table: spin::Mutex::new(MountTable::new(FsType::Ram, "rootfs")),
            owner: spin::Once::new(),
        })
    }

    /// A new namespace, numbered `inum`, with a copy of this one's mounts
    /// (Linux `copy_mnt_ns` → `dup_mnt_ns`).
    pub fn copy(&self, inum: u32) -> Result<Arc<Self>, Errno> {
        let table = self.table.lock().copy();
        Ok(Arc::new(Self { inum, table: spin::Mutex::new(table), owner: spin::Once::new() }))
    }

    pub fn root(&self) -> Arc<Mount> {
        self.table.lock().root()
    }
}

/// The `mount` flags accepted for a new mount (Linux `do_new_mount`'s
/// `mnt_flags` from `path_mount`), recorded and shown in `/proc/mounts`.
pub const MS_NEW_MOUNT_FLAGS: u64 = uapi::mount::MS_RDONLY
    | uapi::mount::MS_NOSUID
    | uapi::mount::MS_NODEV
    | uapi::mount::MS_NOEXEC
    | uapi::mount::MS_SYNCHRONOUS
    | uapi::mount::MS_NOATIME
    | uapi::mount::MS_NODIRATIME
    | uapi::mount::MS_RELATIME
    | uapi::mount::MS_STRICTATIME
    | uapi::mount::MS_SILENT
    | uapi::mount::MS_LAZYTIME;

/// The `mount` flags that ask for something else than a new mount
/// (remount, bind, move, propagation changes other than to private): not
/// implemented, EINVAL.
pub const MS_OTHER_OPS: u64 = uapi::mount::MS_REMOUNT
    | uapi::mount::MS_BIND
    | uapi::mount::MS_MOVE
    | uapi::mount::MS_SHARED
    | uapi::mount::MS_SLAVE
    | uapi::mount::MS_UNBINDABLE;

/// Linux `do_change_type`'s flag check for a propagation change to private
/// (`flags` has MS_PRIVATE): besides MS_PRIVATE only MS_REC and MS_SILENT.
/// Every mount here is private already, so the change is a no-op.
pub fn check_change_type(flags: u64) -> Result<(), Errno> {
    use uapi::mount::{MS_PRIVATE, MS_REC, MS_SILENT};
    if flags & !(MS_PRIVATE | MS_REC | MS_SILENT) != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// Linux `ksys_umount`'s flag check: unknown flags, or MNT_EXPIRE with
/// MNT_FORCE or MNT_DETACH, are EINVAL.
pub fn check_umount_flags(flags: u32) -> Result<(), Errno> {
    use uapi::mount::{MNT_DETACH, MNT_EXPIRE, MNT_FORCE, UMOUNT_NOFOLLOW};
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0 {
        return Err(EINVAL);
    }
    if flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// The options field of a `/proc/mounts` line (Linux `show_vfsmnt`:
/// `show_mnt_opts` after "ro"/"rw"; `relatime` is the default atime mode).
pub fn mount_options(m: &Mount) -> String {
    use uapi::mount::*;
    let mut s = String::from(if m.flags & MS_RDONLY != 0 { "ro" } else { "rw" });
    for (flag, name) in [(MS_NOSUID, ",nosuid"), (MS_NODEV, ",nodev"), (MS_NOEXEC, ",noexec")] {
        if m.flags & flag != 0 {
            s.push_str(name);
        }
    }
    if m.flags & MS_NOATIME != 0 {
        s.push_str(",noatime");
    } else if m.flags & MS_NODIRATIME != 0 {
        s.push_str(",nodiratime");
    } else if m.flags & MS_STRICTATIME == 0 && !m.is_root() {
        s.push_str(",relatime");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_fs() -> FsType {
        FsType::Proc { fs_info: Arc::new(0u32) }
    }

    #[test]
    fn mounts_stack_and_the_last_one_is_seen() {
        let mut t = MountTable::new(FsType::Ram, "rootfs");
        let root = t.root();
        assert!(root.is_root());
        assert!(t.mounted_on(root.id, 5).is_none());
        let a = t.add(root.id, 5, proc_fs(), "proc", 0).unwrap();
        let b = t.add(root.id, 5, proc_fs(), "none", 0).unwrap();
        assert_eq!(t.mounted_on(root.id, 5).unwrap().id, b.id);
        assert!(t.mounted_on(a.id, 5).is_none(), "per parent mount");
        assert_eq!(t.mounts().len(), 3);
        assert_eq!(t.add(999, 1, FsType::Ram, "x", 0).err(), Some(EINVAL));
    }

    #[test]
    fn umount_refuses_busy_mounts() {
        let mut t = MountTable::new(FsType::Ram, "rootfs");
        let root = t.root();
        assert_eq!(t.umount(root.id, 1).err(), Some(EBUSY), "the root mount");
        let a = t.add(root.id, 5, proc_fs(), "proc", 0).unwrap();
        let on_a = t.add(a.id, 7, proc_fs(), "proc", 0).unwrap();
        let id = on_a.id;
        drop(on_a);
        assert_eq!(t.umount(a.id, 1).err(), Some(EBUSY), "a mount on it");
        let user = t.get(id).unwrap(); // an open file, say
        assert_eq!(t.umount(id, 0).err(), Some(EBUSY), "in use");
        drop(user);
        assert!(t.umount(id, 0).is_ok());
        assert_eq!(t.umount(id, 0).err(), Some(EINVAL), "gone");
        assert!(t.umount(a.id, 1).is_ok(), "the caller's own reference");
        assert_eq!(t.mounts().len(), 1);
    }

    #[test]
    fn a_copied_table_is_independent() {
        let ns = MntNamespace::new_initial(1);
        let root = ns.root();
        let a = ns.table.lock().add(root.id, 5, proc_fs(), "proc", 0).unwrap();
        ns.table.lock().add(a.id, 0, proc_fs(), "p2", 0).unwrap();
        let copy = ns.copy(2).unwrap();
        assert_ne!(copy.inum, ns.inum);
        let (t, c) = (ns.table.lock(), copy.table.lock());
        assert_eq!(c.mounts().len(), 3);
        let (croot, ca) = (c.root(), c.mounted_on(c.root().id, 5).unwrap());
        assert!(croot.is_root() && croot.id != root.id && ca.id != a.id);
        assert_eq!(c.mounted_on(ca.id, 0).unwrap().source, "p2", "parents remapped");
        drop((t, c));
        // A mount or umount in one is invisible in the other.
        copy.table.lock().add(croot.id, 9, proc_fs(), "new", 0).unwrap();
        assert!(ns.table.lock().mounted_on(root.id, 9).is_none());
        let top = ns.table.lock().mounted_on(a.id, 0).unwrap().id;
        assert!(ns.table.lock().umount(top, 0).is_ok());
        assert!(copy.table.lock().mounted_on(ca.id, 0).is_some());
        assert!(check_change_type(uapi::mount::MS_PRIVATE | uapi::mount::MS_REC).is_ok());
        assert_eq!(
            check_change_type(uapi::mount::MS_PRIVATE | uapi::mount::MS_RDONLY),
            Err(EINVAL)
        );
    }

    #[test]
    fn umount_flags_and_options() {
        use uapi::mount::*;
        assert!(check_umount_flags(0).is_ok());
        assert!(check_umount_flags(MNT_DETACH | UMOUNT_NOFOLLOW).is_ok());
        assert_eq!(check_umount_flags(MNT_EXPIRE | MNT_FORCE), Err(EINVAL));
        assert_eq!(check_umount_flags(0x100), Err(EINVAL));
        let mut t = MountTable::new(FsType::Ram, "rootfs");
        assert_eq!(mount_options(&t.root()), "rw");
        let m = t.add(t.root().id, 3, proc_fs(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC).unwrap();
        assert_eq!(mount_options(&m), "rw,nosuid,nodev,noexec,relatime");
        let m = t.add(t.root().id, 3, proc_fs(), "proc", MS_RDONLY | MS_NOATIME).unwrap();
        assert_eq!(mount_options(&m), "ro,noatime");
    }
}
