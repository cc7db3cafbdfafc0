//! Executes the `syscall` instruction itself, not the kernel's AT_SYSINFO
//! entry: getpid, then numbers that only the instruction's own conventions
//! define — Linux reads the number from eax alone (the upper half of rax is
//! ignored), and answers ENOSYS for numbers it does not know — and prints
//! what each returned next to what getpid through the entry returns. Exits 0
//! (1 if the first getpid differs). On a host whose KVM breaks `syscall`,
//! the guest kernel either runs it through the site's zpoline rewrite (the
//! VMM shipped the program's sites) or ends the process with a clear error
//! (SIGSYS), never hangs or crashes.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

// getpid with its `syscall` across a page boundary (the last byte of one
// page, the first of the next): a rewrite of the site must handle both pages.
core::arch::global_asm!(
    ".text",
    ".p2align 12",
    ".fill 4090, 1, 0xcc",
    "straddling_getpid:",
    "mov eax, 39",
    "syscall",
    "ret",
);

unsafe extern "C" {
    fn straddling_getpid() -> isize;
}

fn raw(nr: usize) -> isize {
    // SAFETY: getpid and unknown numbers take no arguments and touch no memory.
    unsafe { syscall::raw_syscall3(nr, 0, 0, 0) }
}

fn main(_args: Args, _env: Env) -> i32 {
    let first = raw(nr::__NR_getpid);
    println!("raw syscall returned");
    let pid = getpid().map_or(-1, |p| p as isize);
    let say = |what: &str, r: isize| {
        let shown = match r {
            r if r == pid => "the pid",
            r if r == ENOSYS.to_ret() => "ENOSYS",
            _ => "something else",
        };
        println!("{what}: {shown}");
    };
    // Through zpoline: `call *%rax` faults fetching at these addresses (#PF)...
    say("getpid again", raw(nr::__NR_getpid));
    say("number 1000", raw(1000));
    say("number 0x7fff_0000_1000 (4096 in eax)", raw(0x7fff_0000_1000));
    // ...or, for numbers that are not canonical addresses, at the call (#GP).
    say("getpid with 0x8000_0000 in the upper half", raw(0x8000_0000_0000_0000 | nr::__NR_getpid));
    say("getpid with 0xffff_ffff in the upper half", raw(0xffff_ffff_0000_0000 | nr::__NR_getpid));
    say("number -1", raw(usize::MAX));
    // SAFETY: the stub makes getpid and returns its result; it clobbers rcx,
    // r11 and rax only, which the C ABI lets a call clobber.
    say("getpid across a page boundary", unsafe { straddling_getpid() });
    if first == pid {
        0
    } else {
        println!("FAIL raw getpid differs from getpid");
        1
    }
}
