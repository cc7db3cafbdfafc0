//! Many processes hammering the kernel's shared locks at once: `W` workers
//! (default 8) each fork, wait for and reap `R` children (default 25) as fast
//! as they can, so that fork, exit and wait meet on the task-list lock, the
//! run queues, the pid allocator and the heap from every CPU. Each child adds
//! one to a counter in shared memory and exits with a status that names it;
//! each worker checks every status, and the program checks the total:
//! exact results, whatever the interleaving. Prints one line; exits with the
//! number of mismatches.
//!
//! `lockstress W R`. On 4 vCPUs time-sharing 2 host cores, this is the load
//! the kernel's paravirtual spin locks are for (`tests/programs_in_guest.rs`
//! checks that waiters blocked and were kicked).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::*;

userspace::entry!(main);

/// The status child `r` of worker `w` exits with.
fn status_of(w: usize, r: usize) -> i32 {
    ((w * 31 + r * 7) % 251) as i32
}

fn main(args: Args, _env: Env) -> i32 {
    let workers = args.bytes(1).and_then(text::parse_usize).unwrap_or(8).clamp(1, 64);
    let rounds = args.bytes(2).and_then(text::parse_usize).unwrap_or(25).clamp(1, 100_000);
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh shared anonymous mapping, never unmapped.
    let Ok(page) = (unsafe { mmap(0, PAGE_SIZE, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0) }) else {
        println!("lockstress: mmap failed");
        return 1;
    };
    // SAFETY: the page is zeroed, aligned and lives as long as the program;
    // atomics are the only access.
    let counter = unsafe { &*(page as *const AtomicU32) };
    let mut pids = [0i32; 64];
    for (w, slot) in pids.iter_mut().enumerate().take(workers) {
        match fork() {
            Ok(0) => exit_group(worker(w, rounds, counter)),
            Ok(pid) => *slot = pid as i32,
            Err(e) => {
                println!("lockstress: fork of worker {w}: {e}");
                return 1;
            }
        }
    }
    let mut bad = 0;
    for (w, &pid) in pids.iter().enumerate().take(workers) {
        let mut status = -1;
        if wait4(pid, Some(&mut status), 0) != Ok(pid as usize) || status != 0 {
            println!("lockstress: worker {w}: status {status:#x}");
            bad += 1;
        }
    }
    let counted = counter.load(SeqCst) as usize;
    if counted != workers * rounds {
        println!("lockstress: {counted} children counted, {} expected", workers * rounds);
        bad += 1;
    }
    if bad == 0 {
        println!(
            "lockstress: {workers} workers x {rounds} forks: {counted} children counted, every status exact"
        );
    }
    bad
}

/// Fork, wait for and reap `rounds` children; the number of wrong statuses
/// (at most 255) is the worker's exit status.
fn worker(w: usize, rounds: usize, counter: &AtomicU32) -> i32 {
    let mut wrong = 0;
    for r in 0..rounds {
        match fork() {
            Ok(0) => {
                counter.fetch_add(1, SeqCst);
                exit_group(status_of(w, r));
            }
            Ok(pid) => {
                let mut status = -1;
                let reaped = wait4(pid as i32, Some(&mut status), 0) == Ok(pid);
                if !reaped || status != status_of(w, r) << 8 {
                    wrong += 1;
                }
            }
            Err(_) => wrong += 1,
        }
    }
    wrong.min(255)
}
