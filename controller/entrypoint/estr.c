/*
 * Allocation and byte-string helpers for the static entrypoint. It deliberately leaves out
 * lib/buf's ceiling at init: each reader passes its own limit to estr_read_file instead.
 */
#include "controller/entrypoint/estr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(size_t size)
{
    static const char msg[] = "tektite-entrypoint: out of memory\n";

    (void)size;
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    abort();
}

void *estr_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        oom(size);
    return p;
}

void *estr_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (!p)
        oom(size);
    return p;
}

char *estr_dup(const char *s)
{
    return estr_ndup(s, strlen(s));
}

char *estr_ndup(const char *s, size_t len)
{
    char *p = estr_malloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void estr_init(struct estr *s)
{
    s->data = NULL;
    s->len = 0;
    s->cap = 0;
}

void estr_done(struct estr *s)
{
    free(s->data);
    estr_init(s);
}

static void reserve(struct estr *s, size_t extra)
{
    size_t need = s->len + extra + 1;
    size_t cap = s->cap ? s->cap : 64;

    if (need <= s->cap)
        return;
    while (cap < need)
        cap *= 2;
    s->data = estr_realloc(s->data, cap);
    s->cap = cap;
}

void estr_append(struct estr *s, const void *data, size_t len)
{
    reserve(s, len);
    if (len)
        memcpy(s->data + s->len, data, len);
    s->len += len;
    s->data[s->len] = '\0';
}

void estr_append_str(struct estr *s, const char *str)
{
    estr_append(s, str, strlen(str));
}

void estr_putc(struct estr *s, char c)
{
    estr_append(s, &c, 1);
}

void estr_printf(struct estr *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    reserve(s, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

const char *estr_str(const struct estr *s)
{
    return s->data ? s->data : "";
}

char *estr_take(struct estr *s)
{
    char *p = s->data ? s->data : estr_dup("");

    estr_init(s);
    return p;
}

int estr_read_file(struct estr *s, const char *path, size_t max)
{
    int fd;
    int r = 0;

    s->len = 0;
    if (s->data)
        s->data[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t n;

        reserve(s, 4096);
        n = read(fd, s->data + s->len, s->cap - s->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        s->len += (size_t)n;
        s->data[s->len] = '\0';
        if (s->len > max) {
            r = -E2BIG;
            break;
        }
    }
    close(fd);
    return r;
}

int estr_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
