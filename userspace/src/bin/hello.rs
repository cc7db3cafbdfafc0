//! Prints a greeting, argc, and each argument on its own line (argv[0] as its
//! base name, which is the same on every kernel); exits 0.
#![no_std]
#![no_main]

use userspace::{println, Args, Bytes, Env};

userspace::entry!(main);

fn main(args: Args, _env: Env) -> i32 {
    println!("hello from rust");
    println!("argc {}", args.len());
    for (i, arg) in args.iter().enumerate() {
        let mut arg = arg.to_bytes();
        if i == 0 {
            arg = arg.rsplit(|&b| b == b'/').next().unwrap_or(arg);
        }
        println!("argv[{}] {}", i, Bytes(arg));
    }
    0
}
