//! The control mailbox (`protocol::mailbox`): commands the VMM posts, carried
//! out by the kernel thread `kmailboxd` in process context.
//!
//! The doorbell interrupt only wakes `kmailboxd`; everything that takes locks or
//! allocates (the process table, fault injection, counter snapshots) runs in
//! the thread, never in interrupt context.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use protocol::mailbox::{command, word, FaultStage, ProcEntry, PROC_ENTRIES_MAX, REPLY_MAX};

use crate::errno::EINVAL;
use crate::process::task::{Task, EXIT_ZOMBIE, TASK_INTERRUPTIBLE, TASK_RUNNING, TASK_STOPPED};

static KMAILBOXD: spin::Once<Arc<Task>> = spin::Once::new();

/// Start `kmailboxd` (boot, once).
pub fn init() {
    match crate::process::fork::kernel_thread(kmailboxd, 0, b"kmailboxd") {
        Ok(t) => {
            KMAILBOXD.call_once(|| t);
        }
        Err(e) => crate::println!("kernel: cannot start kmailboxd: errno {}", e.0),
    }
}

/// The doorbell rang (interrupt context): wake the thread.
pub fn doorbell() {
    crate::arch::irq::assert_irqs_disabled();
    if let Some(t) = KMAILBOXD.get() {
        crate::sched::wake_up(t);
    }
}

fn load(i: usize) -> u64 {
    crate::arch::mailbox_words()[i].load(Ordering::Acquire)
}

fn store(i: usize, v: u64) {
    crate::arch::mailbox_words()[i].store(v, Ordering::Release);
}

extern "C" fn kmailboxd(_: u64) -> ! {
    let mut answered = load(word::REPLY_SEQ);
    store(word::SERVING, 1);
    loop {
        crate::process::wait_event(None, None, || load(word::SEQ) != answered);
        let seq = load(word::SEQ);
        let cmd = load(word::COMMAND) as u32;
        let args: [u64; 6] = core::array::from_fn(|i| load(word::ARGS + i));
        let (status, reply) = match handle(cmd, args) {
            Ok((status, reply)) => (status, reply),
            Err(e) => (e.to_ret() as i64, Vec::new()),
        };
        for (i, chunk) in reply.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            store(word::REPLY + i, u64::from_le_bytes(w));
        }
        store(word::REPLY_LEN, reply.len() as u64);
        store(word::STATUS, status as u64);
        store(word::REPLY_SEQ, seq);
        answered = seq;
        crate::counters::global_add(crate::counters::MAILBOX_COMMANDS, 1);
        let params = protocol::hypercall::MailboxReply { seq };
        crate::arch::hypercall::hypercall(protocol::hypercall::Hypercall::MailboxReply, &params);
    }
}

/// Carry out one command: its status and reply bytes.
fn handle(cmd: u32, args: [u64; 6]) -> Result<(i64, Vec<u8>), crate::errno::Errno> {
    match cmd {
        command::INJECT_FAULT => {
            let stage = FaultStage::from_index(args[0]).ok_or(EINVAL)?;
            let nth = u32::try_from(args[1]).ok().filter(|&n| n >= 1).ok_or(EINVAL)?;
            crate::fault_inject::arm(stage, nth);
            Ok((0, Vec::new()))
        }
        command::COUNTERS => {
            if args[0] > 1 {
                return Err(EINVAL);
            }
            crate::arch::hypercall::snapshot("mailbox", args[0] == 1)?;
            Ok((0, Vec::new()))
        }
        command::PROCESS_TABLE => {
            let tasks = crate::process::table::all();
            let mut reply = Vec::new();
            for t in tasks.iter().take(PROC_ENTRIES_MAX) {
                reply.extend_from_slice(&proc_entry(t).encode());
            }
            debug_assert!(reply.len() <= REPLY_MAX);
            Ok((tasks.len().min(PROC_ENTRIES_MAX) as i64, reply))
        }
        command::SHUTDOWN => {
            let status = u8::try_from(args[0]).map_err(|_| EINVAL)?;
            crate::println!("kernel: shutdown requested by the VMM (status {status})");
            crate::kernel::exit(status)
        }
        _ => Err(EINVAL),
    }
}

/// `ProcEntry::sched`: where the scheduler has the task.
fn sched_bits(t: &Task) -> u8 {
    use protocol::mailbox::{SCHED_NEED_RESCHED, SCHED_ON_CPU, SCHED_ON_RQ};
    let bit = |on: bool, b: u8| if on { b } else { 0 };
    bit(t.on_rq.load(Ordering::Relaxed), SCHED_ON_RQ)
        | bit(t.se.on_cpu.load(Ordering::Relaxed), SCHED_ON_CPU)
        | bit(t.need_resched.load(Ordering::Relaxed), SCHED_NEED_RESCHED)
}

fn proc_entry(t: &Task) -> ProcEntry {
    let state = match t.state.load(Ordering::Relaxed) {
        TASK_RUNNING => b'R',
        TASK_INTERRUPTIBLE => b'S',
        EXIT_ZOMBIE => b'Z',
        TASK_STOPPED => b'T',
        crate::sched::TASK_TRACED => b't',
        _ => b'D',
    };
    let group = t.group.jobctl.try_lock().map(|g| *g);
    ProcEntry {
        pid: t.pid() as i32,
        tgid: t.tgid as i32,
        ppid: t.ppid.load(Ordering::Relaxed) as i32,
        pgid: t.pgid.load(Ordering::Relaxed) as i32,
        sid: t.sid.load(Ordering::Relaxed) as i32,
        uid: t.creds().uid,
        state,
        kthread: t.kthread as u8,
        sched: sched_bits(t),
        cpu: t.cpu.load(Ordering::Relaxed),
        policy: t.se.policy.load(Ordering::Relaxed),
        nice: t.se.nice.load(Ordering::Relaxed),
        comm: *t.comm.lock(),
        pending: t.pending.load(Ordering::Relaxed),
        shared_pending: t.group.shared_pending.load(Ordering::Relaxed),
        blocked: t.blocked.load(Ordering::Relaxed),
        jobctl: t.jobctl.load(Ordering::Relaxed),
        // Read without waiting: the table must come out even when a hung
        // task holds the lock.
        group_flags: group.map_or(u32::MAX, |g| g.flags),
        group_stop_count: group.map_or(u32::MAX, |g| g.group_stop_count),
        fatal_signal: t.fatal_signal.load(Ordering::Relaxed),
        syscall: if t.kthread { -1 } else { t.syscall_restart.nr() as i32 },
        live: t.group.live.load(Ordering::Relaxed),
        ..Default::default()
    }
}
