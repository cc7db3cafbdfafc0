//! Copying the protocol's `#[repr(C)]` structs to and from guest memory.

use protocol::counters::CounterPage;
use protocol::hypercall::{
    BulkMem, BulkOp, ConsoleWrite, ExceptionReport, Exit, MailboxReply, PanicReport, PvKick,
    PvWait, Ready, Snapshot, StartCpus,
};
use protocol::mailbox::{Mailbox, ProcEntry};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Plain data: `#[repr(C)]`, integer fields only, so any bytes are a valid value.
///
/// # Safety
/// Implement only for types for which every bit pattern is valid.
pub unsafe trait Pod: Copy {}
// SAFETY: each of these is a #[repr(C)] struct (or array) of integers in the
// protocol crate; MemoryKind in BootInfo is only ever written, never read back here.
unsafe impl Pod for ConsoleWrite {}
// SAFETY: as above.
unsafe impl Pod for Exit {}
// SAFETY: as above.
unsafe impl Pod for ExceptionReport {}
// SAFETY: as above.
unsafe impl Pod for PanicReport {}
// SAFETY: as above.
unsafe impl Pod for StartCpus {}
// SAFETY: as above.
unsafe impl Pod for Ready {}
// SAFETY: as above.
unsafe impl Pod for Snapshot {}
// SAFETY: as above.
unsafe impl Pod for MailboxReply {}
// SAFETY: as above.
unsafe impl Pod for BulkMem {}
// SAFETY: as above.
unsafe impl Pod for BulkOp {}
// SAFETY: as above.
unsafe impl Pod for PvWait {}
// SAFETY: as above.
unsafe impl Pod for PvKick {}
// SAFETY: as above.
unsafe impl Pod for Mailbox {}
// SAFETY: as above.
unsafe impl Pod for ProcEntry {}
// SAFETY: as above.
unsafe impl Pod for CounterPage {}
// SAFETY: as above.
unsafe impl Pod for [u64; 512] {}
// SAFETY: as above.
unsafe impl Pod for [u64; protocol::boot::selectors::GDT_ENTRIES] {}

/// Bytes of a value, for writing it. BootInfo is written only (it has an enum).
pub fn bytes_of<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: any initialised value can be viewed as bytes for its size; the
    // protocol structs are #[repr(C)] with explicit padding fields, so no byte is
    // uninitialised.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

/// Write a protocol struct (or BootInfo) at `gpa`.
pub fn write<T: Copy>(
    mem: &GuestMemoryMmap,
    gpa: u64,
    v: &T,
) -> Result<(), vm_memory::GuestMemoryError> {
    mem.write_slice(bytes_of(v), GuestAddress(gpa))
}

/// Read a plain-data struct at `gpa`.
pub fn read<T: Pod>(mem: &GuestMemoryMmap, gpa: u64) -> Result<T, vm_memory::GuestMemoryError> {
    let mut bytes = vec![0u8; std::mem::size_of::<T>()];
    mem.read_slice(&mut bytes, GuestAddress(gpa))?;
    // SAFETY: `bytes` holds size_of::<T>() bytes and T is Pod (any bytes are valid).
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const T) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::mailbox::PROC_ENTRY_SIZE;

    /// `ProcEntry::encode` (what the guest writes without `unsafe`) lays the
    /// fields out exactly as `#[repr(C)]` does, and `decode` reads them back.
    #[test]
    fn proc_entry_encoding_is_its_memory_layout() {
        let e = ProcEntry {
            pid: 1,
            tgid: -2,
            ppid: 3,
            pgid: 4,
            sid: 5,
            uid: 6,
            state: b'T',
            kthread: 1,
            sched: 5,
            _pad: 0,
            cpu: 7,
            policy: 8,
            nice: -9,
            comm: *b"a-name-of-16-by!",
            pending: 0x1122_3344_5566_7788,
            shared_pending: 0x99aa_bbcc_ddee_ff00,
            blocked: u64::MAX - 1,
            jobctl: 1 << 26 | 19,
            group_flags: u32::MAX,
            group_stop_count: 10,
            fatal_signal: 9,
            syscall: -1,
            live: 3,
        };
        let bytes = e.encode();
        assert_eq!(&bytes[..], bytes_of(&e));
        assert_eq!(ProcEntry::decode(&bytes), e);
        assert_eq!(bytes.len(), PROC_ENTRY_SIZE);
    }
}
