//! Boot: validate the hand-off, bring up memory and every CPU, report ready, then
//! run what the command line asks for and exit.

use protocol::boot::{BootInfo, BOOT_MAGIC, COUNTERS_GPA, COUNTERS_SIZE};
use protocol::exit_status;
use protocol::hypercall::{Exit, Hypercall, PanicReport, Ready, StartCpus};
use protocol::ABI_VERSION;

use crate::arch::{self, apic, cpu_count, cpu_id, hypercall::hypercall, rdtsc, wait_until};
use crate::cmdline::{self, FaultKind, Options};
use crate::counters::{self as ctr, cpu_get};
use crate::{println, smp};

/// The kernel as arch sees it: where arch hands over.
struct Kernel;

impl arch::Kernel for Kernel {
    fn start_kernel(boot_info: &'static BootInfo) -> ! {
        start_kernel(boot_info)
    }

    fn start_secondary(cpu: usize) -> ! {
        start_secondary(cpu)
    }

    #[inline(always)]
    fn user_exception(frame: &mut arch::TrapFrame) {
        crate::trap::user_exception(frame)
    }

    #[inline(always)]
    fn syscall(frame: &mut arch::TrapFrame) {
        crate::trap::syscall_insn(frame)
    }

    #[inline(always)]
    fn syscall_gate(frame: &mut arch::TrapFrame) {
        crate::trap::syscall_gate(frame)
    }

    #[inline(always)]
    fn exit_to_user_mode(frame: &mut arch::TrapFrame) {
        crate::trap::exit_to_user_mode(frame)
    }

    #[inline(always)]
    fn sysret_allowed(frame: &arch::TrapFrame) -> bool {
        crate::trap::sysret_allowed(frame)
    }

    fn uaccess_fault(addr: u64, err: u64) -> bool {
        crate::trap::uaccess_fault(addr, err)
    }

    fn timer_tick(user: bool) {
        crate::trap::timer_tick(user)
    }

    fn call_function(cpu: usize) {
        smp::call_function_interrupt(cpu)
    }

    fn mailbox() {
        crate::mailbox::doorbell()
    }

    fn schedule_tail() {
        crate::process::fork::schedule_tail()
    }
}

crate::kernel!(Kernel);

/// Stop the VM with `status` (the VMM's exit code).
pub fn exit(status: u8) -> ! {
    hypercall(Hypercall::Exit, &Exit { status: status as u32, _pad: 0 });
    halt_forever()
}

fn halt_forever() -> ! {
    loop {
        arch::interrupts_disable();
        arch::wait_for_interrupt();
    }
}

/// The secondary CPUs' idle tasks, made by the boot CPU before it starts them
/// (Linux's `idle_threads_init`, `fork_idle` per CPU): its caches are warm,
/// each secondary's would be cold (~2,200 ring-0 instructions of slab refills
/// before it could say it is online, against ~900 on the boot CPU).
static IDLE_TASKS: [spin::Once<alloc::sync::Arc<crate::process::Task>>; protocol::MAX_CPUS] =
    [const { spin::Once::new() }; protocol::MAX_CPUS];

/// Bring-up common to every CPU once its descriptor tables are loaded.
fn cpu_online(cpu: usize, info: &BootInfo) {
    if let Some(record) = arch::boot::crash_record(cpu) {
        arch::cpu::set_crash_record(record as u64);
    }
    apic::init((info.apic_timer_hz / crate::sched::HZ) as u32);
    ctr::cpu_set(cpu, ctr::CPU_ONLINE_TSC, rdtsc());
    ctr::cpu_set(cpu, ctr::CPU_ONLINE, 1);
    ctr::global_add(ctr::CPUS_ONLINE, 1);
}

pub fn start_kernel(info: &'static BootInfo) -> ! {
    let boot_tsc = arch::boot::entry_tsc();
    if info.magic != BOOT_MAGIC || info.abi_version != ABI_VERSION {
        println!(
            "kernel: boot ABI mismatch: this kernel speaks ABI version {ABI_VERSION}, \
             the VMM passed version {} (magic {:#x}); rebuild the VMM and kernel together",
            info.abi_version, info.magic
        );
        exit(exit_status::ABI_MISMATCH);
    }
    if (info.counters_gpa, info.counters_size) != (COUNTERS_GPA, COUNTERS_SIZE) {
        // The counters are at the protocol's fixed address (one instruction
        // per update); a VMM that put them elsewhere speaks another protocol.
        println!(
            "kernel: boot ABI mismatch: the counter page must be {COUNTERS_SIZE:#x} bytes at \
             {COUNTERS_GPA:#x}, the VMM passed {:#x} bytes at {:#x}",
            info.counters_size, info.counters_gpa
        );
        exit(exit_status::ABI_MISMATCH);
    }
    arch::boot::set_shared_pages(info);
    crate::trace::init(info);
    ctr::global_set(ctr::BOOT_TSC, boot_tsc);
    crate::time::init(boot_tsc, info.tsc_khz, info.realtime_ns);
    crate::random::init(info.random_seed);

    if let Err(e) = crate::mm::init(info) {
        panic!("memory: {e} ({} MiB of RAM)", info.memory_bytes >> 20);
    }
    let options = match arch::boot::cmdline().map(cmdline::parse) {
        Some(Ok(o)) => o,
        Some(Err(e)) => {
            println!("kernel: bad command line: {e}");
            exit(exit_status::BAD_CMDLINE)
        }
        None => {
            println!("kernel: bad command line: not UTF-8");
            exit(exit_status::BAD_CMDLINE)
        }
    };

    // Before anything creates the initial PID namespace (the idle tasks do).
    if let Some(max) = options.max_map_count {
        crate::mm::vma::set_max_map_count(max);
    }
    if let Some(n) = options.pvspin {
        arch::pvlock::set_spin_threshold(n);
    }
    if let Some(max) = options.pid_max {
        crate::process::pid::set_pid_max(max);
    }
    cpu_online(0, info);
    crate::sched::init_cpu(crate::process::Task::new_idle(cpu_id()));
    for (cpu, idle) in IDLE_TASKS.iter().enumerate().take(cpu_count()).skip(1) {
        idle.call_once(|| crate::process::Task::new_idle(cpu));
    }
    crate::sched::CHILD_RUNS_FIRST
        .store(options.sched_child_runs_first, core::sync::atomic::Ordering::Relaxed);
    hypercall(Hypercall::StartCpus, &StartCpus::default());
    let n = cpu_count() as u64;
    wait_until(|| ctr::global_get(ctr::CPUS_ONLINE) == n);
    ctr::global_set(ctr::READY_TSC, rdtsc());
    hypercall(Hypercall::Ready, &Ready { cpus_online: n });

    if !options.quiet {
        let us = (rdtsc() - boot_tsc) * 1000 / info.tsc_khz.max(1);
        println!(
            "kernel: {n} CPU{} online, {} MiB RAM, TSC {} kHz, ready {us} us after entry",
            if n == 1 { "" } else { "s" },
            info.memory_bytes >> 20,
            info.tsc_khz
        );
    }
    // The root file system first: every task, the boot probe's too, has a cwd.
    // The VMM's `syscall` site index (exec::zpoline) is read in place, not
    // unpacked; its tables go to their executables' inodes.
    let initramfs = arch::boot::initramfs();
    let index = crate::exec::zpoline::find_index(initramfs);
    let skip = index.map_or("", |(name, _)| name);
    let capacity = info.memory_bytes / 2;
    match crate::fs::mount_root(initramfs, skip, capacity, crate::time::realtime_ns()) {
        Ok(_) => {}
        Err(e) => {
            println!("kernel: cannot unpack the initramfs: {e}");
            exit(exit_status::INIT_FAILED);
        }
    }
    if let Err(e) = crate::vfs::mount_proc_at_boot() {
        println!("kernel: {e}");
        exit(exit_status::INIT_FAILED);
    }
    if let Some((_, index)) = index {
        crate::exec::zpoline::bind_root_index(index);
    }
    calibrate_bulk_memory(&options);
    if let Err(e) = crate::mm::address_space::init_entry_page() {
        panic!("entry page: errno {}", e.0);
    }
    let works = match crate::trap::probe_syscall_instruction() {
        Ok(works) => works,
        Err(e) => panic!("syscall self-test: errno {}", e.0),
    };
    ctr::global_set(ctr::SYSCALL_INSN, if works { 1 } else { 2 });
    use crate::cmdline::SyscallEntry;
    let insn = match options.syscall {
        SyscallEntry::Auto => works,
        SyscallEntry::Int3 => false,
        SyscallEntry::Insn if works => true,
        SyscallEntry::Insn => {
            println!(
                "kernel: syscall=insn: the syscall instruction does not reach ring 0 on this \
                 host (boot self-test); use syscall=auto or syscall=int3"
            );
            exit(exit_status::SELFTEST_FAILED);
        }
    };
    let entry = if insn {
        crate::arch::entry_page::ENTRY_INSN
    } else {
        crate::arch::entry_page::ENTRY_INT3
    };
    crate::arch::entry_page::set_syscall_entry(entry);
    ctr::global_set(ctr::SYSCALL_ENTRY, entry as u64);
    if !options.quiet {
        let found = if works { "works from ring 3" } else { "does not reach ring 0 here" };
        let using = match (works, insn) {
            (true, true) => "",
            (true, false) => ": using the int3 gate (syscall=int3)",
            _ => ": using the int3 gate",
        };
        println!("kernel: the syscall instruction {found}{using}");
    }
    let (argv, envp) = arch::boot::init_args();
    if !argv.is_empty() {
        run_init(argv, envp, options.fail)
    }
    run(&options, info)
}

/// Measure zeroing and copying a page in the guest and through the VMM, and
/// choose (`mm::bulk`); say what was chosen.
fn calibrate_bulk_memory(options: &Options) {
    let (Some(a), Some(b)) = (crate::mm::alloc_data_frame(), crate::mm::alloc_data_frame()) else {
        panic!("bulk memory calibration: out of memory at boot");
    };
    let (mode, m) = crate::mm::bulk::calibrate(options.bulkmem, &a, &b);
    crate::mm::put_frame(a.into_phys());
    crate::mm::put_frame(b.into_phys());
    if !options.quiet {
        let side = |vmm: bool| if vmm { "VMM" } else { "guest" };
        let forced = match options.bulkmem {
            crate::cmdline::BulkChoice::Auto => "",
            crate::cmdline::BulkChoice::Vmm => " (bulkmem=vmm)",
            crate::cmdline::BulkChoice::Guest => " (bulkmem=guest)",
        };
        println!(
            "kernel: bulk memory{forced}: zeroing by the {} (cycles per page: guest {}, VMM {}), \
             copying by the {} (guest {}, VMM {})",
            side(mode.zero_vmm),
            m.zero_guest,
            m.zero_vmm.map_or(-1, |v| v as i64),
            side(mode.copy_vmm),
            m.copy_guest,
            m.copy_vmm.map_or(-1, |v| v as i64),
        );
    }
}

/// Secondary CPUs: come online, tell the boot CPU, then idle and run posted jobs.
pub fn start_secondary(cpu: usize) -> ! {
    cpu_online(cpu, arch::boot_info());
    let idle = IDLE_TASKS[cpu].get().cloned().expect("made by the boot CPU before StartCpus");
    crate::sched::init_cpu(idle);
    apic::send_ipi(0, arch::cpu::RESCHEDULE_VECTOR);
    ctr::cpu_add(cpu, ctr::CPU_IPIS_SENT, 1);
    loop {
        arch::interrupts_disable();
        match smp::take_job(cpu) {
            Some(job) => {
                arch::interrupts_enable();
                smp::run_job(cpu, job);
            }
            // Runnable work here, or pulled from a busier CPU (newidle balance).
            None if crate::sched::idle_has_work::<crate::process::PosixThread>() => {
                crate::sched::schedule::<crate::process::PosixThread>()
            }
            None => {
                ctr::cpu_add(cpu, ctr::CPU_IDLE_HALTS, 1);
                arch::wait_for_interrupt();
            }
        }
    }
}

/// Split a block of NUL-terminated strings.
fn strings(block: &[u8]) -> alloc::vec::Vec<alloc::vec::Vec<u8>> {
    block
        .split(|&b| b == 0)
        .take(block.iter().filter(|&&b| b == 0).count())
        .map(|s| s.to_vec())
        .collect()
}

/// Run the first program as pid 1; its end is the VM's end.
fn run_init(argv: &[u8], envp: &[u8], fail: Option<(crate::fault_inject::Stage, u32)>) -> ! {
    // Kernel code, boot code too, runs with interrupts off: an interrupt
    // handler that takes a lock (the heap's, when a wake-up grows a run
    // queue) must never find it held by the code it interrupted.
    assert!(!arch::cpu::interrupts_enabled(), "boot code runs with interrupts on");
    let argv = strings(argv);
    let envp = strings(envp);
    let path = argv[0].clone();
    let creds = crate::process::task::Creds::default();
    let prog = match crate::exec::load_program(crate::fs::root_ino(), &path, &argv, &envp, creds) {
        Ok(p) => p,
        Err(e) => {
            println!(
                "kernel: cannot run {}: {} (errno {})",
                alloc::string::String::from_utf8_lossy(&path),
                e.message,
                e.errno.0
            );
            exit(exit_status::INIT_FAILED);
        }
    };
    let pid = crate::process::table::alloc_pid().expect("the first pid");
    let task = match crate::process::Task::new_user(pid, prog.mm, &prog.frame, false) {
        Ok(t) => t,
        Err(e) => panic!("pid 1: errno {}", e.0),
    };
    task.set_comm(&prog.name);
    crate::trace_event!(
        SchedProcessExec,
        task.pid(),
        task.pid(),
        crate::trace::comm_word(&task.comm, 0),
        crate::trace::comm_word(&task.comm, 1)
    );
    crate::process::table::register(&task);
    // Kernel threads after init, as Linux starts kthreadd (pid 2) after pid 1.
    crate::mailbox::init();
    // Fault injection (`fail=STAGE:N`) counts the program's clones only.
    if let Some((stage, n)) = fail {
        crate::fault_inject::arm(stage, n);
    }
    crate::sched::run(task.clone());
    exit(task.exit_reason().shell_status())
}

fn run(options: &Options, info: &BootInfo) -> ! {
    let n = cpu_count();
    if options.selftest_timer {
        let ticks = options.ticks;
        wait_until(|| (0..n).all(|c| cpu_get(c, ctr::CPU_TIMER_TICKS) >= ticks));
        for c in 0..n {
            println!("selftest timer: cpu {c}: {} ticks", cpu_get(c, ctr::CPU_TIMER_TICKS));
        }
    }
    if options.selftest_ipi && !smp::ipi_selftest() {
        exit(exit_status::SELFTEST_FAILED);
    }
    if options.hcfuzz > 0 && !crate::selftest::hcfuzz(options.hcfuzz, options.seed, info) {
        exit(exit_status::SELFTEST_FAILED);
    }
    if let Some((kind, cpu)) = options.fault {
        raise_fault(kind, cpu);
    }
    if options.hang {
        println!("kernel: hang requested; idling");
        wait_until(|| false);
    }
    exit(options.exit)
}

fn raise_fault(kind: FaultKind, cpu: usize) -> ! {
    if cpu >= cpu_count() {
        println!("kernel: fault=...@{cpu}: there is no cpu {cpu}");
        exit(exit_status::BAD_CMDLINE);
    }
    let (rip, cr2) = arch::fault::expected(kind);
    match kind.vector() {
        Some(v) => println!(
            "fault: raising vector {v} on cpu {cpu} at rip {rip:#x}{}",
            cr2.map(|a| alloc::format!(" cr2 {a:#x}")).unwrap_or_default()
        ),
        None if kind == FaultKind::TripleFault => println!(
            "fault: raising a triple fault on cpu {cpu}: vector 13 at rip {rip:#x} whose \
             handler then faults with no double-fault stack"
        ),
        None if kind == FaultKind::UserGs => {
            println!("fault: raising vector 6 with the user's GS base on cpu {cpu} at rip {rip:#x}")
        }
        None if kind == FaultKind::Lockup => {
            println!("fault: a lockup on cpu {cpu}: interrupts off, spinning at rip {rip:#x}")
        }
        None if kind == FaultKind::HaltLocked => {
            println!("fault: a lockup on cpu {cpu}: interrupts off, halted at rip {rip:#x}")
        }
        None => println!("fault: raising a panic on cpu {cpu}"),
    }
    if cpu == 0 {
        arch::fault::trigger(kind);
        println!("fault: {kind:?} did not fault");
        exit(exit_status::SELFTEST_FAILED);
    }
    smp::post_job(cpu, smp::Job::Fault(kind));
    halt_forever()
}

/// Fault on a secondary CPU (a posted job).
pub fn fault_here(kind: FaultKind) {
    arch::fault::trigger(kind);
    println!("fault: {kind:?} did not fault on cpu {}", cpu_id());
    exit(exit_status::SELFTEST_FAILED);
}

static PANIC_BUF: spin::Mutex<[u8; 1024]> = spin::Mutex::new([0; 1024]);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    arch::interrupts_disable();
    let cpu = cpu_id() as u32;
    // A panic inside a panic finds the buffer locked: report a fixed message.
    match PANIC_BUF.try_lock() {
        Some(mut buf) => {
            let len = {
                let mut w = SliceWriter { buf: &mut buf[..], len: 0 };
                let _ = core::fmt::write(&mut w, format_args!("{info}"));
                w.len
            };
            let report = PanicReport {
                cpu,
                _pad: 0,
                msg: arch::hypercall::gpa_of(&buf[0]),
                len: len as u64,
            };
            hypercall(Hypercall::Panic, &report);
        }
        None => {
            static NESTED: &[u8] = b"panic while panicking";
            let report = PanicReport {
                cpu,
                _pad: 0,
                msg: arch::hypercall::gpa_of(&NESTED[0]),
                len: NESTED.len() as u64,
            };
            hypercall(Hypercall::Panic, &report);
        }
    }
    halt_forever()
}

/// Formats into a fixed buffer, truncating.
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
