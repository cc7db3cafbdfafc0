//! Which kind of KVM this machine has, for what depends on it.
//!
//! Most of what the VMM and its tests check holds on every KVM. One thing does
//! not: KVM's `insn_emulation` statistic counts the instructions KVM's own
//! emulator ran. Where ring 0 is emulated (`kvm_pvm`, a KVM for hosts without
//! hardware virtualization), that is every kernel instruction the guest executes,
//! which makes it a measure of kernel path length. On Intel VMX and AMD SVM ring 0
//! runs on the CPU and the count is only what KVM happened to emulate (some port
//! I/O or MMIO), possibly zero. Tests assert ring-0 instruction counts only where
//! [`KvmKind::emulates_ring0`] says so (see docs/hwvirt-lanes.md).
//!
//! The kind is read from the kernel modules behind `/dev/kvm`: `/sys/module/NAME`
//! exists for a loaded module (and for a built-in one with parameters). Only one
//! vendor module can drive KVM at a time; `kvm_pvm` wins when present (it is
//! never part of a distribution kernel), otherwise the module matching the CPU's
//! `vmx` or `svm` flag in `/proc/cpuinfo`.

use std::path::Path;

/// The vendor module behind `/dev/kvm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvmKind {
    /// `kvm_pvm`: ring 0 emulated one instruction at a time.
    Pvm,
    /// `kvm_intel`: Intel VMX.
    Vmx,
    /// `kvm_amd`: AMD SVM.
    Svm,
    /// None of these could be identified (no `/sys`, another vendor module).
    Unknown,
}

impl KvmKind {
    /// The kind of this machine's KVM.
    pub fn detect() -> KvmKind {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        detect_in(Path::new("/sys/module"), &cpuinfo)
    }

    /// Whether KVM emulates the guest's ring 0, so that `insn_emulation` counts
    /// its kernel instructions.
    pub fn emulates_ring0(self) -> bool {
        self == KvmKind::Pvm
    }

    /// The kernel module's name.
    pub fn module(self) -> &'static str {
        match self {
            KvmKind::Pvm => "kvm_pvm",
            KvmKind::Vmx => "kvm_intel",
            KvmKind::Svm => "kvm_amd",
            KvmKind::Unknown => "unknown",
        }
    }
}

/// `detect` with the module directory and the text of `/proc/cpuinfo` given.
fn detect_in(sys_module: &Path, cpuinfo: &str) -> KvmKind {
    let loaded = |m: &str| sys_module.join(m).is_dir();
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .map_or("", |(_, f)| f);
    let has_flag = |f: &str| flags.split_whitespace().any(|x| x == f);
    if loaded("kvm_pvm") {
        KvmKind::Pvm
    } else if loaded("kvm_intel") && has_flag("vmx") {
        KvmKind::Vmx
    } else if loaded("kvm_amd") && has_flag("svm") {
        KvmKind::Svm
    } else {
        KvmKind::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys(modules: &[&str]) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vmm-host-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for m in modules {
            std::fs::create_dir_all(dir.join(m).join("parameters")).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const AMD: &str = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu vme svm npt lm\n";
    const INTEL: &str = "vendor_id\t: GenuineIntel\nflags\t\t: fpu vme vmx ept lm\n";
    const NEITHER: &str = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu vme lm hypervisor\n";

    #[test]
    fn the_module_behind_dev_kvm() {
        let cases: &[(&[&str], &str, KvmKind)] = &[
            (&["kvm", "kvm_pvm"], NEITHER, KvmKind::Pvm),
            (&["kvm", "kvm_amd"], AMD, KvmKind::Svm),
            (&["kvm", "kvm_intel"], INTEL, KvmKind::Vmx),
            // A built-in kvm_intel that found no VMX next to the kvm_amd that runs.
            (&["kvm", "kvm_amd", "kvm_intel"], AMD, KvmKind::Svm),
            (&["kvm", "kvm_intel", "kvm_pvm"], INTEL, KvmKind::Pvm),
            (&["kvm"], AMD, KvmKind::Unknown),
            (&[], NEITHER, KvmKind::Unknown),
        ];
        for (modules, cpuinfo, want) in cases {
            let dir = sys(modules);
            assert_eq!(detect_in(&dir, cpuinfo), *want, "{modules:?}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn only_pvm_emulates_ring0() {
        assert!(KvmKind::Pvm.emulates_ring0());
        for k in [KvmKind::Vmx, KvmKind::Svm, KvmKind::Unknown] {
            assert!(!k.emulates_ring0(), "{k:?}");
        }
        assert_eq!(KvmKind::Svm.module(), "kvm_amd");
    }
}
