//! Bad input gets a clear error, through the library and the CLI alike.

mod common;

use std::path::PathBuf;

use vmm::{Error, Vmm, DEFAULT_KERNEL};

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmm-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn boot_err(b: vmm::VmmBuilder) -> Error {
    match b.boot() {
        Ok(_) => panic!("boot should have failed"),
        Err(e) => e,
    }
}

#[test]
fn missing_kvm_device() {
    let e = boot_err(Vmm::builder().kvm_path("/nonexistent/kvm"));
    assert!(matches!(e, Error::KvmOpen { .. }), "{e}");
    assert!(e.to_string().contains("No such file or directory"), "{e}");
    assert!(e.to_string().contains("is KVM available?"), "{e}");
}

#[test]
fn a_device_that_is_not_kvm() {
    let e = boot_err(Vmm::builder().kvm_path("/dev/null"));
    assert!(matches!(e, Error::NotKvm { .. }), "{e}");
    assert!(e.to_string().contains("/dev/null is not a KVM device"), "{e}");
}

#[test]
fn no_permission_on_dev_kvm() {
    // Run the CLI as an unprivileged user (nobody); /dev/kvm is then not accessible.
    let o = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_vmm"),
            "run",
        ])
        .output()
        .expect("setpriv (util-linux) runs the VMM as another user");
    let err = common::stderr(&o);
    if std::fs::metadata("/dev/kvm")
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o006 != 0)
        .unwrap_or(false)
    {
        // /dev/kvm is open to everyone here: nobody may use it, and the run succeeds.
        assert!(o.status.success(), "{err}");
        return;
    }
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot open /dev/kvm: Permission denied"), "{err}");
    assert!(err.contains("'kvm' group"), "{err}");
}

#[test]
fn missing_kernel_file() {
    let e = boot_err(Vmm::builder().kernel("/nonexistent/kernel.elf"));
    assert!(matches!(e, Error::KernelRead { .. }), "{e}");
}

/// Where the file data of the kernel's last loadable segment ends (the DWARF
/// the profiler reads follows it: cutting there leaves a bootable kernel).
fn loaded_end(elf: &[u8]) -> usize {
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&ph| elf[ph..ph + 4] == 1u32.to_le_bytes()) // PT_LOAD
        .map(|ph| u64_at(ph + 8) + u64_at(ph + 32))
        .max()
        .expect("the kernel has loadable segments")
}

#[test]
fn truncated_kernel() {
    for len in [10, 40, 100, loaded_end(DEFAULT_KERNEL) / 2] {
        let p = temp_file(&format!("truncated-{len}"), &DEFAULT_KERNEL[..len]);
        let e = boot_err(Vmm::builder().kernel(&p));
        assert!(matches!(e, Error::KernelElf { .. }), "{len}: {e}");
        assert!(e.to_string().contains("truncated"), "{len}: {e}");
    }
}

#[test]
fn kernel_for_another_architecture() {
    let mut image = DEFAULT_KERNEL.to_vec();
    image[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    let e = boot_err(Vmm::builder().kernel(temp_file("aarch64", &image)));
    assert!(e.to_string().contains("built for AArch64 (e_machine 183), not x86-64"), "{e}");
    let e = boot_err(Vmm::builder().kernel(temp_file("script", b"#!/bin/sh\necho hi\n")));
    assert!(e.to_string().contains("not an ELF file"), "{e}");
}

#[test]
fn memory_too_small_or_too_large() {
    let e = boot_err(Vmm::builder().memory_mib(4));
    assert!(matches!(e, Error::MemoryTooSmall { have_mib: 4, .. }), "{e}");
    assert!(e.to_string().contains("use --memory"), "{e}");
    let e = boot_err(Vmm::builder().memory_mib(1 << 40));
    assert!(matches!(e, Error::MemoryTooLarge { .. }), "{e}");
}

#[test]
fn smallest_memory_that_is_accepted_boots() {
    let need = match boot_err(Vmm::builder().memory_mib(1)) {
        Error::MemoryTooSmall { need_mib, .. } => need_mib,
        e => panic!("{e}"),
    };
    let r = Vmm::builder().memory_mib(need).cmdline("quiet").boot().unwrap();
    let r = r.wait(Some(common::TIMEOUT)).unwrap();
    assert_eq!(r.exit, vmm::GuestExit::Status(0), "{}", common::explain(&r));
}

/// Issue 12, item 5: an initramfs that does not fit is refused by the VMM in
/// words, counting its files twice (archive and RAM fs) and the guest's own
/// reservations; the memory it asks for then boots and unpacks it.
#[test]
fn an_initramfs_that_does_not_fit_names_the_memory_it_needs() {
    let big = temp_file("big24", &vec![0x5a; 24 << 20]);
    let hello = vmm::programs::path("hello");
    let b = || {
        Vmm::builder()
            .memory_mib(40)
            .cmdline("quiet")
            .file(&big, "/big")
            .program(hello, &[] as &[&str])
    };
    let need = match boot_err(b()) {
        Error::MemoryTooSmall { need_mib, files_kib, .. } => {
            // 24 MiB and the program, in whole pages.
            assert!(files_kib > 24 << 10 && files_kib < 25 << 10, "{files_kib} KiB");
            need_mib
        }
        e => panic!("{e}"),
    };
    let e = boot_err(b()).to_string();
    assert!(e.contains("the initramfs's files take 245"), "{e}");
    assert!(e.contains(&format!("use --memory {need} or more")), "{e}");
    let r = b().memory_mib(need).boot().unwrap().wait(Some(common::TIMEOUT)).unwrap();
    assert_eq!(r.exit, vmm::GuestExit::Status(0), "{}", common::explain(&r));
}

#[test]
fn vcpu_counts() {
    let e = boot_err(Vmm::builder().vcpus(0));
    assert!(matches!(e, Error::VcpuCount { requested: 0, .. }), "{e}");
    let e = boot_err(Vmm::builder().vcpus(10_000));
    assert!(matches!(e, Error::VcpuCount { requested: 10_000, .. }), "{e}");
}

#[test]
fn command_line_too_long_or_unknown() {
    let e = boot_err(Vmm::builder().cmdline("x".repeat(5000)));
    assert!(matches!(e, Error::CmdlineTooLong { len: 5000, .. }), "{e}");
    let r = common::run(1, "quiet selftest=bogus");
    let want = vmm::GuestExit::Status(vmm::protocol::exit_status::BAD_CMDLINE);
    assert_eq!(r.exit, want, "{}", common::explain(&r));
    assert!(
        r.console.contains("bad command line: bad value 'bogus' for 'selftest'"),
        "{}",
        r.console
    );
}

#[test]
fn cli_reports_each_error_with_exit_code_1() {
    let bad = temp_file("notelf", b"hello");
    for (args, text) in [
        (vec!["run", "--kvm", "/nonexistent"], "cannot open /nonexistent"),
        (vec!["run", "--memory", "3"], "too small"),
        (vec!["run", "--vcpus", "0"], "0 vCPUs requested"),
        (vec!["run", "--kernel", bad.to_str().unwrap()], "not an ELF file"),
    ] {
        let o = common::vmm(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(common::stderr(&o).contains(text), "{args:?}: {}", common::stderr(&o));
    }
}
