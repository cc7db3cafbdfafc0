//! Who may change an inode's owner, group, mode and size, and which set-ID
//! bits such a change clears (Linux `fs/attr.c`: `setattr_prepare`,
//! `chown_ok`, `chgrp_ok`, `setattr_should_drop_sgid`,
//! `setattr_should_drop_suidgid`; `fs/open.c`: `chown_common`,
//! `chmod_common`; `fs/namei.c`: `generic_permission` for writing).
//!
//! The guest's credentials are user and group ids only: the file-system ids are
//! the effective ones, there are no supplementary groups, and "capable" (every
//! capability: CAP_CHOWN, CAP_FOWNER, CAP_FSETID, CAP_DAC_OVERRIDE) means an
//! effective user id of 0, as for a Linux process without capability sets of
//! its own.

use crate::errno::{Errno, EPERM};
use uapi::stat::{S_IFDIR, S_IFMT, S_IFREG, S_ISGID, S_ISUID, S_IXGRP};

/// The caller's file-system credentials (Linux `current_fsuid()`, `current_fsgid()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsCred {
    pub fsuid: u32,
    pub fsgid: u32,
}

impl FsCred {
    /// Every capability (a root caller).
    pub fn capable(&self) -> bool {
        self.fsuid == 0
    }

    /// Linux `in_group_p`: the file-system group (no supplementary groups here).
    pub fn in_group(&self, gid: u32) -> bool {
        gid == self.fsgid
    }

    /// Linux `in_group_or_capable` (CAP_FSETID).
    fn in_group_or_capable(&self, gid: u32) -> bool {
        self.in_group(gid) || self.capable()
    }
}

/// The attributes a change is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Linux `setattr_should_drop_sgid`: a set-group-ID bit that marks a
/// group-executable file, or one whose group the caller is not in.
fn should_drop_sgid(cur: Owner, cred: FsCred) -> bool {
    cur.mode & S_ISGID != 0 && (cur.mode & S_IXGRP != 0 || !cred.in_group_or_capable(cur.gid))
}

/// `chown`: the new (mode, uid, gid), or EPERM. `None` leaves the id as it is
/// (-1). As Linux, a non-directory always loses its set-user-ID bit (even
/// when root changes nothing) and its set-group-ID bit when group-executable
/// or when the caller is not in its group.
pub fn chown(cur: Owner, cred: FsCred, uid: Option<u32>, gid: Option<u32>) -> Result<Owner, Errno> {
    let owner = cur.uid == cred.fsuid;
    // chown_ok: the owner may "change" the uid to itself; else CAP_CHOWN.
    let chown_ok = |u: u32| cred.capable() || (owner && u == cur.uid);
    // chgrp_ok: the owner may pick the file's group or one of its own.
    let chgrp_ok = |g: u32| cred.capable() || (owner && (g == cur.gid || cred.in_group(g)));
    if uid.is_some_and(|u| !chown_ok(u)) || gid.is_some_and(|g| !chgrp_ok(g)) {
        return Err(EPERM);
    }
    let mut mode = cur.mode;
    if mode & S_IFMT != S_IFDIR {
        mode &= !S_ISUID;
        if should_drop_sgid(cur, cred) {
            mode &= !S_ISGID;
        }
        // The killed bits make it a mode change too (notify_change), and
        // setattr_prepare drops S_ISGID unless the caller is in the
        // (new) group or capable.
        let gid_after = gid.unwrap_or(cur.gid);
        if mode != cur.mode && !cred.in_group_or_capable(gid_after) {
            mode &= !S_ISGID;
        }
    }
    Ok(Owner { mode, uid: uid.unwrap_or(cur.uid), gid: gid.unwrap_or(cur.gid) })
}

/// `chmod`: the new mode (type kept, `mode & 07777`), or EPERM for a caller
/// that neither owns the inode nor is capable (CAP_FOWNER). The set-group-ID
/// bit is dropped unless the caller is in the file's group or capable.
pub fn chmod(cur: Owner, cred: FsCred, mode: u32) -> Result<u32, Errno> {
    if cur.uid != cred.fsuid && !cred.capable() {
        return Err(EPERM);
    }
    let mut new = cur.mode & S_IFMT | mode & 0o7777;
    if new & S_ISGID != 0 && !cred.in_group_or_capable(cur.gid) {
        new &= !S_ISGID;
    }
    Ok(new)
}

/// The mode after a truncation (Linux `do_truncate` with
/// `setattr_should_drop_suidgid`): a caller without CAP_FSETID takes a
/// regular file's set-user-ID bit, and its set-group-ID bit as `chown` does.
pub fn truncate_mode(cur: Owner, cred: FsCred) -> u32 {
    let mut kill = 0;
    if cur.mode & S_ISUID != 0 {
        kill |= S_ISUID;
    }
    if should_drop_sgid(cur, cred) {
        kill |= S_ISGID;
    }
    if kill != 0 && !cred.capable() && cur.mode & S_IFMT == S_IFREG {
        cur.mode & !kill
    } else {
        cur.mode
    }
}

/// Linux `generic_permission(MAY_WRITE)`: the owner's, group's or others'
/// write bit; a capable caller (CAP_DAC_OVERRIDE) may write anything.
pub fn may_write(cur: Owner, cred: FsCred) -> bool {
    let bit = if cur.uid == cred.fsuid {
        0o200
    } else if cred.in_group(cur.gid) {
        0o020
    } else {
        0o002
    };
    cred.capable() || cur.mode & bit != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: FsCred = FsCred { fsuid: 0, fsgid: 0 };
    const USER: FsCred = FsCred { fsuid: 1000, fsgid: 1000 };

    fn file(mode: u32, uid: u32, gid: u32) -> Owner {
        Owner { mode: S_IFREG | mode, uid, gid }
    }

    #[test]
    fn chown_permissions() {
        let mine = file(0o644, 1000, 1000);
        // -1, -1 and "to itself" are allowed to the owner; another uid is not.
        assert_eq!(chown(mine, USER, None, None), Ok(mine));
        assert_eq!(chown(mine, USER, Some(1000), None), Ok(mine));
        assert_eq!(chown(mine, USER, Some(0), None), Err(EPERM));
        // The owner may pick a group it is in, not another one.
        assert_eq!(chown(mine, USER, None, Some(1000)).unwrap().gid, 1000);
        assert_eq!(chown(mine, USER, None, Some(2000)), Err(EPERM));
        let other = file(0o644, 0, 1000);
        assert_eq!(chown(other, USER, None, Some(1000)), Err(EPERM));
        assert_eq!(chown(other, USER, None, None), Ok(other));
        assert_eq!(chown(other, ROOT, Some(5), Some(6)).unwrap(), file(0o644, 5, 6));
    }

    #[test]
    fn chown_clears_set_id_bits() {
        // Set-user-ID always (root too), set-group-ID when group-executable.
        assert_eq!(chown(file(0o6755, 0, 0), ROOT, None, None).unwrap().mode, S_IFREG | 0o755);
        assert_eq!(chown(file(0o6745, 0, 0), ROOT, None, None).unwrap().mode, S_IFREG | 0o2745);
        // Without group execute, only for a caller outside the group.
        let f = file(0o2744, 1000, 3000);
        assert_eq!(chown(f, USER, None, None).unwrap().mode, S_IFREG | 0o744);
        let f = file(0o2744, 1000, 1000);
        assert_eq!(chown(f, USER, None, None).unwrap().mode, S_IFREG | 0o2744);
        // Directories keep theirs.
        let d = Owner { mode: S_IFDIR | 0o6755, uid: 0, gid: 0 };
        assert_eq!(chown(d, ROOT, Some(1), Some(1)).unwrap().mode, S_IFDIR | 0o6755);
    }

    #[test]
    fn chmod_permissions_and_sgid() {
        assert_eq!(chmod(file(0o644, 0, 0), USER, 0o600), Err(EPERM));
        assert_eq!(chmod(file(0o644, 1000, 1000), USER, 0o2755), Ok(S_IFREG | 0o2755));
        assert_eq!(chmod(file(0o644, 1000, 3000), USER, 0o2755), Ok(S_IFREG | 0o755));
        assert_eq!(chmod(file(0o644, 1000, 3000), ROOT, 0o172755), Ok(S_IFREG | 0o2755));
    }

    #[test]
    fn truncate_and_write_permission() {
        assert_eq!(truncate_mode(file(0o6755, 1000, 1000), USER), S_IFREG | 0o755);
        assert_eq!(truncate_mode(file(0o6755, 1000, 1000), ROOT), S_IFREG | 0o6755);
        assert_eq!(truncate_mode(file(0o2745, 1000, 1000), USER), S_IFREG | 0o2745);
        assert!(may_write(file(0o600, 1000, 0), USER));
        assert!(!may_write(file(0o466, 1000, 0), USER));
        assert!(may_write(file(0o460, 0, 1000), USER));
        assert!(may_write(file(0o004, 0, 0), ROOT));
        assert!(!may_write(file(0o664, 0, 0), USER));
    }
}
