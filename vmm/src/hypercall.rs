//! The hypercall dispatcher: validates a call completely before acting on it.
//!
//! Pure with respect to the vCPU: it reads guest memory and returns the status to
//! put in the caller's slot and the effect for the VMM to apply. The order of the
//! checks is part of the ABI (see `protocol::hypercall`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use protocol::errno::{E2BIG, EBUSY, EFAULT, EINVAL, ENOSPC};
use protocol::hypercall::{
    BulkMem, ConsoleWrite, ExceptionReport, Exit, Hypercall, MailboxReply, PanicReport, PvKick,
    PvWait, Ready, Snapshot, StartCpus, CONSOLE_MAX, LABEL_MAX, PANIC_MAX, PARAM_ALIGN,
    SNAPSHOTS_MAX,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use crate::pod::Pod;

/// What a valid hypercall asks the VMM to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    None,
    /// Bytes for a console stream (`protocol::hypercall::stream`).
    Console(u32, Vec<u8>),
    Exit(u8),
    Exception(ExceptionReport),
    Panic {
        cpu: u32,
        message: String,
    },
    StartCpus,
    Ready {
        cpus_online: u64,
    },
    /// Record the counters and KVM's statistics under `label`.
    Snapshot {
        label: String,
        guest_tsc: u64,
        reset: bool,
    },
    /// The guest answered mailbox command `seq`.
    MailboxReply {
        seq: u64,
    },
    /// Block the caller while the lock word at `lock` holds `val`
    /// (`pvlock::PvLocks::wait`).
    PvWait {
        lock: u64,
        val: u32,
    },
    /// Wake one vCPU waiting on the lock word at `lock`.
    PvKick {
        lock: u64,
    },
}

/// VM-wide state some calls check.
#[derive(Debug, Default)]
pub struct Context {
    cpu_count: u32,
    cpus_started: AtomicBool,
    ready: AtomicBool,
    /// Snapshots accepted so far.
    snapshots: AtomicU64,
    /// `BulkMem` never writes below this address: the boot structures, the
    /// boot page tables and the kernel image end here.
    bulk_floor: u64,
}

impl Context {
    /// `kernel_end`: the end of the kernel image (`BulkMem`'s floor).
    pub fn new(cpu_count: u32, kernel_end: u64) -> Self {
        Self { cpu_count, bulk_floor: kernel_end, ..Default::default() }
    }
}

fn read_param<T: Pod>(mem: &GuestMemoryMmap, gpa: u64) -> Result<T, i64> {
    crate::pod::read(mem, gpa).map_err(|_| -EFAULT)
}

/// Bytes `[addr, addr + len)` of guest memory, or `-EFAULT`. Callers bound `len`
/// (`CONSOLE_MAX`, `PANIC_MAX`, `LABEL_MAX`) first; `read_slice` fails unless the
/// whole range, which must not wrap, is guest memory.
fn read_bytes(mem: &GuestMemoryMmap, addr: u64, len: u64) -> Result<Vec<u8>, i64> {
    let mut buf = vec![0u8; len as usize];
    mem.read_slice(&mut buf, GuestAddress(addr)).map_err(|_| -EFAULT)?;
    Ok(buf)
}

/// A pv lock word: 4-byte aligned (`EINVAL`), in guest memory (`EFAULT`).
fn lock_word(mem: &GuestMemoryMmap, addr: u64) -> Result<(), i64> {
    if !addr.is_multiple_of(4) {
        return Err(-EINVAL);
    }
    if !mem.check_range(GuestAddress(addr), 4) {
        return Err(-EFAULT);
    }
    Ok(())
}

/// Handle `call` whose parameters are at guest-physical `gpa`.
/// Returns the status for the caller (`>= 0` or `-errno`) and the effect.
pub fn handle(call: Hypercall, gpa: u64, mem: &GuestMemoryMmap, ctx: &Context) -> (i64, Effect) {
    match dispatch(call, gpa, mem, ctx) {
        Ok((status, effect)) => (status, effect),
        Err(errno) => (errno, Effect::None),
    }
}

fn dispatch(
    call: Hypercall,
    gpa: u64,
    mem: &GuestMemoryMmap,
    ctx: &Context,
) -> Result<(i64, Effect), i64> {
    if !gpa.is_multiple_of(PARAM_ALIGN) {
        return Err(-EINVAL);
    }
    if !mem.check_range(GuestAddress(gpa), call.param_size()) {
        return Err(-EFAULT);
    }
    match call {
        Hypercall::Console => {
            let p: ConsoleWrite = read_param(mem, gpa)?;
            if p.len > CONSOLE_MAX {
                return Err(-E2BIG);
            }
            let bytes = read_bytes(mem, p.buf, p.len)?;
            if p.stream > protocol::hypercall::stream::STDERR {
                return Err(-EINVAL);
            }
            Ok((p.len as i64, Effect::Console(p.stream, bytes)))
        }
        Hypercall::Exit => {
            let p: Exit = read_param(mem, gpa)?;
            let status = u8::try_from(p.status).map_err(|_| -EINVAL)?;
            Ok((0, Effect::Exit(status)))
        }
        Hypercall::Exception => {
            let p: ExceptionReport = read_param(mem, gpa)?;
            if p.cpu >= ctx.cpu_count || p.vector > 255 {
                return Err(-EINVAL);
            }
            Ok((0, Effect::Exception(p)))
        }
        Hypercall::Panic => {
            let p: PanicReport = read_param(mem, gpa)?;
            if p.len > PANIC_MAX {
                return Err(-E2BIG);
            }
            let msg = read_bytes(mem, p.msg, p.len)?;
            if p.cpu >= ctx.cpu_count {
                return Err(-EINVAL);
            }
            Ok((
                0,
                Effect::Panic { cpu: p.cpu, message: String::from_utf8_lossy(&msg).into_owned() },
            ))
        }
        Hypercall::StartCpus => {
            let _: StartCpus = read_param(mem, gpa)?;
            if ctx.cpus_started.swap(true, Ordering::AcqRel) {
                return Err(-EBUSY);
            }
            Ok((0, Effect::StartCpus))
        }
        Hypercall::Ready => {
            let p: Ready = read_param(mem, gpa)?;
            if ctx.ready.swap(true, Ordering::AcqRel) {
                return Err(-EBUSY);
            }
            Ok((0, Effect::Ready { cpus_online: p.cpus_online }))
        }
        Hypercall::Snapshot => {
            let p: Snapshot = read_param(mem, gpa)?;
            if p.len > LABEL_MAX {
                return Err(-E2BIG);
            }
            let label = read_bytes(mem, p.label, p.len)?;
            let label = String::from_utf8(label).map_err(|_| -EINVAL)?;
            if p.reset > 1 {
                return Err(-EINVAL);
            }
            if ctx.snapshots.fetch_add(1, Ordering::AcqRel) >= SNAPSHOTS_MAX {
                return Err(-ENOSPC);
            }
            Ok((0, Effect::Snapshot { label, guest_tsc: p.tsc, reset: p.reset == 1 }))
        }
        Hypercall::MailboxReply => {
            let p: MailboxReply = read_param(mem, gpa)?;
            Ok((0, Effect::MailboxReply { seq: p.seq }))
        }
        Hypercall::BulkMem => {
            let p: BulkMem = read_param(mem, gpa)?;
            Ok((crate::bulkmem::handle(mem, &p, ctx.bulk_floor)?, Effect::None))
        }
        Hypercall::PvWait => {
            let p: PvWait = read_param(mem, gpa)?;
            lock_word(mem, p.lock)?;
            Ok((0, Effect::PvWait { lock: p.lock, val: p.val }))
        }
        Hypercall::PvKick => {
            let p: PvKick = read_param(mem, gpa)?;
            lock_word(mem, p.lock)?;
            Ok((0, Effect::PvKick { lock: p.lock }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::errno::ENOSYS;

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap()
    }

    fn ctx() -> Context {
        Context::new(2, 0x10_0000)
    }

    fn put<T: Copy>(m: &GuestMemoryMmap, gpa: u64, v: T) {
        crate::pod::write(m, gpa, &v).unwrap();
    }

    #[test]
    fn console_write_reads_the_buffer() {
        let m = mem();
        m.write_slice(b"hello", GuestAddress(0x2000)).unwrap();
        put(&m, 0x1000, ConsoleWrite { buf: 0x2000, len: 5, stream: 1, _pad: 0 });
        assert_eq!(
            handle(Hypercall::Console, 0x1000, &m, &ctx()),
            (5, Effect::Console(1, b"hello".to_vec()))
        );
        put(&m, 0x1000, ConsoleWrite { buf: 0x2000, len: 5, stream: 3, _pad: 0 });
        assert_eq!(handle(Hypercall::Console, 0x1000, &m, &ctx()).0, -EINVAL, "no stream 3");
    }

    #[test]
    fn malformed_calls_get_their_errno() {
        let m = mem();
        let c = ctx();
        assert_eq!(handle(Hypercall::Exit, 0x1001, &m, &c).0, -EINVAL, "misaligned");
        assert_eq!(handle(Hypercall::Exit, 1 << 20, &m, &c).0, -EFAULT, "outside memory");
        assert_eq!(
            handle(Hypercall::Console, (1 << 20) - 8, &m, &c).0,
            -EFAULT,
            "straddles the end"
        );
        put(&m, 0x1000, ConsoleWrite { buf: u64::MAX - 2, len: 8, ..Default::default() });
        assert_eq!(handle(Hypercall::Console, 0x1000, &m, &c).0, -EFAULT, "wrapping buffer");
        put(&m, 0x1000, ConsoleWrite { buf: (1 << 20) - 2, len: 3, ..Default::default() });
        assert_eq!(handle(Hypercall::Console, 0x1000, &m, &c).0, -EFAULT, "buffer past the end");
        put(&m, 0x1000, ConsoleWrite { buf: (1 << 20) - 2, len: 2, ..Default::default() });
        assert_eq!(handle(Hypercall::Console, 0x1000, &m, &c).0, 2, "buffer ending at the end");
        put(&m, 0x1000, ConsoleWrite { buf: 0, len: CONSOLE_MAX + 1, ..Default::default() });
        assert_eq!(handle(Hypercall::Console, 0x1000, &m, &c).0, -E2BIG);
        put(&m, 0x1000, Exit { status: 256, _pad: 0 });
        assert_eq!(handle(Hypercall::Exit, 0x1000, &m, &c).0, -EINVAL);
        put(&m, 0x1000, ExceptionReport { cpu: 2, ..Default::default() });
        assert_eq!(handle(Hypercall::Exception, 0x1000, &m, &c).0, -EINVAL);
        put(&m, 0x1000, PanicReport { cpu: 0, _pad: 0, msg: 0x2000, len: PANIC_MAX + 1 });
        assert_eq!(handle(Hypercall::Panic, 0x1000, &m, &c).0, -E2BIG);
        assert_eq!(handle(Hypercall::StartCpus, 0x1000, &m, &c).0, 0);
        assert_eq!(handle(Hypercall::StartCpus, 0x1000, &m, &c).0, -EBUSY);
        let _ = ENOSYS;
    }

    #[test]
    fn pv_lock_words_are_aligned_guest_memory() {
        let m = mem();
        let c = ctx();
        put(&m, 0x1000, PvWait { lock: 0x2004, val: 2, _pad: 0 });
        assert_eq!(
            handle(Hypercall::PvWait, 0x1000, &m, &c),
            (0, Effect::PvWait { lock: 0x2004, val: 2 })
        );
        put(&m, 0x1000, PvWait { lock: 0x2002, val: 2, _pad: 0 });
        assert_eq!(handle(Hypercall::PvWait, 0x1000, &m, &c).0, -EINVAL, "misaligned word");
        put(&m, 0x1000, PvWait { lock: (1 << 20) - 2, val: 2, _pad: 0 });
        assert_eq!(handle(Hypercall::PvWait, 0x1000, &m, &c).0, -EINVAL);
        put(&m, 0x1000, PvWait { lock: 1 << 20, val: 2, _pad: 0 });
        assert_eq!(handle(Hypercall::PvWait, 0x1000, &m, &c).0, -EFAULT, "outside memory");
        put(&m, 0x1000, PvKick { lock: 0x2004 });
        assert_eq!(handle(Hypercall::PvKick, 0x1000, &m, &c), (0, Effect::PvKick { lock: 0x2004 }));
        put(&m, 0x1000, PvKick { lock: (1 << 20) - 4 });
        assert_eq!(handle(Hypercall::PvKick, 0x1000, &m, &c).0, 0, "the last word");
        put(&m, 0x1000, PvKick { lock: u64::MAX - 3 });
        assert_eq!(handle(Hypercall::PvKick, 0x1000, &m, &c).0, -EFAULT);
    }

    #[test]
    fn snapshots_are_validated_and_bounded() {
        let m = mem();
        let c = ctx();
        m.write_slice(b"label", GuestAddress(0x2000)).unwrap();
        let snap = |len, reset| Snapshot { label: 0x2000, len, tsc: 7, reset, _pad: 0 };
        put(&m, 0x1000, snap(5, 1));
        assert_eq!(
            handle(Hypercall::Snapshot, 0x1000, &m, &c),
            (0, Effect::Snapshot { label: "label".into(), guest_tsc: 7, reset: true })
        );
        put(&m, 0x1000, snap(LABEL_MAX + 1, 0));
        assert_eq!(handle(Hypercall::Snapshot, 0x1000, &m, &c).0, -E2BIG);
        put(&m, 0x1000, snap(5, 2));
        assert_eq!(handle(Hypercall::Snapshot, 0x1000, &m, &c).0, -EINVAL);
        m.write_slice(&[0xff], GuestAddress(0x2000)).unwrap();
        put(&m, 0x1000, snap(5, 0));
        assert_eq!(handle(Hypercall::Snapshot, 0x1000, &m, &c).0, -EINVAL, "not UTF-8");
        m.write_slice(b"l", GuestAddress(0x2000)).unwrap();
        c.snapshots.store(SNAPSHOTS_MAX, Ordering::Relaxed);
        assert_eq!(handle(Hypercall::Snapshot, 0x1000, &m, &c).0, -ENOSPC);
        put(&m, 0x1000, MailboxReply { seq: 3 });
        assert_eq!(
            handle(Hypercall::MailboxReply, 0x1000, &m, &c),
            (0, Effect::MailboxReply { seq: 3 })
        );
    }

    #[test]
    fn random_parameters_never_panic_and_never_act_on_bad_input() {
        let m = mem();
        let c = ctx();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let calls = [Hypercall::Console, Hypercall::Exit, Hypercall::Exception, Hypercall::Panic];
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let gpa = if i % 2 == 0 { x % (2 << 20) } else { x & !7 & 0xf_ffff };
            let words: [u64; 4] = [x, x.rotate_left(17), x >> (x % 64), x.rotate_right(5) % 4096];
            if gpa % 8 == 0 && gpa + 32 <= 1 << 20 {
                put(&m, gpa, words);
            }
            let call = calls[(x % 4) as usize];
            let (status, effect) = handle(call, gpa, &m, &c);
            if status < 0 {
                assert_eq!(effect, Effect::None);
            }
        }
    }
}
