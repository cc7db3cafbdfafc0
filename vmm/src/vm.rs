//! The VM object: KVM's VM fd and the guest memory it owns (its slots, the
//! in-kernel irqchip), and the boot structures written before any vCPU runs.

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Kvm, VmFd};
use protocol::boot::{
    selectors::GDT, BootInfo, MemoryKind, MemoryRegion, BOOT_GDT_GPA, BOOT_INFO_GPA, BOOT_MAGIC,
    CMDLINE_GPA, COUNTERS_GPA, COUNTERS_SIZE, INIT_ARGS_GPA, INIT_ARGS_MAX, MEM_MAP_MAX,
    STATUS_GPA,
};
use protocol::counters::{CounterPage, COUNTERS_MAGIC};
use vm_memory::{
    Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion,
    MemoryRegionAddress,
};

use std::sync::atomic::Ordering;

use crate::error::{Error, Result};
use crate::layout::{self, MIB};
use crate::pod;
use crate::trace::RawTrace;

/// Where KVM may put the real-mode TSS and identity page (Intel needs them even
/// for a guest that never leaves long mode); inside the MMIO hole.
const TSS_ADDRESS: usize = 0xfffb_d000;

/// The VM: KVM's VM object and the guest memory registered with it.
///
/// KVM reaches guest memory through the host addresses registered here for as
/// long as its VM exists, which is until the last fd that refers to it closes:
/// this VM fd, every vCPU fd, every statistics fd. The memory is unmapped only
/// after all of them are closed, by construction:
///
/// - fields drop in declaration order, so `fd` closes before `memory` unmaps;
/// - vCPU fds are created only by `vcpu::Vcpu::new`, straight into a `Vcpu`,
///   which holds an `Arc<Vm>` declared after its fd: the `Vm`, and so the
///   memory, outlives every vCPU fd;
/// - the statistics fds (`builder` opens them) live in `machine::Shared`,
///   declared before its `Arc<Vm>`.
///
/// (`GuestMemoryMmap` clones share one mapping, which lasts until the last
/// clone drops: a clone can only keep the memory mapped longer.)
pub struct Vm {
    // Declared first: closed before `memory` is unmapped (see above).
    fd: VmFd,
    memory: GuestMemoryMmap,
}

impl Vm {
    /// The guest's RAM, `bytes` of it, mapped in the VMM (not yet anyone's):
    /// the kernel can be loaded into it while [`Self::create`] registers it.
    pub fn guest_memory(bytes: u64) -> Result<GuestMemoryMmap> {
        let ranges: Vec<_> = layout::ram_ranges(bytes)
            .into_iter()
            .map(|(s, l)| (GuestAddress(s), l as usize))
            .collect();
        GuestMemoryMmap::from_ranges(&ranges)
            .map_err(|e| Error::MemoryAlloc { mib: bytes / MIB, reason: e.to_string() })
    }

    /// Create the VM with `memory` (from [`Self::guest_memory`]) registered
    /// with KVM.
    pub fn create(kvm: &Kvm, memory: GuestMemoryMmap) -> Result<Self> {
        let mib = memory.iter().map(|r| r.len()).sum::<u64>() / MIB;
        let alloc = |e: &dyn std::fmt::Display| Error::MemoryAlloc { mib, reason: e.to_string() };
        let fd = kvm.create_vm().map_err(Error::kvm("creating the VM"))?;
        // From here on the fd and the memory are one value, dropped in field
        // order even if a registration below fails.
        let vm = Self { fd, memory };
        for (slot, region) in vm.memory.iter().enumerate() {
            let host = region.get_host_address(MemoryRegionAddress(0)).map_err(|e| alloc(&e))?;
            let r = kvm_userspace_memory_region {
                slot: slot as u32,
                guest_phys_addr: region.start_addr().0,
                memory_size: region.len(),
                userspace_addr: host as u64,
                flags: 0,
            };
            // SAFETY: `host` is the start of `region`'s mapping of `region.len()`
            // bytes, owned by `vm.memory`, which stays mapped until every fd of this
            // VM is closed (the ownership rules in `Vm`'s documentation); the
            // regions of one `GuestMemoryMmap` do not overlap, in guest-physical
            // or host memory, and each gets its own slot.
            unsafe { vm.fd.set_user_memory_region(r) }
                .map_err(Error::kvm("registering guest memory"))?;
        }
        // The irqchip after the memory, not before (as KVM allows either way):
        // on kvm_pvm a memory slot registered after KVM_CREATE_IRQCHIP takes
        // 7.5 ms (its SRCU synchronisation waits out what the irqchip's
        // creation started), before it 0.15 ms, and the irqchip then 0.02 ms.
        // Measured on this host with a bare KVM_CREATE_VM, TSS, irqchip and
        // 256 MiB slot sequence; half the VMM's start-up before this change.
        vm.fd.set_tss_address(TSS_ADDRESS).map_err(Error::kvm("setting the TSS address"))?;
        vm.fd.create_irq_chip().map_err(Error::kvm("creating the in-kernel irqchip"))?;
        Ok(vm)
    }

    /// KVM's VM object (vCPUs are created from it; `KVM_SIGNAL_MSI` goes to it).
    pub fn fd(&self) -> &VmFd {
        &self.fd
    }

    pub fn memory(&self) -> &GuestMemoryMmap {
        &self.memory
    }

    /// Take the records of the `cpus` trace rings of `ring_bytes` at `gpa`
    /// into `raw` (the rings' consumer: `protocol::trace::consume`), while the
    /// guest may be writing them.
    pub fn drain_trace(&self, gpa: u64, ring_bytes: u64, cpus: u32, raw: &mut RawTrace) {
        raw.cpus.resize_with(cpus as usize, Vec::new);
        raw.dropped.resize(cpus as usize, 0);
        for cpu in 0..cpus as usize {
            let ring = GuestRing {
                mem: &self.memory,
                gpa: gpa + cpu as u64 * ring_bytes,
                bytes: ring_bytes,
            };
            raw.dropped[cpu] = protocol::trace::consume(&ring, &mut raw.cpus[cpu]);
        }
    }

    /// The guest's counter page, read now (a torn read is possible while vCPUs
    /// run: the counters are statistics).
    pub fn counters(&self) -> CounterPage {
        pod::read(&self.memory, COUNTERS_GPA).unwrap_or_default()
    }
}

/// A trace ring in guest memory, read and written as the guest does: aligned
/// 64-bit words with the orderings `protocol::trace` asks for.
struct GuestRing<'a> {
    mem: &'a GuestMemoryMmap,
    gpa: u64,
    bytes: u64,
}

impl protocol::trace::Words for GuestRing<'_> {
    fn load(&self, word: usize, order: Ordering) -> u64 {
        self.mem.load(GuestAddress(self.gpa + word as u64 * 8), order).unwrap_or(0)
    }
    fn store(&self, word: usize, value: u64, order: Ordering) {
        let _ = self.mem.store(value, GuestAddress(self.gpa + word as u64 * 8), order);
    }
    fn len(&self) -> usize {
        (self.bytes / 8) as usize
    }
}

/// Turn on `KVM_CAP_X86_TRIPLE_FAULT_EVENT` where the host has it: KVM then
/// reports a pending triple fault in `KVM_GET_VCPU_EVENTS` (crash reports).
pub fn enable_triple_fault_event(vm: &VmFd) -> crate::report::TripleFaultEvent {
    use crate::report::TripleFaultEvent;
    let cap = kvm_bindings::KVM_CAP_X86_TRIPLE_FAULT_EVENT;
    if vm.check_extension_raw(cap as libc::c_ulong) <= 0 {
        return TripleFaultEvent::Unsupported;
    }
    let mut enable = kvm_bindings::kvm_enable_cap { cap, ..Default::default() };
    enable.args[0] = 1;
    match vm.enable_cap(&enable) {
        Ok(()) => TripleFaultEvent::On,
        Err(e) => TripleFaultEvent::Off(e.to_string()),
    }
}

/// Everything the boot protocol promises to be in memory before the first
/// instruction: page tables, GDT, boot info, command line, counter page header.
pub struct BootParams<'a> {
    pub memory: u64,
    pub cpu_count: u32,
    pub tsc_khz: u64,
    pub kernel: (u64, u64),
    pub cmdline: &'a str,
    pub abi_version: u32,
    /// The first program's argv (argv[0] = its path in the guest) and envp.
    pub init: Option<(&'a [String], &'a [String])>,
    /// The initramfs image, placed at the top of RAM below 4 GiB.
    pub initramfs: &'a [u8],
    /// The local APIC timer's rate the kernel is told (it programs its tick
    /// from it): [`APIC_TIMER_HZ`], or more to stretch the tick.
    pub apic_timer_hz: u64,
    /// Bytes of each CPU's trace ring; 0: no tracing.
    pub trace_ring_bytes: u64,
}

/// NUL-terminated strings back to back.
fn nul_joined(strings: &[String]) -> Vec<u8> {
    strings.iter().flat_map(|s| s.bytes().chain(std::iter::once(0))).collect()
}

fn host_entropy() -> [u8; 32] {
    let mut seed = [0u8; 32];
    // SAFETY: getrandom writes at most `seed.len()` bytes into `seed`.
    let n = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
    if n != seed.len() as isize {
        // Fall back to the clock: the guest's generator is still seeded, if weakly.
        let t =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        seed[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
    }
    seed
}

/// KVM's local APIC timer counts at 1 GHz (`APIC_BUS_CYCLE_NS` = 1) with divide-by-1.
pub const APIC_TIMER_HZ: u64 = 1_000_000_000;

/// How much longer the kernel's tick is while it is profiled: the kernel is
/// told an APIC timer this much faster than KVM's, so its 10 ms tick comes
/// every 4 s. A single-stepped kernel runs 20 to 1,000 times slower than
/// normally (one VM exit per instruction); with the normal tick, timer
/// interrupts and the preemptions they cause would be most of what the
/// profile shows (a profiled `forkonce` ran 370 k ring-0 instructions against
/// 135 k unprofiled). 400 is the most the kernel's 32-bit timer count holds.
pub const PROFILE_TICK_STRETCH: u64 = 400;

/// Write the boot structures; where the trace rings are (0: none).
pub fn write_boot_structures(mem: &GuestMemoryMmap, p: &BootParams) -> Result<u64> {
    let fail = |e: vm_memory::GuestMemoryError| Error::MemoryAlloc {
        mib: p.memory / MIB,
        reason: e.to_string(),
    };
    for (gpa, table) in layout::page_tables(p.memory) {
        pod::write(mem, gpa, &*table).map_err(fail)?;
    }
    pod::write(mem, BOOT_GDT_GPA, &GDT).map_err(fail)?;
    mem.write_slice(p.cmdline.as_bytes(), GuestAddress(CMDLINE_GPA)).map_err(fail)?;

    let (argv, envp) = match p.init {
        Some((argv, envp)) => (nul_joined(argv), nul_joined(envp)),
        None => (Vec::new(), Vec::new()),
    };
    if (argv.len() + envp.len()) as u64 > INIT_ARGS_MAX {
        return Err(Error::InitArgsTooLong { len: argv.len() + envp.len(), max: INIT_ARGS_MAX });
    }
    mem.write_slice(&argv, GuestAddress(INIT_ARGS_GPA)).map_err(fail)?;
    let envp_gpa = INIT_ARGS_GPA + argv.len() as u64;
    mem.write_slice(&envp, GuestAddress(envp_gpa)).map_err(fail)?;
    let realtime_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);

    let initramfs_gpa = if p.initramfs.is_empty() {
        0
    } else {
        let low_end = layout::ram_ranges(p.memory)[0].1;
        let gpa = (low_end - p.initramfs.len() as u64) & !0xfff;
        mem.write_slice(p.initramfs, GuestAddress(gpa)).map_err(fail)?;
        gpa
    };
    let mut map = layout::memory_map(p.memory, p.kernel);
    if !p.initramfs.is_empty() {
        layout::reserve(&mut map, initramfs_gpa, p.initramfs.len() as u64, MemoryKind::Initramfs);
    }
    // The trace rings just below the initramfs (or the top of low RAM).
    let trace_bytes = p.trace_ring_bytes * u64::from(p.cpu_count);
    let trace_gpa = if trace_bytes == 0 {
        0
    } else {
        let below =
            if initramfs_gpa != 0 { initramfs_gpa } else { layout::ram_ranges(p.memory)[0].1 };
        let gpa = below.saturating_sub(trace_bytes) & !0xfff;
        layout::reserve(&mut map, gpa, trace_bytes, MemoryKind::Trace);
        gpa
    };
    let mut mem_map = [MemoryRegion::default(); MEM_MAP_MAX];
    mem_map[..map.len()].copy_from_slice(&map);
    let info = BootInfo {
        magic: BOOT_MAGIC,
        abi_version: p.abi_version,
        cpu_count: p.cpu_count,
        tsc_khz: p.tsc_khz,
        apic_timer_hz: p.apic_timer_hz,
        memory_bytes: p.memory,
        mem_map_len: map.len() as u32,
        _pad: 0,
        mem_map,
        cmdline_gpa: CMDLINE_GPA,
        cmdline_len: p.cmdline.len() as u64,
        initramfs_gpa,
        initramfs_len: p.initramfs.len() as u64,
        counters_gpa: COUNTERS_GPA,
        counters_size: COUNTERS_SIZE,
        status_gpa: STATUS_GPA,
        kernel_start: p.kernel.0,
        kernel_end: p.kernel.1,
        realtime_ns,
        random_seed: host_entropy(),
        init_argv_gpa: INIT_ARGS_GPA,
        init_argv_len: argv.len() as u64,
        init_envp_gpa: envp_gpa,
        init_envp_len: envp.len() as u64,
        trace_gpa,
        trace_ring_bytes: p.trace_ring_bytes,
    };
    pod::write(mem, BOOT_INFO_GPA, &info).map_err(fail)?;
    pod::write(mem, COUNTERS_GPA, &[COUNTERS_MAGIC, protocol::ABI_VERSION as u64]).map_err(fail)?;
    Ok(trace_gpa)
}
