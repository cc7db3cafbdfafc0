//! CPUID for each vCPU: KVM's supported set, with the topology and features this
//! guest relies on made explicit.

use kvm_bindings::kvm_cpuid_entry2;

const LEAF_FEATURES: u32 = 1;
const LEAF_EXT_TOPOLOGY: u32 = 0xb;
const LEAF_V2_EXT_TOPOLOGY: u32 = 0x1f;

const ECX_X2APIC: u32 = 1 << 21;
const ECX_HYPERVISOR: u32 = 1 << 31;
const EDX_APIC: u32 = 1 << 9;

/// Adjust KVM's supported CPUID entries for vCPU `cpu` of `count`.
pub fn patch(entries: &mut [kvm_cpuid_entry2], cpu: u32, count: u32) {
    for e in entries.iter_mut() {
        match e.function {
            LEAF_FEATURES => {
                // Initial APIC id in EBX[31:24], logical processor count in EBX[23:16].
                e.ebx = (e.ebx & 0x0000_ffff) | (cpu << 24) | ((count.min(255)) << 16);
                e.ecx |= ECX_X2APIC | ECX_HYPERVISOR;
                e.edx |= EDX_APIC;
            }
            LEAF_EXT_TOPOLOGY | LEAF_V2_EXT_TOPOLOGY => {
                // x2APIC id of this logical processor.
                e.edx = cpu;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_and_x2apic() {
        let mut entries = vec![
            kvm_cpuid_entry2 { function: 1, ebx: 0xff00_0800, ..Default::default() },
            kvm_cpuid_entry2 { function: 0xb, index: 0, edx: 9, ..Default::default() },
            kvm_cpuid_entry2 { function: 7, ebx: 5, ..Default::default() },
        ];
        patch(&mut entries, 3, 4);
        assert_eq!(entries[0].ebx, 0x0304_0800);
        assert_ne!(entries[0].ecx & ECX_X2APIC, 0);
        assert_eq!(entries[1].edx, 3);
        assert_eq!(entries[2].ebx, 5);
    }
}
