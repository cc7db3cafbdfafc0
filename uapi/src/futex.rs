//! `futex` operations and flags (`include/uapi/linux/futex.h`).

crate::constants! {
    /// Sleep while the word holds the value.
    FUTEX_WAIT: u32 = 0;
    /// Wake up to N waiters.
    FUTEX_WAKE: u32 = 1;
    /// Wake and requeue.
    FUTEX_REQUEUE: u32 = 3;
    /// Wake and requeue if the word holds the value.
    FUTEX_CMP_REQUEUE: u32 = 4;
    /// `FUTEX_WAIT` with a bitset and an absolute timeout.
    FUTEX_WAIT_BITSET: u32 = 9;
    /// `FUTEX_WAKE` of the waiters whose bitset intersects.
    FUTEX_WAKE_BITSET: u32 = 10;
    /// The futex is private to the process (OR-ed into the op).
    FUTEX_PRIVATE_FLAG: u32 = 128;
    /// The timeout is on `CLOCK_REALTIME` (OR-ed into the op).
    FUTEX_CLOCK_REALTIME: u32 = 256;
    /// The mask of the command in the op.
    FUTEX_CMD_MASK: u32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    /// The bitset that matches every waiter.
    FUTEX_BITSET_MATCH_ANY: u32 = 0xffff_ffff;
}
