//! The user-space test programs built by `build.rs` (see `userspace/` and
//! `vmm/build/userspace.rs`): Rust programs by their bin name (`hello`), C
//! programs by their file name (`hello_c`). `path("hello")` is the absolute path
//! of the static ELF executable, which runs on Linux as is.
include!(concat!(env!("OUT_DIR"), "/programs.rs"));
