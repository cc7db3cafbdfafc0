//! File systems: the initramfs (cpio newc) and the RAM file system it unpacks into.
pub mod attr;
pub mod cgroupfs;
pub mod cpio;
pub mod file;
pub mod namespace;
pub mod pipe;
pub mod proc;
pub mod ramfs;

#[cfg(target_os = "none")]
mod kernel_fs;

#[cfg(target_os = "none")]
pub use kernel_fs::*;
