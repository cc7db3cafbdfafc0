//! Process identity, creation, exit, waiting and signalling calls.

use core::sync::atomic::Ordering;

use super::{Args, SysResult};
use crate::errno::{Errno, EAGAIN, EFAULT, EINVAL, EPERM, ESRCH};
use crate::fs::file::O_NONBLOCK;
use crate::process::clone_flags::{self, CloneFlags, CSIGNAL};
use crate::process::current;
use crate::process::fork::{kernel_clone, KernelCloneArgs};
use crate::process::pidfd;
use crate::process::signal::{_NSIG, SIGCHLD, SIGKILL, SIGSTOP};
use crate::process::task::{sigaction, Creds, SIG_DFL, SIG_IGN};
use crate::process::wait::{self, Which};
use crate::process::{table, ExitReason, Task};
use crate::uaccess;
use uapi::prctl::{
    ARCH_GET_FS, ARCH_GET_GS, ARCH_SET_FS, ARCH_SET_GS, PR_GET_CHILD_SUBREAPER, PR_GET_NAME,
    PR_GET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NAME, PR_SET_PDEATHSIG,
};
use uapi::signal::{
    SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER,
    SA_SIGINFO,
};
use uapi::wait::{P_ALL, P_PGID, P_PID, P_PIDFD};

fn task() -> alloc::sync::Arc<Task> {
    current().expect("a system call without a task")
}

pub fn exit(a: &Args) -> SysResult {
    crate::process::exit::do_exit(ExitReason::Exited(a.u(0) as u8))
}

/// exit_group: every thread of the process ends with this status.
pub fn exit_group(a: &Args) -> SysResult {
    crate::process::exit::do_group_exit(ExitReason::Exited(a.u(0) as u8))
}

// Pids are what the caller's PID namespace sees (Linux `task_tgid_vnr` and
// friends): a task outside it, such as a namespace init's parent, is 0.

pub fn getpid() -> SysResult {
    Ok(task().tgid_vnr() as u64)
}

pub fn getppid() -> SysResult {
    let me = task();
    let parent = table::find(me.ppid.load(Ordering::Relaxed));
    Ok(parent.map_or(0, |p| p.tgid_nr_ns(me.pid_ns())) as u64)
}

pub fn gettid() -> SysResult {
    Ok(task().pid_vnr() as u64)
}

/// The task numbered `nr` in the caller's PID namespace.
fn find_vpid(me: &Task, nr: i32) -> Option<alloc::sync::Arc<Task>> {
    u32::try_from(nr).ok().and_then(|nr| table::find_in(me.pid_ns(), nr))
}

/// The initial-namespace number of what the caller calls `nr` (a pid, a
/// process group): NOBODY if its namespace has no such number.
fn global_of(me: &Task, nr: u32) -> u32 {
    me.pid_ns().find(nr).unwrap_or(NOBODY)
}

/// A number no pid has (pid_max is far below): matches no task or group.
const NOBODY: u32 = u32::MAX;

/// The caller's ids as its user namespace sees them (Linux
/// `from_kuid_munged`: 65534 for an id with no mapping there).
fn ids_seen(f: impl FnOnce(&crate::process::user_namespace::UserNamespace, &Creds) -> u32) -> u64 {
    let t = task();
    let c = t.creds();
    let ns = t.nsproxy.lock().user_ns.clone();
    f(&ns, &c) as u64
}

pub fn getuid() -> SysResult {
    Ok(ids_seen(|ns, c| ns.from_kuid_munged(c.uid)))
}

pub fn geteuid() -> SysResult {
    Ok(ids_seen(|ns, c| ns.from_kuid_munged(c.euid)))
}

pub fn getgid() -> SysResult {
    Ok(ids_seen(|ns, c| ns.from_kgid_munged(c.gid)))
}

pub fn getegid() -> SysResult {
    Ok(ids_seen(|ns, c| ns.from_kgid_munged(c.egid)))
}

/// `setuid` (Linux `__sys_setuid`): root sets all three ids; others only the
/// effective id, to the real or saved one.
pub fn setuid(a: &Args) -> SysResult {
    let uid = a.u32(0);
    if uid == u32::MAX {
        return Err(EINVAL);
    }
    let t = task();
    let mut c = t.creds.lock();
    let old = c.euid;
    if c.euid == 0 {
        if c.uid != uid {
            table::change_user(c.uid, uid);
        }
        (c.uid, c.euid, c.suid) = (uid, uid, uid);
    } else if uid == c.uid || uid == c.suid {
        c.euid = uid;
    } else {
        return Err(EPERM);
    }
    if c.euid != old {
        // Linux `commit_creds`: new effective ids end the parent-death signal.
        t.pdeath_signal.store(0, Ordering::Relaxed);
        drop(c);
        ids_changed(&t);
    }
    Ok(0)
}

pub fn setgid(a: &Args) -> SysResult {
    let gid = a.u32(0);
    if gid == u32::MAX {
        return Err(EINVAL);
    }
    let t = task();
    let mut c = t.creds.lock();
    let old = c.egid;
    if c.euid == 0 {
        (c.gid, c.egid, c.sgid) = (gid, gid, gid);
    } else if gid == c.gid || gid == c.sgid {
        c.egid = gid;
    } else {
        return Err(EPERM);
    }
    if c.egid != old {
        t.pdeath_signal.store(0, Ordering::Relaxed);
        drop(c);
        ids_changed(&t);
    }
    Ok(0)
}

/// Linux `commit_creds`: a change of the effective ids makes the process
/// not dumpable (`suid_dumpable` is 0), so its proc files are root's.
fn ids_changed(t: &Task) {
    if let Some(mm) = t.mm() {
        mm.dumpable.store(false, Ordering::Relaxed);
    }
}

pub fn set_tid_address(a: &Args) -> SysResult {
    let t = task();
    t.clear_child_tid.store(a.u(0), Ordering::Relaxed);
    Ok(t.pid_vnr() as u64)
}

fn canonical_user(addr: u64) -> bool {
    addr < crate::arch::uaccess::USER_TOP
}

pub fn arch_prctl(a: &Args) -> SysResult {
    let t = task();
    // The option is matched as the 64-bit register (a value above 32 bits is
    // EINVAL).
    match a.u(0) {
        o if o == u64::from(ARCH_SET_FS) => {
            if !canonical_user(a.u(1)) {
                return Err(EPERM);
            }
            t.fs_base.store(a.u(1), Ordering::Relaxed);
            crate::arch::cpu::set_fs_base(a.u(1));
            Ok(0)
        }
        o if o == u64::from(ARCH_SET_GS) => {
            if !canonical_user(a.u(1)) {
                return Err(EPERM);
            }
            t.gs_base.store(a.u(1), Ordering::Relaxed);
            crate::arch::cpu::set_user_gs_base(a.u(1));
            Ok(0)
        }
        o if o == u64::from(ARCH_GET_FS) => {
            uaccess::write_u64s(a.u(1), &[crate::arch::cpu::fs_base()]).map(|_| 0)
        }
        o if o == u64::from(ARCH_GET_GS) => {
            uaccess::write_u64s(a.u(1), &[t.gs_base.load(Ordering::Relaxed)]).map(|_| 0)
        }
        _ => Err(EINVAL),
    }
}

// ---- creation ------------------------------------------------------------

// fork and vfork stay functions of their own (LLVM inlined them into the
// dispatch once kernel_clone returned the child too): the profiler's stacks
// and crash reports name the system call, and tests/profile.rs looks for it.
#[inline(never)]
pub fn fork(frame: &mut crate::arch::TrapFrame) -> SysResult {
    kernel_clone(&KernelCloneArgs { exit_signal: SIGCHLD, ..Default::default() }, frame)
}

#[inline(never)]
pub fn vfork(frame: &mut crate::arch::TrapFrame) -> SysResult {
    let args = KernelCloneArgs {
        flags: CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK,
        exit_signal: SIGCHLD,
        ..Default::default()
    };
    kernel_clone(&args, frame)
}

/// clone(flags, newsp, parent_tid, child_tid, tls) — x86-64 argument order.
pub fn clone(a: &Args, frame: &mut crate::arch::TrapFrame) -> SysResult {
    // Legacy clone takes any value in the low byte as the exit signal (Linux does
    // not check it there; a child with an invalid one is a "clone" child), and
    // the flags are the rest of the low 32 bits.
    let exit_signal = a.u(0) & CSIGNAL;
    let flags = CloneFlags::from_bits_retain(a.u(0) & !CSIGNAL & 0xffff_ffff);
    let args = KernelCloneArgs {
        flags,
        exit_signal: exit_signal as u32,
        stack: a.u(1),
        stack_size: 0,
        parent_tid: a.u(2),
        child_tid: a.u(3),
        tls: a.u(4),
        // CLONE_PIDFD writes the pidfd where CLONE_PARENT_SETTID would write
        // the tid (the two together are EINVAL).
        pidfd: a.u(2),
        ..Default::default()
    };
    kernel_clone(&args, frame)
}

/// clone3(struct clone_args *, size).
pub fn clone3(a: &Args, frame: &mut crate::arch::TrapFrame) -> SysResult {
    let (addr, size) = (a.u(0), a.u(1) as usize);
    let known = clone_flags::check_clone3_size(size, |size| {
        let tail = uaccess::read_bytes(
            addr + clone_flags::CLONE_ARGS_SIZE_VER2 as u64,
            size - clone_flags::CLONE_ARGS_SIZE_VER2,
        )?;
        Ok(tail.iter().all(|&b| b == 0))
    })?;
    let raw = uaccess::read_bytes(addr, known)?;
    let field = |i: usize| {
        raw.get(8 * i..8 * i + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    let (flags, pidfd, child_tid, parent_tid, exit_signal) =
        (CloneFlags::from_bits_retain(field(0)), field(1), field(2), field(3), field(4));
    let (stack, stack_size, tls, set_tid, set_tid_size) =
        (field(5), field(6), field(7), field(8), field(9));
    // Linux `copy_clone_args_from_user`: set_tid's size (at most one pid per
    // namespace level), then the array itself (EFAULT), before the flags.
    let set_tid_size = clone_flags::check_set_tid(set_tid, set_tid_size)?;
    // CLONE_INTO_CGROUP: a descriptor number, in a struct that has the field.
    let cgroup = field(10);
    if flags.contains(CloneFlags::CLONE_INTO_CGROUP)
        && (cgroup > i32::MAX as u64 || known < clone_flags::CLONE_ARGS_SIZE_VER2)
    {
        return Err(EINVAL);
    }
    let mut pids = [0i32; 32];
    if set_tid_size > 0 {
        let raw = uaccess::read_bytes(set_tid, 4 * set_tid_size)?;
        for (p, b) in pids.iter_mut().zip(raw.chunks_exact(4)) {
            *p = i32::from_le_bytes(b.try_into().unwrap());
        }
    }
    clone_flags::check_clone3(flags, exit_signal)?;
    if !clone_flags::clone3_stack_valid(stack, stack_size) {
        return Err(EINVAL);
    }
    let args = KernelCloneArgs {
        flags,
        exit_signal: exit_signal as u32,
        stack,
        stack_size,
        tls,
        parent_tid,
        child_tid,
        pidfd,
        set_tid: pids,
        set_tid_size,
        cgroup: cgroup as i32,
    };
    kernel_clone(&args, frame)
}

/// unshare(flags) (Linux `ksys_unshare`): a private copy of the fd table
/// (CLONE_FILES) or of cwd/root/umask (CLONE_FS) when shared, and new
/// namespaces: a user namespace (anyone whose ids are mapped; the caller
/// gets every capability in it), then the others with CAP_SYS_ADMIN in the
/// caller's (new) user namespace (CLONE_NEWPID and CLONE_NEWTIME are for the
/// caller's next children). CLONE_THREAD, CLONE_SIGHAND and CLONE_VM are
/// accepted only when nothing is shared.
pub fn unshare(a: &Args) -> SysResult {
    use CloneFlags as F;
    let flags = clone_flags::unshare_flags(CloneFlags::from_bits_retain(a.u(0)))?;
    let me = task();
    if flags.intersects(F::CLONE_THREAD | F::CLONE_SIGHAND | F::CLONE_VM)
        && me.group.live.load(Ordering::Acquire) > 1
    {
        return Err(EINVAL);
    }
    // (The task's own reference plus the one taken here: more means shared.)
    if flags.intersects(F::CLONE_SIGHAND | F::CLONE_VM)
        && alloc::sync::Arc::strong_count(&me.sighand()) > 2
    {
        return Err(EINVAL);
    }
    if flags.contains(F::CLONE_VM)
        && me.mm().is_some_and(|mm| alloc::sync::Arc::strong_count(&mm) > 2)
    {
        return Err(EINVAL);
    }
    let fs = me.fs();
    let new_fs = (flags.contains(F::CLONE_FS) && alloc::sync::Arc::strong_count(&fs) > 2)
        .then(|| alloc::sync::Arc::new(fs.duplicate()));
    let files = me.files();
    let new_files = (flags.contains(F::CLONE_FILES) && alloc::sync::Arc::strong_count(&files) > 2)
        .then(|| alloc::sync::Arc::new(files.duplicate()));
    let new_ns = crate::process::nsproxy::unshare_nsproxy_namespaces(
        flags,
        &me.nsproxy(),
        me.pid_ns(),
        &me.ns_caller(),
    )?;
    if let Some(fs) = new_fs {
        *me.fs.lock() = fs;
    }
    if let Some(files) = new_files {
        *me.files.lock() = files;
    }
    if let Some(ns) = new_ns {
        *me.nsproxy.lock() = ns;
        if flags.contains(F::CLONE_NEWUSER) {
            me.creds.lock().userns_caps = true;
        }
    }
    Ok(0)
}

/// setns(fd, nstype) (Linux `setns` with an nsfs file): `fd` is an open
/// `/proc/PID/ns/*` file (EBADF if no descriptor, EINVAL for any other
/// file: pidfds are not taken here); `nstype` 0 or the namespace's
/// CLONE_NEW* flag (EINVAL otherwise); then `nsproxy::setns_install`'s
/// checks. Entering a mount namespace moves the working directory to its
/// root; entering a user namespace gives every capability there.
pub fn setns(a: &Args) -> SysResult {
    use crate::fs::file::FileKind;
    use crate::process::ns_common::NsRef;
    let me = task();
    let file = me.files().get(a.i32(0))?;
    let target = match &file.kind {
        FileKind::Proc(pf) => pf.pinned.get().and_then(|p| p.clone().downcast::<NsRef>().ok()),
        _ => None,
    }
    .ok_or(EINVAL)?;
    let nstype = a.u(1);
    if nstype != 0 && nstype != target.flag().bits() {
        return Err(EINVAL);
    }
    let caller = crate::process::nsproxy::SetnsCaller {
        who: me.ns_caller(),
        single_threaded: me.group.live.load(Ordering::Acquire) <= 1,
        fs_shared: alloc::sync::Arc::strong_count(&me.fs()) > 2,
    };
    let new = crate::process::nsproxy::setns_install(&me.nsproxy(), me.pid_ns(), &target, &caller)?;
    *me.nsproxy.lock() = new;
    match &*target {
        NsRef::User(_) => me.creds.lock().userns_caps = true,
        NsRef::Mnt(_) => {
            let root = crate::fs::ramfs::ROOT_INO;
            crate::fs::with_fs(|fs| fs.open_inc(root))?;
            me.fs().set_cwd_acquired(root);
        }
        _ => {}
    }
    Ok(0)
}

// ---- waiting --------------------------------------------------------------

fn which_for_wait4(pid: i32) -> Result<Which, Errno> {
    let me = task();
    Ok(match pid {
        i32::MIN => return Err(ESRCH),
        -1 => Which::Any,
        0 => Which::Pgid(me.pgid.load(Ordering::Relaxed)),
        p if p < -1 => Which::Pgid(global_of(&me, (-p) as u32)),
        p => Which::Pid(global_of(&me, p as u32)),
    })
}

/// `struct rusage` at `addr` (if not NULL): `usage`, or zeros when no child
/// was reaped (WNOHANG).
fn write_rusage(addr: u64, usage: Option<&crate::process::rusage::Usage>) -> Result<(), Errno> {
    if addr != 0 {
        let bytes = usage.map_or([0u8; 144], |u| u.to_bytes());
        uaccess::write_bytes(addr, &bytes)?;
    }
    Ok(())
}

/// `getrusage(who, usage)` (Linux `kernel/sys.c`): EINVAL for another `who`,
/// EFAULT for a bad pointer.
pub fn getrusage(a: &Args) -> SysResult {
    use crate::process::rusage::{self, Who};
    let who = Who::from_raw(a.i32(0)).ok_or(EINVAL)?;
    let usage = rusage::getrusage(&task(), who);
    uaccess::write_bytes(a.u(1), &usage.to_bytes())?;
    Ok(0)
}

pub fn wait4(a: &Args) -> SysResult {
    let (pid, status, options, rusage) = (a.i32(0), a.u(1), a.u32(2), a.u(3));
    if options
        & !(wait::WNOHANG
            | wait::WUNTRACED
            | wait::WCONTINUED
            | wait::__WNOTHREAD
            | wait::__WCLONE
            | wait::__WALL)
        != 0
    {
        return Err(EINVAL);
    }
    match wait::do_wait(which_for_wait4(pid)?, options | wait::WEXITED)? {
        None => Ok(0),
        Some(r) => {
            if status != 0 {
                uaccess::write_u32(status, r.why.wait_status() as u32)?;
            }
            write_rusage(rusage, Some(&r.usage))?;
            Ok(r.pid as u64)
        }
    }
}

pub fn waitid(a: &Args) -> SysResult {
    let (idtype, id, infop, options, rusage) = (a.u32(0), a.u32(1), a.u(2), a.u32(3), a.u(4));
    let valid = wait::WNOHANG
        | wait::WEXITED
        | wait::WUNTRACED
        | wait::WCONTINUED
        | wait::WNOWAIT
        | wait::__WNOTHREAD
        | wait::__WCLONE
        | wait::__WALL;
    if options & !valid != 0 || options & (wait::WEXITED | wait::WUNTRACED | wait::WCONTINUED) == 0
    {
        return Err(EINVAL);
    }
    // The id is a pid_t: P_PID needs one > 0, P_PGID one >= 0 (0: own group),
    // P_PIDFD a descriptor >= 0 of a pidfd (EBADF otherwise).
    let id = id as i32;
    let me = task();
    let mut options = options;
    let mut nonblock_pidfd = false;
    let which = match idtype {
        P_ALL => Which::Any,
        P_PID if id > 0 => Which::Pid(global_of(&me, id as u32)),
        P_PGID if id > 0 => Which::Pgid(global_of(&me, id as u32)),
        P_PGID if id == 0 => Which::Pgid(me.pgid.load(Ordering::Relaxed)),
        P_PIDFD if id >= 0 => {
            let file = me.files().get(id)?;
            let pid = pidfd::pidfd_pid(&file)?.pid.clone();
            // A non-blocking pidfd: EAGAIN rather than a wait (Linux
            // `kernel_waitid`).
            if file.flags() & O_NONBLOCK != 0 {
                nonblock_pidfd = options & wait::WNOHANG == 0;
                options |= wait::WNOHANG;
            }
            Which::PidRef(pid)
        }
        _ => return Err(EINVAL),
    };
    drop(me);
    let r = wait::do_wait(which, options)?;
    if r.is_none() && nonblock_pidfd {
        return Err(EAGAIN);
    }
    if infop != 0 {
        // siginfo_t for SIGCHLD: si_signo, si_errno, si_code, then si_pid, si_uid, si_status.
        let mut info = [0u8; 128];
        if let Some(r) = &r {
            let (code, status) = r.why.si_code_status();
            info[0..4].copy_from_slice(&(SIGCHLD as i32).to_le_bytes());
            info[8..12].copy_from_slice(&code.to_le_bytes());
            info[16..20].copy_from_slice(&r.pid.to_le_bytes());
            info[20..24].copy_from_slice(&r.uid.to_le_bytes());
            info[24..28].copy_from_slice(&status.to_le_bytes());
        }
        uaccess::write_bytes(infop, &info)?;
    }
    write_rusage(rusage, r.as_ref().map(|r| &r.usage))?;
    Ok(0)
}

// ---- process groups and sessions ------------------------------------------

pub fn getpgid(a: &Args) -> SysResult {
    let (me, pid) = (task(), a.i32(0));
    let t = if pid == 0 { me.clone() } else { find_vpid(&me, pid).ok_or(ESRCH)? };
    Ok(table::nr_in(t.pgid.load(Ordering::Relaxed), me.pid_ns()) as u64)
}

pub fn getsid(a: &Args) -> SysResult {
    let (me, pid) = (task(), a.i32(0));
    let t = if pid == 0 { me.clone() } else { find_vpid(&me, pid).ok_or(ESRCH)? };
    Ok(table::nr_in(t.sid.load(Ordering::Relaxed), me.pid_ns()) as u64)
}

/// setpgid(pid, pgid): self or a child, within the caller's session.
pub fn setpgid(a: &Args) -> SysResult {
    let (pid, pgid) = (a.i32(0), a.i32(1));
    if pgid < 0 {
        return Err(EINVAL);
    }
    let me = task();
    let target = if pid == 0 || pid as u32 == me.tgid_vnr() {
        me.clone()
    } else {
        find_vpid(&me, pid).ok_or(ESRCH)?
    };
    if target.tgid != me.tgid && target.ppid.load(Ordering::Relaxed) != me.tgid {
        return Err(ESRCH);
    }
    if target.sid.load(Ordering::Relaxed) == target.tgid {
        return Err(EPERM); // a session leader
    }
    let pgid = if pgid == 0 { target.tgid } else { global_of(&me, pgid as u32) };
    // Joining another group: it must exist in the same session.
    let sid = target.sid.load(Ordering::Relaxed);
    if pgid != target.tgid
        && !table::all()
            .iter()
            .any(|t| t.pgid.load(Ordering::Relaxed) == pgid && t.sid.load(Ordering::Relaxed) == sid)
    {
        return Err(EPERM);
    }
    if target.pgid.load(Ordering::Relaxed) != pgid {
        table::change_pgrp(&target, pgid);
    }
    Ok(0)
}

pub fn setsid() -> SysResult {
    let me = task();
    let pid = me.tgid;
    if table::all()
        .iter()
        .any(|t| t.pgid.load(Ordering::Relaxed) == pid && !t.exited.load(Ordering::Relaxed))
    {
        return Err(EPERM); // already a process group leader
    }
    table::change_session(&me, pid);
    table::change_pgrp(&me, pid);
    Ok(me.tgid_vnr() as u64)
}

pub fn prctl(a: &Args) -> SysResult {
    let t = task();
    // The option is matched as the 64-bit register (a value above 32 bits is
    // EINVAL).
    match a.u(0) {
        o if o == u64::from(PR_SET_CHILD_SUBREAPER) => {
            t.child_subreaper.store(a.u(1) != 0, Ordering::Relaxed);
            Ok(0)
        }
        o if o == u64::from(PR_GET_CHILD_SUBREAPER) => {
            uaccess::write_u32(a.u(1), t.child_subreaper.load(Ordering::Relaxed) as u32).map(|_| 0)
        }
        o if o == u64::from(PR_SET_PDEATHSIG) => {
            let sig = valid_signal(i32::try_from(a.u(1)).map_err(|_| EINVAL)?)?;
            t.pdeath_signal.store(sig, Ordering::Relaxed);
            Ok(0)
        }
        o if o == u64::from(PR_GET_PDEATHSIG) => {
            uaccess::write_u32(a.u(1), t.pdeath_signal.load(Ordering::Relaxed)).map(|_| 0)
        }
        o if o == u64::from(PR_SET_NAME) => {
            let name = uaccess::read_bytes(a.u(1), 16)?;
            let n = name.iter().position(|&b| b == 0).unwrap_or(15);
            t.set_comm(&name[..n]);
            Ok(0)
        }
        // SUID_DUMP_DISABLE (0) or SUID_DUMP_USER (1) only.
        o if o == u64::from(uapi::prctl::PR_SET_DUMPABLE) => {
            let v = a.u(1);
            if v > 1 {
                return Err(EINVAL);
            }
            if let Some(mm) = t.mm() {
                mm.dumpable.store(v == 1, Ordering::Relaxed);
            }
            Ok(0)
        }
        o if o == u64::from(uapi::prctl::PR_GET_DUMPABLE) => {
            Ok(t.mm().is_some_and(|mm| mm.dumpable.load(Ordering::Relaxed)) as u64)
        }
        o if o == u64::from(PR_GET_NAME) => {
            let mut c = *t.comm.lock();
            c[15] = 0;
            uaccess::write_bytes(a.u(1), &c).map(|_| 0)
        }
        _ => Err(EINVAL),
    }
}

// ---- signals ---------------------------------------------------------------

fn valid_signal(sig: i32) -> Result<u32, Errno> {
    if (0..=_NSIG as i32).contains(&sig) {
        Ok(sig as u32)
    } else {
        Err(EINVAL)
    }
}

/// rt_sigaction(sig, act, oldact, sigsetsize).
pub fn rt_sigaction(a: &Args) -> SysResult {
    use crate::process::signal::{sigmask, UNBLOCKABLE};
    let (sig, act, old, setsize) = (a.i32(0), a.u(1), a.u(2), a.u(3));
    if setsize != 8 {
        return Err(EINVAL);
    }
    let sig = valid_signal(sig)?;
    if sig == 0 {
        return Err(EINVAL);
    }
    let t = task();
    let hand = t.sighand();
    let prev = hand.action(sig);
    if act != 0 {
        let [handler, flags, restorer, mask] = uaccess::read_u64s::<4>(act)?;
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(EINVAL);
        }
        const KNOWN: u64 = SA_NOCLDSTOP
            | SA_NOCLDWAIT
            | SA_SIGINFO
            | SA_RESTORER
            | SA_ONSTACK
            | SA_RESTART
            | SA_NODEFER
            | SA_RESETHAND;
        let new = sigaction {
            sa_handler: handler as usize,
            sa_flags: flags & KNOWN,
            sa_restorer: restorer as usize,
            sa_mask: mask & !UNBLOCKABLE,
        };
        hand.set_action(sig, new);
        // Setting an ignoring disposition discards the pending signal (Linux).
        let dfl_ignores = handler == SIG_DFL as u64
            && crate::process::signal::default_action(sig)
                == crate::process::signal::DefaultAction::Ignore;
        if handler == SIG_IGN as u64 || dfl_ignores {
            // From the process's pending set and every thread's (Linux
            // `do_sigaction`: `flush_sigqueue_mask` for each).
            t.group.shared_pending.fetch_and(!sigmask(sig), Ordering::AcqRel);
            for u in table::threads_of(&t.group).iter() {
                u.pending.fetch_and(!sigmask(sig), Ordering::AcqRel);
            }
        }
    }
    if old != 0 {
        let words = [prev.sa_handler as u64, prev.sa_flags, prev.sa_restorer as u64, prev.sa_mask];
        uaccess::write_u64s(old, &words)?;
    }
    Ok(0)
}

/// rt_sigprocmask(how, set, oldset, sigsetsize).
pub fn rt_sigprocmask(a: &Args) -> SysResult {
    use crate::process::signal::UNBLOCKABLE;
    let (how, set, old, setsize) = (a.i32(0), a.u(1), a.u(2), a.u(3));
    if setsize != 8 {
        return Err(EINVAL);
    }
    let t = task();
    let cur = t.blocked.load(Ordering::Acquire);
    if set != 0 {
        let s = uaccess::read_u64s::<1>(set)?[0] & !UNBLOCKABLE;
        let new = match how {
            0 => cur | s,
            1 => cur & !s,
            2 => s,
            _ => return Err(EINVAL),
        };
        // Linux sets the new mask before it copies the old one out: a bad
        // `oldset` is EFAULT with the new mask in place.
        crate::process::signal::set_current_blocked(&t, new);
    }
    if old != 0 {
        uaccess::write_u64s(old, &[cur]).map_err(|_| EFAULT)?;
    }
    Ok(0)
}

/// `rt_sigsuspend(mask, 8)`: wait for a signal with `mask` blocked; the old
/// mask comes back once the signal is handled (see `Task::saved_sigmask`).
/// Always fails: EINTR after a handler, restarted if none ran.
pub fn rt_sigsuspend(a: &Args) -> SysResult {
    use crate::process::signal::UNBLOCKABLE;
    if a.u(1) != 8 {
        return Err(EINVAL);
    }
    let mask = uaccess::read_u64s::<1>(a.u(0))?[0] & !UNBLOCKABLE;
    let t = task();
    let old = t.blocked.load(Ordering::Relaxed);
    crate::process::signal::set_current_blocked(&t, mask);
    t.saved_sigmask.store(old, Ordering::Relaxed);
    t.restore_sigmask.store(true, Ordering::Relaxed);
    sleep_until_signal(&t)
}

/// `pause()`: wait for a signal.
pub fn pause() -> SysResult {
    sleep_until_signal(&task())
}

fn sleep_until_signal(t: &Task) -> SysResult {
    while !crate::process::signal::signal_pending(t) {
        crate::process::wait_event(None, None, || false);
    }
    Err(crate::process::signal::ERESTARTNOHAND)
}

pub fn rt_sigpending(a: &Args) -> SysResult {
    if a.u(1) > 8 {
        return Err(EINVAL);
    }
    let t = task();
    // The thread's own and its process's (Linux `do_sigpending`).
    let p = crate::process::signal::pending_for(&t) & t.blocked.load(Ordering::Acquire);
    uaccess::write_bytes(a.u(0), &p.to_le_bytes()[..a.u(1) as usize]).map(|_| 0)
}

pub fn rt_sigreturn(frame: &mut crate::arch::TrapFrame) -> SysResult {
    let t = task();
    match crate::process::signal::rt_sigreturn(&t, frame) {
        Ok(rax) => Ok(rax),
        Err(_) => {
            crate::process::signal::force_sig(&t, crate::process::signal::SIGSEGV);
            Ok(frame.rax)
        }
    }
}

pub fn sigaltstack(a: &Args, frame: &crate::arch::TrapFrame) -> SysResult {
    crate::process::signal::sigaltstack(&task(), frame.rsp, a.u(0), a.u(1))
}

/// May the caller signal `target` (Linux `kill_ok_by_cred`)?
fn may_signal(me: &Task, target: &Task) -> bool {
    let (c, t) = (me.creds(), target.creds());
    c.euid == 0 || c.euid == t.uid || c.euid == t.suid || c.uid == t.uid || c.uid == t.suid
}

/// What a signal from `me` to `target` carries (Linux `prepare_kill_siginfo`
/// and `send_signal_locked`): the sender's pid as it sees itself, or 0 and
/// forced (a namespace init then takes SIGKILL) when the sender is outside the
/// target's PID namespace, in an ancestor.
fn kill_info(me: &Task, target: &Task, code: i32) -> (crate::process::signal::SigInfo, bool) {
    let outside = me.pid_nr_ns(target.pid_ns()) == 0;
    let info = crate::process::signal::SigInfo {
        code,
        pid: if outside { 0 } else { me.tgid_vnr() },
        uid: me.creds().uid,
        ..Default::default()
    };
    (info, outside)
}

pub fn kill(a: &Args) -> SysResult {
    use crate::process::signal::{send_group_signal, send_process_signal, SI_USER};
    let (pid, sig) = (a.i32(0), valid_signal(a.i32(1))?);
    let me = task();
    if pid > 0 {
        // The process of the task numbered `pid` (a thread's tid names its
        // process): any of its threads may take the signal, also when its
        // leader has exited and waits as a zombie for the others (Linux
        // `kill_pid_info` with PIDTYPE_TGID). Under the task-list lock, so
        // that a fatal signal reaches a thread being cloned.
        let t = find_vpid(&me, pid).and_then(|t| table::find(t.tgid)).ok_or(ESRCH)?;
        if !may_signal(&me, &t) {
            return Err(EPERM);
        }
        if sig != 0 {
            let (info, force) = kill_info(&me, &t, SI_USER);
            let _tasklist = table::TASKLIST.lock();
            send_process_signal(&t, sig, info, force);
        }
        return Ok(0);
    }
    if pid == i32::MIN {
        return Err(ESRCH);
    }
    // Several processes: under the task-list lock, so that a fork in progress
    // in one of them passes the signal on to its child (Linux `kill_pgrp`).
    let _tasklist = table::TASKLIST.lock();
    let ns = me.pid_ns().clone();
    let targets: alloc::vec::Vec<_> = match pid {
        0 => {
            let g = me.pgid.load(Ordering::Relaxed);
            table::all()
                .into_iter()
                .filter(|t| t.is_group_leader() && t.pgid.load(Ordering::Relaxed) == g)
                .collect()
        }
        // Every process the caller's namespace sees but its init and the caller.
        -1 => table::all()
            .into_iter()
            .filter(|t| t.is_group_leader() && t.tgid_nr_ns(&ns) > 1 && t.tgid != me.tgid)
            .collect(),
        p => {
            let g = global_of(&me, (-p) as u32);
            table::all()
                .into_iter()
                .filter(|t| t.is_group_leader() && t.pgid.load(Ordering::Relaxed) == g)
                .collect()
        }
    };
    if targets.is_empty() {
        return Err(ESRCH);
    }
    let mut sent = false;
    for t in &targets {
        if may_signal(&me, t) {
            sent = true;
            if sig != 0 {
                let (info, force) = kill_info(&me, t, SI_USER);
                send_group_signal(t, sig, info, force);
            }
        }
    }
    // kill(-1) succeeds if there was anyone to try (Linux).
    if sent || pid == -1 {
        Ok(0)
    } else {
        Err(EPERM)
    }
}

pub fn tkill(a: &Args) -> SysResult {
    let (tid, sig) = (a.i32(0), valid_signal(a.i32(1))?);
    if tid <= 0 {
        return Err(EINVAL);
    }
    let me = task();
    let t = find_vpid(&me, tid).ok_or(ESRCH)?;
    if sig != 0 {
        send_signal_tkill(&me, &t, sig);
    }
    Ok(0)
}

fn send_signal_tkill(me: &Task, t: &alloc::sync::Arc<Task>, sig: u32) {
    let (info, force) = kill_info(me, t, crate::process::signal::SI_TKILL);
    crate::process::signal::send_signal_force(t, sig, info, force);
}

pub fn tgkill(a: &Args) -> SysResult {
    let (tgid, tid, sig) = (a.i32(0), a.i32(1), valid_signal(a.i32(2))?);
    if tgid <= 0 || tid <= 0 {
        return Err(EINVAL);
    }
    let me = task();
    let t = find_vpid(&me, tid).filter(|t| t.tgid_nr_ns(me.pid_ns()) == tgid as u32);
    let t = t.ok_or(ESRCH)?;
    if sig != 0 {
        send_signal_tkill(&me, &t, sig);
    }
    Ok(0)
}

// ---- pidfds ----------------------------------------------------------------

/// `pidfd_open(pid, flags)` (Linux `kernel/pid.c`): a close-on-exec pidfd
/// of the process `pid` names in the caller's namespace (of the thread, with
/// PIDFD_THREAD). EINVAL for other flags or pid <= 0, ESRCH when no task
/// uses that pid, ENOENT when it is a thread's and PIDFD_THREAD was not
/// asked for.
pub fn pidfd_open(a: &Args) -> SysResult {
    use uapi::pidfd::{PIDFD_NONBLOCK, PIDFD_THREAD};
    let (nr, flags) = (a.i32(0), a.u32(1));
    if flags & !(PIDFD_NONBLOCK | PIDFD_THREAD) != 0 || nr <= 0 {
        return Err(EINVAL);
    }
    let me = task();
    let pid = me.pid_ns().find(nr as u32).and_then(table::pid_of).ok_or(ESRCH)?;
    pidfd::pidfd_create(&me, &pid, flags).map(|fd| fd as u64)
}

/// The pidfd at descriptor `fd` of the caller: its pid and whether it is a
/// PIDFD_THREAD one (EBADF: no such descriptor, or not a pidfd).
fn pidfd_get_pid(
    me: &Task,
    fd: i32,
) -> Result<(alloc::sync::Arc<crate::process::pid_namespace::Pid>, bool), Errno> {
    let file = me.files().get(fd)?;
    let p = pidfd::pidfd_pid(&file)?;
    Ok((p.pid.clone(), p.thread))
}

/// `pidfd_send_signal(pidfd, sig, info, flags)` (Linux `kernel/signal.c`):
/// to the process of the pidfd (to the thread for a PIDFD_THREAD one), or
/// as PIDFD_SIGNAL_THREAD / _THREAD_GROUP / _PROCESS_GROUP say. With a
/// siginfo, its signal must be `sig`, and one that claims to come from the
/// kernel or tkill (si_code >= 0, SI_TKILL) may only be sent to oneself.
/// ESRCH once the process is reaped; EINVAL for a pid of a namespace the
/// caller does not see into.
pub fn pidfd_send_signal(a: &Args) -> SysResult {
    use crate::process::signal::{send_group_signal, SigInfo, SI_TKILL, SI_USER};
    use uapi::pidfd::{PIDFD_SIGNAL_PROCESS_GROUP, PIDFD_SIGNAL_THREAD, PIDFD_SIGNAL_THREAD_GROUP};
    const SCOPES: u32 =
        PIDFD_SIGNAL_THREAD | PIDFD_SIGNAL_THREAD_GROUP | PIDFD_SIGNAL_PROCESS_GROUP;
    let (fd, sig, infop, flags) = (a.i32(0), a.i32(1), a.u(2), a.u32(3));
    if flags & !SCOPES != 0 || flags.count_ones() > 1 {
        return Err(EINVAL);
    }
    let me = task();
    let (pid, thread) = pidfd_get_pid(&me, fd)?;
    // Linux `access_pidfd_pidns`: the pid's namespace is the caller's or below.
    if !me.pid_ns().is_ancestor_of(pid.ns()) {
        return Err(EINVAL);
    }
    #[derive(PartialEq)]
    enum Scope {
        Thread,
        Process,
        Group,
    }
    let scope = match flags {
        PIDFD_SIGNAL_THREAD => Scope::Thread,
        PIDFD_SIGNAL_THREAD_GROUP => Scope::Process,
        PIDFD_SIGNAL_PROCESS_GROUP => Scope::Group,
        _ if thread => Scope::Thread,
        _ => Scope::Process,
    };
    // The siginfo to send: the caller's (checked), or what kill/tkill send.
    let given = if infop != 0 {
        let raw = uaccess::read_bytes(infop, 128)?;
        let word = |o: usize| i32::from_le_bytes(raw[o..o + 4].try_into().unwrap());
        let (signo, code) = (word(0), word(8));
        if signo != sig {
            return Err(EINVAL);
        }
        let to_self = alloc::sync::Arc::ptr_eq(&me.thread_pid(), &pid);
        if (!to_self || scope == Scope::Group) && (code >= 0 || code == SI_TKILL) {
            return Err(EPERM);
        }
        Some(SigInfo {
            code,
            pid: word(16) as u32,
            uid: word(20) as u32,
            status: word(24),
            ..Default::default()
        })
    } else {
        None
    };
    let info_for = |t: &Task| -> (SigInfo, bool) {
        let code = if scope == Scope::Thread { SI_TKILL } else { SI_USER };
        let (kill, outside) = kill_info(&me, t, code);
        match given {
            Some(mut g) => {
                if outside {
                    g.pid = 0;
                }
                (g, outside)
            }
            None => (kill, outside),
        }
    };
    if scope == Scope::Group {
        // Linux `kill_pgrp_info`: every process of the group this pid leads.
        let _tasklist = table::TASKLIST.lock();
        if !table::pid_of(pid.global()).is_some_and(|p| alloc::sync::Arc::ptr_eq(&p, &pid)) {
            return Err(ESRCH);
        }
        let g = pid.global();
        let members: alloc::vec::Vec<_> = table::all()
            .into_iter()
            .filter(|t| t.is_group_leader() && t.pgid.load(Ordering::Relaxed) == g)
            .collect();
        // Success if any was signalled, else the last error (ESRCH: none).
        let (mut success, mut last) = (false, ESRCH);
        for t in &members {
            match check_kill_permission(&me, t, sig) {
                Ok(()) => {
                    success = true;
                    if sig != 0 {
                        let (info, force) = info_for(t);
                        send_group_signal(t, sig as u32, info, force);
                    }
                }
                Err(e) => last = e,
            }
        }
        return if success { Ok(0) } else { Err(last) };
    }
    // Linux `kill_pid_info_type`: the task of the pid, while not reaped.
    let t = pidfd::pid_task(&pid).ok_or(ESRCH)?;
    check_kill_permission(&me, &t, sig)?;
    if sig != 0 {
        let (info, force) = info_for(&t);
        let sig = sig as u32;
        if scope == Scope::Thread {
            crate::process::signal::send_signal_force(&t, sig, info, force);
        } else {
            let _tasklist = table::TASKLIST.lock();
            crate::process::signal::send_process_signal(&t, sig, info, force);
        }
    }
    Ok(0)
}

/// Linux `check_kill_permission` for a signal from user space: a valid
/// signal, and the right to signal `t` unless it is in the caller's process.
fn check_kill_permission(me: &Task, t: &Task, sig: i32) -> Result<(), Errno> {
    valid_signal(sig)?;
    if t.tgid != me.tgid && !may_signal(me, t) {
        return Err(EPERM);
    }
    Ok(())
}

/// `pidfd_getfd(pidfd, targetfd, flags)` (Linux `kernel/pid.c`): a
/// close-on-exec duplicate in the caller's table of the target's descriptor
/// `targetfd` (the same open file). The caller must be allowed to ptrace the
/// target (here: the same user ids, or root); ESRCH once the target has
/// exited (or begun to), EBADF for a descriptor it does not have.
pub fn pidfd_getfd(a: &Args) -> SysResult {
    let (fd, target_fd, flags) = (a.i32(0), a.i32(1), a.u32(2));
    if flags != 0 {
        return Err(EINVAL);
    }
    let me = task();
    let (pid, _) = pidfd_get_pid(&me, fd)?;
    let t = pidfd::pid_task(&pid).ok_or(ESRCH)?;
    if !ptrace_may_attach(&me, &t) {
        return Err(EPERM);
    }
    // A task that began exiting may have closed its files: ESRCH then.
    let file = match t.files().get(target_fd) {
        Ok(f) => f,
        Err(_) if t.exiting.load(Ordering::Acquire) => return Err(ESRCH),
        Err(e) => return Err(e),
    };
    me.files().alloc(0, file, true, pidfd::nofile_limit(&me)).map(|fd| fd as u64)
}

/// Linux `ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS)` as far as
/// credentials go here: the caller's process, root, or a target whose real,
/// effective and saved user and group ids are all the caller's real ones.
fn ptrace_may_attach(me: &Task, t: &Task) -> bool {
    if t.tgid == me.tgid {
        return true;
    }
    let (c, tc) = (me.creds(), t.creds());
    c.euid == 0
        || (c.uid == tc.uid
            && c.uid == tc.euid
            && c.uid == tc.suid
            && c.gid == tc.gid
            && c.gid == tc.egid
            && c.gid == tc.sgid)
}
