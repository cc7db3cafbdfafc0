//! Posting commands to the guest's control mailbox (`protocol::mailbox`): write
//! the command, bump the sequence number, ring the doorbell with an MSI, and wait
//! for the guest's `MailboxReply` hypercall. Never polls guest memory.

use std::mem::offset_of;
use std::sync::Mutex;
use std::time::Duration;

use kvm_bindings::kvm_msi;
use kvm_ioctls::VmFd;
use protocol::boot::MAILBOX_GPA;
use protocol::mailbox::{command, Mailbox, ProcEntry, FAULT_STAGES, PROC_ENTRY_SIZE};
use vm_memory::{Bytes, GuestAddress};

use crate::error::{Error, Result};
use crate::machine::Shared;
use crate::report::Snapshot;

/// A command for the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Make the `nth` reach (from now) of `copy_process` stage `stage` fail, as
    /// `--fail-at STAGE:N` does at boot. Stages: [`FAULT_STAGES`].
    InjectFault { stage: String, nth: u32 },
    /// Snapshot the counters and KVM's statistics (and reset the guest's event
    /// counters afterwards if `reset`).
    Counters { reset: bool },
    /// The guest's task table.
    ProcessTable,
    /// Shut the guest down with this exit status (no reply: the VM ends).
    Shutdown(u8),
}

/// The guest's answer.
#[derive(Clone, Debug)]
pub enum Reply {
    Done,
    Counters(Box<Snapshot>),
    Processes(Vec<ProcEntry>),
}

/// How long a command may take the guest (its kernel thread runs in ring 0 at
/// emulation speed here, and may wait for a CPU).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

fn field(offset: usize) -> GuestAddress {
    GuestAddress(MAILBOX_GPA + offset as u64)
}

/// The VMM's side of the mailbox (its outbox): one command outstanding at a time.
#[derive(Debug, Default)]
pub struct Outbox {
    /// The sequence number of the last command posted (held while posting).
    last_posted: Mutex<u64>,
}

impl Outbox {
    /// Post `cmd` and wait for its reply (up to [`REPLY_TIMEOUT`]).
    pub fn post(&self, shared: &Shared, cmd: &Command) -> Result<Reply> {
        self.post_within(shared, cmd, REPLY_TIMEOUT)
    }

    /// Whether the guest's `kmailboxd` has started (it answers commands).
    pub fn serving(&self, shared: &Shared) -> bool {
        shared.vm().memory().read_obj::<u64>(field(offset_of!(Mailbox, serving))).unwrap_or(0) == 1
    }

    /// Post `cmd` and wait up to `timeout` for its reply.
    pub fn post_within(&self, shared: &Shared, cmd: &Command, timeout: Duration) -> Result<Reply> {
        let fail = |what: String| Error::Mailbox(what);
        let (code, args) = match cmd {
            Command::InjectFault { stage, nth } => {
                let i = FAULT_STAGES.iter().position(|s| s == stage).ok_or_else(|| {
                    fail(format!("unknown copy_process stage {stage:?}; one of {FAULT_STAGES:?}"))
                })?;
                if *nth == 0 {
                    return Err(fail("fault injection counts reaches from 1".into()));
                }
                (command::INJECT_FAULT, [i as u64, *nth as u64])
            }
            Command::Counters { reset } => (command::COUNTERS, [*reset as u64, 0]),
            Command::ProcessTable => (command::PROCESS_TABLE, [0, 0]),
            Command::Shutdown(status) => (command::SHUTDOWN, [*status as u64, 0]),
        };
        let mut last = self.last_posted.lock().unwrap();
        let seq = *last + 1;
        let mem = shared.vm().memory();
        let write = |off: usize, v: u64| {
            mem.write_obj(v, field(off)).map_err(|e| fail(format!("writing the mailbox: {e}")))
        };
        write(offset_of!(Mailbox, command), code as u64)?;
        for (i, a) in args.iter().enumerate() {
            write(offset_of!(Mailbox, args) + 8 * i, *a)?;
        }
        let snapshots_before = shared.snapshot_count();
        write(offset_of!(Mailbox, seq), seq)?;
        *last = seq;
        ring(shared.vm().fd())?;
        if let Command::Shutdown(_) = cmd {
            return Ok(Reply::Done);
        }
        if !shared.wait_mailbox(seq, timeout) {
            return Err(fail(match shared.end() {
                Some(end) => format!("the guest ended before answering ({end:?})"),
                None => format!("no reply within {timeout:?}"),
            }));
        }
        let read = |off: usize| -> Result<u64> {
            mem.read_obj(field(off)).map_err(|e| fail(format!("reading the mailbox: {e}")))
        };
        let status = read(offset_of!(Mailbox, status))? as i64;
        if status < 0 {
            return Err(fail(format!("the guest refused the command: errno {}", -status)));
        }
        Ok(match cmd {
            Command::ProcessTable => {
                let len = (read(offset_of!(Mailbox, reply_len))? as usize)
                    .min(protocol::mailbox::REPLY_MAX);
                let mut bytes = vec![0u8; len];
                mem.read_slice(&mut bytes, field(offset_of!(Mailbox, reply)))
                    .map_err(|e| fail(format!("reading the reply: {e}")))?;
                let entries = bytes
                    .chunks_exact(PROC_ENTRY_SIZE)
                    .map(|c| ProcEntry::decode(c.try_into().expect("chunks_exact")))
                    .take(status as usize)
                    .collect();
                Reply::Processes(entries)
            }
            Command::Counters { .. } => {
                let snap = shared
                    .last_snapshot_since(snapshots_before, "mailbox")
                    .ok_or_else(|| fail("the guest answered without a snapshot".into()))?;
                Reply::Counters(Box::new(snap))
            }
            _ => Reply::Done,
        })
    }
}

/// Raise the mailbox vector on CPU 0 (fixed delivery, physical destination 0).
fn ring(vm: &VmFd) -> Result<()> {
    let msi = kvm_msi {
        address_lo: 0xfee0_0000,
        address_hi: 0,
        data: protocol::mailbox::MAILBOX_VECTOR as u32,
        ..Default::default()
    };
    vm.signal_msi(msi)
        .map(|_| ())
        .map_err(Error::kvm("ringing the mailbox doorbell (KVM_SIGNAL_MSI)"))
}
