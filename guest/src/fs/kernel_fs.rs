//! The kernel's root file system instance: the initramfs unpacked into a RAM
//! file system at boot, with `/tmp` and `/dev/console`.

use crate::fs::ramfs::{self, Ino, RamFs, ROOT_INO};

static ROOTFS: spin::Mutex<Option<RamFs>> = spin::Mutex::new(None);

/// Inode number of `/`.
pub fn root_ino() -> u64 {
    ROOT_INO
}

/// Run `f` on the root file system.
pub fn with_fs<R>(f: impl FnOnce(&mut RamFs) -> R) -> R {
    let mut guard = ROOTFS.lock();
    f(guard.as_mut().expect("the root file system is mounted at boot"))
}

/// The last descriptor of an open file on `ino` went away.
pub fn release_inode(ino: u64) {
    if let Some(fs) = ROOTFS.lock().as_mut() {
        let _ = fs.close_dec(ino);
    }
}

/// The last descriptor of a file open for writing on `ino` went away (Linux
/// `put_write_access` in `__fput`, then the inode's release).
pub fn release_writer(ino: u64) {
    if let Some(fs) = ROOTFS.lock().as_mut() {
        fs.put_write_access(ino);
        let _ = fs.close_dec(ino);
    }
}

/// One exec's program file (Linux `mm->exe_file`): while it exists, its
/// inode is held and opening it for writing or truncating it is ETXTBSY;
/// exec of a file open for writing is ETXTBSY. The address space exec made
/// holds it, and fork's copies share it (Linux takes one denial per address
/// space in `dup_mm_exe_file`; one per exec, ended with the last address
/// space that has it, refuses the same writers and costs a fork an atomic
/// increment instead of a file-system lookup).
pub struct DeniedWrites(Ino);

impl DeniedWrites {
    /// Deny writers to `ino` for a new program (Linux
    /// `exe_file_deny_write_access` from `do_open_execat`).
    pub fn deny(
        fs: &mut RamFs,
        ino: Ino,
    ) -> Result<alloc::sync::Arc<DeniedWrites>, crate::errno::Errno> {
        fs.deny_write_access(ino)?;
        Ok(alloc::sync::Arc::new(DeniedWrites(ino)))
    }
}

impl crate::mm::address_space::ExeFile for DeniedWrites {
    fn ino(&self) -> u64 {
        self.0
    }
}

impl Drop for DeniedWrites {
    fn drop(&mut self) {
        if let Some(fs) = ROOTFS.lock().as_mut() {
            fs.allow_write_access(self.0);
        }
    }
}

/// Another reference to `ino` (a working directory).
pub fn acquire_inode(ino: u64) {
    if let Some(fs) = ROOTFS.lock().as_mut() {
        let _ = fs.open_inc(ino);
    }
}

/// `/dev/console`'s device number (Linux: 5, 1).
pub const CONSOLE_RDEV: u64 = ramfs::makedev(5, 1);
/// `/dev/null`'s device number (Linux: 1, 3).
pub const NULL_RDEV: u64 = ramfs::makedev(1, 3);
/// `/dev/counters`: a misc device (major 10) in the locally-assigned minor range.
pub const COUNTERS_RDEV: u64 = ramfs::makedev(10, 240);

/// Mount the root file system: unpack `initramfs` but its member `skip` (as
/// the archive names it; "" skips nothing), then make sure `/tmp` (1777),
/// `/dev/console`, `/dev/null` and `/dev/counters` exist. `capacity` bounds the file data it holds.
pub fn mount_root(
    initramfs: &[u8],
    skip: &str,
    capacity: u64,
    now_ns: u64,
) -> Result<usize, alloc::string::String> {
    let mut fs = RamFs::new(capacity);
    fs.set_time(now_ns);
    let files = if initramfs.is_empty() {
        0
    } else {
        fs.unpack_cpio_except(initramfs, skip).map_err(|e| alloc::format!("{e}"))?
    };
    let ensure_dir =
        |fs: &mut RamFs, path: &str, mode: u32| -> Result<Ino, alloc::string::String> {
            match fs.lookup(ROOT_INO, path) {
                Ok(ino) => Ok(ino),
                Err(_) => {
                    let (parent, name) = fs
                        .lookup_parent(ROOT_INO, path)
                        .map_err(|e| alloc::format!("{path}: errno {}", e.0))?;
                    fs.mkdir(parent, &name, mode)
                        .map_err(|e| alloc::format!("{path}: errno {}", e.0))
                }
            }
        };
    let tmp = ensure_dir(&mut fs, "/tmp", 0o1777)?;
    ensure_dir(&mut fs, "/proc", 0o555)?;
    let _ = fs.chmod(tmp, 0o1777);
    let dev = ensure_dir(&mut fs, "/dev", 0o755)?;
    if fs.lookup(dev, "console").is_err() {
        fs.mknod(dev, "console", ramfs::S_IFCHR | 0o600, CONSOLE_RDEV)
            .map_err(|e| alloc::format!("/dev/console: errno {}", e.0))?;
    }
    if fs.lookup(dev, "null").is_err() {
        fs.mknod(dev, "null", ramfs::S_IFCHR | 0o666, NULL_RDEV)
            .map_err(|e| alloc::format!("/dev/null: errno {e}"))?;
    }
    if fs.lookup(dev, "counters").is_err() {
        fs.mknod(dev, "counters", ramfs::S_IFCHR | 0o600, COUNTERS_RDEV)
            .map_err(|e| alloc::format!("/dev/counters: errno {}", e.0))?;
    }
    *ROOTFS.lock() = Some(fs);
    Ok(files)
}
