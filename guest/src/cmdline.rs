//! The kernel command line: `key=value` words separated by spaces.
//!
//! | word | meaning |
//! |---|---|
//! | `quiet` | no banner |
//! | `pid_max=N` | pids wrap below N (at least 301), as Linux's boot parameter |
//! | `pvspin=N` | spins before a contended kernel lock's waiter blocks in the VMM until kicked (`arch::pvlock`; default 128); 0: spin only, never block |
//! | `max_map_count=N` | memory areas a process may have (Linux's `vm.max_map_count`; 65530) |
//! | `selftest=timer,ipi` | run these self-tests after boot (comma-separated) |
//! | `ticks=N` | timer self-test: ticks each CPU must see (default 3) |
//! | `fault=ud\|pf\|gp\|de\|df\|tf\|gs\|panic[@CPU]` | raise that fault on CPU (default 0) after boot (`df`: a page fault on a broken stack, which double-faults; `tf`: a #GP whose handler then faults with no double-fault stack left: a triple fault; `gs`: a #UD in kernel code running with the user's GS base, an unbalanced swapgs) |
//! | `hcfuzz=N` | issue N malformed hypercalls and check every answer |
//! | `seed=N` | seed for `hcfuzz` (default 1) |
//! | `exit=N` | exit status when everything else succeeded (default 0) |
//! | `hang` | after everything else, idle forever instead of exiting |
//! | `fail=STAGE:N` | fault injection: the Nth reach of a copy_process stage fails |
//! | `sched_child_runs_first=0\|1` | a forked child runs before its parent where they share a CPU (Linux's sysctl; default 0) |
//! | `bulkmem=auto\|vmm\|guest` | who zeroes and copies pages: the VMM (`BulkMem` hypercall) or the guest (`rep stosq`/`rep movsq`), each where the boot measurement finds it cheaper (default), or always one of them (`mm::bulk`) |
//! | `syscall=auto\|int3\|insn` | the system-call entry programs get: the one the boot self-test picks (default), the `int3` gate (as where `syscall` is broken: programs' own `syscall` sites are patched or refused), or the `syscall` instruction (boot fails where it does not work) |

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    InvalidOpcode,
    PageFault,
    GeneralProtection,
    DivideError,
    DoubleFault,
    TripleFault,
    UserGs,
    Panic,
    /// Interrupts off, then spin for ever (a hard lockup: the VMM's
    /// lockup detector sees the vCPU busy and no timer tick).
    Lockup,
    /// Interrupts off, then halt for ever (only an NMI would wake it: the
    /// detector sees the other CPUs tick and this one not).
    HaltLocked,
}

impl FaultKind {
    pub fn vector(self) -> Option<u32> {
        match self {
            Self::DivideError => Some(0),
            Self::InvalidOpcode => Some(6),
            Self::GeneralProtection => Some(13),
            Self::PageFault => Some(14),
            Self::DoubleFault => Some(8),
            Self::TripleFault | Self::UserGs | Self::Panic | Self::Lockup | Self::HaltLocked => {
                None
            }
        }
    }
}

/// Which system-call entry programs use (`syscall=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyscallEntry {
    /// The boot self-test decides: `syscall` where it reaches ring 0, else the int3 gate.
    #[default]
    Auto,
    /// The int3 gate, as on a host where `syscall` is broken, wherever it works.
    Int3,
    /// The `syscall` instruction; the boot fails where the self-test finds it broken.
    Insn,
}

/// Who does bulk memory work (`bulkmem=`, `mm::bulk`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BulkChoice {
    /// The boot measurement decides, for zeroing and copying separately.
    #[default]
    Auto,
    /// The VMM, through the `BulkMem` hypercall (where it answers).
    Vmm,
    /// The guest's own `rep stosq`/`rep movsq`.
    Guest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub quiet: bool,
    pub selftest_timer: bool,
    pub selftest_ipi: bool,
    pub ticks: u64,
    pub fault: Option<(FaultKind, usize)>,
    pub hcfuzz: u64,
    pub seed: u64,
    pub exit: u8,
    pub hang: bool,
    pub fail: Option<(crate::fault_inject::Stage, u32)>,
    pub sched_child_runs_first: bool,
    pub syscall: SyscallEntry,
    pub bulkmem: BulkChoice,
    /// `pid_max=N`: the largest pid + 1 (Linux's boot parameter).
    pub pid_max: Option<u32>,
    /// `max_map_count=N`: areas per address space (Linux's sysctl).
    pub max_map_count: Option<usize>,
    /// `pvspin=N`: the pv spin locks' spin threshold (0: never block).
    pub pvspin: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            quiet: false,
            selftest_timer: false,
            selftest_ipi: false,
            ticks: 3,
            fault: None,
            hcfuzz: 0,
            seed: 1,
            exit: 0,
            hang: false,
            fail: None,
            sched_child_runs_first: false,
            syscall: SyscallEntry::Auto,
            bulkmem: BulkChoice::Auto,
            pid_max: None,
            max_map_count: None,
            pvspin: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'a> {
    UnknownOption(&'a str),
    BadValue { key: &'a str, value: &'a str },
}

impl core::fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownOption(w) => write!(f, "unknown option '{w}'"),
            Self::BadValue { key, value } => write!(f, "bad value '{value}' for '{key}'"),
        }
    }
}

fn number<'a>(key: &'a str, value: &'a str) -> Result<u64, ParseError<'a>> {
    value.parse().map_err(|_| ParseError::BadValue { key, value })
}

/// Parse the command line. Unknown words are errors: a typo must not silently
/// turn a test into one that cannot fail.
pub fn parse(line: &str) -> Result<Options, ParseError<'_>> {
    let mut o = Options::default();
    for word in line.split_ascii_whitespace() {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let bad = || ParseError::BadValue { key, value };
        match key {
            "quiet" if value.is_empty() => o.quiet = true,
            "hang" if value.is_empty() => o.hang = true,
            "selftest" => {
                for t in value.split(',') {
                    match t {
                        "timer" => o.selftest_timer = true,
                        "ipi" => o.selftest_ipi = true,
                        _ => return Err(bad()),
                    }
                }
            }
            "ticks" => o.ticks = number(key, value)?.max(1),
            "fault" => {
                let (kind, cpu) = value.split_once('@').unwrap_or((value, "0"));
                let kind = match kind {
                    "ud" => FaultKind::InvalidOpcode,
                    "pf" => FaultKind::PageFault,
                    "gp" => FaultKind::GeneralProtection,
                    "de" => FaultKind::DivideError,
                    "df" => FaultKind::DoubleFault,
                    "tf" => FaultKind::TripleFault,
                    "gs" => FaultKind::UserGs,
                    "panic" => FaultKind::Panic,
                    "lockup" => FaultKind::Lockup,
                    "halt" => FaultKind::HaltLocked,
                    _ => return Err(bad()),
                };
                let cpu = cpu.parse().map_err(|_| bad())?;
                o.fault = Some((kind, cpu));
            }
            "hcfuzz" => o.hcfuzz = number(key, value)?,
            "pid_max" => o.pid_max = Some(value.parse().map_err(|_| bad())?),
            "max_map_count" => o.max_map_count = Some(value.parse().map_err(|_| bad())?),
            "pvspin" => o.pvspin = Some(value.parse().map_err(|_| bad())?),
            "seed" => o.seed = number(key, value)?,
            "exit" => o.exit = value.parse().map_err(|_| bad())?,
            "fail" => o.fail = Some(crate::fault_inject::parse(value).ok_or_else(bad)?),
            "sched_child_runs_first" => {
                o.sched_child_runs_first = match value {
                    "0" => false,
                    "1" => true,
                    _ => return Err(bad()),
                }
            }
            "syscall" => {
                o.syscall = match value {
                    "auto" => SyscallEntry::Auto,
                    "int3" => SyscallEntry::Int3,
                    "insn" => SyscallEntry::Insn,
                    _ => return Err(bad()),
                }
            }
            "bulkmem" => {
                o.bulkmem = match value {
                    "auto" => BulkChoice::Auto,
                    "vmm" => BulkChoice::Vmm,
                    "guest" => BulkChoice::Guest,
                    _ => return Err(bad()),
                }
            }
            _ => return Err(ParseError::UnknownOption(word)),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulkmem() {
        assert_eq!(parse("").unwrap().bulkmem, BulkChoice::Auto);
        assert_eq!(parse("bulkmem=vmm").unwrap().bulkmem, BulkChoice::Vmm);
        assert_eq!(parse("bulkmem=guest").unwrap().bulkmem, BulkChoice::Guest);
        assert_eq!(parse("bulkmem=auto").unwrap().bulkmem, BulkChoice::Auto);
        assert!(parse("bulkmem=").is_err());
        assert!(parse("bulkmem=host").is_err());
    }

    #[test]
    fn pid_max() {
        assert_eq!(parse("pid_max=301").unwrap().pid_max, Some(301));
        assert!(parse("pid_max=x").is_err());
        assert_eq!(parse("max_map_count=1000").unwrap().max_map_count, Some(1000));
        assert!(parse("max_map_count=-1").is_err());
        assert_eq!(parse("pvspin=0").unwrap().pvspin, Some(0));
        assert!(parse("pvspin=-3").is_err());
    }

    #[test]
    fn empty_line_gives_defaults() {
        assert_eq!(parse("").unwrap(), Options::default());
        assert_eq!(parse("   ").unwrap(), Options::default());
    }

    #[test]
    fn every_option() {
        let o = parse("quiet selftest=timer,ipi ticks=5 fault=pf@2 hcfuzz=100 seed=7 exit=42 hang")
            .unwrap();
        assert!(o.quiet && o.selftest_timer && o.selftest_ipi);
        assert_eq!(o.ticks, 5);
        assert_eq!(o.fault, Some((FaultKind::PageFault, 2)));
        assert_eq!((o.hcfuzz, o.seed, o.exit, o.hang), (100, 7, 42, true));
        assert_eq!(parse("fault=ud").unwrap().fault, Some((FaultKind::InvalidOpcode, 0)));
        assert!(parse("sched_child_runs_first=1").unwrap().sched_child_runs_first);
        assert!(!parse("sched_child_runs_first=0").unwrap().sched_child_runs_first);
        assert!(parse("sched_child_runs_first=2").is_err());
        assert!(parse("sched_child_runs_first").is_err());
        assert_eq!(parse("").unwrap().syscall, SyscallEntry::Auto);
        assert_eq!(parse("syscall=auto").unwrap().syscall, SyscallEntry::Auto);
        assert_eq!(parse("syscall=int3").unwrap().syscall, SyscallEntry::Int3);
        assert_eq!(parse("syscall=insn").unwrap().syscall, SyscallEntry::Insn);
        assert_eq!(
            parse("syscall=sysenter").unwrap_err(),
            ParseError::BadValue { key: "syscall", value: "sysenter" }
        );
        assert!(parse("syscall").is_err());
    }

    #[test]
    fn errors_name_the_word() {
        assert_eq!(parse("quiet bogus").unwrap_err(), ParseError::UnknownOption("bogus"));
        assert_eq!(
            parse("exit=300").unwrap_err(),
            ParseError::BadValue { key: "exit", value: "300" }
        );
        assert_eq!(
            parse("fault=xx").unwrap_err(),
            ParseError::BadValue { key: "fault", value: "xx" }
        );
        assert_eq!(
            parse("selftest=timer,nope").unwrap_err(),
            ParseError::BadValue { key: "selftest", value: "timer,nope" }
        );
        assert!(parse("fault=ud@x").is_err());
        assert_eq!(parse("quiet=1").unwrap_err(), ParseError::UnknownOption("quiet=1"));
    }
}
