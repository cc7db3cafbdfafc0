/* Success and error cases of the process, time, resource, futex and memory
 * system calls: one line per check, exit status = number of failed checks.
 * Makes the same checks and prints the same lines as the Rust `syscalls`. */
#include "kvmfork.h"

#define MS 1000000UL
#define IOCTL_FILE "/tmp/syscalls-c-ioctl"

static int tid_word;
static const unsigned long fs_word = 0x123456789abcdef0UL;

static unsigned long ts_ns(const struct timespec *t)
{
    return (unsigned long)(t->tv_sec < 0 ? 0 : t->tv_sec) * 1000000000UL +
           (unsigned long)(t->tv_nsec < 0 ? 0 : t->tv_nsec);
}

static struct timespec ns_ts(unsigned long ns)
{
    struct timespec t = {(long)(ns / 1000000000UL), (long)(ns % 1000000000UL)};
    return t;
}

static unsigned long monotonic_ns(void)
{
    struct timespec t;
    return sys_clock_gettime(CLOCK_MONOTONIC, &t) ? 0 : ts_ns(&t);
}

static unsigned long since(unsigned long start)
{
    unsigned long now = monotonic_ns();
    return now > start ? now - start : 0;
}

static void identity(void)
{
    long pid = sys_getpid();
    check("getpid positive", pid > 0);
    long ppid = sys_getppid();
    check("getppid differs from getpid", ppid >= 0 && ppid != pid);
    check("gettid equals getpid", sys_gettid() == pid);
    check_ok("getuid", sys_getuid());
    check_ok("geteuid", sys_geteuid());
    check_ok("getgid", sys_getgid());
    check_ok("getegid", sys_getegid());
    struct utsname u;
    memset(&u, 0, sizeof u);
    check_ok("uname", sys_uname(&u));
    check("uname sysname non-empty", u.sysname[0] != '\0');
    check("uname machine x86_64", strcmp(u.machine, "x86_64") == 0);
    check_ok_eq("set_tid_address returns tid", sys_set_tid_address(&tid_word), sys_gettid());
}

static unsigned long read_fs_word(void)
{
    unsigned long v;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(v) : : "memory");
    return v;
}

static long get_fs(void)
{
    unsigned long v = 0;
    long r = sys_arch_prctl(ARCH_GET_FS, (unsigned long)&v);
    return r ? r : (long)v;
}

static void arch(void)
{
    long old = check_ok("arch_prctl get fs", get_fs());
    if (sys_is_err(old))
        old = 0;
    unsigned long want = (unsigned long)&fs_word;
    if (!sys_is_err(check_ok("arch_prctl set fs", sys_arch_prctl(ARCH_SET_FS, want)))) {
        check_ok_eq("arch_prctl fs round trip", get_fs(), (long)want);
        check("arch_prctl fs used by loads", read_fs_word() == fs_word);
    }
    check_ok("arch_prctl restore fs", sys_arch_prctl(ARCH_SET_FS, (unsigned long)old));
    check_ok_eq("arch_prctl fs restored", get_fs(), old);
    check_err("arch_prctl bad code EINVAL", sys_arch_prctl(0x9999, 0), EINVAL);
}

static void time(void)
{
    struct timespec t1 = {0, 0}, t2 = {0, 0}, rt;
    check_ok("clock_gettime monotonic", sys_clock_gettime(CLOCK_MONOTONIC, &t1));
    long r = sys_clock_gettime(CLOCK_MONOTONIC, &t2);
    check("clock_gettime monotonic non-decreasing", r == 0 && ts_ns(&t2) >= ts_ns(&t1));
    check("clock_gettime nsec in range", t2.tv_nsec >= 0 && t2.tv_nsec < 1000000000);
    check_ok("clock_gettime realtime", sys_clock_gettime(CLOCK_REALTIME, &rt));
    check_err("clock_gettime bad clock EINVAL", sys_clock_gettime(100, &rt), EINVAL);

    struct timespec ten = ns_ts(10 * MS);
    unsigned long start = monotonic_ns();
    check_ok_eq("nanosleep 10 ms", sys_nanosleep(&ten, 0), 0);
    check("nanosleep slept at least 10 ms", since(start) >= 10 * MS);
    struct timespec neg = {0, -1};
    check_err("nanosleep negative nsec EINVAL", sys_nanosleep(&neg, 0), EINVAL);
    struct timespec big = {0, 1000000000};
    check_err("nanosleep nsec too large EINVAL", sys_nanosleep(&big, 0), EINVAL);

    start = monotonic_ns();
    check_ok_eq("clock_nanosleep relative", sys_clock_nanosleep(CLOCK_MONOTONIC, 0, &ten, 0), 0);
    check("clock_nanosleep relative slept at least 10 ms", since(start) >= 10 * MS);
    struct timespec deadline = ns_ts(monotonic_ns() + 10 * MS);
    r = sys_clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, 0);
    check_ok_eq("clock_nanosleep absolute", r, 0);
    check("clock_nanosleep absolute reached deadline", monotonic_ns() >= ts_ns(&deadline));
    check_err("clock_nanosleep bad clock EINVAL", sys_clock_nanosleep(100, 0, &ten, 0), EINVAL);
    check_ok_eq("sched_yield", sys_sched_yield(), 0);
}

static void random_and_ioctl(void)
{
    unsigned char buf[16];
    memset(buf, 0, sizeof buf);
    check_ok_eq("getrandom 16 bytes", sys_getrandom(buf, 16, GRND_NONBLOCK), 16);
    int nonzero = 0;
    for (int i = 0; i < 16; i++)
        nonzero |= buf[i];
    check("getrandom not all zero", nonzero != 0);
    check_err("getrandom bad flags EINVAL", sys_getrandom(buf, 16, 0x100), EINVAL);

    sys_unlinkat(AT_FDCWD, IOCTL_FILE, 0);
    struct winsize ws;
    long fd = check_ok("ioctl test file created",
                       sys_openat(AT_FDCWD, IOCTL_FILE, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644));
    if (!sys_is_err(fd)) {
        long r = sys_ioctl((int)fd, TIOCGWINSZ, (long)&ws);
        check_err("ioctl TIOCGWINSZ regular file ENOTTY", r, ENOTTY);
        sys_close((int)fd);
        sys_unlinkat(AT_FDCWD, IOCTL_FILE, 0);
    }
    check_err("ioctl TIOCGWINSZ bad fd EBADF", sys_ioctl(999, TIOCGWINSZ, (long)&ws), EBADF);
}

static int rlimit_eq(const struct rlimit *a, const struct rlimit *b)
{
    return a->rlim_cur == b->rlim_cur && a->rlim_max == b->rlim_max;
}

static void rlimits(void)
{
    struct rlimit orig, old, now;
    if (sys_is_err(check_ok("prlimit64 get nofile", sys_prlimit64(0, RLIMIT_NOFILE, 0, &orig))))
        return;
    long r = sys_getrlimit(RLIMIT_NOFILE, &old);
    check("getrlimit nofile matches prlimit64", r == 0 && rlimit_eq(&old, &orig));

    /* The soft limit a few fds above the lowest free one. */
    long lowest = sys_dup(1);
    if (sys_is_err(lowest))
        lowest = 3;
    sys_close((int)lowest);
    unsigned long limit = (unsigned long)lowest + 8;
    struct rlimit lowered = {limit, orig.rlim_max};
    check_ok("setrlimit nofile lower soft", sys_setrlimit(RLIMIT_NOFILE, &lowered));
    r = sys_prlimit64(0, RLIMIT_NOFILE, 0, &now);
    check("prlimit64 sees lowered soft limit", r == 0 && rlimit_eq(&now, &lowered));

    int fds[64];
    int n = 0;
    long end = 0;
    while (n < 64) {
        long fd = sys_openat(AT_FDCWD, "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (sys_is_err(fd)) {
            end = fd;
            break;
        }
        fds[n++] = (int)fd;
    }
    check_err("open until EMFILE", end, EMFILE);
    int below = 1;
    for (int i = 0; i < n; i++)
        below &= (unsigned long)fds[i] < limit;
    check("EMFILE at the soft limit", n >= 1 && below && fds[0] == lowest);
    for (int i = 0; i < n; i++)
        sys_close(fds[i]);

    struct rlimit bad = {200, 100};
    check_err("setrlimit soft above hard EINVAL", sys_setrlimit(RLIMIT_NOFILE, &bad), EINVAL);
    check_ok("prlimit64 restore nofile", sys_prlimit64(0, RLIMIT_NOFILE, &orig, 0));
    r = sys_getrlimit(RLIMIT_NOFILE, &now);
    check("nofile limit restored", r == 0 && rlimit_eq(&now, &orig));
}

static void futexes(void)
{
    char name[96];
    volatile unsigned word = 1;
    struct timespec ten = ns_ts(10 * MS);
    for (int i = 0; i < 2; i++) {
        int flags = i ? FUTEX_PRIVATE_FLAG : 0;
        const char *tag = i ? " private" : "";
        long r = sys_futex(&word, FUTEX_WAIT | flags, 2, 0);
        snprintf(name, sizeof name, "futex wait%s wrong value EAGAIN", tag);
        check_err(name, r, EAGAIN);
        unsigned long start = monotonic_ns();
        r = sys_futex(&word, FUTEX_WAIT | flags, 1, &ten);
        snprintf(name, sizeof name, "futex wait%s timeout ETIMEDOUT", tag);
        check_err(name, r, ETIMEDOUT);
        snprintf(name, sizeof name, "futex wait%s waited at least 10 ms", tag);
        check(name, since(start) >= 10 * MS);
        r = sys_futex(&word, FUTEX_WAKE | flags, 1, 0);
        snprintf(name, sizeof name, "futex wake%s no waiters", tag);
        check_ok_eq(name, r, 0);
    }
}

static void program_break(void)
{
    const unsigned long grow = 64 << 10;
    unsigned long cur = sys_brk(0);
    check("brk query", cur != 0);
    unsigned long grown = sys_brk(cur + grow);
    if (!check("brk grow 64 KiB", grown == cur + grow))
        return;
    int ok = 1;
    for (unsigned long off = 0; off < grow; off += 509) {
        volatile unsigned char *p = (volatile unsigned char *)(cur + off);
        ok &= *p == 0;
        *p = (unsigned char)(off | 1);
        ok &= *p == (unsigned char)(off | 1);
    }
    check("brk memory zeroed and writable", ok);
    check("brk shrink", sys_brk(cur) == cur);
    check("brk below start unchanged", sys_brk(0x1000) == cur);
}

/* One word per 256 bytes of the mapping at a. */
static int words_are(unsigned long a, unsigned long len, unsigned long base, int zero)
{
    for (unsigned long off = 0, i = 0; off < len; off += 256, i++) {
        unsigned long w = *(volatile unsigned long *)(a + off);
        if (w != (zero ? 0 : i + base))
            return 0;
    }
    return 1;
}

static unsigned long word_at(unsigned long a, unsigned long i)
{
    return *(volatile unsigned long *)(a + i * 256);
}

static void fill(unsigned long a, unsigned long len, unsigned long base)
{
    for (unsigned long off = 0, i = 0; off < len; off += 256, i++)
        *(volatile unsigned long *)(a + off) = i + base;
}

static void mappings(void)
{
    const unsigned long len = 4 * PAGE_SIZE;
    const int rw = PROT_READ | PROT_WRITE;
    long a = check_ok("mmap anonymous private",
                      sys_mmap(0, len, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (!sys_is_err(a)) {
        unsigned long m = (unsigned long)a;
        check("mmap page aligned", m % PAGE_SIZE == 0);
        check("mmap zero filled", words_are(m, len, 0, 1));
        fill(m, len, 7);
        check("mmap write read", words_are(m, len, 7, 0));
        check_ok_eq("mprotect read-only", sys_mprotect(m, len, PROT_READ), 0);
        check("mprotect read-only readable", word_at(m, 3) == 10);
        check_ok_eq("mprotect read-write", sys_mprotect(m, len, rw), 0);
        fill(m, len, 9);
        check("mprotect writable again", word_at(m, 3) == 12);
        check_err("mprotect unaligned EINVAL", sys_mprotect(m + 1, PAGE_SIZE, PROT_READ), EINVAL);
        check_err("munmap unaligned EINVAL", sys_munmap(m + 1, PAGE_SIZE), EINVAL);
        check_err("munmap length 0 EINVAL", sys_munmap(m, 0), EINVAL);
        check_ok_eq("munmap", sys_munmap(m, len), 0);
    }
    check_err("mmap without shared or private EINVAL", sys_mmap(0, len, rw, MAP_ANONYMOUS, -1, 0),
              EINVAL);
    check_err("mmap length 0 EINVAL", sys_mmap(0, 0, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              EINVAL);

    a = check_ok("mmap shared anonymous", sys_mmap(0, len, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (!sys_is_err(a)) {
        unsigned long m = (unsigned long)a;
        check("mmap shared zero filled", words_are(m, len, 0, 1));
        fill(m, len, 5);
        check("mmap shared write read", words_are(m, len, 5, 0));
        check_ok_eq("munmap shared", sys_munmap(m, len), 0);
    }
}

int main(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    identity();
    arch();
    time();
    random_and_ioctl();
    rlimits();
    futexes();
    check_err("unknown syscall ENOSYS", sys_call0(1000), ENOSYS);
    program_break();
    mappings();
    return check_status();
}
