/*
 * secret.c owns <data-dir>/secret, the one key that signs UserSigs and JWTs
 * (PROTOCOL.md §10). It must never leave a partly written key where another
 * process could read it, never widen the file's mode beyond 0600, and never
 * replace a key that exists: every signature already handed out depends on
 * it. A new key is written whole to a private temporary file and published
 * with link(), which fails instead of overwriting, so when two processes
 * start on a fresh directory at once both end up with the winner's key.
 */
#include "auth/sig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    LR_SECRET_FILE_MAX = 4096, /* longer files are not a key we wrote or expect */
    LR_SECRET_RAND_BYTES = 32, /* 256-bit key, written as 64 hex digits */
    LR_SECRET_TMP_TRIES = 8,
};

static int errno_code(int e)
{
    switch (e) {
    case ENOENT:
        return LR_ENOENT;
    case EEXIST:
        return LR_EEXIST;
    case ENOMEM:
        return LR_ENOMEM;
    case ENAMETOOLONG:
        return LR_ELIMIT;
    default:
        return LR_EIO;
    }
}

/* mkdir -p; only directories created here get 0700, existing ones are left
 * as the operator made them. */
static int mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0) return LR_EINVAL;
    if (len >= sizeof path) return LR_ELIMIT;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        if (path[i - 1] == '/') continue; /* "a//b" */
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) return errno_code(errno);
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0) return errno_code(errno);
    return S_ISDIR(st.st_mode) ? LR_OK : LR_EIO;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return LR_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return LR_OK;
}

/* Reads the key; LR_ENOENT when the file does not exist yet. */
static int secret_load(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_code(errno);
    char buf[LR_SECRET_FILE_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return LR_EIO;
        }
        if (r == 0) break;
        len += (size_t)r;
        if (len == sizeof buf) break;
    }
    close(fd);
    if (len > LR_SECRET_FILE_MAX) return LR_ELIMIT;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    /* An empty key would make every signature forgeable. */
    if (len == 0) return LR_EINVAL;
    if (len >= cap) return LR_ELIMIT;
    memcpy(out, buf, len);
    out[len] = '\0';
    return (int)len;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
}

/* Creates the key unless one exists; LR_OK or LR_EEXIST both mean a key
 * is now in place. */
static int secret_create(const char *dir, const char *path)
{
    uint8_t key[LR_SECRET_RAND_BYTES];
    char text[2 * LR_SECRET_RAND_BYTES + 1];
    if (RAND_bytes(key, sizeof key) != 1) return LR_EIO;
    hex(key, sizeof key, text);
    text[sizeof text - 1] = '\n';
    OPENSSL_cleanse(key, sizeof key);

    char tmp[PATH_MAX];
    int fd = -1;
    for (int i = 0; i < LR_SECRET_TMP_TRIES && fd < 0; i++) {
        uint8_t r[8];
        char rh[2 * sizeof r + 1];
        if (RAND_bytes(r, sizeof r) != 1) return LR_EIO;
        hex(r, sizeof r, rh);
        rh[sizeof rh - 1] = '\0';
        int n = snprintf(tmp, sizeof tmp, "%s/.secret.%ld.%s", dir, (long)getpid(), rh);
        if (n < 0 || (size_t)n >= sizeof tmp) return LR_ELIMIT;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST) return errno_code(errno);
    }
    if (fd < 0) return LR_EIO;

    /* umask may only narrow the mode, but make it exactly 0600 anyway. */
    int rc = fchmod(fd, 0600) == 0 ? LR_OK : LR_EIO;
    if (rc == LR_OK) rc = write_all(fd, text, sizeof text);
    if (rc == LR_OK && fsync(fd) != 0) rc = LR_EIO;
    if (close(fd) != 0 && rc == LR_OK) rc = LR_EIO;
    OPENSSL_cleanse(text, sizeof text);
    if (rc == LR_OK && link(tmp, path) != 0) rc = errno == EEXIST ? LR_EEXIST : LR_EIO;
    unlink(tmp);
    if (rc == LR_OK) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd); /* best effort: the key is readable either way */
            close(dfd);
        }
    }
    return rc;
}

int lr_secret_load_or_create(const char *dir, char *out, size_t cap)
{
    if (!dir || !*dir || !out || cap == 0) return LR_EINVAL;
    int rc = mkdir_p(dir);
    if (rc != LR_OK) return rc;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/secret", dir);
    if (n < 0 || (size_t)n >= sizeof path) return LR_ELIMIT;

    rc = secret_load(path, out, cap);
    if (rc != LR_ENOENT) return rc;
    rc = secret_create(dir, path);
    if (rc != LR_OK && rc != LR_EEXIST) return rc;
    /* Read back whichever key won, ours or a concurrent creator's. */
    return secret_load(path, out, cap);
}
