/*
 * kvmfork.h: freestanding support for C test programs that run both on Linux
 * and in the kvmfork guest kernel. Build with
 *
 *   gcc -static -nostdlib -ffreestanding -fno-pie -no-pie -O2 -fno-stack-protector
 *
 * A static PIE (`-static-pie -fpie` instead of `-static -fno-pie -no-pie`;
 * vmm/build/userspace.rs builds userspace/c/NAME_pie.c that way) defines
 * KVMFORK_STATIC_PIE before including this header: `_start` then applies the
 * program's own relocations before main (see kvmfork_self_relocate).
 *
 * The header defines (not only declares) everything, including `_start`,
 * `memcpy` and `memset`: include it in exactly one .c file per program.
 *
 * - `_start` takes the System V initial stack (argc, argv, NULL, envp, NULL,
 *   auxv pairs), records AT_SYSINFO, calls `int main(int argc, char **argv,
 *   char **envp)` and passes its result to exit_group.
 * - `sys_call6(nr, a1, ..., a6)` (and sys_call0..5) return the raw kernel
 *   result, -errno on error. They `call` the AT_SYSINFO entry with the
 *   registers of the `syscall` instruction when the kernel passed one, else use
 *   `syscall` (Linux passes none).
 * - `sys_*` wrappers for the calls the test programs use, Linux x86-64 numbers
 *   (SYS_*), errno values (E*), flag values (all from kvmfork_uapi.h, generated
 *   from the uapi crate) and structures.
 * - memcpy, memmove, memset, memcmp, strlen, strcmp; `printf`/`fdprintf`
 *   (%d %i %u %x %s %c %% with l/ll/z sizes) that write one line per `write`,
 *   and `snprintf` into a buffer.
 * - check helpers printing `ok <name>` / `FAIL <name>: ...` like the Rust
 *   `userspace::Checker`, and `check_status()` = number of failed checks.
 */
#ifndef KVMFORK_H
#define KVMFORK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef long ssize_t;
typedef long off_t;

/* ---- constants: system-call numbers (SYS_* and __NR_*), errno values, flags,
 * codes; generated from the uapi crate, the one definition of each ---- */
#include "kvmfork_uapi.h"

#define PAGE_SIZE 4096UL

/* file types, wait status (functions of Linux's values) */
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISFIFO(m) (((m) & S_IFMT) == S_IFIFO)
#define S_ISCHR(m) (((m) & S_IFMT) == S_IFCHR)
#define WIFEXITED(s) (((s) & 0x7f) == 0)
#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WIFSIGNALED(s) (((s) & 0x7f) != 0 && ((s) & 0x7f) != 0x7f)
#define WTERMSIG(s) ((s) & 0x7f)

/* ---- structures (x86-64 layouts) ---- */
struct timespec {
    long tv_sec;
    long tv_nsec;
};

struct stat {
    unsigned long st_dev;
    unsigned long st_ino;
    unsigned long st_nlink;
    unsigned int st_mode;
    unsigned int st_uid;
    unsigned int st_gid;
    unsigned int __pad0;
    unsigned long st_rdev;
    long st_size;
    long st_blksize;
    long st_blocks;
    long st_atime;
    long st_atime_nsec;
    long st_mtime;
    long st_mtime_nsec;
    long st_ctime;
    long st_ctime_nsec;
    long __unused[3];
};

struct iovec {
    void *iov_base;
    size_t iov_len;
};

struct utsname {
    char sysname[65];
    char nodename[65];
    char release[65];
    char version[65];
    char machine[65];
    char domainname[65];
};

struct rlimit {
    unsigned long rlim_cur;
    unsigned long rlim_max;
};

struct winsize {
    unsigned short ws_row;
    unsigned short ws_col;
    unsigned short ws_xpixel;
    unsigned short ws_ypixel;
};

/* siginfo_t (128 bytes) with the members of kill and SIGCHLD. */
struct siginfo {
    int si_signo;
    int si_errno;
    int si_code;
    int __pad0;
    int si_pid;
    unsigned si_uid;
    int si_status;
    int __pad1[25];
};

struct linux_dirent64 {
    unsigned long d_ino;
    long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* ---- system calls ---- */

/* The AT_SYSINFO entry, 0 to use the `syscall` instruction. */
static unsigned long kvmfork_sysinfo;

/* Whether system calls go through an AT_SYSINFO entry. */
static inline __attribute__((unused)) int kvmfork_uses_sysinfo(void) { return kvmfork_sysinfo != 0; }

long sys_call6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    if (kvmfork_sysinfo) {
        /* `call` pushes the return address below RSP: step over the red zone
         * first. The kernel returns to that address and pops it. */
        __asm__ volatile("sub $128, %%rsp\n\t"
                         "call *%[entry]\n\t"
                         "add $128, %%rsp"
                         : "=a"(ret)
                         : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9),
                           [entry] "r"(kvmfork_sysinfo)
                         : "rcx", "r11", "memory", "cc");
    } else {
        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory", "cc");
    }
    return ret;
}

#define KF_UNUSED static inline __attribute__((unused))

KF_UNUSED long sys_call0(long nr) { return sys_call6(nr, 0, 0, 0, 0, 0, 0); }
KF_UNUSED long sys_call1(long nr, long a1) { return sys_call6(nr, a1, 0, 0, 0, 0, 0); }
KF_UNUSED long sys_call2(long nr, long a1, long a2) { return sys_call6(nr, a1, a2, 0, 0, 0, 0); }
KF_UNUSED long sys_call3(long nr, long a1, long a2, long a3)
{
    return sys_call6(nr, a1, a2, a3, 0, 0, 0);
}
KF_UNUSED long sys_call4(long nr, long a1, long a2, long a3, long a4)
{
    return sys_call6(nr, a1, a2, a3, a4, 0, 0);
}
KF_UNUSED long sys_call5(long nr, long a1, long a2, long a3, long a4, long a5)
{
    return sys_call6(nr, a1, a2, a3, a4, a5, 0);
}

/* A system call with the `syscall` instruction itself, never the AT_SYSINFO entry. */
KF_UNUSED long raw_syscall3(long nr, long a1, long a2, long a3)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3)
                     : "rcx", "r11", "memory", "cc");
    return ret;
}

/* Whether a raw result is an error (-4095..-1). */
KF_UNUSED int sys_is_err(long r) { return r < 0 && r >= -4095; }

#define L(x) ((long)(x))
KF_UNUSED long sys_read(int fd, void *buf, size_t n) { return sys_call3(SYS_read, fd, L(buf), L(n)); }
KF_UNUSED long sys_write(int fd, const void *buf, size_t n)
{
    return sys_call3(SYS_write, fd, L(buf), L(n));
}
KF_UNUSED long sys_readv(int fd, const struct iovec *iov, int n)
{
    return sys_call3(SYS_readv, fd, L(iov), n);
}
KF_UNUSED long sys_writev(int fd, const struct iovec *iov, int n)
{
    return sys_call3(SYS_writev, fd, L(iov), n);
}
KF_UNUSED long sys_pread64(int fd, void *buf, size_t n, long off)
{
    return sys_call4(SYS_pread64, fd, L(buf), L(n), off);
}
KF_UNUSED long sys_pwrite64(int fd, const void *buf, size_t n, long off)
{
    return sys_call4(SYS_pwrite64, fd, L(buf), L(n), off);
}
KF_UNUSED long sys_openat(int dirfd, const char *path, int flags, int mode)
{
    return sys_call4(SYS_openat, dirfd, L(path), flags, mode);
}
KF_UNUSED long sys_close(int fd) { return sys_call1(SYS_close, fd); }
KF_UNUSED long sys_lseek(int fd, long off, int whence) { return sys_call3(SYS_lseek, fd, off, whence); }
KF_UNUSED long sys_fstat(int fd, struct stat *st) { return sys_call2(SYS_fstat, fd, L(st)); }
KF_UNUSED long sys_newfstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    return sys_call4(SYS_newfstatat, dirfd, L(path), L(st), flags);
}
KF_UNUSED long sys_getdents64(int fd, void *buf, size_t n)
{
    return sys_call3(SYS_getdents64, fd, L(buf), L(n));
}
KF_UNUSED long sys_mkdirat(int dirfd, const char *path, int mode)
{
    return sys_call3(SYS_mkdirat, dirfd, L(path), mode);
}
KF_UNUSED long sys_unlinkat(int dirfd, const char *path, int flags)
{
    return sys_call3(SYS_unlinkat, dirfd, L(path), flags);
}
KF_UNUSED long sys_pipe2(int fds[2], int flags) { return sys_call2(SYS_pipe2, L(fds), flags); }
KF_UNUSED long sys_dup(int fd) { return sys_call1(SYS_dup, fd); }
KF_UNUSED long sys_dup2(int old, int new_) { return sys_call2(SYS_dup2, old, new_); }
KF_UNUSED long sys_dup3(int old, int new_, int flags) { return sys_call3(SYS_dup3, old, new_, flags); }
KF_UNUSED long sys_fcntl(int fd, int cmd, long arg) { return sys_call3(SYS_fcntl, fd, cmd, arg); }
KF_UNUSED long sys_ioctl(int fd, unsigned long req, long arg)
{
    return sys_call3(SYS_ioctl, fd, L(req), arg);
}
KF_UNUSED long sys_getpid(void) { return sys_call0(SYS_getpid); }
KF_UNUSED long sys_getppid(void) { return sys_call0(SYS_getppid); }
KF_UNUSED long sys_gettid(void) { return sys_call0(SYS_gettid); }
KF_UNUSED long sys_getuid(void) { return sys_call0(SYS_getuid); }
KF_UNUSED long sys_geteuid(void) { return sys_call0(SYS_geteuid); }
KF_UNUSED long sys_getgid(void) { return sys_call0(SYS_getgid); }
KF_UNUSED long sys_getegid(void) { return sys_call0(SYS_getegid); }
KF_UNUSED long sys_uname(struct utsname *u) { return sys_call1(SYS_uname, L(u)); }
KF_UNUSED long sys_kill(int pid, int sig) { return sys_call2(SYS_kill, pid, sig); }
KF_UNUSED long sys_set_tid_address(int *tidptr) { return sys_call1(SYS_set_tid_address, L(tidptr)); }
KF_UNUSED long sys_arch_prctl(int code, unsigned long addr)
{
    return sys_call2(SYS_arch_prctl, code, L(addr));
}
KF_UNUSED long sys_clock_gettime(int clock, struct timespec *tp)
{
    return sys_call2(SYS_clock_gettime, clock, L(tp));
}
KF_UNUSED long sys_nanosleep(const struct timespec *req, struct timespec *rem)
{
    return sys_call2(SYS_nanosleep, L(req), L(rem));
}
KF_UNUSED long sys_clock_nanosleep(int clock, int flags, const struct timespec *req,
                                   struct timespec *rem)
{
    return sys_call4(SYS_clock_nanosleep, clock, flags, L(req), L(rem));
}
KF_UNUSED long sys_sched_yield(void) { return sys_call0(SYS_sched_yield); }
KF_UNUSED long sys_getrandom(void *buf, size_t n, unsigned flags)
{
    return sys_call3(SYS_getrandom, L(buf), L(n), flags);
}
KF_UNUSED long sys_prlimit64(int pid, int res, const struct rlimit *new_, struct rlimit *old)
{
    return sys_call4(SYS_prlimit64, pid, res, L(new_), L(old));
}
KF_UNUSED long sys_getrlimit(int res, struct rlimit *old) { return sys_call2(SYS_getrlimit, res, L(old)); }
KF_UNUSED long sys_setrlimit(int res, const struct rlimit *new_)
{
    return sys_call2(SYS_setrlimit, res, L(new_));
}
KF_UNUSED long sys_futex(volatile unsigned *uaddr, int op, unsigned val, const struct timespec *timeout)
{
    return sys_call4(SYS_futex, L(uaddr), op, val, L(timeout));
}
KF_UNUSED long sys_mmap(unsigned long addr, size_t len, int prot, int flags, int fd, long off)
{
    return sys_call6(SYS_mmap, L(addr), L(len), prot, flags, fd, off);
}
KF_UNUSED long sys_munmap(unsigned long addr, size_t len) { return sys_call2(SYS_munmap, L(addr), L(len)); }
KF_UNUSED long sys_mprotect(unsigned long addr, size_t len, int prot)
{
    return sys_call3(SYS_mprotect, L(addr), L(len), prot);
}
/* The new (or, on failure, unchanged) break; sys_brk(0) queries. */
KF_UNUSED unsigned long sys_brk(unsigned long addr) { return (unsigned long)sys_call1(SYS_brk, L(addr)); }
KF_UNUSED __attribute__((noreturn)) void sys_exit_group(int status)
{
    sys_call1(SYS_exit_group, status);
    for (;;)
        ;
}
/* fork: 0 in the child, the child's pid in the parent (it returns twice). */
KF_UNUSED long sys_fork(void) { return sys_call0(SYS_fork); }
/* Ends the calling thread (the process with its last thread). */
KF_UNUSED __attribute__((noreturn)) void sys_exit(int status)
{
    sys_call1(SYS_exit, status);
    for (;;)
        ;
}
KF_UNUSED long sys_wait4(int pid, int *status, int options)
{
    return sys_call4(SYS_wait4, pid, L(status), options, 0);
}
KF_UNUSED long sys_waitid(int idtype, int id, struct siginfo *info, int options)
{
    return sys_call5(SYS_waitid, idtype, id, L(info), options, 0);
}
KF_UNUSED long sys_tgkill(int tgid, int tid, int sig) { return sys_call3(SYS_tgkill, tgid, tid, sig); }
KF_UNUSED long sys_getpgid(int pid) { return sys_call1(SYS_getpgid, pid); }
KF_UNUSED long sys_setpgid(int pid, int pgid) { return sys_call2(SYS_setpgid, pid, pgid); }
KF_UNUSED long sys_setsid(void) { return sys_call0(SYS_setsid); }
KF_UNUSED long sys_getsid(int pid) { return sys_call1(SYS_getsid, pid); }
KF_UNUSED long sys_setuid(unsigned uid) { return sys_call1(SYS_setuid, uid); }
KF_UNUSED long sys_setgid(unsigned gid) { return sys_call1(SYS_setgid, gid); }
KF_UNUSED long sys_prctl(int option, long a2, long a3, long a4, long a5)
{
    return sys_call5(SYS_prctl, option, a2, a3, a4, a5);
}
#undef L

/* ---- memory and strings (gcc may emit calls to memcpy/memset/memmove/memcmp) ---- */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    /* Overlapping with dst above src: copy backwards. */
    d += n - 1;
    s += n - 1;
    __asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

KF_UNUSED size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

KF_UNUSED int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

/* ---- formatted output: one `write` per line ---- */
struct kf_out {
    int fd;      /* where kf_flush writes; -1: append to str instead */
    size_t len;
    char buf[512];
    char *str;   /* for snprintf: destination, capacity (incl. NUL), length */
    size_t str_cap, str_len;
};

KF_UNUSED void kf_flush(struct kf_out *o)
{
    size_t done = 0;
    if (o->fd < 0) {
        for (size_t i = 0; i < o->len; i++)
            if (o->str_len + 1 < o->str_cap)
                o->str[o->str_len++] = o->buf[i];
        if (o->str_cap)
            o->str[o->str_len] = '\0';
        o->len = 0;
        return;
    }
    while (done < o->len) {
        long r = sys_write(o->fd, o->buf + done, o->len - done);
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    o->len = 0;
}

KF_UNUSED void kf_putc(struct kf_out *o, char c)
{
    if (o->len == sizeof o->buf)
        kf_flush(o);
    o->buf[o->len++] = c;
}

KF_UNUSED void kf_puts(struct kf_out *o, const char *s)
{
    while (*s)
        kf_putc(o, *s++);
}

KF_UNUSED void kf_putu(struct kf_out *o, unsigned long v, unsigned base)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        kf_putc(o, tmp[--n]);
}

/* %d %i %u %x %s %c %% with optional l, ll or z; '\n' ends a write. */
KF_UNUSED void kf_vformat(struct kf_out *o, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            kf_putc(o, *fmt);
            if (*fmt == '\n')
                kf_flush(o);
            continue;
        }
        int lng = 0;
        fmt++;
        while (*fmt == 'l' || *fmt == 'z') {
            lng = 1;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            long v = lng ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) {
                kf_putc(o, '-');
                kf_putu(o, -(unsigned long)v, 10);
            } else {
                kf_putu(o, (unsigned long)v, 10);
            }
            break;
        }
        case 'u':
            kf_putu(o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10);
            break;
        case 'x':
            kf_putu(o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            kf_puts(o, s ? s : "(null)");
            break;
        }
        case 'c':
            kf_putc(o, (char)va_arg(ap, int));
            break;
        case '%':
            kf_putc(o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            kf_putc(o, '%');
            kf_putc(o, *fmt);
        }
    }
}

KF_UNUSED __attribute__((format(printf, 2, 3))) void fdprintf(int fd, const char *fmt, ...)
{
    struct kf_out o;
    o.fd = fd;
    o.len = 0;
    va_list ap;
    va_start(ap, fmt);
    kf_vformat(&o, fmt, ap);
    va_end(ap);
    kf_flush(&o);
}

#define printf(...) fdprintf(1, __VA_ARGS__)

/* Formats into buf (always NUL-terminated if size > 0); returns the length
 * stored, at most size - 1. */
KF_UNUSED __attribute__((format(printf, 3, 4))) size_t snprintf(char *buf, size_t size,
                                                                 const char *fmt, ...)
{
    struct kf_out o;
    o.fd = -1;
    o.len = 0;
    o.str = buf;
    o.str_cap = size;
    o.str_len = 0;
    va_list ap;
    va_start(ap, fmt);
    kf_vformat(&o, fmt, ap);
    va_end(ap);
    kf_flush(&o);
    return o.str_len;
}

/* ---- errno names (as the Rust Errno displays them) ---- */
KF_UNUSED const char *errno_name(long e)
{
    static char other[32];
    switch (e) {
#define KF_E(n) \
    case n:     \
        return #n;
        KF_E(EPERM) KF_E(ENOENT) KF_E(ESRCH) KF_E(EINTR) KF_E(EIO) KF_E(ENXIO) KF_E(E2BIG)
        KF_E(ENOEXEC) KF_E(EBADF) KF_E(ECHILD) KF_E(EAGAIN) KF_E(ENOMEM) KF_E(EACCES)
        KF_E(EFAULT) KF_E(EBUSY) KF_E(EEXIST) KF_E(EXDEV) KF_E(ENODEV) KF_E(ENOTDIR)
        KF_E(EISDIR) KF_E(EINVAL) KF_E(ENFILE) KF_E(EMFILE) KF_E(ENOTTY) KF_E(EFBIG)
        KF_E(ENOSPC) KF_E(ESPIPE) KF_E(EROFS) KF_E(EMLINK) KF_E(EPIPE) KF_E(ERANGE)
        KF_E(EDEADLK) KF_E(ENAMETOOLONG) KF_E(ENOSYS) KF_E(ENOTEMPTY) KF_E(ELOOP)
        KF_E(ETIMEDOUT)
#undef KF_E
    }
    /* "errno N" */
    char *p = other + sizeof other;
    unsigned long v = e < 0 ? -(unsigned long)e : (unsigned long)e;
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (e < 0)
        *--p = '-';
    p -= 6;
    memcpy(p, "errno ", 6);
    return p;
}

/* ---- checks: one line each, like the Rust userspace::Checker ---- */
static unsigned kvmfork_failed;

/* Records `cond` under `name`; returns it. */
KF_UNUSED int check(const char *name, int cond)
{
    if (cond) {
        printf("ok %s\n", name);
    } else {
        kvmfork_failed++;
        printf("FAIL %s\n", name);
    }
    return cond;
}

/* Expects success (r >= 0); returns r. */
KF_UNUSED long check_ok(const char *name, long r)
{
    if (sys_is_err(r)) {
        kvmfork_failed++;
        printf("FAIL %s: %s\n", name, errno_name(-r));
    } else {
        printf("ok %s\n", name);
    }
    return r;
}

/* Expects success with value `want`. */
KF_UNUSED int check_ok_eq(const char *name, long r, long want)
{
    if (r == want) {
        printf("ok %s\n", name);
        return 1;
    }
    kvmfork_failed++;
    if (sys_is_err(r))
        printf("FAIL %s: %s\n", name, errno_name(-r));
    else
        printf("FAIL %s: got %ld, want %ld\n", name, r, want);
    return 0;
}

/* Expects error `want` (r == -want). */
KF_UNUSED int check_err(const char *name, long r, long want)
{
    if (r == -want) {
        printf("ok %s\n", name);
        return 1;
    }
    kvmfork_failed++;
    if (sys_is_err(r))
        printf("FAIL %s: got %s, want %s\n", name, errno_name(-r), errno_name(want));
    else
        printf("FAIL %s: succeeded, want %s\n", name, errno_name(want));
    return 0;
}

/* The exit status: the number of failed checks, at most 255. */
KF_UNUSED int check_status(void) { return kvmfork_failed > 255 ? 255 : (int)kvmfork_failed; }

/* ---- program entry ---- */
int main(int argc, char **argv, char **envp);

/* The auxiliary vector, set at start. */
static unsigned long *kvmfork_auxv;

/* The value of auxiliary-vector entry `type`, 0 if absent. */
KF_UNUSED unsigned long getauxval(unsigned long type)
{
    for (unsigned long *a = kvmfork_auxv; a && a[0] != AT_NULL; a += 2)
        if (a[0] == type)
            return a[1];
    return 0;
}

#ifdef KVMFORK_STATIC_PIE
/* ---- static PIE: the program relocates itself ----
 *
 * A static PIE (gcc -static-pie, ET_DYN without PT_INTERP) is linked at
 * address 0 and loaded wherever the kernel chooses; no dynamic linker runs, so
 * the words holding absolute addresses (pointers in initialized data) are
 * still link-time values until the start-up code applies the R_X86_64_RELATIVE
 * relocations listed in the dynamic section: *(bias + offset) = bias + addend.
 *
 * The load bias needs no auxiliary vector (AT_BASE is 0 without an
 * interpreter): it is the run-time address of _DYNAMIC (RIP-relative, so
 * correct before relocation) minus its link-time address, the p_vaddr of
 * PT_DYNAMIC in the program headers, read through __ehdr_start (the ELF header
 * as loaded). Both symbols are defined by the linker and declared hidden so
 * the compiler addresses them RIP-relative rather than through the GOT, which
 * is itself not relocated yet. Until the relocations are applied the code may
 * use no pointer stored in initialized data; kvmfork_start does it first. */
struct kf_elf64_ehdr {
    unsigned char e_ident[16];
    uint16_t e_type, e_machine;
    uint32_t e_version;
    uint64_t e_entry, e_phoff, e_shoff;
    uint32_t e_flags;
    uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};
struct kf_elf64_phdr {
    uint32_t p_type, p_flags;
    uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};
struct kf_elf64_dyn {
    int64_t d_tag;
    uint64_t d_val;
};
struct kf_elf64_rela {
    uint64_t r_offset, r_info;
    int64_t r_addend;
};
#define KF_DT_NULL 0
#define KF_DT_RELA 7
#define KF_DT_RELASZ 8
#define KF_DT_RELAENT 9
#define KF_DT_REL 17
#define KF_DT_RELSZ 18
#define KF_DT_TEXTREL 22
#define KF_DT_RELRSZ 35
#define KF_DT_RELR 36
#define KF_DT_RELRENT 37
#define KF_R_X86_64_NONE 0
#define KF_R_X86_64_RELATIVE 8

extern const struct kf_elf64_ehdr __ehdr_start __attribute__((visibility("hidden")));
extern struct kf_elf64_dyn _DYNAMIC[] __attribute__((visibility("hidden")));

/* Start-up failure before main: a message on fd 2, exit status 127. Uses only
 * string literals (RIP-relative) and the system-call stub. */
static __attribute__((noreturn, noinline)) void kvmfork_reloc_fail(const char *why)
{
    static const char prefix[] = "static PIE start-up: ";
    sys_call3(SYS_write, 2, (long)prefix, (long)(sizeof prefix - 1));
    sys_call3(SYS_write, 2, (long)why, (long)strlen(why));
    sys_call3(SYS_write, 2, (long)"\n", 1);
    sys_exit_group(127);
}

/* Applies the program's own relocations (DT_RELA, and DT_RELR should the
 * linker pack them); anything but R_X86_64_RELATIVE is refused. */
static __attribute__((noinline)) void kvmfork_self_relocate(void)
{
    const unsigned char *ehdr = (const unsigned char *)&__ehdr_start;
    const struct kf_elf64_phdr *ph =
        (const struct kf_elf64_phdr *)(ehdr + __ehdr_start.e_phoff);
    uint64_t dyn_vaddr = 0, base_vaddr = 0;
    int have_dyn = 0, have_base = 0;
    for (unsigned i = 0; i < __ehdr_start.e_phnum; i++) {
        if (ph[i].p_type == PT_DYNAMIC) {
            dyn_vaddr = ph[i].p_vaddr;
            have_dyn = 1;
        } else if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0 && !have_base) {
            base_vaddr = ph[i].p_vaddr;
            have_base = 1;
        }
    }
    if (!have_dyn)
        kvmfork_reloc_fail("no PT_DYNAMIC program header (not linked with -static-pie?)");
    uint64_t bias = (uint64_t)(uintptr_t)_DYNAMIC - dyn_vaddr;
    /* The ELF header is where the first segment put it: the same bias. */
    if (!have_base || (uint64_t)(uintptr_t)ehdr - base_vaddr != bias)
        kvmfork_reloc_fail("the ELF header and _DYNAMIC disagree about the load bias");

    uint64_t rela = 0, relasz = 0, relaent = sizeof(struct kf_elf64_rela);
    uint64_t relr = 0, relrsz = 0, relrent = sizeof(uint64_t);
    for (const struct kf_elf64_dyn *d = _DYNAMIC; d->d_tag != KF_DT_NULL; d++) {
        switch (d->d_tag) {
        case KF_DT_RELA: rela = d->d_val; break;
        case KF_DT_RELASZ: relasz = d->d_val; break;
        case KF_DT_RELAENT: relaent = d->d_val; break;
        case KF_DT_RELR: relr = d->d_val; break;
        case KF_DT_RELRSZ: relrsz = d->d_val; break;
        case KF_DT_RELRENT: relrent = d->d_val; break;
        case KF_DT_REL:
        case KF_DT_RELSZ: kvmfork_reloc_fail("DT_REL relocations (x86-64 uses DT_RELA)");
        case KF_DT_TEXTREL: kvmfork_reloc_fail("relocations in read-only code (DT_TEXTREL)");
        }
    }
    if (relaent != sizeof(struct kf_elf64_rela) || relrent != sizeof(uint64_t))
        kvmfork_reloc_fail("unexpected DT_RELAENT or DT_RELRENT");

    const struct kf_elf64_rela *r = (const struct kf_elf64_rela *)(uintptr_t)(bias + rela);
    for (uint64_t i = 0; rela && i < relasz / sizeof *r; i++) {
        uint32_t type = (uint32_t)r[i].r_info;
        if (type == KF_R_X86_64_RELATIVE)
            *(uint64_t *)(uintptr_t)(bias + r[i].r_offset) = bias + (uint64_t)r[i].r_addend;
        else if (type != KF_R_X86_64_NONE)
            kvmfork_reloc_fail("a relocation other than R_X86_64_RELATIVE");
    }

    /* DT_RELR: an even entry is the address of a word to relocate; an odd one
     * is a bitmap of the 63 words that follow the last address. */
    const uint64_t *p = (const uint64_t *)(uintptr_t)(bias + relr);
    uint64_t *where = 0;
    for (uint64_t i = 0; relr && i < relrsz / sizeof *p; i++) {
        if ((p[i] & 1) == 0) {
            where = (uint64_t *)(uintptr_t)(bias + p[i]);
            *where++ += bias;
        } else {
            if (!where)
                kvmfork_reloc_fail("DT_RELR bitmap before any address");
            for (uint64_t bits = p[i] >> 1, k = 0; bits; bits >>= 1, k++)
                if (bits & 1)
                    where[k] += bias;
            where += 63;
        }
    }
    /* The relocated words are ordinary memory to the compiler: nothing may
     * read them before this point. */
    __asm__ volatile("" : : : "memory");
}
#endif /* KVMFORK_STATIC_PIE */

__attribute__((used, noreturn)) void kvmfork_start(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    char **e = envp;
    while (*e)
        e++;
    kvmfork_auxv = (unsigned long *)(e + 1);
    kvmfork_sysinfo = getauxval(AT_SYSINFO);
#ifdef KVMFORK_STATIC_PIE
    /* Before main and before anything reads a pointer from initialized data
     * (the code above uses only the stack and two zero-initialized words). */
    kvmfork_self_relocate();
    __asm__ volatile("" : : : "memory");
#endif
    sys_exit_group(main(argc, argv, envp));
}

__asm__(".text\n"
        ".global _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "    xor %ebp, %ebp\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call kvmfork_start\n"
        "    hlt\n"
        ".size _start, . - _start\n");

#endif /* KVMFORK_H */
