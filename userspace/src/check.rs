//! One printed line per check: `ok <name>` or `FAIL <name>: <why>`. A program
//! exits with [`Checker::status`], the number of failed checks.
//!
//! Names and successful lines must not contain values that legitimately differ
//! between kernels (pids, addresses, times), so output can be compared.

use core::fmt::Display;

use crate::abi::WaitStatus;
use crate::calls::wait4;
use crate::errno::Errno;
use crate::println;

#[derive(Default)]
pub struct Checker {
    failed: u32,
}

impl Checker {
    pub const fn new() -> Self {
        Checker { failed: 0 }
    }

    /// Reaps `pid` (wait4 with `options`) and checks its status under `name`.
    /// A death by signal matches whatever the core-dump flag says (whether a
    /// core is written depends on the host's settings).
    pub fn reaped(&mut self, name: &str, pid: usize, options: u32, want: WaitStatus) -> bool {
        let mut st = 0;
        match wait4(pid as i32, Some(&mut st), options) {
            Ok(p) if p == pid => {
                let got = WaitStatus::from_raw(st);
                let same = match (got, want) {
                    (WaitStatus::Signaled(a, _), WaitStatus::Signaled(b, _)) => a == b,
                    _ => got == want,
                };
                if same {
                    self.check(name, true)
                } else {
                    self.fail(name, format_args!("{}, want {}", got, want));
                    false
                }
            }
            Ok(_) => {
                self.fail(name, "wait4 returned another pid");
                false
            }
            Err(e) => {
                self.fail(name, e);
                false
            }
        }
    }

    /// Reaps `pid` (wait4 with `options`), which reports its failed steps as
    /// bits of its exit status: one line per entry of `names` (bit i set =
    /// `names[i]` failed).
    pub fn reaped_bits(&mut self, pid: usize, options: u32, names: &[&str]) {
        let mut st = 0;
        let bits = match wait4(pid as i32, Some(&mut st), options) {
            Ok(p) if p == pid => match WaitStatus::from_raw(st) {
                WaitStatus::Exited(code) => code,
                other => {
                    for n in names {
                        self.fail(n, format_args!("child {}", other));
                    }
                    return;
                }
            },
            _ => 0xff,
        };
        for (i, n) in names.iter().enumerate() {
            self.check(n, bits & (1 << i) == 0);
        }
    }

    /// Records `cond` under `name`; returns it.
    pub fn check(&mut self, name: impl Display, cond: bool) -> bool {
        if cond {
            println!("ok {}", name);
        } else {
            self.failed += 1;
            println!("FAIL {}", name);
        }
        cond
    }

    /// Records a failure with an explanation.
    pub fn fail(&mut self, name: impl Display, why: impl Display) {
        self.failed += 1;
        println!("FAIL {}: {}", name, why);
    }

    /// Expects success; returns the value.
    pub fn ok<T>(&mut self, name: impl Display, r: Result<T, Errno>) -> Option<T> {
        match r {
            Ok(v) => {
                println!("ok {}", name);
                Some(v)
            }
            Err(e) => {
                self.fail(name, e);
                None
            }
        }
    }

    /// Expects success with value `want`.
    pub fn ok_eq<T: PartialEq + Display>(
        &mut self,
        name: impl Display,
        r: Result<T, Errno>,
        want: T,
    ) -> bool {
        match r {
            Ok(v) if v == want => {
                println!("ok {}", name);
                true
            }
            Ok(v) => {
                self.failed += 1;
                println!("FAIL {}: got {}, want {}", name, v, want);
                false
            }
            Err(e) => {
                self.fail(name, e);
                false
            }
        }
    }

    /// Expects error `want`.
    pub fn err<T>(&mut self, name: impl Display, r: Result<T, Errno>, want: Errno) -> bool {
        match r {
            Err(e) if e == want => {
                println!("ok {}", name);
                true
            }
            Err(e) => {
                self.failed += 1;
                println!("FAIL {}: got {}, want {}", name, e, want);
                false
            }
            Ok(_) => {
                self.failed += 1;
                println!("FAIL {}: succeeded, want {}", name, want);
                false
            }
        }
    }

    /// The number of failed checks so far.
    pub fn failures(&self) -> u32 {
        self.failed
    }

    /// The exit status: the number of failed checks (at most 255, so it never
    /// wraps to 0).
    pub fn status(&self) -> i32 {
        self.failed.min(255) as i32
    }
}
