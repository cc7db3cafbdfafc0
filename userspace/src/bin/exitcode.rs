//! Exits with the status given as argv[1] (decimal), default 3.
#![no_std]
#![no_main]

use userspace::{Args, Env};

userspace::entry!(main);

fn main(args: Args, _env: Env) -> i32 {
    match args.bytes(1) {
        None => 3,
        Some(s) => {
            let mut v: i32 = 0;
            for &c in s {
                if !c.is_ascii_digit() {
                    panic!("exitcode: argument is not a decimal number");
                }
                v = v.wrapping_mul(10).wrapping_add((c - b'0') as i32);
            }
            v
        }
    }
}
