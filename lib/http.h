#ifndef LIB_HTTP_H
#define LIB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/*
 * HTTP(S) requests on one libuv loop, through libcurl's multi-socket interface. Bodies are
 * buffered up to a ceiling, or streamed to a callback (watches). TLS always verifies the
 * server unless the caller says otherwise. A fake transport replays canned responses for
 * tests and can fail the Nth request, with the same callback contract.
 *
 * Errors: rc 0 means an HTTP response arrived (any status); rc < 0 is a transport failure:
 * -ETIMEDOUT (request timeout or a stalled stream), -ECANCELED (http_request_cancel or
 * client close), -E2BIG (body past its ceiling), a data callback's own error, else -EIO
 * with curl's message.
 */

struct http_client;
struct http_request;

/* TLS and proxy settings for every request of a client; all borrowed (copied by new). */
struct http_tls {
    bool insecure_skip_verify;
    const char *ca_file; /* or ca_pem: PEM bytes */
    const void *ca_pem;
    size_t ca_pem_len;
    const char *cert_file; /* client certificate, or cert_pem */
    const void *cert_pem;
    size_t cert_pem_len;
    const char *key_file; /* its key, or key_pem */
    const void *key_pem;
    size_t key_pem_len;
    const char *proxy; /* NULL: curl's defaults (https_proxy and no_proxy from the env) */
    /* Verify (and send as SNI and Host) this name instead of the URL's host, still connecting
     * to the URL's address: kubeconfig's tls-server-name. NULL: the URL's host. */
    const char *server_name;
};

/*
 * Create a client on 'loop' with curl's allocations routed through lib/xalloc. Returns 0
 * and *ret_client, or -EIO if curl cannot start.
 */
int http_client_new(uv_loop_t *loop, const struct http_tls *tls, struct http_client **ret_client);

/* Create a client whose transport is the fake below instead of the network. */
int http_client_new_fake(uv_loop_t *loop, struct http_client **ret_client);

/*
 * Cancel every in-flight request (callbacks run with -ECANCELED from the loop), close the
 * loop handles and free the client; 'done' (may be NULL) runs after that, from the loop.
 * Requests started after this call fail with -ESHUTDOWN.
 */
typedef void http_closed_cb(void *ctx);
void http_client_close(struct http_client *hc, http_closed_cb *done, void *ctx);

/* Streamed 2xx body bytes; return < 0 to abort the request with that error. */
typedef int http_data_cb(void *ctx, const char *data, size_t len);

struct http_response {
    int status;       /* HTTP status, 0 if none arrived */
    const char *body; /* buffered body, NUL-terminated ("" when streamed or empty) */
    size_t body_len;
    const char *error; /* for rc < 0: what failed, one line; else NULL */
    /* the final response's header lines, "Name: value" each ending in '\n' ("" when none) */
    const char *headers;
};

/*
 * The value of the first header 'name' (case-insensitive) in 'headers' as http_response
 * gives them, trimmed of surrounding blanks; a new string the caller frees, or NULL when
 * the header is absent.
 */
char *http_header_value(const char *headers, const char *name);

/* The request ended; 'resp' is borrowed for the callback, after which the request is freed. */
typedef void http_done_cb(void *ctx, int rc, const struct http_response *resp);

struct http_request_spec {
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines; may be NULL */
    const char *body;           /* may be NULL; copied */
    size_t body_len;
    size_t max_body;           /* ceiling on a buffered body; 0 means 16 MiB */
    unsigned timeout_ms;       /* the whole request; 0 for none (watches) */
    unsigned low_speed_time_s; /* fail with -ETIMEDOUT after this long under 1 byte/s; 0 off */
    http_data_cb *data_cb;     /* if set, 2xx bodies stream here instead of being buffered */
};

/*
 * Start a request. Returns 0 once queued, with *ret_request (may be NULL) valid until 'cb'
 * runs; 'cb' then runs exactly once from the loop, never from inside this call. Returns
 * < 0 (-EINVAL, -ESHUTDOWN) if nothing was queued, and then 'cb' never runs.
 */
int http_request_start(struct http_client *hc, const struct http_request_spec *spec,
                       http_done_cb *cb, void *ctx, struct http_request **ret_request);

/*
 * Cancel a request whose callback has not run yet: it then runs with -ECANCELED, from the
 * loop. Safe inside the request's own data callback. Idempotent.
 */
void http_request_cancel(struct http_request *req);

/*
 * A copy of HTTP header text with the values of Authorization and Proxy-Authorization
 * lines replaced by "<redacted>", for debug logs. The caller frees it.
 */
char *http_redact_headers(const char *text, size_t len);

/*
 * The fake transport, for tests. Responses are consumed in the order queued, one per
 * request; a request with nothing queued fails with -EIO.
 */
struct http_fake_record {
    char *method;
    char *url;
    char *headers; /* the request's header lines joined by '\n' */
    char *body;    /* NUL-terminated copy, "" when none */
    size_t body_len;
};

/* Queue a response delivered in the given body pieces ('chunks' NULL-terminated). */
void http_fake_push_chunks(struct http_client *hc, int status, const char *const *chunks);
/* Queue a response with a single body. */
void http_fake_push(struct http_client *hc, int status, const char *body);
/* Queue a response with header lines ("Name: value\n"... or NULL) and a single body. */
void http_fake_push_headers(struct http_client *hc, int status, const char *headers,
                            const char *body);
/* Queue a streamed response that stays open after 'chunks' until http_fake_stream_end(). */
void http_fake_push_open(struct http_client *hc, int status, const char *const *chunks);
/* Add a body piece to the oldest open stream (delivered from the loop). */
void http_fake_stream_feed(struct http_client *hc, const char *chunk);
/* End the oldest open stream with 'rc' (0: the server closed it normally). */
void http_fake_stream_end(struct http_client *hc, int rc);
/* Make the nth request from now (1 = the next one) fail with transport error 'rc'. */
void http_fake_fail_nth(struct http_client *hc, unsigned nth, int rc);
/* The requests seen so far, oldest first. */
size_t http_fake_count(const struct http_client *hc);
const struct http_fake_record *http_fake_record(const struct http_client *hc, size_t i);

#endif
