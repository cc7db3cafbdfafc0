//! PID and UTS namespaces: the `namespaces` program (userspace/src/bin) runs as
//! pid 1 in the guest and must print exactly the transcript below, which is
//! what Linux prints. On a host that can create PID and UTS namespaces (root,
//! as `ci/setup.sh` machines are; checked with util-linux `unshare`), the same
//! binary runs on the host too and must print the same; elsewhere the
//! transcript alone is the reference, so the comparison stays honest.

mod common;

use std::process::{Command, Stdio};

use vmm::programs::path;
use vmm::Vmm;

/// What `namespaces` prints on Linux 6.x as root (every check passes).
const TRANSCRIPT: &str = "\
ok clone(CLONE_NEWPID) returns the child's pid in the caller's namespace
ok CLONE_PARENT_SETTID writes the pid the parent sees
ok CLONE_CHILD_SETTID does not touch the parent's word
ok CLONE_NEWPID: the child's getpid is 1
ok CLONE_NEWPID: the child's gettid is 1
ok CLONE_NEWPID: the init's getppid is 0 (its parent is outside)
ok CLONE_NEWPID: CLONE_CHILD_SETTID writes 1, the child's own view
ok CLONE_NEWPID: getpgid and getsid of an outside group read 0
ok in the namespace: the init's first child is pid 2 with parent 1, reaped as 2
ok in the namespace: waitid's si_pid is the namespace's number (3)
ok the init ignores SIGKILL and SIGTERM sent from its own namespace
ok in the namespace: setsid returns 1 and getpgid/getsid read 1
ok in the namespace: freed pids are not reused at once (4 then 5)
ok the init of a namespace: clone(CLONE_PARENT) EINVAL
ok a nested namespace: its init is 1 there, 6 one level up, parent 0
ok the nested namespace's init is gone after it is reaped
ok the parent reaps the namespace's init: si_pid as the parent sees it, status 0
ok clone3(CLONE_NEWPID|CLONE_NEWUTS): pid 1 and parent 0 in the child
ok orphans: the init's child (2) made a grandchild (3) and exited
ok orphans: the init reaps the orphan with wait4(-1)
ok orphans: the orphan's parent was 2
ok orphans: the orphan's parent becomes the namespace's init (1)
ok the init's exit status reaches its parent (7: it saw all 6 processes start)
ok when the init is reaped, every process of its namespace (nested ones too) is gone
ok SIGTERM from the parent namespace is ignored by an init without a handler
ok SIGKILL from the parent namespace kills the init
ok unshare(CLONE_NEWPID) as root
ok unshare(CLONE_NEWPID) leaves the caller's own pid and parent
ok a second unshare(CLONE_NEWPID) before the first child EINVAL
ok clone(CLONE_NEWPID) after unshare(CLONE_NEWPID) EINVAL
ok a thread after unshare(CLONE_NEWPID) EINVAL
ok the next child is pid 1 of the new namespace, parent 0
ok the child after it is pid 2 there, parent 0
ok the init's end kills the other process, which its parent outside reaps first
ok then the init is reaped with its exit status
ok fork into the namespace whose init has exited ENOMEM
ok not root: clone(CLONE_NEWPID) EPERM
ok not root: clone(CLONE_NEWUTS) EPERM
ok not root: unshare(CLONE_NEWPID) EPERM
ok not root: unshare(CLONE_NEWUTS) EPERM
ok not root: sethostname EPERM
ok not root: sethostname of 65 bytes EPERM (privilege is checked first)
ok not root: setdomainname EPERM
ok not root: the names are unchanged
ok CLONE_NEWUTS: the child starts with the parent's host name
ok CLONE_NEWUTS: sethostname in the child
ok CLONE_NEWUTS: uname shows the new host name
ok CLONE_NEWUTS: setdomainname, and uname shows it
ok CLONE_NEWUTS: a forked grandchild shares the namespace
ok sethostname of 64 bytes (the most) works, uname shows them
ok sethostname of 65 bytes EINVAL
ok sethostname of length -1 EINVAL
ok sethostname from address 0x10 EFAULT
ok failed calls leave the name as it was
ok sethostname of 0 bytes makes the name empty
ok not root in its own UTS namespace: sethostname EPERM
ok the system name stays Linux
ok the parent's names are unchanged by the child's namespace
ok unshare(CLONE_NEWUTS) as root
ok after unshare(CLONE_NEWUTS) sethostname is private
ok the parent's host name is unchanged by unshare
ok unshare of what is not shared (threads, handlers, memory, fds, fs) succeeds
ok unshare of an unknown flag (bit 0) EINVAL
ok CLONE_FS: the child's umask is the parent's
ok CLONE_FS then unshare(CLONE_FS): the child's umask is its own
ok CLONE_FILES: the child's close closes the parent's fd
ok CLONE_FILES then unshare(CLONE_FILES): the child's close is its own
ok unshare(CLONE_SIGHAND) of handlers shared with another process EINVAL
ok no child left at the end
";

/// Whether this host lets us create PID and UTS namespaces.
fn host_has_namespaces() -> bool {
    Command::new("unshare")
        .args(["--pid", "--uts", "--fork", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_transcript_is_what_linux_prints() {
    if !host_has_namespaces() {
        eprintln!("this host cannot create PID/UTS namespaces: the transcript is the reference");
        return;
    }
    let o =
        common::host_command(path("namespaces")).stdin(Stdio::null()).output().expect("host run");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out == TRANSCRIPT, "Linux differs at {}", common::first_difference(TRANSCRIPT, &out));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn pid_and_uts_namespaces_in_the_guest_match_linux() {
    for vcpus in [1, 2] {
        let r = Vmm::builder()
            .vcpus(vcpus)
            .memory_mib(256)
            .cmdline("quiet")
            .program(path("namespaces"), &[] as &[&str])
            .boot()
            .expect("boot")
            .wait(Some(common::TIMEOUT))
            .expect("wait");
        let what = format!("namespaces on {vcpus} vCPUs");
        let linux = common::Linux { status: 0, stdout: TRANSCRIPT, stderr: Some("") };
        common::assert_matches_linux(&what, &r, linux);
        assert_eq!(r.stderr, "");
        // Nothing of the namespaces is left: every pid still allocated belongs
        // to a task (the kernel's threads), and every process counted on some
        // CPU is one of them (Linux `nr_processes`).
        let g = r.counters.global;
        assert_eq!(g.pids_in_use, g.nr_threads, "{vcpus} vCPUs: pids outlive their tasks");
        let nr_processes = r.counters.cpu.iter().fold(0u64, |a, c| a.wrapping_add(c.process_count));
        assert_eq!(nr_processes, g.nr_threads, "{vcpus} vCPUs: per-CPU process counts");
        assert!(g.clones_fork > 20, "{}", g.clones_fork);
    }
}
