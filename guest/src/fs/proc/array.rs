//! The text of the per-process files (Linux `fs/proc/array.c`:
//! `do_task_stat`, `proc_pid_status`; `fs/proc/task_mmu.c`: `show_map_vma`),
//! from plain figures the kernel gathers. Hardware-free, unit-tested on the
//! host.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// A task's state as `stat` and `status` show it (Linux
/// `task_state_array`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcState {
    Running,
    Sleeping,
    DiskSleep,
    Stopped,
    TracingStop,
    Dead,
    Zombie,
}

impl ProcState {
    pub fn letter(self) -> char {
        self.name().as_bytes()[0] as char
    }

    /// "R (running)", ... as `status` shows it.
    pub fn name(self) -> &'static str {
        match self {
            ProcState::Running => "R (running)",
            ProcState::Sleeping => "S (sleeping)",
            ProcState::DiskSleep => "D (disk sleep)",
            ProcState::Stopped => "T (stopped)",
            ProcState::TracingStop => "t (tracing stop)",
            ProcState::Dead => "X (dead)",
            ProcState::Zombie => "Z (zombie)",
        }
    }
}

/// The fields of `/proc/PID/stat` (`do_task_stat`), in its order; times in
/// clock ticks (USER_HZ), sizes in bytes (`vsize`) and pages (`rss`).
#[derive(Clone, Debug, Default)]
pub struct TaskStat {
    pub pid: u32,
    pub comm: String,
    pub state: Option<ProcState>,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    pub tty_nr: i32,
    pub tpgid: i32,
    pub flags: u32,
    pub minflt: u64,
    pub cminflt: u64,
    pub majflt: u64,
    pub cmajflt: u64,
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    pub priority: i64,
    pub nice: i64,
    pub num_threads: u64,
    pub starttime: u64,
    pub vsize: u64,
    pub rss: u64,
    pub rsslim: u64,
    pub startcode: u64,
    pub endcode: u64,
    pub startstack: u64,
    pub signal: u64,
    pub blocked: u64,
    pub sigignore: u64,
    pub sigcatch: u64,
    pub exit_signal: u32,
    pub processor: u32,
    pub rt_priority: u32,
    pub policy: u32,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    pub exit_code: i32,
}

/// The one line of `/proc/PID/stat` (52 fields, as Linux 6.x).
pub fn format_stat(s: &TaskStat) -> String {
    let mut o = String::new();
    let state = s.state.unwrap_or(ProcState::Running).letter();
    let _ = write!(
        o,
        "{} ({}) {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} 0 {} {} {} {} {} {} {} 0 0",
        s.pid,
        s.comm,
        state,
        s.ppid,
        s.pgrp,
        s.session,
        s.tty_nr,
        s.tpgid,
        s.flags,
        s.minflt,
        s.cminflt,
        s.majflt,
        s.cmajflt,
        s.utime,
        s.stime,
        s.cutime,
        s.cstime,
        s.priority,
        s.nice,
        s.num_threads,
        s.starttime,
        s.vsize,
        s.rss,
        s.rsslim,
        s.startcode,
        s.endcode,
        s.startstack,
    );
    // The obsolete signal fields (decimal), wchan (0/1), nswap, cnswap.
    let _ = write!(
        o,
        " {} {} {} {} 0 0 0 {} {} {} {} 0 0 0 {} {} {} {} {} {} {} {}",
        s.signal & 0xffff_ffff,
        s.blocked & 0xffff_ffff,
        s.sigignore & 0xffff_ffff,
        s.sigcatch & 0xffff_ffff,
        s.exit_signal,
        s.processor,
        s.rt_priority,
        s.policy,
        s.start_data,
        s.end_data,
        s.start_brk,
        s.arg_start,
        s.arg_end,
        s.env_start,
        s.env_end,
        s.exit_code,
    );
    o.push('\n');
    o
}

/// The figures of `/proc/PID/status` (`proc_pid_status`); memory in KiB.
#[derive(Clone, Debug, Default)]
pub struct TaskStatus {
    pub name: String,
    pub umask: Option<u32>,
    pub state: Option<ProcState>,
    pub tgid: u32,
    pub pid: u32,
    pub ppid: u32,
    /// The tracer's pid (0: not traced).
    pub tracer_pid: u32,
    /// Real, effective, saved, file-system ids.
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    pub fd_size: u64,
    /// The numbers in each PID namespace from the reader's down to the
    /// task's own.
    pub ns_tgid: Vec<u32>,
    pub ns_pid: Vec<u32>,
    pub ns_pgid: Vec<u32>,
    pub ns_sid: Vec<u32>,
    pub kthread: bool,
    /// Present for a task with an address space.
    pub mem: Option<MemStatus>,
    pub threads: u64,
    pub sigq: (u64, u64),
    pub sig_pnd: u64,
    pub shd_pnd: u64,
    pub sig_blk: u64,
    pub sig_ign: u64,
    pub sig_cgt: u64,
    pub cap_eff: u64,
    pub cpus_allowed: u64,
    pub nr_cpus: u32,
    pub nvcsw: u64,
    pub nivcsw: u64,
}

/// The `Vm*` and `Rss*` lines (KiB).
#[derive(Clone, Copy, Debug, Default)]
pub struct MemStatus {
    pub peak: u64,
    pub size: u64,
    pub hwm: u64,
    pub rss: u64,
    pub rss_anon: u64,
    pub data: u64,
    pub stk: u64,
    pub exe: u64,
    pub pte: u64,
}

/// Every capability (CAP_LAST_CAP 40).
pub const CAP_FULL_SET: u64 = (1 << 41) - 1;

fn ns_line(o: &mut String, name: &str, nrs: &[u32]) {
    o.push_str(name);
    o.push(':');
    for n in nrs {
        let _ = write!(o, "\t{n}");
    }
    o.push('\n');
}

/// `cpus` as a list of ranges ("0-1,3"), as `%*pbl` prints a cpumask.
pub fn cpu_list(mask: u64, nr_cpus: u32) -> String {
    let mut o = String::new();
    let mut cpu = 0;
    while cpu < nr_cpus {
        if mask & (1 << cpu) == 0 {
            cpu += 1;
            continue;
        }
        let first = cpu;
        while cpu + 1 < nr_cpus && mask & (1 << (cpu + 1)) != 0 {
            cpu += 1;
        }
        if !o.is_empty() {
            o.push(',');
        }
        if first == cpu {
            let _ = write!(o, "{first}");
        } else {
            let _ = write!(o, "{first}-{cpu}");
        }
        cpu += 1;
    }
    o
}

/// `/proc/PID/status`, with Linux 6.x's lines in its order.
pub fn format_status(s: &TaskStatus) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Name:\t{}", s.name);
    if let Some(u) = s.umask {
        let _ = writeln!(o, "Umask:\t{u:04o}");
    }
    let state = s.state.unwrap_or(ProcState::Running);
    let _ = writeln!(o, "State:\t{}", state.name());
    let _ = writeln!(
        o,
        "Tgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t{}",
        s.tgid, s.pid, s.ppid, s.tracer_pid
    );
    let [u0, u1, u2, u3] = s.uids;
    let [g0, g1, g2, g3] = s.gids;
    let _ = writeln!(o, "Uid:\t{u0}\t{u1}\t{u2}\t{u3}\nGid:\t{g0}\t{g1}\t{g2}\t{g3}");
    let _ = writeln!(o, "FDSize:\t{}", s.fd_size);
    // No supplementary groups; Linux leaves a trailing space.
    o.push_str("Groups:\t \n");
    ns_line(&mut o, "NStgid", &s.ns_tgid);
    ns_line(&mut o, "NSpid", &s.ns_pid);
    ns_line(&mut o, "NSpgid", &s.ns_pgid);
    ns_line(&mut o, "NSsid", &s.ns_sid);
    let _ = writeln!(o, "Kthread:\t{}", s.kthread as u32);
    if let Some(m) = s.mem {
        for (name, kib) in [
            ("VmPeak", m.peak),
            ("VmSize", m.size),
            ("VmLck", 0),
            ("VmPin", 0),
            ("VmHWM", m.hwm),
            ("VmRSS", m.rss),
            ("RssAnon", m.rss_anon),
            ("RssFile", 0),
            ("RssShmem", 0),
            ("VmData", m.data),
            ("VmStk", m.stk),
            ("VmExe", m.exe),
            ("VmLib", 0),
            ("VmPTE", m.pte),
            ("VmSwap", 0),
        ] {
            let _ = writeln!(o, "{name}:\t{kib:>8} kB");
        }
        let _ = writeln!(o, "HugetlbPages:\t{:>8} kB", 0);
    }
    o.push_str("CoreDumping:\t0\n");
    if s.mem.is_some() {
        o.push_str("THP_enabled:\t1\n");
    }
    o.push_str("untag_mask:\t0xffffffffffffffff\n");
    let _ = writeln!(o, "Threads:\t{}", s.threads);
    let _ = writeln!(o, "SigQ:\t{}/{}", s.sigq.0, s.sigq.1);
    for (name, set) in [
        ("SigPnd", s.sig_pnd),
        ("ShdPnd", s.shd_pnd),
        ("SigBlk", s.sig_blk),
        ("SigIgn", s.sig_ign),
        ("SigCgt", s.sig_cgt),
        ("CapInh", 0),
        ("CapPrm", s.cap_eff),
        ("CapEff", s.cap_eff),
        ("CapBnd", CAP_FULL_SET),
        ("CapAmb", 0),
    ] {
        let _ = writeln!(o, "{name}:\t{set:016x}");
    }
    o.push_str("NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n");
    o.push_str("Speculation_Store_Bypass:\tvulnerable\n");
    o.push_str("SpeculationIndirectBranch:\talways enabled\n");
    let mask = s.cpus_allowed & if s.nr_cpus >= 64 { u64::MAX } else { (1 << s.nr_cpus) - 1 };
    let _ = writeln!(o, "Cpus_allowed:\t{mask:x}");
    let _ = writeln!(o, "Cpus_allowed_list:\t{}", cpu_list(mask, s.nr_cpus));
    o.push_str("Mems_allowed:\t");
    for _ in 0..31 {
        o.push_str("00000000,");
    }
    o.push_str("00000001\nMems_allowed_list:\t0\n");
    let _ = writeln!(o, "voluntary_ctxt_switches:\t{}", s.nvcsw);
    let _ = writeln!(o, "nonvoluntary_ctxt_switches:\t{}", s.nivcsw);
    o
}

/// One area as a `/proc/PID/maps` line shows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapLine<'a> {
    pub start: u64,
    pub end: u64,
    /// Readable, writable, executable.
    pub rwx: (bool, bool, bool),
    pub shared: bool,
    pub pgoff: u64,
    /// Major and minor device number of the file.
    pub dev: (u32, u32),
    pub ino: u64,
    pub name: &'a str,
}

/// One line of `/proc/PID/maps` (`show_map_vma`): `start-end perms offset
/// major:minor inode ` (a nameless line ends with that space), then the
/// name padded to column 73.
pub fn format_map_line(o: &mut String, l: &MapLine<'_>) {
    let MapLine { start, end, rwx, shared, pgoff, dev, ino, name } = *l;
    let before = o.len();
    let _ = write!(
        o,
        "{start:08x}-{end:08x} {}{}{}{} {pgoff:08x} {:02x}:{:02x} {ino} ",
        if rwx.0 { 'r' } else { '-' },
        if rwx.1 { 'w' } else { '-' },
        if rwx.2 { 'x' } else { '-' },
        if shared { 's' } else { 'p' },
        dev.0,
        dev.1,
    );
    if !name.is_empty() {
        // seq_pad: to column 72, then one more space.
        let width = o.len() - before;
        for _ in width..72 {
            o.push(' ');
        }
        o.push(' ');
        o.push_str(name);
    }
    o.push('\n');
}

/// `/proc/loadavg`: three load averages, running/all tasks, the last pid.
pub fn format_loadavg(loads: [u64; 3], running: u64, total: u64, last_pid: u32) -> String {
    // Fixed point with 11 bits of fraction (Linux FSHIFT), as LOAD_INT/LOAD_FRAC.
    let mut o = String::new();
    for l in loads {
        let l = l + (1 << 11) / 200;
        let _ = write!(o, "{}.{:02} ", l >> 11, ((l & ((1 << 11) - 1)) * 100) >> 11);
    }
    let _ = writeln!(o, "{running}/{total} {last_pid}");
    o
}

/// `/proc/uptime`: seconds up and seconds all CPUs idled, to 1/100 s.
pub fn format_uptime(up_ns: u64, idle_ns: u64) -> String {
    let cs = |ns: u64| (ns / 1_000_000_000, (ns / 10_000_000) % 100);
    let (us, uc) = cs(up_ns);
    let (is, ic) = cs(idle_ns);
    alloc::format!("{us}.{uc:02} {is}.{ic:02}\n")
}

/// What `/proc/meminfo` reports, in KiB.
#[derive(Clone, Copy, Default)]
pub struct Meminfo {
    pub total: u64,
    pub free: u64,
    /// The kernel heap in use (Linux's slab caches and kmalloc: `Slab`,
    /// all of it `SUnreclaim`).
    pub heap: u64,
    /// Tasks' kernel stacks (`KernelStack`).
    pub kernel_stacks: u64,
    /// User page tables (`PageTables`).
    pub page_tables: u64,
}

/// `/proc/meminfo`'s lines in Linux's order (fs/proc/meminfo.c) through
/// `PageTables`, 0 for what does not exist here (swap, page cache).
pub fn format_meminfo(m: Meminfo) -> String {
    let mut o = String::new();
    let (total_kib, free_kib) = (m.total, m.free);
    for (name, kib) in [
        ("MemTotal", total_kib),
        ("MemFree", free_kib),
        ("MemAvailable", free_kib),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", 0),
        ("Inactive", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", 0),
        ("Mapped", 0),
        ("Shmem", 0),
        ("KReclaimable", 0),
        ("Slab", m.heap),
        ("SReclaimable", 0),
        ("SUnreclaim", m.heap),
        ("KernelStack", m.kernel_stacks),
        ("PageTables", m.page_tables),
    ] {
        let label = alloc::format!("{name}:");
        let _ = writeln!(o, "{label:<16}{kib:>8} kB");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_has_52_fields_in_linux_order() {
        let s = TaskStat {
            pid: 42,
            comm: "a b".into(),
            state: Some(ProcState::Zombie),
            ppid: 1,
            pgrp: 42,
            session: 1,
            tpgid: -1,
            utime: 3,
            priority: 20,
            num_threads: 1,
            starttime: 7,
            exit_signal: 17,
            ..Default::default()
        };
        let line = format_stat(&s);
        assert!(line.starts_with("42 (a b) Z 1 42 1 0 -1 0 0 0 0 0 3 0 0 0 20 0 1 0 7 "), "{line}");
        let rest = &line[line.rfind(')').unwrap() + 2..];
        assert_eq!(rest.split_whitespace().count(), 50, "{line}");
        assert!(line.ends_with(" 0\n"));
        let f: Vec<&str> = rest.split_whitespace().collect();
        assert_eq!(f[38 - 3], "17", "exit_signal is field 38");
    }

    #[test]
    fn status_lines_and_formats() {
        let s = TaskStatus {
            name: "init".into(),
            umask: Some(0o22),
            state: Some(ProcState::Sleeping),
            tgid: 5,
            pid: 6,
            ppid: 1,
            ns_tgid: alloc::vec![5, 1],
            ns_pid: alloc::vec![6, 2],
            mem: Some(MemStatus { size: 3060, ..Default::default() }),
            threads: 2,
            cpus_allowed: u64::MAX,
            nr_cpus: 2,
            ..Default::default()
        };
        let t = format_status(&s);
        assert!(
            t.starts_with("Name:\tinit\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t5\nNgid:\t0\n")
        );
        assert!(t.contains("\nGroups:\t \nNStgid:\t5\t1\nNSpid:\t6\t2\n"), "{t}");
        assert!(t.contains("\nVmSize:\t    3060 kB\n"), "{t}");
        assert!(t.contains("\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n"), "{t}");
        assert!(t.contains("\nSigBlk:\t0000000000000000\n"));
        assert_eq!(cpu_list(0b1011, 4), "0-1,3");
    }

    #[test]
    fn maps_lines_pad_names_to_column_74() {
        let mut o = String::new();
        let text = MapLine {
            start: 0x400000,
            end: 0x401000,
            rwx: (true, false, true),
            ..Default::default()
        };
        format_map_line(&mut o, &text);
        let stack = MapLine {
            start: 0x7ffffffde000,
            end: 0x7ffffffff000,
            rwx: (true, true, false),
            name: "[stack]",
            ..Default::default()
        };
        format_map_line(&mut o, &stack);
        let lines: Vec<&str> = o.lines().collect();
        assert_eq!(lines[0], "00400000-00401000 r-xp 00000000 00:00 0 ");
        assert_eq!(lines[1].find('['), Some(73), "{}", lines[1]);
        assert!(lines[1].starts_with("7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 "));
    }

    #[test]
    fn loadavg_uptime_meminfo() {
        assert_eq!(format_loadavg([0, 2048, 3072], 1, 5, 9), "0.00 1.00 1.50 1/5 9\n");
        assert_eq!(format_uptime(12_345_678_901, 0), "12.34 0.00\n");
        let m = format_meminfo(Meminfo {
            total: 262144,
            free: 1000,
            heap: 2500,
            kernel_stacks: 32,
            page_tables: 28,
        });
        assert!(m.starts_with("MemTotal:         262144 kB\nMemFree:            1000 kB\n"), "{m}");
        assert!(
            m.ends_with(
                "Shmem:                 0 kB\nKReclaimable:          0 kB\n\
                 Slab:               2500 kB\nSReclaimable:          0 kB\n\
                 SUnreclaim:         2500 kB\nKernelStack:          32 kB\n\
                 PageTables:           28 kB\n"
            ),
            "{m}"
        );
    }
}
