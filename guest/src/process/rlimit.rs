//! Resource limits (Linux: `struct rlimit`, `task->signal->rlim`).

pub const RLIM_INFINITY: u64 = u64::MAX;
pub const RLIM_NLIMITS: usize = 16;

pub const RLIMIT_CPU: usize = 0;
pub const RLIMIT_FSIZE: usize = 1;
pub const RLIMIT_DATA: usize = 2;
pub const RLIMIT_STACK: usize = 3;
pub const RLIMIT_CORE: usize = 4;
pub const RLIMIT_NPROC: usize = 6;
pub const RLIMIT_NOFILE: usize = 7;
pub const RLIMIT_AS: usize = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits(pub [Rlimit; RLIM_NLIMITS]);

impl Default for Rlimits {
    /// Linux's defaults for init (`INIT_RLIMITS`), with NOFILE 1024/4096.
    fn default() -> Self {
        let inf = Rlimit { cur: RLIM_INFINITY, max: RLIM_INFINITY };
        let mut r = [inf; RLIM_NLIMITS];
        r[RLIMIT_STACK] = Rlimit { cur: 8 << 20, max: RLIM_INFINITY };
        r[RLIMIT_CORE] = Rlimit { cur: 0, max: RLIM_INFINITY };
        r[RLIMIT_NPROC] = Rlimit { cur: 4096, max: 4096 };
        r[RLIMIT_NOFILE] = Rlimit { cur: 1024, max: 4096 };
        r[8] = Rlimit { cur: 8 << 20, max: 8 << 20 }; // MEMLOCK
        r[10] = inf; // LOCKS
        r[11] = Rlimit { cur: 4096, max: 4096 }; // SIGPENDING
        r[12] = Rlimit { cur: 819_200, max: 819_200 }; // MSGQUEUE
        r[13] = Rlimit { cur: 0, max: 0 }; // NICE
        r[14] = Rlimit { cur: 0, max: 0 }; // RTPRIO
        Rlimits(r)
    }
}

impl Rlimits {
    /// Linux `do_prlimit` rules: soft <= hard; raising the hard limit needs
    /// privilege (`privileged`: CAP_SYS_RESOURCE, here root).
    pub fn set(
        &mut self,
        resource: usize,
        new: Rlimit,
        privileged: bool,
    ) -> Result<Rlimit, crate::errno::Errno> {
        use crate::errno::{EINVAL, EPERM};
        let old = *self.0.get(resource).ok_or(EINVAL)?;
        if new.cur > new.max {
            return Err(EINVAL);
        }
        if new.max > old.max && !privileged {
            return Err(EPERM);
        }
        // Linux caps NOFILE at sysctl_nr_open (1048576).
        if resource == RLIMIT_NOFILE && new.max > 1 << 20 {
            return Err(EPERM);
        }
        self.0[resource] = new;
        Ok(old)
    }

    pub fn get(&self, resource: usize) -> Option<Rlimit> {
        self.0.get(resource).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_follows_linux_rules() {
        let mut r = Rlimits::default();
        let nofile = r.get(RLIMIT_NOFILE).unwrap();
        assert_eq!(r.set(RLIMIT_NOFILE, Rlimit { cur: 10, max: nofile.max }, false), Ok(nofile));
        assert_eq!(
            r.set(RLIMIT_NOFILE, Rlimit { cur: 20, max: 10 }, false),
            Err(crate::errno::EINVAL)
        );
        assert_eq!(
            r.set(RLIMIT_NOFILE, Rlimit { cur: 10, max: 5000 }, false),
            Err(crate::errno::EPERM)
        );
        assert!(r.set(RLIMIT_NOFILE, Rlimit { cur: 10, max: 5000 }, true).is_ok());
        assert_eq!(r.set(99, Rlimit { cur: 0, max: 0 }, true), Err(crate::errno::EINVAL));
    }
}
