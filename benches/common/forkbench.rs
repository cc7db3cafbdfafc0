//! Reading what `userspace/c/forkbench.c` prints, and the counter snapshots it
//! takes in the guest. Used by `benches/fork.rs` and `tests/forkbench.rs`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use vmm::protocol::counters::CounterPage;
use vmm::{ExitReport, Snapshot};

/// One `sample` line: `ops` operations took `cycles` TSC cycles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub case: String,
    /// `size_mib`, `pages` or `parents`, and its value.
    pub param: String,
    pub value: u64,
    pub ops: u64,
    pub cycles: u64,
}

impl Sample {
    /// The key of its case and parameter, as in the snapshot labels:
    /// `fork_exit_wait size_mib=16`.
    pub fn key(&self) -> String {
        format!("{} {}={}", self.case, self.param, self.value)
    }
}

/// One `touch` line: setting up `pages` pages for case `for_case`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    pub for_case: String,
    pub size_mib: u64,
    pub pages: u64,
    /// `populate` or `write`.
    pub method: String,
    pub cycles: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Output {
    /// The `forkbench` line's settings.
    pub settings: BTreeMap<String, String>,
    pub touches: Vec<Touch>,
    pub samples: Vec<Sample>,
    /// `done samples=N`.
    pub done: Option<u64>,
}

fn fields(words: &[&str], line: &str) -> Result<BTreeMap<String, String>, String> {
    let mut m = BTreeMap::new();
    for w in words {
        let (k, v) =
            w.split_once('=').ok_or_else(|| format!("not key=value: {w:?} in {line:?}"))?;
        if v.is_empty() || m.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("empty or repeated key {k:?} in {line:?}"));
        }
    }
    Ok(m)
}

/// Takes `keys` (all of them, nothing else) from `m` as numbers, in order.
fn numbers(m: &BTreeMap<String, String>, keys: &[&str], line: &str) -> Result<Vec<u64>, String> {
    keys.iter()
        .map(|k| {
            m.get(*k)
                .ok_or_else(|| format!("no {k} in {line:?}"))?
                .parse()
                .map_err(|_| format!("{k} is not a number in {line:?}"))
        })
        .collect()
}

/// Parses forkbench's whole output strictly: the settings line first, then only
/// `touch` and `sample` lines with exactly their fields, then `done`. An
/// `error` line, anything else, or a missing `done` is an error.
pub fn parse(stdout: &str) -> Result<Output, String> {
    let mut out = Output::default();
    for (i, line) in stdout.lines().enumerate() {
        let words: Vec<&str> = line.split(' ').collect();
        if out.done.is_some() {
            return Err(format!("line after done: {line:?}"));
        }
        let m = fields(&words[1..], line)?;
        let has = |keys: &[&str]| {
            let mut want: Vec<&str> = keys.to_vec();
            want.sort();
            m.keys().map(String::as_str).eq(want)
        };
        match (i, words[0]) {
            (0, "forkbench") => out.settings = m,
            (0, _) => return Err(format!("the first line is not the settings: {line:?}")),
            (_, "touch") if has(&["for", "size_mib", "pages", "method", "cycles"]) => {
                let n = numbers(&m, &["size_mib", "pages", "cycles"], line)?;
                let method = m["method"].clone();
                if method != "populate" && method != "write" {
                    return Err(format!("unknown touch method in {line:?}"));
                }
                out.touches.push(Touch {
                    for_case: m["for"].clone(),
                    size_mib: n[0],
                    pages: n[1],
                    method,
                    cycles: n[2],
                });
            }
            (_, "sample") if m.len() == 4 && m.contains_key("case") => {
                let param = m
                    .keys()
                    .find(|k| !["case", "ops", "cycles"].contains(&k.as_str()))
                    .ok_or_else(|| format!("no parameter in {line:?}"))?
                    .clone();
                if !["size_mib", "pages", "parents"].contains(&param.as_str()) {
                    return Err(format!("unknown parameter {param:?} in {line:?}"));
                }
                let n = numbers(&m, &[param.as_str(), "ops", "cycles"], line)?;
                out.samples.push(Sample {
                    case: m["case"].clone(),
                    param,
                    value: n[0],
                    ops: n[1],
                    cycles: n[2],
                });
            }
            (_, "done") if has(&["samples"]) => {
                let n = numbers(&m, &["samples"], line)?[0];
                if n != out.samples.len() as u64 {
                    return Err(format!("done says {n} samples, {} printed", out.samples.len()));
                }
                out.done = Some(n);
            }
            _ => return Err(format!("unexpected line {}: {line:?}", i + 1)),
        }
    }
    if out.done.is_none() {
        return Err("no `done` line: the program did not finish".into());
    }
    Ok(out)
}

impl Output {
    /// The keys of the sampled cases, in the order they ran.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for s in &self.samples {
            if !keys.contains(&s.key()) {
                keys.push(s.key());
            }
        }
        keys
    }

    pub fn samples_of(&self, key: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.key() == key).collect()
    }
}

/// A `b KEY` snapshot and its `e KEY`.
pub type Pair<'a> = (&'a Snapshot, &'a Snapshot);

/// The snapshot pairs `b KEY` … `e KEY` for each key, in order.
pub fn snapshot_pairs(report: &ExitReport) -> Result<BTreeMap<String, Vec<Pair<'_>>>, String> {
    let mut open: BTreeMap<String, &Snapshot> = BTreeMap::new();
    let mut pairs: BTreeMap<String, Vec<Pair>> = BTreeMap::new();
    for s in &report.snapshots {
        let (kind, key) =
            s.label.split_once(' ').ok_or_else(|| format!("snapshot label {:?}", s.label))?;
        match kind {
            "b" => {
                if open.insert(key.to_string(), s).is_some() {
                    return Err(format!("snapshot {:?} twice without an end", s.label));
                }
            }
            "e" => {
                let b = open.remove(key).ok_or_else(|| format!("{:?} without a begin", s.label))?;
                pairs.entry(key.to_string()).or_default().push((b, s));
            }
            _ => return Err(format!("snapshot label {:?}", s.label)),
        }
    }
    if let Some(k) = open.keys().next() {
        return Err(format!("snapshot `b {k}` without an end"));
    }
    Ok(pairs)
}

/// The key of the empty pair whose cost [`ring0`] subtracts.
pub const NULL_KEY: &str = "null size_mib=0";

/// Ring-0 instructions (KVM `insn_emulation`, all vCPUs) between each key's
/// snapshot pairs, summed over its pairs, less what an empty pair costs (the
/// second `null` pair: the first may include first-use costs): (total, pairs).
pub fn ring0(report: &ExitReport) -> Result<BTreeMap<String, (u64, usize)>, String> {
    let pairs = snapshot_pairs(report)?;
    let insns = |s: &Snapshot| s.kvm.vcpu_total("insn_emulation");
    let overhead = pairs
        .get(NULL_KEY)
        .and_then(|p| p.last())
        .map(|(b, e)| insns(e).saturating_sub(insns(b)))
        .ok_or("no `null` snapshot pair")?;
    Ok(pairs
        .iter()
        .filter(|(k, _)| *k != NULL_KEY)
        .map(|(k, p)| {
            let total: u64 = p.iter().map(|(b, e)| insns(e).saturating_sub(insns(b))).sum();
            (k.clone(), (total.saturating_sub(overhead * p.len() as u64), p.len()))
        })
        .collect())
}

/// The sum over a key's pairs of the change of a counter read by `f`.
pub fn counter_delta(pairs: &[Pair], f: impl Fn(&CounterPage) -> u64) -> u64 {
    pairs.iter().map(|(b, e)| f(&e.counters).wrapping_sub(f(&b.counters))).sum()
}

/// A per-CPU counter summed over the CPUs.
pub fn cpu_sum(
    page: &CounterPage,
    f: impl Fn(&vmm::protocol::counters::CpuCounters) -> u64,
) -> u64 {
    page.cpu.iter().map(f).fold(0, u64::wrapping_add)
}
