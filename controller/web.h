#ifndef CONTROLLER_WEB_H
#define CONTROLLER_WEB_H

#include <stdbool.h>

#include <uv.h>

struct metrics;

#include "lib/httpserver.h"

/*
 * The controller's HTTP endpoint on the libuv loop (lib/httpserver, plain): GET or HEAD of
 *   /metrics   the metrics registry in the Prometheus text format
 *   /healthz   200 while the loop runs (liveness)
 *   /readyz    200 when ready, else 503 (readiness; ready unless web_set_ready said otherwise)
 * HTTP/1.1 subset: one request per connection (answered with "Connection: close"), request
 * heads up to WEB_MAX_HEAD bytes, WEB_MAX_CONNS connections at once, WEB_TIMEOUT_MS to send
 * a request. Nothing else (no bodies, no keep-alive, no TLS, no websockets).
 */

#define WEB_MAX_HEAD   HTTPSERVER_MAX_HEAD
#define WEB_MAX_CONNS  HTTPSERVER_MAX_CONNS
#define WEB_TIMEOUT_MS 10000

struct web;

struct web_options {
    const char *host;        /* address to bind, e.g. "0.0.0.0" or "127.0.0.1" */
    int port;                /* 0: an ephemeral port (tests; see web_port) */
    struct metrics *metrics; /* borrowed, must outlive the server; NULL: empty /metrics */
};

/*
 * Bind, listen and start serving on 'loop'. Returns 0 and the server in *ret_web, or -errno
 * (-EADDRINUSE, -EACCES, -EINVAL for a bad host or port); on failure the half-made listener
 * closes and frees itself on the loop's next turn, and the caller has nothing to undo.
 */
int web_new(uv_loop_t *loop, const struct web_options *o, struct web **ret_web);

/* The port the server listens on. */
int web_port(const struct web *w);

/* Set what /readyz answers. */
void web_set_ready(struct web *w, bool ready);

typedef void web_closed_cb(void *ctx);

/*
 * Stop listening and drop open connections. 'cb' (may be NULL) runs once from the loop when
 * every handle is closed; the server is freed then. NULL 'w' does nothing and 'cb' never runs.
 */
void web_close(struct web *w, web_closed_cb *cb, void *ctx);

/*
 * Build the whole response (status line, headers, body) to one request head of 'len' bytes:
 * pure, no I/O. Malformed request lines get 400, methods other than GET and HEAD 405, unknown
 * paths 404. Returns a new NUL-terminated string the caller frees.
 */
char *web_reply(const char *head, size_t len, const struct metrics *metrics, bool ready);

#endif
