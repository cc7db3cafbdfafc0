/* forkbench: process-creation benchmarks, timed with the TSC in ring 3, the
 * same static binary on the host's Linux and as pid 1 in the guest (benches/
 * fork.rs runs both and compares; tests/forkbench.rs checks the output's shape).
 *
 *   forkbench [KEY=VALUE]...     run the benchmarks
 *   forkbench exit               exit 0 at once (the fork_execve_wait target)
 *
 * Keys (defaults in brackets):
 *   cases=LIST      which of touch,fork,vfork,thread,exec,size,cow,tput to run
 *                   [touch,fork,vfork,thread,exec,size,cow]
 *   reps=N          samples per case [10]
 *   size_reps=N     samples per size of the size curve [reps]
 *   sizes=LIST      MiB the parent touches before fork+exit+wait [1,16,256]
 *   touch=HOW       how the size curve's memory is touched: populate
 *                   (mmap MAP_POPULATE) or write (one store per page) [populate]
 *   cow_pages=N     pages written after fork in the cow cases [256]
 *   parents=LIST    forking parents of the throughput case [1,2,4]
 *   tput_forks=N    fork+exit+wait per parent in the throughput case [50]
 *   settle_ms=N     after each throughput sample's `e` snapshot, write
 *                   `snapshot s ...` (a leak check's snapshot) once every
 *                   kernel stack belongs to a task that exists, waiting at
 *                   most N ms: a child just reaped may still be switching out
 *                   on another CPU, holding its kernel stack [0: none]
 *
 * Output, one line per record, `key=value` words (the harness parses them):
 *   forkbench ...                        the settings, first
 *   touch for=CASE size_mib=M pages=N method=HOW cycles=C   setting up CASE
 *   sample case=NAME PARAM=V ops=N cycles=C    one per sample; C covers N operations
 *   done samples=N                       last; exit status 0
 *   error case=NAME what=... ret=R      on a failure; exit status 1
 * PARAM is size_mib (fork_exit_wait; 0 for the minimal process and the other
 * single-operation cases), pages (cow_child, cow_parent) or parents
 * (fork_throughput).
 *
 * Around each case's samples the program writes `snapshot b CASE PARAM=V` and
 * `snapshot e CASE PARAM=V` to /dev/counters, so that the VMM records KVM's
 * statistics there and the harness can divide the ring-0 instructions between
 * each pair by the operations in between (the empty pair `null` measures what a
 * pair costs itself). Samples are printed after the `e` snapshot, so console
 * writes are never inside a pair. On Linux /dev/counters does not exist and
 * the snapshots are skipped. */
#include "kvmfork.h"

#define THREAD_FLAGS                                                                       \
    (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | \
     CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

#define MAX_REPS 1000
#define MAX_LIST 8
#define MIB (1UL << 20)

/* In a MAP_SHARED mapping, which fork does not write-protect: storing a
 * sample never takes a copy-on-write fault inside a measured pair. */
static unsigned long *samples;
static unsigned long *sample_ops;
static unsigned long total_samples;
static int counters_fd = -1;
static char *self_path;
static char **self_envp;

/* ---- settings ---- */
static const char *cases = "touch,fork,vfork,thread,exec,size,cow";
static unsigned long reps = 10, size_reps = 0, cow_pages = 256, tput_forks = 50, settle_ms = 0;
static unsigned long sizes[MAX_LIST] = {1, 16, 256};
static int nsizes = 3;
static unsigned long parents[MAX_LIST] = {1, 2, 4};
static int nparents = 3;
static int touch_write;

/* ---- the clock ---- */
static inline unsigned long rdtsc(void)
{
    unsigned lo, hi;
    /* lfence: the read is not moved before earlier instructions complete. */
    __asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((unsigned long)hi << 32) | lo;
}

/* ---- output ---- */
static __attribute__((noreturn)) void fail(const char *name, const char *what, long ret)
{
    printf("error case=%s what=%s ret=%ld\n", name, what, ret);
    sys_exit_group(1);
}

/* `snapshot LABEL` to /dev/counters (nothing on a host without it). */
static void mark(char kind, const char *name, const char *param, unsigned long v)
{
    if (counters_fd < 0)
        return;
    char buf[96];
    size_t n = snprintf(buf, sizeof buf, "snapshot %c %s %s=%lu", kind, name, param, v);
    long r = sys_write(counters_fd, buf, n);
    if (r != (long)n)
        fail(name, "snapshot_write", r);
}

/* ---- settling for a leak check's snapshot ---- */

/* The start of the file at `path` in `buf`, NUL-terminated; 0 if unreadable. */
static int read_start(const char *path, char *buf, size_t cap)
{
    long fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    size_t n = 0;
    long r;
    while (n < cap - 1 && (r = sys_read((int)fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    sys_close((int)fd);
    buf[n] = 0;
    return n > 0;
}

/* The decimal number at `s`, after any spaces. */
static unsigned long decimal_at(const char *s)
{
    unsigned long v = 0;
    while (*s == ' ')
        s++;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (unsigned long)(*s++ - '0');
    return v;
}

/* Whether every kernel stack belongs to a task that exists: /proc/meminfo's
 * KernelStack is 16 kB (x86-64's THREAD_SIZE) for each task /proc/loadavg
 * counts (its 4th field, RUNNING/TOTAL). Not so while a task that exited is
 * still switching out on another CPU (its stack goes only at that last
 * switch: Linux put_task_stack from finish_task_switch), nor while one is a
 * zombie (counted, with no stack). 1 when the files cannot be read. */
static int kernel_stacks_settled(void)
{
    char load[128], mem[2048];
    if (!read_start("/proc/loadavg", load, sizeof load) ||
        !read_start("/proc/meminfo", mem, sizeof mem))
        return 1;
    const char *p = load;
    while (*p && *p != '/')
        p++;
    if (!*p)
        return 1;
    unsigned long tasks = decimal_at(p + 1);
    static const char key[] = "\nKernelStack:";
    for (const char *m = mem; *m; m++)
        if (memcmp(m, key, sizeof key - 1) == 0)
            return decimal_at(m + sizeof key - 1) == 16 * tasks;
    return 1;
}

static unsigned long monotonic_ns(void)
{
    struct timespec t;
    sys_clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long)t.tv_sec * 1000000000UL + (unsigned long)t.tv_nsec;
}

/* Wait until kernel_stacks_settled(), polling every 10 ms, for at most `ms`. */
static void settle_kernel_stacks(unsigned long ms)
{
    unsigned long deadline = monotonic_ns() + ms * 1000000UL;
    struct timespec ten_ms = {0, 10000000L};
    while (!kernel_stacks_settled() && monotonic_ns() < deadline)
        sys_nanosleep(&ten_ms, 0);
}

/* Prints the samples recorded since the last flush. */
static void print_samples(const char *name, const char *param, unsigned long v, unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        printf("sample case=%s %s=%lu ops=%lu cycles=%lu\n", name, param, v, sample_ops[i],
               samples[i]);
    total_samples += n;
}

/* ---- process creation helpers ---- */

/* Reaps `pid` and insists on a normal exit with status 0. */
static void reap(const char *name, long pid)
{
    int st = -1;
    long r = sys_wait4((int)pid, &st, 0);
    if (r != pid)
        fail(name, "wait4", r);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail(name, "child_status", st);
}

/* kf_spawn(nr, a1, a2, a3, a4, a5, entry): the process-creating call `nr` with
 * the registers of `syscall` (through the AT_SYSINFO entry when `entry` is not
 * 0). In the parent it returns the call's result. The child (rax == 0) never
 * returns into C frames (a vfork child shares the parent's stack, a thread runs
 * on its own): it calls `exit(0)` at once, on whatever stack it has, 16-byte
 * aligned. The entry is kept in r12, which the child inherits; a `call *entry`
 * pushes below RSP, so the red zone is stepped over first, as sys_call6 does.
 * The child writes nothing above the parent's RSP - 128, so a vfork parent
 * finds its frame intact. */
long kf_spawn(long nr, long a1, long a2, long a3, long a4, long a5, unsigned long entry);
__asm__(".text\n"
        ".global kf_spawn\n"
        ".type kf_spawn, @function\n"
        "kf_spawn:\n"
        "    push %r12\n"
        "    mov 16(%rsp), %r12\n"     /* entry (7th argument) */
        "    mov %rdi, %rax\n"         /* nr */
        "    mov %rsi, %rdi\n"         /* a1 */
        "    mov %rdx, %rsi\n"         /* a2 */
        "    mov %rcx, %rdx\n"         /* a3 */
        "    mov %r8, %r10\n"          /* a4 */
        "    mov %r9, %r8\n"           /* a5 */
        "    test %r12, %r12\n"
        "    jz 2f\n"
        "    sub $128, %rsp\n"
        "    call *%r12\n"
        "    test %rax, %rax\n"
        "    jz 3f\n"
        "    add $128, %rsp\n"
        "    pop %r12\n"
        "    ret\n"
        "2:  syscall\n"
        "    test %rax, %rax\n"
        "    jz 3f\n"
        "    pop %r12\n"
        "    ret\n"
        "3:  xor %ebp, %ebp\n"
        "    and $-16, %rsp\n"
        "    xor %edi, %edi\n"
        "    mov $60, %eax\n"          /* SYS_exit */
        "    test %r12, %r12\n"
        "    jz 4f\n"
        "    call *%r12\n"
        "    ud2\n"
        "4:  syscall\n"
        "    ud2\n"
        ".size kf_spawn, . - kf_spawn\n");

/* The AT_SYSINFO entry (0 on Linux), for kf_spawn. */
static unsigned long entry(void) { return getauxval(AT_SYSINFO); }

/* ---- cases ---- */

static void case_null(void)
{
    /* An empty snapshot pair: what a pair costs itself, for the harness to
     * subtract. Twice, so the first-use costs are not in the second. */
    mark('b', "null", "size_mib", 0);
    mark('e', "null", "size_mib", 0);
    mark('b', "null", "size_mib", 0);
    mark('e', "null", "size_mib", 0);
}

static void fork_exit_wait(const char *name, unsigned long size_mib, unsigned long n)
{
    mark('b', name, "size_mib", size_mib);
    for (unsigned long i = 0; i < n; i++) {
        unsigned long t0 = rdtsc();
        long pid = sys_fork();
        if (pid == 0)
            sys_exit_group(0);
        if (pid < 0)
            fail(name, "fork", pid);
        reap(name, pid);
        samples[i] = rdtsc() - t0;
        sample_ops[i] = 1;
    }
    mark('e', name, "size_mib", size_mib);
    print_samples(name, "size_mib", size_mib, n);
}

static void vfork_exit_wait(void)
{
    const char *name = "vfork_exit_wait";
    unsigned long e = entry();
    mark('b', name, "size_mib", 0);
    for (unsigned long i = 0; i < reps; i++) {
        unsigned long t0 = rdtsc();
        long pid = kf_spawn(SYS_vfork, 0, 0, 0, 0, 0, e);
        if (pid < 0)
            fail(name, "vfork", pid);
        reap(name, pid);
        samples[i] = rdtsc() - t0;
        sample_ops[i] = 1;
    }
    mark('e', name, "size_mib", 0);
    print_samples(name, "size_mib", 0, reps);
}

/* The thread's stack and its TLS block (x86-64 variant II: %fs points at a
 * thread control block whose first word points at itself). */
static unsigned char thread_stack[64 * 1024] __attribute__((aligned(64)));
static unsigned long thread_tls[8] __attribute__((aligned(64)));
static volatile unsigned thread_tid;

static void clone_thread_join(void)
{
    const char *name = "clone_thread_join";
    unsigned long e = entry();
    thread_tls[0] = (unsigned long)thread_tls;
    mark('b', name, "size_mib", 0);
    for (unsigned long i = 0; i < reps; i++) {
        unsigned long t0 = rdtsc();
        /* CLONE_PARENT_SETTID stores the tid before the thread can run, and
         * CLONE_CHILD_CLEARTID zeroes the same word and wakes its futex when
         * the thread has exited: the join. */
        long tid = kf_spawn(SYS_clone, THREAD_FLAGS, (long)(thread_stack + sizeof thread_stack),
                            (long)&thread_tid, (long)&thread_tid, (long)thread_tls, e);
        if (tid < 0)
            fail(name, "clone", tid);
        unsigned v;
        while ((v = thread_tid) != 0) {
            long r = sys_futex(&thread_tid, FUTEX_WAIT, v, 0);
            if (r < 0 && r != -EAGAIN && r != -EINTR)
                fail(name, "futex_wait", r);
        }
        samples[i] = rdtsc() - t0;
        sample_ops[i] = 1;
    }
    mark('e', name, "size_mib", 0);
    print_samples(name, "size_mib", 0, reps);
}

static void fork_execve_wait(void)
{
    const char *name = "fork_execve_wait";
    char *argv[] = {self_path, "exit", 0};
    mark('b', name, "size_mib", 0);
    for (unsigned long i = 0; i < reps; i++) {
        unsigned long t0 = rdtsc();
        long pid = sys_fork();
        if (pid == 0) {
            sys_call3(SYS_execve, (long)self_path, (long)argv, (long)self_envp);
            sys_exit_group(127);
        }
        if (pid < 0)
            fail(name, "fork", pid);
        reap(name, pid);
        samples[i] = rdtsc() - t0;
        sample_ops[i] = 1;
    }
    mark('e', name, "size_mib", 0);
    print_samples(name, "size_mib", 0, reps);
}

/* Maps `pages` private anonymous pages and touches them (MAP_POPULATE, or one
 * store per page); prints how long that took. */
static unsigned char *touch(const char *name, unsigned long pages, int by_write)
{
    unsigned long len = pages * PAGE_SIZE;
    unsigned long t0 = rdtsc();
    long a = sys_mmap(0, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | (by_write ? 0 : MAP_POPULATE), -1, 0);
    if (a < 0 && a > -4096)
        fail(name, "mmap", a);
    unsigned char *p = (unsigned char *)a;
    if (by_write)
        for (unsigned long i = 0; i < pages; i++)
            ((volatile unsigned char *)p)[i * PAGE_SIZE] = 1;
    unsigned long t = rdtsc() - t0;
    printf("touch for=%s size_mib=%lu pages=%lu method=%s cycles=%lu\n", name, len / MIB, pages,
           by_write ? "write" : "populate", t);
    return p;
}

static void release(const char *name, unsigned char *p, unsigned long pages)
{
    long r = sys_munmap((unsigned long)p, pages * PAGE_SIZE);
    if (r)
        fail(name, "munmap", r);
}

/* What touching costs, both ways, over the cow cases' page count. */
static void case_touch(void)
{
    for (int by_write = 1; by_write >= 0; by_write--)
        release("touch", touch("touch", cow_pages, by_write), cow_pages);
}

static void size_curve(void)
{
    for (int s = 0; s < nsizes; s++) {
        unsigned long pages = sizes[s] * MIB / PAGE_SIZE;
        unsigned char *p = touch("fork_exit_wait", pages, touch_write);
        fork_exit_wait("fork_exit_wait", sizes[s], size_reps);
        release("fork_exit_wait", p, pages);
    }
}

/* Copy-on-write faults: after fork, the child (or the parent, while the child
 * waits) stores one byte in each of `cow_pages` pages the parent had touched;
 * the sample is the time of those stores, `ops` the page count. The side that
 * waits first says it is ready (its own copy-on-write faults on its stack are
 * done by then) and blocks, so that only the measured side's faults fall
 * between the snapshots. */
static void cow(int in_child)
{
    const char *name = in_child ? "cow_child" : "cow_parent";
    unsigned long n = cow_pages;
    unsigned char *p = touch(name, n, 0);
    for (unsigned long i = 0; i < reps; i++) {
        /* done: the measured side to the waiting one (the child's cycles, or
         * EOF when the parent is done); ready: the waiting side's byte. */
        int done[2], ready[2];
        long r = sys_pipe2(done, O_CLOEXEC);
        if (r == 0)
            r = sys_pipe2(ready, O_CLOEXEC);
        if (r)
            fail(name, "pipe2", r);
        long pid = sys_fork();
        if (pid < 0)
            fail(name, "fork", pid);
        int measure = in_child ? pid == 0 : pid != 0;
        unsigned long t = 0;
        char c = 0;
        if (measure) {
            sys_close(ready[1]);
            sys_close(done[0]);
            r = sys_read(ready[0], &c, 1);
            if (r != 1)
                fail(name, "ready", r);
            mark('b', name, "pages", n);
            unsigned long t0 = rdtsc();
            for (unsigned long k = 0; k < n; k++)
                ((volatile unsigned char *)p)[k * PAGE_SIZE] = in_child ? 2 : 3;
            t = rdtsc() - t0;
            mark('e', name, "pages", n);
            if (in_child)
                sys_exit_group(sys_write(done[1], &t, sizeof t) == sizeof t ? 0 : 1);
            /* The child reads EOF and exits. */
            sys_close(done[1]);
        } else {
            sys_close(ready[0]);
            sys_close(done[1]);
            r = sys_write(ready[1], &c, 1);
            if (pid == 0)
                sys_exit_group(r == 1 && sys_read(done[0], &t, 1) == 0 ? 0 : 1);
            if (r != 1)
                fail(name, "ready", r);
            r = sys_read(done[0], &t, sizeof t);
            if (r != sizeof t)
                fail(name, "read_child_cycles", r);
            sys_close(done[0]);
            sys_close(ready[1]);
        }
        if (!in_child)
            sys_close(ready[0]);
        samples[i] = t;
        sample_ops[i] = n;
        reap(name, pid);
    }
    release(name, p, n);
    print_samples(name, "pages", n, reps);
}

/* Throughput: `np` parents, each doing `tput_forks` fork+exit+wait in a row,
 * started together; one sample = the wall time from the start to the last
 * parent reaped, ops = all forks. */
static void throughput(unsigned long np)
{
    const char *name = "fork_throughput";
    for (unsigned long i = 0; i < reps; i++) {
        int go[2];
        long r = sys_pipe2(go, O_CLOEXEC);
        if (r)
            fail(name, "pipe2", r);
        long pids[MAX_LIST];
        for (unsigned long k = 0; k < np; k++) {
            pids[k] = sys_fork();
            if (pids[k] < 0)
                fail(name, "fork_parent", pids[k]);
            if (pids[k] == 0) {
                char c;
                sys_close(go[1]);
                if (sys_read(go[0], &c, 1) != 1)
                    sys_exit_group(2);
                for (unsigned long f = 0; f < tput_forks; f++) {
                    long pid = sys_fork();
                    if (pid == 0)
                        sys_exit_group(0);
                    int st = -1;
                    if (pid < 0 || sys_wait4((int)pid, &st, 0) != pid || st != 0)
                        sys_exit_group(3);
                }
                sys_exit_group(0);
            }
        }
        sys_close(go[0]);
        char start[MAX_LIST] = {0};
        mark('b', name, "parents", np);
        unsigned long t0 = rdtsc();
        r = sys_write(go[1], start, np);
        if (r != (long)np)
            fail(name, "start", r);
        for (unsigned long k = 0; k < np; k++)
            reap(name, pids[k]);
        samples[i] = rdtsc() - t0;
        mark('e', name, "parents", np);
        if (settle_ms && counters_fd >= 0) {
            settle_kernel_stacks(settle_ms);
            mark('s', name, "parents", np);
        }
        sample_ops[i] = np * tput_forks;
        sys_close(go[1]);
    }
    print_samples(name, "parents", np, reps);
}

/* ---- arguments ---- */

static int starts_with(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (s[i] != prefix[i])
            return 0;
    *rest = s + n;
    return 1;
}

static unsigned long number(const char *s, const char *key)
{
    unsigned long v = 0;
    if (!*s)
        fail("args", key, -EINVAL);
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            fail("args", key, -EINVAL);
        v = v * 10 + (unsigned long)(*s - '0');
    }
    return v;
}

/* "1,16,256" into list (at most MAX_LIST entries); the count. */
static int number_list(const char *s, unsigned long *list, const char *key)
{
    int n = 0;
    char word[24];
    while (*s) {
        size_t k = 0;
        while (*s && *s != ',' && k + 1 < sizeof word)
            word[k++] = *s++;
        word[k] = '\0';
        if (*s == ',')
            s++;
        if (n == MAX_LIST)
            fail("args", key, -E2BIG);
        list[n++] = number(word, key);
    }
    return n;
}

/* Whether `name` is in the comma-separated `cases`. */
static int wanted(const char *name)
{
    size_t n = strlen(name);
    for (const char *c = cases; *c;) {
        const char *end = c;
        while (*end && *end != ',')
            end++;
        if ((size_t)(end - c) == n && memcmp(c, name, n) == 0)
            return 1;
        c = *end ? end + 1 : end;
    }
    return 0;
}

/* Appends " key=1,16,256" to buf (capacity cap, length *len). */
static void print_list(char *buf, size_t cap, size_t *len, const char *key,
                       const unsigned long *list, int n)
{
    *len += snprintf(buf + *len, cap - *len, " %s=", key);
    for (int i = 0; i < n; i++)
        *len += snprintf(buf + *len, cap - *len, "%s%lu", i ? "," : "", list[i]);
    if (!n)
        *len += snprintf(buf + *len, cap - *len, "none");
}

int main(int argc, char **argv, char **envp)
{
    if (argc == 2 && strcmp(argv[1], "exit") == 0)
        return 0;
    self_path = argv[0];
    self_envp = envp;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (starts_with(argv[i], "cases=", &v))
            cases = v;
        else if (starts_with(argv[i], "reps=", &v))
            reps = number(v, "reps");
        else if (starts_with(argv[i], "size_reps=", &v))
            size_reps = number(v, "size_reps");
        else if (starts_with(argv[i], "sizes=", &v))
            nsizes = number_list(v, sizes, "sizes");
        else if (starts_with(argv[i], "cow_pages=", &v))
            cow_pages = number(v, "cow_pages");
        else if (starts_with(argv[i], "parents=", &v))
            nparents = number_list(v, parents, "parents");
        else if (starts_with(argv[i], "tput_forks=", &v))
            tput_forks = number(v, "tput_forks");
        else if (starts_with(argv[i], "settle_ms=", &v))
            settle_ms = number(v, "settle_ms");
        else if (strcmp(argv[i], "touch=write") == 0)
            touch_write = 1;
        else if (strcmp(argv[i], "touch=populate") == 0)
            touch_write = 0;
        else
            fail("args", argv[i], -EINVAL);
    }
    if (!size_reps)
        size_reps = reps;
    if (reps < 1 || reps > MAX_REPS || size_reps > MAX_REPS || cow_pages < 1)
        fail("args", "reps_or_cow_pages", -ERANGE);
    for (int i = 0; i < nparents; i++)
        if (parents[i] < 1 || parents[i] > MAX_LIST)
            fail("args", "parents", -ERANGE);

    /* The sample arrays, faulted in now so that no sample includes their
     * first touch and every fork copies the same pages. */
    unsigned long arrays = 2 * MAX_REPS * sizeof(unsigned long);
    long a = sys_mmap(0, arrays, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (a < 0 && a > -4096)
        fail("setup", "mmap_samples", a);
    samples = (unsigned long *)a;
    sample_ops = samples + MAX_REPS;
    for (unsigned long off = 0; off < arrays; off += PAGE_SIZE)
        ((volatile unsigned char *)a)[off] = 0;

    long fd = sys_openat(AT_FDCWD, "/dev/counters", O_WRONLY | O_CLOEXEC, 0);
    counters_fd = fd >= 0 ? (int)fd : -1;

    char head[400];
    size_t len = snprintf(head, sizeof head, "forkbench cases=%s reps=%lu size_reps=%lu", cases,
                          reps, size_reps);
    print_list(head, sizeof head, &len, "sizes", sizes, nsizes);
    len += snprintf(head + len, sizeof head - len, " touch=%s cow_pages=%lu",
                    touch_write ? "write" : "populate", cow_pages);
    print_list(head, sizeof head, &len, "parents", parents, nparents);
    printf("%s tput_forks=%lu counters=%s sysinfo=%s\n", head, tput_forks,
           counters_fd >= 0 ? "yes" : "no", entry() ? "yes" : "no");

    case_null();
    if (wanted("touch"))
        case_touch();
    if (wanted("fork"))
        fork_exit_wait("fork_exit_wait", 0, reps);
    if (wanted("vfork"))
        vfork_exit_wait();
    if (wanted("thread"))
        clone_thread_join();
    if (wanted("exec"))
        fork_execve_wait();
    if (wanted("size"))
        size_curve();
    if (wanted("cow")) {
        cow(1);
        cow(0);
    }
    if (wanted("tput"))
        for (int i = 0; i < nparents; i++)
            throughput(parents[i]);
    printf("done samples=%lu\n", total_samples);
    return 0;
}
