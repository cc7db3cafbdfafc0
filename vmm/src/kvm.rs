//! The KVM system object: opening the device and checking what it can do.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use kvm_ioctls::{Cap, Kvm};

use crate::error::{Error, Result};

/// Capabilities the VMM relies on, with the name shown when one is missing.
pub const REQUIRED_CAPS: &[(Cap, &str)] = &[
    (Cap::Irqchip, "KVM_CAP_IRQCHIP (in-kernel interrupt controller)"),
    (Cap::UserMemory, "KVM_CAP_USER_MEMORY"),
    (Cap::SetTssAddr, "KVM_CAP_SET_TSS_ADDR"),
    (Cap::ExtCpuid, "KVM_CAP_EXT_CPUID"),
    (Cap::MpState, "KVM_CAP_MP_STATE"),
    (Cap::ImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"),
    (Cap::GetTscKhz, "KVM_CAP_GET_TSC_KHZ"),
];

/// The first required capability `has` says is missing.
pub fn check_capabilities(has: impl Fn(Cap) -> bool) -> Result<()> {
    match REQUIRED_CAPS.iter().find(|(cap, _)| !has(*cap)) {
        Some((_, name)) => Err(Error::MissingCapability(name)),
        None => Ok(()),
    }
}

/// Open the KVM device at `path` and check its API version and capabilities.
pub fn open(path: &Path) -> Result<Kvm> {
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::KvmOpen {
        path: path.into(),
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    })?;
    let kvm = Kvm::new_with_path(&cpath).map_err(|e| Error::KvmOpen {
        path: path.into(),
        source: std::io::Error::from_raw_os_error(e.errno()),
    })?;
    // KVM_GET_API_VERSION fails with ENOTTY on anything that is not /dev/kvm.
    let version = kvm.get_api_version();
    if version < 0 {
        return Err(Error::NotKvm { path: path.into(), source: std::io::Error::last_os_error() });
    }
    if version != 12 {
        return Err(Error::KvmApiVersion(version));
    }
    check_capabilities(|cap| kvm.check_extension(cap))?;
    Ok(kvm)
}

/// Most vCPUs this KVM and the ABI allow.
pub fn max_vcpus(kvm: &Kvm) -> u32 {
    (kvm.get_max_vcpus() as u32).min(protocol::MAX_CPUS as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_missing_capability_is_named() {
        assert!(check_capabilities(|_| true).is_ok());
        for (missing, name) in REQUIRED_CAPS {
            let err = check_capabilities(|c| c as u32 != *missing as u32).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("this KVM lacks a capability the VMM needs: {name}")
            );
        }
    }
}
