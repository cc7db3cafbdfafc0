//! Errors the VMM reports to its user. Each names what was wrong and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open {path}: {source}{hint}", path = path.display(), hint = kvm_open_hint(source))]
    KvmOpen { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a KVM device: {source}", path = path.display())]
    NotKvm { path: PathBuf, source: std::io::Error },
    #[error("KVM API version {0} is not supported (need 12)")]
    KvmApiVersion(i32),
    #[error("this KVM lacks a capability the VMM needs: {0}")]
    MissingCapability(&'static str),
    #[error("KVM error while {what}: {source}")]
    Kvm { what: &'static str, source: std::io::Error },
    #[error("cannot read kernel {path}: {source}", path = path.display())]
    KernelRead { path: PathBuf, source: std::io::Error },
    #[error("bad kernel ELF {what}: {reason}")]
    KernelElf { what: String, reason: String },
    #[error("guest memory of {have_mib} MiB is too small: the kernel image ends at {kernel_end_kib} KiB{}, so {need_mib} MiB are needed in all; use --memory {need_mib} or more", files_note(*files_kib))]
    MemoryTooSmall { have_mib: u64, need_mib: u64, kernel_end_kib: u64, files_kib: u64 },
    #[error("guest memory of {have_mib} MiB is too large: at most {max_mib} MiB")]
    MemoryTooLarge { have_mib: u64, max_mib: u64 },
    #[error("cannot allocate {mib} MiB of guest memory: {reason}")]
    MemoryAlloc { mib: u64, reason: String },
    #[error("{requested} vCPUs requested: between 1 and {max} are supported here")]
    VcpuCount { requested: u32, max: u32 },
    #[error("kernel command line is {len} bytes; at most {max}")]
    CmdlineTooLong { len: usize, max: u64 },
    #[error("the program's arguments and environment take {len} bytes; at most {max}")]
    InitArgsTooLong { len: usize, max: u64 },
    #[error("{0}")]
    Initramfs(String),
    #[error("cannot read {path}: {source}", path = path.display())]
    FileRead { path: PathBuf, source: std::io::Error },
    #[error("cannot start the vCPU thread: {0}")]
    Thread(std::io::Error),
    #[error("event loop: {0}")]
    EventLoop(String),
    #[error("mailbox: {0}")]
    Mailbox(String),
    #[error("cannot profile: {0}")]
    Profile(String),
    #[error("trace: {0}")]
    Trace(String),
}

fn kvm_open_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOENT) => {
            " (is KVM available? load kvm_intel/kvm_amd or run on a host with /dev/kvm)"
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            " (permission denied: add yourself to the 'kvm' group or run as root)"
        }
        _ => "",
    }
}

impl Error {
    pub(crate) fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
        move |e| Error::Kvm { what, source: std::io::Error::from_raw_os_error(e.errno()) }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The part of [`Error::MemoryTooSmall`]'s message about the initramfs.
fn files_note(files_kib: u64) -> String {
    if files_kib == 0 {
        return String::new();
    }
    format!(
        " and the initramfs's files take {files_kib} KiB (in RAM twice while the guest unpacks \
         them, and at most half of RAM in its RAM fs)"
    )
}
