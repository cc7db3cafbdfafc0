//! Driven from the VMM side by the mailbox and counter tests:
//!
//! * `ctl sleepers N`: fork N children that sleep until killed, print `ready`,
//!   then sleep; the test reads the process table and shuts the guest down.
//! * `ctl forkloop`: fork, exit and reap a child every 10 ms until a fork fails;
//!   print that fork's errno name (the test injects the failure through the
//!   mailbox) and then check that the next fork works. Gives up after 3,000 forks.
//! * `ctl snapshots`: snapshot the counters around 100 getpid calls through
//!   `/dev/counters`, reset them, make 5 more calls, and check that a malformed
//!   command is EINVAL.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

fn sleepers(n: u32) -> i32 {
    for _ in 0..n {
        match fork() {
            Ok(0) => loop {
                sleep_ms(1_000_000);
            },
            Ok(_) => {}
            Err(e) => {
                println!("fork: {e}");
                return 1;
            }
        }
    }
    println!("ready");
    loop {
        sleep_ms(1_000_000);
    }
}

fn fork_reap() -> Result<(), Errno> {
    let pid = fork()?;
    if pid == 0 {
        exit_group(0);
    }
    let mut status = -1;
    if wait4(pid as i32, Some(&mut status), 0) != Ok(pid) || status != 0 {
        println!("child {pid} not reaped cleanly (status {status})");
        exit_group(1);
    }
    Ok(())
}

fn forkloop() -> i32 {
    for _ in 0..3000 {
        if let Err(e) = fork_reap() {
            println!("fork failed: {e}");
            return match fork_reap() {
                Ok(()) => {
                    println!("next fork: ok");
                    0
                }
                Err(e) => {
                    println!("next fork: {e}");
                    1
                }
            };
        }
        sleep_ms(10);
    }
    println!("no fork failed");
    1
}

fn command(fd: i32, text: &str) -> SysResult {
    write(fd, text.as_bytes())
}

fn snapshots() -> i32 {
    let fd = match openat(AT_FDCWD, c"/dev/counters", O_WRONLY, 0) {
        Ok(fd) => fd as i32,
        Err(e) => {
            println!("open /dev/counters: {e}");
            return 1;
        }
    };
    let mut ok = command(fd, "snapshot before") == Ok(15);
    for _ in 0..100 {
        let _ = getpid();
    }
    ok &= command(fd, "snapshot after\n") == Ok(15);
    ok &= command(fd, "reset zero") == Ok(10);
    for _ in 0..5 {
        let _ = getpid();
    }
    let bad = command(fd, "snapshot ");
    let other = command(fd, "dump all");
    println!("bad commands: {:?} {:?}", bad.err(), other.err());
    ok &= command(fd, "snapshot end") == Ok(12);
    let mut buf = [0u8; 8];
    println!("read: {:?}", read(fd, &mut buf));
    if ok {
        0
    } else {
        println!("a snapshot write failed");
        1
    }
}

fn main(args: Args, _env: Env) -> i32 {
    let arg = |i: usize| args.get(i).and_then(|a| core::str::from_utf8(a.to_bytes()).ok());
    match arg(1) {
        Some("sleepers") => sleepers(arg(2).and_then(|n| n.parse().ok()).unwrap_or(2)),
        Some("forkloop") => forkloop(),
        Some("snapshots") => snapshots(),
        _ => {
            println!("usage: ctl sleepers N | forkloop | snapshots");
            2
        }
    }
}
