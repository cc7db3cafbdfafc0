//! Register state of a vCPU entering the kernel directly in 64-bit mode, as the
//! boot protocol (`protocol::boot`) promises. Pure: builds the structures only.

use kvm_bindings::{kvm_fpu, kvm_msr_entry, kvm_regs, kvm_segment, kvm_sregs};
use protocol::boot::selectors::{GDT_ENTRIES, KERNEL_CS, KERNEL_DS};
use protocol::boot::{BOOT_GDT_GPA, BOOT_INFO_GPA, PAGE_OFFSET, PAGE_TABLES_GPA};

const CR0_PE: u64 = 1;
const CR0_MP: u64 = 1 << 1;
const CR0_ET: u64 = 1 << 4;
const CR0_NE: u64 = 1 << 5;
const CR0_WP: u64 = 1 << 16;
const CR0_AM: u64 = 1 << 18;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_PGE: u64 = 1 << 7;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const EFER_SCE: u64 = 1;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;

pub const MSR_IA32_APIC_BASE: u32 = 0x1b;
pub const MSR_IA32_MISC_ENABLE: u32 = 0x1a0;
const APIC_BASE_ADDR: u64 = 0xfee0_0000;
const APIC_BASE_BSP: u64 = 1 << 8;
const APIC_BASE_EXTD: u64 = 1 << 10;
const APIC_BASE_EN: u64 = 1 << 11;
const MISC_ENABLE_FAST_STRING: u64 = 1;

fn segment(selector: u16, code: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: if code { 0xb } else { 0x3 },
        present: 1,
        dpl: 0,
        db: if code { 0 } else { 1 },
        s: 1,
        l: if code { 1 } else { 0 },
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

/// Special registers for 64-bit mode with the VMM's boot page tables.
pub fn long_mode_sregs(mut sregs: kvm_sregs) -> kvm_sregs {
    sregs.cs = segment(KERNEL_CS, true);
    let data = segment(KERNEL_DS, false);
    (sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss) = (data, data, data, data, data);
    sregs.tr = kvm_segment { limit: 0x67, type_: 0xb, present: 1, ..Default::default() };
    sregs.ldt = kvm_segment { type_: 0x2, present: 1, ..Default::default() };
    sregs.gdt.base = PAGE_OFFSET + BOOT_GDT_GPA;
    sregs.gdt.limit = (GDT_ENTRIES * 8 - 1) as u16;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    sregs.cr3 = PAGE_TABLES_GPA;
    sregs.cr4 = CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    sregs.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    sregs
}

/// General registers: `rip` = entry, `rdi` = boot info, `rsi` = CPU index.
pub fn boot_regs(entry: u64, cpu: u32) -> kvm_regs {
    kvm_regs {
        rip: entry,
        rdi: PAGE_OFFSET + BOOT_INFO_GPA,
        rsi: cpu as u64,
        rflags: 0x2,
        ..Default::default()
    }
}

/// x87/SSE state at reset (FCW 0x37f, MXCSR 0x1f80), for user programs later.
pub fn boot_fpu() -> kvm_fpu {
    kvm_fpu { fcw: 0x37f, mxcsr: 0x1f80, ..Default::default() }
}

/// MSRs: the local APIC enabled in x2APIC mode (BSP flag on CPU 0), fast strings.
pub fn boot_msrs(cpu: u32) -> Vec<kvm_msr_entry> {
    let bsp = if cpu == 0 { APIC_BASE_BSP } else { 0 };
    vec![
        kvm_msr_entry {
            index: MSR_IA32_APIC_BASE,
            data: APIC_BASE_ADDR | APIC_BASE_EN | APIC_BASE_EXTD | bsp,
            ..Default::default()
        },
        kvm_msr_entry {
            index: MSR_IA32_MISC_ENABLE,
            data: MISC_ENABLE_FAST_STRING,
            ..Default::default()
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_mode_is_consistent() {
        let s = long_mode_sregs(kvm_sregs::default());
        assert_eq!(s.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
        assert_ne!(s.cr0 & CR0_PG, 0);
        assert_ne!(s.cr4 & CR4_PAE, 0);
        assert_eq!((s.cs.l, s.cs.db, s.cs.selector), (1, 0, 0x10));
        assert_eq!(s.ss.selector, 0x18);
        // The GDT entry behind each selector describes the same segment.
        let gdt = protocol::boot::selectors::GDT;
        assert_eq!(gdt[(s.cs.selector / 8) as usize] >> 53 & 1, 1, "L bit");
        assert_eq!(gdt[(s.ds.selector / 8) as usize] >> 40 & 0xff, 0x93);
    }

    #[test]
    fn apic_base_marks_only_the_bsp() {
        assert_ne!(boot_msrs(0)[0].data & APIC_BASE_BSP, 0);
        assert_eq!(boot_msrs(1)[0].data & APIC_BASE_BSP, 0);
        assert_ne!(boot_msrs(1)[0].data & APIC_BASE_EXTD, 0);
    }
}
