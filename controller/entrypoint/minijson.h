#ifndef CONTROLLER_ENTRYPOINT_MINIJSON_H
#define CONTROLLER_ENTRYPOINT_MINIJSON_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A small JSON reader for the entrypoint, which cannot link jansson: enough for the
 * existing termination message, TEKTON_PLATFORM_COMMANDS and --when_expressions. Strict
 * RFC 8259 syntax, nesting limited to MINIJSON_MAX_DEPTH, strings decoded to UTF-8
 * (escaped surrogate pairs joined, lone surrogates become U+FFFD as Go does).
 */
#define MINIJSON_MAX_DEPTH 64

enum minijson_kind {
    MINIJSON_NULL,
    MINIJSON_BOOL,
    MINIJSON_NUMBER,
    MINIJSON_STRING,
    MINIJSON_ARRAY,
    MINIJSON_OBJECT,
};

struct minijson {
    enum minijson_kind kind;
    bool boolean;
    char *str;              /* STRING: decoded bytes; NUMBER: the literal text. NUL-terminated */
    size_t str_len;         /* may include NUL bytes from \u0000 */
    struct minijson *items; /* ARRAY elements or OBJECT values */
    char **keys;            /* OBJECT keys, parallel to items */
    size_t count;
};

/*
 * Parse 'len' bytes of 'text' as one JSON value (surrounding whitespace allowed). Returns 0
 * and a new tree in *ret_value (free with minijson_free), or -EINVAL for malformed input or
 * too deep nesting.
 */
int minijson_parse(const char *text, size_t len, struct minijson **ret_value);

/* Free a tree from minijson_parse; NULL is fine. */
void minijson_free(struct minijson *v);

/*
 * The value of 'key' in 'obj' (the last one if the key repeats), borrowed from 'obj', or
 * NULL when 'obj' is not an object or lacks the key. With 'fold_case', keys match ignoring
 * ASCII case, as Go's encoding/json matches struct fields.
 */
const struct minijson *minijson_get(const struct minijson *obj, const char *key, bool fold_case);

/* Whether 'v' is a string; convenience for callers checking shapes. */
bool minijson_is_string(const struct minijson *v);

#endif
