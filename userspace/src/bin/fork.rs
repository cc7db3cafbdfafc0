//! fork and wait as Linux defines them (kernel/fork.c, kernel/exit.c): return
//! values, 100 children reaped with their statuses, exit statuses of signals,
//! copy-on-write privacy (stack, brk heap, a 4 MiB private mapping, a page the
//! kernel writes), shared mappings, inherited fds with shared offsets,
//! WNOHANG, waitid (P_PID, P_ALL, P_PGID, WNOWAIT, siginfo), SIGCHLD ignored
//! and a child subreaper adopting an orphan. One line per check, exit status =
//! number of failed checks. Children never print: they report through pipes
//! and exit statuses, so the output is the same on every kernel.
#![no_std]
#![no_main]

use core::ffi::CStr;

use userspace::*;

userspace::entry!(main);

const CHILDREN: usize = 100;
const MAP_LEN: usize = 4 << 20;

fn main(_args: Args, _env: Env) -> i32 {
    let mut c = Checker::new();
    let _ = signal_disposition(SIGCHLD, SIG_DFL);
    no_children(&mut c);
    return_values(&mut c);
    many_children(&mut c);
    statuses(&mut c);
    cow_private(&mut c);
    kernel_write_cow(&mut c);
    kernel_write_cow_parent(&mut c);
    shared_mapping(&mut c);
    shared_pages_join_the_childs_rss(&mut c);
    fds(&mut c);
    wnohang(&mut c);
    waitid_cases(&mut c);
    sigchld_ignored(&mut c);
    subreaper(&mut c);
    c.err("no child left at the end", wait4(-1, None, WNOHANG), ECHILD);
    c.status()
}

// ---- helpers ------------------------------------------------------------------

/// `prefix` followed by the decimal `n`, NUL-terminated, in `buf`.
fn numbered<'a>(buf: &'a mut [u8; 64], prefix: &[u8], n: usize) -> &'a CStr {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut v = n;
    loop {
        digits[len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let p = prefix.len().min(40);
    buf[..p].copy_from_slice(&prefix[..p]);
    for i in 0..len {
        buf[p + i] = digits[len - 1 - i];
    }
    buf[p + len] = 0;
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/tmp/fork-rs")
}

fn rd(p: *const u64) -> u64 {
    // SAFETY: callers pass pointers into live mappings, the brk heap or locals.
    unsafe { core::ptr::read_volatile(p) }
}

fn wr(p: *mut u64, v: u64) {
    // SAFETY: as for rd; the memory is writable and ours.
    unsafe { core::ptr::write_volatile(p, v) }
}

// ---- the checks ---------------------------------------------------------------

fn no_children(c: &mut Checker) {
    c.err("wait4(-1) without children ECHILD", wait4(-1, None, 0), ECHILD);
    c.err("wait4(-1, WNOHANG) without children ECHILD", wait4(-1, None, WNOHANG), ECHILD);
    let me = pid() as i32;
    c.err("wait4 for itself ECHILD", wait4(me, None, 0), ECHILD);
    let mut info = siginfo_t::default();
    let r = waitid(P_ALL, 0, Some(&mut info), WEXITED);
    c.err("waitid(P_ALL) without children ECHILD", r, ECHILD);
    // Argument checks come before the search for children.
    c.err("wait4 unknown option bit EINVAL", wait4(-1, None, 0x100), EINVAL);
    c.err("wait4 WEXITED (a waitid option) EINVAL", wait4(-1, None, WEXITED), EINVAL);
    c.err("wait4 WNOWAIT (a waitid option) EINVAL", wait4(-1, None, WNOWAIT), EINVAL);
    c.err("wait4 pid INT_MIN ESRCH", wait4(i32::MIN, None, 0), ESRCH);
    let r = waitid(P_ALL, 0, Some(&mut info), 0);
    c.err("waitid without WEXITED/WSTOPPED/WCONTINUED EINVAL", r, EINVAL);
    let r = waitid(P_ALL, 0, Some(&mut info), WEXITED | 0x100);
    c.err("waitid unknown option bit EINVAL", r, EINVAL);
    c.err("waitid bad idtype EINVAL", waitid(7, 0, Some(&mut info), WEXITED), EINVAL);
    c.err("waitid P_PID 0 EINVAL", waitid(P_PID, 0, Some(&mut info), WEXITED), EINVAL);
    c.err("waitid P_PID -1 EINVAL", waitid(P_PID, -1, Some(&mut info), WEXITED), EINVAL);
}

fn return_values(c: &mut Checker) {
    let me = pid();
    let [r, w] = pipe();
    let child = match fork() {
        Ok(0) => {
            // The child: what fork returned here, its pid, parent and tid.
            let ok = put_u32(w, 0)
                && put_u32(w, getpid().unwrap_or(0) as u32)
                && put_u32(w, getppid().unwrap_or(0) as u32)
                && put_u32(w, gettid().unwrap_or(0) as u32);
            exit_group(if ok { 0 } else { 1 })
        }
        Ok(p) => p,
        Err(e) => {
            c.fail("fork", e);
            close_all(&[r, w]);
            return;
        }
    };
    // Only the child keeps the write end: a child that dies early gives EOF.
    let _ = close(w);
    c.check("fork returns a positive pid in the parent", child > 0);
    c.check("fork returns a pid other than the parent's", child != me);
    let ret = get_u32(r);
    let cpid = get_u32(r);
    let cppid = get_u32(r);
    let ctid = get_u32(r);
    c.check("fork returns 0 in the child", ret == Some(0));
    c.check("getpid in the child is what fork returned", cpid == Some(child as u32));
    c.check("getppid in the child is the parent's pid", cppid == Some(me as u32));
    c.check("gettid in the child equals its pid", ctid == Some(child as u32));
    c.reaped("fork child reaped with status 0", child, 0, WaitStatus::Exited(0));
    let _ = close(r);
}

fn child_code(i: usize) -> i32 {
    ((i * 5 + 55) % 256) as i32
}

fn many_children(c: &mut Checker) {
    let mut pids = [0usize; CHILDREN];
    let mut made = 0;
    for (i, slot) in pids.iter_mut().enumerate() {
        match fork() {
            Ok(0) => exit_group(child_code(i)),
            Ok(p) => {
                *slot = p;
                made += 1;
            }
            Err(e) => {
                c.fail("fork 100 children one after another", e);
                break;
            }
        }
    }
    if made == CHILDREN {
        c.check("fork 100 children one after another", true);
    }
    let distinct = (0..made).all(|i| (i + 1..made).all(|j| pids[i] != pids[j]));
    c.check("the 100 children have distinct pids", distinct);

    let mut seen = [false; CHILDREN];
    let (mut once, mut statuses_ok) = (true, true);
    for _ in 0..made {
        let mut st = 0;
        match wait4(-1, Some(&mut st), 0) {
            Ok(p) => match pids[..made].iter().position(|&q| q == p) {
                Some(i) if !seen[i] => {
                    seen[i] = true;
                    if WaitStatus::from_raw(st) != WaitStatus::Exited(child_code(i)) {
                        statuses_ok = false;
                    }
                }
                _ => once = false,
            },
            Err(_) => once = false,
        }
    }
    c.check("wait4(-1) reaps each of the 100 children exactly once", once && made == CHILDREN);
    c.check("wait4 gives each child's exit status (WIFEXITED, WEXITSTATUS)", statuses_ok);
    c.err("wait4(-1) ECHILD after the last child", wait4(-1, None, 0), ECHILD);
}

fn statuses(c: &mut Checker) {
    // exit_group keeps the low 8 bits of its argument.
    match fork_with(|| 0x1234) {
        Ok(p) => {
            let mut st = 0;
            let r = wait4(p as i32, Some(&mut st), 0);
            c.check(
                "exit status 0x1234 is reported as 0x34 (raw 0x3400)",
                r == Ok(p) && st == 0x3400,
            );
        }
        Err(e) => c.fail("exit status 0x1234 is reported as 0x34 (raw 0x3400)", e),
    }

    // SIGKILL while blocked in read.
    let [r, w] = pipe();
    match fork_with(|| {
        let _ = close(w);
        wait_on(r);
        0
    }) {
        Ok(p) => {
            c.ok_eq("kill SIGKILL a child", kill(p as i32, SIGKILL), 0);
            let mut st = 0;
            let ok = wait4(p as i32, Some(&mut st), 0) == Ok(p);
            let ws = WaitStatus::from_raw(st);
            c.check("SIGKILL: WIFSIGNALED with WTERMSIG 9 (raw status 9)", ok && st == 9);
            c.check("SIGKILL: not WIFEXITED", ok && !matches!(ws, WaitStatus::Exited(_)));
        }
        Err(e) => c.fail("fork a child to kill", e),
    }
    close_all(&[r, w]);

    // SIGSEGV from a write to address 0x10 (no core file: RLIMIT_CORE 0).
    match fork_with(|| {
        let _ = setrlimit(RLIMIT_CORE, &rlimit { rlim_cur: 0, rlim_max: 0 });
        // SAFETY: the write faults and the default action of SIGSEGV ends the
        // child; nothing of ours is at 0x10.
        unsafe { core::arch::asm!("mov dword ptr [{}], 1", in(reg) 0x10usize, options(nostack)) };
        0
    }) {
        Ok(p) => {
            let name = "a write to 0x10 kills the child with SIGSEGV (WTERMSIG 11)";
            c.reaped(name, p, 0, WaitStatus::Signaled(SIGSEGV, false));
        }
        Err(e) => c.fail("fork a child that faults", e),
    }
}

/// Writes `tag ^ index` to the stack word, two heap words and two words of
/// every page of the mapping.
fn fill(stack: *mut u64, heap: usize, map: usize, tag: u64) {
    wr(stack, tag);
    wr(heap as *mut u64, tag ^ 1);
    wr((heap + PAGE_SIZE) as *mut u64, tag ^ 2);
    for i in 0..MAP_LEN / PAGE_SIZE {
        let page = map + i * PAGE_SIZE;
        wr(page as *mut u64, tag ^ ((i as u64) << 8));
        wr((page + PAGE_SIZE - 8) as *mut u64, tag ^ ((i as u64) << 16));
    }
}

/// Which regions do not hold `tag`: bit 0 stack, bit 1 heap, bit 2 mapping.
fn differs(stack: *const u64, heap: usize, map: usize, tag: u64) -> u8 {
    let mut bits = 0;
    if rd(stack) != tag {
        bits |= 1;
    }
    if rd(heap as *const u64) != tag ^ 1 || rd((heap + PAGE_SIZE) as *const u64) != tag ^ 2 {
        bits |= 2;
    }
    for i in 0..MAP_LEN / PAGE_SIZE {
        let page = map + i * PAGE_SIZE;
        if rd(page as *const u64) != tag ^ ((i as u64) << 8)
            || rd((page + PAGE_SIZE - 8) as *const u64) != tag ^ ((i as u64) << 16)
        {
            bits |= 4;
            break;
        }
    }
    bits
}

fn cow_private(c: &mut Checker) {
    const BEFORE: u64 = 0xaaaa_0000_0000_0000;
    const PARENT: u64 = 0xbbbb_0000_0000_0000;
    const CHILD: u64 = 0xcccc_0000_0000_0000;
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh private anonymous mapping that nothing else uses.
    let map = match unsafe { mmap(0, MAP_LEN, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => a,
        Err(e) => {
            c.fail("cow: mmap 4 MiB", e);
            return;
        }
    };
    // SAFETY: querying the break changes nothing.
    let brk0 = unsafe { brk(0) };
    let heap = (brk0 + 7) & !7;
    // SAFETY: growing the break maps fresh memory that only this test uses.
    if unsafe { brk(heap + 2 * PAGE_SIZE) } < heap + 2 * PAGE_SIZE {
        c.fail("cow: brk grows the heap", "brk did not move");
        return;
    }
    let mut word: u64 = 0;
    let stack = &mut word as *mut u64;
    fill(stack, heap, map, BEFORE);

    let [p2c_r, p2c_w] = pipe();
    let [c2p_r, c2p_w] = pipe();
    match fork() {
        Ok(0) => {
            wait_on(p2c_r); // the parent has written PARENT everywhere
            let mut bits = differs(stack, heap, map, BEFORE);
            fill(stack, heap, map, CHILD);
            bits |= differs(stack, heap, map, CHILD) << 3;
            put_byte(c2p_w, bits);
            wait_on(p2c_r); // the parent has checked its copy
            exit_group(0)
        }
        Ok(child) => {
            let _ = close(c2p_w); // EOF for the parent if the child dies early
            fill(stack, heap, map, PARENT);
            put_byte(p2c_w, 1);
            let seen = get_byte(c2p_r).unwrap_or(0xff);
            let own = differs(stack, heap, map, PARENT);
            let regions = ["stack", "brk heap", "4 MiB private mapping"];
            for (i, region) in regions.iter().enumerate() {
                let bit = 1 << i;
                c.check(
                    format_args!("cow {}: the child sees the value from before fork", region),
                    seen & bit == 0,
                );
                c.check(
                    format_args!("cow {}: the child's write is not seen by the parent", region),
                    own & bit == 0,
                );
                c.check(
                    format_args!("cow {}: the child reads back its own write", region),
                    seen & (bit << 3) == 0,
                );
            }
            put_byte(p2c_w, 2);
            c.reaped("cow child exits 0", child, 0, WaitStatus::Exited(0));
        }
        Err(e) => {
            c.fail("cow: fork", e);
            let _ = close(c2p_w);
        }
    }
    close_all(&[p2c_r, p2c_w, c2p_r]);
    // SAFETY: only this test used the heap pages and the mapping.
    unsafe {
        brk(brk0);
        let _ = munmap(map, MAP_LEN);
    }
}

fn kernel_write_cow(c: &mut Checker) {
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh private anonymous page that nothing else uses.
    let page = match unsafe { mmap(0, PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => a as *mut u8,
        Err(e) => {
            c.fail("kernel write: mmap", e);
            return;
        }
    };
    // SAFETY: page is PAGE_SIZE writable bytes that only this test uses; the
    // parent never writes it after fork, so the page stays shared until the
    // kernel writes the child's copy.
    unsafe { core::ptr::write_bytes(page, b'p', PAGE_SIZE) };
    let mut sbuf = [b'p'; 32];
    let [r, w] = pipe();
    let _ = write(w, b"kernel-written-1kernel-written-2");
    match fork() {
        Ok(0) => {
            // SAFETY: the first 16 bytes of the page, ours to fill.
            let dst = unsafe { core::slice::from_raw_parts_mut(page, 16) };
            let mut bits = 0;
            if read(r, dst) != Ok(16) || dst != b"kernel-written-1" {
                bits |= 1;
            }
            if read(r, &mut sbuf[..16]) != Ok(16) || &sbuf[..16] != b"kernel-written-2" {
                bits |= 2;
            }
            exit_group(bits)
        }
        Ok(child) => {
            c.reaped_bits(
                child,
                0,
                &[
                    "read() in the child fills its copy of a private page",
                    "read() in the child fills its copy of a stack buffer",
                ],
            );
            // SAFETY: page has PAGE_SIZE readable bytes.
            let untouched =
                (0..PAGE_SIZE).all(|i| unsafe { core::ptr::read_volatile(page.add(i)) } == b'p');
            c.check(
                "read() into a copy-on-write page in the child leaves the parent's page",
                untouched,
            );
            let p = sbuf.as_ptr();
            // SAFETY: p points to the 32 bytes of sbuf.
            let untouched = (0..32).all(|i| unsafe { core::ptr::read_volatile(p.add(i)) } == b'p');
            c.check(
                "read() into a stack buffer in the child leaves the parent's buffer",
                untouched,
            );
        }
        Err(e) => c.fail("kernel write: fork", e),
    }
    close_all(&[r, w]);
    // SAFETY: only this test used the page.
    let _ = unsafe { munmap(page as usize, PAGE_SIZE) };
}

/// The other way round: the kernel writes into the parent's copy-on-write page
/// (read(2) from a pipe) while the child still shares it.
fn kernel_write_cow_parent(c: &mut Checker) {
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh private anonymous page that nothing else uses.
    let page = match unsafe { mmap(0, PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => a as *mut u8,
        Err(e) => {
            c.fail("kernel write in the parent: mmap", e);
            return;
        }
    };
    // SAFETY: page is PAGE_SIZE writable bytes that only this test uses.
    unsafe { core::ptr::write_bytes(page, b'q', PAGE_SIZE) };
    let [r, w] = pipe();
    let [go_r, go_w] = pipe();
    let _ = write(w, b"kernel-written-3");
    match fork() {
        Ok(0) => {
            let _ = close(go_w);
            wait_on(go_r); // the parent's read has filled its copy
                           // SAFETY: page has PAGE_SIZE readable bytes in our copy.
            let untouched =
                (0..PAGE_SIZE).all(|i| unsafe { core::ptr::read_volatile(page.add(i)) } == b'q');
            exit_group(if untouched { 0 } else { 1 })
        }
        Ok(child) => {
            let _ = close(go_r);
            // SAFETY: the first 16 bytes of the page, ours to fill.
            let dst = unsafe { core::slice::from_raw_parts_mut(page, 16) };
            let filled = read(r, dst) == Ok(16) && dst == b"kernel-written-3";
            // SAFETY: page has PAGE_SIZE readable bytes.
            let rest =
                (16..PAGE_SIZE).all(|i| unsafe { core::ptr::read_volatile(page.add(i)) } == b'q');
            c.check("read() in the parent fills its copy of a copy-on-write page", filled && rest);
            let _ = close(go_w);
            c.reaped(
                "read() into a copy-on-write page in the parent leaves the child's page",
                child,
                0,
                WaitStatus::Exited(0),
            );
        }
        Err(e) => {
            c.fail("kernel write in the parent: fork", e);
            close_all(&[go_r, go_w]);
        }
    }
    close_all(&[r, w]);
    // SAFETY: only this test used the page.
    let _ = unsafe { munmap(page as usize, PAGE_SIZE) };
}

fn shared_mapping(c: &mut Checker) {
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh shared anonymous mapping that only this test uses.
    let sh = match unsafe { mmap(0, 2 * PAGE_SIZE, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => a,
        Err(e) => {
            c.fail("MAP_SHARED: mmap", e);
            return;
        }
    };
    let (p0, p1) = (sh as *mut u64, (sh + PAGE_SIZE) as *mut u64);
    wr(p0, 1); // page 1 is first touched after fork, in the child
    let [p2c_r, p2c_w] = pipe();
    let [c2p_r, c2p_w] = pipe();
    match fork() {
        Ok(0) => {
            let mut bits = 0;
            wait_on(p2c_r);
            if rd(p0) != 2 {
                bits |= 1;
            }
            wr(p0, 3);
            wr(p1, 4);
            put_byte(c2p_w, 1);
            wait_on(p2c_r);
            if rd(p1) != 5 {
                bits |= 8;
            }
            exit_group(bits)
        }
        Ok(child) => {
            let _ = close(c2p_w); // EOF for the parent if the child dies early
            wr(p0, 2);
            put_byte(p2c_w, 1);
            wait_on(c2p_r);
            let p0_ok = rd(p0) == 3;
            let p1_ok = rd(p1) == 4;
            wr(p1, 5);
            put_byte(p2c_w, 2);
            let bits = exit_bits(child);
            c.check("MAP_SHARED: the child sees the parent's write after fork", bits & 1 == 0);
            c.check("MAP_SHARED: the parent sees the child's write", p0_ok);
            c.check("MAP_SHARED: a page first touched by the child is shared", p1_ok);
            c.check("MAP_SHARED: the child sees the parent's write to that page", bits & 8 == 0);
        }
        Err(e) => {
            c.fail("MAP_SHARED: fork", e);
            let _ = close(c2p_w);
        }
    }
    close_all(&[p2c_r, p2c_w, c2p_r]);
    // SAFETY: only this test used the mapping.
    let _ = unsafe { munmap(sh, 2 * PAGE_SIZE) };
}

/// Reap `child` and return its exit status: the bits of the checks that
/// failed in it (0xff if it did not exit normally).
fn exit_bits(child: usize) -> i32 {
    let mut st = 0;
    match wait4(child as i32, Some(&mut st), 0) {
        Ok(_) => match WaitStatus::from_raw(st) {
            WaitStatus::Exited(b) => b,
            _ => 0xff,
        },
        Err(_) => 0xff,
    }
}

/// The process's VmRSS in kB, from /proc/self/status.
fn vm_rss_kib() -> Option<u64> {
    let status: text::Buf<4096> = text::read_file(c"/proc/self/status", 4096).ok()?;
    let line = status.str().lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    text::parse_u64(line.trim().trim_end_matches("kB").trim().as_bytes())
}

/// fork does not copy a shared mapping's page-table entries (Linux
/// `vma_needs_copy`: no anon_vma); the child's faults map the shared pages,
/// which join its RSS only then. Checked where VmRSS is exact (Linux 6.2
/// and later, and the guest), which the child tests first.
fn shared_pages_join_the_childs_rss(c: &mut Checker) {
    const PAGES: usize = 64;
    let prot = PROT_READ | PROT_WRITE;
    // SAFETY: a fresh shared anonymous mapping that only this test uses.
    let sh = match unsafe { mmap(0, PAGES * PAGE_SIZE, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0) } {
        Ok(a) => a,
        Err(e) => {
            c.fail("MAP_SHARED RSS: mmap", e);
            return;
        }
    };
    let page = |i: usize| (sh + i * PAGE_SIZE) as *mut u64;
    for i in 0..PAGES {
        wr(page(i), i as u64 + 7);
    }
    match fork() {
        Ok(0) => {
            // Whether this kernel's VmRSS is exact: 16 new private pages must
            // add 64 kB. Linux before 6.2 counts a task's faults in a cache
            // it folds into the process's count only every 64 faults
            // (SPLIT_RSS_COUNTING); there the shared pages are not counted.
            const PROBE: usize = 16;
            let base = vm_rss_kib();
            // SAFETY: a fresh private mapping this child only touches.
            let probe =
                unsafe { mmap(0, PROBE * PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) };
            if let Ok(p) = probe {
                for i in 0..PROBE {
                    wr((p + i * PAGE_SIZE) as *mut u64, 1);
                }
            }
            let before = vm_rss_kib();
            let exact = matches!((base, before), (Some(b), Some(a)) if a.wrapping_sub(b) == 64);
            let mut bits = 0;
            for i in 0..PAGES {
                if rd(page(i)) != i as u64 + 7 {
                    bits |= 1;
                }
            }
            match (probe, before, vm_rss_kib()) {
                (Ok(_), Some(_), Some(_)) if !exact => {}
                (Ok(_), Some(b), Some(a)) if a.wrapping_sub(b) == (PAGES * 4) as u64 => {}
                (Ok(_), Some(_), Some(_)) => bits |= 2,
                _ => bits |= 4,
            }
            exit_group(bits)
        }
        Ok(child) => {
            let bits = exit_bits(child);
            c.check("MAP_SHARED RSS: the child reads the 64 pages the parent wrote", bits & 1 == 0);
            c.check("MAP_SHARED RSS: the child maps 16 pages and reads VmRSS", bits & 4 == 0);
            c.check(
                "MAP_SHARED RSS: reading them adds 256 kB to the child's VmRSS (not copied by fork)",
                bits & 2 == 0,
            );
        }
        Err(e) => c.fail("MAP_SHARED RSS: fork", e),
    }
    // SAFETY: only this test used the mapping.
    let _ = unsafe { munmap(sh, PAGES * PAGE_SIZE) };
}

fn fds(c: &mut Checker) {
    let mut buf = [0u8; 64];
    let path = numbered(&mut buf, b"/tmp/fork-rs-", pid());
    let flags = O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC;
    let fd = match openat(AT_FDCWD, path, flags, 0o600) {
        Ok(fd) => fd as i32,
        Err(e) => {
            c.fail("fds: create a file", e);
            return;
        }
    };
    match fork_with(|| if write(fd, b"0123456789") == Ok(10) { 0 } else { 1 }) {
        Ok(p) => {
            c.reaped("the child writes through the inherited fd", p, 0, WaitStatus::Exited(0));
            let r = lseek(fd, 0, SEEK_CUR);
            c.ok_eq("the child's write advanced the parent's offset (shared)", r, 10);
        }
        Err(e) => c.fail("fds: fork", e),
    }
    let _ = write(fd, b"abcde");
    match fork_with(|| {
        let mut bits = 0;
        if lseek(fd, 0, SEEK_CUR) != Ok(15) {
            bits |= 1;
        }
        if lseek(fd, 3, SEEK_SET) != Ok(3) {
            bits |= 2;
        }
        if close(fd).is_err() {
            bits |= 4;
        }
        bits
    }) {
        Ok(p) => {
            c.reaped_bits(
                p,
                0,
                &[
                    "the child sees the parent's offset",
                    "the child seeks the inherited fd",
                    "the child closes its copy of the fd",
                ],
            );
            c.ok_eq("the child's lseek moved the parent's offset", lseek(fd, 0, SEEK_CUR), 3);
            c.ok("the child's close left the parent's fd open", fcntl(fd, F_GETFD, 0));
        }
        Err(e) => c.fail("fds: fork", e),
    }
    let mut content = [0u8; 32];
    let r = pread64(fd, &mut content, 0);
    c.check(
        "the file holds the child's then the parent's bytes",
        r == Ok(15) && &content[..15] == b"0123456789abcde",
    );
    let _ = close(fd);
    let _ = unlinkat(AT_FDCWD, path, 0);
}

fn wnohang(c: &mut Checker) {
    let [r, w] = pipe();
    match fork_with(|| {
        let _ = close(w);
        wait_on(r);
        0
    }) {
        Ok(p) => {
            c.ok_eq(
                "wait4 WNOHANG returns 0 while the child runs",
                wait4(p as i32, None, WNOHANG),
                0,
            );
            let mut info = siginfo_filled(0x55);
            let r = waitid(P_PID, p as i32, Some(&mut info), WEXITED | WNOHANG);
            c.ok_eq("waitid WNOHANG returns 0 while the child runs", r, 0);
            c.check(
                "waitid WNOHANG with nothing to report: si_signo and si_pid 0",
                info.si_signo == 0 && info.si_pid() == 0,
            );
            let _ = put_byte(w, 1);
            c.reaped("the child exits once released", p, 0, WaitStatus::Exited(0));
        }
        Err(e) => c.fail("wnohang: fork", e),
    }
    close_all(&[r, w]);
}

fn check_info(c: &mut Checker, what: &str, info: &siginfo_t, pid: usize, code: i32, status: i32) {
    c.check(format_args!("{}: si_signo SIGCHLD", what), info.si_signo == SIGCHLD as i32);
    let want = if code == CLD_EXITED { "CLD_EXITED" } else { "CLD_KILLED" };
    c.check(format_args!("{}: si_code {}", what, want), info.si_code == code);
    c.check(format_args!("{}: si_pid is the child", what), info.si_pid() == pid as i32);
    c.check(format_args!("{}: si_status {}", what, status), info.si_status() == status);
    c.check(
        format_args!("{}: si_uid is the child's uid", what),
        Ok(info.si_uid() as usize) == getuid(),
    );
}

fn waitid_cases(c: &mut Checker) {
    // P_PID with WNOWAIT: reported, then still there.
    match fork_with(|| 42) {
        Ok(a) => {
            let mut info = siginfo_t::default();
            let r = waitid(P_PID, a as i32, Some(&mut info), WEXITED | WNOWAIT);
            c.ok_eq("waitid P_PID WEXITED|WNOWAIT", r, 0);
            check_info(c, "waitid P_PID WNOWAIT", &info, a, CLD_EXITED, 42);
            let mut again = siginfo_t::default();
            let r = waitid(P_PID, a as i32, Some(&mut again), WEXITED | WNOWAIT);
            c.check(
                "waitid WNOWAIT leaves the child waitable",
                r == Ok(0) && again.si_pid() == a as i32,
            );
            c.reaped("wait4 reaps the child after WNOWAIT", a, 0, WaitStatus::Exited(42));
            c.err(
                "the reaped child is gone (wait4 ECHILD)",
                wait4(a as i32, None, WNOHANG),
                ECHILD,
            );
        }
        Err(e) => c.fail("waitid: fork", e),
    }
    // P_ALL
    match fork_with(|| 7) {
        Ok(b) => {
            let mut info = siginfo_t::default();
            let r = waitid(P_ALL, 0, Some(&mut info), WEXITED | WNOWAIT);
            c.check(
                "waitid P_ALL WNOWAIT reports the child",
                r == Ok(0) && info.si_pid() == b as i32 && info.si_status() == 7,
            );
            let mut info = siginfo_t::default();
            let r = waitid(P_ALL, 0, Some(&mut info), WEXITED);
            c.check("waitid P_ALL WEXITED reaps it", r == Ok(0) && info.si_pid() == b as i32);
            c.err("the child reaped by waitid is gone", wait4(b as i32, None, WNOHANG), ECHILD);
        }
        Err(e) => c.fail("waitid: fork", e),
    }
    // P_PGID: children are in the caller's process group.
    let pg = getpgid(0).unwrap_or(0) as i32;
    match fork_with(|| 9) {
        Ok(d) => {
            let mut info = siginfo_t::default();
            let r = waitid(P_PGID, pg, Some(&mut info), WEXITED);
            c.check(
                "waitid P_PGID (own group) reaps the child",
                r == Ok(0) && info.si_pid() == d as i32 && info.si_status() == 9,
            );
        }
        Err(e) => c.fail("waitid: fork", e),
    }
    match fork_with(|| 10) {
        Ok(e) => {
            let mut info = siginfo_t::default();
            let r = waitid(P_PGID, 0, Some(&mut info), WEXITED);
            c.check(
                "waitid P_PGID 0 means the caller's group",
                r == Ok(0) && info.si_pid() == e as i32 && info.si_status() == 10,
            );
        }
        Err(e) => c.fail("waitid: fork", e),
    }
    // A killed child, while another group has no child of ours.
    let [r, w] = pipe();
    match fork_with(|| {
        let _ = close(w);
        wait_on(r);
        0
    }) {
        Ok(f) => {
            let mut info = siginfo_t::default();
            let r = waitid(P_PGID, 0x7fff_fff0, Some(&mut info), WEXITED | WNOHANG);
            c.err("waitid P_PGID of a group without our children ECHILD", r, ECHILD);
            let _ = kill(f as i32, SIGKILL);
            let mut info = siginfo_t::default();
            let r = waitid(P_PID, f as i32, Some(&mut info), WEXITED);
            c.ok_eq("waitid P_PID of a killed child", r, 0);
            check_info(c, "waitid of a killed child", &info, f, CLD_KILLED, SIGKILL as i32);
        }
        Err(e) => c.fail("waitid: fork", e),
    }
    close_all(&[r, w]);
}

fn sigchld_ignored(c: &mut Checker) {
    if c.ok("SIGCHLD set to SIG_IGN", signal_disposition(SIGCHLD, SIG_IGN)).is_none() {
        return;
    }
    let mut pids = [0usize; 3];
    for (i, slot) in pids.iter_mut().enumerate() {
        *slot = fork_with(|| i as i32).unwrap_or(0);
    }
    c.check("fork 3 children with SIGCHLD ignored", pids.iter().all(|&p| p > 0));
    // wait4 sleeps until the children are gone, then finds none.
    c.err(
        "SIGCHLD ignored: wait4 ECHILD (children reaped by the kernel)",
        wait4(-1, None, 0),
        ECHILD,
    );
    // wait4 skips a child the kernel is releasing, so the pid may be found a
    // moment longer; it must not stay (no zombie).
    let gone = eventually(|| pids.iter().all(|&p| kill(p as i32, 0) == Err(ESRCH)));
    c.check("SIGCHLD ignored: no zombie left (kill ESRCH)", gone);
    c.ok("SIGCHLD back to SIG_DFL", signal_disposition(SIGCHLD, SIG_DFL));
}

fn subreaper(c: &mut Checker) {
    c.ok_eq("PR_GET_CHILD_SUBREAPER is 0 at start", get_child_subreaper(), 0);
    c.ok_eq("PR_SET_CHILD_SUBREAPER 1", set_child_subreaper(true), 0);
    c.ok_eq("PR_GET_CHILD_SUBREAPER is 1 after setting it", get_child_subreaper(), 1);
    let me = pid() as u32;
    let [go_r, go_w] = pipe(); // program -> grandchild: "your parent is gone"
    let [rep_r, rep_w] = pipe(); // child -> program: the grandchild's pid
    let [gc_r, gc_w] = pipe(); // grandchild -> child: "started"
    let child = fork_with(|| {
        let mid = getpid().unwrap_or(0) as u32;
        let grandchild = fork_with(|| {
            let _ = close(rep_w);
            let mut bits = 0;
            if getppid() != Ok(mid as usize) {
                bits |= 1;
            }
            if get_child_subreaper() != Ok(0) {
                bits |= 2;
            }
            put_byte(gc_w, 1);
            wait_on(go_r); // the program has reaped our parent
            if getppid() != Ok(me as usize) {
                bits |= 4;
            }
            bits
        });
        match grandchild {
            Ok(g) => {
                wait_on(gc_r);
                if put_u32(rep_w, g as u32) {
                    0
                } else {
                    1
                }
            }
            Err(_) => 2,
        }
    });
    // Only the middle child keeps rep_w: EOF for the program if it dies early.
    let _ = close(rep_w);
    match child {
        Ok(p) => {
            let g = get_u32(rep_r);
            c.reaped("the middle child exits, leaving an orphan", p, 0, WaitStatus::Exited(0));
            let _ = put_byte(go_w, 1);
            match g {
                Some(g) => c.reaped_bits(
                    g as usize,
                    0,
                    &[
                        "the grandchild's parent was the middle child",
                        "PR_SET_CHILD_SUBREAPER is not inherited by fork",
                        "the orphan is reparented to the subreaper (getppid)",
                    ],
                ),
                None => {
                    c.fail("the orphan is reparented to the subreaper (getppid)", "no grandchild")
                }
            }
        }
        Err(e) => c.fail("subreaper: fork", e),
    }
    close_all(&[go_r, go_w, rep_r, gc_r, gc_w]);
}
