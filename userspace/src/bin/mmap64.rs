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

fn main(_args: Args, _env: Env) -> i32 {
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
