//! The kernel's side of proc (Linux `fs/proc/base.c`, `root.c`, `array.c`):
//! lookups and directory listings over the task table, and the text of each
//! file from the tasks' figures.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering::{Acquire, Relaxed};

use crate::errno::{Errno, ENOENT, ENOTDIR, ESRCH};
use crate::fs::namespace::{FsType, MntNamespace};
use crate::fs::proc::array::{self, MemStatus, ProcState, TaskStat, TaskStatus};
use crate::fs::proc::{
    name_to_int, PidEntry, ProcDirent, ProcNode, NS_ENTRIES, PID_ENTRIES, ROOT_ENTRIES,
};
use crate::fs::ramfs::Stat;
use crate::mm::frame::PAGE_SIZE;
use crate::process::ns_common::parse_timens_offsets;
use crate::process::ns_common::{NsRef, NsType};
use crate::process::pid_namespace::PidNamespace;
use crate::process::task::{Task, EXIT_ZOMBIE, TASK_INTERRUPTIBLE, TASK_RUNNING};
use crate::process::user_namespace::{
    ns_capable, write_map, write_setgroups, MapKind, UserNamespace, Writer,
};
use crate::process::{rusage, table};

/// A proc mount's file system, showing `pid_ns`.
pub fn proc_fs_type(pid_ns: &Arc<PidNamespace>) -> FsType {
    FsType::Proc { fs_info: pid_ns.clone() }
}

/// The PID namespace a proc mount shows (its `s_fs_info`).
pub fn pid_ns_of(fs: &FsType) -> Option<Arc<PidNamespace>> {
    match fs {
        FsType::Proc { fs_info } => fs_info.clone().downcast::<PidNamespace>().ok(),
        FsType::Ram | FsType::Cgroup2 => None,
    }
}

/// USER_HZ: the clock ticks of `stat`'s times.
const USER_HZ: u64 = 100;

fn ticks(ns: u64) -> u64 {
    ns / (1_000_000_000 / USER_HZ)
}

/// The process `tgid` (initial-namespace number) if it still exists and is
/// visible in `ns`.
fn process(ns: &PidNamespace, tgid: u32) -> Option<Arc<Task>> {
    table::find(tgid).filter(|t| t.tgid == tgid && t.tgid_nr_ns(ns) != 0)
}

/// Thread `tid` of process `tgid`, visible in `ns`.
fn thread(ns: &PidNamespace, tgid: u32, tid: u32) -> Option<Arc<Task>> {
    table::find(tid).filter(|t| t.tgid == tgid && t.pid_nr_ns(ns) != 0)
}

/// The task a node shows: the thread for a thread's node, else the leader.
fn task_of(ns: &PidNamespace, node: ProcNode) -> Option<Arc<Task>> {
    match node {
        ProcNode::TidDir(p, t)
        | ProcNode::PidFile(p, Some(t), _)
        | ProcNode::NsDir(p, Some(t))
        | ProcNode::NsLink(p, Some(t), _)
        | ProcNode::NsFile(p, Some(t), _) => thread(ns, p, t),
        ProcNode::PidDir(p)
        | ProcNode::TaskDir(p)
        | ProcNode::PidFile(p, None, _)
        | ProcNode::NsDir(p, None)
        | ProcNode::NsLink(p, None, _)
        | ProcNode::NsFile(p, None, _) => process(ns, p),
        _ => None,
    }
}

/// Look `name` up in directory `dir` (Linux `proc_root_lookup`,
/// `proc_pid_lookup`, `proc_task_lookup`, `proc_pident_lookup`).
pub fn lookup(ns: &PidNamespace, dir: ProcNode, name: &str) -> Result<ProcNode, Errno> {
    if !dir.is_dir() {
        return Err(ENOTDIR);
    }
    if dir.tgid().is_some() && task_of(ns, dir).is_none() {
        return Err(ENOENT);
    }
    if let Some(node) = dir.lookup_fixed(name) {
        return Ok(node);
    }
    let nr = name_to_int(name).ok_or(ENOENT)?;
    match dir {
        ProcNode::Root => {
            let t = table::find_in(ns, nr).ok_or(ENOENT)?;
            // A thread's number names its process's directory too (Linux
            // shows only leaders in the listing but finds threads).
            Ok(ProcNode::PidDir(t.tgid))
        }
        ProcNode::TaskDir(p) => {
            let t = table::find_in(ns, nr).filter(|t| t.tgid == p).ok_or(ENOENT)?;
            Ok(ProcNode::TidDir(p, t.pid()))
        }
        _ => Err(ENOENT),
    }
}

/// The entries of directory `dir` after `.` and `..`, in Linux's order.
pub fn readdir(ns: &PidNamespace, dir: ProcNode) -> Result<Vec<ProcDirent>, Errno> {
    let ent = |name: &str, node| ProcDirent { name: String::from(name), node };
    let mut v = Vec::new();
    match dir {
        ProcNode::Root => {
            v.extend(ROOT_ENTRIES.iter().map(|(n, node)| ent(n, *node)));
            let mut pids: Vec<(u32, u32)> = table::all()
                .iter()
                .filter(|t| t.is_group_leader())
                .map(|t| (t.tgid_nr_ns(ns), t.tgid))
                .filter(|&(nr, _)| nr != 0)
                .collect();
            pids.sort_unstable();
            v.extend(
                pids.into_iter().map(|(nr, g)| ent(&alloc::format!("{nr}"), ProcNode::PidDir(g))),
            );
        }
        ProcNode::PidDir(p) => {
            process(ns, p).ok_or(ENOENT)?;
            v.push(ent("task", ProcNode::TaskDir(p)));
            v.extend(PID_ENTRIES.iter().map(|(n, e)| ent(n, ProcNode::PidFile(p, None, *e))));
            v.push(ent("ns", ProcNode::NsDir(p, None)));
        }
        ProcNode::TidDir(p, t) => {
            thread(ns, p, t).ok_or(ENOENT)?;
            v.extend(PID_ENTRIES.iter().map(|(n, e)| ent(n, ProcNode::PidFile(p, Some(t), *e))));
            v.push(ent("ns", ProcNode::NsDir(p, Some(t))));
        }
        ProcNode::NsDir(p, t) => {
            task_of(ns, dir).ok_or(ENOENT)?;
            v.extend(
                NS_ENTRIES.iter().enumerate().map(|(i, n)| ent(n, ProcNode::NsLink(p, t, i as u8))),
            );
        }
        ProcNode::TaskDir(p) => {
            let leader = process(ns, p).ok_or(ENOENT)?;
            let mut tids: Vec<(u32, u32)> = {
                let _tasklist = table::TASKLIST.lock();
                table::threads_of(&leader.group)
                    .iter()
                    .filter(|t| t.tgid == p)
                    .map(|t| (t.pid_nr_ns(ns), t.pid()))
                    .filter(|&(nr, _)| nr != 0)
                    .collect()
            };
            tids.sort_unstable();
            v.extend(
                tids.into_iter()
                    .map(|(nr, t)| ent(&alloc::format!("{nr}"), ProcNode::TidDir(p, t))),
            );
        }
        _ => return Err(ENOTDIR),
    }
    Ok(v)
}

/// What `stat` says about a node: a process's entries belong to its
/// effective ids (Linux `pid_update_inode`), the rest to root.
pub fn stat(ns: &PidNamespace, node: ProcNode) -> Result<Stat, Errno> {
    let (uid, gid) = match node.tgid() {
        Some(_) => {
            let t = task_of(ns, node).ok_or(ENOENT)?;
            let c = t.creds();
            // Linux `task_dump_owner`: root's when not dumpable.
            match t.mm() {
                Some(mm) if !mm.dumpable.load(Relaxed) => (0, 0),
                _ => (c.euid, c.egid),
            }
        }
        None => (0, 0),
    };
    let nlink = match node {
        ProcNode::Root | ProcNode::TaskDir(_) => 3,
        n if n.is_dir() => 2 + if matches!(n, ProcNode::PidDir(_)) { 1 } else { 0 },
        _ => 1,
    };
    let now = crate::time::realtime_ns();
    // A followed namespace link is the namespace (Linux nsfs: its number,
    // a regular file readable by all).
    let (ino, mode) = match node {
        ProcNode::NsFile(..) => (u64::from(ns_inum(ns, node)?), crate::fs::ramfs::S_IFREG | 0o444),
        _ => (node.ino(), node.mode()),
    };
    Ok(Stat {
        ino,
        mode,
        nlink,
        uid,
        gid,
        rdev: 0,
        size: 0,
        blksize: 1024,
        blocks: 0,
        atime_ns: now,
        mtime_ns: now,
        ctime_ns: now,
    })
}

/// `fstat` of an open proc file: a namespace's is that of the namespace
/// held since the open (nsfs: root's, its number), whatever became of the
/// task; the others' as `stat`.
pub fn fstat(pf: &crate::fs::proc::ProcFile) -> Result<Stat, Errno> {
    let ns = pid_ns_of(&pf.mnt.fs).ok_or(crate::errno::EINVAL)?;
    match pf.pinned.get().and_then(|p| p.clone().downcast::<NsRef>().ok()) {
        Some(r) => {
            let now = crate::time::realtime_ns();
            Ok(Stat {
                ino: u64::from(r.inum()),
                mode: crate::fs::ramfs::S_IFREG | 0o444,
                nlink: 1,
                uid: 0,
                gid: 0,
                rdev: 0,
                size: 0,
                blksize: 1024,
                blocks: 0,
                atime_ns: now,
                mtime_ns: now,
                ctime_ns: now,
            })
        }
        None => stat(&ns, pf.node),
    }
}

/// The target of a proc symbolic link for the reader `me` (Linux
/// `proc_self_get_link`: ENOENT when the reader is not visible in the
/// mount's namespace).
pub fn readlink(ns: &PidNamespace, me: &Task, node: ProcNode) -> Result<String, Errno> {
    let tgid = me.tgid_nr_ns(ns);
    let tid = me.pid_nr_ns(ns);
    if tgid == 0 {
        return Err(ENOENT);
    }
    match node {
        ProcNode::SelfLink => Ok(alloc::format!("{tgid}")),
        ProcNode::ThreadSelf => Ok(alloc::format!("{tgid}/task/{tid}")),
        ProcNode::MountsLink => Ok(String::from("self/mounts")),
        ProcNode::NsLink(_, _, i) => {
            let inum = ns_inum(ns, node)?;
            Ok(ns_type(i).link_text(inum))
        }
        _ => Err(crate::errno::EINVAL),
    }
}

/// `uid_map` or `gid_map` of `target` as the reading task sees it (Linux
/// `uid_m_show`: outside ids in the reader's namespace, or its parent's
/// when it reads its own).
fn id_map_text(target: &Arc<UserNamespace>, uid: bool) -> String {
    let me = crate::process::current().expect("a reader");
    let mut lower = me.nsproxy().user_ns.clone();
    if Arc::ptr_eq(&lower, target) {
        if let Some(p) = lower.parent.clone() {
            lower = p;
        }
    }
    let map = if uid { target.uid_map.lock().clone() } else { target.gid_map.lock().clone() };
    map.map_or_else(String::new, |m| {
        m.show(|k| if uid { lower.from_kuid(k) } else { lower.from_kgid(k) })
    })
}

/// A write to a writable proc file (`uid_map`, `gid_map`, `setgroups`) by
/// `me` at `pos` (Linux `proc_uid_map_write` and the others).
pub fn write(
    ns: &PidNamespace,
    me: &Task,
    node: ProcNode,
    data: &[u8],
    pos: u64,
) -> Result<usize, Errno> {
    let ProcNode::PidFile(_, _, e) = node else {
        return Err(crate::errno::EBADF);
    };
    let t = task_of(ns, node).ok_or(ESRCH)?;
    let target = t.nsproxy().user_ns.clone();
    let c = me.creds();
    let my_ns = me.nsproxy().user_ns.clone();
    let caps = if my_ns.level == 0 { c.euid == 0 } else { c.userns_caps };
    let w = Writer { user_ns: my_ns, euid: c.euid, egid: c.egid, caps };
    match e {
        PidEntry::UidMap => write_map(&target, MapKind::Uid, data, pos, &w),
        PidEntry::GidMap => write_map(&target, MapKind::Gid, data, pos, &w),
        PidEntry::Setgroups => write_setgroups(&target, data, pos, &w),
        PidEntry::TimensOffsets => {
            // Linux `proc_timens_set_offset`: CAP_SYS_TIME in the owner of
            // the process's time namespace for children.
            let offs = parse_timens_offsets(data)?;
            let time_ns = t.nsproxy().time_ns_for_children.clone();
            let mut owner = w.user_ns.clone();
            while let Some(p) = owner.parent.clone() {
                owner = p;
            }
            let owner = time_ns.owner.clone().unwrap_or(owner);
            if !ns_capable(&w.user_ns, w.euid, w.caps, &owner) {
                return Err(crate::errno::EPERM);
            }
            time_ns.set_offsets(&offs, crate::time::monotonic_ns())?;
            Ok(data.len())
        }
        _ => Err(crate::errno::EBADF),
    }
}

fn ns_type(i: u8) -> NsType {
    NsType::from_entry(NS_ENTRIES[usize::from(i)]).expect("the same names")
}

/// The namespace an `ns` link or file names (Linux `ns_get_path`): ENOENT
/// once the task is gone.
pub fn ns_ref(ns: &PidNamespace, node: ProcNode) -> Result<NsRef, Errno> {
    let (ProcNode::NsLink(_, _, i) | ProcNode::NsFile(_, _, i)) = node else {
        return Err(crate::errno::EINVAL);
    };
    let t = task_of(ns, node).ok_or(ENOENT)?;
    let nsp = t.nsproxy();
    Ok(match ns_type(i) {
        NsType::Cgroup => NsRef::Cgroup(nsp.cgroup_ns.clone()),
        NsType::Ipc => NsRef::Ipc(nsp.ipc_ns.clone()),
        NsType::Mnt => NsRef::Mnt(nsp.mnt_ns.clone()),
        NsType::Net => NsRef::Net(nsp.net_ns.clone()),
        NsType::Pid => NsRef::Pid(t.pid_ns().clone()),
        NsType::PidForChildren => NsRef::Pid(nsp.pid_ns_for_children.clone()),
        NsType::Time => NsRef::Time(nsp.time_ns.clone()),
        NsType::TimeForChildren => NsRef::Time(nsp.time_ns_for_children.clone()),
        NsType::User => NsRef::User(nsp.user_ns.clone()),
        NsType::Uts => NsRef::Uts(nsp.uts_ns.clone()),
    })
}

fn ns_inum(ns: &PidNamespace, node: ProcNode) -> Result<u32, Errno> {
    ns_ref(ns, node).map(|r| r.inum())
}

/// The state a task shows (Linux `get_task_state`; a process's leader
/// that exited while other threads run is a zombie too).
fn task_state(t: &Task) -> ProcState {
    if t.exited.load(Acquire) || t.state() == EXIT_ZOMBIE {
        return ProcState::Zombie;
    }
    match t.state() {
        TASK_INTERRUPTIBLE => ProcState::Sleeping,
        TASK_RUNNING | crate::sched::TASK_NEW => ProcState::Running,
        crate::sched::TASK_STOPPED => ProcState::Stopped,
        crate::sched::TASK_TRACED => ProcState::TracingStop,
        _ => ProcState::DiskSleep,
    }
}

/// The text of file `node`, made now.
pub fn generate(
    mnt_ns: &MntNamespace,
    ns: &PidNamespace,
    node: ProcNode,
) -> Result<Vec<u8>, Errno> {
    let text = match node {
        ProcNode::Loadavg => loadavg(ns),
        ProcNode::Meminfo => meminfo(),
        ProcNode::Uptime => uptime(),
        ProcNode::Stat => proc_stat(),
        ProcNode::PidFile(p, tid, e) => {
            let t = task_of(ns, node).ok_or(ESRCH)?;
            let leader = if tid.is_some() { process(ns, p).ok_or(ESRCH)? } else { t.clone() };
            match e {
                PidEntry::Stat => pid_stat(ns, &t, tid.is_none()),
                PidEntry::Status => pid_status(ns, &t, &leader),
                PidEntry::Comm => alloc::format!("{}\n", t.comm()),
                PidEntry::Cmdline => {
                    return Ok(t.mm().map_or(Vec::new(), |mm| mm.cmdline().to_vec()))
                }
                PidEntry::Maps => maps(&t),
                // The process's own mount namespace (Linux `mounts_open_common`).
                PidEntry::Mounts => {
                    let _ = mnt_ns;
                    mounts(&t.nsproxy().mnt_ns)
                }
                PidEntry::UidMap | PidEntry::GidMap => {
                    let target = t.nsproxy().user_ns.clone();
                    id_map_text(&target, e == PidEntry::UidMap)
                }
                PidEntry::TimensOffsets => t.nsproxy().time_ns_for_children.show(),
                PidEntry::Setgroups => {
                    let allowed = t.nsproxy().user_ns.setgroups_allowed.load(Relaxed);
                    String::from(if allowed { "allow\n" } else { "deny\n" })
                }
                PidEntry::Cgroup => crate::process::cgroup::kernel::proc_cgroup_text(&t),
            }
        }
        // A namespace has no read operation (nsfs).
        ProcNode::NsFile(..) => return Err(crate::errno::EINVAL),
        _ => return Err(crate::errno::EISDIR),
    };
    Ok(text.into_bytes())
}

fn nr(global: u32, ns: &PidNamespace) -> u32 {
    table::nr_in(global, ns)
}

/// Signals ignored and caught (Linux `collect_sigign_sigcatch`).
fn sigign_sigcatch(t: &Task) -> (u64, u64) {
    let (mut ign, mut cgt) = (0u64, 0u64);
    let Some(actions) = t.sighand().snapshot() else {
        return (0, 0);
    };
    for (sig, a) in actions.iter().enumerate().skip(1) {
        let bit = 1u64 << (sig - 1);
        if a.sa_handler == crate::process::task::SIG_IGN {
            ign |= bit;
        } else if a.sa_handler != crate::process::task::SIG_DFL {
            cgt |= bit;
        }
    }
    (ign, cgt)
}

/// `/proc/PID/stat` (`whole`: the process's figures) or
/// `/proc/PID/task/TID/stat` (the thread's) (Linux `do_task_stat`).
fn pid_stat(ns: &PidNamespace, t: &Arc<Task>, whole: bool) -> String {
    let (utime, stime, minflt, threads) = if whole {
        let u = rusage::getrusage(t, rusage::Who::SelfProcess);
        (u.utime, u.stime, u.counts.min_flt, t.group.live.load(Relaxed).max(1) as u64)
    } else {
        let c = rusage::task_cputime(t);
        (c.utime, c.stime, t.min_flt.load(Relaxed), t.group.live.load(Relaxed).max(1) as u64)
    };
    let children = {
        let _tasklist = table::TASKLIST.lock();
        t.group.usage.lock().children
    };
    let (sigign, sigcatch) = sigign_sigcatch(t);
    let areas = t.mm().map(|mm| (mm.map_areas(), mm.oom_footprint())).unwrap_or_default();
    let code =
        areas.0.iter().find(|a| a.prot.contains(crate::mm::vma::Prot::EXEC) && a.name.is_empty());
    let stack = areas.0.iter().find(|a| a.name == "[stack]");
    let heap = areas.0.iter().find(|a| a.name == "[heap]");
    let nice = t.se.nice.load(Relaxed) as i64;
    let s = TaskStat {
        pid: if whole { t.tgid_nr_ns(ns) } else { t.pid_nr_ns(ns) },
        comm: t.comm(),
        state: Some(task_state(t)),
        ppid: if t.is_ns_init() && t.tgid_nr_ns(ns) == 1 {
            0
        } else {
            table::find(t.ppid.load(Relaxed)).map_or(0, |p| p.tgid_nr_ns(ns))
        },
        pgrp: nr(t.pgid.load(Relaxed), ns),
        session: nr(t.sid.load(Relaxed), ns),
        tty_nr: 0,
        tpgid: -1,
        // PF_RANDOMIZE, as for every user process on Linux.
        flags: if t.kthread { 0x0020_0000 } else { 0x0040_0000 },
        minflt,
        cminflt: children.counts.min_flt,
        utime: ticks(utime),
        stime: ticks(stime),
        cutime: ticks(children.utime),
        cstime: ticks(children.stime),
        priority: 20 + nice,
        nice,
        num_threads: threads,
        starttime: ticks(t.start_time_ns),
        vsize: areas.1.total_vm_pages * PAGE_SIZE,
        rss: areas.1.rss_pages,
        rsslim: u64::MAX,
        startcode: code.map_or(0, |a| a.start),
        endcode: code.map_or(0, |a| a.end),
        startstack: stack.map_or(0, |a| a.end),
        signal: t.pending.load(Relaxed) | t.group.shared_pending.load(Relaxed),
        blocked: t.blocked.load(Relaxed),
        sigignore: sigign,
        sigcatch,
        exit_signal: t.exit_signal.load(Relaxed),
        processor: t.cpu.load(Relaxed),
        rt_priority: 0,
        policy: t.se.policy.load(Relaxed),
        start_brk: heap.map_or(0, |a| a.start),
        exit_code: if task_state(t) == ProcState::Zombie { t.exit_status.load(Relaxed) } else { 0 },
        ..Default::default()
    };
    array::format_stat(&s)
}

/// The numbers of pid `global` from namespace `ns` down to its own.
fn ns_numbers(global: u32, ns: &PidNamespace) -> Vec<u32> {
    match table::pid_of(global) {
        Some(pid) => pid.numbers().iter().skip(ns.level as usize).map(|u| u.nr).collect(),
        None => Vec::new(),
    }
}

/// `/proc/PID/status` (Linux `proc_pid_status`).
fn pid_status(ns: &PidNamespace, t: &Arc<Task>, leader: &Arc<Task>) -> String {
    let c = t.creds();
    let mem = t.mm().map(|mm| {
        let fp = mm.oom_footprint();
        let kib = |pages: u64| pages * (PAGE_SIZE / 1024);
        let areas = mm.map_areas();
        let sum = |f: &dyn Fn(&crate::mm::address_space::MapArea) -> bool| {
            areas.iter().filter(|a| f(a)).map(|a| (a.end - a.start) / 1024).sum::<u64>()
        };
        use crate::mm::vma::Prot;
        MemStatus {
            peak: kib(fp.total_vm_pages),
            size: kib(fp.total_vm_pages),
            hwm: kib(mm.hiwater_rss_pages().max(fp.rss_pages)),
            rss: kib(fp.rss_pages),
            rss_anon: kib(fp.rss_pages),
            data: sum(&|a| a.prot.contains(Prot::WRITE) && !a.shared && a.name != "[stack]"),
            stk: sum(&|a| a.name == "[stack]"),
            exe: sum(&|a| a.prot.contains(Prot::EXEC) && a.name.is_empty()),
            pte: fp.pgtable_pages * (PAGE_SIZE / 1024),
        }
    });
    let (sig_ign, sig_cgt) = sigign_sigcatch(t);
    let sigpending =
        t.group.rlimits.lock().get(uapi::resource::RLIMIT_SIGPENDING).map_or(0, |r| r.rlim_cur);
    let s = TaskStatus {
        name: t.comm(),
        umask: Some(t.fs().umask.load(Relaxed)),
        state: Some(task_state(t)),
        tgid: t.tgid_nr_ns(ns),
        pid: t.pid_nr_ns(ns),
        ppid: if t.tgid_nr_ns(ns) == 1 {
            0
        } else {
            table::find(leader.ppid.load(Relaxed)).map_or(0, |p| p.tgid_nr_ns(ns))
        },
        tracer_pid: crate::process::ptrace::tracer_of(t).map_or(0, |p| p.tgid_nr_ns(ns)),
        uids: [c.uid, c.euid, c.suid, c.euid],
        gids: [c.gid, c.egid, c.sgid, c.egid],
        fd_size: t.files().max_fds() as u64,
        ns_tgid: ns_numbers(t.tgid, ns),
        ns_pid: ns_numbers(t.pid(), ns),
        ns_pgid: ns_numbers(t.pgid.load(Relaxed), ns),
        ns_sid: ns_numbers(t.sid.load(Relaxed), ns),
        kthread: t.kthread,
        mem,
        threads: t.group.live.load(Relaxed).max(1) as u64,
        sigq: (0, sigpending),
        sig_pnd: t.pending.load(Relaxed),
        shd_pnd: t.group.shared_pending.load(Relaxed),
        sig_blk: t.blocked.load(Relaxed),
        sig_ign,
        sig_cgt,
        cap_eff: if c.euid == 0 { array::CAP_FULL_SET } else { 0 },
        cpus_allowed: t.se.cpus_allowed.load(Relaxed),
        nr_cpus: crate::arch::cpu_count() as u32,
        nvcsw: t.se.nvcsw.load(Relaxed),
        nivcsw: t.se.nivcsw.load(Relaxed),
    };
    array::format_status(&s)
}

/// `/proc/PID/maps` (Linux `show_map_vma`): a file mapping shows its offset,
/// its file's device and inode numbers (as `stat` gives them) and its path
/// as it was when mapped.
fn maps(t: &Task) -> String {
    let mut o = String::new();
    if let Some(mm) = t.mm() {
        use crate::mm::vma::Prot;
        for a in mm.map_areas() {
            let rwx = (
                a.prot.contains(Prot::READ),
                a.prot.contains(Prot::WRITE),
                a.prot.contains(Prot::EXEC),
            );
            let ram_dev = crate::fs::ramfs::RAM_DEV;
            // A file with no name left: Linux's d_path adds " (deleted)".
            let deleted;
            let (dev, ino, name) = match &a.file {
                Some((path, ino)) => {
                    let gone =
                        crate::fs::with_fs(|fs| fs.stat(*ino)).map_or(true, |s| s.nlink == 0);
                    deleted = if gone { alloc::format!("{path} (deleted)") } else { String::new() };
                    (
                        (crate::fs::ramfs::major(ram_dev), crate::fs::ramfs::minor(ram_dev)),
                        *ino,
                        if gone { &deleted[..] } else { &path[..] },
                    )
                }
                None => ((0, 0), 0, a.name),
            };
            let line = array::MapLine {
                start: a.start,
                end: a.end,
                rwx,
                shared: a.shared,
                pgoff: a.pgoff,
                dev,
                ino,
                name,
            };
            array::format_map_line(&mut o, &line);
        }
    }
    o
}

/// `/proc/PID/mounts` (Linux `show_vfsmnt`): device, mount point, type,
/// options, "0 0".
fn mounts(mnt_ns: &MntNamespace) -> String {
    let table = mnt_ns.table.lock();
    let mounts = table.mounts();
    drop(table);
    let mut o = String::new();
    for m in &mounts {
        let path = crate::vfs::namei::mount_path(mnt_ns, m);
        let _ = writeln!(
            o,
            "{} {} {} {} 0 0",
            m.source,
            path,
            m.fs.name(),
            crate::fs::namespace::mount_options(m)
        );
    }
    o
}

fn loadavg(ns: &PidNamespace) -> String {
    let all = table::all();
    let running = crate::sched::nr_running_total();
    let last = all.iter().map(|t| t.pid_nr_ns(ns)).max().unwrap_or(0);
    let loads = crate::sched::loadavg::get_avenrun();
    array::format_loadavg(loads, running, all.len() as u64, last)
}

fn meminfo() -> String {
    use crate::counters::{
        global_get, FRAMES_FREE, FRAMES_IN_USE, HEAP_BYTES, KSTACKS_IN_USE, PAGE_TABLE_PAGES,
    };
    let kib = PAGE_SIZE / 1024;
    let free = global_get(FRAMES_FREE);
    array::format_meminfo(array::Meminfo {
        total: (free + global_get(FRAMES_IN_USE)) * kib,
        free: free * kib,
        heap: global_get(HEAP_BYTES) / 1024,
        kernel_stacks: global_get(KSTACKS_IN_USE)
            * (crate::arch::task::KERNEL_STACK_SIZE as u64 / 1024),
        page_tables: global_get(PAGE_TABLE_PAGES) * kib,
    })
}

/// CPU time of every task that exists (user, system), in ns.
fn busy_ns(all: &[Arc<Task>]) -> (u64, u64) {
    let (mut user, mut system) = (0u64, 0u64);
    for t in all {
        let c = rusage::task_cputime(t);
        user += c.utime;
        system += c.stime;
    }
    (user, system)
}

/// Idle time per CPU: the time up less an even share of the tasks' CPU
/// time (the idle tasks' own time is not kept).
fn idle_ns(all: &[Arc<Task>]) -> Vec<u64> {
    let n = crate::arch::cpu_count() as u64;
    let (user, system) = busy_ns(all);
    let up = crate::time::monotonic_ns();
    (0..n).map(|_| up.saturating_sub((user + system) / n)).collect()
}

fn uptime() -> String {
    array::format_uptime(crate::time::monotonic_ns(), idle_ns(&table::all()).iter().sum())
}

/// `/proc/stat` (Linux `show_stat`): CPU times in ticks (user and system
/// summed over the tasks that exist, idle from the idle tasks), context
/// switches, boot time, forks, runnable tasks (the run queues' counts, Linux `nr_running`).
fn proc_stat() -> String {
    let all = table::all();
    let (user, system) = busy_ns(&all);
    let idle = idle_ns(&all);
    let total_idle: u64 = idle.iter().sum();
    let mut o = String::new();
    let line = |o: &mut String, name: &str, u: u64, s: u64, i: u64| {
        let _ = writeln!(o, "{name} {} 0 {} {} 0 0 0 0 0 0", ticks(u), ticks(s), ticks(i));
    };
    line(&mut o, "cpu ", user, system, total_idle);
    let n = idle.len() as u64;
    for (cpu, i) in idle.iter().enumerate() {
        // Per-CPU user and system time are not kept: an even share.
        line(&mut o, &alloc::format!("cpu{cpu}"), user / n, system / n, *i);
    }
    use crate::counters::{cpu_get, global_get, CPU_CONTEXT_SWITCHES, TOTAL_FORKS};
    let ctxt: u64 = (0..n as usize).map(|c| cpu_get(c, CPU_CONTEXT_SWITCHES)).sum();
    let boot = (crate::time::realtime_ns() - crate::time::monotonic_ns()) / 1_000_000_000;
    let running = crate::sched::nr_running_total();
    let _ = writeln!(o, "intr 0\nctxt {ctxt}\nbtime {boot}\nprocesses {}", global_get(TOTAL_FORKS));
    let _ = writeln!(o, "procs_running {running}\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0");
    o
}

/// The path of a directory node below the proc root ("" for the root,
/// "/42/task/43", ...), with the numbers of `ns`.
pub fn node_path(ns: &PidNamespace, node: ProcNode) -> String {
    let nr = |g: u32| table::nr_in(g, ns);
    match node {
        ProcNode::PidDir(p) => alloc::format!("/{}", nr(p)),
        ProcNode::TaskDir(p) => alloc::format!("/{}/task", nr(p)),
        ProcNode::TidDir(p, t) => alloc::format!("/{}/task/{}", nr(p), nr(t)),
        ProcNode::NsDir(p, None) => alloc::format!("/{}/ns", nr(p)),
        ProcNode::NsDir(p, Some(t)) => alloc::format!("/{}/task/{}/ns", nr(p), nr(t)),
        _ => String::new(),
    }
}
