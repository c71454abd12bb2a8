#ifndef CONTROLLER_ENTRYPOINT_TERMMSG_H
#define CONTROLLER_ENTRYPOINT_TERMMSG_H

#include <stddef.h>

struct estr;

/*
 * Tekton's termination message: a JSON array of {"key","value","type"} entries that the
 * kubelet copies from the step's terminationMessagePath into the container status, where
 * the controller reads results, StartedAt, ExitCode and Reason (tekton-taskrun.md §7.1).
 */

/* Kubernetes' per-container ceiling; Tekton refuses to write anything longer. */
#define TERMMSG_MAX_BYTES 4096

/* Tekton's exact wording when results do not fit (pkg/termination). */
#define TERMMSG_TOO_LONG                                                                           \
    "Termination message is above max allowed size 4096, caused by large task result."

/* Entry types as integers, the form Tekton writes since v0.44. */
enum termmsg_type {
    TERMMSG_TASK_RESULT = 1,
    TERMMSG_INTERNAL = 3,
    TERMMSG_STEP_RESULT = 4,
    TERMMSG_STEP_ARTIFACTS = 5,
    TERMMSG_TASK_ARTIFACTS = 6,
    TERMMSG_UNKNOWN = 10,
};

struct termmsg_entry {
    char *key;
    char *value; /* raw bytes, NUL-terminated for convenience; may contain NUL */
    size_t value_len;
    int type; /* enum termmsg_type, or whatever number an existing message carried */
};

struct termmsg {
    struct termmsg_entry *entries;
    size_t len;
    size_t cap;
};

void termmsg_init(struct termmsg *m);

/* Free all entries; the list is empty again. */
void termmsg_done(struct termmsg *m);

/* Append a copy of key and value ('value_len' bytes) as one entry. */
void termmsg_add(struct termmsg *m, const char *key, const char *value, size_t value_len, int type);

/* Append a copy of every entry of 'src' to 'm'. */
void termmsg_extend(struct termmsg *m, const struct termmsg *src);

/*
 * Append the JSON form of 'm' to 'out', byte-for-byte what Go's json.Marshal produces for
 * Tekton's []RunResult: no spaces, fields key, value, type (type omitted when 0), '<' '>'
 * '&' U+2028 U+2029 as \u escapes, \b \f \n \r \t short escapes, other control bytes as
 * \u00XX, invalid UTF-8 replaced by \ufffd. The byte count therefore matches Tekton's for
 * the 4096-byte check.
 */
void termmsg_encode(const struct termmsg *m, struct estr *out);

/*
 * Parse a termination message (plain JSON; compressed "tknz:" messages are refused) and
 * append its entries to 'm'. Accepts integer types and Tekton's legacy type strings
 * ("TaskRunResult", "StepResult", ...; other strings give TERMMSG_UNKNOWN); object keys
 * match ignoring case like Go. Returns 0, or -EINVAL ('m' unchanged) for anything that is
 * not an array of such objects.
 */
int termmsg_parse(const char *text, size_t len, struct termmsg *m);

/*
 * Tekton's write algorithm: read 'path'; if it holds a parseable message, its entries come
 * first, then those of 'add'; encode; if the result exceeds TERMMSG_MAX_BYTES return
 * -EMSGSIZE and leave the file untouched; otherwise truncate, write and fsync. Returns 0,
 * -EMSGSIZE, or -errno from reading or writing the file.
 */
int termmsg_write(const char *path, const struct termmsg *add);

#endif
