//! Control groups, version 2, with the pids controller (Linux
//! `kernel/cgroup/cgroup.c`, `kernel/cgroup/pids.c`).
//!
//! One hierarchy (Linux's default hierarchy, `cgrp_dfl_root`): a tree of
//! [`Cgroup`]s below the root, made and removed by `mkdir`/`rmdir` on a
//! `cgroup2` mount. Every task is in exactly one cgroup; it inherits its
//! parent's at fork (or the one `clone3`'s CLONE_INTO_CGROUP names) and moves
//! by a write of its pid to a `cgroup.procs` file.
//!
//! The pids controller is the only controller. Enabled in a cgroup's
//! `cgroup.subtree_control`, it gives each child a [`Pids`] state (Linux: the
//! child's `css`): a counter of the tasks in the child's subtree, a limit
//! (`pids.max`), a high-water mark (`pids.peak`) and event counts. A task is
//! charged to the nearest cgroup at or above its own that has such a state
//! (the root's is never charged, as Linux's), hierarchically: the charge goes
//! up the chain of states, and a fork that would take any of them past its
//! limit fails with EAGAIN (Linux `pids_try_charge`). The charge is taken in
//! `copy_process` (`cgroup_can_fork`), moved when the task moves
//! (`pids_can_attach`) and given back when the task is reaped
//! (`pids_release`), so zombies count, as on Linux.
//!
//! This file is the hardware-free part (the tree, the counters, the parsing
//! of what is written to the files, the text of the files, the order of a
//! directory listing) and is unit-tested on the host; `kernel` joins it to
//! the tasks.

#[cfg(target_os = "none")]
pub mod kernel;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use crate::errno::{Errno, EBUSY, EEXIST, EINVAL, ENOENT, ERANGE};
pub use crate::fs::cgroupfs::{CgroupFile, CgroupNode};

/// Linux PID_MAX_LIMIT (4M pids on 64-bit) + 1: `pids.max` at "max".
pub const PIDS_MAX: i64 = 4 * 1024 * 1024 + 1;

/// The controllers this kernel has, by Linux's name (Linux `cgroup_subsys`).
pub const CONTROLLERS: [&str; 1] = ["pids"];

/// The pids controller's state in one cgroup (Linux `struct pids_cgroup`).
pub struct Pids {
    /// Tasks charged here or below.
    counter: AtomicI64,
    limit: AtomicI64,
    /// `pids.peak`.
    watermark: AtomicI64,
    /// `pids.events` "max": forks that failed because this cgroup's limit or
    /// the limit of one below it was hit (hierarchical, Linux 6.13+).
    events_max: AtomicI64,
    /// `pids.events.local` "max": forks that failed at this cgroup's limit.
    events_local_max: AtomicI64,
    /// Forks from this cgroup that failed (whatever limit; Linux logs the
    /// first one).
    events_local_forkfail: AtomicI64,
    /// The parent cgroup's state; `None` when the parent is the root (whose
    /// state is never charged).
    parent: Option<Arc<Pids>>,
}

impl Pids {
    pub fn new(parent: Option<Arc<Pids>>) -> Self {
        Self {
            counter: AtomicI64::new(0),
            limit: AtomicI64::new(PIDS_MAX),
            watermark: AtomicI64::new(0),
            events_max: AtomicI64::new(0),
            events_local_max: AtomicI64::new(0),
            events_local_forkfail: AtomicI64::new(0),
            parent,
        }
    }

    /// The chain from this state up to (not including) the root's.
    fn chain(&self) -> impl Iterator<Item = &Pids> {
        core::iter::successors(Some(self), |p| p.parent.as_deref())
    }

    fn update_watermark(&self, n: i64) {
        // Racy, as Linux's: the mark need not be exact under races.
        if n > self.watermark.load(Ordering::Relaxed) {
            self.watermark.store(n, Ordering::Relaxed);
        }
    }

    /// Charge `n` without looking at the limits (Linux `pids_charge`: a
    /// task that moves in is never refused).
    pub fn charge(&self, n: i64) {
        for p in self.chain() {
            let new = p.counter.fetch_add(n, Ordering::AcqRel) + n;
            p.update_watermark(new);
        }
    }

    /// Give back `n` (Linux `pids_uncharge`).
    pub fn uncharge(&self, n: i64) {
        for p in self.chain() {
            let old = p.counter.fetch_sub(n, Ordering::AcqRel);
            debug_assert!(old >= n, "pids counter below zero");
        }
    }

    /// Charge `n` unless that takes a state of the chain past its limit
    /// (Linux `pids_try_charge`): then nothing stays charged and the error
    /// is the state whose limit was hit.
    pub fn try_charge(&self, n: i64) -> Result<(), &Pids> {
        for p in self.chain() {
            let new = p.counter.fetch_add(n, Ordering::AcqRel) + n;
            if new > p.limit.load(Ordering::Acquire) {
                // Undo up to and including `p`.
                for q in self.chain() {
                    q.counter.fetch_sub(n, Ordering::AcqRel);
                    if core::ptr::eq(q, p) {
                        break;
                    }
                }
                return Err(p);
            }
            p.update_watermark(new);
        }
        Ok(())
    }

    /// A fork from `self`'s cgroup failed at `over`'s limit (Linux
    /// `pids_event` on the default hierarchy without `pids_localevents`):
    /// true the first time a fork from this cgroup fails (Linux logs it).
    pub fn event(&self, over: &Pids) -> bool {
        let first = self.events_local_forkfail.fetch_add(1, Ordering::Relaxed) == 0;
        over.events_local_max.fetch_add(1, Ordering::Relaxed);
        for p in over.chain() {
            p.events_max.fetch_add(1, Ordering::Relaxed);
        }
        first
    }

    pub fn current(&self) -> i64 {
        self.counter.load(Ordering::Acquire)
    }

    pub fn peak(&self) -> i64 {
        self.watermark.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> i64 {
        self.limit.load(Ordering::Acquire)
    }

    pub fn set_limit(&self, limit: i64) {
        self.limit.store(limit, Ordering::Release);
    }

    /// (`pids.events`, `pids.events.local`) "max" counts.
    pub fn events(&self) -> (i64, i64) {
        (self.events_max.load(Ordering::Relaxed), self.events_local_max.load(Ordering::Relaxed))
    }
}

/// What a cgroup's lock guards.
pub struct CgroupState {
    pub children: BTreeMap<String, Arc<Cgroup>>,
    /// `cgroup.subtree_control` has `pids`.
    pub subtree_pids: bool,
    /// This cgroup's pids state: present while its parent's
    /// `subtree_control` has `pids` (Linux: the css exists).
    pub pids: Option<Arc<Pids>>,
    /// Removed by `rmdir` (Linux `cgroup_is_dead`).
    pub dead: bool,
}

/// A control group (Linux `struct cgroup`).
pub struct Cgroup {
    /// Linux's cgroup id (the kernfs node's): 1 for the root, then counting up.
    pub id: u64,
    pub name: String,
    pub parent: Option<Arc<Cgroup>>,
    /// Depth below the root.
    pub level: u32,
    /// Owner and mode of its directory and files (the creator's effective
    /// ids; Linux `cgroup_kn_set_ugid`).
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub state: spin::Mutex<CgroupState>,
    /// Tasks in this cgroup that have not exited (Linux `nr_populated_csets`
    /// through the csets' task lists): the cgroup is populated while this or
    /// a descendant's is non-zero.
    pub nr_tasks: AtomicU32,
}

/// Cgroup ids (the root is 1).
static NEXT_ID: AtomicU64 = AtomicU64::new(2);

impl Cgroup {
    /// A hierarchy's root (id 1, owned by root, 0755).
    pub fn new_root() -> Arc<Cgroup> {
        Arc::new(Cgroup {
            id: 1,
            name: String::new(),
            parent: None,
            level: 0,
            uid: 0,
            gid: 0,
            mode: 0o755,
            state: spin::Mutex::new(CgroupState {
                children: BTreeMap::new(),
                subtree_pids: false,
                pids: None,
                dead: false,
            }),
            nr_tasks: AtomicU32::new(0),
        })
    }

    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }

    /// `cgroup_is_dead`.
    pub fn is_dead(&self) -> bool {
        self.state.lock().dead
    }

    /// The controllers this cgroup may enable for its children (Linux
    /// `cgroup_control`: the root has them all, a child what its parent's
    /// `subtree_control` has) — `cgroup.controllers`.
    pub fn controllers_pids(&self) -> bool {
        match &self.parent {
            None => true,
            Some(p) => p.state.lock().subtree_pids,
        }
    }

    /// The pids state a task of this cgroup is charged to: this cgroup's, or
    /// the nearest ancestor's; `None` at the root (Linux: the css_set's
    /// `subsys[pids_cgrp_id]`).
    pub fn effective_pids(&self) -> Option<Arc<Pids>> {
        let mut c = self;
        loop {
            if let Some(p) = &c.state.lock().pids {
                return Some(p.clone());
            }
            c = c.parent.as_deref()?;
        }
    }

    /// Tasks in this cgroup or below that have not exited
    /// (`cgroup_is_populated`).
    pub fn is_populated(&self) -> bool {
        if self.nr_tasks.load(Ordering::Acquire) > 0 {
            return true;
        }
        let children: Vec<Arc<Cgroup>> = self.state.lock().children.values().cloned().collect();
        children.iter().any(|c| c.is_populated())
    }

    /// Some child is populated (Linux `nr_populated_domain_children` > 0).
    pub fn has_populated_children(&self) -> bool {
        let children: Vec<Arc<Cgroup>> = self.state.lock().children.values().cloned().collect();
        children.iter().any(|c| c.is_populated())
    }

    /// `self` is `ancestor` or below it (`cgroup_is_descendant`).
    pub fn is_descendant_of(&self, ancestor: &Cgroup) -> bool {
        let mut c = self;
        loop {
            if core::ptr::eq(c, ancestor) {
                return true;
            }
            match &c.parent {
                Some(p) => c = p,
                None => return false,
            }
        }
    }

    /// The path from the hierarchy's root ("/" for the root, "/a/b").
    pub fn path(&self) -> String {
        let mut names = Vec::new();
        let mut c = self;
        while let Some(p) = &c.parent {
            names.push(c.name.as_str());
            c = p;
        }
        if names.is_empty() {
            return String::from("/");
        }
        let mut s = String::new();
        for n in names.iter().rev() {
            s.push('/');
            s.push_str(n);
        }
        s
    }

    pub fn child(&self, name: &str) -> Option<Arc<Cgroup>> {
        self.state.lock().children.get(name).cloned()
    }

    pub fn children(&self) -> Vec<Arc<Cgroup>> {
        self.state.lock().children.values().cloned().collect()
    }

    /// The files of this cgroup's directory (Linux: the base files, and a
    /// controller's where it is enabled; `CFTYPE_NOT_ON_ROOT` ones only
    /// below the root).
    pub fn files(&self) -> Vec<CgroupFile> {
        let pids = self.state.lock().pids.is_some();
        CgroupFile::ALL
            .iter()
            .copied()
            .filter(|f| !f.not_on_root() || !self.is_root())
            .filter(|f| !f.is_pids() || pids)
            .collect()
    }

    /// `mkdir NAME` in this cgroup (Linux `cgroup_mkdir`): EINVAL for a name
    /// with a newline, EEXIST for a name in use (a child or one of the
    /// files), ENODEV in a removed cgroup. The child's pids state exists if
    /// this cgroup's `subtree_control` has pids.
    pub fn mkdir(
        self: &Arc<Self>,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Arc<Cgroup>, Errno> {
        if name.contains('\n') {
            return Err(EINVAL);
        }
        if self.files().iter().any(|f| f.name() == name) {
            return Err(EEXIST);
        }
        let parent_pids = self.effective_pids();
        let mut st = self.state.lock();
        if st.dead {
            return Err(crate::errno::ENODEV);
        }
        if st.children.contains_key(name) {
            return Err(EEXIST);
        }
        let pids = st.subtree_pids.then(|| Arc::new(Pids::new(parent_pids)));
        let child = Arc::new(Cgroup {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: String::from(name),
            parent: Some(self.clone()),
            level: self.level + 1,
            uid,
            gid,
            mode: mode & 0o7777,
            state: spin::Mutex::new(CgroupState {
                children: BTreeMap::new(),
                subtree_pids: false,
                pids,
                dead: false,
            }),
            nr_tasks: AtomicU32::new(0),
        });
        st.children.insert(String::from(name), child.clone());
        Ok(child)
    }

    /// `rmdir NAME` (Linux `cgroup_rmdir` → `cgroup_destroy_locked`): ENOENT
    /// if there is no such child, EBUSY while it is populated or has
    /// children. Its zombies keep their charges (given back when reaped).
    pub fn rmdir(&self, name: &str) -> Result<Arc<Cgroup>, Errno> {
        let child = self.child(name).ok_or(ENOENT)?;
        if child.is_populated() || !child.state.lock().children.is_empty() {
            return Err(EBUSY);
        }
        let mut st = self.state.lock();
        let mut cst = child.state.lock();
        if !cst.children.is_empty() {
            return Err(EBUSY);
        }
        cst.dead = true;
        drop(cst);
        st.children.remove(name);
        Ok(child)
    }
}

/// Linux `strstrip`: without leading and trailing white space.
pub fn strstrip(s: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = s.iter().position(|c| !ws(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !ws(c)).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// Linux `kstrtoull(s, 0)`: an optional '+', then hexadecimal after "0x",
/// octal after "0", else decimal; one trailing newline allowed. EINVAL for
/// anything else, ERANGE past 64 bits.
fn kstrtoull(s: &[u8]) -> Result<u64, Errno> {
    let s = s.strip_prefix(b"+").unwrap_or(s);
    parse_unsigned(s)
}

fn parse_unsigned(s: &[u8]) -> Result<u64, Errno> {
    let (base, digits) = match s {
        [b'0', x, d, ..] if (*x | 0x20) == b'x' && d.is_ascii_hexdigit() => (16, &s[2..]),
        [b'0', ..] => (8, s),
        _ => (10, s),
    };
    let mut v: u64 = 0;
    let mut n = 0;
    let mut overflow = false;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => (c - b'0') as u64,
            b'a'..=b'f' => (c - b'a' + 10) as u64,
            b'A'..=b'F' => (c - b'A' + 10) as u64,
            _ => break,
        };
        if d >= base {
            break;
        }
        match v.checked_mul(base).and_then(|v| v.checked_add(d)) {
            Some(x) => v = x,
            None => overflow = true,
        }
        n += 1;
    }
    if overflow {
        return Err(ERANGE);
    }
    if n == 0 {
        return Err(EINVAL);
    }
    let rest = &digits[n..];
    if rest.is_empty() || rest == b"\n" {
        Ok(v)
    } else {
        Err(EINVAL)
    }
}

/// Linux `kstrtoll(s, 0)`.
pub fn kstrtoll(s: &[u8]) -> Result<i64, Errno> {
    if let Some(rest) = s.strip_prefix(b"-") {
        let v = parse_unsigned(rest)?;
        let neg = (v as i64).wrapping_neg();
        if neg > 0 {
            return Err(ERANGE);
        }
        Ok(neg)
    } else {
        let v = kstrtoull(s)?;
        if (v as i64) < 0 {
            return Err(ERANGE);
        }
        Ok(v as i64)
    }
}

/// Linux `kstrtoint(s, 0)`.
pub fn kstrtoint(s: &[u8]) -> Result<i32, Errno> {
    let v = kstrtoll(s)?;
    i32::try_from(v).map_err(|_| ERANGE)
}

/// What a write to `pids.max` sets (Linux `pids_max_write`): "max", or a
/// number from 0 below [`PIDS_MAX`] (kstrtoll's errors; EINVAL out of range).
pub fn parse_pids_max(buf: &[u8]) -> Result<i64, Errno> {
    let buf = strstrip(buf);
    if buf == b"max" {
        return Ok(PIDS_MAX);
    }
    let limit = kstrtoll(buf)?;
    if !(0..PIDS_MAX).contains(&limit) {
        return Err(EINVAL);
    }
    Ok(limit)
}

/// The pid written to `cgroup.procs` (Linux `cgroup_procs_write_start`):
/// 0 is the writer; anything but a non-negative int is EINVAL.
pub fn parse_procs_pid(buf: &[u8]) -> Result<u32, Errno> {
    match kstrtoint(strstrip(buf)) {
        Ok(pid) if pid >= 0 => Ok(pid as u32),
        _ => Err(EINVAL),
    }
}

/// A change asked of `cgroup.subtree_control`: for each controller, Some(true)
/// to enable, Some(false) to disable (Linux `cgroup_subtree_control_write`'s
/// parsing: space-separated `+name`/`-name`, the last one for a controller
/// wins; an unknown name or a missing sign is EINVAL).
pub fn parse_subtree_control(buf: &[u8]) -> Result<[Option<bool>; CONTROLLERS.len()], Errno> {
    let mut out = [None; CONTROLLERS.len()];
    for tok in strstrip(buf).split(|&c| c == b' ') {
        if tok.is_empty() {
            continue;
        }
        let i = CONTROLLERS.iter().position(|n| tok.len() > 1 && &tok[1..] == n.as_bytes());
        let Some(i) = i else { return Err(EINVAL) };
        out[i] = match tok[0] {
            b'+' => Some(true),
            b'-' => Some(false),
            _ => return Err(EINVAL),
        };
    }
    Ok(out)
}

/// A controller mask as `cgroup.controllers` and `cgroup.subtree_control`
/// show it (Linux `cgroup_print_ss_mask`).
pub fn ss_mask_text(pids: bool) -> String {
    String::from(if pids { "pids\n" } else { "" })
}

/// `pids.max`'s text.
pub fn pids_max_text(limit: i64) -> String {
    if limit >= PIDS_MAX {
        String::from("max\n")
    } else {
        alloc::format!("{limit}\n")
    }
}

/// A task's place in the hierarchy (Linux: its `css_set`, which with one
/// controller comes down to its cgroup and the pids state it is charged to).
pub struct CssSet {
    pub cgrp: Arc<Cgroup>,
    /// Where the task is charged (`None`: at the root, which is not).
    pub pids: Option<Arc<Pids>>,
    /// Counted in `cgrp.nr_tasks` (from `cgroup_post_fork` or a move).
    pub linked: bool,
    /// `cgroup_exit` ran: no longer counted, never moved again.
    pub dead: bool,
    /// When it joined `cgrp` (`cgroup.procs` lists in joining order).
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_hierarchical_and_refused_at_any_limit() {
        let a = Arc::new(Pids::new(None));
        let b = Arc::new(Pids::new(Some(a.clone())));
        let c = Arc::new(Pids::new(Some(b.clone())));
        a.set_limit(3);
        c.set_limit(PIDS_MAX);
        assert!(c.try_charge(1).is_ok());
        assert!(b.try_charge(1).is_ok());
        assert_eq!((a.current(), b.current(), c.current()), (2, 2, 1));
        assert!(c.try_charge(1).is_ok());
        // a is at 3 = its limit: the next fork anywhere below fails at a.
        let over = c.try_charge(1).unwrap_err();
        assert!(core::ptr::eq(over, &*a));
        assert_eq!((a.current(), b.current(), c.current()), (3, 3, 2), "nothing left charged");
        assert!(c.event(over), "the first failure from c");
        assert!(!c.event(over));
        assert_eq!(a.events(), (2, 2));
        assert_eq!(b.events(), (0, 0), "below the limit that was hit: not counted");
        // A limit lower in the chain: counted there and above.
        b.set_limit(3);
        let over = c.try_charge(1).unwrap_err();
        assert!(core::ptr::eq(over, &*b));
        c.event(over);
        assert_eq!((a.events(), b.events(), c.events()), ((3, 2), (1, 1), (0, 0)));
        // Moving in is never refused (pids_can_attach), and peaks remember.
        b.charge(2);
        assert_eq!((a.current(), b.current(), a.peak(), b.peak()), (5, 5, 5, 5));
        b.uncharge(2);
        c.uncharge(2);
        b.uncharge(1);
        assert_eq!((a.current(), b.current(), c.current()), (0, 0, 0));
        // c's mark counts the charge that a's limit then refused (Linux: "not
        // technically accurate ..., but that's tolerable for the watermark").
        assert_eq!((a.peak(), c.peak()), (5, 3));
        // A limit of 0 refuses every fork.
        c.set_limit(0);
        assert!(c.try_charge(1).is_err());
        assert_eq!(a.current(), 0);
    }

    #[test]
    fn limits_and_pids_parse_as_linux_parses_them() {
        assert_eq!(parse_pids_max(b"max\n"), Ok(PIDS_MAX));
        assert_eq!(parse_pids_max(b"  50\n"), Ok(50));
        assert_eq!(parse_pids_max(b"0x10"), Ok(16));
        assert_eq!(parse_pids_max(b"010"), Ok(8));
        assert_eq!(parse_pids_max(b"+7"), Ok(7));
        assert_eq!(parse_pids_max(b"0"), Ok(0));
        assert_eq!(parse_pids_max(b"4194304"), Ok(4194304));
        assert_eq!(parse_pids_max(b"4194305"), Err(EINVAL));
        assert_eq!(parse_pids_max(b"-1"), Err(EINVAL));
        assert_eq!(parse_pids_max(b"MAX"), Err(EINVAL));
        assert_eq!(parse_pids_max(b""), Err(EINVAL));
        assert_eq!(parse_pids_max(b"12abc"), Err(EINVAL));
        assert_eq!(parse_pids_max(b"99999999999999999999"), Err(ERANGE));
        assert_eq!(parse_pids_max(b"0x"), Err(EINVAL));
        assert_eq!(parse_pids_max(b"09"), Err(EINVAL));
        assert_eq!(parse_procs_pid(b"42\n"), Ok(42));
        assert_eq!(parse_procs_pid(b"0"), Ok(0));
        assert_eq!(parse_procs_pid(b"-0"), Ok(0));
        assert_eq!(parse_procs_pid(b"-5"), Err(EINVAL));
        assert_eq!(parse_procs_pid(b"4294967296"), Err(EINVAL));
        assert_eq!(parse_procs_pid(b"1 2"), Err(EINVAL));
        assert_eq!(parse_procs_pid(b""), Err(EINVAL));
        assert_eq!(kstrtoll(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(kstrtoll(b"9223372036854775808"), Err(ERANGE));
        assert_eq!(kstrtoll(b"-+1"), Err(EINVAL));
        assert_eq!(strstrip(b" \t a b \n"), b"a b");
        assert_eq!(strstrip(b"   "), b"");
    }

    #[test]
    fn subtree_control_parses_as_linux_parses_it() {
        assert_eq!(parse_subtree_control(b"+pids\n"), Ok([Some(true)]));
        assert_eq!(parse_subtree_control(b"+pids -pids"), Ok([Some(false)]));
        assert_eq!(parse_subtree_control(b"  "), Ok([None]));
        assert_eq!(parse_subtree_control(b"pids"), Err(EINVAL));
        assert_eq!(parse_subtree_control(b"+"), Err(EINVAL));
        assert_eq!(parse_subtree_control(b"xpids"), Err(EINVAL));
        assert_eq!(parse_subtree_control(b"+memory"), Err(EINVAL));
        assert_eq!(parse_subtree_control(b"+pids  +bogus"), Err(EINVAL));
        assert_eq!(ss_mask_text(true), "pids\n");
        assert_eq!(ss_mask_text(false), "", "nothing, not even a newline");
        assert_eq!(pids_max_text(PIDS_MAX), "max\n");
        assert_eq!(pids_max_text(50), "50\n");
    }

    #[test]
    fn the_tree_paths_files_and_removal() {
        let root = Cgroup::new_root();
        assert_eq!(root.path(), "/");
        let a = root.mkdir("a", 0o755, 0, 0).unwrap();
        let b = a.mkdir("b", 0o755, 0, 0).unwrap();
        assert_eq!(b.path(), "/a/b");
        assert!(b.is_descendant_of(&root) && b.is_descendant_of(&a) && !a.is_descendant_of(&b));
        assert_eq!(a.mkdir("b", 0o755, 0, 0).err(), Some(EEXIST));
        assert_eq!(a.mkdir("cgroup.procs", 0o755, 0, 0).err(), Some(EEXIST));
        assert_eq!(a.mkdir("x\ny", 0o755, 0, 0).err(), Some(EINVAL));
        // The root has no cgroup.type/events; no pids files without +pids.
        let names = |c: &Cgroup| c.files().iter().map(|f| f.name()).collect::<Vec<_>>();
        assert_eq!(
            names(&root),
            ["cgroup.procs", "cgroup.threads", "cgroup.controllers", "cgroup.subtree_control"]
        );
        assert!(names(&a).contains(&"cgroup.events") && !names(&a).contains(&"pids.max"));
        // Populated: a task in b makes a and b busy.
        b.nr_tasks.fetch_add(1, Ordering::Relaxed);
        assert!(a.is_populated() && a.has_populated_children() && !b.has_populated_children());
        assert_eq!(a.rmdir("b").err(), Some(EBUSY));
        assert_eq!(root.rmdir("a").err(), Some(EBUSY), "a child");
        b.nr_tasks.fetch_sub(1, Ordering::Relaxed);
        let gone = a.rmdir("b").unwrap();
        assert!(gone.is_dead() && a.child("b").is_none());
        assert_eq!(a.rmdir("b").err(), Some(ENOENT));
        assert_eq!(gone.mkdir("c", 0o755, 0, 0).err(), Some(crate::errno::ENODEV));
        // With +pids at the root, a new child has pids files and its own state.
        root.state.lock().subtree_pids = true;
        let c = root.mkdir("c", 0o755, 0, 0).unwrap();
        assert!(names(&c).contains(&"pids.events.local") && c.controllers_pids());
        assert!(c.effective_pids().is_some() && a.effective_pids().is_none());
        let d = c.mkdir("d", 0o755, 0, 0).unwrap();
        assert!(Arc::ptr_eq(&d.effective_pids().unwrap(), &c.effective_pids().unwrap()));
        assert!(!d.controllers_pids() && !names(&d).contains(&"pids.max"));
    }
}
