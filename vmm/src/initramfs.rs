//! Initramfs (cpio newc) writer.
