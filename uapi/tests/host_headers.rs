//! Every constant that the host's Linux headers (`/usr/include/linux`,
//! `asm`, `asm-generic`: Debian's linux-libc-dev, installed with gcc by
//! `ci/setup.sh`) define under the same name must have the same value here.
//! This reaches what the libc crate lacks (`ARCH_SET_FS`, `SA_RESTORER`,
//! `_NSIG`, `FUTEX_CMD_MASK`, ...). Names newer than the host's headers (system
//! calls above its last one) are checked by nothing but review; names Linux
//! defines differently on purpose are listed in `DIFFERENT`.

use std::collections::HashMap;
use std::path::Path;

const HEADERS: &[&str] = &[
    "x86_64-linux-gnu/asm/unistd_64.h",
    "asm-generic/errno-base.h",
    "asm-generic/errno.h",
    "asm-generic/fcntl.h",
    "linux/fcntl.h",
    "linux/fs.h",
    "linux/stat.h",
    "asm-generic/mman-common.h",
    "asm-generic/mman.h",
    "linux/mman.h",
    "linux/time.h",
    "linux/random.h",
    "asm-generic/ioctls.h",
    "asm-generic/resource.h",
    "linux/resource.h",
    "linux/futex.h",
    "linux/prctl.h",
    "x86_64-linux-gnu/asm/prctl.h",
    "asm-generic/signal-defs.h",
    "x86_64-linux-gnu/asm/signal.h",
    "linux/signal.h",
    "asm-generic/siginfo.h",
    "linux/wait.h",
    "linux/sched.h",
    "linux/utsname.h",
    "linux/limits.h",
    "linux/uio.h",
    "asm-generic/poll.h",
    "linux/binfmts.h",
    "linux/auxvec.h",
    "x86_64-linux-gnu/asm/auxvec.h",
    "linux/elf.h",
    "linux/elf-em.h",
];

/// Names whose header value is not the ABI value on purpose: x86's legacy
/// `NSIG` for the old 32-signal `sigset_t` is not ours (we name 64 `_NSIG`).
const DIFFERENT: &[&str] = &["NSIG"];

#[test]
fn values_match_the_hosts_linux_headers() {
    let root = Path::new("/usr/include");
    if !root.join("linux/sched.h").exists() {
        eprintln!("no Linux headers in /usr/include (run ci/setup.sh): not checked");
        return;
    }
    let mut defines = HashMap::new();
    for header in HEADERS {
        let Ok(text) = std::fs::read_to_string(root.join(header)) else {
            eprintln!("{header}: not on this host, skipped");
            continue;
        };
        parse_defines(&text, &mut defines);
    }
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (module, constants) in uapi::ALL_CONSTANTS {
        for c in *constants {
            let Some(&theirs) = defines.get(c.name) else { continue };
            if DIFFERENT.contains(&c.name) {
                continue;
            }
            checked += 1;
            let fits_32 = |v: i128| v >> 32 == 0 || v >> 32 == -1;
            // Equal, or the same bits as C's `int`/`unsigned` (32) or `long` (64).
            let same = c.value == theirs
                || fits_32(c.value) && fits_32(theirs) && c.value as u32 == theirs as u32
                || c.value as u64 == theirs as u64;
            if !same {
                wrong.push(format!(
                    "uapi::{module}::{} is {:#x}, Linux's header says {theirs:#x}",
                    c.name, c.value
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The host's headers (Linux 6.1 on Debian 12) define at least this many of
    // our names; far fewer means the parser or the paths broke.
    assert!(checked > 600, "only {checked} constants checked against the headers");
}

/// Collects `#define NAME EXPR` where EXPR is an integer expression of
/// literals and names defined before (function-like macros are skipped).
fn parse_defines(text: &str, out: &mut HashMap<String, i128>) {
    for line in text.lines() {
        let Some(directive) = line.trim_start().strip_prefix('#') else { continue };
        let Some(rest) = directive.trim_start().strip_prefix("define") else { continue };
        let rest = rest.trim_start();
        let name_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        let (name, expr) = match name_end {
            Some(i) => rest.split_at(i),
            None => continue,
        };
        if expr.starts_with('(') {
            continue; // a function-like macro
        }
        let expr = expr.split("/*").next().unwrap_or("").trim();
        if let Some(v) = eval(expr, out) {
            out.insert(name.to_string(), v);
        }
    }
}

/// Evaluates a C integer expression with `| & ^ << >> + - * ~ ( )`.
fn eval(expr: &str, names: &HashMap<String, i128>) -> Option<i128> {
    let tokens = tokenize(expr, names)?;
    let mut p = Parser { tokens, at: 0 };
    let v = p.or()?;
    (p.at == p.tokens.len()).then_some(v)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(i128),
    Op(&'static str),
}

fn tokenize(s: &str, names: &HashMap<String, i128>) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i] as char).is_ascii_alphanumeric() {
                i += 1;
            }
            let lit = s[start..i].trim_end_matches(['u', 'U', 'l', 'L']);
            let v = if let Some(hex) = lit.strip_prefix("0x").or(lit.strip_prefix("0X")) {
                i128::from_str_radix(hex, 16).ok()?
            } else if lit.len() > 1 && lit.starts_with('0') {
                i128::from_str_radix(&lit[1..], 8).ok()?
            } else {
                lit.parse().ok()?
            };
            out.push(Tok::Num(v));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Num(*names.get(&s[start..i])?));
        } else {
            let two = s.get(i..i + 2).unwrap_or("");
            let op = ["<<", ">>"].into_iter().find(|&o| o == two);
            let op = op.or(["|", "&", "^", "+", "-", "*", "~", "(", ")"]
                .into_iter()
                .find(|o| o.as_bytes()[0] == b[i]))?;
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    (!out.is_empty()).then_some(out)
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self, op: &'static str) -> bool {
        self.tokens.get(self.at) == Some(&Tok::Op(op))
    }

    fn binary(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Self) -> Option<i128>,
        apply: fn(&str, i128, i128) -> i128,
    ) -> Option<i128> {
        let mut v = next(self)?;
        while let Some(&op) = ops.iter().find(|&&o| self.peek(o)) {
            self.at += 1;
            v = apply(op, v, next(self)?);
        }
        Some(v)
    }

    fn or(&mut self) -> Option<i128> {
        self.binary(&["|"], Self::xor, |_, a, b| a | b)
    }
    fn xor(&mut self) -> Option<i128> {
        self.binary(&["^"], Self::and, |_, a, b| a ^ b)
    }
    fn and(&mut self) -> Option<i128> {
        self.binary(&["&"], Self::shift, |_, a, b| a & b)
    }
    fn shift(&mut self) -> Option<i128> {
        self.binary(&["<<", ">>"], Self::sum, |op, a, b| if op == "<<" { a << b } else { a >> b })
    }
    fn sum(&mut self) -> Option<i128> {
        self.binary(&["+", "-"], Self::product, |op, a, b| if op == "+" { a + b } else { a - b })
    }
    fn product(&mut self) -> Option<i128> {
        self.binary(&["*"], Self::unary, |_, a, b| a * b)
    }
    fn unary(&mut self) -> Option<i128> {
        if self.peek("~") {
            self.at += 1;
            // C's `~` on an `int`: 32 bits, as the headers' flag masks are.
            return Some(!(self.unary()? as i32) as i128);
        }
        if self.peek("-") {
            self.at += 1;
            return Some(-self.unary()?);
        }
        if self.peek("(") {
            self.at += 1;
            let v = self.or()?;
            if !self.peek(")") {
                return None;
            }
            self.at += 1;
            return Some(v);
        }
        match self.tokens.get(self.at)? {
            Tok::Num(v) => {
                self.at += 1;
                Some(*v)
            }
            Tok::Op(_) => None,
        }
    }
}
