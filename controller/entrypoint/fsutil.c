/*
 * Small synchronous file operations for the entrypoint. Everything here is a few syscalls;
 * no event loop, the entrypoint is a short-lived single-threaded process.
 */
#include "controller/entrypoint/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/entrypoint/estr.h"

int fsutil_mkdir_p(const char *path, mode_t mode)
{
    char *p = estr_dup(path);
    size_t len = strlen(p);
    int r = 0;

    /* walk the components left to right; each mkdir may find its directory already there */
    for (size_t i = 1; i <= len; i++) {
        struct stat st;

        if (p[i] != '/' && p[i] != '\0')
            continue;
        p[i] = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            r = -errno;
            break;
        }
        if (stat(p, &st) < 0) {
            r = -errno;
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            r = -ENOTDIR;
            break;
        }
        if (i < len)
            p[i] = '/';
    }
    free(p);
    return r;
}

static int ensure_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int r;

    if (!slash || slash == path)
        return 0;
    dir = estr_ndup(path, (size_t)(slash - path));
    r = fsutil_mkdir_p(dir, 0755);
    free(dir);
    return r;
}

int fsutil_write_file(const char *path, const void *data, size_t len, mode_t mode, bool atomic)
{
    struct estr tmp;
    const char *target = path;
    int fd = -1;
    int r;

    estr_init(&tmp);
    if (atomic) {
        estr_printf(&tmp, "%s.tmp-%ld", path, (long)getpid());
        target = tmp.data;
    }
    /* the parent normally exists (post files release the next step: keep this path short) */
    fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, atomic ? 0600 : mode);
    if (fd < 0 && errno == ENOENT) {
        r = ensure_parent(path);
        if (r < 0)
            goto out;
        fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, atomic ? 0600 : mode);
    }
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    r = estr_write_all(fd, data, len);
    if (r < 0)
        goto out;
    if (atomic && fchmod(fd, mode) < 0) {
        r = -errno;
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        goto out;
    }
    fd = -1;
    if (atomic && rename(target, path) < 0) {
        r = -errno;
        goto out;
    }
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    if (r < 0 && atomic && tmp.data)
        (void)unlink(tmp.data);
    estr_done(&tmp);
    return r;
}

int fsutil_copy_file(const char *src, const char *dst, mode_t mode)
{
    struct estr content;
    int r;

    estr_init(&content);
    /* the entrypoint binary is a few MiB; anything far bigger is not what we meant to copy */
    r = estr_read_file(&content, src, 256 * 1024 * 1024);
    if (r == 0)
        r = fsutil_write_file(dst, content.data, content.len, mode, true);
    estr_done(&content);
    return r;
}

void fsutil_log(const char *fmt, ...)
{
    struct estr line;
    va_list ap;
    char *msg = NULL;
    int n;

    estr_init(&line);
    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    estr_append_str(&line, "tektite-entrypoint: ");
    if (n >= 0) {
        estr_append_str(&line, msg);
        free(msg);
    }
    estr_putc(&line, '\n');
    (void)estr_write_all(STDERR_FILENO, line.data, line.len);
    estr_done(&line);
}
