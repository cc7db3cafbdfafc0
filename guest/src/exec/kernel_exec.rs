//! `execve` and the loading of the first program.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::binfmt_script;
use super::elf::{self, ElfKind};
use super::stack::{self, build_stack};
use super::zpoline::Zpoline;
use crate::arch::TrapFrame;
use crate::counters as ctr;
use crate::errno::*;
use crate::fs::ramfs::{self, ROOT_INO};
use crate::mm::address_space::{Mm, Rewrite, STACK_MAX, STACK_TOP};
use crate::mm::frame::PAGE_SIZE;
use crate::mm::vma::{Prot, VmFlags};
use crate::mm::zpoline::SiteTable;
use crate::process::signal::SIGCHLD;
use crate::process::task::{Creds, Task};
use crate::process::{exit, table};
use core::sync::atomic::Ordering;
use uapi::binfmts::MAX_ARG_STRINGS;
use uapi::stat::{S_IXGRP, S_IXOTH, S_IXUSR};

/// Where a static PIE is loaded (Linux: ELF_ET_DYN_BASE, 2/3 of the address space).
const PIE_BASE: u64 = 0x0000_5555_5555_4000;
/// argv + envp strings may take a quarter of the stack limit (Linux `bprm_stack_limits`).
const ARG_MAX: usize = (STACK_MAX / 4) as usize;
/// Stack beyond the arguments that a new program starts with (Linux `stack_expand`).
const STACK_EXPAND: u64 = 128 << 10;

/// A program ready to run: its address space and first user registers.
pub struct Program {
    pub mm: Arc<Mm>,
    pub frame: TrapFrame,
    pub name: Vec<u8>,
}

/// Why loading failed: the errno for the caller and a message for people.
pub struct LoadError {
    pub errno: Errno,
    pub message: String,
}

fn err(errno: Errno, message: impl Into<String>) -> LoadError {
    LoadError { errno, message: message.into() }
}

fn page_up(x: u64) -> u64 {
    (x + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// The file a loader reads (Linux `open_exec`): a regular file with execute
/// permission, shared, not copied (a write to it meanwhile gives it a new
/// copy), and where the VMM found its `syscall` instructions.
/// The file exec opened: its data, its `syscall` sites, and its denial of
/// writers (Linux `do_open_execat` → `exe_file_deny_write_access`).
type Opened = (Arc<Vec<u8>>, Option<Arc<SiteTable>>, Arc<crate::fs::DeniedWrites>);

fn open_exec(cwd: u64, path: &[u8]) -> Result<Opened, LoadError> {
    // Linux walks "" (an empty `#!` name) to the working directory.
    if path.is_empty() {
        return Err(err(EACCES, "not a regular file"));
    }
    let p = core::str::from_utf8(path).map_err(|_| err(ENOENT, "path is not UTF-8"))?;
    crate::fs::with_fs(|fs| {
        let ino = fs.lookup(cwd, p).map_err(|e| err(e, "no such file"))?;
        let st = fs.stat(ino).map_err(|e| err(e, "stat failed"))?;
        if !st.is_reg() {
            return Err(err(EACCES, "not a regular file"));
        }
        if st.mode & (S_IXUSR | S_IXGRP | S_IXOTH) == 0 {
            return Err(err(EACCES, "not executable (no x permission)"));
        }
        let image = fs.file_data_shared(ino).map_err(|e| err(e, "read failed"))?;
        let exe = crate::fs::DeniedWrites::deny(fs, ino).map_err(|e| err(e, "open for writing"))?;
        Ok((image, fs.syscall_sites(ino), exe))
    })
}

/// Load the executable at `path` (resolved from `cwd`) into a new address
/// space; a `#!` script runs its interpreter (with the arguments Linux gives
/// it) instead.
pub fn load_program(
    cwd: u64,
    path: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    creds: Creds,
) -> Result<Program, LoadError> {
    let t0 = crate::arch::rdtsc();
    let r = load_program_inner(cwd, path, argv, envp, creds);
    ctr::global_add(ctr::LOAD_PROGRAM_TSC, crate::arch::rdtsc().wrapping_sub(t0));
    ctr::global_add(ctr::LOAD_PROGRAM_CALLS, 1);
    r
}

fn load_program_inner(
    cwd: u64,
    path: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    creds: Creds,
) -> Result<Program, LoadError> {
    // Linux `exec_binprm`: a `#!` script names its interpreter, which is
    // loaded in its place with the arguments `load_script` gives it, up to
    // MAX_BINFMT_DEPTH times.
    let mut script_argv: Option<Vec<Vec<u8>>> = None;
    let mut interp: Vec<u8> = path.to_vec();
    let mut depth = 0;
    let (image, sites, exe) = loop {
        if depth > binfmt_script::MAX_BINFMT_DEPTH {
            return Err(err(ELOOP, "too many levels of #! interpreters"));
        }
        let (image, sites, exe) = open_exec(cwd, &interp)?;
        if !binfmt_script::is_script(&image) {
            break (image, sites, exe);
        }
        // (The script's denial ends here: its interpreter is the program.)
        drop(exe);
        let (name, arg) =
            binfmt_script::parse(&image).map_err(|e| err(e, "a #! line without an interpreter"))?;
        let args = script_argv.as_deref().unwrap_or(argv);
        let next = binfmt_script::interpreter_argv(&name, arg.as_deref(), &interp, args);
        script_argv = Some(next);
        interp = name;
        depth += 1;
    };
    let argv = script_argv.as_deref().unwrap_or(argv);
    let parsed = elf::parse(&image).map_err(|e| err(e.errno(), alloc::format!("{e}")))?;
    let bias = if parsed.kind == ElfKind::StaticPie { PIE_BASE } else { 0 };
    let img =
        parsed.with_bias(bias).ok_or_else(|| err(ENOEXEC, "does not fit the address space"))?;

    let mm = Mm::new().map_err(|e| err(e, "out of memory"))?;
    mm.set_exe_file(exe);
    // Where `syscall` does not reach the kernel, the program's own `syscall`
    // sites (as the VMM found them) become `call *%rax` in its private copy of
    // the text, as it is copied; the file is not changed.
    let table = sites.filter(|t| !t.is_empty() && !crate::arch::entry_page::uses_syscall_insn());
    let rewrite = table.as_ref().map(|t| Rewrite {
        sites: t.sites(),
        bias,
        from: super::zpoline::SYSCALL_INSN,
        to: super::zpoline::CALL_RAX,
    });
    let oom = |e: Errno| err(e, "out of memory loading the program");
    let mut prev: Option<(u64, Prot)> = None;
    for seg in &img.segments {
        let prot = Prot::from_bits_truncate(seg.prot);
        let (mut start, end) = (seg.page_start(), seg.page_end());
        if let Some((prev_end, prev_prot)) = prev {
            if start < prev_end {
                // Two segments share a page: it gets both permissions.
                mm.mprotect(start, PAGE_SIZE, (prev_prot | prot).bits()).map_err(oom)?;
                start = prev_end;
            }
        }
        if start < end {
            mm.map_anon(start, end, prot, VmFlags::empty()).map_err(oom)?;
        }
        mm.populate_rewritten(seg.vaddr, seg.file_bytes(&image), rewrite.as_ref()).map_err(oom)?;
        prev = Some((end, prot));
    }
    if let Some(table) = table {
        ctr::global_add(ctr::ZPOLINE_EXECS, 1);
        ctr::global_add(ctr::ZPOLINE_SITES_PATCHED, table.len() as u64);
        mm.set_zpoline(Zpoline { table, bias });
    }
    let (_, load_end) = img.load_range();
    mm.set_brk_start(page_up(load_end));

    let stack_prot = if img.stack_exec {
        Prot::READ | Prot::WRITE | Prot::EXEC
    } else {
        Prot::READ | Prot::WRITE
    };
    let mut auxv: Vec<(u64, u64)> = img.auxv().to_vec();
    auxv.extend_from_slice(&[
        (stack::AT_PAGESZ, PAGE_SIZE),
        (stack::AT_BASE, 0),
        (stack::AT_FLAGS, 0),
        (stack::AT_UID, creds.uid as u64),
        (stack::AT_EUID, creds.euid as u64),
        (stack::AT_GID, creds.gid as u64),
        (stack::AT_EGID, creds.egid as u64),
        (stack::AT_SECURE, 0),
        (stack::AT_CLKTCK, crate::sched::HZ),
        (stack::AT_HWCAP, crate::arch::cpu::hwcap()),
        (stack::AT_SYSINFO, crate::arch::entry_page::syscall_gate()),
    ]);
    let mut random = [0u8; 16];
    crate::random::get_random_bytes(&mut random);
    let argv_refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let envp_refs: Vec<&[u8]> = envp.iter().map(|a| a.as_slice()).collect();
    let st = build_stack(STACK_TOP, &argv_refs, &envp_refs, &auxv, random, ARG_MAX)
        .map_err(|e| err(e, "arguments too long"))?;
    // The stack area covers the arguments and 128 KiB more (Linux
    // `setup_arg_pages`, `stack_expand`) and grows down on demand up to
    // STACK_MAX (`expand_stack`): fork and exit then walk only the part in use.
    let initial = (page_up(STACK_TOP - st.rsp) + STACK_EXPAND).min(STACK_MAX);
    mm.map_anon(STACK_TOP - initial, STACK_TOP, stack_prot, VmFlags::GROWSDOWN).map_err(oom)?;
    mm.populate(st.rsp, &st.image).map_err(oom)?;

    let mut cmdline = Vec::with_capacity(argv.iter().map(|a| a.len() + 1).sum());
    for a in argv {
        cmdline.extend_from_slice(a);
        cmdline.push(0);
    }
    mm.set_cmdline(cmdline.into());

    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path).to_vec();
    Ok(Program { mm, frame: TrapFrame::new_user(img.entry, st.rsp), name })
}

/// `execve(path, argv, envp)`.
pub fn execve(path: u64, argv: u64, envp: u64, frame: &mut TrapFrame) -> Result<u64, Errno> {
    let path = crate::uaccess::read_cstr(path, ramfs::PATH_MAX - 1)?;
    if path.is_empty() {
        return Err(ENOENT);
    }
    let argv = crate::uaccess::read_cstr_array(argv, MAX_ARG_STRINGS, ARG_MAX)?;
    let envp = crate::uaccess::read_cstr_array(envp, MAX_ARG_STRINGS, ARG_MAX)?;
    let task = crate::process::current().expect("execve without a task");
    let cwd = if path.first() == Some(&b'/') { ROOT_INO } else { task.fs().cwd() };
    let prog = load_program(cwd, &path, &argv, &envp, task.creds()).map_err(|e| e.errno)?;
    // Linux `exec_binprm`: the pid before `de_thread` (a thread's, which
    // becomes the leader's), for the tracepoint.
    let old_pid = task.pid();
    // And as the tracer's namespace sees it (Linux `old_vpid`, the message of
    // PTRACE_EVENT_EXEC).
    let old_vpid = crate::process::ptrace::tracer_of(&task).map(|t| task.pid_nr_ns(t.pid_ns()));
    // The point of no return (Linux `begin_new_exec`): this becomes the only
    // thread of its process. If a group exit or a fatal signal came first,
    // the new image is dropped and the task dies of it on the way out.
    if de_thread(&task).is_err() {
        drop(prog);
        return Err(EAGAIN);
    }
    // The POSIX timers go (Linux `exit_itimers` in `begin_new_exec`); the
    // interval timers stay.
    crate::process::posix_timers::exit_itimers(&task.group);
    // The descriptor table is this process's own (Linux `unshare_files`):
    // close-on-exec closes descriptors for the new image only, not for a
    // process that shares the table (CLONE_FILES).
    {
        let mut files = task.files.lock();
        if Arc::strong_count(&files) > 1 {
            *files = Arc::new(files.duplicate());
        }
    }
    crate::arch::mmu::load_cr3(prog.mm.root());
    let old = task.mm.lock().replace(prog.mm);
    // Linux `exec_mmap`: the old space's high-water RSS stays the process's.
    if let Some(old) = &old {
        crate::process::rusage::leave_mm(&task, old);
    }
    drop(old);
    task.files().close_on_exec();
    task.fs_base.store(0, core::sync::atomic::Ordering::Relaxed);
    crate::arch::cpu::set_fs_base(0);
    task.gs_base.store(0, core::sync::atomic::Ordering::Relaxed);
    crate::arch::cpu::set_user_gs_base(0);
    task.set_comm(&prog.name);
    // Linux `begin_new_exec`: dumpable unless the ids differ.
    {
        let c = task.creds();
        if let Some(mm) = task.mm() {
            mm.dumpable
                .store(c.uid == c.euid && c.gid == c.egid, core::sync::atomic::Ordering::Relaxed);
        }
    }
    // Linux `exec_task_namespaces`: into the time namespace for children.
    let new_ns = task.nsproxy().for_exec();
    if let Some(ns) = new_ns {
        *task.nsproxy.lock() = ns;
    }
    // Linux `cap_bprm_creds_from_file`: in a user namespace other than the
    // initial one, the capabilities survive execve only for its root.
    {
        let user_ns = task.nsproxy().user_ns.clone();
        let mut c = task.creds.lock();
        let root = Some(0);
        if c.userns_caps && user_ns.from_kuid(c.euid) != root && user_ns.from_kuid(c.uid) != root {
            c.userns_caps = false;
        }
    }
    crate::trace_event!(
        SchedProcessExec,
        task.pid(),
        old_pid,
        crate::trace::comm_word(&task.comm, 0),
        crate::trace::comm_word(&task.comm, 1)
    );
    // Handled signals go back to their default action, ignored ones stay
    // ignored (Linux `flush_signal_handlers`), in the process's own table: one
    // still shared with another process (CLONE_SIGHAND without CLONE_THREAD;
    // the other threads are gone) is copied first (Linux `unshare_sighand`).
    // Only this task could share it further, and it is not forking: a count
    // of 2 (its slot and `hand`) means nobody else holds it, and a reader's
    // passing reference only makes the copy unneeded. The alternate stack is
    // gone.
    let hand = task.sighand();
    if alloc::sync::Arc::strong_count(&hand) > 2 {
        let own = alloc::sync::Arc::new(hand.duplicate());
        own.flush_handlers();
        *task.sighand.lock() = own;
    } else {
        hand.flush_handlers();
    }
    drop(hand);
    *task.altstack.lock() = (0, 0, crate::process::signal::SS_DISABLE);
    crate::process::fork::vfork_release(&task);
    *frame = prog.frame;
    if task.ptrace.load(Ordering::Relaxed) != 0 {
        // Linux `exec_binprm`: PTRACE_EVENT_EXEC, or the legacy SIGTRAP.
        let orig_rax = uapi::unistd::__NR_execve as u64;
        let message = u64::from(old_vpid.unwrap_or(0));
        use crate::process::ptrace::{ptrace_event, PTRACE_EVENT_EXEC};
        ptrace_event(&task, PTRACE_EVENT_EXEC, message, Some(frame), orig_rax);
    }
    Ok(0)
}

/// Make `task` the only thread of its process (Linux `de_thread`): every
/// other thread gets SIGKILL and the exec waits until they are gone — released,
/// or for the leader, a zombie. A thread that is not the leader then takes the
/// leader's pid (`exchange_tids`), its place in the parent's children, its
/// process group and session, and the old leader is released without a wait
/// status of its own (its CPU time was added to the process's when it
/// exited). Err: a group exit, a fatal signal or another thread's exec came
/// first, and the task is to die (Linux EAGAIN past the point of no return).
pub fn de_thread(task: &Arc<Task>) -> Result<(), Errno> {
    let group = &task.group;
    // Linux `thread_group_empty`: a leader that exited first is still there,
    // and so is a thread that exited but waits for its tracer to reap it
    // (its `live` count is gone already). Alone, no other thread can appear.
    if !table::thread_group_empty(task) || !task.is_group_leader() {
        {
            let exit = group.exit.lock();
            if exit.is_some() || group.group_exec_task.load(Ordering::Relaxed) != 0 {
                return Err(EAGAIN);
            }
            group.group_exec_task.store(task.pid(), Ordering::Relaxed);
        }
        exit::zap_other_threads(task);
        // Under the task-list lock, which `exit_notify` holds while it releases
        // a thread or makes the leader a zombie, and then wakes `exec_wait`.
        let others_gone = || {
            let _tasklist = table::TASKLIST.lock();
            table::all()
                .iter()
                .filter(|t| t.tgid == task.tgid && t.pid() != task.pid())
                .all(|t| t.is_group_leader() && t.exited.load(Ordering::Acquire))
        };
        if !crate::process::wait_event_killable(Some(&group.exec_wait), others_gone) {
            let _tasklist = table::TASKLIST.lock();
            group.group_exec_task.store(0, Ordering::Relaxed);
            return Err(EAGAIN);
        }
        // The leader stays in the table until its process is reaped, which
        // cannot happen while this thread lives.
        let leader = if task.is_group_leader() { None } else { table::find(task.tgid) };
        if let Some(leader) = leader {
            let tasklist = table::TASKLIST.lock();
            table::exchange_tids(task, &leader);
            // transfer_pid PGID, SID: the process's group and session go
            // with the leadership (their pid uses are counted once, for it).
            task.pgid.store(leader.pgid.load(Ordering::Relaxed), Ordering::Relaxed);
            task.sid.store(leader.sid.load(Ordering::Relaxed), Ordering::Relaxed);
            let ppid = leader.ppid.load(Ordering::Relaxed);
            task.ppid.store(ppid, Ordering::Relaxed);
            // Before the parent's `do_wait` can see this task as its child
            // (as a thread, its exit signal is 0: a "clone" child).
            task.exit_signal.store(SIGCHLD, Ordering::Relaxed);
            // list_replace_init(&leader->sibling, &tsk->sibling).
            if let Some(parent) = table::find(ppid) {
                for c in parent.children.lock().iter_mut() {
                    if Arc::ptr_eq(c, &leader) {
                        *c = task.clone();
                    }
                }
            }
            // A namespace's init that execs from a thread stays its reaper.
            let ns = task.pid_ns();
            if task.is_ns_init() {
                ns.set_child_reaper(task.pid());
            }
            leader.exit_signal.store(0, Ordering::Relaxed);
            table::release(&leader);
            drop(tasklist);
        }
        let _exit = group.exit.lock();
        group.group_exec_task.store(0, Ordering::Relaxed);
    }
    // "We have changed execution domain": the parent hears of this process
    // with SIGCHLD, whatever signal it was cloned with.
    task.exit_signal.store(SIGCHLD, Ordering::Relaxed);
    Ok(())
}
