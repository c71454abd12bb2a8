#ifndef CONTROLLER_ENTRYPOINT_ESTR_H
#define CONTROLLER_ENTRYPOINT_ESTR_H

#include <stddef.h>

/*
 * Memory and string helpers for the entrypoint, which links only libc (lib/xalloc logs
 * through jansson, so it cannot come along). The allocators print one line to stderr and
 * abort() when memory runs out, so callers never test for NULL.
 */
void *estr_malloc(size_t size);
void *estr_realloc(void *ptr, size_t size);
char *estr_dup(const char *s);
char *estr_ndup(const char *s, size_t len);

/*
 * A growable byte string, always NUL-terminated once something was appended. Bytes may
 * include NUL; 'len' is authoritative. Appends abort on OOM rather than fail.
 */
struct estr {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
};

/* Start an empty string. */
void estr_init(struct estr *s);

/* Free the storage; the string is empty again and may be reused. */
void estr_done(struct estr *s);

void estr_append(struct estr *s, const void *data, size_t len);
void estr_append_str(struct estr *s, const char *str);
void estr_putc(struct estr *s, char c);
void estr_printf(struct estr *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The content, NUL-terminated, borrowed until the string next changes ("" when empty). */
const char *estr_str(const struct estr *s);

/* Hand the content to the caller (never NULL); the string is empty afterwards. */
char *estr_take(struct estr *s);

/*
 * Replace the content with the whole file at 'path', refusing files longer than 'max'
 * bytes. Returns 0, -E2BIG when the file is longer than 'max', or -errno from open/read
 * (-ENOENT when it does not exist). On failure the content is unspecified.
 */
int estr_read_file(struct estr *s, const char *path, size_t max);

/*
 * Write 'len' bytes to 'fd', retrying short writes and EINTR. Returns 0 or -errno.
 */
int estr_write_all(int fd, const void *data, size_t len);

#endif
