//! Guest-physical layout: RAM ranges, the memory map handed to the guest, and the
//! boot page tables. Pure functions over sizes and addresses.

use protocol::boot::{
    MemoryKind, MemoryRegion, KERNEL_MAP_BASE, KERNEL_MAP_SIZE, MEM_MAP_MAX, MMIO_HOLE_END,
    MMIO_HOLE_START, PAGE_OFFSET, PAGE_TABLES_END, PAGE_TABLES_GPA,
};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
const PAGE: u64 = 4096;
const HUGE: u64 = 2 * MIB;

/// RAM the kernel needs beyond its image (heap, frames, page tables).
pub const MIN_FREE_AFTER_KERNEL: u64 = 2 * MIB;

/// Page-table entry bits.
const PTE_P: u64 = 1;
const PTE_RW: u64 = 1 << 1;
const PTE_A: u64 = 1 << 5;
const PTE_D: u64 = 1 << 6;
const PTE_PS: u64 = 1 << 7;
const PTE_G: u64 = 1 << 8;
const PTE_NX: u64 = 1 << 63;

/// Page directories that fit in the boot page-table area (after PML4, two PDPTs
/// and the kernel map's PD): one per GiB of direct map.
const DIRECT_MAP_PDS: u64 = (PAGE_TABLES_END - PAGE_TABLES_GPA) / PAGE - 4;

/// The largest guest the layout can describe.
pub const MAX_MEMORY: u64 = 64 * GIB;
// One more PD than GiB of RAM: RAM above the MMIO hole is shifted up by 1 GiB.
const _: () = assert!(MAX_MEMORY / GIB < DIRECT_MAP_PDS);

/// RAM as (guest-physical start, length): below the MMIO hole, then above 4 GiB.
pub fn ram_ranges(memory: u64) -> Vec<(u64, u64)> {
    if memory <= MMIO_HOLE_START {
        vec![(0, memory)]
    } else {
        vec![(0, MMIO_HOLE_START), (MMIO_HOLE_END, memory - MMIO_HOLE_START)]
    }
}

/// The memory map for the guest: boot structures, the kernel, usable RAM.
pub fn memory_map(memory: u64, kernel: (u64, u64)) -> Vec<MemoryRegion> {
    let region = |base, len, kind| MemoryRegion { base, len, kind, _pad: 0 };
    let kernel_end = kernel.1.next_multiple_of(PAGE);
    let mut map = vec![
        region(0, kernel.0, MemoryKind::Boot),
        region(kernel.0, kernel_end - kernel.0, MemoryKind::Kernel),
    ];
    for (start, len) in ram_ranges(memory) {
        let (usable, end) = (start.max(kernel_end), start + len);
        if usable < end {
            map.push(region(usable, end - usable, MemoryKind::Usable));
        }
    }
    map.retain(|r| r.len > 0);
    map.truncate(MEM_MAP_MAX);
    map
}

/// Carve `[base, base + len)` (rounded out to pages) out of the usable regions of
/// `map` and mark it `kind`.
pub fn reserve(map: &mut Vec<MemoryRegion>, base: u64, len: u64, kind: MemoryKind) {
    let (start, end) = (base & !(PAGE - 1), (base + len).next_multiple_of(PAGE));
    let mut out = Vec::new();
    for r in map.drain(..) {
        let (rs, re) = (r.base, r.base + r.len);
        if r.kind != MemoryKind::Usable || re <= start || rs >= end {
            out.push(r);
            continue;
        }
        if rs < start {
            out.push(MemoryRegion { len: start - rs, ..r });
        }
        if re > end {
            out.push(MemoryRegion { base: end, len: re - end, ..r });
        }
    }
    out.push(MemoryRegion { base: start, len: end - start, kind, _pad: 0 });
    out.sort_by_key(|r| r.base);
    out.truncate(MEM_MAP_MAX);
    *map = out;
}

/// Smallest RAM (in MiB) that holds a kernel ending at `kernel_end` plus what it needs.
pub fn min_memory_mib(kernel_end: u64) -> u64 {
    (kernel_end + MIN_FREE_AFTER_KERNEL).div_ceil(MIB)
}

/// The boot page tables, as (guest-physical address, 4 KiB page contents).
///
/// * PML4[273] → direct map of all RAM at `PAGE_OFFSET` (2 MiB pages, NX).
/// * PML4[511] → PDPT[510] → physical [0, 1 GiB) at `KERNEL_MAP_BASE` (2 MiB pages).
///
/// Accessed and Dirty are preset so the CPU never writes the tables back (each
/// such write is an emulated instruction on these hosts).
pub fn page_tables(memory: u64) -> Vec<(u64, Box<[u64; 512]>)> {
    let pml4_gpa = PAGE_TABLES_GPA;
    let direct_pdpt_gpa = pml4_gpa + PAGE;
    let kernel_pdpt_gpa = pml4_gpa + 2 * PAGE;
    let kernel_pd_gpa = pml4_gpa + 3 * PAGE;
    let first_direct_pd = pml4_gpa + 4 * PAGE;
    let table = || Box::new([0u64; 512]);
    let idx = |virt: u64, level: u32| ((virt >> (12 + 9 * level)) & 511) as usize;

    let mut pml4 = table();
    let mut direct_pdpt = table();
    let mut kernel_pdpt = table();
    let mut kernel_pd = table();
    let link = PTE_P | PTE_RW | PTE_A;
    pml4[idx(PAGE_OFFSET, 3)] = direct_pdpt_gpa | link;
    pml4[idx(KERNEL_MAP_BASE, 3)] = kernel_pdpt_gpa | link;
    kernel_pdpt[idx(KERNEL_MAP_BASE, 2)] = kernel_pd_gpa | link;
    let leaf = PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS | PTE_G;
    for (i, pde) in kernel_pd.iter_mut().enumerate().take((KERNEL_MAP_SIZE / HUGE) as usize) {
        *pde = (i as u64 * HUGE) | leaf;
    }

    let mut out = Vec::new();
    let top = ram_ranges(memory).iter().map(|&(s, l)| s + l).max().unwrap_or(0);
    for gib in 0..top.div_ceil(GIB) {
        let mut pd = table();
        for (i, pde) in pd.iter_mut().enumerate() {
            let phys = gib * GIB + i as u64 * HUGE;
            let is_ram = ram_ranges(memory).iter().any(|&(s, l)| phys >= s && phys < s + l);
            if is_ram {
                *pde = phys | leaf | PTE_NX;
            }
        }
        let pd_gpa = first_direct_pd + gib * PAGE;
        direct_pdpt[gib as usize] = pd_gpa | link;
        out.push((pd_gpa, pd));
    }
    out.push((pml4_gpa, pml4));
    out.push((direct_pdpt_gpa, direct_pdpt));
    out.push((kernel_pdpt_gpa, kernel_pdpt));
    out.push((kernel_pd_gpa, kernel_pd));
    out
}

/// Software page walk over tables from [`page_tables`] (for tests).
#[cfg(test)]
pub fn translate(tables: &[(u64, Box<[u64; 512]>)], virt: u64) -> Option<u64> {
    let find = |gpa: u64| tables.iter().find(|(a, _)| *a == gpa).map(|(_, t)| t);
    let mut table = find(PAGE_TABLES_GPA)?;
    for level in (1..=3).rev() {
        let e = table[((virt >> (12 + 9 * level)) & 511) as usize];
        if e & PTE_P == 0 {
            return None;
        }
        let next = e & 0x000f_ffff_ffff_f000;
        if level == 1 {
            assert!(e & PTE_PS != 0);
            return Some((e & 0x000f_ffff_ffe0_0000) + (virt & (HUGE - 1)));
        }
        table = find(next)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_skips_the_mmio_hole() {
        assert_eq!(ram_ranges(256 * MIB), vec![(0, 256 * MIB)]);
        assert_eq!(ram_ranges(3 * GIB), vec![(0, 3 * GIB)]);
        assert_eq!(ram_ranges(5 * GIB), vec![(0, 3 * GIB), (4 * GIB, 2 * GIB)]);
    }

    #[test]
    fn memory_map_covers_ram_once() {
        let map = memory_map(256 * MIB, (0x20_0000, 0x40_0123));
        let kinds: Vec<_> = map.iter().map(|r| (r.base, r.len, r.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (0, 0x20_0000, MemoryKind::Boot),
                (0x20_0000, 0x20_1000, MemoryKind::Kernel),
                (0x40_1000, 256 * MIB - 0x40_1000, MemoryKind::Usable),
            ]
        );
        let map = memory_map(5 * GIB, (0x20_0000, 0x40_0000));
        assert_eq!(map.len(), 4);
        assert_eq!((map[3].base, map[3].len), (4 * GIB, 2 * GIB));
        let total: u64 = map.iter().map(|r| r.len).sum();
        assert_eq!(total, 5 * GIB);
    }

    #[test]
    fn page_tables_map_kernel_and_direct_map() {
        let t = page_tables(256 * MIB);
        assert_eq!(translate(&t, KERNEL_MAP_BASE + 0x20_1234), Some(0x20_1234));
        assert_eq!(translate(&t, PAGE_OFFSET + 0x1000), Some(0x1000));
        assert_eq!(translate(&t, PAGE_OFFSET + 255 * MIB), Some(255 * MIB));
        assert_eq!(translate(&t, PAGE_OFFSET + 256 * MIB), None);
        assert_eq!(translate(&t, 0x1000), None, "lower half stays unmapped");
        let t = page_tables(5 * GIB);
        assert_eq!(translate(&t, PAGE_OFFSET + 3 * GIB), None, "MMIO hole");
        assert_eq!(translate(&t, PAGE_OFFSET + 4 * GIB + 5), Some(4 * GIB + 5));
        assert!(t.iter().all(|(gpa, _)| *gpa >= PAGE_TABLES_GPA && *gpa < PAGE_TABLES_END));
    }

    /// The kernel takes the entries every address space shares from
    /// `KERNEL_PML4_SLOTS` instead of scanning the boot PML4.
    #[test]
    fn the_boot_pml4_fills_exactly_the_protocols_kernel_slots() {
        for memory in [6 * MIB, 256 * MIB, 5 * GIB, MAX_MEMORY] {
            let t = page_tables(memory);
            let (_, pml4) = t.iter().find(|(gpa, _)| *gpa == PAGE_TABLES_GPA).unwrap();
            let filled: Vec<usize> = (0..512).filter(|&i| pml4[i] != 0).collect();
            assert_eq!(filled, protocol::boot::KERNEL_PML4_SLOTS, "{memory} bytes");
        }
    }

    #[test]
    fn reserving_the_initramfs_splits_usable_ram() {
        let mut map = memory_map(256 * MIB, (0x20_0000, 0x40_0000));
        reserve(&mut map, 256 * MIB - 0x1800, 0x1800, MemoryKind::Initramfs);
        let kinds: Vec<_> = map.iter().map(|r| (r.base, r.len, r.kind)).collect();
        assert_eq!(kinds[2], (0x40_0000, 256 * MIB - 0x40_0000 - 0x2000, MemoryKind::Usable));
        assert_eq!(kinds[3], (256 * MIB - 0x2000, 0x2000, MemoryKind::Initramfs));
        let total: u64 = map.iter().map(|r| r.len).sum();
        assert_eq!(total, 256 * MIB);
    }

    #[test]
    fn minimum_memory() {
        assert_eq!(min_memory_mib(0x40_0000), 6);
        assert_eq!(min_memory_mib(0x40_0001), 7);
    }
}
