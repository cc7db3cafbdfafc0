//! `poll` events and `struct pollfd` (`include/uapi/asm-generic/poll.h`).
//! The events are `i16`: they live in `pollfd`'s `short` fields.

crate::constants! {
    /// There is data to read.
    POLLIN: i16 = 0x001;
    /// There is urgent data to read.
    POLLPRI: i16 = 0x002;
    /// Writing now would not block.
    POLLOUT: i16 = 0x004;
    /// An error condition (always reported).
    POLLERR: i16 = 0x008;
    /// Hung up: the other end closed (always reported).
    POLLHUP: i16 = 0x010;
    /// The descriptor is not open (always reported).
    POLLNVAL: i16 = 0x020;
    /// Normal data to read.
    POLLRDNORM: i16 = 0x040;
    /// Priority band data to read.
    POLLRDBAND: i16 = 0x080;
    /// Normal data may be written.
    POLLWRNORM: i16 = 0x100;
    /// Priority band data may be written.
    POLLWRBAND: i16 = 0x200;
}

/// `struct pollfd`: one descriptor of a `poll` call.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct pollfd {
    /// The descriptor (a negative one is skipped).
    pub fd: i32,
    /// The events asked for.
    pub events: i16,
    /// The events that happened (written by the kernel).
    pub revents: i16,
}

const _: () = assert!(core::mem::size_of::<pollfd>() == 8);
