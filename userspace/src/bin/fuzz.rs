//! A system-call fuzzer (issue 12, item 7), in the spirit of trinity: random
//! calls from the x86-64 table with random and boundary arguments, made by a
//! small tree of disposable processes, and a kernel that must come out of it
//! as it went in.
//!
//! `fuzz [seed=N] [calls=N] [secs=N] [procs=N] [gen_ms=N] [nrs=LO-HI]
//! [skip=N] [stay=1]` (defaults: a seed from `getrandom`, 5000 calls, 60 s, 4
//! processes, 1000 ms, the whole table, nothing skipped, no staying after a
//! hang), as pid 1 of
//! the guest only (it refuses to run as anything else: on a host it would be
//! a real fuzzer). The first line is `fuzz: seed N ...`, so a crash report
//! (the VMM prints the program's output with it) carries the seed that
//! reproduces the run's calls (the interleaving of the processes is the
//! scheduler's).
//!
//! pid 1 is the supervisor and makes no fuzzed call itself. It writes
//! `snapshot fuzz-before` to /dev/counters, then runs generations: `procs`
//! children, each with its own seed, fuzz concurrently (`setsid` first, fds
//! 0-2 on /dev/null, cwd /fz with a file, a directory and pipes around);
//! a child that ends is replaced, and now and then pid 1 kills one with
//! SIGKILL. Whatever a child does is its own business (exit, fork, clone,
//! execve, munmap of its own text, signals to itself, `arch_prctl`): only a
//! pid argument of 1 is rewritten ([`userspace::fuzz::sandbox`]). At the end
//! of a generation pid 1 sends SIGKILL to every other process (`kill(-1)`)
//! and reaps until ECHILD; processes still there 30 s later are a hang (a
//! `FAIL` line). When `calls` calls were made or `secs` passed, pid 1
//! removes what the children created in the file system, writes
//! `snapshot fuzz-after` and prints one `fuzz: ...` line of figures; the
//! test compares the two snapshots (frames, kernel stacks, pids, tasks,
//! open files, page-table pages, heap).
#![no_std]
#![no_main]

use core::ffi::CStr;
use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use userspace::fuzz::{self, Enosys, Pools, Rng};
use userspace::*;

userspace::entry!(main);

/// The page the children share with pid 1 (MAP_SHARED): the calls made.
struct Shared {
    calls: AtomicU64,
}

/// pid 1's descriptor of /dev/null, which the children put on fds 0-2.
static NULL_FD: AtomicI32 = AtomicI32::new(-1);

struct Opts {
    seed: u64,
    calls: u64,
    secs: u64,
    procs: usize,
    gen_ms: u64,
    /// Only the table's numbers in `lo..=hi` (`nrs=LO-HI`: to narrow down a
    /// finding).
    lo: usize,
    hi: usize,
    /// A number left out (`skip=N`: a known finding, see the README).
    skip: usize,
    /// `stay=1`: after a hang report, stay (sleeping) instead of going on,
    /// so that the VMM's `--timeout` report shows where each CPU is and
    /// every task's scheduler state.
    stay: bool,
}

fn main(args: Args, _env: Env) -> i32 {
    let mut o = Opts {
        seed: 0,
        calls: 5000,
        secs: 60,
        procs: 4,
        gen_ms: 1000,
        lo: 0,
        hi: usize::MAX,
        skip: usize::MAX,
        stay: false,
    };
    let mut seeded = false;
    for a in args.iter().skip(1) {
        let a = a.to_bytes();
        let Some(eq) = a.iter().position(|&b| b == b'=') else {
            println!("fuzz: bad argument (want NAME=N)");
            return 2;
        };
        if &a[..eq] == b"nrs" {
            let v = &a[eq + 1..];
            let dash = v.iter().position(|&b| b == b'-').unwrap_or(v.len());
            match (
                text::parse_u64(&v[..dash]),
                text::parse_u64(v.get(dash + 1..).unwrap_or(&v[..dash])),
            ) {
                (Some(lo), Some(hi)) => (o.lo, o.hi) = (lo as usize, hi as usize),
                _ => {
                    println!("fuzz: nrs=LO-HI");
                    return 2;
                }
            }
            continue;
        }
        let Some(v) = text::parse_u64(&a[eq + 1..]) else {
            println!("fuzz: bad number in an argument");
            return 2;
        };
        match &a[..eq] {
            b"seed" => (o.seed, seeded) = (v, true),
            b"calls" => o.calls = v,
            b"secs" => o.secs = v,
            b"procs" => o.procs = (v as usize).clamp(1, 64),
            b"gen_ms" => o.gen_ms = v.max(10),
            b"skip" => o.skip = v as usize,
            b"stay" => o.stay = v != 0,
            _ => {
                println!(
                    "fuzz: unknown argument (seed, calls, secs, procs, gen_ms, nrs, skip, stay)"
                );
                return 2;
            }
        }
    }
    if pid() != 1 {
        // An execve of this program by a fuzzing child lands here too.
        println!("fuzz: runs only as pid 1 of the guest");
        return 2;
    }
    if !seeded {
        let mut b = [0u8; 8];
        let _ = getrandom(&mut b, 0);
        o.seed = u64::from_le_bytes(b);
    }
    println!(
        "fuzz: seed {} calls {} secs {} procs {} gen_ms {} nrs {}-{} skip {}",
        o.seed, o.calls, o.secs, o.procs, o.gen_ms, o.lo, o.hi, o.skip as isize
    );
    supervise(&o)
}

fn supervise(o: &Opts) -> i32 {
    let mut c = Checker::new();
    // SAFETY: a fresh shared anonymous page; nothing else uses it.
    let page = unsafe { mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) };
    let Some(page) = c.ok("mmap the shared page", page) else { return c.status() };
    // SAFETY: the page is mapped read-write, zeroed (a valid AtomicU64), and
    // stays mapped in pid 1 for the whole run.
    let shared: &Shared = unsafe { &*(page as *const Shared) };
    if let Ok(fd) = openat(AT_FDCWD, c"/dev/null", O_RDWR, 0) {
        NULL_FD.store(fd as i32, Ordering::Relaxed);
    }
    let names_root = Names::of(c"/");
    let names_dev = Names::of(c"/dev");
    let mut rng = Rng::new(o.seed);
    let mut st = Stats::default();
    // A warm-up round (pid 1 faults its own pages in, the per-CPU caches of
    // kernel stacks fill), then the baseline.
    let warmup = (o.calls / 10).clamp(1, 500);
    round(o, warmup, o.gen_ms, shared, &mut rng, &mut st, &mut c);
    cleanup(&names_root, &names_dev);
    leak_check_snapshot("fuzz-before");
    let before = shared.calls.load(Ordering::Relaxed);
    st = Stats::default();
    let start = monotonic_ns();
    if !st.hang {
        round(o, before + o.calls, o.secs * 1000, shared, &mut rng, &mut st, &mut c);
    }
    let ms = (monotonic_ns() - start) / 1_000_000;
    cleanup(&names_root, &names_dev);
    leak_check_snapshot("fuzz-after");
    let calls = shared.calls.load(Ordering::Relaxed) - before;
    let Stats { gens, spawned, killed, reaped, exited, by_signal, .. } = st;
    println!(
        "fuzz: {} calls in {} ms ({} calls/s), {} generations, {} processes spawned, \
         {} killed by pid 1, {} reaped: {} exited, {} SIGKILL, {} SIGSEGV, {} SIGBUS, \
         {} other signals",
        calls,
        ms,
        calls * 1000 / ms.max(1),
        gens,
        spawned,
        killed,
        reaped,
        exited,
        by_signal[SIGKILL as usize],
        by_signal[SIGSEGV as usize],
        by_signal[SIGBUS as usize],
        by_signal.iter().sum::<u64>()
            - by_signal[SIGKILL as usize]
            - by_signal[SIGSEGV as usize]
            - by_signal[SIGBUS as usize],
    );
    c.check("calls were made", calls > 0);
    c.status()
}

#[derive(Default)]
struct Stats {
    gens: u64,
    spawned: u64,
    killed: u64,
    reaped: u64,
    exited: u64,
    by_signal: [u64; 32],
    hang: bool,
}

/// Generations of fuzzing children until `shared.calls` reaches `target` or
/// `ms` milliseconds passed.
fn round(
    o: &Opts,
    target: u64,
    ms: u64,
    shared: &'static Shared,
    rng: &mut Rng,
    s: &mut Stats,
    c: &mut Checker,
) {
    let end = monotonic_ns() + ms * 1_000_000;
    let budget_left = || shared.calls.load(Ordering::Relaxed) < target;
    while budget_left() && monotonic_ns() < end && !s.hang {
        s.gens += 1;
        setup_fs();
        let mut kids = [0i32; 64];
        for k in kids.iter_mut().take(o.procs) {
            *k = spawn(rng.next_u64(), shared, o);
            s.spawned += 1;
        }
        let gen_end = (monotonic_ns() + o.gen_ms * 1_000_000).min(end);
        while monotonic_ns() < gen_end && budget_left() {
            let mut st = 0;
            match wait4(-1, Some(&mut st), WNOHANG | __WALL) {
                Ok(0) | Err(_) => nap(),
                Ok(p) => {
                    s.reaped += 1;
                    s.count(st);
                    if let Some(k) = kids.iter_mut().take(o.procs).find(|k| **k == p as i32) {
                        *k = spawn(rng.next_u64(), shared, o);
                        s.spawned += 1;
                    }
                }
            }
            if rng.chance(1, 200) {
                let k = rng.below(o.procs as u64) as usize;
                if kids[k] > 0 && kill(kids[k], SIGKILL).is_ok() {
                    s.killed += 1;
                }
            }
        }
        // The end of a generation: every other process dies and is reaped.
        let _ = kill(-1, SIGKILL);
        let deadline = monotonic_ns() + 30_000_000_000;
        loop {
            let mut st = 0;
            match wait4(-1, Some(&mut st), WNOHANG | __WALL) {
                Ok(0) => {
                    if monotonic_ns() > deadline {
                        s.hang = true;
                        c.fail("every process reaped after SIGKILL", "some still there 30 s later");
                        show_survivors();
                        if o.stay {
                            println!("fuzz: staying, for the VMM's --timeout report");
                            loop {
                                sleep_ms(1000);
                            }
                        }
                        break;
                    }
                    // Processes forked after the kill (a fork racing it).
                    let _ = kill(-1, SIGKILL);
                    nap();
                }
                Ok(_) => {
                    s.reaped += 1;
                    s.count(st);
                }
                Err(ECHILD) => break,
                Err(e) => {
                    c.fail("wait4 at the end of a generation", e);
                    break;
                }
            }
        }
    }
}

/// What the processes still there after the end of a generation are doing
/// (a hang report): each thread's stat line and signal masks, from /proc
/// (if a child has not unmounted it).
fn show_survivors() {
    let Ok(fd) = openat(AT_FDCWD, c"/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) else {
        println!("fuzz: no /proc to show the survivors");
        return;
    };
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = getdents64(fd as i32, &mut buf) {
        for d in Dirents::new(&buf[..n]) {
            if d.name == b"1" || !d.name.iter().all(u8::is_ascii_digit) {
                continue;
            }
            let pid = core::str::from_utf8(d.name).unwrap_or("?");
            let mut dir: text::Buf<64> = text::fmt(format_args!("/proc/{pid}/task"));
            let Ok(tfd) = openat(AT_FDCWD, dir.cstr(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
            else {
                continue;
            };
            let mut tbuf = [0u8; 2048];
            while let Ok(m @ 1..) = getdents64(tfd as i32, &mut tbuf) {
                for t in Dirents::new(&tbuf[..m]).filter(|t| t.name.iter().all(u8::is_ascii_digit))
                {
                    let tid = core::str::from_utf8(t.name).unwrap_or("?");
                    show_thread(pid, tid);
                }
            }
            let _ = close(tfd as i32);
        }
    }
    let _ = close(fd as i32);
}

fn show_thread(pid: &str, tid: &str) {
    let mut p: text::Buf<64> = text::fmt(format_args!("/proc/{pid}/task/{tid}/stat"));
    let stat: text::Buf<1024> = text::read_file(p.cstr(), 1024).unwrap_or_default();
    let mut p: text::Buf<64> = text::fmt(format_args!("/proc/{pid}/task/{tid}/status"));
    let status: text::Buf<4096> = text::read_file(p.cstr(), 4096).unwrap_or_default();
    let mut masks: text::Buf<256> = text::Buf::new();
    for line in status.str().lines() {
        if ["State", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"]
            .iter()
            .any(|k| line.strip_prefix(k).is_some_and(|r| r.starts_with(':')))
        {
            let _ = core::fmt::Write::write_fmt(&mut masks, format_args!(" {line}"));
        }
    }
    println!("fuzz: survivor {}/{}: {} |{}", pid, tid, stat.str().trim_end(), masks.str());
}

/// What the children left in the file system goes.
fn cleanup(root: &Names, dev: &Names) {
    let _ = chdir(c"/");
    remove_tree(AT_FDCWD, c"/fz");
    root.remove_new(c"/");
    dev.remove_new(c"/dev");
}

impl Stats {
    fn count(&mut self, st: i32) {
        match WaitStatus::from_raw(st) {
            WaitStatus::Signaled(sig, _) => self.by_signal[(sig as usize).min(31)] += 1,
            _ => self.exited += 1,
        }
    }
}

/// The children's playground: /fz with a file (some bytes in it) and a
/// directory.
fn setup_fs() {
    let _ = mkdirat(AT_FDCWD, c"/fz", 0o755);
    let _ = mkdirat(AT_FDCWD, c"/fz/d", 0o755);
    if let Ok(fd) = openat(AT_FDCWD, c"/fz/f", O_RDWR | O_CREAT | O_CLOEXEC, 0o644) {
        let _ = write(fd as i32, b"0123456789abcdef");
        let _ = close(fd as i32);
    }
}

/// The names in a directory before the run (up to 64 of up to 31 bytes)
/// and their inodes, so that what the children created there can be
/// removed after — a name that now names another inode too (a child renamed
/// a file of its own over it, and may have grown it).
#[derive(Clone)]
struct Names {
    names: [[u8; 32]; 64],
    inos: [u64; 64],
    n: usize,
}

impl Names {
    fn of(dir: &CStr) -> Names {
        let mut s = Names { names: [[0; 32]; 64], inos: [0; 64], n: 0 };
        s.each(dir, |s, name, ino| s.add(name, ino));
        s
    }

    fn add(&mut self, name: &[u8], ino: u64) {
        if self.n < 64 && name.len() < 32 {
            self.names[self.n][..name.len()].copy_from_slice(name);
            self.inos[self.n] = ino;
            self.n += 1;
        }
    }

    fn has(&self, name: &[u8], ino: u64) -> bool {
        self.names[..self.n].iter().zip(&self.inos).any(|(n, &i)| {
            &n[..name.len().min(32)] == name && n.get(name.len()) == Some(&0) && i == ino
        })
    }

    fn each(&mut self, dir: &CStr, mut f: impl FnMut(&mut Names, &[u8], u64)) {
        let Ok(fd) = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) else { return };
        let mut buf = [0u8; 2048];
        while let Ok(n @ 1..) = getdents64(fd as i32, &mut buf) {
            for d in Dirents::new(&buf[..n]) {
                if d.name != b"." && d.name != b".." {
                    f(self, d.name, d.ino);
                }
            }
        }
        let _ = close(fd as i32);
    }

    /// Removes every entry of `dir` not there before, or naming another
    /// inode now (a pass reads the directory, then removes; until a pass
    /// finds nothing new).
    fn remove_new(&self, dir: &CStr) {
        let mut seen = self.clone();
        for _ in 0..64 {
            let mut found = [0u8; 256];
            let mut len = None;
            let mut found_ino = 0;
            seen.each(dir, |s, name, ino| {
                if len.is_none() && !s.has(name, ino) && name.len() < 255 {
                    found[..name.len()].copy_from_slice(name);
                    len = Some(name.len());
                    found_ino = ino;
                }
            });
            let Some(len) = len else { return };
            let dirfd = match openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) {
                Ok(fd) => fd as i32,
                Err(_) => return,
            };
            if let Ok(name) = CStr::from_bytes_until_nul(&found[..len + 1]) {
                remove_tree(dirfd, name);
            }
            let _ = close(dirfd);
            // A name that cannot be removed is remembered, not retried.
            seen.add(&found[..len], found_ino);
        }
    }
}

fn spawn(seed: u64, shared: &'static Shared, o: &Opts) -> i32 {
    match fork() {
        Ok(0) => exit_group(child(seed, shared, o)),
        Ok(p) => p as i32,
        Err(_) => 0,
    }
}

/// The arena a child points into: random bytes with a few well-formed
/// structures, and a PROT_NONE page right after it.
const ARENA: usize = 64 << 10;

/// The paths a child passes (NUL-terminated, copied into the arena).
const PATHS: [&[u8]; 15] = [
    b"/fz/f\0",
    b"/fz/d\0",
    b"/fz\0",
    b"/\0",
    b"/dev/null\0",
    b"/dev\0",
    b"f\0",
    b"d/e\0",
    b"a\0",
    b"\0",
    b".\0",
    b"..\0",
    b"/fz/f/x\0",
    b"/nonexistent/x\0",
    b"/fuzz\0",
];

/// A fuzzing child: `setsid`, fds 0-2 on /dev/null, the pools, then calls
/// until its budget (or its death). Returns only when the budget is spent.
fn child(seed: u64, shared: &'static Shared, o: &Opts) -> i32 {
    let mut rng = Rng::new(seed);
    let _ = setsid();
    // fds 0-2 on pid 1's /dev/null (a child may have unlinked the file), or
    // closed: a child never writes to the console.
    let null = NULL_FD.load(Ordering::Relaxed);
    for fd in 0..3 {
        if null < 0 || dup2(null, fd).is_err() {
            let _ = close(fd);
        }
    }
    if null > 2 {
        let _ = close(null);
    }
    let _ = chdir(c"/fz");
    let mut p = Pools::default();
    // SAFETY: fresh private mappings, used only through the raw addresses
    // handed to the fuzzed calls and the writes below.
    let arena = match unsafe {
        mmap(0, ARENA + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    } {
        Ok(a) => a,
        Err(_) => return 0,
    };
    // SAFETY: the last page of our own fresh mapping.
    let _ = unsafe { mprotect(arena + ARENA, 4096, PROT_NONE) };
    // SAFETY: `arena..arena + ARENA` is mapped read-write and ours alone.
    let mem = unsafe { core::slice::from_raw_parts_mut(arena as *mut u8, ARENA) };
    for chunk in mem.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    // 0x1000: 8 iovecs into 0x2000.. (16 to 512 bytes each).
    for i in 0..8 {
        let base = (arena + 0x2000 + i * 0x200) as u64;
        let len = 16u64 << (i % 6);
        mem[0x1000 + i * 16..0x1000 + i * 16 + 8].copy_from_slice(&base.to_le_bytes());
        mem[0x1008 + i * 16..0x1008 + i * 16 + 8].copy_from_slice(&len.to_le_bytes());
    }
    // 0x3000: timespecs of 0 s + 1 us, so that sleeps and timeouts are short.
    for i in 0..4 {
        mem[0x3000 + i * 16..0x3008 + i * 16].copy_from_slice(&0u64.to_le_bytes());
        mem[0x3008 + i * 16..0x3010 + i * 16].copy_from_slice(&1000u64.to_le_bytes());
    }
    // 0x4000: the paths, 64 bytes apart; 0x8000: one longer than PATH_MAX.
    for (i, path) in PATHS.iter().enumerate() {
        mem[0x4000 + i * 64..0x4000 + i * 64 + path.len()].copy_from_slice(path);
        p.paths[i] = arena + 0x4000 + i * 64;
    }
    p.npaths = PATHS.len();
    for (i, b) in mem[0x8000..0xc000].iter_mut().enumerate() {
        *b = if i % 2 == 0 { b'a' } else { b'/' };
    }
    mem[0xbfff] = 0;
    let stack_word = 0u64;
    for addr in [
        arena,
        arena + 0x1000,
        arena + 0x2000,
        arena + 0x3000,
        arena + 0x8000,
        arena + ARENA - 8,
        arena + ARENA,
        main as *const () as usize,
        &stack_word as *const u64 as usize,
        arena + 0x4000,
    ] {
        p.ptrs[p.nptrs] = addr;
        p.nptrs += 1;
    }
    // Descriptors of every kind.
    let mut fds = [-1i32; 12];
    let mut nfds = 0;
    let mut add = |r: SysResult| {
        if let Ok(fd) = r {
            fds[nfds] = fd as i32;
            nfds += 1;
        }
    };
    add(openat(AT_FDCWD, c"/fz/f", O_RDWR, 0));
    add(openat(AT_FDCWD, c"/fz", O_RDONLY | O_DIRECTORY, 0));
    add(openat(AT_FDCWD, c"/dev/null", O_RDWR, 0));
    if let Ok([r, w]) = pipe2(0) {
        add(Ok(r as usize));
        add(Ok(w as usize));
    }
    if let Ok([r, w]) = pipe2(O_NONBLOCK) {
        add(Ok(r as usize));
        add(Ok(w as usize));
    }
    if let Ok(fd) = openat(AT_FDCWD, c"/fz/f", O_RDONLY, 0) {
        let _ = close(fd as i32);
        add(Ok(fd));
    }
    add(Ok(0));
    add(Ok(1));
    p.fds = fds;
    p.nfds = nfds;

    let table = table_array(o);
    let (table, n) = (table.0, table.1);
    let mut enosys = Enosys::default();
    let budget = 200 + rng.below(600);
    for _ in 0..budget {
        let nr = fuzz::pick_nr(&mut rng, &table[..n], &enosys);
        let mut a = [0u64; 6];
        for x in a.iter_mut() {
            *x = fuzz::arg(&mut rng, &p);
        }
        fuzz::sandbox(nr, &mut a);
        shared.calls.fetch_add(1, Ordering::Relaxed);
        // SAFETY: none in the Rust sense: this process is disposable, and
        // whatever the call does to it (its memory, its mappings, its end)
        // is what is being tested. pid 1 is out of reach (`sandbox`).
        let r = unsafe {
            syscall::syscall6(
                nr,
                a[0] as usize,
                a[1] as usize,
                a[2] as usize,
                a[3] as usize,
                a[4] as usize,
                a[5] as usize,
            )
        };
        if r == -(ENOSYS.0 as isize) {
            enosys.mark(nr);
        }
        // A new process (or thread) from a fork or clone goes its own way.
        if r == 0 && matches!(nr, nr::__NR_fork | nr::__NR_vfork | nr::__NR_clone | nr::__NR_clone3)
        {
            rng.mix(gettid().unwrap_or(0) as u64);
        }
    }
    0
}

/// The x86-64 table's numbers in an array (no allocator here).
fn table_array(o: &Opts) -> ([usize; fuzz::NR_SLOTS], usize) {
    let mut t = [0usize; fuzz::NR_SLOTS];
    let mut n = 0;
    for nr in fuzz::table().filter(|&nr| (o.lo..=o.hi).contains(&nr) && nr != o.skip) {
        if n < t.len() {
            t[n] = nr;
            n += 1;
        }
    }
    (t, n)
}
