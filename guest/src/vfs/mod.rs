//! What joins the file systems (`fs`) to the processes (`process`): path
//! lookup across a task's mounts (`namei`), the proc file system's
//! contents over the task table (`proc`), and proc's mount at boot.

pub mod cgroup;
pub mod namei;
pub mod proc;

/// Mount proc on `/proc` (boot, after `fs::mount_root`): Linux leaves this
/// to init, but here init is the test program, so the kernel does it for it
/// (as `mount -t proc proc /proc` would: "rw,relatime").
pub fn mount_proc_at_boot() -> Result<(), alloc::string::String> {
    let ino = crate::fs::with_fs(|fs| fs.lookup(crate::fs::ramfs::ROOT_INO, "/proc"))
        .map_err(|e| alloc::format!("/proc: errno {}", e.0))?;
    let ns = crate::process::table::init_nsproxy().mnt_ns.clone();
    let mut table = ns.table.lock();
    let root = table.root().id;
    let fs = proc::proc_fs_type(crate::process::table::init_pid_ns());
    table
        .add(root, ino, fs, "proc", 0)
        .map(|_| ())
        .map_err(|e| alloc::format!("mounting proc: errno {}", e.0))
}
