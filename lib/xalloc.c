/*
 * Allocation that never returns NULL: out of memory is logged once and aborts.
 * Library hooks (jansson, libuv) are installed here; libcurl's are in lib/http.c,
 * the only file that includes curl.
 */
#include "lib/xalloc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static void out_of_memory(size_t size)
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg),
                     "{\"level\":\"error\",\"module\":\"xalloc\",\"msg\":\"out of memory\","
                     "\"size\":%zu}\n",
                     size);

    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        out_of_memory(size);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (!p)
        out_of_memory(count * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (!p)
        out_of_memory(size);
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t len)
{
    char *p;

    len = strnlen(s, len); /* like strndup: stop at the end of a shorter string */
    p = xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        out_of_memory(0);
    return s;
}

static void *uv_calloc_hook(size_t count, size_t size)
{
    return xcalloc(count, size);
}

void xalloc_install_library_hooks(void)
{
    json_set_alloc_funcs(xmalloc, free);
    (void)uv_replace_allocator(xmalloc, xrealloc, uv_calloc_hook, free);
}
