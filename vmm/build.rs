//! Builds the guest kernel for x86_64-unknown-none and leaves it in OUT_DIR for
//! `include_bytes!`, so `cargo run` and `cargo test` need no extra step.

use std::path::PathBuf;
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
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = out_dir.join("guest-target");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--package", "guest", "--bin", "kernel", "--features", "kernel"])
        .args(["--target", "x86_64-unknown-none", "--profile", "kernel"])
        .arg("--target-dir")
        .arg(&target_dir);
    // Settings of the outer build (host flags, clippy's wrapper, coverage) must not
    // leak into the kernel's.
    for var in [
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    // The kernel is linked at Linux's __START_KERNEL_map (top 2 GiB), not as PIE.
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Ccode-model=kernel\x1f-Crelocation-model=static");
    let status = cmd.status().expect("running cargo to build the guest kernel");
    if !status.success() {
        panic!("building the guest kernel failed ({status}); see the errors above");
    }
    let kernel = target_dir.join("x86_64-unknown-none/kernel/kernel");
    std::fs::copy(&kernel, out_dir.join("kernel")).expect("copying the guest kernel");

    userspace::build(&root, &out_dir);
}
