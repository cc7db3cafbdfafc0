//! UTS namespaces (Linux `kernel/utsname.c`, `kernel/sys.c`): the names `uname`
//! reports. CLONE_NEWUTS gives a process a private copy, so `sethostname` and
//! `setdomainname` change only the caller's namespace.
//!
//! Hardware-free, so it is unit-tested on the host.

use crate::errno::{Errno, EINVAL, EPERM};
pub use uapi::utsname::__NEW_UTS_LEN;

const FIELD: usize = __NEW_UTS_LEN + 1;

/// `struct new_utsname`: six NUL-padded 65-byte fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewUtsname {
    pub sysname: [u8; FIELD],
    pub nodename: [u8; FIELD],
    pub release: [u8; FIELD],
    pub version: [u8; FIELD],
    pub machine: [u8; FIELD],
    pub domainname: [u8; FIELD],
}

const fn field(s: &[u8]) -> [u8; FIELD] {
    let mut f = [0u8; FIELD];
    let mut i = 0;
    while i < s.len() && i < __NEW_UTS_LEN {
        f[i] = s[i];
        i += 1;
    }
    f
}

/// Linux `init_uts_ns.name`, built at compile time: the boot copies it
/// (~20 ring-0 instructions) instead of padding six fields (~200).
const INITIAL: NewUtsname = NewUtsname {
    sysname: field(b"Linux"),
    nodename: field(b"kvmfork"),
    release: field(b"6.1.0-kvmfork"),
    version: field(b"#1 SMP"),
    machine: field(b"x86_64"),
    domainname: field(b"(none)"),
};

impl NewUtsname {
    /// The initial namespace's names (Linux `init_uts_ns`; the domain name is
    /// Linux's default "(none)").
    pub fn initial() -> Self {
        INITIAL
    }

    /// The bytes of `struct new_utsname` as `uname` writes them.
    pub fn bytes(&self) -> [u8; 6 * FIELD] {
        let mut b = [0u8; 6 * FIELD];
        let fields = [
            self.sysname,
            self.nodename,
            self.release,
            self.version,
            self.machine,
            self.domainname,
        ];
        for (i, f) in fields.iter().enumerate() {
            b[FIELD * i..FIELD * (i + 1)].copy_from_slice(f);
        }
        b
    }
}

/// Which name `sethostname`/`setdomainname` changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UtsField {
    Nodename,
    Domainname,
}

/// A UTS namespace (Linux `struct uts_namespace`).
pub struct UtsNamespace {
    /// Its `ns_common` number (`/proc/PID/ns/uts`).
    pub inum: u32,
    name: spin::Mutex<NewUtsname>,
    /// The user namespace that owns it, set by `nsproxy` (unset: the
    /// initial one).
    pub owner: spin::Once<alloc::sync::Arc<crate::process::user_namespace::UserNamespace>>,
}

impl UtsNamespace {
    pub fn new_initial() -> Self {
        UtsNamespace {
            inum: crate::process::ns_common::PROC_UTS_INIT_INO,
            name: spin::Mutex::new(NewUtsname::initial()),
            owner: spin::Once::new(),
        }
    }

    /// A private copy for CLONE_NEWUTS (Linux `clone_uts_ns`).
    pub fn copy(&self) -> Self {
        UtsNamespace {
            inum: crate::process::ns_common::ns_alloc_inum(),
            name: spin::Mutex::new(*self.name.lock()),
            owner: spin::Once::new(),
        }
    }

    pub fn name(&self) -> NewUtsname {
        *self.name.lock()
    }

    /// Set a name to `value` (at most 64 bytes: `check_set` first), NUL-padded.
    pub fn set(&self, which: UtsField, value: &[u8]) {
        let mut n = self.name.lock();
        let f = match which {
            UtsField::Nodename => &mut n.nodename,
            UtsField::Domainname => &mut n.domainname,
        };
        *f = field(value);
    }
}

/// `sethostname`/`setdomainname`'s checks, in Linux's order: privilege
/// (CAP_SYS_ADMIN) first, then the length (an `int`: negative or above 64 is
/// EINVAL).
pub fn check_set(len: i32, capable: bool) -> Result<usize, Errno> {
    if !capable {
        return Err(EPERM);
    }
    if len < 0 || len as usize > __NEW_UTS_LEN {
        return Err(EINVAL);
    }
    Ok(len as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_private() {
        let init = UtsNamespace::new_initial();
        let copy = init.copy();
        assert_eq!(copy.name(), init.name());
        copy.set(UtsField::Nodename, b"inner");
        copy.set(UtsField::Domainname, b"dom");
        assert_eq!(&init.name().nodename[..8], b"kvmfork\0");
        assert_eq!(&copy.name().nodename[..6], b"inner\0");
        assert_eq!(&copy.name().domainname[..4], b"dom\0");
        assert_eq!(&init.name().domainname[..7], b"(none)\0");
        // Shorter names clear what a longer one left.
        copy.set(UtsField::Nodename, b"x");
        assert_eq!(&copy.name().nodename[..3], b"x\0\0");
        let long = [b'h'; 64];
        copy.set(UtsField::Nodename, &long);
        assert_eq!(&copy.name().nodename[..64], &long[..]);
        assert_eq!(copy.name().nodename[64], 0, "always NUL-terminated");
    }

    #[test]
    fn layout_and_checks() {
        let b = NewUtsname::initial().bytes();
        assert_eq!(b.len(), 390);
        assert_eq!(&b[0..6], b"Linux\0");
        assert_eq!(&b[65..73], b"kvmfork\0");
        assert_eq!(&b[4 * 65..4 * 65 + 7], b"x86_64\0");
        assert_eq!(&b[5 * 65..5 * 65 + 7], b"(none)\0");
        assert_eq!(check_set(64, true), Ok(64));
        assert_eq!(check_set(0, true), Ok(0));
        assert_eq!(check_set(65, true), Err(EINVAL));
        assert_eq!(check_set(-1, true), Err(EINVAL));
        assert_eq!(check_set(65, false), Err(EPERM), "privilege is checked first");
        assert_eq!(check_set(3, false), Err(EPERM));
    }
}
