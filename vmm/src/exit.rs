//! The exit dispatcher: what to do about each kind of vCPU exit.
//!
//! A pure function from a description of the exit to an action, so that every
//! path is unit-tested without KVM. The vCPU loop (`vcpu.rs`) performs the action.

use protocol::hypercall::Hypercall;

/// An exit, reduced to what the decision needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit<'a> {
    IoOut {
        port: u16,
        data: &'a [u8],
    },
    IoIn {
        port: u16,
        size: usize,
    },
    MmioRead {
        addr: u64,
        size: usize,
    },
    MmioWrite {
        addr: u64,
    },
    Hlt,
    Shutdown,
    FailEntry {
        reason: u64,
    },
    InternalError {
        suberror: u32,
    },
    SystemEvent {
        kind: u32,
    },
    /// KVM_RUN returned EINTR (a signal, or `immediate_exit`).
    Interrupted,
    Other(&'static str),
}

/// Reasons a vCPU's exit counts are kept under.
pub const EXIT_REASONS: [&str; 10] = [
    "io_out",
    "io_in",
    "mmio_read",
    "mmio_write",
    "hlt",
    "shutdown",
    "fail_entry",
    "internal_error",
    "interrupted",
    "other",
];

impl Exit<'_> {
    /// Index into [`EXIT_REASONS`].
    pub fn reason_index(&self) -> usize {
        match self {
            Exit::IoOut { .. } => 0,
            Exit::IoIn { .. } => 1,
            Exit::MmioRead { .. } => 2,
            Exit::MmioWrite { .. } => 3,
            Exit::Hlt => 4,
            Exit::Shutdown => 5,
            Exit::FailEntry { .. } => 6,
            Exit::InternalError { .. } => 7,
            Exit::Interrupted => 8,
            Exit::SystemEvent { .. } | Exit::Other(_) => 9,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do; run the vCPU again.
    Resume,
    /// A well-formed hypercall (port known, 32-bit access): handle it.
    Hypercall { call: Hypercall, gpa: u64 },
    /// A malformed hypercall: answer `-errno` in the caller's status slot.
    Reject { errno: i64 },
    /// Answer an `in` or MMIO read with this byte repeated (no device there).
    Fill(u8),
    /// Check whether the VM is stopping; otherwise resume.
    CheckStop,
    /// The VM cannot go on.
    Crash(String),
}

pub fn dispatch(exit: &Exit) -> Action {
    match *exit {
        Exit::IoOut { port, data } if Hypercall::in_range(port) => {
            if data.len() != 4 {
                return Action::Reject { errno: protocol::errno::EINVAL };
            }
            match Hypercall::from_port(port) {
                Some(call) => {
                    let gpa = u32::from_le_bytes(data.try_into().unwrap()) as u64;
                    Action::Hypercall { call, gpa }
                }
                None => Action::Reject { errno: protocol::errno::ENOSYS },
            }
        }
        // Ports with no device: writes are dropped, reads float high.
        Exit::IoOut { .. } | Exit::MmioWrite { .. } => Action::Resume,
        Exit::IoIn { .. } => Action::Fill(0xff),
        Exit::MmioRead { .. } => Action::Fill(0xff),
        Exit::Interrupted => Action::CheckStop,
        // With the in-kernel irqchip KVM handles hlt itself; seeing it means the
        // guest halted in a way that cannot wake.
        Exit::Hlt => Action::Crash("vCPU halted outside the in-kernel irqchip".into()),
        Exit::Shutdown => Action::Crash("triple fault (shutdown)".into()),
        Exit::FailEntry { reason } => Action::Crash(format!(
            "KVM could not enter the guest (hardware entry failure reason {reason:#x})"
        )),
        Exit::InternalError { suberror } => Action::Crash(format!(
            "KVM internal error, suberror {suberror}{}",
            if suberror == 1 { " (instruction emulation failed)" } else { "" }
        )),
        Exit::SystemEvent { kind } => {
            Action::Crash(format!("system event {kind} (reset or shutdown request)"))
        }
        Exit::Other(what) => Action::Crash(format!("unexpected exit: {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::hypercall::PORT_BASE;

    #[test]
    fn hypercalls_by_port_and_width() {
        let gpa = 0x1234_5678u32.to_le_bytes();
        assert_eq!(
            dispatch(&Exit::IoOut { port: Hypercall::Console as u16, data: &gpa }),
            Action::Hypercall { call: Hypercall::Console, gpa: 0x1234_5678 }
        );
        assert_eq!(
            dispatch(&Exit::IoOut { port: Hypercall::Exit as u16, data: &[1] }),
            Action::Reject { errno: protocol::errno::EINVAL }
        );
        assert_eq!(
            dispatch(&Exit::IoOut { port: PORT_BASE + 0x3f, data: &gpa }),
            Action::Reject { errno: protocol::errno::ENOSYS }
        );
        assert_eq!(dispatch(&Exit::IoOut { port: 0x80, data: &[0] }), Action::Resume);
    }

    #[test]
    fn devices_that_do_not_exist() {
        assert_eq!(dispatch(&Exit::IoIn { port: 0x3f8, size: 1 }), Action::Fill(0xff));
        assert_eq!(dispatch(&Exit::MmioRead { addr: 0xd000_0000, size: 4 }), Action::Fill(0xff));
        assert_eq!(dispatch(&Exit::MmioWrite { addr: 0xd000_0000 }), Action::Resume);
    }

    #[test]
    fn fatal_exits_say_why() {
        for (exit, text) in [
            (Exit::Shutdown, "triple fault"),
            (Exit::InternalError { suberror: 1 }, "emulation failed"),
            (Exit::FailEntry { reason: 0x21 }, "0x21"),
            (Exit::Hlt, "halted"),
            (Exit::Other("KVM_EXIT_DEBUG"), "KVM_EXIT_DEBUG"),
        ] {
            match dispatch(&exit) {
                Action::Crash(msg) => assert!(msg.contains(text), "{msg}"),
                a => panic!("{exit:?} gave {a:?}"),
            }
            assert!(exit.reason_index() < EXIT_REASONS.len());
        }
        assert_eq!(dispatch(&Exit::Interrupted), Action::CheckStop);
    }
}
