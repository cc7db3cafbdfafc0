fn main() {
    // The kernel binary is linked at Linux's __START_KERNEL_map; host builds of the
    // library (unit tests) need nothing.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        println!("cargo:rustc-link-arg-bin=kernel=-T{dir}/linker.ld");
        println!("cargo:rerun-if-changed=linker.ld");
    }
}
