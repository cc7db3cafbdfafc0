//! The guest kernel.
//!
//! `arch` holds every `unsafe` block and every line of assembly; the rest reads as
//! ordinary safe Rust. Modules without hardware access (`cmdline`, `mm::frame`,
//! `console`, `hcfuzz`) also build for the host, where `cargo test` runs their unit
//! tests.
//!
//! # Layers
//!
//! The modules form layers that only point down: a module uses modules of its
//! own layer and of the layers before it in this table, never one after it.
//! Lower layers that must call up (the trap entry calling the system-call
//! table, the scheduler asking whether a signal is pending) call what the
//! upper layer registered with them. `cargo test -p guest --test layers`
//! reads this table and every path in `src/` (`use` trees, `crate::`,
//! `super::`, paths in macro arguments, exported macros) and names each one that
//! points up; `docs/architecture.md` explains the order.
//!
//! | layer | modules | what |
//! |---|---|---|
//! | lib | `errno` `hcfuzz` `random` `slab` | plain logic, no hardware |
//! | arch | `arch` `counters` `cmdline` `fault_inject` | the CPU, the VMM's interface (the counter page at its fixed address, the command line, fault injection), every `unsafe` block (in `arch` alone) |
//! | services | `console` `time` `uaccess` `trace` | the console, clocks, typed user-memory access, tracepoints |
//! | mm | `mm` | frames, page tables, areas, address spaces |
//! | sched | `sched` | tasks as the scheduler sees them, run queues, wait queues |
//! | fs | `fs` | files, descriptor tables, pipes, the RAM file system |
//! | process | `process` | the process side of tasks: fork, exit, wait, signals, namespaces |
//! | vfs | `vfs` | path lookup across mounts, the proc file system's view of the processes |
//! | exec | `exec` | loading programs, `execve` |
//! | syscall | `syscall` | the system-call table and its calls |
//! | kernel | `trap` `smp` `mailbox` `selftest` `kernel` | boot, trap policy, cross-CPU jobs, the VMM's mailbox |
#![cfg_attr(not(test), no_std)]
// Outside `arch`, the kernel is safe Rust: the compiler refuses `unsafe`
// anywhere else, and tests/layers.rs refuses an `allow(unsafe_code)` outside
// arch/. The modules are declared layer by layer (see the table above).
#![deny(unsafe_code)]

extern crate alloc;

// lib
pub mod errno;
pub mod hcfuzz;
pub mod random;
pub mod slab;

// arch
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod arch;
pub mod cmdline;
pub mod counters;
pub mod fault_inject;

// services
pub mod console;
pub mod time;
pub mod trace;
#[cfg(target_os = "none")]
pub mod uaccess;

// mm
pub mod mm;

// sched
pub mod sched;

// fs
pub mod fs;

// process
pub mod process;

// vfs
#[cfg(target_os = "none")]
pub mod vfs;

// exec
pub mod exec;

// syscall
#[cfg(target_os = "none")]
pub mod syscall;

// kernel
#[cfg(target_os = "none")]
mod kernel;
#[cfg(target_os = "none")]
mod mailbox;
#[cfg(target_os = "none")]
mod selftest;
#[cfg(target_os = "none")]
mod smp;
#[cfg(target_os = "none")]
mod trap;
