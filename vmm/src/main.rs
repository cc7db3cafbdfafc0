//! `vmm`: boot the guest kernel under KVM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use vmm::protocol::exit_status;

const USAGE: &str = "\
usage: vmm run [OPTIONS] [PROGRAM [ARGS...]]
       vmm trace-svg TRACE.json OUT.svg

Boots the guest kernel (the embedded one unless --kernel is given) on N vCPUs.
With PROGRAM (a static x86-64 Linux executable), runs it as pid 1 and exits with
its status (killed by signal N: 128 + N); its stdout and stderr are the VMM's.
Without, runs the kernel's boot self-tests (see --cmdline) and exits.

options:
  --vcpus N          number of vCPUs (default 1)
  --memory MIB       guest RAM in MiB (default 256)
  --kernel PATH      boot this kernel ELF instead of the embedded one
  --cmdline STRING   kernel command line (see guest/src/cmdline.rs)
  --timeout SECONDS  stop a guest that has not finished by then (exit code 124)
  --lockup-secs S    end the VM when a guest CPU takes no timer interrupt for S
                     seconds: it spins or halts with interrupts off (exit code
                     123; default 60, 0 turns the detector off)
  --stats            print boot timing, KVM statistics and guest counters at exit
  --stats-json FILE  write the same, and the guest's counter snapshots, as JSON
  --kvm PATH         KVM device (default /dev/kvm)
  --file HOST[:GUEST]  put a host file into the guest (default guest path /NAME)
  --env KEY=VALUE    add to the program's environment
  --fail-at STAGE:N  fault injection: the Nth reach of a copy_process stage fails
                     (dup_task_struct, copy_files, copy_fs, copy_sighand, copy_mm,
                     copy_namespaces, alloc_pid, pidfd_prepare, cgroup_can_fork);
                     the guest checks that nothing leaked
  --profile OUT      profile every ring-0 instruction with its call stack (single
                     steps: slow); write OUT.folded (folded stacks), OUT.svg (flame
                     graph), OUT.txt (top functions), OUT.exits.txt and
                     OUT.exits.folded (KVM exits and their causes by kernel
                     function, and by call stack)
  --trace FILE       record the kernel's scheduler and process tracepoints
                     (sched_switch, sched_process_fork, ...; no VM exit per
                     event) and write them to FILE as Chrome trace-event JSON,
                     which the Perfetto UI (ui.perfetto.dev) opens
  --profile-from LABEL, --profile-to LABEL
                     profile only between the guest's counter snapshots with these
                     labels (`snapshot LABEL` written to /dev/counters)

vmm trace-svg draws a trace written by --trace as an SVG timeline: one lane
per vCPU with the running tasks, forks, execs and exits, fork → first run arrows.

exit codes: the guest's status; 1 VMM error; 2 usage; 123 guest CPU locked up; 124 timeout;
125 guest kernel exception; 126 guest kernel panic; 127 VM crashed";

#[derive(Debug, PartialEq)]
struct Args {
    vcpus: u32,
    memory_mib: u64,
    kernel: Option<PathBuf>,
    cmdline: String,
    timeout: Option<Duration>,
    /// The lockup detector's threshold (None: off).
    lockup: Option<Duration>,
    stats: bool,
    stats_json: Option<PathBuf>,
    kvm: PathBuf,
    files: Vec<(PathBuf, String)>,
    env: Vec<String>,
    program: Option<(PathBuf, Vec<String>)>,
    profile: Option<PathBuf>,
    profile_from: Option<String>,
    profile_to: Option<String>,
    trace: Option<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("run") => {}
        Some("-h" | "--help" | "help") => return Err(String::new()),
        Some(other) => return Err(format!("unknown command '{other}'")),
        None => return Err("missing command".into()),
    }
    let mut a = Args {
        vcpus: 1,
        memory_mib: vmm::DEFAULT_MEMORY_MIB,
        kernel: None,
        cmdline: String::new(),
        timeout: None,
        lockup: Some(vmm::DEFAULT_LOCKUP_THRESHOLD),
        stats: false,
        stats_json: None,
        kvm: "/dev/kvm".into(),
        files: Vec::new(),
        env: Vec::new(),
        program: None,
        profile: None,
        profile_from: None,
        profile_to: None,
        trace: None,
    };
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--vcpus" => {
                a.vcpus = value("--vcpus")?.parse().map_err(|_| "--vcpus takes a whole number")?
            }
            "--memory" => {
                a.memory_mib = value("--memory")?
                    .parse()
                    .map_err(|_| "--memory takes MiB as a whole number")?
            }
            "--kernel" => a.kernel = Some(value("--kernel")?.into()),
            "--cmdline" => a.cmdline = value("--cmdline")?,
            "--timeout" => {
                let s: f64 = value("--timeout")?.parse().map_err(|_| "--timeout takes seconds")?;
                if !(s > 0.0 && s.is_finite()) {
                    return Err("--timeout must be positive".into());
                }
                a.timeout = Some(Duration::from_secs_f64(s));
            }
            "--lockup-secs" => {
                let s: f64 =
                    value("--lockup-secs")?.parse().map_err(|_| "--lockup-secs takes seconds")?;
                if !(s >= 1.0 && s.is_finite()) && s != 0.0 {
                    return Err("--lockup-secs must be 0 (off) or 1 or more".into());
                }
                a.lockup = (s > 0.0).then(|| Duration::from_secs_f64(s));
            }
            "--stats" => a.stats = true,
            "--stats-json" => a.stats_json = Some(value("--stats-json")?.into()),
            "--kvm" => a.kvm = value("--kvm")?.into(),
            "--file" => {
                let spec = value("--file")?;
                a.files.push(vmm::initramfs::parse_file_spec(&spec).map_err(|e| e.to_string())?);
            }
            "--fail-at" => {
                let spec = value("--fail-at")?;
                check_fail_at(&spec)?;
                if !a.cmdline.is_empty() {
                    a.cmdline.push(' ');
                }
                a.cmdline.push_str(&format!("fail={spec}"));
            }
            "--env" => {
                let kv = value("--env")?;
                if !kv.contains('=') {
                    return Err(format!("--env takes KEY=VALUE, not '{kv}'"));
                }
                a.env.push(kv);
            }
            "--profile" => a.profile = Some(value("--profile")?.into()),
            "--trace" => a.trace = Some(value("--trace")?.into()),
            "--profile-from" => a.profile_from = Some(value("--profile-from")?),
            "--profile-to" => a.profile_to = Some(value("--profile-to")?),
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
            program => {
                let args = it.by_ref().cloned().collect();
                a.program = Some((program.into(), args));
            }
        }
    }
    match (&a.profile, &a.profile_from, &a.profile_to) {
        (None, Some(_), _) | (None, _, Some(_)) => {
            return Err("--profile-from and --profile-to need --profile".into())
        }
        (Some(_), Some(_), None) | (Some(_), None, Some(_)) => {
            return Err("--profile-from and --profile-to go together".into())
        }
        _ => {}
    }
    Ok(a)
}

/// `--fail-at STAGE:N`, checked here rather than by the guest at boot: a
/// stage `copy_process` has and a reach counted from 1.
fn check_fail_at(spec: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "--fail-at takes STAGE:N, N counting from 1 and STAGE one of {}; not '{spec}'",
            vmm::FAULT_STAGES.join(", ")
        )
    };
    let (stage, n) = spec.split_once(':').ok_or_else(bad)?;
    if !vmm::FAULT_STAGES.contains(&stage) {
        return Err(bad());
    }
    match n.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err(bad()),
    }
}

/// The files the run will write (`--stats-json`, `--profile`'s), opened
/// before the guest boots so that an unwritable path is an error at once and
/// not after the program has run. Files created here are removed again if the
/// VM never ran.
struct Outputs {
    created: Vec<PathBuf>,
}

impl Outputs {
    fn claim(a: &Args) -> Result<Self, String> {
        let mut paths = Vec::new();
        if let Some(p) = &a.stats_json {
            paths.push(("--stats-json", p.clone()));
        }
        if let Some(p) = &a.trace {
            paths.push(("--trace", p.clone()));
        }
        if let Some(out) = &a.profile {
            for ext in PROFILE_FILES {
                let mut p = out.as_os_str().to_owned();
                p.push(ext);
                paths.push(("--profile", PathBuf::from(p)));
            }
        }
        let mut claimed = Outputs { created: Vec::new() };
        for (option, path) in paths {
            let existed = path.exists();
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| format!("{option}: cannot write {}: {e}", path.display()))?;
            if !existed {
                claimed.created.push(path);
            }
        }
        Ok(claimed)
    }

    /// The VM did not run: leave no empty files behind.
    fn release(self) {
        for p in self.created {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The files `--profile OUT` writes, by suffix.
const PROFILE_FILES: [&str; 5] = [".folded", ".svg", ".txt", ".exits.txt", ".exits.folded"];

/// Write the profile's files next to `out` and print its summary and top
/// functions; an error names the file that could not be written.
fn write_profile(a: &Args, out: &std::path::Path, report: &vmm::ExitReport) -> Result<(), String> {
    let Some(profile) = &report.profile else { return Ok(()) };
    let with_ext = |ext: &str| {
        let mut p = out.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let write = |ext: &str, data: &[u8]| {
        let path = with_ext(ext);
        std::fs::write(&path, data).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let kvm = match (&a.profile_from, &a.profile_to) {
        (Some(f), Some(t)) => report.insns_in_spans(f, t),
        _ => Some(report.kvm.vcpu_total("insn_emulation")),
    };
    let mut text = profile.summary();
    if let Some(k) = kvm {
        text += &format!("; KVM's insn_emulation for the same span(s): {k}");
    }
    if let (Some(_), 0) = (&a.profile_from, profile.spans) {
        text += "; the span's snapshots never came: nothing profiled";
    }
    text += "\n\n";
    text += &profile.top_table(40, 1);
    write(".folded", profile.folded().as_bytes())?;
    let title = match (&a.profile_from, &a.profile_to) {
        (Some(f), Some(t)) => format!("ring-0 instructions from {f:?} to {t:?}"),
        _ => "ring-0 instructions".to_string(),
    };
    let svg = profile.flamegraph(&title).map_err(|e| format!("flame graph: {e}"))?;
    write(".svg", &svg)?;
    write(".txt", text.as_bytes())?;
    let exits = format!(
        "KVM statistics charged to the instruction that ran when they went up \
         (whole profile; `exits` less the profiler's own debug exits), and \
         `rep_string_bytes`: the bytes each `rep movs`/`rep stos` moved or stored, \
         one instruction in insn_emulation whose time grows with them\n\n{}",
        profile.exit_table(1)
    );
    write(".exits.txt", exits.as_bytes())?;
    write(".exits.folded", profile.exits_folded().as_bytes())?;
    eprintln!("{}", text.lines().take(24).collect::<Vec<_>>().join("\n"));
    Ok(())
}

/// `vmm trace-svg IN.json OUT.svg`.
fn trace_svg(args: &[String]) -> ExitCode {
    let [input, output] = args else {
        eprintln!("vmm: trace-svg takes TRACE.json OUT.svg\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let run = || -> Result<(), String> {
        let text =
            std::fs::read_to_string(input).map_err(|e| format!("cannot read {input}: {e}"))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{input} is not JSON: {e}"))?;
        let title = format!("{} (vmm trace-svg)", std::path::Path::new(input).display());
        let svg = vmm::trace_svg(&json, &title).map_err(|e| format!("{input}: {e}"))?;
        std::fs::write(output, svg).map_err(|e| format!("cannot write {output}: {e}"))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmm: error: {e}");
            ExitCode::from(exit_status::VMM_ERROR)
        }
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("trace-svg") {
        return trace_svg(&args[1..]);
    }
    let a = match parse_args(&args) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("vmm: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut b = vmm::Vmm::builder()
        .started_at(started)
        .vcpus(a.vcpus)
        .memory_mib(a.memory_mib)
        .cmdline(a.cmdline.clone())
        .kvm_path(&a.kvm)
        .lockup_threshold(a.lockup)
        .echo_console(true);
    if let Some(k) = &a.kernel {
        b = b.kernel(k);
    }
    for (host, guest) in &a.files {
        b = b.file(host, guest.clone());
    }
    for kv in &a.env {
        b = b.env(kv.clone());
    }
    if let Some((program, args)) = &a.program {
        b = b.program(program, args);
    }
    if let Some(path) = &a.trace {
        b = b.trace(path);
    }
    b = match (&a.profile, &a.profile_from, &a.profile_to) {
        (Some(_), Some(f), Some(t)) => b.profile_span(f.clone(), t.clone()),
        (Some(_), _, _) => b.profile(),
        _ => b,
    };
    let outputs = match Outputs::claim(&a) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("vmm: error: {e}");
            return ExitCode::from(exit_status::VMM_ERROR);
        }
    };
    let report = match b.boot().and_then(|vm| vm.wait(a.timeout)) {
        Ok(r) => r,
        Err(e) => {
            outputs.release();
            eprintln!("vmm: error: {e}");
            return ExitCode::from(exit_status::VMM_ERROR);
        }
    };
    if let Some(text) = report.describe() {
        eprintln!("vmm: {text}");
    }
    if a.stats {
        eprintln!("{}", report.stats_text());
    }
    if let Some(path) = &a.stats_json {
        let json = serde_json::to_string_pretty(&report.to_json()).expect("JSON of plain values");
        if let Err(e) = std::fs::write(path, json + "\n") {
            eprintln!("vmm: error: cannot write {}: {e}", path.display());
            return ExitCode::from(exit_status::VMM_ERROR);
        }
    }
    if let Some(out) = &a.profile {
        if let Err(e) = write_profile(&a, out, &report) {
            eprintln!("vmm: error: {e}");
            return ExitCode::from(exit_status::VMM_ERROR);
        }
    }
    ExitCode::from(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The usage text names every fault-injection stage the guest knows.
    #[test]
    fn usage_names_every_fault_stage() {
        let text = super::USAGE.split_whitespace().collect::<Vec<_>>().join(" ");
        for stage in vmm::FAULT_STAGES {
            assert!(text.contains(stage), "--fail-at's usage text omits {stage}");
        }
    }

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_every_option() {
        let a = parse_args(&args("run --vcpus 4 --memory 512 --kernel k.elf --cmdline quiet --timeout 2.5 --stats --stats-json s.json --kvm /x")).unwrap();
        assert_eq!(a.vcpus, 4);
        assert_eq!(a.memory_mib, 512);
        assert_eq!(a.kernel, Some(PathBuf::from("k.elf")));
        assert_eq!(a.cmdline, "quiet");
        assert_eq!(a.timeout, Some(Duration::from_millis(2500)));
        assert!(a.stats);
        assert_eq!(a.stats_json, Some(PathBuf::from("s.json")));
        assert_eq!(a.kvm, PathBuf::from("/x"));
        assert_eq!(a.lockup, Some(vmm::DEFAULT_LOCKUP_THRESHOLD));
        let a = parse_args(&args("run --lockup-secs 3")).unwrap();
        assert_eq!(a.lockup, Some(Duration::from_secs(3)));
        assert_eq!(parse_args(&args("run --lockup-secs 0")).unwrap().lockup, None);
        let a =
            parse_args(&args("run --file /etc/hosts --env A=1 /bin/prog -x --vcpus 2")).unwrap();
        assert_eq!(a.files, vec![(PathBuf::from("/etc/hosts"), "/hosts".to_string())]);
        assert_eq!(a.env, vec!["A=1".to_string()]);
        // Everything after PROGRAM is the program's.
        assert_eq!(
            a.program,
            Some((PathBuf::from("/bin/prog"), vec!["-x".into(), "--vcpus".into(), "2".into()]))
        );
        assert_eq!(a.vcpus, 1);
        let a =
            parse_args(&args("run --profile /tmp/p --profile-from a --profile-to b x")).unwrap();
        assert_eq!(a.profile, Some(PathBuf::from("/tmp/p")));
        assert_eq!((a.profile_from.as_deref(), a.profile_to.as_deref()), (Some("a"), Some("b")));
    }

    #[test]
    fn rejects_bad_usage() {
        assert!(parse_args(&args("")).unwrap_err().contains("missing command"));
        assert!(parse_args(&args("boot")).unwrap_err().contains("unknown command"));
        assert!(parse_args(&args("run --vcpus")).unwrap_err().contains("needs a value"));
        assert!(parse_args(&args("run --vcpus x")).unwrap_err().contains("whole number"));
        assert!(parse_args(&args("run --timeout -1")).unwrap_err().contains("positive"));
        assert!(parse_args(&args("run --lockup-secs 0.5")).unwrap_err().contains("1 or more"));
        assert!(parse_args(&args("run --lockup-secs x")).unwrap_err().contains("seconds"));
        assert!(parse_args(&args("run --frobnicate")).unwrap_err().contains("unknown option"));
        assert!(parse_args(&args("run --profile-from a --profile-to b"))
            .unwrap_err()
            .contains("need --profile"));
        assert!(parse_args(&args("run --profile p --profile-from a"))
            .unwrap_err()
            .contains("go together"));
        assert!(parse_args(&args("run --fail-at copy_mm:2")).is_ok());
        assert_eq!(
            parse_args(&args("run --trace t.json x")).unwrap().trace,
            Some(PathBuf::from("t.json"))
        );
        assert!(parse_args(&args("run --trace")).unwrap_err().contains("needs a value"));
        for bad in ["copy_mm", "copy_mm:0", "copy_mm:-1", "copy_mm:", "nope:1", ":1"] {
            let e = parse_args(&args(&format!("run --fail-at {bad}"))).unwrap_err();
            assert!(e.contains("alloc_pid") && e.contains(&format!("not '{bad}'")), "{e}");
        }
    }
}
