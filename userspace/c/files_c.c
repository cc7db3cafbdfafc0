/* File, directory, pipe and file-descriptor system calls, in /tmp/files-c
 * (removed at start and at the end): one line per check, exit status = number
 * of failed checks. Makes the same checks and prints the same lines as the
 * Rust `files`. */
#include "kvmfork.h"

#define DIR "/tmp/files-c"
#define FILE_A DIR "/a"

static int is_reg_size(const struct stat *st, long size) { return S_ISREG(st->st_mode) && st->st_size == size; }

/* The lowest fd that is not open (probed with F_GETFD). */
static int lowest_free_fd(void)
{
    for (int fd = 0; fd < 1 << 20; fd++)
        if (sys_fcntl(fd, F_GETFD, 0) == -EBADF)
            return fd;
    return -1;
}

static long accmode(int fd)
{
    long r = sys_fcntl(fd, F_GETFL, 0);
    return sys_is_err(r) ? r : (r & O_ACCMODE);
}

static void dups(int fd)
{
    /* fcntl flags: the file was opened without O_CLOEXEC */
    check_ok_eq("fcntl F_GETFD", sys_fcntl(fd, F_GETFD, 0), 0);
    check_ok_eq("fcntl F_SETFD FD_CLOEXEC", sys_fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
    check_ok_eq("fcntl F_GETFD after F_SETFD", sys_fcntl(fd, F_GETFD, 0), FD_CLOEXEC);
    check_ok_eq("fcntl F_GETFL O_RDWR", accmode(fd), O_RDWR);
    check_err("fcntl bad fd EBADF", sys_fcntl(999, F_GETFD, 0), EBADF);
    check_err("fcntl bad command EINVAL", sys_fcntl(fd, 9999, 0), EINVAL);

    int low = lowest_free_fd();
    long d = check_ok("dup", sys_dup(fd));
    if (sys_is_err(d))
        return;
    check("dup returns the lowest free fd", d == low);
    check_ok_eq("dup clears FD_CLOEXEC", sys_fcntl((int)d, F_GETFD, 0), 0);
    sys_lseek(fd, 3, SEEK_SET);
    check_ok_eq("dup shares the file offset", sys_lseek((int)d, 0, SEEK_CUR), 3);
    check_err("dup bad fd EBADF", sys_dup(999), EBADF);

    check_ok_eq("dup2 same fd returns it", sys_dup2(fd, fd), fd);
    check_ok_eq("dup2 to a high fd", sys_dup2(fd, 100), 100);
    check_ok_eq("dup2 clears FD_CLOEXEC", sys_fcntl(100, F_GETFD, 0), 0);
    check_ok_eq("dup2 onto an open fd", sys_dup2(fd, (int)d), d);
    check_err("dup2 bad fd EBADF", sys_dup2(999, 101), EBADF);

    check_err("dup3 same fd EINVAL", sys_dup3(fd, fd, 0), EINVAL);
    check_ok_eq("dup3 O_CLOEXEC", sys_dup3(fd, 101, O_CLOEXEC), 101);
    check_ok_eq("dup3 O_CLOEXEC sets FD_CLOEXEC", sys_fcntl(101, F_GETFD, 0), FD_CLOEXEC);
    check_err("dup3 bad flags EINVAL", sys_dup3(fd, 102, O_APPEND), EINVAL);

    long r = sys_fcntl(fd, F_DUPFD_CLOEXEC, 50);
    check("fcntl F_DUPFD_CLOEXEC at least 50", !sys_is_err(r) && r >= 50);
    if (!sys_is_err(r)) {
        check_ok_eq("fcntl F_DUPFD_CLOEXEC sets FD_CLOEXEC", sys_fcntl((int)r, F_GETFD, 0),
                    FD_CLOEXEC);
        sys_close((int)r);
    }
    r = sys_fcntl(fd, F_DUPFD, 60);
    check("fcntl F_DUPFD at least 60", !sys_is_err(r) && r >= 60);
    if (!sys_is_err(r)) {
        check_ok_eq("fcntl F_DUPFD clears FD_CLOEXEC", sys_fcntl((int)r, F_GETFD, 0), 0);
        sys_close((int)r);
    }
    sys_close((int)d);
    sys_close(100);
    sys_close(101);
    sys_fcntl(fd, F_SETFD, 0);
}

static void file_io(int dirfd)
{
    const int excl = O_CREAT | O_EXCL | O_RDWR;
    long r = check_ok("openat create exclusive", sys_openat(AT_FDCWD, FILE_A, excl, 0644));
    if (sys_is_err(r))
        return;
    int fd = (int)r;
    check_err("openat create exclusive again EEXIST", sys_openat(AT_FDCWD, FILE_A, excl, 0644),
              EEXIST);
    check_err("openat missing ENOENT", sys_openat(AT_FDCWD, DIR "/missing", O_RDONLY, 0), ENOENT);
    check_err("openat O_DIRECTORY on a file ENOTDIR",
              sys_openat(AT_FDCWD, FILE_A, O_RDONLY | O_DIRECTORY, 0), ENOTDIR);

    /* write, read, readv, writev */
    check_ok_eq("write 12 bytes", sys_write(fd, "hello world\n", 12), 12);
    check_ok_eq("lseek cur after write", sys_lseek(fd, 0, SEEK_CUR), 12);
    check_ok_eq("lseek set 0", sys_lseek(fd, 0, SEEK_SET), 0);
    char buf[64];
    r = sys_read(fd, buf, 5);
    check("read 5 bytes", r == 5 && memcmp(buf, "hello", 5) == 0);
    char x[3], y[8];
    struct iovec riov[2] = {{x, sizeof x}, {y, sizeof y}};
    check_ok_eq("readv 2 buffers", sys_readv(fd, riov, 2), 7);
    check("readv contents", memcmp(x, " wo", 3) == 0 && memcmp(y, "rld\n", 4) == 0);
    check_ok_eq("read at end returns 0", sys_read(fd, buf, sizeof buf), 0);
    struct iovec wiov[3] = {{"abc", 3}, {"", 0}, {"defg", 4}};
    check_ok_eq("writev 3 buffers", sys_writev(fd, wiov, 3), 7);
    check_ok_eq("lseek end", sys_lseek(fd, 0, SEEK_END), 19);

    /* pread64, pwrite64 at offsets, without moving the file position */
    r = sys_pread64(fd, buf, 5, 6);
    check("pread64 at offset 6", r == 5 && memcmp(buf, "world", 5) == 0);
    check_ok_eq("pread64 keeps position", sys_lseek(fd, 0, SEEK_CUR), 19);
    check_ok_eq("pwrite64 at offset 6", sys_pwrite64(fd, "WORLD", 5, 6), 5);
    check_ok_eq("pwrite64 keeps position", sys_lseek(fd, 0, SEEK_CUR), 19);
    r = sys_pread64(fd, buf, sizeof buf, 0);
    check("pread64 sees pwrite64", r == 19 && memcmp(buf, "hello WORLD\nabcdefg", 19) == 0);
    check_ok_eq("pread64 past end returns 0", sys_pread64(fd, buf, sizeof buf, 100), 0);
    check_err("pread64 negative offset EINVAL", sys_pread64(fd, buf, sizeof buf, -1), EINVAL);

    /* lseek */
    check_ok_eq("lseek cur relative", sys_lseek(fd, -4, SEEK_CUR), 15);
    check_err("lseek negative result EINVAL", sys_lseek(fd, -100, SEEK_SET), EINVAL);
    check_err("lseek cur before start EINVAL", sys_lseek(fd, -1000, SEEK_CUR), EINVAL);
    check_err("lseek end before start EINVAL", sys_lseek(fd, -20, SEEK_END), EINVAL);
    check_err("lseek bad whence EINVAL", sys_lseek(fd, 0, 7), EINVAL);
    check_ok_eq("lseek position unchanged by errors", sys_lseek(fd, 0, SEEK_CUR), 15);
    check_ok_eq("lseek beyond end", sys_lseek(fd, 100, SEEK_SET), 100);
    check_ok_eq("read beyond end returns 0", sys_read(fd, buf, sizeof buf), 0);

    /* fstat, newfstatat */
    struct stat st;
    memset(&st, 0, sizeof st);
    check_ok_eq("fstat", sys_fstat(fd, &st), 0);
    check("fstat size 19", st.st_size == 19);
    check("fstat regular file", S_ISREG(st.st_mode));
    check_ok_eq("newfstatat /tmp", sys_newfstatat(AT_FDCWD, "/tmp", &st, 0), 0);
    check("newfstatat /tmp is a directory", S_ISDIR(st.st_mode));
    r = sys_newfstatat(dirfd, "a", &st, 0);
    check("newfstatat relative to dirfd", r == 0 && is_reg_size(&st, 19));
    check_err("newfstatat missing ENOENT", sys_newfstatat(AT_FDCWD, DIR "/missing", &st, 0),
              ENOENT);
    check_err("newfstatat through a file ENOTDIR", sys_newfstatat(AT_FDCWD, DIR "/a/x", &st, 0),
              ENOTDIR);

    dups(fd);

    /* close */
    check_ok_eq("close", sys_close(fd), 0);
    check_err("close again EBADF", sys_close(fd), EBADF);
    check_err("fstat closed fd EBADF", sys_fstat(fd, &st), EBADF);
    check_err("read closed fd EBADF", sys_read(fd, buf, sizeof buf), EBADF);

    long ro = check_ok("openat read-only", sys_openat(AT_FDCWD, FILE_A, O_RDONLY, 0));
    if (!sys_is_err(ro)) {
        check_err("write to read-only fd EBADF", sys_write((int)ro, "x", 1), EBADF);
        r = sys_read((int)ro, buf, 5);
        check("read read-only fd", r == 5 && memcmp(buf, "hello", 5) == 0);
        sys_close((int)ro);
    }
}

static int create(int dirfd, const char *name)
{
    long fd = sys_openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    return !sys_is_err(fd) && sys_close((int)fd) == 0;
}

#define NAME_MAX_ 32
#define ENTRIES 16

/* The names (and types) in a directory, sorted. */
struct listing {
    char names[ENTRIES][NAME_MAX_ + 1];
    unsigned char types[ENTRIES];
    int n;
    int overflow;
};

static int listing_is(const struct listing *l, const char *const *want, int n)
{
    if (l->overflow || l->n != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(l->names[i], want[i]) != 0)
            return 0;
    return 1;
}

static int type_of(const struct listing *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return l->types[i];
    return -1;
}

/* Reads the whole directory from offset 0 with a small buffer (several
 * getdents64 calls), sorted by name. Returns 0 or -errno. */
static long list(int dirfd, struct listing *l)
{
    l->n = 0;
    l->overflow = 0;
    long r = sys_lseek(dirfd, 0, SEEK_SET);
    if (sys_is_err(r))
        return r;
    /* 8-byte aligned, as the records are. */
    unsigned long words[12];
    char *buf = (char *)words;
    for (;;) {
        long n = sys_getdents64(dirfd, buf, sizeof words);
        if (sys_is_err(n))
            return n;
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            size_t len = strlen(d->d_name);
            if (l->n == ENTRIES || len > NAME_MAX_) {
                l->overflow = 1;
            } else {
                memcpy(l->names[l->n], d->d_name, len + 1);
                l->types[l->n] = d->d_type;
                l->n++;
            }
            off += d->d_reclen;
        }
    }
    /* insertion sort by name */
    for (int i = 1; i < l->n; i++) {
        for (int j = i; j > 0 && strcmp(l->names[j - 1], l->names[j]) > 0; j--) {
            char tmp[NAME_MAX_ + 1];
            memcpy(tmp, l->names[j], sizeof tmp);
            memcpy(l->names[j], l->names[j - 1], sizeof tmp);
            memcpy(l->names[j - 1], tmp, sizeof tmp);
            unsigned char t = l->types[j];
            l->types[j] = l->types[j - 1];
            l->types[j - 1] = t;
        }
    }
    return 0;
}

static void listing(int dirfd)
{
    int made = create(dirfd, "b") && create(dirfd, "c") && sys_mkdirat(dirfd, "sub", 0755) == 0 &&
               create(dirfd, "sub/inner");
    check("create directory entries", made);
    static struct listing l;
    long r = list(dirfd, &l);
    if (r == 0) {
        char name[512];
        size_t n = snprintf(name, sizeof name, "getdents64 names");
        for (int i = 0; i < l.n; i++)
            n += snprintf(name + n, sizeof name - n, " %s", l.names[i]);
        static const char *const want[] = {".", "..", "a", "b", "c", "sub"};
        check(name, listing_is(&l, want, 6));
        int types = type_of(&l, ".") == DT_DIR && type_of(&l, "..") == DT_DIR &&
                    type_of(&l, "a") == DT_REG && type_of(&l, "sub") == DT_DIR;
        check("getdents64 types", types);
    } else {
        check_ok("getdents64", r);
    }
    unsigned long words[32];
    check_ok_eq("getdents64 at end returns 0", sys_getdents64(dirfd, words, sizeof words), 0);
    sys_lseek(dirfd, 0, SEEK_SET);
    check_err("getdents64 buffer too small EINVAL", sys_getdents64(dirfd, words, 8), EINVAL);
    long fd = check_ok("openat relative to dirfd", sys_openat(dirfd, "a", O_RDONLY | O_CLOEXEC, 0));
    if (!sys_is_err(fd)) {
        check_err("getdents64 on a file ENOTDIR", sys_getdents64((int)fd, words, sizeof words),
                  ENOTDIR);
        sys_close((int)fd);
    }
}

static void removal(int dirfd)
{
    check_err("unlinkat non-empty directory ENOTEMPTY",
              sys_unlinkat(AT_FDCWD, DIR "/sub", AT_REMOVEDIR), ENOTEMPTY);
    check_err("unlinkat file with AT_REMOVEDIR ENOTDIR",
              sys_unlinkat(AT_FDCWD, DIR "/b", AT_REMOVEDIR), ENOTDIR);
    check_err("unlinkat directory without AT_REMOVEDIR EISDIR", sys_unlinkat(AT_FDCWD, DIR "/sub", 0),
              EISDIR);
    check_err("unlinkat missing ENOENT", sys_unlinkat(dirfd, "missing", 0), ENOENT);
    check_ok_eq("unlinkat file", sys_unlinkat(dirfd, "sub/inner", 0), 0);
    check_ok_eq("unlinkat empty directory", sys_unlinkat(dirfd, "sub", AT_REMOVEDIR), 0);
    int all = sys_unlinkat(dirfd, "a", 0) == 0;
    all = all && sys_unlinkat(dirfd, "b", 0) == 0;
    all = all && sys_unlinkat(dirfd, "c", 0) == 0;
    check("unlinkat remaining files", all);
    struct stat st;
    check_err("newfstatat removed file ENOENT", sys_newfstatat(AT_FDCWD, FILE_A, &st, 0), ENOENT);
    static struct listing l;
    static const char *const want[] = {".", ".."};
    check("directory empty", list(dirfd, &l) == 0 && listing_is(&l, want, 2));
}

static void pipes(void)
{
    int fds[2];
    if (sys_is_err(check_ok("pipe2 O_CLOEXEC", sys_pipe2(fds, O_CLOEXEC))))
        return;
    int r = fds[0], w = fds[1];
    check_ok_eq("pipe write", sys_write(w, "ping", 4), 4);
    char buf[16];
    long n = sys_read(r, buf, sizeof buf);
    check("pipe read", n == 4 && memcmp(buf, "ping", 4) == 0);
    check_ok_eq("pipe2 O_CLOEXEC read end", sys_fcntl(r, F_GETFD, 0), FD_CLOEXEC);
    check_ok_eq("pipe2 O_CLOEXEC write end", sys_fcntl(w, F_GETFD, 0), FD_CLOEXEC);
    check_ok_eq("pipe read end O_RDONLY", accmode(r), O_RDONLY);
    check_ok_eq("pipe write end O_WRONLY", accmode(w), O_WRONLY);
    struct stat st;
    check("fstat pipe is a fifo", sys_fstat(r, &st) == 0 && S_ISFIFO(st.st_mode));
    check_err("lseek pipe ESPIPE", sys_lseek(r, 0, SEEK_CUR), ESPIPE);
    check_err("pread64 pipe ESPIPE", sys_pread64(r, buf, sizeof buf, 0), ESPIPE);
    check_err("read from write end EBADF", sys_read(w, buf, sizeof buf), EBADF);
    check_err("write to read end EBADF", sys_write(r, "x", 1), EBADF);
    check_ok_eq("close write end", sys_close(w), 0);
    check_ok_eq("pipe read after writer closed returns 0", sys_read(r, buf, sizeof buf), 0);
    check_ok_eq("close read end", sys_close(r), 0);
    check_err("pipe2 bad flags EINVAL", sys_pipe2(fds, O_APPEND), EINVAL);
    long p = sys_pipe2(fds, 0);
    check("pipe2 without O_CLOEXEC", p == 0 && sys_fcntl(fds[0], F_GETFD, 0) == 0);
    if (p == 0) {
        sys_close(fds[0]);
        sys_close(fds[1]);
    }
}

static void std_fds(void)
{
    struct stat st;
    check_ok_eq("fstat fd 0", sys_fstat(0, &st), 0);
    check_ok_eq("fstat fd 1", sys_fstat(1, &st), 0);
    check_ok_eq("fstat fd 2", sys_fstat(2, &st), 0);
    check_ok_eq("write 0 bytes to fd 1", sys_write(1, "", 0), 0);
    check_ok_eq("write 0 bytes to fd 2", sys_write(2, "", 0), 0);
}

/* Removes path (relative to dirfd) and everything below it; errors ignored. */
static void remove_tree(int dirfd, const char *path)
{
    long fd = sys_openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (sys_is_err(fd)) {
        sys_unlinkat(dirfd, path, 0);
        return;
    }
    unsigned long words[128];
    char *buf = (char *)words;
    /* Removing while reading can skip entries: read again from the start until
     * a pass removes nothing. */
    for (int pass = 0; pass < 16; pass++) {
        sys_lseek((int)fd, 0, SEEK_SET);
        int removed = 0;
        long n;
        while ((n = sys_getdents64((int)fd, buf, sizeof words)) > 0) {
            for (long off = 0; off < n;) {
                struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
                if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
                    remove_tree((int)fd, d->d_name);
                    removed = 1;
                }
                off += d->d_reclen;
            }
        }
        if (!removed)
            break;
    }
    sys_close((int)fd);
    sys_unlinkat(dirfd, path, AT_REMOVEDIR);
}

int main(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    remove_tree(AT_FDCWD, DIR);
    if (check_ok_eq("mkdirat", sys_mkdirat(AT_FDCWD, DIR, 0755), 0)) {
        check_err("mkdirat existing EEXIST", sys_mkdirat(AT_FDCWD, DIR, 0755), EEXIST);
        long dirfd = check_ok("open directory", sys_openat(AT_FDCWD, DIR, O_RDONLY | O_DIRECTORY, 0));
        if (!sys_is_err(dirfd)) {
            file_io((int)dirfd);
            listing((int)dirfd);
            removal((int)dirfd);
            check_ok_eq("close directory", sys_close((int)dirfd), 0);
        }
        check_ok_eq("unlinkat top directory", sys_unlinkat(AT_FDCWD, DIR, AT_REMOVEDIR), 0);
    }
    pipes();
    std_fds();
    remove_tree(AT_FDCWD, DIR);
    return check_status();
}
