//! The cgroup hierarchy joined to the tasks (Linux `kernel/cgroup/cgroup.c`):
//! the fork hooks (`cgroup_can_fork`, `cgroup_post_fork`,
//! `cgroup_cancel_fork`), `cgroup_exit` and `cgroup_release`, moving a
//! process (`__cgroup_procs_write`), the files' text and writes, `mkdir` and
//! `rmdir`, and `/proc/PID/cgroup`.
//!
//! Locks, in the order they are taken (Linux's): `CGROUP_MUTEX`
//! (`cgroup_mutex`: the tree, `subtree_control`, moves), then `THREADGROUP`
//! (`cgroup_threadgroup_rwsem`: a fork holds it for reading from
//! `cgroup_can_fork` to `cgroup_post_fork`, so that a move, which holds it
//! for writing, never misses a child being made), then a task's `cgroups`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use super::{
    parse_pids_max, parse_procs_pid, parse_subtree_control, pids_max_text, ss_mask_text, strstrip,
    Cgroup, CgroupFile, CssSet, Pids,
};
use crate::errno::{Errno, EACCES, EBUSY, EINVAL, ENODEV, ENOENT, EOPNOTSUPP, EPERM, ESRCH};
use crate::fault_inject::{should_fail, Stage};
use crate::process::table;
use crate::process::Task;

static ROOT: spin::Once<Arc<Cgroup>> = spin::Once::new();
/// The live cgroups by id (for path lookup, which names them by id).
static BY_ID: spin::Mutex<BTreeMap<u64, Arc<Cgroup>>> = spin::Mutex::new(BTreeMap::new());
/// Linux `cgroup_mutex`.
static CGROUP_MUTEX: spin::Mutex<()> = spin::Mutex::new(());
/// Linux `cgroup_threadgroup_rwsem`.
static THREADGROUP: spin::RwLock<()> = spin::RwLock::new(());
/// Joining order.
static SEQ: AtomicU64 = AtomicU64::new(1);

/// The root cgroup (Linux `cgrp_dfl_root.cgrp`).
pub fn root() -> &'static Arc<Cgroup> {
    ROOT.call_once(|| {
        let r = Cgroup::new_root();
        BY_ID.lock().insert(r.id, r.clone());
        r
    })
}

/// The live cgroup numbered `id`.
pub fn find(id: u64) -> Option<Arc<Cgroup>> {
    if id == 1 {
        return Some(root().clone());
    }
    BY_ID.lock().get(&id).cloned()
}

/// A new task's membership before `cgroup_post_fork` (Linux
/// `cgroup_fork`: the root's css_set), and the first process's.
pub fn init_css_set() -> CssSet {
    CssSet { cgrp: root().clone(), pids: None, linked: false, dead: false, seq: 0 }
}

/// The cgroup `t` is in.
pub fn task_cgroup(t: &Task) -> Arc<Cgroup> {
    t.cgroups.lock().cgrp.clone()
}

/// A fork between `cgroup_can_fork` and `cgroup_post_fork` or
/// `cgroup_cancel_fork` (Linux: `kargs->cset` and the locks taken for it).
/// Dropped without either, it cancels.
pub struct CgroupFork {
    cgrp: Arc<Cgroup>,
    pids: Option<Arc<Pids>>,
    done: bool,
    _threadgroup: spin::RwLockReadGuard<'static, ()>,
    _mutex: Option<spin::MutexGuard<'static, ()>>,
}

/// Linux `cgroup_can_fork` (with `cgroup_css_set_fork`): the cgroup the
/// child will be in — the parent's, or with CLONE_INTO_CGROUP the one whose
/// directory `into` is open on (EBADF for a descriptor that is not a cgroup
/// directory, ENOENT for a removed one, the permission and
/// no-internal-process checks of a move) — and its pids charge (EAGAIN at a
/// limit, counted in `pids.events`).
pub fn cgroup_can_fork(
    parent: &Task,
    into: Option<i32>,
    thread: bool,
) -> Result<CgroupFork, Errno> {
    let mutex = into.map(|_| CGROUP_MUTEX.lock());
    let threadgroup = THREADGROUP.read();
    // The parent's css_set: its cgroup and the pids state it is charged to
    // (kept equal to the cgroup's effective one by every move).
    let (src, src_pids) = {
        let cs = parent.cgroups.lock();
        (cs.cgrp.clone(), cs.pids.clone())
    };
    let (cgrp, pids) = match into {
        None => (src, src_pids),
        Some(fd) => {
            let dst = cgroup_of_fd(parent, fd)?;
            // A removed cgroup's css no longer gives references (Linux
            // `css_tryget_online_from_dir`: ENOENT).
            if dst.is_dead() {
                return Err(ENOENT);
            }
            attach_permissions(parent, &src, &dst, !thread)?;
            let pids = dst.effective_pids();
            (dst, pids)
        }
    };
    if should_fail(Stage::CgroupCanFork) {
        return Err(crate::errno::EAGAIN);
    }
    if let Some(p) = &pids {
        if let Err(over) = p.try_charge(1) {
            if p.event(over) {
                crate::println!("cgroup: fork rejected by pids controller in {}", cgrp.path());
            }
            return Err(crate::errno::EAGAIN);
        }
    }
    Ok(CgroupFork { cgrp, pids, done: false, _threadgroup: threadgroup, _mutex: mutex })
}

/// The cgroup whose directory `fd` is open on (Linux `cgroup_get_from_file`).
fn cgroup_of_fd(t: &Task, fd: i32) -> Result<Arc<Cgroup>, Errno> {
    use crate::fs::file::FileKind;
    let file = t.files().get(fd)?;
    match &file.kind {
        FileKind::Cgroup(f) if f.node.is_dir() => f.cgroup.clone().downcast::<Cgroup>().ok(),
        _ => None,
    }
    .ok_or(crate::errno::EBADF)
}

impl CgroupFork {
    /// Linux `cgroup_post_fork`: the child joins the cgroup, charged where
    /// `cgroup_can_fork` charged it; the locks go.
    pub fn post_fork(mut self, child: &Task) {
        let mut cs = child.cgroups.lock();
        self.cgrp.nr_tasks.fetch_add(1, Ordering::AcqRel);
        *cs = CssSet {
            cgrp: self.cgrp.clone(),
            pids: self.pids.take(),
            linked: true,
            dead: false,
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
        };
        self.done = true;
    }
}

impl Drop for CgroupFork {
    /// Linux `cgroup_cancel_fork`: the charge is given back.
    fn drop(&mut self) {
        if !self.done {
            if let Some(p) = self.pids.take() {
                p.uncharge(1);
            }
        }
    }
}

/// Linux `cgroup_exit`: the exiting task no longer populates its cgroup (it
/// stays charged until reaped).
pub fn cgroup_exit(t: &Task) {
    let mut cs = t.cgroups.lock();
    if cs.linked && !cs.dead {
        cs.cgrp.nr_tasks.fetch_sub(1, Ordering::AcqRel);
    }
    cs.dead = true;
}

/// Linux `cgroup_release` (from `release_task`): the pids charge is given
/// back (Linux `pids_release`).
pub fn cgroup_release(t: &Task) {
    let pids = t.cgroups.lock().pids.take();
    if let Some(p) = pids {
        p.uncharge(1);
    }
}

/// Linux `cgroup_may_write` of `cgrp`'s `cgroup.procs` for `t`: its owner's
/// write bit (files are 0644), or root.
fn may_write(t: &Task, cgrp: &Cgroup) -> Result<(), Errno> {
    let c = t.creds();
    if c.euid == 0 || (c.euid == cgrp.uid) {
        Ok(())
    } else {
        Err(EACCES)
    }
}

/// Linux `cgroup_attach_permissions`: `t` may write `cgroup.procs` of the
/// common ancestor of `src` and `dst`; `dst` may take processes
/// (`cgroup_migrate_vet_dst`); a single thread moves only within its domain
/// (EOPNOTSUPP between two cgroups: threaded mode is not implemented, so
/// every cgroup is a domain of its own).
fn attach_permissions(
    t: &Task,
    src: &Arc<Cgroup>,
    dst: &Arc<Cgroup>,
    threadgroup: bool,
) -> Result<(), Errno> {
    let mut com: &Arc<Cgroup> = src;
    while !dst.is_descendant_of(com) {
        com = com.parent.as_ref().expect("the root is everyone's ancestor");
    }
    may_write(t, com)?;
    migrate_vet_dst(dst)?;
    if !threadgroup && !Arc::ptr_eq(src, dst) {
        return Err(EOPNOTSUPP);
    }
    Ok(())
}

/// Linux `cgroup_migrate_vet_dst` with the pids controller only (a threaded
/// controller, so `cgroup_can_be_thread_root` holds until a child is
/// populated): a cgroup below the root with controllers enabled for its
/// children and a populated child takes no process (EBUSY).
fn migrate_vet_dst(dst: &Cgroup) -> Result<(), Errno> {
    if dst.is_root() {
        return Ok(());
    }
    if dst.state.lock().subtree_pids && dst.has_populated_children() {
        return Err(EBUSY);
    }
    Ok(())
}

/// Move `t` (not exited) to `dst`, its charge with it (Linux
/// `cgroup_migrate` with `pids_can_attach`). The caller holds
/// `THREADGROUP` for writing.
fn migrate_task(t: &Task, dst: &Arc<Cgroup>) {
    let mut cs = t.cgroups.lock();
    if cs.dead || Arc::ptr_eq(&cs.cgrp, dst) {
        return;
    }
    let new = dst.effective_pids();
    let same = match (&cs.pids, &new) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    };
    if !same {
        if let Some(p) = &new {
            p.charge(1);
        }
        if let Some(p) = &cs.pids {
            p.uncharge(1);
        }
        cs.pids = new;
    }
    if cs.linked {
        cs.cgrp.nr_tasks.fetch_sub(1, Ordering::AcqRel);
    }
    dst.nr_tasks.fetch_add(1, Ordering::AcqRel);
    cs.linked = true;
    cs.cgrp = dst.clone();
    cs.seq = SEQ.fetch_add(1, Ordering::Relaxed);
    drop(cs);
    crate::trace_event!(CgroupAttachTask, t.pid(), dst.id, dst.level);
}

/// A write to `cgroup.procs` (`threadgroup`) or `cgroup.threads` of `dst`
/// by `me` (Linux `__cgroup_procs_write`): the pid (0: the writer; EINVAL
/// for anything else than a number; ESRCH for no such task in the writer's
/// PID namespace; EINVAL for a kernel thread), the permission checks, then
/// the move of the process (every thread) or of the thread.
fn procs_write(me: &Task, dst: &Arc<Cgroup>, buf: &[u8], threadgroup: bool) -> Result<(), Errno> {
    let _mutex = CGROUP_MUTEX.lock();
    if dst.is_dead() {
        return Err(ENODEV);
    }
    let pid = parse_procs_pid(buf)?;
    let _threadgroup = THREADGROUP.write();
    let task = if pid == 0 {
        crate::process::current().ok_or(ESRCH)?
    } else {
        table::find_in(me.pid_ns(), pid).ok_or(ESRCH)?
    };
    let task = if threadgroup { table::find(task.tgid).unwrap_or(task) } else { task };
    if task.kthread {
        return Err(EINVAL);
    }
    let src = task_cgroup(&task);
    attach_permissions(me, &src, dst, threadgroup)?;
    if threadgroup {
        let threads = {
            let _tasklist = table::TASKLIST.lock();
            table::threads_of(&task.group)
        };
        for t in threads {
            migrate_task(&t, dst);
        }
    } else {
        migrate_task(&task, dst);
    }
    Ok(())
}

/// A write to `cgroup.subtree_control` of `cgrp` (Linux
/// `cgroup_subtree_control_write`): EINVAL for what does not parse, ENOENT
/// to enable a controller the cgroup does not have (`cgroup.controllers`),
/// EBUSY to disable one a child enables for its own children, or (the
/// no-internal-process rule for a threaded controller) to enable it below
/// the root in a cgroup with processes of its own and a populated child.
/// The children get their pids state, or lose it, and every task below
/// moves its charge (Linux `cgroup_apply_control` → `pids_can_attach`).
fn subtree_control_write(cgrp: &Arc<Cgroup>, buf: &[u8]) -> Result<(), Errno> {
    let [pids] = parse_subtree_control(buf)?;
    let _mutex = CGROUP_MUTEX.lock();
    if cgrp.is_dead() {
        return Err(ENODEV);
    }
    let enabled = cgrp.state.lock().subtree_pids;
    let change = match pids {
        Some(true) if !enabled => {
            if !cgrp.controllers_pids() {
                return Err(ENOENT);
            }
            true
        }
        Some(false) if enabled => {
            if cgrp.children().iter().any(|c| c.state.lock().subtree_pids) {
                return Err(EBUSY);
            }
            true
        }
        _ => false,
    };
    if !change {
        return Ok(());
    }
    let enable = !enabled;
    if enable
        && !cgrp.is_root()
        && cgrp.has_populated_children()
        && cgrp.nr_tasks.load(Ordering::Acquire) > 0
    {
        return Err(EBUSY);
    }
    let _threadgroup = THREADGROUP.write();
    let parent_state = cgrp.effective_pids();
    {
        let mut st = cgrp.state.lock();
        st.subtree_pids = enable;
        for c in st.children.values() {
            c.state.lock().pids = enable.then(|| Arc::new(Pids::new(parent_state.clone())));
        }
    }
    // Every task below moves to its new pids state (zombies keep theirs).
    for t in table::all() {
        let mut cs = t.cgroups.lock();
        if cs.dead || Arc::ptr_eq(&cs.cgrp, cgrp) || !cs.cgrp.is_descendant_of(cgrp) {
            continue;
        }
        let new = cs.cgrp.effective_pids();
        if let Some(p) = &new {
            p.charge(1);
        }
        if let Some(p) = &cs.pids {
            p.uncharge(1);
        }
        cs.pids = new;
    }
    Ok(())
}

/// Linux `cgroup_procs_show` / `cgroup_threads_show` through
/// `css_task_iter`: the processes (leaders; one that exited while its
/// threads live is still listed) or the threads that have not exited, in
/// the order they joined, numbered in `ns`.
fn tasks_text(
    cgrp: &Arc<Cgroup>,
    ns: &crate::process::pid_namespace::PidNamespace,
    procs: bool,
) -> String {
    let mut v: Vec<(u64, u32)> = Vec::new();
    for t in table::all() {
        let cs = t.cgroups.lock();
        if !Arc::ptr_eq(&cs.cgrp, cgrp) {
            continue;
        }
        let shown = if procs {
            t.is_group_leader() && (!cs.dead || t.group.live.load(Ordering::Acquire) > 0)
        } else {
            !cs.dead
        };
        if shown {
            let nr = if procs { t.tgid_nr_ns(ns) } else { t.pid_nr_ns(ns) };
            v.push((cs.seq, nr));
        }
    }
    v.sort_unstable();
    let mut o = String::new();
    for (_, nr) in v {
        let _ = writeln!(o, "{nr}");
    }
    o
}

/// The text of file `f` of `cgrp` for reader `me` (ENODEV once the cgroup
/// or the file is gone).
pub fn read_file(me: &Task, cgrp: &Arc<Cgroup>, f: CgroupFile) -> Result<Vec<u8>, Errno> {
    if cgrp.is_dead() {
        return Err(ENODEV);
    }
    let pids = || cgrp.state.lock().pids.clone().ok_or(ENODEV);
    let text = match f {
        CgroupFile::Procs => tasks_text(cgrp, me.pid_ns(), true),
        CgroupFile::Threads => tasks_text(cgrp, me.pid_ns(), false),
        CgroupFile::Controllers => ss_mask_text(cgrp.controllers_pids()),
        CgroupFile::SubtreeControl => ss_mask_text(cgrp.state.lock().subtree_pids),
        CgroupFile::Type => String::from("domain\n"),
        CgroupFile::Events => {
            alloc::format!("populated {}\nfrozen 0\n", cgrp.is_populated() as u32)
        }
        CgroupFile::PidsMax => pids_max_text(pids()?.limit()),
        CgroupFile::PidsCurrent => alloc::format!("{}\n", pids()?.current()),
        CgroupFile::PidsPeak => alloc::format!("{}\n", pids()?.peak()),
        CgroupFile::PidsEvents => alloc::format!("max {}\n", pids()?.events().0),
        CgroupFile::PidsEventsLocal => alloc::format!("max {}\n", pids()?.events().1),
    };
    Ok(text.into_bytes())
}

/// A write of `buf` to file `f` of `cgrp` by `me` (Linux: the file's
/// `write` operation; the caller refused files without one at open).
pub fn write_file(me: &Task, cgrp: &Arc<Cgroup>, f: CgroupFile, buf: &[u8]) -> Result<(), Errno> {
    if cgrp.is_dead() {
        return Err(ENODEV);
    }
    match f {
        CgroupFile::Procs => procs_write(me, cgrp, buf, true),
        CgroupFile::Threads => procs_write(me, cgrp, buf, false),
        CgroupFile::SubtreeControl => subtree_control_write(cgrp, buf),
        CgroupFile::PidsMax => {
            let limit = parse_pids_max(buf)?;
            cgrp.state.lock().pids.clone().ok_or(ENODEV)?.set_limit(limit);
            Ok(())
        }
        // Only "threaded" is accepted (Linux `cgroup_type_write`): threaded
        // mode is not implemented.
        CgroupFile::Type if strstrip(buf) == b"threaded" => Err(EOPNOTSUPP),
        CgroupFile::Type => Err(EINVAL),
        _ => Err(EINVAL),
    }
}

/// May `me` make or remove entries in `dir` (Linux `may_create`/`may_delete`:
/// write and search permission on the directory)?
fn may_modify(me: &Task, dir: &Cgroup) -> Result<(), Errno> {
    let c = me.creds();
    if c.euid == 0 {
        return Ok(());
    }
    let bits = if c.euid == dir.uid {
        dir.mode >> 6
    } else if c.egid == dir.gid {
        dir.mode >> 3
    } else {
        dir.mode
    };
    if bits & 3 == 3 {
        Ok(())
    } else {
        Err(EACCES)
    }
}

/// `mkdir` of `name` in cgroup `parent` (Linux `cgroup_mkdir`).
pub fn mkdir(me: &Task, parent: &Arc<Cgroup>, name: &str, mode: u32) -> Result<(), Errno> {
    may_modify(me, parent)?;
    let c = me.creds();
    let _mutex = CGROUP_MUTEX.lock();
    let child = parent.mkdir(name, mode, c.euid, c.egid)?;
    BY_ID.lock().insert(child.id, child);
    Ok(())
}

/// `rmdir` of `name` in cgroup `parent` (Linux `vfs_rmdir` →
/// `cgroup_rmdir`): ENOTDIR for one of its files, EACCES without write
/// permission on the directory, ENOENT for no such group, EBUSY while it is
/// populated or has groups below it.
pub fn rmdir(me: &Task, parent: &Arc<Cgroup>, name: &str) -> Result<(), Errno> {
    if parent.files().iter().any(|f| f.name() == name) {
        return Err(crate::errno::ENOTDIR);
    }
    may_modify(me, parent)?;
    let _mutex = CGROUP_MUTEX.lock();
    let gone = parent.rmdir(name)?;
    BY_ID.lock().remove(&gone.id);
    Ok(())
}

/// `unlink` of `name` in cgroup `parent`: kernfs has no unlink (EPERM), a
/// missing name is ENOENT, a directory EISDIR.
pub fn unlink(parent: &Arc<Cgroup>, name: &str) -> Result<(), Errno> {
    if parent.child(name).is_some() {
        return Err(crate::errno::EISDIR);
    }
    if parent.files().iter().any(|f| f.name() == name) {
        return Err(EPERM);
    }
    Err(ENOENT)
}

/// `/proc/PID/cgroup` (Linux `proc_cgroup_show`, the default hierarchy's
/// line only: there is no cgroup v1 here).
pub fn proc_cgroup_text(t: &Task) -> String {
    let cs = t.cgroups.lock();
    let path = cs.cgrp.path();
    let deleted = if cs.cgrp.is_dead() { " (deleted)" } else { "" };
    alloc::format!("0::{path}{deleted}\n")
}

/// The pids charged to `t`'s cgroup (its `pids.current`; 0 at the root):
/// what a failed fork must leave as it found it.
pub fn pids_charged(t: &Task) -> u64 {
    t.cgroups.lock().pids.as_ref().map_or(0, |p| p.current() as u64)
}
