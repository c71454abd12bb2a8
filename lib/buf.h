#ifndef LIB_BUF_H
#define LIB_BUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A growable byte buffer with a hard ceiling set at init (curl's dynbuf): anything that
 * outside input can grow refuses to pass its limit instead of eating memory. The content
 * is always NUL-terminated so it can be used as a C string.
 */
struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* the ceiling on len */
};

/* Start an empty buffer that may hold at most 'max' bytes. */
void buf_init(struct buf *b, size_t max);

/* Free the storage; the buffer is empty again and may be reused. */
void buf_done(struct buf *b);

/* Append 'len' bytes. Returns 0, or -E2BIG (nothing appended) if the ceiling would be passed. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drop the first 'n' bytes (n <= len), keeping the rest. */
void buf_consume(struct buf *b, size_t n);

/* Empty the buffer without freeing its storage. */
void buf_reset(struct buf *b);

/* Read the whole of 'fd' until EOF. Returns 0, -E2BIG past the ceiling, or -errno. */
int buf_read_fd(struct buf *b, int fd);

/* Read a whole file. Returns 0, -E2BIG past the ceiling, or -errno from open/read. */
int buf_read_file(struct buf *b, const char *path);

/* Remove trailing '\n' and '\r'. */
void buf_trim_newline(struct buf *b);

/*
 * Hand the content to the caller as a NUL-terminated string (never NULL: an empty buffer
 * gives ""); the buffer is empty afterwards. The caller frees the result.
 */
char *buf_take(struct buf *b);

/* The content, NUL-terminated, borrowed until the buffer next changes ("" when empty). */
const char *buf_str(const struct buf *b);

static inline size_t buf_len(const struct buf *b)
{
    return b->len;
}

#endif
