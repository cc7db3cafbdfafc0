//! The guest kernel.
//!
//! `arch` holds every `unsafe` block and every line of assembly; the rest reads as
//! ordinary safe Rust. Modules without hardware access (`cmdline`, `mm::frame`,
//! `console`, `hcfuzz`) also build for the host, where `cargo test` runs their unit
//! tests.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod cmdline;
pub mod console;
pub mod counters;
pub mod errno;
pub mod exec;
pub mod fs;
pub mod hcfuzz;
pub mod mm;
pub mod random;
pub mod time;

#[cfg(target_os = "none")]
pub mod arch;
#[cfg(target_os = "none")]
mod kernel;
#[cfg(target_os = "none")]
mod mailbox;
pub mod process;
pub mod sched;
#[cfg(target_os = "none")]
mod selftest;
#[cfg(target_os = "none")]
mod smp;
#[cfg(target_os = "none")]
pub mod syscall;
#[cfg(target_os = "none")]
mod trap;
#[cfg(target_os = "none")]
pub mod uaccess;
