//! The vCPU object: configuration into 64-bit mode, and a thread that runs it
//! through an explicit state machine. Exits are decided by `exit::handle`.

use std::cell::Cell;
use std::collections::HashMap;
use std::os::unix::thread::JoinHandleExt;
use std::sync::{Arc, Once};
use std::thread::JoinHandle;

use kvm_bindings::{
    kvm_guest_debug, kvm_mp_state, kvm_regs, kvm_run, CpuId, Msrs, KVM_GUESTDBG_ENABLE,
    KVM_GUESTDBG_SINGLESTEP, KVM_GUESTDBG_USE_HW_BP, KVM_MAX_CPUID_ENTRIES, KVM_MP_STATE_RUNNABLE,
};
use kvm_ioctls::{Kvm, VcpuFd};
use protocol::boot::{KERNEL_MAP_BASE, KERNEL_MAP_SIZE, PAGE_OFFSET};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vmm_sys_util::signal::Killable;

use crate::crash::VcpuEnd;
use crate::debuginfo::StartRegs;
use crate::error::{Error, Result};
use crate::exit::{self, Action, ExitCounts, EXIT_REASONS};
use crate::hypercall::Effect;
use crate::layout::MAX_MEMORY;
use crate::machine::{kick_signal, Shared};
use crate::profile::{on_debug_exit, DebugAction, Mode, Recorder};
use crate::report::GuestExit;
use crate::stats::StatsFile;
use crate::vm::Vm;
use crate::{cpuid, regs};

/// Where a vCPU thread is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuState {
    /// Configured, thread not started.
    Created,
    /// A secondary CPU waiting for the boot CPU's `StartCpus`.
    Parked,
    Running,
    Stopped,
}

/// Events that move a vCPU between states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuEvent {
    /// The thread starts: the boot CPU runs at once, the others park.
    ThreadStart { boot_cpu: bool },
    /// `StartCpus` released the parked CPUs.
    Released,
    /// The VM is stopping, or this vCPU ended it.
    Stop,
}

impl VcpuState {
    /// The transition table; `None` for an event that is impossible in a state.
    pub fn next(self, event: VcpuEvent) -> Option<VcpuState> {
        use VcpuEvent::*;
        use VcpuState::*;
        match (self, event) {
            (Created, ThreadStart { boot_cpu: true }) => Some(Running),
            (Created, ThreadStart { boot_cpu: false }) => Some(Parked),
            (Parked, Released) => Some(Running),
            (Created | Parked | Running, Stop) => Some(Stopped),
            _ => None,
        }
    }
}

thread_local! {
    /// This thread's `kvm_run`, for the kick signal's handler.
    static KVM_RUN: Cell<*mut kvm_run> = const { Cell::new(std::ptr::null_mut()) };
}

/// Registers this thread's `kvm_run` for the kick signal's handler until dropped.
struct KickTarget;

impl KickTarget {
    fn set(fd: &mut VcpuFd) -> Self {
        KVM_RUN.with(|r| r.set(fd.get_kvm_run() as *mut kvm_run));
        KickTarget
    }
}

impl Drop for KickTarget {
    fn drop(&mut self) {
        KVM_RUN.with(|r| r.set(std::ptr::null_mut()));
    }
}

extern "C" fn handle_kick(_: i32, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let run = KVM_RUN.with(|r| r.get());
    if !run.is_null() {
        // SAFETY: the pointer is this thread's kvm_run mapping, registered by a
        // `KickTarget` that is a local of `VcpuThread::run`: it is dropped (and the
        // pointer cleared) before the `VcpuThread` that owns the vCPU fd and its
        // mapping, on return and on unwinding alike. A volatile store of one byte
        // is async-signal-safe.
        unsafe { std::ptr::write_volatile(&raw mut (*run).immediate_exit, 1) };
    }
}

fn register_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        vmm_sys_util::signal::register_signal_handler(kick_signal(), handle_kick)
            .expect("registering the vCPU kick signal handler");
    });
}

/// A vCPU: KVM's vCPU fd, and the VM it belongs to.
pub struct Vcpu {
    index: u32,
    /// KVM fills the registers into `kvm_run` at each exit when asked
    /// (`KVM_CAP_SYNC_REGS`): the profiler reads them there, without an ioctl.
    sync_regs: bool,
    // Declared before `vm`: the vCPU fd closes before this reference to the VM
    // (and its guest memory) is dropped (see `Vm`).
    fd: VcpuFd,
    vm: Arc<Vm>,
}

/// The vCPU as its thread runs it.
struct VcpuThread {
    vcpu: Vcpu,
    state: VcpuState,
    shared: Arc<Shared>,
    exits: ExitCounts,
    /// The profiler's side of this vCPU, when the VM is profiled.
    tracer: Option<Tracer>,
}

/// How this vCPU is traced for the profiler (see `profile`).
#[derive(Default)]
struct Tracer {
    mode: Mode,
    /// The profiler state change last applied (`Shared::profile_state`).
    seen: u64,
    rec: Recorder,
    /// This vCPU's KVM statistics, read at each exit while tracing (see
    /// `profile::EXIT_STATS`); absent where KVM has no stats file.
    stats: Option<(StatsFile, Vec<Option<u32>>)>,
    stats_buf: Vec<u8>,
    /// `EXIT_STATS` at the last exit seen while tracing (`None`: not tracing).
    last_stats: Option<Vec<u64>>,
    /// Scratch space for a stack.
    stack: Vec<u64>,
    /// Entry-stub instructions by vector (decoded once).
    stubs: HashMap<u64, Vec<u64>>,
    /// The last exit was one of the vCPU's own making (a hypercall, an
    /// access), not a debug exit or a kick.
    own_exit: bool,
    /// The profiler is off, but this vCPU still steps, recording nothing,
    /// until its next exit of its own (see `follow_profiler`).
    draining: bool,
}

/// A vCPU thread's CPU-time clock (`CLOCK_THREAD_CPUTIME_ID` read from
/// another thread), for the lockup detector.
#[derive(Clone, Copy, Debug)]
pub struct ThreadClock(libc::clockid_t);

impl ThreadClock {
    /// The CPU time the thread has used; None once it has ended (the kernel
    /// refuses the clock then).
    pub fn read(self) -> Option<std::time::Duration> {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid place for the result; any clock id is safe
        // to pass (an unknown one fails with EINVAL, which is handled).
        if unsafe { libc::clock_gettime(self.0, &mut ts) } != 0 {
            return None;
        }
        Some(std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
}

/// The control thread's handle on a vCPU thread.
pub struct VcpuHandle {
    thread: JoinHandle<ExitCounts>,
}

impl Vcpu {
    /// What KVM supports of CPUID, for [`Vcpu::new`]: read once per VM (the
    /// ioctl takes 0.7 ms on kvm_pvm), patched per vCPU.
    pub fn supported_cpuid(kvm: &Kvm) -> Result<CpuId> {
        kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(Error::kvm("reading supported CPUID"))
    }

    /// Create vCPU `index` of `count` in `vm` and set it up to enter the kernel at
    /// `entry`, with `supported` ([`Vcpu::supported_cpuid`]) patched for it.
    pub fn new(
        kvm: &Kvm,
        vm: &Arc<Vm>,
        supported: &CpuId,
        index: u32,
        count: u32,
        entry: u64,
    ) -> Result<Self> {
        let fd = vm.fd().create_vcpu(index as u64).map_err(Error::kvm("creating a vCPU"))?;
        let sync = kvm.check_extension_int(kvm_ioctls::Cap::SyncRegs);
        let sync_regs = sync > 0 && sync as u32 & kvm_bindings::KVM_SYNC_X86_REGS != 0;
        let vcpu = Self { index, sync_regs, fd, vm: vm.clone() };
        vcpu.configure(supported.clone(), count, entry)?;
        Ok(vcpu)
    }

    fn configure(&self, mut cpuid: CpuId, count: u32, entry: u64) -> Result<()> {
        let (fd, index) = (&self.fd, self.index);
        cpuid::patch(cpuid.as_mut_slice(), index, count);
        fd.set_cpuid2(&cpuid).map_err(Error::kvm("setting CPUID"))?;
        let msrs = Msrs::from_entries(&regs::boot_msrs(index)).map_err(|_| Error::Kvm {
            what: "building MSRs",
            source: std::io::ErrorKind::InvalidInput.into(),
        })?;
        let n = fd.set_msrs(&msrs).map_err(Error::kvm("setting MSRs"))?;
        if n != msrs.as_slice().len() {
            return Err(Error::Kvm {
                what: "setting MSRs (some refused)",
                source: std::io::ErrorKind::Unsupported.into(),
            });
        }
        let sregs = fd.get_sregs().map_err(Error::kvm("reading special registers"))?;
        fd.set_sregs(&regs::long_mode_sregs(sregs))
            .map_err(Error::kvm("setting special registers"))?;
        fd.set_regs(&regs::boot_regs(entry, index)).map_err(Error::kvm("setting registers"))?;
        fd.set_fpu(&regs::boot_fpu()).map_err(Error::kvm("setting FPU state"))?;
        Ok(())
    }

    /// KVM's statistics file of this vCPU.
    pub fn stats_file(&self) -> Result<StatsFile> {
        StatsFile::open(&self.fd)
            .map_err(|source| Error::Kvm { what: "opening vCPU statistics", source })
    }

    pub fn tsc_khz(&self) -> Result<u32> {
        self.fd.get_tsc_khz().map_err(Error::kvm("reading the TSC frequency"))
    }

    /// Start the vCPU's thread.
    pub fn spawn(self, shared: Arc<Shared>) -> Result<VcpuHandle> {
        register_kick_handler();
        let name = format!("vcpu{}", self.index);
        let t = VcpuThread {
            vcpu: self,
            state: VcpuState::Created,
            tracer: shared.profile_setup().map(|_| Tracer::default()),
            shared,
            exits: [0; EXIT_REASONS.len()],
        };
        let thread =
            std::thread::Builder::new().name(name).spawn(move || t.run()).map_err(Error::Thread)?;
        Ok(VcpuHandle { thread })
    }
}

impl VcpuHandle {
    /// Make the thread leave `KVM_RUN` (it then sees that the VM is stopping).
    pub fn kick(&self) {
        let _ = self.thread.kill(kick_signal());
    }

    /// The thread's id, to kick it.
    pub fn pthread(&self) -> libc::pthread_t {
        self.thread.as_pthread_t()
    }

    /// The thread's CPU-time clock, None if it cannot be had.
    pub fn cpu_clock(&self) -> Option<ThreadClock> {
        let mut clock: libc::clockid_t = 0;
        // SAFETY: the thread is not joined while its handle lives (`join`
        // takes the handle), so its id is valid; `clock` is a valid place
        // for the result.
        let r = unsafe { libc::pthread_getcpuclockid(self.pthread(), &mut clock) };
        (r == 0).then_some(ThreadClock(clock))
    }

    /// Wait for the thread to end; its exit counts (none if it panicked).
    pub fn join(self) -> ExitCounts {
        self.thread.join().unwrap_or_default()
    }
}

impl VcpuThread {
    fn transition(&mut self, event: VcpuEvent) {
        self.state = self.state.next(event).unwrap_or_else(|| {
            let (index, state) = (self.vcpu.index, self.state);
            panic!("vCPU {index}: impossible event {event:?} in state {state:?}")
        });
    }

    fn run(mut self) -> ExitCounts {
        // A local: dropped before `self`, which owns the fd (see `handle_kick`).
        let _kick = KickTarget::set(&mut self.vcpu.fd);
        if self.tracer.is_some() && self.vcpu.sync_regs {
            self.vcpu.fd.set_sync_valid_reg(kvm_ioctls::SyncReg::Register);
        }
        self.transition(VcpuEvent::ThreadStart { boot_cpu: self.vcpu.index == 0 });
        if self.state == VcpuState::Parked {
            if !self.shared.wait_for_start() {
                self.transition(VcpuEvent::Stop);
            } else {
                self.transition(VcpuEvent::Released);
                let runnable = kvm_mp_state { mp_state: KVM_MP_STATE_RUNNABLE };
                if let Err(e) = self.vcpu.fd.set_mp_state(runnable) {
                    self.crash(format!("KVM_SET_MP_STATE failed: {e}"));
                }
            }
        }
        let ran = self.state == VcpuState::Running;
        while self.state == VcpuState::Running {
            if self.shared.stopping() {
                self.transition(VcpuEvent::Stop);
                break;
            }
            self.follow_profiler();
            self.run_once();
        }
        if ran {
            self.shared.record_vcpu_end(self.capture());
        }
        if let Some(t) = self.tracer.take() {
            self.shared.submit_profile(t.rec.finish());
        }
        self.exits
    }

    /// Where this vCPU is, for reports (what KVM lets us read; defaults where
    /// it refuses).
    fn capture(&self) -> VcpuEnd {
        let fd = &self.vcpu.fd;
        VcpuEnd {
            cpu: self.vcpu.index,
            regs: fd.get_regs().unwrap_or_default(),
            sregs: fd.get_sregs().unwrap_or_default(),
            events: fd.get_vcpu_events().ok(),
            mp_state: fd.get_mp_state().ok().map(|m| m.mp_state),
        }
    }

    /// Run the vCPU until its next exit and act on it (`exit::handle` decides).
    fn run_once(&mut self) {
        let (reason, action) = exit::handle(self.vcpu.fd.run());
        self.exits[reason] += 1;
        if let Some(t) = &mut self.tracer {
            t.own_exit = !matches!(action, Action::Debug { .. } | Action::CheckStop);
            self.charge_stats(matches!(action, Action::Debug { .. }));
        }
        if !matches!(action, Action::Debug { .. }) {
            self.trace_other_exit();
        }
        self.perform(action);
    }

    fn perform(&mut self, action: Action) {
        match action {
            // `exit::handle` answered a read (`Fill`) in KVM's buffer already.
            Action::Resume | Action::Fill(_) => {}
            Action::CheckStop => {
                if !self.shared.stopping() {
                    self.vcpu.fd.set_kvm_immediate_exit(0);
                }
            }
            Action::Reject { errno } => self.answer(-errno),
            Action::Hypercall { call, gpa } => {
                let (status, effect) = self.shared.hypercall(call, gpa);
                self.answer(status);
                self.apply(effect);
            }
            Action::InternalError => {
                let suberror = self.internal_suberror();
                self.crash(exit::internal_error(suberror))
            }
            Action::Crash(reason) => self.crash(reason),
            Action::Debug { pc, breakpoint } => self.debug_exit(pc, breakpoint),
        }
    }

    /// Write the hypercall's result into this vCPU's status slot.
    fn answer(&self, status: i64) {
        if status < 0 {
            self.shared.count_hypercall_error();
        }
        let slot = protocol::boot::STATUS_GPA + 8 * self.vcpu.index as u64;
        // The status page is inside RAM by construction; a failure here would be a
        // VMM bug, and the guest would only see a stale status.
        let _ = self.vcpu.vm.memory().write_obj(status, GuestAddress(slot));
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::Console(stream, bytes) => self.shared.console_write(stream, &bytes),
            Effect::Exit(status) => self.end(GuestExit::Status(status)),
            Effect::Exception(report) => self.end(GuestExit::Exception(report)),
            Effect::Panic { cpu, message } => self.end(GuestExit::Panic { cpu, message }),
            Effect::StartCpus => self.shared.release_cpus(),
            Effect::Ready { .. } => self.shared.mark_ready(),
            Effect::Snapshot { label, guest_tsc, reset } => {
                self.shared.snapshot(self.vcpu.index, label, guest_tsc, reset)
            }
            Effect::MailboxReply { seq } => self.shared.mailbox_replied(seq),
            Effect::PvWait { lock, val } => {
                self.answer(self.shared.pv_wait(self.vcpu.index, lock, val))
            }
            Effect::PvKick { lock } => self.answer(self.shared.pv_kick(self.vcpu.index, lock)),
        }
    }

    fn end(&mut self, exit: GuestExit) {
        self.shared.finish(exit);
        self.transition(VcpuEvent::Stop);
    }

    fn crash(&mut self, reason: String) {
        let rip = self.vcpu.fd.get_regs().map(|r| r.rip).unwrap_or(0);
        self.end(GuestExit::Crashed { cpu: self.vcpu.index, rip, reason });
    }

    /// Apply a change of the profiler's state (on at a span's start, off at
    /// its end): trace in the mode the vCPU's next instruction calls for.
    fn follow_profiler(&mut self) {
        let Some(t) = &self.tracer else { return };
        let (seen, on) = self.shared.profile_state();
        if seen == t.seen {
            return;
        }
        let carry_out = self.shared.profile_setup().is_some_and(|s| s.carry_out_misstepped);
        let drain = !on && t.mode == Mode::Stepping && !t.own_exit && carry_out;
        let regs = if on { self.vcpu.fd.get_regs().ok() } else { None };
        let mode = regs.map_or(Mode::Off, |r| Mode::at(r.rip));
        let t = self.tracer.as_mut().unwrap();
        t.seen = seen;
        t.rec.drop_pending();
        t.draining = drain;
        if drain {
            // Where stepped instructions are carried out (kvm_pvm, 2+ vCPUs),
            // switching stepping off on a vCPU kicked in kernel code halts it
            // for good an instruction or two later, as switching at its next
            // debug exit does; at an exit of its own (a hypercall) it is
            // safe, as on the vCPU that ended the span. So it steps on,
            // recording nothing, until then.
            t.last_stats = None;
            return;
        }
        self.set_trace_mode(mode);
        let base = if mode == Mode::Off { None } else { self.read_exit_stats() };
        if let Some(t) = &mut self.tracer {
            t.last_stats = base;
        }
        if let Some(r) = regs.filter(|_| mode == Mode::Stepping) {
            self.capture_stepped(r);
        }
    }

    /// KVM's `EXIT_STATS` of this vCPU now (`None` if unreadable).
    fn read_exit_stats(&mut self) -> Option<Vec<u64>> {
        let t = self.tracer.as_mut()?;
        if t.stats.is_none() {
            let f = self.vcpu.stats_file().ok()?;
            let sel = f.select(crate::profile::EXIT_STATS);
            t.stats = Some((f, sel));
        }
        let (f, sel) = t.stats.as_ref()?;
        let mut v = vec![0; sel.len()];
        f.read_selected(sel, &mut t.stats_buf, &mut v).ok()?;
        Some(v)
    }

    /// Charge what KVM's statistics counted since the last exit to the
    /// instruction that ran (less the debug exit the stepping caused).
    fn charge_stats(&mut self, debug_exit: bool) {
        let Some(t) = &self.tracer else { return };
        if t.mode == Mode::Off || t.last_stats.is_none() {
            return;
        }
        let Some(now) = self.read_exit_stats() else { return };
        let t = self.tracer.as_mut().unwrap();
        let last = t.last_stats.replace(now.clone()).unwrap_or_default();
        let mut d: Vec<u64> = now.iter().zip(&last).map(|(a, b)| a.saturating_sub(*b)).collect();
        if debug_exit {
            // EXIT_STATS[0] is `exits`.
            d[0] = d[0].saturating_sub(1);
        }
        // On a host that emulates ring 0 stepping stays on across user mode:
        // the exit after an `iretq`/`sysretq` comes at the next kernel entry,
        // and what went up in between happened in user mode (or entering).
        let returned = t.rec.pending_pc().and_then(|pc| read_kernel_u64(self.vcpu.vm.memory(), pc));
        let returned = returned.is_some_and(|w| w & 0xffff == 0xcf48 || w & 0xff_ffff == 0x07_0f48);
        let in_user = t.mode == Mode::Armed || returned;
        t.rec.charge(&d, in_user);
    }

    /// Tell KVM how to trace this vCPU.
    fn set_trace_mode(&mut self, mode: Mode) {
        let mut dbg = kvm_guest_debug::default();
        match mode {
            Mode::Off => {}
            Mode::Stepping => dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP,
            Mode::Armed => {
                dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
                let entries = self.shared.profile_setup().map_or(&[][..], |s| &s.entries[..]);
                for (i, &addr) in entries.iter().take(4).enumerate() {
                    // DR7: global enable of breakpoint i; RW and LEN 0 (execution).
                    dbg.arch.debugreg[i] = addr;
                    dbg.arch.debugreg[7] |= 2 << (2 * i);
                }
            }
        }
        if let Err(e) = self.vcpu.fd.set_guest_debug(&dbg) {
            self.crash(format!("KVM_SET_GUEST_DEBUG failed (profiling): {e}"));
            return;
        }
        if let Some(t) = &mut self.tracer {
            t.mode = mode;
        }
    }

    /// Capture the instruction at `regs.rip` with its call stack.
    fn capture_insn(&mut self, regs: &kvm_regs) {
        let (Some(t), Some(setup)) = (self.tracer.as_mut(), self.shared.profile_setup()) else {
            return;
        };
        let mem = self.vcpu.vm.memory();
        let start = StartRegs { rip: regs.rip, rsp: regs.rsp, rbp: regs.rbp };
        setup.unwinder.unwind(start, |va| read_kernel_u64(mem, va), &mut t.stack);
        let mut bytes = [0u8; 8];
        let rep = match read_kernel_u64(mem, regs.rip) {
            Some(w) => {
                bytes.copy_from_slice(&w.to_le_bytes());
                crate::profile::rep_string_bytes(&bytes, regs.rip, regs.rcx).unwrap_or(0)
            }
            None => 0,
        };
        t.rec.capture(&t.stack, rep);
    }

    /// A `KVM_EXIT_DEBUG`: the profiler's single step or breakpoint.
    fn debug_exit(&mut self, pc: u64, breakpoint: bool) {
        let Some(t) = &mut self.tracer else {
            self.crash("unexpected exit: KVM_EXIT_DEBUG".into());
            return;
        };
        match on_debug_exit(t.mode, pc, breakpoint) {
            DebugAction::Step if t.draining => {
                if let Ok(regs) = self.exit_regs() {
                    self.step_over(regs, false);
                }
            }
            DebugAction::Step => {
                t.rec.commit();
                self.capture_now();
            }
            DebugAction::ReturnedToUser => {
                t.rec.commit();
                t.rec.stats.user_returns += 1;
                self.set_trace_mode(Mode::Armed);
            }
            DebugAction::Entered => {
                t.rec.stats.kernel_entries += 1;
                self.count_entry_stub(pc);
                self.set_trace_mode(Mode::Stepping);
                self.capture_now();
            }
            DebugAction::Ignore if t.mode == Mode::Armed && pc < crate::profile::KERNEL_HALF => {
                t.rec.stats.user_steps += 1
            }
            DebugAction::Ignore if t.mode == Mode::Armed => t.rec.stats.stray_exits += 1,
            DebugAction::Ignore => {}
        }
    }

    fn capture_now(&mut self) {
        match self.exit_regs() {
            Ok(regs) => self.capture_stepped(regs),
            Err(e) => self.crash(format!("KVM_GET_REGS failed (profiling): {e}")),
        }
    }

    /// Capture the instruction a stepped vCPU runs next (see `step_over`).
    fn capture_stepped(&mut self, regs: kvm_regs) {
        self.step_over(regs, true);
    }

    /// For a stepped vCPU whose next instruction is at `regs.rip`: capture it
    /// when `record`ing; if it is one that this host mis-steps (`stepover`),
    /// carry it out here instead (counted when recording) and go on with the
    /// one after, as many in a row as there are.
    fn step_over(&mut self, mut regs: kvm_regs, record: bool) {
        loop {
            if record {
                self.capture_insn(&regs);
            }
            let Some(len) = self.carry_out(&regs) else { return };
            regs.rip += len;
            if let Err(e) = self.vcpu.fd.set_regs(&regs) {
                self.crash(format!("KVM_SET_REGS failed (profiling): {e}"));
                return;
            }
            if record {
                let t = self.tracer.as_mut().unwrap();
                t.rec.commit();
                t.rec.stats.carried_out += 1;
            }
        }
    }

    /// Carry out the instruction at `regs.rip` if `stepover` says to: its
    /// length, or None when it is left to the CPU (not one of them, its
    /// operand outside the kernel's linear maps, an MXCSR the CPU would
    /// refuse, a KVM call that failed: stepping it is then no worse than
    /// before).
    fn carry_out(&mut self, regs: &kvm_regs) -> Option<u64> {
        use crate::stepover::{self, StepOver, FXSAVE_WRITTEN, MXCSR_MASK};
        self.shared.profile_setup()?.carry_out_misstepped.then_some(())?;
        let mem = self.vcpu.vm.memory();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&read_kernel_u64(mem, regs.rip)?.to_le_bytes());
        bytes[8..].copy_from_slice(&read_kernel_u64(mem, regs.rip + 8)?.to_le_bytes());
        let (op, len) = stepover::decode(&bytes, regs.rip, |r| gpr(regs, r))?;
        let fd = &self.vcpu.fd;
        match op {
            StepOver::Swapgs => {
                let mut sregs = fd.get_sregs().ok()?;
                let mut msrs = Msrs::from_entries(&[kvm_bindings::kvm_msr_entry {
                    index: stepover::MSR_KERNEL_GS_BASE,
                    ..Default::default()
                }])
                .ok()?;
                (fd.get_msrs(&mut msrs).ok()? == 1).then_some(())?;
                let (gs, kernel_gs) = (sregs.gs.base, msrs.as_slice()[0].data);
                sregs.gs.base = kernel_gs;
                fd.set_sregs(&sregs).ok()?;
                msrs.as_mut_slice()[0].data = gs;
                if fd.set_msrs(&msrs).ok() != Some(1) {
                    // Undo the half done, so that the CPU's own swapgs
                    // (stepped instead) starts from where it was.
                    sregs.gs.base = gs;
                    let _ = fd.set_sregs(&sregs);
                    return None;
                }
            }
            StepOver::Fxsave64(va) => {
                let gpa = kernel_gpa(va, FXSAVE_WRITTEN as u64)?;
                let image = stepover::fxsave_image(&fd.get_fpu().ok()?, MXCSR_MASK);
                mem.write_slice(&image, GuestAddress(gpa)).ok()?;
            }
            StepOver::Fxrstor64(va) => {
                let gpa = kernel_gpa(va, FXSAVE_WRITTEN as u64)?;
                let mut area = [0u8; FXSAVE_WRITTEN];
                mem.read_slice(&mut area, GuestAddress(gpa)).ok()?;
                fd.set_fpu(&stepover::fxrstor_state(&area, MXCSR_MASK)?).ok()?;
            }
        }
        Some(len)
    }

    /// The registers at the last exit: from `kvm_run` where KVM fills them in,
    /// else by `KVM_GET_REGS`.
    fn exit_regs(&self) -> std::result::Result<kvm_regs, kvm_ioctls::Error> {
        if self.vcpu.sync_regs {
            Ok(self.vcpu.fd.sync_regs().regs)
        } else {
            self.vcpu.fd.get_regs()
        }
    }

    /// Any other exit while stepping: if the captured instruction completed
    /// (an `out` to a hypercall port completes before the exit, and no debug
    /// exit follows it), count it and capture the next.
    fn trace_other_exit(&mut self) {
        let Some(t) = &self.tracer else { return };
        if t.draining && t.own_exit {
            self.tracer.as_mut().unwrap().draining = false;
            self.set_trace_mode(Mode::Off);
            return;
        }
        if t.mode != Mode::Stepping || t.draining {
            return;
        }
        let Ok(regs) = self.exit_regs() else { return };
        let t = self.tracer.as_mut().unwrap();
        if t.rec.pending_pc() == Some(regs.rip) {
            return;
        }
        t.rec.commit();
        if Mode::at(regs.rip) == Mode::Stepping {
            self.capture_stepped(regs);
        } else {
            t.rec.stats.user_returns += 1;
            self.set_trace_mode(Mode::Armed);
        }
    }

    /// A breakpoint at `pc`, a kernel entry point: when it is `trap_common`,
    /// the stub the IDT named for the vector on the stack ran before it,
    /// unstepped; count its instructions.
    fn count_entry_stub(&mut self, pc: u64) {
        let Some(setup) = self.shared.profile_setup() else { return };
        if setup.trap_common != Some(pc) {
            return;
        }
        let mem = self.vcpu.vm.memory();
        let Ok(regs) = self.exit_regs() else { return };
        let Some(vector) = read_kernel_u64(mem, regs.rsp).filter(|&v| v < 256) else { return };
        let fd = &self.vcpu.fd;
        let t = self.tracer.as_mut().unwrap();
        let stub = t.stubs.entry(vector).or_insert_with(|| {
            fd.get_sregs()
                .ok()
                .filter(|s| u64::from(s.idt.limit) >= vector * 16 + 15)
                .and_then(|s| {
                    let gate = s.idt.base + vector * 16;
                    let lo = read_kernel_u64(mem, gate)?;
                    let hi = read_kernel_u64(mem, gate + 8)?;
                    Some((lo & 0xffff) | ((lo >> 32) & 0xffff_0000) | (hi & 0xffff_ffff) << 32)
                })
                .and_then(|handler| setup.unwinder.stub_instructions(handler, pc))
                .unwrap_or_default()
        });
        t.rec.add_stub(stub);
    }

    fn internal_suberror(&mut self) -> u32 {
        let run = self.vcpu.fd.get_kvm_run();
        // SAFETY: called only for `Action::InternalError`, which `exit::handle`
        // returns only for KVM_EXIT_INTERNAL_ERROR, before the next KVM_RUN: the
        // union's member in this `kvm_run` is `internal`, a plain integer struct.
        unsafe { run.__bindgen_anon_1.internal.suberror }
    }
}

/// A 64-bit word of the kernel's memory at virtual address `va`: the kernel
/// map and the direct map are linear (`protocol::boot`), so no page tables are
/// walked. `None` outside them or outside RAM.
fn read_kernel_u64(mem: &GuestMemoryMmap, va: u64) -> Option<u64> {
    mem.read_obj::<u64>(GuestAddress(kernel_gpa(va, 8)?)).ok()
}

/// The guest-physical address of the `len` bytes at kernel virtual address
/// `va`, if they lie in one of the kernel's linear maps.
fn kernel_gpa(va: u64, len: u64) -> Option<u64> {
    let (base, size) = if va >= KERNEL_MAP_BASE {
        (KERNEL_MAP_BASE, KERNEL_MAP_SIZE)
    } else if va >= PAGE_OFFSET {
        (PAGE_OFFSET, MAX_MEMORY)
    } else {
        return None;
    };
    let o = va - base;
    (o.checked_add(len)? <= size).then_some(o)
}

/// A general register's value in `regs` (for an operand's address).
fn gpr(regs: &kvm_regs, r: iced_x86::Register) -> Option<u64> {
    use iced_x86::Register::*;
    Some(match r {
        RAX => regs.rax,
        RBX => regs.rbx,
        RCX => regs.rcx,
        RDX => regs.rdx,
        RSI => regs.rsi,
        RDI => regs.rdi,
        RSP => regs.rsp,
        RBP => regs.rbp,
        R8 => regs.r8,
        R9 => regs.r9,
        R10 => regs.r10,
        R11 => regs.r11,
        R12 => regs.r12,
        R13 => regs.r13,
        R14 => regs.r14,
        R15 => regs.r15,
        RIP => regs.rip,
        _ => return Option::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use VcpuEvent::*;
    use VcpuState::*;

    #[test]
    fn state_machine() {
        assert_eq!(Created.next(ThreadStart { boot_cpu: true }), Some(Running));
        assert_eq!(Created.next(ThreadStart { boot_cpu: false }), Some(Parked));
        assert_eq!(Parked.next(Released), Some(Running));
        assert_eq!(Parked.next(Stop), Some(Stopped));
        assert_eq!(Running.next(Stop), Some(Stopped));
        assert_eq!(Running.next(Released), None);
        assert_eq!(Stopped.next(Stop), None);
        assert_eq!(Stopped.next(ThreadStart { boot_cpu: true }), None);
    }
}
