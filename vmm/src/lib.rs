//! A KVM virtual machine monitor for the `guest` kernel.
//!
//! One library API serves the CLI, the tests and the benchmarks:
//!
//! ```no_run
//! let vm = vmm::Vm::builder().vcpus(2).memory_mib(256).cmdline("selftest=ipi").boot()?;
//! let report = vm.wait(Some(std::time::Duration::from_secs(30)))?;
//! assert_eq!(report.exit, vmm::GuestExit::Status(0));
//! # Ok::<(), vmm::Error>(())
//! ```
//!
//! Layout, as in Firecracker: one file per KVM object (`kvm`, `vm`, `vcpu`), CPU
//! setup (`cpuid`, `regs`), the guest layout (`layout`), the loader, the pure exit
//! dispatcher (`exit`) and hypercall dispatcher (`hypercall`), KVM statistics
//! (`stats`) and the event loop (`event_loop`).

mod cpuid;
mod error;
mod event_loop;
mod exit;
mod hypercall;
pub mod initramfs;
mod kvm;
mod layout;
mod loader;
mod machine;
mod mailbox;
mod pod;
pub mod programs;
mod regs;
mod report;
mod stats;
mod vcpu;
mod vm;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_ioctls::VmFd;
use protocol::counters::CounterPage;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use vmm_sys_util::signal::Killable;

pub use error::{Error, Result};
pub use exit::EXIT_REASONS;
pub use layout::{MAX_MEMORY, MIB};
pub use mailbox::{Command, Reply};
pub use protocol;
pub use protocol::mailbox::{ProcEntry, FAULT_STAGES};
pub use report::{ExitReport, GuestExit, ReadyMark, Snapshot};
pub use stats::KvmStats;

use exit::ExitCounts;
use machine::Shared;
use vcpu::Vcpu;

/// The guest kernel built by `build.rs` and embedded in this binary.
pub static DEFAULT_KERNEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kernel"));

pub const DEFAULT_MEMORY_MIB: u64 = 256;

#[derive(Clone, Debug)]
enum KernelSource {
    Embedded,
    Path(PathBuf),
}

/// Configures and boots a VM. See [`Vm::builder`].
#[derive(Clone, Debug)]
pub struct VmBuilder {
    /// The first program (host path) and its arguments, run as pid 1.
    program: Option<(PathBuf, Vec<String>)>,
    /// Extra files: (host path, guest path).
    files: Vec<(PathBuf, String)>,
    env: Vec<String>,
    vcpus: u32,
    memory_mib: u64,
    kernel: KernelSource,
    cmdline: String,
    kvm_path: PathBuf,
    echo_console: bool,
    started: Instant,
    abi_version: u32,
}

pub struct Vm;

impl Vm {
    pub fn builder() -> VmBuilder {
        VmBuilder {
            program: None,
            files: Vec::new(),
            env: vec!["HOME=/".into(), "TERM=linux".into(), "PATH=/bin".into()],
            vcpus: 1,
            memory_mib: DEFAULT_MEMORY_MIB,
            kernel: KernelSource::Embedded,
            cmdline: String::new(),
            kvm_path: PathBuf::from("/dev/kvm"),
            echo_console: false,
            started: Instant::now(),
            abi_version: protocol::ABI_VERSION,
        }
    }
}

impl VmBuilder {
    /// Run `path` (a static x86-64 ELF on the host) as pid 1 with `args`. It is
    /// packed into the initramfs as `/bin/NAME` and gets `argv[0] = /bin/NAME`;
    /// its exit status becomes the VM's (death by signal N: 128 + N).
    pub fn program<S: AsRef<str>>(mut self, path: impl AsRef<Path>, args: &[S]) -> Self {
        let args = args.iter().map(|a| a.as_ref().to_string()).collect();
        self.program = Some((path.as_ref().into(), args));
        self
    }

    /// Put host file `host` into the guest at `guest` (an absolute path).
    pub fn file(mut self, host: impl AsRef<Path>, guest: impl Into<String>) -> Self {
        self.files.push((host.as_ref().into(), guest.into()));
        self
    }

    /// Add `KEY=VALUE` to the program's environment (default HOME, TERM, PATH).
    pub fn env(mut self, kv: impl Into<String>) -> Self {
        self.env.push(kv.into());
        self
    }

    pub fn vcpus(mut self, n: u32) -> Self {
        self.vcpus = n;
        self
    }

    pub fn memory_mib(mut self, mib: u64) -> Self {
        self.memory_mib = mib;
        self
    }

    /// Boot this kernel ELF instead of the embedded one.
    pub fn kernel(mut self, path: impl AsRef<Path>) -> Self {
        self.kernel = KernelSource::Path(path.as_ref().into());
        self
    }

    pub fn cmdline(mut self, cmdline: impl Into<String>) -> Self {
        self.cmdline = cmdline.into();
        self
    }

    /// The KVM device to open (default `/dev/kvm`).
    pub fn kvm_path(mut self, path: impl AsRef<Path>) -> Self {
        self.kvm_path = path.as_ref().into();
        self
    }

    /// Copy the guest's console output to stdout as it arrives (the CLI does).
    pub fn echo_console(mut self, echo: bool) -> Self {
        self.echo_console = echo;
        self
    }

    /// The moment boot timings are measured from (default: when `builder()` ran).
    pub fn started_at(mut self, t: Instant) -> Self {
        self.started = t;
        self
    }

    /// Pass another ABI version in the boot info (to test the guest's refusal).
    #[doc(hidden)]
    pub fn abi_version(mut self, v: u32) -> Self {
        self.abi_version = v;
        self
    }

    /// Check the configuration, create the VM and start its vCPUs.
    pub fn boot(self) -> Result<RunningVm> {
        if self.vcpus == 0 {
            return Err(Error::VcpuCount { requested: 0, max: protocol::MAX_CPUS as u32 });
        }
        let (what, image) = match &self.kernel {
            KernelSource::Embedded => {
                ("(embedded kernel)".to_string(), std::borrow::Cow::Borrowed(DEFAULT_KERNEL))
            }
            KernelSource::Path(p) => (
                p.display().to_string(),
                std::borrow::Cow::Owned(
                    std::fs::read(p)
                        .map_err(|source| Error::KernelRead { path: p.clone(), source })?,
                ),
            ),
        };
        let kernel = loader::inspect(&what, &image)?;
        let (initramfs, init_argv) = self.initramfs()?;
        let memory = self.memory_mib.checked_mul(MIB).filter(|&m| m <= MAX_MEMORY).ok_or(
            Error::MemoryTooLarge { have_mib: self.memory_mib, max_mib: MAX_MEMORY / MIB },
        )?;
        let need_mib = layout::min_memory_mib(kernel.phys_end + initramfs.len() as u64);
        if self.memory_mib < need_mib {
            return Err(Error::MemoryTooSmall {
                have_mib: self.memory_mib,
                need_mib,
                kernel_end_kib: kernel.phys_end.div_ceil(1024),
            });
        }
        if self.cmdline.len() as u64 > protocol::boot::CMDLINE_MAX {
            return Err(Error::CmdlineTooLong {
                len: self.cmdline.len(),
                max: protocol::boot::CMDLINE_MAX,
            });
        }

        let kvm = kvm::open(&self.kvm_path)?;
        let max = kvm::max_vcpus(&kvm);
        if self.vcpus > max {
            return Err(Error::VcpuCount { requested: self.vcpus, max });
        }
        let (vm_fd, memory_map) = vm::create(&kvm, memory)?;
        loader::load(&what, &image, &memory_map)?;

        let exit_evt = EventFd::new(EFD_NONBLOCK)
            .map_err(|source| Error::Kvm { what: "creating an eventfd", source })?;
        let evt = exit_evt
            .try_clone()
            .map_err(|source| Error::Kvm { what: "cloning an eventfd", source })?;
        let mut shared = Shared::new(memory_map, self.vcpus, self.echo_console, self.started, evt);
        let mut vcpus = Vec::new();
        for i in 0..self.vcpus {
            let v = Vcpu::new(&kvm, &vm_fd, i, self.vcpus, kernel.entry)?;
            shared.vcpu_stats.push(
                stats::StatsFile::open(v.fd())
                    .map_err(|source| Error::Kvm { what: "opening vCPU statistics", source })?,
            );
            vcpus.push(v);
        }
        shared.vm_stats = stats::StatsFile::open(&vm_fd).ok();
        let tsc_khz = vcpus[0].tsc_khz()? as u64;
        shared.tsc_khz = tsc_khz;
        vm::write_boot_structures(
            &shared.memory,
            &vm::BootParams {
                memory,
                cpu_count: self.vcpus,
                tsc_khz,
                kernel: (kernel.phys_start, kernel.phys_end),
                cmdline: &self.cmdline,
                abi_version: self.abi_version,
                init: init_argv.as_ref().map(|argv| (argv.as_slice(), self.env.as_slice())),
                initramfs: &initramfs,
            },
        )?;

        let shared = Arc::new(shared);
        let mut threads = Vec::new();
        for v in vcpus {
            match v.spawn(shared.clone()) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let vm = RunningVm { shared, threads, exit_evt, vm_fd };
                    vm.stop();
                    return Err(e);
                }
            }
        }
        Ok(RunningVm { shared, threads, exit_evt, vm_fd })
    }
}

impl VmBuilder {
    /// The initramfs image (the program and the extra files) and pid 1's argv.
    fn initramfs(&self) -> Result<(Vec<u8>, Option<Vec<String>>)> {
        let err = |e: initramfs::InitramfsError| Error::Initramfs(e.to_string());
        let mut entries = Vec::new();
        let mut argv = None;
        if let Some((path, args)) = &self.program {
            let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                Error::Initramfs(format!("program path {} has no file name", path.display()))
            })?;
            let guest = format!("/bin/{name}");
            let image = std::fs::read(path)
                .map_err(|source| Error::FileRead { path: path.clone(), source })?;
            entries.push(initramfs::Entry { path: guest.clone(), mode: 0o755, data: image });
            argv = Some(std::iter::once(guest).chain(args.iter().cloned()).collect());
        }
        for (host, guest) in &self.files {
            entries.push(initramfs::load_file(host, guest).map_err(err)?);
        }
        if entries.is_empty() {
            return Ok((Vec::new(), argv));
        }
        Ok((initramfs::build(&entries).map_err(err)?, argv))
    }
}

/// A booted VM whose vCPUs are running.
pub struct RunningVm {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<ExitCounts>>,
    exit_evt: EventFd,
    // Kept open for as long as the vCPUs run.
    vm_fd: VmFd,
}

impl RunningVm {
    /// The guest's counter page, read now without stopping the guest.
    pub fn counters(&self) -> CounterPage {
        vm::read_counters(&self.shared.memory)
    }

    /// KVM's statistics for the VM and each vCPU, now.
    pub fn kvm_stats(&self) -> KvmStats {
        self.shared.kvm_stats()
    }

    /// Post a command to the guest's control mailbox and wait for its answer
    /// (up to 30 s). The guest carries it out in its kernel thread `kmailboxd`,
    /// which runs once the first program has started; a command posted earlier
    /// waits for it.
    pub fn command(&self, cmd: &Command) -> Result<Reply> {
        mailbox::post(&self.shared, &self.vm_fd, cmd)
    }

    /// When the guest reported ready, if it has.
    pub fn ready(&self) -> Option<ReadyMark> {
        self.shared.ready()
    }

    /// Run the event loop until the guest ends or `timeout` passes, then stop every
    /// vCPU and report.
    pub fn wait(self, timeout: Option<Duration>) -> Result<ExitReport> {
        let timed_out = event_loop::run_until_exit(&self.exit_evt, timeout)?;
        if timed_out {
            self.shared.finish(GuestExit::Timeout(timeout.unwrap_or_default()));
        }
        let shared = self.shared.clone();
        let exits = self.stop();
        Ok(shared.report(exits))
    }

    /// Stop and join every vCPU thread; their exit counts.
    fn stop(self) -> Vec<ExitCounts> {
        self.shared.finish(GuestExit::Crashed {
            cpu: 0,
            rip: 0,
            reason: "stopped by the VMM".into(),
        });
        for t in &self.threads {
            let _ = t.kill(vcpu::kick_signal());
        }
        self.threads.into_iter().map(|t| t.join().unwrap_or_default()).collect()
    }
}
