//! The exit dispatcher: what to do about each kind of vCPU exit.
//!
//! Pure functions, so that every path is unit-tested without KVM: [`handle`] takes
//! what `KVM_RUN` returned, names the exit ([`Exit`], counted under one of
//! [`EXIT_REASONS`]), answers an `in` or MMIO read, and says what the vCPU thread
//! does next ([`Action`], decided by [`dispatch`]). The vCPU loop (`vcpu.rs`)
//! performs the action.

use kvm_ioctls::VcpuExit;
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
    /// `KVM_EXIT_INTERNAL_ERROR`; its suberror is in `kvm_run`.
    InternalError,
    SystemEvent {
        kind: u32,
    },
    /// `KVM_EXIT_DEBUG` (the profiler's single steps and breakpoints): the
    /// address of the next instruction, and DR6.
    Debug {
        pc: u64,
        dr6: u64,
    },
    /// KVM_RUN returned EINTR (a signal, or `immediate_exit`).
    Interrupted,
    /// KVM_RUN returned EAGAIN (nothing happened; run again).
    Again,
    /// KVM_RUN failed with this errno.
    RunFailed {
        errno: i32,
    },
    Other(&'static str),
}

/// Reasons a vCPU's exit counts are kept under.
pub const EXIT_REASONS: [&str; 11] = [
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
    "debug",
];

/// A vCPU's exits that reached the VMM, indexed like [`EXIT_REASONS`].
pub type ExitCounts = [u64; EXIT_REASONS.len()];

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
            Exit::InternalError => 7,
            Exit::Interrupted | Exit::Again => 8,
            Exit::SystemEvent { .. } | Exit::RunFailed { .. } | Exit::Other(_) => 9,
            Exit::Debug { .. } => 10,
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
    /// A debug exit: the profiler's (`breakpoint`: DR6 names one of DR0–DR3).
    Debug { pc: u64, breakpoint: bool },
    /// KVM could not go on: crash with [`internal_error`] of the suberror in `kvm_run`.
    InternalError,
    /// The VM cannot go on.
    Crash(String),
}

/// What `KVM_RUN` returned, as an [`Exit`], and the buffer of an `in` or MMIO
/// read (whose answer the guest sees when it runs again). One arm per exit.
pub fn from_run<'a>(
    run: Result<VcpuExit<'a>, kvm_ioctls::Error>,
) -> (Exit<'a>, Option<&'a mut [u8]>) {
    match run {
        Ok(VcpuExit::IoOut(port, data)) => (Exit::IoOut { port, data }, None),
        Ok(VcpuExit::IoIn(port, data)) => (Exit::IoIn { port, size: data.len() }, Some(data)),
        Ok(VcpuExit::MmioRead(addr, data)) => {
            (Exit::MmioRead { addr, size: data.len() }, Some(data))
        }
        Ok(VcpuExit::MmioWrite(addr, _)) => (Exit::MmioWrite { addr }, None),
        Ok(VcpuExit::Hlt) => (Exit::Hlt, None),
        Ok(VcpuExit::Shutdown) => (Exit::Shutdown, None),
        Ok(VcpuExit::FailEntry(reason, _)) => (Exit::FailEntry { reason }, None),
        Ok(VcpuExit::InternalError) => (Exit::InternalError, None),
        Ok(VcpuExit::SystemEvent(kind, _)) => (Exit::SystemEvent { kind }, None),
        Ok(VcpuExit::Debug(d)) => (Exit::Debug { pc: d.pc, dr6: d.dr6 }, None),
        Ok(other) => (Exit::Other(exit_name(&other)), None),
        Err(e) if e.errno() == libc::EINTR => (Exit::Interrupted, None),
        Err(e) if e.errno() == libc::EAGAIN => (Exit::Again, None),
        Err(e) => (Exit::RunFailed { errno: e.errno() }, None),
    }
}

/// The whole decision about one `KVM_RUN` result: the index of its reason in
/// [`EXIT_REASONS`] and what the vCPU thread does next. An `in` or MMIO read is
/// answered here, in the buffer KVM gave.
pub fn handle(run: Result<VcpuExit, kvm_ioctls::Error>) -> (usize, Action) {
    let (exit, buffer) = from_run(run);
    let action = match (dispatch(&exit), buffer) {
        (Action::Fill(byte), Some(buffer)) => {
            buffer.fill(byte);
            Action::Resume
        }
        (action, _) => action,
    };
    (exit.reason_index(), action)
}

/// Why the VM crashed on `KVM_EXIT_INTERNAL_ERROR` with `suberror`.
pub fn internal_error(suberror: u32) -> String {
    format!(
        "KVM internal error, suberror {suberror}{}",
        if suberror == 1 { " (instruction emulation failed)" } else { "" }
    )
}

fn exit_name(e: &VcpuExit) -> &'static str {
    match e {
        VcpuExit::Exception => "KVM_EXIT_EXCEPTION",
        VcpuExit::Hypercall(_) => "KVM_EXIT_HYPERCALL",
        VcpuExit::IrqWindowOpen => "KVM_EXIT_IRQ_WINDOW_OPEN",
        VcpuExit::X86Rdmsr(_) => "KVM_EXIT_X86_RDMSR",
        VcpuExit::X86Wrmsr(_) => "KVM_EXIT_X86_WRMSR",
        VcpuExit::MemoryFault { .. } => "KVM_EXIT_MEMORY_FAULT",
        VcpuExit::IoapicEoi(_) => "KVM_EXIT_IOAPIC_EOI",
        VcpuExit::Unknown => "KVM_EXIT_UNKNOWN",
        _ => "an exit reason this VMM does not handle",
    }
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
        Exit::Again => Action::Resume,
        // With the in-kernel irqchip KVM handles hlt itself; seeing it means the
        // guest halted in a way that cannot wake.
        Exit::Hlt => Action::Crash("vCPU halted outside the in-kernel irqchip".into()),
        Exit::Shutdown => Action::Crash("triple fault (shutdown)".into()),
        Exit::FailEntry { reason } => Action::Crash(format!(
            "KVM could not enter the guest (hardware entry failure reason {reason:#x})"
        )),
        Exit::InternalError => Action::InternalError,
        Exit::RunFailed { errno } => {
            Action::Crash(format!("KVM_RUN failed: {}", std::io::Error::from_raw_os_error(errno)))
        }
        Exit::SystemEvent { kind } => {
            Action::Crash(format!("system event {kind} (reset or shutdown request)"))
        }
        Exit::Other(what) => Action::Crash(format!("unexpected exit: {what}")),
        Exit::Debug { pc, dr6 } => Action::Debug { pc, breakpoint: dr6 & 0xf != 0 },
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
            (Exit::RunFailed { errno: libc::EFAULT }, "KVM_RUN failed: Bad address"),
            (Exit::FailEntry { reason: 0x21 }, "0x21"),
            (Exit::Hlt, "halted"),
            (Exit::Other("KVM_EXIT_EXCEPTION"), "KVM_EXIT_EXCEPTION"),
        ] {
            match dispatch(&exit) {
                Action::Crash(msg) => assert!(msg.contains(text), "{msg}"),
                a => panic!("{exit:?} gave {a:?}"),
            }
            assert!(exit.reason_index() < EXIT_REASONS.len());
        }
        assert_eq!(dispatch(&Exit::Interrupted), Action::CheckStop);
        assert!(internal_error(1).contains("emulation failed"));
        assert_eq!(internal_error(3), "KVM internal error, suberror 3");
    }

    /// `handle` with the reason's name.
    fn handled(run: Result<VcpuExit, kvm_ioctls::Error>) -> (&'static str, Action) {
        let (reason, action) = handle(run);
        (EXIT_REASONS[reason], action)
    }

    fn crash_saying(text: &str) -> impl Fn(&(&'static str, Action)) -> bool + '_ {
        move |(_, a)| matches!(a, Action::Crash(m) if m.contains(text))
    }

    #[test]
    fn every_kvm_run_result_is_counted_and_decided() {
        let gpa = 0x1000u32.to_le_bytes();
        assert_eq!(
            handled(Ok(VcpuExit::IoOut(Hypercall::Exit as u16, &gpa))),
            ("io_out", Action::Hypercall { call: Hypercall::Exit, gpa: 0x1000 })
        );
        assert_eq!(
            handled(Ok(VcpuExit::MmioWrite(0xd000_0000, &[1]))),
            ("mmio_write", Action::Resume)
        );

        let r = handled(Ok(VcpuExit::Hlt));
        assert!(r.0 == "hlt" && crash_saying("halted")(&r), "{r:?}");
        let r = handled(Ok(VcpuExit::Shutdown));
        assert!(r.0 == "shutdown" && crash_saying("triple fault")(&r), "{r:?}");
        let r = handled(Ok(VcpuExit::FailEntry(0x21, 0)));
        assert!(r.0 == "fail_entry" && crash_saying("0x21")(&r), "{r:?}");
        assert_eq!(handled(Ok(VcpuExit::InternalError)), ("internal_error", Action::InternalError));
        let r = handled(Ok(VcpuExit::SystemEvent(1, &[])));
        assert!(r.0 == "other" && crash_saying("system event 1")(&r), "{r:?}");
        let step =
            kvm_bindings::kvm_debug_exit_arch { pc: 0x1000, dr6: 0xffff4ff0, ..Default::default() };
        assert_eq!(
            handled(Ok(VcpuExit::Debug(step))),
            ("debug", Action::Debug { pc: 0x1000, breakpoint: false })
        );
        let bp =
            kvm_bindings::kvm_debug_exit_arch { pc: 0x2000, dr6: 0xffff0ff2, ..Default::default() };
        assert_eq!(
            handled(Ok(VcpuExit::Debug(bp))),
            ("debug", Action::Debug { pc: 0x2000, breakpoint: true })
        );
        let r = handled(Ok(VcpuExit::Exception));
        assert!(r.0 == "other" && crash_saying("KVM_EXIT_EXCEPTION")(&r), "{r:?}");
        let r = handled(Ok(VcpuExit::Unsupported(99)));
        assert!(r.0 == "other" && crash_saying("does not handle")(&r), "{r:?}");

        let err = kvm_ioctls::Error::new;
        assert_eq!(handled(Err(err(libc::EINTR))), ("interrupted", Action::CheckStop));
        assert_eq!(handled(Err(err(libc::EAGAIN))), ("interrupted", Action::Resume));
        let r = handled(Err(err(libc::EFAULT)));
        assert_eq!(r.0, "other");
        assert_eq!(
            r.1,
            Action::Crash(format!("KVM_RUN failed: {}", std::io::Error::from_raw_os_error(14)))
        );
    }

    #[test]
    fn reads_from_nothing_are_answered_in_kvms_buffer() {
        let mut data = [0u8; 2];
        assert_eq!(handled(Ok(VcpuExit::IoIn(0x3f8, &mut data))), ("io_in", Action::Resume));
        assert_eq!(data, [0xff; 2]);
        let mut data = [0u8; 8];
        assert_eq!(
            handled(Ok(VcpuExit::MmioRead(0xd000_0000, &mut data))),
            ("mmio_read", Action::Resume)
        );
        assert_eq!(data, [0xff; 8]);
    }
}
