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
//!
//! Modules point one way: each uses only those before it in this list (this
//! file only declares them and re-exports; `layering` below checks it):
//!
//! 1. plain data and pure logic: `error`, `pod`, `layout`, `cpuid`, `regs`,
//!    `stats`, `exit`, `bulkmem` (the `BulkMem` hypercall's validation and
//!    native zeroing and copying), `hypercall`, `symbols` (the kernel ELF's symbols),
//!    `debuginfo` (its unwinding and inlining information), `profile` (the
//!    ring-0 profiler's record), `trace` (the guest's tracepoints as a
//!    Perfetto-readable trace and an SVG timeline), `watchdog` (the lockup
//!    detector's decision), `report`, `loader`, `crash` (crash and hang
//!    reports), `initramfs`, `zpoline`, `programs`, `event_loop`;
//! 2. the KVM objects without threads: `kvm`, `vm`;
//! 3. `machine`, the state the vCPU threads and the control thread share;
//! 4. `vcpu` (a vCPU and its thread), `mailbox` (commands to the guest);
//! 5. `control` ([`Vmm`]: the booted VM), `builder` ([`VmmBuilder`]).

mod builder;
mod bulkmem;
mod control;
mod cpuid;
mod crash;
mod debuginfo;
mod error;
mod event_loop;
mod exit;
pub mod host;
mod hypercall;
pub mod initramfs;
mod kvm;
mod layout;
mod loader;
mod machine;
mod mailbox;
mod pod;
mod profile;
pub mod programs;
mod pvlock;
mod regs;
mod report;
mod stats;
mod stepover;
mod symbols;
mod trace;
mod vcpu;
mod vm;
pub mod vmentry;
mod watchdog;
pub mod zpoline;

pub use builder::{VmmBuilder, DEFAULT_LOCKUP_THRESHOLD, DEFAULT_MEMORY_MIB};
pub use control::Vmm;
pub use error::{Error, Result};
pub use exit::EXIT_REASONS;
pub use host::KvmKind;
pub use layout::{MAX_MEMORY, MIB};
pub use loader::DEFAULT_KERNEL;
pub use mailbox::{Command, Reply};
pub use profile::{
    FunctionCost, Profile, Span as ProfileSpan, TraceStats, EXIT_STATS, REP_STRING_BYTES, USER_MODE,
};
pub use protocol;
pub use protocol::mailbox::{ProcEntry, FAULT_STAGES};
pub use report::{ExitReport, GuestExit, ReadyMark, Snapshot, TraceSummary, TripleFaultEvent};
pub use stats::KvmStats;
pub use trace::svg_timeline as trace_svg;
pub use watchdog::{Evidence as LockupEvidence, Lockup};

/// The order of the module list above, checked on the sources.
#[cfg(test)]
mod layering {
    /// Every module from the bottom up, with its source.
    const LAYERS: &[(&str, &str)] = &[
        ("error", include_str!("error.rs")),
        ("host", include_str!("host.rs")),
        ("pod", include_str!("pod.rs")),
        ("layout", include_str!("layout.rs")),
        ("cpuid", include_str!("cpuid.rs")),
        ("regs", include_str!("regs.rs")),
        ("vmentry", include_str!("vmentry.rs")),
        ("stats", include_str!("stats.rs")),
        ("exit", include_str!("exit.rs")),
        ("bulkmem", include_str!("bulkmem.rs")),
        ("hypercall", include_str!("hypercall.rs")),
        ("pvlock", include_str!("pvlock.rs")),
        ("symbols", include_str!("symbols.rs")),
        ("debuginfo", include_str!("debuginfo.rs")),
        ("profile", include_str!("profile.rs")),
        ("stepover", include_str!("stepover.rs")),
        ("trace", include_str!("trace.rs")),
        ("watchdog", include_str!("watchdog.rs")),
        ("report", include_str!("report.rs")),
        ("loader", include_str!("loader.rs")),
        ("crash", include_str!("crash.rs")),
        ("initramfs", include_str!("initramfs.rs")),
        ("zpoline", include_str!("zpoline.rs")),
        ("programs", include_str!("programs.rs")),
        ("event_loop", include_str!("event_loop.rs")),
        ("kvm", include_str!("kvm.rs")),
        ("vm", include_str!("vm.rs")),
        ("machine", include_str!("machine.rs")),
        ("vcpu", include_str!("vcpu.rs")),
        ("mailbox", include_str!("mailbox.rs")),
        ("control", include_str!("control.rs")),
        ("builder", include_str!("builder.rs")),
    ];

    /// The names `src` reaches through `crate::` (`crate::a::f`, `crate::{a, b::C}`)
    /// before its test module (`#[cfg(test)] mod`, last in the file: a unit test
    /// may use any module, say the embedded kernel).
    fn uses(src: &str) -> Vec<&str> {
        let src = &src[..src.find("#[cfg(test)]\nmod ").unwrap_or(src.len())];
        let ident = |s: &str| s.find(|c: char| !c.is_alphanumeric() && c != '_').unwrap_or(s.len());
        let mut names = Vec::new();
        for (at, _) in src.match_indices("crate::") {
            let rest = &src[at + "crate::".len()..];
            let Some(list) = rest.strip_prefix('{') else {
                names.push(&rest[..ident(rest)]);
                continue;
            };
            // The top-level items of the braces.
            let (mut depth, mut item) = (0, true);
            for (i, c) in list.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item = true,
                    c if item && depth == 0 && !c.is_whitespace() => {
                        names.push(&list[i..i + ident(&list[i..])]);
                        item = false;
                    }
                    _ => {}
                }
            }
        }
        names
    }

    #[test]
    fn uses_finds_every_form() {
        let src = "use crate::a::B;\nuse crate::{c, d::{E, F}, g};\nlet x = crate::h::f();\n\
                   #[cfg(test)]\nmod tests { use crate::i; }";
        assert_eq!(uses(src), ["a", "c", "d", "g", "h"]);
    }

    #[test]
    fn modules_point_one_way() {
        for (layer, (name, src)) in LAYERS.iter().enumerate() {
            for used in uses(src) {
                let Some(at) = LAYERS.iter().position(|(n, _)| *n == used) else {
                    panic!("{name}.rs uses crate::{used}, which is not a module: use the module that defines it");
                };
                assert!(at <= layer, "{name}.rs uses {used}, which comes after it in LAYERS");
            }
        }
        let declared: Vec<&str> = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.trim_start_matches("pub ").strip_prefix("mod ")?.strip_suffix(';'))
            .collect();
        let mut listed: Vec<&str> = LAYERS.iter().map(|(n, _)| *n).collect();
        listed.sort_unstable();
        assert_eq!(declared, listed, "lib.rs declares (sorted) exactly the modules of LAYERS");
    }
}
