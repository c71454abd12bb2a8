#ifndef CONTROLLER_ENTRYPOINT_FSUTIL_H
#define CONTROLLER_ENTRYPOINT_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * File helpers shared by the entrypoint's init and step modes, plus its one logging call.
 */

/*
 * Create 'path' and its missing parents with 'mode' (before umask), like mkdir -p. An
 * existing directory is fine. Returns 0 or -errno (-ENOTDIR when a component is a file).
 */
int fsutil_mkdir_p(const char *path, mode_t mode);

/*
 * Write 'len' bytes to 'path'. With 'atomic', write a temporary file next to it and rename
 * it into place, so readers never see a partial file; the final mode is exactly 'mode'
 * (chmod, not filtered by umask). Without, create or truncate 'path' in place with 'mode'
 * filtered by umask. Missing parent directories are created (0755). Returns 0 or -errno.
 */
int fsutil_write_file(const char *path, const void *data, size_t len, mode_t mode, bool atomic);

/* Copy the file 'src' to 'dst' atomically with final mode 'mode'. Returns 0 or -errno. */
int fsutil_copy_file(const char *src, const char *dst, mode_t mode);

/* Print one line "tektite-entrypoint: <message>" to stderr with a single write. */
void fsutil_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
