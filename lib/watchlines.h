#ifndef LIB_WATCHLINES_H
#define LIB_WATCHLINES_H

#include <jansson.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * The decoder of a Kubernetes watch stream: bytes in whatever chunks the network delivers,
 * out one complete line (one JSON event) at a time, then each line as a watch event. Pure:
 * no I/O, no loop.
 */

struct watchlines {
    struct buf pending; /* the incomplete last line */
};

/* One complete line, without its '\n'; 'line' is borrowed. Return < 0 to stop feeding. */
typedef int watchlines_line_cb(void *ctx, const char *line, size_t len);

/* Start a decoder whose lines may be at most 'max_line' bytes. */
void watchlines_init(struct watchlines *wl, size_t max_line);
void watchlines_done(struct watchlines *wl);

/*
 * Feed one chunk; 'cb' runs for every line it completes, in order (blank lines are
 * skipped). Returns 0, the first < 0 that 'cb' returned (no more lines are delivered from
 * this chunk, and the decoder must not be fed again), or -E2BIG when a line passes the limit.
 */
int watchlines_feed(struct watchlines *wl, const char *data, size_t len, watchlines_line_cb *cb,
                    void *ctx);

/* At end of stream: 0 when nothing but whitespace is pending, -EBADMSG for a cut-off event. */
int watchlines_finish(const struct watchlines *wl);

/*
 * Decode one event line {"type": T, "object": O}. Returns 0 with *ret_type borrowed from
 * *ret_event (a new reference the caller releases) and *ret_object borrowed from it too,
 * or -EBADMSG with a message in *reterr_msg (caller frees) for anything else: invalid JSON,
 * a missing or non-string type, a missing or non-object object.
 */
int watchlines_parse_event(const char *line, size_t len, json_t **ret_event, const char **ret_type,
                           const json_t **ret_object, char **reterr_msg);

#endif
