//! Every value that the host's C library (the `libc` crate, from glibc's and
//! Linux's headers) also defines must be the same here: a wrong value in
//! `uapi` fails here naming the constant. Left out: what libc lacks or defines
//! otherwise on purpose — glibc's `O_LARGEFILE` is 0 on 64-bit, its `SIGRTMIN`
//! is a function (glibc reserves two signals), libc's `CLONE_CLEAR_SIGHAND`
//! and `CLONE_INTO_CGROUP` overflow its `c_int`, its `FUTEX_CMD_MASK` also
//! clears bits 0x600 — and the newest system calls
//! (`tests/host_headers.rs` checks those against the host's Linux headers).

#![allow(deprecated)] // libc marks RLIM_NLIMITS "not stable across OS versions"

/// The same value, or the same 32 bits where one side is C's `int` and the
/// other `unsigned int` (`__WCLONE`, `FUTEX_CMD_MASK`).
fn same_value(ours: i128, theirs: i128) -> bool {
    let fits_32 = |v: i128| v >> 32 == 0 || v >> 32 == -1;
    ours == theirs || fits_32(ours) && fits_32(theirs) && ours as u32 == theirs as u32
}

macro_rules! same {
    ($module:ident: $($name:ident)*) => {
        $(
            assert!(
                same_value(uapi::$module::$name as i128, libc::$name as i128),
                "uapi::{}::{} is {:#x}, libc's {:#x}",
                stringify!($module),
                stringify!($name),
                uapi::$module::$name as i128,
                libc::$name as i128,
            );
        )*
    };
}

#[test]
fn fcntl() {
    same!(fcntl: O_ACCMODE O_RDONLY O_WRONLY O_RDWR O_CREAT O_EXCL O_NOCTTY O_TRUNC O_APPEND O_NONBLOCK O_DSYNC O_DIRECT O_DIRECTORY O_NOFOLLOW O_NOATIME O_CLOEXEC O_SYNC O_PATH O_TMPFILE AT_FDCWD AT_SYMLINK_NOFOLLOW AT_EACCESS AT_REMOVEDIR AT_SYMLINK_FOLLOW AT_NO_AUTOMOUNT AT_EMPTY_PATH F_DUPFD F_GETFD F_SETFD F_GETFL F_SETFL F_DUPFD_CLOEXEC FD_CLOEXEC);
}

#[test]
fn fs() {
    same!(fs: SEEK_SET SEEK_CUR SEEK_END SEEK_DATA SEEK_HOLE RENAME_NOREPLACE RENAME_EXCHANGE RENAME_WHITEOUT);
}

#[test]
fn stat() {
    same!(stat: S_IFMT S_IFSOCK S_IFLNK S_IFREG S_IFBLK S_IFDIR S_IFCHR S_IFIFO S_ISUID S_ISGID S_ISVTX S_IRWXU S_IRUSR S_IWUSR S_IXUSR S_IRWXG S_IRGRP S_IWGRP S_IXGRP S_IRWXO S_IROTH S_IWOTH S_IXOTH);
}

#[test]
fn dirent() {
    same!(dirent: DT_UNKNOWN DT_FIFO DT_CHR DT_DIR DT_BLK DT_REG DT_LNK DT_SOCK);
}

#[test]
fn mman() {
    same!(mman: PROT_NONE PROT_READ PROT_WRITE PROT_EXEC PROT_GROWSDOWN PROT_GROWSUP MAP_SHARED MAP_PRIVATE MAP_SHARED_VALIDATE MAP_TYPE MAP_FIXED MAP_ANONYMOUS MAP_GROWSDOWN MAP_DENYWRITE MAP_EXECUTABLE MAP_LOCKED MAP_NORESERVE MAP_POPULATE MAP_NONBLOCK MAP_STACK MAP_HUGETLB MAP_FIXED_NOREPLACE);
}

#[test]
fn time() {
    same!(time: CLOCK_REALTIME CLOCK_MONOTONIC CLOCK_PROCESS_CPUTIME_ID CLOCK_THREAD_CPUTIME_ID CLOCK_MONOTONIC_RAW CLOCK_REALTIME_COARSE CLOCK_MONOTONIC_COARSE CLOCK_BOOTTIME CLOCK_REALTIME_ALARM CLOCK_BOOTTIME_ALARM CLOCK_TAI TIMER_ABSTIME);
}

#[test]
fn random() {
    same!(random: GRND_NONBLOCK GRND_RANDOM GRND_INSECURE);
}

#[test]
fn termios() {
    same!(termios: TCGETS TCSETS TIOCGWINSZ TIOCSWINSZ FIONREAD);
}

#[test]
fn resource() {
    same!(resource: RLIMIT_CPU RLIMIT_FSIZE RLIMIT_DATA RLIMIT_STACK RLIMIT_CORE RLIMIT_RSS RLIMIT_NPROC RLIMIT_NOFILE RLIMIT_MEMLOCK RLIMIT_AS RLIMIT_LOCKS RLIMIT_SIGPENDING RLIMIT_MSGQUEUE RLIMIT_NICE RLIMIT_RTPRIO RLIMIT_RTTIME RLIM_NLIMITS RLIM_INFINITY PRIO_PROCESS PRIO_PGRP PRIO_USER);
}

#[test]
fn futex() {
    same!(futex: FUTEX_WAIT FUTEX_WAKE FUTEX_REQUEUE FUTEX_CMP_REQUEUE FUTEX_WAIT_BITSET FUTEX_WAKE_BITSET FUTEX_PRIVATE_FLAG FUTEX_CLOCK_REALTIME FUTEX_BITSET_MATCH_ANY);
}

#[test]
fn prctl() {
    same!(prctl: PR_SET_PDEATHSIG PR_GET_PDEATHSIG PR_GET_DUMPABLE PR_SET_DUMPABLE PR_SET_NAME PR_GET_NAME PR_SET_CHILD_SUBREAPER PR_GET_CHILD_SUBREAPER PR_SET_NO_NEW_PRIVS PR_GET_NO_NEW_PRIVS);
}

#[test]
fn signal() {
    same!(signal: SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGIOT SIGBUS SIGFPE SIGKILL SIGUSR1 SIGSEGV SIGUSR2 SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP SIGTTIN SIGTTOU SIGURG SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPOLL SIGPWR SIGSYS SIG_DFL SIG_IGN SA_NOCLDSTOP SA_NOCLDWAIT SA_SIGINFO SA_ONSTACK SA_RESTART SA_NODEFER SA_RESETHAND SIG_BLOCK SIG_UNBLOCK SIG_SETMASK SS_ONSTACK SS_DISABLE MINSIGSTKSZ SIGSTKSZ SI_USER SI_KERNEL SI_QUEUE SI_TKILL CLD_EXITED CLD_KILLED CLD_DUMPED CLD_TRAPPED CLD_STOPPED CLD_CONTINUED);
}

#[test]
fn wait() {
    same!(wait: WNOHANG WUNTRACED WSTOPPED WEXITED WCONTINUED WNOWAIT __WNOTHREAD __WALL __WCLONE P_ALL P_PID P_PGID P_PIDFD);
}

#[test]
fn sched() {
    same!(sched: CSIGNAL SCHED_NORMAL SCHED_FIFO SCHED_RR SCHED_BATCH SCHED_IDLE SCHED_DEADLINE SCHED_RESET_ON_FORK);
}

#[test]
fn limits() {
    same!(limits: NAME_MAX PATH_MAX PIPE_BUF);
}

#[test]
fn poll() {
    same!(poll: POLLIN POLLPRI POLLOUT POLLERR POLLHUP POLLNVAL POLLRDNORM POLLRDBAND POLLWRNORM POLLWRBAND);
}

#[test]
fn uio() {
    same!(uio: UIO_MAXIOV);
}

#[test]
fn auxvec() {
    same!(auxvec: AT_NULL AT_IGNORE AT_EXECFD AT_PHDR AT_PHENT AT_PHNUM AT_PAGESZ AT_BASE AT_FLAGS AT_ENTRY AT_NOTELF AT_UID AT_EUID AT_GID AT_EGID AT_PLATFORM AT_HWCAP AT_CLKTCK AT_SECURE AT_BASE_PLATFORM AT_RANDOM AT_HWCAP2 AT_EXECFN AT_SYSINFO_EHDR AT_MINSIGSTKSZ);
}

#[test]
fn elf() {
    same!(elf: ET_NONE ET_REL ET_EXEC ET_DYN ET_CORE EM_X86_64 EM_AARCH64 PT_LOAD PT_DYNAMIC PT_INTERP PT_PHDR PT_TLS PT_GNU_STACK PF_X PF_W PF_R);
}

#[test]
fn errno() {
    macro_rules! errno { ($($name:ident)*) => { $(assert_eq!(uapi::errno::$name.0, libc::$name, stringify!($name));)* }; }
    errno!(EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP ENOMSG EIDRM ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC EBADSLT EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON  EWOULDBLOCK EDEADLOCK);
}

#[test]
fn unistd() {
    use uapi::unistd::*;
    assert_eq!(__NR_read as i64, libc::SYS_read, "__NR_read");
    assert_eq!(__NR_write as i64, libc::SYS_write, "__NR_write");
    assert_eq!(__NR_open as i64, libc::SYS_open, "__NR_open");
    assert_eq!(__NR_close as i64, libc::SYS_close, "__NR_close");
    assert_eq!(__NR_stat as i64, libc::SYS_stat, "__NR_stat");
    assert_eq!(__NR_fstat as i64, libc::SYS_fstat, "__NR_fstat");
    assert_eq!(__NR_lstat as i64, libc::SYS_lstat, "__NR_lstat");
    assert_eq!(__NR_poll as i64, libc::SYS_poll, "__NR_poll");
    assert_eq!(__NR_lseek as i64, libc::SYS_lseek, "__NR_lseek");
    assert_eq!(__NR_mmap as i64, libc::SYS_mmap, "__NR_mmap");
    assert_eq!(__NR_mprotect as i64, libc::SYS_mprotect, "__NR_mprotect");
    assert_eq!(__NR_munmap as i64, libc::SYS_munmap, "__NR_munmap");
    assert_eq!(__NR_brk as i64, libc::SYS_brk, "__NR_brk");
    assert_eq!(__NR_rt_sigaction as i64, libc::SYS_rt_sigaction, "__NR_rt_sigaction");
    assert_eq!(__NR_rt_sigprocmask as i64, libc::SYS_rt_sigprocmask, "__NR_rt_sigprocmask");
    assert_eq!(__NR_rt_sigreturn as i64, libc::SYS_rt_sigreturn, "__NR_rt_sigreturn");
    assert_eq!(__NR_ioctl as i64, libc::SYS_ioctl, "__NR_ioctl");
    assert_eq!(__NR_pread64 as i64, libc::SYS_pread64, "__NR_pread64");
    assert_eq!(__NR_pwrite64 as i64, libc::SYS_pwrite64, "__NR_pwrite64");
    assert_eq!(__NR_readv as i64, libc::SYS_readv, "__NR_readv");
    assert_eq!(__NR_writev as i64, libc::SYS_writev, "__NR_writev");
    assert_eq!(__NR_access as i64, libc::SYS_access, "__NR_access");
    assert_eq!(__NR_pipe as i64, libc::SYS_pipe, "__NR_pipe");
    assert_eq!(__NR_select as i64, libc::SYS_select, "__NR_select");
    assert_eq!(__NR_sched_yield as i64, libc::SYS_sched_yield, "__NR_sched_yield");
    assert_eq!(__NR_mremap as i64, libc::SYS_mremap, "__NR_mremap");
    assert_eq!(__NR_msync as i64, libc::SYS_msync, "__NR_msync");
    assert_eq!(__NR_mincore as i64, libc::SYS_mincore, "__NR_mincore");
    assert_eq!(__NR_madvise as i64, libc::SYS_madvise, "__NR_madvise");
    assert_eq!(__NR_shmget as i64, libc::SYS_shmget, "__NR_shmget");
    assert_eq!(__NR_shmat as i64, libc::SYS_shmat, "__NR_shmat");
    assert_eq!(__NR_shmctl as i64, libc::SYS_shmctl, "__NR_shmctl");
    assert_eq!(__NR_dup as i64, libc::SYS_dup, "__NR_dup");
    assert_eq!(__NR_dup2 as i64, libc::SYS_dup2, "__NR_dup2");
    assert_eq!(__NR_pause as i64, libc::SYS_pause, "__NR_pause");
    assert_eq!(__NR_nanosleep as i64, libc::SYS_nanosleep, "__NR_nanosleep");
    assert_eq!(__NR_getitimer as i64, libc::SYS_getitimer, "__NR_getitimer");
    assert_eq!(__NR_alarm as i64, libc::SYS_alarm, "__NR_alarm");
    assert_eq!(__NR_setitimer as i64, libc::SYS_setitimer, "__NR_setitimer");
    assert_eq!(__NR_getpid as i64, libc::SYS_getpid, "__NR_getpid");
    assert_eq!(__NR_sendfile as i64, libc::SYS_sendfile, "__NR_sendfile");
    assert_eq!(__NR_socket as i64, libc::SYS_socket, "__NR_socket");
    assert_eq!(__NR_connect as i64, libc::SYS_connect, "__NR_connect");
    assert_eq!(__NR_accept as i64, libc::SYS_accept, "__NR_accept");
    assert_eq!(__NR_sendto as i64, libc::SYS_sendto, "__NR_sendto");
    assert_eq!(__NR_recvfrom as i64, libc::SYS_recvfrom, "__NR_recvfrom");
    assert_eq!(__NR_sendmsg as i64, libc::SYS_sendmsg, "__NR_sendmsg");
    assert_eq!(__NR_recvmsg as i64, libc::SYS_recvmsg, "__NR_recvmsg");
    assert_eq!(__NR_shutdown as i64, libc::SYS_shutdown, "__NR_shutdown");
    assert_eq!(__NR_bind as i64, libc::SYS_bind, "__NR_bind");
    assert_eq!(__NR_listen as i64, libc::SYS_listen, "__NR_listen");
    assert_eq!(__NR_getsockname as i64, libc::SYS_getsockname, "__NR_getsockname");
    assert_eq!(__NR_getpeername as i64, libc::SYS_getpeername, "__NR_getpeername");
    assert_eq!(__NR_socketpair as i64, libc::SYS_socketpair, "__NR_socketpair");
    assert_eq!(__NR_setsockopt as i64, libc::SYS_setsockopt, "__NR_setsockopt");
    assert_eq!(__NR_getsockopt as i64, libc::SYS_getsockopt, "__NR_getsockopt");
    assert_eq!(__NR_clone as i64, libc::SYS_clone, "__NR_clone");
    assert_eq!(__NR_fork as i64, libc::SYS_fork, "__NR_fork");
    assert_eq!(__NR_vfork as i64, libc::SYS_vfork, "__NR_vfork");
    assert_eq!(__NR_execve as i64, libc::SYS_execve, "__NR_execve");
    assert_eq!(__NR_exit as i64, libc::SYS_exit, "__NR_exit");
    assert_eq!(__NR_wait4 as i64, libc::SYS_wait4, "__NR_wait4");
    assert_eq!(__NR_kill as i64, libc::SYS_kill, "__NR_kill");
    assert_eq!(__NR_uname as i64, libc::SYS_uname, "__NR_uname");
    assert_eq!(__NR_semget as i64, libc::SYS_semget, "__NR_semget");
    assert_eq!(__NR_semop as i64, libc::SYS_semop, "__NR_semop");
    assert_eq!(__NR_semctl as i64, libc::SYS_semctl, "__NR_semctl");
    assert_eq!(__NR_shmdt as i64, libc::SYS_shmdt, "__NR_shmdt");
    assert_eq!(__NR_msgget as i64, libc::SYS_msgget, "__NR_msgget");
    assert_eq!(__NR_msgsnd as i64, libc::SYS_msgsnd, "__NR_msgsnd");
    assert_eq!(__NR_msgrcv as i64, libc::SYS_msgrcv, "__NR_msgrcv");
    assert_eq!(__NR_msgctl as i64, libc::SYS_msgctl, "__NR_msgctl");
    assert_eq!(__NR_fcntl as i64, libc::SYS_fcntl, "__NR_fcntl");
    assert_eq!(__NR_flock as i64, libc::SYS_flock, "__NR_flock");
    assert_eq!(__NR_fsync as i64, libc::SYS_fsync, "__NR_fsync");
    assert_eq!(__NR_fdatasync as i64, libc::SYS_fdatasync, "__NR_fdatasync");
    assert_eq!(__NR_truncate as i64, libc::SYS_truncate, "__NR_truncate");
    assert_eq!(__NR_ftruncate as i64, libc::SYS_ftruncate, "__NR_ftruncate");
    assert_eq!(__NR_getdents as i64, libc::SYS_getdents, "__NR_getdents");
    assert_eq!(__NR_getcwd as i64, libc::SYS_getcwd, "__NR_getcwd");
    assert_eq!(__NR_chdir as i64, libc::SYS_chdir, "__NR_chdir");
    assert_eq!(__NR_fchdir as i64, libc::SYS_fchdir, "__NR_fchdir");
    assert_eq!(__NR_rename as i64, libc::SYS_rename, "__NR_rename");
    assert_eq!(__NR_mkdir as i64, libc::SYS_mkdir, "__NR_mkdir");
    assert_eq!(__NR_rmdir as i64, libc::SYS_rmdir, "__NR_rmdir");
    assert_eq!(__NR_creat as i64, libc::SYS_creat, "__NR_creat");
    assert_eq!(__NR_link as i64, libc::SYS_link, "__NR_link");
    assert_eq!(__NR_unlink as i64, libc::SYS_unlink, "__NR_unlink");
    assert_eq!(__NR_symlink as i64, libc::SYS_symlink, "__NR_symlink");
    assert_eq!(__NR_readlink as i64, libc::SYS_readlink, "__NR_readlink");
    assert_eq!(__NR_chmod as i64, libc::SYS_chmod, "__NR_chmod");
    assert_eq!(__NR_fchmod as i64, libc::SYS_fchmod, "__NR_fchmod");
    assert_eq!(__NR_chown as i64, libc::SYS_chown, "__NR_chown");
    assert_eq!(__NR_fchown as i64, libc::SYS_fchown, "__NR_fchown");
    assert_eq!(__NR_lchown as i64, libc::SYS_lchown, "__NR_lchown");
    assert_eq!(__NR_umask as i64, libc::SYS_umask, "__NR_umask");
    assert_eq!(__NR_gettimeofday as i64, libc::SYS_gettimeofday, "__NR_gettimeofday");
    assert_eq!(__NR_getrlimit as i64, libc::SYS_getrlimit, "__NR_getrlimit");
    assert_eq!(__NR_getrusage as i64, libc::SYS_getrusage, "__NR_getrusage");
    assert_eq!(__NR_sysinfo as i64, libc::SYS_sysinfo, "__NR_sysinfo");
    assert_eq!(__NR_times as i64, libc::SYS_times, "__NR_times");
    assert_eq!(__NR_ptrace as i64, libc::SYS_ptrace, "__NR_ptrace");
    assert_eq!(__NR_getuid as i64, libc::SYS_getuid, "__NR_getuid");
    assert_eq!(__NR_syslog as i64, libc::SYS_syslog, "__NR_syslog");
    assert_eq!(__NR_getgid as i64, libc::SYS_getgid, "__NR_getgid");
    assert_eq!(__NR_setuid as i64, libc::SYS_setuid, "__NR_setuid");
    assert_eq!(__NR_setgid as i64, libc::SYS_setgid, "__NR_setgid");
    assert_eq!(__NR_geteuid as i64, libc::SYS_geteuid, "__NR_geteuid");
    assert_eq!(__NR_getegid as i64, libc::SYS_getegid, "__NR_getegid");
    assert_eq!(__NR_setpgid as i64, libc::SYS_setpgid, "__NR_setpgid");
    assert_eq!(__NR_getppid as i64, libc::SYS_getppid, "__NR_getppid");
    assert_eq!(__NR_getpgrp as i64, libc::SYS_getpgrp, "__NR_getpgrp");
    assert_eq!(__NR_setsid as i64, libc::SYS_setsid, "__NR_setsid");
    assert_eq!(__NR_setreuid as i64, libc::SYS_setreuid, "__NR_setreuid");
    assert_eq!(__NR_setregid as i64, libc::SYS_setregid, "__NR_setregid");
    assert_eq!(__NR_getgroups as i64, libc::SYS_getgroups, "__NR_getgroups");
    assert_eq!(__NR_setgroups as i64, libc::SYS_setgroups, "__NR_setgroups");
    assert_eq!(__NR_setresuid as i64, libc::SYS_setresuid, "__NR_setresuid");
    assert_eq!(__NR_getresuid as i64, libc::SYS_getresuid, "__NR_getresuid");
    assert_eq!(__NR_setresgid as i64, libc::SYS_setresgid, "__NR_setresgid");
    assert_eq!(__NR_getresgid as i64, libc::SYS_getresgid, "__NR_getresgid");
    assert_eq!(__NR_getpgid as i64, libc::SYS_getpgid, "__NR_getpgid");
    assert_eq!(__NR_setfsuid as i64, libc::SYS_setfsuid, "__NR_setfsuid");
    assert_eq!(__NR_setfsgid as i64, libc::SYS_setfsgid, "__NR_setfsgid");
    assert_eq!(__NR_getsid as i64, libc::SYS_getsid, "__NR_getsid");
    assert_eq!(__NR_capget as i64, libc::SYS_capget, "__NR_capget");
    assert_eq!(__NR_capset as i64, libc::SYS_capset, "__NR_capset");
    assert_eq!(__NR_rt_sigpending as i64, libc::SYS_rt_sigpending, "__NR_rt_sigpending");
    assert_eq!(__NR_rt_sigtimedwait as i64, libc::SYS_rt_sigtimedwait, "__NR_rt_sigtimedwait");
    assert_eq!(__NR_rt_sigqueueinfo as i64, libc::SYS_rt_sigqueueinfo, "__NR_rt_sigqueueinfo");
    assert_eq!(__NR_rt_sigsuspend as i64, libc::SYS_rt_sigsuspend, "__NR_rt_sigsuspend");
    assert_eq!(__NR_sigaltstack as i64, libc::SYS_sigaltstack, "__NR_sigaltstack");
    assert_eq!(__NR_utime as i64, libc::SYS_utime, "__NR_utime");
    assert_eq!(__NR_mknod as i64, libc::SYS_mknod, "__NR_mknod");
    assert_eq!(__NR_uselib as i64, libc::SYS_uselib, "__NR_uselib");
    assert_eq!(__NR_personality as i64, libc::SYS_personality, "__NR_personality");
    assert_eq!(__NR_ustat as i64, libc::SYS_ustat, "__NR_ustat");
    assert_eq!(__NR_statfs as i64, libc::SYS_statfs, "__NR_statfs");
    assert_eq!(__NR_fstatfs as i64, libc::SYS_fstatfs, "__NR_fstatfs");
    assert_eq!(__NR_sysfs as i64, libc::SYS_sysfs, "__NR_sysfs");
    assert_eq!(__NR_getpriority as i64, libc::SYS_getpriority, "__NR_getpriority");
    assert_eq!(__NR_setpriority as i64, libc::SYS_setpriority, "__NR_setpriority");
    assert_eq!(__NR_sched_setparam as i64, libc::SYS_sched_setparam, "__NR_sched_setparam");
    assert_eq!(__NR_sched_getparam as i64, libc::SYS_sched_getparam, "__NR_sched_getparam");
    assert_eq!(
        __NR_sched_setscheduler as i64,
        libc::SYS_sched_setscheduler,
        "__NR_sched_setscheduler"
    );
    assert_eq!(
        __NR_sched_getscheduler as i64,
        libc::SYS_sched_getscheduler,
        "__NR_sched_getscheduler"
    );
    assert_eq!(
        __NR_sched_get_priority_max as i64,
        libc::SYS_sched_get_priority_max,
        "__NR_sched_get_priority_max"
    );
    assert_eq!(
        __NR_sched_get_priority_min as i64,
        libc::SYS_sched_get_priority_min,
        "__NR_sched_get_priority_min"
    );
    assert_eq!(
        __NR_sched_rr_get_interval as i64,
        libc::SYS_sched_rr_get_interval,
        "__NR_sched_rr_get_interval"
    );
    assert_eq!(__NR_mlock as i64, libc::SYS_mlock, "__NR_mlock");
    assert_eq!(__NR_munlock as i64, libc::SYS_munlock, "__NR_munlock");
    assert_eq!(__NR_mlockall as i64, libc::SYS_mlockall, "__NR_mlockall");
    assert_eq!(__NR_munlockall as i64, libc::SYS_munlockall, "__NR_munlockall");
    assert_eq!(__NR_vhangup as i64, libc::SYS_vhangup, "__NR_vhangup");
    assert_eq!(__NR_modify_ldt as i64, libc::SYS_modify_ldt, "__NR_modify_ldt");
    assert_eq!(__NR_pivot_root as i64, libc::SYS_pivot_root, "__NR_pivot_root");
    assert_eq!(__NR__sysctl as i64, libc::SYS__sysctl, "__NR__sysctl");
    assert_eq!(__NR_prctl as i64, libc::SYS_prctl, "__NR_prctl");
    assert_eq!(__NR_arch_prctl as i64, libc::SYS_arch_prctl, "__NR_arch_prctl");
    assert_eq!(__NR_adjtimex as i64, libc::SYS_adjtimex, "__NR_adjtimex");
    assert_eq!(__NR_setrlimit as i64, libc::SYS_setrlimit, "__NR_setrlimit");
    assert_eq!(__NR_chroot as i64, libc::SYS_chroot, "__NR_chroot");
    assert_eq!(__NR_sync as i64, libc::SYS_sync, "__NR_sync");
    assert_eq!(__NR_acct as i64, libc::SYS_acct, "__NR_acct");
    assert_eq!(__NR_settimeofday as i64, libc::SYS_settimeofday, "__NR_settimeofday");
    assert_eq!(__NR_mount as i64, libc::SYS_mount, "__NR_mount");
    assert_eq!(__NR_umount2 as i64, libc::SYS_umount2, "__NR_umount2");
    assert_eq!(__NR_swapon as i64, libc::SYS_swapon, "__NR_swapon");
    assert_eq!(__NR_swapoff as i64, libc::SYS_swapoff, "__NR_swapoff");
    assert_eq!(__NR_reboot as i64, libc::SYS_reboot, "__NR_reboot");
    assert_eq!(__NR_sethostname as i64, libc::SYS_sethostname, "__NR_sethostname");
    assert_eq!(__NR_setdomainname as i64, libc::SYS_setdomainname, "__NR_setdomainname");
    assert_eq!(__NR_iopl as i64, libc::SYS_iopl, "__NR_iopl");
    assert_eq!(__NR_ioperm as i64, libc::SYS_ioperm, "__NR_ioperm");
    assert_eq!(__NR_init_module as i64, libc::SYS_init_module, "__NR_init_module");
    assert_eq!(__NR_delete_module as i64, libc::SYS_delete_module, "__NR_delete_module");
    assert_eq!(__NR_quotactl as i64, libc::SYS_quotactl, "__NR_quotactl");
    assert_eq!(__NR_nfsservctl as i64, libc::SYS_nfsservctl, "__NR_nfsservctl");
    assert_eq!(__NR_getpmsg as i64, libc::SYS_getpmsg, "__NR_getpmsg");
    assert_eq!(__NR_putpmsg as i64, libc::SYS_putpmsg, "__NR_putpmsg");
    assert_eq!(__NR_afs_syscall as i64, libc::SYS_afs_syscall, "__NR_afs_syscall");
    assert_eq!(__NR_tuxcall as i64, libc::SYS_tuxcall, "__NR_tuxcall");
    assert_eq!(__NR_security as i64, libc::SYS_security, "__NR_security");
    assert_eq!(__NR_gettid as i64, libc::SYS_gettid, "__NR_gettid");
    assert_eq!(__NR_readahead as i64, libc::SYS_readahead, "__NR_readahead");
    assert_eq!(__NR_setxattr as i64, libc::SYS_setxattr, "__NR_setxattr");
    assert_eq!(__NR_lsetxattr as i64, libc::SYS_lsetxattr, "__NR_lsetxattr");
    assert_eq!(__NR_fsetxattr as i64, libc::SYS_fsetxattr, "__NR_fsetxattr");
    assert_eq!(__NR_getxattr as i64, libc::SYS_getxattr, "__NR_getxattr");
    assert_eq!(__NR_lgetxattr as i64, libc::SYS_lgetxattr, "__NR_lgetxattr");
    assert_eq!(__NR_fgetxattr as i64, libc::SYS_fgetxattr, "__NR_fgetxattr");
    assert_eq!(__NR_listxattr as i64, libc::SYS_listxattr, "__NR_listxattr");
    assert_eq!(__NR_llistxattr as i64, libc::SYS_llistxattr, "__NR_llistxattr");
    assert_eq!(__NR_flistxattr as i64, libc::SYS_flistxattr, "__NR_flistxattr");
    assert_eq!(__NR_removexattr as i64, libc::SYS_removexattr, "__NR_removexattr");
    assert_eq!(__NR_lremovexattr as i64, libc::SYS_lremovexattr, "__NR_lremovexattr");
    assert_eq!(__NR_fremovexattr as i64, libc::SYS_fremovexattr, "__NR_fremovexattr");
    assert_eq!(__NR_tkill as i64, libc::SYS_tkill, "__NR_tkill");
    assert_eq!(__NR_time as i64, libc::SYS_time, "__NR_time");
    assert_eq!(__NR_futex as i64, libc::SYS_futex, "__NR_futex");
    assert_eq!(
        __NR_sched_setaffinity as i64,
        libc::SYS_sched_setaffinity,
        "__NR_sched_setaffinity"
    );
    assert_eq!(
        __NR_sched_getaffinity as i64,
        libc::SYS_sched_getaffinity,
        "__NR_sched_getaffinity"
    );
    assert_eq!(__NR_set_thread_area as i64, libc::SYS_set_thread_area, "__NR_set_thread_area");
    assert_eq!(__NR_io_setup as i64, libc::SYS_io_setup, "__NR_io_setup");
    assert_eq!(__NR_io_destroy as i64, libc::SYS_io_destroy, "__NR_io_destroy");
    assert_eq!(__NR_io_getevents as i64, libc::SYS_io_getevents, "__NR_io_getevents");
    assert_eq!(__NR_io_submit as i64, libc::SYS_io_submit, "__NR_io_submit");
    assert_eq!(__NR_io_cancel as i64, libc::SYS_io_cancel, "__NR_io_cancel");
    assert_eq!(__NR_get_thread_area as i64, libc::SYS_get_thread_area, "__NR_get_thread_area");
    assert_eq!(__NR_lookup_dcookie as i64, libc::SYS_lookup_dcookie, "__NR_lookup_dcookie");
    assert_eq!(__NR_epoll_create as i64, libc::SYS_epoll_create, "__NR_epoll_create");
    assert_eq!(__NR_epoll_ctl_old as i64, libc::SYS_epoll_ctl_old, "__NR_epoll_ctl_old");
    assert_eq!(__NR_epoll_wait_old as i64, libc::SYS_epoll_wait_old, "__NR_epoll_wait_old");
    assert_eq!(__NR_remap_file_pages as i64, libc::SYS_remap_file_pages, "__NR_remap_file_pages");
    assert_eq!(__NR_getdents64 as i64, libc::SYS_getdents64, "__NR_getdents64");
    assert_eq!(__NR_set_tid_address as i64, libc::SYS_set_tid_address, "__NR_set_tid_address");
    assert_eq!(__NR_restart_syscall as i64, libc::SYS_restart_syscall, "__NR_restart_syscall");
    assert_eq!(__NR_semtimedop as i64, libc::SYS_semtimedop, "__NR_semtimedop");
    assert_eq!(__NR_fadvise64 as i64, libc::SYS_fadvise64, "__NR_fadvise64");
    assert_eq!(__NR_timer_create as i64, libc::SYS_timer_create, "__NR_timer_create");
    assert_eq!(__NR_timer_settime as i64, libc::SYS_timer_settime, "__NR_timer_settime");
    assert_eq!(__NR_timer_gettime as i64, libc::SYS_timer_gettime, "__NR_timer_gettime");
    assert_eq!(__NR_timer_getoverrun as i64, libc::SYS_timer_getoverrun, "__NR_timer_getoverrun");
    assert_eq!(__NR_timer_delete as i64, libc::SYS_timer_delete, "__NR_timer_delete");
    assert_eq!(__NR_clock_settime as i64, libc::SYS_clock_settime, "__NR_clock_settime");
    assert_eq!(__NR_clock_gettime as i64, libc::SYS_clock_gettime, "__NR_clock_gettime");
    assert_eq!(__NR_clock_getres as i64, libc::SYS_clock_getres, "__NR_clock_getres");
    assert_eq!(__NR_clock_nanosleep as i64, libc::SYS_clock_nanosleep, "__NR_clock_nanosleep");
    assert_eq!(__NR_exit_group as i64, libc::SYS_exit_group, "__NR_exit_group");
    assert_eq!(__NR_epoll_wait as i64, libc::SYS_epoll_wait, "__NR_epoll_wait");
    assert_eq!(__NR_epoll_ctl as i64, libc::SYS_epoll_ctl, "__NR_epoll_ctl");
    assert_eq!(__NR_tgkill as i64, libc::SYS_tgkill, "__NR_tgkill");
    assert_eq!(__NR_utimes as i64, libc::SYS_utimes, "__NR_utimes");
    assert_eq!(__NR_vserver as i64, libc::SYS_vserver, "__NR_vserver");
    assert_eq!(__NR_mbind as i64, libc::SYS_mbind, "__NR_mbind");
    assert_eq!(__NR_set_mempolicy as i64, libc::SYS_set_mempolicy, "__NR_set_mempolicy");
    assert_eq!(__NR_get_mempolicy as i64, libc::SYS_get_mempolicy, "__NR_get_mempolicy");
    assert_eq!(__NR_mq_open as i64, libc::SYS_mq_open, "__NR_mq_open");
    assert_eq!(__NR_mq_unlink as i64, libc::SYS_mq_unlink, "__NR_mq_unlink");
    assert_eq!(__NR_mq_timedsend as i64, libc::SYS_mq_timedsend, "__NR_mq_timedsend");
    assert_eq!(__NR_mq_timedreceive as i64, libc::SYS_mq_timedreceive, "__NR_mq_timedreceive");
    assert_eq!(__NR_mq_notify as i64, libc::SYS_mq_notify, "__NR_mq_notify");
    assert_eq!(__NR_mq_getsetattr as i64, libc::SYS_mq_getsetattr, "__NR_mq_getsetattr");
    assert_eq!(__NR_kexec_load as i64, libc::SYS_kexec_load, "__NR_kexec_load");
    assert_eq!(__NR_waitid as i64, libc::SYS_waitid, "__NR_waitid");
    assert_eq!(__NR_add_key as i64, libc::SYS_add_key, "__NR_add_key");
    assert_eq!(__NR_request_key as i64, libc::SYS_request_key, "__NR_request_key");
    assert_eq!(__NR_keyctl as i64, libc::SYS_keyctl, "__NR_keyctl");
    assert_eq!(__NR_ioprio_set as i64, libc::SYS_ioprio_set, "__NR_ioprio_set");
    assert_eq!(__NR_ioprio_get as i64, libc::SYS_ioprio_get, "__NR_ioprio_get");
    assert_eq!(__NR_inotify_init as i64, libc::SYS_inotify_init, "__NR_inotify_init");
    assert_eq!(
        __NR_inotify_add_watch as i64,
        libc::SYS_inotify_add_watch,
        "__NR_inotify_add_watch"
    );
    assert_eq!(__NR_inotify_rm_watch as i64, libc::SYS_inotify_rm_watch, "__NR_inotify_rm_watch");
    assert_eq!(__NR_migrate_pages as i64, libc::SYS_migrate_pages, "__NR_migrate_pages");
    assert_eq!(__NR_openat as i64, libc::SYS_openat, "__NR_openat");
    assert_eq!(__NR_mkdirat as i64, libc::SYS_mkdirat, "__NR_mkdirat");
    assert_eq!(__NR_mknodat as i64, libc::SYS_mknodat, "__NR_mknodat");
    assert_eq!(__NR_fchownat as i64, libc::SYS_fchownat, "__NR_fchownat");
    assert_eq!(__NR_futimesat as i64, libc::SYS_futimesat, "__NR_futimesat");
    assert_eq!(__NR_newfstatat as i64, libc::SYS_newfstatat, "__NR_newfstatat");
    assert_eq!(__NR_unlinkat as i64, libc::SYS_unlinkat, "__NR_unlinkat");
    assert_eq!(__NR_renameat as i64, libc::SYS_renameat, "__NR_renameat");
    assert_eq!(__NR_linkat as i64, libc::SYS_linkat, "__NR_linkat");
    assert_eq!(__NR_symlinkat as i64, libc::SYS_symlinkat, "__NR_symlinkat");
    assert_eq!(__NR_readlinkat as i64, libc::SYS_readlinkat, "__NR_readlinkat");
    assert_eq!(__NR_fchmodat as i64, libc::SYS_fchmodat, "__NR_fchmodat");
    assert_eq!(__NR_faccessat as i64, libc::SYS_faccessat, "__NR_faccessat");
    assert_eq!(__NR_pselect6 as i64, libc::SYS_pselect6, "__NR_pselect6");
    assert_eq!(__NR_ppoll as i64, libc::SYS_ppoll, "__NR_ppoll");
    assert_eq!(__NR_unshare as i64, libc::SYS_unshare, "__NR_unshare");
    assert_eq!(__NR_set_robust_list as i64, libc::SYS_set_robust_list, "__NR_set_robust_list");
    assert_eq!(__NR_get_robust_list as i64, libc::SYS_get_robust_list, "__NR_get_robust_list");
    assert_eq!(__NR_splice as i64, libc::SYS_splice, "__NR_splice");
    assert_eq!(__NR_tee as i64, libc::SYS_tee, "__NR_tee");
    assert_eq!(__NR_sync_file_range as i64, libc::SYS_sync_file_range, "__NR_sync_file_range");
    assert_eq!(__NR_vmsplice as i64, libc::SYS_vmsplice, "__NR_vmsplice");
    assert_eq!(__NR_move_pages as i64, libc::SYS_move_pages, "__NR_move_pages");
    assert_eq!(__NR_utimensat as i64, libc::SYS_utimensat, "__NR_utimensat");
    assert_eq!(__NR_epoll_pwait as i64, libc::SYS_epoll_pwait, "__NR_epoll_pwait");
    assert_eq!(__NR_signalfd as i64, libc::SYS_signalfd, "__NR_signalfd");
    assert_eq!(__NR_timerfd_create as i64, libc::SYS_timerfd_create, "__NR_timerfd_create");
    assert_eq!(__NR_eventfd as i64, libc::SYS_eventfd, "__NR_eventfd");
    assert_eq!(__NR_fallocate as i64, libc::SYS_fallocate, "__NR_fallocate");
    assert_eq!(__NR_timerfd_settime as i64, libc::SYS_timerfd_settime, "__NR_timerfd_settime");
    assert_eq!(__NR_timerfd_gettime as i64, libc::SYS_timerfd_gettime, "__NR_timerfd_gettime");
    assert_eq!(__NR_accept4 as i64, libc::SYS_accept4, "__NR_accept4");
    assert_eq!(__NR_signalfd4 as i64, libc::SYS_signalfd4, "__NR_signalfd4");
    assert_eq!(__NR_eventfd2 as i64, libc::SYS_eventfd2, "__NR_eventfd2");
    assert_eq!(__NR_epoll_create1 as i64, libc::SYS_epoll_create1, "__NR_epoll_create1");
    assert_eq!(__NR_dup3 as i64, libc::SYS_dup3, "__NR_dup3");
    assert_eq!(__NR_pipe2 as i64, libc::SYS_pipe2, "__NR_pipe2");
    assert_eq!(__NR_inotify_init1 as i64, libc::SYS_inotify_init1, "__NR_inotify_init1");
    assert_eq!(__NR_preadv as i64, libc::SYS_preadv, "__NR_preadv");
    assert_eq!(__NR_pwritev as i64, libc::SYS_pwritev, "__NR_pwritev");
    assert_eq!(
        __NR_rt_tgsigqueueinfo as i64,
        libc::SYS_rt_tgsigqueueinfo,
        "__NR_rt_tgsigqueueinfo"
    );
    assert_eq!(__NR_perf_event_open as i64, libc::SYS_perf_event_open, "__NR_perf_event_open");
    assert_eq!(__NR_recvmmsg as i64, libc::SYS_recvmmsg, "__NR_recvmmsg");
    assert_eq!(__NR_fanotify_init as i64, libc::SYS_fanotify_init, "__NR_fanotify_init");
    assert_eq!(__NR_fanotify_mark as i64, libc::SYS_fanotify_mark, "__NR_fanotify_mark");
    assert_eq!(__NR_prlimit64 as i64, libc::SYS_prlimit64, "__NR_prlimit64");
    assert_eq!(
        __NR_name_to_handle_at as i64,
        libc::SYS_name_to_handle_at,
        "__NR_name_to_handle_at"
    );
    assert_eq!(
        __NR_open_by_handle_at as i64,
        libc::SYS_open_by_handle_at,
        "__NR_open_by_handle_at"
    );
    assert_eq!(__NR_clock_adjtime as i64, libc::SYS_clock_adjtime, "__NR_clock_adjtime");
    assert_eq!(__NR_syncfs as i64, libc::SYS_syncfs, "__NR_syncfs");
    assert_eq!(__NR_sendmmsg as i64, libc::SYS_sendmmsg, "__NR_sendmmsg");
    assert_eq!(__NR_setns as i64, libc::SYS_setns, "__NR_setns");
    assert_eq!(__NR_getcpu as i64, libc::SYS_getcpu, "__NR_getcpu");
    assert_eq!(__NR_process_vm_readv as i64, libc::SYS_process_vm_readv, "__NR_process_vm_readv");
    assert_eq!(
        __NR_process_vm_writev as i64,
        libc::SYS_process_vm_writev,
        "__NR_process_vm_writev"
    );
    assert_eq!(__NR_kcmp as i64, libc::SYS_kcmp, "__NR_kcmp");
    assert_eq!(__NR_finit_module as i64, libc::SYS_finit_module, "__NR_finit_module");
    assert_eq!(__NR_sched_setattr as i64, libc::SYS_sched_setattr, "__NR_sched_setattr");
    assert_eq!(__NR_sched_getattr as i64, libc::SYS_sched_getattr, "__NR_sched_getattr");
    assert_eq!(__NR_renameat2 as i64, libc::SYS_renameat2, "__NR_renameat2");
    assert_eq!(__NR_seccomp as i64, libc::SYS_seccomp, "__NR_seccomp");
    assert_eq!(__NR_getrandom as i64, libc::SYS_getrandom, "__NR_getrandom");
    assert_eq!(__NR_memfd_create as i64, libc::SYS_memfd_create, "__NR_memfd_create");
    assert_eq!(__NR_kexec_file_load as i64, libc::SYS_kexec_file_load, "__NR_kexec_file_load");
    assert_eq!(__NR_bpf as i64, libc::SYS_bpf, "__NR_bpf");
    assert_eq!(__NR_execveat as i64, libc::SYS_execveat, "__NR_execveat");
    assert_eq!(__NR_userfaultfd as i64, libc::SYS_userfaultfd, "__NR_userfaultfd");
    assert_eq!(__NR_membarrier as i64, libc::SYS_membarrier, "__NR_membarrier");
    assert_eq!(__NR_mlock2 as i64, libc::SYS_mlock2, "__NR_mlock2");
    assert_eq!(__NR_copy_file_range as i64, libc::SYS_copy_file_range, "__NR_copy_file_range");
    assert_eq!(__NR_preadv2 as i64, libc::SYS_preadv2, "__NR_preadv2");
    assert_eq!(__NR_pwritev2 as i64, libc::SYS_pwritev2, "__NR_pwritev2");
    assert_eq!(__NR_pkey_mprotect as i64, libc::SYS_pkey_mprotect, "__NR_pkey_mprotect");
    assert_eq!(__NR_pkey_alloc as i64, libc::SYS_pkey_alloc, "__NR_pkey_alloc");
    assert_eq!(__NR_pkey_free as i64, libc::SYS_pkey_free, "__NR_pkey_free");
    assert_eq!(__NR_statx as i64, libc::SYS_statx, "__NR_statx");
    assert_eq!(__NR_rseq as i64, libc::SYS_rseq, "__NR_rseq");
    assert_eq!(
        __NR_pidfd_send_signal as i64,
        libc::SYS_pidfd_send_signal,
        "__NR_pidfd_send_signal"
    );
    assert_eq!(__NR_io_uring_setup as i64, libc::SYS_io_uring_setup, "__NR_io_uring_setup");
    assert_eq!(__NR_io_uring_enter as i64, libc::SYS_io_uring_enter, "__NR_io_uring_enter");
    assert_eq!(
        __NR_io_uring_register as i64,
        libc::SYS_io_uring_register,
        "__NR_io_uring_register"
    );
    assert_eq!(__NR_open_tree as i64, libc::SYS_open_tree, "__NR_open_tree");
    assert_eq!(__NR_move_mount as i64, libc::SYS_move_mount, "__NR_move_mount");
    assert_eq!(__NR_fsopen as i64, libc::SYS_fsopen, "__NR_fsopen");
    assert_eq!(__NR_fsconfig as i64, libc::SYS_fsconfig, "__NR_fsconfig");
    assert_eq!(__NR_fsmount as i64, libc::SYS_fsmount, "__NR_fsmount");
    assert_eq!(__NR_fspick as i64, libc::SYS_fspick, "__NR_fspick");
    assert_eq!(__NR_pidfd_open as i64, libc::SYS_pidfd_open, "__NR_pidfd_open");
    assert_eq!(__NR_clone3 as i64, libc::SYS_clone3, "__NR_clone3");
    assert_eq!(__NR_close_range as i64, libc::SYS_close_range, "__NR_close_range");
    assert_eq!(__NR_openat2 as i64, libc::SYS_openat2, "__NR_openat2");
    assert_eq!(__NR_pidfd_getfd as i64, libc::SYS_pidfd_getfd, "__NR_pidfd_getfd");
    assert_eq!(__NR_faccessat2 as i64, libc::SYS_faccessat2, "__NR_faccessat2");
    assert_eq!(__NR_process_madvise as i64, libc::SYS_process_madvise, "__NR_process_madvise");
    assert_eq!(__NR_epoll_pwait2 as i64, libc::SYS_epoll_pwait2, "__NR_epoll_pwait2");
    assert_eq!(__NR_mount_setattr as i64, libc::SYS_mount_setattr, "__NR_mount_setattr");
    assert_eq!(__NR_quotactl_fd as i64, libc::SYS_quotactl_fd, "__NR_quotactl_fd");
    assert_eq!(
        __NR_landlock_create_ruleset as i64,
        libc::SYS_landlock_create_ruleset,
        "__NR_landlock_create_ruleset"
    );
    assert_eq!(
        __NR_landlock_add_rule as i64,
        libc::SYS_landlock_add_rule,
        "__NR_landlock_add_rule"
    );
    assert_eq!(
        __NR_landlock_restrict_self as i64,
        libc::SYS_landlock_restrict_self,
        "__NR_landlock_restrict_self"
    );
    assert_eq!(__NR_memfd_secret as i64, libc::SYS_memfd_secret, "__NR_memfd_secret");
    assert_eq!(__NR_process_mrelease as i64, libc::SYS_process_mrelease, "__NR_process_mrelease");
    assert_eq!(__NR_futex_waitv as i64, libc::SYS_futex_waitv, "__NR_futex_waitv");
    assert_eq!(
        __NR_set_mempolicy_home_node as i64,
        libc::SYS_set_mempolicy_home_node,
        "__NR_set_mempolicy_home_node"
    );
    assert_eq!(__NR_fchmodat2 as i64, libc::SYS_fchmodat2, "__NR_fchmodat2");
    assert_eq!(__NR_mseal as i64, libc::SYS_mseal, "__NR_mseal");
}

#[test]
fn clone_flags() {
    use uapi::sched::CloneFlags;
    assert_eq!(
        CloneFlags::CLONE_NEWTIME.bits(),
        libc::CLONE_NEWTIME as u32 as u64,
        "CLONE_NEWTIME"
    );
    assert_eq!(CloneFlags::CLONE_VM.bits(), libc::CLONE_VM as u32 as u64, "CLONE_VM");
    assert_eq!(CloneFlags::CLONE_FS.bits(), libc::CLONE_FS as u32 as u64, "CLONE_FS");
    assert_eq!(CloneFlags::CLONE_FILES.bits(), libc::CLONE_FILES as u32 as u64, "CLONE_FILES");
    assert_eq!(
        CloneFlags::CLONE_SIGHAND.bits(),
        libc::CLONE_SIGHAND as u32 as u64,
        "CLONE_SIGHAND"
    );
    assert_eq!(CloneFlags::CLONE_PIDFD.bits(), libc::CLONE_PIDFD as u32 as u64, "CLONE_PIDFD");
    assert_eq!(CloneFlags::CLONE_PTRACE.bits(), libc::CLONE_PTRACE as u32 as u64, "CLONE_PTRACE");
    assert_eq!(CloneFlags::CLONE_VFORK.bits(), libc::CLONE_VFORK as u32 as u64, "CLONE_VFORK");
    assert_eq!(CloneFlags::CLONE_PARENT.bits(), libc::CLONE_PARENT as u32 as u64, "CLONE_PARENT");
    assert_eq!(CloneFlags::CLONE_THREAD.bits(), libc::CLONE_THREAD as u32 as u64, "CLONE_THREAD");
    assert_eq!(CloneFlags::CLONE_NEWNS.bits(), libc::CLONE_NEWNS as u32 as u64, "CLONE_NEWNS");
    assert_eq!(
        CloneFlags::CLONE_SYSVSEM.bits(),
        libc::CLONE_SYSVSEM as u32 as u64,
        "CLONE_SYSVSEM"
    );
    assert_eq!(CloneFlags::CLONE_SETTLS.bits(), libc::CLONE_SETTLS as u32 as u64, "CLONE_SETTLS");
    assert_eq!(
        CloneFlags::CLONE_PARENT_SETTID.bits(),
        libc::CLONE_PARENT_SETTID as u32 as u64,
        "CLONE_PARENT_SETTID"
    );
    assert_eq!(
        CloneFlags::CLONE_CHILD_CLEARTID.bits(),
        libc::CLONE_CHILD_CLEARTID as u32 as u64,
        "CLONE_CHILD_CLEARTID"
    );
    assert_eq!(
        CloneFlags::CLONE_DETACHED.bits(),
        libc::CLONE_DETACHED as u32 as u64,
        "CLONE_DETACHED"
    );
    assert_eq!(
        CloneFlags::CLONE_UNTRACED.bits(),
        libc::CLONE_UNTRACED as u32 as u64,
        "CLONE_UNTRACED"
    );
    assert_eq!(
        CloneFlags::CLONE_CHILD_SETTID.bits(),
        libc::CLONE_CHILD_SETTID as u32 as u64,
        "CLONE_CHILD_SETTID"
    );
    assert_eq!(
        CloneFlags::CLONE_NEWCGROUP.bits(),
        libc::CLONE_NEWCGROUP as u32 as u64,
        "CLONE_NEWCGROUP"
    );
    assert_eq!(CloneFlags::CLONE_NEWUTS.bits(), libc::CLONE_NEWUTS as u32 as u64, "CLONE_NEWUTS");
    assert_eq!(CloneFlags::CLONE_NEWIPC.bits(), libc::CLONE_NEWIPC as u32 as u64, "CLONE_NEWIPC");
    assert_eq!(
        CloneFlags::CLONE_NEWUSER.bits(),
        libc::CLONE_NEWUSER as u32 as u64,
        "CLONE_NEWUSER"
    );
    assert_eq!(CloneFlags::CLONE_NEWPID.bits(), libc::CLONE_NEWPID as u32 as u64, "CLONE_NEWPID");
    assert_eq!(CloneFlags::CLONE_NEWNET.bits(), libc::CLONE_NEWNET as u32 as u64, "CLONE_NEWNET");
    assert_eq!(CloneFlags::CLONE_IO.bits(), libc::CLONE_IO as u32 as u64, "CLONE_IO");
}
