//! The exact ring-0 profiler: what a vCPU's tracer decides on each debug exit,
//! what it records (every ring-0 instruction with its call stack), and the
//! profile made of it (folded stacks, a top-functions table, a flame graph).
//!
//! How it traces (the vCPU thread applies it with `KVM_SET_GUEST_DEBUG`):
//!
//! - [`Mode::Stepping`] (`KVM_GUESTDBG_SINGLESTEP`) while the vCPU runs kernel
//!   code: one `KVM_EXIT_DEBUG` per instruction, whose `pc` is the next
//!   instruction's address. So each exit says that the instruction captured at
//!   the previous one ran; the tracer counts it under the stack captured then.
//! - A debug exit at a user address means the kernel just returned to user
//!   mode (`iretq`, `sysretq`): the tracer switches to [`Mode::Armed`], where
//!   stepping is off, so user code is never stepped, and hardware breakpoints
//!   (`KVM_GUESTDBG_USE_HW_BP`, DR0–DR3) sit on the kernel's entry points
//!   (`trap_common`, where every IDT stub leads, and `syscall_entry`).
//! - A breakpoint exit there means the vCPU entered the kernel: stepping goes
//!   back on. The entry stub that ran before `trap_common` (2 or 3
//!   instructions: `push 0`, `push vector`, `jmp`) is counted from the vector
//!   the stub pushed, by decoding the stub the IDT names.
//!
//! On this machine's KVM (kvm_pvm) ring 0 is emulated and the debug exits come
//! from the emulator, one per emulated instruction; KVM's `insn_emulation`
//! counts the same instructions, which is what the tests compare with.
//!
//! **Exits by instruction.** At every exit it sees while tracing, the vCPU
//! thread reads the vCPU's KVM statistics named in [`EXIT_STATS`] (one
//! `pread` of its stats file) and charges what went up since the previous
//! exit to the instruction that ran in between, under its call stack (less
//! the debug exit the stepping itself caused). What went up while user code
//! ran unstepped is charged to [`USER_MODE`]. So the exits KVM handles without
//! the VMM (emulation failures, page faults it takes, TLB flushes, interrupt
//! windows) are explained by the kernel function whose instruction caused
//! them: [`Profile::exit_table`].

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::debuginfo::Symbolizer;

/// The vCPU statistics the tracer charges to instructions (those KVM lacks
/// stay 0). `exits` is every exit; the others are causes, which overlap.
pub const EXIT_STATS: &[&str] = &[
    "exits",
    "insn_emulation_fail",
    "pf_taken",
    "tlb_flush",
    "invlpg",
    "irq_window_exits",
    "irq_exits",
    "halt_exits",
    "hypercalls",
    "io_exits",
    "mmio_exits",
    "signal_exits",
    "nmi_window_exits",
    "request_irq_exits",
    "irq_injections",
];

/// A statistic the tracer keeps itself, after [`EXIT_STATS`] in the
/// events: the bytes each `rep movs`/`rep stos` moved or stored (its count
/// register times the element size, read when it is captured). KVM's
/// `insn_emulation` counts such an instruction once, but where ring 0 is
/// emulated its time grows with the count: a 4 KiB `rep stosq` takes about
/// as long as 512 instructions. This says where that hidden work is.
pub const REP_STRING_BYTES: &str = "rep_string_bytes";

/// The name of event statistic `i`: [`EXIT_STATS`], then [`REP_STRING_BYTES`].
fn event_name(i: usize) -> &'static str {
    EXIT_STATS.get(i).copied().unwrap_or(REP_STRING_BYTES)
}

/// The bytes the instruction in `bytes` (fetched at `rip`) moves or stores
/// when it is a `rep movs` or `rep stos` with `rcx` in its count register
/// (64-bit addressing; the kernel uses no other), else None.
pub fn rep_string_bytes(bytes: &[u8], rip: u64, rcx: u64) -> Option<u64> {
    use iced_x86::{Code, Decoder, DecoderOptions};
    // Most instructions have no REP prefix: no decoding for them.
    if !bytes.iter().take(4).any(|&b| b == 0xf3) {
        return None;
    }
    let insn = Decoder::with_ip(64, bytes, rip, DecoderOptions::NONE).decode();
    if insn.is_invalid() || !insn.has_rep_prefix() {
        return None;
    }
    let size = match insn.code() {
        Code::Movsb_m8_m8 | Code::Stosb_m8_AL => 1,
        Code::Movsw_m16_m16 | Code::Stosw_m16_AX => 2,
        Code::Movsd_m32_m32 | Code::Stosd_m32_EAX => 4,
        Code::Movsq_m64_m64 | Code::Stosq_m64_RAX => 8,
        _ => return None,
    };
    Some(rcx.saturating_mul(size))
}

/// The frame name for what happened while user code ran (not stepped).
/// The frame name for what went up while user code ran (not stepped),
/// counted from the return to user mode (`iretq`, `sysretq`) to the next
/// exit in the kernel: the kernel entry's own exits are in it.
pub const USER_MODE: &str = "[user mode and kernel entry]";

/// The first address of the kernel half of the address space.
pub const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// Profile only between snapshots labelled `from` and `to` (each `from`
/// starts a span, the next `to` ends it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub from: String,
    pub to: String,
}

/// How a vCPU is traced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Not profiling (no guest debugging).
    #[default]
    Off,
    /// In user mode: breakpoints on the kernel's entry points, no stepping.
    Armed,
    /// In the kernel: every instruction is stepped.
    Stepping,
}

impl Mode {
    /// The mode to trace a vCPU in whose next instruction is at `rip`.
    pub fn at(rip: u64) -> Self {
        if rip >= KERNEL_HALF {
            Mode::Stepping
        } else {
            Mode::Armed
        }
    }
}

/// What the tracer does about one debug exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugAction {
    /// The captured instruction ran; capture the one at `pc` (still stepping).
    Step,
    /// The captured instruction returned to user mode: switch to `Armed`.
    ReturnedToUser,
    /// The vCPU entered the kernel at `pc` (a breakpoint): count the entry
    /// stub, switch to `Stepping`, capture the instruction at `pc`.
    Entered,
    /// Nothing to count (not tracing, or a user instruction was stepped,
    /// which the tracer counts as a fault of its own).
    Ignore,
}

/// The decision for a debug exit at `pc` in `mode` (`breakpoint`: DR6 names a
/// hardware breakpoint).
pub fn on_debug_exit(mode: Mode, pc: u64, breakpoint: bool) -> DebugAction {
    match (mode, pc >= KERNEL_HALF) {
        (Mode::Stepping, true) => DebugAction::Step,
        (Mode::Stepping, false) => DebugAction::ReturnedToUser,
        (Mode::Armed, true) if breakpoint => DebugAction::Entered,
        (Mode::Armed, _) | (Mode::Off, _) => DebugAction::Ignore,
    }
}

/// What a tracer saw besides the instructions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Ring-0 instructions counted (stub instructions included).
    pub instructions: u64,
    /// Of those, entry-stub instructions counted from the vector, not stepped.
    pub stub_instructions: u64,
    /// Entries into the kernel from user mode (breakpoint exits).
    pub kernel_entries: u64,
    /// Returns to user mode seen while stepping.
    pub user_returns: u64,
    /// Debug exits at a user address while armed: user instructions stepped
    /// (zero when stepping is off in user mode, as it should be).
    pub user_steps: u64,
    /// Debug exits at a kernel address while armed that were not breakpoints.
    pub stray_exits: u64,
    /// Of `instructions`, those the tracer carried out itself because this
    /// host mis-steps them (`stepover`: `swapgs`, `fxsave64`, `fxrstor64`);
    /// KVM's `insn_emulation` does not count them.
    pub carried_out: u64,
}

impl TraceStats {
    fn add(&mut self, o: &TraceStats) {
        self.instructions += o.instructions;
        self.stub_instructions += o.stub_instructions;
        self.kernel_entries += o.kernel_entries;
        self.user_returns += o.user_returns;
        self.user_steps += o.user_steps;
        self.stray_exits += o.stray_exits;
        self.carried_out += o.carried_out;
    }
}

/// One vCPU's record: instructions counted by call stack (addresses, leaf
/// first; callers as return address less one), and the instruction captured
/// but not yet known to have run.
#[derive(Debug, Default)]
pub struct Recorder {
    stacks: HashMap<Vec<u64>, u64>,
    /// Statistic increments (index into `EXIT_STATS`) by stack; the empty
    /// stack is user mode.
    events: HashMap<(usize, Vec<u64>), u64>,
    pending: Vec<u64>,
    has_pending: bool,
    /// The captured instruction's [`REP_STRING_BYTES`] (0 for any other).
    pending_rep: u64,
    /// The address of the instruction counted last: a `rep` instruction
    /// that a host steps once per iteration is captured again at the same
    /// address, and its bytes count only the first time.
    last_pc: u64,
    pub stats: TraceStats,
}

impl Recorder {
    /// The instruction captured last ran: count it.
    pub fn commit(&mut self) {
        if !self.has_pending {
            return;
        }
        self.has_pending = false;
        self.stats.instructions += 1;
        match self.stacks.get_mut(self.pending.as_slice()) {
            Some(n) => *n += 1,
            None => {
                self.stacks.insert(self.pending.clone(), 1);
            }
        }
        let pc = self.pending[0];
        if self.pending_rep > 0 && pc != self.last_pc {
            let key = (EXIT_STATS.len(), self.pending.clone());
            *self.events.entry(key).or_default() += self.pending_rep;
        }
        self.last_pc = pc;
    }

    /// The next instruction to run, with its stack (leaf first), and the
    /// bytes it moves or stores if it is a `rep` string instruction
    /// ([`rep_string_bytes`]; 0 if not).
    pub fn capture(&mut self, stack: &[u64], rep_bytes: u64) {
        self.pending.clear();
        self.pending.extend_from_slice(stack);
        self.has_pending = true;
        self.pending_rep = rep_bytes;
    }

    /// The address of the captured instruction, if one is pending.
    pub fn pending_pc(&self) -> Option<u64> {
        self.has_pending.then(|| self.pending[0])
    }

    /// Forget the captured instruction (tracing stopped before it ran).
    pub fn drop_pending(&mut self) {
        self.has_pending = false;
    }

    /// Statistics went up by `deltas` (indexed like `EXIT_STATS`) since the
    /// last exit: charge them to the captured instruction, or to user mode
    /// when none is captured (`in_user`).
    pub fn charge(&mut self, deltas: &[u64], in_user: bool) {
        let stack: &[u64] = if in_user || !self.has_pending { &[] } else { &self.pending };
        for (i, &d) in deltas.iter().enumerate().filter(|(_, &d)| d > 0) {
            match self.events.get_mut(&(i, stack.to_vec())) {
                Some(n) => *n += d,
                None => {
                    self.events.insert((i, stack.to_vec()), d);
                }
            }
        }
    }

    /// Count entry-stub instructions that ran unstepped, each its own stack.
    pub fn add_stub(&mut self, pcs: &[u64]) {
        for &pc in pcs {
            *self.stacks.entry(vec![pc]).or_default() += 1;
        }
        self.stats.instructions += pcs.len() as u64;
        self.stats.stub_instructions += pcs.len() as u64;
    }

    /// The record so far, as raw data.
    pub fn finish(mut self) -> RawProfile {
        self.has_pending = false;
        RawProfile { stacks: self.stacks, events: self.events, stats: self.stats }
    }
}

/// Counted instructions by stack of addresses, before symbolization.
#[derive(Debug, Default)]
pub struct RawProfile {
    pub stacks: HashMap<Vec<u64>, u64>,
    pub events: HashMap<(usize, Vec<u64>), u64>,
    pub stats: TraceStats,
}

impl RawProfile {
    /// Add another vCPU's record.
    pub fn merge(&mut self, other: RawProfile) {
        for (k, v) in other.stacks {
            *self.stacks.entry(k).or_default() += v;
        }
        for (k, v) in other.events {
            *self.events.entry(k).or_default() += v;
        }
        self.stats.add(&other.stats);
    }

    /// The profile with names: each address becomes the functions it is in
    /// (inlined ones included), outermost first.
    pub fn symbolize(&self, sym: &mut Symbolizer) -> Profile {
        let mut fold = |stack: &[u64]| {
            if stack.is_empty() {
                return USER_MODE.to_string();
            }
            let mut line = String::new();
            for &addr in stack.iter().rev() {
                for name in sym.frames(addr) {
                    if !line.is_empty() {
                        line.push(';');
                    }
                    // `;` separates frames; Rust names can hold it (`[u8; 4]`).
                    line.push_str(&name.replace(';', ","));
                }
            }
            line
        };
        let mut folded: HashMap<String, u64> = HashMap::new();
        for (stack, &n) in &self.stacks {
            *folded.entry(fold(stack)).or_default() += n;
        }
        let mut stacks: Vec<(String, u64)> = folded.into_iter().collect();
        stacks.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut ev: HashMap<(&'static str, String), u64> = HashMap::new();
        for ((i, stack), &n) in &self.events {
            *ev.entry((event_name(*i), fold(stack))).or_default() += n;
        }
        let mut events: Vec<(String, String, u64)> =
            ev.into_iter().map(|((k, st), n)| (k.to_string(), st, n)).collect();
        events.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then_with(|| a.1.cmp(&b.1)));
        Profile { stacks, events, stats: self.stats, spans: 0 }
    }
}

/// A function's share of a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionCost {
    pub name: String,
    /// Instructions executed in the function itself (library helpers it
    /// inlined or called, `core::`/`alloc::`, counted as its own).
    pub own: u64,
    /// Instructions executed in it and everything it called.
    pub total: u64,
}

/// Whether a frame is a standard-library helper (atomics, pointers, `Vec`,
/// `Arc`, iterators), counted as its caller's own work in the table.
pub fn is_library(name: &str) -> bool {
    let n = name.trim_start_matches('<');
    n.starts_with("core::") || n.starts_with("alloc::") || n.starts_with("__rustc::")
}

/// A symbolized profile: folded stacks (root first, frames separated by `;`)
/// with their instruction counts, most first.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub stacks: Vec<(String, u64)>,
    /// KVM statistic increments by (statistic, folded stack), charged to the
    /// instruction that ran when they happened (`USER_MODE` for user code).
    pub events: Vec<(String, String, u64)>,
    pub stats: TraceStats,
    /// Spans profiled to their end (0 when profiling the whole run).
    pub spans: u64,
}

impl Profile {
    /// Ring-0 instructions in the profile.
    pub fn total(&self) -> u64 {
        self.stacks.iter().map(|s| s.1).sum()
    }

    /// The folded-stacks text (Brendan Gregg's format, as `inferno` and
    /// `flamegraph.pl` read it).
    pub fn folded(&self) -> String {
        let mut s = String::new();
        for (stack, n) in &self.stacks {
            let _ = writeln!(s, "{stack} {n}");
        }
        s
    }

    /// Instructions in stacks where a frame named `outer` has a frame named
    /// `inner` somewhere above it (names compared whole).
    pub fn under(&self, outer: &str, inner: &str) -> u64 {
        self.stacks
            .iter()
            .filter(|(s, _)| {
                let mut frames = s.split(';');
                frames.any(|f| f == outer) && frames.any(|f| f == inner)
            })
            .map(|s| s.1)
            .sum()
    }

    /// Every function's own and total instructions, most own first.
    pub fn functions(&self) -> Vec<FunctionCost> {
        let mut own: HashMap<&str, u64> = HashMap::new();
        let mut total: HashMap<&str, u64> = HashMap::new();
        for (stack, n) in &self.stacks {
            let frames: Vec<&str> = stack.split(';').collect();
            let leaf = frames.iter().rev().find(|f| !is_library(f)).or(frames.last());
            if let Some(f) = leaf {
                *own.entry(f).or_default() += n;
            }
            let mut seen: Vec<&str> = Vec::with_capacity(frames.len());
            for f in frames {
                if !seen.contains(&f) {
                    seen.push(f);
                    *total.entry(f).or_default() += n;
                }
            }
        }
        let mut v: Vec<FunctionCost> = total
            .into_iter()
            .map(|(name, total)| FunctionCost {
                name: name.to_string(),
                own: own.get(name).copied().unwrap_or(0),
                total,
            })
            .collect();
        v.sort_by(|a, b| b.own.cmp(&a.own).then(b.total.cmp(&a.total)).then(a.name.cmp(&b.name)));
        v
    }

    /// The `n` functions with the most own instructions as a Markdown table,
    /// counts divided by `per` (operations in the profile; 1 for totals).
    pub fn top_table(&self, n: usize, per: u64) -> String {
        let total = self.total().max(1) as f64;
        let per = per.max(1);
        let mut s = "| own | own % | with callees | function |\n|---:|---:|---:|---|\n".to_string();
        for f in self.functions().into_iter().filter(|f| f.own > 0).take(n) {
            let _ = writeln!(
                s,
                "| {} | {:.1} % | {} | `{}` |",
                f.own / per,
                100.0 * f.own as f64 / total,
                f.total / per,
                f.name
            );
        }
        let _ = writeln!(s, "| {} | 100 % | | (all ring-0 instructions) |", self.total() / per);
        s
    }

    /// The statistics' increments as folded stacks, each rooted at the
    /// statistic's name (`tlb_flush;...;load_cr3 4`).
    pub fn exits_folded(&self) -> String {
        let mut s = String::new();
        for (stat, stack, n) in &self.events {
            let _ = writeln!(s, "{stat};{stack} {n}");
        }
        s
    }

    /// How much statistic `stat` went up in the profile.
    pub fn event_total(&self, stat: &str) -> u64 {
        self.events.iter().filter(|e| e.0 == stat).map(|e| e.2).sum()
    }

    /// Statistic `stat`'s increments by function: the innermost frame that
    /// is not a library helper, with the instruction's own frame (leaf)
    /// beside it when that differs; most first.
    pub fn events_by_function(&self, stat: &str) -> Vec<(String, u64)> {
        let mut by: HashMap<String, u64> = HashMap::new();
        for (_, stack, n) in self.events.iter().filter(|e| e.0 == stat) {
            let frames: Vec<&str> = stack.split(';').collect();
            let leaf = frames.last().copied().unwrap_or("");
            let owner = frames.iter().rev().find(|f| !is_library(f)).copied().unwrap_or(leaf);
            let name = if owner == leaf { owner.to_string() } else { format!("{owner} ({leaf})") };
            *by.entry(name).or_default() += n;
        }
        let mut v: Vec<(String, u64)> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Every statistic of `EXIT_STATS` that went up, and the
    /// [`REP_STRING_BYTES`], by function, as a Markdown table; counts divided
    /// by `per` (operations in the profile). `exits` counts every exit, the
    /// other rows say why.
    pub fn exit_table(&self, per: u64) -> String {
        let per = per.max(1) as f64;
        let mut s = "| statistic | per op | function |\n|---|---:|---|\n".to_string();
        for stat in EXIT_STATS.iter().chain([&REP_STRING_BYTES]) {
            let total = self.event_total(stat);
            if total == 0 {
                continue;
            }
            let _ = writeln!(s, "| `{stat}` | **{:.2}** | (all) |", total as f64 / per);
            for (f, n) in self.events_by_function(stat) {
                let _ = writeln!(s, "| | {:.2} | `{f}` |", n as f64 / per);
            }
        }
        s
    }

    /// The flame graph of the profile as an SVG document (`inferno`).
    pub fn flamegraph(&self, title: &str) -> std::io::Result<Vec<u8>> {
        let mut opt = inferno::flamegraph::Options::default();
        opt.title = title.to_string();
        opt.count_name = "instructions".into();
        opt.name_type = "Function:".into();
        opt.deterministic = true;
        // Frames under 0.1 % of the total are left out (the folded stacks
        // keep them): the SVG stays small enough to commit.
        opt.min_width = 0.1;
        let folded = self.folded();
        let mut out = Vec::new();
        inferno::flamegraph::from_lines(&mut opt, folded.lines(), &mut out)?;
        Ok(out)
    }

    /// Whether the profile may have missed kernel entries: more returns to
    /// user mode than entries seen (each span, or the run, may start in the
    /// kernel once). Then the entry breakpoints did not fire, and whatever
    /// the kernel ran after the first return to user mode is missing: so in
    /// the SVM lane, whose QEMU (7.2) does not arm L2's DR7 breakpoints on
    /// `VMRUN` (fixed in QEMU 9.1).
    pub fn missed_entries(&self) -> bool {
        self.stats.user_returns > self.stats.kernel_entries + self.spans.max(1)
    }

    /// A summary line: instructions, entries, returns, and user steps.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        let warn = if self.missed_entries() {
            "; INCOMPLETE: the kernel-entry breakpoints did not fire, kernel entries \
             after the first return to user mode are missing"
        } else {
            ""
        };
        format!(
            "profile: {} ring-0 instructions ({} of them entry stubs counted from the vector, {} \
             carried out by the profiler), {} kernel entries from user mode, {} returns to it, {} \
             user instructions stepped{warn}",
            self.total(),
            s.stub_instructions,
            s.carried_out,
            s.kernel_entries,
            s.user_returns,
            s.user_steps
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u64 = 0xffff_ffff_8020_0000;
    const U: u64 = 0x40_1000;

    #[test]
    fn the_tracer_steps_only_the_kernel() {
        assert_eq!(Mode::at(K), Mode::Stepping);
        assert_eq!(Mode::at(U), Mode::Armed);
        assert_eq!(on_debug_exit(Mode::Stepping, K, false), DebugAction::Step);
        // A breakpoint flag while stepping changes nothing.
        assert_eq!(on_debug_exit(Mode::Stepping, K, true), DebugAction::Step);
        assert_eq!(on_debug_exit(Mode::Stepping, U, false), DebugAction::ReturnedToUser);
        assert_eq!(on_debug_exit(Mode::Armed, K, true), DebugAction::Entered);
        assert_eq!(on_debug_exit(Mode::Armed, K, false), DebugAction::Ignore);
        assert_eq!(on_debug_exit(Mode::Armed, U, false), DebugAction::Ignore);
        assert_eq!(on_debug_exit(Mode::Off, K, true), DebugAction::Ignore);
    }

    #[test]
    fn an_instruction_counts_once_it_ran() {
        let mut r = Recorder::default();
        r.commit();
        assert_eq!(r.stats.instructions, 0, "nothing captured yet");
        r.capture(&[K, K + 0x100], 0);
        assert_eq!(r.pending_pc(), Some(K));
        r.commit();
        r.commit();
        assert_eq!(r.stats.instructions, 1, "a capture counts once");
        r.capture(&[K, K + 0x100], 0);
        r.commit();
        r.capture(&[K + 4], 0);
        r.drop_pending();
        r.commit();
        r.add_stub(&[K + 8, K + 10]);
        let raw = r.finish();
        assert_eq!(raw.stacks[&vec![K, K + 0x100]], 2);
        assert_eq!(raw.stacks.get(&vec![K + 4]), None);
        assert_eq!(raw.stacks[&vec![K + 8]], 1);
        assert_eq!(raw.stats.instructions, 4);
        assert_eq!(raw.stats.stub_instructions, 2);
    }

    #[test]
    fn rep_string_instructions_and_their_bytes() {
        let at = |b: &[u8], rcx| rep_string_bytes(b, K, rcx);
        assert_eq!(at(&[0xf3, 0x48, 0xab], 512), Some(4096), "rep stosq");
        assert_eq!(at(&[0xf3, 0xaa], 7), Some(7), "rep stosb");
        assert_eq!(at(&[0xf3, 0x48, 0xa5], 3), Some(24), "rep movsq");
        assert_eq!(at(&[0xf3, 0xa4], 100), Some(100), "rep movsb");
        assert_eq!(at(&[0xf3, 0xa5], 2), Some(8), "rep movsd");
        assert_eq!(at(&[0x48, 0xab], 512), None, "stosq without rep");
        assert_eq!(at(&[0xf3, 0x90], 5), None, "pause");
        assert_eq!(at(&[0xf3, 0x0f, 0x1e, 0xfa], 5), None, "endbr64");
        assert_eq!(at(&[0xf3, 0xa6], 5), None, "repe cmpsb moves nothing");
        assert_eq!(at(&[0xf3], 5), None, "cut short");
    }

    #[test]
    fn rep_bytes_count_once_per_instruction_run() {
        let mut r = Recorder::default();
        r.capture(&[K, K + 0x100], 4096);
        r.commit();
        // A host that steps each iteration: the same address again.
        r.capture(&[K, K + 0x100], 4088);
        r.commit();
        r.capture(&[K + 2], 0);
        r.commit();
        r.capture(&[K, K + 0x100], 64);
        r.commit();
        let raw = r.finish();
        let rep = (EXIT_STATS.len(), vec![K, K + 0x100]);
        assert_eq!(raw.events[&rep], 4096 + 64);
        assert_eq!(raw.events.len(), 1);
        assert_eq!(raw.stacks[&vec![K, K + 0x100]], 3);
    }

    fn profile(lines: &[(&str, u64)]) -> Profile {
        Profile {
            events: vec![],
            stacks: lines.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            stats: TraceStats::default(),
            spans: 0,
        }
    }

    #[test]
    fn functions_own_and_total() {
        let p = profile(&[
            ("trap_common;do_trap;clone;copy_process;core::ptr::write", 30),
            ("trap_common;do_trap;clone;copy_process", 10),
            ("trap_common;do_trap;clone", 5),
            ("trap_common;do_trap;wait4", 7),
            // A recursive frame counts once in the total.
            ("trap_common;do_trap;f;f", 2),
        ]);
        assert_eq!(p.total(), 54);
        let f = p.functions();
        let get = |n: &str| f.iter().find(|c| c.name == n).cloned().unwrap();
        assert_eq!(
            get("copy_process"),
            FunctionCost { name: "copy_process".into(), own: 40, total: 40 }
        );
        assert_eq!(get("clone").total, 45);
        assert_eq!(get("clone").own, 5);
        assert_eq!(get("do_trap").total, 54);
        assert_eq!(get("f").total, 2);
        assert_eq!(get("core::ptr::write").own, 0, "library frames count for their caller");
        assert_eq!(f[0].name, "copy_process");
        assert_eq!(p.under("clone", "copy_process"), 40);
        assert_eq!(p.under("copy_process", "clone"), 0, "order matters");
        assert_eq!(p.under("wait4", "copy_process"), 0);
        let t = p.top_table(2, 2);
        assert!(t.contains("| 20 | 74.1 % | 20 | `copy_process` |"), "{t}");
        assert!(t.contains("| 27 | 100 % |"), "{t}");
        assert_eq!(
            p.folded().lines().next(),
            Some("trap_common;do_trap;clone;copy_process;core::ptr::write 30")
        );
    }

    #[test]
    fn the_flame_graph_is_an_svg_naming_the_functions() {
        let p = profile(&[("a;b", 3), ("a;c", 1)]);
        let svg = String::from_utf8(p.flamegraph("test").unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"), "{}", &svg[..100]);
        assert!(svg.contains("<svg") && svg.contains(">b (3 instructions, 75.00%)<"), "{svg}");
    }

    #[test]
    fn a_profile_with_more_returns_than_entries_says_it_is_incomplete() {
        let mut p = profile(&[("a", 1)]);
        p.stats.user_returns = 3;
        p.stats.kernel_entries = 2;
        assert!(!p.missed_entries(), "the run may start in the kernel once");
        p.stats.user_returns = 4;
        assert!(p.missed_entries());
        assert!(p.summary().contains("INCOMPLETE"), "{}", p.summary());
        p.spans = 2;
        assert!(!p.missed_entries(), "each span may start in the kernel");
    }

    #[test]
    fn statistics_are_charged_to_the_captured_instruction_or_user_mode() {
        let mut r = Recorder::default();
        let mut d = vec![0; EXIT_STATS.len()];
        d[2] = 1; // pf_taken
        r.charge(&d, true);
        r.capture(&[K + 8, K + 0x100], 0);
        d[2] = 0;
        d[3] = 2; // tlb_flush
        r.charge(&d, false);
        r.commit();
        let raw = r.finish();
        assert_eq!(raw.events.get(&(2, vec![])), Some(&1));
        assert_eq!(raw.events.get(&(3, vec![K + 8, K + 0x100])), Some(&2));
        assert_eq!(raw.events.len(), 2);
    }

    #[test]
    fn exits_by_function_name_the_innermost_kernel_frame() {
        let mut p = profile(&[]);
        p.events = vec![
            ("tlb_flush".into(), "a;load_cr3;core::sync::atomic::atomic_load".into(), 3),
            ("tlb_flush".into(), "b;load_cr3".into(), 1),
            ("pf_taken".into(), USER_MODE.into(), 4),
        ];
        assert_eq!(p.event_total("tlb_flush"), 4);
        assert_eq!(
            p.events_by_function("tlb_flush"),
            vec![
                ("load_cr3 (core::sync::atomic::atomic_load)".to_string(), 3),
                ("load_cr3".to_string(), 1)
            ]
        );
        let t = p.exit_table(2);
        assert!(t.contains("| `tlb_flush` | **2.00** | (all) |"), "{t}");
        assert!(t.contains(&format!("| | 2.00 | `{USER_MODE}` |")), "{t}");
        assert!(p.exits_folded().contains("pf_taken;[user mode and kernel entry] 4"));
    }

    #[test]
    fn library_frames() {
        assert!(is_library("core::sync::atomic::atomic_load"));
        assert!(is_library("<alloc::alloc::Global as core::alloc::Allocator>::allocate"));
        assert!(!is_library(
            "<guest::arch::x86_64::heap::KernelHeap as core::alloc::global::GlobalAlloc>::alloc"
        ));
        assert!(!is_library("linked_list_allocator::Heap::allocate_first_fit"));
    }
}
