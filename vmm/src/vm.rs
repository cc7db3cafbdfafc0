//! The VM object: guest memory and its KVM slots, the in-kernel irqchip, and the
//! boot structures written before any vCPU runs.

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

use crate::error::{Error, Result};
use crate::layout::{self, MIB};
use crate::pod;

/// Where KVM may put the real-mode TSS and identity page (Intel needs them even
/// for a guest that never leaves long mode); inside the MMIO hole.
const TSS_ADDRESS: usize = 0xfffb_d000;

/// Create the VM with `memory` bytes of RAM registered with KVM.
pub fn create(kvm: &Kvm, memory: u64) -> Result<(VmFd, GuestMemoryMmap)> {
    let vm = kvm.create_vm().map_err(Error::kvm("creating the VM"))?;
    vm.set_tss_address(TSS_ADDRESS).map_err(Error::kvm("setting the TSS address"))?;
    vm.create_irq_chip().map_err(Error::kvm("creating the in-kernel irqchip"))?;

    let ranges: Vec<_> = layout::ram_ranges(memory)
        .into_iter()
        .map(|(s, l)| (GuestAddress(s), l as usize))
        .collect();
    let mem = GuestMemoryMmap::from_ranges(&ranges)
        .map_err(|e| Error::MemoryAlloc { mib: memory / MIB, reason: e.to_string() })?;
    for (slot, region) in mem.iter().enumerate() {
        let host = region
            .get_host_address(MemoryRegionAddress(0))
            .map_err(|e| Error::MemoryAlloc { mib: memory / MIB, reason: e.to_string() })?;
        let r = kvm_userspace_memory_region {
            slot: slot as u32,
            guest_phys_addr: region.start_addr().0,
            memory_size: region.len(),
            userspace_addr: host as u64,
            flags: 0,
        };
        // SAFETY: the mapping behind `host` is owned by `mem`, which the VM keeps alive
        // (in `Shared`) for as long as the VM fd exists; regions do not overlap.
        unsafe { vm.set_user_memory_region(r) }.map_err(Error::kvm("registering guest memory"))?;
    }
    Ok((vm, mem))
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

/// The guest's counter page, read now (a torn read is possible while vCPUs run:
/// the counters are statistics).
pub fn read_counters(mem: &GuestMemoryMmap) -> CounterPage {
    pod::read(mem, COUNTERS_GPA).unwrap_or_default()
}

/// KVM's local APIC timer counts at 1 GHz (`APIC_BUS_CYCLE_NS` = 1) with divide-by-1.
pub const APIC_TIMER_HZ: u64 = 1_000_000_000;

pub fn write_boot_structures(mem: &GuestMemoryMmap, p: &BootParams) -> Result<()> {
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
    let mut mem_map = [MemoryRegion::default(); MEM_MAP_MAX];
    mem_map[..map.len()].copy_from_slice(&map);
    let info = BootInfo {
        magic: BOOT_MAGIC,
        abi_version: p.abi_version,
        cpu_count: p.cpu_count,
        tsc_khz: p.tsc_khz,
        apic_timer_hz: APIC_TIMER_HZ,
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
    };
    pod::write(mem, BOOT_INFO_GPA, &info).map_err(fail)?;
    pod::write(mem, COUNTERS_GPA, &[COUNTERS_MAGIC, protocol::ABI_VERSION as u64]).map_err(fail)?;
    Ok(())
}
