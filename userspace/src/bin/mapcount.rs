//! The limit on a process's memory areas (Linux `vm.max_map_count`, 65530 by
//! default; the first argument says what it is, and the guest's test boots
//! with `max_map_count=1000` to keep the run short): `mprotect` of every other page of a large mapping splits it
//! until a split would pass the limit, and then fails with ENOMEM instead of
//! growing kernel memory without bound; at the limit `munmap` of a hole in an
//! area is ENOMEM too, of a whole area is not; and after the mapping is gone
//! splits work again. The exact count differs with the areas a program
//! starts with, so only the outcomes are printed (the same on Linux); exit
//! status = failed checks.
#![no_std]
#![no_main]

use userspace::*;

userspace::entry!(main);

const PAGE: usize = 4096;
fn main(args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let limit: usize = args
        .get(1)
        .and_then(|a| core::str::from_utf8(a.to_bytes()).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(65530);
    // Pages: twice the limit, so that the limit comes first.
    let pages = 2 * limit + 64;
    leak_check_snapshot("mapcount-before");
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    // SAFETY: a fresh mapping nothing else uses, unmapped below.
    let base = match unsafe { mmap(0, pages * PAGE, PROT_READ, flags, -1, 0) } {
        Ok(a) => a,
        Err(e) => {
            c.fail("mmap", e);
            return c.status();
        }
    };
    let mut done = 0;
    let err = loop {
        let page = base + (2 * done + 1) * PAGE;
        if 2 * done + 2 >= pages {
            break None;
        }
        // SAFETY: a page of this program's own mapping.
        match unsafe { mprotect(page, PAGE, PROT_READ | PROT_WRITE) } {
            Ok(_) => done += 1,
            Err(e) => break Some(e),
        }
    };
    c.check("mprotect of every other page ends with ENOMEM", err == Some(ENOMEM));
    // Each split adds two areas: about half the limit, less what the
    // program started with.
    c.check("after about half the limit in splits", (limit / 2 - 40..=limit / 2).contains(&done));
    // SAFETY: the page the failed call was about: still mapped, unchanged.
    let probe = base + (2 * done + 1) * PAGE;
    c.check("the refused page still reads", unsafe { (probe as *const u8).read_volatile() } == 0);
    // MAP_FIXED over a hole in the unsplit rest would be one more area:
    // ENOMEM, and what was mapped there is still there.
    let hole = base + (pages - 8) * PAGE;
    let fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    // SAFETY: replaces one page of this program's own mapping, or nothing.
    let r = unsafe { mmap(hole, PAGE, PROT_READ | PROT_WRITE, fixed, -1, 0) };
    c.err("MAP_FIXED over a hole at the limit ENOMEM", r, ENOMEM);
    // msync is ENOMEM for an unmapped page (reading it would add a page
    // table, which the leak check would see).
    // SAFETY: msync only reads the page tables of the range.
    let synced =
        errno::result(unsafe { syscall::syscall3(nr::__NR_msync, hole, PAGE, MS_ASYNC as usize) });
    c.check("the page under it is still mapped", synced.is_ok());
    // SAFETY: a page of this program's own mapping.
    let r = unsafe { munmap(hole, PAGE) };
    c.err("munmap of a hole at the limit ENOMEM", r, ENOMEM);
    // SAFETY: the first page is an area of its own (read-only, split off).
    c.check("munmap of a whole area at the limit", unsafe { munmap(base, PAGE) }.is_ok());
    // SAFETY: the rest of the mapping; nothing uses it any more.
    let gone = unsafe { munmap(base + PAGE, (pages - 1) * PAGE) };
    c.check("munmap of the whole mapping", gone.is_ok());
    // SAFETY: a fresh mapping, split once and unmapped.
    match unsafe { mmap(0, 4 * PAGE, PROT_READ, flags, -1, 0) } {
        Ok(a) => {
            // SAFETY: its own page.
            let split = unsafe { mprotect(a + PAGE, PAGE, PROT_READ | PROT_WRITE) };
            c.check("after it, splits work again", split.is_ok());
            // SAFETY: as above.
            let _ = unsafe { munmap(a, 4 * PAGE) };
        }
        Err(e) => c.fail("mmap after the limit", e),
    }
    leak_check_snapshot("mapcount-after");
    c.status()
}
