//! Bulk memory work by the VMM or the guest (`guest/src/mm/bulk.rs`, the
//! `BulkMem` hypercall in `vmm/src/bulkmem.rs`): every path in a real guest —
//! zeroing through the VMM and the pool of pre-zeroed frames it refills, its
//! exhaustion, copying through the VMM (COW breaks, exec), the in-guest
//! `rep stosq`/`rep movsq`, the boot measurement's choice and the forced
//! choice both ways — with the programs' output compared with Linux's.
//! Malformed `BulkMem` calls are in the hypercall fuzzer (`tests/hypercalls.rs`)
//! and the VMM's unit tests.

mod common;

use common::Linux;
use vmm::programs::path;
use vmm::{ExitReport, GuestExit, KvmKind, Vmm};

fn run(name: &str, args: &[&str], memory_mib: u64, cmdline: &str) -> ExitReport {
    Vmm::builder()
        .vcpus(1)
        .memory_mib(memory_mib)
        .cmdline(cmdline)
        .program(path(name), args)
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait")
}

/// `name` in the guest with `bulkmem=MODE` gives Linux's status and output.
fn same_as_linux(name: &str, args: &[&str], mode: &str) -> ExitReport {
    let (code, out, err) = common::run_on_host(path(name), args);
    let r = run(name, args, 256, &format!("quiet bulkmem={mode}"));
    let linux = Linux { status: code, stdout: &out, stderr: Some(&err) };
    common::assert_matches_linux(&format!("{name} with bulkmem={mode}"), &r, linux);
    r
}

/// The boot line's choice, and the counter's.
fn boot_choice(cmdline: &str) -> (String, u64, ExitReport) {
    let r = common::run(1, cmdline);
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    let line = r
        .console
        .lines()
        .find(|l| l.starts_with("kernel: bulk memory"))
        .unwrap_or_else(|| panic!("a bulk memory line in\n{}", r.console))
        .to_string();
    (line, r.counters.global.bulk_mode, r)
}

#[test]
fn the_choice_is_measured_visible_and_can_be_forced_both_ways() {
    let (line, mode, _) = boot_choice("bulkmem=vmm");
    assert_eq!(mode, 3, "{line}");
    assert!(
        line.contains("(bulkmem=vmm): zeroing by the VMM") && line.contains("copying by the VMM")
    );
    let (line, mode, _) = boot_choice("bulkmem=guest");
    assert_eq!(mode, 0, "{line}");
    assert!(line.contains("zeroing by the guest") && line.contains("copying by the guest"));
    let (line, mode, r) = boot_choice("");
    let g = r.counters.global;
    assert!(g.bulk_zero_guest_tsc > 0 && g.bulk_zero_vmm_tsc > 0, "{line}");
    assert!(g.bulk_copy_guest_tsc > 0 && g.bulk_copy_vmm_tsc > 0, "{line}");
    // The choice follows the measurement, whatever the host.
    let want = (g.bulk_zero_vmm_tsc < g.bulk_zero_guest_tsc) as u64
        | ((g.bulk_copy_vmm_tsc < g.bulk_copy_guest_tsc) as u64) << 1;
    assert_eq!(mode, want, "{line}");
    if KvmKind::detect().emulates_ring0() {
        // An emulated `rep stosq` costs ~30 exits' worth here.
        assert_eq!(mode, 3, "the VMM does both on this host: {line}");
    }
}

#[test]
fn reused_frames_are_zeroed_by_the_vmm_through_the_pool() {
    // As `reused_frames_are_zeroed` (programs_in_guest): 3 x 64 MiB in a 112
    // MiB guest, every fresh page read as zero before it is written; after
    // the never-used frames, the freed ones come from the pool, zeroed by the
    // VMM a batch at a time.
    let r = run("mmap64", &["3"], 112, "quiet bulkmem=vmm");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    assert_eq!(r.stdout, "ok 64 MiB\nok 64 MiB\nok 64 MiB\n", "{}", common::explain(&r));
    let g = r.counters.global;
    assert!(g.zero_pool_refills > 100, "refills: {}", g.zero_pool_refills);
    assert!(g.zero_pool_hits >= 16384, "pages from the pool: {}", g.zero_pool_hits);
    assert!(g.bulk_pages_zeroed >= 16384, "pages the VMM zeroed: {}", g.bulk_pages_zeroed);
    // A refill zeroes its batch in one call.
    assert!(g.bulk_calls < g.bulk_pages_zeroed / 8, "{} calls", g.bulk_calls);
    assert_eq!(g.bulk_errors, 0);
    // Page tables are zeroed in the guest, never by the VMM (nor from the pool).
    assert!(g.guest_pages_zeroed > 0, "page tables zeroed in the guest");

    // The guest's own `rep stosq` (twice 64 MiB: the second reuses frames).
    let r = run("mmap64", &["2"], 112, "quiet bulkmem=guest");
    assert_eq!(r.stdout, "ok 64 MiB\nok 64 MiB\n", "{}", common::explain(&r));
    let g = r.counters.global;
    assert_eq!((g.bulk_calls, g.zero_pool_hits, g.bulk_pages_zeroed), (0, 0, 0));
    assert!(g.guest_pages_zeroed >= 1000, "{}", g.guest_pages_zeroed);
}

#[test]
fn an_exhausted_pool_ends_in_the_oom_killer_as_before() {
    // A child writes all of a 64 MiB guest's RAM with the VMM zeroing: the
    // pool is refilled until the frame allocator reaches its reserve, then
    // empties, and the OOM killer takes the hog; pid 1 goes on.
    let r = Vmm::builder()
        .vcpus(1)
        .memory_mib(64)
        .cmdline("quiet bulkmem=vmm")
        .program(path("oomhog"), &["child"])
        .boot()
        .expect("boot")
        .wait(Some(common::TIMEOUT))
        .expect("wait");
    assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
    assert!(r.stdout.lines().all(|l| l.starts_with("ok ")), "{}", r.stdout);
    let g = r.counters.global;
    assert_eq!(g.oom_kills, 1, "{}", common::explain(&r));
    assert!(g.zero_pool_refills > 0 && g.bulk_pages_zeroed > 0, "{g:?}");
}

#[test]
fn cow_breaks_and_exec_copy_through_the_vmm_or_in_the_guest_as_linux() {
    for mode in ["vmm", "guest"] {
        let r = same_as_linux("fork", &[], mode);
        assert_eq!(r.exit, GuestExit::Status(0), "{}", common::explain(&r));
        let g = r.counters.global;
        let cow: u64 = r.counters.cpu.iter().map(|c| c.cow_copies).sum();
        assert!(cow > 0, "the program breaks COW");
        if mode == "vmm" {
            assert!(
                g.bulk_pages_copied >= cow,
                "{} copied by the VMM, {cow} COW",
                g.bulk_pages_copied
            );
            assert_eq!(g.bulk_errors, 0);
        } else {
            assert_eq!(g.bulk_calls, 0);
            assert!(g.guest_pages_copied >= cow);
        }
        // exec copies the program's file data into the new image.
        let r = common::execer_matches_linux(
            &format!("execer/execed with bulkmem={mode}"),
            &format!("quiet bulkmem={mode}"),
        );
        let g = r.counters.global;
        if mode == "vmm" {
            assert!(g.bulk_pages_copied > 0, "exec's copies: {g:?}");
        } else {
            assert_eq!(g.bulk_calls, 0);
        }
    }
}
