//! Load averages in /proc/loadavg (Linux `calc_global_load`, every 5 s):
//! with THREADS threads spinning (argument, default 2), waits for two
//! updates of the 1-minute figure, prints each line read, and checks the
//! figures against the fixed-point decay for that many runnable tasks on an
//! otherwise idle machine (the guest; on a busy host the figures include
//! everything else, so this program is for the guest). One line per check,
//! exit status = number of failed checks.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use userspace::thread::{join, set_wake, Stacks};
use userspace::*;

userspace::entry!(main);

static STOP: AtomicU32 = AtomicU32::new(0);
static TIDS: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];

extern "C" fn spin(_: usize) -> i32 {
    let mut x = 0u64;
    while STOP.load(SeqCst) == 0 {
        for i in 0..10_000 {
            x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    0
}

/// The three averages of /proc/loadavg in hundredths.
fn read_loads() -> Option<[u32; 3]> {
    let fd = openat(AT_FDCWD, c"/proc/loadavg", O_RDONLY | O_CLOEXEC, 0).ok()? as i32;
    let mut b = [0u8; 128];
    let n = read(fd, &mut b).unwrap_or(0);
    let _ = close(fd);
    let s = core::str::from_utf8(&b[..n]).ok()?;
    let mut it = s.split(' ').map(|f| {
        let (i, d) = f.split_once('.')?;
        Some(i.parse::<u32>().ok()? * 100 + d.parse::<u32>().ok()?)
    });
    Some([it.next()??, it.next()??, it.next()??])
}

fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let n = args
        .bytes(1)
        .and_then(|b| core::str::from_utf8(b).ok()?.parse::<usize>().ok())
        .unwrap_or(2)
        .min(4);
    let Some(first) = read_loads() else {
        c.fail("read /proc/loadavg", "unreadable");
        return c.status();
    };
    c.ok_eq("at boot the 15-minute average is 0.00", Ok(first[2]), 0);
    let Some(stacks) = Stacks::new(n) else { return 1 };
    for (i, tid) in TIDS.iter().enumerate().take(n) {
        if !stacks.spawn(i, tid, spin, 0) {
            c.fail("start a spinning thread", "clone");
        }
    }
    // Two updates of the averages (every 5 s): at most 25 s.
    let mut seen = [first; 3];
    let mut updates = 0;
    let end = monotonic_ns() + 25_000_000_000;
    while updates < 2 && monotonic_ns() < end {
        let _ = nanosleep(&timespec::from_nanos(100_000_000), None);
        if let Some(l) = read_loads() {
            if l != seen[updates] {
                updates += 1;
                seen[updates] = l;
            }
        }
    }
    set_wake(&STOP, 1);
    for tid in TIDS.iter().take(n) {
        let _ = join(tid);
    }
    for (i, l) in seen.iter().enumerate() {
        println!(
            "loads {i}: {}.{:02} {}.{:02} {}.{:02}",
            l[0] / 100,
            l[0] % 100,
            l[1] / 100,
            l[1] % 100,
            l[2] / 100,
            l[2] % 100
        );
    }
    c.ok_eq("two updates while the threads spin", Ok(updates), 2);
    // n runnable tasks (the threads; the sleeping reader now and then):
    // after one period the 1-minute figure is n*(1-1884/2048) = 0.08 n,
    // after two 0.153 n (Linux's fixed point rounds up while rising).
    let n = n as u32;
    let (one, two) = (seen[1][0], seen[2][0]);
    c.check(
        format_args!("after one update: 1-minute load about {}", 8 * n),
        (8 * n..=8 * (n + 1) + 1).contains(&one),
    );
    c.check(
        format_args!("after two: about {}", 15 * n),
        (15 * n..=16 * (n + 1) + 1).contains(&two),
    );
    c.check("the 5-minute load rises slower", seen[2][1] < two && seen[2][1] > 0);
    c.check("the 15-minute slower still", seen[2][2] < seen[2][1]);
    c.status()
}
