//! `wait4`/`waitid` options and `waitid` id types (`include/uapi/linux/wait.h`).

crate::constants! {
    /// Return at once if no child has changed state.
    WNOHANG: u32 = 0x0000_0001;
    /// Also report stopped children (`wait4`).
    WUNTRACED: u32 = 0x0000_0002;
    /// Report stopped children (`waitid`; `WUNTRACED`'s value).
    WSTOPPED: u32 = 0x0000_0002;
    /// Report children that exited (`waitid`).
    WEXITED: u32 = 0x0000_0004;
    /// Report stopped children that continued.
    WCONTINUED: u32 = 0x0000_0008;
    /// Leave the child waitable (`waitid`).
    WNOWAIT: u32 = 0x0100_0000;
    /// Wait only for children of the calling thread.
    __WNOTHREAD: u32 = 0x2000_0000;
    /// Wait for every child, whatever its exit signal.
    __WALL: u32 = 0x4000_0000;
    /// Wait only for "clone" children (exit signal other than SIGCHLD).
    __WCLONE: u32 = 0x8000_0000;

    /// `waitid`: any child.
    P_ALL: u32 = 0;
    /// `waitid`: the child with this pid.
    P_PID: u32 = 1;
    /// `waitid`: any child in this process group.
    P_PGID: u32 = 2;
    /// `waitid`: the child this pidfd refers to.
    P_PIDFD: u32 = 3;
}
