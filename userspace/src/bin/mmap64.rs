//! Maps 64 MiB of anonymous private memory, writes a pattern (one word per 64
//! bytes, then the first and last byte), verifies it, unmaps it, prints
//! `ok 64 MiB` and exits 0 (1 on any failure).
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

const LEN: usize = 64 << 20;
const STRIDE: usize = 64;

fn pattern(off: usize) -> u64 {
    (off as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5a5a_5a5a_5a5a_5a5a
}

/// `mmap64 [ROUNDS]`: the whole map/write/verify/unmap round ROUNDS times
/// (default 1), each also checking that the fresh mapping reads zero first, so
/// that a kernel reusing freed frames must zero them.
fn main(args: Args, _env: Env) -> i32 {
    let rounds: u32 = args
        .get(1)
        .and_then(|a| core::str::from_utf8(a.to_bytes()).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for _ in 0..rounds {
        let status = round();
        if status != 0 {
            return status;
        }
    }
    0
}

fn round() -> i32 {
    // SAFETY: a new anonymous mapping aliases nothing.
    let base =
        match unsafe { mmap(0, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
            Ok(a) => a,
            Err(e) => {
                println!("FAIL mmap 64 MiB: {}", e);
                return 1;
            }
        };
    let put = |off: usize, v: u64| {
        // SAFETY: [base, base + LEN) is our private read-write mapping and every
        // offset used is in range and 8-byte aligned. Volatile: every page is
        // really touched.
        unsafe { core::ptr::write_volatile((base + off) as *mut u64, v) }
    };
    let get = |off: usize| {
        // SAFETY: as for `put`.
        unsafe { core::ptr::read_volatile((base + off) as *const u64) }
    };
    let put_byte = |off: usize, v: u8| {
        // SAFETY: off < LEN, inside the mapping.
        unsafe { core::ptr::write_volatile((base + off) as *mut u8, v) }
    };
    let get_byte = |off: usize| {
        // SAFETY: off < LEN, inside the mapping.
        unsafe { core::ptr::read_volatile((base + off) as *const u8) }
    };
    // Anonymous memory starts zeroed: check one word of every page first.
    // (Page starts are words the previous round wrote: see `pattern`.)
    let nonzero = (0..LEN).step_by(4096).filter(|&off| get(off) != 0).count();
    if nonzero != 0 {
        println!("FAIL 64 MiB: {} fresh pages are not zero", nonzero);
        return 1;
    }
    for off in (0..LEN).step_by(STRIDE) {
        put(off, pattern(off));
    }
    let mut bad = (0..LEN).step_by(STRIDE).filter(|&off| get(off) != pattern(off)).count();
    // The very first and last bytes of the range.
    put_byte(0, 0xa5);
    put_byte(LEN - 1, 0x5a);
    if get_byte(0) != 0xa5 || get_byte(LEN - 1) != 0x5a {
        bad += 1;
    }
    // SAFETY: the mapping is not used after this.
    let unmapped = unsafe { munmap(base, LEN) };
    if bad != 0 {
        println!("FAIL 64 MiB: {} words differ", bad);
        return 1;
    }
    if let Err(e) = unmapped {
        println!("FAIL munmap 64 MiB: {}", e);
        return 1;
    }
    println!("ok 64 MiB");
    0
}
