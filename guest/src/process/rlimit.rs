//! Resource limits (Linux: `struct rlimit`, `task->signal->rlim`); the
//! resource numbers and `struct rlimit` are [`uapi::resource`]'s.

pub use uapi::resource::{
    rlimit, RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS,
    RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_RTPRIO,
    RLIMIT_SIGPENDING, RLIMIT_STACK, RLIM_INFINITY, RLIM_NLIMITS,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits(pub [rlimit; RLIM_NLIMITS as usize]);

impl Default for Rlimits {
    /// Linux's defaults for init (`INIT_RLIMITS`), with NOFILE 1024/4096.
    fn default() -> Self {
        let limit = |cur, max| rlimit { rlim_cur: cur, rlim_max: max };
        let inf = limit(RLIM_INFINITY, RLIM_INFINITY);
        let mut r = [inf; RLIM_NLIMITS as usize];
        r[RLIMIT_STACK as usize] = limit(8 << 20, RLIM_INFINITY);
        r[RLIMIT_CORE as usize] = limit(0, RLIM_INFINITY);
        r[RLIMIT_NPROC as usize] = limit(4096, 4096);
        r[RLIMIT_NOFILE as usize] = limit(1024, 4096);
        r[RLIMIT_MEMLOCK as usize] = limit(8 << 20, 8 << 20);
        r[RLIMIT_LOCKS as usize] = inf;
        r[RLIMIT_SIGPENDING as usize] = limit(4096, 4096);
        r[RLIMIT_MSGQUEUE as usize] = limit(819_200, 819_200);
        r[RLIMIT_NICE as usize] = limit(0, 0);
        r[RLIMIT_RTPRIO as usize] = limit(0, 0);
        Rlimits(r)
    }
}

impl Rlimits {
    /// Linux `do_prlimit` rules: soft <= hard; raising the hard limit needs
    /// privilege (`privileged`: CAP_SYS_RESOURCE, here root).
    pub fn set(
        &mut self,
        resource: u32,
        new: rlimit,
        privileged: bool,
    ) -> Result<rlimit, crate::errno::Errno> {
        use crate::errno::{EINVAL, EPERM};
        let old = *self.0.get(resource as usize).ok_or(EINVAL)?;
        if new.rlim_cur > new.rlim_max {
            return Err(EINVAL);
        }
        if new.rlim_max > old.rlim_max && !privileged {
            return Err(EPERM);
        }
        // Linux caps NOFILE at sysctl_nr_open (1048576).
        if resource == RLIMIT_NOFILE && new.rlim_max > 1 << 20 {
            return Err(EPERM);
        }
        self.0[resource as usize] = new;
        Ok(old)
    }

    pub fn get(&self, resource: u32) -> Option<rlimit> {
        self.0.get(resource as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_follows_linux_rules() {
        let mut r = Rlimits::default();
        let nofile = r.get(RLIMIT_NOFILE).unwrap();
        assert_eq!(
            r.set(RLIMIT_NOFILE, rlimit { rlim_cur: 10, rlim_max: nofile.rlim_max }, false),
            Ok(nofile)
        );
        assert_eq!(
            r.set(RLIMIT_NOFILE, rlimit { rlim_cur: 20, rlim_max: 10 }, false),
            Err(crate::errno::EINVAL)
        );
        assert_eq!(
            r.set(RLIMIT_NOFILE, rlimit { rlim_cur: 10, rlim_max: 5000 }, false),
            Err(crate::errno::EPERM)
        );
        assert!(r.set(RLIMIT_NOFILE, rlimit { rlim_cur: 10, rlim_max: 5000 }, true).is_ok());
        assert_eq!(r.set(99, rlimit { rlim_cur: 0, rlim_max: 0 }, true), Err(crate::errno::EINVAL));
    }
}
