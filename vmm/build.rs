//! Builds the guest kernel for x86_64-unknown-none and leaves it in OUT_DIR for
//! `include_bytes!`, so `cargo run` and `cargo test` need no extra step.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "build/userspace.rs"]
mod userspace;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for p in [
        "guest/src",
        "guest/Cargo.toml",
        "guest/build.rs",
        "guest/linker.ld",
        "protocol/src",
        "uapi/src",
        "uapi/Cargo.toml",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }

    ensure_guest_target();
    // KVMFORK_KERNEL_DEBUG=1: a kernel with debug assertions (the checks that
    // interrupts are off where a function requires it, among others), built
    // apart so that switching back and forth rebuilds nothing.
    println!("cargo:rerun-if-env-changed=KVMFORK_KERNEL_DEBUG");
    let debug = std::env::var("KVMFORK_KERNEL_DEBUG").is_ok_and(|v| v == "1");
    let mut args = vec!["--package", "guest", "--bin", "kernel", "--features", "kernel"];
    if debug {
        args.extend(["--config", "profile.kernel.debug-assertions=true"]);
    }
    let target_dir = out_dir.join(if debug { "guest-target-debug" } else { "guest-target" });
    // The kernel is linked at Linux's __START_KERNEL_map (top 2 GiB), not as PIE.
    nested_cargo_build(
        &root,
        &args,
        &target_dir,
        "-Ccode-model=kernel\x1f-Crelocation-model=static",
        "the guest kernel",
        true,
    );
    let kernel = target_dir.join("x86_64-unknown-none/kernel/kernel");
    std::fs::copy(&kernel, out_dir.join("kernel")).expect("copying the guest kernel");

    userspace::build(&root, &out_dir);
}

/// The guest target's standard library must be installed for the toolchain
/// that runs this build. rustup does not add `targets = [...]` from
/// rust-toolchain.toml to a toolchain that is already present,
/// so a fresh machine has the pinned toolchain without it; install it here, once.
fn ensure_guest_target() {
    const TARGET: &str = "x86_64-unknown-none";
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = &sysroot {
        if sysroot.join("lib/rustlib").join(TARGET).join("lib").is_dir() {
            return;
        }
    }
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok();
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", TARGET]);
    if let Some(t) = &toolchain {
        cmd.args(["--toolchain", t]);
    }
    println!("cargo:warning=installing the guest target {TARGET} with rustup (once per toolchain)");
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`rustup target add {TARGET}` failed ({s}); the guest kernel needs that target. \
             Install it by hand and build again."
        ),
        Err(e) => panic!(
            "the guest target {TARGET} is not installed and rustup could not be run ({e}); \
             install the target for toolchain {} and build again",
            toolchain.as_deref().unwrap_or("in use")
        ),
    }
}

/// Build for x86_64-unknown-none with the `kernel` profile in `target_dir`,
/// with exactly `rustflags` (CARGO_ENCODED_RUSTFLAGS); panics with `what`.
/// Settings of the outer build (host flags, clippy's wrapper, coverage) must
/// not leak into the nested one. `dwarf`: keep the profile's limited debug
/// information (the kernel's, for the profiler); without it the DWARF is
/// left out and only the symbol table stays (the user programs).
pub fn nested_cargo_build(
    root: &Path,
    args: &[&str],
    target_dir: &Path,
    rustflags: &str,
    what: &str,
    dwarf: bool,
) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .args(args)
        .args(["--target", "x86_64-unknown-none", "--profile", "kernel"])
        .arg("--target-dir")
        .arg(target_dir);
    for var in [
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "CARGO_PROFILE_KERNEL_DEBUG",
        "CARGO_PROFILE_KERNEL_STRIP",
    ] {
        cmd.env_remove(var);
    }
    if !dwarf {
        cmd.env("CARGO_PROFILE_KERNEL_DEBUG", "false")
            .env("CARGO_PROFILE_KERNEL_STRIP", "debuginfo");
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", rustflags);
    let status = cmd.status().unwrap_or_else(|e| panic!("running cargo to build {what}: {e}"));
    if !status.success() {
        panic!("building {what} failed ({status}); see the errors above");
    }
}
