//! Building a VM, as Firecracker's `builder`: check the configuration, create
//! the KVM objects (`Vm`, `Vcpu`s), load the kernel and write the boot
//! structures, then hand everything to a [`Vmm`] that starts the vCPUs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vmm_sys_util::eventfd::{EventFd, EFD_CLOEXEC, EFD_NONBLOCK};

use crate::control::Vmm;
use crate::debuginfo::Unwinder;
use crate::error::{Error, Result};
use crate::layout::{self, MAX_MEMORY, MIB};
use crate::loader::{self, DEFAULT_KERNEL};
use crate::machine::{ProfileSetup, Setup, Shared, TraceRings};
use crate::profile::Span;
use crate::stats::{StatsFile, StatsFiles};
use crate::vcpu::Vcpu;
use crate::vm::{self, Vm};
use crate::{initramfs, kvm, zpoline};

pub const DEFAULT_MEMORY_MIB: u64 = 256;
/// How long a guest CPU may take no timer interrupt before the VM is ended
/// as locked up. Linux's hard-lockup threshold is 10 s (`watchdog_thresh`),
/// but this kernel runs every system call with interrupts off, and a long
/// one (populating a GiB, where a 4 KiB zero costs ~0.3 ms of emulated ring 0)
/// may legitimately take tens of seconds on a slow host: a real lockup lasts
/// for ever, so a generous bound loses nothing.
pub const DEFAULT_LOCKUP_THRESHOLD: Duration = Duration::from_secs(60);

impl Vmm {
    /// Configure a VM; [`VmmBuilder::boot`] boots it.
    pub fn builder() -> VmmBuilder {
        VmmBuilder::new()
    }
}

#[derive(Clone, Debug)]
enum KernelSource {
    Embedded,
    Path(PathBuf),
}

/// Configures and boots a VM: [`Vmm::builder`] makes one.
#[derive(Clone, Debug)]
pub struct VmmBuilder {
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
    syscall_sites: bool,
    site_index: Option<Vec<u8>>,
    /// Profile the kernel: `Some(None)` the whole run, `Some(Some(span))` a span.
    profile: Option<Option<Span>>,
    /// Trace the guest's tracepoints into this file.
    trace: Option<PathBuf>,
    /// The lockup detector's threshold (None: off).
    lockup: Option<Duration>,
}

impl VmmBuilder {
    /// The defaults: one vCPU, [`DEFAULT_MEMORY_MIB`], the embedded kernel, no
    /// program, `/dev/kvm`.
    fn new() -> Self {
        Self {
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
            syscall_sites: true,
            site_index: None,
            profile: None,
            trace: None,
            lockup: Some(DEFAULT_LOCKUP_THRESHOLD),
        }
    }

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

    /// Ship the `syscall` sites of the program and the files that are static
    /// x86-64 executables (default on; see [`crate::zpoline`]): where `syscall`
    /// does not reach the guest kernel, exec patches them. Off, such programs
    /// end with SIGSYS there when they execute `syscall`.
    pub fn syscall_sites(mut self, on: bool) -> Self {
        self.syscall_sites = on;
        self
    }

    /// Profile every ring-0 instruction of the whole run with its call stack
    /// (`ExitReport::profile`; see [`crate::profile::Profile`]). Slow: one exit per
    /// kernel instruction (a few µs each).
    pub fn profile(mut self) -> Self {
        self.profile = Some(None);
        self
    }

    /// Profile only between the guest's counter snapshots labelled `from` and
    /// `to` (each `from` starts a span, the next `to` ends it).
    pub fn profile_span(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.profile = Some(Some(Span { from: from.into(), to: to.into() }));
        self
    }

    /// End the VM with `GuestExit::Lockup` when a
    /// guest CPU takes no timer interrupt for `threshold` (it spins or halts
    /// with interrupts off; see the `watchdog` module); None turns the
    /// detector off. Default [`DEFAULT_LOCKUP_THRESHOLD`].
    pub fn lockup_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.lockup = threshold;
        self
    }

    /// Record the guest's scheduler and process tracepoints (`protocol::trace`)
    /// and write them to `path` as Chrome trace-event JSON, which the Perfetto
    /// UI opens (see [`crate::trace`]); [`ExitReport::trace`] says how many
    /// events it got. The file is created before the guest boots (an
    /// unwritable path is an error then) and written when [`Vmm::wait`] ends.
    ///
    /// [`ExitReport::trace`]: crate::report::ExitReport::trace
    pub fn trace(mut self, path: impl AsRef<Path>) -> Self {
        self.trace = Some(path.as_ref().into());
        self
    }

    /// Ship these bytes as the `syscall` site index instead of the one the VMM
    /// computes (to test the guest's refusal of bad indexes).
    #[doc(hidden)]
    pub fn syscall_site_index(mut self, index: Vec<u8>) -> Self {
        self.site_index = Some(index);
        self
    }

    /// Pass another ABI version in the boot info (to test the guest's refusal).
    #[doc(hidden)]
    pub fn abi_version(mut self, v: u32) -> Self {
        self.abi_version = v;
        self
    }

    /// Check the configuration, create the VM and start its vCPUs.
    pub fn boot(self) -> Result<Vmm> {
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
        let profile = match &self.profile {
            None => None,
            Some(span) => Some(profile_setup(&image, span.clone(), self.vcpus)?),
        };
        let (initramfs, init_argv, file_bytes) = self.initramfs()?;
        let trace_ring_bytes =
            if self.trace.is_some() { protocol::trace::DEFAULT_RING_BYTES } else { 0 };
        let memory = self.memory_mib.checked_mul(MIB).filter(|&m| m <= MAX_MEMORY).ok_or(
            Error::MemoryTooLarge { have_mib: self.memory_mib, max_mib: MAX_MEMORY / MIB },
        )?;
        // The files are in RAM twice while the guest unpacks them: in the
        // archive and in its RAM fs, which holds at most half of RAM (as
        // Linux's tmpfs by default).
        let fits = |mib: u64| {
            protocol::boot::memory::fits(
                mib * MIB,
                kernel.phys_end,
                initramfs.len() as u64,
                file_bytes,
                layout::MIN_FREE_AFTER_KERNEL + trace_ring_bytes * u64::from(self.vcpus),
            )
        };
        let need_mib = (layout::min_memory_mib(kernel.phys_end)..=MAX_MEMORY / MIB)
            .find(|&mib| fits(mib))
            .unwrap_or(MAX_MEMORY / MIB + 1);
        if self.memory_mib < need_mib {
            return Err(Error::MemoryTooSmall {
                have_mib: self.memory_mib,
                need_mib,
                kernel_end_kib: kernel.phys_end.div_ceil(1024),
                files_kib: file_bytes.div_ceil(1024),
            });
        }
        if self.cmdline.len() as u64 > protocol::boot::CMDLINE_MAX {
            return Err(Error::CmdlineTooLong {
                len: self.cmdline.len(),
                max: protocol::boot::CMDLINE_MAX,
            });
        }

        if let Some(path) = &self.trace {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| Error::Trace(format!("cannot write {}: {e}", path.display())))?;
        }

        let kvm = kvm::open(&self.kvm_path)?;
        let max = kvm::max_vcpus(&kvm);
        if self.vcpus > max {
            return Err(Error::VcpuCount { requested: self.vcpus, max });
        }
        // Three things at once, each up to a millisecond or two on kvm_pvm:
        // KVM_GET_SUPPORTED_CPUID (0.7 ms) and loading the kernel into the
        // guest's memory (0.55 ms: its pages are touched for the first time)
        // on two threads, while this one creates the VM and registers the
        // memory (0.75-2 ms, KVM sets up its per-page arrays for the slot).
        // The loader writes through its own handle on the same mapping (a
        // clone: see `Vm` on why that is sound).
        let guest_memory = Vm::guest_memory(memory)?;
        let (supported_cpuid, vm, triple_fault_event) = std::thread::scope(|s| {
            let cpuid = s.spawn(|| Vcpu::supported_cpuid(&kvm));
            let (target, what, image) = (guest_memory.clone(), &what, &image);
            let load = s.spawn(move || loader::load(what, image, &target));
            let vm = Vm::create(&kvm, guest_memory).map(Arc::new).map(|vm| {
                let event = vm::enable_triple_fault_event(vm.fd());
                (vm, event)
            });
            let cpuid = cpuid.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            let loaded = load.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            vm.and_then(|(vm, event)| {
                loaded?;
                Ok((cpuid?, vm, event))
            })
        })?;

        // Close-on-exec, as every fd the VMM opens: a host program started by
        // another thread must not inherit it (tests/boot.rs checks them all).
        let exit_evt = EventFd::new(EFD_NONBLOCK | EFD_CLOEXEC)
            .map_err(|source| Error::Kvm { what: "creating an eventfd", source })?;
        let evt = exit_evt
            .try_clone()
            .map_err(|source| Error::Kvm { what: "cloning an eventfd", source })?;
        let vcpus = (0..self.vcpus)
            .map(|i| Vcpu::new(&kvm, &vm, &supported_cpuid, i, self.vcpus, kernel.entry))
            .collect::<Result<Vec<_>>>()?;
        let stats = StatsFiles {
            vm: StatsFile::open(vm.fd()).ok(),
            vcpus: vcpus.iter().map(Vcpu::stats_file).collect::<Result<_>>()?,
        };
        let tsc_khz = vcpus[0].tsc_khz()? as u64;
        let trace_gpa = vm::write_boot_structures(
            vm.memory(),
            &vm::BootParams {
                memory,
                cpu_count: self.vcpus,
                tsc_khz,
                kernel: (kernel.phys_start, kernel.phys_end),
                cmdline: &self.cmdline,
                abi_version: self.abi_version,
                init: init_argv.as_ref().map(|argv| (argv.as_slice(), self.env.as_slice())),
                initramfs: &initramfs,
                apic_timer_hz: match profile {
                    Some(_) => vm::APIC_TIMER_HZ * vm::PROFILE_TICK_STRETCH,
                    None => vm::APIC_TIMER_HZ,
                },
                trace_ring_bytes,
            },
        )?;
        let trace = self.trace.clone().map(|path| TraceRings {
            gpa: trace_gpa,
            ring_bytes: trace_ring_bytes,
            path,
        });

        let shared = Shared::new(Setup {
            vm,
            stats,
            cpu_count: self.vcpus,
            kernel_end: kernel.phys_end,
            tsc_khz,
            echo_console: self.echo_console,
            started: self.started,
            exit_evt: evt,
            kernel_image: image,
            triple_fault_event,
            profile,
            trace,
        });
        Vmm::start(shared, vcpus, exit_evt, self.lockup)
    }
}

/// What the profiler needs from the kernel `image`.
fn profile_setup(image: &[u8], span: Option<Span>, vcpus: u32) -> Result<ProfileSetup> {
    if let Some(s) = &span {
        if s.from == s.to {
            return Err(Error::Profile(format!(
                "the span's first and last snapshot labels are the same ({:?})",
                s.from
            )));
        }
    }
    let unwinder = Unwinder::new(image).map_err(Error::Profile)?;
    let trap_common = unwinder.symbol("trap_common");
    let entries = [trap_common, unwinder.symbol("syscall_entry")].into_iter().flatten().collect();
    Ok(ProfileSetup {
        image: image.into(),
        unwinder: Arc::new(unwinder),
        entries,
        trap_common,
        span,
        // Where stepping them leaves the vCPU halted for good (`stepover`).
        carry_out_misstepped: vcpus > 1 && crate::host::KvmKind::detect().emulates_ring0(),
    })
}

impl VmmBuilder {
    /// The initramfs image (the program and the extra files), pid 1's argv,
    /// and what the files take in the guest's RAM fs (whole pages).
    fn initramfs(&self) -> Result<(Vec<u8>, Option<Vec<String>>, u64)> {
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
            if guest == protocol::sites::INDEX_PATH {
                return Err(Error::Initramfs(format!(
                    "guest path {guest} is reserved for the VMM's syscall site index"
                )));
            }
            entries.push(initramfs::load_file(host, guest).map_err(err)?);
        }
        // Where each static executable executes `syscall` itself, for the
        // guest's zpoline (one decode per file, about 7 ms for busybox).
        let index = match &self.site_index {
            Some(index) => Some(index.clone()),
            None if self.syscall_sites => {
                let tables: Vec<zpoline::Table> =
                    entries.iter().filter_map(|e| zpoline::table_for(&e.path, &e.data)).collect();
                (!tables.is_empty()).then(|| zpoline::index(&tables))
            }
            None => None,
        };
        if let Some(data) = index {
            let path = protocol::sites::INDEX_PATH.to_string();
            entries.push(initramfs::Entry { path, mode: 0o600, data });
        }
        if entries.is_empty() {
            return Ok((Vec::new(), argv, 0));
        }
        let file_bytes = entries.iter().map(|e| (e.data.len() as u64).next_multiple_of(4096)).sum();
        Ok((initramfs::build(&entries).map_err(err)?, argv, file_bytes))
    }
}
