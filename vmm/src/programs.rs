//! The user-space test programs built by `build.rs` (see `userspace/`).
include!(concat!(env!("OUT_DIR"), "/programs.rs"));
