//! A KVM virtual machine monitor for the `guest` kernel.
//!
//! One library API serves the CLI, the tests and the benchmarks:
//!
//! ```no_run
//! let vm = vmm::Vmm::builder().vcpus(2).memory_mib(256).cmdline("selftest=ipi").boot()?;
//! let report = vm.wait(Some(std::time::Duration::from_secs(30)))?;
//! assert_eq!(report.exit, vmm::GuestExit::Status(0));
//! # Ok::<(), vmm::Error>(())
//! ```
//!
//! Layout, as in Firecracker's `vstate` and `builder`: one file per KVM object
//! (`kvm`, `vm`, `vcpu`), CPU setup (`cpuid`, `regs`), the guest layout
//! (`layout`), the loader, the pure exit dispatcher (`exit`) and hypercall
//! dispatcher (`hypercall`), KVM statistics (`stats`), the event loop
//! (`event_loop`); `builder` creates a VM and `control` runs it.
//!
//! Ownership: a [`Vmm`] owns the vCPU threads' handles and shares the VM's state
//! (`machine::Shared`) with them; that state owns the `vm::Vm`, which owns the VM
//! fd and the guest memory and outlives every fd that refers to it (its
//! documentation says how the types make sure).

mod builder;
mod control;
mod cpuid;
mod error;
mod event_loop;
mod exit;
mod hypercall;
pub mod initramfs;
mod kvm;
mod layout;
mod loader;
mod machine;
mod mailbox;
mod pod;
pub mod programs;
mod regs;
mod report;
mod stats;
mod vcpu;
mod vm;

pub use builder::{VmmBuilder, DEFAULT_KERNEL, DEFAULT_MEMORY_MIB};
pub use control::Vmm;
pub use error::{Error, Result};
pub use exit::EXIT_REASONS;
pub use layout::{MAX_MEMORY, MIB};
pub use mailbox::{Command, Reply};
pub use protocol;
pub use protocol::mailbox::{ProcEntry, FAULT_STAGES};
pub use report::{ExitReport, GuestExit, ReadyMark, Snapshot};
pub use stats::KvmStats;
