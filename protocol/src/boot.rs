//! Boot information and the guest-physical layout the VMM sets up.
//!
//! The VMM starts every vCPU directly in 64-bit mode with paging on, `rip` at the
//! kernel ELF's entry point, `rdi` = the direct-map virtual address of [`BootInfo`]
//! and `rsi` = the CPU's index. All RAM not covered by a loaded image or by the
//! structures below is zero when the first instruction runs (the guest relies on
//! this instead of clearing memory itself, which is expensive where ring 0 is
//! emulated).
//!
//! Page tables built by the VMM (2 MiB pages, Accessed and Dirty preset):
//! * the direct map: all RAM at [`PAGE_OFFSET`] + physical address (Linux's
//!   `page_offset_base`), read/write, no-execute;
//! * the kernel map: physical `[0, 1 GiB)` at [`KERNEL_MAP_BASE`] (Linux's
//!   `__START_KERNEL_map`), where the kernel is linked.
//!
//! The lower half is left unmapped for user address spaces.

/// `"KVMFORK1"` as a little-endian integer.
pub const BOOT_MAGIC: u64 = u64::from_le_bytes(*b"KVMFORK1");

/// Virtual base of the direct map of all physical memory (Linux: `page_offset_base`).
pub const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;
/// Virtual base of the kernel image map (Linux: `__START_KERNEL_map`).
pub const KERNEL_MAP_BASE: u64 = 0xffff_ffff_8000_0000;
/// Size of the kernel image map; the kernel must be loaded below this physical address.
pub const KERNEL_MAP_SIZE: u64 = 1 << 30;
/// The PML4 entries of the kernel half that the boot page tables fill, and
/// every address space shares: the direct map's and the kernel map's (one
/// entry maps 512 GiB, more than the largest RAM). The kernel takes them from
/// here instead of scanning the boot PML4 (32 reads of eight entries at boot
/// on hosts that emulate each).
pub const KERNEL_PML4_SLOTS: [usize; 2] = [pml4_index(PAGE_OFFSET), pml4_index(KERNEL_MAP_BASE)];

const fn pml4_index(virt: u64) -> usize {
    ((virt >> 39) & 511) as usize
}

/// Physical address the kernel is linked to load at.
pub const KERNEL_PHYS: u64 = 0x20_0000;

/// Guest-physical addresses of the boot structures (all below [`KERNEL_PHYS`]).
pub const BOOT_INFO_GPA: u64 = 0x1000;
pub const BOOT_INFO_SIZE: u64 = 0x1000;
/// [`crate::hypercall::StatusSlots`].
pub const STATUS_GPA: u64 = 0x2000;
/// The GDT the vCPUs start with (Linux's selector layout, see [`selectors`]).
pub const BOOT_GDT_GPA: u64 = 0x3000;
pub const CMDLINE_GPA: u64 = 0x4000;
pub const CMDLINE_MAX: u64 = 0x1000;
/// The first program's argv and envp strings.
pub const INIT_ARGS_GPA: u64 = 0x5000;
pub const INIT_ARGS_MAX: u64 = 0xb000;
/// [`crate::counters::CounterPage`].
pub const COUNTERS_GPA: u64 = 0x1_0000;
pub const COUNTERS_SIZE: u64 = 0xa000;
/// [`crate::mailbox::Mailbox`].
pub const MAILBOX_GPA: u64 = 0x1_a000;
pub const MAILBOX_SIZE: u64 = 0x6000;
/// Boot page tables: PML4, two PDPTs, then page directories for the direct map.
pub const PAGE_TABLES_GPA: u64 = 0x2_0000;
pub const PAGE_TABLES_END: u64 = 0x10_0000;
/// Start of the MMIO hole below 4 GiB (LAPIC/IOAPIC pages live in it).
pub const MMIO_HOLE_START: u64 = 3 << 30;
pub const MMIO_HOLE_END: u64 = 4 << 30;

/// Linux's x86-64 GDT layout. These hosts' KVM only switches modes correctly with
/// exactly these selectors (see docs/hosts.md); hardware KVM does not mind.
pub mod selectors {
    pub const KERNEL_CS: u16 = 0x10;
    pub const KERNEL_DS: u16 = 0x18;
    pub const USER32_CS: u16 = 0x23;
    pub const USER_DS: u16 = 0x2b;
    pub const USER_CS: u16 = 0x33;
    /// The TSS descriptor (16 bytes, GDT entries 8 and 9), as in Linux.
    pub const TSS: u16 = 0x40;
    /// Number of 8-byte GDT entries.
    pub const GDT_ENTRIES: usize = 16;

    /// Linux's boot GDT: null, kernel32 CS, kernel CS, kernel DS, user32 CS, user DS,
    /// user CS, (unused), then the TSS's two slots, which each CPU fills in.
    /// Access bytes have Accessed preset so the CPU never writes the table.
    pub const GDT: [u64; GDT_ENTRIES] = {
        let mut g = [0u64; GDT_ENTRIES];
        g[1] = 0x00cf_9b00_0000_ffff; // 0x08 kernel 32-bit code
        g[2] = 0x00af_9b00_0000_ffff; // 0x10 kernel 64-bit code
        g[3] = 0x00cf_9300_0000_ffff; // 0x18 kernel data
        g[4] = 0x00cf_fb00_0000_ffff; // 0x23 user 32-bit code
        g[5] = 0x00cf_f300_0000_ffff; // 0x2b user data
        g[6] = 0x00af_fb00_0000_ffff; // 0x33 user 64-bit code
        g
    };
}

/// What a range of guest-physical memory is.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MemoryKind {
    #[default]
    Usable = 1,
    /// Boot structures: boot info, status slots, counters, boot page tables.
    Boot = 2,
    /// The loaded kernel image, including its bss.
    Kernel = 3,
    /// The initramfs image.
    Initramfs = 4,
    /// The trace rings ([`crate::trace`]).
    Trace = 5,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryRegion {
    pub base: u64,
    pub len: u64,
    pub kind: MemoryKind,
    pub _pad: u32,
}

pub const MEM_MAP_MAX: usize = 16;

/// Written by the VMM at [`BOOT_INFO_GPA`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    pub magic: u64,
    pub abi_version: u32,
    /// Number of vCPUs; CPU indices are `0..cpu_count`, x2APIC id = index.
    pub cpu_count: u32,
    /// TSC frequency (from `KVM_GET_TSC_KHZ`).
    pub tsc_khz: u64,
    /// Frequency at which the local APIC timer counts with divide-by-1.
    pub apic_timer_hz: u64,
    /// Total bytes of RAM (the MMIO hole excluded).
    pub memory_bytes: u64,
    pub mem_map_len: u32,
    pub _pad: u32,
    pub mem_map: [MemoryRegion; MEM_MAP_MAX],
    pub cmdline_gpa: u64,
    pub cmdline_len: u64,
    pub initramfs_gpa: u64,
    pub initramfs_len: u64,
    pub counters_gpa: u64,
    pub counters_size: u64,
    pub status_gpa: u64,
    /// Physical range of the loaded kernel image (bss included).
    pub kernel_start: u64,
    pub kernel_end: u64,
    /// Host wall-clock time (ns since the epoch) when the VMM wrote this.
    pub realtime_ns: u64,
    /// Entropy from the host for the kernel's random number generator.
    pub random_seed: [u8; 32],
    /// The first program's argv and envp: NUL-terminated strings, back to back
    /// (`init_argv_len` bytes at `init_argv_gpa`; argv[0] is the path to run).
    /// `init_argv_len == 0`: no program; the kernel runs its boot self-tests only.
    pub init_argv_gpa: u64,
    pub init_argv_len: u64,
    pub init_envp_gpa: u64,
    pub init_envp_len: u64,
    /// The trace rings ([`crate::trace`]): `cpu_count` rings of
    /// `trace_ring_bytes` each (a multiple of 4 KiB) from `trace_gpa`.
    /// `trace_gpa == 0`: tracing is off.
    pub trace_gpa: u64,
    pub trace_ring_bytes: u64,
}

impl BootInfo {
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.mem_map[..(self.mem_map_len as usize).min(MEM_MAP_MAX)]
    }
}

/// The guest's memory policy, here so that the VMM's check of the smallest
/// RAM that can boot a given initramfs uses the guest's own numbers.
pub mod memory {
    const PAGE: u64 = 4096;
    const MIB: u64 = 1 << 20;

    /// The boot arena of the kernel heap for `memory_bytes` of RAM: 1/16 of
    /// it, between 1 and 64 MiB. The heap grows from the frame allocator
    /// beyond it; a larger boot arena keeps the first-fit allocator's walks
    /// over several arenas rare.
    pub const fn boot_heap_bytes(memory_bytes: u64) -> u64 {
        let sixteenth = memory_bytes / 16;
        let clamped = if sixteenth < MIB {
            MIB
        } else if sixteenth > 64 * MIB {
            64 * MIB
        } else {
            sixteenth
        };
        clamped & !(PAGE - 1)
    }

    /// Frames held back from user-driven allocations so that the kernel heap
    /// can still grow: 1/32 of `total_frames`, at least 512 (2 MiB), or 1/16
    /// in the smallest machines, which could not boot otherwise.
    pub const fn frame_reserve(total_frames: u64) -> u64 {
        let floor = if total_frames / 16 < 512 { total_frames / 16 } else { 512 };
        if total_frames / 32 > floor {
            total_frames / 32
        } else {
            floor
        }
    }

    /// Whether `memory_bytes` of RAM hold a kernel ending at `kernel_end`,
    /// an initramfs of `archive` bytes whose files take `files` bytes in
    /// whole pages, and `free` bytes more: the archive and the RAM fs's copy
    /// of its files at once, the heap's boot arena, the frame reserve, the
    /// frames' reference counts (4 bytes each); and the files within the RAM
    /// fs's capacity, half of RAM (Linux's tmpfs default).
    pub const fn fits(
        memory_bytes: u64,
        kernel_end: u64,
        archive: u64,
        files: u64,
        free: u64,
    ) -> bool {
        let frames = memory_bytes / PAGE;
        let overhead = boot_heap_bytes(memory_bytes) + frame_reserve(frames) * PAGE + frames * 4;
        kernel_end + archive + files + free + overhead <= memory_bytes && 2 * files <= memory_bytes
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn policy() {
            assert_eq!(boot_heap_bytes(8 * MIB), MIB);
            assert_eq!(boot_heap_bytes(256 * MIB), 16 * MIB);
            assert_eq!(boot_heap_bytes(4096 * MIB), 64 * MIB);
            assert_eq!(frame_reserve(2048), 128, "8 MiB: 1/16");
            assert_eq!(frame_reserve(65536), 2048, "256 MiB: 1/32");
            assert_eq!(frame_reserve(8192), 512, "32 MiB: 2 MiB");
            // 200 MiB of files measured on kvm_pvm: 450 MiB boots, 412 does not.
            let (kernel, archive, files) = (4600 << 10, 200 * MIB + 512, 200 * MIB);
            assert!(!fits(412 * MIB, kernel, archive, files, 2 * MIB));
            assert!(fits(450 * MIB, kernel, archive, files, 2 * MIB));
        }
    }
}
