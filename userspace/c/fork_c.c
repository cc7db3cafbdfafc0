/* fork in freestanding C: the return values, 20 children reaped with distinct
 * pids and exit statuses, a child killed by SIGKILL, copy-on-write privacy of
 * a stack and a global variable, a MAP_SHARED mapping shared both ways, and an
 * inherited fd whose offset parent and child share. One line per check, exit
 * status = number of failed checks. Children never print; they report through
 * pipes and their exit statuses. */
#include "kvmfork.h"

#define CHILDREN 20

static volatile long global_word;

static int get_byte(int fd)
{
    unsigned char b;
    return sys_read(fd, &b, 1) == 1 ? b : -1;
}

static void put_byte(int fd, int v)
{
    unsigned char b = (unsigned char)v;
    sys_write(fd, &b, 1);
}

/* Reaps pid: 1 if wait4 returned it, with its status in *st. */
static int reap(long pid, int *st)
{
    *st = -1;
    return pid > 0 && sys_wait4((int)pid, st, 0) == pid;
}

static int exited_with(long pid, int code)
{
    int st;
    return reap(pid, &st) && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

static void close2(int fds[2])
{
    sys_close(fds[0]);
    sys_close(fds[1]);
}

static void return_values(void)
{
    long me = sys_getpid();
    int p[2];
    if (sys_pipe2(p, O_CLOEXEC)) {
        check("pipe2", 0);
        return;
    }
    long pid = sys_fork();
    if (pid == 0) {
        int msg[3] = {0, (int)sys_getpid(), (int)sys_getppid()};
        sys_exit_group(sys_write(p[1], msg, sizeof msg) == (long)sizeof msg ? 0 : 1);
    }
    /* Only the child keeps the write end: a child that dies early gives EOF. */
    sys_close(p[1]);
    if (sys_is_err(pid)) {
        check_ok("fork", pid);
        sys_close(p[0]);
        return;
    }
    check("fork returns a positive pid in the parent", pid > 0);
    check("fork returns a pid other than the parent's", pid != me);
    int msg[3] = {-1, -1, -1};
    long n = sys_read(p[0], msg, sizeof msg);
    check("fork returns 0 in the child", n == (long)sizeof msg && msg[0] == 0);
    check("getpid in the child is what fork returned", msg[1] == pid);
    check("getppid in the child is the parent's pid", msg[2] == me);
    check("the child is reaped with status 0", exited_with(pid, 0));
    sys_close(p[0]);
}

static int child_code(int i) { return (i * 11 + 7) % 256; }

static void many_children(void)
{
    long pids[CHILDREN];
    int made = 0;
    for (int i = 0; i < CHILDREN; i++) {
        long pid = sys_fork();
        if (pid == 0)
            sys_exit_group(child_code(i));
        if (sys_is_err(pid))
            break;
        pids[made++] = pid;
    }
    check("fork 20 children", made == CHILDREN);
    int distinct = 1;
    for (int i = 0; i < made; i++)
        for (int j = i + 1; j < made; j++)
            if (pids[i] == pids[j])
                distinct = 0;
    check("the 20 children have distinct pids", distinct);
    int seen[CHILDREN] = {0};
    int once = 1, statuses = 1;
    for (int k = 0; k < made; k++) {
        int st = -1;
        long pid = sys_wait4(-1, &st, 0);
        int i = 0;
        while (i < made && pids[i] != pid)
            i++;
        if (i == made || seen[i]) {
            once = 0;
            continue;
        }
        seen[i] = 1;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != child_code(i))
            statuses = 0;
    }
    check("wait4(-1) reaps each child exactly once", once && made == CHILDREN);
    check("wait4 gives each child's exit status", statuses);
    check_err("wait4(-1) ECHILD after the last child", sys_wait4(-1, 0, 0), ECHILD);
}

static void killed(void)
{
    int p[2];
    if (sys_pipe2(p, O_CLOEXEC)) {
        check("pipe2", 0);
        return;
    }
    long pid = sys_fork();
    if (pid == 0) {
        sys_close(p[1]);
        get_byte(p[0]);
        sys_exit_group(0);
    }
    if (sys_is_err(pid)) {
        check_ok("fork a child to kill", pid);
        close2(p);
        return;
    }
    check_ok_eq("kill SIGKILL a child", sys_kill((int)pid, SIGKILL), 0);
    int st;
    int ok = reap(pid, &st);
    check("SIGKILL: WIFSIGNALED with WTERMSIG 9", ok && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    check("SIGKILL: not WIFEXITED", ok && !WIFEXITED(st));
    close2(p);
}

static void cow(void)
{
    volatile long stack_word = 0xaaaa;
    global_word = 0xaaaa;
    int p2c[2], c2p[2];
    if (sys_pipe2(p2c, O_CLOEXEC) || sys_pipe2(c2p, O_CLOEXEC)) {
        check("pipe2", 0);
        return;
    }
    long pid = sys_fork();
    if (pid == 0) {
        get_byte(p2c[0]); /* the parent has written 0xbbbb */
        int bits = (stack_word != 0xaaaa) | (global_word != 0xaaaa) << 1;
        stack_word = 0xcccc;
        global_word = 0xcccc;
        bits |= (stack_word != 0xcccc) << 2 | (global_word != 0xcccc) << 3;
        put_byte(c2p[1], bits);
        get_byte(p2c[0]); /* the parent has checked its copy */
        sys_exit_group(0);
    }
    sys_close(c2p[1]); /* EOF for the parent if the child dies early */
    if (sys_is_err(pid)) {
        check_ok("cow: fork", pid);
        close2(p2c);
        sys_close(c2p[0]);
        return;
    }
    stack_word = 0xbbbb;
    global_word = 0xbbbb;
    put_byte(p2c[1], 1);
    int bits = get_byte(c2p[0]);
    if (bits < 0)
        bits = 0xff;
    check("cow stack: the child sees the value from before fork", !(bits & 1));
    check("cow global: the child sees the value from before fork", !(bits & 2));
    check("cow stack: the child reads back its own write", !(bits & 4));
    check("cow global: the child reads back its own write", !(bits & 8));
    check("cow stack: the child's write is not seen by the parent", stack_word == 0xbbbb);
    check("cow global: the child's write is not seen by the parent", global_word == 0xbbbb);
    put_byte(p2c[1], 2);
    check("cow child exits 0", exited_with(pid, 0));
    close2(p2c);
    sys_close(c2p[0]);
}

static void shared(void)
{
    long a = sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sys_is_err(a)) {
        check_ok("MAP_SHARED: mmap", a);
        return;
    }
    volatile long *word = (volatile long *)a;
    *word = 1;
    int p2c[2], c2p[2];
    if (sys_pipe2(p2c, O_CLOEXEC) || sys_pipe2(c2p, O_CLOEXEC)) {
        check("pipe2", 0);
        return;
    }
    long pid = sys_fork();
    if (pid == 0) {
        get_byte(p2c[0]);
        int bad = *word != 2;
        *word = 3;
        put_byte(c2p[1], 1);
        sys_exit_group(bad);
    }
    sys_close(c2p[1]); /* EOF for the parent if the child dies early */
    if (sys_is_err(pid)) {
        check_ok("MAP_SHARED: fork", pid);
        close2(p2c);
        sys_close(c2p[0]);
        sys_munmap((unsigned long)a, PAGE_SIZE);
        return;
    }
    *word = 2;
    put_byte(p2c[1], 1);
    get_byte(c2p[0]);
    check("MAP_SHARED: the parent sees the child's write", *word == 3);
    check("MAP_SHARED: the child sees the parent's write after fork", exited_with(pid, 0));
    close2(p2c);
    sys_close(c2p[0]);
    sys_munmap((unsigned long)a, PAGE_SIZE);
}

static void fd_offsets(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/fork-c-%ld", sys_getpid());
    long fd = sys_openat(AT_FDCWD, path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
    if (sys_is_err(fd)) {
        check_ok("fds: create a file", fd);
        return;
    }
    long pid = sys_fork();
    if (pid == 0)
        sys_exit_group(sys_write((int)fd, "0123456789", 10) == 10 ? 0 : 1);
    check("the child writes through the inherited fd", exited_with(pid, 0));
    check_ok_eq("the child's write advanced the parent's offset (shared)",
                sys_lseek((int)fd, 0, SEEK_CUR), 10);
    sys_write((int)fd, "abcde", 5);
    pid = sys_fork();
    if (pid == 0) {
        int bits = (sys_lseek((int)fd, 0, SEEK_CUR) != 15) | (sys_lseek((int)fd, 3, SEEK_SET) != 3) << 1;
        sys_exit_group(bits);
    }
    check("the child sees the parent's offset and seeks", exited_with(pid, 0));
    check_ok_eq("the child's lseek moved the parent's offset", sys_lseek((int)fd, 0, SEEK_CUR), 3);
    char buf[32];
    long n = sys_pread64((int)fd, buf, sizeof buf, 0);
    check("the file holds the child's then the parent's bytes",
          n == 15 && memcmp(buf, "0123456789abcde", 15) == 0);
    sys_close((int)fd);
    sys_unlinkat(AT_FDCWD, path, 0);
}

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    check_err("wait4(-1) without children ECHILD", sys_wait4(-1, 0, 0), ECHILD);
    return_values();
    many_children();
    killed();
    cow();
    shared();
    fd_offsets();
    check_err("no child left at the end", sys_wait4(-1, 0, WNOHANG), ECHILD);
    return check_status();
}
