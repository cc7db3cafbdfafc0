//! File systems: the initramfs (cpio newc) and the RAM file system it unpacks into.
pub mod cpio;
pub mod ramfs;
