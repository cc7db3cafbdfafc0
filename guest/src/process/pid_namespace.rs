//! PID namespaces and `struct pid` (Linux `kernel/pid_namespace.c`,
//! `kernel/pid.c`): a namespace numbers the processes created in it and in its
//! descendants; a task's pid has one number per level, from the initial
//! namespace (level 0) down to the namespace it was created in, where it is
//! seen as `numbers[level]`. A task is invisible (number 0) in namespaces below
//! its own. Each namespace allocates cyclically (no immediate reuse); the first
//! process created in a new namespace is its pid 1, the namespace's init.
//!
//! Hardware-free, so it is unit-tested on the host.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::errno::{Errno, EAGAIN, EEXIST, EINVAL, ENOMEM, ENOSPC, EPERM};
use crate::process::pid::{pid_max, PidMap};

/// Linux's `MAX_PID_NS_LEVEL`: the initial namespace is level 0, the deepest
/// allowed is level 32.
pub const MAX_PID_NS_LEVEL: u32 = 32;

struct NsPids {
    /// The numbers allocated here, each with the pid's number in the initial
    /// namespace (the key of the task table), 0 while its `alloc_pid` is
    /// still taking the numbers of the levels above (Linux `idr_alloc` of
    /// NULL, then `idr_replace`).
    map: PidMap<u32>,
    /// The numbers whose pid is complete (Linux `pid_allocated`).
    published: usize,
    /// Linux `PIDNS_ADDING`: new pids may still be allocated here. Cleared when
    /// the init goes away (`disable_pid_allocation`), or when the number 1 is
    /// freed because the fork that would have made the init failed.
    adding: bool,
}

pub struct PidNamespace {
    /// Its `ns_common` number (`/proc/PID/ns/pid`).
    pub inum: u32,
    pub level: u32,
    pub parent: Option<Arc<PidNamespace>>,
    pids: spin::Mutex<NsPids>,
    /// The task that adopts orphans here (Linux `child_reaper`), by its number in
    /// the initial namespace; 0 until the init exists.
    child_reaper: AtomicU32,
    /// The user namespace that owns it (Linux `pid_namespace.user_ns`),
    /// set by `nsproxy` when it makes one; unset: the initial one.
    pub owner: spin::Once<Arc<crate::process::user_namespace::UserNamespace>>,
}

impl PidNamespace {
    /// The initial namespace (Linux `init_pid_ns`).
    pub fn new_root() -> Arc<Self> {
        Self::with_parent(None, 0)
    }

    fn with_parent(parent: Option<Arc<PidNamespace>>, level: u32) -> Arc<Self> {
        Arc::new(PidNamespace {
            inum: if level == 0 {
                crate::process::ns_common::PROC_PID_INIT_INO
            } else {
                crate::process::ns_common::ns_alloc_inum()
            },
            level,
            parent,
            pids: spin::Mutex::new(NsPids {
                map: PidMap::new(pid_max()),
                published: 0,
                adding: true,
            }),
            child_reaper: AtomicU32::new(0),
            owner: spin::Once::new(),
        })
    }

    /// A namespace below `parent` (Linux `create_pid_namespace`): ENOSPC past
    /// `MAX_PID_NS_LEVEL`.
    pub fn new_child(parent: &Arc<PidNamespace>) -> Result<Arc<Self>, Errno> {
        let level = parent.level + 1;
        if level > MAX_PID_NS_LEVEL {
            return Err(ENOSPC);
        }
        Ok(Self::with_parent(Some(parent.clone()), level))
    }

    /// The initial-namespace number of the task numbered `nr` here.
    pub fn find(&self, nr: u32) -> Option<u32> {
        self.pids.lock().map.get(nr).copied().filter(|&g| g != 0)
    }

    /// Pids allocated here (Linux `pid_allocated` without `PIDNS_ADDING`).
    pub fn nr_pids(&self) -> usize {
        self.pids.lock().published
    }

    /// The initial-namespace numbers of every pid allocated here.
    pub fn members(&self) -> Vec<u32> {
        self.pids.lock().map.values().copied().filter(|&g| g != 0).collect()
    }

    /// Whether new pids may be allocated here.
    pub fn adding(&self) -> bool {
        self.pids.lock().adding
    }

    /// No new pids here from now on (Linux `disable_pid_allocation`).
    pub fn disable_adding(&self) {
        self.pids.lock().adding = false;
    }

    pub fn child_reaper(&self) -> u32 {
        self.child_reaper.load(Ordering::Acquire)
    }

    pub fn set_child_reaper(&self, global: u32) {
        self.child_reaper.store(global, Ordering::Release);
    }

    /// `self` is `other` or one of its ancestors: tasks of `other` are visible here.
    pub fn is_ancestor_of(&self, other: &PidNamespace) -> bool {
        let mut ns = other;
        loop {
            if core::ptr::eq(ns, self) {
                return true;
            }
            match &ns.parent {
                Some(p) if p.level >= self.level => ns = p,
                _ => return false,
            }
        }
    }
}

/// One number of a pid (Linux `struct upid`).
#[derive(Clone)]
pub struct Upid {
    pub nr: u32,
    pub ns: Arc<PidNamespace>,
}

/// A pid (Linux `struct pid`): its numbers from the initial namespace (index 0)
/// down to the namespace it was allocated in (index `level`). It outlives its
/// numbers while something holds it (a pidfd): once no task uses it its
/// numbers are freed and may name another process, but this object never
/// names anything else.
pub struct Pid {
    numbers: Vec<Upid>,
    /// Its inode number on pidfs (Linux `pid->ino`): unique for the life of
    /// the kernel, so two pidfds of one pid have the same `st_ino`.
    ino: u64,
    /// Pollers of its pidfds (Linux `pid->wait_pidfd`), woken when a task
    /// using it exits or is reaped.
    #[cfg(target_os = "none")]
    pub wait_pidfd: crate::sched::WaitQueue,
}

/// The next pidfs inode number (Linux starts at 2: 1 is the root's).
static NEXT_INO: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(2);

impl Pid {
    fn new(numbers: Vec<Upid>) -> Pid {
        Pid {
            numbers,
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            #[cfg(target_os = "none")]
            wait_pidfd: crate::sched::WaitQueue::new(),
        }
    }

    /// A pid that was never allocated (the idle tasks' 0, the boot probe).
    pub fn unallocated(nr: u32, ns: &Arc<PidNamespace>) -> Pid {
        Pid::new(alloc::vec![Upid { nr, ns: ns.clone() }])
    }

    /// Its pidfs inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    pub fn level(&self) -> u32 {
        self.numbers.len() as u32 - 1
    }

    /// The number in the initial namespace (the task table's key).
    pub fn global(&self) -> u32 {
        self.numbers[0].nr
    }

    /// The namespace the pid was allocated in (a task's active namespace).
    pub fn ns(&self) -> &Arc<PidNamespace> {
        &self.numbers[self.numbers.len() - 1].ns
    }

    /// The number in its own namespace (Linux `pid_vnr` of the owner).
    pub fn vnr(&self) -> u32 {
        self.numbers[self.numbers.len() - 1].nr
    }

    /// The number as seen in `ns`, 0 if not visible there (Linux `pid_nr_ns`).
    pub fn nr_ns(&self, ns: &PidNamespace) -> u32 {
        match self.numbers.get(ns.level as usize) {
            Some(u) if core::ptr::eq(&*u.ns, ns) => u.nr,
            _ => 0,
        }
    }

    pub fn numbers(&self) -> &[Upid] {
        &self.numbers
    }
}

/// Allocate a pid in `ns` and every ancestor (Linux `alloc_pid`): EAGAIN when a
/// namespace has no free number, ENOMEM when `ns` no longer accepts processes
/// (its init has exited). On failure nothing stays allocated.
pub fn alloc_pid(ns: &Arc<PidNamespace>) -> Result<Pid, Errno> {
    alloc_pid_set_tid(ns, &[], true)
}

/// `alloc_pid` with clone3's `set_tid`: `set_tid[0]` is the number wanted in
/// `ns`, `set_tid[1]` in its parent, and so on for as many levels as given
/// (Linux `alloc_pid`): EINVAL for more numbers than levels, for a number
/// below 1 or not below the namespace's `pid_max`, or other than 1 in a
/// namespace without an init yet; EPERM unless `capable`
/// (CAP_CHECKPOINT_RESTORE/CAP_SYS_ADMIN; root here); EEXIST for a number in
/// use. Each level is checked, then allocated, from `ns` up, and a failure
/// gives back the numbers taken below it.
pub fn alloc_pid_set_tid(
    ns: &Arc<PidNamespace>,
    set_tid: &[i32],
    capable: bool,
) -> Result<Pid, Errno> {
    if set_tid.len() > ns.level as usize + 1 {
        return Err(EINVAL);
    }
    let mut numbers: Vec<Upid> = Vec::with_capacity(ns.level as usize + 1);
    let mut tmp = Some(ns.clone());
    while let Some(n) = tmp {
        let wanted = set_tid.get(numbers.len()).copied();
        let nr = match wanted {
            Some(tid) => {
                let mut p = n.pids.lock();
                // Out of range, or not the init where there is none yet.
                let invalid =
                    tid < 1 || tid as u32 >= p.map.max() || (tid != 1 && n.child_reaper() == 0);
                let err = if invalid {
                    Some(EINVAL)
                } else if !capable {
                    Some(EPERM)
                } else if !p.map.alloc_exact(tid as u32, 0) {
                    Some(EEXIST)
                } else {
                    None
                };
                drop(p);
                match err {
                    Some(e) => {
                        unwind(ns, &numbers);
                        return Err(e);
                    }
                    None => Some(tid as u32),
                }
            }
            None => n.pids.lock().map.alloc(0),
        };
        match nr {
            Some(nr) => {
                tmp = n.parent.clone();
                numbers.push(Upid { nr, ns: n });
            }
            None => {
                unwind(ns, &numbers);
                return Err(EAGAIN);
            }
        }
    }
    numbers.reverse();
    let global = numbers[0].nr;
    let pid = Pid::new(numbers);
    if !ns.adding() {
        unwind(ns, &pid.numbers);
        return Err(ENOMEM);
    }
    for u in &pid.numbers {
        let mut p = u.ns.pids.lock();
        if let Some(g) = p.map.get_mut(u.nr) {
            *g = global;
            p.published += 1;
        }
    }
    Ok(pid)
}

/// Give back the numbers of a failed `alloc_pid`. A namespace still without
/// processes starts again at 1 (Linux resets the cursor), so its init is pid 1.
fn unwind(ns: &PidNamespace, numbers: &[Upid]) {
    for u in numbers {
        u.ns.pids.lock().map.remove(u.nr);
    }
    let mut p = ns.pids.lock();
    if p.published == 0 {
        p.map.reset_cursor();
    }
}

/// Return every number of `pid` (Linux `free_pid`). A namespace whose number 1
/// is freed takes no more processes: its init is gone, or the fork that was to
/// create it failed.
pub fn free_pid(pid: &Pid) {
    let global = pid.global();
    for u in &pid.numbers {
        let mut p = u.ns.pids.lock();
        if p.map.get(u.nr) == Some(&global) {
            p.map.remove(u.nr);
            p.published -= 1;
            if u.nr == 1 && u.ns.level > 0 {
                p.adding = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_per_level_and_visibility() {
        let root = PidNamespace::new_root();
        let a = alloc_pid(&root).unwrap();
        assert_eq!((a.global(), a.vnr(), a.level()), (1, 1, 0));
        let child = PidNamespace::new_child(&root).unwrap();
        let init = alloc_pid(&child).unwrap();
        assert_eq!(init.level(), 1);
        assert_eq!(init.vnr(), 1, "the first pid in a new namespace is 1");
        assert_eq!(init.global(), 2);
        assert_eq!(init.nr_ns(&root), 2);
        assert_eq!(init.nr_ns(&child), 1);
        assert_eq!(a.nr_ns(&child), 0, "a parent-namespace task is invisible below");
        let second = alloc_pid(&child).unwrap();
        assert_eq!((second.vnr(), second.global()), (2, 3));
        assert_eq!(child.find(2), Some(3));
        assert_eq!(root.find(3), Some(3));
        assert_eq!(child.find(3), None);
        assert!(root.is_ancestor_of(&child) && child.is_ancestor_of(&child));
        assert!(!child.is_ancestor_of(&root));
        let sibling = PidNamespace::new_child(&root).unwrap();
        assert!(!sibling.is_ancestor_of(&child));
        assert_eq!(second.nr_ns(&sibling), 0);
        assert_eq!(child.nr_pids(), 2);
        assert_eq!(root.nr_pids(), 3);
        let mut m = root.members();
        m.sort();
        assert_eq!(m, [1, 2, 3]);
    }

    #[test]
    fn no_immediate_reuse_in_each_namespace() {
        let root = PidNamespace::new_root();
        let ns = PidNamespace::new_child(&root).unwrap();
        let init = alloc_pid(&ns).unwrap();
        let b = alloc_pid(&ns).unwrap();
        assert_eq!((b.vnr(), b.global()), (2, 2));
        free_pid(&b);
        let c = alloc_pid(&ns).unwrap();
        assert_eq!((c.vnr(), c.global()), (3, 3), "2 is not reused at once in either namespace");
        assert!(ns.adding(), "freeing another pid keeps the namespace open");
        free_pid(&c);
        free_pid(&init);
        assert!(!ns.adding(), "the init is gone");
        assert_eq!(alloc_pid(&ns).err(), Some(ENOMEM), "no process enters a dead namespace");
        assert_eq!(root.nr_pids(), 0, "the failed allocation left nothing behind");
        // The refused allocation had taken 4 in the root namespace first.
        let d = alloc_pid(&root).unwrap();
        assert_eq!(d.global(), 5);
    }

    #[test]
    fn disabled_namespace_and_level_limit() {
        let root = PidNamespace::new_root();
        let ns = PidNamespace::new_child(&root).unwrap();
        let _init = alloc_pid(&ns).unwrap();
        ns.disable_adding();
        assert_eq!(alloc_pid(&ns).err(), Some(ENOMEM));
        assert_eq!(ns.nr_pids(), 1);
        assert_eq!(root.nr_pids(), 1);
        let mut deep = root.clone();
        for _ in 0..MAX_PID_NS_LEVEL {
            deep = PidNamespace::new_child(&deep).unwrap();
        }
        assert_eq!(deep.level, 32);
        assert_eq!(PidNamespace::new_child(&deep).err(), Some(ENOSPC));
        let p = alloc_pid(&deep).unwrap();
        assert_eq!(p.numbers().len(), 33);
        assert_eq!(p.vnr(), 1);
        assert!(p.numbers().iter().all(|u| u.ns.find(u.nr) == Some(p.global())));
    }

    #[test]
    fn set_tid_checks_in_linux_order_and_unwinds() {
        let root = PidNamespace::new_root();
        let init = alloc_pid(&root).unwrap();
        root.set_child_reaper(init.global());
        let ns = PidNamespace::new_child(&root).unwrap();
        assert_eq!(alloc_pid_set_tid(&ns, &[1, 2, 3], true).err(), Some(EINVAL), "3 > 2 levels");
        assert_eq!(alloc_pid_set_tid(&ns, &[2], true).err(), Some(EINVAL), "no init in ns yet");
        assert_eq!(alloc_pid_set_tid(&ns, &[0], true).err(), Some(EINVAL));
        assert_eq!(alloc_pid_set_tid(&ns, &[-1], true).err(), Some(EINVAL));
        assert_eq!(alloc_pid_set_tid(&ns, &[4 << 20], true).err(), Some(EINVAL), "pid_max");
        assert_eq!(alloc_pid_set_tid(&ns, &[1], false).err(), Some(EPERM));
        let ns_init = alloc_pid_set_tid(&ns, &[1], true).unwrap();
        ns.set_child_reaper(ns_init.global());
        assert_eq!((ns_init.vnr(), ns_init.global()), (1, 2));
        // 5 here, then 1 in the root namespace: taken, so 5 is given back.
        assert_eq!(alloc_pid_set_tid(&ns, &[5, 1], true).err(), Some(EEXIST));
        assert_eq!(ns.find(5), None);
        let five = alloc_pid_set_tid(&ns, &[5], true).unwrap();
        assert_eq!(five.vnr(), 5);
        assert_eq!(alloc_pid_set_tid(&ns, &[5], true).err(), Some(EEXIST));
        let both = alloc_pid_set_tid(&ns, &[9, 300], true).unwrap();
        assert_eq!((both.vnr(), both.global()), (9, 300));
        let next = alloc_pid(&ns).unwrap();
        assert_eq!(next.vnr(), 2, "set_tid leaves the cyclic cursor alone");
    }

    #[test]
    fn a_full_ancestor_fails_with_eagain_and_unwinds() {
        let root = PidNamespace::new_root();
        while alloc_pid(&root).is_ok() {}
        let ns = PidNamespace::new_child(&root).unwrap();
        assert_eq!(alloc_pid(&ns).err(), Some(EAGAIN));
        assert_eq!(ns.nr_pids(), 0, "the number taken in the child namespace was returned");
        // Still no process in the child namespace: its first is pid 1 again.
        free_pid(&Pid::new(alloc::vec![Upid { nr: 400, ns: root.clone() }]));
        let p = alloc_pid(&ns).unwrap();
        assert_eq!((p.vnr(), p.global()), (1, 400));
    }
}
