//! Measures the cost of two kernel operations from user space: a `getpid`
//! round trip and a demand-zero page fault, each timed with CLOCK_MONOTONIC over
//! many repetitions. Prints `getpid NS ns` and `fault NS ns` (per operation).
//! `opcost [CALLS [PAGES [FORKS [raw]]]]` (defaults 2000, 2048 and 0; 0 skips a
//! measurement), so a benchmark can difference two runs' ring-0 instruction
//! counts. With `raw`, `getpid` executes the `syscall` instruction itself
//! instead of calling the AT_SYSINFO entry (in the guest where `syscall` is
//! broken: through the zpoline rewrite of that site). FORKS children are forked one at a time, each exits at once and is
//! reaped (`fork N ns` per fork+exit+wait).
//! Used by the benchmarks, on the host and in the guest alike.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

fn arg(args: &Args, i: usize, default: u64) -> u64 {
    args.get(i)
        .and_then(|a| core::str::from_utf8(a.to_bytes()).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn now() -> u64 {
    let mut t = timespec::default();
    let _ = clock_gettime(CLOCK_MONOTONIC, &mut t);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn main(args: Args, _env: Env) -> i32 {
    let calls = arg(&args, 1, 2000);
    let pages = arg(&args, 2, 2048) as usize;
    let forks = arg(&args, 3, 0);
    let raw = args.get(4).is_some_and(|a| a.to_bytes() == b"raw");
    let t0 = now();
    for _ in 0..calls {
        if raw {
            // SAFETY: getpid takes no arguments and touches no memory.
            let _ = unsafe { syscall::raw_syscall3(nr::__NR_getpid, 0, 0, 0) };
        } else {
            let _ = getpid();
        }
    }
    let t1 = now();
    println!("getpid {} ns", (t1 - t0) / calls.max(1));
    if pages > 0 {
        fault_cost(pages);
    }
    if forks > 0 {
        let t4 = now();
        for _ in 0..forks {
            match fork() {
                Ok(0) => exit_group(0),
                Ok(pid) => {
                    let _ = wait4(pid as i32, None, 0);
                }
                Err(e) => {
                    println!("FAIL fork: {}", e);
                    return 1;
                }
            }
        }
        let t5 = now();
        println!("fork {} ns", (t5 - t4) / forks);
    }
    0
}

fn fault_cost(pages: usize) {
    let len = pages * 4096;
    // SAFETY: a new anonymous mapping aliases nothing.
    let base =
        match unsafe { mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
            Ok(a) => a,
            Err(e) => {
                println!("FAIL mmap: {}", e);
                return;
            }
        };
    let t2 = now();
    for p in 0..pages {
        // SAFETY: inside the private read-write mapping just made.
        unsafe { core::ptr::write_volatile((base + p * 4096) as *mut u8, 1) };
    }
    let t3 = now();
    println!("fault {} ns", (t3 - t2) / pages as u64);
}
