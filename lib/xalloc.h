#ifndef LIB_XALLOC_H
#define LIB_XALLOC_H

#include <stddef.h>

/*
 * Allocation wrappers that log one line and abort() when memory runs out, so callers
 * never test for NULL (redis's zmalloc, git's xmalloc). xmalloc(0) returns a valid pointer.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
/* Copies at most 'len' bytes of 's', stopping early at its end, as strndup does. */
char *xstrndup(const char *s, size_t len);

/* Returns a new string formatted like printf; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Route jansson's, libcurl's and libuv's allocations through the wrappers above.
 * Call once at start-up, before any of those libraries allocates.
 */
void xalloc_install_library_hooks(void);

#endif
